//! `tenantform bench state`: what tenant locks and remote state cost a fleet deploy. The same
//! deploy (every tenant of a fresh simulator, deploy's default admission) runs with local state
//! (lock files in `.tenantform/locks/`) and with state in Azure Blob Storage (Azurite on
//! loopback: a lock blob per tenant, its identity map read before and written after, the
//! journal published in segments), in the same process on the same machine, and the two wall
//! times are compared. Rounds alternate the order (local first, then Azure first), so a machine
//! that slows down over the run does not favour one. Azurite keeps its blobs in memory
//! (`--inMemoryPersistence`), as a CI job's throwaway emulator does; every request tenantform
//! makes still goes to it over HTTP, signed and conditional, and is counted and timed by kind.
//!
//! Input: [`StateBenchOptions`]. Output: a [`StateBench`] (the CLI prints it). Owns the
//! children it starts (a simulator per deploy, an Azurite per Azure Blob deploy), killed on
//! every path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::BenchError;
use super::azurite::{self, AzuriteChild};
use super::deploy::DeployBenchOptions;
use super::deploy::child::SimChild;
use crate::compile::Selection;
use crate::deploy::{self, DeployOptions, Fleet, Run, RunJournal};
use crate::graph::client::{GraphClient, RealTiming};
use crate::graph::pacing::Limits;
use crate::graph::retry::RetryPolicy;
use crate::journal::Entry;
use crate::report::Silent;
use crate::sim::{DEFAULT_CLIENT_SECRET, FLEET_SECRET_ENV};
use crate::state::{self, Holder, RunState, layout};

/// Ratio of the deploy with Azure Blob state to the same deploy with local state that issue 14
/// accepts (1,000 tenants).
pub const RATIO_TARGET: f64 = 1.10;

/// The container the benchmark's Azurite holds state in.
const CONTAINER: &str = "tfstate";

/// What to run.
#[derive(Debug, Clone)]
pub struct StateBenchOptions {
    /// Simulated tenants (each deploy gets a fresh simulator with this many).
    pub tenants: usize,
    /// Tenants at once; `None`: deploy's default.
    pub concurrency: Option<usize>,
    /// Every throttling window this many times shorter (simulator and client alike).
    pub time_scale: f64,
    /// Mean latency the simulator adds to each Graph request, in milliseconds.
    pub latency_ms: u64,
    /// Pairs of deploys (local and Azure Blob), alternating which goes first.
    pub rounds: usize,
    /// The executable whose `sim` subcommand is started (the CLI passes its own).
    pub simulator: PathBuf,
    /// Azurite's `azurite-blob` (`None`: on PATH or in a node_modules/.bin).
    pub azurite: Option<PathBuf>,
    /// Where the projects, journals and Azurite's data go (removed by the caller).
    pub work_dir: PathBuf,
    /// Today, for override expiry.
    pub today: jiff::civil::Date,
}

/// The state backend of one deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// `.tenantform/` with lock files.
    Local,
    /// Azure Blob Storage (Azurite).
    AzureBlob,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::AzureBlob => "azure-blob",
        }
    }
}

/// One deploy's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StateRun {
    /// The round (from 1).
    pub round: usize,
    /// The backend.
    pub backend: Backend,
    /// Wall time: opening the run's state, the deploy (locks, fetches, publishing included)
    /// and its end (the rest of the journal published), seconds.
    pub seconds: f64,
    /// Tenants that failed.
    pub tenants_failed: usize,
    /// Tenants not started.
    pub tenants_not_started: usize,
    /// Why the run stopped, if it did.
    pub stopped: Option<String>,
    /// Locks left in the store after the run (0 when every one was released).
    pub locks_left: usize,
    /// Journal segments in the store (Azure Blob only).
    pub journal_segments: usize,
    /// The store's journal is byte for byte the local one (always true with local state).
    pub journal_published_whole: bool,
    /// The store's requests by kind (Azure Blob only; the checks after the run not counted).
    pub store_ops: Option<state::stats::StatsSnapshot>,
    /// CPU time each process spent in the timed part of the deploy.
    pub cpu: CpuSeconds,
    /// When the tenants' turns passed their lock, fetch, publish and release.
    pub turns: state::timeline::TimelineSummary,
}

/// CPU time (user and system), seconds, spent by each process while a deploy was timed: what
/// the deploy cost the machine's cores, whatever else ran beside it (`None`: not on Linux).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CpuSeconds {
    /// This process: the deploy itself (Graph client, journal, state store client).
    pub client: Option<f64>,
    /// The simulator child.
    pub simulator: Option<f64>,
    /// Azurite (Azure Blob deploys only).
    pub azurite: Option<f64>,
}

/// CPU seconds of `pid` (or `self`) now; see [`super::cpu_seconds`].
fn cpu_now(pid: Option<String>) -> Option<f64> {
    super::cpu_seconds(&pid?)
}

fn cpu_since(before: Option<f64>, now: Option<f64>) -> Option<f64> {
    Some(now? - before?)
}

/// The benchmark's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StateBench {
    /// Tenants per deploy.
    pub tenants: usize,
    /// Time scale.
    pub time_scale: f64,
    /// Simulator latency, ms.
    pub latency_ms: u64,
    /// Cores of this machine (client, simulator and Azurite share them).
    pub cores: usize,
    /// One-minute load average when the benchmark started (Linux).
    pub load_average: Option<f64>,
    /// Every deploy, in the order run.
    pub runs: Vec<StateRun>,
    /// Median wall time with local state, seconds.
    pub local_seconds: f64,
    /// Median wall time with Azure Blob state, seconds.
    pub azure_blob_seconds: f64,
    /// `azure_blob_seconds / local_seconds`.
    pub ratio: f64,
    /// [`RATIO_TARGET`].
    pub target: f64,
    /// Every deploy converged (no failed or unstarted tenant, no lock left, whole journals).
    pub all_ok: bool,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Run the benchmark. `progress` receives a line per step.
pub fn run(options: &StateBenchOptions, progress: &dyn Fn(&str)) -> Result<StateBench, BenchError> {
    if options.tenants == 0 || options.rounds == 0 {
        return Err(BenchError::Deploy(
            "the benchmark needs at least one tenant and one round".into(),
        ));
    }
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok());
    let dir = &options.work_dir;
    std::fs::create_dir_all(dir).map_err(super::io(dir))?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let program = azurite::find(options.azurite.as_deref(), &cwd).ok_or_else(|| {
        BenchError::Deploy(
            "Azurite not found: install it (npm install azurite) and put azurite-blob on PATH, or pass --azurite PATH".into(),
        )
    })?;
    progress(&format!(
        "Azurite: {} (a fresh one on loopback for each Azure Blob deploy)",
        program.display()
    ));
    let mut runs = Vec::new();
    for round in 1..=options.rounds {
        let order = if round % 2 == 1 {
            [Backend::Local, Backend::AzureBlob]
        } else {
            [Backend::AzureBlob, Backend::Local]
        };
        for backend in order {
            let run = deploy_once(options, backend, round, &program, progress)?;
            progress(&format!(
                "round {round}, {} state: {:.2} s ({} failed, {} not started, {} locks left)",
                backend.name(),
                run.seconds,
                run.tenants_failed,
                run.tenants_not_started,
                run.locks_left
            ));
            runs.push(run);
        }
    }
    let seconds = |b: Backend| {
        median(
            runs.iter()
                .filter(|r| r.backend == b)
                .map(|r| r.seconds)
                .collect(),
        )
    };
    let (local_seconds, azure_blob_seconds) =
        (seconds(Backend::Local), seconds(Backend::AzureBlob));
    let all_ok = runs.iter().all(|r| {
        r.tenants_failed == 0
            && r.tenants_not_started == 0
            && r.stopped.is_none()
            && r.locks_left == 0
            && r.journal_published_whole
    });
    Ok(StateBench {
        tenants: options.tenants,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_average,
        runs,
        local_seconds,
        azure_blob_seconds,
        ratio: azure_blob_seconds / local_seconds.max(1e-9),
        target: RATIO_TARGET,
        all_ok,
    })
}

/// One deploy of every tenant of a fresh simulator, with state in `backend`.
fn deploy_once(
    options: &StateBenchOptions,
    backend: Backend,
    round: usize,
    azurite_program: &std::path::Path,
    progress: &dyn Fn(&str),
) -> Result<StateRun, BenchError> {
    let dir = options
        .work_dir
        .join(format!("round-{round}-{}", backend.name()));
    std::fs::create_dir_all(&dir).map_err(super::io(&dir))?;
    let project_dir = dir.join("project");
    let fleet_out = dir.join("sim-fleet.toml");
    let sim_options = DeployBenchOptions {
        tenants: options.tenants,
        concurrency: options.concurrency,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        simulator: options.simulator.clone(),
        work_dir: dir.clone(),
        today: options.today,
    };
    progress(&format!(
        "round {round}, {} state: a fresh simulator with {} tenants",
        backend.name(),
        options.tenants
    ));
    let sim = SimChild::start(&sim_options, &fleet_out, &dir.join("sim-stderr.log"))?;
    let toml = std::fs::read_to_string(&fleet_out).map_err(super::io(&fleet_out))?;
    super::write_project_with_tenants(&project_dir, &toml)?;
    let prefix = format!("round-{round}");
    // Each Azure Blob deploy gets an empty store, as each local one gets a fresh project: an
    // Azurite holding earlier rounds' blobs answers every request more slowly (it looks blobs
    // up by scanning its in-memory table), which real storage does not.
    let azurite = match backend {
        Backend::Local => None,
        Backend::AzureBlob => Some(AzuriteChild::start_in_memory(
            azurite_program,
            &dir.join("azurite"),
            CONTAINER,
        )?),
    };
    if let Some(azurite) = &azurite {
        let path = project_dir.join("tenantform.toml");
        let mut text = std::fs::read_to_string(&path).map_err(super::io(&path))?;
        text.push_str(&format!(
            "\n[state]\nbackend = \"azure-blob\"\naccount = \"{}\"\ncontainer = \"{CONTAINER}\"\nprefix = \"{prefix}\"\nendpoint = \"{}\"\n",
            azurite::ACCOUNT,
            azurite.endpoint()
        ));
        std::fs::write(&path, text).map_err(super::io(&path))?;
    }
    let env: deploy::EnvLookup = Box::new(|name: &str| {
        (name == FLEET_SECRET_ENV).then(|| DEFAULT_CLIENT_SECRET.to_string())
    });
    let (fleet, diagnostics) = Fleet::load(&project_dir, options.today, env)
        .map_err(|e| BenchError::Load(e.to_string()))?;
    let summary = fleet.validate(&Selection::All, diagnostics);
    if !summary.ok() {
        return Err(BenchError::Load(format!(
            "{} tenants do not compile",
            summary.failed.len()
        )));
    }
    drop(summary);
    let settings = fleet.state_settings();
    let key_env =
        |name: &str| (name == "AZURE_STORAGE_ACCOUNT_KEY").then(|| azurite::KEY.to_string());
    let store = Arc::new(
        state::open(&settings, &project_dir, &key_env)
            .map_err(|e| BenchError::Deploy(e.to_string()))?,
    );
    let fleet = Arc::new(fleet);
    let targets = fleet.targets(&Selection::All);
    let limits = Limits::default().time_scaled(options.time_scale);
    let client = Arc::new(
        GraphClient::new(
            limits,
            RetryPolicy::default().time_scaled(options.time_scale),
            Arc::new(RealTiming::new(u64::from(std::process::id()))),
        )
        .map_err(|e| BenchError::Deploy(e.to_string()))?,
    );
    // The runtime `tenantform deploy` runs on.
    let runtime = deploy::runtime().map_err(|e| BenchError::Deploy(format!("runtime: {e}")))?;
    let run_id = deploy::new_run_id();
    let journal_path = deploy::run_dir(&project_dir, &run_id).join("journal.jsonl");

    let sim_pid = Some(sim.child.id().to_string());
    let azurite_pid = azurite
        .as_ref()
        .and_then(AzuriteChild::pid)
        .map(|p| p.to_string());
    let cpu_before = (
        cpu_now(Some("self".into())),
        cpu_now(sim_pid.clone()),
        cpu_now(azurite_pid.clone()),
    );
    let started = Instant::now();
    let run_state = runtime
        .block_on(RunState::open(
            store.clone(),
            &project_dir,
            Holder::this_process("deploy", &run_id),
            Duration::from_secs(settings.lease_seconds),
            Duration::from_secs(60),
        ))
        .map_err(|e| BenchError::Deploy(e.to_string()))?;
    let journal = Arc::new(
        RunJournal::open(&journal_path).map_err(|e| BenchError::Deploy(format!("journal: {e}")))?,
    );
    journal.append(Entry::RunStarted {
        tenants: targets.iter().map(|t| t.id.clone()).collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    let timed_state = run_state.clone();
    let run = Arc::new(Run {
        fleet,
        client,
        journal: Some(journal),
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: DeployOptions {
            concurrency: options.concurrency,
            before: Some(deploy::rollback::before_dir(&project_dir, &run_id)),
            state: Some(run_state),
            ..DeployOptions::default()
        },
    });
    let summary = runtime.block_on(deploy::run(run, targets, Some(run_id.clone())));
    let seconds = started.elapsed().as_secs_f64();
    let cpu = CpuSeconds {
        client: cpu_since(cpu_before.0, cpu_now(Some("self".into()))),
        simulator: cpu_since(cpu_before.1, cpu_now(sim_pid)),
        azurite: cpu_since(cpu_before.2, cpu_now(azurite_pid)),
    };
    let store_ops = store.stats();
    let turns = state::timeline::summarize(&timed_state.timelines());
    drop(timed_state);
    drop(sim);

    let locks_left = runtime
        .block_on(store.list(layout::LOCKS))
        .map_err(|e| BenchError::Deploy(e.to_string()))?
        .len();
    let (journal_segments, journal_published_whole) = match backend {
        Backend::Local => (0, true),
        Backend::AzureBlob => {
            let segments = runtime
                .block_on(store.list(&layout::journal_segments(&run_id)))
                .map_err(|e| BenchError::Deploy(e.to_string()))?
                .len();
            let published = runtime
                .block_on(state::run::read_published_journal(&store, &run_id))
                .map_err(|e| BenchError::Deploy(e.to_string()))?;
            let local = std::fs::read(&journal_path).map_err(super::io(&journal_path))?;
            (segments, published.as_deref() == Some(local.as_slice()))
        }
    };
    Ok(StateRun {
        round,
        backend,
        seconds,
        tenants_failed: summary.failed().count(),
        tenants_not_started: summary.not_started.len(),
        stopped: summary.stopped.clone(),
        locks_left,
        journal_segments,
        journal_published_whole,
        store_ops,
        cpu,
        turns,
    })
}

/// The report as text for people.
pub fn text(bench: &StateBench) -> String {
    let mut out = format!(
        "bench state: {} tenants per deploy, time scale {}, latency {} ms, {} cores{}\n",
        bench.tenants,
        bench.time_scale,
        bench.latency_ms,
        bench.cores,
        bench.load_average.map_or(String::new(), |l| format!(
            ", load average {l:.2} at the start"
        ))
    );
    for r in &bench.runs {
        out.push_str(&format!(
            "  round {} {:<10} {:>8.2} s  failed {}  not started {}  locks left {}  journal segments {}{}\n",
            r.round,
            r.backend.name(),
            r.seconds,
            r.tenants_failed,
            r.tenants_not_started,
            r.locks_left,
            r.journal_segments,
            if r.journal_published_whole { "" } else { "  JOURNAL NOT PUBLISHED WHOLE" }
        ));
        if let Some(s) = &r.stopped {
            out.push_str(&format!("    stopped: {s}\n"));
        }
        out.push_str(&cpu_text(&r.cpu));
        out.push_str(&turns_text(&r.turns));
        if let Some(stats) = &r.store_ops {
            out.push_str(&store_ops_text(stats, bench.tenants));
        }
    }
    out.push_str(&format!(
        "local state {:.2} s, Azure Blob state {:.2} s (medians): ratio {:.3} (target <= {:.2}: {})\n",
        bench.local_seconds,
        bench.azure_blob_seconds,
        bench.ratio,
        bench.target,
        if bench.ratio <= bench.target { "met" } else { "NOT met" }
    ));
    if !bench.all_ok {
        out.push_str("some deploy did not converge cleanly (see above)\n");
    }
    out
}

/// The CPU line of a deploy: `    cpu: client 12.3 s, simulator 4.5 s, Azurite 6.7 s`.
fn cpu_text(cpu: &CpuSeconds) -> String {
    let parts: Vec<String> = [
        ("client", cpu.client),
        ("simulator", cpu.simulator),
        ("Azurite", cpu.azurite),
    ]
    .into_iter()
    .filter_map(|(name, s)| s.map(|s| format!("{name} {s:.1} s")))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("    cpu: {}\n", parts.join(", "))
    }
}

/// When the tenants' turns passed the run state's steps: the last one ready to start its
/// Graph work, the last whose Graph work ended, the last lock released, and the timeline of
/// the tenant released last.
fn turns_text(turns: &state::timeline::TimelineSummary) -> String {
    if turns.tenants == 0 {
        return String::new();
    }
    let mut out = format!(
        "    turns: last ready {:.2} s (longest start {:.2} s), last Graph work ended {:.2} s, last lock released {:.2} s (longest end {:.2} s)\n",
        turns.last_ready,
        turns.longest_start,
        turns.last_ending,
        turns.last_released,
        turns.longest_end
    );
    if let Some((tenant, t)) = &turns.slowest {
        let at = |s: Option<f64>| s.map_or_else(|| "-".to_string(), |s| format!("{s:.2}"));
        out.push_str(&format!(
            "    released last: {tenant}: asked {}, locked {}, ready {}, Graph work ended {}, published {}, released {} s\n",
            at(t.asked),
            at(t.locked),
            at(t.ready),
            at(t.ending),
            at(t.published),
            at(t.released)
        ));
    }
    out
}

/// A run's store requests by kind: count, per tenant, mean and longest time, retries.
fn store_ops_text(stats: &state::stats::StatsSnapshot, tenants: usize) -> String {
    let mut out = format!(
        "    store requests {} ({:.2} per tenant)\n",
        stats.requests(),
        stats.requests() as f64 / tenants.max(1) as f64
    );
    for op in &stats.ops {
        out.push_str(&format!(
            "      {:<14} {:>6}  {:>5.2}/tenant  mean {:>7.1} ms  max {:>7.1} ms  retries {}\n",
            op.op.name(),
            op.count,
            op.count as f64 / tenants.max(1) as f64,
            op.total_seconds * 1e3 / op.count.max(1) as f64,
            op.max_seconds * 1e3,
            op.retries
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_requests_are_reported_per_kind_and_per_tenant() {
        let stats = state::stats::StoreStats::default();
        for _ in 0..4 {
            stats.record(
                state::stats::StoreOp::LockCreate,
                Duration::from_millis(10),
                0,
            );
        }
        stats.record(
            state::stats::StoreOp::JournalWrite,
            Duration::from_millis(30),
            1,
        );
        let text = store_ops_text(&stats.snapshot(), 2);
        assert_eq!(
            text,
            "    store requests 5 (2.50 per tenant)\n      lock-create         4   2.00/tenant  mean    10.0 ms  max    10.0 ms  retries 0\n      journal-write       1   0.50/tenant  mean    30.0 ms  max    30.0 ms  retries 1\n"
        );
    }

    #[test]
    fn turns_are_reported_with_the_tenant_released_last() {
        use state::timeline::{TenantTimeline, summarize};
        assert_eq!(turns_text(&summarize(&[])), "");
        let line = TenantTimeline {
            asked: Some(0.0),
            locked: Some(0.25),
            ready: Some(0.5),
            ending: Some(20.0),
            published: Some(20.75),
            released: Some(21.0),
        };
        let unreleased = TenantTimeline {
            released: None,
            ..line
        };
        let text = turns_text(&summarize(&[
            ("t1".into(), line),
            ("t2".into(), unreleased),
        ]));
        assert_eq!(
            text,
            "    turns: last ready 0.50 s (longest start 0.50 s), last Graph work ended 20.00 s, last lock released 21.00 s (longest end 1.00 s)\n    released last: t1: asked 0.00, locked 0.25, ready 0.50, Graph work ended 20.00, published 20.75, released 21.00 s\n"
        );
    }

    #[test]
    fn cpu_times_are_reported_for_the_processes_measured() {
        let cpu = CpuSeconds {
            client: Some(12.34),
            simulator: Some(4.5),
            azurite: None,
        };
        assert_eq!(cpu_text(&cpu), "    cpu: client 12.3 s, simulator 4.5 s\n");
        assert_eq!(cpu_text(&CpuSeconds::default()), "");
        // This process's CPU time goes up while it works; a process that does not exist has
        // none.
        let before = cpu_now(Some("self".into())).expect("this process's CPU time");
        let started = Instant::now();
        let mut spin = 0u64;
        while cpu_now(Some("self".into())).is_some_and(|now| now <= before)
            && started.elapsed() < Duration::from_secs(10)
        {
            spin = std::hint::black_box(spin.wrapping_mul(31).wrapping_add(7));
        }
        assert!(
            cpu_now(Some("self".into())).is_some_and(|now| now > before),
            "CPU time did not move in 10 s of work"
        );
        assert_eq!(cpu_now(Some("0".into())), None);
        assert_eq!(cpu_since(Some(1.0), None), None);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn without_azurite_the_benchmark_says_how_to_get_it() {
        let dir = tempfile::tempdir().expect("dir");
        let options = StateBenchOptions {
            tenants: 1,
            concurrency: None,
            time_scale: 1.0,
            latency_ms: 0,
            rounds: 1,
            simulator: PathBuf::from("tenantform"),
            azurite: Some(dir.path().join("no-such-azurite")),
            work_dir: dir.path().join("work"),
            today: jiff::civil::date(2026, 11, 26),
        };
        let e = run(&options, &|_| {}).expect_err("no azurite");
        assert!(e.to_string().contains("cannot start"), "{e}");
    }
}
