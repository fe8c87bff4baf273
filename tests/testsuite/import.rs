//! `tenantform import`: each format's fixture backup (`fixtures/import/<format>/<case>/backup/`,
//! written in that tool's layout and encodings) imports to exactly the files in `expected/`
//! (regenerate with `TENANTFORM_BLESS=1`); the imported Conditional Access set validates,
//! deploys to a simulated tenant, re-plans to no change and equals its source apart from the
//! mapped ids; bad backups are errors naming the file, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use tenantform::import::{self, ImportFormat, ImportOptions, Severity, clean, decode};
use tenantform::sim::{FLEET_SECRET_ENV, SimConfig};

use crate::harness::{Project, fixture, tenantform};
use crate::sim_support::Sim;

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        let rel = entry
            .strip_prefix(dir)
            .expect("under dir")
            .to_string_lossy()
            .replace('\\', "/");
        out.insert(rel, std::fs::read(&entry).expect("read"));
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Import `fixtures/import/<case>/backup` and compare with `expected/` byte for byte.
fn imports_exactly(format: &str, case: &str) -> Project {
    let out = Project::empty();
    let dir = out.path().join("out");
    let base = fixture(&format!("import/{format}/{case}"));
    let run = tenantform()
        .args(&["import", "--from", format])
        .arg(base.join("backup"))
        .arg("--out")
        .arg(&dir)
        .run()
        .success();
    let got = tree(&dir);
    let expected_dir = base.join("expected");
    if std::env::var_os("TENANTFORM_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&expected_dir);
        for (rel, bytes) in &got {
            let path = expected_dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, bytes).expect("bless");
        }
        std::fs::write(base.join("expected.stderr"), &run.stderr).expect("bless");
    }
    let expected = tree(&expected_dir);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "files written"
    );
    for (rel, bytes) in &expected {
        assert_eq!(
            String::from_utf8_lossy(&got[rel]),
            String::from_utf8_lossy(bytes),
            "{rel} differs from fixtures/import/{format}/{case}/expected/{rel}"
        );
    }
    let stderr = std::fs::read_to_string(base.join("expected.stderr")).expect("expected.stderr");
    assert_eq!(run.stderr, stderr, "findings and summary");
    out
}

#[test]
fn intunemanagement_ca_set_in_mixed_encodings_imports_to_the_expected_baseline() {
    let out = imports_exactly("intunemanagement", "ca-set");
    // Deterministic: a second run into an empty folder gives the same bytes.
    let again = out.path().join("again");
    tenantform()
        .args(&["import", "--from", "intunemanagement"])
        .arg(fixture("import/intunemanagement/ca-set/backup"))
        .arg("--out")
        .arg(&again)
        .run()
        .success();
    assert_eq!(tree(&again), tree(&out.path().join("out")));
    // A non-empty folder is refused without --force, replaced with it.
    tenantform()
        .args(&["import", "--from", "intunemanagement"])
        .arg(fixture("import/intunemanagement/ca-set/backup"))
        .arg("--out")
        .arg(&again)
        .run()
        .code(64)
        .stderr_has("is not empty");
    std::fs::write(again.join("templates/imported/group/stale.json.tera"), "{}").expect("stale");
    tenantform()
        .args(&["import", "--from", "intunemanagement", "--force"])
        .arg(fixture("import/intunemanagement/ca-set/backup"))
        .arg("--out")
        .arg(&again)
        .run()
        .success();
    assert_eq!(
        tree(&again),
        tree(&out.path().join("out")),
        "--force replaces the baseline's files"
    );
}

#[test]
fn intunecd_json_and_yaml_import_to_the_expected_baseline() {
    imports_exactly("intunecd", "conditional-access");
}

#[test]
fn intunemanagement_assignments_become_assignment_sets_on_mapped_groups() {
    imports_exactly("intunemanagement", "assignments");
    let baseline = std::fs::read_to_string(fixture(
        "import/intunemanagement/assignments/expected/baselines/imported.toml",
    ))
    .expect("baseline");
    // The set hangs off its policy; a group outside the export and the filter are parameters.
    assert!(
        baseline.contains(
            "kind = \"deviceCompliancePolicyAssignment\"\nparent = \"windows-10-compliance\""
        ),
        "{baseline}"
    );
    assert!(
        baseline.contains("#   group_8e9f0a1b: group 8e9f0a1b-2c3d-4e4f-9a5b-6c7d8e9f0a1b"),
        "{baseline}"
    );
    let stderr = std::fs::read_to_string(fixture(
        "import/intunemanagement/assignments/expected.stderr",
    ))
    .expect("stderr");
    assert!(
        stderr.contains("assignment 2 comes from policySets 5e6f7a8b-0000-4000-8000-000000000009"),
        "{stderr}"
    );
    // Graph v1.0's assignment targets have no filters: the one filter is reported, not lost.
    assert!(
        stderr.contains("`/assignments/0/target/deviceAndAppManagementAssignmentFilterId` = \"0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e\" is not in Graph v1.0's deviceCompliancePolicyAssignment"),
        "{stderr}"
    );
    validates(
        "intunemanagement",
        "assignments",
        "group_8e9f0a1b = \"aaaaaaaa-0000-4000-8000-000000000006\"\n",
    );
}

#[test]
fn graph_json_objects_and_pages_import_to_the_expected_baseline() {
    imports_exactly("graph-json", "mixed");
}

#[test]
fn the_beta_only_feature_the_renamed_group_and_unknown_types_are_warnings_naming_the_file() {
    let stderr = std::fs::read_to_string(fixture("import/intunemanagement/ca-set/expected.stderr"))
        .expect("stderr");
    for line in [
        "warning: Contoso/ConditionalAccess/CA012 - Strict location enforcement.json: `/sessionControls/continuousAccessEvaluation` = {\"mode\":\"strictLocation\"} is not in Graph v1.0's conditionalAccessPolicy",
        "warning: Contoso/Groups/Device pilot.json: group 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e is also Contoso/Groups/Device pilot ring 1.json (renamed?)",
        "warning: Contoso/AssignmentFilters/Windows corporate.json: not imported",
    ] {
        assert!(stderr.contains(line), "{line}\n{stderr}");
    }
    let template = std::fs::read_to_string(fixture(
        "import/intunemanagement/ca-set/expected/templates/imported/ca-policy/ca012-strict-location-enforcement.json.tera",
    ))
    .expect("template");
    assert!(
        template.contains("not deployed, not in Graph v1.0: /sessionControls/continuousAccessEvaluation = {\"mode\":\"strictLocation\"}"),
        "{template}"
    );
}

#[test]
fn bad_files_are_errors_naming_them_and_nothing_is_written() {
    let backup = Project::empty();
    backup
        .file(
            "Tenant/ConditionalAccess/Truncated.json",
            "{\"displayName\": \"x\", \"conditions\": {",
        )
        .file("Tenant/ConditionalAccess/Odd.json", [0xFFu8, 0xFE, 0x7B])
        .file("Tenant/ConditionalAccess/List.json", "[1, 2]")
        .file(
            "Tenant/ConditionalAccess/Ok.json",
            "{\"displayName\": \"Ok\", \"state\": \"disabled\", \"conditions\": {}}",
        )
        .file("Tenant/MigrationTable.json", "{\"Objects\": 3}");
    let out = Project::empty();
    let run = tenantform()
        .args(&["import", "--from", "intunemanagement"])
        .arg(backup.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .run()
        .code(1)
        .stderr_has("error: Tenant/ConditionalAccess/Truncated.json: not valid JSON")
        .stderr_has("error: Tenant/ConditionalAccess/Odd.json: not valid Utf16Le text")
        .stderr_has("error: Tenant/ConditionalAccess/List.json: expected one JSON object")
        .stderr_has("error: Tenant/MigrationTable.json: not a migration table")
        .stderr_has("nothing written");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!out.path().join("out").exists());
    // A source that is not a folder.
    tenantform()
        .args(&[
            "import",
            "--from",
            "graph-json",
            "/nonexistent/backup",
            "--out",
        ])
        .arg(out.path().join("out"))
        .run()
        .code(1)
        .stderr_has("/nonexistent/backup is not a folder");
}

/// The imported CA set in a project whose one tenant is served by the simulator.
fn imported_project(sim: &Sim, user_id: &str) -> Project {
    let project = Project::empty();
    project.file("tenantform.toml", "[project]\nname = \"imported\"\n");
    let expected = fixture("import/intunemanagement/ca-set/expected");
    for (rel, bytes) in tree(&expected) {
        project.file(&rel, bytes);
    }
    let fleet = sim.handle.fleet_tenants_toml();
    let head = fleet
        .split("\n[tenant.params]")
        .next()
        .expect("tenant entry");
    let mut tenant = String::new();
    for line in head.lines() {
        if line.starts_with("baselines = ") {
            tenant.push_str("baselines = [\"imported\"]\n");
        } else {
            tenant.push_str(line);
            tenant.push('\n');
        }
    }
    tenant.push_str(&format!(
        "\n[tenant.params]\nuser_3e4f5a6b = \"{user_id}\"\n"
    ));
    project.file("tenants/fleet.toml", tenant);
    project
}

/// A source object as the tool saved it, cleaned the way import cleans it.
fn source_body(rel: &str, kind: &'static tenantform::kinds::Kind) -> Value {
    let bytes = std::fs::read(fixture(&format!(
        "import/intunemanagement/ca-set/backup/{rel}"
    )))
    .expect("source");
    let (value, _) = decode::document(&bytes, false).expect("decode");
    clean::clean(&clean::schema_for(kind).expect("schema"), value).body
}

fn replace_ids(value: &mut Value, map: &BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(new) = map.get(&s.to_ascii_lowercase()) {
                *s = new.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| replace_ids(v, map)),
        Value::Object(o) => o.values_mut().for_each(|v| replace_ids(v, map)),
        _ => {}
    }
}

#[test]
fn imported_ca_set_validates_deploys_replans_to_no_change_and_equals_its_source() {
    let sim = Sim::with(SimConfig {
        tenants: 1,
        time_scale: 20.0,
        ..SimConfig::default()
    });
    let secret = SimConfig::default().client_secret;
    let user_id = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
    let project = imported_project(&sim, user_id);
    project.cmd(&["validate"]).run().success();
    let cmd = |args: &[&str]| {
        let mut c = project.cmd(args);
        c.args(&["--time-scale", "20"])
            .env(FLEET_SECRET_ENV, &secret);
        c
    };
    cmd(&["deploy", "--yes"])
        .run()
        .success()
        .stderr_has("1 of 1 tenants converged");
    cmd(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("0 to create, 0 to update, 0 to adopt");

    let tenant = sim.handle.tenants()[0].id.clone();
    let state = sim.handle.tenant_state(&tenant).expect("tenant");
    let objects = &state["objects"];
    let by_name = |kind: &str| -> BTreeMap<String, Value> {
        objects[kind]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| {
                (
                    o["displayName"].as_str().expect("name").to_string(),
                    o.clone(),
                )
            })
            .collect()
    };
    let groups = by_name("group");
    let locations = by_name("namedLocation");
    let policies = by_name("conditionalAccessPolicy");
    assert_eq!(policies.len(), 12, "{:?}", policies.keys());
    // Source ids → the ids the simulated tenant gave the imported objects.
    let id_of = |map: &BTreeMap<String, Value>, name: &str| {
        map.get(name).unwrap_or_else(|| panic!("{name} deployed"))["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let ids: BTreeMap<String, String> = [
        (
            "5d3b2c1a-9e8f-4a7b-8c6d-1e2f3a4b5c6d",
            id_of(&groups, "Emergency access"),
        ),
        (
            "7a1b2c3d-4e5f-4a6b-9c8d-0e1f2a3b4c5d",
            id_of(&groups, "Tier0 admins"),
        ),
        (
            "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            id_of(&groups, "Device pilot ring 1"),
        ),
        (
            "9c8b7a6d-5e4f-4321-8abc-def012345678",
            id_of(&groups, "MFA rollout"),
        ),
        (
            "0f1e2d3c-4b5a-4968-8776-655443322110",
            id_of(&locations, "Head office"),
        ),
        (
            "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e",
            id_of(&locations, "Trusted countries"),
        ),
        ("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b", user_id.to_string()),
        ("%organizationid%", tenant.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let kind = tenantform::kinds::by_name("conditionalAccessPolicy").expect("kind");
    let dir = fixture("import/intunemanagement/ca-set/backup/Contoso/ConditionalAccess");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    assert_eq!(files.len(), 12);
    for file in files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let mut source = source_body(&format!("Contoso/ConditionalAccess/{name}"), kind);
        replace_ids(&mut source, &ids);
        let display = source["displayName"]
            .as_str()
            .expect("displayName")
            .to_string();
        let deployed = &policies[&display];
        let changes = tenantform::live::normalize::diff(kind, &source, deployed);
        assert!(changes.is_empty(), "{name}: {changes:?}");
        // Every group the source excluded by id is the break-glass group, mapped.
        assert_eq!(
            deployed["conditions"]["users"]["excludeGroups"],
            serde_json::json!([ids["5d3b2c1a-9e8f-4a7b-8c6d-1e2f3a4b5c6d"]]),
            "{name}"
        );
    }
    let guests =
        &policies["CA010 - MFA for guests"]["conditions"]["users"]["excludeGuestsOrExternalUsers"];
    assert_eq!(
        guests["externalTenants"]["members"],
        serde_json::json!([tenant])
    );
    assert_eq!(
        policies["CA005 - MFA outside the office"]["conditions"]["locations"]["excludeLocations"],
        serde_json::json!([ids["0f1e2d3c-4b5a-4968-8776-655443322110"]])
    );
}

fn import_in_process(format: ImportFormat, source: &Path, out: &Path) -> import::ImportReport {
    import::import(&ImportOptions {
        format,
        source: source.to_path_buf(),
        out: out.to_path_buf(),
        name: "imported".into(),
        force: true,
    })
    .expect("import runs")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random bytes, truncated and re-encoded fixture files, in every format's folders: the
    /// import never panics, and every error names a file of the backup.
    #[test]
    fn arbitrary_backup_files_give_findings_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..2000,
        utf16: bool,
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        let source = std::fs::read(fixture(
            "import/intunemanagement/ca-set/backup/Contoso/ConditionalAccess/CA010 - MFA for guests.json",
        ))
        .expect("fixture");
        let truncated = &source[..cut.min(source.len())];
        let reencoded: Vec<u8> = if utf16 {
            let text = String::from_utf8_lossy(truncated);
            let mut v = vec![0xFF, 0xFE];
            v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            v
        } else {
            truncated.to_vec()
        };
        let files = [
            "T/ConditionalAccess/random.json",
            "T/ConditionalAccess/truncated.json",
            "T/NamedLocations/random.json",
            "T/Groups/random.json",
            "T/MigrationTable.json",
            "Conditional Access/random.yaml",
            "Conditional Access/truncated.json",
            "Settings Catalog/random.json",
            "page.json",
        ];
        for (i, rel) in files.iter().enumerate() {
            let path = dir.path().join("backup").join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            let content = if rel.contains("truncated") { reencoded.clone() } else if i % 2 == 0 { bytes.clone() } else { source.clone() };
            std::fs::write(path, content).expect("write");
        }
        for format in [ImportFormat::IntuneCd, ImportFormat::IntuneManagement, ImportFormat::GraphJson] {
            let report = import_in_process(format, &dir.path().join("backup"), &dir.path().join("out"));
            for finding in report.findings.iter().filter(|f| f.severity == Severity::Error) {
                let file = finding.file.split('#').next().unwrap_or(&finding.file);
                prop_assert!(dir.path().join("backup").join(file).exists(), "{finding}");
            }
        }
    }
}

/// A project around an expected import, with one tenant that sets `params`.
fn validates(format: &str, case: &str, params: &str) {
    let project = Project::empty();
    project.file("tenantform.toml", "[project]\nname = \"imported\"\n");
    for (rel, bytes) in tree(&fixture(&format!("import/{format}/{case}/expected"))) {
        project.file(&rel, bytes);
    }
    project.file(
        "tenants/t.toml",
        format!(
            "[[tenant]]\nid = \"11111111-1111-4111-8111-111111111111\"\nname = \"Alpha\"\nbaselines = [\"imported\"]\n\n[tenant.credentials]\nclient_id = \"22222222-2222-4222-8222-222222222222\"\nclient_secret_env = \"ALPHA_SECRET\"\n\n[tenant.params]\n{params}"
        ),
    );
    project.cmd(&["validate"]).run().success();
    let compiled = project.path().join("bundles");
    let out = compiled.to_string_lossy().into_owned();
    project.cmd(&["compile", "--out", &out]).run().success();
    let bundle =
        std::fs::read_to_string(compiled.join("11111111-1111-4111-8111-111111111111.json"))
            .expect("bundle");
    // Text that looks like Tera reaches the body as text, never as template syntax.
    if format == "graph-json" {
        assert!(
            bundle.contains("\"displayName\": \"MFA {{ everyone }}\""),
            "{bundle}"
        );
    }
}

#[test]
fn intunecd_and_graph_json_imports_validate_and_compile_once_their_parameters_are_set() {
    validates(
        "intunecd",
        "conditional-access",
        "group_5d3b2c1a = \"aaaaaaaa-0000-4000-8000-000000000001\"\nlocation_0f1e2d3c = \"aaaaaaaa-0000-4000-8000-000000000002\"\n",
    );
    validates(
        "graph-json",
        "mixed",
        "group_99999999 = \"aaaaaaaa-0000-4000-8000-000000000003\"\nterms_of_use_77777777 = \"aaaaaaaa-0000-4000-8000-000000000004\"\n",
    );
}
