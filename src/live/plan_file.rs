//! The plan file (`plan --out`, `plan --format json`): per tenant, the bundle hash and live
//! fingerprint `deploy --plan` checks, its counts, every planned resource and the project's names
//! for the object ids. `deploy --plan` reads it back to apply exactly it; `report --from` reads it
//! to show the fleet.
//!
//! Input: the [`TenantReport`]s of a plan-only run. Output: a [`PlanFile`] (and back, read from
//! its JSON).

use serde::{Deserialize, Serialize};

use crate::live::names::ObjectNames;
use crate::live::normalize::Change;
use crate::report::{Counts, TenantReport};

/// The `format` of a plan file.
pub const PLAN_FORMAT: &str = "tenantform.plan/v1";

/// A saved plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`PLAN_FORMAT`].
    pub format: String,
    /// When the plan was made (RFC 3339).
    pub created: String,
    /// Per tenant, by tenant id.
    pub tenants: Vec<PlanFileTenant>,
    /// Cross-tenant synchronization links, each as one unit: both tenants' steps in deploy's
    /// order with what each would do (absent when the project has no links).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::report::LinkPlan>,
}

/// One tenant of a saved plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFileTenant {
    /// Tenant id.
    pub tenant: String,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// The bundle planned (none when the tenant could not be planned).
    pub bundle_hash: Option<String>,
    /// The live state seen.
    pub live_fingerprint: Option<String>,
    /// Why the tenant could not be planned.
    pub error: Option<String>,
    /// Resource counts.
    #[serde(default)]
    pub counts: Option<Counts>,
    /// Every planned resource (see [`crate::live::plan::PlannedResource`]; read back with
    /// [`PlanFileTenant::planned`]).
    #[serde(default)]
    pub resources: serde_json::Value,
    /// Managed objects the bundle no longer has.
    #[serde(default)]
    pub orphans: serde_json::Value,
    /// The project's names for the object ids in `resources` (`group:emergency-access`).
    #[serde(default)]
    pub names: ObjectNames,
    /// Changes that can lock people out (for programs; `--format markdown` shows them first).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub risks: serde_json::Value,
}

/// A planned resource as the plan file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavedResource {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// What deploy would do.
    #[serde(flatten)]
    pub action: SavedAction,
}

/// What deploy would do with a resource, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum SavedAction {
    /// Create it.
    Create,
    /// Change these properties.
    Update {
        /// Object id.
        #[serde(default)]
        object_id: Option<String>,
        /// Property changes.
        #[serde(default)]
        changes: Vec<Change>,
    },
    /// Nothing to do.
    NoOp {
        /// Object id.
        #[serde(default)]
        object_id: Option<String>,
    },
    /// Take over an existing object.
    Adopt {
        /// Object id.
        object_id: String,
        /// Property changes.
        #[serde(default)]
        changes: Vec<Change>,
    },
    /// Several objects match.
    Ambiguous {
        /// Their ids.
        #[serde(default)]
        object_ids: Vec<String>,
    },
    /// The object must exist and does not.
    Missing {
        /// What is missing.
        #[serde(default)]
        reason: String,
    },
}

impl SavedAction {
    /// The object id the plan knows for the resource.
    pub fn object_id(&self) -> Option<&str> {
        match self {
            SavedAction::Update { object_id, .. } | SavedAction::NoOp { object_id } => {
                object_id.as_deref()
            }
            SavedAction::Adopt { object_id, .. } => Some(object_id),
            SavedAction::Create | SavedAction::Ambiguous { .. } | SavedAction::Missing { .. } => {
                None
            }
        }
    }
}

impl PlanFileTenant {
    /// The planned resources (an entry that is not one is left out).
    pub fn planned(&self) -> Vec<SavedResource> {
        match &self.resources {
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The orphans (an entry that is not one is left out).
    pub fn orphans(&self) -> Vec<crate::live::plan::Orphan> {
        serde_json::from_value(self.orphans.clone()).unwrap_or_default()
    }
}

impl PlanFile {
    /// The plan file of a plan-only run's tenants, sorted by tenant id, made at `created`.
    pub fn from_reports(reports: &[TenantReport], created: String) -> PlanFile {
        let mut tenants: Vec<PlanFileTenant> = reports
            .iter()
            .map(|t| PlanFileTenant {
                tenant: t.id.clone(),
                name: t.name.clone(),
                ring: t.ring.clone(),
                bundle_hash: t.plan.as_ref().map(|p| p.bundle_hash.clone()),
                // A plan made without fingerprints has none to check: absent, not empty.
                live_fingerprint: t
                    .plan
                    .as_ref()
                    .map(|p| p.live_fingerprint.clone())
                    .filter(|f| !f.is_empty()),
                error: t.reason.clone(),
                counts: Some(t.counts),
                resources: t
                    .plan
                    .as_ref()
                    .map(|p| serde_json::to_value(&p.resources).unwrap_or_default())
                    .unwrap_or_default(),
                orphans: t
                    .plan
                    .as_ref()
                    .map(|p| serde_json::to_value(&p.orphans).unwrap_or_default())
                    .unwrap_or_default(),
                names: t.plan.as_ref().map(|p| p.names.clone()).unwrap_or_default(),
                risks: t
                    .plan
                    .as_ref()
                    .filter(|p| !p.risks.is_empty())
                    .map(|p| serde_json::to_value(&p.risks).unwrap_or_default())
                    .unwrap_or_default(),
            })
            .collect();
        tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        PlanFile {
            format: PLAN_FORMAT.into(),
            created,
            tenants,
            links: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_resources_read_back_with_their_diffs() {
        let tenant: PlanFileTenant = serde_json::from_value(serde_json::json!({
            "tenant": "t", "name": "T", "ring": "pilot", "bundle_hash": "sha256:a",
            "live_fingerprint": "sha256:b", "error": null,
            "resources": [
                {"key": "a", "kind": "group", "action": "create"},
                {"key": "b", "kind": "group", "action": "update", "object_id": "id-b",
                 "changes": [{"pointer": "/x", "desired": 1, "live": 2}]},
                {"key": "c", "kind": "group", "action": "no_op", "object_id": "id-c"},
                {"not": "a resource"}
            ]
        }))
        .expect("plan tenant");
        let planned = tenant.planned();
        assert_eq!(planned.len(), 3);
        assert_eq!(planned[0].action, SavedAction::Create);
        assert_eq!(planned[1].action.object_id(), Some("id-b"));
        match &planned[1].action {
            SavedAction::Update { changes, .. } => assert_eq!(changes[0].pointer, "/x"),
            other => panic!("expected an update, got {other:?}"),
        }
    }
}
