//! What a write sends, derived from a resource's declared body: references replaced by the ids
//! of their targets, a PATCH's changed top-level properties, and the items of a queried-items
//! object (PIM rules) that a plan's changes touch; and what of a plan's changes applying keeps
//! ([`pointers_only`]). Pure functions; [`crate::deploy::apply`] sends what they make.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::compile::bundle::{Operation, Unresolved};
use crate::deploy::apply::ApplyError;
use crate::kinds::{Kind, Shape};
use crate::live::normalize::Change;
use crate::live::plan::Action;

/// Why a reference could not be replaced.
fn unresolved(error: Unresolved, text: &str) -> ApplyError {
    match error {
        Unresolved::Unterminated => ApplyError::UnterminatedReference {
            text: text.to_string(),
        },
        Unresolved::Unknown(key) => ApplyError::UnknownReference { key },
    }
}

/// Replace each reference with the id of its target (all targets are known when an operation
/// starts: its dependencies are done).
pub(crate) fn resolve_value(
    value: &Value,
    ids: &BTreeMap<String, String>,
) -> Result<Value, ApplyError> {
    crate::compile::bundle::resolve_refs_in_value(value, &mut |key| ids.get(key).cloned())
        .map_err(|e| unresolved(e, &value.to_string()))
}

/// Replace each reference in a path or text with the id of its target.
pub(crate) fn resolve_text(
    text: &str,
    ids: &BTreeMap<String, String>,
) -> Result<String, ApplyError> {
    crate::compile::bundle::resolve_refs_in_text(text, &mut |key| ids.get(key).cloned())
        .map_err(|e| unresolved(e, text))
}

/// The properties a PATCH sends: the top-level properties that changed (and `@odata.type`).
pub(crate) fn patch_body(desired: &Value, changes: &[Change]) -> Value {
    let Value::Object(map) = desired else {
        return desired.clone();
    };
    if changes.is_empty() {
        return desired.clone();
    }
    let top: BTreeSet<String> = changes
        .iter()
        .filter_map(|c| c.pointer.split('/').nth(1))
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    Value::Object(
        map.iter()
            .filter(|(k, _)| top.contains(k.as_str()) || k.as_str() == "@odata.type")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The items of a [`Shape::QueriedItems`] object that `changes` touch, as `(item id, PATCH
/// path, declared item)` in the body's order; a change outside the items cannot be written.
pub(crate) fn item_patches(
    op: &Operation,
    items: &crate::kinds::ItemUpdates,
    owner: Option<&str>,
    body: &Value,
    changes: &[Change],
) -> Result<Vec<(String, String, Value)>, ApplyError> {
    let owner = owner.ok_or_else(|| ApplyError::NoOwnerId {
        key: op.key.clone(),
        owner_id: items.owner_id,
    })?;
    let prefix = format!("{}/", items.array);
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for change in changes {
        let item = change
            .pointer
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('/').next())
            .filter(|item| !item.is_empty());
        match item {
            Some(item) => {
                changed.insert(item.replace("~1", "/").replace("~0", "~"));
            }
            None => {
                return Err(ApplyError::NotWritable {
                    key: op.key.clone(),
                    kind: op.kind.name,
                    pointer: change.pointer.clone(),
                    array: items.array,
                    item_key: items.item_key,
                });
            }
        }
    }
    let declared = body
        .pointer(items.array)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    Ok(declared
        .iter()
        .filter_map(|item| {
            let id = item.get(items.item_key).and_then(Value::as_str)?;
            changed
                .contains(id)
                .then(|| (id.to_string(), items.path_of(owner, id), item.clone()))
        })
        .collect())
}

/// `action` as applying needs it: each change cut to the part of its pointer that applying reads
/// (the item of a queried object's keyed array, `/policy/rules/<id>`, or else the top-level
/// property, which is all a PATCH body or an update action is chosen by), each such part once,
/// and without the compared values. A tenant holds its actions through minutes of Conditional
/// Access pacing, and a fleet's PIM policies alone are tens of thousands of changed leaves.
/// A pointer outside a queried object's items is kept whole: applying names it in its error.
pub(crate) fn pointers_only(action: Action, kind: &Kind) -> Action {
    let strip = |changes: Vec<Change>| {
        let mut kept: Vec<Change> = Vec::new();
        for change in changes {
            let pointer = applied_part(&change.pointer, kind);
            if !kept.iter().any(|k| k.pointer == pointer) {
                kept.push(Change {
                    pointer: pointer.to_string(),
                    desired: None,
                    live: None,
                });
            }
        }
        kept.shrink_to_fit();
        kept
    };
    match action {
        Action::Update { object_id, changes } => Action::Update {
            object_id,
            changes: strip(changes),
        },
        Action::Adopt { object_id, changes } => Action::Adopt {
            object_id,
            changes: strip(changes),
        },
        other => other,
    }
}

/// The part of `pointer` that applying a change of a `kind` object reads (see [`pointers_only`]).
fn applied_part<'p>(pointer: &'p str, kind: &Kind) -> &'p str {
    let end = match kind.shape {
        Shape::QueriedItems(items) => pointer
            .strip_prefix(items.array)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split('/').next())
            .filter(|item| !item.is_empty())
            .map(|item| items.array.len() + 1 + item.len()),
        _ => pointer
            .strip_prefix('/')
            .map(|rest| 1 + rest.split('/').next().unwrap_or_default().len()),
    };
    end.map_or(pointer, |end| &pointer[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pim_op(body: Value) -> Operation {
        let mut op = crate::live::plan::tests::minimal_bundle()
            .bundle()
            .operations[0]
            .clone();
        op.kind = crate::kinds::by_name("unifiedRoleManagementPolicy").expect("kind");
        op.key = "pim-ga".into();
        op.body = body;
        op
    }

    fn change(pointer: &str) -> Change {
        Change {
            pointer: pointer.into(),
            desired: Some(json!(1)),
            live: Some(json!(2)),
        }
    }

    #[test]
    fn queried_items_are_patched_one_by_one_and_only_those_that_changed() {
        let body = json!({"roleDefinitionId": "r", "policy": {"rules": [
            {"id": "Expiration_EndUser_Assignment", "maximumDuration": "PT4H"},
            {"id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": true}},
            {"id": "Enablement_EndUser_Assignment", "enabledRules": []}
        ]}});
        let op = pim_op(body.clone());
        let crate::kinds::Shape::QueriedItems(items) = op.kind.shape else {
            panic!("shape");
        };
        let patches = item_patches(
            &op,
            items,
            Some("pol-1"),
            &body,
            &[
                change("/policy/rules/Approval_EndUser_Assignment/setting/isApprovalRequired"),
                change("/policy/rules/Expiration_EndUser_Assignment/maximumDuration"),
            ],
        )
        .expect("patches");
        let paths: Vec<&str> = patches.iter().map(|(_, p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/policies/roleManagementPolicies/pol-1/rules/Expiration_EndUser_Assignment",
                "/policies/roleManagementPolicies/pol-1/rules/Approval_EndUser_Assignment"
            ]
        );
        assert_eq!(patches[0].2, body["policy"]["rules"][0]);
    }

    #[test]
    fn a_change_outside_the_items_or_without_an_owner_is_a_clear_error() {
        let body = json!({"roleDefinitionId": "r", "policy": {"displayName": "x", "rules": []}});
        let op = pim_op(body.clone());
        let crate::kinds::Shape::QueriedItems(items) = op.kind.shape else {
            panic!("shape");
        };
        let e = item_patches(
            &op,
            items,
            Some("p"),
            &body,
            &[change("/policy/displayName")],
        )
        .expect_err("not writable");
        assert!(
            matches!(&e, ApplyError::NotWritable { pointer, .. } if pointer == "/policy/displayName")
        );
        assert!(e.to_string().contains("only those items can change"), "{e}");
        let e = item_patches(&op, items, None, &body, &[]).expect_err("no owner");
        assert!(e.to_string().contains("has no policyId"), "{e}");
    }

    #[test]
    fn a_patch_sends_only_the_changed_top_level_properties() {
        let desired = json!({"@odata.type": "#t", "displayName": "x", "state": "enabled", "conditions": {"a": 1}});
        let changes = vec![Change {
            pointer: "/conditions/a".into(),
            desired: Some(json!(1)),
            live: Some(json!(2)),
        }];
        assert_eq!(
            patch_body(&desired, &changes),
            json!({"@odata.type": "#t", "conditions": {"a": 1}})
        );
        assert_eq!(patch_body(&desired, &[]), desired);
    }

    #[test]
    fn references_resolve_or_say_which_id_is_missing() {
        let ids = BTreeMap::from([("g".to_string(), "id-g".to_string())]);
        assert_eq!(
            resolve_text("/p/${ref:group:g}/assign", &ids).expect("ok"),
            "/p/id-g/assign"
        );
        let e = resolve_text("${ref:group:h}", &ids).expect_err("an error");
        assert!(
            matches!(&e, ApplyError::UnknownReference { key } if key == "h"),
            "{e:?}"
        );
        assert!(e.to_string().contains("reference to h"), "{e}");
        let e = resolve_text("/p/${ref:group:g", &ids).expect_err("an error");
        assert!(
            matches!(e, ApplyError::UnterminatedReference { .. }),
            "{e:?}"
        );
    }

    #[test]
    fn an_action_kept_for_applying_holds_the_part_of_each_pointer_applying_reads_once() {
        let change = |pointer: &str| Change {
            pointer: pointer.into(),
            desired: Some(json!({"big": ["desired", "value"]})),
            live: Some(json!("live")),
        };
        let pointers = |action: &Action| -> Vec<String> {
            match action {
                Action::Update { changes, .. } | Action::Adopt { changes, .. } => {
                    assert!(
                        changes
                            .iter()
                            .all(|c| c.desired.is_none() && c.live.is_none())
                    );
                    changes.iter().map(|c| c.pointer.clone()).collect()
                }
                other => panic!("not an update: {other:?}"),
            }
        };
        let policy = crate::kinds::by_name("conditionalAccessPolicy").expect("kind");
        let full = vec![
            change("/state"),
            change("/conditions/users/includeUsers"),
            change("/conditions/users/excludeGroups/0"),
            change("/grantControls~1x/operator"),
        ];
        let kept = pointers_only(
            Action::Update {
                object_id: Some("id-1".into()),
                changes: full.clone(),
            },
            policy,
        );
        assert!(matches!(&kept, Action::Update { object_id: Some(id), .. } if id == "id-1"));
        assert_eq!(
            pointers(&kept),
            ["/state", "/conditions", "/grantControls~1x"]
        );
        // A PATCH made from the kept changes is the one made from all of them.
        let desired = json!({"@odata.type": "#p", "state": "enabled", "displayName": "d",
            "conditions": {"users": {}}, "grantControls/x": {"operator": "OR"}});
        let Action::Update { changes, .. } = &kept else {
            panic!("update");
        };
        assert_eq!(patch_body(&desired, changes), patch_body(&desired, &full));

        // A PIM policy: one part per changed rule; the same PATCHes as from every change.
        let body = json!({"roleDefinitionId": "r", "policy": {"rules": [
            {"id": "Expiration_EndUser_Assignment", "maximumDuration": "PT4H"},
            {"id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": true}}
        ]}});
        let op = pim_op(body.clone());
        let full = vec![
            change("/policy/rules/Approval_EndUser_Assignment/setting/isApprovalRequired"),
            change("/policy/rules/Approval_EndUser_Assignment/setting/approvalMode"),
            change("/policy/rules/Expiration_EndUser_Assignment/maximumDuration"),
        ];
        let kept = pointers_only(
            Action::Adopt {
                object_id: "id-2".into(),
                changes: full.clone(),
            },
            op.kind,
        );
        assert_eq!(
            pointers(&kept),
            [
                "/policy/rules/Approval_EndUser_Assignment",
                "/policy/rules/Expiration_EndUser_Assignment"
            ]
        );
        let crate::kinds::Shape::QueriedItems(items) = op.kind.shape else {
            panic!("shape");
        };
        let Action::Adopt { changes, .. } = &kept else {
            panic!("adopt");
        };
        assert_eq!(
            item_patches(&op, items, Some("pol"), &body, changes).expect("patches"),
            item_patches(&op, items, Some("pol"), &body, &full).expect("patches")
        );
        // A change outside the items stays whole, for applying's error to name.
        let kept = pointers_only(
            Action::Adopt {
                object_id: "id-3".into(),
                changes: vec![change("/policy/displayName")],
            },
            op.kind,
        );
        assert_eq!(pointers(&kept), ["/policy/displayName"]);
        assert!(matches!(
            pointers_only(Action::Create, op.kind),
            Action::Create
        ));
    }
}
