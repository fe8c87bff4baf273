//! The simulator's token endpoint and bearer checks on the wire: Entra's success and AADSTS
//! error bodies, client secrets (form and HTTP Basic), certificate assertions (PS256 +
//! `x5t#S256`, RS256 + `x5t`), Graph's 401s, tenant isolation and withdrawn permissions.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tenantform::sim::clock::ManualClock;
use tenantform::sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimConfig};

use crate::sim_support::{GRAPH_SCOPE, Sim, form_body, test_config};

/// A self-signed test certificate (RSA 2048), registered with the simulator in these tests.
pub(crate) const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----\n\
MIIDHzCCAgegAwIBAgIUIq+G/btVFbdP2N2su5P5bK1P+KAwDQYJKoZIhvcNAQEL\n\
BQAwHjEcMBoGA1UEAwwTdGVuYW50Zm9ybS1zaW0tdGVzdDAgFw0yNjExMjYyMTQx\n\
NTZaGA8yMTI2MTEwMjIxNDE1NlowHjEcMBoGA1UEAwwTdGVuYW50Zm9ybS1zaW0t\n\
dGVzdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMq7RYIgtCYXRW3y\n\
NFcjddWzDSg0llsmZO5ZFt+QMlwdOpUwC6LbjVQaUW/2ESC5UBTFRsP3dpggckKq\n\
PrtiYJpEzUF6Tuoe0sk6rYZgF/OeXg9d7ztXHk+CMkHf6xeirGNyC9Xba59zn6K9\n\
WMuMRszPsDZm0FQVhGUv3ce3SUEwSoH1HpKClPVIY+A3nPOVx//7irGwNL+rByMM\n\
27DmlSoqAv5rhnT9tM+aZLHRPzhzghvVdS5+r5r13uswSQQs+W1pXcc6VXIURFh+\n\
iRC0liENofBtMFikPaBC05E0WTKNH40CVUHPM7bzWfRPYJWkJlAm6KlrO5bB+sda\n\
H7GFE88CAwEAAaNTMFEwHQYDVR0OBBYEFE1rkNsmwWLXe0RdOpQhf7vS3XRIMB8G\n\
A1UdIwQYMBaAFE1rkNsmwWLXe0RdOpQhf7vS3XRIMA8GA1UdEwEB/wQFMAMBAf8w\n\
DQYJKoZIhvcNAQELBQADggEBABwcUQFM1KVgv3xJ22DlAD9jBwE6mP3MZnXsjL+F\n\
r0+ou1hKa3sa8omM0xZJNFgunpSxdkdqxafbZ97+bxlULT7esaWwCPfrB/6QX5Y3\n\
ZIKKGCsi7LBGllcdFBEo/EeQZCt1o9bqG7u6S38X4NfgOSCjySZcwUW2/LmVMrnJ\n\
yMqhaCtVXlLQIRSmOIigk2SG+TQ+DHtzeUVdzVZ/jnSSwNaA6IjAp0iUnOyUo9pZ\n\
bTLwaR/MKN5+BbWUPDIMyAp+/ZqZofjrMoyotUxRgeKKZfhePYJ7r4iIbEXY7W0b\n\
uSWjC/ikDHm2K2+a16Uu8ysqJHNjbugl7aH7Ovryj4Ejmhc=\n\
-----END CERTIFICATE-----\n";

/// The private key of [`TEST_CERT`] (test-only; it signs client assertions here and nowhere else).
pub(crate) const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDKu0WCILQmF0Vt\n\
8jRXI3XVsw0oNJZbJmTuWRbfkDJcHTqVMAui241UGlFv9hEguVAUxUbD93aYIHJC\n\
qj67YmCaRM1Bek7qHtLJOq2GYBfznl4PXe87Vx5PgjJB3+sXoqxjcgvV22ufc5+i\n\
vVjLjEbMz7A2ZtBUFYRlL93Ht0lBMEqB9R6SgpT1SGPgN5zzlcf/+4qxsDS/qwcj\n\
DNuw5pUqKgL+a4Z0/bTPmmSx0T84c4Ib1XUufq+a9d7rMEkELPltaV3HOlVyFERY\n\
fokQtJYhDaHwbTBYpD2gQtORNFkyjR+NAlVBzzO281n0T2CVpCZQJuipazuWwfrH\n\
Wh+xhRPPAgMBAAECggEAIFXQV1oKAc1SaJ/qEz/3qncdkR0aIj20eYPCLzRbo++R\n\
iXwZTwd/ujtcY+Q2hSapjDaO+/C7fLYoI1PuH4soZ1Kz/k6YyaTS7/+o77bh+xx2\n\
WjMcVjWmAv58L5+caq+qmU32b0zJFKyneJiE0ip0nHQ/4d1yOwcXj+AbmqA0Ue4u\n\
M/3UNwZ2Wqj2bRylJmAuxOIvSwvBwc5woUSpBuQCIZuCSchZmqvn8LtMnYMeaPFF\n\
A8Fmt6JVkq+Qte3Dy//q+WKCD0eihnjGw1YP2yquj1ofOxWaKN72FJUoX76W0xKa\n\
z1FwdQq8EeLu0v8YD6HIPo0U/qRoUwVnMTEdMc+K6QKBgQDohumNM71Q9FHBEc5U\n\
j0LaJMmoTG5yu5a8mnj6LpqImVxMpXOZJwqLUta5jcIbviGIPlI4k35/9A7O6HXV\n\
kuxyVpMl3znWsQ3Hrzn0a6cExfwP9c3yzQbT3lZC52R0KnsUKdk6klzgqYpdRSLs\n\
JzOaUI6lJ9tYjxidq+L52ik9ZQKBgQDfMl5djTyyZ39p6bEn/YdiZ79WbR37YjEU\n\
1TOZ6NaXfFBStnU2FweMN7530C930mVsL8pxmiqyW5Dxp5yaiP2L7lFMETPbTSDo\n\
Evk36vXeG75pEx3gDaHlZamJEtpjHgcsbVFr1dfVytg69y2OM8OY8h3xw2hJUQrB\n\
66C5LauDIwKBgQCaW1zUuED3aYiP4vMWHRfi2cLoLvyuuypgPycJ5T/+Z9fmpXps\n\
c4dDX5VdDeaKJhf6amyIVBkIdYoS/iuiwGqnqCL8ZAfwJg6gvQh64a+4snkWWzUA\n\
9euPX6vhs9tyZfTYOMOUZy6ykLliGxAItilCSjG3HxMz4aIUoNMGyzTPJQKBgFGk\n\
1hn4gRxteZEfl9seBXj8pGQT9CSxjWymdIK3RlARfDxVW9jWYb9r4LNpJwP4pXsG\n\
nFIj57xofEO5YTKyK7UVDw35OPPeacwarKlEvH1rvqInCQWdVvxXzMVEbThWkp8w\n\
udjtV09wLNqc8kATNVhsMIHwTeSLzZiT/a3fQ97rAoGABJzZ/YATTZI9TFJewsHg\n\
rEfnRiHSbS+yEMNfF01MOdxME7q3f7HBrkPnyoxLKQtIk1KBj30RijYuZoWieKLz\n\
HOt47g+gxGoenf7U8KlfBCcy+tey8FlMPmuaRojoVnFP+l2hAzEV9OLPPU4BI4C7\n\
d8Mz4d0iA0L2JjyyaoujB+Q=\n\
-----END PRIVATE KEY-----\n";

/// An unrelated private key: assertions it signs must fail the signature check.
const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCWQNt4Z8cWhuoY\n\
8v1c/EESCVdeK6X8RwFeAlG2bp67ReHfiVdwoUXwG9UBMMO2Yx6TZw9D3gM6yv0E\n\
wQKJB8sxAGl2rfzoW8SBXqFtkksvk1/KMOmlTt0ha9WM1d9IZLcuNF6vYpKexF6V\n\
g+X8vO1azQlhZSf8K45S8a2DDUDqnXPH3aJyCHASOwGuQ/tS6TYMSTWcZtgDzu4t\n\
gsctfJfIjBBXsUCFtA6A99m+luhmaBKhg2ishrmHqiy16nSo8CBfUOxJgeQ5sQEP\n\
gjUH2m8eTwPi4uwgwkS3wgLl3oAwIzY3cprvNi19jEV8GIsXgHKMsKs8uaXag4GG\n\
k9buzAkbAgMBAAECggEAJWPBWZ6Vi9UJ5yh8hQme1bKuY5hAB13SCMdR9zBi3p5e\n\
vWYrdLMlOMFsSY4NfdL/llW0lkJmklhWCztOerQOS8Ta+bYFM/s2FK1sRVx8yjuF\n\
wEZYthLAc2MmspO8KwMpFF3i3AkPDGQ4V0OJ1VFcTVatiWeHQjjCg4BxmaWQLHGd\n\
crFm0aoMocCQ7geTqVwaiIyvWS6jfhGDDnJjZrHA9icaWs0BfH79ylYWAdycE8aU\n\
ZBbcrS46inWN94SSeJ+AlAA3J3nJEV6upSpCLoKGvhmmx+eJPamuPegsbaviQ+8w\n\
vxghifrjAREoXJSWNjAh448pN1Nc51DPUE9YGwKzRQKBgQDGdRAHvHezgLVke9W/\n\
iEss4MPihZP4DcON6U82SyR1rDPNJgAEyApUtAiGnKpRBxSSBiPqiKXaddPYPokU\n\
aYmoxzScn1rWZiOp6wFHRnc5rCXOds8GgdTovxKs7ZBOsrB5WIwayCCsBZXRyD3l\n\
qPLGN1rcuOblpXLgnK87WjFxxwKBgQDB0b/2karqRDmi1rP/U4qAjb5SvPDkrMbt\n\
BGiH+YDVgFf40ldOgcswITc+memsLFK1AIHJiKYg4rpfyHDYioczZ6f5zhmz5tka\n\
dYblaHd6WO/gQ2SiSLHyQ6IXAKTH45lryBoYfFhibYd/GFdlbfOWQIUNJcN5RKot\n\
iU4ISWyuDQKBgQCmDkuUfZGXRCoDY07uDagBbCzbvLOcSkAH3WGnZ2ahg65wiMxZ\n\
M9zZFS9RG4Ozev4uVS72TtKgIhlZhrICv3AtJkoSh5Bld19+DSKrtf2K501XHbiK\n\
lFZHTaHdyoYGI6RgVMQeoLgd2CqNN0T7hstlKepAaALjwvWFlfVV71kR/wKBgQCy\n\
9hp68DvRfdd+HSMscZXkZ3zB5sXDUCmJtlVSoDWubYhNLuMAkWXs9e6Ntg4GNRLV\n\
IDe2v58tpEwUnv5bY2W9OEvoo74l19TE0poQ/ym65Z3wBCpKkjcEjCCBfs2n5+bE\n\
l4pI65+smpfO6cng1Opi5QY1gpYARj+gNjTAABQCjQKBgA7VLFZ3LCMCOxtWS3s+\n\
8M3IOGrETTCIHAgnebor2um0Imq955A5dPRoe5rQeIrvu4pwZhRGsMa08Amu/Oii\n\
cUdeMvawGFlcPNHenE7NPvrC9ibYZb81GXo0uBbIHhD5BIWl+cWH469DzG1DRlZU\n\
i+w3WKfSMxu9lvdmpuOAUNB3\n\
-----END PRIVATE KEY-----\n";

fn secret_form(secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", DEFAULT_CLIENT_ID.to_string()),
        ("client_secret", secret.to_string()),
        ("scope", GRAPH_SCOPE.to_string()),
    ]
}

fn as_refs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

fn assert_aadsts(body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"]
        .as_str()
        .expect("error_description");
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
    assert!(description.contains("Trace ID: "), "{description}");
}

#[test]
fn client_secret_tokens_carry_tenant_app_and_roles() {
    let sim = Sim::start();
    let tenant = sim.tenant(1);
    let response = sim
        .token_request(&tenant, &as_refs(&secret_form(DEFAULT_CLIENT_SECRET)))
        .status(200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let claims = jwt_payload(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert!(claims["exp"].as_i64().expect("exp") > claims["iat"].as_i64().expect("iat"));
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for role in [
        "Policy.ReadWrite.ConditionalAccess",
        "Group.ReadWrite.All",
        "DeviceManagementConfiguration.ReadWrite.All",
        "Policy.ReadWrite.CrossTenantAccess",
    ] {
        assert!(roles.contains(&role), "{role} missing from {roles:?}");
    }
}

#[test]
fn http_basic_client_authentication_and_the_simulators_own_scope_work() {
    let sim = Sim::start();
    let tenant = sim.tenant(0);
    let scope = format!("{}/.default", sim.handle.base_url());
    let basic = STANDARD.encode(format!("{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}"));
    let response = sim
        .client
        .post(sim.url(&format!("/{tenant}/oauth2/v2.0/token")))
        .header("Authorization", format!("Basic {basic}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("grant_type", "client_credentials"),
            ("scope", &scope),
        ]))
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn a_wrong_secret_is_401_invalid_client_7000215_with_the_correlation_id_echoed() {
    let sim = Sim::start();
    let tenant = sim.tenant(0);
    let response = sim
        .client
        .post(sim.url(&format!("/{tenant}/oauth2/v2.0/token")))
        .header("client-request-id", "7c1f0b5e-0000-4000-8000-000000000001")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(&as_refs(&secret_form("not-the-secret"))))
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().expect("json");
    assert_aadsts(&body, "invalid_client", 7000215);
    assert_eq!(
        body["correlation_id"],
        "7c1f0b5e-0000-4000-8000-000000000001"
    );
}

#[test]
fn unknown_tenants_and_apps_are_700016_and_bad_scopes_70011() {
    let sim = Sim::start();
    let response = sim
        .token_request(
            "11111111-2222-4333-8444-555555555555",
            &as_refs(&secret_form(DEFAULT_CLIENT_SECRET)),
        )
        .status(400);
    assert_aadsts(&response.json(), "unauthorized_client", 700016);

    let tenant = sim.tenant(0);
    let mut form = secret_form(DEFAULT_CLIENT_SECRET);
    form[1].1 = "99999999-9999-4999-8999-999999999999".into();
    let response = sim.token_request(&tenant, &as_refs(&form)).status(400);
    assert_aadsts(&response.json(), "unauthorized_client", 700016);

    for scope in [
        "https://graph.microsoft.com/User.Read",
        "https://example.com/.default",
    ] {
        let mut form = secret_form(DEFAULT_CLIENT_SECRET);
        form[3].1 = scope.into();
        let response = sim.token_request(&tenant, &as_refs(&form)).status(400);
        assert_aadsts(&response.json(), "invalid_scope", 70011);
    }
}

fn certificate_der() -> Vec<u8> {
    let body: String = TEST_CERT
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("certificate base64")
}

fn assertion(
    alg: Algorithm,
    key: &str,
    audience: &str,
    exp_offset: i64,
    sha256_thumbprint: bool,
) -> String {
    let der = certificate_der();
    let mut header = Header::new(alg);
    if sha256_thumbprint {
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(Sha256::digest(&der)));
    } else {
        header.x5t = Some(URL_SAFE_NO_PAD.encode(Sha1::digest(&der)));
    }
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({
        "aud": audience,
        "iss": DEFAULT_CLIENT_ID,
        "sub": DEFAULT_CLIENT_ID,
        "jti": "0f6c2b1e-0000-4000-8000-000000000000",
        "nbf": now,
        "iat": now,
        "exp": now + exp_offset,
    });
    let key = EncodingKey::from_rsa_pem(key.as_bytes()).expect("rsa key");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

fn assertion_form(assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", DEFAULT_CLIENT_ID.to_string()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
        ),
        ("client_assertion", assertion.to_string()),
        ("scope", GRAPH_SCOPE.to_string()),
    ]
}

#[test]
fn certificate_assertions_ps256_and_rs256_are_accepted_and_forgeries_refused() {
    let sim = Sim::with(SimConfig {
        client_certificate_pem: Some(TEST_CERT.to_string()),
        ..test_config()
    });
    let tenant = sim.tenant(2);
    let microsoft_aud = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    let local_aud = format!("{}/{tenant}/oauth2/v2.0/token", sim.handle.base_url());

    let ps256 = assertion(Algorithm::PS256, TEST_KEY, &microsoft_aud, 300, true);
    let response = sim
        .token_request(&tenant, &as_refs(&assertion_form(&ps256)))
        .status(200);
    let claims = jwt_payload(response.json()["access_token"].as_str().expect("token"));
    assert_eq!(claims["tid"], tenant.as_str());

    let rs256 = assertion(Algorithm::RS256, TEST_KEY, &local_aud, 300, false);
    sim.token_request(&tenant, &as_refs(&assertion_form(&rs256)))
        .status(200);

    let forged = assertion(Algorithm::PS256, OTHER_KEY, &microsoft_aud, 300, true);
    let response = sim
        .token_request(&tenant, &as_refs(&assertion_form(&forged)))
        .status(401);
    assert_aadsts(&response.json(), "invalid_client", 700027);

    let other_tenant_aud = format!(
        "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
        sim.tenant(0)
    );
    let wrong_aud = assertion(Algorithm::PS256, TEST_KEY, &other_tenant_aud, 300, true);
    let response = sim
        .token_request(&tenant, &as_refs(&assertion_form(&wrong_aud)))
        .status(401);
    assert_eq!(response.json()["error"], "invalid_client");

    let expired = assertion(Algorithm::PS256, TEST_KEY, &microsoft_aud, -600, true);
    let response = sim
        .token_request(&tenant, &as_refs(&assertion_form(&expired)))
        .status(401);
    assert_aadsts(&response.json(), "invalid_client", 700024);
}

#[test]
fn assertions_without_a_registered_certificate_are_refused() {
    let sim = Sim::start();
    let tenant = sim.tenant(0);
    let aud = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    let signed = assertion(Algorithm::PS256, TEST_KEY, &aud, 300, true);
    let response = sim
        .token_request(&tenant, &as_refs(&assertion_form(&signed)))
        .status(401);
    assert_aadsts(&response.json(), "invalid_client", 700027);
}

fn graph_with_token(sim: &Sim, token: Option<&str>) -> crate::sim_support::Resp {
    let mut request = sim
        .client
        .get(sim.url("/v1.0/identity/conditionalAccess/policies"))
        .header("client-request-id", "c0ffee00-0000-4000-8000-000000000000");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().expect("text");
    crate::sim_support::Resp {
        status,
        headers,
        text,
    }
}

#[test]
fn graph_answers_401_for_missing_malformed_foreign_and_expired_tokens() {
    let clock = Arc::new(ManualClock::new());
    let sim = Sim::with(SimConfig {
        token_lifetime_s: 60,
        clock: clock.clone(),
        ..test_config()
    });
    let other = Sim::start();
    let foreign = other.token(0);
    let valid = sim.token(0);
    graph_with_token(&sim, Some(&valid)).status(200);

    for token in [
        None,
        Some("not-a-jwt"),
        Some("a.b.c"),
        Some(foreign.as_str()),
    ] {
        let response = graph_with_token(&sim, token).status(401);
        response.error_code("InvalidAuthenticationToken");
        let body = response.json();
        assert_eq!(
            body["error"]["innerError"]["client-request-id"],
            "c0ffee00-0000-4000-8000-000000000000"
        );
        assert_eq!(
            response.header("client-request-id"),
            Some("c0ffee00-0000-4000-8000-000000000000")
        );
        assert!(response.header("request-id").is_some());
        assert!(response.header("www-authenticate").is_some());
    }

    clock.advance(Duration::from_secs(61));
    let response = graph_with_token(&sim, Some(&valid)).status(401);
    let message = response.error_code("InvalidAuthenticationToken");
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn the_next_sign_in_gets_a_token_signed_ahead_that_graph_accepts() {
    let clock = Arc::new(ManualClock::new());
    let sim = Sim::with(SimConfig {
        clock: clock.clone(),
        ..test_config()
    });
    let tenant = sim.tenant(0);
    let form = secret_form(DEFAULT_CLIENT_SECRET);
    let first = sim
        .token_request(&tenant, &as_refs(&form))
        .status(200)
        .json();
    assert_eq!(first["expires_in"], 3599, "{first}");
    // The tenant's next token is signed on a background thread after this sign-in.
    std::thread::sleep(Duration::from_secs(1));
    clock.advance(Duration::from_secs(10));
    // A wrong secret gets no token, ready or not.
    sim.token_request(&tenant, &as_refs(&secret_form("wrong")))
        .status(401);
    let second = sim
        .token_request(&tenant, &as_refs(&form))
        .status(200)
        .json();
    // Signed as of the first sign-in: ten seconds less to live than one signed now.
    assert_eq!(second["expires_in"], 3589, "{second}");
    let (a, b) = (
        first["access_token"].as_str().expect("token"),
        second["access_token"].as_str().expect("token"),
    );
    assert_ne!(a, b);
    let (first_claims, second_claims) = (jwt_payload(a), jwt_payload(b));
    assert_ne!(first_claims["uti"], second_claims["uti"]);
    assert_eq!(first_claims["iat"], second_claims["iat"]);
    assert_eq!(second_claims["tid"], tenant.as_str());
    // Dated five minutes back, as Entra dates its tokens.
    let (iat, exp) = (
        second_claims["iat"].as_i64().expect("iat"),
        second_claims["exp"].as_i64().expect("exp"),
    );
    assert_eq!(exp - iat, 3599 + 300);
    assert_eq!(second_claims["nbf"], second_claims["iat"]);
    graph_with_token(&sim, Some(b)).status(200);
}

#[test]
fn a_token_only_sees_its_own_tenant() {
    let sim = Sim::start();
    let location = json!({
        "@odata.type": "#microsoft.graph.countryNamedLocation",
        "displayName": "Tenant zero only",
        "countriesAndRegions": ["NL"],
        "includeUnknownCountriesAndRegions": false
    });
    let created = sim
        .send(
            0,
            "POST",
            "/v1.0/identity/conditionalAccess/namedLocations",
            Some(&location),
        )
        .status(201);
    let id = created.json()["id"].as_str().expect("id").to_string();
    let path = format!("/v1.0/identity/conditionalAccess/namedLocations/{id}");
    sim.send(0, "GET", &path, None).status(200);
    sim.send(1, "GET", &path, None)
        .status(404)
        .error_code("Request_ResourceNotFound");
    let list = sim
        .send(
            1,
            "GET",
            "/v1.0/identity/conditionalAccess/namedLocations",
            None,
        )
        .status(200);
    assert_eq!(list.json()["value"], json!([]));
    sim.send(
        1,
        "PATCH",
        &path,
        Some(&json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "x"})),
    )
    .status(404);
}

#[test]
fn a_withdrawn_permission_is_403_authorization_request_denied() {
    let sim = Sim::with(SimConfig {
        withdrawn: vec![(1, "Policy.ReadWrite.ConditionalAccess".to_string())],
        ..test_config()
    });
    let claims = jwt_payload(&sim.token(1));
    assert!(
        !claims["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|r| r == "Policy.ReadWrite.ConditionalAccess"),
        "{claims}"
    );
    let policy = crate::sim_support::ca_policy("Require MFA", &[]);
    let response = sim
        .send(
            1,
            "POST",
            "/v1.0/identity/conditionalAccess/policies",
            Some(&policy),
        )
        .status(403);
    let message = response.error_code("Authorization_RequestDenied");
    assert_eq!(
        message,
        "Insufficient privileges to complete the operation."
    );
    // Reading still works with Policy.Read.All; the other tenants are untouched.
    sim.send(1, "GET", "/v1.0/identity/conditionalAccess/policies", None)
        .status(200);
    sim.send(
        0,
        "POST",
        "/v1.0/identity/conditionalAccess/policies",
        Some(&policy),
    )
    .status(201);
}

#[test]
fn a_singleton_stays_readable_with_policy_read_all_when_its_write_permission_is_withdrawn() {
    let sim = Sim::with(SimConfig {
        withdrawn: vec![(0, "Policy.ReadWrite.Authorization".to_string())],
        ..test_config()
    });
    sim.send(0, "GET", "/v1.0/policies/authorizationPolicy", None)
        .status(200);
    let change = serde_json::json!({"allowInvitesFrom": "adminsAndGuestInviters"});
    sim.send(
        0,
        "PATCH",
        "/v1.0/policies/authorizationPolicy",
        Some(&change),
    )
    .status(403);
}
