//! Applying one tenant's plan, resource by resource: the request each plan action takes
//! (creates with references resolved to real ids, updates as property patches, adoption),
//! creates that are never sent twice (a lost answer is reconciled by match key), `$batch`
//! for resources that became ready together, orphan deletion, and the identity map kept as
//! each object becomes known.
//!
//! Input: a `TenantRun` (the run, the tenant's session and identity store) and each
//! resource's operation, body and plan action. Output: an `Applied` per resource, or the
//! [`ApplyError`] that says why it failed, in words a person can act on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::compile::bundle::Operation;
use crate::deploy::identity::{IdentityError, IdentityStore};
use crate::deploy::patch::{item_patches, patch_body, resolve_text, resolve_value};
use crate::deploy::shared::{JournalObserver, Run};
use crate::graph::client::{Request, RequestError, Response, TenantSession};
use crate::kinds::{Kind, Method, Shape};
use crate::live;
use crate::live::plan::{self, Action};

/// Why one resource could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Graph refused a request for the resource (or retries ran out).
    #[error("{}", explain(source, kind))]
    Request {
        /// The resource's kind (its permissions name what a 403 lacks).
        kind: &'static Kind,
        /// What the client said.
        source: Box<RequestError>,
    },
    /// A reference in the body or path has no closing brace.
    #[error("unterminated reference in {text}")]
    UnterminatedReference {
        /// The text it is in.
        text: String,
    },
    /// A reference names a resource whose id is not known.
    #[error("reference to {key}, whose id is not known")]
    UnknownReference {
        /// The referenced resource key.
        key: String,
    },
    /// More than one live object matches the resource's match key.
    #[error(
        "{} objects match {key} by {match_key} ({}); tenantform will not guess: delete the duplicates, or record the right id in {}",
        object_ids.len(),
        object_ids.join(", "),
        identity_map.display()
    )]
    Ambiguous {
        /// Resource key.
        key: String,
        /// The kind's match key, joined with ` + `.
        match_key: String,
        /// The matching objects.
        object_ids: Vec<String>,
        /// The identity map file where the right id can be recorded.
        identity_map: PathBuf,
    },
    /// The object must already exist in the tenant and does not (the plan said why).
    #[error("{reason}")]
    Missing {
        /// Resource key.
        key: String,
        /// What is missing, naming it.
        reason: String,
    },
    /// A change the kind cannot write: only the items of its keyed array are PATCHed.
    #[error(
        "{key}: {pointer} differs in the tenant, but a {kind} is written item by item ({array}/<{item_key}>); only those items can change: remove {pointer} from the resource or set it to what the tenant has"
    )]
    NotWritable {
        /// Resource key.
        key: String,
        /// The kind's name.
        kind: &'static str,
        /// The property that cannot be written.
        pointer: String,
        /// The keyed array.
        array: &'static str,
        /// What identifies an item.
        item_key: &'static str,
    },
    /// A queried object has no owner id to write its items under.
    #[error("{key}: the tenant's object has no {owner_id}, so its items cannot be written")]
    NoOwnerId {
        /// Resource key.
        key: String,
        /// The property that should have held it.
        owner_id: &'static str,
    },
    /// A create succeeded without an object id, and the object could not be found.
    #[error("{path} answered {status} without an object id")]
    NoObjectId {
        /// Request path.
        path: String,
        /// HTTP status.
        status: u16,
    },
    /// A create's outcome stayed unknown through every attempt.
    #[error("{method} {path}: no definite answer after {attempts} attempts ({reason})")]
    NoDefiniteAnswer {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// The last thing that happened.
        reason: String,
    },
    /// An upsert answered that the object exists, but it could not be found by match key.
    #[error("{path}: the object exists but could not be found by {match_key} within {window:?}")]
    NotFoundAfterUpsert {
        /// Request path.
        path: String,
        /// The kind's match key, joined with ` + `.
        match_key: String,
        /// How long it was looked for.
        window: Duration,
    },
    /// An orphan's kind is not in the identity map, so its path is unknown.
    #[error(
        "orphan {key} ({object_id}): its kind is not recorded in the identity map; delete it by hand"
    )]
    OrphanKindUnknown {
        /// Resource key.
        key: String,
        /// Live object id.
        object_id: String,
    },
    /// The identity map could not be written.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A compiled body is not JSON (a defect: bodies are validated).
    #[error("internal error: the compiled body of {key} is not JSON: {source}")]
    BodyNotJson {
        /// Resource key.
        key: String,
        /// What the decoder said.
        source: serde_json::Error,
    },
}

impl ApplyError {
    pub(crate) fn request(kind: &'static Kind) -> impl FnOnce(RequestError) -> ApplyError {
        move |source| ApplyError::Request {
            kind,
            source: Box::new(source),
        }
    }
}

/// Words a person can act on for a failed request of `op`'s kind.
fn explain(error: &RequestError, kind: &Kind) -> String {
    match error {
        RequestError::Status {
            status: 403, code, ..
        } => format!(
            "missing permission: the app needs {} (application permission, admin consent) to manage {}; Graph answered 403 {code}",
            kind.permissions.join(" and "),
            kind.name
        ),
        RequestError::Status { status: 401, .. } => format!(
            "the app's token was refused (401) even after renewing it; check the app registration and consent ({error})"
        ),
        other => other.to_string(),
    }
}

/// The HTTP method string.
fn method_str(method: Method) -> &'static str {
    method.as_str()
}

/// What one resource ended as.
pub(crate) enum Applied {
    /// It now matches the bundle.
    Done {
        /// created, updated, adopted, unchanged.
        action: &'static str,
        /// Its object id, when it has one.
        id: Option<String>,
    },
    /// It failed.
    Failed(ApplyError),
}

/// What applying a resource takes.
pub(crate) enum Step {
    /// Nothing more (unchanged, or adopted as it is).
    Done(Applied),
    /// This request, then read its answer so.
    Send(Request, Then),
    /// These requests one after another (the items of a [`Shape::QueriedItems`] object); the
    /// first that fails fails the resource, else this is the result.
    Sequence(Vec<Request>, Applied),
    /// A set written member by member ([`Kind::writes_members`]): read the members the tenant
    /// has, delete the ones not wanted, add the ones missing; then this is the result.
    Members(MemberSet, Applied),
}

/// What a [`Step::Members`] writes: the set's collection path (its parent's id resolved) and
/// the members the resource declares.
pub(crate) struct MemberSet {
    /// `.../{parent id}/assignments`.
    pub(crate) listing: String,
    /// The members wanted, as the body declares them.
    pub(crate) desired: Vec<Value>,
}

/// How to read the answer to a resource's request.
pub(crate) enum Then {
    /// A create: record the new object's id (a lost answer to a POST is reconciled).
    Created,
    /// An update (or the update of an adopted object): this is the result.
    Finished(Applied),
    /// An update in two requests (a property only an action changes, beside a PATCH): once
    /// this one succeeded, send the second; then this is the result.
    FollowedBy(Box<Request>, Applied),
}

/// A step that sends `requests` in order (one or two: see [`TenantRun::update_requests`]) and
/// then is `done`.
fn send_all(mut requests: Vec<Request>, done: Applied) -> Step {
    let second = (requests.len() > 1).then(|| requests.remove(1));
    let first = requests.remove(0);
    match second {
        Some(second) => Step::Send(first, Then::FollowedBy(Box::new(second), done)),
        None => Step::Send(first, Then::Finished(done)),
    }
}

/// One tenant's deploy in progress.
pub(crate) struct TenantRun<'a> {
    pub(crate) run: &'a Run,
    pub(crate) session: &'a TenantSession,
    pub(crate) observer: JournalObserver<'a>,
    pub(crate) identity: IdentityStore,
    /// Keys created in this run (their references may need replication time).
    pub(crate) created: Mutex<BTreeSet<String>>,
}

impl TenantRun<'_> {
    pub(crate) fn request(
        &self,
        op: &Operation,
        method: &'static str,
        path: String,
        body: Value,
    ) -> Request {
        self.request_with(op, method, path, crate::graph::client::Body::new(&body))
    }

    /// [`TenantRun::request`] with its body already serialized.
    fn request_with(
        &self,
        op: &Operation,
        method: &'static str,
        path: String,
        body: crate::graph::client::Body,
    ) -> Request {
        let created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        let references_new_object = op.refs.iter().any(|r| created.contains(&r.target));
        Request {
            label: op.key.clone(),
            method,
            version: op.kind.api_version,
            path,
            body: Some(body),
            prefer: op.prefer,
            class: op.kind.throttle,
            idempotent: method != "POST" || op.kind.shape == Shape::ParentAction,
            references_new_object,
            lean: false,
            // Applying reads no more of an answer than the created object's id.
            id_only: true,
            keep_items: None,
        }
    }

    pub(crate) async fn send(
        &self,
        request: &Request,
    ) -> Result<crate::graph::client::Response, RequestError> {
        self.run
            .client
            .send(self.session, request, &self.observer)
            .await
    }

    /// Create a collection object with POST, never twice: when the outcome is unknown (also
    /// when it arrives so from a `$batch` item, `first`), look it up by its match key before
    /// sending again.
    async fn create_once(
        &self,
        op: &Operation,
        request: &Request,
        first: Option<Result<Response, RequestError>>,
    ) -> Result<String, ApplyError> {
        let policy = *self.run.client.policy();
        let mut tries = 0;
        let mut result = first;
        loop {
            tries += 1;
            let outcome = match result.take() {
                Some(outcome) => outcome,
                None => self.send(request).await,
            };
            match outcome {
                Ok(response) => {
                    return match response.body.get("id").and_then(Value::as_str) {
                        Some(id) => Ok(id.to_string()),
                        None => self.find(op).await?.ok_or_else(|| ApplyError::NoObjectId {
                            path: request.path.clone(),
                            status: response.status,
                        }),
                    };
                }
                Err(RequestError::OutcomeUnknown { after, reason, .. }) => {
                    self.run.client.timing().sleep(after).await;
                    // A create applied just before the connection dropped may not be listed
                    // yet (replication): look until the reconcile window has passed before
                    // concluding it was not made.
                    if let Some(id) = self.find_within(op, policy.reconcile_window).await? {
                        return Ok(id);
                    }
                    if tries >= policy.max_transient_attempts {
                        return Err(ApplyError::NoDefiniteAnswer {
                            method: request.method,
                            path: request.path.clone(),
                            attempts: tries,
                            reason,
                        });
                    }
                }
                Err(e) => return Err(ApplyError::request(op.kind)(e)),
            }
        }
    }

    /// Look an object up by its match key, again and again until `window` has passed (new
    /// objects take a moment to be listed).
    async fn find_within(
        &self,
        op: &Operation,
        window: Duration,
    ) -> Result<Option<String>, ApplyError> {
        let timing = self.run.client.timing();
        let started = timing.now();
        let step = (window / 10).max(Duration::from_millis(50));
        loop {
            if let Some(id) = self.find(op).await? {
                return Ok(Some(id));
            }
            if timing.now().saturating_sub(started) >= window {
                return Ok(None);
            }
            timing.sleep(step).await;
        }
    }

    async fn find(&self, op: &Operation) -> Result<Option<String>, ApplyError> {
        // Boxed: a lookup is rare (reconciling a create), and inline its read (a `$batch`
        // future, ~3.8 KB) made every operation's future in flight that much larger.
        Box::pin(live::find_by_match_key(
            &self.run.client,
            self.session,
            op,
            &self.observer,
        ))
        .await
        .map_err(ApplyError::request(op.kind))
    }

    /// What applying a resource takes: nothing more, or one request and how to read its
    /// answer. `ids` holds every id it may reference.
    pub(crate) fn prepare(
        &self,
        op: &Operation,
        body_text: &std::sync::Arc<str>,
        action: &Action,
        ids: &BTreeMap<String, String>,
    ) -> Result<Step, ApplyError> {
        let body: Value =
            serde_json::from_str(body_text).map_err(|source| ApplyError::BodyNotJson {
                key: op.key.clone(),
                source,
            })?;
        // A body without references is sent as the text the tenants in flight share (it is
        // compact JSON, as serializing the value again would write it), not copied per tenant.
        let shared_text =
            (!body_text.contains(crate::compile::render::REF_OPEN)).then(|| body_text.clone());
        let body = match shared_text {
            Some(_) => body,
            None => resolve_value(&body, ids)?,
        };
        let path = resolve_text(&op.path, ids)?;
        let update_method = method_str(op.kind.update_method);
        // Only collection objects go in the identity map: it is what `--prune` deletes.
        let remembered = op.kind.shape == Shape::Collection;
        if op.kind.writes_members()
            && matches!(
                action,
                Action::Create | Action::Update { .. } | Action::Adopt { .. }
            )
        {
            let parameter = op.kind.schema.action_parameter.unwrap_or("assignments");
            let desired = body
                .get(parameter)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let done = Applied::Done {
                action: if matches!(action, Action::Create) {
                    "created"
                } else {
                    "updated"
                },
                id: None,
            };
            return Ok(Step::Members(
                MemberSet {
                    listing: path,
                    desired,
                },
                done,
            ));
        }
        match action {
            Action::NoOp { object_id } => {
                if let Some(id) = object_id.as_ref().filter(|_| remembered) {
                    self.identity.remember(op, id)?;
                }
                Ok(Step::Done(Applied::Done {
                    action: "unchanged",
                    id: object_id.clone(),
                }))
            }
            Action::Missing { reason } => Err(ApplyError::Missing {
                key: op.key.clone(),
                reason: reason.clone(),
            }),
            Action::Update { object_id, changes }
                if matches!(op.kind.shape, Shape::QueriedItems(_)) =>
            {
                let requests = self.item_requests(op, object_id.as_deref(), &body, changes)?;
                Ok(Step::Sequence(
                    requests,
                    Applied::Done {
                        action: "updated",
                        id: None,
                    },
                ))
            }
            Action::Ambiguous { object_ids } => Err(ApplyError::Ambiguous {
                key: op.key.clone(),
                match_key: op.kind.match_key.join(" + "),
                object_ids: object_ids.clone(),
                identity_map: self.identity.path(),
            }),
            Action::Create => {
                let method = op.kind.create_method.map_or(update_method, method_str);
                let body = match shared_text {
                    Some(text) => crate::graph::client::Body::shared(text, &body),
                    None => crate::graph::client::Body::new(&body),
                };
                Ok(Step::Send(
                    self.request_with(op, method, path, body),
                    Then::Created,
                ))
            }
            Action::Adopt { object_id, changes } => {
                self.identity.remember(op, object_id)?;
                let done = Applied::Done {
                    action: "adopted",
                    id: Some(object_id.clone()),
                };
                if changes.is_empty() {
                    return Ok(Step::Done(done));
                }
                let requests =
                    self.update_requests(op, Some(object_id), &path, body, changes, update_method);
                Ok(send_all(requests, done))
            }
            Action::Update { object_id, changes } => {
                if let Some(id) = object_id.as_ref().filter(|_| remembered) {
                    self.identity.remember(op, id)?;
                }
                let requests = self.update_requests(
                    op,
                    object_id.as_deref(),
                    &path,
                    body,
                    changes,
                    update_method,
                );
                Ok(send_all(
                    requests,
                    Applied::Done {
                        action: "updated",
                        id: object_id.clone(),
                    },
                ))
            }
        }
    }

    /// One PATCH per changed item of a [`Shape::QueriedItems`] object, in the body's order,
    /// each carrying the item as the resource declares it.
    fn item_requests(
        &self,
        op: &Operation,
        owner: Option<&str>,
        body: &Value,
        changes: &[crate::live::normalize::Change],
    ) -> Result<Vec<Request>, ApplyError> {
        let Shape::QueriedItems(items) = op.kind.shape else {
            return Ok(Vec::new());
        };
        Ok(item_patches(op, items, owner, body, changes)?
            .into_iter()
            .map(|(id, path, item)| {
                let mut request = self.request(op, "PATCH", path, item);
                request.label = format!("{}/{id}", op.key);
                request.prefer = None;
                request.idempotent = true;
                request
            })
            .collect())
    }

    /// Read the answer to a prepared request (`result`, when it was sent in a `$batch`; else it
    /// is sent now).
    async fn finish(
        &self,
        op: &Operation,
        request: &Request,
        then: Then,
        result: Option<Result<Response, RequestError>>,
    ) -> Result<Applied, ApplyError> {
        match then {
            Then::Finished(done) => {
                let result = match result {
                    Some(result) => result,
                    None => self.send(request).await,
                };
                result.map(|_| done).map_err(ApplyError::request(op.kind))
            }
            Then::FollowedBy(next, done) => {
                let result = match result {
                    Some(result) => result,
                    None => self.send(request).await,
                };
                result.map_err(ApplyError::request(op.kind))?;
                self.send(&next)
                    .await
                    .map(|_| done)
                    .map_err(ApplyError::request(op.kind))
            }
            Then::Created if op.kind.shape != Shape::Collection => {
                let result = match result {
                    Some(result) => result,
                    None => self.send(request).await,
                };
                result
                    .map(|_| Applied::Done {
                        action: "created",
                        id: None,
                    })
                    .map_err(ApplyError::request(op.kind))
            }
            Then::Created => {
                let id = if request.method == "POST" {
                    self.create_once(op, request, result).await?
                } else {
                    // An upsert (PATCH with create-if-missing) is safe to repeat.
                    let result = match result {
                        Some(Err(RequestError::OutcomeUnknown { .. })) | None => {
                            self.send(request).await
                        }
                        Some(result) => result,
                    };
                    let response = result.map_err(ApplyError::request(op.kind))?;
                    match response.body.get("id").and_then(Value::as_str) {
                        Some(id) => id.to_string(),
                        // An upsert that answered 204 (the object existed): look it up; it may
                        // take replication a moment to list it.
                        None => self
                            .find_within(op, self.run.client.policy().reconcile_window)
                            .await?
                            .ok_or_else(|| ApplyError::NotFoundAfterUpsert {
                                path: request.path.clone(),
                                match_key: op.kind.match_key.join(" + "),
                                window: self.run.client.policy().reconcile_window,
                            })?,
                    }
                };
                self.identity.remember(op, &id)?;
                self.created
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(op.key.clone());
                Ok(Applied::Done {
                    action: "created",
                    id: Some(id),
                })
            }
        }
    }

    /// Apply one resource on its own. Reading a create's answer (a reconcile when it was
    /// lost) and writing a member set are boxed: a fleet's futures in flight are mostly the
    /// queried-item PATCHes of `Step::Sequence`, a send each, and inline they would each be
    /// the size of the largest arm (2.8 KB instead of under 1 KB).
    pub(crate) async fn apply_one(&self, op: &Operation, step: Step) -> Applied {
        match step {
            Step::Done(done) => done,
            Step::Send(request, then) => {
                match Box::pin(self.finish(op, &request, then, None)).await {
                    Ok(done) => done,
                    Err(reason) => Applied::Failed(reason),
                }
            }
            Step::Sequence(requests, done) => {
                for request in &requests {
                    if let Err(e) = self.send(request).await {
                        return Applied::Failed(ApplyError::request(op.kind)(e));
                    }
                }
                done
            }
            Step::Members(set, done) => match Box::pin(self.write_members(op, &set)).await {
                Ok(()) => done,
                Err(reason) => Applied::Failed(reason),
            },
        }
    }

    /// Apply resources that became ready together and do not depend on each other: their
    /// requests go out in `$batch` calls (20 each), then each answer is read on its own.
    pub(crate) async fn apply_batch(
        &self,
        items: Vec<(usize, &Operation, Request, Then)>,
    ) -> Vec<(usize, Applied)> {
        // The requests move into one list (not copied: a fleet's batches wait together); they
        // keep only the created id of each answer ([`TenantRun::request`]).
        let (steps, requests): (Vec<_>, Vec<Request>) = items
            .into_iter()
            .map(|(i, op, request, then)| ((i, op, then), request))
            .unzip();
        let results = self
            .run
            .client
            .batch(self.session, &requests, &self.observer)
            .await
            .into_iter()
            .map(|result| result.map(answer_id_only))
            .collect::<Vec<_>>();
        let mut out = Vec::with_capacity(steps.len());
        for (((i, op, then), request), result) in steps.into_iter().zip(requests).zip(results) {
            // Boxed: reading an answer may mean a reconcile (a lookup, another send), a future
            // held only while it is read, not while the batch is on the wire (2.6 -> 1.6 KB).
            let applied = match Box::pin(self.finish(op, &request, then, Some(result))).await {
                Ok(done) => done,
                Err(reason) => Applied::Failed(reason),
            };
            out.push((i, applied));
        }
        out
    }

    /// The requests that update an object: one PATCH or PUT, and for a changed property only
    /// an action changes (the registry's `UPDATE_ACTIONS`), `POST {object}/{action}` with it,
    /// first; the PATCH then carries the other changes, when there are any.
    fn update_requests(
        &self,
        op: &Operation,
        object_id: Option<&str>,
        path: &str,
        body: Value,
        changes: &[crate::live::normalize::Change],
        method: &'static str,
    ) -> Vec<Request> {
        let top = |c: &crate::live::normalize::Change| -> String {
            c.pointer.split('/').nth(1).unwrap_or_default().to_string()
        };
        let mut requests = Vec::new();
        let mut rest: Vec<crate::live::normalize::Change> = Vec::new();
        for change in changes {
            let property = top(change);
            match (
                crate::kinds::update_action(op.kind.name, &property),
                op.kind.shape,
                object_id,
            ) {
                (Some(action), Shape::Collection, Some(id)) => {
                    let value = body.get(&property).cloned().unwrap_or(Value::Null);
                    let target = format!("{}/{id}/{action}", op.kind.path);
                    let mut request =
                        self.request(op, "POST", target, serde_json::json!({ property: value }));
                    // Setting a property to a value is safe to repeat.
                    request.prefer = None;
                    request.idempotent = true;
                    requests.push(request);
                }
                _ => rest.push(change.clone()),
            }
        }
        if requests.is_empty() || !rest.is_empty() {
            requests.push(self.update_request(op, object_id, path, body, &rest, method));
        }
        requests
    }

    fn update_request(
        &self,
        op: &Operation,
        object_id: Option<&str>,
        path: &str,
        body: Value,
        changes: &[crate::live::normalize::Change],
        method: &'static str,
    ) -> Request {
        let target = match (op.kind.shape, object_id) {
            (Shape::Collection, Some(id)) => format!("{}/{id}", op.kind.path),
            _ => path.to_string(),
        };
        let body = if method == "PATCH" {
            patch_body(&body, changes)
        } else {
            body
        };
        let mut request = self.request(op, method, target, body);
        // An update by id never creates.
        request.prefer = None;
        request.idempotent = true;
        request
    }

    /// Delete an orphan (a 404 means it is already gone) and forget it.
    pub(crate) async fn delete_orphan(&self, orphan: &plan::Orphan) -> Result<(), ApplyError> {
        let Some(kind) = orphan.kind.as_deref().and_then(crate::kinds::by_name) else {
            return Err(ApplyError::OrphanKindUnknown {
                key: orphan.key.clone(),
                object_id: orphan.object_id.clone(),
            });
        };
        let request = Request {
            label: orphan.key.clone(),
            method: "DELETE",
            version: kind.api_version,
            path: format!("{}/{}", kind.path, orphan.object_id),
            body: None,
            prefer: None,
            class: kind.throttle,
            idempotent: true,
            references_new_object: false,
            lean: false,
            id_only: false,
            keep_items: None,
        };
        match self
            .run
            .client
            .send(self.session, &request, &self.observer)
            .await
        {
            Ok(_) => {}
            // Already gone.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(ApplyError::request(kind)(e)),
        }
        Ok(self.identity.forget(&orphan.key)?)
    }
}

/// An answer as applying reads it: its status, request id and the created object's `id` (all
/// `TenantRun::finish` looks at). A `$batch` answers up to 20 whole objects at once, and the
/// answers wait while each one's follow-up request is paced; they need not wait whole.
fn answer_id_only(mut response: Response) -> Response {
    response.body = crate::graph::client::id_only(response.body);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_batch_answer_keeps_only_what_applying_reads() {
        let created = Response {
            status: 201,
            body: json!({"id": "g1", "displayName": "Staff", "members": [{"id": "u"}]}),
            request_id: Some("r".into()),
        };
        let kept = answer_id_only(created);
        assert_eq!(
            (kept.status, kept.body, kept.request_id.as_deref()),
            (201, json!({"id": "g1"}), Some("r"))
        );
        let no_content = Response {
            status: 204,
            body: Value::Null,
            request_id: None,
        };
        assert_eq!(answer_id_only(no_content).body, Value::Null);
    }
}
