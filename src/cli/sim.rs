//! `tenantform sim`: run the local Graph simulator until interrupted.
//!
//! Input: the flags below (turned into a [`SimConfig`] before anything starts). Output: the
//! first stdout line `listening on http://ADDR`, then a few lines about the tenants; on
//! SIGINT/SIGTERM a clean shutdown (state saved with `--state-dir`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use tenantform::sim::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FLEET_SECRET_ENV, SimConfig, SimError, Simulator,
};

use super::{err, exit, out};

const AFTER_HELP: &str = "\
The simulator serves, on one address:
  POST /{tenant}/oauth2/v2.0/token   client credentials (secret or certificate assertion)
  /v1.0/... and /beta/...            every resource kind of `tenantform kinds`, and $batch
  /_sim/...                          introspection: tenants, state, request log, reset, faults

The app is consented in every tenant with the permissions the kinds need. Unless
--client-id/--client-secret say otherwise it is:
  client id      00000000-0000-4000-8000-00000000c11e
  client secret  tenantform-sim-well-known-secret   (public on purpose: it only unlocks a simulator)

Example: a simulator and a project that deploys to it
  tenantform sim --tenants 3 --fleet-out fleet.toml &
  tenantform init my-msp && rm my-msp/tenants/*.toml && cp fleet.toml my-msp/tenants/
  export TENANTFORM_SIM_CLIENT_SECRET=tenantform-sim-well-known-secret
  tenantform validate -p my-msp

Get a token and read a tenant's policies with curl:
  curl -s -d grant_type=client_credentials -d client_id=00000000-0000-4000-8000-00000000c11e \\
       -d client_secret=tenantform-sim-well-known-secret \\
       -d scope=https://graph.microsoft.com/.default http://ADDR/TENANT_ID/oauth2/v2.0/token
  curl -s -H \"Authorization: Bearer $TOKEN\" http://ADDR/v1.0/identity/conditionalAccess/policies

Throttling follows Graph's published limits (Conditional Access 1 request/s per tenant without
Retry-After, Intune 100 writes/20 s per app and tenant, identity resource units, 130,000
requests/10 s per app); --time-scale 10 makes every window 10 times shorter.";

/// Arguments of `sim`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// Address to listen on; port 0 picks a free port (the first stdout line names it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Number of simulated tenants. Their ids derive from --seed exactly as a generated fleet's.
    #[arg(long, value_name = "N", default_value_t = 3)]
    tenants: usize,
    /// Write the tenants as a tenants file for a project, pointed at this simulator.
    #[arg(long, value_name = "FILE")]
    fleet_out: Option<PathBuf>,
    /// The app's client id.
    #[arg(long, value_name = "ID", default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// The app's client secret (the default is public and well known).
    #[arg(long, value_name = "SECRET", default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// A PEM X.509 certificate registered for the app: client assertions signed with its key
    /// (PS256 + x5t#S256, or RS256 + x5t) are accepted.
    #[arg(long, value_name = "PEM")]
    client_certificate: Option<PathBuf>,
    /// Make every throttling window this many times shorter (Retry-After too).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    time_scale: f64,
    /// Mean added latency per Graph request, in milliseconds (jittered).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0 to 1) of Graph requests answered with 500, 503, 504, a dropped connection,
    /// or a lost response (applied, then the connection drops) (seeded).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    fault_rate: f64,
    /// Hide new objects from reads and references for this many milliseconds, as Entra's
    /// eventual consistency does.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    replication_delay_ms: u64,
    /// Seconds (Graph time, divided by --time-scale) before a change's audit entry appears in
    /// the audit logs; Graph takes minutes, up to an hour.
    #[arg(long, value_name = "S", default_value_t = 10)]
    audit_delay: u64,
    /// Days (Graph time, divided by --time-scale) the directory audit log keeps an entry:
    /// 30 on Entra ID P1/P2, 7 on Free. Intune's audit events are kept a year.
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    audit_retention_days: u64,
    /// One tenant's directory audit retention (0-based index), e.g. `--audit-retention 1:7`
    /// for a Free tenant; repeatable.
    #[arg(long = "audit-retention", value_name = "TENANT_INDEX:DAYS", value_parser = parse_retention)]
    audit_retention: Vec<(usize, u64)>,
    /// Lifetime of issued tokens in seconds.
    #[arg(long, value_name = "S", default_value_t = 3599)]
    token_lifetime_s: u64,
    /// Seed of tenant ids, object ids, faults and batch orders.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Load state from DIR/state.jsonl on start and save it there on shutdown.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Admit every request (for benchmarking the simulator itself).
    #[arg(long)]
    no_throttling: bool,
    /// Serve HTTPS (HTTP/1.1 and h2) with a certificate generated at start for localhost,
    /// 127.0.0.1 and ::1; the signing authority's PEM is written to CERT_OUT for clients to trust.
    #[arg(long, value_name = "CERT_OUT")]
    tls: Option<PathBuf>,
    /// Withdraw a permission from one tenant (0-based index), e.g.
    /// `--withdraw 1:Policy.ReadWrite.ConditionalAccess`; repeatable.
    #[arg(long = "withdraw", value_name = "TENANT_INDEX:PERMISSION", value_parser = parse_withdraw)]
    withdraw: Vec<(usize, String)>,
    /// Turn a service plan off in one tenant's licences (0-based index), e.g.
    /// `--withdraw-plan 0:AAD_PREMIUM_P2` for a tenant without Entra ID P2; repeatable. Every
    /// tenant otherwise has AAD_PREMIUM, AAD_PREMIUM_P2 and INTUNE_A.
    #[arg(long = "withdraw-plan", value_name = "TENANT_INDEX:PLAN", value_parser = parse_withdraw)]
    withdraw_plan: Vec<(usize, String)>,
}

fn parse_withdraw(text: &str) -> Result<(usize, String), String> {
    let (index, permission) = text
        .split_once(':')
        .ok_or_else(|| format!("expected TENANT_INDEX:PERMISSION, got `{text}`"))?;
    let index = index
        .trim()
        .parse()
        .map_err(|_| format!("`{index}` is not a tenant index (0, 1, ...)"))?;
    if permission.trim().is_empty() {
        return Err("the permission is empty".into());
    }
    Ok((index, permission.trim().to_string()))
}

fn parse_retention(text: &str) -> Result<(usize, u64), String> {
    let (index, days) = text
        .split_once(':')
        .ok_or_else(|| format!("expected TENANT_INDEX:DAYS, got `{text}`"))?;
    let index = index
        .trim()
        .parse()
        .map_err(|_| format!("`{index}` is not a tenant index (0, 1, ...)"))?;
    let days: u64 = days
        .trim()
        .parse()
        .map_err(|_| format!("`{days}` is not a number of days"))?;
    if !(1..=3650).contains(&days) {
        return Err(format!(
            "{days} days: expected 1 to 3650 (Entra keeps 7 or 30)"
        ));
    }
    Ok((index, days))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let client_certificate_pem = match &args.client_certificate {
        Some(path) => match tenantform::text::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                err(&format!(
                    "error: cannot read --client-certificate {}: {e}\n",
                    path.display()
                ));
                return Ok(exit::USAGE);
            }
        },
        None => None,
    };
    let config = SimConfig {
        listen: args.listen,
        tenants: args.tenants,
        client_id: args.client_id,
        client_secret: args.client_secret,
        client_certificate_pem,
        time_scale: args.time_scale,
        latency_ms: args.latency_ms,
        fault_rate: args.fault_rate,
        replication_delay_ms: args.replication_delay_ms,
        token_lifetime_s: args.token_lifetime_s,
        audit_delay: std::time::Duration::from_secs(args.audit_delay),
        audit_retention: std::time::Duration::from_secs(
            args.audit_retention_days * tenantform::sim::DAY_S,
        ),
        audit_retention_by_tenant: args
            .audit_retention
            .iter()
            .map(|(i, d)| {
                (
                    *i,
                    std::time::Duration::from_secs(d * tenantform::sim::DAY_S),
                )
            })
            .collect(),
        seed: args.seed,
        state_dir: args.state_dir,
        throttling: !args.no_throttling,
        withdrawn: args.withdraw,
        withdrawn_plans: args.withdraw_plan,
        tls_cert_out: args.tls.clone(),
        ..SimConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tenantform-sim")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let handle = match Simulator::start(config).await {
            Ok(handle) => handle,
            Err(e @ (SimError::Config(_) | SimError::Certificate(_))) => {
                err(&format!("error: {e}\n"));
                return Ok(exit::USAGE);
            }
            Err(e @ (SimError::State(_) | SimError::Tls(_))) => {
                err(&format!("error: {e}\n"));
                return Ok(exit::INVALID_INPUT);
            }
            Err(e @ SimError::Bind { .. }) => {
                err(&format!(
                    "error: {e}\n  choose another --listen address (port 0 picks a free port)\n"
                ));
                return Ok(exit::INVALID_INPUT);
            }
            Err(e) => return Err(anyhow::Error::new(e)),
        };
        out(&format!("listening on {}\n", handle.base_url()));
        let tenants = handle.tenants();
        out(&format!(
            "{} tenants (seed {}), app {}; Graph at {}/v1.0, tokens at {}/{{tenant}}/oauth2/v2.0/token\n",
            tenants.len(),
            handle.config().seed,
            handle.config().client_id,
            handle.base_url(),
            handle.base_url(),
        ));
        if let Some(first) = tenants.first() {
            out(&format!("first tenant: {} ({})\n", first.id, first.name));
        }
        if let Some(path) = &args.tls {
            out(&format!(
                "TLS: clients trust the certificate authority written to {}\n",
                path.display()
            ));
        }
        if let Some(path) = &args.fleet_out {
            if let Err(e) = std::fs::write(path, handle.fleet_tenants_toml()) {
                err(&format!("error: cannot write --fleet-out {}: {e}\n", path.display()));
                let _ = handle.shutdown().await;
                return Ok(exit::INVALID_INPUT);
            }
            out(&format!(
                "tenants file written to {} (set {FLEET_SECRET_ENV} to the app's secret)\n",
                path.display()
            ));
        }
        wait_for_signal().await;
        let saved = handle.shutdown().await?;
        match saved {
            Some(path) => out(&format!("stopped; state saved to {}\n", path.display())),
            None => out("stopped\n"),
        }
        Ok(exit::OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_retention_is_an_index_and_days_from_1_to_3650() {
        assert_eq!(parse_retention("1:7"), Ok((1, 7)));
        assert_eq!(parse_retention(" 0 : 30 "), Ok((0, 30)));
        for (bad, says) in [
            ("7", "expected TENANT_INDEX:DAYS"),
            ("x:7", "is not a tenant index"),
            ("1:week", "is not a number of days"),
            ("1:0", "expected 1 to 3650"),
            ("1:4000", "expected 1 to 3650"),
        ] {
            let e = parse_retention(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
