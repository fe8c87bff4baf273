//! `[tenant.facts]`: the service plans a tenant has and the application permissions granted to
//! the deploying app, as the tenant file declares them (by hand, or written by
//! `tenantform facts --write`).
//!
//! Input: the facts table of one `[[tenant]]` entry. Output: [`TenantFacts`]; a name
//! tenantform does not know is a warning at its `file:line:col` (with "did you mean"), because
//! a misspelt plan would otherwise skip resources the tenant can take.

use toml::de::DeTable;

use super::reader::Reader;
use super::{Sp, TenantFacts, did_you_mean};
use crate::diag::{Code, Diagnostic};
use crate::kinds::needs;

const WHAT: &str = "[tenant.facts]";

pub(super) fn decode_facts(r: &mut Reader<'_>, t: &DeTable<'_>) -> TenantFacts {
    r.check_keys(t, &["service_plans", "permissions"], WHAT);
    let service_plans = r.get(t, "service_plans").is_some().then(|| {
        let plans = r.string_list(t, "service_plans", WHAT);
        let known = needs::known_service_plans();
        for plan in &plans {
            warn_unknown(r, plan, &known, Code::UnknownServicePlan, "service plan");
        }
        plans
    });
    let permissions = r.get(t, "permissions").is_some().then(|| {
        let permissions = r.string_list(t, "permissions", WHAT);
        let known = needs::known_permissions();
        for permission in &permissions {
            warn_unknown(r, permission, &known, Code::UnknownPermission, "permission");
        }
        permissions
    });
    TenantFacts {
        service_plans,
        permissions,
    }
}

fn warn_unknown(r: &mut Reader<'_>, name: &Sp<String>, known: &[&str], code: Code, noun: &str) {
    if known.iter().any(|k| k.eq_ignore_ascii_case(&name.value)) {
        return;
    }
    let mut d = Diagnostic::warning(
        code,
        format!(
            "unknown {noun} \"{}\" in {WHAT}: no kind needs it, so it grants nothing",
            name.value
        ),
    )
    .at(name.span);
    match did_you_mean(&name.value, known.iter().copied()) {
        Some(s) => d = d.help(format!("did you mean \"{s}\"?")),
        None => {
            d = d.help(format!(
                "tenantform reads these {noun}s: {}",
                known.join(", ")
            ))
        }
    }
    r.diags.push(d);
}

#[cfg(test)]
mod tests {
    use crate::diag::{Code, Diagnostics};
    use crate::source::FileId;
    use crate::source::model::decode_tenants;

    fn decode(facts: &str) -> (Option<super::TenantFacts>, Diagnostics) {
        let text = format!(
            "[[tenant]]\nid = \"6f2c8a4e-1d3b-4c5a-9e7f-0a1b2c3d4e5f\"\nname = \"C\"\nbaselines = []\n\n[tenant.facts]\n{facts}"
        );
        let mut diags = Diagnostics::new();
        let mut tenants = decode_tenants(&text, FileId(0), &mut diags);
        let tenant = tenants.pop().map(|(t, _)| t);
        (tenant.and_then(|t| t.facts), diags)
    }

    #[test]
    fn declared_lists_are_kept_and_absent_ones_stay_unknown() {
        let (facts, diags) = decode("service_plans = [\"AAD_PREMIUM\", \"INTUNE_A\"]\n");
        assert!(diags.is_empty(), "{diags:?}");
        let facts = facts.expect("facts");
        assert_eq!(facts.plans(), Some(vec!["AAD_PREMIUM", "INTUNE_A"]));
        assert_eq!(facts.granted(), None);
    }

    #[test]
    fn a_misspelt_plan_is_a_warning_at_its_place_with_a_suggestion() {
        let (facts, diags) = decode("service_plans = [\"AAD_PREMIUM\", \"AAD_PREMUIM_P2\"]\n");
        assert!(facts.is_some());
        let d: Vec<_> = diags.iter().collect();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, Code::UnknownServicePlan);
        assert!(!d[0].is_error());
        assert!(
            d[0].message.contains("\"AAD_PREMUIM_P2\""),
            "{}",
            d[0].message
        );
        assert!(
            d[0].help
                .iter()
                .any(|h| h.contains("did you mean \"AAD_PREMIUM_P2\"")),
            "{:?}",
            d[0].help
        );
        let span = d[0].span.expect("span");
        assert_eq!(span.start, 97 + "service_plans = [\"AAD_PREMIUM\", ".len());
    }

    #[test]
    fn an_unknown_permission_and_an_unknown_key_are_reported() {
        let (_, diags) =
            decode("permissions = [\"Policy.ReadWrite.ConditionalAccesss\"]\nlicences = []\n");
        let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::UnknownKey, Code::UnknownPermission]);
    }
}
