//! One run's shared state: its [`DeployOptions`], the [`Run`] every tenant task reads (fleet,
//! Graph client, journal, reporter), the [`RunJournal`] and the observer that writes each
//! attempt to it, and where runs live on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::deploy::fleet::Fleet;
use crate::deploy::identity::state_root;
use crate::graph::client::{AttemptReport, GraphClient, Observer, Request};
use crate::journal::{Entry, JournalError, JournalWriter};
use crate::report::{Event, Reporter};

/// The tokio runtime a run goes on: a worker per core, and at most [`blocking_threads`] threads
/// for its blocking work. `deploy`, `plan`, `drift` and the benchmarks that measure them all use
/// this one.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(blocking_threads())
        .thread_name("tenantform")
        .build()
}

/// Threads for a run's blocking work (compiling a bundle, one per core at a time, and writing
/// before-images and snapshots): two per core. Tokio's default allows 512, and a 1,000-tenant
/// deploy started 11, each keeping an allocator heap of its own: about 4 MB more at the peak.
pub fn blocking_threads() -> usize {
    2 * std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The directory of a run.
pub fn run_dir(project_dir: &Path, run_id: &str) -> PathBuf {
    state_root(project_dir).join("runs").join(run_id)
}

/// A new run id: UTC time, sortable, plus a random suffix (`20261126T230501Z-3f9a`).
pub fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", now.strftime("%Y%m%dT%H%M%SZ"), &suffix[..4])
}

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// At most this many tenants at once (`--concurrency`); `None`: as many as the memory
    /// budget admits.
    pub concurrency: Option<usize>,
    /// Memory for tenants in flight, in bytes (`--memory-budget`); see
    /// [`admission`](crate::deploy::admission).
    pub memory_budget: u64,
    /// Ring order; tenants of rings not listed are not deployed. `None`: one wave of all.
    pub rings: Option<Vec<String>>,
    /// Stop the rollout when a ring's failed fraction passes this (0..=1).
    pub max_failure_rate: Option<f64>,
    /// Delete orphans.
    pub prune: bool,
    /// Plan only (read, never write).
    pub plan_only: bool,
    /// With `plan_only`: also classify each tenant's drift and name who changed what from its
    /// audit logs (`tenantform drift`).
    pub drift: bool,
    /// With `plan_only`: write each tenant's live objects under this directory
    /// (`tenantform snapshot`), one canonical file per object in `<dir>/<tenant-id>/`.
    pub snapshot: Option<PathBuf>,
    /// With `plan_only`: judge each tenant's controls against the live read (`tenantform
    /// evidence`), from the `[controls]` definitions of its baselines.
    pub evidence: bool,
    /// Apply only what drifted (`deploy --only-drifted`): updates of resources changed outside
    /// tenantform since the last deploy, and managed objects deleted in the tenant. Every other
    /// change is left for a later deploy, and orphans are not pruned.
    pub only_drifted: bool,
    /// Where the run records before-images (`<run dir>/before`): the live body of each object
    /// it is about to change or delete, written before the request is sent, for `rollback`.
    /// `None`: none are recorded (plans, drift, snapshots).
    pub before: Option<PathBuf>,
    /// The run's state (`deploy`, `rollback`): each tenant's lock is taken before its first
    /// write and released after its records are published. `None`: no locks (plans, drift).
    pub state: Option<Arc<crate::state::RunState>>,
    /// Fingerprint the live objects each plan saw ([`crate::live::plan::PlanInput::fingerprints`]):
    /// needed for a plan file (`plan --out`, `plan --format json`) and for `deploy --plan`;
    /// a plan shown and dropped, or a drift run, goes without.
    pub fingerprints: bool,
    /// Tenants with writes prepared and waiting for the wire at once, across the run
    /// ([`WRITE_TURNS`](crate::deploy::tenant::WRITE_TURNS) by default); the others keep their
    /// ready resources unprepared until one of them is done.
    pub write_turns: usize,
    /// Tenants signed in, and their first Conditional Access reads sent, while the project
    /// validated (`plan`, `drift`): the scheduler takes them instead of starting over.
    pub read_ahead: Option<Arc<crate::deploy::ahead::ReadAhead>>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            concurrency: None,
            memory_budget: crate::deploy::admission::DEFAULT_MEMORY_BUDGET,
            rings: None,
            max_failure_rate: None,
            prune: false,
            plan_only: false,
            drift: false,
            snapshot: None,
            evidence: false,
            only_drifted: false,
            before: None,
            state: None,
            fingerprints: true,
            write_turns: crate::deploy::tenant::WRITE_TURNS,
            read_ahead: None,
        }
    }
}

/// The journal of a run, shared by every tenant task.
#[derive(Debug)]
pub struct RunJournal {
    writer: Mutex<JournalWriter>,
    error: Mutex<Option<String>>,
}

impl RunJournal {
    /// Open (or continue) a run's journal.
    pub fn open(path: &Path) -> Result<RunJournal, JournalError> {
        Ok(RunJournal {
            writer: Mutex::new(JournalWriter::open(path)?),
            error: Mutex::new(None),
        })
    }

    /// Append a record now. A write error is kept (the run stops at the next tenant boundary).
    pub fn append(&self, entry: Entry) {
        let at = jiff::Timestamp::now().to_string();
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = writer.append(&at, entry) {
            let mut error = self.error.lock().unwrap_or_else(|p| p.into_inner());
            error.get_or_insert_with(|| e.to_string());
        }
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Shared state of a run.
pub struct Run {
    /// The project.
    pub fleet: Arc<Fleet>,
    /// The Graph client.
    pub client: Arc<GraphClient>,
    /// The journal (none for `plan`).
    pub journal: Option<Arc<RunJournal>>,
    /// Where events go.
    pub reporter: Arc<Mutex<Box<dyn Reporter + Send>>>,
    /// Options.
    pub options: DeployOptions,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Run {
    pub(crate) fn emit(&self, event: Event<'_>) {
        let mut reporter = self.reporter.lock().unwrap_or_else(|p| p.into_inner());
        reporter.event(event);
    }
}

/// The journal as an attempt observer: an intent before each attempt, an outcome after.
pub(crate) struct JournalObserver<'a> {
    pub(crate) journal: Option<&'a RunJournal>,
    pub(crate) run: &'a Run,
}

impl Observer for JournalObserver<'_> {
    fn sending(&self, tenant: &str, request: &Request, attempt: u32) {
        if let Some(journal) = self.journal {
            journal.append(Entry::Intent {
                tenant: tenant.to_string(),
                key: request.label.clone(),
                method: request.method.to_string(),
                path: request.path.clone(),
                body_hash: request.body.as_ref().map(crate::graph::client::Body::hash),
                attempt,
            });
        }
    }

    fn sign_in_retrying(
        &self,
        tenant: &str,
        status: Option<u16>,
        reason: crate::graph::retry::RetryReason,
        after: std::time::Duration,
    ) {
        self.run.emit(Event::RequestRetried {
            tenant,
            key: "sign-in",
            status,
            reason,
            after,
        });
    }

    fn finished(&self, tenant: &str, report: &AttemptReport<'_>) {
        if let Some(journal) = self.journal {
            journal.append(Entry::Outcome {
                tenant: tenant.to_string(),
                key: report.request.label.clone(),
                status: report.status,
                request_id: report.request_id.map(str::to_string),
                attempt: report.attempt,
                duration_ms: u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
                object_id: report.object_id.map(str::to_string),
            });
        }
        if let Some((reason, after)) = report.retry {
            self.run.emit(Event::RequestRetried {
                tenant,
                key: &report.request.label,
                status: report.status,
                reason,
                after,
            });
        }
    }
}
