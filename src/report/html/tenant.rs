//! A tenant's page (`tenants/<id>.html`): its facts and state, its controls, its resources with
//! their state and the last run that applied each, the pending changes in the plan's notation
//! (`~ key kind`, `pointer: live -> desired`, object ids by their project names), its orphans,
//! its overrides with reasons and expiry, and its runs.
//!
//! Input: a [`TenantStatus`] (and the fleet, for its title). Output: HTML.

use std::fmt::Write as _;

use super::{control_class, document, esc, state_badge};
use crate::report::fleet::{ControlState, FleetStatus, TenantStatus};
use crate::report::human::change_text;

fn facts(t: &TenantStatus) -> String {
    let mut html = String::from("<dl class=\"facts\">");
    let mut fact = |name: &str, value: String| {
        let _ = write!(html, "<dt>{name}</dt><dd>{value}</dd>");
    };
    fact("State", state_badge(t.state));
    fact("Why", esc(&t.detail));
    if let Some(since) = &t.since {
        fact("Observed", esc(since));
    }
    fact("Tenant id", format!("<code>{}</code>", esc(&t.id)));
    fact("Ring", esc(&t.ring));
    fact(
        "Tags",
        if t.tags.is_empty() {
            "none".into()
        } else {
            esc(&t.tags.join(", "))
        },
    );
    fact("Baselines", esc(&t.baselines.join(", ")));
    html.push_str("</dl>\n");
    html
}

fn controls(t: &TenantStatus) -> String {
    let mut html = String::from("<h2 id=\"controls\">Controls</h2>\n");
    if t.controls.is_empty() {
        html.push_str("<p>Its baselines map no controls.</p>\n");
        return html;
    }
    html.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Control</th><th scope=\"col\">State</th><th scope=\"col\">Why</th><th scope=\"col\">Resources</th></tr></thead><tbody>\n");
    for (id, c) in &t.controls {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            control_class(c.state),
            c.state.label(),
            esc(c.reason.as_deref().unwrap_or("")),
            esc(&c.resources.join(", "))
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn resources(t: &TenantStatus) -> String {
    let mut html = String::from(
        "<h2 id=\"resources\">Resources</h2>\n<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Resource</th><th scope=\"col\">Kind</th><th scope=\"col\">State</th><th scope=\"col\">Controls</th><th scope=\"col\">Object</th><th scope=\"col\">Last applied</th></tr></thead><tbody>\n",
    );
    for r in &t.resources {
        let state = match (&r.state, &r.planned, &r.reason) {
            (ControlState::Pending, Some(p), _) => format!("pending: {}", p.verb),
            (_, _, Some(reason)) => format!("{}: {}", r.state.label(), esc(reason)),
            _ => r.state.label().to_string(),
        };
        let applied = match &r.applied {
            Some(a) => format!(
                "{} in run {} at {}",
                esc(&a.action),
                esc(&a.run_id),
                esc(&a.at)
            ),
            None => "never".into(),
        };
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"{}\">{state}</td><td>{}</td><td>{}</td><td>{applied}</td></tr>",
            esc(&r.key),
            esc(&r.kind),
            control_class(r.state),
            esc(&r.controls.join(", ")),
            r.object_id
                .as_deref()
                .map(|id| format!("<code>{}</code>", esc(id)))
                .unwrap_or_default(),
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn changes(t: &TenantStatus) -> String {
    let pending: Vec<_> = t.resources.iter().filter(|r| r.planned.is_some()).collect();
    let mut html = String::from("<h2 id=\"changes\">Changes pending</h2>\n");
    if pending.is_empty() && t.orphans.is_empty() {
        html.push_str("<p>None: the last plan has nothing to change (or there is no plan newer than the last run).</p>\n");
        return html;
    }
    html.push_str("<p class=\"note\">In the plan's notation: <code>+</code> create, <code>~</code> update, <code>=</code> adopt, <code>!</code> ambiguous, <code>-</code> orphan; each property as <code>pointer: live -&gt; desired</code>.</p>\n<pre class=\"diff\">");
    for r in pending {
        let Some(p) = &r.planned else { continue };
        let mut text = format!("{} {:<44} {}\n", p.sign, r.key, r.kind);
        if p.verb == "adopt"
            && let Some(id) = &r.object_id
        {
            text.push_str(&format!("    adopts existing object {id}\n"));
        }
        for c in &p.changes {
            text.push_str(&format!("    {}\n", change_text(c, &t.names, true)));
        }
        if !p.object_ids.is_empty() {
            text.push_str(&format!(
                "    {} objects match by key: {}\n",
                p.object_ids.len(),
                p.object_ids.join(", ")
            ));
        }
        html.push_str(&esc(&text));
    }
    for o in &t.orphans {
        html.push_str(&esc(&format!(
            "- {:<44} orphan {} (deleted only with deploy --prune)\n",
            o.key, o.object_id
        )));
    }
    html.push_str("</pre>\n");
    html
}

fn drift(t: &TenantStatus) -> String {
    let Some(drift) = &t.drift else {
        return String::new();
    };
    let mut html = format!(
        "<h2 id=\"drift\">Drift</h2>\n<p>Found by <code>tenantform drift</code> at {}.</p>\n",
        esc(&drift.at)
    );
    if drift.items.is_empty() {
        html.push_str("<p>None: the tenant is as its baselines say.</p>\n");
        return html;
    }
    html.push_str("<p class=\"note\"><code>~</code> modified, <code>-</code> missing, <code>!</code> ambiguous, <code>=</code> accepted by an override, <code>&gt;</code> pending baseline change, <code>+</code> not deployed, <code>?</code> orphaned or unmanaged; each property as <code>pointer: baseline -&gt; tenant</code>, then who changed it and when.</p>\n<pre class=\"diff\">");
    for item in &drift.items {
        html.push_str(&esc(&crate::report::drift::item_lines(
            item, &t.names, true, "",
        )));
    }
    html.push_str("</pre>\n");
    html
}

fn overrides(t: &TenantStatus) -> String {
    let mut html = String::from("<h2 id=\"overrides\">Overrides</h2>\n");
    if t.overrides.is_empty() {
        html.push_str("<p>None.</p>\n");
        return html;
    }
    html.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Resource</th><th scope=\"col\">Effect</th><th scope=\"col\">Reason</th><th scope=\"col\">Expires</th></tr></thead><tbody>\n");
    for o in &t.overrides {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.resource),
            if o.skip {
                "skipped"
            } else {
                "variables changed"
            },
            esc(&o.reason),
            match &o.expires {
                Some(e) if o.expired =>
                    format!("<strong class=\"c-failed\">{} (EXPIRED)</strong>", esc(e)),
                Some(e) => esc(e),
                None => "never".into(),
            }
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn runs(t: &TenantStatus) -> String {
    let mut html = String::from("<h2 id=\"runs\">Runs</h2>\n");
    if t.runs.is_empty() {
        html.push_str("<p>No deploy run has this tenant.</p>\n");
        return html;
    }
    html.push_str("<div class=\"scroll\"><table><caption>Newest first (the last 20)</caption><thead><tr><th scope=\"col\">Run</th><th scope=\"col\">Finished</th><th scope=\"col\">Outcome</th><th scope=\"col\" class=\"num\">Applied</th><th scope=\"col\" class=\"num\">Requests</th><th scope=\"col\">Why</th></tr></thead><tbody>\n");
    for r in t.runs.iter().take(20) {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\"><a href=\"../index.html#run-{id}\">{id}</a></th><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(r.at.as_deref().unwrap_or("-")),
            match r.ok {
                Some(true) => "c-enforced",
                _ => "c-failed",
            },
            r.outcome(),
            r.applied,
            r.requests,
            esc(r.reason.as_deref().unwrap_or("")),
            id = esc(&r.run_id),
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

/// The page of one tenant.
pub(super) fn page(status: &FleetStatus, t: &TenantStatus) -> String {
    let mut body = format!(
        "<nav aria-label=\"Breadcrumb\"><a href=\"../index.html\">{}: fleet report</a></nav>\n<h1>{} <span class=\"muted\">({})</span></h1>\n",
        esc(&status.project),
        esc(&t.name),
        esc(&t.id)
    );
    body.push_str(&facts(t));
    body.push_str(&drift(t));
    body.push_str(&changes(t));
    body.push_str(&controls(t));
    body.push_str(&resources(t));
    body.push_str(&overrides(t));
    body.push_str(&runs(t));
    document(
        &format!("{} ({}): {}", t.name, t.state.label(), status.project),
        "../",
        &body,
    )
}
