//! Reading a tenant's live objects for the kinds of its bundle, the input of `plan`: every
//! collection the bundle writes to (all pages), each group by its `uniqueName`, each singleton,
//! fixed member and child by its path, and the set every parent action replaces (a policy's
//! assignments, an app protection policy's apps) whose parent id is known. Reads go out through `$batch` (20 per call).
//!
//! Input: a [`ValidatedBundle`](crate::compile::validate::ValidatedBundle), the tenant's [`IdentityMap`], a [`GraphClient`] session.
//! Output: a [`LiveState`], or the [`RequestError`] of the read that failed.

use crate::compile::ops::Ops;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::compile::bundle::Operation;
use crate::graph::client::{GraphClient, Observer, Request, RequestError, TenantSession};
use crate::graph::lean::KeepItems;
use crate::kinds::{Kind, Shape, ThrottleClass};
use crate::live::plan::{self, Action, IdentityMap, LiveState, PlanInput};

/// Where one read's answer goes.
#[derive(Debug, Clone)]
enum Slot {
    /// All objects of a collection kind (first page; the rest follow `@odata.nextLink`).
    Collection(&'static Kind),
    /// One object of a collection kind, addressed by an alternate key (a group by
    /// `uniqueName`); 404 means there is none.
    Member(&'static Kind),
    /// A singleton, fixed member or child at this path; 404 means absent.
    Path(String),
    /// A queried object ([`Shape::QueriedItems`]): the first item of the answer to this path,
    /// stored under the path; an empty answer means absent. With [`Declared`] items, only
    /// those of its keyed array are kept.
    First(String, Option<Declared>),
    /// The set a parent action replaces (assignments, apps), stored as the action's body
    /// (`{"assignments": [...]}`) at the action's path.
    Assignments(String, &'static Kind),
}

/// What a read keeps of a queried object's keyed array (a PIM policy's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The items the bundle declares: plan, deploy and drift compare no other (a live item the
    /// bundle does not declare is never compared), while a PIM policy answers with every one
    /// of its rules (6.7 KB of JSON per policy from the simulator, where the shipped baseline
    /// declares 3 or 4 rules), for each of a fleet's tenants in flight.
    Declared,
    /// The declared items, and objects parsed without their `null` members
    /// ([`crate::graph::lean`]): for runs that only compare (plan, drift), where nothing read
    /// is written back. A deploy keeps the nulls: its before-images are what `rollback` sends.
    Compared,
    /// Every item: snapshot, export and evidence look at what the bundle does not declare.
    Whole,
}

impl Keep {
    /// Whether reads are parsed without `null` members.
    fn lean(self) -> bool {
        self == Keep::Compared
    }
}

/// The items of a queried object's keyed array that the bundle declares.
#[derive(Debug, Clone)]
struct Declared {
    /// JSON pointer of the array in the live object.
    array: &'static str,
    /// The property that identifies an item.
    item_key: &'static str,
    /// The keys the bundle's body declares.
    keys: Vec<String>,
}

impl Declared {
    /// The declared keys of `op`'s keyed array (its body, or its text in `bodies`).
    fn of(
        op: &Operation,
        body_text: Option<&str>,
        array: &'static str,
        item_key: &'static str,
    ) -> Option<Declared> {
        let parsed;
        let body = match body_text {
            Some(text) if op.body.is_null() => {
                parsed = serde_json::from_str::<Value>(text).ok()?;
                &parsed
            }
            _ => &op.body,
        };
        Declared::from_body(body, array, item_key)
    }

    /// The declared keys of the keyed array at `array` in `body`.
    fn from_body(body: &Value, array: &'static str, item_key: &'static str) -> Option<Declared> {
        let keys = body
            .pointer(array)?
            .as_array()?
            .iter()
            .filter_map(|item| item.get(item_key).and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        Some(Declared {
            array,
            item_key,
            keys,
        })
    }

    /// The same items kept while the answer (`{"value": [object]}`) is parsed, so that the
    /// others are never built; `None` when the array's pointer has escapes.
    fn while_parsing(&self) -> Option<std::sync::Arc<KeepItems>> {
        let mut path = vec!["value", "*"];
        for segment in self.array.strip_prefix('/')?.split('/') {
            if segment.contains('~') {
                return None;
            }
            path.push(segment);
        }
        Some(std::sync::Arc::new(KeepItems {
            path,
            item_key: self.item_key,
            keys: self.keys.clone(),
        }))
    }

    /// Drop the items of `object`'s array the bundle does not declare.
    fn keep_in(&self, object: &mut Value) {
        if let Some(items) = object.pointer_mut(self.array).and_then(Value::as_array_mut) {
            items.retain(|item| {
                item.get(self.item_key)
                    .and_then(Value::as_str)
                    .is_some_and(|key| self.keys.iter().any(|k| k == key))
            });
        }
    }
}

/// How far into the wait for its last Conditional Access slot a compare-only read sends the
/// reads that are not paced (a fraction of the limit's window): late enough that a tenant holds
/// their answers for a moment, early enough that the service has answered them by the slot.
const UNPACED_AFTER: f64 = 0.6;

/// What a read made only to compare (plan, drift) keeps of a collection's objects: whole, the
/// objects an operation of the bundle may plan against (its managed id, or its match key);
/// of every other object, its id and display name, which is all drift lists of an unmanaged
/// object. A tenant that declares one beta Conditional Access policy lists every policy in
/// beta shape as well (20 KB of JSON on the shipped CISA baseline), and a fleet in flight holds
/// its answers through the Conditional Access seconds.
struct Candidates<'a> {
    operations: Ops<'a>,
    identity: &'a IdentityMap,
}

impl Candidates<'_> {
    /// Whether an operation of `kind` may plan against `object`.
    fn wanted(&self, kind: &Kind, object: &Value) -> bool {
        let id = object.get("id").and_then(Value::as_str);
        self.operations
            .iter()
            .filter(|op| op.kind.name == kind.name)
            .any(|op| {
                let managed = self.identity.objects.get(&op.key);
                managed.is_some_and(|m| id.is_some_and(|id| id.eq_ignore_ascii_case(m)))
                    || plan::matches_key(op, object)
            })
    }

    /// Reduce the objects of `kind` no operation may plan against to their id and name.
    fn trim(&self, kind: &Kind, objects: &mut [Value]) {
        for object in objects {
            if !self.wanted(kind, object) {
                *object = unmanaged_skeleton(object);
            }
        }
    }
}

/// An object's `id` and `displayName`, nothing else.
fn unmanaged_skeleton(object: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    for key in ["id", "displayName"] {
        if let Some(value) = object.get(key) {
            kept.insert(key.to_string(), value.clone());
        }
    }
    Value::Object(kept)
}

fn read_request(label: String, kind: &'static Kind, path: String) -> Request {
    Request::get(label, kind.api_version, path, kind.throttle)
}

/// The collection path of a kind (its registry path; collection kinds have no parameters),
/// with the kind's `$expand` when Graph leaves part of its objects out of a plain GET.
pub fn collection_path(kind: &Kind) -> String {
    with_read_expand(kind, kind.path)
}

/// `path` with `kind`'s read `$expand` (percent-encoded) appended, if it has one.
pub fn with_read_expand(kind: &Kind, path: &str) -> String {
    match kind.read_expand {
        Some(expand) => {
            let separator = if path.contains('?') { '&' } else { '?' };
            let encoded: String = form_urlencoded::byte_serialize(expand.as_bytes()).collect();
            format!("{path}{separator}$expand={encoded}")
        }
        None => path.to_string(),
    }
}

/// Which of a tenant's reads to make: Conditional Access's, which the service paces at one per
/// second, or the others. A deploy makes the others only once the paced ones are answered: a
/// fleet reading at once would otherwise hold a thousand tenants' unsent requests through
/// those seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Conditional Access reads.
    Paced,
    /// Every other read.
    Unpaced,
    /// Both.
    All,
}

impl Class {
    /// Whether reads of `kind` (whose requests carry its throttle class) are of this class.
    fn includes(self, kind: &Kind) -> bool {
        let paced = kind.throttle == ThrottleClass::ConditionalAccess;
        match self {
            Class::Paced => paced,
            Class::Unpaced => !paced,
            Class::All => true,
        }
    }
}

/// Reads of `class` for the objects that exist before anything is created.
fn first_reads(
    operations: Ops<'_>,
    bodies: Option<&[std::sync::Arc<str>]>,
    keep: Keep,
    class: Class,
) -> Vec<(Slot, Request)> {
    let mut reads = Vec::new();
    let mut listed: Vec<&str> = Vec::new();
    for (index, op) in operations.iter().enumerate() {
        let kind = op.kind;
        if !class.includes(kind) {
            continue;
        }
        match kind.shape {
            Shape::Collection if kind.name == "group" => reads.push((
                Slot::Member(kind),
                read_request(format!("read:{}", op.key), kind, op.path.clone()),
            )),
            Shape::Collection => {
                if !listed.contains(&kind.name) {
                    listed.push(kind.name);
                    reads.push((
                        Slot::Collection(kind),
                        read_request(format!("read:{}", kind.name), kind, collection_path(kind)),
                    ));
                }
            }
            Shape::Singleton | Shape::FixedMember | Shape::Child => reads.push((
                Slot::Path(op.path.clone()),
                read_request(
                    format!("read:{}", op.key),
                    kind,
                    with_read_expand(kind, &op.path),
                ),
            )),
            Shape::QueriedItems(items) => reads.push((
                Slot::First(
                    op.path.clone(),
                    match keep {
                        Keep::Declared | Keep::Compared => Declared::of(
                            op,
                            bodies.and_then(|b| b.get(index)).map(|t| &**t),
                            items.array,
                            items.item_key,
                        ),
                        Keep::Whole => None,
                    },
                ),
                read_request(format!("read:{}", op.key), kind, op.path.clone()),
            )),
            Shape::ParentAction => {}
        }
    }
    reads
}

/// Order a compare-only read's paced reads as [`read`] sends them: the collection the bundle
/// declares most objects of (the largest answer) last, so that it is planned as soon as it is
/// read instead of held through the others' seconds.
fn in_paced_order(paced: &mut [(Slot, Request)], operations: Ops<'_>) {
    paced.sort_by_key(|(slot, _)| match slot {
        Slot::Collection(kind) => operations
            .iter()
            .filter(|op| op.kind.name == kind.name)
            .count(),
        _ => 0,
    });
}

/// The first Conditional Access read a compare-only [`read`] (plan, drift) of `operations`
/// sends, as it sends it; `None` when it sends none. A fleet run sends it ahead
/// ([`EarlyRead`]) while the rest of the project validates.
pub fn first_paced_read(operations: &[Operation]) -> Option<Request> {
    let mut paced = first_reads(operations.into(), None, Keep::Compared, Class::Paced);
    in_paced_order(&mut paced, operations.into());
    paced.into_iter().next().map(|(_, mut request)| {
        request.lean = Keep::Compared.lean();
        request
    })
}

/// A tenant's first Conditional Access read ([`first_paced_read`]), sent before [`read`] was
/// called: the path it was sent to and where its answer arrives. [`read`] takes the answer in
/// place of sending that read; an answer that never comes (its task ended) is read again.
#[derive(Debug)]
pub struct EarlyRead {
    /// The request's path.
    pub path: String,
    /// Its answer.
    pub answer:
        tokio::sync::oneshot::Receiver<Result<crate::graph::client::Response, RequestError>>,
}

/// The first reads [`read`] sends for `operations`, as the journal records them (label, method,
/// path): what `plan` and `deploy` ask a tenant before anything is written. `bench report`
/// writes its generated run history from these, so its journals carry the reads a real run's do.
pub fn first_read_requests(operations: &[Operation]) -> Vec<Request> {
    first_reads(operations.into(), None, Keep::Whole, Class::All)
        .into_iter()
        .map(|(_, request)| request)
        .collect()
}

/// The throttle class of every read [`read`] makes for `operations`: the first reads, and with
/// `assignments_known` (every policy's id known, as on a tenant already deployed) one
/// assignment read per `/assign` operation. Pages past the first are not counted. For the
/// theoretical minimum of a plan or deploy (`bench deploy`).
pub fn read_classes(operations: &[Operation], assignments_known: bool) -> Vec<ThrottleClass> {
    let mut classes: Vec<ThrottleClass> =
        first_reads(operations.into(), None, Keep::Whole, Class::All)
            .into_iter()
            .map(|(_, request)| request.class)
            .collect();
    if assignments_known {
        classes.extend(
            operations
                .iter()
                .filter(|op| op.kind.shape == Shape::ParentAction && op.parent.is_some())
                .map(|op| op.kind.throttle),
        );
    }
    classes
}

/// The listing path (`/assignments`, `/apps`) of a parent action whose parent id is known.
fn assignment_read(op: &Operation, ids: &BTreeMap<String, String>) -> Option<(Slot, Request)> {
    let parent = op.parent.as_ref()?;
    let id = ids.get(parent)?;
    let parent_kind = crate::kinds::by_name(op.kind.parent_kind?)?;
    let assign_path = resolved_path(op, ids)?;
    let path = format!("{}/{id}/{}", parent_kind.path, op.kind.action_listing()?);
    Some((
        Slot::Assignments(assign_path, op.kind),
        read_request(format!("read:{}", op.key), op.kind, path),
    ))
}

/// The assignment-set reads of `class` of `operations` whose parent ids `ids` knows.
fn assignment_reads(
    operations: Ops<'_>,
    ids: &BTreeMap<String, String>,
    class: Class,
) -> Vec<(Slot, Request)> {
    operations
        .iter()
        .filter(|op| op.kind.shape == Shape::ParentAction && class.includes(op.kind))
        .filter_map(|op| assignment_read(op, ids))
        .collect()
}

/// Where an assignment-set read's answer is stored.
fn slot_path(slot: &Slot) -> Option<String> {
    match slot {
        Slot::Assignments(path, _) => Some(path.clone()),
        _ => None,
    }
}

/// An operation's path with its references replaced by known ids; `None` while one is unknown.
pub fn resolved_path(op: &Operation, ids: &BTreeMap<String, String>) -> Option<String> {
    crate::compile::bundle::resolve_refs_in_text(&op.path, &mut |key| ids.get(key).cloned()).ok()
}

/// The ids a plan knows: managed, adopted, or found unchanged.
pub fn known_ids(plan: &plan::TenantPlan, identity: &IdentityMap) -> BTreeMap<String, String> {
    let mut ids = identity.objects.clone();
    for r in &plan.resources {
        let id = match &r.action {
            Action::Update { object_id, .. } | Action::NoOp { object_id } => object_id.clone(),
            Action::Adopt { object_id, .. } => Some(object_id.clone()),
            Action::Create | Action::Ambiguous { .. } | Action::Missing { .. } => None,
        };
        if let Some(id) = id {
            ids.insert(r.key.clone(), id);
        }
    }
    ids
}

/// Properties of a listed set member that the service sets (ids, where an assignment came
/// from, an app's version, the member's own type); the action never takes them.
const SERVICE_SET_MEMBER_PROPERTIES: &[&str] =
    &["id", "source", "sourceId", "version", "@odata.type"];

/// Keep what the action takes from each live member of the set (an assignment's target and
/// intent, an app's identifier), wrapped as the action's body (`{"assignments": [...]}`). A
/// target's filter type `none` without a filter is what Graph answers for "no filter", and is
/// left out like the absent filter it stands for.
pub(crate) fn assignment_targets(body: &Value, kind: &Kind) -> Value {
    let parameter = kind.schema.action_parameter.unwrap_or("assignments");
    let items = body
        .get("value")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|a| {
                    let mut item = a.clone();
                    if let Value::Object(map) = &mut item {
                        for property in SERVICE_SET_MEMBER_PROPERTIES {
                            map.remove(*property);
                        }
                        if let Some(Value::Object(target)) = map.get_mut("target") {
                            let unfiltered = target
                                .get("deviceAndAppManagementAssignmentFilterId")
                                .is_none_or(Value::is_null);
                            let none = target
                                .get("deviceAndAppManagementAssignmentFilterType")
                                .and_then(Value::as_str)
                                == Some("none");
                            if unfiltered && none {
                                target.remove("deviceAndAppManagementAssignmentFilterType");
                            }
                        }
                    }
                    item
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = serde_json::Map::new();
    out.insert(parameter.to_string(), Value::Array(items));
    Value::Object(out)
}

async fn run_reads(
    client: &GraphClient,
    session: &TenantSession,
    reads: Vec<(Slot, Request)>,
    live: &mut LiveState,
    observer: &dyn Observer,
    candidates: Option<&Candidates<'_>>,
) -> Result<(), RequestError> {
    let (slots, requests): (Vec<Slot>, Vec<Request>) = reads.into_iter().unzip();
    let results = client.batch(session, &requests, observer).await;
    store_answers(
        client, session, slots, &requests, results, live, observer, candidates,
    )
    .await
}

/// Put the answers to `requests` where their slots say (following a collection's pages).
#[allow(clippy::too_many_arguments)]
async fn store_answers(
    client: &GraphClient,
    session: &TenantSession,
    slots: Vec<Slot>,
    requests: &[Request],
    results: Vec<Result<crate::graph::client::Response, RequestError>>,
    live: &mut LiveState,
    observer: &dyn Observer,
    candidates: Option<&Candidates<'_>>,
) -> Result<(), RequestError> {
    for ((slot, request), result) in slots.into_iter().zip(requests).zip(results) {
        let response = match result {
            Ok(response) => response,
            Err(e) if e.status() == Some(404) && !matches!(slot, Slot::Collection(_)) => continue,
            Err(e) => return Err(e),
        };
        match slot {
            Slot::Collection(kind) => {
                let mut page = response.body;
                loop {
                    let next = page
                        .get("@odata.nextLink")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    if let Some(Value::Array(mut items)) = page.get_mut("value").map(Value::take) {
                        if let Some(candidates) = candidates {
                            candidates.trim(kind, &mut items);
                        }
                        live.collections.entry(kind.name).or_default().extend(items);
                    }
                    let Some(next) = next else { break };
                    let mut more =
                        Request::get(request.label.clone(), kind.api_version, next, kind.throttle);
                    more.lean = request.lean;
                    page = client.send(session, &more, observer).await?.body;
                }
                live.collections.entry(kind.name).or_default();
            }
            Slot::Member(kind) => {
                live.collections
                    .entry(kind.name)
                    .or_default()
                    .push(response.body);
            }
            Slot::Path(path) => {
                live.by_path.insert(path, response.body);
            }
            Slot::First(path, declared) => {
                let mut body = response.body;
                let first = body
                    .get_mut("value")
                    .and_then(Value::as_array_mut)
                    .filter(|items| !items.is_empty())
                    .map(|items| items.swap_remove(0));
                if let Some(mut object) = first {
                    if let Some(declared) = &declared {
                        declared.keep_in(&mut object);
                    }
                    live.by_path.insert(path, object);
                }
            }
            Slot::Assignments(path, kind) => {
                live.by_path
                    .insert(path, assignment_targets(&response.body, kind));
            }
        }
    }
    Ok(())
}

/// One compare-only read, answered and trimmed on its own: with the answer of `early` when
/// that is this read sent ahead, else sent now.
async fn read_one(
    client: &GraphClient,
    session: &TenantSession,
    read: (Slot, Request),
    live: &mut LiveState,
    observer: &dyn Observer,
    candidates: &Candidates<'_>,
    early: Option<EarlyRead>,
) -> Result<(), RequestError> {
    if let Some(early) = early.filter(|e| e.path == read.1.path)
        && let Ok(answer) = early.answer.await
    {
        let (slot, request) = read;
        return store_answers(
            client,
            session,
            vec![slot],
            std::slice::from_ref(&request),
            vec![answer],
            live,
            observer,
            Some(candidates),
        )
        .await;
    }
    run_reads(
        client,
        session,
        vec![read],
        live,
        observer,
        Some(candidates),
    )
    .await
}

/// Read what the tenant has for the bundle's kinds.
pub async fn read(
    client: &GraphClient,
    session: &TenantSession,
    bundle: &PlanInput<'_>,
    identity: &IdentityMap,
    keep: Keep,
    observer: &dyn Observer,
    early: Option<EarlyRead>,
) -> Result<LiveState, RequestError> {
    let mut live = LiveState::default();
    // Assignment sets hang off policies. A policy tenantform deployed has its id in the
    // identity map, so its set is read with the first reads (one round trip, and a tenant does
    // not hold its live objects while a second one is answered); the rest once the policies
    // are matched.
    let reads_of = |class: Class| {
        let mut reads = first_reads(bundle.operations, bundle.bodies, keep, class);
        reads.extend(assignment_reads(
            bundle.operations,
            &identity.objects,
            class,
        ));
        for (slot, request) in &mut reads {
            request.lean = keep.lean();
            if let Slot::First(_, Some(declared)) = slot
                && keep.lean()
            {
                request.keep_items = declared.while_parsing();
            }
        }
        reads
    };
    let read_early: Vec<String> =
        assignment_reads(bundle.operations, &identity.objects, Class::All)
            .iter()
            .filter_map(|(slot, _)| slot_path(slot))
            .collect();
    if keep == Keep::Compared {
        // A run that only compares reads everything that is not paced while the Conditional
        // Access reads wait for their slots (one per second), so that a fleet's answers are
        // not all made and parsed in the same moment after the last slot. A deploy keeps them
        // for last, so that its whole answers are not held that long.
        let (mut paced, unpaced) = (reads_of(Class::Paced), reads_of(Class::Unpaced));
        let candidates = Candidates {
            operations: bundle.operations,
            identity,
        };
        // The paced reads are answered a second apart and each is trimmed as it comes, the
        // collection the bundle declares most objects of (the largest answer) last, so that
        // it is planned as soon as it is read instead of held through the others' seconds.
        in_paced_order(&mut paced, bundle.operations);
        // The unpaced reads go out shortly before the last paced one: the service answers
        // them while the tenant waits for its last slot, and the tenant holds their answers
        // for that moment, not through every Conditional Access second (a fleet in flight
        // holds a thousand tenants' answers at once). Sent with the last paced read, their
        // answers would all be made and parsed in the same moment after the last slot.
        // The first paced read may have been sent ahead ([`EarlyRead`]): it is the first.
        let last = paced.pop();
        let mut paced_live = LiveState::default();
        let waited = !paced.is_empty();
        let trim = &candidates;
        let mut early = early;
        for read in paced {
            read_one(
                client,
                session,
                read,
                &mut paced_live,
                observer,
                trim,
                early.take(),
            )
            .await?;
        }
        let lead = if waited && last.is_some() {
            client.conditional_access_window().mul_f64(UNPACED_AFTER)
        } else {
            std::time::Duration::ZERO
        };
        let unpaced_reads = async {
            if !lead.is_zero() {
                client.timing().sleep(lead).await;
            }
            run_reads(
                client,
                session,
                unpaced,
                &mut live,
                observer,
                Some(&candidates),
            )
            .await
        };
        let last_read = async {
            match last {
                Some(read) => {
                    read_one(
                        client,
                        session,
                        read,
                        &mut paced_live,
                        observer,
                        trim,
                        early,
                    )
                    .await
                }
                None => Ok(()),
            }
        };
        // Boxed: the two reads side by side are 4.2 KB, and inline they would size the read of
        // every deploy too (one read at a time), a thousand tenants reading at once.
        let (unpaced_done, paced_done) =
            Box::pin(futures_util::future::join(unpaced_reads, last_read)).await;
        unpaced_done?;
        paced_done?;
        for (kind, objects) in paced_live.collections {
            live.collections.entry(kind).or_default().extend(objects);
        }
        live.by_path.extend(paced_live.by_path);
    } else {
        // A deploy parses its reads whole (nulls kept for before-images): it sends what is not
        // paced once the Conditional Access reads are answered, so that a tenant goes from
        // parsing those answers to planning and dropping them without waiting in between. The
        // envelope fits in the second before the tenant's first Conditional Access write may
        // go, and a fleet does not hold a thousand tenants' parsed answers while the service
        // works through their paced reads. The other reads are made only then, not held unsent
        // through those seconds.
        for class in [Class::Paced, Class::Unpaced] {
            let reads = reads_of(class);
            if !reads.is_empty() {
                run_reads(client, session, reads, &mut live, observer, None).await?;
            }
        }
    }
    let ids = plan::matched_ids(bundle, &live, identity);
    let second: Vec<(Slot, Request)> = assignment_reads(bundle.operations, &ids, Class::All)
        .into_iter()
        .filter(|(slot, _)| slot_path(slot).is_none_or(|path| !read_early.contains(&path)))
        .map(|(slot, mut request)| {
            request.lean = keep.lean();
            (slot, request)
        })
        .collect();
    if !second.is_empty() {
        let candidates = Candidates {
            operations: bundle.operations,
            identity,
        };
        let candidates = (keep == Keep::Compared).then_some(&candidates);
        run_reads(client, session, second, &mut live, observer, candidates).await?;
    }
    Ok(live)
}

/// Look up the object an operation would create, by its match key (to reconcile a create whose
/// outcome is unknown). Returns its id when exactly one object matches.
pub async fn find_by_match_key(
    client: &GraphClient,
    session: &TenantSession,
    op: &Operation,
    observer: &dyn Observer,
) -> Result<Option<String>, RequestError> {
    let mut live = LiveState::default();
    let reads = if op.kind.name == "group" {
        vec![(
            Slot::Member(op.kind),
            read_request(format!("reconcile:{}", op.key), op.kind, op.path.clone()),
        )]
    } else {
        vec![(
            Slot::Collection(op.kind),
            read_request(
                format!("reconcile:{}", op.key),
                op.kind,
                collection_path(op.kind),
            ),
        )]
    };
    run_reads(client, session, reads, &mut live, observer, None).await?;
    let candidates = live
        .collections
        .get(op.kind.name)
        .map_or(&[][..], Vec::as_slice);
    let matching: Vec<&Value> = candidates
        .iter()
        .filter(|o| plan::matches_key(op, o))
        .collect();
    Ok(match matching.as_slice() {
        [one] => one.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(name: &str) -> &'static Kind {
        crate::kinds::by_name(name).unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn a_compare_only_read_keeps_whole_what_the_bundle_may_plan_against_and_names_the_rest() {
        let bundle = plan::tests::minimal_bundle();
        let (live, identity) = plan::tests::deployed(&bundle);
        let operations = &bundle.bundle().operations;
        let candidates = Candidates {
            operations: operations.into(),
            identity: &identity,
        };
        let policy = kind("conditionalAccessPolicy");
        let managed = live.collections["conditionalAccessPolicy"][0].clone();
        let mut objects = vec![
            managed.clone(),
            // Not managed, but its display name is the bundle's: an adoption (or an
            // ambiguity) plan must see whole.
            json!({"id": "adopt-me", "displayName": managed["displayName"].as_str()
                .expect("name").to_uppercase(), "state": "enabled",
                "conditions": {"users": {"includeUsers": ["All"]}}}),
            json!({"id": "someone-elses", "displayName": "Legacy MFA",
                "state": "enabled", "conditions": {"users": {"includeUsers": ["All"]}},
                "createdDateTime": "2020-01-01T00:00:00Z"}),
            json!({"id": "no-name", "state": "disabled"}),
        ];
        candidates.trim(policy, &mut objects);
        assert_eq!(objects[0], managed);
        assert_eq!(objects[1]["state"], "enabled");
        assert_eq!(
            objects[2],
            json!({"id": "someone-elses", "displayName": "Legacy MFA"})
        );
        assert_eq!(objects[3], json!({"id": "no-name"}));

        // The named location's id is managed, but by an operation of another kind: a policy
        // listed under that id is not one this bundle's policies may plan against.
        let location_id = identity.objects["allowed-countries"].clone();
        let mut listed = vec![json!({"id": location_id.to_uppercase(), "displayName": "x",
            "state": "enabled"})];
        candidates.trim(policy, &mut listed);
        assert_eq!(
            listed[0],
            json!({"id": location_id.to_uppercase(), "displayName": "x"})
        );
        let mut located = vec![json!({"id": location_id.to_uppercase(), "displayName": "x",
            "countriesAndRegions": ["US"]})];
        candidates.trim(kind("namedLocation"), &mut located);
        assert_eq!(located[0]["countriesAndRegions"], json!(["US"]));
    }

    #[test]
    fn a_queried_object_keeps_only_the_items_the_bundle_declares() {
        let body = json!({"policy": {"rules": [
            {"id": "Approval_EndUser_Assignment", "isEnabled": true},
            {"id": "Notification_Admin_Admin_Assignment"}
        ]}});
        let declared = Declared::from_body(&body, "/policy/rules", "id").expect("declared");
        let mut live = json!({"policyId": "p", "policy": {"id": "p", "rules": [
            {"id": "Expiration_Admin_Eligibility", "maximumDuration": "P365D"},
            {"id": "Approval_EndUser_Assignment", "isEnabled": false},
            {"id": "Enablement_EndUser_Assignment"},
            {"id": "Notification_Admin_Admin_Assignment"},
            {"noId": true}
        ]}});
        declared.keep_in(&mut live);
        assert_eq!(
            live,
            json!({"policyId": "p", "policy": {"id": "p", "rules": [
                {"id": "Approval_EndUser_Assignment", "isEnabled": false},
                {"id": "Notification_Admin_Admin_Assignment"}
            ]}})
        );
        // A body without the array declares nothing to keep by (the read keeps everything).
        assert!(Declared::from_body(&json!({}), "/policy/rules", "id").is_none());
        // An object without the array is left as it is.
        let mut other = json!({"policyId": "p"});
        declared.keep_in(&mut other);
        assert_eq!(other, json!({"policyId": "p"}));
    }

    #[test]
    fn assignments_keep_only_what_assign_takes() {
        let compliance = kind("deviceCompliancePolicyAssignment");
        let body = json!({"value": [
            {"id": "a1", "source": "direct", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g", "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none"}}
        ]});
        assert_eq!(
            assignment_targets(&body, compliance),
            json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g", "deviceAndAppManagementAssignmentFilterId": null}}]})
        );
        assert_eq!(
            assignment_targets(&json!({}), compliance),
            json!({"assignments": []})
        );
    }

    #[test]
    fn app_assignments_keep_their_intent_and_protected_apps_their_identifier() {
        let body = json!({"value": [{
            "@odata.type": "#microsoft.graph.mobileAppAssignment", "id": "x", "intent": "required",
            "target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": "f", "deviceAndAppManagementAssignmentFilterType": "include"}
        }]});
        assert_eq!(
            assignment_targets(&body, kind("mobileAppAssignment")),
            json!({"mobileAppAssignments": [{"intent": "required", "target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": "f", "deviceAndAppManagementAssignmentFilterType": "include"}}]})
        );
        let apps = json!({"value": [{"id": "com.microsoft.msedge.ios", "version": "-1", "mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "com.microsoft.msedge"}}]});
        assert_eq!(
            assignment_targets(&apps, kind("iosManagedAppProtectionApps")),
            json!({"apps": [{"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "com.microsoft.msedge"}}]})
        );
    }

    #[test]
    fn a_collection_is_listed_once_and_groups_are_read_by_unique_name() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let reads = first_reads(
            (&bundle.bundle().operations).into(),
            None,
            Keep::Whole,
            Class::All,
        );
        let paths: Vec<&str> = reads.iter().map(|(_, r)| r.path.as_str()).collect();
        let unique: std::collections::BTreeSet<&str> = paths.iter().copied().collect();
        assert_eq!(unique.len(), paths.len(), "{paths:?}");
        assert!(reads.iter().all(|(_, r)| r.method == "GET"));
        for (slot, request) in &reads {
            if let Slot::Member(kind) = slot {
                assert_eq!(kind.name, "group");
                assert!(
                    request.path.starts_with("/groups(uniqueName="),
                    "{}",
                    request.path
                );
            }
        }
    }

    #[test]
    fn compliance_policies_are_read_with_their_scheduled_actions_expanded() {
        let compliance = crate::kinds::by_name("deviceCompliancePolicy").expect("kind");
        assert_eq!(
            collection_path(compliance),
            "/deviceManagement/deviceCompliancePolicies?$expand=scheduledActionsForRule%28%24expand%3DscheduledActionConfigurations%29"
        );
        assert!(with_read_expand(compliance, "/x?$top=5").starts_with("/x?$top=5&$expand="));
        let ca = crate::kinds::by_name("conditionalAccessPolicy").expect("kind");
        assert_eq!(collection_path(ca), ca.path);
    }

    #[test]
    fn a_path_resolves_only_when_every_id_is_known() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let mut op = bundle.bundle().operations[0].clone();
        op.path =
            "/deviceManagement/deviceCompliancePolicies/${ref:compliance-policy:win}/assign".into();
        assert_eq!(resolved_path(&op, &BTreeMap::new()), None);
        let ids = BTreeMap::from([("win".to_string(), "id-9".to_string())]);
        assert_eq!(
            resolved_path(&op, &ids).as_deref(),
            Some("/deviceManagement/deviceCompliancePolicies/id-9/assign")
        );
    }
}
