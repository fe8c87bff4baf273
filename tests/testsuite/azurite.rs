//! Azurite (Microsoft's Azure Storage emulator, npm package `azurite`) for the state backend
//! tests: found on PATH, in a `node_modules/.bin` of the repository or its parents, or at
//! `TENANTFORM_AZURITE`; started on a free loopback port with its data in a temporary folder,
//! stopped (killed) when dropped. Without it the tests print a loud SKIPPED; with
//! `TENANTFORM_REQUIRE_AZURITE=1` (as `.ci/run` sets after installing it) that is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Azurite's well-known development account and key (public, in Microsoft's documentation).
pub(crate) const ACCOUNT: &str = "devstoreaccount1";
pub(crate) const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub(crate) struct Azurite {
    program: PathBuf,
    child: Option<Child>,
    port: u16,
    data: tempfile::TempDir,
}

fn find() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("TENANTFORM_AZURITE") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("azurite-blob"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        repo.ancestors()
            .map(|dir| dir.join("node_modules/.bin/azurite-blob"))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Azurite {
    /// Start Azurite, or `None` (after a loud SKIPPED) when it is not installed.
    #[allow(clippy::print_stderr)] // says loudly that it skipped
    pub(crate) fn start() -> Option<Azurite> {
        let Some(program) = find() else {
            let message = "SKIPPED: the state backend tests need Azurite (npm install azurite; found on PATH as azurite-blob, in node_modules/.bin, or at TENANTFORM_AZURITE)";
            if std::env::var("TENANTFORM_REQUIRE_AZURITE").as_deref() == Ok("1") {
                panic!("{message}, and TENANTFORM_REQUIRE_AZURITE=1 requires it");
            }
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n{message}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            return None;
        };
        let mut azurite = Azurite {
            program,
            child: None,
            port: free_port(),
            data: tempfile::tempdir().expect("azurite data dir"),
        };
        azurite.resume();
        azurite.create_container("tfstate");
        Some(azurite)
    }

    /// Start it again after [`Azurite::stop`], on the same port with the same data.
    pub(crate) fn resume(&mut self) {
        let child = Command::new(&self.program)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &self.port.to_string(),
                "--location",
                self.data.path().to_str().expect("utf-8"),
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--loose",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "azurite did not listen on 127.0.0.1:{} within 60 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kill it (storage down); the data stays for [`Azurite::resume`].
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The blob endpoint (`[state] endpoint`).
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// `[state]` for a project whose state is in this Azurite, under `prefix`.
    pub(crate) fn state_toml(&self, prefix: &str, lease_seconds: u64) -> String {
        format!(
            "\n[state]\nbackend = \"azure-blob\"\naccount = \"{ACCOUNT}\"\ncontainer = \"tfstate\"\nprefix = \"{prefix}\"\nendpoint = \"{}\"\nlease_seconds = {lease_seconds}\n",
            self.endpoint()
        )
    }

    /// The store as the library opens it (to look at what runs left there).
    pub(crate) fn store(&self, prefix: &str) -> tenantform::state::StateStore {
        let settings = tenantform::source::model::AzureBlobSettings {
            account: ACCOUNT.into(),
            container: "tfstate".into(),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint()),
        };
        let env = |name: &str| (name == "AZURE_STORAGE_ACCOUNT_KEY").then(|| KEY.to_string());
        tenantform::state::StateStore::AzureBlob(
            tenantform::state::BlobStore::open(&settings, &env).expect("open store"),
        )
    }

    /// Create a container with one request signed by hand (Shared Key): tenantform never
    /// creates one.
    fn create_container(&self, name: &str) {
        let date = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        );
        let key_bytes = base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .expect("key");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
        let signature = base64::engine::general_purpose::STANDARD
            .encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let response = reqwest::blocking::Client::new()
            .put(format!("{}/{name}?restype=container", self.endpoint()))
            .header("x-ms-date", &date)
            .header("x-ms-version", version)
            .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .header("Content-Length", "0")
            .send()
            .expect("create container");
        assert!(
            response.status().is_success() || response.status().as_u16() == 409,
            "create container: {} {}",
            response.status(),
            response.text().unwrap_or_default()
        );
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}
