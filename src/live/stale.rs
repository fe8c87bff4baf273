//! Stage 3, `live`: what changed in a tenant since a plan was made. `deploy --plan` applies a
//! saved plan only to tenants whose live objects are still the ones the plan saw; when one is
//! not, this says which resources' objects changed and how, so the refusal can name them.
//!
//! Input: the resources as the saved plan recorded them ([`SeenResource`], read back from the
//! plan file) and today's [`TenantPlan`] of the same bundle. Output: one [`ChangedSince`] per
//! resource whose live object differs from what the plan saw. Pure, like `plan`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::live::normalize::Change;
use crate::live::plan::{Action, PlannedResource, TenantPlan};

/// One resource as a saved plan recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenResource {
    /// Resource key.
    pub key: String,
    /// What the plan would have done (`create`, `update`, `no_op`, `adopt`, `ambiguous`).
    pub action: String,
    /// The object the plan saw, when it saw one with an id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// The property changes the plan showed (live value then, desired value).
    #[serde(default)]
    pub changes: Vec<Change>,
    /// `sha256:` of the live object the plan saw (absent in plans from before it was recorded).
    #[serde(default)]
    pub live_hash: Option<String>,
}

/// One property whose live value is not what the plan saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// JSON pointer of the property.
    pub pointer: String,
    /// Its value when the plan was made (`None`: absent, null or empty).
    pub then: Option<Value>,
    /// Its value now.
    pub now: Option<Value>,
}

/// How a resource's live object changed since the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// The plan saw no object; one exists now (created behind the plan's back).
    Appeared,
    /// The plan saw an object; there is none now (deleted).
    Disappeared,
    /// Properties the baseline sets changed.
    Properties(Vec<Difference>),
    /// Only properties the baseline does not set changed (the plan's diff would not show them).
    Unmanaged,
}

/// A resource whose live object changed since the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedSince {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: &'static str,
    /// The object now (or the one the plan saw, when it is gone).
    pub object_id: Option<String>,
    /// How.
    pub since: Since,
}

fn object_id(action: &Action) -> Option<String> {
    match action {
        Action::Update { object_id, .. } | Action::NoOp { object_id } => object_id.clone(),
        Action::Adopt { object_id, .. } => Some(object_id.clone()),
        Action::Create | Action::Ambiguous { .. } | Action::Missing { .. } => None,
    }
}

fn changes(action: &Action) -> &[Change] {
    match action {
        Action::Update { changes, .. } | Action::Adopt { changes, .. } => changes,
        _ => &[],
    }
}

/// The properties whose live value moved: a property missing from a plan's changes had its
/// desired value then (the plan showed no change for it).
fn differences(then: &[Change], now: &[Change]) -> Vec<Difference> {
    let mut by_pointer: BTreeMap<&str, (Option<&Change>, Option<&Change>)> = BTreeMap::new();
    for c in then {
        by_pointer.entry(&c.pointer).or_default().0 = Some(c);
    }
    for c in now {
        by_pointer.entry(&c.pointer).or_default().1 = Some(c);
    }
    by_pointer
        .into_iter()
        .filter_map(|(pointer, (t, n))| {
            let then = t.map_or_else(|| n.and_then(|c| c.desired.clone()), |c| c.live.clone());
            let now = n.map_or_else(|| t.and_then(|c| c.desired.clone()), |c| c.live.clone());
            (then != now).then(|| Difference {
                pointer: pointer.to_string(),
                then,
                now,
            })
        })
        .collect()
}

fn changed(seen: &SeenResource, now: &PlannedResource) -> Option<Since> {
    let saw_object = seen.live_hash.is_some() || seen.action != "create";
    let has_object = now.live_hash.is_some() || !matches!(now.action, Action::Create);
    match (saw_object, has_object) {
        (false, false) => None,
        (false, true) => Some(Since::Appeared),
        (true, false) => Some(Since::Disappeared),
        (true, true) => {
            let found = differences(&seen.changes, changes(&now.action));
            let hash_moved =
                matches!((&seen.live_hash, &now.live_hash), (Some(a), Some(b)) if a != b);
            if !found.is_empty() {
                Some(Since::Properties(found))
            } else if hash_moved {
                Some(Since::Unmanaged)
            } else {
                None
            }
        }
    }
}

/// The resources of `now` whose live object is not what the plan (`seen`) saw, in the
/// bundle's order. Empty when the plan recorded nothing this can compare.
pub fn changed_since(seen: &[SeenResource], now: &TenantPlan) -> Vec<ChangedSince> {
    let seen: BTreeMap<&str, &SeenResource> = seen.iter().map(|s| (s.key.as_str(), s)).collect();
    now.resources
        .iter()
        .filter_map(|r| {
            let before = seen.get(r.key.as_str())?;
            let since = changed(before, r)?;
            Some(ChangedSince {
                key: r.key.clone(),
                kind: r.kind,
                object_id: object_id(&r.action).or_else(|| before.object_id.clone()),
                since,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::plan::{IdentityMap, LiveState, PlanInput, plan};
    use serde_json::json;

    /// The plan file's record of a plan (what `plan --out` writes, read back).
    fn saved(p: &TenantPlan) -> Vec<SeenResource> {
        serde_json::from_value(serde_json::to_value(&p.resources).expect("json")).expect("seen")
    }

    fn deployed(bundle: &crate::compile::validate::ValidatedBundle) -> (LiveState, IdentityMap) {
        let mut live = LiveState::default();
        let mut identity = IdentityMap::default();
        for (i, op) in bundle.bundle().operations.iter().enumerate() {
            identity.objects.insert(
                op.key.clone(),
                format!("00000000-0000-4000-8000-00000000000{i}"),
            );
        }
        let empty = plan(&PlanInput::from(bundle), &LiveState::default(), &identity);
        let ids = crate::live::known_ids(&empty, &identity);
        for op in &bundle.bundle().operations {
            let mut body = crate::compile::bundle::resolve_refs_in_value(&op.body, &mut |k| {
                ids.get(k).cloned()
            })
            .expect("refs");
            body["id"] = json!(identity.objects[&op.key]);
            live.collections.entry(op.kind.name).or_default().push(body);
        }
        (live, identity)
    }

    #[test]
    fn a_stale_plan_names_the_resource_and_the_property_that_changed() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let (mut live, identity) = deployed(&bundle);
        let then = plan(&PlanInput::from(&bundle), &live, &identity);
        assert!(then.is_empty(), "{then:#?}");
        let policies = live
            .collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies");
        let was = policies[0]["state"].clone();
        policies[0]["state"] = json!("disabled");
        let key = bundle
            .bundle()
            .operations
            .iter()
            .find(|o| o.kind.name == "conditionalAccessPolicy")
            .expect("a policy")
            .key
            .clone();
        let now = plan(&PlanInput::from(&bundle), &live, &identity);
        assert_ne!(then.live_fingerprint, now.live_fingerprint);
        let changed = changed_since(&saved(&then), &now);
        assert_eq!(changed.len(), 1, "{changed:#?}");
        assert_eq!(changed[0].key, key);
        assert_eq!(
            changed[0].since,
            Since::Properties(vec![Difference {
                pointer: "/state".into(),
                then: Some(was),
                now: Some(json!("disabled")),
            }])
        );
    }

    #[test]
    fn a_stale_plan_tells_created_deleted_and_unmanaged_changes_apart() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let (live, identity) = deployed(&bundle);
        // Planned against an empty tenant; the objects were created since.
        let empty = plan(
            &PlanInput::from(&bundle),
            &LiveState::default(),
            &IdentityMap::default(),
        );
        let now = plan(&PlanInput::from(&bundle), &live, &identity);
        let changed = changed_since(&saved(&empty), &now);
        assert_eq!(changed.len(), bundle.bundle().operations.len());
        assert!(changed.iter().all(|c| c.since == Since::Appeared));
        // And the other way round.
        let back = plan(&PlanInput::from(&bundle), &LiveState::default(), &identity);
        assert!(
            changed_since(&saved(&now), &back)
                .iter()
                .all(|c| c.since == Since::Disappeared)
        );
        // A property the baseline does not set.
        let mut touched = live.clone();
        touched
            .collections
            .get_mut("namedLocation")
            .expect("locations")[0]["modifiedDateTime"] = json!("2026-11-27T00:00:00Z");
        let after = plan(&PlanInput::from(&bundle), &touched, &identity);
        let changed = changed_since(&saved(&now), &after);
        assert_eq!(changed.len(), 1, "{changed:#?}");
        assert_eq!(changed[0].since, Since::Unmanaged);
        // Nothing changed: nothing named.
        assert!(changed_since(&saved(&now), &now).is_empty());
    }
}
