//! What a user sees at the command line: help, usage errors (exit 64), `init`, `kinds`,
//! `render`, `schema generate --check`.

use crate::harness::{Project, repo, tenantform};

#[test]
fn help_teaches_the_everyday_commands_and_exit_codes() {
    tenantform()
        .arg("--help")
        .run()
        .success()
        .stdout_has("validate")
        .stdout_has("compile")
        .stdout_has("Exit codes: 0 ok, 1 invalid input");
}

#[test]
fn usage_errors_exit_64() {
    tenantform().arg("frobnicate").run().code(64);
    tenantform()
        .args(&["compile", "--project", "."])
        .run()
        .code(64)
        .stderr_has("--out");
    tenantform()
        .args(&["validate", "--format", "xml"])
        .run()
        .code(64);
    tenantform()
        .args(&["deploy", "--all", "--memory-budget", "64 furlongs"])
        .run()
        .code(64)
        .stderr_has("unknown unit");
    tenantform()
        .args(&["plan", "--concurrency", "0"])
        .run()
        .code(64)
        .stderr_has("--concurrency");
}

#[test]
fn init_makes_a_project_that_validates_strictly_and_compiles() {
    let p = Project::init();
    p.cmd(&["validate", "--strict"])
        .run()
        .success()
        .stderr_has("3 tenant(s)")
        .stderr_has("0 errors, 0 warnings");
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success()
        .stderr_has("3 of 3 tenants compiled");
    // No secret in the project: credentials only name an environment variable.
    let contoso = p.read("tenants/contoso.toml");
    assert!(contoso.contains("client_secret_env = \"CONTOSO_CLIENT_SECRET\""));
}

#[test]
fn init_refuses_a_non_empty_directory_and_writes_nothing() {
    let p = Project::empty();
    p.file("keep.txt", "mine");
    tenantform()
        .arg("init")
        .arg(p.path())
        .run()
        .code(1)
        .stderr_has("is not empty");
    let entries: Vec<_> = std::fs::read_dir(p.path()).expect("dir").collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn kinds_lists_every_registry_entry() {
    let out = tenantform().args(&["kinds", "--json"]).run().success();
    let kinds = out.json();
    let names: Vec<&str> = kinds
        .as_array()
        .expect("list")
        .iter()
        .map(|k| k["name"].as_str().expect("name"))
        .collect();
    let expected: Vec<&str> = tenantform::kinds::KINDS.iter().map(|k| k.name).collect();
    assert_eq!(names, expected);
    tenantform()
        .arg("kinds")
        .run()
        .success()
        .stdout_has("conditionalAccessPolicy  (ref prefix \"ca-policy\")")
        .stdout_has("throttle: conditional-access");
}

#[test]
fn render_shows_one_request_and_suggests_names() {
    let p = Project::init();
    let out = p
        .cmd(&[
            "render",
            "--tenant",
            "Contoso",
            "--resource",
            "ca-block-legacy-auth",
        ])
        .run()
        .success();
    let doc = out.json();
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["path"], "/v1.0/identity/conditionalAccess/policies");
    assert_eq!(doc["body"]["displayName"], "Block legacy authentication");
    p.cmd(&[
        "render",
        "--tenant",
        "Contoso",
        "--resource",
        "ca-block-legacy-aut",
    ])
    .run()
    .code(1)
    .stderr_has("did you mean \"ca-block-legacy-auth\"?");
    p.cmd(&["render", "--tenant", "Contosso", "--resource", "x"])
        .run()
        .code(1)
        .stderr_has("did you mean \"Contoso\"?");
}

#[test]
fn committed_schemas_match_the_metadata() {
    let metadata = repo().join("../shared/graph-metadata");
    assert!(
        metadata.join("v1.0-Prod.csdl").is_file(),
        "Graph metadata not found at {} (CI lays shared/ beside the clone)",
        metadata.display()
    );
    tenantform()
        .args(&["schema", "generate", "--check", "--metadata"])
        .arg(&metadata)
        .arg("--out")
        .arg(repo().join("src/schema/generated"))
        .run()
        .success()
        .stderr_has("up to date");
}

#[test]
fn user_mistakes_exit_1_not_70() {
    let p = Project::empty();
    p.file("a-file", "x");
    tenantform()
        .arg("init")
        .arg(p.path().join("a-file"))
        .run()
        .code(1)
        .stderr_has("is a file, not a directory");
    tenantform()
        .args(&["schema", "generate", "--check", "--metadata"])
        .arg(p.path().join("no-such-dir"))
        .run()
        .code(1)
        .stderr_has("cannot read Graph's metadata from");
}

#[test]
fn render_says_when_an_override_skips_the_resource() {
    let p = Project::init();
    p.cmd(&["render", "--tenant", "Contoso", "--resource", "ca-signin-risk"])
        .run()
        .code(1)
        .stderr_has("tenant Contoso skips resource \"ca-signin-risk\" by an override (reason: Tenant has Entra ID P1 only");
}
