//! OData query options of list and get requests (graph-wire-facts.md section 7): `$filter` with
//! `eq` clauses joined by `and`, `$select`, `$top` (at most 999), `$expand`, and the opaque
//! `$skiptoken` of `@odata.nextLink` paging.
//!
//! Input: the raw query string. Output: a [`Query`], or the 400 Graph sends for an option it
//! does not support.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::sim::wire::Reply;

/// Largest `$top` Graph accepts on directory collections.
pub(crate) const MAX_TOP: usize = 999;

/// One `property eq literal` clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    /// Property path (`displayName`, `conditions/users`): `/` separates nested properties.
    pub(crate) property: String,
    /// The literal.
    pub(crate) value: Value,
}

/// Parsed query options.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// `$filter` clauses, all of which must hold.
    pub(crate) filter: Vec<Clause>,
    /// `$select` properties.
    pub(crate) select: Option<Vec<String>>,
    /// `$top`.
    pub(crate) top: Option<usize>,
    /// The offset carried by `$skiptoken`.
    pub(crate) offset: usize,
    /// `$expand` navigation properties (top level; nested options are accepted and ignored).
    pub(crate) expand: Vec<String>,
    /// The query without `$skiptoken`, as sent (for the next link).
    pub(crate) without_skiptoken: String,
}

fn unsupported(message: String) -> Reply {
    Reply::error(400, "Request_UnsupportedQuery", message)
}

/// An opaque `$skiptoken` for an offset.
pub(crate) fn skiptoken(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("tfsim1:{offset}"))
}

fn parse_skiptoken(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("tfsim1:")?.parse().ok()
}

fn option_name(key: &str) -> String {
    key.trim_start_matches('$').to_ascii_lowercase()
}

/// Split `a,b($expand=c,d),e` at top-level commas.
fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Query {
    /// Parse a raw query string.
    pub(crate) fn parse(raw: &str) -> Result<Query, Reply> {
        let mut query = Query::default();
        let mut kept = Vec::new();
        for piece in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = form_urlencoded::parse(piece.as_bytes())
                .next()
                .unwrap_or_default();
            match option_name(&key).as_str() {
                "skiptoken" => {
                    query.offset = parse_skiptoken(&value).ok_or_else(|| {
                        Reply::error(400, "Request_BadRequest", "The specified page token value has expired and can no longer be included in your request.")
                    })?;
                    continue;
                }
                "filter" => query.filter = parse_filter(&value)?,
                "select" => {
                    query.select = Some(
                        value
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    );
                }
                "top" => {
                    let top: usize = value.trim().parse().map_err(|_| {
                        unsupported(format!("Invalid page size specified: '{value}'. Must be between 1 and {MAX_TOP} inclusive."))
                    })?;
                    if !(1..=MAX_TOP).contains(&top) {
                        return Err(unsupported(format!(
                            "Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
                        )));
                    }
                    query.top = Some(top);
                }
                "expand" => {
                    query.expand = split_top_level(&value)
                        .into_iter()
                        .map(|e| e.split('(').next().unwrap_or_default().trim().to_string())
                        .collect();
                }
                // Options Graph supports on some collections but the simulator does not
                // implement: refuse them rather than answer as if they were applied.
                name @ ("orderby" | "count" | "skip" | "search" | "apply" | "compute")
                    if key.starts_with('$') =>
                {
                    return Err(unsupported(format!(
                        "The query option '${name}' is not supported by tenantform sim."
                    )));
                }
                _ => {}
            }
            kept.push(piece.to_string());
        }
        query.without_skiptoken = kept.join("&");
        Ok(query)
    }

    /// True when `value` satisfies every filter clause. Strings compare case-insensitively, as
    /// the directory does.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        self.filter.iter().all(|clause| {
            let mut current = Some(value);
            for segment in clause.property.split('/') {
                current = current.and_then(|v| v.get(segment));
            }
            let found = current.unwrap_or(&Value::Null);
            match (found, &clause.value) {
                (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
                (a, b) => a == b,
            }
        })
    }
}

/// `displayName eq 'It''s' and isTrusted eq true`.
fn parse_filter(text: &str) -> Result<Vec<Clause>, Reply> {
    let invalid = || {
        unsupported(format!(
            "Invalid filter clause: the simulator supports `property eq literal` clauses joined by `and`; got \"{text}\"."
        ))
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut clauses = Vec::new();
    let skip_spaces = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && !chars[*i].is_whitespace() && chars[*i] != '\'' {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    loop {
        skip_spaces(&mut i);
        let property = word(&mut i);
        if property.is_empty()
            || !property
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '/' | '@' | '.' | '_'))
        {
            return Err(invalid());
        }
        skip_spaces(&mut i);
        if !word(&mut i).eq_ignore_ascii_case("eq") {
            return Err(invalid());
        }
        skip_spaces(&mut i);
        let value = if chars.get(i) == Some(&'\'') {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(invalid()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        s.push(*c);
                        i += 1;
                    }
                }
            }
            Value::String(s)
        } else {
            let literal = word(&mut i);
            match literal.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                other => serde_json::from_str::<serde_json::Number>(other)
                    .map(Value::Number)
                    .map_err(|_| invalid())?,
            }
        };
        clauses.push(Clause { property, value });
        skip_spaces(&mut i);
        if i >= chars.len() {
            return Ok(clauses);
        }
        if !word(&mut i).eq_ignore_ascii_case("and") {
            return Err(invalid());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_parse_quotes_and_conjunctions() {
        let q = Query::parse(
            "$filter=displayName%20eq%20'It''s%20and%20more'%20and%20isTrusted%20eq%20true",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            q.filter,
            vec![
                Clause {
                    property: "displayName".into(),
                    value: json!("It's and more")
                },
                Clause {
                    property: "isTrusted".into(),
                    value: json!(true)
                },
            ]
        );
        assert!(q.matches(&json!({"displayName": "it's AND more", "isTrusted": true})));
        assert!(!q.matches(&json!({"displayName": "it's and more", "isTrusted": false})));
    }

    #[test]
    fn unsupported_filters_and_sizes_are_400() {
        assert!(Query::parse("$filter=startswith(displayName,'a')").is_err());
        assert!(Query::parse("$top=1000").is_err());
        assert!(Query::parse("$top=0").is_err());
        // Implemented nowhere in the simulator: refused, never silently ignored.
        for option in [
            "$orderby=displayName",
            "$count=true",
            "$skip=10",
            "$search=\"x\"",
        ] {
            assert!(Query::parse(option).is_err(), "{option}");
        }
        assert!(Query::parse("tenant=x").is_ok());
        assert!(Query::parse("$top=999").is_ok());
    }

    #[test]
    fn skiptokens_round_trip_and_are_dropped_from_the_next_link_query() {
        let q = Query::parse(&format!("$top=2&$skiptoken={}", skiptoken(4)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.offset, 4);
        assert_eq!(q.without_skiptoken, "$top=2");
        assert!(Query::parse("$skiptoken=garbage").is_err());
    }

    #[test]
    fn expand_keeps_top_level_names() {
        let q = Query::parse(
            "$expand=scheduledActionsForRule($expand=scheduledActionConfigurations),assignments",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.expand, vec!["scheduledActionsForRule", "assignments"]);
    }
}
