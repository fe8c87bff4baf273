//! Stage 3, `live`: which project name an object id stands for. Graph speaks in object ids
//! (`85f24181-…`); a project speaks in symbolic references (`group:emergency-access`). Plan,
//! drift and the stale-plan check show ids that the project knows by their names, so a
//! reviewer reads `group:emergency-access` where Graph would say a GUID.
//!
//! Input: a tenant's identity map (resource key → object id, and the key's kind) plus the ids a
//! plan learns (objects it adopts), and the kinds of the bundle's operations. Output:
//! [`ObjectNames`], an id → `prefix:key` lookup that `report` uses when it renders values.

use crate::compile::ops::Ops;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kinds;
use crate::live::plan::IdentityMap;

/// Object id → the symbolic reference the project writes for it (`group:emergency-access`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectNames {
    by_id: BTreeMap<String, String>,
}

impl ObjectNames {
    /// No names known.
    pub fn new() -> ObjectNames {
        ObjectNames::default()
    }

    /// The names of every object in `ids` (resource key → object id) whose kind is known: from
    /// the bundle's operations first, else from the identity map's record of the key's kind.
    pub fn of(
        ids: &BTreeMap<String, String>,
        operations: Ops<'_>,
        identity: &IdentityMap,
    ) -> ObjectNames {
        let kind_of: BTreeMap<&str, &'static kinds::Kind> = operations
            .iter()
            .map(|op| (op.key.as_str(), op.kind))
            .collect();
        let mut names = ObjectNames::new();
        for (key, id) in ids {
            let kind = kind_of.get(key.as_str()).copied().or_else(|| {
                identity
                    .kinds
                    .get(key)
                    .and_then(|name| kinds::by_name(name))
            });
            if let Some(kind) = kind {
                names.insert(id, kind.ref_prefix, key);
            }
        }
        names
    }

    /// Record that `id` is `prefix:key`.
    pub fn insert(&mut self, id: &str, prefix: &str, key: &str) {
        if !id.is_empty() {
            self.by_id
                .insert(id.to_ascii_lowercase(), format!("{prefix}:{key}"));
        }
    }

    /// The symbolic reference of an object id (ids compare without case, as Graph's do).
    pub fn name(&self, id: &str) -> Option<&str> {
        self.by_id.get(&id.to_ascii_lowercase()).map(String::as_str)
    }

    /// True when no name is known.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// `value` with every string that is a known object id replaced by
    /// `prefix:key (id)`, for people to read; other values are unchanged.
    pub fn label(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => match self.name(s) {
                Some(name) => Value::String(format!("{name} ({s})")),
                None => value.clone(),
            },
            Value::Array(items) => Value::Array(items.iter().map(|v| self.label(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.label(v)))
                    .collect(),
            ),
            _ => value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_object_ids_in_a_diff_show_their_symbolic_names() {
        let mut names = ObjectNames::new();
        names.insert(
            "85F24181-0000-4000-8000-000000000001",
            "group",
            "emergency-access",
        );
        let value =
            json!({"excludeGroups": ["85f24181-0000-4000-8000-000000000001", "other"], "n": 1});
        assert_eq!(
            names.label(&value),
            json!({"excludeGroups": ["group:emergency-access (85f24181-0000-4000-8000-000000000001)", "other"], "n": 1})
        );
        assert_eq!(names.name("nope"), None);
    }

    #[test]
    fn names_come_from_the_bundle_kinds_or_the_identity_maps_record() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let ops = &bundle.bundle().operations;
        let first = &ops[0];
        let mut identity = IdentityMap::default();
        identity.kinds.insert("old-group".into(), "group".into());
        let ids = BTreeMap::from([
            (first.key.clone(), "id-1".to_string()),
            ("old-group".to_string(), "id-2".to_string()),
            ("unknown-kind".to_string(), "id-3".to_string()),
        ]);
        let names = ObjectNames::of(&ids, ops.into(), &identity);
        assert_eq!(
            names.name("id-1"),
            Some(format!("{}:{}", first.kind.ref_prefix, first.key).as_str())
        );
        assert_eq!(names.name("id-2"), Some("group:old-group"));
        assert_eq!(names.name("id-3"), None);
    }
}
