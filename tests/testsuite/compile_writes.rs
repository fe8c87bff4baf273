//! How `compile` writes bundles: the bytes of a generated fleet of the shipped baselines (the
//! fleet `bench compile` measures) stay what they were before the write path was made faster,
//! nothing but finished bundles is ever left in OUT, and a bundle whose bytes are already on
//! disk is not written again.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::tenantform;

/// `<file name>  <size>  sha256:<digest>` for every file in `dir`, sorted by name.
fn listing(dir: &Path) -> String {
    let mut lines = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let bytes = std::fs::read(entry.path()).expect("read");
        lines.insert(
            entry.file_name().to_string_lossy().into_owned(),
            format!(
                "{}  {}",
                bytes.len(),
                tenantform::canonical::hash_bytes(&bytes)
            ),
        );
    }
    lines
        .into_iter()
        .map(|(name, line)| format!("{name}  {line}\n"))
        .collect()
}

/// A project of `tenants` generated tenants (init's three profiles, cycled), as `bench compile`
/// makes it.
fn fleet(tenants: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    tenantform::bench::write_fleet_project(&dir.path().join("project"), tenants).expect("fleet");
    dir
}

fn compile(dir: &Path, out: &Path, jobs: &str) {
    tenantform()
        .args(&["compile", "--strict", "-j", jobs, "--project"])
        .arg(dir.join("project"))
        .arg("--out")
        .arg(out)
        .run()
        .success();
}

#[test]
fn a_fleet_of_the_shipped_baselines_compiles_to_the_same_bytes_as_before() {
    // The digests were recorded with the write path as it was before bundles were handed to a
    // writer thread (commit 85aaef1): any change to the bytes `compile` writes shows here.
    let dir = fleet(9);
    let out = dir.path().join("out");
    compile(dir.path(), &out, "2");
    insta::assert_snapshot!("fleet_of_nine_bundle_digests", listing(&out));
    // One worker, or more workers than tenants: the same bytes.
    let one = dir.path().join("one");
    compile(dir.path(), &one, "1");
    assert_eq!(listing(&one), listing(&out));
    let many = dir.path().join("many");
    compile(dir.path(), &many, "12");
    assert_eq!(listing(&many), listing(&out));
}

/// Modification time (nanoseconds) and inode of every file in `dir`, by name.
fn stamps(dir: &Path) -> BTreeMap<String, (i128, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            let e = e.expect("entry");
            let meta = e.metadata().expect("metadata");
            (
                e.file_name().to_string_lossy().into_owned(),
                (
                    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                    meta.ino(),
                ),
            )
        })
        .collect()
}

#[test]
fn compiling_again_leaves_current_bundles_untouched_and_replaces_changed_ones() {
    let dir = fleet(3);
    let out = dir.path().join("out");
    compile(dir.path(), &out, "2");
    let first = listing(&out);
    let before = stamps(&out);
    assert_eq!(before.len(), 3);

    // Nothing changed: every file is left as it was (same inode, same modification time).
    std::thread::sleep(std::time::Duration::from_millis(20));
    compile(dir.path(), &out, "2");
    assert_eq!(listing(&out), first);
    assert_eq!(stamps(&out), before);

    // A file changed by hand, even to the same length, is put right; a missing one comes back.
    let names: Vec<String> = before.keys().cloned().collect();
    let edited = out.join(&names[0]);
    let mut bytes = std::fs::read(&edited).expect("read");
    let at = bytes.iter().position(|b| *b == b'{').expect("brace");
    bytes[at] = b' ';
    std::fs::write(&edited, &bytes).expect("edit");
    std::fs::remove_file(out.join(&names[1])).expect("remove");
    compile(dir.path(), &out, "2");
    assert_eq!(listing(&out), first);
    let after = stamps(&out);
    assert_eq!(after[&names[2]], before[&names[2]]);
    assert_ne!(after[&names[0]], before[&names[0]]);
}

#[test]
fn a_bundle_that_cannot_be_written_fails_its_tenant_only_and_leaves_no_temporary_file() {
    let dir = fleet(3);
    let out = dir.path().join("out");
    compile(dir.path(), &out, "2");
    let names: Vec<String> = stamps(&out).keys().cloned().collect();
    // A directory where one tenant's bundle goes: that tenant fails, the others are written.
    let blocked = out.join(&names[1]);
    std::fs::remove_file(&blocked).expect("remove");
    std::fs::create_dir(&blocked).expect("mkdir");
    std::fs::remove_file(out.join(&names[0])).expect("remove");
    let id = names[1].trim_end_matches(".json");
    tenantform()
        .args(&["compile", "--strict", "--project"])
        .arg(dir.path().join("project"))
        .arg("--out")
        .arg(&out)
        .run()
        .code(1)
        .stderr_has(&format!("cannot write the bundle of tenant {id}"))
        .stderr_has("2 of 3 tenants compiled");
    let mut left: Vec<String> = stamps(&out).keys().cloned().collect();
    left.sort();
    assert_eq!(left, names, "no temporary file left in OUT");
    assert!(out.join(&names[0]).is_file());
    assert!(blocked.is_dir());
}
