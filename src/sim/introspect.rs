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
//! - `GET /_sim/config`: base URL, client id, tenant count, options
//!
//! Input: method, path, query, body. Output: a [`FinishedReply`].

use serde_json::{Value, json};

use crate::sim::faults::Fault;
use crate::sim::service::App;
use crate::sim::wire::{FinishedReply, Reply, RequestIds};

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
                "tokenLifetimeS": app.config.token_lifetime_s,
                "throttling": app.config.throttling,
                "pageSize": app.config.page_size,
            })
            .to_string(),
        ),
        (_, ["_sim", ..]) => Reply::error(
            404,
            "NotFound",
            "Unknown introspection route; see GET /_sim/tenants, /_sim/tenants/{id}/state, /_sim/requests, /_sim/config, POST /_sim/reset, /_sim/faults.",
        ),
        _ => Reply::error(404, "NotFound", "Not found."),
    };
    reply.finish(&ids, app.now_ms())
}
