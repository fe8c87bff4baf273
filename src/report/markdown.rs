//! The markdown format: what a reviewer reads on a pull request (a comment, or a CI job
//! summary). A plan becomes a per-tenant counts table, warnings first (changes that can lock
//! people out, deletions with `--prune`, ambiguous matches, tenants that could not be planned),
//! then one collapsible `<details>` block per tenant with its property diffs in the plan's
//! notation (the same lines as [`crate::report::human`], object ids by their project names).
//!
//! Comments have a size limit (GitHub: 65,536 characters). The document is assembled from
//! whole pieces (a table row, a warning, a resource's diff) and never cut inside one: a piece
//! that does not fit is left out and counted ("12 more resources not shown"), so every code
//! fence and `<details>` block is closed. Each tenant gets a fair share of what is left after the
//! warnings and the table, so one large tenant cannot push every other tenant out.
//!
//! The helpers ([`table`], [`fence`], [`details`], [`Section`], [`fit_sections`], [`escape`])
//! are public so other documents (drift) render the same way.
//!
//! Input: a plan's [`DeploySummary`] (each tenant's [`TenantPlan`]). Output: markdown text.

use crate::live::plan::TenantPlan;
use crate::report::human::{orphan_text, plan_counts_text, plural, resource_text};
use crate::report::{DeploySummary, TenantReport};

/// GitHub's limit on the body of an issue or pull-request comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// The shortest limit a document can be fitted to: the title, the totals and the notes that
/// say what was left out always fit.
pub const MIN_LIMIT: usize = 2_000;

/// Room kept for the lines that say what was left out.
const NOTE_RESERVE: usize = 600;

/// Text for a table cell or inline markdown: `|`, `<`, `>`, `*`, `_`, `` ` ``, `[` and `]`
/// escaped, newlines as spaces, so a value never breaks the table or opens a tag.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '*' | '_' | '`' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// `text` as inline code, with a backtick run longer than any inside it.
pub fn code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!(
        "{ticks}{pad}{}{pad}{ticks}",
        text.replace(['\n', '\r'], " ")
    )
}

fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A markdown table: a header row, the alignment row (the columns whose indexes are in `right`
/// right-aligned, for numbers) and one row per entry. Cells are written as given: escape user
/// text with [`escape`] first.
pub fn table(headers: &[&str], right: &[usize], rows: &[Vec<String>]) -> String {
    let mut text = table_head(headers, right);
    for row in rows {
        text.push_str(&table_row(row));
    }
    text
}

/// The header and alignment rows of a [`table`].
pub fn table_head(headers: &[&str], right: &[usize]) -> String {
    let mut text = format!("| {} |\n|", headers.join(" | "));
    for i in 0..headers.len() {
        text.push_str(if right.contains(&i) {
            " ---: |"
        } else {
            " --- |"
        });
    }
    text.push('\n');
    text
}

/// One row of a [`table`].
pub fn table_row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// A fenced code block whose fence is longer than any backtick run in `body`, so nothing in it
/// can close it early. `lang` is the info string (`diff`, `text`).
pub fn fence(lang: &str, body: &str) -> String {
    let ticks = "`".repeat((longest_backtick_run(body) + 1).max(3));
    let mut text = format!("{ticks}{lang}\n{body}");
    if !body.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&ticks);
    text.push('\n');
    text
}

/// A collapsible block: `summary` (inline HTML; escape user text with [`escape`]) shown, `body`
/// (markdown) folded. Blank lines around the body let GitHub render the markdown inside.
pub fn details(summary: &str, body: &str) -> String {
    format!("<details><summary>{summary}</summary>\n\n{body}\n</details>\n\n")
}

/// Characters, as comment limits count them.
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// One tenant's collapsible diff, as whole pieces: [`fit_sections`] keeps as many pieces as fit
/// and says how many it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The `<summary>` line (inline HTML).
    pub summary: String,
    /// Markdown shown before the pieces (not cut), for example a warning.
    pub lead: String,
    /// The pieces, each a few lines of the fenced diff; never cut inside.
    pub pieces: Vec<String>,
    /// The info string of the fence around the pieces (`diff`).
    pub lang: &'static str,
    /// What a piece is, singular and plural (`resource`, `resources`).
    pub noun: (&'static str, &'static str),
    /// Where the rest can be seen, said when pieces are left out
    /// (`tenantform plan --tenant ID shows them all`).
    pub rest: String,
}

impl Section {
    /// The section with its first `kept` pieces.
    fn render(&self, kept: usize) -> String {
        let mut body = self.lead.clone();
        if kept > 0 {
            body.push_str(&fence(self.lang, &self.pieces[..kept].concat()));
        }
        let left_out = self.pieces.len() - kept;
        if left_out > 0 {
            body.push_str(&format!(
                "\n_{} not shown here (comment size limit); {}._\n",
                plural(
                    left_out,
                    &format!("more {}", self.noun.0),
                    &format!("more {}", self.noun.1)
                ),
                self.rest
            ));
        }
        details(&self.summary, &body)
    }

    /// The section whole.
    pub fn full(&self) -> String {
        self.render(self.pieces.len())
    }

    /// The section with as many pieces as fit in `budget` characters; `None` when not even its
    /// summary does.
    pub fn within(&self, budget: usize) -> Option<String> {
        let whole = self.full();
        if chars(&whole) <= budget {
            return Some(whole);
        }
        if chars(&self.render(0)) > budget {
            return None;
        }
        // The length grows with every piece kept (a piece is at least a line): the largest
        // prefix that fits, by bisection.
        let (mut fits, mut too_many) = (0, self.pieces.len());
        while too_many - fits > 1 {
            let mid = fits + (too_many - fits) / 2;
            if chars(&self.render(mid)) <= budget {
                fits = mid;
            } else {
                too_many = mid;
            }
        }
        Some(self.render(fits))
    }
}

/// What [`fit_sections`] made of the sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The sections that fit, in their order.
    pub text: String,
    /// Sections shown with some of their pieces left out.
    pub shortened: usize,
    /// Sections left out entirely (not even their summary fit).
    pub dropped: usize,
}

/// Every section within `budget` characters in all, in their order: each gets a fair share
/// (the smallest take what they need, the rest split what remains); a section over its share
/// keeps the pieces that fit and says how many it left out; one that does not fit at all is
/// counted.
pub fn fit_sections(sections: &[Section], budget: usize) -> Fitted {
    let sizes: Vec<usize> = sections.iter().map(|s| chars(&s.full())).collect();
    // Max-min fair shares: in order of size, each takes its size or an equal share of the rest.
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|&i| (sizes[i], i));
    let mut shares = vec![0; sections.len()];
    let mut left = budget;
    for (n, &i) in order.iter().enumerate() {
        let share = left / (sections.len() - n);
        shares[i] = sizes[i].min(share);
        left -= shares[i];
    }
    let mut fitted = Fitted {
        text: String::new(),
        shortened: 0,
        dropped: 0,
    };
    for (i, section) in sections.iter().enumerate() {
        match section.within(shares[i]) {
            Some(s) => {
                if shares[i] < sizes[i] {
                    fitted.shortened += 1;
                }
                fitted.text.push_str(&s);
            }
            None => fitted.dropped += 1,
        }
    }
    fitted
}

/// Lines added while they fit in `budget`; the rest counted. Returns the text and how many
/// lines were left out.
pub fn fit_lines(lines: &[String], budget: usize) -> (String, usize) {
    let mut text = String::new();
    let mut used = 0;
    for (i, line) in lines.iter().enumerate() {
        let n = chars(line);
        if used + n > budget {
            return (text, lines.len() - i);
        }
        used += n;
        text.push_str(line);
    }
    (text, 0)
}

/// The plan of a run as markdown for a pull request, at most `limit` characters (at least
/// [`MIN_LIMIT`]).
pub fn plan_markdown(summary: &DeploySummary, limit: usize) -> String {
    let limit = limit.max(MIN_LIMIT);
    let planned: Vec<(&TenantReport, &TenantPlan)> = summary
        .tenants
        .iter()
        .filter(|t| t.ok)
        .filter_map(|t| t.plan.as_ref().map(|p| (t, p)))
        .collect();
    let failed: Vec<&TenantReport> = summary
        .tenants
        .iter()
        .filter(|t| !t.ok || t.plan.is_none())
        .collect();

    // Totals.
    let mut totals = (0, 0, 0, 0, 0, 0);
    for (_, p) in &planned {
        let (c, u, a, n, x) = p.counts();
        totals = (
            totals.0 + c,
            totals.1 + u,
            totals.2 + a,
            totals.3 + n,
            totals.4 + x,
            totals.5 + p.orphans.len(),
        );
    }
    let changed = planned.iter().filter(|(_, p)| !p.is_empty()).count();
    let mut head = String::from("## tenantform plan\n\n");
    head.push_str(&format!(
        "**{}**, {} with changes: {} to create, {} to update, {} to adopt, {} unchanged{}{}{}.\n\n",
        plural(summary.tenants.len(), "tenant", "tenants"),
        changed,
        totals.0,
        totals.1,
        totals.2,
        totals.3,
        if totals.4 > 0 {
            format!(", {} ambiguous", totals.4)
        } else {
            String::new()
        },
        if totals.5 > 0 {
            format!(
                ", {} orphaned (deleted only with `deploy --prune`)",
                totals.5
            )
        } else {
            String::new()
        },
        if failed.is_empty() {
            String::new()
        } else {
            format!("; **{} could not be planned**", failed.len())
        }
    ));

    // Warnings, most serious first.
    let mut lockout = Vec::new();
    let mut deletions = Vec::new();
    let mut other = Vec::new();
    for t in &failed {
        other.push(format!(
            "- **{}** ({}): not planned: {}\n",
            escape(&t.name),
            code(&t.id),
            escape(t.reason.as_deref().unwrap_or("unknown"))
        ));
    }
    for (t, p) in &planned {
        for risk in &p.risks {
            lockout.push(format!(
                "- **{}**: {} ({}) {}\n",
                escape(&t.name),
                code(&risk.key),
                risk.kind,
                escape(&risk.describe(&p.names))
            ));
        }
        for o in &p.orphans {
            deletions.push(format!(
                "- **{}**: {} ({}, {}) is no longer in the baselines: `deploy --prune` deletes it\n",
                escape(&t.name),
                code(&o.key),
                o.kind.as_deref().unwrap_or("kind unknown"),
                code(&o.object_id)
            ));
        }
        for r in &p.resources {
            if let crate::live::plan::Action::Ambiguous { object_ids } = &r.action {
                other.push(format!(
                    "- **{}**: {} ({}) matches {} objects by key; deploy refuses to guess until one is removed or renamed\n",
                    escape(&t.name),
                    code(&r.key),
                    r.kind,
                    object_ids.len()
                ));
            }
        }
    }
    let mut warnings = Vec::new();
    if !lockout.is_empty() {
        warnings.push(format!(
            "> [!CAUTION]\n> **{} can lock people out.** Check each before approving.\n\n",
            plural(lockout.len(), "change", "changes")
        ));
        warnings.append(&mut lockout);
        warnings.push("\n".into());
    }
    if !deletions.is_empty() {
        warnings.push(format!(
            "> [!WARNING]\n> **{} would be deleted** by `deploy --prune`.\n\n",
            plural(deletions.len(), "object", "objects")
        ));
        warnings.append(&mut deletions);
        warnings.push("\n".into());
    }
    if !other.is_empty() {
        warnings.push(format!(
            "> [!WARNING]\n> **{} to look at.**\n\n",
            plural(other.len(), "tenant or resource", "tenants or resources")
        ));
        warnings.append(&mut other);
        warnings.push("\n".into());
    }

    // The counts table.
    let headers = [
        "Tenant",
        "Ring",
        "Create",
        "Update",
        "Adopt",
        "Unchanged",
        "Orphans",
        "Status",
    ];
    let mut rows = Vec::new();
    for t in &summary.tenants {
        let cells = match (&t.plan, t.ok) {
            (Some(p), true) => {
                let (c, u, a, n, x) = p.counts();
                let status = if x > 0 {
                    format!("{x} ambiguous")
                } else if p.is_empty() {
                    "no changes".into()
                } else {
                    "changes".into()
                };
                vec![
                    format!("{} ({})", escape(&t.name), code(&t.id)),
                    escape(&t.ring),
                    c.to_string(),
                    u.to_string(),
                    a.to_string(),
                    n.to_string(),
                    p.orphans.len().to_string(),
                    status,
                ]
            }
            _ => vec![
                format!("{} ({})", escape(&t.name), code(&t.id)),
                escape(&t.ring),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "**not planned**".into(),
            ],
        };
        rows.push(table_row(&cells));
    }

    // The diffs, one collapsible section per tenant with changes or orphans.
    let sections: Vec<Section> = planned
        .iter()
        .filter(|(_, p)| !p.is_empty() || !p.orphans.is_empty())
        .map(|(t, p)| {
            let mut pieces: Vec<String> = p
                .resources
                .iter()
                .filter_map(|r| resource_text(r, &p.names, false, ""))
                .collect();
            pieces.extend(p.orphans.iter().map(|o| orphan_text(o, "")));
            let counts = plan_counts_text(&t.name, p);
            let counts = counts.trim_end();
            Section {
                summary: format!(
                    "<b>{}</b>{}",
                    escape(counts),
                    if p.risks.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ⚠️ {}",
                            plural(p.risks.len(), "lockout risk", "lockout risks")
                        )
                    }
                ),
                lead: String::new(),
                pieces,
                lang: "diff",
                noun: ("resource", "resources"),
                rest: format!(
                    "`tenantform plan --tenant {}` shows them all",
                    t.id.replace('`', "")
                ),
            }
        })
        .collect();

    // Assemble within the limit: head, then warnings (up to half of what is left), the table
    // (up to what leaves the diffs a share), then the diffs.
    let mut text = head;
    let mut left = limit.saturating_sub(chars(&text) + NOTE_RESERVE);
    let (shown, cut) = fit_lines(&warnings, left / 2);
    left -= chars(&shown);
    text.push_str(&shown);
    let mut notes = Vec::new();
    if cut > 0 {
        notes.push(format!(
            "{} not shown",
            plural(cut, "warning line", "warning lines")
        ));
    }
    // Links, each as one unit (few per project; cut by lines like the warnings).
    let link_lines: Vec<String> = super::links::link_plans_markdown(&summary.link_plans)
        .split_inclusive('\n')
        .map(str::to_string)
        .collect();
    let (shown, cut) = fit_lines(&link_lines, left / 2);
    left -= chars(&shown);
    text.push_str(&shown);
    if cut > 0 {
        notes.push(format!(
            "{} not shown",
            plural(cut, "link plan line", "link plan lines")
        ));
    }
    text.push_str("### Tenants\n\n");
    let head_row = table_head(&headers, &[2, 3, 4, 5, 6]);
    text.push_str(&head_row);
    left = left.saturating_sub(chars("### Tenants\n\n") + chars(&head_row));
    let table_budget = if sections.is_empty() {
        left
    } else {
        left * 2 / 3
    };
    let (shown, cut) = fit_lines(&rows, table_budget);
    left -= chars(&shown);
    text.push_str(&shown);
    text.push('\n');
    if cut > 0 {
        notes.push(format!(
            "{} not shown in the table",
            plural(cut, "tenant", "tenants")
        ));
    }
    if !sections.is_empty() {
        let heading = "### Changes\n\n";
        text.push_str(heading);
        left = left.saturating_sub(chars(heading));
        let fitted = fit_sections(&sections, left);
        text.push_str(&fitted.text);
        if fitted.shortened > 0 {
            notes.push(format!(
                "the changes of {} shortened",
                plural(fitted.shortened, "tenant", "tenants")
            ));
        }
        if fitted.dropped > 0 {
            notes.push(format!(
                "the changes of {} not shown",
                plural(fitted.dropped, "tenant", "tenants")
            ));
        }
    }
    if !notes.is_empty() {
        text.push_str(&format!(
            "> [!NOTE]\n> Shortened to fit the comment size limit ({limit} characters): {}. The full plan is in the plan file (`tenantform plan --out`) or `tenantform plan`.\n",
            notes.join("; ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::names::ObjectNames;
    use crate::live::normalize::Change;
    use crate::live::plan::{Action, Orphan, PlannedResource};
    use crate::live::risk::{Risk, RiskKind};
    use crate::report::Counts;
    use serde_json::json;

    fn resource(key: &str, action: Action) -> PlannedResource {
        PlannedResource {
            key: key.into(),
            kind: "conditionalAccessPolicy",
            action,
            live_hash: None,
        }
    }

    fn update(pointer: &str, live: serde_json::Value, desired: serde_json::Value) -> Action {
        Action::Update {
            object_id: Some("p-1".into()),
            changes: vec![Change {
                pointer: pointer.into(),
                desired: Some(desired),
                live: Some(live),
            }],
        }
    }

    fn tenant(i: usize, resources: Vec<PlannedResource>) -> TenantReport {
        let mut names = ObjectNames::new();
        names.insert("g-1", "group", "emergency-access");
        TenantReport {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            name: format!("Tenant {i}"),
            ring: "pilot".into(),
            ok: true,
            counts: Counts::default(),
            reason: None,
            failures: Vec::new(),
            skipped: Vec::new(),
            plan: Some(TenantPlan {
                tenant: format!("00000000-0000-4000-8000-{i:012}"),
                bundle_hash: String::new(),
                live_fingerprint: String::new(),
                resources,
                orphans: Vec::new(),
                names,
                risks: Vec::new(),
                drifted: Vec::new(),
            }),
            drift: None,
            snapshot_files: None,
            evidence: None,
            seconds: 0.0,
        }
    }

    fn summary(tenants: Vec<TenantReport>) -> DeploySummary {
        DeploySummary {
            run_id: None,
            tenants,
            not_started: Vec::new(),
            stopped: None,
            seconds: 0.0,
            requests: 0,
            batched: 0,
            batches: 0,
            retries: 0,
            throttled: 0,
            links: Vec::new(),
            link_plans: Vec::new(),
        }
    }

    /// Every fence opened is closed, every `<details>` too, and nothing follows an open one.
    fn assert_well_formed(text: &str) {
        let mut open_fence: Option<String> = None;
        let mut details = 0i64;
        for line in text.lines() {
            let ticks: String = line.chars().take_while(|c| *c == '`').collect();
            match &open_fence {
                Some(f) if line.trim_end() == f => open_fence = None,
                Some(_) => continue,
                None if ticks.len() >= 3 => open_fence = Some(ticks),
                None => {}
            }
            details += line.matches("<details>").count() as i64;
            details -= line.matches("</details>").count() as i64;
            assert!(details >= 0, "{text}");
        }
        assert!(open_fence.is_none(), "an open fence:\n{text}");
        assert_eq!(details, 0, "an open details block:\n{text}");
    }

    #[test]
    fn a_plan_has_totals_a_table_and_a_diff_per_tenant_with_names() {
        let mut risky = tenant(
            1,
            vec![
                resource("ca-new", Action::Create),
                resource(
                    "ca-mfa",
                    update("/conditions/users/excludeGroups", json!(["g-1"]), json!([])),
                ),
                resource("ca-same", Action::NoOp { object_id: None }),
            ],
        );
        if let Some(p) = risky.plan.as_mut() {
            p.risks.push(Risk {
                key: "ca-mfa".into(),
                kind: "conditionalAccessPolicy",
                risk: RiskKind::ExclusionRemoved {
                    removed: vec!["g-1".into()],
                },
            });
            p.orphans.push(Orphan {
                key: "old-policy".into(),
                object_id: "o-1".into(),
                kind: Some("conditionalAccessPolicy".into()),
            });
        }
        let quiet = tenant(
            2,
            vec![resource("ca-same", Action::NoOp { object_id: None })],
        );
        let mut failed = tenant(3, Vec::new());
        failed.ok = false;
        failed.plan = None;
        failed.reason = Some("sign-in failed: AADSTS7000215 | bad secret".into());
        let text = plan_markdown(&summary(vec![risky, quiet, failed]), GITHUB_COMMENT_LIMIT);
        assert_well_formed(&text);
        assert!(text.starts_with("## tenantform plan\n\n**3 tenants**, 1 with changes: 1 to create, 1 to update, 0 to adopt, 2 unchanged, 1 orphaned"), "{text}");
        assert!(text.contains("**1 could not be planned**"), "{text}");
        assert!(
            text.contains("> **1 change can lock people out.**"),
            "{text}"
        );
        assert!(
            text.contains("removes the emergency-access exclusion: no longer excludes group:emergency-access (g-1)"),
            "{text}"
        );
        assert!(
            text.contains("> **1 object would be deleted** by `deploy --prune`."),
            "{text}"
        );
        // A reason with a `|` does not break the table or the list.
        assert!(
            text.contains("not planned: sign-in failed: AADSTS7000215 \\| bad secret"),
            "{text}"
        );
        assert!(text.contains("| Tenant 2 (`00000000-0000-4000-8000-000000000002`) | pilot | 0 | 0 | 0 | 1 | 0 | no changes |"), "{text}");
        assert!(text.contains("| **not planned** |"), "{text}");
        // One details block: only the tenant with changes, in the plan's notation.
        assert_eq!(text.matches("<details>").count(), 1, "{text}");
        assert!(text.contains("```diff\n+ ca-new"), "{text}");
        assert!(
            text.contains(
                "    /conditions/users/excludeGroups: [\"group:emergency-access (g-1)\"] -> []\n"
            ),
            "{text}"
        );
        assert!(text.contains("- old-policy"), "{text}");
        assert!(text.contains("⚠️ 1 lockout risk"), "{text}");
        assert!(!text.contains("Shortened"), "{text}");
    }

    #[test]
    fn a_large_fleet_is_cut_per_tenant_never_inside_a_block_and_says_what_was_left_out() {
        let long = "x".repeat(70);
        let tenants: Vec<TenantReport> = (0..40)
            .map(|i| {
                let n = if i == 0 { 2_000 } else { 30 };
                tenant(
                    i,
                    (0..n)
                        .map(|k| {
                            resource(
                                &format!("policy-{k}"),
                                update("/displayName", json!(long), json!(format!("{long}`{k}"))),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        let text = plan_markdown(&summary(tenants), GITHUB_COMMENT_LIMIT);
        assert!(chars(&text) <= GITHUB_COMMENT_LIMIT, "{}", chars(&text));
        assert_well_formed(&text);
        // Every tenant keeps its section: the large one does not push the others out.
        assert_eq!(text.matches("<details>").count(), 40, "{text}");
        assert!(text.contains("more resources not shown here (comment size limit); `tenantform plan --tenant 00000000-0000-4000-8000-000000000000` shows them all"), "{text}");
        assert!(
            text.contains("Shortened to fit the comment size limit (65536 characters): the changes of 40 tenants shortened."),
            "{text}"
        );
        // A tighter limit still fits, still well formed.
        let small = plan_markdown(
            &summary(vec![tenant(1, vec![resource("a", Action::Create); 500])]),
            3_000,
        );
        assert!(chars(&small) <= 3_000, "{}", chars(&small));
        assert_well_formed(&small);
    }

    #[test]
    fn thousands_of_tenants_shorten_the_table_and_count_the_rest() {
        let tenants: Vec<TenantReport> = (0..3_000)
            .map(|i| tenant(i, vec![resource("ca-new", Action::Create)]))
            .collect();
        let text = plan_markdown(&summary(tenants), GITHUB_COMMENT_LIMIT);
        assert!(chars(&text) <= GITHUB_COMMENT_LIMIT, "{}", chars(&text));
        assert_well_formed(&text);
        assert!(text.contains("tenants not shown in the table"), "{text}");
        assert!(!text.contains("| Tenant 2999 "), "{text}");
    }

    #[test]
    fn fences_and_code_outlast_the_backticks_inside_them() {
        assert_eq!(fence("diff", "a ``` b\n"), "````diff\na ``` b\n````\n");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(escape("a|b<c>"), "a\\|b&lt;c&gt;");
        assert_eq!(
            table(&["A", "N"], &[1], &[vec!["x".into(), "1".into()]]),
            "| A | N |\n| --- | ---: |\n| x | 1 |\n"
        );
    }
}
