//! `tenantform bench deploy`: a whole fleet deployed at once against the simulator, timed
//! against the theoretical minimum Graph's throttling limits allow, with the client's peak
//! memory and a convergence check.
//!
//! Input: [`DeployBenchOptions`]. Output: a [`DeployBench`] report (the CLI prints it).
//!
//! Owns: the simulator child process (started, waited for, killed on every path), the scratch
//! project, and the arithmetic of the minimum. Steps:
//! 1. Start `tenantform sim` as a **separate child process** (throttling on, `--time-scale`,
//!    `--latency-ms`, `--fleet-out`), so the peak RSS of this process is the client's alone.
//! 2. Write a project like `tenantform demo` does (init's files on the shipped baselines, the
//!    simulator's tenants file), load it with [`Fleet::load`] (the simulator's well-known secret
//!    for [`FLEET_SECRET_ENV`]) and validate it, as `tenantform deploy` does.
//! 3. The theoretical minimum: each tenant's bundle compiled, its operations (all writes)
//!    counted per throttle class, [`Pacer::minimum_time`] per class with the same time-scaled
//!    limits; a tenant's minimum is its slowest class, the fleet's is its slowest tenant
//!    (tenants run side by side), or the app-wide limit when that is slower. Reads are not
//!    counted; the Conditional Access reads the client makes besides are reported apart.
//! 4. Deploy every tenant at once ([`deploy::run`](fn@crate::deploy::run), concurrency = tenants) with the real
//!    client ([`GraphClient`], default retry policy, [`RealTiming`]), a [`RunJournal`] in the
//!    project and a [`Silent`] reporter; then a plan-only run over every tenant, which must find
//!    nothing left to change.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::{BenchError, peak_rss_mib, reset_peak_rss};
use crate::compile::validate::ValidatedBundle;
use crate::compile::{self, Selection};
use crate::deploy::{self, DeployOptions, Fleet, Run, RunJournal};
use crate::graph::client::{GraphClient, RealTiming};
use crate::graph::pacing::{Limits, Pacer};
use crate::graph::retry::RetryPolicy;
use crate::journal::Entry;
use crate::kinds::{Shape, ThrottleClass};
use crate::report::Silent;
use crate::sim::{DEFAULT_CLIENT_SECRET, FLEET_SECRET_ENV};

/// Tenants re-planned at a time after the deploy (a check of convergence, not the measured
/// deploy; plans of every tenant are kept for the count).
const REPLAN_CONCURRENCY: usize = 100;

/// Ratio of wall time to the theoretical minimum the issue accepts (at 1,000 tenants).
pub const RATIO_TARGET: f64 = 1.25;

/// What to run.
#[derive(Debug, Clone)]
pub struct DeployBenchOptions {
    /// Simulated tenants.
    pub tenants: usize,
    /// Tenants deployed at once (0: all of them).
    pub concurrency: usize,
    /// Every throttling window this many times shorter (simulator and client alike).
    pub time_scale: f64,
    /// Mean latency the simulator adds to each Graph request, in milliseconds.
    pub latency_ms: u64,
    /// The executable whose `sim` subcommand is started as the child process (the CLI passes
    /// its own, `std::env::current_exe()`).
    pub simulator: PathBuf,
    /// Where the project, its journal and the simulator's log go (removed by the caller).
    pub work_dir: PathBuf,
    /// Today, for override expiry.
    pub today: jiff::civil::Date,
}

impl Default for DeployBenchOptions {
    fn default() -> Self {
        DeployBenchOptions {
            tenants: 1000,
            concurrency: 0,
            time_scale: 1.0,
            latency_ms: 20,
            simulator: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tenantform")),
            work_dir: std::env::temp_dir().join("tenantform-bench-deploy"),
            today: jiff::Zoned::now().date(),
        }
    }
}

/// A target the run is checked against.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// What is checked, with the target (`wall / minimum <= 1.25`).
    pub name: String,
    /// The measured value, in words.
    pub measured: String,
    /// Met or not.
    pub passed: bool,
}

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployBench {
    /// Tenants deployed.
    pub tenants: usize,
    /// Tenants deployed at once.
    pub concurrency: usize,
    /// Time scale of the simulator and of the client's limits.
    pub time_scale: f64,
    /// Mean latency the simulator added per Graph request, milliseconds.
    pub latency_ms: u64,
    /// Cores of this machine (the client and the simulator share them).
    pub cores: usize,
    /// The machine's one-minute load average when the benchmark started (other processes
    /// share the cores; Linux only).
    pub load_average: Option<f64>,
    /// Bundle operations of the fleet (every one a write).
    pub operations: usize,
    /// Bundle operations per throttle class.
    pub operations_by_class: BTreeMap<String, usize>,
    /// Conditional Access reads the client makes besides the writes (the policy and named
    /// location lists), not counted in the minimum.
    pub conditional_access_reads: usize,
    /// Starting the simulator child until it wrote its tenants file, seconds.
    pub simulator_start_seconds: f64,
    /// Loading and validating the project, seconds (before the deploy; not in its wall time).
    pub load_seconds: f64,
    /// Wall time of the deploy (compiling each tenant's bundle, tokens, reads, writes, journal).
    pub deploy_seconds: f64,
    /// The theoretical minimum: the larger of `slowest_tenant_minimum_seconds` and
    /// `app_limit_minimum_seconds`.
    pub minimum_seconds: f64,
    /// The slowest tenant's minimum for its bundle writes (its slowest throttle class).
    pub slowest_tenant_minimum_seconds: f64,
    /// Conditional Access writes of the slowest tenant.
    pub slowest_tenant_conditional_access_writes: usize,
    /// The least time the app-wide limit (every request of the app, all tenants) allows for
    /// every bundle write of the fleet.
    pub app_limit_minimum_seconds: f64,
    /// The slowest tenant's minimum if its Conditional Access reads are counted too (for
    /// explaining the ratio; not the minimum).
    pub minimum_with_reads_seconds: f64,
    /// `deploy_seconds / minimum_seconds`.
    pub ratio: f64,
    /// Graph requests sent during the deploy (each `$batch` item counts).
    pub requests: u64,
    /// `$batch` calls during the deploy.
    pub batches: u64,
    /// `requests / deploy_seconds`.
    pub requests_per_second: f64,
    /// Retries during the deploy.
    pub retries: u64,
    /// 429 answers during the deploy.
    pub throttled: u64,
    /// Tokens acquired during the deploy.
    pub tokens: u64,
    /// Tenants whose deploy failed.
    pub tenants_failed: usize,
    /// Tenants never started.
    pub tenants_not_started: usize,
    /// A few failures, for diagnosis.
    pub failure_samples: Vec<String>,
    /// Wall time of the plan-only run after the deploy, seconds.
    pub replan_seconds: f64,
    /// Tenants the plan-only run found with changes left (or could not plan); 0 when converged.
    pub tenants_with_changes: usize,
    /// Peak resident memory of this process (the client) over load, deploy and re-plan, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Peak over loading, validating and computing the minimum, MiB.
    pub load_peak_rss_mib: Option<f64>,
    /// Peak during the deploy, MiB.
    pub deploy_peak_rss_mib: Option<f64>,
    /// Peak during the plan-only run, MiB.
    pub replan_peak_rss_mib: Option<f64>,
    /// Peak resident memory of the simulator child, MiB (not the client's).
    pub simulator_peak_rss_mib: Option<f64>,
    /// The targets that apply at this fleet size.
    pub checks: Vec<Check>,
}

/// Operation counts of one tenant's bundle per throttle class.
pub type ClassCounts = BTreeMap<ThrottleClass, usize>;

/// Counts one bundle's operations per throttle class (all bundle operations are writes).
pub fn class_counts(bundle: &ValidatedBundle) -> ClassCounts {
    let mut counts = ClassCounts::new();
    for op in &bundle.bundle().operations {
        *counts.entry(op.kind.throttle).or_default() += 1;
    }
    counts
}

/// The Conditional Access reads the client makes before planning a bundle on a fresh tenant:
/// one list per collection kind, one read per other object (as [`crate::live`] reads them).
pub fn conditional_access_reads(bundle: &ValidatedBundle) -> usize {
    let mut listed: Vec<&str> = Vec::new();
    let mut reads = 0;
    for op in &bundle.bundle().operations {
        let kind = op.kind;
        if kind.throttle != ThrottleClass::ConditionalAccess {
            continue;
        }
        match kind.shape {
            Shape::Collection if kind.name == "group" => reads += 1,
            Shape::Collection => {
                if !listed.contains(&kind.name) {
                    listed.push(kind.name);
                    reads += 1;
                }
            }
            Shape::Singleton | Shape::FixedMember | Shape::Child => reads += 1,
            Shape::ParentAction => {}
        }
    }
    reads
}

/// Memoized [`Pacer::minimum_time`] of writes (tenants share few distinct counts).
#[derive(Debug)]
pub struct Minimums {
    limits: Limits,
    known: HashMap<(ThrottleClass, usize), Duration>,
}

impl Minimums {
    /// Minimums under `limits` (the client's time-scaled limits).
    pub fn new(limits: Limits) -> Minimums {
        Minimums {
            limits,
            known: HashMap::new(),
        }
    }

    /// The least time `count` writes of `class` need in one tenant.
    pub fn class(&mut self, class: ThrottleClass, count: usize) -> Duration {
        let limits = self.limits;
        *self
            .known
            .entry((class, count))
            .or_insert_with(|| Pacer::minimum_time(&limits, class, true, count))
    }

    /// A tenant's minimum: its slowest class.
    pub fn tenant(&mut self, counts: &ClassCounts) -> Duration {
        counts
            .iter()
            .map(|(class, n)| self.class(*class, *n))
            .max()
            .unwrap_or_default()
    }
}

/// The least time the app-wide limit (`limits.global`, a bucket that holds the limit and
/// refills it over the window, as the simulator and Graph count it) allows for `requests`.
pub fn app_limit_minimum(limits: &Limits, requests: usize) -> Duration {
    let rate = limits.global;
    let excess = (requests as f64 - rate.limit).max(0.0);
    if excess == 0.0 || rate.limit <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(excess * rate.window.as_secs_f64() / rate.limit)
}

/// The targets of the issue at this fleet size: the ratio and 200 MB at 1,000 tenants, 400 MB
/// at 10,000. Returns (ratio target, RSS target in MB of 10^6 bytes).
pub fn targets(tenants: usize) -> (Option<f64>, Option<f64>) {
    match tenants {
        1000 => (Some(RATIO_TARGET), Some(200.0)),
        10_000 => (None, Some(400.0)),
        _ => (None, None),
    }
}

fn checks(tenants: usize, ratio: f64, peak_mib: Option<f64>, with_changes: usize) -> Vec<Check> {
    let (ratio_target, rss_target) = targets(tenants);
    let mut checks = Vec::new();
    if let Some(target) = ratio_target {
        checks.push(Check {
            name: format!("wall / minimum <= {target}"),
            measured: format!("{ratio:.3}"),
            passed: ratio <= target,
        });
    }
    if let Some(mb) = rss_target {
        let limit_mib = mb * 1e6 / (1024.0 * 1024.0);
        checks.push(Check {
            name: format!("peak RSS < {mb:.0} MB ({limit_mib:.1} MiB)"),
            measured: peak_mib.map_or_else(|| "n/a".to_string(), |m| format!("{m:.1} MiB")),
            passed: peak_mib.is_some_and(|m| m < limit_mib),
        });
    }
    checks.push(Check {
        name: "re-plan finds nothing left to change".to_string(),
        measured: format!("{with_changes} tenants with changes"),
        passed: with_changes == 0,
    });
    checks
}

/// Parse the base URL out of the simulator's first stdout line (`listening on http://ADDR`).
fn listening_url(line: &str) -> Option<&str> {
    line.strip_prefix("listening on ").map(str::trim)
}

/// The simulator child process; killed (and reaped) when dropped, whatever happened.
#[derive(Debug)]
struct SimChild {
    child: Child,
    base_url: String,
    log: PathBuf,
}

impl SimChild {
    fn start(
        options: &DeployBenchOptions,
        fleet_out: &Path,
        log: &Path,
    ) -> Result<SimChild, BenchError> {
        let stderr = std::fs::File::create(log).map_err(super::io(log))?;
        let mut child = Command::new(&options.simulator)
            .arg("sim")
            .args(["--listen", "127.0.0.1:0"])
            .args(["--tenants", &options.tenants.to_string()])
            .args(["--time-scale", &options.time_scale.to_string()])
            .args(["--latency-ms", &options.latency_ms.to_string()])
            .arg("--fleet-out")
            .arg(fleet_out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                BenchError::Deploy(format!(
                    "cannot start {} sim: {e}",
                    options.simulator.display()
                ))
            })?;
        let stdout = child.stdout.take();
        let mut sim = SimChild {
            child,
            base_url: String::new(),
            log: log.to_path_buf(),
        };
        let Some(stdout) = stdout else {
            return Err(BenchError::Deploy(
                "the simulator's stdout is not piped".into(),
            ));
        };
        // Lines go through a channel so the wait can time out; the thread drains stdout until
        // the child ends.
        let (lines, received) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match received.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(url) = listening_url(&line) {
                        sim.base_url = url.to_string();
                    }
                    if line.starts_with("tenants file written to ") {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = sim.child.try_wait() {
                        return Err(sim.failed(&format!("exited ({status}) before it was ready")));
                    }
                    if Instant::now() > deadline {
                        return Err(sim.failed("not ready after 600 s"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(sim.failed("closed its stdout before it was ready"));
                }
            }
        }
        if sim.base_url.is_empty() {
            return Err(sim.failed("wrote its tenants file without a `listening on` line"));
        }
        Ok(sim)
    }

    fn failed(&self, what: &str) -> BenchError {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: String = log
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        BenchError::Deploy(format!("the simulator child {what}; its stderr: {tail}"))
    }

    fn peak_rss_mib(&self) -> Option<f64> {
        super::status_mib(&self.child.id().to_string(), "VmHWM:")
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the minimum needs from the fleet's bundles.
#[derive(Debug, Default)]
struct FleetCounts {
    by_class: BTreeMap<ThrottleClass, usize>,
    operations: usize,
    ca_reads: usize,
    /// (minimum, Conditional Access writes) of the slowest tenant.
    slowest: (Duration, usize),
    /// The slowest tenant's minimum with its Conditional Access reads counted.
    slowest_with_reads: Duration,
    failed: Vec<String>,
}

/// Compile every tenant's bundle (on all cores, one bundle per thread at a time) and count.
fn count_fleet(fleet: &Fleet, limits: Limits) -> FleetCounts {
    let entries = &fleet.project.tenants;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = entries.len().div_ceil(threads.max(1)).max(1);
    let per_tenant: Vec<Result<(ClassCounts, usize), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|entries| {
                scope.spawn(move || {
                    entries
                        .iter()
                        .map(|entry| {
                            let tenant = fleet
                                .project
                                .tenant(entry)
                                .ok_or_else(|| format!("{}: cannot be read", entry.id))?;
                            let compiled = compile::compile_tenant(
                                &fleet.project,
                                &fleet.engine,
                                fleet.schemas,
                                &tenant,
                                false,
                                fleet.today,
                            );
                            let bundle = compiled
                                .bundle
                                .ok_or_else(|| format!("{}: does not compile", entry.id))?;
                            Ok((class_counts(&bundle), conditional_access_reads(&bundle)))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("a counting thread panicked".into())])
            })
            .collect()
    });
    let mut minimums = Minimums::new(limits);
    let mut counts = FleetCounts::default();
    for result in per_tenant {
        let (classes, ca_reads) = match result {
            Ok(counted) => counted,
            Err(e) => {
                counts.failed.push(e);
                continue;
            }
        };
        let minimum = minimums.tenant(&classes);
        let ca_writes = classes
            .get(&ThrottleClass::ConditionalAccess)
            .copied()
            .unwrap_or(0);
        if minimum > counts.slowest.0 {
            counts.slowest = (minimum, ca_writes);
        }
        let mut with_reads = classes.clone();
        *with_reads
            .entry(ThrottleClass::ConditionalAccess)
            .or_default() += ca_reads;
        counts.slowest_with_reads = counts.slowest_with_reads.max(minimums.tenant(&with_reads));
        for (class, n) in classes {
            *counts.by_class.entry(class).or_default() += n;
            counts.operations += n;
        }
        counts.ca_reads += ca_reads;
    }
    counts
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Run the benchmark. `progress` receives a line per step (the CLI shows it on stderr).
pub fn run(
    options: &DeployBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<DeployBench, BenchError> {
    let tenants = options.tenants;
    if tenants == 0 {
        return Err(BenchError::Deploy(
            "the fleet needs at least one tenant".into(),
        ));
    }
    if !(options.time_scale.is_finite() && options.time_scale > 0.0) {
        return Err(BenchError::Deploy(format!(
            "the time scale must be a positive number, got {}",
            options.time_scale
        )));
    }
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok());
    let dir = &options.work_dir;
    std::fs::create_dir_all(dir).map_err(super::io(dir))?;
    let project_dir = dir.join("project");
    let fleet_out = dir.join("sim-fleet.toml");

    progress(&format!(
        "starting `{} sim` as a child process: {tenants} tenants, throttling on, time scale {}, latency {} ms",
        options.simulator.display(),
        options.time_scale,
        options.latency_ms
    ));
    let started = Instant::now();
    let sim = SimChild::start(options, &fleet_out, &dir.join("sim-stderr.log"))?;
    let simulator_start_seconds = started.elapsed().as_secs_f64();
    progress(&format!(
        "simulator at {} (pid {}), ready in {simulator_start_seconds:.1} s",
        sim.base_url,
        sim.child.id()
    ));

    // The project, as `tenantform demo` writes it.
    let toml = std::fs::read_to_string(&fleet_out).map_err(super::io(&fleet_out))?;
    super::write_project_with_tenants(&project_dir, &toml)?;
    drop(toml);

    reset_peak_rss();
    progress("loading and validating the project");
    let started = Instant::now();
    let env: deploy::EnvLookup = Box::new(|name: &str| {
        (name == FLEET_SECRET_ENV).then(|| DEFAULT_CLIENT_SECRET.to_string())
    });
    let (fleet, diagnostics) = Fleet::load(&project_dir, options.today, env)
        .map_err(|e| BenchError::Load(e.to_string()))?;
    let summary = fleet.validate(&Selection::All, diagnostics);
    if !summary.ok() {
        return Err(BenchError::Load(format!(
            "{} tenants do not compile, {} errors",
            summary.failed.len(),
            summary.diagnostics.error_count()
        )));
    }
    drop(summary);
    let load_seconds = started.elapsed().as_secs_f64();

    progress("compiling every bundle again to count its operations (the theoretical minimum)");
    let limits = Limits::default().time_scaled(options.time_scale);
    let counts = count_fleet(&fleet, limits);
    if let Some(first) = counts.failed.first() {
        return Err(BenchError::Load(format!(
            "{} tenants could not be counted, e.g. {first}",
            counts.failed.len()
        )));
    }
    let slowest_tenant_minimum = counts.slowest.0;
    let app_limit_minimum = app_limit_minimum(&limits, counts.operations);
    let minimum = slowest_tenant_minimum.max(app_limit_minimum);
    let load_peak = peak_rss_mib();

    let fleet = Arc::new(fleet);
    let targets = fleet.targets(&Selection::All);
    let client = Arc::new(
        GraphClient::new(
            limits,
            RetryPolicy::default().time_scaled(options.time_scale),
            Arc::new(RealTiming::new(u64::from(std::process::id()))),
        )
        .map_err(BenchError::Deploy)?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tenantform")
        .build()
        .map_err(|e| BenchError::Deploy(format!("runtime: {e}")))?;

    let run_id = deploy::new_run_id();
    let journal_path = deploy::run_dir(&project_dir, &run_id).join("journal.jsonl");
    let journal = Arc::new(
        RunJournal::open(&journal_path).map_err(|e| BenchError::Deploy(format!("journal: {e}")))?,
    );
    journal.append(Entry::RunStarted {
        tenants: targets.iter().map(|t| t.id.clone()).collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    // No --concurrency: the default path a user takes, as many at once as the memory budget
    // admits.
    let cap = match options.concurrency {
        0 => None,
        n => Some(n),
    };
    let deploy_options = DeployOptions {
        concurrency: cap,
        ..DeployOptions::default()
    };
    let concurrency =
        crate::deploy::admission::starting_together(&targets, deploy_options.memory_budget, cap);
    let run = Arc::new(Run {
        fleet: fleet.clone(),
        client: client.clone(),
        journal: Some(journal),
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: deploy_options,
    });
    progress(&format!(
        "deploying {} tenants, {concurrency} at once ({} operations; theoretical minimum {:.2} s)",
        targets.len(),
        counts.operations,
        secs(minimum)
    ));
    reset_peak_rss();
    let started = Instant::now();
    let deployed = runtime.block_on(deploy::run(run, targets.clone(), Some(run_id)));
    let deploy_seconds = started.elapsed().as_secs_f64();
    let deploy_peak = peak_rss_mib();
    let stats = &client.stats;
    let (requests, batches, retries, throttled, tokens) = (
        stats.requests.load(Ordering::Relaxed),
        stats.batches.load(Ordering::Relaxed),
        stats.retries.load(Ordering::Relaxed),
        stats.throttled.load(Ordering::Relaxed),
        stats.tokens.load(Ordering::Relaxed),
    );
    let failure_samples: Vec<String> = deployed
        .failed()
        .take(3)
        .map(|t| format!("{}: {}", t.id, t.reason.as_deref().unwrap_or("unknown")))
        .collect();
    let tenants_failed = deployed.failed().count();
    let tenants_not_started = deployed.not_started.len();
    drop(deployed);

    progress(&format!(
        "re-planning every tenant (plan only, {REPLAN_CONCURRENCY} at a time): a converged fleet has nothing left to change"
    ));
    reset_peak_rss();
    let replan = Arc::new(Run {
        fleet,
        client,
        journal: None,
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: DeployOptions {
            concurrency: Some(REPLAN_CONCURRENCY),
            plan_only: true,
            ..DeployOptions::default()
        },
    });
    let started = Instant::now();
    let planned = runtime.block_on(deploy::run(replan, targets, None));
    let replan_seconds = started.elapsed().as_secs_f64();
    let replan_peak = peak_rss_mib();
    let tenants_with_changes = planned
        .tenants
        .iter()
        .filter(|t| !t.ok || t.plan.as_ref().is_none_or(|p| !p.is_empty()))
        .count()
        + planned.not_started.len();
    drop(planned);
    drop(runtime);
    let simulator_peak_rss_mib = sim.peak_rss_mib();
    drop(sim);

    let peak = [load_peak, deploy_peak, replan_peak]
        .into_iter()
        .flatten()
        .reduce(f64::max);
    let ratio = deploy_seconds / secs(minimum).max(1e-9);
    Ok(DeployBench {
        concurrency,
        tenants,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_average,
        operations: counts.operations,
        operations_by_class: counts
            .by_class
            .iter()
            .map(|(class, n)| (class.as_str().to_string(), *n))
            .collect(),
        conditional_access_reads: counts.ca_reads,
        simulator_start_seconds,
        load_seconds,
        deploy_seconds,
        minimum_seconds: secs(minimum),
        slowest_tenant_minimum_seconds: secs(slowest_tenant_minimum),
        slowest_tenant_conditional_access_writes: counts.slowest.1,
        app_limit_minimum_seconds: secs(app_limit_minimum),
        minimum_with_reads_seconds: secs(counts.slowest_with_reads.max(app_limit_minimum)),
        ratio,
        requests,
        batches,
        requests_per_second: requests as f64 / deploy_seconds.max(1e-9),
        retries,
        throttled,
        tokens,
        tenants_failed,
        tenants_not_started,
        failure_samples,
        replan_seconds,
        tenants_with_changes,
        peak_rss_mib: peak,
        load_peak_rss_mib: load_peak,
        deploy_peak_rss_mib: deploy_peak,
        replan_peak_rss_mib: replan_peak,
        simulator_peak_rss_mib,
        checks: checks(tenants, ratio, peak, tenants_with_changes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(d: Duration, seconds: f64) -> bool {
        (d.as_secs_f64() - seconds).abs() < 1e-6
    }

    #[test]
    fn a_tenant_takes_as_long_as_its_slowest_class() {
        let mut minimums = Minimums::new(Limits::default());
        let counts: ClassCounts = [
            (ThrottleClass::ConditionalAccess, 21),
            (ThrottleClass::Identity, 12),
            (ThrottleClass::Intune, 8),
        ]
        .into();
        // Conditional Access: 1 per second, no burst: 21 writes need 20 s.
        assert!(approx(minimums.tenant(&counts), 20.0));
        let mut scaled = Minimums::new(Limits::default().time_scaled(20.0));
        assert!(approx(scaled.tenant(&counts), 1.0));
        assert_eq!(
            Minimums::new(Limits::default()).tenant(&ClassCounts::new()),
            Duration::ZERO
        );
    }

    #[test]
    fn the_app_wide_limit_binds_only_past_its_burst() {
        let limits = Limits::default();
        assert_eq!(app_limit_minimum(&limits, 40_000), Duration::ZERO);
        // 130,000 at once, then 13,000 per second.
        assert!(approx(app_limit_minimum(&limits, 156_000), 2.0));
        assert!(approx(
            app_limit_minimum(&limits.time_scaled(20.0), 156_000),
            0.1
        ));
    }

    #[test]
    fn targets_follow_the_issue() {
        assert_eq!(targets(1000), (Some(1.25), Some(200.0)));
        assert_eq!(targets(10_000), (None, Some(400.0)));
        assert_eq!(targets(50), (None, None));
        let c = checks(1000, 1.3, Some(150.0), 0);
        assert_eq!(
            c.iter().map(|c| c.passed).collect::<Vec<_>>(),
            [false, true, true]
        );
        // 200 MB is 190.7 MiB: 195 MiB does not pass.
        assert!(!checks(1000, 1.0, Some(195.0), 0)[1].passed);
        assert!(!checks(10, 1.0, None, 2)[0].passed);
    }

    #[cfg(unix)]
    #[test]
    fn a_simulator_that_cannot_start_or_exits_early_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let options = |simulator: &str| DeployBenchOptions {
            tenants: 2,
            simulator: PathBuf::from(simulator),
            work_dir: dir.path().to_path_buf(),
            ..DeployBenchOptions::default()
        };
        let e = run(&options("/nonexistent/tenantform"), &|_| {}).expect_err("no executable");
        assert!(e.to_string().contains("cannot start"), "{e}");
        if Path::new("/bin/false").exists() {
            let e = run(&options("/bin/false"), &|_| {}).expect_err("exits at once");
            assert!(
                e.to_string().contains("before it was ready")
                    || e.to_string().contains("closed its stdout"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_listening_line_names_the_base_url() {
        assert_eq!(
            listening_url("listening on http://127.0.0.1:4321\n"),
            Some("http://127.0.0.1:4321")
        );
        assert_eq!(listening_url("3 tenants (seed 0)"), None);
    }
}
