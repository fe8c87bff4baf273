//! `tenantform export --tenant ID|NAME --out DIR`: a live tenant → a baseline that reproduces it.
//! The tenant is read like `plan` reads it ([`tenantform::deploy::export`]); its objects go
//! through the importer's cleaning, id mapping and emitter
//! ([`tenantform::import::write_baseline`]), as a Graph JSON backup would.

use std::path::PathBuf;
use std::sync::Arc;

use tenantform::compile::Selection;
use tenantform::deploy::DeployOptions;
use tenantform::import::emit::Origin;
use tenantform::import::layout::{Backup, ForeignObject};
use tenantform::import::{self, Finding, ImportError};
use tenantform::report::progress::Style;

use super::deploy::Connection;
use super::{ProjectArg, err, exit};

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads one tenant of the project (with its credentials and endpoints; nothing is written to it)
and writes DIR/baselines/NAME.toml and DIR/templates/NAME/<prefix>/<key>.json.tera: a baseline
that reproduces it. Every object of the kinds the tenant's baselines manage is exported (not
only those the project declares), the groups its baselines declare and every group the exported
objects reference; server fields and read-only properties go; ids of exported groups and named
locations become references, other ids parameters (listed in the baseline's header); the
tenant's id becomes {{ tenant.id }} and its domain {{ tenant.domain }}. Each Intune policy's
assignments become its assignment-set resource (<key>-assignments, parent = the policy), their
groups references to exported groups, assignment filters parameters. Child objects are not
exported (a warning says how many).

Examples:
  tenantform export -p msp --tenant golden --out golden-export
  tenantform export -p msp --tenant golden --out msp --name golden --force

Exit codes: 0 exported; 1 invalid project, or the tenant's objects cannot be made a baseline
(nothing written); 3 the tenant could not be read; 64 usage (an unknown --tenant or --kinds, a
non-empty --out without --force).")]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The tenant to export (id or name).
    #[arg(long, value_name = "ID|NAME")]
    tenant: String,
    /// Where to write the baseline (must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Export only these kinds (comma-separated kind names, `tenantform kinds`).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    kinds: Vec<String>,
    /// The baseline's name.
    #[arg(long, default_value = "exported")]
    name: String,
    /// Write into a non-empty DIR, replacing this baseline's files there.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    connection: Connection,
}

pub(crate) fn run_export(args: ExportArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let names: Vec<&str> = tenantform::kinds::all().iter().map(|k| k.name).collect();
    for kind in &args.kinds {
        if !names.contains(&kind.as_str()) {
            let hint = tenantform::source::model::did_you_mean(kind, names.iter().copied())
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            err(&format!(
                "error: --kinds: no resource kind \"{kind}\"{hint}; `tenantform kinds` lists them\n"
            ));
            return Ok(exit::USAGE);
        }
    }
    match import::check_output(&args.name, &args.out, args.force) {
        Ok(()) => {}
        Err(e @ (ImportError::OutNotEmpty(_) | ImportError::BadName(_))) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::USAGE);
        }
        Err(e) => return Err(e.into()),
    }
    let selection = Selection::Tenants(vec![args.tenant.clone()]);
    let fleet =
        match super::deploy::load_valid(&args.project.project, &selection, None, "exported", today)
        {
            Ok(fleet) => Arc::new(fleet),
            Err(code) => return Ok(code),
        };
    let Some(target) = fleet.targets(&selection).into_iter().next() else {
        err(&format!(
            "error: no tenant \"{}\" in the project\n",
            args.tenant
        ));
        return Ok(exit::USAGE);
    };
    let client = super::deploy::client(&args.connection)?;
    let options = DeployOptions {
        plan_only: true,
        ..args.connection.options()
    };
    let run = super::deploy::make_run(fleet, client, None, Style::for_humans(), "export", options);
    let kinds = (!args.kinds.is_empty()).then_some(args.kinds.as_slice());
    let read = super::deploy::runtime()?.block_on(tenantform::deploy::export::read_for_export(
        &run, &target, kinds,
    ));
    let tenant = match read {
        Ok(tenant) => tenant,
        Err(e) => {
            err(&format!(
                "error: {} ({}): not exported: {e}\n",
                target.name, target.id
            ));
            return Ok(exit::DEPLOY_FAILED);
        }
    };
    let mut backup = Backup::default();
    for (kind, n) in &tenant.not_exported {
        backup.findings.push(Finding::warning(
            *kind,
            format!(
                "not exported: the tenant's baselines declare {n} resource(s) of this kind (child objects are not exported yet); add them to the baseline"
            ),
        ));
    }
    for object in tenant.objects {
        backup.objects.push(ForeignObject {
            file: object.source,
            kind: object.kind,
            body: object.body,
            key_hint: object.name,
        });
    }
    // The tenant's own id and domain stand for "this tenant": lower and upper case ids both.
    let mut tenant_values = vec![
        (tenant.id.to_ascii_lowercase(), "tenant.id".to_string()),
        (tenant.id.to_ascii_uppercase(), "tenant.id".to_string()),
    ];
    if let Some(domain) = tenant.domain.filter(|d| !d.is_empty()) {
        tenant_values.push((domain, "tenant.domain".to_string()));
    }
    let origin = Origin {
        verb: "Exported",
        command: format!("tenantform export --tenant {}", tenant.name),
        source: format!("tenant {} ({})", tenant.name, tenant.id),
        description: format!("Exported from tenant {}", tenant.name),
        tenant_values,
    };
    let report = import::write_baseline(backup, &origin, &args.name, &args.out)?;
    Ok(super::import::print_report(
        &report,
        "export",
        &format!("tenant {}", tenant.name),
        &args.out,
    ))
}
