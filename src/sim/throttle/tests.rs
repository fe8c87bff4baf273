//! The throttle's tests: every published limit, time scaling, headers, concurrency.

use std::time::Duration;

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
