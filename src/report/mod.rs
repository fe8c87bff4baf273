//! Stage 5, `report`: everything a person or a pipeline is shown. Long-running stages send
//! typed [`Event`]s to a [`Reporter`]; results ([`outcome`]) and diagnostics are rendered by
//! the formats here. The CLI only chooses a format and hands it an [`Output`] (the process's
//! stdout and stderr); the library never prints.
//!
//! Input: events from `compile`, `plan` and `deploy`; [`outcome`] types; diagnostics. Output:
//! text written to an [`Output`], or returned.
//!
//! Formats, one file each: [`human`] (diagnostics, compile lines, plans, summaries),
//! [`progress`] (bars on a terminal, lines elsewhere), [`json`] (JSON lines and JSON
//! diagnostics), [`junit`], [`sarif`], [`markdown`] (plans for pull requests, with helpers
//! other documents share); [`drift`] renders `tenantform drift`'s results in each of its
//! formats. A new format is a new file here.

use std::time::Duration;

use crate::graph::retry::RetryReason;

pub mod drift;
pub mod evidence;
pub mod fleet;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod links;
pub mod markdown;
pub mod outcome;
pub mod progress;
pub mod sarif;
pub mod verdicts;

pub use outcome::{
    Counts, DeploySummary, LinkPlan, LinkReport, LinkStepAction, LinkStepPlan, ResourceFailure,
    Skip, TenantOutcome, TenantReport,
};

use std::io::Write;

/// Where a format writes: two streams, for results (`out`, stdout in the CLI) and for
/// people (`err`, stderr). Write errors are ignored, so a closed pipe
/// (`tenantform kinds | head`) ends output, not the run.
pub struct Output {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
}

impl Output {
    /// Results to `out`, messages for people to `err`.
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Output {
        Output { out, err }
    }

    /// The process's stdout and stderr (the binary's choice; tests pass buffers).
    pub fn stdio() -> Output {
        Output::new(Box::new(std::io::stdout()), Box::new(std::io::stderr()))
    }

    /// Write results (flushed at once, so a pipeline sees each line as it happens).
    pub fn out(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Write a message for people.
    pub fn err(&mut self, text: &str) {
        let _ = self.err.write_all(text.as_bytes());
        let _ = self.err.flush();
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").finish_non_exhaustive()
    }
}

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
    /// A bundle left in the output directory by an earlier run was removed: its tenant is not
    /// among those the project lists, and a tenants file failed to load, so it may be that
    /// tenant's (and it no longer matches the source).
    UnlistedBundleRemoved {
        /// The removed file.
        path: &'a std::path::Path,
    },
    /// The run ended.
    CompileFinished {
        /// Tenants compiled.
        compiled: usize,
        /// Tenants failed.
        failed: usize,
        /// Operations compiled.
        operations: usize,
        /// What the selected tenants' facts leave to assumption.
        assumed: FactsAssumed,
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
    /// Another run holds a tenant's lock: this run waits for it (up to `--lock-timeout`).
    LockWaiting {
        /// Tenant id.
        tenant: &'a str,
        /// Who holds it and since when (`deploy run R on HOST (pid P) since T, ...`).
        holder: &'a str,
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

/// How many tenants of a run have no facts (or only some): tenantform assumes what they do
/// not declare, as it did before facts existed, and says so once per run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactsAssumed {
    /// Tenants whose `[tenant.facts]` list no `service_plans`.
    pub plans: usize,
    /// Tenants whose `[tenant.facts]` list no `permissions`.
    pub permissions: usize,
}

impl FactsAssumed {
    /// The one line a run prints about it ("note: ..."), or nothing when every tenant declares
    /// both lists.
    pub fn note(&self) -> Option<String> {
        if self.plans == 0 && self.permissions == 0 {
            return None;
        }
        let count = |n: usize, what: &str| match n {
            0 => None,
            1 => Some(format!("1 tenant lists no {what}")),
            n => Some(format!("{n} tenants list no {what}")),
        };
        let parts: Vec<String> = [
            count(self.plans, "service plans"),
            count(self.permissions, "permissions"),
        ]
        .into_iter()
        .flatten()
        .collect();
        Some(format!(
            "note: facts: {}; tenantform assumes those tenants have them all ([tenant.facts], or `tenantform facts --write` reads them from Graph)\n",
            parts.join(" and ")
        ))
    }
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
                ..
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

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A stream tests can read back.
    #[derive(Clone, Default)]
    pub(crate) struct Buffer(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    #[test]
    fn output_keeps_results_and_messages_apart() {
        let (out, err) = (Buffer::default(), Buffer::default());
        let mut output = super::Output::new(Box::new(out.clone()), Box::new(err.clone()));
        output.out("result\n");
        output.err("message\n");
        assert_eq!(out.text(), "result\n");
        assert_eq!(err.text(), "message\n");
    }
}
