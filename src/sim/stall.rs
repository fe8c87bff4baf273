//! Stalls: hold the answer of one chosen Graph request until a test releases it, so the test
//! can kill the client while that request is in flight (`POST /_sim/stall`). A stall matches
//! the next request with its method whose path contains a text (case-insensitive), optionally
//! only in one tenant; it is applied first (`"applied": true`, the default: the client never
//! learns that its write happened) or held before it is applied (`false`; released, it is
//! dropped unapplied). `GET /_sim/stall`
//! says whether the stall was hit; `DELETE /_sim/stall` releases held requests and disarms.
//!
//! Input: the stall a test arms, each Graph request's method, path and tenant. Output: when a
//! request must wait, and for how long (until released).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// One armed stall.
#[derive(Debug, Clone)]
pub(crate) struct Stall {
    method: String,
    path_contains: String,
    tenant: Option<String>,
    /// Hold the answer after applying the request (true) or hold the request itself (false).
    pub(crate) applied: bool,
    hits: u64,
}

/// The stalls of a simulator: at most one armed, and a release generation that held
/// requests watch.
#[derive(Debug, Default)]
pub(crate) struct Stalls {
    armed: Mutex<Option<Stall>>,
    released: AtomicU64,
}

/// When a request waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Before it is applied.
    Before,
    /// After it is applied, before the answer.
    After,
}

impl Stalls {
    /// Arm a stall from `POST /_sim/stall`'s body, or say what the body lacks.
    pub(crate) fn arm(&self, body: &Value) -> Result<(), String> {
        let method = body["method"]
            .as_str()
            .ok_or("expected {\"method\": \"POST\", \"path\": \"/instantiate\"}")?;
        let path = body["path"]
            .as_str()
            .filter(|p| !p.is_empty())
            .ok_or("expected a non-empty \"path\" (a text the request path contains)")?;
        let stall = Stall {
            method: method.to_ascii_uppercase(),
            path_contains: path.to_ascii_lowercase(),
            tenant: body["tenant"].as_str().map(str::to_ascii_lowercase),
            applied: body["applied"].as_bool().unwrap_or(true),
            hits: 0,
        };
        if let Ok(mut armed) = self.armed.lock() {
            *armed = Some(stall);
        }
        Ok(())
    }

    /// What `GET /_sim/stall` answers.
    pub(crate) fn describe(&self) -> Value {
        match self.armed.lock().ok().and_then(|a| a.clone()) {
            Some(s) => json!({"armed": true, "method": s.method, "path": s.path_contains,
                "tenant": s.tenant, "applied": s.applied, "hits": s.hits}),
            None => json!({"armed": false, "hits": 0}),
        }
    }

    /// Release every held request and disarm.
    pub(crate) fn release(&self) {
        if let Ok(mut armed) = self.armed.lock() {
            *armed = None;
        }
        self.released.fetch_add(1, Ordering::SeqCst);
    }

    /// Does this request stall? Counts the hit and returns when to hold it and the release
    /// generation to wait past. The first match only: a stall holds one request.
    pub(crate) fn check(&self, method: &str, path: &str, tenant: &str) -> Option<(Hold, u64)> {
        let mut armed = self.armed.lock().ok()?;
        let stall = armed.as_mut()?;
        let matches = stall.hits == 0
            && stall.method.eq_ignore_ascii_case(method)
            && path.to_ascii_lowercase().contains(&stall.path_contains)
            && stall
                .tenant
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(tenant));
        if !matches {
            return None;
        }
        stall.hits += 1;
        let hold = if stall.applied {
            Hold::After
        } else {
            Hold::Before
        };
        Some((hold, self.released.load(Ordering::SeqCst)))
    }

    /// Wait until the stall that held a request at `generation` is released.
    pub(crate) async fn wait(&self, generation: u64) {
        while self.released.load(Ordering::SeqCst) == generation {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_holds_the_first_matching_request_only() {
        let stalls = Stalls::default();
        assert!(stalls.arm(&json!({"path": "/x"})).is_err());
        stalls
            .arm(&json!({"method": "post", "path": "/Instantiate", "tenant": "T1"}))
            .expect("armed");
        assert_eq!(stalls.check("GET", "/a/instantiate", "t1"), None);
        assert_eq!(stalls.check("POST", "/a/instantiate", "t2"), None);
        assert_eq!(
            stalls.check("POST", "/a/instantiate", "t1"),
            Some((Hold::After, 0))
        );
        assert_eq!(stalls.check("POST", "/a/instantiate", "t1"), None);
        assert_eq!(stalls.describe()["hits"], 1);
        stalls.release();
        assert_eq!(stalls.describe()["armed"], false);
    }
}
