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

/// A tenant's before-images of a run, as one document (see [`crate::state::before`]):
/// `runs/<run-id>/before/<tenant-id>.json`.
pub fn before_images(run: &str, tenant: &str) -> String {
    format!("runs/{run}/before/{}.json", tenant.to_ascii_lowercase())
}

/// The tenant a key of a run's before-images belongs to, in either form: the document
/// `runs/<run-id>/before/<tenant-id>.json`, or a file of the older one-file-per-object form
/// `runs/<run-id>/before/<tenant-id>/<key>.json`. `None`: not such a key.
pub fn before_tenant(key: &str) -> Option<&str> {
    let (_, rest) = key.split_once("/before/")?;
    match rest.split_once('/') {
        Some((tenant, _)) => Some(tenant),
        None => rest.strip_suffix(".json"),
    }
}

/// True for the key of a tenant's before-images document (not a file of the older form).
pub fn is_before_images(key: &str) -> bool {
    key.split_once("/before/")
        .is_some_and(|(_, rest)| !rest.contains('/') && rest.ends_with(".json"))
}

/// The folder of a run's before-images of one tenant in the form runs recorded by older
/// versions kept (one file per object): `runs/<run-id>/before/<tenant-id>/`.
pub fn before_per_object(run: &str, tenant: &str) -> String {
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

    #[test]
    fn before_image_keys_of_both_forms_name_their_tenant() {
        let document = before_images("r", "T1");
        assert_eq!(document, "runs/r/before/t1.json");
        assert!(is_before_images(&document));
        assert_eq!(before_tenant(&document), Some("t1"));
        let per_object = format!("{}ca-x.json", before_per_object("r", "T1"));
        assert!(!is_before_images(&per_object));
        assert_eq!(before_tenant(&per_object), Some("t1"));
        assert_eq!(before_tenant("runs/r/journal/0000000000000000.jsonl"), None);
        assert!(!is_before_images("runs/r/before/t1.json.partial"));
    }
}
