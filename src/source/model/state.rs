//! The `[state]` table of `tenantform.toml`: where a project keeps what its runs keep (identity
//! maps, journals, before-images, locks). Local files under `.tenantform/` are the default;
//! `backend = "azure-blob"` names an Azure Blob Storage container. Credentials never come from
//! the file: a key that looks like one is an error at its `file:line:col`, naming the
//! environment variable to use instead.
//!
//! Input: the `[state]` table. Output: [`StateSettings`], plus diagnostics.

use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostic;

use super::reader::Reader;
use crate::diag::Code;

/// The lease of a lock when `[state] lease_seconds` is not given.
pub const DEFAULT_LEASE_SECONDS: u64 = 60;
/// The shortest lease `[state] lease_seconds` accepts (renewal runs every third of it).
pub const MIN_LEASE_SECONDS: u64 = 5;
/// The longest lease `[state] lease_seconds` accepts.
pub const MAX_LEASE_SECONDS: u64 = 3600;

/// Where a project's run state lives (`[state]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    /// The backend.
    pub backend: StateBackend,
    /// How long a lock lasts without renewal (`lease_seconds`): a holder that dies leaves a
    /// lock that others may take this long after its last renewal.
    pub lease_seconds: u64,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            backend: StateBackend::Local,
            lease_seconds: DEFAULT_LEASE_SECONDS,
        }
    }
}

/// The backends `[state] backend` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// `DIR/.tenantform/` (the default).
    Local,
    /// An Azure Blob Storage container (`backend = "azure-blob"`).
    AzureBlob(AzureBlobSettings),
}

/// `[state]` for `backend = "azure-blob"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureBlobSettings {
    /// The storage account name.
    pub account: String,
    /// The container.
    pub container: String,
    /// A path inside the container under which everything is kept (empty: the root).
    pub prefix: String,
    /// The blob endpoint, for Azurite or a sovereign cloud
    /// (`https://<account>.blob.core.usgovcloudapi.net`); default
    /// `https://<account>.blob.core.windows.net`.
    pub endpoint: Option<String>,
}

const BACKENDS: &[&str] = &["local", "azure-blob"];
const KEYS: &[&str] = &[
    "backend",
    "account",
    "container",
    "prefix",
    "endpoint",
    "lease_seconds",
];
/// Keys that would hold a credential: refused, with the variable to use instead.
const CREDENTIAL_KEYS: &[&str] = &[
    "key",
    "account_key",
    "access_key",
    "sas",
    "sas_token",
    "connection_string",
    "client_secret",
    "secret",
    "password",
    "token",
];

/// Decode `[state]`.
pub(super) fn decode_state(
    r: &mut Reader<'_>,
    table: &DeTable<'_>,
    range: std::ops::Range<usize>,
    masked: &mut Vec<crate::source::Span>,
) -> StateSettings {
    let what = "[state]";
    let mut settings = StateSettings::default();
    for (key, value) in table
        .iter()
        .filter(|(k, _)| CREDENTIAL_KEYS.contains(&k.get_ref().as_ref()))
    {
        masked.push(r.span(value.span()));
        let d = Diagnostic::error(
            Code::InvalidValue,
            format!(
                "`{}` in [state] would put a credential in tenantform.toml, which is kept in version control; credentials for the state backend come from the environment only",
                key.get_ref()
            ),
        )
        .at(r.span(key.span()))
        .help("remove the key and set AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING where tenantform runs (a pipeline secret)");
        r.diags.push(d);
    }
    // Credential keys were reported above, with what to do instead.
    let allowed: Vec<&str> = KEYS.iter().chain(CREDENTIAL_KEYS).copied().collect();
    r.check_keys(table, &allowed, what);
    if let Some((_, value)) = r.get(table, "lease_seconds") {
        let text = match value.get_ref() {
            DeValue::Integer(i) => {
                u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        match text {
            Some(n) if (MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&n) => {
                settings.lease_seconds = n;
            }
            _ => {
                r.error(
                    Code::InvalidValue,
                    format!(
                        "`lease_seconds` in [state] must be a whole number of seconds from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS}"
                    ),
                    value.span(),
                );
            }
        }
    }
    let backend = r.string(table, "backend", what);
    let backend_name = backend.as_ref().map_or("local", |b| b.value.as_str());
    match backend_name {
        "local" => {
            for key in ["account", "container", "prefix", "endpoint"] {
                if let Some((k, _)) = r.get(table, key) {
                    r.error(
                        Code::UnknownKey,
                        format!(
                            "`{key}` in [state] is for backend = \"azure-blob\"; the local backend keeps state in .tenantform/"
                        ),
                        k.span(),
                    );
                }
            }
        }
        "azure-blob" => {
            let account = r.required_string(table, "account", what, range.clone());
            let container = r.required_string(table, "container", what, range.clone());
            let prefix = r.string(table, "prefix", what);
            let endpoint = r.string(table, "endpoint", what);
            if let Some(a) = &account
                && !is_account_name(&a.value)
            {
                r.error_at(
                    Code::InvalidValue,
                    format!(
                        "`account` in [state] must be a storage account name: 3 to 24 lower case letters and digits, found `{}`",
                        a.value
                    ),
                    a.span,
                );
            }
            if let Some(c) = &container
                && !is_container_name(&c.value)
            {
                r.error_at(
                    Code::InvalidValue,
                    format!(
                        "`container` in [state] must be a container name: 3 to 63 lower case letters, digits and single hyphens, found `{}`",
                        c.value
                    ),
                    c.span,
                );
            }
            if let Some(p) = &prefix
                && (p.value.starts_with('/')
                    || p.value.contains("//")
                    || p.value.split('/').any(|s| s == "." || s == ".."))
            {
                r.error_at(
                    Code::InvalidValue,
                    format!(
                        "`prefix` in [state] must be a relative path inside the container (like `tenantform/prod`), found `{}`",
                        p.value
                    ),
                    p.span,
                );
            }
            if let Some(e) = &endpoint {
                if e.value.contains('?') {
                    r.error_at(
                        Code::InvalidValue,
                        "`endpoint` in [state] has a query string, which is where a SAS token goes; credentials come from the environment only (AZURE_STORAGE_SAS_TOKEN)",
                        e.span,
                    );
                } else if !(e.value.starts_with("https://") || e.value.starts_with("http://")) {
                    r.error_at(
                        Code::InvalidValue,
                        format!(
                            "`endpoint` in [state] must be an http(s) URL like `https://<account>.blob.core.windows.net`, found `{}`",
                            e.value
                        ),
                        e.span,
                    );
                }
            }
            if let (Some(account), Some(container)) = (account, container) {
                settings.backend = StateBackend::AzureBlob(AzureBlobSettings {
                    account: account.value,
                    container: container.value,
                    prefix: prefix
                        .map(|p| p.value.trim_end_matches('/').to_string())
                        .unwrap_or_default(),
                    endpoint: endpoint.map(|e| e.value.trim_end_matches('/').to_string()),
                });
            }
        }
        other => {
            if let Some(b) = &backend {
                let d = Diagnostic::error(
                    Code::InvalidValue,
                    format!("unknown state backend `{other}`"),
                )
                .at(b.span)
                .expected(format!("one of {}", super::quote_list(BACKENDS)));
                r.diags.push(d);
            }
        }
    }
    settings
}

fn is_account_name(s: &str) -> bool {
    (3..=24).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn is_container_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}
