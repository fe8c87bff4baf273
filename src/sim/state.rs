//! The simulated tenants and their objects: N tenants with deterministic GUIDs, each born with
//! a new tenant's objects, each behind its own lock; objects stored compactly (canonical JSON
//! text plus the few fields that are looked up); and the state file of `--state-dir`.
//!
//! Input: the simulator's seed and tenant count, the shared birth [`Defaults`], writes from the
//! Graph routes. Output: objects by kind for the routes, full JSON for introspection, and a
//! JSON Lines state file (one tenant per line) that [`load`] reads back.
//!
//! Memory: an object is its packed JSON (`packed.rs`: property names as numbers, about half
//! the size of the text) plus its key, its match value and a few flags (about 100 bytes).
//! Singletons and authentication method configurations are shared [`Defaults`] until a tenant
//! writes them, so an untouched tenant costs a few hundred bytes.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::kinds::{self, Kind, PathParam, Shape};
use crate::sim::bodies::{Schemas, kind_index};
use crate::sim::defaults;
use crate::sim::packed;

/// Format marker of the first line of a state file.
const STATE_FORMAT: &str = "tenantform-sim-state/1";

/// File name of the state inside `--state-dir`.
pub(crate) const STATE_FILE: &str = "state.jsonl";

/// One object as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredObject {
    /// The key it is addressed by in URLs (`id`, or `tenantId` for partners), as sent.
    pub(crate) key: Box<str>,
    /// The value of the kind's first match key (`displayName`, `uniqueName`, ...), if a string.
    pub(crate) match_value: Option<Box<str>>,
    /// The entity as Graph returns it on GET (no `@odata.context`), packed (see `packed.rs`).
    pub(crate) packed: Box<[u8]>,
    /// Properties Graph keeps but leaves out of GET (a JSON object), e.g. a compliance
    /// policy's `scheduledActionsForRule`, returned only with `$expand`.
    pub(crate) hidden: Option<Box<str>>,
    /// The assignment set (a JSON array) of an Intune object, written by `/assign`.
    pub(crate) assignments: Option<Box<str>>,
    /// Clock milliseconds from which reads see the object (replication delay).
    pub(crate) visible_at_ms: u64,
    /// True when the entity holds evolvable enum members that reads mask.
    pub(crate) evolvable: bool,
}

impl StoredObject {
    /// The entity's JSON text.
    pub(crate) fn text(&self) -> String {
        packed::unpack(&self.packed)
    }

    /// The entity as a JSON value.
    pub(crate) fn value(&self) -> Value {
        serde_json::from_str(&self.text()).unwrap_or(Value::Null)
    }

    /// True when reads at `now_ms` see the object.
    pub(crate) fn visible(&self, now_ms: u64) -> bool {
        now_ms >= self.visible_at_ms
    }

    /// Everything Graph holds for the object: the entity, its hidden properties and its
    /// assignments (for introspection and the state file).
    fn full_value(&self) -> Value {
        let mut value = self.value();
        if let Value::Object(map) = &mut value {
            if let Some(Value::Object(hidden)) = self
                .hidden
                .as_deref()
                .and_then(|h| serde_json::from_str(h).ok())
            {
                map.extend(hidden);
            }
            if let Some(assignments) = self
                .assignments
                .as_deref()
                .and_then(|a| serde_json::from_str::<Value>(a).ok())
            {
                map.insert("assignments".into(), assignments);
            }
        }
        value
    }
}

/// The objects of one kind in one tenant.
#[derive(Debug)]
pub(crate) enum KindStore {
    /// Actions store nothing of their own (assignments live on their parent).
    Action,
    /// A collection (or children keyed by their parent): live objects by lower-case key in
    /// creation order, and soft-deleted ones.
    Objects {
        /// Live objects.
        live: IndexMap<Box<str>, StoredObject>,
        /// Soft-deleted objects (`deletedItems`).
        deleted: IndexMap<Box<str>, StoredObject>,
        /// False until the objects a new tenant has of this kind (`defaults::collection_birth`)
        /// are in `live`; they are put there the first time a request touches the kind.
        born: bool,
    },
    /// A singleton: `None` while it is the shared birth default.
    Singleton(Option<Box<StoredObject>>),
    /// Fixed members in the registry's table order; empty (or `None`) while shared defaults.
    Members(Vec<Option<Box<StoredObject>>>),
}

impl KindStore {
    fn birth(kind: &Kind) -> KindStore {
        match kind.shape {
            // Queried items keep the items a tenant wrote, keyed `owner/item`.
            Shape::Collection | Shape::Child | Shape::QueriedItems(_) => KindStore::Objects {
                live: IndexMap::new(),
                deleted: IndexMap::new(),
                born: !defaults::has_collection_birth(kind),
            },
            Shape::Singleton => KindStore::Singleton(None),
            Shape::FixedMember => KindStore::Members(Vec::new()),
            Shape::ParentAction => KindStore::Action,
        }
    }
}

/// The position in [`TenantState::stores`] of a kind's store ([`storage_kind`]), worked out
/// once for the registry.
fn store_index(kind: &Kind) -> usize {
    static INDEX: std::sync::LazyLock<Vec<usize>> = std::sync::LazyLock::new(|| {
        kinds::all()
            .iter()
            .map(|k| kind_index(storage_kind(k)))
            .collect()
    });
    let own = kind_index(kind);
    INDEX.get(own).copied().unwrap_or(own)
}

/// The kind whose store holds a kind's objects: a beta kind that shares its path and shape
/// with a v1.0 kind (`conditionalAccessPolicyBeta`) holds the same objects as that kind, as
/// Graph does (one policy, two versions of the API); every other kind its own.
pub(crate) fn storage_kind(kind: &'static Kind) -> &'static Kind {
    if kind.api_version != kinds::ApiVersion::Beta {
        return kind;
    }
    kinds::all()
        .iter()
        .find(|k| {
            k.api_version == kinds::ApiVersion::V1 && k.path == kind.path && k.shape == kind.shape
        })
        .unwrap_or(kind)
}

/// The `(@odata.type, id)` table of a fixed-member kind, from its registry path parameter.
pub(crate) fn member_table(kind: &Kind) -> &'static [(&'static str, &'static str)] {
    kind.path_params
        .iter()
        .find_map(|(_, p)| match p {
            PathParam::ODataTypeId(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(&[])
}

/// Birth objects shared by every tenant until written.
#[derive(Debug)]
pub(crate) struct Defaults {
    singletons: Vec<Option<StoredObject>>,
    members: Vec<Vec<StoredObject>>,
    /// Built-in objects of collection kinds (listed and read, never written), by kind index.
    built_ins: Vec<Vec<StoredObject>>,
}

/// Store an entity (already complete) as a [`StoredObject`].
pub(crate) fn store(
    schemas: &Schemas,
    kind: &Kind,
    key: &str,
    entity: &Value,
    visible_at_ms: u64,
) -> StoredObject {
    let mut probe = entity.clone();
    let evolvable = schemas.mask_evolvable(kind, &mut probe);
    let match_value = kind
        .match_key
        .first()
        .and_then(|k| entity.get(*k))
        .and_then(Value::as_str)
        .map(Box::from);
    StoredObject {
        key: key.into(),
        match_value,
        packed: packed::pack(entity),
        hidden: None,
        assignments: None,
        visible_at_ms,
        evolvable,
    }
}

impl Defaults {
    /// Build the birth objects of every singleton and fixed-member kind.
    pub(crate) fn build(schemas: &Schemas) -> Defaults {
        let mut singletons = Vec::new();
        let mut members = Vec::new();
        let mut built_ins = Vec::new();
        for kind in kinds::all() {
            built_ins.push(
                defaults::built_in_members(kind)
                    .into_iter()
                    .map(|mut value| {
                        schemas.fill_defaults(kind, &mut value);
                        let key = value
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        store(schemas, kind, &key, &value, 0)
                    })
                    .collect(),
            );
            let singleton = defaults::singleton(kind).map(|mut value| {
                schemas.fill_defaults(kind, &mut value);
                let key = value
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or(kind.name)
                    .to_string();
                store(schemas, kind, &key, &value, 0)
            });
            singletons.push(singleton);
            let table = member_table(kind);
            members.push(
                table
                    .iter()
                    .map(|(odata_type, id)| {
                        let mut value = defaults::member(id, odata_type);
                        schemas.fill_defaults(kind, &mut value);
                        store(schemas, kind, id, &value, 0)
                    })
                    .collect(),
            );
        }
        Defaults {
            singletons,
            members,
            built_ins,
        }
    }

    /// The built-in objects of a collection kind (the built-in authentication strengths).
    pub(crate) fn built_ins(&self, kind: &Kind) -> &[StoredObject] {
        self.built_ins
            .get(kind_index(kind))
            .map_or(&[][..], Vec::as_slice)
    }

    /// The built-in object of a collection kind with this id (case-insensitive).
    pub(crate) fn built_in(&self, kind: &Kind, id: &str) -> Option<&StoredObject> {
        self.built_ins(kind)
            .iter()
            .find(|o| o.key.eq_ignore_ascii_case(id))
    }

    /// The birth state of a singleton kind.
    pub(crate) fn singleton(&self, kind: &Kind) -> Option<&StoredObject> {
        self.singletons
            .get(kind_index(kind))
            .and_then(Option::as_ref)
    }

    /// The birth state of fixed member `position` (in the kind's table).
    pub(crate) fn member(&self, kind: &Kind, position: usize) -> Option<&StoredObject> {
        self.members
            .get(kind_index(kind))
            .and_then(|m| m.get(position))
    }
}

/// One tenant's objects.
#[derive(Debug)]
pub(crate) struct TenantState {
    /// Objects by kind, indexed like [`kinds::all`].
    pub(crate) stores: Vec<KindStore>,
    /// Objects created so far (the counter behind deterministic ids).
    pub(crate) next_object: u64,
    /// The audit logs: every successful write, oldest first (see `audit.rs`).
    pub(crate) audit: Vec<crate::sim::audit::Entry>,
    /// Users, memberships and cross-tenant synchronization (see `graph/sync.rs`).
    pub(crate) sync: crate::sim::graph::sync::SyncState,
    /// Tenant Configuration Management monitors, results and drifts (see `graph/tcm.rs`).
    pub(crate) tcm: crate::sim::graph::tcm::TcmState,
}

impl TenantState {
    /// A new tenant: empty collections, singletons and members at their shared defaults.
    pub(crate) fn birth() -> TenantState {
        TenantState {
            stores: kinds::all().iter().map(KindStore::birth).collect(),
            next_object: 0,
            audit: Vec::new(),
            sync: Default::default(),
            tcm: Default::default(),
        }
    }

    /// Put the objects a new tenant has of a collection kind in place, once (see
    /// `defaults::collection_birth`); objects the tenant already has under the same key stay.
    pub(crate) fn materialize_birth_objects(
        &mut self,
        kind: &Kind,
        tenant_id: &str,
        schemas: &Schemas,
    ) {
        let KindStore::Objects { live, born, .. } = self.store_mut(kind) else {
            return;
        };
        if *born {
            return;
        }
        *born = true;
        for mut value in defaults::collection_birth(kind, tenant_id) {
            schemas.fill_defaults(kind, &mut value);
            let Some(key) = value.get("id").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let lookup: Box<str> = key.to_ascii_lowercase().into();
            if !live.contains_key(&lookup) {
                live.insert(lookup, store(schemas, kind, &key, &value, 0));
            }
        }
    }

    /// The store of a kind (shared with its v1.0 twin: [`storage_kind`]).
    pub(crate) fn store(&self, kind: &Kind) -> &KindStore {
        &self.stores[store_index(kind)]
    }

    /// The store of a kind, for writing.
    pub(crate) fn store_mut(&mut self, kind: &Kind) -> &mut KindStore {
        &mut self.stores[store_index(kind)]
    }

    /// Live objects of a collection (or child) kind.
    pub(crate) fn live(&self, kind: &Kind) -> Option<&IndexMap<Box<str>, StoredObject>> {
        match self.store(kind) {
            KindStore::Objects { live, .. } => Some(live),
            _ => None,
        }
    }

    /// Live objects of a collection kind, for writing.
    pub(crate) fn live_mut(
        &mut self,
        kind: &Kind,
    ) -> Option<&mut IndexMap<Box<str>, StoredObject>> {
        match self.store_mut(kind) {
            KindStore::Objects { live, .. } => Some(live),
            _ => None,
        }
    }

    /// Soft-deleted objects of a collection kind.
    pub(crate) fn deleted(&self, kind: &Kind) -> Option<&IndexMap<Box<str>, StoredObject>> {
        match self.store(kind) {
            KindStore::Objects { deleted, .. } => Some(deleted),
            _ => None,
        }
    }

    /// Soft-deleted objects, for writing.
    pub(crate) fn deleted_mut(
        &mut self,
        kind: &Kind,
    ) -> Option<&mut IndexMap<Box<str>, StoredObject>> {
        match self.store_mut(kind) {
            KindStore::Objects { deleted, .. } => Some(deleted),
            _ => None,
        }
    }

    /// The current singleton object (the tenant's copy, else the shared default).
    pub(crate) fn singleton<'a>(
        &'a self,
        kind: &Kind,
        defaults: &'a Defaults,
    ) -> Option<&'a StoredObject> {
        match self.store(kind) {
            KindStore::Singleton(Some(own)) => Some(own),
            _ => defaults.singleton(kind),
        }
    }

    /// The current fixed member at `position`.
    pub(crate) fn member<'a>(
        &'a self,
        kind: &Kind,
        position: usize,
        defaults: &'a Defaults,
    ) -> Option<&'a StoredObject> {
        match self.store(kind) {
            KindStore::Members(own) => own
                .get(position)
                .and_then(|o| o.as_deref())
                .or_else(|| defaults.member(kind, position)),
            _ => None,
        }
    }

    /// Replace the tenant's copy of a fixed member.
    pub(crate) fn set_member(&mut self, kind: &Kind, position: usize, object: StoredObject) {
        if let KindStore::Members(own) = self.store_mut(kind) {
            if own.len() <= position {
                own.resize_with(member_table(kind).len().max(position + 1), || None);
            }
            own[position] = Some(Box::new(object));
        }
    }

    /// Every object, by kind name (for introspection and the state file).
    pub(crate) fn export(&self, defaults: &Defaults) -> Value {
        let mut objects = Map::new();
        let mut deleted_items = Map::new();
        for kind in kinds::all() {
            // A kind that shares another's store is exported once, under the other's name.
            if storage_kind(kind).name != kind.name {
                continue;
            }
            match self.store(kind) {
                KindStore::Action => {}
                KindStore::Objects { live, deleted, .. } => {
                    objects.insert(
                        kind.name.into(),
                        Value::Array(live.values().map(StoredObject::full_value).collect()),
                    );
                    if !deleted.is_empty() {
                        deleted_items.insert(
                            kind.name.into(),
                            Value::Array(deleted.values().map(StoredObject::full_value).collect()),
                        );
                    }
                }
                KindStore::Singleton(_) => {
                    if let Some(object) = self.singleton(kind, defaults) {
                        objects.insert(kind.name.into(), object.full_value());
                    }
                }
                KindStore::Members(_) => {
                    let members = (0..member_table(kind).len())
                        .filter_map(|i| self.member(kind, i, defaults))
                        .map(StoredObject::full_value)
                        .collect();
                    objects.insert(kind.name.into(), Value::Array(members));
                }
            }
        }
        json!({"objects": objects, "deletedItems": deleted_items})
    }
}

/// One simulated tenant.
#[derive(Debug)]
pub(crate) struct Tenant {
    /// Position in the fleet (`--withdraw INDEX:PERMISSION` counts from 0).
    pub(crate) index: usize,
    /// Tenant id (lower-case GUID).
    pub(crate) id: Box<str>,
    /// Display name.
    pub(crate) name: Box<str>,
    /// Application permissions consented for the app (the kinds' permissions minus withdrawn).
    pub(crate) roles: Vec<&'static str>,
    /// Withdrawn permissions.
    pub(crate) withdrawn: Vec<String>,
    /// Service plans turned off in the tenant's SKUs (`--withdraw-plan`, or
    /// `PUT /_sim/tenants/{id}/service-plans`); kept across `reset`, not saved with the state.
    withdrawn_plans: Mutex<Vec<String>>,
    state: Mutex<TenantState>,
}

impl Tenant {
    /// A tenant at birth.
    pub(crate) fn new(index: usize, id: &str, name: &str, withdrawn: Vec<String>) -> Tenant {
        let roles = consented_permissions()
            .into_iter()
            .filter(|p| !withdrawn.iter().any(|w| w.eq_ignore_ascii_case(p)))
            .collect();
        Tenant {
            index,
            id: id.into(),
            name: name.into(),
            roles,
            withdrawn,
            withdrawn_plans: Mutex::new(Vec::new()),
            state: Mutex::new(TenantState::birth()),
        }
    }

    /// Service plans turned off in the tenant's SKUs.
    pub(crate) fn withdrawn_plans(&self) -> Vec<String> {
        self.withdrawn_plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Turn these service plans off (and every other one on).
    pub(crate) fn set_withdrawn_plans(&self, plans: Vec<String>) {
        *self
            .withdrawn_plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = plans;
    }

    /// Lock the tenant's objects (a poisoned lock is taken over: state stays consistent per write).
    pub(crate) fn lock(&self) -> MutexGuard<'_, TenantState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The permissions "Configure cross-tenant synchronization using PowerShell or Microsoft Graph"
/// lists for the app of each tenant (target and source together), so a client following that
/// page works against the simulator as it is.
const CROSS_TENANT_SYNC_PAGE_PERMISSIONS: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.CrossTenantAccess",
    "Application.ReadWrite.All",
    "Directory.ReadWrite.All",
    "AuditLog.Read.All",
];

/// Every application permission some kind needs, plus those that read the directory objects
/// the simulator serves beside the kinds (organization, users), sorted and unique.
pub(crate) fn consented_permissions() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = kinds::all()
        .iter()
        .flat_map(|k| k.permissions.iter().copied())
        .chain(
            crate::sim::audit::DIRECTORY_AUDIT_PERMISSIONS
                .iter()
                .copied(),
        )
        .chain(
            crate::sim::audit::INTUNE_AUDIT_PERMISSIONS[..1]
                .iter()
                .copied(),
        )
        .chain(crate::sim::graph::DIRECTORY_PERMISSIONS.iter().copied())
        .chain(crate::kinds::needs::FACTS_READ_PERMISSIONS.iter().copied())
        .chain(crate::sim::graph::tcm::PERMISSIONS.iter().copied())
        .chain(
            kinds::LINK_KINDS
                .iter()
                .flat_map(|k| k.permissions.iter().copied()),
        )
        .chain(CROSS_TENANT_SYNC_PAGE_PERMISSIONS.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Tenant ids and names of a fleet: the same ids and names `init::fleet_tenants_toml` writes
/// for this seed, so `--fleet-out` and the simulator agree.
pub(crate) fn fleet_identities(seed: &str, count: usize) -> Vec<(String, String)> {
    let text = crate::source::init::fleet_tenants_toml(
        seed,
        count,
        &crate::source::init::TenantEndpoints::default(),
    );
    let mut out = Vec::with_capacity(count);
    let mut id: Option<String> = None;
    for line in text.lines() {
        if let Some(value) = quoted_value(line, "id") {
            id = Some(value);
        } else if let Some(name) = quoted_value(line, "name")
            && let Some(id) = id.take()
        {
            out.push((id, name));
        }
    }
    out
}

fn quoted_value(line: &str, key: &str) -> Option<String> {
    let rest = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Reading or writing failed.
    #[error("cannot access the simulator state {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a state file of this version.
    #[error("{} line {line} is not a simulator state record: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file holds a tenant the simulator was not started with.
    #[error("{} holds tenant {tenant}, which is not among the {count} tenants of this seed; start with the same --seed and at least as many --tenants, or remove the state directory", path.display())]
    UnknownTenant {
        /// The file.
        path: PathBuf,
        /// The tenant id.
        tenant: String,
        /// Tenants configured.
        count: usize,
    },
}

fn object_record(object: &StoredObject) -> Value {
    let parse = |text: Option<&str>| text.and_then(|t| serde_json::from_str::<Value>(t).ok());
    let mut record = json!({
        "key": &*object.key,
        "entity": object.value(),
    });
    if let Some(hidden) = parse(object.hidden.as_deref()) {
        record["hidden"] = hidden;
    }
    if let Some(assignments) = parse(object.assignments.as_deref()) {
        record["assignments"] = assignments;
    }
    record
}

fn tenant_record(tenant: &Tenant, state: &TenantState) -> Value {
    let mut kinds_out = Map::new();
    for kind in kinds::all() {
        if storage_kind(kind).name != kind.name {
            continue;
        }
        let record = match state.store(kind) {
            KindStore::Action => continue,
            KindStore::Objects {
                live,
                deleted,
                born,
            } => {
                // A kind whose birth objects are in place is saved even when empty (they were
                // deleted), so that a restart does not bring them back.
                if live.is_empty()
                    && deleted.is_empty()
                    && !(*born && defaults::has_collection_birth(kind))
                {
                    continue;
                }
                json!({
                    "live": live.values().map(object_record).collect::<Vec<_>>(),
                    "deleted": deleted.values().map(object_record).collect::<Vec<_>>(),
                })
            }
            KindStore::Singleton(Some(own)) => json!({"singleton": object_record(own)}),
            KindStore::Singleton(None) => continue,
            KindStore::Members(own) => {
                let members: Map<String, Value> = own
                    .iter()
                    .enumerate()
                    .filter_map(|(i, o)| {
                        let object = o.as_deref()?;
                        let id = member_table(kind).get(i)?.1;
                        Some((id.to_string(), object_record(object)))
                    })
                    .collect();
                if members.is_empty() {
                    continue;
                }
                json!({"members": members})
            }
        };
        kinds_out.insert(kind.name.into(), record);
    }
    json!({
        "id": &*tenant.id,
        "name": &*tenant.name,
        "withdrawn": tenant.withdrawn,
        "nextObject": state.next_object,
        "kinds": kinds_out,
    })
}

/// Write every tenant to `dir/state.jsonl` atomically (a temporary file renamed over it).
pub(crate) fn save(dir: &Path, tenants: &[Tenant]) -> Result<PathBuf, StateFileError> {
    let path = dir.join(STATE_FILE);
    let io = |source| StateFileError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let temporary = dir.join(format!("{STATE_FILE}.tmp"));
    {
        let file = std::fs::File::create(&temporary).map_err(io)?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(
            out,
            "{}",
            json!({"format": STATE_FORMAT, "tenants": tenants.len()})
        )
        .map_err(io)?;
        for tenant in tenants {
            let record = {
                let state = tenant.lock();
                tenant_record(tenant, &state)
            };
            writeln!(out, "{record}").map_err(io)?;
        }
        out.flush().map_err(io)?;
        out.get_ref().sync_all().map_err(io)?;
    }
    std::fs::rename(&temporary, &path).map_err(io)?;
    Ok(path)
}

/// One tenant read back from a state file.
#[derive(Debug)]
pub(crate) struct SavedTenant {
    /// Withdrawn permissions.
    pub(crate) withdrawn: Vec<String>,
    /// The objects.
    pub(crate) state: TenantState,
}

fn restore_object(schemas: &Schemas, kind: &Kind, record: &Value) -> Option<StoredObject> {
    let key = record.get("key")?.as_str()?;
    let entity = record.get("entity")?;
    let mut object = store(schemas, kind, key, entity, 0);
    object.hidden = record
        .get("hidden")
        .map(|h| Box::from(h.to_string().as_str()));
    object.assignments = record
        .get("assignments")
        .map(|a| Box::from(a.to_string().as_str()));
    Some(object)
}

fn restore_tenant(schemas: &Schemas, record: &Value) -> Result<(String, SavedTenant), String> {
    let id = record
        .get("id")
        .and_then(Value::as_str)
        .ok_or("no tenant id")?
        .to_ascii_lowercase();
    let withdrawn = record
        .get("withdrawn")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut state = TenantState::birth();
    state.next_object = record
        .get("nextObject")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    let empty = Map::new();
    let saved_kinds = record
        .get("kinds")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, saved) in saved_kinds {
        let kind = kinds::by_name(name).ok_or_else(|| format!("unknown kind {name}"))?;
        match state.store_mut(kind) {
            KindStore::Objects {
                live,
                deleted,
                born,
            } => {
                *born = true;
                for (target, field) in [(live, "live"), (deleted, "deleted")] {
                    for object in saved
                        .get(field)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let object = restore_object(schemas, kind, object)
                            .ok_or_else(|| format!("malformed {name} object"))?;
                        target.insert(object.key.to_ascii_lowercase().into(), object);
                    }
                }
            }
            KindStore::Singleton(slot) => {
                if let Some(object) = saved.get("singleton") {
                    *slot = Some(Box::new(
                        restore_object(schemas, kind, object)
                            .ok_or_else(|| format!("malformed {name} singleton"))?,
                    ));
                }
            }
            KindStore::Members(_) => {
                let table = member_table(kind);
                for (id, object) in saved
                    .get("members")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let position = table
                        .iter()
                        .position(|(_, m)| m.eq_ignore_ascii_case(id))
                        .ok_or_else(|| format!("unknown {name} member {id}"))?;
                    let object = restore_object(schemas, kind, object)
                        .ok_or_else(|| format!("malformed {name} member"))?;
                    state.set_member(kind, position, object);
                }
            }
            KindStore::Action => {}
        }
    }
    Ok((id, SavedTenant { withdrawn, state }))
}

/// Read `dir/state.jsonl`, if it exists: saved tenants by lower-case id.
pub(crate) fn load(
    dir: &Path,
    schemas: &Schemas,
) -> Result<HashMap<String, SavedTenant>, StateFileError> {
    let path = dir.join(STATE_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(source) => return Err(StateFileError::Io { path, source }),
    };
    let malformed = |line: usize, message: String| StateFileError::Malformed {
        path: path.clone(),
        line,
        message,
    };
    let mut out = HashMap::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| StateFileError::Io {
            path: path.clone(),
            source,
        })?;
        let line = if number == 0 {
            crate::text::without_bom(&line)
        } else {
            &line
        };
        let record: Value =
            serde_json::from_str(line).map_err(|e| malformed(number + 1, e.to_string()))?;
        if number == 0 {
            if record.get("format").and_then(Value::as_str) != Some(STATE_FORMAT) {
                return Err(malformed(1, format!("expected format {STATE_FORMAT}")));
            }
            continue;
        }
        let (id, saved) = restore_tenant(schemas, &record).map_err(|m| malformed(number + 1, m))?;
        out.insert(id, saved);
    }
    Ok(out)
}

/// Permissions by tenant index from `INDEX:PERMISSION` pairs.
pub(crate) fn withdrawn_by_index(pairs: &[(usize, String)]) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (index, permission) in pairs {
        out.entry(*index).or_default().push(permission.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_identities_match_the_fleet_file() {
        let ids = fleet_identities("7", 4);
        assert_eq!(ids.len(), 4);
        for (i, (id, _)) in ids.iter().enumerate() {
            assert_eq!(id, &crate::source::init::fleet_tenant_id("7", i));
        }
        assert_eq!(ids[0].1, "Contoso 00000");
    }

    #[test]
    fn birth_objects_are_put_in_place_once_and_a_restart_keeps_what_became_of_them() {
        let schemas = crate::sim::bodies::schemas().unwrap_or_else(|e| panic!("{e}"));
        let tags = kinds::by_name("roleScopeTag").unwrap_or_else(|| panic!("kind"));
        let enrollment =
            kinds::by_name("deviceEnrollmentConfiguration").unwrap_or_else(|| panic!("kind"));
        let tenant = Tenant::new(0, "t1", "Tenant", Vec::new());
        {
            let mut state = tenant.lock();
            assert_eq!(state.live(tags).map(IndexMap::len), Some(0));
            state.materialize_birth_objects(tags, "t1", &schemas);
            state.materialize_birth_objects(tags, "t1", &schemas);
            assert_eq!(state.live(tags).map(IndexMap::len), Some(1));
            // The tenant lost its birth object; it must not come back.
            if let Some(live) = state.live_mut(tags) {
                live.shift_remove("0");
            }
        }
        let record = tenant_record(&tenant, &tenant.lock());
        let (_, saved) = restore_tenant(&schemas, &record).unwrap_or_else(|e| panic!("{e}"));
        let mut state = saved.state;
        state.materialize_birth_objects(tags, "t1", &schemas);
        assert_eq!(state.live(tags).map(IndexMap::len), Some(0));
        // A kind the tenant never touched still gets its birth objects after the restart.
        state.materialize_birth_objects(enrollment, "t1", &schemas);
        let ids: Vec<String> = state
            .live(enrollment)
            .map(|l| l.values().map(|o| o.key.to_string()).collect())
            .unwrap_or_default();
        assert_eq!(
            ids,
            [
                "t1_DefaultLimit",
                "t1_DefaultPlatformRestrictions",
                "t1_DefaultWindowsHelloForBusiness",
                "t1_DefaultWindows10EnrollmentCompletionPageConfiguration"
            ]
        );
    }

    #[test]
    fn birth_objects_pass_their_update_schema() {
        let schemas = crate::sim::bodies::schemas().unwrap_or_else(|e| panic!("{e}"));
        for kind in kinds::all()
            .iter()
            .filter(|k| defaults::has_collection_birth(k))
        {
            let objects = defaults::collection_birth(kind, "t1");
            assert!(!objects.is_empty(), "{}", kind.name);
            for mut value in objects {
                if let Value::Object(map) = &mut value {
                    for read_only in kind.schema.read_only {
                        map.remove(*read_only);
                    }
                }
                let result = schemas.check(kind, crate::compile::validate::Variant::Update, &value);
                assert!(result.is_ok(), "{}: {:?}\n{value}", kind.name, result.err());
            }
        }
    }

    #[test]
    fn defaults_pass_their_update_schema() {
        let schemas = crate::sim::bodies::schemas().unwrap_or_else(|e| panic!("{e}"));
        let defaults = Defaults::build(&schemas);
        for kind in kinds::all() {
            let mut objects: Vec<&StoredObject> = defaults.singleton(kind).into_iter().collect();
            objects.extend((0..member_table(kind).len()).filter_map(|i| defaults.member(kind, i)));
            for object in objects {
                let mut value = object.value();
                if let Value::Object(map) = &mut value {
                    for read_only in kind.schema.read_only {
                        map.remove(*read_only);
                    }
                    for server in [
                        "lastModifiedDateTime",
                        "policyVersion",
                        "isServiceDefault",
                        "deletedDateTime",
                    ] {
                        map.remove(server);
                    }
                }
                let result = schemas.check(kind, crate::compile::validate::Variant::Update, &value);
                assert!(result.is_ok(), "{}: {:?}\n{value}", kind.name, result.err());
            }
        }
    }
}
