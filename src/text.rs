//! Text as tenantform reads it from files: every file a user may write or edit (project and
//! tenants TOML, templates, plan files, certificates, simulator state, journals, identity maps)
//! goes through here, so that a leading UTF-8 byte-order mark, which some Windows editors
//! write, is dropped rather than taken for content. Offsets into the returned text are what
//! spans use, so `line:col` counts from the first character after the mark, as an editor shows.
//!
//! Input: bytes or text from a file. Output: the text without a leading byte-order mark.

use std::path::Path;

/// The UTF-8 byte-order mark (U+FEFF) as text.
pub const BOM: char = '\u{feff}';

/// `text` without a leading byte-order mark.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// Drop a leading byte-order mark from an owned string in place.
pub fn strip_bom(mut text: String) -> String {
    if text.starts_with(BOM) {
        text.drain(..BOM.len_utf8());
    }
    text
}

/// [`std::fs::read_to_string`] without a leading byte-order mark.
pub fn read_to_string(path: impl AsRef<Path>) -> std::io::Result<String> {
    std::fs::read_to_string(path).map(strip_bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_byte_order_mark_is_dropped_and_nothing_else() {
        assert_eq!(without_bom("\u{feff}{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(without_bom("{\"a\": 1}"), "{\"a\": 1}");
        // Only a leading one: a mark inside the text is content.
        assert_eq!(without_bom("a\u{feff}"), "a\u{feff}");
        assert_eq!(strip_bom("\u{feff}\u{feff}x".to_string()), "\u{feff}x");
        assert_eq!(strip_bom(String::new()), "");
    }
}
