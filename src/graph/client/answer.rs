//! How an answer's bytes become a [`Value`], as its request asks: whole, without `null` members
//! ([`crate::graph::lean`]), keeping only some items of one array ([`KeepItems`]), or only the
//! created object's `id` ([`Request::id_only`]). A `$batch` envelope is split first, each
//! item's body left as text, and each body parsed as its own request asks: one envelope answers
//! reads of several kinds, and a body is built once, as its reader keeps it.
//!
//! Input: the answer's bytes and status, and the request (or the `$batch` envelope's requests).
//! Output: the answer's [`Value`] (`null` when empty or not JSON).

use serde_json::Value;
use serde_json::value::RawValue;

use crate::graph::lean;

use super::Request;

/// How one exchange's answer is parsed.
#[derive(Clone, Copy)]
pub(super) enum AnswerParse<'a> {
    /// The answer to one request, parsed as it asks.
    One(&'a Request),
    /// A `$batch` envelope of `requests` (its items' ids are their indices), each item's body
    /// parsed as its request asks.
    Envelope {
        requests: &'a [Request],
        chunk: &'a [usize],
    },
}

/// The answer `bytes` (HTTP `status`) as `parse` asks.
pub(super) fn parse_answer(bytes: &[u8], status: u16, parse: AnswerParse<'_>) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match parse {
        AnswerParse::One(request) => body_of(bytes, status, request),
        AnswerParse::Envelope { requests, chunk } => {
            if status == 200
                && let Some(envelope) = envelope_of(bytes, requests, chunk)
            {
                return envelope;
            }
            serde_json::from_slice(bytes).unwrap_or(Value::Null)
        }
    }
}

/// One answer's body (HTTP `status`) as `request` asks.
fn body_of(bytes: &[u8], status: u16, request: &Request) -> Value {
    if request.id_only && (200..300).contains(&status) {
        return super::batch::id_of_answer(bytes);
    }
    let parsed = match (&request.keep_items, request.lean) {
        (Some(keep), true) if (200..300).contains(&status) => lean::from_slice_keeping(bytes, keep),
        (_, true) => lean::from_slice(bytes),
        (_, false) => serde_json::from_slice(bytes),
    };
    parsed.unwrap_or(Value::Null)
}

/// One item of a `$batch` answer, its body as text.
#[derive(serde::Deserialize)]
struct ItemText<'a> {
    id: Option<Value>,
    status: Option<Value>,
    headers: Option<Value>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

/// A `$batch` answer, its items' bodies as text.
#[derive(serde::Deserialize)]
struct EnvelopeText<'a> {
    #[serde(borrow)]
    responses: Vec<ItemText<'a>>,
}

/// The `$batch` answer `bytes` as `{"responses": [...]}`, each item's body parsed as its request
/// asks (an item whose id names no request of `chunk` is parsed whole); `None` when the answer
/// is not such an envelope.
fn envelope_of(bytes: &[u8], requests: &[Request], chunk: &[usize]) -> Option<Value> {
    let envelope: EnvelopeText<'_> = serde_json::from_slice(bytes).ok()?;
    let items = envelope
        .responses
        .into_iter()
        .map(|item| {
            let request = item
                .id
                .as_ref()
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<usize>().ok())
                .filter(|i| chunk.contains(i))
                .map(|i| &requests[i]);
            let status = item
                .status
                .as_ref()
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0);
            let body = match (item.body, request) {
                (None, _) => Value::Null,
                (Some(raw), Some(request)) => body_of(raw.get().as_bytes(), status, request),
                (Some(raw), None) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            };
            let mut out = serde_json::Map::with_capacity(4);
            for (name, value) in [
                ("id", item.id),
                ("status", item.status),
                ("headers", item.headers),
            ] {
                if let Some(value) = value {
                    out.insert(name.to_string(), value);
                }
            }
            out.insert("body".to_string(), body);
            Value::Object(out)
        })
        .collect();
    // Made as a map, not with `json!`, which would copy every body into a new value.
    let mut out = serde_json::Map::with_capacity(1);
    out.insert("responses".to_string(), Value::Array(items));
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::lean::KeepItems;
    use crate::kinds::{ApiVersion, ThrottleClass};
    use serde_json::json;
    use std::sync::Arc;

    fn read(lean: bool) -> Request {
        let mut request = Request::get("read", ApiVersion::V1, "/x", ThrottleClass::Identity);
        request.lean = lean;
        request
    }

    #[test]
    fn each_item_of_an_envelope_is_parsed_as_its_request_asks() {
        let mut keeping = read(true);
        keeping.keep_items = Some(Arc::new(KeepItems {
            path: vec!["value", "*", "rules"],
            item_key: "id",
            keys: vec!["b".to_string()],
        }));
        let mut created = read(false);
        created.id_only = true;
        let requests = [read(true), keeping, created.clone(), created, read(false)];
        let text = br#"{"responses":[
            {"id":"0","status":200,"headers":{"request-id":"r0"},"body":{"a":null,"b":1}},
            {"id":"1","status":200,"body":{"value":[{"rules":[{"id":"a","x":1},{"id":"b","y":null}]}]}},
            {"id":"2","status":201,"body":{"id":"new","displayName":"whole"}},
            {"id":"3","status":400,"body":{"error":{"code":"Request_BadRequest","message":null}}},
            {"id":"4","status":200,"body":{"a":null}},
            {"id":"9","status":200,"body":{"a":null}},
            {"id":"5","status":204}]}"#;
        let parsed = parse_answer(
            text,
            200,
            AnswerParse::Envelope {
                requests: &requests,
                chunk: &[0, 1, 2, 3, 4],
            },
        );
        assert_eq!(
            parsed,
            json!({"responses": [
                {"id": "0", "status": 200, "headers": {"request-id": "r0"}, "body": {"b": 1}},
                {"id": "1", "status": 200, "body": {"value": [{"rules": [{"id": "b"}]}]}},
                {"id": "2", "status": 201, "body": {"id": "new"}},
                {"id": "3", "status": 400, "body": {"error": {"code": "Request_BadRequest", "message": null}}},
                {"id": "4", "status": 200, "body": {"a": null}},
                {"id": "9", "status": 200, "body": {"a": null}},
                {"id": "5", "status": 204, "body": null}
            ]})
        );
    }

    #[test]
    fn an_answer_that_is_no_envelope_is_parsed_whole() {
        let requests = [read(true)];
        let envelope = AnswerParse::Envelope {
            requests: &requests,
            chunk: &[0],
        };
        let error = br#"{"error":{"code":"BadRequest","message":null}}"#;
        assert_eq!(
            parse_answer(error, 400, envelope),
            json!({"error": {"code": "BadRequest", "message": null}})
        );
        assert_eq!(
            parse_answer(b"{\"responses\":3}", 200, envelope),
            json!({"responses": 3})
        );
        assert_eq!(parse_answer(b"not json", 200, envelope), Value::Null);
        assert_eq!(parse_answer(b"", 200, envelope), Value::Null);
    }

    #[test]
    fn items_are_kept_only_from_a_successful_answer() {
        let mut keeping = read(true);
        keeping.keep_items = Some(Arc::new(KeepItems {
            path: vec!["rules"],
            item_key: "id",
            keys: Vec::new(),
        }));
        let text = br#"{"rules":[{"id":"a"}]}"#;
        assert_eq!(
            parse_answer(text, 200, AnswerParse::One(&keeping)),
            json!({"rules": []})
        );
        assert_eq!(
            parse_answer(text, 404, AnswerParse::One(&keeping)),
            json!({"rules": [{"id": "a"}]})
        );
    }
}
