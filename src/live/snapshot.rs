//! Snapshots: a tenant's live objects of its managed kinds as files, one per object, for a
//! backup that diffs cleanly in git. Keys sorted, two-space indented (canonical JSON), and what
//! changes without anyone changing the object removed: OData annotations other than
//! `@odata.type`, write-only `@odata.bind` keys, and the kind's server-computed properties
//! (timestamps, template ids; the object's `id` stays, to tell objects apart). Files are named
//! after the project's resource key where the object is managed or matched, and
//! `unmanaged-<id>` where no baseline declares it.
//!
//! Input: a [`LiveState`] read for a tenant's bundle, its plan and identity map. Output: the
//! files, as relative paths and text (the caller writes them; see `deploy::tenant`).

use crate::compile::ops::Ops;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::kinds::{Kind, Shape};
use crate::live::plan::{IdentityMap, LiveState, TenantPlan};
use crate::live::reader::{known_ids, resolved_path};

/// Remove what changes by itself: annotations, binds, the kind's server fields (not `id`).
pub(crate) fn stripped(kind: &Kind, value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let annotation = key.starts_with("@odata.") && key != "@odata.type";
                let server =
                    depth == 0 && key != "id" && kind.normalization.ignore.contains(&key.as_str());
                if annotation || key.ends_with("@odata.bind") || server {
                    continue;
                }
                out.insert(key.clone(), stripped(kind, v, depth + 1));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| stripped(kind, i, depth + 1)).collect())
        }
        other => other.clone(),
    }
}

/// A file name from a resource key or id: letters, digits, `-`, `_` and `.` kept.
pub(crate) fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.json")
}

/// The snapshot files of one tenant: `<kind>/<key>.json` → canonical text.
pub fn files(
    operations: Ops<'_>,
    plan: &TenantPlan,
    live: &LiveState,
    identity: &IdentityMap,
) -> BTreeMap<String, String> {
    let ids = known_ids(plan, identity);
    let key_of_id: BTreeMap<String, &str> = ids
        .iter()
        .map(|(key, id)| (id.to_ascii_lowercase(), key.as_str()))
        .collect();
    let mut files = BTreeMap::new();
    for (kind_name, objects) in &live.collections {
        let Some(kind) = crate::kinds::by_name(kind_name) else {
            continue;
        };
        for object in objects {
            let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
            let name = match key_of_id.get(&id.to_ascii_lowercase()) {
                Some(key) => (*key).to_string(),
                None => format!("unmanaged-{id}"),
            };
            files.insert(
                format!("{kind_name}/{}", file_name(&name)),
                crate::canonical::to_pretty_string(&stripped(kind, object, 0)) + "\n",
            );
        }
    }
    for op in operations {
        if op.kind.shape == Shape::Collection {
            continue;
        }
        let Some(path) = resolved_path(op, &ids) else {
            continue;
        };
        if let Some(object) = live
            .by_path
            .get(&path)
            .or_else(|| live.by_path.get(&op.path))
        {
            files.insert(
                format!("{}/{}", op.kind.name, file_name(&op.key)),
                crate::canonical::to_pretty_string(&stripped(op.kind, object, 0)) + "\n",
            );
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::plan::{self, PlanInput};
    use serde_json::json;

    #[test]
    fn a_snapshot_is_one_sorted_file_per_object_without_what_changes_by_itself() {
        let bundle = plan::tests::minimal_bundle();
        let (mut live, identity) = plan::tests::deployed(&bundle);
        let policies = live
            .collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies");
        policies[0]["modifiedDateTime"] = json!("2026-12-06T10:00:00Z");
        policies[0]["@odata.context"] = json!("https://graph.microsoft.com/...");
        policies.push(json!({"id": "hand-made", "displayName": "By hand", "state": "disabled"}));
        let input = PlanInput::from(&bundle);
        let p = plan::plan(&input, &live, &identity);
        let files = files((&bundle.bundle().operations).into(), &p, &live, &identity);
        let policy = files
            .get("conditionalAccessPolicy/block-other-countries.json")
            .unwrap_or_else(|| panic!("{:?}", files.keys().collect::<Vec<_>>()));
        assert!(!policy.contains("modifiedDateTime"), "{policy}");
        assert!(!policy.contains("@odata.context"), "{policy}");
        assert!(policy.contains("\"id\""), "{policy}");
        let keys: Vec<&str> = policy
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert!(files.contains_key("conditionalAccessPolicy/unmanaged-hand-made.json"));
        // The same live state gives the same files.
        assert_eq!(
            files,
            super::files((&bundle.bundle().operations).into(), &p, &live, &identity)
        );
    }
}
