//! `tenantform runs list` and `tenantform runs show RUN_ID`: read deploy journals back (the
//! audit trail), verify their hash chains, and summarize them.

use std::collections::BTreeMap;

use tenantform::deploy;
use tenantform::journal::{self, Entry, ReadJournal};

use super::{ProjectArg, err, exit, out};

/// Output of `runs list` and `runs show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RunsFormat {
    /// Text for people: a line per run (`list`), a line per tenant (`show`).
    Human,
    /// One JSON document: every run's summary (`list`), or the run's summary, with its
    /// journal records under `--requests` (`show`).
    Json,
}

/// Arguments of `runs`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RunsCommand {
    /// Every run of the project, newest last: when, tenants, outcome, whether it finished.
    List {
        #[command(flatten)]
        project: ProjectArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: RunsFormat,
    },
    /// One run: its journal verified, per tenant the outcome and every failure.
    Show {
        /// The run id (from `runs list` or the deploy output).
        run_id: String,
        #[command(flatten)]
        project: ProjectArg,
        /// Also list every request (method, path, status, request-id, attempt).
        #[arg(long)]
        requests: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: RunsFormat,
    },
}

#[derive(Debug, Default, serde::Serialize)]
struct TenantLine {
    /// The tenant's name in the project today (none when the project no longer has it).
    name: Option<String>,
    ok: Option<bool>,
    reason: Option<String>,
    applied: BTreeMap<String, usize>,
    requests: usize,
    retries: usize,
    /// Resources the tenant did not get (each with its reason in the journal).
    skipped: usize,
}

#[derive(Debug, serde::Serialize)]
struct RunSummary {
    run_id: String,
    started: Option<String>,
    ended: Option<String>,
    finished: bool,
    resumed: usize,
    tenants: usize,
    succeeded: usize,
    failed: usize,
    requests: usize,
    chain: String,
    per_tenant: BTreeMap<String, TenantLine>,
}

/// Tenant id (lowercase) → name, from the project's tenants files; empty when the project
/// cannot be read (a run's journal stays readable without its project).
fn tenant_names(dir: &std::path::Path) -> BTreeMap<String, String> {
    match tenantform::source::project::load(dir) {
        Ok((project, _)) => project
            .tenants
            .iter()
            .map(|t| (t.id.to_ascii_lowercase(), t.name.clone()))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

fn summarize(run_id: &str, read: &ReadJournal, names: &BTreeMap<String, String>) -> RunSummary {
    let mut s = RunSummary {
        run_id: run_id.to_string(),
        started: read.records.first().map(|r| r.at.clone()),
        ended: read.records.last().map(|r| r.at.clone()),
        finished: false,
        resumed: 0,
        tenants: 0,
        succeeded: 0,
        failed: 0,
        requests: 0,
        chain: if read.truncated_tail {
            "verified (last line cut short by a crash, ignored)".into()
        } else {
            "verified".into()
        },
        per_tenant: BTreeMap::new(),
    };
    for record in &read.records {
        match &record.entry {
            Entry::RunStarted { tenants, .. } => {
                s.tenants = tenants.len();
                for t in tenants {
                    s.per_tenant.entry(t.clone()).or_default();
                }
            }
            Entry::RunResumed { .. } => {
                s.resumed += 1;
                s.finished = false;
            }
            Entry::Intent {
                tenant, attempt, ..
            } => {
                s.requests += 1;
                let line = s.per_tenant.entry(tenant.clone()).or_default();
                line.requests += 1;
                if *attempt > 1 {
                    line.retries += 1;
                }
            }
            Entry::Applied { tenant, action, .. } => {
                *s.per_tenant
                    .entry(tenant.clone())
                    .or_default()
                    .applied
                    .entry(action.clone())
                    .or_default() += 1;
            }
            Entry::TenantFinished { tenant, ok, reason } => {
                let line = s.per_tenant.entry(tenant.clone()).or_default();
                line.ok = Some(*ok);
                line.reason = reason.clone();
            }
            Entry::RunFinished { .. } => s.finished = true,
            Entry::Skipped { tenant, .. } => {
                s.per_tenant.entry(tenant.clone()).or_default().skipped += 1;
            }
            Entry::Outcome { .. } | Entry::PlanApplied { .. } | Entry::RollbackOf { .. } => {}
        }
    }
    for (id, line) in &mut s.per_tenant {
        line.name = names.get(&id.to_ascii_lowercase()).cloned();
    }
    s.succeeded = s.per_tenant.values().filter(|t| t.ok == Some(true)).count();
    s.failed = s
        .per_tenant
        .values()
        .filter(|t| t.ok == Some(false))
        .count();
    s
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        RunsCommand::List { project, format } => {
            let dir = deploy::state_root(&project.project).join("runs");
            let mut ids: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().join("journal.jsonl").exists())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect(),
                Err(_) => Vec::new(),
            };
            ids.sort();
            let names = if ids.is_empty() {
                BTreeMap::new()
            } else {
                tenant_names(&project.project)
            };
            let mut summaries = Vec::new();
            let mut text = String::new();
            for id in &ids {
                let path = dir.join(id).join("journal.jsonl");
                match journal::read(&path) {
                    Ok(read) => {
                        let s = summarize(id, &read, &names);
                        text.push_str(&format!(
                            "{id}  {}  {} tenants: {} ok, {} failed, {} unfinished{}\n",
                            s.started.as_deref().unwrap_or("-"),
                            s.tenants,
                            s.succeeded,
                            s.failed,
                            s.tenants.saturating_sub(s.succeeded + s.failed),
                            if s.finished {
                                String::new()
                            } else {
                                format!("  (interrupted: tenantform deploy --resume {id})")
                            }
                        ));
                        summaries.push(serde_json::to_value(&s)?);
                    }
                    Err(e) => {
                        text.push_str(&format!("{id}  UNREADABLE: {e}\n"));
                        summaries.push(serde_json::json!({"run_id": id, "error": e.to_string()}));
                    }
                }
            }
            match format {
                RunsFormat::Json => {
                    out(&format!("{}\n", serde_json::to_string_pretty(&summaries)?))
                }
                RunsFormat::Human if ids.is_empty() => {
                    err(&format!("no runs in {}\n", dir.display()));
                }
                RunsFormat::Human => out(&text),
            }
            Ok(exit::OK)
        }
        RunsCommand::Show {
            run_id,
            project,
            requests,
            format,
        } => {
            let path = deploy::run_dir(&project.project, &run_id).join("journal.jsonl");
            if !path.exists() {
                err(&format!(
                    "error: no run {run_id}: {} does not exist (tenantform runs list shows the runs)\n",
                    path.display()
                ));
                return Ok(exit::INVALID_INPUT);
            }
            let read = match journal::read(&path) {
                Ok(read) => read,
                Err(e) => {
                    err(&format!("error: {e}\n"));
                    return Ok(exit::INVALID_INPUT);
                }
            };
            let names = tenant_names(&project.project);
            let s = summarize(&run_id, &read, &names);
            // What `tenantform rollback` would do (none for a rollback run itself).
            let rollback =
                tenantform::deploy::rollback::plan_rollback(&project.project, &run_id, false).ok();
            if format == RunsFormat::Json {
                let mut value = serde_json::to_value(&s)?;
                if let Some(plan) = &rollback {
                    value["rollback"] = serde_json::to_value(
                        plan.tenants
                            .iter()
                            .map(|t| (t.tenant.clone(), t.counts()))
                            .collect::<BTreeMap<_, _>>(),
                    )?;
                }
                if requests {
                    value["records"] = serde_json::to_value(&read.records)?;
                }
                out(&format!("{}\n", serde_json::to_string_pretty(&value)?));
                return Ok(exit::OK);
            }
            let mut text = format!(
                "run {run_id}\n  journal   {} ({} records, hash chain {})\n  started   {}\n  last      {}\n  status    {}\n  tenants   {}: {} ok, {} failed, {} unfinished; {} requests\n",
                path.display(),
                read.records.len(),
                s.chain,
                s.started.as_deref().unwrap_or("-"),
                s.ended.as_deref().unwrap_or("-"),
                if s.finished {
                    "finished"
                } else {
                    "interrupted (finish with deploy --resume)"
                },
                s.tenants,
                s.succeeded,
                s.failed,
                s.tenants.saturating_sub(s.succeeded + s.failed),
                s.requests
            );
            if let Some(plan) = &rollback {
                text.push_str(&format!(
                    "  rollback  would: {} (tenantform rollback {run_id} --dry-run)\n",
                    super::rollback::counts_text(plan)
                ));
            }
            for (tenant, line) in &s.per_tenant {
                let status = match line.ok {
                    Some(true) => "ok        ",
                    Some(false) => "FAILED    ",
                    None => "unfinished",
                };
                let applied: Vec<String> = line
                    .applied
                    .iter()
                    .map(|(a, n)| format!("{n} {a}"))
                    .collect();
                let who = match &line.name {
                    Some(name) => format!("{name} ({tenant})"),
                    None => tenant.clone(),
                };
                text.push_str(&format!(
                    "  {status} {who}: {}; {} requests, {} retries\n",
                    match (applied.is_empty(), line.skipped) {
                        (true, 0) => "nothing applied".to_string(),
                        (true, n) => format!("nothing applied, {n} skipped"),
                        (false, 0) => applied.join(", "),
                        (false, n) => format!("{}, {n} skipped", applied.join(", ")),
                    },
                    line.requests,
                    line.retries
                ));
                if let Some(reason) = &line.reason {
                    text.push_str(&format!("             {reason}\n"));
                }
            }
            if requests {
                for r in &read.records {
                    match &r.entry {
                        Entry::Intent {
                            tenant,
                            key,
                            method,
                            path,
                            attempt,
                            ..
                        } => text.push_str(&format!(
                            "  {} {tenant} {key}: {method} {path} (attempt {attempt})\n",
                            r.at
                        )),
                        Entry::Outcome {
                            tenant,
                            key,
                            status,
                            request_id,
                            duration_ms,
                            ..
                        } => text.push_str(&format!(
                            "  {} {tenant} {key}: -> {} in {duration_ms} ms{}\n",
                            r.at,
                            status.map_or("no response".to_string(), |s| s.to_string()),
                            request_id
                                .as_ref()
                                .map(|id| format!(" [request-id {id}]"))
                                .unwrap_or_default()
                        )),
                        _ => {}
                    }
                }
            }
            out(&text);
            Ok(exit::OK)
        }
    }
}
