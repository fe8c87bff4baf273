//! The Entra ID kinds that update objects every tenant already has, or that need a query or
//! beta to reach: the tenant's domains (password expiry), PIM role settings (rules of a role's
//! management policy, found by query), Conditional Access on beta, and B2B invitation
//! policies. Data only; the types are in [`super`]. Split from `entra.rs` to keep each table
//! readable.

use super::*;

/// The Entra ID kinds of this file, in any order ([`super::all`] sorts the registry).
pub(super) const ENTRA_TENANT_KINDS: &[Kind] = &[
    // --- Domains and PIM role settings (issue 13, part B) ---
    Kind {
        name: "domain",
        ref_prefix: "domain",
        summary: "A domain's password expiry policy (PATCH /domains/{id}); matched by the domain name, never created",
        api_version: ApiVersion::V1,
        shape: Shape::Child,
        path: "/domains/{id}",
        path_params: &[("id", PathParam::BodyField("id"))],
        create_method: None,
        update_method: Method::Patch,
        match_key: &["id"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Domain.ReadWrite.All"],
        licences: &[],
        read_expand: None,
        schema: SchemaSpec {
            id: "domain",
            root_type: "domain",
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &["id"],
            // Only the password policy is tenantform's to set: the rest is the domain's
            // verification and federation state, changed through other APIs or the portal.
            read_only: &[
                "authenticationType",
                "availabilityStatus",
                "isAdminManaged",
                "isDefault",
                "isInitial",
                "isRoot",
                "isVerified",
                "manufacturer",
                "model",
                "state",
                "supportedServices",
            ],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
    },
    Kind {
        name: "unifiedRoleManagementPolicy",
        ref_prefix: "pim-role-policy",
        summary: "PIM settings of one directory role (the rules of its role management policy); matched by role template id, updated rule by rule",
        api_version: ApiVersion::V1,
        shape: Shape::QueriedItems(&PIM_RULE_UPDATES),
        path: "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'%20and%20roleDefinitionId%20eq%20'{roleDefinitionId}'&$expand=policy($expand=rules)",
        path_params: &[("roleDefinitionId", PathParam::BodyField("roleDefinitionId"))],
        create_method: None,
        update_method: Method::Patch,
        match_key: &["roleDefinitionId"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["RoleManagementPolicy.ReadWrite.Directory"],
        licences: &[ENTRA_ID_P2],
        read_expand: None,
        schema: SchemaSpec {
            id: "unifiedRoleManagementPolicy",
            root_type: "unifiedRoleManagementPolicyAssignment",
            concrete_types: &[],
            inline_navigation: &[
                ("unifiedRoleManagementPolicyAssignment", "policy"),
                ("unifiedRoleManagementPolicy", "rules"),
            ],
            required_on_create: &["roleDefinitionId"],
            read_only: &["id", "policyId"],
            odata_type_required: false,
            action_parameter: None,
        },
        // Approvers given as a group (`#microsoft.graph.groupMembers`): the group's id.
        ref_slots: &[
            RefSlot {
                pointer: "/policy/rules/*/setting/approvalStages/*/primaryApprovers/*/groupId",
                kind: "group",
            },
            RefSlot {
                pointer: "/policy/rules/*/setting/approvalStages/*/escalationApprovers/*/groupId",
                kind: "group",
            },
        ],
        normalization: Normalization {
            set_arrays: &[
                "/policy/rules/*/notificationRecipients",
                "/policy/rules/*/enabledRules",
                "/policy/rules/*/target/operations",
            ],
            ..NO_NORMALIZATION
        },
        lints: &[],
    },
    Kind {
        name: "conditionalAccessPolicyBeta",
        ref_prefix: "ca-policy-beta",
        summary: "A Conditional Access policy written through Graph beta, for conditions and grants only beta has (agent identities, agent risk); matched by displayName",
        api_version: ApiVersion::Beta,
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
        licences: &[ENTRA_ID_P1],
        read_expand: None,
        // The beta type mappings carry names only: the policy's own properties are checked,
        // the values inside `conditions`, `grantControls` and `sessionControls` are not.
        schema: SchemaSpec {
            id: "conditionalAccessPolicyBeta",
            root_type: "conditionalAccessPolicy",
            concrete_types: &[],
            inline_navigation: &[],
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
                "/conditions/clientApplications/*",
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
        name: "b2bManagementPolicy",
        ref_prefix: "b2b-policy",
        summary: "The B2B management policy (beta): the allow- or block-list of domains guests may be invited from; matched by displayName",
        api_version: ApiVersion::Beta,
        shape: Shape::Collection,
        path: "/policies/b2bManagementPolicies",
        path_params: &[],
        create_method: Some(Method::Post),
        update_method: Method::Patch,
        match_key: &["displayName"],
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions: &["Policy.ReadWrite.B2BManagementPolicy"],
        licences: &[],
        read_expand: None,
        schema: SchemaSpec {
            id: "b2bManagementPolicy",
            root_type: "b2bManagementPolicy",
            concrete_types: &[],
            inline_navigation: &[],
            // Microsoft Learn, "Create b2bManagementPolicy": definition, description and
            // displayName are required.
            required_on_create: &["definition", "description", "displayName"],
            read_only: &["id", "deletedDateTime"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
    },
];

/// The rules of a PIM role management policy: matched by rule id, each PATCHed on its own
/// (`PATCH /policies/roleManagementPolicies/{policyId}/rules/{ruleId}`, Microsoft Learn
/// "Update unifiedRoleManagementPolicyRule"); the policy id is the assignment's `policyId`.
const PIM_RULE_UPDATES: ItemUpdates = ItemUpdates {
    array: "/policy/rules",
    item_key: "id",
    owner_id: "policyId",
    item_path: "/policies/roleManagementPolicies/{owner}/rules/{item}",
};
