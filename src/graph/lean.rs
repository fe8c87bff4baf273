//! Parsing a Graph answer without its `null` members. Graph answers a read with every declared
//! property of an entity, most of them `null` on a real tenant as on the simulator (a third of
//! the members of a Conditional Access policy list); plan and drift treat `null`, `[]` and an
//! absent property alike, so a read made only to compare skips them while parsing instead of
//! allocating a key and a value for each, for every tenant of a fleet in flight.
//!
//! A read may also name one keyed array of the answer whose items it compares only in part
//! ([`KeepItems`]: a PIM policy answers with its 17 or so rules, of which a baseline declares
//! 3 or 4, and those answers are half the bytes a CISA baseline's plan reads): the items it
//! does not keep are skipped as text, never built.
//!
//! Input: the bytes of a JSON answer. Output: a [`serde_json::Value`] whose objects have no
//! `null` members (a `null` array item or a `null` document stays: they are not members).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// The items of one array of an answer that a read keeps: those whose `item_key` member is one
/// of `keys`; every other item of that array is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepItems {
    /// Where the array is: member names from the answer's root, `*` for every item of an array
    /// on the way (`["value", "*", "policy", "rules"]`).
    pub path: Vec<&'static str>,
    /// The member that names an item.
    pub item_key: &'static str,
    /// The names of the items kept.
    pub keys: Vec<String>,
}

/// Parse `bytes` as JSON, dropping every object member whose value is `null`.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    parse(bytes, Lean { keep: None })
}

/// [`from_slice`], keeping of the array `keep` names only the items it keeps.
pub fn from_slice_keeping(bytes: &[u8], keep: &KeepItems) -> Result<Value, serde_json::Error> {
    parse(
        bytes,
        Lean {
            keep: Some((keep, 0)),
        },
    )
}

fn parse(bytes: &[u8], seed: Lean<'_>) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A [`Value`] seed that leaves out `null` members, and, on the way to the array of a
/// [`KeepItems`] (how far along its path this value is), the items it does not keep.
#[derive(Clone, Copy)]
struct Lean<'k> {
    keep: Option<(&'k KeepItems, usize)>,
}

impl<'k> Lean<'k> {
    /// The seed of this value's member or item `step` (`*` for an item).
    fn child(self, step: &str) -> Lean<'k> {
        Lean {
            keep: self
                .keep
                .filter(|(keep, at)| keep.path.get(*at).is_some_and(|s| *s == step))
                .map(|(keep, at)| (keep, at + 1)),
        }
    }

    /// The items kept when this value is the array of its [`KeepItems`].
    fn kept_items(self) -> Option<&'k KeepItems> {
        self.keep
            .filter(|(keep, at)| *at == keep.path.len())
            .map(|(keep, _)| keep)
    }
}

impl KeepItems {
    /// Whether the item written as `raw` is kept: an object whose `item_key` is one of the keys.
    fn keeps(&self, raw: &RawValue) -> bool {
        let mut deserializer = serde_json::Deserializer::from_str(raw.get());
        match deserializer.deserialize_any(ItemName(self.item_key)) {
            Ok(Some(name)) => self.keys.contains(&name),
            _ => false,
        }
    }
}

/// Reads an item's name member (the last, if written twice), skipping the rest.
struct ItemName<'a>(&'a str);

impl<'de> Visitor<'de> for ItemName<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name = None;
        while let Some(key) = map.next_key_seed(Key)? {
            if key == self.0 {
                name = map.next_value::<Option<Value>>()?.and_then(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                });
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(name)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

impl<'de> DeserializeSeed<'de> for Lean<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lean<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        if let Some(keep) = self.kept_items() {
            // Each item is first taken as text: one not kept is never built.
            while let Some(raw) = seq.next_element::<&RawValue>()? {
                if keep.keeps(raw) {
                    items.push(from_slice(raw.get().as_bytes()).map_err(serde::de::Error::custom)?);
                }
            }
            return Ok(Value::Array(items));
        }
        let item = self.child("*");
        while let Some(value) = seq.next_element_seed(item)? {
            items.push(value);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // The members are gathered first (on the stack, for an object of up to 16) and the
        // object made at its size once: grown member by member, a map reallocates its
        // entries and rebuilds its index several times. A key is copied only when its
        // member is kept.
        let mut members: SmallVec<[(String, Value); 16]> = SmallVec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let value = map.next_value_seed(self.child(&key))?;
            if !value.is_null() {
                members.push((key.into_owned(), value));
            }
        }
        let mut object = Map::with_capacity(members.len());
        // A key given twice keeps its first place and its last value, as inserting does.
        object.extend(members);
        Ok(Value::Object(object))
    }
}

/// A member's name, borrowed from the input when it has no escapes.
#[derive(Clone, Copy)]
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_members_are_left_out_at_every_depth_and_nothing_else_is() {
        let text = br#"{"id":"p1","description":null,"conditions":{"platforms":null,
            "users":{"includeUsers":["All"],"excludeGroups":[]}},"items":[null,1,{"a":null}],
            "n":-3,"f":1.5,"big":18446744073709551615,"t":true,"s":"\u00e9"}"#;
        let lean = from_slice(text).expect("parses");
        assert_eq!(
            lean,
            json!({"id":"p1","conditions":{"users":{"includeUsers":["All"],"excludeGroups":[]}},
                   "items":[null,1,{}],"n":-3,"f":1.5,"big":18446744073709551615u64,"t":true,"s":"é"})
        );
        // Member order is kept, as the ordinary parse keeps it.
        let keys: Vec<&String> = lean.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            ["id", "conditions", "items", "n", "f", "big", "t", "s"]
        );
        assert_eq!(from_slice(b"null").expect("parses"), Value::Null);
    }

    #[test]
    fn escaped_and_repeated_member_names_parse_as_the_ordinary_parse_has_them() {
        let text = br#"{"a\u0062":1,"x":null,"k":1,"m":2,"k":3,"big":{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"a10":10,"a11":11,"a12":12,"a13":13,"a14":14,"a15":15,"a16":16,"a17":17}}"#;
        let lean = from_slice(text).expect("parses");
        let ordinary: Value = serde_json::from_slice(text).expect("parses");
        let mut without_null = ordinary.clone();
        without_null
            .as_object_mut()
            .expect("object")
            .shift_remove("x");
        assert_eq!(lean, without_null);
        // The same order too: a repeated name keeps its first place and its last value.
        let keys =
            |v: &Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
        assert_eq!(keys(&lean), ["ab", "k", "m", "big"]);
        assert_eq!(lean["k"], 3);
        assert_eq!(keys(&lean["big"]), keys(&ordinary["big"]));
    }

    #[test]
    fn keeping_builds_only_the_kept_items_of_the_named_array() {
        let text = br#"{"value":[{"id":"p","policy":{"rules":[
            {"id":"a","x":null,"y":1},{"id":"b","z":2},{"id":"\u0063"},5,{"no":"id"},{"id":7},
            {"id":"b","id":"a"},[1]]},"other":{"rules":[{"id":"b"}]}},
            {"policy":{"rules":[{"id":"b"},{"id":"c","deep":{"n":null}}]}}]}"#;
        let keep = KeepItems {
            path: vec!["value", "*", "policy", "rules"],
            item_key: "id",
            keys: vec!["a".to_string(), "c".to_string()],
        };
        let kept = from_slice_keeping(text, &keep).expect("parses");
        assert_eq!(
            kept,
            json!({"value": [
                {"id": "p", "policy": {"rules": [{"id": "a", "y": 1}, {"id": "c"}, {"id": "a"}]},
                 "other": {"rules": [{"id": "b"}]}},
                {"policy": {"rules": [{"id": "c", "deep": {}}]}}
            ]})
        );
        // Everything else as the lean parse has it.
        let mut lean = from_slice(text).expect("parses");
        for item in lean["value"].as_array_mut().expect("array") {
            item["policy"]["rules"]
                .as_array_mut()
                .expect("rules")
                .retain(|r| {
                    r.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| keep.keys.iter().any(|k| k == id))
                });
        }
        assert_eq!(kept, lean);
        // A broken item is refused as the lean parse refuses it.
        let broken = br#"{"value":[{"policy":{"rules":[{"id":"a","x":tru}]}}]}"#;
        assert!(from_slice_keeping(broken, &keep).is_err());
        assert!(from_slice(broken).is_err());
    }

    #[test]
    fn what_the_ordinary_parse_refuses_the_lean_one_refuses() {
        for bad in [&b"{\"a\":"[..], b"[1,]", b"{} x", b"", b"{\"a\" 1}"] {
            assert!(
                from_slice(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(serde_json::from_slice::<Value>(bad).is_err());
        }
    }
}
