//! Authentication per tenant: the OAuth 2.0 client-credentials flow against the tenant's token
//! endpoint (graph-wire-facts.md section 3), with a client secret (from an environment variable
//! or a file) or a certificate (a PS256 client assertion carrying `x5t#S256`). Tokens are cached
//! per tenant and renewed before they expire or after a 401. The `tid` claim of every token must
//! equal the tenant being deployed: a bundle compiled for one tenant never lands in another.
//!
//! Input: a tenant's [`Credentials`] (where the secret is, never the secret) and endpoints.
//! Output: a bearer token, or an [`AuthError`] that names what to fix and never quotes a secret.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;
use sha2::Digest;

use crate::source::model::{Credentials, SecretSource};

/// A failure to get a token, in words a person can act on. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The tenant file has no `[tenant.credentials]`.
    #[error(
        "tenant has no [tenant.credentials]; add client_id and one of client_secret_env, client_secret_file or certificate + certificate_key"
    )]
    NoCredentials,
    /// The named environment variable is not set.
    #[error("environment variable {0} (client_secret_env) is not set")]
    MissingEnv(String),
    /// A secret, certificate or key file could not be read.
    #[error("cannot read {what} {path}: {reason}")]
    Unreadable {
        /// "client_secret_file", "certificate", "certificate_key".
        what: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The certificate or key is not usable PEM.
    #[error("{0}")]
    BadCertificate(String),
    /// The token endpoint could not be reached.
    #[error("token endpoint {url} unreachable: {reason}")]
    Unreachable {
        /// The token URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The token endpoint refused (AADSTS error).
    #[error("sign-in refused by {url}: {error} {description}")]
    Refused {
        /// The token URL.
        url: String,
        /// `error` (e.g. `invalid_client`).
        error: String,
        /// `error_description`, first line.
        description: String,
    },
    /// The answer was not a token.
    #[error("token endpoint {url} answered HTTP {status} without a usable token")]
    BadResponse {
        /// The token URL.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The token is for another tenant.
    #[error(
        "the token endpoint issued a token for tenant {got}, not {want}; refusing to send this tenant's bundle anywhere else (check [tenant.endpoints] and the tenant id)"
    )]
    WrongTenant {
        /// The tenant being deployed.
        want: String,
        /// The token's `tid`.
        got: String,
    },
}

/// The secret material, loaded. Debug never shows it.
#[derive(Clone)]
pub enum Secret {
    /// A client secret.
    ClientSecret(String),
    /// A certificate's private key, with the thumbprint of the certificate.
    Certificate {
        /// Signing key.
        key: jsonwebtoken::EncodingKey,
        /// base64url SHA-256 of the certificate's DER (`x5t#S256`).
        x5t_s256: String,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::ClientSecret(_) => f.write_str("ClientSecret(<redacted>)"),
            Secret::Certificate { x5t_s256, .. } => f
                .debug_struct("Certificate")
                .field("x5t#S256", x5t_s256)
                .finish_non_exhaustive(),
        }
    }
}

/// A tenant's app identity: client id and loaded secret.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    /// The app's client id.
    pub client_id: String,
    /// The secret.
    pub secret: Secret,
}

fn read(what: &'static str, path: &Path) -> Result<String, AuthError> {
    crate::text::read_to_string(path).map_err(|e| AuthError::Unreadable {
        what,
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    })
}

/// The DER of the first certificate in a PEM text.
pub fn certificate_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// base64url (no padding) SHA-256 of a DER certificate: the `x5t#S256` header value.
pub fn thumbprint_s256(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der))
}

/// Load a tenant's credentials. `env` looks up environment variables (injected so tests and
/// the demo never touch the process environment); relative paths are relative to `base`.
pub fn load_credentials(
    credentials: Option<&Credentials>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppCredentials, AuthError> {
    let credentials = credentials.ok_or(AuthError::NoCredentials)?;
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let secret = match &credentials.secret {
        SecretSource::Env(name) => match env(name) {
            Some(value) if !value.trim().is_empty() => Secret::ClientSecret(value.trim().into()),
            _ => return Err(AuthError::MissingEnv(name.clone())),
        },
        SecretSource::File(path) => {
            Secret::ClientSecret(read("client_secret_file", &resolve(path))?.trim().into())
        }
        SecretSource::Certificate { certificate, key } => {
            let cert_path = resolve(certificate);
            let pem = read("certificate", &cert_path)?;
            let der = certificate_der(&pem).ok_or_else(|| {
                AuthError::BadCertificate(format!(
                    "certificate {}: no PEM \"BEGIN CERTIFICATE\" block",
                    cert_path.display()
                ))
            })?;
            let key_path = resolve(key);
            let key_pem = read("certificate_key", &key_path)?;
            let key =
                jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|_| {
                    AuthError::BadCertificate(format!(
                        "certificate_key {}: not an RSA private key in PEM (PKCS#1 or PKCS#8)",
                        key_path.display()
                    ))
                })?;
            Secret::Certificate {
                key,
                x5t_s256: thumbprint_s256(&der),
            }
        }
    };
    Ok(AppCredentials {
        client_id: credentials.client_id.value.clone(),
        secret,
    })
}

#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// A signed client assertion (PS256, `x5t#S256`) for the token endpoint `token_url`.
pub fn client_assertion(
    client_id: &str,
    key: &jsonwebtoken::EncodingKey,
    x5t_s256: &str,
    token_url: &str,
    now: SystemTime,
) -> Result<String, AuthError> {
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(x5t_s256.to_string());
    let claims = AssertionClaims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now_s.saturating_sub(60),
        iat: now_s,
        exp: now_s + 600,
    };
    jsonwebtoken::encode(&header, &claims, key)
        .map_err(|_| AuthError::BadCertificate("could not sign the client assertion".into()))
}

/// The form body of a token request.
pub fn token_form(
    credentials: &AppCredentials,
    scope: &str,
    token_url: &str,
    now: SystemTime,
) -> Result<String, AuthError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &credentials.client_id)
        .append_pair("scope", scope);
    match &credentials.secret {
        Secret::ClientSecret(secret) => {
            form.append_pair("client_secret", secret);
        }
        Secret::Certificate { key, x5t_s256 } => {
            let assertion =
                client_assertion(&credentials.client_id, key, x5t_s256, token_url, now)?;
            form.append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion);
        }
    }
    Ok(form.finish())
}

/// An access token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    /// The bearer token, shared (not copied) by every request of the tenant in flight: an
    /// Entra token is about 2 KB, and a fleet has thousands of requests waiting at once.
    pub access_token: std::sync::Arc<str>,
    /// Renew at or after this instant (some time before it expires).
    pub renew_at: std::time::Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("renew_at", &self.renew_at)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<f64>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The `tid` claim of a JWT (not verified: TLS authenticated the issuer; this is a guard
/// against a token for the wrong tenant).
pub fn token_tenant(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("tid")?.as_str().map(str::to_string)
}

/// Interpret a token endpoint answer for `tenant_id`.
pub fn parse_token_response(
    url: &str,
    status: u16,
    body: &[u8],
    tenant_id: &str,
    received: std::time::Instant,
) -> Result<Token, AuthError> {
    let parsed: Option<TokenResponse> = serde_json::from_slice(body).ok();
    let Some(parsed) = parsed else {
        return Err(AuthError::BadResponse {
            url: url.to_string(),
            status,
        });
    };
    if let Some(error) = parsed.error {
        let description = parsed
            .error_description
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        return Err(AuthError::Refused {
            url: url.to_string(),
            error,
            description,
        });
    }
    let (Some(access_token), true) = (parsed.access_token, (200..300).contains(&status)) else {
        return Err(AuthError::BadResponse {
            url: url.to_string(),
            status,
        });
    };
    let tid = token_tenant(&access_token).unwrap_or_default();
    if !tid.eq_ignore_ascii_case(tenant_id) {
        return Err(AuthError::WrongTenant {
            want: tenant_id.to_string(),
            got: if tid.is_empty() { "(none)".into() } else { tid },
        });
    }
    // Renew when 80 % of the lifetime has passed (and at least 5 s early).
    let lifetime = Duration::from_secs_f64(parsed.expires_in.unwrap_or(3599.0).max(1.0));
    let early = (lifetime / 5).max(Duration::from_secs(5)).min(lifetime);
    Ok(Token {
        access_token: access_token.into(),
        renew_at: received + (lifetime - early),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::model::Sp;
    use crate::source::{FileId, Span};

    fn jwt(payload: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", enc("{\"alg\":\"HS256\"}"), enc(payload))
    }

    fn creds(secret: SecretSource) -> Credentials {
        Credentials {
            client_id: Sp::new("app".into(), Span::new(FileId(0), 0..0)),
            secret,
        }
    }

    #[test]
    fn a_token_for_another_tenant_is_refused() {
        let now = std::time::Instant::now();
        let body = format!(
            r#"{{"access_token":"{}","expires_in":3599}}"#,
            jwt(r#"{"tid":"other"}"#)
        );
        let e = parse_token_response("u", 200, body.as_bytes(), "mine", now).expect_err("an error");
        assert!(matches!(e, AuthError::WrongTenant { .. }), "{e}");
        let ok = parse_token_response("u", 200, body.as_bytes(), "OTHER", now).expect("ok");
        assert!(ok.renew_at > now + Duration::from_secs(2800));
    }

    #[test]
    fn refusals_carry_the_aadsts_error_and_never_the_secret() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}"#;
        let e = parse_token_response("u", 401, body, "t", std::time::Instant::now())
            .expect_err("an error");
        assert_eq!(
            e.to_string(),
            "sign-in refused by u: invalid_client AADSTS7000215: Invalid client secret provided."
        );
    }

    #[test]
    fn secrets_come_from_the_injected_environment_and_are_redacted() {
        let env = |n: &str| (n == "S").then(|| "hunter2-canary".to_string());
        let c = load_credentials(
            Some(&creds(SecretSource::Env("S".into()))),
            Path::new("."),
            &env,
        )
        .expect("ok");
        assert!(!format!("{c:?}").contains("hunter2"));
        let e = load_credentials(
            Some(&creds(SecretSource::Env("MISSING".into()))),
            Path::new("."),
            &env,
        )
        .expect_err("an error");
        assert_eq!(e, AuthError::MissingEnv("MISSING".into()));
        let e = load_credentials(
            Some(&creds(SecretSource::File("no/such/file".into()))),
            Path::new("/nonexistent"),
            &env,
        )
        .expect_err("an error");
        assert!(e.to_string().contains("/nonexistent/no/such/file"), "{e}");
        assert_eq!(
            load_credentials(None, Path::new("."), &env).expect_err("an error"),
            AuthError::NoCredentials
        );
    }

    #[test]
    fn a_secret_form_and_a_certificate_assertion() {
        let c = AppCredentials {
            client_id: "app".into(),
            secret: Secret::ClientSecret("s&=".into()),
        };
        let form = token_form(
            &c,
            "https://graph.microsoft.com/.default",
            "u",
            SystemTime::now(),
        )
        .expect("form");
        assert!(form.contains("client_secret=s%26%3D"), "{form}");
    }
}
