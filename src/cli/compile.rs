//! `tenantform compile`: write one validated, deterministic bundle per tenant.

use std::path::PathBuf;

use tenantform::compile::CompileOptions;

use super::output;
use super::{Format, ProjectArg, Selector, err, exit};

/// Arguments of `compile`.
#[derive(Debug, clap::Args)]
#[command(
    // Clap's own usage line lists the options given, so `compile -p DIR` without --out would
    // show `--project <DIR>` as if it were required; it defaults to the current directory.
    override_usage = "tenantform compile --out <OUT> [--project <DIR>] [OPTIONS]",
    after_help = "Each tenant's bundle is OUT/<tenant-id>.json: the operations in dependency order, each with\n\
method, path, body, match key, references and source location, plus a content hash. The same\n\
input gives byte-identical output. A tenant with errors gets no file (nothing partial is written);\n\
the others are still compiled, and the exit code is 1. A project with no tenants is an error\n\
(TF118, exit 1) unless --allow-empty makes it a warning."
)]
pub(crate) struct Args {
    #[command(flatten)]
    project: ProjectArg,
    /// Output directory for the bundles.
    #[arg(long, short = 'o', value_name = "OUT")]
    out: PathBuf,
    #[command(flatten)]
    selector: Selector,
    /// Every warning (an unknown property, an expired override) fails its tenant: no bundle.
    #[arg(long)]
    strict: bool,
    /// Worker threads (default: the machine's cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// A line per tenant even for large fleets.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Diagnostics format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// A project with no tenants is a warning (TF118), not an error.
    #[arg(long)]
    allow_empty: bool,
}

pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let loaded = match output::load(&args.project.project)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let selection = args.selector.selection();
    if let Err(code) =
        output::check_selection(&loaded.project, &selection, None, args.format, "compiled")
    {
        return Ok(code);
    }
    let options = CompileOptions {
        out_dir: Some(args.out.clone()),
        selection,
        strict: args.strict,
        jobs: args.jobs.unwrap_or_else(default_jobs),
        today,
        allow_empty: args.allow_empty,
    };
    let (summary, diagnostics) =
        output::compile_and_report(loaded, &options, args.format, args.verbose);
    if args.format == Format::Human {
        err(&format!(
            "compile: {} of {} tenants compiled into {} ({} operations); {}\n",
            summary.compiled,
            summary.compiled + summary.failed.len(),
            args.out.display(),
            summary.operations,
            tenantform::report::human::diagnostic_counts(&diagnostics)
        ));
    }
    let ok = summary.failed.is_empty() && !diagnostics.has_errors();
    Ok(if ok { exit::OK } else { exit::INVALID_INPUT })
}
