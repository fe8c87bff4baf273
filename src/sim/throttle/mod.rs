//! Graph's published throttling limits (graph-wire-facts.md section 2) as token buckets keyed
//! like Graph keys them, and the headers Graph sends. `--time-scale X` makes every window X
//! times shorter and every Retry-After X times smaller.
//!
//! Owns: every bucket of the simulator (lazily created per app, per tenant and per app+tenant).
//! Input: one request (or batch item): app, tenant, throttle class, read or write, resource
//! units. Output: an [`Admission`]: allowed (with headers) or throttled (with Retry-After or,
//! for Conditional Access, without).
//!
//! # The bucket model
//!
//! Every limit "N per W" is a token bucket of capacity N refilled continuously at N per W: from
//! idle a client may burst N requests, then sustain N per W; over any interval `t` at most
//! `N + N·t/W` pass. The limits ([`Limits::graph`], section 2.2):
//!
//! | class | key | limit | when throttled |
//! |---|---|---|---|
//! | every request | app | 130,000 requests / 10 s | Retry-After |
//! | Conditional Access, named locations | tenant (all apps) | 1 request / 1 s | **no** Retry-After |
//! | Identity | app + tenant | 3,500 RU / 10 s (size S; M 5,000, L 8,000) | Retry-After, `ResourceUnitLimitExceeded` |
//! | Identity | app | 150,000 RU / 20 s | Retry-After, `ResourceUnitLimitExceeded` |
//! | Identity writes | app + tenant | 3,000 / 150 s | Retry-After, `WriteLimitExceeded` |
//! | Identity writes | tenant (all apps) | 18,000 / 300 s | Retry-After, `WriteLimitExceeded` |
//! | Identity writes | app (all tenants) | 35,000 / 300 s | Retry-After, `WriteLimitExceeded` |
//! | Intune writes | app + tenant | 100 / 20 s | Retry-After |
//! | Intune writes | tenant | 200 / 20 s | Retry-After |
//! | Intune, any request | app + tenant | 1,000 / 20 s | Retry-After |
//! | Intune, any request | tenant | 2,000 / 20 s | Retry-After |
//!
//! A request is admitted only when every bucket that applies to it holds its cost (1, or the
//! resource units for the identity RU buckets); then all of them are charged at once, under the
//! locks of the buckets involved, so concurrent callers never get more than the limits.
//!
//! Retry-After is the time until the bucket that refused the request (the slowest one, when
//! several did) holds the request's cost again, rounded up to whole seconds as Graph sends it,
//! then divided by the time scale and rounded up to the millisecond (`0.125` at `--time-scale 8`).
//!
//! # What a throttled request costs
//!
//! Graph "continues to log resource usage while a client is being throttled" (section 2.1): a
//! client that ignores Retry-After and hammers stays throttled longer. The simulator does the
//! same for the one bucket where that sentence applies, the identity resource-unit bucket of the
//! app + tenant: a request that bucket refuses is still charged to it, into a debt capped at one
//! window's worth (so a client in a hot loop is locked out for at most one extra window). The
//! Retry-After it gets already counts that charge, so a client that waits exactly Retry-After
//! and sends the same request again is admitted. Every other bucket (request counts and write
//! quotas, which count requests Graph performed) is never charged by a refused request.
//! [`Limits::charge_refused_resource_units`] turns the debt off.
//!
//! # Headers
//!
//! Identity requests always get `x-ms-resource-unit` (their cost), and
//! `x-ms-throttle-limit-percentage` when the fullest identity bucket is above 0.8 of its limit
//! (`1.0` when throttling starts, at most `1.8`). Identity requests refused get
//! `x-ms-throttle-scope` (`<Scope>/<Limit>/<app>/<tenant>`, e.g.
//! `Tenant_Application/ReadWrite/<app>/<tenant>`) and `x-ms-throttle-information`
//! (`ResourceUnitLimitExceeded` or `WriteLimitExceeded`). `Retry-After` itself is not among the
//! headers: the router writes it from [`Admission::Throttled::retry_after`] with
//! [`retry_after_value`].
//!
//! Time comes only from the injected [`Clock`]; `admit` is synchronous and holds at most two
//! short locks (one tenant shard, then the app table; always in that order).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::kinds::ThrottleClass;
use crate::sim::clock::Clock;

mod limits;
#[cfg(test)]
mod tests;

pub use limits::*;

/// Nanoseconds of Graph time per second.
const NANOS: u128 = 1_000_000_000;

/// A token bucket in exact integer arithmetic. One token is `window_ns` units; refilling adds
/// `amount` units per nanosecond of (scaled) Graph time, so no rounding ever drifts.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Units held; negative is a debt (identity RU charged while refused).
    units: i128,
    /// Graph time (ns) of the last refill.
    at: u64,
}

impl Bucket {
    fn full(rate: Rate, now: u64) -> Bucket {
        Bucket {
            units: capacity(rate),
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: u64) {
        if now <= self.at {
            return;
        }
        let elapsed = i128::from(now - self.at);
        let cap = capacity(rate);
        let added = elapsed.saturating_mul(i128::from(rate.amount));
        self.units = self.units.saturating_add(added).min(cap);
        self.at = now;
    }

    /// Graph nanoseconds until the bucket holds `cost` tokens (0 when it does).
    fn wait_ns(&self, rate: Rate, cost: u32) -> u128 {
        let need = cost_units(rate, cost) - self.units;
        if need <= 0 || rate.amount == 0 {
            return 0;
        }
        let need = need.unsigned_abs();
        need.div_ceil(u128::from(rate.amount))
    }

    /// Fraction of the limit in use (1 − held / capacity), 0 when the bucket is full.
    fn usage(&self, rate: Rate) -> f64 {
        let cap = capacity(rate);
        if cap <= 0 {
            return 0.0;
        }
        (cap - self.units) as f64 / cap as f64
    }
}

fn window_ns(rate: Rate) -> i128 {
    i128::try_from(rate.window.as_nanos()).unwrap_or(i128::MAX / 4)
}

fn capacity(rate: Rate) -> i128 {
    window_ns(rate).saturating_mul(i128::from(rate.amount))
}

fn cost_units(rate: Rate, cost: u32) -> i128 {
    window_ns(rate).saturating_mul(i128::from(cost))
}

/// Buckets keyed per tenant (all apps).
#[derive(Debug)]
struct TenantState {
    conditional_access: Bucket,
    identity_writes: Bucket,
    intune_writes: Bucket,
    intune_requests: Bucket,
    /// Per app + tenant; almost always one app, so a short vector.
    apps: Vec<(Box<str>, AppTenantState)>,
}

impl TenantState {
    fn new(limits: &Limits, now: u64) -> TenantState {
        TenantState {
            conditional_access: Bucket::full(limits.conditional_access_requests, now),
            identity_writes: Bucket::full(limits.identity_tenant_writes, now),
            intune_writes: Bucket::full(limits.intune_tenant_writes, now),
            intune_requests: Bucket::full(limits.intune_tenant_requests, now),
            apps: Vec::new(),
        }
    }
}

/// Buckets keyed per app + tenant.
#[derive(Debug)]
struct AppTenantState {
    identity_resource_units: Bucket,
    identity_writes: Bucket,
    intune_writes: Bucket,
    intune_requests: Bucket,
    reports_requests: Bucket,
}

impl AppTenantState {
    fn new(limits: &Limits, now: u64) -> AppTenantState {
        AppTenantState {
            identity_resource_units: Bucket::full(limits.identity_resource_units, now),
            identity_writes: Bucket::full(limits.identity_writes, now),
            intune_writes: Bucket::full(limits.intune_writes, now),
            intune_requests: Bucket::full(limits.intune_requests, now),
            reports_requests: Bucket::full(limits.reports_requests, now),
        }
    }
}

/// Buckets keyed per app (all tenants).
#[derive(Debug)]
struct AppState {
    global: Bucket,
    identity_resource_units: Bucket,
    identity_writes: Bucket,
}

impl AppState {
    fn new(limits: &Limits, now: u64) -> AppState {
        AppState {
            global: Bucket::full(limits.global_requests, now),
            identity_resource_units: Bucket::full(limits.identity_app_resource_units, now),
            identity_writes: Bucket::full(limits.identity_app_writes, now),
        }
    }
}

/// FNV-1a: a fast, deterministic hash for tenant and app ids (they come from validated tokens,
/// so hash flooding is not a concern).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type FnvMap<V> = HashMap<Box<str>, V, BuildHasherDefault<Fnv>>;

/// Tenant shards: enough that threads on different tenants rarely meet.
const SHARDS: usize = 64;

fn shard_of(tenant: &str) -> usize {
    let mut hasher = Fnv::default();
    hasher.write(tenant.as_bytes());
    let hash = hasher.finish();
    // Mix the high bits in: FNV's low bits are weak for similar keys.
    ((hash ^ (hash >> 32)) as usize) % SHARDS
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a bucket lock leaves plain numbers behind; keep going with them.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One bucket a request is checked against.
struct Check<'a> {
    bucket: &'a mut Bucket,
    limit: Limit,
    rate: Rate,
    cost: u32,
}

/// The simulator's throttling state.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    limits: Limits,
    clock: Arc<dyn Clock>,
    /// Effective time scale (validated).
    scale: f64,
    tenants: Box<[Mutex<FnvMap<TenantState>>]>,
    apps: Mutex<FnvMap<AppState>>,
}

impl Throttle {
    /// New buckets with Graph's published limits for small tenants ([`Limits::default`]).
    pub fn new(config: ThrottleConfig, clock: Arc<dyn Clock>) -> Throttle {
        Throttle::with_limits(config, Limits::default(), clock)
    }

    /// New buckets with other limits (a tenant size, or smaller numbers for a test).
    pub fn with_limits(config: ThrottleConfig, limits: Limits, clock: Arc<dyn Clock>) -> Throttle {
        let scale = if config.time_scale.is_finite() && config.time_scale > 0.0 {
            config.time_scale
        } else {
            1.0
        };
        Throttle {
            config,
            limits,
            clock,
            scale,
            tenants: (0..SHARDS).map(|_| Mutex::new(FnvMap::default())).collect(),
            apps: Mutex::new(FnvMap::default()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forget every bucket (`POST /_sim/reset`): everyone starts full again.
    pub fn reset(&self) {
        for shard in self.tenants.iter() {
            lock(shard).clear();
        }
        lock(&self.apps).clear();
    }

    /// Admit one request or batch item.
    pub fn admit(&self, request: &ThrottleRequest<'_>) -> Admission {
        self.admit_with_limit(request).0
    }

    /// Admit one request or batch item, and say which limit refused it (for the request log).
    pub fn admit_with_limit(&self, request: &ThrottleRequest<'_>) -> (Admission, Option<Limit>) {
        let identity = request.class == Some(ThrottleClass::Identity);
        let ru = request.resource_units.max(1);
        let mut headers = Vec::new();
        if identity {
            headers.push(("x-ms-resource-unit", ru.to_string()));
        }
        if !self.config.enabled {
            return (Admission::Allowed { headers }, None);
        }
        let now = self.graph_now();
        let limits = &self.limits;

        // Lock order: the tenant's shard, then the app table.
        let mut shard_guard = match request.class {
            Some(_) => Some(lock(&self.tenants[shard_of(request.tenant_id)])),
            None => None,
        };
        let mut apps_guard = lock(&self.apps);
        let app = get_or_insert(&mut apps_guard, request.app_id, || {
            AppState::new(limits, now)
        });

        let mut checks: [Option<Check<'_>>; 6] = Default::default();
        checks[0] = Some(Check {
            bucket: &mut app.global,
            limit: Limit::GlobalRequests,
            rate: limits.global_requests,
            cost: 1,
        });
        if let (Some(class), Some(shard)) = (request.class, shard_guard.as_deref_mut()) {
            let tenant = get_or_insert(shard, request.tenant_id, || TenantState::new(limits, now));
            let TenantState {
                conditional_access,
                identity_writes: tenant_identity_writes,
                intune_writes: tenant_intune_writes,
                intune_requests: tenant_intune_requests,
                apps: tenant_apps,
            } = tenant;
            let pair = match tenant_apps
                .iter()
                .position(|(id, _)| &**id == request.app_id)
            {
                Some(i) => &mut tenant_apps[i].1,
                None => {
                    tenant_apps.push((request.app_id.into(), AppTenantState::new(limits, now)));
                    let last = tenant_apps.len() - 1;
                    &mut tenant_apps[last].1
                }
            };
            match class {
                ThrottleClass::ConditionalAccess => {
                    checks[1] = Some(Check {
                        bucket: conditional_access,
                        limit: Limit::ConditionalAccessRequests,
                        rate: limits.conditional_access_requests,
                        cost: 1,
                    });
                }
                ThrottleClass::Identity => {
                    checks[1] = Some(Check {
                        bucket: &mut pair.identity_resource_units,
                        limit: Limit::IdentityResourceUnits,
                        rate: limits.identity_resource_units,
                        cost: ru,
                    });
                    checks[2] = Some(Check {
                        bucket: &mut app.identity_resource_units,
                        limit: Limit::IdentityAppResourceUnits,
                        rate: limits.identity_app_resource_units,
                        cost: ru,
                    });
                    if request.write {
                        checks[3] = Some(Check {
                            bucket: &mut pair.identity_writes,
                            limit: Limit::IdentityWrites,
                            rate: limits.identity_writes,
                            cost: 1,
                        });
                        checks[4] = Some(Check {
                            bucket: tenant_identity_writes,
                            limit: Limit::IdentityTenantWrites,
                            rate: limits.identity_tenant_writes,
                            cost: 1,
                        });
                        checks[5] = Some(Check {
                            bucket: &mut app.identity_writes,
                            limit: Limit::IdentityAppWrites,
                            rate: limits.identity_app_writes,
                            cost: 1,
                        });
                    }
                }
                ThrottleClass::Reports => {
                    checks[1] = Some(Check {
                        bucket: &mut pair.reports_requests,
                        limit: Limit::ReportsRequests,
                        rate: limits.reports_requests,
                        cost: 1,
                    });
                }
                ThrottleClass::Intune => {
                    checks[1] = Some(Check {
                        bucket: &mut pair.intune_requests,
                        limit: Limit::IntuneRequests,
                        rate: limits.intune_requests,
                        cost: 1,
                    });
                    checks[2] = Some(Check {
                        bucket: tenant_intune_requests,
                        limit: Limit::IntuneTenantRequests,
                        rate: limits.intune_tenant_requests,
                        cost: 1,
                    });
                    if request.write {
                        checks[3] = Some(Check {
                            bucket: &mut pair.intune_writes,
                            limit: Limit::IntuneWrites,
                            rate: limits.intune_writes,
                            cost: 1,
                        });
                        checks[4] = Some(Check {
                            bucket: tenant_intune_writes,
                            limit: Limit::IntuneTenantWrites,
                            rate: limits.intune_tenant_writes,
                            cost: 1,
                        });
                    }
                }
            }
        }

        // Refill, and find the slowest refusing bucket.
        let mut refused: Option<(usize, u128)> = None;
        for (i, check) in checks.iter_mut().enumerate() {
            let Some(check) = check else { continue };
            check.bucket.refill(check.rate, now);
            let wait = check.bucket.wait_ns(check.rate, check.cost);
            if wait > 0 && refused.is_none_or(|(_, longest)| wait > longest) {
                refused = Some((i, wait));
            }
        }

        let Some((index, mut wait)) = refused else {
            let mut usage: f64 = 0.0;
            for check in checks.iter_mut().flatten() {
                check.bucket.units -= cost_units(check.rate, check.cost);
                if identity && check.limit != Limit::GlobalRequests {
                    usage = usage.max(check.bucket.usage(check.rate));
                }
            }
            if identity && usage > 0.8 {
                headers.push(("x-ms-throttle-limit-percentage", percentage(usage)));
            }
            return (Admission::Allowed { headers }, None);
        };

        let mut limit = checks[index]
            .as_ref()
            .map_or(Limit::GlobalRequests, |c| c.limit);
        // The identity RU bucket logs the usage of a refused request (module docs).
        if limits.charge_refused_resource_units {
            for check in checks.iter_mut().flatten() {
                if check.limit == Limit::IdentityResourceUnits
                    && check.bucket.wait_ns(check.rate, check.cost) > 0
                {
                    let floor = -capacity(check.rate);
                    check.bucket.units =
                        (check.bucket.units - cost_units(check.rate, check.cost)).max(floor);
                    let after = check.bucket.wait_ns(check.rate, check.cost);
                    if after > wait {
                        wait = after;
                        limit = check.limit;
                    }
                }
            }
        }
        let mut usage: f64 = 1.0;
        for check in checks.iter().flatten() {
            if identity && check.limit != Limit::GlobalRequests {
                usage = usage.max(check.bucket.usage(check.rate));
            }
        }
        drop(apps_guard);
        drop(shard_guard);

        if identity {
            headers.push(("x-ms-throttle-limit-percentage", percentage(usage)));
            if let Some((scope, kind, information)) = limit.identity_headers() {
                headers.push((
                    "x-ms-throttle-scope",
                    format!("{scope}/{kind}/{}/{}", request.app_id, request.tenant_id),
                ));
                headers.push(("x-ms-throttle-information", information.to_string()));
            }
        }
        let retry_after = match limit {
            Limit::ConditionalAccessRequests => None,
            _ => Some(self.retry_after_seconds(wait)),
        };
        (
            Admission::Throttled {
                retry_after,
                headers,
            },
            Some(limit),
        )
    }

    /// Graph time now, in nanoseconds: the clock's time multiplied by the time scale.
    fn graph_now(&self) -> u64 {
        let real = self.clock.now().as_nanos();
        let scaled = if self.scale == 1.0 {
            real
        } else {
            (real as f64 * self.scale) as u128
        };
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }

    /// Real seconds to wait for `wait` Graph nanoseconds: whole Graph seconds (at least 1), then
    /// divided by the time scale and rounded up to the millisecond.
    fn retry_after_seconds(&self, wait: u128) -> f64 {
        let graph_seconds = wait.div_ceil(NANOS).max(1);
        if self.scale == 1.0 {
            return graph_seconds as f64;
        }
        let millis = ((graph_seconds * 1000) as f64 / self.scale).ceil().max(1.0);
        millis / 1000.0
    }
}

fn get_or_insert<'m, V>(map: &'m mut FnvMap<V>, key: &str, make: impl FnOnce() -> V) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.into(), make());
    }
    map.get_mut(key).expect("invariant: inserted just above")
}

/// `x-ms-throttle-limit-percentage`: two decimals, between 0.8 and 1.8.
fn percentage(usage: f64) -> String {
    format!("{:.2}", usage.clamp(0.0, 1.8))
}
