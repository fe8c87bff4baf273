//! `tenantform demo`: the whole job on a laptop. Starts the Graph simulator in-process, writes a
//! project on the shipped baselines with N simulated tenants, deploys it with progress bars,
//! prints the summary, then plans again to show that nothing is left to change.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tenantform::compile::Selection;
use tenantform::deploy::{self, DeployOptions, Fleet, Run, RunJournal};
use tenantform::graph::client::{GraphClient, RealTiming};
use tenantform::graph::pacing::Limits;
use tenantform::graph::retry::RetryPolicy;
use tenantform::journal::Entry;
use tenantform::sim::{FLEET_SECRET_ENV, SimConfig, Simulator};

use super::{err, exit, out, output};
use tenantform::report::Output;
use tenantform::report::human::summary_text;
use tenantform::report::progress::{self, Style};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Everything runs on 127.0.0.1 against `tenantform sim`; no tenant, no network, no secret is needed.
The simulator enforces Graph's throttling limits (Conditional Access: 1 request per second per
tenant), shortened by --time-scale so the demo takes seconds; deploy paces itself to the same
limits. With --keep DIR the project and its journal stay in DIR (the simulator stops with the
demo; `tenantform sim --fleet-out` gives a long-running one).")]
pub(crate) struct Args {
    /// Simulated tenants.
    #[arg(long, value_name = "N", default_value_t = 25)]
    tenants: usize,
    /// Keep the generated project (with its journal and identity maps) in DIR.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Shorten every throttling window F times (simulator and client alike); 1 = Graph's real
    /// limits.
    #[arg(long, value_name = "F", default_value_t = 10.0)]
    time_scale: f64,
}

fn scratch_dir() -> PathBuf {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    std::env::temp_dir().join(format!("tenantform-demo-{}", &suffix[..8]))
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    if args.tenants == 0 || args.tenants > 100_000 {
        err("error: --tenants must be between 1 and 100000\n");
        return Ok(exit::USAGE);
    }
    if !(args.time_scale >= 1.0 && args.time_scale <= 1000.0) {
        err("error: --time-scale must be between 1 and 1000\n");
        return Ok(exit::USAGE);
    }
    let dir = args.keep.clone().unwrap_or_else(scratch_dir);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        err(&format!(
            "error: {} exists and is not empty; give --keep a new or empty directory\n",
            dir.display()
        ));
        return Ok(exit::INVALID_INPUT);
    }
    let config = SimConfig {
        tenants: args.tenants,
        time_scale: args.time_scale,
        ..SimConfig::default()
    };
    let secret = config.client_secret.clone();
    let sim = Simulator::spawn_in_background(config)?;
    err(&format!(
        "demo: Graph simulator at {} with {} tenants (throttling on, time scale {}x)\n",
        sim.base_url(),
        args.tenants,
        args.time_scale
    ));

    // The project: init's files on the shipped baselines, the simulator's tenants.
    for (path, text) in tenantform::source::init::project_files() {
        if path.starts_with("tenants/") {
            continue;
        }
        let target = dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, text)?;
    }
    std::fs::create_dir_all(dir.join("tenants"))?;
    std::fs::write(dir.join("tenants/fleet.toml"), sim.fleet_tenants_toml())?;
    err(&format!(
        "demo: project with the shipped baselines in {}\n",
        dir.display()
    ));

    let env = Box::new(move |name: &str| (name == FLEET_SECRET_ENV).then(|| secret.clone()));
    let (fleet, diagnostics) = Fleet::load(&dir, today, env).map_err(anyhow::Error::msg)?;
    let summary = fleet.validate(&Selection::All, diagnostics);
    if !summary.ok() {
        output::print_diagnostics(super::Format::Human, &summary.diagnostics, &fleet.project);
        anyhow::bail!("the demo project does not compile; this is a bug");
    }
    let fleet = Arc::new(fleet);
    let targets = fleet.targets(&Selection::All);
    let limits = Limits::default().time_scaled(args.time_scale);
    let client = Arc::new(
        GraphClient::new(
            limits,
            RetryPolicy::default().time_scaled(args.time_scale),
            Arc::new(RealTiming::new(7)),
        )
        .map_err(anyhow::Error::msg)?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let run_id = deploy::new_run_id();
    let journal_path = deploy::run_dir(&dir, &run_id).join("journal.jsonl");
    let journal = Arc::new(RunJournal::open(&journal_path)?);
    journal.append(Entry::RunStarted {
        tenants: targets.iter().map(|t| t.id.clone()).collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    let run = Arc::new(Run {
        fleet: fleet.clone(),
        client: client.clone(),
        journal: Some(journal),
        reporter: Arc::new(Mutex::new(progress::reporter(
            Style::for_humans(),
            "deploy",
            Output::stdio(),
        ))),
        options: DeployOptions::default(),
    });
    let deployed = rt.block_on(deploy::run(run, targets.clone(), Some(run_id.clone())));
    err(&summary_text(&deployed));

    // Plan again: a converged fleet has nothing left to do.
    let replan = Arc::new(Run {
        fleet: fleet.clone(),
        client: client.clone(),
        journal: None,
        reporter: Arc::new(Mutex::new(progress::reporter(
            Style::Quiet,
            "plan",
            Output::stdio(),
        ))),
        options: DeployOptions {
            plan_only: true,
            ..DeployOptions::default()
        },
    });
    let planned = rt.block_on(deploy::run(replan, targets.clone(), None));
    let with_changes = planned
        .tenants
        .iter()
        .filter(|t| !t.ok || t.plan.as_ref().is_none_or(|p| !p.is_empty()))
        .count();
    let requests = sim
        .request_log(None)
        .and_then(|log| log.get("total").and_then(serde_json::Value::as_u64));
    let text = format!(
        "re-plan: {} of {} tenants have no change left{}\n",
        planned.tenants.len() - with_changes,
        planned.tenants.len(),
        requests
            .map(|n| format!(" (the simulator answered {n} requests in all)"))
            .unwrap_or_default()
    );
    out(&text);
    let drift_ok = drift_act(&sim, &rt, &fleet, &client, &targets);
    let mut text = String::new();
    if args.keep.is_some() {
        text.push_str(&format!(
            "kept: {} (journal: tenantform runs show {run_id} --project {})\n",
            dir.display(),
            dir.display()
        ));
    } else {
        text.push_str("the demo project was removed; keep it with --keep DIR\n");
    }
    out(&text);
    drop(rt);
    sim.shutdown_blocking()?;
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(
        if deployed.failed().count() == 0 && with_changes == 0 && drift_ok {
            exit::OK
        } else {
            exit::DEPLOY_FAILED
        },
    )
}

/// The demo's last act: an administrator disables a policy of the first tenant in the portal;
/// `drift` finds it and names them; `deploy` puts it back; `drift` finds nothing. True when it
/// went as it should.
fn drift_act(
    sim: &tenantform::sim::SimHandle,
    rt: &tokio::runtime::Runtime,
    fleet: &Arc<Fleet>,
    client: &Arc<GraphClient>,
    targets: &[tenantform::deploy::Target],
) -> bool {
    let Some(first) = targets.first() else {
        return true;
    };
    let identity = tenantform::deploy::load_identity(&fleet.dir, &first.id).unwrap_or_default();
    let Some((key, id)) = identity
        .objects
        .iter()
        .find(|(key, _)| {
            identity
                .kinds
                .get(*key)
                .is_some_and(|k| k == "conditionalAccessPolicy")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
    else {
        return true;
    };
    let admin = "night.admin@contoso.example";
    let change = serde_json::json!({
        "method": "PATCH",
        "path": format!("/v1.0/identity/conditionalAccess/policies/{id}"),
        "body": {"state": "disabled"},
        "user": admin,
    });
    if !sim
        .portal_change(&first.id, &change)
        .is_some_and(|(status, _)| (200..300).contains(&status))
    {
        err("demo: the portal change was refused; this is a bug\n");
        return false;
    }
    err(&format!(
        "demo: {admin} disables {key} in {} in the portal; drift finds it:\n",
        first.name
    ));
    let one = vec![first.clone()];
    let drift_run = |reporter_verb: &'static str, drift: bool| {
        Arc::new(Run {
            fleet: fleet.clone(),
            client: client.clone(),
            journal: None,
            reporter: Arc::new(Mutex::new(progress::reporter(
                Style::Quiet,
                reporter_verb,
                Output::stdio(),
            ))),
            options: DeployOptions {
                plan_only: drift,
                drift,
                ..DeployOptions::default()
            },
        })
    };
    let found = rt.block_on(deploy::run(drift_run("drift", true), one.clone(), None));
    out(&tenantform::report::drift::drift_text(
        &found.tenants,
        false,
    ));
    let drifted = found
        .tenants
        .iter()
        .any(|t| t.drift.as_ref().is_some_and(|d| d.has_drift()));
    let restored = rt.block_on(deploy::run(drift_run("deploy", false), one.clone(), None));
    let again = rt.block_on(deploy::run(drift_run("drift", true), one, None));
    let clean = again
        .tenants
        .iter()
        .all(|t| t.drift.as_ref().is_some_and(|d| !d.has_drift()));
    out(&format!(
        "deploy puts it back ({} updated); drift again: {}\n",
        restored
            .tenants
            .iter()
            .map(|t| t.counts.updated)
            .sum::<usize>(),
        if clean { "in sync" } else { "STILL DRIFTED" }
    ));
    drifted && clean && restored.failed().count() == 0
}
