//! One normalization per resource kind, shared by plan, drift and post-deploy verification, so
//! that "no change" means no change: `null`, `[]` and an absent property are the same; arrays the
//! kind declares set-like compare without order; properties the service fills in or computes are
//! ignored; OData annotations other than `@odata.type` are ignored.
//!
//! Input: a kind and JSON bodies (desired from a bundle, live from Graph). Output: normalized
//! values and a [`Change`] list, empty when the live object already is what the bundle wants.
//! Comparison is desired-driven: a property the bundle does not set is the service's to choose
//! (server defaults never show as changes).

use serde_json::{Map, Value};

use crate::canonical;
use crate::compile::bundle::pointer_matches;
use crate::kinds::{Kind, Shape};

/// One property whose live value differs from the desired one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// JSON pointer of the property.
    pub pointer: String,
    /// What the bundle wants (`None`: absent, null or empty).
    pub desired: Option<Value>,
    /// What the tenant has (`None`: absent, null or empty).
    pub live: Option<Value>,
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn ignored_key(kind: &Kind, depth: usize, key: &str) -> bool {
    if key.starts_with("@odata.") && key != "@odata.type" {
        return true;
    }
    // `x@odata.bind` is a write-only instruction; reads never echo it.
    if key.ends_with("@odata.bind") {
        return true;
    }
    depth == 0 && kind.normalization.ignore.contains(&key)
}

/// Graph answers `@odata.type` with a leading `#`; Intune docs often omit it.
fn normalize_odata_type(s: &str) -> String {
    if s.starts_with('#') {
        s.to_string()
    } else {
        format!("#{s}")
    }
}

/// Append `/key` to a JSON pointer, escaped (`~0`, `~1`) only when the key needs it.
fn push_key(pointer: &mut String, key: &str) {
    pointer.push('/');
    if key.contains(['~', '/']) {
        pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
    } else {
        pointer.push_str(key);
    }
}

/// The normal form of the value of `key` (an object's entry) at `depth`.
fn normalize_entry(
    kind: &Kind,
    key: Option<&str>,
    value: &Value,
    pointer: &mut String,
    depth: usize,
) -> Value {
    match (key, normalize_at(kind, value, pointer, depth)) {
        (Some("@odata.type"), Value::String(s)) => Value::String(normalize_odata_type(&s)),
        (_, n) => n,
    }
}

fn normalize_at(kind: &Kind, value: &Value, pointer: &mut String, depth: usize) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if ignored_key(kind, depth, k) {
                    continue;
                }
                let len = pointer.len();
                push_key(pointer, k);
                let n = normalize_entry(kind, Some(k), v, pointer, depth + 1);
                pointer.truncate(len);
                if kind.normalization.null_equals_empty && is_empty_value(&n) {
                    continue;
                }
                out.insert(k.clone(), n);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let len = pointer.len();
            let mut out: Vec<Value> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    use std::fmt::Write as _;
                    let _ = write!(pointer, "/{i}");
                    let n = normalize_at(kind, item, pointer, depth + 1);
                    pointer.truncate(len);
                    n
                })
                .collect();
            let rule = array_rule(kind, pointer);
            if let Some(keyed) = rule.keyed.and_then(|key| keyed_by_property(key, &out)) {
                return keyed;
            }
            if rule.set {
                out.sort_by_cached_key(canonical::to_compact_string);
                out.dedup();
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// How a kind compares the array at a pointer: as a set, or as a map by an item property.
#[derive(Debug, Clone, Copy)]
struct ArrayRule {
    /// Compared without order ([`crate::kinds::Normalization::set_arrays`]).
    set: bool,
    /// The item property it is keyed by ([`KEYED_ARRAYS`](crate::kinds::KEYED_ARRAYS)).
    keyed: Option<&'static str>,
}

/// What an [`ArrayRule`] depends on: the kind's set patterns (a static list, by address) and
/// its name (which finds its keyed arrays).
type RuleSource = (usize, usize, &'static str);

/// The [`ArrayRule`]s met so far, by [`RuleSource`] and pointer.
type RulesByKind =
    std::collections::HashMap<RuleSource, std::collections::HashMap<Box<str>, ArrayRule>>;

/// Most pointers [`array_rule`] remembers per thread before it starts again.
const ARRAY_RULES_KEPT: usize = 4096;

/// The [`ArrayRule`] of `kind` at `pointer`, remembered per thread: a fleet's plan meets the
/// same few pointers of each kind many thousand times, and matching them against the kind's
/// patterns each time was a quarter of comparing.
fn array_rule(kind: &Kind, pointer: &str) -> ArrayRule {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static RULES: RefCell<(RulesByKind, usize)> = RefCell::new((HashMap::new(), 0));
    }
    let sets = kind.normalization.set_arrays;
    let kind_id: RuleSource = (sets.as_ptr() as usize, sets.len(), kind.name);
    let known = RULES.with(|rules| {
        rules
            .borrow()
            .0
            .get(&kind_id)
            .and_then(|by_pointer| by_pointer.get(pointer).copied())
    });
    if let Some(rule) = known {
        return rule;
    }
    let rule = ArrayRule {
        set: kind
            .normalization
            .set_arrays
            .iter()
            .any(|p| pointer_matches(p, pointer)),
        keyed: crate::kinds::keyed_arrays(kind.name)
            .find(|(p, _)| pointer_matches(p, pointer))
            .map(|(_, key)| key),
    };
    RULES.with(|rules| {
        let mut rules = rules.borrow_mut();
        let (by_kind, count) = &mut *rules;
        if *count >= ARRAY_RULES_KEPT {
            by_kind.clear();
            *count = 0;
        }
        by_kind
            .entry(kind_id)
            .or_default()
            .insert(pointer.into(), rule);
        *count += 1;
    });
    rule
}

/// The normal form of an array the kind compares as a map ([`KEYED_ARRAYS`](crate::kinds::KEYED_ARRAYS)): its items by the
/// value of the key property. `None` when the array is not keyed here, or an item has no string
/// key (then it stays an array and compares whole).
fn keyed_by_property(key: &str, items: &[Value]) -> Option<Value> {
    let mut out = Map::new();
    for item in items {
        let name = item.get(key)?.as_str()?;
        out.insert(name.to_string(), item.clone());
    }
    Some(Value::Object(out))
}

/// A body in the kind's normal form.
pub fn normalize(kind: &Kind, value: &Value) -> Value {
    let n = normalize_at(kind, value, &mut String::new(), 0);
    if kind.normalization.null_equals_empty && is_empty_value(&n) && value.is_object() {
        return Value::Object(Map::new());
    }
    n
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !is_empty_value(v))
}

/// One compared value: a change when the two differ (absent, null and empty are the same).
/// Values are copied only into a change (most leaves are equal).
fn compare_leaf(desired: &Value, live: Option<&Value>, pointer: &str, out: &mut Vec<Change>) {
    let live = present(live);
    let desired = present(Some(desired));
    if desired != live {
        out.push(Change {
            pointer: pointer.to_string(),
            desired: desired.cloned(),
            live: live.cloned(),
        });
    }
}

#[cfg(test)]
fn diff_at(desired: &Value, live: Option<&Value>, pointer: &mut String, out: &mut Vec<Change>) {
    match (desired, live) {
        (Value::Object(d), Some(Value::Object(l))) => {
            for (k, dv) in d {
                let len = pointer.len();
                push_key(pointer, k);
                diff_at(dv, l.get(k), pointer, out);
                pointer.truncate(len);
            }
        }
        (d, l) => compare_leaf(d, l, pointer, out),
    }
}

/// The properties the bundle sets whose live values differ, after normalizing both sides.
/// Properties only the live object has are the service's (defaults, computed values) and are
/// not changes.
///
/// The live object is normalized only where the desired one looks: Graph answers with many
/// properties a bundle does not set, and normalizing them was most of a plan's time. The result
/// is the same as normalizing both sides whole (a property test holds the two together).
pub fn diff(kind: &Kind, desired: &Value, live: &Value) -> Vec<Change> {
    diff_normalized(kind, &normalize(kind, desired), live)
}

/// [`diff`] of a desired body already normalized for `kind` ([`normalize`]).
pub fn diff_normalized(kind: &Kind, d: &Value, live: &Value) -> Vec<Change> {
    diff_resolving(kind, d, live, &[])
}

/// The ids of a desired body's references, by reference key (`${ref:<prefix>:<key>}`).
pub type RefIds = [(String, String)];

/// [`diff_normalized`] of a desired body normalized with its references unresolved, each
/// resolved with `refs` only where a value holding it is compared. Where normalizing would have
/// treated the resolved ids differently from the references (a set of objects sorted by its
/// text, an item keyed by a reference), the two sides differ here and never the other way: an
/// empty result means [`diff`] of the resolved body is empty too, and a caller that gets changes
/// asks [`diff`] for the exact ones.
pub fn diff_resolving(kind: &Kind, d: &Value, live: &Value, refs: &RefIds) -> Vec<Change> {
    let mut diffing = Diffing {
        kind,
        refs,
        pointer: String::new(),
        out: Vec::new(),
    };
    match (d, live) {
        // The root stays an object even when it normalizes to nothing.
        (Value::Object(d), Value::Object(l)) => diffing.entries(d, l, 0),
        (d, l) => diffing.lazy(d, Some(l), None, 0),
    }
    diffing.out
}

/// `value` with each reference replaced by its id in `refs`; `None` when one is not there or
/// does not end.
pub fn resolve_ids(value: &Value, refs: &RefIds) -> Option<Value> {
    crate::compile::bundle::resolve_refs_in_value(value, &mut |key: &str| {
        refs.iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| id.clone())
    })
    .ok()
}

/// One diff in progress: the kind, the ids of the desired body's references, the pointer of the
/// value being compared and the changes found so far.
struct Diffing<'a> {
    kind: &'a Kind,
    refs: &'a RefIds,
    pointer: String,
    out: Vec<Change>,
}

impl Diffing<'_> {
    /// The entries of a normalized desired object against a raw live object at `depth`.
    fn entries(&mut self, desired: &Map<String, Value>, live: &Map<String, Value>, depth: usize) {
        for (k, dv) in desired {
            let len = self.pointer.len();
            push_key(&mut self.pointer, k);
            self.lazy(dv, live.get(k), Some(k), depth + 1);
            self.pointer.truncate(len);
        }
    }

    /// Normalized `desired` against raw `live` (the value of `key` at `depth`), normalizing
    /// `live` only where it is compared.
    fn lazy(&mut self, desired: &Value, live: Option<&Value>, key: Option<&str>, depth: usize) {
        let kind = self.kind;
        // What normalizing the parent would have done to this entry: drop it when it comes out
        // empty (kinds where null equals empty).
        let live = live.filter(|l| {
            !(kind.normalization.null_equals_empty && normalizes_empty(kind, l, depth))
        });
        match (desired, live) {
            (Value::Object(d), Some(Value::Object(l))) => self.entries(d, l, depth),
            // Above a keyed array the tenant has nothing: compare down to the items, so each
            // change names its item (deploy writes items, never their container).
            (Value::Object(d), _) if contains_keyed_items(kind, &self.pointer) => {
                self.entries(d, &Map::new(), depth);
            }
            (Value::Array(d), l) if keyed_items(kind, &self.pointer).is_some() => {
                let item_key = keyed_items(kind, &self.pointer).unwrap_or_default();
                self.keyed(d, l, item_key, depth);
            }
            // A keyed array (normalized to a map on the desired side): compared entry by entry.
            (Value::Object(d), Some(l @ Value::Array(_))) => {
                match normalize_entry(kind, key, l, &mut self.pointer, depth) {
                    Value::Object(l) => self.entries(d, &l, depth),
                    l => self.leaf(desired, Some(&l)),
                }
            }
            // An array of scalars (most sets: users, groups, applications) the live side
            // already holds as the desired one wants it: equal without a normalized copy.
            // Scalars are their own normal form, so a set is equal when each side holds every
            // item of the other.
            (Value::Array(d), Some(Value::Array(l)))
                if !d.is_empty() && scalars(d) && scalars(l) && self.same_scalars(d, l) => {}
            // A live scalar is its own normal form (but for `@odata.type`'s leading `#`):
            // compared as it is, without a copy.
            (d, Some(l)) if !l.is_array() && !l.is_object() && key != Some("@odata.type") => {
                self.leaf(d, Some(l));
            }
            (d, l) => {
                let l = l.map(|l| normalize_entry(kind, key, l, &mut self.pointer, depth));
                self.leaf(d, l.as_ref());
            }
        }
    }

    /// One compared value, its references resolved first.
    fn leaf(&mut self, desired: &Value, live: Option<&Value>) {
        match self.resolved(desired) {
            Some(resolved) => compare_leaf(&resolved, live, &self.pointer, &mut self.out),
            None => compare_leaf(desired, live, &self.pointer, &mut self.out),
        }
    }

    /// `value` with its references resolved, when it holds any (`None`: compare it as it is).
    fn resolved(&self, value: &Value) -> Option<Value> {
        if self.refs.is_empty() || !holds_reference(value) {
            return None;
        }
        resolve_ids(value, self.refs)
    }

    /// True when a normalized desired array of scalars and a live one are the same here: as
    /// sets where the kind compares the array as one, else item by item in order.
    fn same_scalars(&self, desired: &[Value], live: &[Value]) -> bool {
        let rule = array_rule(self.kind, &self.pointer);
        if rule.keyed.is_some() {
            return false;
        }
        let resolved: Vec<Value>;
        let desired = if desired.iter().any(holds_reference) && !self.refs.is_empty() {
            resolved = desired
                .iter()
                .map(|d| self.resolved(d).unwrap_or_else(|| d.clone()))
                .collect();
            &resolved[..]
        } else {
            desired
        };
        if rule.set {
            live.iter().all(|l| desired.contains(l)) && desired.iter().all(|d| live.contains(d))
        } else {
            desired == live
        }
    }

    /// A keyed array: each desired item against the live item with the same key (its pointer
    /// names the key, not a position); live items the bundle does not declare are not compared.
    fn keyed(&mut self, desired: &[Value], live: Option<&Value>, item_key: &str, depth: usize) {
        let live_items = live
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, item) in desired.iter().enumerate() {
            let written = item.get(item_key);
            let resolved = written.and_then(|w| self.resolved(w));
            let id = resolved.as_ref().or(written).and_then(Value::as_str);
            let len = self.pointer.len();
            match id {
                Some(id) => push_key(&mut self.pointer, id),
                None => {
                    use std::fmt::Write as _;
                    let _ = write!(self.pointer, "/{i}");
                }
            }
            let found = id.and_then(|id| {
                live_items
                    .iter()
                    .find(|l| l.get(item_key).and_then(Value::as_str) == Some(id))
            });
            match (item, found) {
                (Value::Object(d), Some(Value::Object(l))) => self.entries(d, l, depth + 1),
                (d, l) => self.leaf(d, l),
            }
            self.pointer.truncate(len);
        }
    }
}

/// True when a string in `value` holds a reference.
fn holds_reference(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(crate::compile::render::REF_OPEN),
        Value::Array(items) => items.iter().any(holds_reference),
        Value::Object(map) => map.values().any(holds_reference),
        _ => false,
    }
}

/// True when every item is a string, number or boolean.
fn scalars(items: &[Value]) -> bool {
    items
        .iter()
        .all(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
}

/// True when the kind's keyed array lies below `pointer`.
fn contains_keyed_items(kind: &Kind, pointer: &str) -> bool {
    match kind.shape {
        Shape::QueriedItems(items) => items
            .array
            .strip_prefix(pointer)
            .is_some_and(|rest| rest.starts_with('/')),
        _ => false,
    }
}

/// The item key of the keyed array at `pointer`, when the kind has one there
/// ([`Shape::QueriedItems`]).
fn keyed_items(kind: &Kind, pointer: &str) -> Option<&'static str> {
    match kind.shape {
        Shape::QueriedItems(items) if items.array == pointer => Some(items.item_key),
        _ => None,
    }
}

/// Whether `value` at `depth` normalizes to an empty value (null, `[]` or `{}`), without
/// building it.
fn normalizes_empty(kind: &Kind, value: &Value, depth: usize) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.iter().all(|(k, v)| {
            ignored_key(kind, depth, k)
                || (kind.normalization.null_equals_empty && normalizes_empty(kind, v, depth + 1))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::by_name;
    use proptest::prelude::*;
    use serde_json::json;

    fn ca() -> &'static Kind {
        by_name("conditionalAccessPolicy").expect("kind")
    }

    #[test]
    fn keyed_items_compare_by_key_and_only_those_declared() {
        let pim = by_name("unifiedRoleManagementPolicy").expect("kind");
        let live = json!({"policyId": "p", "policy": {"rules": [
            {"id": "A", "maximumDuration": "PT8H", "target": {"caller": "EndUser"}},
            {"id": "B", "notificationRecipients": ["x@example.com", "y@example.com"]},
            {"id": "C", "enabledRules": ["Justification"]}
        ]}});
        // Declared in another order, with a set-like array in another order: no change.
        let desired = json!({"policy": {"rules": [
            {"id": "B", "notificationRecipients": ["y@example.com", "x@example.com"]},
            {"id": "A", "maximumDuration": "PT8H"}
        ]}});
        assert_eq!(diff(pim, &desired, &live), vec![]);
        // A changed item is named by its key; a declared item the tenant lacks is a change.
        let desired = json!({"policy": {"rules": [
            {"id": "A", "maximumDuration": "PT4H"},
            {"id": "Z", "isEnabled": true}
        ]}});
        let pointers: Vec<String> = diff(pim, &desired, &live)
            .into_iter()
            .map(|c| c.pointer)
            .collect();
        assert_eq!(
            pointers,
            ["/policy/rules/A/maximumDuration", "/policy/rules/Z"]
        );
    }

    #[test]
    fn pointers_escape_only_keys_that_need_it() {
        let mut pointer = String::from("/a");
        push_key(&mut pointer, "plain");
        push_key(&mut pointer, "x/y~z");
        assert_eq!(pointer, "/a/plain/x~1y~0z");
    }

    #[test]
    fn null_empty_and_absent_are_the_same() {
        let desired = json!({"displayName": "x", "conditions": {"users": {"excludeUsers": []}, "platforms": null}});
        let live = json!({"displayName": "x", "conditions": {"users": {"excludeUsers": null, "includeUsers": ["All"]}}});
        assert_eq!(diff(ca(), &desired, &live), vec![]);
    }

    #[test]
    fn set_like_arrays_ignore_order_and_others_do_not() {
        let desired = json!({"conditions": {"clientAppTypes": ["other", "exchangeActiveSync"]}});
        let live = json!({"conditions": {"clientAppTypes": ["exchangeActiveSync", "other"]}});
        assert_eq!(diff(ca(), &desired, &live), vec![]);
        let desired = json!({"sessionControls": {"x": [1, 2]}});
        let live = json!({"sessionControls": {"x": [2, 1]}});
        assert_eq!(diff(ca(), &desired, &live).len(), 1);
    }

    #[test]
    fn server_fields_and_annotations_are_ignored() {
        let desired = json!({"displayName": "x", "state": "enabled"});
        let live = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#...",
            "id": "5b6d...", "createdDateTime": "2026-01-01T00:00:00Z", "modifiedDateTime": null,
            "displayName": "x", "state": "enabled", "templateId": null
        });
        assert_eq!(diff(ca(), &desired, &live), vec![]);
    }

    #[test]
    fn a_changed_value_is_reported_with_its_pointer() {
        let desired = json!({"state": "enabled", "grantControls": {"builtInControls": ["mfa"]}});
        let live = json!({"state": "enabledForReportingButNotEnforced", "grantControls": {"builtInControls": ["block"]}});
        let changes = diff(ca(), &desired, &live);
        let pointers: Vec<&str> = changes.iter().map(|c| c.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/state", "/grantControls/builtInControls"]);
        assert_eq!(
            changes[0].live,
            Some(json!("enabledForReportingButNotEnforced"))
        );
    }

    #[test]
    fn keyed_arrays_compare_by_name_and_only_what_the_bundle_sets() {
        let kind = by_name("directorySetting").expect("kind");
        let desired = json!({"templateId": "t", "values": [
            {"name": "EnableAdminConsentRequests", "value": "true"},
            {"name": "BlockUserConsentForRiskyApps", "value": "true"}
        ]});
        let live = json!({"id": "s1", "templateId": "t", "values": [
            {"name": "EnableGroupSpecificConsent", "value": "false"},
            {"name": "BlockUserConsentForRiskyApps", "value": "true"},
            {"name": "EnableAdminConsentRequests", "value": "true"}
        ]});
        assert_eq!(diff(kind, &desired, &live), vec![]);
        let live = json!({"templateId": "t", "values": [
            {"name": "EnableAdminConsentRequests", "value": "false"},
            {"name": "BlockUserConsentForRiskyApps", "value": "true"}
        ]});
        let changes = diff(kind, &desired, &live);
        let pointers: Vec<&str> = changes.iter().map(|c| c.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/values/EnableAdminConsentRequests/value"]);
        // A value the tenant lacks altogether is a change too.
        let live = json!({"templateId": "t", "values": [{"name": "BlockUserConsentForRiskyApps", "value": "true"}]});
        assert_eq!(diff(kind, &desired, &live).len(), 1);
    }

    #[test]
    fn odata_type_with_or_without_hash_is_the_same() {
        let kind = by_name("deviceCompliancePolicyAssignment").expect("kind");
        let desired = json!({"assignments": [{"target": {"@odata.type": "microsoft.graph.allDevicesAssignmentTarget"}}]});
        let live = json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]});
        assert_eq!(diff(kind, &desired, &live), vec![]);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("conditions".to_string()),
                        Just("clientAppTypes".to_string()),
                        Just("users".to_string()),
                        Just("id".to_string()),
                        Just("@odata.type".to_string()),
                        "[a-c]{1,2}",
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The diff as it was: both sides normalized whole.
    fn eager_diff(kind: &Kind, desired: &Value, live: &Value) -> Vec<Change> {
        let d = normalize(kind, desired);
        let l = normalize(kind, live);
        let mut out = Vec::new();
        diff_at(&d, Some(&l), &mut String::new(), &mut out);
        out
    }

    proptest! {
        #[test]
        fn the_lazy_diff_is_the_eager_diff(d in arb_json(), l in arb_json()) {
            // Every shipped kind treats null as empty; a kind that does not is checked too.
            let mut strict = *ca();
            strict.normalization.null_equals_empty = false;
            for kind in [ca(), by_name("deviceCompliancePolicyAssignment").expect("kind"), by_name("group").expect("kind"), &strict] {
                prop_assert_eq!(diff(kind, &d, &l), eager_diff(kind, &d, &l));
                // Live objects usually share the desired keys: mix them in.
                if let (Value::Object(dm), Value::Object(lm)) = (&d, &l) {
                    let mut mixed = dm.clone();
                    for (k, v) in lm {
                        mixed.insert(k.clone(), v.clone());
                    }
                    let mixed = Value::Object(mixed);
                    prop_assert_eq!(diff(kind, &d, &mixed), eager_diff(kind, &d, &mixed));
                }
            }
        }

        #[test]
        fn diff_of_a_value_with_itself_is_empty(v in arb_json()) {
            prop_assert_eq!(diff(ca(), &v, &v), vec![]);
        }

        #[test]
        fn normalize_is_idempotent(v in arb_json()) {
            let once = normalize(ca(), &v);
            prop_assert_eq!(normalize(ca(), &once), once);
        }

        #[test]
        fn extra_live_properties_are_never_changes(v in arb_json(), extra in arb_json()) {
            if let (Value::Object(d), Value::Object(e)) = (&v, &extra) {
                let mut live = e.clone();
                for (k, x) in d {
                    live.insert(k.clone(), x.clone());
                }
                prop_assert_eq!(diff(ca(), &v, &Value::Object(live)), vec![]);
            }
        }
    }
}
