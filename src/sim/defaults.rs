//! What a new tenant has before anyone configures it: the singleton policies with Microsoft's
//! defaults and every authentication method configuration of the registry's `@odata.type`
//! table with its out-of-the-box state (graph-wire-facts.md sections 5.3 to 5.6).
//!
//! Input: a kind of the registry (and, for fixed members, the member id). Output: the object's
//! JSON as Graph returns it, before the schema fills absent collections. Objects are shared by
//! every tenant until a tenant writes its own copy.

use serde_json::{Map, Value, json};

use crate::kinds::{BUILT_IN_AUTHENTICATION_STRENGTHS, Kind};

/// The moment every simulated tenant was "created" (fixed, so state is deterministic).
pub(crate) const BIRTH: &str = "2024-01-01T00:00:00Z";

/// The well-known id Graph gives the security defaults policy.
const SECURITY_DEFAULTS_ID: &str = "00000000-0000-0000-0000-000000000005";

fn all_users_target() -> Value {
    json!({"id": "all_users", "targetType": "group", "isRegistrationRequired": false})
}

/// The birth state of a singleton kind, or `None` when the kind is not a singleton we know.
pub(crate) fn singleton(kind: &Kind) -> Option<Value> {
    Some(match kind.name {
        "authorizationPolicy" => json!({
            "@odata.type": "#microsoft.graph.authorizationPolicy",
            "id": "authorizationPolicy",
            "allowInvitesFrom": "everyone",
            "allowedToSignUpEmailBasedSubscriptions": true,
            "allowedToUseSSPR": true,
            "allowEmailVerifiedUsersToJoinOrganization": false,
            "allowUserConsentForRiskyApps": null,
            "blockMsolPowerShell": false,
            "description": "Used to manage authorization related settings across the company.",
            "displayName": "Authorization Policy",
            "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
            "deletedDateTime": null,
            "defaultUserRolePermissions": {
                "allowedToCreateApps": true,
                "allowedToCreateSecurityGroups": true,
                "allowedToCreateTenants": true,
                "allowedToReadBitlockerKeysForOwnedDevice": true,
                "allowedToReadOtherUsers": true,
                "permissionGrantPoliciesAssigned": [
                    "ManagePermissionGrantsForSelf.microsoft-user-default-legacy"
                ]
            }
        }),
        "authenticationMethodsPolicy" => json!({
            "@odata.type": "#microsoft.graph.authenticationMethodsPolicy",
            "id": "authenticationMethodsPolicy",
            "displayName": "Authentication Methods Policy",
            "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
            "lastModifiedDateTime": BIRTH,
            "policyVersion": "1.5",
            "reconfirmationInDays": 0,
            "policyMigrationState": "preMigration",
            "registrationEnforcement": {
                "authenticationMethodsRegistrationCampaign": {
                    "snoozeDurationInDays": 1,
                    "state": "default",
                    "excludeTargets": [],
                    "includeTargets": [{
                        "id": "all_users",
                        "targetType": "group",
                        "targetedAuthenticationMethod": "microsoftAuthenticator"
                    }]
                }
            }
        }),
        "identitySecurityDefaultsEnforcementPolicy" => json!({
            "@odata.type": "#microsoft.graph.identitySecurityDefaultsEnforcementPolicy",
            "id": SECURITY_DEFAULTS_ID,
            "displayName": "Security Defaults",
            "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft. When enabled, these recommendations will be automatically enforced in your organization. Administrators and users will be better protected from common identity related attacks.",
            "isEnabled": true,
            "deletedDateTime": null
        }),
        "crossTenantAccessPolicyDefault" => {
            let b2b = |access: &str| {
                json!({
                    "usersAndGroups": {"accessType": access, "targets": [{"target": "AllUsers", "targetType": "user"}]},
                    "applications": {"accessType": access, "targets": [{"target": "AllApplications", "targetType": "application"}]}
                })
            };
            json!({
                "@odata.type": "#microsoft.graph.crossTenantAccessPolicyConfigurationDefault",
                "isServiceDefault": true,
                "inboundTrust": {
                    "isMfaAccepted": false,
                    "isCompliantDeviceAccepted": false,
                    "isHybridAzureADJoinedDeviceAccepted": false
                },
                "automaticUserConsentSettings": {"inboundAllowed": false, "outboundAllowed": false},
                "b2bCollaborationOutbound": b2b("allowed"),
                "b2bCollaborationInbound": b2b("allowed"),
                "b2bDirectConnectOutbound": b2b("blocked"),
                "b2bDirectConnectInbound": b2b("blocked"),
                "tenantRestrictions": b2b("blocked"),
                "invitationRedemptionIdentityProviderConfiguration": {
                    "primaryIdentityProviderPrecedenceOrder": [
                        "externalFederation",
                        "azureActiveDirectory",
                        "socialIdentityProviders"
                    ],
                    "fallbackIdentityProvider": "defaultConfiguredIdp"
                }
            })
        }
        // Microsoft Learn's GET examples (adminConsentRequestPolicy, tenantAppManagementPolicy,
        // authenticationFlowsPolicy, deviceRegistrationPolicy, beta externalIdentitiesPolicy),
        // with the out-of-the-box values a new tenant has: the workflow off, no credential
        // restrictions, self-service sign-up on, every user may join and register devices.
        "adminConsentRequestPolicy" => json!({
            "id": "adminConsentRequestPolicy",
            "isEnabled": false,
            "notifyReviewers": false,
            "remindersEnabled": false,
            "requestDurationInDays": 30,
            "version": 0,
            "reviewers": []
        }),
        "tenantAppManagementPolicy" => json!({
            "id": "00000000-0000-0000-0000-000000000000",
            "displayName": "Default app management tenant policy",
            "description": "Default tenant policy that enforces app management restrictions on applications and service principals. To apply policy to targeted resources, create a new policy under appManagementPolicies collection.",
            "isEnabled": false,
            "deletedDateTime": null,
            "applicationRestrictions": {"passwordCredentials": [], "keyCredentials": []},
            "servicePrincipalRestrictions": {"passwordCredentials": [], "keyCredentials": []}
        }),
        "authenticationFlowsPolicy" => json!({
            "id": "authenticationFlowsPolicy",
            "displayName": "Authentication flows policy",
            "description": "Authentication flows policy allows modification of settings related to authentication flows in Microsoft Entra ID.",
            "selfServiceSignUp": {"isEnabled": true}
        }),
        "deviceRegistrationPolicy" => {
            let everyone =
                || json!({"@odata.type": "#microsoft.graph.allDeviceRegistrationMembership"});
            json!({
                "id": "deviceRegistrationPolicy",
                "displayName": "Device Registration Policy",
                "description": "Tenant-wide policy that manages initial provisioning controls using quota restrictions, additional authentication and authorization checks",
                "userDeviceQuota": 50,
                "multiFactorAuthConfiguration": "notRequired",
                "azureADRegistration": {"isAdminConfigurable": false, "allowedToRegister": everyone()},
                "azureADJoin": {
                    "isAdminConfigurable": true,
                    "allowedToJoin": everyone(),
                    "localAdmins": {"enableGlobalAdmins": true, "registeringUsers": everyone()}
                },
                "localAdminPassword": {"isEnabled": false}
            })
        }
        "externalIdentitiesPolicy" => json!({
            "id": "externalIdentitiesPolicy",
            "allowExternalIdentitiesToLeave": true,
            "allowDeletedIdentitiesDataRemoval": false
        }),
        _ => return None,
    })
}

/// The birth state of one fixed member (`Fido2`, `Sms`, ...) by its PascalCase id; `odata_type`
/// is the member's `#microsoft.graph.*` type from the registry.
pub(crate) fn member(id: &str, odata_type: &str) -> Value {
    let mut object = match id {
        "Email" => json!({
            "state": "enabled",
            "allowExternalIdToUseEmailOtp": "default",
            "includeTargets": [all_users_target()]
        }),
        "Fido2" => json!({
            "state": "disabled",
            "isAttestationEnforced": false,
            "isSelfServiceRegistrationAllowed": true,
            "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []},
            "includeTargets": [all_users_target()]
        }),
        "MicrosoftAuthenticator" => {
            let feature = || {
                json!({
                    "state": "default",
                    "includeTarget": {"targetType": "group", "id": "all_users"},
                    "excludeTarget": {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"}
                })
            };
            json!({
                "state": "enabled",
                "isSoftwareOathEnabled": false,
                "featureSettings": {
                    "displayAppInformationRequiredState": feature(),
                    "displayLocationInformationRequiredState": feature()
                },
                "includeTargets": [{
                    "id": "all_users",
                    "targetType": "group",
                    "isRegistrationRequired": false,
                    "authenticationMode": "any"
                }]
            })
        }
        "QRCodePin" => json!({
            "state": "disabled",
            "standardQRCodeLifetimeInDays": 365,
            "pinLength": 8,
            "includeTargets": [all_users_target()]
        }),
        "Sms" => json!({
            "state": "disabled",
            "includeTargets": [{
                "id": "all_users",
                "targetType": "group",
                "isRegistrationRequired": false,
                "isUsableForSignIn": true
            }]
        }),
        "TemporaryAccessPass" => json!({
            "state": "disabled",
            "defaultLifetimeInMinutes": 60,
            "defaultLength": 8,
            "minimumLifetimeInMinutes": 60,
            "maximumLifetimeInMinutes": 480,
            "isUsableOnce": false,
            "includeTargets": [all_users_target()]
        }),
        "Voice" => json!({
            "state": "disabled",
            "isOfficePhoneAllowed": false,
            "includeTargets": [all_users_target()]
        }),
        "X509Certificate" => json!({
            "state": "disabled",
            "certificateUserBindings": [
                {"x509CertificateField": "PrincipalName", "userProperty": "onPremisesUserPrincipalName", "priority": 1, "trustAffinityLevel": "low"},
                {"x509CertificateField": "RFC822Name", "userProperty": "userPrincipalName", "priority": 2, "trustAffinityLevel": "low"},
                {"x509CertificateField": "SubjectKeyIdentifier", "userProperty": "certificateUserIds", "priority": 3, "trustAffinityLevel": "high"}
            ],
            "authenticationModeConfiguration": {
                "x509CertificateAuthenticationDefaultMode": "x509CertificateSingleFactor",
                "x509CertificateDefaultRequiredAffinityLevel": "low",
                "rules": []
            },
            "crlValidationConfiguration": {
                "state": "disabled",
                "exemptedCertificateAuthoritiesSubjectKeyIdentifiers": []
            },
            "includeTargets": [all_users_target()]
        }),
        _ => json!({"state": "disabled", "includeTargets": [all_users_target()]}),
    };
    let mut out = Map::new();
    out.insert("@odata.type".into(), Value::from(odata_type));
    out.insert("id".into(), Value::from(id));
    if let Value::Object(map) = &mut object {
        out.append(map);
    }
    out.entry("excludeTargets")
        .or_insert_with(|| Value::Array(Vec::new()));
    Value::Object(out)
}

/// The built-in authentication strength policy with this id, as Graph expands it inside a
/// Conditional Access policy's `grantControls.authenticationStrength`.
pub(crate) fn built_in_authentication_strength(id: &str) -> Option<Value> {
    let (id, name, description, combinations) = BUILT_IN_AUTHENTICATION_STRENGTHS
        .iter()
        .find(|(known, ..)| known.eq_ignore_ascii_case(id))?;
    Some(json!({
        "id": id,
        "createdDateTime": "2021-12-01T00:00:00Z",
        "modifiedDateTime": "2021-12-01T00:00:00Z",
        "displayName": name,
        "description": description,
        "policyType": "builtIn",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": combinations,
        "combinationConfigurations": []
    }))
}

/// Objects every tenant's collection of `kind` holds from birth and no one may change: the
/// built-in authentication strengths.
pub(crate) fn built_in_members(kind: &Kind) -> Vec<Value> {
    match kind.name {
        "authenticationStrengthPolicy" => BUILT_IN_AUTHENTICATION_STRENGTHS
            .iter()
            .filter_map(|(id, ..)| built_in_authentication_strength(id))
            .collect(),
        _ => Vec::new(),
    }
}

/// Expand references Graph returns expanded: a built-in authentication strength named by id
/// in `grantControls.authenticationStrength` becomes the whole policy.
pub(crate) fn expand_references(entity: &mut Value) {
    let Some(strength) = entity.pointer_mut("/grantControls/authenticationStrength") else {
        return;
    };
    let expanded = strength
        .get("id")
        .and_then(Value::as_str)
        .and_then(built_in_authentication_strength);
    if let Some(expanded) = expanded {
        *strength = expanded;
    }
}

/// Kinds whose collections a new tenant already holds objects in.
const COLLECTION_BIRTH_KINDS: &[&str] = &["deviceEnrollmentConfiguration", "roleScopeTag"];

/// True when a new tenant already has objects of this collection kind.
pub(crate) fn has_collection_birth(kind: &Kind) -> bool {
    COLLECTION_BIRTH_KINDS.contains(&kind.name)
}

/// Description Intune gives each default enrollment restriction: `(type, id suffix, text)`.
const DEFAULT_ENROLLMENT: &[(&str, &str, &str)] = &[
    (
        "deviceEnrollmentLimitConfiguration",
        "DefaultLimit",
        "This is the default Device Limit Restriction applied with the lowest priority to all users regardless of group membership.",
    ),
    (
        "deviceEnrollmentPlatformRestrictionsConfiguration",
        "DefaultPlatformRestrictions",
        "This is the default Device Type Restriction applied with the lowest priority to all users regardless of group membership.",
    ),
    (
        "deviceEnrollmentWindowsHelloForBusinessConfiguration",
        "DefaultWindowsHelloForBusiness",
        "This is the default Windows Hello for Business configuration applied with the lowest priority to all users regardless of group membership.",
    ),
    (
        "windows10EnrollmentCompletionPageConfiguration",
        "DefaultWindows10EnrollmentCompletionPageConfiguration",
        "This is the default enrollment status screen configuration applied with the lowest priority to all users and all devices regardless of group membership.",
    ),
];

/// The objects a new tenant has of a collection kind (ids derived from the tenant id, as
/// Intune's are): Intune's built-in `Default` scope tag (id `0`), and the four default
/// enrollment restrictions and configurations (priority 0, "All users and all devices"), which
/// can be changed but not created or deleted.
pub(crate) fn collection_birth(kind: &Kind, tenant_id: &str) -> Vec<Value> {
    match kind.name {
        "roleScopeTag" => vec![json!({
            "@odata.type": "#microsoft.graph.roleScopeTag",
            "id": "0",
            "displayName": "Default",
            "description": "",
            "isBuiltIn": true
        })],
        "deviceEnrollmentConfiguration" => DEFAULT_ENROLLMENT
            .iter()
            .map(|(odata_type, suffix, description)| {
                let mut value = json!({
                    "@odata.type": format!("#microsoft.graph.{odata_type}"),
                    "id": format!("{tenant_id}_{suffix}"),
                    "displayName": "All users and all devices",
                    "description": description,
                    "priority": 0,
                    "createdDateTime": BIRTH,
                    "lastModifiedDateTime": BIRTH,
                    "version": 0
                });
                let specific = default_enrollment_settings(odata_type);
                if let (Value::Object(map), Value::Object(more)) = (&mut value, specific) {
                    map.extend(more);
                }
                value
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Intune's out-of-the-box settings of each default enrollment configuration.
fn default_enrollment_settings(odata_type: &str) -> Value {
    let open = json!({
        "platformBlocked": false,
        "personalDeviceEnrollmentBlocked": false,
        "osMinimumVersion": null,
        "osMaximumVersion": null
    });
    match odata_type {
        "deviceEnrollmentLimitConfiguration" => json!({"limit": 5}),
        "deviceEnrollmentPlatformRestrictionsConfiguration" => json!({
            "androidRestriction": open,
            "iosRestriction": open,
            "macOSRestriction": open,
            "windowsMobileRestriction": open,
            "windowsRestriction": open
        }),
        "deviceEnrollmentWindowsHelloForBusinessConfiguration" => json!({
            "pinMinimumLength": 6,
            "pinMaximumLength": 127,
            "pinUppercaseCharactersUsage": "disallowed",
            "pinLowercaseCharactersUsage": "disallowed",
            "pinSpecialCharactersUsage": "disallowed",
            "state": "notConfigured",
            "securityDeviceRequired": false,
            "unlockWithBiometricsEnabled": true,
            "remotePassportEnabled": true,
            "pinPreviousBlockCount": 0,
            "pinExpirationInDays": 0,
            "enhancedBiometricsState": "notConfigured"
        }),
        "windows10EnrollmentCompletionPageConfiguration" => json!({
            "allowNonBlockingAppInstallation": false
        }),
        _ => json!({}),
    }
}
