//! Control evidence (`tenantform evidence`): per tenant and control id, its state and, per
//! resource implementing it, the evidence of what was deployed: resource key, kind, object id,
//! the last run that applied it, when, and that journal record's hash (its place in the run's
//! hash chain, which `runs show` verifies). As JSON (one document) or CSV (a row per tenant,
//! control and resource).
//!
//! Input: a [`FleetStatus`]. Output: text.

use serde::Serialize;

use crate::report::fleet::{ControlState, FleetStatus};

/// One resource's evidence for a control.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceEvidence {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// Its state.
    pub state: ControlState,
    /// Object id.
    pub object_id: Option<String>,
    /// The run that last applied it.
    pub run_id: Option<String>,
    /// When.
    pub applied_at: Option<String>,
    /// The journal record's hash.
    pub journal_hash: Option<String>,
}

/// One control in one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct ControlEvidence {
    /// Control id.
    pub control: String,
    /// Tenant id.
    pub tenant: String,
    /// Tenant name.
    pub tenant_name: String,
    /// Its state.
    pub state: ControlState,
    /// Why (the override's reason when skipped, the failure when failed).
    pub reason: Option<String>,
    /// The resources implementing it.
    pub resources: Vec<ResourceEvidence>,
}

/// Every tenant's controls, by control id then tenant name.
pub fn evidence(status: &FleetStatus) -> Vec<ControlEvidence> {
    let mut out = Vec::new();
    for control in &status.controls {
        let mut tenants: Vec<_> = status.tenants.iter().collect();
        tenants.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        for t in tenants {
            let Some(c) = t.controls.get(control) else {
                continue;
            };
            let resources = t
                .resources
                .iter()
                .filter(|r| r.controls.contains(control))
                .map(|r| ResourceEvidence {
                    key: r.key.clone(),
                    kind: r.kind.clone(),
                    state: r.state,
                    object_id: r.object_id.clone(),
                    run_id: r.applied.as_ref().map(|a| a.run_id.clone()),
                    applied_at: r.applied.as_ref().map(|a| a.at.clone()),
                    journal_hash: r.applied.as_ref().map(|a| a.record_hash.clone()),
                })
                .collect();
            out.push(ControlEvidence {
                control: control.clone(),
                tenant: t.id.clone(),
                tenant_name: t.name.clone(),
                state: c.state,
                reason: c.reason.clone(),
                resources,
            });
        }
    }
    out
}

/// The evidence as one JSON document.
pub fn json(status: &FleetStatus) -> serde_json::Value {
    serde_json::json!({
        "format": "tenantform.evidence/v1",
        "project": status.project,
        "as_of": status.generated_at,
        "sources": status.sources,
        "controls": evidence(status),
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The evidence as CSV: a header, then a row per tenant, control and resource.
pub fn csv(status: &FleetStatus) -> String {
    let mut out = String::from(
        "control,tenant,tenant_name,state,reason,resource,kind,resource_state,object_id,run_id,applied_at,journal_hash\n",
    );
    for e in evidence(status) {
        let head = [
            e.control.as_str(),
            e.tenant.as_str(),
            e.tenant_name.as_str(),
            e.state.slug(),
            e.reason.as_deref().unwrap_or(""),
        ];
        let rows: Vec<[String; 7]> = if e.resources.is_empty() {
            vec![Default::default()]
        } else {
            e.resources
                .iter()
                .map(|r| {
                    [
                        r.key.clone(),
                        r.kind.clone(),
                        r.state.slug().to_string(),
                        r.object_id.clone().unwrap_or_default(),
                        r.run_id.clone().unwrap_or_default(),
                        r.applied_at.clone().unwrap_or_default(),
                        r.journal_hash.clone().unwrap_or_default(),
                    ]
                })
                .collect()
        };
        for row in rows {
            let fields: Vec<String> = head
                .iter()
                .map(|f| csv_field(f))
                .chain(row.iter().map(|f| csv_field(f)))
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("P1, not P2"), "\"P1, not P2\"");
        assert_eq!(csv_field("say \"no\""), "\"say \"\"no\"\"\"");
    }
}
