//! Stage 3, `live`: what a tenant has, and how it differs from what its bundle wants.
//!
//! Input: a tenant's validated bundle (as a [`plan::PlanInput`]), its identity map and a
//! signed-in [`crate::graph`] session. Output: a [`plan::LiveState`] (every object of the
//! bundle's kinds, read once, paged and batched) and a [`plan::TenantPlan`] (per resource:
//! create, update with a property diff, adopt, leave alone, or orphan).
//!
//! - [`reader`]: the one live reader; `plan` and `deploy` use it today, and drift, snapshot and
//!   export read tenants through it too.
//! - [`desired`]: a resource's desired body as plan compares it, made once where tenants
//!   share it.
//! - [`normalize`]: one normalization per kind, the single truth for "is this the same".
//! - [`plan`]: desired vs live, pure (no network), so plan, drift and verification share it.
//! - [`names`]: object id → the project's symbolic name (`group:emergency-access`), for every
//!   diff a person reads (plan, drift, the stale-plan check).
//! - [`plan_file`]: the saved plan (`plan --out`), read by `deploy --plan` and `report`.
//! - [`risk`]: which planned changes can lock people out (lockout-shaped Conditional Access,
//!   exclusions taken off, authentication methods), for reviewers.
//! - [`stale`]: what changed in a tenant since a saved plan, for `deploy --plan`'s refusal.
//! - [`drift`]: the plan read as drift (modified, missing, accepted, unmanaged, ...), pure.
//! - [`audit`]: who changed an object and when, from the tenant's audit logs.
//! - [`snapshot`]: a tenant's live objects as one canonical file each (a git-friendly backup).

pub mod audit;
pub mod desired;
pub mod drift;
pub mod names;
pub mod normalize;
pub mod plan;
pub mod plan_file;
pub mod reader;
pub mod risk;
pub mod snapshot;
pub mod stale;
pub mod verdict;

pub use reader::{Keep, find_by_match_key, known_ids, read, read_classes, resolved_path};
