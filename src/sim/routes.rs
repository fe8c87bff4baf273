//! Graph's URL space, built from the kinds registry: every kind's path and shape becomes the
//! routes Graph serves for it (collection, item, alternate key, singleton, fixed members,
//! child, `/assign` and `/assignments`, soft-deleted items). No kind is routed by hand.
//!
//! Input: an API version and a path relative to the version root (`/groups(uniqueName='x')`).
//! Output: a [`Target`] naming the kind and the keys in the path, or the segment Graph would
//! say it cannot find.

use percent_encoding::percent_decode_str;

use crate::kinds::{self, ApiVersion, Kind, Shape};

/// The prefix of soft-delete containers: Conditional Access objects deleted under it move to
/// `deletedItems` (graph-wire-facts.md section 5.1).
const SOFT_DELETE_ROOT: &str = "/identity/conditionalAccess/";

/// Singletons that Graph's beta serves as a collection of one (graph-wire-facts.md section
/// 5.3: `GET /beta/policies/authorizationPolicy` answers `value: [...]`, and the object is at
/// `/beta/policies/authorizationPolicy/authorizationPolicy`).
const BETA_COLLECTION_SINGLETONS: &[&str] = &["authorizationPolicy"];

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A kind's collection (list, create).
    Collection(&'static Kind),
    /// One object of a collection, by its key (`id`, or `tenantId` for partners).
    Item(&'static Kind, String),
    /// An action that changes one property of a collection object (the registry's
    /// `UPDATE_ACTIONS`: `authenticationStrengthPolicies/{id}/updateAllowedCombinations`).
    ItemAction(&'static Kind, String),
    /// One object of a collection by alternate key: `groups(uniqueName='x')`.
    AlternateKey(&'static Kind, String),
    /// A singleton.
    Singleton(&'static Kind),
    /// A singleton that beta serves as a collection of one: the collection.
    SingletonCollection(&'static Kind),
    /// A singleton that beta serves as a collection of one: the object, by its id.
    SingletonMember(&'static Kind, String),
    /// The fixed set of a `FixedMember` kind (list).
    Members(&'static Kind),
    /// One fixed member, by id (case-insensitive).
    Member(&'static Kind, String),
    /// An object under a parent key (partner identity synchronization).
    Child(&'static Kind, String),
    /// The `/assign` action of a parent object.
    Assign(&'static Kind, String),
    /// The `/assignments` of a parent object (for a set written member by member, also where
    /// a member is added).
    Assignments(&'static Kind, String),
    /// One member of a set written member by member: parent key, member id.
    AssignmentMember(&'static Kind, String, String),
    /// Soft-deleted objects of a kind.
    DeletedCollection(&'static Kind),
    /// One soft-deleted object.
    DeletedItem(&'static Kind, String),
}

impl Target {
    /// The kind the target belongs to.
    pub(crate) fn kind(&self) -> &'static Kind {
        match self {
            Target::Collection(k)
            | Target::Item(k, _)
            | Target::ItemAction(k, _)
            | Target::AlternateKey(k, _)
            | Target::Singleton(k)
            | Target::SingletonCollection(k)
            | Target::SingletonMember(k, _)
            | Target::Members(k)
            | Target::Member(k, _)
            | Target::Child(k, _)
            | Target::Assign(k, _)
            | Target::Assignments(k, _)
            | Target::AssignmentMember(k, _, _)
            | Target::DeletedCollection(k)
            | Target::DeletedItem(k, _) => k,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    Collection,
    Item,
    ItemAction,
    Singleton,
    Members,
    Member,
    Child,
    Assign,
    Assignments,
    AssignmentMember,
    DeletedCollection,
    DeletedItem,
}

/// One route: literal segments, `None` for a captured key.
#[derive(Debug)]
struct Route {
    kind: &'static Kind,
    segments: Vec<Option<String>>,
    pattern: Pattern,
}

/// Every route of every kind.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

/// Why a path has no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoRoute {
    /// The first segment nothing matched.
    pub(crate) segment: String,
}

fn template(path: &str) -> Vec<Option<String>> {
    path.trim_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                None
            } else {
                Some(s.to_ascii_lowercase())
            }
        })
        .collect()
}

/// True when deleting an object of this kind moves it to `deletedItems`.
pub(crate) fn soft_deletes(kind: &Kind) -> bool {
    kind.shape == Shape::Collection && kind.path.starts_with(SOFT_DELETE_ROOT)
}

/// The property whose value addresses an object of a collection kind in URLs: `tenantId` for
/// kinds matched by `tenantId` (partners), else the server `id`.
pub(crate) fn key_property(kind: &Kind) -> &'static str {
    if kind.match_key == ["tenantId"] {
        "tenantId"
    } else {
        "id"
    }
}

/// The alternate key of a kind created by upsert (`PATCH /groups(uniqueName='x')`).
pub(crate) fn alternate_key(kind: &Kind) -> Option<&'static str> {
    (kind.shape == Shape::Collection && kind.create_method == Some(kinds::Method::Patch))
        .then(|| kind.match_key.first().copied())
        .flatten()
}

impl RouteTable {
    /// The routes of every kind in the registry.
    pub(crate) fn from_registry() -> RouteTable {
        let mut routes = Vec::new();
        for kind in kinds::all() {
            let base = template(kind.path);
            let mut add = |segments: Vec<Option<String>>, pattern| {
                routes.push(Route {
                    kind,
                    segments,
                    pattern,
                })
            };
            match kind.shape {
                Shape::Collection => {
                    add(base.clone(), Pattern::Collection);
                    let mut item = base.clone();
                    item.push(None);
                    for (_, _, action) in kinds::UPDATE_ACTIONS
                        .iter()
                        .filter(|(name, ..)| *name == kind.name)
                    {
                        let mut action_path = item.clone();
                        action_path.push(Some(action.to_ascii_lowercase()));
                        add(action_path, Pattern::ItemAction);
                    }
                    add(item, Pattern::Item);
                    if soft_deletes(kind) {
                        let rest = kind.path.trim_start_matches(SOFT_DELETE_ROOT);
                        let deleted = template(&format!("{SOFT_DELETE_ROOT}deletedItems/{rest}"));
                        let mut deleted_item = deleted.clone();
                        deleted_item.push(None);
                        add(deleted, Pattern::DeletedCollection);
                        add(deleted_item, Pattern::DeletedItem);
                    }
                }
                Shape::Singleton => add(base, Pattern::Singleton),
                Shape::FixedMember => {
                    let mut members = base.clone();
                    members.pop();
                    add(members, Pattern::Members);
                    add(base, Pattern::Member);
                }
                Shape::Child => add(base, Pattern::Child),
                // Served by `graph/pim.rs`: their path is a query, not a route.
                Shape::QueriedItems(_) => {}
                // A set written member by member: its path is the listing; one member by id.
                Shape::ParentAction if kind.writes_members() => {
                    let mut member = base.clone();
                    member.push(None);
                    add(base, Pattern::Assignments);
                    add(member, Pattern::AssignmentMember);
                }
                Shape::ParentAction => {
                    let mut listing = base.clone();
                    if let (Some(last), Some(segment)) = (listing.last_mut(), kind.action_listing())
                    {
                        *last = Some(segment.to_ascii_lowercase());
                    }
                    add(base, Pattern::Assign);
                    add(listing, Pattern::Assignments);
                }
            }
        }
        RouteTable { routes }
    }

    /// The target of `path` (relative to the version root, query removed) on `version`.
    pub(crate) fn resolve(&self, version: ApiVersion, path: &str) -> Result<Target, NoRoute> {
        let raw: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let segments: Vec<String> = raw
            .iter()
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let mut best: Option<(usize, &Route, Vec<String>)> = None;
        let mut longest_prefix = 0;
        for route in &self.routes {
            if route.kind.api_version == ApiVersion::Beta
                && version != ApiVersion::Beta
                && !kinds::READ_ONLY_ON_V1.contains(&route.kind.name)
            {
                continue;
            }
            let (matched, captures, literals) = match_route(route, &segments);
            longest_prefix = longest_prefix.max(matched);
            if matched == segments.len() && matched == route.segments.len() {
                // Where a v1.0 and a beta kind share a path, each version gets its own kind
                // (its schema); they share the objects (see `state::storage_kind`).
                let better = best.as_ref().is_none_or(|(l, r, _)| {
                    literals > *l
                        || (literals == *l
                            && route.kind.api_version == version
                            && r.kind.api_version != version)
                });
                if better {
                    best = Some((literals, route, captures));
                }
            }
        }
        if let Some(alternate) = self.alternate_key_target(version, &segments) {
            return Ok(alternate);
        }
        if version == ApiVersion::Beta
            && let Some(target) = beta_collection_singleton(&segments)
        {
            return Ok(target);
        }
        let Some((_, route, mut captures)) = best else {
            return Err(NoRoute {
                segment: segments
                    .get(longest_prefix)
                    .or(segments.last())
                    .cloned()
                    .unwrap_or_default(),
            });
        };
        let key = captures.pop().unwrap_or_default();
        let kind = route.kind;
        Ok(match route.pattern {
            Pattern::Collection => Target::Collection(kind),
            Pattern::Item => Target::Item(kind, key),
            Pattern::ItemAction => Target::ItemAction(kind, key),
            Pattern::Singleton => Target::Singleton(kind),
            Pattern::Members => Target::Members(kind),
            Pattern::Member => Target::Member(kind, key),
            Pattern::Child => Target::Child(kind, key),
            Pattern::Assign => Target::Assign(kind, key),
            Pattern::Assignments => Target::Assignments(kind, key),
            Pattern::AssignmentMember => {
                Target::AssignmentMember(kind, captures.pop().unwrap_or_default(), key)
            }
            Pattern::DeletedCollection => Target::DeletedCollection(kind),
            Pattern::DeletedItem => Target::DeletedItem(kind, key),
        })
    }

    /// `groups(uniqueName='x')` for kinds upserted by an alternate key.
    fn alternate_key_target(&self, version: ApiVersion, segments: &[String]) -> Option<Target> {
        let last = segments.last()?;
        let open = last.find('(')?;
        let (collection, key) = last.split_at(open);
        for route in &self.routes {
            if route.pattern != Pattern::Collection
                || route.segments.len() != segments.len()
                || (route.kind.api_version == ApiVersion::Beta && version != ApiVersion::Beta)
            {
                continue;
            }
            let Some(property) = alternate_key(route.kind) else {
                continue;
            };
            let mut with_collection: Vec<String> = segments[..segments.len() - 1].to_vec();
            with_collection.push(collection.to_string());
            let (matched, _, _) = match_route(route, &with_collection);
            if matched != segments.len() {
                continue;
            }
            let value = parse_key_predicate(key, property)?;
            return Some(Target::AlternateKey(route.kind, value));
        }
        None
    }
}

/// `/policies/authorizationPolicy[/{id}]` on beta: the collection of one, or its member.
fn beta_collection_singleton(segments: &[String]) -> Option<Target> {
    for name in BETA_COLLECTION_SINGLETONS {
        let Some(kind) = kinds::by_name(name) else {
            continue;
        };
        let path: Vec<&str> = kind.path.trim_matches('/').split('/').collect();
        let prefix_matches = segments.len() >= path.len()
            && path
                .iter()
                .zip(segments)
                .all(|(p, s)| p.eq_ignore_ascii_case(s));
        if !prefix_matches {
            continue;
        }
        match &segments[path.len()..] {
            [] => return Some(Target::SingletonCollection(kind)),
            [id] => return Some(Target::SingletonMember(kind, id.clone())),
            _ => {}
        }
    }
    None
}

/// `(uniqueName='a''b')` → `a'b`.
fn parse_key_predicate(predicate: &str, property: &str) -> Option<String> {
    let inner = predicate.strip_prefix('(')?.strip_suffix(')')?;
    let (name, quoted) = inner.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case(property) {
        return None;
    }
    let quoted = quoted.trim();
    let text = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(text.replace("''", "'"))
}

/// How many leading segments match, the captured keys, and how many literals matched.
fn match_route(route: &Route, segments: &[String]) -> (usize, Vec<String>, usize) {
    let mut captures = Vec::new();
    let mut literals = 0;
    let mut matched = 0;
    for (template, segment) in route.segments.iter().zip(segments) {
        match template {
            Some(literal) if literal.eq_ignore_ascii_case(segment) => literals += 1,
            Some(_) => break,
            None => captures.push(segment.clone()),
        }
        matched += 1;
    }
    (matched, captures, literals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(path: &str) -> Result<Target, NoRoute> {
        RouteTable::from_registry().resolve(ApiVersion::V1, path)
    }

    fn kind_name(target: &Target) -> &'static str {
        target.kind().name
    }

    #[test]
    fn collections_items_and_deleted_items() {
        let t = resolve("/identity/conditionalAccess/policies").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::Collection(k) if k.name == "conditionalAccessPolicy"));
        let t =
            resolve("/identity/conditionalAccess/policies/abc").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(t, Target::Item(t.kind(), "abc".into()));
        let t = resolve("/identity/conditionalAccess/deletedItems/namedLocations/x")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            matches!(t, Target::DeletedItem(k, ref id) if k.name == "namedLocation" && id == "x")
        );
    }

    #[test]
    fn alternate_keys_members_children_and_actions() {
        let t = resolve("/groups(uniqueName='it''s%20x')").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::AlternateKey(_, ref v) if v == "it's x"));
        let t = resolve(
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::Member(_, ref id) if id == "fido2"));
        let t =
            resolve("/policies/authenticationMethodsPolicy").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::Singleton(_)));
        let t = resolve("/policies/crossTenantAccessPolicy/partners/p1/identitySynchronization")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::Child(_, ref id) if id == "p1"));
        let t = resolve("/policies/crossTenantAccessPolicy/partners/p1")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::Item(_, ref id) if id == "p1"));
        let t = resolve("/deviceManagement/deviceCompliancePolicies/p/assign")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(kind_name(&t), "deviceCompliancePolicyAssignment");
        let t = resolve("/deviceManagement/deviceCompliancePolicies/p/assignments")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(t, Target::Assignments(_, ref id) if id == "p"));
        // App protection replaces its apps with /targetApps and lists them at /apps.
        let t = resolve("/deviceAppManagement/iosManagedAppProtections/p/targetApps")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(kind_name(&t), "iosManagedAppProtectionApps");
        let t = resolve("/deviceAppManagement/iosManagedAppProtections/p/apps")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            matches!(t, Target::Assignments(k, ref id) if id == "p" && k.name == "iosManagedAppProtectionApps")
        );
        let t = resolve("/deviceAppManagement/iosManagedAppProtections/p/assignments")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            matches!(t, Target::Assignments(k, _) if k.name == "iosManagedAppProtectionAssignment")
        );
    }

    #[test]
    fn beta_kinds_v1_serves_read_only_are_routed_on_both_versions() {
        assert!(matches!(
            resolve("/policies/deviceRegistrationPolicy"),
            Ok(Target::Singleton(k)) if k.name == "deviceRegistrationPolicy"
        ));
        assert!(resolve("/policies/externalIdentitiesPolicy").is_err());
    }

    #[test]
    fn update_actions_are_routed_on_their_items() {
        let t = resolve("/policies/authenticationStrengthPolicies/s1/updateAllowedCombinations")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            matches!(t, Target::ItemAction(k, ref id) if k.name == "authenticationStrengthPolicy" && id == "s1")
        );
        assert!(resolve("/policies/authenticationStrengthPolicies/s1/bogus").is_err());
    }

    #[test]
    fn beta_serves_the_authorization_policy_as_a_collection_of_one() {
        let table = RouteTable::from_registry();
        let beta = |p: &str| table.resolve(ApiVersion::Beta, p);
        assert!(matches!(
            beta("/policies/authorizationPolicy"),
            Ok(Target::SingletonCollection(_))
        ));
        assert!(matches!(
            beta("/policies/authorizationPolicy/authorizationPolicy"),
            Ok(Target::SingletonMember(_, ref id)) if id == "authorizationPolicy"
        ));
        assert!(matches!(
            resolve("/policies/authorizationPolicy"),
            Ok(Target::Singleton(_))
        ));
    }

    #[test]
    fn beta_kinds_are_not_on_v1_and_unknown_segments_are_named() {
        assert!(resolve("/deviceManagement/configurationPolicies").is_err());
        assert!(
            RouteTable::from_registry()
                .resolve(ApiVersion::Beta, "/deviceManagement/configurationPolicies")
                .is_ok()
        );
        assert_eq!(
            resolve("/identity/conditionalAccess/bogus").err(),
            Some(NoRoute {
                segment: "bogus".into()
            })
        );
    }
}
