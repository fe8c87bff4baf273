//! Cross-tenant synchronization as Graph serves it, and the provisioning service behind it:
//! application templates (`instantiate`), service principals with their app roles,
//! `appRoleAssignedTo`, synchronization jobs (create, list, get, `validateCredentials`,
//! `start`, `pause`, `provisionOnDemand`), the job's schema (get, put), secrets (put; read back through
//! `GET /servicePrincipals/{id}/synchronization`). (Beta's external identities policy, which a
//! link also writes, is a registry kind served generically.) Each
//! tenant also keeps users and group memberships (seeded with `POST /_sim/tenants/{id}/users`),
//! which `GET /users` lists with the administrator.
//!
//! (The provisioning service itself is in `provisioning.rs`.) A started job runs a cycle at once and on every `POST /_sim/tenants/{id}/sync/run`: each user
//! assigned to the configuration app (directly or through a group), and passing the schema's
//! scoping filter, is created in the target tenant (named by the secrets' `CompanyId`) as a B2B
//! user with the mapped attributes and `userType`, or updated; a user that left the scope is
//! deleted, unless that exceeds the deletion threshold (the job goes to quarantine with
//! `TooManyDeletes`). A target that has not allowed inbound sync from the source, or missing
//! automatic redemption on either side, quarantines the job with the service's error
//! (`AzureDirectoryB2BManagementPolicyCheckFailure`). Shapes: Microsoft Learn's
//! `synchronizationJob`, `synchronizationStatus`, `synchronizationSchema`, `servicePrincipal`,
//! `appRoleAssignment`, `applicationServicePrincipal` pages.
//!
//! Input: a path relative to the version root that no registry kind claims, and the [`Call`].
//! Output: the [`Reply`] Graph would send. Not kept in `--state-dir` state files.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::kinds::{self, CROSS_TENANT_SYNC_TEMPLATE};
use crate::sim::seeded;
use crate::sim::state::TenantState;
use crate::sim::wire::{Reply, graph_timestamp};

use super::{Call, not_allowed, not_found};

use super::provisioning::policy_check;
pub(crate) use super::provisioning::{remove_member, run_all, run_cycle, seed_user};

/// The id of the `msiam_access` app role of every configuration app (as on Graph, the same in
/// every tenant for the template).
const MSIAM_ACCESS: &str = "7dd7250c-ae55-4b0f-9a3c-4a2b9a2bfc2c";

/// The user rule of the Azure2Azure schema.
pub(super) const USER_RULE: &str = "USER_INBOUND_USER";

/// One tenant's synchronization objects, users and memberships.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// Users beside the administrator (seeded, or provisioned into this tenant), by id.
    pub(crate) users: BTreeMap<String, Value>,
    /// Group id (lower case) → member user ids.
    pub(crate) members: BTreeMap<String, BTreeSet<String>>,
    /// Applications made by `instantiate`.
    pub(super) applications: Vec<Value>,
    /// Service principals made by `instantiate`.
    pub(super) service_principals: Vec<Value>,
    /// App role assignments (`appRoleAssignedTo`), each with its `resourceId`.
    pub(super) assignments: Vec<Value>,
    /// Jobs by service principal id.
    pub(super) jobs: BTreeMap<String, Vec<Job>>,
    /// Secrets by service principal id.
    pub(super) secrets: BTreeMap<String, Value>,
    /// Users provisioned into this tenant: target user id → (source tenant, source user id).
    pub(super) synced_from: BTreeMap<String, (String, String)>,
    /// New service principals: id (lower case) → clock milliseconds from which calls that
    /// address them by id find them (replication; lists by `$filter` see them at once).
    pub(super) sp_visible_from: BTreeMap<String, u64>,
    /// The multitenant organization this tenant owns, or its join request (`organization.rs`).
    pub(super) organization: super::organization::OrganizationState,
    /// The provisioning logs' entries, oldest first (`provisioning_log.rs`).
    pub(super) provisioning_log: Vec<Value>,
}

/// How long a new configuration app's service principal stays unknown to calls that address it
/// by id, at time scale 1 (Entra's replication: "may 404 for some seconds"), unless the
/// simulator's `--replication-delay-ms` is longer.
pub(crate) const SP_REPLICATION_MS: u64 = 2_000;

#[derive(Debug, Clone)]
pub(super) struct Job {
    pub(super) entity: Value,
    pub(super) schema: Value,
    /// Source user id → target user id.
    pub(super) provisioned: BTreeMap<String, String>,
}

/// What a synchronization path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncTarget {
    /// `/applicationTemplates/{id}/instantiate`.
    Instantiate(String),
    /// `/servicePrincipals`.
    ServicePrincipals,
    /// `/servicePrincipals/{id}`.
    ServicePrincipal(String),
    /// `/servicePrincipals/{id}/appRoleAssignedTo`.
    AssignedTo(String),
    /// `/servicePrincipals/{id}/synchronization`.
    Synchronization(String),
    /// `/servicePrincipals/{id}/synchronization/secrets`.
    Secrets(String),
    /// `/servicePrincipals/{id}/synchronization/jobs`.
    Jobs(String),
    /// `/servicePrincipals/{id}/synchronization/jobs/validateCredentials`.
    ValidateCredentials(String),
    /// `/servicePrincipals/{id}/synchronization/jobs/{job}[/{action}]`.
    Job(String, String, Option<String>),
}

impl SyncTarget {
    /// The permission the call needs.
    pub(crate) fn permission(&self, write: bool) -> &'static str {
        let kind = match self {
            SyncTarget::Instantiate(_)
            | SyncTarget::ServicePrincipals
            | SyncTarget::ServicePrincipal(_) => "applicationTemplateInstance",
            SyncTarget::AssignedTo(_) => "appRoleAssignment",
            _ => "synchronizationJob",
        };
        let permissions = kinds::link_kind_by_name(kind).map_or(&[][..], |k| k.permissions);
        match (write, self) {
            // Microsoft Learn, "List servicePrincipals": Application.Read.All reads them.
            (false, SyncTarget::ServicePrincipals | SyncTarget::ServicePrincipal(_)) => {
                "Application.Read.All"
            }
            _ => permissions
                .first()
                .copied()
                .unwrap_or("Directory.ReadWrite.All"),
        }
    }
}

/// The target of `path` (on either version), if it is a synchronization path.
pub(crate) fn resolve(path: &str) -> Option<SyncTarget> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match s.as_slice() {
        [t, id, i] if eq(t, "applicationTemplates") && eq(i, "instantiate") => {
            Some(SyncTarget::Instantiate(id.to_string()))
        }
        [sp] if eq(sp, "servicePrincipals") => Some(SyncTarget::ServicePrincipals),
        [sp, id] if eq(sp, "servicePrincipals") => {
            Some(SyncTarget::ServicePrincipal(id.to_string()))
        }
        [sp, id, a] if eq(sp, "servicePrincipals") && eq(a, "appRoleAssignedTo") => {
            Some(SyncTarget::AssignedTo(id.to_string()))
        }
        [sp, id, sy] if eq(sp, "servicePrincipals") && eq(sy, "synchronization") => {
            Some(SyncTarget::Synchronization(id.to_string()))
        }
        [sp, id, sy, x] if eq(sp, "servicePrincipals") && eq(sy, "synchronization") => {
            if eq(x, "secrets") {
                Some(SyncTarget::Secrets(id.to_string()))
            } else if eq(x, "jobs") {
                Some(SyncTarget::Jobs(id.to_string()))
            } else {
                None
            }
        }
        [sp, id, sy, j, v]
            if eq(sp, "servicePrincipals") && eq(sy, "synchronization") && eq(j, "jobs") =>
        {
            if eq(v, "validateCredentials") {
                Some(SyncTarget::ValidateCredentials(id.to_string()))
            } else {
                Some(SyncTarget::Job(id.to_string(), v.to_string(), None))
            }
        }
        [sp, id, sy, j, job, action]
            if eq(sp, "servicePrincipals") && eq(sy, "synchronization") && eq(j, "jobs") =>
        {
            Some(SyncTarget::Job(
                id.to_string(),
                job.to_string(),
                Some(action.to_string()),
            ))
        }
        _ => None,
    }
}

pub(super) fn bad_request(message: &str) -> Reply {
    Reply::error(400, "Request_BadRequest", message.to_string())
}

/// The Azure2Azure schema of a new job: the user rule with the template's default mappings.
fn default_schema(job_id: &str) -> Value {
    let attr = |name: &str| json!({"targetAttributeName": name, "source": {"type": "Attribute", "name": name, "expression": format!("[{name}]"), "parameters": []}, "flowType": "Always", "flowBehavior": "FlowWhenChanged", "matchingPriority": 0, "defaultValue": null});
    json!({
        "id": job_id,
        "version": "date:2026-01-01T00:00:00Z~v:1",
        "directories": [],
        "synchronizationRules": [{
            "id": USER_RULE,
            "name": USER_RULE,
            "editable": true,
            "sourceDirectoryName": "Azure Active Directory",
            "targetDirectoryName": "Azure Active Directory (target tenant)",
            "objectMappings": [{
                "name": "Provision Azure Active Directory Users",
                "enabled": true,
                "flowTypes": "Add, Update, Delete",
                "sourceObjectName": "User",
                "targetObjectName": "User",
                "scope": null,
                "attributeMappings": [
                    attr("accountEnabled"),
                    attr("displayName"),
                    attr("givenName"),
                    attr("surname"),
                    attr("mailNickname"),
                    attr("department"),
                    attr("jobTitle"),
                    {"targetAttributeName": "userType", "source": {"type": "Constant", "name": "Member", "expression": "\"Member\"", "parameters": []}, "flowType": "Always", "flowBehavior": "FlowWhenChanged", "matchingPriority": 0, "defaultValue": null}
                ]
            }]
        }]
    })
}

fn new_job(id: &str, template: &str) -> Value {
    json!({
        "id": id,
        "templateId": template,
        "schedule": {"expiration": null, "interval": "PT40M", "state": "Disabled"},
        "status": {
            "code": "NotConfigured",
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": false,
            "lastExecution": null,
            "lastSuccessfulExecution": null,
            "lastSuccessfulExecutionWithExports": null,
            "progress": [],
            "quarantine": null,
            "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
            "synchronizedEntryCountByType": [],
            "troubleshootingUrl": null
        },
        "synchronizationJobSettings": []
    })
}

impl Call<'_> {
    /// `sp` with only the `$select`ed properties (all without `$select`).
    fn selected(&self, sp: Value) -> Value {
        match (&self.query.select, sp) {
            (Some(select), Value::Object(all)) => Value::Object(
                all.into_iter()
                    .filter(|(k, _)| select.iter().any(|s| s.eq_ignore_ascii_case(k)))
                    .collect(),
            ),
            (_, sp) => sp,
        }
    }

    fn fresh_id(&self, state: &mut TenantState) -> String {
        state.next_object += 1;
        seeded::guid(
            self.app.config.seed,
            &format!("{}/{}", self.tenant.id, state.next_object),
        )
    }

    fn with_context(&self, fragment: &str, value: Value) -> Value {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            Value::String(self.context(fragment)),
        );
        if let Value::Object(map) = value {
            out.extend(map);
        }
        Value::Object(out)
    }

    fn collection(&self, fragment: &str, items: Vec<Value>) -> Reply {
        let body = json!({"@odata.context": self.context(fragment), "value": items});
        Reply::json(200, body.to_string())
    }

    /// Answer a synchronization call.
    pub(crate) fn sync(&self, target: SyncTarget) -> Reply {
        let method = self.request.method;
        if let (SyncTarget::Job(sp, job, Some(action)), "POST") = (&target, method)
            && action.eq_ignore_ascii_case("provisionOnDemand")
        {
            let known = {
                let state = self.tenant.lock();
                state
                    .sync
                    .sp_visible_from
                    .get(&sp.to_ascii_lowercase())
                    .is_none_or(|from| self.clock_ms >= *from)
                    && state.sync.service_principals.iter().any(|s| {
                        s["id"]
                            .as_str()
                            .is_some_and(|id| id.eq_ignore_ascii_case(sp))
                    })
            };
            if !known {
                return not_found(sp);
            }
            let body = match self.body() {
                Ok(body) => body,
                Err(reply) => return reply,
            };
            return super::provisioning::provision_on_demand(
                self.app,
                self.tenant,
                sp,
                job,
                &body,
                self.now_ms,
                self.context("microsoft.graph.stringKeyStringValuePair"),
            );
        }
        let start_cycle;
        {
            let mut state = self.tenant.lock();
            let reply = match self.sync_locked(&mut state, &target) {
                Ok(reply) => reply,
                Err(reply) => return reply,
            };
            start_cycle = match (&target, method) {
                (SyncTarget::Job(sp, job, Some(action)), "POST")
                    if action.eq_ignore_ascii_case("start") && reply.status == 204 =>
                {
                    Some((sp.clone(), job.clone()))
                }
                _ => None,
            };
            if start_cycle.is_none() {
                return reply;
            }
        }
        if let Some((sp, job)) = start_cycle {
            run_cycle(self.app, self.tenant, &sp, &job, self.now_ms);
        }
        Reply::empty(204)
    }

    fn sync_locked(&self, state: &mut TenantState, target: &SyncTarget) -> Result<Reply, Reply> {
        let method = self.request.method;
        let clock_ms = self.clock_ms;
        let replicated = |state: &TenantState, sp: &str| {
            state
                .sync
                .sp_visible_from
                .get(&sp.to_ascii_lowercase())
                .is_none_or(|from| clock_ms >= *from)
        };
        let sp_exists = |state: &TenantState, sp: &str| {
            replicated(state, sp)
                && state.sync.service_principals.iter().any(|s| {
                    s["id"]
                        .as_str()
                        .is_some_and(|id| id.eq_ignore_ascii_case(sp))
                })
        };
        match (target, method) {
            (SyncTarget::Instantiate(template), "POST") => {
                if !template.eq_ignore_ascii_case(CROSS_TENANT_SYNC_TEMPLATE) {
                    return Err(not_found(template));
                }
                let body = self.body()?;
                let Some(name) = body.get("displayName").and_then(Value::as_str) else {
                    return Err(bad_request("displayName is required."));
                };
                let app_id = self.fresh_id(state);
                let app_object = self.fresh_id(state);
                let sp_id = self.fresh_id(state);
                let created = graph_timestamp(self.now_ms);
                let application = json!({
                    "id": app_object, "appId": app_id, "applicationTemplateId": CROSS_TENANT_SYNC_TEMPLATE,
                    "displayName": name, "createdDateTime": created, "signInAudience": "AzureADMyOrg",
                });
                let sp = json!({
                    "id": sp_id, "appId": app_id, "applicationTemplateId": CROSS_TENANT_SYNC_TEMPLATE,
                    "displayName": name, "accountEnabled": true, "servicePrincipalType": "Application",
                    "appOwnerOrganizationId": &*self.tenant.id, "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
                    "appRoles": [{
                        "allowedMemberTypes": ["User"], "description": "msiam_access", "displayName": "msiam_access",
                        "id": MSIAM_ACCESS, "isEnabled": true, "origin": "Application", "value": null
                    }],
                });
                let delay =
                    self.app.config.replication_delay_ms.max(
                        (SP_REPLICATION_MS as f64 / self.app.config.time_scale.max(1e-3)) as u64,
                    );
                state
                    .sync
                    .sp_visible_from
                    .insert(sp_id.to_ascii_lowercase(), self.clock_ms + delay);
                state.sync.applications.push(application.clone());
                state.sync.service_principals.push(sp.clone());
                let body = json!({
                    "@odata.context": self.context("microsoft.graph.applicationServicePrincipal"),
                    "application": application,
                    "servicePrincipal": sp,
                });
                Ok(Reply::json(201, body.to_string()))
            }
            (SyncTarget::ServicePrincipals, "GET") => {
                // Those the links created, then the app's own and Microsoft Graph's
                // (licensing.rs), which every tenant has.
                let items: Vec<Value> = state
                    .sync
                    .service_principals
                    .iter()
                    .cloned()
                    .chain(self.service_principals())
                    .filter(|sp| self.filter_matches(sp))
                    .map(|sp| self.selected(sp))
                    .collect();
                Ok(self.collection("servicePrincipals", items))
            }
            (SyncTarget::ServicePrincipal(id), "GET") => state
                .sync
                .service_principals
                .iter()
                .filter(|_| replicated(state, id))
                .cloned()
                .chain(self.service_principals())
                .find(|s| s["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
                .map(|sp| {
                    Reply::json(
                        200,
                        self.with_context("servicePrincipals/$entity", sp.clone())
                            .to_string(),
                    )
                })
                .ok_or_else(|| not_found(id)),
            (SyncTarget::AssignedTo(sp), _) if !sp_exists(state, sp) => Err(not_found(sp)),
            (SyncTarget::AssignedTo(sp), "GET") => {
                let items = state
                    .sync
                    .assignments
                    .iter()
                    .filter(|a| {
                        a["resourceId"]
                            .as_str()
                            .is_some_and(|r| r.eq_ignore_ascii_case(sp))
                    })
                    .cloned()
                    .collect();
                Ok(self.collection(
                    &format!("servicePrincipals('{sp}')/appRoleAssignedTo"),
                    items,
                ))
            }
            (SyncTarget::AssignedTo(sp), "POST") => {
                let body = self.body()?;
                let principal = body
                    .get("principalId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let role = body
                    .get("appRoleId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !body
                    .get("resourceId")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.eq_ignore_ascii_case(sp))
                {
                    return Err(bad_request(
                        "resourceId must be the service principal of the request path.",
                    ));
                }
                if !role.eq_ignore_ascii_case(MSIAM_ACCESS) {
                    return Err(bad_request(
                        "Permission being assigned was not found on application",
                    ));
                }
                let (principal_type, principal_name) = if let Some(user) =
                    state.sync.users.get(&principal)
                {
                    ("User", user["displayName"].clone())
                } else if let Some(group) = super::group_by_id(state, &principal) {
                    ("Group", group["displayName"].clone())
                } else {
                    return Err(Reply::error(
                        400,
                        "Request_BadRequest",
                        format!(
                            "Resource '{principal}' does not exist or one of its queried reference-property objects are not present."
                        ),
                    ));
                };
                if state.sync.assignments.iter().any(|a| {
                    a["resourceId"]
                        .as_str()
                        .is_some_and(|r| r.eq_ignore_ascii_case(sp))
                        && a["principalId"].as_str() == Some(principal.as_str())
                }) {
                    return Err(Reply::error(
                        409,
                        "Request_BadRequest",
                        "Permission being assigned already exists on the object",
                    ));
                }
                let id = self.fresh_id(state);
                let sp_name = state
                    .sync
                    .service_principals
                    .iter()
                    .find(|s| s["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(sp)))
                    .map_or(Value::Null, |s| s["displayName"].clone());
                let assignment = json!({
                    "id": id, "appRoleId": MSIAM_ACCESS, "createdDateTime": graph_timestamp(self.now_ms),
                    "deletedDateTime": null, "principalDisplayName": principal_name, "principalId": principal,
                    "principalType": principal_type, "resourceDisplayName": sp_name, "resourceId": sp.to_ascii_lowercase(),
                });
                state.sync.assignments.push(assignment.clone());
                Ok(Reply::json(
                    201,
                    self.with_context(
                        "servicePrincipals('{sp}')/appRoleAssignedTo/$entity",
                        assignment,
                    )
                    .to_string(),
                ))
            }
            (
                SyncTarget::Synchronization(sp)
                | SyncTarget::Secrets(sp)
                | SyncTarget::Jobs(sp)
                | SyncTarget::ValidateCredentials(sp)
                | SyncTarget::Job(sp, _, _),
                _,
            ) if !sp_exists(state, sp) => Err(not_found(sp)),
            (SyncTarget::Synchronization(sp), "GET") => {
                let secrets = state
                    .sync
                    .secrets
                    .get(&sp.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or(json!([]));
                let jobs: Vec<Value> = state
                    .sync
                    .jobs
                    .get(&sp.to_ascii_lowercase())
                    .map(|j| j.iter().map(|j| j.entity.clone()).collect())
                    .unwrap_or_default();
                Ok(Reply::json(200, json!({"@odata.context": self.context(&format!("servicePrincipals('{sp}')/synchronization/$entity")), "id": sp, "secrets": secrets, "jobs": jobs}).to_string()))
            }
            (SyncTarget::Secrets(sp), "PUT") => {
                let body = self.body()?;
                let Some(value) = body.get("value").filter(|v| v.is_array()) else {
                    return Err(bad_request(
                        "The request body must carry `value`, an array of key/value pairs.",
                    ));
                };
                state
                    .sync
                    .secrets
                    .insert(sp.to_ascii_lowercase(), value.clone());
                Ok(Reply::empty(204))
            }
            (SyncTarget::Jobs(sp), "GET") => {
                let jobs: Vec<Value> = state
                    .sync
                    .jobs
                    .get(&sp.to_ascii_lowercase())
                    .map(|j| j.iter().map(|j| j.entity.clone()).collect())
                    .unwrap_or_default();
                Ok(self.collection(
                    &format!("servicePrincipals('{sp}')/synchronization/jobs"),
                    jobs,
                ))
            }
            (SyncTarget::Jobs(sp), "POST") => {
                let body = self.body()?;
                let template = body
                    .get("templateId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if template != "Azure2Azure" {
                    return Err(bad_request(
                        "The template is not available for this application.",
                    ));
                }
                let suffix = self.fresh_id(state).replace('-', "");
                let tenant = self.tenant.id.replace('-', "");
                let id = format!(
                    "Azure2Azure.{}.{}",
                    &suffix[..32.min(suffix.len())],
                    &tenant[..32.min(tenant.len())]
                );
                let job = Job {
                    entity: new_job(&id, template),
                    schema: default_schema(&id),
                    provisioned: BTreeMap::new(),
                };
                let entity = job.entity.clone();
                state
                    .sync
                    .jobs
                    .entry(sp.to_ascii_lowercase())
                    .or_default()
                    .push(job);
                Ok(Reply::json(
                    201,
                    self.with_context(
                        &format!("servicePrincipals('{sp}')/synchronization/jobs/$entity"),
                        entity,
                    )
                    .to_string(),
                ))
            }
            (SyncTarget::ValidateCredentials(_), "POST") => {
                let body = self.body()?;
                let credentials = body
                    .get("credentials")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let company = credentials
                    .iter()
                    .find(|c| c["key"] == "CompanyId")
                    .and_then(|c| c["value"].as_str())
                    .unwrap_or_default()
                    .to_string();
                match policy_check(self.app, &self.tenant.id, state, &company) {
                    None => Ok(Reply::empty(204)),
                    Some((code, message)) => Err(Reply::error(400, code, message)),
                }
            }
            (SyncTarget::Job(sp, job, action), _) => {
                let sp_key = sp.to_ascii_lowercase();
                let Some(found) = state.sync.jobs.get_mut(&sp_key).and_then(|jobs| {
                    jobs.iter_mut()
                        .find(|j| j.entity["id"].as_str() == Some(job.as_str()))
                }) else {
                    return Err(not_found(job));
                };
                match (action.as_deref(), method) {
                    (None, "GET") => Ok(Reply::json(200, self.with_context(&format!("servicePrincipals('{sp}')/synchronization/jobs/$entity"), found.entity.clone()).to_string())),
                    (Some(a), "GET") if a.eq_ignore_ascii_case("schema") => Ok(Reply::json(200, self.with_context(&format!("servicePrincipals('{sp}')/synchronization/jobs('{job}')/schema/$entity"), found.schema.clone()).to_string())),
                    (Some(a), "PUT") if a.eq_ignore_ascii_case("schema") => {
                        let body = self.body()?;
                        if !body.get("synchronizationRules").is_some_and(Value::is_array) {
                            return Err(bad_request("The schema must carry synchronizationRules."));
                        }
                        let mut schema = body;
                        if let Value::Object(map) = &mut schema {
                            map.remove("@odata.context");
                            map.insert("id".into(), json!(job));
                        }
                        found.schema = schema;
                        Ok(Reply::empty(204))
                    }
                    (Some(a), "POST") if a.eq_ignore_ascii_case("start") => {
                        found.entity["schedule"]["state"] = json!("Active");
                        if found.entity["status"]["code"] != "Active" {
                            found.entity["status"]["code"] = json!("NotRun");
                        }
                        Ok(Reply::empty(204))
                    }
                    (Some(a), "POST") if a.eq_ignore_ascii_case("pause") => {
                        found.entity["schedule"]["state"] = json!("Disabled");
                        found.entity["status"]["code"] = json!("Paused");
                        Ok(Reply::empty(204))
                    }
                    _ => Err(not_allowed()),
                }
            }
            _ => Err(not_allowed()),
        }
    }

    /// The request's `$filter` (`displayName eq '...'`, the one clients use here).
    fn filter_matches(&self, object: &Value) -> bool {
        self.query.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use super::super::provisioning::{in_filter, mapped_user, user_mapping};
    use super::*;

    #[test]
    fn synchronization_paths_resolve() {
        let sp = "11111111-1111-4111-8111-111111111111";
        assert_eq!(
            resolve(&format!(
                "/applicationTemplates/{CROSS_TENANT_SYNC_TEMPLATE}/instantiate"
            )),
            Some(SyncTarget::Instantiate(CROSS_TENANT_SYNC_TEMPLATE.into()))
        );
        assert_eq!(
            resolve(&format!(
                "/servicePrincipals/{sp}/synchronization/jobs/j1/start"
            )),
            Some(SyncTarget::Job(
                sp.into(),
                "j1".into(),
                Some("start".into())
            ))
        );
        assert_eq!(
            resolve(&format!(
                "/servicePrincipals/{sp}/synchronization/jobs/validateCredentials"
            )),
            Some(SyncTarget::ValidateCredentials(sp.into()))
        );
        assert_eq!(resolve("/policies/externalIdentitiesPolicy"), None);
        assert_eq!(resolve("/groups"), None);
    }

    #[test]
    fn scoping_filters_keep_only_matching_users() {
        let scope = json!({"groups": [{"clauses": [{"operatorName": "EQUALS", "sourceOperandName": "department", "targetOperand": {"values": ["Sales"]}}]}]});
        assert!(in_filter(&scope, &json!({"department": "sales"})));
        assert!(!in_filter(&scope, &json!({"department": "IT"})));
        assert!(in_filter(&Value::Null, &json!({})));
    }

    #[test]
    fn mapped_users_carry_the_constant_user_type() {
        let schema = default_schema("j");
        let mapping = user_mapping(&schema);
        let mut mappings = mapping["attributeMappings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        mappings.push(json!({"targetAttributeName": "userType", "source": {"type": "Constant", "name": "Guest"}}));
        let user = mapped_user(
            &mappings,
            &json!({"displayName": "Ann", "userPrincipalName": "ann@hub.example", "mailNickname": "ann"}),
            "id1",
            "spoke.onmicrosoft.com",
        );
        assert_eq!(user["userType"], "Guest");
        assert_eq!(user["displayName"], "Ann");
        assert_eq!(
            user["userPrincipalName"],
            "ann_hub.example#EXT#@spoke.onmicrosoft.com"
        );
    }
}
