//! Injected faults, seeded so a run can be repeated: a fraction of requests answered with
//! 500, 503 (with and without Retry-After), 504, a dropped connection, or a lost response (the
//! request is applied, then the connection drops), and jittered latency.
//!
//! Owns: two SplitMix64 streams (one for faults, one for latency, so turning latency on does
//! not change which requests fail). Input: the fault configuration and a seed. Output: per
//! request, an optional [`Fault`] and a latency to wait before answering.
//!
//! A draw is one atomic `fetch_add` on the stream's counter and a mix of the result: lock-free,
//! and for a seed the sequence of values is fixed. Single-threaded callers get the same faults
//! in the same order on every run; concurrent callers draw from the same stream in whatever
//! order they arrive (same rate and mix, order depends on scheduling).
//!
//! Among faults the kinds come in fixed proportions ([`FaultMix::default`]):
//!
//! | fault | share |
//! |---|---|
//! | 500 `generalException` | 30 % |
//! | 503 `serviceNotAvailable` with `Retry-After` (1 to 3 s, time-scaled) | 20 % |
//! | 503 without `Retry-After` | 10 % |
//! | 504 gateway timeout | 15 % |
//! | dropped connection (nothing applied) | 15 % |
//! | lost response (applied, then the connection drops; a 504 inside `$batch`) | 10 % |
//!
//! Latency is uniform in `[mean/2, 3·mean/2]` (±50 %), 0 when the mean is 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How faults are injected.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Fraction (0..=1) of Graph requests answered with a fault.
    pub fault_rate: f64,
    /// Mean added latency.
    pub latency: Duration,
    /// Seed for the fault and jitter draws.
    pub seed: u64,
}

impl Default for FaultConfig {
    /// No faults, no latency, seed 0.
    fn default() -> Self {
        FaultConfig {
            fault_rate: 0.0,
            latency: Duration::ZERO,
            seed: 0,
        }
    }
}

/// A fault to answer with instead of handling the request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// 500 generalException.
    InternalError,
    /// 503 serviceNotAvailable, with `Retry-After` seconds when `Some`.
    Unavailable {
        /// Seconds.
        retry_after: Option<f64>,
    },
    /// 504 gateway timeout.
    GatewayTimeout,
    /// The connection is closed without a response.
    DroppedConnection,
    /// The request is applied, then the connection is closed before the answer (a write's
    /// outcome is unknown to the client: the case that must never lead to a duplicate).
    LostResponse,
}

impl Fault {
    /// The HTTP status, `None` for a dropped connection.
    pub fn status(&self) -> Option<u16> {
        match self {
            Fault::InternalError => Some(500),
            Fault::Unavailable { .. } => Some(503),
            Fault::GatewayTimeout => Some(504),
            Fault::DroppedConnection | Fault::LostResponse => None,
        }
    }

    /// Graph's error code for the body (`generalException`, `serviceNotAvailable`,
    /// `gatewayTimeout`); `None` for a dropped connection.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Fault::InternalError => Some("generalException"),
            Fault::Unavailable { .. } => Some("serviceNotAvailable"),
            Fault::GatewayTimeout => Some("gatewayTimeout"),
            Fault::DroppedConnection | Fault::LostResponse => None,
        }
    }
}

/// Relative weights of the fault kinds (they need not sum to anything in particular), and the
/// Retry-After a 503 carries.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultMix {
    /// 500.
    pub internal_error: u32,
    /// 503 with Retry-After.
    pub unavailable_with_retry_after: u32,
    /// 503 without Retry-After.
    pub unavailable: u32,
    /// 504.
    pub gateway_timeout: u32,
    /// Connection closed without a response.
    pub dropped_connection: u32,
    /// The request applied, then the connection closed before the answer.
    pub lost_response: u32,
    /// Whole seconds a 503's Retry-After is drawn from (inclusive), before the time scale.
    pub retry_after_seconds: (u32, u32),
    /// Retry-After is divided by this (`--time-scale`), like throttling's; not a positive
    /// finite number means 1.
    pub time_scale: f64,
}

impl Default for FaultMix {
    fn default() -> Self {
        FaultMix {
            internal_error: 30,
            unavailable_with_retry_after: 20,
            unavailable: 10,
            gateway_timeout: 15,
            dropped_connection: 15,
            lost_response: 10,
            retry_after_seconds: (1, 3),
            time_scale: 1.0,
        }
    }
}

impl FaultMix {
    fn total(&self) -> u64 {
        [
            self.internal_error,
            self.unavailable_with_retry_after,
            self.unavailable,
            self.gateway_timeout,
            self.dropped_connection,
            self.lost_response,
        ]
        .iter()
        .map(|w| u64::from(*w))
        .sum()
    }
}

/// A SplitMix64 stream: value `n` is `mix(seed + n·γ)`, so an atomic counter is the whole state.
#[derive(Debug)]
struct Stream {
    state: AtomicU64,
}

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl Stream {
    fn new(seed: u64) -> Stream {
        Stream {
            state: AtomicU64::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        let z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Draws faults and latencies.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    mix: FaultMix,
    faults: Stream,
    latency: Stream,
}

impl Faults {
    /// New, seeded, with the default mix ([`FaultMix::default`], no time scale).
    pub fn new(config: FaultConfig) -> Faults {
        Faults::with_mix(config, FaultMix::default())
    }

    /// New, seeded, with another mix (or the run's `--time-scale` for 503 Retry-After).
    pub fn with_mix(config: FaultConfig, mix: FaultMix) -> Faults {
        let faults = Stream::new(config.seed);
        // A different, fixed offset so the two streams never coincide.
        let latency = Stream::new(config.seed ^ 0x6c61_7465_6e63_7921);
        Faults {
            config,
            mix,
            faults,
            latency,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// The fault for the next request, if any. A rate of 0 (or below, or NaN) never faults and
    /// draws nothing; 1 (or above) always faults.
    pub fn draw(&self) -> Option<Fault> {
        let rate = self.config.fault_rate;
        if rate.is_nan() || rate <= 0.0 {
            return None;
        }
        let total = self.mix.total();
        if total == 0 {
            return None;
        }
        let u = self.faults.next_f64();
        if u >= rate {
            return None;
        }
        let kind = self.faults.next_u64() % total;
        let mut edge = u64::from(self.mix.internal_error);
        if kind < edge {
            return Some(Fault::InternalError);
        }
        edge += u64::from(self.mix.unavailable_with_retry_after);
        if kind < edge {
            return Some(Fault::Unavailable {
                retry_after: Some(self.retry_after()),
            });
        }
        edge += u64::from(self.mix.unavailable);
        if kind < edge {
            return Some(Fault::Unavailable { retry_after: None });
        }
        edge += u64::from(self.mix.gateway_timeout);
        if kind < edge {
            return Some(Fault::GatewayTimeout);
        }
        edge += u64::from(self.mix.dropped_connection);
        if kind < edge {
            return Some(Fault::DroppedConnection);
        }
        Some(Fault::LostResponse)
    }

    fn retry_after(&self) -> f64 {
        let (low, high) = self.mix.retry_after_seconds;
        let (low, high) = (low.min(high), low.max(high));
        let span = u64::from(high - low) + 1;
        let seconds = u64::from(low) + self.faults.next_u64() % span;
        let scale = self.mix.time_scale;
        if !(scale.is_finite() && scale > 0.0) || scale == 1.0 {
            return seconds as f64;
        }
        ((seconds * 1000) as f64 / scale).ceil().max(1.0) / 1000.0
    }

    /// How long to wait before answering the next request: uniform in ±50 % of the mean, 0 when
    /// the mean is 0 (and then nothing is drawn).
    pub fn latency(&self) -> Duration {
        let mean = self.config.latency;
        if mean.is_zero() {
            return Duration::ZERO;
        }
        let factor = 0.5 + self.latency.next_f64();
        mean.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(rate: f64, seed: u64) -> Faults {
        Faults::new(FaultConfig {
            fault_rate: rate,
            latency: Duration::from_millis(20),
            seed,
        })
    }

    #[test]
    fn rate_is_within_tolerance_over_10000_draws() {
        for (rate, seed) in [(0.05, 1), (0.2, 2), (0.5, 3), (0.01, 4)] {
            let f = faults(rate, seed);
            let n = (0..10_000).filter(|_| f.draw().is_some()).count();
            let expected = rate * 10_000.0;
            // Four standard deviations of a binomial.
            let tolerance = 4.0 * (10_000.0 * rate * (1.0 - rate)).sqrt();
            assert!(
                (n as f64 - expected).abs() <= tolerance,
                "rate {rate}: {n} faults, expected {expected} ± {tolerance}"
            );
        }
    }

    #[test]
    fn zero_and_one() {
        let f = faults(0.0, 7);
        assert!((0..10_000).all(|_| f.draw().is_none()));
        let f = faults(1.0, 7);
        assert!((0..10_000).all(|_| f.draw().is_some()));
        let f = faults(f64::NAN, 7);
        assert!(f.draw().is_none());
    }

    #[test]
    fn every_kind_appears_in_the_documented_proportions() {
        let f = faults(1.0, 42);
        let mut counts = [0usize; 6];
        for _ in 0..10_000 {
            let i = match f.draw() {
                Some(Fault::InternalError) => 0,
                Some(Fault::Unavailable {
                    retry_after: Some(s),
                }) => {
                    assert!((1.0..=3.0).contains(&s) && s.fract() == 0.0, "{s}");
                    1
                }
                Some(Fault::Unavailable { retry_after: None }) => 2,
                Some(Fault::GatewayTimeout) => 3,
                Some(Fault::DroppedConnection) => 4,
                Some(Fault::LostResponse) => 5,
                None => panic!("rate 1 must always fault"),
            };
            counts[i] += 1;
        }
        for (count, share) in counts.iter().zip([0.30, 0.20, 0.10, 0.15, 0.15, 0.10]) {
            let expected = share * 10_000.0;
            assert!(
                (*count as f64 - expected).abs() < 4.0 * (expected * (1.0 - share)).sqrt(),
                "{counts:?}"
            );
        }
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let run = |seed| {
            let f = faults(0.3, seed);
            (0..2000)
                .map(|_| (f.draw(), f.latency()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn latency_does_not_change_the_fault_sequence() {
        let a = faults(0.3, 5);
        let b = faults(0.3, 5);
        let with: Vec<_> = (0..500)
            .map(|_| {
                let _ = a.latency();
                a.draw()
            })
            .collect();
        let without: Vec<_> = (0..500).map(|_| b.draw()).collect();
        assert_eq!(with, without);
    }

    #[test]
    fn latency_is_jittered_within_half_of_the_mean() {
        let f = faults(0.0, 3);
        let draws: Vec<Duration> = (0..10_000).map(|_| f.latency()).collect();
        assert!(
            draws
                .iter()
                .all(|d| *d >= Duration::from_millis(10) && *d < Duration::from_millis(30))
        );
        let mean = draws.iter().sum::<Duration>() / 10_000;
        assert!(
            mean > Duration::from_micros(19_700) && mean < Duration::from_micros(20_300),
            "{mean:?}"
        );
        assert!(draws.iter().any(|d| *d < Duration::from_millis(12)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(28)));
        let none = Faults::new(FaultConfig::default());
        assert_eq!(none.latency(), Duration::ZERO);
    }

    #[test]
    fn retry_after_of_503_is_time_scaled() {
        let mix = FaultMix {
            internal_error: 0,
            unavailable: 0,
            gateway_timeout: 0,
            dropped_connection: 0,
            lost_response: 0,
            time_scale: 8.0,
            ..FaultMix::default()
        };
        let f = Faults::with_mix(
            FaultConfig {
                fault_rate: 1.0,
                ..FaultConfig::default()
            },
            mix,
        );
        let seen: std::collections::BTreeSet<String> = (0..200)
            .map(|_| match f.draw() {
                Some(Fault::Unavailable {
                    retry_after: Some(s),
                }) => format!("{s}"),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected: std::collections::BTreeSet<String> =
            ["0.125", "0.25", "0.375"].map(String::from).into();
        assert_eq!(seen, expected);
    }

    #[test]
    fn concurrent_draws_keep_the_rate() {
        let f = std::sync::Arc::new(faults(0.5, 11));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let f = std::sync::Arc::clone(&f);
                std::thread::spawn(move || (0..2500).filter(|_| f.draw().is_some()).count())
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        assert!((4500..=5500).contains(&total), "{total}");
    }

    #[test]
    fn statuses_and_codes() {
        assert_eq!(Fault::InternalError.status(), Some(500));
        assert_eq!(
            Fault::Unavailable { retry_after: None }.error_code(),
            Some("serviceNotAvailable")
        );
        assert_eq!(Fault::GatewayTimeout.status(), Some(504));
        assert_eq!(Fault::DroppedConnection.status(), None);
    }
}
