//! `tenantform completions SHELL` and `tenantform man`: shell completion scripts and the manual
//! pages, generated from the same clap definitions the binary parses with (clap_complete,
//! clap_mangen), so they never fall behind a flag.

use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, err, exit, out};

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install (the script is printed on stdout):
  bash        tenantform completions bash > ~/.local/share/bash-completion/completions/tenantform
  zsh         tenantform completions zsh > \"${fpath[1]}/_tenantform\"
  fish        tenantform completions fish > ~/.config/fish/completions/tenantform.fish
  powershell  tenantform completions powershell | Out-String | Invoke-Expression   (add it to $PROFILE)
  elvish      tenantform completions elvish >> ~/.config/elvish/rc.elv")]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --out the page of tenantform itself is printed (roff):
  tenantform man | man -l -
  tenantform man --out /usr/local/share/man/man1   (tenantform.1 and tenantform-<command>.1)")]
pub(crate) struct ManArgs {
    /// Write tenantform.1 and one page per command (tenantform-plan.1, ...) into this directory
    /// (created if needed) instead of printing tenantform.1.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn run_completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "tenantform", &mut script);
    out(&String::from_utf8_lossy(&script));
    Ok(exit::OK)
}

pub(crate) fn run_man(args: ManArgs) -> anyhow::Result<u8> {
    let command = Cli::command();
    match args.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            out(&String::from_utf8_lossy(&page));
        }
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                err(&format!("error: cannot create {}: {e}\n", dir.display()));
                return Ok(exit::INVALID_INPUT);
            }
            if let Err(e) = clap_mangen::generate_to(command, &dir) {
                err(&format!(
                    "error: cannot write the manual pages to {}: {e}\n",
                    dir.display()
                ));
                return Ok(exit::INVALID_INPUT);
            }
            let mut pages: Vec<String> = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("tenantform") && name.ends_with(".1"))
                .collect();
            pages.sort();
            out(&format!(
                "wrote {} manual pages to {}: {}\n",
                pages.len(),
                dir.display(),
                pages.join(", ")
            ));
        }
    }
    Ok(exit::OK)
}
