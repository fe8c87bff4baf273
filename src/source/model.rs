//! The TOML source model: `tenantform.toml`, baselines and tenants, decoded by hand from toml's
//! spanned document tree so that every value keeps its `file:line:col`, every problem in a file
//! is reported in one run (not only the first), and an unknown key gets a "did you mean".
//!
//! Input: one file's text and its [`FileId`]. Output: [`ProjectConfig`], [`Baseline`] or
//! [`Tenant`]s, plus [`Diagnostics`]. The key-by-key reference is book/src/reference/.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::kinds::{self, Kind};
use crate::source::{FileId, Span};

/// A value with the span it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Sp<T> {
    /// Wrap a value.
    pub fn new(value: T, span: Span) -> Sp<T> {
        Sp { value, span }
    }
}

/// Any TOML value, owned, with spans all the way down (parameter values and `vars`).
#[derive(Debug, Clone, PartialEq)]
pub enum TomlValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A date or date-time, kept as written.
    Datetime(String),
    /// An array.
    Array(Vec<Sp<TomlValue>>),
    /// A table, in source order.
    Table(SpTable),
}

/// A table of spanned keys and values, in source order.
pub type SpTable = Vec<(Sp<String>, Sp<TomlValue>)>;

impl TomlValue {
    /// The TOML type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            TomlValue::String(_) => "a string",
            TomlValue::Integer(_) => "an integer",
            TomlValue::Float(_) => "a float",
            TomlValue::Bool(_) => "a boolean",
            TomlValue::Datetime(_) => "a date",
            TomlValue::Array(_) => "an array",
            TomlValue::Table(_) => "a table",
        }
    }

    /// The value as JSON (dates become strings).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            TomlValue::String(s) | TomlValue::Datetime(s) => serde_json::Value::String(s.clone()),
            TomlValue::Integer(i) => serde_json::Value::from(*i),
            TomlValue::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            TomlValue::Bool(b) => serde_json::Value::Bool(*b),
            TomlValue::Array(items) => items.iter().map(|i| i.value.to_json()).collect(),
            TomlValue::Table(t) => table_to_json(t),
        }
    }
}

/// A spanned table as a JSON object.
pub fn table_to_json(table: &SpTable) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.to_json()))
            .collect(),
    )
}

/// `tenantform.toml`.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// `[project] name`.
    pub name: Sp<String>,
}

/// The scalar types a parameter (or a list's items) can have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScalarType {
    /// Any string.
    String,
    /// true / false.
    Bool,
    /// A 64-bit integer.
    Integer,
    /// A GUID string.
    Uuid,
    /// One of the listed strings.
    Enum(Vec<String>),
}

impl ScalarType {
    /// Name for messages.
    pub fn describe(&self) -> String {
        match self {
            ScalarType::String => "a string".into(),
            ScalarType::Bool => "a boolean".into(),
            ScalarType::Integer => "an integer".into(),
            ScalarType::Uuid => "a GUID string".into(),
            ScalarType::Enum(values) => format!("one of {}", quote_list(values)),
        }
    }
}

/// A parameter's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    /// One value.
    Scalar(ScalarType),
    /// A list of values.
    List(ScalarType),
}

impl ParamType {
    /// Name for messages.
    pub fn describe(&self) -> String {
        match self {
            ParamType::Scalar(s) => s.describe(),
            ParamType::List(ScalarType::String) => "a list of strings".into(),
            ParamType::List(ScalarType::Bool) => "a list of booleans".into(),
            ParamType::List(ScalarType::Integer) => "a list of integers".into(),
            ParamType::List(ScalarType::Uuid) => "a list of GUID strings".into(),
            ParamType::List(ScalarType::Enum(values)) => {
                format!("a list of values from {}", quote_list(values))
            }
        }
    }
}

/// A declared parameter.
#[derive(Debug, Clone)]
pub struct ParamDecl {
    /// Name (`[params.<name>]`).
    pub name: Sp<String>,
    /// Type.
    pub ty: ParamType,
    /// Default value; `None` means required.
    pub default: Option<Sp<TomlValue>>,
    /// Description.
    pub description: String,
}

/// Where a resource's template comes from.
#[derive(Debug, Clone)]
pub enum TemplateSource {
    /// A file under `templates/` (project first, then shipped).
    File(Sp<String>),
    /// An inline `body = '''...'''`.
    Inline(Sp<String>),
}

/// An accepted lint finding: `allow = { lockout = "reason" }`.
#[derive(Debug, Clone)]
pub struct Allow {
    /// Lint name.
    pub lint: Sp<String>,
    /// Why it is acceptable.
    pub reason: Sp<String>,
}

/// A resource declared by a baseline.
#[derive(Debug, Clone)]
pub struct ResourceDecl {
    /// Logical key.
    pub key: Sp<String>,
    /// Kind.
    pub kind: &'static Kind,
    /// Span of the `kind` value.
    pub kind_span: Span,
    /// Template.
    pub template: TemplateSource,
    /// Description.
    pub description: Option<String>,
    /// Controls implemented.
    pub controls: Vec<String>,
    /// Template variables.
    pub vars: SpTable,
    /// Parent resource key (assignments).
    pub parent: Option<Sp<String>>,
    /// Accepted lint findings.
    pub allow: Vec<Allow>,
}

/// A change a baseline makes to a resource of a layer it extends.
#[derive(Debug, Clone)]
pub struct Patch {
    /// The resource key.
    pub key: Sp<String>,
    /// Variables merged over the resource's.
    pub vars: SpTable,
    /// New description.
    pub description: Option<String>,
    /// Replacement controls.
    pub controls: Option<Vec<String>>,
    /// Extra accepted lint findings.
    pub allow: Vec<Allow>,
}

/// A baseline file.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Name (the file stem).
    pub name: String,
    /// The file.
    pub file: FileId,
    /// True for baselines shipped in the binary.
    pub shipped: bool,
    /// Description.
    pub description: String,
    /// Layers below.
    pub extends: Vec<Sp<String>>,
    /// Declared parameters.
    pub params: Vec<ParamDecl>,
    /// New defaults for parameters of extended layers.
    pub defaults: SpTable,
    /// Resources.
    pub resources: Vec<ResourceDecl>,
    /// Patches to resources of extended layers.
    pub patches: Vec<Patch>,
}

/// A national cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Commercial (login.microsoftonline.com, graph.microsoft.com).
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// Azure China (21Vianet).
    China,
}

impl Cloud {
    /// All clouds with their config names.
    pub const NAMES: &'static [(&'static str, Cloud)] = &[
        ("global", Cloud::Global),
        ("usgov", Cloud::UsGov),
        ("usgovdod", Cloud::UsGovDod),
        ("china", Cloud::China),
    ];

    /// Config name.
    pub fn as_str(self) -> &'static str {
        Cloud::NAMES
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("global", |(n, _)| n)
    }
}

/// Where a tenant's client secret or certificate comes from (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The name of an environment variable.
    Env(String),
    /// A file holding the secret.
    File(String),
    /// A PEM certificate and its private key.
    Certificate {
        /// Certificate path.
        certificate: String,
        /// Key path.
        key: String,
    },
}

/// `[tenant.credentials]`.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The app's client id.
    pub client_id: Sp<String>,
    /// Where the secret comes from.
    pub secret: SecretSource,
}

/// `[tenant.endpoints]`: overrides of the cloud's hosts.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Token endpoint base.
    pub login: Option<String>,
    /// Graph base.
    pub graph: Option<String>,
}

/// `[[tenant.overrides]]`.
#[derive(Debug, Clone)]
pub struct Override {
    /// The resource key it changes.
    pub resource: Sp<String>,
    /// Variables merged over the resource's.
    pub vars: SpTable,
    /// Skip the resource in this tenant.
    pub skip: bool,
    /// Accepted lint findings.
    pub allow: Vec<Allow>,
    /// Why (required).
    pub reason: Sp<String>,
    /// When the override stops being acceptable.
    pub expires: Option<Sp<jiff::civil::Date>>,
    /// The whole entry.
    pub span: Span,
}

/// A tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Entra tenant id, lower case.
    pub id: Sp<String>,
    /// Display name.
    pub name: String,
    /// Primary domain.
    pub domain: Option<String>,
    /// Cloud.
    pub cloud: Cloud,
    /// Rollout ring.
    pub ring: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Baselines it gets, in order.
    pub baselines: Vec<Sp<String>>,
    /// Credentials by reference.
    pub credentials: Option<Credentials>,
    /// Endpoint overrides.
    pub endpoints: Endpoints,
    /// Parameter values.
    pub params: SpTable,
    /// Overrides.
    pub overrides: Vec<Override>,
    /// The `[[tenant]]` entry.
    pub span: Span,
    /// The entry had errors (its own diagnostics say which); it is not compiled.
    pub has_errors: bool,
}

/// Quote a list for messages: `"a", "b" or "c"`.
pub fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// "a group", "an authenticationMethodConfiguration".
pub fn article(noun: &str) -> String {
    let an = noun.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']);
    format!("{} {noun}", if an { "an" } else { "a" })
}

/// The closest candidate to `input`, if one is close enough to suggest.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// True for a GUID in 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// True for a resource key: lower-case ASCII letters, digits and `-`, starting with a letter.
pub fn is_resource_key(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_param_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

type DeEntry<'a, 'i> = (&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

/// Reads one file's document tree, collecting diagnostics.
struct Reader<'d> {
    file: FileId,
    diags: &'d mut Diagnostics,
    /// Unknown keys that look like a known key: (where, the key they were probably meant as).
    near_misses: Vec<(std::ops::Range<usize>, String)>,
    /// Byte offset of the parsed text in the file (tenants files are parsed entry by entry).
    offset: usize,
}

impl<'d> Reader<'d> {
    fn new(file: FileId, diags: &'d mut Diagnostics, offset: usize) -> Reader<'d> {
        Reader {
            file,
            diags,
            near_misses: Vec::new(),
            offset,
        }
    }

    fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span::new(
            self.file,
            range.start + self.offset..range.end + self.offset,
        )
    }

    /// The parser-relative range of a span that already includes the file offset.
    fn raw(&self, span: Span) -> std::ops::Range<usize> {
        span.start.saturating_sub(self.offset)..span.end.saturating_sub(self.offset)
    }

    /// An error at a span that already includes the file offset (from an [`Sp`]).
    fn error_at(&mut self, code: Code, message: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::error(code, message).at(span));
    }

    fn error(&mut self, code: Code, message: impl Into<String>, range: std::ops::Range<usize>) {
        let span = self.span(range);
        self.diags.push(Diagnostic::error(code, message).at(span));
    }

    /// Report keys not in `allowed`, with a suggestion.
    fn check_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], what: &str) {
        self.near_misses.clear();
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if !allowed.contains(&name) {
                let mut d =
                    Diagnostic::error(Code::UnknownKey, format!("unknown key `{name}` in {what}"))
                        .at(self.span(key.span()))
                        .expected(format!("one of {}", quote_list(allowed)));
                if let Some(s) = did_you_mean(name, allowed.iter().copied()) {
                    d = d.help(format!("did you mean `{s}`?"));
                    self.near_misses.push((key.span(), s.to_string()));
                }
                self.diags.push(d);
            }
        }
    }

    fn get<'a, 'i>(&self, table: &'a DeTable<'i>, key: &str) -> Option<DeEntry<'a, 'i>> {
        table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
    }

    fn wrong_type(&mut self, key: &str, what: &str, expected: &str, value: &Spanned<DeValue<'_>>) {
        let d = Diagnostic::error(
            Code::WrongType,
            format!(
                "`{key}` in {what} must be {expected}, found {}",
                de_type_name(value.get_ref())
            ),
        )
        .at(self.span(value.span()))
        .expected(expected.to_string());
        self.diags.push(d);
    }

    fn missing(&mut self, key: &str, what: &str, range: std::ops::Range<usize>) {
        // A misspelt key was already reported with a suggestion; "missing" would say it twice.
        // `near_misses` holds the last checked table's misspellings (tables are checked just
        // before their keys are read).
        if self.near_misses.iter().any(|(_, meant)| meant == key) {
            return;
        }
        self.error(
            Code::MissingRequired,
            format!("{what} is missing the required key `{key}`"),
            range,
        );
    }

    fn string(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Option<Sp<String>> {
        let (_, value) = self.get(table, key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), self.span(value.span()))),
            _ => {
                self.wrong_type(key, what, "a string", value);
                None
            }
        }
    }

    fn required_string(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
        whole: std::ops::Range<usize>,
    ) -> Option<Sp<String>> {
        if self.get(table, key).is_none() {
            self.missing(key, what, whole);
            return None;
        }
        self.string(table, key, what)
    }

    fn bool(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Option<bool> {
        let (_, value) = self.get(table, key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, what, "a boolean (true or false)", value);
                None
            }
        }
    }

    fn string_list(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Vec<Sp<String>> {
        let Some((_, value)) = self.get(table, key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, what, "an array of strings", value);
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Sp::new(s.to_string(), self.span(item.span()))),
                _ => self.wrong_type(key, what, "an array of strings", item),
            }
        }
        out
    }

    fn sub_table<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        key: &str,
        what: &str,
    ) -> Option<(&'a DeTable<'i>, std::ops::Range<usize>)> {
        let (_, value) = self.get(table, key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some((t, value.span())),
            _ => {
                self.wrong_type(key, what, "a table", value);
                None
            }
        }
    }

    fn value(&self, value: &Spanned<DeValue<'_>>) -> Sp<TomlValue> {
        let span = self.span(value.span());
        let v = match value.get_ref() {
            DeValue::String(s) => TomlValue::String(s.to_string()),
            DeValue::Integer(i) => TomlValue::Integer(
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).unwrap_or_default(),
            ),
            DeValue::Float(f) => {
                TomlValue::Float(f.as_str().replace('_', "").parse().unwrap_or_default())
            }
            DeValue::Boolean(b) => TomlValue::Bool(*b),
            DeValue::Datetime(d) => TomlValue::Datetime(d.to_string()),
            DeValue::Array(items) => {
                TomlValue::Array(items.iter().map(|i| self.value(i)).collect())
            }
            DeValue::Table(t) => TomlValue::Table(self.table_value(t)),
        };
        Sp::new(v, span)
    }

    fn table_value(&self, table: &DeTable<'_>) -> SpTable {
        table
            .iter()
            .map(|(k, v)| {
                (
                    Sp::new(k.get_ref().to_string(), self.span(k.span())),
                    self.value(v),
                )
            })
            .collect()
    }

    fn value_table(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> SpTable {
        match self.sub_table(table, key, what) {
            Some((t, _)) => self.table_value(t),
            None => Vec::new(),
        }
    }

    fn allow(&mut self, table: &DeTable<'_>, what: &str) -> Vec<Allow> {
        let Some((t, _)) = self.sub_table(table, "allow", what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in t.iter() {
            let lint = Sp::new(k.get_ref().to_string(), self.span(k.span()));
            match v.get_ref() {
                DeValue::String(reason) => out.push(Allow {
                    lint,
                    reason: Sp::new(reason.to_string(), self.span(v.span())),
                }),
                _ => self.wrong_type(&lint.value, "`allow`", "a string giving the reason", v),
            }
        }
        out
    }
}

fn de_type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Parse a file's TOML; a syntax error becomes `TF101` at its position.
fn parse_document<'i>(
    text: &'i str,
    file: FileId,
    offset: usize,
    diags: &mut Diagnostics,
) -> Option<Spanned<DeTable<'i>>> {
    match DeTable::parse(text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let range = e
                .span()
                .map_or(offset..offset, |r| r.start + offset..r.end + offset);
            let message = e.message().trim().trim_end_matches('.').to_string();
            diags.push(
                Diagnostic::error(Code::TomlSyntax, format!("invalid TOML: {message}"))
                    .at(Span::new(file, range)),
            );
            None
        }
    }
}

/// Decode `tenantform.toml`.
pub fn decode_project(text: &str, file: FileId, diags: &mut Diagnostics) -> Option<ProjectConfig> {
    let doc = parse_document(text, file, 0, diags)?;
    let mut r = Reader::new(file, diags, 0);
    let root = doc.get_ref();
    r.check_keys(root, &["project"], "tenantform.toml");
    let Some((project, range)) = r.sub_table(root, "project", "tenantform.toml") else {
        r.missing("project", "tenantform.toml", 0..0);
        return None;
    };
    r.check_keys(project, &["name"], "[project]");
    let name = r.required_string(project, "name", "[project]", range)?;
    Some(ProjectConfig { name })
}

const PARAM_TYPES: &[&str] = &["string", "bool", "integer", "uuid", "enum", "list"];

fn decode_param(
    r: &mut Reader<'_>,
    name: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<ParamDecl> {
    let what = format!("[params.{}]", name.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(
            &name.value,
            "[params]",
            "a table with `type` and `description`",
            value,
        );
        return None;
    };
    r.check_keys(
        t,
        &["type", "items", "values", "default", "description"],
        &what,
    );
    if !is_param_name(&name.value) {
        r.error_at(
            Code::InvalidValue,
            format!(
                "parameter name `{}` must be lower case letters, digits and `_`, starting with a letter",
                name.value
            ), name.span);
    }
    let ty_text = r.required_string(t, "type", &what, value.span())?;
    let description = r
        .required_string(t, "description", &what, value.span())
        .map(|s| s.value)
        .unwrap_or_default();
    let values: Vec<String> = r
        .string_list(t, "values", &what)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let scalar = |r: &mut Reader<'_>, text: &Sp<String>, key: &str| -> Option<ScalarType> {
        Some(match text.value.as_str() {
            "string" => ScalarType::String,
            "bool" => ScalarType::Bool,
            "integer" => ScalarType::Integer,
            "uuid" => ScalarType::Uuid,
            "enum" => {
                if values.is_empty() {
                    r.missing("values", &format!("{what} (an enum)"), r.raw(text.span));
                    return None;
                }
                ScalarType::Enum(values.clone())
            }
            other => {
                let allowed: &[&str] = if key == "items" {
                    &PARAM_TYPES[..5]
                } else {
                    PARAM_TYPES
                };
                let mut d = Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` in {what} must be a parameter type, found \"{other}\""),
                )
                .at(text.span)
                .expected(format!("one of {}", quote_list(allowed)));
                if let Some(s) = did_you_mean(other, allowed.iter().copied()) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                r.diags.push(d);
                return None;
            }
        })
    };
    let ty = if ty_text.value == "list" {
        let items = r.required_string(t, "items", &format!("{what} (a list)"), value.span())?;
        ParamType::List(scalar(r, &items, "items")?)
    } else {
        ParamType::Scalar(scalar(r, &ty_text, "type")?)
    };
    let default = r.get(t, "default").map(|(_, v)| r.value(v));
    Some(ParamDecl {
        name,
        ty,
        default,
        description,
    })
}

fn decode_resource(
    r: &mut Reader<'_>,
    key: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<ResourceDecl> {
    let what = format!("[resources.{}]", key.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(&key.value, "[resources]", "a table", value);
        return None;
    };
    r.check_keys(
        t,
        &[
            "kind",
            "template",
            "body",
            "description",
            "controls",
            "vars",
            "parent",
            "allow",
        ],
        &what,
    );
    if !is_resource_key(&key.value) {
        r.error_at(
            Code::InvalidValue,
            format!(
                "resource key `{}` must be lower case letters, digits and `-`, starting with a letter",
                key.value
            ), key.span);
    }
    let kind_text = r.required_string(t, "kind", &what, value.span());
    let template = match (r.string(t, "template", &what), r.string(t, "body", &what)) {
        (Some(file), None) => Some(TemplateSource::File(file)),
        (None, Some(body)) => Some(TemplateSource::Inline(body)),
        (Some(file), Some(_)) => {
            r.error_at(
                Code::InvalidValue,
                format!("{what} has both `template` and `body`; give one"),
                file.span,
            );
            None
        }
        (None, None) => {
            r.missing(
                "template",
                &format!("{what} (or an inline `body`)"),
                value.span(),
            );
            None
        }
    };
    let description = r.string(t, "description", &what).map(|s| s.value);
    let controls = r
        .string_list(t, "controls", &what)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let vars = r.value_table(t, "vars", &what);
    let parent = r.string(t, "parent", &what);
    let allow = r.allow(t, &what);
    let kind_text = kind_text?;
    let Some(kind) = kinds::by_name(&kind_text.value) else {
        let mut d = Diagnostic::error(
            Code::UnknownKind,
            format!("unknown resource kind \"{}\"", kind_text.value),
        )
        .at(kind_text.span)
        .help("`tenantform kinds` lists every kind");
        if let Some(s) = did_you_mean(&kind_text.value, kinds::names()) {
            d = d.help(format!(
                "did you mean \"{s}\"? (`tenantform kinds` lists every kind)"
            ));
        }
        r.diags.push(d);
        return None;
    };
    Some(ResourceDecl {
        key,
        kind,
        kind_span: kind_text.span,
        template: template?,
        description,
        controls,
        vars,
        parent,
        allow,
    })
}

fn decode_patch(
    r: &mut Reader<'_>,
    key: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<Patch> {
    let what = format!("[patch.{}]", key.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(&key.value, "[patch]", "a table", value);
        return None;
    };
    r.check_keys(t, &["vars", "description", "controls", "allow"], &what);
    let controls = r.get(t, "controls").is_some().then(|| {
        r.string_list(t, "controls", &what)
            .into_iter()
            .map(|s| s.value)
            .collect()
    });
    Some(Patch {
        vars: r.value_table(t, "vars", &what),
        description: r.string(t, "description", &what).map(|s| s.value),
        controls,
        allow: r.allow(t, &what),
        key,
    })
}

/// Decode a baseline file named `name`.
pub fn decode_baseline(
    name: &str,
    text: &str,
    file: FileId,
    shipped: bool,
    diags: &mut Diagnostics,
) -> Option<Baseline> {
    let doc = parse_document(text, file, 0, diags)?;
    let mut r = Reader::new(file, diags, 0);
    let root = doc.get_ref();
    r.check_keys(
        root,
        &["baseline", "params", "defaults", "resources", "patch"],
        "a baseline",
    );
    let Some((head, head_range)) = r.sub_table(root, "baseline", "a baseline") else {
        r.missing("baseline", "the baseline file", 0..0);
        return None;
    };
    r.check_keys(head, &["description", "extends"], "[baseline]");
    let description = r
        .required_string(head, "description", "[baseline]", head_range)
        .map(|s| s.value)
        .unwrap_or_default();
    let extends = r.string_list(head, "extends", "[baseline]");

    let mut params = Vec::new();
    if let Some((t, _)) = r.sub_table(root, "params", "a baseline") {
        for (k, v) in t.iter() {
            let name = Sp::new(k.get_ref().to_string(), r.span(k.span()));
            if let Some(p) = decode_param(&mut r, name, v) {
                params.push(p);
            }
        }
    }
    let defaults = r.value_table(root, "defaults", "a baseline");
    let mut resources = Vec::new();
    if let Some((t, _)) = r.sub_table(root, "resources", "a baseline") {
        for (k, v) in t.iter() {
            let key = Sp::new(k.get_ref().to_string(), r.span(k.span()));
            if let Some(res) = decode_resource(&mut r, key, v) {
                resources.push(res);
            }
        }
    }
    let mut patches = Vec::new();
    if let Some((t, _)) = r.sub_table(root, "patch", "a baseline") {
        for (k, v) in t.iter() {
            let key = Sp::new(k.get_ref().to_string(), r.span(k.span()));
            if let Some(p) = decode_patch(&mut r, key, v) {
                patches.push(p);
            }
        }
    }
    Some(Baseline {
        name: name.to_string(),
        file,
        shipped,
        description,
        extends,
        params,
        defaults,
        resources,
        patches,
    })
}

fn decode_credentials(
    r: &mut Reader<'_>,
    t: &DeTable<'_>,
    range: std::ops::Range<usize>,
) -> Option<Credentials> {
    let what = "[tenant.credentials]";
    r.check_keys(
        t,
        &[
            "client_id",
            "client_secret_env",
            "client_secret_file",
            "certificate",
            "certificate_key",
        ],
        what,
    );
    let client_id = r.required_string(t, "client_id", what, range.clone());
    if let Some(id) = &client_id
        && !is_guid(&id.value)
    {
        r.error_at(
            Code::InvalidValue,
            format!("`client_id` must be a GUID, found \"{}\"", id.value),
            id.span,
        );
    }
    let env = r.string(t, "client_secret_env", what);
    let file = r.string(t, "client_secret_file", what);
    let cert = r.string(t, "certificate", what);
    let key = r.string(t, "certificate_key", what);
    let secret = match (env, file, cert, key) {
        (Some(e), None, None, None) => SecretSource::Env(e.value),
        (None, Some(f), None, None) => SecretSource::File(f.value),
        (None, None, Some(c), Some(k)) => SecretSource::Certificate {
            certificate: c.value,
            key: k.value,
        },
        (None, None, Some(c), None) => {
            r.missing(
                "certificate_key",
                "[tenant.credentials] with a `certificate`",
                r.raw(c.span),
            );
            return None;
        }
        _ => {
            r.error(
                Code::InvalidValue,
                "[tenant.credentials] needs exactly one of `client_secret_env`, `client_secret_file`, or `certificate` with `certificate_key`",
                range,
            );
            return None;
        }
    };
    Some(Credentials {
        client_id: client_id?,
        secret,
    })
}

fn decode_override(r: &mut Reader<'_>, value: &Spanned<DeValue<'_>>) -> Option<Override> {
    let what = "[[tenant.overrides]]";
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type("overrides", "[[tenant]]", "an array of tables", value);
        return None;
    };
    r.check_keys(
        t,
        &["resource", "vars", "skip", "allow", "reason", "expires"],
        what,
    );
    let resource = r.required_string(t, "resource", what, value.span());
    let reason = r.required_string(t, "reason", what, value.span());
    if let Some(reason) = &reason
        && reason.value.trim().is_empty()
    {
        r.error_at(
            Code::MissingRequired,
            "an override's `reason` must not be empty",
            reason.span,
        );
    }
    let vars = r.value_table(t, "vars", what);
    let skip = r.bool(t, "skip", what).unwrap_or(false);
    let allow = r.allow(t, what);
    let expires = r.get(t, "expires").and_then(|(_, v)| {
        let text = match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(d) => d.to_string(),
            _ => {
                r.wrong_type("expires", what, "a date (YYYY-MM-DD)", v);
                return None;
            }
        };
        match text.parse::<jiff::civil::Date>() {
            Ok(date) => Some(Sp::new(date, r.span(v.span()))),
            Err(_) => {
                r.error(
                    Code::InvalidValue,
                    format!("`expires` must be a date (YYYY-MM-DD), found \"{text}\""),
                    v.span(),
                );
                None
            }
        }
    });
    if vars.is_empty() && !skip && allow.is_empty() {
        r.error(
            Code::MissingRequired,
            "an override must change something: give `vars`, `skip = true` or `allow`",
            value.span(),
        );
    }
    Some(Override {
        resource: resource?,
        vars,
        skip,
        allow,
        reason: reason?,
        expires,
        span: r.span(value.span()),
    })
}

fn decode_tenant(r: &mut Reader<'_>, value: &Spanned<DeValue<'_>>) -> Option<Tenant> {
    let what = "[[tenant]]";
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(
            "tenant",
            "a tenants file",
            "an array of tables ([[tenant]])",
            value,
        );
        return None;
    };
    r.check_keys(
        t,
        &[
            "id",
            "name",
            "domain",
            "cloud",
            "ring",
            "tags",
            "baselines",
            "credentials",
            "endpoints",
            "params",
            "overrides",
        ],
        what,
    );
    let id = r.required_string(t, "id", what, value.span());
    let id = id.and_then(|id| {
        if is_guid(&id.value) {
            Some(Sp::new(id.value.to_ascii_lowercase(), id.span))
        } else {
            r.error_at(
                Code::InvalidValue,
                format!(
                    "tenant `id` must be the tenant's GUID (8-4-4-4-12 hex), found \"{}\"",
                    id.value
                ),
                id.span,
            );
            None
        }
    });
    let name = r.required_string(t, "name", what, value.span());
    let domain = r.string(t, "domain", what).map(|s| s.value);
    let cloud = match r.string(t, "cloud", what) {
        None => Some(Cloud::Global),
        Some(c) => match Cloud::NAMES.iter().find(|(n, _)| *n == c.value) {
            Some((_, cloud)) => Some(*cloud),
            None => {
                let names: Vec<&str> = Cloud::NAMES.iter().map(|(n, _)| *n).collect();
                let mut d =
                    Diagnostic::error(Code::InvalidValue, format!("unknown cloud \"{}\"", c.value))
                        .at(c.span)
                        .expected(format!("one of {}", quote_list(&names)));
                if let Some(s) = did_you_mean(&c.value, names.iter().copied()) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                r.diags.push(d);
                None
            }
        },
    };
    let ring = r
        .string(t, "ring", what)
        .map_or_else(|| "default".to_string(), |s| s.value);
    let tags = r
        .string_list(t, "tags", what)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let baselines = r.string_list(t, "baselines", what);
    if r.get(t, "baselines").is_none() {
        r.missing("baselines", what, value.span());
    }
    let credentials = r
        .sub_table(t, "credentials", what)
        .and_then(|(c, range)| decode_credentials(r, c, range));
    let endpoints = match r.sub_table(t, "endpoints", what) {
        Some((e, _)) => {
            r.check_keys(e, &["login", "graph"], "[tenant.endpoints]");
            Endpoints {
                login: r.string(e, "login", "[tenant.endpoints]").map(|s| s.value),
                graph: r.string(e, "graph", "[tenant.endpoints]").map(|s| s.value),
            }
        }
        None => Endpoints::default(),
    };
    let params = r.value_table(t, "params", what);
    let mut overrides = Vec::new();
    if let Some((_, v)) = r.get(t, "overrides") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let Some(o) = decode_override(r, item) {
                        overrides.push(o);
                    }
                }
            }
            _ => r.wrong_type(
                "overrides",
                what,
                "an array of tables ([[tenant.overrides]])",
                v,
            ),
        }
    }
    Some(Tenant {
        id: id?,
        name: name?.value,
        domain,
        cloud: cloud?,
        ring,
        tags,
        baselines,
        credentials,
        endpoints,
        params,
        overrides,
        span: r.span(value.span()),
        has_errors: false,
    })
}

/// Byte ranges of the `[[tenant]]` entries of a tenants file, and the prefix before the first.
///
/// A fleet file can hold thousands of tenants; parsing it entry by entry keeps the parser's
/// transient tree small (memory stays flat with fleet size) and confines a syntax error to one
/// tenant. Files with multi-line strings are parsed whole, because a `[[tenant]]` line inside
/// such a string is not a header.
fn tenant_chunks(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return None;
    }
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("[[tenant]]") {
            let rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                starts.push(offset);
            }
        }
        offset += line.len();
    }
    let mut chunks = Vec::with_capacity(starts.len() + 1);
    let mut previous = 0;
    for start in starts {
        chunks.push(previous..start);
        previous = start;
    }
    chunks.push(previous..text.len());
    Some(chunks)
}

/// Where a tenant is written: its file, the chunk of text parsed for it, and its position in
/// that chunk's `[[tenant]]` array. Enough to decode it again when it is compiled, so a fleet's
/// tenants need not all stay decoded in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLocation {
    /// The tenants file.
    pub file: FileId,
    /// Byte range of the parsed chunk in the file.
    pub chunk: std::ops::Range<usize>,
    /// Index in the chunk's `[[tenant]]` array.
    pub index: usize,
}

fn decode_tenants_document(
    text: &str,
    file: FileId,
    chunk: std::ops::Range<usize>,
    only: Option<usize>,
    diags: &mut Diagnostics,
    out: &mut Vec<(Tenant, TenantLocation)>,
) {
    let offset = chunk.start;
    let Some(doc) = parse_document(&text[chunk.clone()], file, offset, diags) else {
        return;
    };
    let mut r = Reader::new(file, diags, offset);
    let root = doc.get_ref();
    r.check_keys(root, &["tenant"], "a tenants file");
    let Some((_, v)) = r.get(root, "tenant") else {
        return;
    };
    let DeValue::Array(items) = v.get_ref() else {
        r.wrong_type(
            "tenant",
            "a tenants file",
            "an array of tables ([[tenant]])",
            v,
        );
        return;
    };
    for (index, item) in items.iter().enumerate() {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let errors_before = r.diags.error_count();
        if let Some(mut tenant) = decode_tenant(&mut r, item) {
            tenant.has_errors = r.diags.error_count() > errors_before;
            let location = TenantLocation {
                file,
                chunk: chunk.clone(),
                index,
            };
            out.push((tenant, location));
        }
    }
}

/// Decode a tenants file (`[[tenant]]` entries), with where each tenant is written.
pub fn decode_tenants(
    text: &str,
    file: FileId,
    diags: &mut Diagnostics,
) -> Vec<(Tenant, TenantLocation)> {
    let mut tenants = Vec::new();
    match tenant_chunks(text) {
        Some(chunks) => {
            for chunk in chunks {
                decode_tenants_document(text, file, chunk, None, diags, &mut tenants);
            }
        }
        None => decode_tenants_document(text, file, 0..text.len(), None, diags, &mut tenants),
    }
    tenants
}

/// Decode one tenant again from where it is written (its diagnostics were reported when the
/// project was loaded, so they are not repeated).
pub fn decode_tenant_at(text: &str, location: &TenantLocation) -> Option<Tenant> {
    let mut out = Vec::new();
    let mut ignored = Diagnostics::new();
    decode_tenants_document(
        text,
        location.file,
        location.chunk.clone(),
        Some(location.index),
        &mut ignored,
        &mut out,
    );
    out.pop().map(|(tenant, _)| tenant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn baseline(text: &str) -> (Option<Baseline>, Vec<String>) {
        let mut map = SourceMap::new();
        let file = map.add("b.toml", text);
        let mut diags = Diagnostics::new();
        let b = decode_baseline("b", text, file, false, &mut diags);
        let messages = diags
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d.code,
                    map.location(d.span.expect("span")),
                    d.message
                )
            })
            .collect();
        (b, messages)
    }

    #[test]
    fn unknown_key_suggests_the_close_one() {
        let (_, msgs) = baseline(
            "[baseline]\ndescription = \"x\"\n[resources.a]\nkind = \"group\"\ntemplat = \"g.tera\"\n",
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("TF102 b.toml:5:1 unknown key `templat`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn all_problems_in_one_file_are_reported() {
        let (_, msgs) = baseline(
            "[baseline]\ndescription = 3\n[params.x]\ntype = \"strin\"\ndescription = \"d\"\n[resources.b]\nkind = \"grup\"\ntemplate = \"t\"\n",
        );
        assert_eq!(msgs.len(), 3, "{msgs:?}");
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("0b8d3c8e-4f3c-4b47-9c42-6f0a3f4f3a11"));
        assert!(!is_guid("0b8d3c8e-4f3c-4b47-9c42-6f0a3f4f3a1"));
        assert!(!is_guid("zb8d3c8e-4f3c-4b47-9c42-6f0a3f4f3a11"));
    }
}
