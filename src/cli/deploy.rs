//! `tenantform plan` and `tenantform deploy`: select tenants, validate them, then read, plan
//! and (for deploy) apply against Graph, with progress, a journal, reports and exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tenantform::compile::Selection;
use tenantform::deploy::admission::starting_together;
use tenantform::deploy::ahead::ReadAhead;
use tenantform::deploy::{self, DeployOptions, Fleet, Run, RunJournal, Target};
use tenantform::graph::client::{GraphClient, RealTiming};
use tenantform::graph::pacing::Limits;
use tenantform::graph::retry::RetryPolicy;
use tenantform::journal::Entry;
use tenantform::live::plan_file::{PLAN_FORMAT, PlanFile};
use tenantform::report::DeploySummary;

use super::{ProjectArg, Selector, err, exit, out, output};
use tenantform::report::Output;
use tenantform::report::human::{PlanDetail, plan_text, skip_lines, summary_text};
use tenantform::report::junit::junit;
use tenantform::report::progress::{self, Style};

/// Output of plan and deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RunFormat {
    /// Progress and a summary for people (bars on a terminal).
    Human,
    /// JSON (plan: one document; deploy: one event per line).
    Json,
}

/// Output of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanFormat {
    /// Progress and the plan for people (bars on a terminal).
    Human,
    /// The plan file's JSON, one document.
    Json,
    /// Markdown for a pull-request comment or a CI job summary: counts per tenant, lockout-risk
    /// and deletion warnings, collapsible diffs; at most --markdown-limit characters.
    Markdown,
}

/// How to reach Graph.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Connection {
    /// At most N tenants at once. Without it, as many as --memory-budget admits (the
    /// heaviest first): Graph's limits are per tenant, so tenants side by side are how a fleet
    /// goes fast.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: Option<u64>,
    /// Memory for tenants in flight: 64MiB (the default) runs 1,000 tenants of the shipped
    /// baselines at once. Units: B, KiB, MiB, GiB (or KB, MB, GB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    memory_budget: u64,
    /// Pace to Graph's limits F times faster, and back off F times shorter: only for a
    /// simulator started with `--time-scale F` (real Graph needs the default, 1).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub(super) time_scale: f64,
}

/// Which tenants of which project (plan and deploy).
#[derive(Debug, clap::Args)]
pub(crate) struct Scope {
    #[command(flatten)]
    pub(super) project: ProjectArg,
    #[command(flatten)]
    pub(super) selector: Selector,
    /// Every tenant (the default when no --tenant or --ring is given).
    #[arg(long, conflicts_with_all = ["tenants", "ring"])]
    all: bool,
}

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads each selected tenant's live objects for its bundle's kinds, matches them by the kind's match
key and the tenant's identity map (.tenantform/state/<tenant-id>.json), and shows what deploy would
do: + create, ~ update (with each changed property), = adopt (exists, unmanaged, matches by key),
! ambiguous (several objects match; deploy refuses to guess), and orphans (created by tenantform,
no longer in the baseline; deleted only by `deploy --prune`). Nothing is written to Graph.

On a pull request: `tenantform plan --format markdown --out plan.json > plan.md` writes the plan a
reviewer reads (counts per tenant; changes that can lock people out and deletions first; each
tenant's diff folded) and the plan file that `deploy --plan plan.json` applies after the merge.

Exit codes: 0 ok; with --detailed-exitcode, 2 when some tenant has changes; 1 invalid project;
3 a tenant could not be planned (sign-in, permission, network); 64 usage (also a --tenant or
--ring that names no tenant).")]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    scope: Scope,
    /// Write the plan to this file (for `deploy --plan`): bundle hashes and live fingerprints.
    #[arg(long, value_name = "PLAN")]
    out: Option<PathBuf>,
    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Show every changed property even for large fleets, with every value whole (without
    /// it, values longer than 80 characters are cut with `…`).
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: PlanFormat,
    /// With --format markdown: at most this many characters (GitHub comments take 65,536; a
    /// job summary 1,048,576). Longer plans keep every tenant's warnings and cut each tenant's
    /// diff between resources, saying how many were left out.
    #[arg(long, value_name = "CHARS", default_value_t = tenantform::report::markdown::GITHUB_COMMENT_LIMIT, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(tenantform::report::markdown::MIN_LIMIT as u64..))]
    markdown_limit: usize,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `deploy`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Plans each selected tenant against its live state and applies the plan: creates in dependency
order (references resolved to the new objects' ids), property updates, adoption of matching
unmanaged objects, and with --prune deletion of orphans. Requests are paced to Graph's published
limits, read through $batch, and retried on 429/503 (Retry-After), 5xx and dropped connections;
a create is never sent twice. Every attempt goes to .tenantform/runs/<run-id>/journal.jsonl.

Killed at any point, `deploy --resume RUN_ID` (or deploying again) finishes without duplicates.

Each tenant is locked while it is deployed (`[state]` in tenantform.toml says where: local lock
files, or Azure Blob Storage shared by every runner): a second run waits --lock-timeout for it,
then fails that tenant naming the holder (host, pid, run id, since when). `tenantform state
unlock TENANT --force` removes the lock of a run that died before its lease ran out.

Approved plans only: with `[deploy] require_approved_plan = true` in tenantform.toml, deploy
applies only `--plan FILE` whose sha256 is approved, by `--approved-hash sha256:...` (what a
pipeline passes after its approval) or a line in .tenantform/approved-plans; the hash goes to
the journal. `sha256sum plan.json` prints it.

Examples:
  tenantform deploy -p msp --ring pilot                    one ring, asks to confirm
  tenantform deploy -p msp --rings pilot,broad --yes --max-failure-rate 0.1
  tenantform deploy -p msp --all --shard 2/4 --yes --report-junit deploy.xml   (CI matrix)

Exit codes: 0 every tenant converged; 3 some tenant failed (named in the summary) or the
rollout stopped; 1 invalid project; 64 usage (e.g. no --yes without a terminal, or a --tenant,
--ring or --rings that names no tenant, or no --plan under require_approved_plan); 1 also for a plan file
that is not approved.")]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    scope: Scope,
    /// Apply exactly this plan (from `plan --out`); a tenant whose bundle or live state changed
    /// since is refused.
    #[arg(long, value_name = "PLAN", conflicts_with = "resume")]
    plan: Option<PathBuf>,
    /// The plan file's approved hash (`sha256:...`, as the pipeline that holds the approval
    /// recorded it): deploy refuses a --plan file with another hash. Under `[deploy]
    /// require_approved_plan = true`, this or a line in .tenantform/approved-plans is required.
    #[arg(long, value_name = "SHA256", requires = "plan")]
    approved_hash: Option<String>,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Rings in rollout order (comma-separated); tenants of other rings are not deployed.
    #[arg(long, value_name = "RINGS", value_delimiter = ',')]
    rings: Option<Vec<String>>,
    /// Stop the rollout after a ring whose failed fraction exceeds P (0 to 1).
    #[arg(long, value_name = "P")]
    max_failure_rate: Option<f64>,
    /// Delete orphans: objects tenantform created that the baselines no longer have.
    #[arg(long, conflicts_with = "only_drifted")]
    prune: bool,
    /// Put back only what drifted: resources changed outside tenantform since the last deploy
    /// brought them to the same baseline, and managed objects deleted in the tenant. Changes of
    /// the baselines themselves, new resources and orphans are left for a full deploy.
    #[arg(long)]
    only_drifted: bool,
    /// Finish an interrupted run: its tenants that did not finish, in the same journal.
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<String>,
    /// Deploy a stable share K of N of the selected tenants (CI matrices, indexed jobs).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Write a JUnit XML report (one test case per tenant).
    #[arg(long, value_name = "FILE")]
    report_junit: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: RunFormat,
    #[command(flatten)]
    lock: super::state::LockArgs,
    #[command(flatten)]
    connection: Connection,
}

/// "1 tenant", "3 tenants".
pub(super) fn tenants(n: usize) -> String {
    format!("{n} {}", if n == 1 { "tenant" } else { "tenants" })
}

/// A size such as `64MiB`, `100MB` or `1048576`.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size; write it like 64MiB or 200MB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    match number.checked_mul(scale) {
        Some(0) => Err("the memory budget must be more than 0".to_string()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?} is too large")),
    }
}

impl Connection {
    /// The deploy options these flags set (`plan_only` and the rest left at their defaults).
    pub(super) fn options(&self) -> DeployOptions {
        DeployOptions {
            concurrency: self
                .concurrency
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            memory_budget: self.memory_budget,
            ..DeployOptions::default()
        }
    }
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("expected K/N (e.g. 2/4), got {text:?}"))?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("K in {text:?} is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("N in {text:?} is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("expected 1 <= K <= N, got {k}/{n}"));
    }
    Ok((k, n))
}

pub(super) fn selection(selector: &Selector) -> Selection {
    selector.selection()
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tenantform::deploy::runtime()?)
}

pub(super) fn client(connection: &Connection) -> anyhow::Result<Arc<GraphClient>> {
    let limits = Limits::default().time_scaled(connection.time_scale);
    let timing = Arc::new(RealTiming::new(u64::from(std::process::id())));
    GraphClient::new(
        limits,
        RetryPolicy::default().time_scaled(connection.time_scale),
        timing,
    )
    .map(Arc::new)
    .map_err(anyhow::Error::msg)
}

/// Load and validate; `Err(code)` when the project cannot be deployed (diagnostics printed):
/// 64 when the selection (`--tenant`, `--ring`, `--rings`) names no tenant, 1 when a selected
/// tenant does not compile.
pub(super) fn load_valid(
    dir: &Path,
    selection: &Selection,
    rings: Option<&[String]>,
    verb: &str,
    today: jiff::civil::Date,
) -> Result<Fleet, u8> {
    load_valid_reading_ahead(dir, selection, rings, verb, today, None)
}

/// [`load_valid`], each tenant's reads started in `ahead` as soon as it has validated.
pub(super) fn load_valid_reading_ahead(
    dir: &Path,
    selection: &Selection,
    rings: Option<&[String]>,
    verb: &str,
    today: jiff::civil::Date,
    ahead: Option<&ReadAhead>,
) -> Result<Fleet, u8> {
    let (fleet, diagnostics) = match Fleet::load(dir, today, deploy::process_env()) {
        Ok(loaded) => loaded,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Err(exit::INVALID_INPUT);
        }
    };
    output::check_selection(&fleet.project, selection, rings, super::Format::Human, verb)?;
    let summary = fleet.validate_reading_ahead(selection, diagnostics, ahead);
    if summary.diagnostics.has_errors() || !summary.failed.is_empty() {
        output::print_diagnostics(super::Format::Human, &summary.diagnostics, &fleet.project);
        // Errors of the project itself (its own file, a baseline) fail no tenant in particular.
        let what = match summary.failed.len() {
            0 => "the project has errors".to_string(),
            n => format!("{n} of the selected tenants do not compile"),
        };
        err(&format!(
            "error: {what}; fix them (tenantform validate) before planning or deploying\n"
        ));
        return Err(exit::INVALID_INPUT);
    }
    Ok(fleet)
}

/// The fleet and the targets a reading command (`drift`, `snapshot`) works on: the project
/// loaded and the selection validated, or the exit code already explained.
pub(super) fn read_targets(
    scope: &Scope,
    today: jiff::civil::Date,
) -> Result<(Arc<Fleet>, Vec<Target>), u8> {
    read_targets_reading_ahead(scope, today, None)
}

/// [`read_targets`], each tenant's reads started in `ahead` as soon as it has validated.
pub(super) fn read_targets_reading_ahead(
    scope: &Scope,
    today: jiff::civil::Date,
    ahead: Option<&ReadAhead>,
) -> Result<(Arc<Fleet>, Vec<Target>), u8> {
    let selection = selection(&scope.selector);
    let fleet = Arc::new(load_valid_reading_ahead(
        &scope.project.project,
        &selection,
        None,
        "read",
        today,
        ahead,
    )?);
    let targets = fleet.targets(&selection);
    super::state::pull_identities(&fleet, &targets)?;
    Ok((fleet, targets))
}

pub(super) fn make_run(
    fleet: Arc<Fleet>,
    client: Arc<GraphClient>,
    journal: Option<Arc<RunJournal>>,
    style: Style,
    verb: &'static str,
    options: DeployOptions,
) -> Arc<Run> {
    Arc::new(Run {
        fleet,
        client,
        journal,
        reporter: Arc::new(Mutex::new(progress::reporter(style, verb, Output::stdio()))),
        options,
    })
}

fn plan_file(summary: &DeploySummary) -> PlanFile {
    let mut file = PlanFile::from_reports(&summary.tenants, jiff::Timestamp::now().to_string());
    file.links = summary.link_plans.clone();
    file
}

/// Plan every tenant of the project now, quietly (`report --from-live`): `Err(code)` when the
/// project cannot be planned (diagnostics printed).
pub(crate) fn live_plan(
    dir: &Path,
    connection: &Connection,
    today: jiff::civil::Date,
) -> Result<DeploySummary, u8> {
    let selection = Selection::All;
    let fleet = Arc::new(load_valid(dir, &selection, None, "planned", today)?);
    let targets = fleet.targets(&selection);
    let client = client(connection).map_err(|e| {
        err(&format!("error: {e}\n"));
        exit::INTERNAL
    })?;
    let options = DeployOptions {
        plan_only: true,
        ..connection.options()
    };
    let run = make_run(fleet, client, None, Style::Quiet, "plan", options);
    let rt = runtime().map_err(|e| {
        err(&format!("error: {e}\n"));
        exit::INTERNAL
    })?;
    Ok(rt.block_on(deploy::run(run, targets, None)))
}

fn has_changes(summary: &DeploySummary) -> bool {
    summary
        .tenants
        .iter()
        .any(|t| t.plan.as_ref().is_some_and(|p| !p.is_empty()))
        || summary.link_plans.iter().any(|l| l.changes() > 0)
}

pub(crate) fn run_plan(args: PlanArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let selection = selection(&args.scope.selector);
    let runtime = runtime()?;
    let client = client(&args.connection)?;
    let mut options = DeployOptions {
        plan_only: true,
        // Only a plan file (--out, or printed as JSON) holds what the live objects were.
        fingerprints: args.out.is_some() || matches!(args.format, PlanFormat::Json),
        ..args.connection.options()
    };
    let ahead = ReadAhead::for_run(&runtime, &client, &options);
    let fleet = match load_valid_reading_ahead(
        &args.scope.project.project,
        &selection,
        None,
        "planned",
        today,
        Some(&ahead),
    ) {
        Ok(fleet) => Arc::new(fleet),
        Err(code) => return Ok(code),
    };
    options.read_ahead = Some(ahead);
    let targets = fleet.targets(&selection);
    if let Err(code) = super::state::pull_identities(&fleet, &targets) {
        return Ok(code);
    }
    let style = match args.format {
        PlanFormat::Json | PlanFormat::Markdown => Style::Quiet,
        PlanFormat::Human => Style::for_humans(),
    };
    let run = make_run(fleet, client, None, style, "plan", options);
    let mut summary = runtime.block_on(deploy::run(run, targets, None));
    summary
        .tenants
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    // Made only where it is read (--out, or printed as JSON): a thousand tenants' plans
    // serialized into it took a tenth of a second after the last tenant was planned.
    let file = (args.out.is_some() || matches!(args.format, PlanFormat::Json))
        .then(|| plan_file(&summary));
    if let (Some(path), Some(file)) = (&args.out, &file) {
        let mut text = serde_json::to_string_pretty(file)?;
        text.push('\n');
        write_atomic(path, &text)
            .map_err(|e| anyhow::anyhow!("cannot write the plan to {}: {e}", path.display()))?;
    }
    let failed = summary.failed().count()
        + summary
            .link_plans
            .iter()
            .filter(|l| l.error.is_some())
            .count();
    match args.format {
        PlanFormat::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&file.unwrap_or_else(|| plan_file(&summary)))?
        )),
        PlanFormat::Markdown => out(&tenantform::report::markdown::plan_markdown(
            &summary,
            args.markdown_limit,
        )),
        PlanFormat::Human => {
            let detail = if args.verbose {
                PlanDetail::FullValues
            } else if summary.tenants.len() <= 20 {
                PlanDetail::Changes
            } else {
                PlanDetail::Counts
            };
            let mut text = String::new();
            let mut totals = (0, 0, 0, 0);
            for t in &summary.tenants {
                match &t.plan {
                    Some(plan) if t.ok => {
                        let (c, u, a, n, _) = plan.counts();
                        totals = (totals.0 + c, totals.1 + u, totals.2 + a, totals.3 + n);
                        if detail != PlanDetail::Counts || !plan.is_empty() {
                            text.push_str(&plan_text(&t.name, plan, detail));
                        }
                        if detail != PlanDetail::Counts {
                            text.push_str(&skip_lines(&t.skipped, "  "));
                        }
                    }
                    _ => text.push_str(&format!(
                        "{} ({}): NOT PLANNED: {}\n",
                        t.name,
                        t.id,
                        t.reason.as_deref().unwrap_or("unknown")
                    )),
                }
            }
            text.push_str(&tenantform::report::links::link_plans_text(
                &summary.link_plans,
            ));
            text.push_str(&format!(
                "plan: {} {}; {} to create, {} to update, {} to adopt, {} unchanged{}{}\n",
                summary.tenants.len(),
                if summary.tenants.len() == 1 {
                    "tenant"
                } else {
                    "tenants"
                },
                totals.0,
                totals.1,
                totals.2,
                totals.3,
                if failed > 0 {
                    format!("; {failed} could not be planned")
                } else {
                    String::new()
                },
                args.out
                    .as_ref()
                    .map(|p| format!("; written to {}", p.display()))
                    .unwrap_or_default()
            ));
            out(&text);
        }
    }
    Ok(if failed > 0 {
        exit::DEPLOY_FAILED
    } else if args.detailed_exitcode && has_changes(&summary) {
        exit::CHANGES
    } else {
        exit::OK
    })
}

pub(super) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Targets of `--resume RUN_ID`: the run's tenants that did not finish successfully.
fn resume_targets(fleet: &Fleet, run_id: &str) -> Result<Vec<Target>, String> {
    let path = deploy::run_dir(&fleet.dir, run_id).join("journal.jsonl");
    if !path.exists() {
        return Err(format!(
            "no run {run_id} in {} (tenantform runs list shows the runs)",
            deploy::state_root(&fleet.dir).join("runs").display()
        ));
    }
    let journal = tenantform::journal::read(&path).map_err(|e| e.to_string())?;
    let mut tenants: Vec<String> = Vec::new();
    let mut finished = std::collections::BTreeSet::new();
    for record in &journal.records {
        match &record.entry {
            Entry::RunStarted { tenants: t, .. } => tenants = t.clone(),
            Entry::TenantFinished {
                tenant, ok: true, ..
            } => {
                finished.insert(tenant.clone());
            }
            _ => {}
        }
    }
    // Links run after the tenants: a run killed in its link phase had every tenant finished,
    // so the ends of its links go again (their tenants re-plan to no change) and the links'
    // idempotent steps finish what the killed run started.
    let run_finished = journal
        .records
        .iter()
        .any(|r| matches!(r.entry, Entry::RunFinished { .. }));
    if !run_finished {
        for link in &fleet.project.links {
            if let Some((source, target)) = tenantform::source::links::ends(&fleet.project, link) {
                let ends = [source.id.value, target.id.value];
                if ends.iter().all(|e| tenants.contains(e)) {
                    finished.retain(|t| !ends.contains(t));
                }
            }
        }
    }
    let mut targets = Vec::new();
    for id in tenants.iter().filter(|t| !finished.contains(*t)) {
        let entry = fleet
            .project
            .tenants
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                format!("run {run_id} deployed tenant {id}, which is no longer in the project")
            })?;
        targets.push(Target::of(entry));
    }
    Ok(targets)
}

fn plan_targets(fleet: &Fleet, path: &Path) -> Result<Vec<Target>, String> {
    let text = tenantform::text::read_to_string(path)
        .map_err(|e| format!("cannot read plan {}: {e}", path.display()))?;
    let file: PlanFile = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a tenantform plan: {e}", path.display()))?;
    if file.format != PLAN_FORMAT {
        return Err(format!(
            "{}: plan format {:?}, expected {PLAN_FORMAT:?}",
            path.display(),
            file.format
        ));
    }
    let mut targets = Vec::new();
    for t in file.tenants {
        let entry = fleet
            .project
            .tenants
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(&t.tenant))
            .ok_or_else(|| {
                format!(
                    "the plan has tenant {}, which is not in the project",
                    t.tenant
                )
            })?;
        let mut target = Target::of(entry);
        match (t.bundle_hash, t.live_fingerprint, t.error) {
            (Some(bundle_hash), Some(live_fingerprint), None) => {
                target.expected = Some(deploy::Expected {
                    bundle_hash,
                    live_fingerprint,
                    // A plan from before resources were recorded compares by fingerprint only.
                    resources: serde_json::from_value(t.resources).unwrap_or_default(),
                });
            }
            (_, _, error) => {
                return Err(format!(
                    "the plan could not plan tenant {} ({}); make a new plan",
                    t.tenant,
                    error.unwrap_or_else(|| "no fingerprint".into())
                ));
            }
        }
        targets.push(target);
    }
    Ok(targets)
}

pub(super) fn confirm(question: &str) -> bool {
    err(question);
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim() == "yes"
}

pub(crate) fn run_deploy(args: DeployArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
    if let Some(p) = args.max_failure_rate
        && !(0.0..=1.0).contains(&p)
    {
        err(&format!(
            "error: --max-failure-rate must be between 0 and 1, got {p}\n"
        ));
        return Ok(exit::USAGE);
    }
    if !args.yes && !std::io::stdin().is_terminal() {
        err(
            "error: deploy changes live tenants and there is no terminal to confirm on; pass --yes to deploy unattended (CI), after reviewing `tenantform plan`\n",
        );
        return Ok(exit::USAGE);
    }
    let selection = selection(&args.scope.selector);
    let fleet = match load_valid(
        &args.scope.project.project,
        &selection,
        args.rings.as_deref(),
        "deployed",
        today,
    ) {
        Ok(fleet) => Arc::new(fleet),
        Err(code) => return Ok(code),
    };
    let required = fleet
        .project
        .config
        .as_ref()
        .is_some_and(|c| c.require_approved_plan);
    let plan_bytes = match &args.plan {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some((path.as_path(), bytes)),
            Err(e) => {
                err(&format!(
                    "error: cannot read plan {}: {e}\n",
                    path.display()
                ));
                return Ok(exit::INVALID_INPUT);
            }
        },
        None => None,
    };
    let approval = match deploy::approval::check(
        required,
        plan_bytes.as_ref().map(|(p, b)| (*p, b.as_slice())),
        args.approved_hash.as_deref(),
        &deploy::state_root(&fleet.dir).join(deploy::approval::APPROVALS_FILE),
    ) {
        Ok(approval) => approval,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(match e {
                deploy::approval::ApprovalError::PlanRequired => exit::USAGE,
                _ => exit::INVALID_INPUT,
            });
        }
    };
    let store = match super::state::open_store(&fleet.dir, &super::state::settings(&fleet)) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    // A run resumed on another machine is read from the state store first.
    if let Some(run_id) = &args.resume
        && let Err(code) = super::state::fetch_run(&rt, &store, &fleet.dir, run_id)
    {
        return Ok(code);
    }
    let targets = if let Some(run_id) = &args.resume {
        resume_targets(&fleet, run_id)
    } else if let Some(plan) = &args.plan {
        plan_targets(&fleet, plan)
    } else {
        Ok(fleet.targets(&selection))
    };
    let mut targets = match targets {
        Ok(t) => t,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::INVALID_INPUT);
        }
    };
    if let Some((k, n)) = args.shard {
        targets.retain(|t| deploy::in_shard(&t.id, k, n));
    }
    if targets.is_empty() {
        err(if args.resume.is_some() {
            "resume: every tenant of that run already finished; nothing to do\n"
        } else {
            "deploy: no tenant selected; nothing to do\n"
        });
        return Ok(exit::OK);
    }
    let client = client(&args.connection)?;
    let options = DeployOptions {
        rings: args.rings.clone(),
        max_failure_rate: args.max_failure_rate,
        prune: args.prune,
        only_drifted: args.only_drifted,
        plan_only: false,
        ..args.connection.options()
    };

    if !args.yes {
        // The plan shown is against the identity maps in the state store.
        if let Err(code) = super::state::pull_identities(&fleet, &targets) {
            return Ok(code);
        }
        // Terraform's habit: show the plan, then ask.
        let run = make_run(
            fleet.clone(),
            client.clone(),
            None,
            Style::Quiet,
            "plan",
            DeployOptions {
                plan_only: true,
                ..options.clone()
            },
        );
        let preview = rt.block_on(deploy::run(run, targets.clone(), None));
        let mut text = String::new();
        for t in &preview.tenants {
            match &t.plan {
                Some(plan) if t.ok => {
                    let detail = if preview.tenants.len() <= 5 {
                        PlanDetail::Changes
                    } else {
                        PlanDetail::Counts
                    };
                    text.push_str(&plan_text(&t.name, plan, detail));
                    if detail != PlanDetail::Counts {
                        text.push_str(&skip_lines(&t.skipped, "  "));
                    }
                }
                _ => text.push_str(&format!(
                    "{} ({}): NOT PLANNED: {}\n",
                    t.name,
                    t.id,
                    t.reason.as_deref().unwrap_or("unknown")
                )),
            }
        }
        text.push_str(&tenantform::report::links::link_plans_text(
            &preview.link_plans,
        ));
        err(&text);
        if !confirm(&format!(
            "\nDeploy to {}{}? Only 'yes' will be accepted: ",
            tenants(targets.len()),
            if args.prune {
                " (deleting orphans)"
            } else {
                ""
            }
        )) {
            err("deploy cancelled; nothing was changed\n");
            return Ok(exit::OK);
        }
    }

    let run_id = args.resume.clone().unwrap_or_else(deploy::new_run_id);
    let journal_path = deploy::run_dir(&fleet.dir, &run_id).join("journal.jsonl");
    let options = DeployOptions {
        before: Some(deploy::rollback::before_dir(&fleet.dir, &run_id)),
        ..options
    };
    // Tenants are locked one by one as they start (a second run waits or fails them, naming
    // this one); with a remote store, each tenant's records are published before its lock is
    // released.
    let run_state = match super::state::open_run_state(
        &rt,
        store.clone(),
        &fleet,
        "deploy",
        &run_id,
        &args.lock,
    ) {
        Ok(state) => state,
        Err(code) => return Ok(code),
    };
    let options = DeployOptions {
        state: Some(run_state),
        ..options
    };
    let journal = Arc::new(RunJournal::open(&journal_path)?);
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let version = env!("CARGO_PKG_VERSION").to_string();
    journal.append(if args.resume.is_some() {
        Entry::RunResumed {
            tenants: ids,
            version,
        }
    } else {
        Entry::RunStarted {
            tenants: ids,
            version,
        }
    });
    if let Some(approval) = &approval {
        journal.append(Entry::PlanApplied {
            plan_hash: approval.plan_hash.clone(),
            approval: approval.by.clone(),
        });
    }
    let style = match args.format {
        RunFormat::Json => Style::Json,
        RunFormat::Human => Style::for_humans(),
    };
    if args.format == RunFormat::Human {
        err(&format!(
            "deploy: run {run_id}, {}, {} at once; journal {}{}\n",
            tenants(targets.len()),
            starting_together(&targets, options.memory_budget, options.concurrency),
            journal_path.display(),
            if store.is_local() {
                String::new()
            } else {
                format!(", published to {}", store.location())
            }
        ));
    }
    let run = make_run(
        fleet,
        client,
        Some(journal.clone()),
        style,
        "deploy",
        options,
    );
    let deployed_fleet = Arc::clone(&run.fleet);
    let summary = rt.block_on(deploy::run(run, targets, Some(run_id.clone())));
    // ScubaGear's configuration for each converged tenant that gets cisa-scuba-entra.
    for written in deploy::scubagear::write_after_deploy(&deployed_fleet, &summary) {
        match written {
            deploy::scubagear::Written::File { tenant, path } => {
                if args.format == RunFormat::Human {
                    err(&format!(
                        "scubagear: {tenant}: wrote {}\n",
                        path.strip_prefix(&deployed_fleet.dir)
                            .unwrap_or(&path)
                            .display()
                    ));
                }
            }
            deploy::scubagear::Written::Failed { tenant, reason } => {
                err(&format!("warning: scubagear: {tenant}: {reason}\n"));
            }
        }
    }
    if let Some(path) = &args.report_json {
        let mut text = serde_json::to_string_pretty(&summary)?;
        text.push('\n');
        write_atomic(path, &text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.report_junit {
        write_atomic(path, &junit(&summary))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if args.format == RunFormat::Human {
        err(&summary_text(&summary));
        for link in &summary.links {
            // The multitenant organization is a unit of the link phase, not a link.
            let unit = if link.link == tenantform::sync::organization::UNIT {
                link.link.clone()
            } else {
                format!("link {}", link.link)
            };
            err(&match &link.error {
                None => format!(
                    "{unit}: ok, {} step(s) changed, {} unchanged\n",
                    link.changed.len(),
                    link.unchanged.len()
                ),
                Some(e) => format!("link {}: FAILED: {e}\n", link.link),
            });
        }
    }
    let failed = summary.failed().count() + summary.failed_links().count();
    Ok(if failed > 0 || summary.stopped.is_some() {
        exit::DEPLOY_FAILED
    } else {
        exit::OK
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn memory_budgets_parse_with_units_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("200MB"), Ok(200_000_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        let e = parse_size("64 furlongs").expect_err("an error");
        assert!(e.contains("unknown unit"), "{e}");
        let e = parse_size("lots").expect_err("an error");
        assert!(e.contains("64MiB"), "{e}");
        assert!(parse_size("0MiB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
