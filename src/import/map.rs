//! Import, the mapping inside emit: ids in a cleaned body → template expressions. Group and
//! named-location ids in the kind's reference slots become `ref(to="group:…")` references to the
//! baseline's own groups and locations; ids that point outside it (users, groups and locations
//! not exported, terms of use, custom authentication strengths, assignment filters) become
//! `uuid` parameters, one per id, listed in the baseline's header; text holding the source
//! tenant's id or domain becomes `{{ tenant.id }}` / `{{ tenant.domain }}`; text that Tera would
//! read as syntax is passed in through `vars`.
//!
//! Input: a kind, a resource key and a body. Output: the body with slot markers and the
//! expressions that replace them ([`Templated`]), parameters collected in the [`Mapper`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::kinds::{self, Kind, Shape};
use crate::source::model::is_guid;

/// Microsoft's built-in authentication strengths: the same id in every tenant.
const BUILT_IN_STRENGTHS: &[&str] = &[
    "00000000-0000-0000-0000-000000000002",
    "00000000-0000-0000-0000-000000000003",
    "00000000-0000-0000-0000-000000000004",
];

/// Marks a place in a body where template syntax goes; no imported string may contain it.
pub(super) const SLOT: &str = "@@tenantform-import-slot-";

/// A parameter standing for an id outside the export.
#[derive(Debug)]
pub(super) struct Param {
    pub(super) what: String,
    pub(super) used_by: BTreeSet<String>,
}

/// The id tables a body's ids are mapped through, and the parameters made on the way.
pub(super) struct Mapper {
    /// Group ids (lower case) → the baseline's group keys.
    pub(super) groups: BTreeMap<String, String>,
    /// Named-location ids → the baseline's location keys.
    pub(super) locations: BTreeMap<String, String>,
    /// User ids → names in the source tenant (for the parameters' descriptions).
    pub(super) user_names: BTreeMap<String, String>,
    /// Group ids → names in the source tenant (for the parameters' descriptions).
    pub(super) group_names: BTreeMap<String, String>,
    /// Assignment filter stand-in ids → the names the backup gave them.
    pub(super) filter_names: BTreeMap<String, String>,
    /// Parameters by name.
    pub(super) params: BTreeMap<String, Param>,
    /// (prefix, id) → parameter name.
    pub(super) param_by_id: BTreeMap<(String, String), String>,
    /// Text standing for the source tenant, and its expression.
    pub(super) tenant_values: Vec<(String, String)>,
}

pub(super) fn tera_like(text: &str) -> bool {
    ["{{", "{%", "{#"].iter().any(|t| text.contains(t))
}

impl Mapper {
    fn param(&mut self, prefix: &str, what: String, id: &str, used_by: &str) -> String {
        let id = id.to_ascii_lowercase();
        if let Some(name) = self.param_by_id.get(&(prefix.to_string(), id.clone())) {
            if let Some(p) = self.params.get_mut(name) {
                p.used_by.insert(used_by.to_string());
            }
            return name.clone();
        }
        let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
        let name = [8, 12, 32]
            .iter()
            .map(|n| format!("{prefix}_{}", &hex[..(*n).min(hex.len())]))
            .find(|n| !self.params.contains_key(n))
            .unwrap_or_else(|| format!("{prefix}_{hex}_{}", self.params.len()));
        self.params.insert(
            name.clone(),
            Param {
                what,
                used_by: BTreeSet::from([used_by.to_string()]),
            },
        );
        self.param_by_id
            .insert((prefix.to_string(), id), name.clone());
        name
    }

    /// The template expression for a string at `pointer` of a `kind` body, or `None` to keep it.
    fn slot(&mut self, kind: &Kind, pointer: &[String], text: &str, key: &str) -> Option<String> {
        let matches = |pattern: &str| {
            let segments: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
            segments.len() == pointer.len()
                && segments
                    .iter()
                    .zip(pointer)
                    .all(|(s, p)| *s == "*" || s == p)
        };
        if !is_guid(text) || text.chars().all(|c| c == '0' || c == '-') {
            return None;
        }
        let id = text.to_ascii_lowercase();
        for slot in kind.ref_slots {
            if !matches(slot.pointer) {
                continue;
            }
            let (table, prefix, what) = match slot.kind {
                "group" => (&self.groups, "group", "group"),
                "namedLocation" => (&self.locations, "location", "named location"),
                // Other referenced kinds (assignment filters, scope tags) are mapped below.
                _ => continue,
            };
            if let Some(target) = table.get(&id) {
                let target_kind = kinds::by_name(slot.kind)?;
                return Some(format!(
                    "{{{{ ref(to=\"{}:{target}\") }}}}",
                    target_kind.ref_prefix
                ));
            }
            let named = if slot.kind == "group" {
                self.group_names
                    .get(&id)
                    .map(|n| format!(" ({n:?} in the source tenant)"))
            } else {
                None
            };
            let name = self.param(
                prefix,
                format!("{what} {id}{}", named.unwrap_or_default()),
                &id,
                key,
            );
            return Some(format!("{{{{ params.{name} }}}}"));
        }
        if kind.shape == Shape::ParentAction
            && matches(&format!(
                "/assignments/*/target/{}",
                super::assignments::FILTER_ID
            ))
        {
            // Assignment filters are the tenant's own objects, not managed by tenantform.
            let named = self
                .filter_names
                .get(&id)
                .map(|n| format!(" named {n:?} in the source"))
                .unwrap_or_else(|| format!(" {id}"));
            let name = self.param(
                "assignment_filter",
                format!("assignment filter{named}"),
                &id,
                key,
            );
            return Some(format!("{{{{ params.{name} }}}}"));
        }
        if kind.name != "conditionalAccessPolicy" {
            return None;
        }
        let (prefix, what) = if matches("/conditions/users/includeUsers/*")
            || matches("/conditions/users/excludeUsers/*")
        {
            let named = self
                .user_names
                .get(&id)
                .map(|n| format!(" ({n:?} in the source tenant)"))
                .unwrap_or_default();
            ("user", format!("user {id}{named}"))
        } else if matches("/grantControls/termsOfUse/*") {
            ("terms_of_use", format!("terms of use {id}"))
        } else if matches("/grantControls/authenticationStrength/id")
            && !BUILT_IN_STRENGTHS.contains(&id.as_str())
        {
            (
                "authentication_strength",
                format!("authentication strength {id}"),
            )
        } else {
            return None;
        };
        let name = self.param(prefix, what, &id, key);
        Some(format!("{{{{ params.{name} }}}}"))
    }
}

/// A body turned into template text: JSON with slots, and the vars the slots read.
pub(super) struct Templated {
    pub(super) slots: Vec<String>,
    pub(super) vars: BTreeMap<String, String>,
}

impl Templated {
    fn mark(&mut self, expression: String) -> Value {
        self.slots.push(expression);
        Value::String(format!("{SLOT}{}@@", self.slots.len() - 1))
    }

    pub(super) fn walk(
        &mut self,
        mapper: &mut Mapper,
        kind: &Kind,
        key: &str,
        pointer: &mut Vec<String>,
        value: Value,
    ) -> Value {
        match value {
            Value::String(s) => {
                if let Some(expression) = mapper.slot(kind, pointer, &s, key) {
                    return self.mark(expression);
                }
                if tera_like(&s) {
                    let name = format!("text_{}", self.vars.len() + 1);
                    self.vars.insert(name.clone(), s);
                    return self.mark(format!("{{{{ vars.{name} }}}}"));
                }
                if let Some(text) = tenant_text(&s, &mapper.tenant_values) {
                    return self.mark(text);
                }
                Value::String(s)
            }
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        pointer.push(i.to_string());
                        let out = self.walk(mapper, kind, key, pointer, v);
                        pointer.pop();
                        out
                    })
                    .collect(),
            ),
            Value::Object(object) => Value::Object(
                object
                    .into_iter()
                    .map(|(k, v)| {
                        pointer.push(k.clone());
                        let out = self.walk(mapper, kind, key, pointer, v);
                        pointer.pop();
                        (k, out)
                    })
                    .collect::<Map<_, _>>(),
            ),
            other => other,
        }
    }
}

/// `text` with every tenant value in it replaced by its expression, as the inside of a JSON
/// string, or `None` when it holds none.
pub(super) fn tenant_text(text: &str, values: &[(String, String)]) -> Option<String> {
    let escaped = |part: &str| {
        let quoted = serde_json::to_string(part).unwrap_or_default();
        quoted
            .get(1..quoted.len().saturating_sub(1))
            .unwrap_or("")
            .to_string()
    };
    let mut out = String::new();
    let mut rest = text;
    let mut found = false;
    loop {
        let next = values
            .iter()
            .filter(|(needle, _)| !needle.is_empty())
            .filter_map(|(needle, expression)| {
                rest.find(needle.as_str())
                    .map(|at| (at, needle, expression))
            })
            .min_by_key(|(at, _, _)| *at);
        let Some((at, needle, expression)) = next else {
            break;
        };
        found = true;
        out.push_str(&escaped(&rest[..at]));
        let _ = write!(out, "{{{{ {expression} }}}}");
        rest = &rest[at + needle.len()..];
    }
    if !found {
        return None;
    }
    out.push_str(&escaped(rest));
    Some(out)
}
