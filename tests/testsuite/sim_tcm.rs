//! The simulator's Tenant Configuration Management endpoints as a client sees them: create,
//! list, get, baseline, patch, delete; Graph's validation (required fields, 30 monitors, 800
//! resource runs a day, the permission); a monitor run that reports a portal change to a
//! monitored Conditional Access policy as a drift matched by display name; a baseline update
//! that erases the monitor's results and drifts.

use serde_json::{Value, json};

use crate::sim_support::{Sim, ca_policy};

const MONITORS: &str = "/beta/admin/configurationManagement/configurationMonitors";

fn ca_resource(name: &str, state: &str) -> Value {
    json!({
        "displayName": name,
        "resourceType": "microsoft.entra.conditionalaccesspolicy",
        "properties": {"DisplayName": name, "State": state, "BuiltInControls": ["mfa"], "Ensure": "Present"}
    })
}

fn monitor(name: &str, resources: Vec<Value>) -> Value {
    json!({"displayName": name, "baseline": {"displayName": format!("{name} baseline"), "resources": resources}})
}

fn run_monitors(sim: &Sim) -> Value {
    sim.sim(
        "POST",
        &format!("/_sim/tenants/{}/monitors/run", sim.tenant(0)),
        None,
    )
    .status(200)
    .json()
}

#[test]
fn sim_tcm_monitor_reports_a_portal_change_as_a_drift_by_display_name() {
    let sim = Sim::start();
    let created = sim
        .send(
            0,
            "POST",
            "/v1.0/identity/conditionalAccess/policies",
            Some(&ca_policy("Require MFA", &[])),
        )
        .status(201)
        .json();
    let body = monitor(
        "tenantform: core",
        vec![ca_resource(
            "Require MFA",
            "enabledForReportingButNotEnforced",
        )],
    );
    let made = sim
        .send(0, "POST", MONITORS, Some(&body))
        .status(201)
        .json();
    let id = made["id"].as_str().expect("id").to_string();
    assert_eq!(made["status"], "active");
    assert_eq!(made["monitorRunFrequencyInHours"], 6);
    assert!(made.get("baseline").is_none(), "baseline is a navigation");
    let baseline = sim
        .send(0, "GET", &format!("{MONITORS}('{id}')/baseline"), None)
        .status(200)
        .json();
    assert_eq!(
        baseline["resources"][0]["properties"]["State"],
        "enabledForReportingButNotEnforced"
    );
    let listed = sim.send(0, "GET", MONITORS, None).status(200).json();
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(1));

    // In line: a run finds no drift.
    assert_eq!(run_monitors(&sim)["monitorsRun"], 1);
    let drifts_path = format!(
        "/beta/admin/configurationManagement/configurationDrifts?$filter=monitorId eq '{id}'"
    );
    let drifts = sim.send(0, "GET", &drifts_path, None).status(200).json();
    assert_eq!(drifts["value"], json!([]));

    // Someone turns the policy on in the portal: the next run reports State.
    let policy_path = format!(
        "/v1.0/identity/conditionalAccess/policies/{}",
        created["id"].as_str().expect("id")
    );
    sim.sim(
        "POST",
        &format!("/_sim/tenants/{}/portal", sim.tenant(0)),
        Some(&json!({"method": "PATCH", "path": policy_path, "body": {"state": "enabled"}})),
    )
    .status(204);
    run_monitors(&sim);
    let drifts = sim.send(0, "GET", &drifts_path, None).status(200).json();
    let drift = &drifts["value"][0];
    assert_eq!(drift["status"], "active");
    assert_eq!(
        drift["resourceType"],
        "microsoft.entra.conditionalaccesspolicy"
    );
    assert_eq!(
        drift["resourceInstanceIdentifier"],
        json!({"DisplayName": "Require MFA"})
    );
    assert_eq!(
        drift["driftedProperties"],
        json!([{"propertyName": "State", "currentValue": "enabled", "desiredValue": "enabledForReportingButNotEnforced"}])
    );
    let results = sim
        .send(
            0,
            "GET",
            &format!("/beta/admin/configurationManagement/configurationMonitoringResults?$filter=monitorId eq '{id}'"),
            None,
        )
        .status(200)
        .json();
    let counts: Vec<&Value> = results["value"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| &r["driftsCount"])
        .collect();
    assert_eq!(counts, vec![&json!(0), &json!(1)]);

    // Renamed in the portal: matched by name, so the monitored instance is now absent.
    sim.sim(
        "POST",
        &format!("/_sim/tenants/{}/portal", sim.tenant(0)),
        Some(&json!({"method": "PATCH", "path": policy_path, "body": {"displayName": "Require MFA (old)"}})),
    )
    .status(204);
    run_monitors(&sim);
    let drifts = sim.send(0, "GET", &drifts_path, None).status(200).json();
    assert_eq!(
        drifts["value"][0]["driftedProperties"],
        json!([{"propertyName": "Ensure", "currentValue": "Absent", "desiredValue": "Present"}])
    );

    // A baseline update erases the monitor's results and drifts.
    let update = json!({"baseline": monitor("x", vec![ca_resource("Require MFA (old)", "enabled")])["baseline"]});
    sim.send(0, "PATCH", &format!("{MONITORS}/{id}"), Some(&update))
        .status(204);
    let drifts = sim.send(0, "GET", &drifts_path, None).status(200).json();
    assert_eq!(drifts["value"], json!([]));
    run_monitors(&sim);
    let drifts = sim.send(0, "GET", &drifts_path, None).status(200).json();
    assert_eq!(
        drifts["value"],
        json!([]),
        "the new baseline matches the tenant"
    );

    sim.send(0, "DELETE", &format!("{MONITORS}/{id}"), None)
        .status(204);
    sim.send(0, "GET", &format!("{MONITORS}/{id}"), None)
        .status(404);
}

#[test]
fn sim_tcm_rejects_bodies_and_quotas_as_graph_does() {
    let sim = Sim::start();
    let missing = sim
        .send(
            0,
            "POST",
            MONITORS,
            Some(&json!({"displayName": "no baseline"})),
        )
        .status(400)
        .json();
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("baseline is required")
    );
    let empty = sim
        .send(0, "POST", MONITORS, Some(&monitor("empty", vec![])))
        .status(400)
        .json();
    assert!(
        empty["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at least one resource")
    );

    // 800 resource runs a day: 200 resources in one monitor fit, one more does not.
    let resources = |n: usize, prefix: &str| -> Vec<Value> {
        (0..n)
            .map(|i| ca_resource(&format!("{prefix}{i}"), "enabled"))
            .collect()
    };
    sim.send(
        0,
        "POST",
        MONITORS,
        Some(&monitor("big", resources(200, "p"))),
    )
    .status(201);
    let over = sim
        .send(
            0,
            "POST",
            MONITORS,
            Some(&monitor("one more", resources(1, "q"))),
        )
        .status(400)
        .json();
    let message = over["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("804 resource runs"), "{message}");
    assert!(
        message.contains("800 monitored resources per day"),
        "{message}"
    );
}

#[test]
fn sim_tcm_allows_thirty_monitors_per_tenant() {
    let sim = Sim::start();
    for i in 0..30 {
        sim.send(
            0,
            "POST",
            MONITORS,
            Some(&monitor(
                &format!("m{i}"),
                vec![ca_resource(&format!("p{i}"), "enabled")],
            )),
        )
        .status(201);
    }
    let over = sim
        .send(
            0,
            "POST",
            MONITORS,
            Some(&monitor("m30", vec![ca_resource("p30", "enabled")])),
        )
        .status(400)
        .json();
    let message = over["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("at most 30 configuration monitors"),
        "{message}"
    );
}

#[test]
fn sim_tcm_needs_configuration_monitoring_permissions() {
    let mut config = crate::sim_support::test_config();
    config.withdrawn = vec![(1, "ConfigurationMonitoring.ReadWrite.All".to_string())];
    let sim = Sim::with(config);
    let body = monitor("m", vec![ca_resource("p", "enabled")]);
    let denied = sim
        .send(1, "POST", MONITORS, Some(&body))
        .status(403)
        .json();
    assert_eq!(denied["error"]["code"], "Authorization_RequestDenied");
    // Read.All still reads.
    sim.send(1, "GET", MONITORS, None).status(200);
    sim.send(0, "POST", MONITORS, Some(&body)).status(201);
}

#[test]
fn sim_tcm_monitors_run_every_six_hours_scaled_by_the_time_scale() {
    let clock = std::sync::Arc::new(tenantform::sim::clock::ManualClock::new());
    let mut config = crate::sim_support::test_config();
    config.clock = clock.clone();
    config.time_scale = 60.0;
    let sim = Sim::with(config);
    sim.send(
        0,
        "POST",
        MONITORS,
        Some(&monitor("m", vec![ca_resource("absent", "enabled")])),
    )
    .status(201);
    let results = "/beta/admin/configurationManagement/configurationMonitoringResults";
    let count = |sim: &Sim| {
        sim.send(0, "GET", results, None).status(200).json()["value"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(count(&sim), 0, "no run before the first interval");
    // 6 hours / 60 = 6 minutes of simulator time.
    clock.advance(std::time::Duration::from_secs(5 * 60));
    assert_eq!(count(&sim), 0);
    clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(count(&sim), 1);
    let drifts = sim
        .send(
            0,
            "GET",
            "/beta/admin/configurationManagement/configurationDrifts",
            None,
        )
        .status(200)
        .json();
    assert_eq!(
        drifts["value"][0]["driftedProperties"][0]["propertyName"],
        "Ensure"
    );
}
