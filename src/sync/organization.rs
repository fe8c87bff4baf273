//! The project's Microsoft 365 multitenant organization (`organization.toml`, checked by
//! [`crate::source::organization`]) compiled into ordered steps in its tenants, as links are:
//! first the owner (the organization itself: `PATCH /tenantRelationships/multiTenantOrganization`
//! with its display name, then each member added: `POST …/multiTenantOrganization/tenants`
//! `{"tenantId", "displayName"}`), then each member's join request (`PATCH
//! …/multiTenantOrganization/joinRequest` `{"addedByTenantId": "<owner>"}`), which waits for
//! the owner's step that added it. The steps are [`LinkStep`]s of one unit named
//! [`UNIT`], so they travel in the bundles' `links` section, are planned as one unit, applied
//! and journaled by the link phase of deploy, and read before written: a member is found by
//! `tenantId` and never added twice. Facts: the "Multitenant organization" section of
//! `../shared/cross-tenant-sync-facts.md`.
//!
//! Also here: [`status`], where the organization stands (`sync status`), read from the owner's
//! `…/tenants` and each member's `…/joinRequest`.
//!
//! Input: the project. Output: [`LinkStep`]s; an [`OrganizationStatus`]. Steps are pure; the
//! status reads only.

use serde::Serialize;
use serde_json::{Value, json};

use crate::deploy::Fleet;
use crate::graph::client::{GraphClient, Observer, Request};
use crate::kinds::{self, ApiVersion, Method, ThrottleClass};
use crate::source::project::ProjectSource;
use crate::sync::steps::{LinkStep, Side, StepRef};

pub use crate::source::model::organization::UNIT;

/// The organization singleton's path.
pub const ORGANIZATION_PATH: &str = "/tenantRelationships/multiTenantOrganization";

fn name_of(project: &ProjectSource, id: &str) -> String {
    project
        .tenants
        .iter()
        .find(|t| t.id == id)
        .map_or_else(|| id.to_string(), |t| t.name.clone())
}

#[allow(clippy::too_many_arguments)]
fn step(
    side: Side,
    tenant: &str,
    partner: &str,
    name: &str,
    kind: &'static str,
    method: Method,
    path: String,
    body: Value,
) -> LinkStep {
    let side_name = match side {
        Side::Member => "member",
        _ => "owner",
    };
    LinkStep {
        link: UNIT.to_string(),
        id: format!("{UNIT}/{side_name}/{name}"),
        side,
        tenant: tenant.to_string(),
        partner: partner.to_string(),
        kind,
        method,
        api: kinds::link_kind_by_name(kind).map_or("v1.0", |k| k.api_version.segment()),
        path,
        body,
        principal: None,
        depends_on: Vec::new(),
    }
}

/// Every step of the project's organization (owner steps first, then each member's join
/// request), or none without one (or with an owner that is not a tenant of the project).
pub fn organization_steps(project: &ProjectSource) -> Vec<LinkStep> {
    let Some(org) = &project.organization else {
        return Vec::new();
    };
    let Some((owner, members)) = crate::source::organization::tenants(project) else {
        return Vec::new();
    };
    let on = |s: &LinkStep| StepRef {
        tenant: s.tenant.clone(),
        step: s.id.clone(),
    };
    let mut body = json!({
        "displayName": org.display_name.as_ref().map_or("", |n| n.value.as_str()),
    });
    if let Some(description) = &org.description {
        body["description"] = json!(description.value);
    }
    let organization = step(
        Side::Owner,
        &owner,
        &owner,
        "organization",
        "multiTenantOrganization",
        Method::Patch,
        ORGANIZATION_PATH.into(),
        body,
    );
    let mut owner_steps = Vec::new();
    let mut joins = Vec::new();
    for member in &members {
        let name = name_of(project, member);
        let mut added = step(
            Side::Owner,
            &owner,
            member,
            &format!("member/{name}"),
            "multiTenantOrganizationMember",
            Method::Post,
            format!("{ORGANIZATION_PATH}/tenants"),
            json!({"tenantId": member, "displayName": name}),
        );
        added.depends_on.push(on(&organization));
        let mut join = step(
            Side::Member,
            member,
            &owner,
            &format!("{name}/join-request"),
            "multiTenantOrganizationJoinRequestRecord",
            Method::Patch,
            format!("{ORGANIZATION_PATH}/joinRequest"),
            json!({"addedByTenantId": owner}),
        );
        join.depends_on.push(on(&added));
        owner_steps.push(added);
        joins.push(join);
    }
    let mut out = vec![organization];
    out.extend(owner_steps);
    out.extend(joins);
    out
}

/// Where one tenant of the organization stands.
#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    /// The tenant id.
    pub tenant: String,
    /// Its name in the project.
    pub name: String,
    /// `pending` (added, join not complete), `joined`, `failed`, `not added` (the owner has not
    /// added it yet), `removed`.
    pub state: String,
    /// Why it failed, or what it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where the organization stands.
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationStatus {
    /// The display name the project declares.
    pub display_name: String,
    /// The owner tenant id.
    pub owner: String,
    /// The owner's name in the project.
    pub owner_name: String,
    /// `active` when the owner has it, `not set up` when it does not yet.
    pub state: String,
    /// Each member, in the project's order.
    pub members: Vec<MemberStatus>,
    /// Why the owner could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl OrganizationStatus {
    /// True when the organization exists and every member has joined.
    pub fn healthy(&self) -> bool {
        self.error.is_none()
            && self.state == "active"
            && self.members.iter().all(|m| m.state == "joined")
    }

    /// True when something could not be read (the owner, or a member's join request).
    pub fn unreadable(&self) -> bool {
        self.error.is_some() || self.members.iter().any(|m| m.state == "not read")
    }
}

async fn get(
    client: &GraphClient,
    fleet: &Fleet,
    tenant: &str,
    path: &str,
    observer: &dyn Observer,
) -> Result<Option<Value>, String> {
    let session = crate::sync::session_for(fleet, tenant)?;
    let request = Request::get(
        "sync-status",
        ApiVersion::V1,
        path.to_string(),
        ThrottleClass::Identity,
    );
    match client.send(&session, &request, observer).await {
        Ok(r) => Ok(Some(r.body)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// A member's state from the owner's member entry and the member's own join request: the
/// join request says where the asynchronous join stands (`transitionDetails`), the owner's
/// entry whether the tenant was added at all.
fn member_state(
    entry: Option<&Value>,
    join: Option<&Value>,
    owner: &str,
) -> (String, Option<String>) {
    let Some(entry) = entry else {
        return (
            "not added".into(),
            Some("the owner has not added this tenant: run tenantform deploy".into()),
        );
    };
    let details = |v: &Value| {
        v["details"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(str::to_string)
    };
    let requested = join.is_some_and(|j| {
        j["addedByTenantId"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(owner))
    });
    let transition = join.map(|j| &j["transitionDetails"]);
    if let Some(t) = transition
        && t["status"] == "failed"
    {
        return (
            "failed".into(),
            Some(details(t).unwrap_or_else(|| "the join request failed".into())),
        );
    }
    if entry["transitionDetails"]["status"] == "failed" {
        return (
            "failed".into(),
            Some(
                details(&entry["transitionDetails"])
                    .unwrap_or_else(|| "the owner reports the member failed".into()),
            ),
        );
    }
    match entry["state"].as_str().unwrap_or("pending") {
        "active" => ("joined".into(), None),
        "removed" => ("removed".into(), None),
        _ if !requested => (
            "pending".into(),
            Some("the tenant has not submitted its join request: run tenantform deploy".into()),
        ),
        _ => (
            "pending".into(),
            Some(format!(
                "join request submitted; joining {} (it can take up to 2 hours)",
                transition
                    .and_then(|t| t["status"].as_str())
                    .unwrap_or("notStarted")
            )),
        ),
    }
}

/// Read where the project's organization stands: the owner's organization and member list,
/// and each member's join request. `None` when the project declares no organization.
pub async fn status(
    client: &GraphClient,
    fleet: &Fleet,
    observer: &dyn Observer,
) -> Option<OrganizationStatus> {
    let project = &fleet.project;
    let org = project.organization.as_ref()?;
    let (owner, members) = crate::source::organization::tenants(project)?;
    let mut status = OrganizationStatus {
        display_name: org
            .display_name
            .as_ref()
            .map_or_else(String::new, |n| n.value.clone()),
        owner_name: name_of(project, &owner),
        owner: owner.clone(),
        state: "not set up".into(),
        members: Vec::new(),
        error: None,
    };
    let read = async {
        let organization = get(client, fleet, &owner, ORGANIZATION_PATH, observer).await?;
        let tenants = get(
            client,
            fleet,
            &owner,
            &format!("{ORGANIZATION_PATH}/tenants"),
            observer,
        )
        .await?;
        Ok::<_, String>((organization, tenants))
    };
    let (organization, tenants) = match read.await {
        Ok(found) => found,
        Err(e) => {
            status.error = Some(format!("owner {owner}: {e}"));
            return Some(status);
        }
    };
    if organization
        .as_ref()
        .is_some_and(|o| o["state"] == "active")
    {
        status.state = "active".into();
    }
    let entries: Vec<Value> = tenants
        .as_ref()
        .and_then(|t| t["value"].as_array().cloned())
        .unwrap_or_default();
    for member in members {
        let entry = entries.iter().find(|e| {
            e["tenantId"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(&member))
        });
        let name = name_of(project, &member);
        let (state, detail) = match get(
            client,
            fleet,
            &member,
            &format!("{ORGANIZATION_PATH}/joinRequest"),
            observer,
        )
        .await
        {
            Ok(join) => member_state(entry, join.as_ref(), &owner),
            Err(e) => ("not read".into(), Some(e)),
        };
        status.members.push(MemberStatus {
            tenant: member,
            name,
            state,
            detail,
        });
    }
    Some(status)
}

/// The organization for people: a head line, then a line per member.
pub fn status_text(status: &OrganizationStatus) -> String {
    let mut text = format!(
        "organization \"{}\": owner {} ({}): ",
        status.display_name, status.owner_name, status.owner
    );
    if let Some(e) = &status.error {
        text.push_str(&format!("NOT READ: {e}\n"));
        return text;
    }
    let joined = status
        .members
        .iter()
        .filter(|m| m.state == "joined")
        .count();
    if status.state == "active" {
        text.push_str(&format!(
            "active; {joined} of {} members joined\n",
            status.members.len()
        ));
    } else {
        text.push_str("not set up; run tenantform deploy with the owner selected\n");
    }
    for m in &status.members {
        text.push_str(&format!(
            "  member {} ({}): {}{}\n",
            m.name,
            m.tenant,
            m.state,
            m.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_s_state_reads_from_both_sides() {
        let owner = "aaaaaaaa-0000-4000-8000-000000000001";
        assert_eq!(member_state(None, None, owner).0, "not added");
        let pending = json!({"tenantId": "b", "state": "pending"});
        let (state, detail) = member_state(Some(&pending), None, owner);
        assert_eq!(state, "pending");
        assert!(detail.is_some_and(|d| d.contains("has not submitted")));
        let join = json!({"addedByTenantId": owner, "memberState": "pending", "transitionDetails": {"status": "running", "desiredMemberState": "active"}});
        let (state, detail) = member_state(Some(&pending), Some(&join), owner);
        assert_eq!(state, "pending");
        assert!(detail.is_some_and(|d| d.contains("joining running")));
        let active = json!({"tenantId": "b", "state": "active"});
        assert_eq!(member_state(Some(&active), Some(&join), owner).0, "joined");
        let failed = json!({"addedByTenantId": owner, "transitionDetails": {"status": "failed", "details": "already in another organization"}});
        let (state, detail) = member_state(Some(&pending), Some(&failed), owner);
        assert_eq!(state, "failed");
        assert_eq!(detail.as_deref(), Some("already in another organization"));
    }
}
