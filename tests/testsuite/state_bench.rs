//! `tenantform bench state` end to end on a small fleet: both deploys converge, the Azure Blob
//! one in a fresh in-memory Azurite, and the store's requests are reported by kind (one lock
//! created and one removed per tenant, no lock read before its release, no identity map read
//! for a tenant the store has none of, one before-images blob per tenant), with the tenants'
//! turns.

use std::process::Command;

use crate::azurite;

#[test]
fn bench_state_reports_the_stores_requests_by_kind_for_a_small_fleet() {
    let Some(program) = azurite::program() else {
        return;
    };
    let work = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tenantform"))
        .current_dir(work.path())
        .args([
            "--today",
            "2026-11-26",
            "bench",
            "state",
            "--tenants",
            "4",
            "--rounds",
            "1",
            "--time-scale",
            "20",
            "--azurite",
        ])
        .arg(&program)
        .env_remove("RUST_LOG")
        .output()
        .expect("run bench state");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for backend in ["local", "azure-blob"] {
        assert!(
            stdout.contains(&format!("round 1 {backend:<10}")),
            "{backend}: {stdout}"
        );
    }
    assert!(
        stdout.contains("failed 0  not started 0  locks left 0"),
        "{stdout}"
    );
    assert!(!stdout.contains("NOT PUBLISHED WHOLE"), "{stdout}");
    let count = |kind: &str| -> Option<u64> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{kind} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
    };
    assert_eq!(count("lock-create"), Some(4), "{stdout}");
    assert_eq!(count("lock-delete"), Some(4), "{stdout}");
    // Fresh tenants have no identity map in the store: a listing made after their locks were
    // taken says so, and none is read.
    assert_eq!(count("state-read"), None, "no absent map is read: {stdout}");
    assert!(
        count("list").is_some_and(|n| (2..=5).contains(&n)),
        "the journal's listing at the start and the maps' after the locks: {stdout}"
    );
    assert_eq!(count("state-write"), Some(4), "{stdout}");
    assert_eq!(
        count("lock-read"),
        None,
        "no lock is read before its release: {stdout}"
    );
    // Fresh tenants have built-in objects the baselines change: each tenant's before-images
    // of the run are one blob.
    assert_eq!(count("before-write"), Some(4), "{stdout}");
    assert!(
        count("journal-write").is_some_and(|n| (1..=5).contains(&n)),
        "{stdout}"
    );
    assert!(stdout.contains("ratio "), "{stdout}");
    assert!(stdout.contains("    turns: last ready "), "{stdout}");
    assert!(stdout.contains("    released last: "), "{stdout}");
}
