//! Import, third step: an object as another tool saved it → the body a create request takes,
//! driven by the kind's generated create schema (`src/schema/generated/`).
//!
//! The schema knows what Graph computes (a property whose schema is `false` is read-only:
//! `id`, timestamps, `version`), which properties the API version tenantform deploys to has,
//! and where `@odata.type` is required (abstract types: named locations, external-tenant
//! conditions). So: OData annotations (`@odata.context`, `@odata.id`, `@odata.editLink`,
//! `<prop>@odata.type`, navigation links) and bound actions (`#microsoft.graph.restore`) go;
//! `@odata.type` stays where the schema requires it; read-only properties go; a property the
//! schema lacks goes when it is empty (`null`, `[]`, `{}`: beta exports carry dozens) and is
//! reported when it holds a value (a beta-only feature: never trimmed silently).
//!
//! Input: a kind and a JSON value. Output: [`Cleaned`].

use serde_json::{Map, Value};

/// A property left out of the body because the kind's API version has no such property.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported {
    /// JSON pointer of the property in the source object.
    pub pointer: String,
    /// Its value in the source.
    pub value: Value,
}

/// An object reduced to what a create request may carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    /// The body.
    pub body: Value,
    /// Properties with a value that the schema does not know.
    pub unsupported: Vec<Unsupported>,
    /// Synthetic reference keys another tool added (IntuneManagement's `#CustomRef_*`).
    pub custom_refs: Vec<String>,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Server-computed properties the backup tools themselves strip before re-creating an object
/// (IntuneCD's `remove_keys`, IntuneManagement's import), for when the schema of the deployed
/// API version does not list them (they are beta's): dropped quietly, not reported.
const SERVER_FIELDS: &[&str] = &[
    "deployedAppCount",
    "highestAvailableVersion",
    "isAssigned",
    "isGlobalScript",
    "lastSyncDateTime",
    "secretReferenceValueId",
    "settingCount",
    "supportsScopeTags",
    "topicIdentifier",
];

fn is_server_field(key: &str, value: &Value) -> bool {
    // A decrypted OMA-URI value is saved with `isEncrypted: false`; `true` would mean a value
    // the backup could not decrypt, which must be reported.
    SERVER_FIELDS.contains(&key) || (key == "isEncrypted" && value == &Value::Bool(false))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Follow `$ref`s into `$defs` (bounded, so a cyclic schema cannot loop).
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(target) = node.get("$ref").and_then(Value::as_str) else {
            return node;
        };
        let Some(name) = target.strip_prefix("#/$defs/") else {
            return node;
        };
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(next) => node = next,
            None => return node,
        }
    }
    node
}

/// The schema an object value is checked against, with the union branch its `@odata.type`
/// picks merged in.
struct ObjectSchema<'a> {
    properties: Vec<&'a Map<String, Value>>,
    closed: bool,
    type_required: bool,
}

fn object_schema<'a>(
    root: &'a Value,
    node: &'a Value,
    object: &Map<String, Value>,
) -> ObjectSchema<'a> {
    let mut schema = ObjectSchema {
        properties: Vec::new(),
        closed: false,
        type_required: false,
    };
    let odata_type = object.get("@odata.type").and_then(Value::as_str);
    let mut pending = vec![node];
    let mut seen = 0;
    while let Some(raw) = pending.pop() {
        seen += 1;
        if seen > 32 {
            break;
        }
        let required = raw
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|v| v == "@odata.type"));
        schema.type_required |= required;
        let node = resolve(root, raw);
        schema.type_required |= node
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|v| v == "@odata.type"));
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            schema.properties.push(props);
        }
        if node.get("additionalProperties") == Some(&Value::Bool(false)) {
            schema.closed = true;
        }
        for branch in node
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let matches = branch
                .pointer("/if/properties/@odata.type/enum")
                .and_then(Value::as_array)
                .is_some_and(|e| odata_type.is_some_and(|t| e.iter().any(|v| v == t)));
            if let (true, Some(then)) = (matches, branch.get("then")) {
                pending.push(then);
            }
        }
    }
    schema
}

/// The schema of a value (after `$ref`s and nullable `if/else`), or `None` for "anything".
fn value_schema<'a>(root: &'a Value, node: &'a Value, value: &Value) -> &'a Value {
    let node = resolve(root, node);
    if node.pointer("/if/type") == Some(&Value::String("null".into())) {
        if value.is_null() {
            return &Value::Bool(true);
        }
        if let Some(otherwise) = node.get("else") {
            return resolve(root, otherwise);
        }
    }
    node
}

struct Walk<'a> {
    root: &'a Value,
    unsupported: Vec<Unsupported>,
    custom_refs: Vec<String>,
}

impl Walk<'_> {
    fn value(&mut self, node: &Value, value: Value, pointer: &str) -> Value {
        let node = value_schema(self.root, node, &value);
        match value {
            Value::Object(object) => Value::Object(self.object(node, object, pointer)),
            Value::Array(items) => {
                let item_schema = node.get("items").cloned().unwrap_or(Value::Bool(true));
                Value::Array(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| self.value(&item_schema, item, &format!("{pointer}/{i}")))
                        .collect(),
                )
            }
            other => other,
        }
    }

    fn object(
        &mut self,
        node: &Value,
        object: Map<String, Value>,
        pointer: &str,
    ) -> Map<String, Value> {
        let root = self.root;
        let schema = object_schema(root, node, &object);
        let mut out = Map::new();
        for (key, value) in object {
            let at = format!("{pointer}/{}", escape(&key));
            if key.starts_with("#CustomRef") {
                self.custom_refs.push(at);
                continue;
            }
            if key.starts_with('#') {
                continue; // a bound action (`#microsoft.graph.restore`)
            }
            if key == "@odata.type" {
                if schema.type_required {
                    out.insert(key, value);
                }
                continue;
            }
            let property = schema.properties.iter().find_map(|p| p.get(&key));
            match property {
                Some(Value::Bool(false)) => {} // read-only: the service sets it
                Some(sub) => {
                    let sub = sub.clone();
                    let cleaned = self.value(&sub, value, &at);
                    out.insert(key, cleaned);
                }
                None if key.contains("@odata.") => {} // annotations and links
                None if !schema.closed => {
                    out.insert(key, value);
                }
                None if is_empty(&value) || is_server_field(&key, &value) => {}
                None => self.unsupported.push(Unsupported { pointer: at, value }),
            }
        }
        out
    }
}

/// Reduce `object` to a create body by `schema` (a generated schema document).
pub fn clean(schema: &Value, object: Value) -> Cleaned {
    let mut walk = Walk {
        root: schema,
        unsupported: Vec::new(),
        custom_refs: Vec::new(),
    };
    let body = walk.value(schema, object, "");
    Cleaned {
        body,
        unsupported: walk.unsupported,
        custom_refs: walk.custom_refs,
    }
}

/// The generated create schema of a kind (the update schema for kinds never created).
pub fn schema_for(kind: &crate::kinds::Kind) -> Option<Value> {
    let variant = if kind.creates() { "create" } else { "update" };
    let text =
        crate::source::shipped::schema(&format!("{}.{variant}.schema.json", kind.schema.id))?;
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ca_schema() -> Value {
        schema_for(crate::kinds::by_name("conditionalAccessPolicy").expect("kind")).expect("schema")
    }

    #[test]
    fn annotations_server_fields_and_empty_beta_properties_go_types_graph_needs_stay() {
        let source = json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#identity/conditionalAccess/policies/$entity",
            "@odata.id": "https://graph.microsoft.com/beta/identity/conditionalAccess/policies('x')",
            "@odata.editLink": "identity/conditionalAccess/policies('x')",
            "#microsoft.graph.restore": {"title": "microsoft.graph.restore", "target": "x/restore"},
            "@odata.type": "#microsoft.graph.conditionalAccessPolicy",
            "id": "1b6e4a8c-0000-4000-8000-000000000001",
            "createdDateTime": "2024-01-01T00:00:00Z",
            "modifiedDateTime": null,
            "deletedDateTime": null,
            "partialEnablementStrategy": null,
            "displayName": "MFA",
            "state": "enabled",
            "conditions": {
                "@odata.type": "#microsoft.graph.conditionalAccessConditionSet",
                "times": null,
                "clientAppTypes": ["all"],
                "clientAppTypes@odata.type": "#Collection(microsoft.graph.conditionalAccessClientApp)",
                "users": {
                    "includeUsers": ["All"],
                    "excludeGuestsOrExternalUsers": {
                        "@odata.type": "#microsoft.graph.conditionalAccessGuestsOrExternalUsers",
                        "guestOrExternalUserTypes": "b2bCollaborationGuest",
                        "externalTenants": {
                            "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
                            "membershipKind": "enumerated",
                            "members": ["%OrganizationId%"]
                        }
                    }
                },
                "applications": {"includeApplications": ["All"], "applicationFilter": null}
            },
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength@odata.context": "x"}
        });
        let cleaned = clean(&ca_schema(), source);
        assert_eq!(
            cleaned.body,
            json!({
                "displayName": "MFA",
                "state": "enabled",
                "conditions": {
                    "clientAppTypes": ["all"],
                    "users": {
                        "includeUsers": ["All"],
                        "excludeGuestsOrExternalUsers": {
                            "guestOrExternalUserTypes": "b2bCollaborationGuest",
                            "externalTenants": {
                                "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
                                "membershipKind": "enumerated",
                                "members": ["%OrganizationId%"]
                            }
                        }
                    },
                    "applications": {"includeApplications": ["All"], "applicationFilter": null}
                },
                "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
            })
        );
        assert!(cleaned.unsupported.is_empty(), "{:?}", cleaned.unsupported);
    }

    #[test]
    fn a_beta_only_feature_with_a_value_is_reported_not_kept_silently() {
        let source = json!({
            "displayName": "Insider risk",
            "state": "enabled",
            "conditions": {"users": {"includeUsers": ["All"]}},
            "sessionControls": {"continuousAccessEvaluation": {"mode": "strictLocation"}},
            "#CustomRef_x": "a|:|b",
            "supportsScopeTags": true,
            "isEncrypted": true
        });
        let cleaned = clean(&ca_schema(), source);
        assert_eq!(
            cleaned.unsupported,
            vec![
                Unsupported {
                    pointer: "/sessionControls/continuousAccessEvaluation".into(),
                    value: json!({"mode": "strictLocation"})
                },
                Unsupported {
                    pointer: "/isEncrypted".into(),
                    value: json!(true)
                }
            ]
        );
        assert_eq!(cleaned.custom_refs, vec!["/#CustomRef_x".to_string()]);
        assert!(
            cleaned
                .body
                .pointer("/conditions/insiderRiskLevels")
                .is_none()
        );
    }

    #[test]
    fn named_locations_keep_the_type_that_picks_their_schema() {
        let kind = crate::kinds::by_name("namedLocation").expect("kind");
        let source = json!({
            "@odata.type": "#microsoft.graph.ipNamedLocation",
            "id": "x",
            "displayName": "Office",
            "isTrusted": true,
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]
        });
        let cleaned = clean(&schema_for(kind).expect("schema"), source);
        assert_eq!(
            cleaned.body,
            json!({
                "@odata.type": "#microsoft.graph.ipNamedLocation",
                "displayName": "Office",
                "isTrusted": true,
                "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]
            })
        );
    }
}
