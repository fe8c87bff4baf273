//! The fleet scheduler: runs the tenants of each wave side by side, heaviest first, as many
//! as the [`admission`](crate::deploy::admission) lets in (rings one after the other), stops later rings when a ring's failure rate passes the limit or the journal cannot
//! be written, and sums the run up. With a run state, each tenant's lock is taken before it
//! starts and released after its records are published; a state store that fails stops the
//! run like a journal that cannot be written.
//!
//! Input: the [`Run`] and its [`Target`]s. Output: a [`DeploySummary`], events to the
//! reporter, and the run's start and end in the journal.

use std::sync::Arc;

use crate::deploy::admission::Admission;
use crate::deploy::fleet::{Target, waves};
use crate::deploy::shared::Run;
use crate::deploy::slim::SharedSlims;
use crate::deploy::tenant::deploy_tenant;
use crate::journal::Entry;
use crate::report::{Counts, DeploySummary, Event, TenantReport};

/// Most tenants signing in at once: as many as the client has sign-ins in flight.
const SIGN_INS_AT_ONCE: usize = crate::graph::client::MAX_SIGN_INS_IN_FLIGHT;

/// Deploy (or plan) `targets`: within a wave, the heaviest tenants first, as many at once as
/// the memory budget (and `concurrency`, when set) admits; rings one after the other.
pub async fn run(run: Arc<Run>, targets: Vec<Target>, run_id: Option<String>) -> DeploySummary {
    let started = run.client.timing().now();
    let waves = waves(targets, run.options.rings.as_deref());
    let total: usize = waves.iter().map(|(_, t)| t.len()).sum();
    run.emit(Event::DeployStarted {
        tenants: total,
        plan_only: run.options.plan_only,
    });
    let mut summary = DeploySummary {
        run_id,
        tenants: Vec::new(),
        not_started: Vec::new(),
        stopped: None,
        seconds: 0.0,
        requests: 0,
        batched: 0,
        batches: 0,
        retries: 0,
        throttled: 0,
        links: Vec::new(),
        link_plans: Vec::new(),
    };
    let admission = Arc::new(Admission::new(
        run.options.memory_budget,
        run.options.concurrency,
    ));
    let compile_slots = Arc::new(tokio::sync::Semaphore::new(
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    ));
    let slims = Arc::new(SharedSlims::default());
    let write_turns = Arc::new(tokio::sync::Semaphore::new(run.options.write_turns.max(1)));
    let sign_in_slots = Arc::new(tokio::sync::Semaphore::new(SIGN_INS_AT_ONCE));
    for (ring, targets) in waves {
        if summary.stopped.is_some() {
            summary
                .not_started
                .extend(targets.iter().map(|t| t.id.clone()));
            continue;
        }
        run.emit(Event::RingStarted {
            ring: &ring,
            tenants: targets.len(),
        });
        let ring_size = targets.len();
        let failed_in_ring = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop_ring = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for target in targets {
            let run = run.clone();
            let admission = admission.clone();
            let failed_in_ring = failed_in_ring.clone();
            let stop_ring = stop_ring.clone();
            let compile_slots = compile_slots.clone();
            let slims = slims.clone();
            let write_turns = write_turns.clone();
            // Tenants start in the wave's order, each once a sign-in slot is free: the heaviest
            // sign in first instead of all at once, where the token service's time is shared
            // by a thousand and the tenants that take longest start last. The slot is given
            // back once signed in (or when the tenant ends or waits for its lock first).
            // The semaphore is never closed.
            let sign_in_slot = sign_in_slots.clone().acquire_owned().await.ok();
            tasks.spawn(async move {
                let Some(admitted) = admission.admit(&target).await else {
                    return Err(target.id);
                };
                if stop_ring.load(std::sync::atomic::Ordering::SeqCst)
                    || run.journal.as_ref().is_some_and(|j| j.error().is_some())
                    || run
                        .options
                        .state
                        .as_ref()
                        .is_some_and(|s| s.error().is_some())
                {
                    return Err(target.id);
                }
                // The tenant's lock is taken before its first write (and its state fetched).
                // Taking and releasing it are boxed: inline, their futures (2.6 and 3 KB) sized
                // every tenant's task for the whole run.
                let sign_in_slot = std::sync::Mutex::new(sign_in_slot);
                if let Some(state) = &run.options.state
                    && let Err(e) = Box::pin(state.begin_tenant(&target.id, |holder| {
                        // Waiting for another run: the slot goes to the next tenant.
                        drop(
                            sign_in_slot
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .take(),
                        );
                        run.emit(Event::LockWaiting {
                            tenant: &target.id,
                            holder: &holder.describe(),
                        });
                    }))
                    .await
                {
                    if matches!(e, crate::state::LockError::Storage(_)) {
                        return Err(target.id);
                    }
                    let report = not_locked(&target, e.to_string());
                    if let Some(journal) = &run.journal {
                        journal.append(Entry::TenantFinished {
                            tenant: target.id.clone(),
                            ok: false,
                            reason: report.reason.clone(),
                        });
                    }
                    failed_in_ring.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    run.emit(Event::TenantFinished { report: &report });
                    return Ok(report);
                }
                run.emit(Event::TenantStarted {
                    id: &target.id,
                    name: &target.name,
                });
                let sign_in_slot = sign_in_slot.into_inner().unwrap_or_else(|p| p.into_inner());
                let mut report = deploy_tenant(
                    &run,
                    &target,
                    &compile_slots,
                    &slims,
                    &write_turns,
                    sign_in_slot,
                )
                .await;
                if let Some(why) = run.options.state.as_ref().and_then(|s| s.lost(&target.id)) {
                    report.ok = false;
                    report.reason.get_or_insert_with(|| {
                        format!("this run lost the tenant's lock while deploying it: {why}")
                    });
                }
                if let Some(journal) = &run.journal {
                    journal.append(Entry::TenantFinished {
                        tenant: target.id.clone(),
                        ok: report.ok,
                        reason: report.reason.clone(),
                    });
                }
                // Counted before its place is given up, so that no tenant starts past the
                // failure limit.
                if !report.ok {
                    let failed =
                        failed_in_ring.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    if let Some(limit) = run.options.max_failure_rate
                        && failed as f64 / ring_size.max(1) as f64 > limit
                    {
                        stop_ring.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                // The tenant's Graph work is done: its place in flight goes to the next tenant
                // while this one publishes (the store's gate bounds its requests).
                drop(admitted);
                // Published before the lock is released: the next holder reads all of it. A
                // failure stops the run (no tenant starts after it) and says so below.
                if let Some(state) = &run.options.state {
                    let _ = Box::pin(state.end_tenant(&target.id)).await;
                }
                run.emit(Event::TenantFinished { report: &report });
                Ok(report)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(report)) => summary.tenants.push(report),
                Ok(Err(id)) => summary.not_started.push(id),
                Err(e) => summary.tenants.push(TenantReport {
                    id: "(unknown)".into(),
                    name: String::new(),
                    ring: ring.clone(),
                    ok: false,
                    counts: Counts::default(),
                    reason: Some(format!(
                        "internal error: a tenant task ended abnormally: {e}"
                    )),
                    failures: Vec::new(),
                    skipped: Vec::new(),
                    plan: None,
                    drift: None,
                    snapshot_files: None,
                    evidence: None,
                    seconds: 0.0,
                }),
            }
        }
        let failed = failed_in_ring.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(limit) = run.options.max_failure_rate
            && failed as f64 / ring_size.max(1) as f64 > limit
        {
            summary.stopped = Some(format!(
                "ring {ring}: {failed} of {ring_size} tenants failed, more than --max-failure-rate {limit}; later rings were not started"
            ));
        }
        if let Some(error) = run.journal.as_ref().and_then(|j| j.error()) {
            summary.stopped = Some(format!(
                "the journal could not be written ({error}); stopped"
            ));
        }
        if let Some(error) = run.options.state.as_ref().and_then(|s| s.error()) {
            summary.stopped = Some(state_stopped(&error));
        }
    }
    // Links after the waves: their steps need both ends' baselines (the source's scope groups)
    // and run target first (see `sync::deploy_links`). A rollout that stopped runs none.
    if !run.options.plan_only && summary.stopped.is_none() {
        summary.links = crate::sync::deploy_links(&run, &summary.tenants).await;
    } else if run.options.plan_only && !run.options.drift && run.options.snapshot.is_none() {
        // A plan shows each link as one unit: both tenants' steps in deploy's order.
        summary.link_plans = crate::sync::plan_links(&run, &summary.tenants).await;
    }
    summary.seconds = run
        .client
        .timing()
        .now()
        .saturating_sub(started)
        .as_secs_f64();
    let stats = &run.client.stats;
    summary.requests = stats.requests.load(std::sync::atomic::Ordering::Relaxed);
    summary.batched = stats.batched.load(std::sync::atomic::Ordering::Relaxed);
    summary.batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    summary.retries = stats.retries.load(std::sync::atomic::Ordering::Relaxed);
    summary.throttled = stats.throttled.load(std::sync::atomic::Ordering::Relaxed);
    if let Some(journal) = &run.journal {
        journal.append(Entry::RunFinished {
            succeeded: summary.tenants.iter().filter(|t| t.ok).count(),
            failed: summary.tenants.iter().filter(|t| !t.ok).count(),
        });
    }
    if let Some(state) = &run.options.state {
        let _ = state.finish().await;
        if let Some(error) = state.error() {
            summary.stopped = Some(state_stopped(&error));
        }
    }
    run.emit(Event::DeployFinished { summary: &summary });
    summary
}

/// Why a run stopped when its state store failed, and where its records are meanwhile.
fn state_stopped(error: &str) -> String {
    format!(
        "the state store failed ({error}); stopped: no tenant started after it. Every request this run sent is recorded in its journal in .tenantform/runs/ on this machine, and what the store is missing is listed in .tenantform/unpublished: the next deploy from this directory publishes it before it starts"
    )
}

/// The report of a tenant whose lock another run holds: not deployed.
fn not_locked(target: &Target, reason: String) -> TenantReport {
    TenantReport {
        id: target.id.clone(),
        name: target.name.clone(),
        ring: target.ring.clone(),
        ok: false,
        counts: Counts::default(),
        reason: Some(reason),
        failures: Vec::new(),
        plan: None,
        drift: None,
        snapshot_files: None,
        seconds: 0.0,
        skipped: Vec::new(),
        evidence: None,
    }
}
