//! Drift: what a tenant has that its baselines do not say, classified per resource from the
//! plan (the one normalization decides "is this the same", so drift and plan never disagree):
//! **modified** (managed, with a property diff), **missing** (managed, deleted in the tenant),
//! **accepted** (differences an unexpired override accepts, with its reason), **not deployed**
//! (never created by tenantform), **ambiguous** (several look-alikes), **orphaned** (managed
//! before, no longer declared) and **unmanaged** (objects of a managed kind that no baseline
//! declares: listed, never touched). Who changed what and when is filled in afterwards by
//! [`audit`](crate::live::audit) from the tenant's audit logs.
//!
//! Input: a [`TenantPlan`], the [`LiveState`] it was made from, the identity map and the
//! tenant's acceptances. Output: a [`TenantDrift`]. Pure: no network.

use crate::compile::ops::Ops;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::bundle::{Operation, pointer_matches};
use crate::kinds::Shape;
use crate::live::normalize::Change;
use crate::live::plan::{Action, IdentityMap, LiveState, TenantPlan};

/// A difference an override accepts in one tenant (`accept` in `[[tenant.overrides]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// The resource key.
    pub resource: String,
    /// JSON pointers (with `*` for any one segment) whose differences are accepted; `/` or an
    /// empty list accepts every property of the resource.
    pub pointers: Vec<String>,
    /// Why.
    pub reason: String,
    /// Until when (ISO date); after it the differences are drift again.
    pub expires: Option<String>,
    /// True when `expires` is before today.
    pub expired: bool,
}

impl Acceptance {
    fn covers(&self, pointer: &str) -> bool {
        !self.expired
            && (self.pointers.is_empty()
                || self
                    .pointers
                    .iter()
                    .any(|p| p == "/" || pointer_matches(p, pointer) || under(pointer, p)))
    }
}

/// True when `pointer` is inside the object at `prefix`.
fn under(pointer: &str, prefix: &str) -> bool {
    pointer
        .strip_prefix(prefix.trim_end_matches('/'))
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Who made a change, and when (from the tenant's audit logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedBy {
    /// A user principal name, or an app's display name with its app id.
    pub actor: String,
    /// True when the actor is the app tenantform signs in as.
    pub is_self: bool,
    /// When (as Graph wrote it, UTC).
    pub at: String,
    /// What the log calls it ("Update Conditional Access policy").
    pub activity: String,
}

/// What drift found for one resource (or one unmanaged object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DriftState {
    /// Managed, and the tenant's object differs.
    Modified {
        /// The differences no override accepts.
        changes: Vec<Change>,
    },
    /// Managed, and the object is gone from the tenant.
    Missing,
    /// Every difference is accepted by an override.
    Accepted {
        /// The accepted differences.
        changes: Vec<Change>,
        /// The override's reason.
        reason: String,
        /// Its expiry.
        expires: Option<String>,
    },
    /// Declared, but tenantform never created or adopted it here (deploy would).
    NotDeployed,
    /// The baselines changed since the last deploy brought the object to them: the tenant is
    /// behind the project, nobody changed it (deploy brings it up to date).
    Pending {
        /// What deploy would change.
        changes: Vec<Change>,
    },
    /// Several objects match its key; deploy refuses to guess.
    Ambiguous {
        /// Their ids.
        object_ids: Vec<String>,
    },
    /// Managed before, no longer declared by any baseline (`deploy --prune` deletes it).
    Orphaned,
    /// An object of a managed kind that no baseline declares.
    Unmanaged {
        /// Its display name, when it has one.
        display_name: Option<String>,
    },
}

impl DriftState {
    /// True for what counts as drift (exit code 2): modified, missing, ambiguous.
    pub fn is_drift(&self) -> bool {
        matches!(
            self,
            DriftState::Modified { .. } | DriftState::Missing | DriftState::Ambiguous { .. }
        )
    }

    /// A short lower-case word for tables.
    pub fn word(&self) -> &'static str {
        match self {
            DriftState::Modified { .. } => "modified",
            DriftState::Missing => "missing",
            DriftState::Accepted { .. } => "accepted",
            DriftState::NotDeployed => "not deployed",
            DriftState::Pending { .. } => "pending",
            DriftState::Ambiguous { .. } => "ambiguous",
            DriftState::Orphaned => "orphaned",
            DriftState::Unmanaged { .. } => "unmanaged",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    /// The resource key (for unmanaged objects: `kind:<id>`).
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// The tenant's object id, when known.
    pub object_id: Option<String>,
    /// What was found.
    #[serde(flatten)]
    pub state: DriftState,
    /// The last change to the object, from the audit logs (modified and missing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<ChangedBy>,
    /// Why the last change could not be named, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by_unknown: Option<String>,
    /// When the live object says it was last changed (`lastModifiedDateTime` or
    /// `modifiedDateTime`), for saying why the audit log has no entry: not yet, or not any
    /// more. Not part of the output.
    #[serde(skip)]
    pub live_modified: Option<String>,
}

/// Drift of one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantDrift {
    /// Findings, resources in bundle order, then orphans, then unmanaged objects; resources
    /// in sync are not listed.
    pub items: Vec<DriftItem>,
    /// Resources found as the baselines say.
    pub in_sync: usize,
}

impl TenantDrift {
    /// True when something drifted (modified, missing or ambiguous).
    pub fn has_drift(&self) -> bool {
        self.items.iter().any(|i| i.state.is_drift())
    }

    /// Count of findings in a state word.
    pub fn count(&self, word: &str) -> usize {
        self.items.iter().filter(|i| i.state.word() == word).count()
    }
}

/// Split `changes` into those an acceptance covers and the rest.
fn split_accepted(
    changes: Vec<Change>,
    acceptance: Option<&Acceptance>,
) -> (Vec<Change>, Vec<Change>) {
    match acceptance {
        Some(a) => changes.into_iter().partition(|c| a.covers(&c.pointer)),
        None => (Vec::new(), changes),
    }
}

/// The live object with `id` that `op` addresses (a collection member, or the object at its
/// path).
fn live_object<'a>(live: &'a LiveState, op: &Operation, id: &str) -> Option<&'a Value> {
    live.collections
        .get(op.kind.name)
        .and_then(|items| {
            items.iter().find(|o| {
                o.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|i| i.eq_ignore_ascii_case(id))
            })
        })
        .or_else(|| live.by_path.get(&op.path))
}

/// When an object says it last changed.
fn modified_at(object: &Value) -> Option<String> {
    ["lastModifiedDateTime", "modifiedDateTime"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// Classify a tenant's plan into drift.
pub fn classify(
    operations: Ops<'_>,
    plan: &TenantPlan,
    live: &LiveState,
    identity: &IdentityMap,
    acceptances: &[Acceptance],
) -> TenantDrift {
    let mut items = Vec::new();
    let mut in_sync = 0;
    let mut claimed: BTreeSet<String> = identity
        .objects
        .values()
        .map(|id| id.to_ascii_lowercase())
        .collect();
    for (resource, op) in plan.resources.iter().zip(operations) {
        let managed = identity.objects.get(&resource.key);
        let acceptance = acceptances
            .iter()
            .filter(|a| a.resource == resource.key)
            .find(|a| !a.expired);
        let live_id = |object_id: &Option<String>| {
            object_id.clone().or_else(|| {
                live.by_path
                    .get(&op.path)
                    .and_then(|o| o.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        };
        let (state, object_id) = match &resource.action {
            Action::NoOp { .. } => {
                in_sync += 1;
                continue;
            }
            Action::Update { object_id, changes } => {
                if let Some(id) = object_id {
                    claimed.insert(id.to_ascii_lowercase());
                }
                let (accepted, rest) = split_accepted(changes.clone(), acceptance);
                let object_id = live_id(object_id);
                if !accepted.is_empty()
                    && let Some(a) = acceptance
                {
                    items.push(DriftItem {
                        key: resource.key.clone(),
                        kind: resource.kind.to_string(),
                        object_id: object_id.clone(),
                        state: DriftState::Accepted {
                            changes: accepted,
                            reason: a.reason.clone(),
                            expires: a.expires.clone(),
                        },
                        changed_by: None,
                        changed_by_unknown: None,
                        live_modified: None,
                    });
                }
                if rest.is_empty() {
                    continue;
                }
                // The last deploy recorded another body: the baseline moved, not the tenant.
                let baseline_changed = identity.applied.contains_key(&resource.key)
                    && !plan.drifted.contains(&resource.key);
                if baseline_changed {
                    (DriftState::Pending { changes: rest }, object_id)
                } else {
                    (DriftState::Modified { changes: rest }, object_id)
                }
            }
            Action::Create if managed.is_some() && op.kind.shape == Shape::Collection => {
                (DriftState::Missing, managed.cloned())
            }
            Action::Create => (DriftState::NotDeployed, None),
            Action::Adopt { object_id, .. } => {
                claimed.insert(object_id.to_ascii_lowercase());
                (DriftState::NotDeployed, Some(object_id.clone()))
            }
            Action::Missing { .. } => (DriftState::Missing, None),
            Action::Ambiguous { object_ids } => {
                claimed.extend(object_ids.iter().map(|id| id.to_ascii_lowercase()));
                (
                    DriftState::Ambiguous {
                        object_ids: object_ids.clone(),
                    },
                    None,
                )
            }
        };
        let live_modified = object_id
            .as_deref()
            .and_then(|id| live_object(live, op, id))
            .and_then(modified_at);
        items.push(DriftItem {
            key: resource.key.clone(),
            kind: resource.kind.to_string(),
            object_id,
            state,
            changed_by: None,
            changed_by_unknown: None,
            live_modified,
        });
    }
    for orphan in &plan.orphans {
        items.push(DriftItem {
            key: orphan.key.clone(),
            kind: orphan.kind.clone().unwrap_or_default(),
            object_id: Some(orphan.object_id.clone()),
            state: DriftState::Orphaned,
            changed_by: None,
            changed_by_unknown: None,
            live_modified: None,
        });
    }
    // Unmanaged: objects of the collections read whole (groups are read one by one, by their
    // unique names, so a tenant's other groups are not seen).
    for (kind, objects) in &live.collections {
        if *kind == "group" {
            continue;
        }
        for object in objects {
            let Some(id) = object.get("id").and_then(Value::as_str) else {
                continue;
            };
            if claimed.contains(&id.to_ascii_lowercase()) {
                continue;
            }
            items.push(DriftItem {
                key: format!("{kind}:{id}"),
                kind: (*kind).to_string(),
                object_id: Some(id.to_string()),
                state: DriftState::Unmanaged {
                    display_name: object
                        .get("displayName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
                changed_by: None,
                changed_by_unknown: None,
                live_modified: None,
            });
        }
    }
    TenantDrift { items, in_sync }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::plan::{self, PlanInput};
    use serde_json::json;

    fn setup() -> (
        crate::compile::validate::ValidatedBundle,
        LiveState,
        IdentityMap,
    ) {
        let bundle = plan::tests::minimal_bundle();
        let (live, identity) = plan::tests::deployed(&bundle);
        (bundle, live, identity)
    }

    fn drift_of(
        bundle: &crate::compile::validate::ValidatedBundle,
        live: &LiveState,
        identity: &IdentityMap,
        acceptances: &[Acceptance],
    ) -> TenantDrift {
        let input = PlanInput::from(bundle);
        let p = plan::plan(&input, live, identity);
        classify(
            (&bundle.bundle().operations).into(),
            &p,
            live,
            identity,
            acceptances,
        )
    }

    #[test]
    fn a_deployed_tenant_has_no_drift() {
        let (bundle, live, identity) = setup();
        let d = drift_of(&bundle, &live, &identity, &[]);
        assert!(!d.has_drift(), "{d:#?}");
        assert!(d.items.is_empty(), "{d:#?}");
        assert_eq!(d.in_sync, bundle.bundle().operations.len());
    }

    #[test]
    fn a_changed_policy_is_modified_a_deleted_one_missing_and_a_stranger_unmanaged() {
        let (bundle, mut live, identity) = setup();
        let policies = live
            .collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies");
        policies[0]["state"] = json!("disabled");
        policies.push(json!({"id": "stranger", "displayName": "Made by hand"}));
        live.collections
            .get_mut("namedLocation")
            .expect("locations")
            .clear();
        let d = drift_of(&bundle, &live, &identity, &[]);
        assert!(d.has_drift());
        let states: Vec<(&str, &str)> = d
            .items
            .iter()
            .map(|i| (i.key.as_str(), i.state.word()))
            .collect();
        assert!(
            states.contains(&("block-other-countries", "modified")),
            "{states:?}"
        );
        assert!(
            states.contains(&("allowed-countries", "missing")),
            "{states:?}"
        );
        assert!(
            states.contains(&("conditionalAccessPolicy:stranger", "unmanaged")),
            "{states:?}"
        );
        let modified = d
            .items
            .iter()
            .find(|i| i.key == "block-other-countries")
            .expect("modified");
        assert!(modified.object_id.is_some());
        match &modified.state {
            DriftState::Modified { changes } => assert_eq!(changes[0].pointer, "/state"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_override_accepts_a_difference_until_it_expires() {
        let (bundle, mut live, identity) = setup();
        live.collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies")[0]["state"] = json!("disabled");
        let mut acceptance = Acceptance {
            resource: "block-other-countries".into(),
            pointers: vec!["/state".into()],
            reason: "pilot in report-only".into(),
            expires: Some("2027-01-01".into()),
            expired: false,
        };
        let d = drift_of(&bundle, &live, &identity, std::slice::from_ref(&acceptance));
        assert!(!d.has_drift(), "{d:#?}");
        assert_eq!(d.count("accepted"), 1);
        acceptance.expired = true;
        let d = drift_of(&bundle, &live, &identity, &[acceptance]);
        assert!(d.has_drift(), "{d:#?}");
        assert_eq!(d.count("accepted"), 0);
    }

    #[test]
    fn an_acceptance_of_one_property_leaves_the_others_drift() {
        let (bundle, mut live, identity) = setup();
        let policy = &mut live
            .collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies")[0];
        policy["state"] = json!("disabled");
        policy["displayName"] = json!("renamed by hand");
        let acceptance = Acceptance {
            resource: "block-other-countries".into(),
            pointers: vec!["/state".into()],
            reason: "r".into(),
            expires: None,
            expired: false,
        };
        let d = drift_of(&bundle, &live, &identity, &[acceptance]);
        assert_eq!(d.count("accepted"), 1);
        assert_eq!(d.count("modified"), 1);
    }

    #[test]
    fn pointers_cover_their_subtrees_and_wildcards() {
        let a = Acceptance {
            resource: "x".into(),
            pointers: vec!["/conditions/users".into(), "/grantControls/*".into()],
            reason: "r".into(),
            expires: None,
            expired: false,
        };
        assert!(a.covers("/conditions/users/excludeGroups"));
        assert!(a.covers("/grantControls/builtInControls"));
        assert!(!a.covers("/conditions/usersX"));
        assert!(!a.covers("/state"));
    }
}
