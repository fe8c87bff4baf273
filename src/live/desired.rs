//! A resource's desired body as plan compares it, made once per distinct body where tenants
//! share it. A fleet's tenants on the same baselines hold the same body texts (deploy keeps
//! them as shared JSON text, [`crate::deploy::slim`]); parsing each text, copying it to
//! resolve references and normalizing the copy, per tenant and resource, was most of a
//! re-plan's CPU time. A body without references is the same for every tenant: it is parsed
//! and normalized once for all ([`DesiredCache`]). A body with references is resolved in its
//! text (the ids are plain JSON strings) and parsed once, with no copy of a parsed value.
//!
//! Input: an operation's body text, its kind and the ids known so far. Output: a [`Desired`].

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
    /// A body made for this tenant (its references resolved), not normalized.
    Own(Value),
}

/// A body without references, as parsed and as its kind normalizes it.
#[derive(Debug)]
pub struct SharedBody {
    /// As parsed.
    pub value: Value,
    /// [`normalize::normalize`] of `value` for the kind.
    pub normalized: Value,
}

impl Desired {
    /// The body as written (references resolved).
    pub fn value(&self) -> &Value {
        match self {
            Desired::Shared(shared) => &shared.value,
            Desired::Own(value) => value,
        }
    }

    /// The property changes from `live` to this body ([`normalize::diff`]).
    pub fn diff(&self, kind: &Kind, live: &Value) -> Vec<normalize::Change> {
        match self {
            Desired::Shared(shared) => normalize::diff_normalized(kind, &shared.normalized, live),
            Desired::Own(value) => normalize::diff(kind, value, live),
        }
    }
}

/// Bodies without references, parsed and normalized once for the tenants of a run that share
/// them. Entries follow the body texts: an entry whose text is no longer held by any tenant is
/// dropped, so memory follows the tenants in flight, not the fleet.
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
    body: Arc<SharedBody>,
}

impl DesiredCache {
    /// The shared body of `text` for `kind`, made once.
    fn shared(&self, kind: &'static Kind, text: &Arc<str>) -> Arc<SharedBody> {
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
        let normalized = normalize::normalize(kind, &value);
        let body = Arc::new(SharedBody { value, normalized });
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

/// The desired body of a resource whose body is `text`: shared through `cache` when the text
/// has no references and `shared` says other tenants hold it too, else made for this tenant
/// with its references resolved by `id_of`.
pub fn desired(
    kind: &'static Kind,
    text: &Arc<str>,
    shared: bool,
    cache: Option<&DesiredCache>,
    id_of: &mut dyn FnMut(&str) -> String,
) -> Desired {
    if !text.contains(REF_OPEN) {
        return match cache {
            Some(cache) if shared => Desired::Shared(cache.shared(kind, text)),
            _ => Desired::Own(serde_json::from_str(text).unwrap_or(Value::Null)),
        };
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
        assert_eq!(got.value(), &want);
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
        assert_eq!(got.value(), &json!({"excludeGroups": ["id-of-glass"]}));
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
        let own = Desired::Own(first.value().clone());
        assert_eq!(first.diff(kind, &live), own.diff(kind, &live));
        assert!(!first.diff(kind, &live).is_empty());
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
