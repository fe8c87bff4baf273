//! The run history as the fleet status reads it: every journal under
//! `.tenantform/runs/<id>/journal.jsonl`, verified, folded into a [`RunStatus`] per run, what
//! each tenant did in it, and the record that last applied each resource (the evidence of what
//! was deployed, with its place in the hash chain).
//!
//! Input: the project directory. Output: [`Runs`], oldest run first.

use std::collections::BTreeMap;
use std::path::Path;

use crate::journal::{self, Entry};
use crate::report::fleet::{AppliedEvidence, RunStatus, TenantRun};

/// One tenant in one run, as its journal tells it.
#[derive(Debug, Clone, Default)]
pub struct TenantInRun {
    /// Its line in the run's history.
    pub run: Option<TenantRun>,
    /// Keys whose last request failed and which were not applied in the run, with why.
    pub failed_keys: BTreeMap<String, String>,
}

/// Every run of a project.
#[derive(Debug, Default)]
pub struct Runs {
    /// Per run, oldest first.
    pub runs: Vec<RunStatus>,
    /// Tenant id (lower case) → its runs, oldest first.
    pub by_tenant: BTreeMap<String, Vec<TenantInRun>>,
    /// (tenant id lower case, key) → the last record that applied it.
    pub applied: BTreeMap<(String, String), AppliedEvidence>,
}

fn seconds_between(start: &str, end: &str) -> Option<f64> {
    let start: jiff::Timestamp = start.parse().ok()?;
    let end: jiff::Timestamp = end.parse().ok()?;
    Some((end.as_millisecond() - start.as_millisecond()) as f64 / 1000.0)
}

/// Read every run of the project (a project never deployed has none).
pub fn read(project_dir: &Path) -> Runs {
    read_with(project_dir, &[])
}

/// The journals under `dir` (a run's directory, a runs directory, or an artifact holding them,
/// a few levels deep): run id (the journal's directory name) → path.
fn journals_under(dir: &Path, found: &mut BTreeMap<String, std::path::PathBuf>) {
    for entry in walkdir::WalkDir::new(dir)
        .max_depth(4)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() && entry.file_name() == "journal.jsonl" {
            let run = entry
                .path()
                .parent()
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .map(str::to_string);
            if let Some(run) = run {
                found
                    .entry(run)
                    .or_insert_with(|| entry.path().to_path_buf());
            }
        }
    }
}

/// [`read`], and the journals in `extra` directories too (`report --journals`: the journals
/// of shards that ran on other machines, kept as CI artifacts). A run found twice is read once.
pub fn read_with(project_dir: &Path, extra: &[std::path::PathBuf]) -> Runs {
    let mut found: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    let dir = crate::deploy::state_root(project_dir).join("runs");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.filter_map(Result::ok) {
            let journal = e.path().join("journal.jsonl");
            if let (true, Some(id)) = (journal.is_file(), e.file_name().to_str()) {
                found.insert(id.to_string(), journal);
            }
        }
    }
    for d in extra {
        journals_under(d, &mut found);
    }
    let mut runs = Runs::default();
    for (id, path) in found {
        let read = match journal::read(&path) {
            Ok(read) => read,
            Err(e) => {
                runs.runs.push(RunStatus {
                    run_id: id,
                    started: None,
                    ended: None,
                    seconds: None,
                    tenants: 0,
                    succeeded: 0,
                    failed: 0,
                    requests: 0,
                    finished: false,
                    error: Some(e.to_string()),
                });
                continue;
            }
        };
        fold(&id, &read, &mut runs);
    }
    runs
}

#[derive(Default)]
struct Fold {
    run: TenantRun,
    finished: bool,
    /// key → (last outcome failed, why)
    last_outcome: BTreeMap<String, (bool, String)>,
    applied_keys: std::collections::BTreeSet<String>,
}

fn fold(id: &str, read: &journal::ReadJournal, runs: &mut Runs) {
    let started = read.records.first().map(|r| r.at.clone());
    let ended = read.records.last().map(|r| r.at.clone());
    let mut finished = false;
    let mut requests = 0;
    let mut tenants: BTreeMap<String, Fold> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut entry = |tenants: &mut BTreeMap<String, Fold>, t: &str| -> String {
        let key = t.to_ascii_lowercase();
        if !tenants.contains_key(&key) {
            order.push(key.clone());
        }
        tenants.entry(key.clone()).or_insert_with(|| Fold {
            run: TenantRun {
                run_id: id.to_string(),
                at: None,
                ok: None,
                reason: None,
                applied: 0,
                requests: 0,
            },
            ..Fold::default()
        });
        key
    };
    for record in &read.records {
        match &record.entry {
            Entry::RunStarted { tenants: ids, .. } | Entry::RunResumed { tenants: ids, .. } => {
                finished = false;
                for t in ids {
                    entry(&mut tenants, t);
                }
            }
            Entry::Intent { tenant, .. } => {
                requests += 1;
                let k = entry(&mut tenants, tenant);
                if let Some(f) = tenants.get_mut(&k) {
                    f.run.requests += 1;
                }
            }
            Entry::Outcome {
                tenant,
                key,
                status,
                ..
            } => {
                let k = entry(&mut tenants, tenant);
                let failed = status.is_none_or(|s| s >= 400);
                let why = match status {
                    Some(s) => format!("Graph answered {s}"),
                    None => "no answer from Graph".to_string(),
                };
                if let Some(f) = tenants.get_mut(&k) {
                    f.last_outcome.insert(key.clone(), (failed, why));
                }
            }
            Entry::Applied {
                tenant,
                key,
                action,
                object_id,
                ..
            } => {
                let k = entry(&mut tenants, tenant);
                if let Some(f) = tenants.get_mut(&k) {
                    f.run.applied += 1;
                    f.applied_keys.insert(key.clone());
                }
                runs.applied.insert(
                    (k, key.clone()),
                    AppliedEvidence {
                        run_id: id.to_string(),
                        at: record.at.clone(),
                        action: action.clone(),
                        object_id: object_id.clone(),
                        record_hash: record.hash.clone(),
                    },
                );
            }
            Entry::TenantFinished { tenant, ok, reason } => {
                let k = entry(&mut tenants, tenant);
                if let Some(f) = tenants.get_mut(&k) {
                    f.run.ok = Some(*ok);
                    f.run.reason = reason.clone();
                    f.run.at = Some(record.at.clone());
                    f.finished = true;
                }
            }
            Entry::RunFinished { .. } => finished = true,
            // Which plan file the run applied, and what approved it: not state.
            Entry::PlanApplied { .. } | Entry::RollbackOf { .. } => {}
            // The dashboard reads skips (and their reasons) from the compiled bundles.
            Entry::Skipped { .. } => {}
        }
    }
    let mut succeeded = 0;
    let mut failed = 0;
    for key in &order {
        let Some(mut f) = tenants.remove(key) else {
            continue;
        };
        match f.run.ok {
            Some(true) => succeeded += 1,
            Some(false) => failed += 1,
            None => {}
        }
        if !f.finished {
            f.run.at = ended.clone();
        }
        let failed_keys = f
            .last_outcome
            .into_iter()
            .filter(|(k, (bad, _))| *bad && !f.applied_keys.contains(k))
            .map(|(k, (_, why))| (k, why))
            .collect();
        runs.by_tenant
            .entry(key.clone())
            .or_default()
            .push(TenantInRun {
                run: Some(f.run),
                failed_keys,
            });
    }
    runs.runs.push(RunStatus {
        run_id: id.to_string(),
        seconds: match (&started, &ended) {
            (Some(s), Some(e)) => seconds_between(s, e),
            _ => None,
        },
        started,
        ended,
        tenants: order.len(),
        succeeded,
        failed,
        requests,
        finished,
        error: None,
    });
}
