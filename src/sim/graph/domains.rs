//! The tenant's domains (`/domains`, `/domains/{id}`): every tenant is born with its initial
//! domain (`<name>.onmicrosoft.com`, the verified domain `GET /organization` lists), managed,
//! verified, with passwords that never expire (`passwordValidityPeriodInDays` 2147483647, what
//! Graph reports for tenants created since Microsoft made "never expire" the default).
//! `GET /domains` lists them, `GET /domains/{id}` reads one, `PATCH /domains/{id}` updates a
//! verified one (Microsoft Learn, "Update domain": only verified domains can be updated); the
//! simulator never creates domains.
//!
//! State: a domain a tenant wrote is stored as an object of the `domain` kind keyed by its
//! name (lower case); the initial domain stays its birth default until then.

use serde_json::{Value, json};

use crate::kinds::{self, Kind};
use crate::sim::state::{StoredObject, TenantState, store};

use super::Call;
use super::directory::initial_domain;

/// A domain as Graph returns it, as the tenant is born with it.
pub(crate) fn birth_domain(tenant_name: &str) -> Value {
    json!({
        "id": initial_domain(tenant_name),
        "authenticationType": "Managed",
        "availabilityStatus": null,
        "isAdminManaged": true,
        "isDefault": true,
        "isInitial": true,
        "isRoot": true,
        "isVerified": true,
        "manufacturer": null,
        "model": null,
        "passwordNotificationWindowInDays": 14,
        "passwordValidityPeriodInDays": 2147483647,
        "state": null,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"]
    })
}

impl Call<'_> {
    /// The birth object of a child that every tenant has before writing it (the initial
    /// domain), when `key` (lower case) names one.
    pub(super) fn born_child(&self, kind: &Kind, key: &str) -> Option<StoredObject> {
        if kind.name != "domain" {
            return None;
        }
        let domain = birth_domain(&self.tenant.name);
        let id = domain.get("id").and_then(Value::as_str)?.to_string();
        id.eq_ignore_ascii_case(key)
            .then(|| store(&self.app.schemas, kind, &id, &domain, 0))
    }

    /// Every domain of the tenant: the written ones, and the initial domain as born unless
    /// written.
    pub(crate) fn domains(&self, state: &TenantState) -> Vec<Value> {
        let Some(kind) = kinds::by_name("domain") else {
            return Vec::new();
        };
        let birth = birth_domain(&self.tenant.name);
        let birth_id = birth
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let written = state.live(kind);
        let mut domains = Vec::new();
        if written.is_none_or(|w| !w.contains_key(birth_id.as_str())) {
            domains.push(birth);
        }
        domains.extend(
            written
                .into_iter()
                .flat_map(|w| w.values().map(StoredObject::value)),
        );
        domains
    }
}
