//! `tenantform render`: one resource for one tenant, as the request it compiles to.

use serde_json::json;
use tenantform::compile;
use tenantform::source::model;

use super::output;
use super::{Format, ProjectArg, err, exit, out};

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints the request as JSON on stdout (method, path, body with reference placeholders,\n\
dependencies) and the resource's diagnostics on stderr. Exit 1 when the tenant does not compile."
)]
pub(crate) struct Args {
    #[command(flatten)]
    project: ProjectArg,
    /// The tenant (id or name).
    #[arg(long, value_name = "ID")]
    tenant: String,
    /// The resource key.
    #[arg(long, value_name = "KEY")]
    resource: String,
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let loaded = match output::load(&args.project.project)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let Some(tenant) = loaded
        .project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(&args.tenant) || t.name == args.tenant)
        .and_then(|entry| loaded.project.tenant(entry))
    else {
        let names: Vec<&str> = loaded
            .project
            .tenants
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let hint = model::did_you_mean(&args.tenant, names.iter().copied())
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        err(&format!(
            "error: no tenant \"{}\" in the project{hint}\n",
            args.tenant
        ));
        return Ok(exit::INVALID_INPUT);
    };
    let compiled = compile::compile_tenant(
        &loaded.project,
        &loaded.engine,
        loaded.schemas,
        &tenant,
        false,
        today,
    );
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(compiled.diagnostics);
    diagnostics.coalesce();
    output::print_diagnostics(Format::Human, &diagnostics, &loaded.project);
    let Some(bundle) = compiled.bundle else {
        return Ok(exit::INVALID_INPUT);
    };
    if let Some(skipped) = bundle
        .bundle()
        .skipped
        .iter()
        .find(|s| s.key == args.resource)
    {
        err(&format!(
            "error: tenant {} skips resource \"{}\" (reason: {})\n",
            tenant.name, args.resource, skipped.reason
        ));
        return Ok(exit::INVALID_INPUT);
    }
    let Some(op) = bundle
        .bundle()
        .operations
        .iter()
        .find(|o| o.key == args.resource)
    else {
        let keys: Vec<&str> = bundle
            .bundle()
            .operations
            .iter()
            .map(|o| o.key.as_str())
            .collect();
        let hint = model::did_you_mean(&args.resource, keys.iter().copied())
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        err(&format!(
            "error: tenant {} has no resource \"{}\"{hint}\n",
            tenant.name, args.resource
        ));
        return Ok(exit::INVALID_INPUT);
    };
    let doc = json!({
        "key": op.key,
        "kind": op.kind.name,
        "method": op.method.as_str(),
        "path": format!("/{}{}", op.kind.api_version.segment(), op.path),
        "depends_on": op.depends_on,
        "body": op.body,
    });
    out(&format!("{}\n", serde_json::to_string_pretty(&doc)?));
    Ok(exit::OK)
}
