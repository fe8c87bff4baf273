//! The Entra kinds as TCM resource properties (Microsoft365DSC's resource schemas: PascalCase
//! names, `Ensure`, one key), with every id that TCM wants as a name turned into one: a
//! reference to a group or named location becomes its display name, a directory role template
//! id its role name, an authentication strength id its name (built-in, or a custom strength
//! the bundle declares). What cannot be named
//! offline (a user object id, an unknown role) is an error for that resource, which is then
//! listed as not monitored.
//!
//! Input: one [`Operation`] and the display names of the bundle's resources. Output: the TCM
//! resource type and properties, or why not.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::compile::bundle::Operation;

/// Directory role template ids and their names (baseline-facts §1.4, Entra's permissions
/// reference): CA's `IncludeRoles`/`ExcludeRoles` are role names in TCM.
const ROLES: [(&str, &str); 23] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    (
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        "Billing Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
    ),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    (
        "17315797-102d-40b4-93e0-432062caca18",
        "Compliance Administrator",
    ),
    (
        "e6d1a23a-da11-4be4-9570-befc86d067a7",
        "Compliance Data Administrator",
    ),
    (
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
    ),
    (
        "44367163-eba1-44c3-98af-f5787879f96a",
        "Dynamics 365 Administrator",
    ),
    (
        "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
        "Power Platform Administrator",
    ),
    (
        "69091246-20e8-4a56-aa4d-066075b2a7a8",
        "Teams Administrator",
    ),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
    (
        "d29b2b05-8046-44ba-8758-1e26182fcf32",
        "Directory Synchronization Accounts",
    ),
    ("95e79109-95c0-4d8e-aee3-d01accf2d47b", "Guest Inviter"),
];

/// The built-in authentication strengths (baseline-facts §1.5).
const STRENGTHS: [(&str, &str); 3] = [
    (
        "00000000-0000-0000-0000-000000000002",
        "Multifactor authentication",
    ),
    ("00000000-0000-0000-0000-000000000003", "Passwordless MFA"),
    (
        "00000000-0000-0000-0000-000000000004",
        "Phishing-resistant MFA",
    ),
];

/// Guest role ids as TCM's `GuestUserRole` names.
const GUEST_ROLES: [(&str, &str); 3] = [
    ("a0b1b346-4d3e-4e8b-98f8-753987be4970", "User"),
    ("10dae51f-b6af-4016-8d66-8c2a99b929b3", "Guest"),
    ("2af84b1e-32c8-42b7-82bc-daa82404023b", "RestrictedGuest"),
];

/// User keywords CA accepts in place of object ids.
const USER_KEYWORDS: [&str; 4] = ["All", "None", "GuestsOrExternalUsers", "AllAgentIdUsers"];

fn lookup(table: &[(&'static str, &'static str)], id: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id))
        .map(|(_, v)| *v)
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `${ref:group:key}` → the referenced resource's display name.
pub(super) fn named(value: &str, names: &BTreeMap<String, String>) -> Result<String, String> {
    match value
        .strip_prefix("${ref:")
        .and_then(|r| r.strip_suffix('}'))
    {
        Some(reference) => {
            let key = reference.split_once(':').map_or(reference, |(_, k)| k);
            names
                .get(key)
                .cloned()
                .ok_or_else(|| format!("the reference {reference} has no display name to match by"))
        }
        None => Ok(value.to_string()),
    }
}

fn names_of(values: Vec<String>, names: &BTreeMap<String, String>) -> Result<Vec<Value>, String> {
    values
        .iter()
        .map(|v| named(v, names).map(Value::String))
        .collect()
}

fn roles(values: Vec<String>) -> Result<Vec<Value>, String> {
    values
        .iter()
        .map(|id| {
            lookup(&ROLES, id)
                .map(|name| Value::String(name.to_string()))
                .ok_or_else(|| format!("directory role {id} has no known name for TCM"))
        })
        .collect()
}

fn users(values: Vec<String>) -> Result<Vec<Value>, String> {
    values
        .iter()
        .map(|u| {
            if USER_KEYWORDS.contains(&u.as_str()) {
                Ok(Value::String(u.clone()))
            } else {
                Err(format!(
                    "user {u} is an object id; TCM wants a user principal name, which tenantform cannot know offline"
                ))
            }
        })
        .collect()
}

fn conditional_access(
    op: &Operation,
    names: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, String> {
    let b = &op.body;
    let c = &b["conditions"];
    let u = &c["users"];
    let a = &c["applications"];
    let g = &b["grantControls"];
    let s = &b["sessionControls"];
    let mut p = Map::new();
    p.insert("DisplayName".into(), b["displayName"].clone());
    p.insert("State".into(), b["state"].clone());
    p.insert(
        "IncludeUsers".into(),
        users(strs(u.get("includeUsers")))?.into(),
    );
    p.insert(
        "ExcludeUsers".into(),
        users(strs(u.get("excludeUsers")))?.into(),
    );
    p.insert(
        "IncludeGroups".into(),
        names_of(strs(u.get("includeGroups")), names)?.into(),
    );
    p.insert(
        "ExcludeGroups".into(),
        names_of(strs(u.get("excludeGroups")), names)?.into(),
    );
    p.insert(
        "IncludeRoles".into(),
        roles(strs(u.get("includeRoles")))?.into(),
    );
    p.insert(
        "ExcludeRoles".into(),
        roles(strs(u.get("excludeRoles")))?.into(),
    );
    if let Some(types) = u["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"].as_str() {
        p.insert(
            "ExcludeGuestOrExternalUserTypes".into(),
            json!(types.split(',').collect::<Vec<_>>()),
        );
        p.insert(
            "ExcludeExternalTenantsMembershipKind".into(),
            u["excludeGuestsOrExternalUsers"]["externalTenants"]["membershipKind"].clone(),
        );
    }
    // Applications stay ids and keywords in TCM.
    p.insert(
        "IncludeApplications".into(),
        json!(strs(a.get("includeApplications"))),
    );
    p.insert(
        "ExcludeApplications".into(),
        json!(strs(a.get("excludeApplications"))),
    );
    p.insert(
        "IncludeUserActions".into(),
        json!(strs(a.get("includeUserActions"))),
    );
    p.insert(
        "ClientAppTypes".into(),
        json!(strs(c.get("clientAppTypes"))),
    );
    p.insert(
        "IncludePlatforms".into(),
        json!(strs(c["platforms"].get("includePlatforms"))),
    );
    p.insert(
        "ExcludePlatforms".into(),
        json!(strs(c["platforms"].get("excludePlatforms"))),
    );
    p.insert(
        "IncludeLocations".into(),
        names_of(strs(c["locations"].get("includeLocations")), names)?.into(),
    );
    p.insert(
        "ExcludeLocations".into(),
        names_of(strs(c["locations"].get("excludeLocations")), names)?.into(),
    );
    p.insert(
        "SignInRiskLevels".into(),
        json!(strs(c.get("signInRiskLevels"))),
    );
    p.insert(
        "UserRiskLevels".into(),
        json!(strs(c.get("userRiskLevels"))),
    );
    if let Some(rule) = c["devices"]["deviceFilter"]["rule"].as_str() {
        p.insert("DeviceFilterRule".into(), json!(rule));
        p.insert(
            "DeviceFilterMode".into(),
            c["devices"]["deviceFilter"]["mode"].clone(),
        );
    }
    if let Some(methods) = c["authenticationFlows"]["transferMethods"].as_str() {
        p.insert("TransferMethods".into(), json!(methods));
    }
    if !g.is_null() {
        p.insert("GrantControlOperator".into(), g["operator"].clone());
        p.insert(
            "BuiltInControls".into(),
            json!(strs(g.get("builtInControls"))),
        );
        if let Some(id) = g["authenticationStrength"]["id"].as_str() {
            // A custom strength the bundle declares is named by its display name.
            let name = if id.starts_with("${ref:") {
                named(id, names)?
            } else {
                lookup(&STRENGTHS, id)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        format!(
                            "authentication strength {id} is neither a built-in one nor one the bundle declares, so tenantform cannot name it"
                        )
                    })?
            };
            p.insert("AuthenticationStrength".into(), json!(name));
        }
    }
    if s["signInFrequency"]["isEnabled"] == true {
        p.insert("SignInFrequencyIsEnabled".into(), json!(true));
        for (graph, tcm) in [
            ("value", "SignInFrequencyValue"),
            ("type", "SignInFrequencyType"),
            ("frequencyInterval", "SignInFrequencyInterval"),
        ] {
            if !s["signInFrequency"][graph].is_null() {
                p.insert(tcm.into(), s["signInFrequency"][graph].clone());
            }
        }
    }
    if s["persistentBrowser"]["isEnabled"] == true {
        p.insert("PersistentBrowserIsEnabled".into(), json!(true));
        p.insert(
            "PersistentBrowserMode".into(),
            s["persistentBrowser"]["mode"].clone(),
        );
    }
    if s["applicationEnforcedRestrictions"]["isEnabled"] == true {
        p.insert(
            "ApplicationEnforcedRestrictionsIsEnabled".into(),
            json!(true),
        );
    }
    Ok(p)
}

fn named_location(op: &Operation) -> Map<String, Value> {
    let b = &op.body;
    let mut p = Map::new();
    p.insert("DisplayName".into(), b["displayName"].clone());
    p.insert("OdataType".into(), b["@odata.type"].clone());
    if let Some(ranges) = b["ipRanges"].as_array() {
        let cidrs: Vec<&Value> = ranges.iter().map(|r| &r["cidrAddress"]).collect();
        p.insert("IpRanges".into(), json!(cidrs));
        p.insert("IsTrusted".into(), b["isTrusted"].clone());
    }
    if b["countriesAndRegions"].is_array() {
        p.insert(
            "CountriesAndRegions".into(),
            b["countriesAndRegions"].clone(),
        );
        p.insert(
            "IncludeUnknownCountriesAndRegions".into(),
            b["includeUnknownCountriesAndRegions"].clone(),
        );
    }
    p
}

fn group(op: &Operation) -> Map<String, Value> {
    let b = &op.body;
    let mut p = Map::new();
    for (graph, tcm) in [
        ("displayName", "DisplayName"),
        ("mailNickname", "MailNickname"),
        ("securityEnabled", "SecurityEnabled"),
        ("mailEnabled", "MailEnabled"),
        ("description", "Description"),
        ("groupTypes", "GroupTypes"),
    ] {
        if !b[graph].is_null() {
            p.insert(tcm.into(), b[graph].clone());
        }
    }
    p
}

fn authorization_policy(op: &Operation) -> Result<Map<String, Value>, String> {
    let b = &op.body;
    let d = &b["defaultUserRolePermissions"];
    let mut p = Map::new();
    p.insert("IsSingleInstance".into(), json!("Yes"));
    for (graph, tcm) in [
        ("allowInvitesFrom", "AllowInvitesFrom"),
        (
            "allowedToSignUpEmailBasedSubscriptions",
            "AllowedToSignUpEmailBasedSubscriptions",
        ),
        (
            "allowEmailVerifiedUsersToJoinOrganization",
            "AllowEmailVerifiedUsersToJoinOrganization",
        ),
        (
            "allowUserConsentForRiskyApps",
            "AllowUserConsentForRiskyApps",
        ),
        ("blockMsolPowerShell", "BlockMsolPowerShell"),
    ] {
        if !b[graph].is_null() {
            p.insert(tcm.into(), b[graph].clone());
        }
    }
    for (graph, tcm) in [
        ("allowedToCreateApps", "DefaultUserRoleAllowedToCreateApps"),
        (
            "allowedToCreateSecurityGroups",
            "DefaultUserRoleAllowedToCreateSecurityGroups",
        ),
        (
            "allowedToCreateTenants",
            "DefaultUserRoleAllowedToCreateTenants",
        ),
        (
            "allowedToReadBitlockerKeysForOwnedDevice",
            "DefaultUserRoleAllowedToReadBitlockerKeysForOwnedDevice",
        ),
        (
            "allowedToReadOtherUsers",
            "DefaultUserRoleAllowedToReadOtherUsers",
        ),
        (
            "permissionGrantPoliciesAssigned",
            "PermissionGrantPolicyIdsAssignedToDefaultUserRole",
        ),
    ] {
        if !d[graph].is_null() {
            p.insert(tcm.into(), d[graph].clone());
        }
    }
    if let Some(id) = b["guestUserRoleId"].as_str() {
        let role = lookup(&GUEST_ROLES, id).ok_or_else(|| {
            format!("guest user role {id} is not one of TCM's Guest, RestrictedGuest or User")
        })?;
        p.insert("GuestUserRole".into(), json!(role));
    }
    Ok(p)
}

/// A custom authentication strength (`MSFT_AADAuthenticationStrengthPolicy`: key
/// `DisplayName`; the combinations as Graph writes them, e.g. `windowsHelloForBusiness`).
fn authentication_strength(op: &Operation) -> Map<String, Value> {
    let b = &op.body;
    let mut p = Map::new();
    for (graph, tcm) in [
        ("displayName", "DisplayName"),
        ("description", "Description"),
        ("allowedCombinations", "AllowedCombinations"),
    ] {
        if !b[graph].is_null() {
            p.insert(tcm.into(), b[graph].clone());
        }
    }
    p
}

/// The TCM resource type and properties of one Entra operation this module maps.
pub(super) fn properties(
    op: &Operation,
    names: &BTreeMap<String, String>,
) -> Result<(&'static str, Map<String, Value>), String> {
    let (resource_type, mut p) = match op.kind.name {
        "conditionalAccessPolicy" => (
            "microsoft.entra.conditionalaccesspolicy",
            conditional_access(op, names)?,
        ),
        "namedLocation" => ("microsoft.entra.namedlocationpolicy", named_location(op)),
        "group" => ("microsoft.entra.group", group(op)),
        "authorizationPolicy" => (
            "microsoft.entra.authorizationpolicy",
            authorization_policy(op)?,
        ),
        "authenticationStrengthPolicy" => (
            "microsoft.entra.authenticationstrengthpolicy",
            authentication_strength(op),
        ),
        "identitySecurityDefaultsEnforcementPolicy" => {
            let mut p = Map::new();
            p.insert("IsSingleInstance".into(), json!("Yes"));
            p.insert("IsEnabled".into(), op.body["isEnabled"].clone());
            ("microsoft.entra.securitydefaults", p)
        }
        other => {
            return Err(format!(
                "tenantform does not map kind {other} to a TCM resource type yet (TCM may cover it; see `tenantform kinds`)"
            ));
        }
    };
    p.insert("Ensure".into(), json!("Present"));
    Ok((resource_type, p))
}
