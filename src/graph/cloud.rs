//! National clouds and endpoints: the login host, the Graph host and the token scope per cloud
//! (graph-wire-facts.md section 3.4), with a tenant's `[tenant.endpoints]` overrides applied
//! (that is how the simulator is reached). Plain `http` is refused for any host that is not
//! loopback: tokens and bodies never cross a network unencrypted.
//!
//! Input: a [`Cloud`] and [`Endpoints`]. Output: [`ResolvedEndpoints`] or an [`EndpointError`].

use crate::source::model::{Cloud, Endpoints};

/// Where a tenant's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEndpoints {
    /// Token endpoint base, without a trailing slash (`https://login.microsoftonline.com`).
    pub login: String,
    /// Graph base, without a trailing slash (`https://graph.microsoft.com`).
    pub graph: String,
    /// The scope to ask for: `<graph>/.default`.
    pub scope: String,
}

impl ResolvedEndpoints {
    /// The token endpoint of a tenant.
    pub fn token_url(&self, tenant_id: &str) -> String {
        format!("{}/{tenant_id}/oauth2/v2.0/token", self.login)
    }
}

/// An endpoint tenantform refuses to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not an http(s) URL.
    #[error("endpoint \"{0}\" is not an http:// or https:// URL")]
    NotHttp(String),
    /// Plain http to a host that is not loopback.
    #[error(
        "endpoint \"{0}\" uses plain http to a host that is not loopback; use https (plain http is allowed only for 127.0.0.1, ::1 and localhost, e.g. the simulator)"
    )]
    PlainHttpNotLoopback(String),
}

/// The public hosts of each cloud: (login, graph).
pub fn cloud_hosts(cloud: Cloud) -> (&'static str, &'static str) {
    match cloud {
        Cloud::Global => (
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ),
        Cloud::UsGov => (
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
        Cloud::UsGovDod => (
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        ),
        Cloud::China => (
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
    }
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next();
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

/// True for 127.0.0.0/8, ::1 and localhost.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

/// Check one endpoint URL.
pub fn check_endpoint(url: &str) -> Result<String, EndpointError> {
    let trimmed = url.trim_end_matches('/').to_string();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(trimmed);
    }
    if !lower.starts_with("http://") {
        return Err(EndpointError::NotHttp(url.to_string()));
    }
    match host_of(&trimmed) {
        Some(host) if is_loopback_host(host) => Ok(trimmed),
        _ => Err(EndpointError::PlainHttpNotLoopback(url.to_string())),
    }
}

/// A tenant's endpoints: its cloud's hosts, with overrides applied and checked.
pub fn resolve(cloud: Cloud, overrides: &Endpoints) -> Result<ResolvedEndpoints, EndpointError> {
    let (login, graph) = cloud_hosts(cloud);
    let login = check_endpoint(overrides.login.as_deref().unwrap_or(login))?;
    let graph = check_endpoint(overrides.graph.as_deref().unwrap_or(graph))?;
    let scope = format!("{graph}/.default");
    Ok(ResolvedEndpoints {
        login,
        graph,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_hosts_and_scope() {
        let e = resolve(Cloud::UsGovDod, &Endpoints::default()).expect("ok");
        assert_eq!(e.login, "https://login.microsoftonline.us");
        assert_eq!(e.scope, "https://dod-graph.microsoft.us/.default");
        let e = resolve(Cloud::China, &Endpoints::default()).expect("ok");
        assert_eq!(
            e.token_url("t"),
            "https://login.chinacloudapi.cn/t/oauth2/v2.0/token"
        );
        assert_eq!(e.scope, "https://microsoftgraph.chinacloudapi.cn/.default");
    }

    #[test]
    fn overrides_reach_the_simulator_on_loopback() {
        let overrides = Endpoints {
            login: Some("http://127.0.0.1:8400/".into()),
            graph: Some("http://[::1]:8400".into()),
        };
        let e = resolve(Cloud::Global, &overrides).expect("ok");
        assert_eq!(e.login, "http://127.0.0.1:8400");
        assert_eq!(e.scope, "http://[::1]:8400/.default");
        assert!(check_endpoint("http://localhost:1/x").is_ok());
    }

    #[test]
    fn plain_http_to_other_hosts_is_refused() {
        for url in [
            "http://graph.example.com",
            "http://10.0.0.5:8400",
            "http://127.0.0.1.evil.example",
            "http://user@example.com",
        ] {
            assert_eq!(
                check_endpoint(url),
                Err(EndpointError::PlainHttpNotLoopback(url.into())),
                "{url}"
            );
        }
        assert!(matches!(
            check_endpoint("ftp://x"),
            Err(EndpointError::NotHttp(_))
        ));
    }
}
