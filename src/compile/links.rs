//! Stage 4, `validate` (links): every step of a cross-tenant synchronization link checked against
//! the JSON Schema generated for its kind (the link kinds' schemas come from the CSDL like every
//! kind's: `src/schema/generated/`), with the body as deploy sends it (a partner's `tenantId`
//! only in the create, placeholders for ids found at deploy filled with a GUID).
//!
//! Input: a tenant's [`LinkStep`]s and the project's links. Output: [`Diagnostics`] at the link's
//! file (at the mapping or filter clause an error is in, when it is in one).

use serde_json::Value;

use crate::compile::validate::{Schemas, Variant};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::kinds;
use crate::source::project::ProjectSource;
use crate::source::span::Span;
use crate::sync::steps::LinkStep;

/// What a placeholder of a step's path or body stands for when its body is checked: an object
/// id found at deploy, so a GUID.
const PLACEHOLDER_ID: &str = "00000000-0000-0000-0000-000000000000";

fn fill_placeholders(value: &Value) -> Value {
    match value {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') && !s.contains(' ') => {
            Value::String(PLACEHOLDER_ID.into())
        }
        Value::Array(items) => items.iter().map(fill_placeholders).collect(),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_placeholders(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The body deploy sends for a step, and the schema variant it is checked against.
fn sent(step: &LinkStep) -> (Value, Variant) {
    let mut body = fill_placeholders(&step.body);
    let mut create = kinds::link_kind_by_name(step.kind)
        .or_else(|| kinds::by_name(step.kind))
        .is_some_and(|k| k.create_method == Some(step.method));
    // The partner identity-sync PUT addresses the partner by path, never by body (the
    // documented body is `displayName` and `userSyncInbound`), so it is checked as an update.
    if step.kind == "crossTenantIdentitySyncPolicyPartner"
        && let Value::Object(map) = &mut body
    {
        map.remove("tenantId");
        create = false;
    }
    (
        body,
        if create {
            Variant::Create
        } else {
            Variant::Update
        },
    )
}

/// Where in the link file an error at `pointer` of a step's body was written.
fn span_for(project: &ProjectSource, step: &LinkStep, pointer: &str) -> Option<Span> {
    if step.link == crate::sync::organization::UNIT
        && let Some(org) = &project.organization
    {
        return Some(org.span);
    }
    let link = project.links.iter().find(|l| l.name == step.link)?;
    let mapping = "/synchronizationRules/0/objectMappings/0/attributeMappings/";
    if let Some(rest) = pointer.strip_prefix(mapping) {
        // Index 0 is userType; the overrides follow in file order.
        let index: usize = rest.split('/').next()?.parse().ok()?;
        return index
            .checked_sub(1)
            .and_then(|i| link.mappings.get(i))
            .map(|m| m.span)
            .or(Some(link.span));
    }
    if pointer.starts_with("/synchronizationRules/0/objectMappings/0/scope") {
        return link
            .scoping_filter
            .first()
            .map(|c| c.span)
            .or(Some(link.span));
    }
    Some(link.span)
}

/// Check every step's body against its kind's schema.
pub fn check_link_steps(
    schemas: &Schemas,
    project: &ProjectSource,
    steps: &[LinkStep],
) -> Diagnostics {
    let mut out = Diagnostics::new();
    for step in steps {
        let (body, variant) = sent(step);
        let Ok(validator) = schemas.validator(step.kind, variant) else {
            out.push(
                Diagnostic::error(
                    Code::InvalidLinkStep,
                    format!(
                        "link {}: step {} has kind {}, which has no generated schema",
                        step.link, step.id, step.kind
                    ),
                )
                .at_opt(span_for(project, step, "")),
            );
            continue;
        };
        for error in validator.iter_errors(&body) {
            let pointer = error.instance_path().as_str().to_string();
            out.push(
                Diagnostic::error(
                    Code::InvalidLinkStep,
                    format!(
                        "link {}: step {} ({} in tenant {}): Graph's schema for {} rejects the body at {}: {error}",
                        step.link,
                        step.id,
                        step.kind,
                        step.tenant,
                        step.kind,
                        if pointer.is_empty() { "/" } else { &pointer }
                    ),
                )
                .pointer(pointer.clone())
                .at_opt(span_for(project, step, &pointer)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kinds::Method;
    use crate::sync::steps::link_steps;

    fn project() -> ProjectSource {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/sync-hub");
        let (project, diagnostics) = crate::source::project::load(&dir).expect("fixture loads");
        assert!(!diagnostics.has_errors(), "{diagnostics:?}");
        project
    }

    fn steps(project: &ProjectSource) -> Vec<LinkStep> {
        let link = &project.links[0];
        let (source, target) = crate::source::links::ends(project, link).expect("ends");
        link_steps(link, &source.id.value, &target.id.value, &[])
    }

    #[test]
    fn every_step_of_a_link_passes_its_kind_s_schema() {
        let project = project();
        let schemas = Schemas::shared().expect("schemas");
        let steps = steps(&project);
        assert!(steps.len() >= 9, "{steps:?}");
        let d = check_link_steps(schemas, &project, &steps);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn a_step_graph_would_reject_is_an_error_at_the_link_file() {
        let project = project();
        let schemas = Schemas::shared().expect("schemas");
        let mut steps = steps(&project);
        let job = steps
            .iter_mut()
            .find(|s| s.kind == "synchronizationJob")
            .expect("job step");
        job.body = json!({"templateId": 5, "schedule": {"interval": true}});
        let schema = steps
            .iter_mut()
            .find(|s| s.kind == "synchronizationSchema")
            .expect("schema step");
        schema.body["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][0]["flowType"] =
            json!("Sometimes");
        let d = check_link_steps(schemas, &project, &steps);
        let messages: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("step hub-to-north/source/job") && m.contains("/templateId")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("attributeMappings/0/flowType")),
            "{messages:?}"
        );
        assert!(d.iter().all(|d| d.code == Code::InvalidLinkStep));
        assert!(d.has_errors());
        // A kind without a schema is named, not skipped.
        let mut odd = steps[0].clone();
        odd.kind = "noSuchKind";
        odd.method = Method::Post;
        let d = check_link_steps(schemas, &project, &[odd]);
        assert!(
            d.iter()
                .any(|d| d.message.contains("has no generated schema")),
            "{d:?}"
        );
    }

    #[test]
    fn the_organization_s_steps_pass_their_schemas_and_a_bad_one_points_at_its_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/valid/sync-organization");
        let (project, diagnostics) = crate::source::project::load(&dir).expect("fixture loads");
        assert!(!diagnostics.has_errors(), "{diagnostics:?}");
        let schemas = Schemas::shared().expect("schemas");
        let mut steps = crate::sync::organization::organization_steps(&project);
        assert_eq!(steps.len(), 5, "{steps:?}");
        let d = check_link_steps(schemas, &project, &steps);
        assert!(d.is_empty(), "{d:?}");
        // A member step carrying what the service sets, and a join request without its owner.
        steps[1].body["state"] = json!("active");
        steps[4].body = json!({"addedByTenantId": 7});
        let d = check_link_steps(schemas, &project, &steps);
        let org = project.organization.as_ref().expect("organization");
        assert_eq!(d.error_count(), 2, "{d:?}");
        assert!(d.iter().all(|d| d.span == Some(org.span)), "{d:?}");
        assert!(d.iter().any(|d| d.message.contains("/state")), "{d:?}");
    }
}
