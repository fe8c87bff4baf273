//! `tenantform sim`: a local Microsoft Graph that behaves like the real one on the wire, for
//! tests, demos and users' CI. Facts it follows: `../shared/graph-wire-facts.md` (sections 1-8).
//!
//! Input: a [`SimConfig`]. Output: an HTTP server on one address serving the token endpoint
//! (`/{tenant}/oauth2/v2.0/token`) and its discovery documents, Graph (`/v1.0`, `/beta`,
//! `$batch`) for every kind of the registry plus the organization and users, and
//! introspection (`/_sim/...`). It is a library type ([`Simulator`]) that tests
//! start in-process on an ephemeral port, and a subcommand.
//!
//! Layout (one concern per file):
//! - `clock.rs`: injected time ([`clock::Clock`]); `--time-scale` shortens every window.
//! - `throttle/`: Graph's published limits (`limits.rs`) as token buckets, and the throttle
//!   headers.
//! - `faults.rs`: seeded 500/503/504/dropped connections and jittered latency.
//! - `tls.rs`: `--tls`, a generated certificate for clients that refuse plain HTTP.
//! - `server.rs`: the accept loop, dispatch, and dropping a connection on purpose.
//! - `service.rs`: the shared state and the per-request pipeline (auth, fault, route,
//!   throttle, permission, handler, log).
//! - `auth.rs`: the token endpoint (secret and certificate assertions) and bearer checks;
//!   `signing.rs`: the RS256 token signing key (kept in `--state-dir`); `minting.rs`: each
//!   tenant's next token signed ahead in spare CPU time; `discovery.rs`: the
//!   OpenID metadata, the JWKS and instance discovery that MSAL reads first.
//! - `routes.rs`: Graph's URL space derived from the kinds registry.
//! - `graph/`: resource semantics (reads in `mod.rs`, `write.rs`, path `targets.rs`: CRUD,
//!   singletons, upsert, `/assign`, soft delete).
//! - `query.rs`: `$filter`, `$select`, `$top`, `$expand`, `$skiptoken`.
//! - `bodies.rs`: request bodies against the generated schemas and the service's rules;
//!   defaults filled in; evolvable enums masked.
//! - `batch.rs`: JSON batching.
//! - `state.rs`, `defaults.rs`, `packed.rs`: tenants, their objects (packed JSON), birth
//!   defaults, the state file.
//! - `log.rs`, `introspect.rs`: the request log and `/_sim/...`.
//! - `wire.rs`, `seeded.rs`: response shapes and headers; seeded ids and shuffles.
//!
//! Time: token expiry and replication delay read the injected clock ([`SimConfig::clock`]);
//! `--time-scale` shortens throttling windows and the Retry-After of injected 503s. Timestamps in objects are the wall clock at
//! start plus the injected clock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod clock;
pub mod faults;
pub mod throttle;
pub mod tls;

mod audit;
mod auth;
mod batch;
mod bodies;
mod defaults;
mod discovery;
mod graph;
mod introspect;
mod log;
mod minting;
mod packed;
mod query;
mod routes;
mod seeded;
mod server;
mod service;
mod signing;
mod stall;
mod state;
mod wire;

pub use signing::SigningKeyError;
pub use state::StateFileError;

use crate::sim::clock::{Clock, SystemClock};
use crate::sim::faults::{Fault, FaultConfig, Faults};
use crate::sim::service::{App, AppParts};
use crate::sim::throttle::{Throttle, ThrottleConfig};

/// The client id of the simulator's app unless `--client-id` says otherwise (the same id
/// `tenantform init` writes into its example tenants).
pub const DEFAULT_CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c11e";

/// The simulator's well-known client secret unless `--client-secret` says otherwise. It is
/// public on purpose: it only ever unlocks a local simulator.
pub const DEFAULT_CLIENT_SECRET: &str = "tenantform-sim-well-known-secret";

/// The environment variable the tenants file of `--fleet-out` names for the client secret.
pub const FLEET_SECRET_ENV: &str = "TENANTFORM_SIM_CLIENT_SECRET";

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free one (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Number of simulated tenants (default 3).
    pub tenants: usize,
    /// The app's client id (default [`DEFAULT_CLIENT_ID`]).
    pub client_id: String,
    /// The app's client secret (default [`DEFAULT_CLIENT_SECRET`]).
    pub client_secret: String,
    /// A PEM X.509 certificate registered for the app: client assertions signed by its key are
    /// accepted (default none).
    pub client_certificate_pem: Option<String>,
    /// Throttling windows are this many times shorter (default 1.0).
    pub time_scale: f64,
    /// Mean added latency per Graph request, in milliseconds (default 0).
    pub latency_ms: u64,
    /// Fraction (0..=1) of Graph requests answered with a fault (default 0).
    pub fault_rate: f64,
    /// New objects stay invisible to reads and references for this long, in milliseconds of
    /// the injected clock (not scaled by `time_scale`; default 0).
    pub replication_delay_ms: u64,
    /// Lifetime of issued tokens in seconds (`expires_in`, default 3599).
    pub token_lifetime_s: u64,
    /// How long an audit entry takes to appear in the audit logs after its change, in Graph
    /// time (divided by `time_scale`, like the throttling windows; Graph: minutes, up to an
    /// hour; default 0 here, `tenantform sim --audit-delay` defaults to 10 s).
    pub audit_delay: Duration,
    /// How long the directory audit log keeps an entry, in Graph time (divided by
    /// `time_scale`): Entra keeps 7 days on Free, 30 on P1/P2 (default 30 days). Intune's
    /// audit events are kept a year.
    pub audit_retention: Duration,
    /// Per-tenant directory audit retention, as (tenant index, retention), over
    /// `audit_retention` (a Free tenant among P1 ones: 7 days).
    pub audit_retention_by_tenant: Vec<(usize, Duration)>,
    /// Seed of tenant ids, object ids, fault draws and batch orders (default 0).
    pub seed: u64,
    /// Load state from here on start and save it here on shutdown (default none).
    pub state_dir: Option<PathBuf>,
    /// Apply Graph's throttling limits (default true).
    pub throttling: bool,
    /// Permissions withdrawn from tenants, as (tenant index, permission) (default none).
    pub withdrawn: Vec<(usize, String)>,
    /// Service plans turned off in tenants' SKUs, as (tenant index, plan) (default none: every
    /// tenant has Entra ID P1 and P2 and Intune Plan 1).
    pub withdrawn_plans: Vec<(usize, String)>,
    /// Page size of lists without `$top` (default 100).
    pub page_size: usize,
    /// Requests kept in the request log across all tenants (default 10,000; counts are kept
    /// regardless).
    pub request_log_capacity: usize,
    /// Time source for token expiry, replication delay and throttling (default real time).
    pub clock: Arc<dyn Clock>,
    /// Serve HTTPS with a certificate generated at start; the authority's PEM is written to
    /// this path so clients can trust it.
    pub tls_cert_out: Option<PathBuf>,
    /// The proportions of fault kinds among faults (default [`faults::FaultMix::default`]; its
    /// `time_scale` is replaced by this configuration's).
    pub fault_mix: faults::FaultMix,
}

/// Seconds in a day (audit retention).
pub const DAY_S: u64 = 24 * 60 * 60;

/// How long Intune keeps its audit events (drift-facts.md section 2: a year).
pub const INTUNE_AUDIT_RETENTION: Duration = Duration::from_secs(365 * DAY_S);

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenants: 3,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            client_certificate_pem: None,
            time_scale: 1.0,
            latency_ms: 0,
            fault_rate: 0.0,
            replication_delay_ms: 0,
            token_lifetime_s: 3599,
            audit_delay: Duration::ZERO,
            audit_retention: Duration::from_secs(30 * DAY_S),
            audit_retention_by_tenant: Vec::new(),
            seed: 0,
            state_dir: None,
            throttling: true,
            withdrawn: Vec::new(),
            withdrawn_plans: Vec::new(),
            page_size: 100,
            request_log_capacity: 10_000,
            clock: Arc::new(SystemClock::new()),
            tls_cert_out: None,
            fault_mix: faults::FaultMix::default(),
        }
    }
}

/// Why the simulator could not start or save.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A configuration value is out of range.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The generated schemas are missing or broken (a build defect).
    #[error("the embedded schemas cannot be compiled: {0}")]
    Schemas(String),
    /// The registered client certificate cannot be used.
    #[error("the client certificate cannot be used: {0}")]
    Certificate(String),
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The state file could not be read or written.
    #[error(transparent)]
    State(#[from] StateFileError),
    /// A runtime for a background simulator could not be built.
    #[error("cannot start the simulator's runtime: {0}")]
    Runtime(std::io::Error),
    /// The TLS certificate could not be made or written.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The token signing key could not be made, read or written.
    #[error(transparent)]
    Signing(#[from] SigningKeyError),
}

/// One simulated tenant, as introspection shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTenant {
    /// Position in the fleet (0-based).
    pub index: usize,
    /// Tenant id (GUID).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

fn validate_config(config: &SimConfig) -> Result<(), SimError> {
    let bad = |m: String| Err(SimError::Config(m));
    if config.tenants == 0 {
        return bad("--tenants must be at least 1".into());
    }
    if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
        return bad(format!(
            "--time-scale must be a positive number, got {}",
            config.time_scale
        ));
    }
    if !(0.0..=1.0).contains(&config.fault_rate) {
        return bad(format!(
            "--fault-rate must be between 0 and 1, got {}",
            config.fault_rate
        ));
    }
    if config.page_size == 0 || config.page_size > query::MAX_TOP {
        return bad(format!(
            "the page size must be between 1 and {}",
            query::MAX_TOP
        ));
    }
    if config.token_lifetime_s == 0 {
        return bad("--token-lifetime-s must be at least 1".into());
    }
    for (index, retention) in &config.audit_retention_by_tenant {
        if *index >= config.tenants {
            return bad(format!(
                "--audit-retention {index}:{}: tenant index {index} is out of range (0..{})",
                retention.as_secs() / DAY_S,
                config.tenants
            ));
        }
    }
    let known = state::consented_permissions();
    for (index, permission) in &config.withdrawn {
        if *index >= config.tenants {
            return bad(format!(
                "--withdraw {index}:{permission}: tenant index {index} is out of range (0..{})",
                config.tenants
            ));
        }
        if !known.iter().any(|p| p.eq_ignore_ascii_case(permission)) {
            return bad(format!(
                "--withdraw {index}:{permission}: unknown permission; the app is consented {}",
                known.join(", ")
            ));
        }
    }
    let plans = graph::licensing::plan_names();
    for (index, plan) in &config.withdrawn_plans {
        if *index >= config.tenants {
            return bad(format!(
                "--withdraw-plan {index}:{plan}: tenant index {index} is out of range (0..{})",
                config.tenants
            ));
        }
        if !plans.iter().any(|p| p.eq_ignore_ascii_case(plan)) {
            return bad(format!(
                "--withdraw-plan {index}:{plan}: unknown service plan; the tenants have {}",
                plans.join(", ")
            ));
        }
    }
    Ok(())
}

impl Simulator {
    /// Bind, load state (with `state_dir`), and serve on the current tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        validate_config(&config)?;
        let schemas = bodies::schemas().map_err(SimError::Schemas)?;
        let certificate = config
            .client_certificate_pem
            .as_deref()
            .map(auth::RegisteredCertificate::from_pem)
            .transpose()
            .map_err(SimError::Certificate)?;
        let seed_text = config.seed.to_string();
        let identities = state::fleet_identities(&seed_text, config.tenants);
        let mut saved = match &config.state_dir {
            Some(dir) => state::load(dir, &schemas)?,
            None => Default::default(),
        };
        let withdrawn = state::withdrawn_by_index(&config.withdrawn);
        let mut tenants = Vec::with_capacity(identities.len());
        for (index, (id, name)) in identities.iter().enumerate() {
            let restored = saved.remove(id.as_str());
            let mut permissions = withdrawn.get(&index).cloned().unwrap_or_default();
            if let Some(restored) = &restored {
                for p in &restored.withdrawn {
                    if !permissions.iter().any(|q| q.eq_ignore_ascii_case(p)) {
                        permissions.push(p.clone());
                    }
                }
            }
            let tenant = state::Tenant::new(index, id, name, permissions);
            tenant.set_withdrawn_plans(
                config
                    .withdrawn_plans
                    .iter()
                    .filter(|(i, _)| *i == index)
                    .map(|(_, plan)| plan.clone())
                    .collect(),
            );
            if let Some(restored) = restored {
                *tenant.lock() = restored.state;
            }
            tenants.push(tenant);
        }
        if let (Some(dir), Some(unknown)) = (&config.state_dir, saved.keys().next()) {
            return Err(StateFileError::UnknownTenant {
                path: dir.join(state::STATE_FILE),
                tenant: unknown.clone(),
                count: config.tenants,
            }
            .into());
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let tls = match &config.tls_cert_out {
            Some(path) => Some(tls::tls_acceptor_with_alpn(path, &[b"h2", b"http/1.1"])?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let throttle = Throttle::new(
            ThrottleConfig {
                enabled: config.throttling,
                time_scale: config.time_scale,
            },
            config.clock.clone(),
        );
        let faults = Faults::with_mix(
            FaultConfig {
                fault_rate: config.fault_rate,
                latency: Duration::from_millis(config.latency_ms),
                seed: config.seed,
            },
            faults::FaultMix {
                time_scale: config.time_scale,
                ..config.fault_mix.clone()
            },
        );
        let signing = signing::SigningKey::load_or_create(config.state_dir.as_deref())?;
        let issuer = auth::Issuer::new(
            &config.client_id,
            &config.client_secret,
            certificate,
            signing,
            config.token_lifetime_s,
        );
        let app = Arc::new(App::new(AppParts {
            config,
            base_url,
            tenants,
            schemas,
            throttle,
            faults,
            issuer,
        }));
        let (shutdown, receiver) = watch::channel(false);
        let acceptor = tls.map(|(acceptor, _)| acceptor);
        let task = tokio::spawn(server::accept_loop(
            listener,
            acceptor,
            app.clone(),
            receiver,
        ));
        Ok(SimHandle {
            app,
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
            runtime: None,
        })
    }

    /// Start a simulator on its own runtime (two worker threads), for synchronous callers
    /// such as the test suite. Dropping the handle stops it.
    pub fn spawn_in_background(config: SimConfig) -> Result<SimHandle, SimError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tenantform-sim")
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        let mut handle = runtime.block_on(Simulator::start(config))?;
        handle.runtime = Some(runtime);
        Ok(handle)
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    app: Arc<App>,
    addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl SimHandle {
    /// The address it listens on (the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: the base of the token endpoint and of Graph (`{base}/v1.0`).
    pub fn base_url(&self) -> String {
        self.app.base_url.clone()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.app.config
    }

    /// The simulated tenants.
    pub fn tenants(&self) -> Vec<SimTenant> {
        self.app
            .tenants
            .iter()
            .map(|t| SimTenant {
                index: t.index,
                id: t.id.to_string(),
                name: t.name.to_string(),
            })
            .collect()
    }

    /// Every object of a tenant by kind (what `GET /_sim/tenants/{id}/state` returns).
    pub fn tenant_state(&self, tenant_id: &str) -> Option<Value> {
        let tenant = self.app.tenant(tenant_id)?;
        Some(self.app.tenant_state(tenant))
    }

    /// Make one change as an administrator in the portal would (what
    /// `POST /_sim/tenants/{id}/portal` does): `change` is `{"method", "path", "body", "user"}`.
    /// Returns the HTTP status Graph answered and its body; `None` for an unknown tenant.
    pub fn portal_change(&self, tenant_id: &str, change: &Value) -> Option<(u16, String)> {
        let tenant = self.app.tenant(tenant_id)?;
        let reply = introspect::portal_change(&self.app, tenant, change.to_string().as_bytes());
        let body = match &reply.body {
            wire::ReplyBody::Json(text) => text.clone(),
            _ => String::new(),
        };
        Some((reply.status, body))
    }

    /// The request log (what `GET /_sim/requests[?tenant=ID]` returns); `None` for all tenants.
    pub fn request_log(&self, tenant_id: Option<&str>) -> Option<Value> {
        let ids_of = |i: usize| {
            self.app
                .tenants
                .get(i)
                .map(|t| t.id.to_string())
                .unwrap_or_default()
        };
        match tenant_id {
            Some(id) => {
                let tenant = self.app.tenant(id)?;
                Some(self.app.log.to_json(Some(tenant.index), &ids_of))
            }
            None => Some(self.app.log.to_json(None, &ids_of)),
        }
    }

    /// Seed a user in a tenant (what `POST /_sim/tenants/{id}/users` does): `user` is
    /// `{"userPrincipalName", "displayName"?, "department"?, "groups"?: [id or uniqueName]}`.
    /// Returns the user, or why not (`None` for an unknown tenant).
    pub fn seed_user(&self, tenant_id: &str, user: &Value) -> Option<Result<Value, String>> {
        let tenant = self.app.tenant(tenant_id)?;
        Some(
            graph::sync::seed_user(&self.app, tenant, user).map_err(|reply| match &reply.body {
                wire::ReplyBody::Json(text) => text.clone(),
                _ => format!("status {}", reply.status),
            }),
        )
    }

    /// Run a provisioning cycle of every started job of a tenant now (what
    /// `POST /_sim/tenants/{id}/sync/run` does); how many jobs ran (`None`: unknown tenant).
    pub fn run_sync_cycle(&self, tenant_id: &str) -> Option<usize> {
        let tenant = self.app.tenant(tenant_id)?;
        Some(graph::sync::run_all(&self.app, tenant, self.app.now_ms()))
    }

    /// Every tenant back to its birth state (`POST /_sim/reset`).
    pub fn reset(&self) {
        self.app.reset();
    }

    /// Answer the next Graph requests with these faults, in order (before random draws).
    pub fn inject_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        if let Ok(mut queue) = self.app.forced_faults.lock() {
            queue.extend(faults);
        }
    }

    /// A tenants file for a project (`--fleet-out`): every simulated tenant with `init`'s
    /// example profiles, pointed at this simulator, naming [`FLEET_SECRET_ENV`] for the secret.
    pub fn fleet_tenants_toml(&self) -> String {
        let config = &self.app.config;
        let endpoints = crate::source::init::TenantEndpoints {
            login: Some(self.app.base_url.clone()),
            graph: Some(self.app.base_url.clone()),
            client_id: Some(config.client_id.clone()),
        };
        let generated = crate::source::init::fleet_tenants_toml(
            &config.seed.to_string(),
            config.tenants,
            &endpoints,
        );
        let secret_line = if config.client_secret == DEFAULT_CLIENT_SECRET {
            format!(
                "#   export {FLEET_SECRET_ENV}='{DEFAULT_CLIENT_SECRET}'   (the simulator's public, well-known secret)\n"
            )
        } else {
            format!(
                "#   export {FLEET_SECRET_ENV}=<the --client-secret the simulator was started with>\n"
            )
        };
        let mut out = format!(
            "# Tenants served by `tenantform sim` at {base} (seed {seed}, {count} {noun}).\n\
             # Every tenant authenticates as app {client} with the secret in ${FLEET_SECRET_ENV}:\n\
             {secret_line}\
             # Tenants cycle through the three example profiles of `tenantform init`.\n\
             # Copy this file into a project's tenants/ directory (remove init's example tenants first).\n\n",
            base = self.app.base_url,
            seed = config.seed,
            count = config.tenants,
            noun = if config.tenants == 1 {
                "tenant"
            } else {
                "tenants"
            },
            client = config.client_id,
        );
        let body = generated
            .strip_prefix(
                "# Generated fleet: tenants cycle through init's three example profiles.\n\n",
            )
            .unwrap_or(&generated);
        for line in body.lines() {
            if line.starts_with("client_secret_env = ") {
                out.push_str(&format!("client_secret_env = \"{FLEET_SECRET_ENV}\"\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Save the state now (with `state_dir`); returns the file written.
    pub fn save_state(&self) -> Result<Option<PathBuf>, SimError> {
        match &self.app.config.state_dir {
            Some(dir) => Ok(Some(state::save(dir, &self.app.tenants)?)),
            None => Ok(None),
        }
    }

    async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stop accepting, drain requests in flight, and save the state (with `state_dir`).
    pub async fn shutdown(mut self) -> Result<Option<PathBuf>, SimError> {
        self.stop().await;
        self.save_state()
    }

    /// [`SimHandle::shutdown`] for synchronous callers (a background simulator, or a handle
    /// whose runtime is gone).
    pub fn shutdown_blocking(mut self) -> Result<Option<PathBuf>, SimError> {
        match self.runtime.take() {
            Some(runtime) => {
                runtime.block_on(self.stop());
                runtime.shutdown_background();
            }
            None => {
                if let Some(shutdown) = self.shutdown.take() {
                    let _ = shutdown.send(true);
                }
            }
        }
        self.save_state()
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
