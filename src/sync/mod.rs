//! Cross-tenant synchronization links, after `source` has loaded and checked them
//! (`links/<name>.toml`, see [`crate::source::links`]).
//!
//! - [`steps`]: a link compiled into the ordered steps it takes in both tenants (pure; written
//!   into both tenants' bundles, with the cross-tenant dependencies).
//! - [`apply`]: one link's steps applied, each idempotent.
//! - [`deploy_links`]: the deploy scheduler's link phase, after the tenant waves.
//! - [`plan_links`]: the same phase for `plan`: each link as one unit, read, not written.
//! - [`organization`]: the project's multitenant organization as one more unit of steps (owner
//!   first, then each member's join request), applied and planned by the same phase, and its
//!   status.
//!
//! Input: the project's links and a deploy [`Run`]. Output: steps for the bundles,
//! [`LinkReport`]s for the deploy summary.
//!
//! Ordering: a link's steps need both ends' baselines applied (the source's scope groups must
//! exist to be assigned), and its target steps must precede its source steps. The least
//! intrusive way to get both from the scheduler (waves of tenants by ring, tenants side by side
//! within a wave) is a phase after the last wave: tenants deploy as before, then every link
//! whose two ends deployed in this run applies its steps, target first; as many links side
//! by side as [`links_at_once`] admits (the fleet's pacing still applies to each request).
//! A link whose end failed or was not selected is reported as not run.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use crate::deploy::Run;
use crate::deploy::shared::JournalObserver;
use crate::graph::client::{NoObserver, TenantSession};
use crate::graph::{auth, cloud};
use crate::report::{LinkPlan, LinkReport, TenantReport};

pub mod apply;
pub mod on_demand;
pub mod organization;
pub mod status;
pub mod steps;

/// A Graph session for a tenant of the fleet (its cloud, endpoints and credentials), or why not.
pub fn session_for(fleet: &crate::deploy::Fleet, id: &str) -> Result<TenantSession, String> {
    let project = &fleet.project;
    let tenant = project
        .tenants
        .iter()
        .find(|t| t.id == id)
        .and_then(|e| project.tenant(e))
        .ok_or_else(|| "not in the project".to_string())?;
    let endpoints = cloud::resolve(tenant.cloud, &tenant.endpoints).map_err(|e| e.to_string())?;
    let credentials = auth::load_credentials(tenant.credentials.as_ref(), &fleet.dir, &*fleet.env)
        .map_err(|e| e.to_string())?;
    Ok(TenantSession::new(id, endpoints, credentials))
}

fn not_run(link: &str, why: String) -> LinkReport {
    LinkReport {
        link: link.to_string(),
        ok: false,
        changed: Vec::new(),
        unchanged: Vec::new(),
        error: Some(why),
    }
}

/// The links of the project whose two ends are among `finished` (with both ends' sessions),
/// and a "not run" report for each of the others.
struct Prepared {
    /// Runnable units: name, steps, and every tenant they run in.
    runnable: Vec<(String, Vec<steps::LinkStep>, Vec<String>)>,
    /// Links not run: name, steps, why, and whether an end was not in the run at all.
    not_run: Vec<(String, Vec<steps::LinkStep>, String, bool)>,
    sessions: BTreeMap<String, TenantSession>,
}

fn prepare(run: &Run, finished: &[TenantReport], verb: &str) -> Prepared {
    let fleet = &run.fleet;
    let project = &fleet.project;
    let deployed = |id: &str| finished.iter().find(|t| t.id == id);
    // A source's operations are compiled once, however many links it is the source of (a hub
    // with a hundred spokes compiled its bundle a hundred times before: 1.6 s of the link
    // phase at 100 spokes).
    let compiled: std::cell::RefCell<BTreeMap<String, Vec<crate::compile::bundle::Operation>>> =
        std::cell::RefCell::default();
    let source_ops = |tenant: &str| -> Vec<crate::compile::bundle::Operation> {
        if let Some(ops) = compiled.borrow().get(tenant) {
            return ops.clone();
        }
        let ops = project
            .tenants
            .iter()
            .find(|t| t.id == tenant)
            .and_then(|entry| project.tenant(entry))
            .and_then(|t| {
                crate::compile::compile_tenant(
                    project,
                    &fleet.engine,
                    fleet.schemas,
                    &t,
                    false,
                    fleet.today,
                )
                .bundle
            })
            .map(|b| b.bundle().operations.clone())
            .unwrap_or_default();
        compiled
            .borrow_mut()
            .insert(tenant.to_string(), ops.clone());
        ops
    };
    let mut prepared = Prepared {
        runnable: Vec::new(),
        not_run: Vec::new(),
        sessions: BTreeMap::new(),
    };
    let mut session_errors: BTreeMap<String, String> = BTreeMap::new();
    for (name, steps) in steps::all(project, &source_ops) {
        // A link's two ends; the organization's owner and every member.
        let mut ends: Vec<String> = Vec::new();
        for id in steps.iter().flat_map(|s| [&s.tenant, &s.partner]) {
            if !ends.contains(id) {
                ends.push(id.clone());
            }
        }
        if ends.is_empty() {
            continue;
        }
        let missing: Vec<String> = ends
            .iter()
            .filter(|id| !deployed(id).is_some_and(|t| t.ok))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "not run: tenant {} was not {verb} successfully in this run",
                missing.join(", ")
            );
            let absent = ends.iter().any(|id| deployed(id).is_none());
            prepared.not_run.push((name, steps, why, absent));
            continue;
        }
        let mut failed = None;
        for id in &ends {
            if let Some(e) = session_errors.get(id) {
                failed = Some(format!("not run: tenant {id}: {e}"));
                break;
            }
            if prepared.sessions.contains_key(id) {
                continue;
            }
            match session_for(fleet, id) {
                Ok(s) => {
                    prepared.sessions.insert(id.clone(), s);
                }
                Err(e) => {
                    failed = Some(format!("not run: tenant {id}: {e}"));
                    session_errors.insert(id.clone(), e);
                    break;
                }
            }
        }
        match failed {
            Some(why) => prepared.not_run.push((name, steps, why, false)),
            None => prepared.runnable.push((name, steps, ends)),
        }
    }
    prepared
}

/// Apply every link of the project whose two ends are among `finished` (the run's tenant
/// reports): each link's steps in order, target first; [`links_at_once`] links at once.
pub async fn deploy_links(run: &Run, finished: &[TenantReport]) -> Vec<LinkReport> {
    if run.fleet.project.links.is_empty() && run.fleet.project.organization.is_none() {
        return Vec::new();
    }
    let prepared = prepare(run, finished, "deployed");
    let mut reports: Vec<LinkReport> = prepared
        .not_run
        .iter()
        .map(|(name, _, why, _)| not_run(name, why.clone()))
        .collect();
    let by_id: BTreeMap<String, &TenantSession> = prepared
        .sessions
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let observer = JournalObserver {
        journal: run.journal.as_deref(),
        run,
    };
    // Every end's lock for the length of the links' steps, taken once per tenant in sorted
    // order (so two runs never wait on each other in a circle; links that share a hub would
    // otherwise wait on this run's own lock), released after the steps' records are published.
    let mut locked: Vec<&String> = Vec::new();
    let mut lock_errors: BTreeMap<&String, String> = BTreeMap::new();
    if let Some(state) = &run.options.state {
        let ends: std::collections::BTreeSet<&String> = prepared
            .runnable
            .iter()
            .flat_map(|(_, _, ends)| ends.iter())
            .collect();
        for id in ends {
            let taken = state
                .begin_tenant(id, |holder| {
                    run.emit(crate::report::Event::LockWaiting {
                        tenant: id,
                        holder: &holder.describe(),
                    });
                })
                .await;
            match taken {
                Ok(()) => locked.push(id),
                Err(e) => {
                    lock_errors.insert(id, e.to_string());
                }
            }
        }
    }
    let mut runnable = Vec::new();
    for (name, steps, ends) in &prepared.runnable {
        match ends.iter().find_map(|id| lock_errors.get(id)) {
            Some(e) => reports.push(not_run(name, format!("not run: {e}"))),
            None => runnable.push((name, steps)),
        }
    }
    let at_once = links_at_once(
        &run.options,
        runnable.iter().map(|(_, steps)| steps.len()).max(),
    );
    let applied: Vec<LinkReport> = futures_util::stream::iter(
        runnable
            .iter()
            .map(|(name, steps)| apply::apply_link(&run.client, &by_id, name, steps, &observer)),
    )
    .buffer_unordered(at_once)
    .collect()
    .await;
    reports.extend(applied);
    if let Some(state) = &run.options.state {
        for id in locked {
            let _ = state.end_tenant(id).await;
        }
    }
    reports.sort_by(|a, b| a.link.cmp(&b.link));
    reports
}

/// How many links are applied (or planned) side by side: as many as fit in the run's memory
/// budget (`--memory-budget`, the same estimate as a tenant in flight with one operation per
/// step: 24 KiB plus 1 KiB a step, so some 1,900 links of nine steps in the default 64 MiB), at most
/// `--concurrency` when given. Each link's own steps stay in order (target first); the run's
/// client paces every request to its tenant's limits, so a hub that is the source of many
/// links is paced as one tenant, and a new app's replication wait in one link does not hold up
/// the others. (A fixed 16 at once made 100 spokes wait out seven rounds of replication one
/// after the other: 21.5 s for what all at once does in one.)
pub fn links_at_once(options: &crate::deploy::DeployOptions, largest: Option<usize>) -> usize {
    let fit = crate::deploy::admission::tenants_within(options.memory_budget, largest.unwrap_or(1));
    fit.min(options.concurrency.unwrap_or(usize::MAX)).max(1)
}

/// Plan every link of the project whose two ends were planned (`finished`): each step read in
/// its tenant, nothing written. A link with an end not planned is reported with the reason.
pub async fn plan_links(run: &Run, finished: &[TenantReport]) -> Vec<LinkPlan> {
    if run.fleet.project.links.is_empty() && run.fleet.project.organization.is_none() {
        return Vec::new();
    }
    let project = &run.fleet.project;
    let name_of = |id: &str| {
        project
            .tenants
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| id.to_string(), |t| t.name.clone())
    };
    let unit = |link: &str, steps: &[steps::LinkStep]| {
        // The organization's unit shows its owner as the source and no target.
        let (source, target) = steps
            .iter()
            .find(|s| s.side == steps::Side::Source)
            .map(|s| (s.tenant.clone(), s.partner.clone()))
            .or_else(|| {
                steps
                    .iter()
                    .find(|s| s.side == steps::Side::Owner)
                    .map(|s| (s.tenant.clone(), String::new()))
            })
            .unwrap_or_default();
        LinkPlan {
            link: link.to_string(),
            source_name: name_of(&source),
            target_name: name_of(&target),
            source,
            target,
            steps: Vec::new(),
            error: None,
        }
    };
    let prepared = prepare(run, finished, "planned");
    let mut plans = Vec::new();
    // A link with an end outside the selection is not part of this plan.
    for (name, steps, why, _) in prepared.not_run.iter().filter(|l| !l.3) {
        let mut plan = unit(name, steps);
        plan.error = Some(why.clone());
        plans.push(plan);
    }
    let by_id: BTreeMap<String, &TenantSession> = prepared
        .sessions
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let planned: Vec<LinkPlan> =
        futures_util::stream::iter(prepared.runnable.iter().map(|(name, steps, _)| {
            let mut plan = unit(name, steps);
            let by_id = &by_id;
            async move {
                let (planned, error) =
                    apply::plan_link(&run.client, by_id, steps, &NoObserver).await;
                plan.steps = planned;
                plan.error = error;
                plan
            }
        }))
        .buffer_unordered(links_at_once(
            &run.options,
            prepared
                .runnable
                .iter()
                .map(|(_, steps, _)| steps.len())
                .max(),
        ))
        .collect()
        .await;
    plans.extend(planned);
    plans.sort_by(|a, b| a.link.cmp(&b.link));
    plans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::DeployOptions;

    #[test]
    fn links_in_flight_are_bounded_by_memory_and_the_concurrency_cap_only() {
        let defaults = DeployOptions::default();
        // A hub with a hundred spokes applies them all at once by default (nine steps each).
        assert_eq!(links_at_once(&defaults, Some(9)), 1985);
        let capped = DeployOptions {
            concurrency: Some(4),
            ..DeployOptions::default()
        };
        assert_eq!(links_at_once(&capped, Some(9)), 4);
        let tiny = DeployOptions {
            memory_budget: 1,
            ..DeployOptions::default()
        };
        assert_eq!(links_at_once(&tiny, Some(9)), 1);
        assert_eq!(
            links_at_once(&defaults, None),
            links_at_once(&defaults, Some(1))
        );
    }
}
