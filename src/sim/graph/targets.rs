//! What a path resolves to, per shape of kind: collections and their items, alternate keys
//! (`uniqueName`, `tenantId`), singletons, fixed members, children, Intune `/assign` and
//! assignment sets, and `deletedItems`.

use crate::compile::validate::Variant;
use crate::kinds::{self, Kind, Method, Shape};
use crate::sim::routes::{alternate_key, soft_deletes};
use crate::sim::state::{StoredObject, TenantState, member_table, store};
use crate::sim::wire::{Reply, graph_timestamp, json_string};
use serde_json::{Map, Value};

use super::*;

/// Parent actions that answer 204 No Content: in the v1.0 CSDL, `assign` bound to
/// `targetedManagedAppProtection`, `deviceEnrollmentConfiguration` and `mobileApp` has no
/// `ReturnType` (unlike compliance policies' and device configurations', which return the new
/// assignments), and Microsoft Learn says the same of the beta feature update profile's
/// `assign`. Every `targetApps` answers 204 too.
const ACTIONS_WITHOUT_CONTENT: &[&str] = &[
    "androidManagedAppProtectionAssignment",
    "deviceEnrollmentConfigurationAssignment",
    "iosManagedAppProtectionAssignment",
    "mobileAppAssignment",
    "windowsFeatureUpdateProfileAssignment",
];

impl Call<'_> {
    pub(super) fn collection_target(&self, state: &mut TenantState, kind: &'static Kind) -> Reply {
        match self.request.method {
            "GET" => match state.live(kind) {
                Some(live) => self.list(
                    kind,
                    policies::with_built_ins(self.app.defaults.built_ins(kind), live.values()),
                    kind.path.trim_start_matches('/'),
                ),
                None => not_allowed(),
            },
            "POST" if kind.creates() => self.create_and_reply(state, kind, None),
            _ => not_allowed(),
        }
    }

    pub(super) fn item_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        key: &str,
    ) -> Reply {
        if let Some(reply) = self.built_in_target(kind, key) {
            return reply;
        }
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

    pub(super) fn write_update(
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
        self.check_no_action_property(kind, &body)?;
        self.check_references(state, kind, &body)?;
        let object = self.updated(state, kind, current, body, replace)?;
        if let Some(live) = state.live_mut(kind) {
            live.insert(current.key.to_ascii_lowercase().into(), object);
        }
        Ok(Reply::empty(204))
    }

    pub(super) fn delete(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        lookup: &str,
        current: &StoredObject,
    ) {
        if let Some(live) = state.live_mut(kind) {
            live.shift_remove(lookup);
        }
        for child in kinds::all().iter().filter(|k| k.shape == Shape::Child) {
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

    pub(super) fn alternate_key_target(
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

    pub(super) fn singleton_target(&self, state: &mut TenantState, kind: &'static Kind) -> Reply {
        let defaults = &self.app.defaults;
        let Some(current) = state.singleton(kind, defaults).cloned() else {
            return not_found(kind.name);
        };
        let fragment = kind.path.trim_start_matches('/');
        match self.request.method {
            "GET" => self.entity_reply(200, kind, &current, fragment),
            // PATCH merges; PUT (the singletons Graph replaces whole, such as the admin consent
            // request policy) replaces, checked like a create.
            method @ ("PATCH" | "PUT") => {
                let replace = method == "PUT";
                if replace != (kind.update_method == Method::Put) {
                    return not_allowed();
                }
                let result = self.checked_update(state, kind, &current, replace);
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

    /// Beta's view of a singleton as a collection of one (`GET /beta/policies/authorizationPolicy`).
    pub(super) fn singleton_collection_target(
        &self,
        state: &TenantState,
        kind: &'static Kind,
    ) -> Reply {
        if self.request.method != "GET" {
            return not_allowed();
        }
        let current = state.singleton(kind, &self.app.defaults);
        self.list(kind, current.into_iter(), kind.path.trim_start_matches('/'))
    }

    /// The one member of a beta collection singleton, by its id: the singleton itself.
    pub(super) fn singleton_member_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        id: &str,
    ) -> Reply {
        let known = state
            .singleton(kind, &self.app.defaults)
            .is_some_and(|o| o.key.eq_ignore_ascii_case(id));
        if !known {
            return not_found(id);
        }
        self.singleton_target(state, kind)
    }

    /// Check a PATCH body (or, with `replace`, a PUT body, checked like a create: schema,
    /// references) and apply it to `current`.
    pub(super) fn checked_update(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        current: &StoredObject,
        replace: bool,
    ) -> Result<StoredObject, Reply> {
        let body = self.body()?;
        let variant = if replace {
            Variant::Create
        } else {
            Variant::Update
        };
        self.app.schemas.check(kind, variant, &body)?;
        self.check_references(state, kind, &body)?;
        self.updated(state, kind, current, body, replace)
    }

    pub(super) fn members_target(&self, state: &TenantState, kind: &'static Kind) -> Reply {
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

    pub(super) fn member_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        id: &str,
    ) -> Reply {
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
                let result = self.checked_update(state, kind, &current, false);
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

    pub(super) fn child_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        parent: &str,
    ) -> Reply {
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
            .cloned()
            .or_else(|| self.born_child(kind, &lookup));
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
            ("PATCH", Some(current)) if kind.update_method == Method::Patch => {
                if current.value().get("isVerified") == Some(&Value::Bool(false)) {
                    return Reply::error(
                        400,
                        "Request_BadRequest",
                        "Only verified domains can be updated.",
                    );
                }
                self.write_update(state, kind, &current, false)
                    .unwrap_or_else(|r| r)
            }
            ("PATCH", None) if kind.update_method == Method::Patch => not_found(parent),
            ("DELETE", Some(_)) if !kind.creates() => not_allowed(),
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

    pub(super) fn assign_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        parent: &str,
    ) -> Reply {
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
        let listing = kind.action_listing().unwrap_or("assignments");
        // The set replaces the old one whole; an item sent twice is kept once (assignments by
        // their target, apps by their identifier).
        let mut items: Vec<Map<String, Value>> = Vec::new();
        for item in body
            .get(parameter)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Value::Object(mut item) = item.clone() else {
                continue;
            };
            item.remove("id");
            let identity = |i: &Map<String, Value>| {
                i.get("target")
                    .or_else(|| i.get("mobileAppIdentifier"))
                    .cloned()
            };
            if !items.iter().any(|i| identity(i) == identity(&item)) {
                items.push(item);
            }
        }
        let mut entities = Vec::with_capacity(items.len());
        for item in items {
            let id = match set_member_id(&item) {
                Some(suffix) if listing == "assignments" => format!("{parent}_{suffix}"),
                Some(app) => app,
                None => self.next_id(state),
            };
            let mut entity = Map::new();
            entity.insert("id".into(), Value::String(id));
            entity.extend(item);
            entities.push(Value::Object(entity));
        }
        let value = Value::Array(entities);
        let text = value.to_string();
        if let Some(object) = state
            .live_mut(parent_kind)
            .and_then(|live| live.get_mut(lookup.as_str()))
        {
            if listing == "assignments" {
                object.assignments = Some(Box::from(text.as_str()));
            } else {
                let mut hidden = object
                    .hidden
                    .as_deref()
                    .and_then(|h| serde_json::from_str::<Map<String, Value>>(h).ok())
                    .unwrap_or_default();
                hidden.insert(listing.to_string(), value);
                object.hidden = Some(Box::from(Value::Object(hidden).to_string().as_str()));
            }
        }
        if listing != "assignments" || ACTIONS_WITHOUT_CONTENT.contains(&kind.name) {
            return Reply::empty(204);
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

    pub(super) fn assignments_target(
        &self,
        state: &TenantState,
        kind: &'static Kind,
        parent: &str,
    ) -> Reply {
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
        let listing = kind.action_listing().unwrap_or("assignments");
        let stored = if listing == "assignments" {
            object.assignments.as_deref().map(str::to_string)
        } else {
            object
                .hidden
                .as_deref()
                .and_then(|h| serde_json::from_str::<Value>(h).ok())
                .and_then(|h| h.get(listing).map(Value::to_string))
        };
        let value = stored.as_deref().unwrap_or("[]");
        let fragment = format!(
            "{}('{parent}')/{listing}",
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

    pub(super) fn deleted_target(
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
}

/// The id Graph gives a member of a replaced set: an assignment's group (`{parent}_{group}`),
/// or a protected app's identifier with its platform (`com.microsoft.msedge.ios`); `None` when
/// the service makes one up.
pub(super) fn set_member_id(item: &Map<String, Value>) -> Option<String> {
    if let Some(group) = item
        .get("target")
        .and_then(|t| t.get("groupId"))
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        return Some(group);
    }
    let identifier = item.get("mobileAppIdentifier")?;
    let platform = identifier
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches('#').to_ascii_lowercase())?;
    let (key, suffix) = if platform.contains("ios") {
        ("bundleId", "ios")
    } else if platform.contains("android") {
        ("packageId", "android")
    } else {
        return None;
    };
    let id = identifier.get(key).and_then(Value::as_str)?;
    Some(format!("{id}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_without_content_are_parent_actions_of_the_registry() {
        for name in ACTIONS_WITHOUT_CONTENT {
            let kind = kinds::by_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(kind.shape, Shape::ParentAction, "{name}");
        }
    }

    #[test]
    fn set_members_take_graph_ids() {
        let group = json_map(r#"{"target": {"groupId": "g1"}}"#);
        assert_eq!(set_member_id(&group).as_deref(), Some("g1"));
        let ios = json_map(
            r##"{"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "com.microsoft.msedge"}}"##,
        );
        assert_eq!(
            set_member_id(&ios).as_deref(),
            Some("com.microsoft.msedge.ios")
        );
        let all = json_map(
            r##"{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}"##,
        );
        assert_eq!(set_member_id(&all), None);
    }

    fn json_map(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }
}
