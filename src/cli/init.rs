//! `tenantform init DIR`: a project on the shipped baselines with three example tenants.

use std::path::PathBuf;

use super::{err, exit, out};

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The project validates and compiles as it is:\n  tenantform init my-msp && tenantform validate --project my-msp"
)]
pub(crate) struct Args {
    /// The new project's directory (must be empty or not exist).
    dir: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    match tenantform::source::init::init(&args.dir) {
        Ok(files) => {
            let mut text = format!("created project {}\n", args.dir.display());
            for f in files {
                text.push_str(&format!("  {}\n", f.display()));
            }
            text.push_str(&format!(
                "next: tenantform validate --project {0}\n      tenantform compile --project {0} --out {0}/out\n",
                args.dir.display()
            ));
            // The project and its files are the result: stdout (errors stay on stderr).
            out(&text);
            Ok(exit::OK)
        }
        Err(e) if args.dir.exists() && !args.dir.is_dir() => {
            err(&format!(
                "error: {} is a file, not a directory ({e})\n",
                args.dir.display()
            ));
            Ok(exit::INVALID_INPUT)
        }
        Err(e @ tenantform::source::init::InitError::NotEmpty(_)) => {
            err(&format!("error: {e}\n"));
            Ok(exit::INVALID_INPUT)
        }
        Err(e) => Err(e.into()),
    }
}
