//! Intune device compliance policies as TCM resources
//! (`microsoft.intune.devicecompliancepolicy{windows10,ios,android,androidworkprofile,
//! androiddeviceowner,macos}`), shaped as Microsoft365DSC's `IntuneDeviceCompliancePolicy*`
//! schemas: key `DisplayName`, the platform's settings by their PascalCase names (enums in the
//! schema's spelling), and `Assignments` from the policy's assignment resource as
//! `{dataType, groupDisplayName, deviceAndAppManagementAssignmentFilterType}`: a group by name,
//! never by id. Settings the schema lacks, and `scheduledActionsForRule` (shaped differently per
//! platform's schema, absent from the iOS and macOS ones), are left out and listed.
//!
//! Input: one policy [`Operation`], its assignment body if the bundle has one, and the display
//! names of the bundle's resources. Output: a [`Mapped`] resource, or why not.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::auth_methods::schema_name;
use super::{Mapped, named};
use crate::compile::bundle::Operation;

/// One platform: its Graph `@odata.type`, the TCM type, the scalar settings of its
/// Microsoft365DSC schema, and the enum settings whose schema spelling differs from Graph's.
struct Platform {
    odata_type: &'static str,
    resource_type: &'static str,
    settings: &'static [&'static str],
    enums: &'static [(&'static str, &'static [&'static str])],
}

const SECURITY_LEVELS_PASCAL: &[&str] =
    &["Unavailable", "Secured", "Low", "Medium", "High", "NotSet"];

/// From `MSFT_IntuneDeviceCompliancePolicy{Windows10,iOs,AndroidWorkProfile,MacOS}.schema.mof`.
const PLATFORMS: [Platform; 4] = [
    Platform {
        odata_type: "windows10CompliancePolicy",
        resource_type: "microsoft.intune.devicecompliancepolicywindows10",
        settings: &[
            "Description",
            "RoleScopeTagIds",
            "PasswordRequired",
            "PasswordBlockSimple",
            "PasswordRequiredToUnlockFromIdle",
            "PasswordMinutesOfInactivityBeforeLock",
            "PasswordExpirationDays",
            "PasswordMinimumLength",
            "PasswordMinimumCharacterSetCount",
            "PasswordRequiredType",
            "PasswordPreviousPasswordBlockCount",
            "RequireHealthyDeviceReport",
            "OsMinimumVersion",
            "OsMaximumVersion",
            "MobileOsMinimumVersion",
            "MobileOsMaximumVersion",
            "EarlyLaunchAntiMalwareDriverEnabled",
            "BitLockerEnabled",
            "SecureBootEnabled",
            "CodeIntegrityEnabled",
            "StorageRequireEncryption",
            "ActiveFirewallRequired",
            "DefenderEnabled",
            "DefenderVersion",
            "SignatureOutOfDate",
            "RTPEnabled",
            "AntivirusRequired",
            "AntiSpywareRequired",
            "DeviceThreatProtectionEnabled",
            "DeviceThreatProtectionRequiredSecurityLevel",
            "ConfigurationManagerComplianceRequired",
            "TpmRequired",
        ],
        enums: &[
            (
                "PasswordRequiredType",
                &["DeviceDefault", "Alphanumeric", "Numeric"],
            ),
            (
                "DeviceThreatProtectionRequiredSecurityLevel",
                SECURITY_LEVELS_PASCAL,
            ),
        ],
    },
    Platform {
        odata_type: "iosCompliancePolicy",
        resource_type: "microsoft.intune.devicecompliancepolicyios",
        settings: &[
            "Description",
            "PasscodeBlockSimple",
            "PasscodeExpirationDays",
            "PasscodeMinimumLength",
            "PasscodeMinutesOfInactivityBeforeLock",
            "PasscodeMinutesOfInactivityBeforeScreenTimeout",
            "PasscodePreviousPasscodeBlockCount",
            "PasscodeMinimumCharacterSetCount",
            "PasscodeRequiredType",
            "PasscodeRequired",
            "OsMinimumVersion",
            "OsMaximumVersion",
            "OsMinimumBuildVersion",
            "OsMaximumBuildVersion",
            "SecurityBlockJailbrokenDevices",
            "DeviceThreatProtectionEnabled",
            "DeviceThreatProtectionRequiredSecurityLevel",
            "AdvancedThreatProtectionRequiredSecurityLevel",
            "ManagedEmailProfileRequired",
        ],
        enums: &[],
    },
    Platform {
        odata_type: "androidWorkProfileCompliancePolicy",
        resource_type: "microsoft.intune.devicecompliancepolicyandroidworkprofile",
        settings: &[
            "Description",
            "RequiredPasswordComplexity",
            "SecurityBlockDeviceAdministratorManagedDevices",
            "WorkProfilePasswordRequiredType",
            "WorkProfileRequiredPasswordComplexity",
            "WorkProfileRequirePassword",
            "WorkProfilePreviousPasswordBlockCount",
            "WorkProfileInactiveBeforeScreenLockInMinutes",
            "WorkProfilePasswordMinimumLength",
            "WorkProfilePasswordExpirationInDays",
            "PasswordRequired",
            "PasswordMinimumLength",
            "PasswordRequiredType",
            "PasswordMinutesOfInactivityBeforeLock",
            "PasswordExpirationDays",
            "PasswordPreviousPasswordBlockCount",
            "PasswordSignInFailureCountBeforeFactoryReset",
            "SecurityPreventInstallAppsFromUnknownSources",
            "SecurityDisableUsbDebugging",
            "SecurityRequireVerifyApps",
            "DeviceThreatProtectionEnabled",
            "DeviceThreatProtectionRequiredSecurityLevel",
            "AdvancedThreatProtectionRequiredSecurityLevel",
            "SecurityBlockJailbrokenDevices",
            "OsMinimumVersion",
            "OsMaximumVersion",
            "MinAndroidSecurityPatchLevel",
            "StorageRequireEncryption",
            "SecurityRequireSafetyNetAttestationBasicIntegrity",
            "SecurityRequireSafetyNetAttestationCertifiedDevice",
            "SecurityRequireGooglePlayServices",
            "SecurityRequireUpToDateSecurityProviders",
            "SecurityRequireCompanyPortalAppIntegrity",
            "SecurityRequiredAndroidSafetyNetEvaluationType",
        ],
        enums: &[(
            "WorkProfileRequiredPasswordComplexity",
            &["None", "Low", "Medium", "High"],
        )],
    },
    Platform {
        odata_type: "macOSCompliancePolicy",
        resource_type: "microsoft.intune.devicecompliancepolicymacos",
        settings: &[
            "Description",
            "RoleScopeTagIds",
            "PasswordRequired",
            "PasswordBlockSimple",
            "PasswordExpirationDays",
            "PasswordMinimumLength",
            "PasswordMinutesOfInactivityBeforeLock",
            "PasswordPreviousPasswordBlockCount",
            "PasswordMinimumCharacterSetCount",
            "PasswordRequiredType",
            "OsMinimumVersion",
            "OsMaximumVersion",
            "OsMinimumBuildVersion",
            "OsMaximumBuildVersion",
            "SystemIntegrityProtectionEnabled",
            "DeviceThreatProtectionEnabled",
            "DeviceThreatProtectionRequiredSecurityLevel",
            "AdvancedThreatProtectionRequiredSecurityLevel",
            "StorageRequireEncryption",
            "GatekeeperAllowedAppSource",
            "FirewallEnabled",
            "FirewallBlockAllIncoming",
            "FirewallEnableStealthMode",
        ],
        enums: &[
            (
                "PasswordRequiredType",
                &["DeviceDefault", "Alphanumeric", "Numeric"],
            ),
            (
                "DeviceThreatProtectionRequiredSecurityLevel",
                SECURITY_LEVELS_PASCAL,
            ),
            (
                "AdvancedThreatProtectionRequiredSecurityLevel",
                SECURITY_LEVELS_PASCAL,
            ),
        ],
    },
];

/// Why `scheduledActionsForRule` is not monitored.
const ACTIONS_REASON: &str = "the noncompliance actions are shaped differently in each platform's Microsoft365DSC schema (and absent from the iOS and macOS ones); tenantform does not monitor them";

/// A Graph enum value in the schema's spelling (`alphanumeric` → `Alphanumeric`).
fn spelled(value: &Value, values: &[&str]) -> Value {
    value
        .as_str()
        .and_then(|v| values.iter().find(|s| s.eq_ignore_ascii_case(v)))
        .map_or_else(|| value.clone(), |s| json!(s))
}

/// The policy's assignment set (the body of its `…Assignment` resource) as `Assignments`.
fn assignments(body: &Value, names: &BTreeMap<String, String>) -> Result<Vec<Value>, String> {
    body["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let t = &a["target"];
            let mut out = Map::new();
            out.insert("dataType".into(), t["@odata.type"].clone());
            if let Some(group) = t["groupId"].as_str() {
                if !group.starts_with("${ref:") {
                    return Err(format!(
                        "assignment group {group} is an object id; TCM matches groups by display name, which tenantform knows only for groups it declares"
                    ));
                }
                out.insert("groupDisplayName".into(), json!(named(group, names)?));
            }
            if let Some(filter) = t["deviceAndAppManagementAssignmentFilterId"].as_str() {
                if !filter.starts_with("${ref:") {
                    return Err(format!(
                        "assignment filter {filter} is an object id; TCM matches filters by display name, which tenantform knows only for filters it declares"
                    ));
                }
                out.insert(
                    "deviceAndAppManagementAssignmentFilterDisplayName".into(),
                    json!(named(filter, names)?),
                );
            }
            out.insert(
                "deviceAndAppManagementAssignmentFilterType".into(),
                t.get("deviceAndAppManagementAssignmentFilterType")
                    .cloned()
                    .unwrap_or_else(|| json!("none")),
            );
            Ok(Value::Object(out))
        })
        .collect()
}

/// One `deviceCompliancePolicy` (and its assignment set, if declared) as its platform's TCM
/// resource.
pub(super) fn compliance_policy(
    op: &Operation,
    assignment: Option<&Value>,
    names: &BTreeMap<String, String>,
) -> Result<Mapped, String> {
    let b = &op.body;
    let odata = b["@odata.type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("#microsoft.graph.");
    let platform = PLATFORMS
        .iter()
        .find(|p| p.odata_type == odata)
        .ok_or_else(|| {
            format!("compliance policy type {odata} is not mapped to a TCM resource type yet")
        })?;
    let mut p = Map::new();
    let mut left_out = Vec::new();
    p.insert("DisplayName".into(), b["displayName"].clone());
    for (k, v) in b.as_object().into_iter().flatten() {
        match k.as_str() {
            "@odata.type" | "id" | "displayName" => {}
            "scheduledActionsForRule" => left_out.push((k.clone(), ACTIONS_REASON.into())),
            other => match schema_name(other, platform.settings) {
                Some(name) if !v.is_object() => {
                    let value = platform
                        .enums
                        .iter()
                        .find(|(e, _)| *e == name)
                        .map_or_else(|| v.clone(), |(_, values)| spelled(v, values));
                    p.insert(name.into(), value);
                }
                _ => left_out.push((
                    other.to_string(),
                    format!(
                        "{} has no property for it in Microsoft365DSC's schema",
                        platform.resource_type
                    ),
                )),
            },
        }
    }
    if let Some(body) = assignment {
        p.insert("Assignments".into(), assignments(body, names)?.into());
    }
    Ok(Mapped {
        resource_type: platform.resource_type,
        properties: p,
        left_out,
    })
}
