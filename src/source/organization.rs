//! Stage 1, `load` (organization): the checks of the project's multitenant organization that
//! need the whole project: the owner and every member are tenants of the project (by id or
//! name), the owner is not also listed as a member, and no tenant is listed twice. (One
//! organization per project is checked where the file is decoded.)
//!
//! Input: the [`ProjectSource`] with its decoded [`Organization`]. Output: [`Diagnostics`] at
//! the `file:line:col` of each problem, and [`tenants`] for the stages that compile it.

use std::collections::BTreeMap;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::source::links::find_tenant;
use crate::source::model::Sp;
use crate::source::model::organization::{Organization, UNIT};
use crate::source::project::ProjectSource;

/// The organization's owner and members as tenant ids (members in file order, each once),
/// when the owner and at least the members listed resolve; `None` without an organization or
/// an owner that is not a tenant of the project.
pub fn tenants(project: &ProjectSource) -> Option<(String, Vec<String>)> {
    let org = project.organization.as_ref()?;
    let owner = find_tenant(project, &org.owner.as_ref()?.value)?.id.clone();
    let mut members: Vec<String> = Vec::new();
    for written in &org.members {
        if let Some(t) = find_tenant(project, &written.value)
            && t.id != owner
            && !members.contains(&t.id)
        {
            members.push(t.id.clone());
        }
    }
    Some((owner, members))
}

fn unknown(project: &ProjectSource, role: &str, written: &Sp<String>) -> Diagnostic {
    let names: Vec<&str> = project.tenants.iter().map(|t| t.name.as_str()).collect();
    let mut d = Diagnostic::error(
        Code::InvalidOrganization,
        format!(
            "organization: {role} \"{}\" is not a tenant of the project (by id or name)",
            written.value
        ),
    )
    .at(written.span);
    if let Some(s) = crate::source::model::did_you_mean(&written.value, names) {
        d = d.help(format!("did you mean \"{s}\"?"));
    }
    d
}

/// Check the project's organization, if it declares one.
pub fn check(project: &ProjectSource) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(org) = &project.organization else {
        return diags;
    };
    check_organization(project, org, &mut diags);
    // Plans, reports and bundles name the organization's unit among the links.
    for link in &project.links {
        if link.name == UNIT {
            diags.push(
                Diagnostic::error(
                    Code::InvalidOrganization,
                    format!(
                        "a link named `{}` clashes with the organization, which plans and reports show under that name",
                        link.name
                    ),
                )
                .at(link.span)
                .note("the organization is declared here", org.span)
                .help("rename the link's file"),
            );
        }
    }
    diags
}

fn check_organization(project: &ProjectSource, org: &Organization, diags: &mut Diagnostics) {
    // Tenant id → where it was first written (owner or member).
    let mut seen: BTreeMap<String, (Span, &str)> = BTreeMap::new();
    if let Some(owner) = &org.owner {
        match find_tenant(project, &owner.value) {
            Some(t) => {
                seen.insert(t.id.clone(), (owner.span, "owner"));
            }
            None => diags.push(unknown(project, "owner", owner)),
        }
    }
    for member in &org.members {
        let Some(t) = find_tenant(project, &member.value) else {
            diags.push(unknown(project, "member", member));
            continue;
        };
        match seen.get(&t.id) {
            Some((first, "owner")) => diags.push(
                Diagnostic::error(
                    Code::InvalidOrganization,
                    format!(
                        "organization: the owner {} is also listed as a member",
                        t.name
                    ),
                )
                .at(member.span)
                .note("the owner is written here", *first)
                .help("the owner belongs to the organization already: remove it from `members`"),
            ),
            Some((first, _)) => diags.push(
                Diagnostic::error(
                    Code::InvalidOrganization,
                    format!("organization: member {} is listed twice", t.name),
                )
                .at(member.span)
                .note("first listed here", *first),
            ),
            None => {
                seen.insert(t.id.clone(), (member.span, "member"));
            }
        }
    }
}
