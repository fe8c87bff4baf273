//! The HTML fleet dashboard (`tenantform report`): a static, self-contained site, one
//! `index.html` overview plus a page per tenant, with inline CSS, a few lines of inline script
//! for the filters, and a hand-written SVG chart; nothing is fetched when it is viewed.
//!
//! Input: a [`FleetStatus`]. Output: [`Page`]s (a path under the site and its HTML), which the
//! CLI writes. Rendering is pure and deterministic: the only times shown come from the inputs.
//!
//! The overview lists tenants worst first, [`PAGE_SIZE`] per page (`index.html`,
//! `tenants-2.html`, …), each page with its own tenants × controls matrix; the fleet-wide
//! summaries (states, rings, controls, runs) are on `index.html`. 5,000 tenants stay well under
//! 2 MB per page.

mod overview;
mod tenant;

use std::fmt::Write as _;

use crate::report::fleet::{ControlState, FleetStatus, TenantState};

/// Tenants per overview page.
pub const PAGE_SIZE: usize = 250;

/// One file of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Path under the site's directory, with `/` separators (`tenants/<id>.html`).
    pub path: String,
    /// The whole document.
    pub html: String,
}

/// Every page of the dashboard.
pub fn site(status: &FleetStatus) -> Vec<Page> {
    let mut pages = overview::pages(status);
    for t in &status.tenants {
        pages.push(Page {
            path: tenant_path(&t.id),
            html: tenant::page(status, t),
        });
    }
    pages
}

/// The page of a tenant, relative to the site's root.
pub(crate) fn tenant_path(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("tenants/{safe}.html")
}

/// Text made safe for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A tenant state as a badge: text first (readable without colour), colour from its class.
pub(crate) fn state_badge(state: TenantState) -> String {
    format!(
        "<span class=\"badge s-{}\">{}</span>",
        state.slug(),
        state.label()
    )
}

/// A control state's text with its colour class.
pub(crate) fn control_class(state: ControlState) -> String {
    format!("c-{}", state.slug())
}

const STYLE: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa;
--failed:#a40e26;--failed-bg:#ffebe9;--drifted:#8a4600;--drifted-bg:#fff1e5;
--pending:#7d4e00;--pending-bg:#fff8c5;--never:#57606a;--never-bg:#eaeef2;
--ok:#116329;--ok-bg:#dafbe1;--report:#0550ae;--report-bg:#ddf4ff}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;padding:1rem;max-width:110rem}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
a{color:#0969da}
.muted,.note{color:var(--muted)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.3rem 0 1rem;font-size:.92rem}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0}
th[scope=row]{font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .45rem;border-radius:.7rem;font-weight:600;white-space:nowrap;border:1px solid currentColor}
.s-failed,.c-failed{color:var(--failed);background:var(--failed-bg)}
.s-drifted,.c-drifted{color:var(--drifted);background:var(--drifted-bg)}
.s-pending,.c-pending{color:var(--pending);background:var(--pending-bg)}
.s-never-deployed,.c-not-deployed,.c-disabled{color:var(--never);background:var(--never-bg)}
.s-in-sync,.c-enforced{color:var(--ok);background:var(--ok-bg)}
.c-report-only{color:var(--report);background:var(--report-bg)}
.c-skipped{color:var(--muted);background:repeating-linear-gradient(45deg,#fff,#fff 4px,#eaeef2 4px,#eaeef2 8px)}
.c-none{color:var(--muted)}
.matrix td{white-space:nowrap;font-size:.85rem}
.cards{display:flex;flex-wrap:wrap;gap:.5rem;padding:0;margin:.5rem 0;list-style:none}
.cards li{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .8rem;min-width:8.5rem}
.cards b{display:block;font-size:1.4rem}
form.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end;margin:.5rem 0}
form.filters label{display:flex;flex-direction:column;font-size:.85rem}
select,button{font:inherit;padding:.2rem}
pre.diff{background:var(--head);border:1px solid var(--line);padding:.5rem;overflow-x:auto;font-size:.85rem;white-space:pre-wrap;word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
nav.pager ul{display:flex;flex-wrap:wrap;gap:.4rem;list-style:none;padding:0}
.chart{width:100%;max-width:60rem;height:auto;border:1px solid var(--line)}
.chart .ok{fill:#2da44e}.chart .bad{fill:#cf222e}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.3rem}
@media (max-width:40rem){body{padding:.5rem;font-size:14px}dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:.4rem}
.cards li{min-width:45%}th,td{padding:.2rem .3rem}}
@media print{form.filters,nav.pager,.skip{display:none}body{max-width:none;padding:0;font-size:10pt}
a{color:inherit;text-decoration:none}thead th{position:static}tr,pre{break-inside:avoid}
.scroll{overflow:visible}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"#;

/// A whole document: head with the inline style, a skip link, the body given.
pub(crate) fn document(title: &str, root: &str, body: &str) -> String {
    let mut html = String::with_capacity(body.len() + STYLE.len() + 512);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"tenantform report\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <main id=\"main\" data-root=\"{}\">\n{body}</main>\n</body>\n</html>\n",
        esc(title),
        esc(root)
    );
    html
}

#[cfg(test)]
mod tests;
