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
                work_dir: std::env::temp_dir()
                    .join(format!("tenantform-bench-sim-{}", std::process::id())),
                threads: jobs,
                today,
            };
            return run_sim(&options, json);
        }
    };
    let jobs = jobs.unwrap_or_else(super::compile::default_jobs);
    for n in tenants {
        let (dir, temporary) = match &keep {
            Some(dir) => (dir.join(format!("fleet-{n}")), false),
            None => (
                std::env::temp_dir().join(format!("tenantform-bench-{}-{n}", std::process::id())),
                true,
            ),
        };
        let _ = std::fs::remove_dir_all(&dir);
        let result = bench::compile_fleet(&dir, n, jobs, today);
        if temporary {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let r = result?;
        if json {
            out(&format!("{}\n", serde_json::to_string(&r)?));
        } else {
            out(&format!(
                "compile+validate {} tenants ({} compiled), {} operations, {} threads\n  load {:.2?}, compile {:.2?}: {:.0} validated operations/s\n  serde_json floor {:.2?} (compile is {:.1}x the floor)\n  peak RSS {} (after loading: {})\n",
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
            ));
        }
    }
    Ok(exit::OK)
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
