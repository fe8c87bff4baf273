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

/// How long Graph may take to show a change in the audit logs (drift-facts.md 1.4: up to an
/// hour).
const INGESTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
/// The shortest retention of the directory audit log (Entra ID Free: 7 days).
const SHORTEST_RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// What to say when the audit log has no entry for an object, from when the object says it
/// last changed (`modified`, a Graph timestamp) and the time now: the log does not say *yet*
/// (a change within the last hour, not ingested), does not say *any more* (a change older than
/// the log keeps), or, not knowing when, either. Never a guess at who it was.
fn no_entry(modified: Option<&str>, now: jiff::Timestamp, intune: bool) -> String {
    let at = modified.and_then(|m| m.parse::<jiff::Timestamp>().ok());
    if intune {
        // Intune keeps its audit events a year: no entry is "not yet", or unknown.
        return match at {
            Some(at) if now.duration_since(at) < INGESTION => format!(
                "Intune's audit events do not say yet: the object changed at {at}, and events take minutes to appear; run drift again later"
            ),
            Some(at) => format!("Intune's audit events have no entry for the change at {at}"),
            None => "Intune's audit events have no entry for the object".to_string(),
        };
    }
    match at {
        Some(at) if now.duration_since(at) < INGESTION => format!(
            "the audit log does not say yet: the object changed at {at}, and entries take minutes, up to an hour, to appear; run drift again later"
        ),
        Some(at) if now.duration_since(at) >= SHORTEST_RETENTION => format!(
            "the audit log may not say any more: the object last changed at {at}, longer ago than Entra keeps entries on Free (7 days; 30 on P1/P2)"
        ),
        Some(at) => format!(
            "the audit log has no entry for the change at {at} (it keeps 7 days on Free, 30 on P1/P2)"
        ),
        None => "the audit log does not say (yet, or any more): no entry for the object; entries take up to an hour to appear, and Entra keeps them 7 days on Free, 30 on P1/P2".to_string(),
    }
}

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
                    let modified = items[i].live_modified.clone();
                    set(
                        &mut items[i],
                        found.ok_or_else(|| {
                            no_entry(modified.as_deref(), jiff::Timestamp::now(), false)
                        }),
                    );
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
        .ok_or_else(|| {
            no_entry(
                item.live_modified.as_deref(),
                jiff::Timestamp::now(),
                matches!(log, Log::Intune),
            )
        })
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
    fn no_entry_says_not_yet_not_any_more_or_either_and_never_guesses() {
        let now: jiff::Timestamp = "2026-12-06T12:00:00Z".parse().expect("time");
        let yet = no_entry(Some("2026-12-06T11:30:00Z"), now, false);
        assert!(yet.starts_with("the audit log does not say yet"), "{yet}");
        let gone = no_entry(Some("2026-11-20T12:00:00.123Z"), now, false);
        assert!(
            gone.starts_with("the audit log may not say any more"),
            "{gone}"
        );
        let between = no_entry(Some("2026-12-04T12:00:00Z"), now, false);
        assert!(
            between.starts_with("the audit log has no entry"),
            "{between}"
        );
        let unknown = no_entry(None, now, false);
        assert!(unknown.contains("yet, or any more"), "{unknown}");
        assert_eq!(no_entry(Some("not a time"), now, false), unknown);
        // Intune keeps a year: an old change is no "any more".
        let intune = no_entry(Some("2026-11-20T12:00:00Z"), now, true);
        assert!(
            intune.starts_with("Intune's audit events have no entry"),
            "{intune}"
        );
        assert!(no_entry(Some("2026-12-06T11:59:00Z"), now, true).contains("do not say yet"));
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
