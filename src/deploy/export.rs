//! Export, the reading half: one tenant's live objects of the kinds its baselines manage, for
//! `tenantform export` to turn into a baseline through the importer's emitter.
//!
//! The tenant is read the way `plan` reads it (its bundle compiled, the one live reader, nothing
//! written): every object of each collection kind (all conditional access policies, named
//! locations, compliance policies, ..., not only those the project declares: the tenant is the
//! golden one), the groups its baselines declare (read by `uniqueName`), and each singleton and
//! fixed member at its path; each Intune policy's assignments (`GET …/{id}/assignments`),
//! carried in its body for the emitter to make its assignment set. Groups are not listed whole
//! (a tenant has thousands); the groups the exported objects (and their assignments) reference
//! are read by id, so a reference to one becomes a reference to an exported group, and one
//! that is gone stays an id (the emitter makes it a parameter). Child objects are not exported
//! (counted, for the caller to say so).
//!
//! Input: a [`Run`] (plan-only), a [`Target`] and optional kind names. Output: an
//! [`ExportedTenant`], or the [`TenantError`] that stopped the read.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::deploy::fleet::Target;
use crate::deploy::shared::{JournalObserver, Run};
use crate::deploy::slim::SharedSlims;
use crate::deploy::tenant::{TenantError, Writes, prepare};
use crate::graph::client::{Request, RequestError};
use crate::import::assignments::assignment_kind;
use crate::kinds::{self, Kind, Shape};
use crate::live;
use crate::live::plan::PlanInput;

/// One live object to export.
#[derive(Debug, Clone)]
pub struct LiveObject {
    /// Its kind.
    pub kind: &'static Kind,
    /// Where it was read: `<kind>/<id>` for members of a collection, the path for a singleton.
    pub source: String,
    /// Its `id` where it is not a GUID (`Fido2`, `authorizationPolicy`): a name for its
    /// resource when it has no display name.
    pub name: Option<String>,
    /// The object as Graph returned it.
    pub body: Value,
}

/// What was read from one tenant.
#[derive(Debug, Clone)]
pub struct ExportedTenant {
    /// Tenant id.
    pub id: String,
    /// The tenant's name in the project.
    pub name: String,
    /// Its domain in the project (`tenant.domain`), if it has one.
    pub domain: Option<String>,
    /// The objects, sorted by kind and source.
    pub objects: Vec<LiveObject>,
    /// Kinds of the tenant's baselines that were not exported (assignments, children), with
    /// how many resources of each the baselines declare.
    pub not_exported: Vec<(&'static str, usize)>,
}

/// The strings at a reference slot's pointer (`/conditions/users/excludeGroups/*`) in `value`.
fn strings_at<'a>(value: &'a Value, segments: &[&str], out: &mut Vec<&'a str>) {
    let Some((first, rest)) = segments.split_first() else {
        if let Some(s) = value.as_str() {
            out.push(s);
        }
        return;
    };
    match (value, *first) {
        (Value::Array(items), "*") => items.iter().for_each(|i| strings_at(i, rest, out)),
        (Value::Object(map), "*") => map.values().for_each(|v| strings_at(v, rest, out)),
        (Value::Object(map), key) => {
            if let Some(v) = map.get(key) {
                strings_at(v, rest, out);
            }
        }
        (Value::Array(items), index) => {
            if let Some(v) = index.parse::<usize>().ok().and_then(|i| items.get(i)) {
                strings_at(v, rest, out);
            }
        }
        _ => {}
    }
}

/// Group ids the objects reference in their kinds' reference slots (and, for a policy that
/// carries its `assignments`, its assignment kind's slots), lower case.
pub fn referenced_group_ids(objects: &[LiveObject]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for object in objects {
        let assignment_slots = assignment_kind(object.kind).map_or(&[][..], |k| k.ref_slots);
        for slot in object
            .kind
            .ref_slots
            .iter()
            .chain(assignment_slots)
            .filter(|s| s.kind == "group")
        {
            let segments: Vec<&str> = slot.pointer.trim_start_matches('/').split('/').collect();
            let mut found = Vec::new();
            strings_at(&object.body, &segments, &mut found);
            ids.extend(
                found
                    .into_iter()
                    .filter(|s| crate::source::model::is_guid(s))
                    .map(str::to_ascii_lowercase),
            );
        }
    }
    ids
}

fn id_of(body: &Value) -> Option<&str> {
    body.get("id").and_then(Value::as_str)
}

/// Read `target` for export; `kinds` (names) narrows the kinds read from its baselines'.
pub async fn read_for_export(
    run: &Run,
    target: &Target,
    kinds: Option<&[String]>,
) -> Result<ExportedTenant, TenantError> {
    let fleet = run.fleet.clone();
    let prepared = {
        let (fleet, target) = (fleet.clone(), target.clone());
        tokio::task::spawn_blocking(move || {
            prepare(&fleet, &target, &SharedSlims::default(), false, Writes::No)
        })
        .await
        .map_err(|e| TenantError::CompileTask(e.to_string()))??
    };
    let identity = crate::deploy::identity::load_identity(&fleet.dir, &target.id)?;
    let wanted = |kind: &Kind| kinds.is_none_or(|k| k.iter().any(|n| n == kind.name));
    let operations: Vec<_> = prepared
        .slim
        .operations
        .iter()
        .filter(|op| wanted(op.kind))
        .cloned()
        .collect();
    let input = PlanInput {
        tenant: &target.id,
        bundle_hash: &prepared.bundle_hash,
        operations: (&operations).into(),
        bodies: None,
        cache: None,
        shared: false,
        fingerprints: false,
    };
    let observer = JournalObserver { journal: None, run };
    let read_error = |e: RequestError| match e {
        RequestError::Status { status: 403, .. } => TenantError::ReadForbidden(e),
        _ => TenantError::Read(e),
    };
    let live = live::read(
        &run.client,
        &prepared.session,
        &input,
        &identity,
        live::Keep::Whole,
        &observer,
        None,
    )
    .await
    .map_err(read_error)?;

    let mut objects = Vec::new();
    let mut not_exported: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for (kind_name, items) in &live.collections {
        let Some(kind) = kinds::by_name(kind_name) else {
            continue;
        };
        // Microsoft's own objects (built-in strengths) are referenced by id, never declared.
        for body in items.iter().filter(|b| !kinds::is_built_in(kind.name, b)) {
            let id = id_of(body).unwrap_or_default();
            objects.push(LiveObject {
                kind,
                source: format!("{kind_name}/{id}"),
                name: None,
                body: body.clone(),
            });
        }
    }
    for op in &operations {
        match op.kind.shape {
            Shape::Collection => {}
            Shape::Singleton | Shape::FixedMember => {
                if let Some(body) = live.by_path.get(&op.path) {
                    let name = id_of(body)
                        .filter(|id| !crate::source::model::is_guid(id))
                        .map(str::to_string);
                    objects.push(LiveObject {
                        kind: op.kind,
                        source: op.path.trim_start_matches('/').to_string(),
                        name,
                        body: body.clone(),
                    });
                }
            }
            Shape::Child | Shape::QueriedItems(_) => {
                *not_exported.entry(op.kind.name).or_default() += 1;
            }
            // Read below, from each exported policy.
            Shape::ParentAction => {}
        }
    }

    // Each policy's assignments (`GET …/{id}/assignments`), carried in its body as Graph's
    // `$expand=assignments` would; the emitter makes them the policy's assignment set.
    let assigned: Vec<(usize, Request)> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| assignment_kind(o.kind).is_some_and(&wanted))
        .filter_map(|(i, o)| {
            let id = id_of(&o.body)?;
            Some((
                i,
                Request::get(
                    format!("export:assignments:{}", o.source),
                    o.kind.api_version,
                    format!("{}/{id}/assignments", o.kind.path),
                    o.kind.throttle,
                ),
            ))
        })
        .collect();
    let requests: Vec<Request> = assigned.iter().map(|(_, r)| r.clone()).collect();
    let results = run
        .client
        .batch(&prepared.session, &requests, &observer)
        .await;
    for ((i, _), result) in assigned.iter().zip(results) {
        let body = result.map_err(read_error)?.body;
        let entries = body
            .get("value")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        if let Value::Object(map) = &mut objects[*i].body {
            map.insert("assignments".into(), entries);
        }
    }

    // The groups the exported objects reference, by id, when groups are exported at all.
    let group_kind = kinds::by_name("group").expect("invariant: group is a registered kind");
    if wanted(group_kind) {
        let have: BTreeSet<String> = objects
            .iter()
            .filter(|o| o.kind.name == "group")
            .filter_map(|o| id_of(&o.body).map(str::to_ascii_lowercase))
            .collect();
        let missing: Vec<String> = referenced_group_ids(&objects)
            .into_iter()
            .filter(|id| !have.contains(id))
            .collect();
        let requests: Vec<Request> = missing
            .iter()
            .map(|id| {
                Request::get(
                    format!("export:group:{id}"),
                    group_kind.api_version,
                    format!("{}/{id}", group_kind.path),
                    group_kind.throttle,
                )
            })
            .collect();
        let results = run
            .client
            .batch(&prepared.session, &requests, &observer)
            .await;
        for (id, result) in missing.iter().zip(results) {
            match result {
                Ok(response) => objects.push(LiveObject {
                    kind: group_kind,
                    source: format!("group/{id}"),
                    name: None,
                    body: response.body,
                }),
                // Gone: the reference stays an id, and the emitter makes it a parameter.
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(read_error(e)),
            }
        }
    }
    objects.sort_by(|a, b| (a.kind.name, &a.source).cmp(&(b.kind.name, &b.source)));
    let domain = fleet
        .project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(&target.id))
        .and_then(|entry| fleet.project.tenant(entry))
        .and_then(|t| t.domain);
    Ok(ExportedTenant {
        id: target.id.clone(),
        name: target.name.clone(),
        domain,
        objects,
        not_exported: not_exported.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn referenced_groups_are_found_in_every_group_slot_of_the_kind() {
        let ca = kinds::by_name("conditionalAccessPolicy").expect("kind");
        let location = kinds::by_name("namedLocation").expect("kind");
        let objects = vec![
            LiveObject {
                kind: ca,
                source: "p".into(),
                name: None,
                body: json!({"conditions": {"users": {
                    "excludeGroups": ["5D3B2C1A-0000-4000-8000-000000000001"],
                    "includeGroups": ["all", "5d3b2c1a-0000-4000-8000-000000000002"],
                    "excludeUsers": ["5d3b2c1a-0000-4000-8000-000000000003"]}}}),
            },
            LiveObject {
                kind: location,
                source: "l".into(),
                name: None,
                body: json!({"id": "5d3b2c1a-0000-4000-8000-000000000004"}),
            },
        ];
        assert_eq!(
            referenced_group_ids(&objects),
            BTreeSet::from([
                "5d3b2c1a-0000-4000-8000-000000000001".to_string(),
                "5d3b2c1a-0000-4000-8000-000000000002".to_string(),
            ])
        );
    }
}
