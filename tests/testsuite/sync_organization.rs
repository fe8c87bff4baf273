//! The multitenant organization end to end against the simulator: the owner and two members
//! deployed by the real binary (owner first, then each member's join request), `sync status`
//! showing the members pending and then joined after the simulator completes the joins, a
//! second deploy adding nothing, and a tenant that already belongs to another organization
//! failing with Graph's reason.

use serde_json::{Value, json};
use tenantform::sim::{FLEET_SECRET_ENV, SimConfig};

use crate::harness::{Output, Project, fixture};
use crate::sim_support::{Sim, test_config};

struct Organized {
    sim: Sim,
    project: Project,
    secret: String,
}

const ORGANIZATION: &str = "[organization]\ndisplay_name = \"Hub Group\"\ndescription = \"The hub and its spokes\"\nowner = \"Hub\"\nmembers = [\"North\", \"South\"]\n";

impl Organized {
    /// Four simulated tenants; the project has Hub (0), North (1) and South (2) as one
    /// organization owned by Hub. Tenant 3 is not in the project.
    fn new() -> Organized {
        let config = SimConfig {
            tenants: 4,
            ..test_config()
        };
        let secret = config.client_secret.clone();
        let sim = Sim::with(config);
        let project = Project::empty();
        let base = sim.handle.base_url();
        let tenant = |index: usize, name: &str| {
            format!(
                "[[tenant]]\nid = \"{}\"\nname = \"{name}\"\nring = \"pilot\"\nbaselines = [\"spoke\"]\n\n[tenant.credentials]\nclient_id = \"{}\"\nclient_secret_env = \"{FLEET_SECRET_ENV}\"\n\n[tenant.endpoints]\nlogin = \"{base}\"\ngraph = \"{base}\"\n\n",
                sim.tenant(index),
                sim.handle.config().client_id
            )
        };
        let hub = fixture("valid/sync-hub");
        let copy = |rel: &str| std::fs::read(hub.join(rel)).expect("fixture");
        project
            .file("tenantform.toml", copy("tenantform.toml"))
            .file("baselines/spoke.toml", copy("baselines/spoke.toml"))
            .file(
                "templates/group.json.tera",
                copy("templates/group.json.tera"),
            )
            .file(
                "tenants/tenants.toml",
                tenant(0, "Hub") + &tenant(1, "North") + &tenant(2, "South"),
            )
            .file("organization.toml", ORGANIZATION);
        Organized {
            sim,
            project,
            secret,
        }
    }

    fn cmd(&self, args: &[&str]) -> Output {
        self.project
            .cmd(args)
            .env(FLEET_SECRET_ENV, &self.secret)
            .run()
    }

    fn owner_tenants(&self) -> Vec<Value> {
        let list = self
            .sim
            .send(
                0,
                "GET",
                "/v1.0/tenantRelationships/multiTenantOrganization/tenants",
                None,
            )
            .status(200)
            .json();
        list["value"].as_array().expect("value").clone()
    }
}

#[test]
fn owner_and_two_members_deploy_pending_then_joined_and_a_rerun_adds_nothing() {
    let w = Organized::new();
    // Before any deploy: not set up, and each member not added (exit 2: needs attention).
    let before = w.cmd(&["sync", "status"]).code(2);
    assert!(
        before
            .stdout
            .contains("organization \"Hub Group\": owner Hub (")
            && before.stdout.contains("not set up"),
        "{}",
        before.stdout
    );
    // The plan shows the organization as one unit, owner first.
    let plan = w.cmd(&["plan"]).code(0);
    assert!(
        plan.stdout.contains("organization: owner Hub (")
            && plan
                .stdout
                .contains("+ organization (multiTenantOrganization)")
            && plan
                .stdout
                .contains("+ member/North (multiTenantOrganizationMember)")
            && plan
                .stdout
                .contains("+ South/join-request (multiTenantOrganizationJoinRequestRecord)"),
        "{}",
        plan.stdout
    );

    w.cmd(&["deploy", "--yes"])
        .success()
        .stderr_has("organization: ok, 5 step(s) changed, 0 unchanged");
    // Journaled step by step, the owner's before any member's join request.
    let runs = w.project.path().join(".tenantform/runs");
    let run = std::fs::read_dir(&runs)
        .expect("runs")
        .next()
        .expect("a run")
        .expect("entry")
        .path();
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    let lines: Vec<&str> = journal.lines().collect();
    let last_owner = lines
        .iter()
        .rposition(|l| l.contains("organization/owner/"))
        .expect("owner steps journaled");
    let first_member = lines
        .iter()
        .position(|l| l.contains("organization/member/"))
        .expect("member steps journaled");
    assert!(last_owner < first_member, "{journal}");
    let org = w
        .sim
        .send(
            0,
            "GET",
            "/v1.0/tenantRelationships/multiTenantOrganization",
            None,
        )
        .status(200)
        .json();
    assert_eq!(org["displayName"], "Hub Group");
    assert_eq!(org["state"], "active");
    let tenants = w.owner_tenants();
    assert_eq!(tenants.len(), 3, "{tenants:?}");
    assert_eq!(tenants[0]["role"], "owner");
    assert!(
        tenants[1..].iter().all(|t| t["state"] == "pending"),
        "{tenants:?}"
    );

    // The joins take up to 2 hours on Graph: pending until they complete (exit 2).
    let pending = w.cmd(&["sync", "status"]).code(2);
    assert!(
        pending.stdout.contains("active; 0 of 2 members joined")
            && pending.stdout.contains(&format!(
                "  member North ({}): pending: join request submitted",
                w.sim.tenant(1)
            )),
        "{}",
        pending.stdout
    );
    let json = w.cmd(&["sync", "status", "--json"]).code(2).json();
    assert_eq!(json["organization"]["members"][0]["state"], "pending");
    assert_eq!(json["organization"]["owner"], w.sim.tenant(0));

    // The simulator completes them now.
    let done = w
        .sim
        .sim("POST", "/_sim/organization/complete", None)
        .status(200)
        .json();
    assert_eq!(done["joinsCompleted"], 2);
    let joined = w.cmd(&["sync", "status"]).code(0);
    assert!(
        joined.stdout.contains("active; 2 of 2 members joined")
            && joined
                .stdout
                .contains(&format!("  member South ({}): joined\n", w.sim.tenant(2))),
        "{}",
        joined.stdout
    );
    let json = w.cmd(&["sync", "status", "--json"]).code(0).json();
    assert!(
        json["organization"]["members"]
            .as_array()
            .expect("members")
            .iter()
            .all(|m| m["state"] == "joined"),
        "{json}"
    );
    // A member reads its owner's organization once it has joined.
    let seen = w
        .sim
        .send(
            2,
            "GET",
            "/v1.0/tenantRelationships/multiTenantOrganization",
            None,
        )
        .status(200)
        .json();
    assert_eq!(seen["displayName"], "Hub Group");

    // A second deploy finds everything: nothing added, no member twice.
    w.cmd(&["deploy", "--yes"])
        .success()
        .stderr_has("organization: ok, 0 step(s) changed, 5 unchanged");
    assert_eq!(w.owner_tenants().len(), 3);
    w.cmd(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn a_tenant_already_in_another_organization_fails_with_the_reason() {
    let w = Organized::new();
    // Tenant 3 (outside the project) owns an organization and has added South.
    let south = w.sim.tenant(2);
    w.sim
        .send(
            3,
            "PATCH",
            "/v1.0/tenantRelationships/multiTenantOrganization",
            Some(&json!({"displayName": "Elsewhere"})),
        )
        .status(204);
    w.sim
        .send(
            3,
            "POST",
            "/v1.0/tenantRelationships/multiTenantOrganization/tenants",
            Some(&json!({"tenantId": south, "displayName": "South"})),
        )
        .status(201);
    let out = w.cmd(&["deploy", "--yes"]).code(3);
    assert!(
        out.stderr
            .contains("organization: FAILED: step organization/owner/member/South")
            && out.stderr.contains(&format!(
                "The tenant {south} is already part of the multitenant organization of tenant {}",
                w.sim.tenant(3)
            )),
        "{}",
        out.stderr
    );
    // North was added before South failed; South is not in the Hub's organization.
    let tenants = w.owner_tenants();
    assert_eq!(tenants.len(), 2, "{tenants:?}");
    let status = w.cmd(&["sync", "status"]).code(2);
    assert!(
        status.stdout.contains(&format!(
            "  member South ({south}): not added: the owner has not added this tenant"
        )),
        "{}",
        status.stdout
    );

    // North, pending in the Hub's organization, asks to join tenant 3's instead: it belongs
    // to one organization at most, so the join fails when it completes, and status says why.
    let north = w.sim.tenant(1);
    w.sim
        .send(
            1,
            "PATCH",
            "/v1.0/tenantRelationships/multiTenantOrganization/joinRequest",
            Some(&json!({"addedByTenantId": w.sim.tenant(3)})),
        )
        .status(204);
    w.sim
        .sim("POST", "/_sim/organization/complete", None)
        .status(200);
    let record = w
        .sim
        .send(
            1,
            "GET",
            "/v1.0/tenantRelationships/multiTenantOrganization/joinRequest",
            None,
        )
        .status(200)
        .json();
    assert_eq!(record["transitionDetails"]["status"], "failed", "{record}");
    let status = w.cmd(&["sync", "status"]).code(2);
    assert!(
        status.stdout.contains(&format!(
            "  member North ({north}): failed: The tenant {north} is already part of the multitenant organization of tenant {}",
            w.sim.tenant(0)
        )),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("sync: 0 links"),
        "{}",
        status.stdout
    );
    // Once tenant 3 lets South go, a deploy adds South and submits North's failed request
    // again, to the Hub this time.
    w.sim
        .send(
            3,
            "DELETE",
            &format!("/v1.0/tenantRelationships/multiTenantOrganization/tenants/{south}"),
            None,
        )
        .status(204);
    w.cmd(&["deploy", "--yes"])
        .success()
        .stderr_has("organization: ok, 3 step(s) changed, 2 unchanged");
    let record = w
        .sim
        .send(
            1,
            "GET",
            "/v1.0/tenantRelationships/multiTenantOrganization/joinRequest",
            None,
        )
        .status(200)
        .json();
    assert_eq!(record["addedByTenantId"], w.sim.tenant(0), "{record}");
    assert_eq!(record["transitionDetails"]["status"], "running", "{record}");
}

#[test]
fn the_simulator_needs_the_multitenant_organization_permission() {
    let sim = Sim::with(SimConfig {
        withdrawn: vec![(0, "MultiTenantOrganization.ReadWrite.All".into())],
        ..test_config()
    });
    let denied = sim
        .send(
            0,
            "PATCH",
            "/v1.0/tenantRelationships/multiTenantOrganization",
            Some(&json!({"displayName": "X"})),
        )
        .status(403);
    denied.error_code("Authorization_RequestDenied");
    // A member cannot join before the owner creates the organization and adds it; a malformed
    // tenant id is Graph's 400.
    let sim = Sim::start();
    sim.send(
        0,
        "POST",
        "/v1.0/tenantRelationships/multiTenantOrganization/tenants",
        Some(&json!({"tenantId": sim.tenant(1)})),
    )
    .status(400);
    sim.send(
        1,
        "PATCH",
        "/v1.0/tenantRelationships/multiTenantOrganization/joinRequest",
        Some(&json!({"addedByTenantId": "not-a-guid"})),
    )
    .status(400);
}
