//! Stage 6, `status`: what the fleet looks like, for the dashboard (`report`) and evidence.
//! Each tenant is compiled in memory (its resources, the controls they implement, whether a
//! policy is report-only, what its overrides skip), then read against the newest evidence about
//! it: a saved plan ([`inputs`]) or its last deploy run ([`runs`], from the journals), whichever
//! is newer. Drift results become another [`inputs::Input`] when `drift` lands.
//!
//! Input: a project directory, result files and options. Output: a
//! [`FleetStatus`](crate::report::fleet::FleetStatus), which `report` renders.

pub mod inputs;
pub mod runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::compile::fleet::compile_tenant;
use crate::deploy::Fleet;
use crate::live::names::ObjectNames;
use crate::live::plan_file::{PlanFileTenant, SavedAction};
use crate::report::fleet::{
    ControlState, ControlStatus, FleetStatus, OrphanStatus, OverrideStatus, PlannedChange,
    ResourceStatus, TenantState, TenantStatus,
};
use crate::source::project::TenantEntry;
use inputs::Input;
use runs::Runs;

/// Why the fleet's status could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The project could not be loaded.
    #[error(transparent)]
    Fleet(#[from] crate::deploy::FleetError),
    /// A `--from` file could not be read.
    #[error("{}: {message}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `--generated-at` is not a time.
    #[error("--generated-at {0:?} is not an RFC 3339 time (2026-11-26T10:00:00Z)")]
    GeneratedAt(String),
}

/// How to build the status.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// Today's date (override expiry when there is no input to date the report by).
    pub today: jiff::civil::Date,
    /// The report's time, instead of the newest input's.
    pub generated_at: Option<String>,
    /// More run journals than the project's (`report --journals`: shards' CI artifacts).
    pub journals: Vec<std::path::PathBuf>,
}

/// What one tenant's compile says about its resources.
struct Compiled {
    resources: Vec<ResourceStatus>,
    names: ObjectNames,
    object_ids: BTreeMap<String, String>,
    errors: usize,
}

/// How a Conditional Access policy is deployed: `state` says whether it is in force. (Other
/// kinds' `state`, such as an authentication method's `disabled`, is their setting, not a mode.)
fn mode(kind: &str, body: &serde_json::Value) -> ControlState {
    if kind != "conditionalAccessPolicy" {
        return ControlState::Enforced;
    }
    match body.get("state").and_then(serde_json::Value::as_str) {
        Some("enabledForReportingButNotEnforced") => ControlState::ReportOnly,
        Some("disabled") => ControlState::Disabled,
        _ => ControlState::Enforced,
    }
}

fn compile_one(
    fleet: &Fleet,
    entry: &TenantEntry,
) -> (Option<crate::source::model::Tenant>, Compiled) {
    let tenant = fleet.project.tenant(entry);
    let mut compiled = Compiled {
        resources: Vec::new(),
        names: ObjectNames::new(),
        object_ids: BTreeMap::new(),
        errors: 0,
    };
    let Some(t) = &tenant else {
        compiled.errors = 1;
        return (tenant, compiled);
    };
    let result = compile_tenant(
        &fleet.project,
        &fleet.engine,
        fleet.schemas,
        t,
        false,
        fleet.today,
    );
    compiled.errors = result.diagnostics.error_count();
    let identity = crate::deploy::load_identity(&fleet.dir, &entry.id).unwrap_or_default();
    if let Some(bundle) = &result.bundle {
        let b = bundle.bundle();
        compiled.names = ObjectNames::of(&identity.objects, (&b.operations).into(), &identity);
        for op in &b.operations {
            compiled.resources.push(ResourceStatus {
                key: op.key.clone(),
                kind: op.kind.name.to_string(),
                baseline: op.baseline.clone(),
                controls: op.controls.clone(),
                // Replaced below by what runs and plans say; this is how it is deployed.
                state: mode(op.kind.name, &op.body),
                reason: None,
                object_id: identity.objects.get(&op.key).cloned(),
                planned: None,
                applied: None,
            });
        }
        for s in &b.skipped {
            compiled.resources.push(ResourceStatus {
                key: s.key.clone(),
                kind: s.kind.to_string(),
                baseline: String::new(),
                controls: s.controls.clone(),
                state: ControlState::Skipped,
                reason: Some(s.reason.clone()),
                object_id: None,
                planned: None,
                applied: None,
            });
        }
    } else if compiled.errors == 0 {
        compiled.errors = 1;
    }
    compiled.object_ids = identity.objects;
    (tenant, compiled)
}

fn planned_change(action: &SavedAction) -> Option<PlannedChange> {
    let (sign, verb, changes, object_ids) = match action {
        SavedAction::NoOp { .. } => return None,
        SavedAction::Create => ("+", "create", Vec::new(), Vec::new()),
        SavedAction::Update { changes, .. } => ("~", "update", changes.clone(), Vec::new()),
        SavedAction::Adopt { changes, .. } => ("=", "adopt", changes.clone(), Vec::new()),
        SavedAction::Ambiguous { object_ids } => ("!", "ambiguous", Vec::new(), object_ids.clone()),
        SavedAction::Missing { .. } => ("!", "missing", Vec::new(), Vec::new()),
    };
    Some(PlannedChange {
        sign,
        verb,
        changes,
        object_ids,
    })
}

fn timestamp(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// The newest plan entry of each tenant (lower-case id), with the plan's time.
fn newest_plans(inputs: &[Input]) -> BTreeMap<String, (jiff::Timestamp, String, &PlanFileTenant)> {
    let mut out: BTreeMap<String, (jiff::Timestamp, String, &PlanFileTenant)> = BTreeMap::new();
    for input in inputs {
        let Input::Plan { file, .. } = input else {
            continue;
        };
        let at = timestamp(&file.created).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        for t in &file.tenants {
            let key = t.tenant.to_ascii_lowercase();
            if out.get(&key).is_none_or(|(seen, _, _)| *seen <= at) {
                out.insert(key, (at, file.created.clone(), t));
            }
        }
    }
    out
}

/// The newest drift result of each tenant (lower-case id), with its time.
fn newest_drifts(
    inputs: &[Input],
) -> BTreeMap<String, (jiff::Timestamp, String, &inputs::DriftFileTenant)> {
    let mut out: BTreeMap<String, (jiff::Timestamp, String, &inputs::DriftFileTenant)> =
        BTreeMap::new();
    for input in inputs {
        let Input::Drift { file, .. } = input else {
            continue;
        };
        let at = timestamp(&file.created).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        for t in &file.tenants {
            let key = t.id.to_ascii_lowercase();
            if out.get(&key).is_none_or(|(seen, _, _)| *seen <= at) {
                out.insert(key, (at, file.created.clone(), t));
            }
        }
    }
    out
}

/// Build the fleet's status from the project at `dir`, the result files and the journals.
pub fn status(
    dir: &Path,
    inputs: &[Input],
    options: &StatusOptions,
) -> Result<FleetStatus, StatusError> {
    if let Some(g) = &options.generated_at
        && timestamp(g).is_none()
    {
        return Err(StatusError::GeneratedAt(g.clone()));
    }
    let (fleet, _diagnostics) = Fleet::load(dir, options.today, Box::new(|_: &str| None))?;
    let runs = runs::read_with(dir, &options.journals);
    let plans = newest_plans(inputs);
    let drifts = newest_drifts(inputs);

    // The report's time: given, or the newest input's (a plan, a journal record).
    let generated_at = options.generated_at.clone().or_else(|| {
        inputs
            .iter()
            .map(|i| i.created().to_string())
            .chain(runs.runs.iter().filter_map(|r| r.ended.clone()))
            .filter_map(|t| timestamp(&t).map(|ts| (ts, t)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, t)| t)
    });
    let as_of = generated_at
        .as_deref()
        .and_then(timestamp)
        .map_or(options.today, |t| {
            t.to_zoned(jiff::tz::TimeZone::UTC).date()
        });

    // Compile every tenant (in memory) on every core.
    let entries = &fleet.project.tenants;
    let jobs = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(entries.len().max(1));
    let chunk = entries.len().div_ceil(jobs).max(1);
    let fleet_ref = &fleet;
    let compiled: Vec<(Option<crate::source::model::Tenant>, Compiled)> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|e| compile_one(fleet_ref, e))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });

    let mut tenants = Vec::with_capacity(entries.len());
    let mut controls = std::collections::BTreeSet::new();
    for (entry, (tenant, compiled)) in entries.iter().zip(compiled) {
        let mut t = tenant_status(entry, tenant, compiled, &runs, &plans, as_of);
        apply_drift(&mut t, drifts.get(&entry.id.to_ascii_lowercase()), &runs);
        controls.extend(t.controls.keys().cloned());
        tenants.push(t);
    }
    tenants.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut sources: Vec<String> = inputs.iter().map(Input::describe).collect();
    if !runs.runs.is_empty() {
        sources.push(format!(
            "{} deploy run journals in {}",
            runs.runs.len(),
            crate::deploy::state_root(Path::new("."))
                .join("runs")
                .display()
        ));
    }
    let mut controls: Vec<String> = controls.into_iter().collect();
    controls.sort_by_key(|c| natural(c));
    Ok(FleetStatus {
        project: fleet
            .project
            .config
            .as_ref()
            .map(|c| c.name.value.clone())
            .unwrap_or_else(|| dir.display().to_string()),
        generated_at,
        sources,
        tenants,
        controls,
        runs: runs.runs,
    })
}

/// `MS.AAD.3.10v1` after `MS.AAD.3.9v1`: digits compare as numbers.
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut number: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .saturating_mul(10)
                    .saturating_add(u64::from(d)),
            );
        } else {
            if let Some(n) = number.take() {
                out.push((std::mem::take(&mut text), n));
            }
            text.push(c);
        }
    }
    out.push((text, number.unwrap_or(0)));
    out
}

fn tenant_status(
    entry: &TenantEntry,
    tenant: Option<crate::source::model::Tenant>,
    mut compiled: Compiled,
    runs: &Runs,
    plans: &BTreeMap<String, (jiff::Timestamp, String, &PlanFileTenant)>,
    as_of: jiff::civil::Date,
) -> TenantStatus {
    let id = entry.id.to_ascii_lowercase();
    let history = runs.by_tenant.get(&id).map_or(&[][..], Vec::as_slice);
    let last = history.last();
    let last_at = last
        .and_then(|r| r.run.as_ref())
        .and_then(|r| r.at.as_deref())
        .and_then(timestamp);
    let plan = plans.get(&id);
    // The newer of the last plan and the last run decides.
    let plan_decides = match (plan, last_at) {
        (Some((plan_at, _, _)), Some(run_at)) => *plan_at >= run_at,
        (Some(_), None) => true,
        _ => false,
    };

    // Each resource: what was last applied, then what the deciding evidence says.
    for r in &mut compiled.resources {
        if r.state == ControlState::Skipped {
            continue;
        }
        r.applied = runs.applied.get(&(id.clone(), r.key.clone())).cloned();
        if r.object_id.is_none() {
            r.object_id = r.applied.as_ref().and_then(|a| a.object_id.clone());
        }
    }
    let (state, detail, since);
    if compiled.errors > 0 {
        state = TenantState::Failed;
        detail = format!(
            "does not compile ({} errors; tenantform validate shows them)",
            compiled.errors
        );
        since = None;
    } else if let Some((_, created, p)) = plan.filter(|_| plan_decides) {
        since = Some(created.clone());
        let planned: BTreeMap<String, SavedAction> =
            p.planned().into_iter().map(|r| (r.key, r.action)).collect();
        if let Some(error) = &p.error {
            state = TenantState::Failed;
            detail = format!("could not be planned: {error}");
            for r in &mut compiled.resources {
                if r.state != ControlState::Skipped {
                    r.state = ControlState::Failed;
                    r.reason = Some("the tenant could not be planned".into());
                }
            }
        } else {
            let mut pending = 0;
            for r in &mut compiled.resources {
                if r.state == ControlState::Skipped {
                    continue;
                }
                match planned.get(&r.key) {
                    Some(action) => {
                        if let Some(oid) = action.object_id() {
                            r.object_id = Some(oid.to_string());
                        }
                        if let Some(change) = planned_change(action) {
                            pending += 1;
                            r.state = ControlState::Pending;
                            r.planned = Some(change);
                        }
                    }
                    None => {
                        r.state = ControlState::NotDeployed;
                        r.reason = Some("not in the plan".into());
                    }
                }
            }
            for o in p.orphans() {
                compiled.names.insert(&o.object_id, "orphan", &o.key);
            }
            // A newer plan does not clear a failed run while the changes it failed to make are
            // still to be made: the tenant stays failed, its failed resources too.
            let failed_run = last
                .and_then(|l| l.run.as_ref().map(|r| (l, r)))
                .filter(|(_, r)| r.ok != Some(true));
            if pending > 0
                && let Some((in_run, run)) = failed_run
            {
                for r in &mut compiled.resources {
                    if r.state == ControlState::Pending
                        && let Some(why) = in_run.failed_keys.get(&r.key)
                    {
                        r.state = ControlState::Failed;
                        r.reason = Some(format!("run {}: {why}", run.run_id));
                    }
                }
                state = TenantState::Failed;
                detail = format!(
                    "run {} {}; the plan made {created} still has {pending} changes to make",
                    run.run_id,
                    match &run.reason {
                        Some(reason) if run.ok == Some(false) => format!("failed: {reason}"),
                        _ => "did not finish".to_string(),
                    }
                );
            } else if pending > 0 {
                state = TenantState::Pending;
                detail = format!("the plan made {created} has {pending} changes to make");
            } else {
                state = TenantState::InSync;
                detail = format!("the plan made {created} has nothing to change");
            }
        }
        // The plan's names know adopted objects too.
        let mut names = p.names.clone();
        for (key, oid) in &compiled.object_ids {
            if names.name(oid).is_none()
                && let Some(r) = compiled.resources.iter().find(|r| &r.key == key)
                && let Some(kind) = crate::kinds::by_name(&r.kind)
            {
                names.insert(oid, kind.ref_prefix, key);
            }
        }
        compiled.names = names;
    } else if let Some(last) = last.and_then(|l| l.run.as_ref().map(|r| (l, r))) {
        let (in_run, run) = last;
        since = run.at.clone();
        for r in &mut compiled.resources {
            if r.state == ControlState::Skipped {
                continue;
            }
            if let Some(why) = in_run.failed_keys.get(&r.key) {
                r.state = ControlState::Failed;
                r.reason = Some(format!("run {}: {why}", run.run_id));
            } else if r.applied.is_none() {
                r.state = ControlState::NotDeployed;
            }
        }
        match run.ok {
            Some(true) => {
                state = TenantState::InSync;
                detail = format!("run {} converged", run.run_id);
            }
            Some(false) => {
                state = TenantState::Failed;
                detail = format!(
                    "run {} failed: {}",
                    run.run_id,
                    run.reason.as_deref().unwrap_or("see tenantform runs show")
                );
            }
            None => {
                state = TenantState::Failed;
                detail = format!(
                    "run {} stopped before the tenant finished (tenantform deploy --resume {})",
                    run.run_id, run.run_id
                );
            }
        }
    } else {
        state = TenantState::NeverDeployed;
        detail = "no deploy run or plan has this tenant".into();
        since = None;
        for r in &mut compiled.resources {
            if r.state != ControlState::Skipped {
                r.state = ControlState::NotDeployed;
            }
        }
    }

    // Controls: the worst state of their resources; skipped only when every one is.
    let mut controls: BTreeMap<String, ControlStatus> = BTreeMap::new();
    for r in &compiled.resources {
        for c in &r.controls {
            let entry = controls.entry(c.clone()).or_insert(ControlStatus {
                state: r.state,
                reason: r.reason.clone(),
                resources: Vec::new(),
            });
            entry.resources.push(r.key.clone());
            let replace = match (entry.state, r.state) {
                (ControlState::Skipped, s) => s != ControlState::Skipped,
                (_, ControlState::Skipped) => false,
                (current, s) => s < current,
            };
            if replace {
                entry.state = r.state;
                entry.reason = r.reason.clone();
            }
        }
    }

    let (tags, baselines, overrides) = match &tenant {
        Some(t) => (
            t.tags.clone(),
            t.baselines.iter().map(|b| b.value.clone()).collect(),
            t.overrides
                .iter()
                .map(|o| OverrideStatus {
                    resource: o.resource.value.clone(),
                    skip: o.skip,
                    reason: o.reason.value.clone(),
                    expires: o.expires.as_ref().map(|e| e.value.to_string()),
                    expired: o.expires.as_ref().is_some_and(|e| e.value < as_of),
                })
                .collect(),
        ),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let orphans = plan
        .filter(|_| plan_decides)
        .map(|(_, _, p)| {
            p.orphans()
                .into_iter()
                .map(|o| OrphanStatus {
                    key: o.key,
                    object_id: o.object_id,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut tenant_runs: Vec<_> = history.iter().filter_map(|r| r.run.clone()).collect();
    tenant_runs.reverse();
    TenantStatus {
        id: entry.id.clone(),
        name: entry.name.clone(),
        ring: entry.ring.clone(),
        tags,
        baselines,
        state,
        detail,
        since,
        runs: tenant_runs,
        overrides,
        resources: compiled.resources,
        orphans,
        controls,
        names: compiled.names,
        drift: None,
    }
}

/// A tenant's newest drift result, when it is newer than its last run: a drifted tenant is
/// `drifted` (a failed one stays failed), each drifted resource too, and the findings go on its
/// page.
fn apply_drift(
    t: &mut TenantStatus,
    drift: Option<&(jiff::Timestamp, String, &inputs::DriftFileTenant)>,
    runs: &Runs,
) {
    let Some((at, created, drift)) = drift else {
        return;
    };
    let last_run = runs
        .by_tenant
        .get(&t.id.to_ascii_lowercase())
        .and_then(|h| h.last())
        .and_then(|r| r.run.as_ref())
        .and_then(|r| r.at.as_deref())
        .and_then(timestamp);
    if last_run.is_some_and(|run_at| run_at > *at) {
        return;
    }
    let drifted: Vec<&crate::live::drift::DriftItem> =
        drift.items.iter().filter(|i| i.state.is_drift()).collect();
    for r in &mut t.resources {
        if drifted.iter().any(|i| i.key == r.key) {
            r.state = ControlState::Drifted;
        }
    }
    t.drift = Some(crate::report::fleet::DriftView {
        at: created.clone(),
        items: drift.items.clone(),
    });
    if !drifted.is_empty() && t.state != TenantState::Failed {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for i in &drifted {
            *counts.entry(i.state.word()).or_default() += 1;
        }
        let words: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
        t.state = TenantState::Drifted;
        t.detail = format!("drift found {created}: {}", words.join(", "));
        t.since = Some(created.clone());
        // The controls of drifted resources are drifted here.
        for control in t.controls.values_mut() {
            if control
                .resources
                .iter()
                .any(|k| drifted.iter().any(|i| &i.key == k))
            {
                control.state = ControlState::Drifted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::natural;

    #[test]
    fn control_ids_sort_by_their_numbers() {
        let mut ids = vec!["MS.AAD.3.10v1", "MS.AAD.3.9v1", "CIS 1.2", "MS.AAD.10.1v1"];
        ids.sort_by_key(|c| natural(c));
        assert_eq!(
            ids,
            ["CIS 1.2", "MS.AAD.3.9v1", "MS.AAD.3.10v1", "MS.AAD.10.1v1"]
        );
    }
}
