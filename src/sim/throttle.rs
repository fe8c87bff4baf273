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
use std::time::Duration;

use crate::kinds::ThrottleClass;
use crate::sim::clock::Clock;

/// How throttling behaves.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Off: every request is admitted (benchmarks of the simulator itself).
    pub enabled: bool,
    /// Windows are this many times shorter (1.0 = Graph's real limits). A value that is not a
    /// positive finite number is taken as 1.0.
    pub time_scale: f64,
}

impl Default for ThrottleConfig {
    /// Enabled, at Graph's real speed.
    fn default() -> Self {
        ThrottleConfig {
            enabled: true,
            time_scale: 1.0,
        }
    }
}

/// One request to admit.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRequest<'a> {
    /// The calling app (client id).
    pub app_id: &'a str,
    /// The tenant.
    pub tenant_id: &'a str,
    /// The kind's class; `None` for paths outside the registry (counted by the global limit only).
    pub class: Option<ThrottleClass>,
    /// POST/PATCH/PUT/DELETE.
    pub write: bool,
    /// Identity resource units this request costs (1 for most; see section 2.2 and
    /// [`resource_units`]). 0 is taken as 1.
    pub resource_units: u32,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Go ahead; add these headers to the response (e.g. `x-ms-resource-unit`).
    Allowed {
        /// Response headers.
        headers: Vec<(&'static str, String)>,
    },
    /// 429.
    Throttled {
        /// Seconds for `Retry-After` (decimal when time-scaled); `None` for Conditional Access.
        retry_after: Option<f64>,
        /// Response headers (`x-ms-throttle-scope`, `x-ms-throttle-information`, ...).
        headers: Vec<(&'static str, String)>,
    },
}

/// A limit "`amount` per `window`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests (or resource units) per window; also the burst a full bucket allows.
    pub amount: u32,
    /// The window, at Graph's real speed (the time scale shortens it).
    pub window: Duration,
}

impl Rate {
    /// `amount` per `seconds` seconds.
    pub const fn per_seconds(amount: u32, seconds: u64) -> Rate {
        Rate {
            amount,
            window: Duration::from_secs(seconds),
        }
    }
}

/// The identity tenant size that picks the resource-unit bucket per app + tenant (section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TenantSize {
    /// Fewer than 50 users: 3,500 RU / 10 s.
    #[default]
    Small,
    /// 50 to 500 users: 5,000 RU / 10 s.
    Medium,
    /// More than 500 users: 8,000 RU / 10 s.
    Large,
}

impl TenantSize {
    /// Resource units per 10 s per app + tenant.
    pub fn resource_units_per_10s(self) -> u32 {
        match self {
            TenantSize::Small => 3_500,
            TenantSize::Medium => 5_000,
            TenantSize::Large => 8_000,
        }
    }
}

/// Every limit the simulator enforces. [`Limits::default`] is Graph's published numbers for a
/// small tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Every request, per app across all tenants: 130,000 / 10 s.
    pub global_requests: Rate,
    /// Conditional Access and named locations, per tenant for all apps: 1 / 1 s.
    pub conditional_access_requests: Rate,
    /// Identity resource units per app + tenant: 3,500 / 10 s (size S).
    pub identity_resource_units: Rate,
    /// Identity resource units per app across all tenants: 150,000 / 20 s.
    pub identity_app_resource_units: Rate,
    /// Identity writes per app + tenant: 3,000 / 150 s.
    pub identity_writes: Rate,
    /// Identity writes per tenant for all apps: 18,000 / 300 s.
    pub identity_tenant_writes: Rate,
    /// Identity writes per app across all tenants: 35,000 / 300 s.
    pub identity_app_writes: Rate,
    /// Intune writes per app + tenant: 100 / 20 s.
    pub intune_writes: Rate,
    /// Intune writes per tenant for all apps: 200 / 20 s.
    pub intune_tenant_writes: Rate,
    /// Intune requests (any method) per app + tenant: 1,000 / 20 s.
    pub intune_requests: Rate,
    /// Intune requests (any method) per tenant for all apps: 2,000 / 20 s.
    pub intune_tenant_requests: Rate,
    /// Charge a request refused by the identity RU bucket to that bucket anyway (Graph "continues
    /// to log resource usage while a client is being throttled"), into a debt of at most one
    /// window. Default: true.
    pub charge_refused_resource_units: bool,
}

impl Limits {
    /// Graph's published limits (graph-wire-facts.md section 2.2) for a tenant of this size.
    pub fn graph(size: TenantSize) -> Limits {
        Limits {
            global_requests: Rate::per_seconds(130_000, 10),
            conditional_access_requests: Rate::per_seconds(1, 1),
            identity_resource_units: Rate::per_seconds(size.resource_units_per_10s(), 10),
            identity_app_resource_units: Rate::per_seconds(150_000, 20),
            identity_writes: Rate::per_seconds(3_000, 150),
            identity_tenant_writes: Rate::per_seconds(18_000, 300),
            identity_app_writes: Rate::per_seconds(35_000, 300),
            intune_writes: Rate::per_seconds(100, 20),
            intune_tenant_writes: Rate::per_seconds(200, 20),
            intune_requests: Rate::per_seconds(1_000, 20),
            intune_tenant_requests: Rate::per_seconds(2_000, 20),
            charge_refused_resource_units: true,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::graph(TenantSize::Small)
    }
}

/// Which limit refused a request (for the request log's throttle events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`Limits::global_requests`].
    GlobalRequests,
    /// [`Limits::conditional_access_requests`].
    ConditionalAccessRequests,
    /// [`Limits::identity_resource_units`].
    IdentityResourceUnits,
    /// [`Limits::identity_app_resource_units`].
    IdentityAppResourceUnits,
    /// [`Limits::identity_writes`].
    IdentityWrites,
    /// [`Limits::identity_tenant_writes`].
    IdentityTenantWrites,
    /// [`Limits::identity_app_writes`].
    IdentityAppWrites,
    /// [`Limits::intune_writes`].
    IntuneWrites,
    /// [`Limits::intune_tenant_writes`].
    IntuneTenantWrites,
    /// [`Limits::intune_requests`].
    IntuneRequests,
    /// [`Limits::intune_tenant_requests`].
    IntuneTenantRequests,
}

impl Limit {
    /// A stable name (`identity-resource-units`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::GlobalRequests => "global-requests",
            Limit::ConditionalAccessRequests => "conditional-access-requests",
            Limit::IdentityResourceUnits => "identity-resource-units",
            Limit::IdentityAppResourceUnits => "identity-app-resource-units",
            Limit::IdentityWrites => "identity-writes",
            Limit::IdentityTenantWrites => "identity-tenant-writes",
            Limit::IdentityAppWrites => "identity-app-writes",
            Limit::IntuneWrites => "intune-writes",
            Limit::IntuneTenantWrites => "intune-tenant-writes",
            Limit::IntuneRequests => "intune-requests",
            Limit::IntuneTenantRequests => "intune-tenant-requests",
        }
    }

    /// `x-ms-throttle-scope` scope and limit parts, and `x-ms-throttle-information`, for the
    /// identity limits (the only service that documents them).
    fn identity_headers(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Limit::IdentityResourceUnits => Some((
                "Tenant_Application",
                "ReadWrite",
                "ResourceUnitLimitExceeded",
            )),
            Limit::IdentityAppResourceUnits => {
                Some(("Application", "ReadWrite", "ResourceUnitLimitExceeded"))
            }
            Limit::IdentityWrites => Some(("Tenant_Application", "Write", "WriteLimitExceeded")),
            Limit::IdentityTenantWrites => Some(("Tenant", "Write", "WriteLimitExceeded")),
            Limit::IdentityAppWrites => Some(("Application", "Write", "WriteLimitExceeded")),
            _ => None,
        }
    }
}

/// `Retry-After` header value for a number of seconds: an integer when whole (`10`), else up to
/// millisecond decimals (`0.125`).
pub fn retry_after_value(seconds: f64) -> String {
    if seconds.fract() == 0.0 && seconds.abs() < 1e15 {
        format!("{}", seconds as i64)
    } else {
        let text = format!("{seconds:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The identity resource units a request costs (graph-wire-facts.md section 2.2): writes 1;
/// GET `users` and `applications` 2, `groups/{id}/members` 3, `groups/{id}/transitiveMembers` 5,
/// `directoryObjects/getByIds` and `getObjectsById` 5 (2 with `$select`), `subscribedSkus` 3,
/// anything else 1; then `$select` −1, `$expand` +1, `$top` below 20 −1; at least 1.
///
/// `path` is relative to the version root (`/users`, `groups/{id}/members`), without query;
/// `query` is the raw query string without `?`.
pub fn resource_units(write: bool, path: &str, query: &str) -> u32 {
    if write {
        return 1;
    }
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let lower = |i: usize| segments.get(i).map(|s| s.to_ascii_lowercase());
    let has = |name: &str| {
        query.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            key.eq_ignore_ascii_case(name) || key.eq_ignore_ascii_case(name.trim_start_matches('$'))
        })
    };
    let select = has("$select");
    let (first, third) = (lower(0), lower(2));
    let base: i64 = match (first.as_deref(), segments.len(), third.as_deref()) {
        (Some("users" | "applications"), 1, _) => 2,
        (Some("groups"), 3, Some("members")) => 3,
        (Some("groups"), 3, Some("transitivemembers")) => 5,
        (Some("directoryobjects"), 2, _)
            if matches!(lower(1).as_deref(), Some("getbyids" | "getobjectsbyid")) =>
        {
            if select {
                return 2;
            }
            5
        }
        (Some("subscribedskus"), 1, _) => 3,
        _ => 1,
    };
    let mut cost = base;
    if select {
        cost -= 1;
    }
    if has("$expand") {
        cost += 1;
    }
    let small_top = query.split('&').any(|pair| {
        let mut parts = pair.splitn(2, '=');
        let key = parts.next().unwrap_or_default();
        (key.eq_ignore_ascii_case("$top") || key.eq_ignore_ascii_case("top"))
            && parts
                .next()
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|top| top < 20)
    });
    if small_top {
        cost -= 1;
    }
    u32::try_from(cost.max(1)).unwrap_or(1)
}

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
}

impl AppTenantState {
    fn new(limits: &Limits, now: u64) -> AppTenantState {
        AppTenantState {
            identity_resource_units: Bucket::full(limits.identity_resource_units, now),
            identity_writes: Bucket::full(limits.identity_writes, now),
            intune_writes: Bucket::full(limits.intune_writes, now),
            intune_requests: Bucket::full(limits.intune_requests, now),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::ManualClock;

    const APP: &str = "11111111-1111-1111-1111-111111111111";
    const APP2: &str = "22222222-2222-2222-2222-222222222222";
    const T1: &str = "aaaaaaaa-0000-0000-0000-000000000001";
    const T2: &str = "aaaaaaaa-0000-0000-0000-000000000002";

    fn throttle(scale: f64) -> (Arc<ManualClock>, Throttle) {
        throttle_with(scale, Limits::default())
    }

    fn throttle_with(scale: f64, limits: Limits) -> (Arc<ManualClock>, Throttle) {
        let clock = Arc::new(ManualClock::new());
        let config = ThrottleConfig {
            enabled: true,
            time_scale: scale,
        };
        let throttle = Throttle::with_limits(config, limits, clock.clone());
        (clock, throttle)
    }

    fn req<'a>(
        app: &'a str,
        tenant: &'a str,
        class: Option<ThrottleClass>,
        write: bool,
    ) -> ThrottleRequest<'a> {
        ThrottleRequest {
            app_id: app,
            tenant_id: tenant,
            class,
            write,
            resource_units: 1,
        }
    }

    fn allowed(a: &Admission) -> bool {
        matches!(a, Admission::Allowed { .. })
    }

    /// How many of `n` identical requests are admitted.
    fn admitted(t: &Throttle, r: &ThrottleRequest<'_>, n: usize) -> usize {
        (0..n).filter(|_| allowed(&t.admit(r))).count()
    }

    fn header<'h>(headers: &'h [(&'static str, String)], name: &str) -> Option<&'h str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn throttled(a: Admission) -> (Option<f64>, Vec<(&'static str, String)>) {
        match a {
            Admission::Throttled {
                retry_after,
                headers,
            } => (retry_after, headers),
            Admission::Allowed { headers } => panic!("expected a 429, got allowed {headers:?}"),
        }
    }

    const CA: Option<ThrottleClass> = Some(ThrottleClass::ConditionalAccess);
    const ID: Option<ThrottleClass> = Some(ThrottleClass::Identity);
    const INTUNE: Option<ThrottleClass> = Some(ThrottleClass::Intune);

    #[test]
    fn conditional_access_is_one_per_second_per_tenant_across_apps_without_retry_after() {
        let (clock, t) = throttle(1.0);
        assert!(allowed(&t.admit(&req(APP, T1, CA, false))));
        let (retry, headers) = throttled(t.admit(&req(APP, T1, CA, true)));
        assert_eq!(retry, None);
        assert!(headers.is_empty(), "{headers:?}");
        // Another app on the same tenant shares the bucket; another tenant has its own.
        assert!(!allowed(&t.admit(&req(APP2, T1, CA, false))));
        assert!(allowed(&t.admit(&req(APP, T2, CA, false))));
        clock.advance(Duration::from_millis(999));
        assert!(!allowed(&t.admit(&req(APP, T1, CA, false))));
        clock.advance(Duration::from_millis(1));
        assert!(allowed(&t.admit(&req(APP2, T1, CA, false))));
        assert!(!allowed(&t.admit(&req(APP2, T1, CA, false))));
        // A refused request costs nothing: one second after the last admission, one more.
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&t, &req(APP, T1, CA, false), 5), 1);
        // Idle for a minute still allows only one (capacity 1).
        clock.advance(Duration::from_secs(60));
        assert_eq!(admitted(&t, &req(APP, T1, CA, false), 5), 1);
        let (_, limit) = t.admit_with_limit(&req(APP, T1, CA, false));
        assert_eq!(limit, Some(Limit::ConditionalAccessRequests));
    }

    #[test]
    fn conditional_access_time_scaled() {
        let (clock, t) = throttle(8.0);
        assert!(allowed(&t.admit(&req(APP, T1, CA, false))));
        let (retry, _) = throttled(t.admit(&req(APP, T1, CA, false)));
        assert_eq!(retry, None);
        clock.advance(Duration::from_millis(124));
        assert!(!allowed(&t.admit(&req(APP, T1, CA, false))));
        clock.advance(Duration::from_millis(1));
        assert!(allowed(&t.admit(&req(APP, T1, CA, false))));
    }

    #[test]
    fn identity_resource_units_bucket_admits_3500_per_10s_with_headers() {
        let (clock, t) = throttle(1.0);
        let r = req(APP, T1, ID, false);
        // The first 2,800 (80%) carry no percentage; above that they do.
        for i in 1..=3500u32 {
            let Admission::Allowed { headers } = t.admit(&r) else {
                panic!("request {i} was throttled");
            };
            assert_eq!(header(&headers, "x-ms-resource-unit"), Some("1"));
            let pct = header(&headers, "x-ms-throttle-limit-percentage");
            assert_eq!(pct.is_some(), i > 2800, "request {i}: {pct:?}");
            if i == 3150 {
                assert_eq!(pct, Some("0.90"));
            }
        }
        let (retry, headers) = throttled(t.admit(&r));
        assert_eq!(retry, Some(1.0));
        assert_eq!(header(&headers, "x-ms-resource-unit"), Some("1"));
        assert_eq!(
            header(&headers, "x-ms-throttle-scope"),
            Some(format!("Tenant_Application/ReadWrite/{APP}/{T1}").as_str())
        );
        assert_eq!(
            header(&headers, "x-ms-throttle-information"),
            Some("ResourceUnitLimitExceeded")
        );
        assert!(header(&headers, "x-ms-throttle-limit-percentage").is_some());
        // Other tenants and other apps have their own bucket.
        assert!(allowed(&t.admit(&req(APP, T2, ID, false))));
        assert!(allowed(&t.admit(&req(APP2, T1, ID, false))));
        // Waiting Retry-After (1 s = 350 RU, minus the 1 RU debt of the refused request).
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&t, &r, 400), 349);
        // A full window refills the bucket completely (and no further).
        clock.advance(Duration::from_secs(100));
        assert_eq!(admitted(&t, &r, 4000), 3500);
    }

    #[test]
    fn identity_resource_unit_cost_is_charged() {
        let (_clock, t) = throttle(1.0);
        let r = ThrottleRequest {
            resource_units: 5,
            ..req(APP, T1, ID, false)
        };
        let Admission::Allowed { headers } = t.admit(&r) else {
            panic!("throttled");
        };
        assert_eq!(header(&headers, "x-ms-resource-unit"), Some("5"));
        assert_eq!(admitted(&t, &r, 1000), 699);
        // Zero is taken as one.
        let zero = ThrottleRequest {
            resource_units: 0,
            ..req(APP, T2, ID, false)
        };
        let Admission::Allowed { headers } = t.admit(&zero) else {
            panic!("throttled");
        };
        assert_eq!(header(&headers, "x-ms-resource-unit"), Some("1"));
    }

    #[test]
    fn hammering_while_throttled_builds_a_debt_of_at_most_one_window() {
        let (clock, t) = throttle(1.0);
        let r = req(APP, T1, ID, false);
        assert_eq!(admitted(&t, &r, 3500), 3500);
        // 10,000 immediate retries: each is charged, down to one window (3,500 RU) of debt.
        let mut last = None;
        for _ in 0..10_000 {
            last = Some(throttled(t.admit(&r)).0);
        }
        // 3,500 debt + 1 needed = 3,501 RU at 350 RU/s = 10.003 s, rounded up.
        assert_eq!(last, Some(Some(11.0)));
        clock.advance(Duration::from_secs(11));
        assert!(allowed(&t.admit(&r)));

        // Without the charge, a refused request costs nothing.
        let limits = Limits {
            charge_refused_resource_units: false,
            ..Limits::default()
        };
        let (clock, t) = throttle_with(1.0, limits);
        assert_eq!(admitted(&t, &r, 13_500), 3500);
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&t, &r, 400), 350);
    }

    #[test]
    fn identity_write_quota_is_3000_per_150s_per_app_and_tenant() {
        let (clock, t) = throttle(1.0);
        let w = req(APP, T1, ID, true);
        assert_eq!(admitted(&t, &w, 3000), 3000);
        let (retry, headers) = throttled(t.admit(&w));
        // One write every 50 ms; Graph answers in whole seconds.
        assert_eq!(retry, Some(1.0));
        assert_eq!(
            header(&headers, "x-ms-throttle-scope"),
            Some(format!("Tenant_Application/Write/{APP}/{T1}").as_str())
        );
        assert_eq!(
            header(&headers, "x-ms-throttle-information"),
            Some("WriteLimitExceeded")
        );
        // Reads still pass (RU bucket has 500 left); the refused write took no write quota.
        assert!(allowed(&t.admit(&req(APP, T1, ID, false))));
        clock.advance(Duration::from_millis(50));
        assert_eq!(admitted(&t, &w, 5), 1);
        clock.advance(Duration::from_secs(15));
        assert_eq!(admitted(&t, &w, 500), 300);
    }

    #[test]
    fn identity_tenant_and_app_write_scopes() {
        let limits = Limits {
            identity_tenant_writes: Rate::per_seconds(5, 300),
            identity_app_writes: Rate::per_seconds(8, 300),
            ..Limits::default()
        };
        let (_clock, t) = throttle_with(1.0, limits);
        assert_eq!(admitted(&t, &req(APP, T1, ID, true), 3), 3);
        assert_eq!(admitted(&t, &req(APP2, T1, ID, true), 2), 2);
        let (retry, headers) = throttled(t.admit(&req(APP2, T1, ID, true)));
        // One write per 60 s.
        assert_eq!(retry, Some(60.0));
        assert_eq!(
            header(&headers, "x-ms-throttle-scope"),
            Some(format!("Tenant/Write/{APP2}/{T1}").as_str())
        );
        // The app-wide quota counts across tenants: APP has 3 on T1, 5 more on T2.
        assert_eq!(admitted(&t, &req(APP, T2, ID, true), 5), 5);
        let (_, headers) = throttled(t.admit(&req(APP, "t3", ID, true)));
        assert_eq!(
            header(&headers, "x-ms-throttle-scope"),
            Some(format!("Application/Write/{APP}/t3").as_str())
        );
        assert_eq!(
            header(&headers, "x-ms-throttle-information"),
            Some("WriteLimitExceeded")
        );
    }

    #[test]
    fn intune_writes_100_per_app_and_200_per_tenant_per_20s() {
        let (clock, t) = throttle(1.0);
        let w = req(APP, T1, INTUNE, true);
        assert_eq!(admitted(&t, &w, 150), 100);
        let (retry, headers) = throttled(t.admit(&w));
        assert_eq!(retry, Some(1.0));
        // Intune documents no x-ms-throttle headers.
        assert!(headers.is_empty(), "{headers:?}");
        assert_eq!(
            t.admit_with_limit(&w).1,
            Some(Limit::IntuneWrites),
            "per app + tenant"
        );
        // A second app gets its own 100, a third meets the tenant's 200.
        assert_eq!(admitted(&t, &req(APP2, T1, INTUNE, true), 150), 100);
        let (admission, limit) = t.admit_with_limit(&req("app3", T1, INTUNE, true));
        assert!(!allowed(&admission));
        assert_eq!(limit, Some(Limit::IntuneTenantWrites));
        // Reads are a separate, larger allowance.
        assert!(allowed(&t.admit(&req(APP, T1, INTUNE, false))));
        // 5 writes per second per app refill.
        clock.advance(Duration::from_millis(200));
        assert_eq!(admitted(&t, &w, 10), 1);
        clock.advance(Duration::from_secs(20));
        assert_eq!(admitted(&t, &w, 150), 100);
    }

    #[test]
    fn intune_any_request_1000_per_app_and_2000_per_tenant() {
        let (_clock, t) = throttle(1.0);
        assert_eq!(admitted(&t, &req(APP, T1, INTUNE, false), 1200), 1000);
        // Writes count as requests too: APP cannot write now.
        assert_eq!(
            t.admit_with_limit(&req(APP, T1, INTUNE, true)).1,
            Some(Limit::IntuneRequests)
        );
        assert_eq!(admitted(&t, &req(APP2, T1, INTUNE, false), 1200), 1000);
        let (admission, limit) = t.admit_with_limit(&req("app3", T1, INTUNE, false));
        let (retry, _) = throttled(admission);
        assert_eq!(limit, Some(Limit::IntuneTenantRequests));
        // 100 per second per tenant.
        assert_eq!(retry, Some(1.0));
    }

    #[test]
    fn intune_retry_after_is_time_scaled() {
        let (clock, t) = throttle(10.0);
        let w = req(APP, T1, INTUNE, true);
        assert_eq!(admitted(&t, &w, 150), 100);
        let (retry, _) = throttled(t.admit(&w));
        assert_eq!(retry, Some(0.1));
        // 0.2 Graph seconds per write = 20 ms real at 10x.
        clock.advance(Duration::from_millis(19));
        assert!(!allowed(&t.admit(&w)));
        clock.advance(Duration::from_millis(1));
        assert!(allowed(&t.admit(&w)));
        // A whole window is 2 s real.
        clock.advance(Duration::from_secs(2));
        assert_eq!(admitted(&t, &w, 150), 100);

        let (_clock, t) = throttle(8.0);
        assert_eq!(admitted(&t, &w, 150), 100);
        let (retry, _) = throttled(t.admit(&w));
        assert_eq!(retry, Some(0.125));
    }

    #[test]
    fn identity_retry_after_is_time_scaled() {
        let limits = Limits {
            identity_tenant_writes: Rate::per_seconds(5, 300),
            ..Limits::default()
        };
        let (clock, t) = throttle_with(4.0, limits);
        let w = req(APP, T1, ID, true);
        assert_eq!(admitted(&t, &w, 10), 5);
        let (retry, _) = throttled(t.admit(&w));
        // 60 Graph seconds for one write, 15 real seconds.
        assert_eq!(retry, Some(15.0));
        clock.advance(Duration::from_secs(15));
        assert!(allowed(&t.admit(&w)));
    }

    #[test]
    fn global_limit_is_130000_per_10s_per_app_across_tenants() {
        let (clock, t) = throttle(1.0);
        let tenants: Vec<String> = (0..1000).map(|i| format!("tenant-{i}")).collect();
        let mut admitted = 0;
        for i in 0..130_000 {
            let tenant = &tenants[i % tenants.len()];
            let class = [None, INTUNE, ID][i % 3];
            // Spread so no per-tenant limit is reached: 130 requests per tenant.
            if allowed(&t.admit(&req(APP, tenant, class, false))) {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 130_000);
        let (admission, limit) = t.admit_with_limit(&req(APP, "fresh", None, false));
        let (retry, headers) = throttled(admission);
        assert_eq!(limit, Some(Limit::GlobalRequests));
        assert_eq!(retry, Some(1.0));
        assert!(headers.is_empty());
        // Another app is not affected.
        assert!(allowed(&t.admit(&req(APP2, "fresh", None, false))));
        // 13,000 per second refill.
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted_n(&t, 20_000), 13_000);

        fn admitted_n(t: &Throttle, n: usize) -> usize {
            (0..n)
                .filter(|i| allowed(&t.admit(&req(APP, &format!("x{}", i % 500), None, false))))
                .count()
        }
    }

    #[test]
    fn disabled_admits_everything_with_only_the_resource_unit_header() {
        let clock = Arc::new(ManualClock::new());
        let config = ThrottleConfig {
            enabled: false,
            time_scale: 1.0,
        };
        let t = Throttle::new(config, clock);
        for _ in 0..10 {
            assert_eq!(
                t.admit(&req(APP, T1, CA, true)),
                Admission::Allowed { headers: vec![] }
            );
        }
        for _ in 0..5000 {
            let r = ThrottleRequest {
                resource_units: 3,
                ..req(APP, T1, ID, false)
            };
            assert_eq!(
                t.admit(&r),
                Admission::Allowed {
                    headers: vec![("x-ms-resource-unit", "3".to_string())]
                }
            );
        }
    }

    #[test]
    fn reset_refills_everything() {
        let (_clock, t) = throttle(1.0);
        assert_eq!(admitted(&t, &req(APP, T1, CA, false), 3), 1);
        t.reset();
        assert_eq!(admitted(&t, &req(APP, T1, CA, false), 3), 1);
    }

    #[test]
    fn a_clock_that_reads_earlier_under_contention_does_not_break_buckets() {
        let (clock, t) = throttle(1.0);
        clock.advance(Duration::from_secs(5));
        assert!(allowed(&t.admit(&req(APP, T1, CA, false))));
        // Simulate a caller whose clock read precedes the last refill.
        let mut b = Bucket::full(Rate::per_seconds(1, 1), 10);
        b.units = 0;
        b.refill(Rate::per_seconds(1, 1), 5);
        assert_eq!(b.at, 10);
        assert_eq!(b.units, 0);
    }

    #[test]
    fn concurrent_callers_never_exceed_the_limits() {
        let (_clock, t) = throttle(1.0);
        let t = Arc::new(t);
        let tenants: Arc<Vec<String>> = Arc::new((0..50).map(|i| format!("tenant-{i}")).collect());
        // Per tenant: Intune writes, CA requests, identity reads, identity writes.
        type Counts = Vec<[usize; 4]>;
        let handles: Vec<_> = (0..8)
            .map(|thread| {
                let t = Arc::clone(&t);
                let tenants = Arc::clone(&tenants);
                std::thread::spawn(move || -> (&'static str, Counts) {
                    let app = if thread % 2 == 0 { APP } else { APP2 };
                    let mut counts = vec![[0usize; 4]; tenants.len()];
                    for round in 0..400 {
                        for (i, tenant) in tenants.iter().enumerate() {
                            if allowed(&t.admit(&req(app, tenant, INTUNE, true))) {
                                counts[i][0] += 1;
                            }
                            if round < 5 && allowed(&t.admit(&req(app, tenant, CA, false))) {
                                counts[i][1] += 1;
                            }
                            let write = round % 2 == 0;
                            if allowed(&t.admit(&req(app, tenant, ID, write))) {
                                counts[i][if write { 3 } else { 2 }] += 1;
                            }
                        }
                    }
                    (app, counts)
                })
            })
            .collect();
        let mut per_tenant = vec![[0usize; 4]; tenants.len()];
        let mut per_app_tenant_intune: HashMap<(&str, usize), usize> = HashMap::new();
        let mut per_app_identity_writes: HashMap<&str, usize> = HashMap::new();
        for handle in handles {
            let (app, counts) = handle.join().expect("thread");
            for (i, c) in counts.iter().enumerate() {
                for k in 0..4 {
                    per_tenant[i][k] += c[k];
                }
                *per_app_tenant_intune.entry((app, i)).or_default() += c[0];
                *per_app_identity_writes.entry(app).or_default() += c[3];
            }
        }
        for (i, [intune, ca, reads, _]) in per_tenant.iter().enumerate() {
            // The clock never moves, so the counts are exact: 100 Intune writes per app.
            assert_eq!(*intune, 200, "tenant {i}");
            assert_eq!(*ca, 1, "tenant {i}");
            // 2 apps x 4 threads x 200 reads, far below 3,500 RU per app + tenant.
            assert_eq!(*reads, 1600, "tenant {i}");
        }
        assert!(per_app_tenant_intune.values().all(|n| *n == 100));
        // Each app tried 40,000 identity writes across tenants: the app quota admits 35,000.
        assert_eq!(per_app_identity_writes[APP], 35_000);
        assert_eq!(per_app_identity_writes[APP2], 35_000);
    }

    #[test]
    fn retry_after_header_values() {
        assert_eq!(retry_after_value(10.0), "10");
        assert_eq!(retry_after_value(1.0), "1");
        assert_eq!(retry_after_value(0.125), "0.125");
        assert_eq!(retry_after_value(0.1), "0.1");
        assert_eq!(retry_after_value(2.5), "2.5");
        assert_eq!(retry_after_value(0.001), "0.001");
    }

    #[test]
    fn resource_unit_costs_follow_the_published_table() {
        assert_eq!(resource_units(true, "/users", ""), 1);
        assert_eq!(resource_units(false, "/users", ""), 2);
        assert_eq!(resource_units(false, "users", "$select=id"), 1);
        assert_eq!(resource_units(false, "/applications", "$expand=owners"), 3);
        assert_eq!(resource_units(false, "/groups/abc/members", ""), 3);
        assert_eq!(
            resource_units(false, "/groups/abc/transitiveMembers", ""),
            5
        );
        assert_eq!(
            resource_units(false, "/directoryObjects/getByIds", "$select=id"),
            2
        );
        assert_eq!(resource_units(false, "/directoryObjects/getByIds", ""), 5);
        assert_eq!(resource_units(false, "/subscribedSkus", "$top=5"), 2);
        assert_eq!(resource_units(false, "/groups", "$top=5"), 1);
        assert_eq!(resource_units(false, "/groups", "$top=50"), 1);
        assert_eq!(resource_units(false, "/users", "$top=5&$select=id"), 1);
        assert_eq!(
            resource_units(false, "/policies/authorizationPolicy", ""),
            1
        );
    }

    #[test]
    fn admit_is_cheap_enough_for_the_router() {
        // Not a benchmark: a guard against an accidental O(tenants) path.
        let (_clock, t) = throttle(1.0);
        let tenants: Vec<String> = (0..10_000).map(|i| format!("tenant-{i}")).collect();
        for tenant in &tenants {
            assert!(allowed(&t.admit(&req(APP, tenant, ID, false))));
        }
        for tenant in &tenants {
            assert!(allowed(&t.admit(&req(APP, tenant, INTUNE, true))));
        }
    }
}
