//! The text of a validated bundle: the tree its file and its content hash are written from, and
//! the text of each operation made from a body the run shares, written once per run and copied
//! into every bundle that holds the same operation.
//!
//! Input: a [`Bundle`]'s operations and what `validate` found out about their bodies. Output:
//! [`OperationSource`]s and the bundle's [`Node`] tree (pretty with bodies for the file, compact
//! without them for the hash).
//!
//! Most tenants of a fleet get the same operation (the same body, key, path, references,
//! controls, declaration) many times over. Its pretty text (with the body) and its compact text
//! (without the body, as the content hash reads it) are written by the first tenant that has
//! it and kept beside its shared body ([`OperationTexts`]); a later tenant compares its
//! operation's fields with the ones the text was written from, and when every one is the same,
//! copies the bytes instead of walking the operation again. The bytes are the ones the walk
//! would write, so bundles and hashes do not change. What is kept is bounded per body and per
//! run ([`TextBudget`]), so memory stays flat however varied the fleet; past the bounds,
//! operations are written from their fields as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::canonical::{self, Node};
use crate::compile::bundle::{BUNDLE_FORMAT, Bundle, MatchValues, Operation, RefUse};
use crate::compile::render::SharedBody;
use crate::kinds::{ApiVersion, Kind, Method, ThrottleClass};
use crate::source::{FileId, SourceMap, Span};

use super::CheckedBody;

/// How deep a body sits in a bundle file: bundle, operations, operation, body.
pub(super) const BODY_DEPTH: usize = 3;
/// How deep an operation sits in a bundle file: bundle, operations, operation.
const OPERATION_DEPTH: usize = 2;
/// Most texts kept for one shared body (two resources may render the same template alike, and
/// tenants may differ in what else an operation holds).
const TEXTS_PER_BODY: usize = 8;
/// Most bytes of operation text one run keeps.
pub(crate) const TEXT_BUDGET_BYTES: usize = 8 << 20;

/// How many bytes of operation text a run may still keep; shared by all its bodies.
#[derive(Debug)]
pub(crate) struct TextBudget(AtomicUsize);

impl TextBudget {
    /// A budget of `bytes`.
    pub(crate) fn new(bytes: usize) -> TextBudget {
        TextBudget(AtomicUsize::new(bytes))
    }

    /// Take `bytes` from the budget; false (and nothing taken) when there are not that many.
    fn take(&self, bytes: usize) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }
}

/// The texts of the operations made from one shared body.
#[derive(Debug)]
pub(crate) struct OperationTexts {
    /// The run's budget, or `None` for a body the run does not keep (it lives for one tenant,
    /// so its texts would be written for nothing).
    budget: Option<Arc<TextBudget>>,
    /// How many operations have asked for a text that was not there.
    misses: AtomicUsize,
    texts: Mutex<Vec<Arc<OperationText>>>,
}

impl OperationTexts {
    /// Texts kept within `budget`.
    pub(crate) fn kept(budget: Arc<TextBudget>) -> OperationTexts {
        OperationTexts {
            budget: Some(budget),
            misses: AtomicUsize::new(0),
            texts: Mutex::new(Vec::new()),
        }
    }

    /// No text is kept.
    pub(crate) fn none() -> OperationTexts {
        OperationTexts {
            budget: None,
            misses: AtomicUsize::new(0),
            texts: Mutex::new(Vec::new()),
        }
    }

    /// The text written for an operation with the same fields as `op`.
    fn find(&self, op: &Operation) -> Option<Arc<OperationText>> {
        self.budget.as_ref()?;
        let texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        texts.iter().find(|t| t.made_from.is(op)).cloned()
    }

    /// True for the first operation of the body that found no text: its text is not written
    /// (a body the run keeps may still be one tenant's alone, such as one that names the tenant:
    /// texts are written for the bodies that a second operation asks for).
    fn first_miss(&self) -> bool {
        self.misses.fetch_add(1, Ordering::Relaxed) == 0
    }

    /// Keep `text` if there is room; returns the run's text for its operation, if kept.
    fn keep(&self, text: OperationText) -> Option<Arc<OperationText>> {
        let budget = self.budget.as_ref()?;
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(same) = texts.iter().find(|t| t.made_from == text.made_from) {
            // Another worker wrote it meanwhile.
            return Some(Arc::clone(same));
        }
        if texts.len() >= TEXTS_PER_BODY || !budget.take(text.size()) {
            return None;
        }
        let text = Arc::new(text);
        texts.push(Arc::clone(&text));
        Some(text)
    }
}

/// One operation's text, and the fields it was written from.
#[derive(Debug)]
struct OperationText {
    made_from: MadeFrom,
    /// Pretty, with the body, at [`OPERATION_DEPTH`]: as the bundle file holds it.
    pretty: Box<[u8]>,
    /// Compact, without the body (its hash stands for it): as the content hash reads it.
    compact: Box<[u8]>,
}

impl OperationText {
    fn size(&self) -> usize {
        self.pretty.len() + self.compact.len() + self.made_from.size()
    }
}

/// Every field of an operation that its text shows, but the body (its shared body fixes the
/// body and its hash).
#[derive(Debug, PartialEq)]
struct MadeFrom {
    kind: KindShown,
    key: String,
    method: Method,
    path: String,
    prefer: Option<&'static str>,
    match_values: MatchValues,
    depends_on: Vec<String>,
    refs: Vec<RefUse>,
    parent: Option<String>,
    controls: Vec<String>,
    description: Option<String>,
    baseline: String,
    declared_at: Span,
    template: FileId,
    accepted: Vec<(String, String, Span)>,
}

impl MadeFrom {
    fn of(op: &Operation) -> MadeFrom {
        MadeFrom {
            kind: shown(op.kind),
            key: op.key.clone(),
            method: op.method,
            path: op.path.clone(),
            prefer: op.prefer,
            match_values: op.match_values.clone(),
            depends_on: op.depends_on.clone(),
            refs: op.refs.clone(),
            parent: op.parent.clone(),
            controls: op.controls.clone(),
            description: op.description.clone(),
            baseline: op.baseline.clone(),
            declared_at: op.declared_at,
            template: op.origin.file,
            accepted: op
                .accepted
                .iter()
                .map(|a| (a.lint.clone(), a.reason.clone(), a.span))
                .collect(),
        }
    }

    /// True when `op` would be written as this was: every field its text shows is the same.
    fn is(&self, op: &Operation) -> bool {
        self.kind == shown(op.kind)
            && self.key == op.key
            && self.method == op.method
            && self.path == op.path
            && self.prefer == op.prefer
            && self.match_values == op.match_values
            && self.depends_on == op.depends_on
            && self.refs == op.refs
            && self.parent == op.parent
            && self.controls == op.controls
            && self.description == op.description
            && self.baseline == op.baseline
            && self.declared_at == op.declared_at
            && self.template == op.origin.file
            && self.accepted.len() == op.accepted.len()
            && self
                .accepted
                .iter()
                .zip(&op.accepted)
                .all(|((lint, reason, span), a)| {
                    *lint == a.lint && *reason == a.reason && *span == a.span
                })
    }

    /// About how many bytes it holds.
    fn size(&self) -> usize {
        let strings = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
        std::mem::size_of::<MadeFrom>()
            + self.key.len()
            + self.path.len()
            + self.baseline.len()
            + self.parent.as_ref().map_or(0, String::len)
            + self.description.as_ref().map_or(0, String::len)
            + strings(&self.depends_on)
            + strings(&self.controls)
            + self
                .refs
                .iter()
                .map(|r| r.pointer.len() + r.target.len() + 64)
                .sum::<usize>()
            + self.match_values.len() * 128
            + self
                .accepted
                .iter()
                .map(|(l, r, _)| l.len() + r.len() + 64)
                .sum::<usize>()
    }
}

/// What a text shows of a kind: its name, API version and throttling class.
type KindShown = (&'static str, ApiVersion, ThrottleClass);

fn shown(kind: &Kind) -> KindShown {
    (kind.name, kind.api_version, kind.throttle)
}

/// What an operation's text is written from, resolved once when it is validated.
#[derive(Debug, Clone)]
pub(super) struct OperationSource {
    pub(super) body_hash: String,
    shown: Shown,
    /// The run's shared body the operation's body is, once checked (its pretty form is
    /// written already).
    pub(super) shared: Option<Arc<SharedBody>>,
}

/// How an operation is written into its bundle.
#[derive(Debug, Clone)]
enum Shown {
    /// From the text the run keeps for it.
    Text(Arc<OperationText>),
    /// From its fields.
    Fields(Fields),
}

/// An operation's fields that are text only once validated.
#[derive(Debug, Clone)]
struct Fields {
    declared_at: String,
    template: String,
    accepted: Vec<Value>,
}

impl Fields {
    fn of(sources: &SourceMap, op: &Operation) -> Fields {
        Fields {
            declared_at: sources.location(op.declared_at).to_string(),
            template: sources.file(op.origin.file).name.clone(),
            accepted: op
                .accepted
                .iter()
                .map(|a| json!({"lint": a.lint, "reason": a.reason, "at": sources.location(a.span).to_string()}))
                .collect(),
        }
    }
}

impl OperationSource {
    fn checked(&self) -> Option<&CheckedBody> {
        self.shared.as_ref().and_then(|s| s.checked.get())
    }

    /// The operation's body: its own, or its shared body's when it carries none.
    pub(super) fn body<'a>(&'a self, op: &'a Operation) -> &'a Value {
        match self.shared.as_deref().and_then(|s| s.bundled.get()) {
            Some(bundled) if op.body.is_null() => &bundled.body,
            _ => &op.body,
        }
    }

    /// The run's shared body the operation's body is read from, when it carries none.
    pub(super) fn shared_body(&self, op: &Operation) -> Option<&SharedBody> {
        self.shared
            .as_deref()
            .filter(|s| op.body.is_null() && s.bundled.get().is_some())
    }

    /// The body as a node: its pretty text when it was written once for the run.
    fn body_node<'a>(&'a self, op: &'a Operation) -> Node<'a> {
        match self.checked() {
            Some(checked) => Node::Prewritten {
                value: self.body(op),
                pretty: &checked.pretty,
                depth: BODY_DEPTH,
            },
            None => Node::Borrowed(self.body(op)),
        }
    }

    /// The operation as a node of its bundle: with its body for the file, without for the hash.
    fn node<'a>(&'a self, op: &'a Operation, with_body: bool) -> Node<'a> {
        match &self.shown {
            Shown::Text(text) if with_body => Node::Pretty {
                text: &text.pretty,
                depth: OPERATION_DEPTH,
            },
            Shown::Text(text) => Node::Compact(&text.compact),
            Shown::Fields(fields) => operation_node(
                op,
                fields,
                &self.body_hash,
                with_body.then(|| self.body_node(op)),
            ),
        }
    }

    /// The same operation written from its fields, whatever the run keeps (for tests that
    /// compare the two).
    #[cfg(test)]
    pub(super) fn written_from_fields(
        &self,
        sources: &SourceMap,
        op: &Operation,
    ) -> OperationSource {
        OperationSource {
            body_hash: self.body_hash.clone(),
            shown: Shown::Fields(Fields::of(sources, op)),
            shared: self.shared.clone(),
        }
    }

    /// True when the operation is written from a text the run keeps.
    #[cfg(test)]
    pub(super) fn is_kept_text(&self) -> bool {
        matches!(self.shown, Shown::Text(_))
    }
}

/// Where operation `op`'s text comes from. With a body the run shares and has checked, the
/// run's text for an operation with the same fields, written now if the body was asked for
/// before (so the texts of bodies only one tenant gets are never written).
pub(super) fn operation_source(
    sources: &SourceMap,
    op: &Operation,
    body: &Value,
    shared: Option<Arc<SharedBody>>,
) -> OperationSource {
    let checked = shared.as_ref().and_then(|s| s.checked.get());
    let body_hash = match checked {
        Some(checked) => checked.hash.clone(),
        None => canonical::hash(body),
    };
    let fields = match (&shared, checked) {
        (Some(shared), Some(checked)) => {
            if let Some(text) = shared.texts.find(op) {
                return OperationSource {
                    body_hash,
                    shown: Shown::Text(text),
                    shared: shared.clone().into(),
                };
            }
            let fields = Fields::of(sources, op);
            if shared.texts.first_miss() {
                return OperationSource {
                    body_hash,
                    shown: Shown::Fields(fields),
                    shared: shared.clone().into(),
                };
            }
            let text = write_text(op, &fields, &body_hash, body, checked);
            if let Some(text) = shared.texts.keep(text) {
                return OperationSource {
                    body_hash,
                    shown: Shown::Text(text),
                    shared: shared.clone().into(),
                };
            }
            fields
        }
        _ => Fields::of(sources, op),
    };
    OperationSource {
        body_hash,
        shown: Shown::Fields(fields),
        shared,
    }
}

/// Write an operation's two texts from its fields.
fn write_text(
    op: &Operation,
    fields: &Fields,
    body_hash: &str,
    body: &Value,
    checked: &CheckedBody,
) -> OperationText {
    let with_body = operation_node(
        op,
        fields,
        body_hash,
        Some(Node::Prewritten {
            value: body,
            pretty: &checked.pretty,
            depth: BODY_DEPTH,
        }),
    );
    let mut pretty = Vec::with_capacity(checked.pretty.len() + 1024);
    // Writing to a Vec cannot fail, and these nodes are values.
    let _ = canonical::write_node_pretty_at(&mut pretty, &with_body, OPERATION_DEPTH);
    let mut compact = Vec::with_capacity(1024);
    let _ =
        canonical::write_node_compact(&mut compact, &operation_node(op, fields, body_hash, None));
    OperationText {
        made_from: MadeFrom::of(op),
        pretty: pretty.into_boxed_slice(),
        compact: compact.into_boxed_slice(),
    }
}

fn operation_node<'a>(
    op: &'a Operation,
    source: &'a Fields,
    body_hash: &'a str,
    body: Option<Node<'a>>,
) -> Node<'a> {
    // Fields in key order, so that writing them needs no sort.
    let mut fields: Vec<(&str, Node<'a>)> = Vec::with_capacity(17);
    if !source.accepted.is_empty() {
        fields.push(("accepted_lints", Node::of(&source.accepted)));
    }
    fields.push(("api_version", Node::Str(op.kind.api_version.segment())));
    if let Some(body) = body {
        fields.push(("body", body));
    }
    fields.extend([
        ("body_hash", Node::Str(body_hash)),
        ("controls", Node::Strs(&op.controls)),
        ("depends_on", Node::Strs(&op.depends_on)),
    ]);
    if let Some(description) = &op.description {
        fields.push(("description", Node::Str(description)));
    }
    fields.extend([
        ("key", Node::Str(&op.key)),
        ("kind", Node::Str(op.kind.name)),
    ]);
    if !op.match_values.is_empty() {
        fields.push(("match", Node::of(&op.match_values)));
    }
    fields.push(("method", Node::Str(op.method.as_str())));
    if let Some(parent) = &op.parent {
        fields.push(("parent", Node::Str(parent)));
    }
    fields.push(("path", Node::Str(&op.path)));
    if let Some(prefer) = op.prefer {
        fields.push(("prefer", Node::Str(prefer)));
    }
    fields.extend([
        (
            "refs",
            if op.refs.is_empty() {
                Node::Strs(&[])
            } else {
                Node::of(&op.refs)
            },
        ),
        (
            "source",
            Node::Object(vec![
                ("baseline", Node::Str(&op.baseline)),
                ("declared_at", Node::Str(&source.declared_at)),
                ("template", Node::Str(&source.template)),
            ]),
        ),
        ("throttle_class", Node::Str(op.kind.throttle.as_str())),
    ]);
    Node::Object(fields)
}

/// The bundle file as a tree. The content hash covers this tree without `content_hash` and
/// with each body stood for by its `body_hash` (so every body is hashed once, not twice).
pub(super) fn bundle_node<'a>(
    bundle: &'a Bundle,
    sources: &'a [OperationSource],
    content_hash: Option<&'a str>,
) -> Node<'a> {
    let with_bodies = content_hash.is_some();
    let mut fields = vec![
        ("format", Node::of(BUNDLE_FORMAT)),
        ("tenant", Node::of(&bundle.tenant)),
        ("baselines", Node::of(&bundle.baselines)),
        (
            "operations",
            Node::Array(
                bundle
                    .operations
                    .iter()
                    .zip(sources)
                    .map(|(op, source)| source.node(op, with_bodies))
                    .collect(),
            ),
        ),
        ("skipped", Node::of(&bundle.skipped)),
    ];
    if !bundle.links.is_empty() {
        fields.insert(2, ("links", Node::of(&bundle.links)));
    }
    if let Some(hash) = content_hash {
        fields.push(("content_hash", Node::of(hash)));
    }
    Node::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::render::TemplateOrigin;
    use crate::source::resolve::AcceptedLint;

    fn operation() -> Operation {
        let span = |start| Span::new(FileId(1), start..start + 4);
        Operation {
            key: "shared-group".into(),
            kind: crate::kinds::by_name("group").expect("group kind"),
            method: Method::Post,
            path: "/groups".into(),
            prefer: Some("create-if-missing"),
            body: Value::Null,
            match_values: [("uniqueName".to_string(), json!("tf-shared"))]
                .into_iter()
                .collect(),
            depends_on: vec!["other".into()],
            refs: vec![RefUse {
                pointer: "/owners/0".into(),
                target: "other".into(),
                kind: "group",
            }],
            parent: None,
            controls: vec!["X.1".into()],
            description: Some("Shared".into()),
            baseline: "memo".into(),
            declared_at: span(10),
            origin: TemplateOrigin {
                file: FileId(1),
                base: 0,
                len: 10,
            },
            var_spans: Arc::default(),
            vars: Arc::default(),
            accepted: vec![AcceptedLint {
                lint: "lockout".into(),
                reason: "reviewed".into(),
                span: span(20),
            }],
        }
    }

    #[test]
    fn an_operation_takes_a_kept_text_only_when_every_field_it_shows_is_the_same() {
        let made_from = MadeFrom::of(&operation());
        assert!(made_from.is(&operation()));
        assert!(made_from == MadeFrom::of(&operation()));
        // What the text does not show (variables, where they were set, the body, which the
        // shared body fixes) does not matter.
        let mut other = operation();
        Arc::make_mut(&mut other.vars).insert("name".into(), json!("x"));
        other.body = json!({"displayName": "x"});
        assert!(made_from.is(&other));

        type Change = (&'static str, fn(&mut Operation));
        let changes: Vec<Change> = vec![
            ("kind", |op| {
                op.kind = crate::kinds::by_name("namedLocation").expect("kind")
            }),
            ("key", |op| op.key.push('x')),
            ("method", |op| op.method = Method::Patch),
            ("path", |op| op.path.push('x')),
            ("prefer", |op| op.prefer = None),
            ("match", |op| {
                op.match_values = [("uniqueName".to_string(), json!("other"))]
                    .into_iter()
                    .collect()
            }),
            ("depends_on", |op| op.depends_on.push("more".into())),
            ("refs", |op| op.refs[0].pointer = "/owners/1".into()),
            ("parent", |op| op.parent = Some("p".into())),
            ("controls", |op| op.controls.push("X.2".into())),
            ("description", |op| op.description = None),
            ("baseline", |op| op.baseline = "extra".into()),
            ("declared_at", |op| {
                op.declared_at = Span::new(FileId(1), 11..15)
            }),
            ("template", |op| op.origin.file = FileId(2)),
            ("accepted lint", |op| op.accepted[0].lint = "other".into()),
            ("accepted reason", |op| op.accepted[0].reason.push('!')),
            ("accepted at", |op| {
                op.accepted[0].span = Span::new(FileId(1), 30..34)
            }),
            ("accepted count", |op| op.accepted.clear()),
        ];
        for (field, change) in changes {
            let mut op = operation();
            change(&mut op);
            assert!(!made_from.is(&op), "{field} changed, the text was taken");
            assert!(
                made_from != MadeFrom::of(&op),
                "{field} changed, the texts were taken for the same"
            );
        }
    }

    #[test]
    fn a_run_keeps_texts_within_its_budget_and_a_body_it_does_not_keep_none() {
        let text = |key: &str| {
            let mut op = operation();
            op.key = key.into();
            OperationText {
                made_from: MadeFrom::of(&op),
                pretty: vec![b' '; 100].into_boxed_slice(),
                compact: vec![b' '; 50].into_boxed_slice(),
            }
        };
        let one = text("a").size();
        let budget = Arc::new(TextBudget::new(one * 2));
        let texts = OperationTexts::kept(Arc::clone(&budget));
        let kept = texts.keep(text("a")).expect("room for one");
        // The same operation again is the text kept, not a second one.
        let again = texts.keep(text("a")).expect("kept already");
        assert!(Arc::ptr_eq(&kept, &again));
        assert!(texts.keep(text("b")).is_some());
        // The budget is spent: a third operation is written from its fields.
        assert!(texts.keep(text("c")).is_none());
        let mut op = operation();
        op.key = "c".into();
        assert!(texts.find(&op).is_none());
        op.key = "b".into();
        assert!(texts.find(&op).is_some());

        let none = OperationTexts::none();
        assert!(none.keep(text("a")).is_none());
        assert!(none.find(&operation()).is_none());
    }
}
