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
