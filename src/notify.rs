//! Alerts: a drift summary posted to a webhook (`drift --notify URL`). The body is one JSON
//! document that Slack's and Teams' incoming webhooks both show (`text`, markdown) and that a
//! program can read (`tenantform`: the per-tenant counts). It never carries a secret: tenant
//! ids, names, resource keys and counts only, no bodies, tokens or credentials. A webhook's URL
//! is itself a secret (its path holds the token), so errors name only its scheme and host.
//!
//! Retried: connection failures, timeouts, 408, 429 and 5xx, a few times with a growing pause
//! (the sleep is injected, so tests do not wait); each attempt has a timeout.
//!
//! Input: a URL and a [`Notification`]. Output: the attempts it took, or a [`NotifyError`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct NotifyPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Pause before the second attempt; doubled before each next one.
    pub backoff: Duration,
    /// Each attempt's timeout.
    pub timeout: Duration,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        NotifyPolicy {
            attempts: 4,
            backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The URL is not an http(s) URL.
    #[error("--notify needs an http:// or https:// URL")]
    BadUrl,
    /// Every attempt failed.
    #[error(
        "the webhook at {origin} did not take the notification after {attempts} attempts: {last}"
    )]
    Failed {
        /// Scheme and host of the webhook (its path may hold a token and is not shown).
        origin: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// One tenant's line in a notification.
#[derive(Debug, Clone, Serialize)]
pub struct TenantLine {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `drifted`, `in-sync` or `unreadable`.
    pub status: String,
    /// Findings by state word (`modified` → 2).
    pub counts: std::collections::BTreeMap<String, usize>,
    /// The drifted resources' keys.
    pub drifted: Vec<String>,
}

/// What is posted.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Markdown for people (Slack's and Teams' `text`).
    pub text: String,
    /// The summary for programs.
    pub tenantform: NotificationBody,
}

/// The machine-readable part.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationBody {
    /// `tenantform.drift-alert/v1`.
    pub format: &'static str,
    /// Tenants that drifted or could not be read (in-sync ones are counted only).
    pub tenants: Vec<TenantLine>,
    /// Tenants checked.
    pub checked: usize,
}

/// `scheme://host[:port]` of a URL, for messages.
pub fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// A pause (injected: tests pass one that returns at once).
pub type Sleep = Box<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The real pause.
pub fn real_sleep() -> Sleep {
    Box::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// Post `notification` to `url`; the attempts it took.
pub async fn post(
    url: &str,
    notification: &Notification,
    policy: NotifyPolicy,
    sleep: &Sleep,
) -> Result<u32, NotifyError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| NotifyError::BadUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(NotifyError::BadUrl);
    }
    let client = reqwest::Client::builder()
        .timeout(policy.timeout)
        .build()
        .map_err(|e| NotifyError::Client(e.to_string()))?;
    let attempts = policy.attempts.max(1);
    let mut pause = policy.backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
        match client.post(parsed.clone()).json(notification).send().await {
            Ok(response) if response.status().is_success() => return Ok(attempt),
            Ok(response) => {
                let status = response.status();
                last = format!("HTTP {}", status.as_u16());
                let retryable =
                    status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
                if !retryable {
                    break;
                }
            }
            // The error's text can hold the URL: say what kind of failure it was only.
            Err(e) if e.is_timeout() => last = "timed out".into(),
            Err(e) if e.is_connect() => last = "could not connect".into(),
            Err(_) => last = "the request failed".into(),
        }
    }
    Err(NotifyError::Failed {
        origin: origin(url),
        attempts,
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_hides_the_path_and_query_where_webhook_tokens_live() {
        assert_eq!(
            origin("https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080"
        );
    }
}
