//! `tenantform kinds`: the registry, for people and scripts.

use tenantform::kinds::{Shape, all};

use super::{exit, out};

/// Arguments of `kinds`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn shape(s: Shape) -> &'static str {
    match s {
        Shape::Collection => "collection",
        Shape::Singleton => "singleton",
        Shape::FixedMember => "fixed member",
        Shape::Child => "child",
        Shape::ParentAction => "parent action",
        Shape::QueriedItems(_) => "queried items",
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    if args.json {
        let kinds: Vec<_> = all()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "name": k.name,
                    "ref_prefix": k.ref_prefix,
                    "summary": k.summary,
                    "api_version": k.api_version.segment(),
                    "shape": shape(k.shape),
                    "path": k.path,
                    "create_method": k.create_method.map(|m| m.as_str()),
                    "update_method": k.update_method.as_str(),
                    "match_key": k.match_key,
                    "parent_kind": k.parent_kind,
                    "required_on_create": k.schema.required_on_create,
                    "odata_type_required": k.schema.odata_type_required,
                    "throttle_class": k.throttle.as_str(),
                    "permissions": k.permissions,
                })
            })
            .collect();
        out(&format!("{}\n", serde_json::to_string_pretty(&kinds)?));
        return Ok(exit::OK);
    }
    let mut text = String::new();
    for k in all() {
        text.push_str(&format!("{}  (ref prefix \"{}\")\n", k.name, k.ref_prefix));
        text.push_str(&format!("    {}\n", k.summary));
        text.push_str(&format!(
            "    {} /{}{}  create: {}  update: {}\n",
            shape(k.shape),
            k.api_version.segment(),
            k.path,
            k.create_method.map_or("-", |m| m.as_str()),
            k.update_method.as_str()
        ));
        if !k.match_key.is_empty() {
            text.push_str(&format!("    match key: {}\n", k.match_key.join(" + ")));
        }
        if let Some(parent) = k.parent_kind {
            text.push_str(&format!("    needs parent: a {parent}\n"));
        }
        if !k.schema.required_on_create.is_empty() {
            text.push_str(&format!(
                "    required: {}\n",
                k.schema.required_on_create.join(", ")
            ));
        }
        if k.schema.odata_type_required {
            text.push_str("    @odata.type required\n");
        }
        text.push_str(&format!(
            "    throttle: {}  permissions: {}\n\n",
            k.throttle.as_str(),
            k.permissions.join(", ")
        ));
    }
    out(&text);
    Ok(exit::OK)
}
