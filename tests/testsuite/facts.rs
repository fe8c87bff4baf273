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

mod read_live {
    use tenantform::sim::SimConfig;

    use crate::deploy::{World, config};

    #[test]
    fn facts_write_puts_what_graph_says_into_the_tenant_file_and_compile_follows_it() {
        let w = World::new(SimConfig {
            withdrawn_plans: vec![(1, "AAD_PREMIUM_P2".into())],
            ..config(3)
        });
        let fabrikam = w.tenant(1);
        let before = w.project.read("tenants/fleet.toml");
        let out = w
            .cmd(&["facts", "--tenant", &fabrikam, "--write"])
            .run()
            .success()
            .stdout_has("  service plans: AAD_PREMIUM, INTUNE_A\n")
            .stdout_has("Policy.ReadWrite.ConditionalAccess")
            .stdout_has("  wrote [tenant.facts] in tenants/fleet.toml\n");
        assert!(!out.stdout.contains("AAD_PREMIUM_P2"), "{}", out.stdout);
        let after = w.project.read("tenants/fleet.toml");
        assert!(
            after.starts_with("# Tenants served by `tenantform sim`"),
            "{after}"
        );
        // Only Fabrikam's entry changed.
        let fabrikam_at = after
            .find(&format!("id = \"{fabrikam}\""))
            .expect("Fabrikam");
        let next = after[fabrikam_at..]
            .find("[[tenant]]")
            .map_or(after.len(), |i| fabrikam_at + i);
        let entry = &after[fabrikam_at..next];
        assert!(
            entry.contains("service_plans = [\"AAD_PREMIUM\", \"INTUNE_A\"]\npermissions = [\n"),
            "{entry}"
        );
        assert_eq!(after[..fabrikam_at], before[..fabrikam_at]);
        // The facts now decide: Fabrikam's risk policies are skipped, with the reason.
        w.cmd(&["validate"]).run().success().stderr_has(
            "skipped ca-scuba-block-high-signin-risk: needs Microsoft Entra ID P2 (AAD_PREMIUM_P2)",
        );
        // Read again: the file says the same.
        w.cmd(&["facts", "--tenant", &fabrikam])
            .run()
            .success()
            .stdout_has("says the same");
    }

    #[test]
    fn facts_from_a_tenant_that_does_not_let_the_app_read_them_is_a_clear_error() {
        let w = World::new(SimConfig {
            withdrawn: vec![(2, "Application.Read.All".into())],
            ..config(3)
        });
        let before = w.project.read("tenants/fleet.toml");
        w.cmd(&["facts", "--all", "--write"])
            .run()
            .code(3)
            .stderr_has("facts not read: the app may not read the app's service principal (GET /servicePrincipals?$filter=appId eq '")
            .stderr_has("grant it Application.Read.All (admin consent in the tenant)");
        // The two tenants that could be read were written; the third was left as it was.
        let after = w.project.read("tenants/fleet.toml");
        let northwind = w.tenant(2);
        let at = after
            .find(&format!("id = \"{northwind}\""))
            .expect("Northwind");
        assert!(!after[at..].contains("[tenant.facts]"), "{}", &after[at..]);
        assert_ne!(before, after);
    }
}

mod simulator_wire {
    use serde_json::{Value, json};

    use crate::sim_support::Sim;

    fn plan_status(skus: &Value, plan: &str) -> Vec<String> {
        skus["value"]
            .as_array()
            .expect("value")
            .iter()
            .flat_map(|s| s["servicePlans"].as_array().expect("plans").iter())
            .filter(|p| p["servicePlanName"] == plan)
            .map(|p| {
                p["provisioningStatus"]
                    .as_str()
                    .expect("status")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn subscribed_skus_follow_the_control_api_and_app_roles_name_the_granted_permissions() {
        let sim = Sim::start();
        let skus = sim.get("/v1.0/subscribedSkus").status(200).json();
        assert_eq!(plan_status(&skus, "AAD_PREMIUM_P2"), vec!["Success"]);
        assert_eq!(skus["value"][0]["capabilityStatus"], "Enabled");
        let tenant = sim.tenant(0);
        sim.sim(
            "PUT",
            &format!("/_sim/tenants/{tenant}/service-plans"),
            Some(&json!({"withdrawn": ["AAD_PREMIUM_P2"]})),
        )
        .status(200);
        let skus = sim.get("/v1.0/subscribedSkus").status(200).json();
        assert_eq!(plan_status(&skus, "AAD_PREMIUM_P2"), vec!["Disabled"]);
        assert_eq!(plan_status(&skus, "AAD_PREMIUM"), vec!["Success"]);
        sim.sim(
            "PUT",
            &format!("/_sim/tenants/{tenant}/service-plans"),
            Some(&json!({"withdrawn": ["AAD_PREMIUM_P3"]})),
        )
        .status(400);

        let app = sim
            .get("/v1.0/servicePrincipals?$filter=appId%20eq%20'00000000-0000-4000-8000-00000000c11e'")
            .status(200)
            .json();
        let app_id = app["value"][0]["id"].as_str().expect("sp id").to_string();
        let graph = sim
            .get("/v1.0/servicePrincipals?$filter=appId%20eq%20'00000003-0000-0000-c000-000000000000'")
            .status(200)
            .json();
        let roles = graph["value"][0]["appRoles"].as_array().expect("appRoles");
        let assigned = sim
            .get(&format!(
                "/v1.0/servicePrincipals/{app_id}/appRoleAssignments"
            ))
            .status(200)
            .json();
        let names: Vec<&str> = assigned["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|a| {
                let role = roles
                    .iter()
                    .find(|r| r["id"] == a["appRoleId"])
                    .expect("every assignment names one of Graph's app roles");
                assert_eq!(a["resourceId"], graph["value"][0]["id"]);
                role["value"].as_str().expect("value")
            })
            .collect();
        assert!(
            names.contains(&"Policy.ReadWrite.ConditionalAccess"),
            "{names:?}"
        );
        assert!(names.contains(&"Application.Read.All"), "{names:?}");
    }
}

#[test]
fn sim_refuses_an_unknown_or_out_of_range_withdrawn_plan() {
    crate::harness::tenantform()
        .args(&["sim", "--tenants", "2", "--withdraw-plan", "0:AAD_PREMUIM_P2"])
        .run()
        .code(64)
        .stderr_has("--withdraw-plan 0:AAD_PREMUIM_P2: unknown service plan; the tenants have AAD_PREMIUM, AAD_PREMIUM_P2, INTUNE_A");
    crate::harness::tenantform()
        .args(&["sim", "--tenants", "2", "--withdraw-plan", "5:INTUNE_A"])
        .run()
        .code(64)
        .stderr_has("tenant index 5 is out of range (0..2)");
}

mod scubagear {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use crate::deploy::{World, config};

    /// The ScubaGear keys (cisagov/ScubaGear docs/configuration/configuration.md) and the CA
    /// controls of cisa-scuba-entra whose exclusions ScubaGear checks (baseline-facts.md §2.1).
    const CA_CONTROLS: [&str; 9] = [
        "MS.AAD.1.1v1",
        "MS.AAD.2.1v1",
        "MS.AAD.2.3v1",
        "MS.AAD.3.1v1",
        "MS.AAD.3.2v2",
        "MS.AAD.3.6v1",
        "MS.AAD.3.7v1",
        "MS.AAD.3.8v1",
        "MS.AAD.3.9v1",
    ];

    #[test]
    fn deploy_writes_scubagear_config_with_the_simulators_object_ids() {
        let w = World::new(config(3));
        let fabrikam = w.tenant(1);
        w.deploy(&[]).success().stderr_has(&format!(
            "scubagear: {fabrikam}: wrote .tenantform/scubagear/{fabrikam}.yaml"
        ));
        // Only Fabrikam gets cisa-scuba-entra.
        let dir = w.project.path().join(".tenantform/scubagear");
        let files: Vec<String> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, vec![format!("{fabrikam}.yaml")]);
        let text = w
            .project
            .read(&format!(".tenantform/scubagear/{fabrikam}.yaml"));
        let yaml: Value = serde_norway::from_str(&text).expect("valid YAML");
        assert_eq!(yaml["ProductNames"], serde_json::json!(["aad"]));
        assert_eq!(yaml["M365Environment"], "commercial");
        assert_eq!(yaml["OrgName"], "Fabrikam 00001");
        // The emergency-access group as the simulator created it.
        let groups = w.objects(1)["group"].clone();
        let emergency = groups
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["uniqueName"] == "tenantform-emergency-access")
            .expect("emergency-access group")["id"]
            .as_str()
            .expect("id")
            .to_string();
        let aad = yaml["Aad"].as_object().expect("Aad");
        let keys: BTreeSet<&str> = aad.keys().map(String::as_str).collect();
        for control in CA_CONTROLS {
            assert!(keys.contains(control), "{control} missing: {keys:?}");
            let groups = &aad[control]["CapExclusions"]["Groups"];
            assert_eq!(groups, &serde_json::json!([emergency]), "{control}");
        }
        let guests = aad["MS.AAD.3.1v1"]["CapExclusions"]["GuestUserTypes"]
            .as_array()
            .expect("guest types");
        assert!(
            guests.iter().any(|g| g == "b2bCollaborationGuest"),
            "{guests:?}"
        );
        assert!(
            !text.contains("00000000-0000-0000-0000-000000000000"),
            "{text}"
        );
        // Deterministic: a second deploy (no changes) writes the same bytes.
        w.deploy(&[]).success();
        assert_eq!(
            w.project
                .read(&format!(".tenantform/scubagear/{fabrikam}.yaml")),
            text
        );
    }
}
