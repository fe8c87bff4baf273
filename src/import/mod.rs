//! Import: another tool's backup → a tenantform baseline (TOML + Tera templates) that
//! reproduces it. `tenantform import --from intunecd|intunemanagement|graph-json SRC --out DIR`.
//!
//! The steps, one file each:
//!
//! ```text
//!  SRC ─layout─▶ Backup (objects + id tables) ─clean─▶ create bodies ─map─▶ references,
//!  parameters ─emit─▶ DIR/baselines/<name>.toml + DIR/templates/<name>/<prefix>/<key>.json.tera
//! ```
//!
//! - [`decode`]: bytes → JSON (UTF-16 LE/BE with a mark, UTF-8 with or without one, YAML).
//! - [`layout`]: each tool's folder layout → objects with their kinds, and the id tables
//!   (IntuneManagement's `MigrationTable.json`, the ids inside group and named-location files).
//! - [`clean`]: the kind's generated schema decides what a create body may carry: annotations,
//!   bound actions and read-only fields go; `@odata.type` stays where Graph needs it;
//!   properties the deployed API version lacks are reported, never dropped silently.
//! - [`assignments`]: the assignments kept inside each Intune policy → the policy's
//!   assignment-set resource; IntuneCD's group names → groups the baseline declares.
//! - [`emit`] (with `map.rs`): group and named-location ids → `ref(to="group:…")` references; ids that point
//!   outside the export → parameters, listed in a comment; `%OrganizationId%` → `tenant.id`;
//!   canonical JSON templates and a sorted baseline, so the same backup gives the same bytes.
//!
//! Problems in the backup are [`Finding`]s naming the file, collected over the whole run: a
//! warning (imported without something, said what) or an error (nothing is written). Only the
//! environment (an unreadable source, a non-empty output) is an [`ImportError`].

pub mod assignments;
pub mod clean;
pub mod decode;
pub mod emit;
pub mod layout;
mod map;

use std::fmt;
use std::path::{Path, PathBuf};

/// The tool that wrote a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// IntuneCD (`IntuneCD-startbackup`, JSON or YAML).
    IntuneCd,
    /// IntuneManagement exports (JSON per object, `MigrationTable.json`).
    IntuneManagement,
    /// Plain Graph JSON: objects or `{"value": [...]}` pages as Graph returns them.
    GraphJson,
}

impl ImportFormat {
    /// The name `--from` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::IntuneCd => "intunecd",
            ImportFormat::IntuneManagement => "intunemanagement",
            ImportFormat::GraphJson => "graph-json",
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing is written while any error stands.
    Error,
    /// Imported, but something was left out or needs a decision; the message says what.
    Warning,
}

/// One problem with a backup, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The file, relative to the backup folder, `/`-separated.
    pub file: String,
    /// What is wrong and what was done.
    pub message: String,
}

impl Finding {
    /// An error about `file`.
    pub fn error(file: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Error,
            file: file.into(),
            message: message.into(),
        }
    }

    /// A warning about `file`.
    pub fn warning(file: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            file: file.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.file, self.message)
    }
}

/// What to import and where.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The backup's format.
    pub format: ImportFormat,
    /// The backup folder.
    pub source: PathBuf,
    /// The output folder (gets `baselines/` and `templates/`).
    pub out: PathBuf,
    /// The baseline's name (file stem and template folder).
    pub name: String,
    /// Write into a non-empty output folder (replacing this baseline's files).
    pub force: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Every finding, sorted by file.
    pub findings: Vec<Finding>,
    /// Files written, relative to the output folder (empty when there were errors).
    pub written: Vec<String>,
    /// Resources in the baseline, per kind.
    pub resources: std::collections::BTreeMap<&'static str, usize>,
    /// Parameters for ids outside the export.
    pub parameters: usize,
}

impl ImportReport {
    /// True when any finding is an error (nothing was written).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Why an import could not run at all (the environment, not the backup's content).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source folder does not exist or is not a folder.
    #[error("{0} is not a folder")]
    NoSource(PathBuf),
    /// The output folder has files and `--force` was not given.
    #[error(
        "{0} is not empty; import writes into an empty folder (or pass --force to replace this baseline's files in it)"
    )]
    OutNotEmpty(PathBuf),
    /// The baseline name is not a valid name.
    #[error(
        "{0:?} is not a baseline name: use lower-case letters, digits and '-', starting with a letter"
    )]
    BadName(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuse a bad baseline name, or a non-empty `out` without `force`: before any reading.
pub fn check_output(name: &str, out: &Path, force: bool) -> Result<(), ImportError> {
    if !crate::source::model::is_resource_key(name) {
        return Err(ImportError::BadName(name.to_string()));
    }
    if out.exists() && !force {
        let mut entries = std::fs::read_dir(out).map_err(io(out))?;
        if entries.next().is_some() {
            return Err(ImportError::OutNotEmpty(out.to_path_buf()));
        }
    }
    Ok(())
}

/// Import a backup folder into a baseline.
pub fn import(options: &ImportOptions) -> Result<ImportReport, ImportError> {
    if !crate::source::model::is_resource_key(&options.name) {
        return Err(ImportError::BadName(options.name.clone()));
    }
    if !options.source.is_dir() {
        return Err(ImportError::NoSource(options.source.clone()));
    }
    check_output(&options.name, &options.out, options.force)?;
    let backup = layout::read_backup(&options.source, options.format);
    write_baseline(
        backup,
        &emit::Origin::backup(options.format, &options.source),
        &options.name,
        &options.out,
    )
}

/// Turn objects already in memory (read from files, or from a live tenant by `export`) into
/// baseline `name` under `out`: the same cleaning, id mapping and emitter for every source.
/// Nothing is written while a finding is an error. Call [`check_output`] first.
pub fn write_baseline(
    backup: layout::Backup,
    origin: &emit::Origin,
    name: &str,
    out: &Path,
) -> Result<ImportReport, ImportError> {
    let generated = emit::generate(backup, origin, name);
    let mut report = ImportReport {
        findings: generated.findings,
        written: Vec::new(),
        resources: generated.resources,
        parameters: generated.parameters,
    };
    report.findings.sort();
    report.findings.dedup();
    if report.has_errors() {
        return Ok(report);
    }
    let templates = out.join("templates").join(name);
    if templates.exists() {
        std::fs::remove_dir_all(&templates).map_err(io(&templates))?;
    }
    for (rel, text) in &generated.files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        report.written.push(rel.clone());
    }
    Ok(report)
}
