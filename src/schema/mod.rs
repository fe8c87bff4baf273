//! JSON Schemas for every kind, generated from Graph's CSDL by [`generate`] and committed under
//! `src/schema/generated/` (embedded by `build.rs`). `tenantform schema generate` rewrites them;
//! `--check` (run by CI) fails when they differ from what the metadata produces.

pub mod generate;
