//! `tenantform evidence` from a live read, end to end against the in-process simulator, with
//! ScubaGear's checks as the oracle (`shipped::meets`, the Rego of baseline-facts §2.1/§2.2
//! applied to the simulator's own objects, not to what tenantform read): after a deploy of
//! `cisa-scuba-entra` every claimed MS.AAD id is met and the oracle agrees; a change in the
//! portal makes its id "not met" and the oracle agrees; a report-only policy is "report-only";
//! a skipped resource's control is "skipped" with the override's reason; formats and exit codes.

use serde_json::{Value, json};

use tenantform::sim::SimConfig;

use crate::deploy::{World, config};
use crate::shipped::meets;

const SKIP_REASON: &str = "No Entra ID P2 until the licence renewal (ticket 2203)";

/// Two tenants (Contoso on entra-foundation, Fabrikam on cisa-scuba-entra) where Fabrikam skips
/// the high sign-in risk block, deployed.
fn deployed() -> World {
    let w = World::new(config(2));
    let fleet = w.project.read("tenants/fleet.toml");
    // The last [[tenant]] of the file is Fabrikam (tenant 1).
    w.project.file(
        "tenants/fleet.toml",
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-scuba-block-high-signin-risk\"\nskip = true\nreason = \"{SKIP_REASON}\"\n"
        ),
    );
    w.deploy(&[]).success();
    w
}

/// The evidence of one tenant as JSON, with the exit code expected.
fn evidence(w: &World, index: usize, code: i32) -> Value {
    let tenant = w.tenant(index);
    let doc = w
        .cmd(&["evidence", "--tenant", &tenant, "--format", "json"])
        .run()
        .code(code)
        .json();
    assert_eq!(doc["format"], "tenantform.evidence/v2");
    let t = doc["tenants"][0].clone();
    assert_eq!(t["tenant"], tenant.as_str());
    assert!(t["read_at"].is_string(), "{t:#}");
    t
}

fn control<'a>(tenant: &'a Value, id: &str) -> &'a Value {
    tenant["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["control"] == id)
        .unwrap_or_else(|| panic!("no {id} in {tenant:#}"))
}

/// The simulator's own object for a resource finding (not what tenantform read): from its
/// store, or, for objects it keeps only in part (a domain left as born, a PIM policy whose
/// untouched rules are defaults built on demand), as its Graph API serves them.
fn sim_object(w: &World, index: usize, resource: &Value) -> Value {
    let objects = w.objects(index);
    let kind = resource["kind"].as_str().expect("kind");
    let id = resource["object_id"].as_str().unwrap_or_default();
    let served = |path: String| {
        let reply = w.sim.send(index, "GET", &path, None);
        if reply.status == 200 {
            reply.json()
        } else {
            Value::Null
        }
    };
    match kind {
        "domain" => served(format!("/v1.0/domains/{id}")),
        // Agent conditions exist only on beta: the beta policy, as beta serves it.
        "conditionalAccessPolicyBeta" => {
            served(format!("/beta/identity/conditionalAccess/policies/{id}"))
        }
        "unifiedRoleManagementPolicy" => served(format!(
            "/v1.0/policies/roleManagementPolicyAssignments/{id}?$expand=policy($expand=rules)"
        )),
        _ => match &objects[kind] {
            Value::Array(items) => items
                .iter()
                .find(|o| o["id"] == resource["object_id"])
                .cloned()
                .unwrap_or(Value::Null),
            single => single.clone(),
        },
    }
}

/// Ids ScubaGear judges over every object it reads rather than "any one qualifying policy":
/// SMS, voice and email all off (3.5v2); each highly privileged role's PIM alerts (7.7v1,
/// 7.9v1).
const EVERY_ONE: [&str; 3] = ["MS.AAD.3.5v2", "MS.AAD.7.7v1", "MS.AAD.7.9v1"];

/// For every MS.AAD control the evidence judged (not skipped), ScubaGear's check over the
/// simulator's objects must say the same: met exactly when the oracle passes.
fn assert_agrees_with_scubagear(w: &World, index: usize, tenant: &Value) -> usize {
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for c in tenant["controls"].as_array().expect("controls") {
        let id = c["control"].as_str().expect("id");
        // Skipped and unassessed (no definition) are not verdicts to compare.
        if !id.starts_with("MS.AAD.") || c["verdict"] == "skipped" || c["verdict"] == "unassessed" {
            continue;
        }
        let results: Vec<Result<(), String>> = c["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| {
                let object = sim_object(w, index, r);
                if object.is_null() {
                    return Err("not in the simulator".to_string());
                }
                meets(id, &json!({"kind": r["kind"], "body": object}), true)
            })
            .collect();
        // ScubaGear: any one qualifying policy, except where it judges every one.
        let oracle_met = if EVERY_ONE.contains(&id) {
            !results.is_empty() && results.iter().all(Result::is_ok)
        } else {
            results.iter().any(Result::is_ok)
        };
        if oracle_met != (c["verdict"] == "met") {
            disagreements.push(format!(
                "{id}: evidence {} but ScubaGear {results:?}",
                c["verdict"]
            ));
        }
        compared += 1;
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    compared
}

fn portal(w: &World, index: usize, change: Value) {
    let tenant = w.tenant(index);
    let reply = w.sim.sim(
        "POST",
        &format!("/_sim/tenants/{tenant}/portal"),
        Some(&change),
    );
    assert!((200..300).contains(&reply.status), "{}", reply.text);
}

fn object_id(tenant: &Value, id: &str, key: &str) -> String {
    control(tenant, id)["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["key"] == key)
        .and_then(|r| r["object_id"].as_str())
        .unwrap_or_else(|| panic!("no object id for {key}"))
        .to_string()
}

#[test]
fn evidence_after_a_cisa_deploy_is_met_for_every_claimed_id_and_agrees_with_scubagear() {
    let w = deployed();
    let fabrikam = evidence(&w, 1, 0);
    let verdicts: Vec<(String, String)> = fabrikam["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .map(|c| {
            (
                c["control"].as_str().expect("id").to_string(),
                c["verdict"].as_str().expect("verdict").to_string(),
            )
        })
        .collect();
    for (id, verdict) in &verdicts {
        if id == "MS.AAD.2.3v1" {
            continue;
        }
        assert_eq!(verdict, "met", "{id}: {:#}", control(&fabrikam, id));
    }
    // Every id cisa-scuba-entra implements is there and defined (shipped.rs
    // SCUBA_IMPLEMENTED): none is left unassessed.
    let ids: Vec<&str> = verdicts.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, crate::shipped::SCUBA_IMPLEMENTED, "{verdicts:?}");
    // The skipped control: its verdict and the override's reason.
    let skipped = control(&fabrikam, "MS.AAD.2.3v1");
    assert_eq!(skipped["verdict"], "skipped", "{skipped:#}");
    assert_eq!(skipped["reason"], SKIP_REASON);
    // A met control shows the live values it rests on and the journal evidence of its deploy.
    let legacy = control(&fabrikam, "MS.AAD.1.1v1");
    let resource = &legacy["resources"][0];
    assert_eq!(resource["key"], "ca-block-legacy-auth");
    assert_eq!(resource["state"], "enabled");
    assert_eq!(
        resource["observed"]["/conditions/clientAppTypes"],
        json!(["exchangeActiveSync", "other"])
    );
    assert!(
        resource["journal_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:")),
        "{resource:#}"
    );
    assert!(resource["run_id"].is_string(), "{resource:#}");
    // Every id but the skipped one is compared with ScubaGear.
    assert_eq!(
        assert_agrees_with_scubagear(&w, 1, &fabrikam),
        crate::shipped::SCUBA_IMPLEMENTED.len() - 1
    );

    // Contoso (entra-foundation): its claimed ids are met too, and ScubaGear agrees.
    let contoso = evidence(&w, 0, 0);
    assert_eq!(control(&contoso, "MS.AAD.1.1v1")["verdict"], "met");
    assert!(assert_agrees_with_scubagear(&w, 0, &contoso) >= 6);
}

#[test]
fn a_portal_change_makes_its_control_not_met_and_report_only_is_report_only() {
    let w = deployed();
    let before = evidence(&w, 1, 0);
    // An admin adds a role exclusion to the MFA-for-all policy: ScubaGear fails 3.2v2.
    let mfa = object_id(&before, "MS.AAD.3.2v2", "ca-mfa-all-users");
    portal(
        &w,
        1,
        json!({
            "method": "PATCH",
            "path": format!("/v1.0/identity/conditionalAccess/policies/{mfa}"),
            "body": {"conditions": {"users": {
                "includeUsers": ["All"],
                "excludeRoles": ["d29b2b05-8046-44ba-8758-1e26182fcf32"],
            }}},
        }),
    );
    // And switches the legacy-authentication block to report-only.
    let legacy = object_id(&before, "MS.AAD.1.1v1", "ca-block-legacy-auth");
    portal(
        &w,
        1,
        json!({
            "method": "PATCH",
            "path": format!("/v1.0/identity/conditionalAccess/policies/{legacy}"),
            "body": {"state": "enabledForReportingButNotEnforced"},
        }),
    );
    // Sets Global Administrator's activation alert to nobody (a PIM rule, found by its id in
    // the policy's rules): ScubaGear fails 7.8.
    let ga = object_id(&before, "MS.AAD.7.8v1", "pim-global-administrator");
    let assignment = w
        .sim
        .send(
            1,
            "GET",
            &format!("/v1.0/policies/roleManagementPolicyAssignments/{ga}"),
            None,
        )
        .json();
    let policy = assignment["policyId"].as_str().expect("policyId");
    portal(
        &w,
        1,
        json!({
            "method": "PATCH",
            "path": format!("/v1.0/policies/roleManagementPolicies/{policy}/rules/Notification_Admin_EndUser_Assignment"),
            "body": {
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
                "notificationRecipients": [],
            },
        }),
    );
    // And lets passwords on the tenant's domain expire after 90 days: ScubaGear fails 6.1.
    let domain = object_id(&before, "MS.AAD.6.1v1", "domain-passwords-never-expire");
    portal(
        &w,
        1,
        json!({
            "method": "PATCH",
            "path": format!("/v1.0/domains/{domain}"),
            "body": {"passwordValidityPeriodInDays": 90},
        }),
    );
    let after = evidence(&w, 1, 2);
    let activation = control(&after, "MS.AAD.7.8v1");
    assert_eq!(activation["verdict"], "not-met", "{activation:#}");
    assert!(
        activation["reason"].as_str().is_some_and(|r| r.contains(
            "/policy/rules/[id=Notification_Admin_EndUser_Assignment]/notificationRecipients is not empty"
        )),
        "{activation:#}"
    );
    let expiry = control(&after, "MS.AAD.6.1v1");
    assert_eq!(expiry["verdict"], "not-met", "{expiry:#}");
    assert!(
        expiry["reason"].as_str().is_some_and(|r| r
            .contains("/passwordValidityPeriodInDays equals 2147483647 or is absent, found 90")),
        "{expiry:#}"
    );
    // 7.6 reads another rule of the same policy: still met.
    assert_eq!(control(&after, "MS.AAD.7.6v1")["verdict"], "met");
    let not_met = control(&after, "MS.AAD.3.2v2");
    assert_eq!(not_met["verdict"], "not-met", "{not_met:#}");
    assert!(
        not_met["reason"]
            .as_str()
            .is_some_and(|r| r.contains("/conditions/users/excludeRoles is empty")),
        "{not_met:#}"
    );
    let report_only = control(&after, "MS.AAD.1.1v1");
    assert_eq!(report_only["verdict"], "report-only", "{report_only:#}");
    // The other controls are untouched, and ScubaGear agrees with every verdict.
    assert_eq!(control(&after, "MS.AAD.3.6v1")["verdict"], "met");
    assert_agrees_with_scubagear(&w, 1, &after);

    // Markdown and CSV say the same; --out writes the file and prints the counts.
    let tenant = w.tenant(1);
    let md = w
        .cmd(&["evidence", "--tenant", &tenant, "--format", "markdown"])
        .run()
        .code(2)
        .stdout;
    assert!(
        md.contains("| MS.AAD.3.2v2: MFA for all users | **NOT MET** |"),
        "{md}"
    );
    assert!(md.contains("| report-only |"), "{md}");
    let csv = w
        .cmd(&["evidence", "--tenant", &tenant, "--format", "csv"])
        .run()
        .code(2)
        .stdout;
    assert!(csv.contains(",MS.AAD.3.2v2,not-met,"), "{csv}");
    assert!(
        csv.contains(&format!(",MS.AAD.2.3v1,skipped,{SKIP_REASON},")),
        "{csv}"
    );
    let file = w.project.path().join("evidence.md");
    let out = w
        .cmd(&[
            "evidence",
            "--tenant",
            &tenant,
            "--format",
            "markdown",
            "--out",
            file.to_str().expect("utf-8"),
        ])
        .run()
        .code(2);
    assert!(out.stdout.contains("3 NOT MET"), "{}", out.stdout);
    let written = std::fs::read_to_string(&file).expect("written");
    assert!(
        written.contains("| MS.AAD.3.2v2: MFA for all users | **NOT MET** |"),
        "{written}"
    );
}

/// A default app management policy's restrictions for both scopes: password addition in the
/// state given, certificates at most a year, and no password lifetime restriction.
fn app_restrictions(password_addition: &str) -> Value {
    let zero = "0001-01-01T00:00:00Z";
    let scope = json!({
        "passwordCredentials": [
            {"restrictionType": "passwordAddition", "state": password_addition, "maxLifetime": null, "restrictForAppsCreatedAfterDateTime": zero},
        ],
        "keyCredentials": [
            {"restrictionType": "asymmetricKeyLifetime", "state": "enabled", "maxLifetime": "P365D", "restrictForAppsCreatedAfterDateTime": zero},
        ],
    });
    json!({"applicationRestrictions": scope.clone(), "servicePrincipalRestrictions": scope})
}

#[test]
fn password_lifetime_is_met_while_passwords_are_blocked_outright_as_scubagear_says() {
    let w = deployed();
    let patch = |body: Value| {
        portal(
            &w,
            1,
            json!({"method": "PATCH", "path": "/v1.0/policies/defaultAppManagementPolicy", "body": body}),
        )
    };
    // An admin drops the password lifetime restrictions but keeps passwords blocked: ScubaGear
    // calls 5.6 not applicable and passes it (the definition's or_require).
    patch(app_restrictions("enabled"));
    let blocked = evidence(&w, 1, 0);
    for id in ["MS.AAD.5.5v1", "MS.AAD.5.6v1", "MS.AAD.5.7v1"] {
        assert_eq!(
            control(&blocked, id)["verdict"],
            "met",
            "{:#}",
            control(&blocked, id)
        );
    }
    assert_agrees_with_scubagear(&w, 1, &blocked);
    // Then lets applications add passwords again: 5.5 fails, and 5.6 with it (no lifetime).
    patch(app_restrictions("disabled"));
    let open = evidence(&w, 1, 2);
    let addition = control(&open, "MS.AAD.5.5v1");
    assert_eq!(addition["verdict"], "not-met", "{addition:#}");
    let lifetime = control(&open, "MS.AAD.5.6v1");
    assert_eq!(lifetime["verdict"], "not-met", "{lifetime:#}");
    let failures: Vec<&str> = lifetime["resources"][0]["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let failures = failures.join("\n");
    assert!(
        failures.contains("[restrictionType=passwordLifetime]/state equals \"enabled\", found absent")
            && failures.contains("nor, instead, /applicationRestrictions/passwordCredentials/[restrictionType=passwordAddition]/state equals \"enabled\", found \"disabled\""),
        "{failures}"
    );
    assert_eq!(control(&open, "MS.AAD.5.7v1")["verdict"], "met");
    assert_agrees_with_scubagear(&w, 1, &open);
}

#[test]
fn a_tenant_that_cannot_be_read_exits_3_and_says_why() {
    // The app may not read Conditional Access policies.
    let w = World::new(SimConfig {
        withdrawn: vec![
            (0, "Policy.Read.All".into()),
            (0, "Policy.ReadWrite.ConditionalAccess".into()),
        ],
        ..config(1)
    });
    let doc = w.cmd(&["evidence"]).run().code(3).json();
    let t = &doc["tenants"][0];
    assert!(
        t["error"]
            .as_str()
            .is_some_and(|e| e.contains("permission")),
        "{t:#}"
    );
    assert_eq!(t["controls"], json!([]));
}

#[test]
fn recorded_evidence_cannot_be_markdown() {
    let w = World::new(config(1));
    w.cmd(&["evidence", "--recorded", "--format", "markdown"])
        .run()
        .code(64)
        .stderr_has("--format markdown needs a live read");
}

#[test]
fn evidence_that_cannot_be_written_is_exit_70_and_names_the_file() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    // A directory where the file should go.
    let target = w.project.path().join("evidence.md");
    std::fs::create_dir_all(&target).expect("dir");
    w.cmd(&[
        "evidence",
        "--format",
        "markdown",
        "--out",
        target.to_str().expect("utf-8"),
    ])
    .run()
    .code(70)
    .stderr_has("cannot write the evidence to");
}
