//! Template errors in words a person can act on: where an undefined value is written (the
//! dotted path, not Tera's first name), which fields the value does have ("did you mean"), and
//! where rendered text stopped being JSON (the key before the error).

use super::*;

/// Where the undefined value of a strict-undefined error is written: Tera points at the path's
/// first name (`vars` of `vars.descripton | json`) or, for an argument, at the whole call; this
/// narrows either to the dotted path itself. `None` for any other error, or when the text there
/// is not a path.
pub(super) fn undefined_value_range(
    template: &str,
    range: std::ops::Range<usize>,
    message: &str,
) -> Option<std::ops::Range<usize>> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let path_from = |start: usize| -> Option<std::ops::Range<usize>> {
        let rest = template.get(start..)?;
        let len = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
        (len > 0).then_some(start..start + len)
    };
    if message.contains("to an undefined value") {
        return path_from(range.start);
    }
    let argument = message.strip_prefix("The argument `")?.split_once('`')?.0;
    let call = template.get(range.clone())?;
    let mut search = 0;
    while let Some(at) = call[search..].find(argument) {
        let after_name = search + at + argument.len();
        let before_ok = call[..search + at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_path_char(c));
        let rest = &call[after_name..];
        let trimmed = rest.trim_start();
        if before_ok && let Some(value) = trimmed.strip_prefix('=') {
            let value_at = after_name + (rest.len() - trimmed.len()) + 1;
            let value_at = value_at + (value.len() - value.trim_start().len());
            return path_from(range.start + value_at);
        }
        search = after_name;
    }
    None
}

/// For a dotted path the template wrote (`vars.descripton`) that is undefined: which part is
/// missing, what exists there instead, and the likely intended name. `None` when the text is
/// not a plain path, or the path is defined after all.
pub(super) fn undefined_path_help<'v>(
    written: &str,
    root: impl Fn(&str) -> Option<&'v serde_json::Map<String, Value>>,
) -> Option<String> {
    let mut segments = written.trim().split('.');
    let first = segments.next()?;
    let is_ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    if !is_ident(first) {
        return None;
    }
    let mut fields = root(first)?;
    let mut walked = first.to_string();
    for segment in segments {
        if !is_ident(segment) {
            return None;
        }
        match fields.get(segment) {
            Some(Value::Object(next)) => fields = next,
            Some(_) => return None,
            None => {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                let has = if names.is_empty() {
                    " (it has none)".to_string()
                } else {
                    format!(" (it has {})", names.join(", "))
                };
                let mut help = String::new();
                if let Some(guess) = crate::source::model::did_you_mean(segment, names) {
                    help.push_str(&format!("did you mean `{walked}.{guess}`? "));
                }
                help.push_str(&format!(
                    "`{walked}` has no field `{segment}`{has}; an optional value needs \
                     `| default(value=...)` or an `is defined` test"
                ));
                return Some(help);
            }
        }
        walked.push('.');
        walked.push_str(segment);
    }
    None
}

pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The last `"key":` that starts before `offset` in `text`.
pub(super) fn key_before(text: &str, offset: usize) -> Option<&str> {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let mut search_end = before.len();
    while let Some(colon) = before[..search_end].rfind(':') {
        let head = before[..colon].trim_end();
        if let Some(stripped) = head.strip_suffix('"')
            && let Some(open) = stripped.rfind('"')
        {
            let key = &stripped[open + 1..];
            if !key.is_empty() && !key.contains(['{', '}', ',', '\n']) {
                return Some(key);
            }
        }
        search_end = colon;
    }
    None
}

pub(super) fn invalid_json(
    sources: &SourceMap,
    name: &str,
    origin: TemplateOrigin,
    rendered: &str,
    err: serde_json::Error,
) -> Diagnostic {
    let line = err.line();
    let line_text = rendered
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    let offset: usize = rendered
        .lines()
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + err.column().saturating_sub(1);
    let template = origin.text(sources);
    let span = key_before(rendered, offset)
        .and_then(|key| template.find(&format!("\"{key}\"")))
        .map_or_else(|| origin.span(0..0), |pos| origin.span(pos..pos));
    let message = err.to_string();
    let message = message.split(" at line").next().unwrap_or(&message);
    Diagnostic::error(
        Code::InvalidJson,
        format!("template {name} rendered invalid JSON: {message}"),
    )
    .at(span)
    .expected("one JSON object")
    .help(format!(
        "rendered line {line} reads `{line_text}`; write strings inside quotes (\"{{{{ x }}}}\") and lists, numbers and booleans with `| json`"
    ))
}
