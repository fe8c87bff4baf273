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
//! 3. The theoretical minimum, as issue 9 defines it: the slowest tenant's paced requests,
//!    reads included, at Graph's published limits without the client's headroom. Each
//!    tenant's bundle is compiled, its reads ([`crate::live::read_classes`]) and writes counted
//!    per throttle class, and paced with [`Pacer::paced_time`] under
//!    [`Limits::without_headroom`]; a tenant's minimum is its slowest class, the fleet's is its
//!    slowest tenant (tenants run side by side), or the app-wide limit when that is slower.
//!    The same arithmetic with the client's own limits (5 % below each) is reported beside it.
//! 4. Deploy the fleet ([`deploy::run`]) the way `tenantform deploy -p DIR --all --yes` does:
//!    as many tenants at once as deploy's memory budget admits unless `--concurrency` caps it, the real client
//!    ([`GraphClient`], default retry policy, [`RealTiming`]), a [`RunJournal`] in the project,
//!    before-images, a lock per tenant in the project's local state store, and a [`Silent`]
//!    reporter; then a plan-only run over every tenant, as `tenantform plan
//!    --all` with the same admission, timed against its own read-bound minimum, which must
//!    find nothing left to change, and a drift run as `tenantform drift --all`. Each is timed
//!    from loading and validating the project again, as a user waits for the command.

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
use crate::deploy::ahead::ReadAhead;
use crate::deploy::{self, DeployOptions, Fleet, Run, RunJournal};
use crate::graph::client::{GraphClient, RealTiming};
use crate::graph::pacing::{Limits, Pacer};
use crate::graph::retry::RetryPolicy;
use crate::journal::Entry;
use crate::kinds::ThrottleClass;
use crate::report::Silent;
use crate::sim::{DEFAULT_CLIENT_SECRET, FLEET_SECRET_ENV};

pub(crate) mod child;
mod minimum;

use child::SimChild;
#[cfg(test)]
use child::listening_url;
pub use minimum::*;

/// Ratio of the deploy's wall time to its theoretical minimum issue 9 accepts (1,000 tenants).
pub const RATIO_TARGET: f64 = 1.10;

/// Ratio of the re-plan's (`plan --all`) wall time to its read-bound minimum issue 9 accepts.
pub const PLAN_RATIO_TARGET: f64 = 1.25;

/// What to run.
#[derive(Debug, Clone)]
pub struct DeployBenchOptions {
    /// Simulated tenants.
    pub tenants: usize,
    /// Tenants deployed (and re-planned) at once; `None`: deploy's default, as a user who
    /// types no `--concurrency` gets.
    pub concurrency: Option<usize>,
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
            concurrency: None,
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

/// CPU time one run used, by the client (this process) and by the simulator child: the two
/// share the machine's cores, so a run that needs more CPU than they give in its read-bound
/// minimum cannot finish within it, however its requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CpuUse {
    /// User and system CPU time of the client during the run, seconds.
    pub client_seconds: f64,
    /// User and system CPU time of the simulator during the run, seconds.
    pub simulator_seconds: f64,
    /// `(client_seconds + simulator_seconds) / cores`: the least wall time the run's CPU work
    /// takes on this machine, every core busy all the time.
    pub cpu_bound_seconds: f64,
}

impl CpuUse {
    /// The CPU used between `before` and `after` (client, simulator), on `cores` cores.
    fn between(
        before: (Option<f64>, Option<f64>),
        after: (Option<f64>, Option<f64>),
        cores: usize,
    ) -> Option<CpuUse> {
        let client_seconds = after.0? - before.0?;
        let simulator_seconds = after.1? - before.1?;
        Some(CpuUse {
            client_seconds,
            simulator_seconds,
            cpu_bound_seconds: (client_seconds + simulator_seconds) / cores.max(1) as f64,
        })
    }
}

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployBench {
    /// Tenants deployed.
    pub tenants: usize,
    /// Tenants deployed (and re-planned) at once.
    pub concurrency: usize,
    /// `concurrency` is deploy's default (no `--concurrency` was given).
    pub default_concurrency: bool,
    /// Time scale of the simulator and of the client's limits.
    pub time_scale: f64,
    /// Mean latency the simulator added per Graph request, milliseconds.
    pub latency_ms: u64,
    /// Cores of this machine (the client and the simulator share them).
    pub cores: usize,
    /// The machine's one-minute load average when the benchmark started (other processes
    /// share the cores; Linux only).
    pub load_average: Option<f64>,
    /// The commands a user would type to reach the same figures: the simulator, the deploy,
    /// the plan (in the project the benchmark wrote; it is removed unless `--keep` was given).
    pub commands: Vec<String>,
    /// Bundle operations of the fleet (every one a write).
    pub operations: usize,
    /// Bundle operations per throttle class.
    pub operations_by_class: BTreeMap<String, usize>,
    /// Reads the deploy makes to plan each fresh tenant, the whole fleet.
    pub reads: usize,
    /// Of `reads`, Conditional Access (the policy and named location lists).
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
    /// The slowest tenant's paced requests, reads included, at Graph's limits without the
    /// client's headroom (its slowest throttle class).
    pub slowest_tenant_minimum_seconds: f64,
    /// Conditional Access reads of the slowest tenant.
    pub slowest_tenant_conditional_access_reads: usize,
    /// Conditional Access writes of the slowest tenant.
    pub slowest_tenant_conditional_access_writes: usize,
    /// The slowest tenant's bundle writes alone (the minimum bench deploy used before issue
    /// 9; for comparing with earlier figures).
    pub writes_only_minimum_seconds: f64,
    /// The slowest tenant's requests paced with the client's own limits (5 % below Graph's,
    /// plus its spacing margin): the least time the client's pacing allows.
    pub client_pacing_minimum_seconds: f64,
    /// The least time the app-wide limits allow the fleet: every read and write under the
    /// app's request limit, and its identity writes under the app's identity write limit.
    pub app_limit_minimum_seconds: f64,
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
    /// Wall time of the plan-only run after the deploy (`plan --all`), seconds, from loading
    /// and validating the project (the command's work before its first request) to its end.
    pub replan_seconds: f64,
    /// The plan-only run's read-bound minimum: the slowest tenant's paced reads (policies,
    /// groups, singletons and assignment sets), without the client's headroom.
    pub replan_minimum_seconds: f64,
    /// `replan_seconds / replan_minimum_seconds`.
    pub replan_ratio: f64,
    /// 429 answers during the plan-only run.
    pub replan_throttled: u64,
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
    /// Wall time of the drift run after the re-plan (`tenantform drift --all`), seconds, from
    /// loading the project as for the re-plan; its
    /// read-bound minimum is the re-plan's (a converged fleet has no drift to attribute).
    pub drift_seconds: f64,
    /// `drift_seconds / replan_minimum_seconds`.
    pub drift_ratio: f64,
    /// Tenants the drift run found drifted or could not read; 0 on a converged fleet.
    pub tenants_drifted: usize,
    /// Peak during the drift run, MiB.
    pub drift_peak_rss_mib: Option<f64>,
    /// Peak resident memory of the simulator child, MiB (not the client's).
    pub simulator_peak_rss_mib: Option<f64>,
    /// CPU used by the deploy (Linux; `None` elsewhere).
    pub deploy_cpu: Option<CpuUse>,
    /// CPU used by the plan-only run.
    pub replan_cpu: Option<CpuUse>,
    /// CPU used by the drift run.
    pub drift_cpu: Option<CpuUse>,
    /// The targets that apply at this fleet size.
    pub checks: Vec<Check>,
}

/// The targets of issue 9 at this fleet size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// Deploy wall time / its minimum, at most.
    pub ratio: Option<f64>,
    /// `plan --all` wall time / its read-bound minimum, at most.
    pub plan_ratio: Option<f64>,
    /// Client peak RSS in MB (10^6 bytes), at most.
    pub rss_mb: Option<f64>,
    /// 429 answers during the deploy must be none.
    pub no_throttling: bool,
}

/// The targets of issue 9: at 1,000 tenants (real limits) the ratios, 100 MB and no 429; at
/// 10,000 (time-scaled) 300 MB.
pub fn targets(tenants: usize) -> Targets {
    match tenants {
        1000 => Targets {
            ratio: Some(RATIO_TARGET),
            plan_ratio: Some(PLAN_RATIO_TARGET),
            rss_mb: Some(100.0),
            no_throttling: true,
        },
        10_000 => Targets {
            ratio: None,
            plan_ratio: None,
            rss_mb: Some(300.0),
            no_throttling: false,
        },
        _ => Targets {
            ratio: None,
            plan_ratio: None,
            rss_mb: None,
            no_throttling: false,
        },
    }
}

/// What the checks look at.
#[derive(Debug, Clone, Copy)]
struct Measured {
    ratio: f64,
    plan_ratio: f64,
    drift_ratio: f64,
    /// The re-plan's CPU floor ([`CpuUse::cpu_bound_seconds`]) over its read-bound minimum.
    plan_cpu_ratio: Option<f64>,
    /// The drift run's CPU floor over the same minimum.
    drift_cpu_ratio: Option<f64>,
    drift_peak_mib: Option<f64>,
    tenants_drifted: usize,
    peak_mib: Option<f64>,
    throttled: u64,
    with_changes: usize,
}

/// A ratio to a read-bound minimum, with what the run's CPU alone comes to against the same
/// minimum when it was measured: a run whose CPU needs more than the target cannot meet it on
/// this machine, however its requests are paced.
fn ratio_with_cpu(ratio: f64, cpu_ratio: Option<f64>) -> String {
    match cpu_ratio {
        Some(cpu) => format!("{ratio:.3} (the run's CPU alone, on every core: {cpu:.3})"),
        None => format!("{ratio:.3}"),
    }
}

fn checks(tenants: usize, m: Measured) -> Vec<Check> {
    let targets = targets(tenants);
    let mut checks = Vec::new();
    if let Some(target) = targets.ratio {
        checks.push(Check {
            name: format!("deploy wall / minimum <= {target}"),
            measured: format!("{:.3}", m.ratio),
            passed: m.ratio <= target,
        });
    }
    if let Some(target) = targets.plan_ratio {
        checks.push(Check {
            name: format!("plan wall / read-bound minimum <= {target}"),
            measured: ratio_with_cpu(m.plan_ratio, m.plan_cpu_ratio),
            passed: m.plan_ratio <= target,
        });
    }
    if let Some(target) = targets.plan_ratio {
        // Issue 11's drift targets: the same read-bound minimum, 200 MB.
        checks.push(Check {
            name: format!("drift wall / read-bound minimum <= {target}"),
            measured: ratio_with_cpu(m.drift_ratio, m.drift_cpu_ratio),
            passed: m.drift_ratio <= target,
        });
        let limit_mib = 200.0 * 1e6 / (1024.0 * 1024.0);
        checks.push(Check {
            name: format!("drift client peak RSS <= 200 MB ({limit_mib:.1} MiB)"),
            measured: m
                .drift_peak_mib
                .map_or_else(|| "n/a".to_string(), |p| format!("{p:.1} MiB")),
            passed: m.drift_peak_mib.is_some_and(|p| p <= limit_mib),
        });
    }
    if let Some(mb) = targets.rss_mb {
        let limit_mib = mb * 1e6 / (1024.0 * 1024.0);
        checks.push(Check {
            name: format!("client peak RSS <= {mb:.0} MB ({limit_mib:.1} MiB)"),
            measured: m
                .peak_mib
                .map_or_else(|| "n/a".to_string(), |p| format!("{p:.1} MiB")),
            passed: m.peak_mib.is_some_and(|p| p <= limit_mib),
        });
    }
    if targets.no_throttling {
        checks.push(Check {
            name: "no 429 during the deploy".to_string(),
            measured: format!("{} throttled", m.throttled),
            passed: m.throttled == 0,
        });
    }
    checks.push(Check {
        name: "re-plan finds nothing left to change".to_string(),
        measured: format!("{} tenants with changes", m.with_changes),
        passed: m.with_changes == 0,
    });
    checks.push(Check {
        name: "drift finds no false drift right after the deploy".to_string(),
        measured: format!("{} tenants drifted or unread", m.tenants_drifted),
        passed: m.tenants_drifted == 0,
    });
    checks
}

/// A path for a shell command line (quoted when it holds anything but plain characters).
fn shell_path(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The commands a user types to reach the benchmark's figures: the simulator (in another
/// terminal; `--fleet-out` writes the tenants into a project `tenantform init` made, without
/// its example tenants), then deploy and plan as the benchmark ran them.
pub fn user_commands(options: &DeployBenchOptions, project: &Path) -> Vec<String> {
    let dir = shell_path(project);
    let mut tuning = String::new();
    if let Some(n) = options.concurrency {
        tuning.push_str(&format!(" --concurrency {n}"));
    }
    if options.time_scale != 1.0 {
        tuning.push_str(&format!(" --time-scale {}", options.time_scale));
    }
    vec![
        format!(
            "tenantform sim --tenants {} --time-scale {} --latency-ms {} --fleet-out {dir}/tenants/fleet.toml",
            options.tenants, options.time_scale, options.latency_ms
        ),
        format!(
            "{FLEET_SECRET_ENV}={DEFAULT_CLIENT_SECRET} tenantform deploy -p {dir} --all --yes{tuning}"
        ),
        format!(
            "{FLEET_SECRET_ENV}={DEFAULT_CLIENT_SECRET} tenantform plan -p {dir} --all{tuning}"
        ),
    ]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Load the project and validate every tenant's bundle, as `tenantform deploy`, `plan` and
/// `drift` do before their first request.
pub(super) fn load_and_validate(
    project_dir: &Path,
    today: jiff::civil::Date,
    ahead: Option<&ReadAhead>,
) -> Result<Fleet, BenchError> {
    let env: deploy::EnvLookup = Box::new(|name: &str| {
        (name == FLEET_SECRET_ENV).then(|| DEFAULT_CLIENT_SECRET.to_string())
    });
    let (fleet, diagnostics) =
        Fleet::load(project_dir, today, env).map_err(|e| BenchError::Load(e.to_string()))?;
    let summary = fleet.validate_reading_ahead(&Selection::All, diagnostics, ahead);
    if !summary.ok() {
        return Err(BenchError::Load(format!(
            "{} tenants do not compile, {} errors",
            summary.failed.len(),
            summary.diagnostics.error_count()
        )));
    }
    Ok(fleet)
}

/// A fresh client as a `tenantform` command makes one: its own pacer and tokens, the default
/// retry policy scaled to the run's time scale, real time.
pub(super) fn fresh_client(
    limits: Limits,
    time_scale: f64,
) -> Result<Arc<GraphClient>, BenchError> {
    GraphClient::new(
        limits,
        RetryPolicy::default().time_scaled(time_scale),
        Arc::new(RealTiming::new(u64::from(std::process::id()))),
    )
    .map(Arc::new)
    .map_err(|e| BenchError::Deploy(e.to_string()))
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
    let fleet = load_and_validate(&project_dir, options.today, None)?;
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
    let identity_writes = counts
        .by_class
        .get(&ThrottleClass::Identity)
        .copied()
        .unwrap_or(0);
    let app_limit_minimum =
        deploy_app_limit_minimum(&limits, counts.operations + counts.reads, identity_writes);
    let minimum = counts.slowest.minimum.max(app_limit_minimum);
    let replan_minimum = counts
        .replan
        .max(self::app_limit_minimum(&limits, counts.replan_reads));
    let load_peak = peak_rss_mib();

    let fleet = Arc::new(fleet);
    let targets = fleet.targets(&Selection::All);
    let client = fresh_client(limits, options.time_scale)?;
    // The runtime `tenantform deploy` runs on.
    let runtime = deploy::runtime().map_err(|e| BenchError::Deploy(format!("runtime: {e}")))?;

    let run_id = deploy::new_run_id();
    let journal_path = deploy::run_dir(&project_dir, &run_id).join("journal.jsonl");
    let journal = Arc::new(
        RunJournal::open(&journal_path).map_err(|e| BenchError::Deploy(format!("journal: {e}")))?,
    );
    journal.append(Entry::RunStarted {
        tenants: targets.iter().map(|t| t.id.clone()).collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    // Deploy's own default unless the benchmark was told otherwise: the default path is what
    // a user who types no --concurrency gets.
    let cap = options.concurrency;
    // As `tenantform deploy` runs: each tenant's before-images (what `rollback` needs) are
    // written before its first change, and each tenant is locked in the project's state store
    // (local files, the default) while it is deployed.
    let settings = fleet.state_settings();
    let no_credential = |_: &str| None;
    let store = Arc::new(
        crate::state::open(&settings, &project_dir, &no_credential)
            .map_err(|e| BenchError::Deploy(e.to_string()))?,
    );
    let run_state = runtime
        .block_on(crate::state::RunState::open(
            store,
            &project_dir,
            crate::state::Holder::this_process("deploy", &run_id),
            Duration::from_secs(settings.lease_seconds),
            Duration::from_secs(60),
        ))
        .map_err(|e| BenchError::Deploy(e.to_string()))?;
    let deploy_options = DeployOptions {
        concurrency: cap,
        before: Some(deploy::rollback::before_dir(&project_dir, &run_id)),
        state: Some(run_state),
        ..DeployOptions::default()
    };
    let concurrency =
        crate::deploy::admission::starting_together(&targets, deploy_options.memory_budget, cap);
    let commands = user_commands(options, &project_dir);
    for command in &commands {
        progress(&format!("a user reaches the same figures with: {command}"));
    }
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
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cpu_now = || (crate::bench::cpu_seconds("self"), sim.cpu_seconds());
    let cpu_before = cpu_now();
    let started = Instant::now();
    let deployed = runtime.block_on(deploy::run(run, targets.clone(), Some(run_id)));
    let deploy_seconds = started.elapsed().as_secs_f64();
    let deploy_cpu = CpuUse::between(cpu_before, cpu_now(), cores);
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
        "re-planning every tenant (plan only, {concurrency} at a time; read-bound minimum {:.2} s): a converged fleet has nothing left to change",
        secs(replan_minimum)
    ));
    // As `tenantform plan` run afterwards would: a fresh client (its own pacer and tokens),
    // once the last writes' Conditional Access window has passed.
    drop(client);
    std::thread::sleep(limits.conditional_access.window * 2);
    let client = fresh_client(limits, options.time_scale)?;
    let throttled_before = client.stats.throttled.load(Ordering::Relaxed);
    // Timed from loading the project, as a user waits for `tenantform plan --all`: its
    // loading and validating come before its first request.
    drop(fleet);
    reset_peak_rss();
    let cpu_before = cpu_now();
    let started = Instant::now();
    let mut replan_options = DeployOptions {
        concurrency: cap,
        plan_only: true,
        // As `tenantform plan --all` (no --out, shown not written): no plan file.
        fingerprints: false,
        ..DeployOptions::default()
    };
    // As `tenantform plan` does: each tenant's reads start as soon as it has validated.
    let ahead = ReadAhead::for_run(&runtime, &client, &replan_options);
    let fleet = Arc::new(load_and_validate(
        &project_dir,
        options.today,
        Some(&ahead),
    )?);
    replan_options.read_ahead = Some(ahead);
    let targets = fleet.targets(&Selection::All);
    let replan = Arc::new(Run {
        fleet: fleet.clone(),
        client: client.clone(),
        journal: None,
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: replan_options,
    });
    let planned = runtime.block_on(deploy::run(replan, targets, None));
    let replan_seconds = started.elapsed().as_secs_f64();
    let replan_cpu = CpuUse::between(cpu_before, cpu_now(), cores);
    let replan_peak = peak_rss_mib();
    let replan_throttled = client.stats.throttled.load(Ordering::Relaxed) - throttled_before;
    let tenants_with_changes = planned
        .tenants
        .iter()
        .filter(|t| !t.ok || t.plan.as_ref().is_none_or(|p| !p.is_empty()))
        .count()
        + planned.not_started.len();
    drop(planned);

    // As `tenantform drift --all` run afterwards would: a fresh client again.
    progress("looking for drift in every tenant, as `tenantform drift --all` would");
    drop(client);
    std::thread::sleep(limits.conditional_access.window * 2);
    let client = fresh_client(limits, options.time_scale)?;
    // Timed from loading the project too, as `tenantform drift --all` is waited for.
    drop(fleet);
    reset_peak_rss();
    let cpu_before = cpu_now();
    let started = Instant::now();
    let mut drift_options = DeployOptions {
        concurrency: cap,
        plan_only: true,
        drift: true,
        fingerprints: false,
        ..DeployOptions::default()
    };
    let ahead = ReadAhead::for_run(&runtime, &client, &drift_options);
    let fleet = Arc::new(load_and_validate(
        &project_dir,
        options.today,
        Some(&ahead),
    )?);
    drift_options.read_ahead = Some(ahead);
    let targets = fleet.targets(&Selection::All);
    let drift_run = Arc::new(Run {
        fleet,
        client,
        journal: None,
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: drift_options,
    });
    let drifted = runtime.block_on(deploy::run(drift_run, targets, None));
    let drift_seconds = started.elapsed().as_secs_f64();
    let drift_cpu = CpuUse::between(cpu_before, cpu_now(), cores);
    let drift_peak = peak_rss_mib();
    let tenants_drifted = drifted
        .tenants
        .iter()
        .filter(|t| t.drift.as_ref().is_none_or(|d| d.has_drift()))
        .count()
        + drifted.not_started.len();
    drop(drifted);
    drop(runtime);
    let simulator_peak_rss_mib = sim.peak_rss_mib();
    drop(sim);

    let peak = [load_peak, deploy_peak, replan_peak, drift_peak]
        .into_iter()
        .flatten()
        .reduce(f64::max);
    let ratio = deploy_seconds / secs(minimum).max(1e-9);
    let replan_ratio = replan_seconds / secs(replan_minimum).max(1e-9);
    let drift_ratio = drift_seconds / secs(replan_minimum).max(1e-9);
    Ok(DeployBench {
        concurrency,
        default_concurrency: options.concurrency.is_none(),
        tenants,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        cores,
        load_average,
        commands,
        operations: counts.operations,
        operations_by_class: counts
            .by_class
            .iter()
            .map(|(class, n)| (class.as_str().to_string(), *n))
            .collect(),
        reads: counts.reads,
        conditional_access_reads: counts.ca_reads,
        simulator_start_seconds,
        load_seconds,
        deploy_seconds,
        minimum_seconds: secs(minimum),
        slowest_tenant_minimum_seconds: secs(counts.slowest.minimum),
        slowest_tenant_conditional_access_reads: counts.slowest.ca_reads,
        slowest_tenant_conditional_access_writes: counts.slowest.ca_writes,
        writes_only_minimum_seconds: secs(counts.writes_only),
        client_pacing_minimum_seconds: secs(counts.client_pacing),
        app_limit_minimum_seconds: secs(app_limit_minimum),
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
        replan_minimum_seconds: secs(replan_minimum),
        replan_ratio,
        replan_throttled,
        tenants_with_changes,
        peak_rss_mib: peak,
        load_peak_rss_mib: load_peak,
        deploy_peak_rss_mib: deploy_peak,
        replan_peak_rss_mib: replan_peak,
        drift_seconds,
        drift_ratio,
        tenants_drifted,
        drift_peak_rss_mib: drift_peak,
        simulator_peak_rss_mib,
        deploy_cpu,
        replan_cpu,
        drift_cpu,
        checks: checks(
            tenants,
            Measured {
                ratio,
                plan_ratio: replan_ratio,
                drift_ratio,
                plan_cpu_ratio: replan_cpu
                    .map(|c| c.cpu_bound_seconds / secs(replan_minimum).max(1e-9)),
                drift_cpu_ratio: drift_cpu
                    .map(|c| c.cpu_bound_seconds / secs(replan_minimum).max(1e-9)),
                drift_peak_mib: drift_peak,
                tenants_drifted,
                // The memory target is the deploy's; plan --all keeps every tenant's
                // plan for its report, and its own peak is shown beside.
                peak_mib: deploy_peak,
                throttled,
                with_changes: tenants_with_changes,
            },
        ),
    })
}

#[cfg(test)]
mod tests;
