//! Before-images and rollback. Before a deploy changes or deletes an object it records the
//! object's live body in the run's directory (all of a tenant's in one document,
//! `<run>/before/<tenant-id>.json`, kept by [`crate::deploy::before`]; canonical JSON, server
//! fields and secrets removed), written before the first request is sent.
//! `tenantform rollback RUN` reads that run's journal and before-images and puts every object
//! the run touched back as it was: updates reverted (the properties the run changed, from the
//! before-image), creates deleted (or kept), deletes re-created (ids of other re-created
//! objects replaced by their new ids, the identity map told the new id).
//!
//! Input: a run's journal and before-images ([`plan_rollback`]); a [`Run`] to apply a tenant's
//! steps ([`apply_tenant`]). Output: a [`RollbackPlan`], then a [`TenantReport`] per tenant and
//! records in the rollback's own journal. Errors: [`RollbackError`].

use crate::compile::ops::Ops;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::deploy::before::RecordedImages;
pub use crate::deploy::before::{BeforeChange, BeforeImage};
use crate::deploy::fleet::Fleet;
use crate::deploy::identity::{
    IdentityStore, checkpoint_identity, identity_log_path, load_identity,
};
use crate::deploy::shared::{JournalObserver, Run, run_dir};
use crate::deploy::tenant::TenantError;
use crate::graph::client::{Body, Request, RequestError, TenantSession};
use crate::journal::{Entry, JournalError};
use crate::kinds::{Kind, Shape};
use crate::live::plan::{Action, IdentityMap, LiveState, TenantPlan};
use crate::live::reader::{known_ids, resolved_path};
use crate::report::{Counts, Event, ResourceFailure, TenantReport};

/// The directory of a run's before-images, beside its journal.
pub fn before_dir(project_dir: &Path, run_id: &str) -> PathBuf {
    run_dir(project_dir, run_id).join("before")
}

/// Kinds whose bodies hold credentials: never imaged, never rolled back.
fn holds_secrets(kind: &Kind) -> bool {
    kind.name.to_ascii_lowercase().contains("secret")
}

/// Property names that hold credentials, removed wherever they appear.
fn secret_property(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["secret", "password", "credential", "token", "privatekey"]
        .iter()
        .any(|s| name.contains(s))
}

fn without_secrets(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !secret_property(k))
                .map(|(k, v)| (k, without_secrets(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_secrets).collect()),
        other => other,
    }
}

fn image_body(kind: &Kind, live: &Value) -> Value {
    without_secrets(crate::live::snapshot::stripped(kind, live, 0))
}

fn live_by_id<'a>(live: &'a LiveState, kind: &str, id: &str) -> Option<&'a Value> {
    live.collections.get(kind).and_then(|objects| {
        objects.iter().find(|o| {
            o.get("id")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(id))
        })
    })
}

/// The before-images of what a plan is about to change (updates, adoptions with changes) and,
/// with `prune`, delete (orphans whose object was read).
pub(crate) fn before_images(
    operations: Ops<'_>,
    plan: &TenantPlan,
    live: &LiveState,
    identity: &IdentityMap,
    prune: bool,
) -> Vec<BeforeImage> {
    let ids = known_ids(plan, identity);
    let mut out = Vec::new();
    for (r, op) in plan.resources.iter().zip(operations) {
        let (object_id, changes) = match &r.action {
            Action::Update { object_id, changes } => (object_id.clone(), changes),
            Action::Adopt { object_id, changes } if !changes.is_empty() => {
                (Some(object_id.clone()), changes)
            }
            _ => continue,
        };
        // Items written one by one (PIM rules, Autopilot assignments) have no single path to
        // restore them at: rollback reports them as not undoable rather than PATCH the query
        // that found them or POST an old set as one member.
        if holds_secrets(op.kind)
            || matches!(op.kind.shape, Shape::QueriedItems(_))
            || op.kind.writes_members()
        {
            continue;
        }
        let (object, path) = match (op.kind.shape, &object_id) {
            (Shape::Collection, Some(id)) => (
                live_by_id(live, op.kind.name, id),
                format!("{}/{id}", op.kind.path),
            ),
            _ => {
                let path = resolved_path(op, &ids).unwrap_or_else(|| op.path.clone());
                (
                    live.by_path
                        .get(&path)
                        .or_else(|| live.by_path.get(&op.path)),
                    path,
                )
            }
        };
        let Some(object) = object else { continue };
        let properties: BTreeSet<String> = changes
            .iter()
            .filter_map(|c| c.pointer.split('/').nth(1))
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .filter(|p| !secret_property(p))
            .collect();
        out.push(BeforeImage {
            key: op.key.clone(),
            kind: op.kind.name.to_string(),
            object_id,
            path,
            change: BeforeChange::Update,
            properties: properties.into_iter().collect(),
            body: image_body(op.kind, object),
        });
    }
    if prune {
        for orphan in &plan.orphans {
            let Some(kind) = orphan.kind.as_deref().and_then(crate::kinds::by_name) else {
                continue;
            };
            if holds_secrets(kind) {
                continue;
            }
            let Some(object) = live_by_id(live, kind.name, &orphan.object_id) else {
                continue;
            };
            out.push(BeforeImage {
                key: orphan.key.clone(),
                kind: kind.name.to_string(),
                object_id: Some(orphan.object_id.clone()),
                path: format!("{}/{}", kind.path, orphan.object_id),
                change: BeforeChange::Delete,
                properties: Vec::new(),
                body: image_body(kind, object),
            });
        }
    }
    out
}

/// Why a run cannot be rolled back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RollbackError {
    /// No such run.
    #[error("no run {run} in {} (tenantform runs list shows the runs)", dir.display())]
    UnknownRun {
        /// The run id asked for.
        run: String,
        /// Where runs are.
        dir: PathBuf,
    },
    /// The run is itself a rollback.
    #[error(
        "run {run} is a rollback (of {of}); to undo it, deploy again, or roll back a deploy run"
    )]
    IsRollback {
        /// The run id asked for.
        run: String,
        /// The run it rolled back.
        of: String,
    },
    /// Its journal cannot be read or is not intact.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A before-image cannot be read.
    #[error("before-image {}: {reason}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// One thing a rollback does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Step {
    /// Put the properties the run changed back (`PATCH`, or the whole body for `PUT` kinds).
    Revert {
        /// The object before the run.
        image: BeforeImage,
    },
    /// Create again an object the run deleted.
    Recreate {
        /// The object before the run.
        image: BeforeImage,
    },
    /// Delete an object the run created.
    Delete {
        /// Resource key.
        key: String,
        /// Kind name.
        kind: String,
        /// Object id.
        object_id: String,
    },
    /// Keep an object the run created (`--keep-created`).
    Keep {
        /// Resource key.
        key: String,
        /// Object id.
        object_id: Option<String>,
    },
    /// Cannot be undone; why.
    Skip {
        /// Resource key.
        key: String,
        /// Why, in words a person can act on.
        reason: String,
    },
}

impl Step {
    /// The resource key.
    pub fn key(&self) -> &str {
        match self {
            Step::Revert { image } | Step::Recreate { image } => &image.key,
            Step::Delete { key, .. } | Step::Keep { key, .. } | Step::Skip { key, .. } => key,
        }
    }

    /// What it is called in plans, counts and the journal.
    pub fn verb(&self) -> &'static str {
        match self {
            Step::Revert { .. } => "revert",
            Step::Recreate { .. } => "recreate",
            Step::Delete { .. } => "delete",
            Step::Keep { .. } => "keep",
            Step::Skip { .. } => "cannot undo",
        }
    }
}

/// A tenant's rollback, in the order it is applied: re-creates (an object before those that
/// refer to it), reverts, then deletes (the newest first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantRollback {
    /// Tenant id.
    pub tenant: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

impl TenantRollback {
    /// Steps per verb.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for step in &self.steps {
            *counts.entry(step.verb()).or_default() += 1;
        }
        counts
    }
}

/// What rolling back a run would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackPlan {
    /// The run rolled back.
    pub run: String,
    /// Per tenant of that run that changed something, in the order the run recorded them.
    pub tenants: Vec<TenantRollback>,
}

/// A resource a run changed: key, action, object id, kind.
type Touched = (String, String, Option<String>, Option<String>);

/// What a step did: the journal's action, the object id, the kind.
type StepDone<'a> = Option<(&'static str, Option<String>, &'a str)>;

/// What rolling back run `run_id` of the project in `project_dir` would do.
pub fn plan_rollback(
    project_dir: &Path,
    run_id: &str,
    keep_created: bool,
) -> Result<RollbackPlan, RollbackError> {
    let journal_path = run_dir(project_dir, run_id).join("journal.jsonl");
    if run_id.is_empty() || run_id.contains(['/', '\\']) || !journal_path.exists() {
        return Err(RollbackError::UnknownRun {
            run: run_id.to_string(),
            dir: crate::deploy::state_root(project_dir).join("runs"),
        });
    }
    let journal = crate::journal::read(&journal_path)?;
    // Per tenant, in journal order, the first change the run made to each resource.
    let mut touched: Vec<(String, Vec<Touched>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for record in &journal.records {
        match &record.entry {
            Entry::RollbackOf { run } => {
                return Err(RollbackError::IsRollback {
                    run: run_id.to_string(),
                    of: run.clone(),
                });
            }
            Entry::Applied {
                tenant,
                key,
                action,
                object_id,
                kind,
            } if matches!(
                action.as_str(),
                "created" | "updated" | "adopted" | "deleted"
            ) =>
            {
                let tenant = tenant.to_ascii_lowercase();
                if !seen.insert((tenant.clone(), key.clone())) {
                    continue;
                }
                let item = (key.clone(), action.clone(), object_id.clone(), kind.clone());
                match touched.iter_mut().find(|(t, _)| *t == tenant) {
                    Some((_, items)) => items.push(item),
                    None => touched.push((tenant, vec![item])),
                }
            }
            _ => {}
        }
    }
    let before = before_dir(project_dir, run_id);
    let mut tenants = Vec::new();
    for (tenant, items) in touched {
        let identity = load_identity(project_dir, &tenant).unwrap_or_default();
        let images = RecordedImages::load(&before, &tenant)?;
        let mut recreates = Vec::new();
        let mut reverts = Vec::new();
        let mut deletes = Vec::new();
        let mut skips = Vec::new();
        for (key, action, object_id, kind) in items {
            let image = images.get(&key)?;
            match (action.as_str(), image) {
                ("updated" | "adopted", Some(image)) => reverts.push(Step::Revert { image }),
                // An adoption that changed nothing has nothing to put back.
                ("adopted", None) => {}
                ("deleted", Some(image)) => recreates.push(image),
                ("updated" | "deleted", None) => skips.push(Step::Skip {
                    key,
                    reason: format!(
                        "no before-image of it ({action} by a run that did not record one, or a kind that holds secrets)"
                    ),
                }),
                _ => {
                    let kind = kind.or_else(|| identity.kinds.get(&key).cloned());
                    let collection = kind
                        .as_deref()
                        .and_then(crate::kinds::by_name)
                        .is_some_and(|k| k.shape == Shape::Collection);
                    match (object_id, kind) {
                        (object_id, _) if keep_created => deletes.push(Step::Keep { key, object_id }),
                        (Some(object_id), Some(kind)) if collection => {
                            deletes.push(Step::Delete {
                                key,
                                kind,
                                object_id,
                            })
                        }
                        _ => skips.push(Step::Skip {
                            key,
                            reason: "created at a fixed path (a setting or assignment), which cannot be deleted; change it by a deploy".into(),
                        }),
                    }
                }
            }
        }
        // An object re-created before those whose bodies hold its old id.
        let mut ordered = Vec::new();
        while !recreates.is_empty() {
            let pending: Vec<String> = recreates
                .iter()
                .filter_map(|i: &BeforeImage| i.object_id.clone())
                .collect();
            let next = recreates
                .iter()
                .position(|image| {
                    let text = image.body.to_string();
                    !pending.iter().any(|id| {
                        Some(id) != image.object_id.as_ref() && text.contains(id.as_str())
                    })
                })
                .unwrap_or(0);
            ordered.push(Step::Recreate {
                image: recreates.remove(next),
            });
        }
        deletes.reverse();
        let steps: Vec<Step> = ordered
            .into_iter()
            .chain(reverts)
            .chain(deletes)
            .chain(skips)
            .collect();
        if !steps.is_empty() {
            tenants.push(TenantRollback { tenant, steps });
        }
    }
    Ok(RollbackPlan {
        run: run_id.to_string(),
        tenants,
    })
}

/// A tenant's session, as a deploy signs in.
fn session(fleet: &Fleet, tenant_id: &str) -> Result<TenantSession, TenantError> {
    let project = &fleet.project;
    let entry = project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(tenant_id))
        .ok_or_else(|| TenantError::NotInProject {
            tenant: tenant_id.to_string(),
        })?;
    let tenant = project
        .tenant(entry)
        .ok_or_else(|| TenantError::Unreadable {
            tenant: tenant_id.to_string(),
        })?;
    let endpoints = crate::graph::cloud::resolve(tenant.cloud, &tenant.endpoints)?;
    let credentials =
        crate::graph::auth::load_credentials(tenant.credentials.as_ref(), &fleet.dir, &*fleet.env)?;
    Ok(TenantSession::new(&entry.id, endpoints, credentials))
}

/// Replace each old id with its new one in a body.
fn with_new_ids(body: &Value, new_ids: &BTreeMap<String, String>) -> Value {
    if new_ids.is_empty() {
        return body.clone();
    }
    let mut text = body.to_string();
    for (old, new) in new_ids {
        text = text.replace(old.as_str(), new);
    }
    serde_json::from_str(&text).unwrap_or_else(|_| body.clone())
}

fn request(
    label: &str,
    kind: &Kind,
    method: &'static str,
    path: String,
    body: Option<&Value>,
) -> Request {
    Request {
        label: label.to_string(),
        method,
        version: kind.api_version,
        path,
        body: body.map(Body::new),
        prefer: None,
        class: kind.throttle,
        idempotent: method != "POST",
        references_new_object: false,
        lean: false,
        id_only: false,
        keep_items: None,
    }
}

/// Why one step failed.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("kind {0} is not known to this version of tenantform")]
    UnknownKind(String),
    #[error("{0}")]
    Request(#[from] RequestError),
    #[error("{path} answered without an object id")]
    NoObjectId { path: String },
    #[error(transparent)]
    Identity(#[from] crate::deploy::identity::IdentityError),
}

fn kind_of(name: &str) -> Result<&'static Kind, StepError> {
    crate::kinds::by_name(name).ok_or_else(|| StepError::UnknownKind(name.to_string()))
}

/// The id of a live object of `kind` whose match key equals `body`'s (a re-create that
/// happened already, by a killed rollback or by hand), from the first page of the collection.
async fn find_existing(
    run: &Run,
    session: &TenantSession,
    observer: &JournalObserver<'_>,
    key: &str,
    kind: &'static Kind,
    body: &Value,
) -> Result<Option<String>, StepError> {
    if kind.match_key.is_empty() {
        return Ok(None);
    }
    let read = request(
        &format!("reconcile:{key}"),
        kind,
        "GET",
        kind.path.to_string(),
        None,
    );
    let response = run.client.send(session, &read, observer).await?;
    let same = |a: Option<&Value>, b: Option<&Value>| match (a, b) {
        (Some(Value::String(a)), Some(Value::String(b))) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    };
    Ok(response
        .body
        .get("value")
        .and_then(Value::as_array)
        .and_then(|items| {
            items
                .iter()
                .find(|o| kind.match_key.iter().all(|k| same(o.get(*k), body.get(*k))))
        })
        .and_then(|o| o.get("id").and_then(Value::as_str))
        .map(str::to_string))
}

/// Apply a tenant's rollback steps, except those in `done` (finished by an earlier attempt of
/// the same rollback). Each step goes to the journal as `applied` (reverted, recreated,
/// removed); the identity map learns re-created ids and forgets deleted objects.
///
/// `resumed`: an earlier attempt was interrupted (killed), so a step it sent may have landed
/// after its last journal entry. Before a revert or a delete the object is read: one already
/// as it was before the run is not written again, one already gone is not deleted again (a
/// re-create finds an object the attempt made by its match key, as always).
pub async fn apply_tenant(
    run: &Run,
    rollback: &TenantRollback,
    done: &BTreeSet<String>,
    resumed: bool,
) -> TenantReport {
    let fleet = &*run.fleet;
    let tenant = &rollback.tenant;
    let entry = fleet
        .project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(tenant));
    let mut report = TenantReport {
        id: tenant.clone(),
        name: entry
            .map(|e| e.name.clone())
            .unwrap_or_else(|| tenant.clone()),
        ring: entry.map(|e| e.ring.clone()).unwrap_or_default(),
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
    let started = run.client.timing().now();
    let session = match session(fleet, tenant) {
        Ok(session) => session,
        Err(e) => {
            report.reason = Some(e.to_string());
            return report;
        }
    };
    let identity = match load_identity(&fleet.dir, tenant) {
        Ok(identity) => identity,
        Err(e) => {
            report.reason = Some(e.to_string());
            return report;
        }
    };
    if identity_log_path(&fleet.dir, tenant).exists()
        && let Err(e) = checkpoint_identity(&fleet.dir, tenant, &identity)
    {
        report.reason = Some(e.to_string());
        return report;
    }
    let store = IdentityStore::new(&fleet.dir, tenant, identity.clone());
    let observer = JournalObserver {
        journal: run.journal.as_deref(),
        run,
    };
    // Old id → new id of each object re-created, for the bodies that refer to it.
    let mut new_ids: BTreeMap<String, String> = BTreeMap::new();
    // Re-created by an earlier attempt: their new ids, from the identity map.
    for step in &rollback.steps {
        if let Step::Recreate { image } = step
            && done.contains(&image.key)
            && let (Some(old), Some(new)) = (&image.object_id, identity.objects.get(&image.key))
        {
            new_ids.insert(old.clone(), new.clone());
        }
    }
    let mut reverted = Vec::new();
    for step in &rollback.steps {
        let key = step.key();
        if done.contains(key) {
            continue;
        }
        let result: Result<StepDone<'_>, StepError> = async {
            match step {
                Step::Recreate { image } => {
                    let kind = kind_of(&image.kind)?;
                    let mut body = with_new_ids(&image.body, &new_ids);
                    // What the service sets (id, timestamps) cannot be sent, and absent is
                    // what null says on a create.
                    if let Value::Object(map) = &mut body {
                        map.retain(|k, v| k != "id" && !k.ends_with("DateTime") && !v.is_null());
                    }
                    let id = match find_existing(run, &session, &observer, key, kind, &body).await?
                    {
                        Some(id) => id,
                        None => {
                            let post =
                                request(key, kind, "POST", kind.path.to_string(), Some(&body));
                            let sent = run.client.send(&session, &post, &observer).await;
                            let found = match sent {
                                Ok(response) => response
                                    .body
                                    .get("id")
                                    .and_then(Value::as_str)
                                    .map(str::to_string),
                                // The answer was lost: look for the object before saying so.
                                Err(RequestError::OutcomeUnknown { after, .. }) => {
                                    run.client.timing().sleep(after).await;
                                    find_existing(run, &session, &observer, key, kind, &body)
                                        .await?
                                }
                                Err(e) => return Err(e.into()),
                            };
                            found.ok_or_else(|| StepError::NoObjectId {
                                path: kind.path.to_string(),
                            })?
                        }
                    };
                    store.remember_id(key, kind.name, &id)?;
                    if let Some(old) = &image.object_id {
                        new_ids.insert(old.clone(), id.clone());
                    }
                    Ok(Some(("recreated", Some(id), kind.name)))
                }
                Step::Revert { image } => {
                    let kind = kind_of(&image.kind)?;
                    let method = kind.update_method.as_str();
                    let before = with_new_ids(&image.body, &new_ids);
                    // Properties only an action changes (`kinds::UPDATE_ACTIONS`) go back through
                    // it; the PATCH carries the rest, if there is any.
                    let mut patched = image.properties.len();
                    if method == "PATCH" {
                        for p in &image.properties {
                            let Some(action) = crate::kinds::update_action(kind.name, p) else {
                                continue;
                            };
                            patched -= 1;
                            let value = before.get(p).cloned().unwrap_or(Value::Null);
                            let mut post = request(
                                key,
                                kind,
                                "POST",
                                format!("{}/{action}", image.path),
                                Some(&serde_json::json!({ p.as_str(): value })),
                            );
                            // Setting a property to a value is safe to repeat.
                            post.idempotent = true;
                            run.client.send(&session, &post, &observer).await?;
                        }
                        if patched == 0 {
                            return Ok(Some(("reverted", image.object_id.clone(), kind.name)));
                        }
                    }
                    let body = if method == "PATCH" {
                        let mut map = Map::new();
                        if let Some(t) = before.get("@odata.type") {
                            map.insert("@odata.type".into(), t.clone());
                        }
                        for p in &image.properties {
                            if crate::kinds::update_action(kind.name, p).is_some() {
                                continue;
                            }
                            map.insert(p.clone(), before.get(p).cloned().unwrap_or(Value::Null));
                        }
                        Value::Object(map)
                    } else {
                        // A PUT sends the whole object back, less what the service sets (an
                        // admin consent policy's `version`): Graph refuses a write that carries it.
                        let mut body = before;
                        if let Value::Object(map) = &mut body {
                            map.remove("id");
                            for property in kind.schema.read_only {
                                map.remove(*property);
                            }
                        }
                        body
                    };
                    if resumed {
                        let get = request(key, kind, "GET", image.path.clone(), None);
                        let live = run.client.send(&session, &get, &observer).await?;
                        if crate::live::normalize::diff(kind, &body, &live.body).is_empty() {
                            // Reverted by the interrupted attempt, after its last journal entry.
                            return Ok(Some(("reverted", image.object_id.clone(), kind.name)));
                        }
                    }
                    let mut put = request(key, kind, method, image.path.clone(), Some(&body));
                    put.references_new_object = new_ids
                        .values()
                        .any(|id| body.to_string().contains(id.as_str()));
                    run.client.send(&session, &put, &observer).await?;
                    Ok(Some(("reverted", image.object_id.clone(), kind.name)))
                }
                Step::Delete {
                    kind, object_id, ..
                } => {
                    let kind = kind_of(kind)?;
                    let path = format!("{}/{object_id}", kind.path);
                    // Deleted by the interrupted attempt, after its last journal entry: gone.
                    let gone = resumed
                        && match run
                            .client
                            .send(
                                &session,
                                &request(key, kind, "GET", path.clone(), None),
                                &observer,
                            )
                            .await
                        {
                            Ok(_) => false,
                            Err(e) if e.status() == Some(404) => true,
                            Err(e) => return Err(e.into()),
                        };
                    if !gone {
                        let delete = request(key, kind, "DELETE", path, None);
                        match run.client.send(&session, &delete, &observer).await {
                            Ok(_) => {}
                            Err(e) if e.status() == Some(404) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    store.forget(key)?;
                    Ok(Some(("removed", Some(object_id.clone()), kind.name)))
                }
                Step::Keep { .. } | Step::Skip { .. } => Ok(None),
            }
        }
        .await;
        match result {
            Ok(Some((action, object_id, kind))) => {
                match action {
                    "recreated" => report.counts.created += 1,
                    "reverted" => report.counts.updated += 1,
                    _ => report.counts.deleted += 1,
                }
                if action != "removed" {
                    reverted.push(key.to_string());
                }
                if let Some(journal) = &run.journal {
                    journal.append(Entry::Applied {
                        tenant: tenant.clone(),
                        key: key.to_string(),
                        action: action.to_string(),
                        object_id,
                        kind: Some(kind.to_string()),
                    });
                }
                run.emit(Event::ResourceApplied {
                    tenant,
                    key,
                    action,
                });
            }
            Ok(None) => report.counts.unchanged += 1,
            Err(e) => {
                let reason = e.to_string();
                report.counts.failed += 1;
                run.emit(Event::ResourceFailed {
                    tenant,
                    key,
                    reason: &reason,
                });
                report.failures.push(ResourceFailure {
                    key: key.to_string(),
                    reason,
                });
            }
        }
    }
    for (key, e) in [
        ("(identity map)", store.unapplied(reverted).err()),
        ("(identity map)", store.checkpoint().err()),
    ] {
        if let Some(e) = e {
            report.failures.push(ResourceFailure {
                key: key.into(),
                reason: e.to_string(),
            });
        }
    }
    report.seconds = run
        .client
        .timing()
        .now()
        .saturating_sub(started)
        .as_secs_f64();
    report.reason = report
        .failures
        .first()
        .map(|f| format!("{}: {}", f.key, f.reason));
    report.ok = report.reason.is_none();
    report
}
