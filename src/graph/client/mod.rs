//! The Graph HTTP client: one connection pool (rustls) for every tenant of a run, a
//! [`TenantSession`] per tenant (endpoints, credentials, cached token), and the request loop
//! that puts the pure pieces together: pace ([`Pacer`]), send with a fresh `client-request-id`,
//! classify and retry ([`retry::decide`]), renew the token after a 401. Reads go through
//! `$batch`, 20 per call, each item paced and retried on its own.
//!
//! Input: [`Request`]s. Output: [`Response`]s (status, JSON body, `request-id`) or a
//! [`RequestError`] a person can act on. Every attempt is reported to an [`Observer`] (the
//! deploy journal), without bodies, headers or tokens. The request and response types are in
//! `request.rs`, JSON batching in `batch.rs`; signing in, pacing and the send loop are here.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::graph::auth::{self, AppCredentials, AuthError, Token};
use crate::graph::cloud::ResolvedEndpoints;
use crate::graph::pacing::{Limits, Pacer};
use crate::graph::retry::{self, Decision, RetryPolicy, RetryReason};
use crate::kinds::{ApiVersion, ThrottleClass};

mod answer;
mod batch;
mod request;

/// One HTTP exchange's request: method, absolute URL, `Prefer`, body, and how to parse the
/// answer.
struct Exchange<'a> {
    method: &'static str,
    url: &'a str,
    prefer: Option<&'static str>,
    /// The body as it goes on the wire: shares the request's text or the envelope (a
    /// `$batch` of twenty bodies), not a copy of it, while the exchange is in flight.
    body: Option<hyper::body::Bytes>,
    /// How the answer is parsed.
    parse: answer::AnswerParse<'a>,
}

/// The HTTP client could not be built (the TLS stack or the system's configuration).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientBuildError(#[source] reqwest::Error);

pub(crate) use batch::id_only;
pub use request::*;

/// Most HTTP exchanges a client has in flight at once (each holds a connection over HTTP/1.1).
pub const MAX_IN_FLIGHT: usize = 64;

/// Most sign-ins (token requests) in flight at once, on their own places: a fleet run signs a
/// thousand tenants in at its start, each a small form and a small answer, and on the Graph
/// requests' places they went through 64 at a time, one round trip each.
pub const MAX_SIGN_INS_IN_FLIGHT: usize = 256;

/// Idle connections kept per host for reuse.
pub const MAX_IDLE_CONNECTIONS: usize = 64;

/// Most Conditional Access requests in flight at once, on their own places (they are paced to
/// one per second per tenant, so this bounds sockets, not throughput).
pub const MAX_IN_FLIGHT_PACED: usize = 512;

/// Whether a plain-HTTP endpoint speaks HTTP/2 without TLS (h2c, prior knowledge).
const H2C_UNKNOWN: u8 = 0;
const H2C_WORKS: u8 = 1;
const H2C_REFUSED: u8 = 2;

/// The client shared by every tenant of a run.
#[derive(Debug)]
pub struct GraphClient {
    /// HTTPS (HTTP/2 when the server offers it in the TLS handshake, as Graph and the sign-in
    /// service do) and plain HTTP/1.1.
    http: reqwest::Client,
    /// Plain-HTTP endpoints (a simulator on loopback) over HTTP/2 by prior knowledge: every
    /// request of the run multiplexed on one connection instead of one HTTP/1.1 connection
    /// per request in flight (each with its own buffers and dispatch channel, about 30 KB, and
    /// a few hundred of them at a fleet's start). A server that does not answer h2c before any
    /// h2c exchange succeeded is talked to over HTTP/1.1 from then on.
    h2c: reqwest::Client,
    h2c_state: std::sync::atomic::AtomicU8,
    in_flight: tokio::sync::Semaphore,
    in_flight_paced: tokio::sync::Semaphore,
    sign_ins_in_flight: tokio::sync::Semaphore,
    pacer: Mutex<Pacer>,
    policy: RetryPolicy,
    timing: std::sync::Arc<dyn Timing>,
    /// Counters.
    pub stats: Stats,
}

/// A tenant's connection: where, as whom, and its cached token.
#[derive(Debug)]
pub struct TenantSession {
    /// Tenant id.
    pub tenant: String,
    endpoints: ResolvedEndpoints,
    credentials: AppCredentials,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl TenantSession {
    /// A session (no request is made until the first call).
    pub fn new(
        tenant: &str,
        endpoints: ResolvedEndpoints,
        credentials: AppCredentials,
    ) -> TenantSession {
        TenantSession {
            tenant: tenant.to_string(),
            endpoints,
            credentials,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// The Graph base (for messages).
    pub fn graph_base(&self) -> &str {
        &self.endpoints.graph
    }

    /// The app's client id (drift tells its own changes from others').
    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }
}

/// What one attempt produced.
enum Sent {
    Answer {
        status: u16,
        retry_after: Option<String>,
        request_id: Option<String>,
        body: Value,
    },
    NoAnswer(String),
    /// No connection could be made (refused, name not resolved): nothing was sent.
    Unreachable(String),
}

impl GraphClient {
    /// A client pacing to `limits`.
    pub fn new(
        limits: Limits,
        policy: RetryPolicy,
        timing: std::sync::Arc<dyn Timing>,
    ) -> Result<GraphClient, ClientBuildError> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(concat!("tenantform/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(100))
                .pool_idle_timeout(Duration::from_secs(30))
                // Connections beyond what stays busy are closed, not kept with their buffers.
                .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
                .tcp_nodelay(true)
        };
        let http = builder().build().map_err(ClientBuildError)?;
        let h2c = builder()
            .http2_prior_knowledge()
            .build()
            .map_err(ClientBuildError)?;
        Ok(GraphClient {
            http,
            h2c,
            h2c_state: std::sync::atomic::AtomicU8::new(H2C_UNKNOWN),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            in_flight_paced: tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PACED),
            sign_ins_in_flight: tokio::sync::Semaphore::new(MAX_SIGN_INS_IN_FLIGHT),
            pacer: Mutex::new(Pacer::new(limits)),
            policy,
            timing,
            stats: Stats::default(),
        })
    }

    /// The HTTP client for `url`, and whether it is the h2c one.
    fn http_for(&self, url: &str) -> (&reqwest::Client, bool) {
        let plain = url
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
        if plain && self.h2c_state.load(Ordering::Relaxed) != H2C_REFUSED {
            (&self.h2c, true)
        } else {
            (&self.http, false)
        }
    }

    /// Learn from an h2c exchange: an answer proves the server speaks h2c; no answer before
    /// any exchange succeeded means it does not (the first requests are retried as usual).
    fn note_h2c(&self, h2c: bool, answered: bool) {
        if !h2c {
            return;
        }
        let next = if answered { H2C_WORKS } else { H2C_REFUSED };
        let _ = self.h2c_state.compare_exchange(
            H2C_UNKNOWN,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The injected timing.
    pub fn timing(&self) -> &dyn Timing {
        &*self.timing
    }

    /// The window of the one-per-window Conditional Access limit this client paces to.
    pub fn conditional_access_window(&self) -> std::time::Duration {
        let pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
        pacer.limits().conditional_access.window
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    async fn pace(&self, tenant: &str, class: ThrottleClass, write: bool) {
        let wait = {
            let mut pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
            pacer.reserve(tenant, class, write, self.timing.now())
        };
        if !wait.is_zero() {
            self.timing.sleep(wait).await;
        }
    }

    /// A valid token for the session, acquired or renewed as needed.
    pub async fn token(
        &self,
        session: &TenantSession,
        force_renew: bool,
        observer: &dyn Observer,
    ) -> Result<std::sync::Arc<str>, AuthError> {
        // The cached token, without the sign-in's future: every request awaits this twice, and
        // the sign-in (an HTTP exchange, ~1 KB of future) inline made each request's future in
        // flight that much larger. A fetch in progress holds the lock: wait for it below.
        if !force_renew
            && let Ok(cached) = session.token.try_lock()
            && let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.access_token.clone());
        }
        Box::pin(self.fetch_token(session, force_renew, observer)).await
    }

    /// [`GraphClient::token`] under the session's lock: the cached token, or a new one.
    async fn fetch_token(
        &self,
        session: &TenantSession,
        force_renew: bool,
        observer: &dyn Observer,
    ) -> Result<std::sync::Arc<str>, AuthError> {
        let mut cached = session.token.lock().await;
        if let Some(token) = cached.as_ref()
            && !force_renew
            && Instant::now() < token.renew_at
        {
            return Ok(token.access_token.clone());
        }
        let url = session.endpoints.token_url(&session.tenant);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let form = auth::token_form(
                &session.credentials,
                &session.endpoints.scope,
                &url,
                self.timing.wall(),
            )?;
            let permit = self.sign_ins_in_flight.acquire().await;
            let (http, h2c) = self.http_for(&url);
            let sent = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("client-request-id", uuid::Uuid::new_v4().to_string())
                .body(form)
                .send()
                .await;
            self.note_h2c(h2c, sent.is_ok());
            let mut unreachable = false;
            let mut failed_status = None;
            let failure = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let received = Instant::now();
                    match response.bytes().await {
                        Ok(body) if status < 500 && status != 429 => {
                            let token = auth::parse_token_response(
                                &url,
                                status,
                                &body,
                                &session.tenant,
                                received,
                            )?;
                            self.stats.tokens.fetch_add(1, Ordering::Relaxed);
                            let access = token.access_token.clone();
                            *cached = Some(token);
                            return Ok(access);
                        }
                        Ok(_) => {
                            failed_status = Some(status);
                            format!("HTTP {status}")
                        }
                        Err(e) => transport_text(&e),
                    }
                }
                Err(e) => {
                    unreachable = e.is_connect();
                    transport_text(&e)
                }
            };
            drop(permit);
            // A token endpoint that refuses connections or whose name does not resolve is not
            // busy: a short bounded retry, not the backoff for server errors.
            let limit = if unreachable {
                self.policy.max_unreachable_attempts
            } else {
                self.policy.max_transient_attempts
            };
            if attempt >= limit {
                return Err(AuthError::Unreachable {
                    url,
                    reason: failure,
                });
            }
            let wait = retry::backoff(&self.policy, attempt, self.timing.jitter());
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let reason = match failed_status {
                _ if unreachable => retry::RetryReason::Unreachable,
                Some(429) => retry::RetryReason::Throttled,
                Some(503) => retry::RetryReason::Unavailable,
                _ => retry::RetryReason::Transient,
            };
            observer.sign_in_retrying(&session.tenant, failed_status, reason, wait);
            self.timing.sleep(wait).await;
        }
    }

    fn url(&self, session: &TenantSession, version: ApiVersion, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/{}{}", session.endpoints.graph, version.segment(), path)
        }
    }

    /// A place among the requests on the wire, held until the answer is read. Conditional
    /// Access requests (one per second per tenant) go out on their slot; the rest wait for one
    /// of a bounded number of places, so a burst of them cannot queue ahead of a paced request
    /// in the client or the service. Taken before a request's exchange (and a `$batch`'s
    /// envelope) is made: what waits for a place is a small future, not the text to send.
    async fn place(
        &self,
        paced: &[(&str, ThrottleClass, bool)],
    ) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let priority = paced
            .iter()
            .any(|(_, class, _)| *class == ThrottleClass::ConditionalAccess);
        let semaphore = if priority {
            &self.in_flight_paced
        } else {
            &self.in_flight
        };
        // The semaphores are never closed; were one, requests would go out unbounded.
        semaphore.acquire().await.ok()
    }

    /// One HTTP exchange, holding `_place` ([`GraphClient::place`]) until it is answered.
    async fn send_once(
        &self,
        token: &str,
        exchange: Exchange<'_>,
        paced: &[(&str, ThrottleClass, bool)],
        _place: Option<tokio::sync::SemaphorePermit<'_>>,
    ) -> Sent {
        let Exchange {
            method,
            url,
            prefer,
            body,
            parse,
        } = exchange;
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let prefer = prefer_value(prefer);
        if !paced.is_empty() {
            let now = self.timing.now();
            let mut pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
            for (tenant, class, write) in paced {
                pacer.note_sent(tenant, *class, *write, now);
            }
        }
        let (http, h2c) = self.http_for(url);
        let mut builder = http
            .request(method_value, url)
            .bearer_auth(token)
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .header("prefer", prefer)
            .header("accept", "application/json");
        if let Some(body) = body {
            builder = builder
                .header("content-type", "application/json")
                .body(body);
        }
        let sent = builder.send().await;
        self.note_h2c(h2c, sent.is_ok());
        let sent = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let retry_after = header("retry-after");
                let request_id = header("request-id");
                match response.bytes().await {
                    Ok(bytes) => Sent::Answer {
                        status,
                        retry_after,
                        request_id,
                        body: answer::parse_answer(&bytes, status, parse),
                    },
                    Err(e) => Sent::NoAnswer(transport_text(&e)),
                }
            }
            Err(e) if e.is_connect() => Sent::Unreachable(transport_text(&e)),
            Err(e) => Sent::NoAnswer(transport_text(&e)),
        };
        if !paced.is_empty() {
            // The service counted the request at some moment before this answer: a
            // one-request-per-window limit's next request waits a full window from here.
            let now = self.timing.now();
            let mut pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
            for (tenant, class, write) in paced {
                pacer.note_answered(tenant, *class, *write, now);
            }
        }
        sent
    }

    /// Send one request: paced, retried as the rules say, token renewed after a 401.
    pub async fn send(
        &self,
        session: &TenantSession,
        request: &Request,
        observer: &dyn Observer,
    ) -> Result<Response, RequestError> {
        self.send_paced(session, request, observer, false).await
    }

    /// [`GraphClient::send`]; `slot_taken` when the caller already waited for the first
    /// attempt's paced slot.
    async fn send_paced(
        &self,
        session: &TenantSession,
        request: &Request,
        observer: &dyn Observer,
        mut slot_taken: bool,
    ) -> Result<Response, RequestError> {
        let url = self.url(session, request.version, &request.path);
        let started = self.timing.now();
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            // Sign in before taking a paced slot, so the slot is used when it comes up (a
            // token fetch after it would send the request late and bunch it with the next).
            self.token(session, false, observer).await?;
            if !std::mem::take(&mut slot_taken) {
                self.pace(&session.tenant, request.class, request.is_write())
                    .await;
            }
            let token = self.token(session, false, observer).await?;
            observer.sending(&session.tenant, request, attempt);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let paced = [(session.tenant.as_str(), request.class, request.is_write())];
            let place = self.place(&paced).await;
            let sent_at = self.timing.now();
            // Boxed: the exchange's future (~1.2 KB: reqwest's request, the response and its
            // body) exists only while the request is on the wire, not while it waits for its
            // paced slot or its place, as a thousand tenants' requests do.
            let sent = Box::pin(self.send_once(
                &token,
                Exchange {
                    method: request.method,
                    url: &url,
                    prefer: request.prefer,
                    body: request.body.as_ref().map(Body::bytes),
                    parse: answer::AnswerParse::One(request),
                },
                &paced,
                place,
            ))
            .await;
            let duration = self.timing.now().saturating_sub(sent_at);
            let (outcome, status, request_id, body) = match &sent {
                Sent::Answer {
                    status,
                    retry_after,
                    request_id,
                    body,
                } => (
                    retry::Outcome::Response {
                        status: *status,
                        retry_after: retry_after.as_deref(),
                        error_code: error_code(body),
                        missing_reference: missing_reference(body),
                    },
                    Some(*status),
                    request_id.as_deref(),
                    Some(body),
                ),
                Sent::NoAnswer(_) => (retry::Outcome::ConnectionFailed, None, None, None),
                Sent::Unreachable(_) => (retry::Outcome::Unreachable, None, None, None),
            };
            // An expired or revoked token: renew once and send again.
            let renew = status == Some(401) && !renewed;
            if status == Some(429) {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            }
            let decision = self.decide(retry::Attempt {
                number: attempt,
                elapsed: self.timing.now().saturating_sub(started),
                outcome,
                idempotent: request.idempotent,
                references_new_object: request.references_new_object,
            });
            observer.finished(
                &session.tenant,
                &AttemptReport {
                    request,
                    attempt,
                    status,
                    request_id,
                    duration,
                    retry: if renew {
                        Some((RetryReason::Transient, Duration::ZERO))
                    } else {
                        retrying(decision)
                    },
                    object_id: body.and_then(|b| b.get("id")).and_then(Value::as_str),
                },
            );
            if renew {
                renewed = true;
                self.token(session, true, observer).await?;
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match decision {
                Decision::Done => {
                    if let Sent::Answer {
                        status,
                        request_id,
                        body,
                        ..
                    } = sent
                    {
                        return Ok(Response {
                            status,
                            body,
                            request_id,
                        });
                    }
                    // `decide` says Done only for a 2xx answer; without one, try again.
                }
                Decision::Retry {
                    after,
                    reconcile_first,
                    ..
                } => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    if reconcile_first {
                        return Err(RequestError::OutcomeUnknown {
                            method: request.method,
                            path: request.path.clone(),
                            after,
                            reason: match &sent {
                                Sent::Answer { status, .. } => format!("HTTP {status}"),
                                Sent::NoAnswer(e) | Sent::Unreachable(e) => e.clone(),
                            },
                        });
                    }
                    self.timing.sleep(after).await;
                }
                Decision::GiveUp { exhausted } => {
                    return Err(match sent {
                        Sent::Answer {
                            status,
                            request_id,
                            body,
                            ..
                        } => status_error(request, status, request_id, &body, exhausted),
                        Sent::NoAnswer(reason) | Sent::Unreachable(reason) => {
                            RequestError::Connection {
                                method: request.method,
                                path: request.path.clone(),
                                host: session.endpoints.graph.clone(),
                                attempts: attempt,
                                reason,
                            }
                        }
                    });
                }
            }
        }
    }
}

impl GraphClient {
    /// The retry decision for an attempt, with the run's clock and jitter.
    fn decide(&self, attempt: retry::Attempt<'_>) -> Decision {
        retry::decide(
            &self.policy,
            &attempt,
            self.timing.wall(),
            self.timing.jitter(),
        )
    }
}

/// Why and after how long an attempt is retried, for the observer (`None`: it is not).
fn retrying(decision: Decision) -> Option<(RetryReason, Duration)> {
    match decision {
        Decision::Retry { after, reason, .. } => Some((reason, after)),
        _ => None,
    }
}

fn prefer_value(prefer: Option<&str>) -> String {
    match prefer {
        Some(p) => format!("{p}, include-unknown-enum-members"),
        None => "include-unknown-enum-members".to_string(),
    }
}

fn error_code(body: &Value) -> Option<&str> {
    body.get("error")?.get("code")?.as_str()
}

/// Graph's error body says a referenced object does not exist ([`retry::says_missing_reference`]).
fn missing_reference(body: &Value) -> bool {
    let message = body
        .get("error")
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str);
    retry::says_missing_reference(error_code(body), message)
}

fn status_error(
    request: &Request,
    status: u16,
    request_id: Option<String>,
    body: &Value,
    exhausted: Option<RetryReason>,
) -> RequestError {
    let error = body.get("error");
    let text = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    RequestError::Status {
        method: request.method,
        path: request.path.clone(),
        status,
        code: text("code"),
        message: text("message"),
        request_id,
        exhausted,
    }
}

/// A transport error in words, without the URL's query (it never holds secrets, but keep
/// errors short).
fn transport_text(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "connection dropped while reading the response"
    } else if error.is_request() {
        "connection dropped"
    } else {
        "transport error"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

#[cfg(test)]
mod tests {
    /// Time that never waits, and a record of the sign-in retries an observer was told of.
    #[derive(Debug, Default)]
    struct InstantTiming;

    impl Timing for InstantTiming {
        fn now(&self) -> Duration {
            Duration::ZERO
        }
        fn wall(&self) -> std::time::SystemTime {
            std::time::SystemTime::now()
        }
        fn sleep(
            &self,
            _: Duration,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
            Box::pin(async {})
        }
        fn jitter(&self) -> f64 {
            0.5
        }
    }

    #[derive(Default)]
    struct SignInRetries(std::sync::Mutex<Vec<(Option<u16>, crate::graph::retry::RetryReason)>>);

    impl Observer for SignInRetries {
        fn sending(&self, _: &str, _: &Request, _: u32) {}
        fn finished(&self, _: &str, _: &AttemptReport<'_>) {}
        fn sign_in_retrying(
            &self,
            _: &str,
            status: Option<u16>,
            reason: crate::graph::retry::RetryReason,
            _: Duration,
        ) {
            self.0.lock().expect("lock").push((status, reason));
        }
    }

    #[tokio::test]
    async fn an_unreachable_token_endpoint_is_retried_briefly_and_each_retry_is_reported() {
        // Regression (issue 15): sign-in retries were silent on the progress line.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let endpoints = crate::graph::cloud::resolve(
            crate::source::model::Cloud::Global,
            &crate::source::model::Endpoints {
                login: Some(url.clone()),
                graph: Some(url),
            },
        )
        .expect("loopback endpoints");
        let credentials = crate::graph::auth::AppCredentials {
            client_id: "app".into(),
            secret: crate::graph::auth::Secret::ClientSecret("s".into()),
        };
        let session = TenantSession::new("t1", endpoints, credentials);
        let client = GraphClient::new(
            crate::graph::pacing::Limits::default(),
            crate::graph::retry::RetryPolicy::default(),
            std::sync::Arc::new(InstantTiming),
        )
        .expect("client");
        let observer = SignInRetries::default();
        let result = client.token(&session, false, &observer).await;
        assert!(result.is_err());
        let retries = observer.0.lock().expect("lock").clone();
        assert_eq!(
            retries.len() as u32,
            crate::graph::retry::RetryPolicy::default().max_unreachable_attempts - 1
        );
        assert!(
            retries
                .iter()
                .all(|(s, r)| s.is_none() && *r == crate::graph::retry::RetryReason::Unreachable),
            "{retries:?}"
        );
    }

    use super::batch::batch_chunks;
    use super::*;

    #[test]
    fn batches_hold_twenty_and_one_conditional_access_request_each() {
        let mut requests = Vec::new();
        for i in 0..3 {
            requests.push(Request::get(
                format!("ca{i}"),
                ApiVersion::V1,
                "/p",
                ThrottleClass::ConditionalAccess,
            ));
        }
        for i in 0..40 {
            requests.push(Request::get(
                format!("id{i}"),
                ApiVersion::V1,
                "/p",
                ThrottleClass::Identity,
            ));
        }
        let indices: Vec<usize> = (0..requests.len()).collect();
        let chunks = batch_chunks(&requests, &indices);
        assert!(chunks.iter().all(|c| c.len() <= MAX_BATCH));
        for c in &chunks {
            let ca = c
                .iter()
                .filter(|i| requests[**i].class == ThrottleClass::ConditionalAccess)
                .count();
            assert!(ca <= 1, "{c:?}");
        }
        let mut all: Vec<usize> = chunks.concat();
        all.sort_unstable();
        assert_eq!(all, indices);
        assert_eq!(chunks.len(), 3);
    }

    #[test]
    fn a_body_writes_its_canonical_hash_as_the_journal_records_it() {
        let value = serde_json::json!({"b": [1, {"y": true, "x": null}], "a": "é"});
        let body = Body::new(&value);
        assert_eq!(body.hash(), crate::canonical::hash(&value));
        let shared = Body::shared(body.json().into(), &value);
        assert_eq!(shared.hash(), body.hash());
        assert_eq!(shared.json(), body.json());
    }

    #[test]
    fn the_bytes_sent_are_the_body_text_itself_not_a_copy() {
        let body = Body::new(&serde_json::json!({"displayName": "Groupe é", "n": [1, 2]}));
        let bytes = body.bytes();
        assert_eq!(&bytes[..], body.json().as_bytes());
        assert_eq!(bytes.as_ptr(), body.json().as_ptr());
    }

    #[test]
    fn an_id_only_answer_keeps_the_id_alone() {
        let created = br#"{"@odata.context":"x","id":"abc","conditions":{"users":{"includeUsers":["All"]}},"displayName":"P"}"#;
        assert_eq!(
            batch::id_of_answer(created),
            serde_json::json!({"id": "abc"})
        );
        assert_eq!(
            batch::id_of_answer(br#"{"displayName":"no id"}"#),
            Value::Null
        );
        assert_eq!(batch::id_of_answer(b"not json"), Value::Null);
        assert_eq!(batch::id_of_answer(br#"["an array"]"#), Value::Null);
    }

    #[test]
    fn jitter_is_in_range_and_seeded() {
        let a = RealTiming::new(5);
        let b = RealTiming::new(5);
        for _ in 0..100 {
            let (x, y) = (a.jitter(), b.jitter());
            assert_eq!(x, y);
            assert!((0.0..1.0).contains(&x));
        }
    }
}
