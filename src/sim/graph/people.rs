//! Users and group memberships as a client writes them, beside the read-only directory
//! (`directory.rs`): `POST /users` (Graph's required `accountEnabled`, `displayName`,
//! `mailNickname`, `userPrincipalName`, `passwordProfile`; a UPN used twice is refused),
//! `PATCH` and `DELETE /users/{id | userPrincipalName}` (not the administrator),
//! `GET /groups/{id}/members`, `POST /groups/{id}/members/$ref` (`{"@odata.id": ".../directoryObjects/{id}"}`)
//! and `DELETE /groups/{id}/members/{id}/$ref`. These are the users and memberships the
//! provisioning service reads. Shapes and errors: Microsoft Learn's "Create user", "Update
//! user", "Delete user", "Add members", "List group members", "Remove member".
//!
//! Input: a [`DirectoryTarget`] and the [`Call`]. Output: the [`Reply`] Graph would send.

use serde_json::{Value, json};

use crate::sim::seeded;
use crate::sim::wire::Reply;

use super::directory::{DirectoryTarget, admin_user};
use super::{Call, group_by_id, merge, not_allowed, not_found};

fn bad_request(message: impl Into<String>) -> Reply {
    Reply::error(400, "Request_BadRequest", message.into())
}

/// The user id a `$ref` body or path names (`…/directoryObjects/{id}` or `…/users/{id}`).
fn referenced_id(body: &Value) -> Option<String> {
    let link = body.get("@odata.id")?.as_str()?;
    let id = link.trim_end_matches('/').rsplit('/').next()?;
    let id = id
        .strip_prefix("directoryObjects('")
        .or_else(|| id.strip_prefix("users('"))
        .and_then(|s| s.strip_suffix("')"))
        .unwrap_or(id);
    (!id.is_empty()).then(|| id.to_ascii_lowercase())
}

impl Call<'_> {
    /// The id (lower case) of a user of `sync.users` named by id or UPN.
    fn user_key(&self, key: &str) -> Option<String> {
        let state = self.tenant.lock();
        state
            .sync
            .users
            .iter()
            .find(|(id, user)| {
                id.eq_ignore_ascii_case(key)
                    || user["userPrincipalName"]
                        .as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(key))
            })
            .map(|(id, _)| id.clone())
    }

    /// Answer a write to users, or a read or write of a group's members.
    pub(crate) fn people(&self, target: DirectoryTarget) -> Reply {
        let method = self.request.method;
        match (target, method) {
            (DirectoryTarget::Users, "POST") => self.create_user(),
            (DirectoryTarget::User(key), "PATCH" | "DELETE") => {
                let Some(id) = self.user_key(&key) else {
                    let admin =
                        admin_user(self.app.config.seed, &self.tenant.id, &self.tenant.name);
                    return if [&admin["id"], &admin["userPrincipalName"]]
                        .iter()
                        .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(&key)))
                    {
                        Reply::error(
                            403,
                            "Authorization_RequestDenied",
                            "Insufficient privileges to complete the operation.",
                        )
                    } else {
                        not_found(&key)
                    };
                };
                if method == "DELETE" {
                    let mut state = self.tenant.lock();
                    state.sync.users.remove(&id);
                    for members in state.sync.members.values_mut() {
                        members.remove(&id);
                    }
                    return Reply::empty(204);
                }
                let body = match self.body() {
                    Ok(body) => body,
                    Err(reply) => return reply,
                };
                if body.get("id").is_some() {
                    return bad_request("Property 'id' is read-only and cannot be set.");
                }
                let mut state = self.tenant.lock();
                if let Some(user) = state.sync.users.get_mut(&id) {
                    merge(user, body);
                }
                Reply::empty(204)
            }
            (DirectoryTarget::GroupMembers(group), "GET") => {
                let state = self.tenant.lock();
                let key = group.to_ascii_lowercase();
                if group_by_id(&state, &key).is_none() {
                    return not_found(&group);
                }
                let members: Vec<Value> = state
                    .sync
                    .members
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| state.sync.users.get(id))
                    .map(|u| {
                        json!({"@odata.type": "#microsoft.graph.user", "id": u["id"],
                            "displayName": u["displayName"], "userPrincipalName": u["userPrincipalName"]})
                    })
                    .collect();
                let body =
                    json!({"@odata.context": self.context("directoryObjects"), "value": members});
                Reply::json(200, body.to_string())
            }
            (DirectoryTarget::GroupMemberRef(group, None), "POST") => {
                let body = match self.body() {
                    Ok(body) => body,
                    Err(reply) => return reply,
                };
                let Some(member) = referenced_id(&body) else {
                    return bad_request(
                        "The request body must be {\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/{id}\"}.",
                    );
                };
                let mut state = self.tenant.lock();
                let key = group.to_ascii_lowercase();
                if group_by_id(&state, &key).is_none() {
                    return not_found(&group);
                }
                if !state.sync.users.contains_key(&member) {
                    return not_found(&member);
                }
                let members = state.sync.members.entry(key).or_default();
                if !members.insert(member) {
                    return bad_request(
                        "One or more added object references already exist for the following modified properties: 'members'.",
                    );
                }
                Reply::empty(204)
            }
            (DirectoryTarget::GroupMemberRef(group, Some(member)), "DELETE") => {
                let mut state = self.tenant.lock();
                let key = group.to_ascii_lowercase();
                if group_by_id(&state, &key).is_none() {
                    return not_found(&group);
                }
                let removed = state
                    .sync
                    .members
                    .get_mut(&key)
                    .is_some_and(|m| m.remove(&member.to_ascii_lowercase()));
                if removed {
                    Reply::empty(204)
                } else {
                    not_found(&member)
                }
            }
            _ => not_allowed(),
        }
    }

    fn create_user(&self) -> Reply {
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        for required in [
            "accountEnabled",
            "displayName",
            "mailNickname",
            "userPrincipalName",
            "passwordProfile",
        ] {
            if body.get(required).is_none_or(Value::is_null) {
                return bad_request(format!(
                    "Invalid value specified for property '{required}' of resource 'User'."
                ));
            }
        }
        let Some(upn) = body["userPrincipalName"].as_str().map(str::to_string) else {
            return bad_request(
                "Invalid value specified for property 'userPrincipalName' of resource 'User'.",
            );
        };
        if self.user_key(&upn).is_some() {
            return bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            );
        }
        let mut state = self.tenant.lock();
        state.next_object += 1;
        let id = seeded::guid(
            self.app.config.seed,
            &format!("{}/{}", self.tenant.id, state.next_object),
        );
        let mut user = admin_user(self.app.config.seed, &self.tenant.id, &self.tenant.name);
        for k in ["jobTitle", "department", "givenName", "surname", "mail"] {
            user[k] = Value::Null;
        }
        let mut fields = body;
        if let Value::Object(map) = &mut fields {
            // Never returned (Graph: "passwordProfile ... is not returned").
            map.remove("passwordProfile");
        }
        merge(&mut user, fields);
        user["id"] = json!(id);
        user["userType"] = json!("Member");
        state.sync.users.insert(id, user.clone());
        let mut out = serde_json::Map::new();
        out.insert(
            "@odata.context".into(),
            json!(self.context("users/$entity")),
        );
        if let Value::Object(map) = user {
            out.extend(map);
        }
        Reply::json(201, Value::Object(out).to_string())
    }
}
