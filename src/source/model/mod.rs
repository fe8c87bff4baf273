//! The TOML source model: `tenantform.toml`, baselines and tenants, decoded by hand from toml's
//! spanned document tree so that every value keeps its `file:line:col`, every problem in a file
//! is reported in one run (not only the first), and an unknown key gets a "did you mean".
//!
//! Input: one file's text and its [`FileId`]. Output: [`ProjectConfig`], [`Baseline`] or
//! [`Tenant`]s, plus [`Diagnostics`](crate::diag::Diagnostics). The types are here; the
//! decoders are in `decode.rs`, on the `Reader` of `reader.rs`. The key-by-key reference is
//! book/src/reference/.

use crate::kinds::{self, Kind};
use crate::source::{FileId, Span};
pub use controls::{ControlDef, Quantifier, Requirement, Test, resolve};

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
    /// `[deploy] require_approved_plan`: deploy applies only a plan file whose hash is approved
    /// (`--approved-hash`, or listed in `.tenantform/approved-plans`).
    pub require_approved_plan: bool,
    /// `[state]`: where run state lives and how long a lock's lease is.
    pub state: StateSettings,
    /// Values that must never be quoted back (a credential written in the file): masked in
    /// the source map before any diagnostic is shown.
    pub masked: Vec<Span>,
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
    /// `vars` as JSON with where each value was written, worked out once by the first tenant
    /// that gets the resource (see [`crate::source::resolve`]): every tenant starts from them.
    pub declared_vars: std::sync::OnceLock<DeclaredVars>,
}

/// A resource's declared variables as JSON, as JSON text (`serde_json`'s, key order kept), and
/// where each value (and each part of a nested value, by JSON pointer under `vars`) was
/// written. All three are shared by every tenant whose patches and overrides leave them as
/// declared.
#[derive(Debug, Clone)]
pub struct DeclaredVars {
    /// The variables.
    pub vars: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
    /// The variables as `serde_json::to_vec` writes them.
    pub text: std::sync::Arc<[u8]>,
    /// Where each value was written.
    pub spans: std::sync::Arc<std::collections::BTreeMap<String, Span>>,
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
    /// What "met" means for the control ids its resources claim (`[controls]`).
    pub controls: Vec<ControlDef>,
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
    /// JSON pointers whose live differences `drift` accepts (not drift while unexpired).
    pub accept_drift: Vec<Sp<String>>,
    /// Why (required).
    pub reason: Sp<String>,
    /// When the override stops being acceptable.
    pub expires: Option<Sp<jiff::civil::Date>>,
    /// The whole entry.
    pub span: Span,
}

/// `[tenant.facts]`: what the tenant has, as declared (or written by `tenantform facts
/// --write`). A list that is absent means "not known": tenantform assumes everything, as it does
/// for a tenant without facts.
#[derive(Debug, Clone, Default)]
pub struct TenantFacts {
    /// Service plans the tenant has (`subscribedSkus` service plan names, e.g. `AAD_PREMIUM`).
    pub service_plans: Option<Vec<Sp<String>>>,
    /// Application permissions granted to the deploying app (`Policy.ReadWrite.ConditionalAccess`).
    pub permissions: Option<Vec<Sp<String>>>,
}

impl TenantFacts {
    /// The declared service plans, if the tenant lists them.
    pub fn plans(&self) -> Option<Vec<&str>> {
        self.service_plans
            .as_ref()
            .map(|p| p.iter().map(|s| s.value.as_str()).collect())
    }

    /// The declared permissions, if the tenant lists them.
    pub fn granted(&self) -> Option<Vec<&str>> {
        self.permissions
            .as_ref()
            .map(|p| p.iter().map(|s| s.value.as_str()).collect())
    }
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
    /// `[tenant.facts]` (`None`: not declared; every licence and permission is assumed).
    pub facts: Option<TenantFacts>,
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

pub mod controls;
mod decode;
mod facts;
pub mod link;
pub mod organization;
mod reader;
pub mod state;

pub use decode::{
    TenantLocation, decode_baseline, decode_project, decode_tenant_at, decode_tenants,
    decode_tenants_each,
};
pub use state::{AzureBlobSettings, StateBackend, StateSettings};
