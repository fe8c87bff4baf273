//! Cross-tenant synchronization links, after `source` has loaded and checked them
//! (`links/<name>.toml`, see [`crate::source::links`]).
//!
//! - [`steps`]: a link compiled into the ordered steps it takes in both tenants (pure; written
//!   into both tenants' bundles, with the cross-tenant dependencies).
//!
//! Input: the project's links. Output: steps for the bundles.

pub mod steps;
