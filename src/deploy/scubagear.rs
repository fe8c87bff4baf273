//! After a deploy, ScubaGear's configuration file for each tenant that gets `cisa-scuba-entra`:
//! `.tenantform/scubagear/<tenant-id>.yaml`, with the real object ids of every exclusion its
//! Conditional Access policies declare, so ScubaGear does not fail them for undeclared
//! exclusions (baseline-facts.md §0 item 2: every `excludeUsers`, `excludeGroups`,
//! `excludeApplications` entry and excluded guest type must be in `Aad.<policy id>.CapExclusions`).
//!
//! The file is made from what was deployed: the tenant's bundle (its CA policies, the MS.AAD
//! policy ids in their `controls`, their exclusions) and its identity map (the object id of each
//! group or user a reference names). Keys are ScubaGear's (`docs/configuration/configuration.md`):
//! `Description`, `ProductNames`, `M365Environment`, `Organization` (the tenant's domain),
//! `OrgName`, and `Aad` → `MS.AAD.x.yvz` → `CapExclusions` → `Users`, `Groups`, `Applications`,
//! `GuestUserTypes`. Deterministic: sorted, no timestamps. Input: a compiled bundle and an
//! identity map. Output: the YAML text (`None` for a tenant without the baseline).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::compile::bundle::Bundle;
use crate::live::plan::IdentityMap;
use crate::source::model::Cloud;

/// The baseline whose tenants get a ScubaGear configuration file.
pub const BASELINE: &str = "cisa-scuba-entra";

/// Where a tenant's file goes: `<project>/.tenantform/scubagear/<tenant-id>.yaml`.
pub fn config_path(project_dir: &Path, tenant: &str) -> PathBuf {
    project_dir
        .join(".tenantform")
        .join("scubagear")
        .join(format!("{}.yaml", tenant.to_ascii_lowercase()))
}

/// One MS.AAD policy's exclusions: value → what it is (a comment in the file).
#[derive(Debug, Default)]
struct Exclusions {
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
    applications: BTreeMap<String, String>,
    guest_types: BTreeSet<String>,
    policies: BTreeSet<String>,
}

/// `${ref:group:key}` → the object id the identity map has for `key`, and what it names.
fn resolve(text: &str, identity: &IdentityMap) -> Option<(String, String)> {
    match text
        .strip_prefix("${ref:")
        .and_then(|rest| rest.strip_suffix('}'))
    {
        Some(reference) => {
            let key = reference.split_once(':').map_or(reference, |(_, k)| k);
            identity
                .objects
                .get(key)
                .map(|id| (id.clone(), reference.to_string()))
        }
        None if crate::source::model::is_guid(text) => Some((text.to_string(), String::new())),
        // Keywords (`GuestsOrExternalUsers`, `None`): not object ids, nothing to declare.
        None => None,
    }
}

fn strings<'a>(body: &'a Value, pointer: &str) -> impl Iterator<Item = &'a str> {
    body.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn yaml_string(text: &str) -> String {
    // A JSON string is a YAML double-quoted scalar.
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The ScubaGear configuration for a deployed tenant, or `None` when it does not get
/// [`BASELINE`]. A reference whose object the identity map lacks (not deployed) is left out,
/// with a comment saying so.
pub fn render(bundle: &Bundle, identity: &IdentityMap) -> Option<String> {
    if !bundle.baselines.iter().any(|b| b == BASELINE) {
        return None;
    }
    let mut by_policy: BTreeMap<String, Exclusions> = BTreeMap::new();
    let mut missing: BTreeSet<String> = BTreeSet::new();
    for (i, op) in bundle.operations.iter().enumerate() {
        if op.kind.name != "conditionalAccessPolicy" {
            continue;
        }
        let body = bundle.body(i);
        for control in op.controls.iter().filter(|c| c.starts_with("MS.AAD.")) {
            let entry = by_policy.entry(control.clone()).or_default();
            let object = identity.objects.get(&op.key).map_or_else(
                || format!("{} (not deployed)", op.key),
                |id| format!("{} ({id})", op.key),
            );
            entry.policies.insert(object);
            let lists = [
                ("/conditions/users/excludeUsers", &mut entry.users),
                ("/conditions/users/excludeGroups", &mut entry.groups),
                (
                    "/conditions/applications/excludeApplications",
                    &mut entry.applications,
                ),
            ];
            for (pointer, out) in lists {
                for text in strings(body, pointer) {
                    match resolve(text, identity) {
                        Some((id, what)) => {
                            out.insert(id, what);
                        }
                        None if text.starts_with("${ref:") => {
                            missing.insert(text.to_string());
                        }
                        // Application keywords ScubaGear also takes (`Office365`).
                        None if pointer.ends_with("excludeApplications") => {
                            out.insert(text.to_string(), String::new());
                        }
                        None => {}
                    }
                }
            }
            if let Some(types) = body
                .pointer("/conditions/users/excludeGuestsOrExternalUsers/guestOrExternalUserTypes")
                .and_then(Value::as_str)
            {
                entry.guest_types.extend(
                    types
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string),
                );
            }
        }
    }
    let t = &bundle.tenant;
    let environment = match t.cloud {
        Cloud::Global | Cloud::China => "commercial",
        Cloud::UsGov => "gcchigh",
        Cloud::UsGovDod => "dod",
    };
    let mut y = String::new();
    y.push_str(&format!(
        "# ScubaGear configuration for tenant {} ({}), written by `tenantform deploy` from the\n\
         # deployed {BASELINE} baseline: every exclusion of its Conditional Access policies, by\n\
         # object id. Run: Invoke-SCuBA -ConfigFilePath <this file>\n",
        t.name, t.id
    ));
    for reference in &missing {
        y.push_str(&format!(
            "# Not listed: {reference} has no object in the tenant yet (deploy it, then this file is written again).\n"
        ));
    }
    y.push_str(&format!(
        "Description: {}\n",
        yaml_string(&format!("tenantform {BASELINE}: {}", t.name))
    ));
    y.push_str("ProductNames:\n  - aad\n");
    y.push_str(&format!("M365Environment: {environment}\n"));
    match &t.domain {
        Some(domain) => y.push_str(&format!("Organization: {}\n", yaml_string(domain))),
        None => y.push_str(
            "# Organization: the tenant's domain (set `domain` in its tenant file to have it here)\n",
        ),
    }
    y.push_str(&format!("OrgName: {}\n", yaml_string(&t.name)));
    y.push_str("Aad:\n");
    for (policy, ex) in &by_policy {
        y.push_str(&format!("  {policy}:\n"));
        for object in &ex.policies {
            y.push_str(&format!("    # Conditional Access policy {object}\n"));
        }
        y.push_str("    CapExclusions:\n");
        let mut any = false;
        for (name, items) in [
            ("Users", &ex.users),
            ("Groups", &ex.groups),
            ("Applications", &ex.applications),
        ] {
            if items.is_empty() {
                continue;
            }
            any = true;
            y.push_str(&format!("      {name}:\n"));
            for (id, what) in items {
                if what.is_empty() {
                    y.push_str(&format!("        - {}\n", yaml_string(id)));
                } else {
                    y.push_str(&format!("        - {}  # {what}\n", yaml_string(id)));
                }
            }
        }
        if !ex.guest_types.is_empty() {
            any = true;
            y.push_str("      GuestUserTypes:\n");
            for guest in &ex.guest_types {
                y.push_str(&format!("        - {}\n", yaml_string(guest)));
            }
        }
        if !any {
            y.push_str("      Users: []\n");
        }
    }
    Some(y)
}

/// Write `text` to the tenant's file (through a temporary file); returns the path.
pub fn write(project_dir: &Path, tenant: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = config_path(project_dir, tenant);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// What the post-deploy step did for one tenant.
#[derive(Debug)]
pub enum Written {
    /// The file was written.
    File {
        /// Tenant id.
        tenant: String,
        /// Where.
        path: PathBuf,
    },
    /// It could not be made or written (the deploy itself is unaffected).
    Failed {
        /// Tenant id.
        tenant: String,
        /// Why.
        reason: String,
    },
}

/// For each tenant of `summary` that converged and gets [`BASELINE`], write its file from its
/// bundle (compiled again, as deployed) and its identity map.
pub fn write_after_deploy(
    fleet: &crate::deploy::fleet::Fleet,
    summary: &crate::report::DeploySummary,
) -> Vec<Written> {
    let mut out = Vec::new();
    for report in summary.tenants.iter().filter(|t| t.ok) {
        let failed = |reason: String| Written::Failed {
            tenant: report.id.clone(),
            reason,
        };
        let Some(tenant) = fleet
            .project
            .tenants
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(&report.id))
            .and_then(|entry| fleet.project.tenant(entry))
        else {
            continue;
        };
        // The bundle's layers say whether it gets the baseline (directly or by `extends`).
        let compiled = crate::compile::compile_tenant(
            &fleet.project,
            &fleet.engine,
            fleet.schemas,
            &tenant,
            false,
            fleet.today,
        );
        let Some(bundle) = compiled.bundle else {
            out.push(failed("its bundle no longer compiles".into()));
            continue;
        };
        let identity = match crate::deploy::identity::load_identity(&fleet.dir, &report.id) {
            Ok(identity) => identity,
            Err(e) => {
                out.push(failed(e.to_string()));
                continue;
            }
        };
        let Some(text) = render(bundle.bundle(), &identity) else {
            continue;
        };
        out.push(match write(&fleet.dir, &report.id, &text) {
            Ok(path) => Written::File {
                tenant: report.id.clone(),
                path,
            },
            Err(e) => failed(format!("cannot write its ScubaGear configuration: {e}")),
        });
    }
    out
}
