//! A link in `plan` (one unit: both tenants' steps in deploy's order, what exists and what
//! would be created or changed, in human, JSON and Markdown), and `sync test LINK --user UPN`
//! (provision one user on demand, step by step; its errors and exit codes).

use serde_json::Value;

use crate::sync::Linked;

fn steps(plan: &Value) -> Vec<(String, String)> {
    plan["links"][0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or_default().to_string(),
                s["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn plan_shows_a_link_as_one_unit_before_and_after_deploy() {
    let w = Linked::new();
    // Before any deploy: every step to create, target steps first, under the link's name.
    let human = w.cmd(&["plan"]).code(0);
    let text = &human.stdout;
    let head = text
        .find("link hub-to-spoke: Hub (")
        .unwrap_or_else(|| panic!("{text}"));
    let target = text[head..].find("  target Spoke:").expect("target block");
    let source = text[head..].find("  source Hub:").expect("source block");
    assert!(target < source, "{text}");
    assert!(
        text.contains("+ configuration-app (applicationTemplateInstance)"),
        "{text}"
    );
    assert!(
        text.contains("+ job (synchronizationJob): after the configuration app is created"),
        "{text}"
    );
    assert!(text.contains("> start (synchronizationJobStart)"), "{text}");
    assert!(text.contains("links: 1 link, 1 with changes"), "{text}");
    let json = w.cmd(&["plan", "--format", "json"]).code(0).json();
    let planned = steps(&json);
    assert_eq!(planned.len(), 10, "{planned:?}");
    assert_eq!(planned[0].0, "hub-to-spoke/target/partner");
    assert!(planned[..3].iter().all(|(s, _)| s.contains("/target/")));
    assert!(planned[3..].iter().all(|(s, _)| s.contains("/source/")));
    assert_eq!(json["links"][0]["source_name"], "Hub");
    assert_eq!(json["links"][0]["target_name"], "Spoke");
    w.cmd(&["plan", "--detailed-exitcode"]).code(2);
    let md = w.cmd(&["plan", "--format", "markdown"]).code(0).stdout;
    assert!(
        md.contains("### Cross-tenant synchronization links"),
        "{md}"
    );
    assert!(
        md.contains("| 1 | Spoke (target) | `partner` | crossTenantAccessPolicyPartner | create |"),
        "{md}"
    );

    // Deployed, then changed on the target side: plan names that one step and what differs.
    w.deploy().success();
    let json = w.cmd(&["plan", "--format", "json"]).code(0).json();
    assert!(steps(&json).iter().all(|(_, a)| a == "unchanged"), "{json}");
    w.cmd(&["plan", "--detailed-exitcode"]).code(0);
    let hub = w.sim.tenant(0);
    w.sim
        .send(
            1,
            "PUT",
            &format!(
                "/v1.0/policies/crossTenantAccessPolicy/partners/{hub}/identitySynchronization"
            ),
            Some(&serde_json::json!({"userSyncInbound": {"isSyncAllowed": false}})),
        )
        .status(204);
    let text = w.cmd(&["plan", "--detailed-exitcode"]).code(2).stdout;
    let line = text
        .lines()
        .find(|l| l.contains("~ inbound-sync (crossTenantIdentitySyncPolicyPartner): differs at "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("/userSyncInbound/isSyncAllowed"), "{line}");
    assert!(text.contains("1 to update, 9 unchanged"), "{text}");
}

#[test]
fn sync_test_provisions_one_user_step_by_step() {
    let w = Linked::new();
    // Before deploy: nothing to test against.
    let out = w
        .cmd(&["sync", "test", "hub-to-spoke", "--user", "ann@hub.example"])
        .code(3);
    assert!(
        out.stderr
            .contains("is not set up in its source tenant (no configuration app)"),
        "{}",
        out.stderr
    );
    w.deploy().success();
    w.seed("ann@hub.example", &["tf-sync-staff"]);
    w.seed("bob@hub.example", &[]);

    let out = w
        .cmd(&["sync", "test", "hub-to-spoke", "--user", "ann@hub.example"])
        .code(0);
    let text = &out.stdout;
    assert!(
        text.contains("sync test hub-to-spoke: ann@hub.example from source tenant"),
        "{text}"
    );
    assert!(text.contains("(rule USER_INBOUND_USER)"), "{text}");
    assert!(
        text.contains("  1. EntryImport (Import): Success: "),
        "{text}"
    );
    assert!(
        text.contains("  2. EntrySynchronizationScoping (Scoping): Success: "),
        "{text}"
    );
    assert!(
        text.contains("  3. EntryExportAdd (Export): Success: "),
        "{text}"
    );
    assert!(text.contains("userType: null -> \"Guest\""), "{text}");
    assert!(text.contains("result: Success; the user is "), "{text}");
    // The user is in the target now, without a cycle.
    let users = w.target_users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["userType"], "Guest");

    // Again: the service finds nothing to change.
    let json = w
        .cmd(&[
            "sync",
            "test",
            "hub-to-spoke",
            "--user",
            "ann@hub.example",
            "--json",
        ])
        .code(0)
        .json();
    assert_eq!(json["result"], "Skipped");
    assert_eq!(json["error_code"], "RedundantExport");
    assert_eq!(json["steps"][2]["name"], "EntrySynchronizationSkip");

    // A user not in scope is skipped, and the result says why: exit 2.
    let out = w
        .cmd(&["sync", "test", "hub-to-spoke", "--user", "bob@hub.example"])
        .code(2);
    assert!(
        out.stdout
            .contains("result: Skipped (NotEffectivelyEntitled: The User is not assigned"),
        "{}",
        out.stdout
    );
    assert_eq!(w.target_users().len(), 1);

    // A user the source does not have: exit 1, named.
    let out = w
        .cmd(&[
            "sync",
            "test",
            "hub-to-spoke",
            "--user",
            "nobody@hub.example",
        ])
        .code(1);
    assert!(
        out.stderr
            .contains("no user nobody@hub.example in the source tenant"),
        "{}",
        out.stderr
    );
    // A link the project does not have: usage, naming the ones it has.
    let out = w
        .cmd(&["sync", "test", "nope", "--user", "ann@hub.example"])
        .code(64);
    assert!(
        out.stderr.contains("no link nope (links: hub-to-spoke)"),
        "{}",
        out.stderr
    );
}

#[test]
fn sync_test_reports_a_policy_failure_from_the_service() {
    let w = Linked::new();
    w.deploy().success();
    w.seed("ann@hub.example", &["tf-sync-staff"]);
    let hub = w.sim.tenant(0);
    w.sim
        .send(
            1,
            "PUT",
            &format!(
                "/v1.0/policies/crossTenantAccessPolicy/partners/{hub}/identitySynchronization"
            ),
            Some(&serde_json::json!({"userSyncInbound": {"isSyncAllowed": false}})),
        )
        .status(204);
    let out = w
        .cmd(&["sync", "test", "hub-to-spoke", "--user", "ann@hub.example"])
        .code(2);
    assert!(
        out.stdout
            .contains("result: Failure (AzureActiveDirectoryCrossTenantSyncPolicyCheckFailure: "),
        "{}",
        out.stdout
    );
    assert!(w.target_users().is_empty());
}
