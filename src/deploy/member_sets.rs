//! Deploying a parent set that Graph writes member by member ([`Kind::writes_members`]: the
//! assignments of a Windows Autopilot deployment profile, which have no `/assign` that
//! replaces them). Plan compares the set whole, as for `/assign`; applying it reads the members
//! the tenant has now, deletes each one the resource does not declare (`DELETE
//! .../assignments/{id}`) and adds each declared one the tenant lacks (`POST .../assignments`).
//! Reading first makes a retry after a partial failure converge, and never adds a member twice.
//!
//! Input: the operation and its [`MemberSet`]. Output: `Ok` once the tenant's set is the
//! declared one, or the first failed request.

use serde_json::{Value, json};

use crate::compile::bundle::Operation;
use crate::deploy::apply::{ApplyError, MemberSet, TenantRun};
use crate::graph::client::Request;
use crate::kinds::Kind;
use crate::live::normalize;
use crate::live::reader::assignment_targets;

/// The members to delete (ids of `live` members no desired one equals) and to add (desired
/// members no live one equals), compared as plan compares the set.
pub(crate) fn member_changes(
    kind: &Kind,
    desired: &[Value],
    live: &[Value],
) -> (Vec<String>, Vec<Value>) {
    let parameter = kind.schema.action_parameter.unwrap_or("assignments");
    let wrap = |item: &Value| json!({ parameter: [item] });
    // A live member as plan sees it (service-set properties left out).
    let seen: Vec<(Option<String>, Value)> = live
        .iter()
        .map(|m| {
            let id = m.get("id").and_then(Value::as_str).map(str::to_string);
            (id, assignment_targets(&json!({ "value": [m] }), kind))
        })
        .collect();
    let same = |d: &Value, l: &Value| normalize::diff(kind, &wrap(d), l).is_empty();
    let deletes = seen
        .iter()
        .filter(|(_, l)| !desired.iter().any(|d| same(d, l)))
        .filter_map(|(id, _)| id.clone())
        .collect();
    let adds = desired
        .iter()
        .filter(|d| !seen.iter().any(|(_, l)| same(d, l)))
        .cloned()
        .collect();
    (deletes, adds)
}

impl TenantRun<'_> {
    /// Make the tenant's set the declared one (see the module documentation).
    pub(crate) async fn write_members(
        &self,
        op: &Operation,
        set: &MemberSet,
    ) -> Result<(), ApplyError> {
        let read = Request::get(
            format!("read:{}", op.key),
            op.kind.api_version,
            set.listing.clone(),
            op.kind.throttle,
        );
        let response = self
            .send(&read)
            .await
            .map_err(ApplyError::request(op.kind))?;
        let live: Vec<Value> = response
            .body
            .get("value")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let (deletes, adds) = member_changes(op.kind, &set.desired, &live);
        for id in deletes {
            let mut request =
                self.request(op, "DELETE", format!("{}/{id}", set.listing), Value::Null);
            request.body = None;
            request.prefer = None;
            request.label = format!("{}/{id}", op.key);
            self.send(&request)
                .await
                .map_err(ApplyError::request(op.kind))?;
        }
        for member in adds {
            let mut request = self.request(op, "POST", set.listing.clone(), member);
            request.prefer = None;
            self.send(&request)
                .await
                .map_err(ApplyError::request(op.kind))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind() -> &'static Kind {
        crate::kinds::by_name("windowsAutopilotDeploymentProfileAssignment").expect("kind")
    }

    fn group(id: &str) -> Value {
        json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id}})
    }

    #[test]
    fn members_the_tenant_has_and_wants_are_left_alone_others_deleted_or_added() {
        let live = vec![
            json!({"@odata.type": "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment", "id": "p_a", "source": "direct", "sourceId": "p",
                   "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "a",
                              "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none"}}),
            json!({"id": "p_old", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "old"}}),
        ];
        let desired = vec![group("a"), group("b")];
        let (deletes, adds) = member_changes(kind(), &desired, &live);
        assert_eq!(deletes, vec!["p_old".to_string()]);
        assert_eq!(adds, vec![group("b")]);
        // Already the declared set: nothing to write.
        let (deletes, adds) = member_changes(kind(), &desired[..1], &live[..1]);
        assert!(deletes.is_empty() && adds.is_empty());
    }

    #[test]
    fn the_kind_writes_members_and_lists_its_own_path() {
        let k = kind();
        assert!(k.writes_members());
        assert_eq!(k.action_listing(), Some("assignments"));
        let assign = crate::kinds::by_name("windowsFeatureUpdateProfileAssignment").expect("kind");
        assert!(!assign.writes_members());
    }
}
