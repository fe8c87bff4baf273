//! `init`: a new project on the shipped baselines with three example tenants that validate and
//! compile as they are; and the fleet generator (many tenants from the same three profiles, with
//! deterministic ids) that the benchmarks and the simulator's `--fleet-out` use.
//!
//! Input: a directory that is empty or does not exist. Output: the project's files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why `init` refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The directory already has files.
    #[error("{} is not empty; init only writes into an empty or new directory (nothing was written)", .0.display())]
    NotEmpty(PathBuf),
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

const PROJECT_TOML: &str = r#"# A tenantform project. `tenantform validate` checks it, `tenantform compile --out out` writes
# one bundle per tenant. See https://tenantform.dev/book for every key.
[project]
name = "example-msp"
"#;

const BASELINES_README: &str = "\
Your own baselines go here as <name>.toml. A tenant lists baselines by name; a name not found
here is one of the baselines shipped inside tenantform (entra-foundation, cisa-scuba-entra,
intune-compliance, intune-baseline). A file here with a shipped name replaces the shipped one for this project.
A baseline may `extends = [\"entra-foundation\"]` and change it with [defaults] and [patch.<key>].
Templates (Tera, one JSON object each) go in ../templates/.
";

/// The three example tenant profiles, used by `init` and by the fleet generator.
struct Profile {
    name: &'static str,
    ring: &'static str,
    tags: &'static str,
    baselines: &'static str,
    params: &'static str,
    overrides: &'static str,
    /// `[tenant.facts]`, if the profile declares them.
    facts: &'static str,
}

const PROFILES: [Profile; 3] = [
    Profile {
        name: "Contoso",
        ring: "pilot",
        tags: r#"["smb", "us"]"#,
        baselines: r#"["entra-foundation", "intune-compliance"]"#,
        params: r#"allowed_countries = ["US", "CA"]
trusted_ip_ranges = ["203.0.113.0/24"]
"#,
        overrides: "",
        // Entra ID P1 only: the risk-based policies of entra-foundation are skipped, each with
        // the reason, because the facts say so (no override needed).
        facts: r#"
[tenant.facts]
service_plans = ["AAD_PREMIUM", "INTUNE_A"]
"#,
    },
    Profile {
        name: "Fabrikam",
        ring: "broad",
        tags: r#"["federal", "us"]"#,
        baselines: r#"["cisa-scuba-entra", "intune-compliance"]"#,
        params: r#"allowed_countries = ["US"]
trusted_ip_ranges = ["198.51.100.0/24", "2001:db8:100::/48"]
compliance_assignment_scope = "allLicensedUsers"
pim_alert_recipients = ["security-operations@fabrikam.example"]
"#,
        overrides: "",
        facts: r#"
[tenant.facts]
service_plans = ["AAD_PREMIUM", "AAD_PREMIUM_P2", "INTUNE_A"]
"#,
    },
    Profile {
        name: "Northwind Traders",
        ring: "broad",
        tags: r#"["eu", "retail"]"#,
        baselines: r#"["entra-foundation", "intune-compliance"]"#,
        params: r#"allowed_countries = ["DE", "FR", "NL", "GB"]
trusted_ip_ranges = ["192.0.2.0/24"]
compliance_grace_period_hours = 72
"#,
        overrides: r#"
[[tenant.overrides]]
resource = "windows-compliance"
vars = { os_minimum_version = "10.0.19044" }
reason = "Point-of-sale terminals run Windows 10 21H2 LTSC until the hardware refresh"
expires = "2099-06-30"
"#,
        facts: "",
    },
];

/// Tenant ids of `init`'s examples (fixed, so docs and tests can name them).
pub const EXAMPLE_TENANT_IDS: [&str; 3] = [
    "6f2c8a4e-1d3b-4c5a-9e7f-0a1b2c3d4e5f",
    "8b9d0e1f-2a3b-4c4d-8e5f-6a7b8c9d0e1f",
    "3c4d5e6f-7a8b-4c9d-9e0f-1a2b3c4d5e6f",
];

/// A deterministic tenant GUID for fleet member `index` under `seed`.
pub fn fleet_tenant_id(seed: &str, index: usize) -> String {
    let digest = Sha256::digest(format!("tenantform-fleet/{seed}/{index}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Optional endpoint overrides written into generated tenants (the simulator's address).
#[derive(Debug, Clone, Default)]
pub struct TenantEndpoints {
    /// Token endpoint base URL.
    pub login: Option<String>,
    /// Graph base URL.
    pub graph: Option<String>,
    /// App (client) id.
    pub client_id: Option<String>,
}

/// The initial domain of a tenant named `name` (`Contoso 00000` → `contoso00000.onmicrosoft.com`):
/// what `init` writes as an example tenant's `domain`, and the domain the simulator gives it.
pub fn initial_domain(name: &str) -> String {
    let label: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let label = if label.is_empty() {
        "tenant".to_string()
    } else {
        label
    };
    format!("{label}.onmicrosoft.com")
}

fn tenant_entry(
    out: &mut String,
    id: &str,
    name: &str,
    profile: &Profile,
    endpoints: &TenantEndpoints,
) {
    let env_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let _ = write!(
        out,
        r#"[[tenant]]
id = "{id}"
name = "{name}"
domain = "{domain}"
cloud = "global"
ring = "{ring}"
tags = {tags}
baselines = {baselines}

[tenant.credentials]
client_id = "{client_id}"
client_secret_env = "{env_name}_CLIENT_SECRET"
"#,
        domain = initial_domain(name),
        ring = profile.ring,
        tags = profile.tags,
        baselines = profile.baselines,
        client_id = endpoints
            .client_id
            .as_deref()
            .unwrap_or("00000000-0000-4000-8000-00000000c11e"),
    );
    if endpoints.login.is_some() || endpoints.graph.is_some() {
        out.push_str("\n[tenant.endpoints]\n");
        if let Some(login) = &endpoints.login {
            let _ = writeln!(out, "login = \"{login}\"");
        }
        if let Some(graph) = &endpoints.graph {
            let _ = writeln!(out, "graph = \"{graph}\"");
        }
    }
    let _ = write!(
        out,
        "\n[tenant.params]\n{}{}{}\n",
        profile.params, profile.overrides, profile.facts
    );
}

/// A tenants file with `count` tenants cycling through the three example profiles.
pub fn fleet_tenants_toml(seed: &str, count: usize, endpoints: &TenantEndpoints) -> String {
    let mut out =
        String::from("# Generated fleet: tenants cycle through init's three example profiles.\n\n");
    for i in 0..count {
        let profile = &PROFILES[i % PROFILES.len()];
        let name = format!("{} {:05}", profile.name, i);
        tenant_entry(
            &mut out,
            &fleet_tenant_id(seed, i),
            &name,
            profile,
            endpoints,
        );
    }
    out
}

fn write(path: &Path, text: &str) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| InitError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| InitError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The files `init` writes, as `(relative path, text)`.
pub fn project_files() -> Vec<(String, String)> {
    let mut files = vec![
        ("tenantform.toml".to_string(), PROJECT_TOML.to_string()),
        (
            "baselines/README.md".to_string(),
            BASELINES_README.to_string(),
        ),
    ];
    for (profile, id) in PROFILES.iter().zip(EXAMPLE_TENANT_IDS) {
        let mut text = String::from(
            "# Example tenant. Secrets are never written here: client_secret_env names an environment variable.\n\n",
        );
        tenant_entry(
            &mut text,
            id,
            profile.name,
            profile,
            &TenantEndpoints::default(),
        );
        let file = profile
            .name
            .split_whitespace()
            .next()
            .unwrap_or("tenant")
            .to_ascii_lowercase();
        files.push((format!("tenants/{file}.toml"), text));
    }
    files
}

/// Create a project in `dir` (which must be empty or absent).
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|source| InitError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if entries.next().is_some() {
            return Err(InitError::NotEmpty(dir.to_path_buf()));
        }
    }
    let mut written = Vec::new();
    for (rel, text) in project_files() {
        let path = dir.join(&rel);
        write(&path, &text)?;
        written.push(path);
    }
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).map_err(|source| InitError::Io {
        path: templates.clone(),
        source,
    })?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_ids_are_deterministic_guids() {
        let a = fleet_tenant_id("s", 7);
        assert_eq!(a, fleet_tenant_id("s", 7));
        assert_ne!(a, fleet_tenant_id("s", 8));
        assert!(crate::source::model::is_guid(&a));
    }
}
