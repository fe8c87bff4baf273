//! Stage 1, `source`: everything tenantform reads from a project on disk (and from the
//! baselines it ships), kept with the byte spans it came from.
//!
//! Input: a project directory. Output: a [`project::ProjectSource`] (the decoded
//! [`model`] of `tenantform.toml`, baselines and tenants, with a [`SourceMap`]) and, per tenant,
//! a [`resolve::ResolvedTenant`] (layers, parameters and overrides applied), the input of
//! [`crate::compile`].
//!
//! - [`span`]: the source map; any stage turns a byte span into `file:line:col`.
//! - [`model`]: the TOML model, decoded by hand so every value keeps its span.
//! - [`project`]: the project walk (sorted) and the shipped baselines ([`shipped`]).
//! - [`resolve`]: one tenant's baselines, parameters and overrides, applied.
//! - [`links`]: the checks of cross-tenant synchronization links (`links/<name>.toml`,
//!   decoded by [`model::link`]) that need the whole project.
//! - [`organization`]: the same for the multitenant organization (`organization.toml`,
//!   decoded by [`model::organization`]).
//! - [`init`]: the inverse of loading: writes a new project (`tenantform init`).
//! - [`pipelines`]: CI pipelines for a project (`tenantform init --ci`).

pub mod facts_file;
pub mod init;
pub mod links;
pub mod model;
pub mod organization;
pub mod pipelines;
pub mod project;
pub mod resolve;
pub mod shipped;
pub mod span;

pub use project::ProjectSource;
pub use span::{FileId, Location, SourceMap, Span};
