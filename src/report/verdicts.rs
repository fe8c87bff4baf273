//! Control evidence from a live read (`tenantform evidence`): per tenant and control id, the
//! verdict (met, report-only, not met, skipped with the override's reason, not applicable,
//! unassessed), when the tenant was read, and per claiming resource its live object id, the
//! values the control's definition reads, what fails, and the journal evidence of the last run
//! that applied it (run id, time, record hash). As JSON (`tenantform.evidence/v2`), CSV (a row
//! per tenant, control and resource) or Markdown (for an auditor or a pull request).
//!
//! Input: [`LiveEvidence`]. Output: text.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::live::verdict::{ControlFinding, Verdict};
use crate::report::fleet::AppliedEvidence;

/// One tenant's evidence.
#[derive(Debug, Clone)]
pub struct TenantVerdicts {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// When it was read (absent when it could not be).
    pub read_at: Option<String>,
    /// Why it could not be read.
    pub error: Option<String>,
    /// Per control.
    pub controls: Vec<ControlFinding>,
    /// The journal evidence of its resources, by resource key.
    pub journal: BTreeMap<String, AppliedEvidence>,
}

/// The evidence of a run of `tenantform evidence`.
#[derive(Debug, Clone)]
pub struct LiveEvidence {
    /// The project's name.
    pub project: String,
    /// When the evidence was put together.
    pub generated_at: String,
    /// Per tenant, by name.
    pub tenants: Vec<TenantVerdicts>,
}

impl LiveEvidence {
    /// How many controls (over every tenant) have each verdict.
    pub fn counts(&self) -> BTreeMap<Verdict, usize> {
        let mut counts = BTreeMap::new();
        for t in &self.tenants {
            for c in &t.controls {
                *counts.entry(c.verdict).or_insert(0) += 1;
            }
        }
        counts
    }

    /// True when some tenant could not be read.
    pub fn unreadable(&self) -> bool {
        self.tenants.iter().any(|t| t.error.is_some())
    }

    /// True when some control is not met or only report-only (neither enforces it).
    pub fn short(&self) -> bool {
        self.tenants.iter().any(|t| {
            t.controls
                .iter()
                .any(|c| matches!(c.verdict, Verdict::NotMet | Verdict::ReportOnly))
        })
    }
}

#[derive(Serialize)]
struct JsonResource<'a> {
    #[serde(flatten)]
    finding: &'a crate::live::verdict::ResourceFinding,
    run_id: Option<&'a str>,
    applied_at: Option<&'a str>,
    journal_hash: Option<&'a str>,
}

/// The evidence as one JSON document (`tenantform.evidence/v2`).
pub fn json(e: &LiveEvidence) -> serde_json::Value {
    let tenants: Vec<serde_json::Value> = e
        .tenants
        .iter()
        .map(|t| {
            let controls: Vec<serde_json::Value> = t
                .controls
                .iter()
                .map(|c| {
                    let resources: Vec<JsonResource<'_>> = c
                        .resources
                        .iter()
                        .map(|r| {
                            let j = t.journal.get(&r.key);
                            JsonResource {
                                finding: r,
                                run_id: j.map(|j| j.run_id.as_str()),
                                applied_at: j.map(|j| j.at.as_str()),
                                journal_hash: j.map(|j| j.record_hash.as_str()),
                            }
                        })
                        .collect();
                    serde_json::json!({
                        "control": c.control,
                        "title": c.title,
                        "verdict": c.verdict,
                        "reason": c.reason,
                        "resources": resources,
                    })
                })
                .collect();
            serde_json::json!({
                "tenant": t.id,
                "tenant_name": t.name,
                "read_at": t.read_at,
                "error": t.error,
                "controls": controls,
            })
        })
        .collect();
    let counts: BTreeMap<&str, usize> =
        e.counts().into_iter().map(|(v, n)| (v.slug(), n)).collect();
    serde_json::json!({
        "format": "tenantform.evidence/v2",
        "project": e.project,
        "generated_at": e.generated_at,
        "counts": counts,
        "tenants": tenants,
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The evidence as CSV: a header, then a row per tenant, control and claiming resource (a
/// tenant that could not be read: one row with its error).
pub fn csv(e: &LiveEvidence) -> String {
    let mut out = String::from(
        "tenant,tenant_name,read_at,control,verdict,reason,resource,kind,object_id,resource_verdict,failures,run_id,applied_at,journal_hash\n",
    );
    let mut row = |fields: &[&str]| {
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    };
    for t in &e.tenants {
        let read_at = t.read_at.as_deref().unwrap_or("");
        if let Some(error) = &t.error {
            row(&[&t.id, &t.name, read_at, "", "unreadable", error]);
            continue;
        }
        for c in &t.controls {
            let reason = c.reason.as_deref().unwrap_or("");
            if c.resources.is_empty() {
                row(&[
                    &t.id,
                    &t.name,
                    read_at,
                    &c.control,
                    c.verdict.slug(),
                    reason,
                ]);
            }
            for r in &c.resources {
                let j = t.journal.get(&r.key);
                row(&[
                    &t.id,
                    &t.name,
                    read_at,
                    &c.control,
                    c.verdict.slug(),
                    reason,
                    &r.key,
                    &r.kind,
                    r.object_id.as_deref().unwrap_or(""),
                    r.verdict.slug(),
                    &r.failures.join("; "),
                    j.map_or("", |j| j.run_id.as_str()),
                    j.map_or("", |j| j.at.as_str()),
                    j.map_or("", |j| j.record_hash.as_str()),
                ]);
            }
        }
    }
    out
}

/// Markdown cell text: pipes escaped, line breaks as spaces.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The evidence as Markdown: the counts, a table per tenant (control, verdict, why, the
/// resources), and what could not be read.
pub fn markdown(e: &LiveEvidence) -> String {
    let mut out = format!(
        "# Control evidence: {}\n\nGenerated {} from a live read of {} tenants.\n\n",
        cell(&e.project),
        e.generated_at,
        e.tenants.len()
    );
    let counts = e.counts();
    if !counts.is_empty() {
        out.push_str("| verdict | controls |\n|---|---:|\n");
        for (v, n) in &counts {
            out.push_str(&format!("| {} | {n} |\n", v.label()));
        }
        out.push('\n');
    }
    for t in &e.tenants {
        out.push_str(&format!("## {} (`{}`)\n\n", cell(&t.name), t.id));
        if let Some(error) = &t.error {
            out.push_str(&format!("**Could not be read:** {}\n\n", cell(error)));
            continue;
        }
        if let Some(at) = &t.read_at {
            out.push_str(&format!("Read {at}.\n\n"));
        }
        out.push_str("| control | verdict | why | resources (object id, last applied) |\n|---|---|---|---|\n");
        for c in &t.controls {
            let resources: Vec<String> = c
                .resources
                .iter()
                .map(|r| {
                    let mut s = format!("`{}`", r.key);
                    if let Some(id) = &r.object_id {
                        s.push_str(&format!(" {id}"));
                    }
                    if let Some(j) = t.journal.get(&r.key) {
                        s.push_str(&format!(" (run {}, {})", j.run_id, j.at));
                    }
                    s
                })
                .collect();
            let verdict = match c.verdict {
                Verdict::NotMet => "**NOT MET**".to_string(),
                v => v.label().to_string(),
            };
            out.push_str(&format!(
                "| {}{} | {verdict} | {} | {} |\n",
                c.control,
                c.title
                    .as_deref()
                    .map(|t| format!(": {}", cell(t)))
                    .unwrap_or_default(),
                cell(c.reason.as_deref().unwrap_or("")),
                cell(&resources.join("<br>"))
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::verdict::ResourceFinding;

    fn sample() -> LiveEvidence {
        let finding = ResourceFinding {
            key: "ca-block-legacy-auth".into(),
            kind: "conditionalAccessPolicy".into(),
            object_id: Some("obj-1".into()),
            found: true,
            state: Some(serde_json::json!("disabled")),
            observed: BTreeMap::new(),
            verdict: Verdict::NotMet,
            failures: vec!["/state is \"disabled\", not \"enabled\"".into()],
        };
        LiveEvidence {
            project: "msp".into(),
            generated_at: "2026-12-06T12:00:00Z".into(),
            tenants: vec![
                TenantVerdicts {
                    id: "t1".into(),
                    name: "Contoso | EU".into(),
                    read_at: Some("2026-12-06T12:00:00Z".into()),
                    error: None,
                    controls: vec![ControlFinding {
                        control: "MS.AAD.1.1v1".into(),
                        title: Some("Block legacy authentication".into()),
                        verdict: Verdict::NotMet,
                        reason: Some("ca-block-legacy-auth: /state, \"disabled\"".into()),
                        resources: vec![finding],
                    }],
                    journal: BTreeMap::new(),
                },
                TenantVerdicts {
                    id: "t2".into(),
                    name: "Down".into(),
                    read_at: None,
                    error: Some("cannot read the tenant's configuration: 503".into()),
                    controls: Vec::new(),
                    journal: BTreeMap::new(),
                },
            ],
        }
    }

    #[test]
    fn every_format_carries_the_verdict_the_reason_and_the_unreadable_tenant() {
        let e = sample();
        assert!(e.short() && e.unreadable());
        let doc = json(&e);
        assert_eq!(doc["format"], "tenantform.evidence/v2");
        assert_eq!(doc["counts"]["not-met"], 1);
        assert_eq!(doc["tenants"][0]["controls"][0]["verdict"], "not-met");
        assert_eq!(
            doc["tenants"][0]["controls"][0]["resources"][0]["object_id"],
            "obj-1"
        );
        assert!(doc["tenants"][1]["error"].is_string());
        let text = csv(&e);
        assert!(
            text.contains("t1,Contoso | EU,2026-12-06T12:00:00Z,MS.AAD.1.1v1,not-met,"),
            "{text}"
        );
        assert!(text.contains("t2,Down,,,unreadable,"), "{text}");
        let md = markdown(&e);
        assert!(md.contains("## Contoso \\| EU (`t1`)"), "{md}");
        assert!(md.contains("| **NOT MET** |"), "{md}");
        assert!(md.contains("**Could not be read:**"), "{md}");
    }
}
