//! tenantform compiles Microsoft 365 / Entra ID / Intune baselines into validated Microsoft
//! Graph request bundles, one per tenant.
//!
//! ```text
//! ProjectSource ──resolve──▶ ResolvedTenant ──render──▶ ExpandedDocument*
//!   ──bundle──▶ Bundle ──validate──▶ ValidatedBundle   (only validate can build one)
//!   ──(+ LiveState read by graph)──plan──▶ Plan ──deploy──▶ Event stream ──▶ Reporter, Journal
//! ```
//!
//! Stages: [`project`] loads files into a [`source::SourceMap`] and the [`model`];
//! [`resolve`] applies layers, parameters and overrides; [`render`] owns Tera; [`bundle`]
//! finds references and orders operations; [`validate`] checks bodies against the schemas
//! generated from Graph's metadata ([`schema`]) and runs semantic lints; [`compile`] drives the
//! fleet; [`live`] reads a tenant through the [`graph`] client, [`plan`] compares, and
//! [`deploy`] applies plans across a fleet with a [`journal`]. Every resource kind is data in [`kinds`]. Problems are [`diag::Diagnostic`]s; progress
//! goes to a [`report::Reporter`]. The library never prints.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod bench;
pub mod canonical;
pub mod compile;
pub mod deploy;
pub mod diag;
pub mod graph;
pub mod journal;
pub mod kinds;
pub mod live;
pub mod report;
pub mod schema;
pub mod sim;
pub mod source;
