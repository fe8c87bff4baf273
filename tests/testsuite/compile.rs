//! Bundles: deterministic (byte-identical whatever the thread count, run after run), selected
//! by tenant or ring, and diagnostics in JSON and SARIF for machines.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{Project, fixture, tenantform};

fn read_dir_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

#[test]
fn bundles_are_byte_identical_across_thread_counts_and_runs() {
    let p = Project::init();
    let a = p.path().join("a");
    let b = p.path().join("b");
    let c = p.path().join("c");
    p.cmd(&["compile", "-j", "1", "--out", a.to_str().expect("utf8")])
        .run()
        .success();
    p.cmd(&["compile", "-j", "2", "--out", b.to_str().expect("utf8")])
        .run()
        .success();
    p.cmd(&["compile", "-j", "7", "--out", c.to_str().expect("utf8")])
        .run()
        .success();
    let (a, b, c) = (read_dir_bytes(&a), read_dir_bytes(&b), read_dir_bytes(&c));
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn content_hash_is_the_documented_digest_of_the_file() {
    // book/src/reference/bundle.md: the compact canonical form without `content_hash` and
    // without bodies (each stood for by its `body_hash`); body_hash covers the body.
    let p = Project::from_fixture("valid/minimal");
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    let mut bundle: serde_json::Value =
        serde_json::from_str(&p.read("out/11111111-1111-4111-8111-111111111111.json"))
            .expect("json");
    let recorded = bundle["content_hash"].as_str().expect("hash").to_string();
    for op in bundle["operations"].as_array_mut().expect("ops") {
        let body = op["body"].take();
        assert_eq!(op["body_hash"], tenantform::canonical::hash(&body).as_str());
        op.as_object_mut().expect("op").remove("body");
    }
    bundle
        .as_object_mut()
        .expect("bundle")
        .remove("content_hash");
    assert_eq!(tenantform::canonical::hash(&bundle), recorded);
}

#[test]
fn content_hash_covers_the_bundle_and_changes_with_the_input() {
    let p = Project::from_fixture("valid/minimal");
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    let bundle = |p: &Project| -> serde_json::Value {
        serde_json::from_str(&p.read("out/11111111-1111-4111-8111-111111111111.json"))
            .expect("json")
    };
    let first = bundle(&p);
    let hash = first["content_hash"].as_str().expect("hash").to_string();
    assert!(hash.starts_with("sha256:") && hash.len() == 71, "{hash}");
    p.file(
        "tenants/tenants.toml",
        p.read("tenants/tenants.toml")
            .replace("countries = [\"US\", \"CA\"]", "countries = [\"US\"]"),
    );
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    assert_ne!(bundle(&p)["content_hash"], first["content_hash"]);
}

#[test]
fn selection_by_tenant_name_id_and_ring() {
    let p = Project::from_fixture("valid/minimal");
    let out = |name: &str| p.path().join(name);
    p.cmd(&[
        "compile",
        "--tenant",
        "Beta",
        "--out",
        out("x").to_str().expect("utf8"),
    ])
    .run()
    .success();
    assert_eq!(
        read_dir_bytes(&out("x")).keys().collect::<Vec<_>>(),
        vec!["33333333-3333-4333-8333-333333333333.json"]
    );
    p.cmd(&[
        "compile",
        "--ring",
        "pilot",
        "--out",
        out("y").to_str().expect("utf8"),
    ])
    .run()
    .success();
    assert_eq!(
        read_dir_bytes(&out("y")).keys().collect::<Vec<_>>(),
        vec!["11111111-1111-4111-8111-111111111111.json"]
    );
    p.cmd(&[
        "compile",
        "--tenant",
        "11111111-1111-4111-8111-111111111111",
        "--out",
        out("z").to_str().expect("utf8"),
    ])
    .run()
    .success();
    assert_eq!(read_dir_bytes(&out("z")).len(), 1);
    p.cmd(&["validate", "--tenant", "Betta"])
        .run()
        .code(64)
        .stderr_has("--tenant Betta: no tenant of the project has this id or name")
        .stderr_has("did you mean \"Beta\"?");
    p.cmd(&["validate", "--ring", "canary"])
        .run()
        .code(64)
        .stderr_has("--ring canary: no tenant is in this ring")
        .stderr_has("one of \"broad\" or \"pilot\"");
}

#[test]
fn json_diagnostics_carry_code_location_pointer_and_expected() {
    let out = tenantform()
        .args(&["validate", "--format", "json", "--project"])
        .arg(fixture("invalid/schema-violation"))
        .run()
        .code(1);
    let doc = out.json();
    assert_eq!(doc["errors"], 2);
    let d = doc["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["pointer"] == "/grantControls/builtInControls/0")
        .expect("the enum error");
    assert_eq!(d["code"], "TF401");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["location"]["file"], "templates/block-countries.json.tera");
    assert_eq!(d["location"]["line"], 16);
    assert!(
        d["expected"]
            .as_str()
            .expect("expected")
            .contains("\"block\"")
    );
    assert_eq!(d["help"], "did you mean \"block\"?");
    assert_eq!(d["tenants"].as_array().expect("tenants").len(), 2);
}

#[test]
fn sarif_output_is_sarif_2_1_0_with_rules_and_regions() {
    let out = tenantform()
        .args(&["validate", "--format", "sarif", "--project"])
        .arg(fixture("invalid/dangling-reference"))
        .run()
        .code(1);
    let doc = out.json();
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "tenantform");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "TF301");
    assert_eq!(result["level"], "error");
    let index = result["ruleIndex"].as_u64().expect("index") as usize;
    assert_eq!(rules[index]["id"], "TF301");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "templates/block-countries.json.tera"
    );
    assert_eq!(location["region"]["startLine"], 9);
}

/// Prepend a UTF-8 byte-order mark to a file of the project.
fn with_bom(p: &Project, rel: &str) {
    let text = p.read(rel);
    p.file(rel, format!("\u{feff}{text}"));
}

#[test]
fn a_leading_byte_order_mark_is_accepted_in_every_project_file() {
    // Regression (issue 15): a template starting with a BOM failed with TF203 at 1:1.
    let plain = Project::from_fixture("valid/minimal");
    let marked = Project::from_fixture("valid/minimal");
    for rel in [
        "tenantform.toml",
        "baselines/core.toml",
        "templates/group.json.tera",
        "templates/block-countries.json.tera",
        "tenants/tenants.toml",
    ] {
        with_bom(&marked, rel);
        assert!(marked.read(rel).starts_with('\u{feff}'));
    }
    let a = plain.path().join("out");
    let b = marked.path().join("out");
    plain
        .cmd(&["compile", "--out", a.to_str().expect("utf8")])
        .run()
        .success();
    marked
        .cmd(&["compile", "--out", b.to_str().expect("utf8")])
        .run()
        .success();
    assert_eq!(read_dir_bytes(&a), read_dir_bytes(&b));
}

#[test]
fn spans_in_a_file_with_a_byte_order_mark_count_from_the_first_character() {
    let p = Project::from_fixture("invalid/undefined-variable");
    with_bom(&p, "templates/group.json.tera");
    // The same place as without the mark (fixtures/invalid/undefined-variable/expected.txt).
    p.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("--> templates/group.json.tera:2:27");
    // An error on the first line of a TOML file is at column 1, not 2.
    let q = Project::from_fixture("valid/minimal");
    let tenants = q.read("tenants/tenants.toml");
    q.file(
        "tenants/tenants.toml",
        format!("\u{feff}bogus = 1\n{tenants}"),
    );
    q.cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("--> tenants/tenants.toml:1:1");
}
