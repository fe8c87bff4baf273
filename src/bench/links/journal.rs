//! What the links benchmark reads back from the deploy's journal: every tenant's requests
//! (first attempts, which do not depend on load, and retries, which do), split into the
//! tenant's own baseline and its link steps, and where the run's time went (the tenants'
//! phase, the hub's own baseline, the link phase, the replication waits of new configuration
//! apps).
//!
//! Input: the run's `journal.jsonl` and the project's link names. Output: [`JournalCounts`].
//! A link step's journal key is its step id, `<link>/<side>/<step>`; every other key is a
//! resource of the tenant's own bundle.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::super::BenchError;
use crate::journal::{self, Entry};

/// One tenant's requests, as its journal records them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TenantRequestCounts {
    /// First attempts of its own bundle's reads and writes (`$batch` items one each).
    pub baseline: usize,
    /// First attempts of link steps that are reads (GET).
    pub link_reads: usize,
    /// First attempts of link steps that write (POST, PATCH, PUT).
    pub link_writes: usize,
    /// Attempts after the first, of any request (replication waits, throttling, faults).
    pub retries: usize,
}

impl TenantRequestCounts {
    /// Every first attempt.
    pub fn requests(&self) -> usize {
        self.baseline + self.link_reads + self.link_writes
    }
}

/// Seconds from the run's start, and how long new objects took to be readable.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Phases {
    /// When the hub's own tenant deploy finished.
    pub hub_finished: f64,
    /// When the last tenant's own deploy finished (the link phase starts after it).
    pub tenants_finished: f64,
    /// The link phase's first request.
    pub links_started: f64,
    /// The link phase's last answer.
    pub links_finished: f64,
    /// Per link: the time its requests spent waiting for a new object to be readable (from a
    /// request's first attempt to its last), mean and longest, seconds.
    pub replication_wait_mean: f64,
    /// See `replication_wait_mean`.
    pub replication_wait_max: f64,
}

/// What the journal says.
#[derive(Debug, Clone, Default)]
pub(super) struct JournalCounts {
    /// Per tenant id.
    pub(super) tenants: BTreeMap<String, TenantRequestCounts>,
    /// Where the time went.
    pub(super) phases: Phases,
}

fn seconds(at: &str) -> Option<f64> {
    let t: jiff::Timestamp = at.parse().ok()?;
    Some(t.as_millisecond() as f64 / 1000.0)
}

/// Read the journal at `path`; `links` are the project's link names, `hub` the hub's id.
pub(super) fn read(
    path: &Path,
    links: &BTreeSet<String>,
    hub: &str,
) -> Result<JournalCounts, BenchError> {
    let mut counts = JournalCounts::default();
    let mut start: Option<f64> = None;
    let mut phases = Phases::default();
    let mut links_started: Option<f64> = None;
    // (tenant, key, method, path) -> time of the first attempt, for waits.
    let mut first_attempt: HashMap<(String, String, String, String), f64> = HashMap::new();
    let mut waits: BTreeMap<String, f64> = BTreeMap::new();
    let is_link = |key: &str| key.split('/').next().is_some_and(|l| links.contains(l));
    journal::read_each(path, |record| {
        let Some(at) = seconds(&record.at) else {
            return;
        };
        let since = at - *start.get_or_insert(at);
        match record.entry {
            Entry::Intent {
                tenant,
                key,
                method,
                path,
                attempt,
                ..
            } => {
                let link = is_link(&key);
                if link && links_started.is_none() {
                    links_started = Some(since);
                }
                let tenant_counts = counts.tenants.entry(tenant.clone()).or_default();
                let id = (tenant, key, method, path);
                if attempt > 1 {
                    tenant_counts.retries += 1;
                    if link && let Some(first) = first_attempt.get(&id) {
                        let name = id.1.split('/').next().unwrap_or_default().to_string();
                        *waits.entry(name).or_default() += at - first;
                        // The next retry of the same request adds only its own wait.
                        first_attempt.insert(id, at);
                    }
                    return;
                }
                match (link, id.2.as_str()) {
                    (false, _) => tenant_counts.baseline += 1,
                    (true, "GET") => tenant_counts.link_reads += 1,
                    (true, _) => tenant_counts.link_writes += 1,
                }
                if link {
                    first_attempt.insert(id, at);
                }
            }
            Entry::Outcome { key, .. } if is_link(&key) => phases.links_finished = since,
            Entry::TenantFinished { tenant, .. } => {
                phases.tenants_finished = phases.tenants_finished.max(since);
                if tenant == hub {
                    phases.hub_finished = since;
                }
            }
            _ => {}
        }
    })
    .map_err(|e| BenchError::Deploy(format!("reading the run's journal: {e}")))?;
    phases.links_started = links_started.unwrap_or_default();
    if !links.is_empty() {
        phases.replication_wait_mean = waits.values().sum::<f64>() / links.len() as f64;
        phases.replication_wait_max = waits.values().copied().fold(0.0, f64::max);
    }
    counts.phases = phases;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalWriter;

    fn intent(tenant: &str, key: &str, method: &str, attempt: u32) -> Entry {
        Entry::Intent {
            tenant: tenant.into(),
            key: key.into(),
            method: method.into(),
            path: format!("/p/{key}"),
            body_hash: None,
            attempt,
        }
    }

    #[test]
    fn a_journal_that_cannot_be_read_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let e = read(&dir.path().join("missing.jsonl"), &BTreeSet::new(), "hub")
            .expect_err("no journal");
        assert!(e.to_string().contains("reading the run's journal"), "{e}");
    }

    #[test]
    fn link_steps_baseline_and_retries_are_counted_apart_with_their_waits() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.jsonl");
        let mut writer = JournalWriter::open(&path).expect("open");
        let entries = [
            (
                "2026-12-06T10:00:00Z",
                intent("hub", "ca-policy", "POST", 1),
            ),
            (
                "2026-12-06T10:00:01Z",
                Entry::TenantFinished {
                    tenant: "hub".into(),
                    ok: true,
                    reason: None,
                },
            ),
            (
                "2026-12-06T10:00:02Z",
                intent("spoke", "l1/target/partner", "GET", 1),
            ),
            (
                "2026-12-06T10:00:02.5Z",
                intent("hub", "l1/source/job", "GET", 1),
            ),
            (
                "2026-12-06T10:00:03Z",
                intent("hub", "l1/source/job", "GET", 2),
            ),
            (
                "2026-12-06T10:00:04Z",
                intent("hub", "l1/source/job", "GET", 3),
            ),
            (
                "2026-12-06T10:00:04.2Z",
                intent("hub", "l1/source/job", "POST", 1),
            ),
        ];
        for (at, entry) in entries {
            writer.append(at, entry).expect("append");
        }
        drop(writer);
        let links: BTreeSet<String> = ["l1".to_string()].into();
        let counts = read(&path, &links, "hub").expect("read");
        let hub = &counts.tenants["hub"];
        assert_eq!(
            (hub.baseline, hub.link_reads, hub.link_writes, hub.retries),
            (1, 1, 1, 2)
        );
        assert_eq!(counts.tenants["spoke"].link_reads, 1);
        let p = &counts.phases;
        assert_eq!((p.hub_finished, p.links_started), (1.0, 2.0));
        // The job's read waited 1.5 s from its first attempt to its third.
        assert!((p.replication_wait_mean - 1.5).abs() < 1e-9, "{p:?}");
        assert!((p.replication_wait_max - 1.5).abs() < 1e-9, "{p:?}");
    }
}
