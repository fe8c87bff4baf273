//! Import, second step: a backup folder in one tool's layout → the objects in it, each with
//! its kind and the file it came from, plus the id tables references are mapped through.
//!
//! - IntuneCD: a folder per type with spaces in its name (`Conditional Access/`,
//!   `Compliance Policies/Policies/`, `Device Configurations/`, `Settings Catalog/`), JSON or
//!   YAML; `__archive__/`, `Script Data/`, `mobileconfig/` and the reports are not objects.
//! - IntuneManagement: `[<tenant>/]<ObjectType>/<name>.json` (`ConditionalAccess/`,
//!   `NamedLocations/`, `Groups/`, ...) beside `MigrationTable.json` (group and user ids →
//!   names); `*_Settings.json` and `*_assignments.json` are side files.
//! - Graph JSON: any `*.json` under the folder, an object or a `{"value": [...]}` page; the kind
//!   comes from `@odata.context`, `@odata.type` or the object's shape.
//!
//! Files of a type tenantform has no kind for are reported, never skipped silently. Input: a
//! folder and a format. Output: [`Backup`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::decode;
use super::{Finding, ImportFormat};
use crate::kinds::{self, Kind};

/// One object found in a backup.
#[derive(Debug, Clone)]
pub struct ForeignObject {
    /// The file it came from, relative to the backup folder, with `/` separators (and
    /// `#/value/<n>` for an item of a Graph page).
    pub file: String,
    /// Its kind.
    pub kind: &'static Kind,
    /// The object as the tool saved it.
    pub body: Value,
    /// What to name its resource when the object has no display name (a live singleton's
    /// `id`, such as `Fido2`); `None` from backup files.
    pub key_hint: Option<String>,
}

/// Everything read from a backup folder.
#[derive(Debug, Default)]
pub struct Backup {
    /// The objects, in file order.
    pub objects: Vec<ForeignObject>,
    /// Group ids (lower case) → display name, from `MigrationTable.json`.
    pub group_names: BTreeMap<String, String>,
    /// User ids (lower case) → display name, from `MigrationTable.json`.
    pub user_names: BTreeMap<String, String>,
    /// Problems, each naming its file.
    pub findings: Vec<Finding>,
}

/// IntuneCD folders (relative, `/`-separated) and their kinds.
const INTUNECD_FOLDERS: &[(&str, &str)] = &[
    ("Compliance Policies/Policies", "deviceCompliancePolicy"),
    ("Conditional Access", "conditionalAccessPolicy"),
    ("Device Configurations", "deviceConfiguration"),
    ("Settings Catalog", "configurationPolicy"),
];

/// IntuneCD folders that hold no objects (reports, side data, archives).
const INTUNECD_SKIPPED: &[&str] = &[
    "__archive__",
    "archive",
    "Assignment Report",
    "Autopilot Devices",
    "Activation Lock Bypass Codes",
    "Script Data",
    "mobileconfig",
];

/// IntuneManagement object-type folders and their kinds.
const INTUNEMANAGEMENT_FOLDERS: &[(&str, &str)] = &[
    ("CompliancePolicies", "deviceCompliancePolicy"),
    ("ConditionalAccess", "conditionalAccessPolicy"),
    ("DeviceConfiguration", "deviceConfiguration"),
    ("Groups", "group"),
    ("NamedLocations", "namedLocation"),
    ("SettingsCatalog", "configurationPolicy"),
];

fn kind(name: &str) -> &'static Kind {
    kinds::by_name(name).expect("invariant: import folder tables name registered kinds")
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a backup file's bytes are: on disk (read when its turn comes, so a large backup is
/// never all in memory) or already in memory (tests, fuzzing).
#[derive(Debug, Clone)]
pub enum FileSource {
    /// A file to read.
    Disk(std::path::PathBuf),
    /// The file's bytes.
    Memory(Vec<u8>),
}

/// Every file under `root`, sorted, as (relative path, source); unreadable entries become
/// findings.
fn files(root: &Path, findings: &mut Vec<Finding>) -> Vec<(String, FileSource)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .follow_links(false)
    {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                out.push((relative(root, e.path()), FileSource::Disk(e.into_path())))
            }
            Ok(_) => {}
            Err(e) => {
                let file = e
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| relative(root, p));
                findings.push(Finding::error(file, format!("cannot read: {e}")));
            }
        }
    }
    out
}

fn extension(rel: &str) -> Option<String> {
    let name = rel.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// Read and decode one file; a problem becomes an error finding naming it.
fn read(rel: &str, source: &FileSource, yaml: bool, findings: &mut Vec<Finding>) -> Option<Value> {
    let read;
    let bytes: &[u8] = match source {
        FileSource::Memory(bytes) => bytes,
        FileSource::Disk(path) => match std::fs::read(path) {
            Ok(b) => {
                read = b;
                &read
            }
            Err(e) => {
                findings.push(Finding::error(rel, format!("cannot read: {e}")));
                return None;
            }
        },
    };
    match decode::document(bytes, yaml) {
        Ok((value, _)) => Some(value),
        Err(e) => {
            findings.push(Finding::error(rel, e.to_string()));
            None
        }
    }
}

fn object_or_error(rel: &str, value: Value, findings: &mut Vec<Finding>) -> Option<Value> {
    if value.is_object() {
        Some(value)
    } else {
        findings.push(Finding::error(
            rel,
            "expected one JSON object (a Graph object as the tool saved it)",
        ));
        None
    }
}

/// Read a backup folder in `format`'s layout.
pub fn read_backup(root: &Path, format: ImportFormat) -> Backup {
    let mut backup = Backup::default();
    let files = files(root, &mut backup.findings);
    read_files(&files, format, backup)
}

/// Read a backup given as its files (relative `/`-separated path, source), sorted by path, in
/// `format`'s layout: what [`read_backup`] does after walking the folder.
pub fn read_backup_files(files: &[(String, FileSource)], format: ImportFormat) -> Backup {
    read_files(files, format, Backup::default())
}

fn read_files(files: &[(String, FileSource)], format: ImportFormat, mut backup: Backup) -> Backup {
    match format {
        ImportFormat::IntuneCd => intunecd(files, &mut backup),
        ImportFormat::IntuneManagement => intunemanagement(files, &mut backup),
        ImportFormat::GraphJson => graph_json(files, &mut backup),
    }
    backup
}

fn intunecd(files: &[(String, FileSource)], backup: &mut Backup) {
    for (rel, path) in files {
        let ext = extension(rel);
        let yaml = matches!(ext.as_deref(), Some("yaml" | "yml"));
        if !(yaml || ext.as_deref() == Some("json")) {
            continue; // scripts, Markdown documentation, reports: not objects
        }
        let (folder, _) = rel.rsplit_once('/').unwrap_or(("", rel));
        if folder.is_empty() {
            continue; // root-level files (backup_summary.json) are IntuneCD's own
        }
        if folder
            .split('/')
            .any(|segment| INTUNECD_SKIPPED.contains(&segment))
        {
            continue;
        }
        let Some((_, kind_name)) = INTUNECD_FOLDERS.iter().find(|(f, _)| *f == folder) else {
            backup.findings.push(Finding::warning(
                rel,
                format!("not imported: tenantform has no resource kind for IntuneCD's `{folder}` objects"),
            ));
            continue;
        };
        let Some(value) = read(rel, path, yaml, &mut backup.findings) else {
            continue;
        };
        let Some(body) = object_or_error(rel, value, &mut backup.findings) else {
            continue;
        };
        if *kind_name == "deviceCompliancePolicy" && body.get("@odata.type").is_none() {
            // IntuneCD keeps v2 (Settings Catalog style) compliance in the same folder.
            backup.findings.push(Finding::warning(
                rel,
                "not imported: a compliancePolicies (v2, `technologies`) object; tenantform manages deviceCompliancePolicies (v1) only",
            ));
            continue;
        }
        backup.objects.push(ForeignObject {
            file: rel.clone(),
            kind: kind(kind_name),
            body,
            key_hint: None,
        });
    }
}

fn intunemanagement(files: &[(String, FileSource)], backup: &mut Backup) {
    for (rel, path) in files {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if name.eq_ignore_ascii_case("MigrationTable.json") {
            if let Some(value) = read(rel, path, false, &mut backup.findings) {
                migration_table(rel, &value, backup);
            }
            continue;
        }
        if extension(rel).as_deref() != Some("json") {
            continue; // scripts, PDFs, packages written beside their objects
        }
        let lower = name.to_ascii_lowercase();
        let folder = rel
            .rsplit_once('/')
            .map(|(dir, _)| dir.rsplit('/').next().unwrap_or(dir))
            .unwrap_or("");
        let Some((_, kind_name)) = INTUNEMANAGEMENT_FOLDERS.iter().find(|(f, _)| *f == folder)
        else {
            backup.findings.push(Finding::warning(
                rel,
                format!(
                    "not imported: tenantform has no resource kind for IntuneManagement's `{folder}` objects"
                ),
            ));
            continue;
        };
        if lower.ends_with("_settings.json") || lower.ends_with("_assignments.json") {
            backup.findings.push(Finding::warning(
                rel,
                "not imported: a side file (settings or assignments) that tenantform does not merge",
            ));
            continue;
        }
        let Some(value) = read(rel, path, false, &mut backup.findings) else {
            continue;
        };
        if let Some(body) = object_or_error(rel, value, &mut backup.findings) {
            backup.objects.push(ForeignObject {
                file: rel.clone(),
                kind: kind(kind_name),
                body,
                key_hint: None,
            });
        }
    }
}

fn migration_table(rel: &str, value: &Value, backup: &mut Backup) {
    let Some(objects) = value.get("Objects").and_then(Value::as_array) else {
        backup.findings.push(Finding::error(
            rel,
            "not a migration table: expected {\"Objects\": [{\"Id\", \"DisplayName\", \"Type\"}, ...]}",
        ));
        return;
    };
    for (i, entry) in objects.iter().enumerate() {
        let id = entry.get("Id").and_then(Value::as_str);
        let name = entry.get("DisplayName").and_then(Value::as_str);
        let kind = entry.get("Type").and_then(Value::as_str);
        let (Some(id), Some(name), Some(kind)) = (id, name, kind) else {
            backup.findings.push(Finding::warning(
                rel,
                format!("/Objects/{i} lacks Id, DisplayName or Type; ignored"),
            ));
            continue;
        };
        let table = match kind {
            "Group" => &mut backup.group_names,
            "User" => &mut backup.user_names,
            other => {
                backup.findings.push(Finding::warning(
                    rel,
                    format!("/Objects/{i} has Type {other:?}; only Group and User are mapped"),
                ));
                continue;
            }
        };
        table
            .entry(id.to_ascii_lowercase())
            .or_insert_with(|| name.to_string());
    }
}

/// The kind of a plain Graph object, from its annotations or its shape.
fn graph_kind(object: &Value) -> Option<&'static Kind> {
    if let Some(context) = object.get("@odata.context").and_then(Value::as_str) {
        let context = context.split_once("$metadata#").map_or(context, |(_, c)| c);
        let collection = context.split(['(', '/']).next().unwrap_or(context);
        let path = context.split("/$entity").next().unwrap_or(context);
        for kind in kinds::all() {
            let kind_path = kind.path.trim_start_matches('/');
            if kind.shape == kinds::Shape::Collection
                && (path == kind_path || path.split('(').next() == Some(kind_path))
            {
                return Some(kind);
            }
        }
        if collection == "groups" {
            return kinds::by_name("group");
        }
    }
    if let Some(odata_type) = object.get("@odata.type").and_then(Value::as_str) {
        let name = odata_type
            .trim_start_matches('#')
            .trim_start_matches("microsoft.graph.");
        for kind in kinds::all() {
            if kind.shape == kinds::Shape::Collection
                && (kind.schema.root_type == name || kind.schema.concrete_types.contains(&name))
            {
                return Some(kind);
            }
        }
    }
    if object.get("conditions").is_some()
        && (object.get("grantControls").is_some() || object.get("sessionControls").is_some())
    {
        return kinds::by_name("conditionalAccessPolicy");
    }
    if object.get("securityEnabled").is_some() && object.get("mailNickname").is_some() {
        return kinds::by_name("group");
    }
    None
}

fn graph_json(files: &[(String, FileSource)], backup: &mut Backup) {
    for (rel, path) in files {
        if extension(rel).as_deref() != Some("json") {
            continue;
        }
        let Some(value) = read(rel, path, false, &mut backup.findings) else {
            continue;
        };
        let items: Vec<(String, Value)> = match value {
            Value::Object(mut page) if page.get("value").is_some_and(Value::is_array) => {
                let items = page.remove("value").and_then(|v| match v {
                    Value::Array(a) => Some(a),
                    _ => None,
                });
                items
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut item)| {
                        // Items of a page inherit its context (`...#groups`).
                        if let (Some(ctx), Some(obj)) =
                            (page.get("@odata.context"), item.as_object_mut())
                        {
                            obj.entry("@odata.context").or_insert_with(|| ctx.clone());
                        }
                        (format!("{rel}#/value/{i}"), item)
                    })
                    .collect()
            }
            other => vec![(rel.clone(), other)],
        };
        for (file, item) in items {
            let Some(body) = object_or_error(&file, item, &mut backup.findings) else {
                continue;
            };
            match graph_kind(&body) {
                Some(kind) if kinds::is_built_in(kind.name, &body) => {
                    backup.findings.push(Finding::warning(
                        &file,
                        "not imported: a built-in authentication strength (Microsoft's, the same in every tenant); a Conditional Access policy references it by its id",
                    ))
                }
                Some(kind) => backup.objects.push(ForeignObject {
                    file,
                    kind,
                    body,
                    key_hint: None,
                }),
                None => backup.findings.push(Finding::warning(
                    &file,
                    "not imported: neither @odata.context, @odata.type nor its properties say which resource kind this is",
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_strengths_in_a_graph_json_backup_are_left_out_with_a_finding() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let page = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/authenticationStrengthPolicies",
            "value": [
                {"id": "00000000-0000-0000-0000-000000000004", "displayName": "Phishing-resistant MFA", "policyType": "builtIn", "allowedCombinations": ["fido2"]},
                {"id": "5b1f0c4e-0000-4000-8000-000000000001", "displayName": "Keys", "policyType": "custom", "allowedCombinations": ["fido2"]}
            ]
        });
        std::fs::write(dir.path().join("strengths.json"), page.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let backup = read_backup(dir.path(), ImportFormat::GraphJson);
        let names: Vec<&str> = backup
            .objects
            .iter()
            .filter_map(|o| o.body.get("displayName").and_then(Value::as_str))
            .collect();
        assert_eq!(names, vec!["Keys"]);
        assert!(
            backup
                .findings
                .iter()
                .any(|f| f.message.contains("built-in authentication strength")),
            "{:?}",
            backup.findings
        );
    }

    #[test]
    fn graph_objects_are_recognised_by_context_type_or_shape() {
        let by_context = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies/$entity"});
        assert_eq!(
            graph_kind(&by_context).map(|k| k.name),
            Some("conditionalAccessPolicy")
        );
        let page_item =
            json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups"});
        assert_eq!(graph_kind(&page_item).map(|k| k.name), Some("group"));
        let by_type = json!({"@odata.type": "#microsoft.graph.countryNamedLocation"});
        assert_eq!(graph_kind(&by_type).map(|k| k.name), Some("namedLocation"));
        let by_shape = json!({"conditions": {}, "grantControls": null});
        assert_eq!(
            graph_kind(&by_shape).map(|k| k.name),
            Some("conditionalAccessPolicy")
        );
        assert_eq!(
            graph_kind(&json!({"displayName": "?"})).map(|k| k.name),
            None
        );
    }
}
