//! JSON batching, `POST /v1.0/$batch` and `/beta/$batch` (graph-wire-facts.md sections 1 and
//! 8.2): at most 20 requests, ids unique regardless of case, URLs relative to the version root
//! (with or without a leading slash), `Content-Type` required in `headers` when a `body` is
//! present, `dependsOn` ordering with 424 for dependants of a failure, every item throttled and
//! faulted on its own (429 with `Retry-After` inside the item's headers while the envelope
//! stays 200), and responses in a shuffled order derived from the seed.
//!
//! Input: the batch body and the caller. Output: the envelope [`Reply`] (400 when the batch
//! itself is malformed, else 200 with `responses`).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::kinds::ApiVersion;
use crate::sim::auth::AccessClaims;
use crate::sim::graph::GraphRequest;
use crate::sim::log::Record;
use crate::sim::seeded::{SplitMix64, derive};
use crate::sim::service::{App, fault_reply};
use crate::sim::state::Tenant;
use crate::sim::wire::{FinishedReply, Reply, RequestIds, json_string};

/// Graph's limit of requests per batch.
pub(crate) const MAX_BATCH_REQUESTS: usize = 20;

/// The envelope's reply and the fault injected into the envelope itself, if any.
pub(crate) struct BatchOutcome {
    pub(crate) reply: Reply,
    pub(crate) fault: Option<&'static str>,
}

struct Item {
    id: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    depends_on: Vec<usize>,
}

fn malformed(message: impl Into<String>) -> Reply {
    Reply::error(400, "BadRequest", message)
}

fn parse_items(body: &[u8]) -> Result<Vec<Item>, Reply> {
    let envelope: Value = serde_json::from_slice(body)
        .map_err(|_| malformed("Invalid batch payload format: the body is not JSON."))?;
    let Some(requests) = envelope.get("requests").and_then(Value::as_array) else {
        return Err(malformed(
            "Invalid batch payload format: a 'requests' array is required.",
        ));
    };
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(malformed(format!(
            "The number of requests in the batch ({}) exceeds the limit of {MAX_BATCH_REQUESTS}.",
            requests.len()
        )));
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (position, request) in requests.iter().enumerate() {
        let text = |name: &str| {
            request
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let id = text("id").filter(|s| !s.is_empty()).ok_or_else(|| {
            malformed(format!(
                "Invalid batch payload format: request {position} has no string 'id'."
            ))
        })?;
        let method = text("method")
            .ok_or_else(|| {
                malformed(format!(
                    "Invalid batch payload format: request '{id}' has no 'method'."
                ))
            })?
            .to_ascii_uppercase();
        let url = text("url").ok_or_else(|| {
            malformed(format!(
                "Invalid batch payload format: request '{id}' has no 'url'."
            ))
        })?;
        if index_of.insert(id.to_lowercase(), position).is_some() {
            return Err(malformed(format!(
                "Batch request ids must be unique (ignoring case); '{id}' is used more than once."
            )));
        }
        let headers = request
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        items.push(Item {
            id,
            method,
            url,
            headers,
            body: request.get("body").filter(|b| !b.is_null()).cloned(),
            depends_on: Vec::new(),
        });
    }
    for (position, request) in requests.iter().enumerate() {
        let depends: Vec<String> = match request.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    malformed(
                        "Invalid batch payload format: 'dependsOn' holds request ids (strings).",
                    )
                })?,
            Some(_) => {
                return Err(malformed(
                    "Invalid batch payload format: 'dependsOn' must be an array of request ids.",
                ));
            }
        };
        for dependency in depends {
            let Some(target) = index_of.get(&dependency.to_lowercase()) else {
                return Err(malformed(format!(
                    "Request '{}' depends on '{dependency}', which is not in the batch.",
                    items[position].id
                )));
            };
            items[position].depends_on.push(*target);
        }
    }
    Ok(items)
}

/// Execution order honouring `dependsOn` (ties in request order); `None` on a cycle.
fn execution_order(items: &[Item]) -> Option<Vec<usize>> {
    let mut done = vec![false; items.len()];
    let mut order = Vec::with_capacity(items.len());
    while order.len() < items.len() {
        let next =
            (0..items.len()).find(|&i| !done[i] && items[i].depends_on.iter().all(|d| done[*d]))?;
        done[next] = true;
        order.push(next);
    }
    Some(order)
}

fn header<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Run a batch for an authenticated caller.
pub(crate) fn run(
    app: &App,
    claims: &AccessClaims,
    tenant: &Tenant,
    version: ApiVersion,
    method: &str,
    body: &[u8],
    origin: &str,
) -> BatchOutcome {
    if method != "POST" {
        return BatchOutcome {
            reply: Reply::error(
                405,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            ),
            fault: None,
        };
    }
    if let Some(fault) = app
        .forced_faults
        .lock()
        .ok()
        .and_then(|mut q| q.pop_front())
        .or_else(|| app.faults.draw())
    {
        return BatchOutcome {
            reply: fault_reply(&fault, false),
            fault: Some(match fault {
                crate::sim::faults::Fault::DroppedConnection => "dropped-connection",
                crate::sim::faults::Fault::LostResponse => "lost-response",
                _ => "fault",
            }),
        };
    }
    let items = match parse_items(body) {
        Ok(items) => items,
        Err(reply) => return BatchOutcome { reply, fault: None },
    };
    let Some(order) = execution_order(&items) else {
        return BatchOutcome {
            reply: malformed("The 'dependsOn' references of the batch form a cycle."),
            fault: None,
        };
    };
    let mut statuses: Vec<Option<u16>> = vec![None; items.len()];
    let mut responses: Vec<String> = Vec::with_capacity(items.len());
    for index in order {
        let item = &items[index];
        let ids = RequestIds::new(header(item, "client-request-id"));
        let failed_dependency = item
            .depends_on
            .iter()
            .any(|d| statuses[*d].is_none_or(|s| s >= 400));
        let body_bytes: Option<Vec<u8>> = item.body.as_ref().map(|b| match b {
            Value::String(encoded) => STANDARD
                .decode(encoded)
                .unwrap_or_else(|_| encoded.clone().into_bytes()),
            other => other.to_string().into_bytes(),
        });
        let url = item.url.trim_start_matches('/');
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = format!("/{path}");
        let mut outcome_throttled = false;
        let mut outcome_retry = None;
        let mut outcome_fault = None;
        let reply = if failed_dependency {
            Reply::error(
                424,
                "FailedDependency",
                "The request depends on a request of the batch that failed.",
            )
        } else if item.body.is_some() && header(item, "Content-Type").is_none() {
            Reply::error(
                400,
                "BadRequest",
                format!(
                    "Write request id : {} does not contain Content-Type header or body.",
                    item.id
                ),
            )
        } else if item.url.contains("://") {
            Reply::error(
                400,
                "BadRequest",
                "Batch request URLs must be relative to the version root.",
            )
        } else if path.eq_ignore_ascii_case("/$batch") {
            Reply::error(
                400,
                "BadRequest",
                "A batch request cannot contain another batch.",
            )
        } else {
            let prefer = item
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("Prefer"))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let request = GraphRequest {
                method: &item.method,
                version,
                path: &path,
                query,
                prefer: &prefer,
                body: body_bytes.as_deref().unwrap_or_default(),
                origin,
                consistency_level: header(item, "ConsistencyLevel"),
            };
            let outcome = app.call(claims, tenant, &request, true);
            outcome_throttled = outcome.throttled;
            outcome_retry = outcome.retry_after;
            outcome_fault = outcome.fault;
            outcome.reply
        };
        let now = app.now_ms();
        let finished = reply.finish(&ids, now);
        statuses[index] = Some(finished.status);
        app.log.record(&Record {
            tenant: Some(tenant.index),
            method: &item.method,
            path: &format!("/{}/{url}", version.segment()),
            status: finished.status,
            request_id: &ids.request_id,
            batch_item: true,
            throttled: outcome_throttled,
            retry_after: outcome_retry,
            fault: outcome_fault,
            at_ms: now,
        });
        responses.push(response_text(&item.id, &finished));
    }
    let ids_label: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    SplitMix64::new(derive(
        app.config.seed,
        &format!("batch/{}", ids_label.join("\u{1f}")),
    ))
    .shuffle(&mut responses);
    let mut envelope =
        String::with_capacity(16 + responses.iter().map(|r| r.len() + 1).sum::<usize>());
    envelope.push_str("{\"responses\":[");
    for (i, response) in responses.iter().enumerate() {
        if i > 0 {
            envelope.push(',');
        }
        envelope.push_str(response);
    }
    envelope.push_str("]}");
    BatchOutcome {
        reply: Reply::json(200, envelope),
        fault: None,
    }
}

/// One item of the envelope, `{"id","status","headers","body"}`, as JSON text. The item's
/// body is already JSON text (every reply the service makes is): it goes into the envelope as
/// it is, not parsed into a value and written out again, which was a third of the
/// simulator's time on a fleet's batched reads. A body that is not a JSON object or array
/// goes in as a string.
fn response_text(id: &str, finished: &FinishedReply) -> String {
    let body_len = finished.body.as_ref().map_or(0, String::len);
    let mut out = String::with_capacity(body_len + 256);
    out.push_str("{\"id\":");
    out.push_str(&json_string(id));
    out.push_str(",\"status\":");
    out.push_str(&finished.status.to_string());
    out.push_str(",\"headers\":{");
    let mut first = true;
    for (name, value) in &finished.headers {
        if name == "x-ms-ags-diagnostic" {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&json_string(name));
        out.push(':');
        out.push_str(&json_string(value));
    }
    out.push('}');
    if let Some(text) = &finished.body {
        out.push_str(",\"body\":");
        if text.starts_with(['{', '[']) {
            debug_assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                "a reply's body is JSON"
            );
            out.push_str(text);
        } else {
            out.push_str(&json_string(text));
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_ids_and_dependencies_are_checked() {
        let too_many: Vec<Value> = (0..21)
            .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"}))
            .collect();
        assert!(parse_items(json!({"requests": too_many}).to_string().as_bytes()).is_err());
        let duplicate = json!({"requests": [
            {"id": "a", "method": "GET", "url": "/groups"},
            {"id": "A", "method": "GET", "url": "/groups"}]});
        assert!(parse_items(duplicate.to_string().as_bytes()).is_err());
        let unknown = json!({"requests": [
            {"id": "a", "method": "GET", "url": "/groups", "dependsOn": ["b"]}]});
        assert!(parse_items(unknown.to_string().as_bytes()).is_err());
        let cycle = json!({"requests": [
            {"id": "a", "method": "GET", "url": "/groups", "dependsOn": ["b"]},
            {"id": "b", "method": "GET", "url": "/groups", "dependsOn": ["a"]}]});
        let items = parse_items(cycle.to_string().as_bytes()).unwrap_or_default();
        assert!(execution_order(&items).is_none());
        let chain = json!({"requests": [
            {"id": "b", "method": "GET", "url": "/groups", "dependsOn": ["a"]},
            {"id": "a", "method": "GET", "url": "/groups"}]});
        let items = parse_items(chain.to_string().as_bytes()).unwrap_or_default();
        assert_eq!(execution_order(&items), Some(vec![1, 0]));
    }
}
