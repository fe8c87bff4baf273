//! The simulator's JSON batching on the wire: limits, ids, relative URLs, the Content-Type
//! rule, `dependsOn` with 424, seeded shuffling, and per-item throttling inside a 200 envelope.

use std::sync::Arc;

use serde_json::{Value, json};
use tenantform::sim::SimConfig;
use tenantform::sim::clock::ManualClock;

use crate::sim_support::{Resp, Sim, compliance_policy, group, test_config};

fn batch(sim: &Sim, requests: Value) -> Resp {
    sim.send(
        0,
        "POST",
        "/v1.0/$batch",
        Some(&json!({ "requests": requests })),
    )
}

fn by_id(envelope: &Value, id: &str) -> Value {
    envelope["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no response {id}: {envelope}"))
}

fn response_ids(envelope: &Value) -> Vec<String> {
    envelope["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn items_run_against_the_version_root_with_or_without_a_leading_slash() {
    let sim = Sim::start();
    let envelope = batch(
        &sim,
        json!([
            {"id": "1", "method": "GET", "url": "/policies/identitySecurityDefaultsEnforcementPolicy"},
            {"id": "2", "method": "GET", "url": "groups?$top=1"},
            {"id": "3", "method": "POST", "url": "/identity/conditionalAccess/namedLocations",
             "headers": {"Content-Type": "application/json"},
             "body": {"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "NL",
                      "countriesAndRegions": ["NL"], "includeUnknownCountriesAndRegions": false}},
            {"id": "4", "method": "GET", "url": "/v1.0/groups"}
        ]),
    )
    .status(200)
    .json();
    let first = by_id(&envelope, "1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["body"]["isEnabled"], true);
    assert!(first["headers"]["Content-Type"].is_string(), "{first}");
    assert!(first.get("method").is_none() && first.get("url").is_none());
    assert_eq!(by_id(&envelope, "2")["status"], 200);
    let created = by_id(&envelope, "3");
    assert_eq!(created["status"], 201);
    assert!(created["body"]["id"].is_string());
    // The version is not part of item URLs.
    assert_eq!(by_id(&envelope, "4")["status"], 400);
}

#[test]
fn more_than_twenty_requests_or_duplicate_ids_fail_the_whole_batch() {
    let sim = Sim::start();
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"}))
        .collect();
    batch(&sim, Value::Array(many))
        .status(400)
        .error_code("BadRequest");
    let twenty: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"}))
        .collect();
    batch(&sim, Value::Array(twenty)).status(200);
    batch(
        &sim,
        json!([
            {"id": "item", "method": "GET", "url": "/groups"},
            {"id": "ITEM", "method": "GET", "url": "/groups"}
        ]),
    )
    .status(400)
    .error_code("BadRequest");
    sim.send(0, "POST", "/v1.0/$batch", Some(&json!({"nope": []})))
        .status(400);
}

#[test]
fn a_body_without_content_type_fails_only_that_item() {
    let sim = Sim::start();
    let envelope = batch(
        &sim,
        json!([
            {"id": "1", "method": "PATCH", "url": "/policies/identitySecurityDefaultsEnforcementPolicy",
             "body": {"isEnabled": false}},
            {"id": "2", "method": "PATCH", "url": "/policies/identitySecurityDefaultsEnforcementPolicy",
             "headers": {"content-type": "application/json"}, "body": {"isEnabled": false}}
        ]),
    )
    .status(200)
    .json();
    let missing = by_id(&envelope, "1");
    assert_eq!(missing["status"], 400);
    assert_eq!(missing["body"]["error"]["code"], "BadRequest");
    assert_eq!(by_id(&envelope, "2")["status"], 204);
}

#[test]
fn dependants_of_a_failed_request_get_424() {
    let sim = Sim::start();
    let envelope = batch(
        &sim,
        json!([
            {"id": "3", "method": "GET", "url": "/groups", "dependsOn": ["2"]},
            {"id": "1", "method": "POST", "url": "/deviceManagement/deviceCompliancePolicies",
             "headers": {"Content-Type": "application/json"},
             "body": {"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "no block"}},
            {"id": "2", "method": "GET", "url": "/groups", "dependsOn": ["1"]},
            {"id": "4", "method": "PATCH", "url": "/groups(uniqueName='independent')",
             "headers": {"Content-Type": "application/json", "Prefer": "create-if-missing"},
             "body": group("independent")}
        ]),
    )
    .status(200)
    .json();
    assert_eq!(by_id(&envelope, "1")["status"], 400);
    for dependant in ["2", "3"] {
        let response = by_id(&envelope, dependant);
        assert_eq!(response["status"], 424, "{response}");
        assert_eq!(response["body"]["error"]["code"], "FailedDependency");
    }
    assert_eq!(by_id(&envelope, "4")["status"], 201);
    let unknown = batch(
        &sim,
        json!([{"id": "1", "method": "GET", "url": "/groups", "dependsOn": ["9"]}]),
    );
    unknown.status(400);
}

#[test]
fn responses_come_back_in_a_seeded_shuffled_order() {
    let requests: Vec<Value> = (0..20)
        .map(|i| json!({"id": format!("r{i:02}"), "method": "GET", "url": "/groups"}))
        .collect();
    let in_order: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    let sim = Sim::start();
    let first = response_ids(
        &batch(&sim, Value::Array(requests.clone()))
            .status(200)
            .json(),
    );
    let second = response_ids(
        &batch(&sim, Value::Array(requests.clone()))
            .status(200)
            .json(),
    );
    assert_ne!(first, in_order, "responses were not shuffled");
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, in_order);
    assert_eq!(first, second, "the same batch and seed give the same order");
    let same_seed = Sim::start();
    let third = response_ids(
        &batch(&same_seed, Value::Array(requests.clone()))
            .status(200)
            .json(),
    );
    assert_eq!(first, third);
    let other_seed = Sim::with(SimConfig {
        seed: 42,
        ..test_config()
    });
    let fourth = response_ids(
        &batch(&other_seed, Value::Array(requests))
            .status(200)
            .json(),
    );
    assert_ne!(first, fourth);
}

#[test]
fn items_are_throttled_one_by_one_inside_a_200_envelope() {
    // A clock that stands still: no bucket refills while the test runs.
    let sim = Sim::with(SimConfig {
        throttling: true,
        clock: Arc::new(ManualClock::new()),
        ..test_config()
    });
    // Conditional Access: 1 request per second per tenant, 429 without Retry-After.
    let envelope = batch(
        &sim,
        json!([
            {"id": "a", "method": "GET", "url": "/identity/conditionalAccess/policies"},
            {"id": "b", "method": "GET", "url": "/identity/conditionalAccess/policies"},
            {"id": "c", "method": "GET", "url": "/groups"}
        ]),
    )
    .status(200)
    .json();
    assert_eq!(by_id(&envelope, "a")["status"], 200);
    let throttled = by_id(&envelope, "b");
    assert_eq!(throttled["status"], 429);
    assert_eq!(throttled["body"]["error"]["code"], "TooManyRequests");
    assert!(
        throttled["headers"].get("Retry-After").is_none(),
        "{throttled}"
    );
    assert_eq!(by_id(&envelope, "c")["status"], 200);

    // Intune: 100 writes per 20 s per app and tenant, 429 with Retry-After in the item headers.
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for round in 0..6 {
        let requests: Vec<Value> = (0..20)
            .map(|i| {
                json!({"id": format!("{i}"), "method": "POST",
                       "url": "/deviceManagement/deviceCompliancePolicies",
                       "headers": {"Content-Type": "application/json"},
                       "body": compliance_policy(&format!("Policy {round}-{i}"))})
            })
            .collect();
        let envelope = batch(&sim, Value::Array(requests)).status(200).json();
        for response in envelope["responses"].as_array().expect("responses") {
            statuses.push(response["status"].as_u64().expect("status"));
            if response["status"] == 429 {
                retry_after = response["headers"]["Retry-After"]
                    .as_str()
                    .map(str::to_string);
            }
        }
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(created, 100, "{statuses:?}");
    assert_eq!(throttled, 20, "{statuses:?}");
    let retry_after = retry_after.expect("Retry-After in a throttled item's headers");
    assert!(
        retry_after.parse::<f64>().is_ok_and(|s| s > 0.0),
        "{retry_after}"
    );
    let log = sim.handle.request_log(Some(&sim.tenant(0))).expect("log");
    assert_eq!(log["throttleEvents"], 21);
}
