//! `tenantform rollback` end to end against the in-process simulator: a deploy that updates,
//! creates and (with --prune) deletes is rolled back to the state before it; created objects
//! kept on request; before-images written and free of secrets; unknown runs named.

use serde_json::Value;

use crate::deploy::{World, config};

const SCALE: &str = "20";

fn skip(resource: &str) -> String {
    format!("\n[[tenant.overrides]]\nresource = \"{resource}\"\nskip = true\nreason = \"test\"\n")
}

const REPORT_ONLY: &str = "\n[[tenant.overrides]]\nresource = \"ca-block-legacy-auth\"\nvars = { state = \"enabledForReportingButNotEnforced\" }\nreason = \"test\"\n";

/// The newest run's id.
fn last_run(w: &World) -> String {
    let dir = w.project.path().join(".tenantform/runs");
    let mut runs: Vec<String> = std::fs::read_dir(dir)
        .expect("runs")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    runs.sort();
    runs.pop().expect("a run")
}

/// Conditional Access policies by display name, without ids (re-created objects get new ones).
fn policies(w: &World) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = w.objects(0)["conditionalAccessPolicy"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| {
            (
                p["displayName"].as_str().unwrap_or_default().to_string(),
                p["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// v1 deployed; v2 (one update, one create, one delete) written and deployed with --prune.
fn deploy_v1_then_v2(w: &World) -> (String, String) {
    let fleet = w.project.read("tenants/fleet.toml");
    let v1 = format!("{fleet}{}", skip("ca-mfa-azure-management"));
    w.project.file("tenants/fleet.toml", &v1);
    w.deploy(&[]).success();
    let v2 = format!("{fleet}{}{REPORT_ONLY}", skip("ca-mfa-guests"));
    w.project.file("tenants/fleet.toml", &v2);
    w.deploy(&["--prune"]).success();
    (v1, last_run(w))
}

fn rollback(w: &World, args: &[&str]) -> crate::harness::Output {
    let mut all = vec!["rollback"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--time-scale", SCALE]);
    w.cmd(&all).run()
}

#[test]
fn rollback_puts_updates_creates_and_deletes_back_as_they_were() {
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!("{fleet}{}", skip("ca-mfa-azure-management")),
    );
    w.deploy(&[]).success();
    let v1_policies = policies(&w);
    w.project.file("tenants/fleet.toml", &fleet);
    let (v1, run) = {
        let v2 = format!("{fleet}{}{REPORT_ONLY}", skip("ca-mfa-guests"));
        w.project.file("tenants/fleet.toml", &v2);
        w.deploy(&["--prune"]).success();
        (
            format!("{fleet}{}", skip("ca-mfa-azure-management")),
            last_run(&w),
        )
    };
    assert_ne!(policies(&w), v1_policies, "v2 changed the tenant");
    // The before-images: the updated and the deleted object, never a secret.
    let before = w
        .project
        .path()
        .join(format!(".tenantform/runs/{run}/before/{}", w.tenant(0)));
    let updated = std::fs::read_to_string(before.join("ca-block-legacy-auth.json"))
        .expect("before-image of the update");
    let image: Value = serde_json::from_str(&updated).expect("json");
    assert_eq!(image["change"], "update");
    assert_eq!(image["body"]["state"], "enabled", "{updated}");
    assert_eq!(image["properties"], serde_json::json!(["state"]));
    assert!(before.join("ca-mfa-guests.json").exists());
    for entry in std::fs::read_dir(&before).expect("before") {
        let text = std::fs::read_to_string(entry.expect("file").path()).expect("read");
        assert!(!text.contains(&w.secret), "a secret in a before-image");
        assert!(!text.contains("modifiedDateTime"), "{text}");
    }
    // What a rollback would do, shown by runs show and --dry-run, which changes nothing.
    w.cmd(&["runs", "show", &run])
        .run()
        .success()
        .stdout_has("rollback  would: 1 revert, 1 recreate, 1 delete");
    rollback(&w, &[&run, "--dry-run"])
        .success()
        .stdout_has("~ revert   ca-block-legacy-auth")
        .stdout_has("+ recreate ca-mfa-guests")
        .stdout_has("- delete   ca-mfa-azure-management");
    assert_ne!(policies(&w), v1_policies);
    // Off a terminal, --yes is required.
    rollback(&w, &[&run]).code(64);
    rollback(&w, &[&run, "--yes"])
        .success()
        .stderr_has("1 of 1 tenants rolled back");
    assert_eq!(policies(&w), v1_policies);
    // Against the v1 project the tenant is in sync: nothing drifted, nothing to deploy.
    w.project.file("tenants/fleet.toml", &v1);
    w.cmd(&["drift"]).run().code(0);
    w.cmd(&["plan", "--detailed-exitcode"]).run().code(0);
    // The rollback is a run of its own, naming the run it rolls back.
    let rollback_run = last_run(&w);
    assert_ne!(rollback_run, run);
    let journal = w
        .project
        .read(&format!(".tenantform/runs/{rollback_run}/journal.jsonl"));
    assert!(
        journal.contains(&format!("\"event\":\"rollback_of\",\"run\":\"{run}\"")),
        "{journal}"
    );
    assert!(journal.contains("\"action\":\"recreated\""), "{journal}");
    // A rollback is not itself rolled back.
    rollback(&w, &[&rollback_run, "--yes"])
        .code(1)
        .stderr_has("is a rollback");
}

#[test]
fn keep_created_keeps_what_the_run_created_and_unknown_runs_are_named() {
    let w = World::new(config(1));
    let (_, run) = deploy_v1_then_v2(&w);
    rollback(&w, &[&run, "--yes", "--keep-created"]).success();
    let names: Vec<String> = policies(&w).into_iter().map(|(n, _)| n).collect();
    let created = w.objects(0)["conditionalAccessPolicy"]
        .as_array()
        .expect("policies")
        .len();
    assert_eq!(names.len(), created);
    // The policy v2 created is still there; the update and the delete were undone.
    let state = policies(&w);
    assert!(
        state
            .iter()
            .any(|(n, _)| n.to_lowercase().contains("azure management")),
        "{state:?}"
    );
    rollback(&w, &["20990101T000000Z-none", "--yes"])
        .code(1)
        .stderr_has("no run 20990101T000000Z-none");
}

/// The id of the one Conditional Access policy whose name contains `part` (case-insensitive).
fn policy_id(w: &World, part: &str) -> String {
    let all = w.objects(0)["conditionalAccessPolicy"].clone();
    let found: Vec<&Value> = all
        .as_array()
        .expect("policies")
        .iter()
        .filter(|p| {
            p["displayName"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().contains(part))
        })
        .collect();
    assert_eq!(found.len(), 1, "{part}: {all:#}");
    found[0]["id"].as_str().expect("id").to_string()
}

/// The tenant's successful directory audit entries for object `id` named `activity`.
fn audited(w: &World, id: &str, activity: &str) -> usize {
    let filter: String = form_urlencoded::byte_serialize(
        format!("targetResources/any(t:t/id eq '{id}')").as_bytes(),
    )
    .collect();
    let body = w
        .sim
        .get(&format!("/v1.0/auditLogs/directoryAudits?$filter={filter}"))
        .status(200)
        .json();
    body["value"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["activityDisplayName"] == activity && e["result"] == "success")
        .count()
}

#[test]
fn a_rollback_killed_mid_way_resumes_from_its_journal_and_undoes_each_change_once() {
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!("{fleet}{}", skip("ca-mfa-azure-management")),
    );
    w.deploy(&[]).success();
    let v1_policies = policies(&w);
    let v2 = format!("{fleet}{}{REPORT_ONLY}", skip("ca-mfa-guests"));
    w.project.file("tenants/fleet.toml", &v2);
    w.deploy(&["--prune"]).success();
    let run = last_run(&w);
    let reverted = policy_id(&w, "legacy");
    let created = policy_id(&w, "azure management");
    let updates_before = audited(&w, &reverted, "Update Conditional Access policy");

    // A slow service: every Graph request waits 800 ms, so the three steps take seconds.
    w.sim
        .sim("POST", "/_sim/stall", Some(&serde_json::json!({"ms": 800})))
        .status(204);
    let mut child = w
        .cmd(&["rollback", &run, "--yes", "--time-scale", SCALE])
        .spawn();
    let started = std::time::Instant::now();
    let journal = |id: &str| {
        std::fs::read_to_string(
            w.project
                .path()
                .join(format!(".tenantform/runs/{id}/journal.jsonl")),
        )
        .unwrap_or_default()
    };
    let rollback_run = loop {
        let newest = last_run(&w);
        if newest != run && journal(&newest).contains("\"event\":\"applied\"") {
            break newest;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the rollback applied nothing in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let killed = journal(&rollback_run);
    assert!(
        !killed.contains("\"event\":\"tenant_finished\""),
        "the rollback finished before it was killed: {killed}"
    );
    assert!(killed.contains(&format!("\"event\":\"rollback_of\",\"run\":\"{run}\"")));
    w.sim
        .sim("POST", "/_sim/stall", Some(&serde_json::json!({"ms": 0})))
        .status(204);

    // Resumed: it finishes what the killed attempt left, from the same journal.
    rollback(&w, &[&run, "--yes", "--resume", &rollback_run])
        .success()
        .stderr_has("1 of 1 tenants rolled back");
    assert_eq!(policies(&w), v1_policies, "every object as before the run");
    let finished = journal(&rollback_run);
    assert!(finished.contains("\"event\":\"run_resumed\""), "{finished}");
    // Each step journaled once over both attempts.
    let mut applied: Vec<String> = finished
        .lines()
        .filter(|l| l.contains("\"event\":\"applied\""))
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("journal line");
            let entry = v.get("entry").unwrap_or(&v);
            entry["key"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    applied.sort();
    let mut unique = applied.clone();
    unique.dedup();
    assert_eq!(applied, unique, "a step applied twice: {finished}");
    assert_eq!(applied.len(), 3, "{finished}");
    // And on the service's side: reverted once, the created policy deleted once, the deleted
    // one re-created once (policies() above has no duplicate).
    assert_eq!(
        audited(&w, &reverted, "Update Conditional Access policy"),
        updates_before + 1
    );
    assert_eq!(audited(&w, &created, "Delete Conditional Access policy"), 1);
    // Resuming a finished rollback has nothing left to do.
    rollback(&w, &[&run, "--yes", "--resume", &rollback_run]).success();
    assert_eq!(policies(&w), v1_policies);
}

#[test]
fn the_simulator_stall_takes_milliseconds_and_refuses_anything_else() {
    let w = World::new(config(1));
    for bad in [
        serde_json::json!({"ms": -1}),
        serde_json::json!({"ms": "800"}),
        serde_json::json!({"ms": 600_001}),
        serde_json::json!({}),
    ] {
        w.sim.sim("POST", "/_sim/stall", Some(&bad)).status(400);
    }
    w.sim
        .sim("POST", "/_sim/stall", Some(&serde_json::json!({"ms": 300})))
        .status(204);
    let started = std::time::Instant::now();
    w.sim.get("/v1.0/groups").status(200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    w.sim.sim("POST", "/_sim/reset", None).status(204);
    let started = std::time::Instant::now();
    w.sim.get("/v1.0/groups").status(200);
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
}
