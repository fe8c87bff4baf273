//! A link's deploy killed (SIGKILL) at each of its steps, then run again: it finishes with
//! exactly one configuration app, one job and one assignment per principal. The simulator
//! holds the chosen step's request in flight (`POST /_sim/stall`, applied first, so the killed
//! client never learned that its write happened) while the test kills the process. Also: a
//! kill when only the target end was written, and `--resume` of a run killed in its link phase.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tenantform::sim::FLEET_SECRET_ENV;

use crate::sync::Linked;

/// Arm a stall, run deploy, wait until the stalled request is in flight, SIGKILL the deploy,
/// release the stall. Returns the killed run's id.
fn kill_deploy_at(w: &Linked, stall: Value) -> String {
    w.sim.sim("POST", "/_sim/stall", Some(&stall)).status(204);
    let mut child = w
        .project
        .cmd(&["deploy", "--yes"])
        .env(FLEET_SECRET_ENV, &w.secret)
        .spawn();
    let started = Instant::now();
    loop {
        let hits = w.sim.sim("GET", "/_sim/stall", None).status(200).json()["hits"]
            .as_u64()
            .unwrap_or(0);
        if hits > 0 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("deploy ended ({status}) before reaching the stalled step {stall}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the stalled step {stall} was never reached"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    w.sim.sim("DELETE", "/_sim/stall", None).status(204);
    let runs = w.project.path().join(".tenantform/runs");
    let run = std::fs::read_dir(runs)
        .expect("runs")
        .filter_map(Result::ok)
        .next()
        .expect("a run");
    let journal = std::fs::read_to_string(run.path().join("journal.jsonl")).expect("journal");
    assert!(
        !journal.contains("\"event\":\"run_finished\""),
        "the run finished before it was killed"
    );
    run.file_name().to_string_lossy().into_owned()
}

/// Exactly one app, one job, one assignment, one partner on each side; and nothing to change.
fn assert_converged_once(w: &Linked) {
    let sps = w.config_apps();
    assert_eq!(sps.len(), 1, "{sps:?}");
    let sp = sps[0]["id"].as_str().expect("sp id");
    let jobs = w.source_list(&format!(
        "/v1.0/servicePrincipals/{sp}/synchronization/jobs"
    ));
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["schedule"]["state"], "Active");
    let assignments = w.source_list(&format!("/v1.0/servicePrincipals/{sp}/appRoleAssignedTo"));
    assert_eq!(assignments.len(), 1, "{assignments:?}");
    for (index, partner) in [(0, w.sim.tenant(1)), (1, w.sim.tenant(0))] {
        let partners = w
            .sim
            .send(
                index,
                "GET",
                "/v1.0/policies/crossTenantAccessPolicy/partners",
                None,
            )
            .status(200)
            .json();
        let partners = partners["value"].as_array().expect("value");
        assert_eq!(partners.len(), 1, "{partners:?}");
        assert_eq!(partners[0]["tenantId"], json!(partner));
    }
    w.cmd(&["plan", "--detailed-exitcode"]).code(0);
    // And users flow.
    w.seed("ann@hub.example", &["tf-sync-staff"]);
    w.cycle();
    assert_eq!(w.target_users().len(), 1);
}

fn killed_at_then_rerun(method: &str, path: &str) {
    let w = Linked::new();
    kill_deploy_at(&w, json!({"method": method, "path": path}));
    w.deploy().success().stderr_has("link hub-to-spoke: ok, ");
    assert_converged_once(&w);
}

#[test]
fn killed_at_instantiate_a_rerun_finds_the_app_instead_of_making_another() {
    killed_at_then_rerun("POST", "/instantiate");
}

#[test]
fn killed_at_the_job_a_rerun_finds_the_job_by_template() {
    killed_at_then_rerun("POST", "/synchronization/jobs");
}

#[test]
fn killed_at_the_secrets_a_rerun_finishes() {
    killed_at_then_rerun("PUT", "/synchronization/secrets");
}

#[test]
fn killed_at_an_assignment_a_rerun_finds_it_by_principal() {
    killed_at_then_rerun("POST", "/appRoleAssignedTo");
}

#[test]
fn killed_at_start_a_rerun_finishes() {
    killed_at_then_rerun("POST", "/start");
}

#[test]
fn killed_with_only_the_target_end_written_resume_finishes_the_source() {
    let w = Linked::new();
    let hub = w.sim.tenant(0);
    // The source's first write (its partner entry) is held before it is applied: the target's
    // steps are all done, the source has nothing.
    let run = kill_deploy_at(
        &w,
        json!({"method": "POST", "path": "/policies/crossTenantAccessPolicy/partners",
            "tenant": hub, "applied": false}),
    );
    assert!(w.config_apps().is_empty());
    // plan shows exactly that: the target's end exists, the source's is to create.
    let plan = w.cmd(&["plan", "--format", "json"]).code(0).json();
    let steps = plan["links"][0]["steps"].as_array().expect("steps").clone();
    for step in &steps {
        let target = step["side"] == "target";
        assert_eq!(step["action"] == "unchanged", target, "{step} in {steps:?}");
    }
    // --resume of the killed run goes back to its link (every tenant had finished).
    w.cmd(&["deploy", "--yes", "--resume", &run])
        .success()
        .stderr_has("link hub-to-spoke: ok, 7 step(s) changed, 3 unchanged");
    assert_converged_once(&w);
}
