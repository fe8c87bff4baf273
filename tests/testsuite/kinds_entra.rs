//! The consent, app credential, sign-up, device registration and external identities policy
//! kinds and custom authentication strengths (issue 13, part A) end to end: the
//! `fixtures/valid/entra-policies` baseline deployed by the real binary into a simulated
//! tenant, which then plans no change; a changed strength converging through Graph's
//! `updateAllowedCombinations` action; and the simulator holding Graph's rules for these kinds
//! (built-in strengths read-only, one setting per template, PUT-only singletons) on the wire.

use serde_json::{Value, json};
use tenantform::sim::FLEET_SECRET_ENV;

use crate::harness::{Output, Project};
use crate::sim_support::{Sim, test_config};

const CONSENT_TEMPLATE: &str = "dffd5d46-495d-40a9-8e21-954ff55e198a";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

struct Deployed {
    sim: Sim,
    project: Project,
    secret: String,
}

impl Deployed {
    /// The fixture's project, its one tenant pointed at simulated tenant 0.
    fn new() -> Deployed {
        let config = test_config();
        let secret = config.client_secret.clone();
        let sim = Sim::with(config);
        let project = Project::from_fixture("valid/entra-policies");
        let base = sim.handle.base_url();
        project.file(
            "tenants/tenants.toml",
            format!(
                "[[tenant]]\nid = \"{}\"\nname = \"Delta\"\nring = \"pilot\"\nbaselines = [\"policies\"]\n\n[tenant.credentials]\nclient_id = \"{}\"\nclient_secret_env = \"{FLEET_SECRET_ENV}\"\n\n[tenant.endpoints]\nlogin = \"{base}\"\ngraph = \"{base}\"\n",
                sim.tenant(0),
                sim.handle.config().client_id
            ),
        );
        Deployed {
            sim,
            project,
            secret,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.project
            .cmd(args)
            .env(FLEET_SECRET_ENV, &self.secret)
            .run()
    }

    fn get(&self, path: &str) -> Value {
        self.sim.send(0, "GET", path, None).status(200).json()
    }

    fn group_id(&self, unique_name: &str) -> String {
        let group = self.get(&format!("/v1.0/groups(uniqueName='{unique_name}')"));
        group["id"].as_str().expect("group id").to_string()
    }

    fn custom_strength(&self) -> Value {
        let list = self.get("/v1.0/policies/authenticationStrengthPolicies");
        list["value"]
            .as_array()
            .expect("value")
            .iter()
            .find(|s| s["policyType"] == "custom")
            .cloned()
            .expect("the custom strength")
    }
}

fn converged(d: &Deployed) {
    d.run(&["plan", "--detailed-exitcode"])
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
}

#[test]
fn the_policy_kinds_deploy_and_then_plan_no_change() {
    let d = Deployed::new();
    let before = d.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(before.stdout.contains("to create"), "{}", before.stdout);
    d.run(&["deploy", "--yes"])
        .success()
        .stderr_has("1 of 1 tenants converged");
    converged(&d);

    // Admin consent workflow: replaced with PUT, reviewers resolved to the group's id.
    let reviewers = d.group_id("tf-consent-reviewers");
    let consent = d.get("/v1.0/policies/adminConsentRequestPolicy");
    assert_eq!(consent["isEnabled"], true, "{consent}");
    assert_eq!(consent["requestDurationInDays"], 14);
    assert_eq!(
        consent["reviewers"][0]["query"],
        format!("/groups/{reviewers}/transitiveMembers/microsoft.graph.user")
    );

    // One Consent Policy Settings object, with the template's other values filled in.
    let settings = d.get("/v1.0/groupSettings");
    let settings = settings["value"].as_array().expect("value");
    assert_eq!(settings.len(), 1, "{settings:?}");
    assert_eq!(settings[0]["templateId"], CONSENT_TEMPLATE);
    assert_eq!(settings[0]["displayName"], "Consent Policy Settings");
    let values = settings[0]["values"].as_array().expect("values");
    assert_eq!(values.len(), 4, "{values:?}");
    assert!(values.contains(&json!({"name": "EnableAdminConsentRequests", "value": "true"})));

    // The built-in strengths are listed beside the custom one.
    let strengths = d.get("/v1.0/policies/authenticationStrengthPolicies");
    let strengths = strengths["value"].as_array().expect("value");
    assert_eq!(strengths.len(), 4, "{strengths:?}");
    assert!(strengths.iter().any(|s| s["id"] == PHISHING_RESISTANT));
    assert_eq!(d.custom_strength()["displayName"], "Keys and Windows Hello");

    // The singletons.
    let defaults = d.get("/v1.0/policies/defaultAppManagementPolicy");
    assert_eq!(defaults["isEnabled"], true);
    assert_eq!(
        defaults["servicePrincipalRestrictions"]["passwordCredentials"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let flows = d.get("/v1.0/policies/authenticationFlowsPolicy");
    assert_eq!(flows["selfServiceSignUp"]["isEnabled"], false);
    let joiners = d.group_id("tf-device-joiners");
    let devices = d.get("/beta/policies/deviceRegistrationPolicy");
    assert_eq!(devices["userDeviceQuota"], 20);
    assert_eq!(
        devices["azureADJoin"]["allowedToJoin"]["groups"],
        json!([joiners])
    );
    let external = d.get("/beta/policies/externalIdentitiesPolicy");
    assert_eq!(external["allowExternalIdentitiesToLeave"], false);
    let custom = d.get("/v1.0/policies/appManagementPolicies");
    assert_eq!(
        custom["value"][0]["displayName"],
        "Legacy apps: two-year certificates"
    );

    // Deploying again sends no write.
    let again = d.run(&["deploy", "--yes", "--format", "json"]).success();
    assert!(
        !again.stdout.contains("\"action\":\"updated\"")
            && !again.stdout.contains("\"action\":\"created\""),
        "{}",
        again.stdout
    );
}

#[test]
fn an_exported_tenant_keeps_its_custom_strength_and_leaves_the_built_ins_out() {
    let d = Deployed::new();
    d.run(&["deploy", "--yes"]).success();
    let out = d.project.path().join("exported");
    let out_text = out.to_string_lossy().into_owned();
    let tenant = d.sim.tenant(0);
    d.run(&[
        "export",
        "--tenant",
        &tenant,
        "--out",
        &out_text,
        "--kinds",
        "authenticationStrengthPolicy",
    ])
    .success();
    let baseline =
        std::fs::read_to_string(out.join("baselines/exported.toml")).expect("exported baseline");
    let templates: String = walk_text(&out.join("templates"));
    let all = format!("{baseline}{templates}");
    assert!(all.contains("Keys and Windows Hello"), "{all}");
    for built_in in [
        "Multifactor authentication",
        "Passwordless MFA",
        "Phishing-resistant MFA",
    ] {
        assert!(!all.contains(built_in), "{built_in} was exported:\n{all}");
    }
}

/// Every file's text under `dir`, sorted by path.
fn walk_text(dir: &std::path::Path) -> String {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .expect("dir")
            .map(|e| e.expect("entry").path())
        {
            if entry.is_dir() {
                stack.push(entry);
            } else {
                files.push(entry);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("text"))
        .collect()
}

#[test]
fn a_changed_strength_converges_through_update_allowed_combinations() {
    let d = Deployed::new();
    d.run(&["deploy", "--yes"]).success();
    let id = d.custom_strength()["id"].as_str().expect("id").to_string();
    let baseline = d.project.read("baselines/policies.toml");
    let changed = baseline
        .replace(
            r#""allowedCombinations": ["windowsHelloForBusiness", "fido2"]"#,
            r#""allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"]"#,
        )
        .replace(
            "FIDO2 security keys or Windows Hello for Business",
            "Keys, Hello or certificates",
        );
    assert_ne!(baseline, changed);
    d.project.file("baselines/policies.toml", changed);
    let plan = d.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(plan.stdout.contains("1 to update"), "{}", plan.stdout);
    d.run(&["deploy", "--yes"])
        .success()
        .stderr_has("1 of 1 tenants converged");
    converged(&d);
    let strength = d.custom_strength();
    assert_eq!(
        strength["id"],
        id.as_str(),
        "updated in place, not re-created"
    );
    assert_eq!(strength["description"], "Keys, Hello or certificates");
    let mut combinations: Vec<&str> = strength["allowedCombinations"]
        .as_array()
        .expect("combinations")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    combinations.sort_unstable();
    assert_eq!(
        combinations,
        [
            "fido2",
            "windowsHelloForBusiness",
            "x509CertificateMultiFactor"
        ]
    );
}

#[test]
fn a_rollback_puts_a_strengths_combinations_back_through_the_action() {
    let d = Deployed::new();
    d.run(&["deploy", "--yes"]).success();
    let v1 = d.custom_strength();
    let baseline = d.project.read("baselines/policies.toml");
    d.project.file(
        "baselines/policies.toml",
        baseline
            .replace(r#"["windowsHelloForBusiness", "fido2"]"#, r#"["fido2"]"#)
            .replace(
                "FIDO2 security keys or Windows Hello for Business",
                "Keys only",
            ),
    );
    // Two runs may start in the same second, so the run is the one the deploy names (run ids
    // sort by second, then by a random suffix).
    let second = d.run(&["deploy", "--yes"]).success();
    assert_eq!(d.custom_strength()["allowedCombinations"], json!(["fido2"]));
    let last = run_id(&second);
    d.run(&["rollback", &last, "--yes"])
        .success()
        .stderr_has("1 of 1 tenants rolled back");
    let back = d.custom_strength();
    assert_eq!(back["id"], v1["id"]);
    assert_eq!(back["description"], v1["description"]);
    assert_eq!(back["allowedCombinations"], v1["allowedCombinations"]);
}

/// The run id a deploy printed (`deploy: run <id>, ...`).
fn run_id(out: &Output) -> String {
    let text = format!("{}{}", out.stdout, out.stderr);
    let at = text.find("deploy: run ").expect("the deploy names its run") + "deploy: run ".len();
    text[at..]
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn rolling_back_the_first_deploy_puts_whole_policies_back_without_their_read_only_properties() {
    // The first deploy PUTs the admin consent request policy, whose `version` Graph sets and
    // refuses on write; its before-image holds the version it read.
    let d = Deployed::new();
    let first = d.run(&["deploy", "--yes"]).success();
    let run = run_id(&first);
    d.run(&["rollback", &run, "--yes"])
        .success()
        .stderr_has("1 of 1 tenants rolled back");
    let policy = d.get("/v1.0/policies/adminConsentRequestPolicy");
    assert_eq!(
        policy["isEnabled"],
        json!(false),
        "back to the tenant's default"
    );
}

#[test]
fn the_simulator_holds_graphs_rules_for_these_kinds() {
    let sim = Sim::start();
    let strengths = "/v1.0/policies/authenticationStrengthPolicies";
    // Built-in strengths are read, never written.
    let built_in = sim
        .get(&format!("{strengths}/{PHISHING_RESISTANT}"))
        .status(200)
        .json();
    assert_eq!(built_in["policyType"], "builtIn");
    sim.send(
        0,
        "PATCH",
        &format!("{strengths}/{PHISHING_RESISTANT}"),
        Some(&json!({"description": "mine"})),
    )
    .status(400);
    sim.send(
        0,
        "POST",
        &format!("{strengths}/{PHISHING_RESISTANT}/updateAllowedCombinations"),
        Some(&json!({"allowedCombinations": ["fido2"]})),
    )
    .status(400);
    // A custom strength's combinations change only through the action.
    let created = sim
        .send(
            0,
            "POST",
            strengths,
            Some(&json!({"displayName": "Keys", "allowedCombinations": ["fido2"]})),
        )
        .status(201)
        .json();
    let id = created["id"].as_str().expect("id");
    assert_eq!(created["policyType"], "custom");
    let refused = sim
        .send(
            0,
            "PATCH",
            &format!("{strengths}/{id}"),
            Some(&json!({"allowedCombinations": ["fido2", "windowsHelloForBusiness"]})),
        )
        .status(400);
    assert!(
        refused
            .error_code("Request_BadRequest")
            .contains("updateAllowedCombinations"),
        "the error names the action"
    );
    let result = sim
        .send(
            0,
            "POST",
            &format!("{strengths}/{id}/updateAllowedCombinations"),
            Some(&json!({"allowedCombinations": ["fido2", "windowsHelloForBusiness"]})),
        )
        .status(200)
        .json();
    assert_eq!(result["previousCombinations"], json!(["fido2"]));
    let after = sim.get(&format!("{strengths}/{id}")).status(200).json();
    assert_eq!(
        after["allowedCombinations"],
        json!(["fido2", "windowsHelloForBusiness"])
    );

    // One setting per template; values the template does not define are refused.
    let setting = json!({"templateId": CONSENT_TEMPLATE, "values": [{"name": "EnableAdminConsentRequests", "value": "true"}]});
    sim.send(0, "POST", "/v1.0/groupSettings", Some(&setting))
        .status(201);
    sim.send(0, "POST", "/v1.0/groupSettings", Some(&setting))
        .status(400);
    let unknown =
        json!({"templateId": CONSENT_TEMPLATE, "values": [{"name": "NoSuchValue", "value": "1"}]});
    sim.send(1, "POST", "/v1.0/groupSettings", Some(&unknown))
        .status(400);

    // The admin consent request policy is replaced with PUT (all of it), never patched.
    let consent = "/v1.0/policies/adminConsentRequestPolicy";
    sim.send(0, "PATCH", consent, Some(&json!({"isEnabled": true})))
        .status(405);
    sim.send(0, "PUT", consent, Some(&json!({"isEnabled": true})))
        .status(400);
    let whole = json!({"isEnabled": true, "notifyReviewers": false, "remindersEnabled": false, "requestDurationInDays": 7, "reviewers": []});
    sim.send(0, "PUT", consent, Some(&whole)).status(204);
    let policy = sim.get(consent).status(200).json();
    assert_eq!(policy["requestDurationInDays"], 7);
    assert_eq!(policy["version"], 1, "the service counts versions");

    // Device registration is written on beta; v1.0 reads it and refuses writes.
    let devices = sim
        .get("/beta/policies/deviceRegistrationPolicy")
        .status(200)
        .json();
    assert_eq!(devices["userDeviceQuota"], 50);
    let v1 = sim
        .get("/v1.0/policies/deviceRegistrationPolicy")
        .status(200)
        .json();
    assert_eq!(v1["userDeviceQuota"], 50);
    sim.send(
        0,
        "PUT",
        "/v1.0/policies/deviceRegistrationPolicy",
        Some(&devices),
    )
    .status(405);
}

#[test]
fn update_actions_and_put_singletons_answer_graphs_errors() {
    let sim = Sim::start();
    let strengths = "/v1.0/policies/authenticationStrengthPolicies";
    let created = sim
        .send(
            0,
            "POST",
            strengths,
            Some(&json!({"displayName": "Keys", "allowedCombinations": ["fido2"]})),
        )
        .status(201)
        .json();
    let action = format!(
        "{strengths}/{}/updateAllowedCombinations",
        created["id"].as_str().expect("id")
    );
    // The action's parameter is required, and it is the only one.
    let missing = sim.send(0, "POST", &action, Some(&json!({}))).status(400);
    assert!(
        missing
            .error_code("Request_BadRequest")
            .contains("allowedCombinations")
    );
    let extra = sim
        .send(
            0,
            "POST",
            &action,
            Some(&json!({"allowedCombinations": ["fido2"], "displayName": "x"})),
        )
        .status(400);
    assert!(
        extra
            .error_code("Request_BadRequest")
            .contains("displayName")
    );
    // Its value is checked against the schema (an unknown method mode).
    sim.send(
        0,
        "POST",
        &action,
        Some(&json!({"allowedCombinations": ["carrierPigeon"]})),
    )
    .status(400);
    // Only POST, and only on a strength that exists.
    sim.send(0, "GET", &action, None).status(405);
    sim.send(
        0,
        "POST",
        &format!("{strengths}/11111111-2222-4333-8444-555555555555/updateAllowedCombinations"),
        Some(&json!({"allowedCombinations": ["fido2"]})),
    )
    .status(404);
    // A built-in strength cannot be deleted either.
    sim.send(
        0,
        "DELETE",
        &format!("{strengths}/{PHISHING_RESISTANT}"),
        None,
    )
    .status(400);
    // A PATCH singleton refuses PUT, as a PUT singleton refuses PATCH.
    sim.send(
        0,
        "PUT",
        "/v1.0/policies/authenticationFlowsPolicy",
        Some(&json!({"selfServiceSignUp": {"isEnabled": false}})),
    )
    .status(405);
}
