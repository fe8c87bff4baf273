//! Deploying (or planning) one tenant: compile its bundle, sign in, read what it has, plan,
//! and unless the run is plan-only apply the plan: resources start as soon as what they depend
//! on is done, those that become ready together go out in `$batch` calls, Conditional Access
//! goes one at a time (Graph admits one per second), orphans are deleted with `--prune`, and the
//! identity map is checkpointed at the end.
//!
//! Input: the [`Run`] and one [`Target`]. Output: its [`TenantReport`], events to the reporter
//! and records in the journal. A tenant-wide failure is a [`TenantError`]; a resource's own
//! failure is an [`ApplyError`](crate::deploy::apply::ApplyError) in its report.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::deploy::apply::{Applied, Step, TenantRun};
use crate::deploy::fleet::{Fleet, Target};
use crate::deploy::identity::{
    IdentityError, IdentityStore, checkpoint_identity, identity_log_path, load_identity,
};
use crate::deploy::shared::{JournalObserver, Run};
use crate::deploy::slim::{SharedSlims, Slim};
use crate::graph::auth::{self, AuthError};
use crate::graph::client::{RequestError, TenantSession};
use crate::graph::cloud::{self, EndpointError};
use crate::journal::Entry;
use crate::live;
use crate::live::drift::Acceptance;
use crate::live::plan::{self, Action};
use crate::report::{Counts, Event, ResourceFailure, TenantReport};

/// Why a tenant could not be planned or deployed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// The target is not a tenant of the project.
    #[error("tenant {tenant} is not in the project")]
    NotInProject {
        /// Tenant id.
        tenant: String,
    },
    /// The tenant's file changed on disk since the project was loaded.
    #[error("tenant {tenant} could not be read again from its file")]
    Unreadable {
        /// Tenant id.
        tenant: String,
    },
    /// Its bundle has errors.
    #[error(
        "its bundle does not compile ({errors} errors); run `tenantform validate --tenant {tenant}`"
    )]
    DoesNotCompile {
        /// Tenant id.
        tenant: String,
        /// Error count.
        errors: usize,
    },
    /// `deploy --plan`: the bundle is not the one the plan was made from.
    #[error(
        "its bundle changed since the plan was made (plan {planned}, now {now}); run `tenantform plan` again"
    )]
    BundleChanged {
        /// The plan's bundle hash.
        planned: String,
        /// Today's.
        now: String,
    },
    /// `deploy --plan`: the live objects are not the ones the plan saw.
    #[error(
        "the tenant changed since the plan was made; run `tenantform plan` again and review the new plan\n{changes}"
    )]
    LiveChanged {
        /// What changed, resource by resource, as [`crate::report::human::changed_since_text`]
        /// shows it.
        changes: String,
    },
    /// The tenant's cloud or endpoint overrides are not usable.
    #[error(transparent)]
    Endpoints(#[from] EndpointError),
    /// Its credentials could not be loaded.
    #[error(transparent)]
    Credentials(#[from] AuthError),
    /// Its identity map could not be read or folded.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The app may not read the tenant's configuration.
    #[error(
        "missing permission to read the tenant's configuration: {0}; grant the app the permissions `tenantform kinds` lists for the bundle's kinds"
    )]
    ReadForbidden(RequestError),
    /// Reading the tenant failed.
    #[error("cannot read the tenant's configuration: {0}")]
    Read(RequestError),
    /// The tenant's facts do not grant the app permissions its resources need: found before
    /// any request, so nothing was written.
    #[error(
        "missing permission: the tenant's facts do not grant the app {}; nothing was read or written. Grant the permission to the app (admin consent in the tenant), then refresh [tenant.facts] with `tenantform facts --tenant {tenant} --write`",
        missing_text(.missing)
    )]
    MissingPermissions {
        /// Tenant id.
        tenant: String,
        /// Each missing permission with the resources that need it.
        missing: Vec<crate::kinds::needs::MissingPermission>,
    },
    /// The compile task ended abnormally (a defect).
    #[error("internal error while compiling: {0}")]
    CompileTask(String),
}

/// `Policy.ReadWrite.ConditionalAccess (needed by ca-a, ca-b and 3 more); ...`.
fn missing_text(missing: &[crate::kinds::needs::MissingPermission]) -> String {
    const SHOWN: usize = 3;
    missing
        .iter()
        .map(|m| {
            let mut names: Vec<&str> = m.resources.iter().take(SHOWN).map(String::as_str).collect();
            let more = m.resources.len().saturating_sub(SHOWN);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            names.dedup();
            format!("{} (needed by {}{more})", m.permission, names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A tenant ready to talk to: its bundle and session.
pub(crate) struct Prepared {
    /// The bundle's content hash.
    pub(crate) bundle_hash: String,
    /// Differences the tenant's overrides accept (`accept_drift`), for drift.
    pub(crate) acceptances: Vec<Acceptance>,
    /// Its operations and bodies, shared with every tenant in flight whose are the same.
    pub(crate) slim: Arc<Slim>,
    /// Its session: made here, or taken signed in from the run's [`ReadAhead`](crate::deploy::ahead::ReadAhead).
    pub(crate) session: Arc<TenantSession>,
    /// What `evidence` needs beyond the slim operations: the bundle's operations (with their
    /// claimed controls) and skipped resources. `None` unless the run judges controls.
    pub(crate) claims: Option<Claims>,
    /// Resources the tenant does not get, with the reasons.
    pub(crate) skipped: Vec<crate::report::Skip>,
}

/// A tenant's claimed controls, for `evidence`.
pub(crate) struct Claims {
    pub(crate) operations: Vec<crate::compile::bundle::Operation>,
    pub(crate) skipped: Vec<crate::live::verdict::SkippedClaim>,
    /// Its layers by name (extended layers first), whose `[controls]` define what "met" means.
    pub(crate) layers: Vec<String>,
}

/// Which permissions [`prepare`] checks against the tenant's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writes {
    /// Plan and deploy: every permission of every resource's kind (a plan that deploy could
    /// not apply fails as deploy would).
    Yes,
    /// Drift, snapshot, export: they only read; Graph answers a missing read permission.
    No,
}

pub(crate) fn prepare(
    fleet: &Fleet,
    target: &Target,
    slims: &SharedSlims,
    with_claims: bool,
    writes: Writes,
) -> Result<Prepared, TenantError> {
    let project = &fleet.project;
    let entry = project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(&target.id))
        .ok_or_else(|| TenantError::NotInProject {
            tenant: target.id.clone(),
        })?;
    let tenant = project
        .tenant(entry)
        .ok_or_else(|| TenantError::Unreadable {
            tenant: target.id.clone(),
        })?;
    // Validation compiled the tenant already in this run (the common case); else compile it.
    // Evidence needs the whole bundle (controls, skipped resources, layers): it compiles.
    let kept = if with_claims {
        None
    } else {
        fleet.kept(&entry.id)
    };
    let (bundle_hash, slim, claims, skipped) = match kept {
        Some(kept) => (kept.bundle_hash, kept.slim, None, kept.skipped),
        None => {
            let compiled = crate::compile::compile_tenant(
                project,
                &fleet.engine,
                fleet.schemas,
                &tenant,
                false,
                fleet.today,
            );
            let bundle = compiled.bundle.ok_or_else(|| TenantError::DoesNotCompile {
                tenant: target.id.clone(),
                errors: compiled.diagnostics.error_count(),
            })?;
            let claims = with_claims.then(|| claims_of(bundle.bundle()));
            (
                bundle.content_hash().to_string(),
                slims.share(&bundle.bundle().operations),
                claims,
                bundle.bundle().skips(),
            )
        }
    };
    // A permission the tenant's facts do not grant is named before anything is sent.
    if writes == Writes::Yes {
        let missing = ungranted(&tenant, slim.operations.iter().map(|op| &**op));
        if !missing.is_empty() {
            return Err(TenantError::MissingPermissions {
                tenant: target.id.clone(),
                missing,
            });
        }
    }
    if let Some(expected) = &target.expected
        && expected.bundle_hash != bundle_hash
    {
        return Err(TenantError::BundleChanged {
            planned: expected.bundle_hash.clone(),
            now: bundle_hash,
        });
    }
    let session = session_of(fleet, &target.id, &tenant)?;
    // A tenant waits on Graph's limits from here on, a thousand side by side: keep only what
    // reading, planning and applying need, with bodies as compact text, shared with the other
    // tenants in flight that compiled to the same.
    let acceptances = tenant
        .overrides
        .iter()
        .filter(|o| !o.accept_drift.is_empty())
        .map(|o| Acceptance {
            resource: o.resource.value.clone(),
            pointers: o.accept_drift.iter().map(|p| p.value.clone()).collect(),
            reason: o.reason.value.clone(),
            expires: o.expires.as_ref().map(|d| d.value.to_string()),
            expired: o.expires.as_ref().is_some_and(|d| d.value < fleet.today),
        })
        .collect();
    Ok(Prepared {
        bundle_hash,
        acceptances,
        slim,
        session: Arc::new(session),
        claims,
        skipped,
    })
}

/// The permissions `operations` need that `tenant`'s facts do not grant (none when its facts
/// do not list permissions).
pub(crate) fn ungranted<'a>(
    tenant: &crate::source::model::Tenant,
    operations: impl IntoIterator<Item = &'a crate::compile::bundle::Operation>,
) -> Vec<crate::kinds::needs::MissingPermission> {
    tenant
        .facts
        .as_ref()
        .and_then(|f| f.granted())
        .map(|granted| {
            crate::kinds::needs::missing_permissions(
                operations.into_iter().map(|o| (o.key.as_str(), o.kind)),
                &granted,
            )
        })
        .unwrap_or_default()
}

/// A session for `tenant` (not signed in yet): its cloud's endpoints and its credentials.
pub(crate) fn session_of(
    fleet: &Fleet,
    id: &str,
    tenant: &crate::source::model::Tenant,
) -> Result<TenantSession, TenantError> {
    let endpoints = cloud::resolve(tenant.cloud, &tenant.endpoints)?;
    // Relative secret and certificate paths are relative to the project directory.
    let credentials = auth::load_credentials(tenant.credentials.as_ref(), &fleet.dir, &*fleet.env)?;
    Ok(TenantSession::new(id, endpoints, credentials))
}

/// What evidence judges of a tenant's bundle: the operations with their controls, the
/// resources skipped with their reasons, and the layers.
fn claims_of(b: &crate::compile::bundle::Bundle) -> Claims {
    Claims {
        operations: b.operations.clone(),
        skipped: b
            .skipped
            .iter()
            .map(|s| crate::live::verdict::SkippedClaim {
                key: s.key.clone(),
                kind: s.kind.to_string(),
                reason: s.reason.clone(),
                controls: s.controls.clone(),
            })
            .collect(),
        layers: b.baselines.clone(),
    }
}

/// Conditional Access operations of a tenant in flight at once (the rest wait their turn): one,
/// so each reserves its slot after the previous one was answered, a full window later
/// (`Pacer::note_answered`), and none reaches Graph too soon after a late predecessor.
const CA_LANE: usize = 1;

/// Turns to prepare writes that wait for a place on the wire, across the tenants of a run
/// ([`deploy_tenant`]'s `write_turns`, [`crate::deploy::DeployOptions::write_turns`]): four
/// times the client's places, enough to keep them busy while some holders wait for their
/// tenant's pacing. A tenant without a turn keeps its ready resources as indices; with a
/// thousand tenants in flight, their requests (paths, labels, resolved bodies, `$batch`
/// futures) would otherwise be made all at once and wait behind the 64 places together.
pub const WRITE_TURNS: usize = 4 * crate::graph::client::MAX_IN_FLIGHT;

/// What a future of a tenant's apply loop ends with.
enum Finished<'a> {
    /// These resources were applied (or failed).
    Applied(Vec<(usize, Applied)>),
    /// A turn to prepare the tenant's ready writes ([`WRITE_TURNS`]).
    Turn(tokio::sync::SemaphorePermit<'a>),
}

/// Plan (and, unless `plan_only`, apply) one tenant. `compile_slots` bounds how many bundles
/// compile at once; `slims` shares operations between tenants in flight; `write_turns` bounds
/// how many tenants have writes prepared and waiting for the wire ([`WRITE_TURNS`]).
pub(crate) async fn deploy_tenant(
    run: &Run,
    target: &Target,
    compile_slots: &tokio::sync::Semaphore,
    slims: &Arc<SharedSlims>,
    write_turns: &tokio::sync::Semaphore,
    sign_in_slot: Option<tokio::sync::OwnedSemaphorePermit>,
) -> TenantReport {
    let started = run.client.timing().now();
    let mut report = TenantReport {
        id: target.id.clone(),
        name: target.name.clone(),
        ring: target.ring.clone(),
        ok: false,
        counts: Counts::default(),
        reason: None,
        failures: Vec::new(),
        skipped: Vec::new(),
        plan: None,
        drift: None,
        snapshot_files: None,
        evidence: None,
        seconds: 0.0,
    };
    let finish = |mut report: TenantReport, run: &Run| {
        report.seconds = run
            .client
            .timing()
            .now()
            .saturating_sub(started)
            .as_secs_f64();
        if report.reason.is_none() {
            report.reason = report
                .failures
                .first()
                .map(|f| format!("{}: {}", f.key, f.reason));
        }
        report.ok = report.reason.is_none();
        report
    };
    let fleet = &*run.fleet;
    let with_claims = run.options.evidence;
    let writes = if run.options.drift || run.options.snapshot.is_some() {
        Writes::No
    } else {
        Writes::Yes
    };
    let prepared = if !with_claims && fleet.is_kept(&target.id) {
        // Validation kept the tenant's bundle: preparing it is a look-up, not a compile, so it
        // is done here rather than queued for a compile slot. A thousand tenants passing
        // through two slots one hand-off at a time made the last of the heaviest start its
        // reads a quarter of a second after the first.
        match prepare(fleet, target, slims, with_claims, writes) {
            Ok(prepared) => prepared,
            Err(error) => {
                report.reason = Some(error.to_string());
                return finish(report, run);
            }
        }
    } else {
        // Compiling is CPU work: one bundle per core at a time, in the order tenants start
        // (the semaphore is fair). Unbounded, a wave of a thousand tenants ran 512 compiles on
        // blocking threads side by side: every tenant waited for all of them, and their memory
        // added up. The semaphore is never closed; were it, compiling would go ahead unbounded.
        let _slot = compile_slots.acquire().await;
        let fleet = run.fleet.clone();
        let target = target.clone();
        let slims = slims.clone();
        match tokio::task::spawn_blocking(move || {
            prepare(&fleet, &target, &slims, with_claims, writes)
        })
        .await
        {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(error)) => {
                report.reason = Some(error.to_string());
                return finish(report, run);
            }
            Err(e) => {
                report.reason = Some(TenantError::CompileTask(e.to_string()).to_string());
                return finish(report, run);
            }
        }
    };
    // A tenant read ahead while the project validated: its session is signed in (or signing
    // in), and its first Conditional Access read sent.
    let mut prepared = prepared;
    let ahead = run
        .options
        .read_ahead
        .as_ref()
        .and_then(|ahead| ahead.take(&target.id));
    let early = ahead.and_then(|ahead| {
        prepared.session = ahead.session;
        ahead.first_read
    });
    report.skipped = prepared.skipped.clone();
    if !run.options.plan_only
        && let Some(journal) = run.journal.as_deref()
    {
        for skip in &prepared.skipped {
            journal.append(Entry::Skipped {
                tenant: target.id.clone(),
                key: skip.key.clone(),
                kind: skip.kind.clone(),
                reason: skip.reason.clone(),
            });
        }
    }
    // Signed in before anything else, holding the scheduler's sign-in slot (its order is the
    // wave's, heaviest first); a tenant that cannot sign in fails as its first read would.
    if let Some(slot) = sign_in_slot {
        let observer = JournalObserver {
            journal: run.journal.as_deref(),
            run,
        };
        let signed_in = run.client.token(&prepared.session, false, &observer).await;
        drop(slot);
        if let Err(e) = signed_in {
            report.reason = Some(TenantError::Read(RequestError::Auth(e)).to_string());
            return finish(report, run);
        }
    }
    let identity = match load_identity(&fleet.dir, &target.id) {
        Ok(identity) => identity,
        Err(error) => {
            report.reason = Some(TenantError::from(error).to_string());
            return finish(report, run);
        }
    };
    // Changes logged by a run that was killed are folded in before anything else is written.
    if !run.options.plan_only
        && identity_log_path(&fleet.dir, &target.id).exists()
        && let Err(error) = checkpoint_identity(&fleet.dir, &target.id, &identity)
    {
        report.reason = Some(TenantError::from(error).to_string());
        return finish(report, run);
    }
    let observer = JournalObserver {
        journal: run.journal.as_deref(),
        run,
    };
    let input = plan::PlanInput {
        tenant: &target.id,
        bundle_hash: &prepared.bundle_hash,
        operations: (&prepared.slim.operations).into(),
        bodies: Some(&prepared.slim.bodies),
        cache: Some(&slims.desired),
        shared: Arc::strong_count(&prepared.slim) > 1,
        fingerprints: run.options.fingerprints,
    };
    // Snapshots and evidence look at what the bundle does not declare; planning compares
    // only what it declares.
    let keep = if run.options.snapshot.is_some() || prepared.claims.is_some() {
        live::Keep::Whole
    } else if run.options.plan_only || run.options.drift {
        // Nothing read is written back: parsed without null members.
        live::Keep::Compared
    } else {
        live::Keep::Declared
    };
    // Boxed: the read's future (4.7 KB) lives only while the tenant reads; inline, it sized
    // every tenant's task for the whole run (11.7 KB instead of 3.4 KB), a thousand of them
    // through the minutes of Conditional Access pacing.
    let live = match Box::pin(live::read(
        &run.client,
        &prepared.session,
        &input,
        &identity,
        keep,
        &observer,
        early,
    ))
    .await
    {
        Ok(live) => live,
        Err(e) => {
            let error = match e {
                RequestError::Status { status: 403, .. } => TenantError::ReadForbidden(e),
                _ => TenantError::Read(e),
            };
            report.reason = Some(error.to_string());
            return finish(report, run);
        }
    };
    let tenant_plan = plan::plan(&input, &live, &identity);
    if let Some(dir) = &run.options.snapshot {
        let files = crate::live::snapshot::files(
            (&prepared.slim.operations).into(),
            &tenant_plan,
            &live,
            &identity,
        );
        drop(live);
        let count = files.len();
        let (dir, tenant) = (dir.clone(), target.id.clone());
        match tokio::task::spawn_blocking(move || write_snapshot(&dir, &tenant, &files)).await {
            Ok(Ok(())) => report.snapshot_files = Some(count),
            Ok(Err(e)) => report.reason = Some(format!("cannot write the snapshot: {e}")),
            Err(e) => {
                report.reason = Some(TenantError::CompileTask(e.to_string()).to_string());
            }
        }
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }
    if let Some(claims) = &prepared.claims {
        let read_at = jiff::Timestamp::try_from(run.client.timing().wall())
            .map(|t| t.to_string())
            .unwrap_or_default();
        let layers: Vec<&[crate::source::model::ControlDef]> = claims
            .layers
            .iter()
            .filter_map(|name| fleet.project.baselines.get(name))
            .map(|b| b.controls.as_slice())
            .collect();
        let defs = crate::live::verdict::definitions(layers);
        let controls = crate::live::verdict::judge(
            &defs,
            &claims.operations,
            &claims.skipped,
            &tenant_plan,
            &live,
            &identity,
        );
        report.evidence = Some(crate::live::verdict::TenantEvidence { read_at, controls });
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }
    if run.options.drift {
        let mut drift = crate::live::drift::classify(
            (&prepared.slim.operations).into(),
            &tenant_plan,
            &live,
            &identity,
            &prepared.acceptances,
        );
        drop(live);
        // Boxed: inline, this drift-only step (1 KB) sized every deploying tenant's future.
        Box::pin(crate::live::audit::attribute(
            &run.client,
            &prepared.session,
            &mut drift.items,
            &observer,
        ))
        .await;
        report.counts.unchanged = drift.in_sync;
        report.drift = Some(drift);
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }
    // What the run is about to change or delete, as it is now (for `rollback`): only those
    // objects, stripped of server fields and secrets, kept until written below.
    let before = match &run.options.before {
        Some(_) if !run.options.plan_only => crate::deploy::rollback::before_images(
            (&prepared.slim.operations).into(),
            &tenant_plan,
            &live,
            &identity,
            run.options.prune && !run.options.only_drifted,
        ),
        _ => Vec::new(),
    };
    // The live objects are not needed past planning; a tenant's apply can take minutes
    // (Conditional Access: one request per second), so do not hold them that long.
    drop(live);
    if let Some(expected) = &target.expected
        && expected.live_fingerprint != tenant_plan.live_fingerprint
    {
        let changed = crate::live::stale::changed_since(&expected.resources, &tenant_plan);
        let changes = crate::report::human::changed_since_text(&changed, &tenant_plan.names);
        report.reason = Some(TenantError::LiveChanged { changes }.to_string());
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }
    if run.options.plan_only {
        for r in &tenant_plan.resources {
            match r.action {
                Action::Create => report.counts.created += 1,
                Action::Update { .. } => report.counts.updated += 1,
                Action::Adopt { .. } => report.counts.adopted += 1,
                Action::NoOp { .. } => report.counts.unchanged += 1,
                Action::Ambiguous { .. } | Action::Missing { .. } => {
                    report.counts.failed += 1;
                }
            }
        }
        report.plan = Some(tenant_plan);
        return finish(report, run);
    }

    // Before-images go to disk before the first write is sent: a run killed at any moment
    // leaves the image of every object it may have changed.
    if let Some(dir) = &run.options.before
        && !before.is_empty()
    {
        let (dir, tenant) = (dir.clone(), target.id.clone());
        match tokio::task::spawn_blocking(move || {
            crate::deploy::before::write_before_images(&dir, &tenant, &before)
        })
        .await
        {
            Ok(Ok(())) => {
                // On disk now; with a remote store, on their way there while the changes go
                // out (the store has them before the tenant's lock is released).
                if let Some(state) = &run.options.state {
                    state.publish_before_images_early(&target.id);
                }
            }
            Ok(Err(e)) => {
                report.reason = Some(format!(
                    "cannot record before-images (nothing was changed): {e}"
                ));
                report.plan = Some(tenant_plan);
                return finish(report, run);
            }
            Err(e) => {
                report.reason = Some(TenantError::CompileTask(e.to_string()).to_string());
                return finish(report, run);
            }
        }
    }
    let Prepared { slim, session, .. } = prepared;
    let (operations, bodies) = (&slim.operations, &slim.bodies);
    let mut ids = live::known_ids(&tenant_plan, &identity);
    // Applying needs each resource's action (taken when its request is built) and the orphans;
    // not the plan's keys and fingerprints, which a tenant would hold through minutes of
    // Conditional Access pacing.
    let plan::TenantPlan {
        resources,
        orphans,
        drifted,
        ..
    } = tenant_plan;
    let only_drifted = run.options.only_drifted;
    let orphans = if only_drifted { Vec::new() } else { orphans };
    let mut actions: Vec<Option<Action>> = resources
        .into_iter()
        .zip(operations.iter())
        .map(|(r, op)| {
            let r = plan::PlannedResource {
                action: crate::deploy::patch::pointers_only(r.action, op.kind),
                ..r
            };
            if !only_drifted {
                return Some(r.action);
            }
            let missing = matches!(r.action, Action::Create)
                && op.kind.shape == crate::kinds::Shape::Collection
                && identity.objects.contains_key(&r.key);
            match r.action {
                Action::Update { .. } if drifted.contains(&r.key) => Some(r.action),
                _ if missing => Some(r.action),
                // Not drift: left as it is for now.
                Action::Update { object_id, .. } => Some(Action::NoOp { object_id }),
                Action::Adopt { .. }
                | Action::Create
                | Action::Ambiguous { .. }
                | Action::Missing { .. } => Some(Action::NoOp { object_id: None }),
                other => Some(other),
            }
        })
        .collect();
    let tenant_run = TenantRun {
        run,
        session: &session,
        observer: JournalObserver {
            journal: run.journal.as_deref(),
            run,
        },
        identity: IdentityStore::new(&fleet.dir, &target.id, identity),
        created: Mutex::new(BTreeSet::new()),
    };
    let mut done: HashMap<&str, bool> = HashMap::new();
    let mut waiting: Vec<usize> = (0..operations.len()).collect();
    let mut running: FuturesUnordered<futures_util::future::BoxFuture<'_, Finished<'_>>> =
        FuturesUnordered::new();
    let mut ready: Vec<usize> = Vec::new();
    let mut ca_in_flight = 0usize;
    // The turn this tenant holds to prepare writes, and whether it is waiting for one.
    let mut turn: Option<tokio::sync::SemaphorePermit<'_>> = None;
    let mut turn_asked = false;
    loop {
        // Start every operation whose dependencies are done; skip those whose dependency failed.
        let mut still_waiting = Vec::with_capacity(waiting.len());
        for i in waiting {
            let op: &crate::compile::bundle::Operation = &operations[i];
            let deps: Vec<(&str, Option<bool>)> = op
                .depends_on
                .iter()
                .map(|d| (d.as_str(), done.get(d.as_str()).copied()))
                .collect();
            if let Some((failed_dep, _)) = deps.iter().find(|(_, state)| *state == Some(false)) {
                done.insert(op.key.as_str(), false);
                report.counts.failed += 1;
                report.failures.push(ResourceFailure {
                    key: op.key.clone(),
                    reason: format!("not applied: it depends on {failed_dep}, which failed"),
                });
                run.emit(Event::ResourceFailed {
                    tenant: &target.id,
                    key: &op.key,
                    reason: "a dependency failed",
                });
                continue;
            }
            if deps.iter().all(|(_, state)| *state == Some(true)) {
                ready.push(i);
            } else {
                still_waiting.push(i);
            }
        }
        waiting = still_waiting;
        // Prepare what became ready; requests that need no pacing of their own at one per
        // second (everything but Conditional Access) go out together in `$batch` calls.
        let mut batch = Vec::new();
        let mut deferred = Vec::new();
        let is_ca = |i: usize| {
            operations[i].kind.throttle == crate::kinds::ThrottleClass::ConditionalAccess
        };
        // Writes other than Conditional Access are prepared with a turn (the semaphore is never
        // closed); without one, they stay ready while the turn is waited for.
        if turn.is_none() && ready.iter().any(|&i| !is_ca(i)) {
            turn = write_turns.try_acquire().ok();
            if turn.is_none() && !turn_asked {
                turn_asked = true;
                running.push(Box::pin(async move {
                    match write_turns.acquire().await {
                        Ok(permit) => Finished::Turn(permit),
                        Err(_) => Finished::Applied(Vec::new()),
                    }
                }));
            }
        }
        // Every future this pass starts holds the turn; it is given back when the last ends.
        let held = turn.take().map(Arc::new);
        for i in ready.drain(..) {
            let op: &crate::compile::bundle::Operation = &operations[i];
            let tenant_run = &tenant_run;
            let ca = is_ca(i);
            if held.is_none() && !ca {
                deferred.push(i);
                continue;
            }
            // Conditional Access waits for its slot a second at a time: never with a turn.
            let held = if ca { None } else { held.clone() };
            // Conditional Access goes one request per second: start only the next one, so the
            // others do not sit in memory (resolved bodies, futures) waiting for their slot.
            if ca {
                if ca_in_flight >= CA_LANE {
                    deferred.push(i);
                    continue;
                }
                ca_in_flight += 1;
            }
            let action = actions[i]
                .take()
                .expect("invariant: an operation leaves `ready` once, so it is prepared once");
            // The text is shared with other tenants; the request carries its own resolved body.
            match tenant_run.prepare(op, &bodies[i], &action, &ids) {
                Ok(Step::Send(request, then))
                    if request.class != crate::kinds::ThrottleClass::ConditionalAccess =>
                {
                    batch.push((i, op, request, then));
                }
                Ok(step) => running.push(Box::pin(async move {
                    let applied = tenant_run.apply_one(op, step).await;
                    drop(held);
                    Finished::Applied(vec![(i, applied)])
                })),
                Err(reason) => running.push(Box::pin(async move {
                    Finished::Applied(vec![(i, Applied::Failed(reason))])
                })),
            }
        }
        if batch.len() == 1 {
            let (i, op, request, then) = batch.remove(0);
            let tenant_run = &tenant_run;
            let held = held.clone();
            running.push(Box::pin(async move {
                let applied = tenant_run.apply_one(op, Step::Send(request, then)).await;
                drop(held);
                Finished::Applied(vec![(i, applied)])
            }));
        } else if !batch.is_empty() {
            let tenant_run = &tenant_run;
            let held = held.clone();
            running.push(Box::pin(async move {
                let applied = tenant_run.apply_batch(batch).await;
                drop(held);
                Finished::Applied(applied)
            }));
        }
        drop(held);
        ready = deferred;
        let results = match running.next().await {
            None => break,
            Some(Finished::Applied(results)) => results,
            Some(Finished::Turn(permit)) => {
                turn = Some(permit);
                turn_asked = false;
                continue;
            }
        };
        for (i, applied) in results {
            let op: &crate::compile::bundle::Operation = &operations[i];
            if op.kind.throttle == crate::kinds::ThrottleClass::ConditionalAccess {
                ca_in_flight -= 1;
            }
            match applied {
                Applied::Done { action, id } => {
                    if let Some(id) = &id {
                        ids.insert(op.key.clone(), id.clone());
                    }
                    done.insert(op.key.as_str(), true);
                    match action {
                        "created" => report.counts.created += 1,
                        "updated" => report.counts.updated += 1,
                        "adopted" => report.counts.adopted += 1,
                        _ => report.counts.unchanged += 1,
                    }
                    if let Some(journal) = &run.journal {
                        journal.append(Entry::Applied {
                            tenant: target.id.clone(),
                            key: op.key.clone(),
                            action: action.to_string(),
                            object_id: id,
                            kind: Some(op.kind.name.to_string()),
                        });
                    }
                    run.emit(Event::ResourceApplied {
                        tenant: &target.id,
                        key: &op.key,
                        action,
                    });
                }
                Applied::Failed(error) => {
                    let reason = error.to_string();
                    done.insert(op.key.as_str(), false);
                    report.counts.failed += 1;
                    run.emit(Event::ResourceFailed {
                        tenant: &target.id,
                        key: &op.key,
                        reason: &reason,
                    });
                    report.failures.push(ResourceFailure {
                        key: op.key.clone(),
                        reason,
                    });
                }
            }
        }
    }
    drop(running);
    for i in waiting.into_iter().chain(ready) {
        let op: &crate::compile::bundle::Operation = &operations[i];
        report.counts.failed += 1;
        report.failures.push(ResourceFailure {
            key: op.key.clone(),
            reason: "not applied: a resource it depends on was never applied".into(),
        });
    }

    if run.options.prune {
        for orphan in &orphans {
            // Boxed, as drift's attribution above: rare steps that would size every tenant's
            // future for the whole run.
            match Box::pin(tenant_run.delete_orphan(orphan)).await {
                Ok(()) => {
                    report.counts.deleted += 1;
                    if let Some(journal) = &run.journal {
                        journal.append(Entry::Applied {
                            tenant: target.id.clone(),
                            key: orphan.key.clone(),
                            action: "deleted".into(),
                            object_id: Some(orphan.object_id.clone()),
                            kind: orphan.kind.clone(),
                        });
                    }
                    run.emit(Event::ResourceApplied {
                        tenant: &target.id,
                        key: &orphan.key,
                        action: "deleted",
                    });
                }
                Err(error) => {
                    report.counts.failed += 1;
                    report.failures.push(ResourceFailure {
                        key: orphan.key.clone(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }
    // What this run brought to its bundle, so that the next plan tells drift from a change
    // of the baselines.
    let applied = operations
        .iter()
        .zip(bodies.iter())
        .filter(|(op, _)| done.get(op.key.as_str()) == Some(&true))
        .map(|(op, body)| {
            (
                op.key.clone(),
                crate::canonical::hash_bytes(body.as_bytes()),
            )
        });
    if let Err(error) = tenant_run.identity.record_applied(applied) {
        report.failures.push(ResourceFailure {
            key: "(identity map)".into(),
            reason: error.to_string(),
        });
    }
    if let Err(error) = tenant_run.identity.checkpoint() {
        report.failures.push(ResourceFailure {
            key: "(identity map)".into(),
            reason: error.to_string(),
        });
    }
    finish(report, run)
}

/// Write a tenant's snapshot files to `dir/<tenant>/`, replacing an earlier snapshot whole: into
/// a hidden sibling first, then renamed, so a reader never sees half of one.
fn write_snapshot(
    dir: &std::path::Path,
    tenant: &str,
    files: &std::collections::BTreeMap<String, String>,
) -> std::io::Result<()> {
    let target = dir.join(tenant);
    let staging = dir.join(format!(".{tenant}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    for (relative, text) in files {
        let path = staging.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    std::fs::create_dir_all(&staging)?;
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    std::fs::rename(&staging, &target)
}
