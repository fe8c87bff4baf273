//! The `Reporter`: the library never prints; long-running stages send typed [`Event`]s here,
//! and the binary decides how to show them (plain lines, JSON lines, progress bars).
//!
//! Input: events from `compile`, `plan` and `deploy`. Output: whatever the implementation
//! writes.

use std::time::Duration;

use crate::graph::retry::RetryReason;

pub mod outcome;

pub use outcome::{Counts, DeploySummary, ResourceFailure, TenantOutcome, TenantReport};

/// Something that happened during a run.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A compile or validate run begins.
    CompileStarted {
        /// Tenants selected.
        tenants: usize,
    },
    /// A tenant compiled (and its bundle was written, when there is an output directory).
    TenantCompiled {
        /// The result.
        outcome: &'a TenantOutcome,
    },
    /// A tenant failed to compile; its diagnostics come with the summary.
    TenantFailed {
        /// The result.
        outcome: &'a TenantOutcome,
        /// Its error count.
        errors: usize,
    },
    /// The run ended.
    CompileFinished {
        /// Tenants compiled.
        compiled: usize,
        /// Tenants failed.
        failed: usize,
        /// Operations compiled.
        operations: usize,
    },
    /// A plan or deploy run begins.
    DeployStarted {
        /// Tenants selected.
        tenants: usize,
        /// Plan only (nothing is written).
        plan_only: bool,
    },
    /// A ring's tenants start.
    RingStarted {
        /// Ring name (`all` without `--rings`).
        ring: &'a str,
        /// Its tenants.
        tenants: usize,
    },
    /// A tenant starts (compile, sign in, read, plan, apply).
    TenantStarted {
        /// Tenant id.
        id: &'a str,
        /// Name.
        name: &'a str,
    },
    /// A resource now matches the bundle.
    ResourceApplied {
        /// Tenant id.
        tenant: &'a str,
        /// Resource key.
        key: &'a str,
        /// created, updated, adopted, unchanged, deleted.
        action: &'a str,
    },
    /// A resource failed.
    ResourceFailed {
        /// Tenant id.
        tenant: &'a str,
        /// Resource key.
        key: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// A request will be sent again.
    RequestRetried {
        /// Tenant id.
        tenant: &'a str,
        /// What the request is for.
        key: &'a str,
        /// The status that caused it (`None`: no response).
        status: Option<u16>,
        /// Why.
        reason: RetryReason,
        /// After how long.
        after: Duration,
    },
    /// A tenant finished.
    TenantFinished {
        /// Its result.
        report: &'a TenantReport,
    },
    /// The run ended.
    DeployFinished {
        /// The result.
        summary: &'a DeploySummary,
    },
}

/// Receives events.
pub trait Reporter {
    /// Handle one event.
    fn event(&mut self, event: Event<'_>);
}

/// A reporter that ignores everything (benchmarks, tests).
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _: Event<'_>) {}
}

/// A reporter that keeps a line per event (tests).
#[derive(Debug, Default)]
pub struct Recording {
    /// One line per event.
    pub lines: Vec<String>,
}

impl Reporter for Recording {
    fn event(&mut self, event: Event<'_>) {
        self.lines.push(match event {
            Event::CompileStarted { tenants } => format!("started {tenants}"),
            Event::TenantCompiled { outcome } => {
                format!("compiled {} {}", outcome.id, outcome.operations)
            }
            Event::TenantFailed { outcome, errors } => format!("failed {} {errors}", outcome.id),
            Event::CompileFinished {
                compiled,
                failed,
                operations,
            } => {
                format!("finished {compiled} {failed} {operations}")
            }
            Event::TenantFinished { report } => format!("tenant {} ok={}", report.id, report.ok),
            Event::ResourceApplied {
                tenant,
                key,
                action,
            } => format!("{action} {tenant} {key}"),
            _ => return,
        });
    }
}
