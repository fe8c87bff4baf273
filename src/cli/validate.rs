//! `tenantform validate`: compile every selected tenant in memory and report every problem.

use tenantform::compile::CompileOptions;

use super::output;
use super::{Format, ProjectArg, Selector, err, exit};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit code 1 when any error is found (warnings too with --strict), a project with no\n\
tenants included (TF118; a warning with --allow-empty); 0 otherwise.\n\
Every diagnostic has a stable code (TF101...TF505), the file:line:col that caused it and, for\n\
schema problems, the JSON pointer in the rendered body. SARIF output feeds GitHub code scanning."
)]
pub(crate) struct Args {
    #[command(flatten)]
    project: ProjectArg,
    #[command(flatten)]
    selector: Selector,
    /// Output format for diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Unknown properties (and every other warning) are errors.
    #[arg(long)]
    strict: bool,
    /// Worker threads (default: the machine's cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// A project with no tenants is a warning (TF118), not an error.
    #[arg(long)]
    allow_empty: bool,
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let loaded = match output::load(&args.project.project)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let selection = args.selector.selection();
    if let Err(code) =
        output::check_selection(&loaded.project, &selection, None, args.format, "validated")
    {
        return Ok(code);
    }
    let options = CompileOptions {
        out_dir: None,
        selection,
        strict: args.strict,
        jobs: args.jobs.unwrap_or_else(super::compile::default_jobs),
        today,
        allow_empty: args.allow_empty,
    };
    let (summary, diagnostics) = output::compile_and_report(loaded, &options, args.format, false);
    let ok = !diagnostics.has_errors() && summary.failed.is_empty();
    if args.format == Format::Human {
        err(&format!(
            "validate: {} tenant(s), {} operations: {}\n",
            summary.compiled + summary.failed.len(),
            summary.operations,
            tenantform::report::human::diagnostic_counts(&diagnostics)
        ));
    }
    Ok(if ok { exit::OK } else { exit::INVALID_INPUT })
}
