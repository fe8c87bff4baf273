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
    let expected: Vec<&str> = tenantform::kinds::all().iter().map(|k| k.name).collect();
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

/// Graph's metadata: `TENANTFORM_GRAPH_METADATA`, else `../shared/graph-metadata` beside the
/// clone (where CI lays it); a plain clone has neither.
fn graph_metadata() -> (std::path::PathBuf, bool) {
    match std::env::var_os("TENANTFORM_GRAPH_METADATA") {
        Some(dir) => (dir.into(), true),
        None => (repo().join("../shared/graph-metadata"), false),
    }
}

#[test]
#[allow(clippy::print_stderr)] // says that it skipped
fn committed_schemas_match_the_metadata() {
    let (metadata, required) = graph_metadata();
    if !metadata.join("v1.0-Prod.csdl").is_file() {
        // A plain clone has no copy of Graph's metadata (book/src/schemas.md says where it comes
        // from); .ci/run says loudly that it skipped the check. Given explicitly, it must be there.
        assert!(
            !required,
            "TENANTFORM_GRAPH_METADATA={} holds no v1.0-Prod.csdl",
            metadata.display()
        );
        eprintln!(
            "skipped: no Graph metadata at {} (set TENANTFORM_GRAPH_METADATA)",
            metadata.display()
        );
        return;
    }
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
fn render_says_when_the_tenant_skips_the_resource() {
    // Contoso's facts lack Entra ID P2.
    let p = Project::init();
    p.cmd(&["render", "--tenant", "Contoso", "--resource", "ca-signin-risk"])
        .run()
        .code(1)
        .stderr_has("tenant Contoso skips resource \"ca-signin-risk\" (reason: needs Microsoft Entra ID P2 (AAD_PREMIUM_P2)");
    // Northwind (no facts) skips the same resource by an override.
    let tenants = p.read("tenants/northwind.toml")
        + "\n[[tenant.overrides]]\nresource = \"ca-signin-risk\"\nskip = true\nreason = \"Risk handled by the SOC\"\n";
    p.file("tenants/northwind.toml", tenants);
    p.cmd(&["render", "--tenant", "Northwind Traders", "--resource", "ca-signin-risk"])
        .run()
        .code(1)
        .stderr_has("tenant Northwind Traders skips resource \"ca-signin-risk\" (reason: Risk handled by the SOC)");
}

#[test]
fn mistyped_tenant_selection_is_not_a_compile_error() {
    let p = Project::init();
    for args in [
        &["plan", "--tenant", "Contosso"][..],
        &["deploy", "--yes", "--tenant", "Contosso"],
        &["validate", "--tenant", "Contosso"],
        &["compile", "--out", "out", "--tenant", "Contosso"],
    ] {
        p.cmd(args)
            .run()
            .code(64)
            .stderr_has("--tenant Contosso: no tenant of the project has this id or name")
            .stderr_has("did you mean \"Contoso\"?")
            .stderr_has("the selection names no tenant of the project")
            .stderr_lacks("do not compile");
    }
    p.cmd(&["plan", "--ring", "pilto"])
        .run()
        .code(64)
        .stderr_has("--ring pilto: no tenant is in this ring")
        .stderr_has("did you mean \"pilot\"?")
        .stderr_has("nothing was planned")
        .stderr_lacks("do not compile");
    // deploy's rollout order too: a mistyped ring would otherwise deploy nothing, silently.
    p.cmd(&["deploy", "--yes", "--rings", "pilot,braod"])
        .run()
        .code(64)
        .stderr_has("--rings braod: no tenant is in this ring")
        .stderr_has("did you mean \"broad\"?")
        .stderr_has("nothing was deployed");
    assert!(!p.path().join(".tenantform/runs").exists());
}

/// `--tenant X`, `--ring X` and `--rings X,Y` values in a help text's examples.
fn selections_in(help: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in help
        .lines()
        .filter(|l| l.trim_start().starts_with("tenantform "))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            if matches!(pair[0], "--tenant" | "--ring" | "--rings") {
                found.push((pair[0].to_string(), pair[1].to_string()));
            }
        }
    }
    found
}

#[test]
fn help_examples_select_tenants_that_init_and_fleet_projects_both_have() {
    let help = tenantform().arg("--help").run().success().stdout;
    let deploy_help = tenantform()
        .args(&["deploy", "--help"])
        .run()
        .success()
        .stdout;
    let mut selections = selections_in(&help);
    selections.extend(selections_in(&deploy_help));
    assert!(
        !selections.is_empty(),
        "no example selects tenants:\n{help}"
    );
    let init = Project::init();
    let fleet = Project::init();
    for name in ["contoso", "fabrikam", "northwind"] {
        std::fs::remove_file(fleet.path().join(format!("tenants/{name}.toml"))).expect("rm");
    }
    fleet.file(
        "tenants/fleet.toml",
        tenantform::source::init::fleet_tenants_toml(
            "0",
            3,
            &tenantform::source::init::TenantEndpoints::default(),
        ),
    );
    for project in [&init, &fleet] {
        for (flag, value) in &selections {
            // validate takes --tenant and --ring; each ring of --rings must exist on its own.
            let flag = if flag == "--rings" { "--ring" } else { flag };
            for value in value.split(',') {
                project.cmd(&["validate", flag, value]).run().success();
            }
        }
    }
}

#[test]
fn init_prints_its_result_on_stdout_and_every_file_ends_with_a_newline() {
    let p = Project::empty();
    let dir = p.path().join("proj");
    let out = tenantform().arg("init").arg(&dir).run().success();
    assert!(out.stderr.is_empty(), "stderr: {}", out.stderr);
    let out = out
        .stdout_has("created project")
        .stdout_has("baselines/README.md")
        .stdout_has("next: tenantform validate");
    assert!(out.stdout.ends_with('\n'));
    for (path, text) in tenantform::source::init::project_files() {
        let written = std::fs::read_to_string(dir.join(&path)).expect("written");
        assert_eq!(written, text);
        assert!(text.ends_with('\n'), "{path} lacks a final newline");
    }
}

#[test]
fn compile_without_out_does_not_show_project_as_required() {
    let p = Project::init();
    let out = p.cmd(&["compile"]).run().code(64);
    let usage = out
        .stderr
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("no usage line:\n{}", out.stderr));
    assert!(usage.contains("[--project <DIR>]"), "{usage}");
    assert!(!usage.contains(" --project <DIR> "), "{usage}");
}

#[test]
fn validate_inside_a_project_subdirectory_suggests_the_project_not_init() {
    let p = Project::init();
    let tenants = p.path().join("tenants");
    let out = tenantform()
        .arg("validate")
        .current_dir(&tenants)
        .run()
        .code(1)
        .stderr_has("is inside one")
        .stderr_has("pass `-p ..`")
        .stderr_lacks("tenantform init");
    drop(out);
    // What it suggests works from there.
    tenantform()
        .args(&["validate", "-p", ".."])
        .current_dir(&tenants)
        .run()
        .success();
    // Two levels down, from a relative path.
    std::fs::create_dir_all(tenants.join("eu")).expect("mkdir");
    tenantform()
        .args(&["validate", "-p", "tenants/eu"])
        .current_dir(p.path())
        .run()
        .code(1)
        .stderr_has("pass `-p .`");
    // Outside any project, init is still the advice.
    let empty = Project::empty();
    empty
        .cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has("tenantform init");
}

#[test]
fn runs_help_describes_the_formats_runs_has() {
    for sub in ["list", "show"] {
        let help = tenantform()
            .args(&["runs", sub, "--help"])
            .run()
            .success()
            .stdout;
        assert!(help.contains("One JSON document"), "{help}");
        for foreign in ["plan:", "one event per line", "Progress", "bars"] {
            assert!(
                !help.contains(foreign),
                "runs {sub} --help says {foreign:?}:\n{help}"
            );
        }
    }
}

#[test]
fn sim_exit_codes_in_the_book_agree_with_each_other() {
    // What the binary does (exit 1 for a busy --listen and an unwritable --fleet-out) is pinned
    // by sim_state::an_unwritable_fleet_file_or_a_busy_address_is_invalid_input; the book's
    // global table must say the same as the sim section.
    let book = std::fs::read_to_string(repo().join("book/src/reference/cli.md")).expect("book");
    let global = book
        .split("\n## Exit codes\n")
        .nth(1)
        .expect("a global exit-code table");
    let row = |code: &str| {
        global
            .lines()
            .find(|l| l.starts_with(&format!("| {code} |")))
            .unwrap_or_else(|| panic!("no row {code}"))
            .to_string()
    };
    let invalid = row("1");
    assert!(invalid.contains("`--listen` address"), "{invalid}");
    assert!(invalid.contains("`--fleet-out` file"), "{invalid}");
    let internal = row("70");
    assert!(!internal.contains("--fleet-out"), "{internal}");
    assert!(!internal.contains("`sim` can't listen"), "{internal}");
    let sim = book
        .split("## `tenantform sim`")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the sim section");
    let sim_invalid = sim
        .lines()
        .find(|l| l.starts_with("| 1 |"))
        .expect("sim's row 1");
    assert!(sim_invalid.contains("--listen") && sim_invalid.contains("--fleet-out"));
}

#[test]
fn ci_says_when_it_skips_the_schema_freshness_check() {
    let empty = Project::empty();
    let out = std::process::Command::new("bash")
        .arg(repo().join(".ci/schemas"))
        .arg(empty.path())
        .output()
        .expect("bash");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("SKIPPED: no Graph metadata at"),
        "{stdout}"
    );
    assert!(stdout.contains("NOT checked"), "{stdout}");
    assert!(stdout.contains("msgraph-metadata"), "{stdout}");
    let run = std::fs::read_to_string(repo().join(".ci/run")).expect(".ci/run");
    assert!(
        run.contains("bash .ci/schemas"),
        ".ci/run does not run the check"
    );
    assert!(
        !run.contains("--metadata ../shared/graph-metadata"),
        "{run}"
    );
}

#[test]
fn readme_tour_says_how_to_put_tenantform_on_the_path() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let tour = readme.split("## A short tour").nth(1).expect("the tour");
    let install = tour
        .find("cargo install --path .")
        .expect("cargo install --path .");
    let run = tour
        .find("cargo run --release --")
        .expect("cargo run --release --");
    let first = tour.find("`tenantform ").expect("a tenantform command");
    assert!(
        install < first && run < first,
        "say it before the first command"
    );
    // The two set-up commands stay.
    assert!(readme.contains("\ncargo run --release -- demo\n"));
    assert!(readme.contains("\ncargo test\n"));
}

/// `(resource counts, requests less retries)` from demo's deploy summary.
fn demo_figures(stderr: &str) -> (String, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("deploy: "))
        .unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let resources = line
        .split("resources: ")
        .nth(1)
        .and_then(|r| r.split(" (").next())
        .expect("resources")
        .to_string();
    let number_before = |word: &str| -> u64 {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        line[..at]
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|s| !s.is_empty())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{word} in {line}"))
    };
    (
        resources,
        number_before(" requests") - number_before(" retries"),
    )
}

#[test]
fn demo_counts_the_same_resources_and_requests_every_run() {
    let run = || {
        let out = tenantform()
            .args(&["demo", "--tenants", "2", "--time-scale", "20"])
            .run()
            .success();
        demo_figures(&out.stderr)
    };
    let first = run();
    assert!(first.0.contains("0 failed"), "{first:?}");
    assert_eq!(first, run());
}

#[test]
fn demo_with_three_tenants_synchronizes_a_hub_group_into_two_spokes() {
    let out = tenantform()
        .args(&["demo", "--tenants", "3", "--time-scale", "20"])
        .run()
        .success();
    assert!(
        out.stderr
            .contains("link hub-to-spoke-1: ok, 9 step(s) changed, 0 unchanged")
            && out
                .stderr
                .contains("link hub-to-spoke-2: ok, 9 step(s) changed"),
        "{}",
        out.stderr
    );
    let text = &out.stdout;
    assert!(
        text.contains("re-plan: 3 of 3 tenants have no change left"),
        "{text}"
    );
    assert!(
        text.contains("re-plan: 2 of 2 cross-tenant links have no change left"),
        "{text}"
    );
    assert!(text.contains("a provisioning cycle ran (2 jobs)"), "{text}");
    let spokes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" now has 3 synchronized users: "))
        .collect();
    assert_eq!(spokes.len(), 2, "{text}");
    for line in spokes {
        for who in [
            "Ada Lovelace (Member)",
            "Alan Turing (Member)",
            "Grace Hopper (Member)",
        ] {
            assert!(line.contains(who), "{line}");
        }
    }
    assert!(text.contains("drift again: in sync"), "{text}");
}
