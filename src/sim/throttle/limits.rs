//! The limits themselves: which buckets apply to a request, their rates per tenant size, the
//! resource units a request costs, and the Retry-After value Graph writes.

use std::time::Duration;

use crate::kinds::ThrottleClass;

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
    /// Identity and access reports (audit logs) per app + tenant: 5 / 10 s.
    pub reports_requests: Rate,
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
            reports_requests: Rate::per_seconds(5, 10),
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
    /// [`Limits::reports_requests`].
    ReportsRequests,
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
            Limit::ReportsRequests => "reports-requests",
        }
    }

    /// `x-ms-throttle-scope` scope and limit parts, and `x-ms-throttle-information`, for the
    /// identity limits (the only service that documents them).
    pub(super) fn identity_headers(self) -> Option<(&'static str, &'static str, &'static str)> {
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
