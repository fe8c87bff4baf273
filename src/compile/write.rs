//! Writing a bundle to `OUT/<tenant-id>.json`: its bytes reach the file whole or not at all, and
//! a file that already holds exactly those bytes is left as it is (cargo's freshness, by
//! content: its modification time and inode stay, so tools that watch OUT see no change).
//!
//! Input: a bundle's file bytes, serialized once by the worker that compiled it
//! ([`bundle_bytes`]). Output: the file, and whether it was created, replaced or already current
//! ([`Written`]).
//!
//! A new or changed bundle is written to `OUT/.<tenant-id>.json.tmp` in one `write` and renamed
//! over the bundle, so a process that is killed part-way (Ctrl-C, out of memory) leaves the old
//! bundle or the new one, never part of one. Nothing is flushed to the disk (`fsync`): a bundle is
//! a pure function of the project, so after a power loss the next `compile` writes it again.

use std::io;
use std::path::{Path, PathBuf};

use crate::compile::validate::ValidatedBundle;

/// What writing a bundle did to its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// There was no file: it was created.
    Created,
    /// The file held other bytes: it was replaced.
    Replaced,
    /// The file held exactly these bytes already: it was not touched.
    Unchanged,
}

/// Where a tenant's bundle goes: `OUT/<tenant-id>.json`.
pub fn bundle_path(out_dir: &Path, tenant_id: &str) -> PathBuf {
    out_dir.join(format!("{tenant_id}.json"))
}

/// The bundle file's bytes (pretty canonical JSON ending with a newline), in one buffer.
pub fn bundle_bytes(bundle: &ValidatedBundle) -> Vec<u8> {
    // A bundle of the shipped baselines is 65 to 120 KB: one allocation for most.
    let mut bytes = Vec::with_capacity(128 * 1024);
    // Writing to a Vec cannot fail.
    let _ = bundle.write_pretty_json(&mut bytes);
    bytes
}

/// Write `bytes` to `path` unless the file holds them already; whole or not at all.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<Written> {
    let written = match std::fs::symlink_metadata(path) {
        // Same length first (one `stat`), then the bytes themselves.
        Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {
            if std::fs::read(path)? == bytes {
                return Ok(Written::Unchanged);
            }
            Written::Replaced
        }
        Ok(_) => Written::Replaced,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Written::Created,
        Err(e) => return Err(e),
    };
    replace(path, bytes)?;
    Ok(written)
}

/// Write `bytes` to a temporary file beside `path` and rename it over `path`; on failure the
/// temporary file is removed and `path` is as it was.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temporary_path(path);
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        // Nothing half-written stays behind.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `OUT/.<name>.tmp` for `OUT/<name>`: hidden, and never taken for a bundle.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Write a bundle to `OUT/<tenant-id>.json` (see [`write_if_changed`]); returns its path.
pub fn write_bundle(out_dir: &Path, bundle: &ValidatedBundle) -> io::Result<PathBuf> {
    let path = bundle_path(out_dir, &bundle.bundle().tenant.id);
    write_if_changed(&path, &bundle_bytes(bundle))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_created_and_the_same_bytes_again_leave_it_alone() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        assert_eq!(
            write_if_changed(&path, b"{}\n").expect("write"),
            Written::Created
        );
        let before = std::fs::metadata(&path).expect("meta");
        assert_eq!(
            write_if_changed(&path, b"{}\n").expect("write"),
            Written::Unchanged
        );
        let after = std::fs::metadata(&path).expect("meta");
        // Not rewritten: the same inode, not modified since.
        assert_eq!(before.ino(), after.ino());
        assert_eq!(before.mtime_nsec(), after.mtime_nsec());
        assert_eq!(before.mtime(), after.mtime());
        assert_eq!(entries(dir.path()), ["t.json"]);
    }

    #[test]
    fn other_bytes_of_the_same_length_or_another_length_replace_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        std::fs::write(&path, b"{\"a\": 1}\n").expect("seed");
        assert_eq!(
            write_if_changed(&path, b"{\"a\": 2}\n").expect("write"),
            Written::Replaced
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"{\"a\": 2}\n");
        assert_eq!(
            write_if_changed(&path, b"{}\n").expect("write"),
            Written::Replaced
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"{}\n");
        assert_eq!(entries(dir.path()), ["t.json"]);
    }

    #[test]
    fn a_directory_in_the_bundles_place_is_an_error_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        std::fs::create_dir(&path).expect("mkdir");
        assert!(write_if_changed(&path, b"{}\n").is_err());
        assert!(path.is_dir());
        assert_eq!(entries(dir.path()), ["t.json"]);
    }

    #[test]
    fn a_failed_write_is_an_error_and_the_old_bundle_stays_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        std::fs::write(&path, b"old\n").expect("seed");
        // Something in the temporary file's place: the new bytes cannot be written.
        std::fs::create_dir(dir.path().join(".t.json.tmp")).expect("mkdir");
        assert!(write_if_changed(&path, b"new\n").is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"old\n");
        assert_eq!(entries(dir.path()), [".t.json.tmp", "t.json"]);
    }
}
