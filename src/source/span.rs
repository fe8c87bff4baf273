//! Source files and spans: every byte tenantform reads from a project (or from the shipped
//! baselines) is registered here, so any stage can turn a byte span into `file:line:col`.
//!
//! Input: file names and their text. Output: [`FileId`]s, [`Span`]s and [`Location`]s.

use std::fmt;
use std::sync::Arc;

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span covering `range` in `file`.
    pub fn new(file: FileId, range: std::ops::Range<usize>) -> Span {
        Span {
            file,
            start: range.start,
            end: range.end,
        }
    }
}

/// A human position: file name, 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// The file as the user knows it (relative to the project, or `<shipped>/...`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One registered file.
#[derive(Debug)]
pub struct SourceFile {
    /// Display name.
    pub name: String,
    /// Full text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(name: String, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name,
            text,
            line_starts,
        }
    }

    /// 1-based line and column of a byte offset (clamped to the file).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// Byte offset of a 1-based line (clamped).
    pub fn line_offset(&self, line: usize) -> usize {
        let index = line.saturating_sub(1).min(self.line_starts.len() - 1);
        self.line_starts[index]
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_offset(line);
        let rest = &self.text[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].trim_end_matches('\r')
    }
}

/// Every file read for one project run. Cheap to share (`Arc` inside).
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<Arc<SourceFile>>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Register a file and return its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files
            .push(Arc::new(SourceFile::new(name.into(), text.into())));
        id
    }

    /// The file behind an id.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// The location of a span's start.
    pub fn location(&self, span: Span) -> Location {
        let file = self.file(span.file);
        let (line, column) = file.line_col(span.start);
        Location {
            file: file.name.clone(),
            line,
            column,
        }
    }

    /// Replace the text a span covers with `*` (line breaks kept), so that no diagnostic
    /// quotes it: a credential written where it must not be.
    pub fn mask(&mut self, span: Span) {
        let Some(file) = self.files.get_mut(span.file.0 as usize) else {
            return;
        };
        let text: String = file
            .text
            .char_indices()
            .map(|(i, c)| {
                if (span.start..span.end).contains(&i) && c != '\n' {
                    "*".repeat(c.len_utf8())
                } else {
                    c.to_string()
                }
            })
            .collect();
        *file = Arc::new(SourceFile::new(file.name.clone(), text));
    }

    /// The source text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        let text = &self.file(span.file).text;
        text.get(span.start..span.end.min(text.len())).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let mut map = SourceMap::new();
        let id = map.add("a.toml", "ab\nçd = 1\n");
        let loc = map.location(Span::new(id, 7..8));
        assert_eq!((loc.line, loc.column), (2, 4));
        assert_eq!(map.location(Span::new(id, 0..1)).line, 1);
        assert_eq!(map.file(id).line_text(2), "çd = 1");
    }
}
