//! The Microsoft 365 multitenant organization as Graph serves it (Microsoft Learn:
//! `multitenantorganization-get`/`-update`, `multitenantorganization-post-tenants`,
//! `multitenantorganizationmember-get`/`-delete`, `multitenantorganizationjoinrequestrecord-get`/
//! `-update`; resources `multiTenantOrganization`, `multiTenantOrganizationMember`,
//! `multiTenantOrganizationJoinRequestRecord`, `multiTenantOrganizationJoinRequestTransitionDetails`):
//!
//! - `GET|PATCH /tenantRelationships/multiTenantOrganization`: the owner's organization; a
//!   PATCH in a tenant that has none creates it (`state: active`, the owner listed in its
//!   `tenants` with `role: owner`). A tenant without one reads `state: inactive`; a member that
//!   has joined reads its owner's.
//! - `GET|POST /tenantRelationships/multiTenantOrganization/tenants`, `GET|DELETE
//!   …/tenants/{tenantId}`: the owner adds a tenant (`{"tenantId", "displayName"}`), which is
//!   `pending` until it joins. A tenant belongs to one organization at most: adding one that
//!   owns an organization or is listed in another is `400 Request_BadRequest`.
//! - `GET|PATCH /tenantRelationships/multiTenantOrganization/joinRequest`: the member submits
//!   `{"addedByTenantId": "<owner>"}` (`00000000-0000-0000-0000-000000000000` resets a failed
//!   request). Joining is asynchronous, as on Graph (up to 2 hours there): the request reads
//!   `memberState: pending` with `transitionDetails.status` `running` until
//!   [`JOIN_COMPLETES_MS`] divided by `--time-scale` has passed, then `succeeded` (the member is
//!   `active` in the owner's `tenants`, with `joinedDateTime`) or `failed` with `details` (the
//!   owner has not added this tenant, or it is in another organization). `POST
//!   /_sim/organization/complete` completes every pending join now.
//!
//! Permissions: `MultiTenantOrganization.ReadWrite.All` writes and reads;
//! `MultiTenantOrganization.Read.All` (or `.ReadBasic.All`) reads.
//!
//! Input: a path relative to the version root and the [`Call`]. Output: the [`Reply`] Graph
//! would send. State lives in each tenant (the owner keeps the organization and its member
//! list, a member its join request); a call locks one tenant at a time. Not kept in
//! `--state-dir` state files.

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::sim::service::App;
use crate::sim::state::Tenant;
use crate::sim::wire::{Reply, graph_timestamp};

use super::{Call, not_allowed};

/// How long a join request takes to complete at time scale 1 (Graph: "up to 2 hours").
pub(crate) const JOIN_COMPLETES_MS: u64 = 2 * 60 * 60 * 1000;

/// The `addedByTenantId` that resets a failed join request.
const RESET: &str = "00000000-0000-0000-0000-000000000000";

const READ_PERMISSIONS: &[&str] = &[
    crate::kinds::MULTITENANT_ORGANIZATION_PERMISSION,
    "MultiTenantOrganization.Read.All",
    "MultiTenantOrganization.ReadBasic.All",
];

/// One tenant's side of multitenant organizations.
#[derive(Debug, Default)]
pub(crate) struct OrganizationState {
    /// The organization this tenant owns.
    organization: Option<Value>,
    /// Its tenants (the owner's own entry first), when it owns one.
    tenants: Vec<Value>,
    /// This tenant's join request, once submitted.
    join_request: Option<Value>,
    /// Clock milliseconds from which the submitted join request completes.
    join_due_ms: Option<u64>,
}

/// What a multitenant organization path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OrganizationTarget {
    /// `/tenantRelationships/multiTenantOrganization`.
    Organization,
    /// `…/tenants`.
    Tenants,
    /// `…/tenants/{tenantId}`.
    Tenant(String),
    /// `…/joinRequest`.
    JoinRequest,
}

impl OrganizationTarget {
    /// True when the caller's roles allow the call.
    pub(crate) fn permitted(&self, write: bool, roles: &[String]) -> bool {
        let needed: &[&str] = if write {
            &READ_PERMISSIONS[..1]
        } else {
            READ_PERMISSIONS
        };
        roles
            .iter()
            .any(|r| needed.iter().any(|p| r.eq_ignore_ascii_case(p)))
    }
}

/// The multitenant organization target a path addresses, if any.
pub(crate) fn resolve(path: &str) -> Option<OrganizationTarget> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match s.as_slice() {
        [r, m, rest @ ..] if eq(r, "tenantRelationships") && eq(m, "multiTenantOrganization") => {
            match rest {
                [] => Some(OrganizationTarget::Organization),
                [t] if eq(t, "tenants") => Some(OrganizationTarget::Tenants),
                [t, id] if eq(t, "tenants") => Some(OrganizationTarget::Tenant(id.to_string())),
                [j] if eq(j, "joinRequest") => Some(OrganizationTarget::JoinRequest),
                _ => None,
            }
        }
        _ => None,
    }
}

fn bad_request(message: String) -> Reply {
    Reply::error(400, "Request_BadRequest", message)
}

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The organization `id` belongs to, if any: `(owner, state)` where `state` is its entry's
/// (`owner` for the owner itself). Locks one tenant at a time.
fn belongs_to(app: &App, id: &str) -> Option<(String, String)> {
    for tenant in &app.tenants {
        let state = tenant.lock();
        let org = &state.sync.organization;
        if org.organization.is_none() {
            continue;
        }
        if same(&tenant.id, id) {
            return Some((tenant.id.to_string(), "owner".into()));
        }
        if let Some(entry) = org
            .tenants
            .iter()
            .find(|e| e["tenantId"].as_str().is_some_and(|t| same(t, id)))
        {
            return Some((
                tenant.id.to_string(),
                entry["state"].as_str().unwrap_or("pending").to_string(),
            ));
        }
    }
    None
}

/// Complete the join requests that are due (every pending one with `force`): each succeeds
/// when its owner lists the tenant and it is in no other organization, and fails with the
/// reason otherwise. Locks one tenant at a time. Returns how many completed.
pub(crate) fn complete_joins(app: &App, clock_ms: u64, now_ms: i64, force: bool) -> usize {
    let due: Vec<(&Tenant, String)> = app
        .tenants
        .iter()
        .filter_map(|t| {
            let state = t.lock();
            let org = &state.sync.organization;
            let ready = org.join_due_ms.is_some_and(|d| force || clock_ms >= d);
            let owner = org.join_request.as_ref()?["addedByTenantId"]
                .as_str()?
                .to_string();
            ready.then_some((t, owner))
        })
        .collect();
    let now = graph_timestamp(now_ms);
    for (member, owner) in &due {
        // Another organization that holds the member (not the one it asks to join).
        let elsewhere = belongs_to(app, &member.id).filter(|(o, _)| !same(o, owner));
        let outcome = match (app.tenant(owner), elsewhere) {
            (_, Some((other, _))) => Err(format!(
                "The tenant {} is already part of the multitenant organization of tenant {other}. A tenant can be part of only one multitenant organization.",
                member.id
            )),
            (None, None) => Err(format!("The tenant {owner} was not found.")),
            (Some(owner_tenant), None) => {
                let mut state = owner_tenant.lock();
                let org = &mut state.sync.organization;
                match org
                    .tenants
                    .iter_mut()
                    .find(|e| e["tenantId"].as_str().is_some_and(|t| same(t, &member.id)))
                {
                    Some(entry) if org.organization.is_some() => {
                        entry["state"] = json!("active");
                        entry["joinedDateTime"] = json!(now);
                        entry["transitionDetails"] = Value::Null;
                        Ok(())
                    }
                    _ => Err(format!(
                        "The tenant {owner} has not added the tenant {} to its multitenant organization.",
                        member.id
                    )),
                }
            }
        };
        let mut state = member.lock();
        let org = &mut state.sync.organization;
        org.join_due_ms = None;
        if let Some(record) = &mut org.join_request {
            match outcome {
                Ok(()) => {
                    record["memberState"] = json!("active");
                    record["transitionDetails"] = json!({"desiredMemberState": "active", "status": "succeeded", "details": null});
                }
                Err(details) => {
                    record["memberState"] = json!("pending");
                    record["transitionDetails"] = json!({"desiredMemberState": "active", "status": "failed", "details": details});
                }
            }
        }
    }
    due.len()
}

impl Call<'_> {
    /// Serve a multitenant organization call.
    pub(crate) fn organization(&self, target: OrganizationTarget) -> Reply {
        complete_joins(self.app, self.clock_ms, self.now_ms, false);
        let method = self.request.method;
        match (&target, method) {
            (OrganizationTarget::Organization, "GET") => self.read_organization(),
            (OrganizationTarget::Organization, "PATCH") => self.write_organization(),
            (OrganizationTarget::Tenants, "GET") => {
                let items = self.owner_tenants().unwrap_or_default();
                let body = json!({
                    "@odata.context": self.context("tenantRelationships/multiTenantOrganization/tenants"),
                    "value": items,
                });
                Reply::json(200, body.to_string())
            }
            (OrganizationTarget::Tenants, "POST") => self.add_tenant(),
            (OrganizationTarget::Tenant(id), "GET") => {
                match self
                    .owner_tenants()
                    .unwrap_or_default()
                    .into_iter()
                    .find(|e| e["tenantId"].as_str().is_some_and(|t| same(t, id)))
                {
                    Some(mut entry) => {
                        entry["@odata.context"] = json!(self.context(
                            "tenantRelationships/multiTenantOrganization/tenants/$entity"
                        ));
                        Reply::json(200, entry.to_string())
                    }
                    None => super::not_found(id),
                }
            }
            (OrganizationTarget::Tenant(id), "DELETE") => {
                let mut state = self.tenant.lock();
                let org = &mut state.sync.organization;
                let before = org.tenants.len();
                org.tenants.retain(|e| {
                    e["role"] == "owner" || !e["tenantId"].as_str().is_some_and(|t| same(t, id))
                });
                if org.tenants.len() == before {
                    return super::not_found(id);
                }
                Reply::empty(204)
            }
            (OrganizationTarget::JoinRequest, "GET") => {
                let state = self.tenant.lock();
                let record = state
                    .sync
                    .organization
                    .join_request
                    .clone()
                    .unwrap_or_else(|| self.empty_join_request());
                let mut record = record;
                record["@odata.context"] = json!(
                    self.context("tenantRelationships/multiTenantOrganization/joinRequest/$entity")
                );
                Reply::json(200, record.to_string())
            }
            (OrganizationTarget::JoinRequest, "PATCH") => self.join(),
            _ => not_allowed(),
        }
    }

    fn empty_join_request(&self) -> Value {
        json!({
            "id": &*self.tenant.id,
            "addedByTenantId": null,
            "memberState": null,
            "role": "member",
            "transitionDetails": null,
        })
    }

    /// The member list of the organization the caller owns, or has joined.
    fn owner_tenants(&self) -> Option<Vec<Value>> {
        let own = {
            let state = self.tenant.lock();
            let org = &state.sync.organization;
            org.organization.as_ref().map(|_| org.tenants.clone())
        };
        if own.is_some() {
            return own;
        }
        match belongs_to(self.app, &self.tenant.id) {
            Some((owner, state)) if state == "active" => self
                .app
                .tenant(&owner)
                .map(|t| t.lock().sync.organization.tenants.clone()),
            _ => None,
        }
    }

    fn read_organization(&self) -> Reply {
        let own = self.tenant.lock().sync.organization.organization.clone();
        let found = own.or_else(|| match belongs_to(self.app, &self.tenant.id) {
            Some((owner, state)) if state == "active" => self
                .app
                .tenant(&owner)
                .and_then(|t| t.lock().sync.organization.organization.clone()),
            _ => None,
        });
        let mut body = found.unwrap_or_else(|| {
            json!({
                "id": &*self.tenant.id,
                "createdDateTime": null,
                "displayName": null,
                "description": null,
                "state": "inactive",
            })
        });
        body["@odata.context"] =
            json!(self.context("tenantRelationships/multiTenantOrganization/$entity"));
        Reply::json(200, body.to_string())
    }

    fn write_organization(&self) -> Reply {
        let body = match self.body() {
            Ok(Value::Object(map)) => map,
            Ok(_) => return bad_request("The request body must be a JSON object.".into()),
            Err(reply) => return reply,
        };
        for (key, value) in &body {
            match key.as_str() {
                "displayName" | "description" if value.is_string() || value.is_null() => {}
                "displayName" | "description" => {
                    return bad_request(format!("Property '{key}' must be a string."));
                }
                "@odata.type" => {}
                other => {
                    return bad_request(format!(
                        "Property '{other}' cannot be updated on a multiTenantOrganization."
                    ));
                }
            }
        }
        let owns = self.tenant.lock().sync.organization.organization.is_some();
        if !owns && let Some((owner, _)) = belongs_to(self.app, &self.tenant.id) {
            return Reply::error(
                403,
                "Authorization_RequestDenied",
                format!(
                    "The tenant {} is a member of the multitenant organization of tenant {owner}; only its owner can update it.",
                    self.tenant.id
                ),
            );
        }
        let now = graph_timestamp(self.now_ms);
        let mut state = self.tenant.lock();
        let org = &mut state.sync.organization;
        let entity = org.organization.get_or_insert_with(|| {
            json!({
                "id": &*self.tenant.id,
                "createdDateTime": now,
                "displayName": null,
                "description": null,
                "state": "active",
            })
        });
        for (key, value) in body {
            if key != "@odata.type" {
                entity[key.as_str()] = value;
            }
        }
        if org.tenants.is_empty() {
            org.tenants.push(json!({
                "id": &*self.tenant.id,
                "tenantId": &*self.tenant.id,
                "displayName": &*self.tenant.name,
                "addedByTenantId": &*self.tenant.id,
                "addedDateTime": now,
                "joinedDateTime": now,
                "role": "owner",
                "state": "active",
                "transitionDetails": null,
            }));
        }
        Reply::empty(204)
    }

    fn add_tenant(&self) -> Reply {
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let Some(tenant_id) = body.get("tenantId").and_then(Value::as_str) else {
            return bad_request("The property 'tenantId' is required.".into());
        };
        if !is_guid(tenant_id) {
            return bad_request(format!("Invalid tenantId '{tenant_id}': not a GUID."));
        }
        let tenant_id = tenant_id.to_ascii_lowercase();
        {
            let state = self.tenant.lock();
            let org = &state.sync.organization;
            if org.organization.is_none() {
                return bad_request(format!(
                    "The tenant {} has no multitenant organization; create it first (PATCH /tenantRelationships/multiTenantOrganization).",
                    self.tenant.id
                ));
            }
            if org
                .tenants
                .iter()
                .any(|e| e["tenantId"].as_str().is_some_and(|t| same(t, &tenant_id)))
            {
                return Reply::error(
                    409,
                    "Request_BadRequest",
                    format!("The tenant {tenant_id} is already in this multitenant organization."),
                );
            }
        }
        let Some(added) = self.app.tenant(&tenant_id) else {
            return bad_request(format!("The tenant {tenant_id} was not found."));
        };
        if let Some((owner, _)) = belongs_to(self.app, &tenant_id) {
            return bad_request(format!(
                "The tenant {tenant_id} is already part of the multitenant organization of tenant {owner}. A tenant can be part of only one multitenant organization."
            ));
        }
        let display_name = body
            .get("displayName")
            .and_then(Value::as_str)
            .map_or_else(|| added.name.to_string(), str::to_string);
        let entry = json!({
            "id": tenant_id,
            "tenantId": tenant_id,
            "displayName": display_name,
            "addedByTenantId": &*self.tenant.id,
            "addedDateTime": graph_timestamp(self.now_ms),
            "joinedDateTime": null,
            "role": "member",
            "state": "pending",
            "transitionDetails": null,
        });
        self.tenant
            .lock()
            .sync
            .organization
            .tenants
            .push(entry.clone());
        let mut reply = entry;
        reply["@odata.context"] =
            json!(self.context("tenantRelationships/multiTenantOrganization/tenants/$entity"));
        Reply::json(201, reply.to_string())
    }

    fn join(&self) -> Reply {
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let Some(owner) = body.get("addedByTenantId").and_then(Value::as_str) else {
            return bad_request("The property 'addedByTenantId' is required.".into());
        };
        if !is_guid(owner) {
            return bad_request(format!("Invalid addedByTenantId '{owner}': not a GUID."));
        }
        let delay = (JOIN_COMPLETES_MS as f64 / self.app.config.time_scale.max(1e-9))
            .min(u64::MAX as f64 / 4.0) as u64;
        let mut state = self.tenant.lock();
        let org = &mut state.sync.organization;
        if org.organization.is_some() {
            return bad_request(format!(
                "The tenant {} owns a multitenant organization and cannot join another.",
                self.tenant.id
            ));
        }
        if same(owner, RESET) {
            org.join_request = None;
            org.join_due_ms = None;
            return Reply::empty(204);
        }
        org.join_request = Some(json!({
            "id": &*self.tenant.id,
            "addedByTenantId": owner.to_ascii_lowercase(),
            "memberState": "pending",
            "role": "member",
            "transitionDetails": {"desiredMemberState": "active", "status": "running", "details": null},
        }));
        org.join_due_ms = Some(self.clock_ms.saturating_add(delay));
        Reply::empty(204)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_case_insensitively() {
        assert_eq!(
            resolve("/tenantRelationships/multiTenantOrganization"),
            Some(OrganizationTarget::Organization)
        );
        assert_eq!(
            resolve("/tenantrelationships/multitenantorganization/tenants/abc"),
            Some(OrganizationTarget::Tenant("abc".into()))
        );
        assert_eq!(
            resolve("/tenantRelationships/multiTenantOrganization/joinRequest"),
            Some(OrganizationTarget::JoinRequest)
        );
        assert_eq!(resolve("/tenantRelationships/other"), None);
    }

    #[test]
    fn writes_need_read_write_and_reads_accept_read() {
        let read = vec!["MultiTenantOrganization.Read.All".to_string()];
        let t = OrganizationTarget::Tenants;
        assert!(t.permitted(false, &read));
        assert!(!t.permitted(true, &read));
        assert!(t.permitted(true, &["MultiTenantOrganization.ReadWrite.All".to_string()]));
    }
}
