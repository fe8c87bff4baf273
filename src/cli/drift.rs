//! `tenantform drift`: read each selected tenant, say what differs from its baselines and who
//! changed it, and exit 0 in sync, 2 drift found, 3 a tenant could not be read.

use std::path::PathBuf;

use tenantform::deploy::{self, DeployOptions};
use tenantform::report::drift::{
    TenantStatus, drift_json, drift_junit, drift_markdown, drift_text, notification, status,
};
use tenantform::report::progress::Style;

use super::deploy::{Connection, Scope};
use super::exit;
use super::out;

/// Output of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DriftFormat {
    /// Per tenant, each finding with its diff and who changed it.
    Human,
    /// One JSON document (`tenantform.drift/v1`).
    Json,
    /// Markdown: a table of tenants and collapsible findings (pull requests, job summaries).
    Markdown,
    /// JUnit XML: a suite per tenant, a failed case per drifted resource.
    Junit,
}

/// Arguments of `drift`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads each selected tenant's live objects for its baselines' kinds and compares them with the
bundle, with the same normalization plan uses (null, [] and absent are the same; sets ignore
order; server fields are ignored), so a tenant right after a deploy shows no drift. Findings:
  ~ modified     managed, and the tenant's object differs (baseline -> tenant, property by property)
  - missing      managed, and deleted in the tenant
  = accepted     a difference an override accepts (`accept_drift`, with its reason, until it expires)
  + not deployed declared, never deployed to this tenant
  ! ambiguous    several objects match the resource's key
  ? orphaned     managed before, no baseline declares it now
  ? unmanaged    an object of a managed kind that no baseline declares (listed, never touched)
Each modified or missing object names who changed it last and when, read from the tenant's
audit logs (the directory audit log for Entra, Intune's audit events for Intune objects): grant
the app AuditLog.Read.All and Directory.Read.All (and DeviceManagementApps.Read.All). Nothing is
written to Graph. `deploy` puts drifted resources back.

Examples:
  tenantform drift -p msp                          every tenant, for people
  tenantform drift -p msp --ring broad --format markdown --out drift.md
  tenantform drift -p msp --format json --out drift.json   (nightly CI; exit 2 means drift)

Exit codes: 0 in sync; 2 drift found (modified, missing or ambiguous); 3 a tenant could not be
read; 1 invalid project; 64 usage.")]
pub(crate) struct DriftArgs {
    #[command(flatten)]
    scope: Scope,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: DriftFormat,
    /// Write the result to FILE instead of stdout (a line on stdout says where).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Show every value whole (without it, values longer than 80 characters are cut with `…`).
    #[arg(long, short = 'v')]
    verbose: bool,
    /// When drift is found (or a tenant cannot be read), post a summary to this webhook: JSON
    /// with a markdown `text` that Slack and Teams incoming webhooks show, and per-tenant counts
    /// for programs. Retried with a timeout; never carries a secret. A failed post is a warning
    /// (the exit code stays the drift's).
    #[arg(long, value_name = "URL")]
    notify: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

pub(crate) fn run_drift(args: DriftArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let runtime = super::deploy::runtime()?;
    let client = super::deploy::client(&args.connection)?;
    let mut options = DeployOptions {
        plan_only: true,
        drift: true,
        // Drift names what changed and who changed it; it writes no plan file.
        fingerprints: false,
        ..args.connection.options()
    };
    let ahead = tenantform::deploy::ahead::ReadAhead::for_run(&runtime, &client, &options);
    let (fleet, targets) =
        match super::deploy::read_targets_reading_ahead(&args.scope, today, Some(&ahead)) {
            Ok(read) => read,
            Err(code) => return Ok(code),
        };
    options.read_ahead = Some(ahead);
    let style = match (args.format, &args.out) {
        (DriftFormat::Human, _) | (_, Some(_)) => Style::for_humans(),
        _ => Style::Quiet,
    };
    let run = super::deploy::make_run(fleet, client, None, style, "drift", options);
    let mut summary = runtime.block_on(deploy::run(run, targets, None));
    summary
        .tenants
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let tenants = &summary.tenants;
    let text = match args.format {
        DriftFormat::Human => drift_text(tenants, args.verbose),
        DriftFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&drift_json(
                tenants,
                &jiff::Timestamp::now().to_string()
            ))?
        ),
        DriftFormat::Markdown => drift_markdown(tenants),
        DriftFormat::Junit => drift_junit(tenants),
    };
    match &args.out {
        Some(path) => {
            super::deploy::write_atomic(path, &text).map_err(|e| {
                anyhow::anyhow!("cannot write the drift report to {}: {e}", path.display())
            })?;
            let drifted = tenants
                .iter()
                .filter(|t| status(t) == TenantStatus::Drifted)
                .count();
            out(&format!(
                "drift: {} tenants, {drifted} drifted; written to {}\n",
                tenants.len(),
                path.display()
            ));
        }
        None => out(&text),
    }
    let statuses: Vec<TenantStatus> = tenants.iter().map(status).collect();
    if let Some(url) = &args.notify
        && statuses.iter().any(|s| *s != TenantStatus::InSync)
    {
        let alert = notification(tenants);
        let sleep = tenantform::notify::real_sleep();
        let posted = super::deploy::runtime()?.block_on(tenantform::notify::post(
            url,
            &alert,
            {
                // Back off as the rest of the run does: shorter against a time-scaled simulator.
                let policy = tenantform::notify::NotifyPolicy::default();
                tenantform::notify::NotifyPolicy {
                    backoff: policy.backoff.div_f64(args.connection.time_scale.max(1.0)),
                    ..policy
                }
            },
            &sleep,
        ));
        match posted {
            Ok(_) => super::err(&format!(
                "drift: notified {}\n",
                tenantform::notify::origin(url)
            )),
            Err(e) => super::err(&format!("warning: {e}\n")),
        }
    }
    Ok(
        if statuses.contains(&TenantStatus::Unreadable) || !summary.not_started.is_empty() {
            exit::DEPLOY_FAILED
        } else if statuses.contains(&TenantStatus::Drifted) {
            exit::CHANGES
        } else {
            exit::OK
        },
    )
}
