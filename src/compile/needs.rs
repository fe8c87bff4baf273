//! What a tenant can take: between `render` and `bundle`, the resources that need a service
//! plan the tenant's facts do not list are skipped, each with the reason ("needs Microsoft
//! Entra ID P2 (AAD_PREMIUM_P2) for its sign-in risk condition; the tenant has AAD_PREMIUM");
//! in `bundle`, a resource that references a skipped one is skipped with it, saying which.
//!
//! The needs themselves are data in [`crate::kinds::needs`] (each kind's `licences`, and the
//! body rules). A tenant without `[tenant.facts] service_plans` is assumed to have every plan,
//! as before facts existed. Input: a [`ResolvedTenant`] and its rendered documents. Output: the
//! same tenant with those resources moved to its `skipped`, and later the bundle's operations
//! without their dependents.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::compile::bundle::{Operation, SkippedOperation};
use crate::compile::render::{ExpandedDocument, SharedBody};
use crate::kinds::needs;
use crate::source::resolve::{ResolvedTenant, SkipCause, SkippedResource};

/// Move the resources that the tenant's service plans cannot take from `resources` to
/// `skipped`, with the reason. Nothing happens for a tenant whose facts list no plans.
pub(crate) fn skip_what_plans_cannot_take(tenant: &mut ResolvedTenant, docs: &[ExpandedDocument]) {
    let Some(plans) = tenant.tenant.facts.as_ref().and_then(|f| f.plans()) else {
        return;
    };
    let plans: Vec<String> = plans.into_iter().map(str::to_string).collect();
    let bodies: BTreeMap<&str, &serde_json::Value> = docs
        .iter()
        .map(|d| (d.key.value.as_str(), d.body.value()))
        .collect();
    let mut kept = Vec::with_capacity(tenant.resources.len());
    for resource in std::mem::take(&mut tenant.resources) {
        // A resource whose body did not render is still judged by its kind.
        let body = bodies
            .get(resource.key.value.as_str())
            .copied()
            .unwrap_or(&serde_json::Value::Null);
        match needs::plan_gap(resource.kind, body, &plans) {
            None => kept.push(resource),
            Some(gap) => tenant.skipped.push(SkippedResource {
                key: resource.key.value,
                kind: resource.kind,
                reason: gap.reason(&plans),
                controls: resource.controls,
                cause: SkipCause::Facts,
                span: resource.key.span,
            }),
        }
    }
    tenant.resources = kept;
}

/// The reason a resource is skipped because it references (or is addressed under) `target`.
pub(crate) fn dependent_reason(target: &str, target_reason: &str) -> String {
    format!("depends on `{target}`, which is skipped: {target_reason}")
}

/// Remove the operations in `blocked` (key → reason: they reference a resource the facts
/// skipped), then every operation that depends on a removed one, until none is left; returns
/// the removed ones as skipped operations, in the bundle's order.
pub(crate) fn skip_dependents(
    ops: &mut Vec<Operation>,
    shared: &mut Vec<Option<Arc<SharedBody>>>,
    mut blocked: BTreeMap<String, String>,
) -> Vec<SkippedOperation> {
    if blocked.is_empty() {
        return Vec::new();
    }
    loop {
        let mut grew = false;
        for op in ops.iter() {
            if blocked.contains_key(&op.key) {
                continue;
            }
            if let Some(dep) = op.depends_on.iter().find(|d| blocked.contains_key(*d)) {
                let reason = dependent_reason(dep, &blocked[dep]);
                blocked.insert(op.key.clone(), reason);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mut skipped = Vec::new();
    let mut kept_ops = Vec::with_capacity(ops.len());
    let mut kept_shared = Vec::with_capacity(shared.len());
    for (op, body) in std::mem::take(ops).into_iter().zip(std::mem::take(shared)) {
        match blocked.remove(&op.key) {
            Some(reason) => skipped.push(SkippedOperation {
                key: op.key,
                kind: op.kind.name,
                reason,
                controls: op.controls,
            }),
            None => {
                kept_ops.push(op);
                kept_shared.push(body);
            }
        }
    }
    *ops = kept_ops;
    *shared = kept_shared;
    skipped
}
