//! `compile --target tcm`: the shipped baselines as Tenant Configuration Management monitors
//! (names, not ids; what is left out, said), and the quota error for a baseline that would
//! monitor more resources a day than TCM allows.

use serde_json::Value;

use crate::harness::Project;

#[test]
fn the_init_project_compiles_to_monitors_with_names_and_says_what_it_leaves_out() {
    let p = Project::init();
    let out = p.path().join("tcm");
    let run = p
        .cmd(&[
            "compile",
            "--target",
            "tcm",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .run()
        .success();
    assert!(
        run.stderr
            .contains("compile: 3 tenants' monitors written to"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("not monitored: windows-compliance-assignment"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("deletes that monitor's monitoring results"),
        "{}",
        run.stderr
    );
    let fabrikam = out.join("8b9d0e1f-2a3b-4c4d-8e5f-6a7b8c9d0e1f.tcm.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&fabrikam).expect("written")).expect("json");
    assert_eq!(doc["format"], "tenantform.tcm/v1");
    let monitors = doc["monitors"].as_array().expect("monitors");
    let names: Vec<&str> = monitors
        .iter()
        .map(|m| m["displayName"].as_str().expect("name"))
        .collect();
    // One per layer with something TCM can watch (intune-compliance: its group).
    assert_eq!(
        names,
        [
            "tenantform: entra-foundation",
            "tenantform: cisa-scuba-entra",
            "tenantform: intune-compliance"
        ]
    );
    let resources: Vec<&Value> = monitors
        .iter()
        .flat_map(|m| m["baseline"]["resources"].as_array().expect("resources"))
        .collect();
    let policy = resources
        .iter()
        .find(|r| r["properties"]["DisplayName"] == "SCuBA MS.AAD.2.1 - Block high-risk users")
        .expect("the 2.1 policy");
    assert_eq!(
        policy["resourceType"],
        "microsoft.entra.conditionalaccesspolicy"
    );
    assert_eq!(
        policy["properties"]["ExcludeGroups"],
        serde_json::json!(["Emergency access accounts"])
    );
    let admins = resources
        .iter()
        .find(|r| r["properties"]["AuthenticationStrength"] == "Phishing-resistant MFA")
        .expect("a phishing-resistant policy");
    assert!(
        admins["properties"]["IncludeRoles"]
            .as_array()
            .is_none_or(|roles| roles
                .iter()
                .all(|r| !r.as_str().unwrap_or("").contains('-'))),
        "role ids left: {admins}"
    );
    let authorization = resources
        .iter()
        .find(|r| r["resourceType"] == "microsoft.entra.authorizationpolicy")
        .expect("authorization policy");
    assert_eq!(
        authorization["properties"]["GuestUserRole"],
        "RestrictedGuest"
    );
    // No GUID of a referenced object, no unresolved reference, anywhere.
    let text = std::fs::read_to_string(&fabrikam).expect("written");
    assert!(!text.contains("${ref:"), "{text}");
    assert!(
        doc["quota"]["resource_runs_per_day"]
            .as_u64()
            .expect("count")
            <= 800
    );
    let left_out: Vec<&str> = doc["not_monitored"]
        .as_array()
        .expect("not monitored")
        .iter()
        .map(|n| n["kind"].as_str().expect("kind"))
        .collect();
    assert!(left_out.contains(&"deviceCompliancePolicy"), "{left_out:?}");
}

#[test]
fn a_baseline_over_tcm_s_daily_quota_is_an_error_and_writes_no_file() {
    let p = Project::empty();
    p.file("tenantform.toml", "[project]\nname = \"big\"\n");
    let mut baseline = String::from("[baseline]\ndescription = \"Many groups\"\n");
    for i in 0..201 {
        baseline.push_str(&format!(
            "\n[resources.group-{i}]\nkind = \"group\"\nbody = '''\n{{\"displayName\": \"Group {i}\", \"mailNickname\": \"group-{i}\", \"mailEnabled\": false, \"securityEnabled\": true, \"groupTypes\": [], \"uniqueName\": \"tf-group-{i}\"}}\n'''\n"
        ));
    }
    p.file("baselines/many.toml", baseline);
    p.file(
        "tenants/t.toml",
        "[[tenant]]\nid = \"11111111-1111-4111-8111-111111111111\"\nname = \"Alpha\"\nring = \"pilot\"\nbaselines = [\"many\"]\n",
    );
    let out = p.path().join("tcm");
    let run = p
        .cmd(&[
            "compile",
            "--target",
            "tcm",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .run()
        .code(1);
    assert!(
        run.stderr.contains(
            "error: Alpha (11111111-1111-4111-8111-111111111111): 201 monitored resources × 4 runs a day = 804 resource runs a day, over TCM's limit of 800 per tenant (at most 200 resources"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 over TCM's quotas"), "{}", run.stderr);
    assert!(
        !out.join("11111111-1111-4111-8111-111111111111.tcm.json")
            .exists()
    );
}

#[test]
fn an_output_directory_that_cannot_be_created_is_exit_70_and_says_where() {
    let p = Project::init();
    // A file where the output directory should go.
    p.file("tcm", "not a directory");
    let out = p.path().join("tcm");
    p.cmd(&[
        "compile",
        "--target",
        "tcm",
        "--out",
        out.to_str().expect("utf-8"),
    ])
    .run()
    .code(70)
    .stderr_has("error: cannot write to")
    .stderr_has("tcm");
}
