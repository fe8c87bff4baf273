//! `sync test`: provision one user of a link's source on demand and say what the service did,
//! step by step. Reads the link's configuration app and job in the source (as `sync status`
//! finds them), the user by UPN, the job's schema for the user rule's id (the rule comes from
//! the schema, never from the user), then `POST …/jobs/{job}/provisionOnDemand` and decodes
//! its answer (a `stringKeyStringValuePair` whose `key` and `value` are JSON strings: the
//! result, and the report with its `provisioningSteps`).
//!
//! Input: the fleet, a link name, a UPN, a Graph client. Output: an [`OnDemandReport`] or an
//! [`OnDemandError`] that says what is missing.

use serde::Serialize;
use serde_json::{Value, json};

use crate::deploy::Fleet;
use crate::graph::client::{Body, GraphClient, Observer, Request, RequestError, TenantSession};
use crate::kinds::{ApiVersion, ThrottleClass};

/// Why a link could not be tested.
#[derive(Debug, thiserror::Error)]
pub enum OnDemandError {
    /// The project has no link by that name.
    #[error("the project has no link {0} (links: {1})")]
    UnknownLink(String, String),
    /// The link's ends are not tenants of the project, or have no credentials.
    #[error("source tenant {0}: {1}")]
    Session(String, String),
    /// The configuration app or its job is not in the source.
    #[error(
        "link {0} is not set up in its source tenant ({1}); run tenantform deploy with both ends selected"
    )]
    NotSetUp(String, &'static str),
    /// The user is not in the source tenant.
    #[error("no user {upn} in the source tenant {tenant} (the link's users come from its source)")]
    UserNotFound {
        /// The UPN asked for.
        upn: String,
        /// The source tenant.
        tenant: String,
    },
    /// The job's schema has no rule from users to users.
    #[error("the job's schema has no user rule (User to User); redeploy the link")]
    NoUserRule,
    /// Graph refused or could not be reached.
    #[error("{0}")]
    Request(#[from] RequestError),
    /// Graph answered something that is not the documented shape.
    #[error("unexpected answer from provisionOnDemand: {0}")]
    Unexpected(String),
}

/// One step the provisioning service reports.
#[derive(Debug, Clone, Serialize)]
pub struct OnDemandStep {
    /// `EntryImport`, `EntrySynchronizationScoping`, `EntryExportAdd`, ...
    pub name: String,
    /// `Import`, `Scoping`, `Matching`, `Export`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Success`, `Skipped`, `Failure`, `Warning`.
    pub status: String,
    /// What it did, in the service's words.
    pub description: String,
}

/// What provisioning one user on demand did.
#[derive(Debug, Clone, Serialize)]
pub struct OnDemandReport {
    /// The link.
    pub link: String,
    /// The user's UPN.
    pub user: String,
    /// The source tenant id.
    pub source: String,
    /// The rule the service applied (from the job's schema).
    pub rule: String,
    /// `Success`, `Skipped` or `Failure`.
    pub result: String,
    /// The service's error code (`NotEffectivelyEntitled`, `RedundantExport`, ...).
    pub error_code: Option<String>,
    /// The service's reason.
    pub error_message: Option<String>,
    /// Each step, in order.
    pub steps: Vec<OnDemandStep>,
    /// Attributes written: name, old value, new value.
    pub modified: Vec<(String, Value, Value)>,
    /// The user's id in the target, when it has one.
    pub target_user: Option<String>,
}

impl OnDemandReport {
    /// True when the user is in the target as the link wants it (created, updated, or already
    /// matching).
    pub fn provisioned(&self) -> bool {
        self.result == "Success"
            || (self.result == "Skipped" && self.error_code.as_deref() == Some("RedundantExport"))
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The id of the schema's rule that provisions users into users.
pub fn user_rule(schema: &Value) -> Option<String> {
    schema["synchronizationRules"]
        .as_array()?
        .iter()
        .find(|rule| {
            rule["objectMappings"].as_array().is_some_and(|maps| {
                maps.iter()
                    .any(|m| m["sourceObjectName"] == "User" && m["targetObjectName"] == "User")
            })
        })
        .and_then(|rule| rule["id"].as_str().map(str::to_string))
}

/// Decode provisionOnDemand's answer (`key`: the result; `value`: the report).
pub fn decode(answer: &Value) -> Result<OnDemandReport, OnDemandError> {
    let parse = |field: &str| -> Result<Value, OnDemandError> {
        let text = answer[field]
            .as_str()
            .ok_or_else(|| OnDemandError::Unexpected(format!("no {field} string")))?;
        serde_json::from_str(text)
            .map_err(|e| OnDemandError::Unexpected(format!("{field} is not JSON: {e}")))
    };
    let key = parse("key")?;
    let value = parse("value")?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let steps = value["provisioningSteps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| OnDemandStep {
                    name: text(&s["name"]).unwrap_or_default(),
                    kind: text(&s["type"]).unwrap_or_default(),
                    status: text(&s["status"]).unwrap_or_default(),
                    description: text(&s["description"]).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let modified = value["modifiedProperties"]
        .as_array()
        .map(|props| {
            props
                .iter()
                .map(|p| {
                    (
                        text(&p["displayName"]).unwrap_or_default(),
                        p["oldValue"].clone(),
                        p["newValue"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(OnDemandReport {
        link: String::new(),
        user: text(&value["reportableIdentifier"]).unwrap_or_default(),
        source: String::new(),
        rule: String::new(),
        result: text(&key["result"])
            .or_else(|| text(&value["statusInfo"]["status"]))
            .unwrap_or_else(|| "unknown".into()),
        error_code: text(&key["details"]["errorCode"]),
        error_message: text(&key["details"]["errorMessage"]),
        steps,
        modified,
        target_user: text(&value["targetIdentity"]["id"]),
    })
}

async fn call(
    client: &GraphClient,
    session: &TenantSession,
    method: &'static str,
    path: String,
    body: Option<&Value>,
    observer: &dyn Observer,
) -> Result<Value, RequestError> {
    let request = Request {
        label: "sync-test".into(),
        method,
        version: ApiVersion::V1,
        path,
        body: body.map(Body::new),
        prefer: None,
        class: ThrottleClass::Identity,
        // Provisioning one user twice is what the service does on a re-run anyway.
        idempotent: true,
        references_new_object: false,
        lean: false,
        id_only: false,
        keep_items: None,
    };
    client
        .send(session, &request, observer)
        .await
        .map(|r| r.body)
}

/// Provision `upn` of link `name`'s source on demand.
pub async fn provision_on_demand(
    client: &GraphClient,
    fleet: &Fleet,
    name: &str,
    upn: &str,
    observer: &dyn Observer,
) -> Result<OnDemandReport, OnDemandError> {
    let project = &fleet.project;
    let Some(link) = project.links.iter().find(|l| l.name == name) else {
        let names: Vec<&str> = project.links.iter().map(|l| l.name.as_str()).collect();
        return Err(OnDemandError::UnknownLink(
            name.to_string(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        ));
    };
    let Some((source, _)) = crate::source::links::ends(project, link) else {
        return Err(OnDemandError::Session(
            name.to_string(),
            "the link's ends are not tenants of the project".into(),
        ));
    };
    let source = source.id.value;
    let session = crate::sync::session_for(fleet, &source)
        .map_err(|e| OnDemandError::Session(source.clone(), e))?;
    let found = super::status::app_and_job(client, &session, &link.configuration_name(), observer)
        .await
        .map_err(|e| OnDemandError::Session(source.clone(), e))?;
    let (sp, job) = match found {
        None => return Err(OnDemandError::NotSetUp(name.into(), "no configuration app")),
        Some((_, None)) => return Err(OnDemandError::NotSetUp(name.into(), "no job")),
        Some((sp, Some(job))) => (sp, job),
    };
    let job_id = job["id"]
        .as_str()
        .ok_or_else(|| OnDemandError::Unexpected("the job has no id".into()))?
        .to_string();
    let user = match call(
        client,
        &session,
        "GET",
        format!("/users/{}?$select=id,userPrincipalName", encode(upn)),
        None,
        observer,
    )
    .await
    {
        Ok(user) => user,
        Err(e) if e.status() == Some(404) => {
            return Err(OnDemandError::UserNotFound {
                upn: upn.to_string(),
                tenant: source,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let user_id = user["id"]
        .as_str()
        .ok_or_else(|| OnDemandError::Unexpected("the user has no id".into()))?
        .to_string();
    let jobs = format!("/servicePrincipals/{sp}/synchronization/jobs/{job_id}");
    let schema = call(
        client,
        &session,
        "GET",
        format!("{jobs}/schema"),
        None,
        observer,
    )
    .await?;
    let rule = user_rule(&schema).ok_or(OnDemandError::NoUserRule)?;
    let body = json!({"parameters": [{"ruleId": rule, "subjects": [{"objectId": user_id, "objectTypeName": "User"}]}]});
    let answer = call(
        client,
        &session,
        "POST",
        format!("{jobs}/provisionOnDemand"),
        Some(&body),
        observer,
    )
    .await?;
    let mut report = decode(&answer)?;
    report.link = name.to_string();
    report.user = upn.to_string();
    report.source = source;
    report.rule = rule;
    Ok(report)
}

/// The report for people: each step on its line, the attributes written, the result.
pub fn report_text(report: &OnDemandReport) -> String {
    let mut text = format!(
        "sync test {}: {} from source tenant {} (rule {})\n",
        report.link, report.user, report.source, report.rule
    );
    for (i, step) in report.steps.iter().enumerate() {
        text.push_str(&format!(
            "  {}. {} ({}): {}: {}\n",
            i + 1,
            step.name,
            step.kind,
            step.status,
            step.description
        ));
    }
    for (name, old, new) in &report.modified {
        text.push_str(&format!("     {name}: {old} -> {new}\n"));
    }
    text.push_str(&format!("result: {}", report.result));
    if let Some(code) = &report.error_code {
        text.push_str(&format!(" ({code}"));
        if let Some(message) = &report.error_message {
            text.push_str(&format!(": {message}"));
        }
        text.push(')');
    }
    if let Some(id) = report
        .target_user
        .as_deref()
        .filter(|_| report.provisioned())
    {
        text.push_str(&format!("; the user is {id} in the target"));
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_comes_from_the_schema_s_user_mapping() {
        let schema = json!({"synchronizationRules": [
            {"id": "GROUPS", "objectMappings": [{"sourceObjectName": "Group", "targetObjectName": "Group"}]},
            {"id": "rule-7", "objectMappings": [{"sourceObjectName": "User", "targetObjectName": "User"}]}
        ]});
        assert_eq!(user_rule(&schema).as_deref(), Some("rule-7"));
        assert_eq!(user_rule(&json!({"synchronizationRules": []})), None);
    }

    #[test]
    fn graph_s_documented_answer_decodes() {
        // The shape of the provisionOnDemand reference page's example (shortened).
        let answer = json!({
            "key": "{\"result\":\"Skipped\",\"details\":{\"errorCode\":\"RedundantExport\",\"errorMessage\":\"The state of the user in both the source and target systems already match.\"}}",
            "value": "{\"action\":\"Other\",\"modifiedProperties\":[{\"displayName\":\"displayName\",\"oldValue\":null,\"newValue\":\"Bill Bob\"}],\"provisioningSteps\":[{\"name\":\"EntryImport\",\"type\":\"Import\",\"status\":\"Success\",\"description\":\"Retrieved User\"}],\"reportableIdentifier\":\"BillBob@x\",\"targetIdentity\":{\"id\":\"5250\"}}"
        });
        let report = decode(&answer).expect("decodes");
        assert_eq!(report.result, "Skipped");
        assert!(report.provisioned());
        assert_eq!(report.steps[0].name, "EntryImport");
        assert_eq!(report.modified[0].0, "displayName");
        assert_eq!(report.target_user.as_deref(), Some("5250"));
        let bad = decode(&json!({"key": "nope", "value": "{}"}));
        assert!(matches!(bad, Err(OnDemandError::Unexpected(_))));
    }
}
