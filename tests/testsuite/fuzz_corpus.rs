//! The fuzz targets' corpora (`fuzz/corpus/<target>/`: seeds, what the long runs found
//! interesting, and every crash turned regression) replayed through the same code the targets
//! run (`fuzz/src/lib.rs`), as ordinary tests: CI's fuzz smoke run. A panic here is a crash the
//! fuzzer found or would find; the long run is in book/src/fuzzing.md.

use std::path::{Path, PathBuf};

use tenantform::import::ImportFormat;

#[allow(unreachable_pub, missing_docs, dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod targets;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus file");
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{} has no inputs", dir.display());
    out
}

/// Run every input of `target`'s corpus through `run`, naming the input that panics.
fn replay(target: &str, run: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let inputs = corpus(target);
    for (path, bytes) in &inputs {
        if std::panic::catch_unwind(|| run(bytes)).is_err() {
            panic!("{target}: {} panics", path.display());
        }
    }
    inputs.len()
}

#[test]
fn import_corpora_replay_without_a_panic() {
    replay("import_intunecd", |d| {
        targets::import(ImportFormat::IntuneCd, targets::INTUNECD_FILES, d)
    });
    replay("import_intunemanagement", |d| {
        targets::import(
            ImportFormat::IntuneManagement,
            targets::INTUNEMANAGEMENT_FILES,
            d,
        )
    });
    replay("import_graph_json", |d| {
        targets::import(ImportFormat::GraphJson, targets::GRAPH_JSON_FILES, d)
    });
}

#[test]
fn toml_corpora_replay_without_a_panic() {
    use targets::TomlFile;
    replay("toml_project", |d| targets::toml(TomlFile::Project, d));
    replay("toml_baseline", |d| targets::toml(TomlFile::Baseline, d));
    replay("toml_tenants", |d| targets::toml(TomlFile::Tenants, d));
    replay("toml_link", |d| targets::toml(TomlFile::Link, d));
}

#[test]
fn template_corpus_replays_without_a_panic() {
    let project = targets::TemplateProject::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/minimal"),
    );
    let project = std::panic::AssertUnwindSafe(project);
    replay("template", |d| project.render(d));
}
