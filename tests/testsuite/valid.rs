//! Every project under `fixtures/valid/` validates with no error and no warning under
//! `--strict`, and compiles to the bundles in the snapshots (reviewed by a person).

use crate::harness::{Project, fixture};

fn valid_cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture("valid"))
        .expect("fixtures/valid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_valid_fixture_is_clean_under_strict() {
    for case in valid_cases() {
        let p = Project::from_fixture(&format!("valid/{case}"));
        p.cmd(&["validate", "--strict"])
            .run()
            .success()
            .stderr_has("0 errors, 0 warnings");
    }
}

#[test]
fn valid_fixtures_compile_to_the_reviewed_bundles() {
    for case in valid_cases() {
        let p = Project::from_fixture(&format!("valid/{case}"));
        let out = p.path().join("out");
        p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
            .run()
            .success();
        let mut files: Vec<_> = std::fs::read_dir(&out)
            .expect("out")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{case} wrote no bundle");
        for file in files {
            let name = file
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&file).expect("bundle");
            insta::assert_snapshot!(format!("{case}__{name}"), text);
        }
    }
}

#[test]
fn layers_patches_defaults_and_overrides_apply_in_order() {
    let p = Project::from_fixture("valid/layers");
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    let layered: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("aaaaaaaa-0000-4000-8000-000000000001.json"))
            .expect("bundle"),
    )
    .expect("json");
    let op = |key: &str| {
        layered["operations"]
            .as_array()
            .expect("ops")
            .iter()
            .find(|o| o["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .clone()
    };
    // [defaults] of the upper layer, [patch] vars and controls.
    assert_eq!(op("require-mfa")["body"]["state"], "enabled");
    assert_eq!(
        op("require-mfa")["body"]["displayName"],
        "CORP - Require MFA"
    );
    assert_eq!(
        op("require-mfa")["controls"],
        serde_json::json!(["MS.AAD.3.2v2", "CIS-M365-5.2.2.2"])
    );
    // The tenant's override and parameter.
    assert_eq!(op("windows")["body"]["osMinimumVersion"], "10.0.19044");
    assert_eq!(
        op("windows")["body"]["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["gracePeriodHours"],
        0
    );
    // References become placeholders and dependencies; dependencies come first.
    assert_eq!(
        op("require-mfa")["body"]["conditions"]["users"]["excludeGroups"][0],
        "${ref:group:breakglass}"
    );
    let keys: Vec<String> = layered["operations"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| o["key"].as_str().expect("key").to_string())
        .collect();
    let position = |k: &str| keys.iter().position(|x| x == k).expect("key present");
    assert!(position("breakglass") < position("require-mfa"));
    assert!(position("windows") < position("windows-assignment"));
    assert!(position("partner") < position("partner-sync"));
    assert_eq!(
        op("windows-assignment")["path"],
        "/deviceManagement/deviceCompliancePolicies/${ref:compliance-policy:windows}/assign"
    );
    assert_eq!(op("breakglass")["prefer"], "create-if-missing");

    let skipper: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("aaaaaaaa-0000-4000-8000-000000000003.json"))
            .expect("bundle"),
    )
    .expect("json");
    assert_eq!(skipper["skipped"][0]["key"], "windows-assignment");
    assert_eq!(
        skipper["skipped"][0]["reason"],
        "Assigned by the client's own Intune team"
    );
    assert!(
        skipper["operations"]
            .as_array()
            .expect("ops")
            .iter()
            .all(|o| o["key"] != "windows-assignment")
    );
}
