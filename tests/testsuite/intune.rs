//! The Intune kinds end to end: the `intune-kinds` fixture and the shipped `intune-baseline`
//! deployed together to the simulator and re-planned to no change; what Graph keeps for them
//! (the default enrollment configurations updated in place, app protection's apps, app
//! assignments' intents and filters); and the simulator's wire behaviour for them with a plain
//! HTTP client (`/targetApps` and `/apps`, the built-in scope tag, birth objects).

use serde_json::{Value, json};
use tenantform::sim::SimConfig;

use crate::deploy::{World, config};
use crate::harness::Project;
use crate::sim_support::Sim;

/// The simulator's fleet file with every tenant on `baselines` and `params` (TOML lines), the
/// example profiles' parameters and overrides removed: they belong to the baselines replaced.
pub(crate) fn fleet_on(fleet: &str, baselines: &[&str], params: &str) -> String {
    let list = baselines
        .iter()
        .map(|b| format!("\"{b}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::new();
    let mut skipping = false;
    let mut seen_tenant = false;
    for line in fleet.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            skipping = trimmed.starts_with("[tenant.params]")
                || trimmed.starts_with("[[tenant.overrides]]");
        }
        if trimmed.starts_with("[[tenant]]") {
            if seen_tenant && !params.is_empty() {
                out.push_str(&format!("[tenant.params]\n{params}\n"));
            }
            seen_tenant = true;
        }
        if skipping {
            continue;
        }
        if trimmed.starts_with("baselines = ") {
            out.push_str(&format!("baselines = [{list}]\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if seen_tenant && !params.is_empty() {
        out.push_str(&format!("[tenant.params]\n{params}\n"));
    }
    out
}

/// A simulator with `tenants` tenants and `project`, whose tenants become the simulator's, each
/// on `baselines` with `params`.
pub(crate) fn world_on(
    project: Project,
    baselines: &[&str],
    params: &str,
    tenants: usize,
) -> World {
    let cfg: SimConfig = config(tenants);
    let secret = cfg.client_secret.clone();
    let sim = Sim::with(cfg);
    if let Ok(entries) = std::fs::read_dir(project.path().join("tenants")) {
        for entry in entries {
            std::fs::remove_file(entry.expect("entry").path()).expect("remove tenant file");
        }
    }
    project.file(
        "tenants/fleet.toml",
        fleet_on(&sim.handle.fleet_tenants_toml(), baselines, params),
    );
    World {
        sim,
        project,
        secret,
    }
}

fn items<'a>(objects: &'a Value, kind: &str) -> &'a [Value] {
    objects[kind].as_array().map_or(&[], Vec::as_slice)
}

fn named<'a>(objects: &'a Value, kind: &str, name: &str) -> Vec<&'a Value> {
    items(objects, kind)
        .iter()
        .filter(|o| o["displayName"] == name)
        .collect()
}

fn one<'a>(objects: &'a Value, kind: &str, name: &str) -> &'a Value {
    let found = named(objects, kind, name);
    assert_eq!(found.len(), 1, "{kind} {name}: {found:?}");
    found[0]
}

#[test]
fn intune_kinds_and_the_intune_baseline_deploy_and_then_plan_no_change() {
    let w = world_on(
        Project::from_fixture("valid/intune-kinds"),
        &["intune-kinds", "intune-baseline"],
        "",
        2,
    );
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("to create");
    w.deploy(&[])
        .success()
        .stderr_has("2 of 2 tenants converged");
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");

    let objects = w.objects(0);
    // The default device limit was changed in place (matched by name and type), not created.
    let limits: Vec<&Value> = items(&objects, "deviceEnrollmentConfiguration")
        .iter()
        .filter(|o| o["@odata.type"] == "#microsoft.graph.deviceEnrollmentLimitConfiguration")
        .collect();
    assert_eq!(limits.len(), 2, "{limits:?}");
    let default = limits
        .iter()
        .find(|o| o["displayName"] == "All users and all devices")
        .expect("default limit");
    assert_eq!(default["limit"], 10);
    assert_eq!(default["priority"], 0);
    assert!(
        default["id"]
            .as_str()
            .is_some_and(|id| id.ends_with("_DefaultLimit")),
        "{default}"
    );
    assert_eq!(items(&objects, "deviceEnrollmentConfiguration").len(), 5);
    // The built-in scope tag is there, untouched, beside ours.
    let tags = items(&objects, "roleScopeTag");
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert_eq!(one(&objects, "roleScopeTag", "Default")["id"], "0");

    // App protection: the apps /targetApps set, and the assignment.
    let ios = one(
        &objects,
        "iosManagedAppProtection",
        "iOS/iPadOS - Level 2 enhanced data protection",
    );
    let apps = ios["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 11, "{ios}");
    assert!(
        apps.iter().any(|a| a["id"] == "com.microsoft.msedge.ios"
            && a["mobileAppIdentifier"]["bundleId"] == "com.microsoft.msedge"),
        "{apps:?}"
    );
    assert_eq!(ios["assignments"].as_array().map(Vec::len), Some(1));
    assert_eq!(ios["dataBackupBlocked"], true);
    assert_eq!(
        ios["allowedOutboundDataTransferDestinations"],
        "managedApps"
    );
    let android = one(
        &objects,
        "androidManagedAppProtection",
        "Android - Level 2 enhanced data protection",
    );
    assert_eq!(android["apps"].as_array().map(Vec::len), Some(13));
    assert_eq!(android["screenCaptureBlocked"], true);

    // Store apps: two Authenticators told apart by type; the Company Portal by winGet id,
    // required through the corporate-Windows filter.
    assert_eq!(
        named(&objects, "mobileApp", "Microsoft Authenticator").len(),
        2
    );
    let portal = one(&objects, "mobileApp", "Company Portal");
    assert_eq!(portal["packageIdentifier"], "9WZDNCRFJ3PZ");
    let filter = one(
        &objects,
        "deviceAndAppManagementAssignmentFilter",
        "Corporate Windows devices",
    );
    let assignment = &portal["assignments"][0];
    assert_eq!(assignment["intent"], "required", "{portal}");
    assert_eq!(
        assignment["target"]["deviceAndAppManagementAssignmentFilterId"],
        filter["id"]
    );
    assert_eq!(
        assignment["target"]["deviceAndAppManagementAssignmentFilterType"],
        "include"
    );

    // The update ring and the feature update profile, each assigned.
    let ring = one(
        &objects,
        "deviceConfiguration",
        "Windows - update ring (broad)",
    );
    assert_eq!(
        ring["@odata.type"],
        "#microsoft.graph.windowsUpdateForBusinessConfiguration"
    );
    assert_eq!(ring["qualityUpdatesDeferralPeriodInDays"], 9);
    assert_eq!(ring["assignments"].as_array().map(Vec::len), Some(1));
    let feature = one(
        &objects,
        "windowsFeatureUpdateProfile",
        "Windows - feature update target",
    );
    assert_eq!(feature["featureUpdateVersion"], "Windows 11, version 24H2");
    assert_eq!(feature["assignments"].as_array().map(Vec::len), Some(1));
    // The Autopilot profile carries the built-in tag and ours, resolved to its id.
    let autopilot = one(
        &objects,
        "windowsAutopilotDeploymentProfile",
        "Autopilot - user driven, Entra joined",
    );
    let helpdesk = one(&objects, "roleScopeTag", "Helpdesk EU");
    assert_eq!(
        autopilot["roleScopeTagIds"],
        json!(["0", helpdesk["id"].clone()])
    );
}

#[test]
fn a_changed_app_intent_and_a_dropped_protected_app_are_planned_and_put_back() {
    let w = world_on(
        Project::from_fixture("valid/intune-kinds"),
        &["intune-kinds", "intune-baseline"],
        "",
        1,
    );
    w.deploy(&[])
        .success()
        .stderr_has("1 of 1 tenants converged");
    let objects = w.objects(0);
    let portal = one(&objects, "mobileApp", "Company Portal")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let ios = one(
        &objects,
        "iosManagedAppProtection",
        "iOS/iPadOS - Level 2 enhanced data protection",
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Someone makes the Company Portal merely available, and protects only Outlook on iOS.
    let mut assignments = objects
        .get("mobileApp")
        .and_then(Value::as_array)
        .and_then(|apps| apps.iter().find(|a| a["id"] == portal.as_str()))
        .map(|a| a["assignments"].clone())
        .expect("assignments");
    for a in assignments.as_array_mut().expect("array") {
        a["intent"] = json!("available");
    }
    w.sim
        .send(
            0,
            "POST",
            &format!("/beta/deviceAppManagement/mobileApps/{portal}/assign"),
            Some(&json!({ "mobileAppAssignments": assignments })),
        )
        .status(204);
    w.sim
        .send(
            0,
            "POST",
            &format!("/v1.0/deviceAppManagement/iosManagedAppProtections/{ios}/targetApps"),
            Some(&json!({"apps": [{"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "com.microsoft.office.outlook"}}]})),
        )
        .status(204);
    let plan = w.cmd(&["plan", "--detailed-exitcode"]).run().code(2);
    assert!(
        plan.stdout.contains("company-portal-assignment"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("ios-app-protection-apps"),
        "{}",
        plan.stdout
    );
    w.deploy(&[]).success();
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
    let objects = w.objects(0);
    let portal = one(&objects, "mobileApp", "Company Portal");
    assert_eq!(portal["assignments"][0]["intent"], "required");
}

/// The Autopilot profile's assignments as the simulator serves them: group ids, sorted.
fn autopilot_groups(w: &World, profile: &str) -> Vec<String> {
    let listing = w
        .sim
        .send(
            0,
            "GET",
            &format!(
                "/beta/deviceManagement/windowsAutopilotDeploymentProfiles/{profile}/assignments"
            ),
            None,
        )
        .status(200)
        .json();
    let mut groups: Vec<String> = listing["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|a| {
            a["target"]["groupId"]
                .as_str()
                .expect("groupId")
                .to_string()
        })
        .collect();
    groups.sort();
    groups
}

#[test]
fn autopilot_assignments_are_added_and_removed_one_by_one_and_then_plan_no_change() {
    let w = world_on(
        Project::from_fixture("valid/intune-kinds"),
        &["intune-kinds"],
        "",
        1,
    );
    w.deploy(&[])
        .success()
        .stderr_has("1 of 1 tenants converged");
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
    let objects = w.objects(0);
    let id = |kind: &str, name: &str| {
        one(&objects, kind, name)["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let profile = id(
        "windowsAutopilotDeploymentProfile",
        "Autopilot - user driven, Entra joined",
    );
    let autopilot = id("group", "Autopilot devices");
    let kiosk = id("group", "Kiosk devices");
    let mut both = vec![autopilot.clone(), kiosk.clone()];
    both.sort();
    assert_eq!(autopilot_groups(&w, &profile), both);
    // The profile has no /assign (the set is written member by member).
    let assign = w.sim.send(
        0,
        "POST",
        &format!("/beta/deviceManagement/windowsAutopilotDeploymentProfiles/{profile}/assign"),
        Some(&json!({"assignments": []})),
    );
    assert!(assign.status >= 400, "{}", assign.text);

    // In the portal, someone removes the kiosk assignment and assigns another group.
    let listing =
        format!("/beta/deviceManagement/windowsAutopilotDeploymentProfiles/{profile}/assignments");
    let tenant = w.tenant(0);
    let portal = |change: Value| {
        let reply = w.sim.sim(
            "POST",
            &format!("/_sim/tenants/{tenant}/portal"),
            Some(&change),
        );
        assert!((200..300).contains(&reply.status), "{}", reply.text);
    };
    let admin = "intune.admin@contoso.example";
    portal(
        json!({"method": "DELETE", "path": format!("{listing}/{profile}_{kiosk}"), "user": admin}),
    );
    let stranger = w
        .sim
        .send(0, "POST", "/v1.0/groups", Some(&json!({"displayName": "Lab devices", "mailNickname": "lab", "mailEnabled": false, "securityEnabled": true})))
        .status(201)
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    portal(
        json!({"method": "POST", "path": listing, "body": {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": stranger}}, "user": admin}),
    );
    let mut drifted = vec![autopilot.clone(), stranger];
    drifted.sort();
    assert_eq!(autopilot_groups(&w, &profile), drifted);
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("autopilot-user-driven-assignment");
    // Intune's audit events log each member's change on the profile, by the admin.
    let events = w
        .sim
        .send(0, "GET", "/v1.0/deviceManagement/auditEvents", None)
        .status(200)
        .json();
    let by_admin_on_profile = events["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter(|e| {
            e["actor"]["userPrincipalName"] == admin
                && e["resources"][0]["resourceId"] == profile.as_str()
        })
        .count();
    assert_eq!(by_admin_on_profile, 2, "{events:#}");
    // Deploy deletes the stranger's assignment and adds the kiosk one back; the one both
    // agree on is left alone.
    w.deploy(&[]).success();
    assert_eq!(autopilot_groups(&w, &profile), both);
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
}

#[test]
fn app_protection_apps_are_replaced_by_target_apps_and_listed_at_apps() {
    let sim = Sim::start();
    let created = sim
        .send(
            0,
            "POST",
            "/v1.0/deviceAppManagement/androidManagedAppProtections",
            Some(&json!({"displayName": "P", "pinRequired": true})),
        )
        .status(201)
        .json();
    let id = created["id"].as_str().expect("id");
    let base = format!("/v1.0/deviceAppManagement/androidManagedAppProtections/{id}");
    let app = |package: &str| json!({"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.androidMobileAppIdentifier", "packageId": package}});
    sim.send(
        0,
        "POST",
        &format!("{base}/targetApps"),
        Some(&json!({"apps": [app("com.microsoft.emmx"), app("com.microsoft.teams"), app("com.microsoft.emmx")]})),
    )
    .status(204);
    let listed = sim.get(&format!("{base}/apps")).status(200).json();
    let ids: Vec<&str> = listed["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["com.microsoft.emmx.android", "com.microsoft.teams.android"]
    );
    // A second call replaces the set.
    sim.send(
        0,
        "POST",
        &format!("{base}/targetApps"),
        Some(&json!({"apps": [app("com.microsoft.todos")]})),
    )
    .status(204);
    let expanded = sim.get(&format!("{base}?$expand=apps")).status(200).json();
    assert_eq!(expanded["apps"].as_array().map(Vec::len), Some(1));
    // Apps are a navigation property: not on a plain GET.
    let plain = sim.get(&base).status(200).json();
    assert!(plain.get("apps").is_none(), "{plain}");
    // The action's body is checked like any other.
    sim.send(
        0,
        "POST",
        &format!("{base}/targetApps"),
        Some(&json!({"apps": [{"bundleName": "x"}]})),
    )
    .status(400);
    sim.send(
        0,
        "POST",
        "/v1.0/deviceAppManagement/androidManagedAppProtections/missing/targetApps",
        Some(&json!({"apps": []})),
    )
    .status(404);
}

#[test]
fn a_new_tenant_has_the_default_scope_tag_and_enrollment_configurations() {
    let sim = Sim::start();
    let tags = sim
        .get("/beta/deviceManagement/roleScopeTags")
        .status(200)
        .json();
    assert_eq!(tags["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(tags["value"][0]["isBuiltIn"], true);
    let configs = sim
        .get("/v1.0/deviceManagement/deviceEnrollmentConfigurations")
        .status(200)
        .json();
    let configs = configs["value"].as_array().expect("value");
    assert_eq!(configs.len(), 4);
    let tenant = sim.tenant(0);
    for c in configs {
        assert_eq!(c["priority"], 0, "{c}");
        assert_eq!(c["displayName"], "All users and all devices");
        assert!(
            c["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("{tenant}_Default"))),
            "{c}"
        );
    }
    // Created scope tags sit beside the built-in one and are found by name.
    sim.send(
        0,
        "POST",
        "/beta/deviceManagement/roleScopeTags",
        Some(&json!({"displayName": "Helpdesk EU"})),
    )
    .status(201);
    let found = sim
        .get("/beta/deviceManagement/roleScopeTags?$filter=displayName%20eq%20'Helpdesk%20EU'")
        .status(200)
        .json();
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1));
    // Another tenant's birth objects are its own.
    let other = sim
        .send(
            1,
            "GET",
            "/v1.0/deviceManagement/deviceEnrollmentConfigurations",
            None,
        )
        .status(200)
        .json();
    assert!(
        other["value"][0]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with(&sim.tenant(1))),
        "{other}"
    );
}
