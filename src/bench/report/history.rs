//! The fleet and run history `bench report` measures `report` over, written in the formats a
//! user's project holds them, by the library's own writers:
//!
//! - the project: `init`'s files, N tenants cycling `init`'s three profiles (as `bench compile`
//!   does), spread over three rings (pilot 2 %, early 20 %, broad 78 %, broad deployed in two
//!   waves), and on about one tenant in twelve of the Entra-foundation profiles an override that
//!   skips the legacy-authentication block, with a reason and an expiry (some already past);
//! - R deploy runs, each `.tenantform/runs/<run-id>/journal.jsonl` written record by record with
//!   [`JournalWriter`] and [`Entry`], with what `deploy` records per tenant: its skipped
//!   resources, its first reads ([`first_read_requests`], as `plan`/`deploy` send them), a
//!   request and an outcome per write, an `applied` record per resource (created, updated or
//!   unchanged), `tenant_finished`, `run_finished`. Tenants of a run are interleaved as
//!   concurrent tenants are, and times move forward as a paced run's do;
//! - each tenant's identity map (`.tenantform/state/<id>.json`, [`save_identity`]) after its
//!   first deploy;
//! - a drift results document, as `drift --all --format json --out FILE` writes it
//!   ([`drift_json`]), made after the last run: some tenants modified or missing, with actor.
//!
//! The schedule (see `RunKind`): run 0 onboards every tenant (creates); then each block of
//! ten runs rolls one baseline change out ring by ring (pilot, early, broad half A, broad half
//! B: most resources `unchanged`, the changed ones `updated`), and the runs between are small
//! targeted runs that retry the tenants whose last run failed. A tenant that a run writes a
//! Conditional Access policy to fails with a 1.5 % chance (a 403 on that write), 2 % of the
//! tenants of a run see one 429 and a retry, and one targeted run is interrupted (no
//! `run_finished`, its last tenants unfinished). Everything comes from a fixed seed: the same
//! sizes give the same bytes.
//!
//! Input: [`HistoryOptions`]. Output: [`History`] (where it is, what it holds, how long it took).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::bench::{BenchError, io};
use crate::compile::fleet::compile_tenant;
use crate::deploy::{Fleet, run_dir, save_identity};
use crate::journal::{Entry, JournalWriter};
use crate::kinds::ThrottleClass;
use crate::live::drift::{ChangedBy, DriftItem, DriftState, TenantDrift};
use crate::live::normalize::Change;
use crate::live::plan::IdentityMap;
use crate::live::reader::{first_read_requests, resolved_path};
use crate::report::drift::drift_json;
use crate::report::{Counts, TenantReport};
use crate::source::init::{self, TenantEndpoints};

/// The first run's start; every time in the history follows from it.
const START: &str = "2026-08-24T22:00:00Z";

/// Tenants a run works on at once (deploy's admission on the shipped baselines admits about a
/// thousand); a run's journal interleaves the records of the tenants in flight.
const IN_FLIGHT: usize = 1000;

/// Seconds one wave of in-flight tenants takes: the Conditional Access writes, paced at one per
/// second (the shipped baselines' slowest tenant, `bench deploy`'s minimum).
const WAVE_SECONDS: i64 = 24;

/// What to generate.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// Tenants.
    pub tenants: usize,
    /// Deploy runs.
    pub runs: usize,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The project directory.
    pub project_dir: PathBuf,
    /// The drift results document (`report --from` reads it).
    pub drift_file: PathBuf,
    /// Deploy runs written.
    pub runs: usize,
    /// Tenant × run pairs (a tenant's line in a run).
    pub tenant_runs: usize,
    /// Of those, the ones that failed.
    pub failed_tenant_runs: usize,
    /// Journal records written.
    pub records: u64,
    /// Bytes of journal.
    pub journal_bytes: u64,
    /// Tenants with a skip override.
    pub overrides: usize,
    /// Of those, the ones already expired at the last run.
    pub expired_overrides: usize,
    /// Tenants the drift results find drifted.
    pub drifted_tenants: usize,
    /// Tenants whose last run failed or did not finish.
    pub failed_last: usize,
    /// Seconds it took to write (setup, not a figure of `report`).
    pub seconds: f64,
}

/// A deterministic 64-bit mix of three numbers (splitmix64 finalizer): the history's dice.
fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b.rotate_left(21))
        .wrapping_add(c.rotate_left(42))
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// True with probability `per_mille`/1000 for these numbers.
fn chance(per_mille: u64, a: u64, b: u64, c: u64) -> bool {
    mix(a, b, c) % 1000 < per_mille
}

/// A deterministic GUID-shaped id.
fn guid(a: u64, b: u64, c: u64) -> String {
    let x = mix(a, b, c);
    let y = mix(x, c, a);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        y >> 52,
        y & 0xffff_ffff_ffff
    )
}

/// A ring of the generated fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ring {
    Pilot,
    Early,
    Broad,
}

impl Ring {
    fn of(index: usize) -> Ring {
        if index.is_multiple_of(50) {
            Ring::Pilot
        } else if index % 5 == 1 {
            Ring::Early
        } else {
            Ring::Broad
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ring::Pilot => "pilot",
            Ring::Early => "early",
            Ring::Broad => "broad",
        }
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunKind {
    /// Every tenant, first deploy: everything is created.
    Onboard,
    /// One ring (broad in two halves) gets baseline change `change`.
    Wave {
        ring: Ring,
        half: Option<usize>,
        change: usize,
    },
    /// A few tenants: the ones whose last run failed, and a couple more.
    Targeted,
}

fn run_kind(run: usize) -> RunKind {
    let change = run / 10;
    match (run, run % 10) {
        (0, _) => RunKind::Onboard,
        (_, 1) => RunKind::Wave {
            ring: Ring::Pilot,
            half: None,
            change,
        },
        (_, 3) => RunKind::Wave {
            ring: Ring::Early,
            half: None,
            change,
        },
        (_, 5) => RunKind::Wave {
            ring: Ring::Broad,
            half: Some(0),
            change,
        },
        (_, 7) => RunKind::Wave {
            ring: Ring::Broad,
            half: Some(1),
            change,
        },
        _ => RunKind::Targeted,
    }
}

/// A resource as the journal sees it.
#[derive(Debug, Clone)]
struct Resource {
    key: String,
    kind: &'static str,
    /// Method and path of its first write.
    create: (&'static str, String),
    /// Method of an update (its path is the object's).
    update: &'static str,
    /// The object's path once it exists.
    object_path: String,
    object_id: Option<String>,
    body_hash: String,
    conditional_access: bool,
}

/// A tenant as the history uses it.
#[derive(Debug, Clone)]
struct TenantShape {
    id: String,
    name: String,
    domain: String,
    ring: Ring,
    index: usize,
    reads: Vec<(String, String, bool)>,
    resources: Vec<Resource>,
    skipped: Vec<(String, String, String)>,
}

/// The tenants file: `init`'s fleet with rings spread and skip overrides on some tenants.
/// Returns the text and (overrides, expired ones).
fn tenants_toml(tenants: usize, as_of: jiff::civil::Date) -> (String, usize, usize) {
    let text = init::fleet_tenants_toml("bench", tenants, &TenantEndpoints::default());
    let mut parts = text.split("[[tenant]]\n");
    let mut out = parts.next().unwrap_or_default().to_string();
    let reasons = [
        "Scanners send mail over SMTP AUTH until the multifunction printers are replaced",
        "A line-of-business app signs in with IMAP basic authentication; vendor fix promised",
        "Legacy ERP connector; migration to modern auth tracked in change CHG-4471",
    ];
    let (mut overrides, mut expired) = (0, 0);
    for (i, block) in parts.enumerate() {
        let ring = Ring::of(i);
        let block = block
            .replacen(
                "ring = \"pilot\"",
                &format!("ring = \"{}\"", ring.name()),
                1,
            )
            .replacen(
                "ring = \"broad\"",
                &format!("ring = \"{}\"", ring.name()),
                1,
            );
        out.push_str("[[tenant]]\n");
        out.push_str(&block);
        // Profiles 0 and 2 (Contoso, Northwind) have entra-foundation's legacy-auth block.
        if i % 3 != 1 && mix(i as u64, 7, 7).is_multiple_of(12) {
            let days = [-12i64, 9, 45, 200][(mix(i as u64, 8, 8) % 4) as usize];
            let expires = as_of
                .checked_add(jiff::Span::new().days(days))
                .unwrap_or(as_of);
            overrides += 1;
            if days < 0 {
                expired += 1;
            }
            out.push_str(&format!(
                "\n[[tenant.overrides]]\nresource = \"ca-block-legacy-auth\"\nskip = true\nreason = \"{}\"\nexpires = \"{expires}\"\n",
                reasons[i % reasons.len()]
            ));
        }
    }
    (out, overrides, expired)
}

/// Compile every tenant in memory and keep what its journal records.
fn shapes(project_dir: &Path) -> Result<Vec<TenantShape>, BenchError> {
    let today = jiff::civil::date(2026, 12, 1);
    let (fleet, diagnostics) = Fleet::load(project_dir, today, Box::new(|_: &str| None))
        .map_err(|e| BenchError::Load(e.to_string()))?;
    if diagnostics.has_errors() {
        return Err(BenchError::Load(format!(
            "the generated project has {} errors",
            diagnostics.error_count()
        )));
    }
    let mut out = Vec::with_capacity(fleet.project.tenants.len());
    for (index, entry) in fleet.project.tenants.iter().enumerate() {
        let tenant = fleet.project.tenant(entry).ok_or_else(|| {
            BenchError::Load(format!("tenant {} of the generated project", entry.id))
        })?;
        let compiled = compile_tenant(
            &fleet.project,
            &fleet.engine,
            fleet.schemas,
            &tenant,
            false,
            today,
        );
        let Some(bundle) = compiled.bundle else {
            return Err(BenchError::Load(format!(
                "tenant {} of the generated project does not compile ({} errors)",
                entry.id,
                compiled.diagnostics.error_count()
            )));
        };
        let b = bundle.bundle();
        let reads = first_read_requests(&b.operations)
            .into_iter()
            .map(|r| {
                let ca = r.class == ThrottleClass::ConditionalAccess;
                (r.label, r.path, ca)
            })
            .collect();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let mut resources = Vec::with_capacity(b.operations.len());
        for (n, op) in b.operations.iter().enumerate() {
            let object_id = op.kind.creates().then(|| guid(index as u64, n as u64, 1));
            let path = resolved_path(op, &ids).unwrap_or_else(|| op.path.clone());
            if let Some(id) = &object_id {
                ids.insert(op.key.clone(), id.clone());
            }
            let object_path = match &object_id {
                Some(id) if op.kind.create_method.is_some() => format!("{path}/{id}"),
                _ => path.clone(),
            };
            resources.push(Resource {
                key: op.key.clone(),
                kind: op.kind.name,
                create: (
                    op.kind
                        .create_method
                        .unwrap_or(op.kind.update_method)
                        .as_str(),
                    path,
                ),
                update: op.kind.update_method.as_str(),
                object_path,
                object_id,
                body_hash: crate::canonical::hash(&op.body),
                conditional_access: op.kind.throttle == ThrottleClass::ConditionalAccess,
            });
        }
        let skipped = b
            .skipped
            .iter()
            .map(|s| (s.key.clone(), s.kind.to_string(), s.reason.clone()))
            .collect();
        out.push(TenantShape {
            id: entry.id.clone(),
            name: entry.name.clone(),
            domain: init::initial_domain(&entry.name),
            ring: Ring::of(index),
            index,
            reads,
            resources,
            skipped,
        });
    }
    Ok(out)
}

/// How a tenant's line in a run ends.
struct TenantOutcome {
    entries: Vec<Entry>,
    /// `Some(ok)`, or `None` when the run stops before it finishes.
    ok: Option<bool>,
}

/// Everything one tenant does in one run, in the order `deploy` records it.
fn tenant_entries(
    t: &TenantShape,
    run: usize,
    kind: RunKind,
    first: bool,
    failed_before: bool,
) -> TenantOutcome {
    let (r, i) = (run as u64, t.index as u64);
    let mut entries = Vec::with_capacity(t.reads.len() * 2 + t.resources.len() * 2 + 8);
    let request = |entries: &mut Vec<Entry>,
                   key: &str,
                   method: &str,
                   path: &str,
                   body: Option<&str>,
                   attempt: u32,
                   status: u16,
                   object_id: Option<&str>| {
        let seq = entries.len() as u64;
        entries.push(Entry::Intent {
            tenant: t.id.clone(),
            key: key.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            body_hash: body.map(str::to_string),
            attempt,
        });
        entries.push(Entry::Outcome {
            tenant: t.id.clone(),
            key: key.to_string(),
            status: Some(status),
            request_id: Some(guid(r, i, seq + 10)),
            attempt,
            duration_ms: 40 + mix(r, i, seq) % 260,
            object_id: object_id.map(str::to_string),
        });
    };
    for (key, kind, reason) in &t.skipped {
        entries.push(Entry::Skipped {
            tenant: t.id.clone(),
            key: key.clone(),
            kind: kind.clone(),
            reason: reason.clone(),
        });
    }
    // One tenant in fifty meets one 429 on its first Conditional Access read, and retries.
    let throttled = chance(20, r, i, 3);
    let mut throttled_done = false;
    for (label, path, ca) in &t.reads {
        if throttled && *ca && !throttled_done {
            request(&mut entries, label, "GET", path, None, 1, 429, None);
            request(&mut entries, label, "GET", path, None, 2, 200, None);
            throttled_done = true;
        } else {
            request(&mut entries, label, "GET", path, None, 1, 200, None);
        }
    }
    // In a wave, 1.5 % of the tenants fail if the run writes a Conditional Access policy to them
    // (a 403 on that write); a targeted run fixes 4 in 5 of the tenants it retries.
    let fails = match kind {
        RunKind::Targeted => failed_before && !chance(800, r, i, 4),
        _ => chance(15, r, i, 5),
    };
    let mut failure: Option<String> = None;
    let changed = |n: usize| match kind {
        RunKind::Wave { change, .. } => {
            let count = t.resources.len().max(1);
            n == (change * 7 + 3) % count || n == (change * 13 + 5) % count
        }
        _ => false,
    };
    for (n, res) in t.resources.iter().enumerate() {
        let write = first || changed(n) || (failed_before && res.conditional_access);
        if !write {
            entries.push(Entry::Applied {
                tenant: t.id.clone(),
                key: res.key.clone(),
                action: "unchanged".into(),
                object_id: res.object_id.clone(),
                kind: Some(res.kind.to_string()),
            });
            continue;
        }
        let (method, path, status, action) = if first {
            let created = res.create.0 == "POST";
            (
                res.create.0,
                res.create.1.as_str(),
                if created { 201 } else { 204 },
                if created { "created" } else { "updated" },
            )
        } else {
            (res.update, res.object_path.as_str(), 204, "updated")
        };
        if fails && failure.is_none() && res.conditional_access {
            request(
                &mut entries,
                &res.key,
                method,
                path,
                Some(&res.body_hash),
                1,
                403,
                None,
            );
            failure = Some(format!(
                "{}: Graph answered 403 Authorization_RequestDenied: the app lacks Policy.ReadWrite.ConditionalAccess in this tenant (grant it and run again)",
                res.key
            ));
            continue;
        }
        request(
            &mut entries,
            &res.key,
            method,
            path,
            Some(&res.body_hash),
            1,
            status,
            res.object_id.as_deref(),
        );
        entries.push(Entry::Applied {
            tenant: t.id.clone(),
            key: res.key.clone(),
            action: action.into(),
            object_id: res.object_id.clone(),
            kind: Some(res.kind.to_string()),
        });
    }
    let ok = failure.is_none();
    entries.push(Entry::TenantFinished {
        tenant: t.id.clone(),
        ok,
        reason: failure,
    });
    TenantOutcome {
        entries,
        ok: Some(ok),
    }
}

fn at(start: jiff::Timestamp, millis: i64) -> String {
    start
        .checked_add(jiff::SignedDuration::from_millis(millis))
        .unwrap_or(start)
        .to_string()
}

/// What the history writer remembers between runs.
#[derive(Default)]
struct Progress {
    deployed: Vec<bool>,
    /// Per tenant: its last run's outcome (`None`: unfinished).
    last_ok: Vec<Option<Option<bool>>>,
    records: u64,
    tenant_runs: usize,
    failed_tenant_runs: usize,
    /// When the last run ended.
    ended: Option<jiff::Timestamp>,
}

/// Write one run's journal.
fn write_run(
    project_dir: &Path,
    shapes: &[TenantShape],
    run: usize,
    runs: usize,
    progress: &mut Progress,
) -> Result<(), BenchError> {
    let kind = run_kind(run);
    let base: jiff::Timestamp = START
        .parse()
        .map_err(|e| BenchError::Load(format!("{START}: {e}")))?;
    let start = base
        .checked_add(jiff::SignedDuration::from_hours(
            run as i64 * 24 + (run % 3) as i64 * 3,
        ))
        .map_err(|e| BenchError::Load(e.to_string()))?;
    let mut members: Vec<&TenantShape> = match kind {
        RunKind::Onboard => shapes.iter().collect(),
        RunKind::Wave { ring, half, .. } => shapes
            .iter()
            .filter(|t| t.ring == ring && half.is_none_or(|h| t.index % 2 == h))
            .collect(),
        RunKind::Targeted => {
            let mut picked: Vec<&TenantShape> = shapes
                .iter()
                .filter(|t| progress.last_ok[t.index].is_some_and(|ok| ok != Some(true)))
                .take(25)
                .collect();
            for n in 0..3u64 {
                let t = &shapes[(mix(run as u64, n, 9) % shapes.len() as u64) as usize];
                if !picked.iter().any(|p| p.index == t.index) {
                    picked.push(t);
                }
            }
            picked
        }
    };
    // A targeted run was never deployed to tenants that have not been onboarded.
    members.retain(|t| kind == RunKind::Onboard || progress.deployed[t.index]);
    if members.is_empty() {
        members.push(&shapes[run % shapes.len()]);
    }
    // One targeted run, two thirds in, is interrupted (a CI job cancelled): its second half
    // never finishes.
    let interrupted = kind == RunKind::Targeted && runs >= 6 && run == runs * 2 / 3;
    let run_id = format!(
        "{}-{:04x}",
        start.strftime("%Y%m%dT%H%M%SZ"),
        mix(run as u64, 0, 0) & 0xffff
    );
    let path = run_dir(project_dir, &run_id).join("journal.jsonl");
    let mut journal = JournalWriter::open(&path).map_err(|e| BenchError::Load(e.to_string()))?;
    let mut records = 0u64;
    let mut append = |journal: &mut JournalWriter, millis: i64, entry: Entry| {
        records += 1;
        journal
            .append(&at(start, millis), entry)
            .map(|_| ())
            .map_err(|e| BenchError::Load(e.to_string()))
    };
    append(
        &mut journal,
        0,
        Entry::RunStarted {
            tenants: members.iter().map(|t| t.id.clone()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    )?;
    let (mut succeeded, mut failed) = (0, 0);
    let stop_after = if interrupted {
        members.len() / 2
    } else {
        usize::MAX
    };
    for (wave, group) in members.chunks(IN_FLIGHT).enumerate() {
        let mut lines: Vec<(usize, TenantOutcome)> = group
            .iter()
            .map(|t| {
                let first = !progress.deployed[t.index];
                let failed_before = progress.last_ok[t.index].is_some_and(|ok| ok != Some(true));
                (t.index, tenant_entries(t, run, kind, first, failed_before))
            })
            .collect();
        // Cut the interrupted run: tenants past the stop get half their records and no end.
        for (n, (_, line)) in lines.iter_mut().enumerate() {
            if wave * IN_FLIGHT + n >= stop_after {
                let keep = line.entries.len() / 2;
                line.entries.truncate(keep);
                line.ok = None;
            }
        }
        let total: usize = lines.iter().map(|(_, l)| l.entries.len()).sum();
        let step = (WAVE_SECONDS * 1000) as f64 / total.max(1) as f64;
        let wave_start = wave as i64 * WAVE_SECONDS * 1000 + 30;
        let mut cursors: Vec<std::vec::IntoIter<Entry>> = lines
            .iter_mut()
            .map(|(_, l)| std::mem::take(&mut l.entries).into_iter())
            .collect();
        // Round-robin over the tenants in flight, as their records interleave in a real run.
        let mut written = 0usize;
        while written < total {
            for cursor in &mut cursors {
                if let Some(entry) = cursor.next() {
                    let millis = wave_start + (written as f64 * step) as i64;
                    append(&mut journal, millis, entry)?;
                    written += 1;
                }
            }
        }
        for (index, line) in lines {
            progress.tenant_runs += 1;
            progress.last_ok[index] = Some(line.ok);
            match line.ok {
                Some(true) => succeeded += 1,
                Some(false) => {
                    failed += 1;
                    progress.failed_tenant_runs += 1;
                }
                None => {}
            }
            if !progress.deployed[index] && line.ok.is_some() {
                progress.deployed[index] = true;
                let t = &shapes[index];
                let map = IdentityMap {
                    objects: t
                        .resources
                        .iter()
                        .filter_map(|r| Some((r.key.clone(), r.object_id.clone()?)))
                        .collect(),
                    kinds: t
                        .resources
                        .iter()
                        .map(|r| (r.key.clone(), r.kind.to_string()))
                        .collect(),
                    applied: t
                        .resources
                        .iter()
                        .map(|r| (r.key.clone(), r.body_hash.clone()))
                        .collect(),
                };
                save_identity(project_dir, &t.id, &map)
                    .map_err(|e| BenchError::Load(e.to_string()))?;
            }
        }
    }
    let waves = members.len().div_ceil(IN_FLIGHT) as i64;
    let end_millis = waves * WAVE_SECONDS * 1000 + 60;
    if !interrupted {
        append(
            &mut journal,
            end_millis,
            Entry::RunFinished { succeeded, failed },
        )?;
    }
    progress.records += records;
    progress.ended = start
        .checked_add(jiff::SignedDuration::from_millis(end_millis))
        .ok();
    Ok(())
}

/// The drift results of a nightly `drift --all`, four hours after the last run: one tenant in
/// thirty-five drifted (a Conditional Access policy switched off by an administrator, or an
/// object deleted), the others in sync.
fn write_drift(
    shapes: &[TenantShape],
    progress: &Progress,
    path: &Path,
) -> Result<usize, BenchError> {
    let created = progress
        .ended
        .and_then(|e| e.checked_add(jiff::SignedDuration::from_hours(4)).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| START.to_string());
    let changed_at = progress
        .ended
        .and_then(|e| e.checked_add(jiff::SignedDuration::from_hours(2)).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| START.to_string());
    let mut drifted = 0;
    let mut reports = Vec::with_capacity(shapes.len());
    for t in shapes.iter().filter(|t| progress.deployed[t.index]) {
        let mut items = Vec::new();
        if chance(28, t.index as u64, 11, 11) {
            drifted += 1;
            let ca = t.resources.iter().find(|r| r.conditional_access);
            if let Some(res) = ca {
                items.push(DriftItem {
                    key: res.key.clone(),
                    kind: res.kind.to_string(),
                    object_id: res.object_id.clone(),
                    state: DriftState::Modified {
                        changes: vec![Change {
                            pointer: "/state".into(),
                            desired: Some("enabled".into()),
                            live: Some("disabled".into()),
                        }],
                    },
                    changed_by: Some(ChangedBy {
                        actor: format!("admin@{}", t.domain),
                        is_self: false,
                        at: changed_at.clone(),
                        activity: "Update conditional access policy".into(),
                    }),
                    changed_by_unknown: None,
                    live_modified: None,
                });
            }
            if chance(300, t.index as u64, 12, 12)
                && let Some(res) = t.resources.iter().find(|r| r.kind == "namedLocation")
            {
                items.push(DriftItem {
                    key: res.key.clone(),
                    kind: res.kind.to_string(),
                    object_id: res.object_id.clone(),
                    state: DriftState::Missing,
                    changed_by: None,
                    changed_by_unknown: Some(
                        "the audit log holds no entry for this object in the last 30 days".into(),
                    ),
                    live_modified: None,
                });
            }
        }
        let in_sync = t.resources.len().saturating_sub(items.len());
        reports.push(TenantReport {
            id: t.id.clone(),
            name: t.name.clone(),
            ring: t.ring.name().to_string(),
            ok: true,
            counts: Counts::default(),
            reason: None,
            failures: Vec::new(),
            skipped: Vec::new(),
            plan: None,
            drift: Some(TenantDrift { items, in_sync }),
            evidence: None,
            snapshot_files: None,
            seconds: 0.0,
        });
    }
    let document = drift_json(&reports, &created);
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(|e| BenchError::Load(format!("drift results: {e}")))?;
    text.push('\n');
    std::fs::write(path, text).map_err(io(path))?;
    Ok(drifted)
}

fn journal_bytes(project_dir: &Path) -> u64 {
    walkdir::WalkDir::new(crate::deploy::state_root(project_dir).join("runs"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "journal.jsonl")
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Write the project, its run history and the drift results under `work_dir`.
pub fn write(work_dir: &Path, options: &HistoryOptions) -> Result<History, BenchError> {
    let started = Instant::now();
    let project_dir = work_dir.join("project");
    let drift_file = work_dir.join("drift.json");
    let base: jiff::Timestamp = START
        .parse()
        .map_err(|e| BenchError::Load(format!("{START}: {e}")))?;
    // The date the last run falls on: expiries are spread around it.
    let as_of = base
        .checked_add(jiff::SignedDuration::from_hours(options.runs as i64 * 24))
        .map_err(|e| BenchError::Load(e.to_string()))?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let (toml, overrides, expired_overrides) = tenants_toml(options.tenants, as_of);
    crate::bench::write_project_with_tenants(&project_dir, &toml)?;
    let shapes = shapes(&project_dir)?;
    let mut progress = Progress {
        deployed: vec![false; shapes.len()],
        last_ok: vec![None; shapes.len()],
        ..Progress::default()
    };
    for run in 0..options.runs {
        write_run(&project_dir, &shapes, run, options.runs, &mut progress)?;
    }
    let drifted_tenants = write_drift(&shapes, &progress, &drift_file)?;
    let failed_last = progress
        .last_ok
        .iter()
        .filter(|ok| ok.is_some_and(|ok| ok != Some(true)))
        .count();
    Ok(History {
        journal_bytes: journal_bytes(&project_dir),
        project_dir,
        drift_file,
        runs: options.runs,
        tenant_runs: progress.tenant_runs,
        failed_tenant_runs: progress.failed_tenant_runs,
        records: progress.records,
        overrides,
        expired_overrides,
        drifted_tenants,
        failed_last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_rolls_each_change_out_ring_by_ring_between_targeted_runs() {
        assert_eq!(run_kind(0), RunKind::Onboard);
        assert!(matches!(
            run_kind(11),
            RunKind::Wave {
                ring: Ring::Pilot,
                change: 1,
                ..
            }
        ));
        assert!(matches!(
            run_kind(17),
            RunKind::Wave {
                ring: Ring::Broad,
                half: Some(1),
                ..
            }
        ));
        assert_eq!(run_kind(12), RunKind::Targeted);
        let rings: Vec<Ring> = (0..1000).map(Ring::of).collect();
        let pilot = rings.iter().filter(|r| **r == Ring::Pilot).count();
        let early = rings.iter().filter(|r| **r == Ring::Early).count();
        assert_eq!((pilot, early), (20, 200));
    }

    #[test]
    fn ids_are_guid_shaped_and_repeatable() {
        let id = guid(1, 2, 3);
        assert_eq!(id, guid(1, 2, 3));
        assert_ne!(id, guid(1, 2, 4));
        assert_eq!(id.len(), 36);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }
}
