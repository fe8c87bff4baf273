//! Benchmarks that ship in the binary (`tenantform bench ...`): generate a fleet project, run a
//! stage over it, and measure throughput and peak memory. Figures, not assertions: tests assert
//! behaviour, this module measures it.
//!
//! Input: a fleet size. Output: a [`CompileBench`] report (the CLI prints it). The simulator's
//! benchmark is [`sim`] (`tenantform bench sim`); a whole fleet deployed against the simulator,
//! timed against Graph's limits, is [`deploy`] (`tenantform bench deploy`); the fleet dashboard
//! over a generated run history is [`report`] (`tenantform bench report`); one hub's
//! cross-tenant synchronization links to many spokes is [`links`] (`tenantform bench links`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::compile::render::Engine;
use crate::compile::validate::Schemas;
use crate::compile::{self, CompileOptions, Selection};
use crate::report::Silent;
use crate::source::init::{self, TenantEndpoints};
use crate::source::project;

pub mod azurite;
pub mod deploy;
mod http;
pub mod links;
pub mod report;
pub mod sim;
pub mod state;

/// Figures from one compile benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CompileBench {
    /// Tenants in the fleet.
    pub tenants: usize,
    /// Tenants that compiled (all of them, or the benchmark is wrong).
    pub compiled: usize,
    /// Validated operations written.
    pub operations: usize,
    /// Worker threads.
    pub jobs: usize,
    /// Load + template parse time.
    pub load: Duration,
    /// Resolve + render + bundle + validate + write time.
    pub compile: Duration,
    /// Validated operations per second over `compile`.
    pub operations_per_second: f64,
    /// Time serde_json takes to serialize and write the same bundles (the floor).
    pub serde_floor: Duration,
    /// `compile / serde_floor`.
    pub ratio_to_floor: f64,
    /// Peak resident memory of the process during load and compile, in MiB (VmHWM).
    pub peak_rss_mib: Option<f64>,
    /// Peak resident memory at the end of loading, in MiB.
    pub load_peak_rss_mib: Option<f64>,
    /// The generated project.
    pub project_dir: PathBuf,
    /// Where the bundles were written.
    pub out_dir: PathBuf,
}

/// Errors of a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Filesystem.
    #[error("benchmark I/O on {}: {source}", path.display())]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The generated project did not load.
    #[error("the generated project did not load: {0}")]
    Load(String),
    /// Schemas.
    #[error(transparent)]
    Schema(#[from] crate::compile::validate::SchemaError),
    /// The simulator, or the load generator talking to it.
    #[error("simulator benchmark: {0}")]
    Sim(String),
    /// The deploy benchmark: its options, its simulator child or its client.
    #[error("deploy benchmark: {0}")]
    Deploy(String),
    /// The report benchmark: the report child, its site, or the browser measuring it.
    #[error("report benchmark: {0}")]
    Report(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Peak resident set size of this process so far (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("self", "VmHWM:")
}

/// A memory field (`VmHWM:`, `VmRSS:`) of `/proc/PROCESS/status` (`self` or a pid), in MiB.
fn status_mib(process: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user and system) a process has used so far, seconds, from `/proc/<process>/stat`
/// (`self` or a pid; Linux only, `None` elsewhere).
pub(crate) fn cpu_seconds(process: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // The fields after the command name (in parentheses, which may hold spaces): state is
    // the first, utime the twelfth, stime the thirteenth (fields 14 and 15 of proc(5)).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

/// Reset the peak RSS counter (Linux; ignored elsewhere).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Write a project with `tenants` generated tenants into `dir`.
pub fn write_fleet_project(dir: &Path, tenants: usize) -> Result<(), BenchError> {
    write_project_with_tenants(
        dir,
        &init::fleet_tenants_toml("bench", tenants, &TenantEndpoints::default()),
    )
}

/// Write `init`'s project (shipped baselines, no example tenants) into `dir`, with
/// `tenants/fleet.toml` holding `tenants_toml`.
pub fn write_project_with_tenants(dir: &Path, tenants_toml: &str) -> Result<(), BenchError> {
    for (rel, text) in init::project_files() {
        if rel.starts_with("tenants/") {
            continue;
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let tenants_dir = dir.join("tenants");
    std::fs::create_dir_all(&tenants_dir).map_err(io(&tenants_dir))?;
    let fleet = tenants_dir.join("fleet.toml");
    std::fs::write(&fleet, tenants_toml).map_err(io(&fleet))?;
    Ok(())
}

/// Compile and validate a generated fleet of `tenants` in `work_dir` with `jobs` threads.
pub fn compile_fleet(
    work_dir: &Path,
    tenants: usize,
    jobs: usize,
    today: jiff::civil::Date,
) -> Result<CompileBench, BenchError> {
    let project_dir = work_dir.join("project");
    let out_dir = work_dir.join("out");
    let floor_dir = work_dir.join("floor");
    write_fleet_project(&project_dir, tenants)?;
    std::fs::create_dir_all(&floor_dir).map_err(io(&floor_dir))?;

    reset_peak_rss();
    let started = Instant::now();
    let (project, diags) =
        project::load(&project_dir).map_err(|e| BenchError::Load(e.to_string()))?;
    if diags.has_errors() {
        return Err(BenchError::Load(format!("{} errors", diags.error_count())));
    }
    let (engine, _) = Engine::new(&project);
    let schemas = Schemas::shared()?;
    let load = started.elapsed();
    let load_peak = peak_rss_mib();

    let options = CompileOptions {
        out_dir: Some(out_dir.clone()),
        selection: Selection::All,
        strict: true,
        jobs,
        today,
        allow_empty: false,
    };
    let started = Instant::now();
    let summary = compile::compile(&project, &engine, schemas, &options, &mut Silent);
    let compile = started.elapsed();
    let peak = peak_rss_mib();
    drop(project);
    let written: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .map_err(io(&out_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();

    // The floor: serde_json writing the same bundles (parsed back, untimed, one at a time).
    let mut serde_floor = Duration::ZERO;
    for path in &written {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| BenchError::Load(e.to_string()))?;
        let target = floor_dir.join(path.file_name().unwrap_or_default());
        let t = Instant::now();
        let bytes =
            serde_json::to_vec_pretty(&value).map_err(|e| BenchError::Load(e.to_string()))?;
        std::fs::write(&target, bytes).map_err(io(&target))?;
        serde_floor += t.elapsed();
    }
    let secs = compile.as_secs_f64().max(1e-9);
    Ok(CompileBench {
        tenants,
        compiled: summary.compiled,
        operations: summary.operations,
        jobs,
        load,
        compile,
        operations_per_second: summary.operations as f64 / secs,
        serde_floor,
        ratio_to_floor: secs / serde_floor.as_secs_f64().max(1e-9),
        peak_rss_mib: peak,
        load_peak_rss_mib: load_peak,
        project_dir,
        out_dir,
    })
}
