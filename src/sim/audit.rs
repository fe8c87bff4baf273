//! The audit logs Graph keeps of every change (drift-facts.md sections 1, 2 and 6): each
//! successful write to a simulated tenant appends an entry, to the Entra directory audit log
//! (`GET /auditLogs/directoryAudits`) for Entra objects and to Intune's audit events
//! (`GET /deviceManagement/auditEvents`) for Intune objects, naming who made it (the app of the
//! token, or the user of a `/_sim` portal change) and what changed.
//!
//! Shapes follow Microsoft Learn's directoryAudit and auditEvent resources: Conditional Access
//! updates carry one `ConditionalAccessPolicy` modified property whose old and new values are
//! the whole policy as JSON strings; other updates carry each changed property as a JSON string
//! plus "Included Updated Properties". Reads are not logged (Intune logs them; tenantform never
//! asks for them, and a thousand tenants' reads would be most of the simulator's memory).
//! Reading the logs takes `AuditLog.Read.All` (directory) or `DeviceManagementApps.Read.All`
//! (Intune) and is paced as Graph's identity and access reports are: 5 requests per 10 s per app
//! and tenant (the throttle's `Reports` class).
//!
//! Input: a write's kind, the object before and after, the actor. Output: entries in the
//! tenant's state, and the replies of the two list routes (`$filter`, `$orderby`, `$top`,
//! `$skiptoken`).

use serde_json::{Map, Value, json};

use crate::kinds::{Kind, ThrottleClass};
use crate::sim::seeded;
use crate::sim::wire::{Reply, graph_timestamp};

/// Path of the Entra directory audit log (v1.0 and beta).
pub(crate) const DIRECTORY_AUDITS: &str = "/auditLogs/directoryAudits";
/// Path of Intune's audit events.
pub(crate) const INTUNE_AUDIT_EVENTS: &str = "/deviceManagement/auditEvents";
/// Permissions the directory audit log needs (both, as the permissions table lists them).
pub(crate) const DIRECTORY_AUDIT_PERMISSIONS: &[&str] =
    &["AuditLog.Read.All", "Directory.Read.All"];
/// Permission Intune's audit events need (either of these).
pub(crate) const INTUNE_AUDIT_PERMISSIONS: &[&str] = &[
    "DeviceManagementApps.Read.All",
    "DeviceManagementApps.ReadWrite.All",
];
/// Largest `$top` the audit logs accept.
const MAX_TOP: usize = 1000;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    /// An application with a client-credential token.
    App {
        /// Its app (client) id.
        app_id: String,
        /// Its service principal in the tenant.
        service_principal_id: String,
    },
    /// A person, e.g. an administrator in the portal.
    User {
        /// Object id.
        id: String,
        /// Sign-in name.
        user_principal_name: String,
        /// Display name.
        display_name: String,
    },
}

/// Display name of the simulator's app registration in audit entries.
const APP_DISPLAY_NAME: &str = "tenantform-sim app";

impl Actor {
    fn initiated_by(&self) -> Value {
        match self {
            Actor::App {
                app_id,
                service_principal_id,
            } => json!({
                "app": {
                    "appId": app_id,
                    "displayName": APP_DISPLAY_NAME,
                    "servicePrincipalId": service_principal_id,
                    "servicePrincipalName": APP_DISPLAY_NAME,
                },
                "user": null,
            }),
            Actor::User {
                id,
                user_principal_name,
                display_name,
            } => json!({
                "app": null,
                "user": {
                    "id": id,
                    "displayName": display_name,
                    "userPrincipalName": user_principal_name,
                    "ipAddress": "203.0.113.10",
                },
            }),
        }
    }

    fn intune_actor(&self) -> Value {
        match self {
            Actor::App { app_id, .. } => json!({
                "auditActorType": "Application",
                "userPermissions": [],
                "applicationId": app_id,
                "applicationDisplayName": APP_DISPLAY_NAME,
                "userPrincipalName": null,
                "servicePrincipalName": APP_DISPLAY_NAME,
                "ipAddress": null,
                "userId": null,
            }),
            Actor::User {
                id,
                user_principal_name,
                ..
            } => json!({
                "auditActorType": "ItPro",
                "userPermissions": ["*"],
                "applicationId": "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
                "applicationDisplayName": "Microsoft Intune portal extension",
                "userPrincipalName": user_principal_name,
                "servicePrincipalName": null,
                "ipAddress": "203.0.113.10",
                "userId": id,
            }),
        }
    }
}

/// What a write did to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Created.
    Add,
    /// Changed.
    Update,
    /// Deleted.
    Delete,
    /// Assignments replaced (Intune `/assign`).
    Assign,
}

/// One logged change, kept compact (a thousand tenants' deploys are tens of thousands of
/// entries): the objects packed, the entry's JSON built when it is read.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Wall-clock milliseconds of the change.
    pub(crate) at_ms: i64,
    /// The object's id.
    pub(crate) target_id: Box<str>,
    /// True for an Intune audit event, false for a directory audit.
    pub(crate) intune: bool,
    kind: &'static Kind,
    operation: Operation,
    actor: std::sync::Arc<Actor>,
    sequence: usize,
    seed: u64,
    tenant_id: Box<str>,
    before: Option<Box<[u8]>>,
    after: Option<Box<[u8]>>,
}

impl Entry {
    /// The entry as Graph returns it.
    pub(crate) fn value(&self) -> Value {
        let unpack = |packed: &Option<Box<[u8]>>| {
            packed
                .as_deref()
                .and_then(|p| serde_json::from_str::<Value>(&crate::sim::packed::unpack(p)).ok())
        };
        let (before, after) = (unpack(&self.before), unpack(&self.after));
        render(
            &Change {
                kind: self.kind,
                operation: self.operation,
                before: before.as_ref(),
                after: after.as_ref(),
                actor: &self.actor,
                tenant_id: &self.tenant_id,
                sequence: self.sequence,
                now_ms: self.at_ms,
                seed: self.seed,
            },
            &self.target_id,
        )
    }
}

/// A change to record.
pub(crate) struct Change<'a> {
    /// The kind of the object.
    pub(crate) kind: &'static Kind,
    /// What happened.
    pub(crate) operation: Operation,
    /// The object before (none for a create).
    pub(crate) before: Option<&'a Value>,
    /// The object after (none for a delete).
    pub(crate) after: Option<&'a Value>,
    /// Who did it.
    pub(crate) actor: &'a Actor,
    /// The tenant's id (entry ids are derived from it).
    pub(crate) tenant_id: &'a str,
    /// How many entries the tenant has logged so far.
    pub(crate) sequence: usize,
    /// Wall-clock milliseconds.
    pub(crate) now_ms: i64,
    /// The simulator's seed.
    pub(crate) seed: u64,
}

/// Service, category and activity name of a change to a kind (drift-facts.md section 1.5).
fn directory_activity(kind: &Kind, operation: Operation) -> (&'static str, &'static str, String) {
    let verb = match operation {
        Operation::Add => "Add",
        Operation::Update | Operation::Assign => "Update",
        Operation::Delete => "Delete",
    };
    match kind.name {
        "conditionalAccessPolicy" => (
            "Conditional Access",
            "Policy",
            format!("{verb} Conditional Access policy"),
        ),
        "namedLocation" => (
            "Conditional Access",
            "Policy",
            format!("{verb} named location"),
        ),
        "group" => ("Core Directory", "GroupManagement", format!("{verb} group")),
        "authorizationPolicy" => (
            "Core Directory",
            "AuthorizationPolicy",
            "Update authorization policy".to_string(),
        ),
        name if name.starts_with("authenticationMethod") => (
            "Authentication Methods",
            "ApplicationManagement",
            "Authentication Methods Policy Update".to_string(),
        ),
        name if name.starts_with("crossTenantAccessPolicy") => (
            "Core Directory",
            "CrossTenantAccessSettings",
            match operation {
                Operation::Add => "Add a partner to cross-tenant access setting".to_string(),
                Operation::Delete => {
                    "Delete partner specific cross-tenant access setting".to_string()
                }
                Operation::Update | Operation::Assign => {
                    "Update a partner cross-tenant access setting".to_string()
                }
            },
        ),
        _ => ("Core Directory", "Policy", format!("{verb} policy")),
    }
}

fn target_type(kind: &Kind) -> &'static str {
    match kind.name {
        "group" => "Group",
        _ => "Policy",
    }
}

fn object_id(value: Option<&Value>) -> Option<String> {
    let value = value?;
    ["id", "tenantId"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn display_name(before: Option<&Value>, after: Option<&Value>) -> Value {
    after
        .or(before)
        .and_then(|v| v.get("displayName"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Properties whose values differ between `before` and `after` (top level, sorted), server
/// timestamps aside.
fn changed_properties(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let empty = Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut names: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| {
            !matches!(
                k.as_str(),
                "modifiedDateTime" | "lastModifiedDateTime" | "version"
            )
        })
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// A JSON value as the audit log writes it: a string holding JSON (`null` when absent).
fn as_json_string(value: Option<&Value>) -> Value {
    match value {
        Some(v) => Value::String(v.to_string()),
        None => Value::String("null".into()),
    }
}

fn modified_properties(kind: &Kind, before: Option<&Value>, after: Option<&Value>) -> Vec<Value> {
    if kind.name == "conditionalAccessPolicy" {
        return vec![json!({
            "displayName": "ConditionalAccessPolicy",
            "oldValue": as_json_string(before),
            "newValue": as_json_string(after),
        })];
    }
    let changed = changed_properties(before, after);
    let mut out: Vec<Value> = changed
        .iter()
        .map(|name| {
            json!({
                "displayName": name,
                "oldValue": as_json_string(before.and_then(|b| b.get(name))),
                "newValue": as_json_string(after.and_then(|a| a.get(name))),
            })
        })
        .collect();
    if !changed.is_empty() {
        out.push(json!({
            "displayName": "Included Updated Properties",
            "oldValue": null,
            "newValue": Value::String(format!("\"{}\"", changed.join(", "))),
        }));
    }
    out
}

/// The entry for a change, or `None` when the change has no object to name.
pub(crate) fn entry(change: &Change<'_>) -> Option<Entry> {
    let target_id = object_id(change.after).or_else(|| object_id(change.before))?;
    Some(Entry {
        at_ms: change.now_ms,
        target_id: target_id.into(),
        intune: change.kind.throttle == ThrottleClass::Intune,
        kind: change.kind,
        operation: change.operation,
        actor: std::sync::Arc::new(change.actor.clone()),
        sequence: change.sequence,
        seed: change.seed,
        tenant_id: change.tenant_id.into(),
        before: change.before.map(crate::sim::packed::pack),
        after: change.after.map(crate::sim::packed::pack),
    })
}

/// The JSON of an entry.
fn render(change: &Change<'_>, target_id: &str) -> Value {
    let intune = change.kind.throttle == ThrottleClass::Intune;
    let id_seed = format!("{}/audit/{}", change.tenant_id, change.sequence);
    let correlation = seeded::guid(change.seed, &format!("{id_seed}/correlation"));
    let at = graph_timestamp(change.now_ms);
    if intune {
        let verb = match change.operation {
            Operation::Add => "Create",
            Operation::Update => "Patch",
            Operation::Delete => "Delete",
            Operation::Assign => "Action",
        };
        let type_name = {
            let mut t = change.kind.schema.root_type.to_string();
            if let Some(first) = t.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            t
        };
        let activity = match change.operation {
            Operation::Assign => format!("assign {type_name}"),
            _ => format!("{verb} {type_name}"),
        };
        json!({
            "id": seeded::guid(change.seed, &id_seed),
            "displayName": format!("{activity} {}", display_name(change.before, change.after).as_str().unwrap_or_default()),
            "componentName": "DeviceConfiguration",
            "actor": change.actor.intune_actor(),
            "activity": activity,
            "activityDateTime": at,
            "activityType": format!("{verb} {type_name}"),
            "activityOperationType": verb,
            "activityResult": "Success",
            "correlationId": correlation,
            "category": "DeviceConfiguration",
            "resources": [{
                "displayName": display_name(change.before, change.after),
                "auditResourceType": type_name,
                "resourceId": target_id,
                "modifiedProperties": modified_properties(change.kind, change.before, change.after),
            }],
        })
    } else {
        let (service, category, activity) = directory_activity(change.kind, change.operation);
        let operation_type = match change.operation {
            Operation::Add => "Add",
            Operation::Update | Operation::Assign => "Update",
            Operation::Delete => "Delete",
        };
        let prefix = if service == "Core Directory" {
            "Directory"
        } else {
            "IPCGraph"
        };
        json!({
            "id": format!("{prefix}_{correlation}_{}", change.sequence),
            "category": category,
            "correlationId": correlation,
            "result": "success",
            "resultReason": "",
            "activityDisplayName": activity,
            "activityDateTime": at,
            "loggedByService": service,
            "operationType": operation_type,
            "initiatedBy": change.actor.initiated_by(),
            "targetResources": [{
                "id": target_id,
                "displayName": display_name(change.before, change.after),
                "type": target_type(change.kind),
                "userPrincipalName": null,
                "groupType": null,
                "modifiedProperties": modified_properties(change.kind, change.before, change.after),
            }],
            "additionalDetails": [],
        })
    }
}

/// One comparison of a `$filter` on an audit log.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// `targetResources/any(t:t/id eq 'X')` or `resources/any(r:r/resourceId eq 'X')`.
    Target(String),
    /// `activityDateTime ge|le|eq T` (milliseconds, and the operator).
    Time(&'static str, i64),
    /// A string property (a `/`-path) `eq` a value, or `startswith(path,'v')`.
    Text {
        path: Vec<String>,
        value: String,
        prefix: bool,
    },
    /// `activityOperationType ne 'Get'` and the like.
    NotEqual { path: Vec<String>, value: String },
}

fn quoted(text: &str) -> Option<String> {
    let text = text.trim();
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('\'');
    let ts: jiff::Timestamp = text.parse().ok()?;
    Some(ts.as_millisecond())
}

fn parse_condition(text: &str, intune: bool) -> Option<Condition> {
    let text = text.trim();
    let lambda = if intune {
        "resources/any("
    } else {
        "targetResources/any("
    };
    if let Some(rest) = text.strip_prefix(lambda) {
        let body = rest.strip_suffix(')')?;
        let (var, predicate) = body.split_once(':')?;
        let property = if intune { "resourceId" } else { "id" };
        let (lhs, rhs) = predicate.split_once(" eq ")?;
        if lhs.trim() != format!("{}/{property}", var.trim()) {
            return None;
        }
        return quoted(rhs).map(Condition::Target);
    }
    if let Some(rest) = text.strip_prefix("startswith(") {
        let (path, value) = rest.strip_suffix(')')?.split_once(',')?;
        return Some(Condition::Text {
            path: path.trim().split('/').map(str::to_string).collect(),
            value: quoted(value)?,
            prefix: true,
        });
    }
    let mut parts = text.splitn(3, ' ');
    let (lhs, op, rhs) = (parts.next()?, parts.next()?, parts.next()?);
    if lhs == "activityDateTime" {
        let op = match op {
            "ge" => "ge",
            "le" => "le",
            "gt" => "gt",
            "lt" => "lt",
            "eq" => "eq",
            _ => return None,
        };
        return parse_time(rhs).map(|ms| Condition::Time(op, ms));
    }
    let path: Vec<String> = lhs.split('/').map(str::to_string).collect();
    let value = quoted(rhs)?;
    match op {
        "eq" => Some(Condition::Text {
            path,
            value,
            prefix: false,
        }),
        "ne" => Some(Condition::NotEqual { path, value }),
        _ => None,
    }
}

/// A `$filter`: conditions joined by `and`; `None` when Graph would not accept it.
fn parse_filter(filter: &str, intune: bool) -> Option<Vec<Condition>> {
    filter
        .split(" and ")
        .map(|c| parse_condition(c, intune))
        .collect()
}

fn text_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, segment| v.get(segment))
        .and_then(Value::as_str)
}

fn matches(entry: &Entry, conditions: &[Condition]) -> bool {
    let mut value: Option<Value> = None;
    let mut text_at_entry = |path: &[String]| -> Option<String> {
        let value = value.get_or_insert_with(|| entry.value());
        text_at(value, path).map(str::to_string)
    };
    conditions.iter().all(|c| match c {
        Condition::Target(id) => entry.target_id.eq_ignore_ascii_case(id),
        Condition::Time(op, ms) => match *op {
            "ge" => entry.at_ms >= *ms,
            "le" => entry.at_ms <= *ms,
            "gt" => entry.at_ms > *ms,
            "lt" => entry.at_ms < *ms,
            _ => entry.at_ms == *ms,
        },
        Condition::Text {
            path,
            value,
            prefix,
        } => text_at_entry(path).is_some_and(|have| {
            if *prefix {
                have.to_ascii_lowercase()
                    .starts_with(&value.to_ascii_lowercase())
            } else {
                have.eq_ignore_ascii_case(value)
            }
        }),
        Condition::NotEqual { path, value } => {
            text_at_entry(path).is_none_or(|have| !have.eq_ignore_ascii_case(value))
        }
    })
}

/// The query options an audit list takes.
#[derive(Debug, Default)]
struct ListQuery {
    filter: Option<String>,
    descending: bool,
    top: Option<usize>,
    skip: usize,
}

fn parse_query(query: &str) -> Result<ListQuery, Reply> {
    let mut out = ListQuery::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "$filter" => out.filter = Some(value.into_owned()),
            "$orderby" => match value.trim() {
                "activityDateTime desc" => out.descending = true,
                "activityDateTime" | "activityDateTime asc" => out.descending = false,
                other => {
                    return Err(Reply::error(
                        400,
                        "BadRequest",
                        format!(
                            "Invalid $orderby: '{other}' is not supported; order by activityDateTime."
                        ),
                    ));
                }
            },
            "$top" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_TOP).contains(&n) => out.top = Some(n),
                _ => {
                    return Err(Reply::error(
                        400,
                        "BadRequest",
                        format!("Invalid $top value '{value}': expected 1 to {MAX_TOP}."),
                    ));
                }
            },
            "$skiptoken" => {
                out.skip = value.parse().map_err(|_| {
                    Reply::error(400, "BadRequest", "Invalid $skiptoken.".to_string())
                })?;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Which entries a read sees (drift-facts.md section 6.2): an entry appears `delay_ms` after
/// its change (ingestion) and is gone `retention_ms` after it (the licence's retention).
/// Milliseconds of the simulator's wall clock, already divided by its time scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Now.
    pub(crate) now_ms: i64,
    /// Ingestion delay.
    pub(crate) delay_ms: i64,
    /// Retention.
    pub(crate) retention_ms: i64,
}

impl Window {
    /// Every entry, at once and forever (unit tests).
    #[cfg(test)]
    pub(crate) const ALL: Window = Window {
        now_ms: i64::MAX / 4,
        delay_ms: 0,
        retention_ms: i64::MAX / 2,
    };

    /// Logged, but not readable yet.
    fn pending(&self, entry: &Entry) -> bool {
        self.now_ms < entry.at_ms.saturating_add(self.delay_ms)
    }

    /// Past the retention: gone for good.
    pub(crate) fn expired(&self, entry: &Entry) -> bool {
        self.now_ms >= entry.at_ms.saturating_add(self.retention_ms)
    }

    fn visible(&self, entry: &Entry) -> bool {
        !self.pending(entry) && !self.expired(entry)
    }
}

/// Answer a list of one of the tenant's audit logs (`intune` picks Intune's), as of `window`.
pub(crate) fn list(
    entries: &[Entry],
    intune: bool,
    query: &str,
    next_base: &str,
    window: &Window,
) -> Reply {
    let options = match parse_query(query) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let conditions = match options.filter.as_deref() {
        None => Vec::new(),
        Some(filter) => match parse_filter(filter, intune) {
            Some(conditions) => conditions,
            None => {
                return Reply::error(
                    400,
                    "BadRequest",
                    format!("Invalid filter clause: '{filter}' is not supported on this resource."),
                );
            }
        },
    };
    let mut found: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.intune == intune && window.visible(e) && matches(e, &conditions))
        .collect();
    // Graph's default order is undocumented; newest first is what collectors see.
    found.sort_by_key(|e| e.at_ms);
    if options.descending || query.is_empty() || !query.contains("$orderby") {
        found.reverse();
    }
    let top = options.top.unwrap_or(MAX_TOP);
    let page: Vec<Value> = found
        .iter()
        .skip(options.skip)
        .take(top)
        .map(|e| e.value())
        .collect();
    let mut body = Map::new();
    let context = if intune {
        "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/auditEvents"
    } else {
        "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits"
    };
    body.insert("@odata.context".into(), Value::String(context.into()));
    if options.skip + top < found.len() {
        let mut next: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        next.push(("$skiptoken".into(), (options.skip + top).to_string()));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(next)
            .finish();
        body.insert(
            "@odata.nextLink".into(),
            Value::String(format!("{next_base}?{encoded}")),
        );
    }
    body.insert("value".into(), Value::Array(page));
    Reply::json(200, Value::Object(body).to_string())
}

/// One entry by id, as of `window`.
pub(crate) fn get(entries: &[Entry], intune: bool, id: &str, window: &Window) -> Reply {
    match entries
        .iter()
        .filter(|e| e.intune == intune && window.visible(e))
        .map(Entry::value)
        .find(|v| v.get("id").and_then(Value::as_str) == Some(id))
    {
        Some(value) => Reply::json(200, value.to_string()),
        None => Reply::error(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> &'static Kind {
        crate::kinds::by_name("conditionalAccessPolicy").expect("kind")
    }

    fn app() -> Actor {
        Actor::App {
            app_id: "app-1".into(),
            service_principal_id: "sp-1".into(),
        }
    }

    fn change<'a>(
        kind: &'static Kind,
        operation: Operation,
        before: Option<&'a Value>,
        after: Option<&'a Value>,
        actor: &'a Actor,
        sequence: usize,
        now_ms: i64,
    ) -> Entry {
        entry(&Change {
            kind,
            operation,
            before,
            after,
            actor,
            tenant_id: "t",
            sequence,
            now_ms,
            seed: 1,
        })
        .expect("entry")
    }

    #[test]
    fn a_conditional_access_update_logs_the_whole_policy_as_json_strings() {
        let before = json!({"id": "p1", "displayName": "Block", "state": "enabled"});
        let after = json!({"id": "p1", "displayName": "Block", "state": "disabled"});
        let e = change(
            ca(),
            Operation::Update,
            Some(&before),
            Some(&after),
            &app(),
            0,
            0,
        );
        assert_eq!(
            e.value()["activityDisplayName"],
            "Update Conditional Access policy"
        );
        assert_eq!(e.value()["loggedByService"], "Conditional Access");
        let property = &e.value()["targetResources"][0]["modifiedProperties"][0];
        assert_eq!(property["displayName"], "ConditionalAccessPolicy");
        let new: Value =
            serde_json::from_str(property["newValue"].as_str().expect("string")).expect("json");
        assert_eq!(new["state"], "disabled");
        assert_eq!(e.value()["initiatedBy"]["app"]["appId"], "app-1");
        assert!(e.value()["initiatedBy"]["user"].is_null());
    }

    #[test]
    fn other_updates_list_each_changed_property_and_the_included_ones() {
        let kind = crate::kinds::by_name("namedLocation").expect("kind");
        let before = json!({"id": "n1", "displayName": "A", "isTrusted": false});
        let after = json!({"id": "n1", "displayName": "A", "isTrusted": true});
        let e = change(
            kind,
            Operation::Update,
            Some(&before),
            Some(&after),
            &app(),
            0,
            0,
        );
        let value = e.value();
        let properties = value["targetResources"][0]["modifiedProperties"]
            .as_array()
            .expect("array");
        assert_eq!(properties[0]["displayName"], "isTrusted");
        assert_eq!(properties[0]["newValue"], "true");
        assert_eq!(properties[1]["displayName"], "Included Updated Properties");
    }

    #[test]
    fn filters_by_target_and_time_newest_first_with_paging() {
        let actor = app();
        let a = json!({"id": "a", "displayName": "A"});
        let b = json!({"id": "b", "displayName": "B"});
        let entries = vec![
            change(ca(), Operation::Add, None, Some(&a), &actor, 0, 1_000),
            change(ca(), Operation::Add, None, Some(&b), &actor, 1, 2_000),
            change(
                ca(),
                Operation::Update,
                Some(&a),
                Some(&a),
                &actor,
                2,
                3_000,
            ),
        ];
        let reply = list(
            &entries,
            false,
            "$filter=targetResources/any(t:t/id eq 'a')&$orderby=activityDateTime desc&$top=1",
            "http://x/v1.0/auditLogs/directoryAudits",
            &Window::ALL,
        );
        let crate::sim::wire::ReplyBody::Json(text) = &reply.body else {
            panic!("json");
        };
        let body: Value = serde_json::from_str(text).expect("json");
        assert_eq!(body["value"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["value"][0]["operationType"], "Update");
        assert!(
            body["@odata.nextLink"]
                .as_str()
                .is_some_and(|l| l.contains("%24skiptoken=1")),
            "{body}"
        );
        let bad = list(
            &entries,
            false,
            "$filter=foo gt 3",
            "http://x",
            &Window::ALL,
        );
        assert_eq!(bad.status, 400);
        // Entries logged at 1, 2 and 3 s, read with a 1 s ingestion delay and a 5 s retention.
        let count = |now_ms: i64| {
            let window = Window {
                now_ms,
                delay_ms: 1_000,
                retention_ms: 5_000,
            };
            let reply = list(&entries, false, "", "http://x", &window);
            let crate::sim::wire::ReplyBody::Json(text) = &reply.body else {
                panic!("json");
            };
            serde_json::from_str::<Value>(text).expect("json")["value"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert_eq!(count(1_999), 0, "neither is ingested yet");
        assert_eq!(count(2_000), 1, "the first appears after the delay");
        assert_eq!(count(4_000), 3);
        assert_eq!(count(6_000), 2, "the first is past its retention");
        assert_eq!(count(8_000), 0);
    }

    #[test]
    fn intune_changes_go_to_audit_events_with_a_portal_actor() {
        let kind = crate::kinds::by_name("deviceCompliancePolicy").expect("kind");
        let admin = Actor::User {
            id: "u1".into(),
            user_principal_name: "admin@contoso.example".into(),
            display_name: "Admin".into(),
        };
        let after = json!({"id": "c1", "displayName": "Win"});
        let e = change(
            kind,
            Operation::Update,
            Some(&after),
            Some(&after),
            &admin,
            0,
            0,
        );
        assert!(e.intune);
        assert_eq!(e.value()["actor"]["auditActorType"], "ItPro");
        assert_eq!(
            e.value()["actor"]["userPrincipalName"],
            "admin@contoso.example"
        );
        assert_eq!(e.value()["resources"][0]["resourceId"], "c1");
    }
}
