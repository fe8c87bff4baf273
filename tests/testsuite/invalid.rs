//! Every project under `fixtures/invalid/` fails `validate` with exit 1 and exactly the
//! diagnostics in its `expected.txt`; `compile` writes no bundle for a failed tenant.

use crate::harness::{Project, assert_matches_file, fixture, tenantform};

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture("invalid"))
        .expect("fixtures/invalid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn check(case: &str) {
    let dir = fixture(&format!("invalid/{case}"));
    let out = tenantform()
        .args(&["validate", "--project"])
        .arg(&dir)
        .run()
        .code(1);
    // Only the diagnostics: the per-tenant progress lines are tested elsewhere.
    let diagnostics: String = out
        .stderr
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("  ok ") && !l.starts_with("  FAILED "))
        .collect();
    assert!(!diagnostics.contains("panicked"), "{case}: {diagnostics}");
    assert_matches_file(&diagnostics, &dir.join("expected.txt"));
}

#[test]
fn every_invalid_fixture_has_an_expected_output() {
    let cases = cases();
    assert!(
        cases.len() >= 18,
        "fixtures/invalid holds {} cases",
        cases.len()
    );
    for case in cases {
        check(&case);
    }
}

#[test]
fn compile_writes_nothing_for_a_failed_tenant_and_still_compiles_the_others() {
    // Alpha misses a required parameter; Beta is fine.
    let p = Project::from_fixture("invalid/missing-required-param");
    let out_dir = p.path().join("out");
    p.cmd(&["compile", "--out", out_dir.to_str().expect("utf8")])
        .run()
        .code(1)
        .stderr_has("error[TF104]")
        .stderr_has("1 of 2 tenants compiled");
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        vec!["33333333-3333-4333-8333-333333333333.json".to_string()]
    );
}

#[test]
fn an_unreadable_file_is_reported_not_panicked_on() {
    let p = Project::from_fixture("valid/minimal");
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        p.path().join("nowhere.toml"),
        p.path().join("tenants/dangling.toml"),
    )
    .expect("symlink");
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("error[TF109]: cannot read tenants/dangling.toml")
        .stderr_has("--> tenants/dangling.toml:1:1");
}

#[test]
fn an_expired_override_warns_and_fails_only_under_strict() {
    let p = Project::from_fixture("valid/minimal");
    p.file(
        "tenants/tenants.toml",
        p.read("tenants/tenants.toml").replace(
            "state = \"enabled\"\n",
            "state = \"enabled\"\n\n[[tenant.overrides]]\nresource = \"block-other-countries\"\nvars = { x = 1 }\nreason = \"pilot\"\nexpires = \"2026-01-31\"\n",
        ),
    );
    p.cmd(&["validate"])
        .run()
        .success()
        .stderr_has("warning[TF112]: override of `block-other-countries` expired on 2026-01-31 (reason given: pilot); it still applies");
    p.cmd(&["validate", "--strict"])
        .run()
        .code(1)
        .stderr_has("error[TF112]");
}

#[test]
fn a_directory_without_tenantform_toml_is_invalid_input() {
    let p = Project::empty();
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("is not a tenantform project: it has no tenantform.toml");
}
