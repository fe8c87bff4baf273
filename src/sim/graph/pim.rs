//! PIM for Microsoft Entra roles, as Graph serves it: every built-in directory role has a
//! role management policy, assigned at tenant scope (`scopeId` `/`, `scopeType`
//! `DirectoryRole`), holding Graph's default rules (Microsoft Learn, "Overview of rules for
//! Microsoft Entra roles in PIM APIs"); the policy and its assignment are read-only, each rule
//! is updated on its own.
//!
//! Routes (v1.0 and beta): `GET /policies/roleManagementPolicyAssignments` (a `$filter` on
//! `scopeId` and `scopeType` is required, `roleDefinitionId` optional; `$expand=policy`, and
//! `policy($expand=rules)` for the rules), `GET /policies/roleManagementPolicyAssignments/{id}`,
//! `GET /policies/roleManagementPolicies/{id}`, `GET .../{id}/rules`, `GET .../rules/{ruleId}`
//! and `PATCH .../rules/{ruleId}` (204; the body must name the rule's `@odata.type`).
//!
//! State: a tenant stores only the rules it wrote, as objects of the
//! `unifiedRoleManagementPolicy` kind keyed `{policyId}/{ruleId}` (so `--state-dir` keeps them);
//! every other rule is its birth default, built on demand. Ids are derived from the seed, the
//! tenant and the role, so they are the same on every run.

use indexmap::IndexMap;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::kinds::{self, ApiVersion, Kind};
use crate::sim::seeded;
use crate::sim::state::{StoredObject, TenantState, store};
use crate::sim::wire::{Reply, json_string};

use super::{Call, merge, not_allowed, not_found, same_odata_type};

/// The kind whose store keeps the rules a tenant wrote.
const KIND: &str = "unifiedRoleManagementPolicy";

/// The built-in directory roles the simulator has policies for (role template ids, Microsoft
/// Entra "permissions reference"): the roles of Microsoft's Conditional Access templates and
/// SCuBA's highly privileged roles, and Guest Inviter.
pub(crate) const ROLE_TEMPLATE_IDS: &[&str] = &[
    "62e90394-69f5-4237-9190-012177145e10", // Global Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de", // Exchange Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", // Conditional Access Administrator
    "729827e3-9c14-49f7-bb1b-9608f156bbb8", // Helpdesk Administrator
    "b0f54661-2d74-4c50-afa3-1ec803f12efe", // Billing Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "c4e39bd9-1100-46d3-8c65-fb160da0071f", // Authentication Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7", // Cloud Application Administrator
    "966707d0-3269-4727-9be2-8c3a10f19b9d", // Password Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "17315797-102d-40b4-93e0-432062caca18", // Compliance Administrator
    "e6d1a23a-da11-4be4-9570-befc86d067a7", // Compliance Data Administrator
    "3a2c62db-5318-420d-8d74-23affee5d9d5", // Intune Administrator
    "44367163-eba1-44c3-98af-f5787879f96a", // Dynamics 365 Administrator
    "11648597-926c-4cf3-9c36-bcebb0ba8dcc", // Power Platform Administrator
    "69091246-20e8-4a56-aa4d-066075b2a7a8", // Teams Administrator
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", // Hybrid Identity Administrator
    "95e79109-95c0-4d8e-aee3-d01accf2d47b", // Guest Inviter
];

/// What a PIM path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PimTarget {
    /// `/policies/roleManagementPolicyAssignments`.
    Assignments,
    /// `/policies/roleManagementPolicyAssignments/{id}`.
    Assignment(String),
    /// `/policies/roleManagementPolicies/{id}`.
    Policy(String),
    /// `/policies/roleManagementPolicies/{id}/rules`.
    Rules(String),
    /// `/policies/roleManagementPolicies/{id}/rules/{ruleId}`.
    Rule(String, String),
}

impl PimTarget {
    /// The permission that reads or writes it (the kind's).
    pub(crate) fn permission(&self) -> &'static str {
        kinds::by_name(KIND)
            .and_then(|k| k.permissions.first().copied())
            .unwrap_or("RoleManagementPolicy.ReadWrite.Directory")
    }
}

/// The target of `path` (relative to the version root), if it is a PIM path.
pub(crate) fn resolve(_version: ApiVersion, path: &str) -> Option<PimTarget> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let is = |s: &String, name: &str| s.eq_ignore_ascii_case(name);
    match segments.as_slice() {
        [p, a] if is(p, "policies") && is(a, "roleManagementPolicyAssignments") => {
            Some(PimTarget::Assignments)
        }
        [p, a, id] if is(p, "policies") && is(a, "roleManagementPolicyAssignments") => {
            Some(PimTarget::Assignment(id.clone()))
        }
        [p, a, id] if is(p, "policies") && is(a, "roleManagementPolicies") => {
            Some(PimTarget::Policy(id.clone()))
        }
        [p, a, id, r] if is(p, "policies") && is(a, "roleManagementPolicies") && is(r, "rules") => {
            Some(PimTarget::Rules(id.clone()))
        }
        [p, a, id, r, rule]
            if is(p, "policies") && is(a, "roleManagementPolicies") && is(r, "rules") =>
        {
            Some(PimTarget::Rule(id.clone(), rule.clone()))
        }
        _ => None,
    }
}

/// A rule's target: who and which operations it applies to.
fn target(caller: &str, level: &str) -> Value {
    json!({
        "caller": caller,
        "operations": ["All"],
        "level": level,
        "inheritableSettings": [],
        "enforcedSettings": []
    })
}

fn expiration(id: &str, caller: &str, level: &str, required: bool, duration: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": id,
        "isExpirationRequired": required,
        "maximumDuration": duration,
        "target": target(caller, level)
    })
}

fn enablement(id: &str, caller: &str, level: &str, rules: &[&str]) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": id,
        "enabledRules": rules,
        "target": target(caller, level)
    })
}

fn notification(id: &str, recipient: &str, caller: &str, level: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
        "id": id,
        "notificationType": "Email",
        "recipientType": recipient,
        "notificationLevel": "All",
        "isDefaultRecipientsEnabled": true,
        "notificationRecipients": [],
        "target": target(caller, level)
    })
}

/// The tenant's own copy of a default `rule`, looked up in `written` by `key` (the policy id
/// and a slash, lowercase, `prefix` bytes long) with the rule's id appended.
fn written_rule<'a>(
    written: &'a IndexMap<Box<str>, StoredObject>,
    key: &mut String,
    prefix: usize,
    rule: &Value,
) -> Option<&'a StoredObject> {
    let id = rule.get("id").and_then(Value::as_str).unwrap_or_default();
    key.truncate(prefix);
    key.extend(id.chars().map(|c| c.to_ascii_lowercase()));
    written.get(key.as_str())
}

/// `object` (a JSON object's text) with the member `name: value` (JSON text) added last, as
/// inserting it into the parsed object and writing it out again would.
fn with_member(mut object: String, name: &str, value: &str) -> String {
    if object.ends_with('}') {
        object.pop();
        if !object.ends_with('{') {
            object.push(',');
        }
        object.push_str(&json_string(name));
        object.push(':');
        object.push_str(value);
        object.push('}');
    }
    object
}

/// Graph's default rules of a directory role's policy, in the order Graph lists them.
pub(crate) fn default_rules() -> Vec<Value> {
    default_rules_shared().to_vec()
}

/// The default rules, built once.
fn default_rules_shared() -> &'static [Value] {
    static DEFAULT_RULES: std::sync::LazyLock<Vec<Value>> =
        std::sync::LazyLock::new(build_default_rules);
    &DEFAULT_RULES
}

fn build_default_rules() -> Vec<Value> {
    let mut rules = vec![
        expiration(
            "Expiration_Admin_Eligibility",
            "Admin",
            "Eligibility",
            false,
            "P365D",
        ),
        enablement("Enablement_Admin_Eligibility", "Admin", "Eligibility", &[]),
    ];
    for recipient in ["Admin", "Requestor", "Approver"] {
        rules.push(notification(
            &format!("Notification_{recipient}_Admin_Eligibility"),
            recipient,
            "Admin",
            "Eligibility",
        ));
    }
    rules.push(expiration(
        "Expiration_Admin_Assignment",
        "Admin",
        "Assignment",
        false,
        "P180D",
    ));
    rules.push(enablement(
        "Enablement_Admin_Assignment",
        "Admin",
        "Assignment",
        &["Justification"],
    ));
    for recipient in ["Admin", "Requestor", "Approver"] {
        rules.push(notification(
            &format!("Notification_{recipient}_Admin_Assignment"),
            recipient,
            "Admin",
            "Assignment",
        ));
    }
    rules.push(json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
        "id": "Approval_EndUser_Assignment",
        "setting": {
            "isApprovalRequired": false,
            "isApprovalRequiredForExtension": false,
            "isRequestorJustificationRequired": true,
            "approvalMode": "SingleStage",
            "approvalStages": [{
                "approvalStageTimeOutInDays": 1,
                "isApproverJustificationRequired": true,
                "escalationTimeInMinutes": 0,
                "isEscalationEnabled": false,
                "primaryApprovers": [],
                "escalationApprovers": []
            }]
        },
        "target": target("EndUser", "Assignment")
    }));
    rules.push(json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
        "id": "AuthenticationContext_EndUser_Assignment",
        "isEnabled": false,
        "claimValue": "",
        "target": target("EndUser", "Assignment")
    }));
    rules.push(enablement(
        "Enablement_EndUser_Assignment",
        "EndUser",
        "Assignment",
        &["MultiFactorAuthentication", "Justification"],
    ));
    rules.push(expiration(
        "Expiration_EndUser_Assignment",
        "EndUser",
        "Assignment",
        true,
        "PT8H",
    ));
    for recipient in ["Admin", "Requestor", "Approver"] {
        rules.push(notification(
            &format!("Notification_{recipient}_EndUser_Assignment"),
            recipient,
            "EndUser",
            "Assignment",
        ));
    }
    rules
}

/// One role's policy, as the simulator holds it (without its rules).
struct RolePolicy {
    role: &'static str,
    policy_id: String,
    assignment_id: String,
}

/// A role's policy assignment without its expanded policy.
fn assignment_stub(policy: &RolePolicy) -> Value {
    json!({
        "id": policy.assignment_id,
        "policyId": policy.policy_id,
        "scopeId": "/",
        "scopeType": "DirectoryRole",
        "roleDefinitionId": policy.role
    })
}

impl Call<'_> {
    fn role_policies(&self) -> Vec<RolePolicy> {
        ROLE_TEMPLATE_IDS
            .iter()
            .map(|role| self.role_policy(role))
            .collect()
    }

    fn role_policy(&self, role: &'static str) -> RolePolicy {
        let tenant = &self.tenant.id;
        let guid = seeded::guid(self.app.config.seed, &format!("{tenant}/pim/{role}"));
        RolePolicy {
            role,
            policy_id: format!("DirectoryRole_{tenant}_{guid}"),
            assignment_id: format!("DirectoryRole_{tenant}_{guid}_{role}"),
        }
    }

    /// The policies a list's `$filter` may match: with a `roleDefinitionId` clause only that
    /// role's (a read for one role, the usual one, builds one policy, not one per role).
    fn role_policies_filtered(&self) -> Vec<RolePolicy> {
        let role_clause = self
            .query
            .filter
            .iter()
            .find(|c| c.property.eq_ignore_ascii_case("roleDefinitionId"))
            .map(|c| c.value.as_str());
        ROLE_TEMPLATE_IDS
            .iter()
            .filter(|role| match role_clause {
                None => true,
                Some(Some(wanted)) => wanted.eq_ignore_ascii_case(role),
                Some(None) => false,
            })
            .map(|role| self.role_policy(role))
            .collect()
    }

    fn policy_by_id(&self, id: &str) -> Option<RolePolicy> {
        self.role_policies()
            .into_iter()
            .find(|p| p.policy_id.eq_ignore_ascii_case(id))
    }

    /// The rules of a policy: each the tenant's copy, else the default.
    fn rules_of(&self, state: &TenantState, policy_id: &str) -> Vec<Value> {
        let Some(written) = kinds::by_name(KIND)
            .and_then(|k| state.live(k))
            .filter(|w| !w.is_empty())
        else {
            return default_rules();
        };
        let mut key = format!("{policy_id}/").to_ascii_lowercase();
        let prefix = key.len();
        // Only the rules the tenant has not written are copied from the defaults.
        default_rules_shared()
            .iter()
            .map(|rule| {
                written_rule(written, &mut key, prefix, rule)
                    .map_or_else(|| rule.clone(), |o| o.value())
            })
            .collect()
    }

    fn policy_value(&self, state: &TenantState, policy: &RolePolicy, with_rules: bool) -> Value {
        let mut value = json!({
            "id": policy.policy_id,
            "displayName": "DirectoryRole",
            "description": "DirectoryRole",
            "isOrganizationDefault": false,
            "scopeId": "/",
            "scopeType": "DirectoryRole",
            "lastModifiedDateTime": null,
            "lastModifiedBy": null
        });
        if with_rules {
            value["rules"] = Value::Array(self.rules_of(state, &policy.policy_id));
        }
        value
    }

    fn assignment_value(&self, state: &TenantState, policy: &RolePolicy) -> Value {
        let mut value = assignment_stub(policy);
        if self
            .query
            .expand
            .iter()
            .any(|e| e.eq_ignore_ascii_case("policy"))
        {
            let query = percent_decode_str(self.request.query).decode_utf8_lossy();
            let with_rules = query.to_ascii_lowercase().contains("$expand=rules");
            value["policy"] = self.policy_value(state, policy, with_rules);
        }
        value
    }

    /// [`Call::rules_of`] as a JSON array's text, without parsing what is stored: the tenant's
    /// rules as it wrote them, the defaults as written once. A fleet's PIM reads are one per
    /// role and tenant, each with every rule of the policy.
    fn rules_text(&self, state: &TenantState, policy_id: &str) -> String {
        static DEFAULT_TEXTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
            default_rules_shared()
                .iter()
                .map(Value::to_string)
                .collect()
        });
        let written = kinds::by_name(KIND)
            .and_then(|k| state.live(k))
            .filter(|w| !w.is_empty());
        let mut key = format!("{policy_id}/").to_ascii_lowercase();
        let prefix = key.len();
        let mut text = String::from("[");
        for (i, (rule, default_text)) in default_rules_shared()
            .iter()
            .zip(DEFAULT_TEXTS.iter())
            .enumerate()
        {
            if i > 0 {
                text.push(',');
            }
            let own = written.and_then(|written| written_rule(written, &mut key, prefix, rule));
            match own {
                Some(object) => text.push_str(&object.text()),
                None => text.push_str(default_text),
            }
        }
        text.push(']');
        text
    }

    /// [`Call::assignment_value`] as JSON text, the policy's rules spliced in as text.
    fn assignment_text(&self, state: &TenantState, policy: &RolePolicy) -> String {
        let stub = assignment_stub(policy).to_string();
        if !self
            .query
            .expand
            .iter()
            .any(|e| e.eq_ignore_ascii_case("policy"))
        {
            return stub;
        }
        let query = percent_decode_str(self.request.query).decode_utf8_lossy();
        let with_rules = query.to_ascii_lowercase().contains("$expand=rules");
        let mut policy_text = self.policy_value(state, policy, false).to_string();
        if with_rules {
            policy_text = with_member(
                policy_text,
                "rules",
                &self.rules_text(state, &policy.policy_id),
            );
        }
        with_member(stub, "policy", &policy_text)
    }

    fn collection_reply(&self, fragment: &str, items: Vec<Value>) -> Reply {
        let text = format!(
            "{{\"@odata.context\":{},\"value\":{}}}",
            json_string(&self.context(fragment)),
            Value::Array(items)
        );
        Reply::json(200, text)
    }

    fn entity_value_reply(&self, fragment: &str, value: Value) -> Reply {
        let mut map = Map::new();
        map.insert(
            "@odata.context".into(),
            Value::String(self.context(fragment)),
        );
        if let Value::Object(entity) = value {
            map.extend(entity);
        }
        Reply::json(200, Value::Object(map).to_string())
    }

    /// Answer a PIM request.
    pub(crate) fn pim(&self, target: PimTarget) -> Reply {
        let mut state = self.tenant.lock();
        let state = &mut *state;
        let get = self.request.method == "GET";
        match target {
            PimTarget::Assignments if get => self.list_assignments(state),
            PimTarget::Assignment(id) if get => {
                match self
                    .role_policies()
                    .into_iter()
                    .find(|p| p.assignment_id.eq_ignore_ascii_case(&id))
                {
                    Some(policy) => self.entity_value_reply(
                        "policies/roleManagementPolicyAssignments/$entity",
                        self.assignment_value(state, &policy),
                    ),
                    None => not_found(&id),
                }
            }
            PimTarget::Policy(id) if get => match self.policy_by_id(&id) {
                Some(policy) => {
                    let with_rules = self
                        .query
                        .expand
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case("rules"));
                    self.entity_value_reply(
                        "policies/roleManagementPolicies/$entity",
                        self.policy_value(state, &policy, with_rules),
                    )
                }
                None => not_found(&id),
            },
            PimTarget::Rules(id) if get => match self.policy_by_id(&id) {
                Some(policy) => self.collection_reply(
                    &format!("policies/roleManagementPolicies('{id}')/rules"),
                    self.rules_of(state, &policy.policy_id),
                ),
                None => not_found(&id),
            },
            PimTarget::Rule(id, rule_id) => {
                let Some(policy) = self.policy_by_id(&id) else {
                    return not_found(&id);
                };
                let Some(rule) = self
                    .rules_of(state, &policy.policy_id)
                    .into_iter()
                    .find(|r| {
                        r.get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|r| r.eq_ignore_ascii_case(&rule_id))
                    })
                else {
                    return not_found(&rule_id);
                };
                match self.request.method {
                    "GET" => self.entity_value_reply(
                        &format!("policies/roleManagementPolicies('{id}')/rules/$entity"),
                        rule,
                    ),
                    "PATCH" => self.patch_rule(state, &policy, rule),
                    _ => not_allowed(),
                }
            }
            _ => not_allowed(),
        }
    }

    fn list_assignments(&self, state: &TenantState) -> Reply {
        let clause = |name: &str| {
            self.query
                .filter
                .iter()
                .find(|c| c.property.eq_ignore_ascii_case(name))
                .and_then(|c| c.value.as_str())
        };
        let (Some(scope_id), Some(scope_type)) = (clause("scopeId"), clause("scopeType")) else {
            return Reply::error(
                400,
                "BadRequest",
                "The filter must specify scopeId and scopeType (for example scopeId eq '/' and scopeType eq 'DirectoryRole').",
            );
        };
        let known = ["scopeId", "scopeType", "roleDefinitionId", "policyId"];
        if let Some(other) = self
            .query
            .filter
            .iter()
            .find(|c| !known.iter().any(|k| c.property.eq_ignore_ascii_case(k)))
        {
            return Reply::error(
                400,
                "BadRequest",
                format!(
                    "Unsupported filter property '{}' on roleManagementPolicyAssignments.",
                    other.property
                ),
            );
        }
        let items: Vec<String> =
            if scope_id == "/" && scope_type.eq_ignore_ascii_case("DirectoryRole") {
                // The filter names only the assignment's own properties, so it is judged
                // before the policy and its rules are expanded: a read for one role builds
                // one policy, not one per role.
                self.role_policies_filtered()
                    .iter()
                    .filter(|p| self.query.matches(&assignment_stub(p)))
                    .map(|p| self.assignment_text(state, p))
                    .collect()
            } else {
                Vec::new()
            };
        let text = format!(
            "{{\"@odata.context\":{},\"value\":[{}]}}",
            json_string(&self.context("policies/roleManagementPolicyAssignments")),
            items.join(",")
        );
        Reply::json(200, text)
    }

    fn patch_rule(&self, state: &mut TenantState, policy: &RolePolicy, current: Value) -> Reply {
        let body = match self.body() {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let current_type = current.get("@odata.type").and_then(Value::as_str);
        let sent_type = body.get("@odata.type").and_then(Value::as_str);
        if sent_type.is_none() || !same_odata_type(sent_type, current_type) {
            return Reply::error(
                400,
                "BadRequest",
                format!(
                    "The request body must name the rule's derived type: \"@odata.type\": \"{}\".",
                    current_type.unwrap_or_default()
                ),
            );
        }
        let rule_id = current
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(sent_id) = body.get("id").and_then(Value::as_str)
            && !sent_id.eq_ignore_ascii_case(&rule_id)
        {
            return Reply::error(
                400,
                "BadRequest",
                "The rule id in the request body does not match the id in the URL.",
            );
        }
        if let Some(unknown) = body
            .as_object()
            .and_then(|b| b.keys().find(|k| current.get(k.as_str()).is_none()))
        {
            return Reply::error(
                400,
                "BadRequest",
                format!(
                    "Could not find a property named '{unknown}' on type '{}'.",
                    current_type.unwrap_or_default().trim_start_matches('#')
                ),
            );
        }
        let mut updated = current;
        merge(&mut updated, body);
        let Some(kind): Option<&'static Kind> = kinds::by_name(KIND) else {
            return not_allowed();
        };
        let key = format!("{}/{rule_id}", policy.policy_id);
        let object = store(&self.app.schemas, kind, &key, &updated, 0);
        if let Some(live) = state.live_mut(kind) {
            live.insert(key.to_ascii_lowercase().into(), object);
        }
        Reply::empty(204)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_to_pim_targets() {
        let v = ApiVersion::V1;
        assert_eq!(
            resolve(v, "/policies/roleManagementPolicyAssignments"),
            Some(PimTarget::Assignments)
        );
        assert_eq!(
            resolve(
                v,
                "/policies/roleManagementPolicies/p1/rules/Expiration_EndUser_Assignment"
            ),
            Some(PimTarget::Rule(
                "p1".into(),
                "Expiration_EndUser_Assignment".into()
            ))
        );
        assert_eq!(resolve(v, "/policies/authorizationPolicy"), None);
    }

    #[test]
    fn a_member_spliced_into_an_object_text_is_what_inserting_it_writes() {
        let mut value = json!({"id": "a", "n": 1});
        let spliced = with_member(value.to_string(), "rules", "[{\"x\":true}]");
        value["rules"] = json!([{"x": true}]);
        assert_eq!(spliced, value.to_string());
        assert_eq!(with_member("{}".into(), "k", "2"), "{\"k\":2}");
    }

    #[test]
    fn default_rules_have_unique_ids_and_derived_types() {
        let rules = default_rules();
        assert_eq!(rules.len(), 17);
        let mut ids: Vec<&str> = rules
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 17);
        assert!(rules.iter().all(|r| {
            r["@odata.type"]
                .as_str()
                .is_some_and(|t| t.starts_with("#microsoft.graph.unifiedRoleManagementPolicy"))
        }));
    }
}
