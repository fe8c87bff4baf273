//! Parent sets that Graph writes member by member, not with an `/assign` that replaces them:
//! the assignments of a Windows Autopilot deployment profile (Microsoft Learn, beta
//! `windowsAutopilotDeploymentProfileAssignment`: list and create under
//! `.../windowsAutopilotDeploymentProfiles/{id}/assignments`, get and delete by id). The
//! members are kept where the parent's `/assign` sets are (the parent object's stored
//! assignments), so the listing reads the same way.
//!
//! Input: the parent key, the member id (if any), the request. Output: a [`Reply`].

use serde_json::{Map, Value, json};

use crate::compile::validate::Variant;
use crate::kinds::{self, Kind};
use crate::sim::state::TenantState;
use crate::sim::wire::Reply;

use super::targets::set_member_id;
use super::{Call, not_allowed, not_found};

impl Call<'_> {
    /// `GET`/`POST .../{parent}/assignments`, `GET`/`DELETE .../assignments/{id}`.
    pub(super) fn member_set_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        parent: &str,
        member: Option<&str>,
    ) -> Reply {
        let Some(parent_kind) = kind.parent_kind.and_then(kinds::by_name) else {
            return not_allowed();
        };
        let lookup = parent.to_ascii_lowercase();
        let Some(object) = state
            .live(parent_kind)
            .and_then(|live| live.get(lookup.as_str()))
        else {
            return not_found(parent);
        };
        let mut members: Vec<Value> = object
            .assignments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        let same_id = |m: &Value, id: &str| {
            m.get("id")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(id))
        };
        let context = |fragment: String| self.context(&fragment);
        let listing = format!(
            "{}('{parent}')/assignments",
            parent_kind.path.trim_start_matches('/')
        );
        let reply = match (self.request.method, member) {
            ("GET", None) => return self.assignments_target(state, kind, parent),
            ("GET", Some(id)) => {
                return match members.iter().find(|m| same_id(m, id)) {
                    Some(found) => {
                        Reply::json(200, entity(found, context(format!("{listing}/$entity"))))
                    }
                    None => not_found(id),
                };
            }
            ("POST", None) => {
                let body = match self.body() {
                    Ok(body) => body,
                    Err(reply) => return reply,
                };
                // One member is checked as the set's schema checks each of its items.
                let as_set = json!({ "assignments": [body.clone()] });
                if let Err(reply) = self.app.schemas.check(kind, Variant::Create, &as_set) {
                    return reply;
                }
                if let Err(reply) = self.check_references(state, kind, &as_set) {
                    return reply;
                }
                let Value::Object(mut item) = body else {
                    return not_allowed();
                };
                item.remove("id");
                let id = match set_member_id(&item) {
                    Some(group) => format!("{parent}_{group}"),
                    None => self.next_id(state),
                };
                let mut created = Map::new();
                created.insert(
                    "@odata.type".into(),
                    json!(format!("#microsoft.graph.{}", kind.schema.root_type)),
                );
                created.insert("id".into(), Value::String(id.clone()));
                item.remove("@odata.type");
                created.extend(item);
                let created = Value::Object(created);
                // A second assignment to the same group replaces the first (one per target).
                members.retain(|m| !same_id(m, &id));
                members.push(created.clone());
                Reply::json(201, entity(&created, context(format!("{listing}/$entity"))))
            }
            ("DELETE", Some(id)) => {
                let before = members.len();
                members.retain(|m| !same_id(m, id));
                if members.len() == before {
                    return not_found(id);
                }
                Reply::empty(204)
            }
            _ => return not_allowed(),
        };
        if let Some(object) = state
            .live_mut(parent_kind)
            .and_then(|live| live.get_mut(lookup.as_str()))
        {
            object.assignments = Some(Box::from(Value::Array(members).to_string().as_str()));
        }
        reply
    }
}

/// One member as Graph answers it, with its `@odata.context`.
fn entity(member: &Value, context: String) -> String {
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context));
    if let Value::Object(m) = member {
        out.extend(m.clone());
    }
    Value::Object(out).to_string()
}
