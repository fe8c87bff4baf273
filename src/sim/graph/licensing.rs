//! What a simulated tenant has bought and what its app was granted, as Graph serves them:
//! `GET /subscribedSkus` (each SKU with its service plans and their `provisioningStatus`),
//! `GET /servicePrincipals` (the app's own service principal, found with
//! `$filter=appId eq '…'`, and Microsoft Graph's, whose `appRoles` name the permissions), and
//! `GET /servicePrincipals/{id}/appRoleAssignments` (the app roles granted to the app).
//!
//! Every tenant has Entra ID P2 (which carries P1) and Intune Plan 1, unless a plan is
//! withdrawn (`sim --withdraw-plan INDEX:PLAN`, or `PUT /_sim/tenants/{id}/service-plans`): a
//! withdrawn plan stays in its SKU with `provisioningStatus` `Disabled`, as Graph shows a plan
//! turned off in a licence. The app's role assignments are the tenant's consented permissions
//! (minus `--withdraw`). Shapes follow Microsoft Learn's `subscribedSku`, `servicePlanInfo`,
//! `servicePrincipal`, `appRole` and `appRoleAssignment` resources; SKU and plan ids are
//! Microsoft's published ones ("Product names and service plan identifiers for licensing");
//! app role ids are the simulator's own (clients map them through `appRoles`, as on Graph).
//!
//! Input: the tenant and the seed. Output: the objects, for the directory list and entity
//! replies in `directory.rs`.

use serde_json::{Value, json};

use crate::sim::defaults::BIRTH;
use crate::sim::seeded;
use crate::sim::state::Tenant;

/// Microsoft Graph's application id (the same in every tenant).
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A SKU: (skuId, skuPartNumber, its service plans as (servicePlanId, servicePlanName)).
type Sku = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The SKUs every simulated tenant has.
const SKUS: &[Sku] = &[
    (
        "84a661c4-e949-4bd2-a560-ed7766fcaf2b",
        "AAD_PREMIUM_P2",
        &[
            ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM"),
            ("eec0eb4f-6444-4f95-aba0-50c24d67f998", "AAD_PREMIUM_P2"),
        ],
    ),
    (
        "061f9ace-7d42-4136-88ac-31dc755f143f",
        "INTUNE_A",
        &[("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A")],
    ),
];

/// Service plan names a simulated tenant can have (what `--withdraw-plan` accepts).
pub(crate) fn plan_names() -> Vec<&'static str> {
    SKUS.iter()
        .flat_map(|(_, _, plans)| plans.iter().map(|(_, name)| *name))
        .collect()
}

/// The tenant's subscribed SKUs.
pub(crate) fn subscribed_skus(tenant: &Tenant) -> Vec<Value> {
    let withdrawn = tenant.withdrawn_plans();
    SKUS.iter()
        .map(|(sku_id, part, plans)| {
            let plans: Vec<Value> = plans
                .iter()
                .map(|(id, name)| {
                    let off = withdrawn.iter().any(|w| w.eq_ignore_ascii_case(name));
                    json!({
                        "servicePlanId": id,
                        "servicePlanName": name,
                        "provisioningStatus": if off { "Disabled" } else { "Success" },
                        "appliesTo": "User"
                    })
                })
                .collect();
            json!({
                "id": format!("{}_{sku_id}", tenant.id),
                "accountId": tenant.id.to_string(),
                "accountName": tenant.name.to_string(),
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": 1,
                "skuId": sku_id,
                "skuPartNumber": part,
                "subscriptionIds": [],
                "prepaidUnits": {"enabled": 25, "suspended": 0, "warning": 0, "lockedOut": 0},
                "servicePlans": plans
            })
        })
        .collect()
}

/// The object id of Microsoft Graph's service principal in the tenant.
fn graph_principal_id(seed: u64, tenant: &Tenant) -> String {
    seeded::guid(seed, &format!("{}/servicePrincipal/graph", tenant.id))
}

/// The id of the app role that grants `permission` (the same in every tenant).
fn app_role_id(seed: u64, permission: &str) -> String {
    seeded::guid(seed, &format!("appRole/{permission}"))
}

/// The tenant's service principals: the simulator's app, and Microsoft Graph with an app role
/// per permission the simulator knows.
pub(crate) fn service_principals(seed: u64, tenant: &Tenant, client_id: &str) -> Vec<Value> {
    let app_roles: Vec<Value> = crate::sim::state::consented_permissions()
        .into_iter()
        .map(|p| {
            json!({
                "allowedMemberTypes": ["Application"],
                "description": format!("Allows the app to use {p} without a signed-in user."),
                "displayName": p,
                "id": app_role_id(seed, p),
                "isEnabled": true,
                "origin": "Application",
                "value": p
            })
        })
        .collect();
    vec![
        json!({
            "id": app_principal_id(tenant, client_id),
            "accountEnabled": true,
            "appDisplayName": "tenantform",
            "appId": client_id,
            "appRoles": [],
            "createdDateTime": BIRTH,
            "displayName": "tenantform",
            "servicePrincipalType": "Application",
            "tags": []
        }),
        json!({
            "id": graph_principal_id(seed, tenant),
            "accountEnabled": true,
            "appDisplayName": "Microsoft Graph",
            "appId": GRAPH_APP_ID,
            "appRoles": app_roles,
            "createdDateTime": BIRTH,
            "displayName": "Microsoft Graph",
            "servicePrincipalType": "Application",
            "tags": []
        }),
    ]
}

/// The object id of the simulator's app's service principal in the tenant: the `oid` of the
/// tokens it gets (auth.rs).
pub(crate) fn app_principal_id(tenant: &Tenant, client_id: &str) -> String {
    seeded::guid(0, &format!("sp/{}/{client_id}", tenant.id))
}

/// The app roles granted to service principal `principal` (only the app has any).
pub(crate) fn app_role_assignments(
    seed: u64,
    tenant: &Tenant,
    client_id: &str,
    principal: &str,
) -> Vec<Value> {
    if !principal.eq_ignore_ascii_case(&app_principal_id(tenant, client_id)) {
        return Vec::new();
    }
    let resource = graph_principal_id(seed, tenant);
    tenant
        .roles
        .iter()
        .map(|p| {
            json!({
                "id": seeded::guid(seed, &format!("{}/appRoleAssignment/{p}", tenant.id)),
                "appRoleId": app_role_id(seed, p),
                "createdDateTime": BIRTH,
                "deletedDateTime": null,
                "principalDisplayName": "tenantform",
                "principalId": principal,
                "principalType": "ServicePrincipal",
                "resourceDisplayName": "Microsoft Graph",
                "resourceId": resource
            })
        })
        .collect()
}
