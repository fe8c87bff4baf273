//! `tenantform completions SHELL` and `tenantform man`: the scripts know every command, the bash
//! one parses, and the manual pages are roff that groff reads without a warning.

use std::process::Command;

use crate::harness::{Project, tenantform};

const COMMANDS: &[&str] = &[
    "init",
    "validate",
    "plan",
    "deploy",
    "runs",
    "sim",
    "man",
    "completions",
];

#[test]
fn every_shell_gets_a_script_that_knows_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = tenantform().args(&["completions", shell]).run().success();
        for command in COMMANDS {
            assert!(
                out.stdout.contains(command),
                "{shell}: no {command} in\n{}",
                out.stdout
            );
        }
        // Options of a subcommand too, not only the command names.
        assert!(out.stdout.contains("detailed-exitcode"), "{shell}");
    }
    // The bash script is valid bash (bash -n parses without running).
    let out = tenantform().args(&["completions", "bash"]).run().success();
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("tenantform.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error_that_lists_the_shells() {
    tenantform()
        .args(&["completions", "tcsh"])
        .run()
        .code(64)
        .stderr_has("possible values: bash, elvish, fish, powershell, zsh");
}

/// groff's complaints about a page (`-ww`: every warning), empty when it is clean roff. `-k`
/// runs preconv first, as man(1) does: the help text has UTF-8 (`…`).
fn groff_warnings(page: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("page.1");
    std::fs::write(&path, page).expect("write");
    let out = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(&path)
        .output()
        .expect("groff is installed (the test image has it: apt-get install groff-base)");
    assert!(out.status.success(), "groff failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_man_page_is_roff_that_names_the_command_and_its_commands() {
    let out = tenantform().arg("man").run().success();
    let page = &out.stdout;
    let th = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH title line:\n{page}"));
    assert!(th.starts_with(".TH tenantform 1"), "{th}");
    assert!(page.contains(".SH NAME\ntenantform \\- "), "{page}");
    assert!(page.contains("tenantform\\-plan(1)"), "{page}");
    assert_eq!(groff_warnings(page), "");
    // Rendered, it reads as a manual page.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tenantform.1");
    std::fs::write(&path, page).expect("write");
    let text = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-P-cbou"])
        .arg(&path)
        .output()
        .expect("groff");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("SUBCOMMANDS"), "{text}");
}

#[test]
fn man_out_writes_a_page_per_command_and_refuses_a_directory_it_cannot_make() {
    let project = Project::empty();
    let dir = project.path().join("man1");
    tenantform()
        .arg("man")
        .arg("--out")
        .arg(&dir)
        .run()
        .success()
        .stdout_has("tenantform-plan.1");
    let plan = std::fs::read_to_string(dir.join("tenantform-plan.1")).expect("plan page");
    assert!(plan.contains("markdown\\-limit"), "{plan}");
    assert_eq!(groff_warnings(&plan), "");
    // A file where the directory should be.
    project.file("afile", "x");
    tenantform()
        .arg("man")
        .arg("--out")
        .arg(project.path().join("afile"))
        .run()
        .code(1)
        .stderr_has("cannot create");
}
