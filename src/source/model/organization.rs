//! The model of the project's Microsoft 365 multitenant organization: `organization.toml` at
//! the project root, one `[organization]` table (display name, owner tenant, member tenants by
//! id or name), decoded by hand with spans like every other file of the project (the key-by-key
//! reference is book/src/cross-tenant-sync.md, "Multitenant organization").
//!
//! Input: the file's text and its [`FileId`]. Output: the [`Organization`] (or `None` when the
//! file is not TOML or has no table) and diagnostics for every key that is unknown or of the
//! wrong type, and for a second `[[organization]]` (a project declares one). Checks that need the
//! whole project (the tenants exist, the owner is not a member, no tenant twice) are in
//! `source/organization.rs`.

use toml::de::DeValue;

use super::Sp;
use super::reader::{Reader, parse_document};
use crate::diag::{Code, Diagnostics};
use crate::source::{FileId, Span};

/// The file that declares the organization, at the project root.
pub const ORGANIZATION_FILE: &str = "organization.toml";

/// The name of the organization's unit among the links (in bundles, plans and reports); a
/// link may not have it.
pub const UNIT: &str = "organization";

/// The project's multitenant organization.
#[derive(Debug, Clone)]
pub struct Organization {
    /// The file.
    pub file: FileId,
    /// `display_name`: the organization's name in Microsoft 365.
    pub display_name: Option<Sp<String>>,
    /// `description`.
    pub description: Option<Sp<String>>,
    /// The owner tenant (id or name).
    pub owner: Option<Sp<String>>,
    /// The member tenants (ids or names), in file order.
    pub members: Vec<Sp<String>>,
    /// The `[organization]` table.
    pub span: Span,
}

const KEYS: &[&str] = &["display_name", "description", "owner", "members"];
const WHAT: &str = "[organization]";

/// Decode `organization.toml`.
pub fn decode_organization(
    text: &str,
    file: FileId,
    diags: &mut Diagnostics,
) -> Option<Organization> {
    let doc = parse_document(text, file, 0, diags)?;
    let mut r = Reader::new(file, diags, 0);
    let root = doc.get_ref();
    r.check_keys(root, &["organization"], ORGANIZATION_FILE);
    let Some((_, value)) = r.get(root, "organization") else {
        r.missing("organization", ORGANIZATION_FILE, 0..0);
        return None;
    };
    // `[organization]`, or `[[organization]]` written once: a project declares one
    // organization (a tenant belongs to one at most, and the owner is one tenant).
    let (table, range) = match value.get_ref() {
        DeValue::Table(t) => (t, value.span()),
        DeValue::Array(items) => {
            for extra in items.iter().skip(1) {
                r.error(
                    Code::InvalidOrganization,
                    "a project declares one multitenant organization; this is a second one \
                     (a tenant belongs to one organization at most: make one of them the owner \
                     and the others members)",
                    extra.span(),
                );
            }
            match items.iter().next().map(|i| (i.get_ref(), i.span())) {
                Some((DeValue::Table(t), span)) => (t, span),
                _ => {
                    r.wrong_type("organization", ORGANIZATION_FILE, "a table", value);
                    return None;
                }
            }
        }
        _ => {
            r.wrong_type("organization", ORGANIZATION_FILE, "a table", value);
            return None;
        }
    };
    r.check_keys(table, KEYS, WHAT);
    let display_name = r.required_string(table, "display_name", WHAT, range.clone());
    if let Some(name) = &display_name
        && name.value.trim().is_empty()
    {
        r.error_at(
            Code::InvalidValue,
            "`display_name` must not be empty",
            name.span,
        );
    }
    let description = r.string(table, "description", WHAT);
    let owner = r.required_string(table, "owner", WHAT, range.clone());
    if r.get(table, "members").is_none() {
        r.missing("members", WHAT, range.clone());
    }
    let members = r.string_list(table, "members", WHAT);
    Some(Organization {
        file,
        display_name,
        description,
        owner,
        members,
        span: r.span(range),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organization_decodes() {
        let text = "[organization]\ndisplay_name = \"Contoso group\"\nowner = \"Hub\"\nmembers = [\"North\", \"South\"]\n";
        let mut diags = Diagnostics::new();
        let org = decode_organization(text, FileId(0), &mut diags).expect("decodes");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(org.owner.map(|o| o.value).as_deref(), Some("Hub"));
        assert_eq!(org.members.len(), 2);
    }

    #[test]
    fn missing_and_unknown_keys_are_each_reported() {
        let text = "[organization]\nname = \"x\"\nmembers = [1]\n";
        let mut diags = Diagnostics::new();
        decode_organization(text, FileId(0), &mut diags).expect("decodes");
        // `name` unknown, `display_name` and `owner` missing, `members` of the wrong type.
        assert_eq!(diags.error_count(), 4, "{diags:?}");
    }

    #[test]
    fn a_second_organization_is_an_error() {
        let text = "[[organization]]\ndisplay_name = \"A\"\nowner = \"Hub\"\nmembers = []\n\n[[organization]]\ndisplay_name = \"B\"\nowner = \"North\"\nmembers = []\n";
        let mut diags = Diagnostics::new();
        let org = decode_organization(text, FileId(0), &mut diags).expect("the first decodes");
        assert_eq!(org.display_name.map(|n| n.value).as_deref(), Some("A"));
        assert_eq!(diags.error_count(), 1, "{diags:?}");
        assert!(
            diags
                .iter()
                .all(|d| d.code == Code::InvalidOrganization && d.span.is_some())
        );
    }
}
