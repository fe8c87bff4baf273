//! Stage 3, `bundle` (links): a cross-tenant synchronization link compiled into the ordered
//! steps it takes in both tenants, in the order `../shared/cross-tenant-sync-facts.md` gives
//! (target first: partner, inbound sync, automatic redemption, leave setting; then the source:
//! partner with outbound consent, configuration app, job, secrets, scope assignments, schema,
//! start). Every step names its kind (the registry's [`LINK_KINDS`](crate::kinds::LINK_KINDS)
//! or [`all`](crate::kinds::all)) and the steps it depends on, in either tenant, so the
//! cross-tenant order is in the bundle, not only in the code that deploys it.
//!
//! Input: the project's [`Link`]s and the tenant whose bundle is being made (with its
//! operations, to find the match key of a scope group). Output: [`LinkStep`]s, written in the
//! bundle's `links` section. Pure: nothing here touches the network.
//!
//! Placeholders in paths and bodies (`{servicePrincipal}`, `{job}`, `{appRoleId}`,
//! `{principalId}`) are filled at deploy from the answers of earlier steps.

use serde_json::{Value, json};

use crate::compile::bundle::Operation;
use crate::kinds::{self, CROSS_TENANT_SYNC_TEMPLATE, Method};
use crate::source::links::{ScopeRef, ends};
use crate::source::model::link::Link;
use crate::source::project::ProjectSource;

/// The id of the user rule in the Azure2Azure job's schema.
pub const USER_RULE: &str = "USER_INBOUND_USER";

/// The synchronization template of a cross-tenant synchronization job.
pub const JOB_TEMPLATE: &str = "Azure2Azure";

/// Which end of a link a step runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The tenant that receives the users.
    Target,
    /// The tenant whose users are provisioned.
    Source,
    /// The multitenant organization's owner.
    Owner,
    /// A member of the multitenant organization.
    Member,
}

/// A step another step waits for, in either tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepRef {
    /// The tenant the step runs in.
    pub tenant: String,
    /// Its id.
    pub step: String,
}

/// Who an assignment step is for, found in the source at deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Principal {
    /// A group of the source's bundle, by its match key (`uniqueName`).
    Group {
        /// The resource key in the source's baselines.
        key: String,
        /// Its match-key values (e.g. `{"uniqueName": "tf-sync-staff"}`).
        find_by: Value,
    },
    /// A user by userPrincipalName.
    User {
        /// The UPN.
        upn: String,
    },
}

/// One step of a link in one tenant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkStep {
    /// The link's name.
    pub link: String,
    /// `<link>/<side>/<step>`, unique in the project.
    pub id: String,
    /// Which end it runs in.
    pub side: Side,
    /// The tenant it runs in.
    pub tenant: String,
    /// The other end's tenant.
    pub partner: String,
    /// The kind (registry name).
    pub kind: &'static str,
    /// Method of the write.
    #[serde(serialize_with = "method_name")]
    pub method: Method,
    /// API version segment.
    pub api: &'static str,
    /// Path (with placeholders).
    pub path: String,
    /// Desired body (with placeholders).
    pub body: Value,
    /// For assignments: who.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// Steps that must have succeeded first, in this tenant or the other.
    pub depends_on: Vec<StepRef>,
}

fn method_name<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

/// `SyncNotificationSettings`: notification e-mail and the accidental-deletion threshold, as
/// the synchronization secrets hold them (a JSON string).
pub fn notification_settings(link: &Link) -> String {
    let threshold = link
        .deletion_prevention
        .as_ref()
        .filter(|d| d.enabled)
        .and_then(|d| d.threshold.as_ref().map(|t| t.value));
    let mut settings = serde_json::Map::new();
    settings.insert("Enabled".into(), json!(link.notification_email.is_some()));
    if let Some(email) = &link.notification_email {
        settings.insert("Recipients".into(), json!(email.value));
    }
    settings.insert("DeleteThresholdEnabled".into(), json!(threshold.is_some()));
    if let Some(t) = threshold {
        settings.insert("DeleteThresholdValue".into(), json!(t));
    }
    settings.insert("HumanResourcesLookaheadQueryEnabled".into(), json!(false));
    Value::Object(settings).to_string()
}

/// The desired user-rule changes of the job's schema, as a `synchronizationSchema` fragment
/// (so the kind's generated schema checks it): the user rule's User→User object mapping with
/// `userType` and the overrides as Graph's `attributeMapping`s, and the scoping filter as its
/// `scope` (a `filter` with one `filterGroup` of `filterClause`s, all of which must hold).
/// Deploy merges it into the job's schema ([`crate::sync::apply::apply_overrides`]).
pub fn schema_overrides(link: &Link) -> Value {
    let wanted = user_rule_overrides(link);
    json!({"synchronizationRules": [{
        "id": USER_RULE,
        "objectMappings": [{
            "sourceObjectName": "User",
            "targetObjectName": "User",
            "attributeMappings": wanted["attributeMappings"],
            "scope": wanted["scope"],
        }],
    }]})
}

fn user_rule_overrides(link: &Link) -> Value {
    let constant = |v: &str| json!({"type": "Constant", "name": v, "expression": format!("\"{v}\""), "parameters": []});
    let mut mappings = vec![json!({
        "targetAttributeName": "userType",
        "source": constant(link.user_type.as_str()),
        "flowType": "Always",
        "flowBehavior": "FlowWhenChanged",
        "matchingPriority": 0,
    })];
    for m in &link.mappings {
        let source = match (&m.source, &m.constant) {
            (Some(s), _) => {
                json!({"type": "Attribute", "name": s.value, "expression": format!("[{}]", s.value), "parameters": []})
            }
            (None, Some(c)) => constant(&c.value),
            (None, None) => continue,
        };
        mappings.push(json!({
            "targetAttributeName": m.target.value,
            "source": source,
            "flowType": "Always",
            "flowBehavior": "FlowWhenChanged",
            "matchingPriority": 0,
        }));
    }
    let clauses: Vec<Value> = link
        .scoping_filter
        .iter()
        .map(|c| {
            json!({
                "operatorName": c.operator.value,
                "sourceOperandName": c.attribute.value,
                "targetOperand": {"values": c.values.iter().map(|v| v.value.clone()).collect::<Vec<_>>()},
            })
        })
        .collect();
    let scope = if clauses.is_empty() {
        Value::Null
    } else {
        json!({"categoryFilterGroups": [], "groups": [{"name": "tenantform", "clauses": clauses}], "inputFilterGroups": []})
    };
    json!({"ruleId": USER_RULE, "attributeMappings": mappings, "scope": scope})
}

// One call per step reads as the table of facts it follows; a builder would hide that.
#[allow(clippy::too_many_arguments)]
fn step(
    link: &Link,
    side: Side,
    tenant: &str,
    partner: &str,
    name: &str,
    kind: &'static str,
    method: Method,
    path: String,
    body: Value,
) -> LinkStep {
    let registry = kinds::link_kind_by_name(kind).or_else(|| kinds::by_name(kind));
    LinkStep {
        link: link.name.clone(),
        id: format!(
            "{}/{}/{name}",
            link.name,
            crate::sync::apply::side_name(side)
        ),
        side,
        tenant: tenant.to_string(),
        partner: partner.to_string(),
        kind,
        method,
        api: registry.map_or("v1.0", |k| k.api_version.segment()),
        path,
        body,
        principal: None,
        depends_on: Vec::new(),
    }
}

/// Every step of one link, target steps first, with their dependencies. `source_ops` are the
/// source tenant's bundle operations (to find a scope group's match key).
pub fn link_steps(
    link: &Link,
    source: &str,
    target: &str,
    source_ops: &[Operation],
) -> Vec<LinkStep> {
    let name = link.configuration_name();
    let partners = "/policies/crossTenantAccessPolicy/partners";
    let mut steps = Vec::new();
    let on = |s: &LinkStep| StepRef {
        tenant: s.tenant.clone(),
        step: s.id.clone(),
    };
    // Target.
    let partner = step(
        link,
        Side::Target,
        target,
        source,
        "partner",
        "crossTenantAccessPolicyPartner",
        Method::Post,
        partners.to_string(),
        json!({"tenantId": source, "inboundTrust": null, "automaticUserConsentSettings": {"inboundAllowed": true}}),
    );
    let mut inbound = step(
        link,
        Side::Target,
        target,
        source,
        "inbound-sync",
        "crossTenantIdentitySyncPolicyPartner",
        Method::Put,
        format!("{partners}/{source}/identitySynchronization"),
        json!({"tenantId": source, "displayName": name, "userSyncInbound": {"isSyncAllowed": true}}),
    );
    inbound.depends_on.push(on(&partner));
    let target_ready = vec![on(&partner), on(&inbound)];
    steps.push(partner);
    steps.push(inbound);
    if let Some(allow) = link.allow_users_to_leave {
        steps.push(step(
            link,
            Side::Target,
            target,
            source,
            "leave",
            "externalIdentitiesPolicy",
            Method::Patch,
            "/policies/externalIdentitiesPolicy".into(),
            json!({"allowExternalIdentitiesToLeave": allow}),
        ));
    }
    // Source.
    let mut out_partner = step(
        link,
        Side::Source,
        source,
        target,
        "partner",
        "crossTenantAccessPolicyPartner",
        Method::Post,
        partners.to_string(),
        json!({"tenantId": target, "automaticUserConsentSettings": {"outboundAllowed": true}}),
    );
    out_partner.depends_on.extend(target_ready.clone());
    let app = step(
        link,
        Side::Source,
        source,
        target,
        "configuration-app",
        "applicationTemplateInstance",
        Method::Post,
        format!("/applicationTemplates/{CROSS_TENANT_SYNC_TEMPLATE}/instantiate"),
        json!({"displayName": name}),
    );
    let sp = "/servicePrincipals/{servicePrincipal}";
    let mut job = step(
        link,
        Side::Source,
        source,
        target,
        "job",
        "synchronizationJob",
        Method::Post,
        format!("{sp}/synchronization/jobs"),
        json!({"templateId": JOB_TEMPLATE}),
    );
    job.depends_on.push(on(&app));
    job.depends_on.extend(target_ready.clone());
    let mut secrets = step(
        link,
        Side::Source,
        source,
        target,
        "secrets",
        "synchronizationSecrets",
        Method::Put,
        format!("{sp}/synchronization/secrets"),
        json!({"value": [
            {"key": "AuthenticationType", "value": "SyncPolicy"},
            {"key": "CompanyId", "value": target},
            {"key": "SyncNotificationSettings", "value": notification_settings(link)},
            {"key": "SyncAll", "value": "false"},
        ]}),
    );
    secrets.depends_on.push(on(&job));
    let mut assignments = Vec::new();
    for entry in &link.scope {
        let Some(scope) = ScopeRef::parse(&entry.value) else {
            continue;
        };
        let (label, principal) = match scope {
            ScopeRef::Group(key) => {
                let find_by = source_ops
                    .iter()
                    .find(|op| op.key == key && op.kind.name == "group")
                    .map_or(Value::Null, |op| {
                        serde_json::to_value(&op.match_values).unwrap_or(Value::Null)
                    });
                (format!("group:{key}"), Principal::Group { key, find_by })
            }
            ScopeRef::User(upn) => (format!("user:{upn}"), Principal::User { upn }),
        };
        let mut assign = step(
            link,
            Side::Source,
            source,
            target,
            &format!("assign/{label}"),
            "appRoleAssignment",
            Method::Post,
            format!("{sp}/appRoleAssignedTo"),
            json!({"principalId": "{principalId}", "resourceId": "{servicePrincipal}", "appRoleId": "{appRoleId}"}),
        );
        assign.principal = Some(principal);
        assign.depends_on.push(on(&app));
        assignments.push(assign);
    }
    let mut schema = step(
        link,
        Side::Source,
        source,
        target,
        "schema",
        "synchronizationSchema",
        Method::Put,
        format!("{sp}/synchronization/jobs/{{job}}/schema"),
        schema_overrides(link),
    );
    schema.depends_on.push(on(&job));
    let mut start = link.start.then(|| {
        step(
            link,
            Side::Source,
            source,
            target,
            "start",
            "synchronizationJobStart",
            Method::Post,
            format!("{sp}/synchronization/jobs/{{job}}/start"),
            json!({}),
        )
    });
    if let Some(start) = &mut start {
        start
            .depends_on
            .extend([on(&secrets), on(&schema), on(&out_partner)]);
        start.depends_on.extend(assignments.iter().map(on));
    }
    steps.push(out_partner);
    steps.push(app);
    steps.push(job);
    steps.push(secrets);
    steps.extend(assignments);
    steps.push(schema);
    steps.extend(start);
    steps
}

/// The steps of every link that runs in `tenant` (as source or target), in link-name order,
/// target steps before source steps within a link, then the organization's steps that run in
/// it. `source_ops` are the tenant's own
/// operations (used when it is a link's source).
pub fn for_tenant(project: &ProjectSource, tenant: &str, own_ops: &[Operation]) -> Vec<LinkStep> {
    let mut out = Vec::new();
    for link in &project.links {
        let Some((source, target)) = ends(project, link) else {
            continue;
        };
        let (source, target) = (source.id.value, target.id.value);
        if source == target || (tenant != source && tenant != target) {
            continue;
        }
        out.extend(
            link_steps(link, &source, &target, own_ops)
                .into_iter()
                .filter(|s| s.tenant == tenant),
        );
    }
    out.extend(
        crate::sync::organization::organization_steps(project)
            .into_iter()
            .filter(|s| s.tenant == tenant),
    );
    out
}

/// Every step of every link (both tenants), target steps first within each link, and the
/// multitenant organization's steps as one more unit; the source's operations come from
/// `source_ops(tenant id)`.
pub fn all(
    project: &ProjectSource,
    source_ops: &dyn Fn(&str) -> Vec<Operation>,
) -> Vec<(String, Vec<LinkStep>)> {
    let mut out = Vec::new();
    for link in &project.links {
        let Some((source, target)) = ends(project, link) else {
            continue;
        };
        let (source, target) = (source.id.value, target.id.value);
        if source == target {
            continue;
        }
        let ops = source_ops(&source);
        out.push((link.name.clone(), link_steps(link, &source, &target, &ops)));
    }
    let organization = crate::sync::organization::organization_steps(project);
    if !organization.is_empty() {
        out.push((crate::sync::organization::UNIT.to_string(), organization));
    }
    out
}
