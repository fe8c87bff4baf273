//! What the simulator's answers look like on the wire (graph-wire-facts.md section 4): the
//! [`Reply`] every handler returns, Graph's OData error body, the correlation headers, the
//! content types, and the timestamp formats.
//!
//! Input: a status, a body and headers from a handler, plus the request's correlation ids.
//! Output: the final status, headers and body text (for a hyper response or a `$batch` item).

use std::borrow::Cow;

use serde_json::json;

/// `Content-Type` of Graph's JSON success responses (section 4).
pub(crate) const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// `Content-Type` of Graph's error responses and of the token endpoint.
pub(crate) const PLAIN_JSON: &str = "application/json";

/// The correlation ids of one request (or one `$batch` item).
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    /// Ours, a fresh GUID.
    pub(crate) request_id: String,
    /// The client's `client-request-id`, else the request id (Graph mirrors it).
    pub(crate) client_request_id: String,
}

impl RequestIds {
    /// Fresh ids, echoing the client's `client-request-id` when it sent one.
    pub(crate) fn new(client_request_id: Option<&str>) -> RequestIds {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = client_request_id
            .filter(|c| !c.is_empty())
            .map_or_else(|| request_id.clone(), str::to_string);
        RequestIds {
            request_id,
            client_request_id,
        }
    }
}

/// The body of a [`Reply`].
#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    /// No body (204, or a 429 without one).
    Empty,
    /// JSON text, ready to send.
    Json(String),
    /// Graph's OData error; rendered with the correlation ids when the reply is finished.
    Error {
        /// `error.code`.
        code: Cow<'static, str>,
        /// `error.message`.
        message: String,
    },
}

/// One answer, before correlation headers are added.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Headers besides the correlation and content headers.
    pub(crate) headers: Vec<(Cow<'static, str>, String)>,
    /// The body.
    pub(crate) body: ReplyBody,
    /// Close the connection instead of answering (an injected fault).
    pub(crate) drop_connection: bool,
}

impl Reply {
    /// A JSON success body (Graph's OData content type and `OData-Version: 4.0`).
    pub(crate) fn json(status: u16, text: String) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Json(text),
            drop_connection: false,
        }
    }

    /// A reply without a body (204 and friends).
    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Empty,
            drop_connection: false,
        }
    }

    /// A Graph error.
    pub(crate) fn error(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Error {
                code: code.into(),
                message: message.into(),
            },
            drop_connection: false,
        }
    }

    /// No answer at all: the connection is closed.
    pub(crate) fn dropped() -> Reply {
        Reply {
            status: 0,
            headers: Vec::new(),
            body: ReplyBody::Empty,
            drop_connection: true,
        }
    }

    /// Add a header.
    pub(crate) fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Status, every header (content, correlation, Graph's standard ones) and the body text.
    pub(crate) fn finish(self, ids: &RequestIds, now_ms: i64) -> FinishedReply {
        let mut headers: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(8);
        let body = match self.body {
            ReplyBody::Empty => None,
            ReplyBody::Json(text) => {
                headers.push((Cow::Borrowed("Content-Type"), ODATA_JSON.to_string()));
                headers.push((Cow::Borrowed("OData-Version"), "4.0".to_string()));
                Some(text)
            }
            ReplyBody::Error { code, message } => {
                headers.push((Cow::Borrowed("Content-Type"), PLAIN_JSON.to_string()));
                Some(error_body(&code, &message, ids, now_ms))
            }
        };
        headers.push((Cow::Borrowed("request-id"), ids.request_id.clone()));
        headers.push((
            Cow::Borrowed("client-request-id"),
            ids.client_request_id.clone(),
        ));
        headers.push((Cow::Borrowed("Cache-Control"), "no-store".to_string()));
        headers.push((
            Cow::Borrowed("x-ms-ags-diagnostic"),
            r#"{"ServerInfo":{"DataCenter":"Local","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"tenantform-sim"}}"#.to_string(),
        ));
        headers.extend(self.headers);
        FinishedReply {
            status: self.status,
            headers,
            body,
            drop_connection: self.drop_connection,
        }
    }
}

/// A reply with every header, ready for the wire.
#[derive(Debug, Clone)]
pub(crate) struct FinishedReply {
    /// HTTP status (0 when the connection is dropped).
    pub(crate) status: u16,
    /// Every header.
    pub(crate) headers: Vec<(Cow<'static, str>, String)>,
    /// Body text.
    pub(crate) body: Option<String>,
    /// Close the connection instead of answering.
    pub(crate) drop_connection: bool,
}

/// Graph's OData error body: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
pub(crate) fn error_body(code: &str, message: &str, ids: &RequestIds, now_ms: i64) -> String {
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": inner_error_date(now_ms),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }
        }
    })
    .to_string()
}

fn timestamp(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// `2025-02-13T10:17:06`: the `innerError.date` format (no zone suffix).
pub(crate) fn inner_error_date(ms: i64) -> String {
    timestamp(ms).strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `2025-02-13T10:17:06.1230000Z`: Graph's `DateTimeOffset` format (seven fraction digits).
pub(crate) fn graph_timestamp(ms: i64) -> String {
    let fraction = ms.rem_euclid(1000) * 10_000;
    format!(
        "{}.{fraction:07}Z",
        timestamp(ms).strftime("%Y-%m-%dT%H:%M:%S")
    )
}

/// `2025-02-13 10:17:06Z`: the token endpoint's `timestamp` format.
pub(crate) fn login_timestamp(ms: i64) -> String {
    timestamp(ms).strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// JSON text of a string (quoted and escaped).
pub(crate) fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_graph_formats() {
        let ms = 1_739_441_826_123;
        assert_eq!(inner_error_date(ms), "2025-02-13T10:17:06");
        assert_eq!(graph_timestamp(ms), "2025-02-13T10:17:06.1230000Z");
        assert_eq!(login_timestamp(ms), "2025-02-13 10:17:06Z");
    }

    #[test]
    fn client_request_id_is_echoed_or_mirrored() {
        let echoed = RequestIds::new(Some("abc"));
        assert_eq!(echoed.client_request_id, "abc");
        let mirrored = RequestIds::new(None);
        assert_eq!(mirrored.client_request_id, mirrored.request_id);
    }

    #[test]
    fn errors_carry_correlation_ids() {
        let ids = RequestIds::new(Some("c"));
        let reply = Reply::error(403, "Authorization_RequestDenied", "no").finish(&ids, 0);
        let body: serde_json::Value =
            serde_json::from_str(reply.body.as_deref().unwrap_or("")).unwrap_or_default();
        assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
        assert_eq!(body["error"]["innerError"]["client-request-id"], "c");
        assert_eq!(
            body["error"]["innerError"]["request-id"],
            ids.request_id.as_str()
        );
    }
}
