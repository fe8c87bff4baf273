//! Unit tests of the TCM emission over the minimal fixture (a group, a named location and a
//! CA policy that references both).

use serde_json::json;

use super::*;
use crate::live::plan::tests::minimal_bundle;

#[test]
fn a_bundle_becomes_one_monitor_per_layer_with_names_not_ids() {
    let validated = minimal_bundle();
    let m = monitors(validated.bundle(), &TcmQuotas::default()).expect("within quota");
    assert_eq!(m.monitors.len(), 1);
    let monitor = &m.monitors[0];
    assert_eq!(monitor["displayName"], "tenantform: core");
    let resources = monitor["baseline"]["resources"]
        .as_array()
        .expect("resources");
    assert_eq!(resources.len(), 3);
    let policy = resources
        .iter()
        .find(|r| r["resourceType"] == "microsoft.entra.conditionalaccesspolicy")
        .expect("CA policy");
    let p = &policy["properties"];
    assert_eq!(p["DisplayName"], "Block sign-ins outside allowed countries");
    assert_eq!(p["ExcludeGroups"], json!(["Emergency access"]));
    assert_eq!(p["ExcludeLocations"], json!(["Allowed countries"]));
    assert_eq!(p["IncludeLocations"], json!(["All"]));
    assert_eq!(p["BuiltInControls"], json!(["block"]));
    assert_eq!(p["Ensure"], "Present");
    assert!(!p.to_string().contains("${ref:"), "{p}");
    assert_eq!(m.quota.resources, 3);
    assert_eq!(m.quota.resource_runs_per_day, 12);
    assert!(m.notes.contains(&HISTORY_NOTE));
}

#[test]
fn a_baseline_over_the_daily_quota_is_a_clear_error() {
    let validated = minimal_bundle();
    let tight = TcmQuotas {
        resources_per_day: 8,
        ..TcmQuotas::default()
    };
    let e = monitors(validated.bundle(), &tight).expect_err("over quota");
    assert_eq!(
        e,
        TcmError::TooManyResources {
            resources: 3,
            runs: 4,
            per_day: 12,
            limit: 8,
            most: 2
        }
    );
    assert!(e.to_string().starts_with(
        "3 monitored resources × 4 runs a day = 12 resource runs a day, over TCM's limit of 8"
    ));
    let one_monitor = TcmQuotas {
        monitors_per_tenant: 0,
        ..TcmQuotas::default()
    };
    assert_eq!(
        monitors(validated.bundle(), &one_monitor),
        Err(TcmError::TooManyMonitors {
            monitors: 1,
            limit: 0
        })
    );
}

#[test]
fn unmapped_kinds_and_unnameable_values_are_listed_not_dropped() {
    let validated = minimal_bundle();
    let mut bundle = validated.bundle().clone();
    // A user object id cannot become the UPN TCM wants.
    let policy = bundle
        .operations
        .iter_mut()
        .find(|o| o.kind.name == "conditionalAccessPolicy")
        .expect("policy");
    policy.body["conditions"]["users"]["excludeUsers"] =
        json!(["0b6c1b2e-0000-4000-8000-000000000001"]);
    let key = policy.key.clone();
    let m = monitors(&bundle, &TcmQuotas::default()).expect("within quota");
    let left_out = m
        .not_monitored
        .iter()
        .find(|n| n.key == key)
        .expect("the policy is listed");
    assert!(
        left_out.reason.contains("user principal name"),
        "{left_out:?}"
    );
    assert_eq!(m.quota.resources, 2);
}
