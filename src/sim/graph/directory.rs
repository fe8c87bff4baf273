//! Read-only objects beside the registry's kinds (writes to users and group members are
//! `people.rs`'s), which clients read first although tenantform
//! manages none of them: `GET /organization` (one object, with its verified domains),
//! `GET /users` (list, get by id or `userPrincipalName`, `$filter`, `$select`). (Intune's scope
//! tags, which clients also read first, are the registry's `roleScopeTag` kind, born with the
//! built-in `Default` tag: see `defaults::collection_birth`.) Each tenant has its organization (its id is the tenant id, as on Graph) and one administrator,
//! derived from the seed and the tenant id, so they are the same on every run.
//!
//! Input: a path relative to the version root that no registry kind claims, and the [`Call`].
//! Output: the [`Reply`] Graph would send. Shapes follow Microsoft Learn's `organization` and
//! `user` resources ("List organization", "List users": a list
//! returns a user's default properties unless `$select` names others).

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::kinds::ThrottleClass;
use crate::sim::defaults::BIRTH;
use crate::sim::seeded;
use crate::sim::wire::{Reply, json_string};

use super::{Call, licensing, not_allowed, not_found};

/// The application permissions that read these objects (consented for the simulator's app).
pub(crate) const PERMISSIONS: &[&str] = &["Organization.Read.All", "User.Read.All"];

/// Properties a user has on GET without `$select` (Microsoft Learn, "List users").
const USER_DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// What a directory path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirectoryTarget {
    /// `/organization`.
    Organizations,
    /// `/organization/{id}`.
    Organization(String),
    /// `/users`.
    Users,
    /// `/users/{id | userPrincipalName}`.
    User(String),
    /// `/groups/{id}/members`.
    GroupMembers(String),
    /// `/groups/{id}/members/$ref` (add) or `/groups/{id}/members/{member}/$ref` (remove).
    GroupMemberRef(String, Option<String>),
    /// `/domains` (reads and writes of one domain are the `domain` kind's).
    Domains,
    /// `/subscribedSkus` (licensing.rs).
    SubscribedSkus,
    /// `/servicePrincipals/{id}/appRoleAssignments`.
    AppRoleAssignments(String),
}

impl DirectoryTarget {
    /// The permissions that allow the call (any one of them), least privileged first.
    pub(crate) fn permissions(&self, write: bool) -> &'static [&'static str] {
        match (self, write) {
            (DirectoryTarget::Organizations | DirectoryTarget::Organization(_), _) => {
                &PERMISSIONS[0..1]
            }
            (DirectoryTarget::Users | DirectoryTarget::User(_), false) => &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (DirectoryTarget::Users | DirectoryTarget::User(_), true) => {
                &["User.ReadWrite.All", "Directory.ReadWrite.All"]
            }
            (DirectoryTarget::GroupMembers(_) | DirectoryTarget::GroupMemberRef(..), false) => &[
                "GroupMember.Read.All",
                "Group.Read.All",
                "Group.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (DirectoryTarget::GroupMembers(_) | DirectoryTarget::GroupMemberRef(..), true) => &[
                "GroupMember.ReadWrite.All",
                "Group.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            (DirectoryTarget::Domains, _) => &["Domain.ReadWrite.All"],
            // Microsoft Learn, "List subscribedSkus": Organization.Read.All (among others).
            (DirectoryTarget::SubscribedSkus, _) => &PERMISSIONS[0..1],
            // "List servicePrincipals", "List appRoleAssignments": Application.Read.All.
            (DirectoryTarget::AppRoleAssignments(_), _) => &["Application.Read.All"],
        }
    }

    /// Graph's throttling scope for it.
    pub(crate) fn throttle(&self) -> ThrottleClass {
        ThrottleClass::Identity
    }
}

/// The target of `path` (relative to the version root, the same on v1.0 and beta), if it is one
/// of these.
pub(crate) fn resolve(path: &str) -> Option<DirectoryTarget> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    match segments.as_slice() {
        [collection] if collection.eq_ignore_ascii_case("organization") => {
            Some(DirectoryTarget::Organizations)
        }
        [collection, id] if collection.eq_ignore_ascii_case("organization") => {
            Some(DirectoryTarget::Organization(id.clone()))
        }
        [collection] if collection.eq_ignore_ascii_case("users") => Some(DirectoryTarget::Users),
        [collection] if collection.eq_ignore_ascii_case("domains") => {
            Some(DirectoryTarget::Domains)
        }
        [collection, key] if collection.eq_ignore_ascii_case("users") => {
            Some(DirectoryTarget::User(key.clone()))
        }
        [groups, id, members]
            if groups.eq_ignore_ascii_case("groups") && members.eq_ignore_ascii_case("members") =>
        {
            Some(DirectoryTarget::GroupMembers(id.clone()))
        }
        [groups, id, members, r]
            if groups.eq_ignore_ascii_case("groups")
                && members.eq_ignore_ascii_case("members")
                && r == "$ref" =>
        {
            Some(DirectoryTarget::GroupMemberRef(id.clone(), None))
        }
        [groups, id, members, member, r]
            if groups.eq_ignore_ascii_case("groups")
                && members.eq_ignore_ascii_case("members")
                && r == "$ref" =>
        {
            Some(DirectoryTarget::GroupMemberRef(
                id.clone(),
                Some(member.clone()),
            ))
        }
        [collection] if collection.eq_ignore_ascii_case("subscribedSkus") => {
            Some(DirectoryTarget::SubscribedSkus)
        }
        [collection, id, assignments]
            if collection.eq_ignore_ascii_case("servicePrincipals")
                && assignments.eq_ignore_ascii_case("appRoleAssignments") =>
        {
            Some(DirectoryTarget::AppRoleAssignments(id.clone()))
        }
        _ => None,
    }
}

/// `Contoso 00000` → `contoso00000.onmicrosoft.com`: the tenant's initial domain (the same
/// rule writes `domain` in the fleet's tenants file).
pub(crate) use crate::source::init::initial_domain;

/// The tenant's organization object, as `GET /organization` returns it.
pub(crate) fn organization(tenant_id: &str, tenant_name: &str) -> Value {
    let domain = initial_domain(tenant_name);
    json!({
        "id": tenant_id,
        "deletedDateTime": null,
        "businessPhones": [],
        "city": null,
        "country": null,
        "countryLetterCode": "US",
        "createdDateTime": BIRTH,
        "defaultUsageLocation": null,
        "displayName": tenant_name,
        "isMultipleDataLocationsForServicesEnabled": null,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": null,
        "onPremisesSyncEnabled": null,
        "partnerTenantType": null,
        "postalCode": null,
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": null,
        "street": null,
        "technicalNotificationMails": [format!("admin@{domain}")],
        "tenantType": "AAD",
        "directorySizeQuota": {"used": 1, "total": 50000},
        "assignedPlans": [],
        "privacyProfile": null,
        "provisionedPlans": [],
        "verifiedDomains": [{
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": true,
            "isInitial": true,
            "name": domain,
            "type": "Managed"
        }]
    })
}

/// The tenant's administrator (every property the simulator knows for a user).
pub(crate) fn admin_user(seed: u64, tenant_id: &str, tenant_name: &str) -> Value {
    let domain = initial_domain(tenant_name);
    let upn = format!("admin@{domain}");
    json!({
        "id": seeded::guid(seed, &format!("{tenant_id}/user/admin")),
        "accountEnabled": true,
        "businessPhones": [],
        "city": null,
        "companyName": null,
        "country": null,
        "createdDateTime": BIRTH,
        "creationType": null,
        "deletedDateTime": null,
        "department": null,
        "displayName": "Administrator",
        "employeeId": null,
        "givenName": null,
        "jobTitle": null,
        "mail": upn,
        "mailNickname": "admin",
        "mobilePhone": null,
        "officeLocation": null,
        "onPremisesSyncEnabled": null,
        "otherMails": [],
        "preferredLanguage": "en-US",
        "proxyAddresses": [],
        "surname": null,
        "usageLocation": "US",
        "userPrincipalName": upn,
        "userType": "Member"
    })
}

fn unknown_property(name: &str, type_name: &str) -> Reply {
    Reply::error(
        400,
        "Request_BadRequest",
        format!("Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."),
    )
}

impl Call<'_> {
    /// Answer a directory read.
    pub(crate) fn directory(&self, target: DirectoryTarget) -> Reply {
        if self.request.method != "GET"
            || matches!(
                target,
                DirectoryTarget::GroupMembers(_) | DirectoryTarget::GroupMemberRef(..)
            )
        {
            return self.people(target);
        }
        let tenant_id: &str = &self.tenant.id;
        let tenant_name: &str = &self.tenant.name;
        match target {
            DirectoryTarget::Organizations => {
                let org = organization(tenant_id, tenant_name);
                self.directory_list("organization", "organization", None, vec![org])
            }
            DirectoryTarget::Organization(id) => {
                if !id.eq_ignore_ascii_case(tenant_id) {
                    return not_found(&id);
                }
                let org = organization(tenant_id, tenant_name);
                self.directory_entity("organization", "organization", None, org)
            }
            DirectoryTarget::Domains => {
                let domains = {
                    let state = self.tenant.lock();
                    self.domains(&state)
                };
                self.directory_list("domains", "domain", None, domains)
            }
            DirectoryTarget::Users => {
                let mut users = vec![admin_user(self.app.config.seed, tenant_id, tenant_name)];
                users.extend(self.tenant.lock().sync.users.values().cloned());
                self.directory_list("users", "user", Some(USER_DEFAULT_PROPERTIES), users)
            }
            DirectoryTarget::User(key) => {
                let mut users = vec![admin_user(self.app.config.seed, tenant_id, tenant_name)];
                users.extend(self.tenant.lock().sync.users.values().cloned());
                let matches = |user: &Value| {
                    ["id", "userPrincipalName"].iter().any(|p| {
                        user.get(*p)
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.eq_ignore_ascii_case(&key))
                    })
                };
                let Some(user) = users.into_iter().find(matches) else {
                    return not_found(&key);
                };
                self.directory_entity("users", "user", Some(USER_DEFAULT_PROPERTIES), user)
            }
            DirectoryTarget::SubscribedSkus => self.directory_list(
                "subscribedSkus",
                "subscribedSku",
                None,
                licensing::subscribed_skus(self.tenant),
            ),
            DirectoryTarget::GroupMembers(_) | DirectoryTarget::GroupMemberRef(..) => not_allowed(),
            DirectoryTarget::AppRoleAssignments(id) => {
                if !self
                    .service_principals()
                    .iter()
                    .any(|sp| sp.get("id").and_then(Value::as_str) == Some(id.as_str()))
                {
                    return not_found(&id);
                }
                let assignments = licensing::app_role_assignments(
                    self.app.config.seed,
                    self.tenant,
                    &self.app.config.client_id,
                    &id,
                );
                self.directory_list(
                    &format!("servicePrincipals('{id}')/appRoleAssignments"),
                    "appRoleAssignment",
                    None,
                    assignments,
                )
            }
        }
    }

    /// The service principals every tenant has (the app's and Microsoft Graph's); the
    /// synchronization module serves them in `/servicePrincipals` beside the ones it creates.
    pub(crate) fn service_principals(&self) -> Vec<Value> {
        licensing::service_principals(
            self.app.config.seed,
            self.tenant,
            &self.app.config.client_id,
        )
    }

    /// The object as the request asks for it: `$select`ed properties, else the type's default
    /// properties (`None`: all of them).
    fn shape(
        &self,
        type_name: &str,
        defaults: Option<&[&str]>,
        object: Value,
    ) -> Result<Map<String, Value>, Reply> {
        let Value::Object(all) = object else {
            return Ok(Map::new());
        };
        let wanted: Vec<String> = match (&self.query.select, defaults) {
            (Some(select), _) => select.clone(),
            (None, Some(defaults)) => defaults.iter().map(|s| s.to_string()).collect(),
            (None, None) => return Ok(all),
        };
        let mut out = Map::new();
        for name in &wanted {
            match all.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                Some((k, v)) => {
                    out.insert(k.clone(), v.clone());
                }
                None => return Err(unknown_property(name, type_name)),
            }
        }
        Ok(out)
    }

    fn directory_entity(
        &self,
        set: &str,
        type_name: &str,
        defaults: Option<&[&str]>,
        object: Value,
    ) -> Reply {
        match self.shape(type_name, defaults, object) {
            Ok(map) => {
                let mut out = Map::new();
                out.insert(
                    "@odata.context".into(),
                    Value::String(self.context(&format!("{set}/$entity"))),
                );
                out.extend(map);
                Reply::json(200, Value::Object(out).to_string())
            }
            Err(reply) => reply,
        }
    }

    fn directory_list(
        &self,
        set: &str,
        type_name: &str,
        defaults: Option<&[&str]>,
        objects: Vec<Value>,
    ) -> Reply {
        for clause in &self.query.filter {
            let top = clause.property.split('/').next().unwrap_or_default();
            if !objects.iter().any(|o| o.get(top).is_some()) {
                return Reply::error(
                    400,
                    "Request_UnsupportedQuery",
                    format!(
                        "Unsupported or invalid query filter clause specified for property '{top}' of resource '{}'.",
                        capitalized(type_name)
                    ),
                );
            }
        }
        let sortable: &[&str] = match type_name {
            "user" => &["displayName", "userPrincipalName"],
            _ => &[],
        };
        // Organization and users are directory objects (advanced-query rules).
        let with_count = match self.query.check(true, self.eventual(), sortable) {
            Ok(with_count) => with_count,
            Err(reply) => return reply,
        };
        let mut keyed: Vec<((), Value)> = objects
            .into_iter()
            .filter(|o| self.query.matches(o) && self.query.search_matches(o))
            .map(|o| ((), o))
            .collect();
        self.query.sort(&mut keyed);
        let matching: Vec<Value> = keyed.into_iter().map(|(_, o)| o).collect();
        let size = self
            .query
            .top
            .unwrap_or(self.app.config.page_size)
            .clamp(1, crate::sim::query::MAX_TOP);
        let start = self.query.start().min(matching.len());
        let end = (start + size).min(matching.len());
        let mut items = Vec::with_capacity(end - start);
        for object in &matching[start..end] {
            match self.shape(type_name, defaults, object.clone()) {
                Ok(map) => items.push(Value::Object(map).to_string()),
                Err(reply) => return reply,
            }
        }
        let fragment = match &self.query.select {
            Some(select) => format!("{set}({})", select.join(",")),
            None => set.to_string(),
        };
        let mut text = format!(
            "{{\"@odata.context\":{}",
            json_string(&self.context(&fragment))
        );
        if with_count && self.query.offset.is_none() {
            text.push_str(&format!(",\"@odata.count\":{}", matching.len()));
        }
        if end < matching.len() {
            text.push_str(&format!(
                ",\"@odata.nextLink\":{}",
                json_string(&self.next_link(end))
            ));
        }
        text.push_str(",\"value\":[");
        text.push_str(&items.join(","));
        text.push_str("]}");
        Reply::json(200, text)
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_paths_resolve_and_others_do_not() {
        let v1 = resolve;
        assert_eq!(v1("/organization"), Some(DirectoryTarget::Organizations));
        assert_eq!(
            v1("/users/admin%40contoso.onmicrosoft.com"),
            Some(DirectoryTarget::User(
                "admin@contoso.onmicrosoft.com".into()
            ))
        );
        assert_eq!(v1("/users/x/memberOf"), None);
        assert_eq!(v1("/groups"), None);
        assert_eq!(v1("/deviceManagement/roleScopeTags"), None);
        // Scope tags are a registry kind now, routed from the kinds.
        assert_eq!(resolve("/deviceManagement/roleScopeTags/0"), None);
    }

    #[test]
    fn domains_and_ids_derive_from_the_tenant() {
        assert_eq!(
            initial_domain("Northwind Traders 00002"),
            "northwindtraders00002.onmicrosoft.com"
        );
        let a = admin_user(0, "t1", "Contoso");
        assert_eq!(a, admin_user(0, "t1", "Contoso"));
        assert_ne!(a["id"], admin_user(0, "t2", "Contoso")["id"]);
        assert_eq!(organization("t1", "Contoso")["id"], "t1");
    }
}
