//! `tenantform facts`, the reading half: what a live tenant has bought and what its app was
//! granted, read from Graph as the tenant's app.
//!
//! - Service plans: `GET /subscribedSkus`; a plan counts when its SKU's `capabilityStatus` is
//!   `Enabled` or `Warning` (still usable) and the plan's `provisioningStatus` is `Success`.
//! - Permissions: the app's service principal (`GET /servicePrincipals?$filter=appId eq
//!   '<client id>'`), its app role assignments (`/servicePrincipals/{id}/appRoleAssignments`),
//!   and Microsoft Graph's service principal, whose `appRoles` turn each assignment's
//!   `appRoleId` into a permission name.
//!
//! Only the plans and permissions tenantform knows (that some kind needs, or that reading facts
//! needs) are kept, so the facts table stays short and free of TF122/TF123 warnings. Input: a
//! [`Run`] and a [`Target`]. Output: [`LiveFacts`] or a [`FactsError`] that says which read
//! failed and which permission it needs.

use serde_json::Value;

use crate::deploy::fleet::Target;
use crate::deploy::shared::{JournalObserver, Run};
use crate::deploy::tenant::TenantError;
use crate::graph::auth;
use crate::graph::client::{Request, RequestError, TenantSession};
use crate::graph::cloud;
use crate::kinds::{ApiVersion, ThrottleClass, needs};

/// Microsoft Graph's application id (the same in every tenant).
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// What was read from one tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveFacts {
    /// Tenant id.
    pub tenant: String,
    /// Service plans tenantform knows that the tenant has, sorted.
    pub service_plans: Vec<String>,
    /// Permissions tenantform knows that the app was granted on Microsoft Graph, sorted.
    pub permissions: Vec<String>,
}

/// Why a tenant's facts could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactsError {
    /// The tenant cannot be signed in to (endpoints, credentials, not in the project).
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// Graph refused a read: the app lacks the permission that reads it.
    #[error(
        "the app may not read {what} (GET {path} answered 403): grant it {permission} (admin consent in the tenant), or write [tenant.facts] by hand"
    )]
    Forbidden {
        /// What was being read.
        what: &'static str,
        /// The request path.
        path: String,
        /// The permission that reads it.
        permission: &'static str,
    },
    /// Another failure reading.
    #[error("cannot read {what} (GET {path}): {source}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// The request path.
        path: String,
        /// Cause.
        source: RequestError,
    },
    /// The app has no service principal in the tenant.
    #[error(
        "the app {client_id} has no service principal in the tenant (GET /servicePrincipals?$filter=appId eq '{client_id}' found none): it was never consented there"
    )]
    NoServicePrincipal {
        /// The app's client id.
        client_id: String,
    },
}

/// One GET, its `value` array (or the whole body).
async fn get(
    run: &Run,
    session: &TenantSession,
    what: &'static str,
    path: String,
    permission: &'static str,
) -> Result<Vec<Value>, FactsError> {
    let observer = JournalObserver { journal: None, run };
    let request = Request::get(
        format!("facts:{what}"),
        ApiVersion::V1,
        path.clone(),
        ThrottleClass::Identity,
    );
    match run.client.send(session, &request, &observer).await {
        Ok(response) => Ok(match response.body.get("value") {
            Some(Value::Array(items)) => items.clone(),
            _ => vec![response.body],
        }),
        Err(e) if e.status() == Some(403) => Err(FactsError::Forbidden {
            what,
            path,
            permission,
        }),
        Err(source) => Err(FactsError::Read { what, path, source }),
    }
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The known service plans the SKUs carry that are usable.
pub fn plans_of(skus: &[Value]) -> Vec<String> {
    let known = needs::known_service_plans();
    let mut plans: Vec<String> = skus
        .iter()
        .filter(|sku| matches!(str_of(sku, "capabilityStatus"), "Enabled" | "Warning"))
        .flat_map(|sku| {
            sku.get("servicePlans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter(|plan| str_of(plan, "provisioningStatus") == "Success")
        .map(|plan| str_of(plan, "servicePlanName"))
        .filter_map(|name| known.iter().find(|k| k.eq_ignore_ascii_case(name)))
        .map(|name| name.to_string())
        .collect();
    plans.sort();
    plans.dedup();
    plans
}

/// The known permissions among the assignments to Microsoft Graph's app roles.
pub fn permissions_of(assignments: &[Value], graph: &Value) -> Vec<String> {
    let known = needs::known_permissions();
    let graph_id = str_of(graph, "id");
    let roles = graph.get("appRoles").and_then(Value::as_array);
    let mut permissions: Vec<String> = assignments
        .iter()
        .filter(|a| str_of(a, "resourceId").eq_ignore_ascii_case(graph_id))
        .filter_map(|a| {
            let role = str_of(a, "appRoleId");
            roles?
                .iter()
                .find(|r| str_of(r, "id").eq_ignore_ascii_case(role))
                .map(|r| str_of(r, "value"))
        })
        .filter_map(|name| known.iter().find(|k| k.eq_ignore_ascii_case(name)))
        .map(|name| name.to_string())
        .collect();
    permissions.sort();
    permissions.dedup();
    permissions
}

/// Read `target`'s facts.
pub async fn read_facts(run: &Run, target: &Target) -> Result<LiveFacts, FactsError> {
    let fleet = &run.fleet;
    let project = &fleet.project;
    let entry = project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(&target.id))
        .ok_or_else(|| TenantError::NotInProject {
            tenant: target.id.clone(),
        })?;
    let tenant = project
        .tenant(entry)
        .ok_or_else(|| TenantError::Unreadable {
            tenant: target.id.clone(),
        })?;
    let endpoints = cloud::resolve(tenant.cloud, &tenant.endpoints).map_err(TenantError::from)?;
    let credentials = auth::load_credentials(tenant.credentials.as_ref(), &fleet.dir, &*fleet.env)
        .map_err(TenantError::from)?;
    let client_id = tenant
        .credentials
        .as_ref()
        .map(|c| c.client_id.value.clone())
        .unwrap_or_default();
    let session = TenantSession::new(&target.id, endpoints, credentials);

    let skus = get(
        run,
        &session,
        "the tenant's licences",
        "/subscribedSkus".into(),
        needs::FACTS_READ_PERMISSIONS[0],
    )
    .await?;
    let read_apps = needs::FACTS_READ_PERMISSIONS[1];
    let apps = get(
        run,
        &session,
        "the app's service principal",
        format!("/servicePrincipals?$filter=appId eq '{client_id}'&$select=id,appId"),
        read_apps,
    )
    .await?;
    let app = apps
        .iter()
        .find(|sp| str_of(sp, "appId").eq_ignore_ascii_case(&client_id))
        .ok_or_else(|| FactsError::NoServicePrincipal {
            client_id: client_id.clone(),
        })?;
    let assignments = get(
        run,
        &session,
        "the app's granted permissions",
        format!(
            "/servicePrincipals/{}/appRoleAssignments?$top=999",
            str_of(app, "id")
        ),
        read_apps,
    )
    .await?;
    let graph = get(
        run,
        &session,
        "Microsoft Graph's permission names",
        format!("/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'&$select=id,appId,appRoles"),
        read_apps,
    )
    .await?;
    let graph = graph
        .into_iter()
        .find(|sp| str_of(sp, "appId") == GRAPH_APP_ID)
        .unwrap_or(Value::Null);
    Ok(LiveFacts {
        tenant: target.id.clone(),
        service_plans: plans_of(&skus),
        permissions: permissions_of(&assignments, &graph),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_usable_known_plans_count() {
        let skus = vec![
            json!({"capabilityStatus": "Enabled", "servicePlans": [
                {"servicePlanName": "AAD_PREMIUM", "provisioningStatus": "Success"},
                {"servicePlanName": "AAD_PREMIUM_P2", "provisioningStatus": "Disabled"},
                {"servicePlanName": "EXCHANGE_S_ENTERPRISE", "provisioningStatus": "Success"},
            ]}),
            json!({"capabilityStatus": "Suspended", "servicePlans": [
                {"servicePlanName": "INTUNE_A", "provisioningStatus": "Success"},
            ]}),
        ];
        assert_eq!(plans_of(&skus), vec!["AAD_PREMIUM".to_string()]);
    }

    #[test]
    fn permissions_are_named_through_graphs_app_roles() {
        let graph = json!({"id": "g", "appRoles": [
            {"id": "r1", "value": "Policy.Read.All"},
            {"id": "r2", "value": "Mail.Send"},
        ]});
        let assignments = vec![
            json!({"resourceId": "g", "appRoleId": "r1"}),
            json!({"resourceId": "g", "appRoleId": "r2"}),
            json!({"resourceId": "other", "appRoleId": "r1"}),
        ];
        assert_eq!(
            permissions_of(&assignments, &graph),
            vec!["Policy.Read.All".to_string()]
        );
    }
}
