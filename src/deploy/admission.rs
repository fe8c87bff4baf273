//! How many tenants are worked on at once. Graph's limits are per tenant, so a fleet's speed
//! comes from running tenants side by side; what bounds that is the client's memory, not a
//! fixed count. Each tenant in flight is admitted against a memory budget by its estimated
//! footprint (its operation count), the heaviest first (the scheduler's order), and an optional
//! count cap (`--concurrency N`) applies on top. Pacing keeps every tenant within its own
//! limits and the app within its app-wide cap whatever this admits.
//!
//! Input: the budget in bytes, the cap, and each [`Target`]'s weight. Output: an [`Admitted`]
//! ticket per tenant, held until the tenant finishes.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::deploy::fleet::Target;

const MIB: u64 = 1024 * 1024;

/// The default memory budget for tenants in flight (`--memory-budget`).
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 * MIB;

/// What a tenant in flight holds besides its operations: its session and token, identity map,
/// plan, journal observer, task and futures, and its share of connections and buffers.
/// Calibrated against `bench deploy --tenants 1000`: with every tenant in flight the client's
/// deploy peak is about 90 MiB over a 36 MiB loaded fleet, some 55 KiB per tenant of 36
/// operations (book/src/performance.md, "Deploy").
pub const TENANT_BASE_BYTES: u64 = 24 * 1024;

/// What each operation of a tenant in flight holds: its slim operation, its body as compact
/// text, its plan entry and, while it is sent, its request.
pub const OPERATION_BYTES: u64 = 1024;

/// Operations assumed for a tenant whose bundle was not compiled before the run (a resumed run).
pub const UNKNOWN_OPERATIONS: usize = 64;

/// Budget units are KiB, so a semaphore's `u32` permits count up to 4 TiB.
const UNIT: u64 = 1024;

/// The estimated memory of a tenant in flight with `operations` operations.
pub fn footprint(operations: usize) -> u64 {
    let operations = if operations == 0 {
        UNKNOWN_OPERATIONS
    } else {
        operations
    };
    TENANT_BASE_BYTES + operations as u64 * OPERATION_BYTES
}

/// How many tenants of `operations` each fit in `budget` at once (at least one).
pub fn tenants_within(budget: u64, operations: usize) -> usize {
    usize::try_from(budget / footprint(operations))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// How many of `targets` start at once: the heaviest first, as many as fit in `budget`, at
/// most `cap` (for the line a person reads before a run; the scheduler admits one by one).
pub fn starting_together(targets: &[Target], budget: u64, cap: Option<usize>) -> usize {
    let mut weights: Vec<usize> = targets.iter().map(|t| t.weight).collect();
    weights.sort_unstable_by(|a, b| b.cmp(a));
    let mut used = 0u64;
    let mut fit = 0usize;
    for weight in weights {
        used = used.saturating_add(footprint(weight));
        if used > budget && fit > 0 {
            break;
        }
        fit += 1;
    }
    fit.min(cap.unwrap_or(usize::MAX))
}

/// Admits tenants against the memory budget and the cap.
#[derive(Debug)]
pub struct Admission {
    budget: Arc<Semaphore>,
    budget_units: u32,
    cap: Option<Arc<Semaphore>>,
}

/// A tenant's place in flight; dropping it lets the next tenants in.
#[derive(Debug)]
pub struct Admitted {
    _budget: OwnedSemaphorePermit,
    _cap: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// Admit within `budget` bytes, and at most `cap` tenants at once when given.
    pub fn new(budget: u64, cap: Option<usize>) -> Admission {
        let budget_units = u32::try_from((budget / UNIT).max(1)).unwrap_or(u32::MAX);
        Admission {
            budget: Arc::new(Semaphore::new(budget_units as usize)),
            budget_units,
            cap: cap.map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))),
        }
    }

    /// Wait until `target` fits (a tenant larger than the whole budget runs alone). `None` only
    /// if the admission was closed, which it never is.
    pub async fn admit(&self, target: &Target) -> Option<Admitted> {
        let units = footprint(target.weight).div_ceil(UNIT);
        let units = u32::try_from(units)
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_units);
        let budget = self.budget.clone().acquire_many_owned(units).await.ok()?;
        let cap = match &self.cap {
            Some(cap) => Some(cap.clone().acquire_owned().await.ok()?),
            None => None,
        };
        Some(Admitted {
            _budget: budget,
            _cap: cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(weight: usize) -> Target {
        Target {
            id: format!("t{weight}"),
            name: String::new(),
            ring: "all".into(),
            expected: None,
            weight,
        }
    }

    #[test]
    fn the_default_budget_holds_a_thousand_shipped_baseline_tenants_at_once() {
        // The shipped baselines compile to 36 operations per tenant at most.
        assert!(tenants_within(DEFAULT_MEMORY_BUDGET, 36) >= 1000);
        assert_eq!(tenants_within(1, 36), 1, "at least one tenant always runs");
        assert_eq!(footprint(0), footprint(UNKNOWN_OPERATIONS));
    }

    #[test]
    fn the_heaviest_tenants_that_fit_start_together() {
        let targets = vec![target(10), target(40), target(40)];
        let budget = footprint(40) * 2;
        assert_eq!(starting_together(&targets, budget, None), 2);
        assert_eq!(starting_together(&targets, budget * 10, None), 3);
        assert_eq!(starting_together(&targets, budget * 10, Some(1)), 1);
        assert_eq!(starting_together(&targets, 1, None), 1);
        assert_eq!(starting_together(&[], budget, None), 0);
    }

    #[tokio::test]
    async fn tenants_wait_for_the_budget_and_the_cap() {
        // Room for two tenants of 40 operations, not three.
        let budget = footprint(40) * 2 + footprint(40) / 2;
        let admission = Admission::new(budget, None);
        let a = admission.admit(&target(40)).await.expect("first");
        let _b = admission.admit(&target(40)).await.expect("second");
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            admission.admit(&target(40)),
        )
        .await;
        assert!(third.is_err(), "the third waits for room");
        drop(a);
        assert!(admission.admit(&target(40)).await.is_some());

        let capped = Admission::new(DEFAULT_MEMORY_BUDGET, Some(1));
        let one = capped.admit(&target(1)).await.expect("one");
        let two = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            capped.admit(&target(1)),
        )
        .await;
        assert!(two.is_err(), "--concurrency 1 admits one at a time");
        drop(one);
        // A tenant larger than the whole budget still runs (alone).
        let tiny = Admission::new(1, None);
        assert!(tiny.admit(&target(10_000)).await.is_some());
    }
}
