//! The kinds a cross-tenant synchronization link, or the project's multitenant organization,
//! compiles into: a table apart from [`all`](super::all), because only links and the
//! organization produce them (see [`LINK_KINDS`]).

use super::*;

/// The Azure2Azure application template ("Cross-tenant synchronization configuration").
pub const CROSS_TENANT_SYNC_TEMPLATE: &str = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7";

/// The kinds a cross-tenant synchronization link (and the project's multitenant organization)
/// compiles into (besides the partner and
/// partner identity synchronization kinds of [`all`](super::all)). They are data like every kind (path,
/// method, match key, permissions, throttle class, schema), but only links produce them: a
/// baseline cannot declare one (their paths hang off objects a link creates, and their ids come
/// from the answers of earlier steps), so they are not in [`all`](super::all) and the simulator serves
/// them with the provisioning service's semantics (`sim/graph/sync.rs`), not the generic ones.
/// Facts: `../shared/cross-tenant-sync-facts.md`.
pub const LINK_KINDS: &[Kind] = &[
    link_kind(
        "appRoleAssignment",
        "app-role-assignment",
        "A user or group in a link's scope: assigned to the configuration app's msiam_access role; matched by principalId",
        "/servicePrincipals/{servicePrincipal}/appRoleAssignedTo",
        Some(Method::Post),
        Method::Post,
        &["principalId"],
        &[
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
        ],
        "appRoleAssignment",
    )
    .with_schema(link_schema(
        "appRoleAssignment",
        "appRoleAssignment",
        &["principalId", "resourceId", "appRoleId"],
        &["id"],
        None,
    )),
    link_kind(
        "applicationTemplateInstance",
        "configuration-app",
        "The link's configuration app and its service principal, instantiated from the cross-tenant synchronization template; matched by displayName",
        "/applicationTemplates/{templateId}/instantiate",
        Some(Method::Post),
        Method::Patch,
        &["displayName"],
        &["Application.ReadWrite.All"],
        "applicationServicePrincipal",
    )
    .with_schema(link_schema(
        "applicationTemplateInstance",
        "applicationTemplate.instantiate",
        &["displayName"],
        &[],
        None,
    )),
    link_kind(
        "multiTenantOrganization",
        "multitenant-organization",
        "The project's Microsoft 365 multitenant organization, in its owner tenant: a singleton a PATCH of its displayName creates (organization.toml)",
        "/tenantRelationships/multiTenantOrganization",
        None,
        Method::Patch,
        &[],
        &[MULTITENANT_ORGANIZATION_PERMISSION],
        "multiTenantOrganization",
    )
    .with_schema(link_schema(
        "multiTenantOrganization",
        "multiTenantOrganization",
        &[],
        &["id", "createdDateTime", "state"],
        None,
    )),
    link_kind(
        "multiTenantOrganizationJoinRequestRecord",
        "multitenant-organization-join-request",
        "A member tenant's request to join the owner's multitenant organization (asynchronous: pending until it completes); PATCH of addedByTenantId",
        "/tenantRelationships/multiTenantOrganization/joinRequest",
        None,
        Method::Patch,
        &[],
        &[MULTITENANT_ORGANIZATION_PERMISSION],
        "multiTenantOrganizationJoinRequestRecord",
    )
    .with_schema(link_schema(
        "multiTenantOrganizationJoinRequestRecord",
        "multiTenantOrganizationJoinRequestRecord",
        &["addedByTenantId"],
        &["id", "memberState", "role", "transitionDetails"],
        None,
    )),
    link_kind(
        "multiTenantOrganizationMember",
        "multitenant-organization-member",
        "A member tenant of the multitenant organization, added by the owner (pending until it joins); matched by tenantId",
        "/tenantRelationships/multiTenantOrganization/tenants",
        Some(Method::Post),
        Method::Patch,
        &["tenantId"],
        &[MULTITENANT_ORGANIZATION_PERMISSION],
        "multiTenantOrganizationMember",
    )
    .with_schema(link_schema(
        "multiTenantOrganizationMember",
        "multiTenantOrganizationMember",
        &["tenantId"],
        &[
            "id",
            "addedByTenantId",
            "addedDateTime",
            "joinedDateTime",
            "state",
            "transitionDetails",
        ],
        None,
    )),
    link_kind(
        "synchronizationJob",
        "sync-job",
        "The link's synchronization job on the configuration app; matched by templateId",
        "/servicePrincipals/{servicePrincipal}/synchronization/jobs",
        Some(Method::Post),
        Method::Post,
        &["templateId"],
        &["Synchronization.ReadWrite.All"],
        "synchronizationJob",
    )
    .with_schema(link_schema(
        "synchronizationJob",
        "synchronizationJob",
        &["templateId"],
        &["id"],
        None,
    )),
    link_kind(
        "synchronizationJobStart",
        "sync-job-start",
        "Start the link's job (an action; a job already running is left alone)",
        "/servicePrincipals/{servicePrincipal}/synchronization/jobs/{job}/start",
        Some(Method::Post),
        Method::Post,
        &[],
        &["Synchronization.ReadWrite.All"],
        "synchronizationJobStart",
    )
    .with_schema(link_schema(
        "synchronizationJobStart",
        "synchronizationJob.start",
        &[],
        &[],
        None,
    )),
    link_kind(
        "synchronizationSchema",
        "sync-schema",
        "The job's schema: userType, attribute-mapping overrides and scoping filter of the user rule (PUT of the whole schema)",
        "/servicePrincipals/{servicePrincipal}/synchronization/jobs/{job}/schema",
        Some(Method::Put),
        Method::Put,
        &[],
        &["Synchronization.ReadWrite.All"],
        "synchronizationSchema",
    )
    .with_schema(link_schema(
        "synchronizationSchema",
        "synchronizationSchema",
        &[],
        &["id"],
        None,
    )),
    link_kind(
        "synchronizationSecrets",
        "sync-secrets",
        "The configuration app's synchronization secrets (target tenant id, SyncPolicy auth, notifications, deletion threshold); PUT replaces all",
        "/servicePrincipals/{servicePrincipal}/synchronization/secrets",
        Some(Method::Put),
        Method::Put,
        &[],
        &["Synchronization.ReadWrite.All"],
        "synchronizationSecretKeyStringValuePair",
    )
    .with_schema(link_schema(
        "synchronizationSecrets",
        "synchronizationSecretKeyStringValuePair",
        &["value"],
        &[],
        Some("value"),
    )),
];

/// The application permission every multitenant organization call needs to write (Microsoft
/// Learn: `multitenantorganization-update`, `-post-tenants`,
/// `multitenantorganizationjoinrequestrecord-update`); it also reads.
pub const MULTITENANT_ORGANIZATION_PERMISSION: &str = "MultiTenantOrganization.ReadWrite.All";

/// The schema of a link kind: its root type (a CSDL type, or `<binding type>.<action>` for a
/// bound action's parameters), what a create must carry and what the service sets.
const fn link_schema(
    id: &'static str,
    root_type: &'static str,
    required_on_create: &'static [&'static str],
    read_only: &'static [&'static str],
    action_parameter: Option<&'static str>,
) -> SchemaSpec {
    SchemaSpec {
        id,
        root_type,
        concrete_types: &[],
        inline_navigation: &[],
        required_on_create,
        read_only,
        odata_type_required: false,
        action_parameter,
    }
}
/// Registry kinds (in [`all`](super::all)) that links also write: one entry serves a
/// baseline resource and a link step alike (path, method, permissions, schema).
pub const LINK_STEP_REGISTRY_KINDS: &[&str] = &[
    "crossTenantAccessPolicyPartner",
    "crossTenantIdentitySyncPolicyPartner",
    "externalIdentitiesPolicy",
];

#[allow(clippy::too_many_arguments)]
const fn link_kind(
    name: &'static str,
    ref_prefix: &'static str,
    summary: &'static str,
    path: &'static str,
    create_method: Option<Method>,
    update_method: Method,
    match_key: &'static [&'static str],
    permissions: &'static [&'static str],
    root_type: &'static str,
) -> Kind {
    Kind {
        name,
        ref_prefix,
        summary,
        api_version: ApiVersion::V1,
        shape: Shape::Child,
        path,
        path_params: &[],
        create_method,
        update_method,
        match_key,
        parent_kind: None,
        throttle: ThrottleClass::Identity,
        permissions,
        licences: &[ENTRA_ID_P1],
        schema: SchemaSpec {
            id: name,
            root_type,
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[],
            read_only: &["id"],
            odata_type_required: false,
            action_parameter: None,
        },
        ref_slots: &[],
        normalization: NO_NORMALIZATION,
        lints: &[],
        read_expand: None,
    }
}

/// Look a link kind up by name.
pub fn link_kind_by_name(name: &str) -> Option<&'static Kind> {
    LINK_KINDS.iter().find(|k| k.name == name)
}

impl Kind {
    /// The same kind with another schema specification.
    const fn with_schema(self, schema: SchemaSpec) -> Kind {
        Kind { schema, ..self }
    }
}
