//! `tenantform monitors plan|deploy`: each selected tenant's TCM configuration monitors (what
//! `compile --target tcm` emits) compared with the tenant's live monitors by display name, and
//! created or updated; journaled under `.tenantform/monitors/<run-id>/journal.jsonl`.

use tenantform::compile::tcm::{self, TcmQuotas};
use tenantform::deploy::monitors::{self as monitor_deploy, MonitorAction, MonitorStep};
use tenantform::graph::client::NoObserver;
use tenantform::journal::{Entry, JournalWriter};

use super::deploy::{Connection, Scope};
use super::{err, exit, out};

/// Arguments of `monitors`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: MonitorsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MonitorsCommand {
    /// Compare each tenant's monitors with its live TCM monitors: + create, ~ update (erases
    /// the monitor's history), = no change. Writes nothing.
    #[command(after_help = "\
Compiles each selected tenant's baselines as compile --target tcm does (one monitor per baseline
layer, named \"tenantform: <baseline>\"), reads the tenant's configuration monitors
(GET /beta/admin/configurationManagement/configurationMonitors and each match's /baseline) and
matches them by displayName. Monitors tenantform did not make are not touched.

Exit codes: 0 nothing to do; 2 something to create or update; 3 a tenant could not be read;
1 invalid project or a tenant over TCM's quotas; 64 usage.")]
    Plan(PlanArgs),
    /// Create or update each tenant's monitors (POST, or PATCH of the monitor with the same
    /// displayName); an unchanged baseline is never re-sent.
    #[command(after_help = "\
What monitors plan shows, then applied: a missing monitor is created (POST), a monitor whose
baseline differs is updated with the full body (PATCH). Updating a baseline deletes that
monitor's monitoring results and drifts: the output warns for each, and --yes is required to
send any update. Every request is journaled (method, path, status, request-id, body hash) in
.tenantform/monitors/<run-id>/journal.jsonl.

Exit codes: 0 done (or nothing to do); 3 a tenant failed (Graph's error is printed, e.g. over the
30-monitor or 800-resources-a-day quota); 1 invalid project or a tenant over TCM's quotas;
64 usage (also: an update without --yes, nothing sent for that tenant).")]
    Deploy(DeployArgs),
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    #[command(flatten)]
    scope: Scope,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, clap::Args)]
struct DeployArgs {
    #[command(flatten)]
    scope: Scope,
    /// Send updates without asking (each update erases that monitor's results and drifts).
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    connection: Connection,
}

/// One tenant's desired monitors, or why it has none.
struct Desired {
    id: String,
    name: String,
    monitors: Result<tcm::TenantMonitors, String>,
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    match args.command {
        MonitorsCommand::Plan(a) => go(&a.scope, &a.connection, None, today),
        MonitorsCommand::Deploy(a) => go(&a.scope, &a.connection, Some(a.yes), today),
    }
}

fn line(tenant: &str, step: &MonitorStep) -> String {
    let what = match step.action {
        MonitorAction::Create => "create",
        MonitorAction::Update => "update baseline",
        MonitorAction::NoChange => "no change",
    };
    format!(
        "  {} {tenant}: {} ({} resources): {what}\n",
        step.action.sign(),
        step.display_name,
        step.resources
    )
}

/// `deploy`: `Some(yes)`; `plan`: `None`.
fn go(
    scope: &Scope,
    connection: &Connection,
    deploy: Option<bool>,
    today: jiff::civil::Date,
) -> anyhow::Result<u8> {
    let (fleet, targets) = match super::deploy::read_targets(scope, today) {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    let quotas = TcmQuotas::default();
    let mut desired = Vec::new();
    for target in &targets {
        let Some(tenant) = fleet
            .project
            .tenants
            .iter()
            .find(|t| t.id == target.id)
            .and_then(|e| fleet.project.tenant(e))
        else {
            continue;
        };
        let compiled = tenantform::compile::compile_tenant(
            &fleet.project,
            &fleet.engine,
            fleet.schemas,
            &tenant,
            false,
            today,
        );
        let monitors = match compiled.bundle {
            Some(bundle) => tcm::monitors(bundle.bundle(), &quotas).map_err(|e| e.to_string()),
            None => Err("its baselines do not compile (run tenantform validate)".to_string()),
        };
        desired.push(Desired {
            id: target.id.clone(),
            name: target.name.clone(),
            monitors,
        });
    }
    let client = super::deploy::client(connection)?;
    let runtime = super::deploy::runtime()?;
    let mut journal = None;
    let mut run_id = String::new();
    if deploy.is_some() {
        run_id = tenantform::deploy::new_run_id();
        let path = tenantform::deploy::state_root(&fleet.dir)
            .join("monitors")
            .join(&run_id)
            .join("journal.jsonl");
        let mut writer = JournalWriter::open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the monitors journal: {e}"))?;
        writer
            .append(
                &jiff::Timestamp::now().to_string(),
                Entry::RunStarted {
                    tenants: desired.iter().map(|d| d.id.clone()).collect(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                },
            )
            .map_err(|e| anyhow::anyhow!("cannot write the monitors journal: {e}"))?;
        journal = Some(writer);
    }
    let (mut invalid, mut failed, mut changes, mut succeeded) = (0, 0, 0, 0);
    let mut needs_yes = false;
    for d in &desired {
        let label = format!("{} ({})", d.name, d.id);
        let monitors = match &d.monitors {
            Ok(m) => m,
            Err(e) => {
                err(&format!("error: {label}: {e}\n"));
                invalid += 1;
                continue;
            }
        };
        let session = match monitor_deploy::session(&fleet, &d.id) {
            Ok(s) => s,
            Err(e) => {
                err(&format!("error: {label}: {e}\n"));
                failed += 1;
                continue;
            }
        };
        let planned = runtime.block_on(monitor_deploy::plan(
            &client,
            &session,
            monitors,
            &NoObserver,
        ));
        let mut steps = match planned {
            Ok(steps) => steps,
            Err(e) => {
                err(&format!("error: {label}: {e}\n"));
                failed += 1;
                continue;
            }
        };
        for step in &steps {
            out(&line(&d.name, step));
            if step.action == MonitorAction::Update {
                err(&format!(
                    "warning: {label}: updating the baseline of \"{}\" deletes its monitoring results and drifts\n",
                    step.display_name
                ));
            }
        }
        changes += steps
            .iter()
            .filter(|s| s.action != MonitorAction::NoChange)
            .count();
        let (Some(yes), Some(writer)) = (deploy, journal.as_mut()) else {
            continue;
        };
        if !yes && steps.iter().any(|s| s.action == MonitorAction::Update) {
            err(&format!(
                "error: {label}: not sent: an update erases a monitor's history; run again with --yes\n"
            ));
            needs_yes = true;
            continue;
        }
        let applied = runtime.block_on(monitor_deploy::apply(
            &client,
            &session,
            &d.id,
            &mut steps,
            writer,
            &NoObserver,
        ));
        let reason = applied.as_ref().err().map(ToString::to_string);
        if let Some(reason) = &reason {
            err(&format!("error: {label}: {reason}\n"));
            failed += 1;
        } else {
            succeeded += 1;
        }
        writer
            .append(
                &jiff::Timestamp::now().to_string(),
                Entry::TenantFinished {
                    tenant: d.id.clone(),
                    ok: reason.is_none(),
                    reason,
                },
            )
            .map_err(|e| anyhow::anyhow!("cannot write the monitors journal: {e}"))?;
    }
    if let Some(writer) = journal.as_mut() {
        writer
            .append(
                &jiff::Timestamp::now().to_string(),
                Entry::RunFinished { succeeded, failed },
            )
            .map_err(|e| anyhow::anyhow!("cannot write the monitors journal: {e}"))?;
        err(&format!(
            "monitors: {succeeded} tenants deployed, {failed} failed; journal .tenantform/monitors/{run_id}/journal.jsonl\n"
        ));
    } else {
        err(&format!(
            "monitors: {changes} to create or update across {} tenants\n",
            desired.len()
        ));
    }
    Ok(if invalid > 0 {
        exit::INVALID_INPUT
    } else if failed > 0 {
        exit::DEPLOY_FAILED
    } else if needs_yes {
        exit::USAGE
    } else if deploy.is_none() && changes > 0 {
        exit::CHANGES
    } else {
        exit::OK
    })
}
