//! Stage 6, `deploy` (and the live half of `plan`): for each selected tenant, compile its
//! bundle, sign in, read what it has, plan, and apply the plan: creates in dependency order
//! with symbolic references resolved to real ids, updates as property patches, adoption of
//! matching unmanaged objects, and (with `prune`) deletion of orphans. Many tenants run at
//! once (bounded), rings one after the other; a ring whose failure rate passes the limit stops
//! the rollout. Every attempt goes to the run's journal; the identity map
//! (`DIR/.tenantform/state/<tenant-id>.json`) is rewritten after every successful write, so a
//! run killed at any moment is finished by deploying again, with no duplicate object.
//!
//! Input: a [`Fleet`] (the loaded project), [`DeployOptions`], [`Target`]s. Output: a
//! [`DeploySummary`] (per tenant: counts, failures in words a person can act on), events to
//! the [`Reporter`](crate::report::Reporter), the journal and identity maps on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::bundle::Operation;
use crate::compile::render::Engine;
use crate::compile::validate::Schemas;
use crate::graph::auth;
use crate::graph::client::{
    AttemptReport, GraphClient, Observer, Request, RequestError, Response, TenantSession,
};
use crate::graph::cloud;
use crate::journal::{Entry, JournalError, JournalWriter};
use crate::kinds::{Method, Shape};
use crate::live;
use crate::live::plan::{self, Action, IdentityMap, KNOWN_AFTER_APPLY, TenantPlan};
use crate::report::{Event, Reporter};
use crate::source::project::{ProjectSource, TenantEntry};

/// Where a project keeps its run state: `DIR/.tenantform`.
pub fn state_root(project_dir: &Path) -> PathBuf {
    project_dir.join(".tenantform")
}

/// The identity map file of a tenant.
pub fn identity_path(project_dir: &Path, tenant: &str) -> PathBuf {
    state_root(project_dir)
        .join("state")
        .join(format!("{}.json", tenant.to_ascii_lowercase()))
}

/// The directory of a run.
pub fn run_dir(project_dir: &Path, run_id: &str) -> PathBuf {
    state_root(project_dir).join("runs").join(run_id)
}

/// The append-only change log of a tenant's identity map, written during a deploy (one line
/// per change, no rewrite) and folded into the map when the tenant finishes.
pub fn identity_log_path(project_dir: &Path, tenant: &str) -> PathBuf {
    identity_path(project_dir, tenant).with_extension("log")
}

/// One line of the identity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
enum IdentityChange {
    /// Resource `key` is object `id` of `kind`.
    Set {
        key: String,
        id: String,
        kind: String,
    },
    /// Resource `key` is no longer managed.
    Unset { key: String },
}

/// Load a tenant's identity map (empty when the tenant was never deployed): the map file,
/// then the changes a deploy logged after it (a run killed mid-way leaves them there). A last
/// log line cut short by the kill is ignored.
pub fn load_identity(project_dir: &Path, tenant: &str) -> Result<IdentityMap, String> {
    let path = identity_path(project_dir, tenant);
    let mut map: IdentityMap = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            format!(
                "identity map {} is not valid ({e}); restore it from version control or delete it to re-adopt objects by their match keys",
                path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => IdentityMap::default(),
        Err(e) => return Err(format!("cannot read identity map {}: {e}", path.display())),
    };
    let log = identity_log_path(project_dir, tenant);
    let text = match std::fs::read_to_string(&log) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(map),
        Err(e) => return Err(format!("cannot read identity log {}: {e}", log.display())),
    };
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<IdentityChange>(line) {
            Ok(IdentityChange::Set { key, id, kind }) => {
                map.objects.insert(key.clone(), id);
                map.kinds.insert(key, kind);
            }
            Ok(IdentityChange::Unset { key }) => {
                map.objects.remove(&key);
                map.kinds.remove(&key);
            }
            // A line cut short by a kill: the change it was recording is re-adopted by its
            // match key on the next run.
            Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(format!(
                    "identity log {} line {} is not valid ({e}); delete the log to re-adopt objects by their match keys",
                    log.display(),
                    n + 1
                ));
            }
        }
    }
    Ok(map)
}

/// Fold a tenant's identity log into its map file: write the map atomically, then remove the
/// log.
pub fn checkpoint_identity(
    project_dir: &Path,
    tenant: &str,
    map: &IdentityMap,
) -> Result<(), String> {
    save_identity(project_dir, tenant, map)?;
    let log = identity_log_path(project_dir, tenant);
    match std::fs::remove_file(&log) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove identity log {}: {e}", log.display())),
    }
}

/// Write a tenant's identity map atomically (temporary file, then rename).
pub fn save_identity(project_dir: &Path, tenant: &str, map: &IdentityMap) -> Result<(), String> {
    let path = identity_path(project_dir, tenant);
    let write = || -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let mut text = serde_json::to_string_pretty(map).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| format!("cannot write identity map {}: {e}", path.display()))
}

/// A new run id: UTC time, sortable, plus a random suffix (`20261126T230501Z-3f9a`).
pub fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", now.strftime("%Y%m%dT%H%M%SZ"), &suffix[..4])
}

/// The loaded project every tenant task reads.
pub struct Fleet {
    /// The project directory.
    pub dir: PathBuf,
    /// The project.
    pub project: ProjectSource,
    /// Its template engine.
    pub engine: Engine,
    /// Schemas.
    pub schemas: &'static Schemas,
    /// Today (override expiry).
    pub today: jiff::civil::Date,
    /// Environment lookup for `client_secret_env` (injected: tests and the demo never touch the
    /// process environment).
    pub env: EnvLookup,
    /// Operations per tenant, recorded by [`Fleet::validate`] (to start the largest first).
    sizes: Mutex<HashMap<String, usize>>,
}

/// Records each compiled tenant's operation count.
struct SizeRecorder<'a>(&'a mut HashMap<String, usize>);

impl crate::report::Reporter for SizeRecorder<'_> {
    fn event(&mut self, event: Event<'_>) {
        if let Event::TenantCompiled { outcome } = event {
            self.0.insert(outcome.id.clone(), outcome.operations);
        }
    }
}

/// Looks up an environment variable by name (for `client_secret_env`).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Secrets' environment lookup: the process environment.
pub fn process_env() -> EnvLookup {
    Box::new(|name: &str| std::env::var(name).ok())
}

impl Fleet {
    /// Load a project; `Err` holds the message when the directory is not a project. The
    /// diagnostics of loading (and template parsing) come back with the fleet.
    pub fn load(
        dir: &Path,
        today: jiff::civil::Date,
        env: EnvLookup,
    ) -> Result<(Fleet, crate::diag::Diagnostics), String> {
        let (project, mut diagnostics) =
            crate::source::project::load(dir).map_err(|e| e.to_string())?;
        let (engine, template_diags) = Engine::new(&project);
        diagnostics.extend(template_diags);
        let schemas = Schemas::shared().map_err(|e| e.to_string())?;
        Ok((
            Fleet {
                dir: dir.to_path_buf(),
                project,
                engine,
                schemas,
                today,
                env,
                sizes: Mutex::new(HashMap::new()),
            },
            diagnostics,
        ))
    }

    /// Validate the selected tenants (nothing is written); the summary's diagnostics include
    /// the loading ones passed in.
    pub fn validate(
        &self,
        selection: &crate::compile::Selection,
        load_diagnostics: crate::diag::Diagnostics,
    ) -> crate::compile::CompileSummary {
        let options = crate::compile::CompileOptions {
            out_dir: None,
            selection: selection.clone(),
            strict: false,
            jobs: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            today: self.today,
        };
        let mut sizes = HashMap::new();
        let mut summary = crate::compile::compile(
            &self.project,
            &self.engine,
            self.schemas,
            &options,
            &mut SizeRecorder(&mut sizes),
        );
        *self.sizes.lock().unwrap_or_else(|p| p.into_inner()) = sizes;
        let mut diagnostics = load_diagnostics;
        diagnostics.extend(summary.diagnostics.iter().cloned());
        diagnostics.coalesce();
        summary.diagnostics = diagnostics;
        summary
    }

    /// The targets a selection picks (in file order), weighed by their operation counts when
    /// [`Fleet::validate`] has run.
    pub fn targets(&self, selection: &crate::compile::Selection) -> Vec<Target> {
        let sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
        self.project
            .tenants
            .iter()
            .filter(|t| selection.includes(t))
            .map(|entry| Target {
                weight: sizes.get(&entry.id).copied().unwrap_or(0),
                ..Target::of(entry)
            })
            .collect()
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// One tenant to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// With `--plan`: the bundle hash and live fingerprint the plan saw.
    pub expected: Option<(String, String)>,
    /// How much work it is (its operation count; 0 when unknown): within a ring the heaviest
    /// tenants start first, so the ones that take longest are not also the last to begin.
    #[serde(default)]
    pub weight: usize,
}

impl Target {
    /// A target for a project's tenant entry.
    pub fn of(entry: &TenantEntry) -> Target {
        Target {
            id: entry.id.clone(),
            name: entry.name.clone(),
            ring: entry.ring.clone(),
            expected: None,
            weight: 0,
        }
    }
}

/// A stable share of the fleet: `--shard K/N` keeps the tenants whose id hashes to K-1 mod N.
pub fn in_shard(tenant_id: &str, k: usize, n: usize) -> bool {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(tenant_id.to_ascii_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = n.max(1) as u64;
    (u64::from_be_bytes(first) % n) as usize == k.saturating_sub(1)
}

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Tenants at once.
    pub concurrency: usize,
    /// Ring order; tenants of rings not listed are not deployed. `None`: one wave of all.
    pub rings: Option<Vec<String>>,
    /// Stop the rollout when a ring's failed fraction passes this (0..=1).
    pub max_failure_rate: Option<f64>,
    /// Delete orphans.
    pub prune: bool,
    /// Plan only (read, never write).
    pub plan_only: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            concurrency: 16,
            rings: None,
            max_failure_rate: None,
            prune: false,
            plan_only: false,
        }
    }
}

/// What happened to a tenant's resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Created.
    pub created: usize,
    /// Updated (including adopted objects that needed changes).
    pub updated: usize,
    /// Adopted (taken over by match key).
    pub adopted: usize,
    /// Already as the bundle says.
    pub unchanged: usize,
    /// Orphans deleted.
    pub deleted: usize,
    /// Failed (or skipped because something they depend on failed).
    pub failed: usize,
}

/// One resource that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceFailure {
    /// Resource key.
    pub key: String,
    /// Why, in words a person can act on.
    pub reason: String,
}

/// The result for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// True when every resource matches the bundle.
    pub ok: bool,
    /// Resource counts.
    pub counts: Counts,
    /// Why the tenant failed, when it did (the first failure, or a tenant-wide one).
    pub reason: Option<String>,
    /// Every resource that failed.
    pub failures: Vec<ResourceFailure>,
    /// The plan (plan-only runs; a deploy does not keep it).
    #[serde(skip)]
    pub plan: Option<TenantPlan>,
    /// Seconds from start to finish.
    pub seconds: f64,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DeploySummary {
    /// Run id (none for `plan`).
    pub run_id: Option<String>,
    /// Per tenant, in the order they finished.
    pub tenants: Vec<TenantReport>,
    /// Tenants never started because the rollout stopped.
    pub not_started: Vec<String>,
    /// Why the rollout stopped early.
    pub stopped: Option<String>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Graph requests sent (`$batch` items count one each).
    pub requests: u64,
    /// Of those, sent inside `$batch` calls.
    pub batched: u64,
    /// `$batch` calls.
    pub batches: u64,
    /// Retries.
    pub retries: u64,
    /// 429 answers.
    pub throttled: u64,
}

impl DeploySummary {
    /// Tenants that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TenantReport> {
        self.tenants.iter().filter(|t| !t.ok)
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
    fn emit(&self, event: Event<'_>) {
        let mut reporter = self.reporter.lock().unwrap_or_else(|p| p.into_inner());
        reporter.event(event);
    }
}

/// The journal as an attempt observer: an intent before each attempt, an outcome after.
struct JournalObserver<'a> {
    journal: Option<&'a RunJournal>,
    run: &'a Run,
}

impl Observer for JournalObserver<'_> {
    fn sending(&self, tenant: &str, request: &Request, attempt: u32) {
        if let Some(journal) = self.journal {
            journal.append(Entry::Intent {
                tenant: tenant.to_string(),
                key: request.label.clone(),
                method: request.method.to_string(),
                path: request.path.clone(),
                body_hash: request.body.as_ref().map(|b| b.hash().to_string()),
                attempt,
            });
        }
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

/// A tenant ready to talk to: its bundle and session.
struct Prepared {
    /// The bundle's content hash.
    bundle_hash: String,
    /// What applying needs of each operation (see [`slim`]).
    operations: Vec<Operation>,
    /// Each operation's body as compact JSON text.
    bodies: Vec<Box<str>>,
    session: TenantSession,
}

fn prepare(fleet: &Fleet, target: &Target) -> Result<Prepared, String> {
    let project = &fleet.project;
    let entry = project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(&target.id))
        .ok_or_else(|| format!("tenant {} is not in the project", target.id))?;
    let tenant = project
        .tenant(entry)
        .ok_or_else(|| format!("tenant {} could not be read again from its file", target.id))?;
    let compiled = crate::compile::compile_tenant(
        project,
        &fleet.engine,
        fleet.schemas,
        &tenant,
        false,
        fleet.today,
    );
    let bundle = compiled.bundle.ok_or_else(|| {
        format!(
            "its bundle does not compile ({} errors); run `tenantform validate --tenant {}`",
            compiled.diagnostics.error_count(),
            target.id
        )
    })?;
    if let Some((hash, _)) = &target.expected
        && hash != bundle.content_hash()
    {
        return Err(format!(
            "its bundle changed since the plan was made (plan {hash}, now {}); run `tenantform plan` again",
            bundle.content_hash()
        ));
    }
    let endpoints = cloud::resolve(tenant.cloud, &tenant.endpoints).map_err(|e| e.to_string())?;
    // Relative secret and certificate paths are relative to the project directory.
    let credentials = auth::load_credentials(tenant.credentials.as_ref(), &fleet.dir, &*fleet.env)
        .map_err(|e| e.to_string())?;
    // A tenant waits on Graph's limits from here on, a thousand side by side: keep only what
    // reading, planning and applying need, with bodies as compact text.
    let (operations, bodies) = bundle.bundle().operations.iter().map(slim).unzip();
    Ok(Prepared {
        bundle_hash: bundle.content_hash().to_string(),
        operations,
        bodies,
        session: TenantSession::new(&target.id, endpoints, credentials),
    })
}

/// Words a person can act on for a failed request of `op`'s kind.
fn explain(error: &RequestError, kind: &crate::kinds::Kind) -> String {
    match error {
        RequestError::Status {
            status: 403, code, ..
        } => format!(
            "missing permission: the app needs {} (application permission, admin consent) to manage {}; Graph answered 403 {code}",
            kind.permissions.join(" and "),
            kind.name
        ),
        RequestError::Status { status: 401, .. } => format!(
            "the app's token was refused (401) even after renewing it; check the app registration and consent ({error})"
        ),
        other => other.to_string(),
    }
}

/// Why a reference could not be replaced, in words.
fn unresolved(error: crate::compile::bundle::Unresolved, text: &str) -> String {
    match error {
        crate::compile::bundle::Unresolved::Unterminated => {
            format!("unterminated reference in {text}")
        }
        crate::compile::bundle::Unresolved::Unknown(key) => {
            format!("reference to {key}, whose id is not known")
        }
    }
}

/// Replace each reference with the id of its target (all targets are known when an operation
/// starts: its dependencies are done).
fn resolve_value(value: &Value, ids: &BTreeMap<String, String>) -> Result<Value, String> {
    crate::compile::bundle::resolve_refs_in_value(value, &mut |key| ids.get(key).cloned())
        .map_err(|e| unresolved(e, &value.to_string()))
}

fn resolve_text(text: &str, ids: &BTreeMap<String, String>) -> Result<String, String> {
    crate::compile::bundle::resolve_refs_in_text(text, &mut |key| ids.get(key).cloned())
        .map_err(|e| unresolved(e, text))
}

/// The properties a PATCH sends: the top-level properties that changed (and `@odata.type`).
fn patch_body(desired: &Value, changes: &[crate::live::normalize::Change]) -> Value {
    let Value::Object(map) = desired else {
        return desired.clone();
    };
    if changes.is_empty() {
        return desired.clone();
    }
    let top: BTreeSet<String> = changes
        .iter()
        .filter_map(|c| c.pointer.split('/').nth(1))
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    Value::Object(
        map.iter()
            .filter(|(k, _)| top.contains(k.as_str()) || k.as_str() == "@odata.type")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The HTTP method string.
fn method_str(method: Method) -> &'static str {
    method.as_str()
}

/// What one resource ended as.
enum Applied {
    Done {
        action: &'static str,
        id: Option<String>,
    },
    Failed(String),
}

/// What applying a resource takes.
enum Step {
    /// Nothing more (unchanged, or adopted as it is).
    Done(Applied),
    /// This request, then read its answer so.
    Send(Request, Then),
}

/// How to read the answer to a resource's request.
enum Then {
    /// A create: record the new object's id (a lost answer to a POST is reconciled).
    Created,
    /// An update (or the update of an adopted object): this is the result.
    Finished(Applied),
}

/// One tenant's deploy in progress.
struct TenantRun<'a> {
    run: &'a Run,
    target: &'a Target,
    session: &'a TenantSession,
    observer: JournalObserver<'a>,
    identity: Mutex<IdentityMap>,
    /// The identity log, opened on the first change.
    identity_log: Mutex<Option<std::fs::File>>,
    /// Keys created in this run (their references may need replication time).
    created: Mutex<BTreeSet<String>>,
}

impl TenantRun<'_> {
    fn remember(&self, op: &Operation, id: &str) -> Result<(), String> {
        if op.kind.shape != Shape::Collection {
            return Ok(());
        }
        let mut identity = self.identity.lock().unwrap_or_else(|p| p.into_inner());
        if identity.objects.get(&op.key).map(String::as_str) == Some(id) {
            return Ok(());
        }
        identity.objects.insert(op.key.clone(), id.to_string());
        identity
            .kinds
            .insert(op.key.clone(), op.kind.name.to_string());
        self.log_change(&IdentityChange::Set {
            key: op.key.clone(),
            id: id.to_string(),
            kind: op.kind.name.to_string(),
        })
    }

    fn forget(&self, key: &str) -> Result<(), String> {
        let mut identity = self.identity.lock().unwrap_or_else(|p| p.into_inner());
        identity.objects.remove(key);
        identity.kinds.remove(key);
        self.log_change(&IdentityChange::Unset {
            key: key.to_string(),
        })
    }

    /// Append one change to the tenant's identity log (one write, no rewrite of the map).
    fn log_change(&self, change: &IdentityChange) -> Result<(), String> {
        use std::io::Write as _;
        let path = identity_log_path(&self.run.fleet.dir, &self.target.id);
        let fail = |e: std::io::Error| format!("cannot write identity log {}: {e}", path.display());
        let mut log = self.identity_log.lock().unwrap_or_else(|p| p.into_inner());
        if log.is_none() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(fail)?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(fail)?;
            *log = Some(file);
        }
        let mut line = serde_json::to_string(change).unwrap_or_default();
        line.push('\n');
        match log.as_mut() {
            Some(file) => file.write_all(line.as_bytes()).map_err(fail),
            None => Ok(()),
        }
    }

    /// Write the identity map with every change of this run and remove the log.
    fn checkpoint(&self) -> Result<(), String> {
        let mut log = self.identity_log.lock().unwrap_or_else(|p| p.into_inner());
        if log.take().is_none() {
            return Ok(());
        }
        let identity = self.identity.lock().unwrap_or_else(|p| p.into_inner());
        checkpoint_identity(&self.run.fleet.dir, &self.target.id, &identity)
    }

    fn request(&self, op: &Operation, method: &'static str, path: String, body: Value) -> Request {
        let created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        let references_new_object = op.refs.iter().any(|r| created.contains(&r.target));
        Request {
            label: op.key.clone(),
            method,
            version: op.kind.api_version,
            path,
            body: Some(crate::graph::client::Body::new(&body)),
            prefer: op.prefer,
            class: op.kind.throttle,
            idempotent: method != "POST" || op.kind.shape == Shape::ParentAction,
            references_new_object,
        }
    }

    async fn send(
        &self,
        request: &Request,
    ) -> Result<crate::graph::client::Response, RequestError> {
        self.run
            .client
            .send(self.session, request, &self.observer)
            .await
    }

    /// Create a collection object with POST, never twice: when the outcome is unknown (also
    /// when it arrives so from a `$batch` item, `first`), look it up by its match key before
    /// sending again.
    async fn create_once(
        &self,
        op: &Operation,
        request: &Request,
        first: Option<Result<Response, RequestError>>,
    ) -> Result<String, String> {
        let policy = *self.run.client.policy();
        let mut tries = 0;
        let mut result = first;
        loop {
            tries += 1;
            let outcome = match result.take() {
                Some(outcome) => outcome,
                None => self.send(request).await,
            };
            match outcome {
                Ok(response) => {
                    return match response.body.get("id").and_then(Value::as_str) {
                        Some(id) => Ok(id.to_string()),
                        None => self.find(op).await?.ok_or_else(|| {
                            format!(
                                "{} answered {} without an object id",
                                request.path, response.status
                            )
                        }),
                    };
                }
                Err(RequestError::OutcomeUnknown { after, reason, .. }) => {
                    self.run.client.timing().sleep(after).await;
                    // A create applied just before the connection dropped may not be listed
                    // yet (replication): look until the reconcile window has passed before
                    // concluding it was not made.
                    if let Some(id) = self.find_within(op, policy.reconcile_window).await? {
                        return Ok(id);
                    }
                    if tries >= policy.max_transient_attempts {
                        return Err(format!(
                            "{} {}: no definite answer after {tries} attempts ({reason})",
                            request.method, request.path
                        ));
                    }
                }
                Err(e) => return Err(explain(&e, op.kind)),
            }
        }
    }

    /// Look an object up by its match key, again and again until `window` has passed (new
    /// objects take a moment to be listed).
    async fn find_within(
        &self,
        op: &Operation,
        window: Duration,
    ) -> Result<Option<String>, String> {
        let timing = self.run.client.timing();
        let started = timing.now();
        let step = (window / 10).max(Duration::from_millis(50));
        loop {
            if let Some(id) = self.find(op).await? {
                return Ok(Some(id));
            }
            if timing.now().saturating_sub(started) >= window {
                return Ok(None);
            }
            timing.sleep(step).await;
        }
    }

    async fn find(&self, op: &Operation) -> Result<Option<String>, String> {
        live::find_by_match_key(&self.run.client, self.session, op, &self.observer)
            .await
            .map_err(|e| explain(&e, op.kind))
    }

    /// What applying a resource takes: nothing more, or one request and how to read its
    /// answer. `ids` holds every id it may reference.
    fn prepare(
        &self,
        op: &Operation,
        body_text: &str,
        action: &Action,
        ids: &BTreeMap<String, String>,
    ) -> Result<Step, String> {
        let body: Value = serde_json::from_str(body_text).map_err(|e| {
            format!(
                "internal error: the compiled body of {} is not JSON: {e}",
                op.key
            )
        })?;
        let body = resolve_value(&body, ids)?;
        let path = resolve_text(&op.path, ids)?;
        let update_method = method_str(op.kind.update_method);
        match action {
            Action::NoOp { object_id } => {
                if let Some(id) = object_id {
                    self.remember(op, id)?;
                }
                Ok(Step::Done(Applied::Done {
                    action: "unchanged",
                    id: object_id.clone(),
                }))
            }
            Action::Ambiguous { object_ids } => Err(format!(
                "{} objects match {} by {} ({}); tenantform will not guess: delete the duplicates, or record the right id in {}",
                object_ids.len(),
                op.key,
                op.kind.match_key.join(" + "),
                object_ids.join(", "),
                identity_path(&self.run.fleet.dir, &self.target.id).display()
            )),
            Action::Create => {
                let method = op.kind.create_method.map_or(update_method, method_str);
                Ok(Step::Send(
                    self.request(op, method, path, body),
                    Then::Created,
                ))
            }
            Action::Adopt { object_id, changes } => {
                self.remember(op, object_id)?;
                let done = Applied::Done {
                    action: "adopted",
                    id: Some(object_id.clone()),
                };
                if changes.is_empty() {
                    return Ok(Step::Done(done));
                }
                let request =
                    self.update_request(op, Some(object_id), &path, body, changes, update_method);
                Ok(Step::Send(request, Then::Finished(done)))
            }
            Action::Update { object_id, changes } => {
                if let Some(id) = object_id {
                    self.remember(op, id)?;
                }
                let request = self.update_request(
                    op,
                    object_id.as_deref(),
                    &path,
                    body,
                    changes,
                    update_method,
                );
                Ok(Step::Send(
                    request,
                    Then::Finished(Applied::Done {
                        action: "updated",
                        id: object_id.clone(),
                    }),
                ))
            }
        }
    }

    /// Read the answer to a prepared request (`result`, when it was sent in a `$batch`; else it
    /// is sent now).
    async fn finish(
        &self,
        op: &Operation,
        request: &Request,
        then: Then,
        result: Option<Result<Response, RequestError>>,
    ) -> Result<Applied, String> {
        match then {
            Then::Finished(done) => {
                let result = match result {
                    Some(result) => result,
                    None => self.send(request).await,
                };
                result.map(|_| done).map_err(|e| explain(&e, op.kind))
            }
            Then::Created if op.kind.shape != Shape::Collection => {
                let result = match result {
                    Some(result) => result,
                    None => self.send(request).await,
                };
                result
                    .map(|_| Applied::Done {
                        action: "created",
                        id: None,
                    })
                    .map_err(|e| explain(&e, op.kind))
            }
            Then::Created => {
                let id = if request.method == "POST" {
                    self.create_once(op, request, result).await?
                } else {
                    // An upsert (PATCH with create-if-missing) is safe to repeat.
                    let result = match result {
                        Some(Err(RequestError::OutcomeUnknown { .. })) | None => {
                            self.send(request).await
                        }
                        Some(result) => result,
                    };
                    let response = result.map_err(|e| explain(&e, op.kind))?;
                    match response.body.get("id").and_then(Value::as_str) {
                        Some(id) => id.to_string(),
                        // An upsert that answered 204 (the object existed): look it up; it may
                        // take replication a moment to list it.
                        None => self
                            .find_within(op, self.run.client.policy().reconcile_window)
                            .await?
                            .ok_or_else(|| {
                                format!(
                                    "{}: the object exists but could not be found by {} within {:?}",
                                    request.path,
                                    op.kind.match_key.join(" + "),
                                    self.run.client.policy().reconcile_window
                                )
                            })?,
                    }
                };
                self.remember(op, &id)?;
                self.created
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(op.key.clone());
                Ok(Applied::Done {
                    action: "created",
                    id: Some(id),
                })
            }
        }
    }

    /// Apply one resource on its own.
    async fn apply_one(&self, op: &Operation, step: Step) -> Applied {
        match step {
            Step::Done(done) => done,
            Step::Send(request, then) => match self.finish(op, &request, then, None).await {
                Ok(done) => done,
                Err(reason) => Applied::Failed(reason),
            },
        }
    }

    /// Apply resources that became ready together and do not depend on each other: their
    /// requests go out in `$batch` calls (20 each), then each answer is read on its own.
    async fn apply_batch(
        &self,
        items: Vec<(usize, &Operation, Request, Then)>,
    ) -> Vec<(usize, Applied)> {
        let requests: Vec<Request> = items.iter().map(|(_, _, r, _)| r.clone()).collect();
        let results = self
            .run
            .client
            .batch(self.session, &requests, &self.observer)
            .await;
        let mut out = Vec::with_capacity(items.len());
        for ((i, op, request, then), result) in items.into_iter().zip(results) {
            let applied = match self.finish(op, &request, then, Some(result)).await {
                Ok(done) => done,
                Err(reason) => Applied::Failed(reason),
            };
            out.push((i, applied));
        }
        out
    }

    fn update_request(
        &self,
        op: &Operation,
        object_id: Option<&str>,
        path: &str,
        body: Value,
        changes: &[crate::live::normalize::Change],
        method: &'static str,
    ) -> Request {
        let target = match (op.kind.shape, object_id) {
            (Shape::Collection, Some(id)) => format!("{}/{id}", op.kind.path),
            _ => path.to_string(),
        };
        let body = if method == "PATCH" {
            patch_body(&body, changes)
        } else {
            body
        };
        let mut request = self.request(op, method, target, body);
        // An update by id never creates.
        request.prefer = None;
        request.idempotent = true;
        request
    }

    async fn delete_orphan(&self, orphan: &plan::Orphan) -> Result<(), String> {
        let Some(kind) = orphan.kind.as_deref().and_then(crate::kinds::by_name) else {
            return Err(format!(
                "orphan {} ({}): its kind is not recorded in the identity map; delete it by hand",
                orphan.key, orphan.object_id
            ));
        };
        let request = Request {
            label: orphan.key.clone(),
            method: "DELETE",
            version: kind.api_version,
            path: format!("{}/{}", kind.path, orphan.object_id),
            body: None,
            prefer: None,
            class: kind.throttle,
            idempotent: true,
            references_new_object: false,
        };
        match self
            .run
            .client
            .send(self.session, &request, &self.observer)
            .await
        {
            Ok(_) => {}
            // Already gone.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(explain(&e, kind)),
        }
        self.forget(&orphan.key)
    }
}

/// Conditional Access operations of a tenant in flight at once (the rest wait their turn).
const CA_LANE: usize = 2;

/// What applying an operation needs, and its body as compact JSON text.
fn slim(op: &Operation) -> (Operation, Box<str>) {
    let body = serde_json::to_string(&op.body)
        .unwrap_or_default()
        .into_boxed_str();
    let slim = Operation {
        key: op.key.clone(),
        kind: op.kind,
        method: op.method,
        path: op.path.clone(),
        prefer: op.prefer,
        body: Value::Null,
        match_values: op.match_values.clone(),
        depends_on: op.depends_on.clone(),
        refs: op.refs.clone(),
        parent: op.parent.clone(),
        controls: Vec::new(),
        description: None,
        baseline: String::new(),
        declared_at: op.declared_at,
        origin: op.origin,
        var_spans: BTreeMap::new(),
        vars: serde_json::Map::new(),
        accepted: Vec::new(),
    };
    (slim, body)
}

/// Plan (and, unless `plan_only`, apply) one tenant. `compile_slots` bounds how many bundles
/// compile at once.
async fn deploy_tenant(
    run: &Run,
    target: &Target,
    compile_slots: &tokio::sync::Semaphore,
) -> TenantReport {
    let started = run.client.timing().now();
    let mut report = TenantReport {
        id: target.id.clone(),
        name: target.name.clone(),
        ring: target.ring.clone(),
        ok: false,
        counts: Counts::default(),
        reason: None,
        failures: Vec::new(),
        plan: None,
        seconds: 0.0,
    };
    let finish = |mut report: TenantReport, run: &Run| {
        report.seconds = run
            .client
            .timing()
            .now()
            .saturating_sub(started)
            .as_secs_f64();
        if report.reason.is_none() {
            report.reason = report
                .failures
                .first()
                .map(|f| format!("{}: {}", f.key, f.reason));
        }
        report.ok = report.reason.is_none();
        report
    };
    let fleet = &*run.fleet;
    let prepared = {
        // Compiling is CPU work: one bundle per core at a time, in the order tenants start
        // (the semaphore is fair). Unbounded, a wave of a thousand tenants ran 512 compiles on
        // blocking threads side by side: every tenant waited for all of them, and their memory
        // added up. The semaphore is never closed; were it, compiling would go ahead unbounded.
        let _slot = compile_slots.acquire().await;
        let fleet = run.fleet.clone();
        let target = target.clone();
        match tokio::task::spawn_blocking(move || prepare(&fleet, &target)).await {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(reason)) => {
                report.reason = Some(reason);
                return finish(report, run);
            }
            Err(e) => {
                report.reason = Some(format!("internal error while compiling: {e}"));
                return finish(report, run);
            }
        }
    };
    let identity = match load_identity(&fleet.dir, &target.id) {
        Ok(identity) => identity,
        Err(reason) => {
            report.reason = Some(reason);
            return finish(report, run);
        }
    };
    // Changes logged by a run that was killed are folded in before anything else is written.
    if !run.options.plan_only
        && identity_log_path(&fleet.dir, &target.id).exists()
        && let Err(reason) = checkpoint_identity(&fleet.dir, &target.id, &identity)
    {
        report.reason = Some(reason);
        return finish(report, run);
    }
    let observer = JournalObserver {
        journal: run.journal.as_deref(),
        run,
    };
    let input = plan::PlanInput {
        tenant: &target.id,
        bundle_hash: &prepared.bundle_hash,
        operations: &prepared.operations,
        bodies: Some(&prepared.bodies),
    };
    let live = match live::read(&run.client, &prepared.session, &input, &identity, &observer).await
    {
        Ok(live) => live,
        Err(e) => {
            report.reason = Some(match &e {
                RequestError::Status { status: 403, .. } => format!(
                    "missing permission to read the tenant's configuration: {e}; grant the app the permissions `tenantform kinds` lists for the bundle's kinds"
                ),
                _ => format!("cannot read the tenant's configuration: {e}"),
            });
            return finish(report, run);
        }
    };
    let tenant_plan = plan::plan(&input, &live, &identity);
    // The live objects are not needed past planning; a tenant's apply can take minutes
    // (Conditional Access: one request per second), so do not hold them that long.
    drop(live);
    if let Some((_, fingerprint)) = &target.expected
        && fingerprint != &tenant_plan.live_fingerprint
    {
        report.reason = Some(
            "the tenant changed since the plan was made (its live objects no longer match the plan's fingerprint); run `tenantform plan` again and review the new plan".to_string(),
        );
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }
    if run.options.plan_only {
        for r in &tenant_plan.resources {
            match r.action {
                Action::Create => report.counts.created += 1,
                Action::Update { .. } => report.counts.updated += 1,
                Action::Adopt { .. } => report.counts.adopted += 1,
                Action::NoOp { .. } => report.counts.unchanged += 1,
                Action::Ambiguous { .. } => {
                    report.counts.failed += 1;
                }
            }
        }
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }

    let Prepared {
        operations,
        mut bodies,
        session,
        ..
    } = prepared;
    let tenant_run = TenantRun {
        run,
        target,
        session: &session,
        observer: JournalObserver {
            journal: run.journal.as_deref(),
            run,
        },
        identity: Mutex::new(identity.clone()),
        identity_log: Mutex::new(None),
        created: Mutex::new(BTreeSet::new()),
    };
    let operations = &operations;
    let mut ids = live::known_ids(&tenant_plan, &identity);
    let mut done: HashMap<&str, bool> = HashMap::new();
    let mut waiting: Vec<usize> = (0..operations.len()).collect();
    let mut running: FuturesUnordered<futures_util::future::BoxFuture<'_, Vec<(usize, Applied)>>> =
        FuturesUnordered::new();
    let mut ready: Vec<usize> = Vec::new();
    let mut ca_in_flight = 0usize;
    loop {
        // Start every operation whose dependencies are done; skip those whose dependency failed.
        let mut still_waiting = Vec::with_capacity(waiting.len());
        for i in waiting {
            let op = &operations[i];
            let deps: Vec<(&str, Option<bool>)> = op
                .depends_on
                .iter()
                .map(|d| (d.as_str(), done.get(d.as_str()).copied()))
                .collect();
            if let Some((failed_dep, _)) = deps.iter().find(|(_, state)| *state == Some(false)) {
                done.insert(op.key.as_str(), false);
                report.counts.failed += 1;
                report.failures.push(ResourceFailure {
                    key: op.key.clone(),
                    reason: format!("not applied: it depends on {failed_dep}, which failed"),
                });
                run.emit(Event::ResourceFailed {
                    tenant: &target.id,
                    key: &op.key,
                    reason: "a dependency failed",
                });
                continue;
            }
            if deps.iter().all(|(_, state)| *state == Some(true)) {
                ready.push(i);
            } else {
                still_waiting.push(i);
            }
        }
        waiting = still_waiting;
        // Prepare what became ready; requests that need no pacing of their own at one per
        // second (everything but Conditional Access) go out together in `$batch` calls.
        let mut batch = Vec::new();
        let mut deferred = Vec::new();
        for i in ready.drain(..) {
            let op = &operations[i];
            let tenant_run = &tenant_run;
            // Conditional Access goes one request per second: start only the next two, so the
            // others do not sit in memory (resolved bodies, futures) waiting for their slot.
            if op.kind.throttle == crate::kinds::ThrottleClass::ConditionalAccess {
                if ca_in_flight >= CA_LANE {
                    deferred.push(i);
                    continue;
                }
                ca_in_flight += 1;
            }
            // The request carries the body from here on; the text is not needed again.
            let body_text = std::mem::take(&mut bodies[i]);
            match tenant_run.prepare(op, &body_text, &tenant_plan.resources[i].action, &ids) {
                Ok(Step::Send(request, then))
                    if request.class != crate::kinds::ThrottleClass::ConditionalAccess =>
                {
                    batch.push((i, op, request, then));
                }
                Ok(step) => running.push(Box::pin(async move {
                    vec![(i, tenant_run.apply_one(op, step).await)]
                })),
                Err(reason) => {
                    running.push(Box::pin(async move { vec![(i, Applied::Failed(reason))] }))
                }
            }
        }
        if batch.len() == 1 {
            let (i, op, request, then) = batch.remove(0);
            let tenant_run = &tenant_run;
            running.push(Box::pin(async move {
                vec![(i, tenant_run.apply_one(op, Step::Send(request, then)).await)]
            }));
        } else if !batch.is_empty() {
            let tenant_run = &tenant_run;
            running.push(Box::pin(tenant_run.apply_batch(batch)));
        }
        ready = deferred;
        let Some(results) = running.next().await else {
            break;
        };
        for (i, applied) in results {
            let op = &operations[i];
            if op.kind.throttle == crate::kinds::ThrottleClass::ConditionalAccess {
                ca_in_flight -= 1;
            }
            match applied {
                Applied::Done { action, id } => {
                    if let Some(id) = &id {
                        ids.insert(op.key.clone(), id.clone());
                    }
                    done.insert(op.key.as_str(), true);
                    match action {
                        "created" => report.counts.created += 1,
                        "updated" => report.counts.updated += 1,
                        "adopted" => report.counts.adopted += 1,
                        _ => report.counts.unchanged += 1,
                    }
                    if let Some(journal) = &run.journal {
                        journal.append(Entry::Applied {
                            tenant: target.id.clone(),
                            key: op.key.clone(),
                            action: action.to_string(),
                            object_id: id,
                        });
                    }
                    run.emit(Event::ResourceApplied {
                        tenant: &target.id,
                        key: &op.key,
                        action,
                    });
                }
                Applied::Failed(reason) => {
                    done.insert(op.key.as_str(), false);
                    report.counts.failed += 1;
                    run.emit(Event::ResourceFailed {
                        tenant: &target.id,
                        key: &op.key,
                        reason: &reason,
                    });
                    report.failures.push(ResourceFailure {
                        key: op.key.clone(),
                        reason,
                    });
                }
            }
        }
    }
    drop(running);
    for i in waiting.into_iter().chain(ready) {
        let op = &operations[i];
        report.counts.failed += 1;
        report.failures.push(ResourceFailure {
            key: op.key.clone(),
            reason: "not applied: a resource it depends on was never applied".into(),
        });
    }

    if run.options.prune {
        for orphan in &tenant_plan.orphans {
            match tenant_run.delete_orphan(orphan).await {
                Ok(()) => {
                    report.counts.deleted += 1;
                    if let Some(journal) = &run.journal {
                        journal.append(Entry::Applied {
                            tenant: target.id.clone(),
                            key: orphan.key.clone(),
                            action: "deleted".into(),
                            object_id: Some(orphan.object_id.clone()),
                        });
                    }
                    run.emit(Event::ResourceApplied {
                        tenant: &target.id,
                        key: &orphan.key,
                        action: "deleted",
                    });
                }
                Err(reason) => {
                    report.counts.failed += 1;
                    report.failures.push(ResourceFailure {
                        key: orphan.key.clone(),
                        reason,
                    });
                }
            }
        }
    }
    if let Err(reason) = tenant_run.checkpoint() {
        report.failures.push(ResourceFailure {
            key: "(identity map)".into(),
            reason,
        });
    }
    // A deploy's report does not keep the plan: a fleet's plans would add up.
    drop(tenant_plan);
    finish(report, run)
}

/// Group targets into waves: the rings in the order given (tenants of other rings are left
/// out), or one wave of all; within a wave the heaviest tenants come first.
pub fn waves(targets: Vec<Target>, rings: Option<&[String]>) -> Vec<(String, Vec<Target>)> {
    let mut waves = ring_waves(targets, rings);
    for (_, targets) in &mut waves {
        // Longest first (the makespan heuristic): stable, so equal weights keep file order.
        targets.sort_by_key(|t| std::cmp::Reverse(t.weight));
    }
    waves
}

fn ring_waves(targets: Vec<Target>, rings: Option<&[String]>) -> Vec<(String, Vec<Target>)> {
    match rings {
        None => vec![("all".to_string(), targets)],
        Some(rings) => rings
            .iter()
            .map(|ring| {
                (
                    ring.clone(),
                    targets
                        .iter()
                        .filter(|t| &t.ring == ring)
                        .cloned()
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Deploy (or plan) `targets`. Tenants run `concurrency` at a time; rings one after the other.
pub async fn run(run: Arc<Run>, targets: Vec<Target>, run_id: Option<String>) -> DeploySummary {
    let started = run.client.timing().now();
    let waves = waves(targets, run.options.rings.as_deref());
    let total: usize = waves.iter().map(|(_, t)| t.len()).sum();
    run.emit(Event::DeployStarted {
        tenants: total,
        plan_only: run.options.plan_only,
    });
    let mut summary = DeploySummary {
        run_id,
        tenants: Vec::new(),
        not_started: Vec::new(),
        stopped: None,
        seconds: 0.0,
        requests: 0,
        batched: 0,
        batches: 0,
        retries: 0,
        throttled: 0,
    };
    let semaphore = Arc::new(tokio::sync::Semaphore::new(run.options.concurrency.max(1)));
    let compile_slots = Arc::new(tokio::sync::Semaphore::new(
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    ));
    for (ring, targets) in waves {
        if summary.stopped.is_some() {
            summary
                .not_started
                .extend(targets.iter().map(|t| t.id.clone()));
            continue;
        }
        run.emit(Event::RingStarted {
            ring: &ring,
            tenants: targets.len(),
        });
        let ring_size = targets.len();
        let failed_in_ring = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop_ring = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for target in targets {
            let run = run.clone();
            let semaphore = semaphore.clone();
            let failed_in_ring = failed_in_ring.clone();
            let stop_ring = stop_ring.clone();
            let compile_slots = compile_slots.clone();
            tasks.spawn(async move {
                let Ok(_permit) = semaphore.acquire_owned().await else {
                    return Err(target.id);
                };
                if stop_ring.load(std::sync::atomic::Ordering::SeqCst)
                    || run.journal.as_ref().is_some_and(|j| j.error().is_some())
                {
                    return Err(target.id);
                }
                run.emit(Event::TenantStarted {
                    id: &target.id,
                    name: &target.name,
                });
                let report = deploy_tenant(&run, &target, &compile_slots).await;
                if let Some(journal) = &run.journal {
                    journal.append(Entry::TenantFinished {
                        tenant: target.id.clone(),
                        ok: report.ok,
                        reason: report.reason.clone(),
                    });
                }
                if !report.ok {
                    let failed =
                        failed_in_ring.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    if let Some(limit) = run.options.max_failure_rate
                        && failed as f64 / ring_size.max(1) as f64 > limit
                    {
                        stop_ring.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                run.emit(Event::TenantFinished { report: &report });
                Ok(report)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(report)) => summary.tenants.push(report),
                Ok(Err(id)) => summary.not_started.push(id),
                Err(e) => summary.tenants.push(TenantReport {
                    id: "(unknown)".into(),
                    name: String::new(),
                    ring: ring.clone(),
                    ok: false,
                    counts: Counts::default(),
                    reason: Some(format!(
                        "internal error: a tenant task ended abnormally: {e}"
                    )),
                    failures: Vec::new(),
                    plan: None,
                    seconds: 0.0,
                }),
            }
        }
        let failed = failed_in_ring.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(limit) = run.options.max_failure_rate
            && failed as f64 / ring_size.max(1) as f64 > limit
        {
            summary.stopped = Some(format!(
                "ring {ring}: {failed} of {ring_size} tenants failed, more than --max-failure-rate {limit}; later rings were not started"
            ));
        }
        if let Some(error) = run.journal.as_ref().and_then(|j| j.error()) {
            summary.stopped = Some(format!(
                "the journal could not be written ({error}); stopped"
            ));
        }
    }
    summary.seconds = run
        .client
        .timing()
        .now()
        .saturating_sub(started)
        .as_secs_f64();
    let stats = &run.client.stats;
    summary.requests = stats.requests.load(std::sync::atomic::Ordering::Relaxed);
    summary.batched = stats.batched.load(std::sync::atomic::Ordering::Relaxed);
    summary.batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    summary.retries = stats.retries.load(std::sync::atomic::Ordering::Relaxed);
    summary.throttled = stats.throttled.load(std::sync::atomic::Ordering::Relaxed);
    if let Some(journal) = &run.journal {
        journal.append(Entry::RunFinished {
            succeeded: summary.tenants.iter().filter(|t| t.ok).count(),
            failed: summary.tenants.iter().filter(|t| !t.ok).count(),
        });
    }
    run.emit(Event::DeployFinished { summary: &summary });
    summary
}

/// Text for the known-after-apply marker (re-exported for reporters).
pub const AFTER_APPLY: &str = KNOWN_AFTER_APPLY;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::normalize::Change;
    use serde_json::json;

    #[test]
    fn shards_split_the_fleet_stably_and_completely() {
        let ids: Vec<String> = (0..200).map(|i| format!("tenant-{i}")).collect();
        let mut seen = 0;
        for k in 1..=3 {
            let share = ids.iter().filter(|id| in_shard(id, k, 3)).count();
            assert!(share > 40, "shard {k} has {share}");
            seen += share;
        }
        assert_eq!(seen, 200);
        assert_eq!(in_shard("A-B", 2, 3), in_shard("a-b", 2, 3));
    }

    #[test]
    fn a_patch_sends_only_the_changed_top_level_properties() {
        let desired = json!({"@odata.type": "#t", "displayName": "x", "state": "enabled", "conditions": {"a": 1}});
        let changes = vec![Change {
            pointer: "/conditions/a".into(),
            desired: Some(json!(1)),
            live: Some(json!(2)),
        }];
        assert_eq!(
            patch_body(&desired, &changes),
            json!({"@odata.type": "#t", "conditions": {"a": 1}})
        );
        assert_eq!(patch_body(&desired, &[]), desired);
    }

    #[test]
    fn references_resolve_or_say_which_id_is_missing() {
        let ids = BTreeMap::from([("g".to_string(), "id-g".to_string())]);
        assert_eq!(
            resolve_text("/p/${ref:group:g}/assign", &ids).expect("ok"),
            "/p/id-g/assign"
        );
        let e = resolve_text("${ref:group:h}", &ids).expect_err("an error");
        assert!(e.contains("reference to h"), "{e}");
    }

    #[test]
    fn waves_follow_the_ring_order_and_leave_other_rings_out() {
        let t = |id: &str, ring: &str| Target {
            id: id.into(),
            name: id.into(),
            ring: ring.into(),
            expected: None,
            weight: 0,
        };
        let targets = vec![t("a", "broad"), t("b", "pilot"), t("c", "other")];
        let w = waves(targets.clone(), Some(&["pilot".into(), "broad".into()]));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].1, vec![t("b", "pilot")]);
        assert_eq!(w[1].1, vec![t("a", "broad")]);
        assert_eq!(waves(targets.clone(), None)[0].1.len(), 3);
        let heavy = Target {
            weight: 40,
            ..t("c", "pilot")
        };
        let w = waves(vec![t("a", "pilot"), heavy.clone(), t("b", "pilot")], None);
        let order: Vec<&str> = w[0].1.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(order, ["c", "a", "b"]);
    }

    #[test]
    fn the_identity_log_replays_over_the_map_and_tolerates_a_cut_short_last_line() {
        let dir = tempfile::tempdir().expect("dir");
        let mut map = IdentityMap::default();
        map.objects.insert("a".into(), "id-a".into());
        save_identity(dir.path(), "t", &map).expect("save");
        let log = identity_log_path(dir.path(), "t");
        std::fs::write(
            &log,
            "{\"op\":\"set\",\"key\":\"b\",\"id\":\"id-b\",\"kind\":\"group\"}\n{\"op\":\"unset\",\"key\":\"a\"}\n{\"op\":\"se",
        )
        .expect("log");
        let loaded = load_identity(dir.path(), "t").expect("load");
        assert_eq!(loaded.objects.get("b").map(String::as_str), Some("id-b"));
        assert_eq!(loaded.kinds.get("b").map(String::as_str), Some("group"));
        assert!(!loaded.objects.contains_key("a"));
        checkpoint_identity(dir.path(), "t", &loaded).expect("checkpoint");
        assert!(!log.exists());
        assert_eq!(load_identity(dir.path(), "t").expect("again"), loaded);
        // A damaged line in the middle is an error that names the log.
        std::fs::write(&log, "nonsense\n{\"op\":\"unset\",\"key\":\"b\"}\n").expect("log");
        let e = load_identity(dir.path(), "t").expect_err("an error");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn identity_maps_round_trip_and_bad_ones_say_what_to_do() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(
            load_identity(dir.path(), "T").expect("empty"),
            IdentityMap::default()
        );
        let mut map = IdentityMap::default();
        map.objects.insert("k".into(), "id".into());
        save_identity(dir.path(), "T", &map).expect("save");
        assert_eq!(load_identity(dir.path(), "t").expect("load"), map);
        std::fs::write(identity_path(dir.path(), "t"), "{").expect("write");
        let e = load_identity(dir.path(), "t").expect_err("an error");
        assert!(e.contains("is not valid"), "{e}");
    }
}
