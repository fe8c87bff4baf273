//! `tenantform snapshot`: every managed kind of each selected tenant as Graph JSON, one
//! canonical file per object, under `OUT/<tenant-id>/<kind>/<resource-key>.json`.

use std::path::PathBuf;

use tenantform::deploy::{self, DeployOptions};
use tenantform::report::progress::Style;

use super::deploy::{Connection, Scope};
use super::{exit, out};

/// Arguments of `snapshot`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads each selected tenant's objects of the kinds its baselines manage and writes them to
OUT/<tenant-id>/<kind>/<name>.json: one file per object, keys sorted, two-space indented, with
OData annotations, @odata.bind keys and server-computed properties (timestamps) removed, so a
snapshot taken again diffs cleanly in git when nothing changed. Files are named after the
project's resource keys; objects no baseline declares are `unmanaged-<id>.json`. A tenant's
directory is replaced whole (written aside, then renamed). Nothing is written to Graph.

Examples:
  tenantform snapshot -p msp --out backups/2026-12-06
  tenantform snapshot -p msp --tenant Contoso --out snap && git -C snap diff --stat

Exit codes: 0 every tenant written; 3 a tenant could not be read or written; 1 invalid project;
64 usage.")]
pub(crate) struct SnapshotArgs {
    #[command(flatten)]
    scope: Scope,
    /// The directory to write to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    connection: Connection,
}

pub(crate) fn run_snapshot(args: SnapshotArgs, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let (fleet, targets) = match super::deploy::read_targets(&args.scope, today) {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(&args.out).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the snapshot directory {}: {e}",
            args.out.display()
        )
    })?;
    let client = super::deploy::client(&args.connection)?;
    let options = DeployOptions {
        plan_only: true,
        snapshot: Some(args.out.clone()),
        ..args.connection.options()
    };
    let run = super::deploy::make_run(
        fleet,
        client,
        None,
        Style::for_humans(),
        "snapshot",
        options,
    );
    let mut summary = super::deploy::runtime()?.block_on(deploy::run(run, targets, None));
    summary
        .tenants
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut text = String::new();
    let mut files = 0;
    for t in &summary.tenants {
        match (t.snapshot_files, &t.reason) {
            (Some(n), None) => {
                files += n;
                text.push_str(&format!("{} ({}): {n} objects\n", t.name, t.id));
            }
            (_, reason) => text.push_str(&format!(
                "{} ({}): NOT WRITTEN: {}\n",
                t.name,
                t.id,
                reason.as_deref().unwrap_or("unknown")
            )),
        }
    }
    let failed = summary.failed().count() + summary.not_started.len();
    text.push_str(&format!(
        "snapshot: {} tenants, {files} objects in {}{}\n",
        summary.tenants.len(),
        args.out.display(),
        if failed > 0 {
            format!("; {failed} not written")
        } else {
            String::new()
        }
    ));
    out(&text);
    Ok(if failed > 0 {
        exit::DEPLOY_FAILED
    } else {
        exit::OK
    })
}
