//! The simulator's Graph routes on the wire: CRUD per shape with Graph's status codes, bodies
//! and headers; the service's rules (`@odata.type`, one block action, read-only and unknown
//! properties, references); upsert, partners, `/assign`; query options and paging; evolvable
//! enums; replication delay; faults; throttling.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tenantform::sim::SimConfig;
use tenantform::sim::clock::ManualClock;
use tenantform::sim::faults::Fault;

use crate::sim_support::{Sim, ca_policy, compliance_policy, create_group, group, test_config};

const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
const LOCATIONS: &str = "/v1.0/identity/conditionalAccess/namedLocations";
const COMPLIANCE: &str = "/v1.0/deviceManagement/deviceCompliancePolicies";
const PARTNERS: &str = "/v1.0/policies/crossTenantAccessPolicy/partners";
const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

fn is_guid(text: &str) -> bool {
    tenantform::source::model::is_guid(text)
}

#[test]
fn conditional_access_policies_are_created_read_updated_and_soft_deleted() {
    let sim = Sim::start();
    let created = sim
        .send_with(
            0,
            "POST",
            POLICIES,
            Some(&ca_policy("Require MFA", &[])),
            &[("client-request-id", "11111111-0000-4000-8000-000000000000")],
        )
        .status(201);
    assert_eq!(created.header("content-type"), Some(ODATA_JSON));
    assert_eq!(created.header("odata-version"), Some("4.0"));
    assert_eq!(
        created.header("client-request-id"),
        Some("11111111-0000-4000-8000-000000000000")
    );
    assert!(created.header("request-id").is_some_and(is_guid));
    let body = created.json();
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#identity/conditionalAccess/policies/$entity",
            sim.handle.base_url()
        )
    );
    let id = body["id"].as_str().expect("id").to_string();
    assert!(is_guid(&id));
    assert!(body["createdDateTime"].is_string());
    assert_eq!(body["modifiedDateTime"], Value::Null);
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["conditions"]["users"]["excludeRoles"], json!([]));
    assert_eq!(body["conditions"]["users"]["includeUsers"], json!(["All"]));
    assert_eq!(body["grantControls"]["termsOfUse"], json!([]));

    let item = format!("{POLICIES}/{id}");
    let read = sim.get(&item).status(200);
    assert_eq!(read.header("client-request-id"), read.header("request-id"));
    assert_eq!(read.json()["displayName"], "Require MFA");

    let patched = sim
        .send(0, "PATCH", &item, Some(&json!({"state": "disabled", "conditions": {"users": {"excludeUsers": ["GuestsOrExternalUsers"]}}})))
        .status(204);
    assert!(patched.text.is_empty());
    let read = sim.get(&item).status(200).json();
    assert_eq!(read["state"], "disabled");
    assert!(read["modifiedDateTime"].is_string());
    assert_eq!(read["conditions"]["users"]["includeUsers"], json!(["All"]));
    assert_eq!(
        read["conditions"]["users"]["excludeUsers"],
        json!(["GuestsOrExternalUsers"])
    );

    sim.send(0, "DELETE", &item, None).status(204);
    sim.get(&item)
        .status(404)
        .error_code("Request_ResourceNotFound");
    let deleted = sim
        .get(&format!(
            "/v1.0/identity/conditionalAccess/deletedItems/policies/{id}"
        ))
        .status(200)
        .json();
    assert!(deleted["deletedDateTime"].is_string());
    let listed = sim
        .get("/v1.0/identity/conditionalAccess/deletedItems/policies")
        .status(200)
        .json();
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(1));
}

#[test]
fn named_locations_need_odata_type_on_post_and_patch() {
    let sim = Sim::start();
    let without = json!({"displayName": "Offices", "isTrusted": true, "ipRanges": []});
    let message = sim
        .send(0, "POST", LOCATIONS, Some(&without))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(message.contains("@odata.type"), "{message}");
    let with = json!({
        "@odata.type": "#microsoft.graph.ipNamedLocation",
        "displayName": "Offices",
        "isTrusted": true,
        "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]
    });
    let id = sim
        .send(0, "POST", LOCATIONS, Some(&with))
        .status(201)
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let item = format!("{LOCATIONS}/{id}");
    sim.send(0, "PATCH", &item, Some(&json!({"displayName": "Renamed"})))
        .status(400)
        .error_code("Request_BadRequest");
    sim.send(
        0,
        "PATCH",
        &item,
        Some(&json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Renamed"})),
    )
    .status(400);
    sim.send(
        0,
        "PATCH",
        &item,
        Some(&json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Renamed"})),
    )
    .status(204);
    let read = sim.get(&item).status(200).json();
    assert_eq!(read["@odata.type"], "#microsoft.graph.ipNamedLocation");
    assert_eq!(read["displayName"], "Renamed");
}

#[test]
fn unknown_and_read_only_properties_are_400_naming_the_property() {
    let sim = Sim::start();
    let mut unknown = ca_policy("x", &[]);
    unknown["conditions"]["users"]["includeEveryone"] = json!(true);
    let message = sim
        .send(0, "POST", POLICIES, Some(&unknown))
        .status(400)
        .error_code("Request_BadRequest");
    assert_eq!(
        message,
        "The property 'includeEveryone' does not exist on type 'microsoft.graph.conditionalAccessUsers'. Make sure to only use property names that are defined by the type or mark the type as open type."
    );
    let mut read_only = ca_policy("x", &[]);
    read_only["createdDateTime"] = json!("2024-01-01T00:00:00Z");
    let message = sim
        .send(0, "POST", POLICIES, Some(&read_only))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(
        message.contains("'createdDateTime' is read-only"),
        "{message}"
    );
    let response = sim.send(0, "POST", POLICIES, None).status(400);
    response.error_code("BadRequest");
}

#[test]
fn references_to_missing_objects_are_400() {
    let sim = Sim::start();
    let missing = "0f0f0f0f-0000-4000-8000-000000000000";
    let message = sim
        .send(0, "POST", POLICIES, Some(&ca_policy("x", &[missing])))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(
        message.contains(missing) && message.contains("do not exist"),
        "{message}"
    );
    let group = create_group(&sim, 0, "breakglass");
    sim.send(0, "POST", POLICIES, Some(&ca_policy("x", &[&group])))
        .status(201);
    // Another tenant's group does not exist here.
    sim.send(1, "POST", POLICIES, Some(&ca_policy("x", &[&group])))
        .status(400);
}

#[test]
fn singletons_have_microsofts_defaults_and_take_patch() {
    let sim = Sim::start();
    let path = "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy";
    let read = sim.get(path).status(200).json();
    assert_eq!(read["isEnabled"], true);
    assert_eq!(
        read["@odata.context"],
        format!(
            "{}/v1.0/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity",
            sim.handle.base_url()
        )
    );
    sim.send(0, "PATCH", path, Some(&json!({"isEnabled": false})))
        .status(204);
    assert_eq!(sim.get(path).json()["isEnabled"], false);
    // Other tenants keep the default.
    assert_eq!(sim.send(1, "GET", path, None).json()["isEnabled"], true);

    let authorization = sim
        .get("/v1.0/policies/authorizationPolicy")
        .status(200)
        .json();
    assert_eq!(authorization["id"], "authorizationPolicy");
    assert_eq!(authorization["allowInvitesFrom"], "everyone");
    let default = sim
        .get("/v1.0/policies/crossTenantAccessPolicy/default")
        .status(200)
        .json();
    assert_eq!(default["isServiceDefault"], true);
    sim.send(
        0,
        "PATCH",
        "/v1.0/policies/crossTenantAccessPolicy/default",
        Some(&json!({"automaticUserConsentSettings": {"inboundAllowed": true}})),
    )
    .status(204);
    let default = sim
        .get("/v1.0/policies/crossTenantAccessPolicy/default")
        .json();
    assert_eq!(default["isServiceDefault"], false);
    assert_eq!(
        default["automaticUserConsentSettings"]["inboundAllowed"],
        true
    );
    assert_eq!(
        default["automaticUserConsentSettings"]["outboundAllowed"],
        false
    );
    sim.send(
        0,
        "POST",
        "/v1.0/policies/authorizationPolicy",
        Some(&json!({})),
    )
    .status(405);
}

#[test]
fn authentication_method_configurations_are_fixed_members_by_case_insensitive_id() {
    let sim = Sim::start();
    let base = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations";
    let list = sim.get(base).status(200).json();
    let ids: Vec<&str> = list["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "Email",
            "Fido2",
            "MicrosoftAuthenticator",
            "QRCodePin",
            "Sms",
            "SoftwareOath",
            "TemporaryAccessPass",
            "Voice",
            "X509Certificate"
        ]
    );
    let fido = sim.get(&format!("{base}/fido2")).status(200).json();
    assert_eq!(fido["id"], "Fido2");
    assert_eq!(fido["state"], "disabled");
    let path = format!("{base}/FIDO2");
    sim.send(0, "PATCH", &path, Some(&json!({"state": "enabled"})))
        .status(400)
        .error_code("Request_BadRequest");
    sim.send(
        0,
        "PATCH",
        &path,
        Some(&json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "enabled"})),
    )
    .status(400);
    sim.send(
        0,
        "PATCH",
        &path,
        Some(&json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "state": "enabled"})),
    )
    .status(204);
    let fido = sim.get(&format!("{base}/Fido2")).json();
    assert_eq!(fido["state"], "enabled");
    assert_eq!(fido["isSelfServiceRegistrationAllowed"], true);
    sim.get(&format!("{base}/Passkeys")).status(404);
}

#[test]
fn groups_upsert_by_unique_name_201_then_204_and_plain_patch_is_404_when_missing() {
    let sim = Sim::start();
    let path = "/v1.0/groups(uniqueName='tenantform-breakglass')";
    let created = sim
        .send_with(
            0,
            "PATCH",
            path,
            Some(&group("Break glass")),
            &[("Prefer", "create-if-missing")],
        )
        .status(201);
    let body = created.json();
    assert_eq!(body["uniqueName"], "tenantform-breakglass");
    assert_eq!(
        body["@odata.context"],
        format!("{}/v1.0/$metadata#groups/$entity", sim.handle.base_url())
    );
    assert!(body["createdDateTime"].is_string());
    assert_eq!(body["proxyAddresses"], json!([]));
    let id = body["id"].as_str().expect("id").to_string();

    let mut renamed = group("Break glass");
    renamed["description"] = json!("Emergency access");
    let again = sim
        .send_with(
            0,
            "PATCH",
            path,
            Some(&renamed),
            &[("Prefer", "create-if-missing")],
        )
        .status(204);
    assert!(again.text.is_empty());
    let read = sim.get(&format!("/v1.0/groups/{id}")).status(200).json();
    assert_eq!(read["description"], "Emergency access");
    assert_eq!(sim.get(path).status(200).json()["id"], id.as_str());

    sim.send(
        0,
        "PATCH",
        "/v1.0/groups(uniqueName='missing')",
        Some(&group("Missing")),
    )
    .status(404)
    .error_code("Request_ResourceNotFound");
    let quoted = sim
        .send_with(
            0,
            "PATCH",
            "/v1.0/groups(uniqueName='it''s')",
            Some(&group("its")),
            &[("Prefer", "create-if-missing")],
        )
        .status(201);
    assert_eq!(quoted.json()["uniqueName"], "it's");
}

#[test]
fn post_groups_without_unique_name_is_created_and_a_given_unique_name_stays_unique() {
    // Graph requires displayName, mailEnabled, mailNickname and securityEnabled; uniqueName is
    // an optional alternate key (Microsoft's SDKs and scripts create groups without it).
    let sim = Sim::start();
    let created = sim
        .send(0, "POST", "/v1.0/groups", Some(&group("No unique name")))
        .status(201)
        .json();
    assert!(created["id"].as_str().is_some_and(is_guid), "{created}");
    assert_eq!(created["uniqueName"], Value::Null);
    assert_eq!(created["displayName"], "No unique name");
    let id = created["id"].as_str().expect("id");
    sim.get(&format!("/v1.0/groups/{id}")).status(200);
    // A second one without uniqueName is another group, not a conflict.
    sim.send(0, "POST", "/v1.0/groups", Some(&group("No unique name")))
        .status(201);
    // Required properties are still required.
    let mut incomplete = group("Incomplete");
    incomplete
        .as_object_mut()
        .expect("object")
        .remove("mailNickname");
    let message = sim
        .send(0, "POST", "/v1.0/groups", Some(&incomplete))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(message.contains("mailNickname"), "{message}");
    // A uniqueName given on POST is kept and stays unique.
    let mut named = group("Named");
    named["uniqueName"] = json!("named-group");
    sim.send(0, "POST", "/v1.0/groups", Some(&named))
        .status(201);
    sim.get("/v1.0/groups(uniqueName='named-group')")
        .status(200);
    sim.send(0, "POST", "/v1.0/groups", Some(&named))
        .status(400)
        .error_code("Request_MultipleObjectsWithSameKeyValue");
    assert_eq!(
        sim.get("/v1.0/groups").json()["value"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn partners_are_keyed_by_tenant_id_and_identity_synchronization_is_put() {
    let sim = Sim::start();
    let partner = "3d0f5dc6-0000-4000-8000-00000000beef";
    let created = sim
        .send(0, "POST", PARTNERS, Some(&json!({"tenantId": partner})))
        .status(201)
        .json();
    assert_eq!(created["tenantId"], partner);
    assert_eq!(created["inboundTrust"], Value::Null);
    let duplicate = sim
        .send(0, "POST", PARTNERS, Some(&json!({"tenantId": partner})))
        .status(409);
    assert!(duplicate.json()["error"]["code"].is_string());
    sim.get(&format!("{PARTNERS}/{partner}")).status(200);
    sim.send(
        0,
        "PATCH",
        &format!("{PARTNERS}/{partner}"),
        Some(&json!({"inboundTrust": {"isMfaAccepted": true}})),
    )
    .status(204);
    assert_eq!(
        sim.get(&format!("{PARTNERS}/{partner}")).json()["inboundTrust"]["isMfaAccepted"],
        true
    );

    let sync = format!("{PARTNERS}/{partner}/identitySynchronization");
    sim.get(&sync).status(404);
    sim.send(
        0,
        "PUT",
        &sync,
        Some(&json!({"displayName": "Fabrikam", "userSyncInbound": {"isSyncAllowed": true}})),
    )
    .status(204);
    let read = sim.get(&sync).status(200).json();
    assert_eq!(read["userSyncInbound"]["isSyncAllowed"], true);
    assert_eq!(read["tenantId"], partner);
    sim.send(0, "PATCH", &sync, Some(&json!({"displayName": "x"})))
        .status(405);
    let missing = "3d0f5dc6-0000-4000-8000-00000000dead";
    sim.send(
        0,
        "PUT",
        &format!("{PARTNERS}/{missing}/identitySynchronization"),
        Some(&json!({"displayName": "Nobody"})),
    )
    .status(404);
}

#[test]
fn compliance_policies_need_one_block_action_and_hide_it_from_get() {
    let sim = Sim::start();
    let mut no_block = compliance_policy("Windows");
    no_block["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"] =
        json!("notification");
    let message = sim
        .send(0, "POST", COMPLIANCE, Some(&no_block))
        .status(400)
        .json()["error"]["message"]
        .clone();
    assert_eq!(
        message,
        "Compliance policy must have one and only one block scheduled action"
    );
    let mut missing = compliance_policy("Windows");
    missing
        .as_object_mut()
        .expect("object")
        .remove("scheduledActionsForRule");
    sim.send(0, "POST", COMPLIANCE, Some(&missing)).status(400);
    let mut untyped = compliance_policy("Windows");
    untyped
        .as_object_mut()
        .expect("object")
        .remove("@odata.type");
    sim.send(0, "POST", COMPLIANCE, Some(&untyped)).status(400);

    let created = sim
        .send(0, "POST", COMPLIANCE, Some(&compliance_policy("Windows")))
        .status(201)
        .json();
    assert!(
        created.get("scheduledActionsForRule").is_none(),
        "{created}"
    );
    assert_eq!(created["version"], 1);
    assert!(created["lastModifiedDateTime"].is_string());
    let id = created["id"].as_str().expect("id");
    let item = format!("{COMPLIANCE}/{id}");
    assert!(
        sim.get(&item)
            .json()
            .get("scheduledActionsForRule")
            .is_none()
    );
    let expanded = sim
        .get(&format!(
            "{item}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)"
        ))
        .status(200)
        .json();
    assert_eq!(
        expanded["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"],
        "block"
    );
    // One level of $expand gives the rules without their configurations, as Graph does.
    let shallow = sim
        .get(&format!("{item}?$expand=scheduledActionsForRule"))
        .status(200)
        .json();
    assert_eq!(
        shallow["scheduledActionsForRule"][0]["ruleName"],
        expanded["scheduledActionsForRule"][0]["ruleName"]
    );
    assert!(
        shallow["scheduledActionsForRule"][0]
            .get("scheduledActionConfigurations")
            .is_none(),
        "{shallow}"
    );
    // The collection honours the same $expand.
    let listed = sim
        .get(&format!(
            "{COMPLIANCE}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)"
        ))
        .status(200)
        .json();
    assert_eq!(
        listed["value"][0]["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"],
        "block"
    );
    assert!(
        sim.get(COMPLIANCE).json()["value"][0]
            .get("scheduledActionsForRule")
            .is_none()
    );
}

#[test]
fn intune_assign_replaces_the_whole_set() {
    let sim = Sim::start();
    let a = create_group(&sim, 0, "scope-a");
    let b = create_group(&sim, 0, "scope-b");
    let id = sim
        .send(0, "POST", COMPLIANCE, Some(&compliance_policy("Windows")))
        .status(201)
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let target = |group: &str| json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}});
    let assign = format!("{COMPLIANCE}/{id}/assign");
    let first = sim
        .send(
            0,
            "POST",
            &assign,
            Some(&json!({"assignments": [target(&a), target(&b), target(&a)]})),
        )
        .status(200)
        .json();
    assert_eq!(first["value"].as_array().map(Vec::len), Some(2), "{first}");
    let second = sim
        .send(
            0,
            "POST",
            &assign,
            Some(&json!({"assignments": [target(&b)]})),
        )
        .status(200)
        .json();
    assert_eq!(second["value"][0]["target"]["groupId"], b.as_str());
    let listed = sim
        .get(&format!("{COMPLIANCE}/{id}/assignments"))
        .status(200)
        .json();
    assert_eq!(
        listed["value"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["value"][0]["target"]["groupId"], b.as_str());
    let missing = "0f0f0f0f-0000-4000-8000-000000000000";
    sim.send(
        0,
        "POST",
        &assign,
        Some(&json!({"assignments": [target(missing)]})),
    )
    .status(400);
    sim.send(
        0,
        "POST",
        &format!("{COMPLIANCE}/{missing}/assign"),
        Some(&json!({"assignments": []})),
    )
    .status(404);
}

#[test]
fn lists_filter_select_and_page_with_absolute_next_links() {
    let sim = Sim::start();
    for name in ["Alpha", "Bravo", "Charlie", "Delta", "It's quoted"] {
        create_group(&sim, 0, name);
    }
    let mut page = sim
        .get("/v1.0/groups?$top=2&$select=displayName,id")
        .status(200)
        .json();
    assert_eq!(
        page["@odata.context"],
        format!(
            "{}/v1.0/$metadata#groups(displayName,id)",
            sim.handle.base_url()
        )
    );
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        for item in page["value"].as_array().expect("value") {
            let keys: Vec<&String> = item.as_object().expect("object").keys().collect();
            assert_eq!(keys, ["displayName", "id"], "{item}");
            names.push(item["displayName"].as_str().expect("name").to_string());
        }
        let Some(next) = page["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(next.starts_with(&sim.handle.base_url()), "{next}");
        assert!(next.contains("$skiptoken="), "{next}");
        let response = sim
            .client
            .get(next)
            .bearer_auth(sim.token(0))
            .send()
            .expect("next page");
        assert_eq!(response.status().as_u16(), 200);
        page = response.json().expect("json");
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 5);

    let filtered = sim
        .get("/v1.0/groups?$filter=displayName%20eq%20'It''s%20quoted'")
        .status(200)
        .json();
    assert_eq!(filtered["value"].as_array().map(Vec::len), Some(1));
    let filtered = sim
        .get("/v1.0/groups?$filter=displayName eq 'alpha'")
        .status(200)
        .json();
    assert_eq!(filtered["value"][0]["displayName"], "Alpha");
    sim.get("/v1.0/groups?$top=1000")
        .status(400)
        .error_code("Request_UnsupportedQuery");
    sim.get("/v1.0/groups?$select=nonsense").status(400);
}

#[test]
fn evolvable_enum_members_are_masked_unless_the_client_opts_in() {
    let sim = Sim::start();
    let mut policy = ca_policy("Platforms", &[]);
    policy["conditions"]["platforms"] =
        json!({"includePlatforms": ["all"], "excludePlatforms": ["linux", "iOS"]});
    policy["grantControls"]["builtInControls"] = json!(["mfa", "riskRemediation"]);
    let created = sim
        .send(0, "POST", POLICIES, Some(&policy))
        .status(201)
        .json();
    assert_eq!(
        created["conditions"]["platforms"]["excludePlatforms"],
        json!(["unknownFutureValue", "iOS"])
    );
    let item = format!("{POLICIES}/{}", created["id"].as_str().expect("id"));
    let masked = sim.get(&item).json();
    assert_eq!(
        masked["grantControls"]["builtInControls"],
        json!(["mfa", "unknownFutureValue"])
    );
    let full = sim
        .send_with(
            0,
            "GET",
            &item,
            None,
            &[("Prefer", "include-unknown-enum-members")],
        )
        .json();
    assert_eq!(
        full["grantControls"]["builtInControls"],
        json!(["mfa", "riskRemediation"])
    );
    assert_eq!(
        full["conditions"]["platforms"]["excludePlatforms"],
        json!(["linux", "iOS"])
    );
}

#[test]
fn replication_delay_hides_new_objects_from_reads_and_references() {
    let clock = Arc::new(ManualClock::new());
    let sim = Sim::with(SimConfig {
        replication_delay_ms: 2_000,
        clock: clock.clone(),
        ..test_config()
    });
    let group_id = create_group(&sim, 0, "fresh");
    sim.get(&format!("/v1.0/groups/{group_id}"))
        .status(404)
        .error_code("Request_ResourceNotFound");
    assert_eq!(sim.get("/v1.0/groups").json()["value"], json!([]));
    let message = sim
        .send(0, "POST", POLICIES, Some(&ca_policy("x", &[&group_id])))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(message.contains("do not exist"), "{message}");
    clock.advance(Duration::from_millis(2_000));
    sim.get(&format!("/v1.0/groups/{group_id}")).status(200);
    sim.send(0, "POST", POLICIES, Some(&ca_policy("x", &[&group_id])))
        .status(201);
}

#[test]
fn a_dropped_connection_is_a_connection_error_for_a_plain_client() {
    let sim = Sim::start();
    let token = sim.token(0);
    sim.handle.inject_faults([Fault::DroppedConnection]);
    let result = sim
        .client
        .get(sim.url("/v1.0/groups"))
        .bearer_auth(&token)
        .send()
        .and_then(|r| r.text());
    let error = result.expect_err("the connection is dropped");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    // The next request is served normally.
    sim.get("/v1.0/groups").status(200);
    // Faults can also be queued over HTTP.
    sim.sim(
        "POST",
        "/_sim/faults",
        Some(&json!({"next": ["503-retry-after", "500"]})),
    )
    .status(204);
    let unavailable = sim.get("/v1.0/groups").status(503);
    unavailable.error_code("serviceNotAvailable");
    assert_eq!(unavailable.header("retry-after"), Some("1"));
    sim.get("/v1.0/groups")
        .status(500)
        .error_code("generalException");
}

#[test]
fn unknown_segments_are_400_and_wrong_methods_405() {
    let sim = Sim::start();
    let message = sim
        .get("/v1.0/identity/conditionalAccess/bogus")
        .status(400)
        .error_code("BadRequest");
    assert_eq!(message, "Resource not found for the segment 'bogus'.");
    sim.send(0, "DELETE", POLICIES, None)
        .status(405)
        .error_code("Request_BadRequest");
    // Beta-only kinds are not on v1.0.
    sim.get("/v1.0/deviceManagement/configurationPolicies")
        .status(400);
    sim.get("/beta/deviceManagement/configurationPolicies")
        .status(200);
}

#[test]
fn conditional_access_is_throttled_at_one_request_per_second_without_retry_after() {
    let sim = Sim::with(SimConfig {
        throttling: true,
        clock: Arc::new(ManualClock::new()),
        ..test_config()
    });
    sim.get(POLICIES).status(200);
    let throttled = sim.get(POLICIES).status(429);
    throttled.error_code("TooManyRequests");
    assert_eq!(throttled.header("retry-after"), None);
    assert!(throttled.header("request-id").is_some());
    // Another tenant has its own bucket; identity routes are not CA-limited.
    sim.send(1, "GET", POLICIES, None).status(200);
    let groups = sim.get("/v1.0/groups").status(200);
    assert_eq!(groups.header("x-ms-resource-unit"), Some("1"));
}
