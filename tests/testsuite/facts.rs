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

mod against_the_simulator {
    use serde_json::Value;

    use crate::deploy::{World, config};

    /// Every permission tenantform knows, but `without`, as a TOML array.
    fn granted_without(without: &str) -> String {
        let names: Vec<String> = tenantform::kinds::needs::known_permissions()
            .into_iter()
            .filter(|p| *p != without)
            .map(|p| format!("\"{p}\""))
            .collect();
        format!("[{}]", names.join(", "))
    }

    #[test]
    fn a_permission_the_facts_do_not_grant_fails_plan_and_deploy_before_any_request() {
        let w = World::new(config(3));
        // Fabrikam 00001 (P2) declares its granted permissions: all but CA writes.
        let fleet = w.project.read("tenants/fleet.toml").replace(
            "service_plans = [\"AAD_PREMIUM\", \"AAD_PREMIUM_P2\", \"INTUNE_A\"]\n",
            &format!(
                "service_plans = [\"AAD_PREMIUM\", \"AAD_PREMIUM_P2\", \"INTUNE_A\"]\npermissions = {}\n",
                granted_without("Policy.ReadWrite.ConditionalAccess")
            ),
        );
        w.project.file("tenants/fleet.toml", fleet);
        let fabrikam = w.tenant(1);
        let named = "missing permission: the tenant's facts do not grant the app Policy.ReadWrite.ConditionalAccess (needed by ";
        w.cmd(&["plan"])
            .run()
            .code(3)
            .stdout_has(named)
            .stdout_has(&format!("tenantform facts --tenant {fabrikam} --write"));
        w.deploy(&[]).code(3).stderr_has(named);
        let log = w.sim.handle.request_log(Some(&fabrikam)).expect("log");
        assert_eq!(log["total"], 0, "Fabrikam was sent requests: {log}");
        // The other tenants deployed.
        assert!(w.count_of(0, "conditionalAccessPolicy") > 0);
    }

    #[test]
    fn deploy_journals_each_skip_with_its_reason_and_plan_shows_it() {
        let w = World::new(config(3));
        let contoso = w.tenant(0);
        w.cmd(&["plan"])
            .run()
            .success()
            .stdout_has("  skipped ca-user-risk: needs Microsoft Entra ID P2 (AAD_PREMIUM_P2) for its user risk condition");
        w.deploy(&[]).success();
        let skipped: Vec<Value> = w
            .journal()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("record"))
            .filter(|r| r["event"] == "skipped")
            .collect();
        let keys: Vec<(&str, &str)> = skipped
            .iter()
            .map(|r| {
                (
                    r["tenant"].as_str().expect("tenant"),
                    r["key"].as_str().expect("key"),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                (contoso.as_str(), "ca-signin-risk"),
                (contoso.as_str(), "ca-user-risk")
            ]
        );
        assert!(
            skipped[0]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("needs Microsoft Entra ID P2 (AAD_PREMIUM_P2)")),
            "{}",
            skipped[0]
        );
        // Nothing of the skipped policies reached the tenant.
        let names: Vec<String> = w.objects(0)["conditionalAccessPolicy"]
            .as_array()
            .expect("policies")
            .iter()
            .map(|p| p["displayName"].as_str().unwrap_or_default().to_lowercase())
            .collect();
        assert!(names.iter().all(|n| !n.contains("risk")), "{names:?}");
        w.cmd(&["runs", "list"]).run().success();
    }
}
