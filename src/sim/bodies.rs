//! Request bodies against the generated JSON Schemas (the same files `validate` compiles, from
//! `src/schema/generated/`) and the service's own rules, and the schema-guided rewrites of
//! stored objects: defaults filled in on create, evolvable enum members masked on read.
//!
//! Input: a kind, a variant (create or update) and a JSON body; or a stored object to rewrite.
//! Output: `Ok` or the 400 [`Reply`] Graph would send (`Request_BadRequest` naming the unknown
//! or read-only property); filled or masked JSON values.

use std::sync::Arc;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value};

use crate::compile::validate::{self, Variant};
use crate::kinds::{self, Kind, KindLint};
use crate::sim::wire::Reply;

/// The sentinel member of Graph's evolvable enums.
pub(crate) const UNKNOWN_FUTURE_VALUE: &str = "unknownFutureValue";

/// Every kind's compiled schemas: the compiler's own ([`validate::Schemas::shared`]), compiled
/// once per process.
pub(crate) struct Schemas {
    inner: &'static validate::Schemas,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas").finish_non_exhaustive()
    }
}

/// The schemas, compiled once per process (every simulator in a test binary shares them), all
/// of them at once: a simulator answers every kind, and a broken schema stops it at start.
pub(crate) fn schemas() -> Result<Arc<Schemas>, String> {
    validate::Schemas::shared()
        .and_then(|inner| inner.compile_all().map(|()| inner))
        .map(|inner| Arc::new(Schemas { inner }))
        .map_err(|e| e.to_string())
}

/// The index of a kind in [`kinds::all`].
pub(crate) fn kind_index(kind: &Kind) -> usize {
    kinds::all()
        .iter()
        .position(|k| k.name == kind.name)
        .unwrap_or_default()
}

fn bad_request(message: String) -> Reply {
    Reply::error(400, "Request_BadRequest", message)
}

/// A resolved schema node and the `$defs` name it came from.
#[derive(Clone, Copy)]
struct Node<'s> {
    schema: &'s Value,
    name: Option<&'s str>,
}

impl Schemas {
    fn document(&self, kind: &Kind) -> &Value {
        static NONE: Value = Value::Null;
        self.inner
            .document(kind.name, Variant::Update)
            .unwrap_or(&NONE)
    }

    fn defs<'s>(&'s self, kind: &Kind) -> Option<&'s Map<String, Value>> {
        self.document(kind).get("$defs").and_then(Value::as_object)
    }

    /// Follow `$ref`, nullable `if/else` and `@odata.type` unions down to the schema that
    /// describes `value`.
    fn resolve<'s>(&'s self, kind: &Kind, mut node: Node<'s>, value: &Value) -> Node<'s> {
        let defs = self.defs(kind);
        for _ in 0..32 {
            let Some(map) = node.schema.as_object() else {
                return node;
            };
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let name = target.trim_start_matches("#/$defs/");
                match defs.and_then(|d| d.get(name)) {
                    Some(schema) => {
                        node = Node {
                            schema,
                            name: Some(name),
                        };
                        continue;
                    }
                    None => return node,
                }
            }
            if let (Some(_), Some(otherwise)) = (map.get("if"), map.get("else")) {
                if value.is_null() {
                    return node;
                }
                node = Node {
                    schema: otherwise,
                    name: node.name,
                };
                continue;
            }
            if let Some(Value::Array(branches)) = map.get("allOf") {
                let odata = value.get("@odata.type").and_then(Value::as_str);
                let chosen = odata.and_then(|t| {
                    branches.iter().find(|b| {
                        b.pointer("/if/properties/@odata.type/enum")
                            .and_then(Value::as_array)
                            .is_some_and(|e| e.iter().any(|m| m.as_str() == Some(t)))
                    })
                });
                match chosen.and_then(|b| b.get("then")) {
                    Some(then) => {
                        node = Node {
                            schema: then,
                            name: node.name,
                        };
                        continue;
                    }
                    None => return node,
                }
            }
            return node;
        }
        node
    }

    fn root<'s>(&'s self, kind: &Kind, value: &Value) -> Node<'s> {
        self.resolve(
            kind,
            Node {
                schema: self.document(kind),
                name: None,
            },
            value,
        )
    }

    /// The Graph type name (`microsoft.graph.group`) of the object at `pointer` in `body`.
    fn type_name_at(&self, kind: &Kind, body: &Value, pointer: &str) -> String {
        let mut node = self.root(kind, body);
        let mut value = body;
        for segment in pointer.split('/').skip(1) {
            let segment = segment.replace("~1", "/").replace("~0", "~");
            let child_schema = match value {
                Value::Array(_) => node.schema.get("items"),
                _ => node
                    .schema
                    .get("properties")
                    .and_then(|p| p.get(segment.as_str())),
            };
            let child_value = match value {
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                Value::Object(map) => map.get(segment.as_str()),
                _ => None,
            };
            let (Some(schema), Some(child)) = (child_schema, child_value) else {
                break;
            };
            node = self.resolve(
                kind,
                Node {
                    schema,
                    name: node.name,
                },
                child,
            );
            value = child;
        }
        let name = value
            .get("@odata.type")
            .and_then(Value::as_str)
            .map(|t| {
                t.trim_start_matches('#')
                    .trim_start_matches("microsoft.graph.")
            })
            .or(node.name)
            .unwrap_or(kind.schema.root_type);
        format!("microsoft.graph.{}", name.trim_end_matches(".union"))
    }

    /// Check a request body: Graph's `@odata.type` rule, the service rules of the kind, and
    /// the generated schema. `Err` is the 400 Graph sends.
    pub(crate) fn check(&self, kind: &Kind, variant: Variant, body: &Value) -> Result<(), Reply> {
        if !body.is_object() {
            return Err(Reply::error(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            ));
        }
        if kind.schema.odata_type_required && body.get("@odata.type").is_none() {
            return Err(bad_request(format!(
                "A value for '@odata.type' is required: 'microsoft.graph.{}' is abstract; name the derived type in the request body.",
                kind.schema.root_type
            )));
        }
        if variant == Variant::Create && kind.lints.contains(&KindLint::ComplianceBlockAction) {
            check_one_block_action(body)?;
        }
        let validator = match self.inner.validator(kind.name, variant) {
            Ok(validator) => validator,
            Err(e) => return Err(Reply::error(500, "generalException", e.to_string())),
        };
        if validator.is_valid(body) {
            return Ok(());
        }
        // Graph never requires an alternate key on create: `POST /groups` without `uniqueName`
        // makes a group without one. tenantform's own schema requires it (to match by key);
        // the simulator follows Graph.
        let optional = match variant {
            Variant::Create => crate::sim::routes::alternate_key(kind),
            Variant::Update => None,
        };
        match self.first_error(kind, validator, body, optional) {
            Some(reply) => Err(reply),
            None => Ok(()),
        }
    }

    /// The 400 for the first error that matters, or `None` when the only errors are missing
    /// `optional` properties.
    fn first_error(
        &self,
        kind: &Kind,
        validator: &jsonschema::Validator,
        body: &Value,
        optional: Option<&str>,
    ) -> Option<Reply> {
        let mut unknown = None;
        let mut read_only = None;
        let mut required = None;
        let mut other = None;
        let mut skipped = 0usize;
        for error in validator.iter_errors(body) {
            let pointer = error.instance_path().as_str().to_string();
            match error.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected }
                | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                    if unknown.is_none()
                        && let Some(name) = unexpected.first()
                    {
                        unknown = Some((pointer, name.clone()));
                    }
                }
                ValidationErrorKind::FalseSchema => {
                    read_only.get_or_insert(pointer);
                }
                ValidationErrorKind::Required { property } => {
                    let name = property
                        .as_str()
                        .map_or_else(|| property.to_string(), str::to_string);
                    if pointer.is_empty() && optional == Some(name.as_str()) {
                        skipped += 1;
                        continue;
                    }
                    required.get_or_insert(name);
                }
                _ => {
                    other.get_or_insert_with(|| (pointer, error.to_string()));
                }
            }
        }
        if let Some((pointer, name)) = unknown {
            return Some(bad_request(format!(
                "The property '{name}' does not exist on type '{}'. Make sure to only use property names that are defined by the type or mark the type as open type.",
                self.type_name_at(kind, body, &pointer)
            )));
        }
        if let Some(pointer) = read_only {
            let name = pointer.rsplit('/').next().unwrap_or_default();
            return Some(bad_request(format!(
                "Property '{name}' is read-only and cannot be set."
            )));
        }
        if let Some(name) = required {
            return Some(bad_request(format!(
                "The request body is missing the required property '{name}'."
            )));
        }
        match other {
            Some((pointer, message)) => Some(bad_request(format!(
                "Invalid value for property '{}': {message}",
                if pointer.is_empty() { "/" } else { &pointer }
            ))),
            None if skipped > 0 => None,
            None => Some(bad_request("The request body is not valid.".to_string())),
        }
    }

    /// True when the object's type declares the property (read-only ones included).
    pub(crate) fn declares(&self, kind: &Kind, value: &Value, property: &str) -> bool {
        self.root(kind, value)
            .schema
            .get("properties")
            .is_some_and(|p| p.get(property).is_some())
    }

    /// Fill what Graph returns on reads: every declared property the body left out, at every
    /// depth of the objects it sent, as `[]` for collections and the type's default or `null`
    /// for the rest (from the generated schema, so from the CSDL). Read-only properties are
    /// left to the caller.
    pub(crate) fn fill_defaults(&self, kind: &Kind, value: &mut Value) {
        let node = self.root(kind, value);
        self.fill(kind, node, value);
    }

    fn fill(&self, kind: &Kind, node: Node<'_>, value: &mut Value) {
        let Value::Object(map) = value else {
            return;
        };
        let Some(properties) = node.schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, schema) in properties {
            if name == "@odata.type"
                || name.contains("@odata.bind")
                || schema == &Value::Bool(false)
            {
                continue;
            }
            match map.get_mut(name) {
                Some(child @ Value::Object(_)) => {
                    let child_node = self.resolve(
                        kind,
                        Node {
                            schema,
                            name: node.name,
                        },
                        child,
                    );
                    self.fill(kind, child_node, child);
                }
                Some(Value::Array(items)) => {
                    if let Some(item_schema) = schema.get("items") {
                        for item in items.iter_mut() {
                            let item_node = self.resolve(
                                kind,
                                Node {
                                    schema: item_schema,
                                    name: node.name,
                                },
                                item,
                            );
                            self.fill(kind, item_node, item);
                        }
                    }
                }
                Some(_) => {}
                None => {
                    // Graph returns every declared property of the type, at every depth:
                    // `[]` for a collection, else the type's default or `null`.
                    if allows_type(schema, "array") {
                        map.insert(name.clone(), Value::Array(Vec::new()));
                    } else {
                        map.insert(name.clone(), self.default_for(kind, schema));
                    }
                }
            }
        }
    }

    fn default_for(&self, kind: &Kind, schema: &Value) -> Value {
        if allows_type(schema, "null") || schema.get("if").is_some() {
            return Value::Null;
        }
        if allows_type(schema, "boolean") {
            return Value::Bool(false);
        }
        if allows_type(schema, "integer") || allows_type(schema, "number") {
            return Value::from(0);
        }
        let resolved = self.resolve(kind, Node { schema, name: None }, &Value::Null);
        resolved
            .schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|members| members.first().cloned())
            .unwrap_or(Value::Null)
    }

    /// Replace evolvable enum members (those after `unknownFutureValue`) with
    /// `unknownFutureValue`, as Graph does without `Prefer: include-unknown-enum-members`.
    /// Returns true when something was replaced.
    pub(crate) fn mask_evolvable(&self, kind: &Kind, value: &mut Value) -> bool {
        let node = self.root(kind, value);
        self.mask(kind, node, value)
    }

    fn mask(&self, kind: &Kind, node: Node<'_>, value: &mut Value) -> bool {
        let node = self.resolve(kind, node, value);
        match value {
            Value::String(s) => {
                if let Some(members) = node.schema.get("enum").and_then(Value::as_array) {
                    if is_evolvable(members, s) {
                        *s = UNKNOWN_FUTURE_VALUE.to_string();
                        return true;
                    }
                } else if let Some(members) =
                    node.schema.get("x-flags-members").and_then(Value::as_array)
                {
                    let mut changed = false;
                    let mut flags: Vec<String> = Vec::new();
                    for flag in s.split(',').map(str::trim) {
                        let flag = if is_evolvable(members, flag) {
                            changed = true;
                            UNKNOWN_FUTURE_VALUE
                        } else {
                            flag
                        };
                        if !flags.iter().any(|f| f == flag) {
                            flags.push(flag.to_string());
                        }
                    }
                    if changed {
                        *s = flags.join(",");
                    }
                    return changed;
                }
                false
            }
            Value::Array(items) => {
                let Some(item_schema) = node.schema.get("items") else {
                    return false;
                };
                let mut changed = false;
                for item in items.iter_mut() {
                    changed |= self.mask(
                        kind,
                        Node {
                            schema: item_schema,
                            name: node.name,
                        },
                        item,
                    );
                }
                changed
            }
            Value::Object(map) => {
                let Some(properties) = node.schema.get("properties").and_then(Value::as_object)
                else {
                    return false;
                };
                let mut changed = false;
                for (name, child) in map.iter_mut() {
                    if let Some(schema) = properties.get(name) {
                        changed |= self.mask(
                            kind,
                            Node {
                                schema,
                                name: node.name,
                            },
                            child,
                        );
                    }
                }
                changed
            }
            _ => false,
        }
    }
}

fn is_evolvable(members: &[Value], value: &str) -> bool {
    let sentinel = members
        .iter()
        .position(|m| m.as_str() == Some(UNKNOWN_FUTURE_VALUE));
    let position = members.iter().position(|m| m.as_str() == Some(value));
    matches!((sentinel, position), (Some(s), Some(p)) if p > s)
}

fn allows_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

/// Intune's rule: exactly one `block` action in `scheduledActionsForRule`.
fn check_one_block_action(body: &Value) -> Result<(), Reply> {
    let blocks = body
        .get("scheduledActionsForRule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rule| {
            rule.get("scheduledActionConfigurations")
                .and_then(Value::as_array)
        })
        .flatten()
        .filter(|action| action.get("actionType").and_then(Value::as_str) == Some("block"))
        .count();
    if blocks == 1 {
        Ok(())
    } else {
        Err(Reply::error(
            400,
            "BadRequest",
            "Compliance policy must have one and only one block scheduled action",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::by_name;
    use serde_json::json;

    fn schemas_for_test() -> Arc<Schemas> {
        schemas().unwrap_or_else(|e| panic!("{e}"))
    }

    fn kind(name: &str) -> &'static Kind {
        by_name(name).unwrap_or_else(|| panic!("kind {name}"))
    }

    #[test]
    fn unknown_and_read_only_properties_are_named() {
        let s = schemas_for_test();
        let ca = kind("conditionalAccessPolicy");
        let body = json!({"displayName": "x", "state": "enabled", "conditions": {}, "bogus": 1});
        let text = format!("{:?}", s.check(ca, Variant::Create, &body).err());
        assert!(
            text.contains("The property 'bogus' does not exist on type 'microsoft.graph.conditionalAccessPolicy'"),
            "{text}"
        );
        let body = json!({"displayName": "x", "state": "enabled", "conditions": {}, "id": "1"});
        let text = format!("{:?}", s.check(ca, Variant::Create, &body).err());
        assert!(text.contains("Property 'id' is read-only"), "{text}");
    }

    #[test]
    fn compliance_policies_need_exactly_one_block_action() {
        let s = schemas_for_test();
        let compliance = kind("deviceCompliancePolicy");
        let body = json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "x"});
        let text = format!("{:?}", s.check(compliance, Variant::Create, &body).err());
        assert!(
            text.contains("Compliance policy must have one and only one block scheduled action"),
            "{text}"
        );
    }

    #[test]
    fn evolvable_members_are_masked() {
        let s = schemas_for_test();
        let ca = kind("conditionalAccessPolicy");
        let mut body = json!({"grantControls": {"builtInControls": ["mfa", "riskRemediation"]},
            "conditions": {"platforms": {"includePlatforms": ["linux", "android"]}}});
        assert!(s.mask_evolvable(ca, &mut body));
        assert_eq!(
            body["grantControls"]["builtInControls"],
            json!(["mfa", "unknownFutureValue"])
        );
        assert_eq!(
            body["conditions"]["platforms"]["includePlatforms"],
            json!(["unknownFutureValue", "android"])
        );
    }

    #[test]
    fn defaults_fill_collections_and_nulls() {
        let s = schemas_for_test();
        let ca = kind("conditionalAccessPolicy");
        let mut body =
            json!({"displayName": "x", "conditions": {"users": {"includeUsers": ["All"]}}});
        s.fill_defaults(ca, &mut body);
        assert_eq!(body["description"], Value::Null);
        assert_eq!(body["conditions"]["users"]["excludeGroups"], json!([]));
        assert_eq!(body["conditions"]["clientAppTypes"], json!([]));
    }
}
