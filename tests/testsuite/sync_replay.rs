//! Someone else's client: Microsoft's documented sequence ("Configure cross-tenant
//! synchronization using PowerShell or Microsoft Graph", the Microsoft Graph tab), request by
//! request with its bodies, over plain HTTP (its own `reqwest` client and app-only tokens from
//! the simulator's token endpoint; nothing of tenantform's Graph client), against the simulator
//! as it ships. It creates a user and a security group as Graph's "Create user" and "Create
//! group" pages do (no `uniqueName`), assigns one user directly and one through the group,
//! starts the job, runs a cycle, and finds both users in the target through Graph as B2B users
//! with the mapped `userType`.

use std::time::{Duration, Instant};

use crate::sim_support::form_body;
use base64::Engine;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use tenantform::sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimConfig, SimHandle, Simulator};

const TEMPLATE: &str = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7";

/// The page's permissions: target, then source.
const TARGET_PERMISSIONS: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"];
const SOURCE_PERMISSIONS: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.CrossTenantAccess",
    "Application.ReadWrite.All",
    "Directory.ReadWrite.All",
    "AuditLog.Read.All",
];

struct Script {
    sim: SimHandle,
    http: Client,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Script {
    /// An app-only token for a tenant: the client-credentials grant, as any client asks for it.
    fn token(&self, tenant: &str) -> String {
        let answer: Value = self
            .http
            .post(format!(
                "{}/{tenant}/oauth2/v2.0/token",
                self.sim.base_url()
            ))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ]))
            .send()
            .expect("token request")
            .json()
            .expect("token JSON");
        answer["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}/v1.0{path}", self.sim.base_url()))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("graph request");
        let status = response.status().as_u16();
        let text = response.text().expect("body");
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// A call that must succeed with `status`.
    fn expect(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let answer = self.call(token, method, path, body);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        answer.body
    }
}

fn roles(token: &str) -> Vec<String> {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&bytes).expect("claims");
    serde_json::from_value(claims["roles"].clone()).expect("roles")
}

#[test]
fn microsoft_s_documented_sequence_works_against_the_simulator() {
    let sim = Simulator::spawn_in_background(SimConfig {
        tenants: 2,
        throttling: false,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let script = Script {
        http: Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        sim,
    };
    let tenants = script.sim.tenants();
    let (source, target) = (tenants[0].id.clone(), tenants[1].id.clone());
    let target_token = script.token(&target);
    let source_token = script.token(&source);
    // The app registered in both tenants holds the permissions the page lists.
    for (token, wanted) in [
        (&target_token, TARGET_PERMISSIONS),
        (&source_token, SOURCE_PERMISSIONS),
    ] {
        let have = roles(token);
        for p in wanted {
            assert!(have.iter().any(|r| r == p), "{p} missing from {have:?}");
        }
    }
    let partners = "/policies/crossTenantAccessPolicy/partners";

    // Target tenant: steps 2 to 4 of the page.
    let t = &target_token;
    script.expect(t, "POST", partners, Some(json!({"tenantId": source})), 201);
    script.expect(
        t,
        "PUT",
        &format!("{partners}/{source}/identitySynchronization"),
        Some(json!({"displayName": "Fabrikam", "userSyncInbound": {"isSyncAllowed": true}})),
        204,
    );
    script.expect(
        t,
        "PATCH",
        &format!("{partners}/{source}"),
        Some(
            json!({"inboundTrust": null, "automaticUserConsentSettings": {"inboundAllowed": true}}),
        ),
        204,
    );

    // Source tenant: partner, outbound consent, the configuration app.
    let s = &source_token;
    script.expect(s, "POST", partners, Some(json!({"tenantId": target})), 201);
    script.expect(
        s,
        "PATCH",
        &format!("{partners}/{target}"),
        Some(json!({"automaticUserConsentSettings": {"outboundAllowed": true}})),
        204,
    );
    let app = script.expect(
        s,
        "POST",
        &format!("/applicationTemplates/{TEMPLATE}/instantiate"),
        Some(json!({"displayName": "Fabrikam"})),
        201,
    );
    let sp = app["servicePrincipal"]["id"]
        .as_str()
        .expect("sp id")
        .to_string();
    let role = app["servicePrincipal"]["appRoles"]
        .as_array()
        .expect("appRoles")
        .iter()
        .find(|r| r["displayName"] == "msiam_access")
        .and_then(|r| r["id"].as_str())
        .expect("msiam_access")
        .to_string();
    // The PowerShell tab finds it by name.
    let found = script.expect(
        s,
        "GET",
        "/servicePrincipals?$filter=displayName%20eq%20'Fabrikam'",
        None,
        200,
    );
    assert_eq!(found["value"][0]["id"], json!(sp));

    // Test the connection. A new service principal can take a few seconds to replicate: a
    // client retries its 404 (the page's scripts wait too).
    let credentials = json!({"useSavedCredentials": false, "templateId": "Azure2Azure", "credentials": [
        {"key": "CompanyId", "value": target}, {"key": "AuthenticationType", "value": "SyncPolicy"}]});
    let started = Instant::now();
    let mut saw_replication = false;
    loop {
        let answer = script.call(
            s,
            "POST",
            &format!("/servicePrincipals/{sp}/synchronization/jobs/validateCredentials"),
            Some(credentials.clone()),
        );
        if answer.status == 404 && started.elapsed() < Duration::from_secs(30) {
            saw_replication = true;
            std::thread::sleep(Duration::from_millis(250));
            continue;
        }
        assert_eq!(answer.status, 204, "validateCredentials: {}", answer.body);
        break;
    }
    assert!(
        saw_replication,
        "the new service principal was visible at once"
    );

    // The job, its secrets (the page's exact value).
    let job = script.expect(
        s,
        "POST",
        &format!("/servicePrincipals/{sp}/synchronization/jobs"),
        Some(json!({"templateId": "Azure2Azure"})),
        201,
    );
    let job = job["id"].as_str().expect("job id").to_string();
    script.expect(
        s,
        "PUT",
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": [
            {"key": "AuthenticationType", "value": "SyncPolicy"},
            {"key": "CompanyId", "value": target},
            {"key": "SyncNotificationSettings", "value": "{\"Enabled\":false,\"DeleteThresholdEnabled\":false,\"HumanResourcesLookaheadQueryEnabled\":false}"},
            {"key": "SyncAll", "value": "false"}
        ]})),
        204,
    );

    // A user and a security group as Graph's reference pages create them (no uniqueName).
    let user = |nick: &str, name: &str| {
        script.expect(
            s,
            "POST",
            "/users",
            Some(json!({
                "accountEnabled": true,
                "displayName": name,
                "mailNickname": nick,
                "userPrincipalName": format!("{nick}@contoso.example"),
                "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
            })),
            201,
        )["id"]
            .as_str()
            .expect("user id")
            .to_string()
    };
    let adele = user("AdeleV", "Adele Vance");
    let megan = user("MeganB", "Megan Bowen");
    let group = script.expect(
        s,
        "POST",
        "/groups",
        Some(json!({
            "description": "Self help community for library",
            "displayName": "Library Assist",
            "groupTypes": [],
            "mailEnabled": false,
            "mailNickname": "library",
            "securityEnabled": true
        })),
        201,
    );
    let group = group["id"].as_str().expect("group id").to_string();
    script.expect(
        s,
        "POST",
        &format!("/groups/{group}/members/$ref"),
        Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{megan}")})),
        204,
    );
    let members = script.expect(s, "GET", &format!("/groups/{group}/members"), None, 200);
    assert_eq!(members["value"][0]["id"], json!(megan));

    // Scope: Adele directly, Megan through the group.
    for principal in [&adele, &group] {
        script.expect(
            s,
            "POST",
            &format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
            Some(json!({"principalId": principal, "resourceId": sp, "appRoleId": role})),
            201,
        );
    }
    // The page reads the schema (the user rule and its userType mapping).
    let schema = script.expect(
        s,
        "GET",
        &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/schema"),
        None,
        200,
    );
    assert!(
        schema["synchronizationRules"]
            .as_array()
            .is_some_and(|rules| rules
                .iter()
                .any(|r| r["objectMappings"][0]["attributeMappings"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|a| a["targetAttributeName"] == "userType")))),
        "{schema}"
    );

    // Start, then watch the job.
    script.expect(
        s,
        "POST",
        &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"),
        None,
        204,
    );
    let sim_run = script
        .http
        .post(format!(
            "{}/_sim/tenants/{source}/sync/run",
            script.sim.base_url()
        ))
        .send()
        .expect("sync run");
    assert_eq!(sim_run.status().as_u16(), 200);
    let status = script.expect(
        s,
        "GET",
        &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"),
        None,
        200,
    );
    assert_eq!(status["status"]["code"], "Active", "{status}");
    assert_eq!(
        status["status"]["lastExecution"]["state"], "Succeeded",
        "{status}"
    );

    // Both users are in the target, as B2B members.
    let users = script.expect(
        &target_token,
        "GET",
        "/users?$select=id,displayName,userPrincipalName,userType,creationType",
        None,
        200,
    );
    let synced: Vec<&Value> = users["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter(|u| u["creationType"] == "Invitation")
        .collect();
    let mut names: Vec<&str> = synced
        .iter()
        .filter_map(|u| u["displayName"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Adele Vance", "Megan Bowen"], "{users}");
    for u in synced {
        assert_eq!(u["userType"], "Member", "{u}");
        assert!(
            u["userPrincipalName"]
                .as_str()
                .is_some_and(|upn| upn.contains("#EXT#@")),
            "{u}"
        );
    }
}

#[test]
fn users_and_group_members_refuse_what_graph_refuses() {
    let sim = crate::sim_support::Sim::start();
    let user = |nick: &str| {
        json!({"accountEnabled": true, "displayName": nick, "mailNickname": nick,
            "userPrincipalName": format!("{nick}@contoso.example"),
            "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d"}})
    };
    // Graph's required properties, and a UPN used twice.
    let mut missing = user("a");
    missing["passwordProfile"] = Value::Null;
    let e = sim
        .send(0, "POST", "/v1.0/users", Some(&missing))
        .status(400)
        .error_code("Request_BadRequest");
    assert!(e.contains("passwordProfile"), "{e}");
    let created = sim
        .send(0, "POST", "/v1.0/users", Some(&user("a")))
        .status(201)
        .json();
    assert!(created.get("passwordProfile").is_none(), "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    sim.send(0, "POST", "/v1.0/users", Some(&user("a")))
        .status(400)
        .error_code("Request_BadRequest");
    // Update by UPN; the administrator is not ours to change.
    sim.send(
        0,
        "PATCH",
        "/v1.0/users/a@contoso.example",
        Some(&json!({"department": "Sales"})),
    )
    .status(204);
    assert_eq!(
        sim.get(&format!("/v1.0/users/{id}?$select=department"))
            .status(200)
            .json()["department"],
        "Sales"
    );
    let admin = sim
        .get("/v1.0/users?$select=id,userPrincipalName")
        .status(200)
        .json()["value"][0]["userPrincipalName"]
        .as_str()
        .expect("admin")
        .to_string();
    sim.send(0, "DELETE", &format!("/v1.0/users/{admin}"), None)
        .status(403);
    // Members: the group must exist, the member too, and only once.
    let group = sim
        .send(
            0,
            "POST",
            "/v1.0/groups",
            Some(&json!({"displayName": "G", "mailEnabled": false, "mailNickname": "g", "securityEnabled": true})),
        )
        .status(201)
        .json()["id"]
        .as_str()
        .expect("group id")
        .to_string();
    let reference =
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")});
    sim.send(
        0,
        "POST",
        "/v1.0/groups/00000000-0000-0000-0000-000000000000/members/$ref",
        Some(&reference),
    )
    .status(404);
    sim.send(
        0,
        "POST",
        &format!("/v1.0/groups/{group}/members/$ref"),
        Some(&json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/11111111-1111-4111-8111-111111111111"})),
    )
    .status(404);
    sim.send(
        0,
        "POST",
        &format!("/v1.0/groups/{group}/members/$ref"),
        Some(&reference),
    )
    .status(204);
    sim.send(
        0,
        "POST",
        &format!("/v1.0/groups/{group}/members/$ref"),
        Some(&reference),
    )
    .status(400);
    sim.send(
        0,
        "POST",
        &format!("/v1.0/groups/{group}/members/$ref"),
        Some(&json!({})),
    )
    .status(400);
    sim.send(
        0,
        "DELETE",
        &format!("/v1.0/groups/{group}/members/{id}/$ref"),
        None,
    )
    .status(204);
    sim.send(
        0,
        "DELETE",
        &format!("/v1.0/groups/{group}/members/{id}/$ref"),
        None,
    )
    .status(404);
    // Deleting a user takes it out of its groups.
    sim.send(
        0,
        "POST",
        &format!("/v1.0/groups/{group}/members/$ref"),
        Some(&reference),
    )
    .status(204);
    sim.send(0, "DELETE", &format!("/v1.0/users/{id}"), None)
        .status(204);
    let members = sim
        .get(&format!("/v1.0/groups/{group}/members"))
        .status(200)
        .json();
    assert_eq!(members["value"], json!([]));
    sim.send(0, "DELETE", &format!("/v1.0/users/{id}"), None)
        .status(404);
}
