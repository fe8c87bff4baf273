//! The authentication methods policy and its per-method configurations as TCM resources
//! (`microsoft.entra.authenticationmethodpolicy` and `microsoft.entra.authenticationmethodpolicy
//! {authenticator,email,fido2,sms,software,temporary,voice,x509}`), shaped as Microsoft365DSC's
//! `AADAuthenticationMethodPolicy*` schemas: key `Id` (the method configuration's id, e.g.
//! `Fido2`), `State`, `IncludeTargets`/`ExcludeTargets` as `{Id, TargetType}` with a group as its
//! display name (`all_users` kept), and the method's own settings by their PascalCase names.
//! A setting the method's schema has no property for is left out and listed.
//!
//! Input: one [`Operation`] and the display names of the bundle's resources. Output: a
//! [`Mapped`] resource, or why not.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Mapped, named};
use crate::compile::bundle::Operation;

/// One method configuration: its Graph `@odata.type` (without the namespace), the TCM type,
/// the configuration's id (the TCM key) and the scalar settings its schema has.
struct Method {
    odata_type: &'static str,
    resource_type: &'static str,
    id: &'static str,
    settings: &'static [&'static str],
}

/// The method configurations TCM covers (drift-facts §4.4) with the settings of each
/// `MSFT_AADAuthenticationMethodPolicy<Method>.schema.mof`.
const METHODS: [Method; 8] = [
    Method {
        odata_type: "microsoftAuthenticatorAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicyauthenticator",
        id: "MicrosoftAuthenticator",
        settings: &["IsSoftwareOathEnabled"],
    },
    Method {
        odata_type: "fido2AuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicyfido2",
        id: "Fido2",
        settings: &["IsAttestationEnforced", "IsSelfServiceRegistrationAllowed"],
    },
    Method {
        odata_type: "temporaryAccessPassAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicytemporary",
        id: "TemporaryAccessPass",
        settings: &[
            "DefaultLength",
            "DefaultLifetimeInMinutes",
            "IsUsableOnce",
            "MaximumLifetimeInMinutes",
            "MinimumLifetimeInMinutes",
        ],
    },
    Method {
        odata_type: "smsAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicysms",
        id: "Sms",
        settings: &[],
    },
    Method {
        odata_type: "voiceAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicyvoice",
        id: "Voice",
        settings: &["IsOfficePhoneAllowed"],
    },
    Method {
        odata_type: "emailAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicyemail",
        id: "Email",
        settings: &["AllowExternalIdToUseEmailOtp"],
    },
    Method {
        odata_type: "softwareOathAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicysoftware",
        id: "SoftwareOath",
        settings: &[],
    },
    Method {
        odata_type: "x509CertificateAuthenticationMethodConfiguration",
        resource_type: "microsoft.entra.authenticationmethodpolicyx509",
        id: "X509Certificate",
        settings: &[],
    },
];

/// The Authenticator's feature settings Microsoft365DSC models.
const AUTHENTICATOR_FEATURES: [&str; 3] = [
    "CompanionAppAllowedState",
    "DisplayAppInformationRequiredState",
    "DisplayLocationInformationRequiredState",
];

/// The root policy's scalar settings (`MSFT_AADAuthenticationMethodPolicy.schema.mof`).
const POLICY_SETTINGS: [&str; 4] = [
    "Description",
    "PolicyMigrationState",
    "PolicyVersion",
    "ReconfirmationInDays",
];

/// The TCM name of a Graph property (`isUsableOnce` → `IsUsableOnce`), if `names` has it.
pub(super) fn schema_name(graph: &str, names: &[&'static str]) -> Option<&'static str> {
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(graph))
        .copied()
}

/// A target (`{targetType, id}`) as `{Id, TargetType}`: a group by display name, `all_users`
/// as it is. Other target fields have no property in the schema and are reported.
fn target(
    t: &Value,
    names: &BTreeMap<String, String>,
    field: &str,
    left_out: &mut Vec<(String, String)>,
) -> Result<Value, String> {
    let id = t["id"].as_str().unwrap_or_default();
    let target_type = t["targetType"].as_str().unwrap_or("group");
    let id = if id == "all_users" {
        id.to_string()
    } else if id.starts_with("${ref:") {
        named(id, names)?
    } else {
        return Err(format!(
            "{field} names {target_type} {id} by object id; TCM wants its display name, which tenantform knows only for groups it declares"
        ));
    };
    if let Some(obj) = t.as_object() {
        for k in obj.keys() {
            let path = format!("{field}.{k}");
            if k != "id" && k != "targetType" && !left_out.iter().any(|(p, _)| *p == path) {
                left_out.push((
                    path,
                    "the method's Microsoft365DSC schema has no target property for it".into(),
                ));
            }
        }
    }
    Ok(json!({"Id": id, "TargetType": target_type}))
}

fn targets(
    v: &Value,
    names: &BTreeMap<String, String>,
    field: &str,
    left_out: &mut Vec<(String, String)>,
) -> Result<Vec<Value>, String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|t| target(t, names, field, left_out))
        .collect()
}

/// The Authenticator's `featureSettings` as `FeatureSettings` `{<Feature>: {State,
/// IncludeTarget, ExcludeTarget}}`.
fn feature_settings(
    v: &Value,
    names: &BTreeMap<String, String>,
    left_out: &mut Vec<(String, String)>,
) -> Result<Value, String> {
    let mut out = Map::new();
    for (graph, setting) in v.as_object().into_iter().flatten() {
        let Some(feature) = schema_name(graph, &AUTHENTICATOR_FEATURES) else {
            left_out.push((
                format!("featureSettings.{graph}"),
                "not in Microsoft365DSC's Authenticator FeatureSettings".into(),
            ));
            continue;
        };
        let mut f = Map::new();
        f.insert("State".into(), setting["state"].clone());
        for (g, t) in [
            ("includeTarget", "IncludeTarget"),
            ("excludeTarget", "ExcludeTarget"),
        ] {
            if setting[g].is_object() {
                let field = format!("featureSettings.{graph}.{g}");
                f.insert(t.into(), target(&setting[g], names, &field, left_out)?);
            }
        }
        out.insert(feature.into(), Value::Object(f));
    }
    Ok(Value::Object(out))
}

/// One `authenticationMethodConfiguration` as its per-method TCM resource.
pub(super) fn method_configuration(
    op: &Operation,
    names: &BTreeMap<String, String>,
) -> Result<Mapped, String> {
    let b = &op.body;
    let odata = b["@odata.type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("#microsoft.graph.");
    let method = METHODS
        .iter()
        .find(|m| m.odata_type == odata)
        .ok_or_else(|| format!("authentication method {odata} has no TCM resource type"))?;
    let mut p = Map::new();
    let mut left_out = Vec::new();
    p.insert("Id".into(), json!(method.id));
    for (k, v) in b.as_object().into_iter().flatten() {
        match k.as_str() {
            "@odata.type" | "id" => {}
            "state" => {
                p.insert("State".into(), v.clone());
            }
            "includeTargets" => {
                let t = targets(v, names, k, &mut left_out)?;
                p.insert("IncludeTargets".into(), t.into());
            }
            "excludeTargets" => {
                let t = targets(v, names, k, &mut left_out)?;
                p.insert("ExcludeTargets".into(), t.into());
            }
            "featureSettings" if method.id == "MicrosoftAuthenticator" => {
                let f = feature_settings(v, names, &mut left_out)?;
                p.insert("FeatureSettings".into(), f);
            }
            other => match schema_name(other, method.settings) {
                Some(name) if !v.is_object() => {
                    p.insert(name.into(), v.clone());
                }
                _ => left_out.push((
                    other.to_string(),
                    format!(
                        "{} has no property for it in Microsoft365DSC's schema",
                        method.resource_type
                    ),
                )),
            },
        }
    }
    Ok(Mapped {
        resource_type: method.resource_type,
        properties: p,
        left_out,
    })
}

/// The `authenticationMethodsPolicy` singleton as `microsoft.entra.authenticationmethodpolicy`
/// (key `Id` = `authenticationMethodsPolicy`; `DisplayName`, required by the schema, is the
/// singleton's fixed name).
pub(super) fn methods_policy(op: &Operation) -> Mapped {
    let mut p = Map::new();
    let mut left_out = Vec::new();
    p.insert("Id".into(), json!("authenticationMethodsPolicy"));
    p.insert("DisplayName".into(), json!("Authentication Methods Policy"));
    for (k, v) in op.body.as_object().into_iter().flatten() {
        match schema_name(k, &POLICY_SETTINGS) {
            Some(name) if !v.is_object() => {
                p.insert(name.into(), v.clone());
            }
            _ if k == "@odata.type" || k == "id" || k == "displayName" => {}
            _ => left_out.push((
                k.clone(),
                "a nested setting tenantform does not map to Microsoft365DSC's embedded instance yet".into(),
            )),
        }
    }
    Mapped {
        resource_type: "microsoft.entra.authenticationmethodpolicy",
        properties: p,
        left_out,
    }
}
