//! Graph's own rules for a few policy kinds, beyond the generic collection semantics:
//! built-in objects that every tenant has and no one may change (the built-in authentication
//! strengths), properties only an action changes (`allowedCombinations`, through
//! `updateAllowedCombinations`; a PATCH carrying it is refused), and directory settings made
//! from a template (one per template; the template's name and its other values filled in).
//!
//! Input: the [`Call`], the tenant's state and the kind. Output: the [`Reply`] Graph would send,
//! or the body to store. Facts: Microsoft Learn, "Update authenticationStrengthPolicy",
//! "authenticationStrengthPolicy: updateAllowedCombinations", "Create settings" (group settings).

use serde_json::{Map, Value, json};

use crate::compile::validate::Variant;
use crate::kinds::{self, Kind};
use crate::sim::state::{StoredObject, TenantState};
use crate::sim::wire::Reply;

use super::{Call, not_allowed, not_found};

/// A directory setting template: `(id, displayName, description, [(value name, default)])`.
type SettingTemplate = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Directory setting templates the simulator knows: `(id, displayName, description,
/// [(value name, default value)])`. Microsoft Learn, "Consent Policy Settings" (the template
/// ScubaGear's MS.AAD.5.3 check reads `EnableAdminConsentRequests` from).
const SETTING_TEMPLATES: &[SettingTemplate] = &[(
    "dffd5d46-495d-40a9-8e21-954ff55e198a",
    "Consent Policy Settings",
    "Settings for a tenant's consent policy.",
    &[
        ("EnableGroupSpecificConsent", ""),
        ("BlockUserConsentForRiskyApps", "true"),
        ("EnableAdminConsentRequests", "false"),
        ("ConstrainGroupSpecificConsentToMembersOfGroupId", ""),
    ],
)];

fn bad_request(message: String) -> Reply {
    Reply::error(400, "Request_BadRequest", message)
}

/// The error Graph gives a write to a built-in object.
fn built_in_is_read_only(kind: &Kind, id: &str) -> Reply {
    bad_request(format!(
        "The built-in {} '{id}' cannot be modified or deleted.",
        kind.schema.root_type
    ))
}

impl Call<'_> {
    /// A request for a built-in object of a collection (found by id in the shared defaults):
    /// read it, refuse anything else.
    pub(super) fn built_in_target(&self, kind: &'static Kind, key: &str) -> Option<Reply> {
        let object = self.app.defaults.built_in(kind, key)?;
        Some(match self.request.method {
            "GET" => self.entity_reply(200, kind, object, kind.path.trim_start_matches('/')),
            _ => built_in_is_read_only(kind, key),
        })
    }

    /// Refuse a PATCH that carries a property only an action changes.
    pub(super) fn check_no_action_property(&self, kind: &Kind, body: &Value) -> Result<(), Reply> {
        for (_, property, action) in kinds::UPDATE_ACTIONS
            .iter()
            .filter(|(name, ..)| *name == kind.name)
        {
            if body.get(property).is_some() {
                return Err(bad_request(format!(
                    "Property '{property}' cannot be updated with PATCH; use the '{action}' action."
                )));
            }
        }
        Ok(())
    }

    /// `POST {collection}/{id}/{action}`: replace the one property the action changes and
    /// answer with what changed.
    pub(super) fn item_action_target(
        &self,
        state: &mut TenantState,
        kind: &'static Kind,
        key: &str,
    ) -> Reply {
        if self.request.method != "POST" {
            return not_allowed();
        }
        if self.app.defaults.built_in(kind, key).is_some() {
            return built_in_is_read_only(kind, key);
        }
        let Some((_, property, action)) = kinds::UPDATE_ACTIONS
            .iter()
            .find(|(name, ..)| *name == kind.name)
        else {
            return not_allowed();
        };
        let lookup = key.to_ascii_lowercase();
        let Some(current) = state
            .live(kind)
            .and_then(|l| l.get(lookup.as_str()))
            .cloned()
        else {
            return not_found(key);
        };
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let Some(value) = body.get(*property).cloned() else {
            return bad_request(format!(
                "The '{action}' action requires the parameter '{property}'."
            ));
        };
        if let Some(extra) = body
            .as_object()
            .and_then(|m| m.keys().find(|k| k.as_str() != *property))
        {
            return bad_request(format!(
                "The parameter '{extra}' in the request payload is not a valid parameter for the operation '{action}'."
            ));
        }
        let change = json!({ *property: value.clone() });
        if let Err(reply) = self.app.schemas.check(kind, Variant::Update, &change) {
            return reply;
        }
        let previous = current
            .value()
            .get(*property)
            .cloned()
            .unwrap_or(Value::Null);
        let object = match self.updated(state, kind, &current, change, false) {
            Ok(object) => object,
            Err(reply) => return reply,
        };
        if let Some(live) = state.live_mut(kind) {
            live.insert(lookup.into(), object);
        }
        Reply::json(
            200,
            json!({
                "@odata.context": self.context(&format!("microsoft.graph.{action}Result")),
                "previousCombinations": previous,
                "currentCombinations": value,
                "conditionalAccessReferences": [],
                "additionalInformation": null
            })
            .to_string(),
        )
    }

    /// A directory setting about to be created: at most one per template (Graph refuses a
    /// second), the template's display name, and its values with the template's defaults for
    /// those not sent. Templates the simulator does not know are taken as sent.
    pub(super) fn setting_from_template(
        &self,
        state: &TenantState,
        kind: &Kind,
        body: &mut Value,
    ) -> Result<(), Reply> {
        let Some(template) = body.get("templateId").and_then(Value::as_str) else {
            return Ok(());
        };
        let taken = state.live(kind).is_some_and(|live| {
            live.values().any(|o| {
                o.match_value
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(template))
            })
        });
        if taken {
            return Err(bad_request(format!(
                "A conflicting object with one or more of the specified property values is present in the directory: a setting from template '{template}' already exists."
            )));
        }
        let Some((_, name, _, defaults)) = SETTING_TEMPLATES
            .iter()
            .find(|(id, ..)| id.eq_ignore_ascii_case(template))
        else {
            return Ok(());
        };
        let Value::Object(map) = body else {
            return Ok(());
        };
        let sent: Vec<Value> = map
            .get("values")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for value in &sent {
            let known = value
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| defaults.iter().any(|(d, _)| d.eq_ignore_ascii_case(n)));
            if !known {
                return Err(bad_request(format!(
                    "Setting value '{}' is not defined by template '{name}'.",
                    value
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                )));
            }
        }
        let values: Vec<Value> = defaults
            .iter()
            .map(|(setting, default)| {
                sent.iter()
                    .find(|v| {
                        v.get("name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| n.eq_ignore_ascii_case(setting))
                    })
                    .cloned()
                    .unwrap_or_else(|| json!({"name": setting, "value": default}))
            })
            .collect();
        map.insert("displayName".into(), Value::from(*name));
        map.insert("values".into(), Value::Array(values));
        Ok(())
    }
}

/// What the service sets on a new object of these kinds: a custom authentication strength is
/// `policyType: custom`, satisfies MFA, and was modified when it was created.
pub(super) fn server_set(kind: &Kind, entity: &mut Map<String, Value>) {
    if kind.name == "authenticationStrengthPolicy" {
        entity.insert("policyType".into(), Value::from("custom"));
        entity.insert("requirementsSatisfied".into(), Value::from("mfa"));
        if let Some(created) = entity.get("createdDateTime").cloned() {
            entity.insert("modifiedDateTime".into(), created);
        }
    }
}

/// The stored built-ins of `kind` followed by the tenant's own objects, for a listing.
pub(super) fn with_built_ins<'a>(
    built_ins: &'a [StoredObject],
    own: impl Iterator<Item = &'a StoredObject>,
) -> impl Iterator<Item = &'a StoredObject> {
    built_ins.iter().chain(own)
}

/// A template's default values: name → default.
#[cfg(test)]
fn template_defaults(id: &str) -> Option<Map<String, Value>> {
    let (_, _, _, defaults) = SETTING_TEMPLATES.iter().find(|(t, ..)| *t == id)?;
    Some(
        defaults
            .iter()
            .map(|(n, v)| ((*n).to_string(), Value::from(*v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_policy_template_has_the_admin_consent_switch() {
        let values = template_defaults("dffd5d46-495d-40a9-8e21-954ff55e198a")
            .unwrap_or_else(|| panic!("template"));
        assert_eq!(values["EnableAdminConsentRequests"], "false");
        assert_eq!(values.len(), 4);
    }
}
