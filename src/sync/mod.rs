//! Cross-tenant synchronization links, after `source` has loaded and checked them
//! (`links/<name>.toml`, see [`crate::source::links`]).
//!
//! - [`steps`]: a link compiled into the ordered steps it takes in both tenants (pure; written
//!   into both tenants' bundles, with the cross-tenant dependencies).
//! - [`apply`]: one link's steps applied, each idempotent.
//! - [`deploy_links`]: the deploy scheduler's link phase, after the tenant waves.
//!
//! Input: the project's links and a deploy [`Run`]. Output: steps for the bundles,
//! [`LinkReport`]s for the deploy summary.
//!
//! Ordering: a link's steps need both ends' baselines applied (the source's scope groups must
//! exist to be assigned), and its target steps must precede its source steps. The least
//! intrusive way to get both from the scheduler (waves of tenants by ring, tenants side by side
//! within a wave) is a phase after the last wave: tenants deploy as before, then every link
//! whose two ends deployed in this run applies its steps, target first, one link after the
//! other (a link is a dozen requests; the fleet's pacing still applies to each).
//! A link whose end failed or was not selected is reported as not run.

use std::collections::BTreeMap;

use crate::deploy::Run;
use crate::deploy::shared::JournalObserver;
use crate::graph::client::TenantSession;
use crate::graph::{auth, cloud};
use crate::report::{LinkReport, TenantReport};

pub mod apply;
pub mod status;
pub mod steps;

/// A Graph session for a tenant of the fleet (its cloud, endpoints and credentials), or why not.
pub(crate) fn session_for(fleet: &crate::deploy::Fleet, id: &str) -> Result<TenantSession, String> {
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

/// Apply every link of the project whose two ends are among `finished` (the run's tenant
/// reports): target steps first, one link after the other.
pub async fn deploy_links(run: &Run, finished: &[TenantReport]) -> Vec<LinkReport> {
    let fleet = &run.fleet;
    let project = &fleet.project;
    if project.links.is_empty() {
        return Vec::new();
    }
    let deployed = |id: &str| finished.iter().find(|t| t.id == id);
    let source_ops = |tenant: &str| -> Vec<crate::compile::bundle::Operation> {
        project
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
            .unwrap_or_default()
    };
    let mut reports = Vec::new();
    let mut runnable = Vec::new();
    for (name, steps) in steps::all(project, &source_ops) {
        let Some(first) = steps.first() else {
            continue;
        };
        let ends = [first.tenant.clone(), first.partner.clone()];
        let missing: Vec<String> = ends
            .iter()
            .filter(|id| !deployed(id).is_some_and(|t| t.ok))
            .cloned()
            .collect();
        if missing.is_empty() {
            runnable.push((name, steps, ends));
        } else {
            reports.push(not_run(
                &name,
                format!(
                    "not run: tenant {} was not deployed successfully in this run",
                    missing.join(", ")
                ),
            ));
        }
    }
    let mut sessions: BTreeMap<String, TenantSession> = BTreeMap::new();
    let mut session_errors: BTreeMap<String, String> = BTreeMap::new();
    for (_, _, ends) in &runnable {
        for id in ends {
            if sessions.contains_key(id) || session_errors.contains_key(id) {
                continue;
            }
            let made = session_for(fleet, id);
            match made {
                Ok(s) => {
                    sessions.insert(id.clone(), s);
                }
                Err(e) => {
                    session_errors.insert(id.clone(), e);
                }
            }
        }
    }
    let by_id: BTreeMap<String, &TenantSession> =
        sessions.iter().map(|(k, v)| (k.clone(), v)).collect();
    let observer = JournalObserver {
        journal: run.journal.as_deref(),
        run,
    };
    for (name, steps, ends) in &runnable {
        if let Some((id, e)) = ends
            .iter()
            .find_map(|id| session_errors.get(id).map(|e| (id, e)))
        {
            reports.push(not_run(name, format!("not run: tenant {id}: {e}")));
            continue;
        }
        // Both ends' locks for the length of the link's steps (in sorted order, so two runs
        // never wait on each other), released after the steps' records are published.
        let mut locked: Vec<&String> = Vec::new();
        let mut lock_error = None;
        if let Some(state) = &run.options.state {
            let mut sorted: Vec<&String> = ends.iter().collect();
            sorted.sort();
            sorted.dedup();
            for id in sorted {
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
                        lock_error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        match lock_error {
            Some(e) => reports.push(not_run(name, format!("not run: {e}"))),
            None => {
                reports.push(apply::apply_link(&run.client, &by_id, name, steps, &observer).await)
            }
        }
        if let Some(state) = &run.options.state {
            for id in locked {
                let _ = state.end_tenant(id).await;
            }
        }
    }
    reports.sort_by(|a, b| a.link.cmp(&b.link));
    reports
}
