//! `tenantform drift`'s results for people and pipelines: text (per tenant, each finding with
//! its property diff and who changed it), one JSON document, markdown for a pull request or a
//! job summary, and JUnit (a tenant is a suite, a drifted resource a failed case).
//!
//! Diffs read `baseline -> tenant`: what the baselines say, then what the tenant has now, with
//! object ids the project knows shown by name (as plan shows them).
//!
//! Input: the tenants' [`TenantReport`]s of a drift run. Output: text.

use serde::Serialize;
use serde_json::Value;

use crate::live::drift::{DriftItem, DriftState, TenantDrift};
use crate::live::names::ObjectNames;
use crate::live::normalize::Change;
use crate::report::TenantReport;
use crate::report::human::show;

/// How a tenant came out of a drift run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantStatus {
    /// Everything as the baselines say (accepted differences aside).
    InSync,
    /// Something was modified, deleted or is ambiguous.
    Drifted,
    /// The tenant could not be read.
    Unreadable,
}

/// A tenant's status.
pub fn status(report: &TenantReport) -> TenantStatus {
    match &report.drift {
        Some(d) if d.has_drift() => TenantStatus::Drifted,
        Some(_) => TenantStatus::InSync,
        None => TenantStatus::Unreadable,
    }
}

fn names_of(report: &TenantReport) -> ObjectNames {
    report
        .plan
        .as_ref()
        .map(|p| p.names.clone())
        .unwrap_or_default()
}

fn changed_by_text(item: &DriftItem) -> Option<String> {
    match (&item.changed_by, &item.changed_by_unknown) {
        (Some(by), _) => Some(format!(
            "changed by {}{} at {} ({})",
            by.actor,
            if by.is_self {
                " (tenantform itself)"
            } else {
                ""
            },
            by.at,
            by.activity
        )),
        (None, Some(why)) => Some(format!("changed by: unknown, {why}")),
        (None, None) => None,
    }
}

/// Each change as `pointer: baseline -> tenant`, one line each, indented under its resource.
fn changes_lines(changes: &[Change], names: &ObjectNames, whole: bool, indent: &str) -> String {
    changes
        .iter()
        .map(|c| {
            format!(
                "{indent}    {}: {} -> {}\n",
                c.pointer,
                show(&c.desired, names, whole),
                show(&c.live, names, whole)
            )
        })
        .collect()
}

/// One finding in the drift notation (its mark, key, kind and state, each change as
/// `pointer: baseline -> tenant`, and who changed it), every line indented by `indent`.
pub fn item_lines(item: &DriftItem, names: &ObjectNames, whole: bool, indent: &str) -> String {
    let mut text = String::new();
    let id = item
        .object_id
        .as_deref()
        .map(|id| format!(" {id}"))
        .unwrap_or_default();
    match &item.state {
        DriftState::Modified { changes } => {
            text.push_str(&format!(
                "{indent}~ {:<44} {} modified{id}\n",
                item.key, item.kind
            ));
            text.push_str(&changes_lines(changes, names, whole, indent));
        }
        DriftState::Missing => text.push_str(&format!(
            "{indent}- {:<44} {} missing: deleted in the tenant{id}\n",
            item.key, item.kind
        )),
        DriftState::Accepted {
            changes,
            reason,
            expires,
        } => {
            text.push_str(&format!(
                "{indent}= {:<44} {} accepted: {reason}{}\n",
                item.key,
                item.kind,
                expires
                    .as_deref()
                    .map(|e| format!(" (until {e})"))
                    .unwrap_or_default()
            ));
            text.push_str(&changes_lines(changes, names, whole, indent));
        }
        DriftState::Pending { changes } => {
            text.push_str(&format!(
                "{indent}> {:<44} {} pending: the baselines changed since the last deploy{id}\n",
                item.key, item.kind
            ));
            text.push_str(&changes_lines(changes, names, whole, indent));
        }
        DriftState::NotDeployed => text.push_str(&format!(
            "{indent}+ {:<44} {} not deployed yet{}\n",
            item.key,
            item.kind,
            item.object_id
                .as_deref()
                .map(|id| format!(" (deploy adopts {id}, which matches its key)"))
                .unwrap_or_default()
        )),
        DriftState::Ambiguous { object_ids } => text.push_str(&format!(
            "{indent}! {:<44} {} ambiguous: {} objects match its key: {}\n",
            item.key,
            item.kind,
            object_ids.len(),
            object_ids.join(", ")
        )),
        DriftState::Orphaned => text.push_str(&format!(
            "{indent}? {:<44} orphaned: managed before, no baseline declares it now{id} (deploy --prune deletes it)\n",
            item.key
        )),
        DriftState::Unmanaged { display_name } => text.push_str(&format!(
            "{indent}? {:<44} {} unmanaged: \"{}\" (no baseline declares it; left alone)\n",
            item.object_id.as_deref().unwrap_or_default(),
            item.kind,
            display_name.as_deref().unwrap_or("(no name)")
        )),
    }
    if let Some(by) = changed_by_text(item) {
        text.push_str(&format!("{indent}    {by}\n"));
    }
    text
}

fn counts_text(d: &TenantDrift) -> String {
    let mut parts: Vec<String> = [
        "modified",
        "missing",
        "ambiguous",
        "accepted",
        "pending",
        "not deployed",
        "orphaned",
        "unmanaged",
    ]
    .iter()
    .filter_map(|w| {
        let n = d.count(w);
        (n > 0).then(|| format!("{n} {w}"))
    })
    .collect();
    parts.push(format!("{} in sync", d.in_sync));
    parts.join(", ")
}

/// The drift of every tenant for people; `whole` shows every value whole.
pub fn drift_text(reports: &[TenantReport], whole: bool) -> String {
    let mut text = String::new();
    let (mut drifted, mut unreadable) = (0, 0);
    for r in reports {
        match (&r.drift, status(r)) {
            (Some(d), st) => {
                if st == TenantStatus::Drifted {
                    drifted += 1;
                }
                let word = if st == TenantStatus::Drifted {
                    "DRIFTED"
                } else {
                    "in sync"
                };
                text.push_str(&format!(
                    "{} ({}): {word}; {}\n",
                    r.name,
                    r.id,
                    counts_text(d)
                ));
                let names = names_of(r);
                for item in &d.items {
                    text.push_str(&item_lines(item, &names, whole, "  "));
                }
            }
            (None, _) => {
                unreadable += 1;
                text.push_str(&format!(
                    "{} ({}): NOT READ: {}\n",
                    r.name,
                    r.id,
                    r.reason.as_deref().unwrap_or("unknown")
                ));
            }
        }
    }
    let n = reports.len();
    text.push_str(&format!(
        "drift: {n} {}; {drifted} drifted, {} in sync{}\n",
        if n == 1 { "tenant" } else { "tenants" },
        n - drifted - unreadable,
        if unreadable > 0 {
            format!(", {unreadable} could not be read")
        } else {
            String::new()
        }
    ));
    text
}

/// One tenant in the JSON document.
#[derive(Debug, Serialize)]
struct JsonTenant<'a> {
    id: &'a str,
    name: &'a str,
    ring: &'a str,
    status: TenantStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    in_sync: usize,
    items: &'a [DriftItem],
    names: Value,
}

/// The drift document (`drift --format json`): `format`, when it was `created` (RFC 3339), the
/// tenants sorted by name.
pub fn drift_json(reports: &[TenantReport], created: &str) -> Value {
    let tenants: Vec<JsonTenant<'_>> = reports
        .iter()
        .map(|r| JsonTenant {
            id: &r.id,
            name: &r.name,
            ring: &r.ring,
            status: status(r),
            reason: if r.drift.is_none() {
                r.reason.as_deref()
            } else {
                None
            },
            in_sync: r.drift.as_ref().map_or(0, |d| d.in_sync),
            items: r.drift.as_ref().map_or(&[][..], |d| &d.items),
            names: serde_json::to_value(names_of(r)).unwrap_or(Value::Null),
        })
        .collect();
    serde_json::json!({
        "format": "tenantform.drift/v1",
        "created": created,
        "tenants": tenants,
    })
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown for a pull request or a CI job summary: a table of tenants, and per drifted
/// tenant a collapsible list of findings with their diffs.
pub fn drift_markdown(reports: &[TenantReport]) -> String {
    let mut text =
        String::from("## tenantform drift\n\n| tenant | status | findings |\n|---|---|---|\n");
    for r in reports {
        let (word, detail) = match (&r.drift, status(r)) {
            (Some(d), TenantStatus::Drifted) => ("**drifted**", counts_text(d)),
            (Some(d), _) => ("in sync", counts_text(d)),
            (None, _) => (
                "**not read**",
                md_escape(r.reason.as_deref().unwrap_or("unknown")),
            ),
        };
        text.push_str(&format!(
            "| {} (`{}`) | {word} | {detail} |\n",
            md_escape(&r.name),
            r.id
        ));
    }
    for r in reports {
        let Some(d) = &r.drift else { continue };
        if d.items.is_empty() {
            continue;
        }
        let names = names_of(r);
        text.push_str(&format!(
            "\n<details><summary>{} ({}): {}</summary>\n\n```text\n",
            md_escape(&r.name),
            r.id,
            counts_text(d)
        ));
        for item in &d.items {
            text.push_str(&item_lines(item, &names, true, "").replace("```", "'''"));
        }
        text.push_str("```\n\n</details>\n");
    }
    text
}

/// JUnit XML: a suite per tenant, a case per resource that drifted (failed) and one that
/// passes for the resources in sync; an unreadable tenant is an error.
pub fn drift_junit(reports: &[TenantReport]) -> String {
    fn esc(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tenantform drift\">\n",
    );
    for r in reports {
        match &r.drift {
            Some(d) => {
                let drifted: Vec<&DriftItem> =
                    d.items.iter().filter(|i| i.state.is_drift()).collect();
                xml.push_str(&format!(
                    "  <testsuite name=\"{} ({})\" tests=\"{}\" failures=\"{}\">\n    <testcase name=\"in sync\" classname=\"{}\"/>\n",
                    esc(&r.name),
                    r.id,
                    drifted.len() + 1,
                    drifted.len(),
                    r.id
                ));
                let names = names_of(r);
                for item in drifted {
                    xml.push_str(&format!(
                        "    <testcase name=\"{}\" classname=\"{}\"><failure message=\"{}\">{}</failure></testcase>\n",
                        esc(&item.key),
                        r.id,
                        item.state.word(),
                        esc(&item_lines(item, &names, true, ""))
                    ));
                }
                xml.push_str("  </testsuite>\n");
            }
            None => xml.push_str(&format!(
                "  <testsuite name=\"{} ({})\" tests=\"1\" errors=\"1\">\n    <testcase name=\"read\" classname=\"{}\"><error message=\"{}\"/></testcase>\n  </testsuite>\n",
                esc(&r.name),
                r.id,
                r.id,
                esc(r.reason.as_deref().unwrap_or("unknown"))
            )),
        }
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// The webhook alert of a drift run (`drift --notify`): markdown text and per-tenant counts,
/// no bodies and no secrets.
pub fn notification(reports: &[TenantReport]) -> crate::notify::Notification {
    use crate::notify::{Notification, NotificationBody, TenantLine};
    let mut lines = Vec::new();
    let mut text = String::new();
    for r in reports {
        let st = status(r);
        if st == TenantStatus::InSync {
            continue;
        }
        let mut counts = std::collections::BTreeMap::new();
        let mut drifted = Vec::new();
        if let Some(d) = &r.drift {
            for item in &d.items {
                *counts.entry(item.state.word().to_string()).or_insert(0) += 1;
                if item.state.is_drift() {
                    drifted.push(item.key.clone());
                }
            }
        }
        text.push_str(&match &r.drift {
            Some(d) => format!(
                "- **{}** (`{}`): {}\n",
                md_escape(&r.name),
                r.id,
                counts_text(d)
            ),
            None => format!(
                "- **{}** (`{}`): could not be read\n",
                md_escape(&r.name),
                r.id
            ),
        });
        lines.push(TenantLine {
            id: r.id.clone(),
            name: r.name.clone(),
            status: match st {
                TenantStatus::Drifted => "drifted",
                TenantStatus::Unreadable => "unreadable",
                TenantStatus::InSync => "in-sync",
            }
            .to_string(),
            counts,
            drifted,
        });
    }
    let header = format!(
        "**tenantform drift**: {} of {} tenants need attention\n",
        lines.len(),
        reports.len()
    );
    Notification {
        text: header + &text,
        tenantform: NotificationBody {
            format: "tenantform.drift-alert/v1",
            tenants: lines,
            checked: reports.len(),
        },
    }
}
