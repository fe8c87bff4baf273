//! Stage 1, `resolve`: one tenant's layers, parameters and overrides.
//!
//! Input: [`ProjectSource`] and one [`Tenant`]. Output: a [`ResolvedTenant`]: the baselines in
//! layer order, every parameter's value (and where it was written), every resource with its
//! variables after patches and overrides, the resources skipped (each with its reason), and the
//! lint findings accepted (each with its reason). Every problem becomes a [`Diagnostic`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::kinds::Kind;
use crate::source::Span;
use crate::source::model::{
    self, Allow, Baseline, ParamType, ScalarType, Sp, SpTable, TemplateSource, Tenant, TomlValue,
    quote_list,
};
use crate::source::project::ProjectSource;

/// A parameter's final value.
#[derive(Debug, Clone)]
pub struct ResolvedParam {
    /// The value.
    pub value: Value,
    /// Where the value was written (tenant, `[defaults]` or the declaration's `default`).
    pub span: Span,
}

/// A lint finding accepted on purpose.
#[derive(Debug, Clone)]
pub struct AcceptedLint {
    /// Lint slug (`lockout`).
    pub lint: String,
    /// The reason given.
    pub reason: String,
    /// Where it was accepted.
    pub span: Span,
}

/// A resource as this tenant gets it.
#[derive(Debug, Clone)]
pub struct ResolvedResource {
    /// Logical key (and where it was declared).
    pub key: Sp<String>,
    /// Kind.
    pub kind: &'static Kind,
    /// The baseline that declares it.
    pub baseline: String,
    /// Template.
    pub template: TemplateSource,
    /// Variables after patches and overrides; shared with the declaration until a patch or an
    /// override changes a variable.
    pub vars: Arc<serde_json::Map<String, Value>>,
    /// `vars` as `serde_json::to_vec` writes them, while they are the declaration's (worked out
    /// once per run; a patch or an override that changes a variable drops it).
    pub vars_text: Option<Arc<[u8]>>,
    /// Where each variable's value was written, by variable name and, for nested values, by
    /// JSON pointer under `vars` (`/groups/0`); shared with the declaration until a patch or an
    /// override changes a variable.
    pub var_spans: Arc<BTreeMap<String, Span>>,
    /// Description.
    pub description: Option<String>,
    /// Controls implemented.
    pub controls: Vec<String>,
    /// Parent resource key.
    pub parent: Option<Sp<String>>,
    /// Accepted lint findings.
    pub accepted: Vec<AcceptedLint>,
}

/// Why a resource is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipCause {
    /// An override (`skip = true`): the tenant chose it, so a reference to the resource from
    /// another resource is an error (the tenant should skip that one too, or keep this).
    Override,
    /// The tenant's facts: it lacks a service plan the resource needs. Resources that
    /// reference it are skipped with it (compile/needs.rs).
    Facts,
}

/// A resource an override (or the tenant's facts) skips.
#[derive(Debug, Clone)]
pub struct SkippedResource {
    /// Key.
    pub key: String,
    /// Kind.
    pub kind: &'static Kind,
    /// The override's reason, or what the tenant lacks.
    pub reason: String,
    /// The controls the resource would implement (the fleet report shows them as skipped).
    pub controls: Vec<String>,
    /// Override or facts.
    pub cause: SkipCause,
    /// The override, or the resource's declaration.
    pub span: Span,
}

/// One tenant, resolved.
#[derive(Debug, Clone)]
pub struct ResolvedTenant {
    /// The tenant.
    pub tenant: Tenant,
    /// Baseline names in layer order (extended layers first).
    pub layers: Vec<String>,
    /// Parameter values.
    pub params: BTreeMap<String, ResolvedParam>,
    /// Resources in layer, then declaration, order.
    pub resources: Vec<ResolvedResource>,
    /// Resources skipped by overrides.
    pub skipped: Vec<SkippedResource>,
}

/// Lints that `allow` may name.
pub const ALLOWABLE_LINTS: &[&str] = &["lockout"];

/// Check a value against a parameter type; `Err` says what was expected.
pub fn check_param_value(value: &TomlValue, ty: &ParamType) -> Result<(), String> {
    fn scalar(value: &TomlValue, ty: &ScalarType) -> bool {
        match (ty, value) {
            (ScalarType::String, TomlValue::String(_))
            | (ScalarType::Bool, TomlValue::Bool(_))
            | (ScalarType::Integer, TomlValue::Integer(_)) => true,
            (ScalarType::Uuid, TomlValue::String(s)) => model::is_guid(s),
            (ScalarType::Enum(values), TomlValue::String(s)) => values.contains(s),
            _ => false,
        }
    }
    let ok = match (ty, value) {
        (ParamType::Scalar(s), v) => scalar(v, s),
        (ParamType::List(s), TomlValue::Array(items)) => items.iter().all(|i| scalar(&i.value, s)),
        (ParamType::List(_), _) => false,
    };
    if ok { Ok(()) } else { Err(ty.describe()) }
}

fn describe_value(value: &TomlValue) -> String {
    match value {
        TomlValue::String(s) => format!("\"{s}\""),
        TomlValue::Integer(i) => i.to_string(),
        TomlValue::Bool(b) => b.to_string(),
        other => other.type_name().to_string(),
    }
}

fn record_spans(prefix: &str, value: &Sp<TomlValue>, out: &mut BTreeMap<String, Span>) {
    out.insert(prefix.to_string(), value.span);
    match &value.value {
        TomlValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                record_spans(&format!("{prefix}/{i}"), item, out);
            }
        }
        TomlValue::Table(t) => {
            for (k, v) in t {
                record_spans(&format!("{prefix}/{}", k.value), v, out);
            }
        }
        _ => {}
    }
}

/// Set the variables of `table` (a declaration's, a patch's or an override's) over `vars`, with
/// where each was written; the text of the variables as they were no longer holds.
fn merge_vars(
    vars: &mut Arc<serde_json::Map<String, Value>>,
    text: &mut Option<Arc<[u8]>>,
    spans: &mut Arc<BTreeMap<String, Span>>,
    table: &SpTable,
) {
    if table.is_empty() {
        return;
    }
    *text = None;
    let vars = Arc::make_mut(vars);
    let spans = Arc::make_mut(spans);
    for (k, v) in table {
        let prefix = format!("/{}", k.value);
        // A variable set before (by a layer below): forget where its old value and the old
        // value's parts were written. `vars` and `spans` gain and lose a variable together, so
        // a new variable has nothing to forget.
        if vars.insert(k.value.clone(), v.value.to_json()).is_some() {
            let nested = format!("{prefix}/");
            spans.retain(|p, _| !(p == &prefix || p.starts_with(&nested)));
        }
        record_spans(&prefix, v, spans);
    }
}

/// A resource's declared variables, their text and their spans, worked out by the first tenant
/// that needs them; every tenant shares them until a patch or an override changes a variable.
fn declared_vars(r: &model::ResourceDecl) -> &model::DeclaredVars {
    r.declared_vars.get_or_init(|| {
        let mut vars = Arc::new(serde_json::Map::new());
        let mut spans = Arc::new(BTreeMap::new());
        merge_vars(&mut vars, &mut None, &mut spans, &r.vars);
        let text = serde_json::to_vec(&*vars).unwrap_or_default().into();
        model::DeclaredVars { vars, text, spans }
    })
}

fn accept(allows: &[Allow], out: &mut Vec<AcceptedLint>, diags: &mut Diagnostics) {
    for a in allows {
        if !ALLOWABLE_LINTS.contains(&a.lint.value.as_str()) {
            let mut d = Diagnostic::error(
                Code::InvalidAllow,
                format!("`allow` names an unknown lint `{}`", a.lint.value),
            )
            .at(a.lint.span)
            .expected(format!("one of {}", quote_list(ALLOWABLE_LINTS)));
            if let Some(s) = model::did_you_mean(&a.lint.value, ALLOWABLE_LINTS.iter().copied()) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
        } else if a.reason.value.trim().is_empty() {
            diags.push(
                Diagnostic::error(
                    Code::InvalidAllow,
                    format!("`allow.{}` needs a reason", a.lint.value),
                )
                .at(a.reason.span),
            );
        } else {
            out.push(AcceptedLint {
                lint: a.lint.value.clone(),
                reason: a.reason.value.clone(),
                span: a.lint.span,
            });
        }
    }
}

/// How many resources `baselines` (a tenant's, in its order) declare with the layers they
/// extend, each layer once: an estimate of its bundle's size before it is compiled (resources
/// its facts skip are counted).
pub fn declared_resources(project: &ProjectSource, baselines: &[Sp<String>]) -> usize {
    layer_order(project, baselines, &mut Diagnostics::new())
        .iter()
        .map(|baseline| baseline.resources.len())
        .sum()
}

/// Order the baselines a tenant gets: each after the layers it extends, each once.
fn layer_order<'p>(
    project: &'p ProjectSource,
    baselines: &[Sp<String>],
    diags: &mut Diagnostics,
) -> Vec<&'p Baseline> {
    fn visit<'p>(
        project: &'p ProjectSource,
        name: &Sp<String>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<&'p Baseline>,
        diags: &mut Diagnostics,
    ) {
        if done.contains(&name.value) || project.broken_baselines.contains(&name.value) {
            return;
        }
        if let Some(pos) = stack.iter().position(|n| n == &name.value) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(name.value.clone());
            diags.push(
                Diagnostic::error(
                    Code::ExtendsCycle,
                    format!(
                        "baselines extend each other in a loop: {}",
                        cycle.join(" -> ")
                    ),
                )
                .at(name.span),
            );
            return;
        }
        let Some(baseline) = project.baselines.get(&name.value) else {
            let mut d = Diagnostic::error(
                Code::UnknownBaseline,
                format!("unknown baseline \"{}\"", name.value),
            )
            .at(name.span)
            .help("a baseline is baselines/<name>.toml in the project, or one shipped in the binary (`tenantform init` lists them)");
            if let Some(s) =
                model::did_you_mean(&name.value, project.baselines.keys().map(String::as_str))
            {
                d = d.help(format!("did you mean \"{s}\"?"));
            }
            diags.push(d);
            return;
        };
        stack.push(name.value.clone());
        for parent in &baseline.extends {
            visit(project, parent, stack, done, out, diags);
        }
        stack.pop();
        done.insert(name.value.clone());
        out.push(baseline);
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for name in baselines {
        visit(project, name, &mut Vec::new(), &mut done, &mut out, diags);
    }
    out
}

/// Resolve one tenant. Returns `None` (with diagnostics) when it cannot be compiled.
pub fn resolve(
    project: &ProjectSource,
    tenant: &Tenant,
    today: jiff::civil::Date,
) -> (Option<ResolvedTenant>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let layers = layer_order(project, &tenant.baselines, &mut diags);
    // With an unknown baseline, which parameters exist is unknown: don't guess about them.
    let layers_complete = !diags.has_errors();
    let broken_inputs = tenant.has_errors
        || layers
            .iter()
            .map(|b| b.file)
            .any(|f| project.files_with_errors.contains(&f))
        || layers
            .iter()
            .flat_map(|b| b.extends.iter())
            .chain(tenant.baselines.iter())
            .any(|n| project.broken_baselines.contains(&n.value));
    if broken_inputs {
        // The broken file's own diagnostics are reported once, by `load`.
        let diags = diags
            .into_iter()
            .map(|d| d.tenant(tenant.id.value.clone()))
            .collect();
        return (None, diags);
    }

    // Parameters: declarations, then defaults layer by layer, then the tenant's values.
    let mut decls: BTreeMap<&str, (&model::ParamDecl, &str)> = BTreeMap::new();
    for b in &layers {
        for p in &b.params {
            if let Some((first, _)) = decls.get(p.name.value.as_str()) {
                diags.push(
                    Diagnostic::error(
                        Code::Duplicate,
                        format!("parameter `{}` is declared by two baselines", p.name.value),
                    )
                    .at(p.name.span)
                    .note("first declared here", first.name.span),
                );
                continue;
            }
            decls.insert(&p.name.value, (p, &b.name));
        }
    }
    let mut values: BTreeMap<String, Sp<TomlValue>> = BTreeMap::new();
    for (name, (decl, _)) in &decls {
        if let Some(default) = &decl.default {
            if let Err(expected) = check_param_value(&default.value, &decl.ty) {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidParamValue,
                        format!(
                            "the default of parameter `{name}` must be {expected}, found {}",
                            describe_value(&default.value)
                        ),
                    )
                    .at(default.span),
                );
            }
            values.insert((*name).to_string(), default.clone());
        }
    }
    let unknown_param = |name: &Sp<String>, diags: &mut Diagnostics, decls: &BTreeMap<&str, _>| {
        let mut d = Diagnostic::error(
            Code::UnknownParam,
            format!(
                "no baseline of this tenant declares a parameter `{}`",
                name.value
            ),
        )
        .at(name.span);
        if let Some(s) = model::did_you_mean(&name.value, decls.keys().copied()) {
            d = d.help(format!("did you mean `{s}`?"));
        }
        diags.push(d);
    };
    let mut invalid: BTreeSet<String> = BTreeSet::new();
    let mut apply =
        |table: &SpTable, diags: &mut Diagnostics, values: &mut BTreeMap<String, Sp<TomlValue>>| {
            for (k, v) in table {
                let Some((decl, _)) = decls.get(k.value.as_str()) else {
                    if layers_complete {
                        unknown_param(k, diags, &decls);
                    }
                    continue;
                };
                if let Err(expected) = check_param_value(&v.value, &decl.ty) {
                    diags.push(
                        Diagnostic::error(
                            Code::InvalidParamValue,
                            format!(
                                "parameter `{}` must be {expected}, found {}",
                                k.value,
                                describe_value(&v.value)
                            ),
                        )
                        .at(v.span)
                        .expected(expected)
                        .note("declared here", decl.name.span),
                    );
                    invalid.insert(k.value.clone());
                    continue;
                }
                values.insert(k.value.clone(), v.clone());
            }
        };
    for b in &layers {
        apply(&b.defaults, &mut diags, &mut values);
    }
    apply(&tenant.params, &mut diags, &mut values);
    for (name, (decl, baseline)) in &decls {
        if !values.contains_key(*name) && !invalid.contains(*name) {
            diags.push(
                Diagnostic::error(
                    Code::MissingRequired,
                    format!(
                        "tenant \"{}\" does not set the required parameter `{name}`",
                        tenant.name
                    ),
                )
                .at(tenant.id.span)
                .expected(decl.ty.describe())
                .note(
                    format!("declared by baseline {baseline}: {}", decl.description),
                    decl.name.span,
                )
                .help(format!("add `{name} = ...` under [tenant.params]")),
            );
        }
    }
    let params = values
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                ResolvedParam {
                    value: v.value.to_json(),
                    span: v.span,
                },
            )
        })
        .collect();

    // Resources, layer by layer; patches apply to what earlier layers declared.
    let mut resources: Vec<ResolvedResource> = Vec::new();
    for b in &layers {
        for r in &b.resources {
            if let Some(first) = resources.iter().find(|x| x.key.value == r.key.value) {
                diags.push(
                    Diagnostic::error(
                        Code::Duplicate,
                        format!(
                            "resource key `{}` is declared twice for this tenant",
                            r.key.value
                        ),
                    )
                    .at(r.key.span)
                    .note("first declared here", first.key.span)
                    .help("to change a resource of an extended baseline, use [patch.<key>]"),
                );
                continue;
            }
            let declared = declared_vars(r);
            let mut accepted = Vec::new();
            accept(&r.allow, &mut accepted, &mut diags);
            resources.push(ResolvedResource {
                key: r.key.clone(),
                kind: r.kind,
                baseline: b.name.clone(),
                template: r.template.clone(),
                vars: Arc::clone(&declared.vars),
                vars_text: Some(Arc::clone(&declared.text)),
                var_spans: Arc::clone(&declared.spans),
                description: r.description.clone(),
                controls: r.controls.clone(),
                parent: r.parent.clone(),
                accepted,
            });
        }
        for p in &b.patches {
            let Some(target) = resources
                .iter_mut()
                .find(|x| x.key.value == p.key.value && x.baseline != b.name)
            else {
                let mut d = Diagnostic::error(
                    Code::UnknownTarget,
                    format!(
                        "[patch.{}] names no resource of a baseline that {} extends",
                        p.key.value, b.name
                    ),
                )
                .at(p.key.span);
                if let Some(s) = model::did_you_mean(
                    &p.key.value,
                    resources.iter().map(|x| x.key.value.as_str()),
                ) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                diags.push(d);
                continue;
            };
            merge_vars(
                &mut target.vars,
                &mut target.vars_text,
                &mut target.var_spans,
                &p.vars,
            );
            if let Some(desc) = &p.description {
                target.description = Some(desc.clone());
            }
            if let Some(controls) = &p.controls {
                target.controls = controls.clone();
            }
            accept(&p.allow, &mut target.accepted, &mut diags);
        }
    }

    // The tenant's overrides.
    let mut skipped = Vec::new();
    for o in &tenant.overrides {
        if let Some(expires) = &o.expires
            && expires.value < today
        {
            diags.push(
                Diagnostic::warning(
                    Code::OverrideExpired,
                    format!(
                        "override of `{}` expired on {} (reason given: {}); it still applies",
                        o.resource.value, expires.value, o.reason.value
                    ),
                )
                .at(expires.span)
                .help("renew `expires` with a new reason, or remove the override"),
            );
        }
        let Some(index) = resources
            .iter()
            .position(|x| x.key.value == o.resource.value)
        else {
            let mut d = Diagnostic::error(
                Code::UnknownTarget,
                format!(
                    "override names resource `{}`, which this tenant does not get",
                    o.resource.value
                ),
            )
            .at(o.resource.span);
            if let Some(s) = model::did_you_mean(
                &o.resource.value,
                resources.iter().map(|x| x.key.value.as_str()),
            ) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
            continue;
        };
        if o.skip {
            let r = resources.remove(index);
            skipped.push(SkippedResource {
                key: r.key.value,
                kind: r.kind,
                reason: o.reason.value.clone(),
                controls: r.controls,
                cause: SkipCause::Override,
                span: o.span,
            });
            continue;
        }
        let target = &mut resources[index];
        merge_vars(
            &mut target.vars,
            &mut target.vars_text,
            &mut target.var_spans,
            &o.vars,
        );
        accept(&o.allow, &mut target.accepted, &mut diags);
    }

    let diags: Diagnostics = diags
        .into_iter()
        .map(|d| d.tenant(tenant.id.value.clone()))
        .collect();
    if diags.has_errors() {
        return (None, diags);
    }
    (
        Some(ResolvedTenant {
            tenant: tenant.clone(),
            layers: layers.iter().map(|b| b.name.clone()).collect(),
            params,
            resources,
            skipped,
        }),
        diags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::source::model::Sp;

    fn sp(v: TomlValue) -> Sp<TomlValue> {
        Sp::new(v, Span::new(FileId(0), 0..0))
    }

    #[test]
    fn param_type_checks() {
        let list = ParamType::List(ScalarType::String);
        assert!(
            check_param_value(
                &TomlValue::Array(vec![sp(TomlValue::String("a".into()))]),
                &list
            )
            .is_ok()
        );
        assert!(
            check_param_value(&TomlValue::Array(vec![sp(TomlValue::Integer(1))]), &list).is_err()
        );
        let e = ParamType::Scalar(ScalarType::Enum(vec!["on".into(), "off".into()]));
        assert!(check_param_value(&TomlValue::String("on".into()), &e).is_ok());
        assert_eq!(
            check_param_value(&TomlValue::String("maybe".into()), &e),
            Err("one of \"on\" or \"off\"".into())
        );
        let u = ParamType::Scalar(ScalarType::Uuid);
        assert!(check_param_value(&TomlValue::String("nope".into()), &u).is_err());
    }
}
