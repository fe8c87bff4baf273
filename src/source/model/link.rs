//! The model of a cross-tenant synchronization link: one file `links/<name>.toml` per link,
//! decoded by hand with spans like every other file of the project (the key-by-key reference
//! is book/src/cross-tenant-sync.md).
//!
//! Input: one link file's text and its [`FileId`]. Output: a [`Link`] (or `None` when the file
//! is not TOML) and diagnostics for every key that is unknown or of the wrong type. Checks that
//! need the whole project (both ends exist, clouds, duplicates, scope references) are in
//! `source/links.rs`.

use toml::de::{DeTable, DeValue};

use super::Sp;
use super::reader::{Reader, parse_document};
use crate::diag::{Code, Diagnostics};
use crate::source::{FileId, Span};

/// The `userType` synchronized users get in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum UserType {
    /// Members of the target (the default mapping of the Azure2Azure template).
    Member,
    /// Guests of the target.
    Guest,
}

impl UserType {
    /// The value Graph writes in `userType`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Member => "Member",
            UserType::Guest => "Guest",
        }
    }
}

/// `[deletion_prevention]`: the accidental-deletion threshold.
#[derive(Debug, Clone)]
pub struct DeletionPrevention {
    /// Whether the service stops deleting above the threshold.
    pub enabled: bool,
    /// How many deletions in one cycle are allowed (positive).
    pub threshold: Option<Sp<i64>>,
    /// The table.
    pub span: Span,
}

/// One `[[mappings]]` entry: an attribute-mapping override of the job's user rule.
#[derive(Debug, Clone)]
pub struct MappingOverride {
    /// The target attribute (`department`).
    pub target: Sp<String>,
    /// The source attribute it is copied from.
    pub source: Option<Sp<String>>,
    /// A constant it is set to instead.
    pub constant: Option<Sp<String>>,
    /// The entry.
    pub span: Span,
}

/// One `[[scoping_filter]]` clause (all clauses must hold: Graph's `filterGroup` of clauses).
#[derive(Debug, Clone)]
pub struct FilterClause {
    /// The source attribute (`department`).
    pub attribute: Sp<String>,
    /// Graph's operator name (`EQUALS`, `NOT EQUALS`, `IS TRUE`, ...).
    pub operator: Sp<String>,
    /// The values compared with.
    pub values: Vec<Sp<String>>,
    /// The entry.
    pub span: Span,
}

/// A cross-tenant synchronization link (`links/<name>.toml`).
#[derive(Debug, Clone)]
pub struct Link {
    /// The link's name (the file stem).
    pub name: String,
    /// The file.
    pub file: FileId,
    /// The tenant whose users are provisioned (id or name).
    pub source: Option<Sp<String>>,
    /// The tenant that receives them (id or name).
    pub target: Option<Sp<String>>,
    /// The configuration's (the source's enterprise application's) display name.
    pub configuration_name: Option<Sp<String>>,
    /// Who is in scope: `group:<key>` (a group of the source's baselines) or `user:<upn>`.
    pub scope: Vec<Sp<String>>,
    /// Where `scope` is written.
    pub scope_span: Option<Span>,
    /// `userType` in the target.
    pub user_type: UserType,
    /// Start the job after deploy.
    pub start: bool,
    /// Allow ends in different national clouds.
    pub cross_cloud: bool,
    /// Who gets the service's notification e-mails (failures, threshold reached).
    pub notification_email: Option<Sp<String>>,
    /// Accidental-deletion prevention.
    pub deletion_prevention: Option<DeletionPrevention>,
    /// Whether synchronized users may leave the target (the target's external identities policy).
    pub allow_users_to_leave: Option<bool>,
    /// Attribute-mapping overrides.
    pub mappings: Vec<MappingOverride>,
    /// Scoping filter clauses.
    pub scoping_filter: Vec<FilterClause>,
    /// The whole file.
    pub span: Span,
}

impl Link {
    /// The configuration name, or the default `tenantform <link name>`.
    pub fn configuration_name(&self) -> String {
        self.configuration_name
            .as_ref()
            .map_or_else(|| format!("tenantform {}", self.name), |n| n.value.clone())
    }
}

const LINK_KEYS: &[&str] = &[
    "source",
    "target",
    "configuration_name",
    "scope",
    "user_type",
    "start",
    "cross_cloud",
    "notification_email",
    "deletion_prevention",
    "allow_users_to_leave",
    "mappings",
    "scoping_filter",
];

fn integer(r: &mut Reader<'_>, table: &DeTable<'_>, key: &str, what: &str) -> Option<Sp<i64>> {
    let (_, value) = r.get(table, key)?;
    match value.get_ref() {
        DeValue::Integer(i) => {
            let parsed = i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok();
            parsed.map(|v| Sp::new(v, r.span(value.span())))
        }
        _ => {
            r.wrong_type(key, what, "an integer", value);
            None
        }
    }
}

/// The tables of an array of tables (`[[mappings]]`), with their ranges.
fn tables<'a, 'i>(
    r: &mut Reader<'_>,
    table: &'a DeTable<'i>,
    key: &str,
) -> Vec<(&'a DeTable<'i>, std::ops::Range<usize>)> {
    let Some((_, value)) = r.get(table, key) else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        r.wrong_type(key, "a link", "an array of tables", value);
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        match item.get_ref() {
            DeValue::Table(t) => out.push((t, item.span())),
            _ => r.wrong_type(key, "a link", "an array of tables", item),
        }
    }
    out
}

/// Decode a link file.
pub fn decode_link(name: &str, text: &str, file: FileId, diags: &mut Diagnostics) -> Option<Link> {
    let doc = parse_document(text, file, 0, diags)?;
    let mut r = Reader::new(file, diags, 0);
    let root = doc.get_ref();
    let whole = 0..text.len();
    r.check_keys(root, LINK_KEYS, "a link");
    let source = r.required_string(root, "source", "a link", 0..0);
    let target = r.required_string(root, "target", "a link", 0..0);
    let configuration_name = r.string(root, "configuration_name", "a link");
    let scope = r.string_list(root, "scope", "a link");
    let scope_span = r.get(root, "scope").map(|(_, v)| r.span(v.span()));
    if scope_span.is_none() {
        r.missing("scope", "a link", 0..0);
    }
    let user_type = match r.string(root, "user_type", "a link") {
        None => UserType::Member,
        Some(s) => match s.value.as_str() {
            "Member" => UserType::Member,
            "Guest" => UserType::Guest,
            other => {
                r.error_at(
                    Code::InvalidValue,
                    format!("`user_type` must be \"Member\" or \"Guest\", found \"{other}\""),
                    s.span,
                );
                UserType::Member
            }
        },
    };
    let start = r.bool(root, "start", "a link").unwrap_or(true);
    let cross_cloud = r.bool(root, "cross_cloud", "a link").unwrap_or(false);
    let notification_email = r.string(root, "notification_email", "a link");
    if let Some(email) = &notification_email
        && !email.value.contains('@')
    {
        r.error_at(
            Code::InvalidValue,
            format!(
                "`notification_email` must be an e-mail address, found \"{}\"",
                email.value
            ),
            email.span,
        );
    }
    let deletion_prevention =
        r.sub_table(root, "deletion_prevention", "a link")
            .map(|(t, range)| {
                r.check_keys(t, &["enabled", "threshold"], "[deletion_prevention]");
                DeletionPrevention {
                    enabled: r
                        .bool(t, "enabled", "[deletion_prevention]")
                        .unwrap_or(true),
                    threshold: integer(&mut r, t, "threshold", "[deletion_prevention]"),
                    span: r.span(range),
                }
            });
    let allow_users_to_leave = r.bool(root, "allow_users_to_leave", "a link");
    let mut mappings = Vec::new();
    for (t, range) in tables(&mut r, root, "mappings") {
        r.check_keys(t, &["target", "source", "constant"], "[[mappings]]");
        let Some(target) = r.required_string(t, "target", "[[mappings]]", range.clone()) else {
            continue;
        };
        let source = r.string(t, "source", "[[mappings]]");
        let constant = r.string(t, "constant", "[[mappings]]");
        let span = r.span(range);
        if source.is_some() == constant.is_some() {
            r.error_at(
                Code::InvalidValue,
                format!(
                    "the mapping of `{}` needs exactly one of `source` or `constant`",
                    target.value
                ),
                span,
            );
            continue;
        }
        mappings.push(MappingOverride {
            target,
            source,
            constant,
            span,
        });
    }
    let mut scoping_filter = Vec::new();
    for (t, range) in tables(&mut r, root, "scoping_filter") {
        r.check_keys(
            t,
            &["attribute", "operator", "values"],
            "[[scoping_filter]]",
        );
        let attribute = r.required_string(t, "attribute", "[[scoping_filter]]", range.clone());
        let operator = r.required_string(t, "operator", "[[scoping_filter]]", range.clone());
        let values = r.string_list(t, "values", "[[scoping_filter]]");
        if let (Some(attribute), Some(operator)) = (attribute, operator) {
            if !FILTER_OPERATORS.contains(&operator.value.as_str()) {
                r.error_at(
                    Code::InvalidValue,
                    format!(
                        "unknown scoping filter operator \"{}\"; expected one of {}",
                        operator.value,
                        super::quote_list(FILTER_OPERATORS)
                    ),
                    operator.span,
                );
                continue;
            }
            scoping_filter.push(FilterClause {
                attribute,
                operator,
                values,
                span: r.span(range),
            });
        }
    }
    Some(Link {
        name: name.to_string(),
        file,
        source,
        target,
        configuration_name,
        scope,
        scope_span,
        user_type,
        start,
        cross_cloud,
        notification_email,
        deletion_prevention,
        allow_users_to_leave,
        mappings,
        scoping_filter,
        span: r.span(whole),
    })
}

/// The operators of Graph's synchronization `filterClause` (`operatorName`).
pub const FILTER_OPERATORS: &[&str] = &[
    "EQUALS",
    "NOT EQUALS",
    "IS TRUE",
    "IS FALSE",
    "IS NULL",
    "IS NOT NULL",
    "REGEX MATCH",
    "NOT REGEX MATCH",
    "Greater_Than",
    "Less_Than",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_link_decodes() {
        let text = r#"source = "Hub"
target = "Spoke"
scope = ["group:sync-staff", "user:ann@hub.example"]
user_type = "Guest"
start = false
notification_email = "ops@hub.example"
allow_users_to_leave = false

[deletion_prevention]
threshold = 25

[[mappings]]
target = "companyName"
constant = "Hub"

[[scoping_filter]]
attribute = "department"
operator = "EQUALS"
values = ["Sales"]
"#;
        let mut diags = Diagnostics::new();
        let link = decode_link("hub-spoke", text, FileId(0), &mut diags).expect("decodes");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(link.user_type, UserType::Guest);
        assert!(!link.start);
        assert_eq!(link.scope.len(), 2);
        assert_eq!(
            link.deletion_prevention
                .as_ref()
                .and_then(|d| d.threshold.as_ref())
                .map(|t| t.value),
            Some(25)
        );
        assert_eq!(link.mappings.len(), 1);
        assert_eq!(link.scoping_filter.len(), 1);
        assert_eq!(link.configuration_name(), "tenantform hub-spoke");
    }

    #[test]
    fn bad_values_are_reported_each() {
        let text = "source = \"a\"\ntarget = \"b\"\nscope = []\nuser_type = \"Owner\"\nnotification_email = \"nobody\"\n[[mappings]]\ntarget = \"x\"\n";
        let mut diags = Diagnostics::new();
        decode_link("l", text, FileId(0), &mut diags).expect("decodes");
        assert_eq!(diags.error_count(), 3, "{diags:?}");
    }
}
