//! Stage `deploy` (links): apply one link's steps (from [`steps`](crate::sync::steps)) in
//! order, target steps first, each idempotent: it reads what exists (partner by `tenantId`,
//! configuration app by template + display name, job by `templateId`, assignment by
//! principal, the schema's user rule, the job's schedule) and writes only what differs, so a
//! re-run after a crash at any step finishes without a second app, job or assignment, and a
//! second deploy writes nothing. Every request goes through the run's Graph client (paced,
//! retried, journaled by the observer: method, path and body hash, never a body). Secrets are
//! compared in memory and never returned.
//!
//! Input: a link's [`LinkStep`]s and a session per tenant. Output: a [`LinkReport`].

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::graph::client::{Body, GraphClient, Observer, Request, RequestError, TenantSession};
use crate::kinds::{ApiVersion, CROSS_TENANT_SYNC_TEMPLATE, ThrottleClass};
pub use crate::report::LinkReport;
use crate::report::{LinkStepAction, LinkStepPlan};
use crate::sync::steps::{JOB_TEMPLATE, LinkStep, Principal, Side, USER_RULE};

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Graph refused or could not be reached.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// An answer lacked what the next steps need.
    #[error("{0}")]
    Unexpected(String),
    /// A step needs a session for a tenant the run has none for.
    #[error("no session for tenant {0}")]
    NoSession(String),
    /// A scope principal does not exist in the source.
    #[error("scope {0} was not found in the source tenant")]
    PrincipalNotFound(String),
}

/// What earlier steps found, for the placeholders of later ones.
#[derive(Debug, Default)]
struct Found {
    service_principal: Option<String>,
    app_role: Option<String>,
    job: Option<String>,
}

fn fill_text(text: &str, found: &Found, principal: Option<&str>) -> String {
    let mut out = text.to_string();
    for (placeholder, value) in [
        ("{servicePrincipal}", found.service_principal.as_deref()),
        ("{job}", found.job.as_deref()),
        ("{appRoleId}", found.app_role.as_deref()),
        ("{principalId}", principal),
    ] {
        if let Some(value) = value {
            out = out.replace(placeholder, value);
        }
    }
    out
}

fn fill(value: &Value, found: &Found, principal: Option<&str>) -> Value {
    match value {
        Value::String(s) => Value::String(fill_text(s, found, principal)),
        Value::Array(items) => items.iter().map(|v| fill(v, found, principal)).collect(),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, found, principal)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// True when every property of `want` is in `have` with the same value (objects recursively;
/// `null` and absent are the same).
pub fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| contains(h.get(k).unwrap_or(&Value::Null), v)),
        (h, w) => h == w,
    }
}

fn odata_quote(s: &str) -> String {
    s.replace('\'', "''")
}

/// Percent-encode a `$filter` expression (spaces and quotes), as Graph clients send it.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The JSON pointers where `have` lacks what `want` holds (objects recursively; `null` and
/// absent are the same), for a plan's "what differs".
pub fn differences(have: &Value, want: &Value) -> Vec<String> {
    fn walk(have: &Value, want: &Value, at: &str, out: &mut Vec<String>) {
        match (have, want) {
            (Value::Object(h), Value::Object(w)) => {
                for (k, v) in w {
                    walk(
                        h.get(k).unwrap_or(&Value::Null),
                        v,
                        &format!("{at}/{k}"),
                        out,
                    );
                }
            }
            (h, w) if h != w => out.push(if at.is_empty() { "/".into() } else { at.into() }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(have, want, "", &mut out);
    out
}

/// What a step found or did, and what differed.
#[derive(Debug)]
struct Outcome {
    action: LinkStepAction,
    detail: Option<String>,
}

impl Outcome {
    fn of(action: LinkStepAction) -> Outcome {
        Outcome {
            action,
            detail: None,
        }
    }

    fn with(action: LinkStepAction, detail: impl Into<String>) -> Outcome {
        Outcome {
            action,
            detail: Some(detail.into()),
        }
    }

    fn differs(have: &Value, want: &Value) -> Outcome {
        Outcome::with(
            LinkStepAction::Update,
            format!("differs at {}", differences(have, want).join(", ")),
        )
    }
}

/// The message of a step that cannot be read before an earlier step of the same run created
/// what it hangs off.
const AFTER_NEW_APP: &str = "after the configuration app is created";
const AFTER_NEW_JOB: &str = "after the job is created";

struct Applier<'a> {
    client: &'a GraphClient,
    sessions: &'a BTreeMap<String, &'a TenantSession>,
    observer: &'a dyn Observer,
    found: Found,
    /// Plan: read, decide, write nothing.
    dry_run: bool,
}

impl Applier<'_> {
    fn session(&self, tenant: &str) -> Result<&TenantSession, StepError> {
        self.sessions
            .get(tenant)
            .copied()
            .ok_or_else(|| StepError::NoSession(tenant.to_string()))
    }

    async fn send(
        &self,
        step: &LinkStep,
        method: &'static str,
        version: ApiVersion,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, StepError> {
        if self.dry_run && method != "GET" {
            return Ok(None);
        }
        let session = self.session(&step.tenant)?;
        let request = Request {
            label: step.id.clone(),
            method,
            version,
            path: path.to_string(),
            body: body.map(Body::new),
            prefer: None,
            class: ThrottleClass::Identity,
            idempotent: method != "POST",
            references_new_object: path.contains("/servicePrincipals/"),
            lean: false,
            id_only: false,
            keep_items: None,
        };
        match self.client.send(session, &request, self.observer).await {
            Ok(response) => Ok(Some(response.body)),
            Err(e) if e.status() == Some(404) && method == "GET" => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get(&self, step: &LinkStep, path: &str) -> Result<Option<Value>, StepError> {
        let version = if step.api == "beta" {
            ApiVersion::Beta
        } else {
            ApiVersion::V1
        };
        self.send(step, "GET", version, path, None).await
    }

    /// Apply one step (or, dry, decide what applying it would do).
    async fn apply(&mut self, step: &LinkStep) -> Result<Outcome, StepError> {
        use LinkStepAction::{Create, Start, Unchanged, Update};
        let v1 = ApiVersion::V1;
        let needs_app = step.path.contains("{servicePrincipal}");
        let unresolved = (needs_app && self.found.service_principal.is_none())
            || (step.path.contains("{job}") && self.found.job.is_none());
        if unresolved && !self.dry_run {
            return Err(StepError::Unexpected(
                "an earlier step did not find the configuration app or its job".into(),
            ));
        }
        if needs_app && self.found.service_principal.is_none() {
            // Plan only: the app is created by this deploy, so nothing hangs off it yet.
            let action = match step.kind {
                "synchronizationSchema" => Update,
                "synchronizationJobStart" => Start,
                _ => Create,
            };
            return Ok(Outcome::with(action, AFTER_NEW_APP));
        }
        if step.path.contains("{job}") && self.found.job.is_none() {
            let action = if step.kind == "synchronizationJobStart" {
                Start
            } else {
                Update
            };
            return Ok(Outcome::with(action, AFTER_NEW_JOB));
        }
        match step.kind {
            "crossTenantAccessPolicyPartner" => {
                let partner = step.body["tenantId"].as_str().unwrap_or_default();
                let path = format!("{}/{partner}", step.path);
                let mut rest = step.body.clone();
                if let Value::Object(map) = &mut rest {
                    map.remove("tenantId");
                }
                match self.get(step, &path).await? {
                    None => {
                        self.send(
                            step,
                            "POST",
                            v1,
                            &step.path,
                            Some(&json!({"tenantId": partner})),
                        )
                        .await?;
                        self.send(step, "PATCH", v1, &path, Some(&rest)).await?;
                        Ok(Outcome::of(Create))
                    }
                    Some(live) if contains(&live, &rest) => Ok(Outcome::of(Unchanged)),
                    Some(live) => {
                        self.send(step, "PATCH", v1, &path, Some(&rest)).await?;
                        Ok(Outcome::differs(&live, &rest))
                    }
                }
            }
            "crossTenantIdentitySyncPolicyPartner" => {
                let mut body = step.body.clone();
                if let Value::Object(map) = &mut body {
                    map.remove("tenantId");
                }
                match self.get(step, &step.path).await? {
                    Some(live) if contains(&live, &body) => Ok(Outcome::of(Unchanged)),
                    live => {
                        self.send(step, "PUT", v1, &step.path, Some(&body)).await?;
                        Ok(match live {
                            Some(live) => Outcome::differs(&live, &body),
                            None => Outcome::of(Create),
                        })
                    }
                }
            }
            "externalIdentitiesPolicy" => match self.get(step, &step.path).await? {
                Some(live) if contains(&live, &step.body) => Ok(Outcome::of(Unchanged)),
                live => {
                    self.send(
                        step,
                        "PATCH",
                        ApiVersion::Beta,
                        &step.path,
                        Some(&step.body),
                    )
                    .await?;
                    Ok(Outcome::differs(
                        live.as_ref().unwrap_or(&Value::Null),
                        &step.body,
                    ))
                }
            },
            "applicationTemplateInstance" => {
                let name = step.body["displayName"].as_str().unwrap_or_default();
                let filter = encode(&format!("displayName eq '{}'", odata_quote(name)));
                let list = self
                    .get(step, &format!("/servicePrincipals?$filter={filter}"))
                    .await?
                    .unwrap_or(Value::Null);
                let existing = list["value"]
                    .as_array()
                    .and_then(|items| {
                        items.iter().find(|sp| {
                            sp["applicationTemplateId"]
                                .as_str()
                                .is_some_and(|t| t.eq_ignore_ascii_case(CROSS_TENANT_SYNC_TEMPLATE))
                        })
                    })
                    .cloned();
                let (sp, action) = match existing {
                    Some(sp) => (sp, Unchanged),
                    None if self.dry_run => return Ok(Outcome::of(Create)),
                    None => {
                        let answer = self
                            .send(step, "POST", v1, &step.path, Some(&step.body))
                            .await?
                            .unwrap_or(Value::Null);
                        (answer["servicePrincipal"].clone(), Create)
                    }
                };
                let id = sp["id"].as_str().ok_or_else(|| {
                    StepError::Unexpected(
                        "the configuration app has no service principal id".into(),
                    )
                })?;
                let role = sp["appRoles"]
                    .as_array()
                    .and_then(|roles| {
                        roles.iter().find(|r| {
                            r["displayName"] == "msiam_access" || r["value"] == "msiam_access"
                        })
                    })
                    .and_then(|r| r["id"].as_str())
                    .ok_or_else(|| {
                        StepError::Unexpected(
                            "the configuration app has no msiam_access app role".into(),
                        )
                    })?;
                self.found.service_principal = Some(id.to_string());
                self.found.app_role = Some(role.to_string());
                Ok(Outcome::of(action))
            }
            "synchronizationJob" => {
                let path = fill_text(&step.path, &self.found, None);
                let jobs = self.get(step, &path).await?.unwrap_or(Value::Null);
                let existing = jobs["value"]
                    .as_array()
                    .and_then(|j| j.iter().find(|j| j["templateId"] == JOB_TEMPLATE))
                    .and_then(|j| j["id"].as_str())
                    .map(str::to_string);
                let id = match existing {
                    Some(id) => id,
                    None if self.dry_run => return Ok(Outcome::of(Create)),
                    None => {
                        let answer = self
                            .send(step, "POST", v1, &path, Some(&step.body))
                            .await?
                            .unwrap_or(Value::Null);
                        let id = answer["id"]
                            .as_str()
                            .map(str::to_string)
                            .ok_or_else(|| StepError::Unexpected("the new job has no id".into()))?;
                        self.found.job = Some(id);
                        return Ok(Outcome::of(Create));
                    }
                };
                self.found.job = Some(id);
                Ok(Outcome::of(Unchanged))
            }
            "synchronizationSecrets" => {
                let path = fill_text(&step.path, &self.found, None);
                let sync_path = path.trim_end_matches("/secrets").to_string();
                let live = self.get(step, &sync_path).await?.unwrap_or(Value::Null);
                let want = step.body["value"].as_array().cloned().unwrap_or_default();
                let have = live["secrets"].as_array().cloned().unwrap_or_default();
                let same = want.len() == have.len()
                    && want.iter().all(|w| {
                        have.iter()
                            .any(|h| h["key"] == w["key"] && h["value"] == w["value"])
                    });
                if same {
                    return Ok(Outcome::of(Unchanged));
                }
                self.send(step, "PUT", v1, &path, Some(&step.body)).await?;
                if have.is_empty() {
                    return Ok(Outcome::of(Create));
                }
                // Name the keys that differ, never their values.
                let keys: Vec<String> = want
                    .iter()
                    .filter(|w| {
                        !have
                            .iter()
                            .any(|h| h["key"] == w["key"] && h["value"] == w["value"])
                    })
                    .filter_map(|w| w["key"].as_str().map(str::to_string))
                    .collect();
                Ok(Outcome::with(
                    Update,
                    format!("keys that differ: {}", keys.join(", ")),
                ))
            }
            "appRoleAssignment" => {
                let principal = match self.principal(step).await {
                    Ok(principal) => principal,
                    // A scope group the same deploy creates in the source is not there yet.
                    Err(StepError::PrincipalNotFound(label)) if self.dry_run => {
                        return Ok(Outcome::with(
                            Create,
                            format!("{label} is not in the source yet"),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                let path = fill_text(&step.path, &self.found, None);
                let live = self.get(step, &path).await?.unwrap_or(Value::Null);
                let assigned = live["value"].as_array().is_some_and(|items| {
                    items.iter().any(|a| {
                        a["principalId"]
                            .as_str()
                            .is_some_and(|p| p.eq_ignore_ascii_case(&principal))
                    })
                });
                if assigned {
                    return Ok(Outcome::of(Unchanged));
                }
                let body = fill(&step.body, &self.found, Some(&principal));
                self.send(step, "POST", v1, &path, Some(&body)).await?;
                Ok(Outcome::of(Create))
            }
            "synchronizationSchema" => {
                let path = fill_text(&step.path, &self.found, None);
                let Some(mut schema) = self.get(step, &path).await? else {
                    return Err(StepError::Unexpected("the job has no schema".into()));
                };
                if !apply_overrides(&mut schema, &step.body) {
                    return Ok(Outcome::of(Unchanged));
                }
                if let Value::Object(map) = &mut schema {
                    map.remove("@odata.context");
                }
                self.send(step, "PUT", v1, &path, Some(&schema)).await?;
                Ok(Outcome::with(
                    Update,
                    "the user rule's mappings or scoping filter",
                ))
            }
            "synchronizationJobStart" => {
                let path = fill_text(&step.path, &self.found, None);
                let job_path = path.trim_end_matches("/start").to_string();
                let job = self.get(step, &job_path).await?.unwrap_or(Value::Null);
                if job["schedule"]["state"] == "Active" {
                    return Ok(Outcome::of(Unchanged));
                }
                self.send(step, "POST", v1, &path, Some(&json!({}))).await?;
                Ok(Outcome::of(Start))
            }
            "multiTenantOrganization"
            | "multiTenantOrganizationMember"
            | "multiTenantOrganizationJoinRequestRecord" => self.organization(step).await,
            other => Err(StepError::Unexpected(format!(
                "unknown link step kind {other}"
            ))),
        }
    }

    /// A step of the multitenant organization (`sync/organization.rs`): the organization in
    /// the owner (PATCH of what differs), a member added by the owner (found by `tenantId`,
    /// never added twice), a member's join request (written unless it already names the owner
    /// and has not failed; a failed one is submitted again).
    async fn organization(&self, step: &LinkStep) -> Result<Outcome, StepError> {
        use LinkStepAction::{Create, Unchanged, Update};
        let v1 = ApiVersion::V1;
        match step.kind {
            "multiTenantOrganizationMember" => {
                let member = step.body["tenantId"].as_str().unwrap_or_default();
                let path = format!("{}/{member}", step.path);
                match self.get(step, &path).await? {
                    None => {
                        self.send(step, "POST", v1, &step.path, Some(&step.body))
                            .await?;
                        Ok(Outcome::of(Create))
                    }
                    Some(live) => {
                        let want = json!({"displayName": step.body["displayName"]});
                        if contains(&live, &want) {
                            return Ok(Outcome::of(Unchanged));
                        }
                        self.send(step, "PATCH", v1, &path, Some(&want)).await?;
                        Ok(Outcome::differs(&live, &want))
                    }
                }
            }
            "multiTenantOrganizationJoinRequestRecord" => {
                let live = self.get(step, &step.path).await?;
                let have = live.as_ref().unwrap_or(&Value::Null);
                let failed = have["transitionDetails"]["status"] == "failed";
                if contains(have, &step.body) && !failed {
                    return Ok(Outcome::of(Unchanged));
                }
                self.send(step, "PATCH", v1, &step.path, Some(&step.body))
                    .await?;
                Ok(if failed {
                    Outcome::with(Update, "the last join request failed: submitted again")
                } else if have["addedByTenantId"].is_null() {
                    Outcome::of(Create)
                } else {
                    Outcome::differs(have, &step.body)
                })
            }
            _ => {
                let live = self.get(step, &step.path).await?;
                let have = live.as_ref().unwrap_or(&Value::Null);
                if contains(have, &step.body) && have["state"] != "inactive" {
                    return Ok(Outcome::of(Unchanged));
                }
                self.send(step, "PATCH", v1, &step.path, Some(&step.body))
                    .await?;
                Ok(if have["displayName"].is_null() {
                    Outcome::of(Create)
                } else {
                    Outcome::differs(have, &step.body)
                })
            }
        }
    }

    /// The object id of an assignment step's principal, looked up in the source.
    async fn principal(&self, step: &LinkStep) -> Result<String, StepError> {
        let (path, label) = match &step.principal {
            Some(Principal::Group { key, find_by }) => {
                let unique = find_by["uniqueName"].as_str().unwrap_or(key);
                let filter = encode(&format!("uniqueName eq '{}'", odata_quote(unique)));
                (
                    format!("/groups?$filter={filter}&$select=id"),
                    format!("group:{key}"),
                )
            }
            Some(Principal::User { upn }) => (
                format!("/users/{}?$select=id", encode(upn)),
                format!("user:{upn}"),
            ),
            None => {
                return Err(StepError::Unexpected(
                    "an assignment without a principal".into(),
                ));
            }
        };
        let answer = self.get(step, &path).await?.unwrap_or(Value::Null);
        let id = answer["value"]
            .as_array()
            .and_then(|v| v.first())
            .and_then(|g| g["id"].as_str())
            .or_else(|| answer["id"].as_str());
        id.map(str::to_string)
            .ok_or(StepError::PrincipalNotFound(label))
    }
}

/// Apply the link's overrides (a `synchronizationSchema` fragment: the user rule's User→User
/// object mapping with `userType`, mappings and scope; see
/// [`schema_overrides`](crate::sync::steps::schema_overrides)) to the user rule of `schema`;
/// true when something changed.
pub fn apply_overrides(schema: &mut Value, fragment: &Value) -> bool {
    let overrides = &fragment["synchronizationRules"][0]["objectMappings"][0];
    let Some(mapping) = schema["synchronizationRules"]
        .as_array_mut()
        .and_then(|rules| rules.iter_mut().find(|r| r["id"] == USER_RULE))
        .and_then(|r| r["objectMappings"].as_array_mut())
        .and_then(|m| m.iter_mut().find(|m| m["targetObjectName"] == "User"))
    else {
        return false;
    };
    let mut changed = false;
    for want in overrides["attributeMappings"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = &want["targetAttributeName"];
        let Some(list) = mapping["attributeMappings"].as_array_mut() else {
            continue;
        };
        match list.iter_mut().find(|m| &m["targetAttributeName"] == name) {
            Some(have) if contains(have, want) => {}
            Some(have) => {
                *have = want.clone();
                changed = true;
            }
            None => {
                list.push(want.clone());
                changed = true;
            }
        }
    }
    let scope = &overrides["scope"];
    if mapping["scope"] != *scope {
        mapping["scope"] = scope.clone();
        changed = true;
    }
    changed
}

/// The side's name in step ids, plans and errors.
pub fn side_name(side: Side) -> &'static str {
    match side {
        Side::Target => "target",
        Side::Source => "source",
        Side::Owner => "owner",
        Side::Member => "member",
    }
}

fn step_error(step: &LinkStep, e: &StepError) -> String {
    format!(
        "step {} ({}, in the {} tenant {}): {e}",
        step.id,
        step.kind,
        side_name(step.side),
        step.tenant
    )
}

/// Apply a link's steps in order (target steps are first in the list), stopping at the first
/// failure. `sessions` holds a session per tenant id.
pub async fn apply_link(
    client: &GraphClient,
    sessions: &BTreeMap<String, &TenantSession>,
    link: &str,
    steps: &[LinkStep],
    observer: &dyn Observer,
) -> LinkReport {
    let mut applier = Applier {
        client,
        sessions,
        observer,
        found: Found::default(),
        dry_run: false,
    };
    let mut report = LinkReport {
        link: link.to_string(),
        ok: true,
        changed: Vec::new(),
        unchanged: Vec::new(),
        error: None,
    };
    for step in steps {
        match applier.apply(step).await {
            Ok(outcome) if outcome.action.writes() => report.changed.push(step.id.clone()),
            Ok(_) => report.unchanged.push(step.id.clone()),
            Err(e) => {
                report.ok = false;
                report.error = Some(step_error(step, &e));
                break;
            }
        }
    }
    report
}

/// Plan a link: read each step's object in its tenant and say what deploy would do, writing
/// nothing. Steps that hang off an object the deploy would create are planned without reads.
pub async fn plan_link(
    client: &GraphClient,
    sessions: &BTreeMap<String, &TenantSession>,
    steps: &[LinkStep],
    observer: &dyn Observer,
) -> (Vec<LinkStepPlan>, Option<String>) {
    let mut applier = Applier {
        client,
        sessions,
        observer,
        found: Found::default(),
        dry_run: true,
    };
    let mut planned = Vec::new();
    for step in steps {
        match applier.apply(step).await {
            Ok(outcome) => planned.push(LinkStepPlan {
                step: step.id.clone(),
                side: side_name(step.side).to_string(),
                tenant: step.tenant.clone(),
                kind: step.kind.to_string(),
                action: outcome.action,
                detail: outcome.detail,
            }),
            Err(e) => return (planned, Some(step_error(step, &e))),
        }
    }
    (planned, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_pointers_that_differ() {
        let have = json!({"a": {"b": true, "c": 1}});
        assert_eq!(
            differences(&have, &json!({"a": {"b": false, "c": 1}, "d": 2})),
            vec!["/a/b".to_string(), "/d".to_string()]
        );
        assert!(differences(&have, &json!({"a": {"c": 1}})).is_empty());
    }

    #[test]
    fn contains_treats_absent_as_null_and_recurses() {
        let have = json!({"a": {"b": true, "c": 1}, "d": null});
        assert!(contains(&have, &json!({"a": {"b": true}})));
        assert!(contains(&have, &json!({"e": null})));
        assert!(!contains(&have, &json!({"a": {"b": false}})));
    }

    #[test]
    fn overrides_apply_once_then_change_nothing() {
        let mut schema = json!({"synchronizationRules": [{"id": USER_RULE, "objectMappings": [{"targetObjectName": "User", "scope": null, "attributeMappings": [
            {"targetAttributeName": "userType", "source": {"type": "Constant", "name": "Member"}}
        ]}]}]});
        let overrides = json!({"synchronizationRules": [{"id": USER_RULE, "objectMappings": [{"attributeMappings": [
            {"targetAttributeName": "userType", "source": {"type": "Constant", "name": "Guest"}},
            {"targetAttributeName": "companyName", "source": {"type": "Constant", "name": "Hub"}}
        ], "scope": null}]}]});
        assert!(apply_overrides(&mut schema, &overrides));
        assert!(!apply_overrides(&mut schema, &overrides));
        let mappings = &schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"];
        assert_eq!(mappings[0]["source"]["name"], "Guest");
        assert_eq!(mappings.as_array().map(Vec::len), Some(2));
    }
}
