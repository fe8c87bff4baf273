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
    // Read-only here: writes are not allowed.
    sim.send(0, "POST", "/v1.0/users", Some(&json!({"displayName": "x"})))
        .status(405);
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
