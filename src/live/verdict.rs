//! Control verdicts from a live read (`tenantform evidence`): for each control a tenant's
//! baselines define (`[controls]`), the resources that claim it, what the tenant has for each
//! (the values the definition reads, and the enforcement state), and a verdict: **met**,
//! **report-only**, **not met**, **skipped** (with the override's reason) or **not
//! applicable**; controls claimed without a definition are **unassessed**. The definitions are
//! data ([`ControlDef`]); nothing here knows a control id.
//!
//! Input: the definitions of a tenant's layers, its bundle's claims and skipped resources, its
//! plan and [`LiveState`]. Output: [`ControlFinding`]s. Pure: no network.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::compile::bundle::Operation;
use crate::kinds::Shape;
use crate::live::plan::{IdentityMap, LiveState, TenantPlan};
use crate::live::reader::{known_ids, resolved_path};
use crate::source::model::{ControlDef, Quantifier, resolve};

/// A control's verdict in one tenant, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A claiming resource is missing, or its live object fails a requirement.
    NotMet,
    /// Every requirement holds, but the policy is in report-only mode.
    ReportOnly,
    /// Claimed by a resource, but no baseline of the tenant defines what "met" means.
    Unassessed,
    /// Every claiming resource is skipped in this tenant by an override.
    Skipped,
    /// Defined, but no resource of this tenant claims it.
    NotApplicable,
    /// The live objects meet every requirement and are in force.
    Met,
}

impl Verdict {
    /// Stable slug (`not-met`).
    pub fn slug(self) -> &'static str {
        match self {
            Verdict::NotMet => "not-met",
            Verdict::ReportOnly => "report-only",
            Verdict::Unassessed => "unassessed",
            Verdict::Skipped => "skipped",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Met => "met",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NotMet => "NOT MET",
            Verdict::ReportOnly => "report-only",
            Verdict::Unassessed => "unassessed",
            Verdict::Skipped => "skipped",
            Verdict::NotApplicable => "not applicable",
            Verdict::Met => "met",
        }
    }
}

/// What the tenant has for one claiming resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceFinding {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// The live object's id (absent when it was not found).
    pub object_id: Option<String>,
    /// True when the tenant has the object.
    pub found: bool,
    /// The live value of the definition's state pointer (`enabled`), when it has one.
    pub state: Option<Value>,
    /// The live values the definition reads, by JSON pointer (absent values are `null`).
    pub observed: BTreeMap<String, Value>,
    /// This resource's verdict.
    pub verdict: Verdict,
    /// The requirements it fails, in words (or why it was not judged).
    pub failures: Vec<String>,
}

/// One control in one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlFinding {
    /// Control id.
    pub control: String,
    /// What it requires (the definition's title).
    pub title: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when not met, skipped, not applicable or unassessed.
    pub reason: Option<String>,
    /// The claiming resources (skipped ones included).
    pub resources: Vec<ResourceFinding>,
}

/// Every control of one tenant as read live, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantEvidence {
    /// When the tenant was read (UTC, RFC 3339).
    pub read_at: String,
    /// Per control, in id order.
    pub controls: Vec<ControlFinding>,
}

/// A resource an override skipped, with the controls it would implement.
#[derive(Debug, Clone)]
pub struct SkippedClaim {
    /// Key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// The override's reason.
    pub reason: String,
    /// Controls it would implement.
    pub controls: Vec<String>,
}

/// The live object the tenant has for one operation, if any: by the id the plan or identity map
/// knows, else (singletons, fixed members) by its path.
pub fn live_object<'a>(
    op: &Operation,
    ids: &BTreeMap<String, String>,
    live: &'a LiveState,
) -> Option<&'a Value> {
    if let Some(id) = ids.get(&op.key)
        && let Some(found) = live.collections.get(op.kind.name).and_then(|objects| {
            objects.iter().find(|o| {
                o.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.eq_ignore_ascii_case(id))
            })
        })
    {
        return Some(found);
    }
    if op.kind.shape == Shape::Collection {
        return None;
    }
    let path = resolved_path(op, ids)?;
    live.by_path
        .get(&path)
        .or_else(|| live.by_path.get(&op.path))
}

/// One claiming resource judged against a definition.
fn judge_resource(def: &ControlDef, op: &Operation, object: Option<&Value>) -> ResourceFinding {
    let mut finding = ResourceFinding {
        key: op.key.clone(),
        kind: op.kind.name.to_string(),
        object_id: object
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string),
        found: object.is_some(),
        state: None,
        observed: BTreeMap::new(),
        verdict: Verdict::NotMet,
        failures: Vec::new(),
    };
    let Some(object) = object else {
        finding.failures.push("not found in the tenant".to_string());
        return finding;
    };
    for req in def.require.iter().chain(&def.or_require) {
        finding.observed.insert(
            req.at.clone(),
            resolve(object, &req.at).cloned().unwrap_or(Value::Null),
        );
    }
    for req in &def.require {
        if let Err(e) = req.check(object) {
            finding.failures.push(e);
        }
    }
    // The alternative: all of `or_require` met meets the control as well.
    if !finding.failures.is_empty() && !def.or_require.is_empty() {
        let otherwise: Vec<String> = def
            .or_require
            .iter()
            .filter_map(|req| req.check(object).err())
            .collect();
        if otherwise.is_empty() {
            finding.failures.clear();
        } else {
            finding
                .failures
                .extend(otherwise.into_iter().map(|f| format!("nor, instead, {f}")));
        }
    }
    let state = def.state.as_ref().map(|p| resolve(object, p).cloned());
    finding.state = state.clone().flatten();
    if !finding.failures.is_empty() {
        return finding;
    }
    finding.verdict = match state {
        None => Verdict::Met,
        Some(Some(Value::String(s))) if s == "enabled" => Verdict::Met,
        Some(Some(Value::String(s))) if s == "enabledForReportingButNotEnforced" => {
            finding.failures.push(format!(
                "report-only: {} is \"{s}\"",
                def.state.as_deref().unwrap_or_default()
            ));
            Verdict::ReportOnly
        }
        Some(other) => {
            finding.failures.push(format!(
                "{} is {}, not \"enabled\"",
                def.state.as_deref().unwrap_or_default(),
                other.map_or("absent".to_string(), |v| v.to_string())
            ));
            Verdict::NotMet
        }
    };
    finding
}

/// The control definitions of a tenant's layers (in layer order): a later layer's definition
/// of an id replaces an earlier one's.
pub fn definitions<'a>(layers: impl IntoIterator<Item = &'a [ControlDef]>) -> Vec<&'a ControlDef> {
    let mut by_id: BTreeMap<&str, &ControlDef> = BTreeMap::new();
    for defs in layers {
        for def in defs {
            by_id.insert(def.id.value.as_str(), def);
        }
    }
    by_id.into_values().collect()
}

/// Every control of one tenant: those its layers define, and those its resources claim.
pub fn judge(
    defs: &[&ControlDef],
    operations: &[Operation],
    skipped: &[SkippedClaim],
    plan: &TenantPlan,
    live: &LiveState,
    identity: &IdentityMap,
) -> Vec<ControlFinding> {
    let ids = known_ids(plan, identity);
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    for op in operations {
        claimed.extend(op.controls.iter().map(String::as_str));
    }
    for s in skipped {
        claimed.extend(s.controls.iter().map(String::as_str));
    }
    let defined: BTreeMap<&str, &ControlDef> =
        defs.iter().map(|d| (d.id.value.as_str(), *d)).collect();
    let mut all: Vec<&str> = claimed
        .union(&defined.keys().copied().collect())
        .copied()
        .collect();
    all.sort_by_key(|c| natural(c));
    let mut out = Vec::new();
    for control in all {
        let claiming: Vec<&Operation> = operations
            .iter()
            .filter(|op| op.controls.iter().any(|c| c == control))
            .collect();
        let skips: Vec<&SkippedClaim> = skipped
            .iter()
            .filter(|s| s.controls.iter().any(|c| c == control))
            .collect();
        let skipped_findings = skips.iter().map(|s| ResourceFinding {
            key: s.key.clone(),
            kind: s.kind.clone(),
            object_id: None,
            found: false,
            state: None,
            observed: BTreeMap::new(),
            verdict: Verdict::Skipped,
            failures: vec![format!("skipped: {}", s.reason)],
        });
        let Some(def) = defined.get(control) else {
            let mut resources: Vec<ResourceFinding> = claiming
                .iter()
                .map(|op| ResourceFinding {
                    key: op.key.clone(),
                    kind: op.kind.name.to_string(),
                    object_id: live_object(op, &ids, live)
                        .and_then(|o| o.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    found: live_object(op, &ids, live).is_some(),
                    state: None,
                    observed: BTreeMap::new(),
                    verdict: Verdict::Unassessed,
                    failures: Vec::new(),
                })
                .collect();
            resources.extend(skipped_findings);
            out.push(ControlFinding {
                control: control.to_string(),
                title: None,
                verdict: Verdict::Unassessed,
                reason: Some(
                    "no baseline of this tenant defines it ([controls] in the baseline)"
                        .to_string(),
                ),
                resources,
            });
            continue;
        };
        let mut resources: Vec<ResourceFinding> = claiming
            .iter()
            .map(|op| judge_resource(def, op, live_object(op, &ids, live)))
            .collect();
        let judged: Vec<Verdict> = resources.iter().map(|r| r.verdict).collect();
        resources.extend(skipped_findings);
        let (verdict, reason) = if judged.is_empty() && skips.is_empty() {
            (
                Verdict::NotApplicable,
                Some("no resource of this tenant claims it".to_string()),
            )
        } else if judged.is_empty() {
            let reasons: BTreeSet<&str> = skips.iter().map(|s| s.reason.as_str()).collect();
            (
                Verdict::Skipped,
                Some(reasons.into_iter().collect::<Vec<_>>().join("; ")),
            )
        } else {
            let verdict = match def.quantifier {
                // The best claiming resource decides (any one qualifying policy is enough).
                Quantifier::Any => judged.iter().copied().max(),
                // The worst decides; a skipped sibling leaves the control short.
                Quantifier::All if !skips.is_empty() => Some(Verdict::NotMet),
                Quantifier::All => judged.iter().copied().min(),
            }
            .unwrap_or(Verdict::NotMet);
            let reason = (verdict != Verdict::Met).then(|| {
                resources
                    .iter()
                    .filter(|r| r.verdict != Verdict::Met)
                    .map(|r| format!("{}: {}", r.key, r.failures.join("; ")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            });
            (verdict, reason.filter(|r| !r.is_empty()))
        };
        out.push(ControlFinding {
            control: control.to_string(),
            title: Some(def.title.clone()),
            verdict,
            reason,
            resources,
        });
    }
    out
}

/// Sort key that puts `MS.AAD.3.10` after `MS.AAD.3.9`.
fn natural(id: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in id.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::plan::{self, PlanInput};
    use crate::source::model::{Requirement, Sp, Test};
    use crate::source::{FileId, Span};
    use serde_json::json;

    fn def(id: &str, quantifier: Quantifier, require: Vec<Requirement>) -> ControlDef {
        ControlDef {
            id: Sp::new(id.to_string(), Span::new(FileId(0), 0..0)),
            title: format!("{id} title"),
            quantifier,
            state: Some("/state".to_string()),
            require,
            or_require: Vec::new(),
        }
    }

    fn blocks() -> Requirement {
        Requirement {
            at: "/grantControls/builtInControls".into(),
            test: Test::Contains(json!("block")),
            or_absent: false,
        }
    }

    /// The minimal fixture's policy claims `CIS-M365-5.2.2.x`; judge it with `state` set.
    fn judge_with(
        state: &str,
        defs: &[&ControlDef],
        skipped: &[SkippedClaim],
    ) -> Vec<ControlFinding> {
        let bundle = plan::tests::minimal_bundle();
        let (mut live, identity) = plan::tests::deployed(&bundle);
        for policy in live
            .collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies")
        {
            policy["state"] = json!(state);
        }
        let p = plan::plan(&PlanInput::from(&bundle), &live, &identity);
        judge(
            defs,
            &bundle.bundle().operations,
            skipped,
            &p,
            &live,
            &identity,
        )
    }

    #[test]
    fn the_state_pointer_decides_met_report_only_and_not_met() {
        let d = def("CIS-M365-5.2.2.x", Quantifier::Any, vec![blocks()]);
        let verdict = |state| judge_with(state, &[&d], &[])[0].verdict;
        assert_eq!(verdict("enabled"), Verdict::Met);
        assert_eq!(
            verdict("enabledForReportingButNotEnforced"),
            Verdict::ReportOnly
        );
        assert_eq!(verdict("disabled"), Verdict::NotMet);
        let found = judge_with("disabled", &[&d], &[]);
        assert_eq!(
            found[0].reason.as_deref(),
            Some("block-other-countries: /state is \"disabled\", not \"enabled\"")
        );
        assert_eq!(
            found[0].resources[0].observed["/grantControls/builtInControls"],
            json!(["block"])
        );
    }

    #[test]
    fn or_require_met_meets_the_control_and_otherwise_both_failures_are_named() {
        let mfa = Requirement {
            at: "/grantControls/builtInControls".into(),
            test: Test::Contains(json!("mfa")),
            or_absent: false,
        };
        // The policy blocks; it does not require MFA.
        let mut d = def("CIS-M365-5.2.2.x", Quantifier::Any, vec![mfa.clone()]);
        assert_eq!(
            judge_with("enabled", &[&d], &[])[0].verdict,
            Verdict::NotMet
        );
        d.or_require = vec![blocks()];
        let met = judge_with("enabled", &[&d], &[]);
        assert_eq!(met[0].verdict, Verdict::Met);
        // One pointer observed: both requirements read builtInControls.
        assert_eq!(met[0].resources[0].observed.len(), 1);
        d.or_require = vec![Requirement {
            at: "/displayName".into(),
            test: Test::Equals(json!("another")),
            or_absent: false,
        }];
        let not_met = judge_with("enabled", &[&d], &[]);
        assert_eq!(not_met[0].verdict, Verdict::NotMet);
        let failures = &not_met[0].resources[0].failures;
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[0].starts_with("/grantControls/builtInControls contains \"mfa\""));
        assert!(failures[1].starts_with("nor, instead, /displayName equals \"another\""));
        assert!(
            not_met[0].resources[0]
                .observed
                .contains_key("/displayName")
        );
    }

    #[test]
    fn unclaimed_definitions_are_not_applicable_and_undefined_claims_unassessed() {
        let other = def("CIS-9.9", Quantifier::Any, vec![blocks()]);
        let found = judge_with("enabled", &[&other], &[]);
        let by_id: BTreeMap<&str, &ControlFinding> =
            found.iter().map(|c| (c.control.as_str(), c)).collect();
        assert_eq!(by_id["CIS-9.9"].verdict, Verdict::NotApplicable);
        assert_eq!(by_id["CIS-M365-5.2.2.x"].verdict, Verdict::Unassessed);
        assert!(by_id["CIS-M365-5.2.2.x"].resources[0].found);
    }

    #[test]
    fn with_match_all_a_skipped_sibling_leaves_the_control_not_met() {
        let all = def("CIS-M365-5.2.2.x", Quantifier::All, vec![blocks()]);
        let skipped = [SkippedClaim {
            key: "other-policy".into(),
            kind: "conditionalAccessPolicy".into(),
            reason: "not licensed".into(),
            controls: vec!["CIS-M365-5.2.2.x".into()],
        }];
        let found = judge_with("enabled", &[&all], &skipped);
        assert_eq!(found[0].verdict, Verdict::NotMet);
        let any = def("CIS-M365-5.2.2.x", Quantifier::Any, vec![blocks()]);
        assert_eq!(
            judge_with("enabled", &[&any], &skipped)[0].verdict,
            Verdict::Met
        );
    }

    #[test]
    fn a_later_layer_redefines_a_control() {
        let base = [def("X", Quantifier::Any, vec![blocks()])];
        let upper = [def("X", Quantifier::All, vec![blocks()])];
        let defs = definitions([&base[..], &upper[..]]);
        assert_eq!(defs.len(), 1);
        assert_eq!(defs[0].quantifier, Quantifier::All);
    }

    #[test]
    fn ids_sort_naturally() {
        let mut ids = vec!["MS.AAD.3.10v1", "MS.AAD.3.9v1", "MS.AAD.10.1v1"];
        ids.sort_by_key(|c| natural(c));
        assert_eq!(ids, ["MS.AAD.3.9v1", "MS.AAD.3.10v1", "MS.AAD.10.1v1"]);
    }
}
