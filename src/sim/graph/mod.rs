//! Graph's resource semantics for every kind of the registry (graph-wire-facts.md sections 5
//! and 8.5): list with `$filter`/`$select`/`$top` and paging, get, create (201 with the full
//! entity), update (PATCH or PUT, 204), delete (soft delete into `deletedItems` where Graph
//! does), singletons, fixed members, group upsert by `uniqueName` with
//! `Prefer: create-if-missing`, partners keyed by `tenantId`, partner identity synchronization,
//! and Intune `/assign` with its replace-all semantics.
//!
//! Input: a [`Call`] (the tenant, the request, the parsed query) and the [`Target`] the path
//! resolved to. Output: the [`Reply`] Graph would send. Authentication, throttling and faults
//! happen before (see `service.rs`). Reading and rendering are here; writes are in
//! `write.rs`, and what each path resolves to, per shape, in `targets.rs`.

use serde_json::{Map, Value};

use crate::kinds::{self, ApiVersion, Kind, Shape};
use crate::sim::query::{MAX_TOP, Query, skiptoken};
use crate::sim::routes::Target;
use crate::sim::seeded;
use crate::sim::service::App;
use crate::sim::state::{StoredObject, Tenant, TenantState};
use crate::sim::wire::{Reply, graph_timestamp, json_string};
use crate::source::model::is_guid;

pub(crate) mod directory;
mod domains;
pub(crate) mod licensing;
mod member_sets;
pub(crate) mod organization;
mod people;
pub(crate) mod pim;
mod policies;
mod provisioning;
pub(crate) mod provisioning_log;
pub(crate) mod sync;
mod targets;
pub(crate) mod tcm;
mod write;

/// A group of the tenant by id (lower case), as stored.
pub(crate) fn group_by_id(state: &TenantState, id: &str) -> Option<Value> {
    let kind = kinds::by_name("group")?;
    state
        .live(kind)?
        .get(id.to_ascii_lowercase().as_str())
        .map(StoredObject::value)
}

/// The id of a group named by id or `uniqueName`.
pub(crate) fn group_id(state: &TenantState, name: &str) -> Option<String> {
    let kind = kinds::by_name("group")?;
    let live = state.live(kind)?;
    live.iter()
        .find(|(key, object)| {
            key.eq_ignore_ascii_case(name)
                || object
                    .match_value
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(name))
        })
        .map(|(key, _)| key.to_string())
}

pub(crate) use directory::{PERMISSIONS as DIRECTORY_PERMISSIONS, resolve as resolve_directory};

/// Properties Graph keeps but leaves out of GET (returned only with `$expand`).
const HIDDEN_ON_GET: &[(&str, &str)] = &[
    ("deviceCompliancePolicy", "scheduledActionsForRule"),
    // App protection lists its apps at `/apps` and with `$expand=apps`, written by `/targetApps`.
    ("androidManagedAppProtection", "apps"),
    ("iosManagedAppProtection", "apps"),
];

/// Navigation properties inside a hidden property's items that Graph returns only when the
/// hidden property's own `$expand` names them: `$expand=scheduledActionsForRule` gives the
/// rules without their `scheduledActionConfigurations`;
/// `scheduledActionsForRule($expand=scheduledActionConfigurations)` gives both.
const NESTED_HIDDEN: &[(&str, &str)] =
    &[("scheduledActionsForRule", "scheduledActionConfigurations")];

/// `items` (a hidden property's value) without the nested navigation properties `expanded`
/// does not name.
fn without_unexpanded(property: &str, expanded: &[String], mut items: Value) -> Value {
    for (_, nested) in NESTED_HIDDEN.iter().filter(|(p, _)| *p == property) {
        if expanded.iter().any(|e| e.eq_ignore_ascii_case(nested)) {
            continue;
        }
        if let Value::Array(items) = &mut items {
            for item in items {
                if let Value::Object(map) = item {
                    map.remove(*nested);
                }
            }
        }
    }
    items
}

/// Directory-object relationships a kind can `$expand`; the simulator keeps no members or
/// owners, so they expand to an empty collection.
const EXPANDABLE_RELATIONSHIPS: &[(&str, &str)] = &[("group", "members"), ("group", "owners")];

/// True for kinds whose objects are directory objects (advanced-query rules apply).
fn is_directory_kind(kind: &Kind) -> bool {
    kind.path.eq_ignore_ascii_case("/groups")
}

/// Properties a directory collection of this kind sorts by without advanced queries
/// (Microsoft Learn, "Advanced query capabilities": groups by displayName).
fn default_sortable(kind: &Kind) -> &'static [&'static str] {
    if is_directory_kind(kind) {
        &["displayName"]
    } else {
        &[]
    }
}

/// One Graph request, relative to the version root.
#[derive(Debug, Clone)]
pub(crate) struct GraphRequest<'a> {
    /// Upper-case method.
    pub(crate) method: &'a str,
    /// `/v1.0` or `/beta`.
    pub(crate) version: ApiVersion,
    /// Path after the version segment, starting with `/`, percent-encoded as sent.
    pub(crate) path: &'a str,
    /// Raw query without `?`.
    pub(crate) query: &'a str,
    /// The `Prefer` header(s), comma-joined.
    pub(crate) prefer: &'a str,
    /// Body bytes.
    pub(crate) body: &'a [u8],
    /// `scheme://host[:port]` the client called (the base of `@odata.context` and
    /// `@odata.nextLink`).
    pub(crate) origin: &'a str,
    /// The `ConsistencyLevel` header (a `$batch` item's own).
    pub(crate) consistency_level: Option<&'a str>,
}

/// Everything a handler needs.
pub(crate) struct Call<'a> {
    /// The simulator.
    pub(crate) app: &'a App,
    /// The caller's tenant.
    pub(crate) tenant: &'a Tenant,
    /// The request.
    pub(crate) request: &'a GraphRequest<'a>,
    /// Its query options.
    pub(crate) query: Query,
    /// Wall-clock milliseconds (timestamps).
    pub(crate) now_ms: i64,
    /// Clock milliseconds (replication delay).
    pub(crate) clock_ms: u64,
    /// Who is calling (for the audit logs).
    pub(crate) actor: &'a crate::sim::audit::Actor,
}

fn not_allowed() -> Reply {
    Reply::error(
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

fn not_found(key: &str) -> Reply {
    Reply::error(
        404,
        "Request_ResourceNotFound",
        format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn type_name(kind: &Kind, value: &Value) -> String {
    let odata = value
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches('#').to_string());
    odata.unwrap_or_else(|| format!("microsoft.graph.{}", kind.schema.root_type))
}

fn same_odata_type(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |t: Option<&str>| t.map(|t| t.trim_start_matches('#').to_ascii_lowercase());
    norm(a) == norm(b)
}

/// PATCH semantics: objects merge property by property (a different `@odata.type` replaces),
/// everything else is replaced.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(existing), Value::Object(changes)) => {
            for (name, value) in changes {
                match existing.get_mut(&name) {
                    Some(current)
                        if current.is_object()
                            && value.is_object()
                            && same_odata_type(
                                current.get("@odata.type").and_then(Value::as_str),
                                value
                                    .get("@odata.type")
                                    .and_then(Value::as_str)
                                    .or(current.get("@odata.type").and_then(Value::as_str)),
                            ) =>
                    {
                        merge(current, value);
                    }
                    _ => {
                        existing.insert(name, value);
                    }
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

/// Every string at a JSON pointer pattern (`*` = any array item or object member).
fn strings_at<'v>(value: &'v Value, pattern: &[&str], out: &mut Vec<&'v str>) {
    let Some((first, rest)) = pattern.split_first() else {
        if let Some(s) = value.as_str() {
            out.push(s);
        }
        return;
    };
    match (*first, value) {
        ("*", Value::Array(items)) => items.iter().for_each(|v| strings_at(v, rest, out)),
        ("*", Value::Object(map)) => map.values().for_each(|v| strings_at(v, rest, out)),
        (name, Value::Object(map)) => {
            if let Some(child) = map.get(name) {
                strings_at(child, rest, out);
            }
        }
        _ => {}
    }
}

/// The collection kind a child kind hangs under (`partners` for identity synchronization).
fn parent_collection(child: &Kind) -> Option<&'static Kind> {
    kinds::all()
        .iter()
        .find(|k| k.shape == Shape::Collection && child.path.starts_with(&format!("{}/{{", k.path)))
}

/// Action kinds (`/assign`) whose parent is `kind`.
fn assignment_kind_of(kind: &Kind) -> Option<&'static Kind> {
    kinds::all()
        .iter()
        .find(|k| k.shape == Shape::ParentAction && k.parent_kind == Some(kind.name))
}

fn hidden_properties(kind: &Kind) -> impl Iterator<Item = &'static str> + '_ {
    HIDDEN_ON_GET
        .iter()
        .filter(move |(k, _)| *k == kind.name)
        .map(|(_, p)| *p)
}

impl Call<'_> {
    fn prefers(&self, token: &str) -> bool {
        self.request
            .prefer
            .split(',')
            .any(|p| p.trim().eq_ignore_ascii_case(token))
    }

    /// True when the request sent `ConsistencyLevel: eventual`.
    fn eventual(&self) -> bool {
        self.request
            .consistency_level
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("eventual"))
    }

    fn version(&self) -> &'static str {
        self.request.version.segment()
    }

    /// `scheme://host[:port]` of the URLs in answers (`@odata.context`, `@odata.nextLink`).
    fn base_url(&self) -> &str {
        self.request.origin
    }

    fn context(&self, fragment: &str) -> String {
        format!(
            "{}/{}/$metadata#{fragment}",
            self.base_url(),
            self.version()
        )
    }

    /// The absolute `@odata.nextLink` of the page that starts at `offset`: the request's own
    /// URL and query options, with a `$skiptoken` for the offset.
    fn next_link(&self, offset: usize) -> String {
        let query = &self.query.without_skiptoken;
        let separator = if query.is_empty() { "" } else { "&" };
        format!(
            "{}/{}{}?{query}{separator}$skiptoken={}",
            self.base_url(),
            self.version(),
            self.request.path,
            skiptoken(offset)
        )
    }

    fn body(&self) -> Result<Value, Reply> {
        serde_json::from_slice::<Value>(self.request.body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                Reply::error(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                )
            })
    }

    fn visible(&self, object: &StoredObject) -> bool {
        object.visible(self.clock_ms)
    }

    /// The next server id for this tenant.
    fn next_id(&self, state: &mut TenantState) -> String {
        state.next_object += 1;
        seeded::guid(
            self.app.config.seed,
            &format!("{}/{}", self.tenant.id, state.next_object),
        )
    }

    /// The entity text of an object as this request asks for it (evolvable members masked
    /// unless `Prefer: include-unknown-enum-members`, `$select`, `$expand`), with an
    /// `@odata.context` first when given.
    fn render(
        &self,
        kind: &Kind,
        object: &StoredObject,
        context: Option<String>,
    ) -> Result<String, Reply> {
        let mask = object.evolvable && !self.prefers("include-unknown-enum-members");
        if !mask && self.query.select.is_none() && self.query.expand.is_empty() {
            return Ok(match context {
                Some(context) => {
                    let text = object.text();
                    let rest = text.strip_prefix('{').unwrap_or("}");
                    let separator = if rest == "}" { "" } else { "," };
                    format!(
                        "{{\"@odata.context\":{}{separator}{rest}",
                        json_string(&context)
                    )
                }
                None => object.text(),
            });
        }
        let mut value = object.value();
        if mask {
            self.app.schemas.mask_evolvable(kind, &mut value);
        }
        let Value::Object(mut map) = value else {
            return Ok(object.text());
        };
        for (i, name) in self.query.expand.iter().enumerate() {
            let hidden = hidden_properties(kind).find(|p| p.eq_ignore_ascii_case(name));
            if let Some(property) = hidden {
                let stored: Option<Value> = object
                    .hidden
                    .as_deref()
                    .and_then(|h| serde_json::from_str::<Value>(h).ok())
                    .and_then(|h| h.get(property).cloned());
                let nested = self
                    .query
                    .expand_nested
                    .get(i)
                    .map_or(&[][..], Vec::as_slice);
                map.insert(
                    property.to_string(),
                    without_unexpanded(
                        property,
                        nested,
                        stored.unwrap_or(Value::Array(Vec::new())),
                    ),
                );
            } else if let Some((_, relationship)) = EXPANDABLE_RELATIONSHIPS
                .iter()
                .find(|(k, r)| *k == kind.name && r.eq_ignore_ascii_case(name))
            {
                map.insert((*relationship).to_string(), Value::Array(Vec::new()));
            } else if name.eq_ignore_ascii_case("assignments") && assignment_kind_of(kind).is_some()
            {
                let assignments = object
                    .assignments
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok())
                    .unwrap_or(Value::Array(Vec::new()));
                map.insert("assignments".into(), assignments);
            } else {
                return Err(Reply::error(
                    400,
                    "Request_BadRequest",
                    format!(
                        "Could not find a property named '{name}' on type '{}'.",
                        type_name(kind, &Value::Object(map))
                    ),
                ));
            }
        }
        if let Some(select) = &self.query.select {
            let mut selected = Map::new();
            if let Some(t) = map.get("@odata.type") {
                selected.insert("@odata.type".into(), t.clone());
            }
            for name in select {
                match map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    Some((k, v)) => {
                        selected.insert(k.clone(), v.clone());
                    }
                    None => {
                        return Err(Reply::error(
                            400,
                            "Request_BadRequest",
                            format!(
                                "Could not find a property named '{name}' on type '{}'.",
                                type_name(kind, &Value::Object(map))
                            ),
                        ));
                    }
                }
            }
            for name in &self.query.expand {
                if let Some((k, v)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    selected.insert(k.clone(), v.clone());
                }
            }
            map = selected;
        }
        let mut out = Map::new();
        if let Some(context) = context {
            out.insert("@odata.context".into(), Value::String(context));
        }
        out.extend(map);
        Ok(Value::Object(out).to_string())
    }

    fn entity_reply(
        &self,
        status: u16,
        kind: &Kind,
        object: &StoredObject,
        fragment: &str,
    ) -> Reply {
        match self.render(
            kind,
            object,
            Some(self.context(&format!("{fragment}/$entity"))),
        ) {
            Ok(text) => Reply::json(status, text),
            Err(reply) => reply,
        }
    }

    fn matches_filter(&self, kind: &Kind, object: &StoredObject) -> bool {
        if self.query.filter.is_empty() {
            return true;
        }
        let indexed = kind.match_key.first();
        if let (Some(key), [clause], Some(value)) = (
            indexed,
            self.query.filter.as_slice(),
            object.match_value.as_deref(),
        ) && clause.property == *key
            && let Value::String(wanted) = &clause.value
        {
            return value.to_lowercase() == wanted.to_lowercase();
        }
        self.query.matches(&object.value())
    }

    /// A collection page: `@odata.context`, `@odata.nextLink` when more remain, `value`.
    fn list<'o>(
        &self,
        kind: &Kind,
        objects: impl Iterator<Item = &'o StoredObject>,
        fragment: &str,
    ) -> Reply {
        let with_count = match self.query.check(
            is_directory_kind(kind),
            self.eventual(),
            default_sortable(kind),
        ) {
            Ok(with_count) => with_count,
            Err(reply) => return reply,
        };
        let mut matching: Vec<&StoredObject> = objects
            .filter(|o| self.visible(o))
            .filter(|o| self.matches_filter(kind, o))
            .collect();
        if self.query.search.is_some() || self.query.orderby.is_some() {
            let mut keyed: Vec<(&StoredObject, Value)> = matching
                .into_iter()
                .map(|o| (o, o.value()))
                .filter(|(_, v)| self.query.search_matches(v))
                .collect();
            self.query.sort(&mut keyed);
            matching = keyed.into_iter().map(|(o, _)| o).collect();
        }
        let size = self
            .query
            .top
            .unwrap_or(self.app.config.page_size)
            .clamp(1, MAX_TOP);
        let start = self.query.start().min(matching.len());
        let end = (start + size).min(matching.len());
        let mut items = Vec::with_capacity(end - start);
        for object in &matching[start..end] {
            match self.render(kind, object, None) {
                Ok(text) => items.push(text),
                Err(reply) => return reply,
            }
        }
        let context_fragment = match &self.query.select {
            Some(select) => format!("{fragment}({})", select.join(",")),
            None => fragment.to_string(),
        };
        let mut text = format!(
            "{{\"@odata.context\":{}",
            json_string(&self.context(&context_fragment))
        );
        if with_count && self.query.offset.is_none() {
            text.push_str(&format!(",\"@odata.count\":{}", matching.len()));
        }
        if end < matching.len() {
            let next = self.next_link(end);
            text.push_str(&format!(",\"@odata.nextLink\":{}", json_string(&next)));
        }
        text.push_str(",\"value\":[");
        text.push_str(&items.join(","));
        text.push_str("]}");
        Reply::json(200, text)
    }

    /// Every reference in the body (the kind's `ref_slots`) must name an object that exists
    /// and that replication has made visible; values that are not GUIDs (`All`, `all_users`)
    /// are special values and pass.
    fn check_references(
        &self,
        state: &TenantState,
        kind: &Kind,
        body: &Value,
    ) -> Result<(), Reply> {
        for slot in kind.ref_slots {
            let pattern: Vec<&str> = slot.pointer.trim_start_matches('/').split('/').collect();
            let mut found = Vec::new();
            strings_at(body, &pattern, &mut found);
            let Some(target) = kinds::by_name(slot.kind) else {
                continue;
            };
            for id in found.into_iter().filter(|id| is_guid(id)) {
                let exists = state
                    .live(target)
                    .and_then(|live| live.get(id.to_ascii_lowercase().as_str()))
                    .is_some_and(|o| self.visible(o));
                if !exists {
                    return Err(Reply::error(
                        400,
                        "Request_BadRequest",
                        format!(
                            "Invalid object identifier '{id}'. The source resource object or one of the objects being referenced do not exist."
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Server-set properties on a new entity: timestamps, version, the group's computed fields.
    fn server_fields(&self, kind: &Kind, entity: &mut Map<String, Value>, id: Option<&str>) {
        let now = Value::String(graph_timestamp(self.now_ms));
        let probe = Value::Object(entity.clone());
        for property in kind.schema.read_only.iter().copied().chain([
            "createdDateTime",
            "modifiedDateTime",
            "lastModifiedDateTime",
            "deletedDateTime",
            "renewedDateTime",
            "version",
        ]) {
            if entity.contains_key(property) || !self.app.schemas.declares(kind, &probe, property) {
                continue;
            }
            let value = match property {
                "createdDateTime" | "lastModifiedDateTime" | "renewedDateTime" => now.clone(),
                "version" => Value::from(1),
                "proxyAddresses" => Value::Array(Vec::new()),
                "securityIdentifier" => Value::String(format!(
                    "S-1-12-1-{}",
                    id.map_or(0, |id| seeded::derive(self.app.config.seed, id) as u32)
                )),
                "id" => continue,
                _ => Value::Null,
            };
            entity.insert(property.to_string(), value);
        }
    }

    /// Split the properties GET leaves out (and give their entities ids, as Graph does).
    fn split_hidden(
        &self,
        state: &mut TenantState,
        kind: &Kind,
        entity: &mut Map<String, Value>,
    ) -> Option<Box<str>> {
        let mut hidden = Map::new();
        for property in hidden_properties(kind) {
            if let Some(mut value) = entity.remove(property) {
                self.give_ids(state, &mut value);
                hidden.insert(property.to_string(), value);
            }
        }
        (!hidden.is_empty()).then(|| Box::from(Value::Object(hidden).to_string().as_str()))
    }

    fn give_ids(&self, state: &mut TenantState, value: &mut Value) {
        if let Value::Array(items) = value {
            for item in items {
                if let Value::Object(map) = item {
                    if map.get("id").is_none_or(Value::is_null) {
                        let id = self.next_id(state);
                        map.insert("id".into(), Value::String(id));
                    }
                    for child in map.values_mut() {
                        if child.is_array() {
                            self.give_ids(state, child);
                        }
                    }
                }
            }
        }
    }

    /// Answer the request for `target`, under the tenant's lock.
    pub(crate) fn handle(&self, target: Target) -> Reply {
        let mut state = self.tenant.lock();
        let state = &mut *state;
        let write = self.request.method != "GET";
        let before = if write {
            self.observe(state, &target)
        } else {
            None
        };
        // A beta kind that v1.0 serves read-only (`kinds::READ_ONLY_ON_V1`).
        if write
            && target.kind().api_version == ApiVersion::Beta
            && self.request.version == ApiVersion::V1
        {
            return not_allowed();
        }
        let audited = write.then(|| target.clone());
        self.materialize_birth_objects(state, &target);
        let reply = match target {
            Target::Collection(kind) => self.collection_target(state, kind),
            Target::Item(kind, key) => self.item_target(state, kind, &key),
            Target::ItemAction(kind, key) => self.item_action_target(state, kind, &key),
            Target::AlternateKey(kind, value) => self.alternate_key_target(state, kind, &value),
            Target::Singleton(kind) => self.singleton_target(state, kind),
            Target::SingletonCollection(kind) => self.singleton_collection_target(state, kind),
            Target::SingletonMember(kind, id) => self.singleton_member_target(state, kind, &id),
            Target::Members(kind) => self.members_target(state, kind),
            Target::Member(kind, id) => self.member_target(state, kind, &id),
            Target::Child(kind, parent) => self.child_target(state, kind, &parent),
            Target::Assign(kind, parent) => self.assign_target(state, kind, &parent),
            Target::Assignments(kind, parent) if kind.writes_members() => {
                self.member_set_target(state, kind, &parent, None)
            }
            Target::Assignments(kind, parent) => self.assignments_target(state, kind, &parent),
            Target::AssignmentMember(kind, parent, member) => {
                self.member_set_target(state, kind, &parent, Some(&member))
            }
            Target::DeletedCollection(kind) => self.deleted_target(state, kind, None),
            Target::DeletedItem(kind, id) => self.deleted_target(state, kind, Some(&id)),
        };
        if let Some(target) = audited
            && (200..300).contains(&reply.status)
        {
            self.audit(state, &target, before, &reply);
        }
        reply
    }

    /// Put the objects a new tenant has in a collection (Intune's Default scope tag, the
    /// default enrollment restrictions) in place the first time a request touches the kind or
    /// the parent of an action, so untouched tenants stay small.
    fn materialize_birth_objects(&self, state: &mut TenantState, target: &Target) {
        let kind = target.kind();
        let parent = kind.parent_kind.and_then(kinds::by_name);
        for kind in std::iter::once(kind).chain(parent) {
            state.materialize_birth_objects(kind, &self.tenant.id, &self.app.schemas);
        }
    }

    /// The object a write addresses as it is now (for the audit logs), with its assignments
    /// for `/assign` and for a member written to a parent's set.
    fn observe(&self, state: &TenantState, target: &Target) -> Option<Value> {
        let defaults = &self.app.defaults;
        match target {
            Target::Item(kind, key) | Target::ItemAction(kind, key) | Target::Child(kind, key) => {
                state
                    .live(kind)?
                    .get(key.to_ascii_lowercase().as_str())
                    .map(StoredObject::value)
            }
            Target::AlternateKey(kind, value) => state
                .live(kind)?
                .values()
                .find(|o| {
                    o.match_value
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(value))
                })
                .map(StoredObject::value),
            Target::Singleton(kind) => state.singleton(kind, defaults).map(StoredObject::value),
            Target::Member(kind, id) => {
                let position = crate::sim::state::member_table(kind)
                    .iter()
                    .position(|(_, m)| m.eq_ignore_ascii_case(id))?;
                state
                    .member(kind, position, defaults)
                    .map(StoredObject::value)
            }
            Target::Assign(kind, parent)
            | Target::Assignments(kind, parent)
            | Target::AssignmentMember(kind, parent, _) => {
                let parent_kind = kinds::by_name(kind.parent_kind?)?;
                let object = state
                    .live(parent_kind)?
                    .get(parent.to_ascii_lowercase().as_str())?;
                let assignments = object
                    .assignments
                    .as_deref()
                    .and_then(|a| serde_json::from_str::<Value>(a).ok())
                    .unwrap_or(Value::Array(Vec::new()));
                let value = object.value();
                Some(serde_json::json!({
                    "id": value.get("id").cloned().unwrap_or(Value::Null),
                    "displayName": value.get("displayName").cloned().unwrap_or(Value::Null),
                    "assignments": assignments,
                }))
            }
            _ => None,
        }
    }

    /// Log a successful write in the tenant's audit log.
    fn audit(
        &self,
        state: &mut TenantState,
        target: &Target,
        before: Option<Value>,
        reply: &Reply,
    ) {
        use crate::sim::audit::{self, Operation};
        let created = match (&target, &reply.body) {
            (Target::Collection(_), crate::sim::wire::ReplyBody::Json(text)) => {
                serde_json::from_str::<Value>(text).ok()
            }
            _ => None,
        };
        let after = match created {
            Some(created) => Some(created),
            None => self.observe(state, target),
        };
        let (kind, operation) = match target {
            // An assignment set changed, whole or one member: Intune logs it on the parent.
            Target::Assign(kind, _)
            | Target::Assignments(kind, _)
            | Target::AssignmentMember(kind, _, _) => {
                match kind.parent_kind.and_then(kinds::by_name) {
                    Some(parent) => (parent, Operation::Assign),
                    None => return,
                }
            }
            _ if self.request.method == "DELETE" => (target.kind(), Operation::Delete),
            _ if before.is_none() => (target.kind(), Operation::Add),
            _ => (target.kind(), Operation::Update),
        };
        let after = if operation == Operation::Delete {
            None
        } else {
            after
        };
        let change = audit::Change {
            kind,
            operation,
            before: before.as_ref(),
            after: after.as_ref(),
            actor: self.actor,
            tenant_id: &self.tenant.id,
            sequence: state.audit.len(),
            now_ms: self.now_ms,
            seed: self.app.config.seed,
        };
        if let Some(entry) = audit::entry(&change) {
            state.audit.push(entry);
        }
    }
}

/// The `@odata.context` fragment of a fixed-member set: its path without the `{id}` segment.
fn member_set_fragment(kind: &Kind) -> &'static str {
    kind.path
        .trim_start_matches('/')
        .rsplit_once('/')
        .map_or(kind.path, |(set, _)| set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patches_objects_and_replaces_arrays() {
        let mut target = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"});
        merge(&mut target, json!({"a": {"c": [3]}, "d": null}));
        assert_eq!(target, json!({"a": {"b": 1, "c": [3]}, "d": null}));
    }

    #[test]
    fn references_are_found_by_pattern() {
        let body = json!({"conditions": {"users": {"excludeGroups": ["g1", "g2"]}}});
        let mut found = Vec::new();
        strings_at(
            &body,
            &["conditions", "users", "excludeGroups", "*"],
            &mut found,
        );
        assert_eq!(found, vec!["g1", "g2"]);
    }

    #[test]
    fn child_kinds_find_their_parent_collection() {
        let sync = kinds::by_name("crossTenantIdentitySyncPolicyPartner")
            .unwrap_or_else(|| panic!("kind"));
        assert_eq!(
            parent_collection(sync).map(|k| k.name),
            Some("crossTenantAccessPolicyPartner")
        );
    }
}
