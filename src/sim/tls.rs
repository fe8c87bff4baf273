//! `--tls`: a certificate generated at start so clients that refuse to send tokens over plain
//! HTTP can talk to the simulator on loopback.
//!
//! Owns: a throwaway certificate authority (self-signed, made fresh on every start) and a
//! server certificate it signs for `localhost`, `127.0.0.1` and `::1`. Input: the path to write
//! the authority's certificate to. Output: a [`TlsAcceptor`] for the server's accept loop, and
//! [`CertInfo`] (the PEM and its fingerprint) for the startup message.
//!
//! Clients trust the written PEM file (`curl --cacert FILE`, `SSL_CERT_FILE=FILE`, reqwest
//! `Certificate::from_pem`). The authority signs only this one server certificate and its key
//! is dropped once it has, so trusting the file trusts nothing else. Pure Rust: rcgen and
//! rustls on the `ring` provider, chosen explicitly (another crate may enable aws-lc-rs in the
//! same build, and then rustls has no single default).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names the server certificate is valid for.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// What was generated and where the trust anchor went.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Where the authority's certificate (the one clients trust) was written, as PEM.
    pub ca_path: PathBuf,
    /// The authority's certificate, PEM.
    pub ca_pem: String,
    /// The server certificate, PEM (served with the authority's after it).
    pub server_pem: String,
    /// SHA-256 of the authority's certificate (DER), upper-case hex with colons, as browsers
    /// and `openssl x509 -fingerprint -sha256` show it.
    pub ca_sha256: String,
    /// Names the server certificate covers ([`SERVER_NAMES`]).
    pub names: Vec<String>,
}

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Key or certificate generation failed.
    #[error("could not generate the simulator's TLS certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The PEM file could not be written.
    #[error("could not write the simulator's certificate to {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A generated authority and server certificate, with the server's key.
#[derive(Debug)]
pub struct Generated {
    /// The authority (trust anchor), DER.
    pub ca: CertificateDer<'static>,
    /// The server certificate, DER.
    pub server: CertificateDer<'static>,
    /// The server's private key, PKCS#8 DER.
    pub server_key: PrivatePkcs8KeyDer<'static>,
    /// Display information (`ca_path` empty until written).
    pub info: CertInfo,
}

/// Generate a fresh authority and a server certificate for [`SERVER_NAMES`], valid from
/// yesterday for a year.
pub fn generate() -> Result<Generated, TlsError> {
    let today = jiff::Zoned::now().date();
    let from = today.yesterday().unwrap_or(today);
    let until = today.saturating_add(jiff::Span::new().days(365));
    let date = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("tenantform sim local authority");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = date(from);
    ca_params.not_after = date(until);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let names: Vec<String> = SERVER_NAMES.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names.clone())?;
    params.distinguished_name = name("tenantform sim");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = date(from);
    params.not_after = date(until);
    let server_cert = params.signed_by(&server_key, &issuer)?;
    drop(issuer);

    let ca_sha256 = Sha256::digest(ca_cert.der().as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let info = CertInfo {
        ca_path: PathBuf::new(),
        ca_pem: ca_cert.pem(),
        server_pem: server_cert.pem(),
        ca_sha256,
        names,
    };
    Ok(Generated {
        ca: ca_cert.der().clone(),
        server: server_cert.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        info,
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "tenantform");
    dn
}

/// The `ring` crypto provider (explicit: see the module docs).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration serving `generated`'s chain, offering the ALPN protocols
/// given (e.g. `[b"h2", b"http/1.1"]` for a server that speaks both; empty for none).
pub fn server_config(
    generated: &Generated,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![generated.server.clone(), generated.ca.clone()],
            PrivateKeyDer::Pkcs8(generated.server_key.clone_key()),
        )?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Generate a certificate, write the authority's PEM to `cert_out` (creating its directory),
/// and return an acceptor for HTTP/1.1 over TLS (ALPN `http/1.1`) with what was written.
pub fn tls_acceptor(cert_out: &Path) -> Result<(TlsAcceptor, CertInfo), TlsError> {
    tls_acceptor_with_alpn(cert_out, &[b"http/1.1"])
}

/// [`tls_acceptor`] offering other ALPN protocols (`[b"h2", b"http/1.1"]` when the accept
/// loop serves HTTP/2 as well).
pub fn tls_acceptor_with_alpn(
    cert_out: &Path,
    alpn: &[&[u8]],
) -> Result<(TlsAcceptor, CertInfo), TlsError> {
    let generated = generate()?;
    let write_error = |source| TlsError::Write {
        path: cert_out.to_path_buf(),
        source,
    };
    if let Some(parent) = cert_out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    std::fs::write(cert_out, generated.info.ca_pem.as_bytes()).map_err(write_error)?;
    let config = server_config(&generated, alpn)?;
    let mut info = generated.info;
    info.ca_path = cert_out.to_path_buf();
    Ok((TlsAcceptor::from(config), info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::pki_types::pem::PemObject;

    fn client_trusting(pem: &Path) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(pem).expect("pem file") {
            roots.add(cert.expect("certificate")).expect("root");
        }
        let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsConnector::from(Arc::new(config))
    }

    #[tokio::test]
    async fn a_client_trusting_the_written_pem_completes_a_handshake() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pem = dir.path().join("certs").join("sim-ca.pem");
        let (acceptor, info) = tls_acceptor(&pem).expect("acceptor");
        assert_eq!(info.ca_path, pem);
        let written = std::fs::read_to_string(&pem).expect("written");
        assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(written, info.ca_pem);
        assert_eq!(info.ca_sha256.len(), 32 * 3 - 1);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let mut alpns = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.expect("accept");
                let mut tls = acceptor.accept(tcp).await.expect("server handshake");
                alpns.push(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec));
                let mut buf = [0u8; 4];
                tls.read_exact(&mut buf).await.expect("read");
                tls.write_all(&buf).await.expect("write");
                tls.shutdown().await.expect("shutdown");
            }
            alpns
        });

        let connector = client_trusting(&pem);
        for name in ["localhost", "127.0.0.1"] {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let server_name = ServerName::try_from(name.to_string()).expect("name");
            let mut tls = connector
                .connect(server_name, tcp)
                .await
                .expect("client handshake");
            tls.write_all(b"ping").await.expect("write");
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await.expect("read");
            assert_eq!(&buf, b"ping");
        }
        let alpns = server.await.expect("server task");
        assert_eq!(alpns, vec![Some(b"http/1.1".to_vec()); 2]);
    }

    #[tokio::test]
    async fn a_client_trusting_another_run_s_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other_pem = dir.path().join("other.pem");
        let _ = tls_acceptor(&other_pem).expect("first run");
        let (acceptor, _) = tls_acceptor(&dir.path().join("this.pem")).expect("second run");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            acceptor.accept(tcp).await.is_err()
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let server_name = ServerName::try_from("localhost").expect("name");
        assert!(
            client_trusting(&other_pem)
                .connect(server_name, tcp)
                .await
                .is_err()
        );
        assert!(server.await.expect("server task"));
    }

    #[test]
    fn the_server_certificate_names_loopback() {
        let generated = generate().expect("generate");
        assert_eq!(generated.info.names, SERVER_NAMES);
        assert!(generated.info.server_pem.contains("BEGIN CERTIFICATE"));
        assert!(server_config(&generated, &[b"h2", b"http/1.1"]).is_ok());
    }
}
