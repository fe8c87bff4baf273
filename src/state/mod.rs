//! State backends: where everything a run keeps lives (identity maps, journals, before-images,
//! locks), and the per-tenant locks that keep two runs from writing one tenant at once.
//!
//! Every run works on a working copy, `DIR/.tenantform/` (the files and layout of
//! [reference/journal.md]); the [`StateStore`] is where that state is kept between runs:
//!
//! - [`StateStore::Local`]: the working copy itself. Nothing is copied; locks are lock files
//!   (`.tenantform/locks/<tenant-id>.json`).
//! - [`StateStore::AzureBlob`]: a container (and prefix) in Azure Blob Storage, with the same
//!   keys (`state/<tenant-id>.json`, `locks/<tenant-id>.json`, `runs/<run-id>/…`) except the
//!   journal, kept as segments (`runs/<run-id>/journal/<byte offset>.jsonl`) so that publishing
//!   it never rewrites what was published. [`run::RunState`] fetches a tenant's map before the
//!   tenant starts and publishes the journal, map and before-images when it finishes.
//!
//! Submodules: [`blob`] (Azure Blob through `object_store`), [`local`] (lock files),
//! [`lock`] (lock records, waiting, renewal, release), [`maps`] (which identity maps the store
//! has, from listings made after the locks were taken), [`run`] (one run's locks and
//! publishing), [`layout`] (the keys), [`before`] (a tenant's before-images of a run as one
//! document), [`retry`] (requests tried again after a timeout),
//! [`stats`] (requests counted and timed by kind), [`timeline`] (when each tenant's turn
//! passed its lock, fetch, publish and release).
//!
//! Input: `[state]` ([`StateSettings`]) and the environment. Output: a [`StateStore`], and
//! typed [`StateError`]s that name the store, the key and the action, never a credential.

use std::path::{Path, PathBuf};

use crate::source::model::{StateBackend, StateSettings};

pub mod before;
pub mod blob;
pub mod layout;
pub mod local;
pub mod lock;
pub mod maps;
pub mod retry;
pub mod run;
pub mod stats;
pub mod timeline;

pub use blob::BlobStore;
pub use local::LocalStore;
pub use lock::{Holder, LockError, LockRecord, Locks};
pub use run::RunState;

/// Why the state store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// `[state] backend = "azure-blob"` and the environment holds no credential.
    #[error(
        "no credential for the Azure Blob state backend ({detail}); set one of them where tenantform runs (a pipeline secret), never in tenantform.toml"
    )]
    NoCredential {
        /// What was missing.
        detail: &'static str,
    },
    /// The store could not be configured.
    #[error("cannot open the state store {location}: {message}")]
    Open {
        /// The container URL.
        location: String,
        /// Why (credentials removed).
        message: String,
    },
    /// A remote operation failed (after the client's retries).
    #[error("state storage {location} did not answer: cannot {action} {key}: {message}")]
    Storage {
        /// The container (and prefix) URL.
        location: String,
        /// `read`, `write`, `create`, `replace`, `delete`, `list`.
        action: &'static str,
        /// The state key.
        key: String,
        /// What the client said (credentials removed).
        message: String,
    },
    /// A local file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Local {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A tenant's before-images in the store or the working copy are not a readable document.
    #[error(
        "the before-images {key} in {location} cannot be read ({message}); nothing was overwritten"
    )]
    BeforeImages {
        /// The store or working copy.
        location: String,
        /// The document's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A tenant's before-images could not be published because other runs kept changing
    /// them between this run's read and its conditional replace.
    #[error(
        "the before-images {key} in {location} were changed by another run {tries} times in a row while this run added to them"
    )]
    BeforeImagesContended {
        /// The store.
        location: String,
        /// The document's key.
        key: String,
        /// How many times the replace was tried.
        tries: u32,
    },
    /// The published journal of a run has a hole: a segment is missing.
    #[error(
        "the journal of run {run} in {location} is missing bytes {from}..{to} (segment {key} starts after the end of the one before); it cannot be read whole"
    )]
    JournalGap {
        /// The run.
        run: String,
        /// The store.
        location: String,
        /// The segment that starts too late.
        key: String,
        /// Bytes read so far.
        from: u64,
        /// Where the segment starts.
        to: u64,
    },
}

/// A version of a stored value that a conditional replace names (an ETag, or a hash of a lock
/// file's content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub(crate) String);

/// A stored value and its version.
#[derive(Debug, Clone)]
pub struct Versioned {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its version.
    pub version: Version,
}

/// One key under a listed prefix, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key (relative to the store).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Where a project's run state is kept.
#[derive(Debug)]
pub enum StateStore {
    /// `DIR/.tenantform/` (the default).
    Local(LocalStore),
    /// Azure Blob Storage.
    AzureBlob(Box<BlobStore>),
}

/// The process environment, for [`open`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Open the store `[state]` names for the project in `project_dir` (nothing is sent yet).
pub fn open(
    settings: &StateSettings,
    project_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StateStore, StateError> {
    Ok(match &settings.backend {
        StateBackend::Local => StateStore::Local(LocalStore::new(project_dir)),
        StateBackend::AzureBlob(blob) => {
            StateStore::AzureBlob(Box::new(BlobStore::open(blob, env)?))
        }
    })
}

impl StateStore {
    /// True for the local backend: the working copy is the store, nothing is copied.
    pub fn is_local(&self) -> bool {
        matches!(self, StateStore::Local(_))
    }

    /// Where the state lives, for messages (`/dir/.tenantform` or the container URL).
    pub fn location(&self) -> String {
        match self {
            StateStore::Local(s) => s.root().display().to_string(),
            StateStore::AzureBlob(s) => s.location(),
        }
    }

    /// Counts and times of the remote store's requests so far (`None` with local state).
    pub fn stats(&self) -> Option<stats::StatsSnapshot> {
        match self {
            StateStore::Local(_) => None,
            StateStore::AzureBlob(s) => Some(s.stats().snapshot()),
        }
    }

    /// The value at `key` and its version (`None`: there is none).
    pub async fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        match self {
            StateStore::Local(s) => s.read(key),
            StateStore::AzureBlob(s) => s.read(key).await,
        }
    }

    /// Write `bytes` at `key` only if nothing is there; `None`: something is.
    pub async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<Option<Version>, StateError> {
        match self {
            StateStore::Local(s) => s.create(key, &bytes),
            StateStore::AzureBlob(s) => s.create(key, bytes).await,
        }
    }

    /// Replace the value at `key` only if it is still at `version`; `None`: it changed.
    pub async fn replace(
        &self,
        key: &str,
        bytes: Vec<u8>,
        version: &Version,
    ) -> Result<Option<Version>, StateError> {
        match self {
            StateStore::Local(s) => s.replace(key, &bytes, version),
            StateStore::AzureBlob(s) => s.replace(key, bytes, version).await,
        }
    }

    /// Write `bytes` at `key`, whole (replacing what is there).
    pub async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), StateError> {
        match self {
            StateStore::Local(s) => s.write(key, &bytes),
            StateStore::AzureBlob(s) => s.write(key, bytes).await,
        }
    }

    /// Remove `key` (nothing there is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), StateError> {
        match self {
            StateStore::Local(s) => s.delete(key),
            StateStore::AzureBlob(s) => s.delete(key).await,
        }
    }

    /// Every key under `prefix` (a folder: `runs/<id>/journal/`), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StateError> {
        match self {
            StateStore::Local(s) => s.list(prefix),
            StateStore::AzureBlob(s) => s.list(prefix).await,
        }
    }
}
