//! Plan and deploy end to end: the real binary against an in-process simulator with Graph's
//! throttling on (time-scaled so a tenant takes about a second), for every shipped baseline,
//! under faults, killed and resumed, with missing permissions, foreign tokens, plain http and a
//! canary secret.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantform::sim::faults::FaultMix;
use tenantform::sim::{FLEET_SECRET_ENV, SimConfig};

use crate::harness::{Cmd, Output, Project, tenantform};
use crate::sim_support::Sim;

/// Throttling windows are this many times shorter (simulator and client alike).
pub(crate) const SCALE: &str = "20";

pub(crate) struct World {
    pub(crate) sim: Sim,
    pub(crate) project: Project,
    pub(crate) secret: String,
}

pub(crate) fn config(tenants: usize) -> SimConfig {
    SimConfig {
        tenants,
        time_scale: SCALE.parse().expect("scale"),
        ..SimConfig::default()
    }
}

impl World {
    /// A simulator and a project on the shipped baselines with its tenants.
    pub(crate) fn new(config: SimConfig) -> World {
        let secret = config.client_secret.clone();
        let sim = Sim::with(config);
        let project = Project::init();
        for name in ["contoso", "fabrikam", "northwind"] {
            std::fs::remove_file(project.path().join(format!("tenants/{name}.toml")))
                .expect("remove example tenant");
        }
        project.file("tenants/fleet.toml", sim.handle.fleet_tenants_toml());
        World {
            sim,
            project,
            secret,
        }
    }

    pub(crate) fn tenant(&self, index: usize) -> String {
        self.sim.handle.tenants()[index].id.clone()
    }

    /// `tenantform <args> --project DIR --time-scale S` with the fleet's secret.
    pub(crate) fn cmd(&self, args: &[&str]) -> Cmd {
        let mut c = self.project.cmd(args);
        if matches!(
            args.first(),
            Some(&"plan" | &"deploy" | &"drift" | &"snapshot" | &"export" | &"evidence")
        ) {
            c.args(&["--time-scale", SCALE]);
        }
        c.env(FLEET_SECRET_ENV, &self.secret);
        c
    }

    pub(crate) fn deploy(&self, extra: &[&str]) -> Output {
        let mut args = vec!["deploy", "--yes"];
        args.extend_from_slice(extra);
        self.cmd(&args).run()
    }

    fn plan(&self) -> Output {
        self.cmd(&["plan", "--detailed-exitcode"]).run()
    }

    pub(crate) fn objects(&self, index: usize) -> Value {
        self.sim
            .handle
            .tenant_state(&self.tenant(index))
            .expect("tenant")["objects"]
            .clone()
    }

    /// Every collection object of every tenant is unique by its kind's match key.
    pub(crate) fn assert_no_duplicates(&self) {
        for (i, _) in self.sim.handle.tenants().iter().enumerate() {
            let objects = self.objects(i);
            for kind in tenantform::kinds::all() {
                if kind.match_key.is_empty() || kind.shape != tenantform::kinds::Shape::Collection {
                    continue;
                }
                let Some(items) = objects.get(kind.name).and_then(Value::as_array) else {
                    continue;
                };
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for item in items {
                    let key: Vec<String> = kind
                        .match_key
                        .iter()
                        .map(|k| item.get(*k).map(Value::to_string).unwrap_or_default())
                        .collect();
                    *seen.entry(key.join("|").to_lowercase()).or_default() += 1;
                }
                let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
                assert!(
                    dups.is_empty(),
                    "tenant {i} {}: duplicates {dups:?}",
                    kind.name
                );
            }
        }
    }

    /// `plan` (given as a command) finds nothing to do and no object exists twice.
    pub(crate) fn converged_with(&self, plan: &mut Cmd) {
        plan.run()
            .code(0)
            .stdout_has("0 to create, 0 to update, 0 to adopt");
        self.assert_no_duplicates();
    }

    fn runs(&self) -> Vec<PathBuf> {
        let dir = self.project.path().join(".tenantform/runs");
        let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        runs.sort();
        runs
    }

    fn journal_text(&self) -> String {
        self.runs()
            .iter()
            .map(|r| std::fs::read_to_string(r.join("journal.jsonl")).unwrap_or_default())
            .collect()
    }

    /// Objects of `kind` in tenant `index`.
    pub(crate) fn count_of(&self, index: usize, kind: &str) -> usize {
        self.count(index, kind)
    }

    /// Every run's journal, one record a line.
    pub(crate) fn journal(&self) -> String {
        self.journal_text()
    }

    fn count(&self, index: usize, kind: &str) -> usize {
        self.objects(index)
            .get(kind)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }
}

fn converged(w: &World) {
    w.plan()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");
    w.assert_no_duplicates();
}

/// With one write turn for the whole run, the tenants take turns to prepare their writes
/// (each waits while another's are on the wire, the path a thousand tenants take against the
/// default 256 turns), and every one still converges.
#[test]
fn tenants_that_wait_for_a_write_turn_all_converge() {
    use std::sync::{Arc, Mutex};
    use tenantform::deploy::{self, DeployOptions, Fleet, Run};
    use tenantform::graph::client::{GraphClient, RealTiming};
    use tenantform::graph::pacing::Limits;
    use tenantform::graph::retry::RetryPolicy;
    let w = World::new(config(3));
    let secret = w.secret.clone();
    let env: deploy::EnvLookup =
        Box::new(move |name: &str| (name == FLEET_SECRET_ENV).then(|| secret.clone()));
    let (fleet, _) = Fleet::load(w.project.path(), jiff::civil::date(2026, 11, 26), env)
        .expect("the project loads");
    let fleet = Arc::new(fleet);
    let targets = fleet.targets(&tenantform::compile::Selection::All);
    let scale: f64 = SCALE.parse().expect("scale");
    let client = GraphClient::new(
        Limits::default().time_scaled(scale),
        RetryPolicy::default().time_scaled(scale),
        Arc::new(RealTiming::new(7)),
    )
    .expect("client");
    let run = Arc::new(Run {
        fleet,
        client: Arc::new(client),
        journal: None,
        reporter: Arc::new(Mutex::new(Box::new(tenantform::report::Silent))),
        options: DeployOptions {
            write_turns: 1,
            ..DeployOptions::default()
        },
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let summary = runtime.block_on(deploy::run(run, targets, None));
    assert_eq!(summary.tenants.len(), 3, "{:?}", summary.not_started);
    for tenant in &summary.tenants {
        assert!(tenant.ok, "{}: {:?}", tenant.id, tenant.reason);
        assert_eq!(
            tenant.counts.failed, 0,
            "{}: {:?}",
            tenant.id, tenant.failures
        );
        assert!(
            tenant.counts.created > 10,
            "{}: {:?}",
            tenant.id,
            tenant.counts
        );
    }
    converged(&w);
}

#[test]
fn every_shipped_baseline_deploys_and_then_plans_no_change() {
    let w = World::new(config(3));
    // The three tenants use all three shipped baselines.
    let fleet = w.project.read("tenants/fleet.toml");
    for baseline in ["entra-foundation", "cisa-scuba-entra", "intune-compliance"] {
        assert!(fleet.contains(baseline), "{baseline} unused");
    }
    let before = w.plan().code(2);
    assert!(before.stdout.contains("to create"), "{}", before.stdout);
    w.deploy(&[])
        .success()
        .stderr_has("3 of 3 tenants converged");
    converged(&w);
    // Fabrikam (cisa-scuba-entra) got its SCuBA policies; every tenant its compliance policies.
    let fabrikam = w.objects(1);
    let names: Vec<&str> = fabrikam["conditionalAccessPolicy"]
        .as_array()
        .expect("policies")
        .iter()
        .filter_map(|p| p["displayName"].as_str())
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    assert_eq!(w.count(0, "deviceCompliancePolicy"), 4);
    // Deploying again changes nothing and sends no write.
    let again = w.deploy(&["--format", "json"]).success();
    assert!(
        !again.stdout.contains("\"action\":\"created\""),
        "{}",
        again.stdout
    );
    assert!(
        !again.stdout.contains("\"action\":\"updated\""),
        "{}",
        again.stdout
    );
    // Identity maps record what tenantform manages.
    let map: Value = serde_json::from_str(
        &w.project
            .read(&format!(".tenantform/state/{}.json", w.tenant(0))),
    )
    .expect("identity map");
    assert!(map["objects"]["emergency-access"].is_string(), "{map}");
    assert_eq!(map["kinds"]["emergency-access"], "group");
}

#[test]
fn faults_lost_answers_replication_delay_and_expiring_tokens_still_converge_without_duplicates() {
    // 10 % of requests fail, most of them with lost responses (applied, then the connection
    // drops, so a create's outcome is unknown and it must be reconciled, never sent twice).
    let w = World::new(SimConfig {
        fault_rate: 0.1,
        fault_mix: FaultMix {
            internal_error: 5,
            unavailable_with_retry_after: 5,
            unavailable: 0,
            gateway_timeout: 5,
            dropped_connection: 5,
            lost_response: 80,
            ..FaultMix::default()
        },
        replication_delay_ms: 300,
        token_lifetime_s: 2,
        seed: 7,
        ..config(3)
    });
    w.deploy(&[])
        .success()
        .stderr_has("3 of 3 tenants converged");
    // The simulator lists an object 300 ms after it was created, as Graph's replication
    // does: a create retried after a lost answer can be the run's last write, and a plan
    // started at once would not see it yet (it failed so, about one run in four).
    std::thread::sleep(std::time::Duration::from_millis(400));
    converged(&w);
    let journal = w.journal_text();
    assert!(
        journal.contains("\"status\":null"),
        "no lost answer was exercised"
    );
    assert!(
        journal.contains("\"key\":\"reconcile:"),
        "no create was reconciled"
    );
}

#[test]
fn a_429_storm_from_pacing_too_fast_is_ridden_out() {
    let w = World::new(config(2));
    // The client believes the limits are 10x looser than the simulator enforces.
    let out = w
        .project
        .cmd(&["deploy", "--yes", "--time-scale", "200"])
        .env(FLEET_SECRET_ENV, &w.secret)
        .run()
        .success();
    let throttled: u64 = out
        .stderr
        .split(" throttled)")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|s| s.trim().parse().ok())
        .expect("summary has a throttled count");
    assert!(throttled > 0, "{}", out.stderr);
    converged(&w);
}

#[test]
fn killed_mid_run_and_resumed_it_finishes_without_duplicates() {
    // Limits 4x shorter than Graph's: a tenant needs about 5 s, so the kill lands mid-run.
    let w = World::new(SimConfig {
        tenants: 2,
        time_scale: 4.0,
        ..SimConfig::default()
    });
    let mut child = w
        .project
        .cmd(&["deploy", "--yes", "--time-scale", "4"])
        .env(FLEET_SECRET_ENV, &w.secret)
        .spawn();
    let started = Instant::now();
    loop {
        let applied = w.journal_text().matches("\"event\":\"applied\"").count();
        if applied >= 12 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(
        !w.journal_text().contains("\"event\":\"run_finished\""),
        "the run finished before it was killed"
    );
    let logs = |w: &World| {
        walk(&w.project.path().join(".tenantform/state"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .count()
    };
    // What the killed run created is in the tenants' identity logs, not lost.
    assert!(logs(&w) > 0, "no identity log survived the kill");
    let run_id = w.runs()[0]
        .file_name()
        .and_then(|n| n.to_str())
        .expect("run id")
        .to_string();
    w.cmd(&["runs", "list"])
        .run()
        .success()
        .stdout_has("interrupted");
    w.project
        .cmd(&["deploy", "--yes", "--time-scale", "4", "--resume", &run_id])
        .env(FLEET_SECRET_ENV, &w.secret)
        .run()
        .success()
        .stderr_has("converged");
    converged(&w);
    assert_eq!(
        logs(&w),
        0,
        "identity logs are folded into the maps when tenants finish"
    );
    w.cmd(&["runs", "show", &run_id])
        .run()
        .success()
        .stdout_has("hash chain verified")
        .stdout_has("status    finished");
}

#[test]
fn a_tenant_missing_a_permission_fails_alone_with_the_permission_named() {
    let w = World::new(SimConfig {
        withdrawn: vec![(1, "Policy.ReadWrite.ConditionalAccess".into())],
        ..config(3)
    });
    let junit = w.project.path().join("junit.xml");
    let json = w.project.path().join("report.json");
    let out = w
        .deploy(&[
            "--report-junit",
            junit.to_str().expect("utf-8"),
            "--report-json",
            json.to_str().expect("utf-8"),
        ])
        .code(3)
        .stderr_has("2 of 3 tenants converged")
        .stderr_has(&format!("FAILED Fabrikam 00001 ({})", w.tenant(1)))
        .stderr_has("missing permission: the app needs")
        .stderr_has("Policy.ReadWrite.ConditionalAccess");
    assert!(
        out.stderr.contains("403 Authorization_RequestDenied"),
        "{}",
        out.stderr
    );
    let junit = w.project.read("junit.xml");
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(junit.contains("missing permission"), "{junit}");
    let report: Value = serde_json::from_str(&w.project.read("report.json")).expect("json");
    let failed: Vec<&Value> = report["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .filter(|t| t["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    // Its groups and Intune policies still landed; only the CA-class resources failed.
    assert!(w.count(1, "deviceCompliancePolicy") == 4);
    assert_eq!(w.count(1, "conditionalAccessPolicy"), 0);
}

#[test]
fn rings_stop_when_the_pilot_fails_more_than_allowed() {
    let w = World::new(SimConfig {
        withdrawn: vec![(0, "Group.ReadWrite.All".into())],
        ..config(3)
    });
    w.deploy(&["--rings", "pilot,broad", "--max-failure-rate", "0"])
        .code(3)
        .stderr_has("ring pilot: 1 of 1 tenants failed")
        .stderr_has("2 tenants not started");
    // The broad ring was never touched.
    assert_eq!(w.count(1, "conditionalAccessPolicy"), 0);
    assert_eq!(w.count(2, "group"), 0);
}

#[test]
fn a_token_for_another_tenant_is_refused_and_nothing_is_written() {
    let w = World::new(config(2));
    let (mine, other) = (w.tenant(0), w.tenant(1));
    // A login endpoint that answers with the other tenant's token (the URL fragment hides the
    // real tenant segment).
    let base = w.sim.handle.base_url();
    let fleet = w.project.read("tenants/fleet.toml");
    let first_login = format!("login = \"{base}\"");
    let bad = fleet.replacen(
        &first_login,
        &format!("login = \"{base}/{other}/oauth2/v2.0/token#\""),
        1,
    );
    assert_ne!(bad, fleet);
    w.project.file("tenants/fleet.toml", bad);
    let before = w.objects(1);
    w.deploy(&["--tenant", &mine])
        .code(3)
        .stderr_has(&format!("issued a token for tenant {other}, not {mine}"));
    assert_eq!(w.objects(1), before, "the other tenant was changed");
    assert_eq!(w.count(0, "conditionalAccessPolicy"), 0);
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_refused() {
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    let base = w.sim.handle.base_url();
    w.project.file(
        "tenants/fleet.toml",
        fleet.replace(
            &format!("graph = \"{base}\""),
            "graph = \"http://graph.example.com\"",
        ),
    );
    w.deploy(&[])
        .code(3)
        .stderr_has("uses plain http to a host that is not loopback");
}

#[test]
fn a_canary_secret_never_appears_in_output_journal_reports_or_errors() {
    const CANARY: &str = "canary-7f3e9a1c-do-not-print";
    let w = World::new(SimConfig {
        client_secret: CANARY.into(),
        withdrawn: vec![(1, "DeviceManagementConfiguration.ReadWrite.All".into())],
        ..config(2)
    });
    let mut outputs = Vec::new();
    let at = |name: &str| w.project.path().join(name).to_string_lossy().into_owned();
    let out = w.deploy(&[
        "--format",
        "json",
        "--report-json",
        &at("r.json"),
        "--report-junit",
        &at("r.xml"),
    ]);
    outputs.push(out.stdout + &out.stderr);
    let out = w.cmd(&["plan", "--out", &at("plan.json")]).run();
    outputs.push(out.stdout + &out.stderr);
    // A wrong secret: the sign-in error is shown, the secret is not.
    let out = w
        .project
        .cmd(&["deploy", "--yes", "--time-scale", SCALE])
        .env(FLEET_SECRET_ENV, &format!("{CANARY}-wrong"))
        .run()
        .code(3)
        .stderr_has("sign-in refused");
    outputs.push(out.stdout + &out.stderr);
    outputs.push(w.journal_text());
    for file in ["r.json", "r.xml", "plan.json"] {
        outputs.push(w.project.read(file));
    }
    for entry in walk(&w.project.path().join(".tenantform")) {
        outputs.push(std::fs::read_to_string(entry).unwrap_or_default());
    }
    for text in outputs {
        assert!(!text.contains("canary-7f3e9a1c"), "secret leaked:\n{text}");
        assert!(!text.contains("eyJ"), "a token leaked:\n{text}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
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
fn deploy_refuses_to_run_unattended_without_yes() {
    let w = World::new(config(1));
    w.cmd(&["deploy"])
        .run()
        .code(64)
        .stderr_has("pass --yes to deploy unattended");
    assert!(w.runs().is_empty());
}

#[test]
fn a_plan_is_applied_only_to_tenants_that_did_not_change_since() {
    let w = World::new(config(2));
    let plan = w.project.path().join("plan.json");
    let plan = plan.to_str().expect("utf-8");
    w.cmd(&["plan", "--out", plan]).run().success();
    // Tenant 1 changes behind the plan's back: another deploy creates its objects.
    w.deploy(&["--tenant", &w.tenant(1)]).success();
    let out = w.deploy(&["--plan", plan]).code(3);
    assert!(
        out.stderr
            .contains("the tenant changed since the plan was made"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 of 2 tenants converged"),
        "{}",
        out.stderr
    );
    // A plan saved by an editor that writes a byte-order mark is still a plan: the tenant
    // that changed is refused for that reason, not for the file.
    let text = w.project.read("plan.json");
    w.project.file("plan-bom.json", format!("\u{feff}{text}"));
    let bom = w.project.path().join("plan-bom.json");
    w.deploy(&["--plan", bom.to_str().expect("utf-8")])
        .code(3)
        .stderr_has("the tenant changed since the plan was made");
    // A plan file that is not one is refused with its path.
    w.project.file("bad.json", "{\"format\": 1}");
    let bad = w.project.path().join("bad.json");
    w.deploy(&["--plan", bad.to_str().expect("utf-8")])
        .code(1)
        .stderr_has("bad.json is not a tenantform plan");
}

#[test]
fn a_group_made_by_another_client_without_unique_name_is_left_alone_by_match_by_key() {
    // Graph (and the simulator) accept `POST /groups` without uniqueName. tenantform matches
    // groups by uniqueName only, so a look-alike group another tool made is neither adopted
    // nor changed, and tenantform's own group is created beside it.
    let w = World::new(config(1));
    let foreign = w
        .sim
        .send(
            0,
            "POST",
            "/v1.0/groups",
            Some(&serde_json::json!({
                "displayName": "Intune compliance - in scope",
                "mailNickname": "intune-compliance-scope",
                "mailEnabled": false,
                "securityEnabled": true
            })),
        )
        .status(201)
        .json();
    let foreign_id = foreign["id"].as_str().expect("id").to_string();
    w.deploy(&[]).success();
    converged(&w);
    let groups = w.objects(0)["group"].clone();
    let groups = groups.as_array().expect("groups");
    let same_name: Vec<&Value> = groups
        .iter()
        .filter(|g| g["displayName"] == "Intune compliance - in scope")
        .collect();
    assert_eq!(same_name.len(), 2, "{groups:?}");
    let untouched = same_name
        .iter()
        .find(|g| g["id"] == foreign_id.as_str())
        .expect("the foreign group is still there");
    assert_eq!(untouched["uniqueName"], Value::Null);
    assert_eq!(untouched["description"], Value::Null);
    assert!(
        same_name
            .iter()
            .any(|g| g["uniqueName"] == "tenantform-intune-compliance-scope"),
        "{groups:?}"
    );
}

#[test]
fn pruning_deletes_orphans_and_only_with_prune() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let before = w.count(0, "conditionalAccessPolicy");
    // The baseline no longer wants one policy for this tenant.
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-mfa-guests\"\nskip = true\nreason = \"guests are handled by the partner tenant\"\n"
        ),
    );
    w.cmd(&["plan"])
        .run()
        .success()
        .stdout_has("ca-mfa-guests")
        .stdout_has("orphan");
    w.deploy(&[]).success();
    assert_eq!(w.count(0, "conditionalAccessPolicy"), before);
    w.deploy(&["--prune"]).success();
    assert_eq!(w.count(0, "conditionalAccessPolicy"), before - 1);
    let map = w
        .project
        .read(&format!(".tenantform/state/{}.json", w.tenant(0)));
    assert!(!map.contains("ca-mfa-guests"), "{map}");
}

#[test]
fn a_certificate_signs_in_with_a_ps256_assertion() {
    let w = World::new(SimConfig {
        client_certificate_pem: Some(crate::sim_auth::TEST_CERT.into()),
        ..config(1)
    });
    w.project.file("certs/app.pem", crate::sim_auth::TEST_CERT);
    w.project.file("certs/app.key", crate::sim_auth::TEST_KEY);
    let fleet = w.project.read("tenants/fleet.toml");
    let with_cert = fleet
        .lines()
        .map(|l| {
            if l.starts_with("client_secret_env") {
                "certificate = \"certs/app.pem\"\ncertificate_key = \"certs/app.key\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    w.project.file("tenants/fleet.toml", with_cert);
    // No secret in the environment at all.
    w.project
        .cmd(&["deploy", "--yes", "--time-scale", SCALE])
        .run()
        .success()
        .stderr_has("1 of 1 tenants converged");
    // A missing key file is named.
    std::fs::remove_file(w.project.path().join("certs/app.key")).expect("rm");
    w.project
        .cmd(&["deploy", "--yes", "--time-scale", SCALE])
        .run()
        .code(3)
        .stderr_has("cannot read certificate_key");
}

#[test]
fn runs_show_detects_an_edited_journal() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let run = &w.runs()[0];
    let run_id = run
        .file_name()
        .and_then(|n| n.to_str())
        .expect("id")
        .to_string();
    w.cmd(&["runs", "show", &run_id, "--requests"])
        .run()
        .success()
        .stdout_has("hash chain verified")
        .stdout_has("request-id");
    let path = run.join("journal.jsonl");
    let text = std::fs::read_to_string(&path).expect("journal");
    std::fs::write(&path, text.replacen("\"status\":201", "\"status\":200", 1)).expect("edit");
    w.cmd(&["runs", "show", &run_id])
        .run()
        .code(1)
        .stderr_has("the hash chain breaks");
    w.cmd(&["runs", "show", "no-such-run"])
        .run()
        .code(1)
        .stderr_has("no run no-such-run");
}

#[test]
fn shards_split_a_fleet_between_machines() {
    let w = World::new(config(3));
    w.deploy(&["--shard", "1/2"]).success();
    w.deploy(&["--shard", "2/2"]).success();
    converged(&w);
    tenantform()
        .args(&["deploy", "--shard", "3/2", "--yes"])
        .run()
        .code(64)
        .stderr_has("expected 1 <= K <= N");
}

#[test]
fn plan_shows_each_change_as_users_see_it() {
    let w = World::new(config(1));
    let before = w.plan().code(2);
    insta::assert_snapshot!("plan_new_tenant", before.stdout);
    w.deploy(&[]).success();
    // Someone switches a policy off in the portal (waiting out the tenant's Conditional Access
    // throttling window between calls, as the portal would).
    let pause = || std::thread::sleep(Duration::from_millis(200));
    pause();
    let policies = w
        .sim
        .send(0, "GET", "/v1.0/identity/conditionalAccess/policies", None)
        .status(200)
        .json();
    let guests = policies["value"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["displayName"] == "Require multifactor authentication for guest access")
        .expect("guest policy");
    let path = format!(
        "/v1.0/identity/conditionalAccess/policies/{}",
        guests["id"].as_str().expect("id")
    );
    pause();
    w.sim
        .send(
            0,
            "PATCH",
            &path,
            Some(&serde_json::json!({"state": "disabled"})),
        )
        .status(204);
    let drift = w.plan().code(2);
    insta::assert_snapshot!("plan_after_drift", drift.stdout);
    w.deploy(&[]).success();
    converged(&w);
}

#[test]
fn unusable_credentials_identity_maps_and_arguments_are_clear_errors() {
    let w = World::new(config(1));
    // The secret's environment variable is not set.
    w.project
        .cmd(&["deploy", "--yes", "--time-scale", SCALE])
        .run()
        .code(3)
        .stderr_has(&format!(
            "environment variable {FLEET_SECRET_ENV} (client_secret_env) is not set"
        ));
    // A damaged identity map is named, with what to do.
    w.project.file(
        &format!(".tenantform/state/{}.json", w.tenant(0)),
        "{\"objects\": [",
    );
    w.deploy(&[])
        .code(3)
        .stderr_has("is not valid")
        .stderr_has("delete it to re-adopt objects by their match keys");
    assert_eq!(w.count(0, "conditionalAccessPolicy"), 0);
    w.deploy(&["--resume", "no-such-run"])
        .code(1)
        .stderr_has("no run no-such-run");
    w.deploy(&["--max-failure-rate", "2"])
        .code(64)
        .stderr_has("between 0 and 1");
    // (Another run holding a tenant's lock: tests/testsuite/state.rs.)
}

#[test]
fn an_unreachable_graph_fails_the_tenant_with_the_address() {
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    // Nothing listens on port 9 (discard) of loopback.
    w.project.file(
        "tenants/fleet.toml",
        fleet.replace(&w.sim.handle.base_url(), "http://127.0.0.1:9"),
    );
    w.cmd(&["plan"])
        .run()
        .code(3)
        .stdout_has("NOT PLANNED")
        .stdout_has("http://127.0.0.1:9/")
        .stdout_has("unreachable");
}

/// The id of the Conditional Access policy with this display name, in tenant 0.
fn policy_path(w: &World, name: &str) -> String {
    let policies = w
        .sim
        .send(0, "GET", "/v1.0/identity/conditionalAccess/policies", None)
        .status(200)
        .json();
    let policy = policies["value"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["displayName"] == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
        .clone();
    format!(
        "/v1.0/identity/conditionalAccess/policies/{}",
        policy["id"].as_str().expect("id")
    )
}

#[test]
fn a_stale_plan_names_the_resource_that_changed_and_how() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let plan = w.project.path().join("plan.json");
    let plan = plan.to_str().expect("utf-8");
    w.cmd(&["plan", "--out", plan]).run().success();
    // Someone switches a policy off in the portal after the plan was made.
    std::thread::sleep(Duration::from_millis(200));
    let path = policy_path(&w, "Require multifactor authentication for guest access");
    std::thread::sleep(Duration::from_millis(200));
    w.sim
        .send(
            0,
            "PATCH",
            &path,
            Some(&serde_json::json!({"state": "disabled"})),
        )
        .status(204);
    w.deploy(&["--plan", plan])
        .code(3)
        .stderr_has("the tenant changed since the plan was made")
        .stderr_has("1 object changed since the plan (what the plan saw -> now)")
        .stderr_has("~ ca-mfa-guests")
        .stderr_has("/state: \"enabled\" -> \"disabled\"")
        .stderr_lacks("fingerprint");
}

#[test]
fn a_failed_plan_says_not_planned_and_gives_its_reason_once() {
    let w = World::new(config(1));
    // No secret in the environment: the tenant cannot sign in.
    let out = w
        .project
        .cmd(&["plan", "--time-scale", SCALE])
        .run()
        .code(3)
        .stdout_has("NOT PLANNED")
        .stderr_has("not planned")
        .stderr_lacks("created")
        .stderr_lacks("0 updated");
    let reason = format!("environment variable {FLEET_SECRET_ENV} (client_secret_env) is not set");
    let shown = out.stdout.matches(&reason).count() + out.stderr.matches(&reason).count();
    assert_eq!(
        shown, 1,
        "--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
}

#[test]
fn plan_diffs_show_object_ids_by_their_project_names() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    std::thread::sleep(Duration::from_millis(200));
    let path = policy_path(&w, "Require multifactor authentication for guest access");
    std::thread::sleep(Duration::from_millis(200));
    let mut policy = w.sim.send(0, "GET", &path, None).status(200).json();
    let excluded = policy["conditions"]["users"]["excludeGroups"].clone();
    let group = excluded[0].as_str().expect("an excluded group").to_string();
    policy["conditions"]["users"]["excludeGroups"] = serde_json::json!([]);
    std::thread::sleep(Duration::from_millis(200));
    w.sim
        .send(
            0,
            "PATCH",
            &path,
            Some(&serde_json::json!({"conditions": policy["conditions"]})),
        )
        .status(204);
    let plan = w.plan().code(2);
    let line = plan
        .stdout
        .lines()
        .find(|l| l.contains("/conditions/users/excludeGroups"))
        .unwrap_or_else(|| panic!("no excludeGroups change:\n{}", plan.stdout));
    assert!(
        line.contains(&format!("group:emergency-access ({group})")),
        "{line}"
    );
    // The plan file carries the names too, for programs.
    let json = w.cmd(&["plan", "--format", "json"]).run().success().json();
    assert_eq!(
        json["tenants"][0]["names"][group.to_ascii_lowercase()],
        "group:emergency-access"
    );
    // A plan printed as JSON is a plan file: it holds what the live objects were, for
    // `deploy --plan` to check (a plan only shown leaves the hashing out).
    let fingerprint = json["tenants"][0]["live_fingerprint"]
        .as_str()
        .unwrap_or_default();
    assert!(fingerprint.starts_with("sha256:"), "{json}");
    let resources = json["tenants"][0]["resources"]
        .as_array()
        .expect("resources");
    assert!(
        resources.iter().any(|r| r["live_hash"].is_string()),
        "{json}"
    );
}

#[test]
fn runs_show_names_each_tenant() {
    let w = World::new(config(1));
    w.deploy(&[]).success();
    let run = &w.runs()[0];
    let run_id = run.file_name().and_then(|n| n.to_str()).expect("id");
    let name = &w.sim.handle.tenants()[0].name;
    w.cmd(&["runs", "show", run_id])
        .run()
        .success()
        .stdout_has(&format!("{name} ({})", w.tenant(0)));
    let json = w
        .cmd(&["runs", "show", run_id, "--format", "json"])
        .run()
        .success()
        .json();
    assert_eq!(json["per_tenant"][w.tenant(0)]["name"], name.as_str());
}

#[test]
fn an_unreachable_endpoint_fails_within_seconds_not_after_a_minute_of_silence() {
    // Regression (issue 15): connection refused (and a name that does not resolve) were
    // retried like server errors: about 100 s before the tenant failed. No --time-scale here.
    let w = World::new(config(1));
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        fleet.replace(&w.sim.handle.base_url(), "http://127.0.0.1:9"),
    );
    let started = std::time::Instant::now();
    w.project
        .cmd(&["plan"])
        .env(FLEET_SECRET_ENV, &w.secret)
        .run()
        .code(3)
        .stdout_has("unreachable");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
}

#[test]
fn an_invalid_property_referencing_a_new_group_fails_at_once_naming_it() {
    // Regression (issue 15): a 400 for a body that references an object created earlier in the
    // run was retried as a replication delay for 60 s, even when Graph said a property does not
    // exist. The shipped CA template, shadowed by a copy that sends an unknown property; every
    // CA policy references the emergency-access group this deploy creates.
    let w = World::new(config(1));
    let shipped =
        std::fs::read_to_string(crate::harness::repo().join("templates/ca/policy.json.tera"))
            .expect("shipped CA template");
    let bogus = shipped.replacen(
        "  \"displayName\": \"{{ vars.name }}\",",
        "  \"displayName\": \"{{ vars.name }}\",\n  \"bogusProperty\": true,",
        1,
    );
    assert_ne!(bogus, shipped);
    w.project.file("templates/ca/policy.json.tera", bogus);
    let started = std::time::Instant::now();
    let out = w.deploy(&[]).code(3);
    assert!(
        out.stderr
            .contains("The property 'bogusProperty' does not exist"),
        "{}",
        out.stderr
    );
    // The group was created (so the policies did reference a new object), and no request was
    // retried as a replication delay.
    assert!(w.count(0, "group") >= 1, "{}", out.stderr);
    assert!(out.stderr.contains("; 0 retries,"), "{}", out.stderr);
    let journal = w.journal_text();
    assert!(!journal.contains("replication"), "{journal}");
    // Far below the 60 s replication window (a generous bound: nothing here waits).
    assert!(started.elapsed() < std::time::Duration::from_secs(45));
}

#[test]
fn plan_as_markdown_puts_lockout_risks_and_deletions_before_the_folded_diffs() {
    let w = World::new(config(1));
    let id = w.tenant(0);
    let plan_file = w.project.path().join("plan.json");
    let plan_arg = plan_file.to_str().expect("utf-8");
    // A new tenant: everything to create, the authentication methods among it.
    let out = w
        .cmd(&[
            "plan",
            "--format",
            "markdown",
            "--detailed-exitcode",
            "--out",
            plan_arg,
        ])
        .run()
        .code(2)
        .stdout_has("## tenantform plan\n\n**1 tenant**, 1 with changes:")
        .stdout_has("| Tenant | Ring | Create | Update | Adopt | Unchanged | Orphans | Status |")
        .stdout_has("changes can lock people out.**")
        .stdout_has("changes how users can sign in (authentication methods)")
        .stdout_has("<details><summary><b>")
        .stdout_has("```diff\n+ ");
    assert_eq!(
        out.stdout.matches("<details>").count(),
        out.stdout.matches("</details>").count()
    );
    // The plan file was written too, with the risks for programs.
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).expect("plan file"))
            .expect("json");
    assert!(
        file["tenants"][0]["risks"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["risk"] == "authentication_methods")),
        "{file}"
    );

    // Deployed; then one policy leaves the baseline (an orphan) and another gets an exclusion
    // the baseline does not have (the plan would take it off).
    w.deploy(&[]).success();
    let fleet = w.project.read("tenants/fleet.toml");
    w.project.file(
        "tenants/fleet.toml",
        format!(
            "{fleet}\n[[tenant.overrides]]\nresource = \"ca-mfa-guests\"\nskip = true\nreason = \"guests are handled by the partner tenant\"\n"
        ),
    );
    std::thread::sleep(Duration::from_millis(200));
    let path = policy_path(&w, "Require multifactor authentication for admins");
    std::thread::sleep(Duration::from_millis(200));
    let policy = w.sim.send(0, "GET", &path, None).status(200).json();
    let mut users = policy["conditions"]["users"].clone();
    let extra = w
        .sim
        .send(
            0,
            "POST",
            "/v1.0/groups",
            Some(&serde_json::json!({
                "displayName": "Helpdesk (added in the portal)",
                "mailNickname": "helpdesk-portal",
                "mailEnabled": false,
                "securityEnabled": true
            })),
        )
        .status(201)
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    std::thread::sleep(Duration::from_millis(200));
    users["excludeGroups"]
        .as_array_mut()
        .expect("excluded groups")
        .push(serde_json::json!(&extra));
    std::thread::sleep(Duration::from_millis(200));
    w.sim
        .send(
            0,
            "PATCH",
            &path,
            Some(&serde_json::json!({"conditions": {"users": users}})),
        )
        .status(204);
    let out = w
        .cmd(&["plan", "--format", "markdown", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("**1 object would be deleted** by `deploy --prune`.")
        .stdout_has("`ca-mfa-guests` (conditionalAccessPolicy, `")
        .stdout_has(&format!("no longer excludes {extra}"))
        .stdout_has("| pilot | 0 | 1 | 0 |");
    assert!(out.stdout.contains(&id), "{}", out.stdout);
    // The warnings come before the table, the table before the diffs.
    let warn = out.stdout.find("would be deleted").expect("warning");
    let table = out.stdout.find("| Tenant |").expect("table");
    let diffs = out.stdout.find("<details>").expect("diffs");
    assert!(warn < table && table < diffs, "{}", out.stdout);
}

fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).expect("plan file"));
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[test]
fn under_require_approved_plan_deploy_applies_only_an_approved_plan_file_and_journals_its_hash() {
    let w = World::new(config(1));
    let toml = w.project.read("tenantform.toml");
    w.project.file(
        "tenantform.toml",
        format!("{toml}\n[deploy]\nrequire_approved_plan = true\n"),
    );
    // No plan file: refused before anything is read.
    w.deploy(&[])
        .code(64)
        .stderr_has("this project requires an approved plan");
    let plan = w.project.path().join("plan.json");
    let plan_arg = plan.to_str().expect("utf-8");
    w.cmd(&["plan", "--out", plan_arg]).run().success();
    let hash = sha256_of(&plan);
    // A plan file nobody approved.
    w.deploy(&["--plan", plan_arg])
        .code(1)
        .stderr_has(&format!("({hash}) is not approved"));
    // Another plan's hash (the file was changed after the approval).
    let other = format!("sha256:{}", "0".repeat(64));
    w.deploy(&["--plan", plan_arg, "--approved-hash", &other])
        .code(1)
        .stderr_has("it is not the plan that was approved");
    assert!(w.runs().is_empty(), "a refused deploy started a run");
    assert_eq!(w.count(0, "conditionalAccessPolicy"), 0);
    // --approved-hash means nothing without --plan.
    w.deploy(&["--approved-hash", &hash]).code(64);
    // The approved plan is applied, and the journal says which one and what approved it.
    w.deploy(&["--plan", plan_arg, "--approved-hash", &hash])
        .success();
    assert!(w.count(0, "conditionalAccessPolicy") > 0);
    let journal = w.journal_text();
    let applied: Value = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .find(|r| r["event"] == "plan_applied")
        .unwrap_or_else(|| panic!("no plan_applied record:\n{journal}"));
    assert_eq!(applied["plan_hash"], hash.as_str());
    assert_eq!(applied["approval"], "--approved-hash");

    // A plan approved in the approvals file (a reviewed commit adds the line).
    w.cmd(&["plan", "--out", plan_arg]).run().success();
    let hash = sha256_of(&plan);
    w.project.file(
        ".tenantform/approved-plans",
        format!("# approved in pull request 14\n{hash}  ana\n"),
    );
    w.deploy(&["--plan", plan_arg]).success();
    assert!(
        w.journal_text()
            .contains(&format!("\"plan_hash\":\"{hash}\",\"approval\":")),
        "{}",
        w.journal_text()
    );
    assert!(w.journal_text().contains("approved-plans line 2"));
}

/// Each request of `tenant` the simulator logged after `after` (a sequence number), as
/// (method, path without query, status).
fn requests_since(w: &World, tenant: &str, after: u64) -> Vec<(String, String, u64)> {
    let log = w.sim.handle.request_log(Some(tenant)).expect("log");
    log["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|e| e["sequence"].as_u64().is_some_and(|s| s > after))
        .map(|e| {
            let path = e["path"].as_str().expect("path");
            (
                e["method"].as_str().expect("method").to_string(),
                path.split('?').next().unwrap_or(path).to_string(),
                e["status"].as_u64().expect("status"),
            )
        })
        .collect()
}

/// The last sequence number the simulator logged for `tenant`.
fn last_sequence(w: &World, tenant: &str) -> u64 {
    let log = w.sim.handle.request_log(Some(tenant)).expect("log");
    log["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(|e| e["sequence"].as_u64())
        .max()
        .unwrap_or(0)
}

#[test]
fn plan_and_drift_read_ahead_while_validating_and_send_each_read_once() {
    // `plan` and `drift` sign each tenant in and send its first Conditional Access read while
    // the project is still validating; the tenant then plans with that answer. Were the answer
    // not taken, the tenant would sign in again and read that collection a second time.
    let w = World::new(config(3));
    w.deploy(&[]).success();
    for verb in ["plan", "drift"] {
        let marks: Vec<(String, u64)> = (0..3)
            .map(|i| {
                let id = w.tenant(i);
                let mark = last_sequence(&w, &id);
                (id, mark)
            })
            .collect();
        w.cmd(&[verb]).run().success();
        for (tenant, mark) in &marks {
            let requests = requests_since(&w, tenant, *mark);
            let mut reads: BTreeMap<&str, usize> = BTreeMap::new();
            // Answered reads: a 429 (the deploy's last Conditional Access request was a
            // moment before, in another process) is the same read tried again.
            for (method, path, status) in &requests {
                if method == "GET"
                    && *status == 200
                    && path.contains("/identity/conditionalAccess/")
                {
                    *reads.entry(path.as_str()).or_default() += 1;
                }
            }
            assert!(
                reads.len() >= 2,
                "{verb} of {tenant} read fewer Conditional Access collections than the baselines declare: {requests:?}"
            );
            assert!(
                reads.values().all(|n| *n == 1),
                "{verb} of {tenant} read a Conditional Access collection twice: {reads:?}"
            );
        }
    }
    converged(&w);
}

/// What is read ahead is bounded as the scheduler admits tenants: by `--concurrency` and by
/// the memory budget (each tenant's estimated footprint); the tenants past it are planned as
/// before, and every tenant is planned either way.
#[test]
fn reading_ahead_stops_at_the_cap_and_the_memory_budget() {
    use std::sync::{Arc, Mutex};
    use tenantform::deploy::ahead::ReadAhead;
    use tenantform::deploy::{self, DeployOptions, Fleet, Run};
    use tenantform::graph::client::{GraphClient, RealTiming};
    use tenantform::graph::pacing::Limits;
    use tenantform::graph::retry::RetryPolicy;
    let w = World::new(config(3));
    let scale: f64 = SCALE.parse().expect("scale");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bounds = [
        (Some(1), deploy::admission::DEFAULT_MEMORY_BUDGET, 1),
        // Two tenants' footprints of the shipped baselines, not three.
        (None, 2 * deploy::admission::footprint(60), 2),
        (None, deploy::admission::DEFAULT_MEMORY_BUDGET, 3),
    ];
    for (cap, budget, expected) in bounds {
        let secret = w.secret.clone();
        let env: deploy::EnvLookup =
            Box::new(move |name: &str| (name == FLEET_SECRET_ENV).then(|| secret.clone()));
        let (fleet, diagnostics) =
            Fleet::load(w.project.path(), jiff::civil::date(2026, 11, 26), env)
                .expect("the project loads");
        let client = Arc::new(
            GraphClient::new(
                Limits::default().time_scaled(scale),
                RetryPolicy::default().time_scaled(scale),
                Arc::new(RealTiming::new(7)),
            )
            .expect("client"),
        );
        let ahead = Arc::new(ReadAhead::new(
            runtime.handle().clone(),
            client.clone(),
            budget,
            cap,
        ));
        let selection = tenantform::compile::Selection::All;
        let summary = fleet.validate_reading_ahead(&selection, diagnostics, Some(&ahead));
        assert!(summary.ok(), "{:?}", summary.diagnostics);
        assert_eq!(ahead.started(), expected, "cap {cap:?}, budget {budget}");
        let fleet = Arc::new(fleet);
        let targets = fleet.targets(&selection);
        let run = Arc::new(Run {
            fleet,
            client,
            journal: None,
            reporter: Arc::new(Mutex::new(Box::new(tenantform::report::Silent))),
            options: DeployOptions {
                plan_only: true,
                concurrency: cap,
                memory_budget: budget,
                read_ahead: Some(ahead),
                ..DeployOptions::default()
            },
        });
        let summary = runtime.block_on(deploy::run(run, targets, None));
        assert_eq!(summary.tenants.len(), 3, "{:?}", summary.not_started);
        for tenant in &summary.tenants {
            assert!(tenant.ok, "{}: {:?}", tenant.id, tenant.reason);
            assert!(tenant.plan.is_some(), "{} was not planned", tenant.id);
        }
    }
}
