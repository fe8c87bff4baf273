//! Import, between layout and emit: the assignments a backup keeps inside each Intune policy
//! → the policy's assignment-set resource (`deviceCompliancePolicyAssignment`,
//! `deviceConfigurationAssignment`, `configurationPolicyAssignment`: `/assign` replaces the
//! whole set), with its group targets pointing at groups the baseline declares.
//!
//! Each source says a target group its own way (import-formats-facts.md 1.5, 2.4, 2.6):
//! - Graph (a live export's `GET …/{id}/assignments`, a Graph JSON `$expand=assignments`) and
//!   IntuneManagement: `target.groupId`, the source tenant's object id, mapped like every other
//!   group id (exported groups, `Groups/*.json`, `MigrationTable.json`), else a parameter.
//! - IntuneCD: no id, but `target.groupName` (+ `groupType`, `membershipRule` for a dynamic
//!   group): the group is declared in the baseline by that name (security group, dynamic when
//!   it had a rule), as IntuneCD's own updater looks groups up by name.
//!
//! Only `target` is kept of an entry (what `/assign` takes, as IntuneManagement's import does);
//! entries whose `source` is not `direct` (a policy set's) are left out with a warning. An
//! assignment filter is tenant-specific: its id (or, from IntuneCD, its name) becomes a
//! parameter. Names become stable stand-in ids (`name_id`) so the emitter maps them like ids.
//!
//! Input: the backup's objects. Output: the objects without `assignments`, each policy's
//! assignment body beside it, the groups IntuneCD names, findings.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::Digest;

use super::Finding;
use super::layout::ForeignObject;
use crate::kinds::{self, ApiVersion, Kind, Shape};
use crate::source::model::is_guid;

/// The property of an assignment target that holds its filter's id.
pub(crate) const FILTER_ID: &str = "deviceAndAppManagementAssignmentFilterId";
/// The property of an assignment target that says how its filter applies (`none`, `include`,
/// `exclude`).
const FILTER_TYPE: &str = "deviceAndAppManagementAssignmentFilterType";

/// The assignment-set kind whose parent is `kind` (`deviceCompliancePolicy` →
/// `deviceCompliancePolicyAssignment`).
pub fn assignment_kind(kind: &Kind) -> Option<&'static Kind> {
    kinds::all()
        .iter()
        .find(|k| k.shape == Shape::ParentAction && k.parent_kind == Some(kind.name))
}

/// A stable stand-in id (GUID-shaped, lower case) for an object a backup names but does not
/// identify (IntuneCD's `groupName`, its filter names): the same name always gives the same id.
pub(crate) fn name_id(what: &str, name: &str) -> String {
    let digest = sha2::Sha256::digest(format!("tenantform-import:{what}:{name}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One policy's assignments, split off its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The assignment-set kind.
    pub kind: &'static Kind,
    /// `{"assignments": [{"target": …}, …]}`, as `/assign` takes it.
    pub body: Value,
}

/// What [`split`] gives back.
#[derive(Debug, Default)]
pub struct Extracted {
    /// For each object (by position), its assignment set, if it had assignments.
    pub sets: Vec<Option<Split>>,
    /// Groups named by IntuneCD assignments, one per name, with their stand-in ids.
    pub groups: Vec<ForeignObject>,
    /// Filter stand-in ids → the names IntuneCD gave them.
    pub filter_names: BTreeMap<String, String>,
}

/// Take the `assignments` out of every object whose kind has an assignment set.
pub fn split(objects: &mut [ForeignObject], findings: &mut Vec<Finding>) -> Extracted {
    let mut out = Extracted::default();
    let mut named_groups: BTreeMap<String, ForeignObject> = BTreeMap::new();
    for object in objects.iter_mut() {
        let set = assignment_kind(object.kind).and_then(|kind| {
            let raw = object.body.as_object_mut()?.remove("assignments")?;
            let entries = match raw {
                Value::Array(entries) => entries,
                Value::Null => return None,
                other => {
                    findings.push(Finding::error(
                        &object.file,
                        format!(
                            "`assignments` is {}, not a list of assignments",
                            type_name(&other)
                        ),
                    ));
                    return None;
                }
            };
            let mut targets = Vec::new();
            for (i, entry) in entries.into_iter().enumerate() {
                if let Some(target) = target_of(
                    kind,
                    &object.file,
                    i,
                    entry,
                    &mut named_groups,
                    &mut out.filter_names,
                    findings,
                ) {
                    targets.push(json!({ "target": target }));
                }
            }
            (!targets.is_empty()).then(|| Split {
                kind,
                body: json!({ "assignments": targets }),
            })
        });
        out.sets.push(set);
    }
    out.groups = named_groups.into_values().collect();
    out
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// One entry's target as `/assign` takes it, or `None` (with a finding) when it is left out.
fn target_of(
    kind: &Kind,
    file: &str,
    index: usize,
    entry: Value,
    named_groups: &mut BTreeMap<String, ForeignObject>,
    filter_names: &mut BTreeMap<String, String>,
    findings: &mut Vec<Finding>,
) -> Option<Value> {
    let Value::Object(mut entry) = entry else {
        findings.push(Finding::error(
            file,
            format!("assignment {index} is not an object"),
        ));
        return None;
    };
    if let Some(source) = entry.get("source").and_then(Value::as_str)
        && !source.eq_ignore_ascii_case("direct")
    {
        let from = entry
            .get("sourceId")
            .and_then(Value::as_str)
            .map(|id| format!(" {id}"))
            .unwrap_or_default();
        findings.push(Finding::warning(
            file,
            format!(
                "assignment {index} comes from {source}{from}, not this policy; not imported (assign through the {source} itself)"
            ),
        ));
        return None;
    }
    let Some(Value::Object(mut target)) = entry.remove("target") else {
        findings.push(Finding::error(
            file,
            format!("assignment {index} has no `target` object"),
        ));
        return None;
    };
    // IntuneCD: the group by name (its updater looks groups up by displayName).
    let group_name = target.remove("groupName");
    let group_type = target.remove("groupType");
    let rule = target.remove("membershipRule");
    let needs_group = target
        .get("@odata.type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.to_ascii_lowercase().contains("groupassignmenttarget"));
    if let Some(name) = group_name.as_ref().and_then(Value::as_str) {
        let id = name_id("group", &name.to_lowercase());
        named_groups
            .entry(id.clone())
            .or_insert_with(|| named_group(file, &id, name, group_type.as_ref(), rule.as_ref()));
        target.insert("groupId".into(), Value::String(id));
    } else if needs_group && !target.get("groupId").is_some_and(Value::is_string) {
        findings.push(Finding::error(
            file,
            format!("assignment {index} targets a group but names none (no groupId or groupName)"),
        ));
        return None;
    }
    // "No filter" is the default; every tool writes it out, and it is no setting to carry.
    let no_filter = target
        .get(FILTER_TYPE)
        .and_then(Value::as_str)
        .is_none_or(|t| t.eq_ignore_ascii_case("none"));
    let no_filter_id = target.get(FILTER_ID).is_none_or(|v| {
        v.is_null()
            || v.as_str()
                .is_some_and(|s| s.chars().all(|c| c == '0' || c == '-'))
    });
    if no_filter && no_filter_id {
        target.remove(FILTER_TYPE);
        target.remove(FILTER_ID);
    }
    // A filter named, not identified (IntuneCD writes the filter's name in the id's key). Only
    // beta's assignment targets have filters (v1.0's CSDL has none); on a v1.0 kind the name
    // stays, for the cleaner to report as it was written.
    if let Some(Value::String(filter)) = target.get(FILTER_ID)
        && kind.api_version == ApiVersion::Beta
        && !is_guid(filter)
        && !filter.trim().is_empty()
    {
        let id = name_id("assignment-filter", filter);
        filter_names.insert(id.clone(), filter.clone());
        target.insert(FILTER_ID.into(), Value::String(id));
    }
    Some(Value::Object(target))
}

/// The group an IntuneCD assignment names: a security group, dynamic when it had a rule.
fn named_group(
    file: &str,
    id: &str,
    name: &str,
    group_type: Option<&Value>,
    rule: Option<&Value>,
) -> ForeignObject {
    let mut body = Map::new();
    body.insert("id".into(), json!(id));
    body.insert("displayName".into(), json!(name));
    body.insert("mailEnabled".into(), json!(false));
    body.insert("securityEnabled".into(), json!(true));
    let dynamic = group_type.and_then(Value::as_str) == Some("DynamicMembership");
    if let (true, Some(Value::String(rule))) = (dynamic, rule) {
        body.insert("groupTypes".into(), json!(["DynamicMembership"]));
        body.insert("membershipRule".into(), json!(rule));
        body.insert("membershipRuleProcessingState".into(), json!("On"));
    }
    ForeignObject {
        file: file.to_string(),
        kind: kinds::by_name("group").expect("invariant: group is a registered kind"),
        body: Value::Object(body),
        key_hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(body: Value) -> ForeignObject {
        ForeignObject {
            file: "p.json".into(),
            kind: kinds::by_name("deviceCompliancePolicy").expect("kind"),
            body,
            key_hint: None,
        }
    }

    #[test]
    fn intunecd_group_names_become_one_declared_group_each() {
        let target = |name: &str| {
            json!({"intent": "apply", "target": {
            "@odata.type": "#microsoft.graph.groupAssignmentTarget",
            "deviceAndAppManagementAssignmentFilterType": "include",
            "deviceAndAppManagementAssignmentFilterId": "Corporate devices",
            "groupName": name, "groupType": "DynamicMembership",
            "membershipRule": "(device.deviceOSType -eq \"Windows\")"}})
        };
        let mut objects = vec![
            policy(json!({"displayName": "a", "assignments": [target("All Windows")]})),
            policy(json!({"displayName": "b", "assignments": [target("all windows")]})),
            policy(json!({"displayName": "c"})),
        ];
        let mut findings = Vec::new();
        let out = split(&mut objects, &mut findings);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(
            out.groups.len(),
            1,
            "one group per name, case-insensitively"
        );
        assert_eq!(
            out.groups[0].body["groupTypes"],
            json!(["DynamicMembership"])
        );
        let id = name_id("group", "all windows");
        let set = out.sets[0].as_ref().expect("set");
        assert_eq!(set.kind.name, "deviceCompliancePolicyAssignment");
        assert_eq!(set.body["assignments"][0]["target"]["groupId"], json!(id));
        assert!(set.body["assignments"][0].get("intent").is_none());
        // v1.0 assignment targets have no filter: the name stays for the cleaner to report.
        assert_eq!(
            set.body["assignments"][0]["target"][FILTER_ID],
            "Corporate devices"
        );
        assert!(out.filter_names.is_empty());
        assert!(out.sets[2].is_none());
        assert!(objects.iter().all(|o| o.body.get("assignments").is_none()));
        // Beta's (Settings Catalog) do: the name becomes a stand-in id, mapped to a parameter.
        let mut catalog = vec![ForeignObject {
            kind: kinds::by_name("configurationPolicy").expect("kind"),
            ..policy(json!({"name": "s", "assignments": [target("All Windows")]}))
        }];
        let out = split(&mut catalog, &mut findings);
        let filter = name_id("assignment-filter", "Corporate devices");
        let set = out.sets[0].as_ref().expect("set");
        assert_eq!(set.kind.name, "configurationPolicyAssignment");
        assert_eq!(
            set.body["assignments"][0]["target"][FILTER_ID],
            json!(filter)
        );
        assert_eq!(out.filter_names[&filter], "Corporate devices");
    }

    #[test]
    fn policy_set_entries_are_warnings_and_broken_entries_errors() {
        let mut objects = vec![
            policy(json!({"displayName": "a", "assignments": [
                {"source": "policySets", "sourceId": "s1", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
                {"source": "direct", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget"}},
                3,
                {"target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}
            ]})),
            policy(json!({"displayName": "b", "assignments": "all"})),
        ];
        let mut findings = Vec::new();
        let out = split(&mut objects, &mut findings);
        let messages: Vec<String> = findings
            .iter()
            .map(|f| format!("{:?}: {}", f.severity, f.message))
            .collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].starts_with("Warning: assignment 0 comes from policySets s1"));
        assert!(messages[1].contains("targets a group but names none"));
        assert!(messages[2].contains("assignment 2 is not an object"));
        assert!(messages[3].contains("`assignments` is a string"));
        assert_eq!(
            out.sets[0].as_ref().expect("set").body,
            json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}]})
        );
        assert!(out.sets[1].is_none());
    }

    #[test]
    fn no_filter_is_left_out_and_a_real_one_kept() {
        let mut objects = vec![policy(json!({"displayName": "a", "assignments": [
            {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                FILTER_TYPE: "none", FILTER_ID: null}},
            {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                FILTER_TYPE: "None", FILTER_ID: "00000000-0000-0000-0000-000000000000"}},
            {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                FILTER_TYPE: "exclude", FILTER_ID: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"}}
        ]}))];
        let out = split(&mut objects, &mut Vec::new());
        let set = &out.sets[0].as_ref().expect("set").body["assignments"];
        assert_eq!(
            set[0]["target"],
            json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"})
        );
        assert_eq!(set[1]["target"], set[0]["target"]);
        assert_eq!(set[2]["target"][FILTER_TYPE], "exclude");
    }

    #[test]
    fn stand_in_ids_are_guid_shaped_and_stable() {
        let id = name_id("group", "x");
        assert!(is_guid(&id), "{id}");
        assert_eq!(id, name_id("group", "x"));
        assert_ne!(id, name_id("group", "y"));
    }
}
