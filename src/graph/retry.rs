//! Retry decisions, kept pure so tests drive them (rust-lang/cargo's `retry.rs` is the model):
//! classify an attempt's outcome from typed fields (status, `Retry-After`, the OData error
//! code, whether the request references an object created moments ago), then say whether to
//! retry and after how long. Time and jitter are passed in; nothing here sleeps.
//!
//! Input: a [`RetryPolicy`], an [`Attempt`]. Output: a [`Decision`].
//!
//! Rules (graph-wire-facts.md sections 2.1 and 5.7): 429 and 503 honour `Retry-After`
//! (decimal seconds or an HTTP date); without it, exponential backoff with jitter and a cap.
//! Other 5xx and dropped connections retry a bounded number of times. Other 4xx do not retry,
//! except a reference to a just-created object that is not visible yet (replication delay),
//! which retries for a bounded time: only when the request references an object this run
//! created and Graph's error says a referenced object does not exist ([`says_missing_reference`],
//! the one place Graph's error text is read; its verdict is the typed field the decision
//! matches on). An invalid property or value fails at once. A create whose outcome is unknown (the connection dropped
//! after sending, a 5xx) must be reconciled (look the object up by its match key) before it is
//! sent again, so a retry never creates a second object.

use std::time::{Duration, SystemTime};

/// Limits of retrying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts at most for throttling (429, 503) before giving up.
    pub max_throttled_attempts: u32,
    /// Attempts at most for other transient failures (500, 502, 504, dropped connections).
    pub max_transient_attempts: u32,
    /// Attempts at most when the service cannot be reached at all (connection refused, a name
    /// that does not resolve): not throttling, so only a short bounded retry.
    pub max_unreachable_attempts: u32,
    /// First backoff step.
    pub base: Duration,
    /// Longest single wait.
    pub cap: Duration,
    /// How long to keep retrying a reference to a just-created object.
    pub replication_window: Duration,
    /// Longest backoff step while a just-created object is not visible yet: Entra replicates
    /// in seconds, so polling at most this far apart (half to all of it, jittered) finds the
    /// object within a step of it appearing, where the doubling steps of other retries would
    /// overshoot by up to their whole last step (a 2 s replication waited 2.6 s on average and
    /// up to 5.5 s with steps of 0.5, 1, 2 and 4 s).
    pub replication_step_cap: Duration,
    /// How long to keep looking for an object whose create had no definite answer before
    /// concluding it was not made (new objects take a moment to be listed).
    pub reconcile_window: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_throttled_attempts: 10,
            // 0.5 + 1 + 2 + ... + 32 s of backoff (about a minute) before a persistent server
            // error fails the resource.
            max_transient_attempts: 8,
            // 0.25-0.5 s + 0.5-1 s of backoff: an endpoint that refuses connections or whose
            // name does not resolve fails its tenant within about 1.5 s.
            max_unreachable_attempts: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            replication_window: Duration::from_secs(60),
            replication_step_cap: Duration::from_secs(1),
            reconcile_window: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Backoff steps `scale` times shorter (with a simulator started with `--time-scale`); the
    /// replication and reconcile windows stay in real time (the simulator's replication delay
    /// is not scaled).
    pub fn time_scaled(mut self, scale: f64) -> RetryPolicy {
        if scale.is_finite() && scale > 0.0 {
            self.base = self.base.div_f64(scale);
            self.cap = self.cap.div_f64(scale);
            self.replication_step_cap = self.replication_step_cap.div_f64(scale);
        }
        self
    }
}

/// What happened to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// A response arrived.
    Response {
        /// HTTP status.
        status: u16,
        /// The `Retry-After` header, as sent.
        retry_after: Option<&'a str>,
        /// The OData error `code`, when the body had one.
        error_code: Option<&'a str>,
        /// Graph's error says an object the request refers to does not exist (see
        /// [`says_missing_reference`]).
        missing_reference: bool,
    },
    /// The connection failed or dropped before a response (the request may have been applied).
    ConnectionFailed,
    /// No connection could be made (refused, the name does not resolve): nothing was sent.
    Unreachable,
}

/// One attempt and its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// 1 for the first attempt.
    pub number: u32,
    /// Time since the first attempt was sent.
    pub elapsed: Duration,
    /// The outcome.
    pub outcome: Outcome<'a>,
    /// The request is safe to repeat as is (GET, PATCH, PUT, an upsert, `/assign`); a POST that
    /// creates is not.
    pub idempotent: bool,
    /// The body references an object this run created a short while ago.
    pub references_new_object: bool,
}

/// Why a request is retried (for the journal and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryReason {
    /// 429.
    Throttled,
    /// 503.
    Unavailable,
    /// 500, 502, 504 or a dropped connection.
    Transient,
    /// A new object is not visible yet.
    Replication,
    /// The service could not be reached (connection refused, name not resolved).
    Unreachable,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It succeeded (2xx).
    Done,
    /// Send again after `after`.
    Retry {
        /// Wait before the next attempt.
        after: Duration,
        /// Why.
        reason: RetryReason,
        /// Look the object up by its match key before sending again (the create may have
        /// happened).
        reconcile_first: bool,
    },
    /// Stop: the failure is final (or retries are used up).
    GiveUp {
        /// The last reason retries were made for, if any were.
        exhausted: Option<RetryReason>,
    },
}

/// Error texts with which Graph says that an object a request refers to does not exist, as
/// opposed to the request itself being wrong:
/// - `Request_ResourceNotFound`: "Resource '<id>' does not exist or one of its queried
///   reference-property objects are not present." (graph-wire-facts.md section 4);
/// - `Request_BadRequest` on a write that binds a new group: "The source resource object or one
///   of the objects being referenced do not exist." (section 5.7, replication delay);
/// - an object id that is not (yet) known: "Invalid object identifier '<id>'." followed by one of
///   the above.
const MISSING_REFERENCE_TEXTS: &[&str] = &[
    "reference-property objects are not present",
    "objects being referenced do not exist",
    "object being referenced does not exist",
];

/// Does Graph's error (its OData `code` and `message`) say that an object the request refers to
/// does not exist? True for the not-found codes, and for a bad request whose message is one of
/// Graph's missing-object texts. False for everything else, notably an unknown property ("The
/// property 'x' does not exist on type ...") or an invalid value: waiting cannot fix those.
pub fn says_missing_reference(code: Option<&str>, message: Option<&str>) -> bool {
    match code {
        Some("Request_ResourceNotFound" | "ResourceNotFound" | "itemNotFound") => true,
        Some("Request_BadRequest" | "BadRequest" | "invalidRequest") => message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            MISSING_REFERENCE_TEXTS.iter().any(|text| m.contains(text))
        }),
        _ => false,
    }
}

/// Parse `Retry-After`: decimal seconds (`10`, `2.128`) or an HTTP date, relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?;
    let at = SystemTime::from(date.timestamp());
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with "equal jitter": half the step fixed, half random, capped.
/// `jitter` is a number in `[0, 1)`.
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let step = policy.base.saturating_mul(1u32 << exponent).min(policy.cap);
    let half = step / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// Decide what to do after an attempt. `now` is the wall clock (for HTTP-date `Retry-After`),
/// `jitter` a number in `[0, 1)`.
pub fn decide(
    policy: &RetryPolicy,
    attempt: &Attempt<'_>,
    now: SystemTime,
    jitter: f64,
) -> Decision {
    let (reason, server_wait) = match attempt.outcome {
        Outcome::Response { status, .. } if (200..300).contains(&status) => return Decision::Done,
        Outcome::Response {
            status: 429,
            retry_after,
            ..
        } => (
            RetryReason::Throttled,
            retry_after.and_then(|v| parse_retry_after(v, now)),
        ),
        Outcome::Response {
            status: 503,
            retry_after,
            ..
        } => (
            RetryReason::Unavailable,
            retry_after.and_then(|v| parse_retry_after(v, now)),
        ),
        Outcome::Response {
            status: 500 | 502 | 504,
            ..
        }
        | Outcome::ConnectionFailed => (RetryReason::Transient, None),
        Outcome::Unreachable => (RetryReason::Unreachable, None),
        Outcome::Response {
            status: 400 | 404,
            missing_reference: true,
            ..
        } if attempt.references_new_object => (RetryReason::Replication, None),
        Outcome::Response { .. } => return Decision::GiveUp { exhausted: None },
    };
    let allowed = match reason {
        RetryReason::Throttled | RetryReason::Unavailable => {
            attempt.number < policy.max_throttled_attempts
        }
        RetryReason::Transient => attempt.number < policy.max_transient_attempts,
        RetryReason::Replication => attempt.elapsed < policy.replication_window,
        RetryReason::Unreachable => attempt.number < policy.max_unreachable_attempts,
    };
    if !allowed {
        return Decision::GiveUp {
            exhausted: Some(reason),
        };
    }
    let after = server_wait.unwrap_or_else(|| match reason {
        RetryReason::Replication => {
            let polling = RetryPolicy {
                cap: policy.cap.min(policy.replication_step_cap),
                ..*policy
            };
            backoff(&polling, attempt.number, jitter)
        }
        _ => backoff(policy, attempt.number, jitter),
    });
    // A create that may have been applied (no response, or a server error after the body was
    // received) is looked up before it is sent again. Throttling (429/503) is decided before
    // the request is processed, so it needs no reconciliation.
    let reconcile_first = !attempt.idempotent && reason == RetryReason::Transient;
    Decision::Retry {
        after,
        reason,
        reconcile_first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(number: u32, outcome: Outcome<'_>) -> Attempt<'_> {
        Attempt {
            number,
            elapsed: Duration::from_secs(u64::from(number)),
            outcome,
            idempotent: true,
            references_new_object: false,
        }
    }

    fn response(
        status: u16,
        retry_after: Option<&'static str>,
        error_code: Option<&'static str>,
    ) -> Outcome<'static> {
        Outcome::Response {
            status,
            retry_after,
            error_code,
            missing_reference: says_missing_reference(error_code, None),
        }
    }

    #[test]
    fn retry_after_accepts_decimal_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_millis(2128))
        );
        // 2015-10-21T07:28:00Z is 10 s after `now`.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn throttling_honours_retry_after_and_backs_off_without_it() {
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        let d = decide(&p, &attempt(1, response(429, Some("3.5"), None)), now, 0.0);
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_millis(3500),
                reason: RetryReason::Throttled,
                reconcile_first: false
            }
        );
        // Conditional Access sends no Retry-After: exponential backoff, capped.
        let waits: Vec<Duration> = (1..=9)
            .map(
                |n| match decide(&p, &attempt(n, response(429, None, None)), now, 0.0) {
                    Decision::Retry { after, .. } => after,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(waits[0], Duration::from_millis(250));
        assert_eq!(waits[1], Duration::from_millis(500));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().expect("waits"), Duration::from_secs(30));
        assert_eq!(
            decide(&p, &attempt(10, response(429, None, None)), now, 0.0),
            Decision::GiveUp {
                exhausted: Some(RetryReason::Throttled)
            }
        );
    }

    #[test]
    fn time_scaling_shortens_backoff_but_not_the_replication_window() {
        let p = RetryPolicy::default().time_scaled(10.0);
        assert_eq!(p.base, Duration::from_millis(50));
        assert_eq!(p.cap, Duration::from_secs(6));
        assert_eq!(
            p.replication_window,
            RetryPolicy::default().replication_window
        );
        assert_eq!(
            RetryPolicy::default().time_scaled(0.0),
            RetryPolicy::default()
        );
    }

    #[test]
    fn jitter_stays_within_half_a_step() {
        let p = RetryPolicy::default();
        for n in 1..12 {
            let low = backoff(&p, n, 0.0);
            let high = backoff(&p, n, 0.999);
            assert!(high >= low && high <= low * 2, "{n}: {low:?} {high:?}");
            assert!(high <= p.cap);
        }
    }

    #[test]
    fn client_errors_do_not_retry_unless_a_new_object_is_not_visible_yet() {
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        let bad = response(400, None, Some("Request_BadRequest"));
        assert_eq!(
            decide(&p, &attempt(1, bad), now, 0.5),
            Decision::GiveUp { exhausted: None }
        );
        let forbidden = response(403, None, Some("Authorization_RequestDenied"));
        assert_eq!(
            decide(&p, &attempt(1, forbidden), now, 0.5),
            Decision::GiveUp { exhausted: None }
        );
        let missing = Outcome::Response {
            status: 400,
            retry_after: None,
            error_code: Some("Request_BadRequest"),
            missing_reference: true,
        };
        let mut a = attempt(1, missing);
        a.references_new_object = true;
        assert!(matches!(
            decide(&p, &a, now, 0.5),
            Decision::Retry {
                reason: RetryReason::Replication,
                ..
            }
        ));
        a.elapsed = p.replication_window;
        assert_eq!(
            decide(&p, &a, now, 0.5),
            Decision::GiveUp {
                exhausted: Some(RetryReason::Replication)
            }
        );
    }

    #[test]
    fn a_new_object_is_polled_at_most_a_replication_step_apart() {
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        let missing = Outcome::Response {
            status: 404,
            retry_after: None,
            error_code: Some("Request_ResourceNotFound"),
            missing_reference: true,
        };
        let wait = |n: u32, jitter: f64| {
            let mut a = attempt(n, missing);
            a.references_new_object = true;
            match decide(&p, &a, now, jitter) {
                Decision::Retry { after, reason, .. } => {
                    assert_eq!(reason, RetryReason::Replication);
                    after
                }
                other => panic!("{other:?}"),
            }
        };
        // The first steps double as any backoff's do; from the third on, half to all of 1 s.
        assert_eq!(wait(1, 0.0), Duration::from_millis(250));
        assert_eq!(wait(2, 0.0), Duration::from_millis(500));
        for n in 3..12 {
            assert_eq!(wait(n, 0.0), Duration::from_millis(500), "{n}");
            assert!(wait(n, 0.999) < Duration::from_secs(1), "{n}");
        }
        // Other retries keep doubling: a server error's fourth step is 2 to 4 s.
        let transient = attempt(4, response(500, None, None));
        assert!(matches!(
            decide(&p, &transient, now, 0.0),
            Decision::Retry { after, .. } if after == Duration::from_secs(2)
        ));
        // Time-scaled with the rest of the backoff.
        assert_eq!(
            p.time_scaled(20.0).replication_step_cap,
            Duration::from_millis(50)
        );
    }

    #[test]
    fn an_invalid_property_referencing_a_new_object_is_not_retried_as_replication() {
        // Regression (issue 15): any 400 on a request referencing a new object was retried for
        // the whole replication window, also "The property 'x' does not exist on type ...".
        let p = RetryPolicy::default();
        let message = "The property 'bogus' does not exist on type 'microsoft.graph.conditionalAccessPolicy'. Make sure to only use property names that are defined by the type or mark the type as open type.";
        let code = Some("Request_BadRequest");
        let mut a = attempt(
            1,
            Outcome::Response {
                status: 400,
                retry_after: None,
                error_code: code,
                missing_reference: says_missing_reference(code, Some(message)),
            },
        );
        a.references_new_object = true;
        assert_eq!(
            decide(&p, &a, SystemTime::UNIX_EPOCH, 0.5),
            Decision::GiveUp { exhausted: None }
        );
    }

    #[test]
    fn only_graphs_missing_object_errors_count_as_a_missing_reference() {
        let bad = Some("Request_BadRequest");
        for message in [
            "Resource '85f24181-0000-4000-8000-000000000000' does not exist or one of its queried reference-property objects are not present.",
            "Invalid object identifier '85f24181-0000-4000-8000-000000000000'. The source resource object or one of the objects being referenced do not exist.",
            "The source resource object or one of the objects being referenced do not exist.",
        ] {
            assert!(says_missing_reference(bad, Some(message)), "{message}");
        }
        assert!(says_missing_reference(
            Some("Request_ResourceNotFound"),
            None
        ));
        for message in [
            "The property 'bogus' does not exist on type 'microsoft.graph.group'. Make sure to only use property names that are defined by the type or mark the type as open type.",
            "Invalid value for property 'state': not one of the enum values",
            "Property 'id' is read-only and cannot be set.",
            "The request body is missing the required property 'displayName'.",
        ] {
            assert!(!says_missing_reference(bad, Some(message)), "{message}");
        }
        assert!(!says_missing_reference(bad, None));
        assert!(!says_missing_reference(
            Some("Authorization_RequestDenied"),
            Some("objects being referenced do not exist")
        ));
    }

    #[test]
    fn an_unreachable_service_fails_within_seconds_not_a_minute() {
        // Regression (issue 15): connection refused and DNS failures were retried like server
        // errors, about 100 s of silence before the tenant failed.
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        let mut waited = Duration::ZERO;
        let mut number = 1;
        loop {
            let mut a = attempt(number, Outcome::Unreachable);
            a.idempotent = false;
            match decide(&p, &a, now, 0.999) {
                Decision::Retry {
                    after,
                    reason,
                    reconcile_first,
                } => {
                    assert_eq!(reason, RetryReason::Unreachable);
                    // Nothing was sent, so even a create is sent again without a lookup.
                    assert!(!reconcile_first);
                    waited += after;
                }
                Decision::GiveUp { exhausted } => {
                    assert_eq!(exhausted, Some(RetryReason::Unreachable));
                    break;
                }
                Decision::Done => panic!("an unreachable service is not done"),
            }
            number += 1;
        }
        assert_eq!(number, p.max_unreachable_attempts);
        assert!(waited <= Duration::from_secs(2), "{waited:?}");
    }

    #[test]
    fn a_create_with_an_unknown_outcome_is_reconciled_before_it_is_sent_again() {
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        let mut a = attempt(1, Outcome::ConnectionFailed);
        a.idempotent = false;
        assert!(matches!(
            decide(&p, &a, now, 0.0),
            Decision::Retry {
                reconcile_first: true,
                reason: RetryReason::Transient,
                ..
            }
        ));
        // A 429 is decided before processing: nothing to reconcile.
        let mut t = attempt(1, response(429, Some("1"), None));
        t.idempotent = false;
        assert!(matches!(
            decide(&p, &t, now, 0.0),
            Decision::Retry {
                reconcile_first: false,
                ..
            }
        ));
        assert_eq!(
            decide(
                &p,
                &attempt(p.max_transient_attempts, Outcome::ConnectionFailed),
                now,
                0.0
            ),
            Decision::GiveUp {
                exhausted: Some(RetryReason::Transient)
            }
        );
        assert_eq!(
            decide(&p, &attempt(1, response(201, None, None)), now, 0.0),
            Decision::Done
        );
    }
}
