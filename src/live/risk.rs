//! Stage 3, `live`: which planned changes can lock people out of a tenant, so a reviewer sees
//! them before anything else. A plan is a list of property diffs; these are the few a reviewer
//! must not skim past:
//!
//! - a Conditional Access policy written so that it can lock every account out (enabled, All
//!   users, a block or a required control, no exclusion): the `lockout` lint's own test
//!   ([`crate::compile::validate::locks_everyone_out`]), which validate refuses unless the project
//!   accepted it with `allow = { lockout = "..." }`; plan still warns when it would write one;
//! - an exclusion taken off a Conditional Access policy (`excludeGroups`, `excludeUsers`), the
//!   emergency-access group above all;
//! - any change to the authentication methods policy or a method's configuration (what users
//!   can sign in with).
//!
//! Deletions are the plan's orphans (deleted by `deploy --prune`); ambiguous matches are the
//! plan's too. Both are read from [`crate::live::plan::TenantPlan`] directly.
//!
//! Input: one resource's kind, its desired body (references resolved as far as known) and its
//! planned [`Action`]. Output: the [`Risk`]s of that resource, kept in the tenant's plan.

use serde::Serialize;
use serde_json::Value;

use crate::live::names::ObjectNames;
use crate::live::plan::Action;

/// The Conditional Access policy kind.
const CONDITIONAL_ACCESS: &str = "conditionalAccessPolicy";
/// The same policies written through beta.
const CONDITIONAL_ACCESS_BETA: &str = "conditionalAccessPolicyBeta";
/// The kinds that decide how users authenticate.
const AUTHENTICATION_METHODS: &[&str] = &[
    "authenticationMethodsPolicy",
    "authenticationMethodConfiguration",
];
/// Where a Conditional Access policy lists who it leaves out.
const EXCLUSIONS: &[&str] = &[
    "/conditions/users/excludeGroups",
    "/conditions/users/excludeUsers",
];
/// Words in a project name that mark the emergency-access (break-glass) accounts' group.
const EMERGENCY_ACCESS_WORDS: &[&str] = &["emergency", "breakglass", "break-glass"];

/// Why a planned change deserves a reviewer's attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "risk")]
pub enum RiskKind {
    /// The policy as written can lock every account out (the `lockout` lint, accepted).
    Lockout,
    /// Exclusions taken off a Conditional Access policy: these object ids (or `All`, `GuestsOrExternalUsers`).
    ExclusionRemoved {
        /// The ids (or keywords) no longer excluded.
        removed: Vec<String>,
    },
    /// The authentication methods policy or a method's configuration changes.
    AuthenticationMethods,
}

/// One risky change of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: &'static str,
    /// What makes it risky.
    #[serde(flatten)]
    pub risk: RiskKind,
}

impl Risk {
    /// True when an exclusion taken off is the emergency-access group (by its project name).
    pub fn removes_emergency_access(&self, names: &ObjectNames) -> bool {
        match &self.risk {
            RiskKind::ExclusionRemoved { removed } => removed.iter().any(|id| {
                names.name(id).is_some_and(|name| {
                    let name = name.to_ascii_lowercase();
                    EMERGENCY_ACCESS_WORDS.iter().any(|w| name.contains(w))
                })
            }),
            _ => false,
        }
    }

    /// One sentence for a reviewer, object ids shown by their project names.
    pub fn describe(&self, names: &ObjectNames) -> String {
        match &self.risk {
            RiskKind::Lockout => "can lock every account out: enabled, applies to All users, blocks or requires a control, and excludes no one (the `lockout` lint is accepted for it)".to_string(),
            RiskKind::ExclusionRemoved { removed } => {
                let shown: Vec<String> = removed
                    .iter()
                    .map(|id| match names.name(id) {
                        Some(name) => format!("{name} ({id})"),
                        None => id.clone(),
                    })
                    .collect();
                format!(
                    "{}no longer excludes {}",
                    if self.removes_emergency_access(names) {
                        "removes the emergency-access exclusion: "
                    } else {
                        ""
                    },
                    shown.join(", ")
                )
            }
            RiskKind::AuthenticationMethods => "changes how users can sign in (authentication methods): check that the emergency-access accounts can still authenticate".to_string(),
        }
    }
}

/// True when resources of this kind can carry a risk (others need not be assessed).
pub fn concerns(kind: &str) -> bool {
    kind == CONDITIONAL_ACCESS
        || kind == CONDITIONAL_ACCESS_BETA
        || AUTHENTICATION_METHODS.contains(&kind)
}

/// What `action` writes: `Some(None)` a whole body (create), `Some(Some(changes))` these
/// changes, `None` nothing (no-op, ambiguous, missing): such a resource has no risk, and its
/// desired body need not be made to know it.
pub fn written_changes(action: &Action) -> Option<Option<&Vec<crate::live::normalize::Change>>> {
    match action {
        Action::Create => Some(None),
        Action::Update { changes, .. } | Action::Adopt { changes, .. } => Some(Some(changes)),
        Action::NoOp { .. } | Action::Ambiguous { .. } | Action::Missing { .. } => None,
    }
}

/// The risks of writing `desired` as `action` says, for a resource of kind `kind`. A resource
/// left as it is (no-op) or not written (ambiguous) has none.
pub fn assess(key: &str, kind: &'static str, desired: &Value, action: &Action) -> Vec<Risk> {
    let Some(changes) = written_changes(action) else {
        return Vec::new();
    };
    let risk = |risk| Risk {
        key: key.to_string(),
        kind,
        risk,
    };
    let mut risks = Vec::new();
    if AUTHENTICATION_METHODS.contains(&kind) {
        // An update with no property changes is a singleton that could not be read: still written.
        risks.push(risk(RiskKind::AuthenticationMethods));
    }
    if kind == CONDITIONAL_ACCESS || kind == CONDITIONAL_ACCESS_BETA {
        if crate::compile::validate::locks_everyone_out(desired) {
            risks.push(risk(RiskKind::Lockout));
        }
        let removed: Vec<String> = changes
            .into_iter()
            .flatten()
            .flat_map(|c| {
                EXCLUSIONS.iter().flat_map(move |target| {
                    let Some(sub) = below(&c.pointer, target) else {
                        return Vec::new();
                    };
                    let live = ids_at(c.live.as_ref(), sub);
                    let wanted = ids_at(c.desired.as_ref(), sub);
                    live.into_iter()
                        .filter(|id| !wanted.iter().any(|w| w.eq_ignore_ascii_case(id)))
                        .collect()
                })
            })
            .collect();
        if !removed.is_empty() {
            risks.push(risk(RiskKind::ExclusionRemoved { removed }));
        }
    }
    risks
}

/// The rest of `target` below `pointer` (`""` when they are equal), when `pointer` is `target`
/// or one of its parents.
fn below<'a>(pointer: &str, target: &'a str) -> Option<&'a str> {
    let rest = target.strip_prefix(pointer)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The strings of the array at `sub` inside `value`.
fn ids_at(value: Option<&Value>, sub: &str) -> Vec<String> {
    value
        .and_then(|v| v.pointer(sub))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::normalize::Change;
    use serde_json::json;

    fn policy(exclude: &[&str]) -> Value {
        json!({
            "displayName": "Require MFA",
            "state": "enabled",
            "conditions": {"users": {"includeUsers": ["All"], "excludeGroups": exclude}},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
        })
    }

    fn update(pointer: &str, live: Value, desired: Option<Value>) -> Action {
        Action::Update {
            object_id: Some("p-1".into()),
            changes: vec![Change {
                pointer: pointer.into(),
                desired,
                live: Some(live),
            }],
        }
    }

    #[test]
    fn a_policy_that_locks_everyone_out_is_a_risk_when_written_not_when_left_alone() {
        let body = policy(&[]);
        let risks = assess("ca-mfa", CONDITIONAL_ACCESS, &body, &Action::Create);
        assert_eq!(risks.len(), 1);
        assert_eq!(risks[0].risk, RiskKind::Lockout);
        let kept = Action::NoOp { object_id: None };
        assert!(assess("ca-mfa", CONDITIONAL_ACCESS, &body, &kept).is_empty());
        // With an exclusion, or only report-only, it is not.
        assert!(
            assess(
                "ca-mfa",
                CONDITIONAL_ACCESS,
                &policy(&["g-1"]),
                &Action::Create
            )
            .is_empty()
        );
        let mut report_only = policy(&[]);
        report_only["state"] = json!("enabledForReportingButNotEnforced");
        assert!(assess("ca-mfa", CONDITIONAL_ACCESS, &report_only, &Action::Create).is_empty());
    }

    #[test]
    fn taking_the_emergency_access_exclusion_off_is_named_as_such() {
        let mut names = ObjectNames::new();
        names.insert("g-1", "group", "emergency-access");
        let body = policy(&["g-2"]);
        // The diff is on the array itself, or on a parent object.
        for (pointer, live, desired) in [
            (
                "/conditions/users/excludeGroups",
                json!(["g-1", "g-2"]),
                Some(json!(["g-2"])),
            ),
            (
                "/conditions/users",
                json!({"excludeGroups": ["G-1", "g-2"]}),
                Some(json!({"excludeGroups": ["g-2"]})),
            ),
        ] {
            let risks = assess(
                "ca-mfa",
                CONDITIONAL_ACCESS,
                &body,
                &update(pointer, live, desired),
            );
            assert_eq!(risks.len(), 1, "{risks:?}");
            assert!(risks[0].removes_emergency_access(&names), "{risks:?}");
            let text = risks[0].describe(&names);
            assert!(
                text.starts_with("removes the emergency-access exclusion"),
                "{text}"
            );
        }
        // Adding an exclusion back is no risk; taking another one off is, but not emergency access.
        let add = update(
            "/conditions/users/excludeGroups",
            json!([]),
            Some(json!(["g-1"])),
        );
        assert!(assess("ca-mfa", CONDITIONAL_ACCESS, &body, &add).is_empty());
        let other = update("/conditions/users/excludeUsers", json!(["u-9"]), None);
        let risks = assess("ca-mfa", CONDITIONAL_ACCESS, &body, &other);
        assert_eq!(
            risks[0].risk,
            RiskKind::ExclusionRemoved {
                removed: vec!["u-9".into()]
            }
        );
        assert!(!risks[0].removes_emergency_access(&names));
        assert_eq!(risks[0].describe(&names), "no longer excludes u-9");
        // A pointer that only shares a prefix is not the exclusion list.
        assert_eq!(below("/conditions/users/exclude", EXCLUSIONS[0]), None);
    }

    #[test]
    fn any_authentication_method_change_is_a_risk() {
        let action = update("/state", json!("disabled"), Some(json!("enabled")));
        for kind in AUTHENTICATION_METHODS {
            let risks = assess("fido2", kind, &json!({}), &action);
            assert_eq!(risks.len(), 1);
            assert_eq!(risks[0].risk, RiskKind::AuthenticationMethods);
        }
        assert!(assess("g", "group", &json!({}), &action).is_empty());
    }
}
