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
    // Only the diagnostics: the per-tenant progress lines and the facts note are tested
    // elsewhere (tests/testsuite/facts.rs).
    let diagnostics: String = out
        .stderr
        .split_inclusive('\n')
        .filter(|l| {
            !l.starts_with("  ok ")
                && !l.starts_with("  FAILED ")
                && !l.starts_with("          skipped ")
                && !l.starts_with("note: facts: ")
        })
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

/// The layers fixture with its two tenants in two files, compiled once into `out`.
fn two_tenant_files_compiled_once() -> (Project, std::path::PathBuf, String, String) {
    let p = Project::from_fixture("valid/layers");
    let fleet = p.read("tenants/fleet.toml");
    let second = fleet
        .find("[[tenant]]\nid = \"aaaaaaaa-0000-4000-8000-000000000003\"")
        .expect("second tenant");
    let (a, b) = fleet.split_at(second);
    std::fs::remove_file(p.path().join("tenants/fleet.toml")).expect("rm");
    p.file("tenants/a.toml", a).file("tenants/b.toml", b);
    let out_dir = p.path().join("out");
    p.cmd(&["compile", "--out", out_dir.to_str().expect("utf8")])
        .run()
        .success();
    (p, out_dir, a.to_string(), b.to_string())
}

fn bundles_in(out_dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_tenant_whose_file_does_not_parse_keeps_no_bundle_from_an_earlier_run() {
    // Regression (issue 15): after a good compile, a TOML syntax error in one tenant's file
    // left that tenant's old bundle in `out/`.
    let (p, out_dir, _, b) = two_tenant_files_compiled_once();
    assert_eq!(bundles_in(&out_dir).len(), 2);
    // Something else in `out/` that merely looks like a bundle's name is not touched.
    p.file(
        "out/cccccccc-0000-4000-8000-000000000009.json",
        "{\"format\": \"something else\"}",
    );
    p.file(
        "tenants/b.toml",
        b.replace("name = \"Skipper\"", "name = \"Skipper"),
    );
    p.cmd(&["compile", "--out", out_dir.to_str().expect("utf8")])
        .run()
        .code(1)
        .stderr_has("error[TF101]")
        .stderr_has("aaaaaaaa-0000-4000-8000-000000000003.json: an earlier bundle of a tenant this run cannot read");
    assert_eq!(
        bundles_in(&out_dir),
        vec![
            "aaaaaaaa-0000-4000-8000-000000000001.json".to_string(),
            "cccccccc-0000-4000-8000-000000000009.json".to_string(),
        ]
    );
}

#[test]
fn a_tenant_removed_from_a_project_that_loads_keeps_its_bundle() {
    // As the book says: with every tenants file loading, a bundle of a tenant that is no
    // longer in the project is left alone.
    let (p, out_dir, _, _) = two_tenant_files_compiled_once();
    std::fs::remove_file(p.path().join("tenants/b.toml")).expect("rm");
    p.cmd(&["compile", "--out", out_dir.to_str().expect("utf8")])
        .run()
        .success();
    assert_eq!(bundles_in(&out_dir).len(), 2);
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

#[test]
fn errors_in_a_later_fleet_entry_point_at_its_own_line() {
    // Fleet files are parsed entry by entry; locations must still be file positions.
    let p = Project::from_fixture("valid/minimal");
    let mut text = p.read("tenants/tenants.toml");
    text.push_str("\n[[tenant]]\nid = \"not-a-guid\"\nname = \"Gamma\"\nbaselines = [\"core\"]\n");
    let line = text
        .lines()
        .position(|l| l == "id = \"not-a-guid\"")
        .expect("line")
        + 1;
    p.file("tenants/tenants.toml", &text);
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("error[TF116]: tenant `id` must be the tenant's GUID")
        .stderr_has(&format!("--> tenants/tenants.toml:{line}:6"))
        // The other tenants of the file still compile.
        .stderr_has("2 tenant(s), 6 operations");
}

#[test]
fn strict_compile_fails_a_tenant_with_a_warning_and_removes_its_stale_bundle() {
    let p = Project::from_fixture("valid/minimal");
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    let beta = out.join("33333333-3333-4333-8333-333333333333.json");
    assert!(beta.is_file());
    p.file(
        "tenants/tenants.toml",
        p.read("tenants/tenants.toml").replace(
            "state = \"enabled\"\n",
            "state = \"enabled\"\n\n[[tenant.overrides]]\nresource = \"block-other-countries\"\nvars = { x = 1 }\nreason = \"pilot\"\nexpires = \"2026-01-31\"\n",
        ),
    );
    p.cmd(&["compile", "--strict", "--out", out.to_str().expect("utf8")])
        .run()
        .code(1)
        .stderr_has("error[TF112]")
        .stderr_has("its bundle from an earlier run was removed")
        .stderr_has("1 of 2 tenants compiled");
    assert!(
        !beta.exists(),
        "a failed tenant's old bundle must not stay in OUT"
    );
    assert!(
        out.join("11111111-1111-4111-8111-111111111111.json")
            .is_file()
    );
}

#[test]
fn hidden_files_and_non_tera_files_in_templates_are_ignored() {
    let p = Project::from_fixture("valid/minimal");
    p.file("templates/README.md", "Templates: {{ not a template }}");
    p.file("templates/.group.json.tera.swp", "{{ broken");
    p.file("tenants/.backup.toml", "not toml at all [[[");
    p.file("baselines/archive/old.toml", "not toml at all [[[");
    p.cmd(&["validate", "--strict"])
        .run()
        .success()
        .stderr_has("0 errors, 0 warnings");
}

#[test]
fn a_project_with_no_tenants_is_an_error_unless_allowed() {
    // Regression (issue 15): with tenants/ missing or empty, validate and compile exited 0 with
    // "0 tenant(s)", so a CI job went green on a broken checkout.
    let p = Project::from_fixture("valid/minimal");
    std::fs::remove_dir_all(p.path().join("tenants")).expect("rm tenants");
    let out_dir = p.path().join("out");
    let out = out_dir.to_str().expect("utf8");
    for args in [vec!["validate"], vec!["compile", "--out", out]] {
        p.cmd(&args)
            .run()
            .code(1)
            .stderr_has("error[TF118]: the project has no tenants: tenants/ is missing")
            .stderr_has("--> tenantform.toml:1:1")
            .stderr_has("--allow-empty");
        let mut allowed = args.clone();
        allowed.push("--allow-empty");
        p.cmd(&allowed).run().success().stderr_has("warning[TF118]");
        // --strict makes every warning an error, this one too.
        allowed.push("--strict");
        p.cmd(&allowed).run().code(1).stderr_has("error[TF118]");
    }
    // A tenants file that declares no tenant: the error points at it.
    p.file("tenants/tenants.toml", "# no tenants yet\n");
    p.cmd(&["validate", "--format", "json"])
        .run()
        .code(1)
        .stdout_has("\"TF118\"")
        .stdout_has("tenants/tenants.toml");
}

#[test]
fn a_tenants_file_that_does_not_parse_is_not_also_called_an_empty_project() {
    let p = Project::from_fixture("valid/minimal");
    p.file("tenants/tenants.toml", "[[tenant]\n");
    let out = p
        .cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("error[TF101]");
    assert!(!out.stderr.contains("TF118"), "{}", out.stderr);
}

#[test]
fn plan_and_drift_on_a_project_whose_own_file_is_broken_name_the_project_not_a_tenant() {
    // Errors of the project itself fail no tenant: the summary line said "1 of the selected
    // tenants do not compile" for a project without any.
    let p = Project::from_fixture("valid/minimal");
    p.file("tenantform.toml", "this is [not toml\n");
    for verb in ["plan", "drift"] {
        p.cmd(&[verb, "--all"])
            .run()
            .code(1)
            .stderr_has("error[TF101]: invalid TOML")
            .stderr_has("--> tenantform.toml:1:6")
            .stderr_has("error: the project has errors; fix them (tenantform validate)")
            .stderr_lacks("of the selected tenants do not compile");
    }
}
