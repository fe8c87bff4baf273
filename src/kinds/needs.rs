//! What a tenant must have for a resource to exist in it, as data, and the pure checks that
//! compare it with what a tenant has (its facts: service plans and granted permissions).
//!
//! A kind's own needs are its registry entry's `licences` (any one plan) and `permissions`
//! (every one). Some needs depend on the body, not the kind: a Conditional Access policy with
//! risk conditions needs Microsoft Entra ID P2 although Conditional Access itself needs P1.
//! Those are the rows of [`BODY_NEEDS`] (kind, JSON pointer that is non-empty, plans), never
//! code per policy. `compile` skips what a tenant's plans cannot take; `deploy` names missing
//! permissions before any write. Input: a kind, a rendered body, the tenant's facts. Output: a
//! [`PlanGap`] (with the words a person reads) or nothing.

use serde_json::Value;

use super::{ENTRA_ID_P1, ENTRA_ID_P2, INTUNE, Kind};

/// A need that a body has beyond its kind's: when the value at `pointer` is present and not
/// empty (not `null`, `[]`, `""` or `{}`), the tenant needs one of `plans`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyNeed {
    /// The kind whose bodies the rule reads.
    pub kind: &'static str,
    /// JSON pointer into the body.
    pub pointer: &'static str,
    /// Service plans, any one of which will do.
    pub plans: &'static [&'static str],
    /// What the pointer is, in words ("sign-in risk conditions").
    pub what: &'static str,
}

/// Needs that depend on the body. Sources: Microsoft Learn, "Conditional Access: Conditions"
/// (user risk, sign-in risk and service principal risk need Microsoft Entra ID P2 / Workload
/// Identities Premium), and ScubaGear's `Aad2P2Licenses` check (baseline-facts.md §2.1).
pub const BODY_NEEDS: &[BodyNeed] = &[
    BodyNeed {
        kind: "conditionalAccessPolicy",
        pointer: "/conditions/signInRiskLevels",
        plans: &[ENTRA_ID_P2],
        what: "sign-in risk condition",
    },
    BodyNeed {
        kind: "conditionalAccessPolicy",
        pointer: "/conditions/userRiskLevels",
        plans: &[ENTRA_ID_P2],
        what: "user risk condition",
    },
    BodyNeed {
        kind: "conditionalAccessPolicy",
        pointer: "/conditions/servicePrincipalRiskLevels",
        plans: &[ENTRA_ID_P2],
        what: "service principal risk condition",
    },
    BodyNeed {
        kind: "conditionalAccessPolicy",
        pointer: "/conditions/agentIdRiskLevels",
        plans: &[ENTRA_ID_P2],
        what: "agent identity risk condition",
    },
];

/// Service plans tenantform knows by name, with the product a person buys to get them
/// (Microsoft Learn, "Product names and service plan identifiers for licensing").
pub const SERVICE_PLANS: &[(&str, &str)] = &[
    (ENTRA_ID_P1, "Microsoft Entra ID P1"),
    (ENTRA_ID_P2, "Microsoft Entra ID P2"),
    (INTUNE, "Microsoft Intune Plan 1"),
];

/// A plan that includes another: every SKU with Entra ID P2 also carries the P1 plan, so a
/// tenant file that lists only `AAD_PREMIUM_P2` is not refused Conditional Access.
const INCLUDES: &[(&str, &str)] = &[(ENTRA_ID_P2, ENTRA_ID_P1)];

/// The product name of a service plan (`AAD_PREMIUM_P2` → "Microsoft Entra ID P2"), or the
/// plan's own name when tenantform does not know it.
pub fn product_name(plan: &str) -> &str {
    SERVICE_PLANS
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(plan))
        .map_or(plan, |(_, name)| name)
}

/// Every service plan some kind or body rule needs, plus [`SERVICE_PLANS`]: sorted, unique.
/// A facts table naming another plan gets a warning (a typo is the likely cause).
pub fn known_service_plans() -> Vec<&'static str> {
    let mut plans: Vec<&'static str> = SERVICE_PLANS
        .iter()
        .map(|(p, _)| *p)
        .chain(super::all().iter().flat_map(|k| k.licences.iter().copied()))
        .chain(
            super::LINK_KINDS
                .iter()
                .flat_map(|k| k.licences.iter().copied()),
        )
        .chain(BODY_NEEDS.iter().flat_map(|n| n.plans.iter().copied()))
        .collect();
    plans.sort_unstable();
    plans.dedup();
    plans
}

/// Application permissions `tenantform facts` needs to read a tenant's facts:
/// `GET /subscribedSkus` (`Organization.Read.All`; `LicenseAssignment.Read.All` also reads it)
/// and the app's own service principal and app role assignments (`Application.Read.All`).
pub const FACTS_READ_PERMISSIONS: &[&str] = &["Organization.Read.All", "Application.Read.All"];

/// The other permission that reads `GET /subscribedSkus` (least privileged, per Microsoft Learn
/// "List subscribedSkus").
pub const LICENCE_READ_PERMISSION: &str = "LicenseAssignment.Read.All";

/// Every application permission some kind needs, plus those that read facts: sorted, unique.
pub fn known_permissions() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = super::all()
        .iter()
        .flat_map(|k| k.permissions.iter().copied())
        .chain(
            super::LINK_KINDS
                .iter()
                .flat_map(|k| k.permissions.iter().copied()),
        )
        .chain(FACTS_READ_PERMISSIONS.iter().copied())
        .chain([LICENCE_READ_PERMISSION])
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// True when `granted` covers `needed`: the same permission (names compare without case), or
/// for a `X.Read.Y` permission its `X.ReadWrite.Y` (Graph's ReadWrite permissions also read).
pub fn permission_granted<S: AsRef<str>>(needed: &str, granted: &[S]) -> bool {
    let has = |p: &str| granted.iter().any(|g| g.as_ref().eq_ignore_ascii_case(p));
    has(needed) || (needed.contains(".Read.") && has(&needed.replacen(".Read.", ".ReadWrite.", 1)))
}

/// A permission the app lacks, and the resources that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPermission {
    /// The permission (`Policy.ReadWrite.ConditionalAccess`).
    pub permission: &'static str,
    /// Keys of the resources whose kind needs it, in the order given.
    pub resources: Vec<String>,
}

/// The permissions `resources` (key and kind) need that `granted` does not cover, sorted by
/// name. Empty: the app may write every one of them.
pub fn missing_permissions<'a, S: AsRef<str>>(
    resources: impl IntoIterator<Item = (&'a str, &'a Kind)>,
    granted: &[S],
) -> Vec<MissingPermission> {
    let mut missing: std::collections::BTreeMap<&'static str, Vec<String>> =
        std::collections::BTreeMap::new();
    for (key, kind) in resources {
        for permission in kind.permissions {
            if !permission_granted(permission, granted) {
                missing.entry(permission).or_default().push(key.to_string());
            }
        }
    }
    missing
        .into_iter()
        .map(|(permission, resources)| MissingPermission {
            permission,
            resources,
        })
        .collect()
}

/// True when a tenant with `plans` has `plan` (directly, or through a plan that includes it).
pub fn has_plan<S: AsRef<str>>(plan: &str, plans: &[S]) -> bool {
    plans.iter().any(|p| {
        let p = p.as_ref();
        p.eq_ignore_ascii_case(plan)
            || INCLUDES.iter().any(|(outer, inner)| {
                outer.eq_ignore_ascii_case(p) && inner.eq_ignore_ascii_case(plan)
            })
    })
}

/// A resource that a tenant's service plans cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanGap {
    /// The plans, any one of which the resource needs.
    pub needs: &'static [&'static str],
    /// The body property that needs them (`None`: the kind itself does).
    pub because: Option<&'static BodyNeed>,
}

impl PlanGap {
    /// The reason a person reads: "needs Microsoft Entra ID P2 (AAD_PREMIUM_P2) for its
    /// sign-in risk condition; the tenant has AAD_PREMIUM, INTUNE_A".
    pub fn reason<S: AsRef<str>>(&self, plans: &[S]) -> String {
        let needs: Vec<String> = self
            .needs
            .iter()
            .map(|p| format!("{} ({p})", product_name(p)))
            .collect();
        let mut text = format!("needs {}", needs.join(" or "));
        if let Some(need) = self.because {
            text.push_str(&format!(" for its {} ({})", need.what, need.pointer));
        }
        if plans.is_empty() {
            text.push_str("; the tenant's facts list no service plans");
        } else {
            let mut has: Vec<&str> = plans.iter().map(AsRef::as_ref).collect();
            has.sort_unstable();
            has.dedup();
            text.push_str(&format!("; the tenant has {}", has.join(", ")));
        }
        text
    }
}

/// True when a JSON value counts as set (not `null`, `[]`, `""` or `{}`).
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// What a resource of `kind` with `body` needs that a tenant with `plans` lacks: the kind's
/// own plans first, then each [`BODY_NEEDS`] row of the kind in table order. `None`: it can
/// take it.
pub fn plan_gap<S: AsRef<str>>(kind: &Kind, body: &Value, plans: &[S]) -> Option<PlanGap> {
    let lacks = |needs: &[&str]| !needs.is_empty() && !needs.iter().any(|p| has_plan(p, plans));
    if lacks(kind.licences) {
        return Some(PlanGap {
            needs: kind.licences,
            because: None,
        });
    }
    BODY_NEEDS
        .iter()
        .filter(|n| n.kind == kind.name)
        // The tenant's plans first: a body is looked into only for a plan the tenant lacks.
        .find(|n| lacks(n.plans) && body.pointer(n.pointer).is_some_and(is_set))
        .map(|n| PlanGap {
            needs: n.plans,
            because: Some(n),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ca() -> &'static Kind {
        crate::kinds::by_name("conditionalAccessPolicy").expect("CA kind")
    }

    #[test]
    fn body_rules_name_real_kinds_and_known_plans() {
        let plans = known_service_plans();
        for need in BODY_NEEDS {
            assert!(crate::kinds::by_name(need.kind).is_some(), "{}", need.kind);
            assert!(need.pointer.starts_with('/'), "{}", need.pointer);
            assert!(need.plans.iter().all(|p| plans.contains(p)));
        }
    }

    #[test]
    fn risk_conditions_need_p2_and_an_empty_list_does_not() {
        let p1 = ["AAD_PREMIUM", "INTUNE_A"];
        let risky = json!({"conditions": {"signInRiskLevels": ["high"], "userRiskLevels": []}});
        let gap = plan_gap(ca(), &risky, &p1).expect("needs P2");
        assert_eq!(gap.needs, &[ENTRA_ID_P2]);
        assert_eq!(
            gap.reason(&p1),
            "needs Microsoft Entra ID P2 (AAD_PREMIUM_P2) for its sign-in risk condition \
             (/conditions/signInRiskLevels); the tenant has AAD_PREMIUM, INTUNE_A"
        );
        let plain = json!({"conditions": {"signInRiskLevels": [], "userRiskLevels": null}});
        assert_eq!(plan_gap(ca(), &plain, &p1), None);
        assert_eq!(plan_gap(ca(), &risky, &["AAD_PREMIUM_P2"]), None);
    }

    #[test]
    fn the_kinds_own_plan_comes_first_and_p2_includes_p1() {
        let none: [&str; 0] = [];
        let gap = plan_gap(ca(), &json!({}), &none).expect("needs P1");
        assert_eq!(gap.because, None);
        assert_eq!(
            gap.reason(&none),
            "needs Microsoft Entra ID P1 (AAD_PREMIUM); the tenant's facts list no service plans"
        );
        assert!(has_plan("AAD_PREMIUM", &["aad_premium_p2"]));
        assert!(!has_plan("AAD_PREMIUM_P2", &["AAD_PREMIUM"]));
    }

    #[test]
    fn missing_permissions_name_each_permission_once_with_its_resources() {
        let group = crate::kinds::by_name("group").expect("group");
        let granted = ["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"];
        let missing = missing_permissions(
            [("ca-a", ca()), ("breakglass", group), ("ca-b", ca())],
            &granted,
        );
        assert_eq!(
            missing,
            vec![
                MissingPermission {
                    permission: "Application.Read.All",
                    resources: vec!["ca-a".into(), "ca-b".into()],
                },
                MissingPermission {
                    permission: "Group.ReadWrite.All",
                    resources: vec!["breakglass".into()],
                },
            ]
        );
        let all: Vec<&str> = known_permissions();
        assert!(missing_permissions([("ca-a", ca()), ("g", group)], &all).is_empty());
    }

    #[test]
    fn readwrite_grants_read_but_not_the_reverse() {
        assert!(permission_granted(
            "Group.Read.All",
            &["Group.ReadWrite.All"]
        ));
        assert!(!permission_granted(
            "Group.ReadWrite.All",
            &["Group.Read.All"]
        ));
        assert!(permission_granted("policy.read.all", &["Policy.Read.All"]));
        assert!(!permission_granted(
            "Policy.Read.All",
            &["Policy.ReadWrite.ConditionalAccess"]
        ));
    }
}
