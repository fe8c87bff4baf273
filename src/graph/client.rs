//! The Graph HTTP client: one connection pool (rustls) for every tenant of a run, a
//! [`TenantSession`] per tenant (endpoints, credentials, cached token), and the request loop
//! that puts the pure pieces together: pace ([`Pacer`]), send with a fresh `client-request-id`,
//! classify and retry ([`retry::decide`]), renew the token after a 401. Reads go through
//! `$batch`, 20 per call, each item paced and retried on its own.
//!
//! Input: [`Request`]s. Output: [`Response`]s (status, JSON body, `request-id`) or a
//! [`RequestError`] a person can act on. Every attempt is reported to an [`Observer`] (the
//! deploy journal), without bodies, headers or tokens.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::graph::auth::{self, AppCredentials, AuthError, Token};
use crate::graph::cloud::ResolvedEndpoints;
use crate::graph::pacing::{Limits, Pacer};
use crate::graph::retry::{self, Decision, RetryPolicy, RetryReason};
use crate::kinds::{ApiVersion, ThrottleClass};

/// Most requests in one `$batch` (graph-wire-facts.md section 1).
pub const MAX_BATCH: usize = 20;

/// Time, sleeping and jitter, injected so tests and benchmarks control them.
pub trait Timing: Send + Sync + std::fmt::Debug {
    /// Monotonic time since the run started.
    fn now(&self) -> Duration;
    /// The wall clock (for HTTP-date `Retry-After` and assertion times).
    fn wall(&self) -> SystemTime;
    /// Wait.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// A number in `[0, 1)` for backoff jitter.
    fn jitter(&self) -> f64;
}

/// Real time, tokio sleeps and a seeded xorshift generator for jitter.
#[derive(Debug)]
pub struct RealTiming {
    start: Instant,
    state: Mutex<u64>,
}

impl RealTiming {
    /// Real time; jitter from `seed`.
    pub fn new(seed: u64) -> RealTiming {
        RealTiming {
            start: Instant::now(),
            state: Mutex::new(seed | 1),
        }
    }
}

impl Timing for RealTiming {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
    fn jitter(&self) -> f64 {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A request body, serialized once: compact JSON text (cheap to hold while a request waits for
/// its paced slot) and the `sha256:` of its canonical form (for the journal).
#[derive(Debug, Clone)]
pub struct Body {
    json: std::sync::Arc<str>,
    hash: String,
}

impl Body {
    /// Serialize a JSON value.
    pub fn new(value: &Value) -> Body {
        Body {
            json: serde_json::to_string(value).unwrap_or_default().into(),
            hash: crate::canonical::hash(value),
        }
    }

    /// The compact JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// `sha256:` of the canonical JSON.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// One Graph request.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it is for (the resource key, or `read:<path>`), for the journal and errors.
    pub label: String,
    /// HTTP method.
    pub method: &'static str,
    /// API version.
    pub version: ApiVersion,
    /// Path after the version, with any query (`/groups?$select=id`); or an absolute URL
    /// (a `@odata.nextLink`).
    pub path: String,
    /// JSON body.
    pub body: Option<Body>,
    /// `Prefer` values besides `include-unknown-enum-members`.
    pub prefer: Option<&'static str>,
    /// Throttle class (for pacing).
    pub class: ThrottleClass,
    /// Safe to send again as is (not a creating POST).
    pub idempotent: bool,
    /// The body references an object created moments ago (replication delay may apply).
    pub references_new_object: bool,
}

impl Request {
    /// A GET.
    pub fn get(
        label: impl Into<String>,
        version: ApiVersion,
        path: impl Into<String>,
        class: ThrottleClass,
    ) -> Request {
        Request {
            label: label.into(),
            method: "GET",
            version,
            path: path.into(),
            body: None,
            prefer: None,
            class,
            idempotent: true,
            references_new_object: false,
        }
    }

    fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// A response that ended the request (2xx, or a final error status).
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The JSON body (`Null` when empty or not JSON).
    pub body: Value,
    /// Graph's `request-id`.
    pub request_id: Option<String>,
}

impl Response {
    /// The OData error `code` and `message`, when the body is an error.
    pub fn odata_error(&self) -> Option<(&str, &str)> {
        let error = self.body.get("error")?;
        Some((
            error.get("code")?.as_str().unwrap_or_default(),
            error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ))
    }
}

/// Why a request did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// No token.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Graph answered with an error that is final (or retries ran out).
    #[error("{method} {path}: HTTP {status} {code}: {message}{}{}", exhausted.map(|r| format!(" (gave up after retrying: {})", reason_text(r))).unwrap_or_default(), request_id.as_ref().map(|r| format!(" [request-id {r}]")).unwrap_or_default())]
    Status {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// HTTP status.
        status: u16,
        /// OData error code.
        code: String,
        /// OData error message.
        message: String,
        /// Graph's request-id.
        request_id: Option<String>,
        /// Retries were made and ran out.
        exhausted: Option<RetryReason>,
    },
    /// No response (connection refused, reset, timed out) and retries ran out.
    #[error("{method} {path}: no response from {host} after {attempts} attempts: {reason}")]
    Connection {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// Host.
        host: String,
        /// Attempts made.
        attempts: u32,
        /// The transport error.
        reason: String,
    },
    /// A create may or may not have been applied; the caller must look the object up by its
    /// match key before sending it again (retrying blindly could create a second object).
    #[error("{method} {path}: outcome unknown ({reason}); look it up before sending again")]
    OutcomeUnknown {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// Wait this long before looking.
        after: Duration,
        /// What happened.
        reason: String,
    },
}

fn reason_text(reason: RetryReason) -> &'static str {
    match reason {
        RetryReason::Throttled => "throttled (429)",
        RetryReason::Unavailable => "service unavailable (503)",
        RetryReason::Transient => "server errors or dropped connections",
        RetryReason::Replication => "a referenced object never became visible",
    }
}

impl RequestError {
    /// The HTTP status, when Graph answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What happened to one attempt, for the observer.
#[derive(Debug, Clone)]
pub struct AttemptReport<'a> {
    /// The request.
    pub request: &'a Request,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// HTTP status (`None`: no response).
    pub status: Option<u16>,
    /// Graph's request-id.
    pub request_id: Option<&'a str>,
    /// Send to response.
    pub duration: Duration,
    /// Set when it will be retried: why, and after how long.
    pub retry: Option<(RetryReason, Duration)>,
    /// The object id in the response body, if any.
    pub object_id: Option<&'a str>,
}

/// Receives every attempt (the deploy journal, progress counters). Must not block for long.
pub trait Observer: Send + Sync {
    /// Before an attempt is sent.
    fn sending(&self, tenant: &str, request: &Request, attempt: u32);
    /// After it ended.
    fn finished(&self, tenant: &str, report: &AttemptReport<'_>);
}

/// An observer that records nothing.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn sending(&self, _: &str, _: &Request, _: u32) {}
    fn finished(&self, _: &str, _: &AttemptReport<'_>) {}
}

/// Counters over a run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Graph requests sent (each `$batch` item counts; the envelope does not).
    pub requests: AtomicU64,
    /// `$batch` calls.
    pub batches: AtomicU64,
    /// Requests sent inside `$batch` calls.
    pub batched: AtomicU64,
    /// Retries (any reason).
    pub retries: AtomicU64,
    /// 429 answers.
    pub throttled: AtomicU64,
    /// Tokens acquired.
    pub tokens: AtomicU64,
}

/// Most HTTP exchanges a client has in flight at once (each holds a connection over HTTP/1.1).
pub const MAX_IN_FLIGHT: usize = 64;

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
}

impl GraphClient {
    /// A client pacing to `limits`.
    pub fn new(
        limits: Limits,
        policy: RetryPolicy,
        timing: std::sync::Arc<dyn Timing>,
    ) -> Result<GraphClient, String> {
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
        let http = builder()
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let h2c = builder()
            .http2_prior_knowledge()
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(GraphClient {
            http,
            h2c,
            h2c_state: std::sync::atomic::AtomicU8::new(H2C_UNKNOWN),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            in_flight_paced: tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PACED),
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
    ) -> Result<String, AuthError> {
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
        Box::pin(self.fetch_token(session, force_renew)).await
    }

    /// [`GraphClient::token`] under the session's lock: the cached token, or a new one.
    async fn fetch_token(
        &self,
        session: &TenantSession,
        force_renew: bool,
    ) -> Result<String, AuthError> {
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
            let permit = self.in_flight.acquire().await;
            let (http, h2c) = self.http_for(&url);
            let sent = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("client-request-id", uuid::Uuid::new_v4().to_string())
                .body(form)
                .send()
                .await;
            self.note_h2c(h2c, sent.is_ok());
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
                        Ok(_) => format!("HTTP {status}"),
                        Err(e) => transport_text(&e),
                    }
                }
                Err(e) => transport_text(&e),
            };
            drop(permit);
            if attempt >= self.policy.max_transient_attempts {
                return Err(AuthError::Unreachable {
                    url,
                    reason: failure,
                });
            }
            let wait = retry::backoff(&self.policy, attempt, self.timing.jitter());
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
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

    async fn send_once(
        &self,
        token: &str,
        method: &'static str,
        url: &str,
        prefer: Option<&'static str>,
        body: Option<&str>,
        paced: &[(&str, ThrottleClass, bool)],
    ) -> Sent {
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let prefer = prefer_value(prefer);
        // Conditional Access requests (one per second per tenant) go out on their slot; the
        // rest wait for one of a bounded number of places, so a burst of them cannot queue
        // ahead of a paced request in the client or the service.
        let priority = paced
            .iter()
            .any(|(_, class, _)| *class == ThrottleClass::ConditionalAccess);
        let _permit = if priority {
            self.in_flight_paced.acquire().await
        } else {
            self.in_flight.acquire().await
        };
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
                .body(body.to_string());
        }
        let sent = builder.send().await;
        self.note_h2c(h2c, sent.is_ok());
        match sent {
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
                        body: if bytes.is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                        },
                    },
                    Err(e) => Sent::NoAnswer(transport_text(&e)),
                }
            }
            Err(e) => Sent::NoAnswer(transport_text(&e)),
        }
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
            self.token(session, false).await?;
            if !std::mem::take(&mut slot_taken) {
                self.pace(&session.tenant, request.class, request.is_write())
                    .await;
            }
            let token = self.token(session, false).await?;
            observer.sending(&session.tenant, request, attempt);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = self.timing.now();
            // Boxed: the exchange's future (~1.2 KB: reqwest's request, the response and its
            // body) exists only while the request is on the wire, not while it waits for its
            // paced slot, as a thousand tenants' requests do.
            let sent = Box::pin(self.send_once(
                &token,
                request.method,
                &url,
                request.prefer,
                request.body.as_ref().map(Body::json),
                &[(&session.tenant, request.class, request.is_write())],
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
                    },
                    Some(*status),
                    request_id.as_deref(),
                    Some(body),
                ),
                Sent::NoAnswer(_) => (retry::Outcome::ConnectionFailed, None, None, None),
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
                self.token(session, true).await?;
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
                                Sent::NoAnswer(e) => e.clone(),
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
                        Sent::NoAnswer(reason) => RequestError::Connection {
                            method: request.method,
                            path: request.path.clone(),
                            host: session.endpoints.graph.clone(),
                            attempts: attempt,
                            reason,
                        },
                    });
                }
            }
        }
    }

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
        let chosen: Vec<Request> = batched.iter().map(|i| requests[*i].clone()).collect();
        // Wait for the last lone request's slot, then send it and the envelopes together.
        if let Some(i) = last {
            if let Err(e) = self.token(session, false).await {
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
            self.batch_envelopes(session, &chosen, observer),
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

    /// Send requests in `$batch` envelopes of at most [`MAX_BATCH`].
    async fn batch_envelopes(
        &self,
        session: &TenantSession,
        requests: &[Request],
        observer: &dyn Observer,
    ) -> Vec<Result<Response, RequestError>> {
        let mut results: Vec<Option<Result<Response, RequestError>>> =
            (0..requests.len()).map(|_| None).collect();
        match requests {
            [] => return Vec::new(),
            [one] => return vec![self.send(session, one, observer).await],
            _ => {}
        }
        let mut attempts = vec![0u32; requests.len()];
        let started = self.timing.now();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        while !pending.is_empty() {
            let mut next_round = Vec::new();
            let mut longest_wait = Duration::ZERO;
            for version in [ApiVersion::V1, ApiVersion::Beta] {
                let of_version: Vec<usize> = pending
                    .iter()
                    .copied()
                    .filter(|i| requests[*i].version == version)
                    .collect();
                for chunk in batch_chunks(requests, &of_version) {
                    let chunk = chunk.as_slice();
                    let outcome = self
                        .batch_round(session, requests, chunk, &mut attempts, started, observer)
                        .await;
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
            }
            if !next_round.is_empty() {
                self.timing.sleep(longest_wait).await;
            }
            pending = next_round;
        }
        every_result(results, session)
    }

    async fn batch_round(
        &self,
        session: &TenantSession,
        requests: &[Request],
        chunk: &[usize],
        attempts: &mut [u32],
        started: Duration,
        observer: &dyn Observer,
    ) -> Result<Vec<(usize, ItemResult)>, RequestError> {
        let version = requests[chunk[0]].version;
        self.token(session, false).await?;
        for i in chunk {
            let request = &requests[*i];
            self.pace(&session.tenant, request.class, request.is_write())
                .await;
        }
        // The envelope is written as text so bodies go in as they were serialized.
        let mut envelope = String::from("{\"requests\":[");
        for (n, i) in chunk.iter().enumerate() {
            let request = &requests[*i];
            let mut headers = serde_json::json!({"Prefer": prefer_value(request.prefer)});
            if request.body.is_some() {
                headers["Content-Type"] = Value::from("application/json");
            }
            let item = serde_json::json!({
                "id": i.to_string(),
                "method": request.method,
                "url": request.path,
                "headers": headers,
            });
            let mut text = serde_json::to_string(&item).unwrap_or_default();
            if let Some(body) = &request.body {
                text.pop();
                text.push_str(",\"body\":");
                text.push_str(body.json());
                text.push('}');
            }
            if n > 0 {
                envelope.push(',');
            }
            envelope.push_str(&text);
        }
        envelope.push_str("]}");
        let paced: Vec<(&str, ThrottleClass, bool)> = chunk
            .iter()
            .map(|i| {
                let r = &requests[*i];
                (session.tenant.as_str(), r.class, r.is_write())
            })
            .collect();
        let url = self.url(session, version, "/$batch");
        let mut renewed = false;
        loop {
            let token = self.token(session, false).await?;
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
            let sent =
                Box::pin(self.send_once(&token, "POST", &url, None, Some(&envelope), &paced)).await;
            let duration = self.timing.now().saturating_sub(sent_at);
            let (status, body) = match sent {
                Sent::Answer { status, body, .. } => (Some(status), body),
                Sent::NoAnswer(_) => (None, Value::Null),
            };
            if status == Some(401) && !renewed {
                renewed = true;
                self.token(session, true).await?;
                continue;
            }
            let Some(responses) = (status == Some(200))
                .then(|| body.get("responses").and_then(Value::as_array))
                .flatten()
            else {
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
                            },
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
                        self.item_result(session, request, decision, status, None, &body, &reason),
                    ));
                }
                return Ok(out);
            };
            let mut out = Vec::with_capacity(chunk.len());
            for i in chunk {
                let id = i.to_string();
                let item = responses
                    .iter()
                    .find(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str()));
                let request = &requests[*i];
                let Some(item) = item else {
                    out.push((*i, ItemResult::Again(Duration::ZERO)));
                    continue;
                };
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
                let item_body = item.get("body").cloned().unwrap_or(Value::Null);
                let decision = self.decide(retry::Attempt {
                    number: attempts[*i],
                    elapsed: self.timing.now().saturating_sub(started),
                    outcome: retry::Outcome::Response {
                        status: item_status,
                        retry_after: header("retry-after"),
                        error_code: error_code(&item_body),
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
                    &item_body,
                    &reason,
                );
                out.push((*i, result));
            }
            return Ok(out);
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

    /// What a batch item's decision means for it.
    #[allow(clippy::too_many_arguments)]
    fn item_result(
        &self,
        session: &TenantSession,
        request: &Request,
        decision: Decision,
        status: Option<u16>,
        request_id: Option<String>,
        body: &Value,
        reason: &str,
    ) -> ItemResult {
        match decision {
            Decision::Done => ItemResult::Final(Ok(Response {
                status: status.unwrap_or(200),
                body: body.clone(),
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
                Some(status) => status_error(request, status, request_id, body, exhausted),
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

/// The results in order; a slot that got none (which a correct round never leaves) is an error,
/// not a panic.
fn every_result(
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
fn batch_chunks(requests: &[Request], indices: &[usize]) -> Vec<Vec<usize>> {
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

enum ItemResult {
    Final(Result<Response, RequestError>),
    Again(Duration),
}

fn error_code(body: &Value) -> Option<&str> {
    body.get("error")?.get("code")?.as_str()
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
