//! The links benchmark's project: `init`'s files on the simulator's tenants (as `bench deploy`
//! writes them), one tenant made the hub, and one link from the hub to every other tenant.
//!
//! Input: the project directory with its tenants file. Output: the hub's id and name, the
//! links written. The hub is the tenant whose own baseline Graph's limits make slowest (its
//! reads and writes per throttle class, paced without headroom, as `bench deploy` counts
//! them), the first on a tie: the links' source steps then land on the tenant that is already
//! the busiest, and the hub is the busiest tenant of the run, as issue 10 asks to measure.

use std::path::Path;

use super::super::deploy::{Minimums, TenantRequests, class_counts, read_counts};
use super::super::{BenchError, io};
use crate::compile;
use crate::deploy::Fleet;
use crate::graph::pacing::Limits;

/// The baseline the hub gets on top of its own: the group whose members the links synchronize.
pub(super) const HUB_BASELINE: &str = "bench-hub";

/// The scope group's `uniqueName` in the hub (the match key deploy finds it by).
pub(super) const SCOPE_GROUP: &str = "tenantform-sync-staff";

/// The hub chosen among the project's tenants.
#[derive(Debug, Clone)]
pub(super) struct Hub {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) domain: Option<String>,
}

/// The tenant whose own baseline needs the most time at Graph's limits (first on a tie).
pub(super) fn busiest_tenant(fleet: &Fleet, limits: Limits) -> Result<Hub, BenchError> {
    let mut floor = Minimums::new(limits.without_headroom());
    let mut busiest: Option<(std::time::Duration, Hub)> = None;
    for entry in &fleet.project.tenants {
        let tenant = fleet
            .project
            .tenant(entry)
            .ok_or_else(|| BenchError::Load(format!("{}: cannot be read", entry.id)))?;
        let bundle = compile::compile_tenant(
            &fleet.project,
            &fleet.engine,
            fleet.schemas,
            &tenant,
            false,
            fleet.today,
        )
        .bundle
        .ok_or_else(|| BenchError::Load(format!("{}: does not compile", entry.id)))?;
        let minimum = floor.tenant(&TenantRequests {
            reads: read_counts(&bundle, false),
            writes: class_counts(&bundle),
        });
        if busiest.as_ref().is_none_or(|(m, _)| minimum > *m) {
            busiest = Some((
                minimum,
                Hub {
                    id: entry.id.clone(),
                    name: entry.name.clone(),
                    domain: tenant.domain.clone(),
                },
            ));
        }
    }
    busiest
        .map(|(_, hub)| hub)
        .ok_or_else(|| BenchError::Load("the project has no tenant".into()))
}

/// The link file of spoke number `index` (from 1), its name padded so files sort in order.
pub(super) fn link_name(index: usize, spokes: usize) -> String {
    let width = spokes.to_string().len().max(3);
    format!("hub-to-spoke-{index:0width$}")
}

/// Give the hub its scope group (a baseline added to its entry in `tenants/fleet.toml`) and
/// write one link per other tenant, shaped as `tenantform demo` writes them: the hub's group
/// as scope, members, a deletion threshold and one constant mapping. Returns the link names.
pub(super) fn write_links(
    project_dir: &Path,
    hub: &Hub,
    spokes: &[String],
) -> Result<Vec<String>, BenchError> {
    let baseline = project_dir.join(format!("baselines/{HUB_BASELINE}.toml"));
    std::fs::write(
        &baseline,
        format!(
            "[baseline]\ndescription = \"The hub of bench links: the group whose members are synchronized into every spoke\"\n\n\
             [resources.sync-staff]\nkind = \"group\"\ntemplate = \"groups/security-group.json.tera\"\n\
             vars = {{ name = \"Synchronized staff\", unique_name = \"{SCOPE_GROUP}\", mail_nickname = \"sync-staff\", description = \"Members are provisioned into the spokes by cross-tenant synchronization.\" }}\n"
        ),
    )
    .map_err(io(&baseline))?;
    let fleet_file = project_dir.join("tenants/fleet.toml");
    let text = std::fs::read_to_string(&fleet_file).map_err(io(&fleet_file))?;
    let with_hub = add_baseline(&text, &hub.id, HUB_BASELINE).ok_or_else(|| {
        BenchError::Load(format!(
            "the hub {} has no `baselines = [` line in {}",
            hub.id,
            fleet_file.display()
        ))
    })?;
    std::fs::write(&fleet_file, with_hub).map_err(io(&fleet_file))?;
    let links_dir = project_dir.join("links");
    std::fs::create_dir_all(&links_dir).map_err(io(&links_dir))?;
    let mut names = Vec::with_capacity(spokes.len());
    for (i, spoke) in spokes.iter().enumerate() {
        let name = link_name(i + 1, spokes.len());
        let path = links_dir.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "source = \"{}\"\ntarget = \"{spoke}\"\nscope = [\"group:sync-staff\"]\nuser_type = \"Member\"\n\n\
                 [deletion_prevention]\nthreshold = 10\n\n[[mappings]]\ntarget = \"companyName\"\nconstant = \"{}\"\n",
                hub.id,
                hub.name.replace('\\', "\\\\").replace('"', "\\\"")
            ),
        )
        .map_err(io(&path))?;
        names.push(name);
    }
    Ok(names)
}

/// `text` (a tenants file) with `baseline` first in the `baselines = [` list of the tenant
/// whose `id` is `tenant`; `None` when that tenant or its list is not found.
fn add_baseline(text: &str, tenant: &str, baseline: &str) -> Option<String> {
    let id_line = format!("id = \"{tenant}\"");
    let at = text.find(&id_line)?;
    let next_tenant = text[at..].find("[[tenant]]").map_or(text.len(), |n| at + n);
    let list = at + text[at..next_tenant].find("baselines = [")? + "baselines = [".len();
    Some(format!(
        "{}\"{baseline}\", {}",
        &text[..list],
        &text[list..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_baseline_goes_into_the_hubs_entry_only() {
        let text = "[[tenant]]\nid = \"a\"\nbaselines = [\"x\"]\n\n[[tenant]]\nid = \"b\"\nbaselines = [\"y\"]\n";
        let changed = add_baseline(text, "b", "bench-hub").expect("found");
        assert!(
            changed.contains("id = \"a\"\nbaselines = [\"x\"]"),
            "{changed}"
        );
        assert!(changed.contains("id = \"b\"\nbaselines = [\"bench-hub\", \"y\"]"));
        // A tenant without a list of its own is not given the next tenant's.
        let text = "[[tenant]]\nid = \"a\"\n\n[[tenant]]\nid = \"b\"\nbaselines = [\"y\"]\n";
        assert_eq!(add_baseline(text, "a", "bench-hub"), None);
        assert_eq!(add_baseline(text, "c", "bench-hub"), None);
    }

    #[test]
    fn link_names_sort_in_spoke_order() {
        assert_eq!(link_name(7, 100), "hub-to-spoke-007");
        assert_eq!(link_name(12, 1000), "hub-to-spoke-0012");
        assert_eq!(link_name(1, 3), "hub-to-spoke-001");
    }
}
