//! The registry of Graph resource kinds, as data.
//!
//! Every stage reads the same entry: `bundle` takes the path, methods and match key; `validate`
//! takes the schema id, the reference slots and the lints that apply; the simulator, `plan` and
//! `deploy` (later issues) take the shape, the throttle class and the normalization rules. Adding
//! a kind is one entry in its area's table (`kinds/entra.rs`, `kinds/intune.rs`; [`all`] joins
//! them) plus its generated schema (see `src/schema/`).
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
    /// An object that always exists and has no path of its own to read: found by the filtered
    /// query in the kind's `path` (the first item of the answer is the object), and updated item
    /// by item (each changed item of a keyed array is PATCHed at its own path). Plan compares
    /// only the items the body declares. PIM role management policy rules.
    QueriedItems(&'static ItemUpdates),
}

/// How a [`Shape::QueriedItems`] kind is compared and written: which array of the body holds
/// the items, what identifies an item, and where each item is PATCHed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemUpdates {
    /// JSON pointer of the keyed array in the body and in the live object (`/policy/rules`).
    pub array: &'static str,
    /// The property that identifies an item (`id`); items match by it, never by position.
    pub item_key: &'static str,
    /// The property of the live object that holds the id of the items' owner (`policyId`).
    pub owner_id: &'static str,
    /// Where one item is PATCHed: `{owner}` and `{item}` are replaced by the ids.
    pub item_path: &'static str,
}

impl ItemUpdates {
    /// The PATCH path of one item.
    pub fn path_of(&self, owner: &str, item: &str) -> String {
        self.item_path
            .replace("{owner}", owner)
            .replace("{item}", item)
    }
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
    /// A custom authentication strength must not be one of Microsoft's built-in strengths
    /// (those exist in every tenant, cannot be changed, and are referenced by their ids).
    NotABuiltInAuthenticationStrength,
    /// A scope tag must not be the built-in `Default` tag (id `0`), which Intune owns.
    BuiltInScopeTag,
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
    /// Service plans the tenant must have for objects of this kind to exist (Graph's
    /// `subscribedSkus` service plan names, e.g. [`ENTRA_ID_P1`]); any one of them will do.
    /// Empty: every tenant has the kind.
    pub licences: &'static [&'static str],
    /// Schema generation and validation.
    pub schema: SchemaSpec,
    /// Where references may appear and to which kind they must point.
    pub ref_slots: &'static [RefSlot],
    /// Comparison rules for plan and drift.
    pub normalization: Normalization,
    /// Semantic lints beyond the schema.
    pub lints: &'static [KindLint],
    /// The `$expand` option a read of this kind's objects must send to get the whole object:
    /// navigation properties Graph keeps but leaves out of a plain GET (a compliance policy's
    /// `scheduledActionsForRule` and, nested, their `scheduledActionConfigurations`). Plan,
    /// drift, snapshot and export read with it; the simulator hides the same properties
    /// without it.
    pub read_expand: Option<&'static str>,
}

/// Actions that replace a set on a parent object, and the parent's navigation property that
/// lists the set: `/assign` → `/assignments`, `/targetApps` → `/apps` (app protection). A kind
/// whose path ends in the listing itself (`/assignments`) writes the set member by member
/// ([`Kind::writes_members`]).
const ACTION_LISTINGS: &[(&str, &str)] = &[
    ("assign", "assignments"),
    ("targetApps", "apps"),
    ("assignments", "assignments"),
];

impl Kind {
    /// True when deploy may create objects of this kind.
    pub fn creates(&self) -> bool {
        self.create_method.is_some()
    }

    /// True for a parent set that Graph has no replacing action for, only its collection
    /// (`POST .../{parent}/assignments` adds one member, `DELETE .../assignments/{id}` removes
    /// one: Windows Autopilot deployment profiles): the kind's path is the listing itself.
    /// Read and compared like an `/assign` set; deploy adds and removes the members that
    /// differ.
    pub fn writes_members(&self) -> bool {
        self.shape == Shape::ParentAction && self.path.ends_with("/assignments")
    }

    /// For a parent action (`.../{parent}/assign`): the parent's navigation property that lists
    /// the set the action replaces (`assignments`, `apps`); `None` for other shapes.
    pub fn action_listing(&self) -> Option<&'static str> {
        if self.shape != Shape::ParentAction {
            return None;
        }
        let action = self.path.rsplit('/').next()?;
        ACTION_LISTINGS
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, listing)| *listing)
    }
}

pub(crate) const NO_NORMALIZATION: Normalization = Normalization {
    set_arrays: &[],
    ignore: &[
        "id",
        "createdDateTime",
        "modifiedDateTime",
        "lastModifiedDateTime",
    ],
    null_equals_empty: true,
};

mod entra;
mod entra_tenant;
mod intune;
mod links;
pub mod needs;
pub use entra::{
    BUILT_IN_AUTHENTICATION_STRENGTHS, BuiltInStrength, KEYED_ARRAYS, READ_ONLY_ON_V1,
    UPDATE_ACTIONS,
};
pub use links::{
    CROSS_TENANT_SYNC_TEMPLATE, LINK_KINDS, LINK_STEP_REGISTRY_KINDS,
    MULTITENANT_ORGANIZATION_PERMISSION, link_kind_by_name,
};

/// Microsoft Entra ID P1 (`AAD_PREMIUM`): Conditional Access, named locations, cross-tenant sync.
pub const ENTRA_ID_P1: &str = "AAD_PREMIUM";
/// Microsoft Entra ID P2 (`AAD_PREMIUM_P2`): risk-based Conditional Access, PIM.
pub const ENTRA_ID_P2: &str = "AAD_PREMIUM_P2";
/// Microsoft Intune Plan 1 (`INTUNE_A`): every device management kind.
pub const INTUNE: &str = "INTUNE_A";

/// Every kind tenantform knows (the Entra and Intune tables together), sorted by name. The
/// simulator's stores and the schema generator index kinds by their position here.
pub fn all() -> &'static [Kind] {
    static ALL: std::sync::LazyLock<Vec<Kind>> = std::sync::LazyLock::new(|| {
        let mut kinds: Vec<Kind> = entra::ENTRA_KINDS
            .iter()
            .chain(entra_tenant::ENTRA_TENANT_KINDS)
            .chain(intune::INTUNE_KINDS)
            .copied()
            .collect();
        kinds.sort_by_key(|k| k.name);
        kinds
    });
    &ALL
}

/// Look a kind up by its name (`conditionalAccessPolicy`).
pub fn by_name(name: &str) -> Option<&'static Kind> {
    all().iter().find(|k| k.name == name)
}

/// Look a kind up by its reference prefix (`group`, `location`) or its name.
pub fn by_ref_prefix(prefix: &str) -> Option<&'static Kind> {
    all()
        .iter()
        .find(|k| k.ref_prefix == prefix)
        .or_else(|| by_name(prefix))
}

/// The action that changes `property` of objects of `kind` (see [`UPDATE_ACTIONS`]).
pub fn update_action(kind: &str, property: &str) -> Option<&'static str> {
    UPDATE_ACTIONS
        .iter()
        .find(|(k, p, _)| *k == kind && *p == property)
        .map(|(_, _, action)| *action)
}

/// The arrays of `kind` compared as maps, with their key property (see [`KEYED_ARRAYS`]).
pub fn keyed_arrays(kind: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    KEYED_ARRAYS
        .iter()
        .filter(move |(k, ..)| *k == kind)
        .map(|(_, pointer, key)| (*pointer, *key))
}

/// The built-in authentication strength with this id or display name (case-insensitive).
pub fn built_in_authentication_strength(id_or_name: &str) -> Option<&'static BuiltInStrength> {
    BUILT_IN_AUTHENTICATION_STRENGTHS
        .iter()
        .find(|(id, name, ..)| {
            id.eq_ignore_ascii_case(id_or_name) || name.eq_ignore_ascii_case(id_or_name.trim())
        })
}

/// True for an object Microsoft owns in every tenant (a built-in authentication strength, by
/// its id or `policyType: builtIn`): read and referenced, never declared, exported or written.
pub fn is_built_in(kind: &str, object: &serde_json::Value) -> bool {
    kind == "authenticationStrengthPolicy"
        && (object.get("policyType").and_then(serde_json::Value::as_str) == Some("builtIn")
            || object
                .get("id")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|id| {
                    BUILT_IN_AUTHENTICATION_STRENGTHS
                        .iter()
                        .any(|(known, ..)| known.eq_ignore_ascii_case(id))
                }))
}

/// Names of all kinds, for "did you mean" suggestions and help text.
pub fn names() -> impl Iterator<Item = &'static str> {
    all().iter().map(|k| k.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_sorted_and_unique() {
        let names: Vec<_> = names().collect();
        assert_eq!(
            names.len(),
            entra::ENTRA_KINDS.len()
                + entra_tenant::ENTRA_TENANT_KINDS.len()
                + intune::INTUNE_KINDS.len()
        );
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
        // The registry kinds a link also writes are baseline kinds, one entry for both.
        for name in LINK_STEP_REGISTRY_KINDS {
            let kind = by_name(name).unwrap_or_else(|| panic!("{name} is not in the registry"));
            assert!(
                link_kind_by_name(name).is_none(),
                "{name} is in both tables"
            );
            assert!(!kind.permissions.is_empty(), "{name}");
        }
        assert!(LINK_STEP_REGISTRY_KINDS.contains(&"externalIdentitiesPolicy"));
    }

    #[test]
    fn update_actions_name_registry_kinds_and_their_properties() {
        for (kind, property, action) in UPDATE_ACTIONS {
            let k = by_name(kind).unwrap_or_else(|| panic!("{kind}"));
            assert!(
                k.creates(),
                "{kind}: an update action needs objects with ids"
            );
            assert_eq!(update_action(kind, property), Some(*action));
        }
        assert_eq!(update_action("group", "displayName"), None);
    }

    #[test]
    fn built_in_objects_are_known_by_id_or_policy_type() {
        let kind = "authenticationStrengthPolicy";
        let id = serde_json::json!({"id": "00000000-0000-0000-0000-000000000003"});
        assert!(is_built_in(kind, &id));
        assert!(is_built_in(
            kind,
            &serde_json::json!({"policyType": "builtIn"})
        ));
        let custom = serde_json::json!({"id": "5b1f…", "policyType": "custom"});
        assert!(!is_built_in(kind, &custom));
        assert!(!is_built_in("conditionalAccessPolicy", &id));
    }

    #[test]
    fn built_in_strengths_are_found_by_id_or_name() {
        let phishing = built_in_authentication_strength("00000000-0000-0000-0000-000000000004");
        assert_eq!(phishing.map(|s| s.1), Some("Phishing-resistant MFA"));
        assert_eq!(
            built_in_authentication_strength("multifactor AUTHENTICATION").map(|s| s.0),
            Some("00000000-0000-0000-0000-000000000002")
        );
        assert!(built_in_authentication_strength("Contoso strong").is_none());
    }

    #[test]
    fn ref_prefixes_are_unique() {
        let mut prefixes: Vec<_> = all().iter().map(|k| k.ref_prefix).collect();
        prefixes.sort();
        let before = prefixes.len();
        prefixes.dedup();
        assert_eq!(before, prefixes.len());
    }

    #[test]
    fn parent_kinds_and_ref_slot_kinds_exist() {
        for kind in all() {
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
    fn every_parent_action_names_the_set_it_replaces() {
        for kind in all().iter().filter(|k| k.shape == Shape::ParentAction) {
            let listing = kind.action_listing();
            assert!(listing.is_some(), "{}: unknown action", kind.name);
            assert!(kind.schema.action_parameter.is_some(), "{}", kind.name);
            assert!(kind.parent_kind.is_some(), "{}", kind.name);
        }
        let apps = by_name("iosManagedAppProtectionApps").map(Kind::action_listing);
        assert_eq!(apps, Some(Some("apps")));
        let group = by_name("group").map(Kind::action_listing);
        assert_eq!(group, Some(None));
    }

    #[test]
    fn intune_kinds_need_an_intune_plan_and_are_paced_as_intune() {
        for kind in intune::INTUNE_KINDS {
            assert_eq!(kind.licences, [INTUNE], "{}", kind.name);
            assert_eq!(kind.throttle, ThrottleClass::Intune, "{}", kind.name);
        }
    }

    #[test]
    fn path_placeholders_have_params() {
        for kind in all() {
            for (name, _) in kind.path_params {
                assert!(kind.path.contains(&format!("{{{name}}}")), "{}", kind.name);
            }
            let open = kind.path.matches('{').count();
            assert_eq!(open, kind.path_params.len(), "{}", kind.name);
        }
    }
}
