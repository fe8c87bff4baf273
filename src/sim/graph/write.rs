//! Writes: create (201 with the full entity, server fields, ids, references checked), update
//! (PATCH merge or PUT replace, 204) and the checks every write shares.

use crate::compile::validate::Variant;
use crate::kinds::Kind;
use crate::sim::routes::{alternate_key, key_property};
use crate::sim::state::{StoredObject, TenantState, store};
use crate::sim::wire::{Reply, graph_timestamp};
use serde_json::{Map, Value};

use super::*;

impl Call<'_> {
    /// Create from the request body (POST, or an upsert that found nothing), store the object
    /// and answer 201 with it.
    pub(super) fn create_and_reply(
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
    pub(super) fn create(
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
        if kind.name == "directorySetting" {
            self.setting_from_template(state, kind, &mut body)?;
        }
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
        super::policies::server_set(kind, &mut entity);
        let mut entity = Value::Object(entity);
        self.app.schemas.fill_defaults(kind, &mut entity);
        crate::sim::defaults::expand_references(&mut entity);
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
    pub(super) fn updated(
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
        // A replacement keeps what the service owns: the id, the key, and the kind's read-only
        // properties (a PUT cannot carry them).
        if replace && let Value::Object(map) = &mut entity {
            map.retain(|k, _| {
                matches!(k.as_str(), "@odata.type" | "id" | "createdDateTime")
                    || k == key_property(kind)
                    || kind.schema.read_only.contains(&k.as_str())
            });
        }
        // A navigation set by reference replaces the expanded entity; it is not merged into it.
        if body
            .pointer("/grantControls/authenticationStrength")
            .is_some()
            && let Some(Value::Object(grant)) = entity.pointer_mut("/grantControls")
        {
            grant.remove("authenticationStrength");
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
        crate::sim::defaults::expand_references(&mut entity);
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
}
