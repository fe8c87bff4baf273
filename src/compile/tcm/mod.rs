//! `compile --target tcm`: a tenant's validated bundle as Microsoft Graph Tenant Configuration
//! Management monitors (`/beta/admin/configurationManagement/configurationMonitors`), so
//! Microsoft keeps watching the tenant between tenantform runs. One monitor per baseline layer
//! (`tenantform: <baseline>`); each resource becomes a `baselineResource` with the TCM resource
//! type (`microsoft.entra.conditionalaccesspolicy`, lowercase as the service's examples and
//! snapshots write it) and Microsoft365DSC-shaped properties ([`entra`]): matched by display
//! name, not id, and values as names, not GUIDs (groups, named locations, roles and
//! authentication strengths by display name). Mapped: the Entra kinds in [`entra`], the
//! authentication methods policy and its method configurations ([`auth_methods`]), Intune
//! compliance policies with their assignments as `Assignments` ([`intune`]). Kinds tenantform
//! does not map are listed with the reason, and settings with no faithful property in a mapped
//! resource as `properties_not_monitored`, never dropped silently. The service's quotas are checked: at most 30 monitors
//! per tenant and 800 monitored resources per day, counted per run (resources × 4 runs a day).
//!
//! Input: a [`Bundle`]. Output: a [`TenantMonitors`] document, or a [`TcmError`].

mod auth_methods;
mod entra;
mod intune;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::compile::bundle::{Bundle, Operation};
use entra::named;

/// The service's limits (Graph's Tenant Configuration Management overview, "API limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcmQuotas {
    /// Monitors per tenant.
    pub monitors_per_tenant: usize,
    /// Monitored resources per day per tenant, across monitors, counted per run.
    pub resources_per_day: usize,
    /// Runs a day: every monitor runs every 6 hours, not configurable.
    pub runs_per_day: usize,
}

impl Default for TcmQuotas {
    fn default() -> Self {
        TcmQuotas {
            monitors_per_tenant: 30,
            resources_per_day: 800,
            runs_per_day: 4,
        }
    }
}

/// Why a tenant's baselines cannot become monitors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TcmError {
    /// More monitored resources a day than the tenant may have.
    #[error(
        "{resources} monitored resources × {runs} runs a day = {per_day} resource runs a day, over TCM's limit of {limit} per tenant (at most {most} resources across all monitors); monitor fewer resources, e.g. leave a baseline out of --target tcm with --tenant selectors or split the fleet's baselines"
    )]
    TooManyResources {
        /// Resources in the monitors.
        resources: usize,
        /// Runs a day.
        runs: usize,
        /// Resource runs a day.
        per_day: usize,
        /// The limit.
        limit: usize,
        /// Resources that fit.
        most: usize,
    },
    /// More monitors than the tenant may have.
    #[error("{monitors} monitors (one per baseline layer), over TCM's limit of {limit} per tenant")]
    TooManyMonitors {
        /// Monitors needed.
        monitors: usize,
        /// The limit.
        limit: usize,
    },
}

/// A resource left out of the monitors, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotMonitored {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// Why.
    pub reason: String,
}

/// A setting of a monitored resource that is not monitored, and why (no faithful property in
/// the type's Microsoft365DSC schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyNotMonitored {
    /// Resource key.
    pub key: String,
    /// The Graph property (a path for nested ones, e.g. `includeTargets.isRegistrationRequired`).
    pub property: String,
    /// Why.
    pub reason: String,
}

/// One resource as TCM sees it: its type, its properties, and what of it was left out.
pub(super) struct Mapped {
    resource_type: &'static str,
    properties: Map<String, Value>,
    left_out: Vec<(String, String)>,
}

/// One tenant's monitors, as `compile --target tcm` writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantMonitors {
    /// `tenantform.tcm/v1`.
    pub format: &'static str,
    /// Tenant id.
    pub tenant: String,
    /// Tenant name.
    pub tenant_name: String,
    /// What a person must know before creating or updating these monitors.
    pub notes: Vec<&'static str>,
    /// The limits checked, and this tenant's use of them.
    pub quota: QuotaUse,
    /// The request bodies for `POST configurationMonitors`, one per baseline layer.
    pub monitors: Vec<Value>,
    /// Resources left out, with the reason.
    pub not_monitored: Vec<NotMonitored>,
    /// Settings of monitored resources left out, with the reason.
    pub properties_not_monitored: Vec<PropertyNotMonitored>,
}

/// The quotas and what the tenant uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaUse {
    /// The limits.
    pub limits: TcmQuotas,
    /// Monitors.
    pub monitors: usize,
    /// Monitored resources.
    pub resources: usize,
    /// Resource runs a day.
    pub resource_runs_per_day: usize,
}

/// Where a monitor's history goes when its baseline changes (the service deletes it).
pub const HISTORY_NOTE: &str = "Updating a monitor's baseline deletes that monitor's monitoring results and drifts (TCM API limits); create or update monitors only when the baselines changed, and export what you need to keep first.";
/// Why some settings of monitored resources are not watched.
pub const PROPERTIES_NOTE: &str = "Settings with no faithful property in the resource type's Microsoft365DSC schema (for example Intune compliance policies' noncompliance actions) are not monitored; properties_not_monitored lists each one.";
const PREVIEW_NOTE: &str = "Tenant Configuration Management is a preview API in the global cloud only; each tenant must first add the TCM service principal (appId 03b07b79-c5bc-4b5e-9bfa-13acf4a99998) and grant it read permissions.";

/// The display name a reference (`${ref:group:key}`) stands for, from the bundle's own
/// resources: TCM matches by name, not id.
fn names(bundle: &Bundle) -> BTreeMap<String, String> {
    bundle
        .operations
        .iter()
        .filter_map(|op| {
            let name = op.body.get("displayName")?.as_str()?;
            Some((op.key.clone(), name.to_string()))
        })
        .collect()
}

/// A monitor-safe display name: TCM shows it, and monitors are matched by it on update.
pub fn monitor_name(baseline: &str) -> String {
    format!("tenantform: {baseline}")
}

/// The monitors of one tenant's bundle.
pub fn monitors(bundle: &Bundle, quotas: &TcmQuotas) -> Result<TenantMonitors, TcmError> {
    let names = names(bundle);
    // A compliance policy's assignment set is its `Assignments` property in TCM.
    let assignments: BTreeMap<&str, &Value> = bundle
        .operations
        .iter()
        .filter(|op| op.kind.name == "deviceCompliancePolicyAssignment")
        .filter_map(|op| Some((op.parent.as_deref()?, &op.body)))
        .collect();
    let mut by_baseline: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut not_monitored = Vec::new();
    let mut properties_not_monitored = Vec::new();
    let mut monitored = std::collections::BTreeSet::new();
    for op in &bundle.operations {
        if op.kind.name == "deviceCompliancePolicyAssignment" {
            continue;
        }
        let assignment = assignments.get(op.key.as_str()).copied();
        match resource(op, assignment, &names) {
            Ok((r, left_out)) => {
                monitored.insert(op.key.as_str());
                by_baseline.entry(op.baseline.as_str()).or_default().push(r);
                properties_not_monitored.extend(left_out.into_iter().map(|(property, reason)| {
                    PropertyNotMonitored {
                        key: op.key.clone(),
                        property,
                        reason,
                    }
                }));
            }
            Err(reason) => not_monitored.push(NotMonitored {
                key: op.key.clone(),
                kind: op.kind.name.to_string(),
                reason,
            }),
        }
    }
    // Assignments are monitored with their policy, or listed with why not.
    for op in bundle
        .operations
        .iter()
        .filter(|op| op.kind.name == "deviceCompliancePolicyAssignment")
    {
        let parent = op.parent.as_deref().unwrap_or_default();
        if monitored.contains(parent) {
            continue;
        }
        not_monitored.push(NotMonitored {
            key: op.key.clone(),
            kind: op.kind.name.to_string(),
            reason: format!(
                "TCM has no resource for assignments alone; they are the Assignments of their policy, {parent}, which is not monitored"
            ),
        });
    }
    for s in &bundle.skipped {
        not_monitored.push(NotMonitored {
            key: s.key.clone(),
            kind: s.kind.to_string(),
            reason: format!("skipped in this tenant: {}", s.reason),
        });
    }
    let resources: usize = by_baseline.values().map(Vec::len).sum();
    let per_day = resources * quotas.runs_per_day;
    if per_day > quotas.resources_per_day {
        return Err(TcmError::TooManyResources {
            resources,
            runs: quotas.runs_per_day,
            per_day,
            limit: quotas.resources_per_day,
            most: quotas.resources_per_day / quotas.runs_per_day.max(1),
        });
    }
    if by_baseline.len() > quotas.monitors_per_tenant {
        return Err(TcmError::TooManyMonitors {
            monitors: by_baseline.len(),
            limit: quotas.monitors_per_tenant,
        });
    }
    // Monitors in layer order (the tenant's baselines, extended layers first).
    let mut monitors = Vec::new();
    for layer in &bundle.baselines {
        let Some(resources) = by_baseline.remove(layer.as_str()) else {
            continue;
        };
        monitors.push(json!({
            "displayName": monitor_name(layer),
            "description": format!("Baseline {layer} as compiled by tenantform for {}; generated, do not edit in the portal", bundle.tenant.name),
            "baseline": {
                "displayName": layer,
                "description": format!("tenantform baseline {layer}"),
                "parameters": [],
                "resources": resources,
            },
        }));
    }
    Ok(TenantMonitors {
        format: "tenantform.tcm/v1",
        tenant: bundle.tenant.id.clone(),
        tenant_name: bundle.tenant.name.clone(),
        notes: vec![HISTORY_NOTE, PREVIEW_NOTE, PROPERTIES_NOTE],
        quota: QuotaUse {
            limits: *quotas,
            monitors: monitors.len(),
            resources,
            resource_runs_per_day: per_day,
        },
        monitors,
        not_monitored,
        properties_not_monitored,
    })
}

/// One operation as a `baselineResource` and the settings left out of it, or why it cannot be
/// one. `assignment` is a compliance policy's assignment set, if the bundle declares one.
fn resource(
    op: &Operation,
    assignment: Option<&Value>,
    names: &BTreeMap<String, String>,
) -> Result<(Value, Vec<(String, String)>), String> {
    let mapped = match op.kind.name {
        "authenticationMethodsPolicy" => auth_methods::methods_policy(op),
        "authenticationMethodConfiguration" => auth_methods::method_configuration(op, names)?,
        "deviceCompliancePolicy" => intune::compliance_policy(op, assignment, names)?,
        _ => {
            let (resource_type, properties) = entra::properties(op, names)?;
            Mapped {
                resource_type,
                properties,
                left_out: Vec::new(),
            }
        }
    };
    let Mapped {
        resource_type,
        mut properties,
        left_out,
    } = mapped;
    properties.insert("Ensure".into(), json!("Present"));
    let display = properties
        .get("DisplayName")
        .or_else(|| properties.get("Id"))
        .and_then(Value::as_str)
        .map_or_else(|| op.key.clone(), str::to_string);
    Ok((
        json!({
            "displayName": format!("{display} ({})", op.key),
            "resourceType": resource_type,
            "properties": properties,
        }),
        left_out,
    ))
}

#[cfg(test)]
mod tests;
