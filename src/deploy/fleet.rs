//! The fleet a deploy or plan works on: the loaded project (with its engine, schemas, today's
//! date and the secrets' environment), the [`Target`]s a selection picks, stable shares of a
//! fleet (`--shard K/N`) and the waves rings make.
//!
//! Input: a project directory and a selection. Output: a [`Fleet`] and its [`Target`]s, in
//! waves; a directory that is not a project is a [`FleetError`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::compile::render::Engine;
use crate::compile::validate::{SchemaError, Schemas, ValidatedBundle};
use crate::deploy::slim::{SharedSlims, Slim};
use crate::report::{Event, Reporter};
use crate::source::project::{LoadError, ProjectSource, TenantEntry};

/// Why a fleet could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The directory is not a project.
    #[error(transparent)]
    Project(#[from] LoadError),
    /// The shipped schemas are broken (a build defect).
    #[error(transparent)]
    Schemas(#[from] SchemaError),
}

/// The loaded project every tenant task reads.
pub struct Fleet {
    /// The project directory.
    pub dir: PathBuf,
    /// The project.
    pub project: ProjectSource,
    /// Its template engine.
    pub engine: Engine,
    /// Schemas.
    pub schemas: &'static Schemas,
    /// Today (override expiry).
    pub today: jiff::civil::Date,
    /// Environment lookup for `client_secret_env` (injected: tests and the demo never touch the
    /// process environment).
    pub env: EnvLookup,
    /// Operations per tenant, recorded by [`Fleet::validate`] (to start the largest first).
    sizes: Mutex<HashMap<String, usize>>,
    /// What [`Fleet::validate`] compiled, kept for the run (see [`KeptBundles`]).
    kept: KeptBundles,
}

/// How much distinct operation text [`KeptBundles`] keeps at most. Tenants on the same
/// baselines and parameters share one set (a thousand tenants of the shipped baselines keep a
/// few hundred KB); a fleet whose every tenant differs keeps the first ones up to this, and the
/// others are compiled again when their turn comes.
const KEPT_BUNDLES_BUDGET: usize = 16 << 20;

/// The slim operations and bundle hash of each tenant [`Fleet::validate`] compiled, so that
/// plan and deploy do not compile a tenant a second time in the same run (it was a fifth of a
/// re-plan's CPU). Sets are shared by content ([`SharedSlims`]) and bounded by
/// [`KEPT_BUNDLES_BUDGET`].
#[derive(Debug, Default)]
struct KeptBundles {
    slims: SharedSlims,
    kept: Mutex<KeptByTenant>,
}

/// What validation kept of one tenant's bundle.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    /// The bundle's content hash.
    pub(crate) bundle_hash: String,
    /// Its operations, shared by content.
    pub(crate) slim: Arc<Slim>,
    /// The resources it skips, with the reasons.
    pub(crate) skipped: Vec<crate::report::Skip>,
}

/// Tenant id → what was kept; the distinct sets kept (by address: each stays alive in
/// `by_tenant`) and their bytes.
#[derive(Debug, Default)]
struct KeptByTenant {
    by_tenant: HashMap<String, Kept>,
    distinct: std::collections::HashSet<usize>,
    /// The distinct operations and bodies those sets hold (by address), each counted once
    /// however many sets share it.
    distinct_operations: std::collections::HashSet<usize>,
    distinct_bodies: std::collections::HashSet<usize>,
    bytes: usize,
}

impl KeptBundles {
    /// Whether `tenant`'s bundle is kept.
    fn holds(&self, tenant: &str) -> bool {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.by_tenant.contains_key(tenant)
    }

    fn keep(&self, bundle: &ValidatedBundle) {
        let slim = self.slims.share_bundle(bundle);
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        // A set no other tenant kept yet costs its lists and the operations and bodies no
        // kept set has yet; one already kept costs nothing more.
        let address = Arc::as_ptr(&slim) as usize;
        if !kept.distinct.contains(&address) {
            // One pass: each operation's and body's address once (a set may hold one body
            // twice), counted when no kept set has it yet.
            let mut new_operations: Vec<usize> = Vec::new();
            let mut new_bodies: Vec<usize> = Vec::new();
            let mut size = slim.operations.len() * 2 * std::mem::size_of::<usize>();
            for op in &slim.operations {
                let at = Arc::as_ptr(op) as usize;
                if !kept.distinct_operations.contains(&at) && !new_operations.contains(&at) {
                    new_operations.push(at);
                    size += crate::deploy::slim::OPERATION_BYTES;
                }
            }
            for body in &slim.bodies {
                let at = Arc::as_ptr(body).cast::<u8>() as usize;
                if !kept.distinct_bodies.contains(&at) && !new_bodies.contains(&at) {
                    new_bodies.push(at);
                    size += body.len();
                }
            }
            if kept.bytes + size > KEPT_BUNDLES_BUDGET {
                return;
            }
            kept.bytes += size;
            kept.distinct.insert(address);
            kept.distinct_operations.extend(new_operations);
            kept.distinct_bodies.extend(new_bodies);
        }
        kept.by_tenant.insert(
            bundle.bundle().tenant.id.clone(),
            Kept {
                bundle_hash: bundle.content_hash().to_string(),
                slim,
                skipped: bundle.bundle().skips(),
            },
        );
    }
}

/// Records each compiled tenant's operation count.
struct SizeRecorder<'a>(&'a mut HashMap<String, usize>);

impl Reporter for SizeRecorder<'_> {
    fn event(&mut self, event: Event<'_>) {
        if let Event::TenantCompiled { outcome } = event {
            self.0.insert(outcome.id.clone(), outcome.operations);
        }
    }
}

/// Looks up an environment variable by name (for `client_secret_env`).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Secrets' environment lookup: the process environment.
pub fn process_env() -> EnvLookup {
    Box::new(|name: &str| std::env::var(name).ok())
}

impl Fleet {
    /// The project's `[state]` (the default, local files, without one).
    pub fn state_settings(&self) -> crate::source::model::StateSettings {
        self.project
            .config
            .as_ref()
            .map(|c| c.state.clone())
            .unwrap_or_default()
    }

    /// Load a project; a directory that is not a project is an error. The
    /// diagnostics of loading (and template parsing) come back with the fleet.
    pub fn load(
        dir: &Path,
        today: jiff::civil::Date,
        env: EnvLookup,
    ) -> Result<(Fleet, crate::diag::Diagnostics), FleetError> {
        let (project, mut diagnostics) = crate::source::project::load(dir)?;
        let (engine, template_diags) = Engine::new(&project);
        diagnostics.extend(template_diags);
        let schemas = Schemas::shared()?;
        Ok((
            Fleet {
                dir: dir.to_path_buf(),
                project,
                engine,
                schemas,
                today,
                env,
                sizes: Mutex::new(HashMap::new()),
                kept: KeptBundles::default(),
            },
            diagnostics,
        ))
    }

    /// Validate the selected tenants (nothing is written); the summary's diagnostics include
    /// the loading ones passed in.
    pub fn validate(
        &self,
        selection: &crate::compile::Selection,
        load_diagnostics: crate::diag::Diagnostics,
    ) -> crate::compile::CompileSummary {
        self.validate_reading_ahead(selection, load_diagnostics, None)
    }

    /// [`Fleet::validate`], starting each tenant's reads in `ahead` as soon as its bundle has
    /// validated (a run that only compares: `plan`, `drift`).
    pub fn validate_reading_ahead(
        &self,
        selection: &crate::compile::Selection,
        load_diagnostics: crate::diag::Diagnostics,
        ahead: Option<&crate::deploy::ahead::ReadAhead>,
    ) -> crate::compile::CompileSummary {
        let options = crate::compile::CompileOptions {
            out_dir: None,
            selection: selection.clone(),
            strict: false,
            jobs: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            today: self.today,
            allow_empty: false,
        };
        let mut sizes = HashMap::new();
        let keep = |bundle: &ValidatedBundle, tenant: &crate::source::model::Tenant| {
            self.kept.keep(bundle);
            if let Some(ahead) = ahead {
                ahead.start(self, tenant, bundle);
            }
        };
        // Reading ahead, the heaviest tenants validate first: their reads start first.
        let order = if ahead.is_some() {
            crate::compile::fleet::Order::HeaviestFirst
        } else {
            crate::compile::fleet::Order::File
        };
        let mut summary = crate::compile::fleet::compile_in_order(
            &self.project,
            &self.engine,
            self.schemas,
            &options,
            &mut SizeRecorder(&mut sizes),
            Some(&keep),
            order,
        );
        *self.sizes.lock().unwrap_or_else(|p| p.into_inner()) = sizes;
        let mut diagnostics = load_diagnostics;
        diagnostics.extend(summary.diagnostics.iter().cloned());
        diagnostics.coalesce();
        summary.diagnostics = diagnostics;
        summary
    }

    /// Whether validation kept `tenant`'s bundle (so preparing it compiles nothing).
    pub(crate) fn is_kept(&self, tenant: &str) -> bool {
        self.kept.holds(tenant)
    }

    /// The bundle hash and slim operations [`Fleet::validate`] kept of a tenant, if it did.
    pub(crate) fn kept(&self, tenant: &str) -> Option<Kept> {
        let kept = self.kept.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.by_tenant.get(tenant).cloned()
    }

    /// The targets a selection picks (in file order), weighed by their operation counts when
    /// [`Fleet::validate`] has run.
    pub fn targets(&self, selection: &crate::compile::Selection) -> Vec<Target> {
        let sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
        self.project
            .tenants
            .iter()
            .filter(|t| selection.includes(t))
            .map(|entry| Target {
                weight: sizes.get(&entry.id).copied().unwrap_or(0),
                ..Target::of(entry)
            })
            .collect()
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What a saved plan (`deploy --plan`) saw of a tenant: a tenant whose bundle or live objects
/// are not these any more is refused, naming what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// The bundle's content hash.
    pub bundle_hash: String,
    /// The live objects' fingerprint.
    pub live_fingerprint: String,
    /// Per resource, what the plan would have done and the live object it saw.
    pub resources: Vec<crate::live::stale::SeenResource>,
}

/// One tenant to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// With `--plan`: what the plan saw of the tenant.
    pub expected: Option<Expected>,
    /// How much work it is (its operation count; 0 when unknown): within a ring the heaviest
    /// tenants start first, so the ones that take longest are not also the last to begin.
    #[serde(default)]
    pub weight: usize,
}

impl Target {
    /// A target for a project's tenant entry.
    pub fn of(entry: &TenantEntry) -> Target {
        Target {
            id: entry.id.clone(),
            name: entry.name.clone(),
            ring: entry.ring.clone(),
            expected: None,
            weight: 0,
        }
    }
}

/// A stable share of the fleet: `--shard K/N` keeps the tenants whose id hashes to K-1 mod N.
pub fn in_shard(tenant_id: &str, k: usize, n: usize) -> bool {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(tenant_id.to_ascii_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = n.max(1) as u64;
    (u64::from_be_bytes(first) % n) as usize == k.saturating_sub(1)
}

/// Group targets into waves: the rings in the order given (tenants of other rings are left
/// out), or one wave of all; within a wave the heaviest tenants come first.
pub fn waves(targets: Vec<Target>, rings: Option<&[String]>) -> Vec<(String, Vec<Target>)> {
    let mut waves = ring_waves(targets, rings);
    for (_, targets) in &mut waves {
        // Longest first (the makespan heuristic): stable, so equal weights keep file order.
        targets.sort_by_key(|t| std::cmp::Reverse(t.weight));
    }
    waves
}

fn ring_waves(targets: Vec<Target>, rings: Option<&[String]>) -> Vec<(String, Vec<Target>)> {
    match rings {
        None => vec![("all".to_string(), targets)],
        Some(rings) => rings
            .iter()
            .map(|ring| {
                (
                    ring.clone(),
                    targets
                        .iter()
                        .filter(|t| &t.ring == ring)
                        .cloned()
                        .collect(),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_keeps_each_tenant_as_compiling_it_again_would() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        crate::source::init::init(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let today = jiff::civil::date(2026, 12, 6);
        let (fleet, loaded) =
            Fleet::load(dir.path(), today, process_env()).unwrap_or_else(|e| panic!("{e}"));
        let summary = fleet.validate(&crate::compile::Selection::default(), loaded);
        assert!(summary.failed.is_empty() && summary.compiled == 3);
        for entry in &fleet.project.tenants {
            let Kept {
                bundle_hash: hash,
                slim: kept,
                skipped,
            } = fleet
                .kept(&entry.id)
                .unwrap_or_else(|| panic!("{} was not kept", entry.id));
            let tenant = fleet
                .project
                .tenant(entry)
                .unwrap_or_else(|| panic!("tenant"));
            let again = crate::compile::compile_tenant(
                &fleet.project,
                &fleet.engine,
                fleet.schemas,
                &tenant,
                false,
                today,
            )
            .bundle
            .unwrap_or_else(|| panic!("{} compiles", entry.id));
            assert_eq!(hash, again.content_hash());
            assert_eq!(
                format!("{skipped:?}"),
                format!("{:?}", again.bundle().skips())
            );
            let again = SharedSlims::default().share(&again.bundle().operations);
            assert_eq!(kept.bodies, again.bodies, "{}", entry.id);
            assert_eq!(
                format!("{:?}", kept.operations),
                format!("{:?}", again.operations)
            );
        }
        assert!(fleet.kept("not-a-tenant").is_none());
    }

    #[test]
    fn kept_sets_count_each_distinct_operation_and_body_once_against_their_budget() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let kept = KeptBundles::default();
        kept.keep(&bundle);
        let slim = kept.slims.share_bundle(&bundle);
        let mut distinct: Vec<*const u8> = slim
            .bodies
            .iter()
            .map(|b| Arc::as_ptr(b).cast::<u8>())
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let body_bytes: usize = distinct
            .iter()
            .map(|at| {
                slim.bodies
                    .iter()
                    .find(|b| Arc::as_ptr(b).cast::<u8>() == *at)
                    .map_or(0, |b| b.len())
            })
            .sum();
        let lists = slim.operations.len() * 2 * std::mem::size_of::<usize>();
        let operation_bytes = slim.operations.len() * crate::deploy::slim::OPERATION_BYTES;
        let expected = lists + operation_bytes + body_bytes;
        let bytes = |kept: &KeptBundles| kept.kept.lock().map(|k| k.bytes).unwrap_or(0);
        assert_eq!(bytes(&kept), expected);
        assert!(body_bytes > 0);
        // A set already kept (another tenant with the same bundle) costs nothing more.
        kept.keep(&bundle);
        assert_eq!(bytes(&kept), expected);
        assert!(kept.holds(&bundle.bundle().tenant.id));
    }

    #[test]
    fn shards_split_the_fleet_stably_and_completely() {
        let ids: Vec<String> = (0..200).map(|i| format!("tenant-{i}")).collect();
        let mut seen = 0;
        for k in 1..=3 {
            let share = ids.iter().filter(|id| in_shard(id, k, 3)).count();
            assert!(share > 40, "shard {k} has {share}");
            seen += share;
        }
        assert_eq!(seen, 200);
        assert_eq!(in_shard("A-B", 2, 3), in_shard("a-b", 2, 3));
    }

    #[test]
    fn waves_follow_the_ring_order_and_leave_other_rings_out() {
        let t = |id: &str, ring: &str| Target {
            id: id.into(),
            name: id.into(),
            ring: ring.into(),
            expected: None,
            weight: 0,
        };
        let targets = vec![t("a", "broad"), t("b", "pilot"), t("c", "other")];
        let w = waves(targets.clone(), Some(&["pilot".into(), "broad".into()]));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].1, vec![t("b", "pilot")]);
        assert_eq!(w[1].1, vec![t("a", "broad")]);
        assert_eq!(waves(targets.clone(), None)[0].1.len(), 3);
        let heavy = Target {
            weight: 40,
            ..t("c", "pilot")
        };
        let w = waves(vec![t("a", "pilot"), heavy.clone(), t("b", "pilot")], None);
        let order: Vec<&str> = w[0].1.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(order, ["c", "a", "b"]);
    }
}
