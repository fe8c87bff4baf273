//! Cross-tenant synchronization as Graph serves it, and the provisioning service behind it:
//! application templates (`instantiate`), service principals with their app roles,
//! `appRoleAssignedTo`, synchronization jobs (create, list, get, `validateCredentials`,
//! `start`, `pause`), the job's schema (get, put), secrets (put; read back through
//! `GET /servicePrincipals/{id}/synchronization`), and beta's external identities policy. Each
//! tenant also keeps users and group memberships (seeded with `POST /_sim/tenants/{id}/users`),
//! which `GET /users` lists with the administrator.
//!
//! A started job runs a cycle at once and on every `POST /_sim/tenants/{id}/sync/run`: each user
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

use crate::kinds::{self, ApiVersion, CROSS_TENANT_SYNC_TEMPLATE};
use crate::sim::service::App;
use crate::sim::state::{Tenant, TenantState};
use crate::sim::wire::{Reply, graph_timestamp};
use crate::sim::{graph::directory, seeded};

use super::{Call, not_allowed, not_found};

/// The id of the `msiam_access` app role of every configuration app (as on Graph, the same in
/// every tenant for the template).
const MSIAM_ACCESS: &str = "7dd7250c-ae55-4b0f-9a3c-4a2b9a2bfc2c";

/// The user rule of the Azure2Azure schema.
const USER_RULE: &str = "USER_INBOUND_USER";

/// One tenant's synchronization objects, users and memberships.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// Users beside the administrator (seeded, or provisioned into this tenant), by id.
    pub(crate) users: BTreeMap<String, Value>,
    /// Group id (lower case) → member user ids.
    pub(crate) members: BTreeMap<String, BTreeSet<String>>,
    /// Applications made by `instantiate`.
    applications: Vec<Value>,
    /// Service principals made by `instantiate`.
    service_principals: Vec<Value>,
    /// App role assignments (`appRoleAssignedTo`), each with its `resourceId`.
    assignments: Vec<Value>,
    /// Jobs by service principal id.
    jobs: BTreeMap<String, Vec<Job>>,
    /// Secrets by service principal id.
    secrets: BTreeMap<String, Value>,
    /// Beta's external identities policy, once written.
    external_identities: Option<Value>,
    /// Users provisioned into this tenant: target user id → (source tenant, source user id).
    synced_from: BTreeMap<String, (String, String)>,
}

#[derive(Debug, Clone)]
struct Job {
    entity: Value,
    schema: Value,
    /// Source user id → target user id.
    provisioned: BTreeMap<String, String>,
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
    /// beta `/policies/externalIdentitiesPolicy`.
    ExternalIdentities,
}

impl SyncTarget {
    /// The permission the call needs.
    pub(crate) fn permission(&self, write: bool) -> &'static str {
        let kind = match self {
            SyncTarget::Instantiate(_)
            | SyncTarget::ServicePrincipals
            | SyncTarget::ServicePrincipal(_) => "applicationTemplateInstance",
            SyncTarget::AssignedTo(_) => "appRoleAssignment",
            SyncTarget::ExternalIdentities => "externalIdentitiesPolicy",
            _ => "synchronizationJob",
        };
        let permissions = kinds::link_kind_by_name(kind).map_or(&[][..], |k| k.permissions);
        match (write, self) {
            (false, SyncTarget::ExternalIdentities) => "Policy.Read.All",
            _ => permissions
                .first()
                .copied()
                .unwrap_or("Directory.ReadWrite.All"),
        }
    }
}

/// The target of `path` on `version`, if it is a synchronization path.
pub(crate) fn resolve(version: ApiVersion, path: &str) -> Option<SyncTarget> {
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
        [p, e]
            if version == ApiVersion::Beta
                && eq(p, "policies")
                && eq(e, "externalIdentitiesPolicy") =>
        {
            Some(SyncTarget::ExternalIdentities)
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

fn bad_request(message: &str) -> Reply {
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
        let sp_exists = |state: &TenantState, sp: &str| {
            state.sync.service_principals.iter().any(|s| {
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
                let items: Vec<Value> = state
                    .sync
                    .service_principals
                    .iter()
                    .filter(|sp| self.filter_matches(sp))
                    .cloned()
                    .collect();
                Ok(self.collection("servicePrincipals", items))
            }
            (SyncTarget::ServicePrincipal(id), "GET") => state
                .sync
                .service_principals
                .iter()
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
            (SyncTarget::ExternalIdentities, "GET") => {
                let policy = state.sync.external_identities.clone().unwrap_or_else(|| {
                    json!({"id": "externalIdentitiesPolicy", "displayName": "External Identities Policy", "allowExternalIdentitiesToLeave": true, "allowDeletedIdentitiesDataRemoval": false})
                });
                Ok(Reply::json(
                    200,
                    self.with_context("policies/externalIdentitiesPolicy/$entity", policy)
                        .to_string(),
                ))
            }
            (SyncTarget::ExternalIdentities, "PATCH") => {
                let body = self.body()?;
                let mut policy = state.sync.external_identities.clone().unwrap_or_else(|| {
                    json!({"id": "externalIdentitiesPolicy", "displayName": "External Identities Policy", "allowExternalIdentitiesToLeave": true, "allowDeletedIdentitiesDataRemoval": false})
                });
                super::merge(&mut policy, body);
                state.sync.external_identities = Some(policy);
                Ok(Reply::empty(204))
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

/// Why the service cannot synchronize from `source` into `target` (the error code and message
/// of the test connection and of a quarantine), or `None` when the policies allow it.
fn policy_check(
    app: &App,
    source: &str,
    source_state: &TenantState,
    target: &str,
) -> Option<(&'static str, String)> {
    let partners = kinds::by_name("crossTenantAccessPolicyPartner")?;
    let identity = kinds::by_name("crossTenantIdentitySyncPolicyPartner")?;
    let failure = |what: &str| {
        Some((
            "AzureDirectoryB2BManagementPolicyCheckFailure",
            format!("Policy permitting auto-redemption of invitations not configured: {what}"),
        ))
    };
    let target_key = target.to_ascii_lowercase();
    let outbound = source_state
        .live(partners)
        .and_then(|l| l.get(target_key.as_str()))
        .map(|o| o.value());
    if !outbound.is_some_and(|p| p["automaticUserConsentSettings"]["outboundAllowed"] == true) {
        return failure("the source has no automatic redemption (outbound) for the target");
    }
    let Some(target_tenant) = app.tenant(target) else {
        return Some((
            "InvalidCredentials",
            format!("The target tenant {target} was not found."),
        ));
    };
    let state = target_tenant.lock();
    let source_key = source.to_ascii_lowercase();
    let inbound = state
        .live(partners)
        .and_then(|l| l.get(source_key.as_str()))
        .map(|o| o.value());
    if !inbound.is_some_and(|p| p["automaticUserConsentSettings"]["inboundAllowed"] == true) {
        return failure("the target has no automatic redemption (inbound) for the source");
    }
    let sync = state
        .live(identity)
        .and_then(|l| l.get(source_key.as_str()))
        .map(|o| o.value());
    if !sync.is_some_and(|s| s["userSyncInbound"]["isSyncAllowed"] == true) {
        return Some((
            "AzureActiveDirectoryCrossTenantSyncPolicyCheckFailure",
            "The target tenant has not allowed user synchronization from the source tenant (cross-tenant sync policy: inbound sync not allowed).".into(),
        ));
    }
    None
}

/// Does a user pass the object mapping's scope (`filter.groups`: any group, all its clauses)?
fn in_filter(scope: &Value, user: &Value) -> bool {
    let Some(groups) = scope.get("groups").and_then(Value::as_array) else {
        return true;
    };
    if groups.is_empty() {
        return true;
    }
    groups.iter().any(|g| {
        g["clauses"].as_array().is_none_or(|clauses| {
            clauses.iter().all(|c| {
                let attr = c["sourceOperandName"].as_str().unwrap_or_default();
                let value = &user[attr];
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let values: Vec<&str> = c["targetOperand"]["values"]
                    .as_array()
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                match c["operatorName"].as_str().unwrap_or_default() {
                    "EQUALS" => values.iter().any(|v| v.eq_ignore_ascii_case(&text)),
                    "NOT EQUALS" => !values.iter().any(|v| v.eq_ignore_ascii_case(&text)),
                    "IS TRUE" => *value == true,
                    "IS FALSE" => *value == false,
                    "IS NULL" => value.is_null(),
                    "IS NOT NULL" => !value.is_null(),
                    _ => true,
                }
            })
        })
    })
}

/// The user as the target gets it: the rule's mappings applied, a B2B member of the target.
fn mapped_user(mappings: &[Value], source: &Value, id: &str, target_domain: &str) -> Value {
    let nickname = source["mailNickname"].as_str().unwrap_or("user");
    let source_upn = source["userPrincipalName"].as_str().unwrap_or(nickname);
    let mut user = json!({
        "id": id,
        "accountEnabled": true,
        "businessPhones": [],
        "creationType": "Invitation",
        "externalUserState": "Accepted",
        "mail": source["mail"].clone(),
        "mailNickname": nickname,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "userPrincipalName": format!("{}#EXT#@{target_domain}", source_upn.replace('@', "_")),
        "userType": "Member",
        "otherMails": [],
        "identities": [{"signInType": "userPrincipalName", "issuer": target_domain, "issuerAssignedId": null}],
    });
    for m in mappings {
        let Some(target) = m["targetAttributeName"].as_str() else {
            continue;
        };
        let value = match m["source"]["type"].as_str() {
            Some("Constant") => m["source"]["name"].clone(),
            _ => source[m["source"]["name"].as_str().unwrap_or(target)].clone(),
        };
        user[target] = value;
    }
    for p in [
        "displayName",
        "givenName",
        "surname",
        "jobTitle",
        "department",
    ] {
        if user.get(p).is_none() {
            user[p] = Value::Null;
        }
    }
    user
}

/// The user rule's object mapping of a schema.
fn user_mapping(schema: &Value) -> Value {
    schema["synchronizationRules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["id"] == USER_RULE))
        .and_then(|r| r["objectMappings"].as_array())
        .and_then(|m| m.iter().find(|m| m["targetObjectName"] == "User"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn set_status(
    job: &mut Job,
    now: &str,
    code: &str,
    quarantine: Option<Value>,
    counts: Option<(usize, usize)>,
) {
    let status = &mut job.entity["status"];
    status["code"] = json!(code);
    status["quarantine"] = quarantine.clone().unwrap_or(Value::Null);
    let (exported, entitled) = counts.unwrap_or((0, 0));
    let execution = json!({
        "activityIdentifier": null,
        "countEntitled": entitled,
        "countEntitledForProvisioning": entitled,
        "countEscrowed": 0,
        "countEscrowedRaw": 0,
        "countExported": exported,
        "countExports": exported,
        "countImported": entitled,
        "countImportedDeltas": 0,
        "countImportedReferenceDeltas": 0,
        "error": quarantine.as_ref().map_or(Value::Null, |q| q["error"].clone()),
        "state": if quarantine.is_some() { "Failed" } else { "Succeeded" },
        "timeBegan": now,
        "timeEnded": now,
    });
    status["lastExecution"] = execution.clone();
    if quarantine.is_none() {
        status["lastSuccessfulExecution"] = execution;
        status["synchronizedEntryCountByType"] =
            json!([{"key": "User to User", "value": job.provisioned.len()}]);
    } else {
        status["countSuccessiveCompleteFailures"] = json!(
            status["countSuccessiveCompleteFailures"]
                .as_u64()
                .unwrap_or(0)
                + 1
        );
    }
}

/// Run one provisioning cycle of a started job of `source`.
pub(crate) fn run_cycle(app: &App, source: &Tenant, sp: &str, job_id: &str, now_ms: i64) {
    let now = graph_timestamp(now_ms);
    let sp_key = sp.to_ascii_lowercase();
    // 1. What the source holds: scope, mappings, secrets, policy check.
    let (target_id, mappings, in_scope, failure, threshold, job) = {
        let state = source.lock();
        let Some(job) = state
            .sync
            .jobs
            .get(&sp_key)
            .and_then(|jobs| {
                jobs.iter()
                    .find(|j| j.entity["id"].as_str() == Some(job_id))
            })
            .cloned()
        else {
            return;
        };
        if job.entity["schedule"]["state"] != "Active" {
            return;
        }
        let secrets = state
            .sync
            .secrets
            .get(&sp_key)
            .cloned()
            .unwrap_or(json!([]));
        let secret = |key: &str| {
            secrets
                .as_array()
                .and_then(|s| s.iter().find(|p| p["key"] == key))
                .and_then(|p| p["value"].as_str())
                .map(str::to_string)
        };
        let target_id = secret("CompanyId").unwrap_or_default().to_ascii_lowercase();
        let threshold = secret("SyncNotificationSettings")
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .filter(|s| s["DeleteThresholdEnabled"] == true)
            .and_then(|s| s["DeleteThresholdValue"].as_u64());
        let failure = if target_id.is_empty() {
            Some((
                "InvalidCredentials",
                "The synchronization secrets name no target tenant (CompanyId).".to_string(),
            ))
        } else {
            policy_check(app, &source.id, &state, &target_id)
        };
        let mapping = user_mapping(&job.schema);
        let mappings = mapping["attributeMappings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut principals = BTreeSet::new();
        for a in &state.sync.assignments {
            if a["resourceId"].as_str() != Some(sp_key.as_str()) {
                continue;
            }
            let principal = a["principalId"].as_str().unwrap_or_default().to_string();
            if a["principalType"] == "Group" {
                if let Some(members) = state.sync.members.get(&principal) {
                    principals.extend(members.iter().cloned());
                }
            } else {
                principals.insert(principal);
            }
        }
        let in_scope: Vec<Value> = principals
            .iter()
            .filter_map(|id| state.sync.users.get(id))
            .filter(|u| in_filter(&mapping["scope"], u))
            .cloned()
            .collect();
        (target_id, mappings, in_scope, failure, threshold, job)
    };
    let mut job = job;
    let entitled = in_scope.len();
    let mut exported = 0;
    let mut quarantine = failure.map(|(code, message)| {
        json!({"currentBegan": now, "nextAttempt": now, "reason": "EncounteredQuarantineException", "seriesBegan": now, "seriesCount": 1, "error": {"code": code, "message": message, "tenantActionable": true}})
    });
    // 2. The target: create, update, delete.
    if quarantine.is_none()
        && let Some(target) = app.tenant(&target_id)
    {
        let domain = directory::initial_domain(&target.name);
        let mut state = target.lock();
        let wanted: BTreeSet<String> = in_scope
            .iter()
            .filter_map(|u| u["id"].as_str().map(str::to_string))
            .collect();
        let leaving: Vec<(String, String)> = job
            .provisioned
            .iter()
            .filter(|(s, _)| !wanted.contains(*s))
            .map(|(s, t)| (s.clone(), t.clone()))
            .collect();
        if let Some(limit) = threshold
            && leaving.len() as u64 > limit
        {
            quarantine = Some(
                json!({"currentBegan": now, "nextAttempt": now, "reason": "TooManyDeletes", "seriesBegan": now, "seriesCount": 1, "error": {"code": "TooManyDeletes", "message": format!("{} deletions in this cycle exceed the accidental-deletion threshold of {limit}; allow them or raise the threshold", leaving.len()), "tenantActionable": true}}),
            );
        } else {
            for (source_user, target_user) in leaving {
                state.sync.users.remove(&target_user);
                state.sync.synced_from.remove(&target_user);
                job.provisioned.remove(&source_user);
                exported += 1;
            }
        }
        for user in &in_scope {
            let source_user = user["id"].as_str().unwrap_or_default().to_string();
            let target_user = match job.provisioned.get(&source_user) {
                Some(id) => id.clone(),
                None => {
                    state.next_object += 1;
                    seeded::guid(
                        app.config.seed,
                        &format!("{}/{}", target.id, state.next_object),
                    )
                }
            };
            let mut entity = mapped_user(&mappings, user, &target_user, &domain);
            entity["createdDateTime"] = state
                .sync
                .users
                .get(&target_user)
                .map_or(json!(now), |u| u["createdDateTime"].clone());
            if state.sync.users.get(&target_user) != Some(&entity) {
                exported += 1;
            }
            state.sync.users.insert(target_user.clone(), entity);
            state.sync.synced_from.insert(
                target_user.clone(),
                (source.id.to_string(), source_user.clone()),
            );
            job.provisioned.insert(source_user, target_user);
        }
    } else if quarantine.is_none() {
        quarantine = Some(
            json!({"reason": "EncounteredQuarantineException", "error": {"code": "InvalidCredentials", "message": format!("The target tenant {target_id} was not found."), "tenantActionable": true}}),
        );
    }
    // 3. The job's status.
    let code = if quarantine.is_some() {
        "Quarantine"
    } else {
        "Active"
    };
    set_status(&mut job, &now, code, quarantine, Some((exported, entitled)));
    let mut state = source.lock();
    if let Some(stored) = state.sync.jobs.get_mut(&sp_key).and_then(|jobs| {
        jobs.iter_mut()
            .find(|j| j.entity["id"].as_str() == Some(job_id))
    }) {
        stored.entity["status"] = job.entity["status"].clone();
        stored.provisioned = job.provisioned;
    }
}

/// Run a cycle of every started job of a tenant (`POST /_sim/tenants/{id}/sync/run`); how many.
pub(crate) fn run_all(app: &App, source: &Tenant, now_ms: i64) -> usize {
    let started: Vec<(String, String)> = {
        let state = source.lock();
        state
            .sync
            .jobs
            .iter()
            .flat_map(|(sp, jobs)| {
                jobs.iter()
                    .filter(|j| j.entity["schedule"]["state"] == "Active")
                    .filter_map(|j| {
                        j.entity["id"]
                            .as_str()
                            .map(|id| (sp.clone(), id.to_string()))
                    })
            })
            .collect()
    };
    for (sp, job) in &started {
        run_cycle(app, source, sp, job, now_ms);
    }
    started.len()
}

/// Seed a user in a tenant (`POST /_sim/tenants/{id}/users`): `userPrincipalName`,
/// `displayName`, optional `mailNickname`, `department`, `accountEnabled`, and `groups` (ids
/// or `uniqueName`s of groups the tenant has). Returns the user.
pub(crate) fn seed_user(app: &App, tenant: &Tenant, body: &Value) -> Result<Value, Reply> {
    let Some(upn) = body.get("userPrincipalName").and_then(Value::as_str) else {
        return Err(bad_request("userPrincipalName is required."));
    };
    let mut state = tenant.lock();
    state.next_object += 1;
    let id = seeded::guid(
        app.config.seed,
        &format!("{}/{}", tenant.id, state.next_object),
    );
    let nickname = upn.split('@').next().unwrap_or(upn).to_string();
    let mut user = directory::admin_user(app.config.seed, &tenant.id, &tenant.name);
    for (k, v) in [
        ("id", json!(id)),
        ("userPrincipalName", json!(upn)),
        ("mail", json!(upn)),
        ("mailNickname", json!(nickname)),
        (
            "displayName",
            body.get("displayName").cloned().unwrap_or(json!(nickname)),
        ),
        (
            "department",
            body.get("department").cloned().unwrap_or(Value::Null),
        ),
        (
            "jobTitle",
            body.get("jobTitle").cloned().unwrap_or(Value::Null),
        ),
        (
            "accountEnabled",
            body.get("accountEnabled").cloned().unwrap_or(json!(true)),
        ),
    ] {
        user[k] = v;
    }
    for group in body
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = group.as_str() else { continue };
        let Some(group_id) = super::group_id(&state, name) else {
            return Err(bad_request(&format!("no group {name} in this tenant")));
        };
        state
            .sync
            .members
            .entry(group_id)
            .or_default()
            .insert(id.clone());
    }
    state.sync.users.insert(id, user.clone());
    Ok(user)
}

/// Remove a user from a group (`DELETE /_sim/tenants/{id}/groups/{group}/members/{user}`).
pub(crate) fn remove_member(tenant: &Tenant, group: &str, user: &str) -> bool {
    let mut state = tenant.lock();
    let Some(group_id) = super::group_id(&state, group) else {
        return false;
    };
    state
        .sync
        .members
        .get_mut(&group_id)
        .is_some_and(|m| m.remove(&user.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronization_paths_resolve() {
        let sp = "11111111-1111-4111-8111-111111111111";
        assert_eq!(
            resolve(
                ApiVersion::V1,
                &format!("/applicationTemplates/{CROSS_TENANT_SYNC_TEMPLATE}/instantiate")
            ),
            Some(SyncTarget::Instantiate(CROSS_TENANT_SYNC_TEMPLATE.into()))
        );
        assert_eq!(
            resolve(
                ApiVersion::V1,
                &format!("/servicePrincipals/{sp}/synchronization/jobs/j1/start")
            ),
            Some(SyncTarget::Job(
                sp.into(),
                "j1".into(),
                Some("start".into())
            ))
        );
        assert_eq!(
            resolve(
                ApiVersion::V1,
                &format!("/servicePrincipals/{sp}/synchronization/jobs/validateCredentials")
            ),
            Some(SyncTarget::ValidateCredentials(sp.into()))
        );
        assert_eq!(
            resolve(ApiVersion::V1, "/policies/externalIdentitiesPolicy"),
            None
        );
        assert_eq!(resolve(ApiVersion::V1, "/groups"), None);
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
