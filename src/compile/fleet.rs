//! The compile pipeline for a fleet: for each selected tenant, `resolve` → `render` → `bundle`
//! → `validate`, and (for `compile`) write `OUT/<tenant-id>.json` atomically. Tenants stream
//! through a pool of worker threads (both cores), so memory stays flat however large the fleet;
//! each worker serializes its bundle once and hands the bytes to the calling thread, which writes
//! every file ([`write`](crate::compile::write)) while the workers go on; events reach the
//! [`Reporter`] in tenant order, so output is the same whatever the thread count.
//!
//! Input: a loaded [`ProjectSource`], the [`Engine`] and the [`Schemas`]. Output: files, events,
//! and a [`CompileSummary`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde_json::Value;

use crate::compile::bundle::{self, Bodies};
use crate::compile::render::Engine;
use crate::compile::validate::{self, Schemas, ValidateOptions, ValidatedBundle};
use crate::compile::write;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::report::{Event, FactsAssumed, Reporter, TenantOutcome};
use crate::source::Span;
use crate::source::model::Tenant;
use crate::source::project::{ProjectSource, TenantEntry};
use crate::source::resolve;

/// Which tenants a command works on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Every tenant.
    #[default]
    All,
    /// These tenant ids (or names).
    Tenants(Vec<String>),
    /// Every tenant of a ring.
    Ring(String),
}

impl Selection {
    /// True when the tenant is selected.
    pub fn includes(&self, tenant: &TenantEntry) -> bool {
        match self {
            Selection::All => true,
            Selection::Tenants(ids) => ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(&tenant.id) || id == &tenant.name),
            Selection::Ring(ring) => &tenant.ring == ring,
        }
    }
}

/// How to compile.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Where bundles go; `None` validates only.
    pub out_dir: Option<PathBuf>,
    /// Which tenants.
    pub selection: Selection,
    /// Unknown properties are errors.
    pub strict: bool,
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Today's date, for override expiry.
    pub today: jiff::civil::Date,
    /// A project without tenants is a warning, not an error (`--allow-empty`).
    pub allow_empty: bool,
}

/// The result of a compile or validate run.
#[derive(Debug, Default)]
pub struct CompileSummary {
    /// Number of tenants that compiled (their outcomes went to the reporter).
    pub compiled: usize,
    /// Tenants that failed.
    pub failed: Vec<TenantOutcome>,
    /// Every diagnostic, coalesced and sorted.
    pub diagnostics: Diagnostics,
    /// Total operations compiled.
    pub operations: usize,
    /// Bundles of earlier runs removed because their tenant could not be read (see
    /// [`ProjectSource::tenants_unlisted`]).
    pub removed_unlisted: Vec<PathBuf>,
    /// What the selected tenants' facts leave to assumption.
    pub assumed: FactsAssumed,
}

impl CompileSummary {
    /// True when nothing failed and no error was found.
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.diagnostics.has_errors()
    }
}

/// The artifacts of one tenant's compile, before writing.
#[derive(Debug)]
pub struct TenantCompilation {
    /// The validated bundle, if the tenant compiled.
    pub bundle: Option<ValidatedBundle>,
    /// Its diagnostics.
    pub diagnostics: Diagnostics,
}

/// Compile one tenant in memory (no file is written).
pub fn compile_tenant(
    project: &ProjectSource,
    engine: &Engine,
    schemas: &Schemas,
    tenant: &Tenant,
    strict: bool,
    today: jiff::civil::Date,
) -> TenantCompilation {
    compile_tenant_with(
        project,
        engine,
        schemas,
        tenant,
        strict,
        today,
        Bodies::Owned,
    )
}

/// [`compile_tenant`]; with [`Bodies::Shared`], operations made from a body the run shares
/// carry no copy of it, so the bundle is only good for writing (what [`compile`] does).
fn compile_tenant_with(
    project: &ProjectSource,
    engine: &Engine,
    schemas: &Schemas,
    tenant: &Tenant,
    strict: bool,
    today: jiff::civil::Date,
    bodies: Bodies,
) -> TenantCompilation {
    let mut diagnostics = Diagnostics::new();
    let (resolved, d) = resolve::resolve(project, tenant, today);
    diagnostics.extend(d);
    let Some(mut resolved) = resolved else {
        return TenantCompilation {
            bundle: None,
            diagnostics,
        };
    };
    let rendered = engine.render(project, &resolved);
    diagnostics.extend(rendered.diagnostics);
    let params: Vec<(Value, Span)> = resolved
        .params
        .values()
        .flat_map(|p| {
            let mut values = vec![(p.value.clone(), p.span)];
            if let Value::Array(items) = &p.value {
                values.extend(items.iter().map(|i| (i.clone(), p.span)));
            }
            values
        })
        .collect();
    let (bundle, d) = bundle::bundle_with(
        &project.sources,
        &mut resolved,
        rendered.documents,
        engine.ref_marker(),
        rendered.failed,
        bodies,
    );
    diagnostics.extend(d);
    let Some(mut bundle) = bundle else {
        return TenantCompilation {
            bundle: None,
            diagnostics,
        };
    };

    bundle.links = crate::sync::steps::for_tenant(project, &bundle.tenant.id, &bundle.operations);
    let link_diagnostics = super::links::check_link_steps(schemas, project, &bundle.links);
    if link_diagnostics.has_errors() {
        diagnostics.extend(link_diagnostics);
        return TenantCompilation {
            bundle: None,
            diagnostics,
        };
    }
    let (validated, d) = validate::validate(
        schemas,
        &project.sources,
        bundle,
        &params,
        ValidateOptions { strict },
    );
    diagnostics.extend(d);
    // Under --strict every warning (an expired override, an unknown property) fails the tenant.
    if strict && !diagnostics.is_empty() {
        diagnostics.make_strict();
        return TenantCompilation {
            bundle: None,
            diagnostics,
        };
    }
    TenantCompilation {
        bundle: validated,
        diagnostics,
    }
}

/// Bundles in `out_dir` (`<tenant-id>.json` holding a tenantform bundle) whose tenant the
/// project does not list, sorted. Only asked when a tenants file failed to load: any of them
/// may belong to a tenant of that file.
fn unlisted_bundles(out_dir: &Path, project: &ProjectSource) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out_dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|path| {
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                return false;
            };
            crate::source::model::is_guid(id)
                && !project
                    .tenants
                    .iter()
                    .any(|t| t.id.eq_ignore_ascii_case(id))
                && path.is_file()
        })
        .filter(|path| is_bundle_file(path))
        .collect();
    found.sort();
    found
}

/// True when the file holds a tenantform bundle (its `format`), so nothing else is removed.
fn is_bundle_file(path: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Head {
        format: String,
    }
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Head>(&bytes).ok())
        .is_some_and(|head| head.format == bundle::BUNDLE_FORMAT)
}

/// A tenant a worker is done with; the bundle's file bytes travel with it to the thread that
/// writes them.
struct Finished {
    index: usize,
    assumed: FactsAssumed,
    outcome: TenantOutcome,
    ok: bool,
    diagnostics: Diagnostics,
    /// The bundle's file and its bytes, when the tenant compiled and bundles are written.
    bytes: Option<(PathBuf, Vec<u8>)>,
}

impl Finished {
    /// Write the tenant's bundle, or, when it failed, remove its bundle from an earlier run (so
    /// that every file in OUT is current). The bytes are dropped once written.
    fn write(&mut self, out: &Path) {
        if let Some((path, bytes)) = self.bytes.take() {
            match write::write_if_changed(&path, &bytes) {
                Ok(_) => self.outcome.written = Some(path),
                Err(e) => {
                    self.ok = false;
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::UnreadableFile,
                            format!("cannot write the bundle of tenant {}: {e}", self.outcome.id),
                        )
                        .tenant(self.outcome.id.clone()),
                    );
                }
            }
        }
        if !self.ok {
            let stale = write::bundle_path(out, &self.outcome.id);
            if stale.is_file() && std::fs::remove_file(&stale).is_ok() {
                self.outcome.written = None;
                self.outcome.removed_stale = true;
            }
        }
    }
}

/// A `--tenant` that names no tenant, or a `--ring` that has none, is an error (not an empty
/// run): one diagnostic per name that matches nothing, with the closest name as help. The
/// command line is at fault, not the project, so the CLI checks this before anything else.
pub fn unmatched_selection(project: &ProjectSource, selection: &Selection) -> Vec<Diagnostic> {
    let entries = &project.tenants;
    match selection {
        Selection::All => Vec::new(),
        Selection::Tenants(ids) => ids
            .iter()
            .filter(|id| {
                !entries
                    .iter()
                    .any(|t| id.eq_ignore_ascii_case(&t.id) || *id == &t.name)
            })
            .map(|id| {
                let mut d = Diagnostic::error(
                    Code::InvalidValue,
                    format!("--tenant {id}: no tenant of the project has this id or name"),
                );
                if let Some(s) =
                    crate::source::model::did_you_mean(id, entries.iter().map(|t| t.name.as_str()))
                {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                d
            })
            .collect(),
        Selection::Ring(ring) => unknown_rings(project, "--ring", std::slice::from_ref(ring)),
    }
}

/// The rings in `rings` (given with `flag`) that no tenant of the project is in.
pub fn unknown_rings(project: &ProjectSource, flag: &str, rings: &[String]) -> Vec<Diagnostic> {
    let mut known: Vec<&str> = project.tenants.iter().map(|t| t.ring.as_str()).collect();
    known.sort_unstable();
    known.dedup();
    rings
        .iter()
        .filter(|ring| !known.contains(&ring.as_str()))
        .map(|ring| {
            let mut d = Diagnostic::error(
                Code::InvalidValue,
                format!("{flag} {ring}: no tenant is in this ring"),
            )
            .expected(format!(
                "one of {}",
                crate::source::model::quote_list(&known)
            ));
            if let Some(s) = crate::source::model::did_you_mean(ring, known.iter().copied()) {
                d = d.help(format!("did you mean \"{s}\"?"));
            }
            d
        })
        .collect()
}

/// A project that declares no tenant at all: an error (a CI job must not go green on a checkout
/// that lost its tenants), or a warning when the caller allows it. At the first tenants file
/// when there is one (it declares none), else at `tenantform.toml`. Nothing is said when a
/// tenants file failed to load: its own errors explain the missing tenants.
fn no_tenants(project: &ProjectSource, allow_empty: bool) -> Option<Diagnostic> {
    if !project.tenants.is_empty() || project.tenants_unlisted {
        return None;
    }
    let (message, help) = match project.tenant_files.first() {
        Some(_) => (
            "the project has no tenants: no file under tenants/ declares a [[tenant]]",
            "declare a [[tenant]] (see `tenantform init`), or pass --allow-empty if an empty project is expected",
        ),
        None => (
            "the project has no tenants: tenants/ is missing or holds no *.toml file",
            "add a tenants file such as tenants/tenants.toml with a [[tenant]] (see `tenantform init`), or pass --allow-empty if an empty project is expected",
        ),
    };
    let d = if allow_empty {
        Diagnostic::warning(Code::NoTenants, message)
            .help(help.split(", or pass").next().unwrap_or(help))
    } else {
        Diagnostic::error(Code::NoTenants, message).help(help)
    };
    let anchor = project
        .tenant_files
        .first()
        .or(project.project_file.as_ref())
        .map(|file| Span::new(*file, 0..0));
    Some(d.at_opt(anchor))
}

/// Compile (or only validate) the selected tenants of a project.
pub fn compile(
    project: &ProjectSource,
    engine: &Engine,
    schemas: &Schemas,
    options: &CompileOptions,
    reporter: &mut dyn Reporter,
) -> CompileSummary {
    compile_into(project, engine, schemas, options, reporter, None)
}

/// Where [`compile_into`] hands each bundle that compiled, with its tenant as decoded, on the
/// worker that compiled it (in no particular order). Its bodies may be shared with the run:
/// read them with [`ValidatedBundle::body`], not `operations[i].body`.
pub type BundleSink<'a> = &'a (dyn Fn(&ValidatedBundle, &Tenant) + Sync);

/// [`compile`], also handing every compiled bundle to `sink` (plan and deploy keep what they
/// need of the bundles validation made, instead of compiling each tenant again).
pub fn compile_into(
    project: &ProjectSource,
    engine: &Engine,
    schemas: &Schemas,
    options: &CompileOptions,
    reporter: &mut dyn Reporter,
    sink: Option<BundleSink<'_>>,
) -> CompileSummary {
    compile_in_order(
        project,
        engine,
        schemas,
        options,
        reporter,
        sink,
        Order::File,
    )
}

/// The order [`compile_in_order`] compiles tenants in (it reports them in file order either
/// way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As the tenants files list them.
    File,
    /// The tenants whose baselines declare most resources first: a run that starts each
    /// tenant's reads as soon as it has validated starts the longest ones first.
    HeaviestFirst,
}

/// [`compile_into`], compiling the tenants in `order`.
pub fn compile_in_order(
    project: &ProjectSource,
    engine: &Engine,
    schemas: &Schemas,
    options: &CompileOptions,
    reporter: &mut dyn Reporter,
    sink: Option<BundleSink<'_>>,
    order: Order,
) -> CompileSummary {
    let tenants: Vec<&TenantEntry> = project
        .tenants
        .iter()
        .filter(|t| options.selection.includes(t))
        .collect();
    let mut summary = CompileSummary::default();
    if let Some(d) = no_tenants(project, options.allow_empty) {
        let fatal = d.is_error();
        summary.diagnostics.push(d);
        if fatal {
            return summary;
        }
    }
    let unmatched = unmatched_selection(project, &options.selection);
    if !unmatched.is_empty() {
        summary.diagnostics.extend(unmatched);
        return summary;
    }
    if let Some(out) = &options.out_dir
        && let Err(e) = std::fs::create_dir_all(out)
    {
        summary.diagnostics.push(Diagnostic::error(
            Code::UnreadableFile,
            format!("cannot create the output directory {}: {e}", out.display()),
        ));
        return summary;
    }
    reporter.event(Event::CompileStarted {
        tenants: tenants.len(),
    });
    let sequence = compile_sequence(project, &tenants, order);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Finished>(options.jobs.max(1) * 4);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            let tx = tx.clone();
            let tenants = &tenants;
            let next = &next;
            let sequence = &sequence;
            scope.spawn(move || {
                loop {
                    let nth = next.fetch_add(1, Ordering::Relaxed);
                    let Some(index) = sequence.as_ref().map_or(Some(nth), |s| s.get(nth).copied())
                    else {
                        break;
                    };
                    let Some(entry) = tenants.get(index) else {
                        break;
                    };
                    // Bundles that are only written and counted need no copy of the
                    // bodies the run shares.
                    let tenant = project.tenant(entry);
                    let assumed = facts_assumed(tenant.as_ref());
                    let compiled = match &tenant {
                        Some(tenant) => compile_tenant_with(
                            project,
                            engine,
                            schemas,
                            tenant,
                            options.strict,
                            options.today,
                            Bodies::Shared,
                        ),
                        None => TenantCompilation {
                            bundle: None,
                            diagnostics: Diagnostics::new(),
                        },
                    };
                    let diagnostics = compiled.diagnostics;
                    let mut outcome = TenantOutcome {
                        id: entry.id.clone(),
                        name: entry.name.clone(),
                        operations: 0,
                        content_hash: None,
                        written: None,
                        removed_stale: false,
                        skipped: Vec::new(),
                    };
                    let mut ok = false;
                    let mut bytes = None;
                    if let Some(bundle) = compiled.bundle {
                        if let (Some(sink), Some(tenant)) = (sink, &tenant) {
                            sink(&bundle, tenant);
                        }
                        outcome.operations = bundle.bundle().operations.len();
                        outcome.skipped = bundle.bundle().skips();
                        outcome.content_hash = Some(bundle.content_hash().to_string());
                        ok = true;
                        // Serialized here, once, while the collecting thread writes files.
                        if let Some(out) = &options.out_dir {
                            bytes = Some((
                                write::bundle_path(out, &bundle.bundle().tenant.id),
                                write::bundle_bytes(&bundle),
                            ));
                        }
                    }
                    if tx
                        .send(Finished {
                            index,
                            assumed,
                            outcome,
                            ok,
                            diagnostics,
                            bytes,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // This thread writes every file, as each tenant arrives (the workers go on compiling
        // meanwhile, and no two threads wait on the same directory), then reports in tenant
        // order, whatever order the workers finish in.
        let mut pending: BTreeMap<usize, Finished> = BTreeMap::new();
        let mut expected = 0;
        for mut finished in rx {
            if let Some(out) = &options.out_dir {
                finished.write(out);
            }
            pending.insert(finished.index, finished);
            while let Some(f) = pending.remove(&expected) {
                expected += 1;
                summary.assumed.plans += f.assumed.plans;
                summary.assumed.permissions += f.assumed.permissions;
                if f.ok {
                    reporter.event(Event::TenantCompiled {
                        outcome: &f.outcome,
                    });
                    summary.operations += f.outcome.operations;
                    summary.compiled += 1;
                } else {
                    reporter.event(Event::TenantFailed {
                        outcome: &f.outcome,
                        errors: f.diagnostics.error_count(),
                    });
                    summary.failed.push(f.outcome);
                }
                summary.diagnostics.extend(f.diagnostics);
            }
        }
    });
    if let Some(out) = &options.out_dir
        && project.tenants_unlisted
    {
        // A tenant whose file does not load keeps no bundle from an earlier run either.
        for path in unlisted_bundles(out, project) {
            if std::fs::remove_file(&path).is_ok() {
                reporter.event(Event::UnlistedBundleRemoved { path: &path });
                summary.removed_unlisted.push(path);
            }
        }
    }
    summary.diagnostics.coalesce();
    reporter.event(Event::CompileFinished {
        compiled: summary.compiled,
        failed: summary.failed.len(),
        operations: summary.operations,
        assumed: summary.assumed,
    });
    summary
}

/// The indices of `tenants` in the order to compile them (`None`: as listed), weighed by the
/// resources their baselines declare (tenants on the same baselines are weighed once).
fn compile_sequence(
    project: &ProjectSource,
    tenants: &[&TenantEntry],
    order: Order,
) -> Option<Vec<usize>> {
    if order == Order::File {
        return None;
    }
    let mut weighed: HashMap<Vec<&str>, usize> = HashMap::new();
    let weights: Vec<usize> = tenants
        .iter()
        .map(|entry| {
            let names: Vec<&str> = entry.baselines.iter().map(|b| b.value.as_str()).collect();
            *weighed.entry(names).or_insert_with(|| {
                crate::source::resolve::declared_resources(project, &entry.baselines)
            })
        })
        .collect();
    let mut sequence: Vec<usize> = (0..tenants.len()).collect();
    // Stable: equal weights keep file order.
    sequence.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
    Some(sequence)
}

/// What a tenant's facts leave to assumption (a tenant that does not load counts for nothing).
fn facts_assumed(tenant: Option<&Tenant>) -> FactsAssumed {
    let Some(tenant) = tenant else {
        return FactsAssumed::default();
    };
    let facts = tenant.facts.as_ref();
    FactsAssumed {
        plans: usize::from(facts.is_none_or(|f| f.service_plans.is_none())),
        permissions: usize::from(facts.is_none_or(|f| f.permissions.is_none())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::render::Body;

    const BASELINE: &str = r##"[baseline]
description = "memo test"

[params.unknown]
type = "bool"
default = false
description = "Whether unknown countries are included"

[resources.shared-group]
kind = "group"
body = '''
{"displayName": "{{ vars.name }}", "uniqueName": "tf-shared", "mailNickname": "shared", "mailEnabled": false, "securityEnabled": true, "groupTypes": []}
'''
vars = { name = "Shared" }

[resources.own-group]
kind = "group"
body = '''
{"displayName": "Group of {{ tenant.name }}", "uniqueName": "tf-own", "mailNickname": "own", "mailEnabled": false, "securityEnabled": true, "groupTypes": []}
'''

[resources.countries]
kind = "namedLocation"
body = '''
{"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Countries", "countriesAndRegions": ["US"], "includeUnknownCountriesAndRegions": {{ params.unknown | json }}}
'''
"##;

    fn tenant(n: u8, unknown: &str) -> String {
        format!(
            "[[tenant]]\nid = \"{n}{n}{n}{n}{n}{n}{n}{n}-1111-4111-8111-111111111111\"\nname = \"T{n}\"\nring = \"pilot\"\nbaselines = [\"memo\"]\n\n[tenant.params]\nunknown = {unknown}\n\n"
        )
    }

    /// Three tenants that render the same bodies, except the group that names its tenant.
    fn project(dir: &Path) -> ProjectSource {
        let files = [
            (
                "tenantform.toml",
                "[project]\nname = \"memo\"\n".to_string(),
            ),
            ("baselines/memo.toml", BASELINE.to_string()),
            (
                "tenants/fleet.toml",
                tenant(1, "true") + &tenant(2, "true") + &tenant(3, "true"),
            ),
        ];
        for (rel, text) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let (project, diags) = crate::source::project::load(dir).expect("load");
        assert!(!diags.has_errors(), "{diags:?}");
        project
    }

    fn compile_all(project: &ProjectSource, engine: &Engine) -> Vec<TenantCompilation> {
        let schemas = Schemas::shared().expect("schemas");
        let today = jiff::civil::date(2026, 1, 1);
        project
            .tenants
            .iter()
            .map(|entry| {
                let tenant = project.tenant(entry).expect("tenant");
                compile_tenant(project, engine, schemas, &tenant, false, today)
            })
            .collect()
    }

    #[test]
    fn tenants_share_the_bodies_they_render_alike_and_keep_their_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = project(dir.path());
        let (engine, diags) = Engine::new(&project);
        assert!(diags.is_empty());
        let results = compile_all(&project, &engine);
        let bundles: Vec<&ValidatedBundle> = results
            .iter()
            .map(|r| r.bundle.as_ref().expect("compiled"))
            .collect();
        let body = |b: &ValidatedBundle, key: &str| {
            b.bundle()
                .operations
                .iter()
                .find(|o| o.key == key)
                .expect("operation")
                .body
                .clone()
        };
        assert_eq!(body(bundles[0], "own-group")["displayName"], "Group of T1");
        assert_eq!(body(bundles[1], "own-group")["displayName"], "Group of T2");
        assert_eq!(
            body(bundles[0], "shared-group"),
            body(bundles[2], "shared-group")
        );

        // What each tenant rendered: the template that reads `tenant` is rendered per tenant.
        let tenant = project.tenant(&project.tenants[2]).expect("tenant");
        let (resolved, _) = resolve::resolve(&project, &tenant, jiff::civil::date(2026, 1, 1));
        let rendered = engine.render(&project, &resolved.expect("resolved"));
        let shared: Vec<(&str, bool)> = rendered
            .documents
            .iter()
            .map(|d| (d.key.value.as_str(), matches!(d.body, Body::Shared(_))))
            .collect();
        assert!(shared.contains(&("shared-group", true)));
        assert!(shared.contains(&("countries", true)));

        // A fresh engine (no memo) writes the same bytes.
        let (fresh, _) = Engine::new(&project);
        let again = compile_all(&project, &fresh);
        for (a, b) in results.iter().zip(&again) {
            let (a, b) = (a.bundle.as_ref().expect("a"), b.bundle.as_ref().expect("b"));
            assert_eq!(a.to_pretty_json(), b.to_pretty_json());
        }

        // `compile` (bundles without copies of the shared bodies) writes the same bytes too.
        let out = dir.path().join("out");
        let options = CompileOptions {
            out_dir: Some(out.clone()),
            selection: Selection::All,
            strict: false,
            jobs: 2,
            today: jiff::civil::date(2026, 1, 1),
            allow_empty: false,
        };
        let schemas = Schemas::shared().expect("schemas");
        let summary = compile(
            &project,
            &engine,
            schemas,
            &options,
            &mut crate::report::Silent,
        );
        assert_eq!(summary.compiled, 3);
        for b in &bundles {
            let written =
                std::fs::read_to_string(out.join(format!("{}.json", b.bundle().tenant.id)))
                    .expect("written");
            assert_eq!(written, b.to_pretty_json());
        }
    }

    #[test]
    fn a_shared_invalid_body_is_reported_for_every_tenant_at_its_own_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = project(dir.path());
        // Every tenant sets the parameter to a string the schema rejects, on its own line.
        let fleet = dir.path().join("tenants/fleet.toml");
        let text = std::fs::read_to_string(&fleet)
            .expect("read")
            .replace("unknown = true", "unknown = \"yes\"");
        std::fs::write(&fleet, text).expect("write");
        let baseline = dir.path().join("baselines/memo.toml");
        let text = std::fs::read_to_string(&baseline).expect("read").replace(
            "type = \"bool\"\ndefault = false",
            "type = \"string\"\ndefault = \"no\"",
        );
        std::fs::write(&baseline, text).expect("write");
        let (project, diags) = crate::source::project::load(dir.path()).expect("load");
        assert!(!diags.has_errors(), "{diags:?}");
        let (engine, _) = Engine::new(&project);
        let results = compile_all(&project, &engine);
        let mut lines = Vec::new();
        for (entry, result) in project.tenants.iter().zip(&results) {
            assert!(result.bundle.is_none());
            let d = result
                .diagnostics
                .iter()
                .find(|d| d.code == Code::SchemaViolation)
                .expect("schema diagnostic");
            assert_eq!(d.tenants, vec![entry.id.clone()]);
            assert_eq!(d.resource.as_deref(), Some("countries"));
            let note = d.notes.first().expect("value set here");
            lines.push(project.sources.location(note.span).line);
        }
        // Each note points at the tenant's own `unknown = "yes"`.
        assert_eq!(lines.len(), 3);
        assert!(lines[0] < lines[1] && lines[1] < lines[2], "{lines:?}");
    }

    #[test]
    fn tenants_that_differ_only_outside_a_shared_body_get_their_own_operation_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = project(dir.path());
        // T3 gets the shared group through a layer that patches its description; T4 accepts a
        // lint on it. Both render the same body as T1 and T2.
        std::fs::write(
            dir.path().join("baselines/extra.toml"),
            "[baseline]\ndescription = \"a layer\"\nextends = [\"memo\"]\n\n[patch.shared-group]\ndescription = \"Patched\"\n",
        )
        .expect("write");
        let fleet = dir.path().join("tenants/fleet.toml");
        let text = std::fs::read_to_string(&fleet).expect("read").replacen(
            "name = \"T3\"\nring = \"pilot\"\nbaselines = [\"memo\"]",
            "name = \"T3\"\nring = \"pilot\"\nbaselines = [\"extra\"]",
            1,
        ) + &tenant(4, "true")
            + "[[tenant.overrides]]\nresource = \"shared-group\"\nallow = { lockout = \"break-glass group, reviewed\" }\nreason = \"accepted\"\n";
        std::fs::write(&fleet, text).expect("write");
        let (project, diags) = crate::source::project::load(dir.path()).expect("load");
        assert!(!diags.has_errors(), "{diags:?}");
        let (engine, _) = Engine::new(&project);
        let results = compile_all(&project, &engine);
        let bundles: Vec<&ValidatedBundle> = results
            .iter()
            .map(|r| r.bundle.as_ref().expect("compiled"))
            .collect();
        assert_eq!(bundles.len(), 4);
        for b in &bundles {
            let (pretty, hash) = b.written_from_fields(&project.sources);
            assert_eq!(b.to_pretty_json(), pretty);
            assert_eq!(b.content_hash(), hash);
        }
        // T1 wrote its operations from their fields, T2 kept their texts (a body asked for
        // twice); the others differ where they should.
        assert_eq!(bundles[0].kept_texts(), 0);
        assert!(bundles[1].kept_texts() >= 2, "{}", bundles[1].kept_texts());
        let text = |b: &ValidatedBundle| b.to_pretty_json();
        assert!(text(bundles[2]).contains("\"description\": \"Patched\""));
        assert!(!text(bundles[0]).contains("Patched"));
        assert!(text(bundles[3]).contains("break-glass group, reviewed"));
        assert!(!text(bundles[0]).contains("accepted_lints"));
        assert_ne!(bundles[0].content_hash(), bundles[1].content_hash());
    }

    #[test]
    fn an_overridden_variable_renders_its_own_body_and_declared_ones_share_their_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = project(dir.path());
        let fleet = dir.path().join("tenants/fleet.toml");
        // T2 overrides the shared group's name; T1 and T3 keep the declared variables.
        let text = std::fs::read_to_string(&fleet).expect("read").replacen(
            "[[tenant]]\nid = \"33333333",
            "[[tenant.overrides]]\nresource = \"shared-group\"\nvars = { name = \"Other\" }\nreason = \"its own name\"\n\n[[tenant]]\nid = \"33333333",
            1,
        );
        std::fs::write(&fleet, text).expect("write");
        let (project, diags) = crate::source::project::load(dir.path()).expect("load");
        assert!(!diags.has_errors(), "{diags:?}");
        let today = jiff::civil::date(2026, 1, 1);
        let shared_group = |n: usize| {
            let tenant = project.tenant(&project.tenants[n]).expect("tenant");
            let (resolved, _) = resolve::resolve(&project, &tenant, today);
            resolved
                .expect("resolved")
                .resources
                .into_iter()
                .find(|r| r.key.value == "shared-group")
                .expect("shared-group")
        };
        let (first, second, third) = (shared_group(0), shared_group(1), shared_group(2));
        let declared = serde_json::to_vec(&*first.vars).expect("json");
        assert_eq!(first.vars_text.as_deref(), Some(&declared[..]));
        assert!(std::sync::Arc::ptr_eq(&first.vars, &third.vars));
        assert_eq!(second.vars_text, None);
        assert_eq!(second.vars["name"], "Other");
        assert_eq!(first.vars["name"], "Shared");

        let (engine, _) = Engine::new(&project);
        let results = compile_all(&project, &engine);
        let name = |n: usize| {
            let bundle = results[n].bundle.as_ref().expect("compiled");
            let i = bundle
                .bundle()
                .operations
                .iter()
                .position(|o| o.key == "shared-group")
                .expect("operation");
            bundle.body(i)["displayName"].clone()
        };
        assert_eq!(name(0), "Shared");
        assert_eq!(name(1), "Other");
        assert_eq!(name(2), "Shared");
    }
}
