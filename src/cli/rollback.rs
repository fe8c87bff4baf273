//! `tenantform rollback RUN_ID`: plan the rollback of a deploy run from its journal and
//! before-images, show it, confirm, and apply it as a run of its own (journaled, resumable).

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::Arc;

use tenantform::deploy::rollback::{self, RollbackPlan, Step};
use tenantform::deploy::{self, DeployOptions, Fleet, RunJournal};
use tenantform::journal::Entry;
use tenantform::report::progress::Style;

use super::deploy::{Connection, client, confirm, make_run, runtime, tenants};
use super::{ProjectArg, err, exit, out};

/// Arguments of `rollback`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads the run's journal (.tenantform/runs/RUN_ID/journal.jsonl) and the before-images the deploy
recorded before each change (.tenantform/runs/RUN_ID/before/<tenant-id>.json, one per tenant; the
one file per object of runs recorded by older versions, before/<tenant-id>/<key>.json, is read
too), and shows
what it would do, per tenant: ~ revert (the properties the run changed, back to their values
before it), - delete (an object the run created), + recreate (an object the run deleted with
--prune, references to other re-created objects replaced by their new ids), = keep (a created
object, with --keep-created). Then asks to confirm, and applies it as a run of its own, journaled
under a new run id; `rollback RUN_ID --resume ROLLBACK_RUN_ID` finishes one that was interrupted.

The project's baselines are not changed: a later deploy applies them again. Revert them (git)
before deploying, or the rollback is undone.

Exit codes: 0 rolled back (or nothing to do, or --dry-run); 3 some tenant failed; 1 no such run,
or a run that cannot be rolled back; 64 usage (no --yes without a terminal, a --tenant the run
did not deploy).")]
pub(crate) struct Args {
    /// The deploy run to roll back (from `runs list` or the deploy output).
    run_id: String,
    #[command(flatten)]
    project: ProjectArg,
    /// Only this tenant (id or name) of the run; repeat for more.
    #[arg(long = "tenant", value_name = "ID")]
    tenants: Vec<String>,
    /// Keep the objects the run created (default: delete them).
    #[arg(long)]
    keep_created: bool,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Show what the rollback would do, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Finish an interrupted rollback of RUN_ID: the steps its journal does not record as done.
    #[arg(long, value_name = "ROLLBACK_RUN_ID")]
    resume: Option<String>,
    #[command(flatten)]
    lock: super::state::LockArgs,
    #[command(flatten)]
    connection: Connection,
}

/// A rollback plan as text: per tenant, one line per step, then the counts.
pub(crate) fn plan_text(plan: &RollbackPlan, names: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for t in &plan.tenants {
        let who = match names.get(&t.tenant) {
            Some(name) => format!("{name} ({})", t.tenant),
            None => t.tenant.clone(),
        };
        text.push_str(&format!("{who}:\n"));
        for step in &t.steps {
            let line = match step {
                Step::Revert { image } => format!(
                    "  ~ revert   {} ({}): {}\n",
                    image.key,
                    image.kind,
                    image.properties.join(", ")
                ),
                Step::Recreate { image } => format!(
                    "  + recreate {} ({}, was {})\n",
                    image.key,
                    image.kind,
                    image.object_id.as_deref().unwrap_or("-")
                ),
                Step::Delete {
                    key,
                    kind,
                    object_id,
                } => format!("  - delete   {key} ({kind} {object_id})\n"),
                Step::Keep { key, object_id } => format!(
                    "  = keep     {key} ({})\n",
                    object_id.as_deref().unwrap_or("-")
                ),
                Step::Skip { key, reason } => format!("  ! cannot undo {key}: {reason}\n"),
            };
            text.push_str(&line);
        }
    }
    text.push_str(&format!(
        "rollback of run {}: {}\n",
        plan.run,
        counts_text(plan)
    ));
    text
}

/// `2 revert, 1 delete, 1 recreate` over every tenant (`nothing to do` when empty).
pub(crate) fn counts_text(plan: &RollbackPlan) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &plan.tenants {
        for (verb, n) in t.counts() {
            *counts.entry(verb).or_default() += n;
        }
    }
    if counts.is_empty() {
        return "nothing to do".into();
    }
    let order = ["revert", "recreate", "delete", "keep", "cannot undo"];
    order
        .iter()
        .filter_map(|v| counts.get(v).map(|n| format!("{n} {v}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Steps done, per tenant, and tenants finished, by an earlier attempt of a rollback.
type Done = (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>);

fn resumed(fleet: &Fleet, of: &str, id: &str) -> Result<Done, String> {
    let path = deploy::run_dir(&fleet.dir, id).join("journal.jsonl");
    if !path.exists() {
        return Err(format!(
            "no rollback run {id} to resume ({} does not exist)",
            path.display()
        ));
    }
    let read = tenantform::journal::read(&path).map_err(|e| e.to_string())?;
    let mut is_of = false;
    let mut done: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut finished = BTreeSet::new();
    for r in &read.records {
        match &r.entry {
            Entry::RollbackOf { run } => is_of = run == of,
            Entry::Applied { tenant, key, .. } => {
                done.entry(tenant.to_ascii_lowercase())
                    .or_default()
                    .insert(key.clone());
            }
            Entry::TenantFinished {
                tenant, ok: true, ..
            } => {
                finished.insert(tenant.to_ascii_lowercase());
            }
            _ => {}
        }
    }
    if !is_of {
        return Err(format!("run {id} is not a rollback of run {of}"));
    }
    Ok((done, finished))
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    if !args.yes && !args.dry_run && !std::io::stdin().is_terminal() {
        err(
            "error: rollback changes live tenants and there is no terminal to confirm on; pass --yes (after reviewing `tenantform rollback RUN_ID --dry-run`)\n",
        );
        return Ok(exit::USAGE);
    }
    let dir = &args.project.project;
    let fleet = match Fleet::load(dir, today, deploy::process_env()) {
        Ok((fleet, _)) => Arc::new(fleet),
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::INVALID_INPUT);
        }
    };
    let store = match super::state::open_store(&fleet.dir, &super::state::settings(&fleet)) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    // The run (and an interrupted rollback of it) may have been made on another machine.
    for run in std::iter::once(&args.run_id).chain(args.resume.as_ref()) {
        if let Err(code) = super::state::fetch_run(&rt, &store, &fleet.dir, run) {
            return Ok(code);
        }
    }
    let mut plan = match rollback::plan_rollback(&fleet.dir, &args.run_id, args.keep_created) {
        Ok(plan) => plan,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::INVALID_INPUT);
        }
    };
    let names: BTreeMap<String, String> = fleet
        .project
        .tenants
        .iter()
        .map(|t| (t.id.to_ascii_lowercase(), t.name.clone()))
        .collect();
    if !args.tenants.is_empty() {
        let wanted: BTreeSet<String> = args
            .tenants
            .iter()
            .map(|t| {
                let t = t.to_ascii_lowercase();
                names
                    .iter()
                    .find(|(_, name)| name.to_ascii_lowercase() == t)
                    .map_or(t, |(id, _)| id.clone())
            })
            .collect();
        for w in &wanted {
            if !plan.tenants.iter().any(|t| &t.tenant == w) {
                err(&format!(
                    "error: run {} changed nothing in tenant {w}; `tenantform runs show {}` lists its tenants\n",
                    args.run_id, args.run_id
                ));
                return Ok(exit::USAGE);
            }
        }
        plan.tenants.retain(|t| wanted.contains(&t.tenant));
    }
    let (done, finished) = match &args.resume {
        Some(id) => match resumed(&fleet, &args.run_id, id) {
            Ok(done) => done,
            Err(e) => {
                err(&format!("error: {e}\n"));
                return Ok(exit::INVALID_INPUT);
            }
        },
        None => Default::default(),
    };
    plan.tenants.retain(|t| !finished.contains(&t.tenant));
    out(&plan_text(&plan, &names));
    if args.dry_run || plan.tenants.is_empty() {
        return Ok(exit::OK);
    }
    if !args.yes
        && !confirm(&format!(
            "\nRoll back run {} in {}? Only 'yes' will be accepted: ",
            args.run_id,
            tenants(plan.tenants.len())
        ))
    {
        err("rollback cancelled; nothing was changed\n");
        return Ok(exit::OK);
    }
    let run_id = args.resume.clone().unwrap_or_else(deploy::new_run_id);
    let run_state =
        match super::state::open_run_state(&rt, store, &fleet, "rollback", &run_id, &args.lock) {
            Ok(state) => state,
            Err(code) => return Ok(code),
        };
    let journal_path = deploy::run_dir(&fleet.dir, &run_id).join("journal.jsonl");
    let journal = Arc::new(RunJournal::open(&journal_path)?);
    let ids: Vec<String> = plan.tenants.iter().map(|t| t.tenant.clone()).collect();
    let version = env!("CARGO_PKG_VERSION").to_string();
    if args.resume.is_some() {
        journal.append(Entry::RunResumed {
            tenants: ids,
            version,
        });
    } else {
        journal.append(Entry::RunStarted {
            tenants: ids,
            version,
        });
        journal.append(Entry::RollbackOf {
            run: args.run_id.clone(),
        });
    }
    err(&format!(
        "rollback: run {run_id} rolls back run {}; journal {}\n",
        args.run_id,
        journal_path.display()
    ));
    let client = client(&args.connection)?;
    let run = make_run(
        fleet,
        client,
        Some(journal.clone()),
        Style::Quiet,
        "rollback",
        DeployOptions {
            plan_only: false,
            ..args.connection.options()
        },
    );
    let empty = BTreeSet::new();
    let mut text = String::new();
    let (mut succeeded, mut failed) = (0, 0);
    for t in &plan.tenants {
        if let Some(e) = run_state.error() {
            text.push_str(&format!(
                "{}: NOT STARTED: the state store failed ({e})\n",
                t.tenant
            ));
            failed += 1;
            continue;
        }
        // The tenant's lock, before its first write.
        if let Err(e) = rt.block_on(run_state.begin_tenant(&t.tenant, |holder| {
            err(&format!(
                "tenant {}: waiting for its lock, held by {}\n",
                t.tenant,
                holder.describe()
            ));
        })) {
            journal.append(Entry::TenantFinished {
                tenant: t.tenant.clone(),
                ok: false,
                reason: Some(e.to_string()),
            });
            text.push_str(&format!("{}: FAILED: {e}\n", t.tenant));
            failed += 1;
            continue;
        }
        let report = rt.block_on(rollback::apply_tenant(
            &run,
            t,
            done.get(&t.tenant).unwrap_or(&empty),
            args.resume.is_some(),
        ));
        journal.append(Entry::TenantFinished {
            tenant: t.tenant.clone(),
            ok: report.ok,
            reason: report.reason.clone(),
        });
        let _ = rt.block_on(run_state.end_tenant(&t.tenant));
        let c = &report.counts;
        if report.ok {
            succeeded += 1;
            text.push_str(&format!(
                "{} ({}): rolled back: {} reverted, {} recreated, {} deleted\n",
                report.name, report.id, c.updated, c.created, c.deleted
            ));
        } else {
            failed += 1;
            text.push_str(&format!(
                "{} ({}): FAILED: {}\n",
                report.name,
                report.id,
                report.reason.as_deref().unwrap_or("unknown")
            ));
            for f in report.failures.iter().skip(1) {
                text.push_str(&format!("  {}: {}\n", f.key, f.reason));
            }
        }
    }
    journal.append(Entry::RunFinished { succeeded, failed });
    if let Some(e) = journal.error() {
        err(&format!("error: the journal could not be written: {e}\n"));
    }
    let _ = rt.block_on(run_state.finish());
    if let Some(e) = run_state.error() {
        err(&format!(
            "error: the state store failed ({e}); this run's records are in {} and listed in .tenantform/unpublished for the next run from this directory to publish\n",
            journal_path.display()
        ));
        failed = failed.max(1);
    }
    text.push_str(&format!(
        "rollback {run_id}: {succeeded} of {} tenants rolled back{}\n",
        plan.tenants.len(),
        if failed > 0 {
            format!(
                "; {failed} failed (finish with `tenantform rollback {} --resume {run_id}`)",
                args.run_id
            )
        } else {
            String::new()
        }
    ));
    err(&text);
    Ok(if failed > 0 {
        exit::DEPLOY_FAILED
    } else {
        exit::OK
    })
}
