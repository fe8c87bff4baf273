//! The JSON formats: one JSON object per event on stdout for plan and deploy
//! (`--format json`, for pipelines that follow a run), and diagnostics as JSON objects
//! (`validate --format json`).
//!
//! Input: [`Event`]s and [`Diagnostic`]s. Output: JSON text, written to an [`Output`].

use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::report::{Event, Output, Reporter};
use crate::source::{Location, SourceMap};

/// Plan and deploy events as JSON lines, one object per event, on the results stream.
#[derive(Debug)]
pub struct JsonLines {
    output: Output,
}

impl JsonLines {
    /// JSON lines to `output`.
    pub fn new(output: Output) -> JsonLines {
        JsonLines { output }
    }
}

impl Reporter for JsonLines {
    fn event(&mut self, event: Event<'_>) {
        let value = match event {
            Event::DeployStarted { tenants, plan_only } => {
                serde_json::json!({"event": "started", "tenants": tenants, "plan_only": plan_only})
            }
            Event::RingStarted { ring, tenants } => {
                serde_json::json!({"event": "ring_started", "ring": ring, "tenants": tenants})
            }
            Event::TenantStarted { id, name } => {
                serde_json::json!({"event": "tenant_started", "tenant": id, "name": name})
            }
            Event::ResourceApplied {
                tenant,
                key,
                action,
            } => {
                serde_json::json!({"event": "applied", "tenant": tenant, "key": key, "action": action})
            }
            Event::ResourceFailed {
                tenant,
                key,
                reason,
            } => {
                serde_json::json!({"event": "resource_failed", "tenant": tenant, "key": key, "reason": reason})
            }
            Event::RequestRetried {
                tenant,
                key,
                status,
                reason,
                after,
            } => {
                serde_json::json!({"event": "retry", "tenant": tenant, "key": key, "status": status, "reason": reason, "after_ms": after.as_millis() as u64})
            }
            Event::LockWaiting { tenant, holder } => {
                serde_json::json!({"event": "lock_waiting", "tenant": tenant, "holder": holder})
            }
            Event::TenantFinished { report } => {
                serde_json::json!({"event": "tenant_finished", "tenant": report.id, "name": report.name, "ok": report.ok, "counts": report.counts, "reason": report.reason, "seconds": report.seconds})
            }
            Event::DeployFinished { summary } => serde_json::json!({
                "event": "finished",
                "run_id": summary.run_id,
                "succeeded": summary.tenants.iter().filter(|t| t.ok).count(),
                "failed": summary.failed().count(),
                "not_started": summary.not_started,
                "stopped": summary.stopped,
                "seconds": summary.seconds,
                "requests": summary.requests,
                "retries": summary.retries,
                "throttled": summary.throttled,
            }),
            _ => return,
        };
        self.output.out(&format!("{value}\n"));
    }
}

/// A diagnostic as machine-readable JSON (one object; `tenantform validate --format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable code (`TF401`).
    pub code: &'static str,
    /// Code slug (`schema-violation`).
    pub name: &'static str,
    /// Message.
    pub message: String,
    /// Where.
    pub location: Option<Location>,
    /// JSON pointer in the rendered body.
    pub pointer: Option<String>,
    /// Resource key.
    pub resource: Option<String>,
    /// Tenant ids.
    pub tenants: Vec<String>,
    /// What was expected.
    pub expected: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Secondary locations.
    pub notes: Vec<JsonNote>,
}

/// A secondary location in JSON output.
#[derive(Debug, Serialize)]
pub struct JsonNote {
    /// What it shows.
    pub label: String,
    /// Where.
    pub location: Location,
}

/// Convert for JSON output.
pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    JsonDiagnostic {
        severity: d.severity,
        code: d.code.as_str(),
        name: d.code.slug(),
        message: d.message.clone(),
        location: d.span.map(|s| sources.location(s)),
        pointer: d.pointer.clone(),
        resource: d.resource.clone(),
        tenants: d.tenants.clone(),
        expected: d.expected.clone(),
        help: d.help.clone(),
        notes: d
            .notes
            .iter()
            .map(|n| JsonNote {
                label: n.label.clone(),
                location: sources.location(n.span),
            })
            .collect(),
    }
}

/// Diagnostics as one JSON document: counts and every diagnostic (`validate --format json`).
pub fn diagnostics_document(diagnostics: &Diagnostics, sources: &SourceMap) -> serde_json::Value {
    let items: Vec<_> = diagnostics.iter().map(|d| to_json(d, sources)).collect();
    serde_json::json!({
        "errors": diagnostics.error_count(),
        "warnings": diagnostics.warning_count(),
        "diagnostics": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::Buffer;

    #[test]
    fn json_lines_write_one_object_per_event_on_the_results_stream() {
        let (out, err) = (Buffer::default(), Buffer::default());
        let mut lines = JsonLines::new(Output::new(Box::new(out.clone()), Box::new(err.clone())));
        lines.event(Event::DeployStarted {
            tenants: 2,
            plan_only: true,
        });
        lines.event(Event::ResourceApplied {
            tenant: "t1",
            key: "group:a",
            action: "created",
        });
        let text = out.text();
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(events.len(), 2, "{text}");
        assert_eq!(events[0]["event"], "started");
        assert_eq!(events[1]["key"], "group:a");
        assert!(err.text().is_empty());
    }
}
