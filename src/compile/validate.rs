//! Stage 4, `validate`: every operation's body against the JSON Schema generated from Graph's
//! metadata for its kind (compiled once per run), then the semantic lints the schema cannot
//! express. Only this module can build a [`ValidatedBundle`], the one type plan and deploy take.
//!
//! Input: a [`Bundle`]. Output: a [`ValidatedBundle`] or [`Diagnostics`] with file:line:col, the
//! JSON pointer in the rendered body, what was expected, and a stable code.

use std::collections::BTreeMap;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::canonical;
use crate::compile::bundle::{Bundle, Operation};
use crate::compile::render::{SharedBody, canonical_json, locate_pointer};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::kinds::{self, Kind, Shape};
use crate::source::model::{self, article};
use crate::source::{SourceMap, Span};

mod lints;
mod schemas;
mod text;
#[cfg(test)]
use lints::lint_built_in_strength;
pub use lints::locks_everyone_out;
use lints::run_lint;
use schemas::KindSchema;
pub use schemas::{SchemaError, Schemas};
use text::{BODY_DEPTH, OperationSource, bundle_node, operation_source};
pub(crate) use text::{OperationTexts, TEXT_BUDGET_BYTES, TextBudget};

/// Which schema variant a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// Create (or upsert): required properties must be present.
    Create,
    /// Update of an object that always exists.
    Update,
}

impl Variant {
    fn file_suffix(self) -> &'static str {
        match self {
            Variant::Create => "create",
            Variant::Update => "update",
        }
    }
}

/// What a `pattern` of the generated schemas means, for people.
fn describe_pattern(pattern: &str) -> &'static str {
    if pattern.starts_with("^[0-9]{4}-") {
        "an RFC 3339 date-time such as \"2026-01-31T00:00:00Z\""
    } else if pattern.starts_with("^[0-9]{2}:") {
        "a time of day such as \"08:30:00\""
    } else if pattern.starts_with("^[0-9a-fA-F]{8}-") {
        "a GUID such as \"00000000-0000-0000-0000-000000000000\""
    } else if pattern.starts_with("^[A-Za-z0-9+/") {
        "base64 text"
    } else if pattern.starts_with("^-?P") {
        "an ISO 8601 duration such as \"PT1H\""
    } else {
        "text in the format Graph expects"
    }
}

/// Options for validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    /// Unknown properties are errors, not warnings.
    pub strict: bool,
}

/// A bundle that passed validation: the only input plan and deploy accept.
#[derive(Debug, Clone)]
pub struct ValidatedBundle {
    bundle: Bundle,
    sources: Vec<OperationSource>,
    content_hash: String,
}

/// What `validate` finds out about a shared body, once per run: the schema's verdict, the
/// body's hash, and its pretty form as bundle files hold it.
#[derive(Debug)]
pub(crate) struct CheckedBody {
    kind: &'static str,
    variant: Variant,
    /// The kind's schema accepts the body.
    valid: bool,
    /// The kind's lints find nothing in the body (even with none accepted).
    lint_free: bool,
    /// `sha256:<hex>` of the body's canonical form.
    hash: String,
    /// The body's pretty canonical form at [`BODY_DEPTH`].
    pretty: Box<[u8]>,
}

impl CheckedBody {
    fn of(schemas: &Schemas, kind: &'static Kind, variant: Variant, body: &Value) -> CheckedBody {
        let valid = schemas.accepts(kind.name, variant, body);
        let mut pretty = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = canonical::write_pretty_at(&mut pretty, body, BODY_DEPTH);
        CheckedBody {
            kind: kind.name,
            variant,
            valid,
            lint_free: kind
                .lints
                .iter()
                .all(|lint| run_lint(*lint, body, &[]).is_none()),
            hash: canonical::hash(body),
            pretty: pretty.into_boxed_slice(),
        }
    }
}

impl ValidatedBundle {
    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// `sha256:<hex>` of the canonical bundle (without the hash itself).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The body of operation `i`: its own, or, when the bundle was compiled with the run's
    /// shared bodies, the shared body it was made from.
    pub(crate) fn body(&self, i: usize) -> &Value {
        let op = &self.bundle.operations[i];
        self.sources.get(i).map_or(&op.body, |s| s.body(op))
    }

    /// The run's shared body that operation `i`'s body is ([`Self::body`]), when it carries
    /// no copy of its own.
    pub(crate) fn shared_body(&self, i: usize) -> Option<&SharedBody> {
        let op = &self.bundle.operations[i];
        self.sources.get(i).and_then(|s| s.shared_body(op))
    }

    /// `sha256:<hex>` of each operation's canonical body, in operation order.
    pub fn body_hashes(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| s.body_hash.as_str())
    }

    /// The bundle file's text (keys sorted, pretty-printed, ending with a newline).
    pub fn to_pretty_json(&self) -> String {
        let mut out = Vec::new();
        let _ = self.write_pretty_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Write the bundle file's bytes.
    pub fn write_pretty_json(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let node = bundle_node(&self.bundle, &self.sources, Some(&self.content_hash));
        canonical::write_node_pretty(out, &node)?;
        out.write_all(b"\n")
    }

    /// The file text and content hash written from every operation's fields, none from the
    /// texts the run keeps (what they must equal).
    #[cfg(test)]
    pub(crate) fn written_from_fields(&self, sources: &SourceMap) -> (String, String) {
        let fields: Vec<OperationSource> = self
            .bundle
            .operations
            .iter()
            .zip(&self.sources)
            .map(|(op, source)| source.written_from_fields(sources, op))
            .collect();
        let mut pretty = Vec::new();
        let node = bundle_node(&self.bundle, &fields, Some(&self.content_hash));
        canonical::write_node_pretty(&mut pretty, &node).expect("a bundle is written");
        pretty.push(b'\n');
        let hash = canonical::hash_node(&bundle_node(&self.bundle, &fields, None));
        (String::from_utf8(pretty).expect("utf-8"), hash)
    }

    /// How many operations are written from a text the run keeps.
    #[cfg(test)]
    pub(crate) fn kept_texts(&self) -> usize {
        self.sources.iter().filter(|s| s.is_kept_text()).count()
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        other => other.to_string(),
    }
}

fn value_at<'v>(body: &'v Value, pointer: &str) -> Option<&'v Value> {
    body.pointer(pointer)
}

/// Where a bad value was written: the variable (or nested variable) holding exactly that value.
fn value_origin(op: &Operation, value: &Value, params: &[(Value, Span)]) -> Option<Span> {
    if matches!(value, Value::Object(_) | Value::Array(_) | Value::Null) {
        return None;
    }
    let vars = Value::Object((*op.vars).clone());
    for (path, span) in op.var_spans.iter() {
        if vars.pointer(path) == Some(value) {
            return Some(*span);
        }
    }
    params.iter().find(|(v, _)| v == value).map(|(_, s)| *s)
}

/// Expand `anyOf`/`oneOf` failures into the errors of the branch the value was meant for (the
/// one that did not fail on the value's type), so users see "unknown property x" rather than
/// "not valid under any of the schemas".
fn flatten(error: jsonschema::ValidationError<'_>) -> Vec<jsonschema::ValidationError<'static>> {
    let path = error.instance_path().as_str().to_string();
    let chosen = match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            let meant: Vec<usize> = context
                .iter()
                .enumerate()
                .filter(|(_, branch)| {
                    !branch.iter().all(|e| {
                        e.instance_path().as_str() == path
                            && matches!(
                                e.kind(),
                                ValidationErrorKind::Type { .. }
                                    | ValidationErrorKind::Constant { .. }
                            )
                    })
                })
                .map(|(i, _)| i)
                .collect();
            (meant.len() == 1).then(|| meant[0])
        }
        _ => None,
    };
    let Some(index) = chosen else {
        return vec![error.to_owned()];
    };
    match error.into_parts().kind {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            context
                .into_iter()
                .nth(index)
                .unwrap_or_default()
                .into_iter()
                .flat_map(flatten)
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The beta kind that writes the same objects as `op`'s v1.0 kind (same path and shape), when
/// its schema accepts the property at `pointer` that the v1.0 schema rejected.
fn beta_twin_accepting(
    schemas: &Schemas,
    op: &Operation,
    body: &Value,
    pointer: &str,
) -> Option<&'static kinds::Kind> {
    if op.kind.api_version != kinds::ApiVersion::V1 {
        return None;
    }
    let twin = kinds::all().iter().find(|k| {
        k.api_version == kinds::ApiVersion::Beta
            && k.path == op.kind.path
            && k.shape == op.kind.shape
    })?;
    let validator = schemas.validator(twin.name, variant_of(op)).ok()?;
    let rejected = validator.iter_errors(body).flat_map(flatten).any(|e| {
        let at = e.instance_path().as_str().to_string();
        matches!(e.kind(), ValidationErrorKind::AdditionalProperties { unexpected }
            if unexpected.iter().any(|n| format!("{at}/{}", n.replace('~', "~0").replace('/', "~1")) == pointer))
    });
    (!rejected).then_some(twin)
}

fn schema_diagnostics(
    sources: &SourceMap,
    schemas: &Schemas,
    schema: &KindSchema,
    op: &Operation,
    body: &Value,
    params: &[(Value, Span)],
    strict: bool,
) -> Vec<Diagnostic> {
    let template = op.origin.text(sources);
    let span_for = |pointer: &str| -> Span {
        locate_pointer(template, pointer).map_or(op.declared_at, |pos| {
            let end = template[pos..].find(':').map_or(pos, |c| pos + c);
            op.origin.span(pos..end)
        })
    };
    let mut out = Vec::new();
    let errors: Vec<_> = schema
        .validator
        .iter_errors(body)
        .flat_map(flatten)
        .collect();
    for error in errors {
        let pointer = error.instance_path().as_str().to_string();
        let at_value = value_at(body, &pointer);
        let mut d = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    let child = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                    if let Some(beta) = beta_twin_accepting(schemas, op, body, &child) {
                        out.push(
                            Diagnostic::error(
                                Code::UnknownProperty,
                                format!(
                                    "`{name}` exists only in Graph beta; {} is written to v1.0, which has no such property",
                                    article(op.kind.name)
                                ),
                            )
                            .pointer(child.clone())
                            .at(span_for(&child))
                            .help(format!("write this resource as kind = \"{}\" (the same policy, through beta)", beta.name)),
                        );
                        continue;
                    }
                    let mut d = if strict {
                        Diagnostic::error(
                            Code::UnknownProperty,
                            format!("unknown property `{name}` for {}", article(op.kind.name)),
                        )
                    } else {
                        Diagnostic::warning(
                            Code::UnknownProperty,
                            format!("unknown property `{name}` for {}", article(op.kind.name)),
                        )
                    }
                    .pointer(child.clone())
                    .at(span_for(&child));
                    if let Some(s) =
                        model::did_you_mean(name, schema.property_names.iter().map(String::as_str))
                    {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else if op.kind.api_version == kinds::ApiVersion::Beta {
                        d = d.help("Graph's beta type mappings have no such property here");
                    } else {
                        d = d.help("Graph's v1.0 metadata has no such property here; beta-only properties need a beta kind");
                    }
                    out.push(d);
                }
                continue;
            }
            ValidationErrorKind::FalseSchema => {
                let name = pointer.rsplit('/').next().unwrap_or("");
                Diagnostic::error(
                    Code::ReadOnlyProperty,
                    format!("`{name}` is set by the service and must not be sent"),
                )
                .help(format!("remove `{name}` from the template"))
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_string);
                Diagnostic::error(
                    Code::MissingProperty,
                    format!("{} request needs `{name}`", article(op.kind.name)),
                )
            }
            ValidationErrorKind::Enum { options } => {
                let allowed: Vec<String> = options
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            // The sentinel of evolvable enums is never a value to send.
                            .filter(|v| *v != "unknownFutureValue")
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let found = at_value.map_or_else(String::new, describe_value);
                let mut d = Diagnostic::error(
                    Code::SchemaViolation,
                    format!("{found} is not an allowed value here"),
                )
                .expected(format!("one of {}", model::quote_list(&allowed)));
                if let Some(s) = at_value
                    .and_then(Value::as_str)
                    .and_then(|v| model::did_you_mean(v, allowed.iter().map(String::as_str)))
                {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                d
            }
            ValidationErrorKind::Type { kind } => {
                let found = at_value.map_or_else(String::new, describe_value);
                let mut types: Vec<String> = match kind {
                    jsonschema::error::TypeKind::Single(t) => vec![t.to_string()],
                    jsonschema::error::TypeKind::Multiple(ts) => {
                        ts.iter().map(|t| t.to_string()).collect()
                    }
                };
                // "an integer or null", never "a null or integer".
                types.sort_by_key(|t| t == "null");
                let expected = types
                    .iter()
                    .map(|t| if t == "null" { t.clone() } else { article(t) })
                    .collect::<Vec<_>>()
                    .join(" or ");
                let name = pointer.rsplit('/').next().unwrap_or("");
                Diagnostic::error(
                    Code::SchemaViolation,
                    format!("`{name}` must be {expected}, found {found}"),
                )
                .expected(expected)
            }
            ValidationErrorKind::Pattern { pattern } => {
                let name = pointer.rsplit('/').next().unwrap_or("");
                let found = at_value.map_or_else(String::new, describe_value);
                match schema.flags_by_pattern.get(pattern) {
                    Some(members) => {
                        let members: Vec<&str> = members
                            .iter()
                            .map(String::as_str)
                            .filter(|m| *m != "unknownFutureValue")
                            .collect();
                        let mut d = Diagnostic::error(
                            Code::SchemaViolation,
                            format!(
                                "`{name}` must be a comma-separated list of flags, found {found}"
                            ),
                        )
                        .expected(format!("flags from {}", model::quote_list(&members)));
                        let unknown: Vec<&str> = at_value
                            .and_then(Value::as_str)
                            .into_iter()
                            .flat_map(|v| v.split(','))
                            .map(str::trim)
                            .filter(|f| !members.contains(f))
                            .collect();
                        if let Some(first) = unknown.first() {
                            d = d.help(match model::did_you_mean(first, members.iter().copied()) {
                                Some(s) => {
                                    format!("\"{first}\" is not a flag here; did you mean \"{s}\"?")
                                }
                                None => format!("\"{first}\" is not a flag here"),
                            });
                        }
                        d
                    }
                    None => {
                        let what = describe_pattern(pattern);
                        Diagnostic::error(
                            Code::SchemaViolation,
                            format!("`{name}` must be {what}, found {found}"),
                        )
                        .expected(what)
                    }
                }
            }
            _ => Diagnostic::error(Code::SchemaViolation, error.to_string()),
        };
        d = d.pointer(pointer.clone()).at(span_for(&pointer));
        if let Some(origin) = at_value.and_then(|v| value_origin(op, v, params)) {
            d = d.note("value set here", origin);
        }
        out.push(d);
    }
    out
}

/// What identifies the object an operation writes, for the duplicate check (compared with
/// other identities only: the kind, then the match key's values or the path).
fn identity(op: &Operation) -> String {
    let mut id = String::with_capacity(64);
    id.push_str(op.kind.name);
    match op.kind.shape {
        Shape::Collection if !op.match_values.is_empty() => {
            for (name, value) in op.match_values.iter() {
                id.push('\0');
                id.push_str(name);
                id.push('\0');
                id.push_str(&canonical_json(value));
            }
        }
        _ => {
            id.push('\u{1}');
            id.push_str(&op.path);
        }
    }
    id
}

fn variant_of(op: &Operation) -> Variant {
    // A PUT replaces the whole object: its body is checked like a create's.
    if op.kind.creates() || op.kind.update_method == crate::kinds::Method::Put {
        Variant::Create
    } else {
        Variant::Update
    }
}

/// Validate a bundle. `params` are the tenant's parameter values with where they were written
/// (for "value set here" notes).
pub fn validate(
    schemas: &Schemas,
    sources: &SourceMap,
    mut bundle: Bundle,
    params: &[(Value, Span)],
    options: ValidateOptions,
) -> (Option<ValidatedBundle>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut seen: BTreeMap<String, (&str, Span)> = BTreeMap::new();
    // Each shared body is checked once per run, by whichever tenant comes first. An operation
    // whose shared body was checked for another kind is checked alone (with its own copy).
    let count = bundle.operations.len();
    if bundle.shared.len() != count {
        bundle.shared = vec![None; count];
    }
    for i in 0..count {
        let Some(shared) = bundle.shared[i].clone() else {
            continue;
        };
        let op = &mut bundle.operations[i];
        let variant = variant_of(op);
        let Some(bundled) = shared.bundled.get() else {
            bundle.shared[i] = None;
            continue;
        };
        let checked = shared
            .checked
            .get_or_init(|| CheckedBody::of(schemas, op.kind, variant, &bundled.body));
        if checked.kind != op.kind.name || checked.variant != variant {
            if op.body.is_null() {
                op.body = bundled.body.clone();
            }
            bundle.shared[i] = None;
        }
    }
    for (i, op) in bundle.operations.iter().enumerate() {
        let variant = variant_of(op);
        let body = bundle.body(i);
        let checked = bundle.shared[i].as_deref().and_then(|s| s.checked.get());
        let valid = match checked {
            Some(c) => c.valid,
            None => schemas.accepts(op.kind.name, variant, body),
        };
        let mut op_diags = Vec::new();
        if !valid {
            match schemas.get(op.kind.name, variant) {
                Ok(schema) => op_diags.extend(schema_diagnostics(
                    sources,
                    schemas,
                    schema,
                    op,
                    body,
                    params,
                    options.strict,
                )),
                // The embedded schemas are generated and checked by CI; were one broken, the
                // body cannot be judged, and saying so beats calling it valid.
                Err(e) => op_diags.push(
                    Diagnostic::error(
                        Code::SchemaViolation,
                        format!("{} cannot be checked: {e}", article(op.kind.name)),
                    )
                    .at(op.declared_at)
                    .help("this is a defect in tenantform's embedded schemas; please report it"),
                ),
            }
        }
        // A body the kind's lints find nothing in (before any is accepted) needs no second look.
        let lints = match checked {
            Some(c) if c.lint_free => &[][..],
            _ => op.kind.lints,
        };
        for lint in lints {
            let found = run_lint(*lint, body, &op.accepted);
            if let Some(d) = found {
                let template = op.origin.text(sources);
                let span = d
                    .pointer
                    .as_deref()
                    .and_then(|p| locate_pointer(template, p))
                    .map_or(op.declared_at, |pos| op.origin.span(pos..pos));
                op_diags.push(d.at(span).note("resource declared here", op.declared_at));
            }
        }
        let id = identity(op);
        if let Some((first, first_span)) = seen.get(&id) {
            op_diags.push(
                Diagnostic::error(
                    Code::DuplicateMatchKey,
                    format!(
                        "`{}` and `{first}` would write the same {} object",
                        op.key, op.kind.name
                    ),
                )
                .at(op.declared_at)
                .note("the other one is declared here", *first_span)
                .help(if op.kind.match_key.is_empty() {
                    "keep one resource for this object and patch it instead".to_string()
                } else {
                    format!("give them different {}", op.kind.match_key.join(" + "))
                }),
            );
        } else {
            seen.insert(id, (&op.key, op.declared_at));
        }
        diags.extend(
            op_diags
                .into_iter()
                .map(|d| d.tenant(bundle.tenant.id.clone()).resource(op.key.clone())),
        );
    }
    if diags.has_errors() || bundle.has_errors {
        return (None, diags);
    }
    let shared = std::mem::take(&mut bundle.shared);
    let op_sources: Vec<OperationSource> = bundle
        .operations
        .iter()
        .zip(shared)
        .map(|(op, shared)| {
            let own = &op.body;
            let body = match shared.as_deref().and_then(|s| s.bundled.get()) {
                Some(bundled) if own.is_null() => &bundled.body,
                _ => own,
            };
            operation_source(sources, op, body, shared.clone())
        })
        .collect();
    let content_hash = canonical::hash_node(&bundle_node(&bundle, &op_sources, None));
    (
        Some(ValidatedBundle {
            bundle,
            sources: op_sources,
            content_hash,
        }),
        diags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_built_in_strength_is_found_by_name_or_id_and_a_custom_one_passes() {
        let by_name = lint_built_in_strength(&json!({"displayName": "passwordless mfa"}));
        let d = by_name.unwrap_or_else(|| panic!("a built-in name is flagged"));
        assert_eq!(d.pointer.as_deref(), Some("/displayName"));
        let by_id = lint_built_in_strength(
            &json!({"displayName": "Mine", "id": "00000000-0000-0000-0000-000000000002"}),
        );
        assert_eq!(
            by_id.and_then(|d| d.pointer),
            Some("/id".to_string()),
            "a custom name with a built-in id is flagged at the id"
        );
        assert!(lint_built_in_strength(&json!({"displayName": "Keys and Hello"})).is_none());
    }
}
