//! Azurite (Microsoft's Azure Storage emulator, npm package `azurite`) for the state backend
//! tests, through the library's [`AzuriteChild`]: found on PATH, in a `node_modules/.bin` of the
//! repository or its parents, or at `TENANTFORM_AZURITE`; started on a free loopback port with
//! its data in a temporary folder, killed when dropped. Without it the tests print a loud
//! SKIPPED; with `TENANTFORM_REQUIRE_AZURITE=1` (as `.ci/run` sets after installing it) that is
//! a failure.

use std::path::Path;

pub(crate) use tenantform::bench::azurite::{ACCOUNT, KEY};
use tenantform::bench::azurite::{AzuriteChild, find};

pub(crate) struct Azurite {
    child: AzuriteChild,
    _data: tempfile::TempDir,
}

impl Azurite {
    /// Start Azurite, or `None` (after a loud SKIPPED) when it is not installed.
    pub(crate) fn start() -> Option<Azurite> {
        let program = program()?;
        let data = tempfile::tempdir().expect("azurite data dir");
        let child = AzuriteChild::start(&program, data.path(), "tfstate").expect("start azurite");
        Some(Azurite { child, _data: data })
    }

    /// Start it again after [`Azurite::stop`], on the same port with the same data.
    pub(crate) fn resume(&mut self) {
        self.child.resume().expect("restart azurite");
    }

    /// Kill it (storage down); the data stays for [`Azurite::resume`].
    pub(crate) fn stop(&mut self) {
        self.child.stop();
    }

    /// The blob endpoint (`[state] endpoint`).
    pub(crate) fn endpoint(&self) -> String {
        self.child.endpoint()
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
        tenantform::state::StateStore::AzureBlob(Box::new(
            tenantform::state::BlobStore::open(&settings, &env).expect("open store"),
        ))
    }
}

/// Azurite's `azurite-blob`, or `None` (after a loud SKIPPED) when it is not installed.
#[allow(clippy::print_stderr)] // says loudly that it skipped
pub(crate) fn program() -> Option<std::path::PathBuf> {
    let explicit = std::env::var_os("TENANTFORM_AZURITE").map(std::path::PathBuf::from);
    let Some(program) = find(explicit.as_deref(), Path::new(env!("CARGO_MANIFEST_DIR"))) else {
        let message = "SKIPPED: the state backend tests need Azurite (npm install azurite; found on PATH as azurite-blob, in node_modules/.bin, or at TENANTFORM_AZURITE)";
        if std::env::var("TENANTFORM_REQUIRE_AZURITE").as_deref() == Ok("1") {
            panic!("{message}, and TENANTFORM_REQUIRE_AZURITE=1 requires it");
        }
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n{message}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return None;
    };
    Some(program)
}
