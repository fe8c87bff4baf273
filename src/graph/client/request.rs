//! What goes into and comes out of the client: [`Request`]s with their [`Body`], [`Response`]s,
//! the [`RequestError`] a person can act on, the [`Observer`] every attempt is reported to,
//! the run's [`Stats`], and the injected [`Timing`] (clock, sleep, jitter).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::graph::auth::AuthError;
use crate::graph::lean::KeepItems;
use crate::graph::retry::RetryReason;
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
/// its paced slot) and the SHA-256 of its canonical form (for the journal), kept as bytes and
/// written out only when the journal asks: a fleet has tens of thousands of requests waiting.
#[derive(Debug, Clone)]
pub struct Body {
    json: std::sync::Arc<str>,
    digest: [u8; 32],
}

impl Body {
    /// Serialize a JSON value.
    pub fn new(value: &Value) -> Body {
        Body {
            json: serde_json::to_string(value).unwrap_or_default().into(),
            digest: crate::canonical::digest(value),
        }
    }

    /// `json`, the compact JSON text of `value` as [`Body::new`] would write it, shared rather
    /// than written again (a body many tenants send alike).
    pub fn shared(json: std::sync::Arc<str>, value: &Value) -> Body {
        debug_assert_eq!(
            serde_json::to_string(value).ok().as_deref(),
            Some(&*json),
            "a shared body is the value's compact JSON"
        );
        Body {
            json,
            digest: crate::canonical::digest(value),
        }
    }

    /// The compact JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The compact JSON text as bytes for the wire, sharing this body's text (not a copy).
    pub fn bytes(&self) -> hyper::body::Bytes {
        hyper::body::Bytes::from_owner(SharedText(self.json.clone()))
    }

    /// `sha256:<hex>` of the canonical JSON.
    pub fn hash(&self) -> String {
        crate::canonical::digest_text(&self.digest)
    }
}

/// A body's shared text, owned by the bytes that go on the wire ([`Body::bytes`]).
struct SharedText(std::sync::Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
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
    /// Parse the answer without its `null` members ([`crate::graph::lean`]): for reads made
    /// only to compare (plan, drift), never for one whose object may be written back.
    pub lean: bool,
    /// Keep only the `id` of a successful answer (a write whose caller needs the created
    /// object's id alone): sent alone, the rest of the answer is not parsed into a value; in a
    /// `$batch`, the other members are dropped as the envelope is split, not held with the rest
    /// of the envelope's answers until the batch is done. Error answers are kept whole.
    pub id_only: bool,
    /// Of a successful answer parsed without its `null` members (`lean`), keep only these items
    /// of one array ([`KeepItems`]): the rest are never built.
    pub keep_items: Option<std::sync::Arc<KeepItems>>,
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
            lean: false,
            id_only: false,
            keep_items: None,
        }
    }

    pub(super) fn is_write(&self) -> bool {
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
        RetryReason::Unreachable => {
            "the service could not be reached (connection refused or name not resolved)"
        }
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
    /// The token endpoint failed and sign-in is tried again after `after` (nothing by default).
    fn sign_in_retrying(
        &self,
        _tenant: &str,
        _status: Option<u16>,
        _reason: crate::graph::retry::RetryReason,
        _after: std::time::Duration,
    ) {
    }
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
