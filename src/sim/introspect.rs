//! Introspection for tests and users, under `/_sim/` (no token needed; the simulator listens
//! on loopback): the tenants, one tenant's objects, the request log, reset, and faults queued
//! for the next requests.
//!
//! - `GET /_sim/tenants`: `{"value":[{"index","id","name","withdrawnPermissions"}]}`
//! - `GET /_sim/tenants/{id}/state`: every object by kind (full JSON, hidden properties and
//!   assignments included), soft-deleted items, consented permissions
//! - `GET /_sim/requests[?tenant=ID]`: counts by status, throttle events, the last requests
//! - `POST /_sim/reset`: every tenant back to its birth state; log and buckets cleared
//! - `POST /_sim/faults` `{"next":["500","503","503-retry-after","504","dropped-connection","lost-response"]}`:
//!   answer the next Graph requests with these faults, in order
//! - `POST /_sim/stall` `{"ms": N}`: every Graph request waits N ms (wall time, not scaled)
//!   before it is answered, until set to 0 or reset: a slow service, to kill a client mid-run
//! - `POST /_sim/tenants/{id}/users` `{"userPrincipalName","displayName","department",
//!   "groups":[id or uniqueName]}`: seed a user (and its group memberships); 201 with the user
//! - `DELETE /_sim/tenants/{id}/groups/{group}/members/{user}`: take a user out of a group
//! - `POST /_sim/tenants/{id}/sync/run`: run a provisioning cycle of every started job now
//! - `POST /_sim/organization/complete`: complete every pending multitenant organization join
//!   request now (each succeeds or fails as it would when its delay is over); `{"joinsCompleted"}`
//! - `PUT /_sim/tenants/{id}/service-plans` `{"withdrawn":["AAD_PREMIUM_P2"]}`: turn service
//!   plans off in the tenant's licences (`GET /subscribedSkus` shows them `Disabled`)
//! - `POST /_sim/tenants/{id}/monitors/run`: run every TCM configuration monitor of the tenant now
//! - `POST /_sim/stall` `{"method","path","tenant"?,"applied"?}`: hold the next matching Graph
//!   request's answer (after applying it, unless `"applied": false`) until `DELETE /_sim/stall`;
//!   `GET /_sim/stall` says whether it was hit (tests kill a client mid-step with it)
//! - `GET /_sim/config`: base URL, client id, tenant count, options
//! - `POST /_sim/tenants/{id}/portal` `{"method":"PATCH","path":"/v1.0/...","body":{...},
//!   "user":"admin@contoso.example"}`: make a change as an administrator in the portal would
//!   (no token, no throttling), logged in the audit logs with that user as the actor; `user`
//!   defaults to the tenant's administrator; registry routes and PIM role settings. Tests and
//!   the demo make drift with it.
//!
//! Input: method, path, query, body. Output: a [`FinishedReply`].

use serde_json::{Value, json};

use crate::kinds::ApiVersion;
use crate::sim::audit::Actor;
use crate::sim::faults::Fault;
use crate::sim::graph::{Call, GraphRequest};
use crate::sim::query::Query;
use crate::sim::seeded;
use crate::sim::service::App;
use crate::sim::state::Tenant;
use crate::sim::wire::{FinishedReply, Reply, RequestIds};

/// `PUT /_sim/tenants/{id}/service-plans` `{"withdrawn":["AAD_PREMIUM_P2"]}`: these plans are
/// off in the tenant's SKUs from now on, every other one on.
fn set_service_plans(tenant: &Tenant, body: &[u8]) -> Reply {
    let known = crate::sim::graph::licensing::plan_names();
    let usage = || {
        Reply::error(
            400,
            "BadRequest",
            format!(
                "Expected {{\"withdrawn\": [service plan names]}} with plans among {}.",
                known.join(", ")
            ),
        )
    };
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return usage();
    };
    let Some(items) = value.get("withdrawn").and_then(Value::as_array) else {
        return usage();
    };
    let mut plans = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(p) if known.iter().any(|k| k.eq_ignore_ascii_case(p)) => plans.push(p.to_string()),
            _ => return usage(),
        }
    }
    tenant.set_withdrawn_plans(plans);
    Reply::json(
        200,
        json!({ "withdrawn": tenant.withdrawn_plans() }).to_string(),
    )
}

fn parse_fault(name: &str) -> Option<Fault> {
    Some(match name {
        "500" => Fault::InternalError,
        "503" => Fault::Unavailable { retry_after: None },
        "503-retry-after" => Fault::Unavailable {
            retry_after: Some(1.0),
        },
        "504" => Fault::GatewayTimeout,
        "dropped-connection" => Fault::DroppedConnection,
        "lost-response" => Fault::LostResponse,
        _ => return None,
    })
}

/// The administrator a portal change is made as, unless the request names another user.
pub(crate) fn portal_admin(app: &App, tenant: &Tenant, user: Option<&str>) -> Actor {
    let admin = crate::sim::graph::directory::admin_user(app.config.seed, &tenant.id, &tenant.name);
    let text = |key: &str| {
        admin
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match user {
        Some(upn) if !upn.eq_ignore_ascii_case(&text("userPrincipalName")) => Actor::User {
            id: seeded::guid(app.config.seed, &format!("{}/user/{upn}", tenant.id)),
            display_name: upn.split('@').next().unwrap_or(upn).to_string(),
            user_principal_name: upn.to_string(),
        },
        _ => Actor::User {
            id: text("id"),
            display_name: text("displayName"),
            user_principal_name: text("userPrincipalName"),
        },
    }
}

/// `POST /_sim/tenants/{id}/portal`: one write made as a person in the portal.
pub(crate) fn portal_change(app: &App, tenant: &Tenant, body: &[u8]) -> Reply {
    const EXPECTED: &str = "Expected {\"method\": \"PATCH\"|\"POST\"|\"PUT\"|\"DELETE\", \"path\": \"/v1.0/...\" or \"/beta/...\", \"body\": {...}, \"user\": \"upn\" (optional)}.";
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Reply::error(400, "BadRequest", EXPECTED);
    };
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase);
    let Some(method) = method.filter(|m| matches!(m.as_str(), "PATCH" | "POST" | "PUT" | "DELETE"))
    else {
        return Reply::error(400, "BadRequest", EXPECTED);
    };
    let full_path = request
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (version, path) = if let Some(rest) = full_path.strip_prefix("/v1.0") {
        (ApiVersion::V1, rest)
    } else if let Some(rest) = full_path.strip_prefix("/beta") {
        (ApiVersion::Beta, rest)
    } else {
        return Reply::error(400, "BadRequest", EXPECTED);
    };
    let payload = request
        .get("body")
        .map(Value::to_string)
        .unwrap_or_default();
    let actor = portal_admin(app, tenant, request.get("user").and_then(Value::as_str));
    // A registry route, or a PIM role setting (PIM rules have no kind route of their own).
    let target = match app.routes.resolve(version, path) {
        Ok(target) => Ok(target),
        Err(no_route) => match crate::sim::graph::pim::resolve(version, path) {
            Some(pim) => Err(pim),
            None => {
                return Reply::error(
                    400,
                    "BadRequest",
                    format!("Resource not found for the segment '{}'.", no_route.segment),
                );
            }
        },
    };
    let graph_request = GraphRequest {
        method: &method,
        version,
        path,
        query: "",
        prefer: "",
        body: payload.as_bytes(),
        origin: &app.base_url,
        consistency_level: None,
    };
    let call = Call {
        app,
        tenant,
        request: &graph_request,
        query: Query::default(),
        now_ms: app.now_ms(),
        clock_ms: app.clock_ms(),
        actor: &actor,
    };
    match target {
        Ok(target) => call.handle(target),
        Err(pim) => call.pim(pim),
    }
}

/// Answer an introspection request.
pub(crate) fn handle(
    app: &App,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> FinishedReply {
    let ids = RequestIds::new(None);
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let reply = match (method, segments.as_slice()) {
        ("GET", ["_sim", "tenants"]) => {
            let tenants: Vec<Value> = app
                .tenants
                .iter()
                .map(|t| {
                    json!({
                        "index": t.index,
                        "id": &*t.id,
                        "name": &*t.name,
                        "withdrawnPermissions": t.withdrawn,
                        "withdrawnServicePlans": t.withdrawn_plans(),
                    })
                })
                .collect();
            Reply::json(200, json!({ "value": tenants }).to_string())
        }
        ("GET", ["_sim", "tenants", id, "state"]) => match app.tenant(id) {
            Some(tenant) => Reply::json(200, app.tenant_state(tenant).to_string()),
            None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
        },
        ("GET", ["_sim", "requests"]) => {
            let tenant = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "tenant")
                .map(|(_, v)| v.into_owned());
            let ids_of = |i: usize| {
                app.tenants
                    .get(i)
                    .map(|t| t.id.to_string())
                    .unwrap_or_default()
            };
            match tenant {
                Some(id) => match app.tenant(&id) {
                    Some(t) => {
                        Reply::json(200, app.log.to_json(Some(t.index), &ids_of).to_string())
                    }
                    None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
                },
                None => Reply::json(200, app.log.to_json(None, &ids_of).to_string()),
            }
        }
        // `{"method","path",...}` holds one matching request; `{"ms": N}` slows every request.
        ("POST", ["_sim", "stall"]) => match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.get("method").is_some() || v.get("path").is_some() => {
                match app.stalls.arm(&v) {
                    Ok(()) => Reply::empty(204),
                    Err(e) => Reply::error(400, "BadRequest", e),
                }
            }
            parsed => match parsed.ok().and_then(|v| v.get("ms").and_then(Value::as_u64)) {
                Some(ms) if ms <= 600_000 => {
                    app.stall_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
                    Reply::empty(204)
                }
                _ => Reply::error(
                    400,
                    "BadRequest",
                    "Expected {\"ms\": N} with N from 0 to 600000, or {\"method\": \"POST\", \"path\": \"/instantiate\"}.".to_string(),
                ),
            },
        },
        ("POST", ["_sim", "reset"]) => {
            app.reset();
            Reply::empty(204)
        }
        ("POST", ["_sim", "faults"]) => {
            let names: Option<Vec<String>> = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("next").cloned())
                .and_then(|v| serde_json::from_value(v).ok());
            let faults: Option<Vec<Fault>> = names
                .as_ref()
                .and_then(|n| n.iter().map(|f| parse_fault(f)).collect());
            match faults {
                Some(faults) => {
                    if let Ok(mut queue) = app.forced_faults.lock() {
                        queue.extend(faults);
                    }
                    Reply::empty(204)
                }
                None => Reply::error(
                    400,
                    "BadRequest",
                    "Expected {\"next\": [...]} with faults among \"500\", \"503\", \"503-retry-after\", \"504\", \"dropped-connection\", \"lost-response\".",
                ),
            }
        }
        ("PUT", ["_sim", "tenants", id, "service-plans"]) => match app.tenant(id) {
            Some(tenant) => set_service_plans(tenant, body),
            None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
        },
        ("POST", ["_sim", "tenants", id, "portal"]) => match app.tenant(id) {
            Some(tenant) => portal_change(app, tenant, body),
            None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
        },
        ("POST", ["_sim", "tenants", id, "users"]) => match app.tenant(id) {
            Some(tenant) => match serde_json::from_slice::<Value>(body) {
                Ok(user) => match crate::sim::graph::sync::seed_user(app, tenant, &user) {
                    Ok(user) => Reply::json(201, user.to_string()),
                    Err(reply) => reply,
                },
                Err(e) => Reply::error(400, "BadRequest", format!("Invalid JSON: {e}")),
            },
            None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
        },
        ("DELETE", ["_sim", "tenants", id, "groups", group, "members", user]) => {
            match app.tenant(id) {
                Some(tenant) if crate::sim::graph::sync::remove_member(tenant, group, user) => {
                    Reply::empty(204)
                }
                Some(_) => Reply::error(404, "NotFound", "No such membership."),
                None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
            }
        }
        ("POST", ["_sim", "organization", "complete"]) => {
            let completed = crate::sim::graph::organization::complete_joins(
                app,
                app.clock_ms(),
                app.now_ms(),
                true,
            );
            Reply::json(200, json!({ "joinsCompleted": completed }).to_string())
        }
        ("POST", ["_sim", "tenants", id, "sync", "run"]) => match app.tenant(id) {
            Some(tenant) => {
                let jobs = crate::sim::graph::sync::run_all(app, tenant, app.now_ms());
                Reply::json(200, json!({ "jobsRun": jobs }).to_string())
            }
            None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
        },
        ("GET", ["_sim", "stall"]) => Reply::json(200, app.stalls.describe().to_string()),
        ("DELETE", ["_sim", "stall"]) => {
            app.stalls.release();
            Reply::empty(204)
        }
        ("POST", ["_sim", "tenants", id, "monitors", "run"]) => match app.tenant(id) {
            Some(tenant) => {
                let monitors = crate::sim::graph::tcm::run_all(app, tenant);
                Reply::json(200, json!({ "monitorsRun": monitors }).to_string())
            }
            None => Reply::error(404, "NotFound", format!("No simulated tenant '{id}'.")),
        },
        ("GET", ["_sim", "config"]) => Reply::json(
            200,
            json!({
                "baseUrl": app.base_url,
                "clientId": app.config.client_id,
                "tenants": app.tenants.len(),
                "seed": app.config.seed,
                "timeScale": app.config.time_scale,
                "latencyMs": app.config.latency_ms,
                "faultRate": app.config.fault_rate,
                "replicationDelayMs": app.config.replication_delay_ms,
                "auditDelayS": app.config.audit_delay.as_secs_f64(),
                "auditRetentionDays": app.config.audit_retention.as_secs_f64() / crate::sim::DAY_S as f64,
                "tokenLifetimeS": app.config.token_lifetime_s,
                "throttling": app.config.throttling,
                "pageSize": app.config.page_size,
            })
            .to_string(),
        ),
        (_, ["_sim", ..]) => Reply::error(
            404,
            "NotFound",
            "Unknown introspection route; see GET /_sim/tenants, /_sim/tenants/{id}/state, /_sim/requests, /_sim/config, POST /_sim/reset, /_sim/faults, /_sim/tenants/{id}/portal, /_sim/tenants/{id}/users, /_sim/tenants/{id}/sync/run, /_sim/organization/complete, PUT /_sim/tenants/{id}/service-plans, /_sim/tenants/{id}/monitors/run, DELETE /_sim/tenants/{id}/groups/{group}/members/{user}, /_sim/stall.",
        ),
        _ => Reply::error(404, "NotFound", "Not found."),
    };
    reply.finish(&ids, app.now_ms())
}
