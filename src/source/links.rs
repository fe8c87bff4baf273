//! Stage 1, `load` (links): the checks of cross-tenant synchronization links that need the
//! whole project: both ends are tenants of the project (by id or name), they differ, they are
//! in the same cloud unless the link says `cross_cloud = true`, the scope is not empty and
//! names groups the source gets (or users by UPN), a deletion threshold is positive, and no two
//! links have the same source and target. A tenant may be the source of some links and the
//! target of others (hub and spoke, mesh).
//!
//! Input: the [`ProjectSource`] with its decoded [`Link`]s. Output: [`Diagnostics`] at the
//! `file:line:col` of each problem, and [`ends`] for the stages that compile a link.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::source::model::link::Link;
use crate::source::model::{Sp, Tenant};
use crate::source::project::{ProjectSource, TenantEntry};

/// One end of a link, written as a tenant id or name.
pub fn find_tenant<'p>(project: &'p ProjectSource, written: &str) -> Option<&'p TenantEntry> {
    project
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(written))
        .or_else(|| project.tenants.iter().find(|t| t.name == written))
}

/// A scope entry: a group of the source's baselines, or a user by UPN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRef {
    /// `group:<resource key>`.
    Group(String),
    /// `user:<userPrincipalName>`.
    User(String),
}

impl ScopeRef {
    /// Parse `group:x` / `user:y`.
    pub fn parse(text: &str) -> Option<ScopeRef> {
        let (prefix, rest) = text.split_once(':')?;
        if rest.is_empty() {
            return None;
        }
        match prefix {
            "group" => Some(ScopeRef::Group(rest.to_string())),
            "user" if rest.contains('@') => Some(ScopeRef::User(rest.to_string())),
            _ => None,
        }
    }
}

/// The decoded source and target tenants of a link, when both exist.
pub fn ends(project: &ProjectSource, link: &Link) -> Option<(Tenant, Tenant)> {
    let source = find_tenant(project, &link.source.as_ref()?.value)?;
    let target = find_tenant(project, &link.target.as_ref()?.value)?;
    Some((project.tenant(source)?, project.tenant(target)?))
}

/// The group resource keys a tenant gets from its baselines (following `extends`).
fn group_keys(project: &ProjectSource, tenant: &Tenant) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut todo: Vec<String> = tenant.baselines.iter().map(|b| b.value.clone()).collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(baseline) = project.baselines.get(&name) else {
            continue;
        };
        todo.extend(baseline.extends.iter().map(|e| e.value.clone()));
        for r in &baseline.resources {
            if r.kind.name == "group" {
                keys.insert(r.key.value.clone());
            }
        }
    }
    keys
}

fn end<'p>(
    project: &'p ProjectSource,
    link: &Link,
    which: &str,
    written: &Sp<String>,
    diags: &mut Diagnostics,
) -> Option<&'p TenantEntry> {
    let found = find_tenant(project, &written.value);
    if found.is_none() {
        let names: Vec<&str> = project.tenants.iter().map(|t| t.name.as_str()).collect();
        let mut d = Diagnostic::error(
            Code::UnknownLinkEnd,
            format!(
                "link `{}`: {which} \"{}\" is not a tenant of the project (by id or name)",
                link.name, written.value
            ),
        )
        .at(written.span);
        if let Some(s) = crate::source::model::did_you_mean(&written.value, names) {
            d = d.help(format!("did you mean \"{s}\"?"));
        }
        diags.push(d);
    }
    found
}

/// Check every link of the project.
pub fn check(project: &ProjectSource) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut pairs: BTreeMap<(String, String), Span> = BTreeMap::new();
    for link in &project.links {
        let invalid = |message: String, span: Span| {
            Diagnostic::error(
                Code::InvalidLink,
                format!("link `{}`: {message}", link.name),
            )
            .at(span)
        };
        if let Some(span) = link.scope_span
            && link.scope.is_empty()
        {
            diags.push(
                invalid(
                    "the scope is empty: nobody would be synchronized".into(),
                    span,
                )
                .help("name groups of the source (\"group:<key>\") or users (\"user:<upn>\")"),
            );
        }
        if let Some(prevention) = &link.deletion_prevention
            && let Some(threshold) = &prevention.threshold
            && threshold.value <= 0
        {
            diags.push(invalid(
                format!(
                    "the deletion threshold must be a positive number, found {}",
                    threshold.value
                ),
                threshold.span,
            ));
        }
        let (Some(source_written), Some(target_written)) = (&link.source, &link.target) else {
            continue;
        };
        let source = end(project, link, "source", source_written, &mut diags);
        let source_groups = source
            .and_then(|s| project.tenant(s))
            .map(|t| group_keys(project, &t));
        check_scope(
            link,
            source.map(|s| s.name.as_str()),
            source_groups,
            &mut diags,
        );
        let target = end(project, link, "target", target_written, &mut diags);
        let (Some(source), Some(target)) = (source, target) else {
            continue;
        };
        if source.id == target.id {
            diags.push(
                invalid(
                    format!("source and target are the same tenant ({})", source.name),
                    target_written.span,
                )
                .note("source written here", source_written.span),
            );
            continue;
        }
        let key = (source.id.clone(), target.id.clone());
        if let Some(first) = pairs.get(&key) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateLink,
                    format!(
                        "link `{}`: {} → {} is already linked",
                        link.name, source.name, target.name
                    ),
                )
                .at(target_written.span)
                .note("first linked here", *first)
                .help("put both scopes in one link"),
            );
        } else {
            pairs.insert(key, target_written.span);
        }
        let (Some(source_tenant), Some(target_tenant)) =
            (project.tenant(source), project.tenant(target))
        else {
            continue;
        };
        if source_tenant.cloud != target_tenant.cloud && !link.cross_cloud {
            diags.push(
                invalid(
                    format!(
                        "{} is in the {} cloud and {} in the {} cloud",
                        source.name,
                        source_tenant.cloud.as_str(),
                        target.name,
                        target_tenant.cloud.as_str()
                    ),
                    target_written.span,
                )
                .help("add `cross_cloud = true` if the link is meant to cross clouds"),
            );
        }
    }
    diags
}

/// Each scope entry is `group:<key>` of a group the source gets, or `user:<upn>`.
fn check_scope(
    link: &Link,
    source: Option<&str>,
    groups: Option<BTreeSet<String>>,
    diags: &mut Diagnostics,
) {
    let invalid = |message: String, span: Span| {
        Diagnostic::error(
            Code::InvalidLink,
            format!("link `{}`: {message}", link.name),
        )
        .at(span)
    };
    for entry in &link.scope {
        match (ScopeRef::parse(&entry.value), &groups, source) {
            (None, _, _) => diags.push(invalid(
                format!(
                    "scope entry \"{}\" is neither \"group:<key>\" nor \"user:<upn>\"",
                    entry.value
                ),
                entry.span,
            )),
            (Some(ScopeRef::Group(key)), Some(groups), Some(source)) if !groups.contains(&key) => {
                let mut d = invalid(
                    format!(
                        "scope group `{key}` is not a group of the source {source} (its baselines declare none by that key)"
                    ),
                    entry.span,
                );
                if let Some(s) =
                    crate::source::model::did_you_mean(&key, groups.iter().map(String::as_str))
                {
                    d = d.help(format!("did you mean \"group:{s}\"?"));
                }
                diags.push(d);
            }
            _ => {}
        }
    }
}
