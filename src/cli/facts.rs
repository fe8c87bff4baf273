//! `tenantform facts --tenant ID|--all [--write]`: read what each selected tenant has bought
//! (`GET /subscribedSkus`) and what its app was granted (its app role assignments on Microsoft
//! Graph), compare it with the tenant file's `[tenant.facts]`, and with `--write` put it there
//! in place ([`tenantform::source::facts_file`]). The reading is
//! [`tenantform::deploy::facts`].

use std::sync::Arc;

use tenantform::deploy::DeployOptions;
use tenantform::deploy::facts::{LiveFacts, read_facts};
use tenantform::report::progress::Style;
use tenantform::source::facts_file;

use super::deploy::{Connection, Scope};
use super::{err, exit, out};

/// Arguments of `facts`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads, for each selected tenant, the service plans of its subscribed SKUs (GET /subscribedSkus:
plans whose provisioningStatus is Success in SKUs that are Enabled or in Warning) and the
application permissions granted to its app on Microsoft Graph (the app's service principal, its
appRoleAssignments, and Graph's appRoles for their names). Only plans and permissions
tenantform uses are kept. Without --write it shows what it read and whether [tenant.facts]
says the same; with --write it puts the lists into the tenant's [tenant.facts] in place
(comments and formatting kept). The app needs Organization.Read.All (or
LicenseAssignment.Read.All) and Application.Read.All to read them.

Examples:
  tenantform facts -p msp --tenant Contoso
  tenantform facts -p msp --all --write

Exit codes: 0 read (and written); 1 invalid project; 3 a tenant could not be read or its file
written; 64 usage.")]
pub(crate) struct FactsArgs {
    #[command(flatten)]
    scope: Scope,
    /// Write what was read into each tenant's [tenant.facts] (in place).
    #[arg(long)]
    write: bool,
    /// Print the facts read as JSON (one document) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

pub(crate) fn run(args: FactsArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let (fleet, targets) = match super::deploy::read_targets(&args.scope, today) {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    let client = super::deploy::client(&args.connection)?;
    let options = DeployOptions {
        plan_only: true,
        ..args.connection.options()
    };
    let run = super::deploy::make_run(
        Arc::clone(&fleet),
        client,
        None,
        Style::Quiet,
        "facts",
        options,
    );
    let runtime = super::deploy::runtime()?;
    let mut failed = 0;
    let mut read: Vec<LiveFacts> = Vec::new();
    let mut text = String::new();
    for target in &targets {
        let facts = match runtime.block_on(read_facts(&run, target)) {
            Ok(facts) => facts,
            Err(e) => {
                failed += 1;
                err(&format!(
                    "error: {} ({}): facts not read: {e}\n",
                    target.name, target.id
                ));
                continue;
            }
        };
        let project = &fleet.project;
        let entry = project.tenants.iter().find(|t| t.id == target.id);
        let declared = entry.and_then(|e| project.tenant(e)).and_then(|t| t.facts);
        let same = declared.as_ref().is_some_and(|d| {
            let sorted = |v: Option<Vec<&str>>| {
                v.map(|mut v| {
                    v.sort_unstable();
                    v.into_iter().map(str::to_string).collect::<Vec<_>>()
                })
            };
            sorted(d.plans()).as_ref() == Some(&facts.service_plans)
                && sorted(d.granted()).as_ref() == Some(&facts.permissions)
        });
        text.push_str(&format!(
            "{} ({}):\n  service plans: {}\n  permissions:   {}\n",
            target.name,
            target.id,
            list(&facts.service_plans),
            list(&facts.permissions)
        ));
        let Some(entry) = entry else { continue };
        let file = project.sources.file(entry.location.file);
        let path = project.root.join(&file.name);
        if same {
            text.push_str(&format!(
                "  [tenant.facts] in {} says the same\n",
                file.name
            ));
        } else if args.write {
            let written = std::fs::read_to_string(&path)
                .map_err(|source| facts_file::FactsFileError::Io {
                    path: path.clone(),
                    source,
                })
                .and_then(|now| {
                    facts_file::with_facts(
                        &path,
                        &now,
                        &target.id,
                        &facts.service_plans,
                        &facts.permissions,
                    )
                })
                .and_then(|new| facts_file::write_atomically(&path, &new));
            match written {
                Ok(()) => text.push_str(&format!("  wrote [tenant.facts] in {}\n", file.name)),
                Err(e) => {
                    failed += 1;
                    err(&format!("error: {} ({}): {e}\n", target.name, target.id));
                }
            }
        } else {
            text.push_str(&format!(
                "  [tenant.facts] in {} differs (or is absent); --write puts these there\n",
                file.name
            ));
        }
        read.push(facts);
    }
    if args.json {
        out(&format!("{}\n", serde_json::to_string_pretty(&read)?));
    } else {
        out(&text);
    }
    Ok(if failed > 0 {
        exit::DEPLOY_FAILED
    } else {
        exit::OK
    })
}
