//! `tenantform sync status`: where each cross-tenant synchronization link stands; `tenantform
//! sync test`: provision one user of a link on demand, step by step.

use std::sync::Arc;

use tenantform::compile::Selection;
use tenantform::graph::client::NoObserver;
use tenantform::sync::on_demand::{OnDemandError, provision_on_demand, report_text};
use tenantform::sync::organization;
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
    /// synchronized, quarantine and why, the pieces missing on either side, the last
    /// provisioning events; and the multitenant organization's members.
    #[command(after_help = "\
Reads, for each link of the project (links/<name>.toml), the configuration app in the source
tenant (by its display name and the cross-tenant synchronization template) and its job: the
state (Active, Paused, Quarantine, NotRun), the last cycle and how it ended, how many users it
has synchronized, and a quarantine's reason; the pieces missing on either side (the target's
partner entry, automatic redemption and inbound sync; the source's partner entry, configuration
app, job, secrets and scope assignments), each with what to do; and the job's last provisioning
events (GET /auditLogs/provisioning), failures with the service's error. Then the multitenant
organization (organization.toml), when the project declares one and no --link is given: each
member pending, joined or failed, with the reason. Writes nothing.

Exit codes: 0 every link is set up, healthy and complete, and every member has joined; 2 a link
or the organization needs attention (not set up, a piece missing, its last cycle failed, a
member pending or failed); 3 a link is in quarantine, or a tenant could not be read; 1 invalid
project; 64 usage (also a --link the project does not have).")]
    Status(StatusArgs),
    /// Provision one user of a link's source now (provisionOnDemand) and print what the
    /// service did, step by step.
    #[command(after_help = "\
Finds the link's configuration app and job in the source tenant, the user by UPN, and the user
rule's id in the job's schema, then asks the provisioning service to provision that one user
now, as the next cycle would: same scope (assigned directly or through a group, and the scoping
filter), same mappings, same policy checks. Prints each step the service reports (import,
scoping, export), the attributes it wrote, and the result. The user is written into the target
tenant if it is in scope.

Example:
  tenantform sync test hub-to-spoke --user ann@hub.example

Exit codes: 0 the user is in the target as the link wants it (created, updated or already
matching); 2 the service skipped or failed the user (not in scope, a policy missing: the
result says which); 3 the link is not set up, or its source could not be read; 1 the user is
not in the source tenant, or an invalid project; 64 usage (also a link the project does not
have).")]
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
struct TestArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The link (its file name without .toml).
    #[arg(value_name = "LINK")]
    link: String,
    /// The user to provision, by userPrincipalName in the source tenant.
    #[arg(long, value_name = "UPN")]
    user: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
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
    match args.command {
        SyncCommand::Status(args) => run_status(args, today),
        SyncCommand::Test(args) => run_test(args, today),
    }
}

fn run_test(args: TestArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
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
    let client = super::deploy::client(&args.connection)?;
    let result = super::deploy::runtime()?.block_on(provision_on_demand(
        &client,
        &fleet,
        &args.link,
        &args.user,
        &NoObserver,
    ));
    match result {
        Ok(report) => {
            if args.json {
                out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
            } else {
                out(&report_text(&report));
            }
            Ok(if report.provisioned() {
                exit::OK
            } else {
                exit::CHANGES
            })
        }
        Err(e) => {
            super::err(&format!("error: sync test: {e}\n"));
            Ok(match e {
                OnDemandError::UnknownLink(..) => exit::USAGE,
                OnDemandError::UserNotFound { .. } => exit::INVALID_INPUT,
                _ => exit::DEPLOY_FAILED,
            })
        }
    }
}

fn run_status(args: StatusArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
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
    let runtime = super::deploy::runtime()?;
    let statuses: Vec<LinkStatus> =
        runtime.block_on(status(&client, &fleet, args.link.as_deref(), &NoObserver));
    // The organization is shown with every link, not with one `--link`.
    let organization = match &args.link {
        Some(_) => None,
        None => runtime.block_on(organization::status(&client, &fleet, &NoObserver)),
    };
    if args.json {
        let report = serde_json::json!({"links": statuses, "organization": organization});
        out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        // Without links, the organization alone.
        let mut text = if statuses.is_empty() && organization.is_some() {
            String::new()
        } else {
            status_text(&statuses)
        };
        if let Some(org) = &organization {
            text.push_str(&organization::status_text(org));
        }
        out(&text);
    }
    // Exit 3 when a link is quarantined (the wording) or something could not be read.
    let unreadable = statuses
        .iter()
        .any(|s| s.error.is_some() || s.quarantined())
        || organization.as_ref().is_some_and(|o| o.unreadable());
    let unhealthy = statuses.iter().any(|s| !s.healthy())
        || organization.as_ref().is_some_and(|o| !o.healthy());
    Ok(if unreadable {
        exit::DEPLOY_FAILED
    } else if unhealthy {
        exit::CHANGES
    } else {
        exit::OK
    })
}
