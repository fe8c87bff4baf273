//! Import, last step: cleaned objects → the baseline's files.
//!
//! Every object becomes a resource whose key comes from its display name. Group and
//! named-location ids in the kind's reference slots (`tenantform kinds`) become references to
//! the imported groups and locations: groups by the ids in `Groups/*.json` and in
//! IntuneManagement's `MigrationTable.json` (a group only named there is created as a plain
//! security group, as IntuneManagement does), locations by the ids inside `NamedLocations/*.json`.
//! Ids that point outside the export (users, groups and locations not exported, terms of use,
//! custom authentication strengths) become `uuid` parameters without a default, so each tenant
//! must give its own, and the baseline lists them in a comment. `%OrganizationId%` (the
//! exporting tenant) becomes `tenant.id`. Role template and application ids stay as they are.
//!
//! Templates are canonical JSON (keys sorted, two-space indent) with `{{ ... }}` only where a
//! reference, parameter or tenant id goes; text that Tera would read as syntax is passed in
//! through `vars`, never written into the template. Input: a [`Backup`]. Output: [`Generated`]:
//! files as text, findings and counts; the caller writes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::assignments;
use super::clean::{self, Unsupported};
use super::layout::{Backup, ForeignObject};
#[cfg(test)]
use super::map::tenant_text;
use super::map::{Mapper, SLOT, Templated, tera_like};
use super::{Finding, ImportFormat};
use crate::kinds::{self, Kind};
use crate::source::model::is_guid;

/// The files of an imported baseline, before they are written.
#[derive(Debug, Default)]
pub struct Generated {
    /// `(path relative to the output folder, text)`, sorted by path.
    pub files: Vec<(String, String)>,
    /// Problems found while mapping.
    pub findings: Vec<Finding>,
    /// Resources per kind.
    pub resources: BTreeMap<&'static str, usize>,
    /// Parameters declared for ids outside the export.
    pub parameters: usize,
}

/// Where the objects of a baseline came from, as its comments and descriptions say it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `Imported` or `Exported`: starts each template's header and each resource's description.
    pub verb: &'static str,
    /// The command that wrote the baseline (`tenantform import --from graph-json`).
    pub command: String,
    /// The source, as the baseline's header names it (a backup folder's name, a tenant).
    pub source: String,
    /// The baseline's description.
    pub description: String,
    /// Text that stands for "this tenant" in the source, and the template expression each
    /// becomes (`%OrganizationId%` → `tenant.id`); where two start at one place, the first
    /// listed wins.
    pub tenant_values: Vec<(String, String)>,
}

impl Origin {
    /// The origin of a backup folder `source` in `format`.
    pub fn backup(format: ImportFormat, source: &Path) -> Origin {
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| source.display().to_string());
        let tool = match format {
            ImportFormat::IntuneCd => "IntuneCD",
            ImportFormat::IntuneManagement => "IntuneManagement",
            ImportFormat::GraphJson => "Graph JSON",
        };
        Origin {
            verb: "Imported",
            command: format!("tenantform import --from {}", format.as_str()),
            description: format!("Imported from {tool} backup {name}"),
            source: name,
            tenant_values: vec![("%OrganizationId%".to_string(), "tenant.id".to_string())],
        }
    }
}

/// Group properties worth carrying to another tenant (what IntuneManagement keeps when it
/// creates a group from its export); the rest is the source tenant's state.
const GROUP_PROPERTIES: &[&str] = &[
    "description",
    "displayName",
    "groupTypes",
    "isAssignableToRole",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "securityEnabled",
    "uniqueName",
    "visibility",
];

/// A resource on its way to the baseline.
#[derive(Debug)]
struct Resource {
    kind: &'static Kind,
    file: String,
    key: String,
    /// The key of the resource this one hangs off (an assignment set's policy).
    parent: Option<String>,
    body: Value,
    /// Properties not imported, shown in the template's header comment.
    left_out: Vec<String>,
}

fn slug(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if out.len() > 60 {
        out.truncate(60);
        out = out.trim_end_matches('-').to_string();
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out = if out.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}-{out}")
        };
    }
    out
}

fn display_name(body: &Value) -> Option<&str> {
    ["displayName", "name"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
}

fn match_identity(kind: &Kind, body: &Value) -> Option<String> {
    if kind.match_key.is_empty() {
        return Some(String::new());
    }
    let parts: Option<Vec<String>> = kind
        .match_key
        .iter()
        .map(|k| {
            body.get(*k)
                .filter(|v| !v.is_null())
                .map(|v| v.to_string().to_lowercase())
        })
        .collect();
    parts.map(|p| p.join("|"))
}

/// Every string and every object key in `value`.
fn strings(value: &Value, out: &mut Vec<String>, keys: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out, keys)),
        Value::Object(o) => o.iter().for_each(|(k, v)| {
            keys.push(k.clone());
            strings(v, out, keys);
        }),
        _ => {}
    }
}

fn comment_text(text: &str) -> String {
    text.replace("#}", "# }").replace('\n', " ")
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn template_text(resource: &Resource, body: &Value, slots: &[String], origin: &Origin) -> String {
    let mut text = format!(
        "{{# {} by `{}` from {}.\n",
        origin.verb,
        origin.command,
        comment_text(&resource.file)
    );
    for line in &resource.left_out {
        let _ = writeln!(text, "   {}", comment_text(line));
    }
    text.push_str("#}\n");
    let mut json = Vec::new();
    let _ = crate::canonical::write_pretty(&mut json, body);
    let mut json = String::from_utf8_lossy(&json).into_owned();
    for (i, expression) in slots.iter().enumerate() {
        json = json.replace(&format!("\"{SLOT}{i}@@\""), &format!("\"{expression}\""));
    }
    text.push_str(&json);
    text.push('\n');
    text
}

/// One cleaned object: the object, its source id, its body, what was left out of it, and its
/// assignment set (kind, body, left out) when it had one.
type Cleaned = (
    ForeignObject,
    Option<String>,
    Value,
    Vec<String>,
    Option<(&'static Kind, Value, Vec<String>)>,
);

/// Why `value` cannot be imported as data (a key or text that reads as template syntax or a
/// tenantform placeholder), if it cannot.
fn not_data(value: &Value) -> Option<String> {
    let (mut all, mut keys) = (Vec::new(), Vec::new());
    strings(value, &mut all, &mut keys);
    if let Some(bad) = keys.iter().find(|k| tera_like(k) || k.contains(SLOT)) {
        return Some(format!(
            "the property name {bad:?} is not a Graph property (it reads as template syntax); fix or remove the file"
        ));
    }
    all.extend(keys);
    all.iter()
        .find(|s| s.contains("${ref:") || s.contains(SLOT))
        .map(|bad| format!("the text {bad:?} looks like a tenantform reference placeholder; it cannot be imported as data"))
}

/// Report the properties of a `kind` body (from `file`) that its API version lacks; returns
/// the lines for the template's header comment.
fn unsupported(
    kind: &Kind,
    file: &str,
    unsupported: &[Unsupported],
    findings: &mut Vec<Finding>,
) -> Vec<String> {
    let mut left_out = Vec::new();
    for Unsupported { pointer, value } in unsupported {
        let shown = serde_json::to_string(value).unwrap_or_default();
        findings.push(Finding::warning(
            file,
            format!(
                "`{pointer}` = {shown} is not in Graph {}'s {} (a beta-only feature?); tenantform deploys this kind to {}, so it is left out of the body (see the template's header comment)",
                kind.api_version.segment(),
                kind.schema.root_type,
                kind.api_version.segment(),
            ),
        ));
        left_out.push(format!(
            "not deployed, not in Graph {}: {pointer} = {shown}",
            kind.api_version.segment()
        ));
    }
    left_out
}

/// Inline entities whose `id` the service makes (a compliance policy's scheduled actions and
/// their configurations): the source's are dropped, as IntuneCD does; Graph gives new ones on
/// create. Other inline ids are data (an authentication method's `includeTargets[].id` is a
/// group id or `all_users`) and stay.
const SERVER_ID_ENTITIES: &[&str] = &["scheduledActionsForRule", "scheduledActionConfigurations"];

/// Drop the [`SERVER_ID_ENTITIES`] ids from a body.
fn strip_inline_ids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if SERVER_ID_ENTITIES.contains(&key.as_str())
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Value::Object(entity) = item {
                            entity.remove("id");
                        }
                    }
                }
                strip_inline_ids(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_inline_ids),
        _ => {}
    }
}

/// Turn a read backup into the files of baseline `name`.
pub fn generate(backup: Backup, origin: &Origin, name: &str) -> Generated {
    let mut out = Generated {
        findings: backup.findings,
        ..Generated::default()
    };
    // Assignments inside policies become their own resources (assignments.rs).
    let mut objects = backup.objects;
    let extracted = assignments::split(&mut objects, &mut out.findings);
    let sets = extracted
        .sets
        .into_iter()
        .chain(std::iter::repeat_n(None, extracted.groups.len()));
    // Clean every object by its kind's schema.
    let mut schemas: BTreeMap<&str, Option<Value>> = BTreeMap::new();
    let mut cleaned: Vec<Cleaned> = Vec::new();
    for (object, set) in objects.into_iter().chain(extracted.groups).zip(sets) {
        let schema = schemas
            .entry(object.kind.name)
            .or_insert_with(|| clean::schema_for(object.kind));
        let Some(schema) = schema.as_ref() else {
            out.findings.push(Finding::error(
                &object.file,
                format!("no schema is embedded for kind {}", object.kind.name),
            ));
            continue;
        };
        let set_body = set.as_ref().map_or(Value::Null, |s| s.body.clone());
        if let Some(problem) = [&object.body, &set_body].into_iter().find_map(not_data) {
            out.findings.push(Finding::error(&object.file, problem));
            continue;
        }
        let source_id = object
            .body
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let result = clean::clean(schema, object.body.clone());
        let mut left_out = Vec::new();
        left_out.extend(unsupported(
            object.kind,
            &object.file,
            &result.unsupported,
            &mut out.findings,
        ));
        for pointer in &result.custom_refs {
            out.findings.push(Finding::warning(
                &object.file,
                format!("`{pointer}` is IntuneManagement's reference by name; not imported (link the object yourself)"),
            ));
        }
        let mut body = result.body;
        strip_inline_ids(&mut body);
        if object.kind.name == "group"
            && let Value::Object(map) = &mut body
        {
            let dropped: Vec<String> = map
                .iter()
                .filter(|(k, v)| !GROUP_PROPERTIES.contains(&k.as_str()) && !clean_empty(v))
                .map(|(k, _)| k.clone())
                .collect();
            map.retain(|k, _| GROUP_PROPERTIES.contains(&k.as_str()));
            if !dropped.is_empty() {
                left_out.push(format!(
                    "source tenant state, not imported: {}",
                    dropped.join(", ")
                ));
            }
        }
        if object.kind.name == "conditionalAccessPolicy" {
            // Graph takes the strength by id (what IntuneCD's updater sends, too).
            if let Some(strength) = body.pointer_mut("/grantControls/authenticationStrength")
                && let Some(id) = strength.get("id").cloned()
            {
                *strength = json!({ "id": id });
            }
        }
        let assignment = set.and_then(|set| {
            let schema = schemas
                .entry(set.kind.name)
                .or_insert_with(|| clean::schema_for(set.kind))
                .as_ref()?;
            let result = clean::clean(schema, set.body);
            let left_out = unsupported(
                set.kind,
                &object.file,
                &result.unsupported,
                &mut out.findings,
            );
            Some((set.kind, result.body, left_out))
        });
        cleaned.push((object, source_id, body, left_out, assignment));
    }

    // Groups: one resource per source id, the name MigrationTable.json gives winning.
    let mut resources: Vec<Resource> = Vec::new();
    let mut group_ids: Vec<(String, usize)> = Vec::new();
    let mut location_ids: Vec<(String, usize)> = Vec::new();
    let mut by_group_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (object, id, ..)) in cleaned.iter().enumerate() {
        if let (Some(id), "group") = (id, object.kind.name) {
            by_group_id.entry(id.clone()).or_default().push(i);
        }
    }
    let mut skip: BTreeSet<usize> = BTreeSet::new();
    for (id, indexes) in &by_group_id {
        if indexes.len() < 2 {
            continue;
        }
        let table_name = backup.group_names.get(id);
        let keep = indexes
            .iter()
            .copied()
            .find(|i| display_name(&cleaned[*i].2).map(str::to_string).as_ref() == table_name)
            .unwrap_or(indexes[0]);
        for other in indexes.iter().filter(|i| **i != keep) {
            out.findings.push(Finding::warning(
                &cleaned[*other].0.file,
                format!(
                    "group {id} is also {} (renamed?); imported once, as {:?}",
                    cleaned[keep].0.file,
                    display_name(&cleaned[keep].2).unwrap_or("?")
                ),
            ));
            skip.insert(*other);
        }
    }
    // Duplicates by match key (IntuneCD `__<id>` copies, one object exported twice).
    let mut seen: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for (i, (object, _, body, ..)) in cleaned.iter().enumerate() {
        if skip.contains(&i) || object.kind.name == "group" {
            continue; // groups are keyed by uniqueName, which import derives below
        }
        let Some(identity) = match_identity(object.kind, body) else {
            out.findings.push(Finding::error(
                &object.file,
                format!(
                    "has no {} to identify it by (a {} needs it)",
                    object.kind.match_key.join(" and "),
                    object.kind.name
                ),
            ));
            skip.insert(i);
            continue;
        };
        match seen.get(&(object.kind.name, identity.clone())) {
            Some(first) if cleaned[*first].2 == *body => {
                out.findings.push(Finding::warning(
                    &object.file,
                    format!("same object as {}; imported once", cleaned[*first].0.file),
                ));
                skip.insert(i);
            }
            Some(first) => {
                out.findings.push(Finding::error(
                    &object.file,
                    format!(
                        "another {} has the same {} ({}) with other settings: {}; keep one of the two files",
                        object.kind.name,
                        object.kind.match_key.join(" and "),
                        identity,
                        cleaned[*first].0.file
                    ),
                ));
                skip.insert(i);
            }
            None => {
                seen.insert((object.kind.name, identity), i);
            }
        }
    }

    // Keys, unique over the baseline, assigned in a sorted order.
    let mut order: Vec<usize> = (0..cleaned.len()).filter(|i| !skip.contains(i)).collect();
    order.sort_by_key(|i| {
        let (object, _, body, ..) = &cleaned[*i];
        (
            object.kind.name,
            display_name(body)
                .or(object.key_hint.as_deref())
                .unwrap_or("")
                .to_string(),
            object.file.clone(),
        )
    });
    let mut used_keys: BTreeSet<String> = BTreeSet::new();
    let mut unique = |base: String| {
        let mut key = base.clone();
        let mut n = 2;
        while used_keys.contains(&key) {
            key = format!("{base}-{n}");
            n += 1;
        }
        used_keys.insert(key.clone());
        key
    };
    for i in order {
        let (object, id, body, left_out, assignment) = &cleaned[i];
        let key = unique(slug(
            display_name(body)
                .or(object.key_hint.as_deref())
                .unwrap_or(""),
            object.kind.ref_prefix,
        ));
        match (object.kind.name, id) {
            ("group", Some(id)) => group_ids.push((id.clone(), resources.len())),
            ("namedLocation", Some(id)) => location_ids.push((id.clone(), resources.len())),
            _ => {}
        }
        resources.push(Resource {
            kind: object.kind,
            file: object.file.clone(),
            key: key.clone(),
            parent: None,
            body: body.clone(),
            left_out: left_out.clone(),
        });
        if let Some((kind, body, left_out)) = assignment {
            resources.push(Resource {
                kind,
                file: object.file.clone(),
                key: unique(format!("{key}-assignments")),
                parent: Some(key),
                body: body.clone(),
                left_out: left_out.clone(),
            });
        }
    }
    // Groups only named in the migration table: created as plain security groups.
    let known: BTreeSet<String> = group_ids.iter().map(|(id, _)| id.clone()).collect();
    let group_kind = kinds::by_name("group").expect("invariant: group is a registered kind");
    for (id, group_name) in &backup.group_names {
        if known.contains(id) || !is_guid(id) {
            continue;
        }
        let key = unique(slug(group_name, "group"));
        group_ids.push((id.clone(), resources.len()));
        resources.push(Resource {
            kind: group_kind,
            file: "MigrationTable.json".to_string(),
            key,
            parent: None,
            body: json!({"displayName": group_name, "mailEnabled": false, "securityEnabled": true}),
            left_out: vec![format!(
                "group {id} is named in MigrationTable.json without a Groups/ file: created as a plain security group"
            )],
        });
    }
    // Groups need the match key and the properties a create requires.
    for r in resources.iter_mut().filter(|r| r.kind.name == "group") {
        if let Value::Object(map) = &mut r.body {
            for (k, v) in [
                ("uniqueName", json!(r.key)),
                ("mailNickname", json!(r.key)),
                ("mailEnabled", json!(false)),
                ("securityEnabled", json!(true)),
            ] {
                if map.get(k).is_none_or(Value::is_null) {
                    map.insert(k.to_string(), v);
                }
            }
        }
    }

    let mut mapper = Mapper {
        groups: group_ids
            .iter()
            .map(|(id, i)| (id.clone(), resources[*i].key.clone()))
            .collect(),
        locations: location_ids
            .iter()
            .map(|(id, i)| (id.clone(), resources[*i].key.clone()))
            .collect(),
        user_names: backup.user_names,
        group_names: backup.group_names,
        filter_names: extracted.filter_names,
        params: BTreeMap::new(),
        param_by_id: BTreeMap::new(),
        tenant_values: origin.tenant_values.clone(),
    };

    resources.sort_by(|a, b| (a.kind.name, &a.key).cmp(&(b.kind.name, &b.key)));
    let mut toml_resources = String::new();
    for resource in &resources {
        let mut templated = Templated {
            slots: Vec::new(),
            vars: BTreeMap::new(),
        };
        let body = templated.walk(
            &mut mapper,
            resource.kind,
            &resource.key,
            &mut Vec::new(),
            resource.body.clone(),
        );
        let path = format!(
            "templates/{name}/{}/{}.json.tera",
            resource.kind.ref_prefix, resource.key
        );
        out.files.push((
            path,
            template_text(resource, &body, &templated.slots, origin),
        ));
        *out.resources.entry(resource.kind.name).or_default() += 1;
        let _ = write!(
            toml_resources,
            "\n[resources.{}]\nkind = {}\n{}template = {}\ndescription = {}\n",
            resource.key,
            toml_string(resource.kind.name),
            resource
                .parent
                .as_ref()
                .map(|p| format!("parent = {}\n", toml_string(p)))
                .unwrap_or_default(),
            toml_string(&format!(
                "{name}/{}/{}.json.tera",
                resource.kind.ref_prefix, resource.key
            )),
            toml_string(&format!("{} from {}", origin.verb, resource.file)),
        );
        if !templated.vars.is_empty() {
            let vars: Vec<String> = templated
                .vars
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_string(v)))
                .collect();
            let _ = writeln!(toml_resources, "vars = {{ {} }}", vars.join(", "));
        }
    }

    let mut toml = format!(
        "# Generated by `{}` from {}.\n",
        origin.command,
        comment_text(&origin.source)
    );
    if !mapper.params.is_empty() {
        toml.push_str(
            "#\n# Ids that point outside the export are parameters without a default: set each one\n# per tenant in [tenant.params].\n",
        );
        for (param, p) in &mapper.params {
            let users: Vec<&str> = p.used_by.iter().map(String::as_str).collect();
            let _ = writeln!(
                toml,
                "#   {param}: {} (used by {})",
                comment_text(&p.what),
                users.join(", ")
            );
        }
    }
    let warnings: Vec<&Finding> = out
        .findings
        .iter()
        .filter(|f| f.severity == super::Severity::Warning)
        .collect();
    if !warnings.is_empty() {
        toml.push_str("#\n# Import warnings:\n");
        let mut sorted = warnings;
        sorted.sort();
        for f in sorted {
            let _ = writeln!(
                toml,
                "#   {}: {}",
                comment_text(&f.file),
                comment_text(&f.message)
            );
        }
    }
    let _ = write!(
        toml,
        "\n[baseline]\ndescription = {}\n",
        toml_string(&origin.description)
    );
    for (param, p) in &mapper.params {
        let _ = write!(
            toml,
            "\n[params.{param}]\ntype = \"uuid\"\ndescription = {}\n",
            toml_string(&format!(
                "This tenant's id for the source's {}: not in the export",
                p.what
            ))
        );
    }
    toml.push_str(&toml_resources);
    out.parameters = mapper.params.len();
    out.files.push((format!("baselines/{name}.toml"), toml));
    out.files.sort();
    out
}

fn clean_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_resource_keys_whatever_the_name() {
        for (name, expected) in [
            (
                "CA001 - Require MFA for admins",
                "ca001-require-mfa-for-admins",
            ),
            ("  --Café  Wi-Fi ", "caf-wi-fi"),
            ("123 Block", "ca-policy-123-block"),
            ("", "ca-policy"),
            ("😀", "ca-policy"),
        ] {
            let key = slug(name, "ca-policy");
            assert_eq!(key, expected);
            assert!(crate::source::model::is_resource_key(&key), "{key}");
        }
        let long = slug(&"a".repeat(200), "x");
        assert!(long.len() <= 60);
    }

    #[test]
    fn a_beta_assignment_filter_named_by_intunecd_becomes_a_parameter() {
        let kind = kinds::by_name("configurationPolicy").expect("kind");
        let backup = Backup {
            objects: vec![ForeignObject {
                file: "Settings Catalog/Edge_mdm.json".into(),
                kind,
                body: json!({"name": "Edge", "platforms": "windows10", "technologies": "mdm", "settings": [],
                    "assignments": [{"target": {
                        "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                        "deviceAndAppManagementAssignmentFilterType": "include",
                        "deviceAndAppManagementAssignmentFilterId": "Corporate devices"}}]}),
                key_hint: None,
            }],
            ..Backup::default()
        };
        let generated = generate(
            backup,
            &Origin::backup(ImportFormat::IntuneCd, Path::new("b")),
            "imported",
        );
        let file = |suffix: &str| {
            generated
                .files
                .iter()
                .find(|(p, _)| p.ends_with(suffix))
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| panic!("{suffix}: {:?}", generated.files))
        };
        let baseline = file("imported.toml");
        assert!(
            baseline.contains("assignment filter named \"Corporate devices\" in the source (used by edge-assignments)"),
            "{baseline}"
        );
        assert!(baseline.contains("parent = \"edge\""), "{baseline}");
        let template = file("edge-assignments.json.tera");
        assert!(
            template.contains(
                "\"deviceAndAppManagementAssignmentFilterId\": \"{{ params.assignment_filter_"
            ),
            "{template}"
        );
    }

    #[test]
    fn tenant_values_become_expressions_and_the_rest_stays_json_text() {
        let values = vec![
            (
                "5d3b2c1a-0000-4000-8000-000000000001".to_string(),
                "tenant.id".to_string(),
            ),
            (
                "contoso.onmicrosoft.com".to_string(),
                "tenant.domain".to_string(),
            ),
        ];
        assert_eq!(tenant_text("no tenant here", &values), None);
        assert_eq!(
            tenant_text(
                "admin@contoso.onmicrosoft.com \"in\" 5d3b2c1a-0000-4000-8000-000000000001",
                &values
            )
            .as_deref(),
            Some("admin@{{ tenant.domain }} \\\"in\\\" {{ tenant.id }}")
        );
        let import = Origin::backup(ImportFormat::IntuneManagement, Path::new("x"));
        assert_eq!(
            tenant_text("a%OrganizationId%b", &import.tenant_values).as_deref(),
            Some("a{{ tenant.id }}b")
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::import::layout::ForeignObject;
    use proptest::prelude::*;

    /// Strings that stress the template writer: Tera syntax, placeholders, quotes, unicode.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 {}%#\"\\\\$:\u{e9}\u{2013}-]{0,24}",
            Just("{{ params.x }}".to_string()),
            Just("{% raw %}".to_string()),
            Just("{#".to_string()),
            Just("%OrganizationId%".to_string()),
            Just("a%OrganizationId%\"b".to_string()),
            Just("5d3b2c1a-9e8f-4a7b-8c6d-1e2f3a4b5c6d".to_string()),
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(text(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The template without its header comment and with every expression import may write
    /// replaced by a string: what remains must be JSON (no stray Tera syntax, no broken quotes).
    fn template_is_json_around_its_slots(text: &str) -> Result<Value, String> {
        let body = text.split_once("#}\n").map_or(text, |(_, b)| b);
        let mut out = String::new();
        let mut rest = body;
        while let Some(start) = rest.find("{{ ") {
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            let end = after.find(" }}").ok_or("unclosed expression")?;
            let expression = &after[3..end];
            let known = expression == "tenant.id"
                || expression.starts_with("params.")
                || expression.starts_with("vars.text_")
                || (expression.starts_with("ref(to=\"") && expression.ends_with("\")"));
            if !known {
                return Err(format!("unexpected expression {expression:?}"));
            }
            out.push('X');
            rest = &after[end + 3..];
        }
        out.push_str(rest);
        for opener in ["{%", "{#"] {
            if out.contains(opener) {
                return Err(format!("stray {opener}"));
            }
        }
        serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_object_gives_templates_that_are_json_around_their_slots(
            name in text(),
            conditions in json(),
            extra in json(),
        ) {
            let kind = kinds::by_name("conditionalAccessPolicy").expect("kind");
            let group = kinds::by_name("group").expect("kind");
            let backup = Backup {
                objects: vec![
                    ForeignObject {
                        file: "p.json".into(),
                        kind,
                        body: json!({"displayName": name, "state": "enabled", "conditions": conditions, "extra": extra,
                            "grantControls": {"termsOfUse": ["5d3b2c1a-9e8f-4a7b-8c6d-1e2f3a4b5c6d"]}}),
                        key_hint: None,
                    },
                    ForeignObject {
                        file: "g.json".into(),
                        kind: group,
                        body: json!({"id": "5d3b2c1a-9e8f-4a7b-8c6d-1e2f3a4b5c6d", "displayName": name, "description": extra}),
                        key_hint: None,
                    },
                ],
                ..Backup::default()
            };
            let generated = generate(
                backup,
                &Origin::backup(ImportFormat::GraphJson, Path::new("b")),
                "imported",
            );
            for (path, text) in &generated.files {
                if path.ends_with(".tera") {
                    prop_assert!(template_is_json_around_its_slots(text).is_ok(), "{path}: {:?}\n{text}", template_is_json_around_its_slots(text));
                } else {
                    prop_assert!(text.parse::<toml::Table>().is_ok(), "{path}:\n{text}");
                }
            }
        }
    }
}
