//! `sync status`: where each link's synchronization stands, read from its source tenant: the
//! configuration app (found as deploy finds it: by display name and the cross-tenant
//! synchronization template), its job's state (`Active`, `Paused`, `Quarantine`, ...), the last
//! cycle, how many users it has provisioned, and a quarantine's reason; the pieces missing on
//! either side (the target's partner entry, inbound sync and automatic redemption; the source's
//! partner entry, configuration app, job, secrets and scope assignments), each with what to do;
//! and the job's last provisioning events from `GET /auditLogs/provisioning` (`$filter=jobId eq
//! '…'`), failures with the service's error.
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
    /// The pieces missing on either side, each with what to do.
    pub missing: Vec<String>,
    /// The job's last provisioning events, newest first (at most [`EVENTS_SHOWN`]).
    pub events: Vec<ProvisioningEvent>,
    /// Why the status could not be read.
    pub error: Option<String>,
}

/// How many of a link's provisioning events `sync status` reads.
pub const EVENTS_SHOWN: usize = 5;

/// One entry of the provisioning logs (`provisioningObjectSummary`), as status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisioningEvent {
    /// `activityDateTime`.
    pub time: String,
    /// `provisioningAction`: `create`, `update`, `delete`, `disable`, `other`.
    pub action: String,
    /// The user in the source (UPN, else display name, else id), when there is one.
    pub user: Option<String>,
    /// `provisioningStatusInfo.status`: `success`, `failure`, `skipped`, `warning`.
    pub status: String,
    /// For a failure: the error code and reason, and what to do.
    pub error: Option<String>,
}

impl ProvisioningEvent {
    fn from_entry(entry: &Value) -> ProvisioningEvent {
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let source = &entry["sourceIdentity"];
        let error = &entry["provisioningStatusInfo"]["errorInformation"];
        ProvisioningEvent {
            time: text(&entry["activityDateTime"]).unwrap_or_default(),
            action: text(&entry["provisioningAction"]).unwrap_or_else(|| "other".into()),
            user: text(&source["details"]["UserPrincipalName"])
                .or_else(|| text(&source["displayName"]))
                .or_else(|| text(&source["id"])),
            status: text(&entry["provisioningStatusInfo"]["status"])
                .unwrap_or_else(|| "unknown".into()),
            error: text(&error["errorCode"]).map(|code| {
                let mut e = code;
                if let Some(reason) = text(&error["reason"]) {
                    e.push_str(&format!(": {reason}"));
                }
                if let Some(action) = text(&error["recommendedAction"]) {
                    e.push_str(&format!(" ({action})"));
                }
                e
            }),
        }
    }
}

impl LinkStatus {
    /// True when the link's job is in quarantine (`sync status` exits 3).
    pub fn quarantined(&self) -> bool {
        self.quarantine.is_some() || self.state == "Quarantine"
    }

    /// True when the link is set up and its job is not in quarantine or failing.
    pub fn healthy(&self) -> bool {
        self.error.is_none()
            && self.quarantine.is_none()
            && self.missing.is_empty()
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

/// A read that may find nothing (404 is `None`).
async fn find(
    client: &GraphClient,
    session: &TenantSession,
    path: String,
    class: ThrottleClass,
    observer: &dyn Observer,
) -> Result<Option<Value>, String> {
    let request = Request::get("sync-status", ApiVersion::V1, path, class);
    match client.send(session, &request, observer).await {
        Ok(r) => Ok(Some(r.body)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

const PARTNERS: &str = "/policies/crossTenantAccessPolicy/partners";

/// What the target lacks for the link: its partner entry for the source, automatic redemption
/// inbound, and inbound user synchronization from the source.
async fn missing_in_target(
    client: &GraphClient,
    session: &TenantSession,
    source: &str,
    observer: &dyn Observer,
) -> Result<Vec<String>, String> {
    let fix = "run tenantform deploy for the target";
    let partner = find(
        client,
        session,
        format!("{PARTNERS}/{source}"),
        ThrottleClass::Identity,
        observer,
    )
    .await?;
    let Some(partner) = partner else {
        return Ok(vec![format!(
            "the target has no cross-tenant access settings for this source (partner entry), so it has not allowed inbound sync from it: {fix}"
        )]);
    };
    let mut missing = Vec::new();
    if partner["automaticUserConsentSettings"]["inboundAllowed"] != true {
        missing.push(format!(
            "the target does not redeem invitations from this source automatically (automaticUserConsentSettings.inboundAllowed): {fix}"
        ));
    }
    let sync = find(
        client,
        session,
        format!("{PARTNERS}/{source}/identitySynchronization"),
        ThrottleClass::Identity,
        observer,
    )
    .await?;
    if sync.is_none_or(|s| s["userSyncInbound"]["isSyncAllowed"] != true) {
        missing.push(format!(
            "the target has not allowed inbound sync from this source: {fix}"
        ));
    }
    Ok(missing)
}

/// What the source lacks for the link, given its configuration app and job (if found).
async fn missing_in_source(
    client: &GraphClient,
    session: &TenantSession,
    target: &str,
    app: Option<&(String, Option<Value>)>,
    configuration: &str,
    observer: &dyn Observer,
) -> Result<Vec<String>, String> {
    let fix = "run tenantform deploy for the source";
    let mut missing = Vec::new();
    let partner = find(
        client,
        session,
        format!("{PARTNERS}/{target}"),
        ThrottleClass::Identity,
        observer,
    )
    .await?;
    if partner.is_none_or(|p| p["automaticUserConsentSettings"]["outboundAllowed"] != true) {
        missing.push(format!(
            "the source does not redeem invitations to the target automatically (its partner entry's automaticUserConsentSettings.outboundAllowed): {fix}"
        ));
    }
    let Some((sp, job)) = app else {
        missing.push(format!(
            "the source has no configuration app \"{configuration}\": {fix}"
        ));
        return Ok(missing);
    };
    if job.is_none() {
        missing.push(format!(
            "the configuration app has no synchronization job: {fix}"
        ));
    }
    let sync = find(
        client,
        session,
        format!("/servicePrincipals/{sp}/synchronization"),
        ThrottleClass::Identity,
        observer,
    )
    .await?;
    let names_target = sync.as_ref().is_some_and(|s| {
        s["secrets"].as_array().is_some_and(|secrets| {
            secrets.iter().any(|p| {
                p["key"] == "CompanyId"
                    && p["value"]
                        .as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case(target))
            })
        })
    });
    if !names_target {
        missing.push(format!(
            "the job's secrets do not name the target tenant (CompanyId): {fix}"
        ));
    }
    let assigned = find(
        client,
        session,
        format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
        ThrottleClass::Identity,
        observer,
    )
    .await?;
    if assigned.is_none_or(|a| a["value"].as_array().is_none_or(Vec::is_empty)) {
        missing.push(format!(
            "nobody is assigned to the configuration app (the link's scope): {fix}"
        ));
    }
    Ok(missing)
}

/// The job's last provisioning events, newest first.
async fn provisioning_events(
    client: &GraphClient,
    session: &TenantSession,
    job_id: &str,
    observer: &dyn Observer,
) -> Result<Vec<ProvisioningEvent>, String> {
    let filter = encode(&format!("jobId eq '{}'", job_id.replace('\'', "''")));
    let log = find(
        client,
        session,
        format!("/auditLogs/provisioning?$filter={filter}&$top={EVENTS_SHOWN}"),
        ThrottleClass::Reports,
        observer,
    )
    .await?;
    Ok(log
        .as_ref()
        .and_then(|l| l["value"].as_array())
        .map(|items| {
            items
                .iter()
                .take(EVENTS_SHOWN)
                .map(ProvisioningEvent::from_entry)
                .collect()
        })
        .unwrap_or_default())
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
        let (source, target): (String, String) = match &ends {
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
            missing: Vec::new(),
            events: Vec::new(),
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
        let configuration = link.configuration_name();
        let app = match app_and_job(client, &session, &configuration, observer).await {
            Ok(app) => app,
            Err(e) => {
                status.error = Some(format!("source tenant {source}: {e}"));
                out.push(status);
                continue;
            }
        };
        match missing_in_source(
            client,
            &session,
            &status.target,
            app.as_ref(),
            &configuration,
            observer,
        )
        .await
        {
            Ok(missing) => status.missing.extend(missing),
            Err(e) => status.error = Some(format!("source tenant {source}: {e}")),
        }
        let target_read = match crate::sync::session_for(fleet, &status.target) {
            Ok(target_session) => {
                missing_in_target(client, &target_session, &source, observer).await
            }
            Err(e) => Err(e),
        };
        match target_read {
            // The target's pieces first: deploy writes them first.
            Ok(missing) => {
                let source_missing = std::mem::take(&mut status.missing);
                status.missing = missing;
                status.missing.extend(source_missing);
            }
            Err(e) => status.error = Some(format!("target tenant {}: {e}", status.target)),
        }
        let job = app.and_then(|(_, job)| job);
        if let Some(id) = job.as_ref().and_then(|j| j["id"].as_str()) {
            match provisioning_events(client, &session, id, observer).await {
                Ok(events) => status.events = events,
                Err(e) => status.error = Some(format!("source tenant {source}: {e}")),
            }
        }
        if let Some(job) = job {
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
        for m in &s.missing {
            text.push_str(&format!("  missing: {m}\n"));
        }
        if !s.events.is_empty() {
            let failures = s.events.iter().filter(|e| e.status == "failure").count();
            text.push_str(&format!(
                "  last {} provisioning event(s), {failures} failed:\n",
                s.events.len()
            ));
            for e in &s.events {
                text.push_str(&format!(
                    "    {} {} {}: {}{}\n",
                    e.time,
                    e.action,
                    e.user.as_deref().unwrap_or("-"),
                    e.status,
                    e.error
                        .as_deref()
                        .map(|x| format!(": {x}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    let unhealthy = statuses.iter().filter(|s| !s.healthy()).count();
    text.push_str(&format!(
        "sync: {} links, {unhealthy} need attention\n",
        statuses.len()
    ));
    text
}
