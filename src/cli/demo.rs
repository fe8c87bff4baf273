//! `tenantform demo`: the whole job on a laptop. Starts the Graph simulator in-process, writes a
//! project on the shipped baselines with N simulated tenants (with 3 or more, the first is a
//! hub synchronizing a group of users into the next two), deploys it with progress bars,
//! prints the summary, then plans again to show that nothing is left to change; then users
//! flow from the hub into the spokes on a cycle, and an administrator's change is found by
//! drift and put back.

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
    let hub = write_sync_links(&dir, &sim)?;
    let fleet_toml = sim.fleet_tenants_toml();
    // The hub (the first tenant) also gets the group whose members the links synchronize.
    let fleet_toml = if hub.is_some() {
        fleet_toml.replacen("baselines = [", "baselines = [\"demo-hub\", ", 1)
    } else {
        fleet_toml
    };
    std::fs::write(dir.join("tenants/fleet.toml"), fleet_toml)?;
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
    for link in &deployed.links {
        err(&match &link.error {
            None => format!(
                "link {}: ok, {} step(s) changed, {} unchanged (target first, then source)\n",
                link.link,
                link.changed.len(),
                link.unchanged.len()
            ),
            Some(e) => format!("link {}: FAILED: {e}\n", link.link),
        });
    }

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
    let links_ok =
        deployed.failed_links().count() == 0 && planned.link_plans.iter().all(|l| l.is_empty());
    if !planned.link_plans.is_empty() {
        out(&format!(
            "re-plan: {} of {} cross-tenant links have no change left\n",
            planned.link_plans.iter().filter(|l| l.is_empty()).count(),
            planned.link_plans.len()
        ));
    }
    let sync_ok = match &hub {
        Some(hub) => rt.block_on(sync_act(&sim, &fleet, &client, hub)),
        None => {
            err("demo: the cross-tenant synchronization act needs 3 tenants or more; skipped\n");
            true
        }
    };
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
        if deployed.failed().count() == 0 && with_changes == 0 && drift_ok && links_ok && sync_ok {
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

/// The demo hub's group, and the spokes it synchronizes into.
struct Hub {
    id: String,
    name: String,
    spokes: Vec<(String, String)>,
}

/// With 3 tenants or more: a `demo-hub` baseline (the group of users to synchronize) and two
/// links from the first tenant to the next two. Returns the hub, or `None` with fewer tenants.
fn write_sync_links(
    dir: &std::path::Path,
    sim: &tenantform::sim::SimHandle,
) -> anyhow::Result<Option<Hub>> {
    let tenants = sim.tenants();
    let [hub, spokes @ ..] = tenants.as_slice() else {
        return Ok(None);
    };
    if spokes.len() < 2 {
        return Ok(None);
    }
    std::fs::create_dir_all(dir.join("links"))?;
    std::fs::write(
        dir.join("baselines/demo-hub.toml"),
        "[baseline]\ndescription = \"The demo's hub: the group whose members are synchronized into the spokes\"\n\n\
         [resources.sync-staff]\nkind = \"group\"\ntemplate = \"groups/security-group.json.tera\"\n\
         vars = { name = \"Synchronized staff\", unique_name = \"tenantform-sync-staff\", mail_nickname = \"sync-staff\", description = \"Members are provisioned into the spokes by cross-tenant synchronization.\" }\n",
    )?;
    let mut out = Vec::new();
    for (i, spoke) in spokes.iter().take(2).enumerate() {
        std::fs::write(
            dir.join(format!("links/hub-to-spoke-{}.toml", i + 1)),
            format!(
                "source = \"{}\"\ntarget = \"{}\"\nscope = [\"group:sync-staff\"]\nuser_type = \"Member\"\n\n[deletion_prevention]\nthreshold = 10\n\n[[mappings]]\ntarget = \"companyName\"\nconstant = \"{}\"\n",
                hub.id, spoke.id, hub.name
            ),
        )?;
        out.push((spoke.id.clone(), spoke.name.clone()));
    }
    Ok(Some(Hub {
        id: hub.id.clone(),
        name: hub.name.clone(),
        spokes: out,
    }))
}

/// The synchronization act: three people join the hub's group, the provisioning service runs a
/// cycle, and each spoke lists them (read through Graph) as B2B members. True when they are
/// in both spokes.
async fn sync_act(
    sim: &tenantform::sim::SimHandle,
    fleet: &Arc<Fleet>,
    client: &Arc<GraphClient>,
    hub: &Hub,
) -> bool {
    let people = [
        ("ada.lovelace", "Ada Lovelace"),
        ("alan.turing", "Alan Turing"),
        ("grace.hopper", "Grace Hopper"),
    ];
    let domain: String = hub
        .name
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    for (person, display) in people {
        let upn = format!("{person}@{domain}.example");
        let user = serde_json::json!({"userPrincipalName": upn, "displayName": display,
            "groups": ["tenantform-sync-staff"]});
        if !matches!(sim.seed_user(&hub.id, &user), Some(Ok(_))) {
            err(&format!(
                "demo: could not add {upn} to the hub; this is a bug\n"
            ));
            return false;
        }
    }
    let jobs = sim.run_sync_cycle(&hub.id).unwrap_or(0);
    out(&format!(
        "sync: {} joined the hub's group \"Synchronized staff\" in {}; a provisioning cycle ran ({jobs} jobs)\n",
        people.len(),
        hub.name
    ));
    let mut ok = true;
    for (id, name) in &hub.spokes {
        let session = match tenantform::sync::session_for(fleet, id) {
            Ok(session) => session,
            Err(e) => {
                err(&format!("demo: no session for {name}: {e}\n"));
                return false;
            }
        };
        let request = tenantform::graph::client::Request::get(
            "demo-users",
            tenantform::kinds::ApiVersion::V1,
            "/users?$select=displayName,userPrincipalName,userType,creationType",
            tenantform::kinds::ThrottleClass::Identity,
        );
        let users = match client
            .send(&session, &request, &tenantform::graph::client::NoObserver)
            .await
        {
            Ok(answer) => answer.body["value"].as_array().cloned().unwrap_or_default(),
            Err(e) => {
                err(&format!("demo: reading {name}'s users failed: {e}\n"));
                return false;
            }
        };
        let synced: Vec<String> = users
            .iter()
            .filter(|u| u["creationType"] == "Invitation")
            .map(|u| {
                format!(
                    "{} ({})",
                    u["displayName"].as_str().unwrap_or("?"),
                    u["userType"].as_str().unwrap_or("?")
                )
            })
            .collect();
        out(&format!(
            "sync: {name} now has {} synchronized users: {}\n",
            synced.len(),
            synced.join(", ")
        ));
        ok &= synced.len() == people.len();
    }
    ok
}
