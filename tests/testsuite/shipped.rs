//! The shipped baselines (`baselines/*.toml` + `templates/`, embedded in the binary) compile to
//! the objects that Microsoft's Conditional Access templates, CISA SCuBA (MS.AAD, as ScubaGear's
//! Rego checks it) and Microsoft's recommendations describe. The expected values below are typed
//! from `shared/baseline-facts.md` (section numbers in the comments), not copied from the
//! baselines, so a wrong id or value in a baseline fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

use crate::harness::{Project, repo};

// ------------------------------------------------------------------------------------------------
// Facts (baseline-facts.md)
// ------------------------------------------------------------------------------------------------

/// §1.4 "roles-14": the roles of templates c7503427, c26a510a and 6364131e.
const ROLES_14: [&str; 14] = [
    "62e90394-69f5-4237-9190-012177145e10", // Global Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de", // Exchange Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", // Conditional Access Administrator
    "729827e3-9c14-49f7-bb1b-9608f156bbb8", // Helpdesk Administrator
    "b0f54661-2d74-4c50-afa3-1ec803f12efe", // Billing Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "c4e39bd9-1100-46d3-8c65-fb160da0071f", // Authentication Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7", // Cloud Application Administrator
    "966707d0-3269-4727-9be2-8c3a10f19b9d", // Password Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
];

/// §1.4 the five roles "roles-19" (template 76c03f19) adds to roles-14.
const ROLES_19_EXTRA: [&str; 5] = [
    "17315797-102d-40b4-93e0-432062caca18", // Compliance Administrator
    "e6d1a23a-da11-4be4-9570-befc86d067a7", // Compliance Data Administrator
    "3a2c62db-5318-420d-8d74-23affee5d9d5", // Intune Administrator
    "44367163-eba1-44c3-98af-f5787879f96a", // Dynamics 365 Administrator
    "11648597-926c-4cf3-9c36-bcebb0ba8dcc", // Power Platform Administrator
];

/// §1.4 "SCuBA-8": ScubaGear's highly privileged roles.
const SCUBA_8: [&str; 8] = [
    "62e90394-69f5-4237-9190-012177145e10", // Global Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de", // Exchange Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7", // Cloud Application Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", // Hybrid Identity Administrator
];

const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
/// §1.4 Directory Synchronization Accounts (excluded by template a3d0a415).
const DIRECTORY_SYNCHRONIZATION_ACCOUNTS: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";
/// §1.5 built-in authentication strengths.
const STRENGTH_MFA: &str = "00000000-0000-0000-0000-000000000002";
const STRENGTH_PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
/// §1.6 Windows Azure Service Management API.
const AZURE_MANAGEMENT_APP: &str = "797f4846-ba00-4fd7-ba43-dac1f8f63013";
/// §3.2 guest role template ids SCuBA 8.1 accepts: limited, restricted.
const GUEST_LIMITED: &str = "10dae51f-b6af-4016-8d66-8c2a99b929b3";
const GUEST_RESTRICTED: &str = "2af84b1e-32c8-42b7-82bc-daa82404023b";

/// §1.2: the resource of entra-foundation that follows each Microsoft template, with the
/// template's id and its name as the API returns it (the baseline uses it as displayName).
const FOUNDATION_TEMPLATES: [(&str, &str, &str); 13] = [
    (
        "ca-mfa-admins",
        "c7503427-338e-4c5e-902d-abe252abfb43",
        "Require multifactor authentication for admins",
    ),
    (
        "ca-security-info-registration",
        "b8bda7f8-6584-4446-bce9-d871480e53fa",
        "Securing security info registration",
    ),
    (
        "ca-block-legacy-auth",
        "0b2282f9-2862-4178-88b5-d79340b36cb8",
        "Block legacy authentication",
    ),
    (
        "ca-mfa-all-users",
        "a3d0a415-b068-4326-9251-f9cdf9feeb64",
        "Require multifactor authentication for all users",
    ),
    (
        "ca-mfa-guests",
        "a4072ac0-722b-4991-981b-7f9755daef14",
        "Require multifactor authentication for guest access",
    ),
    (
        "ca-mfa-azure-management",
        "d8c51a9a-e6b1-454d-86af-554e7872e2c1",
        "Require multifactor authentication for Azure management",
    ),
    (
        "ca-signin-risk",
        "6b619f55-792e-45dc-9711-d83ec9d7ae90",
        "Require multifactor authentication for risky sign-ins",
    ),
    (
        "ca-user-risk",
        "634b6de7-c38d-4357-a2c7-3842706eedd7",
        "Require password change for high-risk users",
    ),
    (
        "ca-compliant-device-admins",
        "c26a510a-3b8b-4023-8c44-d4f4c854e9f9",
        "Require compliant or hybrid Azure AD joined device for admins",
    ),
    (
        "ca-block-unknown-platforms",
        "4e39a309-931e-4cb1-a371-e2beea168002",
        "Block access for unknown or unsupported device platform",
    ),
    (
        "ca-no-persistent-browser",
        "62e51ccc-c9c3-4554-ac70-066172c81007",
        "No persistent browser session",
    ),
    (
        "ca-mfa-admin-portals",
        "6364131e-bc4a-47c4-a20b-33492d1fff6c",
        "Require multifactor authentication for Microsoft admin portals",
    ),
    (
        "ca-phishing-resistant-admins",
        "76c03f19-ea37-4656-a772-a183b4ddb81d",
        "Require phishing-resistant multifactor authentication for admins",
    ),
];

/// §2.2: every current MS.AAD policy id ("The current ids are 1.1, 2.1–2.3, 3.1, 3.2v2, 3.3v2,
/// 3.4, 3.5v2, 3.6–3.9, 4.1, 5.1–5.3, 5.5–5.7, 6.1, 7.1–7.9, 8.1–8.3 and 9.1"), with the version
/// suffix of the table. 5.4 was removed.
const MS_AAD_IDS: [&str; 34] = [
    "MS.AAD.1.1v1",
    "MS.AAD.2.1v1",
    "MS.AAD.2.2v1",
    "MS.AAD.2.3v1",
    "MS.AAD.3.1v1",
    "MS.AAD.3.2v2",
    "MS.AAD.3.3v2",
    "MS.AAD.3.4v1",
    "MS.AAD.3.5v2",
    "MS.AAD.3.6v1",
    "MS.AAD.3.7v1",
    "MS.AAD.3.8v1",
    "MS.AAD.3.9v1",
    "MS.AAD.4.1v1",
    "MS.AAD.5.1v1",
    "MS.AAD.5.2v1",
    "MS.AAD.5.3v1",
    "MS.AAD.5.5v1",
    "MS.AAD.5.6v1",
    "MS.AAD.5.7v1",
    "MS.AAD.6.1v1",
    "MS.AAD.7.1v1",
    "MS.AAD.7.2v1",
    "MS.AAD.7.3v1",
    "MS.AAD.7.4v1",
    "MS.AAD.7.5v1",
    "MS.AAD.7.6v1",
    "MS.AAD.7.7v1",
    "MS.AAD.7.8v1",
    "MS.AAD.7.9v1",
    "MS.AAD.8.1v1",
    "MS.AAD.8.2v1",
    "MS.AAD.8.3v1",
    "MS.AAD.9.1v1",
];

/// The MS.AAD ids cisa-scuba-entra (with entra-foundation beneath it) implements: every id of
/// §2.2 that the baseline's header does not list as "NOT implemented". 2.2 (no Graph API), 4.1
/// (Azure Monitor), 7.1–7.5 (people and process) and 8.3 (each organisation's domains) are
/// absent on purpose.
pub(crate) const SCUBA_IMPLEMENTED: [&str; 26] = [
    "MS.AAD.1.1v1",
    "MS.AAD.2.1v1",
    "MS.AAD.2.3v1",
    "MS.AAD.3.1v1",
    "MS.AAD.3.2v2",
    "MS.AAD.3.3v2",
    "MS.AAD.3.4v1",
    "MS.AAD.3.5v2",
    "MS.AAD.3.6v1",
    "MS.AAD.3.7v1",
    "MS.AAD.3.8v1",
    "MS.AAD.3.9v1",
    "MS.AAD.5.1v1",
    "MS.AAD.5.2v1",
    "MS.AAD.5.3v1",
    "MS.AAD.5.5v1",
    "MS.AAD.5.6v1",
    "MS.AAD.5.7v1",
    "MS.AAD.6.1v1",
    "MS.AAD.7.6v1",
    "MS.AAD.7.7v1",
    "MS.AAD.7.8v1",
    "MS.AAD.7.9v1",
    "MS.AAD.8.1v1",
    "MS.AAD.8.2v1",
    "MS.AAD.9.1v1",
];

/// The CA controls ScubaGear applies its common test to (§2.1), which therefore need their
/// exclusions declared in the ScubaGear config.
const CA_CONTROLS: [&str; 9] = [
    "MS.AAD.1.1v1",
    "MS.AAD.2.1v1",
    "MS.AAD.2.3v1",
    "MS.AAD.3.1v1",
    "MS.AAD.3.2v2",
    "MS.AAD.3.6v1",
    "MS.AAD.3.7v1",
    "MS.AAD.3.8v1",
    "MS.AAD.3.9v1",
];

// ------------------------------------------------------------------------------------------------
// The init project, compiled once
// ------------------------------------------------------------------------------------------------

/// The bundles of `tenantform init`'s project, by tenant name.
fn fleet() -> &'static BTreeMap<String, Value> {
    static FLEET: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    FLEET.get_or_init(|| {
        let p = Project::init();
        let out = p.path().join("out");
        p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
            .run()
            .success();
        let mut bundles = BTreeMap::new();
        for entry in std::fs::read_dir(&out).expect("out dir") {
            let path = entry.expect("entry").path();
            let bundle: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("bundle"))
                    .expect("bundle is JSON");
            let name = bundle["tenant"]["name"]
                .as_str()
                .expect("tenant.name")
                .to_string();
            bundles.insert(name, bundle);
        }
        assert_eq!(
            bundles.keys().map(String::as_str).collect::<Vec<_>>(),
            vec!["Contoso", "Fabrikam", "Northwind Traders"]
        );
        bundles
    })
}

fn bundle(name: &str) -> &'static Value {
    fleet()
        .get(name)
        .unwrap_or_else(|| panic!("no bundle for {name}"))
}

fn ops(bundle: &Value) -> &[Value] {
    bundle["operations"].as_array().expect("operations")
}

fn op<'a>(bundle: &'a Value, key: &str) -> &'a Value {
    ops(bundle)
        .iter()
        .find(|o| o["key"] == key)
        .unwrap_or_else(|| panic!("{}: no operation {key}", bundle["tenant"]["name"]))
}

fn of_kind<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    ops(bundle).iter().filter(|o| o["kind"] == kind).collect()
}

fn key(op: &Value) -> &str {
    op["key"].as_str().expect("key")
}

fn position(bundle: &Value, k: &str) -> usize {
    ops(bundle)
        .iter()
        .position(|o| o["key"] == k)
        .unwrap_or_else(|| panic!("no operation {k}"))
}

/// A JSON array of strings as a set (a missing or null value is the empty set).
fn set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::Null => BTreeSet::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("string item").to_string())
            .collect(),
        other => panic!("not a list of strings: {other}"),
    }
}

fn strs(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn controls(op: &Value) -> BTreeSet<String> {
    set(&op["controls"])
}

// ------------------------------------------------------------------------------------------------
// Validation: the init project and each baseline alone
// ------------------------------------------------------------------------------------------------

fn assert_clean(p: &Project, what: &str) {
    let out = p.cmd(&["validate", "--strict", "--format", "json"]).run();
    let doc = out.json();
    assert_eq!(
        (doc["errors"].as_u64(), doc["warnings"].as_u64(), out.code),
        (Some(0), Some(0), 0),
        "{what} is not clean under --strict:\n{}",
        out.stdout
    );
    p.cmd(&["validate", "--strict"])
        .run()
        .success()
        .stderr_has("0 errors, 0 warnings");
}

#[test]
fn every_shipped_baseline_is_clean_under_strict_in_init_and_alone() {
    let mut shipped: Vec<String> = std::fs::read_dir(repo().join("baselines"))
        .expect("baselines/")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    shipped.sort();
    // A new shipped baseline must be added here (with its required parameters).
    assert_eq!(
        shipped,
        vec![
            "cisa-scuba-entra",
            "entra-foundation",
            "intune-baseline",
            "intune-compliance"
        ]
    );

    assert_clean(&Project::init(), "the init project");

    for baseline in &shipped {
        // Required parameters (no default) of the baseline and the layers it extends.
        let params = match baseline.as_str() {
            "entra-foundation" => "trusted_ip_ranges = [\"203.0.113.0/24\", \"2001:db8::/32\"]\n",
            "cisa-scuba-entra" => {
                "trusted_ip_ranges = [\"203.0.113.0/24\", \"2001:db8::/32\"]\n\
                 pim_alert_recipients = [\"soc@solo.example\"]\n"
            }
            _ => "",
        };
        let p = Project::empty();
        p.file("tenantform.toml", "[project]\nname = \"solo\"\n");
        p.file(
            "tenants/solo.toml",
            format!(
                "[[tenant]]\nid = \"0a0a0a0a-0000-4000-8000-000000000001\"\nname = \"Solo\"\n\
                 domain = \"solo.onmicrosoft.com\"\nbaselines = [\"{baseline}\"]\n\n[tenant.params]\n{params}"
            ),
        );
        assert_clean(&p, &format!("a tenant with only {baseline}"));
        let out = p.path().join("out");
        p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
            .run()
            .success()
            .stderr_has("1 of 1 tenants compiled");
        let b: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("0a0a0a0a-0000-4000-8000-000000000001.json"))
                .expect("bundle"),
        )
        .expect("json");
        assert!(!ops(&b).is_empty(), "{baseline} alone compiles to nothing");
        assert_eq!(
            b["baselines"].as_array().expect("baselines").last(),
            Some(&Value::from(baseline.as_str())),
            "{baseline}: the tenant's own layer comes last"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// entra-foundation
// ------------------------------------------------------------------------------------------------

#[test]
fn foundation_policies_carry_microsoft_template_ids_and_names() {
    // Northwind gets every foundation policy (Contoso skips the two P2 ones).
    for tenant in ["Northwind Traders", "Contoso"] {
        let b = bundle(tenant);
        let skipped: BTreeSet<String> = b["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .map(|s| s["key"].as_str().expect("key").to_string())
            .collect();
        let mut expected_with_template = BTreeSet::new();
        for (k, template_id, name) in FOUNDATION_TEMPLATES {
            if skipped.contains(k) {
                continue;
            }
            let o = op(b, k);
            assert_eq!(o["kind"], "conditionalAccessPolicy", "{tenant} {k}");
            assert_eq!(o["body"]["templateId"], template_id, "{tenant} {k}");
            assert_eq!(o["body"]["displayName"], name, "{tenant} {k}");
            assert_eq!(o["match"]["displayName"], name, "{tenant} {k}: match key");
            expected_with_template.insert(k.to_string());
        }
        // Exactly these policies claim a template; the country block follows none.
        let with_template: BTreeSet<String> = of_kind(b, "conditionalAccessPolicy")
            .into_iter()
            .filter(|o| o["body"].get("templateId").is_some())
            .map(|o| key(o).to_string())
            .collect();
        assert_eq!(with_template, expected_with_template, "{tenant}");
        assert!(
            op(b, "ca-block-outside-allowed-countries")["body"]
                .get("templateId")
                .is_none()
        );
    }
    // Template ids are unique per tenant (one policy per template).
    let ids: BTreeSet<&str> = FOUNDATION_TEMPLATES.iter().map(|t| t.1).collect();
    assert_eq!(ids.len(), FOUNDATION_TEMPLATES.len());
}

#[test]
fn every_ca_policy_excludes_the_emergency_access_group_by_reference() {
    for (tenant, b) in fleet() {
        let group = op(b, "emergency-access");
        assert_eq!(group["kind"], "group");
        assert_eq!(group["body"]["uniqueName"], "tenantform-emergency-access");
        assert_eq!(group["body"]["securityEnabled"], true);
        assert_eq!(group["body"]["mailEnabled"], false);
        let policies = of_kind(b, "conditionalAccessPolicy");
        assert!(
            policies.len() >= 12,
            "{tenant}: {} policies",
            policies.len()
        );
        for policy in policies {
            let k = key(policy);
            let r = policy["refs"]
                .as_array()
                .expect("refs")
                .iter()
                .find(|r| r["target"] == "emergency-access")
                .unwrap_or_else(|| panic!("{tenant} {k}: no reference to emergency-access"));
            assert_eq!(r["kind"], "group", "{tenant} {k}");
            let pointer = r["pointer"].as_str().expect("pointer");
            assert!(
                pointer.starts_with("/conditions/users/excludeGroups/"),
                "{tenant} {k}: emergency-access referenced at {pointer}"
            );
            assert_eq!(
                policy["body"].pointer(pointer),
                Some(&Value::from("${ref:group:emergency-access}")),
                "{tenant} {k}"
            );
            assert!(
                set(&policy["depends_on"]).contains("emergency-access"),
                "{tenant} {k}: does not depend on the group"
            );
            assert!(
                position(b, "emergency-access") < position(b, k),
                "{tenant} {k}: created before the group it excludes"
            );
            // Never included: the break-glass accounts must stay outside every policy.
            assert!(
                !set(&policy["body"]["conditions"]["users"]["includeGroups"])
                    .contains("${ref:group:emergency-access}"),
                "{tenant} {k}"
            );
        }
    }
}

/// The conditions and grants of §1.3 for each template, as entra-foundation configures them.
#[test]
fn foundation_policies_have_the_template_conditions_and_grants() {
    let b = bundle("Northwind Traders");
    let body = |k: &str| &op(b, k)["body"];
    let users = |k: &str| &body(k)["conditions"]["users"];
    let apps = |k: &str| &body(k)["conditions"]["applications"];
    let grant = |k: &str| &body(k)["grantControls"];

    // 0b2282f9 Block legacy authentication.
    let k = "ca-block-legacy-auth";
    assert_eq!(set(&users(k)["includeUsers"]), strs(&["All"]));
    assert_eq!(set(&apps(k)["includeApplications"]), strs(&["All"]));
    assert_eq!(
        set(&body(k)["conditions"]["clientAppTypes"]),
        strs(&["exchangeActiveSync", "other"])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["block"]));

    // c7503427 MFA for admins: roles-14 (Global Administrator first of all).
    let k = "ca-mfa-admins";
    let roles = set(&users(k)["includeRoles"]);
    assert!(roles.contains(GLOBAL_ADMINISTRATOR));
    assert_eq!(roles, strs(&ROLES_14));
    assert_eq!(set(&users(k)["includeUsers"]), BTreeSet::new());
    assert_eq!(set(&apps(k)["includeApplications"]), strs(&["All"]));
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["mfa"]));

    // c26a510a compliant or hybrid-joined device for admins: roles-14, "None" users.
    let k = "ca-compliant-device-admins";
    assert_eq!(set(&users(k)["includeRoles"]), strs(&ROLES_14));
    assert_eq!(set(&users(k)["includeUsers"]), strs(&["None"]));
    assert_eq!(
        set(&grant(k)["builtInControls"]),
        strs(&["compliantDevice", "domainJoinedDevice"])
    );
    assert_eq!(grant(k)["operator"], "OR");

    // 6364131e MFA for Microsoft admin portals: roles-14, built-in MFA strength.
    let k = "ca-mfa-admin-portals";
    assert_eq!(set(&users(k)["includeRoles"]), strs(&ROLES_14));
    assert_eq!(
        set(&apps(k)["includeApplications"]),
        strs(&["MicrosoftAdminPortals"])
    );
    assert_eq!(grant(k)["authenticationStrength"]["id"], STRENGTH_MFA);
    assert_eq!(grant(k)["operator"], "OR");

    // 76c03f19 phishing-resistant MFA for admins: roles-19, strength …0004, AND.
    let k = "ca-phishing-resistant-admins";
    let mut roles_19 = strs(&ROLES_14);
    roles_19.extend(strs(&ROLES_19_EXTRA));
    assert_eq!(set(&users(k)["includeRoles"]), roles_19);
    assert_eq!(
        grant(k)["authenticationStrength"]["id"],
        STRENGTH_PHISHING_RESISTANT
    );
    assert_eq!(grant(k)["operator"], "AND");
    assert_eq!(set(&grant(k)["builtInControls"]), BTreeSet::new());

    // a3d0a415 MFA for all users: Directory Synchronization Accounts excluded, as the template.
    let k = "ca-mfa-all-users";
    assert_eq!(set(&users(k)["includeUsers"]), strs(&["All"]));
    assert_eq!(
        set(&users(k)["excludeRoles"]),
        strs(&[DIRECTORY_SYNCHRONIZATION_ACCOUNTS])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["mfa"]));

    // a4072ac0 MFA for guest access.
    let k = "ca-mfa-guests";
    assert_eq!(
        set(&users(k)["includeUsers"]),
        strs(&["GuestsOrExternalUsers"])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["mfa"]));

    // d8c51a9a MFA for Azure management.
    let k = "ca-mfa-azure-management";
    assert_eq!(
        set(&apps(k)["includeApplications"]),
        strs(&[AZURE_MANAGEMENT_APP])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["mfa"]));

    // 6b619f55 MFA for risky sign-ins: medium and high, sign-in frequency every time.
    let k = "ca-signin-risk";
    assert_eq!(
        set(&body(k)["conditions"]["signInRiskLevels"]),
        strs(&["high", "medium"])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["mfa"]));
    let sif = &body(k)["sessionControls"]["signInFrequency"];
    assert_eq!(sif["isEnabled"], true);
    assert_eq!(sif["frequencyInterval"], "everyTime");
    assert_eq!(
        sif["authenticationType"],
        "primaryAndSecondaryAuthentication"
    );

    // 634b6de7 password change for high-risk users: AND of mfa and passwordChange.
    let k = "ca-user-risk";
    assert_eq!(
        set(&body(k)["conditions"]["userRiskLevels"]),
        strs(&["high"])
    );
    assert_eq!(grant(k)["operator"], "AND");
    assert_eq!(
        set(&grant(k)["builtInControls"]),
        strs(&["mfa", "passwordChange"])
    );
    assert_eq!(
        body(k)["sessionControls"]["signInFrequency"]["frequencyInterval"],
        "everyTime"
    );

    // 4e39a309 block unknown or unsupported platforms.
    let k = "ca-block-unknown-platforms";
    let platforms = &body(k)["conditions"]["platforms"];
    assert_eq!(set(&platforms["includePlatforms"]), strs(&["all"]));
    assert_eq!(
        set(&platforms["excludePlatforms"]),
        strs(&[
            "android",
            "iOS",
            "windows",
            "macOS",
            "linux",
            "windowsPhone"
        ])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["block"]));

    // 62e51ccc no persistent browser session.
    let k = "ca-no-persistent-browser";
    let filter = &body(k)["conditions"]["devices"]["deviceFilter"];
    assert_eq!(filter["mode"], "include");
    assert_eq!(
        filter["rule"],
        "device.trustType -ne \"ServerAD\" -or device.isCompliant -ne True"
    );
    assert_eq!(grant(k), &Value::Null);
    let session = &body(k)["sessionControls"];
    assert_eq!(session["persistentBrowser"]["mode"], "never");
    assert_eq!(session["persistentBrowser"]["isEnabled"], true);
    assert_eq!(session["signInFrequency"]["value"], 1);
    assert_eq!(session["signInFrequency"]["type"], "hours");
    assert_eq!(session["signInFrequency"]["frequencyInterval"], "timeBased");

    // b8bda7f8 securing security info registration (trusted location by reference).
    let k = "ca-security-info-registration";
    assert_eq!(
        set(&apps(k)["includeUserActions"]),
        strs(&["urn:user:registersecurityinfo"])
    );
    assert!(set(&users(k)["excludeUsers"]).contains("GuestsOrExternalUsers"));
    assert_eq!(
        set(&body(k)["conditions"]["locations"]["includeLocations"]),
        strs(&["All"])
    );
    assert_eq!(
        set(&body(k)["conditions"]["locations"]["excludeLocations"]),
        strs(&["${ref:location:trusted-offices}"])
    );
    assert_eq!(set(&grant(k)["builtInControls"]), strs(&["mfa"]));

    // States: core policies enabled, the three staged ones report-only (ca_staged_state).
    let staged = strs(&[
        "ca-phishing-resistant-admins",
        "ca-compliant-device-admins",
        "ca-block-outside-allowed-countries",
    ]);
    for policy in of_kind(b, "conditionalAccessPolicy") {
        let expected = if staged.contains(key(policy)) {
            "enabledForReportingButNotEnforced"
        } else {
            "enabled"
        };
        assert_eq!(policy["body"]["state"], expected, "{}", key(policy));
    }
}

#[test]
fn foundation_auth_methods_security_defaults_locations_and_authorization() {
    for tenant in ["Contoso", "Northwind Traders", "Fabrikam"] {
        let b = bundle(tenant);
        let method = |odata: &str| {
            let full = format!("#microsoft.graph.{odata}AuthenticationMethodConfiguration");
            let found: Vec<&Value> = of_kind(b, "authenticationMethodConfiguration")
                .into_iter()
                .filter(|o| o["body"]["@odata.type"] == full.as_str())
                .collect();
            assert_eq!(found.len(), 1, "{tenant}: {full}");
            found[0]
        };
        let authenticator = method("microsoftAuthenticator");
        assert_eq!(authenticator["body"]["state"], "enabled", "{tenant}");
        assert_eq!(authenticator["method"], "PATCH");
        assert!(
            authenticator["path"]
                .as_str()
                .expect("path")
                .ends_with("/authenticationMethodConfigurations/MicrosoftAuthenticator")
        );
        let fido2 = method("fido2");
        assert_eq!(fido2["body"]["state"], "enabled", "{tenant}");
        assert_eq!(fido2["body"]["isSelfServiceRegistrationAllowed"], true);
        assert!(
            fido2["path"]
                .as_str()
                .expect("path")
                .ends_with("/authenticationMethodConfigurations/Fido2")
        );
        assert_eq!(
            method("temporaryAccessPass")["body"]["state"],
            "enabled",
            "{tenant}"
        );
        for off in ["sms", "voice"] {
            let m = method(off);
            assert_eq!(m["body"]["state"], "disabled", "{tenant} {off}");
        }

        let defaults = of_kind(b, "identitySecurityDefaultsEnforcementPolicy");
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0]["body"]["isEnabled"], false, "{tenant}");

        let locations = of_kind(b, "namedLocation");
        assert_eq!(locations.len(), 2, "{tenant}");
        for location in locations {
            let odata = location["body"]["@odata.type"].as_str().unwrap_or("");
            assert!(
                [
                    "#microsoft.graph.countryNamedLocation",
                    "#microsoft.graph.ipNamedLocation"
                ]
                .contains(&odata),
                "{tenant} {}: @odata.type {odata:?}",
                key(location)
            );
        }
        let offices = &op(b, "trusted-offices")["body"];
        assert_eq!(offices["isTrusted"], true);
        for range in offices["ipRanges"].as_array().expect("ipRanges") {
            let cidr = range["cidrAddress"].as_str().expect("cidr");
            let expected = if cidr.contains(':') {
                "#microsoft.graph.iPv6CidrRange"
            } else {
                "#microsoft.graph.iPv4CidrRange"
            };
            assert_eq!(range["@odata.type"], expected, "{tenant} {cidr}");
        }

        // §3.2 authorization policy hardening (both layers).
        let auth = &op(b, "authorization-policy")["body"];
        assert_eq!(auth["allowInvitesFrom"], "adminsAndGuestInviters");
        assert_eq!(auth["guestUserRoleId"], GUEST_RESTRICTED);
        assert_eq!(auth["blockMsolPowerShell"], true);
        assert_eq!(auth["allowUserConsentForRiskyApps"], false);
        assert_eq!(
            auth["defaultUserRolePermissions"]["allowedToCreateApps"],
            false
        );
    }
    // Parameters reach the bodies.
    assert_eq!(
        set(&op(bundle("Contoso"), "allowed-countries")["body"]["countriesAndRegions"]),
        strs(&["US", "CA"])
    );
    assert_eq!(
        op(bundle("Fabrikam"), "trusted-offices")["body"]["ipRanges"]
            .as_array()
            .expect("ranges")
            .len(),
        2
    );
    // User consent: Microsoft's recommendation in foundation, off under SCuBA (MS.AAD.5.2v1).
    let consent = |tenant: &str| {
        set(
            &op(bundle(tenant), "authorization-policy")["body"]["defaultUserRolePermissions"]["permissionGrantPoliciesAssigned"],
        )
    };
    assert!(
        consent("Contoso").contains("ManagePermissionGrantsForSelf.microsoft-user-default-low")
    );
    assert!(
        consent("Fabrikam")
            .iter()
            .all(|p| !p.starts_with("ManagePermissionGrantsForSelf."))
    );
}

// ------------------------------------------------------------------------------------------------
// cisa-scuba-entra (Fabrikam)
// ------------------------------------------------------------------------------------------------

/// One declared exclusion of the ScubaGear config: its value and the comment of the line that
/// defines it (the config names the emergency-access group by uniqueName in that comment, since
/// its object id exists only after the first deploy).
#[derive(Debug, Clone)]
struct Declared {
    value: String,
    comment: String,
}

/// `Aad.<policy id>.CapExclusions.<Users|Groups|Applications|GuestUserTypes>` of
/// `baselines/cisa-scuba-entra.scubagear.yaml`, anchors and aliases resolved. A small reader
/// for the shape that file has (block mappings, `- item` lists, `&anchor` / `*alias`).
fn scubagear_exclusions() -> BTreeMap<String, BTreeMap<String, Vec<Declared>>> {
    let text = std::fs::read_to_string(repo().join("baselines/cisa-scuba-entra.scubagear.yaml"))
        .expect("scubagear config");
    let mut out: BTreeMap<String, BTreeMap<String, Vec<Declared>>> = BTreeMap::new();
    let mut item_anchors: BTreeMap<String, Declared> = BTreeMap::new();
    let mut list_anchors: BTreeMap<String, Vec<Declared>> = BTreeMap::new();
    let mut control = String::new();
    let mut category = String::new();
    let mut recording: Option<String> = None;
    for raw in text.lines() {
        let indent = raw.len() - raw.trim_start().len();
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (content, comment) = match trimmed.find(" #") {
            Some(i) => (trimmed[..i].trim(), trimmed[i + 2..].trim()),
            None => (trimmed, ""),
        };
        if let Some(item) = content.strip_prefix("- ") {
            let item = item.trim();
            let declared = if let Some(alias) = item.strip_prefix('*') {
                item_anchors
                    .get(alias)
                    .unwrap_or_else(|| panic!("unknown alias *{alias}"))
                    .clone()
            } else if let Some(anchored) = item.strip_prefix('&') {
                let (name, value) = anchored.split_once(' ').expect("&anchor value");
                let d = Declared {
                    value: value.trim().to_string(),
                    comment: comment.to_string(),
                };
                item_anchors.insert(name.to_string(), d.clone());
                d
            } else {
                Declared {
                    value: item.to_string(),
                    comment: comment.to_string(),
                }
            };
            if let Some(anchor) = &recording {
                list_anchors
                    .entry(anchor.clone())
                    .or_default()
                    .push(declared.clone());
            }
            out.entry(control.clone())
                .or_default()
                .entry(category.clone())
                .or_default()
                .push(declared);
            continue;
        }
        let (name, rest) = content.split_once(':').expect("a `key:` line");
        let rest = rest.trim();
        match indent {
            0 => assert_eq!(name, "Aad"),
            2 => control = name.to_string(),
            4 => assert_eq!(name, "CapExclusions", "{control}"),
            6 => {
                category = name.to_string();
                recording = None;
                if let Some(alias) = rest.strip_prefix('*') {
                    let items = list_anchors
                        .get(alias)
                        .unwrap_or_else(|| panic!("unknown list alias *{alias}"))
                        .clone();
                    out.entry(control.clone())
                        .or_default()
                        .insert(category.clone(), items);
                } else if let Some(anchor) = rest.strip_prefix('&') {
                    recording = Some(anchor.to_string());
                }
            }
            _ => panic!("unexpected line in the ScubaGear config: {raw}"),
        }
    }
    out
}

/// Every exclusion of a CA policy body, as (ScubaGear category, value).
fn exclusions(body: &Value) -> Vec<(&'static str, String)> {
    let users = &body["conditions"]["users"];
    let mut out = Vec::new();
    for u in set(&users["excludeUsers"]) {
        out.push(("Users", u));
    }
    for g in set(&users["excludeGroups"]) {
        out.push(("Groups", g));
    }
    for a in set(&body["conditions"]["applications"]["excludeApplications"]) {
        out.push(("Applications", a));
    }
    if let Some(types) = users["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"].as_str()
    {
        for t in types.split(',') {
            out.push(("GuestUserTypes", t.trim().to_string()));
        }
    }
    out
}

/// Whether `value` (an exclusion of category `category` in `bundle`) is declared in `declared`.
/// A group reference `${ref:group:K}` is declared when an entry's comment names group K's
/// uniqueName (its object id is only known after deploy) or the entry's value is that id.
fn is_declared(bundle: &Value, category: &str, value: &str, declared: &[Declared]) -> bool {
    if let Some(group_key) = value
        .strip_prefix("${ref:group:")
        .and_then(|v| v.strip_suffix('}'))
    {
        assert_eq!(category, "Groups");
        let unique = op(bundle, group_key)["body"]["uniqueName"]
            .as_str()
            .expect("uniqueName")
            .to_string();
        return declared.iter().any(|d| d.comment.contains(&unique));
    }
    declared.iter().any(|d| d.value == value)
}

#[test]
fn cisa_every_ca_policy_is_enabled_without_excluded_roles() {
    let b = bundle("Fabrikam");
    let policies = of_kind(b, "conditionalAccessPolicy");
    assert_eq!(
        policies.len(),
        19,
        "13 foundation + 5 SCuBA + country block"
    );
    for policy in policies {
        let k = key(policy);
        assert_eq!(policy["body"]["state"], "enabled", "{k}");
        assert_eq!(
            set(&policy["body"]["conditions"]["users"]["excludeRoles"]),
            BTreeSet::new(),
            "{k}: ScubaGear fails any policy with excluded roles (§0.2)"
        );
    }
}

#[test]
fn cisa_exclusions_are_declared_in_the_scubagear_config() {
    let b = bundle("Fabrikam");
    let config = scubagear_exclusions();
    // The reader found every CA control of the baseline (else the checks below are vacuous).
    assert_eq!(
        config.keys().cloned().collect::<BTreeSet<_>>(),
        strs(&CA_CONTROLS)
    );
    for control in CA_CONTROLS {
        let groups = config[control]
            .get("Groups")
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        assert!(
            is_declared(b, "Groups", "${ref:group:emergency-access}", groups),
            "{control}: emergency-access is not declared"
        );
    }
    // ScubaGear declares exclusions per policy id (§2.3 "Exclusions config shape"): every
    // exclusion of a policy that counts for an MS.AAD control is declared under that control.
    let mut undeclared = Vec::new();
    let mut mapped = 0;
    for policy in of_kind(b, "conditionalAccessPolicy") {
        let ids: Vec<String> = controls(policy)
            .into_iter()
            .filter(|c| c.starts_with("MS.AAD."))
            .collect();
        for (category, value) in exclusions(&policy["body"]) {
            for id in &ids {
                mapped += 1;
                let declared = config
                    .get(id)
                    .and_then(|c| c.get(category))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                if !is_declared(b, category, &value, declared) {
                    undeclared.push(format!("{} {id} {category} {value}", key(policy)));
                }
            }
        }
    }
    assert!(mapped >= 9 + 3 * 6, "only {mapped} exclusions checked");
    assert!(
        undeclared.is_empty(),
        "exclusions missing from cisa-scuba-entra.scubagear.yaml:\n{}",
        undeclared.join("\n")
    );
}

#[test]
fn cisa_authorization_device_code_flow_and_risk_policies() {
    let b = bundle("Fabrikam");
    assert_eq!(
        op(b, "authorization-policy")["body"]["allowInvitesFrom"],
        "adminsAndGuestInviters"
    );
    let policies = of_kind(b, "conditionalAccessPolicy");

    let device_code: Vec<&Value> = policies
        .iter()
        .map(|o| &o["body"])
        .filter(|p| p["conditions"]["authenticationFlows"]["transferMethods"] == "deviceCodeFlow")
        .collect();
    assert_eq!(device_code.len(), 1);
    assert_eq!(
        set(&device_code[0]["grantControls"]["builtInControls"]),
        strs(&["block"])
    );

    let blocks_high = |field: &str| -> Vec<&Value> {
        policies
            .iter()
            .map(|o| &o["body"])
            .filter(|p| {
                set(&p["conditions"][field]).contains("high")
                    && p["grantControls"]["builtInControls"] == serde_json::json!(["block"])
                    && set(&p["conditions"]["users"]["includeUsers"]).contains("All")
                    && set(&p["conditions"]["applications"]["includeApplications"]).contains("All")
            })
            .collect()
    };
    assert_eq!(blocks_high("signInRiskLevels").len(), 1, "MS.AAD.2.3v1");
    assert_eq!(blocks_high("userRiskLevels").len(), 1, "MS.AAD.2.1v1");
    // The renamed user-risk policy no longer claims Microsoft's template (it blocks instead).
    let user_risk = &op(b, "ca-user-risk")["body"];
    assert_eq!(
        user_risk["displayName"],
        "SCuBA MS.AAD.2.1 - Block high-risk users"
    );
    assert!(user_risk.get("templateId").is_none());
    assert_eq!(user_risk["sessionControls"], Value::Null);
}

#[test]
fn cisa_phishing_resistant_admin_policy_covers_all_eight_scuba_roles() {
    let b = bundle("Fabrikam");
    let policy = &op(b, "ca-phishing-resistant-admins")["body"];
    let roles = set(&policy["conditions"]["users"]["includeRoles"]);
    let missing: Vec<&str> = SCUBA_8
        .iter()
        .copied()
        .filter(|r| !roles.contains(*r))
        .collect();
    assert!(missing.is_empty(), "missing SCuBA roles: {missing:?}");
    // roles-19 of the template are kept as well.
    for r in ROLES_14.iter().chain(ROLES_19_EXTRA.iter()) {
        assert!(roles.contains(*r), "{r}");
    }
    assert_eq!(roles.len(), 20);
    assert_eq!(
        policy["grantControls"]["authenticationStrength"]["id"],
        STRENGTH_PHISHING_RESISTANT
    );
}

#[test]
fn cisa_control_ids_are_exactly_the_implemented_ms_aad_ids() {
    let b = bundle("Fabrikam");
    let all: BTreeSet<String> = ops(b).iter().flat_map(controls).collect();
    let aad: BTreeSet<String> = all
        .iter()
        .filter(|c| c.contains("MS.AAD"))
        .cloned()
        .collect();
    let known = strs(&MS_AAD_IDS);
    let unknown: Vec<&String> = aad.iter().filter(|c| !known.contains(*c)).collect();
    assert!(
        unknown.is_empty(),
        "ids that are not MS.AAD ids of baseline-facts §2.2: {unknown:?}"
    );
    assert_eq!(aad, strs(&SCUBA_IMPLEMENTED));
    // Without cisa-scuba-entra the foundation claims only what it meets as configured.
    let foundation: BTreeSet<String> = ops(bundle("Northwind Traders"))
        .iter()
        .flat_map(controls)
        .filter(|c| c.contains("MS.AAD"))
        .collect();
    assert_eq!(
        foundation,
        strs(&[
            "MS.AAD.1.1v1",
            "MS.AAD.3.3v2",
            "MS.AAD.3.4v1",
            "MS.AAD.5.1v1",
            "MS.AAD.8.1v1",
            "MS.AAD.8.2v1",
        ])
    );
}

/// ScubaGear's check (§2.1 common CA test + the §2.2 row) for one claimed control; `Err` says
/// what fails. `check_state` is false for entra-foundation, whose header promises the control
/// "apart from the policy state".
pub(crate) fn meets(control: &str, o: &Value, check_state: bool) -> Result<(), String> {
    let body = &o["body"];
    let c = &body["conditions"];
    let users = &c["users"];
    let grant = &body["grantControls"];
    let builtin = set(&grant["builtInControls"]);
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    if CA_CONTROLS.contains(&control) {
        need(o["kind"] == "conditionalAccessPolicy", "a CA policy");
        if control != "MS.AAD.3.6v1" {
            need(
                set(&users["includeUsers"]).contains("All"),
                "includeUsers All",
            );
        }
        if control != "MS.AAD.3.8v1" {
            need(
                set(&c["applications"]["includeApplications"]).contains("All"),
                "includeApplications All",
            );
        } else {
            need(
                set(&c["applications"]["excludeApplications"]).is_empty(),
                "no excluded applications (3.8)",
            );
        }
        need(set(&users["excludeRoles"]).is_empty(), "excludeRoles empty");
        if check_state {
            need(body["state"] == "enabled", "state enabled");
        }
    }
    let phishing_resistant = grant["authenticationStrength"]["id"] == STRENGTH_PHISHING_RESISTANT;
    match control {
        "MS.AAD.1.1v1" => {
            let types = set(&c["clientAppTypes"]);
            need(
                types.contains("exchangeActiveSync") && types.contains("other"),
                "clientAppTypes exchangeActiveSync and other",
            );
            need(builtin.contains("block"), "block");
        }
        "MS.AAD.2.1v1" => {
            need(set(&c["userRiskLevels"]).contains("high"), "user risk high");
            need(builtin.contains("block"), "block");
        }
        "MS.AAD.2.3v1" => {
            need(
                set(&c["signInRiskLevels"]).contains("high"),
                "sign-in risk high",
            );
            need(builtin.contains("block"), "block");
        }
        "MS.AAD.3.1v1" => need(phishing_resistant, "phishing-resistant strength"),
        "MS.AAD.3.2v2" => need(builtin.contains("mfa"), "builtInControls mfa"),
        "MS.AAD.3.6v1" => {
            let roles = set(&users["includeRoles"]);
            need(
                SCUBA_8.iter().all(|r| roles.contains(*r)),
                "includeRoles ⊇ SCuBA-8",
            );
            need(phishing_resistant, "phishing-resistant strength");
        }
        "MS.AAD.3.7v1" => {
            need(
                grant["builtInControls"].as_array().map(Vec::len) == Some(2)
                    && builtin == strs(&["compliantDevice", "domainJoinedDevice"]),
                "builtInControls exactly compliantDevice + domainJoinedDevice",
            );
            need(grant["operator"] == "OR", "operator OR");
        }
        "MS.AAD.3.8v1" => {
            need(
                set(&c["applications"]["includeUserActions"])
                    .contains("urn:user:registersecurityinfo"),
                "user action registersecurityinfo",
            );
            need(
                builtin.contains("compliantDevice") || builtin.contains("domainJoinedDevice"),
                "compliantDevice or domainJoinedDevice",
            );
        }
        "MS.AAD.3.9v1" => {
            need(
                c["authenticationFlows"]["transferMethods"] == "deviceCodeFlow",
                "transferMethods exactly deviceCodeFlow",
            );
            need(builtin.contains("block"), "block");
        }
        "MS.AAD.3.3v2" => {
            need(
                body["@odata.type"]
                    == "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration",
                "the Authenticator configuration",
            );
            need(body["isSoftwareOathEnabled"] == false, "OATH codes off");
            for setting in [
                "displayAppInformationRequiredState",
                "displayLocationInformationRequiredState",
            ] {
                let s = &body["featureSettings"][setting];
                need(
                    s["state"] == "enabled" && s["includeTarget"]["id"] == "all_users",
                    setting,
                );
            }
        }
        "MS.AAD.3.4v1" => need(
            body["policyMigrationState"] == "migrationComplete",
            "policyMigrationState migrationComplete",
        ),
        "MS.AAD.3.5v2" => {
            let odata = body["@odata.type"].as_str().unwrap_or("");
            need(
                [
                    "#microsoft.graph.smsAuthenticationMethodConfiguration",
                    "#microsoft.graph.voiceAuthenticationMethodConfiguration",
                    "#microsoft.graph.emailAuthenticationMethodConfiguration",
                ]
                .contains(&odata),
                "an SMS, voice or email configuration",
            );
            need(body["state"] == "disabled", "state disabled");
        }
        "MS.AAD.5.1v1" => need(
            body["defaultUserRolePermissions"]["allowedToCreateApps"] == false,
            "allowedToCreateApps false",
        ),
        "MS.AAD.5.2v1" => {
            let grants =
                set(&body["defaultUserRolePermissions"]["permissionGrantPoliciesAssigned"]);
            need(
                !grants
                    .contains("ManagePermissionGrantsForSelf.microsoft-user-default-recommended"),
                "no microsoft-user-default-recommended",
            );
            // The baseline's chosen option (its description): user consent off entirely.
            need(
                grants
                    .iter()
                    .all(|g| !g.starts_with("ManagePermissionGrantsForSelf.")),
                "no ManagePermissionGrantsForSelf.* entry",
            );
        }
        "MS.AAD.8.1v1" => need(
            body["guestUserRoleId"] == GUEST_LIMITED || body["guestUserRoleId"] == GUEST_RESTRICTED,
            "limited or restricted guest role",
        ),
        "MS.AAD.8.2v1" => need(
            body["allowInvitesFrom"] == "adminsAndGuestInviters",
            "allowInvitesFrom exactly adminsAndGuestInviters",
        ),
        // ScubaGear (beta CA): includeApplications All, clientAppTypes contains all,
        // agentIdRiskLevels includes high, includeAgentIdServicePrincipals contains All, block,
        // enabled, app exclusions declared (this policy has none).
        "MS.AAD.9.1v1" => {
            need(
                o["kind"] == "conditionalAccessPolicyBeta",
                "a CA policy written through beta",
            );
            need(
                set(&c["applications"]["includeApplications"]).contains("All"),
                "includeApplications All",
            );
            need(
                set(&c["applications"]["excludeApplications"]).is_empty(),
                "no excluded applications",
            );
            need(
                set(&c["clientAppTypes"]).contains("all"),
                "clientAppTypes all",
            );
            need(
                c["agentIdRiskLevels"]
                    .as_str()
                    .is_some_and(|l| l.split(',').any(|l| l.trim() == "high")),
                "agentIdRiskLevels includes high",
            );
            need(
                set(&c["clientApplications"]["includeAgentIdServicePrincipals"]).contains("All"),
                "includeAgentIdServicePrincipals All",
            );
            need(builtin.contains("block"), "block");
            if check_state {
                need(body["state"] == "enabled", "state enabled");
            }
        }
        // ScubaGear: a verified managed domain's passwordValidityPeriodInDays is null or
        // 2147483647 (SG `aad.md` example: PATCH /domains/{id} with 2147483647).
        "MS.AAD.6.1v1" => {
            need(o["kind"] == "domain", "a domain");
            need(
                body["passwordValidityPeriodInDays"] == 2147483647
                    || body["passwordValidityPeriodInDays"].is_null(),
                "passwordValidityPeriodInDays 2147483647",
            );
            need(body["id"].is_string(), "the domain named");
        }
        // ScubaGear reads each role's policy rules from roleManagementPolicyAssignments.
        "MS.AAD.7.6v1" => {
            need(
                pim_role(o) == Some(SCUBA_8[0]),
                "Global Administrator's PIM policy",
            );
            let approval = pim_rule(o, "Approval_EndUser_Assignment");
            need(
                approval["setting"]["isApprovalRequired"] == true,
                "Approval_EndUser_Assignment isApprovalRequired true",
            );
            need(
                approval["setting"]["approvalStages"][0]["primaryApprovers"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()),
                "approvers named",
            );
        }
        "MS.AAD.7.7v1" => {
            need(
                pim_role(o).is_some_and(|r| SCUBA_8.contains(&r)),
                "a highly privileged role's PIM policy",
            );
            for id in [
                "Notification_Admin_Admin_Assignment",
                "Notification_Admin_Admin_Eligibility",
            ] {
                need(has_recipients(pim_rule(o, id)), id);
            }
        }
        "MS.AAD.7.8v1" | "MS.AAD.7.9v1" => {
            let role = pim_role(o);
            if control == "MS.AAD.7.8v1" {
                need(
                    role == Some(SCUBA_8[0]),
                    "Global Administrator's PIM policy",
                );
            } else {
                need(
                    role.is_some_and(|r| SCUBA_8[1..].contains(&r)),
                    "a highly privileged role other than Global Administrator",
                );
            }
            let rule = pim_rule(o, "Notification_Admin_EndUser_Assignment");
            need(
                rule["notificationType"] == "Email",
                "notificationType Email",
            );
            need(
                has_recipients(rule),
                "Notification_Admin_EndUser_Assignment recipients",
            );
        }
        // ScubaGear reads directory settings: some EnableAdminConsentRequests is "true" (any
        // case), none is "false".
        "MS.AAD.5.3v1" => {
            need(o["kind"] == "directorySetting", "a directory setting");
            let values: Vec<String> = body["values"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter(|x| x["name"] == "EnableAdminConsentRequests")
                        .filter_map(|x| x["value"].as_str().map(str::to_ascii_lowercase))
                        .collect()
                })
                .unwrap_or_default();
            need(
                values.iter().any(|v| v == "true") && !values.iter().any(|v| v == "false"),
                "EnableAdminConsentRequests true",
            );
        }
        // ScubaGear reads the default app management policy: in both scopes, the restriction
        // enabled for every app (restrictForAppsCreatedAfterDateTime 0001-01-01), lifetimes at
        // most 181 / 366 days; 5.6 is N/A (passes) when 5.5 passes.
        "MS.AAD.5.5v1" => need(
            app_restriction(body, "passwordCredentials", "passwordAddition", None),
            "passwordAddition enabled for every app in both scopes",
        ),
        "MS.AAD.5.6v1" => need(
            app_restriction(body, "passwordCredentials", "passwordAddition", None)
                || app_restriction(body, "passwordCredentials", "passwordLifetime", Some(181)),
            "passwordLifetime at most P181D for every app in both scopes",
        ),
        "MS.AAD.5.7v1" => need(
            app_restriction(body, "keyCredentials", "asymmetricKeyLifetime", Some(366)),
            "asymmetricKeyLifetime at most P366D for every app in both scopes",
        ),
        other => need(false, &format!("no check written for {other}")),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join(", "))
    }
}

/// ScubaGear's app credential test: in both scopes' `list`, the restriction `kind` is enabled,
/// applies to every app, and (for lifetimes) allows at most `days` (`P<n>D`).
fn app_restriction(body: &Value, list: &str, kind: &str, days: Option<u64>) -> bool {
    ["applicationRestrictions", "servicePrincipalRestrictions"]
        .iter()
        .all(|scope| {
            body[scope][list].as_array().is_some_and(|items| {
                items.iter().any(|r| {
                    r["restrictionType"] == kind
                        && r["state"] == "enabled"
                        && r["restrictForAppsCreatedAfterDateTime"] == "0001-01-01T00:00:00Z"
                        && days.is_none_or(|most| {
                            r["maxLifetime"]
                                .as_str()
                                .and_then(|l| {
                                    l.strip_prefix('P')?.strip_suffix('D')?.parse::<u64>().ok()
                                })
                                .is_some_and(|d| d <= most)
                        })
                })
            })
        })
}

/// The role template id of a PIM resource (scope `/`, directory roles), if `o` is one.
fn pim_role(o: &Value) -> Option<&str> {
    let body = &o["body"];
    (o["kind"] == "unifiedRoleManagementPolicy"
        && body["scopeId"] == "/"
        && body["scopeType"] == "DirectoryRole")
        .then(|| body["roleDefinitionId"].as_str())
        .flatten()
}

/// The rule `id` a PIM resource declares (`null` when it does not).
fn pim_rule<'a>(o: &'a Value, id: &str) -> &'a Value {
    o["body"]["policy"]["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["id"] == id))
        .unwrap_or(&Value::Null)
}

fn has_recipients(rule: &Value) -> bool {
    rule["notificationRecipients"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x.as_str().is_some_and(|s| !s.is_empty())))
}

#[test]
fn every_claimed_ms_aad_control_is_met_as_scubagear_checks_it() {
    let mut failures = Vec::new();
    for (tenant, b) in fleet() {
        // Only cisa-scuba-entra promises enabled policies; foundation promises the rest.
        let check_state = tenant == "Fabrikam";
        for o in ops(b) {
            for control in controls(o).iter().filter(|c| c.starts_with("MS.AAD.")) {
                if let Err(e) = meets(control, o, check_state) {
                    failures.push(format!("{tenant} {} {control}: {e}", key(o)));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // MS.AAD.3.5v2 needs all three of SMS, voice and email off in the SCuBA tenant.
    let b = bundle("Fabrikam");
    let claimed_35: BTreeSet<String> = ops(b)
        .iter()
        .filter(|o| controls(o).contains("MS.AAD.3.5v2"))
        .map(|o| {
            o["body"]["@odata.type"]
                .as_str()
                .expect("odata")
                .to_string()
        })
        .collect();
    assert_eq!(
        claimed_35,
        strs(&[
            "#microsoft.graph.emailAuthenticationMethodConfiguration",
            "#microsoft.graph.smsAuthenticationMethodConfiguration",
            "#microsoft.graph.voiceAuthenticationMethodConfiguration",
        ])
    );
    // ScubaGear checks 7.7 for each of the eight roles and 7.9 for the seven besides Global
    // Administrator: every one needs a policy claiming it.
    let roles_claiming = |control: &str| -> BTreeSet<String> {
        ops(b)
            .iter()
            .filter(|o| controls(o).contains(control))
            .filter_map(|o| pim_role(o).map(str::to_string))
            .collect()
    };
    assert_eq!(roles_claiming("MS.AAD.7.7v1"), strs(&SCUBA_8));
    assert_eq!(roles_claiming("MS.AAD.7.9v1"), strs(&SCUBA_8[1..]));
    assert_eq!(roles_claiming("MS.AAD.7.8v1"), strs(&SCUBA_8[..1]));
}

// ------------------------------------------------------------------------------------------------
// intune-compliance
// ------------------------------------------------------------------------------------------------

#[test]
fn compliance_policies_have_one_block_action_and_an_assignment_each() {
    let expected_types = strs(&[
        "#microsoft.graph.windows10CompliancePolicy",
        "#microsoft.graph.iosCompliancePolicy",
        "#microsoft.graph.androidWorkProfileCompliancePolicy",
        "#microsoft.graph.macOSCompliancePolicy",
    ]);
    for (tenant, b) in fleet() {
        let policies = of_kind(b, "deviceCompliancePolicy");
        let types: BTreeSet<String> = policies
            .iter()
            .map(|p| {
                p["body"]["@odata.type"]
                    .as_str()
                    .expect("odata")
                    .to_string()
            })
            .collect();
        assert_eq!(types, expected_types, "{tenant}");
        let assignments = of_kind(b, "deviceCompliancePolicyAssignment");
        assert_eq!(assignments.len(), policies.len(), "{tenant}");
        for policy in &policies {
            let k = key(policy);
            let actions: Vec<&Value> = policy["body"]["scheduledActionsForRule"]
                .as_array()
                .expect("scheduledActionsForRule")
                .iter()
                .flat_map(|rule| {
                    rule["scheduledActionConfigurations"]
                        .as_array()
                        .expect("configurations")
                })
                .collect();
            assert_eq!(actions.len(), 1, "{tenant} {k}: {actions:?}");
            assert_eq!(actions[0]["actionType"], "block", "{tenant} {k}");

            let mine: Vec<&&Value> = assignments.iter().filter(|a| a["parent"] == k).collect();
            assert_eq!(mine.len(), 1, "{tenant} {k}: assignments");
            let a = mine[0];
            let placeholder = format!("${{ref:compliance-policy:{k}}}");
            assert_eq!(
                a["path"],
                format!("/deviceManagement/deviceCompliancePolicies/{placeholder}/assign").as_str(),
                "{tenant} {k}"
            );
            assert_eq!(a["method"], "POST");
            assert!(set(&a["depends_on"]).contains(k), "{tenant} {}", key(a));
            assert!(position(b, k) < position(b, key(a)), "{tenant} {k}");
            assert!(
                a["refs"]
                    .as_array()
                    .expect("refs")
                    .iter()
                    .any(|r| r["target"] == k
                        && r["kind"] == "deviceCompliancePolicy"
                        && r["pointer"] == "path"),
                "{tenant} {}: {}",
                key(a),
                a["refs"]
            );
        }
    }
}

fn grace_hours(policy: &Value) -> &Value {
    &policy["body"]["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["gracePeriodHours"]
}

#[test]
fn compliance_parameters_and_overrides_reach_each_tenant() {
    // Northwind: the override of windows-compliance and a 72 h grace period everywhere.
    let northwind = bundle("Northwind Traders");
    assert_eq!(
        op(northwind, "windows-compliance")["body"]["osMinimumVersion"],
        "10.0.19044"
    );
    for policy in of_kind(northwind, "deviceCompliancePolicy") {
        assert_eq!(grace_hours(policy), 72, "{}", key(policy));
    }
    assert_eq!(
        op(northwind, "ios-compliance")["body"]["osMinimumVersion"],
        "18.0"
    );
    // Contoso: the baseline's defaults.
    let contoso = bundle("Contoso");
    assert_eq!(
        op(contoso, "windows-compliance")["body"]["osMinimumVersion"],
        "10.0.19045"
    );
    for policy in of_kind(contoso, "deviceCompliancePolicy") {
        assert_eq!(grace_hours(policy), 24, "{}", key(policy));
    }
    // Contoso's assignments target the tenantform group, by reference.
    for a in of_kind(contoso, "deviceCompliancePolicyAssignment") {
        let target = &a["body"]["assignments"][0]["target"];
        assert_eq!(
            target["@odata.type"],
            "#microsoft.graph.groupAssignmentTarget"
        );
        assert_eq!(target["groupId"], "${ref:group:intune-compliance-scope}");
        assert!(set(&a["depends_on"]).contains("intune-compliance-scope"));
    }
    // Fabrikam (compliance_assignment_scope = "allLicensedUsers"): every licensed user.
    let fabrikam = bundle("Fabrikam");
    for a in of_kind(fabrikam, "deviceCompliancePolicyAssignment") {
        let assignments = a["body"]["assignments"].as_array().expect("assignments");
        assert_eq!(assignments.len(), 1, "{}", key(a));
        let target = &assignments[0]["target"];
        assert_eq!(
            target["@odata.type"],
            "#microsoft.graph.allLicensedUsersAssignmentTarget",
            "{}",
            key(a)
        );
        assert!(target.get("groupId").is_none(), "{}", key(a));
        assert!(
            a["refs"]
                .as_array()
                .expect("refs")
                .iter()
                .all(|r| r["kind"] == "deviceCompliancePolicy"),
            "{}: {}",
            key(a),
            a["refs"]
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Overrides that skip
// ------------------------------------------------------------------------------------------------

#[test]
fn contoso_skips_the_risk_policies_with_its_reasons() {
    // Contoso's facts list Entra ID P1 and Intune, not P2: its risk-based policies are skipped
    // by the facts (kinds::needs), each naming the plan and the condition that needs it.
    let reason = |what: &str, pointer: &str| {
        format!(
            "needs Microsoft Entra ID P2 (AAD_PREMIUM_P2) for its {what} ({pointer}); the tenant has AAD_PREMIUM, INTUNE_A"
        )
    };
    let contoso = bundle("Contoso");
    assert_eq!(
        contoso["skipped"],
        serde_json::json!([
            {"key": "ca-signin-risk", "kind": "conditionalAccessPolicy",
             "reason": reason("sign-in risk condition", "/conditions/signInRiskLevels")},
            {"key": "ca-user-risk", "kind": "conditionalAccessPolicy",
             "reason": reason("user risk condition", "/conditions/userRiskLevels")},
        ])
    );
    for k in ["ca-signin-risk", "ca-user-risk"] {
        assert!(
            ops(contoso).iter().all(|o| o["key"] != k),
            "{k} still compiled"
        );
        assert!(
            ops(contoso)
                .iter()
                .all(|o| !set(&o["depends_on"]).contains(k)),
            "something depends on skipped {k}"
        );
    }
    for other in ["Fabrikam", "Northwind Traders"] {
        assert_eq!(bundle(other)["skipped"], serde_json::json!([]), "{other}");
    }
}

#[test]
fn a_cisa_tenant_without_its_domain_or_pim_recipients_is_a_clear_error() {
    let without = |prefix: &str| {
        let p = Project::init();
        let kept: String = p
            .read("tenants/fabrikam.toml")
            .lines()
            .filter(|l| !l.starts_with(prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        p.file("tenants/fabrikam.toml", kept);
        p.cmd(&["validate"]).run().code(1)
    };
    // MS.AAD.6.1v1 names the domain to PATCH: the tenant's `domain`.
    let out = without("domain = ");
    assert!(
        out.stderr
            .contains("a domain body needs a string `id`: the request path is built from it"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("cisa-scuba-entra.toml") && out.stderr.contains("tenant.domain"),
        "{}",
        out.stderr
    );
    // MS.AAD.7.7v1 to 7.9v1 need someone to tell.
    let out = without("pim_alert_recipients");
    assert!(
        out.stderr
            .contains("does not set the required parameter `pim_alert_recipients`"),
        "{}",
        out.stderr
    );
}

// ------------------------------------------------------------------------------------------------
// intune-baseline
// ------------------------------------------------------------------------------------------------

/// Level 2 "enterprise enhanced data protection" as Microsoft publishes it
/// (microsoft/Intune-Config-Frameworks, AppProtectionPolicies/level-2-...-{iOS,Android}.json),
/// for the properties Graph v1.0 has; typed here, not copied from the baseline.
const LEVEL_2_COMMON: [(&str, &str); 18] = [
    ("periodOfflineBeforeAccessCheck", "\"PT12H\""),
    ("periodOnlineBeforeAccessCheck", "\"PT30M\""),
    ("periodOfflineBeforeWipeIsEnforced", "\"P90D\""),
    ("allowedInboundDataTransferSources", "\"allApps\""),
    ("allowedOutboundDataTransferDestinations", "\"managedApps\""),
    (
        "allowedOutboundClipboardSharingLevel",
        "\"managedAppsWithPasteIn\"",
    ),
    ("dataBackupBlocked", "true"),
    ("deviceComplianceRequired", "true"),
    ("managedBrowserToOpenLinksRequired", "true"),
    ("managedBrowser", "\"microsoftEdge\""),
    ("saveAsBlocked", "true"),
    (
        "allowedDataStorageLocations",
        "[\"oneDriveForBusiness\",\"sharePoint\"]",
    ),
    ("pinRequired", "true"),
    ("pinCharacterSet", "\"numeric\""),
    ("minimumPinLength", "4"),
    ("maximumPinRetries", "5"),
    ("printBlocked", "false"),
    ("organizationalCredentialsRequired", "false"),
];

fn intune_baseline_bundle(params: &str) -> Value {
    let p = Project::empty();
    p.file("tenantform.toml", "[project]\nname = \"solo\"\n");
    p.file(
        "tenants/solo.toml",
        format!(
            "[[tenant]]\nid = \"0a0a0a0a-0000-4000-8000-000000000001\"\nname = \"Solo\"\n\
             baselines = [\"intune-baseline\"]\n\n[tenant.params]\n{params}"
        ),
    );
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
        .success();
    serde_json::from_str(
        &std::fs::read_to_string(out.join("0a0a0a0a-0000-4000-8000-000000000001.json"))
            .expect("bundle"),
    )
    .expect("json")
}

#[test]
fn intune_baseline_app_protection_is_level_2_and_protects_the_microsoft_apps() {
    let b = intune_baseline_bundle("");
    for key in ["ios-app-protection", "android-app-protection"] {
        let body = &op(&b, key)["body"];
        for (property, expected) in LEVEL_2_COMMON {
            let expected: Value = serde_json::from_str(expected).expect("fact");
            assert_eq!(body[property], expected, "{key}.{property}");
        }
    }
    assert_eq!(
        op(&b, "ios-app-protection")["body"]["appDataEncryptionType"],
        "whenDeviceLocked"
    );
    let android = &op(&b, "android-app-protection")["body"];
    assert_eq!(android["screenCaptureBlocked"], true);
    assert_eq!(android["encryptAppData"], true);
    let ids = |key: &str, field: &str| -> BTreeSet<String> {
        op(&b, key)["body"]["apps"]
            .as_array()
            .expect("apps")
            .iter()
            .filter_map(|a| a["mobileAppIdentifier"][field].as_str())
            .map(str::to_string)
            .collect()
    };
    let ios = ids("ios-app-protection-apps", "bundleId");
    for app in [
        "com.microsoft.office.outlook",
        "com.microsoft.msedge",
        "com.microsoft.skype.teams",
        "com.microsoft.skydrive",
    ] {
        assert!(ios.contains(app), "iOS lacks {app}");
    }
    let android = ids("android-app-protection-apps", "packageId");
    for app in [
        "com.microsoft.office.outlook",
        "com.microsoft.emmx",
        "com.microsoft.teams",
        "com.microsoft.skydrive",
    ] {
        assert!(android.contains(app), "Android lacks {app}");
    }
}

#[test]
fn intune_baseline_company_portal_update_ring_and_scopes() {
    let b = intune_baseline_bundle("");
    let portal = &op(&b, "company-portal")["body"];
    assert_eq!(portal["@odata.type"], "#microsoft.graph.winGetApp");
    assert_eq!(portal["packageIdentifier"], "9WZDNCRFJ3PZ");
    let assignment = &op(&b, "company-portal-assignment")["body"]["mobileAppAssignments"][0];
    assert_eq!(assignment["intent"], "required");
    assert_eq!(
        assignment["target"]["deviceAndAppManagementAssignmentFilterId"],
        "${ref:assignment-filter:corporate-windows}"
    );
    // Windows Autopatch "Ring 3" (Learn, "Autopatch group policies").
    let ring = &op(&b, "windows-update-ring")["body"];
    assert_eq!(ring["qualityUpdatesDeferralPeriodInDays"], 9);
    assert_eq!(ring["featureUpdatesDeferralPeriodInDays"], 0);
    assert_eq!(ring["deadlineForQualityUpdatesInDays"], 5);
    assert_eq!(ring["deadlineForFeatureUpdatesInDays"], 5);
    assert_eq!(ring["deadlineGracePeriodInDays"], 2);
    assert_eq!(ring["featureUpdatesRollbackWindowInDays"], 30);
    // Pilot group by default; everyone on request.
    for key in [
        "ios-app-protection-assignment",
        "windows-update-ring-assignment",
        "windows-feature-update-assignment",
    ] {
        let target = &op(&b, key)["body"]["assignments"][0]["target"];
        assert_eq!(
            target["groupId"], "${ref:group:intune-baseline-scope}",
            "{key}"
        );
    }
    let all = intune_baseline_bundle("intune_baseline_scope = \"all\"\n");
    let target =
        |key: &str| op(&all, key)["body"]["assignments"][0]["target"]["@odata.type"].clone();
    assert_eq!(
        target("ios-app-protection-assignment"),
        "#microsoft.graph.allLicensedUsersAssignmentTarget"
    );
    assert_eq!(
        target("windows-update-ring-assignment"),
        "#microsoft.graph.allDevicesAssignmentTarget"
    );
}

#[test]
fn intune_baseline_deploys_to_the_simulator_for_every_scope_and_then_plans_no_change() {
    for params in ["", "intune_baseline_scope = \"all\"\n"] {
        let project = Project::empty();
        project.file("tenantform.toml", "[project]\nname = \"intune\"\n");
        let w = crate::intune::world_on(project, &["intune-baseline"], params, 2);
        w.deploy(&[])
            .success()
            .stderr_has("2 of 2 tenants converged");
        w.cmd(&["plan", "--detailed-exitcode"])
            .run()
            .code(0)
            .stdout_has("0 to create, 0 to update, 0 to adopt");
        let objects = w.objects(1);
        for kind in [
            "iosManagedAppProtection",
            "androidManagedAppProtection",
            "windowsFeatureUpdateProfile",
            "deviceAndAppManagementAssignmentFilter",
            "mobileApp",
        ] {
            assert_eq!(
                objects[kind].as_array().map(Vec::len),
                Some(1),
                "{params}: {kind}"
            );
        }
    }
}
