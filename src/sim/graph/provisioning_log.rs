//! The provisioning logs as Graph serves them: `GET /auditLogs/provisioning` (Microsoft Learn:
//! `provisioningobjectsummary-list`; resource `provisioningObjectSummary`), in the tenant whose
//! synchronization job acted (the source of a cross-tenant synchronization link). The
//! provisioning service (`provisioning.rs`) records one entry per action it takes on a user:
//! `create`, `update` or `delete` in the target with `provisioningStatusInfo.status`
//! `success`, and, when a cycle ends in quarantine, a `failure` with the service's
//! `errorInformation` (`errorCode`, `reason`, `recommendedAction`) for each user it could not
//! provision (or one `other` entry when none was in scope).
//!
//! Reads need `AuditLog.Read.All`, count against the identity and access reports limit, and
//! take `$filter` on any property (`jobId eq '…'`, `provisioningStatusInfo/status eq
//! 'failure'`) and `$top`; newest first. Not kept in `--state-dir` state files.
//!
//! Input: what the service did in a cycle ([`LogEvent`]s). Output: `provisioningObjectSummary`
//! entries, and the [`Reply`] to a read.

use serde_json::{Value, json};

use crate::sim::seeded;
use crate::sim::wire::Reply;

use super::Call;

/// The permission a read needs (Microsoft Learn: "List provisioningObjectSummary").
pub(crate) const PERMISSION: &str = "AuditLog.Read.All";

/// True for `/auditLogs/provisioning`.
pub(crate) fn is_path(path: &str) -> bool {
    path.trim_end_matches('/')
        .eq_ignore_ascii_case("/auditLogs/provisioning")
}

/// One action of the provisioning service on one user.
#[derive(Debug, Clone)]
pub(crate) struct LogEvent {
    /// `create`, `update`, `delete` or `other`.
    pub(crate) action: &'static str,
    /// The user in the source (`id`, `userPrincipalName`, `displayName`), or `null`.
    pub(crate) source_user: Value,
    /// The user in the target, when there is one.
    pub(crate) target_user: Option<Value>,
    /// The service's error (`code`, `message`), for a failure.
    pub(crate) failure: Option<(String, String)>,
}

/// What one cycle is: the job, its service principal, the tenants, when.
pub(crate) struct Cycle<'a> {
    pub(crate) seed: u64,
    pub(crate) source_tenant: &'a str,
    pub(crate) target_tenant: &'a str,
    pub(crate) service_principal: &'a str,
    pub(crate) job_id: &'a str,
    pub(crate) now: &'a str,
    /// A number that differs between cycles of the job (the job's entry count).
    pub(crate) sequence: usize,
}

fn identity(user: &Value) -> Value {
    if user.is_null() {
        return Value::Null;
    }
    json!({
        "id": user["id"],
        "displayName": user["displayName"],
        "identityType": "User",
        "details": {"UserPrincipalName": user["userPrincipalName"]},
    })
}

/// The entries of one cycle's events, in order.
pub(crate) fn entries(cycle: &Cycle<'_>, events: &[LogEvent]) -> Vec<Value> {
    let cycle_id = seeded::guid(
        cycle.seed,
        &format!(
            "{}/{}/cycle/{}",
            cycle.source_tenant, cycle.job_id, cycle.sequence
        ),
    );
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let id = seeded::guid(
                cycle.seed,
                &format!("{}/{}/entry/{}", cycle.source_tenant, cycle.job_id, cycle.sequence + i),
            );
            let status = match &e.failure {
                Some((code, message)) => json!({
                    "status": "failure",
                    "errorInformation": {
                        "errorCode": code,
                        "errorCategory": "NonServiceFailure",
                        "reason": message,
                        "additionalDetails": null,
                        "recommendedAction": recommended_action(code),
                    },
                }),
                None => json!({"status": "success", "errorInformation": null}),
            };
            let target = e.target_user.as_ref().map_or(Value::Null, identity);
            let modified: Vec<Value> = match (&e.target_user, e.action) {
                (Some(user), "create" | "update") => ["displayName", "userType", "companyName"]
                    .iter()
                    .filter(|p| !user[**p].is_null())
                    .map(|p| json!({"displayName": p, "oldValue": null, "newValue": user[*p].to_string()}))
                    .collect(),
                _ => Vec::new(),
            };
            let step_status = if e.failure.is_some() {
                "failure"
            } else {
                "success"
            };
            json!({
                "id": id,
                "activityDateTime": cycle.now,
                "tenantId": cycle.source_tenant,
                "jobId": cycle.job_id,
                "cycleId": cycle_id,
                "changeId": id,
                "provisioningAction": e.action,
                "durationInMilliseconds": 0,
                "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
                "servicePrincipal": {"id": cycle.service_principal, "displayName": null},
                "sourceSystem": {"id": cycle.source_tenant, "displayName": "Azure Active Directory", "details": {}},
                "targetSystem": {"id": cycle.target_tenant, "displayName": "Azure Active Directory (target tenant)", "details": {"TenantId": cycle.target_tenant}},
                "sourceIdentity": identity(&e.source_user),
                "targetIdentity": target,
                "provisioningStatusInfo": status,
                "provisioningSteps": [{
                    "name": format!("Entry{}", step_name(e.action)),
                    "provisioningStepType": if e.failure.is_some() { "other" } else { "export" },
                    "status": step_status,
                    "description": e.failure.as_ref().map_or_else(
                        || format!("{} the user in the target tenant", step_name(e.action)),
                        |(_, m)| m.clone(),
                    ),
                    "details": {},
                }],
                "modifiedProperties": modified,
            })
        })
        .collect()
}

fn step_name(action: &str) -> &'static str {
    match action {
        "create" => "ExportAdd",
        "update" => "ExportUpdate",
        "delete" => "ExportDelete",
        _ => "Synchronization",
    }
}

/// What the service tells an administrator to do about an error it quarantines a job for.
fn recommended_action(code: &str) -> &'static str {
    match code {
        "AzureActiveDirectoryCrossTenantSyncPolicyCheckFailure" => {
            "In the target tenant, allow user synchronization inbound from the source tenant in the cross-tenant access settings."
        }
        "AzureDirectoryB2BManagementPolicyCheckFailure" => {
            "Enable automatic redemption (inbound in the target, outbound in the source) in the cross-tenant access settings."
        }
        "TooManyDeletes" => {
            "Review the deletions; allow them or raise the accidental-deletion threshold."
        }
        _ => "Check the synchronization job's credentials and settings.",
    }
}

impl Call<'_> {
    /// `GET /auditLogs/provisioning`: the tenant's entries, newest first, filtered.
    pub(crate) fn provisioning_log(&self) -> Reply {
        if self.request.method != "GET" {
            return super::not_allowed();
        }
        let items: Vec<Value> = {
            let state = self.tenant.lock();
            state
                .sync
                .provisioning_log
                .iter()
                .rev()
                .filter(|e| self.query.matches(e))
                .take(self.query.top.unwrap_or(usize::MAX))
                .cloned()
                .collect()
        };
        let body = json!({
            "@odata.context": self.context("auditLogs/provisioning"),
            "value": items,
        });
        Reply::json(200, body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_graph_s_shape() {
        let cycle = Cycle {
            seed: 1,
            source_tenant: "s",
            target_tenant: "t",
            service_principal: "sp",
            job_id: "job",
            now: "2026-12-06T00:00:00Z",
            sequence: 0,
        };
        let events = [
            LogEvent {
                action: "create",
                source_user: json!({"id": "u1", "displayName": "Ann", "userPrincipalName": "ann@s"}),
                target_user: Some(json!({"id": "t1", "displayName": "Ann", "userType": "Guest"})),
                failure: None,
            },
            LogEvent {
                action: "other",
                source_user: Value::Null,
                target_user: None,
                failure: Some(("TooManyDeletes".into(), "too many".into())),
            },
        ];
        let e = entries(&cycle, &events);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["provisioningAction"], "create");
        assert_eq!(e[0]["provisioningStatusInfo"]["status"], "success");
        assert_eq!(e[0]["targetIdentity"]["id"], "t1");
        assert_eq!(e[0]["cycleId"], e[1]["cycleId"]);
        assert_ne!(e[0]["id"], e[1]["id"]);
        assert_eq!(
            e[1]["provisioningStatusInfo"]["errorInformation"]["errorCode"],
            "TooManyDeletes"
        );
        assert!(e[1]["sourceIdentity"].is_null());
        assert!(is_path("/auditLogs/provisioning/"));
        assert!(!is_path("/auditLogs/directoryAudits"));
    }
}
