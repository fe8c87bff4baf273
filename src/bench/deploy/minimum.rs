//! The least time Graph's limits allow a fleet deploy (and plan): each tenant's requests,
//! reads included, counted per throttle class and paced at the published limits without the
//! client's headroom; a tenant's minimum is its slowest class, the fleet's its slowest tenant,
//! or the app-wide limit when that is slower.

use super::*;

/// Request counts of one tenant per throttle class.
pub type ClassCounts = BTreeMap<ThrottleClass, usize>;

/// Counts one bundle's operations per throttle class (all bundle operations are writes).
pub fn class_counts(bundle: &ValidatedBundle) -> ClassCounts {
    let mut counts = ClassCounts::new();
    for op in &bundle.bundle().operations {
        *counts.entry(op.kind.throttle).or_default() += 1;
    }
    counts
}

/// Counts the reads the client makes to plan a bundle, per throttle class: on a fresh tenant
/// (`converged` false: no policy exists, so no assignment set is read), or on one already
/// deployed (every `/assign` operation's assignment set is read too).
pub fn read_counts(bundle: &ValidatedBundle, converged: bool) -> ClassCounts {
    let mut counts = ClassCounts::new();
    for class in crate::live::read_classes(&bundle.bundle().operations, converged) {
        *counts.entry(class).or_default() += 1;
    }
    counts
}

/// One tenant's paced requests: its reads and its writes, per throttle class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRequests {
    /// Reads (sent first: a tenant is planned before it is written).
    pub reads: ClassCounts,
    /// Writes.
    pub writes: ClassCounts,
}

/// Memoized [`Pacer::paced_time`] (tenants share few distinct counts).
#[derive(Debug)]
pub struct Minimums {
    pub(super) limits: Limits,
    pub(super) known: HashMap<(ThrottleClass, usize, usize), Duration>,
}

impl Minimums {
    /// Minimums under `limits` as given: [`Limits::without_headroom`] of the client's
    /// time-scaled limits for the theoretical minimum, or the client's own limits.
    pub fn new(limits: Limits) -> Minimums {
        Minimums {
            limits,
            known: HashMap::new(),
        }
    }

    /// The least time `reads` and then `writes` of `class` need in one tenant.
    pub fn class(&mut self, class: ThrottleClass, reads: usize, writes: usize) -> Duration {
        let limits = self.limits;
        *self
            .known
            .entry((class, reads, writes))
            .or_insert_with(|| Pacer::paced_time(&limits, class, reads, writes))
    }

    /// A tenant's minimum: its slowest class.
    pub fn tenant(&mut self, requests: &TenantRequests) -> Duration {
        let classes: std::collections::BTreeSet<ThrottleClass> = requests
            .reads
            .keys()
            .chain(requests.writes.keys())
            .copied()
            .collect();
        classes
            .into_iter()
            .map(|class| {
                let count = |counts: &ClassCounts| counts.get(&class).copied().unwrap_or(0);
                self.class(class, count(&requests.reads), count(&requests.writes))
            })
            .max()
            .unwrap_or_default()
    }
}

/// The least time the app-wide limit (`limits.global`, a bucket that holds the limit and
/// refills it over the window, as the simulator and Graph count it) allows for `requests`.
pub fn app_limit_minimum(limits: &Limits, requests: usize) -> Duration {
    full_bucket_minimum(limits.global, requests)
}

/// The least time the app-wide limits allow a deploy: every request under `limits.global`,
/// and its identity writes under `limits.identity_app_writes` (35,000 per 5 minutes across
/// tenants, which 10,000 tenants of the shipped baselines reach long before any other).
pub fn deploy_app_limit_minimum(
    limits: &Limits,
    requests: usize,
    identity_writes: usize,
) -> Duration {
    app_limit_minimum(limits, requests).max(full_bucket_minimum(
        limits.identity_app_writes,
        identity_writes,
    ))
}

/// The least time a bucket that holds `rate.limit` and refills it over the window allows for
/// `requests` (as the simulator and Graph count it).
fn full_bucket_minimum(rate: crate::graph::pacing::Rate, requests: usize) -> Duration {
    let excess = (requests as f64 - rate.limit).max(0.0);
    if excess == 0.0 || rate.limit <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(excess * rate.window.as_secs_f64() / rate.limit)
}

/// The slowest tenant's figures.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Slowest {
    /// Its paced requests, reads included, at Graph's limits.
    pub(super) minimum: Duration,
    /// Conditional Access reads and writes.
    pub(super) ca_reads: usize,
    pub(super) ca_writes: usize,
}

/// What the minimums need from the fleet's bundles.
#[derive(Debug, Default)]
pub(super) struct FleetCounts {
    pub(super) by_class: BTreeMap<ThrottleClass, usize>,
    pub(super) operations: usize,
    pub(super) reads: usize,
    pub(super) replan_reads: usize,
    pub(super) ca_reads: usize,
    pub(super) slowest: Slowest,
    /// The slowest tenant's writes alone (the minimum before issue 9).
    pub(super) writes_only: Duration,
    /// The slowest tenant under the client's own limits.
    pub(super) client_pacing: Duration,
    /// The slowest tenant's reads on a deployed tenant (the re-plan's minimum).
    pub(super) replan: Duration,
    pub(super) failed: Vec<String>,
}

/// One tenant's requests for a deploy on a fresh tenant, and the reads of a re-plan.
pub(super) type Counted = (TenantRequests, ClassCounts);

/// Compile every tenant's bundle (on all cores, one bundle per thread at a time) and count.
pub(super) fn count_fleet(fleet: &Fleet, limits: Limits) -> FleetCounts {
    let entries = &fleet.project.tenants;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = entries.len().div_ceil(threads.max(1)).max(1);
    let per_tenant: Vec<Result<Counted, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|entries| {
                scope.spawn(move || {
                    entries
                        .iter()
                        .map(|entry| {
                            let tenant = fleet
                                .project
                                .tenant(entry)
                                .ok_or_else(|| format!("{}: cannot be read", entry.id))?;
                            let compiled = compile::compile_tenant(
                                &fleet.project,
                                &fleet.engine,
                                fleet.schemas,
                                &tenant,
                                false,
                                fleet.today,
                            );
                            let bundle = compiled
                                .bundle
                                .ok_or_else(|| format!("{}: does not compile", entry.id))?;
                            let requests = TenantRequests {
                                reads: read_counts(&bundle, false),
                                writes: class_counts(&bundle),
                            };
                            Ok((requests, read_counts(&bundle, true)))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("a counting thread panicked".into())])
            })
            .collect()
    });
    let mut floor = Minimums::new(limits.without_headroom());
    let mut client = Minimums::new(limits);
    let mut counts = FleetCounts::default();
    for result in per_tenant {
        let (requests, replan_reads) = match result {
            Ok(counted) => counted,
            Err(e) => {
                counts.failed.push(e);
                continue;
            }
        };
        let ca = |counts: &ClassCounts| {
            counts
                .get(&ThrottleClass::ConditionalAccess)
                .copied()
                .unwrap_or(0)
        };
        let minimum = floor.tenant(&requests);
        if minimum > counts.slowest.minimum {
            counts.slowest = Slowest {
                minimum,
                ca_reads: ca(&requests.reads),
                ca_writes: ca(&requests.writes),
            };
        }
        counts.client_pacing = counts.client_pacing.max(client.tenant(&requests));
        counts.writes_only = counts.writes_only.max(floor.tenant(&TenantRequests {
            reads: ClassCounts::new(),
            writes: requests.writes.clone(),
        }));
        counts.replan = counts.replan.max(floor.tenant(&TenantRequests {
            reads: replan_reads.clone(),
            writes: ClassCounts::new(),
        }));
        counts.ca_reads += ca(&requests.reads);
        counts.reads += requests.reads.values().sum::<usize>();
        counts.replan_reads += replan_reads.values().sum::<usize>();
        for (class, n) in requests.writes {
            *counts.by_class.entry(class).or_default() += n;
            counts.operations += n;
        }
    }
    counts
}
