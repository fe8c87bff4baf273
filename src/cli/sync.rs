//! `tenantform sync status`: where each cross-tenant synchronization link stands.

use std::sync::Arc;

use tenantform::compile::Selection;
use tenantform::graph::client::NoObserver;
use tenantform::sync::status::{LinkStatus, status, status_text};

use super::deploy::Connection;
use super::{ProjectArg, exit, out};

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: SyncCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SyncCommand {
    /// Each link's synchronization job, read from its source tenant: state, last cycle, users
    /// synchronized, quarantine and why.
    #[command(after_help = "\
Reads, for each link of the project (links/<name>.toml), the configuration app in the source
tenant (by its display name and the cross-tenant synchronization template) and its job: the
state (Active, Paused, Quarantine, NotRun), the last cycle and how it ended, how many users it
has synchronized, and a quarantine's reason. Writes nothing.

Exit codes: 0 every link is set up and not in quarantine; 2 a link needs attention (not set up,
in quarantine, or its last cycle failed); 3 a link's source could not be read; 1 invalid project;
64 usage (also a --link the project does not have).")]
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// Only this link (its file name without .toml).
    #[arg(long, value_name = "NAME")]
    link: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let SyncCommand::Status(args) = args.command;
    let fleet = match super::deploy::load_valid(
        &args.project.project,
        &Selection::All,
        None,
        "read",
        today,
    ) {
        Ok(fleet) => Arc::new(fleet),
        Err(code) => return Ok(code),
    };
    if let Some(name) = &args.link
        && !fleet.project.links.iter().any(|l| &l.name == name)
    {
        let names: Vec<&str> = fleet
            .project
            .links
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        super::err(&format!(
            "error: --link {name}: the project has no such link (links: {})\n",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
        return Ok(exit::USAGE);
    }
    let client = super::deploy::client(&args.connection)?;
    let statuses: Vec<LinkStatus> = super::deploy::runtime()?.block_on(status(
        &client,
        &fleet,
        args.link.as_deref(),
        &NoObserver,
    ));
    if args.json {
        out(&format!("{}\n", serde_json::to_string_pretty(&statuses)?));
    } else {
        out(&status_text(&statuses));
    }
    Ok(if statuses.iter().any(|s| s.error.is_some()) {
        exit::DEPLOY_FAILED
    } else if statuses.iter().any(|s| !s.healthy()) {
        exit::CHANGES
    } else {
        exit::OK
    })
}
