//! Stage 4, `deploy` (and the live half of `plan`): for each selected tenant, compile its
//! bundle, sign in, read what it has, plan, and apply the plan: creates in dependency order
//! with symbolic references resolved to real ids, updates as property patches, adoption of
//! matching unmanaged objects, and (with `prune`) deletion of orphans. Many tenants run at
//! once, rings one after the other; a ring whose failure rate passes the limit stops the
//! rollout. Every attempt goes to the run's journal; each identity change is logged as it
//! happens (`DIR/.tenantform/state/<tenant-id>.log`) and folded into the map when the tenant
//! finishes, so a run killed at any moment is finished by deploying again, with no duplicate
//! object.
//!
//! Input: a [`Fleet`] (the loaded project), [`DeployOptions`], [`Target`]s. Output: a
//! [`DeploySummary`](crate::report::DeploySummary) (per tenant: counts, failures in words a
//! person can act on), events to the [`Reporter`](crate::report::Reporter), the journal and
//! identity maps on disk.
//!
//! - [`fleet`]: the loaded project, its targets, shards (`--shard K/N`) and ring waves.
//! - [`scheduler`]: which tenants run in which order; the run's summary.
//! - [`approval`]: approved plans only (`[deploy] require_approved_plan`), the plan file's hash.
//! - [`admission`]: how many run at once (a memory budget, an optional cap).
//! - [`tenant`]: one tenant from compile to checkpoint ([`tenant::TenantError`]).
//! - [`apply`]: one resource's request and its answer ([`apply::ApplyError`]).
//! - [`slim`]: what a tenant in flight keeps of its bundle, shared between tenants.
//! - [`identity`]: the identity map store ([`identity::IdentityError`]).
//! - [`rollback`]: before-images of what a run changes, and putting them back; [`before`]:
//!   those images on disk (one document per tenant and run; the older per-object form read).
//! - [`ahead`]: tenants signed in and their first paced read sent while the project validates.
//! - [`shared`]: what a run's tenants share: options, Graph client, journal, reporter.

pub mod admission;
pub mod ahead;
pub mod apply;
pub mod approval;
pub mod before;
pub mod export;
pub mod facts;
pub mod fleet;
pub mod identity;
mod member_sets;
pub mod monitors;
mod patch;
pub mod rollback;
pub mod scheduler;
pub mod scubagear;
pub mod shared;
pub mod slim;
pub mod tenant;

pub use fleet::{EnvLookup, Expected, Fleet, FleetError, Target, in_shard, process_env, waves};
pub use identity::{
    IdentityError, checkpoint_identity, identity_log_path, identity_path, load_identity,
    save_identity, state_root,
};
pub use scheduler::run;
pub use shared::{DeployOptions, Run, RunJournal, new_run_id, run_dir, runtime};

/// Text for the known-after-apply marker (re-exported for reporters).
pub const AFTER_APPLY: &str = crate::live::plan::KNOWN_AFTER_APPLY;
