//! The request path of an operation: a kind's path with its placeholders filled from the
//! rendered body (a property, the method an `@odata.type` names, the parent's reference), a
//! group's alternate key, and values placed in a query's OData literals escaped.
//!
//! Input: a kind, a rendered body and the resource's parent. Output: the path, or the
//! diagnostic that says which property it needs.

use serde_json::Value;

use crate::compile::render::REF_OPEN;
use crate::diag::{Code, Diagnostic};
use crate::kinds::{Kind, PathParam};
use crate::source::model;

fn odata_escape(s: &str) -> String {
    s.replace('\'', "''")
}

/// A value placed inside a quoted OData literal in a query string: quotes doubled, then
/// percent-encoded (all but letters, digits, `-`, `.` and `_`), so no value can end the
/// literal or the query option.
fn query_literal(s: &str) -> String {
    const LITERAL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(&odata_escape(s), LITERAL).to_string()
}

pub(crate) fn compute_path(
    kind: &'static Kind,
    body: &Value,
    parent: Option<(&'static Kind, &str)>,
) -> Result<String, Box<Diagnostic>> {
    let mut path = kind.path.to_string();
    for (name, param) in kind.path_params {
        let value = match param {
            PathParam::BodyField(field) => match body.get(*field).and_then(Value::as_str) {
                // In a query (`$filter=... eq '{x}'`) the value is an OData string literal.
                Some(v) if kind.path.contains('?') => query_literal(v),
                Some(v) => v.to_string(),
                None => {
                    return Err(Box::new(Diagnostic::error(
                        Code::UnaddressableResource,
                        format!(
                            "{} body needs a string `{field}`: the request path is built from it",
                            model::article(kind.name)
                        ),
                    )
                    .pointer(format!("/{field}"))));
                }
            },
            PathParam::ODataTypeId(table) => {
                let odata = body
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match table.iter().find(|(t, _)| *t == odata) {
                    Some((_, id)) => (*id).to_string(),
                    None => {
                        let known: Vec<&str> = table.iter().map(|(t, _)| *t).collect();
                        return Err(Box::new(Diagnostic::error(
                            Code::UnaddressableResource,
                            format!(
                                "{} body needs an `@odata.type` that names the method; found {}",
                                model::article(kind.name),
                                if odata.is_empty() {
                                    "none".to_string()
                                } else {
                                    format!("\"{odata}\"")
                                }
                            ),
                        )
                        .pointer("/@odata.type")
                        .expected(format!("one of {}", model::quote_list(&known)))));
                    }
                }
            }
            PathParam::Parent => match parent {
                Some((parent_kind, key)) => format!("{REF_OPEN}{}:{key}}}", parent_kind.ref_prefix),
                None => String::new(),
            },
        };
        path = path.replace(&format!("{{{name}}}"), &value);
    }
    if kind.name == "group"
        && let Some(unique) = body.get("uniqueName").and_then(Value::as_str)
    {
        path = format!("{}(uniqueName='{}')", kind.path, odata_escape(unique));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_in_a_query_literal_cannot_end_the_literal_or_the_option() {
        assert_eq!(
            query_literal("62e90394-69f5-4237-9190-012177145e10"),
            "62e90394-69f5-4237-9190-012177145e10"
        );
        assert_eq!(
            query_literal("x' or 1 eq 1&$top=1"),
            "x%27%27%20or%201%20eq%201%26%24top%3D1"
        );
        let pim = crate::kinds::by_name("unifiedRoleManagementPolicy").expect("kind");
        let path = compute_path(pim, &json!({"roleDefinitionId": "a'b"}), None).expect("path");
        assert!(
            path.contains("roleDefinitionId%20eq%20'a%27%27b'"),
            "{path}"
        );
    }

    #[test]
    fn a_body_without_the_property_a_path_needs_is_a_diagnostic() {
        let domain = crate::kinds::by_name("domain").expect("kind");
        assert_eq!(
            compute_path(domain, &json!({"id": "contoso.com"}), None).expect("path"),
            "/domains/contoso.com"
        );
        let e = compute_path(domain, &json!({"passwordValidityPeriodInDays": 90}), None)
            .expect_err("no id");
        assert!(e.message.contains("needs a string `id`"), "{}", e.message);
    }
}
