//! `tenantform bench sim`: how fast the simulator answers and how much memory a fleet's state
//! takes, measured in one process on this machine's cores.
//!
//! Input: [`SimBenchOptions`]. Output: a [`SimBench`] report (the CLI prints it).
//!
//! Phases, each against a simulator started in-process with throttling off:
//! 1. **GET** a singleton (`/v1.0/policies/authorizationPolicy`) and a policy list
//!    (`/v1.0/identity/conditionalAccess/policies`), cycling over the tenants' tokens.
//! 2. **POST** valid bodies that the simulator validates against the generated schemas:
//!    IP named locations and security groups, cycling over the tenants.
//! 3. **Memory**: a fresh simulator with `memory_tenants` tenants; the shipped baselines
//!    compiled for that fleet (init's example profiles, as `--fleet-out` writes them) are
//!    deployed over HTTP, references resolved as a deployer would; then the resident memory.
//!
//! The load generator (`bench/http.rs`) runs in the same process and on the same tokio runtime
//! as the simulator: a keep-alive HTTP/1.1 connection per task, one request in flight each. It
//! competes with the simulator for the same two cores, so the figures are a lower bound of
//! what an external client would see.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, Connection};
use super::{BenchError, peak_rss_mib};
use crate::sim::{SimConfig, SimHandle, Simulator};

/// What to run.
#[derive(Debug, Clone)]
pub struct SimBenchOptions {
    /// Tenants the GET and POST phases cycle over.
    pub tenants: usize,
    /// Measured seconds per GET/POST phase (after a one-second warm-up); 0 skips them.
    pub seconds: f64,
    /// Concurrent keep-alive connections of the load generator.
    pub connections: usize,
    /// Tenants of the memory phase (0 skips it).
    pub memory_tenants: usize,
    /// Where the memory phase's project and bundles go (removed by the caller).
    pub work_dir: PathBuf,
    /// Worker threads of the runtime shared by simulator and load generator (default: cores).
    pub threads: Option<usize>,
    /// Today, for the compile step's override expiry.
    pub today: jiff::civil::Date,
}

impl Default for SimBenchOptions {
    fn default() -> Self {
        SimBenchOptions {
            tenants: 100,
            seconds: 10.0,
            connections: 32,
            memory_tenants: 10_000,
            work_dir: std::env::temp_dir().join("tenantform-bench-sim"),
            threads: None,
            today: jiff::Zoned::now().date(),
        }
    }
}

/// Figures of one load phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadFigures {
    /// What was sent.
    pub label: String,
    /// Connections.
    pub connections: usize,
    /// Tenants cycled over.
    pub tenants: usize,
    /// Measured wall time, seconds.
    pub seconds: f64,
    /// Responses completed in the measured time.
    pub requests: u64,
    /// Responses with the expected status.
    pub ok: u64,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Connection errors (reconnected).
    pub transport_errors: u64,
    /// Expected-status responses per second.
    pub requests_per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

/// Figures of the memory phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemoryFigures {
    /// Tenants in the simulator.
    pub tenants: usize,
    /// Compiling the fleet's bundles (not part of the simulator's cost), seconds.
    pub compile_seconds: f64,
    /// Operations deployed (requests that succeeded).
    pub operations: u64,
    /// Operations that failed (should be 0).
    pub failed: u64,
    /// A few failures, for diagnosis.
    pub failure_samples: Vec<String>,
    /// Deploy wall time, seconds (tokens included).
    pub deploy_seconds: f64,
    /// Deployed operations per second.
    pub operations_per_second: f64,
    /// Resident memory with the simulator started, before deploying (MiB).
    pub rss_before_mib: Option<f64>,
    /// Resident memory after deploying (MiB).
    pub rss_after_mib: Option<f64>,
    /// Peak resident memory from the simulator's start to the end of the deploy (MiB).
    pub peak_rss_mib: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimBench {
    /// Runtime worker threads.
    pub threads: usize,
    /// Load phases.
    pub load: Vec<LoadFigures>,
    /// Memory phase.
    pub memory: Option<MemoryFigures>,
}

/// A running simulator as the benchmark sees it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) tenants: Vec<String>,
}

/// Resident memory now (Linux `VmRSS`), MiB.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Fetch one token per tenant (client credentials), `connections` at a time.
pub(crate) async fn tokens(
    target: &Target,
    tenants: &[String],
    connections: usize,
) -> Result<Vec<String>, BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let tenants: Arc<Vec<String>> = Arc::new(tenants.to_vec());
    let mut tasks = Vec::new();
    for _ in 0..connections.clamp(1, tenants.len().max(1)) {
        let next = Arc::clone(&next);
        let tenants = Arc::clone(&tenants);
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::new(target.addr);
            let mut got = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(tenant) = tenants.get(i) else { break };
                let body = format!(
                    "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
                    form_encode(&target.client_id),
                    form_encode(&target.client_secret),
                    form_encode("https://graph.microsoft.com/.default"),
                );
                let request = http::request(
                    "POST",
                    &target.host,
                    &format!("/{tenant}/oauth2/v2.0/token"),
                    "",
                    Some(("application/x-www-form-urlencoded", body.as_bytes())),
                );
                let response = conn
                    .send(&request, true)
                    .await
                    .map_err(|e| BenchError::Sim(format!("token request: {e}")))?;
                let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
                let Some(token) = value.get("access_token").and_then(Value::as_str) else {
                    return Err(BenchError::Sim(format!(
                        "token for {tenant}: HTTP {} {}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                    )));
                };
                got.push((i, token.to_string()));
            }
            Ok::<_, BenchError>(got)
        }));
    }
    let mut out = vec![String::new(); tenants.len()];
    for task in tasks {
        let got = task
            .await
            .map_err(|e| BenchError::Sim(format!("token task: {e}")))??;
        for (i, token) in got {
            out[i] = token;
        }
    }
    Ok(out)
}

/// Builds request `n` for connection `c`.
type MakeRequest = dyn Fn(usize, u64) -> Vec<u8> + Send + Sync;

/// Run one load phase: `connections` tasks send requests made by `make` until the deadline.
pub(crate) async fn drive(
    label: &str,
    target: &Target,
    connections: usize,
    tenants: usize,
    measured: Duration,
    expect: u16,
    make: Arc<MakeRequest>,
) -> Result<LoadFigures, BenchError> {
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measured;
    let mut tasks = Vec::new();
    for c in 0..connections.max(1) {
        let make = Arc::clone(&make);
        let addr = target.addr;
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::new(addr);
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 14);
            let mut statuses: HashMap<u16, u64> = HashMap::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let request = make(c, n);
                n += 1;
                let result = conn.send(&request, false).await;
                let done = Instant::now();
                if done < measure_from || done > end {
                    continue;
                }
                match result {
                    Ok(response) => {
                        *statuses.entry(response.status).or_default() += 1;
                        let micros = (done - sent).as_micros();
                        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    Err(_) => {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (latencies, statuses, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut transport_errors = 0;
    for task in tasks {
        let (l, s, e) = task
            .await
            .map_err(|e| BenchError::Sim(format!("load task: {e}")))?;
        latencies.extend(l);
        for (status, count) in s {
            *statuses.entry(status).or_default() += count;
        }
        transport_errors += e;
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[i.min(latencies.len() - 1)]) / 1000.0
    };
    let seconds = measured.as_secs_f64();
    let ok = statuses.get(&expect).copied().unwrap_or(0);
    Ok(LoadFigures {
        label: label.to_string(),
        connections,
        tenants,
        seconds,
        requests: latencies.len() as u64,
        ok,
        statuses,
        transport_errors,
        requests_per_second: ok as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
    })
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\nAccept: application/json\r\n")
}

/// GET `path` (under `/v1.0`) cycling over the tenants' tokens.
pub(crate) fn get_requests(target: &Target, tokens: &[String], path: &str) -> Arc<MakeRequest> {
    let prebuilt: Vec<Vec<u8>> = tokens
        .iter()
        .map(|t| http::request("GET", &target.host, path, &bearer(t), None))
        .collect();
    let count = prebuilt.len().max(1);
    Arc::new(move |c, n| {
        let i = (c + (n as usize).wrapping_mul(7919)) % count;
        prebuilt.get(i).cloned().unwrap_or_default()
    })
}

/// POST a JSON body made by `body(connection, n)` to `path`, cycling over tenants.
fn post_requests(
    target: &Target,
    tokens: &[String],
    path: &'static str,
    body: fn(usize, u64) -> String,
) -> Arc<MakeRequest> {
    let headers: Vec<String> = tokens.iter().map(|t| bearer(t)).collect();
    let host = target.host.clone();
    let count = headers.len().max(1);
    Arc::new(move |c, n| {
        let i = (c + (n as usize).wrapping_mul(7919)) % count;
        let body = body(c, n);
        http::request(
            "POST",
            &host,
            path,
            headers.get(i).map_or("", String::as_str),
            Some(("application/json", body.as_bytes())),
        )
    })
}

/// POST valid IP named locations, cycling over tenants.
pub(crate) fn named_location_requests(target: &Target, tokens: &[String]) -> Arc<MakeRequest> {
    post_requests(
        target,
        tokens,
        "/v1.0/identity/conditionalAccess/namedLocations",
        |c, n| {
            format!(
                concat!(
                    r##"{{"@odata.type":"#microsoft.graph.ipNamedLocation","displayName":"bench {}-{}","##,
                    r##""isTrusted":false,"ipRanges":[{{"@odata.type":"#microsoft.graph.iPv4CidrRange","##,
                    r##""cidrAddress":"203.0.{}.0/24"}}]}}"##
                ),
                c,
                n,
                n % 256
            )
        },
    )
}

/// POST valid security groups, cycling over tenants.
pub(crate) fn group_requests(target: &Target, tokens: &[String]) -> Arc<MakeRequest> {
    post_requests(target, tokens, "/v1.0/groups", |c, n| {
        format!(
            concat!(
                r#"{{"displayName":"bench group {}-{}","mailEnabled":false,"#,
                r#""mailNickname":"bench-{}-{}","securityEnabled":true,"groupTypes":[],"#,
                r#""uniqueName":"bench-{}-{}"}}"#
            ),
            c, n, c, n, c, n
        )
    })
}

/// Replace every `${ref:KIND:KEY}` in `text` with the id deployed for KEY.
fn substitute(text: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${ref:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated reference in {text}"));
        };
        let reference = &after[..end];
        let key = reference.split_once(':').map_or(reference, |(_, k)| k);
        let id = ids
            .get(key)
            .ok_or_else(|| format!("reference to {key} before it was deployed"))?;
        out.push_str(id);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_value(value: &mut Value, ids: &HashMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) if s.contains("${ref:") => {
            *s = substitute(s, ids)?;
        }
        Value::Array(items) => {
            for item in items {
                substitute_value(item, ids)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                substitute_value(item, ids)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Deploy one compiled bundle (its JSON) in order over `conn`, as a deployer would on a fresh
/// tenant: create everything, resolve references to the ids the simulator returned.
pub(crate) async fn deploy_bundle(
    conn: &mut Connection,
    host: &str,
    token: &str,
    bundle: &Value,
) -> Result<u64, String> {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut done = 0;
    let auth = bearer(token);
    let operations = bundle
        .get("operations")
        .and_then(Value::as_array)
        .ok_or("bundle without operations")?;
    for op in operations {
        let field = |name: &str| op.get(name).and_then(Value::as_str).unwrap_or_default();
        let (key, method, version) = (field("key"), field("method"), field("api_version"));
        let path = substitute(field("path"), &ids)?;
        let mut body = op.get("body").cloned().unwrap_or(Value::Null);
        substitute_value(&mut body, &ids)?;
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let mut headers = auth.clone();
        if let Some(prefer) = op.get("prefer").and_then(Value::as_str) {
            headers.push_str(&format!("Prefer: {prefer}\r\n"));
        }
        let request = http::request(
            method,
            host,
            &format!("/{version}{path}"),
            &headers,
            Some(("application/json", &body)),
        );
        let response = conn
            .send(&request, true)
            .await
            .map_err(|e| format!("{key}: {e}"))?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "{key}: {method} {path}: HTTP {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        if let Ok(value) = serde_json::from_slice::<Value>(&response.body)
            && let Some(id) = value.get("id").and_then(Value::as_str)
        {
            ids.insert(key.to_string(), id.to_string());
        }
        done += 1;
    }
    Ok(done)
}

/// The ceiling of this harness: the same load generator against an axum server that answers
/// every request with a fixed small JSON body and does nothing else.
pub(crate) async fn ceiling(
    connections: usize,
    measured: Duration,
) -> Result<LoadFigures, BenchError> {
    let app = axum::Router::new().fallback(|| async {
        (
            [("content-type", "application/json")],
            r#"{"@odata.context":"x","id":"authorizationPolicy"}"#,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| BenchError::Sim(format!("bind: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| BenchError::Sim(format!("bind: {e}")))?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let target = Target {
        addr,
        host: addr.to_string(),
        client_id: String::new(),
        client_secret: String::new(),
        tenants: Vec::new(),
    };
    let tokens = vec!["x".repeat(600)];
    let make = get_requests(&target, &tokens, "/v1.0/policies/authorizationPolicy");
    let figures = drive(
        "GET, fixed answer (harness ceiling)",
        &target,
        connections,
        0,
        measured,
        200,
        make,
    )
    .await;
    server.abort();
    figures
}

/// Compile the shipped baselines for a simulator fleet of `tenants` (seed `seed`) into
/// `work_dir/out`; returns the bundle directory and the seconds it took.
fn compile_sim_fleet(
    work_dir: &Path,
    tenants: usize,
    seed: u64,
    today: jiff::civil::Date,
    jobs: usize,
) -> Result<(PathBuf, f64), BenchError> {
    let started = Instant::now();
    let project_dir = work_dir.join("project");
    let out_dir = work_dir.join("out");
    // The simulator's tenants are `init`'s fleet for its seed (what `--fleet-out` writes);
    // endpoints do not matter to compiling.
    let toml = crate::source::init::fleet_tenants_toml(
        &seed.to_string(),
        tenants,
        &crate::source::init::TenantEndpoints::default(),
    );
    super::write_project_with_tenants(&project_dir, &toml)?;
    let (project, diags) =
        crate::source::project::load(&project_dir).map_err(|e| BenchError::Load(e.to_string()))?;
    if diags.has_errors() {
        return Err(BenchError::Load(format!("{} errors", diags.error_count())));
    }
    let (engine, _) = crate::compile::render::Engine::new(&project);
    let schemas = crate::compile::validate::Schemas::shared()?;
    let options = crate::compile::CompileOptions {
        out_dir: Some(out_dir.clone()),
        selection: crate::compile::Selection::All,
        strict: true,
        jobs,
        today,
        allow_empty: false,
    };
    let summary = crate::compile::compile(
        &project,
        &engine,
        schemas,
        &options,
        &mut crate::report::Silent,
    );
    let _ = summary;
    Ok((out_dir, started.elapsed().as_secs_f64()))
}

fn sim_config(tenants: usize) -> SimConfig {
    SimConfig {
        tenants,
        throttling: false,
        ..SimConfig::default()
    }
}

async fn start(tenants: usize) -> Result<(SimHandle, Target), BenchError> {
    let config = sim_config(tenants);
    let handle = Simulator::start(config)
        .await
        .map_err(|e| BenchError::Sim(e.to_string()))?;
    let target = Target {
        addr: handle.addr(),
        host: handle.addr().to_string(),
        client_id: handle.config().client_id.clone(),
        client_secret: handle.config().client_secret.clone(),
        tenants: handle.tenants().into_iter().map(|t| t.id).collect(),
    };
    Ok((handle, target))
}

/// Deploy every tenant's bundle from `bundles` over `connections` connections.
async fn deploy_fleet(
    target: &Target,
    tokens: Vec<String>,
    bundles: &Path,
    connections: usize,
) -> Result<(u64, u64, Vec<String>), BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new((target.clone(), tokens, bundles.to_path_buf()));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let next = Arc::clone(&next);
        let shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            let (target, tokens, dir) = &*shared;
            let mut conn = Connection::new(target.addr);
            let (mut ok, mut failed, mut samples) = (0u64, 0u64, Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(tenant) = target.tenants.get(i) else {
                    break;
                };
                let path = dir.join(format!("{tenant}.json"));
                let bundle: Value = match std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                {
                    Ok(b) => b,
                    Err(e) => {
                        failed += 1;
                        if samples.len() < 3 {
                            samples.push(format!("{}: {e}", path.display()));
                        }
                        continue;
                    }
                };
                let token = tokens.get(i).map_or("", String::as_str);
                match deploy_bundle(&mut conn, &target.host, token, &bundle).await {
                    Ok(n) => ok += n,
                    Err(e) => {
                        failed += 1;
                        if samples.len() < 3 {
                            samples.push(format!("tenant {tenant}: {e}"));
                        }
                    }
                }
            }
            (ok, failed, samples)
        }));
    }
    let (mut ok, mut failed, mut samples) = (0, 0, Vec::new());
    for task in tasks {
        let (o, f, s) = task
            .await
            .map_err(|e| BenchError::Sim(format!("deploy task: {e}")))?;
        ok += o;
        failed += f;
        samples.extend(s);
    }
    samples.truncate(5);
    Ok((ok, failed, samples))
}

/// Run the benchmark. `progress` receives a line per phase (the CLI shows it on stderr).
pub fn run(options: &SimBenchOptions, progress: &dyn Fn(&str)) -> Result<SimBench, BenchError> {
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Sim(format!("runtime: {e}")))?;
    let measured = Duration::from_secs_f64(options.seconds.max(0.1));
    let connections = options.connections.max(1);
    let mut load = Vec::new();
    let run_load = options.seconds > 0.0;
    runtime.block_on(async {
        if !run_load {
            return Ok(());
        }
        progress("harness ceiling (fixed answers, no simulator)");
        load.push(ceiling(connections, measured).await?);

        let tenants = options.tenants.max(1);
        progress(&format!("starting a simulator with {tenants} tenants"));
        let (handle, target) = start(tenants).await?;
        let tokens = tokens(&target, &target.tenants, connections).await?;
        let phases: [(&str, u16, Arc<MakeRequest>); 4] = [
            (
                "GET /v1.0/policies/authorizationPolicy (singleton)",
                200,
                get_requests(&target, &tokens, "/v1.0/policies/authorizationPolicy"),
            ),
            (
                "GET /v1.0/identity/conditionalAccess/policies (list)",
                200,
                get_requests(
                    &target,
                    &tokens,
                    "/v1.0/identity/conditionalAccess/policies",
                ),
            ),
            (
                "POST /v1.0/identity/conditionalAccess/namedLocations (validated create)",
                201,
                named_location_requests(&target, &tokens),
            ),
            (
                "POST /v1.0/groups (validated create)",
                201,
                group_requests(&target, &tokens),
            ),
        ];
        for (label, expect, make) in phases {
            progress(label);
            load.push(drive(label, &target, connections, tenants, measured, expect, make).await?);
        }
        drop(handle);
        Ok::<(), BenchError>(())
    })?;

    let memory = if options.memory_tenants == 0 {
        None
    } else {
        let n = options.memory_tenants;
        progress(&format!("compiling the shipped baselines for {n} tenants"));
        let (bundles, compile_seconds) =
            compile_sim_fleet(&options.work_dir, n, 0, options.today, threads)?;
        Some(runtime.block_on(async {
            super::reset_peak_rss();
            progress(&format!("starting a simulator with {n} tenants"));
            let (handle, target) = start(n).await?;
            let rss_before = rss_mib();
            progress(&format!("deploying the bundles of {n} tenants over HTTP"));
            let started = Instant::now();
            let tokens = tokens(&target, &target.tenants, connections).await?;
            let (operations, failed, failure_samples) =
                deploy_fleet(&target, tokens, &bundles, connections).await?;
            let deploy_seconds = started.elapsed().as_secs_f64();
            let figures = MemoryFigures {
                tenants: n,
                compile_seconds,
                operations,
                failed,
                failure_samples,
                deploy_seconds,
                operations_per_second: operations as f64 / deploy_seconds.max(1e-9),
                rss_before_mib: rss_before,
                rss_after_mib: rss_mib(),
                peak_rss_mib: peak_rss_mib(),
            };
            drop(handle);
            Ok::<_, BenchError>(figures)
        })?)
    };
    Ok(SimBench {
        threads,
        load,
        memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_replaced_by_deployed_ids() {
        let ids: HashMap<String, String> = [
            ("emergency-access".to_string(), "g-1".to_string()),
            ("windows".to_string(), "p-9".to_string()),
        ]
        .into();
        assert_eq!(
            substitute(
                "/deviceManagement/deviceCompliancePolicies/${ref:compliance-policy:windows}/assign",
                &ids
            ),
            Ok("/deviceManagement/deviceCompliancePolicies/p-9/assign".to_string())
        );
        let mut body =
            json!({"users": {"excludeGroups": ["${ref:group:emergency-access}"]}, "n": 1});
        substitute_value(&mut body, &ids).expect("substitute");
        assert_eq!(body, json!({"users": {"excludeGroups": ["g-1"]}, "n": 1}));
        assert!(substitute("${ref:group:missing}", &ids).is_err());
        assert!(substitute("${ref:group:open", &ids).is_err());
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode("https://graph.microsoft.com/.default"),
            "https%3A%2F%2Fgraph.microsoft.com%2F.default"
        );
    }
}
