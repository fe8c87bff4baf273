//! `sync status`: where each link's synchronization stands, read from its source tenant: the
//! configuration app (found as deploy finds it: by display name and the cross-tenant
//! synchronization template), its job's state (`Active`, `Paused`, `Quarantine`, ...), the last
//! cycle, how many users it has provisioned, and a quarantine's reason.
//!
//! Input: the fleet, its links (optionally one), a Graph client. Output: a [`LinkStatus`] per
//! link. Reads only.

use serde::Serialize;
use serde_json::Value;

use crate::deploy::Fleet;
use crate::graph::client::{GraphClient, Observer, Request, TenantSession};
use crate::kinds::{ApiVersion, CROSS_TENANT_SYNC_TEMPLATE, ThrottleClass};
use crate::sync::steps::JOB_TEMPLATE;

/// Where one link stands.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// The link's name.
    pub link: String,
    /// Its source tenant (id).
    pub source: String,
    /// Its target tenant (id).
    pub target: String,
    /// The job's state (`Active`, `Paused`, `Quarantine`, `NotRun`, ...), or `not set up`.
    pub state: String,
    /// When the last cycle ended.
    pub last_cycle: Option<String>,
    /// Whether the last cycle succeeded (`Succeeded`, `Failed`).
    pub last_cycle_state: Option<String>,
    /// Objects synchronized, by type (`User to User` → 12).
    pub synchronized: Vec<(String, u64)>,
    /// Why the job is in quarantine.
    pub quarantine: Option<String>,
    /// Why the status could not be read.
    pub error: Option<String>,
}

impl LinkStatus {
    /// True when the link is set up and its job is not in quarantine or failing.
    pub fn healthy(&self) -> bool {
        self.error.is_none()
            && self.quarantine.is_none()
            && !matches!(self.state.as_str(), "not set up" | "Quarantine")
            && self.last_cycle_state.as_deref() != Some("Failed")
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn get(
    client: &GraphClient,
    session: &TenantSession,
    path: String,
    observer: &dyn Observer,
) -> Result<Value, String> {
    let request = Request::get("sync-status", ApiVersion::V1, path, ThrottleClass::Identity);
    client
        .send(session, &request, observer)
        .await
        .map(|r| r.body)
        .map_err(|e| e.to_string())
}

/// The job of a link's configuration app in its source tenant, or what is missing.
async fn job(
    client: &GraphClient,
    session: &TenantSession,
    configuration: &str,
    observer: &dyn Observer,
) -> Result<Option<Value>, String> {
    Ok(app_and_job(client, session, configuration, observer)
        .await?
        .and_then(|(_, job)| job))
}

/// The service principal id of a link's configuration app in its source tenant (found as
/// deploy finds it: display name and template) and its Azure2Azure job; `None` without an app.
pub(crate) async fn app_and_job(
    client: &GraphClient,
    session: &TenantSession,
    configuration: &str,
    observer: &dyn Observer,
) -> Result<Option<(String, Option<Value>)>, String> {
    let filter = encode(&format!(
        "displayName eq '{}'",
        configuration.replace('\'', "''")
    ));
    let list = get(
        client,
        session,
        format!("/servicePrincipals?$filter={filter}"),
        observer,
    )
    .await?;
    let Some(sp) = list["value"].as_array().and_then(|items| {
        items.iter().find(|sp| {
            sp["applicationTemplateId"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(CROSS_TENANT_SYNC_TEMPLATE))
        })
    }) else {
        return Ok(None);
    };
    let id = sp["id"].as_str().unwrap_or_default().to_string();
    let jobs = get(
        client,
        session,
        format!("/servicePrincipals/{id}/synchronization/jobs"),
        observer,
    )
    .await?;
    let job = jobs["value"]
        .as_array()
        .and_then(|j| j.iter().find(|j| j["templateId"] == JOB_TEMPLATE))
        .cloned();
    Ok(Some((id, job)))
}

/// Read where each link (or the one named) stands.
pub async fn status(
    client: &GraphClient,
    fleet: &Fleet,
    only: Option<&str>,
    observer: &dyn Observer,
) -> Vec<LinkStatus> {
    let project = &fleet.project;
    let mut out = Vec::new();
    for link in project
        .links
        .iter()
        .filter(|l| only.is_none_or(|n| l.name == n))
    {
        let ends = crate::source::links::ends(project, link);
        let (source, target) = match &ends {
            Some((s, t)) => (s.id.value.clone(), t.id.value.clone()),
            None => (String::new(), String::new()),
        };
        let mut status = LinkStatus {
            link: link.name.clone(),
            source: source.clone(),
            target,
            state: "not set up".into(),
            last_cycle: None,
            last_cycle_state: None,
            synchronized: Vec::new(),
            quarantine: None,
            error: None,
        };
        if ends.is_none() {
            status.error = Some("its ends are not tenants of the project".into());
            out.push(status);
            continue;
        }
        let session = match crate::sync::session_for(fleet, &source) {
            Ok(session) => session,
            Err(e) => {
                status.error = Some(format!("source tenant {source}: {e}"));
                out.push(status);
                continue;
            }
        };
        match job(client, &session, &link.configuration_name(), observer).await {
            Ok(None) => {}
            Ok(Some(job)) => {
                let s = &job["status"];
                status.state = s["code"].as_str().unwrap_or("unknown").to_string();
                status.last_cycle = s["lastExecution"]["timeEnded"].as_str().map(str::to_string);
                status.last_cycle_state = s["lastExecution"]["state"].as_str().map(str::to_string);
                status.synchronized = s["synchronizedEntryCountByType"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|i| {
                                (
                                    i["key"].as_str().unwrap_or_default().to_string(),
                                    i["value"].as_u64().unwrap_or(0),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                status.quarantine = s["quarantine"]
                    .as_object()
                    .map(|q| {
                        let reason = q.get("reason").and_then(Value::as_str).unwrap_or("");
                        let message = q
                            .get("error")
                            .and_then(|e| e.get("message"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        format!("{reason} {message}").trim().to_string()
                    })
                    .filter(|q| !q.is_empty());
            }
            Err(e) => status.error = Some(format!("source tenant {source}: {e}")),
        }
        out.push(status);
    }
    out
}

/// The status of every link, for people: a line each, and the quarantine's reason under it.
pub fn status_text(statuses: &[LinkStatus]) -> String {
    let mut text = String::new();
    for s in statuses {
        let synced: u64 = s.synchronized.iter().map(|(_, n)| n).sum();
        match &s.error {
            Some(e) => text.push_str(&format!("{}: NOT READ: {e}\n", s.link)),
            None => text.push_str(&format!(
                "{}: {} -> {}: {}{}{}\n",
                s.link,
                s.source,
                s.target,
                s.state,
                s.last_cycle
                    .as_deref()
                    .map(|t| format!(
                        "; last cycle {t} ({})",
                        s.last_cycle_state.as_deref().unwrap_or("?")
                    ))
                    .unwrap_or_default(),
                if s.state == "not set up" {
                    "; run tenantform deploy with both ends selected".to_string()
                } else {
                    format!("; {synced} synchronized")
                }
            )),
        }
        if let Some(q) = &s.quarantine {
            text.push_str(&format!("  quarantine: {q}\n"));
        }
    }
    let unhealthy = statuses.iter().filter(|s| !s.healthy()).count();
    text.push_str(&format!(
        "sync: {} links, {unhealthy} need attention\n",
        statuses.len()
    ));
    text
}
