//! The Azure Blob Storage state backend, through `object_store` (no hand-written REST): each
//! state key is a block blob under `<container>/<prefix>/`; conditional writes use the blob's
//! ETag (`If-None-Match: *` to create, `If-Match` to replace), which is what locks are built on.
//!
//! The credential comes from the environment only, read through an injected lookup so tests
//! control it: `AZURE_STORAGE_ACCOUNT_KEY` (or `AZURE_STORAGE_ACCESS_KEY`),
//! `AZURE_STORAGE_SAS_TOKEN`, `AZURE_STORAGE_CONNECTION_STRING`, or an Entra identity
//! (`AZURE_CLIENT_ID` with `AZURE_CLIENT_SECRET` / `AZURE_FEDERATED_TOKEN_FILE`, read by
//! `object_store` itself). No error message carries a credential: a SAS signature in a URL is
//! replaced before the message leaves this module.
//!
//! Every request goes through one gate: at most [`MAX_REQUESTS_IN_FLIGHT`] at once (a fleet
//! deploy has hundreds of tenants in flight; the rest queue here, where no request timeout
//! runs, rather than in the storage service), is tried again after a timeout or a dropped
//! connection ([`StoreRetry`], on top of the storage client's own quick retries), and is
//! counted and timed by kind ([`StoreStats`]).
//!
//! Input: [`AzureBlobSettings`] and an environment lookup. Output: a [`BlobStore`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as BlobPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions,
    RetryConfig, UpdateVersion,
};

use crate::source::model::AzureBlobSettings;
use crate::state::retry::{Sleeper, StoreRetry, TokioSleeper, with_retries};
use crate::state::stats::{StoreOp, StoreStats};
use crate::state::{Listed, StateError, Version, Versioned};

/// Requests to the store at once; the rest wait their turn before they are sent. Enough to
/// keep a storage account busy (thousands of requests a second at a few milliseconds each)
/// without opening a connection per tenant in flight.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 64;

/// How long one request may take before it counts as timed out (and is tried again).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Azure Blob Storage under a container and prefix.
#[derive(Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    account: String,
    container: String,
    prefix: String,
    location: String,
    gate: tokio::sync::Semaphore,
    retry: StoreRetry,
    sleeper: Arc<dyn Sleeper>,
    stats: StoreStats,
}

/// How the credential was found (for `state` commands to say, never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `AZURE_STORAGE_ACCOUNT_KEY` / `AZURE_STORAGE_ACCESS_KEY`.
    AccountKey,
    /// `AZURE_STORAGE_SAS_TOKEN`.
    SasToken,
    /// `AZURE_STORAGE_CONNECTION_STRING`.
    ConnectionString,
    /// An Entra identity `object_store` reads from `AZURE_*`.
    Entra,
}

impl BlobStore {
    /// Open the container named by `settings`, with the credential `env` finds. Nothing is
    /// sent yet: the first operation says whether the account answers.
    pub fn open(
        settings: &AzureBlobSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BlobStore, StateError> {
        let endpoint = settings.endpoint.clone();
        let location = match &endpoint {
            Some(e) => format!("{e}/{}", settings.container),
            None => format!(
                "https://{}.blob.core.windows.net/{}",
                settings.account, settings.container
            ),
        };
        let open_error = |message: String| StateError::Open {
            location: location.clone(),
            message: redact(&message),
        };
        let mut builder = MicrosoftAzureBuilder::new();
        let nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut connection_endpoint = None;
        if let Some(key) =
            nonempty("AZURE_STORAGE_ACCOUNT_KEY").or_else(|| nonempty("AZURE_STORAGE_ACCESS_KEY"))
        {
            builder = builder.with_access_key(key);
        } else if let Some(sas) = nonempty("AZURE_STORAGE_SAS_TOKEN") {
            builder = builder.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
        } else if let Some(text) = nonempty("AZURE_STORAGE_CONNECTION_STRING") {
            let parts = connection_string(&text);
            let get = |k: &str| {
                parts
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            };
            if let Some(key) = get("AccountKey") {
                builder = builder.with_access_key(key);
            } else if let Some(sas) = get("SharedAccessSignature") {
                builder = builder.with_config(AzureConfigKey::SasKey, sas);
            } else {
                return Err(StateError::NoCredential {
                    detail: "AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature",
                });
            }
            connection_endpoint = get("BlobEndpoint");
        } else if nonempty("AZURE_CLIENT_ID").is_some()
            || nonempty("AZURE_STORAGE_CLIENT_ID").is_some()
        {
            builder = MicrosoftAzureBuilder::from_env();
        } else {
            return Err(StateError::NoCredential {
                detail: "none of AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING or AZURE_CLIENT_ID is set",
            });
        }
        let endpoint = endpoint.or(connection_endpoint);
        let mut options = ClientOptions::new()
            .with_timeout(REQUEST_TIMEOUT)
            .with_connect_timeout(Duration::from_secs(5))
            .with_pool_max_idle_per_host(MAX_REQUESTS_IN_FLIGHT);
        if let Some(e) = &endpoint {
            if e.starts_with("http://") {
                // Plain HTTP only where the endpoint says so (Azurite on loopback).
                options = options.with_allow_http(true);
            }
            builder = builder.with_endpoint(e.clone());
        }
        let store = builder
            .with_account(&settings.account)
            .with_container_name(&settings.container)
            .with_client_options(options)
            // A few quick retries (connections refused, server errors); timeouts of writes are
            // retried by `request` below, which knows which answers a retry can change.
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
            })
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        Ok(BlobStore {
            store: Arc::new(store),
            account: settings.account.clone(),
            container: settings.container.clone(),
            prefix: settings.prefix.clone(),
            location,
            gate: tokio::sync::Semaphore::new(MAX_REQUESTS_IN_FLIGHT),
            retry: StoreRetry::default(),
            sleeper: Arc::new(TokioSleeper),
            stats: StoreStats::default(),
        })
    }

    /// The same store with another retry policy and sleeper (tests).
    pub fn with_retry(mut self, retry: StoreRetry, sleeper: Arc<dyn Sleeper>) -> BlobStore {
        self.retry = retry;
        self.sleeper = sleeper;
        self
    }

    /// Counts and times of the requests made so far, by kind.
    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// Send one request through the gate, trying it again after a timeout or a dropped
    /// connection (see [`transient`]), and count it.
    async fn request<T, F, Fut>(
        &self,
        action: &'static str,
        key: &str,
        send: F,
    ) -> Result<T, object_store::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        // The semaphore is never closed; were it, the request goes ungated.
        let _turn = self.gate.acquire().await.ok();
        let started = Instant::now();
        let (result, retries) = with_retries(&self.retry, &*self.sleeper, transient, send).await;
        self.stats
            .record(StoreOp::of(action, key), started.elapsed(), retries);
        result
    }

    /// Where the state lives (`https://account.blob.core.windows.net/container`), for messages.
    pub fn location(&self) -> String {
        if self.prefix.is_empty() {
            self.location.clone()
        } else {
            format!("{}/{}", self.location, self.prefix)
        }
    }

    fn path(&self, key: &str) -> BlobPath {
        if self.prefix.is_empty() {
            BlobPath::from(key)
        } else {
            BlobPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn key_of(&self, path: &BlobPath) -> String {
        let text = path.as_ref();
        if self.prefix.is_empty() {
            text.to_string()
        } else {
            text.strip_prefix(&format!("{}/", self.prefix))
                .unwrap_or(text)
                .to_string()
        }
    }

    fn error(&self, action: &'static str, key: &str, e: &object_store::Error) -> StateError {
        let mut message = redact(&e.to_string());
        if message.contains("ContainerNotFound") {
            message.push_str(&format!(
                "; the container does not exist: create it once (az storage container create --account-name {} --name {}), tenantform does not",
                self.account, self.container
            ));
        }
        StateError::Storage {
            location: self.location(),
            action,
            key: key.to_string(),
            message,
        }
    }

    pub(crate) async fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        let path = self.path(key);
        let got = self
            .request("read", key, || async {
                let got = self.store.get(&path).await?;
                let version = Version(got.meta.e_tag.clone().unwrap_or_default());
                let bytes = got.bytes().await?;
                Ok(Versioned {
                    bytes: bytes.to_vec(),
                    version,
                })
            })
            .await;
        match got {
            Ok(v) => Ok(Some(v)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("read", key, &e)),
        }
    }

    async fn put_mode(
        &self,
        action: &'static str,
        key: &str,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<Option<Version>, StateError> {
        let path = self.path(key);
        let payload = object_store::PutPayload::from(bytes);
        let put = self
            .request(action, key, || {
                let options = PutOptions {
                    mode: mode.clone(),
                    ..PutOptions::default()
                };
                self.store.put_opts(&path, payload.clone(), options)
            })
            .await;
        match put {
            Ok(put) => Ok(Some(Version(put.e_tag.unwrap_or_default()))),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) if action != "write" => Ok(None),
            // A lock deleted since it was read: it changed.
            Err(object_store::Error::NotFound { .. }) if action == "replace" => Ok(None),
            Err(e) => Err(self.error(action, key, &e)),
        }
    }

    pub(crate) async fn create(
        &self,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<Version>, StateError> {
        self.put_mode("create", key, bytes, PutMode::Create).await
    }

    pub(crate) async fn replace(
        &self,
        key: &str,
        bytes: Vec<u8>,
        version: &Version,
    ) -> Result<Option<Version>, StateError> {
        let mode = PutMode::Update(UpdateVersion {
            e_tag: Some(version.0.clone()),
            version: None,
        });
        self.put_mode("replace", key, bytes, mode).await
    }

    pub(crate) async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), StateError> {
        self.put_mode("write", key, bytes, PutMode::Overwrite)
            .await
            .map(|_| ())
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), StateError> {
        let path = self.path(key);
        match self
            .request("delete", key, || self.store.delete(&path))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, &e)),
        }
    }

    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StateError> {
        let path = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<object_store::ObjectMeta> = self
            .request("list", prefix, || {
                self.store.list(Some(&path)).try_collect()
            })
            .await
            .map_err(|e| self.error("list", prefix, &e))?;
        let mut out: Vec<Listed> = metas
            .iter()
            .map(|m| Listed {
                key: self.key_of(&m.location),
                size: m.size,
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// True for a failure another try may cure: the request timed out, its connection was refused
/// or dropped, or the service answered with a server error (5xx) after the client's own
/// retries. An answer about the blob (not found, already there, changed, forbidden) is final.
pub(crate) fn transient(e: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let object_store::Error::Generic { .. } = e else {
        return false;
    };
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = current {
        if let Some(http) = error.downcast_ref::<HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            );
        }
        current = error.source();
    }
    // A server error keeps no typed status past the client; its message says it.
    e.to_string().contains("status code: 5")
}

/// `Name=value;Name=value` pairs of an Azure Storage connection string.
fn connection_string(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|part| {
            let (name, value) = part.split_once('=')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// A message with any SAS signature or account key in it replaced.
pub(crate) fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("sig=") {
        out.push_str(&rest[..i + 4]);
        out.push_str("REDACTED");
        let tail = &rest[i + 4..];
        let end = tail
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace() || c == ')')
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AzureBlobSettings {
        AzureBlobSettings {
            account: "tfstate".into(),
            container: "state".into(),
            prefix: "prod".into(),
            endpoint: None,
        }
    }

    #[test]
    fn without_a_credential_in_the_environment_opening_says_which_variables_to_set() {
        let e = BlobStore::open(&settings(), &|_| None).expect_err("no credential");
        let text = e.to_string();
        assert!(text.contains("AZURE_STORAGE_ACCOUNT_KEY"), "{text}");
        assert!(text.contains("AZURE_STORAGE_SAS_TOKEN"), "{text}");
    }

    #[test]
    fn a_connection_string_without_a_key_or_signature_is_refused() {
        let env = |name: &str| {
            (name == "AZURE_STORAGE_CONNECTION_STRING")
                .then(|| "DefaultEndpointsProtocol=https;AccountName=tfstate".to_string())
        };
        let e = BlobStore::open(&settings(), &env).expect_err("no key");
        assert!(e.to_string().contains("neither AccountKey"), "{e}");
    }

    #[test]
    fn keys_sit_under_the_prefix_and_the_location_names_no_secret() {
        let env = |name: &str| {
            (name == "AZURE_STORAGE_SAS_TOKEN").then(|| "?sv=2024&sig=c2VjcmV0".to_string())
        };
        let store = BlobStore::open(&settings(), &env).expect("open");
        assert_eq!(store.path("locks/t.json").as_ref(), "prod/locks/t.json");
        assert_eq!(store.key_of(&store.path("locks/t.json")), "locks/t.json");
        assert_eq!(
            store.location(),
            "https://tfstate.blob.core.windows.net/state/prod"
        );
        assert!(!store.location().contains("c2VjcmV0"));
    }

    #[test]
    fn timeouts_dropped_connections_and_server_errors_are_retried_answers_are_not() {
        use object_store::client::{HttpError, HttpErrorKind};
        let generic =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                store: "MicrosoftAzure",
                source,
            };
        let http = |kind| {
            generic(Box::new(HttpError::new(
                kind,
                std::io::Error::other("error sending request"),
            )))
        };
        assert!(transient(&http(HttpErrorKind::Timeout)));
        assert!(transient(&http(HttpErrorKind::Connect)));
        assert!(transient(&http(HttpErrorKind::Interrupted)));
        assert!(!transient(&http(HttpErrorKind::Decode)));
        assert!(transient(&generic(
            "Server returned non-2xx status code: 503 Service Unavailable: busy".into()
        )));
        assert!(!transient(&generic(
            "Server returned non-2xx status code: 400 Bad Request: no".into()
        )));
        let path = "locks/t.json".to_string();
        let answer = |e: std::io::Error| object_store::Error::Precondition {
            path: path.clone(),
            source: Box::new(e),
        };
        assert!(!transient(&answer(std::io::Error::other("changed"))));
        assert!(!transient(&object_store::Error::NotFound {
            path: path.clone(),
            source: Box::new(std::io::Error::other("gone")),
        }));
    }

    #[test]
    fn signatures_are_redacted_from_messages() {
        assert_eq!(
            redact("GET https://a/b?sv=1&sig=abc%2Fdef&se=2 failed"),
            "GET https://a/b?sv=1&sig=REDACTED&se=2 failed"
        );
        assert_eq!(redact("no secret here"), "no secret here");
        assert_eq!(redact("x sig=abc"), "x sig=REDACTED");
    }
}
