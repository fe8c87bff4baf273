//! The Intune (device management) kinds of the registry: configuration profiles, Settings
//! Catalog policies, compliance policies, assignment filters, scope tags, app protection,
//! feature update profiles, enrollment configurations, Autopilot profiles and store apps, with
//! their assignment sets. Data only; the types are in [`super`].

use super::*;

const COMPLIANCE_TYPES: &[&str] = &[
    "androidCompliancePolicy",
    "androidWorkProfileCompliancePolicy",
    "iosCompliancePolicy",
    "macOSCompliancePolicy",
    "windows10CompliancePolicy",
    "windows10MobileCompliancePolicy",
    "windows81CompliancePolicy",
    "windowsPhone81CompliancePolicy",
];

const DEVICE_CONFIGURATION_TYPES: &[&str] = &[
    "androidCustomConfiguration",
    "androidGeneralDeviceConfiguration",
    "androidWorkProfileCustomConfiguration",
    "androidWorkProfileGeneralDeviceConfiguration",
    "editionUpgradeConfiguration",
    "iosCustomConfiguration",
    "iosDeviceFeaturesConfiguration",
    "iosGeneralDeviceConfiguration",
    "iosUpdateConfiguration",
    "macOSCustomConfiguration",
    "macOSDeviceFeaturesConfiguration",
    "macOSGeneralDeviceConfiguration",
    "sharedPCConfiguration",
    "windows10CustomConfiguration",
    "windows10EndpointProtectionConfiguration",
    "windows10EnterpriseModernAppManagementConfiguration",
    "windows10GeneralConfiguration",
    "windows10SecureAssessmentConfiguration",
    "windows10TeamGeneralConfiguration",
    "windows81GeneralConfiguration",
    "windowsDefenderAdvancedThreatProtectionConfiguration",
    "windowsPhone81CustomConfiguration",
    "windowsPhone81GeneralConfiguration",
    "windowsUpdateForBusinessConfiguration",
];

/// The kind an assignment target's `deviceAndAppManagementAssignmentFilterId` points at.
const FILTER: &str = "deviceAndAppManagementAssignmentFilter";

/// References in an `{"assignments": [...]}` body: group targets and assignment filters.
pub(super) const ASSIGNMENT_REF_SLOTS: &[RefSlot] = &[
    RefSlot {
        pointer: "/assignments/*/target/groupId",
        kind: "group",
    },
    RefSlot {
        pointer: "/assignments/*/target/deviceAndAppManagementAssignmentFilterId",
        kind: FILTER,
    },
];

/// Permission of device configuration, filters and update profiles.
const CONFIGURATION: &[&str] = &["DeviceManagementConfiguration.ReadWrite.All"];
/// Permission of apps and app protection (Microsoft Learn, "Create mobileApp", "Create
/// iosManagedAppProtection").
const APPS: &[&str] = &["DeviceManagementApps.ReadWrite.All"];
/// Permission of enrollment configurations and Autopilot profiles.
const SERVICE_CONFIGURATION: &[&str] = &["DeviceManagementServiceConfig.ReadWrite.All"];

const ENROLLMENT_TYPES: &[&str] = &[
    "deviceEnrollmentLimitConfiguration",
    "deviceEnrollmentPlatformRestrictionsConfiguration",
    "deviceEnrollmentWindowsHelloForBusinessConfiguration",
    "windows10EnrollmentCompletionPageConfiguration",
];

/// Store and link apps (no content upload): Microsoft Store (new) via winGet, web links, iOS and
/// Android store apps.
const STORE_APP_TYPES: &[&str] = &["androidStoreApp", "iosStoreApp", "webApp", "winGetApp"];

const AUTOPILOT_TYPES: &[&str] = &[
    "activeDirectoryWindowsAutopilotDeploymentProfile",
    "azureADWindowsAutopilotDeploymentProfile",
];

const MOBILE_APP_ASSIGNMENT_REF_SLOTS: &[RefSlot] = &[
    RefSlot {
        pointer: "/mobileAppAssignments/*/target/groupId",
        kind: "group",
    },
    RefSlot {
        pointer: "/mobileAppAssignments/*/target/deviceAndAppManagementAssignmentFilterId",
        kind: FILTER,
    },
];

const ENROLLMENT_ASSIGNMENT_REF_SLOTS: &[RefSlot] = &[
    RefSlot {
        pointer: "/enrollmentConfigurationAssignments/*/target/groupId",
        kind: "group",
    },
    RefSlot {
        pointer: "/enrollmentConfigurationAssignments/*/target/deviceAndAppManagementAssignmentFilterId",
        kind: FILTER,
    },
];

/// The kind `roleScopeTagIds` (and a filter's `roleScopeTags`) point at: a tenant's own tags by
/// reference (`scope-tag:helpdesk`), the built-in one as `"0"`.
const SCOPE_TAG_REF_SLOTS: &[RefSlot] = &[RefSlot {
    pointer: "/roleScopeTagIds/*",
    kind: "roleScopeTag",
}];

/// Server-set properties every Intune object has, ignored in comparisons.
const SERVER_SET: &[&str] = &["id", "createdDateTime", "lastModifiedDateTime", "version"];

/// A collection kind of Intune objects: created with POST, updated with PATCH, throttled as
/// Intune, licensed by an Intune plan.
#[allow(clippy::too_many_arguments)]
const fn intune_collection(
    name: &'static str,
    ref_prefix: &'static str,
    summary: &'static str,
    api_version: ApiVersion,
    path: &'static str,
    match_key: &'static [&'static str],
    permissions: &'static [&'static str],
    schema: SchemaSpec,
    set_arrays: &'static [&'static str],
    lints: &'static [KindLint],
) -> Kind {
    Kind {
        name,
        ref_prefix,
        summary,
        api_version,
        shape: Shape::Collection,
        path,
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key,
        parent_kind: None,
        throttle: ThrottleClass::Intune,
        permissions,
        licences: &[INTUNE],
        read_expand: None,
        schema,
        ref_slots: &[],
        normalization: Normalization {
            set_arrays,
            ignore: SERVER_SET,
            null_equals_empty: true,
        },
        lints,
    }
}

/// An action that replaces a whole set on its parent (`/assign`, `/targetApps`): the body is
/// `{"<parameter>": [<root_type>, ...]}`, compared as a set.
#[allow(clippy::too_many_arguments)]
const fn parent_action(
    name: &'static str,
    ref_prefix: &'static str,
    summary: &'static str,
    api_version: ApiVersion,
    path: &'static str,
    parent_kind: &'static str,
    permissions: &'static [&'static str],
    root_type: &'static str,
    parameter: &'static [&'static str; 1],
    set_pointer: &'static [&'static str],
    ref_slots: &'static [RefSlot],
) -> Kind {
    Kind {
        name,
        ref_prefix,
        summary,
        api_version,
        shape: Shape::ParentAction,
        path,
        path_params: &[("parent", PathParam::Parent)],
        create_method: Some(Method::Post),
        update_method: Method::Post,
        match_key: &[],
        parent_kind: Some(parent_kind),
        throttle: ThrottleClass::Intune,
        permissions,
        licences: &[INTUNE],
        read_expand: None,
        schema: SchemaSpec {
            id: name,
            root_type,
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: parameter,
            read_only: &[],
            odata_type_required: false,
            action_parameter: Some(parameter[0]),
        },
        ref_slots,
        normalization: Normalization {
            set_arrays: set_pointer,
            ..NO_NORMALIZATION
        },
        lints: &[],
    }
}

/// An Intune schema spec with the usual defaults (no inline navigation, no action).
const fn spec(
    id: &'static str,
    root_type: &'static str,
    concrete_types: &'static [&'static str],
    required_on_create: &'static [&'static str],
    read_only: &'static [&'static str],
) -> SchemaSpec {
    SchemaSpec {
        id,
        root_type,
        concrete_types,
        inline_navigation: &[],
        required_on_create,
        read_only,
        odata_type_required: !concrete_types.is_empty(),
        action_parameter: None,
    }
}

/// The Intune kinds, in any order ([`super::all`] sorts the registry).
pub(super) const INTUNE_KINDS: &[Kind] = &[
    Kind {
        name: "configurationPolicy",
        ref_prefix: "settings-policy",
        summary: "An Intune Settings Catalog policy (beta); matched by name",
        api_version: ApiVersion::Beta,
        shape: Shape::Collection,
        path: "/deviceManagement/configurationPolicies",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Put,
        match_key: &["name"],
        parent_kind: None,
        throttle: ThrottleClass::Intune,
        permissions: &["DeviceManagementConfiguration.ReadWrite.All"],
        licences: &[INTUNE],
        schema: SchemaSpec {
            id: "configurationPolicy",
            root_type: "deviceManagementConfigurationPolicy",
            concrete_types: &[],
            inline_navigation: &[("deviceManagementConfigurationPolicy", "settings")],
            required_on_create: &["name", "platforms", "technologies", "settings"],
            read_only: &[
                "id",
                "createdDateTime",
                "lastModifiedDateTime",
                "settingCount",
                "isAssigned",
                "creationSource",
            ],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: Normalization {
            set_arrays: &["/roleScopeTagIds"],
            ..NO_NORMALIZATION
        },
        lints: &[],
        read_expand: None,
    },
    Kind {
        name: "configurationPolicyAssignment",
        ref_prefix: "settings-policy-assignment",
        summary: "The full assignment set of a Settings Catalog policy (beta /assign replaces all); needs parent",
        api_version: ApiVersion::Beta,
        shape: Shape::ParentAction,
        path: "/deviceManagement/configurationPolicies/{parent}/assign",
        path_params: &[("parent", PathParam::Parent)],
        create_method: Some(Method::Post),
        update_method: Method::Post,
        match_key: &[],
        parent_kind: Some("configurationPolicy"),
        throttle: ThrottleClass::Intune,
        permissions: &["DeviceManagementConfiguration.ReadWrite.All"],
        licences: &[INTUNE],
        schema: SchemaSpec {
            id: "configurationPolicyAssignment",
            root_type: "deviceManagementConfigurationPolicyAssignment",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &["assignments"],
            read_only: &[],
            odata_type_required: false,
            action_parameter: Some("assignments"),
        },
        ref_slots: ASSIGNMENT_REF_SLOTS,
        normalization: Normalization {
            set_arrays: &["/assignments"],
            ..NO_NORMALIZATION
        },
        lints: &[],
        read_expand: None,
    },
    Kind {
        name: "deviceCompliancePolicy",
        ref_prefix: "compliance-policy",
        summary: "An Intune compliance policy (windows10, iOS, android, macOS, ...); matched by displayName + @odata.type",
        api_version: ApiVersion::V1,
        shape: Shape::Collection,
        path: "/deviceManagement/deviceCompliancePolicies",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key: &["displayName", "@odata.type"],
        parent_kind: None,
        throttle: ThrottleClass::Intune,
        permissions: &["DeviceManagementConfiguration.ReadWrite.All"],
        licences: &[INTUNE],
        schema: SchemaSpec {
            id: "deviceCompliancePolicy",
            root_type: "deviceCompliancePolicy",
            concrete_types: COMPLIANCE_TYPES,
            inline_navigation: &[
                ("deviceCompliancePolicy", "scheduledActionsForRule"),
                (
                    "deviceComplianceScheduledActionForRule",
                    "scheduledActionConfigurations",
                ),
            ],
            required_on_create: &["displayName", "scheduledActionsForRule"],
            read_only: &["id", "createdDateTime", "lastModifiedDateTime", "version"],
            odata_type_required: true,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: Normalization {
            set_arrays: &[],
            ignore: &[
                "id",
                "createdDateTime",
                "lastModifiedDateTime",
                "version",
                "scheduledActionsForRule",
            ],
            null_equals_empty: true,
        },
        lints: &[KindLint::ComplianceBlockAction],
        // Graph leaves the scheduled actions (and, nested, their configurations) out of a GET
        // unless both levels are expanded (the Intune docs' "Get deviceCompliancePolicy").
        read_expand: Some("scheduledActionsForRule($expand=scheduledActionConfigurations)"),
    },
    Kind {
        name: "deviceCompliancePolicyAssignment",
        ref_prefix: "compliance-assignment",
        summary: "The full assignment set of a compliance policy (/assign replaces all); needs parent",
        api_version: ApiVersion::V1,
        shape: Shape::ParentAction,
        path: "/deviceManagement/deviceCompliancePolicies/{parent}/assign",
        path_params: &[("parent", PathParam::Parent)],
        create_method: Some(Method::Post),
        update_method: Method::Post,
        match_key: &[],
        parent_kind: Some("deviceCompliancePolicy"),
        throttle: ThrottleClass::Intune,
        permissions: &["DeviceManagementConfiguration.ReadWrite.All"],
        licences: &[INTUNE],
        schema: SchemaSpec {
            id: "deviceCompliancePolicyAssignment",
            root_type: "deviceCompliancePolicyAssignment",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &["assignments"],
            read_only: &[],
            odata_type_required: false,
            action_parameter: Some("assignments"),
        },
        ref_slots: ASSIGNMENT_REF_SLOTS,
        normalization: Normalization {
            set_arrays: &["/assignments"],
            ..NO_NORMALIZATION
        },
        lints: &[],
        read_expand: None,
    },
    Kind {
        name: "deviceConfiguration",
        ref_prefix: "device-configuration",
        summary: "An Intune device configuration profile (24 subtypes); matched by displayName + @odata.type",
        api_version: ApiVersion::V1,
        shape: Shape::Collection,
        path: "/deviceManagement/deviceConfigurations",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key: &["displayName", "@odata.type"],
        parent_kind: None,
        throttle: ThrottleClass::Intune,
        permissions: &["DeviceManagementConfiguration.ReadWrite.All"],
        licences: &[INTUNE],
        schema: SchemaSpec {
            id: "deviceConfiguration",
            root_type: "deviceConfiguration",
            concrete_types: DEVICE_CONFIGURATION_TYPES,
            inline_navigation: &[],
            required_on_create: &["displayName"],
            read_only: &["id", "createdDateTime", "lastModifiedDateTime", "version"],
            odata_type_required: true,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
        read_expand: None,
    },
    Kind {
        name: "deviceConfigurationAssignment",
        ref_prefix: "configuration-assignment",
        summary: "The full assignment set of a device configuration (/assign replaces all); needs parent",
        api_version: ApiVersion::V1,
        shape: Shape::ParentAction,
        path: "/deviceManagement/deviceConfigurations/{parent}/assign",
        path_params: &[("parent", PathParam::Parent)],
        create_method: Some(Method::Post),
        update_method: Method::Post,
        match_key: &[],
        parent_kind: Some("deviceConfiguration"),
        throttle: ThrottleClass::Intune,
        permissions: &["DeviceManagementConfiguration.ReadWrite.All"],
        licences: &[INTUNE],
        schema: SchemaSpec {
            id: "deviceConfigurationAssignment",
            root_type: "deviceConfigurationAssignment",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &["assignments"],
            read_only: &[],
            odata_type_required: false,
            action_parameter: Some("assignments"),
        },
        ref_slots: ASSIGNMENT_REF_SLOTS,
        normalization: Normalization {
            set_arrays: &["/assignments"],
            ..NO_NORMALIZATION
        },
        lints: &[],
        read_expand: None,
    },
    Kind {
        ref_slots: &[RefSlot {
            pointer: "/roleScopeTags/*",
            kind: "roleScopeTag",
        }],
        ..intune_collection(
            "deviceAndAppManagementAssignmentFilter",
            "assignment-filter",
            "An Intune assignment filter (beta); matched by displayName + platform",
            ApiVersion::Beta,
            "/deviceManagement/assignmentFilters",
            &["displayName", "platform"],
            CONFIGURATION,
            spec(
                "deviceAndAppManagementAssignmentFilter",
                "deviceAndAppManagementAssignmentFilter",
                &[],
                &["displayName", "platform", "rule"],
                &["id", "createdDateTime", "lastModifiedDateTime"],
            ),
            &["/roleScopeTags"],
            &[],
        )
    },
    intune_collection(
        "roleScopeTag",
        "scope-tag",
        "An Intune scope tag (beta); matched by displayName; the built-in Default (id 0) is never written",
        ApiVersion::Beta,
        "/deviceManagement/roleScopeTags",
        &["displayName"],
        &["DeviceManagementRBAC.ReadWrite.All"],
        spec(
            "roleScopeTag",
            "roleScopeTag",
            &[],
            &["displayName"],
            &["id", "isBuiltIn"],
        ),
        &[],
        &[KindLint::BuiltInScopeTag],
    ),
    intune_collection(
        "iosManagedAppProtection",
        "ios-app-protection",
        "An iOS/iPadOS app protection policy; matched by displayName",
        ApiVersion::V1,
        "/deviceAppManagement/iosManagedAppProtections",
        &["displayName"],
        APPS,
        spec(
            "iosManagedAppProtection",
            "iosManagedAppProtection",
            &[],
            &["displayName"],
            &[
                "id",
                "createdDateTime",
                "lastModifiedDateTime",
                "version",
                "deployedAppCount",
                "isAssigned",
            ],
        ),
        &["/allowedDataStorageLocations"],
        &[],
    ),
    parent_action(
        "iosManagedAppProtectionAssignment",
        "ios-app-protection-assignment",
        "The full assignment set of an iOS app protection policy (/assign replaces all); needs parent",
        ApiVersion::V1,
        "/deviceAppManagement/iosManagedAppProtections/{parent}/assign",
        "iosManagedAppProtection",
        APPS,
        "targetedManagedAppPolicyAssignment",
        &["assignments"],
        &["/assignments"],
        ASSIGNMENT_REF_SLOTS,
    ),
    parent_action(
        "iosManagedAppProtectionApps",
        "ios-app-protection-apps",
        "The apps an iOS app protection policy protects (/targetApps replaces all); needs parent",
        ApiVersion::V1,
        "/deviceAppManagement/iosManagedAppProtections/{parent}/targetApps",
        "iosManagedAppProtection",
        APPS,
        "managedMobileApp",
        &["apps"],
        &["/apps"],
        &[],
    ),
    intune_collection(
        "androidManagedAppProtection",
        "android-app-protection",
        "An Android app protection policy; matched by displayName",
        ApiVersion::V1,
        "/deviceAppManagement/androidManagedAppProtections",
        &["displayName"],
        APPS,
        spec(
            "androidManagedAppProtection",
            "androidManagedAppProtection",
            &[],
            &["displayName"],
            &[
                "id",
                "createdDateTime",
                "lastModifiedDateTime",
                "version",
                "deployedAppCount",
                "isAssigned",
            ],
        ),
        &["/allowedDataStorageLocations"],
        &[],
    ),
    parent_action(
        "androidManagedAppProtectionAssignment",
        "android-app-protection-assignment",
        "The full assignment set of an Android app protection policy (/assign replaces all); needs parent",
        ApiVersion::V1,
        "/deviceAppManagement/androidManagedAppProtections/{parent}/assign",
        "androidManagedAppProtection",
        APPS,
        "targetedManagedAppPolicyAssignment",
        &["assignments"],
        &["/assignments"],
        ASSIGNMENT_REF_SLOTS,
    ),
    parent_action(
        "androidManagedAppProtectionApps",
        "android-app-protection-apps",
        "The apps an Android app protection policy protects (/targetApps replaces all); needs parent",
        ApiVersion::V1,
        "/deviceAppManagement/androidManagedAppProtections/{parent}/targetApps",
        "androidManagedAppProtection",
        APPS,
        "managedMobileApp",
        &["apps"],
        &["/apps"],
        &[],
    ),
    Kind {
        ref_slots: SCOPE_TAG_REF_SLOTS,
        ..intune_collection(
            "windowsFeatureUpdateProfile",
            "feature-update-profile",
            "A Windows feature update profile (beta); matched by displayName",
            ApiVersion::Beta,
            "/deviceManagement/windowsFeatureUpdateProfiles",
            &["displayName"],
            CONFIGURATION,
            spec(
                "windowsFeatureUpdateProfile",
                "windowsFeatureUpdateProfile",
                &[],
                &["displayName", "featureUpdateVersion"],
                &[
                    "id",
                    "createdDateTime",
                    "lastModifiedDateTime",
                    "deployableContentDisplayName",
                    "endOfSupportDate",
                ],
            ),
            &["/roleScopeTagIds"],
            &[],
        )
    },
    parent_action(
        "windowsFeatureUpdateProfileAssignment",
        "feature-update-assignment",
        "The full assignment set of a feature update profile (beta /assign replaces all); needs parent",
        ApiVersion::Beta,
        "/deviceManagement/windowsFeatureUpdateProfiles/{parent}/assign",
        "windowsFeatureUpdateProfile",
        CONFIGURATION,
        "windowsFeatureUpdateProfileAssignment",
        &["assignments"],
        &["/assignments"],
        ASSIGNMENT_REF_SLOTS,
    ),
    intune_collection(
        "deviceEnrollmentConfiguration",
        "enrollment-configuration",
        "An enrollment restriction or configuration (limit, platforms, Windows Hello, ESP); matched by displayName + @odata.type; the defaults are updated, never created",
        ApiVersion::V1,
        "/deviceManagement/deviceEnrollmentConfigurations",
        &["displayName", "@odata.type"],
        SERVICE_CONFIGURATION,
        spec(
            "deviceEnrollmentConfiguration",
            "deviceEnrollmentConfiguration",
            ENROLLMENT_TYPES,
            &["displayName"],
            &["id", "createdDateTime", "lastModifiedDateTime", "version"],
        ),
        &[],
        &[],
    ),
    parent_action(
        "deviceEnrollmentConfigurationAssignment",
        "enrollment-assignment",
        "The full assignment set of an enrollment configuration (/assign replaces all); needs parent",
        ApiVersion::V1,
        "/deviceManagement/deviceEnrollmentConfigurations/{parent}/assign",
        "deviceEnrollmentConfiguration",
        SERVICE_CONFIGURATION,
        "enrollmentConfigurationAssignment",
        &["enrollmentConfigurationAssignments"],
        &["/enrollmentConfigurationAssignments"],
        ENROLLMENT_ASSIGNMENT_REF_SLOTS,
    ),
    Kind {
        ref_slots: SCOPE_TAG_REF_SLOTS,
        ..intune_collection(
            "windowsAutopilotDeploymentProfile",
            "autopilot-profile",
            "A Windows Autopilot deployment profile (beta; Entra joined or hybrid joined); matched by displayName",
            ApiVersion::Beta,
            "/deviceManagement/windowsAutopilotDeploymentProfiles",
            &["displayName"],
            SERVICE_CONFIGURATION,
            spec(
                "windowsAutopilotDeploymentProfile",
                "windowsAutopilotDeploymentProfile",
                AUTOPILOT_TYPES,
                &["displayName"],
                &["id", "createdDateTime", "lastModifiedDateTime"],
            ),
            &["/roleScopeTagIds"],
            &[],
        )
    },
    // Learn (beta), windowsAutopilotDeploymentProfile: the `assignments` navigation, created
    // one at a time (`POST .../{id}/assignments`, a windowsAutopilotDeploymentProfileAssignment
    // with its `target`) and deleted by id; there is no `/assign` that replaces the set.
    parent_action(
        "windowsAutopilotDeploymentProfileAssignment",
        "autopilot-assignment",
        "The full assignment set of an Autopilot deployment profile (beta; written member by member: POST .../assignments, DELETE .../assignments/{id}); needs parent",
        ApiVersion::Beta,
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{parent}/assignments",
        "windowsAutopilotDeploymentProfile",
        SERVICE_CONFIGURATION,
        "windowsAutopilotDeploymentProfileAssignment",
        &["assignments"],
        &["/assignments"],
        ASSIGNMENT_REF_SLOTS,
    ),
    Kind {
        ref_slots: SCOPE_TAG_REF_SLOTS,
        ..intune_collection(
            "mobileApp",
            "app",
            "A store or link app (beta: winGet Microsoft Store, web link, iOS and Android store); matched by displayName + @odata.type",
            ApiVersion::Beta,
            "/deviceAppManagement/mobileApps",
            &["displayName", "@odata.type"],
            APPS,
            spec(
                "mobileApp",
                "mobileApp",
                STORE_APP_TYPES,
                &["displayName"],
                &[
                    "id",
                    "createdDateTime",
                    "lastModifiedDateTime",
                    "dependentAppCount",
                    "isAssigned",
                    "publishingState",
                    "supersededAppCount",
                    "supersedingAppCount",
                    "uploadState",
                    "manifestHash",
                ],
            ),
            &["/roleScopeTagIds"],
            &[],
        )
    },
    parent_action(
        "mobileAppAssignment",
        "app-assignment",
        "The full assignment set of an app (beta /assign replaces all: intent, group or all-users targets, filters); needs parent",
        ApiVersion::Beta,
        "/deviceAppManagement/mobileApps/{parent}/assign",
        "mobileApp",
        APPS,
        "mobileAppAssignment",
        &["mobileAppAssignments"],
        &["/mobileAppAssignments"],
        MOBILE_APP_ASSIGNMENT_REF_SLOTS,
    ),
];
