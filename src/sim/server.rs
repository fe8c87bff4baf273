//! The HTTP server: the accept loop (HTTP/1.1 and h2c on one socket, graceful shutdown), the
//! dispatch of a request to the token endpoint, the discovery documents, Graph or
//! introspection, and the one fault that
//! needs the transport: a dropped connection (the service fails, so hyper closes the connection
//! without writing a response).
//!
//! Input: a bound listener (or any accepted byte stream, e.g. one a TLS acceptor wraps) and the
//! [`App`]. Output: responses on the wire until shutdown is signalled.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::kinds::ApiVersion;
use crate::sim::service::{App, RequestHeaders};
use crate::sim::wire::{FinishedReply, Reply, RequestIds};

/// Largest request body accepted (a full `$batch` of large bodies fits easily).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The service error that makes hyper close the connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub(crate) struct DroppedConnection;

fn header_text(parts: &hyper::http::request::Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn to_response(reply: FinishedReply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body.unwrap_or_default())));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// `scheme://host[:port]` as the client called it (Graph builds `@odata.nextLink` on the host
/// it was called on): the scheme the simulator serves and the request's `Host` (or HTTP/2
/// `:authority`). A missing or malformed host falls back to the listen address.
fn request_origin(base_url: &str, host: Option<&str>) -> String {
    let scheme = base_url.split_once("://").map_or("http", |(s, _)| s);
    match host {
        Some(host)
            if !host.is_empty()
                && host.len() <= 255
                && host.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_')
                }) =>
        {
            format!("{scheme}://{host}")
        }
        _ => base_url.to_string(),
    }
}

/// `/v1.0/...` or `/beta/...` → the version and the rest (starting with `/`).
fn graph_path(path: &str) -> Option<(ApiVersion, &str)> {
    for version in [ApiVersion::V1, ApiVersion::Beta] {
        let prefix = format!("/{}", version.segment());
        if path.len() >= prefix.len() && path[..prefix.len()].eq_ignore_ascii_case(&prefix) {
            let rest = &path[prefix.len()..];
            if rest.is_empty() || rest.starts_with('/') {
                return Some((version, if rest.is_empty() { "/" } else { rest }));
            }
        }
    }
    None
}

/// `/{tenant}/oauth2/v2.0/token` → the tenant segment.
fn token_tenant(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split('/');
    let tenant = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    (rest.len() == 3
        && rest[0].eq_ignore_ascii_case("oauth2")
        && rest[1].eq_ignore_ascii_case("v2.0")
        && rest[2].eq_ignore_ascii_case("token"))
    .then_some(tenant)
}

/// Answer one HTTP request.
pub(crate) async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DroppedConnection> {
    let (parts, body) = request.into_parts();
    let prefer = parts
        .headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let host = header_text(&parts, "host")
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_string()));
    let origin = request_origin(&app.base_url, host.as_deref());
    let headers = RequestHeaders {
        authorization: header_text(&parts, "authorization"),
        client_request_id: header_text(&parts, "client-request-id"),
        prefer,
        host,
        origin,
        consistency_level: header_text(&parts, "consistencylevel"),
    };
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let ids = RequestIds::new(headers.client_request_id.as_deref());
            return Ok(to_response(
                Reply::error(
                    413,
                    "RequestEntityTooLarge",
                    "The request body is too large.",
                )
                .finish(&ids, app.now_ms()),
            ));
        }
    };
    let method = parts.method.as_str().to_ascii_uppercase();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or_default();
    let reply = if path == "/_sim" || path.starts_with("/_sim/") {
        crate::sim::introspect::handle(&app, &method, path, query, &body)
    } else if let Some(reply) =
        crate::sim::discovery::handle(&app, &method, path, query, &headers.origin)
    {
        reply
    } else if let Some(tenant) = token_tenant(path) {
        if method == "POST" {
            app.token(tenant, &headers, &body, path)
        } else {
            let ids = RequestIds::new(headers.client_request_id.as_deref());
            Reply::error(
                405,
                "MethodNotAllowed",
                "The token endpoint accepts POST only.",
            )
            .finish(&ids, app.now_ms())
        }
    } else if let Some((version, rest)) = graph_path(path) {
        app.graph(&method, version, rest, query, &headers, &body)
            .await
    } else {
        let ids = RequestIds::new(headers.client_request_id.as_deref());
        Reply::error(
            404,
            "NotFound",
            "The simulator serves /{tenant}/oauth2/v2.0/token, /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys, /common/discovery/instance, /v1.0/..., /beta/... and /_sim/....",
        )
        .finish(&ids, app.now_ms())
    };
    if reply.drop_connection {
        return Err(DroppedConnection);
    }
    Ok(to_response(reply))
}

/// Serve one accepted connection (plain TCP, or TLS after the handshake) until it ends
/// or shutdown is signalled.
pub(crate) async fn serve_connection<IO>(
    app: Arc<App>,
    io: IO,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| handle(app.clone(), request));
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    // A dropped connection is a service error by design; other errors are the client's.
    let _ = watcher.watch(connection).await;
}

/// Accept connections until `shutdown` turns true, then drain requests in flight.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                match &tls {
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let app = app.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            // A failed handshake (a client that does not trust the
                            // certificate) ends that connection only.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve_connection(app, stream, watcher).await;
                            }
                        });
                    }
                    None => {
                        tokio::spawn(serve_connection(app.clone(), stream, graceful.watcher()));
                    }
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified() {
        assert_eq!(
            graph_path("/v1.0/groups"),
            Some((ApiVersion::V1, "/groups"))
        );
        assert_eq!(
            graph_path("/BETA/$batch"),
            Some((ApiVersion::Beta, "/$batch"))
        );
        assert_eq!(graph_path("/v1.0x/groups"), None);
        assert_eq!(token_tenant("/t1/oauth2/v2.0/token"), Some("t1"));
        assert_eq!(token_tenant("/t1/oauth2/token"), None);
    }

    #[test]
    fn origins_follow_the_host_the_client_called() {
        let base = "http://127.0.0.1:8765";
        assert_eq!(
            request_origin(base, Some("localhost:8765")),
            "http://localhost:8765"
        );
        assert_eq!(
            request_origin("https://127.0.0.1:1", Some("[::1]:1")),
            "https://[::1]:1"
        );
        assert_eq!(request_origin(base, None), base);
        assert_eq!(request_origin(base, Some("evil\"/x")), base);
    }
}
