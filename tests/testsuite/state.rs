//! State backends and tenant locks, end to end: the real binary against the simulator, with
//! state in local files or in Azure Blob Storage (Azurite, see `azurite.rs`): two runs at once
//! on overlapping tenants, a run killed holding a lock, resume from another working directory,
//! storage going down mid-run, and `[state]` errors.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantform::sim::{FLEET_SECRET_ENV, SimConfig};
use tenantform::state::{StateStore, layout};

use crate::azurite::{self, Azurite};
use crate::deploy::World;
use crate::harness::{Cmd, Output, Project};

/// A world whose state is in `azurite` (under `prefix`), or local.
fn world(tenants: usize, time_scale: f64, remote: Option<(&Azurite, &str, u64)>) -> World {
    let w = World::new(SimConfig {
        tenants,
        time_scale,
        ..SimConfig::default()
    });
    if let Some((az, prefix, lease)) = remote {
        let toml = w.project.read("tenantform.toml");
        w.project
            .file("tenantform.toml", toml + &az.state_toml(prefix, lease));
    }
    w
}

/// `tenantform ARGS` on the world's project with the fleet secret and the storage key.
fn cmd(w: &World, args: &[&str], time_scale: f64) -> Cmd {
    let mut c = w.project.cmd(args);
    if matches!(args.first(), Some(&"plan" | &"deploy")) {
        c.args(&["--time-scale", &time_scale.to_string()]);
    }
    c.env(FLEET_SECRET_ENV, &w.secret);
    c.env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    c
}

/// `tenantform deploy --yes ARGS` started in the background, its stderr kept in `log`.
fn spawn_deploy(
    w: &World,
    dir: &Path,
    args: &[&str],
    time_scale: f64,
    log: &Path,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tenantform"))
        .args(["--today", "2026-11-26", "deploy", "--yes", "--project"])
        .arg(dir)
        .args(["--time-scale", &time_scale.to_string()])
        .args(args)
        .env(FLEET_SECRET_ENV, &w.secret)
        .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn tenantform")
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Wait (at most `limit`) until `done` says so.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The journals of every run in a working copy, as text.
fn local_journals(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.join(".tenantform/runs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        text.push_str(
            &std::fs::read_to_string(entry.path().join("journal.jsonl")).unwrap_or_default(),
        );
    }
    text
}

/// The ids of every managed collection object in tenant `index` of the simulator.
fn object_ids(w: &World, index: usize) -> BTreeSet<String> {
    let objects = w.objects(index);
    let mut ids = BTreeSet::new();
    for kind in tenantform::kinds::all() {
        if kind.shape != tenantform::kinds::Shape::Collection {
            continue;
        }
        for item in objects
            .get(kind.name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

/// A lock record as another runner would have written it.
fn foreign_lock(tenant: &str, host: &str, expires: &str) -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "tenant": tenant,
        "command": "deploy",
        "run_id": "20261126T000000Z-dead",
        "host": host,
        "pid": 4242,
        "since": "2026-11-26T00:00:00Z",
        "renewed": "2026-11-26T00:00:00Z",
        "expires": expires,
    }))
    .expect("json")
}

/// Two deploys started at once on tenants {0,1} and {1,2}: both finish, tenant 1 is created
/// by exactly one of them (the other waited for its lock, then found nothing to do), and no
/// object exists twice.
fn two_runs_at_once_deploy_each_tenant_once(remote: Option<(&Azurite, &str)>) {
    let scale = 4.0;
    let w = world(3, scale, remote.map(|(a, p)| (a, p, 60)));
    let dir = w.project.path().to_path_buf();
    let logs = tempfile::tempdir().expect("logs");
    let (t0, t1, t2) = (w.tenant(0), w.tenant(1), w.tenant(2));
    let mut a = spawn_deploy(
        &w,
        &dir,
        &["--tenant", &t0, "--tenant", &t1],
        scale,
        &logs.path().join("a"),
    );
    let mut b = spawn_deploy(
        &w,
        &dir,
        &["--tenant", &t1, "--tenant", &t2],
        scale,
        &logs.path().join("b"),
    );
    let (ra, rb) = (a.wait().expect("a"), b.wait().expect("b"));
    let (la, lb) = (
        std::fs::read_to_string(logs.path().join("a")).expect("log a"),
        std::fs::read_to_string(logs.path().join("b")).expect("log b"),
    );
    assert!(ra.success() && rb.success(), "A: {la}\nB: {lb}");
    assert!(
        format!("{la}{lb}").contains(&format!(
            "tenant {t1}: waiting for its lock, held by deploy run"
        )),
        "neither run waited for tenant 1's lock:\nA: {la}\nB: {lb}"
    );
    // Tenant 1's objects were created by one run only.
    let journals = local_journals(&dir);
    let runs_creating_t1 = std::fs::read_dir(dir.join(".tenantform/runs"))
        .expect("runs")
        .flatten()
        .filter(|run| {
            std::fs::read_to_string(run.path().join("journal.jsonl"))
                .unwrap_or_default()
                .lines()
                .any(|l| {
                    l.contains("\"action\":\"created\"")
                        && l.contains(&format!("\"tenant\":\"{t1}\""))
                })
        })
        .count();
    assert_eq!(runs_creating_t1, 1, "{journals}");
    w.converged_with(&mut cmd(&w, &["plan", "--detailed-exitcode"], scale));
    if let Some((az, prefix)) = remote {
        let store = az.store(prefix);
        let locks = block_on(store.list(layout::LOCKS)).expect("list");
        assert!(locks.is_empty(), "locks left behind: {locks:?}");
        for t in [&t0, &t1, &t2] {
            assert!(
                block_on(store.read(&layout::identity(t)))
                    .expect("read")
                    .is_some(),
                "no identity map of {t} in the store"
            );
        }
    } else {
        let left: Vec<_> = std::fs::read_dir(dir.join(".tenantform/locks"))
            .expect("locks dir")
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(left.is_empty(), "lock files left behind: {left:?}");
    }
}

#[test]
fn two_local_runs_at_once_on_overlapping_tenants_deploy_each_tenant_once() {
    two_runs_at_once_deploy_each_tenant_once(None);
}

#[test]
fn two_runs_at_once_with_state_in_azure_blob_deploy_each_tenant_once() {
    let Some(az) = Azurite::start() else { return };
    two_runs_at_once_deploy_each_tenant_once(Some((&az, "overlap")));
}

#[test]
fn a_held_local_lock_fails_its_tenant_fast_naming_the_holder_until_unlocked() {
    let scale = 20.0;
    let w = world(2, scale, None);
    let t0 = w.tenant(0);
    w.project.file(
        &format!(".tenantform/locks/{t0}.json"),
        foreign_lock(&t0, "ci-runner-7", "2999-01-01T00:00:00Z"),
    );
    cmd(&w, &["deploy", "--yes", "--lock-timeout", "0s"], scale)
        .run()
        .code(3)
        .stderr_has(&format!(
            "tenant {t0} is locked by deploy run 20261126T000000Z-dead on ci-runner-7 (pid 4242) since 2026-11-26T00:00:00Z"
        ))
        .stderr_has(&format!("tenantform state unlock {t0} --force"))
        .stderr_has("1 of 2 tenants converged");
    assert_eq!(
        object_ids(&w, 0).len(),
        0,
        "the locked tenant was written to"
    );
    assert!(
        !object_ids(&w, 1).is_empty(),
        "the other tenant was not deployed"
    );
    cmd(&w, &["state", "locks"], scale)
        .run()
        .success()
        .stdout_has(&format!(
            "{t0}: deploy run 20261126T000000Z-dead on ci-runner-7"
        ));
    cmd(&w, &["state", "unlock", &t0], scale)
        .run()
        .code(64)
        .stderr_has("--force");
    cmd(&w, &["state", "unlock", &t0, "--force"], scale)
        .run()
        .success()
        .stdout_has(&format!("removed the lock of tenant {t0}: it was held by deploy run 20261126T000000Z-dead on ci-runner-7"));
    cmd(&w, &["deploy", "--yes", "--lock-timeout", "0s"], scale)
        .run()
        .success();
    cmd(&w, &["state", "locks"], scale)
        .run()
        .success()
        .stdout_has("no tenant is locked");
}

#[test]
fn a_run_killed_holding_a_lock_leaves_it_until_its_lease_runs_out_or_it_is_unlocked() {
    let Some(az) = Azurite::start() else { return };
    let scale = 4.0;
    let prefix = "killed";
    let w = world(1, scale, Some((&az, prefix, 10)));
    let t0 = w.tenant(0);
    let store = az.store(prefix);
    let logs = tempfile::tempdir().expect("logs");
    let mut child = spawn_deploy(
        &w,
        w.project.path(),
        &[],
        scale,
        &logs.path().join("killed"),
    );
    wait_until(Duration::from_secs(60), "the run to take its lock", || {
        block_on(store.read(&layout::lock(&t0)))
            .expect("read")
            .is_some()
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    // As if the killed run had been on another runner (on this host, a dead pid frees it).
    let held = block_on(store.read(&layout::lock(&t0)))
        .expect("read")
        .expect("the killed run's lock is still there");
    let mut record: Value = serde_json::from_slice(&held.bytes).expect("lock record");
    record["host"] = "killed-runner".into();
    let run_id = record["run_id"].as_str().expect("run id").to_string();
    block_on(store.write(
        &layout::lock(&t0),
        serde_json::to_vec(&record).expect("json"),
    ))
    .expect("write");
    cmd(&w, &["deploy", "--yes", "--lock-timeout", "0s"], scale)
        .run()
        .code(3)
        .stderr_has(&format!(
            "tenant {t0} is locked by deploy run {run_id} on killed-runner (pid"
        ));
    cmd(&w, &["state", "locks"], scale)
        .run()
        .success()
        .stdout_has("killed-runner");
    // Nobody renews it: within its 10 s lease the next run takes it over.
    let started = Instant::now();
    cmd(&w, &["deploy", "--yes", "--lock-timeout", "60s"], scale)
        .run()
        .success()
        .stderr_has(&format!(
            "tenant {t0}: waiting for its lock, held by deploy run {run_id} on killed-runner"
        ));
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
    w.converged_with(&mut cmd(&w, &["plan", "--detailed-exitcode"], scale));
    // A live holder elsewhere: only `state unlock --force` frees it.
    block_on(store.write(
        &layout::lock(&t0),
        foreign_lock(&t0, "other-runner", "2999-01-01T00:00:00Z"),
    ))
    .expect("write");
    cmd(&w, &["deploy", "--yes", "--lock-timeout", "1s"], scale)
        .run()
        .code(3)
        .stderr_has("on other-runner (pid 4242)")
        .stderr_has("(waited 1s)");
    cmd(&w, &["state", "unlock", &t0, "--force"], scale)
        .run()
        .success()
        .stdout_has("other-runner");
    cmd(&w, &["deploy", "--yes", "--lock-timeout", "0s"], scale)
        .run()
        .success();
}

#[test]
fn a_run_is_resumed_from_another_working_directory_through_the_published_journal() {
    let Some(az) = Azurite::start() else { return };
    let scale = 4.0;
    let prefix = "resume";
    let w = world(3, scale, Some((&az, prefix, 60)));
    let store = az.store(prefix);
    let logs = tempfile::tempdir().expect("logs");
    let mut child = spawn_deploy(
        &w,
        w.project.path(),
        &["--concurrency", "1"],
        scale,
        &logs.path().join("first"),
    );
    let published = |store: &StateStore| -> String {
        let runs = block_on(tenantform::state::run::list_runs(store)).expect("runs");
        runs.first()
            .and_then(|run| {
                block_on(tenantform::state::run::read_published_journal(store, run))
                    .expect("journal")
            })
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    wait_until(
        Duration::from_secs(90),
        "a tenant to finish and be published",
        || published(&store).contains("\"event\":\"tenant_finished\""),
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let runs = block_on(tenantform::state::run::list_runs(&store)).expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_id = runs[0].clone();
    assert!(
        !published(&store).contains("run_finished"),
        "the run finished before the kill"
    );

    // Another machine: the project without .tenantform.
    let other = Project::empty();
    for rel in ["tenantform.toml", "tenants/fleet.toml"] {
        other.file(rel, w.project.read(rel));
    }
    let mut resume = other.cmd(&[
        "deploy",
        "--yes",
        "--time-scale",
        &scale.to_string(),
        "--resume",
        &run_id,
    ]);
    resume
        .env(FLEET_SECRET_ENV, &w.secret)
        .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    resume
        .run()
        .success()
        .stderr_has(&format!(
            "state: run {run_id} read from {}/tfstate/{prefix}",
            az.endpoint()
        ))
        .stderr_has("converged");
    // The tenant in flight at the kill is finished without a duplicate (its identity log died
    // with the first machine: objects were adopted by their match keys).
    w.assert_no_duplicates();
    let mut plan = other.cmd(&[
        "plan",
        "--detailed-exitcode",
        "--time-scale",
        &scale.to_string(),
    ]);
    plan.env(FLEET_SECRET_ENV, &w.secret)
        .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    plan.run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
    let mut show = other.cmd(&["runs", "show", &run_id]);
    show.run()
        .success()
        .stdout_has("hash chain verified")
        .stdout_has("status    finished");
    // The store's journal is the whole run, as the second machine finished it.
    let local = std::fs::read_to_string(
        other
            .path()
            .join(format!(".tenantform/runs/{run_id}/journal.jsonl")),
    )
    .expect("journal");
    assert_eq!(published(&store), local);
}

#[test]
fn storage_down_mid_run_stops_the_run_with_every_write_recorded_and_published_later() {
    let Some(mut az) = Azurite::start() else {
        return;
    };
    let scale = 4.0;
    let prefix = "outage";
    let w = world(4, scale, Some((&az, prefix, 60)));
    let store = az.store(prefix);
    let before: Vec<BTreeSet<String>> = (0..4).map(|i| object_ids(&w, i)).collect();
    let logs = tempfile::tempdir().expect("logs");
    let log = logs.path().join("outage");
    let mut child = spawn_deploy(&w, w.project.path(), &["--concurrency", "1"], scale, &log);
    wait_until(Duration::from_secs(90), "a tenant to be published", || {
        block_on(store.list("runs/"))
            .map(|l| !l.is_empty())
            .unwrap_or(false)
    });
    az.stop();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run did not stop"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = std::fs::read_to_string(&log).expect("log");
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the state store failed"), "{stderr}");
    assert!(stderr.contains("did not answer"), "{stderr}");
    assert!(stderr.contains(".tenantform/unpublished"), "{stderr}");
    assert!(!stderr.contains(azurite::KEY), "the key leaked: {stderr}");
    let journal = local_journals(w.project.path());
    // Not every tenant was started after the outage.
    let finished = journal.matches("\"event\":\"tenant_finished\"").count();
    assert!(
        finished < 4,
        "every tenant ran despite the outage: {stderr}"
    );
    // Every object the run created in Graph is in the local journal.
    for (i, seen) in before.iter().enumerate() {
        for id in object_ids(&w, i).difference(seen) {
            assert!(
                journal.contains(id.as_str()),
                "object {id} of tenant {i} is not recorded"
            );
        }
    }
    assert!(w.project.path().join(".tenantform/unpublished").is_file());

    // Storage is back: the next run from this directory publishes what was missing first.
    az.resume();
    cmd(&w, &["deploy", "--yes"], scale)
        .run()
        .success()
        .stderr_has("converged");
    assert!(!w.project.path().join(".tenantform/unpublished").exists());
    let runs = block_on(tenantform::state::run::list_runs(&store)).expect("runs");
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        let remote = block_on(tenantform::state::run::read_published_journal(&store, run))
            .expect("read")
            .expect("published");
        let local = std::fs::read(
            w.project
                .path()
                .join(format!(".tenantform/runs/{run}/journal.jsonl")),
        )
        .expect("local");
        assert_eq!(
            remote, local,
            "run {run}: the store's journal differs from the local one"
        );
    }
    w.converged_with(&mut cmd(&w, &["plan", "--detailed-exitcode"], scale));
}

#[test]
fn state_settings_errors_point_at_the_key() {
    let p = Project::init();
    let toml = p.read("tenantform.toml");
    p.file(
        "tenantform.toml",
        toml.clone()
            + "\n[state]\nbackend = \"azure-blob\"\naccount = \"tfstate\"\ncontainer = \"state\"\naccount_key = \"c2VjcmV0\"\n",
    );
    let out: Output = p.cmd(&["validate"]).run().code(1);
    let line = toml.lines().count() + 6;
    out.stderr_has(&format!("tenantform.toml:{line}:1"))
        .stderr_has("`account_key` in [state] would put a credential in tenantform.toml")
        .stderr_has("AZURE_STORAGE_ACCOUNT_KEY")
        .stderr_lacks("c2VjcmV0");
    p.file(
        "tenantform.toml",
        toml.clone() + "\n[state]\nbackend = \"s3\"\n",
    );
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("unknown state backend `s3`")
        .stderr_has("one of \"local\" or \"azure-blob\"");
    p.file(
        "tenantform.toml",
        toml.clone()
            + "\n[state]\nbackend = \"azure-blob\"\ncontainer = \"state\"\nlease_seconds = 2\n",
    );
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("[state] is missing the required key `account`")
        .stderr_has("`lease_seconds` in [state] must be a whole number of seconds from 5 to 3600");
    // Valid, but no credential in the environment: deploy says which variables to set.
    p.file(
        "tenantform.toml",
        toml + "\n[state]\nbackend = \"azure-blob\"\naccount = \"tfstate\"\ncontainer = \"state\"\n",
    );
    let mut deploy = p.cmd(&["deploy", "--yes"]);
    for name in [
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_CLIENT_ID",
        "AZURE_STORAGE_CLIENT_ID",
    ] {
        deploy.env_remove(name);
    }
    deploy
        .run()
        .code(1)
        .stderr_has("no credential for the Azure Blob state backend")
        .stderr_has("AZURE_STORAGE_SAS_TOKEN");
}

#[test]
fn shards_on_separate_runners_publish_their_journals_and_report_merges_them() {
    let Some(az) = Azurite::start() else { return };
    let scale = 20.0;
    let prefix = "shards";
    let w = world(6, scale, Some((&az, prefix, 60)));
    let store = az.store(prefix);
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    for k in 1..=3 {
        // Each shard on a fresh runner: the project's files, no .tenantform.
        let runner = Project::empty();
        for rel in ["tenantform.toml", "tenants/fleet.toml"] {
            runner.file(rel, w.project.read(rel));
        }
        let before: BTreeSet<String> = block_on(tenantform::state::run::list_runs(&store))
            .expect("runs")
            .into_iter()
            .collect();
        let mut deploy = runner.cmd(&[
            "deploy",
            "--yes",
            "--time-scale",
            &scale.to_string(),
            "--shard",
            &format!("{k}/3"),
        ]);
        deploy
            .env(FLEET_SECRET_ENV, &w.secret)
            .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
        let out = deploy.run();
        assert!(out.code == 0, "shard {k}: {}", out.stderr);
        if out.stderr.contains("no tenant selected") {
            continue;
        }
        let after = block_on(tenantform::state::run::list_runs(&store)).expect("runs");
        let new: Vec<&String> = after.iter().filter(|r| !before.contains(*r)).collect();
        assert_eq!(new.len(), 1, "shard {k} published one run: {new:?}");
        let journal = block_on(tenantform::state::run::read_published_journal(
            &store, new[0],
        ))
        .expect("read")
        .expect("published");
        let first: Value = serde_json::from_str(
            String::from_utf8_lossy(&journal)
                .lines()
                .next()
                .expect("a record"),
        )
        .expect("json");
        for t in first["tenants"].as_array().expect("run_started tenants") {
            let previous = owner.insert(t.as_str().expect("id").to_string(), new[0].clone());
            assert!(previous.is_none(), "tenant {t} in two shards");
        }
    }
    assert_eq!(owner.len(), 6, "every tenant in some shard: {owner:?}");
    // The reporting job: every shard's journal from the store, one dashboard.
    let reporter = Project::empty();
    reporter.file("tenantform.toml", w.project.read("tenantform.toml"));
    reporter.file("tenants/fleet.toml", w.project.read("tenants/fleet.toml"));
    let journals = reporter.path().join("journals");
    let mut pull = reporter.cmd(&[
        "state",
        "pull",
        "--all",
        "--to",
        journals.to_str().expect("utf-8"),
    ]);
    pull.env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    let pulled = pull.run().success();
    for run in owner.values() {
        assert!(
            pulled.stdout.contains(&format!("run {run}: ")),
            "{}",
            pulled.stdout
        );
    }
    let site = reporter.path().join("site");
    let mut report = reporter.cmd(&[
        "report",
        "--out",
        site.to_str().expect("utf-8"),
        "--journals",
        journals.to_str().expect("utf-8"),
    ]);
    report.env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    report.run().success();
    for (tenant, run) in &owner {
        let page = std::fs::read_to_string(site.join(format!("tenants/{tenant}.html")))
            .expect("tenant page");
        assert!(page.contains("in sync"), "{tenant}: {page}");
        assert!(
            page.contains(run.as_str()),
            "{tenant} names its shard's run {run}"
        );
    }
    // A run the store does not have is named.
    let mut missing = reporter.cmd(&["state", "pull", "no-such-run"]);
    missing.env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    missing.run().code(1).stderr_has("no run no-such-run in");
}

/// `tenantform ARGS --time-scale S` on a fresh working copy of the world's project (another
/// runner: no `.tenantform/`), with the fleet secret and the storage key.
fn elsewhere(w: &World, args: &[&str], time_scale: f64) -> Output {
    let other = Project::empty();
    for rel in ["tenantform.toml", "tenants/fleet.toml"] {
        other.file(rel, w.project.read(rel));
    }
    let mut c = other.cmd(args);
    c.args(&["--time-scale", &time_scale.to_string()])
        .env(FLEET_SECRET_ENV, &w.secret)
        .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY);
    c.run()
}

#[test]
fn before_images_are_one_blob_per_tenant_and_runs_of_either_form_roll_back_and_resume() {
    let Some(az) = Azurite::start() else { return };
    let scale = 20.0;
    let prefix = "before";
    let w = world(2, scale, Some((&az, prefix, 60)));
    let store = az.store(prefix);
    let (t0, t1) = (w.tenant(0), w.tenant(1));
    let (v1_policies, _) = crate::rollback::two_tenants_v1_then_v2(&w, |args| {
        let mut all = vec!["deploy", "--yes"];
        all.extend_from_slice(args);
        cmd(&w, &all, scale).run().success();
    });
    let run = block_on(tenantform::state::run::list_runs(&store))
        .expect("runs")
        .pop()
        .expect("a run");
    // One blob per tenant holds the run's before-images of it.
    let listed = block_on(store.list(&layout::befores(&run))).expect("list");
    let keys: Vec<&str> = listed.iter().map(|l| l.key.as_str()).collect();
    let mut expected = vec![
        layout::before_images(&run, &t0),
        layout::before_images(&run, &t1),
    ];
    expected.sort();
    assert_eq!(keys, expected);

    // Tenant 1's images as an older version published them: a blob per object.
    let document = block_on(store.read(&layout::before_images(&run, &t1)))
        .expect("read")
        .expect("tenant 1's document");
    let files = crate::rollback::as_per_object_files(&document.bytes, "ca-block-legacy-auth");
    assert_eq!(files.len(), 2, "an update and a delete");
    block_on(store.delete(&layout::before_images(&run, &t1))).expect("delete");
    for (name, bytes) in files {
        let key = format!("{}{name}", layout::before_per_object(&run, &t1));
        block_on(store.write(&key, bytes)).expect("write");
    }

    // Rolled back from another runner, from both forms.
    elsewhere(&w, &["rollback", &run, "--yes"], scale)
        .success()
        .stderr_has("before-images of 2 tenants")
        .stderr_has("2 of 2 tenants rolled back");
    assert_eq!(crate::rollback::policies_of(&w, 0), v1_policies[0]);
    assert_eq!(
        crate::rollback::policy_state(&w, 1, "legacy"),
        "disabled",
        "tenant 1 rolled back from its per-object blob"
    );

    // The run's journal in the store cut after run_started (killed before any tenant began),
    // then resumed from a third runner: the objects it changes again are imaged already, in
    // one form or the other, and keep their first images.
    let journal = block_on(tenantform::state::run::read_published_journal(&store, &run))
        .expect("journal")
        .expect("published");
    for segment in block_on(store.list(&layout::journal_segments(&run))).expect("segments") {
        block_on(store.delete(&segment.key)).expect("delete");
    }
    let cut = crate::rollback::cut_after_run_started(&String::from_utf8_lossy(&journal));
    block_on(store.write(&layout::journal_segment(&run, 0), cut.into_bytes())).expect("cut");
    let document_0 = block_on(store.read(&layout::before_images(&run, &t0)))
        .expect("read")
        .expect("tenant 0's document");
    elsewhere(&w, &["deploy", "--yes", "--prune", "--resume", &run], scale)
        .success()
        .stderr_has("converged");
    let after = block_on(store.read(&layout::before_images(&run, &t0)))
        .expect("read")
        .expect("tenant 0's document");
    assert_eq!(
        after.bytes, document_0.bytes,
        "tenant 0's first images kept"
    );
    assert!(
        block_on(store.read(&layout::before_images(&run, &t1)))
            .expect("read")
            .is_none(),
        "tenant 1's objects are imaged in the older form already"
    );
    elsewhere(&w, &["rollback", &run, "--yes"], scale)
        .success()
        .stderr_has("2 of 2 tenants rolled back");
    assert_eq!(crate::rollback::policies_of(&w, 0), v1_policies[0]);
    assert_eq!(crate::rollback::policy_state(&w, 1, "legacy"), "disabled");
}

#[test]
fn an_identity_map_a_deploy_did_not_change_is_not_written_to_the_store_again() {
    let Some(az) = Azurite::start() else { return };
    let scale = 20.0;
    let prefix = "unchanged";
    let w = world(1, scale, Some((&az, prefix, 60)));
    let store = az.store(prefix);
    let key = layout::identity(&w.tenant(0));
    let map = || {
        block_on(store.read(&key))
            .expect("read")
            .expect("the identity map in the store")
    };
    cmd(&w, &["deploy", "--yes"], scale).run().success();
    let first = map();
    // Nothing to change, from this working copy and from another runner's: the blob is not
    // written again (its ETag stays).
    cmd(&w, &["deploy", "--yes"], scale).run().success();
    assert_eq!(map().version, first.version, "written again from here");
    elsewhere(&w, &["deploy", "--yes"], scale)
        .success()
        .stderr_has("converged");
    assert_eq!(map().version, first.version, "written again from elsewhere");
    // A deploy that changes the map (an object deleted with --prune) writes it.
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-mfa-guests\"\nskip = true\nreason = \"test\"\n"
        ),
    );
    elsewhere(&w, &["deploy", "--yes", "--prune"], scale).success();
    let changed = map();
    assert_ne!(
        changed.version, first.version,
        "the changed map was not published"
    );
    let text = String::from_utf8_lossy(&changed.bytes);
    assert!(!text.contains("ca-mfa-guests"), "{text}");
    assert!(String::from_utf8_lossy(&first.bytes).contains("ca-mfa-guests"));
}

#[test]
fn before_images_that_cannot_be_read_are_named_when_a_run_is_fetched_and_not_overwritten() {
    let Some(az) = Azurite::start() else { return };
    let store = az.store("unreadable");
    let run = "20261126T000000Z-beef";
    let key = layout::before_images(run, "t1");
    block_on(store.write(
        &layout::journal_segment(run, 0),
        b"{\"event\":\"run_started\"}\n".to_vec(),
    ))
    .expect("journal");
    block_on(store.write(&key, b"{ not before-images".to_vec())).expect("write");
    let dir = tempfile::tempdir().expect("dir");
    let work = tenantform::state::LocalStore::at(dir.path());
    let e = block_on(tenantform::state::run::fetch_run_into(&store, &work, run))
        .expect_err("unreadable in the store");
    let text = e.to_string();
    assert!(
        text.contains(&key)
            && text.contains("/tfstate/unreadable")
            && text.contains("nothing was overwritten"),
        "{text}"
    );
    assert!(
        !dir.path().join(&key).exists(),
        "nothing written to the working copy"
    );

    // The store's document is good; the working copy's (of another size) is not: named too,
    // and left as it was.
    let good = tenantform::state::before::BeforeImages::new("t1").to_bytes();
    block_on(store.write(&key, good)).expect("write");
    std::fs::create_dir_all(dir.path().join(format!("runs/{run}/before"))).expect("dir");
    std::fs::write(dir.path().join(&key), "[]").expect("write");
    let e = block_on(tenantform::state::run::fetch_run_into(&store, &work, run))
        .expect_err("unreadable in the working copy");
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&key)).expect("read"),
        "[]"
    );
}
