//! The Entra kinds that update objects every tenant already has, end to end against the
//! simulator: a domain's password expiry (`domain`) and a directory role's PIM rules
//! (`unifiedRoleManagementPolicy`) deploy and then plan no change; a domain the tenant lacks is
//! a plan error naming it, never a create; the simulator's PIM routes answer as Graph does; and
//! a Conditional Access policy with beta-only conditions goes through beta
//! (`conditionalAccessPolicyBeta`) and is the same policy v1.0 lists.

use serde_json::{Value, json};

use crate::deploy::{World, config};
use crate::harness::Project;
use crate::sim_support::Sim;

const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// `Contoso 00000` → `contoso00000.onmicrosoft.com` (the simulator's initial domain).
fn initial_domain(name: &str) -> String {
    let label: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("{label}.onmicrosoft.com")
}

/// The fixture `valid/domain-and-pim` pointed at a simulator's fleet, each tenant with
/// `domain` set by `domain_of` (from its name).
fn world(tenants: usize, domain_of: impl Fn(&str) -> String) -> World {
    world_of("domain-and-pim", "core", tenants, domain_of)
}

/// The valid fixture `fixture` (whose tenants get `baseline`) pointed at a simulator's fleet.
fn world_of(
    fixture: &str,
    baseline: &str,
    tenants: usize,
    domain_of: impl Fn(&str) -> String,
) -> World {
    let cfg = config(tenants);
    let secret = cfg.client_secret.clone();
    let sim = Sim::with(cfg);
    let project = Project::from_fixture(&format!("valid/{fixture}"));
    let mut fleet = String::new();
    // Each tenant's identity, credentials and endpoints; not the example profiles' parameters
    // and overrides, which name the shipped baselines.
    let mut skipping = false;
    for line in sim.handle.fleet_tenants_toml().lines() {
        if line.starts_with("[[tenant]]") {
            skipping = false;
        } else if line.starts_with("[tenant.params") || line.starts_with("[[tenant.override") {
            skipping = true;
        }
        // The fleet names each tenant's initial domain; the test chooses its own.
        if skipping || line.starts_with("domain =") {
            continue;
        }
        if line.starts_with("baselines =") {
            fleet.push_str(&format!("baselines = [\"{baseline}\"]\n"));
            continue;
        }
        fleet.push_str(line);
        fleet.push('\n');
        if let Some(name) = line
            .strip_prefix("name = \"")
            .and_then(|rest| rest.strip_suffix('"'))
        {
            fleet.push_str(&format!("domain = \"{}\"\n", domain_of(name)));
        }
    }
    std::fs::remove_file(project.path().join("tenants/tenants.toml")).expect("remove tenants");
    project.file("tenants/fleet.toml", fleet);
    World {
        sim,
        project,
        secret,
    }
}

fn global_admin_policy(w: &World) -> Value {
    let path = format!(
        "/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{GLOBAL_ADMINISTRATOR}'&$expand=policy($expand=rules)"
    );
    let answer = w.sim.get(&path).status(200).json();
    let items = answer["value"].as_array().expect("value").clone();
    assert_eq!(items.len(), 1, "{answer}");
    items[0].clone()
}

fn rule<'a>(assignment: &'a Value, id: &str) -> &'a Value {
    assignment["policy"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no rule {id} in {assignment}"))
}

#[test]
fn a_domain_and_a_roles_pim_rules_deploy_and_then_plan_no_change() {
    let w = world(1, initial_domain);
    let domain = initial_domain(&w.sim.handle.tenants()[0].name);
    let before = global_admin_policy(&w);
    assert_eq!(
        rule(&before, "Expiration_EndUser_Assignment")["maximumDuration"],
        "PT8H"
    );

    let plan = w
        .cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("/passwordValidityPeriodInDays: 2147483647 -> 90")
        .stdout_has(
            "/policy/rules/Expiration_EndUser_Assignment/maximumDuration: \"PT8H\" -> \"PT4H\"",
        );
    assert!(plan.stdout.contains("0 to create"), "{}", plan.stdout);
    w.deploy(&[])
        .success()
        .stderr_has("1 of 1 tenants converged");
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");

    // What Graph now holds: the domain's policy, and exactly the declared rules changed.
    let d = w
        .sim
        .get(&format!("/v1.0/domains/{domain}"))
        .status(200)
        .json();
    assert_eq!(d["passwordValidityPeriodInDays"], 90, "{d}");
    assert_eq!(d["isVerified"], true);
    let after = global_admin_policy(&w);
    assert_eq!(after["policyId"], before["policyId"]);
    assert_eq!(
        rule(&after, "Expiration_EndUser_Assignment")["maximumDuration"],
        "PT4H"
    );
    assert_eq!(
        rule(&after, "Approval_EndUser_Assignment")["setting"]["isApprovalRequired"],
        true
    );
    assert_eq!(
        rule(&after, "Notification_Admin_EndUser_Assignment")["notificationRecipients"],
        json!(["pim-alerts@example.com"])
    );
    // A rule the resource does not declare keeps Graph's default.
    assert_eq!(
        rule(&after, "Enablement_EndUser_Assignment")["enabledRules"],
        json!(["MultiFactorAuthentication", "Justification"])
    );
    // Neither object went into the identity map (so --prune can never delete one).
    let map: Value = serde_json::from_str(
        &w.project
            .read(&format!(".tenantform/state/{}.json", w.tenant(0))),
    )
    .expect("identity map");
    assert_eq!(map["objects"], json!({}), "{map}");
}

#[test]
fn a_domain_the_tenant_does_not_have_is_a_plan_error_naming_it_and_never_created() {
    let w = world(1, |_| "fabrikam.example".to_string());
    let plan = w.cmd(&["plan"]).run();
    assert!(
        plan.stdout
            .contains("no domain fabrikam.example in the tenant (reading it answered 404); tenantform never creates a domain"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    let deploy = w.deploy(&[]).code(3);
    assert!(
        format!("{}{}", deploy.stdout, deploy.stderr).contains("no domain fabrikam.example"),
        "{}\n{}",
        deploy.stdout,
        deploy.stderr
    );
    // The other resource of the tenant was still applied; no domain was made.
    assert_eq!(
        rule(&global_admin_policy(&w), "Expiration_EndUser_Assignment")["maximumDuration"],
        "PT4H"
    );
    w.sim.get("/v1.0/domains/fabrikam.example").status(404);
    let domains = w.sim.get("/v1.0/domains").status(200).json();
    assert_eq!(
        domains["value"].as_array().map(Vec::len),
        Some(1),
        "{domains}"
    );
}

#[test]
fn pim_routes_answer_as_graph_does() {
    let sim = Sim::start();
    // The assignments need a filter on scopeId and scopeType.
    sim.get("/v1.0/policies/roleManagementPolicyAssignments")
        .status(400);
    let all = sim
        .get("/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'")
        .status(200)
        .json();
    let items = all["value"].as_array().expect("value");
    assert!(items.len() >= 8, "{all}");
    assert!(
        items.iter().all(|a| a.get("policy").is_none()),
        "not expanded: {all}"
    );
    let policy_id = items
        .iter()
        .find(|a| a["roleDefinitionId"] == GLOBAL_ADMINISTRATOR)
        .and_then(|a| a["policyId"].as_str())
        .expect("GA policy")
        .to_string();
    let rules = sim
        .get(&format!(
            "/v1.0/policies/roleManagementPolicies/{policy_id}/rules"
        ))
        .status(200)
        .json();
    assert_eq!(rules["value"].as_array().map(Vec::len), Some(17), "{rules}");
    let rule_path = format!(
        "/v1.0/policies/roleManagementPolicies/{policy_id}/rules/Expiration_EndUser_Assignment"
    );
    // A rule update must name the derived type, and only the rule's properties.
    sim.send(
        0,
        "PATCH",
        &rule_path,
        Some(&json!({"maximumDuration": "PT2H"})),
    )
    .status(400);
    let typed = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule";
    sim.send(
        0,
        "PATCH",
        &rule_path,
        Some(&json!({"@odata.type": typed, "notAProperty": 1})),
    )
    .status(400);
    sim.send(
        0,
        "PATCH",
        &rule_path,
        Some(&json!({"@odata.type": typed, "id": "Expiration_EndUser_Assignment", "maximumDuration": "PT2H"})),
    )
    .status(204);
    let read = sim.get(&rule_path).status(200).json();
    assert_eq!(read["maximumDuration"], "PT2H", "{read}");
    assert_eq!(read["isExpirationRequired"], true, "{read}");
    sim.get("/v1.0/policies/roleManagementPolicies/no-such-policy/rules")
        .status(404);
    // Domains: the tenant's initial domain, updatable, never deletable here.
    let domains = sim.get("/v1.0/domains").status(200).json();
    let name = domains["value"][0]["id"]
        .as_str()
        .expect("domain")
        .to_string();
    let org = sim.get("/v1.0/organization").status(200).json();
    assert_eq!(org["value"][0]["verifiedDomains"][0]["name"], name.as_str());
    sim.send(
        0,
        "PATCH",
        &format!("/v1.0/domains/{name}"),
        Some(&json!({"passwordValidityPeriodInDays": 365})),
    )
    .status(204);
    assert_eq!(
        sim.get(&format!("/v1.0/domains/{name}")).status(200).json()["passwordValidityPeriodInDays"],
        365
    );
    sim.send(
        0,
        "PATCH",
        "/v1.0/domains/not-mine.example",
        Some(&json!({"passwordValidityPeriodInDays": 365})),
    )
    .status(404);
}

/// A request sent again while Graph answers 429 (Conditional Access: one request per second
/// per tenant, time-scaled in these tests).
fn paced(send: impl Fn() -> crate::sim_support::Resp) -> crate::sim_support::Resp {
    for _ in 0..100 {
        let response = send();
        if response.status != 429 {
            return response;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    send()
}

#[test]
fn a_ca_policy_with_beta_only_conditions_deploys_through_beta_and_is_the_policy_v1_lists() {
    let w = world_of("ca-beta", "agents", 1, initial_domain);
    w.deploy(&[])
        .success()
        .stderr_has("1 of 1 tenants converged");
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
    // One policy, seen by both versions; beta shows its beta-only conditions.
    let name = "Block high-risk agent identities";
    let find = |version: &str| -> Vec<Value> {
        let list = paced(|| {
            w.sim
                .get(&format!("/{version}/identity/conditionalAccess/policies"))
        })
        .status(200)
        .json();
        list["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter(|p| p["displayName"] == name)
            .cloned()
            .collect()
    };
    let beta = find("beta");
    let v1 = find("v1.0");
    assert_eq!((beta.len(), v1.len()), (1, 1), "{beta:?} {v1:?}");
    assert_eq!(beta[0]["id"], v1[0]["id"]);
    assert_eq!(beta[0]["conditions"]["agentIdRiskLevels"], "high");
}

#[test]
fn the_simulator_checks_each_versions_own_conditional_access_schema() {
    let sim = Sim::start();
    // The simulator checks each version's own schema: v1.0 refuses the beta-only condition.
    let body = json!({
        "displayName": "Agents via v1.0",
        "state": "disabled",
        "conditions": {
            "users": {"includeUsers": ["None"]},
            "applications": {"includeApplications": ["All"]},
            "agentIdRiskLevels": "high"
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]}
    });
    sim.send(
        0,
        "POST",
        "/v1.0/identity/conditionalAccess/policies",
        Some(&body),
    )
    .status(400);
    sim.send(
        0,
        "POST",
        "/beta/identity/conditionalAccess/policies",
        Some(&body),
    )
    .status(201);
    // Both versions list the one policy created through beta.
    let v1 = sim
        .get("/v1.0/identity/conditionalAccess/policies")
        .status(200)
        .json();
    assert!(
        v1["value"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["displayName"] == "Agents via v1.0")),
        "{v1}"
    );
}

#[test]
fn guest_invitation_domains_deploy_through_beta_and_then_plan_no_change() {
    let w = world_of("b2b-invitations", "guests", 1, initial_domain);
    // The fleet's example parameters are dropped: the fixture's tenants file sets its own.
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!("{fleet}\n[tenant.params]\nguest_domains = [\"contoso.com\", \"fabrikam.com\"]\n"),
    );
    w.deploy(&[])
        .success()
        .stderr_has("1 of 1 tenants converged");
    w.cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
    let list = w
        .sim
        .get("/beta/policies/b2bManagementPolicies")
        .status(200)
        .json();
    let policies = list["value"].as_array().expect("value");
    assert_eq!(policies.len(), 1, "{list}");
    let definition: Value = serde_json::from_str(
        policies[0]["definition"][0]
            .as_str()
            .expect("a JSON string"),
    )
    .expect("JSON");
    assert_eq!(
        definition["B2BManagementPolicy"]["InvitationsAllowedAndBlockedDomainsPolicy"]["AllowedDomains"],
        json!(["contoso.com", "fabrikam.com"])
    );
    // Beta only, as on Graph.
    w.sim
        .get("/v1.0/policies/b2bManagementPolicies")
        .status(400);
}
