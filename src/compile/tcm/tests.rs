//! Unit tests of the TCM emission over the minimal fixture (a group, a named location and a
//! CA policy that references both).

use serde_json::{Value, json};

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

/// The first tenant of a fresh `tenantform init` project (entra-foundation and
/// intune-compliance, the shipped baselines), compiled.
fn shipped_bundle() -> crate::compile::validate::ValidatedBundle {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("proj");
    crate::source::init::init(&dir).expect("init");
    first_tenant_of(&dir)
}

/// The first tenant of the project at `dir`, compiled.
fn first_tenant_of(dir: &std::path::Path) -> crate::compile::validate::ValidatedBundle {
    let (project, diags) = crate::source::project::load(dir).expect("project");
    assert!(!diags.has_errors());
    let (engine, _) = crate::compile::render::Engine::new(&project);
    let schemas = crate::compile::validate::Schemas::shared().expect("schemas");
    let entry = &project.tenants[0];
    let tenant = project.tenant(entry).expect("tenant");
    let today = jiff::civil::date(2026, 11, 26);
    crate::compile::compile_tenant(&project, &engine, schemas, &tenant, false, today)
        .bundle
        .expect("compiles")
}

fn resource_of<'a>(m: &'a TenantMonitors, resource_type: &str) -> &'a Value {
    m.monitors
        .iter()
        .flat_map(|mon| mon["baseline"]["resources"].as_array().expect("resources"))
        .find(|r| r["resourceType"] == resource_type)
        .unwrap_or_else(|| panic!("no {resource_type} in {:?}", m.monitors))
}

#[test]
fn shipped_authentication_methods_become_per_method_resources_keyed_by_id() {
    let validated = shipped_bundle();
    let m = monitors(validated.bundle(), &TcmQuotas::default()).expect("within quota");
    let policy = &resource_of(&m, "microsoft.entra.authenticationmethodpolicy")["properties"];
    assert_eq!(policy["Id"], "authenticationMethodsPolicy");
    assert_eq!(policy["PolicyMigrationState"], "migrationComplete");
    assert_eq!(policy["Ensure"], "Present");

    let fido2 = resource_of(&m, "microsoft.entra.authenticationmethodpolicyfido2");
    assert_eq!(fido2["displayName"], "Fido2 (auth-method-fido2)");
    let p = &fido2["properties"];
    assert_eq!(p["Id"], "Fido2");
    assert_eq!(p["State"], "enabled");
    assert_eq!(p["IsSelfServiceRegistrationAllowed"], true);
    assert_eq!(
        p["IncludeTargets"],
        json!([{"Id": "all_users", "TargetType": "group"}])
    );
    assert_eq!(p["ExcludeTargets"], json!([]));

    let authenticator = &resource_of(
        &m,
        "microsoft.entra.authenticationmethodpolicyauthenticator",
    )["properties"];
    assert_eq!(authenticator["Id"], "MicrosoftAuthenticator");
    assert_eq!(authenticator["IsSoftwareOathEnabled"], false);
    assert_eq!(
        authenticator["FeatureSettings"]["DisplayLocationInformationRequiredState"],
        json!({"State": "enabled", "IncludeTarget": {"Id": "all_users", "TargetType": "group"}})
    );
    let tap = &resource_of(&m, "microsoft.entra.authenticationmethodpolicytemporary")["properties"];
    assert_eq!(tap["Id"], "TemporaryAccessPass");
    assert_eq!(tap["IsUsableOnce"], true);
    assert_eq!(tap["MaximumLifetimeInMinutes"], 480);
    for (t, id) in [
        ("microsoft.entra.authenticationmethodpolicysms", "Sms"),
        ("microsoft.entra.authenticationmethodpolicyvoice", "Voice"),
    ] {
        let p = &resource_of(&m, t)["properties"];
        assert_eq!(p["Id"], id);
        assert_eq!(p["State"], "disabled");
    }
    // What the schema has no property for is listed, not silently dropped.
    let left: Vec<(&str, &str)> = m
        .properties_not_monitored
        .iter()
        .map(|l| (l.key.as_str(), l.property.as_str()))
        .collect();
    assert!(
        left.contains(&(
            "auth-method-authenticator",
            "includeTargets.authenticationMode"
        )),
        "{left:?}"
    );
    assert!(
        left.contains(&("auth-method-fido2", "includeTargets.isRegistrationRequired")),
        "{left:?}"
    );
    assert!(m.notes.contains(&PROPERTIES_NOTE));
    assert!(
        m.not_monitored
            .iter()
            .all(|n| !n.kind.starts_with("authenticationMethod")),
        "{:?}",
        m.not_monitored
    );
}

#[test]
fn shipped_compliance_policies_carry_their_assignments_by_group_name() {
    let validated = shipped_bundle();
    let m = monitors(validated.bundle(), &TcmQuotas::default()).expect("within quota");
    let windows =
        &resource_of(&m, "microsoft.intune.devicecompliancepolicywindows10")["properties"];
    assert_eq!(
        windows["DisplayName"],
        "Windows 10/11 - baseline compliance"
    );
    assert_eq!(windows["BitLockerEnabled"], true);
    assert_eq!(windows["OsMinimumVersion"], "10.0.19045");
    assert_eq!(
        windows["Assignments"],
        json!([{
            "dataType": "#microsoft.graph.groupAssignmentTarget",
            "groupDisplayName": "Intune compliance - in scope",
            "deviceAndAppManagementAssignmentFilterType": "none"
        }])
    );
    assert!(windows.get("ScheduledActionsForRule").is_none());
    let ios = &resource_of(&m, "microsoft.intune.devicecompliancepolicyios")["properties"];
    assert_eq!(ios["PasscodeRequiredType"], "numeric");
    assert_eq!(ios["SecurityBlockJailbrokenDevices"], true);
    let android = &resource_of(
        &m,
        "microsoft.intune.devicecompliancepolicyandroidworkprofile",
    )["properties"];
    assert_eq!(android["PasswordRequiredType"], "numericComplex");
    assert_eq!(android["SecurityRequireCompanyPortalAppIntegrity"], true);
    // The macOS schema spells the enum in PascalCase.
    let macos = &resource_of(&m, "microsoft.intune.devicecompliancepolicymacos")["properties"];
    assert_eq!(macos["PasswordRequiredType"], "Alphanumeric");
    assert_eq!(macos["FirewallEnableStealthMode"], true);
    // The assignment resources are monitored with their policies, not listed as left out.
    assert!(
        m.not_monitored
            .iter()
            .all(|n| n.kind != "deviceCompliancePolicyAssignment"
                && n.kind != "deviceCompliancePolicy"),
        "{:?}",
        m.not_monitored
    );
    let actions: Vec<&str> = m
        .properties_not_monitored
        .iter()
        .filter(|l| l.property == "scheduledActionsForRule")
        .map(|l| l.key.as_str())
        .collect();
    assert_eq!(actions.len(), 4, "{actions:?}");
    // 4 policies, 6 method resources and the rest: the quota counts each once per run.
    assert_eq!(m.quota.resource_runs_per_day, m.quota.resources * 4);
    assert!(m.quota.resource_runs_per_day <= 800);
}

#[test]
fn an_assignment_to_a_group_by_object_id_leaves_the_policy_unmonitored_with_why() {
    let validated = shipped_bundle();
    let mut bundle = validated.bundle().clone();
    let assignment = bundle
        .operations
        .iter_mut()
        .find(|o| o.key == "windows-compliance-assignment")
        .expect("assignment");
    assignment.body["assignments"][0]["target"]["groupId"] =
        json!("0b6c1b2e-0000-4000-8000-000000000001");
    let m = monitors(&bundle, &TcmQuotas::default()).expect("within quota");
    let reasons: Vec<(&str, &str)> = m
        .not_monitored
        .iter()
        .map(|n| (n.key.as_str(), n.reason.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(k, r)| *k == "windows-compliance"
                && r.contains("TCM matches groups by display name")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(k, r)| *k == "windows-compliance-assignment"
                && r.contains("which is not monitored")),
        "{reasons:?}"
    );
}

#[test]
fn a_method_target_by_object_id_and_an_unknown_method_are_listed_not_dropped() {
    let validated = shipped_bundle();
    let mut bundle = validated.bundle().clone();
    let fido2 = bundle
        .operations
        .iter_mut()
        .find(|o| o.key == "auth-method-fido2")
        .expect("fido2");
    fido2.body["includeTargets"][0]["id"] = json!("0b6c1b2e-0000-4000-8000-000000000001");
    let sms = bundle
        .operations
        .iter_mut()
        .find(|o| o.key == "auth-method-sms")
        .expect("sms");
    sms.body["@odata.type"] =
        json!("#microsoft.graph.hardwareOathAuthenticationMethodConfiguration");
    let m = monitors(&bundle, &TcmQuotas::default()).expect("within quota");
    let reason = |key: &str| {
        m.not_monitored
            .iter()
            .find(|n| n.key == key)
            .map(|n| n.reason.clone())
            .unwrap_or_else(|| panic!("{key} not listed: {:?}", m.not_monitored))
    };
    assert!(reason("auth-method-fido2").contains("by object id"));
    assert!(
        reason("auth-method-sms")
            .contains("hardwareOathAuthenticationMethodConfiguration has no TCM resource type")
    );
}

#[test]
fn a_custom_authentication_strength_is_monitored_and_named_in_the_ca_policy_using_it() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/entra-policies");
    let mut bundle = first_tenant_of(&dir).bundle().clone();
    // A CA policy (from the minimal fixture) that requires the declared custom strength.
    let minimal = minimal_bundle();
    let mut policy = minimal
        .bundle()
        .operations
        .iter()
        .find(|o| o.kind.name == "conditionalAccessPolicy")
        .expect("policy")
        .clone();
    policy.body["conditions"]["users"]["excludeGroups"] = json!([]);
    policy.body["conditions"]["locations"]["excludeLocations"] = json!([]);
    policy.body["grantControls"] = json!({
        "operator": "OR",
        "builtInControls": [],
        "authenticationStrength": {"id": "${ref:auth-strength:strength-keys-and-hello}"}
    });
    policy.baseline = bundle.baselines[0].clone();
    bundle.operations.push(policy);
    let m = monitors(&bundle, &TcmQuotas::default()).expect("within quota");
    let strength = &resource_of(&m, "microsoft.entra.authenticationstrengthpolicy")["properties"];
    assert_eq!(strength["DisplayName"], "Keys and Windows Hello");
    assert_eq!(
        strength["AllowedCombinations"],
        json!(["windowsHelloForBusiness", "fido2"])
    );
    assert_eq!(strength["Ensure"], "Present");
    let ca = &resource_of(&m, "microsoft.entra.conditionalaccesspolicy")["properties"];
    assert_eq!(ca["AuthenticationStrength"], "Keys and Windows Hello");

    // A strength given by an id tenantform neither ships nor declares cannot be named.
    let ca_op = bundle
        .operations
        .iter_mut()
        .find(|o| o.kind.name == "conditionalAccessPolicy")
        .expect("policy");
    ca_op.body["grantControls"]["authenticationStrength"]["id"] =
        json!("5e5f0e3a-0000-4000-8000-000000000009");
    let key = ca_op.key.clone();
    let m = monitors(&bundle, &TcmQuotas::default()).expect("within quota");
    let left = m
        .not_monitored
        .iter()
        .find(|n| n.key == key)
        .expect("listed");
    assert!(
        left.reason
            .contains("neither a built-in one nor one the bundle declares"),
        "{left:?}"
    );
}
