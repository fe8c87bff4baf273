//! What the fleet looks like, as the dashboard (`report`) and evidence render it: per tenant its
//! state, resources, controls, overrides and runs, and the run history. `status` builds a
//! [`FleetStatus`] from the project, saved plans and the run journals (and, later, drift
//! results); the formats in [`crate::report::html`] only read it.
//!
//! Input: none (data types). Output: the types every fleet format reads.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::live::names::ObjectNames;
use crate::live::normalize::Change;

/// A tenant's state, worst first (the order the overview lists tenants in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantState {
    /// Its last run or plan failed, or it does not compile.
    Failed,
    /// Live objects differ from what was deployed (from drift input).
    Drifted,
    /// The last plan has changes to make.
    Pending,
    /// No run or plan has touched it.
    NeverDeployed,
    /// Its last plan had nothing to change, or its last deploy converged.
    InSync,
}

impl TenantState {
    /// Every state, worst first.
    pub const ALL: [TenantState; 5] = [
        TenantState::Failed,
        TenantState::Drifted,
        TenantState::Pending,
        TenantState::NeverDeployed,
        TenantState::InSync,
    ];

    /// Stable slug (`changes-pending`), for filters and CSS.
    pub fn slug(self) -> &'static str {
        match self {
            TenantState::Failed => "failed",
            TenantState::Drifted => "drifted",
            TenantState::Pending => "pending",
            TenantState::NeverDeployed => "never-deployed",
            TenantState::InSync => "in-sync",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            TenantState::Failed => "FAILED",
            TenantState::Drifted => "DRIFTED",
            TenantState::Pending => "changes pending",
            TenantState::NeverDeployed => "never deployed",
            TenantState::InSync => "in sync",
        }
    }
}

/// A control's (or a resource's) state in one tenant, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlState {
    /// A request for it failed in the tenant's last run, or the tenant could not be planned.
    Failed,
    /// Changed in the tenant since it was deployed (from drift input).
    Drifted,
    /// The last plan would create, update or adopt it.
    Pending,
    /// Never applied, and no plan says it is there.
    NotDeployed,
    /// Deployed switched off (`state: disabled`).
    Disabled,
    /// Deployed in report-only mode (`enabledForReportingButNotEnforced`).
    ReportOnly,
    /// Skipped in this tenant by an override (the reason is beside it).
    Skipped,
    /// Deployed and in force.
    Enforced,
}

impl ControlState {
    /// Stable slug, for filters and CSS.
    pub fn slug(self) -> &'static str {
        match self {
            ControlState::Failed => "failed",
            ControlState::Drifted => "drifted",
            ControlState::Pending => "pending",
            ControlState::NotDeployed => "not-deployed",
            ControlState::Disabled => "disabled",
            ControlState::ReportOnly => "report-only",
            ControlState::Skipped => "skipped",
            ControlState::Enforced => "enforced",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            ControlState::Failed => "FAILED",
            ControlState::Drifted => "DRIFTED",
            ControlState::Pending => "pending",
            ControlState::NotDeployed => "not deployed",
            ControlState::Disabled => "disabled",
            ControlState::ReportOnly => "report-only",
            ControlState::Skipped => "skipped",
            ControlState::Enforced => "enforced",
        }
    }
}

/// The whole fleet.
#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    /// The project's name.
    pub project: String,
    /// When the newest input was made (RFC 3339), or the `--generated-at` given; none when
    /// there was no input but the project.
    pub generated_at: Option<String>,
    /// What the status was built from, one line each (`plan plan.json, made …`).
    pub sources: Vec<String>,
    /// Every tenant, worst state first, then by name.
    pub tenants: Vec<TenantStatus>,
    /// Every control id the tenants' baselines map, sorted.
    pub controls: Vec<String>,
    /// Deploy runs, oldest first.
    pub runs: Vec<RunStatus>,
}

/// One tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Baselines, as the tenant lists them.
    pub baselines: Vec<String>,
    /// Its state.
    pub state: TenantState,
    /// Why, in words (`run 2026… failed: missing permission …`, `as of plan made …`).
    pub detail: String,
    /// When the state was observed (the plan's or the run's time).
    pub since: Option<String>,
    /// Its runs, newest first.
    pub runs: Vec<TenantRun>,
    /// Its overrides.
    pub overrides: Vec<OverrideStatus>,
    /// Its resources, in the bundle's order, then the skipped ones.
    pub resources: Vec<ResourceStatus>,
    /// Objects tenantform manages that the baselines no longer have.
    pub orphans: Vec<OrphanStatus>,
    /// Control id → its state here.
    pub controls: BTreeMap<String, ControlStatus>,
    /// The project's names for object ids (diffs show `group:emergency-access`).
    #[serde(skip)]
    pub names: ObjectNames,
    /// Its newest drift result, when newer than its last run.
    pub drift: Option<DriftView>,
}

/// What drift found in a tenant, for its page.
#[derive(Debug, Clone, Serialize)]
pub struct DriftView {
    /// When (the drift results' time).
    pub at: String,
    /// The findings (drifted, accepted, unmanaged, ...).
    pub items: Vec<crate::live::drift::DriftItem>,
}

impl TenantStatus {
    /// The newest run of this tenant.
    pub fn last_run(&self) -> Option<&TenantRun> {
        self.runs.first()
    }

    /// The earliest expiry among its overrides.
    pub fn nearest_expiry(&self) -> Option<&OverrideStatus> {
        self.overrides
            .iter()
            .filter(|o| o.expires.is_some())
            .min_by(|a, b| a.expires.cmp(&b.expires))
    }
}

/// A tenant in one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantRun {
    /// Run id.
    pub run_id: String,
    /// When the tenant finished (or the run's last record, when it did not).
    pub at: Option<String>,
    /// True: converged; false: failed; none: the run stopped before the tenant finished.
    pub ok: Option<bool>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Resources applied (created, updated, adopted, unchanged).
    pub applied: usize,
    /// Requests sent for it.
    pub requests: usize,
}

impl TenantRun {
    /// `ok`, `FAILED`, `unfinished`.
    pub fn outcome(&self) -> &'static str {
        match self.ok {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "unfinished",
        }
    }
}

/// An override of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideStatus {
    /// The resource it changes.
    pub resource: String,
    /// It skips the resource (else it changes its variables).
    pub skip: bool,
    /// Why.
    pub reason: String,
    /// When it stops being acceptable (YYYY-MM-DD).
    pub expires: Option<String>,
    /// It has expired (as of the report's date).
    pub expired: bool,
}

/// The last time a resource was applied, from the journal.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedEvidence {
    /// Run id.
    pub run_id: String,
    /// When.
    pub at: String,
    /// created, updated, adopted, unchanged.
    pub action: String,
    /// The object id.
    pub object_id: Option<String>,
    /// The journal record's hash (its place in the hash chain).
    pub record_hash: String,
}

/// What the last plan would do with a resource.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedChange {
    /// The plan's sign: `+` create, `~` update, `=` adopt, `!` ambiguous.
    pub sign: &'static str,
    /// create, update, adopt, ambiguous.
    pub verb: &'static str,
    /// Property changes (live -> desired).
    pub changes: Vec<Change>,
    /// The objects matching (ambiguous).
    pub object_ids: Vec<String>,
}

/// One resource of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceStatus {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// The baseline declaring it.
    pub baseline: String,
    /// Controls it implements.
    pub controls: Vec<String>,
    /// Its state.
    pub state: ControlState,
    /// Why (the override's reason, the failure).
    pub reason: Option<String>,
    /// The object id, when known.
    pub object_id: Option<String>,
    /// What the last plan would change.
    pub planned: Option<PlannedChange>,
    /// The last time it was applied.
    pub applied: Option<AppliedEvidence>,
}

/// An orphan.
#[derive(Debug, Clone, Serialize)]
pub struct OrphanStatus {
    /// Its former key.
    pub key: String,
    /// Object id.
    pub object_id: String,
}

/// A control in one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct ControlStatus {
    /// The worst state of its resources (skipped only when all are).
    pub state: ControlState,
    /// Why (the override's reason when skipped, the failure when failed).
    pub reason: Option<String>,
    /// The resources implementing it here.
    pub resources: Vec<String>,
}

/// One deploy run.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    /// Run id.
    pub run_id: String,
    /// First record's time.
    pub started: Option<String>,
    /// Last record's time.
    pub ended: Option<String>,
    /// Seconds from first to last record.
    pub seconds: Option<f64>,
    /// Tenants in the run.
    pub tenants: usize,
    /// Tenants that converged.
    pub succeeded: usize,
    /// Tenants that failed.
    pub failed: usize,
    /// Requests sent.
    pub requests: usize,
    /// The run finished (else it was interrupted).
    pub finished: bool,
    /// Why the journal could not be read, when it could not.
    pub error: Option<String>,
}
