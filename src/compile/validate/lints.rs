//! The semantic lints a kind declares ([`KindLint`]), beyond its schema: Conditional Access
//! lockout, a compliance policy's block action, built-in objects Microsoft owns. Input: a
//! rendered body; output: at most one diagnostic per lint.

use serde_json::Value;

use crate::diag::{Code, Diagnostic};
use crate::kinds::KindLint;
use crate::source::resolve::AcceptedLint;

/// True when a Conditional Access policy body can lock every account out: enabled, applies to
/// All users, blocks or requires a control, and excludes no user or group (not even emergency
/// access). The `lockout` lint (TF501) refuses such a body unless accepted; `plan` warns about
/// an accepted one it would write (see [`crate::live::risk`]).
pub fn locks_everyone_out(body: &Value) -> bool {
    if body.get("state").and_then(Value::as_str) != Some("enabled") {
        return false;
    }
    let Some(users) = body.pointer("/conditions/users") else {
        return false;
    };
    let includes_all = users
        .get("includeUsers")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("All")));
    if !includes_all {
        return false;
    }
    let grants = body
        .pointer("/grantControls/builtInControls")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
        || body
            .pointer("/grantControls/authenticationStrength")
            .is_some_and(|v| !v.is_null());
    if !grants {
        return false;
    }
    let excluded = ["excludeUsers", "excludeGroups"].iter().any(|k| {
        users
            .get(*k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    !excluded
}

fn lint_lockout(body: &Value, accepted: &[AcceptedLint]) -> Option<Diagnostic> {
    if !locks_everyone_out(body) || accepted.iter().any(|a| a.lint == "lockout") {
        return None;
    }
    Some(
        Diagnostic::error(
            Code::LockoutRisk,
            "this enabled policy applies a grant or block to All users and excludes no one: it can lock every account out, including emergency access",
        )
        .pointer("/conditions/users")
        .help("exclude the emergency-access group (`excludeGroups`), or accept it with `allow = { lockout = \"<reason>\" }`"),
    )
}

fn lint_compliance_block(body: &Value) -> Option<Diagnostic> {
    let rules = body
        .get("scheduledActionsForRule")
        .and_then(Value::as_array);
    let blocks = rules
        .into_iter()
        .flatten()
        .filter_map(|r| {
            r.get("scheduledActionConfigurations")
                .and_then(Value::as_array)
        })
        .flatten()
        .filter(|a| a.get("actionType").and_then(Value::as_str) == Some("block"))
        .count();
    (blocks != 1).then(|| {
        Diagnostic::error(
            Code::ComplianceBlockAction,
            format!("a compliance policy needs exactly one `block` scheduled action, this one has {blocks}"),
        )
        .pointer("/scheduledActionsForRule")
        .expected("scheduledActionsForRule with one scheduledActionConfigurations entry whose actionType is \"block\"")
        .help("the service answers 400 \"Compliance policy must have one and only one block scheduled action\"")
    })
}

/// A custom authentication strength declared with a built-in strength's name (or id): Graph
/// refuses to change built-ins, and adopting one by name would try.
pub(super) fn lint_built_in_strength(body: &Value) -> Option<Diagnostic> {
    let (pointer, (id, name, ..)) = ["displayName", "id"].iter().find_map(|p| {
        let text = body.get(*p)?.as_str()?;
        Some((*p, crate::kinds::built_in_authentication_strength(text)?))
    })?;
    Some(
        Diagnostic::error(
            Code::BuiltInObject,
            format!("\"{name}\" is a built-in authentication strength: it exists in every tenant and cannot be created or changed"),
        )
        .pointer(format!("/{pointer}"))
        .expected("a custom strength with a name of its own")
        .help(format!("reference the built-in from a Conditional Access policy as `\"authenticationStrength\": {{\"id\": \"{id}\"}}`, or rename this custom strength")),
    )
}

/// Intune's built-in scope tag: every tenant has it (id `0`), and it cannot be created, renamed
/// or changed (Microsoft Learn, "Use role-based access control and scope tags").
fn lint_built_in_scope_tag(body: &Value) -> Option<Diagnostic> {
    let name = body.get("displayName").and_then(Value::as_str)?;
    name.trim().eq_ignore_ascii_case("Default").then(|| {
        Diagnostic::error(
            Code::BuiltInObject,
            format!("the scope tag `{name}` is Intune's built-in Default tag (id 0), which tenantform never creates or changes"),
        )
        .pointer("/displayName")
        .expected("a displayName other than \"Default\"")
        .help("to tag objects with the built-in tag, put \"0\" in their roleScopeTagIds; declare only your own tags as roleScopeTag resources")
    })
}

pub(super) fn run_lint(
    lint: KindLint,
    body: &Value,
    accepted: &[AcceptedLint],
) -> Option<Diagnostic> {
    match lint {
        KindLint::ConditionalAccessLockout => lint_lockout(body, accepted),
        KindLint::ComplianceBlockAction => lint_compliance_block(body),
        KindLint::NotABuiltInAuthenticationStrength => lint_built_in_strength(body),
        KindLint::BuiltInScopeTag => lint_built_in_scope_tag(body),
    }
}
