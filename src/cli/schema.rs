//! `tenantform schema generate`: regenerate the committed JSON Schemas from Graph's metadata,
//! or (`--check`) fail when the committed ones differ.

use std::path::PathBuf;

use tenantform::schema::generate;

use super::{err, exit};

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: SchemaCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SchemaCommand {
    /// Generate one create and one update schema per kind from the CSDL and beta type mappings.
    Generate {
        /// Folder with v1.0-Prod.csdl and type-mappings/ (msgraph-metadata layout).
        #[arg(long, value_name = "DIR")]
        metadata: PathBuf,
        /// Where the schemas go.
        #[arg(long, value_name = "DIR", default_value = "src/schema/generated")]
        out: PathBuf,
        /// Write nothing; exit 1 when the files in OUT differ from what would be generated.
        #[arg(long)]
        check: bool,
    },
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let SchemaCommand::Generate {
        metadata,
        out,
        check,
    } = args.command;
    let meta = match generate::Metadata::load(&metadata) {
        Ok(meta) => meta,
        Err(e) => {
            err(&format!(
                "error: cannot read Graph's metadata from {}: {e}\n  --metadata takes the folder that holds v1.0-Prod.csdl and type-mappings/\n",
                metadata.display()
            ));
            return Ok(exit::INVALID_INPUT);
        }
    };
    let files = generate::generate_registry(&meta)?;
    if check {
        let stale = generate::check(&out, &files)?;
        if stale.is_empty() {
            err(&format!(
                "schemas in {} are up to date ({} files)\n",
                out.display(),
                files.len()
            ));
            return Ok(exit::OK);
        }
        err(&format!(
            "error: schemas in {} differ from the metadata: {}\n  run `tenantform schema generate --metadata {} --out {}`\n",
            out.display(),
            stale.join(", "),
            metadata.display(),
            out.display()
        ));
        return Ok(exit::INVALID_INPUT);
    }
    generate::write(&out, &files)?;
    err(&format!(
        "wrote {} schemas to {}\n",
        files.len(),
        out.display()
    ));
    Ok(exit::OK)
}
