//! The `Reporter`: the library never prints; long-running stages send typed [`Event`]s here,
//! and the binary decides how to show them (plain lines, JSON lines, progress bars).
//!
//! Input: events from `compile` (and later plan and deploy). Output: whatever the implementation
//! writes.

use crate::compile::TenantOutcome;

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
        });
    }
}
