//! `tenantform drift` end to end against the in-process simulator: no false drift right after
//! a deploy of the shipped baselines; a portal change is modified drift naming the admin who
//! made it; a deleted object is missing; an object no baseline declares is unmanaged; an
//! override accepts a difference until it expires; formats and exit codes.

use serde_json::{Value, json};

use crate::deploy::{World, config};

fn identity_id(w: &World, index: usize, key: &str) -> String {
    let path = w
        .project
        .path()
        .join(format!(".tenantform/state/{}.json", w.tenant(index)));
    let map: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("identity map")).expect("json");
    map["objects"][key]
        .as_str()
        .expect("managed id")
        .to_string()
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

/// An administrator sets a managed Conditional Access policy's state in the portal of tenant
/// 0 (as `user`, or the tenant's administrator); its object id.
fn set_policy_state_in_portal(w: &World, key: &str, state: &str, user: Option<&str>) -> String {
    let id = identity_id(w, 0, key);
    let mut change = json!({
        "method": "PATCH",
        "path": format!("/v1.0/identity/conditionalAccess/policies/{id}"),
        "body": {"state": state},
    });
    if let Some(user) = user {
        change["user"] = json!(user);
    }
    portal(w, 0, change);
    id
}

#[test]
fn drift_after_a_deploy_of_the_shipped_baselines_finds_nothing() {
    let w = World::new(config(2));
    w.deploy(&[]).success();
    let out = w.cmd(&["drift"]).run().code(0);
    assert!(
        out.stdout.contains("0 drifted, 2 in sync"),
        "{}",
        out.stdout
    );
    let json = w.cmd(&["drift", "--format", "json"]).run().code(0).json();
    for t in json["tenants"].as_array().expect("tenants") {
        assert_eq!(t["status"], "in-sync", "{t:#}");
        let findings: Vec<&Value> = t["items"].as_array().expect("items").iter().collect();
        assert!(findings.is_empty(), "{findings:#?}");
    }
}

#[test]
fn a_portal_change_is_drift_that_names_the_admin_and_deploy_puts_it_back() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let id = set_policy_state_in_portal(
        &w,
        "ca-block-legacy-auth",
        "disabled",
        Some("night.admin@contoso.example"),
    );
    let out = w.cmd(&["drift"]).run().code(2);
    assert!(out.stdout.contains("DRIFTED"), "{}", out.stdout);
    assert!(
        out.stdout.contains("ca-block-legacy-auth"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("/state: \"enabled\" -> \"disabled\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("changed by night.admin@contoso.example"),
        "{}",
        out.stdout
    );
    let json = w.cmd(&["drift", "--format", "json"]).run().code(2).json();
    let item = json["tenants"][0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["key"] == "ca-block-legacy-auth")
        .cloned()
        .expect("finding");
    assert_eq!(item["state"], "modified");
    assert_eq!(item["object_id"], id.as_str());
    assert_eq!(item["changed_by"]["actor"], "night.admin@contoso.example");
    assert_eq!(item["changed_by"]["is_self"], false);
    assert_eq!(
        item["changed_by"]["activity"],
        "Update Conditional Access policy"
    );
    // deploy restores the baseline; drift is clean again.
    w.deploy(&[]).success();
    w.cmd(&["drift"]).run().code(0);
}

#[test]
fn a_deleted_object_is_missing_and_a_hand_made_one_unmanaged() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let location = identity_id(&w, 0, "trusted-offices");
    portal(
        &w,
        0,
        json!({
            "method": "DELETE",
            "path": format!("/v1.0/identity/conditionalAccess/namedLocations/{location}"),
        }),
    );
    portal(
        &w,
        0,
        json!({
            "method": "POST",
            "path": "/v1.0/identity/conditionalAccess/policies",
            "body": {
                "displayName": "Made by hand in the portal",
                "state": "disabled",
                "conditions": {
                    "users": {"includeUsers": ["None"]},
                    "applications": {"includeApplications": ["All"]},
                    "clientAppTypes": ["all"]
                },
                "grantControls": {"operator": "OR", "builtInControls": ["block"]}
            },
        }),
    );
    let json = w.cmd(&["drift", "--format", "json"]).run().code(2).json();
    let items = json["tenants"][0]["items"]
        .as_array()
        .expect("items")
        .clone();
    let missing = items
        .iter()
        .find(|i| i["key"] == "trusted-offices")
        .expect("missing finding");
    assert_eq!(missing["state"], "missing");
    assert!(
        missing["changed_by"]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("admin@")),
        "{missing:#}"
    );
    let unmanaged = items
        .iter()
        .find(|i| i["state"] == "unmanaged")
        .expect("unmanaged finding");
    assert_eq!(unmanaged["display_name"], "Made by hand in the portal");
    let md = w.cmd(&["drift", "--format", "markdown"]).run().code(2);
    assert!(md.stdout.contains("| **drifted** |"), "{}", md.stdout);
    assert!(md.stdout.contains("<details>"), "{}", md.stdout);
}

#[test]
fn an_override_accepts_drift_until_it_expires() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    set_policy_state_in_portal(
        &w,
        "ca-block-legacy-auth",
        "enabledForReportingButNotEnforced",
        None,
    );
    let fleet = w.project.read("tenants/fleet.toml");
    let accepting = |expires: &str| {
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-block-legacy-auth\"\naccept_drift = [\"/state\"]\nreason = \"legacy mail gateway until migration\"\nexpires = {expires}\n"
        )
    };
    w.project
        .file("tenants/fleet.toml", accepting("2999-01-01"));
    let out = w.cmd(&["drift"]).run().code(0);
    assert!(
        out.stdout
            .contains("accepted: legacy mail gateway until migration (until 2999-01-01)"),
        "{}",
        out.stdout
    );
    w.project
        .file("tenants/fleet.toml", accepting("2020-01-01"));
    w.cmd(&["drift"]).run().code(2);
}

#[test]
fn accept_drift_takes_json_pointers() {
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-block-legacy-auth\"\naccept_drift = [\"state\"]\nreason = \"r\"\n"
        ),
    );
    let out = w.cmd(&["drift"]).run().code(1);
    assert!(
        out.stderr.contains("`accept_drift` takes JSON pointers"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("fleet.toml:"), "{}", out.stderr);
}

#[test]
fn an_unreadable_tenant_is_exit_3_not_drift() {
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        fleet.replace(&w.sim.handle.base_url(), "http://127.0.0.1:9"),
    );
    let out = w.cmd(&["drift"]).run().code(3);
    assert!(out.stdout.contains("NOT READ"), "{}", out.stdout);
}

/// A loopback webhook: answers each request with the next status of `statuses` (200 after
/// them) and hands back every body it received.
fn receiver(statuses: Vec<u16>) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/hooks/T000/B000/WEBHOOKTOKEN",
        listener.local_addr().expect("addr")
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            // Read the head, then the body by its Content-Length.
            let body = loop {
                let Ok(n) = stream.read(&mut buf) else { return };
                if n == 0 {
                    return;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        break String::from_utf8_lossy(&data[end + 4..end + 4 + length])
                            .to_string();
                    }
                }
            };
            let status = statuses.next().unwrap_or(200);
            let _ = tx.send(body);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    (url, rx)
}

#[test]
fn notify_posts_the_drift_to_a_webhook_retrying_a_failure_and_carrying_no_secret() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    set_policy_state_in_portal(&w, "ca-block-legacy-auth", "disabled", None);
    let (url, bodies) = receiver(vec![503]);
    let out = w.cmd(&["drift", "--notify", &url]).run().code(2);
    assert!(
        out.stderr.contains("drift: notified http://127.0.0.1:"),
        "{}",
        out.stderr
    );
    let first = bodies.recv().expect("first attempt");
    let second = bodies.recv().expect("retried after the 503");
    assert_eq!(first, second);
    let alert: Value = serde_json::from_str(&second).expect("json body");
    assert!(
        alert["text"]
            .as_str()
            .is_some_and(|t| t.contains("1 modified")),
        "{alert:#}"
    );
    assert_eq!(
        alert["tenantform"]["tenants"][0]["drifted"],
        json!(["ca-block-legacy-auth"])
    );
    assert!(
        !second.contains(&w.secret),
        "the client secret must never be posted"
    );
    assert!(!out.stderr.contains("WEBHOOKTOKEN"), "{}", out.stderr);
}

#[test]
fn a_webhook_that_is_down_is_a_warning_and_drift_keeps_its_exit_code() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let location = identity_id(&w, 0, "trusted-offices");
    portal(
        &w,
        0,
        json!({
            "method": "DELETE",
            "path": format!("/v1.0/identity/conditionalAccess/namedLocations/{location}"),
        }),
    );
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/hook/SECRETPATH",
        closed.local_addr().expect("addr")
    );
    drop(closed);
    let out = w.cmd(&["drift", "--notify", &url]).run().code(2);
    assert!(
        out.stderr
            .contains("warning: the webhook at http://127.0.0.1:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("could not connect"), "{}", out.stderr);
    assert!(!out.stderr.contains("SECRETPATH"), "{}", out.stderr);
}

#[test]
fn a_snapshot_is_one_file_per_object_and_taken_again_is_byte_identical() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let out = w.project.path().join("snap");
    let out_text = out.to_string_lossy().to_string();
    let first = w.cmd(&["snapshot", "--out", &out_text]).run().code(0);
    assert!(first.stdout.contains("objects in"), "{}", first.stdout);
    let tenant_dir = out.join(w.tenant(0));
    let policy = tenant_dir.join("conditionalAccessPolicy/ca-block-legacy-auth.json");
    let text = std::fs::read_to_string(&policy).expect("policy file");
    assert!(text.contains("\"displayName\""), "{text}");
    assert!(!text.contains("createdDateTime"), "{text}");
    assert!(tenant_dir.join("authorizationPolicy").is_dir());
    let read_all = |dir: &std::path::Path| {
        let mut files = std::collections::BTreeMap::new();
        for entry in walk(dir) {
            files.insert(
                entry.strip_prefix(dir).expect("inside").to_path_buf(),
                std::fs::read(&entry).expect("read"),
            );
        }
        files
    };
    let before = read_all(&tenant_dir);
    w.cmd(&["snapshot", "--out", &out_text]).run().code(0);
    assert_eq!(before, read_all(&tenant_dir), "a second snapshot differs");
    // A change shows as a change in exactly that file.
    set_policy_state_in_portal(&w, "ca-block-legacy-auth", "disabled", None);
    w.cmd(&["snapshot", "--out", &out_text]).run().code(0);
    let after = read_all(&tenant_dir);
    let changed: Vec<_> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path.clone())
        .collect();
    assert_eq!(
        changed,
        vec![std::path::PathBuf::from(
            "conditionalAccessPolicy/ca-block-legacy-auth.json"
        )]
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_snapshot_into_a_file_is_an_error_naming_it() {
    let w = World::new(config(1));
    w.project.file("not-a-dir", "x");
    let target = w.project.path().join("not-a-dir/snap");
    let out = w
        .cmd(&["snapshot", "--out", &target.to_string_lossy()])
        .run()
        .code(70);
    assert!(
        out.stderr.contains("cannot create the snapshot directory"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not-a-dir"), "{}", out.stderr);
}

#[test]
fn plan_says_drift_and_deploy_only_drifted_puts_back_only_that() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    // Drift: an admin disables one policy in the portal.
    set_policy_state_in_portal(&w, "ca-block-legacy-auth", "disabled", None);
    // A baseline change: this tenant now wants another policy's name changed.
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-mfa-all-users\"\nvars = {{ name = \"MFA for everyone (renamed)\" }}\nreason = \"naming convention\"\n"
        ),
    );
    let plan = w.cmd(&["plan"]).run().code(0);
    let line = |key: &str| {
        plan.stdout
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("ca-block-legacy-auth").contains("(drift: changed outside tenantform"),
        "{}",
        plan.stdout
    );
    assert!(
        !line("ca-mfa-all-users").contains("drift"),
        "{}",
        plan.stdout
    );
    w.cmd(&["deploy", "--yes", "--only-drifted"])
        .run()
        .success();
    let after = w.cmd(&["plan"]).run().code(0);
    assert!(
        !after.stdout.contains("ca-block-legacy-auth"),
        "{}",
        after.stdout
    );
    assert!(
        after.stdout.contains("ca-mfa-all-users"),
        "{}",
        after.stdout
    );
    // A full deploy then takes the baseline change, and nothing is left.
    w.deploy(&[]).success();
    w.cmd(&["plan", "--detailed-exitcode"]).run().code(0);
}

#[test]
fn the_dashboard_flags_a_drifted_tenant_with_its_diff_and_who_changed_it() {
    let w = World::new(config(2));
    w.deploy(&[]).success();
    set_policy_state_in_portal(
        &w,
        "ca-block-legacy-auth",
        "disabled",
        Some("night.admin@contoso.example"),
    );
    let results = w.project.path().join("drift.json");
    let results_text = results.to_string_lossy().to_string();
    w.cmd(&["drift", "--format", "json", "--out", &results_text])
        .run()
        .code(2);
    let site = w.project.path().join("site");
    w.project
        .cmd(&[
            "report",
            "--from",
            &results_text,
            "--out",
            &site.to_string_lossy(),
        ])
        .run()
        .success();
    let index = std::fs::read_to_string(site.join("index.html")).expect("index");
    assert!(index.contains("DRIFTED"), "the overview names the state");
    let page = std::fs::read_to_string(site.join(format!("tenants/{}.html", w.tenant(0))))
        .expect("tenant page");
    assert!(page.contains("<h2 id=\"drift\">Drift</h2>"), "{page}");
    assert!(
        page.contains("/state: &quot;enabled&quot; -&gt; &quot;disabled&quot;"),
        "{page}"
    );
    assert!(
        page.contains("changed by night.admin@contoso.example"),
        "{page}"
    );
    // The other tenant was read in sync: not drifted.
    let other = std::fs::read_to_string(site.join(format!("tenants/{}.html", w.tenant(1))))
        .expect("tenant page");
    assert!(
        other.contains("None: the tenant is as its baselines say."),
        "{other}"
    );

    // In a real browser: the drifted filter leaves the drifted tenant alone, and its page, as
    // rendered, shows the change and who made it, without console errors.
    let Some(chromium) = crate::report::chromium() else {
        return;
    };
    let profile = tempfile::tempdir().expect("profile");
    let index = format!("file://{}", site.join("index.html").display());
    let (dom, stderr) = crate::report::headless(
        &chromium,
        profile.path(),
        &["--dump-dom"],
        &format!("{index}?state=drifted"),
    );
    assert!(
        crate::report::console_errors(&stderr).is_empty(),
        "{stderr}"
    );
    assert!(dom.contains("1 of 2 tenants on this page shown"), "{dom}");
    let page = format!(
        "file://{}",
        site.join(format!("tenants/{}.html", w.tenant(0))).display()
    );
    let (dom, stderr) = crate::report::headless(&chromium, profile.path(), &["--dump-dom"], &page);
    assert!(
        crate::report::console_errors(&stderr).is_empty(),
        "{stderr}"
    );
    assert!(
        dom.contains("changed by night.admin@contoso.example"),
        "{dom}"
    );
}

#[test]
fn report_merges_three_shards_journals_and_covers_every_tenant_exactly_once() {
    let w = World::new(config(6));
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    let mut artifacts = Vec::new();
    for k in 1..=3 {
        w.deploy(&["--shard", &format!("{k}/3")]).success();
        // Each shard ran on its own runner: its journal leaves as an artifact.
        let runs = w.project.path().join(".tenantform/runs");
        if !runs.exists() {
            continue; // a shard that got no tenant writes no journal
        }
        let artifact = w
            .project
            .path()
            .join(format!("artifacts/journal-shard-{k}"));
        std::fs::create_dir_all(artifact.parent().expect("parent")).expect("mkdir");
        std::fs::rename(&runs, &artifact).expect("move the shard's journals");
        for run in std::fs::read_dir(&artifact)
            .expect("runs")
            .filter_map(Result::ok)
        {
            let journal =
                std::fs::read_to_string(run.path().join("journal.jsonl")).expect("journal");
            let first: Value =
                serde_json::from_str(journal.lines().next().expect("a record")).expect("json");
            for t in first["tenants"].as_array().expect("RunStarted tenants") {
                let previous = owner.insert(
                    t.as_str().expect("id").to_string(),
                    run.file_name().to_string_lossy().to_string(),
                );
                assert!(previous.is_none(), "tenant {t} in two shards");
            }
        }
        artifacts.push(artifact.to_string_lossy().to_string());
    }
    assert_eq!(owner.len(), 6, "every tenant in some shard: {owner:?}");
    let site = w.project.path().join("site");
    let mut args = vec![
        "report",
        "--out",
        site.to_str().expect("utf-8"),
        "--journals",
    ];
    args.extend(artifacts.iter().map(String::as_str));
    w.project.cmd(&args).run().success();
    for (tenant, run) in &owner {
        let page = std::fs::read_to_string(site.join(format!("tenants/{tenant}.html")))
            .expect("tenant page");
        assert!(page.contains("in sync"), "{tenant}: {page}");
        assert!(
            page.contains(run.as_str()),
            "{tenant} names its shard's run {run}"
        );
    }
    // A --journals that is not a directory is an error naming it.
    let out = w
        .project
        .cmd(&[
            "report",
            "--out",
            site.to_str().expect("utf-8"),
            "--journals",
            "nowhere",
        ])
        .run()
        .code(1);
    assert!(out.stderr.contains("--journals nowhere"), "{}", out.stderr);
}

#[test]
fn a_change_the_audit_log_has_not_ingested_yet_is_said_so_not_guessed() {
    // An hour of ingestion delay (3 minutes at --time-scale 20): the portal change is drift,
    // and its entry is not in the log yet.
    let w = World::new(tenantform::sim::SimConfig {
        audit_delay: std::time::Duration::from_secs(3600),
        ..config(1)
    });
    w.deploy(&[]).success();
    set_policy_state_in_portal(&w, "ca-block-legacy-auth", "disabled", None);
    let out = w.cmd(&["drift"]).run().code(2);
    assert!(
        out.stdout.contains("the audit log does not say yet"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("admin@"), "{}", out.stdout);
}
