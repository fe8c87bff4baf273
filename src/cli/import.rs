//! `tenantform import --from FORMAT SRC --out DIR`: another tool's backup → a baseline.
//! Flags become [`tenantform::import::ImportOptions`]; the findings go to stderr, the summary
//! of what was written to stdout.

use std::path::PathBuf;

use clap::ValueEnum;
use tenantform::import::{self, ImportError, ImportFormat, ImportOptions};

use super::{err, exit, out};

/// Backup formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum From {
    /// IntuneCD backups (`IntuneCD-startbackup`, JSON or YAML, its folder per type).
    Intunecd,
    /// IntuneManagement exports (a folder per object type, MigrationTable.json; UTF-16 or UTF-8).
    Intunemanagement,
    /// Graph JSON: objects or `{"value": [...]}` pages, as Graph returns them.
    GraphJson,
}

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes DIR/baselines/NAME.toml and DIR/templates/NAME/<prefix>/<key>.json.tera. Copy both into a
project (or import straight into one with --force) and list NAME in a tenant's baselines.
Exit 0 imported (warnings name each file and what was left out), 1 the backup has errors
(nothing written), 64 usage (also a non-empty --out without --force).")]
pub(crate) struct Args {
    /// The tool that wrote the backup.
    #[arg(long, value_enum, value_name = "FORMAT")]
    from: From,
    /// The backup folder.
    src: PathBuf,
    /// Where to write the baseline (must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The baseline's name.
    #[arg(long, default_value = "imported")]
    name: String,
    /// Write into a non-empty DIR, replacing this baseline's files there.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let options = ImportOptions {
        format: match args.from {
            From::Intunecd => ImportFormat::IntuneCd,
            From::Intunemanagement => ImportFormat::IntuneManagement,
            From::GraphJson => ImportFormat::GraphJson,
        },
        source: args.src,
        out: args.out,
        name: args.name,
        force: args.force,
    };
    let report = match import::import(&options) {
        Ok(report) => report,
        Err(e @ (ImportError::OutNotEmpty(_) | ImportError::BadName(_))) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::USAGE);
        }
        Err(e @ ImportError::NoSource(_)) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::INVALID_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(print_report(
        &report,
        "import",
        &options.source.display().to_string(),
        &options.out,
    ))
}

/// Print an import's or export's findings and summary (stderr) and the files written
/// (stdout); the exit code: 1 when a finding is an error (nothing written), else 0.
pub(super) fn print_report(
    report: &import::ImportReport,
    verb: &str,
    source: &str,
    out_dir: &std::path::Path,
) -> u8 {
    let mut text = String::new();
    for finding in &report.findings {
        text.push_str(&format!("{finding}\n"));
    }
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == import::Severity::Error)
        .count();
    let warnings = report.findings.len() - errors;
    if report.has_errors() {
        text.push_str(&format!(
            "{verb}: {errors} error(s), {warnings} warning(s) in {source}; nothing written\n"
        ));
        err(&text);
        return exit::INVALID_INPUT;
    }
    let kinds: Vec<String> = report
        .resources
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    text.push_str(&format!(
        "{verb}: {} resource(s) ({}), {} parameter(s), {warnings} warning(s)\n",
        report.resources.values().sum::<usize>(),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        report.parameters,
    ));
    err(&text);
    let mut written = String::new();
    for file in &report.written {
        written.push_str(&format!("{}\n", out_dir.join(file).display()));
    }
    out(&written);
    exit::OK
}
