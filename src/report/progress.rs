//! How plan and deploy show progress: on a terminal, indicatif bars (an overall bar with rate
//! and ETA, a line per active tenant, running counts); elsewhere, one plain line per finished
//! tenant; with `--format json`, one JSON event per line ([`crate::report::json::JsonLines`]).
//!
//! Input: plan and deploy [`Event`]s. Output: bars on stderr, or lines to an [`Output`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use crate::report::json::JsonLines;
use crate::report::{Counts, Event, Output, Reporter, TenantReport};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Bars on a terminal.
    Bars,
    /// Plain lines.
    Lines,
    /// JSON lines on stdout.
    Json,
    /// Nothing (the confirmation pre-plan).
    Quiet,
}

impl Style {
    /// Bars when stderr is a terminal, else plain lines.
    pub fn for_humans() -> Style {
        if std::io::stderr().is_terminal() {
            Style::Bars
        } else {
            Style::Lines
        }
    }
}

/// Most tenant lines shown under the overall bar.
const TENANT_LINES: usize = 8;

/// The reporter for a plan or deploy in `style`: JSON lines, or [`Progress`].
pub fn reporter(style: Style, verb: &'static str, output: Output) -> Box<dyn Reporter + Send> {
    match style {
        Style::Json => Box::new(JsonLines::new(output)),
        _ => Box::new(Progress::new(style, verb, output)),
    }
}

/// The plan/deploy reporter for people: bars on a terminal, lines elsewhere.
pub struct Progress {
    style: Style,
    output: Output,
    verb: &'static str,
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    tenant_bars: BTreeMap<String, ProgressBar>,
    totals: Counts,
    failed_tenants: usize,
    total: usize,
}

impl Progress {
    /// Progress in `style` (`Bars`, `Lines` or `Quiet`), for a run that does `verb`.
    pub fn new(style: Style, verb: &'static str, output: Output) -> Progress {
        Progress {
            style,
            output,
            verb,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)),
            overall: None,
            tenant_bars: BTreeMap::new(),
            totals: Counts::default(),
            failed_tenants: 0,
            total: 0,
        }
    }

    fn counts_text(&self) -> String {
        let c = &self.totals;
        format!(
            "{} created, {} updated, {} adopted, {} unchanged, {} failed",
            c.created, c.updated, c.adopted, c.unchanged, c.failed
        )
    }

    fn tenant_line(report: &TenantReport, plan_only: bool) -> String {
        let c = report.counts;
        let status = if report.ok { "ok    " } else { "FAILED" };
        if plan_only && report.plan.is_none() {
            // Plan prints the reason with the plan, on stdout: once is enough.
            return format!(
                "  {status}  {} ({}): not planned ({:.1} s)\n",
                report.name, report.id, report.seconds
            );
        }
        let what = if plan_only {
            format!(
                "{} to create, {} to update, {} to adopt, {} unchanged",
                c.created, c.updated, c.adopted, c.unchanged
            )
        } else {
            format!(
                "{} created, {} updated, {} adopted, {} unchanged{}{}",
                c.created,
                c.updated,
                c.adopted,
                c.unchanged,
                if c.deleted > 0 {
                    format!(", {} deleted", c.deleted)
                } else {
                    String::new()
                },
                if c.failed > 0 {
                    format!(", {} failed", c.failed)
                } else {
                    String::new()
                }
            )
        };
        let reason = report
            .reason
            .as_ref()
            .map(|r| format!("\n          {r}"))
            .unwrap_or_default();
        format!(
            "  {status}  {} ({}): {what} ({:.1} s){reason}\n",
            report.name, report.id, report.seconds
        )
    }
}

impl Reporter for Progress {
    fn event(&mut self, event: Event<'_>) {
        if self.style == Style::Quiet {
            return;
        }
        match event {
            Event::DeployStarted { tenants, .. } => {
                self.total = tenants;
                if self.style == Style::Bars {
                    let bar = self.multi.add(ProgressBar::new(tenants as u64));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} tenants ({per_sec}, ETA {eta})\n  {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_prefix(self.verb);
                    bar.enable_steady_tick(Duration::from_millis(125));
                    self.overall = Some(bar);
                }
            }
            Event::RingStarted { ring, tenants } if ring != "all" => {
                let noun = if tenants == 1 { "tenant" } else { "tenants" };
                let line = format!("ring {ring}: {tenants} {noun}\n");
                match &self.overall {
                    Some(bar) => bar.println(line.trim_end()),
                    None => self.output.err(&line),
                }
            }
            Event::TenantStarted { id, name }
                if self.style == Style::Bars && self.tenant_bars.len() < TENANT_LINES =>
            {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("    {spinner} {prefix}: {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name.to_string());
                bar.set_message("reading");
                self.tenant_bars.insert(id.to_string(), bar);
            }
            Event::ResourceApplied {
                tenant,
                key,
                action,
            } => {
                match action {
                    "created" => self.totals.created += 1,
                    "updated" => self.totals.updated += 1,
                    "adopted" => self.totals.adopted += 1,
                    "deleted" => self.totals.deleted += 1,
                    _ => self.totals.unchanged += 1,
                }
                if let Some(bar) = self.tenant_bars.get(tenant) {
                    bar.set_message(format!("{action} {key}"));
                    bar.tick();
                }
                if let Some(bar) = &self.overall {
                    bar.set_message(self.counts_text());
                }
            }
            Event::ResourceFailed { tenant, key, .. } => {
                self.totals.failed += 1;
                if let Some(bar) = self.tenant_bars.get(tenant) {
                    bar.set_message(format!("FAILED {key}"));
                }
            }
            Event::RequestRetried {
                tenant,
                key,
                status,
                reason,
                after,
            } => {
                if let Some(bar) = self.tenant_bars.get(tenant) {
                    bar.set_message(format!(
                        "retrying {key} in {:.1} s ({:?}, {})",
                        after.as_secs_f64(),
                        reason,
                        status.map_or("no response".to_string(), |s| format!("HTTP {s}"))
                    ));
                }
            }
            Event::LockWaiting { tenant, holder } => {
                let line = format!("tenant {tenant}: waiting for its lock, held by {holder}\n");
                match &self.overall {
                    Some(bar) => bar.println(line.trim_end()),
                    None => self.output.err(&line),
                }
            }
            Event::TenantFinished { report } => {
                if !report.ok {
                    self.failed_tenants += 1;
                }
                let plan_only = self.verb == "plan";
                let line = Self::tenant_line(report, plan_only);
                if let Some(bar) = self.tenant_bars.remove(&report.id) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                match &self.overall {
                    Some(bar) => {
                        bar.inc(1);
                        if !report.ok || self.total <= 50 {
                            bar.println(line.trim_end());
                        }
                    }
                    None if !report.ok || self.total <= 50 => self.output.err(&line),
                    None => {}
                }
            }
            Event::DeployFinished { .. } => {
                for (_, bar) in std::mem::take(&mut self.tenant_bars) {
                    bar.finish_and_clear();
                }
                if let Some(bar) = self.overall.take() {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}
