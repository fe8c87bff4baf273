//! Stage 2, `compile`: a resolved tenant becomes a validated bundle of Graph requests.
//!
//! Input: a [`ResolvedTenant`](crate::source::resolve::ResolvedTenant) from
//! [`crate::source`]. Output: a [`ValidatedBundle`](validate::ValidatedBundle) (only
//! [`validate`] can build one, so nothing unvalidated reaches the network) or diagnostics.
//!
//! - [`render`]: owns Tera; every filter and function is registered there; resource bodies
//!   become expanded JSON documents with spans.
//! - [`bundle`]: references between resources, dependency order, paths and match keys.
//! - [`validate`]: bodies against the JSON Schemas generated from Graph's metadata, and the
//!   semantic lints (lockout risks and the like).
//! - [`links`]: the steps of cross-tenant synchronization links against their kinds' schemas.
//! - [`fleet`]: drives the stages for every selected tenant on a pool of threads and writes
//!   `OUT/<tenant-id>.json` through [`write`].
//! - [`write`]: a bundle's bytes into its file, whole or not at all, and not again when the file
//!   holds them already.

pub mod bundle;
pub mod fleet;
pub mod links;
mod needs;
pub mod ops;
mod order;
pub mod render;
mod request_path;
pub mod tcm;
pub mod validate;
pub mod write;

pub use fleet::{
    BundleSink, CompileOptions, CompileSummary, Selection, TenantCompilation, compile,
    compile_into, compile_tenant, unknown_rings, unmatched_selection,
};
pub use write::write_bundle;
