//! Injected time for the simulator: everything that waits or counts windows (throttling,
//! token expiry, replication delay) reads a [`Clock`], so tests can drive it.
//!
//! Input: nothing. Output: "now" as a duration since the clock started.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time elapsed since the clock started.
    fn now(&self) -> Duration;
}

/// Real time.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock starting now.
    pub fn new() -> SystemClock {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    /// Move forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.now.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.now.lock().map_or(Duration::ZERO, |n| *n)
    }
}
