//! Shared command plumbing: load a project with its engine and schemas, print diagnostics in
//! the chosen format, and the human reporter for compile events.

use std::path::Path;

use tenantform::compile::render::Engine;
use tenantform::compile::validate::Schemas;
use tenantform::compile::{self, CompileOptions, CompileSummary};
use tenantform::diag::{self, Diagnostics};
use tenantform::report::{Event, Reporter, Silent};
use tenantform::source::project::{self, ProjectSource};

use super::{Format, err, exit, out};

/// A project ready to compile.
pub(crate) struct Loaded {
    pub(crate) project: ProjectSource,
    pub(crate) engine: Engine,
    pub(crate) schemas: &'static Schemas,
    /// Diagnostics of loading and template parsing.
    pub(crate) diagnostics: Diagnostics,
}

/// Load a project; a directory that is not a project is invalid input (exit 1).
pub(crate) fn load(dir: &Path) -> anyhow::Result<Result<Loaded, u8>> {
    let (project, mut diagnostics) = match project::load(dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(Err(exit::INVALID_INPUT));
        }
    };
    let (engine, template_diags) = Engine::new(&project);
    diagnostics.extend(template_diags);
    let schemas = Schemas::shared()?;
    Ok(Ok(Loaded {
        project,
        engine,
        schemas,
        diagnostics,
    }))
}

/// Print diagnostics (human to stderr; JSON and SARIF to stdout), with a count line for people.
pub(crate) fn print_diagnostics(
    format: Format,
    diagnostics: &Diagnostics,
    project: &ProjectSource,
) {
    let sources = &project.sources;
    match format {
        Format::Human => {
            let mut text = String::new();
            for d in diagnostics.iter() {
                text.push_str(&diag::render_human(d, sources));
                text.push('\n');
            }
            err(&text);
        }
        Format::Json => {
            let items: Vec<_> = diagnostics
                .iter()
                .map(|d| diag::to_json(d, sources))
                .collect();
            let doc = serde_json::json!({
                "errors": diagnostics.error_count(),
                "warnings": diagnostics.warning_count(),
                "diagnostics": items,
            });
            out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
        Format::Sarif => {
            let doc = diag::to_sarif(diagnostics, sources);
            out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "2 errors, 1 warning".
pub(crate) fn counts(diagnostics: &Diagnostics) -> String {
    format!(
        "{}, {}",
        plural(diagnostics.error_count(), "error", "errors"),
        plural(diagnostics.warning_count(), "warning", "warnings")
    )
}

/// Plain lines on stderr for people; per-tenant lines only for small fleets or `--verbose`.
pub(crate) struct HumanReporter {
    pub(crate) verbose: bool,
    pub(crate) total: usize,
}

impl Reporter for HumanReporter {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::CompileStarted { tenants } => self.total = tenants,
            Event::TenantCompiled { outcome } if self.verbose || self.total <= 20 => {
                let target = outcome
                    .written
                    .as_ref()
                    .map(|p| format!(" -> {}", p.display()))
                    .unwrap_or_default();
                err(&format!(
                    "  ok      {} ({}): {}{target}\n",
                    outcome.name,
                    outcome.id,
                    plural(outcome.operations, "operation", "operations")
                ));
            }
            Event::TenantFailed { outcome, errors } => err(&format!(
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

/// Run `compile` (or validate-only when `options.out_dir` is `None`) over a loaded project,
/// with progress lines for people, then merge, order and print every diagnostic. Returns the
/// summary and the printed diagnostics.
pub(crate) fn compile_and_report(
    loaded: Loaded,
    options: &CompileOptions,
    format: Format,
    verbose: bool,
) -> (CompileSummary, Diagnostics) {
    let summary = if format == Format::Human {
        let mut reporter = HumanReporter { verbose, total: 0 };
        compile::compile(
            &loaded.project,
            &loaded.engine,
            loaded.schemas,
            options,
            &mut reporter,
        )
    } else {
        compile::compile(
            &loaded.project,
            &loaded.engine,
            loaded.schemas,
            options,
            &mut Silent,
        )
    };
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(summary.diagnostics.iter().cloned());
    diagnostics.coalesce();
    if options.strict {
        diagnostics.make_strict();
    }
    print_diagnostics(format, &diagnostics, &loaded.project);
    (summary, diagnostics)
}
