//! JSON batching: requests go out 20 per `$batch` call (one API version per call), each item
//! paced and retried on its own; Conditional Access items travel alone, and a create whose item
//! may have applied comes back as [`RequestError::OutcomeUnknown`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::graph::retry::{self, Decision};
use crate::kinds::{ApiVersion, ThrottleClass};

impl GraphClient {
    /// Send requests through `$batch`, 20 per call (one API version per call), each item paced
    /// and retried on its own; a create whose item failed in a way that may have applied it
    /// comes back as [`RequestError::OutcomeUnknown`] (look it up before sending it again).
    /// Results come back in the order of `requests`.
    pub async fn batch(
        &self,
        session: &TenantSession,
        requests: &[Request],
        observer: &dyn Observer,
    ) -> Vec<Result<Response, RequestError>> {
        // Conditional Access requests go alone, one per second: an envelope gains nothing at
        // that rate, and the service admits a lone request at a steadier time than an item
        // behind a batch's others (an early or late admission is a 429 at one per second).
        let (single, batched): (Vec<usize>, Vec<usize>) = (0..requests.len()).partition(|i| {
            requests[*i].class == ThrottleClass::ConditionalAccess || requests.len() == 1
        });
        // The lone requests go one after the other (paced); the envelopes go out with the last
        // of them, so their answers are not held while the lone ones wait for their slots.
        let mut singles = Vec::with_capacity(single.len());
        let last = single.last().copied();
        for i in single.iter().take(single.len().saturating_sub(1)) {
            singles.push((*i, self.send(session, &requests[*i], observer).await));
        }
        // Wait for the last lone request's slot, then send it and the envelopes together.
        if let Some(i) = last {
            if let Err(e) = self.token(session, false, observer).await {
                return requests.iter().map(|_| Err(e.clone().into())).collect();
            }
            let request = &requests[i];
            self.pace(&session.tenant, request.class, request.is_write())
                .await;
        }
        let last_single = async {
            match last {
                Some(i) => Some((
                    i,
                    self.send_paced(session, &requests[i], observer, true).await,
                )),
                None => None,
            }
        };
        let (last_single, grouped) = futures_util::future::join(
            last_single,
            self.batch_envelopes(session, requests, &batched, observer),
        )
        .await;
        singles.extend(last_single);
        let mut results: Vec<Option<Result<Response, RequestError>>> =
            (0..requests.len()).map(|_| None).collect();
        for (i, result) in singles {
            results[i] = Some(result);
        }
        for (i, result) in batched.into_iter().zip(grouped) {
            results[i] = Some(result);
        }
        every_result(results, session)
    }

    /// Send the requests at `chosen` (indices into `requests`, which are not copied) in
    /// `$batch` envelopes of at most [`MAX_BATCH`]; the results come in the order of `chosen`.
    pub(super) async fn batch_envelopes(
        &self,
        session: &TenantSession,
        requests: &[Request],
        chosen: &[usize],
        observer: &dyn Observer,
    ) -> Vec<Result<Response, RequestError>> {
        match chosen {
            [] => return Vec::new(),
            [one] => return vec![self.send(session, &requests[*one], observer).await],
            _ => {}
        }
        let mut results: Vec<Option<Result<Response, RequestError>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut attempts = vec![0u32; requests.len()];
        let started = self.timing.now();
        let mut pending: Vec<usize> = chosen.to_vec();
        while !pending.is_empty() {
            let mut next_round = Vec::new();
            let mut longest_wait = Duration::ZERO;
            let chunks: Vec<Vec<usize>> = [ApiVersion::V1, ApiVersion::Beta]
                .into_iter()
                .flat_map(|version| {
                    let of_version: Vec<usize> = pending
                        .iter()
                        .copied()
                        .filter(|i| requests[*i].version == version)
                        .collect();
                    batch_chunks(requests, &of_version)
                })
                .collect();
            // The envelopes go out together, each after its own pacing: one after the other,
            // the answers of the first were held (parsed) while the next ones were answered,
            // for every tenant of a fleet reading at once.
            let rounds = chunks.iter().map(|chunk| {
                let mut attempts = attempts.clone();
                async move {
                    let outcome = Box::pin(self.batch_round(
                        session,
                        requests,
                        chunk,
                        &mut attempts,
                        started,
                        observer,
                    ))
                    .await;
                    (chunk, attempts, outcome)
                }
            });
            for (chunk, counted, outcome) in futures_util::future::join_all(rounds).await {
                for i in chunk {
                    attempts[*i] = counted[*i];
                }
                match outcome {
                    Ok(items) => {
                        for (i, item) in items {
                            match item {
                                ItemResult::Final(result) => results[i] = Some(result),
                                ItemResult::Again(wait) => {
                                    longest_wait = longest_wait.max(wait);
                                    next_round.push(i);
                                }
                            }
                        }
                    }
                    Err(error) => {
                        for i in chunk {
                            results[*i] = Some(Err(error.clone()));
                        }
                    }
                }
            }
            if !next_round.is_empty() {
                self.timing.sleep(longest_wait).await;
            }
            pending = next_round;
        }
        let chosen_results = chosen.iter().map(|i| results[*i].take()).collect();
        every_result(chosen_results, session)
    }

    pub(super) async fn batch_round(
        &self,
        session: &TenantSession,
        requests: &[Request],
        chunk: &[usize],
        attempts: &mut [u32],
        started: Duration,
        observer: &dyn Observer,
    ) -> Result<Vec<(usize, ItemResult)>, RequestError> {
        let version = requests[chunk[0]].version;
        self.token(session, false, observer).await?;
        for i in chunk {
            let request = &requests[*i];
            self.pace(&session.tenant, request.class, request.is_write())
                .await;
        }
        let paced: Vec<(&str, ThrottleClass, bool)> = chunk
            .iter()
            .map(|i| {
                let r = &requests[*i];
                (session.tenant.as_str(), r.class, r.is_write())
            })
            .collect();
        let url = self.url(session, version, "/$batch");
        let mut renewed = false;
        // Made once a place on the wire is free: a fleet's envelopes waiting for one would
        // each hold a copy of their requests' bodies.
        let mut envelope: Option<hyper::body::Bytes> = None;
        loop {
            let token = self.token(session, false, observer).await?;
            let place = self.place(&paced).await;
            let envelope = envelope
                .get_or_insert_with(|| envelope_text(requests, chunk).into())
                .clone();
            for i in chunk {
                attempts[*i] += 1;
                observer.sending(&session.tenant, &requests[*i], attempts[*i]);
            }
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            self.stats
                .requests
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.stats
                .batched
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let sent_at = self.timing.now();
            let sent = Box::pin(self.send_once(
                &token,
                super::Exchange {
                    method: "POST",
                    url: &url,
                    prefer: None,
                    body: Some(envelope),
                    parse: super::answer::AnswerParse::Envelope { requests, chunk },
                },
                &paced,
                place,
            ))
            .await;
            let duration = self.timing.now().saturating_sub(sent_at);
            let unreachable = matches!(sent, Sent::Unreachable(_));
            let (status, mut body) = match sent {
                Sent::Answer { status, body, .. } => (Some(status), body),
                Sent::NoAnswer(_) | Sent::Unreachable(_) => (None, Value::Null),
            };
            if status == Some(401) && !renewed {
                renewed = true;
                self.token(session, true, observer).await?;
                continue;
            }
            // Each item's body is taken out of the answer, not copied (reads answer with whole
            // objects, and a fleet's re-plan parses some hundred megabytes of them).
            let answered =
                status == Some(200) && body.get("responses").is_some_and(Value::is_array);
            let mut responses = match body.get_mut("responses").and_then(Value::as_array_mut) {
                Some(items) if answered => std::mem::take(items),
                _ => Vec::new(),
            };
            if !answered {
                // The envelope failed: each item is decided as if it had failed alone (a create
                // in it may have been applied, so it is reconciled, never resent blindly).
                let mut out = Vec::with_capacity(chunk.len());
                for i in chunk {
                    let request = &requests[*i];
                    let decision = self.decide(retry::Attempt {
                        number: attempts[*i],
                        elapsed: self.timing.now().saturating_sub(started),
                        outcome: match status {
                            Some(s) => retry::Outcome::Response {
                                status: s,
                                retry_after: None,
                                error_code: error_code(&body),
                                missing_reference: missing_reference(&body),
                            },
                            None if unreachable => retry::Outcome::Unreachable,
                            None => retry::Outcome::ConnectionFailed,
                        },
                        idempotent: request.idempotent,
                        references_new_object: false,
                    });
                    observer.finished(
                        &session.tenant,
                        &AttemptReport {
                            request,
                            attempt: attempts[*i],
                            status,
                            request_id: None,
                            duration,
                            retry: retrying(decision),
                            object_id: None,
                        },
                    );
                    let reason = status.map_or("no response to $batch".to_string(), |s| {
                        format!("$batch answered HTTP {s}")
                    });
                    out.push((
                        *i,
                        self.item_result(
                            session,
                            request,
                            decision,
                            status,
                            None,
                            body.clone(),
                            &reason,
                        ),
                    ));
                }
                return Ok(out);
            };
            let mut out = Vec::with_capacity(chunk.len());
            for i in chunk {
                let id = i.to_string();
                let item = responses
                    .iter_mut()
                    .find(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str()));
                let request = &requests[*i];
                let Some(item) = item else {
                    out.push((*i, ItemResult::Again(Duration::ZERO)));
                    continue;
                };
                let item_body = item.get_mut("body").map_or(Value::Null, Value::take);
                let item = &*item;
                let item_status = item
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                let header = |name: &str| {
                    item.get("headers")
                        .and_then(Value::as_object)
                        .and_then(|h| {
                            h.iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                                .and_then(|(_, v)| v.as_str())
                        })
                };
                let decision = self.decide(retry::Attempt {
                    number: attempts[*i],
                    elapsed: self.timing.now().saturating_sub(started),
                    outcome: retry::Outcome::Response {
                        status: item_status,
                        retry_after: header("retry-after"),
                        error_code: error_code(&item_body),
                        missing_reference: missing_reference(&item_body),
                    },
                    idempotent: request.idempotent,
                    references_new_object: request.references_new_object,
                });
                if item_status == 429 {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                }
                let request_id = header("request-id").map(str::to_string);
                observer.finished(
                    &session.tenant,
                    &AttemptReport {
                        request,
                        attempt: attempts[*i],
                        status: Some(item_status),
                        request_id: request_id.as_deref(),
                        duration,
                        retry: retrying(decision),
                        object_id: item_body.get("id").and_then(Value::as_str),
                    },
                );
                let reason = format!("HTTP {item_status} in $batch");
                let result = self.item_result(
                    session,
                    request,
                    decision,
                    Some(item_status),
                    request_id,
                    item_body,
                    &reason,
                );
                out.push((*i, result));
            }
            return Ok(out);
        }
    }

    /// What a batch item's decision means for it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn item_result(
        &self,
        session: &TenantSession,
        request: &Request,
        decision: Decision,
        status: Option<u16>,
        request_id: Option<String>,
        body: Value,
        reason: &str,
    ) -> ItemResult {
        match decision {
            Decision::Done => ItemResult::Final(Ok(Response {
                status: status.unwrap_or(200),
                body,
                request_id,
            })),
            Decision::Retry {
                after,
                reconcile_first: true,
                ..
            } => ItemResult::Final(Err(RequestError::OutcomeUnknown {
                method: request.method,
                path: request.path.clone(),
                after,
                reason: reason.to_string(),
            })),
            Decision::Retry { after, .. } => {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                ItemResult::Again(after)
            }
            Decision::GiveUp { exhausted } => ItemResult::Final(Err(match status {
                Some(status) => status_error(request, status, request_id, &body, exhausted),
                None => RequestError::Connection {
                    method: request.method,
                    path: request.path.clone(),
                    host: session.endpoints.graph.clone(),
                    attempts: 0,
                    reason: reason.to_string(),
                },
            })),
        }
    }
}

/// The `$batch` envelope of the requests at `chunk`, as text: each item's body goes in as it
/// was serialized.
fn envelope_text(requests: &[Request], chunk: &[usize]) -> String {
    // Written out directly (a fleet's reads make some thousand envelopes a run): the same text
    // a value of each item would serialize to, members in this order.
    let string = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut envelope = String::from("{\"requests\":[");
    for (n, i) in chunk.iter().enumerate() {
        let request = &requests[*i];
        if n > 0 {
            envelope.push(',');
        }
        envelope.push_str("{\"id\":\"");
        envelope.push_str(&i.to_string());
        envelope.push_str("\",\"method\":");
        envelope.push_str(&string(request.method));
        envelope.push_str(",\"url\":");
        envelope.push_str(&string(&request.path));
        envelope.push_str(",\"headers\":{\"Prefer\":");
        envelope.push_str(&string(&prefer_value(request.prefer)));
        if let Some(body) = &request.body {
            envelope.push_str(",\"Content-Type\":\"application/json\"},\"body\":");
            envelope.push_str(body.json());
        } else {
            envelope.push('}');
        }
        envelope.push('}');
    }
    envelope.push_str("]}");
    envelope
}

/// The results in order; a slot that got none (which a correct round never leaves) is an error,
/// not a panic.
pub(super) fn every_result(
    results: Vec<Option<Result<Response, RequestError>>>,
    session: &TenantSession,
) -> Vec<Result<Response, RequestError>> {
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(RequestError::Connection {
                    method: "GET",
                    path: "$batch".into(),
                    host: session.endpoints.graph.clone(),
                    attempts: 0,
                    reason: "no result".into(),
                })
            })
        })
        .collect()
}

/// Split requests into `$batch` calls of at most [`MAX_BATCH`], with at most one request of a
/// class limited to one request per second (Conditional Access) per call: the service admits
/// a batch's items at the same instant, so two of them would exceed the limit however they
/// were paced.
pub(super) fn batch_chunks(requests: &[Request], indices: &[usize]) -> Vec<Vec<usize>> {
    let (mut single, mut rest): (Vec<usize>, Vec<usize>) = indices
        .iter()
        .partition(|i| requests[**i].class == ThrottleClass::ConditionalAccess);
    let mut chunks = Vec::new();
    while !single.is_empty() || !rest.is_empty() {
        let mut chunk = Vec::with_capacity(MAX_BATCH);
        if !single.is_empty() {
            chunk.push(single.remove(0));
        }
        let take = (MAX_BATCH - chunk.len()).min(rest.len());
        chunk.extend(rest.drain(..take));
        chunks.push(chunk);
    }
    chunks
}

pub(super) enum ItemResult {
    Final(Result<Response, RequestError>),
    Again(Duration),
}

/// `{"id": ...}` of an answer's text, parsed without the rest of the object (a created
/// Conditional Access policy answers with all of it), or `null` without an id or JSON.
pub(super) fn id_of_answer(bytes: &[u8]) -> Value {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<Value>,
    }
    // serde reads a struct from an array as well: only an object has an id.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Value::Null;
    }
    match serde_json::from_slice::<IdOnly>(bytes) {
        Ok(IdOnly { id: Some(id) }) => serde_json::json!({ "id": id }),
        _ => Value::Null,
    }
}

/// `{"id": ...}` of an answer's body, or `null` without one: what a caller that needs only the
/// created object's id keeps ([`Request::id_only`]).
pub(crate) fn id_only(mut body: Value) -> Value {
    match body.get_mut("id").map(Value::take) {
        Some(id) => serde_json::json!({ "id": id }),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{ApiVersion, ThrottleClass};
    use serde_json::json;

    #[test]
    fn an_envelope_is_each_request_as_an_item_with_its_body_as_written() {
        let read = Request::get(
            "read",
            ApiVersion::V1,
            "/groups(uniqueName='a \"b\" é')",
            ThrottleClass::Identity,
        );
        let mut write = read.clone();
        write.method = "PATCH";
        write.path = "/policies/x".to_string();
        write.prefer = Some("return=minimal");
        write.body = Some(Body::new(&json!({"displayName": "B\n", "n": 1})));
        let requests = [read, write];
        let text = envelope_text(&requests, &[1, 0]);
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            parsed,
            json!({"requests": [
                {"id": "1", "method": "PATCH", "url": "/policies/x",
                 "headers": {"Prefer": "return=minimal, include-unknown-enum-members",
                             "Content-Type": "application/json"},
                 "body": {"displayName": "B\n", "n": 1}},
                {"id": "0", "method": "GET", "url": "/groups(uniqueName='a \"b\" é')",
                 "headers": {"Prefer": "include-unknown-enum-members"}}
            ]})
        );
        // Compact, members in that order: the text a value of it serializes to.
        assert_eq!(text, serde_json::to_string(&parsed).expect("text"));
    }
}
