//! `tenantform evidence`: per tenant and control id, a verdict read live (met, report-only,
//! not met, skipped with the override's reason, not applicable) from the `[controls]`
//! definitions of its baselines, with the live values it rests on, the time read and the
//! journal evidence of the run that last applied each resource; as JSON, CSV or Markdown.
//! `--recorded` (or `--from`) prints the evidence recorded by runs and plans instead, without
//! reading any tenant.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tenantform::deploy::{self, DeployOptions};
use tenantform::report::evidence;
use tenantform::report::progress::Style;
use tenantform::report::verdicts::{self, LiveEvidence, TenantVerdicts};
use tenantform::status::{self, StatusOptions};

use super::deploy::{Connection, Scope};
use super::{err, exit, out};

/// Output of `evidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EvidenceFormat {
    /// One JSON document (`tenantform.evidence/v2`; with --recorded, `v1`).
    Json,
    /// A row per tenant, control and resource.
    Csv,
    /// A table per tenant, for an auditor or a pull request (live reads only).
    Markdown,
}

/// Arguments of `evidence`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads each selected tenant's live objects (as plan and drift do, paced the same way) and judges
every control its baselines define in their [controls] tables: a control is
  met             a claiming resource's live object meets every requirement and is enabled
  report-only     it meets them, but the policy is in report-only mode
  not met         the object is missing, switched off, or fails a requirement (which one is said)
  skipped         every resource claiming it is skipped by an override (the reason is given)
  not applicable  defined, but no resource of this tenant claims it
  unassessed      claimed by a resource, but no baseline defines what \"met\" means
Each resource shows its live object id, the values the definition reads, and the run, time and
journal record hash of the deploy that last applied it. Nothing is written to Graph.

Examples:
  tenantform evidence -p msp --format markdown --out evidence.md
  tenantform evidence -p msp --tenant Fabrikam --format csv > fabrikam.csv
  tenantform evidence -p msp --recorded          what the journals say, without reading tenants

Exit codes: 0 every control met (or skipped, not applicable, unassessed); 2 some control not
met or only report-only; 3 a tenant could not be read; 1 invalid project; 64 usage.")]
pub(crate) struct Args {
    #[command(flatten)]
    scope: Scope,
    /// Do not read the tenants: print the evidence recorded by runs (journals) and saved plans.
    #[arg(long)]
    recorded: bool,
    /// Saved plans to read (plan --out or plan --format json); implies --recorded.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    from: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: EvidenceFormat,
    /// Write the evidence to FILE instead of stdout (a line on stdout says where).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The "as of" time (RFC 3339) instead of the newest input's (--recorded).
    #[arg(long, value_name = "TIME", hide = true)]
    generated_at: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    if args.recorded || !args.from.is_empty() {
        return recorded(&args, today);
    }
    let (fleet, targets) = match super::deploy::read_targets(&args.scope, today) {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    // The journal evidence of every resource (run, time, record hash), read before the tenants.
    let journal = journal_evidence(&args, today);
    let project = fleet
        .project
        .config
        .as_ref()
        .map(|c| c.name.value.clone())
        .unwrap_or_default();
    let client = super::deploy::client(&args.connection)?;
    let style = if args.out.is_some() {
        Style::for_humans()
    } else {
        Style::Quiet
    };
    let options = DeployOptions {
        plan_only: true,
        evidence: true,
        ..args.connection.options()
    };
    let run = super::deploy::make_run(fleet, client, None, style, "evidence", options);
    let mut summary = super::deploy::runtime()?.block_on(deploy::run(run, targets, None));
    summary
        .tenants
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut tenants: Vec<TenantVerdicts> = summary
        .tenants
        .into_iter()
        .map(|t| {
            let journal = journal.get(&t.id).cloned().unwrap_or_default();
            match t.evidence {
                Some(e) if t.reason.is_none() => TenantVerdicts {
                    id: t.id,
                    name: t.name,
                    read_at: Some(e.read_at),
                    error: None,
                    controls: e.controls,
                    journal,
                },
                _ => TenantVerdicts {
                    id: t.id,
                    name: t.name,
                    read_at: None,
                    error: Some(t.reason.unwrap_or_else(|| "not read".to_string())),
                    controls: Vec::new(),
                    journal,
                },
            }
        })
        .collect();
    for id in &summary.not_started {
        tenants.push(TenantVerdicts {
            id: id.clone(),
            name: id.clone(),
            read_at: None,
            error: Some("not read: the run stopped before this tenant".to_string()),
            controls: Vec::new(),
            journal: BTreeMap::new(),
        });
    }
    let evidence = LiveEvidence {
        project,
        generated_at: jiff::Timestamp::now().to_string(),
        tenants,
    };
    let text = match args.format {
        EvidenceFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&verdicts::json(&evidence))?
        ),
        EvidenceFormat::Csv => verdicts::csv(&evidence),
        EvidenceFormat::Markdown => verdicts::markdown(&evidence),
    };
    match &args.out {
        Some(path) => {
            super::deploy::write_atomic(path, &text).map_err(|e| {
                anyhow::anyhow!("cannot write the evidence to {}: {e}", path.display())
            })?;
            let counts: Vec<String> = evidence
                .counts()
                .iter()
                .map(|(v, n)| format!("{n} {}", v.label()))
                .collect();
            out(&format!(
                "evidence: {} tenants, {}; written to {}\n",
                evidence.tenants.len(),
                counts.join(", "),
                path.display()
            ));
        }
        None => out(&text),
    }
    Ok(if evidence.unreadable() {
        exit::DEPLOY_FAILED
    } else if evidence.short() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

/// Per tenant id, per resource key: the journal record of the run that last applied it.
fn journal_evidence(
    args: &Args,
    today: jiff::civil::Date,
) -> BTreeMap<String, BTreeMap<String, tenantform::report::fleet::AppliedEvidence>> {
    let options = StatusOptions {
        today,
        generated_at: None,
        journals: Vec::new(),
    };
    let Ok(fleet) = status::status(&args.scope.project.project, &[], &options) else {
        return BTreeMap::new();
    };
    fleet
        .tenants
        .into_iter()
        .map(|t| {
            let applied = t
                .resources
                .into_iter()
                .filter_map(|r| Some((r.key, r.applied?)))
                .collect();
            (t.id, applied)
        })
        .collect()
}

/// `--recorded`: the evidence of runs and plans (`tenantform.evidence/v1`), no tenant read.
fn recorded(args: &Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    if args.format == EvidenceFormat::Markdown {
        err(
            "error: --format markdown needs a live read; with --recorded or --from use json or csv\n",
        );
        return Ok(exit::USAGE);
    }
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
    let options = StatusOptions {
        today,
        generated_at: args.generated_at.clone(),
        journals: Vec::new(),
    };
    let fleet = match status::status(&args.scope.project.project, &inputs, &options) {
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
    let text = match args.format {
        EvidenceFormat::Csv => evidence::csv(&fleet),
        _ => format!(
            "{}\n",
            serde_json::to_string_pretty(&evidence::json(&fleet))?
        ),
    };
    match &args.out {
        Some(path) => {
            super::deploy::write_atomic(path, &text).map_err(|e| {
                anyhow::anyhow!("cannot write the evidence to {}: {e}", path.display())
            })?;
            out(&format!("evidence written to {}\n", path.display()));
        }
        None => out(&text),
    }
    Ok(exit::OK)
}
