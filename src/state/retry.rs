//! Retrying a state store request that failed on the way (a timeout, a refused or dropped
//! connection, a server error the storage client already retried): Azurite under load and real
//! network blips both look like this, and one of them must not stop a fleet deploy. Each
//! request is tried again a bounded number of times, waiting longer each time; when the tries
//! are used up the error goes back to the run, which stops cleanly and says so.
//!
//! The wait goes through an injected [`Sleeper`], so the tests decide time. Whether an error is
//! worth another try is the caller's call (see `blob::transient`): a conditional write that
//! found the blob changed is an answer, not a failure, and is never retried here.
//!
//! Input: a [`StoreRetry`], a [`Sleeper`], the request as a closure. Output: its result and how
//! many times it was tried again.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How often, and after how long, a failed request to the store is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreRetry {
    /// Further tries after the first (0: none).
    pub retries: u32,
    /// The wait before the first retry; each later one doubles it.
    pub first_wait: Duration,
    /// The longest single wait.
    pub max_wait: Duration,
}

impl Default for StoreRetry {
    /// Three more tries, after 1 s, 2 s and 4 s: a storage outage stops a run within a few
    /// request timeouts, a blip of a few seconds is ridden out.
    fn default() -> StoreRetry {
        StoreRetry {
            retries: 3,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(8),
        }
    }
}

impl StoreRetry {
    /// The wait before retry number `retry` (from 1).
    pub fn wait(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.first_wait
            .checked_mul(factor)
            .unwrap_or(self.max_wait)
            .min(self.max_wait)
    }
}

/// A future the sleeper returns.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waits between tries (tokio's timer in a run; a recorder in tests).
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Wait `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// [`Sleeper`] on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Run `request` until it succeeds, fails with an error `transient` says is final, or the
/// retries of `policy` are used up; returns the last result and how many retries were made.
pub async fn with_retries<T, E, F, Fut>(
    policy: &StoreRetry,
    sleeper: &dyn Sleeper,
    transient: impl Fn(&E) -> bool,
    mut request: F,
) -> (Result<T, E>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut retries = 0;
    loop {
        match request().await {
            Err(e) if transient(&e) && retries < policy.retries => {
                retries += 1;
                sleeper.sleep(policy.wait(retries)).await;
            }
            result => return (result, retries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Records every wait and returns at once.
    #[derive(Debug, Default)]
    struct RecordingSleeper(Mutex<Vec<Duration>>);

    impl Sleeper for RecordingSleeper {
        fn sleep(&self, duration: Duration) -> SleepFuture {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(duration);
            Box::pin(async {})
        }
    }

    fn waits(sleeper: &RecordingSleeper) -> Vec<Duration> {
        sleeper.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    #[derive(Debug, PartialEq)]
    enum Failure {
        TimedOut,
        Refused,
    }

    #[tokio::test]
    async fn a_request_that_times_out_twice_is_tried_again_after_growing_waits_and_succeeds() {
        let sleeper = RecordingSleeper::default();
        let tries = AtomicU32::new(0);
        let (result, retries) = with_retries(
            &StoreRetry::default(),
            &sleeper,
            |e: &Failure| *e == Failure::TimedOut,
            || async {
                if tries.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(Failure::TimedOut)
                } else {
                    Ok("written")
                }
            },
        )
        .await;
        assert_eq!(result, Ok("written"));
        assert_eq!(retries, 2);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        assert_eq!(
            waits(&sleeper),
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
    }

    #[tokio::test]
    async fn a_store_that_keeps_timing_out_is_given_up_on_after_the_bounded_retries() {
        let sleeper = RecordingSleeper::default();
        let tries = AtomicU32::new(0);
        let policy = StoreRetry {
            retries: 5,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(4),
        };
        let (result, retries) = with_retries(
            &policy,
            &sleeper,
            |e: &Failure| *e == Failure::TimedOut,
            || async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Failure::TimedOut)
            },
        )
        .await;
        assert_eq!(result, Err(Failure::TimedOut));
        assert_eq!(retries, 5);
        assert_eq!(
            tries.load(Ordering::SeqCst),
            6,
            "the first try and five more"
        );
        let secs: Vec<u64> = waits(&sleeper).iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![1, 2, 4, 4, 4], "doubling, capped at max_wait");
    }

    #[tokio::test]
    async fn a_final_error_is_returned_at_once_without_waiting() {
        let sleeper = RecordingSleeper::default();
        let tries = AtomicU32::new(0);
        let (result, retries) = with_retries(
            &StoreRetry::default(),
            &sleeper,
            |e: &Failure| *e == Failure::TimedOut,
            || async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Failure::Refused)
            },
        )
        .await;
        assert_eq!(result, Err(Failure::Refused));
        assert_eq!((retries, tries.load(Ordering::SeqCst)), (0, 1));
        assert!(waits(&sleeper).is_empty());
    }
}
