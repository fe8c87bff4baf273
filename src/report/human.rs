//! The human format: what a person reads in a terminal or a CI log. Diagnostics rustc-style
//! (no colours), compile progress lines, the plan of a tenant property by property (`+ ~ = !`
//! and `-` for orphans), and the closing summary of a deploy.
//!
//! Input: [`Diagnostic`]s with their [`SourceMap`], compile [`Event`]s, [`TenantPlan`]s and
//! [`DeploySummary`]s. Output: text, written to an [`Output`] or returned.

use std::fmt::Write as _;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::live::plan::{Action, TenantPlan};
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
                self.output.err(&format!(
                    "  ok      {} ({}): {}{target}\n",
                    outcome.name,
                    outcome.id,
                    plural(outcome.operations, "operation", "operations")
                ));
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
        Action::Ambiguous { .. } => "!",
    }
}

fn show(value: &Option<serde_json::Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                format!("{}…", text.chars().take(80).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// The plan of one tenant for people (with `detail`, property by property).
pub fn plan_text(name: &str, plan: &TenantPlan, detail: bool) -> String {
    let (create, update, adopt, unchanged, ambiguous) = plan.counts();
    let mut text = format!(
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
    );
    if !detail {
        return text;
    }
    for r in &plan.resources {
        if matches!(r.action, Action::NoOp { .. }) {
            continue;
        }
        text.push_str(&format!("  {} {:<44} {}\n", sign(&r.action), r.key, r.kind));
        match &r.action {
            Action::Update { changes, .. } | Action::Adopt { changes, .. } => {
                if let Action::Adopt { object_id, .. } = &r.action {
                    text.push_str(&format!("      adopts existing object {object_id}\n"));
                }
                for c in changes {
                    text.push_str(&format!(
                        "      {}: {} -> {}\n",
                        c.pointer,
                        show(&c.live),
                        show(&c.desired)
                    ));
                }
            }
            Action::Ambiguous { object_ids } => text.push_str(&format!(
                "      {} objects match by key: {}\n",
                object_ids.len(),
                object_ids.join(", ")
            )),
            _ => {}
        }
    }
    for o in &plan.orphans {
        text.push_str(&format!(
            "  - {:<44} orphan {} (deleted only with deploy --prune)\n",
            o.key, o.object_id
        ));
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
    let mut text = format!(
        "deploy: {ok} of {} tenants converged in {:.1} s: {} created, {} updated, {} adopted, {} unchanged, {} deleted, {} failed ({} requests, {} of them in {} $batch calls; {} retries, {} throttled)\n",
        summary.tenants.len() + summary.not_started.len(),
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
