//! What a tenant can take: `[tenant.facts]` (service plans, permissions) decide which resources
//! a tenant gets, each skip with its reason in validate, the bundle, plan, the report and the
//! journal; a missing permission fails the tenant before any write; tenants without facts are
//! assumed to have everything, said once per run.

use serde_json::{Value, json};

use crate::harness::Project;

const P1_ONLY: &str = "11111111-1111-4111-8111-111111111111";
const P2: &str = "22222222-2222-4222-8222-222222222222";
const NO_FACTS: &str = "33333333-3333-4333-8333-333333333333";

const RISK_REASON: &str = "needs Microsoft Entra ID P2 (AAD_PREMIUM_P2) for its sign-in risk condition (/conditions/signInRiskLevels); the tenant has AAD_PREMIUM";

fn compiled(p: &Project) -> std::collections::BTreeMap<String, Value> {
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    [P1_ONLY, P2, NO_FACTS]
        .into_iter()
        .map(|id| {
            let text = std::fs::read_to_string(out.join(format!("{id}.json"))).expect("bundle");
            (id.to_string(), serde_json::from_str(&text).expect("json"))
        })
        .collect()
}

fn keys(bundle: &Value) -> Vec<&str> {
    bundle["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| o["key"].as_str().expect("key"))
        .collect()
}

#[test]
fn a_tenant_without_p2_or_intune_skips_what_needs_them_and_what_references_it() {
    let p = Project::from_fixture("valid/facts");
    let bundles = compiled(&p);
    let p1 = &bundles[P1_ONLY];
    assert_eq!(
        p1["skipped"],
        json!([
            {"key": "block-high-signin-risk", "kind": "conditionalAccessPolicy", "reason": RISK_REASON},
            {"key": "windows-compliance", "kind": "deviceCompliancePolicy",
             "reason": "needs Microsoft Intune Plan 1 (INTUNE_A); the tenant has AAD_PREMIUM"},
            {"key": "risk-reviewers", "kind": "group",
             "reason": format!("depends on `block-high-signin-risk`, which is skipped: {RISK_REASON}")},
        ])
    );
    assert_eq!(keys(p1), vec!["breakglass", "require-mfa"]);
    // P2 includes P1; with Intune the tenant gets everything. Without facts, so does it.
    for id in [P2, NO_FACTS] {
        assert_eq!(bundles[id]["skipped"], json!([]), "{id}");
        assert_eq!(keys(&bundles[id]).len(), 5, "{id}");
    }
}

#[test]
fn validate_lists_each_skip_under_its_tenant_and_says_once_what_is_assumed() {
    let p = Project::from_fixture("valid/facts");
    let out = p
        .cmd(&["validate"])
        .run()
        .success()
        .stderr_has("  ok      P1 only (11111111-1111-4111-8111-111111111111): 2 operations, 3 skipped\n")
        .stderr_has(&format!("          skipped block-high-signin-risk: {RISK_REASON}\n"))
        .stderr_has("          skipped windows-compliance: needs Microsoft Intune Plan 1 (INTUNE_A); the tenant has AAD_PREMIUM\n");
    let note = "note: facts: 1 tenant lists no service plans and 2 tenants list no permissions; tenantform assumes those tenants have them all";
    assert_eq!(out.stderr.matches(note).count(), 1, "{}", out.stderr);
    // Skips are not warnings: the project stays clean under --strict.
    p.cmd(&["validate", "--strict"]).run().success();
}

#[test]
fn a_misspelt_service_plan_is_a_warning_at_its_line_and_an_error_under_strict() {
    let p = Project::from_fixture("valid/facts");
    let tenants = p.read("tenants/tenants.toml").replace(
        "service_plans = [\"AAD_PREMIUM\"]",
        "service_plans = [\"AAD_PREMUIM\"]",
    );
    p.file("tenants/tenants.toml", tenants);
    p.cmd(&["validate"])
        .run()
        .success()
        .stderr_has("warning[TF122]: unknown service plan \"AAD_PREMUIM\" in [tenant.facts]")
        .stderr_has("--> tenants/tenants.toml:9:18")
        .stderr_has("did you mean \"AAD_PREMIUM\"?");
    p.cmd(&["validate", "--strict"])
        .run()
        .code(1)
        .stderr_has("TF122");
}

#[test]
fn an_override_skip_still_refuses_a_reference_to_what_it_skips() {
    // The tenant chose the skip: a resource that references it is an error to fix, not a
    // silent cascade (facts skips cascade because no one chose them).
    let p = Project::from_fixture("valid/facts");
    let tenants = p.read("tenants/tenants.toml").replace(
        "name = \"No facts\"\nbaselines = [\"core\"]\n",
        "name = \"No facts\"\nbaselines = [\"core\"]\n\n[[tenant.overrides]]\nresource = \"block-high-signin-risk\"\nskip = true\nreason = \"Risk handled by the SOC's own tooling\"\n",
    );
    p.file("tenants/tenants.toml", tenants);
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("error[TF301]")
        .stderr_has("`block-high-signin-risk` is skipped by an override (Risk handled by the SOC's own tooling)");
}
