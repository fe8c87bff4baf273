//! The Microsoft identity platform's token endpoint, and the bearer check of every Graph
//! request (graph-wire-facts.md section 3).
//!
//! `POST /{tenant}/oauth2/v2.0/token` accepts the client-credentials grant with a
//! `client_secret` (form field or HTTP Basic) or a certificate `client_assertion` (a JWT signed
//! PS256 with `x5t#S256`, or RS256 with `x5t`, by the key of the registered certificate), and a
//! `scope` of `<graph>/.default`. It answers with Entra's success body or its AADSTS error
//! body. The access token is a JWT signed RS256 (with the key of `signing.rs`, published as a
//! JWKS, and named by `kid`) carrying `tid`, `appid`, `roles` (the tenant's consented
//! permissions), `exp`, `aud` and `iss`.
//!
//! Input: the tenant path segment, the form body, the request headers, the clock. Output: a
//! [`FinishedReply`] for the token endpoint; [`AccessClaims`] or a 401 [`Reply`] for Graph.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::sim::minting::Minter;
use crate::sim::signing::SigningKey;
use crate::sim::state::Tenant;
use crate::sim::wire::{FinishedReply, PLAIN_JSON, Reply, login_timestamp};

/// The public cloud's token host (accepted in assertion audiences).
const MICROSOFT_LOGIN: &str = "https://login.microsoftonline.com";

/// The public cloud's Graph resource (accepted in scopes).
const MICROSOFT_GRAPH: &str = "https://graph.microsoft.com";

/// Graph's well-known application id (also accepted as the scope's resource).
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// `client_assertion_type` of a JWT bearer assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims of an access token the simulator issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    /// Audience: Graph.
    pub(crate) aud: String,
    /// Issuer: the tenant's STS.
    pub(crate) iss: String,
    /// Issued at (seconds since the epoch, simulator time).
    pub(crate) iat: i64,
    /// Not before.
    pub(crate) nbf: i64,
    /// Expiry.
    pub(crate) exp: i64,
    /// The app (client) id.
    pub(crate) appid: String,
    /// `app`: an app-only token.
    pub(crate) idtyp: String,
    /// The app's service principal in the tenant.
    pub(crate) oid: String,
    /// Application permissions consented in the tenant.
    pub(crate) roles: Vec<String>,
    /// Subject (the service principal).
    pub(crate) sub: String,
    /// Tenant id.
    pub(crate) tid: String,
    /// Token version.
    pub(crate) ver: String,
    /// Unique token id.
    pub(crate) uti: String,
}

/// A certificate registered for the app: its public key and thumbprints.
#[derive(Clone)]
pub(crate) struct RegisteredCertificate {
    key: DecodingKey,
    /// base64url SHA-1 of the DER (`x5t`).
    sha1: String,
    /// base64url SHA-256 of the DER (`x5t#S256`).
    sha256: String,
}

impl std::fmt::Debug for RegisteredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredCertificate")
            .field("x5t", &self.sha1)
            .field("x5t#S256", &self.sha256)
            .finish()
    }
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM text.
fn certificate_der(pem: &str) -> Option<Vec<u8>> {
    let begin = pem.find("-----BEGIN CERTIFICATE-----")?;
    let rest = &pem[begin + "-----BEGIN CERTIFICATE-----".len()..];
    let end = rest.find("-----END CERTIFICATE-----")?;
    let body: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

impl RegisteredCertificate {
    /// Read a PEM X.509 certificate (RSA key).
    pub(crate) fn from_pem(pem: &str) -> Result<RegisteredCertificate, String> {
        let der = certificate_der(pem).ok_or("no PEM CERTIFICATE block found")?;
        let key = DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| format!("the certificate's public key is not a usable RSA key: {e}"))?;
        Ok(RegisteredCertificate {
            key,
            sha1: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
            sha256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
        })
    }
}

/// The app registration and the token signer.
pub(crate) struct Issuer {
    client_id: String,
    client_secret: String,
    certificate: Option<RegisteredCertificate>,
    signing: Arc<SigningKey>,
    /// Each tenant's next token, signed ahead in spare time ([`Minter`]).
    minter: Minter,
    lifetime_s: i64,
    /// Tokens whose signature was checked, with their claims: a client sends the same token
    /// with every request until it expires, and checking an RS256 signature costs more than
    /// answering most reads. Bounded by [`VERIFIED_TOKENS_KEPT`].
    verified: Mutex<HashMap<Box<str>, AccessClaims>>,
}

/// How far back Entra dates a token's `iat` and `nbf` (seconds): five minutes, for the
/// clocks of the services that check it (psignoret/aad-sso-wordpress#34, openid/AppAuth-iOS#264).
const CLOCK_SKEW_S: i64 = 300;

/// How many checked tokens [`Issuer::verify`] remembers; past it the expired ones go, and if
/// that is not enough, all of them (they are checked again on their next use).
const VERIFIED_TOKENS_KEPT: usize = 20_000;

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("client_id", &self.client_id)
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

/// One token request.
#[derive(Debug)]
pub(crate) struct TokenRequest<'a> {
    /// The `{tenant}` path segment.
    pub(crate) tenant: &'a str,
    /// The form body.
    pub(crate) body: &'a [u8],
    /// The `Authorization` header (HTTP Basic client authentication).
    pub(crate) authorization: Option<&'a str>,
    /// The `client-request-id` header (echoed as the correlation id).
    pub(crate) client_request_id: Option<&'a str>,
    /// The `Host` header (its URL is accepted as scope resource and assertion audience).
    pub(crate) host: Option<&'a str>,
}

struct AadError {
    status: u16,
    error: &'static str,
    code: u32,
    description: String,
}

fn aad(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> AadError {
    AadError {
        status,
        error,
        code,
        description: description.into(),
    }
}

impl Issuer {
    /// The app (`client_id`, secret, optional certificate) and the token signing key.
    pub(crate) fn new(
        client_id: &str,
        client_secret: &str,
        certificate: Option<RegisteredCertificate>,
        signing: SigningKey,
        lifetime_s: u64,
    ) -> Issuer {
        let signing = Arc::new(signing);
        Issuer {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            certificate,
            minter: Minter::new(signing.clone()),
            signing,
            lifetime_s: i64::try_from(lifetime_s).unwrap_or(i64::MAX / 2),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The JSON Web Key Set of the signing key (`/{tenant}/discovery/v2.0/keys`).
    pub(crate) fn jwks(&self) -> serde_json::Value {
        json!({"keys": [self.signing.jwk()]})
    }

    /// Answer `POST /{tenant}/oauth2/v2.0/token`. `tenant` is the caller's tenant when the
    /// path names a simulated one; `base_url` is the simulator's own URL.
    pub(crate) fn token(
        &self,
        request: &TokenRequest<'_>,
        tenant: Option<&Tenant>,
        base_url: &str,
        now_ms: i64,
    ) -> FinishedReply {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = request
            .client_request_id
            .filter(|c| !c.is_empty())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        let (status, body) = match self.issue(request, tenant, base_url, now_ms) {
            Ok(body) => (200, body),
            Err(e) => {
                let timestamp = login_timestamp(now_ms);
                let body = json!({
                    "error": e.error,
                    "error_description": format!(
                        "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                        e.code, e.description
                    ),
                    "error_codes": [e.code],
                    "timestamp": timestamp,
                    "trace_id": trace_id,
                    "correlation_id": correlation_id,
                    "error_uri": format!("{MICROSOFT_LOGIN}/error?code={}", e.code),
                });
                (e.status, body.to_string())
            }
        };
        FinishedReply {
            status,
            headers: vec![
                (
                    Cow::Borrowed("Content-Type"),
                    format!("{PLAIN_JSON}; charset=utf-8"),
                ),
                (Cow::Borrowed("Cache-Control"), "no-store, no-cache".into()),
                (Cow::Borrowed("Pragma"), "no-cache".into()),
                (Cow::Borrowed("x-ms-request-id"), trace_id),
                (Cow::Borrowed("client-request-id"), correlation_id),
            ],
            body: Some(body),
            drop_connection: false,
        }
    }

    fn issue(
        &self,
        request: &TokenRequest<'_>,
        tenant: Option<&Tenant>,
        base_url: &str,
        now_ms: i64,
    ) -> Result<String, AadError> {
        let form: HashMap<String, String> =
            form_urlencoded::parse(request.body).into_owned().collect();
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let basic = request
            .authorization
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(&s.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                };
                Some((decode(id), decode(secret)))
            });
        match field("grant_type") {
            Some("client_credentials") => {}
            Some(other) => {
                return Err(aad(
                    400,
                    "unsupported_grant_type",
                    70003,
                    format!("The app requested an unsupported grant type '{other}'."),
                ));
            }
            None => {
                return Err(aad(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'grant_type'.",
                ));
            }
        }
        let client_id = field("client_id")
            .map(str::to_string)
            .or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
        let Some(client_id) = client_id else {
            return Err(aad(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            ));
        };
        let not_found = || {
            aad(
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                    request.tenant
                ),
            )
        };
        let Some(tenant) = tenant else {
            return Err(not_found());
        };
        if !client_id.eq_ignore_ascii_case(&self.client_id) {
            return Err(not_found());
        }
        let host_url = request.host.map(|h| format!("http://{h}"));
        let Some(scope) = field("scope") else {
            return Err(aad(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            ));
        };
        let resources = [
            Some(MICROSOFT_GRAPH.to_string()),
            Some(GRAPH_APP_ID.to_string()),
            Some(base_url.to_string()),
            host_url.clone(),
        ];
        let scope_ok = scope
            .strip_suffix("/.default")
            .map(|r| r.trim_end_matches('/'))
            .is_some_and(|resource| {
                resources
                    .iter()
                    .flatten()
                    .any(|r| r.eq_ignore_ascii_case(resource))
            });
        if !scope_ok {
            return Err(aad(
                400,
                "invalid_scope",
                70011,
                format!(
                    "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        }
        let now_s = now_ms.div_euclid(1000);
        if let Some(assertion) = field("client_assertion") {
            if field("client_assertion_type") != Some(JWT_BEARER) {
                return Err(aad(
                    400,
                    "invalid_request",
                    50027,
                    format!("Invalid client_assertion_type; expected '{JWT_BEARER}'."),
                ));
            }
            let mut audiences = vec![MICROSOFT_LOGIN.to_string(), base_url.to_string()];
            audiences.extend(host_url);
            self.check_assertion(
                assertion,
                &client_id,
                &tenant.id,
                request.tenant,
                &audiences,
                now_s,
            )?;
        } else {
            let secret = field("client_secret")
                .map(str::to_string)
                .or_else(|| basic.map(|(_, s)| s));
            match secret {
                Some(secret) if secret == self.client_secret => {}
                Some(_) => {
                    return Err(aad(
                        401,
                        "invalid_client",
                        7000215,
                        format!(
                            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                        ),
                    ));
                }
                None => {
                    return Err(aad(
                        401,
                        "invalid_client",
                        7000218,
                        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                    ));
                }
            }
        }
        // Entra dates `iat` and `nbf` five minutes back, for clocks that run behind.
        let claims = |signed_s: i64| AccessClaims {
            aud: MICROSOFT_GRAPH.to_string(),
            iss: format!("https://sts.windows.net/{}/", tenant.id),
            iat: signed_s - CLOCK_SKEW_S,
            nbf: signed_s - CLOCK_SKEW_S,
            exp: signed_s + self.lifetime_s,
            appid: self.client_id.clone(),
            idtyp: "app".into(),
            oid: crate::sim::seeded::guid(0, &format!("sp/{}/{}", tenant.id, self.client_id)),
            roles: tenant.roles.iter().map(|r| r.to_string()).collect(),
            sub: crate::sim::seeded::guid(0, &format!("sp/{}/{}", tenant.id, self.client_id)),
            tid: tenant.id.to_string(),
            ver: "1.0".into(),
            uti: uuid::Uuid::new_v4().simple().to_string(),
        };
        // The client has authenticated: its token is the one signed ahead when there is one,
        // and the tenant's next is signed ahead either way.
        let (token, exp) = match self.minter.take(&tenant.id, now_ms) {
            Some(ready) => (ready.token, ready.exp),
            None => {
                let claims = claims(now_s);
                let token = self.minter.sign(&claims).map_err(|e| {
                    aad(
                        500,
                        "server_error",
                        90000,
                        format!("token signing failed: {e}"),
                    )
                })?;
                (token, claims.exp)
            }
        };
        self.minter.sign_ahead(&tenant.id, claims(now_s), now_ms);
        let expires_in = (exp - now_s).max(1);
        Ok(json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        })
        .to_string())
    }

    /// Verify a certificate client assertion: header thumbprint, signature, `aud`, `iss`,
    /// `sub`, `exp` (and `nbf`) against the simulator's clock.
    fn check_assertion(
        &self,
        assertion: &str,
        client_id: &str,
        tenant_id: &str,
        tenant_segment: &str,
        login_bases: &[String],
        now_s: i64,
    ) -> Result<(), AadError> {
        let invalid =
            |code: u32, message: &str| aad(401, "invalid_client", code, message.to_string());
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
            aad(
                400,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            )
        })?;
        let Some(certificate) = &self.certificate else {
            return Err(invalid(
                700027,
                "Client assertion failed signature validation: no certificate is registered on the application.",
            ));
        };
        let thumbprint_ok = match header.alg {
            Algorithm::PS256 => header.x5t_s256.as_deref() == Some(certificate.sha256.as_str()),
            Algorithm::RS256 => {
                header.x5t.as_deref() == Some(certificate.sha1.as_str())
                    || header.x5t_s256.as_deref() == Some(certificate.sha256.as_str())
            }
            _ => {
                return Err(invalid(
                    5002738,
                    "The client assertion must be signed with PS256 (x5t#S256) or RS256 (x5t).",
                ));
            }
        };
        if !thumbprint_ok {
            return Err(invalid(
                700027,
                "The certificate with identifier used to sign the client assertion is not registered on application.",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let data =
            jsonwebtoken::decode::<serde_json::Value>(assertion, &certificate.key, &validation)
                .map_err(|_| invalid(700027, "Client assertion failed signature validation."))?;
        let claims = data.claims;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        if !text("iss").eq_ignore_ascii_case(client_id)
            || !text("sub").eq_ignore_ascii_case(client_id)
        {
            return Err(invalid(
                700023,
                "Client assertion issuer and subject must both be the application's client id.",
            ));
        }
        let audience = text("aud").trim_end_matches('/');
        let audience_ok = login_bases.iter().any(|base| {
            [tenant_id, tenant_segment].iter().any(|t| {
                [
                    format!("{base}/{t}/oauth2/v2.0/token"),
                    format!("{base}/{t}/oauth2/token"),
                    format!("{base}/{t}/v2.0"),
                ]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(audience))
            })
        });
        if !audience_ok {
            return Err(invalid(
                700212,
                &format!(
                    "Client assertion audience claim '{audience}' does not match the token endpoint of tenant '{tenant_id}'."
                ),
            ));
        }
        let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
        match exp {
            Some(exp) if exp > now_s => {}
            _ => {
                return Err(invalid(
                    700024,
                    "Client assertion is not within its valid time range.",
                ));
            }
        }
        if claims
            .get("nbf")
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|nbf| nbf > now_s + 300)
        {
            return Err(invalid(
                700024,
                "Client assertion is not within its valid time range.",
            ));
        }
        Ok(())
    }

    /// Check `Authorization: Bearer <token>` of a Graph request.
    pub(crate) fn verify(
        &self,
        authorization: Option<&str>,
        now_ms: i64,
    ) -> Result<AccessClaims, Reply> {
        let unauthorized = |message: &str| {
            Reply::error(401, "InvalidAuthenticationToken", message.to_string()).with_header(
                "WWW-Authenticate",
                format!(
                    "Bearer realm=\"\", authorization_uri=\"{MICROSOFT_LOGIN}/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\""
                ),
            )
        };
        let token = authorization
            .and_then(|h| {
                let (scheme, token) = h.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then_some(token.trim())
            })
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(unauthorized("Access token is empty."));
        };
        if token.split('.').count() != 3 {
            return Err(unauthorized(
                "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.",
            ));
        }
        let expired = || unauthorized("Lifetime validation failed, the token is expired.");
        let now_s = now_ms.div_euclid(1000);
        let known = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        if let Some(claims) = known {
            return if claims.exp <= now_s {
                Err(expired())
            } else {
                Ok(claims)
            };
        }
        let invalid_signature =
            || unauthorized("Access token validation failure. Invalid signature.");
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthorized("Access token validation failure."))?;
        if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(&self.signing.kid) {
            return Err(invalid_signature());
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let claims =
            jsonwebtoken::decode::<AccessClaims>(token, &self.signing.decoding, &validation)
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                    | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => invalid_signature(),
                    _ => unauthorized("Access token validation failure."),
                })?
                .claims;
        if claims.exp <= now_s {
            return Err(expired());
        }
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_TOKENS_KEPT {
            verified.retain(|_, c| c.exp > now_s);
            if verified.len() >= VERIFIED_TOKENS_KEPT {
                verified.clear();
            }
        }
        verified.insert(token.into(), claims.clone());
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        let key = SigningKey::load_or_create(None).unwrap_or_else(|e| panic!("{e}"));
        Issuer::new("app", "secret", None, key, 3599)
    }

    #[test]
    fn bearer_tokens_must_be_present_well_formed_and_unexpired() {
        let i = issuer();
        assert!(i.verify(None, 0).is_err());
        assert!(i.verify(Some("Bearer abc"), 0).is_err());
        let claims = AccessClaims {
            aud: MICROSOFT_GRAPH.into(),
            iss: String::new(),
            iat: 0,
            nbf: 0,
            exp: 100,
            appid: "app".into(),
            idtyp: "app".into(),
            oid: String::new(),
            roles: vec![],
            sub: String::new(),
            tid: "t".into(),
            ver: "1.0".into(),
            uti: String::new(),
        };
        let token = i.minter.sign(&claims).unwrap_or_default();
        let header = format!("Bearer {token}");
        assert!(i.verify(Some(&header), 99_000).is_ok());
        // Checked once and remembered: the same token again is still good, a token with the
        // same claims but another signature is not, and the remembered one expires.
        assert!(i.verify(Some(&header), 99_500).is_ok());
        let cut = token.rfind('.').unwrap_or(0);
        let forged = format!(
            "Bearer {}.{}",
            &token[..cut],
            "A".repeat(token.len() - cut - 1)
        );
        assert!(i.verify(Some(&forged), 99_500).is_err());
        assert!(i.verify(Some(&header), 100_000).is_err());
        assert!(
            issuer().verify(Some(&header), 0).is_err(),
            "another simulator's signature"
        );
    }
}
