//! The identity platform's discovery documents, which MSAL and azure-identity read before they
//! ask for a token: the OpenID Connect metadata
//! (`/{tenant}/v2.0/.well-known/openid-configuration`), the signing keys
//! (`/{tenant}/discovery/v2.0/keys`) and instance discovery (`/common/discovery/instance`).
//! Every URL in them points at the simulator, on the host the client called.
//!
//! Input: a GET path and query, the request's origin (`scheme://host[:port]`). Output: the
//! [`FinishedReply`] Entra would send (JSON, or an AADSTS error body for an unknown tenant),
//! or `None` when the path is not a discovery document.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::sim::service::App;
use crate::sim::wire::{FinishedReply, PLAIN_JSON, login_timestamp};

/// Tenant segments that are not a tenant (multi-tenant authorities).
const AUTHORITY_ALIASES: &[&str] = &["common", "organizations", "consumers"];

/// What a discovery path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Document {
    OpenIdConfiguration(String),
    Keys(String),
    Instance,
}

fn document(path: &str) -> Option<Document> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lower.as_slice() {
        [_, "v2.0", ".well-known", "openid-configuration"] => {
            Some(Document::OpenIdConfiguration(segments[0].to_string()))
        }
        [_, "discovery", "v2.0", "keys"] | [_, "discovery", "keys"] => {
            Some(Document::Keys(segments[0].to_string()))
        }
        [_, "discovery", "instance"] => Some(Document::Instance),
        _ => None,
    }
}

fn reply(status: u16, body: Value) -> FinishedReply {
    FinishedReply {
        status,
        headers: vec![
            (
                Cow::Borrowed("Content-Type"),
                format!("{PLAIN_JSON}; charset=utf-8"),
            ),
            (
                Cow::Borrowed("Cache-Control"),
                "max-age=86400, private".into(),
            ),
            (
                Cow::Borrowed("x-ms-request-id"),
                uuid::Uuid::new_v4().to_string(),
            ),
        ],
        body: Some(body.to_string()),
        drop_connection: false,
    }
}

/// The tenant segment as the documents name it: a simulated tenant's id, or `{tenantid}` for
/// the multi-tenant aliases (as Entra does); `None` for an unknown tenant.
fn tenant_in_documents(app: &App, segment: &str) -> Option<String> {
    if AUTHORITY_ALIASES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(segment))
    {
        return Some("{tenantid}".to_string());
    }
    app.tenant(segment).map(|t| t.id.to_string())
}

fn invalid_tenant(app: &App, segment: &str) -> FinishedReply {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let timestamp = login_timestamp(app.now_ms());
    reply(
        400,
        json!({
            "error": "invalid_tenant",
            "error_description": format!(
                "AADSTS90002: Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [90002],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "https://login.microsoftonline.com/error?code=90002",
        }),
    )
}

/// The OpenID Connect metadata of a tenant, with every endpoint on `origin`.
fn openid_configuration(origin: &str, tenant: &str) -> Value {
    let host = origin.split_once("://").map_or(origin, |(_, h)| h);
    let base = format!("{origin}/{tenant}");
    json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{origin}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
        "rbac_url": origin,
    })
}

/// The tenant segment of an `authorization_endpoint` query value
/// (`https://host/{tenant}/oauth2/v2.0/authorize`), else `common`.
fn tenant_of_authorization_endpoint(query: &str) -> String {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization_endpoint"))
        .and_then(|(_, v)| {
            let rest = v.split_once("://").map(|(_, r)| r.to_string())?;
            rest.split('/').nth(1).map(str::to_string)
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "common".to_string())
}

/// Answer a discovery request, or `None` when `path` is not one.
pub(crate) fn handle(
    app: &App,
    method: &str,
    path: &str,
    query: &str,
    origin: &str,
) -> Option<FinishedReply> {
    let document = document(path)?;
    if method != "GET" {
        return Some(reply(
            405,
            json!({"error": "invalid_request", "error_description": "The discovery endpoints accept GET only."}),
        ));
    }
    Some(match document {
        Document::OpenIdConfiguration(segment) => match tenant_in_documents(app, &segment) {
            Some(tenant) => reply(200, openid_configuration(origin, &tenant)),
            None => invalid_tenant(app, &segment),
        },
        Document::Keys(segment) => match tenant_in_documents(app, &segment) {
            Some(_) => reply(200, app.issuer.jwks()),
            None => invalid_tenant(app, &segment),
        },
        Document::Instance => {
            let host = origin.split_once("://").map_or(origin, |(_, h)| h);
            let tenant = tenant_of_authorization_endpoint(query);
            reply(
                200,
                json!({
                    "tenant_discovery_endpoint": format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration"),
                    "api-version": "1.1",
                    "metadata": [{
                        "preferred_network": host,
                        "preferred_cache": host,
                        "aliases": [host],
                    }],
                }),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_paths_are_recognized() {
        assert_eq!(
            document("/t1/v2.0/.well-known/openid-configuration"),
            Some(Document::OpenIdConfiguration("t1".into()))
        );
        assert_eq!(
            document("/common/discovery/v2.0/keys"),
            Some(Document::Keys("common".into()))
        );
        assert_eq!(
            document("/common/discovery/instance"),
            Some(Document::Instance)
        );
        assert_eq!(document("/t1/oauth2/v2.0/token"), None);
        assert_eq!(document("/v1.0/users"), None);
    }

    #[test]
    fn the_instance_discovery_tenant_comes_from_the_authorization_endpoint() {
        assert_eq!(
            tenant_of_authorization_endpoint(
                "api-version=1.1&authorization_endpoint=https%3A%2F%2Flocalhost%3A1%2Fabc%2Foauth2%2Fv2.0%2Fauthorize"
            ),
            "abc"
        );
        assert_eq!(
            tenant_of_authorization_endpoint("api-version=1.1"),
            "common"
        );
    }
}
