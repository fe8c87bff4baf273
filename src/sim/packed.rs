//! A compact encoding of stored JSON objects: property names become small numbers from one
//! dictionary shared by the process (every property name of every generated schema), scalars
//! stay as their JSON text. Names are about half of Graph's JSON, so 10,000 tenants with the
//! shipped baselines deployed fit in a fraction of the memory plain text would take, and
//! turning an object back into JSON text is a single copy-like pass (no parsing).
//!
//! Input: a `serde_json::Value` (to pack) or packed bytes (to unpack). Output: packed bytes, or
//! the JSON text (compact, keys in stored order).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::kinds;
use crate::source::shipped;

const OBJECT_START: u8 = b'{';
const OBJECT_END: u8 = b'}';
const ARRAY_START: u8 = b'[';
const ARRAY_END: u8 = b']';
const KNOWN_KEY: u8 = 1;
const OTHER_KEY: u8 = 2;
const SCALAR: u8 = 3;
const NULL: u8 = 4;
const TRUE: u8 = 5;
const FALSE: u8 = 6;

/// Property names by number and numbers by name.
struct Dictionary {
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

fn collect_names(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                out.extend(properties.keys().cloned());
            }
            map.values().for_each(|v| collect_names(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_names(v, out)),
        _ => {}
    }
}

fn dictionary() -> &'static Dictionary {
    static DICTIONARY: OnceLock<Dictionary> = OnceLock::new();
    DICTIONARY.get_or_init(|| {
        let mut names: Vec<String> = [
            "@odata.type",
            "@odata.context",
            "id",
            "value",
            "target",
            "assignments",
            "tenantId",
            "createdDateTime",
            "modifiedDateTime",
            "lastModifiedDateTime",
            "deletedDateTime",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for kind in kinds::all() {
            for variant in ["create", "update"] {
                let file = format!("{}.{variant}.schema.json", kind.schema.id);
                if let Some(document) =
                    shipped::schema(&file).and_then(|t| serde_json::from_str::<Value>(t).ok())
                {
                    collect_names(&document, &mut names);
                }
            }
        }
        names.sort();
        names.dedup();
        let names: Vec<Box<str>> = names.into_iter().map(String::into_boxed_str).collect();
        let numbers = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        Dictionary { names, numbers }
    })
}

fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_varint(bytes: &[u8], at: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    while let Some(byte) = bytes.get(*at) {
        *at += 1;
        n |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    n
}

fn pack_into(value: &Value, dictionary: &Dictionary, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(true) => out.push(TRUE),
        Value::Bool(false) => out.push(FALSE),
        Value::Number(_) | Value::String(_) => {
            let text = value.to_string();
            out.push(SCALAR);
            push_varint(out, text.len());
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            out.push(ARRAY_START);
            for item in items {
                pack_into(item, dictionary, out);
            }
            out.push(ARRAY_END);
        }
        Value::Object(map) => {
            out.push(OBJECT_START);
            for (key, item) in map {
                match dictionary.numbers.get(key.as_str()) {
                    Some(number) => {
                        out.push(KNOWN_KEY);
                        push_varint(out, *number as usize);
                    }
                    None => {
                        let quoted = Value::from(key.as_str()).to_string();
                        out.push(OTHER_KEY);
                        push_varint(out, quoted.len());
                        out.extend_from_slice(quoted.as_bytes());
                    }
                }
                pack_into(item, dictionary, out);
            }
            out.push(OBJECT_END);
        }
    }
}

/// Pack a JSON value.
pub(crate) fn pack(value: &Value) -> Box<[u8]> {
    let mut out = Vec::with_capacity(256);
    pack_into(value, dictionary(), &mut out);
    // An exact-size copy: shrinking in place would keep the grown block (up to twice the size).
    Box::from(out.as_slice())
}

/// The compact JSON text of packed bytes.
pub(crate) fn unpack(bytes: &[u8]) -> String {
    let dictionary = dictionary();
    let mut out = String::with_capacity(bytes.len() * 2);
    // Per open container: has it written an element yet?
    let mut started: Vec<bool> = Vec::with_capacity(8);
    let mut after_key = false;
    let mut at = 0;
    while let Some(&token) = bytes.get(at) {
        at += 1;
        let is_value_start = !matches!(token, OBJECT_END | ARRAY_END | KNOWN_KEY | OTHER_KEY);
        let is_key = matches!(token, KNOWN_KEY | OTHER_KEY);
        if ((is_value_start && !after_key) || is_key)
            && let Some(first) = started.last_mut()
        {
            if *first {
                out.push(',');
            }
            *first = true;
        }
        after_key = false;
        match token {
            OBJECT_START => {
                out.push('{');
                started.push(false);
            }
            ARRAY_START => {
                out.push('[');
                started.push(false);
            }
            OBJECT_END => {
                out.push('}');
                started.pop();
            }
            ARRAY_END => {
                out.push(']');
                started.pop();
            }
            KNOWN_KEY => {
                let number = read_varint(bytes, &mut at);
                out.push('"');
                out.push_str(dictionary.names.get(number).map_or("", |n| n));
                out.push_str("\":");
                after_key = true;
            }
            OTHER_KEY | SCALAR => {
                let len = read_varint(bytes, &mut at);
                let end = (at + len).min(bytes.len());
                out.push_str(std::str::from_utf8(&bytes[at..end]).unwrap_or("null"));
                at = end;
                if token == OTHER_KEY {
                    out.push(':');
                    after_key = true;
                }
            }
            NULL => out.push_str("null"),
            TRUE => out.push_str("true"),
            FALSE => out.push_str("false"),
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packing_round_trips_and_is_smaller() {
        let value = json!({
            "@odata.type": "#microsoft.graph.ipNamedLocation",
            "id": "x",
            "displayName": "Offices \"HQ\" ✓",
            "isTrusted": true,
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "1.2.3.0/24"}, {}],
            "nested": {"a": [], "b": {}, "c": null, "d": false, "e": 1.5, "f": [[1], [2, 3]]},
            "notInTheDictionary": -7
        });
        let packed = pack(&value);
        let text = unpack(&packed);
        assert_eq!(text, value.to_string());
        assert!(
            packed.len() < text.len(),
            "{} >= {}",
            packed.len(),
            text.len()
        );
        assert_eq!(unpack(&pack(&json!({}))), "{}");
        assert_eq!(unpack(&pack(&json!([]))), "[]");
    }
}
