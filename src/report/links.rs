//! Cross-tenant synchronization links in a plan, for people: each link as one unit (both
//! tenants' steps together under the link's name, in the order deploy runs them: target
//! first), as text (`plan`) and as Markdown (`plan --format markdown`). The JSON plan carries
//! the same [`LinkPlan`]s as they are.
//!
//! Input: [`LinkPlan`]s. Output: text.

use super::outcome::{LinkPlan, LinkStepAction, LinkStepPlan};

/// `+ 3 to create, ~ 1 to update, > 1 to start, = 5 unchanged` counts of a link.
fn counts(plan: &LinkPlan) -> (usize, usize, usize, usize) {
    let n = |a: LinkStepAction| plan.steps.iter().filter(|s| s.action == a).count();
    (
        n(LinkStepAction::Create),
        n(LinkStepAction::Update),
        n(LinkStepAction::Start),
        n(LinkStepAction::Unchanged),
    )
}

/// The step's name within its link and side (`assign/group:sync-staff`).
fn short(step: &LinkStepPlan) -> &str {
    step.step.splitn(3, '/').nth(2).unwrap_or(&step.step)
}

fn headline(plan: &LinkPlan) -> String {
    let (c, u, s, n) = counts(plan);
    let mut parts = Vec::new();
    if c > 0 {
        parts.push(format!("{c} to create"));
    }
    if u > 0 {
        parts.push(format!("{u} to update"));
    }
    if s > 0 {
        parts.push("the job to start".to_string());
    }
    parts.push(format!("{n} unchanged"));
    parts.join(", ")
}

/// One link for people: a head line with the ends and the counts, then each tenant's steps in
/// order with a sign (`+` create, `~` update, `>` start, `=` exists as wanted) and what
/// differs.
pub fn link_plan_text(plan: &LinkPlan) -> String {
    // The multitenant organization's unit has an owner and members, not two ends.
    let mut text = if plan.target.is_empty() {
        format!(
            "{}: owner {} ({})",
            plan.link, plan.source_name, plan.source
        )
    } else {
        format!(
            "link {}: {} ({}) -> {} ({})",
            plan.link, plan.source_name, plan.source, plan.target_name, plan.target
        )
    };
    if plan.steps.is_empty()
        && let Some(e) = &plan.error
    {
        text.push_str(&format!(": NOT PLANNED: {e}\n"));
        return text;
    }
    text.push_str(&format!(": {}\n", headline(plan)));
    let mut side = "";
    for (i, step) in plan.steps.iter().enumerate() {
        if step.side != side {
            side = &step.side;
            match side {
                "target" => text.push_str(&format!("  target {}:\n", plan.target_name)),
                "member" => text.push_str("  members:\n"),
                _ => text.push_str(&format!("  {side} {}:\n", plan.source_name)),
            }
        }
        text.push_str(&format!(
            "    {:>2}. {} {} ({}){}\n",
            i + 1,
            step.action.sign(),
            short(step),
            step.kind,
            step.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ));
    }
    if let Some(e) = &plan.error {
        text.push_str(&format!("  NOT PLANNED past this point: {e}\n"));
    }
    text
}

/// Every link for people, and a total line (empty when there are no links).
pub fn link_plans_text(plans: &[LinkPlan]) -> String {
    if plans.is_empty() {
        return String::new();
    }
    let mut text = String::new();
    for plan in plans {
        text.push_str(&link_plan_text(plan));
    }
    let changed = plans.iter().filter(|p| !p.is_empty()).count();
    let failed = plans.iter().filter(|p| p.error.is_some()).count();
    text.push_str(&format!(
        "links: {} {}, {changed} with changes{}\n",
        plans.len(),
        if plans.len() == 1 { "link" } else { "links" },
        if failed > 0 {
            format!(", {failed} could not be planned")
        } else {
            String::new()
        }
    ));
    text
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Every link as Markdown: a section per link with a table of its steps in order.
pub fn link_plans_markdown(plans: &[LinkPlan]) -> String {
    if plans.is_empty() {
        return String::new();
    }
    let mut md = String::from("### Cross-tenant synchronization links\n\n");
    for plan in plans {
        if plan.target.is_empty() {
            md.push_str(&format!(
                "#### `{}`: owner {}\n\n",
                plan.link,
                cell(&plan.source_name)
            ));
        } else {
            md.push_str(&format!(
                "#### `{}`: {} → {}\n\n",
                plan.link,
                cell(&plan.source_name),
                cell(&plan.target_name)
            ));
        }
        if plan.steps.is_empty() {
            if let Some(e) = &plan.error {
                md.push_str(&format!("Not planned: {}\n\n", cell(e)));
            }
            continue;
        }
        md.push_str(&format!("{}.\n\n", headline(plan)));
        md.push_str("| # | Tenant | Step | Kind | Action | Detail |\n|---|---|---|---|---|---|\n");
        for (i, step) in plan.steps.iter().enumerate() {
            let tenant = match step.side.as_str() {
                "target" => &plan.target_name,
                "member" => &step.tenant,
                _ => &plan.source_name,
            };
            md.push_str(&format!(
                "| {} | {} ({}) | `{}` | {} | {} | {} |\n",
                i + 1,
                cell(tenant),
                step.side,
                short(step),
                step.kind,
                match step.action {
                    LinkStepAction::Create => "create",
                    LinkStepAction::Update => "update",
                    LinkStepAction::Start => "start",
                    LinkStepAction::Unchanged => "exists",
                },
                cell(step.detail.as_deref().unwrap_or(""))
            ));
        }
        if let Some(e) = &plan.error {
            md.push_str(&format!("\nNot planned past this point: {}\n", cell(e)));
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(side: &str, name: &str, action: LinkStepAction) -> LinkStepPlan {
        LinkStepPlan {
            step: format!("l/{side}/{name}"),
            side: side.into(),
            tenant: side.into(),
            kind: "k".into(),
            action,
            detail: None,
        }
    }

    fn plan() -> LinkPlan {
        LinkPlan {
            link: "l".into(),
            source: "s-id".into(),
            source_name: "Hub".into(),
            target: "t-id".into(),
            target_name: "Spoke".into(),
            steps: vec![
                step("target", "partner", LinkStepAction::Unchanged),
                step("source", "configuration-app", LinkStepAction::Create),
                step("source", "assign/group:a", LinkStepAction::Create),
                step("source", "start", LinkStepAction::Start),
            ],
            error: None,
        }
    }

    #[test]
    fn a_link_reads_as_one_unit_with_both_tenants_in_order() {
        let text = link_plan_text(&plan());
        assert_eq!(
            text,
            "link l: Hub (s-id) -> Spoke (t-id): 2 to create, the job to start, 1 unchanged\n  target Spoke:\n     1. = partner (k)\n  source Hub:\n     2. + configuration-app (k)\n     3. + assign/group:a (k)\n     4. > start (k)\n"
        );
        assert!(link_plans_text(&[plan()]).ends_with("links: 1 link, 1 with changes\n"));
    }

    #[test]
    fn markdown_has_a_row_per_step_in_order() {
        let md = link_plans_markdown(&[plan()]);
        assert!(
            md.contains("| 1 | Spoke (target) | `partner` | k | exists |  |"),
            "{md}"
        );
        assert!(
            md.contains("| 4 | Hub (source) | `start` | k | start |  |"),
            "{md}"
        );
    }

    #[test]
    fn a_link_that_could_not_be_planned_says_why() {
        let mut p = plan();
        p.steps.clear();
        p.error = Some("not run: tenant x".into());
        assert!(link_plan_text(&p).ends_with(": NOT PLANNED: not run: tenant x\n"));
        assert!(link_plans_text(&[p]).contains("1 could not be planned"));
    }

    #[test]
    fn the_organization_shows_its_owner_and_members_not_two_ends() {
        let plan = LinkPlan {
            link: "organization".into(),
            source: "o-id".into(),
            source_name: "Hub".into(),
            target: String::new(),
            target_name: String::new(),
            steps: vec![
                step("owner", "organization", LinkStepAction::Create),
                step("member", "North/join-request", LinkStepAction::Unchanged),
            ],
            error: None,
        };
        let text = link_plan_text(&plan);
        assert!(
            text.starts_with("organization: owner Hub (o-id): 1 to create, 1 unchanged\n"),
            "{text}"
        );
        assert!(
            text.contains("  owner Hub:\n") && text.contains("  members:\n"),
            "{text}"
        );
        assert!(!text.contains("->"), "{text}");
        let md = link_plans_markdown(&[plan]);
        assert!(md.contains("#### `organization`: owner Hub"), "{md}");
        assert!(md.contains("| member (member) |"), "{md}");
    }
}
