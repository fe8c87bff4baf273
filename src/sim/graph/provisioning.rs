//! The provisioning service behind cross-tenant synchronization (see `sync.rs` for the routes):
//! the policy checks a cycle and the test connection make, which users are in scope (assigned to
//! the configuration app directly or through a group, and passing the scoping filter), the user
//! each becomes in the target with the mapped attributes, a job's status after a cycle, and the
//! cycle itself: create or update those in scope, delete those that left unless that passes the
//! deletion threshold (quarantine `TooManyDeletes`). Also the users and memberships tests seed.
//!
//! Input: the simulator, a source tenant, a job. Output: users in the target, the job's status.

use super::provisioning_log::{Cycle, LogEvent, entries};
use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::kinds;
use crate::sim::service::App;
use crate::sim::state::{Tenant, TenantState};
use crate::sim::wire::{Reply, graph_timestamp};
use crate::sim::{graph::directory, seeded};

use super::sync::{Job, USER_RULE, bad_request};

/// Why the service cannot synchronize from `source` into `target` (the error code and message
/// of the test connection and of a quarantine), or `None` when the policies allow it.
pub(super) fn policy_check(
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
pub(super) fn in_filter(scope: &Value, user: &Value) -> bool {
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
pub(super) fn mapped_user(
    mappings: &[Value],
    source: &Value,
    id: &str,
    target_domain: &str,
) -> Value {
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
pub(super) fn user_mapping(schema: &Value) -> Value {
    schema["synchronizationRules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["id"] == USER_RULE))
        .and_then(|r| r["objectMappings"].as_array())
        .and_then(|m| m.iter().find(|m| m["targetObjectName"] == "User"))
        .cloned()
        .unwrap_or(Value::Null)
}

pub(super) fn set_status(
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
    // What the service did, for the provisioning logs (`provisioning_log.rs`).
    let mut events: Vec<LogEvent> = Vec::new();
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
                events.push(LogEvent {
                    action: "delete",
                    source_user: json!({"id": source_user, "displayName": null, "userPrincipalName": null}),
                    target_user: state.sync.users.get(&target_user).cloned(),
                    failure: None,
                });
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
            let before = state.sync.users.get(&target_user);
            if before != Some(&entity) {
                exported += 1;
                events.push(LogEvent {
                    action: if before.is_some() { "update" } else { "create" },
                    source_user: user.clone(),
                    target_user: Some(entity.clone()),
                    failure: None,
                });
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
    // A quarantined cycle provisions nobody: a failure per user in scope.
    if let Some(q) = &quarantine {
        let failure = (
            q["error"]["code"]
                .as_str()
                .unwrap_or("Quarantine")
                .to_string(),
            q["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        events.retain(|e| e.action == "delete");
        if in_scope.is_empty() {
            events.push(LogEvent {
                action: "other",
                source_user: Value::Null,
                target_user: None,
                failure: Some(failure.clone()),
            });
        }
        for user in &in_scope {
            events.push(LogEvent {
                action: "other",
                source_user: user.clone(),
                target_user: None,
                failure: Some(failure.clone()),
            });
        }
    }
    // 3. The job's status.
    let code = if quarantine.is_some() {
        "Quarantine"
    } else {
        "Active"
    };
    set_status(&mut job, &now, code, quarantine, Some((exported, entitled)));
    let mut state = source.lock();
    let logged = entries(
        &Cycle {
            seed: app.config.seed,
            source_tenant: &source.id,
            target_tenant: &target_id,
            service_principal: sp,
            job_id,
            now: &now,
            sequence: state.sync.provisioning_log.len(),
        },
        &events,
    );
    state.sync.provisioning_log.extend(logged);
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

/// One step of an on-demand provisioning's report (`provisioningSteps[]`).
fn od_step(
    name: &str,
    kind: &str,
    status: &str,
    description: String,
    now: &str,
    details: Value,
) -> Value {
    json!({"name": name, "type": kind, "status": status, "description": description,
        "timestamp": now, "details": details})
}

/// `POST …/jobs/{job}/provisionOnDemand`: provision one user now, as a cycle would (same
/// scope, mappings and policy checks), and answer Graph's `stringKeyStringValuePair` whose `key`
/// is the result (`{"result","details"}`) and whose `value` is the report (the steps, the
/// modified properties, the identities), both JSON strings.
pub(crate) fn provision_on_demand(
    app: &App,
    source: &Tenant,
    sp: &str,
    job_id: &str,
    body: &Value,
    now_ms: i64,
    context: String,
) -> Reply {
    let now = graph_timestamp(now_ms);
    let sp_key = sp.to_ascii_lowercase();
    let Some(params) = body["parameters"].as_array().and_then(|p| p.first()) else {
        return bad_request(
            "parameters is required: [{\"ruleId\", \"subjects\": [{\"objectId\", \"objectTypeName\"}]}].",
        );
    };
    let Some(rule_id) = params["ruleId"].as_str() else {
        return bad_request("parameters[0].ruleId is required.");
    };
    let subject = &params["subjects"][0];
    let (Some(object_id), Some(type_name)) = (
        subject["objectId"].as_str(),
        subject["objectTypeName"].as_str(),
    ) else {
        return bad_request("parameters[0].subjects[0] needs objectId and objectTypeName.");
    };
    if !type_name.eq_ignore_ascii_case("User") {
        return bad_request("This job provisions objects of type User on demand.");
    }
    let object_key = object_id.to_ascii_lowercase();
    // 1. The source: the job, the rule, the user, its assignment, the policies.
    let (job, user, assigned, failure, target_id) = {
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
            return super::not_found(job_id);
        };
        let rule_known = job.schema["synchronizationRules"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| r["id"] == rule_id));
        if !rule_known {
            return bad_request(&format!(
                "The synchronization rule '{rule_id}' is not in the job's schema."
            ));
        }
        let Some(user) = state.sync.users.get(&object_key).cloned() else {
            return super::not_found(object_id);
        };
        let assigned = state.sync.assignments.iter().any(|a| {
            a["resourceId"].as_str() == Some(sp_key.as_str())
                && a["principalId"].as_str().is_some_and(|p| {
                    p == object_key
                        || (a["principalType"] == "Group"
                            && state
                                .sync
                                .members
                                .get(p)
                                .is_some_and(|m| m.contains(&object_key)))
                })
        });
        let secrets = state
            .sync
            .secrets
            .get(&sp_key)
            .cloned()
            .unwrap_or(json!([]));
        let target_id = secrets
            .as_array()
            .and_then(|s| s.iter().find(|p| p["key"] == "CompanyId"))
            .and_then(|p| p["value"].as_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let failure = if target_id.is_empty() {
            Some((
                "InvalidCredentials",
                "The synchronization secrets name no target tenant (CompanyId).".to_string(),
            ))
        } else {
            policy_check(app, &source.id, &state, &target_id)
        };
        (job, user, assigned, failure, target_id)
    };
    let upn = user["userPrincipalName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mapping = user_mapping(&job.schema);
    let in_filter = in_filter(&mapping["scope"], &user);
    let mut steps = vec![od_step(
        "EntryImport",
        "Import",
        "Success",
        format!("Retrieved User '{upn}' from Azure Active Directory"),
        &now,
        json!({"objectId": object_key, "userPrincipalName": upn,
            "displayName": user["displayName"], "appRoleAssignments": if assigned { "msiam_access" } else { "" }}),
    )];
    let in_scope = assigned && in_filter;
    steps.push(od_step(
        "EntrySynchronizationScoping",
        "Scoping",
        if in_scope { "Success" } else { "Skipped" },
        "Determine if User in scope by evaluating against each scoping filter".into(),
        &now,
        json!({"Assigned": if assigned { "True" } else { "False" },
            "IsInProvisioningScopeDisplayName": if in_filter { "True" } else { "False" },
            "IsEffectivelyEntitledForProvisioning": if in_scope { "True" } else { "False" }}),
    ));
    let mut modified = Vec::new();
    let mut target_user_id = Value::Null;
    let (result, error_code, error_message, action) = if !in_scope {
        let why = if assigned {
            "The User is not in scope: it does not pass the scoping filter."
        } else {
            "The User is not assigned to the configuration app, directly or through a group."
        };
        (
            "Skipped",
            Some("NotEffectivelyEntitled"),
            Some(why.to_string()),
            "Other",
        )
    } else if let Some((code, message)) = failure {
        steps.push(od_step(
            "EntryExportAdd",
            "Export",
            "Failure",
            message.clone(),
            &now,
            json!({"ReportableIdentifier": upn}),
        ));
        ("Failure", Some(code), Some(message), "Create")
    } else if let Some(target) = app.tenant(&target_id) {
        let domain = directory::initial_domain(&target.name);
        let mappings = mapping["attributeMappings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let existing = job.provisioned.get(&object_key).cloned();
        let mut state = target.lock();
        let id = match &existing {
            Some(id) => id.clone(),
            None => {
                state.next_object += 1;
                seeded::guid(
                    app.config.seed,
                    &format!("{}/{}", target.id, state.next_object),
                )
            }
        };
        let mut entity = mapped_user(&mappings, &user, &id, &domain);
        let before = state.sync.users.get(&id).cloned();
        entity["createdDateTime"] = before
            .as_ref()
            .map_or(json!(now), |u| u["createdDateTime"].clone());
        for m in &mappings {
            if let Some(name) = m["targetAttributeName"].as_str() {
                let old = before.as_ref().map_or(Value::Null, |b| b[name].clone());
                if old != entity[name] {
                    modified.push(
                        json!({"displayName": name, "oldValue": old, "newValue": entity[name]}),
                    );
                }
            }
        }
        let (name, status, description, action) = match &before {
            None => (
                "EntryExportAdd",
                "Success",
                format!(
                    "User '{}' was created in the target tenant",
                    entity["userPrincipalName"].as_str().unwrap_or_default()
                ),
                "Create",
            ),
            Some(b) if *b == entity => (
                "EntrySynchronizationSkip",
                "Skipped",
                "The state of the user in both the source and target systems already match."
                    .to_string(),
                "Other",
            ),
            Some(_) => (
                "EntryExportUpdate",
                "Success",
                "User was updated in the target tenant".to_string(),
                "Update",
            ),
        };
        steps.push(od_step(
            name,
            "Export",
            status,
            description,
            &now,
            json!({"targetObjectId": id}),
        ));
        state.sync.users.insert(id.clone(), entity);
        state
            .sync
            .synced_from
            .insert(id.clone(), (source.id.to_string(), object_key.clone()));
        drop(state);
        target_user_id = json!(id);
        let mut state = source.lock();
        if let Some(stored) = state.sync.jobs.get_mut(&sp_key).and_then(|jobs| {
            jobs.iter_mut()
                .find(|j| j.entity["id"].as_str() == Some(job_id))
        }) {
            stored.provisioned.insert(object_key.clone(), id);
        }
        if status == "Skipped" {
            (
                "Skipped",
                Some("RedundantExport"),
                Some(description_redundant()),
                action,
            )
        } else {
            ("Success", None, None, action)
        }
    } else {
        (
            "Failure",
            Some("InvalidCredentials"),
            Some(format!("The target tenant {target_id} was not found.")),
            "Create",
        )
    };
    let key = json!({"result": result, "details": {"errorCode": error_code, "errorMessage": error_message}});
    let value = json!({
        "action": action,
        "changeId": seeded::guid(app.config.seed, &format!("pod/{job_id}/{object_key}/{now_ms}")),
        "startTime": now, "endTime": now,
        "modifiedProperties": modified,
        "provisioningSteps": steps,
        "reportableIdentifier": upn,
        "statusInfo": {"status": result, "errorCode": error_code, "reason": error_message,
            "additionalDetails": null, "errorCategory": null, "recommendedAction": null},
        "sourceIdentity": {"id": object_key, "type": "User", "displayName": user["displayName"], "details": null},
        "sourceSystem": {"id": null, "name": "Azure Active Directory", "details": null},
        "targetIdentity": {"id": target_user_id, "type": "User", "displayName": null, "details": null},
        "targetSystem": {"id": null, "name": "Azure Active Directory (target tenant)", "details": null},
    });
    Reply::json(
        200,
        json!({"@odata.context": context, "key": key.to_string(), "value": value.to_string()})
            .to_string(),
    )
}

fn description_redundant() -> String {
    "The state of the user in both the source and target systems already match.".to_string()
}
