//! Canonical JSON: object keys sorted at every level, written straight from a
//! `serde_json::Value` without copying it. Compact form for hashes, pretty form (two-space
//! indent, serde_json's layout) for bundle files. Same value, same bytes: that is what makes
//! bundles deterministic and content hashes stable.
//!
//! Input: a `Value`. Output: bytes into any `io::Write` (a file buffer, a hasher).

use std::io::{self, Write};

use serde_json::Value;
use sha2::{Digest, Sha256};

fn write_string(out: &mut impl Write, s: &str) -> io::Result<()> {
    // Most strings need no escaping: write them straight through.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        return out.write_all(b"\"");
    }
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

fn newline(out: &mut impl Write, pretty: bool, depth: usize) -> io::Result<()> {
    /// A newline and the indentation of the deepest level most documents reach, in one write.
    const INDENT: &[u8; 33] = b"\n                                ";
    if pretty {
        let width = 2 * depth;
        if width < INDENT.len() {
            return out.write_all(&INDENT[..=width]);
        }
        out.write_all(b"\n")?;
        for _ in 0..depth {
            out.write_all(b"  ")?;
        }
    }
    Ok(())
}

/// Write an object with its keys sorted; `child` writes each value.
fn write_object<W: Write, T: ?Sized>(
    out: &mut W,
    mut entries: Vec<(&str, &T)>,
    pretty: bool,
    depth: usize,
    child: &dyn Fn(&mut W, &T, bool, usize) -> io::Result<()>,
) -> io::Result<()> {
    if entries.is_empty() {
        return out.write_all(b"{}");
    }
    if !entries.is_sorted_by_key(|(key, _)| *key) {
        entries.sort_unstable_by_key(|(key, _)| *key);
    }
    out.write_all(b"{")?;
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        newline(out, pretty, depth + 1)?;
        write_string(out, key)?;
        out.write_all(if pretty { b": " } else { b":" })?;
        child(out, value, pretty, depth + 1)?;
    }
    newline(out, pretty, depth)?;
    out.write_all(b"}")
}

/// Write an array in order; `child` writes each item.
fn write_array<W: Write, T>(
    out: &mut W,
    items: &[T],
    pretty: bool,
    depth: usize,
    child: &dyn Fn(&mut W, &T, bool, usize) -> io::Result<()>,
) -> io::Result<()> {
    if items.is_empty() {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        newline(out, pretty, depth + 1)?;
        child(out, item, pretty, depth + 1)?;
    }
    newline(out, pretty, depth)?;
    out.write_all(b"]")
}

fn write_value<W: Write>(out: &mut W, value: &Value, pretty: bool, depth: usize) -> io::Result<()> {
    match value {
        Value::Object(map) => write_object(
            out,
            map.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            pretty,
            depth,
            &write_value,
        ),
        Value::Array(items) => write_array(out, items, pretty, depth, &write_value),
        Value::String(s) => write_string(out, s),
        other => serde_json::to_writer(&mut *out, other).map_err(io::Error::other),
    }
}

/// A JSON document assembled from borrowed and owned parts, so a large value (a request body)
/// can be written in canonical form without being copied into a new tree.
#[derive(Debug)]
pub enum Node<'a> {
    /// A value owned by someone else.
    Borrowed(&'a Value),
    /// A small value made for this document.
    Owned(Value),
    /// A string owned by someone else.
    Str(&'a str),
    /// A list of strings owned by someone else.
    Strs(&'a [String]),
    /// A value whose pretty form at `depth` was written before (see [`write_pretty_at`]): the
    /// pretty form at that depth copies those bytes, any other form writes the value.
    Prewritten {
        /// The value.
        value: &'a Value,
        /// Its pretty form, written at `depth`.
        pretty: &'a [u8],
        /// The depth `pretty` was written at.
        depth: usize,
    },
    /// A value's compact form, written before ([`write_node_compact`]): copied as it is. It can
    /// only be written compact (writing it pretty is an error).
    Compact(&'a [u8]),
    /// A value's pretty form, written before at `depth` ([`write_node_pretty_at`]): copied as it
    /// is at that depth, re-indented at another. It can only be written pretty (writing it
    /// compact is an error).
    Pretty {
        /// The pretty text.
        text: &'a [u8],
        /// The depth it was written at.
        depth: usize,
    },
    /// An object; keys are sorted when written.
    Object(Vec<(&'a str, Node<'a>)>),
    /// An array.
    Array(Vec<Node<'a>>),
}

impl<'a> Node<'a> {
    /// An owned value from anything serializable (small values only).
    pub fn of(value: impl serde::Serialize) -> Node<'a> {
        Node::Owned(serde_json::to_value(value).unwrap_or(Value::Null))
    }
}

fn write_node<W: Write>(
    out: &mut W,
    node: &Node<'_>,
    pretty: bool,
    depth: usize,
) -> io::Result<()> {
    match node {
        Node::Borrowed(v) => write_value(out, v, pretty, depth),
        Node::Owned(v) => write_value(out, v, pretty, depth),
        Node::Str(s) => write_string(out, s),
        Node::Strs(items) => write_array(out, items, pretty, depth, &|out, s: &String, _, _| {
            write_string(out, s)
        }),
        Node::Prewritten {
            value,
            pretty: bytes,
            depth: written_at,
        } => {
            if pretty && *written_at == depth {
                out.write_all(bytes)
            } else {
                write_value(out, value, pretty, depth)
            }
        }
        Node::Compact(bytes) if !pretty => out.write_all(bytes),
        Node::Pretty {
            text,
            depth: written_at,
        } if pretty => {
            if *written_at == depth {
                out.write_all(text)
            } else {
                write_reindented(out, text, *written_at, depth)
            }
        }
        Node::Compact(_) => Err(io::Error::other(
            "a node written in compact form was asked for its pretty form",
        )),
        Node::Pretty { .. } => Err(io::Error::other(
            "a node written in pretty form was asked for its compact form",
        )),
        Node::Object(fields) => write_object(
            out,
            fields.iter().map(|(k, v)| (*k, v)).collect(),
            pretty,
            depth,
            &write_node,
        ),
        Node::Array(items) => write_array(out, items, pretty, depth, &write_node),
    }
}

/// Write a [`Node`] in compact canonical form.
pub fn write_node_compact(out: &mut impl Write, node: &Node<'_>) -> io::Result<()> {
    write_node(out, node, false, 0)
}

/// Write a [`Node`] in pretty canonical form (no trailing newline).
pub fn write_node_pretty(out: &mut impl Write, node: &Node<'_>) -> io::Result<()> {
    write_node(out, node, true, 0)
}

/// Write a [`Node`] in pretty canonical form as it reads `depth` levels deep in a document (its
/// lines indented for that depth), for [`Node::Pretty`].
pub fn write_node_pretty_at(out: &mut impl Write, node: &Node<'_>, depth: usize) -> io::Result<()> {
    write_node(out, node, true, depth)
}

/// Copy pretty text written at depth `from` as if it had been written at depth `to`. Every raw
/// newline in canonical pretty text is followed by its line's indentation, at least the depth's
/// (strings escape their newlines), so only those runs of spaces change.
fn write_reindented(out: &mut impl Write, text: &[u8], from: usize, to: usize) -> io::Result<()> {
    let mut lines = text.split(|b| *b == b'\n');
    if let Some(first) = lines.next() {
        out.write_all(first)?;
    }
    for line in lines {
        let inner = line
            .get(2 * from..)
            .filter(|_| line[..2 * from].iter().all(|b| *b == b' '))
            .ok_or_else(|| io::Error::other("pretty text is not indented for its depth"))?;
        newline(out, true, to)?;
        out.write_all(inner)?;
    }
    Ok(())
}

/// `sha256:<hex>` of a [`Node`]'s compact canonical form.
pub fn hash_node(node: &Node<'_>) -> String {
    // Written out first, then hashed in one call: many small writes cost more than the copy.
    let mut bytes = Vec::with_capacity(32 * 1024);
    let _ = write_node_compact(&mut bytes, node);
    hash_bytes(&bytes)
}

/// Write the compact canonical form.
pub fn write_compact(out: &mut impl Write, value: &Value) -> io::Result<()> {
    write_value(out, value, false, 0)
}

/// Write the pretty canonical form (no trailing newline).
pub fn write_pretty(out: &mut impl Write, value: &Value) -> io::Result<()> {
    write_value(out, value, true, 0)
}

/// Write the pretty canonical form of a value that sits `depth` levels deep in a document (its
/// lines indented for that depth), for [`Node::Prewritten`].
pub fn write_pretty_at(out: &mut impl Write, value: &Value, depth: usize) -> io::Result<()> {
    write_value(out, value, true, depth)
}

/// The compact canonical form as a string.
pub fn to_compact_string(value: &Value) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_compact(&mut buf, value);
    String::from_utf8(buf).unwrap_or_default()
}

/// The pretty canonical form as a string.
pub fn to_pretty_string(value: &Value) -> String {
    let mut buf = Vec::new();
    let _ = write_pretty(&mut buf, value);
    String::from_utf8(buf).unwrap_or_default()
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `sha256:<hex>` of the compact canonical form, computed while writing (no buffer).
pub fn hash(value: &Value) -> String {
    hex_digest(&digest(value))
}

/// The SHA-256 of `value`'s canonical form as bytes: what [`hash`] writes as `sha256:<hex>`,
/// for a caller that keeps many and writes few (a request's body waiting to be sent).
pub fn digest(value: &Value) -> [u8; 32] {
    let mut hasher = HashWriter(Sha256::new());
    let _ = write_compact(&mut hasher, value);
    hasher.0.finalize().into()
}

/// `sha256:<hex>` of a [`digest`].
pub fn digest_text(digest: &[u8; 32]) -> String {
    hex_digest(digest)
}

/// [`hash`] of the array of `items`, without building the array (no copy of them).
pub fn hash_array(items: &[&Value]) -> String {
    let mut hasher = HashWriter(Sha256::new());
    let _ = write_array(&mut hasher, items, false, 0, &|out, item, pretty, depth| {
        write_value(out, item, pretty, depth)
    });
    hex_digest(&hasher.0.finalize())
}

/// [`hash`] of `value` as if its objects had no `null` members: the same for an object read
/// whole and read without them ([`crate::graph::lean`]), which plan and drift hold equal.
pub fn hash_without_nulls(value: &Value) -> String {
    let mut hasher = HashWriter(Sha256::new());
    let _ = write_without_nulls(&mut hasher, value);
    hex_digest(&hasher.0.finalize())
}

fn write_without_nulls<W: Write>(out: &mut W, value: &Value) -> io::Result<()> {
    match value {
        Value::Object(map) => write_object(
            out,
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
            false,
            0,
            &|out, v, _, _| write_without_nulls(out, v),
        ),
        Value::Array(items) => write_array(out, items, false, 0, &|out, v, _, _| {
            write_without_nulls(out, v)
        }),
        Value::String(s) => write_string(out, s),
        other => serde_json::to_writer(&mut *out, other).map_err(io::Error::other),
    }
}

/// `sha256:<hex>` of some bytes.
pub fn hash_bytes(bytes: &[u8]) -> String {
    hex_digest(&Sha256::digest(bytes))
}

fn hex_digest(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_without_nulls_ignores_null_members_only() {
        let whole = serde_json::json!({"b": null, "a": {"x": null, "y": [null, 1]}, "c": 2});
        let lean = serde_json::json!({"c": 2, "a": {"y": [null, 1]}});
        assert_eq!(
            super::hash_without_nulls(&whole),
            super::hash_without_nulls(&lean)
        );
        // Without nulls it is the ordinary canonical hash.
        assert_eq!(super::hash_without_nulls(&lean), super::hash(&lean));
        // A null array item is content, and a value that changed is a change.
        let other = serde_json::json!({"c": 2, "a": {"y": [1]}});
        assert_ne!(
            super::hash_without_nulls(&other),
            super::hash_without_nulls(&lean)
        );
    }

    #[test]
    fn an_array_hashes_the_same_borrowed_or_built() {
        let a = serde_json::json!({"b": [1, 2], "a": "x"});
        let b = serde_json::json!(null);
        assert_eq!(
            super::hash_array(&[&a, &b]),
            super::hash(&serde_json::Value::Array(vec![a.clone(), b.clone()]))
        );
        assert_eq!(super::hash_array(&[]), super::hash(&serde_json::json!([])));
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorts_keys_at_every_level() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"z":1,"y":2}],"c":"\n"}}"#).expect("json");
        assert_eq!(
            to_compact_string(&v),
            r#"{"a":{"c":"\n","d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn nodes_write_like_the_equivalent_value() {
        let body: Value = serde_json::from_str(r#"{"z":[1,2],"a":{}}"#).expect("json");
        let node = Node::Object(vec![
            ("key", Node::of("x")),
            ("body", Node::Borrowed(&body)),
            ("list", Node::Array(vec![Node::of(1), Node::Object(vec![])])),
        ]);
        let value = serde_json::json!({"key": "x", "body": body, "list": [1, {}]});
        let mut a = Vec::new();
        write_node_pretty(&mut a, &node).expect("write");
        assert_eq!(
            String::from_utf8(a).expect("utf8"),
            to_pretty_string(&value)
        );
        assert_eq!(hash_node(&node), hash(&value));
    }

    #[test]
    fn written_text_in_the_other_form_is_an_error_not_other_bytes() {
        let pretty = Node::Pretty {
            text: b"{}",
            depth: 0,
        };
        assert!(write_node_compact(&mut Vec::new(), &pretty).is_err());
        assert!(write_node_pretty(&mut Vec::new(), &Node::Compact(b"{}")).is_err());
        // Text that is not indented for the depth it claims is refused, not mangled.
        let shallow = Node::Pretty {
            text: b"{\n\"a\": 1\n}",
            depth: 1,
        };
        assert!(write_node_pretty_at(&mut Vec::new(), &shallow, 2).is_err());
    }

    #[test]
    fn pretty_matches_serde_json_layout_for_sorted_input() {
        let v: Value = serde_json::from_str(r#"{"a":[1,{"b":[]}],"c":{},"d":"x"}"#).expect("json");
        assert_eq!(
            to_pretty_string(&v),
            serde_json::to_string_pretty(&v).expect("pretty")
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonical_output_parses_back_to_the_same_value(v in arb_json()) {
            let compact: Value = serde_json::from_str(&to_compact_string(&v)).expect("compact parses");
            let pretty: Value = serde_json::from_str(&to_pretty_string(&v)).expect("pretty parses");
            prop_assert_eq!(&compact, &v);
            prop_assert_eq!(&pretty, &v);
        }

        #[test]
        fn written_text_splices_like_the_value_it_was_written_from(
            v in arb_json(),
            written_at in 0usize..5,
            read_at in 0usize..5,
        ) {
            let mut pretty = Vec::new();
            write_pretty_at(&mut pretty, &v, written_at).expect("write");
            let mut compact = Vec::new();
            write_compact(&mut compact, &v).expect("write");
            let expected = serde_json::json!([1, v.clone()]);

            // Pretty text read at another depth is re-indented to the same bytes.
            let mut a = Vec::new();
            write_node_pretty_at(&mut a, &Node::Pretty { text: &pretty, depth: written_at }, read_at).expect("pretty");
            let mut b = Vec::new();
            write_pretty_at(&mut b, &v, read_at).expect("write");
            prop_assert_eq!(a, b);

            let pretty_node = Node::Array(vec![Node::of(1), Node::Pretty { text: &pretty, depth: written_at }]);
            let mut c = Vec::new();
            write_node_pretty(&mut c, &pretty_node).expect("pretty");
            prop_assert_eq!(String::from_utf8(c).expect("utf8"), to_pretty_string(&expected));
            let compact_node = Node::Array(vec![Node::of(1), Node::Compact(&compact)]);
            prop_assert_eq!(hash_node(&compact_node), hash(&expected));
        }

        #[test]
        fn key_order_does_not_change_the_hash(v in arb_json()) {
            fn reversed(v: &Value) -> Value {
                match v {
                    Value::Object(m) => Value::Object(m.iter().rev().map(|(k, v)| (k.clone(), reversed(v))).collect()),
                    Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
                    other => other.clone(),
                }
            }
            prop_assert_eq!(hash(&v), hash(&reversed(&v)));
        }
    }
}
