//! Client-side pacing to Graph's published limits (graph-wire-facts.md section 2.2), so a
//! fleet run spends its time working rather than backing off: every request reserves a slot in
//! each bucket that applies to it (per tenant, per app and tenant, per app), and waits until all
//! of them have one. Pure: the caller passes "now" and sleeps for the returned wait.
//!
//! Input: the request's tenant, throttle class and read/write, and the time. Output: how long to
//! wait before sending it.

use std::collections::HashMap;
use std::time::Duration;

use crate::kinds::ThrottleClass;

/// A rate limit: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per window.
    pub limit: f64,
    /// The window.
    pub window: Duration,
}

impl Rate {
    const fn new(limit: f64, seconds: u64) -> Rate {
        Rate {
            limit,
            window: Duration::from_secs(seconds),
        }
    }

    fn per_second(self) -> f64 {
        self.limit / self.window.as_secs_f64()
    }
}

/// The limits the pacer keeps to. Defaults are Graph's published numbers; a margin below
/// them absorbs clock skew between client and service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Conditional Access and named locations, per tenant (all apps).
    pub conditional_access: Rate,
    /// Identity writes per app and tenant.
    pub identity_writes: Rate,
    /// Identity requests per app and tenant (resource units, 1 per request here).
    pub identity_requests: Rate,
    /// Intune writes per app and tenant.
    pub intune_writes: Rate,
    /// Intune requests per app and tenant.
    pub intune_requests: Rate,
    /// Identity and access reports (audit logs) per app and tenant.
    pub reports: Rate,
    /// Every request of the app, all tenants together.
    pub global: Rate,
    /// Identity writes of the app, all tenants together (35,000 per 5 minutes): a fleet of
    /// thousands of tenants reaches it long before any tenant's own limits.
    pub identity_app_writes: Rate,
    /// Fraction of each limit used (e.g. 0.95).
    pub headroom: f64,
    /// Least extra real time between the sends of a one-request-per-window limit (Conditional
    /// Access). Such a limit is kept by the answers, not by a headroom: the next request goes out
    /// a full window after the previous one was answered (see [`Pacer::note_answered`]), so
    /// latency and scheduling jitter can never bring two to the service closer than the limit;
    /// the margin only spaces sends whose answers come back at once.
    pub spacing_margin: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            conditional_access: Rate::new(1.0, 1),
            identity_writes: Rate::new(3_000.0, 150),
            identity_requests: Rate::new(3_500.0, 10),
            intune_writes: Rate::new(100.0, 20),
            intune_requests: Rate::new(1_000.0, 20),
            reports: Rate::new(5.0, 10),
            global: Rate::new(130_000.0, 10),
            identity_app_writes: Rate::new(35_000.0, 300),
            headroom: 0.95,
            spacing_margin: Duration::from_millis(30),
        }
    }
}

impl Limits {
    /// Graph's limits exactly: no headroom and no spacing margin (for theoretical minimums).
    pub fn without_headroom(self) -> Limits {
        Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            ..self
        }
    }

    /// Every window `scale` times shorter (the simulator's `--time-scale`).
    pub fn time_scaled(mut self, scale: f64) -> Limits {
        let scale = if scale > 0.0 { scale } else { 1.0 };
        for rate in [
            &mut self.conditional_access,
            &mut self.identity_writes,
            &mut self.identity_requests,
            &mut self.intune_writes,
            &mut self.intune_requests,
            &mut self.reports,
            &mut self.global,
            &mut self.identity_app_writes,
        ] {
            rate.window = rate.window.div_f64(scale);
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    ConditionalAccess,
    IdentityWrites,
    IdentityRequests,
    IntuneWrites,
    IntuneRequests,
    Reports,
}

/// One limit as the generic cell rate algorithm (GCRA): requests are spaced `interval` apart
/// on average, with bursts up to `capacity`. Reservations may be made for any time, in any order
/// (tenants run side by side), which a refilling token counter cannot do.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Seconds between requests at the sustained rate.
    interval: f64,
    /// How far ahead of the sustained schedule a burst may run (`(capacity - 1) * interval`).
    tolerance: f64,
    /// Theoretical arrival time of the next request, in seconds.
    tat: f64,
}

impl Bucket {
    fn new(rate: Rate, headroom: f64, margin: Duration) -> Bucket {
        let limit = rate.limit * headroom;
        let window = rate.window.as_secs_f64();
        // Whatever Graph's window semantics (fixed, sliding or a token bucket), at most `limit`
        // requests may start in any window: burst + rate * window <= limit. "1 per second"
        // limits get no burst; larger ones allow half the limit at once and half over the
        // window, so a tenant's few dozen writes go out at once and a long run stays under.
        let (capacity, per_second) = if rate.limit <= 1.0 {
            // No headroom: the answer-anchored spacing (`Pacer::note_answered`) keeps the limit
            // whatever the jitter, so a fraction of the window would only be lost time.
            let spaced = 1.0 / rate.per_second() + margin.as_secs_f64();
            (1.0, 1.0 / spaced)
        } else {
            let burst = (limit / 2.0).floor().max(1.0);
            (burst, (limit - burst) / window)
        };
        let interval = 1.0 / per_second;
        Bucket {
            interval,
            tolerance: (capacity - 1.0) * interval,
            tat: 0.0,
        }
    }

    /// A limit Graph keeps as a token bucket that starts full (identity and access,
    /// graph-wire-facts.md 2.2): the whole limit at once, then the limit per window. Half of it
    /// at once, as [`Bucket::new`] allows, made a 1,000-tenant deploy wait 25 s for identity
    /// writes Graph would have taken at once.
    fn token_bucket(rate: Rate, headroom: f64) -> Bucket {
        let limit = (rate.limit * headroom).max(1.0);
        let interval = rate.window.as_secs_f64() / limit;
        Bucket {
            interval,
            tolerance: (limit - 1.0) * interval,
            tat: 0.0,
        }
    }

    /// The earliest time (seconds) at or after `now` this bucket admits a request.
    fn earliest(&self, now: f64) -> f64 {
        now.max(self.tat - self.tolerance)
    }

    fn take_at(&mut self, at: f64) {
        self.tat = self.tat.max(at) + self.interval;
    }
}

/// Buckets for one app across the tenants it deploys to.
#[derive(Debug)]
pub struct Pacer {
    limits: Limits,
    tenants: HashMap<(String, Scope), Bucket>,
    global: Option<Bucket>,
    identity_app_writes: Option<Bucket>,
}

impl Pacer {
    /// The limits it keeps to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A pacer keeping to `limits`.
    pub fn new(limits: Limits) -> Pacer {
        Pacer {
            limits,
            tenants: HashMap::new(),
            global: None,
            identity_app_writes: None,
        }
    }

    fn scopes(class: ThrottleClass, write: bool) -> &'static [Scope] {
        match (class, write) {
            (ThrottleClass::ConditionalAccess, _) => &[Scope::ConditionalAccess],
            (ThrottleClass::Identity, true) => &[Scope::IdentityRequests, Scope::IdentityWrites],
            (ThrottleClass::Identity, false) => &[Scope::IdentityRequests],
            (ThrottleClass::Intune, true) => &[Scope::IntuneRequests, Scope::IntuneWrites],
            (ThrottleClass::Intune, false) => &[Scope::IntuneRequests],
            (ThrottleClass::Reports, _) => &[Scope::Reports],
        }
    }

    fn rate(&self, scope: Scope) -> Rate {
        match scope {
            Scope::ConditionalAccess => self.limits.conditional_access,
            Scope::IdentityWrites => self.limits.identity_writes,
            Scope::IdentityRequests => self.limits.identity_requests,
            Scope::IntuneWrites => self.limits.intune_writes,
            Scope::IntuneRequests => self.limits.intune_requests,
            Scope::Reports => self.limits.reports,
        }
    }

    /// Reserve a slot for one request and return how long to wait before sending it.
    pub fn reserve(
        &mut self,
        tenant: &str,
        class: ThrottleClass,
        write: bool,
        now: Duration,
    ) -> Duration {
        let headroom = self.limits.headroom;
        let margin = self.limits.spacing_margin;
        let global_rate = self.limits.global;
        let scopes = Self::scopes(class, write);
        let now_s = now.as_secs_f64();
        let global = self
            .global
            .get_or_insert_with(|| Bucket::new(global_rate, headroom, margin));
        let global_earliest = global.earliest(now_s);
        let mut at = global_earliest;
        let app_writes_rate = self.limits.identity_app_writes;
        let app_writes = (class == ThrottleClass::Identity && write).then(|| {
            self.identity_app_writes
                .get_or_insert_with(|| Bucket::token_bucket(app_writes_rate, headroom))
        });
        let app_writes_earliest = app_writes.map(|bucket| bucket.earliest(now_s));
        if let Some(earliest) = app_writes_earliest {
            at = at.max(earliest);
        }
        let mut earliest = [0.0f64; 2];
        for (slot, scope) in earliest.iter_mut().zip(scopes) {
            let rate = self.rate(*scope);
            let bucket = self
                .tenants
                .entry((tenant.to_string(), *scope))
                .or_insert_with(|| Bucket::new(rate, headroom, margin));
            *slot = bucket.earliest(now_s);
            at = at.max(*slot);
        }
        // Each bucket counts the request at the earliest time it alone would have admitted it.
        // The binding bucket counts it when it is sent; the others count it no later than that,
        // so a request held back minutes by one limit (Conditional Access at 1/s) does not
        // push every other limit's schedule minutes ahead (reservations arrive out of order
        // when many requests wait at once).
        if let Some(global) = self.global.as_mut() {
            global.take_at(global_earliest);
        }
        if let (Some(bucket), Some(earliest)) =
            (self.identity_app_writes.as_mut(), app_writes_earliest)
        {
            bucket.take_at(earliest);
        }
        for (scope, own) in scopes.iter().zip(earliest) {
            if let Some(bucket) = self.tenants.get_mut(&(tenant.to_string(), *scope)) {
                bucket.take_at(own);
            }
        }
        Duration::from_secs_f64((at - now_s).max(0.0))
    }

    /// A request paced by [`Pacer::reserve`] actually left at `at` (it may wait for a
    /// connection or the CPU after its slot). For one-request-per-window limits the next slot
    /// is counted from when it left, so a late request and the next one never arrive at the
    /// service closer together than the limit allows.
    pub fn note_sent(&mut self, tenant: &str, class: ThrottleClass, write: bool, at: Duration) {
        let at = at.as_secs_f64();
        for scope in Self::scopes(class, write) {
            if self.rate(*scope).limit > 1.0 {
                continue;
            }
            if let Some(bucket) = self.tenants.get_mut(&(tenant.to_string(), *scope)) {
                bucket.tat = bucket.tat.max(at + bucket.interval);
            }
        }
    }

    /// A request paced by [`Pacer::reserve`] was answered at `at`. For one-request-per-window
    /// limits the next request waits a full window from here: the service counted this one at
    /// some moment between its arrival and its answer, so a request sent a window after the
    /// answer reaches the service a window after it, however late this one arrived (a request
    /// held up on its way by a busy client or service would otherwise be followed too closely,
    /// and Conditional Access answers that with a 429 and no Retry-After). Callers send a
    /// tenant's one-per-window requests one after the other, so the next reservation sees this.
    pub fn note_answered(&mut self, tenant: &str, class: ThrottleClass, write: bool, at: Duration) {
        let at = at.as_secs_f64();
        for scope in Self::scopes(class, write) {
            let rate = self.rate(*scope);
            if rate.limit > 1.0 {
                continue;
            }
            if let Some(bucket) = self.tenants.get_mut(&(tenant.to_string(), *scope)) {
                bucket.tat = bucket.tat.max(at + 1.0 / rate.per_second());
            }
        }
    }

    /// The least time `requests` of one class need in one tenant, from an empty start, at
    /// Graph's published limits (no headroom, no spacing margin): the theoretical minimum a
    /// benchmark compares a run with.
    pub fn minimum_time(
        limits: &Limits,
        class: ThrottleClass,
        write: bool,
        requests: usize,
    ) -> Duration {
        let (reads, writes) = if write { (0, requests) } else { (requests, 0) };
        Self::paced_time(&limits.without_headroom(), class, reads, writes)
    }

    /// When the last of `reads` and then `writes` of one class in one tenant may start, from an
    /// empty start, paced to `limits` as given: with [`Limits::without_headroom`] the floor
    /// Graph's limits set; with the client's own limits the floor of its pacing.
    pub fn paced_time(
        limits: &Limits,
        class: ThrottleClass,
        reads: usize,
        writes: usize,
    ) -> Duration {
        let mut pacer = Pacer::new(*limits);
        let mut last = Duration::ZERO;
        for write in std::iter::repeat_n(false, reads).chain(std::iter::repeat_n(true, writes)) {
            let wait = pacer.reserve("t", class, write, last);
            last += wait;
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        pacer: &mut Pacer,
        tenant: &str,
        class: ThrottleClass,
        write: bool,
        n: usize,
    ) -> Vec<Duration> {
        // Send each request as soon as the pacer allows; return the send times.
        let mut now = Duration::ZERO;
        (0..n)
            .map(|_| {
                now += pacer.reserve(tenant, class, write, now);
                now
            })
            .collect()
    }

    #[test]
    fn conditional_access_is_one_request_per_second_per_tenant() {
        let mut p = Pacer::new(Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            ..Limits::default()
        });
        let times = run(&mut p, "a", ThrottleClass::ConditionalAccess, true, 5);
        let secs: Vec<f64> = times
            .iter()
            .map(|t| (t.as_secs_f64() * 1000.0).round() / 1000.0)
            .collect();
        assert_eq!(secs, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        // Another tenant is paced on its own.
        assert_eq!(
            p.reserve("b", ThrottleClass::ConditionalAccess, true, Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn headroom_keeps_below_the_limit() {
        let mut p = Pacer::new(Limits::default());
        let times = run(&mut p, "a", ThrottleClass::ConditionalAccess, false, 3);
        assert!(times[1] > Duration::from_secs(1) && times[2] > Duration::from_secs(2));
    }

    #[test]
    fn intune_writes_burst_then_follow_the_rate_and_never_exceed_a_window() {
        let mut p = Pacer::new(Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            ..Limits::default()
        });
        let times = run(&mut p, "a", ThrottleClass::Intune, true, 51);
        assert!(times[..50].iter().all(|t| *t == Duration::ZERO));
        // Half the limit over the window after the burst: one write per 0.4 s.
        assert_eq!((times[50].as_secs_f64() * 1000.0).round(), 400.0);
        let mut p = Pacer::new(Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            ..Limits::default()
        });
        let times = run(&mut p, "a", ThrottleClass::Intune, true, 400);
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u < *t + Duration::from_secs(20))
                .count();
            assert!(in_window <= 100, "{in_window} writes in 20 s from {t:?}");
        }
    }

    #[test]
    fn the_global_cap_spans_tenants() {
        let mut p = Pacer::new(Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            global: Rate::new(10.0, 1),
            ..Limits::default()
        });
        let mut now = Duration::ZERO;
        for i in 0..20 {
            now += p.reserve(&format!("t{i}"), ThrottleClass::Identity, false, now);
        }
        // 5 at once, then 5 per second: the 20th starts at 3 s.
        assert!((now.as_secs_f64() - 3.0).abs() < 1e-6, "{now:?}");
    }

    #[test]
    fn identity_writes_of_all_tenants_keep_to_the_app_wide_write_limit() {
        // Regression: 10,000 tenants at time scale 20 sent identity writes faster than the
        // app's 35,000 per 5 minutes (no tenant near its own limits) and 26 tenants gave up
        // on 429s.
        let mut p = Pacer::new(Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            identity_app_writes: Rate::new(10.0, 1),
            ..Limits::default()
        });
        let mut now = Duration::ZERO;
        for i in 0..20 {
            now += p.reserve(&format!("t{i}"), ThrottleClass::Identity, true, now);
        }
        // 10 at once (a token bucket that starts full), then 10 per second: the 20th at 1 s.
        assert!((now.as_secs_f64() - 1.0).abs() < 1e-6, "{now:?}");
        // Reads and other classes do not count against it.
        let later = p.reserve("t0", ThrottleClass::Identity, false, now);
        assert_eq!(later, Duration::ZERO);
        assert_eq!(
            p.reserve("t1", ThrottleClass::Intune, true, now),
            Duration::ZERO
        );
    }

    #[test]
    fn time_scaled_one_per_window_limits_keep_a_real_time_margin() {
        let mut p = Pacer::new(Limits::default().time_scaled(10.0));
        let times = run(&mut p, "a", ThrottleClass::ConditionalAccess, true, 3);
        // 100 ms windows: each send 30 ms of margin after the window.
        assert!((times[2].as_secs_f64() - 0.26).abs() < 1e-9, "{times:?}");
        // At Graph's real 1 s window the same margin, no headroom (the answers keep the limit).
        let mut p = Pacer::new(Limits::default());
        let times = run(&mut p, "a", ThrottleClass::ConditionalAccess, true, 2);
        assert!((times[1].as_secs_f64() - 1.03).abs() < 1e-9, "{times:?}");
    }

    #[test]
    fn a_late_answer_holds_the_next_conditional_access_request_a_full_window() {
        let mut p = Pacer::new(Limits::default());
        let class = ThrottleClass::ConditionalAccess;
        assert_eq!(p.reserve("a", class, false, Duration::ZERO), Duration::ZERO);
        p.note_sent("a", class, false, Duration::ZERO);
        // Answered 400 ms later (it may have reached the service just before): the next goes
        // out at 1.4 s, not at 1.03 s.
        p.note_answered("a", class, false, Duration::from_millis(400));
        let wait = p.reserve("a", class, false, Duration::from_millis(400));
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-9, "{wait:?}");
        // A prompt answer leaves the send spacing in charge; other tenants are not affected.
        let mut p = Pacer::new(Limits::default());
        p.reserve("a", class, false, Duration::ZERO);
        p.note_answered("a", class, false, Duration::from_millis(20));
        let wait = p.reserve("a", class, false, Duration::from_millis(20));
        assert!((wait.as_secs_f64() - 1.01).abs() < 1e-9, "{wait:?}");
        assert_eq!(p.reserve("b", class, false, Duration::ZERO), Duration::ZERO);
        // Limits with bursts are not affected.
        p.note_answered("a", ThrottleClass::Intune, true, Duration::from_secs(100));
        assert_eq!(
            p.reserve("a", ThrottleClass::Intune, true, Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_late_conditional_access_request_pushes_the_next_slot() {
        let mut p = Pacer::new(Limits {
            headroom: 1.0,
            spacing_margin: Duration::ZERO,
            ..Limits::default()
        });
        let class = ThrottleClass::ConditionalAccess;
        assert_eq!(p.reserve("a", class, true, Duration::ZERO), Duration::ZERO);
        // It left 300 ms after its slot: the next waits until 1.3 s, not 1.0 s.
        p.note_sent("a", class, true, Duration::from_millis(300));
        let wait = p.reserve("a", class, true, Duration::from_millis(500));
        assert!((wait.as_secs_f64() - 0.8).abs() < 1e-9, "{wait:?}");
        // Limits with bursts are not affected.
        p.note_sent("a", ThrottleClass::Intune, true, Duration::from_secs(100));
        assert_eq!(
            p.reserve("a", ThrottleClass::Intune, true, Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_request_held_back_by_one_limit_does_not_delay_other_classes() {
        let mut p = Pacer::new(Limits::default());
        // Twenty Conditional Access requests wait their turn, seconds ahead.
        for _ in 0..20 {
            p.reserve("a", ThrottleClass::ConditionalAccess, true, Duration::ZERO);
        }
        // An Intune write of the same tenant, and anything of another tenant, go now.
        assert_eq!(
            p.reserve("a", ThrottleClass::Intune, true, Duration::ZERO),
            Duration::ZERO
        );
        assert_eq!(
            p.reserve("b", ThrottleClass::Identity, false, Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn minimum_time_is_the_paced_time_of_a_lone_tenant() {
        let limits = Limits::default();
        let t = Pacer::minimum_time(&limits, ThrottleClass::ConditionalAccess, true, 17);
        assert!((t.as_secs_f64() - 16.0).abs() < 1e-6, "{t:?}");
        let scaled = limits.time_scaled(10.0);
        let t = Pacer::minimum_time(&scaled, ThrottleClass::ConditionalAccess, true, 17);
        assert!((t.as_secs_f64() - 1.6).abs() < 1e-6, "{t:?}");
        // Reads share the Conditional Access limit with writes: 2 reads + 21 writes need 22 s.
        let floor = Pacer::paced_time(
            &limits.without_headroom(),
            ThrottleClass::ConditionalAccess,
            2,
            21,
        );
        assert!((floor.as_secs_f64() - 22.0).abs() < 1e-6, "{floor:?}");
        // The client's own pacing spaces sends a 30 ms margin apart: 22 intervals of 1.03 s
        // (when answers come back within the margin).
        let client = Pacer::paced_time(&limits, ThrottleClass::ConditionalAccess, 2, 21);
        assert!(
            (client.as_secs_f64() - 22.0 * 1.03).abs() < 1e-6,
            "{client:?}"
        );
        // Intune reads count against the request limit only, inside its burst.
        let intune = Pacer::paced_time(&limits.without_headroom(), ThrottleClass::Intune, 10, 8);
        assert_eq!(intune, Duration::ZERO);
    }
}
