//! The keys of run state, one truth for the local working copy (`DIR/.tenantform/<key>`) and
//! every store: identity maps, locks, journals and their published segments, before-images.
//!
//! Input: tenant and run ids. Output: keys (`/`-separated, relative to the store).

/// A tenant's identity map: `state/<tenant-id>.json` (ids in lower case).
pub fn identity(tenant: &str) -> String {
    format!("state/{}.json", tenant.to_ascii_lowercase())
}

/// A tenant's lock: `locks/<tenant-id>.json`.
pub fn lock(tenant: &str) -> String {
    format!("locks/{}.json", tenant.to_ascii_lowercase())
}

/// The folder of every lock.
pub const LOCKS: &str = "locks/";

/// The folder of every run.
pub const RUNS: &str = "runs/";

/// A run's journal in the working copy: `runs/<run-id>/journal.jsonl`.
pub fn journal(run: &str) -> String {
    format!("runs/{run}/journal.jsonl")
}

/// The folder of a run's published journal segments: `runs/<run-id>/journal/`.
pub fn journal_segments(run: &str) -> String {
    format!("runs/{run}/journal/")
}

/// The published segment of a run's journal that starts at byte `offset`:
/// `runs/<run-id>/journal/<offset, 16 digits>.jsonl` (names sort in journal order).
pub fn journal_segment(run: &str, offset: u64) -> String {
    format!("runs/{run}/journal/{offset:016}.jsonl")
}

/// The byte offset a segment key starts at (`None`: not a segment).
pub fn segment_offset(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    name.strip_suffix(".jsonl")?.parse().ok()
}

/// The folder of a run's before-images of one tenant: `runs/<run-id>/before/<tenant-id>/`.
pub fn before(run: &str, tenant: &str) -> String {
    format!("runs/{run}/before/{}/", tenant.to_ascii_lowercase())
}

/// The folder of a run's before-images: `runs/<run-id>/before/`.
pub fn befores(run: &str) -> String {
    format!("runs/{run}/before/")
}

/// The working copy's list of what a run could not publish (storage was down): published
/// first by the next run from the same directory.
pub const UNPUBLISHED: &str = "unpublished";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_in_journal_order_and_read_back() {
        let a = journal_segment("r", 9);
        let b = journal_segment("r", 10);
        assert!(a < b);
        assert_eq!(segment_offset(&b), Some(10));
        assert_eq!(segment_offset("runs/r/journal.jsonl"), None);
        assert_eq!(identity("ABC"), "state/abc.json");
    }
}
