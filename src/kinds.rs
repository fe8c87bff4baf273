//! The registry of Graph resource kinds, as data.
//!
//! Every stage reads the same entry: `bundle` takes the path, methods and match key; `validate`
//! takes the schema id, the reference slots and the lints that apply; the simulator, `plan` and
//! `deploy` (later issues) take the shape, the throttle class and the normalization rules. Adding
//! a kind is one entry in [`KINDS`] plus its generated schema (see `src/schema/`).
//!
//! Facts behind each entry: `../shared/graph-wire-facts.md` section 5.

use std::fmt;

/// Which Graph service version a kind lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    /// `https://graph.microsoft.com/v1.0`
    V1,
    /// `https://graph.microsoft.com/beta`
    Beta,
}

impl ApiVersion {
    /// The path segment Graph uses for this version.
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// An HTTP method a kind is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// Create in a collection, or invoke an action.
    Post,
    /// Partial update.
    Patch,
    /// Full replacement (partner identity synchronization).
    Put,
}

impl Method {
    /// The method's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Graph's throttling scope that paces a kind's requests (graph-wire-facts.md section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ThrottleClass {
    /// Conditional Access and named locations: 1 request per second per tenant, all apps.
    ConditionalAccess,
    /// Entra identity and access: resource-unit buckets per app and tenant.
    Identity,
    /// Intune: 100 writes per 20 s per app per tenant.
    Intune,
    /// Identity and access reports (the directory audit log): 5 requests per 10 s per app per
    /// tenant. No kind is of this class; `drift` reads the audit logs with it.
    Reports,
}

impl ThrottleClass {
    /// Stable lower-case name used in bundles and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleClass::ConditionalAccess => "conditional-access",
            ThrottleClass::Identity => "identity",
            ThrottleClass::Intune => "intune",
            ThrottleClass::Reports => "reports",
        }
    }
}

/// How a kind's objects exist in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A collection: objects are created with POST and found by the match key.
    Collection,
    /// A singleton that always exists: only updated.
    Singleton,
    /// One member of a fixed set (e.g. authentication method configurations), addressed by an id
    /// derived from the body's `@odata.type`; only updated.
    FixedMember,
    /// An object addressed under another (the `parent` of the resource, or a key in the body).
    Child,
    /// An action that replaces a set on a parent object (Intune `/assign`).
    ParentAction,
}

/// Where a `{name}` placeholder in a kind's path takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathParam {
    /// A top-level string property of the rendered body.
    BodyField(&'static str),
    /// A fixed id chosen by the body's `@odata.type` (`#microsoft.graph.X` → id).
    ODataTypeId(&'static [(&'static str, &'static str)]),
    /// The object id of the resource named in `parent`, resolved at deploy time.
    Parent,
}

/// A property path whose string values are references to objects of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefSlot {
    /// JSON pointer pattern; `*` matches any one segment (an array index or a key).
    pub pointer: &'static str,
    /// The kind that references at this pointer must point at.
    pub kind: &'static str,
}

/// Normalization rules that make "no change" mean no change when comparing desired and live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalization {
    /// JSON pointer patterns (with `*`) of arrays compared as sets (order ignored).
    pub set_arrays: &'static [&'static str],
    /// Properties the service fills in or computes; ignored in comparisons.
    pub ignore: &'static [&'static str],
    /// Treat `null`, `[]` and an absent property as equal.
    pub null_equals_empty: bool,
}

/// A semantic lint that applies to a kind (beyond its schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindLint {
    /// A Conditional Access policy must not lock everyone out.
    ConditionalAccessLockout,
    /// A compliance policy needs exactly one `block` scheduled action.
    ComplianceBlockAction,
}

/// How a kind's JSON Schema is produced from Graph's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaSpec {
    /// Schema id: the file stem under `src/schema/generated/`.
    pub id: &'static str,
    /// The CSDL (or beta type-mapping) type at the root, without namespace (`conditionalAccessPolicy`).
    pub root_type: &'static str,
    /// Concrete types allowed when the root is abstract (by `@odata.type`); empty: the root itself.
    pub concrete_types: &'static [&'static str],
    /// Navigation properties sent inline (deep insert or inline PATCH): `(declaring type, property)`.
    pub inline_navigation: &'static [(&'static str, &'static str)],
    /// Properties a create request must carry (the CSDL cannot say; the docs do).
    pub required_on_create: &'static [&'static str],
    /// Properties the service sets; rejected in requests (on top of `Core.Computed` in the CSDL).
    pub read_only: &'static [&'static str],
    /// `@odata.type` must be present in the body.
    pub odata_type_required: bool,
    /// For action kinds: the body is `{"<this>": [<root_type>, ...]}` (the action's parameter).
    pub action_parameter: Option<&'static str>,
}

/// One Graph resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The name users write in `kind = "..."`.
    pub name: &'static str,
    /// Prefix used in symbolic references (`group:breakglass`).
    pub ref_prefix: &'static str,
    /// One-line description for `tenantform kinds`.
    pub summary: &'static str,
    /// API version the requests go to.
    pub api_version: ApiVersion,
    /// How objects of this kind exist.
    pub shape: Shape,
    /// Collection or singleton path (may contain `{param}` placeholders).
    pub path: &'static str,
    /// Values for the path placeholders.
    pub path_params: &'static [(&'static str, PathParam)],
    /// Method used to create; `None` when objects always exist.
    pub create_method: Option<Method>,
    /// Method used to update an existing object.
    pub update_method: Method,
    /// Body properties that identify an existing object (adopt instead of duplicate).
    pub match_key: &'static [&'static str],
    /// The kind a `parent = "..."` must name, when the kind needs one.
    pub parent_kind: Option<&'static str>,
    /// Throttling scope.
    pub throttle: ThrottleClass,
    /// Application permissions the deploying app needs.
    pub permissions: &'static [&'static str],
    /// Schema generation and validation.
    pub schema: SchemaSpec,
    /// Where references may appear and to which kind they must point.
    pub ref_slots: &'static [RefSlot],
    /// Comparison rules for plan and drift.
    pub normalization: Normalization,
    /// Semantic lints beyond the schema.
    pub lints: &'static [KindLint],
}

impl Kind {
    /// True when deploy may create objects of this kind.
    pub fn creates(&self) -> bool {
        self.create_method.is_some()
    }
}

const NO_NORMALIZATION: Normalization = Normalization {
    set_arrays: &[],
    ignore: &[
        "id",
        "createdDateTime",
        "modifiedDateTime",
        "lastModifiedDateTime",
    ],
    null_equals_empty: true,
};

const AUTH_METHOD_IDS: &[(&str, &str)] = &[
    (
        "#microsoft.graph.emailAuthenticationMethodConfiguration",
        "Email",
    ),
    (
        "#microsoft.graph.fido2AuthenticationMethodConfiguration",
        "Fido2",
    ),
    (
        "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration",
        "MicrosoftAuthenticator",
    ),
    (
        "#microsoft.graph.qrCodePinAuthenticationMethodConfiguration",
        "QRCodePin",
    ),
    (
        "#microsoft.graph.smsAuthenticationMethodConfiguration",
        "Sms",
    ),
    (
        "#microsoft.graph.softwareOathAuthenticationMethodConfiguration",
        "SoftwareOath",
    ),
    (
        "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "TemporaryAccessPass",
    ),
    (
        "#microsoft.graph.voiceAuthenticationMethodConfiguration",
        "Voice",
    ),
    (
        "#microsoft.graph.x509CertificateAuthenticationMethodConfiguration",
        "X509Certificate",
    ),
];

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

const ASSIGNMENT_REF_SLOTS: &[RefSlot] = &[RefSlot {
    pointer: "/assignments/*/target/groupId",
    kind: "group",
}];

/// Every kind tenantform knows, sorted by name.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "authenticationMethodConfiguration",
        ref_prefix: "auth-method",
        summary: "One authentication method's configuration (Fido2, MicrosoftAuthenticator, Sms, ...); chosen by @odata.type",
        api_version: ApiVersion::V1,
        shape: Shape::FixedMember,
        path: "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{method}",
        path_params: &[("method", PathParam::ODataTypeId(AUTH_METHOD_IDS))],
        create_method: None,
        update_method: Method::Patch,
        match_key: &["@odata.type"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.AuthenticationMethod"],
        schema: SchemaSpec {
            id: "authenticationMethodConfiguration",
            root_type: "authenticationMethodConfiguration",
            concrete_types: &[
                "emailAuthenticationMethodConfiguration",
                "fido2AuthenticationMethodConfiguration",
                "microsoftAuthenticatorAuthenticationMethodConfiguration",
                "qrCodePinAuthenticationMethodConfiguration",
                "smsAuthenticationMethodConfiguration",
                "softwareOathAuthenticationMethodConfiguration",
                "temporaryAccessPassAuthenticationMethodConfiguration",
                "voiceAuthenticationMethodConfiguration",
                "x509CertificateAuthenticationMethodConfiguration",
            ],
            inline_navigation: &[
                (
                    "microsoftAuthenticatorAuthenticationMethodConfiguration",
                    "includeTargets",
                ),
                ("fido2AuthenticationMethodConfiguration", "includeTargets"),
                ("smsAuthenticationMethodConfiguration", "includeTargets"),
                ("voiceAuthenticationMethodConfiguration", "includeTargets"),
                (
                    "temporaryAccessPassAuthenticationMethodConfiguration",
                    "includeTargets",
                ),
                ("emailAuthenticationMethodConfiguration", "includeTargets"),
                (
                    "softwareOathAuthenticationMethodConfiguration",
                    "includeTargets",
                ),
                (
                    "x509CertificateAuthenticationMethodConfiguration",
                    "includeTargets",
                ),
                (
                    "qrCodePinAuthenticationMethodConfiguration",
                    "includeTargets",
                ),
            ],
            required_on_create: &[],
            read_only: &["id"],
            odata_type_required: true,
            action_parameter: None,
        },
        ref_slots: &[
            RefSlot {
                pointer: "/includeTargets/*/id",
                kind: "group",
            },
            RefSlot {
                pointer: "/excludeTargets/*/id",
                kind: "group",
            },
        ],
        normalization: Normalization {
            set_arrays: &["/includeTargets", "/excludeTargets"],
            ..NO_NORMALIZATION
        },
        lints: &[],
    },
    Kind {
        name: "authenticationMethodsPolicy",
        ref_prefix: "auth-methods-policy",
        summary: "The tenant's authentication methods policy (registration campaign, migration state); singleton",
        api_version: ApiVersion::V1,
        shape: Shape::Singleton,
        path: "/policies/authenticationMethodsPolicy",
        path_params: &[],
        create_method: None,
        update_method: Method::Patch,
        match_key: &[],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.AuthenticationMethod"],
        schema: SchemaSpec {
            id: "authenticationMethodsPolicy",
            root_type: "authenticationMethodsPolicy",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[],
            read_only: &["id", "lastModifiedDateTime", "policyVersion"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[RefSlot {
            pointer: "/registrationEnforcement/authenticationMethodsRegistrationCampaign/*/*/id",
            kind: "group",
        }],
        normalization: NO_NORMALIZATION,
        lints: &[],
    },
    Kind {
        name: "authorizationPolicy",
        ref_prefix: "authorization-policy",
        summary: "Tenant-wide authorization settings (guest invites, user consent, default user permissions); singleton",
        api_version: ApiVersion::V1,
        shape: Shape::Singleton,
        path: "/policies/authorizationPolicy",
        path_params: &[],
        create_method: None,
        update_method: Method::Patch,
        match_key: &[],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.Authorization"],
        schema: SchemaSpec {
            id: "authorizationPolicy",
            root_type: "authorizationPolicy",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[],
            read_only: &["id", "deletedDateTime"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: Normalization {
            set_arrays: &["/defaultUserRolePermissions/permissionGrantPoliciesAssigned"],
            ..NO_NORMALIZATION
        },
        lints: &[],
    },
    Kind {
        name: "conditionalAccessPolicy",
        ref_prefix: "ca-policy",
        summary: "A Conditional Access policy; matched by displayName",
        api_version: ApiVersion::V1,
        shape: Shape::Collection,
        path: "/identity/conditionalAccess/policies",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key: &["displayName"],
        parent_kind: None,
        throttle: ThrottleClass::ConditionalAccess,
        permissions: &[
            "Policy.Read.All",
            "Policy.ReadWrite.ConditionalAccess",
            "Application.Read.All",
        ],
        schema: SchemaSpec {
            id: "conditionalAccessPolicy",
            root_type: "conditionalAccessPolicy",
            concrete_types: &[],
            inline_navigation: &[("conditionalAccessGrantControls", "authenticationStrength")],
            required_on_create: &["displayName", "state", "conditions"],
            read_only: &[
                "id",
                "createdDateTime",
                "modifiedDateTime",
                "deletedDateTime",
            ],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[
            RefSlot {
                pointer: "/conditions/users/includeGroups/*",
                kind: "group",
            },
            RefSlot {
                pointer: "/conditions/users/excludeGroups/*",
                kind: "group",
            },
            RefSlot {
                pointer: "/conditions/locations/includeLocations/*",
                kind: "namedLocation",
            },
            RefSlot {
                pointer: "/conditions/locations/excludeLocations/*",
                kind: "namedLocation",
            },
        ],
        normalization: Normalization {
            set_arrays: &[
                "/conditions/clientAppTypes",
                "/conditions/applications/*",
                "/conditions/users/*",
                "/conditions/platforms/*",
                "/conditions/locations/*",
                "/conditions/signInRiskLevels",
                "/conditions/userRiskLevels",
                "/conditions/servicePrincipalRiskLevels",
                "/grantControls/builtInControls",
            ],
            ..NO_NORMALIZATION
        },
        lints: &[KindLint::ConditionalAccessLockout],
    },
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
    },
    Kind {
        name: "crossTenantAccessPolicyDefault",
        ref_prefix: "cross-tenant-default",
        summary: "The default cross-tenant access settings (B2B collaboration, direct connect, inbound trust); singleton",
        api_version: ApiVersion::V1,
        shape: Shape::Singleton,
        path: "/policies/crossTenantAccessPolicy/default",
        path_params: &[],
        create_method: None,
        update_method: Method::Patch,
        match_key: &[],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.CrossTenantAccess"],
        schema: SchemaSpec {
            id: "crossTenantAccessPolicyDefault",
            root_type: "crossTenantAccessPolicyConfigurationDefault",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[],
            read_only: &["id", "isServiceDefault"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
    },
    Kind {
        name: "crossTenantAccessPolicyPartner",
        ref_prefix: "partner",
        summary: "Cross-tenant access settings for one partner tenant; matched by tenantId",
        api_version: ApiVersion::V1,
        shape: Shape::Collection,
        path: "/policies/crossTenantAccessPolicy/partners",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key: &["tenantId"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.CrossTenantAccess"],
        schema: SchemaSpec {
            id: "crossTenantAccessPolicyPartner",
            root_type: "crossTenantAccessPolicyConfigurationPartner",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &["tenantId"],
            read_only: &["isInMultiTenantOrganization"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
    },
    Kind {
        name: "crossTenantIdentitySyncPolicyPartner",
        ref_prefix: "partner-identity-sync",
        summary: "Cross-tenant synchronization settings for one partner (PUT under the partner); keyed by tenantId",
        api_version: ApiVersion::V1,
        shape: Shape::Child,
        path: "/policies/crossTenantAccessPolicy/partners/{tenantId}/identitySynchronization",
        path_params: &[("tenantId", PathParam::BodyField("tenantId"))],
        create_method: Some(Method::Put),
        update_method: Method::Put,
        match_key: &["tenantId"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.CrossTenantAccess"],
        schema: SchemaSpec {
            id: "crossTenantIdentitySyncPolicyPartner",
            root_type: "crossTenantIdentitySyncPolicyPartner",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &["tenantId"],
            read_only: &[],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
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
    },
    Kind {
        name: "group",
        ref_prefix: "group",
        summary: "A security or Microsoft 365 group; upserted by uniqueName",
        api_version: ApiVersion::V1,
        shape: Shape::Collection,
        path: "/groups",
        path_params: &[],
        create_method: Some(Method::Patch),
        update_method: Method::Patch,
        match_key: &["uniqueName"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Group.ReadWrite.All"],
        schema: SchemaSpec {
            id: "group",
            root_type: "group",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[
                "displayName",
                "mailEnabled",
                "mailNickname",
                "securityEnabled",
                "uniqueName",
            ],
            read_only: &[
                "id",
                "createdDateTime",
                "deletedDateTime",
                "renewedDateTime",
                "mail",
                "proxyAddresses",
                "securityIdentifier",
                "onPremisesSyncEnabled",
                "allowExternalSenders",
                "autoSubscribeNewMembers",
                "hideFromAddressLists",
                "hideFromOutlookClients",
                "isSubscribedByMail",
                "unseenCount",
            ],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: Normalization {
            set_arrays: &["/groupTypes"],
            ..NO_NORMALIZATION
        },
        lints: &[],
    },
    Kind {
        name: "identitySecurityDefaultsEnforcementPolicy",
        ref_prefix: "security-defaults",
        summary: "Security defaults on or off; singleton",
        api_version: ApiVersion::V1,
        shape: Shape::Singleton,
        path: "/policies/identitySecurityDefaultsEnforcementPolicy",
        path_params: &[],
        create_method: None,
        update_method: Method::Patch,
        match_key: &[],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.SecurityDefaults"],
        schema: SchemaSpec {
            id: "identitySecurityDefaultsEnforcementPolicy",
            root_type: "identitySecurityDefaultsEnforcementPolicy",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[],
            read_only: &["id", "deletedDateTime"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
    },
    Kind {
        name: "namedLocation",
        ref_prefix: "location",
        summary: "A named location (ipNamedLocation or countryNamedLocation); matched by displayName",
        api_version: ApiVersion::V1,
        shape: Shape::Collection,
        path: "/identity/conditionalAccess/namedLocations",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key: &["displayName"],
        parent_kind: None,
        throttle: ThrottleClass::ConditionalAccess,
        permissions: &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"],
        schema: SchemaSpec {
            id: "namedLocation",
            root_type: "namedLocation",
            concrete_types: &["countryNamedLocation", "ipNamedLocation"],
            inline_navigation: &[],
            required_on_create: &["displayName"],
            read_only: &[
                "id",
                "createdDateTime",
                "modifiedDateTime",
                "deletedDateTime",
            ],
            odata_type_required: true,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: Normalization {
            set_arrays: &["/countriesAndRegions", "/ipRanges"],
            ..NO_NORMALIZATION
        },
        lints: &[],
    },
];

mod links;
pub use links::{CROSS_TENANT_SYNC_TEMPLATE, LINK_KINDS, link_kind_by_name};

/// Look a kind up by its name (`conditionalAccessPolicy`).
pub fn by_name(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Look a kind up by its reference prefix (`group`, `location`) or its name.
pub fn by_ref_prefix(prefix: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.ref_prefix == prefix)
        .or_else(|| by_name(prefix))
}

/// Names of all kinds, for "did you mean" suggestions and help text.
pub fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_sorted_and_unique() {
        let names: Vec<_> = names().collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn link_kinds_are_sorted_and_apart_from_the_baseline_kinds() {
        let names: Vec<_> = LINK_KINDS.iter().map(|k| k.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        for k in LINK_KINDS {
            assert!(by_name(k.name).is_none(), "{} is in both tables", k.name);
            assert!(!k.permissions.is_empty(), "{}", k.name);
        }
    }

    #[test]
    fn ref_prefixes_are_unique() {
        let mut prefixes: Vec<_> = KINDS.iter().map(|k| k.ref_prefix).collect();
        prefixes.sort();
        let before = prefixes.len();
        prefixes.dedup();
        assert_eq!(before, prefixes.len());
    }

    #[test]
    fn parent_kinds_and_ref_slot_kinds_exist() {
        for kind in KINDS {
            if let Some(parent) = kind.parent_kind {
                assert!(by_name(parent).is_some(), "{}: parent {parent}", kind.name);
            }
            for slot in kind.ref_slots {
                assert!(
                    by_name(slot.kind).is_some(),
                    "{}: slot {}",
                    kind.name,
                    slot.kind
                );
            }
        }
    }

    #[test]
    fn path_placeholders_have_params() {
        for kind in KINDS {
            for (name, _) in kind.path_params {
                assert!(kind.path.contains(&format!("{{{name}}}")), "{}", kind.name);
            }
            let open = kind.path.matches('{').count();
            assert_eq!(open, kind.path_params.len(), "{}", kind.name);
        }
    }
}
