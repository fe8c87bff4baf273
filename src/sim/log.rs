//! The request log behind `GET /_sim/requests`: per tenant, counts by status and throttle
//! events, always; and the last N requests (method, path, status, request id) across all
//! tenants, so memory stays bounded however long the simulator runs.
//!
//! Input: one record per answered request (and per `$batch` item). Output: counts and entries,
//! as JSON for introspection.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

/// One logged request.
#[derive(Debug, Clone)]
struct Entry {
    sequence: u64,
    tenant: Option<u32>,
    method: Box<str>,
    path: Box<str>,
    status: u16,
    request_id: Box<str>,
    batch_item: bool,
    throttled: bool,
    retry_after: Option<f64>,
    fault: Option<&'static str>,
    at_ms: i64,
}

/// Counters of one tenant (or of requests without a tenant).
#[derive(Debug, Clone, Default)]
struct Counts {
    total: u64,
    by_status: BTreeMap<u16, u64>,
    throttle_events: u64,
    faults: u64,
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<Entry>,
    next_sequence: u64,
    counts: Vec<Counts>,
    untenanted: Counts,
}

/// What one record says.
#[derive(Debug, Clone)]
pub(crate) struct Record<'a> {
    /// The tenant (index), when known.
    pub(crate) tenant: Option<usize>,
    /// Method.
    pub(crate) method: &'a str,
    /// Path (with the version segment) and query.
    pub(crate) path: &'a str,
    /// Status answered (0 for a dropped connection).
    pub(crate) status: u16,
    /// `request-id` answered.
    pub(crate) request_id: &'a str,
    /// A `$batch` item.
    pub(crate) batch_item: bool,
    /// Answered 429 by the throttle.
    pub(crate) throttled: bool,
    /// The Retry-After sent with a 429, in seconds.
    pub(crate) retry_after: Option<f64>,
    /// The injected fault, if any.
    pub(crate) fault: Option<&'static str>,
    /// Wall-clock milliseconds.
    pub(crate) at_ms: i64,
}

/// The log.
#[derive(Debug)]
pub(crate) struct RequestLog {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl RequestLog {
    /// A log for `tenants` tenants keeping the last `capacity` entries.
    pub(crate) fn new(tenants: usize, capacity: usize) -> RequestLog {
        RequestLog {
            capacity,
            inner: Mutex::new(Inner {
                entries: VecDeque::with_capacity(capacity.min(4096)),
                next_sequence: 1,
                counts: vec![Counts::default(); tenants],
                untenanted: Counts::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Record one request.
    pub(crate) fn record(&self, record: &Record<'_>) {
        let mut inner = self.lock();
        let sequence = inner.next_sequence;
        inner.next_sequence += 1;
        let counts = match record.tenant.and_then(|t| inner.counts.get(t)) {
            Some(_) => &mut inner.counts[record.tenant.unwrap_or_default()],
            None => &mut inner.untenanted,
        };
        counts.total += 1;
        *counts.by_status.entry(record.status).or_default() += 1;
        if record.throttled {
            counts.throttle_events += 1;
        }
        if record.fault.is_some() {
            counts.faults += 1;
        }
        if self.capacity == 0 {
            return;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(Entry {
            sequence,
            tenant: record.tenant.and_then(|t| u32::try_from(t).ok()),
            method: record.method.into(),
            path: record.path.into(),
            status: record.status,
            request_id: record.request_id.into(),
            batch_item: record.batch_item,
            throttled: record.throttled,
            retry_after: record.retry_after,
            fault: record.fault,
            at_ms: record.at_ms,
        });
    }

    /// Forget everything (`POST /_sim/reset`).
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        for counts in inner.counts.iter_mut() {
            *counts = Counts::default();
        }
        inner.untenanted = Counts::default();
    }

    /// The log as JSON: for one tenant (by index) or for all. `tenant_ids` turns indexes into ids.
    pub(crate) fn to_json(
        &self,
        tenant: Option<usize>,
        tenant_ids: &dyn Fn(usize) -> String,
    ) -> Value {
        let inner = self.lock();
        let counts = match tenant {
            Some(t) => inner.counts.get(t).cloned().unwrap_or_default(),
            None => {
                let mut all = inner.untenanted.clone();
                for c in &inner.counts {
                    all.total += c.total;
                    all.throttle_events += c.throttle_events;
                    all.faults += c.faults;
                    for (status, n) in &c.by_status {
                        *all.by_status.entry(*status).or_default() += n;
                    }
                }
                all
            }
        };
        let entries: Vec<Value> = inner
            .entries
            .iter()
            .filter(|e| tenant.is_none() || e.tenant.map(|t| t as usize) == tenant)
            .map(|e| {
                let mut entry = json!({
                    "sequence": e.sequence,
                    "tenant": e.tenant.map(|t| tenant_ids(t as usize)),
                    "method": &*e.method,
                    "path": &*e.path,
                    "status": e.status,
                    "requestId": &*e.request_id,
                    "batchItem": e.batch_item,
                    "throttled": e.throttled,
                    "at": crate::sim::wire::graph_timestamp(e.at_ms),
                });
                if let Some(retry) = e.retry_after {
                    entry["retryAfter"] = json!(retry);
                }
                if let Some(fault) = e.fault {
                    entry["fault"] = json!(fault);
                }
                entry
            })
            .collect();
        let by_status: serde_json::Map<String, Value> = counts
            .by_status
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        json!({
            "tenant": tenant.map(tenant_ids),
            "total": counts.total,
            "byStatus": by_status,
            "throttleEvents": counts.throttle_events,
            "faults": counts.faults,
            "retained": entries.len(),
            "capacity": self.capacity,
            "requests": entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(log: &RequestLog, tenant: usize, status: u16) {
        log.record(&Record {
            tenant: Some(tenant),
            method: "GET",
            path: "/v1.0/groups",
            status,
            request_id: "r",
            batch_item: false,
            throttled: status == 429,
            retry_after: None,
            fault: None,
            at_ms: 0,
        });
    }

    #[test]
    fn counts_are_kept_and_entries_are_bounded() {
        let log = RequestLog::new(2, 3);
        for _ in 0..5 {
            record(&log, 0, 200);
        }
        record(&log, 1, 429);
        let ids = |i: usize| format!("t{i}");
        let all = log.to_json(None, &ids);
        assert_eq!(all["total"], 6);
        assert_eq!(all["retained"], 3);
        let one = log.to_json(Some(0), &ids);
        assert_eq!(one["byStatus"]["200"], 5);
        assert_eq!(one["retained"], 2);
        let other = log.to_json(Some(1), &ids);
        assert_eq!(other["throttleEvents"], 1);
    }
}
