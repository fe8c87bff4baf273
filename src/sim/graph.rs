//! Graph's resource semantics for every kind of the registry (graph-wire-facts.md sections 5
//! and 8.5): list with `$filter`/`$select`/`$top` and paging, get, create (201 with the full
//! entity), update (PATCH or PUT, 204), delete (soft delete into `deletedItems` where Graph
//! does), singletons, fixed members, group upsert by `uniqueName` with
//! `Prefer: create-if-missing`, partners keyed by `tenantId`, partner identity synchronization,
//! and Intune `/assign` with its replace-all semantics.
//!
//! Input: a [`Call`] (the tenant, the request, the parsed query) and the [`Target`] the path
//! resolved to. Output: the [`Reply`] Graph would send. Authentication, throttling and faults
//! happen before (see `service.rs`).

use serde_json::{Map, Value};

use crate::compile::validate::Variant;
use crate::kinds::{self, ApiVersion, Kind, Method, Shape};
use crate::sim::query::{MAX_TOP, Query, skiptoken};
use crate::sim::routes::{Target, alternate_key, key_property, soft_deletes};
use crate::sim::seeded;
use crate::sim::service::App;
use crate::sim::state::{StoredObject, Tenant, TenantState, member_table, store};
use crate::sim::wire::{Reply, graph_timestamp, json_string};
use crate::source::model::is_guid;

/// Properties Graph keeps but leaves out of GET (returned only with `$expand`).
const HIDDEN_ON_GET: &[(&str, &str)] = &[("deviceCompliancePolicy", "scheduledActionsForRule")];

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
    kinds::KINDS
        .iter()
        .find(|k| k.shape == Shape::Collection && child.path.starts_with(&format!("{}/{{", k.path)))
}

/// Action kinds (`/assign`) whose parent is `kind`.
fn assignment_kind_of(kind: &Kind) -> Option<&'static Kind> {
    kinds::KINDS
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

    fn version(&self) -> &'static str {
        self.request.version.segment()
    }

    fn context(&self, fragment: &str) -> String {
        format!(
            "{}/{}/$metadata#{fragment}",
            self.app.base_url,
            self.version()
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
        for name in &self.query.expand {
            let hidden = hidden_properties(kind).find(|p| p.eq_ignore_ascii_case(name));
            if let Some(property) = hidden {
                let stored: Option<Value> = object
                    .hidden
                    .as_deref()
                    .and_then(|h| serde_json::from_str::<Value>(h).ok())
                    .and_then(|h| h.get(property).cloned());
                map.insert(
                    property.to_string(),
                    stored.unwrap_or(Value::Array(Vec::new())),
                );
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
        let matching: Vec<&StoredObject> = objects
            .filter(|o| self.visible(o))
            .filter(|o| self.matches_filter(kind, o))
            .collect();
        let size = self
            .query
            .top
            .unwrap_or(self.app.config.page_size)
            .clamp(1, MAX_TOP);
        let start = self.query.offset.min(matching.len());
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
        if end < matching.len() {
            let query = &self.query.without_skiptoken;
            let separator = if query.is_empty() { "" } else { "&" };
            let next = format!(
                "{}/{}{}?{query}{separator}$skiptoken={}",
                self.app.base_url,
                self.version(),
                self.request.path,
                skiptoken(end)
            );
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
                    if !map.contains_key("id") {
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

    /// Create from the request body (POST, or an upsert that found nothing), store the object
    /// and answer 201 with it.
    fn create_and_reply(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        alternate: Option<(&'static str, &str)>,
    ) -> Reply {
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        match self.create(state, kind, body, alternate) {
            Ok(object) => {
                let reply =
                    self.entity_reply(201, kind, &object, kind.path.trim_start_matches('/'));
                if let Some(live) = state.live_mut(kind) {
                    live.insert(object.key.to_ascii_lowercase().into(), object);
                }
                reply
            }
            Err(reply) => reply,
        }
    }

    /// Build and store a new object of a collection kind; `alternate` is the alternate key
    /// from an upsert URL.
    fn create(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        mut body: Value,
        alternate: Option<(&'static str, &str)>,
    ) -> Result<StoredObject, Reply> {
        if let (Some((property, value)), Value::Object(map)) = (alternate, &mut body) {
            match map.get(property).and_then(Value::as_str) {
                Some(sent) if sent != value => {
                    return Err(Reply::error(
                        400,
                        "Request_BadRequest",
                        format!(
                            "The value of '{property}' in the request body does not match the key in the URL."
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    map.insert(property.into(), Value::String(value.to_string()));
                }
            }
        }
        self.app.schemas.check(kind, Variant::Create, &body)?;
        self.check_references(state, kind, &body)?;
        let key_name = key_property(kind);
        if key_name != "id" {
            let key = body
                .get(key_name)
                .and_then(Value::as_str)
                .unwrap_or_default();
            if state
                .live(kind)
                .is_some_and(|live| live.contains_key(key.to_ascii_lowercase().as_str()))
            {
                return Err(Reply::error(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    format!(
                        "A {} with {key_name} '{key}' already exists.",
                        kind.schema.root_type
                    ),
                ));
            }
        }
        if let Some(property) = alternate_key(kind)
            && let Some(value) = body.get(property).and_then(Value::as_str)
            && state.live(kind).is_some_and(|live| {
                live.values().any(|o| {
                    o.match_value
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(value))
                })
            })
        {
            return Err(Reply::error(
                400,
                "Request_MultipleObjectsWithSameKeyValue",
                format!(
                    "Another object with the same value for property {property} already exists."
                ),
            ));
        }
        let Value::Object(fields) = body else {
            return Err(not_allowed());
        };
        let mut entity = Map::new();
        if let Some(t) = fields.get("@odata.type") {
            entity.insert("@odata.type".into(), t.clone());
        }
        let id = (key_name == "id").then(|| self.next_id(state));
        if let Some(id) = &id {
            entity.insert("id".into(), Value::String(id.clone()));
        }
        entity.extend(fields);
        self.server_fields(kind, &mut entity, id.as_deref());
        let mut entity = Value::Object(entity);
        self.app.schemas.fill_defaults(kind, &mut entity);
        let hidden = match &mut entity {
            Value::Object(map) => self.split_hidden(state, kind, map),
            _ => None,
        };
        let key = match &id {
            Some(id) => id.clone(),
            None => entity
                .get(key_name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let mut object = store(
            &self.app.schemas,
            kind,
            &key,
            &entity,
            self.clock_ms + self.app.config.replication_delay_ms,
        );
        object.hidden = hidden;
        Ok(object)
    }

    /// The entity after an update: merged (PATCH) or replaced (PUT), server fields touched.
    fn updated(
        &self,
        state: &mut TenantState,
        kind: &Kind,
        current: &StoredObject,
        mut body: Value,
        replace: bool,
    ) -> Result<StoredObject, Reply> {
        if kind.schema.odata_type_required {
            let sent = body.get("@odata.type").and_then(Value::as_str);
            let existing = current.value();
            let had = existing.get("@odata.type").and_then(Value::as_str);
            if had.is_some() && !same_odata_type(sent, had) {
                return Err(Reply::error(
                    400,
                    "Request_BadRequest",
                    format!(
                        "The @odata.type '{}' in the request body does not match the type of the object, '{}'.",
                        sent.unwrap_or_default(),
                        had.unwrap_or_default()
                    ),
                ));
            }
        }
        let mut hidden = current.hidden.clone();
        if let Value::Object(map) = &mut body
            && hidden_properties(kind).any(|p| map.contains_key(p))
        {
            hidden = self.split_hidden(state, kind, map);
        }
        let mut entity = current.value();
        if replace && let Value::Object(map) = &mut entity {
            map.retain(|k, _| {
                matches!(k.as_str(), "@odata.type" | "id" | "createdDateTime")
                    || k == key_property(kind)
            });
        }
        merge(&mut entity, body);
        if let Value::Object(map) = &mut entity {
            let now = Value::String(graph_timestamp(self.now_ms));
            for stamp in ["modifiedDateTime", "lastModifiedDateTime"] {
                if map.contains_key(stamp) {
                    map.insert(stamp.into(), now.clone());
                }
            }
            if let Some(version) = map.get("version").and_then(Value::as_i64) {
                map.insert("version".into(), Value::from(version + 1));
            }
            if map.contains_key("isServiceDefault") {
                map.insert("isServiceDefault".into(), Value::Bool(false));
            }
        }
        self.app.schemas.fill_defaults(kind, &mut entity);
        if let Value::Object(map) = &mut entity {
            for property in hidden_properties(kind) {
                map.remove(property);
            }
        }
        let mut object = store(
            &self.app.schemas,
            kind,
            &current.key,
            &entity,
            current.visible_at_ms,
        );
        object.hidden = hidden;
        object.assignments = current.assignments.clone();
        Ok(object)
    }

    fn collection_target(&self, state: &mut TenantState, kind: &'static Kind) -> Reply {
        match self.request.method {
            "GET" => match state.live(kind) {
                Some(live) => self.list(kind, live.values(), kind.path.trim_start_matches('/')),
                None => not_allowed(),
            },
            "POST" if kind.creates() => self.create_and_reply(state, kind, None),
            _ => not_allowed(),
        }
    }

    fn item_target(&self, state: &mut TenantState, kind: &'static Kind, key: &str) -> Reply {
        let lookup = key.to_ascii_lowercase();
        let Some(current) = state
            .live(kind)
            .and_then(|l| l.get(lookup.as_str()))
            .cloned()
        else {
            return not_found(key);
        };
        match self.request.method {
            "GET" if self.visible(&current) => {
                self.entity_reply(200, kind, &current, kind.path.trim_start_matches('/'))
            }
            "GET" => not_found(key),
            "PATCH" | "PUT" => {
                let method = if self.request.method == "PATCH" {
                    Method::Patch
                } else {
                    Method::Put
                };
                if method != kind.update_method {
                    return not_allowed();
                }
                self.write_update(state, kind, &current, method == Method::Put)
                    .unwrap_or_else(|r| r)
            }
            "DELETE" => {
                self.delete(state, kind, &lookup, &current);
                Reply::empty(204)
            }
            _ => not_allowed(),
        }
    }

    fn write_update(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        current: &StoredObject,
        replace: bool,
    ) -> Result<Reply, Reply> {
        let body = self.body()?;
        let variant = if replace {
            Variant::Create
        } else {
            Variant::Update
        };
        self.app.schemas.check(kind, variant, &body)?;
        self.check_references(state, kind, &body)?;
        let object = self.updated(state, kind, current, body, replace)?;
        if let Some(live) = state.live_mut(kind) {
            live.insert(current.key.to_ascii_lowercase().into(), object);
        }
        Ok(Reply::empty(204))
    }

    fn delete(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        lookup: &str,
        current: &StoredObject,
    ) {
        if let Some(live) = state.live_mut(kind) {
            live.shift_remove(lookup);
        }
        for child in kinds::KINDS.iter().filter(|k| k.shape == Shape::Child) {
            if parent_collection(child).is_some_and(|p| p.name == kind.name)
                && let Some(children) = state.live_mut(child)
            {
                children.shift_remove(lookup);
            }
        }
        if soft_deletes(kind) {
            let mut entity = current.value();
            if let Value::Object(map) = &mut entity {
                map.insert(
                    "deletedDateTime".into(),
                    Value::String(graph_timestamp(self.now_ms)),
                );
            }
            let mut object = store(&self.app.schemas, kind, &current.key, &entity, 0);
            object.hidden = current.hidden.clone();
            if let Some(deleted) = state.deleted_mut(kind) {
                deleted.insert(lookup.into(), object);
            }
        }
    }

    fn alternate_key_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        value: &str,
    ) -> Reply {
        let Some(property) = alternate_key(kind) else {
            return not_allowed();
        };
        let existing = state.live(kind).and_then(|live| {
            live.values()
                .find(|o| {
                    o.match_value
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(value))
                })
                .cloned()
        });
        match (self.request.method, existing) {
            ("GET", Some(object)) if self.visible(&object) => {
                self.entity_reply(200, kind, &object, kind.path.trim_start_matches('/'))
            }
            ("GET", _) => not_found(value),
            ("PATCH", Some(object)) => self
                .write_update(state, kind, &object, false)
                .unwrap_or_else(|r| r),
            ("PATCH", None) if self.prefers("create-if-missing") => {
                self.create_and_reply(state, kind, Some((property, value)))
            }
            ("PATCH", None) => not_found(value),
            ("DELETE", Some(object)) => {
                let lookup = object.key.to_ascii_lowercase();
                self.delete(state, kind, &lookup, &object);
                Reply::empty(204)
            }
            ("DELETE", None) => not_found(value),
            _ => not_allowed(),
        }
    }

    fn singleton_target(&self, state: &mut TenantState, kind: &'static Kind) -> Reply {
        let defaults = &self.app.defaults;
        let Some(current) = state.singleton(kind, defaults).cloned() else {
            return not_found(kind.name);
        };
        let fragment = kind.path.trim_start_matches('/');
        match self.request.method {
            "GET" => self.entity_reply(200, kind, &current, fragment),
            "PATCH" => {
                let result = self.checked_update(state, kind, &current);
                match result {
                    Ok(object) => {
                        *state.store_mut(kind) =
                            crate::sim::state::KindStore::Singleton(Some(Box::new(object)));
                        Reply::empty(204)
                    }
                    Err(reply) => reply,
                }
            }
            _ => not_allowed(),
        }
    }

    /// Check a PATCH body (schema, references) and apply it to `current`.
    fn checked_update(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        current: &StoredObject,
    ) -> Result<StoredObject, Reply> {
        let body = self.body()?;
        self.app.schemas.check(kind, Variant::Update, &body)?;
        self.check_references(state, kind, &body)?;
        self.updated(state, kind, current, body, false)
    }

    fn members_target(&self, state: &TenantState, kind: &'static Kind) -> Reply {
        if self.request.method != "GET" {
            return not_allowed();
        }
        let defaults = &self.app.defaults;
        let members: Vec<&StoredObject> = (0..member_table(kind).len())
            .filter_map(|i| state.member(kind, i, defaults))
            .collect();
        let fragment = member_set_fragment(kind);
        self.list(kind, members.into_iter(), fragment)
    }

    fn member_target(&self, state: &mut TenantState, kind: &'static Kind, id: &str) -> Reply {
        let table = member_table(kind);
        let Some(position) = table.iter().position(|(_, m)| m.eq_ignore_ascii_case(id)) else {
            return not_found(id);
        };
        let defaults = &self.app.defaults;
        let Some(current) = state.member(kind, position, defaults).cloned() else {
            return not_found(id);
        };
        let fragment = member_set_fragment(kind);
        match self.request.method {
            "GET" => self.entity_reply(200, kind, &current, fragment),
            "PATCH" => {
                let result = self.checked_update(state, kind, &current);
                match result {
                    Ok(object) => {
                        state.set_member(kind, position, object);
                        Reply::empty(204)
                    }
                    Err(reply) => reply,
                }
            }
            _ => not_allowed(),
        }
    }

    fn child_target(&self, state: &mut TenantState, kind: &'static Kind, parent: &str) -> Reply {
        let lookup = parent.to_ascii_lowercase();
        let parent_exists = parent_collection(kind).is_none_or(|p| {
            state
                .live(p)
                .and_then(|live| live.get(lookup.as_str()))
                .is_some()
        });
        if !parent_exists {
            return not_found(parent);
        }
        let current = state
            .live(kind)
            .and_then(|live| live.get(lookup.as_str()))
            .cloned();
        let placeholder = kind.path_params.first().map_or("", |(name, _)| *name);
        let fragment = kind
            .path
            .replace(&format!("/{{{placeholder}}}"), &format!("('{parent}')"));
        let fragment = fragment.trim_start_matches('/');
        match (self.request.method, current) {
            ("GET", Some(object)) => self.entity_reply(200, kind, &object, fragment),
            ("GET", None) => not_found(parent),
            ("PUT", current) if kind.update_method == Method::Put => {
                let result = self.body().and_then(|mut body| {
                    let field = match kind.path_params.first() {
                        Some((_, kinds::PathParam::BodyField(field))) => Some(*field),
                        _ => None,
                    };
                    if let (Some(field), Value::Object(map)) = (field, &mut body) {
                        match map.get(field).and_then(Value::as_str) {
                            Some(sent) if !sent.eq_ignore_ascii_case(parent) => {
                                return Err(Reply::error(
                                    400,
                                    "Request_BadRequest",
                                    format!("The value of '{field}' in the request body does not match the key in the URL."),
                                ));
                            }
                            Some(_) => {}
                            None => {
                                map.insert(field.into(), Value::String(parent.to_string()));
                            }
                        }
                    }
                    self.app.schemas.check(kind, Variant::Create, &body)?;
                    self.check_references(state, kind, &body)?;
                    match &current {
                        Some(existing) => self.updated(state, kind, existing, body, true),
                        None => {
                            let mut entity = body;
                            self.app.schemas.fill_defaults(kind, &mut entity);
                            Ok(store(&self.app.schemas, kind, parent, &entity, 0))
                        }
                    }
                });
                match result {
                    Ok(object) => {
                        if let Some(live) = state.live_mut(kind) {
                            live.insert(lookup.into(), object);
                        }
                        Reply::empty(204)
                    }
                    Err(reply) => reply,
                }
            }
            ("DELETE", Some(_)) => {
                if let Some(live) = state.live_mut(kind) {
                    live.shift_remove(lookup.as_str());
                }
                Reply::empty(204)
            }
            ("DELETE", None) => not_found(parent),
            _ => not_allowed(),
        }
    }

    fn assign_target(&self, state: &mut TenantState, kind: &'static Kind, parent: &str) -> Reply {
        if self.request.method != "POST" {
            return not_allowed();
        }
        let Some(parent_kind) = kind.parent_kind.and_then(kinds::by_name) else {
            return not_allowed();
        };
        let lookup = parent.to_ascii_lowercase();
        if state
            .live(parent_kind)
            .and_then(|live| live.get(lookup.as_str()))
            .is_none()
        {
            return not_found(parent);
        }
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        if let Err(reply) = self.app.schemas.check(kind, Variant::Create, &body) {
            return reply;
        }
        if let Err(reply) = self.check_references(state, kind, &body) {
            return reply;
        }
        let parameter = kind.schema.action_parameter.unwrap_or("assignments");
        let mut targets: Vec<Value> = Vec::new();
        for assignment in body
            .get(parameter)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let target = assignment.get("target").cloned().unwrap_or(Value::Null);
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        let mut assignments = Vec::with_capacity(targets.len());
        for target in targets {
            let suffix = match target.get("groupId").and_then(Value::as_str) {
                Some(group) => group.to_string(),
                None => self.next_id(state),
            };
            let mut entity = Map::new();
            entity.insert("id".into(), Value::String(format!("{parent}_{suffix}")));
            entity.insert("target".into(), target);
            assignments.push(Value::Object(entity));
        }
        let value = Value::Array(assignments);
        let text = value.to_string();
        if let Some(object) = state
            .live_mut(parent_kind)
            .and_then(|live| live.get_mut(lookup.as_str()))
        {
            object.assignments = Some(Box::from(text.as_str()));
        }
        Reply::json(
            200,
            format!(
                "{{\"@odata.context\":{},\"value\":{text}}}",
                json_string(&self.context(&format!(
                    "Collection(microsoft.graph.{})",
                    kind.schema.root_type
                )))
            ),
        )
    }

    fn assignments_target(&self, state: &TenantState, kind: &'static Kind, parent: &str) -> Reply {
        if self.request.method != "GET" {
            return not_allowed();
        }
        let Some(parent_kind) = kind.parent_kind.and_then(kinds::by_name) else {
            return not_allowed();
        };
        let Some(object) = state
            .live(parent_kind)
            .and_then(|live| live.get(parent.to_ascii_lowercase().as_str()))
        else {
            return not_found(parent);
        };
        let value = object.assignments.as_deref().unwrap_or("[]");
        let fragment = format!(
            "{}('{parent}')/assignments",
            parent_kind.path.trim_start_matches('/')
        );
        Reply::json(
            200,
            format!(
                "{{\"@odata.context\":{},\"value\":{value}}}",
                json_string(&self.context(&fragment))
            ),
        )
    }

    fn deleted_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        id: Option<&str>,
    ) -> Reply {
        let fragment = format!(
            "identity/conditionalAccess/deletedItems/{}",
            kind.path.rsplit('/').next().unwrap_or_default()
        );
        match (self.request.method, id) {
            ("GET", None) => match state.deleted(kind) {
                Some(deleted) => self.list(kind, deleted.values(), &fragment),
                None => not_allowed(),
            },
            ("GET", Some(id)) => match state
                .deleted(kind)
                .and_then(|d| d.get(id.to_ascii_lowercase().as_str()))
            {
                Some(object) => self.entity_reply(200, kind, object, &fragment),
                None => not_found(id),
            },
            ("DELETE", Some(id)) => {
                let removed = state
                    .deleted_mut(kind)
                    .and_then(|d| d.shift_remove(id.to_ascii_lowercase().as_str()));
                match removed {
                    Some(_) => Reply::empty(204),
                    None => not_found(id),
                }
            }
            _ => not_allowed(),
        }
    }

    /// Answer the request for `target`, under the tenant's lock.
    pub(crate) fn handle(&self, target: Target) -> Reply {
        let mut state = self.tenant.lock();
        let state = &mut *state;
        match target {
            Target::Collection(kind) => self.collection_target(state, kind),
            Target::Item(kind, key) => self.item_target(state, kind, &key),
            Target::AlternateKey(kind, value) => self.alternate_key_target(state, kind, &value),
            Target::Singleton(kind) => self.singleton_target(state, kind),
            Target::Members(kind) => self.members_target(state, kind),
            Target::Member(kind, id) => self.member_target(state, kind, &id),
            Target::Child(kind, parent) => self.child_target(state, kind, &parent),
            Target::Assign(kind, parent) => self.assign_target(state, kind, &parent),
            Target::Assignments(kind, parent) => self.assignments_target(state, kind, &parent),
            Target::DeletedCollection(kind) => self.deleted_target(state, kind, None),
            Target::DeletedItem(kind, id) => self.deleted_target(state, kind, Some(&id)),
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
