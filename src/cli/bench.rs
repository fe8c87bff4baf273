//! `tenantform bench`: benchmarks with figures on stdout.

use std::path::PathBuf;

use tenantform::bench;

use super::{exit, out};

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Compile and validate a generated fleet (init's three example profiles, cycled) and print
    /// operations/s, peak RSS and the serde_json floor. Build with --release for real figures.
    Compile {
        /// Fleet sizes to run, one after the other.
        #[arg(long, value_delimiter = ',', default_values_t = [1000usize])]
        tenants: Vec<usize>,
        /// Worker threads (default: the machine's cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Keep the generated project and bundles here instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start the simulator in-process (throttling off) and measure GET and validated POST
    /// requests/s with p50/p99 latency, then the memory of a fleet with the shipped baselines
    /// deployed. Build with --release for real figures.
    Sim {
        /// Tenants the GET and POST phases cycle over.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Measured seconds per GET/POST phase (each after a one-second warm-up); 0 skips them.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Keep-alive connections of the in-process load generator.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Tenants of the memory phase (0 skips it).
        #[arg(long, default_value_t = 10_000)]
        memory_tenants: usize,
        /// Runtime worker threads shared by the simulator and the load generator (default: the
        /// machine's cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deploy the shipped baselines to every tenant of a simulator started as a child process
    /// (throttling on) as `deploy --all` would, and compare the wall time with the theoretical
    /// minimum Graph's limits allow (the slowest tenant's paced requests, reads included); then
    /// re-plan as `plan --all` would, against its read-bound minimum, to check nothing is left to
    /// change. Prints the commands that reach the same figures, requests/s, retries, 429s,
    /// this process's peak RSS (the client's alone) and each run's CPU time, client and
    /// simulator (with the least wall time that CPU needs on this machine's cores). Build with
    /// --release.
    Deploy {
        /// Simulated tenants.
        #[arg(long, default_value_t = 1000)]
        tenants: usize,
        /// Tenants deployed and re-planned at once (default: deploy's own default, as a user
        /// who types no --concurrency gets).
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
        /// Make every throttling window F times shorter (simulator and client alike); 1 = Graph's
        /// real limits (Conditional Access 1 request/s per tenant: 20 s and more per tenant).
        #[arg(long, value_name = "F", default_value_t = 1.0)]
        time_scale: f64,
        /// Mean latency the simulator adds to each Graph request, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 20)]
        latency_ms: u64,
        /// Keep the generated project (with its journal) and the simulator's log in DIR instead
        /// of a temporary directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One hub synchronizing its staff into N spokes (a cross-tenant synchronization link per
    /// spoke): start the simulator as a child process (throttling on), make the tenant whose
    /// own baseline is slowest the hub, deploy every tenant and link as `deploy -p DIR --all
    /// --yes` would, and compare the wall time with the hub's throttle-bound minimum (its
    /// requests per throttle class, counted from its bundle and the run's journal, at Graph's
    /// published limits). Then checks convergence: a re-plan finds nothing to change, people
    /// who join the hub's group reach every spoke after one provisioning cycle, every job is
    /// healthy. Prints the ratio, 429s, the client's peak RSS and per-tenant request counts.
    /// Build with --release.
    Links {
        /// Spokes (one link from the hub to each).
        #[arg(long, default_value_t = 100)]
        spokes: usize,
        /// Make every throttling window F times shorter (simulator and client alike); 1 = Graph's
        /// real limits.
        #[arg(long, value_name = "F", default_value_t = 1.0)]
        time_scale: f64,
        /// Mean latency the simulator adds to each Graph request, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 20)]
        latency_ms: u64,
        /// Keep the generated project (with its journal) and the simulator's log in DIR (new or
        /// empty) instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What tenant locks and remote state cost: the same deploy of every tenant of a fresh
    /// simulator, with local state and with state in Azure Blob Storage (a fresh Azurite per
    /// deploy, started on loopback as a child process with its blobs in memory), in this process
    /// on this machine; prints both wall times, CPU per process, when the tenants' turns were
    /// ready, ended and released, the store's requests by kind, and the ratio (target 1.10). Rounds alternate which goes first. Build with --release; needs Azurite
    /// (npm install azurite).
    State {
        /// Simulated tenants.
        #[arg(long, default_value_t = 1000)]
        tenants: usize,
        /// Tenants at once (default: deploy's own default).
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
        /// Make every throttling window F times shorter (simulator and client alike).
        #[arg(long, value_name = "F", default_value_t = 1.0)]
        time_scale: f64,
        /// Mean latency the simulator adds to each Graph request, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 20)]
        latency_ms: u64,
        /// Pairs of deploys (local, Azure Blob), alternating which goes first.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Azurite's azurite-blob (default: on PATH, or in a node_modules/.bin here or above).
        #[arg(long, value_name = "PATH")]
        azurite: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The fleet dashboard at scale: write a project of N tenants (init's profiles cycled, in
    /// rings, some with skip overrides that expire) with R deploy runs of history (journals as
    /// deploy writes them, waves by ring, failures, one interrupted run) and a drift result, run
    /// `tenantform report` on it as a child process (default flags) and print its wall time
    /// and peak RSS, the overview's size (target under 2 MB), the site's size and pages, and the
    /// overview's first contentful paint in headless Chromium. Build with --release.
    Report {
        /// Tenants in the generated fleet.
        #[arg(long, default_value_t = 5000)]
        tenants: usize,
        /// Deploy runs of history.
        #[arg(long, default_value_t = 100)]
        runs: usize,
        /// Keep the generated project, drift.json and the site in DIR instead of a temporary
        /// directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Chromium to render the overview with (default: chromium, chromium-browser or
        /// google-chrome in /usr/bin or on PATH; without one, the render figure is skipped).
        #[arg(long, value_name = "PATH")]
        chromium: Option<PathBuf>,
        /// Times the overview is loaded in the browser (the first is cold).
        #[arg(long, value_name = "N", default_value_t = 3)]
        navigations: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |m| format!("{m:.1} MiB"))
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let (tenants, jobs, keep, json) = match args.command {
        BenchCommand::Compile {
            tenants,
            jobs,
            keep,
            json,
        } => (tenants, jobs, keep, json),
        BenchCommand::Sim {
            tenants,
            seconds,
            connections,
            memory_tenants,
            jobs,
            json,
        } => {
            let options = bench::sim::SimBenchOptions {
                tenants,
                seconds,
                connections,
                memory_tenants,
                work_dir: bench_work_dir("sim"),
                threads: jobs,
                today,
            };
            return run_sim(&options, json);
        }
        BenchCommand::Deploy {
            tenants,
            concurrency,
            time_scale,
            latency_ms,
            keep,
            json,
        } => {
            if tenants == 0 || tenants > 100_000 {
                super::err("error: --tenants must be between 1 and 100000\n");
                return Ok(exit::USAGE);
            }
            if !time_scale_in_range(time_scale) {
                return Ok(exit::USAGE);
            }
            let temporary = keep.is_none();
            let options = bench::deploy::DeployBenchOptions {
                tenants,
                concurrency,
                time_scale,
                latency_ms,
                simulator: std::env::current_exe()?,
                work_dir: keep.unwrap_or_else(|| bench_work_dir("deploy")),
                today,
            };
            return run_deploy(&options, temporary, json);
        }
        BenchCommand::Links {
            spokes,
            time_scale,
            latency_ms,
            keep,
            json,
        } => {
            if spokes == 0 || spokes > 10_000 {
                super::err("error: --spokes must be between 1 and 10000\n");
                return Ok(exit::USAGE);
            }
            if !time_scale_in_range(time_scale) {
                return Ok(exit::USAGE);
            }
            let temporary = keep.is_none();
            let options = bench::links::LinkBenchOptions {
                spokes,
                time_scale,
                latency_ms,
                simulator: std::env::current_exe()?,
                work_dir: keep.unwrap_or_else(|| bench_work_dir("links")),
                today,
            };
            let r = match in_work_dir(&options.work_dir, temporary, || {
                bench::links::run(&options, &|step| {
                    super::err(&format!("bench links: {step}\n"))
                })
            }) {
                Ok(r) => r?,
                Err(code) => return Ok(code),
            };
            if json {
                out(&format!("{}\n", serde_json::to_string(&r)?));
            } else {
                out(&bench::links::text(&r));
            }
            return Ok(if r.converged() {
                exit::OK
            } else {
                exit::DEPLOY_FAILED
            });
        }
        BenchCommand::State {
            tenants,
            concurrency,
            time_scale,
            latency_ms,
            rounds,
            azurite,
            json,
        } => {
            if tenants == 0 || tenants > 100_000 || rounds == 0 || rounds > 20 {
                super::err(
                    "error: --tenants must be between 1 and 100000, --rounds between 1 and 20\n",
                );
                return Ok(exit::USAGE);
            }
            if !time_scale_in_range(time_scale) {
                return Ok(exit::USAGE);
            }
            let options = bench::state::StateBenchOptions {
                tenants,
                concurrency,
                time_scale,
                latency_ms,
                rounds,
                simulator: std::env::current_exe()?,
                azurite,
                work_dir: bench_work_dir("state"),
                today,
            };
            let result = bench::state::run(&options, &|line| super::err(&format!("{line}\n")));
            let _ = std::fs::remove_dir_all(&options.work_dir);
            let figures = result?;
            if json {
                out(&format!("{}\n", serde_json::to_string(&figures)?));
            } else {
                out(&bench::state::text(&figures));
            }
            return Ok(if figures.all_ok {
                exit::OK
            } else {
                exit::DEPLOY_FAILED
            });
        }
        BenchCommand::Report {
            tenants,
            runs,
            keep,
            chromium,
            navigations,
            json,
        } => {
            if tenants == 0 || tenants > 100_000 || runs == 0 || runs > 10_000 {
                super::err(
                    "error: --tenants must be between 1 and 100000, --runs between 1 and 10000\n",
                );
                return Ok(exit::USAGE);
            }
            if navigations == 0 || navigations > 100 {
                super::err("error: --navigations must be between 1 and 100\n");
                return Ok(exit::USAGE);
            }
            let temporary = keep.is_none();
            let options = bench::report::ReportBenchOptions {
                tenants,
                runs,
                executable: std::env::current_exe()?,
                work_dir: keep.unwrap_or_else(|| bench_work_dir("report")),
                chromium,
                navigations,
            };
            return run_report(&options, temporary, json);
        }
    };
    let jobs_given = jobs;
    let jobs = jobs.unwrap_or_else(super::compile::default_jobs);
    // Temporary fleets are removed after the last run, not between runs: removing tens of
    // thousands of files slows the file creations of the next minutes on ext4 (it skips
    // recently freed inodes one by one), which would be measured as compile time.
    let mut temporaries = Vec::new();
    let mut result = Ok(());
    for n in tenants {
        let (dir, temporary) = match &keep {
            Some(dir) => (dir.join(format!("fleet-{n}")), false),
            None => (
                std::env::temp_dir().join(format!("tenantform-bench-{}-{n}", std::process::id())),
                true,
            ),
        };
        let _ = std::fs::remove_dir_all(&dir);
        if temporary {
            temporaries.push(dir.clone());
        }
        match bench::compile_fleet(&dir, n, jobs, today) {
            Ok(r) => print_compile(&r, jobs_given, temporary, json)?,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    for dir in temporaries {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result?;
    Ok(exit::OK)
}

/// One fleet's figures, with the `compile` command line that does the same work.
fn print_compile(
    r: &bench::CompileBench,
    jobs_given: Option<usize>,
    temporary: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        out(&format!("{}\n", serde_json::to_string(r)?));
        return Ok(());
    }
    let command = format!(
        "tenantform compile -p {} --out {} --strict{}",
        r.project_dir.display(),
        r.out_dir.display(),
        jobs_given.map(|j| format!(" -j {j}")).unwrap_or_default()
    );
    out(&format!(
        "compile+validate {} tenants ({} compiled), {} operations, {} threads\n  load {:.2?}, compile {:.2?}: {:.0} validated operations/s\n  serde_json floor {:.2?} (compile is {:.2}x the floor: serde_json serializing and writing the same bundles, one thread)\n  peak RSS {} (after loading: {})\n  the same work as: {command}{}\n",
        r.tenants,
        r.compiled,
        r.operations,
        r.jobs,
        r.load,
        r.compile,
        r.operations_per_second,
        r.serde_floor,
        r.ratio_to_floor,
        mib(r.peak_rss_mib),
        mib(r.load_peak_rss_mib),
        if temporary {
            "\n    (into a new OUT; this fleet was temporary: --keep DIR keeps the project)"
        } else {
            "\n    (into a new OUT)"
        },
    ));
    Ok(())
}

fn run_sim(options: &bench::sim::SimBenchOptions, json: bool) -> anyhow::Result<u8> {
    let _ = std::fs::remove_dir_all(&options.work_dir);
    let result = bench::sim::run(options, &|phase| {
        super::err(&format!("bench sim: {phase}\n"))
    });
    let _ = std::fs::remove_dir_all(&options.work_dir);
    let r = result?;
    if json {
        out(&format!("{}\n", serde_json::to_string(&r)?));
        return Ok(exit::OK);
    }
    let mut text = format!(
        "simulator benchmark: throttling off, simulator and load generator in one process on {} runtime threads\n",
        r.threads
    );
    for l in &r.load {
        let others: Vec<String> = l
            .statuses
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(status, n)| format!("{status}: {n}"))
            .collect();
        text.push_str(&format!(
            "  {}\n    {:.0} requests/s ({} ok in {:.1} s; {} connections, {} tenants)   p50 {:.2} ms   p99 {:.2} ms   max {:.1} ms\n    statuses {}{}\n",
            l.label,
            l.requests_per_second,
            l.ok,
            l.seconds,
            l.connections,
            l.tenants,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            others.join(", "),
            if l.transport_errors > 0 {
                format!(", {} connection errors", l.transport_errors)
            } else {
                String::new()
            },
        ));
    }
    if let Some(m) = &r.memory {
        text.push_str(&format!(
            "  memory: {} tenants, shipped baselines deployed over HTTP ({} operations, {} failed, {:.1} s, {:.0} ops/s; compiling the bundles took {:.1} s)\n    RSS with the simulator started {}, after deploying {}, peak {}\n",
            m.tenants,
            m.operations,
            m.failed,
            m.deploy_seconds,
            m.operations_per_second,
            m.compile_seconds,
            mib(m.rss_before_mib),
            mib(m.rss_after_mib),
            mib(m.peak_rss_mib),
        ));
        for sample in &m.failure_samples {
            text.push_str(&format!("    failure: {sample}\n"));
        }
    }
    out(&text);
    Ok(exit::OK)
}

/// Run a benchmark in `work_dir`: a `--keep` directory must be new or empty (else invalid
/// input, said on stderr); a temporary one is cleared before and removed after, whatever
/// the outcome.
fn in_work_dir<T>(
    work_dir: &std::path::Path,
    temporary: bool,
    run: impl FnOnce() -> T,
) -> Result<T, u8> {
    if !temporary && std::fs::read_dir(work_dir).is_ok_and(|mut entries| entries.next().is_some()) {
        super::err(&format!(
            "error: {} exists and is not empty; give --keep a new or empty directory\n",
            work_dir.display()
        ));
        return Err(exit::INVALID_INPUT);
    }
    if temporary {
        let _ = std::fs::remove_dir_all(work_dir);
    }
    let result = run();
    if temporary {
        let _ = std::fs::remove_dir_all(work_dir);
    }
    Ok(result)
}

fn run_deploy(
    options: &bench::deploy::DeployBenchOptions,
    temporary: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let r = match in_work_dir(&options.work_dir, temporary, || {
        bench::deploy::run(options, &|step| {
            super::err(&format!("bench deploy: {step}\n"))
        })
    }) {
        Ok(r) => r?,
        Err(code) => return Ok(code),
    };
    if json {
        out(&format!("{}\n", serde_json::to_string(&r)?));
        return Ok(exit::OK);
    }
    let classes: Vec<String> = r
        .operations_by_class
        .iter()
        .map(|(class, n)| format!("{class} {n}"))
        .collect();
    let mut text = format!(
        "deploy benchmark: {} tenants, {} at once ({}), against `tenantform sim` in a child process (throttling on, time scale {}, latency {} ms)\n  machine: {} cores shared by client and simulator{}\n",
        r.tenants,
        r.concurrency,
        if r.default_concurrency {
            "deploy's default"
        } else {
            "--concurrency"
        },
        r.time_scale,
        r.latency_ms,
        r.cores,
        r.load_average
            .map(|l| format!(", load average {l:.2} at the start"))
            .unwrap_or_default()
    );
    let rows: Vec<(&str, String)> = vec![
        ("tenants", r.tenants.to_string()),
        (
            "operations",
            format!("{} bundle writes ({})", r.operations, classes.join(", ")),
        ),
        (
            "wall time",
            format!(
                "{:.2} s (deploy only; loading and validating took {:.1} s before it)",
                r.deploy_seconds, r.load_seconds
            ),
        ),
        (
            "theoretical minimum",
            format!(
                "{:.2} s: the slowest tenant's paced requests, reads included, at Graph's limits ({} Conditional Access reads + {} writes; app-wide limit {:.2} s)",
                r.minimum_seconds,
                r.slowest_tenant_conditional_access_reads,
                r.slowest_tenant_conditional_access_writes,
                r.app_limit_minimum_seconds
            ),
        ),
        (
            "",
            format!(
                "with the client's own pacing (5 % below each limit; one-per-second sends 30 ms apart) {:.2} s; its writes alone {:.2} s",
                r.client_pacing_minimum_seconds, r.writes_only_minimum_seconds
            ),
        ),
        ("wall / minimum", format!("{:.3}", r.ratio)),
        (
            "requests",
            format!(
                "{} sent ({} $batch calls), {:.0} requests/s",
                r.requests, r.batches, r.requests_per_second
            ),
        ),
        ("retries", r.retries.to_string()),
        ("429s (throttled)", r.throttled.to_string()),
        ("tokens", r.tokens.to_string()),
        (
            "tenants failed",
            format!(
                "{} (not started: {})",
                r.tenants_failed, r.tenants_not_started
            ),
        ),
        (
            "re-plan (plan --all)",
            format!(
                "{:.2} s (loading and validating included), read-bound minimum {:.2} s, ratio {:.3}; {} tenants with changes left, {} 429s",
                r.replan_seconds,
                r.replan_minimum_seconds,
                r.replan_ratio,
                r.tenants_with_changes,
                r.replan_throttled
            ),
        ),
        (
            "drift (drift --all)",
            format!(
                "{:.2} s (loading included), read-bound minimum {:.2} s, ratio {:.3}; {} tenants drifted or unread",
                r.drift_seconds, r.replan_minimum_seconds, r.drift_ratio, r.tenants_drifted
            ),
        ),
        ("CPU (client + sim)", cpu_row(&r)),
        (
            "peak RSS (client)",
            format!(
                "{} (load+validate {}, deploy {}, re-plan {}, drift {})",
                mib(r.peak_rss_mib),
                mib(r.load_peak_rss_mib),
                mib(r.deploy_peak_rss_mib),
                mib(r.replan_peak_rss_mib),
                mib(r.drift_peak_rss_mib)
            ),
        ),
        ("peak RSS (simulator)", mib(r.simulator_peak_rss_mib)),
    ];
    for (label, value) in rows {
        text.push_str(&format!("  {label:<22} {value}\n"));
    }
    text.push_str("  the same figures by hand (the project is removed unless --keep):\n");
    for command in &r.commands {
        text.push_str(&format!("    {command}\n"));
    }
    for sample in &r.failure_samples {
        text.push_str(&format!("  failure: {sample}\n"));
    }
    text.push_str("  targets:\n");
    for check in &r.checks {
        text.push_str(&format!(
            "    [{}] {}: {}\n",
            if check.passed { "pass" } else { "FAIL" },
            check.name,
            check.measured
        ));
    }
    out(&text);
    Ok(exit::OK)
}

/// Each run's CPU time, client and simulator, and the least wall time it takes on this
/// machine's cores: a run whose CPU needs more than its minimum is bound by the machine.
fn cpu_row(r: &bench::deploy::DeployBench) -> String {
    let runs = [
        ("deploy", r.deploy_cpu),
        ("re-plan", r.replan_cpu),
        ("drift", r.drift_cpu),
    ];
    let parts: Vec<String> = runs
        .iter()
        .filter_map(|(name, cpu)| {
            cpu.map(|c| {
                format!(
                    "{name} {:.2} + {:.2} s (at least {:.2} s on {} cores)",
                    c.client_seconds, c.simulator_seconds, c.cpu_bound_seconds, r.cores
                )
            })
        })
        .collect();
    if parts.is_empty() {
        "n/a (read from /proc, Linux only)".to_string()
    } else {
        parts.join(", ")
    }
}

fn run_report(
    options: &bench::report::ReportBenchOptions,
    temporary: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let r = match in_work_dir(&options.work_dir, temporary, || {
        bench::report::run(options, &|step| {
            super::err(&format!("bench report: {step}\n"))
        })
    }) {
        Ok(r) => r?,
        Err(code) => return Ok(code),
    };
    if json {
        out(&format!("{}\n", serde_json::to_string(&r)?));
        return Ok(exit::OK);
    }
    out(&report_text(&r, temporary));
    Ok(exit::OK)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.0} ms"))
}

/// The report benchmark's figures, as printed.
fn report_text(r: &bench::report::ReportBench, temporary: bool) -> String {
    let h = &r.history;
    let mut text = format!(
        "report benchmark: {} tenants, {} deploy runs of history\n  machine: {} cores{}\n",
        r.tenants,
        r.runs,
        r.cores,
        r.load_average
            .map(|l| format!(", load average {l:.2} when the report started"))
            .unwrap_or_default()
    );
    let mut rows: Vec<(&str, String)> = vec![
        (
            "history (setup)",
            format!(
                "{} tenant-runs ({} failed), {} journal records, {:.1} MB of journal; {} skip overrides ({} expired); drift results: {} tenants drifted; {} tenants' last run failed or unfinished; written in {:.1} s",
                h.tenant_runs,
                h.failed_tenant_runs,
                h.records,
                h.journal_bytes as f64 / 1e6,
                h.overrides,
                h.expired_overrides,
                h.drifted_tenants,
                h.failed_last,
                h.seconds
            ),
        ),
        (
            "report wall time",
            format!(
                "{:.2} s (CPU: {:.2} s user, {:.2} s system)",
                r.report.seconds, r.report.user_seconds, r.report.system_seconds
            ),
        ),
        ("report peak RSS", mib(r.report.peak_rss_mib)),
        (
            "report said",
            r.report
                .stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .to_string(),
        ),
        (
            "overview",
            format!(
                "index.html {} bytes ({:.2} MB); {} overview pages, the largest {} bytes",
                r.site.overview_bytes,
                r.site.overview_bytes as f64 / 1e6,
                r.site.overview_pages,
                r.site.largest_overview_page_bytes
            ),
        ),
        (
            "site",
            format!(
                "{} files, {:.1} MB ({} tenant pages)",
                r.site.site_files,
                r.site.site_bytes as f64 / 1e6,
                r.site.tenant_pages
            ),
        ),
    ];
    match (&r.browser, &r.browser_skipped) {
        (Some(b), _) => {
            rows.push(("browser", b.browser.clone()));
            for (i, n) in b.navigations.iter().enumerate() {
                rows.push((
                    if i == 0 {
                        "first render (cold)"
                    } else {
                        "first render (again)"
                    },
                    format!(
                        "first contentful paint {}, largest contentful paint {}, DOMContentLoaded {}, load {} (from navigation start); {:.0} ms to load as this process saw it; {} table rows",
                        ms(n.first_contentful_paint_ms),
                        ms(n.largest_contentful_paint_ms),
                        ms(n.dom_content_loaded_ms),
                        ms(n.load_ms),
                        n.wall_to_load_ms,
                        n.rows
                    ),
                ));
            }
            rows.push((
                "console errors",
                if b.console_errors.is_empty() {
                    "none".to_string()
                } else {
                    b.console_errors.join("; ")
                },
            ));
        }
        (None, Some(why)) => {
            rows.push(("first render", format!("SKIPPED, NOT MEASURED: {why}")));
        }
        (None, None) => {}
    }
    for (label, value) in rows {
        text.push_str(&format!("  {label:<22} {value}\n"));
    }
    text.push_str(&format!(
        "  the same figures by hand{}:\n",
        if temporary {
            " (this run's directory was temporary: the first command keeps one)"
        } else {
            ""
        }
    ));
    for command in &r.commands {
        text.push_str(&format!("    {command}\n"));
    }
    text.push_str("  targets:\n");
    for check in &r.checks {
        text.push_str(&format!(
            "    [{}] {}: {}\n",
            if check.passed { "pass" } else { "FAIL" },
            check.name,
            check.measured
        ));
    }
    if r.browser.is_none() {
        text.push_str(
            "\n!!! the overview's time to first render was NOT measured: no headless Chromium !!!\n",
        );
    }
    text
}

/// `--time-scale` is between 1 and 1000; otherwise says so.
fn time_scale_in_range(time_scale: f64) -> bool {
    let ok = (1.0..=1000.0).contains(&time_scale);
    if !ok {
        super::err("error: --time-scale must be between 1 and 1000\n");
    }
    ok
}

/// A benchmark's temporary work directory, one per process.
fn bench_work_dir(bench: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tenantform-bench-{bench}-{}", std::process::id()))
}
