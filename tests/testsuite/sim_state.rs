//! The simulator's tenants and introspection on the wire: deterministic tenants with a new
//! tenant's objects, `/_sim/...` (tenants, state, request log, reset), `--state-dir` round
//! trips, `--fleet-out` files that `tenantform validate` accepts, and the `sim` command itself.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use serde_json::json;
use tenantform::sim::{SimConfig, Simulator};

use crate::harness::Project;
use crate::sim_support::{Sim, ca_policy, create_group, test_config};

#[test]
fn tenants_are_the_fleet_generators_ids_and_names() {
    let sim = Sim::with(SimConfig {
        seed: 7,
        ..test_config()
    });
    let tenants = sim.sim("GET", "/_sim/tenants", None).status(200).json();
    let value = tenants["value"].as_array().expect("value");
    assert_eq!(value.len(), 3);
    for (i, tenant) in value.iter().enumerate() {
        assert_eq!(tenant["index"], i);
        assert_eq!(
            tenant["id"],
            tenantform::source::init::fleet_tenant_id("7", i)
        );
    }
    assert_eq!(value[0]["name"], "Contoso 00000");
    assert_eq!(value[1]["name"], "Fabrikam 00001");
    assert_eq!(value[2]["name"], "Northwind Traders 00002");
}

#[test]
fn a_new_tenant_has_the_default_objects_and_state_shows_every_object() {
    let sim = Sim::start();
    let tenant = sim.tenant(0);
    let group = create_group(&sim, 0, "scope");
    sim.send(
        0,
        "POST",
        "/v1.0/identity/conditionalAccess/policies",
        Some(&ca_policy("p", &[&group])),
    )
    .status(201);
    let state = sim
        .sim("GET", &format!("/_sim/tenants/{tenant}/state"), None)
        .status(200)
        .json();
    assert_eq!(state["id"], tenant.as_str());
    let objects = &state["objects"];
    assert_eq!(
        objects["identitySecurityDefaultsEnforcementPolicy"]["isEnabled"],
        true
    );
    assert_eq!(objects["authorizationPolicy"]["id"], "authorizationPolicy");
    assert_eq!(
        objects["authenticationMethodConfiguration"]
            .as_array()
            .map(Vec::len),
        Some(9)
    );
    assert_eq!(
        objects["crossTenantAccessPolicyDefault"]["isServiceDefault"],
        true
    );
    assert_eq!(objects["group"][0]["id"], group.as_str());
    assert_eq!(objects["conditionalAccessPolicy"][0]["displayName"], "p");
    assert_eq!(objects["namedLocation"], json!([]));
    assert_eq!(objects["deviceCompliancePolicy"], json!([]));
    sim.sim("GET", "/_sim/tenants/nope/state", None).status(404);
}

#[test]
fn the_request_log_counts_statuses_and_keeps_request_ids() {
    let sim = Sim::start();
    let tenant = sim.tenant(1);
    let ok = sim.send(1, "GET", "/v1.0/groups", None).status(200);
    sim.send(
        1,
        "GET",
        "/v1.0/groups/00000000-0000-4000-8000-000000000000",
        None,
    )
    .status(404);
    let log = sim
        .sim("GET", &format!("/_sim/requests?tenant={tenant}"), None)
        .status(200)
        .json();
    assert_eq!(log["tenant"], tenant.as_str());
    assert_eq!(log["byStatus"]["200"], 2, "{log}");
    assert_eq!(log["byStatus"]["404"], 1, "{log}");
    assert_eq!(log["throttleEvents"], 0);
    let requests = log["requests"].as_array().expect("requests");
    let graph: Vec<_> = requests
        .iter()
        .filter(|r| r["path"] == "/v1.0/groups")
        .collect();
    assert_eq!(graph.len(), 1);
    assert_eq!(
        graph[0]["requestId"],
        ok.header("request-id").expect("request-id")
    );
    assert_eq!(graph[0]["method"], "GET");
    let everyone = sim.sim("GET", "/_sim/requests", None).status(200).json();
    assert!(everyone["total"].as_u64().expect("total") >= 3);
}

#[test]
fn reset_returns_every_tenant_to_its_birth_state() {
    let sim = Sim::start();
    create_group(&sim, 0, "gone-after-reset");
    sim.send(
        0,
        "PATCH",
        "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
        Some(&json!({"isEnabled": false})),
    )
    .status(204);
    sim.sim("POST", "/_sim/reset", None).status(204);
    assert_eq!(sim.get("/v1.0/groups").json()["value"], json!([]));
    assert_eq!(
        sim.get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy")
            .json()["isEnabled"],
        true
    );
}

#[test]
fn state_dir_saves_on_shutdown_and_loads_on_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SimConfig {
        state_dir: Some(dir.path().to_path_buf()),
        withdrawn: vec![(2, "Group.ReadWrite.All".into())],
        ..test_config()
    };
    let sim = Sim::with(config.clone());
    let group = create_group(&sim, 0, "persisted");
    let compliance = sim
        .send(
            0,
            "POST",
            "/v1.0/deviceManagement/deviceCompliancePolicies",
            Some(&crate::sim_support::compliance_policy("kept")),
        )
        .status(201)
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    sim.send(
        0,
        "POST",
        &format!("/v1.0/deviceManagement/deviceCompliancePolicies/{compliance}/assign"),
        Some(&json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}}]})),
    )
    .status(200);
    sim.send(
        0,
        "PATCH",
        "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
        Some(&json!({"isEnabled": false})),
    )
    .status(204);
    let Sim { handle, .. } = sim;
    let saved = handle
        .shutdown_blocking()
        .expect("saved")
        .expect("a state file");
    assert!(saved.exists());
    assert!(!dir.path().join("state.jsonl.tmp").exists());

    let again = Sim::with(SimConfig {
        withdrawn: Vec::new(),
        ..config
    });
    assert_eq!(
        again
            .get(&format!("/v1.0/groups/{group}"))
            .status(200)
            .json()["uniqueName"],
        "persisted"
    );
    assert_eq!(
        again
            .get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy")
            .json()["isEnabled"],
        false
    );
    let assignments = again
        .get(&format!(
            "/v1.0/deviceManagement/deviceCompliancePolicies/{compliance}/assignments"
        ))
        .status(200)
        .json();
    assert_eq!(assignments["value"][0]["target"]["groupId"], group.as_str());
    let expanded = again
        .get(&format!(
            "/v1.0/deviceManagement/deviceCompliancePolicies/{compliance}?$expand=scheduledActionsForRule"
        ))
        .json();
    assert!(expanded["scheduledActionsForRule"][0]["id"].is_string());
    // Withdrawn permissions live in the state file too.
    again
        .send_with(
            2,
            "PATCH",
            "/v1.0/groups(uniqueName='x')",
            Some(&crate::sim_support::group("x")),
            &[("Prefer", "create-if-missing")],
        )
        .status(403);
    // New objects after a restart do not reuse ids.
    assert_ne!(create_group(&again, 0, "second"), group);
}

#[test]
fn a_state_file_with_foreign_tenants_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SimConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..test_config()
    };
    let first = Simulator::spawn_in_background(config.clone()).expect("start");
    first.shutdown_blocking().expect("save");
    let error = Simulator::spawn_in_background(SimConfig { seed: 99, ..config })
        .expect_err("foreign tenants");
    assert!(error.to_string().contains("not among"), "{error}");
}

#[test]
fn the_fleet_file_compiles_in_a_project_made_by_init() {
    let sim = Sim::with(SimConfig {
        tenants: 4,
        ..test_config()
    });
    let fleet = sim.handle.fleet_tenants_toml();
    assert!(fleet.contains(&format!("graph = \"{}\"", sim.handle.base_url())));
    assert!(fleet.contains("client_secret_env = \"TENANTFORM_SIM_CLIENT_SECRET\""));
    assert!(fleet.contains("tenantform-sim-well-known-secret"));
    let project = Project::init();
    for entry in std::fs::read_dir(project.path().join("tenants")).expect("tenants dir") {
        std::fs::remove_file(entry.expect("entry").path()).expect("remove example tenant");
    }
    project.file("tenants/fleet.toml", &fleet);
    let out = project.cmd(&["validate"]).run().success();
    assert!(
        out.stdout.contains('4') || out.stderr.contains('4'),
        "{out:?}"
    );

    let secret = Sim::with(SimConfig {
        client_secret: "a-real-looking-secret".into(),
        ..test_config()
    });
    assert!(
        !secret
            .handle
            .fleet_tenants_toml()
            .contains("a-real-looking-secret")
    );
}

#[test]
fn the_sim_command_prints_its_address_first_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fleet = dir.path().join("fleet.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantform"))
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--tenants",
            "2",
            "--seed",
            "3",
        ])
        .arg("--fleet-out")
        .arg(&fleet)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tenantform sim");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let addr = first
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(!addr.ends_with(":0"), "{addr}");
    let mut rest = String::new();
    while !rest.contains("tenants file written") {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("line") == 0 {
            break;
        }
        rest.push_str(&line);
    }
    assert!(fleet.exists(), "{rest}");
    let tenants: serde_json::Value = reqwest::blocking::get(format!("http://{addr}/_sim/tenants"))
        .expect("introspection")
        .json()
        .expect("json");
    assert_eq!(
        tenants["value"][0]["id"],
        tenantform::source::init::fleet_tenant_id("3", 0)
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    let mut tail = String::new();
    stdout.read_to_string(&mut tail).expect("rest of stdout");
    assert!(exit.success(), "{exit:?}\n{tail}");
    assert!(tail.contains("state saved to"), "{tail}");
    assert!(dir.path().join("state").join("state.jsonl").exists());
}

#[test]
fn sim_help_teaches_defaults_the_well_known_secret_and_an_example() {
    let out = crate::harness::tenantform()
        .args(&["sim", "--help"])
        .run()
        .success();
    for text in [
        "--listen",
        "127.0.0.1:0",
        "tenantform-sim-well-known-secret",
        "00000000-0000-4000-8000-00000000c11e",
        "--fleet-out",
        "--withdraw",
        "Example",
    ] {
        assert!(
            out.stdout.contains(text),
            "help lacks {text}:\n{}",
            out.stdout
        );
    }
    crate::harness::tenantform()
        .args(&["sim", "--withdraw", "nonsense"])
        .run()
        .code(64);
    crate::harness::tenantform()
        .args(&[
            "sim",
            "--tenants",
            "1",
            "--withdraw",
            "5:Group.ReadWrite.All",
        ])
        .run()
        .code(64)
        .stderr_has("out of range");
    // The audit log's ingestion delay and retention, and their bad values.
    for text in [
        "--audit-delay",
        "--audit-retention-days",
        "--audit-retention",
    ] {
        assert!(out.stdout.contains(text), "help lacks {text}");
    }
    crate::harness::tenantform()
        .args(&["sim", "--tenants", "1", "--audit-retention", "3:7"])
        .run()
        .code(64)
        .stderr_has("--audit-retention 3:7: tenant index 3 is out of range");
    crate::harness::tenantform()
        .args(&["sim", "--audit-retention", "1:0"])
        .run()
        .code(64)
        .stderr_has("expected 1 to 3650");
    crate::harness::tenantform()
        .args(&["sim", "--audit-retention-days", "0"])
        .run()
        .code(64);
}

#[test]
fn tls_serves_https_to_clients_that_trust_the_written_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("sim-ca.pem");
    let handle = Simulator::spawn_in_background(SimConfig {
        tls_cert_out: Some(ca.clone()),
        ..test_config()
    })
    .expect("simulator starts");
    let base = handle.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let pem = std::fs::read(&ca).expect("the authority's PEM is written");
    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .build()
        .expect("client");
    let response = trusting
        .get(format!("{base}/_sim/tenants"))
        .send()
        .expect("https request");
    assert_eq!(response.status().as_u16(), 200);
    // A client that does not trust it cannot connect.
    let stranger = reqwest::blocking::Client::new();
    assert!(stranger.get(format!("{base}/_sim/tenants")).send().is_err());
}

#[test]
fn an_unwritable_fleet_file_or_a_busy_address_is_invalid_input() {
    let dir = tempfile::tempdir().expect("dir");
    let out = crate::harness::tenantform()
        .args(&["sim", "--fleet-out"])
        .arg(dir.path().join("missing/dir/fleet.toml"))
        .run()
        .code(1);
    assert!(
        out.stderr.contains("cannot write --fleet-out"),
        "{}",
        out.stderr
    );
    let busy = Simulator::spawn_in_background(test_config()).expect("simulator starts");
    let out = crate::harness::tenantform()
        .args(&["sim", "--listen", &busy.addr().to_string()])
        .run()
        .code(1);
    assert!(
        out.stderr.contains("choose another --listen address"),
        "{}",
        out.stderr
    );
}
