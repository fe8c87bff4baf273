//! `tenantform compile`: write one validated, deterministic bundle per tenant.

use std::path::PathBuf;

use tenantform::compile::CompileOptions;
use tenantform::compile::tcm::{self, TcmQuotas};

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
input gives byte-identical output, and a bundle whose file holds those bytes already is not\n\
written again. A tenant with errors gets no file (nothing partial is written);\n\
the others are still compiled, and the exit code is 1. A project with no tenants is an error\n\
(TF118, exit 1) unless --allow-empty makes it a warning.\n\n\
--target tcm writes OUT/<tenant-id>.tcm.json instead: the tenant's baselines as Microsoft Graph\n\
Tenant Configuration Management monitors (one per baseline layer; the bodies of\n\
POST /beta/admin/configurationManagement/configurationMonitors), resources matched by display\n\
name, references and role ids written as names. Resources of kinds tenantform does not map are\n\
listed under not_monitored with the reason, and settings with no Microsoft365DSC property\n\
under properties_not_monitored. A tenant over TCM's quotas (30 monitors; 800\n\
monitored resources a day = resources x 4 runs) is an error and gets no file. Updating a\n\
monitor's baseline deletes its results and drifts."
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
    /// What to write: Graph request bundles, or TCM configuration monitors.
    #[arg(long, value_enum, default_value = "bundle")]
    target: Target,
}

/// What `compile` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// One request bundle per tenant (`OUT/<tenant-id>.json`), for plan and deploy.
    Bundle,
    /// Tenant Configuration Management monitors per tenant (`OUT/<tenant-id>.tcm.json`).
    Tcm,
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
    let tcm_written = if args.target == Target::Tcm {
        match write_monitors(&loaded, &selection, &args.out, today, args.strict) {
            Ok(written) => Some(written),
            Err(e) => {
                err(&format!(
                    "error: cannot write to {}: {e}\n",
                    args.out.display()
                ));
                return Ok(exit::INTERNAL);
            }
        }
    } else {
        None
    };
    let options = CompileOptions {
        // --target tcm: validate here (diagnostics, exit code); the monitors are written above.
        out_dir: (args.target == Target::Bundle).then(|| args.out.clone()),
        selection,
        strict: args.strict,
        jobs: args.jobs.unwrap_or_else(default_jobs),
        today,
        allow_empty: args.allow_empty,
    };
    let (summary, diagnostics) =
        output::compile_and_report(loaded, &options, args.format, args.verbose);
    if let Some(written) = &tcm_written {
        for line in &written.lines {
            err(line);
        }
        let ok = summary.failed.is_empty() && !diagnostics.has_errors() && written.over_quota == 0;
        err(&format!(
            "compile: {} tenants' monitors written to {}{}\n",
            written.files,
            args.out.display(),
            if written.over_quota > 0 {
                format!("; {} over TCM's quotas", written.over_quota)
            } else {
                String::new()
            }
        ));
        return Ok(if ok { exit::OK } else { exit::INVALID_INPUT });
    }
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

/// What `--target tcm` wrote.
struct MonitorsWritten {
    files: usize,
    over_quota: usize,
    /// Lines for stderr: each tenant's file, what it leaves out, and quota errors.
    lines: Vec<String>,
}

/// Every selected tenant that compiles: its monitors as `OUT/<tenant-id>.tcm.json`.
fn write_monitors(
    loaded: &output::Loaded,
    selection: &tenantform::compile::Selection,
    out_dir: &std::path::Path,
    today: jiff::civil::Date,
    strict: bool,
) -> std::io::Result<MonitorsWritten> {
    std::fs::create_dir_all(out_dir)?;
    let mut written = MonitorsWritten {
        files: 0,
        over_quota: 0,
        lines: Vec::new(),
    };
    let quotas = TcmQuotas::default();
    for entry in loaded
        .project
        .tenants
        .iter()
        .filter(|t| selection.includes(t))
    {
        let Some(tenant) = loaded.project.tenant(entry) else {
            continue;
        };
        let compiled = tenantform::compile::compile_tenant(
            &loaded.project,
            &loaded.engine,
            loaded.schemas,
            &tenant,
            strict,
            today,
        );
        // A tenant that does not compile gets its diagnostics from the validation below.
        let Some(bundle) = compiled.bundle else {
            continue;
        };
        match tcm::monitors(bundle.bundle(), &quotas) {
            Ok(monitors) => {
                let path = out_dir.join(format!("{}.tcm.json", entry.id));
                let text =
                    serde_json::to_string_pretty(&monitors).map_err(std::io::Error::other)?;
                super::deploy::write_atomic(&path, &format!("{text}\n"))?;
                written.files += 1;
                written.lines.push(format!(
                    "  ok {} ({}): {} monitors, {} resources ({} resource runs a day of {}), {} not monitored\n",
                    entry.name,
                    entry.id,
                    monitors.quota.monitors,
                    monitors.quota.resources,
                    monitors.quota.resource_runs_per_day,
                    quotas.resources_per_day,
                    monitors.not_monitored.len()
                ));
                // Grouped by reason: one line per reason, naming its resources.
                let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> =
                    std::collections::BTreeMap::new();
                for n in &monitors.not_monitored {
                    by_reason.entry(&n.reason).or_default().push(&n.key);
                }
                for (reason, keys) in by_reason {
                    written.lines.push(format!(
                        "     not monitored: {}: {reason}\n",
                        keys.join(", ")
                    ));
                }
                if !monitors.properties_not_monitored.is_empty() {
                    written.lines.push(format!(
                        "     settings not monitored: {} (no Microsoft365DSC property; listed under properties_not_monitored in {})\n",
                        monitors.properties_not_monitored.len(),
                        path.display()
                    ));
                }
            }
            Err(e) => {
                written.over_quota += 1;
                // No stale file from an earlier run stays behind for a tenant over quota.
                let path = out_dir.join(format!("{}.tcm.json", entry.id));
                if path.exists() {
                    std::fs::remove_file(&path)?;
                }
                written
                    .lines
                    .push(format!("error: {} ({}): {e}\n", entry.name, entry.id));
            }
        }
    }
    written.lines.push(format!("note: {}\n", tcm::HISTORY_NOTE));
    Ok(written)
}
