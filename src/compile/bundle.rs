//! Stage 3, `bundle`: turn a tenant's rendered documents into Graph operations in dependency
//! order. Finds every symbolic reference (`${ref:group:breakglass}`), checks it (dangling, wrong
//! kind, malformed, cycles), computes each request's method and path from the kinds registry,
//! and records what deploy needs to find existing objects (the match key).
//!
//! Input: a [`ResolvedTenant`] and its [`ExpandedDocument`]s. Output: a [`Bundle`], or
//! [`Diagnostics`] at the line that wrote each bad reference.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::compile::needs;
use crate::compile::render::{
    self, Body, ExpandedDocument, REF_OPEN, SharedBody, TemplateOrigin, locate_pointer,
};
use crate::compile::request_path;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::kinds::{self, Kind, Method, PathParam, Shape};
use crate::source::model::{self, Cloud};
use crate::source::resolve::{AcceptedLint, ResolvedResource, ResolvedTenant, SkipCause};
use crate::source::{SourceMap, Span};

/// Bundle format identifier written into every bundle.
pub const BUNDLE_FORMAT: &str = "tenantform.bundle/v1";

/// One symbolic reference inside a body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefUse {
    /// JSON pointer of the string that holds the placeholder.
    pub pointer: String,
    /// The referenced resource key.
    pub target: String,
    /// The referenced resource's kind.
    pub kind: &'static str,
}

/// The tenant a bundle is for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantInfo {
    /// Entra tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Cloud.
    pub cloud: Cloud,
    /// Ring.
    pub ring: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// The values of a kind's match-key properties in one body (`displayName` → "..."), in the
/// order of the kind's match key; serialized as a JSON object. A small vector, not a map: a
/// deploy holds one per operation for every tenant in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchValues(Vec<(String, Value)>);

impl MatchValues {
    /// True when the kind has no match key (or the body none of its properties).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many properties.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The value of one property.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Property names and values.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl FromIterator<(String, Value)> for MatchValues {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> MatchValues {
        let mut values: Vec<(String, Value)> = iter.into_iter().collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values.shrink_to_fit();
        MatchValues(values)
    }
}

impl serde::Serialize for MatchValues {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One Graph request, as compiled (deploy decides create or update from the live tenant).
#[derive(Debug, Clone)]
pub struct Operation {
    /// Logical key.
    pub key: String,
    /// Kind.
    pub kind: &'static Kind,
    /// Method of the request as compiled (create, upsert or singleton update).
    pub method: Method,
    /// Path under the API version (may hold reference placeholders).
    pub path: String,
    /// A `Prefer` header the request needs (`create-if-missing` for group upserts).
    pub prefer: Option<&'static str>,
    /// The body.
    pub body: Value,
    /// Match-key values that find an existing object.
    pub match_values: MatchValues,
    /// Keys of operations that must succeed first.
    pub depends_on: Vec<String>,
    /// References in the body and path.
    pub refs: Vec<RefUse>,
    /// Parent resource key.
    pub parent: Option<String>,
    /// Controls implemented.
    pub controls: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// The declaring baseline.
    pub baseline: String,
    /// Where the resource was declared.
    pub declared_at: Span,
    /// Where its template is.
    pub origin: TemplateOrigin,
    /// Where each variable was written (for "value set here" notes).
    pub var_spans: Arc<BTreeMap<String, Span>>,
    /// Variables (to find which one produced a bad value); shared with the declaration until
    /// a patch or an override changes one.
    pub vars: Arc<serde_json::Map<String, Value>>,
    /// Lint findings accepted on purpose.
    pub accepted: Vec<AcceptedLint>,
}

/// A resource an override skipped.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedOperation {
    /// Key.
    pub key: String,
    /// Kind name.
    pub kind: &'static str,
    /// The override's reason.
    pub reason: String,
    /// The controls it would implement (not part of the bundle file, whose hash stays as it
    /// was; the fleet report reads them).
    #[serde(skip)]
    pub controls: Vec<String>,
}

/// A tenant's operations, in dependency order. Only `validate` turns it into something
/// plan and deploy accept.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The tenant.
    pub tenant: TenantInfo,
    /// Baselines in layer order.
    pub baselines: Vec<String>,
    /// Operations in dependency order.
    pub operations: Vec<Operation>,
    /// Skipped resources with reasons.
    pub skipped: Vec<SkippedOperation>,
    /// The steps of the cross-tenant synchronization links this tenant is an end of (the
    /// bundle's `links` section, absent when there are none), with their dependencies in
    /// either tenant: see [`crate::sync::steps`].
    pub links: Vec<crate::sync::steps::LinkStep>,
    /// An earlier stage (or this one) found errors: the bundle may still be checked, so that
    /// every problem shows in one run, but `validate` will not accept it.
    pub has_errors: bool,
    /// For each operation (same order), the run's shared body it was made from, if any: its
    /// `body` is that body's [`BundledBody::body`], so `validate` may reuse what it found out
    /// about the body for an earlier tenant.
    pub(crate) shared: Vec<Option<Arc<SharedBody>>>,
}

impl Bundle {
    /// The resources the tenant does not get, with the reasons, as reports show them.
    pub fn skips(&self) -> Vec<crate::report::Skip> {
        self.skipped
            .iter()
            .map(|s| crate::report::Skip {
                key: s.key.clone(),
                kind: s.kind.to_string(),
                reason: s.reason.clone(),
            })
            .collect()
    }

    /// The body of operation `i`: its own, or, in a bundle made with [`Bodies::Shared`], the
    /// shared body it was made from.
    pub(crate) fn body(&self, i: usize) -> &Value {
        let own = &self.operations[i].body;
        match self.shared.get(i).and_then(Option::as_deref) {
            Some(shared) if own.is_null() => shared.bundled.get().map_or(own, |b| &b.body),
            _ => own,
        }
    }
}

/// Whether the operations of a bundle carry their own copy of their body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bodies {
    /// Every operation owns its body (what plan and deploy read).
    Owned,
    /// An operation made from a shared body leaves `body` null and is read through
    /// [`Bundle::body`]: for bundles that are only written to a file (no copy per tenant).
    Shared,
}

/// What `bundle` finds in a shared body, once per run: the body with its placeholders
/// rewritten, and the placeholders with the pointer of their string.
#[derive(Debug)]
pub(crate) struct BundledBody {
    /// The body as operations carry it.
    pub(crate) body: Value,
    found: Vec<(String, FoundRef)>,
}

/// Parse `prefix:key` reference text.
fn parse_ref(text: &str) -> Result<(&'static Kind, &str), String> {
    let Some((prefix, key)) = text.split_once(':') else {
        return Err(format!(
            "reference \"{}\" is not `<prefix>:<key>`",
            shown(text)
        ));
    };
    let Some(kind) = kinds::by_ref_prefix(prefix) else {
        let prefixes: Vec<&str> = kinds::all().iter().map(|k| k.ref_prefix).collect();
        let hint = model::did_you_mean(prefix, prefixes.iter().copied())
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        return Err(format!(
            "reference \"{}\" has an unknown prefix \"{}\"{hint}",
            shown(text),
            shown(prefix)
        ));
    };
    if !model::is_resource_key(key) {
        return Err(format!(
            "reference \"{}\" has an invalid key \"{}\"",
            shown(text),
            shown(key)
        ));
    }
    Ok((kind, key))
}

/// A placeholder found in a rendered string.
#[derive(Debug, Clone)]
enum FoundRef {
    /// Written by `ref`: the decoded reference text.
    Marked(String),
    /// Looks like a placeholder but lacks this run's marker: text from a value, not `ref`.
    Forged(String),
}

/// Find the placeholders in one string and rewrite the marked ones to their canonical form
/// (`${ref:<prefix>:<key>}`, without the run's marker).
fn rewrite_refs(s: &mut String, marker: &str) -> Vec<FoundRef> {
    let mut found = Vec::new();
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(start) = rest.find(REF_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + REF_OPEN.len()..];
        let marked = after
            .strip_prefix(marker)
            .and_then(|a| a.strip_prefix(':'))
            .and_then(|a| a.find('}').map(|end| (a, end)));
        match marked {
            Some((a, end)) => {
                let text = render::decode_ref_text(&a[..end]);
                out.push_str(REF_OPEN);
                out.push_str(&text);
                out.push('}');
                found.push(FoundRef::Marked(text));
                rest = &a[end + 1..];
            }
            None => {
                let end = after.find('}').map_or(after.len(), |e| e + 1);
                found.push(FoundRef::Forged(format!("{REF_OPEN}{}", &after[..end])));
                out.push_str(REF_OPEN);
                rest = after;
            }
        }
    }
    if found.is_empty() {
        return found;
    }
    out.push_str(rest);
    *s = out;
    found
}

/// Rewrite every placeholder in a body; return them with the pointer of their string.
fn extract_refs(
    value: &mut Value,
    marker: &str,
    pointer: &mut String,
    out: &mut Vec<(String, FoundRef)>,
) {
    match value {
        Value::String(s) if s.contains(REF_OPEN) => {
            for found in rewrite_refs(s, marker) {
                out.push((pointer.clone(), found));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                extract_refs(item, marker, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                extract_refs(v, marker, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// Reference text as it may appear in a message (no raw newlines or control characters).
fn shown(text: &str) -> String {
    text.escape_debug().to_string()
}

/// A reference [`resolve_refs_in_text`] could not replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// `${ref:` without its closing `}`.
    Unterminated,
    /// No id for this resource key.
    Unknown(String),
}

/// Replace every canonical reference `${ref:<prefix>:<key>}` in `text` with `id_of(key)` (the
/// object id deploy knows for that resource key).
pub fn resolve_refs_in_text(
    text: &str,
    id_of: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<String, Unresolved> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(REF_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + REF_OPEN.len()..];
        let end = after.find('}').ok_or(Unresolved::Unterminated)?;
        let key = after[..end].split_once(':').map_or("", |(_, k)| k);
        out.push_str(&id_of(key).ok_or_else(|| Unresolved::Unknown(key.to_string()))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`resolve_refs_in_text`] for every string in a JSON value.
pub fn resolve_refs_in_value(
    value: &Value,
    id_of: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Value, Unresolved> {
    Ok(match value {
        Value::String(s) if s.contains(REF_OPEN) => Value::String(resolve_refs_in_text(s, id_of)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| resolve_refs_in_value(i, id_of))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), resolve_refs_in_value(v, id_of)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// True when a concrete pointer matches a pattern with `*` segments.
pub fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let mut p = pattern.split('/');
    let mut q = pointer.split('/');
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}

/// The best span for some text a resource wrote: where it is written in the template, else in
/// the resource's `vars`, else where the resource is declared.
fn span_of_text(sources: &SourceMap, op: &Operation, text: &str, pointer: &str) -> Span {
    let template = op.origin.text(sources);
    // Prefer the occurrence at or after the property the pointer names.
    let near = locate_pointer(template, pointer).unwrap_or(0);
    let found = template[near..]
        .find(text)
        .map(|p| p + near)
        .or_else(|| template.find(text));
    if let Some(pos) = found {
        return op.origin.span(pos..pos + text.len());
    }
    for span in op.var_spans.values() {
        let written = sources.slice(*span);
        if written.trim_matches(['"', '\'']) == text {
            return *span;
        }
    }
    if let Some(pos) = locate_pointer(template, pointer) {
        return op.origin.span(pos..pos);
    }
    op.declared_at
}

/// Variables of a resource and where each was written (moved out of the resolved tenant).
/// What an operation takes over from its resolved resource (moved, not copied: the resource is
/// not read for them again).
#[derive(Default)]
struct Taken {
    vars: Arc<serde_json::Map<String, Value>>,
    var_spans: Arc<BTreeMap<String, Span>>,
    controls: Vec<String>,
    description: Option<String>,
    accepted: Vec<AcceptedLint>,
}

/// What `bundle` finds in a shared body, worked out by the first tenant that needs it.
fn bundled<'s>(shared: &'s SharedBody, marker: &str) -> &'s BundledBody {
    shared.bundled.get_or_init(|| {
        let mut body = shared.rendered.clone();
        let mut found = Vec::new();
        extract_refs(&mut body, marker, &mut String::new(), &mut found);
        BundledBody { body, found }
    })
}

/// The operation for a rendered document; its body still holds the run's placeholders when it
/// is the document's own (a shared body's are rewritten already).
fn operation_for(
    doc: ExpandedDocument,
    marker: &str,
    bodies: Bodies,
    resource: &ResolvedResource,
    taken: Taken,
) -> Operation {
    let kind = doc.kind;
    let rendered = doc.body.value();
    let match_values = if matches!(
        kind.shape,
        Shape::Collection | Shape::Child | Shape::QueriedItems(_)
    ) {
        kind.match_key
            .iter()
            .filter_map(|k| rendered.get(*k).map(|v| ((*k).to_string(), v.clone())))
            .collect()
    } else {
        MatchValues::default()
    };
    let method = match kind.shape {
        Shape::Collection | Shape::Child | Shape::ParentAction => {
            kind.create_method.unwrap_or(kind.update_method)
        }
        Shape::Singleton | Shape::FixedMember | Shape::QueriedItems(_) => kind.update_method,
    };
    let body = match doc.body {
        Body::Owned(body) => body,
        Body::Shared(shared) => {
            let bundled = bundled(&shared, marker);
            match bodies {
                Bodies::Owned => bundled.body.clone(),
                Bodies::Shared => Value::Null,
            }
        }
    };
    Operation {
        key: doc.key.value,
        kind,
        method,
        path: String::new(),
        prefer: (kind.name == "group").then_some("create-if-missing"),
        body,
        match_values,
        depends_on: Vec::new(),
        refs: Vec::new(),
        parent: resource.parent.as_ref().map(|p| p.value.clone()),
        controls: taken.controls,
        description: taken.description,
        baseline: resource.baseline.clone(),
        declared_at: resource.key.span,
        origin: doc.origin,
        var_spans: taken.var_spans,
        vars: taken.vars,
        accepted: taken.accepted,
    }
}

/// Build a tenant's bundle. Each operation takes over its resource's variables, controls,
/// description and accepted lints: `tenant` keeps its resources without them.
pub fn bundle(
    sources: &SourceMap,
    tenant: &mut ResolvedTenant,
    docs: Vec<ExpandedDocument>,
    marker: &str,
    earlier_errors: bool,
) -> (Option<Bundle>, Diagnostics) {
    bundle_with(sources, tenant, docs, marker, earlier_errors, Bodies::Owned)
}

/// [`bundle`], with operations that carry their bodies or not.
pub(crate) fn bundle_with(
    sources: &SourceMap,
    tenant: &mut ResolvedTenant,
    docs: Vec<ExpandedDocument>,
    marker: &str,
    earlier_errors: bool,
    bodies: Bodies,
) -> (Option<Bundle>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let tenant_id = tenant.tenant.id.value.clone();
    needs::skip_what_plans_cannot_take(tenant, &docs);
    let mut taken: BTreeMap<String, Taken> = tenant
        .resources
        .iter_mut()
        .map(|r| {
            (
                r.key.value.clone(),
                Taken {
                    vars: std::mem::take(&mut r.vars),
                    var_spans: std::mem::take(&mut r.var_spans),
                    controls: std::mem::take(&mut r.controls),
                    description: r.description.take(),
                    accepted: std::mem::take(&mut r.accepted),
                },
            )
        })
        .collect();
    let tenant = &*tenant;
    let by_key: BTreeMap<&str, &ResolvedResource> = tenant
        .resources
        .iter()
        .map(|r| (r.key.value.as_str(), r))
        .collect();
    let skipped: BTreeMap<&str, _> = tenant.skipped.iter().map(|s| (s.key.as_str(), s)).collect();

    // Operations that reference a resource the tenant's facts skipped: they go with it.
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    let mut ops: Vec<Operation> = Vec::with_capacity(docs.len());
    let mut shared_bodies: Vec<Option<Arc<SharedBody>>> = Vec::with_capacity(docs.len());
    for doc in docs {
        let Some(resource) = by_key.get(doc.key.value.as_str()) else {
            continue;
        };
        let taken = taken.remove(&doc.key.value).unwrap_or_default();
        let shared = match &doc.body {
            Body::Shared(shared) => Some(Arc::clone(shared)),
            Body::Owned(_) => None,
        };
        let mut op = operation_for(doc, marker, bodies, resource, taken);
        let mut op_diags = Vec::new();

        // Parent.
        let mut parent = None;
        match (op.kind.parent_kind, &resource.parent) {
            (Some(parent_kind), None) => op_diags.push(
                Diagnostic::error(
                    Code::InvalidParent,
                    format!(
                        "a {} needs `parent = \"<key of a {parent_kind}>\"`",
                        op.kind.name
                    ),
                )
                .at(resource.key.span),
            ),
            (None, Some(p)) => op_diags.push(
                Diagnostic::error(
                    Code::InvalidParent,
                    format!("{} takes no `parent`", model::article(op.kind.name)),
                )
                .at(p.span),
            ),
            (Some(parent_kind), Some(p)) => match by_key.get(p.value.as_str()) {
                Some(target) if target.kind.name == parent_kind => {
                    parent = Some((target.kind, p.value.as_str()));
                }
                Some(target) => op_diags.push(
                    Diagnostic::error(
                        Code::InvalidParent,
                        format!(
                            "`parent` must be a {parent_kind}, but `{}` is a {}",
                            p.value, target.kind.name
                        ),
                    )
                    .at(p.span)
                    .note("declared here", target.key.span),
                ),
                None => match skipped.get(p.value.as_str()) {
                    Some(s) if s.cause == SkipCause::Facts => {
                        let reason = needs::dependent_reason(&p.value, &s.reason);
                        blocked.entry(op.key.clone()).or_insert(reason);
                    }
                    _ => {
                        let mut d = Diagnostic::error(
                            Code::InvalidParent,
                            format!(
                                "`parent` names `{}`, which this tenant does not get",
                                p.value
                            ),
                        )
                        .at(p.span);
                        if let Some(s) = skipped.get(p.value.as_str()) {
                            d = d.note(format!("skipped by an override ({})", s.reason), s.span);
                        }
                        op_diags.push(d);
                    }
                },
            },
            (None, None) => {}
        }
        if let Some((_, key)) = parent {
            op.depends_on.push(key.to_string());
        }

        // The path is computed from the body as rendered (placeholders not yet rewritten).
        let rendered = shared.as_deref().map_or(&op.body, |s| &s.rendered);
        match request_path::compute_path(op.kind, rendered, parent) {
            Ok(path) => op.path = path,
            Err(d) => {
                let at =
                    locate_pointer(op.origin.text(sources), d.pointer.as_deref().unwrap_or(""))
                        .map_or(op.declared_at, |p| op.origin.span(p..p));
                op_diags.push(d.at(at));
            }
        }

        // References in the body: a shared body's were found once per run, an owned body's
        // are found (and rewritten) here.
        let mut found_here = Vec::new();
        let found: &[(String, FoundRef)] = match &shared {
            Some(shared) => &bundled(shared, marker).found,
            None => {
                extract_refs(&mut op.body, marker, &mut String::new(), &mut found_here);
                &found_here
            }
        };
        for (pointer, found) in found {
            {
                let text = match found {
                    FoundRef::Marked(text) => text,
                    FoundRef::Forged(text) => {
                        let at = locate_pointer(op.origin.text(sources), pointer)
                            .map_or(op.declared_at, |p| op.origin.span(p..p));
                        op_diags.push(
                            Diagnostic::error(
                                Code::MalformedReference,
                                format!(
                                    "the value \"{}\" looks like a reference placeholder, but only `ref` writes references",
                                    shown(text)
                                ),
                            )
                            .at(at)
                            .pointer(pointer.clone())
                            .help("write references with `ref(to=\"<prefix>:<key>\")` or the `ref`/`refs` filters; a parameter or variable cannot carry one"),
                        );
                        continue;
                    }
                };
                let text = text.as_str();
                // Where the reference is written matters only for a diagnostic.
                let span = || span_of_text(sources, &op, text, pointer);
                let (ref_kind, key) = match parse_ref(text) {
                    Ok(parsed) => parsed,
                    Err(message) => {
                        op_diags.push(
                            Diagnostic::error(Code::MalformedReference, message)
                                .at(span())
                                .pointer(pointer.clone())
                                .expected("`<prefix>:<key>`, e.g. \"group:emergency-access\" (`tenantform kinds` lists prefixes)"),
                        );
                        continue;
                    }
                };
                let Some(target) = by_key.get(key) else {
                    if let Some(s) = skipped.get(key).filter(|s| s.cause == SkipCause::Facts) {
                        let reason = needs::dependent_reason(key, &s.reason);
                        blocked.entry(op.key.clone()).or_insert(reason);
                        continue;
                    }
                    let mut d = Diagnostic::error(
                        Code::DanglingReference,
                        format!("reference \"{text}\" points at no resource of this tenant"),
                    )
                    .at(span())
                    .pointer(pointer.clone());
                    if let Some(s) = skipped.get(key) {
                        d = d
                            .note(
                                format!("`{key}` is skipped by an override ({})", s.reason),
                                s.span,
                            )
                            .help("skip the resources that reference it too, or keep it");
                    } else if let Some(s) = model::did_you_mean(key, by_key.keys().copied()) {
                        d = d.help(format!("did you mean \"{}:{s}\"?", ref_kind.ref_prefix));
                    }
                    op_diags.push(d);
                    continue;
                };
                if target.kind.name != ref_kind.name {
                    op_diags.push(
                        Diagnostic::error(
                            Code::WrongReferenceKind,
                            format!(
                                "reference \"{text}\" says {}, but `{key}` is a {}",
                                ref_kind.name, target.kind.name
                            ),
                        )
                        .at(span())
                        .pointer(pointer.clone())
                        .note("declared here", target.key.span)
                        .help(format!("write \"{}:{key}\"", target.kind.ref_prefix)),
                    );
                    continue;
                }
                if let Some(slot) = op
                    .kind
                    .ref_slots
                    .iter()
                    .find(|s| pointer_matches(s.pointer, pointer))
                    && slot.kind != target.kind.name
                {
                    op_diags.push(
                        Diagnostic::error(
                            Code::WrongReferenceKind,
                            format!(
                                "{pointer} takes a {}, but \"{text}\" is a {}",
                                slot.kind, target.kind.name
                            ),
                        )
                        .at(span())
                        .pointer(pointer.clone())
                        .expected(format!("a reference to a {}", slot.kind)),
                    );
                    continue;
                }
                if key == op.key {
                    op_diags.push(
                        Diagnostic::error(
                            Code::ReferenceCycle,
                            format!("`{key}` references itself"),
                        )
                        .at(span())
                        .pointer(pointer.clone()),
                    );
                    continue;
                }
                op.refs.push(RefUse {
                    pointer: pointer.clone(),
                    target: key.to_string(),
                    kind: target.kind.name,
                });
                op.depends_on.push(key.to_string());
            }
        }
        if let Some((parent_kind, key)) = parent {
            op.refs.push(RefUse {
                pointer: "path".to_string(),
                target: key.to_string(),
                kind: parent_kind.name,
            });
        }
        diags.extend(
            op_diags
                .into_iter()
                .map(|d| d.tenant(tenant_id.clone()).resource(op.key.clone())),
        );
        ops.push(op);
        shared_bodies.push(shared);
    }

    let cascaded = needs::skip_dependents(&mut ops, &mut shared_bodies, blocked);

    // Implicit order: an object addressed under another object's key (partner identity
    // synchronization under its partner) waits for the operation that creates that object.
    let creators: Vec<(String, &'static str, MatchValues)> = ops
        .iter()
        .filter(|o| o.kind.shape == Shape::Collection)
        .map(|o| (o.key.clone(), o.kind.name, o.match_values.clone()))
        .collect();
    for (op, shared) in ops.iter_mut().zip(&shared_bodies) {
        let body = match shared.as_deref().and_then(|s| s.bundled.get()) {
            Some(bundled) if op.body.is_null() => &bundled.body,
            _ => &op.body,
        };
        for (name, param) in op.kind.path_params {
            let _ = name;
            if let PathParam::BodyField(field) = param
                && let Some(value) = body.get(*field)
            {
                for (key, _, values) in &creators {
                    if values.len() == 1 && values.get(field) == Some(value) && key != &op.key {
                        op.depends_on.push(key.clone());
                    }
                }
            }
        }
        op.depends_on.sort();
        op.depends_on.dedup();
    }

    let ordered = match crate::compile::order::order(&ops) {
        Ok(sequence) => sequence,
        Err((cycle, span)) => {
            diags.push(
                Diagnostic::error(
                    Code::ReferenceCycle,
                    format!(
                        "resources depend on each other in a loop: {}",
                        cycle.join(" -> ")
                    ),
                )
                .at(span)
                .tenant(tenant_id.clone())
                .resource(cycle[0].clone()),
            );
            return (None, diags);
        }
    };
    let mut slots: Vec<Option<(Operation, Option<Arc<SharedBody>>)>> =
        ops.into_iter().zip(shared_bodies).map(Some).collect();
    let (ordered, shared): (Vec<Operation>, Vec<Option<Arc<SharedBody>>>) =
        ordered.into_iter().filter_map(|i| slots[i].take()).unzip();
    let has_errors = earlier_errors || diags.has_errors();
    let t = &tenant.tenant;
    (
        Some(Bundle {
            tenant: TenantInfo {
                id: t.id.value.clone(),
                name: t.name.clone(),
                domain: t.domain.clone(),
                cloud: t.cloud,
                ring: t.ring.clone(),
                tags: t.tags.clone(),
            },
            baselines: tenant.layers.clone(),
            operations: ordered,
            skipped: tenant
                .skipped
                .iter()
                .map(|s| SkippedOperation {
                    key: s.key.clone(),
                    kind: s.kind.name,
                    reason: s.reason.clone(),
                    controls: s.controls.clone(),
                })
                .chain(cascaded)
                .collect(),
            links: Vec::new(),
            has_errors,
            shared,
        }),
        diags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_placeholders_are_rewritten_and_unmarked_ones_are_forged() {
        let mut s = "https://x/${ref:M:group:a}/y/${ref:M:location:b%7Dx}".to_string();
        let found = rewrite_refs(&mut s, "M");
        assert_eq!(s, "https://x/${ref:group:a}/y/${ref:location:b}x}");
        assert!(matches!(&found[0], FoundRef::Marked(t) if t == "group:a"));
        assert!(matches!(&found[1], FoundRef::Marked(t) if t == "location:b}x"));
        let mut forged = "BG ${ref:location:x} y".to_string();
        let found = rewrite_refs(&mut forged, "M");
        assert!(matches!(&found[0], FoundRef::Forged(t) if t == "${ref:location:x}"));
        let mut plain = "plain".to_string();
        assert!(rewrite_refs(&mut plain, "M").is_empty());
        assert_eq!(plain, "plain");
    }

    #[test]
    fn parse_ref_checks_prefix_and_key() {
        assert_eq!(
            parse_ref("group:breakglass").map(|(k, key)| (k.name, key)),
            Ok(("group", "breakglass"))
        );
        assert!(parse_ref("grop:breakglass").is_err_and(|e| e.contains("did you mean \"group\"")));
        assert!(parse_ref("breakglass").is_err());
        assert!(parse_ref("group:Bad Key").is_err());
    }

    #[test]
    fn pointer_patterns() {
        assert!(pointer_matches(
            "/conditions/users/excludeGroups/*",
            "/conditions/users/excludeGroups/3"
        ));
        assert!(!pointer_matches(
            "/conditions/users/excludeGroups/*",
            "/conditions/users/excludeUsers/3"
        ));
        assert!(!pointer_matches("/a/*", "/a/1/b"));
    }
}
