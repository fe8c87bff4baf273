//! `tenantform evidence`: per tenant and control id, its state and the evidence of what was
//! deployed (resource key, object id, last run, journal record hash), as JSON or CSV on stdout;
//! from the same status as `report` (the project, the run journals, `--from` plans).

use std::path::PathBuf;

use tenantform::report::evidence;
use tenantform::status::{self, StatusOptions};

use super::{ProjectArg, err, exit, out};

/// Output of `evidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EvidenceFormat {
    /// One JSON document (`tenantform.evidence/v1`).
    Json,
    /// A row per tenant, control and resource.
    Csv,
}

/// Arguments of `evidence`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    project: ProjectArg,
    /// Saved plans to read (plan --out or plan --format json).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    from: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: EvidenceFormat,
    /// The "as of" time (RFC 3339) instead of the newest input's.
    #[arg(long, value_name = "TIME", hide = true)]
    generated_at: Option<String>,
}

pub(crate) fn run(args: Args, today: jiff::civil::Date) -> anyhow::Result<u8> {
    let mut inputs = Vec::new();
    for path in &args.from {
        match status::inputs::read(path) {
            Ok(input) => inputs.push(input),
            Err(e) => {
                err(&format!("error: {e}\n"));
                return Ok(exit::INVALID_INPUT);
            }
        }
    }
    let options = StatusOptions {
        today,
        generated_at: args.generated_at,
        journals: Vec::new(),
    };
    let fleet = match status::status(&args.project.project, &inputs, &options) {
        Ok(fleet) => fleet,
        Err(e @ status::StatusError::GeneratedAt(_)) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::USAGE);
        }
        Err(e) => {
            err(&format!("error: {e}\n"));
            return Ok(exit::INVALID_INPUT);
        }
    };
    match args.format {
        EvidenceFormat::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&evidence::json(&fleet))?
        )),
        EvidenceFormat::Csv => out(&evidence::csv(&fleet)),
    }
    Ok(exit::OK)
}
