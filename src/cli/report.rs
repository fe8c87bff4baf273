//! `tenantform report`: the fleet dashboard. Builds the fleet's status from the project, the
//! run journals and the result files given with `--from` (or a fresh plan with `--from-live`),
//! renders it as a static site and writes it to `--out`.

use std::path::{Path, PathBuf};

use tenantform::live::plan_file::PlanFile;
use tenantform::report::html;
use tenantform::status::{self, StatusOptions, inputs::Input};

use super::deploy::{Connection, live_plan};
use super::{ProjectArg, err, exit};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes a static, self-contained site to --out: index.html (every tenant with its ring, baselines,
state, last run and overrides; filters by ring, tag and state; the tenants x controls matrix; the
run history) and tenants/<id>.html per tenant (its resources, pending changes in the plan's
notation, overrides with reasons and expiry, runs). Nothing is fetched when it is viewed.

Inputs: the project (tenants, rings, tags, overrides, the baselines' controls), every deploy run
journal in .tenantform/runs/, and the files given with --from (saved plans: plan --out FILE or
plan --format json). --from-live plans every tenant now (reads Graph, writes nothing) and
reports that. For each tenant the newer of its last plan and its last run decides its state.

Examples:
  tenantform plan -p msp --out plan.json && tenantform report -p msp --from plan.json --out site
  tenantform report -p msp --from-live --out site

Exit codes: 0 written; 1 invalid project or input file; 3 --from-live could not plan a tenant
(the report is written, with that tenant failed); 64 usage.")]
pub(crate) struct Args {
    #[command(flatten)]
    project: ProjectArg,
    /// Where to write the site (created; its index.html and tenants/ are replaced).
    #[arg(long, value_name = "DIR", default_value = "report")]
    out: PathBuf,
    /// Result files to read: saved plans (plan --out or plan --format json).
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "from_live")]
    from: Vec<PathBuf>,
    /// Plan every tenant now (reads Graph, writes nothing to it) and report that.
    #[arg(long)]
    from_live: bool,
    /// Also read the run journals under these directories (a run's directory, a runs
    /// directory, or a downloaded CI artifact holding them): the journals of `deploy --shard`
    /// runs made on other machines merge into one report.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    journals: Vec<PathBuf>,
    /// The report's time (RFC 3339) instead of the newest input's; for reproducible output.
    #[arg(long, value_name = "TIME", hide = true)]
    generated_at: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

fn write_site(out: &Path, pages: &[html::Page]) -> std::io::Result<()> {
    // Tenant pages of an earlier report whose tenants are gone must not linger.
    let tenants = out.join("tenants");
    if tenants.is_dir() {
        std::fs::remove_dir_all(&tenants)?;
    }
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("tenants-") && name.ends_with(".html") {
                std::fs::remove_file(e.path())?;
            }
        }
    }
    std::fs::create_dir_all(&tenants)?;
    for page in pages {
        let path = out.join(&page.path);
        std::fs::write(path, &page.html)?;
    }
    Ok(())
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let dir = &args.project.project;
    let mut inputs = Vec::new();
    for path in &args.from {
        match status::inputs::read(path) {
            Ok(input) => inputs.push(input),
            Err(e) => {
                err(&format!("error: {e}\n"));
                return Ok(exit::INVALID_INPUT);
            }
        }
    }
    let mut code = exit::OK;
    if args.from_live {
        let summary = match live_plan(dir, &args.connection, today) {
            Ok(summary) => summary,
            Err(code) => return Ok(code),
        };
        if summary.failed().count() > 0 {
            code = exit::DEPLOY_FAILED;
        }
        inputs.push(Input::Plan {
            path: PathBuf::from("(live)"),
            file: PlanFile::from_reports(&summary.tenants, jiff::Timestamp::now().to_string()),
        });
    }
    for dir in &args.journals {
        if !dir.is_dir() {
            err(&format!(
                "error: --journals {}: not a directory (give the directory a shard's journals were downloaded to)\n",
                dir.display()
            ));
            return Ok(exit::INVALID_INPUT);
        }
    }
    let options = StatusOptions {
        today,
        generated_at: args.generated_at.clone(),
        journals: args.journals.clone(),
    };
    let fleet = match status::status(dir, &inputs, &options) {
        Ok(fleet) => fleet,
        Err(e @ status::StatusError::GeneratedAt(_)) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::USAGE);
        }
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::INVALID_INPUT);
        }
    };
    let pages = html::site(&fleet);
    write_site(&args.out, &pages)
        .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", args.out.display()))?;
    let counts = tenantform::report::fleet::TenantState::ALL
        .iter()
        .filter_map(|s| {
            let n = fleet.tenants.iter().filter(|t| t.state == *s).count();
            (n > 0).then(|| format!("{n} {}", s.label()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    err(&format!(
        "report: {} tenants ({}), {} runs; open {}\n",
        fleet.tenants.len(),
        if counts.is_empty() {
            "none".into()
        } else {
            counts
        },
        fleet.runs.len(),
        args.out.join("index.html").display()
    ));
    Ok(code)
}
