//! `tenantform bench links`: issue 10's benchmark. One hub synchronizing its staff into N
//! spokes (a cross-tenant synchronization link per spoke), deployed against the simulator at
//! Graph's real limits with 20 ms of latency, with the flags a user types, timed against the
//! throttle-bound minimum of the busiest tenant (the hub), and checked for convergence.
//!
//! Input: [`LinkBenchOptions`]. Output: a [`LinkBench`] report ([`text`] renders it).
//!
//! Steps:
//! 1. Start `tenantform sim` as a child process (`bench deploy`'s [`SimChild`]: throttling on,
//!    `--time-scale`, `--latency-ms`), so this process's peak RSS is the client's alone.
//! 2. Write the project as `bench deploy` does (init's files on the simulator's tenants), make
//!    the tenant whose own baseline is slowest at Graph's limits the hub, give it the scope
//!    group, and write one link per other tenant ([`project`]).
//! 3. Deploy every tenant and link the way `tenantform deploy -p DIR --all --yes` does:
//!    [`deploy::run`] with default options (tenants then the link phase), the real client,
//!    a journal in the project.
//! 4. The minimum: the hub's requests per throttle class, at Graph's published limits without
//!    the client's headroom, paced exactly as `bench deploy` paces a tenant
//!    ([`Minimums::tenant`]). Its own bundle's reads and writes are counted from its compiled
//!    bundle (as `bench deploy` counts them); its link steps' requests from the run's journal
//!    ([`journal`]: first attempts only; link steps are paced as Identity requests). The spokes'
//!    minimums are computed the same way to show the hub is the busiest; the app-wide limit too.
//! 5. Converged? Every tenant and link deployed; a re-plan (`tenantform plan -p DIR --all`)
//!    finds nothing left to change in any tenant or link; people who join the hub's group reach
//!    every spoke after one provisioning cycle, and every job is healthy ([`converge`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::deploy::child::SimChild;
use super::deploy::{
    Check, ClassCounts, DeployBenchOptions, Minimums, TenantRequests, app_limit_minimum,
    class_counts, fresh_client, load_and_validate, read_counts,
};
use super::{BenchError, peak_rss_mib, reset_peak_rss};
use crate::compile::{self, Selection};
use crate::deploy::{self, DeployOptions, Fleet, Run, RunJournal};
use crate::graph::pacing::Limits;
use crate::journal::Entry;
use crate::kinds::ThrottleClass;
use crate::report::Silent;

mod converge;
mod journal;
mod project;
mod text;

pub use converge::Convergence;
pub use journal::{Phases, TenantRequestCounts};
pub use text::text;

/// Wall time over the hub's minimum issue 10 accepts (100 spokes at Graph's real limits).
pub const RATIO_TARGET: f64 = 1.25;

/// People who join the hub's group before the provisioning cycle.
pub const PEOPLE: usize = 3;

/// The `userType` the benchmark's links give synchronized users.
const USER_TYPE: &str = "Member";

/// What to run.
#[derive(Debug, Clone)]
pub struct LinkBenchOptions {
    /// Spokes: one link from the hub to each.
    pub spokes: usize,
    /// Every throttling window this many times shorter (simulator and client alike).
    pub time_scale: f64,
    /// Mean latency the simulator adds to each Graph request, in milliseconds.
    pub latency_ms: u64,
    /// The executable whose `sim` subcommand is started as the child process.
    pub simulator: PathBuf,
    /// Where the project, its journal and the simulator's log go.
    pub work_dir: PathBuf,
    /// Today, for override expiry.
    pub today: jiff::civil::Date,
}

/// One tenant's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantFigures {
    /// Tenant id.
    pub id: String,
    /// Its name in the project.
    pub name: String,
    /// Its requests as the journal recorded them.
    pub journaled: TenantRequestCounts,
    /// Its paced requests per throttle class: reads.
    pub reads: BTreeMap<String, usize>,
    /// Its paced requests per throttle class: writes.
    pub writes: BTreeMap<String, usize>,
    /// Its minimum at Graph's limits (its slowest class), seconds.
    pub minimum_seconds: f64,
}

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkBench {
    /// Spokes (and links).
    pub spokes: usize,
    /// Time scale of the simulator and of the client's limits.
    pub time_scale: f64,
    /// Mean latency the simulator added per Graph request, milliseconds.
    pub latency_ms: u64,
    /// Cores of this machine (client and simulator share them).
    pub cores: usize,
    /// One-minute load average when the benchmark started (Linux).
    pub load_average: Option<f64>,
    /// The commands a user types to reach the same figures.
    pub commands: Vec<String>,
    /// The hub.
    pub hub: TenantFigures,
    /// The spoke with the slowest minimum.
    pub slowest_spoke: Option<TenantFigures>,
    /// Link-step requests of one spoke (first attempts), fewest and most.
    pub spoke_link_requests: (usize, usize),
    /// The app-wide limit's minimum for every request of the run, seconds.
    pub app_limit_minimum_seconds: f64,
    /// The minimum the run is compared with: the hub's (or, were it slower, a spoke's or the
    /// app-wide limit's), seconds.
    pub minimum_seconds: f64,
    /// Wall time of the deploy (tenants, then links), seconds.
    pub deploy_seconds: f64,
    /// `deploy_seconds / minimum_seconds`.
    pub ratio: f64,
    /// Where the time went, from the journal.
    pub phases: Phases,
    /// Graph requests sent during the deploy (each `$batch` item counts).
    pub requests: u64,
    /// Retries during the deploy.
    pub retries: u64,
    /// 429 answers during the deploy.
    pub throttled: u64,
    /// Tokens acquired during the deploy.
    pub tokens: u64,
    /// Tenants whose deploy failed or never started.
    pub tenants_failed: usize,
    /// Links applied without error.
    pub links_ok: usize,
    /// A few failures, for diagnosis.
    pub failure_samples: Vec<String>,
    /// Peak resident memory of this process (the client) during the deploy, MiB.
    pub deploy_peak_rss_mib: Option<f64>,
    /// Peak resident memory of the simulator child, MiB.
    pub simulator_peak_rss_mib: Option<f64>,
    /// Wall time of the re-plan, seconds.
    pub replan_seconds: f64,
    /// Tenants or links the re-plan found with changes left (or could not plan).
    pub replan_with_changes: usize,
    /// The provisioning check.
    pub convergence: Convergence,
    /// Targets and convergence checks.
    pub checks: Vec<Check>,
}

/// The name of the ratio check, the one check that is a figure rather than a convergence.
const RATIO_CHECK: &str = "deploy wall / the hub's minimum";

impl LinkBench {
    /// Every convergence check passed (the ratio target is a figure, not a convergence).
    pub fn converged(&self) -> bool {
        converged(&self.checks)
    }
}

fn converged(checks: &[Check]) -> bool {
    checks
        .iter()
        .filter(|c| !c.name.starts_with(RATIO_CHECK))
        .all(|c| c.passed)
}

/// The commands that reach the same figures by hand: the simulator (another terminal; the
/// benchmark then adds the hub's baseline and `links/` to the project, which `--keep DIR`
/// keeps), the deploy as the benchmark ran it, and the re-plan.
pub fn user_commands(options: &LinkBenchOptions, project: &std::path::Path) -> Vec<String> {
    let deploy_options = DeployBenchOptions {
        tenants: options.spokes + 1,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        ..DeployBenchOptions::default()
    };
    super::deploy::user_commands(&deploy_options, project)
}

fn names(counts: &ClassCounts) -> BTreeMap<String, usize> {
    counts
        .iter()
        .map(|(class, n)| (class.as_str().to_string(), *n))
        .collect()
}

/// The figures of one tenant: its bundle's reads and writes plus its journaled link steps, per
/// throttle class, paced at Graph's limits.
fn tenant_figures(
    fleet: &Fleet,
    floor: &mut Minimums,
    id: &str,
    journaled: TenantRequestCounts,
) -> Result<TenantFigures, BenchError> {
    let entry = fleet
        .project
        .tenants
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| BenchError::Load(format!("{id}: not in the project")))?;
    let tenant = fleet
        .project
        .tenant(entry)
        .ok_or_else(|| BenchError::Load(format!("{id}: cannot be read")))?;
    let bundle = compile::compile_tenant(
        &fleet.project,
        &fleet.engine,
        fleet.schemas,
        &tenant,
        false,
        fleet.today,
    )
    .bundle
    .ok_or_else(|| BenchError::Load(format!("{id}: does not compile")))?;
    let mut reads = read_counts(&bundle, false);
    let mut writes = class_counts(&bundle);
    // Link steps go through the client as Identity requests (sync/apply.rs).
    *reads.entry(ThrottleClass::Identity).or_default() += journaled.link_reads;
    *writes.entry(ThrottleClass::Identity).or_default() += journaled.link_writes;
    let minimum = floor.tenant(&TenantRequests {
        reads: reads.clone(),
        writes: writes.clone(),
    });
    Ok(TenantFigures {
        id: id.to_string(),
        name: entry.name.clone(),
        journaled,
        reads: names(&reads),
        writes: names(&writes),
        minimum_seconds: minimum.as_secs_f64(),
    })
}

/// Run the benchmark. `progress` receives a line per step (the CLI shows it on stderr).
pub fn run(options: &LinkBenchOptions, progress: &dyn Fn(&str)) -> Result<LinkBench, BenchError> {
    if options.spokes == 0 {
        return Err(BenchError::Deploy(
            "the hub needs at least one spoke".into(),
        ));
    }
    if !(options.time_scale.is_finite() && options.time_scale > 0.0) {
        return Err(BenchError::Deploy(format!(
            "the time scale must be a positive number, got {}",
            options.time_scale
        )));
    }
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok());
    let dir = &options.work_dir;
    std::fs::create_dir_all(dir).map_err(super::io(dir))?;
    let project_dir = dir.join("project");
    let fleet_out = dir.join("sim-fleet.toml");
    let sim_options = DeployBenchOptions {
        tenants: options.spokes + 1,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        simulator: options.simulator.clone(),
        work_dir: dir.clone(),
        ..DeployBenchOptions::default()
    };
    progress(&format!(
        "starting `{} sim` as a child process: {} tenants (a hub and {} spokes), throttling on, time scale {}, latency {} ms",
        options.simulator.display(),
        options.spokes + 1,
        options.spokes,
        options.time_scale,
        options.latency_ms
    ));
    let sim = SimChild::start(&sim_options, &fleet_out, &dir.join("sim-stderr.log"))?;
    let toml = std::fs::read_to_string(&fleet_out).map_err(super::io(&fleet_out))?;
    super::write_project_with_tenants(&project_dir, &toml)?;
    drop(toml);

    let limits = Limits::default().time_scaled(options.time_scale);
    let hub = project::busiest_tenant(
        &load_and_validate(&project_dir, options.today, None)?,
        limits,
    )?;
    let fleet = load_and_validate(&project_dir, options.today, None)?;
    let spokes: Vec<String> = fleet
        .project
        .tenants
        .iter()
        .filter(|t| t.id != hub.id)
        .map(|t| t.id.clone())
        .collect();
    drop(fleet);
    progress(&format!(
        "the hub is {} ({}), the tenant whose own baseline is slowest at Graph's limits; writing {} links",
        hub.name,
        hub.id,
        spokes.len()
    ));
    let link_names = project::write_links(&project_dir, &hub, &spokes)?;
    let fleet = Arc::new(load_and_validate(&project_dir, options.today, None)?);
    let targets = fleet.targets(&Selection::All);

    let commands = user_commands(options, &project_dir);
    for command in &commands {
        progress(&format!("a user reaches the same figures with: {command}"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tenantform")
        .build()
        .map_err(|e| BenchError::Deploy(format!("runtime: {e}")))?;
    let run_id = deploy::new_run_id();
    let journal_path = deploy::run_dir(&project_dir, &run_id).join("journal.jsonl");
    let journal = Arc::new(
        RunJournal::open(&journal_path).map_err(|e| BenchError::Deploy(format!("journal: {e}")))?,
    );
    journal.append(Entry::RunStarted {
        tenants: targets.iter().map(|t| t.id.clone()).collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    let deploy_client = fresh_client(limits, options.time_scale)?;
    let run = Arc::new(Run {
        fleet: fleet.clone(),
        client: deploy_client.clone(),
        journal: Some(journal),
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: DeployOptions::default(),
    });
    progress(&format!(
        "deploying {} tenants and {} links with deploy's default flags",
        targets.len(),
        link_names.len()
    ));
    reset_peak_rss();
    let started = Instant::now();
    let deployed = runtime.block_on(deploy::run(run, targets.clone(), Some(run_id)));
    let deploy_seconds = started.elapsed().as_secs_f64();
    let deploy_peak_rss_mib = peak_rss_mib();
    let stats = &deploy_client.stats;
    let (requests, retries, throttled, tokens) = (
        stats.requests.load(Ordering::Relaxed),
        stats.retries.load(Ordering::Relaxed),
        stats.throttled.load(Ordering::Relaxed),
        stats.tokens.load(Ordering::Relaxed),
    );
    let mut failure_samples: Vec<String> = deployed
        .failed()
        .take(3)
        .map(|t| format!("{}: {}", t.id, t.reason.as_deref().unwrap_or("unknown")))
        .collect();
    failure_samples.extend(
        deployed
            .links
            .iter()
            .filter_map(|l| l.error.as_ref().map(|e| format!("link {}: {e}", l.link)))
            .take(3),
    );
    let tenants_failed = deployed.failed().count() + deployed.not_started.len();
    let links_ok = deployed.links.iter().filter(|l| l.ok).count();
    drop(deployed);
    drop(deploy_client);

    progress("counting every tenant's requests from its bundle and the run's journal");
    let link_set: BTreeSet<String> = link_names.iter().cloned().collect();
    let journaled = journal::read(&journal_path, &link_set, &hub.id)?;
    let mut floor = Minimums::new(limits.without_headroom());
    let counts_of = |id: &str| journaled.tenants.get(id).cloned().unwrap_or_default();
    let hub_figures = tenant_figures(&fleet, &mut floor, &hub.id, counts_of(&hub.id))?;
    let mut slowest_spoke: Option<TenantFigures> = None;
    let mut spoke_link_requests = (usize::MAX, 0usize);
    let mut all_requests = hub_figures.journaled.requests();
    for spoke in &spokes {
        let figures = tenant_figures(&fleet, &mut floor, spoke, counts_of(spoke))?;
        let link_requests = figures.journaled.link_reads + figures.journaled.link_writes;
        spoke_link_requests = (
            spoke_link_requests.0.min(link_requests),
            spoke_link_requests.1.max(link_requests),
        );
        all_requests += figures.journaled.requests();
        if slowest_spoke
            .as_ref()
            .is_none_or(|s| figures.minimum_seconds > s.minimum_seconds)
        {
            slowest_spoke = Some(figures);
        }
    }
    let app_limit = app_limit_minimum(&limits, all_requests).as_secs_f64();
    let minimum_seconds = hub_figures
        .minimum_seconds
        .max(slowest_spoke.as_ref().map_or(0.0, |s| s.minimum_seconds))
        .max(app_limit);

    progress("re-planning every tenant and link, as `tenantform plan -p DIR --all` would");
    std::thread::sleep(limits.conditional_access.window * 2);
    let plan_client = fresh_client(limits, options.time_scale)?;
    let replan = Arc::new(Run {
        fleet: fleet.clone(),
        client: plan_client.clone(),
        journal: None,
        reporter: Arc::new(Mutex::new(Box::new(Silent))),
        options: DeployOptions {
            plan_only: true,
            ..DeployOptions::default()
        },
    });
    let started = Instant::now();
    let planned = runtime.block_on(deploy::run(replan, targets, None));
    let replan_seconds = started.elapsed().as_secs_f64();
    let replan_with_changes = planned
        .tenants
        .iter()
        .filter(|t| !t.ok || t.plan.as_ref().is_none_or(|p| !p.is_empty()))
        .count()
        + planned.not_started.len()
        + planned.link_plans.iter().filter(|l| !l.is_empty()).count()
        + link_names.len().saturating_sub(planned.link_plans.len());
    drop(planned);

    progress(&format!(
        "{PEOPLE} people join the hub's group; one provisioning cycle; reading every job and spoke"
    ));
    let links: Vec<(String, String, String)> = fleet
        .project
        .links
        .iter()
        .filter_map(|l| {
            let (_, target) = crate::source::links::ends(&fleet.project, l)?;
            Some((l.name.clone(), l.configuration_name(), target.id.value))
        })
        .collect();
    let convergence = runtime.block_on(converge::check(
        &sim.base_url,
        &plan_client,
        &fleet,
        &hub,
        &links,
        PEOPLE,
        USER_TYPE,
    ));
    drop(runtime);
    let simulator_peak_rss_mib = sim.peak_rss_mib();
    drop(sim);

    let ratio = deploy_seconds / minimum_seconds.max(1e-9);
    let spokes_count = spokes.len();
    let mut checks = Vec::new();
    if spokes_count == 100 && options.time_scale == 1.0 {
        checks.push(Check {
            name: format!("{RATIO_CHECK} <= {RATIO_TARGET}"),
            measured: format!("{ratio:.3}"),
            passed: ratio <= RATIO_TARGET,
        });
    }
    checks.extend([
        Check {
            name: "every tenant and link deployed".into(),
            measured: format!(
                "{tenants_failed} tenants failed, {links_ok} of {spokes_count} links ok"
            ),
            passed: tenants_failed == 0 && links_ok == spokes_count,
        },
        Check {
            name: "re-plan finds nothing left to change".into(),
            measured: format!("{replan_with_changes} tenants or links with changes"),
            passed: replan_with_changes == 0,
        },
        Check {
            name: "every job active, its last cycle succeeded".into(),
            measured: format!("{} of {spokes_count}", convergence.jobs_healthy),
            passed: convergence.jobs_healthy == spokes_count,
        },
        Check {
            name: format!("every spoke lists the {PEOPLE} people as B2B members"),
            measured: format!("{} of {spokes_count}", convergence.spokes_with_everyone),
            passed: convergence.spokes_with_everyone == spokes_count,
        },
    ]);
    Ok(LinkBench {
        spokes: spokes_count,
        time_scale: options.time_scale,
        latency_ms: options.latency_ms,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_average,
        commands,
        hub: hub_figures,
        slowest_spoke,
        spoke_link_requests: if spokes_count == 0 {
            (0, 0)
        } else {
            spoke_link_requests
        },
        app_limit_minimum_seconds: app_limit,
        minimum_seconds,
        deploy_seconds,
        ratio,
        phases: journaled.phases,
        requests,
        retries,
        throttled,
        tokens,
        tenants_failed,
        links_ok,
        failure_samples,
        deploy_peak_rss_mib,
        simulator_peak_rss_mib,
        replan_seconds,
        replan_with_changes,
        convergence,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, passed: bool) -> Check {
        Check {
            name: name.into(),
            measured: String::new(),
            passed,
        }
    }

    #[test]
    fn a_missed_ratio_is_a_figure_but_a_failed_convergence_check_is_not_converged() {
        let ratio_missed = [
            check(&format!("{RATIO_CHECK} <= {RATIO_TARGET}"), false),
            check("every tenant and link deployed", true),
        ];
        assert!(converged(&ratio_missed));
        let not_provisioned = [
            check(&format!("{RATIO_CHECK} <= {RATIO_TARGET}"), true),
            check("every spoke lists the 3 people as B2B members", false),
        ];
        assert!(!converged(&not_provisioned));
    }
}
