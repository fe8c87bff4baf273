//! Tenant Configuration Management as Graph serves it (drift-facts.md section 4; Microsoft
//! Learn's `configurationMonitor`, `configurationBaseline`, `configurationMonitoringResult` and
//! `configurationDrift` pages): `/admin/configurationManagement/configurationMonitors`
//! (create, list, get, patch, delete, `/baseline`), `configurationMonitoringResults` and
//! `configurationDrifts` (list, get), on beta and v1.0.
//!
//! Validation as the service does: `displayName` and a baseline with a `displayName` and at
//! least one resource with a `resourceType` and at least one property; at most 30 monitors per
//! tenant; at most 800 monitored resources a day per tenant, counted per run (resources × 4
//! runs a day) across monitors. Changing a monitor's baseline deletes its results and drifts.
//!
//! A monitor runs every 6 hours of the simulator's clock divided by `--time-scale` (checked
//! whenever the tenant's TCM endpoints are called), and at once on
//! `POST /_sim/tenants/{id}/monitors/run`. A run matches each baseline resource with the
//! tenant's live object **by its key property (`DisplayName`), not by id**, and reports a
//! drift per resource whose evaluated properties differ (a missing object is `Ensure`
//! `Absent`). The simulator evaluates `Ensure`, `DisplayName`, `State` and the grant,
//! application, client-app and user-keyword properties of Conditional Access policies,
//! `Ensure`/`DisplayName`/`IsTrusted` of named locations, and the value (not structured)
//! properties of authentication strengths, per-method authentication policies (matched by `Id`,
//! e.g. `Fido2`) and Intune compliance policies; other resource types and properties (targets,
//! `Assignments`, feature settings) are accepted but not evaluated (they never drift here).
//!
//! Input: a path relative to the version root and the [`Call`]. Output: the [`Reply`]. Not
//! kept in `--state-dir` state files.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::kinds::{self, ApiVersion};
use crate::sim::query::Clause;
use crate::sim::service::App;
use crate::sim::state::{Defaults, Tenant, TenantState, member_table};
use crate::sim::wire::{Reply, graph_timestamp};

use super::{Call, not_allowed, not_found};

/// Monitors per tenant (Learn: "You can create up to 30 configurationMonitor objects").
pub(crate) const MONITORS_PER_TENANT: usize = 30;
/// Monitored resources per day per tenant, across monitors, counted per run.
pub(crate) const RESOURCES_PER_DAY: usize = 800;
/// Runs a day (every 6 hours, not configurable).
pub(crate) const RUNS_PER_DAY: usize = 4;
/// A monitor's interval on the simulator's clock before `--time-scale`.
const RUN_INTERVAL_MS: f64 = 6.0 * 3600.0 * 1000.0;

/// The permissions TCM's endpoints need: read, and write.
pub(crate) const PERMISSIONS: &[&str] = &[
    "ConfigurationMonitoring.Read.All",
    "ConfigurationMonitoring.ReadWrite.All",
];

/// One tenant's monitors, results and drifts.
#[derive(Debug, Default)]
pub(crate) struct TcmState {
    /// Monitors in creation order, each with its `baseline`.
    monitors: Vec<Value>,
    /// Monitoring results, oldest first.
    results: Vec<Value>,
    /// Drifts (active and fixed).
    drifts: Vec<Value>,
    /// Monitor id → the simulator clock (ms) of its last run.
    last_run: BTreeMap<String, u64>,
    /// Results, drifts and baselines created so far (ids).
    counter: u64,
}

/// What a TCM path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TcmTarget {
    /// `configurationMonitors`.
    Monitors,
    /// `configurationMonitors/{id}` or `configurationMonitors('{id}')`.
    Monitor(String),
    /// `configurationMonitors/{id}/baseline`.
    Baseline(String),
    /// `configurationMonitoringResults`.
    Results,
    /// `configurationMonitoringResults/{id}`.
    Result(String),
    /// `configurationDrifts`.
    Drifts,
    /// `configurationDrifts/{id}`.
    Drift(String),
}

impl TcmTarget {
    /// The permission the call needs (ReadWrite also grants reading).
    pub(crate) fn permitted(&self, write: bool, roles: &[String]) -> bool {
        let has = |p: &str| roles.iter().any(|r| r.eq_ignore_ascii_case(p));
        has(PERMISSIONS[1]) || (!write && has(PERMISSIONS[0]))
    }
}

/// `configurationMonitors('x')` → (`configurationMonitors`, `x`).
fn split_key(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once('(') {
        Some((name, rest)) => {
            let key = rest.trim_end_matches(')').trim_matches('\'');
            (name, Some(key))
        }
        None => (segment, None),
    }
}

/// The target of `path`, if it is a TCM path (beta and v1.0 both serve TCM).
pub(crate) fn resolve(_version: ApiVersion, path: &str) -> Option<TcmTarget> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let [admin, management, rest @ ..] = s.as_slice() else {
        return None;
    };
    if !eq(admin, "admin") || !eq(management, "configurationManagement") {
        return None;
    }
    let (first, inline_key) = match rest.first() {
        Some(segment) => split_key(segment),
        None => return None,
    };
    let key = inline_key.or_else(|| rest.get(1).copied());
    let tail = if inline_key.is_some() {
        &rest[1..]
    } else {
        rest.get(2..).unwrap_or(&[])
    };
    let id = |k: &str| k.to_string();
    match (first, key, tail) {
        (c, None, []) if eq(c, "configurationMonitors") => Some(TcmTarget::Monitors),
        (c, Some(k), []) if eq(c, "configurationMonitors") => Some(TcmTarget::Monitor(id(k))),
        (c, Some(k), [b]) if eq(c, "configurationMonitors") && eq(b, "baseline") => {
            Some(TcmTarget::Baseline(id(k)))
        }
        (c, None, []) if eq(c, "configurationMonitoringResults") => Some(TcmTarget::Results),
        (c, Some(k), []) if eq(c, "configurationMonitoringResults") => {
            Some(TcmTarget::Result(id(k)))
        }
        (c, None, []) if eq(c, "configurationDrifts") => Some(TcmTarget::Drifts),
        (c, Some(k), []) if eq(c, "configurationDrifts") => Some(TcmTarget::Drift(id(k))),
        _ => None,
    }
}

fn bad_request(message: impl Into<String>) -> Reply {
    Reply::error(400, "BadRequest", message.into())
}

/// Why a monitor body is invalid, as the service says it.
fn check_body(body: &Value, creating: bool) -> Result<(), Reply> {
    let name = body.get("displayName");
    if creating || name.is_some() {
        match name.and_then(Value::as_str) {
            Some(n) if !n.trim().is_empty() => {}
            _ => {
                return Err(bad_request(
                    "The monitor's displayName is required and must be a non-empty string.",
                ));
            }
        }
    }
    let Some(baseline) = body.get("baseline") else {
        return if creating {
            Err(bad_request("The monitor's baseline is required."))
        } else {
            Ok(())
        };
    };
    if baseline
        .get("displayName")
        .and_then(Value::as_str)
        .is_none_or(|n| n.trim().is_empty())
    {
        return Err(bad_request("The baseline's displayName is required."));
    }
    let resources = baseline
        .get("resources")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            bad_request(
                "The baseline must contain at least one resource with at least one property.",
            )
        })?;
    for (i, resource) in resources.iter().enumerate() {
        if !resource
            .get("resourceType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.contains('.'))
        {
            return Err(bad_request(format!(
                "baseline.resources[{i}]: resourceType is required (for example microsoft.entra.conditionalaccesspolicy)."
            )));
        }
        if resource
            .get("properties")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        {
            return Err(bad_request(format!(
                "baseline.resources[{i}]: at least one property is required."
            )));
        }
    }
    Ok(())
}

fn resource_count(monitor: &Value) -> usize {
    monitor["baseline"]["resources"]
        .as_array()
        .map_or(0, Vec::len)
}

/// The daily quota after replacing (or adding) the monitor `id` with `resources` resources.
fn check_daily_quota(state: &TcmState, id: Option<&str>, resources: usize) -> Result<(), Reply> {
    let others: usize = state
        .monitors
        .iter()
        .filter(|m| id.is_none_or(|id| m["id"].as_str() != Some(id)))
        .map(resource_count)
        .sum();
    let runs = (others + resources) * RUNS_PER_DAY;
    if runs > RESOURCES_PER_DAY {
        return Err(bad_request(format!(
            "The monitors of this tenant would monitor {} resources {RUNS_PER_DAY} times a day ({runs} resource runs), over the limit of {RESOURCES_PER_DAY} monitored resources per day per tenant.",
            others + resources
        )));
    }
    Ok(())
}

fn matches_id(value: &Value, id: &str) -> bool {
    value["id"]
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case(id))
}

/// `$filter=monitorId eq '…'` (the filter Learn shows for results and drifts).
fn monitor_filter(filter: &[Clause]) -> Result<Option<String>, Reply> {
    match filter {
        [] => Ok(None),
        [clause] if clause.property.eq_ignore_ascii_case("monitorId") => {
            Ok(clause.value.as_str().map(str::to_string))
        }
        _ => Err(bad_request(
            "Invalid filter clause. Supported: monitorId eq '<id>'.",
        )),
    }
}

impl Call<'_> {
    fn tcm_context(&self, fragment: &str) -> String {
        format!(
            "{}/{}/$metadata#{fragment}",
            self.request.origin,
            self.request.version.segment()
        )
    }

    fn tcm_list(&self, fragment: &str, items: Vec<Value>) -> Reply {
        let body = json!({"@odata.context": self.tcm_context(fragment), "value": items});
        Reply::json(200, body.to_string())
    }

    fn tcm_entity(&self, fragment: &str, status: u16, value: &Value) -> Reply {
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(self.tcm_context(fragment)));
        if let Value::Object(map) = value {
            out.extend(map.clone());
        }
        Reply::json(status, Value::Object(out).to_string())
    }

    /// Answer a TCM call.
    pub(crate) fn tcm(&self, target: TcmTarget) -> Reply {
        let mut state = self.tenant.lock();
        run_due(
            self.app,
            self.tenant,
            &mut state,
            self.clock_ms,
            self.now_ms,
        );
        match self.tcm_locked(&mut state, &target) {
            Ok(reply) | Err(reply) => reply,
        }
    }

    fn tcm_locked(&self, state: &mut TenantState, target: &TcmTarget) -> Result<Reply, Reply> {
        let method = self.request.method;
        let monitors_fragment = "admin/configurationManagement/configurationMonitors";
        match (target, method) {
            (TcmTarget::Monitors, "GET") => {
                let items = state.tcm.monitors.iter().map(without_baseline).collect();
                Ok(self.tcm_list(monitors_fragment, items))
            }
            (TcmTarget::Monitors, "POST") => {
                let body = self.body()?;
                check_body(&body, true)?;
                let tcm = &mut state.tcm;
                if tcm.monitors.len() >= MONITORS_PER_TENANT {
                    return Err(bad_request(format!(
                        "This tenant has {} monitors; at most {MONITORS_PER_TENANT} configuration monitors are allowed per tenant.",
                        tcm.monitors.len()
                    )));
                }
                check_daily_quota(tcm, None, resource_count(&body))?;
                tcm.counter += 1;
                let id = crate::sim::seeded::guid(
                    self.app.config.seed,
                    &format!("{}/tcm/{}", self.tenant.id, tcm.counter),
                );
                let now = graph_timestamp(self.now_ms);
                let mut monitor = json!({
                    "id": id,
                    "displayName": body["displayName"],
                    "description": body.get("description").cloned().unwrap_or(json!("")),
                    "tenantId": &*self.tenant.id,
                    "status": "active",
                    "mode": "monitorOnly",
                    "monitorRunFrequencyInHours": 6,
                    "runAsUTCMServicePrincipal": true,
                    "inactivationReason": null,
                    "parameters": body.get("parameters").cloned().unwrap_or(json!({})),
                    "createdDateTime": now,
                    "lastModifiedDateTime": now,
                    "createdBy": {"application": {"id": self.actor_app_id(), "displayName": null}, "user": null},
                });
                monitor["baseline"] = with_baseline_id(&body["baseline"], &id);
                tcm.monitors.push(monitor.clone());
                tcm.last_run.insert(id, self.clock_ms);
                Ok(self.tcm_entity(
                    &format!("{monitors_fragment}/$entity"),
                    201,
                    &without_baseline(&monitor),
                ))
            }
            (TcmTarget::Monitor(id), "GET") => {
                let monitor = find(&state.tcm.monitors, id)?;
                Ok(self.tcm_entity(
                    &format!("{monitors_fragment}/$entity"),
                    200,
                    &without_baseline(monitor),
                ))
            }
            (TcmTarget::Baseline(id), "GET") => {
                let monitor = find(&state.tcm.monitors, id)?;
                Ok(self.tcm_entity(
                    &format!("{monitors_fragment}('{id}')/baseline/$entity"),
                    200,
                    &monitor["baseline"],
                ))
            }
            (TcmTarget::Monitor(id), "PATCH") => {
                let body = self.body()?;
                check_body(&body, false)?;
                let tcm = &mut state.tcm;
                let index = tcm
                    .monitors
                    .iter()
                    .position(|m| matches_id(m, id))
                    .ok_or_else(|| not_found(id))?;
                let monitor_id = tcm.monitors[index]["id"].as_str().unwrap_or(id).to_string();
                if let Some(baseline) = body.get("baseline") {
                    check_daily_quota(tcm, Some(&monitor_id), resource_count(&body))?;
                    // A baseline update deletes the monitor's results and drifts.
                    tcm.results
                        .retain(|r| r["monitorId"] != monitor_id.as_str());
                    tcm.drifts.retain(|d| d["monitorId"] != monitor_id.as_str());
                    tcm.monitors[index]["baseline"] = with_baseline_id(baseline, &monitor_id);
                }
                for field in ["displayName", "description", "parameters"] {
                    if let Some(value) = body.get(field) {
                        tcm.monitors[index][field] = value.clone();
                    }
                }
                tcm.monitors[index]["lastModifiedDateTime"] = json!(graph_timestamp(self.now_ms));
                Ok(Reply::empty(204))
            }
            (TcmTarget::Monitor(id), "DELETE") => {
                let tcm = &mut state.tcm;
                let index = tcm
                    .monitors
                    .iter()
                    .position(|m| matches_id(m, id))
                    .ok_or_else(|| not_found(id))?;
                let removed = tcm.monitors.remove(index);
                let monitor_id = removed["id"].as_str().unwrap_or(id).to_string();
                tcm.results
                    .retain(|r| r["monitorId"] != monitor_id.as_str());
                tcm.drifts.retain(|d| d["monitorId"] != monitor_id.as_str());
                tcm.last_run.remove(&monitor_id);
                Ok(Reply::empty(204))
            }
            (TcmTarget::Results, "GET") => {
                let only = monitor_filter(&self.query.filter)?;
                let items = filtered(&state.tcm.results, only.as_deref());
                Ok(self.tcm_list(
                    "admin/configurationManagement/configurationMonitoringResults",
                    items,
                ))
            }
            (TcmTarget::Result(id), "GET") => Ok(self.tcm_entity(
                "admin/configurationManagement/configurationMonitoringResults/$entity",
                200,
                find(&state.tcm.results, id)?,
            )),
            (TcmTarget::Drifts, "GET") => {
                let only = monitor_filter(&self.query.filter)?;
                let items = filtered(&state.tcm.drifts, only.as_deref());
                Ok(self.tcm_list("admin/configurationManagement/configurationDrifts", items))
            }
            (TcmTarget::Drift(id), "GET") => Ok(self.tcm_entity(
                "admin/configurationManagement/configurationDrifts/$entity",
                200,
                find(&state.tcm.drifts, id)?,
            )),
            _ => Err(not_allowed()),
        }
    }

    fn actor_app_id(&self) -> String {
        self.app.config.client_id.to_string()
    }
}

fn find<'a>(items: &'a [Value], id: &str) -> Result<&'a Value, Reply> {
    items
        .iter()
        .find(|v| matches_id(v, id))
        .ok_or_else(|| not_found(id))
}

fn filtered(items: &[Value], monitor: Option<&str>) -> Vec<Value> {
    items
        .iter()
        .filter(|v| {
            monitor.is_none_or(|m| {
                v["monitorId"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(m))
            })
        })
        .cloned()
        .collect()
}

fn without_baseline(monitor: &Value) -> Value {
    let mut out = monitor.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("baseline");
    }
    out
}

fn with_baseline_id(baseline: &Value, monitor_id: &str) -> Value {
    let mut out = baseline.clone();
    if let Some(map) = out.as_object_mut() {
        map.insert("id".into(), json!(format!("{monitor_id}-baseline")));
        map.entry("parameters").or_insert(json!([]));
        map.entry("description").or_insert(json!(""));
    }
    out
}

/// Run every monitor of the tenant whose interval has passed on the simulator's clock.
fn run_due(app: &App, tenant: &Tenant, state: &mut TenantState, clock_ms: u64, now_ms: i64) {
    let scale = if app.config.time_scale > 0.0 {
        app.config.time_scale
    } else {
        1.0
    };
    let interval = (RUN_INTERVAL_MS / scale).max(1.0) as u64;
    let due: Vec<String> = state
        .tcm
        .monitors
        .iter()
        .filter_map(|m| m["id"].as_str())
        .filter(|id| {
            state
                .tcm
                .last_run
                .get(*id)
                .is_none_or(|last| clock_ms.saturating_sub(*last) >= interval)
        })
        .map(str::to_string)
        .collect();
    for id in due {
        run_monitor(&app.defaults, tenant, state, &id, clock_ms, now_ms);
    }
}

/// Run every monitor of a tenant now (`POST /_sim/tenants/{id}/monitors/run`); the number run.
pub(crate) fn run_all(app: &App, tenant: &Tenant) -> usize {
    let (clock_ms, now_ms) = (app.clock_ms(), app.now_ms());
    let mut state = tenant.lock();
    let ids: Vec<String> = state
        .tcm
        .monitors
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    for id in &ids {
        run_monitor(&app.defaults, tenant, &mut state, id, clock_ms, now_ms);
    }
    ids.len()
}

/// One run of one monitor: a result, and drifts opened, kept or fixed.
fn run_monitor(
    defaults: &Defaults,
    tenant: &Tenant,
    state: &mut TenantState,
    id: &str,
    clock_ms: u64,
    now_ms: i64,
) {
    let Some(monitor) = state
        .tcm
        .monitors
        .iter()
        .find(|m| matches_id(m, id))
        .cloned()
    else {
        return;
    };
    let resources = monitor["baseline"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut found = Vec::new();
    for resource in &resources {
        let drifted = drifted_properties(state, defaults, resource);
        if !drifted.is_empty() {
            found.push((resource.clone(), drifted));
        }
    }
    let now = graph_timestamp(now_ms);
    let tcm = &mut state.tcm;
    // Drifts no longer seen are fixed; the others keep their first report.
    for drift in tcm.drifts.iter_mut().filter(|d| d["monitorId"] == id) {
        let still = found.iter().any(|(r, _)| {
            r["displayName"] == drift["baselineResourceDisplayName"]
                && r["resourceType"] == drift["resourceType"]
        });
        if !still {
            drift["status"] = json!("fixed");
        }
    }
    for (resource, properties) in &found {
        let key = instance_identifier(resource);
        let existing = tcm.drifts.iter_mut().find(|d| {
            d["monitorId"] == id
                && d["baselineResourceDisplayName"] == resource["displayName"]
                && d["resourceType"] == resource["resourceType"]
                && d["status"] == "active"
        });
        match existing {
            Some(drift) => drift["driftedProperties"] = json!(properties),
            None => {
                tcm.counter += 1;
                let drift_id = crate::sim::seeded::guid(
                    0,
                    &format!("{}/tcm-drift/{}", tenant.id, tcm.counter),
                );
                tcm.drifts.push(json!({
                    "id": drift_id,
                    "monitorId": id,
                    "tenantId": &*tenant.id,
                    "resourceType": resource["resourceType"],
                    "baselineResourceDisplayName": resource["displayName"],
                    "resourceInstanceIdentifier": key,
                    "firstReportedDateTime": now,
                    "status": "active",
                    "driftedProperties": properties,
                }));
            }
        }
    }
    tcm.counter += 1;
    let result_id = crate::sim::seeded::guid(0, &format!("{}/tcm-run/{}", tenant.id, tcm.counter));
    tcm.results.push(json!({
        "id": result_id,
        "monitorId": id,
        "tenantId": &*tenant.id,
        "runInitiationDateTime": now,
        "runCompletionDateTime": now,
        "runStatus": "successful",
        "driftsCount": found.len(),
        "driftsFixed": 0,
        "runType": "periodic",
        "errorDetails": [],
    }));
    tcm.last_run.insert(id.to_string(), clock_ms);
}

/// The key properties of a resource (`{"DisplayName": "…"}`).
fn instance_identifier(resource: &Value) -> Value {
    let p = &resource["properties"];
    let mut out = Map::new();
    for key in ["DisplayName", "IsSingleInstance", "Id", "PartnerTenantId"] {
        if let Some(v) = p.get(key) {
            out.insert(key.into(), v.clone());
            break;
        }
    }
    Value::Object(out)
}

/// The Graph kind and property reader of a TCM resource type the simulator evaluates.
fn evaluated_kind(resource_type: &str) -> Option<(&'static str, Evaluator)> {
    match resource_type.to_ascii_lowercase().as_str() {
        "microsoft.entra.conditionalaccesspolicy" => {
            Some(("conditionalAccessPolicy", conditional_access_property))
        }
        "microsoft.entra.namedlocationpolicy" => Some(("namedLocation", named_location_property)),
        "microsoft.entra.authenticationstrengthpolicy" => {
            Some(("authenticationStrengthPolicy", scalar_property))
        }
        t if t.starts_with("microsoft.entra.authenticationmethodpolicy")
            && t != "microsoft.entra.authenticationmethodpolicy" =>
        {
            Some(("authenticationMethodConfiguration", scalar_property))
        }
        t if t.starts_with("microsoft.intune.devicecompliancepolicy") => {
            Some(("deviceCompliancePolicy", scalar_property))
        }
        _ => None,
    }
}

/// A Microsoft365DSC property that is the live object's property of the same name in
/// camelCase (`BitLockerEnabled` is `bitLockerEnabled`), when it is a value or a list of values;
/// structured ones (targets, assignments, feature settings) are not evaluated.
fn scalar_property(live: &Value, name: &str) -> Option<Value> {
    let (_, value) = live
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
    let structured = value.is_object()
        || value
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i.is_object() || i.is_array()));
    (!structured).then(|| value.clone())
}

type Evaluator = fn(&Value, &str) -> Option<Value>;

fn conditional_access_property(live: &Value, name: &str) -> Option<Value> {
    let path: &[&str] = match name {
        "DisplayName" => &["displayName"],
        "State" => &["state"],
        "BuiltInControls" => &["grantControls", "builtInControls"],
        "GrantControlOperator" => &["grantControls", "operator"],
        "IncludeApplications" => &["conditions", "applications", "includeApplications"],
        "ExcludeApplications" => &["conditions", "applications", "excludeApplications"],
        "ClientAppTypes" => &["conditions", "clientAppTypes"],
        "IncludeUsers" => &["conditions", "users", "includeUsers"],
        _ => return None,
    };
    let value = path.iter().fold(live, |v, p| &v[*p]);
    Some(
        if value.is_null() && name != "DisplayName" && name != "State" {
            json!([])
        } else {
            value.clone()
        },
    )
}

fn named_location_property(live: &Value, name: &str) -> Option<Value> {
    match name {
        "DisplayName" => Some(live["displayName"].clone()),
        "IsTrusted" => Some(live["isTrusted"].clone()),
        _ => None,
    }
}

/// Values compared as TCM does: strings case-insensitively, arrays as sets.
fn same(desired: &Value, current: &Value) -> bool {
    let norm = |v: &Value| -> Value {
        match v {
            Value::String(s) => json!(s.to_ascii_lowercase()),
            Value::Array(items) => {
                let mut out: Vec<String> = items
                    .iter()
                    .map(|i| i.as_str().map_or(i.to_string(), str::to_ascii_lowercase))
                    .collect();
                out.sort();
                json!(out)
            }
            other => other.clone(),
        }
    };
    norm(desired) == norm(current)
}

/// The drifted properties of one baseline resource against the tenant's live objects.
fn drifted_properties(state: &TenantState, defaults: &Defaults, resource: &Value) -> Vec<Value> {
    let Some((kind_name, read)) = resource["resourceType"].as_str().and_then(evaluated_kind) else {
        return Vec::new();
    };
    let Some(kind) = kinds::by_name(kind_name) else {
        return Vec::new();
    };
    let properties = resource["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Matched by the key: `DisplayName`, or `Id` for the per-method authentication policies
    // (fixed members such as `Fido2`).
    let wanted_name = properties.get("DisplayName").and_then(Value::as_str);
    let wanted_id = properties.get("Id").and_then(Value::as_str);
    let matches = |v: &Value| match wanted_name {
        Some(name) => v["displayName"].as_str() == Some(name),
        None => v["id"]
            .as_str()
            .zip(wanted_id)
            .is_some_and(|(id, wanted)| id.eq_ignore_ascii_case(wanted)),
    };
    let live = match state.live(kind) {
        Some(objects) => objects.values().map(|o| o.value()).find(|v| matches(v)),
        None => (0..member_table(kind).len())
            .filter_map(|i| state.member(kind, i, defaults))
            .map(|o| o.value())
            .find(|v| matches(v)),
    };
    let desired_ensure = properties
        .get("Ensure")
        .and_then(Value::as_str)
        .unwrap_or("Present");
    let Some(live) = live else {
        return if desired_ensure.eq_ignore_ascii_case("Present") {
            vec![
                json!({"propertyName": "Ensure", "currentValue": "Absent", "desiredValue": "Present"}),
            ]
        } else {
            Vec::new()
        };
    };
    if desired_ensure.eq_ignore_ascii_case("Absent") {
        return vec![
            json!({"propertyName": "Ensure", "currentValue": "Present", "desiredValue": "Absent"}),
        ];
    }
    properties
        .iter()
        .filter(|(name, _)| name.as_str() != "Ensure")
        .filter_map(|(name, desired)| {
            let current = read(&live, name)?;
            (!same(desired, &current)).then(
                || json!({"propertyName": name, "currentValue": current, "desiredValue": desired}),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcm_paths_resolve_in_both_key_forms() {
        let v = ApiVersion::Beta;
        let base = "/admin/configurationManagement";
        assert_eq!(
            resolve(v, &format!("{base}/configurationMonitors")),
            Some(TcmTarget::Monitors)
        );
        assert_eq!(
            resolve(v, &format!("{base}/configurationMonitors/abc")),
            Some(TcmTarget::Monitor("abc".into()))
        );
        assert_eq!(
            resolve(v, &format!("{base}/configurationMonitors('abc')")),
            Some(TcmTarget::Monitor("abc".into()))
        );
        assert_eq!(
            resolve(v, &format!("{base}/configurationMonitors('abc')/baseline")),
            Some(TcmTarget::Baseline("abc".into()))
        );
        assert_eq!(
            resolve(v, &format!("{base}/configurationDrifts")),
            Some(TcmTarget::Drifts)
        );
        assert_eq!(resolve(v, &format!("{base}/somethingElse")), None);
        assert_eq!(resolve(v, "/groups"), None);
    }

    #[test]
    fn bodies_without_required_parts_are_rejected() {
        assert!(check_body(&json!({"baseline": {}}), true).is_err());
        assert!(check_body(&json!({"displayName": "m"}), true).is_err());
        assert!(
            check_body(
                &json!({"displayName": "m", "baseline": {"displayName": "b", "resources": []}}),
                true
            )
            .is_err()
        );
        assert!(check_body(&json!({"displayName": "m", "baseline": {"displayName": "b", "resources": [{"displayName": "r", "resourceType": "microsoft.entra.group", "properties": {}}]}}), true).is_err());
        assert!(check_body(&json!({"displayName": "m", "baseline": {"displayName": "b", "resources": [{"displayName": "r", "resourceType": "microsoft.entra.group", "properties": {"DisplayName": "x"}}]}}), true).is_ok());
        assert!(check_body(&json!({"description": "only"}), false).is_ok());
    }

    #[test]
    fn pascal_case_properties_read_values_but_not_structures() {
        let live = json!({
            "bitLockerEnabled": true,
            "rtpEnabled": false,
            "allowedCombinations": ["fido2"],
            "includeTargets": [{"id": "all_users"}],
            "featureSettings": {"x": 1}
        });
        assert_eq!(
            scalar_property(&live, "BitLockerEnabled"),
            Some(json!(true))
        );
        assert_eq!(scalar_property(&live, "RTPEnabled"), Some(json!(false)));
        assert_eq!(
            scalar_property(&live, "AllowedCombinations"),
            Some(json!(["fido2"]))
        );
        assert_eq!(scalar_property(&live, "IncludeTargets"), None);
        assert_eq!(scalar_property(&live, "FeatureSettings"), None);
        assert_eq!(scalar_property(&live, "Missing"), None);
        assert_eq!(
            evaluated_kind("microsoft.entra.authenticationmethodpolicyfido2").map(|(k, _)| k),
            Some("authenticationMethodConfiguration")
        );
        assert!(evaluated_kind("microsoft.entra.authenticationmethodpolicy").is_none());
    }

    #[test]
    fn values_compare_case_insensitively_and_arrays_as_sets() {
        assert!(same(&json!("Enabled"), &json!("enabled")));
        assert!(same(&json!(["b", "A"]), &json!(["a", "B"])));
        assert!(!same(&json!("enabled"), &json!("disabled")));
    }
}
