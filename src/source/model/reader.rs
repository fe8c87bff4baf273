//! The reader under every decoder: walks one file's spanned TOML tree, turns each problem
//! into a diagnostic at its `file:line:col`, and remembers near-miss keys for "did you mean".
//!
//! Input: a parsed document and its [`FileId`]. Output: typed values with spans, and
//! diagnostics.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Allow, Sp, SpTable, TomlValue, did_you_mean, quote_list};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};

pub(super) type DeEntry<'a, 'i> = (&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

/// Reads one file's document tree, collecting diagnostics.
pub(super) struct Reader<'d> {
    pub(super) file: FileId,
    pub(super) diags: &'d mut Diagnostics,
    /// Unknown keys that look like a known key: (where, the key they were probably meant as).
    pub(super) near_misses: Vec<(std::ops::Range<usize>, String)>,
    /// Byte offset of the parsed text in the file (tenants files are parsed entry by entry).
    pub(super) offset: usize,
}

impl<'d> Reader<'d> {
    pub(super) fn new(file: FileId, diags: &'d mut Diagnostics, offset: usize) -> Reader<'d> {
        Reader {
            file,
            diags,
            near_misses: Vec::new(),
            offset,
        }
    }

    pub(super) fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span::new(
            self.file,
            range.start + self.offset..range.end + self.offset,
        )
    }

    /// The parser-relative range of a span that already includes the file offset.
    pub(super) fn raw(&self, span: Span) -> std::ops::Range<usize> {
        span.start.saturating_sub(self.offset)..span.end.saturating_sub(self.offset)
    }

    /// An error at a span that already includes the file offset (from an [`Sp`]).
    pub(super) fn error_at(&mut self, code: Code, message: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::error(code, message).at(span));
    }

    pub(super) fn error(
        &mut self,
        code: Code,
        message: impl Into<String>,
        range: std::ops::Range<usize>,
    ) {
        let span = self.span(range);
        self.diags.push(Diagnostic::error(code, message).at(span));
    }

    /// Report keys not in `allowed`, with a suggestion.
    pub(super) fn check_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], what: &str) {
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

    pub(super) fn get<'a, 'i>(&self, table: &'a DeTable<'i>, key: &str) -> Option<DeEntry<'a, 'i>> {
        table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
    }

    pub(super) fn wrong_type(
        &mut self,
        key: &str,
        what: &str,
        expected: &str,
        value: &Spanned<DeValue<'_>>,
    ) {
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

    pub(super) fn missing(&mut self, key: &str, what: &str, range: std::ops::Range<usize>) {
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

    pub(super) fn string(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
    ) -> Option<Sp<String>> {
        let (_, value) = self.get(table, key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), self.span(value.span()))),
            _ => {
                self.wrong_type(key, what, "a string", value);
                None
            }
        }
    }

    pub(super) fn required_string(
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

    pub(super) fn bool(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Option<bool> {
        let (_, value) = self.get(table, key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, what, "a boolean (true or false)", value);
                None
            }
        }
    }

    pub(super) fn string_list(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
    ) -> Vec<Sp<String>> {
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

    pub(super) fn sub_table<'a, 'i>(
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

    pub(super) fn value(&self, value: &Spanned<DeValue<'_>>) -> Sp<TomlValue> {
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

    pub(super) fn table_value(&self, table: &DeTable<'_>) -> SpTable {
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

    pub(super) fn value_table(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> SpTable {
        match self.sub_table(table, key, what) {
            Some((t, _)) => self.table_value(t),
            None => Vec::new(),
        }
    }

    pub(super) fn allow(&mut self, table: &DeTable<'_>, what: &str) -> Vec<Allow> {
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

pub(super) fn de_type_name(value: &DeValue<'_>) -> &'static str {
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
pub(super) fn parse_document<'i>(
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
