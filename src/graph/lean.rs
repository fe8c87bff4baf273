//! Parsing a Graph answer without its `null` members. Graph answers a read with every declared
//! property of an entity, most of them `null` on a real tenant as on the simulator (a third of
//! the members of a Conditional Access policy list); plan and drift treat `null`, `[]` and an
//! absent property alike, so a read made only to compare skips them while parsing instead of
//! allocating a key and a value for each, for every tenant of a fleet in flight.
//!
//! Input: the bytes of a JSON answer. Output: a [`serde_json::Value`] whose objects have no
//! `null` members (a `null` array item or a `null` document stays: they are not members).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parse `bytes` as JSON, dropping every object member whose value is `null`.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Lean.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A [`Value`] seed that leaves out `null` members.
#[derive(Clone, Copy)]
struct Lean;

impl<'de> DeserializeSeed<'de> for Lean {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lean {
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
        while let Some(item) = seq.next_element_seed(Lean)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Lean)?;
            if !value.is_null() {
                members.insert(key, value);
            }
        }
        Ok(Value::Object(members))
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
