//! The human format: what a person reads in a terminal or a CI log. Diagnostics rustc-style
//! (no colours), compile progress lines, the plan of a tenant property by property (`+ ~ = !`
//! and `-` for orphans, object ids by their project names), what changed since a saved plan,
//! and the closing summary of a deploy.
//!
//! Input: [`Diagnostic`]s with their [`SourceMap`], compile [`Event`]s, [`TenantPlan`]s and
//! [`DeploySummary`]s. Output: text, written to an [`Output`] or returned.

use std::fmt::Write as _;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::live::names::ObjectNames;
use crate::live::normalize::Change;
use crate::live::plan::{Action, Orphan, PlannedResource, TenantPlan};
use crate::live::stale::{ChangedSince, Since};
use crate::report::{Counts, DeploySummary, Event, Output, Reporter};
use crate::source::SourceMap;

const TENANTS_SHOWN: usize = 3;

/// `tenant a`, `tenants a, b`, `5 tenants (a, b, c, ...)`.
pub(crate) fn tenants_text(tenants: &[String]) -> Option<String> {
    match tenants.len() {
        0 => None,
        1 => Some(format!("tenant {}", tenants[0])),
        n if n <= TENANTS_SHOWN => Some(format!("tenants {}", tenants.join(", "))),
        n => Some(format!(
            "{n} tenants ({}, ...)",
            tenants[..TENANTS_SHOWN].join(", ")
        )),
    }
}

/// Render one diagnostic the way a person reads it (rustc style, no colours).
pub fn diagnostic_text(d: &Diagnostic, sources: &SourceMap) -> String {
    let mut out = String::new();
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{level}[{}]: {}", d.code, d.message);
    if let Some(span) = d.span {
        let loc = sources.location(span);
        let _ = writeln!(out, "  --> {loc}");
        let line_text = sources.file(span.file).line_text(loc.line);
        let gutter = loc.line.to_string().len();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{} | {}", loc.line, line_text);
        let caret_pad: String = line_text
            .chars()
            .take(loc.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = sources
            .slice(span)
            .lines()
            .next()
            .map_or(1, |s| s.chars().count().max(1));
        let _ = writeln!(out, "{:gutter$} | {caret_pad}{}", "", "^".repeat(width));
    }
    match d.pointer.as_deref() {
        Some("") => {
            let _ = writeln!(out, "   = at the top level of the rendered body");
        }
        Some(pointer) => {
            let _ = writeln!(out, "   = at {pointer} in the rendered body");
        }
        None => {}
    }
    if let Some(resource) = &d.resource {
        let _ = writeln!(out, "   = resource: {resource}");
    }
    if let Some(tenants) = tenants_text(&d.tenants) {
        let _ = writeln!(out, "   = in {tenants}");
    }
    if let Some(expected) = &d.expected {
        let _ = writeln!(out, "   = expected: {expected}");
    }
    for note in &d.notes {
        let _ = writeln!(
            out,
            "   = note: {} at {}",
            note.label,
            sources.location(note.span)
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "   = help: {help}");
    }
    out
}

/// Every diagnostic, one after the other.
pub fn diagnostics_text(diagnostics: &Diagnostics, sources: &SourceMap) -> String {
    let mut text = String::new();
    for d in diagnostics.iter() {
        text.push_str(&diagnostic_text(d, sources));
        text.push('\n');
    }
    text
}

/// "2 errors, 1 warning".
pub fn diagnostic_counts(diagnostics: &Diagnostics) -> String {
    format!(
        "{}, {}",
        plural(diagnostics.error_count(), "error", "errors"),
        plural(diagnostics.warning_count(), "warning", "warnings")
    )
}

/// A line per skipped resource, indented under its tenant: `skipped ca-user-risk: needs …`.
pub fn skip_lines(skipped: &[crate::report::Skip], indent: &str) -> String {
    skipped
        .iter()
        .map(|s| format!("{indent}skipped {}: {}\n", s.key, s.reason))
        .collect()
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Plain lines on stderr for people; per-tenant lines only for small fleets or `--verbose`.
pub struct CompileLines {
    output: Output,
    verbose: bool,
    total: usize,
}

impl CompileLines {
    /// Lines to `output`; every tenant with `verbose`, else only for fleets of 20 or fewer.
    pub fn new(output: Output, verbose: bool) -> CompileLines {
        CompileLines {
            output,
            verbose,
            total: 0,
        }
    }
}

impl Reporter for CompileLines {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::CompileStarted { tenants } => self.total = tenants,
            Event::TenantCompiled { outcome } if self.verbose || self.total <= 20 => {
                let target = outcome
                    .written
                    .as_ref()
                    .map(|p| format!(" -> {}", p.display()))
                    .unwrap_or_default();
                let skipped = match outcome.skipped.len() {
                    0 => String::new(),
                    n => format!(", {n} skipped"),
                };
                self.output.err(&format!(
                    "  ok      {} ({}): {}{skipped}{target}\n",
                    outcome.name,
                    outcome.id,
                    plural(outcome.operations, "operation", "operations")
                ));
                self.output.err(&skip_lines(&outcome.skipped, "          "));
            }
            Event::CompileFinished { assumed, .. } => {
                if let Some(note) = assumed.note() {
                    self.output.err(&note);
                }
            }
            Event::UnlistedBundleRemoved { path } => self.output.err(&format!(
                "  removed {}: an earlier bundle of a tenant this run cannot read (a tenants file has errors)\n",
                path.display()
            )),
            Event::TenantFailed { outcome, errors } => self.output.err(&format!(
                "  FAILED  {} ({}): {}{}\n",
                outcome.name,
                outcome.id,
                if errors == 0 {
                    "its baselines or tenant file have errors (below)".to_string()
                } else {
                    plural(errors, "error", "errors")
                },
                if outcome.removed_stale {
                    "; its bundle from an earlier run was removed"
                } else {
                    ""
                }
            )),
            _ => {}
        }
    }
}

fn sign(action: &Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update { .. } => "~",
        Action::Adopt { .. } => "=",
        Action::NoOp { .. } => " ",
        Action::Ambiguous { .. } | Action::Missing { .. } => "!",
    }
}

/// The longest value a plan shows whole without `-v`; longer ones are cut, with `…`.
const VALUE_WIDTH: usize = 80;

/// How much of a tenant's plan to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanDetail {
    /// The tenant's counts only.
    Counts,
    /// A line per resource that would change, values cut at 80 characters.
    Changes,
    /// A line per resource that would change, every value whole (`plan -v`).
    FullValues,
}

/// A value in the plan's diff notation: `(absent)`, or its JSON with the object ids the
/// project knows shown by name (`"group:emergency-access (85f2…)"`), cut unless `whole`.
pub fn value_text(value: &Option<serde_json::Value>, names: &ObjectNames, whole: bool) -> String {
    match value {
        None => "(absent)".into(),
        Some(v) => {
            let text = names.label(v).to_string();
            if !whole && text.chars().count() > VALUE_WIDTH {
                format!("{}…", text.chars().take(VALUE_WIDTH).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// [`value_text`] (the name the drift report uses).
pub fn show(value: &Option<serde_json::Value>, names: &ObjectNames, whole: bool) -> String {
    value_text(value, names, whole)
}

/// One property change in the plan's notation: `pointer: live -> desired`, object ids by their
/// project names, values cut at 80 characters unless `whole`.
pub fn change_text(change: &Change, names: &ObjectNames, whole: bool) -> String {
    format!(
        "{}: {} -> {}",
        change.pointer,
        show(&change.live, names, whole),
        show(&change.desired, names, whole)
    )
}

/// The plan's counts line of one tenant: `Contoso (id): 1 to create, ...`.
pub fn plan_counts_text(name: &str, plan: &TenantPlan) -> String {
    let (create, update, adopt, unchanged, ambiguous) = plan.counts();
    format!(
        "{name} ({}): {create} to create, {update} to update, {adopt} to adopt, {unchanged} unchanged{}{}\n",
        plan.tenant,
        if ambiguous > 0 {
            format!(", {ambiguous} ambiguous")
        } else {
            String::new()
        },
        if plan.orphans.is_empty() {
            String::new()
        } else {
            format!(", {} orphaned", plan.orphans.len())
        }
    )
}

/// One resource of a plan in the diff notation (`+ ~ = !`, then each changed property as
/// `pointer: live -> desired`), every line indented by `indent`; `None` when it is unchanged.
pub fn resource_text(
    r: &PlannedResource,
    names: &ObjectNames,
    whole: bool,
    indent: &str,
) -> Option<String> {
    if matches!(r.action, Action::NoOp { .. }) {
        return None;
    }
    let mut text = format!("{indent}{} {:<44} {}\n", sign(&r.action), r.key, r.kind);
    match &r.action {
        Action::Update { changes, .. } | Action::Adopt { changes, .. } => {
            if let Action::Adopt { object_id, .. } = &r.action {
                text.push_str(&format!("{indent}    adopts existing object {object_id}\n"));
            }
            for c in changes {
                text.push_str(&format!(
                    "{indent}    {}: {} -> {}\n",
                    c.pointer,
                    show(&c.live, names, whole),
                    show(&c.desired, names, whole)
                ));
            }
        }
        Action::Ambiguous { object_ids } => text.push_str(&format!(
            "{indent}    {} objects match by key: {}\n",
            object_ids.len(),
            object_ids.join(", ")
        )),
        Action::Missing { reason } => text.push_str(&format!("{indent}    {reason}\n")),
        _ => {}
    }
    Some(text)
}

/// What plan says after an update that undoes a change made outside tenantform.
pub const DRIFT_NOTE: &str = " (drift: changed outside tenantform since the last deploy)";

/// One orphan of a plan in the diff notation (`- key orphan id`), indented by `indent`.
pub fn orphan_text(o: &Orphan, indent: &str) -> String {
    format!(
        "{indent}- {:<44} orphan {} (deleted only with deploy --prune)\n",
        o.key, o.object_id
    )
}

/// The plan of one tenant for people: its counts, and with [`PlanDetail::Changes`] or
/// [`PlanDetail::FullValues`] each resource that would change, property by property.
pub fn plan_text(name: &str, plan: &TenantPlan, detail: PlanDetail) -> String {
    let mut text = plan_counts_text(name, plan);
    if detail == PlanDetail::Counts {
        return text;
    }
    let whole = detail == PlanDetail::FullValues;
    for r in &plan.resources {
        if let Some(mut lines) = resource_text(r, &plan.names, whole, "  ") {
            if plan.drifted.contains(&r.key)
                && let Some(end) = lines.find('\n')
            {
                lines.insert_str(end, DRIFT_NOTE);
            }
            text.push_str(&lines);
        }
    }
    for o in &plan.orphans {
        text.push_str(&orphan_text(o, "  "));
    }
    text
}

/// What changed in a tenant since a saved plan, in the plan's diff notation (the value the plan
/// saw `->` the value now), one resource after the other; for `deploy --plan`'s refusal.
pub fn changed_since_text(changed: &[ChangedSince], names: &ObjectNames) -> String {
    if changed.is_empty() {
        return "  a property the baselines do not set changed (the plan does not record which object it was on; make a new plan)\n".into();
    }
    let mut text = format!(
        "  {} since the plan (what the plan saw -> now):\n",
        plural(changed.len(), "object changed", "objects changed")
    );
    for c in changed {
        let object = c
            .object_id
            .as_deref()
            .map(|id| format!(" {id}"))
            .unwrap_or_default();
        let (sign, what) = match &c.since {
            Since::Appeared => ("+", "created since the plan"),
            Since::Disappeared => ("-", "deleted since the plan"),
            Since::Properties(_) => ("~", "changed"),
            Since::Unmanaged => ("~", "changed in properties the baselines do not set"),
        };
        text.push_str(&format!(
            "  {sign} {:<44} {}{object}: {what}\n",
            c.key, c.kind
        ));
        if let Since::Properties(differences) = &c.since {
            for d in differences {
                text.push_str(&format!(
                    "      {}: {} -> {}\n",
                    d.pointer,
                    show(&d.then, names, true),
                    show(&d.now, names, true)
                ));
            }
        }
    }
    text
}

/// The closing summary for people.
pub fn summary_text(summary: &DeploySummary) -> String {
    let ok = summary.tenants.iter().filter(|t| t.ok).count();
    let mut totals = Counts::default();
    for t in &summary.tenants {
        totals.created += t.counts.created;
        totals.updated += t.counts.updated;
        totals.adopted += t.counts.adopted;
        totals.unchanged += t.counts.unchanged;
        totals.deleted += t.counts.deleted;
        totals.failed += t.counts.failed;
    }
    let failed_tenants = summary.failed().count();
    let mut text = format!(
        "deploy: {ok} of {} tenants converged{} in {:.1} s; resources: {} created, {} updated, {} adopted, {} unchanged, {} deleted, {} failed ({} requests, {} of them in {} $batch calls; {} retries, {} throttled)\n",
        summary.tenants.len() + summary.not_started.len(),
        if failed_tenants > 0 {
            format!(", {failed_tenants} failed,")
        } else {
            String::new()
        },
        summary.seconds,
        totals.created,
        totals.updated,
        totals.adopted,
        totals.unchanged,
        totals.deleted,
        totals.failed,
        summary.requests,
        summary.batched,
        summary.batches,
        summary.retries,
        summary.throttled,
    );
    let mut failed: Vec<_> = summary.failed().collect();
    failed.sort_by(|a, b| a.name.cmp(&b.name));
    for t in failed {
        text.push_str(&format!(
            "  FAILED {} ({}): {}\n",
            t.name,
            t.id,
            t.reason.as_deref().unwrap_or("unknown")
        ));
        for f in t.failures.iter().skip(1).take(5) {
            text.push_str(&format!("         also {}: {}\n", f.key, f.reason));
        }
    }
    if let Some(stopped) = &summary.stopped {
        text.push_str(&format!("  STOPPED: {stopped}\n"));
    }
    if !summary.not_started.is_empty() {
        text.push_str(&format!(
            "  {} tenants not started{}\n",
            summary.not_started.len(),
            summary
                .run_id
                .as_ref()
                .map(|id| format!("; finish with: tenantform deploy --resume {id}"))
                .unwrap_or_default()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::normalize::Change;
    use crate::report::TenantReport;
    use serde_json::json;

    fn tenant(ok: bool, counts: Counts) -> TenantReport {
        TenantReport {
            id: "t1".into(),
            name: "Contoso".into(),
            ring: "pilot".into(),
            ok,
            counts,
            reason: (!ok).then(|| "sign-in failed".into()),
            failures: Vec::new(),
            skipped: Vec::new(),
            plan: None,
            drift: None,
            snapshot_files: None,
            evidence: None,
            seconds: 1.0,
        }
    }

    fn summary(tenants: Vec<TenantReport>) -> DeploySummary {
        DeploySummary {
            run_id: None,
            tenants,
            not_started: Vec::new(),
            stopped: None,
            seconds: 2.0,
            requests: 10,
            batched: 4,
            batches: 1,
            retries: 0,
            throttled: 0,
            links: Vec::new(),
            link_plans: Vec::new(),
        }
    }

    #[test]
    fn deploy_summary_counts_failed_tenants_apart_from_failed_resources() {
        let failed = Counts {
            failed: 2,
            created: 1,
            ..Counts::default()
        };
        let text = summary_text(&summary(vec![
            tenant(false, failed),
            tenant(true, Counts::default()),
        ]));
        let first = text.lines().next().expect("a line");
        assert!(
            first.starts_with(
                "deploy: 1 of 2 tenants converged, 1 failed, in 2.0 s; resources: 1 created,"
            ),
            "{first}"
        );
        assert!(first.contains("0 deleted, 2 failed ("), "{first}");
        let text = summary_text(&summary(vec![tenant(true, Counts::default())]));
        assert!(
            text.starts_with("deploy: 1 of 1 tenants converged in 2.0 s; resources:"),
            "{text}"
        );
    }

    #[test]
    fn plan_with_verbose_shows_long_values_whole() {
        let long = format!("\"{}\"", "x".repeat(150));
        let plan = TenantPlan {
            drifted: Vec::new(),
            tenant: "t1".into(),
            bundle_hash: String::new(),
            live_fingerprint: String::new(),
            resources: vec![PlannedResource {
                key: "app-consent".into(),
                kind: "authorizationPolicy",
                action: Action::Update {
                    object_id: None,
                    changes: vec![Change {
                        pointer: "/permissionGrantPolicyIdsAssignedToDefaultUserRole".into(),
                        desired: Some(serde_json::from_str(&long).expect("json")),
                        live: None,
                    }],
                },
                live_hash: None,
            }],
            orphans: Vec::new(),
            names: ObjectNames::new(),
            risks: Vec::new(),
        };
        let cut = plan_text("Contoso", &plan, PlanDetail::Changes);
        assert!(cut.contains('…'), "{cut}");
        assert!(!cut.contains(&long), "{cut}");
        let whole = plan_text("Contoso", &plan, PlanDetail::FullValues);
        assert!(whole.contains(&format!("(absent) -> {long}\n")), "{whole}");
        assert!(!whole.contains('…'), "{whole}");
        let counts = plan_text("Contoso", &plan, PlanDetail::Counts);
        assert_eq!(counts.lines().count(), 1, "{counts}");
    }

    #[test]
    fn stale_plan_text_shows_what_the_plan_saw_and_what_is_there_now() {
        use crate::live::stale::{ChangedSince, Difference, Since};
        let mut names = ObjectNames::new();
        names.insert("g-1", "group", "emergency-access");
        let text = changed_since_text(
            &[
                ChangedSince {
                    key: "ca-mfa-guests".into(),
                    kind: "conditionalAccessPolicy",
                    object_id: Some("p-1".into()),
                    since: Since::Properties(vec![Difference {
                        pointer: "/conditions/users/excludeGroups".into(),
                        then: Some(json!(["g-1"])),
                        now: None,
                    }]),
                },
                ChangedSince {
                    key: "trusted-offices".into(),
                    kind: "namedLocation",
                    object_id: Some("l-1".into()),
                    since: Since::Appeared,
                },
            ],
            &names,
        );
        assert!(text.contains("2 objects changed since the plan"), "{text}");
        assert!(
            text.contains(
                "/conditions/users/excludeGroups: [\"group:emergency-access (g-1)\"] -> (absent)"
            ),
            "{text}"
        );
        assert!(
            text.contains("namedLocation l-1: created since the plan"),
            "{text}"
        );
    }
}
