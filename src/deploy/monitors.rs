//! `monitors plan` and `monitors deploy`: a tenant's TCM configuration monitors (what
//! `compile --target tcm` emits) created or updated idempotently through Graph. Monitors are
//! matched by `displayName` (`tenantform: <baseline>`); one whose baseline (its resources, their
//! types and properties) differs is updated with the full body (a PATCH, which erases the
//! monitor's results and drifts: the plan says so); one that matches is left alone, so an
//! unchanged baseline is never re-sent. Monitors tenantform did not make are never touched.
//!
//! Input: the desired [`TenantMonitors`], a Graph client and a session. Output: a
//! [`MonitorStep`] per desired monitor; with `apply`, the requests are sent and every one is
//! appended to the journal given (method, path, status, body hash; never a body).

use serde::Serialize;
use serde_json::{Value, json};

use crate::compile::tcm::TenantMonitors;
use crate::graph::client::{Body, GraphClient, Observer, Request, RequestError, TenantSession};
use crate::journal::{Entry, JournalError, JournalWriter};
use crate::kinds::{ApiVersion, ThrottleClass};

/// The monitors' collection, relative to the API version.
pub const MONITORS_PATH: &str = "/admin/configurationManagement/configurationMonitors";

/// What a desired monitor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorAction {
    /// No monitor of that name: POST.
    Create,
    /// A monitor of that name with another baseline: PATCH (erases its history).
    Update,
    /// A monitor of that name with the same baseline.
    NoChange,
}

impl MonitorAction {
    /// The plan's sign: `+`, `~`, `=`.
    pub fn sign(self) -> &'static str {
        match self {
            MonitorAction::Create => "+",
            MonitorAction::Update => "~",
            MonitorAction::NoChange => "=",
        }
    }
}

/// One desired monitor of a tenant, and what it needs.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorStep {
    /// The monitor's display name.
    pub display_name: String,
    /// What it needs.
    pub action: MonitorAction,
    /// The live monitor's id, when there is one (or once created).
    pub monitor_id: Option<String>,
    /// Resources in the desired baseline.
    pub resources: usize,
    /// The body to send (create or update).
    #[serde(skip)]
    body: Value,
}

/// Why a tenant's monitors could not be planned or deployed.
#[derive(Debug, thiserror::Error)]
pub enum MonitorsError {
    /// Graph refused or failed a request.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Graph answered something that is not a monitor list.
    #[error("GET {MONITORS_PATH}: the answer has no `value` list of monitors")]
    Malformed,
    /// The journal could not be written (nothing more is sent).
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The part of a baseline that decides whether a monitor needs an update: its display name,
/// description and resources (display name, type in lower case, properties), in order.
fn comparable(baseline: &Value) -> Value {
    let resources: Vec<Value> = baseline["resources"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|r| {
                    json!({
                        "displayName": r["displayName"],
                        "resourceType": r["resourceType"].as_str().map(str::to_ascii_lowercase),
                        "properties": r["properties"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "displayName": baseline["displayName"],
        "description": baseline["description"].as_str().unwrap_or(""),
        "resources": resources,
    })
}

async fn send(
    client: &GraphClient,
    session: &TenantSession,
    request: Request,
    observer: &dyn Observer,
) -> Result<Value, MonitorsError> {
    Ok(client.send(session, &request, observer).await?.body)
}

/// The Graph session of a tenant of the fleet (its endpoints and credentials).
pub fn session(fleet: &crate::deploy::Fleet, tenant: &str) -> Result<TenantSession, String> {
    crate::sync::session_for(fleet, tenant)
}

fn get(label: &str, path: String) -> Request {
    Request::get(label, ApiVersion::Beta, path, ThrottleClass::Identity)
}

/// Read the tenant's monitors and say what each desired monitor needs.
pub async fn plan(
    client: &GraphClient,
    session: &TenantSession,
    desired: &TenantMonitors,
    observer: &dyn Observer,
) -> Result<Vec<MonitorStep>, MonitorsError> {
    let list = send(
        client,
        session,
        get("tcm:list", MONITORS_PATH.to_string()),
        observer,
    )
    .await?;
    let live = list["value"].as_array().ok_or(MonitorsError::Malformed)?;
    let mut steps = Vec::new();
    for body in &desired.monitors {
        let name = body["displayName"].as_str().unwrap_or_default().to_string();
        let existing = live
            .iter()
            .find(|m| m["displayName"].as_str() == Some(name.as_str()));
        let resources = body["baseline"]["resources"].as_array().map_or(0, Vec::len);
        let (action, monitor_id) = match existing.and_then(|m| m["id"].as_str()) {
            None => (MonitorAction::Create, None),
            Some(id) => {
                let baseline = send(
                    client,
                    session,
                    get(
                        &format!("tcm:{name}"),
                        format!("{MONITORS_PATH}/{id}/baseline"),
                    ),
                    observer,
                )
                .await?;
                let same = comparable(&baseline) == comparable(&body["baseline"]);
                let action = if same {
                    MonitorAction::NoChange
                } else {
                    MonitorAction::Update
                };
                (action, Some(id.to_string()))
            }
        };
        steps.push(MonitorStep {
            display_name: name,
            action,
            monitor_id,
            resources,
            body: body.clone(),
        });
    }
    Ok(steps)
}

/// Send what the plan says (POST or PATCH), journaling each request and its outcome.
pub async fn apply(
    client: &GraphClient,
    session: &TenantSession,
    tenant: &str,
    steps: &mut [MonitorStep],
    journal: &mut JournalWriter,
    observer: &dyn Observer,
) -> Result<(), MonitorsError> {
    let now = || jiff::Timestamp::now().to_string();
    for step in steps.iter_mut() {
        let key = format!("tcm:{}", step.display_name);
        let (method, path) = match (step.action, &step.monitor_id) {
            (MonitorAction::Create, _) => ("POST", MONITORS_PATH.to_string()),
            (MonitorAction::Update, Some(id)) => ("PATCH", format!("{MONITORS_PATH}/{id}")),
            _ => {
                journal.append(
                    &now(),
                    Entry::Applied {
                        tenant: tenant.to_string(),
                        key,
                        action: "unchanged".into(),
                        object_id: step.monitor_id.clone(),
                        kind: Some("configurationMonitor".into()),
                    },
                )?;
                continue;
            }
        };
        let body = Body::new(&step.body);
        journal.append(
            &now(),
            Entry::Intent {
                tenant: tenant.to_string(),
                key: key.clone(),
                method: method.into(),
                path: format!("/beta{path}"),
                body_hash: Some(body.hash()),
                attempt: 1,
            },
        )?;
        let request = Request {
            label: key.clone(),
            method,
            version: ApiVersion::Beta,
            path,
            body: Some(body),
            prefer: None,
            class: ThrottleClass::Identity,
            idempotent: method == "PATCH",
            references_new_object: false,
            lean: false,
            id_only: false,
            keep_items: None,
        };
        let started = std::time::Instant::now();
        let result = client.send(session, &request, observer).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, request_id) = match &result {
            Ok(r) => (Some(r.status), r.request_id.clone()),
            Err(e) => (e.status(), None),
        };
        if let Ok(response) = &result
            && step.action == MonitorAction::Create
        {
            step.monitor_id = response.body["id"].as_str().map(str::to_string);
        }
        journal.append(
            &now(),
            Entry::Outcome {
                tenant: tenant.to_string(),
                key: key.clone(),
                status,
                request_id,
                attempt: 1,
                duration_ms,
                object_id: step.monitor_id.clone(),
            },
        )?;
        result?;
        journal.append(
            &now(),
            Entry::Applied {
                tenant: tenant.to_string(),
                key,
                action: match step.action {
                    MonitorAction::Create => "created",
                    _ => "updated",
                }
                .into(),
                object_id: step.monitor_id.clone(),
                kind: Some("configurationMonitor".into()),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_compares_by_resources_not_by_ids_or_type_case() {
        let desired = json!({"displayName": "b", "resources": [{"displayName": "r", "resourceType": "microsoft.entra.conditionalAccessPolicy", "properties": {"State": "enabled"}}]});
        let live = json!({"id": "x-baseline", "displayName": "b", "description": "", "parameters": [], "resources": [{"displayName": "r", "resourceType": "microsoft.entra.conditionalaccesspolicy", "properties": {"State": "enabled"}}]});
        assert_eq!(comparable(&desired), comparable(&live));
        let changed = json!({"displayName": "b", "resources": [{"displayName": "r", "resourceType": "microsoft.entra.conditionalaccesspolicy", "properties": {"State": "disabled"}}]});
        assert_ne!(comparable(&changed), comparable(&live));
    }
}
