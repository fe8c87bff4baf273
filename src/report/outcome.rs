//! What a run produced, as the reporters render it: a compiled tenant ([`TenantOutcome`]),
//! a planned or deployed tenant ([`TenantReport`] with its [`Counts`] and
//! [`ResourceFailure`]s) and a whole plan or deploy run ([`DeploySummary`]). The engine
//! (`compile`, `deploy`) builds these; every format in [`crate::report`] reads them. They are
//! defined here, at the report layer, so reporting never depends on the stages it reports on.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::live::plan::TenantPlan;

/// A resource a tenant does not get, and why: an override's reason, what the tenant's facts
/// lack ("needs Microsoft Entra ID P2 (AAD_PREMIUM_P2) …"), or the skipped resource it depends
/// on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// Why.
    pub reason: String,
}

/// What happened to one tenant.
#[derive(Debug, Clone)]
pub struct TenantOutcome {
    /// Tenant id.
    pub id: String,
    /// Tenant name.
    pub name: String,
    /// Operations in its bundle (when compiled).
    pub operations: usize,
    /// Content hash (when compiled).
    pub content_hash: Option<String>,
    /// The file written (when compiled with an output directory).
    pub written: Option<PathBuf>,
    /// The tenant failed and its bundle from an earlier run was removed.
    pub removed_stale: bool,
    /// Resources it does not get, with the reasons (when compiled).
    pub skipped: Vec<Skip>,
}

/// What happened to a tenant's resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Created.
    pub created: usize,
    /// Updated (including adopted objects that needed changes).
    pub updated: usize,
    /// Adopted (taken over by match key).
    pub adopted: usize,
    /// Already as the bundle says.
    pub unchanged: usize,
    /// Orphans deleted.
    pub deleted: usize,
    /// Failed (or skipped because something they depend on failed).
    pub failed: usize,
}

/// One resource that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceFailure {
    /// Resource key.
    pub key: String,
    /// Why, in words a person can act on.
    pub reason: String,
}

/// The result for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// True when every resource matches the bundle.
    pub ok: bool,
    /// Resource counts.
    pub counts: Counts,
    /// Why the tenant failed, when it did (the first failure, or a tenant-wide one).
    pub reason: Option<String>,
    /// Every resource that failed.
    pub failures: Vec<ResourceFailure>,
    /// Resources the tenant does not get, with the reasons (an override, or what its facts
    /// lack).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skip>,
    /// The plan (plan-only runs; a deploy does not keep it).
    #[serde(skip)]
    pub plan: Option<TenantPlan>,
    /// Drift (`tenantform drift` runs).
    #[serde(skip)]
    pub drift: Option<crate::live::drift::TenantDrift>,
    /// Control verdicts from the live read (`tenantform evidence` runs).
    #[serde(skip)]
    pub evidence: Option<crate::live::verdict::TenantEvidence>,
    /// Files written (`tenantform snapshot` runs).
    #[serde(skip)]
    pub snapshot_files: Option<usize>,
    /// Seconds from start to finish.
    pub seconds: f64,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DeploySummary {
    /// Run id (none for `plan`).
    pub run_id: Option<String>,
    /// Per tenant, in the order they finished.
    pub tenants: Vec<TenantReport>,
    /// Tenants never started because the rollout stopped.
    pub not_started: Vec<String>,
    /// Why the rollout stopped early.
    pub stopped: Option<String>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Graph requests sent (`$batch` items count one each).
    pub requests: u64,
    /// Of those, sent inside `$batch` calls.
    pub batched: u64,
    /// `$batch` calls.
    pub batches: u64,
    /// Retries.
    pub retries: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Cross-tenant synchronization links applied after the tenants (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub links: Vec<LinkReport>,
    /// Cross-tenant synchronization links as `plan` found them (plan-only runs).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub link_plans: Vec<LinkPlan>,
}

impl DeploySummary {
    /// Tenants that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TenantReport> {
        self.tenants.iter().filter(|t| !t.ok)
    }

    /// Links that failed.
    pub fn failed_links(&self) -> impl Iterator<Item = &LinkReport> {
        self.links.iter().filter(|l| !l.ok)
    }
}

/// What applying one cross-tenant synchronization link did (see `sync::apply`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LinkReport {
    /// The link.
    pub link: String,
    /// Every step succeeded.
    pub ok: bool,
    /// Steps that wrote something (created or changed), in order.
    pub changed: Vec<String>,
    /// Steps that found everything as wanted.
    pub unchanged: Vec<String>,
    /// Why the link stopped (the step, its tenant, Graph's answer), or why it did not run.
    pub error: Option<String>,
}

/// What a link step would do (plan) or did (deploy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkStepAction {
    /// Absent: it will be created.
    Create,
    /// Present, but differs: it will be changed.
    Update,
    /// Present as wanted.
    Unchanged,
    /// The job will be started.
    Start,
}

impl LinkStepAction {
    /// The sign plans show before it (`+`, `~`, `=`, `>`).
    pub fn sign(self) -> char {
        match self {
            LinkStepAction::Create => '+',
            LinkStepAction::Update => '~',
            LinkStepAction::Unchanged => '=',
            LinkStepAction::Start => '>',
        }
    }

    /// True when applying it writes.
    pub fn writes(self) -> bool {
        self != LinkStepAction::Unchanged
    }
}

/// One step of a link as `plan` found it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkStepPlan {
    /// `<link>/<side>/<step>`.
    pub step: String,
    /// `target` or `source`.
    pub side: String,
    /// The tenant it runs in (id).
    pub tenant: String,
    /// Its kind (registry name).
    pub kind: String,
    /// What deploy would do.
    pub action: LinkStepAction,
    /// What differs, or why the step cannot be read yet (never a secret's value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A cross-tenant synchronization link as one unit of a plan: what exists in each tenant and
/// what deploy would create or change, in the order deploy runs it (target first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkPlan {
    /// The link's name.
    pub link: String,
    /// Source tenant id.
    pub source: String,
    /// Source tenant name.
    pub source_name: String,
    /// Target tenant id.
    pub target: String,
    /// Target tenant name.
    pub target_name: String,
    /// Every step, in order.
    pub steps: Vec<LinkStepPlan>,
    /// Why the link could not be planned (then `steps` holds what was read before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LinkPlan {
    /// Steps that would write (create, update, start).
    pub fn changes(&self) -> usize {
        self.steps.iter().filter(|s| s.action.writes()).count()
    }

    /// True when deploy would write nothing and the link could be read whole.
    pub fn is_empty(&self) -> bool {
        self.error.is_none() && self.changes() == 0
    }
}
