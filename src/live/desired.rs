//! A resource's desired body as plan compares it, made once per distinct body where tenants
//! share it. A fleet's tenants on the same baselines hold the same body texts (deploy keeps
//! them as shared JSON text, [`crate::deploy::slim`]); parsing each text, copying it to
//! resolve references and normalizing the copy, per tenant and resource, was most of a
//! re-plan's CPU time. A body without references is the same for every tenant: it is parsed
//! and normalized once for all ([`DesiredCache`]). A body with references is parsed and
//! normalized once as well, its references unresolved, and each tenant's ids resolved only
//! where a value holding one is compared ([`normalize::diff_resolving`]); when that finds a
//! change, the tenant's own body is made (its references resolved in the parsed value) and its
//! exact changes taken, so a plan that changes something reads as it always did.
//!
//! Input: an operation's body text, its kind and the ids known so far. Output: a [`Desired`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;

use crate::compile::bundle::resolve_refs_in_text;
use crate::compile::render::REF_OPEN;
use crate::kinds::Kind;
use crate::live::normalize;

/// A desired body: as written (references resolved), and normalized for its kind when that is
/// shared.
#[derive(Debug)]
pub enum Desired {
    /// A body without references: the same for every tenant, parsed and normalized once.
    Shared(Arc<SharedBody>),
    /// A body with references shared with other tenants: parsed and normalized once with its
    /// references unresolved, and this tenant's ids for them.
    Resolving {
        /// The body with its references unresolved.
        body: Arc<SharedBody>,
        /// This tenant's id for each of the body's references.
        ids: Vec<(String, String)>,
    },
    /// A body made for this tenant (its references resolved), not normalized.
    Own(Value),
}

/// A body shared by tenants, as parsed and as its kind normalizes it.
#[derive(Debug)]
pub struct SharedBody {
    /// As parsed (references unresolved).
    pub value: Value,
    /// [`normalize::normalize`] of `value` for the kind.
    pub normalized: Value,
    /// The keys of the references the body holds, each once (empty: none).
    pub references: Vec<String>,
}

impl Desired {
    /// The body as written (references resolved).
    pub fn value(&self) -> Cow<'_, Value> {
        match self {
            Desired::Shared(shared) => Cow::Borrowed(&shared.value),
            Desired::Resolving { body, ids } => Cow::Owned(resolve_with(&body.value, ids)),
            Desired::Own(value) => Cow::Borrowed(value),
        }
    }

    /// The property changes from `live` to this body ([`normalize::diff`]).
    pub fn diff(&self, kind: &Kind, live: &Value) -> Vec<normalize::Change> {
        match self {
            Desired::Shared(shared) => normalize::diff_normalized(kind, &shared.normalized, live),
            Desired::Resolving { body, ids } => {
                let changes = normalize::diff_resolving(kind, &body.normalized, live, ids);
                if changes.is_empty() {
                    changes
                } else {
                    normalize::diff(kind, &resolve_with(&body.value, ids), live)
                }
            }
            Desired::Own(value) => normalize::diff(kind, value, live),
        }
    }
}

/// `value` with each reference replaced by its id in `ids` (one not there stays as written).
fn resolve_with(value: &Value, ids: &[(String, String)]) -> Value {
    normalize::resolve_ids(value, ids).unwrap_or_else(|| value.clone())
}

/// The distinct keys of the references in `value`'s strings, or `None` when a reference does
/// not end (such a body is made for each tenant as before).
fn reference_keys(value: &Value) -> Option<Vec<String>> {
    fn walk(value: &Value, keys: &mut Vec<String>) -> bool {
        match value {
            Value::String(s) if s.contains(REF_OPEN) => resolve_refs_in_text(s, &mut |key| {
                if !keys.iter().any(|k| k == key) {
                    keys.push(key.to_string());
                }
                Some(String::new())
            })
            .is_ok(),
            Value::Array(items) => items.iter().all(|item| walk(item, keys)),
            Value::Object(map) => map.values().all(|v| walk(v, keys)),
            _ => true,
        }
    }
    let mut keys = Vec::new();
    walk(value, &mut keys).then_some(keys)
}

/// Bodies parsed and normalized once for the tenants of a run that share them. Entries follow
/// the body texts: an entry whose text is no longer held by any tenant is dropped, so memory
/// follows the tenants in flight, not the fleet.
#[derive(Debug, Default)]
pub struct DesiredCache {
    known: Mutex<Known>,
}

/// Entries by (text address, kind address), each with its text held weakly; the size at which dead
/// entries are next dropped.
type Known = (HashMap<(usize, usize), Entry>, usize);

#[derive(Debug)]
struct Entry {
    text: Weak<str>,
    body: Option<Arc<SharedBody>>,
}

impl DesiredCache {
    /// The shared body of `text` for `kind`, made once; `None` when a reference in it does not
    /// end.
    fn shared(&self, kind: &'static Kind, text: &Arc<str>) -> Option<Arc<SharedBody>> {
        // A kind's address: two kinds may share a name (one per API version).
        let key = (
            Arc::as_ptr(text).cast::<u8>() as usize,
            std::ptr::from_ref(kind) as usize,
        );
        {
            let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = known.0.get(&key)
                && entry
                    .text
                    .upgrade()
                    .is_some_and(|held| Arc::ptr_eq(&held, text))
            {
                return entry.body.clone();
            }
        }
        // Made outside the lock: another tenant may make the same at the same time, and the
        // last one made is kept (both are equal).
        let value = serde_json::from_str(text).unwrap_or(Value::Null);
        let references = reference_keys(&value);
        let normalized = normalize::normalize(kind, &value);
        let body = references.map(|references| {
            Arc::new(SharedBody {
                value,
                normalized,
                references,
            })
        });
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let (map, prune_at) = &mut *known;
        if map.len() >= *prune_at {
            map.retain(|_, entry| entry.text.strong_count() > 0);
            *prune_at = (map.len() * 2).max(64);
        }
        map.insert(
            key,
            Entry {
                text: Arc::downgrade(text),
                body: body.clone(),
            },
        );
        body
    }
}

/// The desired body of a resource whose body is `text`: shared through `cache` when `shared`
/// says other tenants hold the text too (with this tenant's ids for its references, from
/// `id_of`), else made for this tenant with its references resolved by `id_of`.
pub fn desired(
    kind: &'static Kind,
    text: &Arc<str>,
    shared: bool,
    cache: Option<&DesiredCache>,
    id_of: &mut dyn FnMut(&str) -> String,
) -> Desired {
    if let Some(cache) = cache.filter(|_| shared)
        && let Some(body) = cache.shared(kind, text)
    {
        if body.references.is_empty() {
            return Desired::Shared(body);
        }
        let ids = body
            .references
            .iter()
            .map(|key| (key.clone(), id_of(key)))
            .collect();
        return Desired::Resolving { body, ids };
    }
    if !text.contains(REF_OPEN) {
        return Desired::Own(serde_json::from_str(text).unwrap_or(Value::Null));
    }
    Desired::Own(resolved(text, id_of))
}

/// `text` parsed with its references resolved. They are resolved in the text, where each is
/// inside a JSON string: the id written in goes in escaped as JSON. A reference whose key is
/// written with JSON escapes, or that does not end, is resolved in the parsed value instead,
/// where its text is unescaped.
fn resolved(text: &str, id_of: &mut dyn FnMut(&str) -> String) -> Value {
    let mut plain = true;
    let resolved_text = resolve_refs_in_text(text, &mut |key: &str| {
        if key.contains('\\') || key.contains('"') {
            plain = false;
            return None;
        }
        Some(escaped(&id_of(key)))
    });
    match resolved_text {
        Ok(resolved) if plain => serde_json::from_str(&resolved).unwrap_or(Value::Null),
        _ => {
            let parsed: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            crate::compile::bundle::resolve_refs_in_value(&parsed, &mut |key: &str| {
                Some(id_of(key))
            })
            .unwrap_or(parsed)
        }
    }
}

/// `s` as it is written inside a JSON string (without the quotes).
fn escaped(s: &str) -> String {
    if !s.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return s.to_string();
    }
    let quoted = Value::from(s).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::bundle::resolve_refs_in_value;
    use proptest::prelude::*;
    use serde_json::json;

    fn kind(name: &str) -> &'static Kind {
        crate::kinds::by_name(name).unwrap_or_else(|| panic!("no kind {name}"))
    }

    #[test]
    fn references_resolve_in_the_text_as_they_would_in_the_parsed_value() {
        let body = json!({
            "displayName": "Block legacy",
            "conditions": {"users": {
                "excludeGroups": ["${ref:group:break-glass}", "plain"],
                "includeUsers": ["All"]
            }},
            "note": "before ${ref:group:break-glass} after"
        });
        let text: Arc<str> = Arc::from(body.to_string());
        let ids = |key: &str| match key {
            "break-glass" => "id-\"quoted\"\\".to_string(),
            _ => "(known after apply)".to_string(),
        };
        let got = desired(
            kind("conditionalAccessPolicy"),
            &text,
            true,
            None,
            &mut |k| ids(k),
        );
        let want = crate::compile::bundle::resolve_refs_in_value(&body, &mut |k| Some(ids(k)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(got, Desired::Own(_)));
        assert_eq!(*got.value(), want);
        assert_eq!(
            got.value()["conditions"]["users"]["excludeGroups"][0],
            json!("id-\"quoted\"\\")
        );
    }

    #[test]
    fn a_reference_written_with_escapes_is_resolved_in_the_parsed_value() {
        // `\u0067` is `g`: the text spells the key differently from the value.
        let text: Arc<str> =
            Arc::from(r#"{"excludeGroups":["${ref:group:\u0067lass}"]}"#.to_string());
        let got = desired(
            kind("conditionalAccessPolicy"),
            &text,
            true,
            None,
            &mut |k| format!("id-of-{k}"),
        );
        assert_eq!(*got.value(), json!({"excludeGroups": ["id-of-glass"]}));
    }

    #[test]
    fn a_shared_body_without_references_is_made_once_and_diffs_like_an_own_one() {
        let cache = DesiredCache::default();
        let kind = kind("conditionalAccessPolicy");
        let text: Arc<str> = Arc::from(
            json!({"displayName": "A", "state": "Enabled", "conditions": {"clientAppTypes": ["other", "all"]}})
                .to_string(),
        );
        let mut no_ids = |_: &str| String::new();
        let first = desired(kind, &text, true, Some(&cache), &mut no_ids);
        let again = desired(kind, &text, true, Some(&cache), &mut no_ids);
        match (&first, &again) {
            (Desired::Shared(a), Desired::Shared(b)) => assert!(Arc::ptr_eq(a, b)),
            other => panic!("not shared: {other:?}"),
        }
        // Not shared with another tenant: made for this one.
        assert!(matches!(
            desired(kind, &text, false, Some(&cache), &mut no_ids),
            Desired::Own(_)
        ));
        let live = json!({"id": "1", "displayName": "A", "state": "disabled",
            "conditions": {"clientAppTypes": ["all", "other"]}});
        let own = Desired::Own(first.value().into_owned());
        assert_eq!(first.diff(kind, &live), own.diff(kind, &live));
        assert!(!first.diff(kind, &live).is_empty());
    }

    #[test]
    fn a_shared_body_with_references_is_made_once_and_resolved_per_tenant() {
        let cache = DesiredCache::default();
        let kind = kind("conditionalAccessPolicy");
        let text: Arc<str> = Arc::from(
            json!({"displayName": "B", "conditions": {"users": {
                "excludeGroups": ["${ref:group:b}", "${ref:group:a}"]}}})
            .to_string(),
        );
        let ids_a = |k: &str| format!("a-{k}");
        let first = desired(kind, &text, true, Some(&cache), &mut |k| ids_a(k));
        let other = desired(kind, &text, true, Some(&cache), &mut |k| format!("b-{k}"));
        match (&first, &other) {
            (Desired::Resolving { body: a, .. }, Desired::Resolving { body: b, .. }) => {
                assert!(Arc::ptr_eq(a, b));
                assert_eq!(a.references, ["b", "a"]);
            }
            other => panic!("not shared: {other:?}"),
        }
        let resolved = json!({"displayName": "B", "conditions": {"users": {
            "excludeGroups": ["a-b", "a-a"]}}});
        assert_eq!(*first.value(), resolved);
        // Order does not matter in a set, the ids do.
        let live = json!({"id": "1", "displayName": "B", "conditions": {"users": {
            "excludeGroups": ["a-a", "a-b"]}}});
        assert!(first.diff(kind, &live).is_empty());
        let changes = other.diff(kind, &live);
        assert_eq!(changes, normalize::diff(kind, &other.value(), &live));
        assert_eq!(changes[0].desired, Some(json!(["b-a", "b-b"])));
        // A reference that does not end: made for each tenant, as before.
        let broken: Arc<str> = Arc::from(r#"{"excludeGroups":["${ref:group:a"]}"#.to_string());
        assert!(matches!(
            desired(kind, &broken, true, Some(&cache), &mut |k| ids_a(k)),
            Desired::Own(_)
        ));
    }

    fn arb_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (0i64..2).prop_map(Value::from),
            prop::sample::select(vec![
                "${ref:group:a}",
                "${ref:group:b}",
                "${ref:group:c}",
                "x ${ref:group:a} y",
                "id-a",
                "id-b",
                "x id-a y",
                "All",
                "#id-a",
            ])
            .prop_map(Value::from),
        ]
    }

    /// Bodies shaped as the kinds with set arrays (of scalars and of objects), keyed arrays and
    /// keyed items write them, with references where ids go and elsewhere.
    fn arb_body() -> impl Strategy<Value = Value> {
        let items =
            |item: BoxedStrategy<Value>| prop::collection::vec(item, 0..4).prop_map(Value::Array);
        let object = |pairs: Vec<(&'static str, BoxedStrategy<Value>)>| {
            pairs
                .into_iter()
                .map(|(k, v)| v.prop_map(move |v| (k, v)))
                .collect::<Vec<_>>()
                .prop_map(|pairs| {
                    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                })
                .boxed()
        };
        let leaf = arb_leaf().boxed();
        let groups = items(leaf.clone());
        let assignment = object(vec![("target", object(vec![("groupId", leaf.clone())]))]);
        let rule = object(vec![
            ("id", leaf.clone()),
            ("enabledRules", items(leaf.clone()).boxed()),
        ]);
        let setting = object(vec![("name", leaf.clone()), ("value", leaf.clone())]);
        let target = object(vec![("id", leaf.clone())]);
        let part = prop_oneof![
            groups.prop_map(|g| json!({"conditions": {"users": {"excludeGroups": g}}})),
            items(assignment).prop_map(|a| json!({"assignments": a})),
            items(rule).prop_map(|r| json!({"policy": {"rules": r}})),
            items(setting).prop_map(|v| json!({"values": v})),
            items(target).prop_map(|t| json!({"includeTargets": t})),
            leaf.prop_map(|v| json!({"@odata.type": v, "displayName": "x"})),
        ];
        prop::collection::vec(part, 1..4).prop_map(|parts| {
            let mut body = serde_json::Map::new();
            for part in parts {
                if let Value::Object(members) = part {
                    body.extend(members);
                }
            }
            Value::Object(body)
        })
    }

    /// `value` with every array reversed, at every depth.
    fn reversed(value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().rev().map(reversed).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), reversed(v))).collect())
            }
            other => other.clone(),
        }
    }

    proptest! {
        // Resolving at the leaves never hides a change, and what a plan reports is always the
        // exact diff of the resolved body: on the kinds with set arrays, keyed arrays and keyed
        // items, with ids that collide (`b` and `c` are the same object), against live objects
        // of any shape, the resolved body itself and the resolved body in another order.
        #[test]
        fn resolving_at_the_leaves_agrees_with_the_resolved_body(
            body in arb_body(),
            other in arb_body(),
        ) {
            let text: Arc<str> = Arc::from(body.to_string());
            let ids = |key: &str| match key {
                "a" => "id-a".to_string(),
                _ => "id-b".to_string(),
            };
            let resolved = resolve_refs_in_value(&body, &mut |k| Some(ids(k)))
                .expect("every reference ends");
            for name in ["conditionalAccessPolicy", "directorySetting", "unifiedRoleManagementPolicy", "deviceCompliancePolicyAssignment", "authenticationMethodConfiguration"] {
                let kind = kind(name);
                let cache = DesiredCache::default();
                let got = desired(kind, &text, true, Some(&cache), &mut |k| ids(k));
                prop_assert_eq!(&*got.value(), &resolved);
                for live in [other.clone(), resolved.clone(), reversed(&resolved)] {
                    let exact = normalize::diff(kind, &resolved, &live);
                    prop_assert_eq!(&got.diff(kind, &live), &exact);
                    if let Desired::Resolving { body: shared, ids } = &got {
                        let fast = normalize::diff_resolving(kind, &shared.normalized, &live, ids);
                        prop_assert!(!fast.is_empty() || exact.is_empty(), "hid {:?}", exact);
                    }
                }
            }
        }
    }

    #[test]
    fn an_entry_goes_with_its_text() {
        let cache = DesiredCache::default();
        let kind = kind("conditionalAccessPolicy");
        for i in 0..200 {
            let text: Arc<str> = Arc::from(format!("{{\"displayName\":\"{i}\"}}"));
            let _ = desired(kind, &text, true, Some(&cache), &mut |_| String::new());
        }
        let held = cache.known.lock().map(|k| k.0.len()).unwrap_or_default();
        assert!(held < 200, "dead entries are dropped: {held} held");
    }
}
