//! `tenantform facts --write`: put what was read from Graph into the tenant's
//! `[tenant.facts]` table, in place. The file is edited with `toml_edit`, so its comments,
//! order, spacing and every other tenant stay as they were; only `service_plans` and
//! `permissions` of that one tenant change (the table is added at the end of the tenant's
//! entry when it has none). The new text is written to a temporary file and renamed over the
//! old one, so a failure leaves the file whole.
//!
//! Input: a tenants file's text, a tenant id and the facts. Output: the new text, or a
//! [`FactsFileError`].

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, value};

/// Why the facts could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FactsFileError {
    /// The file is not TOML that `toml_edit` reads.
    #[error("{}: not valid TOML ({message}); nothing was written", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// No `[[tenant]]` entry of the file has that id.
    #[error("{}: no [[tenant]] with id {tenant}; nothing was written", path.display())]
    NoTenant {
        /// The file.
        path: PathBuf,
        /// Tenant id.
        tenant: String,
    },
    /// `facts` is there but not a table.
    #[error("{}: `facts` of tenant {tenant} is not a table; nothing was written", path.display())]
    NotATable {
        /// The file.
        path: PathBuf,
        /// Tenant id.
        tenant: String,
    },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn array(items: &[String]) -> Array {
    let mut array: Array = items.iter().map(String::as_str).collect();
    if items.len() > 3 {
        // One name a line: a long permission list stays readable and diffs line by line.
        for item in array.iter_mut() {
            item.decor_mut().set_prefix("\n    ");
        }
        array.set_trailing(",\n");
        array.set_trailing_comma(false);
    }
    array
}

/// The text of a tenants file with tenant `tenant`'s `[tenant.facts]` set to these lists.
pub fn with_facts(
    path: &Path,
    text: &str,
    tenant: &str,
    service_plans: &[String],
    permissions: &[String],
) -> Result<String, FactsFileError> {
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| FactsFileError::Parse {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
    let no_tenant = || FactsFileError::NoTenant {
        path: path.to_path_buf(),
        tenant: tenant.to_string(),
    };
    let entries = doc
        .get_mut("tenant")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(no_tenant)?;
    let entry = entries
        .iter_mut()
        .find(|t| {
            t.get("id")
                .and_then(Item::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(tenant))
        })
        .ok_or_else(no_tenant)?;
    if !entry.contains_key("facts") {
        let mut table = Table::new();
        table.decor_mut().set_prefix("\n");
        entry.insert("facts", Item::Table(table));
    }
    let facts = entry
        .get_mut("facts")
        .and_then(Item::as_table_mut)
        .ok_or_else(|| FactsFileError::NotATable {
            path: path.to_path_buf(),
            tenant: tenant.to_string(),
        })?;
    // Replacing the value, not the entry, keeps the comments written above each key.
    for (key, items) in [
        ("service_plans", service_plans),
        ("permissions", permissions),
    ] {
        match facts.get_mut(key) {
            Some(item) => *item = value(array(items)),
            None => {
                facts.insert(key, value(array(items)));
            }
        }
    }
    Ok(doc.to_string())
}

/// Write `text` to `path` through a temporary file beside it.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), FactsFileError> {
    let io = |source| FactsFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.facts.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# Our tenants.

[[tenant]]
id = "11111111-1111-4111-8111-111111111111"
name = "A"   # the first
baselines = ["core"]

[tenant.params]
x = 1

[[tenant]]
id = "22222222-2222-4222-8222-222222222222"
name = "B"
baselines = ["core"]

[tenant.facts]
# Read by hand in March.
service_plans = ["AAD_PREMIUM"]
"#;

    fn plans(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_table_is_added_to_its_own_tenant_and_nothing_else_moves() {
        let out = with_facts(
            Path::new("t.toml"),
            FILE,
            "11111111-1111-4111-8111-111111111111",
            &plans(&["AAD_PREMIUM"]),
            &plans(&["Group.ReadWrite.All"]),
        )
        .expect("written");
        assert!(out.starts_with("# Our tenants.\n"), "{out}");
        assert!(out.contains("name = \"A\"   # the first\n"), "{out}");
        let a = &out[..out.find("[[tenant]]\nid = \"2222").expect("B")];
        assert!(
            a.contains("\n[tenant.facts]\nservice_plans = [\"AAD_PREMIUM\"]\npermissions = [\"Group.ReadWrite.All\"]\n"),
            "{a}"
        );
        assert!(
            out.ends_with("# Read by hand in March.\nservice_plans = [\"AAD_PREMIUM\"]\n"),
            "{out}"
        );
        // What is written reads back as the same facts.
        let parsed: toml::Table = toml::from_str(&out).expect("toml");
        assert_eq!(
            parsed["tenant"][0]["facts"]["permissions"][0].as_str(),
            Some("Group.ReadWrite.All")
        );
    }

    #[test]
    fn an_existing_table_keeps_its_comment_and_gets_the_new_lists() {
        let out = with_facts(
            Path::new("t.toml"),
            FILE,
            "22222222-2222-4222-8222-222222222222",
            &plans(&["AAD_PREMIUM", "AAD_PREMIUM_P2"]),
            &plans(&["A.Read.All", "B.Read.All", "C.Read.All", "D.Read.All"]),
        )
        .expect("written");
        assert!(
            out.contains(
                "# Read by hand in March.\nservice_plans = [\"AAD_PREMIUM\", \"AAD_PREMIUM_P2\"]\n"
            ),
            "{out}"
        );
        assert!(out.contains("permissions = [\n    \"A.Read.All\",\n    \"B.Read.All\",\n    \"C.Read.All\",\n    \"D.Read.All\",\n]\n"), "{out}");
    }

    #[test]
    fn an_unknown_tenant_or_broken_file_writes_nothing() {
        let e = with_facts(
            Path::new("t.toml"),
            FILE,
            "33333333-3333-4333-8333-333333333333",
            &[],
            &[],
        )
        .expect_err("no tenant");
        assert!(
            e.to_string().contains("no [[tenant]] with id 33333333"),
            "{e}"
        );
        let e = with_facts(Path::new("t.toml"), "[[tenant]\n", "x", &[], &[]).expect_err("broken");
        assert!(e.to_string().starts_with("t.toml: not valid TOML"), "{e}");
    }
}
