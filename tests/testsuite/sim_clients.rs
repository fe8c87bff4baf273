//! The simulator for clients that are not tenantform (Microsoft's SDKs, MSAL, admin scripts):
//! the directory reads they start with, next links on the host they called, every declared
//! property on reads, query options, and the identity platform's discovery documents. Each test
//! talks to an in-process simulator with a plain HTTP client.

use serde_json::{Value, json};

use crate::sim_support::Sim;

#[test]
fn organization_lists_the_tenant_with_its_verified_domain() {
    let sim = Sim::start();
    let tenant = sim.handle.tenants()[0].clone();
    let list = sim.get("/v1.0/organization").status(200).json();
    assert_eq!(
        list["@odata.context"],
        format!("{}/v1.0/$metadata#organization", sim.handle.base_url())
    );
    let orgs = list["value"].as_array().expect("value");
    assert_eq!(orgs.len(), 1);
    let org = &orgs[0];
    assert_eq!(org["id"], tenant.id.as_str());
    assert_eq!(org["displayName"], tenant.name.as_str());
    assert_eq!(org["tenantType"], "AAD");
    assert_eq!(org["city"], Value::Null);
    let domain = &org["verifiedDomains"][0];
    assert_eq!(domain["name"], "contoso00000.onmicrosoft.com");
    assert_eq!(domain["isDefault"], true);
    assert_eq!(domain["isInitial"], true);
    assert_eq!(domain["type"], "Managed");
    // By id, and with $select.
    let one = sim
        .get(&format!(
            "/v1.0/organization/{}?$select=id,verifiedDomains",
            tenant.id
        ))
        .status(200)
        .json();
    let keys: Vec<&String> = one.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["@odata.context", "id", "verifiedDomains"]);
    // Another tenant sees its own organization.
    let other = sim.send(1, "GET", "/v1.0/organization", None).json();
    assert_eq!(other["value"][0]["id"], sim.tenant(1).as_str());
    sim.get("/v1.0/organization/00000000-0000-0000-0000-000000000000")
        .status(404)
        .error_code("Request_ResourceNotFound");
}

#[test]
fn users_list_get_by_id_or_upn_filter_and_select() {
    let sim = Sim::start();
    let list = sim.get("/v1.0/users").status(200).json();
    let users = list["value"].as_array().expect("value");
    assert_eq!(users.len(), 1);
    let admin = &users[0];
    // A list returns the default properties only.
    let mut keys: Vec<&str> = admin
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
    assert_eq!(
        admin["userPrincipalName"],
        "admin@contoso00000.onmicrosoft.com"
    );
    let id = admin["id"].as_str().expect("id");
    assert!(tenantform::source::model::is_guid(id));
    // The same id on every start (derived from the seed and the tenant).
    let again = Sim::start();
    assert_eq!(again.get("/v1.0/users").json()["value"][0]["id"], id);

    let by_id = sim.get(&format!("/v1.0/users/{id}")).status(200).json();
    assert_eq!(
        by_id["@odata.context"],
        format!("{}/v1.0/$metadata#users/$entity", sim.handle.base_url())
    );
    assert_eq!(by_id["id"], id);
    let by_upn = sim
        .get("/v1.0/users/ADMIN%40contoso00000.onmicrosoft.com?$select=accountEnabled,userType")
        .status(200)
        .json();
    assert_eq!(by_upn["accountEnabled"], true);
    assert_eq!(by_upn["userType"], "Member");
    assert!(by_upn.get("displayName").is_none(), "{by_upn}");
    sim.get("/v1.0/users/nobody@contoso00000.onmicrosoft.com")
        .status(404)
        .error_code("Request_ResourceNotFound");

    let found = sim
        .get("/v1.0/users?$filter=userPrincipalName eq 'admin@contoso00000.onmicrosoft.com'&$select=id,accountEnabled")
        .status(200)
        .json();
    assert_eq!(found["value"], json!([{"id": id, "accountEnabled": true}]));
    let none = sim
        .get("/v1.0/users?$filter=accountEnabled eq false")
        .status(200)
        .json();
    assert_eq!(none["value"], json!([]));
    let message = sim
        .get("/v1.0/users?$filter=favouriteColour eq 'blue'")
        .status(400)
        .error_code("Request_UnsupportedQuery");
    assert!(message.contains("'favouriteColour'"), "{message}");
    sim.get("/v1.0/users?$select=favouriteColour")
        .status(400)
        .error_code("Request_BadRequest");
    // Users can be created (cross-tenant synchronization's scope), with Graph's required
    // properties: a body without them is a 400 naming the first one missing.
    let message = sim
        .send(0, "POST", "/v1.0/users", Some(&json!({"displayName": "x"})))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(message.contains("'accountEnabled'"), "{message}");
}

#[test]
fn next_links_and_contexts_use_the_host_the_client_called() {
    // A client that called `localhost` must keep paging on `localhost` (its token and its TLS
    // name are for that host), not be sent to the listen address 127.0.0.1.
    let sim = Sim::with(tenantform::sim::SimConfig {
        page_size: 1,
        ..crate::sim_support::test_config()
    });
    for name in ["a", "b"] {
        crate::sim_support::create_group(&sim, 0, name);
    }
    let origin = format!("http://localhost:{}", sim.handle.addr().port());
    let page: Value = sim
        .client
        .get(format!("{origin}/v1.0/groups?$select=id"))
        .bearer_auth(sim.token(0))
        .send()
        .expect("list")
        .json()
        .expect("json");
    let next = page["@odata.nextLink"].as_str().expect("nextLink");
    assert!(
        next.starts_with(&format!("{origin}/v1.0/groups?")),
        "{next}"
    );
    assert_eq!(
        page["@odata.context"],
        format!("{origin}/v1.0/$metadata#groups(id)")
    );
    let second: Value = sim
        .client
        .get(next)
        .bearer_auth(sim.token(0))
        .send()
        .expect("next page")
        .json()
        .expect("json");
    assert_eq!(second["value"].as_array().map(Vec::len), Some(1));

    // Inside a $batch, item links are on the host the batch was sent to.
    let batch: Value = sim
        .client
        .post(sim.url("/v1.0/$batch"))
        .header("Host", "graph.localtest.me:443")
        .bearer_auth(sim.token(0))
        .json(&json!({"requests": [{"id": "1", "method": "GET", "url": "/groups"}]}))
        .send()
        .expect("batch")
        .json()
        .expect("json");
    let link = batch["responses"][0]["body"]["@odata.nextLink"]
        .as_str()
        .expect("item nextLink");
    assert!(
        link.starts_with("http://graph.localtest.me:443/v1.0/groups?"),
        "{link}"
    );
}

const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";

#[test]
fn reads_return_every_declared_property_with_null_for_unset_ones() {
    // Compliance scanners read fields such as excludeGuestsOrExternalUsers; Graph returns
    // them as null when unset, and a missing key reads differently from a null one.
    let sim = Sim::start();
    let created = sim
        .send(
            0,
            "POST",
            POLICIES,
            Some(&crate::sim_support::ca_policy("Nulls", &[])),
        )
        .status(201)
        .json();
    let id = created["id"].as_str().expect("id");
    let read = sim.get(&format!("{POLICIES}/{id}")).status(200).json();
    let users = read["conditions"]["users"].as_object().expect("users");
    assert_eq!(
        users.get("excludeGuestsOrExternalUsers"),
        Some(&Value::Null)
    );
    assert_eq!(
        users.get("includeGuestsOrExternalUsers"),
        Some(&Value::Null)
    );
    assert_eq!(users.get("excludeRoles"), Some(&json!([])));
    let conditions = read["conditions"].as_object().expect("conditions");
    for property in ["devices", "platforms", "locations", "clientApplications"] {
        assert_eq!(conditions.get(property), Some(&Value::Null), "{property}");
    }
    assert_eq!(
        read["conditions"]["applications"].get("applicationFilter"),
        Some(&Value::Null)
    );
    let grant = read["grantControls"].as_object().expect("grantControls");
    assert_eq!(grant.get("authenticationStrength"), Some(&Value::Null));
    assert_eq!(read.get("sessionControls"), Some(&Value::Null));
    assert_eq!(read.get("templateId"), Some(&Value::Null));
}

#[test]
fn built_in_authentication_strengths_come_back_expanded() {
    let sim = Sim::start();
    let mut policy = crate::sim_support::ca_policy("Phishing-resistant admins", &[]);
    policy["grantControls"] = json!({
        "operator": "OR",
        "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}
    });
    let created = sim
        .send(0, "POST", POLICIES, Some(&policy))
        .status(201)
        .json();
    let id = created["id"].as_str().expect("id");
    let item = format!("{POLICIES}/{id}");
    let strength = sim.get(&item).json()["grantControls"]["authenticationStrength"].clone();
    assert_eq!(strength["id"], "00000000-0000-0000-0000-000000000004");
    assert_eq!(strength["displayName"], "Phishing-resistant MFA");
    assert_eq!(strength["policyType"], "builtIn");
    assert_eq!(
        strength["allowedCombinations"],
        json!([
            "windowsHelloForBusiness",
            "fido2",
            "x509CertificateMultiFactor"
        ])
    );
    // Switching to another built-in replaces the expansion, it is not merged into it.
    sim.send(
        0,
        "PATCH",
        &item,
        Some(&json!({"grantControls": {"authenticationStrength": {"id": "00000000-0000-0000-0000-000000000003"}}})),
    )
    .status(204);
    let strength = sim.get(&item).json()["grantControls"]["authenticationStrength"].clone();
    assert_eq!(strength["displayName"], "Passwordless MFA");
    assert_eq!(
        strength["allowedCombinations"],
        json!([
            "windowsHelloForBusiness",
            "fido2",
            "x509CertificateMultiFactor",
            "deviceBasedPush"
        ])
    );
    // The multifactor built-in allows password + a second factor.
    sim.send(
        0,
        "PATCH",
        &item,
        Some(&json!({"grantControls": {"authenticationStrength": {"id": "00000000-0000-0000-0000-000000000002"}}})),
    )
    .status(204);
    let strength = sim.get(&item).json()["grantControls"]["authenticationStrength"].clone();
    assert_eq!(strength["displayName"], "Multifactor authentication");
    let combinations = strength["allowedCombinations"]
        .as_array()
        .expect("combinations");
    assert!(combinations.contains(&json!("password,sms")), "{strength}");
}

const EVENTUAL: (&str, &str) = ("ConsistencyLevel", "eventual");

fn names(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|g| g["displayName"].as_str().expect("displayName").to_string())
        .collect()
}

#[test]
fn count_needs_consistency_level_eventual_on_directory_objects() {
    let sim = Sim::start();
    for name in ["Bravo", "Alpha", "Charlie"] {
        crate::sim_support::create_group(&sim, 0, name);
    }
    let counted = sim
        .send_with(
            0,
            "GET",
            "/v1.0/groups?$count=true&$top=2",
            None,
            &[EVENTUAL],
        )
        .status(200)
        .json();
    assert_eq!(counted["@odata.count"], 3);
    // @odata.count is on the first page only.
    let next = counted["@odata.nextLink"].as_str().expect("nextLink");
    let second: Value = sim
        .client
        .get(next)
        .bearer_auth(sim.token(0))
        .header(EVENTUAL.0, EVENTUAL.1)
        .send()
        .expect("page 2")
        .json()
        .expect("json");
    assert!(second.get("@odata.count").is_none(), "{second}");
    // Without the header Graph ignores $count=true on directory objects.
    let ignored = sim.get("/v1.0/groups?$count=true").status(200).json();
    assert!(ignored.get("@odata.count").is_none(), "{ignored}");
    // Conditional Access policies count without advanced query parameters.
    sim.send(
        0,
        "POST",
        POLICIES,
        Some(&crate::sim_support::ca_policy("Counted", &[])),
    )
    .status(201);
    let policies = sim
        .get(&format!("{POLICIES}?$count=true"))
        .status(200)
        .json();
    assert_eq!(policies["@odata.count"], 1);
    // Users too, in a $batch item that carries the header.
    let batch = sim
        .send(
            0,
            "POST",
            "/v1.0/$batch",
            Some(
                &json!({"requests": [{"id": "1", "method": "GET", "url": "/users?$count=true",
                "headers": {"ConsistencyLevel": "eventual"}}]}),
            ),
        )
        .status(200)
        .json();
    assert_eq!(batch["responses"][0]["body"]["@odata.count"], 1);
}

#[test]
fn orderby_sorts_and_directory_sorting_follows_graphs_advanced_query_rules() {
    let sim = Sim::start();
    for name in ["Bravo", "alpha", "Charlie"] {
        crate::sim_support::create_group(&sim, 0, name);
    }
    let sorted = sim
        .get("/v1.0/groups?$orderby=displayName")
        .status(200)
        .json();
    assert_eq!(names(&sorted), ["alpha", "Bravo", "Charlie"]);
    let descending = sim
        .get("/v1.0/groups?$orderby=displayName%20desc")
        .status(200)
        .json();
    assert_eq!(names(&descending), ["Charlie", "Bravo", "alpha"]);
    // Sorting groups by another property, or sorting a filtered list, is an advanced query.
    let message = sim
        .get("/v1.0/groups?$orderby=createdDateTime")
        .status(400)
        .error_code("Request_UnsupportedQuery");
    assert_eq!(message, "Sorting not supported for current query.");
    sim.get("/v1.0/groups?$orderby=displayName&$filter=securityEnabled eq true")
        .status(400)
        .error_code("Request_UnsupportedQuery");
    let advanced = sim
        .send_with(
            0,
            "GET",
            "/v1.0/groups?$orderby=displayName%20desc&$filter=securityEnabled eq true&$count=true",
            None,
            &[EVENTUAL],
        )
        .status(200)
        .json();
    assert_eq!(names(&advanced), ["Charlie", "Bravo", "alpha"]);
    assert_eq!(advanced["@odata.count"], 3);
    // Conditional Access policies sort by any property.
    for name in ["Zulu", "Yankee"] {
        sim.send(
            0,
            "POST",
            POLICIES,
            Some(&crate::sim_support::ca_policy(name, &[])),
        )
        .status(201);
    }
    let policies = sim
        .get(&format!(
            "{POLICIES}?$orderby=displayName&$select=displayName"
        ))
        .status(200)
        .json();
    assert_eq!(names(&policies), ["Yankee", "Zulu"]);
}

#[test]
fn skip_works_where_graph_supports_it_and_is_refused_on_directory_objects() {
    let sim = Sim::with(tenantform::sim::SimConfig {
        page_size: 1,
        ..crate::sim_support::test_config()
    });
    for name in ["One", "Two", "Three"] {
        sim.send(
            0,
            "POST",
            POLICIES,
            Some(&crate::sim_support::ca_policy(name, &[])),
        )
        .status(201);
    }
    let skipped = sim.get(&format!("{POLICIES}?$skip=1")).status(200).json();
    assert_eq!(names(&skipped), ["Two"]);
    // The next link continues after the skipped page, not from the start again.
    let next = skipped["@odata.nextLink"].as_str().expect("nextLink");
    let second: Value = sim
        .client
        .get(next)
        .bearer_auth(sim.token(0))
        .send()
        .expect("page 2")
        .json()
        .expect("json");
    assert_eq!(names(&second), ["Three"]);
    assert!(second.get("@odata.nextLink").is_none(), "{second}");
    let message = sim
        .get("/v1.0/groups?$skip=1")
        .status(400)
        .error_code("Request_BadRequest");
    assert_eq!(message, "'$skip' is not supported by the service.");
    sim.get("/v1.0/users?$skip=1")
        .status(400)
        .error_code("Request_BadRequest");
}

#[test]
fn search_on_display_name_needs_consistency_level_eventual() {
    let sim = Sim::start();
    for name in ["Contoso Admins", "Helpdesk (Contoso)", "Falcon"] {
        crate::sim_support::create_group(&sim, 0, name);
    }
    let path = "/v1.0/groups?$search=%22displayName:contoso%22";
    let message = sim
        .get(path)
        .status(400)
        .error_code("Request_UnsupportedQuery");
    assert!(message.contains("ConsistencyLevel: eventual"), "{message}");
    let found = sim
        .send_with(0, "GET", path, None, &[EVENTUAL])
        .status(200)
        .json();
    let mut found = names(&found);
    found.sort();
    assert_eq!(found, ["Contoso Admins", "Helpdesk (Contoso)"]);
    // The term must be a quoted "property:term".
    sim.send_with(0, "GET", "/v1.0/groups?$search=contoso", None, &[EVENTUAL])
        .status(400)
        .error_code("Request_UnsupportedQuery");
    let users = sim
        .send_with(
            0,
            "GET",
            "/v1.0/users?$search=%22displayName:admin%22",
            None,
            &[EVENTUAL],
        )
        .status(200)
        .json();
    assert_eq!(users["value"].as_array().map(Vec::len), Some(1));
}

#[test]
fn expand_returns_assignments_and_group_members() {
    let sim = Sim::start();
    let group = crate::sim_support::create_group(&sim, 0, "Expanded");
    let read = sim
        .get(&format!("/v1.0/groups/{group}?$expand=members"))
        .status(200)
        .json();
    assert_eq!(read["members"], json!([]));
    let listed = sim.get("/v1.0/groups?$expand=owners").status(200).json();
    assert_eq!(listed["value"][0]["owners"], json!([]));
    // $expand is not available in advanced queries.
    sim.send_with(0, "GET", "/v1.0/groups?$expand=members", None, &[EVENTUAL])
        .status(400)
        .error_code("Request_UnsupportedQuery");
    let compliance = sim
        .send(
            0,
            "POST",
            "/v1.0/deviceManagement/deviceCompliancePolicies",
            Some(&crate::sim_support::compliance_policy("Expanded")),
        )
        .status(201)
        .json();
    let id = compliance["id"].as_str().expect("id");
    sim.send(
        0,
        "POST",
        &format!("/v1.0/deviceManagement/deviceCompliancePolicies/{id}/assign"),
        Some(&json!({"assignments": [{"target": {
            "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}}]})),
    )
    .status(200);
    let expanded = sim
        .get("/v1.0/deviceManagement/deviceCompliancePolicies?$expand=assignments")
        .status(200)
        .json();
    assert_eq!(
        expanded["value"][0]["assignments"][0]["target"]["groupId"],
        group.as_str()
    );
}

#[test]
fn openid_metadata_instance_discovery_and_keys_point_at_the_simulator() {
    let sim = Sim::start();
    let tenant = sim.tenant(0);
    let origin = format!("http://localhost:{}", sim.handle.addr().port());
    let get = |url: String| -> (u16, Value) {
        let response = sim.client.get(url).send().expect("discovery request");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    };
    let (status, config) = get(format!(
        "{origin}/{tenant}/v2.0/.well-known/openid-configuration"
    ));
    assert_eq!(status, 200);
    assert_eq!(
        config["token_endpoint"],
        format!("{origin}/{tenant}/oauth2/v2.0/token")
    );
    assert_eq!(config["issuer"], format!("{origin}/{tenant}/v2.0"));
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let jwks_uri = config["jwks_uri"].as_str().expect("jwks_uri").to_string();
    // The multi-tenant authority names the tenant as a placeholder, as Entra does.
    let (_, common) = get(format!(
        "{origin}/common/v2.0/.well-known/openid-configuration"
    ));
    assert_eq!(
        common["token_endpoint"],
        format!("{origin}/{{tenantid}}/oauth2/v2.0/token")
    );
    // An unknown tenant is Entra's AADSTS90002.
    let (status, error) = get(format!(
        "{origin}/contoso.example/v2.0/.well-known/openid-configuration"
    ));
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_tenant");
    assert_eq!(error["error_codes"], json!([90002]));
    assert!(error["trace_id"].is_string() && error["correlation_id"].is_string());
    // Instance discovery, as MSAL calls it.
    let (status, instance) = get(format!(
        "{origin}/common/discovery/instance?api-version=1.1&authorization_endpoint={origin}/{tenant}/oauth2/v2.0/authorize"
    ));
    assert_eq!(status, 200);
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration")
    );
    let host = origin.trim_start_matches("http://");
    assert_eq!(instance["metadata"][0]["aliases"], json!([host]));

    // Tokens are RS256, and the key in the JWKS verifies them.
    let (status, jwks) = get(jwks_uri);
    assert_eq!(status, 200);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    let token = sim.token(0);
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().expect("n"),
        key["e"].as_str().expect("e"),
    )
    .expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).expect("verified");
    assert_eq!(claims.claims["tid"], tenant.as_str());
}

#[test]
fn tokens_survive_a_restart_with_a_state_dir_and_no_other_simulator_accepts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tenantform::sim::SimConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..crate::sim_support::test_config()
    };
    let sim = Sim::with(config.clone());
    let token = sim.token(0);
    let Sim { handle, .. } = sim;
    handle.shutdown_blocking().expect("saved");
    assert!(dir.path().join("signing-key.pem").exists());

    let again = Sim::with(config);
    let response = again
        .client
        .get(again.url("/v1.0/organization"))
        .bearer_auth(&token)
        .send()
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);

    // A simulator without that state (even in the same process) refuses it.
    let other = Sim::start();
    let response = other
        .client
        .get(other.url("/v1.0/organization"))
        .bearer_auth(&token)
        .send()
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().expect("json");
    assert_eq!(
        body["error"]["message"],
        "Access token validation failure. Invalid signature."
    );
}

#[test]
fn beta_serves_role_scope_tags_and_the_authorization_policy_as_a_collection() {
    let sim = Sim::start();
    let tags = sim
        .get("/beta/deviceManagement/roleScopeTags")
        .status(200)
        .json();
    assert_eq!(
        tags["@odata.context"],
        format!(
            "{}/beta/$metadata#deviceManagement/roleScopeTags",
            sim.handle.base_url()
        )
    );
    assert_eq!(tags["value"][0]["id"], "0");
    assert_eq!(tags["value"][0]["displayName"], "Default");
    assert_eq!(tags["value"][0]["isBuiltIn"], true);
    sim.get("/beta/deviceManagement/roleScopeTags/0")
        .status(200);
    sim.get("/beta/deviceManagement/roleScopeTags/7")
        .status(404)
        .error_code("Request_ResourceNotFound");
    // Not on v1.0, as on Graph.
    sim.get("/v1.0/deviceManagement/roleScopeTags").status(400);

    // Beta's authorizationPolicy is a collection of one; v1.0's a singleton.
    let beta = sim
        .get("/beta/policies/authorizationPolicy")
        .status(200)
        .json();
    let policies = beta["value"].as_array().expect("value");
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["id"], "authorizationPolicy");
    let member = "/beta/policies/authorizationPolicy/authorizationPolicy";
    sim.send(
        0,
        "PATCH",
        member,
        Some(&json!({"allowInvitesFrom": "adminsAndGuestInviters"})),
    )
    .status(204);
    assert_eq!(
        sim.get(member).status(200).json()["allowInvitesFrom"],
        "adminsAndGuestInviters"
    );
    let v1 = sim
        .get("/v1.0/policies/authorizationPolicy")
        .status(200)
        .json();
    assert!(v1.get("value").is_none(), "{v1}");
    assert_eq!(v1["allowInvitesFrom"], "adminsAndGuestInviters");
    sim.get("/beta/policies/authorizationPolicy/other")
        .status(404)
        .error_code("Request_ResourceNotFound");
}
