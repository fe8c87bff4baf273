//! What every fuzz target shares: each one turns the fuzzer's bytes into the input of one of
//! tenantform's public entry points for untrusted input, and the same functions replay the
//! committed corpus as ordinary tests (`tests/testsuite/fuzz_corpus.rs` in the main package
//! calls the library the same way).

use std::path::Path;

use tenantform::compile::fleet::compile_tenant;
use tenantform::compile::render::Engine;
use tenantform::diag::Diagnostics;
use tenantform::import::ImportFormat;
use tenantform::import::emit::{self, Origin};
use tenantform::import::layout::{self, FileSource};
use tenantform::source::SourceMap;
use tenantform::source::model;

/// Folders (and extensions) of IntuneCD's layout a fuzz input is placed in; the first byte
/// of the input picks one.
pub const INTUNECD_FILES: &[&str] = &[
    "Compliance Policies/Policies/p.json",
    "Compliance Policies/Policies/p.yaml",
    "Conditional Access/p.json",
    "Conditional Access/p.yaml",
    "Device Configurations/p.json",
    "Settings Catalog/p.yaml",
];

/// IntuneManagement files a fuzz input is placed in (the first byte picks one).
pub const INTUNEMANAGEMENT_FILES: &[&str] = &[
    "Contoso/CompliancePolicies/p.json",
    "Contoso/MigrationTable.json",
    "Contoso/Groups/g.json",
    "Contoso/ConditionalAccess/p.json",
    "Contoso/NamedLocations/l.json",
    "Contoso/DeviceConfiguration/p.json",
];

/// Graph JSON files a fuzz input is placed in.
pub const GRAPH_JSON_FILES: &[&str] = &["x.json", "policies/p.json"];

/// Import one file of a backup (its place chosen by the first byte, beside a second file
/// when the input holds the separator `\0\0\0`) and emit the baseline.
pub fn import(format: ImportFormat, places: &[&str], data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (one, two) = match find(rest, b"\0\0\0") {
        Some(at) => (&rest[..at], Some(&rest[at + 3..])),
        None => (rest, None),
    };
    let mut files = vec![(
        places[usize::from(first) % places.len()].to_string(),
        FileSource::Memory(one.to_vec()),
    )];
    if let Some(two) = two {
        files.push((
            places[(usize::from(first) + 1) % places.len()].to_string(),
            FileSource::Memory(two.to_vec()),
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let backup = layout::read_backup_files(&files, format);
    let _ = emit::generate(backup, &Origin::backup(format, Path::new("fuzz")), "fuzz");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Which TOML file a loader target decodes.
#[derive(Debug, Clone, Copy)]
pub enum TomlFile {
    /// `tenantform.toml`.
    Project,
    /// `baselines/<name>.toml`.
    Baseline,
    /// `tenants/*.toml`.
    Tenants,
    /// `links/<name>.toml`.
    Link,
}

/// Decode `data` (as text, lossily) as one of the project's TOML files; every tenant a
/// tenants file lists is decoded again the way compile does.
pub fn toml(file: TomlFile, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut sources = SourceMap::new();
    let id = sources.add("fuzz.toml", text.as_ref());
    let mut diags = Diagnostics::new();
    match file {
        TomlFile::Project => {
            let _ = model::decode_project(&text, id, &mut diags);
        }
        TomlFile::Baseline => {
            let _ = model::decode_baseline("fuzz", &text, id, false, &mut diags);
        }
        TomlFile::Tenants => {
            for (_, location) in model::decode_tenants(&text, id, &mut diags) {
                let _ = model::decode_tenant_at(&text, &location);
            }
        }
        TomlFile::Link => {
            let _ = model::link::decode_link("fuzz", &text, id, &mut diags);
        }
    }
    // Every diagnostic's span must resolve to a line and column of the file.
    for d in diags.iter() {
        if let Some(span) = d.span {
            let _ = sources.location(span);
        }
    }
}

/// A project (`fixtures/valid/minimal` with its group template replaced) compiled for each of
/// its tenants: the template renderer with every filter and function tenantform registers.
pub struct TemplateProject {
    dir: tempfile::TempDir,
    schemas: tenantform::compile::validate::Schemas,
}

impl TemplateProject {
    /// Copy the fixture project (at `fixture`) into a temporary folder.
    pub fn new(fixture: &Path) -> TemplateProject {
        let dir = tempfile::tempdir().expect("fuzz: a temporary folder");
        copy(fixture, dir.path());
        let schemas =
            tenantform::compile::validate::Schemas::load().expect("fuzz: the embedded schemas");
        TemplateProject { dir, schemas }
    }

    /// Render and compile every tenant with `data` (lossily as text) as the group template.
    pub fn render(&self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let path = self.dir.path().join("templates/group.json.tera");
        std::fs::write(&path, text.as_bytes()).expect("fuzz: write the template");
        let Ok((project, _)) = tenantform::source::project::load(self.dir.path()) else {
            return;
        };
        let (engine, _) = Engine::new(&project);
        let today = jiff::civil::date(2026, 12, 6);
        for entry in &project.tenants {
            if let Some(tenant) = project.tenant(entry) {
                let _ = compile_tenant(&project, &engine, &self.schemas, &tenant, false, today);
            }
        }
    }
}

fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fuzz: read the fixture") {
        let entry = entry.expect("fuzz: a fixture entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("fuzz: mkdir");
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("fuzz: copy");
        }
    }
}
