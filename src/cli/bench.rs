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
}

fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |m| format!("{m:.1} MiB"))
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let BenchCommand::Compile {
        tenants,
        jobs,
        keep,
        json,
    } = args.command;
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
