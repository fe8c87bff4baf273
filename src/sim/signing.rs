//! The key the simulator signs access tokens with: RSA 2048, RS256, published as a JSON Web
//! Key Set at `/{tenant}/discovery/v2.0/keys` (what Entra does, so clients that validate
//! tokens can). With `--state-dir` the key is kept in `DIR/signing-key.pem`, so tokens issued
//! before a restart stay valid after it.
//!
//! Input: an optional state directory. Output: a [`SigningKey`] (the parsed key pair that signs,
//! the decoding key, key id, JWK). The key pair is parsed once: parsing and checking an RSA key
//! (and making its blinding values) cost more than the signature itself, and a fleet's sign-ins
//! are a thousand signatures at once. Without a state directory the RSA key is generated once per process (RSA key
//! generation is slow, and a test process starts many simulators); each simulator still gets
//! its own key id and refuses tokens that carry another's.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// File name of the key inside `--state-dir`.
pub(crate) const KEY_FILE: &str = "signing-key.pem";

/// Why the signing key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// Generating or parsing the key failed.
    #[error("the token signing key cannot be used: {0}")]
    Key(String),
    /// Reading or writing the key file failed.
    #[error("cannot access the token signing key {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// The token signing key.
pub(crate) struct SigningKey {
    /// The private key, parsed once.
    pair: RsaKeyPair,
    rng: SystemRandom,
    pub(crate) decoding: DecodingKey,
    /// `kid` of the tokens and of the JWK.
    pub(crate) kid: String,
    /// base64url modulus.
    n: String,
    /// base64url public exponent.
    e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Read one DER length at `at`; returns (length, position after it).
fn der_length(der: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *der.get(at)?;
    if first < 0x80 {
        return Some((usize::from(first), at + 1));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let mut length = 0usize;
    for i in 0..count {
        length = (length << 8) | usize::from(*der.get(at + 1 + i)?);
    }
    Some((length, at + 1 + count))
}

/// `(n, e)` of a PKCS#1 `RSAPublicKey` (SEQUENCE { INTEGER n, INTEGER e }), big-endian without
/// leading zero bytes.
fn rsa_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if der.first() != Some(&0x30) {
        return None;
    }
    let (_, mut at) = der_length(der, 1)?;
    let mut integers = Vec::new();
    for _ in 0..2 {
        if der.get(at) != Some(&0x02) {
            return None;
        }
        let (length, start) = der_length(der, at + 1)?;
        let bytes = der.get(start..start + length)?;
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        integers.push(trimmed);
        at = start + length;
    }
    let e = integers.pop()?;
    let n = integers.pop()?;
    Some((n, e))
}

impl SigningKey {
    /// A key from a PKCS#8 PEM private key; `kid` names it.
    fn from_pem(pem: &str, kid: Option<String>) -> Result<SigningKey, SigningKeyError> {
        let pair =
            rcgen::KeyPair::from_pem(pem).map_err(|e| SigningKeyError::Key(e.to_string()))?;
        let (n, e) = rsa_components(pair.public_key_raw())
            .ok_or_else(|| SigningKeyError::Key("not an RSA key".to_string()))?;
        let pair = RsaKeyPair::from_pkcs8(&pair.serialize_der())
            .map_err(|e| SigningKeyError::Key(e.to_string()))?;
        let n = URL_SAFE_NO_PAD.encode(n);
        let e = URL_SAFE_NO_PAD.encode(e);
        let decoding = DecodingKey::from_rsa_components(&n, &e)
            .map_err(|e| SigningKeyError::Key(e.to_string()))?;
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{n}.{e}").as_bytes()));
        Ok(SigningKey {
            pair,
            rng: SystemRandom::new(),
            decoding,
            kid: kid.unwrap_or_else(|| thumbprint[..27].to_string()),
            n,
            e,
        })
    }

    fn generate_pem() -> Result<String, SigningKeyError> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| SigningKeyError::Key(e.to_string()))?;
        Ok(pair.serialize_pem())
    }

    /// The key kept in `dir` (made and written there the first time), or, without a
    /// directory, this process's key under a key id of this simulator's own.
    pub(crate) fn load_or_create(dir: Option<&Path>) -> Result<SigningKey, SigningKeyError> {
        let Some(dir) = dir else {
            static PROCESS_KEY: OnceLock<Result<String, String>> = OnceLock::new();
            let pem = PROCESS_KEY
                .get_or_init(|| SigningKey::generate_pem().map_err(|e| e.to_string()))
                .clone()
                .map_err(SigningKeyError::Key)?;
            let kid = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
            return SigningKey::from_pem(&pem, Some(kid));
        };
        let path = dir.join(KEY_FILE);
        let io = |source| SigningKeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(pem) => SigningKey::from_pem(&pem, None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = SigningKey::generate_pem()?;
                std::fs::create_dir_all(dir).map_err(io)?;
                let temporary = dir.join(format!("{KEY_FILE}.tmp"));
                std::fs::write(&temporary, &pem).map_err(io)?;
                std::fs::rename(&temporary, &path).map_err(io)?;
                SigningKey::from_pem(&pem, None)
            }
            Err(source) => Err(io(source)),
        }
    }

    /// A compact JWS (`header.claims.signature`, each base64url) signed RS256 with this key:
    /// what `jsonwebtoken::encode` makes, without parsing the key again for every token.
    pub(crate) fn sign(
        &self,
        header: &Header,
        claims: &impl serde::Serialize,
    ) -> Result<String, SigningKeyError> {
        let header = serde_json::to_vec(header).map_err(|e| SigningKeyError::Key(e.to_string()))?;
        let claims = serde_json::to_vec(claims).map_err(|e| SigningKeyError::Key(e.to_string()))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|e| SigningKeyError::Key(e.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "alg": "RS256",
            "n": self.n,
            "e": self.e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_components_are_read() {
        // SEQUENCE { INTEGER 0x00 0xC1, INTEGER 0x01 0x00 0x01 }
        let der = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0xC1, 0x02, 0x03, 0x01, 0x00, 0x01,
        ];
        assert_eq!(
            rsa_components(&der),
            Some((vec![0xC1], vec![0x01, 0x00, 0x01]))
        );
        assert_eq!(rsa_components(&[0x31, 0x00]), None);
    }

    #[test]
    fn a_kept_key_is_the_same_after_a_reload() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = SigningKey::load_or_create(Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        let again = SigningKey::load_or_create(Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.kid, again.kid);
        assert_eq!(first.jwk(), again.jwk());
        assert_eq!(first.jwk()["e"], "AQAB");
    }

    #[test]
    fn a_signed_token_verifies_with_the_published_key_and_reads_like_jsonwebtokens() {
        let key = SigningKey::load_or_create(None).unwrap_or_else(|e| panic!("{e}"));
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        let claims = json!({"tid": "t", "exp": 4_000_000_000_i64});
        let token = key.sign(&header, &claims).unwrap_or_else(|e| panic!("{e}"));
        let read = jsonwebtoken::decode_header(&token).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(read.kid.as_deref(), Some(key.kid.as_str()));
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        let data = jsonwebtoken::decode::<Value>(&token, &key.decoding, &validation)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.claims, claims);
        // A token signed by another key does not verify.
        let mut forged = token.clone();
        forged.truncate(token.rfind('.').unwrap_or(0));
        forged.push_str(".AAAA");
        assert!(jsonwebtoken::decode::<Value>(&forged, &key.decoding, &validation).is_err());
    }
}
