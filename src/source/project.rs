//! Stage 0, `load`: walk a project directory (sorted, so the result never depends on the file
//! system's order), read every file once, register it in the [`SourceMap`], and decode it.
//! Shipped baselines and templates join in under project files of the same name.
//!
//! Input: a project directory. Output: [`ProjectSource`] plus [`Diagnostics`] for every file
//! that is unreadable, not UTF-8, not TOML, or not the model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::model::link::Link;
use crate::source::model::organization::{ORGANIZATION_FILE, Organization};
use crate::source::model::{self, Baseline, ProjectConfig, Sp, Tenant, TenantLocation};
use crate::source::shipped;
use crate::source::{FileId, SourceMap, Span};

/// The file that marks a project directory.
pub const PROJECT_FILE: &str = "tenantform.toml";

/// A template file known to the project.
#[derive(Debug, Clone, Copy)]
pub struct TemplateFile {
    /// Its text in the source map.
    pub file: FileId,
    /// True when it comes from the binary.
    pub shipped: bool,
}

/// What the project knows of a tenant without keeping it decoded: enough to select it and to
/// decode it again when it is compiled (memory stays flat however large the fleet).
#[derive(Debug, Clone)]
pub struct TenantEntry {
    /// Tenant id (lower case).
    pub id: String,
    /// Where the id is written.
    pub id_span: Span,
    /// Name.
    pub name: String,
    /// Ring.
    pub ring: String,
    /// Its entry had errors (reported at load); it is not compiled.
    pub has_errors: bool,
    /// Where it is written.
    pub location: TenantLocation,
    /// The baselines it gets, in order (to weigh it before it is compiled).
    pub baselines: Vec<Sp<String>>,
}

impl ProjectSource {
    /// Decode one tenant (cheap: one `[[tenant]]` entry is parsed again).
    pub fn tenant(&self, entry: &TenantEntry) -> Option<Tenant> {
        let text = &self.sources.file(entry.location.file).text;
        let mut tenant = model::decode_tenant_at(text, &entry.location)?;
        tenant.has_errors = entry.has_errors;
        Some(tenant)
    }
}

/// Everything read from a project.
#[derive(Debug)]
pub struct ProjectSource {
    /// The project directory.
    pub root: PathBuf,
    /// Every file read.
    pub sources: SourceMap,
    /// `tenantform.toml`.
    pub config: Option<ProjectConfig>,
    /// Baselines by name (project files shadow shipped ones).
    pub baselines: BTreeMap<String, Baseline>,
    /// Templates by path under `templates/` (project files shadow shipped ones).
    pub templates: BTreeMap<String, TemplateFile>,
    /// Tenants in file order (an index; [`ProjectSource::tenant`] decodes one).
    pub tenants: Vec<TenantEntry>,
    /// Files that had errors; a tenant touching one of them fails.
    pub files_with_errors: BTreeSet<FileId>,
    /// Baselines whose file exists but could not be decoded (their errors are reported once).
    pub broken_baselines: BTreeSet<String>,
    /// A file under `tenants/` could not be read, or a tenant in one could not be listed (a TOML
    /// syntax error, an entry without a usable id): the project may have tenants that
    /// [`ProjectSource::tenants`] does not show.
    pub tenants_unlisted: bool,
    /// `tenantform.toml`, when it could be read.
    pub project_file: Option<FileId>,
    /// The files under `tenants/` that were read, in walk order.
    pub tenant_files: Vec<FileId>,
    /// Cross-tenant synchronization links (`links/<name>.toml`), sorted by name.
    pub links: Vec<Link>,
    /// The Microsoft 365 multitenant organization (`organization.toml`), when declared.
    pub organization: Option<Organization>,
}

/// Why a directory could not be loaded as a project at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No `tenantform.toml`.
    #[error("{} is not a tenantform project: it has no {PROJECT_FILE} (create one with `tenantform init {}`)", .0.display(), .0.display())]
    NotAProject(PathBuf),
    /// No `tenantform.toml` here, but a directory above has one (run inside `proj/tenants/`).
    #[error("{} is not a tenantform project, but it is inside one: {} has {PROJECT_FILE}; pass `-p {}` (or run from there)", .dir.display(), .project.display(), .project.display())]
    InsideAProject {
        /// The directory given.
        dir: PathBuf,
        /// The project above it, as a path from where the command runs.
        project: PathBuf,
    },
}

/// The parent of `dir` by its text (`proj/tenants` → `proj`, `.` → `..`), so a suggested path
/// reads as the user would type it.
fn lexical_parent(dir: &Path) -> Option<PathBuf> {
    use std::path::Component;
    match dir.components().next_back() {
        Some(Component::Normal(_)) => Some(match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }),
        Some(Component::CurDir) if dir.components().count() == 1 => Some(PathBuf::from("..")),
        Some(Component::CurDir | Component::ParentDir) => Some(dir.join("..")),
        _ => None,
    }
}

/// The nearest directory above `dir` that holds a project (at most 8 levels up).
fn enclosing_project(dir: &Path) -> Option<PathBuf> {
    let mut candidate = dir.to_path_buf();
    for _ in 0..8 {
        candidate = lexical_parent(&candidate)?;
        if candidate.join(PROJECT_FILE).is_file() {
            return Some(candidate);
        }
        if candidate
            .canonicalize()
            .ok()
            .is_some_and(|c| c.parent().is_none())
        {
            return None;
        }
    }
    None
}

enum ReadOutcome {
    Text(String),
    Failed,
}

fn read_text(
    path: &Path,
    display: &str,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> ReadOutcome {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let file = sources.add(display, "");
            diags.push(
                Diagnostic::error(Code::UnreadableFile, format!("cannot read {display}: {e}"))
                    .at(Span::new(file, 0..0)),
            );
            return ReadOutcome::Failed;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => ReadOutcome::Text(crate::text::strip_bom(text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = sources.add(display, lossy);
            diags.push(
                Diagnostic::error(
                    Code::NotUtf8,
                    format!("{display} is not valid UTF-8 (invalid byte at offset {valid})"),
                )
                .at(Span::new(file, valid..valid + 1))
                .help("save the file as UTF-8"),
            );
            ReadOutcome::Failed
        }
    }
}

/// Files under `dir`, sorted, skipping hidden files and folders (editor swap files, `.git`).
fn files_under(dir: &Path, max_depth: usize) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .max_depth(max_depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() || e.path_is_symlink())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Load a project directory.
pub fn load(root: &Path) -> Result<(ProjectSource, Diagnostics), LoadError> {
    let project_file = root.join(PROJECT_FILE);
    if !project_file.is_file() {
        return Err(match enclosing_project(root) {
            Some(project) => LoadError::InsideAProject {
                dir: root.to_path_buf(),
                project,
            },
            None => LoadError::NotAProject(root.to_path_buf()),
        });
    }
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();

    let mut project_file_id = None;
    let config = match read_text(&project_file, PROJECT_FILE, &mut sources, &mut diags) {
        ReadOutcome::Text(text) => {
            let file = sources.add(PROJECT_FILE, text.clone());
            project_file_id = Some(file);
            let config = model::decode_project(&text, file, &mut diags);
            // A credential written in the file is reported, never quoted.
            for span in config.iter().flat_map(|c| c.masked.iter()) {
                sources.mask(*span);
            }
            config
        }
        ReadOutcome::Failed => None,
    };

    let mut baselines = BTreeMap::new();
    let mut broken_baselines = BTreeSet::new();
    for path in files_under(&root.join("baselines"), 1) {
        let display = relative(root, &path);
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let decoded = match read_text(&path, &display, &mut sources, &mut diags) {
            ReadOutcome::Text(text) => {
                let file = sources.add(display, text.clone());
                model::decode_baseline(&name, &text, file, false, &mut diags)
            }
            ReadOutcome::Failed => None,
        };
        match decoded {
            Some(b) => {
                baselines.insert(name, b);
            }
            None => {
                broken_baselines.insert(name);
            }
        }
    }
    for (name, text) in shipped::baselines() {
        if baselines.contains_key(name) || broken_baselines.contains(name) {
            continue;
        }
        let display = format!("{}/baselines/{name}.toml", shipped::SHIPPED_PREFIX);
        let file = sources.add(display, text);
        if let Some(b) = model::decode_baseline(name, text, file, true, &mut diags) {
            baselines.insert(name.to_string(), b);
        }
    }

    let mut templates = BTreeMap::new();
    let templates_dir = root.join("templates");
    for path in files_under(&templates_dir, usize::MAX) {
        if path.extension().and_then(|e| e.to_str()) != Some("tera") {
            continue;
        }
        let display = relative(root, &path);
        let name = relative(&templates_dir, &path);
        if let ReadOutcome::Text(text) = read_text(&path, &display, &mut sources, &mut diags) {
            let file = sources.add(display, text);
            templates.insert(
                name,
                TemplateFile {
                    file,
                    shipped: false,
                },
            );
        }
    }
    for (name, text) in shipped::templates() {
        if templates.contains_key(name) {
            continue;
        }
        let file = sources.add(
            format!("{}/templates/{name}", shipped::SHIPPED_PREFIX),
            text,
        );
        templates.insert(
            name.to_string(),
            TemplateFile {
                file,
                shipped: true,
            },
        );
    }

    let mut tenants: Vec<TenantEntry> = Vec::new();
    let mut tenants_unlisted = false;
    let mut tenant_files = Vec::new();
    for path in files_under(&root.join("tenants"), usize::MAX) {
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let display = relative(root, &path);
        let ReadOutcome::Text(text) = read_text(&path, &display, &mut sources, &mut diags) else {
            tenants_unlisted = true;
            continue;
        };
        {
            // The text is kept once (in the source map), and each tenant is reduced to its
            // entry as soon as it is decoded: a fleet is never held decoded at once.
            let file = sources.add(display, text);
            tenant_files.push(file);
            let text = &sources.file(file).text;
            tenants_unlisted |=
                !model::decode_tenants_each(text, file, &mut diags, &mut |t, location| {
                    tenants.push(TenantEntry {
                        id_span: t.id.span,
                        id: t.id.value,
                        name: t.name,
                        ring: t.ring,
                        has_errors: t.has_errors,
                        location,
                        baselines: t.baselines,
                    });
                });
        }
    }
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for t in &mut tenants {
        if let Some(first) = seen.get(&t.id) {
            t.has_errors = true;
            diags.push(
                Diagnostic::error(
                    Code::DuplicateTenant,
                    format!("tenant {} is declared twice", t.id),
                )
                .at(t.id_span)
                .note("first declared here", *first),
            );
        } else {
            seen.insert(t.id.clone(), t.id_span);
        }
    }

    let mut links = Vec::new();
    for path in files_under(&root.join("links"), 1) {
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let display = relative(root, &path);
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if let ReadOutcome::Text(text) = read_text(&path, &display, &mut sources, &mut diags) {
            let file = sources.add(display, text.clone());
            if let Some(link) = model::link::decode_link(&name, &text, file, &mut diags) {
                links.push(link);
            }
        }
    }

    let organization_path = root.join(ORGANIZATION_FILE);
    let mut organization = None;
    if organization_path.is_file()
        && let ReadOutcome::Text(text) = read_text(
            &organization_path,
            ORGANIZATION_FILE,
            &mut sources,
            &mut diags,
        )
    {
        let file = sources.add(ORGANIZATION_FILE, text.clone());
        organization = model::organization::decode_organization(&text, file, &mut diags);
    }

    let files_with_errors = diags
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.span.map(|s| s.file))
        .collect();
    let project = ProjectSource {
        root: root.to_path_buf(),
        sources,
        config,
        baselines,
        templates,
        tenants,
        files_with_errors,
        broken_baselines,
        tenants_unlisted,
        project_file: project_file_id,
        tenant_files,
        links,
        organization,
    };
    // Link problems fail validation; they never stop a tenant's own bundle from compiling.
    diags.extend(crate::source::links::check(&project));
    diags.extend(crate::source::organization::check(&project));
    Ok((project, diags))
}
