//! Shared by the simulator's wire tests: an in-process simulator on an ephemeral port (its own
//! runtime, so tests stay synchronous) and a plain HTTP client (reqwest, not tenantform's
//! Graph client) that gets tokens and sends Graph requests.

use std::cell::RefCell;
use std::collections::HashMap;

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tenantform::sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimConfig, SimHandle, Simulator};

/// The public Graph scope.
pub(crate) const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One HTTP response, read whole.
#[derive(Debug)]
pub(crate) struct Resp {
    /// Status.
    pub(crate) status: u16,
    /// Headers.
    pub(crate) headers: HeaderMap,
    /// Body text.
    pub(crate) text: String,
}

impl Resp {
    fn read(response: reqwest::blocking::Response) -> Resp {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON (`Null` when empty or not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Assert the status, showing the body when it differs.
    pub(crate) fn status(self, expected: u16) -> Resp {
        assert_eq!(self.status, expected, "status; body: {}", self.text);
        self
    }

    /// Assert a Graph error code (and return the error message).
    pub(crate) fn error_code(&self, code: &str) -> String {
        let body = self.json();
        assert_eq!(
            body["error"]["code"], code,
            "error code; body: {}",
            self.text
        );
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A simulator and a client for it.
pub(crate) struct Sim {
    /// The simulator.
    pub(crate) handle: SimHandle,
    /// The client.
    pub(crate) client: Client,
    tokens: RefCell<HashMap<usize, String>>,
}

/// The configuration tests start from: 3 tenants, throttling off (tests that throttle turn it
/// on), small pages so paging is exercised.
pub(crate) fn test_config() -> SimConfig {
    SimConfig {
        throttling: false,
        ..SimConfig::default()
    }
}

impl Sim {
    /// A simulator with [`test_config`].
    pub(crate) fn start() -> Sim {
        Sim::with(test_config())
    }

    /// A simulator with this configuration.
    pub(crate) fn with(config: SimConfig) -> Sim {
        let handle = Simulator::spawn_in_background(config).expect("simulator starts");
        let client = Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        Sim {
            handle,
            client,
            tokens: RefCell::new(HashMap::new()),
        }
    }

    /// `http://ADDR` + path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// Tenant id by index.
    pub(crate) fn tenant(&self, index: usize) -> String {
        self.handle.tenants()[index].id.clone()
    }

    /// `POST /{tenant}/oauth2/v2.0/token` with a form.
    pub(crate) fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Resp {
        Resp::read(
            self.client
                .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_body(form))
                .send()
                .expect("token request"),
        )
    }

    /// A token for tenant `index` with the default secret (cached).
    pub(crate) fn token(&self, index: usize) -> String {
        if let Some(token) = self.tokens.borrow().get(&index) {
            return token.clone();
        }
        let tenant = self.tenant(index);
        let response = self
            .token_request(
                &tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DEFAULT_CLIENT_ID),
                    ("client_secret", DEFAULT_CLIENT_SECRET),
                    ("scope", GRAPH_SCOPE),
                ],
            )
            .status(200);
        let token = response.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        self.tokens.borrow_mut().insert(index, token.clone());
        token
    }

    /// A Graph request as tenant `index`, with extra headers.
    pub(crate) fn send_with(
        &self,
        index: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(self.token(index));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        Resp::read(request.send().expect("graph request"))
    }

    /// A Graph request as tenant `index`.
    pub(crate) fn send(
        &self,
        index: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Resp {
        self.send_with(index, method, path, body, &[])
    }

    /// `GET` as tenant 0.
    pub(crate) fn get(&self, path: &str) -> Resp {
        self.send(0, "GET", path, None)
    }

    /// An introspection request (no token).
    pub(crate) fn sim(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        Resp::read(request.send().expect("introspection request"))
    }
}

/// `a=b&c=d`, form-encoded.
pub(crate) fn form_body(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal valid windows10 compliance policy body.
pub(crate) fn compliance_policy(name: &str) -> Value {
    serde_json::json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": name,
        "passwordRequired": true,
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [
                {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ""}
            ]
        }]
    })
}

/// A security group body for `PATCH /groups(uniqueName='...')`.
pub(crate) fn group(name: &str) -> Value {
    serde_json::json!({
        "displayName": name,
        "mailEnabled": false,
        "mailNickname": name.replace(' ', "-"),
        "securityEnabled": true,
        "groupTypes": []
    })
}

/// Upsert a group and return its id.
pub(crate) fn create_group(sim: &Sim, tenant: usize, unique_name: &str) -> String {
    let response = sim
        .send_with(
            tenant,
            "PATCH",
            &format!("/v1.0/groups(uniqueName='{unique_name}')"),
            Some(&group(unique_name)),
            &[("Prefer", "create-if-missing")],
        )
        .status(201);
    response.json()["id"].as_str().expect("id").to_string()
}

/// A Conditional Access policy body that excludes `groups`.
pub(crate) fn ca_policy(name: &str, exclude_groups: &[&str]) -> Value {
    serde_json::json!({
        "displayName": name,
        "state": "enabledForReportingButNotEnforced",
        "conditions": {
            "clientAppTypes": ["all"],
            "applications": {"includeApplications": ["All"]},
            "users": {"includeUsers": ["All"], "excludeGroups": exclude_groups}
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
    })
}
