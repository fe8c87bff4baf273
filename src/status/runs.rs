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
        // Folded record by record (a run of thousands of tenants is millions of records), and
        // kept aside until the whole journal is verified: a broken journal counts for nothing.
        let mut folding = RunFold::new(&id);
        match journal::read_each(&path, |record| folding.add(&record)) {
            Ok(_) => folding.finish(&mut runs),
            Err(e) => runs.runs.push(RunStatus {
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
            }),
        }
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

/// One run's journal, folded as its records come.
struct RunFold {
    id: String,
    started: Option<String>,
    ended: Option<String>,
    finished: bool,
    requests: usize,
    tenants: BTreeMap<String, Fold>,
    /// Tenants (lower case) in the order they first appear.
    order: Vec<String>,
    /// (tenant id lower case, key) → the run's last record that applied it.
    applied: BTreeMap<(String, String), AppliedEvidence>,
}

impl RunFold {
    fn new(id: &str) -> RunFold {
        RunFold {
            id: id.to_string(),
            started: None,
            ended: None,
            finished: false,
            requests: 0,
            tenants: BTreeMap::new(),
            order: Vec::new(),
            applied: BTreeMap::new(),
        }
    }

    /// The tenant's fold (lower-case id), made on its first record.
    fn tenant(&mut self, tenant: &str) -> (String, &mut Fold) {
        let key = tenant.to_ascii_lowercase();
        if !self.tenants.contains_key(&key) {
            self.order.push(key.clone());
        }
        let id = &self.id;
        let fold = self.tenants.entry(key.clone()).or_insert_with(|| Fold {
            run: TenantRun {
                run_id: id.clone(),
                at: None,
                ok: None,
                reason: None,
                applied: 0,
                requests: 0,
            },
            ..Fold::default()
        });
        (key, fold)
    }

    fn add(&mut self, record: &journal::Record) {
        if self.started.is_none() {
            self.started = Some(record.at.clone());
        }
        self.ended = Some(record.at.clone());
        match &record.entry {
            Entry::RunStarted { tenants: ids, .. } | Entry::RunResumed { tenants: ids, .. } => {
                self.finished = false;
                for t in ids {
                    self.tenant(t);
                }
            }
            Entry::Intent { tenant, .. } => {
                self.requests += 1;
                self.tenant(tenant).1.run.requests += 1;
            }
            Entry::Outcome {
                tenant,
                key,
                status,
                ..
            } => {
                let failed = status.is_none_or(|s| s >= 400);
                let why = match status {
                    Some(s) => format!("Graph answered {s}"),
                    None => "no answer from Graph".to_string(),
                };
                self.tenant(tenant)
                    .1
                    .last_outcome
                    .insert(key.clone(), (failed, why));
            }
            Entry::Applied {
                tenant,
                key,
                action,
                object_id,
                ..
            } => {
                let (k, fold) = self.tenant(tenant);
                fold.run.applied += 1;
                fold.applied_keys.insert(key.clone());
                self.applied.insert(
                    (k, key.clone()),
                    AppliedEvidence {
                        run_id: self.id.clone(),
                        at: record.at.clone(),
                        action: action.clone(),
                        object_id: object_id.clone(),
                        record_hash: record.hash.clone(),
                    },
                );
            }
            Entry::TenantFinished { tenant, ok, reason } => {
                let fold = self.tenant(tenant).1;
                fold.run.ok = Some(*ok);
                fold.run.reason = reason.clone();
                fold.run.at = Some(record.at.clone());
                fold.finished = true;
            }
            Entry::RunFinished { .. } => self.finished = true,
            // Which plan file the run applied, and what approved it: not state.
            Entry::PlanApplied { .. } | Entry::RollbackOf { .. } => {}
            // The dashboard reads skips (and their reasons) from the compiled bundles.
            Entry::Skipped { .. } => {}
        }
    }

    /// The whole journal was read and verified: its run and tenants join the history.
    fn finish(mut self, runs: &mut Runs) {
        let mut succeeded = 0;
        let mut failed = 0;
        for key in &self.order {
            let Some(mut f) = self.tenants.remove(key) else {
                continue;
            };
            match f.run.ok {
                Some(true) => succeeded += 1,
                Some(false) => failed += 1,
                None => {}
            }
            if !f.finished {
                f.run.at.clone_from(&self.ended);
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
        runs.applied.extend(self.applied);
        runs.runs.push(RunStatus {
            run_id: self.id,
            seconds: match (&self.started, &self.ended) {
                (Some(s), Some(e)) => seconds_between(s, e),
                _ => None,
            },
            started: self.started,
            ended: self.ended,
            tenants: self.order.len(),
            succeeded,
            failed,
            requests: self.requests,
            finished: self.finished,
            error: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalWriter;

    fn write_run(project: &Path, run: &str, tenant: &str, key: &str) -> std::path::PathBuf {
        let path = crate::deploy::run_dir(project, run).join("journal.jsonl");
        let mut w = JournalWriter::open(&path).expect("open");
        let at = |s: u32| format!("2026-11-26T10:00:{s:02}Z");
        w.append(
            &at(0),
            Entry::RunStarted {
                tenants: vec![tenant.into()],
                version: "0".into(),
            },
        )
        .expect("append");
        w.append(
            &at(1),
            Entry::Applied {
                tenant: tenant.into(),
                key: key.into(),
                action: "created".into(),
                object_id: Some("o1".into()),
                kind: None,
            },
        )
        .expect("append");
        w.append(
            &at(2),
            Entry::TenantFinished {
                tenant: tenant.into(),
                ok: true,
                reason: None,
            },
        )
        .expect("append");
        w.append(
            &at(3),
            Entry::RunFinished {
                succeeded: 1,
                failed: 0,
            },
        )
        .expect("append");
        path
    }

    #[test]
    fn a_journal_broken_after_records_were_folded_counts_for_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        write_run(dir.path(), "20261126T100000Z-aaaa", "T1", "group-a");
        let broken = write_run(dir.path(), "20261126T110000Z-bbbb", "T2", "group-b");
        // The last record edited: every record before it folds before the break is seen.
        let text = std::fs::read_to_string(&broken).expect("read");
        std::fs::write(&broken, text.replace("\"succeeded\":1", "\"succeeded\":2")).expect("write");

        let runs = read(dir.path());
        assert_eq!(runs.runs.len(), 2);
        assert_eq!(runs.runs[0].error, None);
        assert_eq!(
            (
                runs.runs[0].tenants,
                runs.runs[0].succeeded,
                runs.runs[0].finished
            ),
            (1, 1, true)
        );
        assert_eq!(runs.runs[0].seconds, Some(3.0));
        let error = runs.runs[1]
            .error
            .as_deref()
            .expect("the broken run's error");
        assert!(error.contains("hash chain breaks at line 4"), "{error}");
        // Nothing of the broken run: no tenant line, no applied evidence.
        assert!(runs.by_tenant.contains_key("t1"));
        assert!(!runs.by_tenant.contains_key("t2"), "{:?}", runs.by_tenant);
        assert!(
            runs.applied
                .contains_key(&("t1".to_string(), "group-a".to_string()))
        );
        assert_eq!(runs.applied.len(), 1);
    }
}
