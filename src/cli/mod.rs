//! Command-line interface: clap definitions, one file per subcommand, and the mapping from
//! outcomes to exit codes. Raw flags become a validated run configuration before any work.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod bench;
mod compile;
mod completions;
mod demo;
mod deploy;
mod drift;
mod evidence;
mod export;
mod facts;
mod import;
mod init;
mod kinds;
mod monitors;
mod output;
mod render;
mod report;
mod rollback;
mod runs;
mod schema;
mod sim;
mod snapshot;
mod state;
mod sync;
mod validate;

/// Exit codes, documented in the book (reference/cli.md).
pub(crate) mod exit {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// Invalid input: TOML, template, schema, lint.
    pub(crate) const INVALID_INPUT: u8 = 1;
    /// `plan --detailed-exitcode`: some tenant has changes.
    pub(crate) const CHANGES: u8 = 2;
    /// Deploy: some tenant failed or the rollout stopped; plan: a tenant could not be planned.
    pub(crate) const DEPLOY_FAILED: u8 = 3;
    /// Command-line usage error.
    pub(crate) const USAGE: u8 = 64;
    /// Internal error (a bug, or the environment: disk full, permissions on the output).
    pub(crate) const INTERNAL: u8 = 70;
}

const AFTER_HELP: &str = "\
Everyday use:
  tenantform demo                           the whole job against the built-in Graph simulator
  tenantform init my-msp                    a project on the shipped baselines
  tenantform validate -p my-msp             every problem, at file:line:col
  tenantform plan -p my-msp                 what deploy would change, per tenant
  tenantform deploy -p my-msp --ring pilot  one ring, asks to confirm
  tenantform deploy -p my-msp --rings pilot,broad --yes --max-failure-rate 0.1
  tenantform drift -p my-msp                what changed since, and who changed it
  tenantform runs list -p my-msp            past runs; `runs show ID` for one
  tenantform report -p my-msp --from plan.json --out site   the fleet dashboard

Exit codes: 0 ok, 1 invalid input, 2 plan has changes (with --detailed-exitcode) or drift found,
3 a tenant failed to plan or deploy, 64 usage error (also a --tenant or --ring that
names no tenant), 70 internal error.";

/// Compile Microsoft 365 / Entra ID / Intune baselines into validated Microsoft Graph request
/// bundles, one per tenant.
#[derive(Debug, Parser)]
#[command(name = "tenantform", version, about, long_about = None, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Treat this date as today (YYYY-MM-DD) when checking override expiry; for reproducible CI.
    #[arg(long, global = true, value_name = "DATE", hide = true)]
    today: Option<jiff::civil::Date>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new project that uses the shipped baselines, with three example tenants.
    Init(init::Args),
    /// Check every tenant of a project: TOML, parameters, templates, references, Graph schemas
    /// and lints. Writes nothing; exit 1 on any error.
    Validate(validate::Args),
    /// Compile every selected tenant into OUT/<tenant-id>.json (validated, deterministic).
    Compile(compile::Args),
    /// List the Graph resource kinds: path, match key, reference prefix, throttle class,
    /// permissions.
    Kinds(kinds::Args),
    /// Render one resource for one tenant and show the request it compiles to (for debugging
    /// templates).
    Render(render::Args),
    /// Regenerate (or check) the JSON Schemas from Graph's CSDL metadata.
    Schema(schema::Args),
    /// Show what deploy would change in each selected tenant (reads Graph, writes nothing).
    Plan(deploy::PlanArgs),
    /// Apply the baselines to the selected tenants: paced, retried, journaled, resumable.
    Deploy(deploy::DeployArgs),
    /// What differs in each live tenant from its baselines, and who changed it when (reads
    /// Graph and its audit logs, writes nothing). Exit 2 when something drifted.
    Drift(drift::DriftArgs),
    /// Back up each tenant's managed objects as Graph JSON, one canonical file per object
    /// (diffs cleanly in git). Reads Graph, writes nothing to it.
    Snapshot(snapshot::SnapshotArgs),
    /// Cross-tenant synchronization links: `sync status` reads each link's job in its source
    /// tenant (state, last cycle, users synchronized, quarantine).
    Sync(sync::Args),
    /// Microsoft's Tenant Configuration Management monitors from the same baselines:
    /// `monitors plan` compares, `monitors deploy` creates or updates them (by displayName).
    Monitors(monitors::Args),
    /// Write a baseline that reproduces a live tenant (a golden tenant → the fleet's baseline):
    /// its objects through the importer's cleaning and id mapping. Reads Graph, writes nothing
    /// to it.
    Export(export::ExportArgs),
    /// Read what each tenant has bought (service plans) and what its app was granted
    /// (permissions) from Graph; with --write, put them into its [tenant.facts] in place.
    Facts(facts::FactsArgs),
    /// Past deploy runs, read from their journals.
    Runs(runs::Args),
    /// The project's run state ([state] in tenantform.toml): tenant locks (`state locks`,
    /// `state unlock TENANT --force`) and runs kept in a remote store (`state pull RUN_ID`).
    State(state::Args),
    /// Put every object a deploy run touched back as it was: updates reverted from the run's
    /// before-images, creates deleted (or kept), deletes re-created. Planned and confirmed
    /// like a deploy, journaled as its own run.
    Rollback(rollback::Args),
    /// Write the fleet dashboard: a static HTML site of every tenant's state, controls,
    /// overrides and runs (from saved plans and the run journals, or a fresh plan).
    Report(report::Args),
    /// Per tenant and control id (SCuBA, CIS), a verdict read live from the tenant (met,
    /// report-only, not met, skipped, not applicable) with the values it rests on and the
    /// journal evidence of the last deploy, as JSON, CSV or Markdown.
    Evidence(evidence::Args),
    /// Deploy the shipped baselines to N simulated tenants in-process, then re-plan to show
    /// zero changes.
    Demo(demo::Args),
    /// Benchmarks: the compiler on a generated fleet (`bench compile`), the simulator (`bench
    /// sim`) and a fleet deploy against Graph's limits (`bench deploy`); print throughput and
    /// peak memory.
    Bench(bench::Args),
    /// Turn another tool's backup (IntuneCD, IntuneManagement, Graph JSON) into a baseline:
    /// TOML and Tera templates, ids mapped to references and parameters.
    Import(import::Args),
    /// Run a local Microsoft Graph simulator (token endpoint, Graph, $batch, throttling) for
    /// tests, demos and CI, until interrupted.
    Sim(sim::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one per command with --out DIR.
    Man(completions::ManArgs),
}

/// Output formats for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people.
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
}

/// Which tenants: `--tenant` (repeatable) or `--ring`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Selector {
    /// Only this tenant (id or name); repeat for more.
    #[arg(long = "tenant", value_name = "ID", conflicts_with = "ring")]
    tenants: Vec<String>,
    /// Only the tenants of this ring.
    #[arg(long, value_name = "RING")]
    ring: Option<String>,
}

impl Selector {
    fn selection(&self) -> tenantform::compile::Selection {
        use tenantform::compile::Selection;
        if let Some(ring) = &self.ring {
            Selection::Ring(ring.clone())
        } else if !self.tenants.is_empty() {
            Selection::Tenants(self.tenants.clone())
        } else {
            Selection::All
        }
    }
}

/// The project directory argument shared by commands.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProjectArg {
    /// The project directory (holds tenantform.toml).
    #[arg(long, short = 'p', value_name = "DIR", default_value = ".")]
    project: PathBuf,
}

pub(crate) fn today(cli_today: Option<jiff::civil::Date>) -> jiff::civil::Date {
    cli_today.unwrap_or_else(|| jiff::Zoned::now().date())
}

/// Write to stdout, ignoring a closed pipe (`tenantform kinds | head`).
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Write to stderr.
pub(crate) fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
}

pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let today = today(cli.today);
    let result = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(args, today),
        Command::Compile(args) => compile::run(args, today),
        Command::Kinds(args) => kinds::run(args),
        Command::Render(args) => render::run(args, today),
        Command::Schema(args) => schema::run(args),
        Command::Bench(args) => bench::run(args, today),
        Command::Sim(args) => sim::run(args),
        Command::Plan(args) => deploy::run_plan(args, today),
        Command::Deploy(args) => deploy::run_deploy(args, today),
        Command::Drift(args) => drift::run_drift(args, today),
        Command::Snapshot(args) => snapshot::run_snapshot(args, today),
        Command::Sync(args) => sync::run(args, today),
        Command::Monitors(args) => monitors::run(args, today),
        Command::Export(args) => export::run_export(args, today),
        Command::Facts(args) => facts::run(args, today),
        Command::Runs(args) => runs::run(args),
        Command::Rollback(args) => rollback::run(args, today),
        Command::State(args) => state::run(args),
        Command::Report(args) => report::run(args, today),
        Command::Evidence(args) => evidence::run(args, today),
        Command::Demo(args) => demo::run(args, today),
        Command::Import(args) => import::run(args),
        Command::Completions(args) => completions::run_completions(args),
        Command::Man(args) => completions::run_man(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // The top message usually quotes its cause already; add only causes it does not.
            let mut text = format!("error: {e}\n");
            let mut shown = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !shown.contains(&cause) {
                    text.push_str(&format!("  caused by: {cause}\n"));
                    shown.push_str(&cause);
                }
            }
            text.push_str("this is a bug or a problem of the environment (disk, permissions); please report it with the command you ran\n");
            err(&text);
            ExitCode::from(exit::INTERNAL)
        }
    }
}
