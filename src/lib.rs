//! tenantform compiles Microsoft 365 / Entra ID / Intune baselines into validated Microsoft
//! Graph request bundles, one per tenant, plans them against live tenants and deploys them to
//! fleets.
//!
//! The pipeline, with the module that owns each stage (data flows left to right, top to
//! bottom; each arrow is one type handed to the next stage):
//!
//! ```text
//!  source/            compile/                         live/                 deploy/
//!  project ─▶ ProjectSource ─▶ render ─▶ bundle ─▶ validate ─▶ ValidatedBundle
//!  model      resolve ─▶ ResolvedTenant    (fleet drives them per tenant)        │
//!  span                                                                         ▼
//!                              graph/ (client: auth, pacing, retry, $batch) ◀── read ─▶ LiveState
//!                                                                               │ plan (normalize)
//!                                                                               ▼
//!                                      deploy: fleet ─▶ scheduler ─▶ tenant ─▶ apply ─▶ identity
//!                                                                               │
//!                                      journal (hash-chained runs)   ◀──────────┤ Events, outcomes
//!                                                                               ▼
//!                                      report/ (Reporter: human, progress, json, junit, sarif)
//! ```
//!
//! - [`source`] loads a project (and the shipped baselines) with spans, and resolves a tenant.
//! - [`compile`] renders (Tera), bundles (references, order) and validates (schemas generated
//!   from Graph's metadata in [`schema`], plus lints) into a `ValidatedBundle`.
//! - [`live`] reads a tenant through the [`graph`] client into live state, normalizes it and
//!   plans (desired vs live). Drift, snapshots and export read tenants here too.
//! - [`deploy`] runs a fleet: its scheduler, one tenant's apply, the identity map store.
//! - [`import`] turns other tools' backups (IntuneCD, IntuneManagement, Graph JSON) into
//!   baselines: decode, layout, clean by the generated schemas, map ids, emit.
//! - [`state`] keeps what runs keep (identity maps, journals, before-images) in a backend
//!   (local files or Azure Blob Storage) and holds the per-tenant locks deploy, rollback and
//!   sync take before they write.
//! - [`report`] owns the [`report::Event`]s, the [`report::Reporter`] trait and every output
//!   format; [`journal`] is the run's audit trail.
//! - [`status`] builds the fleet's state (project, saved plans, run journals) that the
//!   dashboard (`report::html`) renders.
//! - Beside the pipeline: [`kinds`] (the registry every stage and the simulator read),
//!   [`diag`] (problems with `file:line:col`), [`canonical`] (canonical JSON and hashes),
//!   [`text`] (text read from files, without a byte-order mark),
//!   [`sim`] (the Graph simulator: it is Graph, so it never calls `graph`, `live` or
//!   `deploy`), and [`bench`](mod@bench) (the `bench` subcommand).
//!
//! Who may call whom: the binary's `cli` calls everything; `deploy` → `live` → `graph`;
//! `compile` → `source`, `kinds`, `schema`; `report` depends only on the data it renders.
//! The library never prints: output goes to a [`report::Reporter`] or an
//! [`report::Output`] the binary passes in. book/src/architecture.md says where a new kind,
//! command or output format goes.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod bench;
pub mod canonical;
pub mod compile;
pub mod deploy;
pub mod diag;
pub mod graph;
pub mod import;
pub mod journal;
pub mod kinds;
pub mod live;
pub mod notify;
pub mod report;
pub mod schema;
pub mod sim;
pub mod source;
pub mod state;
pub mod status;
pub mod sync;
pub mod text;
