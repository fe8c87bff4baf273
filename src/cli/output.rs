//! Shared command plumbing: load a project with its engine and schemas, and print diagnostics
//! in the chosen format (the formats themselves are in `tenantform::report`).

use std::path::Path;

use tenantform::compile::render::Engine;
use tenantform::compile::validate::Schemas;
use tenantform::compile::{self, CompileOptions, CompileSummary};
use tenantform::diag::Diagnostics;
use tenantform::report::human::CompileLines;
use tenantform::report::{self, Output, Silent};
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

/// Refuse a `--tenant`, `--ring` (or deploy's `--rings`) that names no tenant of the project:
/// the command line is wrong, not the project, so say that (after the "did you mean" for each
/// name) and exit 64, before anything is compiled or read. `verb` says what did not happen.
pub(crate) fn check_selection(
    project: &ProjectSource,
    selection: &compile::Selection,
    rings: Option<&[String]>,
    format: Format,
    verb: &str,
) -> Result<(), u8> {
    let mut diagnostics: Diagnostics = compile::unmatched_selection(project, selection)
        .into_iter()
        .collect();
    if let Some(rings) = rings {
        diagnostics.extend(compile::unknown_rings(project, "--rings", rings));
    }
    if diagnostics.is_empty() {
        return Ok(());
    }
    print_diagnostics(format, &diagnostics, project);
    if format == Format::Human {
        err(&format!(
            "error: the selection names no tenant of the project ({}); nothing was {verb}\n",
            tenantform::report::human::plural(
                diagnostics.error_count(),
                "name matches nothing",
                "names match nothing"
            )
        ));
    }
    Err(exit::USAGE)
}

/// Print diagnostics (human to stderr; JSON and SARIF to stdout), with a count line for people.
pub(crate) fn print_diagnostics(
    format: Format,
    diagnostics: &Diagnostics,
    project: &ProjectSource,
) {
    let sources = &project.sources;
    let pretty = |doc: serde_json::Value| {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    };
    match format {
        Format::Human => err(&report::human::diagnostics_text(diagnostics, sources)),
        Format::Json => out(&pretty(report::json::diagnostics_document(
            diagnostics,
            sources,
        ))),
        Format::Sarif => out(&pretty(report::sarif::to_sarif(diagnostics, sources))),
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
        let mut reporter = CompileLines::new(Output::stdio(), verbose);
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
