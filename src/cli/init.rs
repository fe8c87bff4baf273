//! `tenantform init DIR`: a project on the shipped baselines with three example tenants; with
//! `--ci github|azure-devops`, CI pipelines for the project in DIR (new or existing).

use std::path::{Path, PathBuf};

use tenantform::source::pipelines::{self, CiSystem};

use super::{err, exit, out};

/// The CI systems `init --ci` writes pipelines for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Ci {
    /// GitHub Actions: three workflows under .github/workflows/.
    Github,
    /// Azure Pipelines: azure-pipelines.yml.
    AzureDevops,
}

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The project validates and compiles as it is:
  tenantform init my-msp && tenantform validate --project my-msp

Pipelines (--ci), for a new project or one that exists (only the pipeline files are added; an
existing pipeline file is never overwritten):
  tenantform init . --ci github          .github/workflows/tenantform-{pull-request,deploy,drift}.yml
  tenantform init . --ci azure-devops    azure-pipelines.yml
On a pull request: validate (SARIF to code scanning) and plan (markdown summary and comment).
On a merge: plan, wait for the `tenantform-production` environment's approval, then deploy
exactly the approved plan file (`deploy --plan plan.json --approved-hash sha256:...`), over
--shards runners, each shard's journal kept as an artifact. Nightly: `drift --all`, report kept
as an artifact. Secrets come from the CI secret store: the variables the tenants'
client_secret_env name, listed at the top of each file; never written.")]
pub(crate) struct Args {
    /// The new project's directory (must be empty or not exist); with --ci, may be an
    /// existing project.
    dir: PathBuf,
    /// Also write CI pipelines for this system.
    #[arg(long, value_enum, value_name = "SYSTEM")]
    ci: Option<Ci>,
    /// With --ci: deploy over N runners (`deploy --shard K/N`, K = 1..N).
    #[arg(long, value_name = "N", default_value_t = 4, requires = "ci",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=pipelines::MAX_SHARDS as u64))]
    shards: usize,
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let existing = args.dir.join("tenantform.toml").is_file();
    let mut text = String::new();
    if !(existing && args.ci.is_some()) {
        match tenantform::source::init::init(&args.dir) {
            Ok(files) => {
                text.push_str(&format!("created project {}\n", args.dir.display()));
                for f in files {
                    text.push_str(&format!("  {}\n", f.display()));
                }
            }
            Err(e) if args.dir.exists() && !args.dir.is_dir() => {
                err(&format!(
                    "error: {} is a file, not a directory ({e})\n",
                    args.dir.display()
                ));
                return Ok(exit::INVALID_INPUT);
            }
            Err(e @ tenantform::source::init::InitError::NotEmpty(_)) => {
                err(&format!("error: {e}\n"));
                return Ok(exit::INVALID_INPUT);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(ci) = args.ci {
        match write_pipelines(&args.dir, ci, args.shards)? {
            Ok(written) => text.push_str(&written),
            Err(code) => return Ok(code),
        }
    }
    text.push_str(&format!(
        "next: tenantform validate --project {0}\n      tenantform compile --project {0} --out {0}/out\n",
        args.dir.display()
    ));
    // The project and its files are the result: stdout (errors stay on stderr).
    out(&text);
    Ok(exit::OK)
}

/// Write the pipelines; `Ok(Err(code))` when refused (a message printed).
fn write_pipelines(dir: &Path, ci: Ci, shards: usize) -> anyhow::Result<Result<String, u8>> {
    let (project, diagnostics) = match tenantform::source::project::load(dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(Err(exit::INVALID_INPUT));
        }
    };
    if diagnostics.has_errors() {
        err(&format!(
            "error: the project in {} has errors; fix them (tenantform validate) before writing pipelines for it (nothing was written)\n",
            dir.display()
        ));
        return Ok(Err(exit::INVALID_INPUT));
    }
    let system = match ci {
        Ci::Github => CiSystem::GitHub,
        Ci::AzureDevops => CiSystem::AzureDevOps,
    };
    let pipeline = pipelines::pipelines(&project, system, shards);
    let taken: Vec<String> = pipeline
        .files
        .iter()
        .filter(|(path, _)| dir.join(path).exists())
        .map(|(path, _)| path.display().to_string())
        .collect();
    if !taken.is_empty() {
        err(&format!(
            "error: {} already {} in {}; remove {} to write new pipelines (nothing was written)\n",
            taken.join(", "),
            if taken.len() == 1 { "exists" } else { "exist" },
            dir.display(),
            if taken.len() == 1 { "it" } else { "them" }
        ));
        return Ok(Err(exit::INVALID_INPUT));
    }
    let mut text = format!("wrote pipelines ({shards} deploy shards):\n");
    for (path, body) in &pipeline.files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, body)?;
        text.push_str(&format!("  {}\n", full.display()));
    }
    if pipeline.secrets.is_empty() {
        text.push_str("secrets: the tenants name no client_secret_env; add your secrets to the pipelines' env\n");
    } else {
        text.push_str(&format!(
            "secrets to create in the CI secret store: {}\n",
            pipeline.secrets.join(", ")
        ));
    }
    if !pipeline.file_credentials.is_empty() {
        text.push_str(&format!(
            "note: these tenants read credentials from files, which the pipelines must put on the runner: {}\n",
            pipeline.file_credentials.join(", ")
        ));
    }
    text.push_str(
        "approvals: create the environment tenantform-production with required reviewers\n",
    );
    Ok(Ok(text))
}
