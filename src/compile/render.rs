//! Stage 2, `render`: owns the Tera engine. Every template (project files, shipped files and
//! inline `body` strings) is parsed once per run; every filter and function is registered here
//! and nowhere else.
//!
//! Rendering is injection-safe: autoescape is on for every template with an escape function that
//! writes JSON string escapes, so a value can never end the string it sits in; structured values
//! go in through `json`. Values are never rendered twice, so `{{ }}` inside a parameter stays text.
//!
//! Input: a [`ResolvedTenant`]. Output: one [`ExpandedDocument`] per resource (a JSON object and
//! the template it came from), or [`Diagnostics`] at the template's line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tera::{Context, Kwargs, State, Tera};

use crate::compile::validate::{OperationTexts, TEXT_BUDGET_BYTES, TextBudget};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::kinds::Kind;
use crate::source::model::{Sp, TemplateSource};
use crate::source::project::ProjectSource;
use crate::source::resolve::{ResolvedResource, ResolvedTenant};
use crate::source::{FileId, SourceMap, Span};

mod errors;
use errors::{invalid_json, json_type, undefined_path_help, undefined_value_range};

/// Text that starts a reference placeholder in a rendered body: `${ref:group:breakglass}`.
pub const REF_OPEN: &str = "${ref:";

/// Where a rendered body's template text sits in the source map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateOrigin {
    /// The file holding the template text.
    pub file: FileId,
    /// Byte offset of the template's first character in that file.
    pub base: usize,
    /// Length of the template text in the file.
    pub len: usize,
}

impl TemplateOrigin {
    /// A span in the file for a byte range of the template.
    pub fn span(&self, range: std::ops::Range<usize>) -> Span {
        let start = (self.base + range.start).min(self.base + self.len);
        let end = (self.base + range.end).clamp(start, self.base + self.len);
        Span::new(self.file, start..end)
    }

    /// The template text as it stands in the file.
    pub fn text<'s>(&self, sources: &'s SourceMap) -> &'s str {
        sources.slice(Span::new(self.file, self.base..self.base + self.len))
    }
}

/// One resource rendered for one tenant.
#[derive(Debug, Clone)]
pub struct ExpandedDocument {
    /// Logical key.
    pub key: Sp<String>,
    /// Kind.
    pub kind: &'static Kind,
    /// The rendered body.
    pub body: Body,
    /// Where the template is.
    pub origin: TemplateOrigin,
}

/// A rendered body: this resource's own, or one shared with every resource of the run that
/// rendered the same template from the same inputs.
#[derive(Debug, Clone)]
pub enum Body {
    /// Rendered for this resource alone.
    Owned(Value),
    /// Rendered once for the run and shared.
    Shared(Arc<SharedBody>),
}

impl Body {
    /// The body as rendered.
    pub fn value(&self) -> &Value {
        match self {
            Body::Owned(value) => value,
            Body::Shared(shared) => &shared.rendered,
        }
    }
}

/// A body rendered once per run and shared by every resource that renders the same template
/// from the same inputs: most tenants of a fleet render the same bodies. What the later stages
/// derive from the body alone is kept beside it, so that each is worked out once per run too;
/// what depends on the tenant (spans, references to its resources) is still worked out per
/// tenant.
#[derive(Debug)]
pub struct SharedBody {
    /// The body as rendered (reference placeholders still carry the run's marker).
    pub rendered: Value,
    /// `bundle`'s findings: the body with its placeholders rewritten, and where they are.
    pub(crate) bundled: OnceLock<crate::compile::bundle::BundledBody>,
    /// `validate`'s findings: the schema's verdict, the body's hash and its pretty form.
    pub(crate) checked: OnceLock<crate::compile::validate::CheckedBody>,
    /// The text of the operations made from it, as bundle files and content hashes read it
    /// (kept only for bodies the run keeps).
    pub(crate) texts: OperationTexts,
    /// The bundled body as compact JSON text and its SHA-256, as plan and deploy carry it
    /// ([`crate::deploy::slim`]): written once per run, not once per tenant.
    pub(crate) compact: OnceLock<(Arc<str>, [u8; 32])>,
}

/// Most distinct bodies one run keeps (a fleet of the shipped baselines renders a few dozen).
const MEMO_MAX_ENTRIES: usize = 4096;
/// Most bytes of keys and rendered text one run keeps: beyond it bodies are rendered per
/// tenant again, so memory stays flat however large and varied the fleet.
const MEMO_MAX_BYTES: usize = 8 << 20;

/// The run's rendered bodies, by template and the values of the variables the template reads.
struct RenderMemo {
    /// The top-level variables each template (with what it includes or extends) reads, sorted;
    /// a template whose output may depend on anything else is absent and never memoized.
    reads: BTreeMap<String, Vec<String>>,
    entries: Mutex<MemoEntries>,
    /// What the run's bodies may keep of their operations' text.
    texts: Arc<TextBudget>,
}

#[derive(Default)]
struct MemoEntries {
    bodies: HashMap<Vec<u8>, Arc<SharedBody>>,
    bytes: usize,
}

/// The values a tenant's templates may read, written once per tenant when a key needs them.
struct MemoInputs<'a> {
    tenant: &'a Value,
    params: &'a serde_json::Map<String, Value>,
    tenant_text: Option<Vec<u8>>,
    params_text: Option<Vec<u8>>,
}

impl RenderMemo {
    /// The memo key of one resource: the template, the kind, and the exact text (key order
    /// kept: templates may iterate maps) of every context variable the template reads.
    fn key(
        &self,
        name: &str,
        resource: &ResolvedResource,
        inputs: &mut MemoInputs<'_>,
    ) -> Option<Vec<u8>> {
        let reads = self.reads.get(name)?;
        let mut key = Vec::with_capacity(256);
        key.extend_from_slice(name.as_bytes());
        key.push(0);
        key.extend_from_slice(resource.kind.name.as_bytes());
        for variable in reads {
            key.push(0);
            key.extend_from_slice(variable.as_bytes());
            key.push(b'=');
            match variable.as_str() {
                "tenant" => {
                    let tenant = inputs.tenant;
                    let text = inputs
                        .tenant_text
                        .get_or_insert_with(|| serde_json::to_vec(tenant).unwrap_or_default());
                    key.extend_from_slice(text);
                }
                "params" => {
                    let params = inputs.params;
                    let text = inputs
                        .params_text
                        .get_or_insert_with(|| serde_json::to_vec(params).unwrap_or_default());
                    key.extend_from_slice(text);
                }
                "vars" => match &resource.vars_text {
                    // The declaration's variables: their text was written once for the run.
                    Some(text) => key.extend_from_slice(text),
                    None => serde_json::to_writer(&mut key, &*resource.vars).ok()?,
                },
                "resource" => {
                    key.extend_from_slice(resource.key.value.as_bytes());
                    key.push(1);
                    key.extend_from_slice(resource.kind.name.as_bytes());
                }
                // Not in the context: the same (undefined, or set by the template) for all.
                _ => {}
            }
        }
        Some(key)
    }

    fn get(&self, key: &[u8]) -> Option<Arc<SharedBody>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.bodies.get(key).cloned()
    }

    /// Keep a newly rendered body (if there is room) and return the run's copy of it.
    fn insert(&self, key: Vec<u8>, rendered: Value, text_len: usize) -> Arc<SharedBody> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = entries.bodies.get(&key) {
            return Arc::clone(existing);
        }
        let bytes = key.len() + text_len;
        let kept =
            entries.bodies.len() < MEMO_MAX_ENTRIES && entries.bytes + bytes <= MEMO_MAX_BYTES;
        let body = Arc::new(SharedBody {
            rendered,
            bundled: OnceLock::new(),
            checked: OnceLock::new(),
            compact: OnceLock::new(),
            // A body only this tenant gets has no later tenant to write its operations for.
            texts: if kept {
                OperationTexts::kept(Arc::clone(&self.texts))
            } else {
                OperationTexts::none()
            },
        });
        if kept {
            entries.bytes += bytes;
            entries.bodies.insert(key, Arc::clone(&body));
        }
        body
    }
}

/// A tenant's rendered documents.
#[derive(Debug)]
pub struct Rendered {
    /// One per resource that rendered.
    pub documents: Vec<ExpandedDocument>,
    /// Problems, attributed to the tenant and resource.
    pub diagnostics: Diagnostics,
    /// True when any resource failed (possibly with its diagnostic reported elsewhere, once).
    pub failed: bool,
}

/// The template engine for one project (and one run: it keeps the bodies it rendered, so that
/// tenants rendering the same template from the same inputs share one body).
pub struct Engine {
    tera: Tera,
    origins: BTreeMap<String, TemplateOrigin>,
    /// Templates that failed to parse (reported once, by [`Engine::new`]).
    broken: BTreeSet<String>,
    /// The marker `ref` writes into placeholders (see [`Engine::ref_marker`]).
    marker: String,
    memo: RenderMemo,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("templates", &self.origins.len())
            .field("broken", &self.broken.len())
            .field("memoized", &self.memo.reads.len())
            .finish()
    }
}

/// Write `input` with JSON string escapes (without the surrounding quotes).
pub fn escape_json_string(input: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let mut start = 0;
    for (i, c) in input.char_indices() {
        let escaped: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => None,
            _ => continue,
        };
        out.write_all(&input.as_bytes()[start..i])?;
        match escaped {
            Some(e) => out.write_all(e.as_bytes())?,
            None => write!(out, "\\u{:04x}", c as u32)?,
        }
        start = i + c.len_utf8();
    }
    out.write_all(&input.as_bytes()[start..])
}

/// Canonical JSON (sorted keys, compact); see [`crate::canonical`].
pub fn canonical_json(value: &Value) -> String {
    crate::canonical::to_compact_string(value)
}

/// A random marker, new for every engine, that `ref` writes into its placeholders. Text from
/// parameters or variables cannot know it, so it can never pass for a reference.
fn random_marker() -> String {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    format!("{:016x}{:016x}", state.hash_one(1u64), state.hash_one(2u64))
}

/// Percent-encode everything but the characters a reference may hold, so that no argument can
/// end the placeholder early (`}`) or smuggle text into it.
fn encode_ref_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b':' || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undo `encode_ref_text` (invalid escapes and bytes stay as they are, lossily).
pub fn decode_ref_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn placeholder(marker: &str, text: &str) -> String {
    format!("{REF_OPEN}{marker}:{}}}", encode_ref_text(text))
}

fn json_filter(value: &tera::Value, _: Kwargs, _: &State<'_>) -> tera::TeraResult<tera::Value> {
    let json: Value =
        serde_json::to_value(value).map_err(|e| tera::Error::message(e.to_string()))?;
    Ok(tera::Value::safe_string(&canonical_json(&json)))
}

fn ref_value(value: &tera::Value, marker: &str) -> tera::TeraResult<tera::Value> {
    if let Some(s) = value.as_str() {
        return Ok(tera::Value::from(placeholder(marker, s)));
    }
    if let Some(items) = value.as_array() {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(s) = item.as_str() else {
                return Err(tera::Error::message(format!(
                    "`ref` takes reference strings like \"group:breakglass\", found {}",
                    item.name()
                )));
            };
            out.push(tera::Value::from(placeholder(marker, s)));
        }
        return Ok(tera::Value::from(out));
    }
    Err(tera::Error::message(format!(
        "`ref` takes a reference string like \"group:breakglass\" (or a list of them), found {}",
        value.name()
    )))
}

fn register(tera: &mut Tera, marker: &str) {
    // An undefined value given to a filter, test or function is an error (TF202), never `null`
    // or `"undefined"`: a misspelt variable must not reach Graph. `default`, `is defined` and
    // `is undefined` still take undefined values (that is their point).
    tera.set_strict_undefined(true);
    tera.autoescape_on([""]);
    tera.set_escape_fn(escape_json_string);
    tera.register_filter("json", json_filter);
    for name in ["ref", "refs"] {
        let marker = marker.to_string();
        tera.register_filter(name, move |v: &tera::Value, _: Kwargs, _: &State<'_>| {
            ref_value(v, &marker)
        });
    }
    let marker = marker.to_string();
    tera.register_function(
        "ref",
        move |kwargs: Kwargs, _: &State<'_>| -> tera::TeraResult<tera::Value> {
            let to: tera::Value = kwargs.must_get("to")?;
            ref_value(&to, &marker)
        },
    );
}

/// Where a TOML string's content starts, relative to the span of the whole string token.
fn string_content_offset(raw: &str) -> usize {
    let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        3
    } else if raw.starts_with('\'') || raw.starts_with('"') {
        1
    } else {
        0
    };
    let rest = &raw[quote..];
    if quote == 3 {
        if rest.starts_with("\r\n") {
            return quote + 2;
        }
        if rest.starts_with('\n') {
            return quote + 1;
        }
    }
    quote
}

/// The template name used for an inline body.
pub fn inline_name(baseline: &str, key: &str) -> String {
    format!("{baseline}.toml#resources.{key}.body")
}

fn tera_error_span(err: &tera::Error) -> Option<std::ops::Range<usize>> {
    match err.kind() {
        tera::ErrorKind::SyntaxError(report) | tera::ErrorKind::RenderingError(report) => {
            Some(report.span().range.clone())
        }
        _ => None,
    }
}

fn tera_error_message(err: &tera::Error) -> String {
    let mut message = match err.kind() {
        tera::ErrorKind::SyntaxError(report) | tera::ErrorKind::RenderingError(report) => {
            report.message().to_string()
        }
        other => other.to_string(),
    };
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

impl Engine {
    /// Parse every template of the project once.
    pub fn new(project: &ProjectSource) -> (Engine, Diagnostics) {
        let mut tera = Tera::new();
        let marker = random_marker();
        register(&mut tera, &marker);
        let mut engine_origins = BTreeMap::new();
        let mut diags = Diagnostics::new();
        let mut broken = BTreeSet::new();
        let sources = &project.sources;

        // Tera's magic variables (`__tera_context`) read the whole context.
        let mut reads_everything = false;
        let mut add = |tera: &mut Tera, name: String, origin: TemplateOrigin, text: &str| {
            reads_everything |= text.contains("__tera");
            if let Err(e) = tera.add_raw_template(&name, text) {
                let span = tera_error_span(&e).map_or(origin.span(0..0), |r| origin.span(r));
                let d = Diagnostic::error(
                    Code::TemplateSyntax,
                    format!("template {name} does not parse: {}", tera_error_message(&e)),
                )
                .at(span);
                diags.push(d);
                broken.insert(name.clone());
            }
            engine_origins.insert(name, origin);
        };

        for (name, t) in &project.templates {
            let text = &sources.file(t.file).text;
            let origin = TemplateOrigin {
                file: t.file,
                base: 0,
                len: text.len(),
            };
            add(&mut tera, name.clone(), origin, text);
        }
        for b in project.baselines.values() {
            for r in &b.resources {
                if let TemplateSource::Inline(body) = &r.template {
                    let raw = sources.slice(body.span);
                    let offset = string_content_offset(raw);
                    let origin = TemplateOrigin {
                        file: body.span.file,
                        base: body.span.start + offset,
                        len: body.value.len(),
                    };
                    add(
                        &mut tera,
                        inline_name(&b.name, &r.key.value),
                        origin,
                        &body.value,
                    );
                }
            }
        }
        let memo = RenderMemo {
            reads: template_reads(&tera, &engine_origins, &broken, reads_everything),
            entries: Mutex::default(),
            texts: Arc::new(TextBudget::new(TEXT_BUDGET_BYTES)),
        };
        (
            Engine {
                tera,
                origins: engine_origins,
                broken,
                marker,
                memo,
            },
            diags,
        )
    }

    /// The marker in this engine's reference placeholders (`${ref:<marker>:<text>}`): only
    /// text that `ref` wrote carries it.
    pub fn ref_marker(&self) -> &str {
        &self.marker
    }

    /// Render every resource of a tenant; problems are collected, not returned at the first.
    pub fn render(&self, project: &ProjectSource, tenant: &ResolvedTenant) -> Rendered {
        let mut diags = Diagnostics::new();
        let mut failed = false;
        let mut docs = Vec::with_capacity(tenant.resources.len());
        let t = &tenant.tenant;
        let tenant_value = serde_json::json!({
            "id": t.id.value,
            "name": t.name,
            "domain": t.domain,
            "cloud": t.cloud.as_str(),
            "ring": t.ring,
            "tags": t.tags,
        });
        let params: serde_json::Map<String, Value> = tenant
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        // The Tera context is built only when a body is not in the memo.
        let base = std::cell::OnceCell::new();
        let base = || {
            base.get_or_init(|| {
                let mut base = Context::new();
                base.insert("tenant", &tenant_value);
                base.insert("params", &params);
                base
            })
        };
        let mut inputs = MemoInputs {
            tenant: &tenant_value,
            params: &params,
            tenant_text: None,
            params_text: None,
        };
        for resource in &tenant.resources {
            match self.render_one(project, &base, &mut inputs, resource) {
                Ok(doc) => docs.push(doc),
                Err(d) => {
                    failed = true;
                    if let Some(d) = d {
                        let d = *d;
                        diags.push(
                            d.tenant(t.id.value.clone())
                                .resource(resource.key.value.clone()),
                        );
                    }
                }
            }
        }
        Rendered {
            documents: docs,
            diagnostics: diags,
            failed,
        }
    }

    fn render_one<'c>(
        &self,
        project: &ProjectSource,
        base: &dyn Fn() -> &'c Context,
        inputs: &mut MemoInputs<'_>,
        resource: &ResolvedResource,
    ) -> Result<ExpandedDocument, Option<Box<Diagnostic>>> {
        let name = match &resource.template {
            TemplateSource::File(path) => {
                if !self.origins.contains_key(&path.value) {
                    let mut d = Diagnostic::error(
                        Code::TemplateNotFound,
                        format!("template \"{}\" not found under templates/ (nor among the shipped templates)", path.value),
                    )
                    .at(path.span);
                    if let Some(s) = crate::source::model::did_you_mean(
                        &path.value,
                        self.origins.keys().map(String::as_str),
                    ) {
                        d = d.help(format!("did you mean \"{s}\"?"));
                    }
                    return Err(Some(Box::new(d)));
                }
                path.value.clone()
            }
            TemplateSource::Inline(_) => inline_name(&resource.baseline, &resource.key.value),
        };
        if self.broken.contains(&name) {
            // Reported once, when the engine parsed it.
            return Err(None);
        }
        let origin = *self
            .origins
            .get(&name)
            .expect("invariant: every template name was registered with its origin");
        let key = self.memo.key(&name, resource, inputs);
        if let Some(shared) = key.as_deref().and_then(|k| self.memo.get(k)) {
            return Ok(ExpandedDocument {
                key: resource.key.clone(),
                kind: resource.kind,
                body: Body::Shared(shared),
                origin,
            });
        }
        let mut ctx = base().clone();
        ctx.insert("vars", &*resource.vars);
        ctx.insert(
            "resource",
            &serde_json::json!({"key": resource.key.value, "kind": resource.kind.name}),
        );
        let text = self.tera.render(&name, &ctx).map_err(|e| {
            let message = tera_error_message(&e);
            let template = origin.text(&project.sources);
            let range = tera_error_span(&e)
                .map(|r| undefined_value_range(template, r.clone(), &message).unwrap_or(r));
            let span = range.clone().map_or(origin.span(0..0), |r| origin.span(r));
            let mut d = Diagnostic::error(
                Code::RenderFailed,
                format!("template {name} failed to render: {message}"),
            )
            .at(span);
            let written = range.and_then(|r| template.get(r));
            if let Some(help) = written.and_then(|path| {
                undefined_path_help(path, |root| match root {
                    "tenant" => inputs.tenant.as_object(),
                    "params" => Some(inputs.params),
                    "vars" => Some(&*resource.vars),
                    _ => None,
                })
            }) {
                d = d.help(help);
            }
            Some(Box::new(d))
        })?;
        let body: Value = serde_json::from_str(&text).map_err(|e| {
            Some(Box::new(invalid_json(
                &project.sources,
                &name,
                origin,
                &text,
                e,
            )))
        })?;
        if !body.is_object() {
            return Err(Some(Box::new(
                Diagnostic::error(
                    Code::InvalidJson,
                    format!(
                        "template {name} must render one JSON object, it rendered {}",
                        json_type(&body)
                    ),
                )
                .at(origin.span(0..0)),
            )));
        }
        let body = match key {
            Some(key) => Body::Shared(self.memo.insert(key, body, text.len())),
            None => Body::Owned(body),
        };
        Ok(ExpandedDocument {
            key: resource.key.clone(),
            kind: resource.kind,
            body,
            origin,
        })
    }
}

/// The top-level variables each template reads, for the memo. Tera lists the variables a
/// template (with what it extends and includes) names; its own functions and filters, and
/// ours, depend on nothing else. Components and the magic `__tera_context` could, so a project
/// that uses either is never memoized.
fn template_reads(
    tera: &Tera,
    origins: &BTreeMap<String, TemplateOrigin>,
    broken: &BTreeSet<String>,
    reads_everything: bool,
) -> BTreeMap<String, Vec<String>> {
    if reads_everything || tera.get_component_names().next().is_some() {
        return BTreeMap::new();
    }
    origins
        .keys()
        .filter(|name| !broken.contains(*name))
        .filter_map(|name| {
            let mut reads: Vec<String> = tera
                .get_template_variables(name)
                .ok()?
                .into_iter()
                .map(str::to_string)
                .collect();
            reads.sort_unstable();
            Some((name.clone(), reads))
        })
        .collect()
}

/// Find where the property at a JSON pointer is written in a template: follow the pointer's
/// object keys in order through the text (array indices are skipped). Best effort: returns the
/// byte offset of the deepest key found.
pub fn locate_pointer(template: &str, pointer: &str) -> Option<usize> {
    let mut pos = 0;
    let mut found = None;
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            continue;
        }
        let needle = format!("\"{segment}\"");
        let mut search = pos;
        let mut hit = None;
        while let Some(rel) = template[search..].find(&needle) {
            let at = search + rel;
            let after = template[at + needle.len()..].trim_start();
            if after.starts_with(':') {
                hit = Some(at);
                break;
            }
            search = at + needle.len();
        }
        match hit {
            Some(at) => {
                pos = at + needle.len();
                found = Some(at);
            }
            None => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::errors::key_before;
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape_json_string(s, &mut out).expect("write to vec");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn escaping_keeps_values_inside_their_string() {
        let nasty = "a\"b\\c\nd{{ x }}\u{1}";
        let json = format!("\"{}\"", escaped(nasty));
        let back: String = serde_json::from_str(&json).expect("valid JSON string");
        assert_eq!(back, nasty);
    }

    #[test]
    fn reference_text_round_trips_and_cannot_close_the_placeholder() {
        let nasty = "group:a}x\n%";
        let encoded = encode_ref_text(nasty);
        assert!(!encoded.contains('}') && !encoded.contains('\n'));
        assert_eq!(decode_ref_text(&encoded), nasty);
        assert_eq!(
            encode_ref_text("group:emergency-access"),
            "group:emergency-access"
        );
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).expect("json");
        assert_eq!(canonical_json(&v), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }

    #[test]
    fn locate_pointer_follows_nesting() {
        let t = "{\n \"state\": \"x\",\n \"conditions\": {\n  \"users\": {\n   \"state\": 1\n  }\n }\n}";
        assert_eq!(locate_pointer(t, "/state"), Some(3));
        let nested = locate_pointer(t, "/conditions/users/state").expect("found");
        assert_eq!(&t[nested..nested + 7], "\"state\"");
        assert!(nested > 30);
        assert_eq!(locate_pointer(t, "/missing"), None);
    }

    #[test]
    fn key_before_finds_the_enclosing_property() {
        let text = "{\"a\": 1, \"state\": enabled}";
        assert_eq!(key_before(text, 19), Some("state"));
    }

    #[test]
    fn key_before_tolerates_offsets_inside_a_character() {
        // Regression: an offset inside a multi-byte character used to panic.
        let text = "{\"é\": é";
        for offset in 0..=text.len() + 2 {
            let _ = key_before(text, offset);
        }
    }

    /// Render `text` with tenantform's registration and `vars = {"name": "x", "list": [1]}`.
    fn render_strict(text: &str) -> Result<String, String> {
        let mut tera = Tera::new();
        register(&mut tera, "m");
        tera.add_raw_template("t", text)
            .map_err(|e| format!("parse: {e}"))?;
        let mut ctx = Context::new();
        ctx.insert("vars", &serde_json::json!({"name": "x", "list": [1]}));
        tera.render("t", &ctx).map_err(|e| tera_error_message(&e))
    }

    #[test]
    fn undefined_variable_through_filter_is_an_error() {
        // Regression (issue 15): `{{ vars.descripton | json }}` rendered `null`.
        for text in [
            "{{ vars.descripton | json }}",
            "{{ vars.descripton | upper }}",
            "{{ vars.descripton | str }}",
            "{{ vars.descripton | length }}",
            "{{ vars.descripton | trim | json }}",
            "{{ vars.descripton | ref }}",
            "{{ nothing | json }}",
            "{{ vars[\"descripton\"] | json }}",
            "{{ vars.name | replace(from=vars.typo, to=\"y\") }}",
            "{{ vars.descripton | default(value=vars.typo) | json }}",
        ] {
            let err = render_strict(text).expect_err(text);
            assert!(err.contains("undefined"), "{text}: {err}");
        }
    }

    #[test]
    fn undefined_variable_through_a_test_or_function_is_an_error() {
        for text in [
            "{% if vars.descripton is string %}s{% endif %}",
            "{% if vars.descripton is none %}n{% endif %}",
            "{% if vars.name is containing(pat=vars.typo) %}c{% endif %}",
            "{{ ref(to=vars.descripton) }}",
            "{% for i in range(end=vars.count) %}{{ i }}{% endfor %}",
        ] {
            let err = render_strict(text).expect_err(text);
            assert!(err.contains("undefined"), "{text}: {err}");
        }
    }

    #[test]
    fn default_and_definedness_tests_still_take_undefined_values() {
        let cases = [
            ("{{ vars.descripton | default(value=\"d\") }}", "d"),
            ("{{ vars.descripton | default(value=[]) | json }}", "[]"),
            (
                "{% if vars.descripton is defined %}y{% else %}n{% endif %}",
                "n",
            ),
            ("{% if vars.descripton is undefined %}u{% endif %}", "u"),
            ("{% if vars.descripton is not defined %}u{% endif %}", "u"),
            (
                "{% if vars.descripton is defined and vars.descripton | json %}y{% endif %}",
                "",
            ),
            ("{{ vars.name | upper }}{{ vars.list | json }}", "X[1]"),
        ];
        for (text, expected) in cases {
            assert_eq!(render_strict(text).as_deref(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn undefined_path_is_narrowed_and_explained() {
        let template = "{{ vars.descripton | json }}";
        let range = undefined_value_range(
            template,
            3..7,
            "Tried to apply the filter `json` to an undefined value",
        )
        .expect("a path");
        assert_eq!(&template[range], "vars.descripton");
        let call = "x {{ ref(to = vars.exlude) }}";
        let range = undefined_value_range(
            call,
            5..26,
            "The argument `to` of the function `ref` is undefined",
        )
        .expect("a path");
        assert_eq!(&call[range], "vars.exlude");
        assert_eq!(undefined_value_range(call, 5..26, "Other error"), None);

        let vars: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"description": "d", "nested": {"a": 1}}"#).expect("json");
        let root = |name: &str| (name == "vars").then_some(&vars);
        let help = undefined_path_help("vars.descripton", root).expect("help");
        assert!(
            help.starts_with("did you mean `vars.description`?"),
            "{help}"
        );
        let help = undefined_path_help("vars.nested.b", root).expect("help");
        assert!(
            help.contains("`vars.nested` has no field `b` (it has a)"),
            "{help}"
        );
        assert_eq!(undefined_path_help("vars.description", root), None);
        assert_eq!(undefined_path_help("other.x", root), None);
    }

    #[test]
    fn toml_string_content_offsets() {
        assert_eq!(string_content_offset("'''\nabc'''"), 4);
        assert_eq!(string_content_offset("\"abc\""), 1);
        assert_eq!(string_content_offset("'''abc'''"), 3);
    }
}
