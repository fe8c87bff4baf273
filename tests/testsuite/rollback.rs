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
    // The run made last, by when its directory was made: two runs in the same second have ids
    // that sort by their random suffix, not by which came first.
    let dir = w.project.path().join(".tenantform/runs");
    let mut runs: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
        .expect("runs")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let made = meta.created().or_else(|_| meta.modified()).ok()?;
            Some((made, e.file_name().to_str()?.to_string()))
        })
        .collect();
    runs.sort();
    runs.pop().expect("a run").1
}

/// Conditional Access policies by display name, without ids (re-created objects get new ones).
fn policies(w: &World) -> Vec<(String, String)> {
    policies_of(w, 0)
}

/// [`policies`] of tenant `index`.
pub(crate) fn policies_of(w: &World, index: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = w.objects(index)["conditionalAccessPolicy"]
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
    // The before-images: the updated and the deleted object, never a secret, in one document
    // for the tenant and the run.
    let before = w
        .project
        .path()
        .join(format!(".tenantform/runs/{run}/before"));
    let names: Vec<String> = std::fs::read_dir(&before)
        .expect("before")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{}.json", w.tenant(0))]);
    let text = std::fs::read_to_string(before.join(&names[0])).expect("before-images");
    assert!(!text.contains(&w.secret), "a secret in a before-image");
    assert!(!text.contains("modifiedDateTime"), "{text}");
    let document: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(document["tenant"], w.tenant(0));
    let images = document["images"].as_array().expect("images");
    let image = |key: &str| {
        images
            .iter()
            .find(|i| i["key"] == key)
            .unwrap_or_else(|| panic!("no image of {key}: {text}"))
    };
    let updated = image("ca-block-legacy-auth");
    assert_eq!(updated["change"], "update");
    assert_eq!(updated["body"]["state"], "enabled", "{text}");
    assert_eq!(updated["properties"], serde_json::json!(["state"]));
    assert_eq!(image("ca-mfa-guests")["change"], "delete");
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

/// A tenant's before-images document rewritten as an older version recorded a run: one file
/// per object (`before/<tenant-id>/<key>.json`), as (file name, bytes). The image of `marked`
/// gets `state = "disabled"`, so that a test can tell which image a rollback used.
pub(crate) fn as_per_object_files(document: &[u8], marked: &str) -> Vec<(String, Vec<u8>)> {
    let document: Value = serde_json::from_slice(document).expect("before-images document");
    document["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|image| {
            let mut image = image.clone();
            let key = image["key"].as_str().expect("key").to_string();
            if key == marked {
                image["body"]["state"] = "disabled".into();
            }
            let text = serde_json::to_string_pretty(&image).expect("json") + "\n";
            (format!("{key}.json"), text.into_bytes())
        })
        .collect()
}

/// The journal's lines up to and including `run_started`: the run as if killed before any
/// tenant began (a prefix of the hash chain is intact).
pub(crate) fn cut_after_run_started(journal: &str) -> String {
    let end = journal
        .find("\"event\":\"run_started\"")
        .and_then(|at| journal[at..].find('\n').map(|n| at + n + 1))
        .expect("run_started");
    journal[..end].to_string()
}

/// The state of the policy whose name contains `part` in tenant `index`.
pub(crate) fn policy_state(w: &World, index: usize, part: &str) -> String {
    policies_of(w, index)
        .into_iter()
        .find(|(name, _)| name.to_lowercase().contains(part))
        .map(|(_, state)| state)
        .unwrap_or_else(|| panic!("no policy named like {part}"))
}

/// `fleet` with `overrides` added to every `[[tenant]]` (not only the last).
pub(crate) fn for_every_tenant(fleet: &str, overrides: &str) -> String {
    fleet
        .split("[[tenant]]")
        .enumerate()
        .map(|(i, block)| match i {
            0 => block.to_string(),
            _ => format!("[[tenant]]{}{overrides}\n", block.trim_end()),
        })
        .collect()
}

/// The fleet of two tenants with v1 deployed, then v2 (one update, one create, one delete in
/// each tenant) deployed with --prune; returns v1's policies per tenant, v2's fleet and the run.
pub(crate) fn two_tenants_v1_then_v2(
    w: &World,
    deploy: impl Fn(&[&str]),
) -> ([Vec<(String, String)>; 2], String) {
    let fleet = w.project.read("tenants/fleet.toml");
    let v1 = for_every_tenant(&fleet, &skip("ca-mfa-azure-management"));
    w.project.file("tenants/fleet.toml", &v1);
    deploy(&[]);
    let v1_policies = [policies_of(w, 0), policies_of(w, 1)];
    let v2 = for_every_tenant(&fleet, &format!("{}{REPORT_ONLY}", skip("ca-mfa-guests")));
    w.project.file("tenants/fleet.toml", &v2);
    deploy(&["--prune"]);
    (v1_policies, v2)
}

#[test]
fn runs_recorded_with_one_before_image_file_per_object_are_rolled_back_and_resumed() {
    let w = World::new(config(2));
    let (v1_policies, _) = two_tenants_v1_then_v2(&w, |args| {
        w.deploy(args).success();
    });
    let run = last_run(&w);

    // Tenant 1's images as an older version recorded them, one file per object; the image of
    // the legacy-authentication policy says it was disabled before the run.
    let before = w
        .project
        .path()
        .join(format!(".tenantform/runs/{run}/before"));
    let document = before.join(format!("{}.json", w.tenant(1)));
    let files = as_per_object_files(
        &std::fs::read(&document).expect("tenant 1's document"),
        "ca-block-legacy-auth",
    );
    assert_eq!(files.len(), 2, "an update and a delete");
    std::fs::remove_file(&document).expect("remove");
    let older = before.join(w.tenant(1));
    std::fs::create_dir_all(&older).expect("dir");
    for (name, bytes) in &files {
        std::fs::write(older.join(name), bytes).expect("write");
    }

    // Rolled back from both forms: tenant 0 from its document, tenant 1 from its files.
    rollback(&w, &[&run, "--yes"])
        .success()
        .stderr_has("2 of 2 tenants rolled back");
    assert_eq!(policies_of(&w, 0), v1_policies[0]);
    assert_eq!(
        policy_state(&w, 1, "legacy"),
        "disabled",
        "from tenant 1's file"
    );

    // Resumed (as if killed before any tenant began): every object the run changes again is
    // imaged already, in one form or the other, and keeps its first image.
    let journal_path = w
        .project
        .path()
        .join(format!(".tenantform/runs/{run}/journal.jsonl"));
    let journal = std::fs::read_to_string(&journal_path).expect("journal");
    std::fs::write(&journal_path, cut_after_run_started(&journal)).expect("cut");
    let document_0 = std::fs::read(before.join(format!("{}.json", w.tenant(0)))).expect("doc");
    w.deploy(&["--prune", "--resume", &run]).success();
    assert_eq!(
        std::fs::read(before.join(format!("{}.json", w.tenant(0)))).expect("doc"),
        document_0,
        "tenant 0's images kept as the first turn recorded them"
    );
    assert!(
        !before.join(format!("{}.json", w.tenant(1))).exists(),
        "tenant 1's objects are imaged in the older form already"
    );
    rollback(&w, &[&run, "--yes"])
        .success()
        .stderr_has("2 of 2 tenants rolled back");
    assert_eq!(policies_of(&w, 0), v1_policies[0]);
    assert_eq!(policy_state(&w, 1, "legacy"), "disabled");
    assert_ne!(policies_of(&w, 1), policies_of(&w, 0));
}
