//! Cross-tenant synchronization end to end: a link between two simulated tenants deployed by
//! the real binary (target steps first), users flowing on a cycle with the link's userType and
//! mappings, leaving on removal from scope, a second deploy changing nothing, and a target
//! that withdrew inbound sync quarantining the job.

use serde_json::{Value, json};
use tenantform::sim::FLEET_SECRET_ENV;

use crate::harness::{Output, Project, fixture};
use crate::sim_support::{Sim, test_config};

pub(crate) struct Linked {
    pub(crate) sim: Sim,
    pub(crate) project: Project,
    pub(crate) secret: String,
}

pub(crate) const LINK: &str = r#"source = "Hub"
target = "Spoke"
scope = ["group:sync-staff"]
user_type = "Guest"
notification_email = "identity-ops@hub.example"
allow_users_to_leave = false

[deletion_prevention]
threshold = 5

[[mappings]]
target = "companyName"
constant = "Hub Corporation"
"#;

impl Linked {
    /// Two simulated tenants, Hub (index 0) and Spoke (index 1), linked Hub → Spoke.
    pub(crate) fn new() -> Linked {
        let config = test_config();
        let secret = config.client_secret.clone();
        let sim = Sim::with(config);
        let project = Project::empty();
        let base = sim.handle.base_url();
        let tenant = |id: String, name: &str, baseline: &str| {
            format!(
                "[[tenant]]\nid = \"{id}\"\nname = \"{name}\"\nring = \"pilot\"\nbaselines = [\"{baseline}\"]\n\n[tenant.credentials]\nclient_id = \"{}\"\nclient_secret_env = \"{FLEET_SECRET_ENV}\"\n\n[tenant.endpoints]\nlogin = \"{base}\"\ngraph = \"{base}\"\n\n",
                sim.handle.config().client_id
            )
        };
        let hub = fixture("valid/sync-hub");
        project
            .file(
                "tenantform.toml",
                std::fs::read(hub.join("tenantform.toml")).expect("fixture"),
            )
            .file(
                "baselines/hub.toml",
                std::fs::read(hub.join("baselines/hub.toml")).expect("fixture"),
            )
            .file(
                "baselines/spoke.toml",
                std::fs::read(hub.join("baselines/spoke.toml")).expect("fixture"),
            )
            .file(
                "templates/group.json.tera",
                std::fs::read(hub.join("templates/group.json.tera")).expect("fixture"),
            )
            .file(
                "tenants/tenants.toml",
                tenant(sim.tenant(0), "Hub", "hub") + &tenant(sim.tenant(1), "Spoke", "spoke"),
            )
            .file("links/hub-to-spoke.toml", LINK);
        Linked {
            sim,
            project,
            secret,
        }
    }

    /// `tenantform <args>` on the project with the fleet's secret.
    pub(crate) fn cmd(&self, args: &[&str]) -> Output {
        self.project
            .cmd(args)
            .env(FLEET_SECRET_ENV, &self.secret)
            .run()
    }

    pub(crate) fn deploy(&self) -> Output {
        self.project
            .cmd(&["deploy", "--yes"])
            .env(FLEET_SECRET_ENV, &self.secret)
            .run()
    }

    pub(crate) fn sync_status(&self, extra: &[&str]) -> Output {
        let mut args = vec!["sync", "status"];
        args.extend_from_slice(extra);
        self.project
            .cmd(&args)
            .env(FLEET_SECRET_ENV, &self.secret)
            .run()
    }

    pub(crate) fn seed(&self, upn: &str, groups: &[&str]) -> String {
        let user = self
            .sim
            .sim(
                "POST",
                &format!("/_sim/tenants/{}/users", self.sim.tenant(0)),
                Some(&json!({"userPrincipalName": upn, "displayName": upn, "groups": groups})),
            )
            .status(201)
            .json();
        user["id"].as_str().expect("id").to_string()
    }

    pub(crate) fn cycle(&self) {
        self.sim
            .sim(
                "POST",
                &format!("/_sim/tenants/{}/sync/run", self.sim.tenant(0)),
                None,
            )
            .status(200);
    }

    /// The target's users other than its administrator.
    pub(crate) fn target_users(&self) -> Vec<Value> {
        let users = self
            .sim
            .send(
                1,
                "GET",
                "/v1.0/users?$select=id,displayName,userPrincipalName,userType,companyName,creationType",
                None,
            )
            .status(200)
            .json();
        users["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter(|u| u["displayName"] != "Administrator")
            .cloned()
            .collect()
    }

    pub(crate) fn source_list(&self, path: &str) -> Vec<Value> {
        self.sim.send(0, "GET", path, None).status(200).json()["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The source's service principals made from an application template (the links'
    /// configuration apps), without the ones every tenant has (the app's own, Microsoft Graph).
    pub(crate) fn config_apps(&self) -> Vec<Value> {
        self.source_list("/v1.0/servicePrincipals")
            .into_iter()
            .filter(|sp| sp["applicationTemplateId"].is_string())
            .collect()
    }

    pub(crate) fn job(&self) -> Value {
        let sps = self.config_apps();
        let sp = sps[0]["id"].as_str().expect("sp id");
        self.source_list(&format!(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs"
        ))[0]
            .clone()
    }
}

#[test]
fn a_link_deploys_target_first_users_flow_and_a_second_deploy_changes_nothing() {
    let w = Linked::new();
    let first = w
        .deploy()
        .success()
        .stderr_has("link hub-to-spoke: ok, 10 step(s) changed, 0 unchanged");
    // Target steps were sent before any source step (the journal keeps the order).
    let journal_dir = w.project.path().join(".tenantform/runs");
    let run = std::fs::read_dir(&journal_dir)
        .expect("runs")
        .next()
        .expect("a run")
        .expect("entry")
        .path();
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    let lines: Vec<&str> = journal.lines().collect();
    let last_target = lines
        .iter()
        .rposition(|l| l.contains("hub-to-spoke/target/"))
        .expect("target steps journaled");
    let first_source = lines
        .iter()
        .position(|l| l.contains("hub-to-spoke/source/"))
        .expect("source steps journaled");
    assert!(last_target < first_source, "{}", first.stderr);
    assert!(
        !journal.contains("SyncPolicy"),
        "secrets reached the journal"
    );
    // The new service principal was not visible at once (replication): deploy waited it out,
    // a 404 on the job list and then a 200 on the same path.
    let log = w
        .sim
        .sim(
            "GET",
            &format!("/_sim/requests?tenant={}", w.sim.tenant(0)),
            None,
        )
        .status(200)
        .json();
    let jobs: Vec<u64> = log["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/synchronization/jobs"))
        })
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert_eq!(jobs.first(), Some(&404), "{jobs:?}");
    assert!(jobs.contains(&200), "{jobs:?}");

    // Users in scope flow on a cycle; users out of scope do not.
    w.seed("ann@hub.example", &["tf-sync-staff"]);
    w.seed("bob@hub.example", &[]);
    w.cycle();
    let users = w.target_users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["displayName"], "ann@hub.example");
    assert_eq!(users[0]["userType"], "Guest");
    assert_eq!(users[0]["companyName"], "Hub Corporation");
    assert_eq!(users[0]["creationType"], "Invitation");
    assert!(
        users[0]["userPrincipalName"]
            .as_str()
            .is_some_and(|u| u.contains("#EXT#@")),
        "{users:?}"
    );
    let job = w.job();
    assert_eq!(job["status"]["code"], "Active");
    assert_eq!(job["schedule"]["state"], "Active");
    // sync status reads the same from the source tenant.
    let status = w.sync_status(&[]).code(0);
    assert!(
        status.stdout.contains("hub-to-spoke: ")
            && status.stdout.contains(": Active; last cycle ")
            && status.stdout.contains("(Succeeded); 1 synchronized"),
        "{}",
        status.stdout
    );
    // Nothing missing; the job's provisioning events, from GET /auditLogs/provisioning.
    assert!(!status.stdout.contains("missing:"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("  last 1 provisioning event(s), 0 failed:\n")
            && status.stdout.contains(" create ann@hub.example: success\n"),
        "{}",
        status.stdout
    );
    let json = w.sync_status(&["--json"]).code(0).json();
    assert_eq!(json["links"][0]["events"][0]["action"], "create");
    assert_eq!(json["links"][0]["missing"], json!([]));
    assert_eq!(json["links"][0]["state"], "Active");
    assert_eq!(json["links"][0]["synchronized"][0][1], 1);
    assert!(json["organization"].is_null(), "{json}");

    // A second deploy finds everything in place: one app, one job, one assignment.
    w.deploy()
        .success()
        .stderr_has("link hub-to-spoke: ok, 0 step(s) changed, 10 unchanged");
    // Every tenant also has Microsoft Graph's service principal and the deploying app's.
    let sps: Vec<Value> = w
        .source_list("/v1.0/servicePrincipals")
        .into_iter()
        .filter(|sp| {
            sp["appId"] != "00000003-0000-0000-c000-000000000000"
                && sp["appId"] != tenantform::sim::DEFAULT_CLIENT_ID
        })
        .collect();
    assert_eq!(sps.len(), 1);
    let sp = sps[0]["id"].as_str().expect("sp id");
    assert_eq!(
        w.source_list(&format!(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs"
        ))
        .len(),
        1
    );
    assert_eq!(
        w.source_list(&format!("/v1.0/servicePrincipals/{sp}/appRoleAssignedTo"))
            .len(),
        1
    );
}

#[test]
fn a_user_taken_out_of_scope_leaves_the_target() {
    let w = Linked::new();
    w.deploy().success();
    let ann = w.seed("ann@hub.example", &["tf-sync-staff"]);
    w.cycle();
    assert_eq!(w.target_users().len(), 1);
    w.sim
        .sim(
            "DELETE",
            &format!(
                "/_sim/tenants/{}/groups/tf-sync-staff/members/{ann}",
                w.sim.tenant(0)
            ),
            None,
        )
        .status(204);
    w.cycle();
    assert!(w.target_users().is_empty());
}

#[test]
fn a_target_that_withdrew_inbound_sync_quarantines_the_job() {
    let w = Linked::new();
    w.deploy().success();
    let hub = w.sim.tenant(0);
    w.sim
        .send(
            1,
            "PUT",
            &format!(
                "/v1.0/policies/crossTenantAccessPolicy/partners/{hub}/identitySynchronization"
            ),
            Some(&json!({"userSyncInbound": {"isSyncAllowed": false}})),
        )
        .status(204);
    w.seed("ann@hub.example", &["tf-sync-staff"]);
    w.cycle();
    assert!(w.target_users().is_empty());
    let job = w.job();
    assert_eq!(job["status"]["code"], "Quarantine", "{job}");
    assert_eq!(
        job["status"]["quarantine"]["error"]["code"],
        "AzureActiveDirectoryCrossTenantSyncPolicyCheckFailure"
    );
    // sync status says so, and why, names the missing piece and what to do, shows the failed
    // provisioning events, and exits 3 (a quarantined link).
    let status = w.sync_status(&["--link", "hub-to-spoke"]).code(3);
    assert!(
        status.stdout.contains(
            "  missing: the target has not allowed inbound sync from this source: run tenantform deploy for the target\n"
        ),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains(": failure: AzureActiveDirectoryCrossTenantSyncPolicyCheckFailure: "),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains(": Quarantine"), "{}", status.stdout);
    assert!(
        status.stdout.contains("  quarantine: "),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("1 need attention"),
        "{}",
        status.stdout
    );
    // A link the project does not have is a usage error naming the ones it has.
    let out = w.sync_status(&["--link", "nope"]).code(64);
    assert!(out.stderr.contains("links: hub-to-spoke"), "{}", out.stderr);
}

#[test]
fn sync_status_before_any_deploy_says_the_link_is_not_set_up() {
    let w = Linked::new();
    let status = w.sync_status(&[]).code(2);
    assert!(
        status
            .stdout
            .contains(": not set up; run tenantform deploy"),
        "{}",
        status.stdout
    );
    // Each missing piece on either side, target first, with what to do.
    let missing: Vec<&str> = status
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  missing: "))
        .collect();
    assert_eq!(
        missing,
        vec![
            "the target has no cross-tenant access settings for this source (partner entry), so it has not allowed inbound sync from it: run tenantform deploy for the target",
            "the source does not redeem invitations to the target automatically (its partner entry's automaticUserConsentSettings.outboundAllowed): run tenantform deploy for the source",
            "the source has no configuration app \"tenantform hub-to-spoke\": run tenantform deploy for the source",
        ],
        "{}",
        status.stdout
    );
}

#[test]
fn sync_status_names_the_pieces_a_partial_set_up_lacks() {
    let w = Linked::new();
    w.deploy().success();
    // The target stops redeeming automatically; the source's secrets lose the target.
    let hub = w.sim.tenant(0);
    w.sim
        .send(
            1,
            "PATCH",
            &format!("/v1.0/policies/crossTenantAccessPolicy/partners/{hub}"),
            Some(&json!({"automaticUserConsentSettings": {"inboundAllowed": false}})),
        )
        .status(204);
    let sp = w.config_apps()[0]["id"].as_str().expect("sp").to_string();
    w.sim
        .send(
            0,
            "PUT",
            &format!("/v1.0/servicePrincipals/{sp}/synchronization/secrets"),
            Some(&json!({"value": [{"key": "AuthenticationType", "value": "SyncPolicy"}]})),
        )
        .status(204);
    let status = w.sync_status(&[]).code(2);
    assert!(
        status.stdout.contains("  missing: the target does not redeem invitations from this source automatically (automaticUserConsentSettings.inboundAllowed): run tenantform deploy for the target\n")
            && status.stdout.contains("  missing: the job's secrets do not name the target tenant (CompanyId): run tenantform deploy for the source\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn the_provisioning_log_is_filtered_by_job_and_needs_audit_log_read() {
    let w = Linked::new();
    w.deploy().success();
    w.seed("ann@hub.example", &["tf-sync-staff"]);
    w.cycle();
    let job = w.job()["id"].as_str().expect("job").to_string();
    let read = |filter: &str| {
        w.sim
            .send(
                0,
                "GET",
                &format!(
                    "/v1.0/auditLogs/provisioning?$filter={}",
                    filter.replace(' ', "%20").replace('\'', "%27")
                ),
                None,
            )
            .status(200)
            .json()
    };
    let entries = read(&format!("jobId eq '{job}'"));
    let entry = &entries["value"][0];
    assert_eq!(entry["provisioningAction"], "create", "{entries}");
    assert_eq!(entry["provisioningStatusInfo"]["status"], "success");
    assert_eq!(entry["jobId"], job.as_str());
    assert_eq!(entry["tenantId"], w.sim.tenant(0));
    assert_eq!(
        entry["sourceIdentity"]["details"]["UserPrincipalName"],
        "ann@hub.example"
    );
    assert_eq!(
        entry["targetSystem"]["details"]["TenantId"],
        w.sim.tenant(1)
    );
    assert_eq!(read("jobId eq 'Azure2Azure.other'")["value"], json!([]));
    // The target's log holds nothing of the source's job.
    let target = w
        .sim
        .send(1, "GET", "/v1.0/auditLogs/provisioning", None)
        .status(200)
        .json();
    assert_eq!(target["value"], json!([]));

    let sim = crate::sim_support::Sim::with(tenantform::sim::SimConfig {
        withdrawn: vec![(0, "AuditLog.Read.All".into())],
        ..test_config()
    });
    sim.send(0, "GET", "/v1.0/auditLogs/provisioning", None)
        .status(403)
        .error_code("Authorization_RequestDenied");
}
