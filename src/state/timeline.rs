//! When each tenant's turn passed through the run state's steps (lock asked for and taken,
//! identity map fetched, turn ended, published, lock released), measured from the run state's
//! opening, so that `bench state` can say where a deploy with remote state spends the time a
//! deploy with local state does not. Recording is a map insertion per step; nothing is sent.
//!
//! Input: the steps as [`crate::state::RunState`] passes them. Output: a [`TenantTimeline`] per
//! tenant and a [`TimelineSummary`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A step of a tenant's turn in the run state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its lock was asked for (the tenant was admitted).
    Asked,
    /// Its lock was taken.
    Locked,
    /// Its identity map is in the working copy: its Graph work may start.
    Ready,
    /// Its Graph work ended; publishing starts.
    Ending,
    /// Its journal, map and before-images are in the store.
    Published,
    /// Its lock was released.
    Released,
}

/// One tenant's steps, seconds from the run state's opening (`None`: not reached).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct TenantTimeline {
    /// [`Step::Asked`].
    pub asked: Option<f64>,
    /// [`Step::Locked`].
    pub locked: Option<f64>,
    /// [`Step::Ready`].
    pub ready: Option<f64>,
    /// [`Step::Ending`].
    pub ending: Option<f64>,
    /// [`Step::Published`].
    pub published: Option<f64>,
    /// [`Step::Released`].
    pub released: Option<f64>,
}

impl TenantTimeline {
    fn set(&mut self, step: Step, at: f64) {
        let slot = match step {
            Step::Asked => &mut self.asked,
            Step::Locked => &mut self.locked,
            Step::Ready => &mut self.ready,
            Step::Ending => &mut self.ending,
            Step::Published => &mut self.published,
            Step::Released => &mut self.released,
        };
        *slot = Some(at);
    }
}

/// Every tenant's timeline in a run.
#[derive(Debug)]
pub struct Timelines {
    opened: Instant,
    tenants: Mutex<HashMap<String, TenantTimeline>>,
}

impl Timelines {
    /// Timelines measured from now.
    pub fn new() -> Timelines {
        Timelines {
            opened: Instant::now(),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// `tenant` reached `step` now.
    pub fn record(&self, tenant: &str, step: Step) {
        let at = self.opened.elapsed().as_secs_f64();
        self.tenants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.to_ascii_lowercase())
            .or_default()
            .set(step, at);
    }

    /// Every tenant's timeline so far, by tenant id.
    pub fn snapshot(&self) -> Vec<(String, TenantTimeline)> {
        let mut all: Vec<(String, TenantTimeline)> = self
            .tenants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

impl Default for Timelines {
    fn default() -> Timelines {
        Timelines::new()
    }
}

/// What a run's timelines say, seconds from the run state's opening.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TimelineSummary {
    /// Tenants with a timeline.
    pub tenants: usize,
    /// The last tenant ready to start its Graph work.
    pub last_ready: f64,
    /// The longest wait of a tenant from asking for its lock to being ready.
    pub longest_start: f64,
    /// The longest wait of a tenant from the end of its Graph work to its lock's release.
    pub longest_end: f64,
    /// The last tenant's Graph work ended.
    pub last_ending: f64,
    /// The last lock released.
    pub last_released: f64,
    /// The tenant whose lock was released last, and its timeline.
    pub slowest: Option<(String, TenantTimeline)>,
}

/// Sum up `timelines`.
pub fn summarize(timelines: &[(String, TenantTimeline)]) -> TimelineSummary {
    let max = |f: &dyn Fn(&TenantTimeline) -> Option<f64>| {
        timelines
            .iter()
            .filter_map(|(_, t)| f(t))
            .fold(0.0f64, f64::max)
    };
    let span = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    TimelineSummary {
        tenants: timelines.len(),
        last_ready: max(&|t| t.ready),
        longest_start: max(&|t| span(t.asked, t.ready)),
        longest_end: max(&|t| span(t.ending, t.released)),
        last_ending: max(&|t| t.ending),
        last_released: max(&|t| t.released),
        slowest: timelines
            .iter()
            .filter(|(_, t)| t.released.is_some())
            .max_by(|a, b| {
                a.1.released
                    .unwrap_or_default()
                    .total_cmp(&b.1.released.unwrap_or_default())
            })
            .cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_kept_per_tenant_and_summed_up() {
        let timelines = Timelines::new();
        timelines.record("T1", Step::Asked);
        timelines.record("t1", Step::Ready);
        let all = timelines.snapshot();
        assert_eq!(all.len(), 1, "ids are kept lower-case: {all:?}");
        assert!(all[0].1.asked.is_some() && all[0].1.ready.is_some());
        assert_eq!(all[0].1.released, None);

        let line = |asked, ready, ending, released| TenantTimeline {
            asked: Some(asked),
            locked: Some(asked),
            ready: Some(ready),
            ending: Some(ending),
            published: Some(released),
            released: Some(released),
        };
        let summary = summarize(&[
            ("a".into(), line(0.0, 2.0, 20.0, 21.0)),
            ("b".into(), line(0.5, 1.0, 22.0, 25.0)),
        ]);
        assert_eq!(summary.tenants, 2);
        assert_eq!(summary.last_ready, 2.0);
        assert_eq!(summary.longest_start, 2.0);
        assert_eq!(summary.longest_end, 3.0);
        assert_eq!(summary.last_ending, 22.0);
        assert_eq!(summary.last_released, 25.0);
        assert_eq!(summary.slowest.map(|s| s.0), Some("b".to_string()));
        assert_eq!(summarize(&[]), TimelineSummary::default());
    }
}
