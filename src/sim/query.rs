//! OData query options of list and get requests (graph-wire-facts.md section 7): `$filter` with
//! `eq` clauses joined by `and`, `$select`, `$top` (at most 999), `$expand`, `$count`,
//! `$orderby` (one property), `$skip`, `$search` (`"property:term"`), and the opaque
//! `$skiptoken` of `@odata.nextLink` paging; and Graph's rules for directory objects, where
//! `$search`, `$count` and most sorting are advanced queries (`ConsistencyLevel: eventual`,
//! Microsoft Learn "Advanced query capabilities on Microsoft Entra ID objects").
//!
//! Input: the raw query string (and, for the rules, what the collection is and the
//! `ConsistencyLevel` header). Output: a [`Query`], or the 400 Graph sends for an option or a
//! combination it does not support.

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
    /// The offset carried by `$skiptoken` (absolute: it already counts `$skip`).
    pub(crate) offset: Option<usize>,
    /// `$skip`.
    pub(crate) skip: usize,
    /// `$count=true`.
    pub(crate) count: bool,
    /// `$orderby`: one property and whether it sorts descending.
    pub(crate) orderby: Option<(String, bool)>,
    /// `$search="property:term"`: the property and the term.
    pub(crate) search: Option<(String, String)>,
    /// `$expand` navigation properties (top level).
    pub(crate) expand: Vec<String>,
    /// For each of [`Query::expand`], the navigation properties its nested `$expand=` names
    /// (`scheduledActionsForRule($expand=scheduledActionConfigurations)`); other nested
    /// options are accepted and ignored.
    pub(crate) expand_nested: Vec<Vec<String>>,
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

/// The navigation properties named by the `$expand=` inside `item`'s parentheses
/// (`a($select=x;$expand=b,c)` → `[b, c]`).
fn nested_expand(item: &str) -> Vec<String> {
    let Some((_, inner)) = item.split_once('(') else {
        return Vec::new();
    };
    let inner = inner.strip_suffix(')').unwrap_or(inner);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    // Options inside the parentheses are separated by `;` at depth 0.
    let mut options = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => {
                options.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    options.push(&inner[start..]);
    for option in options {
        let Some((key, value)) = option.split_once('=') else {
            continue;
        };
        if option_name(key.trim()) == "expand" {
            out.extend(
                split_top_level(value)
                    .iter()
                    .map(|e| e.split('(').next().unwrap_or_default().trim().to_string()),
            );
        }
    }
    out
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
                    query.offset = Some(parse_skiptoken(&value).ok_or_else(|| {
                        Reply::error(400, "Request_BadRequest", "The specified page token value has expired and can no longer be included in your request.")
                    })?);
                    continue;
                }
                "count" if key.starts_with('$') => {
                    query.count = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(Reply::error(
                                400,
                                "Request_BadRequest",
                                format!(
                                    "Invalid value '{value}' for the query option '$count'; expected true or false."
                                ),
                            ));
                        }
                    };
                }
                "skip" if key.starts_with('$') => {
                    query.skip = value.trim().parse().map_err(|_| {
                        Reply::error(
                            400,
                            "Request_BadRequest",
                            format!("Invalid value '{value}' for the query option '$skip'."),
                        )
                    })?;
                }
                "orderby" if key.starts_with('$') => query.orderby = Some(parse_orderby(&value)?),
                "search" if key.starts_with('$') => query.search = Some(parse_search(&value)?),
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
                    let items = split_top_level(&value);
                    query.expand = items
                        .iter()
                        .map(|e| e.split('(').next().unwrap_or_default().trim().to_string())
                        .collect();
                    query.expand_nested = items.iter().map(|e| nested_expand(e)).collect();
                }
                // Options Graph supports on some collections but the simulator does not
                // implement: refuse them rather than answer as if they were applied.
                name @ ("apply" | "compute") if key.starts_with('$') => {
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

    /// Where the page starts: the `$skiptoken` offset, else `$skip`.
    pub(crate) fn start(&self) -> usize {
        self.offset.unwrap_or(self.skip)
    }

    /// Graph's rules for these options on a collection. `directory`: the collection holds
    /// directory objects (groups, users, organization), where `$search`, `$count` and most
    /// sorting are advanced queries; `eventual`: the request sent `ConsistencyLevel: eventual`;
    /// `default_sortable`: properties a directory collection sorts by without advanced query
    /// parameters. Returns whether `@odata.count` is to be sent.
    pub(crate) fn check(
        &self,
        directory: bool,
        eventual: bool,
        default_sortable: &[&str],
    ) -> Result<bool, Reply> {
        if !directory {
            if self.search.is_some() {
                return Err(unsupported(
                    "The query option '$search' is not supported on this resource.".to_string(),
                ));
            }
            return Ok(self.count);
        }
        if self.search.is_some() && !eventual {
            return Err(unsupported("Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'".to_string()));
        }
        if self.skip > 0 {
            return Err(Reply::error(
                400,
                "Request_BadRequest",
                "'$skip' is not supported by the service.",
            ));
        }
        let advanced = eventual && self.count;
        if let Some((property, _)) = &self.orderby {
            let by_default = default_sortable
                .iter()
                .any(|p| p.eq_ignore_ascii_case(property));
            if !advanced && (!by_default || !self.filter.is_empty()) {
                return Err(unsupported(
                    "Sorting not supported for current query.".to_string(),
                ));
            }
        }
        if !self.expand.is_empty() && eventual {
            return Err(unsupported(
                "The query option '$expand' is not supported with advanced queries (ConsistencyLevel: eventual)."
                    .to_string(),
            ));
        }
        // Without the header, Graph silently ignores `$count=true` on directory objects.
        Ok(self.count && eventual)
    }

    /// True when `value` matches `$search` (tokenized prefix match on the property, as the
    /// directory's search does: `"displayName:contoso"` finds "Contoso Admins" and
    /// "Admins (Contoso)").
    pub(crate) fn search_matches(&self, value: &Value) -> bool {
        let Some((property, term)) = &self.search else {
            return true;
        };
        let Some(text) = value
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(property)))
            .and_then(|(_, v)| v.as_str())
        else {
            return false;
        };
        let text = text.to_lowercase();
        let term = term.to_lowercase();
        text.starts_with(&term)
            || text
                .split(|c: char| !c.is_alphanumeric())
                .any(|token| !token.is_empty() && token.starts_with(&term))
    }

    /// Sort by `$orderby` (strings case-insensitively; nulls and absent values last).
    pub(crate) fn sort<T>(&self, items: &mut [(T, Value)]) {
        let Some((property, descending)) = &self.orderby else {
            return;
        };
        let key = |v: &Value| -> Option<String> {
            let mut current = Some(v);
            for segment in property.split('/') {
                current = current.and_then(|c| c.get(segment));
            }
            match current? {
                Value::Null => None,
                Value::String(s) => Some(s.to_lowercase()),
                other => Some(other.to_string()),
            }
        };
        items.sort_by(|(_, a), (_, b)| match (key(a), key(b)) {
            (Some(a), Some(b)) if *descending => b.cmp(&a),
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
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

/// `displayName desc` → (`displayName`, true). One property only.
fn parse_orderby(text: &str) -> Result<(String, bool), Reply> {
    let invalid = || {
        unsupported(format!(
            "Invalid $orderby: the simulator sorts by one property, `property [asc|desc]`; got \"{text}\"."
        ))
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let (property, descending) = match words.as_slice() {
        [property] => (*property, false),
        [property, order] if order.eq_ignore_ascii_case("asc") => (*property, false),
        [property, order] if order.eq_ignore_ascii_case("desc") => (*property, true),
        _ => return Err(invalid()),
    };
    if property.contains(',')
        || !property
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '/' | '_'))
    {
        return Err(invalid());
    }
    Ok((property.to_string(), descending))
}

/// `"displayName:contoso"` (the quotes are required) → (`displayName`, `contoso`).
fn parse_search(text: &str) -> Result<(String, String), Reply> {
    let invalid = || {
        Reply::error(
            400,
            "Request_UnsupportedQuery",
            format!(
                "Syntax error: the $search value must be a quoted \"property:term\" clause; got {text}."
            ),
        )
    };
    let inner = text
        .trim()
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(invalid)?;
    let (property, term) = inner.split_once(':').ok_or_else(invalid)?;
    if property.trim().is_empty() || term.trim().is_empty() {
        return Err(invalid());
    }
    Ok((property.trim().to_string(), term.trim().to_string()))
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
        // Malformed options are refused, never silently ignored.
        for option in [
            "$orderby=displayName,id",
            "$orderby=displayName sideways",
            "$count=maybe",
            "$skip=-1",
            "$search=x",
            "$search=\"nocolon\"",
            "$apply=groupby((displayName))",
        ] {
            assert!(Query::parse(option).is_err(), "{option}");
        }
        let q = Query::parse(
            "$orderby=displayName%20desc&$count=true&$skip=2&$search=%22displayName:con%22",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.orderby, Some(("displayName".into(), true)));
        assert!(q.count);
        assert_eq!(q.start(), 2);
        assert_eq!(q.search, Some(("displayName".into(), "con".into())));
        assert!(q.search_matches(&json!({"displayName": "Admins (Contoso)"})));
        assert!(!q.search_matches(&json!({"displayName": "Falcon"})));
        assert!(Query::parse("tenant=x").is_ok());
        assert!(Query::parse("$top=999").is_ok());
    }

    #[test]
    fn skiptokens_round_trip_and_are_dropped_from_the_next_link_query() {
        let q = Query::parse(&format!("$top=2&$skiptoken={}", skiptoken(4)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.offset, Some(4));
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
        assert_eq!(
            q.expand_nested,
            vec![vec!["scheduledActionConfigurations".to_string()], vec![]]
        );
        assert_eq!(
            nested_expand("a($select=x;$expand=b,c($top=1))"),
            vec!["b".to_string(), "c".to_string()]
        );
        assert!(nested_expand("a($select=x)").is_empty());
    }
}
