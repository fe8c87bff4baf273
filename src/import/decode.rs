//! Import, first step: the bytes of one backup file → a JSON value.
//!
//! Backups come from PowerShell 5.1 (UTF-16 LE with a byte-order mark, CRLF), PowerShell 7
//! (UTF-8 without a mark), editors (UTF-8 with a mark) and Python (IntuneCD: ASCII JSON with
//! `\uXXXX` escapes, or YAML), often mixed within one export. The encoding is sniffed per file
//! from its byte-order mark, or from the zero bytes of BOM-less UTF-16; anything else must be
//! UTF-8. Input: bytes and whether the file is YAML. Output: a `serde_json::Value`, or a
//! [`DecodeError`] that says what is wrong (never a panic, whatever the bytes).

use serde_json::Value;

/// Files larger than this are refused (a backup object is kilobytes; this bounds memory).
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// The text encoding a file was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16 little-endian (with a byte-order mark, or sniffed from its zero bytes).
    Utf16Le,
    /// UTF-16 big-endian with a byte-order mark.
    Utf16Be,
}

/// Why a file could not be read as a JSON or YAML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("file is {0} bytes, more than the {MAX_FILE_BYTES} an importable object may have")]
    TooLarge(usize),
    /// Not valid text in the encoding its first bytes announce.
    #[error("not valid {0:?} text")]
    BadText(Encoding),
    /// Empty, or only whitespace.
    #[error("file is empty")]
    Empty,
    /// Text that is not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// Text that is not YAML.
    #[error("not valid YAML: {0}")]
    Yaml(String),
}

/// Decode bytes to text, sniffing the encoding.
pub fn text(bytes: &[u8]) -> Result<(String, Encoding), DecodeError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        let text =
            std::str::from_utf8(rest).map_err(|_| DecodeError::BadText(Encoding::Utf8Bom))?;
        return Ok((text.to_string(), Encoding::Utf8Bom));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, Encoding::Utf16Le);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, Encoding::Utf16Be);
    }
    // BOM-less UTF-16 LE: JSON starts with ASCII, so every second byte of the start is zero.
    if bytes.len() >= 4
        && bytes.len().is_multiple_of(2)
        && bytes[1] == 0
        && bytes[3] == 0
        && bytes[0] != 0
    {
        return utf16(bytes, Encoding::Utf16Le);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::BadText(Encoding::Utf8))?;
    Ok((text.to_string(), Encoding::Utf8))
}

fn utf16(bytes: &[u8], encoding: Encoding) -> Result<(String, Encoding), DecodeError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(DecodeError::BadText(encoding));
    }
    let units = bytes.chunks_exact(2).map(|pair| match encoding {
        Encoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
        _ => u16::from_le_bytes([pair[0], pair[1]]),
    });
    let text: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|_| DecodeError::BadText(encoding))?;
    // A second mark after the first one (PowerShell piping a file that had one) is not content.
    Ok((crate::text::strip_bom(text), encoding))
}

/// Decode a file's bytes to a JSON value: JSON, or YAML when `yaml` is set.
pub fn document(bytes: &[u8], yaml: bool) -> Result<(Value, Encoding), DecodeError> {
    let (text, encoding) = text(bytes)?;
    if text.trim().is_empty() {
        return Err(DecodeError::Empty);
    }
    let value = if yaml {
        serde_norway::from_str::<Value>(&text).map_err(|e| DecodeError::Yaml(e.to_string()))?
    } else {
        serde_json::from_str::<Value>(&text).map_err(|e| DecodeError::Json(e.to_string()))?
    };
    Ok((value, encoding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utf16le_bom(text: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }

    #[test]
    fn every_encoding_powershell_and_python_write_reads_the_same() {
        let json = "{\r\n    \"displayName\":  \"Caf\u{e9} \u{2013} MFA\"\r\n}\r\n";
        let expected = serde_json::json!({"displayName": "Caf\u{e9} \u{2013} MFA"});
        let (v, e) = document(&utf16le_bom(json), false).expect("utf-16");
        assert_eq!((v, e), (expected.clone(), Encoding::Utf16Le));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(json.as_bytes());
        assert_eq!(
            document(&bom, false).expect("bom"),
            (expected.clone(), Encoding::Utf8Bom)
        );
        assert_eq!(
            document(json.as_bytes(), false).expect("utf-8"),
            (expected.clone(), Encoding::Utf8)
        );
        // Python's ASCII escapes.
        let ascii = b"{\"displayName\": \"Caf\\u00e9 \\u2013 MFA\"}";
        assert_eq!(document(ascii, false).expect("ascii").0, expected);
        // UTF-16 without its mark.
        let no_bom = &utf16le_bom(json)[2..];
        assert_eq!(
            document(no_bom, false).expect("bomless").1,
            Encoding::Utf16Le
        );
        // YAML as IntuneCD writes it.
        let yaml = "displayName: Caf\u{e9} \u{2013} MFA\n";
        assert_eq!(document(yaml.as_bytes(), true).expect("yaml").0, expected);
    }

    #[test]
    fn bad_bytes_are_errors_that_say_why() {
        assert_eq!(
            document(&[0xFF, 0xFE, 0x41], false),
            Err(DecodeError::BadText(Encoding::Utf16Le))
        );
        assert_eq!(
            document(&[0x7B, 0xC3, 0x28, 0x7D], false),
            Err(DecodeError::BadText(Encoding::Utf8))
        );
        assert_eq!(document(b"  \r\n", false), Err(DecodeError::Empty));
        assert!(matches!(
            document(b"{\"a\": ", false),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            document(b"a: [b", true),
            Err(DecodeError::Yaml(_))
        ));
        // A lone surrogate in UTF-16.
        assert_eq!(
            document(&[0xFF, 0xFE, 0x00, 0xD8], false),
            Err(DecodeError::BadText(Encoding::Utf16Le))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), yaml: bool) {
            let _ = document(&bytes, yaml);
        }

        #[test]
        fn truncated_documents_never_panic(cut in 0usize..200, yaml: bool) {
            let doc = "{\"displayName\": \"x\", \"conditions\": {\"users\": {\"includeUsers\": [\"All\"]}}, \"state\": \"enabled\"}";
            let bytes = utf16le_bom(doc);
            let _ = document(&bytes[..cut.min(bytes.len())], yaml);
            let _ = document(&doc.as_bytes()[..cut.min(doc.len())], yaml);
        }
    }
}

#[cfg(test)]
mod regressions {
    use super::*;

    #[test]
    fn a_yaml_alias_bomb_is_an_error_not_unbounded_memory() {
        let mut yaml = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let names: Vec<char> = ('b'..='k').collect();
        let mut previous = 'a';
        for name in names {
            yaml.push_str(&format!(
                "{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
            ));
            previous = name;
        }
        assert!(matches!(
            document(yaml.as_bytes(), true),
            Err(DecodeError::Yaml(_))
        ));
    }

    #[test]
    fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
        let json = "[".repeat(100_000);
        assert!(matches!(
            document(json.as_bytes(), false),
            Err(DecodeError::Json(_))
        ));
        let yaml = "[".repeat(100_000);
        assert!(matches!(
            document(yaml.as_bytes(), true),
            Err(DecodeError::Yaml(_))
        ));
    }
}
