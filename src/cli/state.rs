//! `tenantform state`: the project's state backend (`[state]` in tenantform.toml): `state locks`
//! lists who holds which tenant, `state unlock TENANT --force` removes the lock of a run that
//! died; `state pull RUN_ID` brings a run from the store into `.tenantform/`. Also the
//! helpers deploy and rollback use to open their run's state (`--lock-timeout`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tenantform::deploy::{Fleet, Target};
use tenantform::source::model::StateSettings;
use tenantform::state::{self, Holder, RunState, StateStore};

use super::deploy::runtime;
use super::{ProjectArg, err, exit, out, output};

/// `--lock-timeout` (deploy, rollback).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LockArgs {
    /// How long to wait for a tenant whose lock another run holds before giving it up, naming
    /// the holder (host, pid, run id, since when). `0s` fails at once. Units: s, m, h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub(super) lock_timeout: Duration,
}

/// A duration such as `90s`, `5m`, `1h` or `0`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write it like 90s, 5m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use s, m or h (90s, 5m, 1h)"
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

/// The project's `[state]` (the default, local files, without one).
pub(super) fn settings(fleet: &Fleet) -> StateSettings {
    fleet.state_settings()
}

/// Open the project's state store, or say why not (printed) and return the exit code.
pub(super) fn open_store(dir: &Path, settings: &StateSettings) -> Result<Arc<StateStore>, u8> {
    state::open(settings, dir, &state::process_env)
        .map(Arc::new)
        .map_err(|e| {
            err(&format!("error: {e}\n"));
            exit::INVALID_INPUT
        })
}

/// Bring run `run_id` from a remote store into the working copy (resume, rollback from
/// another machine); nothing to do with local state.
pub(super) fn fetch_run(
    rt: &tokio::runtime::Runtime,
    store: &StateStore,
    dir: &Path,
    run_id: &str,
) -> Result<(), u8> {
    if store.is_local() {
        return Ok(());
    }
    match rt.block_on(state::run::fetch_run(store, dir, run_id)) {
        Ok(Some(fetched)) => {
            err(&format!(
                "state: run {run_id} read from {} ({} bytes of journal, before-images of {} tenants)\n",
                store.location(),
                fetched.journal_bytes,
                fetched.before_image_tenants
            ));
            Ok(())
        }
        // Not in the store: the working copy may still have it; the caller says if not.
        Ok(None) => Ok(()),
        Err(e) => {
            err(&format!("error: {e}\n"));
            Err(exit::DEPLOY_FAILED)
        }
    }
}

/// With a remote store, bring the identity maps of `targets` into the working copy, so that a
/// plan or drift on a fresh runner matches objects as the last deploy left them.
pub(super) fn pull_identities(fleet: &Fleet, targets: &[Target]) -> Result<(), u8> {
    let settings = settings(fleet);
    if settings.backend == tenantform::source::model::StateBackend::Local {
        return Ok(());
    }
    let store = open_store(&fleet.dir, &settings)?;
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let rt = runtime().map_err(|e| {
        err(&format!("error: {e}\n"));
        exit::INTERNAL
    })?;
    rt.block_on(state::run::fetch_identities(&store, &fleet.dir, &ids))
        .map(|_| ())
        .map_err(|e| {
            err(&format!("error: {e}\n"));
            exit::DEPLOY_FAILED
        })
}

/// Open a writing run's state: its locks and, with a remote store, its publishing.
pub(super) fn open_run_state(
    rt: &tokio::runtime::Runtime,
    store: Arc<StateStore>,
    fleet: &Fleet,
    command: &str,
    run_id: &str,
    lock: &LockArgs,
) -> Result<Arc<RunState>, u8> {
    let lease = Duration::from_secs(settings(fleet).lease_seconds);
    let holder = Holder::this_process(command, run_id);
    rt.block_on(RunState::open(
        store,
        &fleet.dir,
        holder,
        lease,
        lock.lock_timeout,
    ))
    .map_err(|e| {
        err(&format!(
            "error: {e}\nnothing was deployed; the run's records stay in .tenantform/ until the store answers\n"
        ));
        exit::DEPLOY_FAILED
    })
}

/// Arguments of `state`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Where run state lives is set by [state] in tenantform.toml: local files in .tenantform/ (the
default), or backend = \"azure-blob\" with account, container and prefix (credential from
AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING).

Deploy, rollback and link steps take a lock per tenant before they write to it and release it
at the end; a run killed while holding one leaves it until its lease runs out ([state]
lease_seconds, 60 by default), or until `state unlock TENANT --force`.

Exit codes: 0 ok; 1 invalid project or no credential; 3 the store did not answer; 64 usage
(unlock without --force).")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StateCommand {
    /// Every tenant lock in the store: tenant, command, run id, host, pid, since, lease end.
    Locks {
        #[command(flatten)]
        project: ProjectArg,
    },
    /// Remove a tenant's lock whoever holds it: for a lock whose run died (its lease has not
    /// run out yet). Never while that run is alive: two runs would write the tenant at once.
    Unlock {
        /// The tenant id.
        tenant: String,
        /// Required: say that the holder is dead.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        project: ProjectArg,
    },
    /// Bring runs (journal and before-images) from the store into .tenantform/ (or DIR), to
    /// read them with `runs show` or `report` (`report --journals DIR`): the journals of the
    /// shards of a fleet deployed from many runners or pods.
    Pull {
        /// The run ids (none with --all).
        #[arg(required_unless_present = "all")]
        run_ids: Vec<String>,
        /// Every run in the store.
        #[arg(long, conflicts_with = "run_ids")]
        all: bool,
        /// Write them under DIR/runs/<run-id>/ instead of the project's .tenantform/runs/.
        #[arg(long, value_name = "DIR")]
        to: Option<std::path::PathBuf>,
        #[command(flatten)]
        project: ProjectArg,
    },
}

/// The store of the project in `project` (its tenantform.toml must be valid; the rest of the
/// project is not checked).
fn project_store(project: &ProjectArg) -> Result<Arc<StateStore>, u8> {
    let dir = project.project.as_path();
    let (source, diagnostics) = match tenantform::source::project::load(dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Err(exit::INVALID_INPUT);
        }
    };
    let Some(config) = &source.config else {
        output::print_diagnostics(super::Format::Human, &diagnostics, &source);
        return Err(exit::INVALID_INPUT);
    };
    if diagnostics.iter().any(|d| {
        d.is_error()
            && d.span
                .is_some_and(|s| source.sources.file(s.file).name == "tenantform.toml")
    }) {
        output::print_diagnostics(super::Format::Human, &diagnostics, &source);
        return Err(exit::INVALID_INPUT);
    }
    open_store(dir, &config.state)
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let rt = runtime()?;
    match args.command {
        StateCommand::Locks { project } => {
            let store = match project_store(&project) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            match rt.block_on(state::lock::list_locks(&store)) {
                Ok(locks) if locks.is_empty() => {
                    out(&format!("no tenant is locked in {}\n", store.location()));
                    Ok(exit::OK)
                }
                Ok(locks) => {
                    let now = jiff::Timestamp::now();
                    for l in locks {
                        out(&format!(
                            "{}: {}{}\n",
                            l.tenant,
                            l.describe(),
                            if l.expired(now) {
                                " (lease ran out: the next run takes it over)"
                            } else {
                                ""
                            }
                        ));
                    }
                    Ok(exit::OK)
                }
                Err(e) => {
                    err(&format!("error: {e}\n"));
                    Ok(exit::DEPLOY_FAILED)
                }
            }
        }
        StateCommand::Unlock {
            tenant,
            force,
            project,
        } => {
            if !force {
                err(&format!(
                    "error: `state unlock` removes a lock whoever holds it; if the run holding tenant {tenant} is alive, two runs would write the tenant at once. `tenantform state locks` shows the holder; when it is dead, run `tenantform state unlock {tenant} --force`\n"
                ));
                return Ok(exit::USAGE);
            }
            let store = match project_store(&project) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            match rt.block_on(state::lock::force_unlock(&store, &tenant)) {
                Ok(Some(record)) => {
                    out(&format!(
                        "removed the lock of tenant {tenant}: it was held by {}\n",
                        record.describe()
                    ));
                    Ok(exit::OK)
                }
                Ok(None) => {
                    out(&format!("tenant {tenant} was not locked\n"));
                    Ok(exit::OK)
                }
                Err(e) => {
                    err(&format!("error: {e}\n"));
                    Ok(exit::DEPLOY_FAILED)
                }
            }
        }
        StateCommand::Pull {
            run_ids,
            all,
            to,
            project,
        } => {
            let store = match project_store(&project) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            if store.is_local() {
                out("state is local (.tenantform/): nothing to pull\n");
                return Ok(exit::OK);
            }
            let work = match &to {
                Some(dir) => state::LocalStore::at(dir),
                None => state::LocalStore::new(&project.project),
            };
            let run_ids = if all {
                match rt.block_on(state::run::list_runs(&store)) {
                    Ok(ids) => ids,
                    Err(e) => {
                        err(&format!("error: {e}\n"));
                        return Ok(exit::DEPLOY_FAILED);
                    }
                }
            } else {
                run_ids
            };
            let mut missing = Vec::new();
            for run_id in &run_ids {
                match rt.block_on(state::run::fetch_run_into(&store, &work, run_id)) {
                    Ok(Some(f)) => out(&format!(
                        "run {run_id}: {} bytes of journal, before-images of {} tenants into {}\n",
                        f.journal_bytes,
                        f.before_image_tenants,
                        work.root().join("runs").join(run_id).display()
                    )),
                    Ok(None) => missing.push(run_id.clone()),
                    Err(e) => {
                        err(&format!("error: {e}\n"));
                        return Ok(exit::DEPLOY_FAILED);
                    }
                }
            }
            if run_ids.is_empty() {
                out(&format!("no run in {}\n", store.location()));
            }
            if !missing.is_empty() {
                err(&format!(
                    "error: no run {} in {}\n",
                    missing.join(", "),
                    store.location()
                ));
                return Ok(exit::INVALID_INPUT);
            }
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn lock_timeouts_parse_with_units_and_bad_ones_say_how_to_write_them() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(
            parse_duration("5 fortnights")
                .expect_err("unit")
                .contains("use s, m or h")
        );
        assert!(parse_duration("soon").expect_err("number").contains("90s"));
    }
}
