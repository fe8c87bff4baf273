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
        run.stderr.contains("settings not monitored: "),
        "{}",
        run.stderr
    );
    // Kinds with no TCM mapping are named with the reason.
    assert!(run.stderr.contains("not monitored: "), "{}", run.stderr);
    assert!(
        !run.stderr.contains("windows-compliance-assignment"),
        "assignments are monitored with their policy: {}",
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
    // One per layer with something TCM can watch.
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
    assert!(
        !left_out.contains(&"deviceCompliancePolicy"),
        "{left_out:?}"
    );
    let windows = resources
        .iter()
        .find(|r| r["resourceType"] == "microsoft.intune.devicecompliancepolicywindows10")
        .expect("the Windows compliance policy");
    // Fabrikam assigns to every licensed user (its compliance_assignment_scope).
    assert_eq!(
        windows["properties"]["Assignments"],
        serde_json::json!([{
            "dataType": "#microsoft.graph.allLicensedUsersAssignmentTarget",
            "deviceAndAppManagementAssignmentFilterType": "none"
        }])
    );
    assert!(
        resources.iter().any(|r| r["resourceType"]
            == "microsoft.entra.authenticationmethodpolicyfido2"
            && r["properties"]["Id"] == "Fido2"),
        "no FIDO2 method resource"
    );
    assert!(
        doc["properties_not_monitored"]
            .as_array()
            .expect("properties not monitored")
            .iter()
            .any(|l| l["property"] == "scheduledActionsForRule"),
        "{}",
        doc["properties_not_monitored"]
    );
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

/// `tenantform monitors <verb> --time-scale S [extra]` against the simulator's fleet.
fn monitors(w: &crate::deploy::World, verb: &str, extra: &[&str]) -> crate::harness::Output {
    let mut args = vec!["monitors", verb, "--time-scale", crate::deploy::SCALE];
    args.extend_from_slice(extra);
    w.cmd(&args).run()
}

const TCM: &str = "/beta/admin/configurationManagement";

fn live_monitors(w: &crate::deploy::World) -> Vec<Value> {
    w.sim
        .send(0, "GET", &format!("{TCM}/configurationMonitors"), None)
        .status(200)
        .json()["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn monitors_deploy_creates_then_changes_nothing_then_patches_with_a_warning_and_drifts_show() {
    let w = crate::deploy::World::new(crate::deploy::config(1));
    w.deploy(&[]).success();
    let plan = monitors(&w, "plan", &[]).code(2);
    assert!(plan.stdout.contains("+ "), "{}", plan.stdout);
    let first = monitors(&w, "deploy", &[]).success();
    assert!(
        first.stderr.contains("1 tenants deployed, 0 failed"),
        "{}",
        first.stderr
    );
    let live = live_monitors(&w);
    let names: Vec<&str> = live
        .iter()
        .filter_map(|m| m["displayName"].as_str())
        .collect();
    assert!(names.contains(&"tenantform: entra-foundation"), "{names:?}");
    let foundation = live
        .iter()
        .find(|m| m["displayName"] == "tenantform: entra-foundation")
        .expect("foundation");
    let id = foundation["id"].as_str().expect("id").to_string();
    let baseline = w
        .sim
        .send(
            0,
            "GET",
            &format!("{TCM}/configurationMonitors/{id}/baseline"),
            None,
        )
        .status(200)
        .json();
    let resources = baseline["resources"].as_array().expect("resources");
    assert!(
        resources
            .iter()
            .any(|r| r["resourceType"] == "microsoft.entra.conditionalaccesspolicy"),
        "{baseline}"
    );
    // The journal says what was sent.
    let runs = w.project.path().join(".tenantform/monitors");
    let run = std::fs::read_dir(&runs)
        .expect("monitors runs")
        .next()
        .expect("a run")
        .expect("entry");
    let journal = std::fs::read_to_string(run.path().join("journal.jsonl")).expect("journal");
    assert!(journal.contains("\"method\":\"POST\""), "{journal}");
    assert!(journal.contains("\"action\":\"created\""), "{journal}");

    // Re-deploy: nothing to send.
    let again = monitors(&w, "plan", &[]).success();
    assert!(
        !again.stdout.contains("+ ") && !again.stdout.contains("~ "),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("no change"), "{}", again.stdout);
    let count = live_monitors(&w).len();
    monitors(&w, "deploy", &[]).success();
    assert_eq!(live_monitors(&w).len(), count, "no duplicate monitors");

    // A portal change to a monitored CA policy: the monitor's run reports it.
    let policy = resources
        .iter()
        .find(|r| r["resourceType"] == "microsoft.entra.conditionalaccesspolicy")
        .expect("a CA resource");
    let name = policy["properties"]["DisplayName"].as_str().expect("name");
    let desired_state = policy["properties"]["State"].as_str().expect("state");
    let policies = w
        .sim
        .send(0, "GET", "/v1.0/identity/conditionalAccess/policies", None)
        .status(200)
        .json();
    let live_policy = policies["value"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["displayName"] == name)
        .expect("deployed policy");
    let new_state = if desired_state == "disabled" {
        "enabled"
    } else {
        "disabled"
    };
    w.sim
        .sim(
            "POST",
            &format!("/_sim/tenants/{}/portal", w.tenant(0)),
            Some(&serde_json::json!({
                "method": "PATCH",
                "path": format!("/v1.0/identity/conditionalAccess/policies/{}", live_policy["id"].as_str().expect("id")),
                "body": {"state": new_state}
            })),
        )
        .status(204);
    w.sim
        .sim(
            "POST",
            &format!("/_sim/tenants/{}/monitors/run", w.tenant(0)),
            None,
        )
        .status(200);
    let drifts = w
        .sim
        .send(
            0,
            "GET",
            &format!("{TCM}/configurationDrifts?$filter=monitorId eq '{id}'"),
            None,
        )
        .status(200)
        .json();
    let drift = drifts["value"]
        .as_array()
        .expect("drifts")
        .iter()
        .find(|d| d["resourceInstanceIdentifier"]["DisplayName"] == name)
        .unwrap_or_else(|| panic!("no drift for {name}: {drifts}"));
    assert_eq!(drift["driftedProperties"][0]["propertyName"], "State");
    assert_eq!(drift["driftedProperties"][0]["currentValue"], new_state);

    // The live baseline changes (someone edited the monitor): an update, which needs --yes and
    // warns that it erases the monitor's history.
    let mut edited = baseline.clone();
    edited["resources"] = serde_json::json!([resources[0].clone()]);
    w.sim
        .send(
            0,
            "PATCH",
            &format!("{TCM}/configurationMonitors/{id}"),
            Some(&serde_json::json!({"baseline": edited})),
        )
        .status(204);
    let plan = monitors(&w, "plan", &[]).code(2);
    assert!(plan.stdout.contains("~ "), "{}", plan.stdout);
    assert!(
        plan.stderr
            .contains("deletes its monitoring results and drifts"),
        "{}",
        plan.stderr
    );
    monitors(&w, "deploy", &[])
        .code(64)
        .stderr_has("run again with --yes");
    let patched = monitors(&w, "deploy", &["--yes"]).success();
    assert!(
        patched
            .stderr
            .contains("deletes its monitoring results and drifts"),
        "{}",
        patched.stderr
    );
    let restored = w
        .sim
        .send(
            0,
            "GET",
            &format!("{TCM}/configurationMonitors/{id}/baseline"),
            None,
        )
        .status(200)
        .json();
    assert_eq!(
        restored["resources"].as_array().map(Vec::len),
        Some(resources.len())
    );
    monitors(&w, "plan", &[]).success();
}

#[test]
fn monitors_deploy_over_the_tenants_monitor_quota_says_graphs_error() {
    let w = crate::deploy::World::new(crate::deploy::config(1));
    w.deploy(&[]).success();
    // Someone else's monitors fill the tenant's 30.
    for i in 0..30 {
        w.sim
            .send(
                0,
                "POST",
                &format!("{TCM}/configurationMonitors"),
                Some(&serde_json::json!({"displayName": format!("other {i}"), "baseline": {"displayName": "b", "resources": [{"displayName": "r", "resourceType": "microsoft.entra.group", "properties": {"DisplayName": format!("g{i}")}}]}})),
            )
            .status(201);
    }
    let run = monitors(&w, "deploy", &[]).code(3);
    assert!(run.stderr.contains("HTTP 400"), "{}", run.stderr);
    assert!(
        run.stderr.contains("at most 30 configuration monitors"),
        "{}",
        run.stderr
    );
    assert_eq!(live_monitors(&w).len(), 30);
}

/// Every drift of the tenant's monitors, as Graph lists them.
fn live_drifts(w: &crate::deploy::World) -> Vec<Value> {
    w.sim
        .send(0, "GET", &format!("{TCM}/configurationDrifts"), None)
        .status(200)
        .json()["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn monitored_auth_methods_and_compliance_policies_drift_only_when_changed_in_the_portal() {
    let w = crate::deploy::World::new(crate::deploy::config(1));
    w.deploy(&[]).success();
    monitors(&w, "deploy", &[]).success();
    let tenant = w.tenant(0);
    let run = || {
        w.sim
            .sim(
                "POST",
                &format!("/_sim/tenants/{tenant}/monitors/run"),
                None,
            )
            .status(200);
    };
    // Just deployed: the new types are evaluated and nothing drifts (no false drift from
    // PascalCase enums, ids as keys or structured properties).
    run();
    let active: Vec<Value> = live_drifts(&w)
        .into_iter()
        .filter(|d| d["status"] == "active")
        .collect();
    assert!(active.is_empty(), "{active:?}");

    // A portal change to the FIDO2 method and to the Windows compliance policy.
    let portal = |method: &str, path: &str, body: Value| {
        w.sim
            .sim(
                "POST",
                &format!("/_sim/tenants/{tenant}/portal"),
                Some(&serde_json::json!({"method": method, "path": path, "body": body})),
            )
            .status(204);
    };
    portal(
        "PATCH",
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2",
        serde_json::json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "state": "disabled"}),
    );
    let policies = w
        .sim
        .send(
            0,
            "GET",
            "/v1.0/deviceManagement/deviceCompliancePolicies",
            None,
        )
        .status(200)
        .json();
    let windows = policies["value"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["displayName"] == "Windows 10/11 - baseline compliance")
        .cloned();
    if let Some(windows) = &windows {
        portal(
            "PATCH",
            &format!(
                "/v1.0/deviceManagement/deviceCompliancePolicies/{}",
                windows["id"].as_str().expect("id")
            ),
            serde_json::json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "bitLockerEnabled": false}),
        );
    }
    run();
    let drifts = live_drifts(&w);
    let fido2 = drifts
        .iter()
        .find(|d| d["resourceType"] == "microsoft.entra.authenticationmethodpolicyfido2")
        .unwrap_or_else(|| panic!("no FIDO2 drift: {drifts:?}"));
    assert_eq!(
        fido2["resourceInstanceIdentifier"],
        serde_json::json!({"Id": "Fido2"})
    );
    assert_eq!(
        fido2["driftedProperties"],
        serde_json::json!([{"propertyName": "State", "currentValue": "disabled", "desiredValue": "enabled"}])
    );
    // The simulated fleet's tenants get intune-compliance; the test says so if that changes.
    let windows = windows.expect("the fleet's tenant has the Windows compliance policy");
    let compliance = drifts
        .iter()
        .find(|d| d["resourceType"] == "microsoft.intune.devicecompliancepolicywindows10")
        .unwrap_or_else(|| panic!("no compliance drift: {drifts:?}"));
    assert_eq!(
        compliance["resourceInstanceIdentifier"]["DisplayName"],
        windows["displayName"]
    );
    assert_eq!(
        compliance["driftedProperties"],
        serde_json::json!([{"propertyName": "BitLockerEnabled", "currentValue": false, "desiredValue": true}])
    );
}
