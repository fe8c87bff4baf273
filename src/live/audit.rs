//! Who changed an object, and when: the newest successful entry for it in the tenant's audit
//! logs (drift-facts.md sections 1 and 2), the directory audit log for Entra objects and
//! Intune's audit events for Intune objects. tenantform's own app is told apart ("self").
//!
//! The directory log is paced as Graph's identity and access reports are (5 requests per 10 s
//! per app and tenant): up to [`PER_OBJECT_QUERIES`] drifted objects are looked up one by one
//! (`targetResources/any(t:t/id eq '…')`), more with one query for the newest entries, matched
//! here. A log that cannot be read, or has no entry for the object, is said so on the item
//! ("unknown"), never guessed, and never fails the drift run.
//!
//! Input: a tenant's [`DriftItem`]s and its Graph session. Output: the items with
//! `changed_by` (or `changed_by_unknown`) filled in.

use serde_json::Value;

use crate::graph::client::{GraphClient, Observer, Request, RequestError, TenantSession};
use crate::kinds::{ApiVersion, ThrottleClass};
use crate::live::drift::{ChangedBy, DriftItem, DriftState};

/// Drifted Entra objects looked up one query each; past this, one query for the newest
/// entries covers them all (the reports limit allows 5 requests per 10 s).
pub const PER_OBJECT_QUERIES: usize = 4;

/// Entries one windowed query asks for (Graph's largest page).
const WINDOW: usize = 999;

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A directory audit entry's actor and time, when it is a success.
fn from_directory_audit(entry: &Value, self_app: &str) -> Option<ChangedBy> {
    if !text(entry, "/result").is_some_and(|r| r.eq_ignore_ascii_case("success")) {
        return None;
    }
    let app_id = text(entry, "/initiatedBy/app/appId");
    let actor = match text(entry, "/initiatedBy/user/userPrincipalName") {
        Some(upn) => upn.to_string(),
        None => {
            let name = text(entry, "/initiatedBy/app/displayName").unwrap_or("an application");
            match app_id {
                Some(id) => format!("{name} (app {id})"),
                None => name.to_string(),
            }
        }
    };
    Some(ChangedBy {
        actor,
        is_self: app_id.is_some_and(|id| id.eq_ignore_ascii_case(self_app)),
        at: text(entry, "/activityDateTime")?.to_string(),
        activity: text(entry, "/activityDisplayName")
            .unwrap_or_default()
            .to_string(),
    })
}

/// An Intune audit event's actor and time, when it is a successful change (not a read).
fn from_intune_event(event: &Value, self_app: &str) -> Option<ChangedBy> {
    if !text(event, "/activityResult").is_some_and(|r| r.eq_ignore_ascii_case("success"))
        || text(event, "/activityOperationType").is_some_and(|o| o.eq_ignore_ascii_case("get"))
    {
        return None;
    }
    let app_id = text(event, "/actor/applicationId");
    let actor = match text(event, "/actor/userPrincipalName") {
        Some(upn) => upn.to_string(),
        None => {
            let name = text(event, "/actor/applicationDisplayName").unwrap_or("an application");
            match app_id {
                Some(id) => format!("{name} (app {id})"),
                None => name.to_string(),
            }
        }
    };
    let user = text(event, "/actor/userPrincipalName").is_some();
    Some(ChangedBy {
        actor,
        is_self: !user && app_id.is_some_and(|id| id.eq_ignore_ascii_case(self_app)),
        at: text(event, "/activityDateTime")?.to_string(),
        activity: text(event, "/activity").unwrap_or_default().to_string(),
    })
}

/// Why an audit log could not be read, in words for the report.
fn unreadable(error: &RequestError, intune: bool) -> String {
    match error.status() {
        Some(403) if intune => {
            "the app may not read Intune's audit events (grant DeviceManagementApps.Read.All)"
                .to_string()
        }
        Some(403) => "the app may not read the directory audit log (grant AuditLog.Read.All and Directory.Read.All)".to_string(),
        _ => format!("the audit log could not be read: {error}"),
    }
}

const NO_ENTRY: &str = "no entry in the audit log (Entra keeps 7 days on Free and 30 on P1/P2; a change can take minutes to appear)";

async fn get(
    client: &GraphClient,
    session: &TenantSession,
    label: &str,
    path: String,
    class: ThrottleClass,
    observer: &dyn Observer,
) -> Result<Vec<Value>, RequestError> {
    let request = Request::get(label, ApiVersion::V1, path, class);
    let response = client.send(session, &request, observer).await?;
    Ok(response
        .body
        .get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn wants_actor(item: &DriftItem) -> bool {
    matches!(
        item.state,
        DriftState::Modified { .. } | DriftState::Missing
    ) && item.object_id.is_some()
}

fn is_intune(item: &DriftItem) -> bool {
    crate::kinds::by_name(&item.kind).is_some_and(|k| k.throttle == ThrottleClass::Intune)
}

/// Fill in who last changed each modified or missing object.
pub async fn attribute(
    client: &GraphClient,
    session: &TenantSession,
    items: &mut [DriftItem],
    observer: &dyn Observer,
) {
    let self_app = session.client_id().to_string();
    let directory: Vec<usize> = (0..items.len())
        .filter(|i| wants_actor(&items[*i]) && !is_intune(&items[*i]))
        .collect();
    let intune: Vec<usize> = (0..items.len())
        .filter(|i| wants_actor(&items[*i]) && is_intune(&items[*i]))
        .collect();

    if directory.len() > PER_OBJECT_QUERIES {
        let path = format!(
            "/auditLogs/directoryAudits?$orderby={}&$top={WINDOW}",
            encode("activityDateTime desc")
        );
        match get(
            client,
            session,
            "audit:directory",
            path,
            ThrottleClass::Reports,
            observer,
        )
        .await
        {
            Ok(entries) => {
                for i in directory {
                    let id = items[i].object_id.clone().unwrap_or_default();
                    let found = entries
                        .iter()
                        .filter(|e| targets(e, "/targetResources", "id", &id))
                        .find_map(|e| from_directory_audit(e, &self_app));
                    set(&mut items[i], found.ok_or_else(|| NO_ENTRY.to_string()));
                }
            }
            Err(e) => {
                let why = unreadable(&e, false);
                for i in directory {
                    set(&mut items[i], Err(why.clone()));
                }
            }
        }
    } else {
        for i in directory {
            let log = Log::Directory;
            let result = newest_change(client, session, log, &items[i], &self_app, observer).await;
            set(&mut items[i], result);
        }
    }
    for i in intune {
        let result =
            newest_change(client, session, Log::Intune, &items[i], &self_app, observer).await;
        set(&mut items[i], result);
    }
}

/// Which audit log.
#[derive(Debug, Clone, Copy)]
enum Log {
    /// Entra's directory audit log.
    Directory,
    /// Intune's audit events.
    Intune,
}

/// One object's newest successful change in `log`, or why it is not known.
async fn newest_change(
    client: &GraphClient,
    session: &TenantSession,
    log: Log,
    item: &DriftItem,
    self_app: &str,
    observer: &dyn Observer,
) -> Result<ChangedBy, String> {
    let id = item
        .object_id
        .as_deref()
        .unwrap_or_default()
        .replace('\'', "''");
    let (root, filter, label, class) = match log {
        Log::Directory => (
            "/auditLogs/directoryAudits",
            format!("targetResources/any(t:t/id eq '{id}')"),
            "audit:directory",
            ThrottleClass::Reports,
        ),
        Log::Intune => (
            "/deviceManagement/auditEvents",
            format!("resources/any(r:r/resourceId eq '{id}') and activityOperationType ne 'Get'"),
            "audit:intune",
            ThrottleClass::Intune,
        ),
    };
    let path = format!(
        "{root}?$filter={}&$orderby={}&$top=50",
        encode(&filter),
        encode("activityDateTime desc")
    );
    let entries = get(client, session, label, path, class, observer)
        .await
        .map_err(|e| unreadable(&e, matches!(log, Log::Intune)))?;
    entries
        .iter()
        .find_map(|e| match log {
            Log::Directory => from_directory_audit(e, self_app),
            Log::Intune => from_intune_event(e, self_app),
        })
        .ok_or_else(|| NO_ENTRY.to_string())
}

/// True when an entry's target list (at `pointer`) names `id` under `property`.
fn targets(entry: &Value, pointer: &str, property: &str, id: &str) -> bool {
    entry
        .pointer(pointer)
        .and_then(Value::as_array)
        .is_some_and(|targets| {
            targets.iter().any(|t| {
                t.get(property)
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(id))
            })
        })
}

fn set(item: &mut DriftItem, result: Result<ChangedBy, String>) {
    match result {
        Ok(by) => item.changed_by = Some(by),
        Err(why) => item.changed_by_unknown = Some(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_portal_user_is_named_and_our_app_is_self() {
        let by_user = json!({
            "result": "success", "activityDateTime": "2026-12-06T02:00:00Z",
            "activityDisplayName": "Update Conditional Access policy",
            "initiatedBy": {"user": {"userPrincipalName": "night@contoso.example"}, "app": null}
        });
        let found = from_directory_audit(&by_user, "me").expect("entry");
        assert_eq!(found.actor, "night@contoso.example");
        assert!(!found.is_self);
        let by_us = json!({
            "result": "success", "activityDateTime": "2026-12-06T02:00:00Z",
            "activityDisplayName": "Add named location",
            "initiatedBy": {"user": null, "app": {"appId": "ME", "displayName": "tenantform"}}
        });
        let found = from_directory_audit(&by_us, "me").expect("entry");
        assert!(found.is_self);
        assert_eq!(found.actor, "tenantform (app ME)");
        let failed = json!({"result": "failure", "activityDateTime": "x"});
        assert_eq!(from_directory_audit(&failed, "me"), None);
    }

    #[test]
    fn intune_reads_are_not_changes() {
        let read = json!({"activityResult": "Success", "activityOperationType": "Get", "activityDateTime": "t"});
        assert_eq!(from_intune_event(&read, "me"), None);
        let patch = json!({
            "activityResult": "Success", "activityOperationType": "Patch", "activityDateTime": "t",
            "activity": "Patch DeviceCompliancePolicy",
            "actor": {"userPrincipalName": "admin@contoso.example", "applicationId": "portal"}
        });
        assert_eq!(
            from_intune_event(&patch, "me").map(|c| c.actor),
            Some("admin@contoso.example".to_string())
        );
    }
}
