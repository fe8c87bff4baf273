//! Diagnostics: every problem tenantform finds in user data, with a stable code, a severity, the
//! `file:line:col` that caused it, the JSON pointer in the rendered body where one applies, and
//! what was expected. Stages collect them instead of stopping at the first.
//!
//! Input: problems found by `project`, `resolve`, `render`, `bundle` and `validate`. Output:
//! [`Diagnostics`]; [`crate::report`] renders them as human text, JSON or SARIF 2.1.0.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::source::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the run (exit code 1).
    Error,
    /// Reported; an error only under `--strict`.
    Warning,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $slug:literal, $summary:literal;)*) => {
        /// Stable diagnostic codes; documented in the book's validation-codes page.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// All codes, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable code (`TF401`).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name (`schema-violation`).
            pub fn slug(self) -> &'static str {
                match self { $(Code::$variant => $slug,)* }
            }

            /// One sentence saying what the code means.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    TomlSyntax = "TF101", "toml-syntax", "A file is not valid TOML.";
    UnknownKey = "TF102", "unknown-key", "A key that this table does not have.";
    WrongType = "TF103", "wrong-type", "A key holds a value of the wrong TOML type.";
    MissingRequired = "TF104", "missing-required", "A required key or parameter value is missing.";
    UnknownBaseline = "TF105", "unknown-baseline", "A baseline name that is neither in the project nor shipped.";
    UnknownKind = "TF106", "unknown-kind", "A resource kind that the registry does not have.";
    Duplicate = "TF107", "duplicate", "A resource key or parameter declared twice for one tenant.";
    ExtendsCycle = "TF108", "extends-cycle", "Baselines that extend each other in a loop.";
    UnreadableFile = "TF109", "unreadable-file", "A file that could not be read.";
    NotUtf8 = "TF110", "not-utf8", "A file that is not valid UTF-8.";
    UnknownTarget = "TF111", "unknown-target", "An override or patch names a resource the tenant does not get.";
    OverrideExpired = "TF112", "override-expired", "An override past its `expires` date.";
    InvalidParamValue = "TF113", "invalid-param-value", "A parameter value of the wrong type or outside its enum.";
    UnknownParam = "TF114", "unknown-param", "A tenant sets a parameter that none of its baselines declares.";
    DuplicateTenant = "TF115", "duplicate-tenant", "Two tenants with the same id.";
    InvalidValue = "TF116", "invalid-value", "A value that is not allowed here (a GUID, a cloud, a key, a date).";
    TemplateNotFound = "TF117", "template-not-found", "A template file that is neither in the project nor shipped.";
    NoTenants = "TF118", "no-tenants", "A project that declares no tenants (a warning with `--allow-empty`).";
    UnknownLinkEnd = "TF119", "unknown-link-end", "A link whose source or target is not a tenant of the project.";
    InvalidLink = "TF120", "invalid-link", "A link that cannot work: one tenant at both ends, clouds that differ, an empty scope, a threshold that is not positive, a scope reference the source does not have.";
    DuplicateLink = "TF121", "duplicate-link", "Two links with the same source and target.";
    UnknownServicePlan = "TF122", "unknown-service-plan", "A service plan in `[tenant.facts]` that no kind needs and tenantform does not know (a warning).";
    UnknownPermission = "TF123", "unknown-permission", "A permission in `[tenant.facts]` that no kind needs and tenantform does not know (a warning).";
    InvalidLinkStep = "TF124", "invalid-link-step", "A link step whose body Graph's schema for its kind rejects (checked like every request body).";
    InvalidOrganization = "TF125", "invalid-organization", "A multitenant organization that cannot work: an owner or member that is not a tenant of the project, the owner listed as a member, a tenant listed twice, a second organization.";
    TemplateSyntax = "TF201", "template-syntax", "A Tera template that does not parse.";
    RenderFailed = "TF202", "render-failed", "A template that failed to render (an undefined variable, a bad filter argument).";
    InvalidJson = "TF203", "invalid-json", "A rendered body that is not one JSON object.";
    DanglingReference = "TF301", "dangling-reference", "A reference to a resource the tenant does not get.";
    ReferenceCycle = "TF302", "reference-cycle", "Resources that depend on each other in a loop.";
    WrongReferenceKind = "TF303", "wrong-reference-kind", "A reference to a resource of another kind than the place needs.";
    MalformedReference = "TF304", "malformed-reference", "Reference text that is not `<prefix>:<key>`.";
    InvalidParent = "TF305", "invalid-parent", "A missing, unknown or wrong-kind `parent`.";
    SchemaViolation = "TF401", "schema-violation", "A body that Graph's schema rejects (type, enum, format, shape).";
    UnknownProperty = "TF402", "unknown-property", "A property Graph's schema does not have (an error under --strict).";
    ReadOnlyProperty = "TF403", "read-only-property", "A property the service sets; requests must not carry it.";
    MissingProperty = "TF404", "missing-property", "A property the request must carry.";
    UnaddressableResource = "TF405", "unaddressable-resource", "The body lacks what the request path needs (a key or a known @odata.type).";
    LockoutRisk = "TF501", "lockout", "A Conditional Access policy that could lock every user out.";
    ComplianceBlockAction = "TF502", "compliance-block-action", "A compliance policy without exactly one block action.";
    DuplicateMatchKey = "TF503", "duplicate-match-key", "Two resources in one tenant that would match the same object.";
    InvalidAllow = "TF504", "invalid-allow", "An `allow` entry for an unknown lint or without a reason.";
    BuiltInObject = "TF505", "built-in-object", "A resource that declares an object Microsoft owns (a built-in authentication strength, Intune's Default scope tag); reference it by its id instead.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary location with a label ("first declared here", "value set here").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Note {
    /// What the location shows.
    pub label: String,
    /// Where.
    pub span: Span,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where it was written.
    pub span: Option<Span>,
    /// Tenant ids it applies to (empty: the project as a whole).
    pub tenants: Vec<String>,
    /// The resource key, when one resource is at fault.
    pub resource: Option<String>,
    /// JSON pointer in the rendered body.
    pub pointer: Option<String>,
    /// What would have been accepted.
    pub expected: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Secondary locations.
    pub notes: Vec<Note>,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            tenants: Vec::new(),
            resource: None,
            pointer: None,
            expected: None,
            help: None,
            notes: Vec::new(),
        }
    }

    /// A warning.
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Set the primary span.
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Set the primary span if there is one.
    pub fn at_opt(mut self, span: Option<Span>) -> Diagnostic {
        self.span = span.or(self.span);
        self
    }

    /// Attribute to a tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Diagnostic {
        self.tenants = vec![tenant.into()];
        self
    }

    /// Attribute to a resource.
    pub fn resource(mut self, key: impl Into<String>) -> Diagnostic {
        self.resource = Some(key.into());
        self
    }

    /// Set the JSON pointer.
    pub fn pointer(mut self, pointer: impl Into<String>) -> Diagnostic {
        self.pointer = Some(pointer.into());
        self
    }

    /// Say what was expected.
    pub fn expected(mut self, expected: impl Into<String>) -> Diagnostic {
        self.expected = Some(expected.into());
        self
    }

    /// Say how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Add a secondary location.
    pub fn note(mut self, label: impl Into<String>, span: Span) -> Diagnostic {
        self.notes.push(Note {
            label: label.into(),
            span,
        });
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A collection of diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// None yet.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Add one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Add many.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    /// True when any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The diagnostics.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Take them out.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Turn warnings into errors (`--strict`).
    pub fn make_strict(&mut self) {
        for d in &mut self.items {
            d.severity = Severity::Error;
        }
    }

    /// Merge diagnostics that differ only by tenant (a shipped template's problem shows once,
    /// naming every tenant), then sort by location so output is deterministic.
    pub fn coalesce(&mut self) {
        let mut merged: BTreeMap<Diagnostic, Vec<String>> = BTreeMap::new();
        for mut d in self.items.drain(..) {
            let tenants = std::mem::take(&mut d.tenants);
            merged.entry(d).or_default().extend(tenants);
        }
        self.items = merged
            .into_iter()
            .map(|(mut d, mut tenants)| {
                tenants.sort();
                tenants.dedup();
                d.tenants = tenants;
                d
            })
            .collect();
        self.items.sort_by(|a, b| {
            (a.span, a.code, &a.resource, &a.pointer, &a.message).cmp(&(
                b.span,
                b.code,
                &b.resource,
                &b.pointer,
                &b.message,
            ))
        });
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<T: IntoIterator<Item = Diagnostic>>(iter: T) -> Self {
        Diagnostics {
            items: iter.into_iter().collect(),
        }
    }
}
