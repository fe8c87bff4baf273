//! Counts and times of a remote store's requests, by what they are for (a lock taken, renewed,
//! read or released; an identity map read or written; a journal segment; a before-image; a
//! listing), so that `bench state` can say where a run with remote state spends its time.
//! Recording is a few atomic additions per request; nothing is kept per request.
//!
//! Input: each finished request's action, key, duration and retries. Output: a
//! [`StatsSnapshot`] of counts, total and longest times, retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a request to the store was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreOp {
    /// A lock created (taken when free).
    LockCreate,
    /// A lock replaced on its version (renewed, or taken over from a dead holder).
    LockReplace,
    /// A lock read (held by someone, or checked before release).
    LockRead,
    /// A lock removed (released).
    LockDelete,
    /// An identity map read.
    StateRead,
    /// An identity map written.
    StateWrite,
    /// A journal segment written.
    JournalWrite,
    /// A tenant's before-images written (one document per tenant and run; a file per object
    /// in runs of older versions).
    BeforeWrite,
    /// A listing (journal segments, locks, runs).
    List,
    /// Anything else (reads of journals and before-images, deletes of other keys).
    Other,
}

impl StoreOp {
    /// Every kind, in report order.
    pub const ALL: [StoreOp; 10] = [
        StoreOp::LockCreate,
        StoreOp::LockReplace,
        StoreOp::LockRead,
        StoreOp::LockDelete,
        StoreOp::StateRead,
        StoreOp::StateWrite,
        StoreOp::JournalWrite,
        StoreOp::BeforeWrite,
        StoreOp::List,
        StoreOp::Other,
    ];

    /// The kind of a request: `action` as in [`crate::state::StateError::Storage`] on `key`.
    pub fn of(action: &str, key: &str) -> StoreOp {
        let lock = key.starts_with(crate::state::layout::LOCKS);
        let state = key.starts_with("state/");
        match action {
            "list" => StoreOp::List,
            "create" if lock => StoreOp::LockCreate,
            "replace" if lock => StoreOp::LockReplace,
            "read" if lock => StoreOp::LockRead,
            "delete" if lock => StoreOp::LockDelete,
            "read" if state => StoreOp::StateRead,
            "write" if state => StoreOp::StateWrite,
            "write" if key.contains("/journal/") => StoreOp::JournalWrite,
            "write" | "create" | "replace" if key.contains("/before/") => StoreOp::BeforeWrite,
            _ => StoreOp::Other,
        }
    }

    /// The kind's name in reports (`lock-create`).
    pub fn name(self) -> &'static str {
        match self {
            StoreOp::LockCreate => "lock-create",
            StoreOp::LockReplace => "lock-replace",
            StoreOp::LockRead => "lock-read",
            StoreOp::LockDelete => "lock-delete",
            StoreOp::StateRead => "state-read",
            StoreOp::StateWrite => "state-write",
            StoreOp::JournalWrite => "journal-write",
            StoreOp::BeforeWrite => "before-write",
            StoreOp::List => "list",
            StoreOp::Other => "other",
        }
    }
}

#[derive(Debug, Default)]
struct Counter {
    count: AtomicU64,
    micros: AtomicU64,
    max_micros: AtomicU64,
    retries: AtomicU64,
}

/// Counts and times of one store's requests (shared by every task of a run).
#[derive(Debug, Default)]
pub struct StoreStats {
    counters: [Counter; StoreOp::ALL.len()],
}

/// One kind's figures.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OpFigures {
    /// The kind.
    pub op: StoreOp,
    /// Requests (a retried request counts once).
    pub count: u64,
    /// Their total time, seconds (retries and waits between them included).
    pub total_seconds: f64,
    /// The longest one, seconds.
    pub max_seconds: f64,
    /// Retries made.
    pub retries: u64,
}

/// Every kind's figures (kinds never requested left out).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StatsSnapshot {
    /// By kind, in [`StoreOp::ALL`] order.
    pub ops: Vec<OpFigures>,
}

impl StatsSnapshot {
    /// Requests of every kind.
    pub fn requests(&self) -> u64 {
        self.ops.iter().map(|o| o.count).sum()
    }
}

impl StoreStats {
    /// Record a finished request (successful or not).
    pub fn record(&self, op: StoreOp, took: Duration, retries: u32) {
        let Some(counter) = StoreOp::ALL
            .iter()
            .position(|k| *k == op)
            .and_then(|i| self.counters.get(i))
        else {
            return;
        };
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        counter.count.fetch_add(1, Ordering::Relaxed);
        counter.micros.fetch_add(micros, Ordering::Relaxed);
        counter.max_micros.fetch_max(micros, Ordering::Relaxed);
        counter
            .retries
            .fetch_add(u64::from(retries), Ordering::Relaxed);
    }

    /// The figures so far.
    pub fn snapshot(&self) -> StatsSnapshot {
        let ops = StoreOp::ALL
            .iter()
            .zip(&self.counters)
            .filter_map(|(op, c)| {
                let count = c.count.load(Ordering::Relaxed);
                (count > 0).then(|| OpFigures {
                    op: *op,
                    count,
                    total_seconds: c.micros.load(Ordering::Relaxed) as f64 / 1e6,
                    max_seconds: c.max_micros.load(Ordering::Relaxed) as f64 / 1e6,
                    retries: c.retries.load(Ordering::Relaxed),
                })
            })
            .collect();
        StatsSnapshot { ops }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_action_and_key() {
        assert_eq!(StoreOp::of("create", "locks/t.json"), StoreOp::LockCreate);
        assert_eq!(StoreOp::of("replace", "locks/t.json"), StoreOp::LockReplace);
        assert_eq!(StoreOp::of("delete", "locks/t.json"), StoreOp::LockDelete);
        assert_eq!(StoreOp::of("read", "state/t.json"), StoreOp::StateRead);
        assert_eq!(StoreOp::of("write", "state/t.json"), StoreOp::StateWrite);
        assert_eq!(
            StoreOp::of("write", "runs/r/journal/0000000000000000.jsonl"),
            StoreOp::JournalWrite
        );
        assert_eq!(
            StoreOp::of("write", "runs/r/before/t/k.json"),
            StoreOp::BeforeWrite
        );
        assert_eq!(
            StoreOp::of("create", "runs/r/before/t.json"),
            StoreOp::BeforeWrite
        );
        assert_eq!(StoreOp::of("list", "runs/r/journal/"), StoreOp::List);
        assert_eq!(
            StoreOp::of("read", "runs/r/journal/0.jsonl"),
            StoreOp::Other
        );
    }

    #[test]
    fn counts_times_and_retries_add_up_per_kind() {
        let stats = StoreStats::default();
        stats.record(StoreOp::LockCreate, Duration::from_millis(10), 0);
        stats.record(StoreOp::LockCreate, Duration::from_millis(30), 2);
        stats.record(StoreOp::StateWrite, Duration::from_millis(5), 0);
        let snap = stats.snapshot();
        assert_eq!(snap.requests(), 3);
        assert_eq!(snap.ops.len(), 2, "kinds never requested are left out");
        let lock = snap.ops[0];
        assert_eq!(
            (lock.op, lock.count, lock.retries),
            (StoreOp::LockCreate, 2, 2)
        );
        assert!((lock.total_seconds - 0.040).abs() < 1e-9);
        assert!((lock.max_seconds - 0.030).abs() < 1e-9);
    }
}
