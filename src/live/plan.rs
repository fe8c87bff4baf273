//! Stage 5, `plan`: compare a tenant's validated bundle with what the tenant has, and say per
//! resource what deploy would do: create, update (with a readable property diff), leave alone,
//! adopt (exists, unmanaged, matches by key), or report an orphan (tenantform created it, the
//! baseline no longer has it). Pure: the live objects are read by the Graph client and passed
//! in, so the same code serves plan, drift and post-deploy verification.
//!
//! Input: a [`ValidatedBundle`], the tenant's [`LiveState`] and its [`IdentityMap`]. Output: a
//! [`TenantPlan`] with a fingerprint of the live state it saw (deploy refuses a plan whose tenant
//! changed since).

use crate::compile::ops::Ops;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;
use crate::compile::bundle::Operation;
use crate::compile::validate::ValidatedBundle;
use crate::kinds::Shape;
use crate::live::desired::{self, Desired, DesiredCache};
use crate::live::names::ObjectNames;
use crate::live::normalize::Change;
use crate::live::risk::{self, Risk};

/// Logical key → object id, per tenant (`DIR/.tenantform/state/<tenant-id>.json`): what
/// tenantform created or adopted, so later runs update the same object and never duplicate it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityMap {
    /// Resource key → object id.
    pub objects: BTreeMap<String, String>,
    /// Resource key → kind name (what `deploy --prune` needs to delete an orphan).
    #[serde(default)]
    pub kinds: BTreeMap<String, String>,
    /// Resource key → hash of the body the last deploy brought the object to
    /// ([`PlanInput::body_hash`]). A managed resource whose body still hashes the same but whose
    /// live object differs was changed outside tenantform: drift, not a baseline change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied: BTreeMap<String, String>,
}

/// What the tenant has, as read from Graph for the bundle's kinds.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Objects of collection kinds, by kind name.
    pub collections: BTreeMap<&'static str, Vec<Value>>,
    /// Objects addressed by a path (singletons, fixed members, children, assignment sets), by
    /// the path as compiled (`/policies/authorizationPolicy`); absent when the path answered 404.
    pub by_path: BTreeMap<String, Value>,
}

/// What deploy would do with one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Create it.
    Create,
    /// Change these properties of the object.
    Update {
        /// Object id (for collection kinds).
        object_id: Option<String>,
        /// Property changes.
        changes: Vec<Change>,
    },
    /// It already is what the bundle says.
    NoOp {
        /// Object id (for collection kinds).
        object_id: Option<String>,
    },
    /// An object tenantform did not create matches the key: take it over (and change these
    /// properties).
    Adopt {
        /// Object id.
        object_id: String,
        /// Property changes.
        changes: Vec<Change>,
    },
    /// More than one object matches the key: deploy refuses to guess (it never duplicates).
    Ambiguous {
        /// Ids of the matching objects.
        object_ids: Vec<String>,
    },
    /// The object must already exist (the kind never creates: a domain, a role's PIM policy)
    /// and the tenant has none: an error of this resource, which deploy does not apply.
    Missing {
        /// What is missing, naming it.
        reason: String,
    },
}

/// One resource's line in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedResource {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: &'static str,
    /// What would happen.
    #[serde(flatten)]
    pub action: Action,
    /// `sha256:` of the live object the plan saw for it (none when it saw none): `deploy
    /// --plan` names the resources whose object changed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_hash: Option<String>,
}

/// An object tenantform manages that the bundle no longer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphan {
    /// Its former resource key.
    pub key: String,
    /// Object id.
    pub object_id: String,
    /// Its kind, when the identity map recorded it.
    pub kind: Option<String>,
}

/// The plan for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantPlan {
    /// Tenant id.
    pub tenant: String,
    /// The bundle it was made from.
    pub bundle_hash: String,
    /// `sha256:` of the normalized live objects it saw; empty when the run did not ask for
    /// fingerprints ([`PlanInput::fingerprints`]).
    pub live_fingerprint: String,
    /// Per resource, in the bundle's order.
    pub resources: Vec<PlannedResource>,
    /// Managed objects the bundle no longer has (deleted only with `deploy --prune`).
    pub orphans: Vec<Orphan>,
    /// The project's names for the object ids the plan knows (`group:emergency-access`).
    pub names: ObjectNames,
    /// Keys of the updates that undo a change made outside tenantform (drift): the baseline
    /// did not change since the last deploy brought the object to it, the tenant did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<String>,
    /// Changes that can lock people out, for a reviewer to read first ([`crate::live::risk`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
}

impl TenantPlan {
    /// True when deploy would change nothing (orphans are reported, not changed).
    pub fn is_empty(&self) -> bool {
        self.resources
            .iter()
            .all(|r| matches!(r.action, Action::NoOp { .. }))
    }

    /// Counts: (create, update, adopt, no-op, ambiguous).
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0, 0);
        for r in &self.resources {
            match r.action {
                Action::Create => c.0 += 1,
                Action::Update { .. } => c.1 += 1,
                Action::Adopt { .. } => c.2 += 1,
                Action::NoOp { .. } => c.3 += 1,
                Action::Ambiguous { .. } | Action::Missing { .. } => c.4 += 1,
            }
        }
        c
    }
}

/// The text a changed value shows when its real value is known only after apply (a reference
/// to an object this deploy creates).
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// Replace each reference placeholder with the referenced object's id where it is known; where
/// it is not (the object is created by this deploy), with [`KNOWN_AFTER_APPLY`].
fn resolve_refs(value: &Value, ids: &BTreeMap<String, String>) -> Value {
    let mut id_of = |key: &str| {
        Some(
            ids.get(key)
                .map_or(KNOWN_AFTER_APPLY, String::as_str)
                .to_string(),
        )
    };
    crate::compile::bundle::resolve_refs_in_value(value, &mut id_of)
        .unwrap_or_else(|_| value.clone())
}

/// Why a resource whose object must exist has none, in words that name it.
fn missing_reason(op: &Operation) -> String {
    let named = op
        .match_values
        .iter()
        .map(|(_, v)| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect::<Vec<_>>()
        .join(" ");
    let how = match op.kind.shape {
        Shape::QueriedItems(_) => "the query for it answered no item",
        _ => "reading it answered 404",
    };
    format!(
        "no {kind} {named} in the tenant ({how}); tenantform never creates a {kind}: create it in the tenant first, or remove this resource",
        kind = op.kind.name
    )
}

fn object_id(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(str::to_string)
}

/// True when a live object matches the operation's match key (display names compare without
/// case, `@odata.type` with or without its `#`).
pub fn matches_key(op: &Operation, live: &Value) -> bool {
    !op.match_values.is_empty()
        && op.match_values.iter().all(|(k, want)| {
            let have = live.get(k);
            match (k.as_str(), want, have) {
                // Graph answers @odata.type with '#'; Intune docs often omit it.
                ("@odata.type", Value::String(w), Some(Value::String(h))) => {
                    w.trim_start_matches('#') == h.trim_start_matches('#')
                }
                ("displayName" | "uniqueName", Value::String(w), Some(Value::String(h))) => {
                    w.eq_ignore_ascii_case(h)
                }
                _ => have == Some(want),
            }
        })
}

/// What plan reads of a tenant's validated bundle: its operations, and their bodies either in
/// the operations or, for deploy (which keeps them compact while a tenant waits on Graph's
/// limits), as JSON text beside them.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Tenant id.
    pub tenant: &'a str,
    /// The bundle's content hash.
    pub bundle_hash: &'a str,
    /// Operations, in order.
    pub operations: Ops<'a>,
    /// The body of each operation as JSON text, when the operations do not hold them.
    pub bodies: Option<&'a [std::sync::Arc<str>]>,
    /// Where bodies without references are parsed and normalized once for the tenants that
    /// share them.
    pub cache: Option<&'a DesiredCache>,
    /// The bodies are shared with other tenants in flight (as one set, not only one by one).
    pub shared: bool,
    /// Hash the live objects seen ([`PlannedResource::live_hash`],
    /// [`TenantPlan::live_fingerprint`]): what a plan file holds for `deploy --plan` to check.
    /// A run whose plans are shown and dropped (`plan` without `--out`, `drift`) leaves them
    /// out: writing and hashing every live object was a twentieth of a re-plan's CPU.
    pub fingerprints: bool,
}

impl<'a> From<&'a ValidatedBundle> for PlanInput<'a> {
    fn from(bundle: &'a ValidatedBundle) -> PlanInput<'a> {
        PlanInput {
            tenant: &bundle.bundle().tenant.id,
            bundle_hash: bundle.content_hash(),
            operations: (&bundle.bundle().operations).into(),
            bodies: None,
            cache: None,
            shared: false,
            fingerprints: true,
        }
    }
}

impl PlanInput<'_> {
    /// `sha256:` of operation `i`'s body as compiled (references unresolved), the text deploy
    /// keeps: what [`IdentityMap::applied`] records.
    pub fn body_hash(&self, i: usize) -> String {
        match self.bodies.and_then(|b| b.get(i)) {
            Some(text) => canonical::hash_bytes(text.as_bytes()),
            None => canonical::hash_bytes(
                serde_json::to_string(&self.operations[i].body)
                    .unwrap_or_default()
                    .as_bytes(),
            ),
        }
    }

    /// The desired body of operation `i`, its references resolved with `ids`.
    pub fn desired(&self, i: usize, ids: &BTreeMap<String, String>) -> Desired {
        let mut id_of = |key: &str| {
            ids.get(key)
                .map_or(KNOWN_AFTER_APPLY, String::as_str)
                .to_string()
        };
        match self.bodies.and_then(|b| b.get(i)) {
            Some(text) => desired::desired(
                self.operations[i].kind,
                text,
                self.shared || std::sync::Arc::strong_count(text) > 1,
                self.cache,
                &mut id_of,
            ),
            None => Desired::Own(resolve_refs(&self.operations[i].body, ids)),
        }
    }
}

/// The ids [`plan`] would know after matching, without diffing anything: the identity map's,
/// and each collection object found by its match key (adopted). The reader needs them between
/// its two rounds (assignment sets hang off policies); diffing there as well was a second full
/// plan of every tenant, half of a re-plan's CPU time.
pub fn matched_ids(
    input: &PlanInput<'_>,
    live: &LiveState,
    identity: &IdentityMap,
) -> BTreeMap<String, String> {
    let mut ids = identity.objects.clone();
    for op in input.operations {
        if op.kind.shape != Shape::Collection {
            continue;
        }
        let candidates = live
            .collections
            .get(op.kind.name)
            .map_or(&[][..], Vec::as_slice);
        // A managed object still there keeps its id; one deleted is matched by key again.
        if let Some(id) = identity.objects.get(&op.key)
            && candidates
                .iter()
                .any(|o| o.get("id").and_then(Value::as_str) == Some(id))
        {
            continue;
        }
        let mut matching = candidates.iter().filter(|o| matches_key(op, o));
        if let (Some(one), None) = (matching.next(), matching.next()) {
            ids.insert(op.key.clone(), object_id(one).unwrap_or_default());
        }
    }
    ids
}

/// Plan one tenant.
pub fn plan(input: &PlanInput<'_>, live: &LiveState, identity: &IdentityMap) -> TenantPlan {
    // Ids known before this deploy: the identity map, then objects adopted by key.
    let mut ids: BTreeMap<String, String> = identity.objects.clone();
    let mut resources = Vec::with_capacity(input.operations.len());
    let mut seen_live: Vec<&Value> = Vec::new();
    let mut risks = Vec::new();

    for (i, op) in input.operations.iter().enumerate() {
        // Made where it is compared (an adopted object's own id is known by then), at most once.
        let mut desired: Option<Desired> = None;
        let seen_before = seen_live.len();
        let action = match op.kind.shape {
            Shape::Collection => {
                let candidates = live
                    .collections
                    .get(op.kind.name)
                    .map_or(&[][..], Vec::as_slice);
                let managed = identity.objects.get(&op.key).and_then(|id| {
                    candidates
                        .iter()
                        .find(|o| object_id(o).as_deref() == Some(id))
                });
                match managed {
                    Some(obj) => {
                        seen_live.push(obj);
                        let changes = desired.insert(input.desired(i, &ids)).diff(op.kind, obj);
                        let id = object_id(obj);
                        if changes.is_empty() {
                            Action::NoOp { object_id: id }
                        } else {
                            Action::Update {
                                object_id: id,
                                changes,
                            }
                        }
                    }
                    None => {
                        let matching: Vec<&Value> =
                            candidates.iter().filter(|o| matches_key(op, o)).collect();
                        match matching.as_slice() {
                            [] => Action::Create,
                            [obj] => {
                                seen_live.push(obj);
                                let id = object_id(obj).unwrap_or_default();
                                ids.insert(op.key.clone(), id.clone());
                                Action::Adopt {
                                    object_id: id,
                                    changes: desired
                                        .insert(input.desired(i, &ids))
                                        .diff(op.kind, obj),
                                }
                            }
                            many => Action::Ambiguous {
                                object_ids: many.iter().filter_map(|o| object_id(o)).collect(),
                            },
                        }
                    }
                }
            }
            Shape::Singleton
            | Shape::FixedMember
            | Shape::Child
            | Shape::ParentAction
            | Shape::QueriedItems(_) => {
                let path = resolve_refs(&Value::String(op.path.clone()), &ids);
                let path = path.as_str().unwrap_or_default();
                // A queried object's items are written under its owner's id.
                let owner = |obj: &Value| match op.kind.shape {
                    Shape::QueriedItems(items) => obj
                        .get(items.owner_id)
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    _ => None,
                };
                match live.by_path.get(path) {
                    Some(obj) if !path.contains(KNOWN_AFTER_APPLY) => {
                        seen_live.push(obj);
                        let changes = desired.insert(input.desired(i, &ids)).diff(op.kind, obj);
                        if changes.is_empty() {
                            Action::NoOp {
                                object_id: owner(obj),
                            }
                        } else {
                            Action::Update {
                                object_id: owner(obj),
                                changes,
                            }
                        }
                    }
                    _ if op.kind.creates() => Action::Create,
                    // A child or queried object that must exist and does not: deploy cannot
                    // make it, so the plan says so for this resource.
                    _ if matches!(op.kind.shape, Shape::Child | Shape::QueriedItems(_)) => {
                        Action::Missing {
                            reason: missing_reason(op),
                        }
                    }
                    // A singleton that could not be read is still updated (it always exists).
                    _ => Action::Update {
                        object_id: None,
                        changes: Vec::new(),
                    },
                }
            }
        };
        // Without its null members: a read made only to compare leaves them out
        // (`graph::lean`), a deploy's keeps them for its before-images, and both must agree.
        let live_hash = seen_live[seen_before..]
            .first()
            .filter(|_| input.fingerprints)
            .map(|obj| canonical::hash_without_nulls(obj));
        if risk::concerns(op.kind.name) && risk::written_changes(&action).is_some() {
            let desired = desired.unwrap_or_else(|| input.desired(i, &ids));
            risks.extend(risk::assess(
                &op.key,
                op.kind.name,
                &desired.value(),
                &action,
            ));
        }
        resources.push(PlannedResource {
            key: op.key.clone(),
            kind: op.kind.name,
            action,
            live_hash,
        });
    }

    let keys: std::collections::BTreeSet<&str> =
        input.operations.iter().map(|o| o.key.as_str()).collect();
    let orphans = identity
        .objects
        .iter()
        .filter(|(k, _)| !keys.contains(k.as_str()))
        .map(|(k, id)| Orphan {
            key: k.clone(),
            object_id: id.clone(),
            kind: identity.kinds.get(k).cloned(),
        })
        .collect();

    // The whole live objects count: any change made since the plan (even to properties the
    // bundle does not set) makes deploy refuse to apply it.
    let names = ObjectNames::of(&ids, input.operations, identity);
    // Updates of a body the last deploy applied as it is now: the tenant changed, not the
    // baseline (hashed only for these few).
    let drifted = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.action, Action::Update { .. }))
        .filter(|(i, r)| {
            identity
                .applied
                .get(&r.key)
                .is_some_and(|h| *h == input.body_hash(*i))
        })
        .map(|(_, r)| r.key.clone())
        .collect();
    // The fingerprint is made of the objects' own hashes (one line each, in plan order): the
    // same objects count, and none is written out and hashed a second time.
    let live_fingerprint = if input.fingerprints {
        canonical::hash_bytes(
            resources
                .iter()
                .filter_map(|r| r.live_hash.as_deref())
                .collect::<Vec<_>>()
                .join("\n")
                .as_bytes(),
        )
    } else {
        String::new()
    };
    TenantPlan {
        tenant: input.tenant.to_string(),
        bundle_hash: input.bundle_hash.to_string(),
        live_fingerprint,
        resources,
        orphans,
        names,
        drifted,
        risks,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The first tenant of `fixtures/valid/minimal`, compiled (shared by stage tests).
    pub(crate) fn minimal_bundle() -> ValidatedBundle {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/minimal");
        let (project, diags) = crate::source::project::load(&dir).expect("project");
        assert!(!diags.has_errors());
        let (engine, _) = crate::compile::render::Engine::new(&project);
        let schemas = crate::compile::validate::Schemas::shared().expect("schemas");
        let entry = &project.tenants[0];
        let tenant = project.tenant(entry).expect("tenant");
        let today = jiff::civil::date(2026, 11, 26);
        crate::compile::compile_tenant(&project, &engine, schemas, &tenant, false, today)
            .bundle
            .expect("compiles")
    }

    /// The tenant as deploy leaves it: every object created, with server fields added.
    pub(crate) fn deployed(bundle: &ValidatedBundle) -> (LiveState, IdentityMap) {
        let mut live = LiveState::default();
        let mut identity = IdentityMap::default();
        for (i, op) in bundle.bundle().operations.iter().enumerate() {
            let id = format!("00000000-0000-4000-8000-00000000000{i}");
            identity.objects.insert(op.key.clone(), id.clone());
        }
        for op in &bundle.bundle().operations {
            let mut body = resolve_refs(&op.body, &identity.objects);
            body["id"] = json!(identity.objects[&op.key]);
            body["createdDateTime"] = json!("2026-11-26T00:00:00Z");
            live.collections.entry(op.kind.name).or_default().push(body);
        }
        (live, identity)
    }

    /// The tenant of `fixtures/valid/domain-and-pim`, compiled.
    fn domain_and_pim_bundle() -> ValidatedBundle {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/domain-and-pim");
        let (project, diags) = crate::source::project::load(&dir).expect("project");
        assert!(!diags.has_errors());
        let (engine, _) = crate::compile::render::Engine::new(&project);
        let schemas = crate::compile::validate::Schemas::shared().expect("schemas");
        let tenant = project.tenant(&project.tenants[0]).expect("tenant");
        let today = jiff::civil::date(2026, 11, 26);
        crate::compile::compile_tenant(&project, &engine, schemas, &tenant, false, today)
            .bundle
            .expect("compiles")
    }

    #[test]
    fn objects_that_must_exist_and_do_not_are_missing_never_created() {
        let bundle = domain_and_pim_bundle();
        let p = plan(
            &PlanInput::from(&bundle),
            &LiveState::default(),
            &IdentityMap::default(),
        );
        let reasons: Vec<&str> = p
            .resources
            .iter()
            .map(|r| match &r.action {
                Action::Missing { reason } => reason.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            reasons[0].starts_with("no domain alpha.onmicrosoft.com in the tenant"),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[1].contains("unifiedRoleManagementPolicy 62e90394-69f5-4237-9190-012177145e10"),
            "{}",
            reasons[1]
        );
        assert!(!p.is_empty());
        assert_eq!(p.counts(), (0, 0, 0, 0, 2));
    }

    #[test]
    fn a_queried_object_found_is_updated_under_its_owner_id() {
        let bundle = domain_and_pim_bundle();
        let ops = &bundle.bundle().operations;
        let mut live = LiveState::default();
        live.by_path.insert(
            ops[0].path.clone(),
            json!({"id": "alpha.onmicrosoft.com", "passwordValidityPeriodInDays": 90, "passwordNotificationWindowInDays": 14, "isDefault": true}),
        );
        live.by_path.insert(
            ops[1].path.clone(),
            json!({"id": "a", "policyId": "pol-1", "scopeId": "/", "scopeType": "DirectoryRole", "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "policy": {"rules": []}}),
        );
        let p = plan(&PlanInput::from(&bundle), &live, &IdentityMap::default());
        assert_eq!(p.resources[0].action, Action::NoOp { object_id: None });
        match &p.resources[1].action {
            Action::Update { object_id, changes } => {
                assert_eq!(object_id.as_deref(), Some("pol-1"));
                assert!(
                    changes
                        .iter()
                        .all(|c| c.pointer.starts_with("/policy/rules/"))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_empty_tenant_gets_every_resource_created() {
        let bundle = minimal_bundle();
        let p = plan(
            &PlanInput::from(&bundle),
            &LiveState::default(),
            &IdentityMap::default(),
        );
        assert_eq!(p.counts(), (3, 0, 0, 0, 0));
        assert!(p.orphans.is_empty());
        assert!(!p.is_empty());
    }

    #[test]
    fn a_deployed_tenant_plans_no_change() {
        let bundle = minimal_bundle();
        let (live, identity) = deployed(&bundle);
        let p = plan(&PlanInput::from(&bundle), &live, &identity);
        assert!(p.is_empty(), "{p:#?}");
    }

    /// The live state of `bundle` deployed, its first policy since disabled in the tenant.
    fn deployed_with_a_policy_disabled(bundle: &ValidatedBundle) -> (LiveState, IdentityMap) {
        let (mut live, identity) = deployed(bundle);
        let policies = live
            .collections
            .get_mut("conditionalAccessPolicy")
            .expect("policies");
        policies[0]["state"] = json!("disabled");
        (live, identity)
    }

    #[test]
    fn a_changed_property_is_an_update_with_its_diff() {
        let bundle = minimal_bundle();
        let (live, identity) = deployed_with_a_policy_disabled(&bundle);
        let p = plan(&PlanInput::from(&bundle), &live, &identity);
        let r = p
            .resources
            .iter()
            .find(|r| r.key == "block-other-countries")
            .expect("policy");
        match &r.action {
            Action::Update { changes, .. } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].pointer, "/state");
                assert_eq!(changes[0].live, Some(json!("disabled")));
            }
            other => panic!("{other:?}"),
        }
        // The live fingerprint moves with the change.
        let (live2, _) = deployed(&bundle);
        assert_ne!(
            p.live_fingerprint,
            plan(&PlanInput::from(&bundle), &live2, &identity).live_fingerprint
        );
    }

    #[test]
    fn a_tenant_read_without_null_members_plans_as_one_read_whole() {
        let bundle = minimal_bundle();
        let input = PlanInput::from(&bundle);
        let (mut whole, identity) = deployed(&bundle);
        // Graph answers with every declared property, most of them null; one policy drifted.
        for objects in whole.collections.values_mut() {
            for object in objects.iter_mut() {
                object["description"] = Value::Null;
                object["modifiedBy"] = json!({"user": null, "app": {"id": "a", "name": null}});
            }
        }
        let text = serde_json::to_vec(&whole.collections).expect("serializes");
        let lean: BTreeMap<String, Vec<Value>> =
            serde_json::from_value(crate::graph::lean::from_slice(&text).expect("parses"))
                .expect("collections");
        let mut lean_live = LiveState::default();
        for (name, objects) in lean {
            let kind = crate::kinds::by_name(&name).expect("kind");
            lean_live.collections.insert(kind.name, objects);
        }
        assert_ne!(
            lean_live.collections, whole.collections,
            "nulls were dropped"
        );
        let (a, b) = (
            plan(&input, &whole, &identity),
            plan(&input, &lean_live, &identity),
        );
        assert_eq!(a, b);
        assert!(a.resources.iter().all(|r| r.live_hash.is_some()));
        // A value that is not null still counts.
        let first = lean_live.collections.values_mut().next().expect("a kind");
        first[0]["modifiedBy"]["app"]["name"] = json!("portal");
        assert_ne!(
            plan(&input, &lean_live, &identity).live_fingerprint,
            a.live_fingerprint
        );
    }

    #[test]
    fn a_plan_made_without_fingerprints_plans_the_same_and_hashes_nothing() {
        let bundle = minimal_bundle();
        let (live, identity) = deployed_with_a_policy_disabled(&bundle);
        let with = plan(&PlanInput::from(&bundle), &live, &identity);
        let without = plan(
            &PlanInput {
                fingerprints: false,
                ..PlanInput::from(&bundle)
            },
            &live,
            &identity,
        );
        assert!(with.live_fingerprint.starts_with("sha256:"));
        assert!(with.resources.iter().any(|r| r.live_hash.is_some()));
        assert_eq!(without.live_fingerprint, "");
        assert!(without.resources.iter().all(|r| r.live_hash.is_none()));
        let actions = |p: &TenantPlan| -> Vec<(String, Action)> {
            p.resources
                .iter()
                .map(|r| (r.key.clone(), r.action.clone()))
                .collect()
        };
        assert_eq!(actions(&with), actions(&without));
        assert_eq!(with.drifted, without.drifted);
        assert_eq!(with.orphans, without.orphans);
    }

    #[test]
    fn matched_ids_are_the_ids_a_full_plan_knows() {
        let bundle = minimal_bundle();
        let input = PlanInput::from(&bundle);
        let (live, identity) = deployed(&bundle);
        let same = |live: &LiveState, identity: &IdentityMap| {
            let full = crate::live::reader::known_ids(&plan(&input, live, identity), identity);
            assert_eq!(matched_ids(&input, live, identity), full);
        };
        // Deployed, managed; nothing known yet (adopted by key); an empty tenant.
        same(&live, &identity);
        same(&live, &IdentityMap::default());
        same(&LiveState::default(), &identity);
        // A managed object deleted in the tenant and a look-alike by its key: adopted again.
        let mut moved = live.clone();
        let locations = moved
            .collections
            .get_mut("namedLocation")
            .expect("locations");
        locations[0]["id"] = json!("recreated-id");
        same(&moved, &identity);
        // Two look-alikes: ambiguous, no id.
        let mut copy = moved.collections["namedLocation"][0].clone();
        copy["id"] = json!("other-id");
        moved
            .collections
            .get_mut("namedLocation")
            .expect("locations")
            .push(copy);
        same(&moved, &IdentityMap::default());
    }

    #[test]
    fn unmanaged_objects_matching_the_key_are_adopted_never_duplicated() {
        let bundle = minimal_bundle();
        let (live, _) = deployed(&bundle);
        let p = plan(&PlanInput::from(&bundle), &live, &IdentityMap::default());
        assert_eq!(p.counts().2, 3, "{p:#?}");
        // Two objects with the same display name: refuse to guess.
        let mut live = live;
        let mut copy = live.collections["namedLocation"][0].clone();
        copy["id"] = json!("other-id");
        live.collections
            .get_mut("namedLocation")
            .expect("locations")
            .push(copy);
        let p = plan(&PlanInput::from(&bundle), &live, &IdentityMap::default());
        let r = p
            .resources
            .iter()
            .find(|r| r.key == "allowed-countries")
            .expect("location");
        assert!(matches!(&r.action, Action::Ambiguous { object_ids } if object_ids.len() == 2));
    }

    #[test]
    fn managed_objects_the_bundle_dropped_are_orphans() {
        let bundle = minimal_bundle();
        let (live, mut identity) = deployed(&bundle);
        identity
            .objects
            .insert("old-policy".into(), "gone-id".into());
        let p = plan(&PlanInput::from(&bundle), &live, &identity);
        assert_eq!(
            p.orphans,
            vec![Orphan {
                key: "old-policy".into(),
                object_id: "gone-id".into(),
                kind: None,
            }]
        );
        assert!(p.is_empty());
    }

    #[test]
    fn references_resolve_to_known_ids_or_are_known_after_apply() {
        let ids = BTreeMap::from([("bg".to_string(), "id-1".to_string())]);
        let v = json!({"excludeGroups": ["${ref:group:bg}", "${ref:group:new}"], "x": "/p/${ref:compliance-policy:bg}/assign"});
        assert_eq!(
            resolve_refs(&v, &ids),
            json!({"excludeGroups": ["id-1", KNOWN_AFTER_APPLY], "x": "/p/id-1/assign"})
        );
    }
}
