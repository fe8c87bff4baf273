//! The simulator's audit logs on the wire: every write is logged with its actor (the app of the
//! token, or the user of a `/_sim` portal change), `$filter` by target and time, newest first,
//! Intune changes in Intune's audit events, 403 without the permission, and the reports limit.

use serde_json::{Value, json};

use crate::sim_support::{Sim, ca_policy, compliance_policy, test_config};

const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
const COMPLIANCE: &str = "/v1.0/deviceManagement/deviceCompliancePolicies";
const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";

fn audits_of(sim: &Sim, id: &str) -> Vec<Value> {
    let filter = format!("targetResources/any(t:t/id eq '{id}')");
    let path = format!(
        "{AUDITS}?$filter={}&$orderby=activityDateTime%20desc",
        urlencode(&filter)
    );
    let body = sim.get(&path).status(200).json();
    body["value"].as_array().cloned().unwrap_or_default()
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn a_portal_change_is_logged_with_the_admin_as_actor_after_the_apps_create() {
    let sim = Sim::start();
    let created = sim
        .send(0, "POST", POLICIES, Some(&ca_policy("Block legacy", &[])))
        .status(201)
        .json();
    let id = created["id"].as_str().expect("id").to_string();
    let tenant = sim.tenant(0);
    sim.sim(
        "POST",
        &format!("/_sim/tenants/{tenant}/portal"),
        Some(&json!({
            "method": "PATCH",
            "path": format!("{POLICIES}/{id}"),
            "body": {"state": "disabled"},
            "user": "night.admin@contoso.example",
        })),
    )
    .status(204);
    let now = sim.get(&format!("{POLICIES}/{id}")).status(200).json();
    assert_eq!(now["state"], "disabled");

    let entries = audits_of(&sim, &id);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let (update, add) = (&entries[0], &entries[1]);
    assert_eq!(
        update["activityDisplayName"],
        "Update Conditional Access policy"
    );
    assert_eq!(
        update["initiatedBy"]["user"]["userPrincipalName"],
        "night.admin@contoso.example"
    );
    assert!(update["initiatedBy"]["app"].is_null());
    let changed = &update["targetResources"][0]["modifiedProperties"][0];
    let old: Value =
        serde_json::from_str(changed["oldValue"].as_str().expect("old")).expect("json");
    let new: Value =
        serde_json::from_str(changed["newValue"].as_str().expect("new")).expect("json");
    assert_eq!(old["state"], created["state"]);
    assert_eq!(new["state"], "disabled");
    assert_eq!(add["activityDisplayName"], "Add Conditional Access policy");
    assert_eq!(
        add["initiatedBy"]["app"]["appId"],
        tenantform::sim::DEFAULT_CLIENT_ID
    );
    // Other tenants' logs do not see it.
    let other = sim.send(1, "GET", AUDITS, None).status(200).json();
    assert_eq!(other["value"], json!([]));
}

#[test]
fn intune_changes_are_in_intune_audit_events_not_the_directory_log() {
    let sim = Sim::start();
    let created = sim
        .send(
            0,
            "POST",
            COMPLIANCE,
            Some(&compliance_policy("Windows baseline")),
        )
        .status(201)
        .json();
    let id = created["id"].as_str().expect("id").to_string();
    assert!(audits_of(&sim, &id).is_empty());
    let filter = format!("resources/any(r:r/resourceId eq '{id}')");
    let events = sim
        .get(&format!(
            "/v1.0/deviceManagement/auditEvents?$filter={}",
            urlencode(&filter)
        ))
        .status(200)
        .json();
    let events = events["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["activityOperationType"], "Create");
    assert_eq!(events[0]["activityResult"], "Success");
    assert_eq!(events[0]["actor"]["auditActorType"], "Application");
}

#[test]
fn an_unsupported_audit_filter_is_400_and_a_missing_permission_403() {
    let mut config = test_config();
    config.withdrawn = vec![(1, "AuditLog.Read.All".to_string())];
    let sim = Sim::with(config);
    let bad = sim
        .get(&format!("{AUDITS}?$filter={}", urlencode("result gt 'x'")))
        .status(400);
    assert!(bad.error_code("BadRequest").contains("filter"));
    sim.send(1, "GET", AUDITS, None)
        .status(403)
        .error_code("Authorization_RequestDenied");
}

#[test]
fn audit_reads_are_throttled_at_five_per_ten_seconds() {
    let mut config = test_config();
    config.throttling = true;
    let sim = Sim::with(config);
    for _ in 0..5 {
        sim.get(AUDITS).status(200);
    }
    let refused = sim.get(AUDITS).status(429);
    assert!(refused.header("retry-after").is_some());
}

#[test]
fn audit_entries_appear_after_the_ingestion_delay_and_vanish_after_the_retention() {
    use std::sync::Arc;
    use std::time::Duration;
    use tenantform::sim::clock::ManualClock;
    let clock = Arc::new(ManualClock::new());
    let day = Duration::from_secs(tenantform::sim::DAY_S);
    // Tenant 0 on P1 (30 days), tenant 1 on Free (7 days); Graph time is 10x faster.
    let sim = Sim::with(tenantform::sim::SimConfig {
        clock: clock.clone(),
        time_scale: 10.0,
        audit_delay: Duration::from_secs(600),
        audit_retention: 30 * day,
        audit_retention_by_tenant: vec![(1, 7 * day)],
        token_lifetime_s: 400 * 24 * 3600,
        ..test_config()
    });
    let create = |index: usize| {
        sim.send(
            index,
            "POST",
            POLICIES,
            Some(&ca_policy("Block legacy", &[])),
        )
        .status(201)
        .json()["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let (p1, free) = (create(0), create(1));
    let count = |index: usize, id: &str| {
        let filter: String = form_urlencoded::byte_serialize(
            format!("targetResources/any(t:t/id eq '{id}')").as_bytes(),
        )
        .collect();
        sim.send(index, "GET", &format!("{AUDITS}?$filter={filter}"), None)
            .status(200)
            .json()["value"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // Ingestion: 600 s of Graph time is 60 s of the simulator's clock at --time-scale 10.
    assert_eq!(count(0, &p1), 0, "logged, not ingested yet");
    clock.advance(Duration::from_secs(59));
    assert_eq!(count(0, &p1), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(count(0, &p1), 1, "ingested after the delay");
    assert_eq!(count(1, &free), 1);
    // A by-id read follows the same window.
    let all = sim.get(AUDITS).status(200).json();
    let entry_id = all["value"][0]["id"]
        .as_str()
        .expect("entry id")
        .to_string();
    sim.get(&format!("{AUDITS}/{entry_id}")).status(200);
    // Retention: 7 days of Graph time is 16.8 h of the clock; the Free tenant's entry is gone,
    // the P1 tenant's is kept until 30 days (72 h).
    clock.advance(day * 7 / 10);
    assert_eq!(count(1, &free), 0, "past a Free tenant's 7 days");
    assert_eq!(count(0, &p1), 1, "a P1 tenant keeps 30 days");
    clock.advance(day * 23 / 10);
    assert_eq!(count(0, &p1), 0, "past 30 days");
    sim.get(&format!("{AUDITS}/{entry_id}")).status(404);
    // Intune's audit events are kept a year.
    let compliance = sim
        .send(0, "POST", COMPLIANCE, Some(&compliance_policy("Windows")))
        .status(201)
        .json();
    clock.advance(Duration::from_secs(60));
    let events = |sim: &Sim| {
        sim.get("/v1.0/deviceManagement/auditEvents")
            .status(200)
            .json()["value"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(events(&sim), 1, "{compliance}");
    clock.advance(day * 30 / 10);
    assert_eq!(events(&sim), 1, "Intune keeps its events past 30 days");
}
