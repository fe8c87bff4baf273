//! The overview pages: `index.html` (fleet summary, filters, the first tenants with their
//! controls matrix, the controls summary, the run timeline, the sources) and `tenants-N.html`
//! for the following tenants.
//!
//! Input: a [`FleetStatus`]. Output: the overview [`Page`]s.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{PAGE_SIZE, Page, control_class, document, esc, state_badge, tenant_path};
use crate::report::fleet::{ControlState, FleetStatus, TenantState, TenantStatus};

/// The listing page `n` (from 1).
fn page_path(n: usize) -> String {
    if n == 1 {
        "index.html".into()
    } else {
        format!("tenants-{n}.html")
    }
}

/// Filters (shown only when scripts run: without them every row is shown); `?ring=`, `?tag=`
/// and `?state=` in the address preselect them, so a filtered view can be linked.
const FILTER_SCRIPT: &str = r#"<script>
(function(){var f=document.getElementById('filters');if(!f)return;f.hidden=false;
function apply(){var r=f.ring.value,t=f.tag.value,s=f.state.value,n=0,all=0;
document.querySelectorAll('tr[data-ring]').forEach(function(row){
var ok=(!r||row.dataset.ring===r)&&(!s||row.dataset.state===s)&&(!t||(' '+row.dataset.tags+' ').indexOf(' '+t+' ')>=0);
row.hidden=!ok;if(row.closest('#tenants')){all++;if(ok)n++;}});
document.getElementById('shown').textContent=n+' of '+all+' tenants on this page shown';}
var q=new URLSearchParams(location.search);['ring','tag','state'].forEach(function(k){if(q.has(k))f[k].value=q.get(k);});
f.addEventListener('change',apply);f.addEventListener('reset',function(){setTimeout(apply,0);});apply();})();
</script>
"#;

fn options(values: impl IntoIterator<Item = (String, String)>) -> String {
    let mut out = String::from("<option value=\"\">all</option>");
    for (value, label) in values {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            esc(&value),
            esc(&label)
        );
    }
    out
}

/// The states the overview shows: drifted only when drift input says a tenant is.
fn states(status: &FleetStatus) -> Vec<TenantState> {
    TenantState::ALL
        .into_iter()
        .filter(|s| *s != TenantState::Drifted || status.tenants.iter().any(|t| t.state == *s))
        .collect()
}

fn filters(status: &FleetStatus) -> String {
    let rings: std::collections::BTreeSet<&str> =
        status.tenants.iter().map(|t| t.ring.as_str()).collect();
    let tags: std::collections::BTreeSet<&str> = status
        .tenants
        .iter()
        .flat_map(|t| t.tags.iter().map(String::as_str))
        .collect();
    format!(
        "<form id=\"filters\" class=\"filters\" hidden aria-label=\"Filter tenants\">\
         <label>Ring<select name=\"ring\">{}</select></label>\
         <label>Tag<select name=\"tag\">{}</select></label>\
         <label>State<select name=\"state\">{}</select></label>\
         <button type=\"reset\">Clear</button>\
         <output id=\"shown\" aria-live=\"polite\"></output></form>\n",
        options(rings.iter().map(|r| (r.to_string(), r.to_string()))),
        options(tags.iter().map(|t| (t.to_string(), t.to_string()))),
        options(
            states(status)
                .iter()
                .map(|s| (s.slug().to_string(), s.label().to_string()))
        ),
    )
}

fn row_attrs(t: &TenantStatus) -> String {
    format!(
        "data-ring=\"{}\" data-tags=\"{}\" data-state=\"{}\"",
        esc(&t.ring),
        esc(&t.tags.join(" ")),
        t.state.slug()
    )
}

fn tenant_link(t: &TenantStatus) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        esc(&tenant_path(&t.id)),
        esc(&t.name)
    )
}

fn summary(status: &FleetStatus) -> String {
    let mut by_state: BTreeMap<TenantState, usize> = BTreeMap::new();
    let mut by_ring: BTreeMap<&str, BTreeMap<TenantState, usize>> = BTreeMap::new();
    for t in &status.tenants {
        *by_state.entry(t.state).or_default() += 1;
        *by_ring
            .entry(t.ring.as_str())
            .or_default()
            .entry(t.state)
            .or_default() += 1;
    }
    let mut html = String::from("<h2 id=\"summary\">Fleet</h2>\n<ul class=\"cards\">");
    let _ = write!(html, "<li><b>{}</b>tenants</li>", status.tenants.len());
    let shown = states(status);
    for &s in &shown {
        let _ = write!(
            html,
            "<li class=\"s-{}\"><b>{}</b>{}</li>",
            s.slug(),
            by_state.get(&s).copied().unwrap_or(0),
            s.label()
        );
    }
    html.push_str("</ul>\n<div class=\"scroll\"><table><caption>Tenants per ring and state</caption><thead><tr><th scope=\"col\">Ring</th>");
    for &s in &shown {
        let _ = write!(html, "<th scope=\"col\" class=\"num\">{}</th>", s.label());
    }
    html.push_str("</tr></thead><tbody>");
    for (ring, counts) in &by_ring {
        let _ = write!(html, "<tr><th scope=\"row\">{}</th>", esc(ring));
        for &s in &shown {
            let _ = write!(
                html,
                "<td class=\"num\">{}</td>",
                counts.get(&s).copied().unwrap_or(0)
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn tenants_table(tenants: &[TenantStatus]) -> String {
    let mut html = String::with_capacity(tenants.len() * 400);
    html.push_str(
        "<div class=\"scroll\"><table id=\"tenants\"><caption>Tenants, worst state first</caption><thead><tr>\
         <th scope=\"col\">Tenant</th><th scope=\"col\">Ring</th><th scope=\"col\">Baselines</th>\
         <th scope=\"col\">State</th><th scope=\"col\">Last run</th><th scope=\"col\">Overrides (nearest expiry)</th>\
         </tr></thead><tbody>\n",
    );
    for t in tenants {
        let last = match t.last_run() {
            Some(r) => format!(
                "{} {}",
                esc(r.at.as_deref().unwrap_or(&r.run_id)),
                r.outcome()
            ),
            None => "none".into(),
        };
        let overrides = match (t.overrides.len(), t.nearest_expiry()) {
            (0, _) => "0".to_string(),
            (n, Some(o)) => format!(
                "{n} ({}{})",
                esc(o.expires.as_deref().unwrap_or_default()),
                if o.expired { ", EXPIRED" } else { "" }
            ),
            (n, None) => n.to_string(),
        };
        let _ = writeln!(
            html,
            "<tr {}><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{last}</td><td>{overrides}</td></tr>",
            row_attrs(t),
            tenant_link(t),
            esc(&t.ring),
            esc(&t.baselines.join(", ")),
            state_badge(t.state),
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

/// The tenants × controls matrix of these tenants; skipped cells point at their reason below.
fn matrix(controls: &[String], tenants: &[TenantStatus]) -> String {
    if controls.is_empty() {
        return "<p class=\"note\">The tenants' baselines map no controls (a resource's <code>controls</code> lists the SCuBA or CIS ids it implements).</p>\n".into();
    }
    let mut reasons: Vec<&str> = Vec::new();
    let mut html = String::with_capacity(tenants.len() * controls.len() * 40);
    html.push_str("<div class=\"scroll\"><table class=\"matrix\" id=\"matrix\"><caption>Controls per tenant: enforced, report-only, skipped (with the override's reason), pending, failed, not deployed; a dash where the tenant's baselines do not map the control</caption><thead><tr><th scope=\"col\">Tenant</th>");
    for c in controls {
        let _ = write!(html, "<th scope=\"col\">{}</th>", esc(c));
    }
    html.push_str("</tr></thead><tbody>\n");
    for t in tenants {
        let _ = write!(
            html,
            "<tr {}><th scope=\"row\">{}</th>",
            row_attrs(t),
            tenant_link(t)
        );
        for c in controls {
            match t.controls.get(c) {
                None => html.push_str("<td class=\"c-none\">–</td>"),
                Some(cs) if cs.state == ControlState::Skipped => {
                    let reason = cs.reason.as_deref().unwrap_or("no reason given");
                    let n = match reasons.iter().position(|r| *r == reason) {
                        Some(i) => i + 1,
                        None => {
                            reasons.push(reason);
                            reasons.len()
                        }
                    };
                    let _ = write!(
                        html,
                        "<td class=\"c-skipped\">skipped <a href=\"#reason-{n}\">[{n}]</a></td>"
                    );
                }
                Some(cs) => {
                    let _ = write!(
                        html,
                        "<td class=\"{}\">{}</td>",
                        control_class(cs.state),
                        cs.state.label()
                    );
                }
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
    if !reasons.is_empty() {
        html.push_str("<h3>Why controls are skipped</h3>\n<ol class=\"reasons\">");
        for (i, r) in reasons.iter().enumerate() {
            let _ = write!(html, "<li id=\"reason-{}\">{}</li>", i + 1, esc(r));
        }
        html.push_str("</ol>\n");
    }
    html
}

fn controls_summary(status: &FleetStatus) -> String {
    if status.controls.is_empty() {
        return String::new();
    }
    const COLUMNS: [ControlState; 8] = [
        ControlState::Enforced,
        ControlState::ReportOnly,
        ControlState::Skipped,
        ControlState::Pending,
        ControlState::Drifted,
        ControlState::Failed,
        ControlState::NotDeployed,
        ControlState::Disabled,
    ];
    let mut html = String::from(
        "<h2 id=\"controls\">Controls across the fleet</h2>\n<div class=\"scroll\"><table><caption>Tenants per control and state</caption><thead><tr><th scope=\"col\">Control</th>",
    );
    for s in COLUMNS {
        let _ = write!(html, "<th scope=\"col\" class=\"num\">{}</th>", s.label());
    }
    html.push_str("<th scope=\"col\" class=\"num\">not mapped</th></tr></thead><tbody>\n");
    for c in &status.controls {
        let mut counts: BTreeMap<ControlState, usize> = BTreeMap::new();
        let mut none = 0;
        for t in &status.tenants {
            match t.controls.get(c) {
                Some(cs) => *counts.entry(cs.state).or_default() += 1,
                None => none += 1,
            }
        }
        let _ = write!(html, "<tr><th scope=\"row\">{}</th>", esc(c));
        for s in COLUMNS {
            let n = counts.get(&s).copied().unwrap_or(0);
            if n > 0 {
                let _ = write!(html, "<td class=\"num {}\">{n}</td>", control_class(s));
            } else {
                html.push_str("<td class=\"num\">0</td>");
            }
        }
        let _ = writeln!(html, "<td class=\"num\">{none}</td></tr>");
    }
    html.push_str("</tbody></table></div>\n");
    html
}

/// The run history: a bar per run (height: tenants; red: failed ones) and the same as a table.
fn timeline(status: &FleetStatus) -> String {
    let mut html = String::from("<h2 id=\"runs\">Run history</h2>\n");
    if status.runs.is_empty() {
        html.push_str(
            "<p>No deploy run yet (runs are read from <code>.tenantform/runs/</code>).</p>\n",
        );
        return html;
    }
    const SHOWN: usize = 100;
    let runs = &status.runs[status.runs.len().saturating_sub(SHOWN)..];
    let max = runs.iter().map(|r| r.tenants).max().unwrap_or(1).max(1);
    let (w, h) = (12usize, 100usize);
    let width = runs.len() * w + 4;
    let failed_runs = runs.iter().filter(|r| r.failed > 0 || !r.finished).count();
    let _ = write!(
        html,
        "<svg class=\"chart\" viewBox=\"0 0 {width} {}\" role=\"img\" aria-label=\"{} runs, oldest first; {failed_runs} with failed or unfinished tenants\" preserveAspectRatio=\"xMinYMax meet\">",
        h + 4,
        runs.len()
    );
    for (i, r) in runs.iter().enumerate() {
        let x = 2 + i * w;
        let total = r.tenants * h / max;
        let bad = r.failed * h / max;
        let _ = write!(
            html,
            "<g><title>{}: {} tenants, {} failed, {} requests</title><rect class=\"ok\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            esc(&r.run_id),
            r.tenants,
            r.failed,
            r.requests,
            2 + h - total,
            w - 2,
            total.saturating_sub(bad)
        );
        if bad > 0 {
            let _ = write!(
                html,
                "<rect class=\"bad\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{bad}\"/>",
                2 + h - bad,
                w - 2
            );
        }
        html.push_str("</g>");
    }
    html.push_str("</svg>\n");
    let _ = writeln!(
        html,
        "<div class=\"scroll\"><table id=\"run-table\"><caption>The last {} runs, newest first</caption><thead><tr><th scope=\"col\">Run</th><th scope=\"col\">Started</th><th scope=\"col\" class=\"num\">Duration (s)</th><th scope=\"col\" class=\"num\">Tenants</th><th scope=\"col\" class=\"num\">Failed</th><th scope=\"col\" class=\"num\">Requests</th><th scope=\"col\">Outcome</th></tr></thead><tbody>",
        runs.len()
    );
    for r in runs.iter().rev() {
        let outcome = if let Some(e) = &r.error {
            format!("UNREADABLE: {}", esc(e))
        } else if !r.finished {
            "interrupted".into()
        } else if r.failed > 0 {
            "FAILED".into()
        } else {
            "ok".into()
        };
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\" id=\"run-{id}\">{id}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{outcome}</td></tr>",
            esc(r.started.as_deref().unwrap_or("-")),
            r.seconds.map_or("-".to_string(), |s| format!("{s:.1}")),
            r.tenants,
            r.failed,
            r.requests,
            id = esc(&r.run_id),
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn pager(current: usize, pages: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let mut html = String::from("<nav class=\"pager\" aria-label=\"Tenant pages\"><ul>");
    for n in 1..=pages {
        if n == current {
            let _ = write!(html, "<li><strong aria-current=\"page\">{n}</strong></li>");
        } else {
            let _ = write!(html, "<li><a href=\"{}\">{n}</a></li>", page_path(n));
        }
    }
    html.push_str("</ul></nav>\n");
    html
}

fn header(status: &FleetStatus) -> String {
    let mut html = format!(
        "<h1>{}: fleet report</h1>\n<p>{}</p>\n",
        esc(&status.project),
        match &status.generated_at {
            Some(at) => format!("As of {} (the newest input).", esc(at)),
            None => "No plan or deploy run yet: the project only.".into(),
        }
    );
    html
        .push_str("<nav aria-label=\"Sections\"><a href=\"index.html#summary\">Fleet</a> · <a href=\"index.html#tenant-list\">Tenants</a> · <a href=\"index.html#matrix-heading\">Controls matrix</a> · <a href=\"index.html#controls\">Controls</a> · <a href=\"index.html#runs\">Runs</a></nav>\n");
    html
}

/// Every overview page.
pub(super) fn pages(status: &FleetStatus) -> Vec<Page> {
    let chunks: Vec<&[TenantStatus]> = if status.tenants.is_empty() {
        vec![&[]]
    } else {
        status.tenants.chunks(PAGE_SIZE).collect()
    };
    let count = chunks.len();
    let mut pages = Vec::with_capacity(count);
    for (i, tenants) in chunks.iter().enumerate() {
        let n = i + 1;
        let mut body = header(status);
        if n == 1 {
            body.push_str(&summary(status));
        }
        let first = i * PAGE_SIZE + 1;
        let _ = writeln!(
            body,
            "<h2 id=\"tenant-list\">Tenants{}</h2>",
            if count > 1 {
                format!(
                    " {first}–{} of {} (page {n} of {count})",
                    first + tenants.len() - 1,
                    status.tenants.len()
                )
            } else {
                String::new()
            }
        );
        body.push_str(&filters(status));
        body.push_str(&pager(n, count));
        body.push_str(&tenants_table(tenants));
        body.push_str("<h2 id=\"matrix-heading\">Controls matrix</h2>\n");
        body.push_str(&matrix(&status.controls, tenants));
        body.push_str(&pager(n, count));
        if n == 1 {
            body.push_str(&controls_summary(status));
            body.push_str(&timeline(status));
            body.push_str("<h2 id=\"sources\">Sources</h2>\n<ul>");
            if status.sources.is_empty() {
                body.push_str("<li>the project only</li>");
            }
            for s in &status.sources {
                let _ = write!(body, "<li>{}</li>", esc(s));
            }
            body.push_str("</ul>\n");
        }
        body.push_str(FILTER_SCRIPT);
        pages.push(Page {
            path: page_path(n),
            html: document(&format!("{}: fleet report", status.project), "", &body),
        });
    }
    pages
}
