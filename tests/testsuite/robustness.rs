//! Property tests: whatever bytes land in a project's tenant files, baselines or templates,
//! `tenantform validate` never panics, exits 0 or 1, and every error and warning it reports
//! carries a `-->` location that points into a real file. Beside raw bytes and random text,
//! "almost valid" inputs (a valid file with bytes deleted, fragments inserted, lines duplicated
//! or swapped, keys replaced) reach the decoders' and the renderer's error paths, not only the
//! parsers' syntax errors.
//!
//! Each case runs the binary (about 0.35 s in a debug build), so case counts are small.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use crate::harness::{Project, fixture};

const BASE: &str = "valid/minimal";

/// Files of `fixtures/valid/minimal` that are replaced or mutated, and new files beside them
/// (every file under tenants/, baselines/ and templates/ is read, referenced or not).
const TARGETS: [&str; 7] = [
    "tenants/tenants.toml",
    "tenants/x.toml",
    "baselines/core.toml",
    "baselines/x.toml",
    "templates/block-countries.json.tera",
    "templates/group.json.tera",
    "templates/x.json.tera",
];

const TOML_TARGETS: [&str; 2] = ["tenants/tenants.toml", "baselines/core.toml"];
const TERA_TARGETS: [&str; 2] = [
    "templates/block-countries.json.tera",
    "templates/group.json.tera",
];

/// Keys, values and punctuation of tenantform's TOML: replacing a word with one of these or
/// inserting one turns a valid file into an unknown key, a wrong type, a bad kind, a missing
/// or duplicate field... rather than only a syntax error.
const TOML_FRAGMENTS: &[&str] = &[
    "kind",
    "knd",
    "template",
    "body",
    "vars",
    "params",
    "type",
    "typ",
    "default",
    "values",
    "items",
    "description",
    "controls",
    "parent",
    "allow",
    "extends",
    "baseline",
    "resources",
    "patch",
    "defaults",
    "id",
    "name",
    "baselines",
    "tenant",
    "overrides",
    "resource",
    "skip",
    "reason",
    "expires",
    "ring",
    "cloud",
    "tags",
    "credentials",
    "endpoints",
    "group",
    "namedLocation",
    "conditionalAccessPolicy",
    "deviceCompliancePolicyAssignment",
    "noSuchKind",
    "string",
    "bool",
    "integer",
    "uuid",
    "enum",
    "list",
    "core",
    "entra-foundation",
    "breakglass",
    "true",
    "false",
    "0",
    "-1",
    "99999999999999999999",
    "1.5",
    "nan",
    "inf",
    "1979-05-27",
    "2020-02-30",
    "\"\"",
    "\"x\"",
    "'x'",
    "[]",
    "{}",
    "[\"a\"]",
    "{ a = 1 }",
    "[[tenant]]",
    "[tenant.params]",
    "[resources.x]",
    "[params.y]",
    "[patch.breakglass]",
    "\n",
    "=",
    " = ",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    "#",
    "\\",
    "\"\"\"",
    "'''",
    "\u{0}",
    "\u{feff}",
    "é",
    "🔐",
    "\r",
];

/// Tera and JSON fragments for templates.
const TERA_FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{ params.state }}",
    "{{ vars.nope }}",
    "{{ params.countries | json }}",
    "{{ params.countries }}",
    "{{ ref(to=\"group:breakglass\") }}",
    "{{ ref(to=\"group:nope\") }}",
    "{{ ref(to=\"location:breakglass\") }}",
    "{{ \"x\" | ref }}",
    "{{ 1 / 0 }}",
    "{{ tenant.id }}",
    "{{ tenant }}",
    "{{ resource.kind }}",
    "{% for c in params.countries %}\"{{ c }}\",{% endfor %}",
    "{% endfor %}",
    "{% if %}",
    "{% if true %}",
    "{% endif %}",
    "{% set x = 1 %}",
    "{% include \"x\" %}",
    "{% include \"block-countries.json.tera\" %}",
    "{% extends \"group.json.tera\" %}",
    "{% raw %}",
    "{% endraw %}",
    "| json",
    "| upper",
    "| nope",
    "\"",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "null",
    "true",
    "1e999",
    "\"state\": \"on\",",
    "\"extra\": 1,",
    "\\",
    "\n",
    "é",
    "🔐",
    "\u{0}",
];

// ------------------------------------------------------------------------------------------------
// Mutations
// ------------------------------------------------------------------------------------------------

/// One edit of a valid file. Positions are taken modulo the file's length (or line count).
#[derive(Debug, Clone)]
enum Mutation {
    /// Delete a byte range (may split a UTF-8 character: the non-UTF-8 path is tested too).
    Delete { at: usize, len: usize },
    /// Insert text.
    Insert { at: usize, text: String },
    /// Repeat a line right after itself (duplicate keys, tables, resources).
    DuplicateLine { line: usize },
    /// Exchange two lines (keys move to another table).
    SwapLines { a: usize, b: usize },
    /// Replace the n-th word (identifier-like token) with other text.
    ReplaceWord { nth: usize, with: String },
    /// Cut the file short.
    Truncate { at: usize },
}

fn lines_of(text: &[u8]) -> Vec<Vec<u8>> {
    text.split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn word_spans(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_alphabetic() {
            let start = i;
            while i < text.len()
                && (text[i].is_ascii_alphanumeric() || text[i] == b'_' || text[i] == b'-')
            {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Delete { at, len } => {
            let at = at % (text.len() + 1);
            let end = (at + len).min(text.len());
            text.drain(at..end);
        }
        Mutation::Insert { at, text: insert } => {
            let at = at % (text.len() + 1);
            text.splice(at..at, insert.bytes());
        }
        Mutation::DuplicateLine { line } => {
            let mut lines = lines_of(text);
            if lines.is_empty() {
                return;
            }
            let i = line % lines.len();
            let mut copy = lines[i].clone();
            if !copy.ends_with(b"\n") {
                lines[i].push(b'\n');
                copy.push(b'\n');
            }
            lines.insert(i + 1, copy);
            *text = lines.concat();
        }
        Mutation::SwapLines { a, b } => {
            let mut lines = lines_of(text);
            if lines.is_empty() {
                return;
            }
            if let Some(last) = lines.last_mut()
                && !last.ends_with(b"\n")
            {
                last.push(b'\n');
            }
            let n = lines.len();
            lines.swap(a % n, b % n);
            *text = lines.concat();
        }
        Mutation::ReplaceWord { nth, with } => {
            let spans = word_spans(text);
            if spans.is_empty() {
                return;
            }
            let (start, end) = spans[nth % spans.len()];
            text.splice(start..end, with.bytes());
        }
        Mutation::Truncate { at } => {
            let at = at % (text.len() + 1);
            text.truncate(at);
        }
    }
}

fn fragment(list: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => prop::sample::select(list).prop_map(str::to_string),
        1 => "[\\[\\]{}=\"'.,#:%|\\\\ a-z0-9_\\-\n]{1,8}",
        1 => any::<String>().prop_map(|s| s.chars().take(4).collect::<String>()),
    ]
}

fn mutation(
    fragments: impl Strategy<Value = String> + Clone + 'static,
) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..48).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), fragments.clone()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), fragments).prop_map(|(nth, with)| Mutation::ReplaceWord { nth, with }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

// ------------------------------------------------------------------------------------------------
// The properties checked on every run
// ------------------------------------------------------------------------------------------------

/// `fixtures/valid/minimal` with `rel` replaced by `content`.
fn project_with(rel: &str, content: &[u8]) -> Project {
    let p = Project::from_fixture(BASE);
    p.file(rel, content);
    p
}

fn base_file(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(BASE).join(rel)).expect("fixture file")
}

/// A `file:line:column` location must name a file of the project (or a shipped one) and a
/// line and column inside it.
fn check_location(project: &Path, file: &str, line: u64, column: u64) -> Result<(), String> {
    if line == 0 || column == 0 {
        return Err(format!("location {file}:{line}:{column} is not 1-based"));
    }
    if file.starts_with("<shipped>/") {
        return Ok(());
    }
    let bytes = std::fs::read(project.join(file))
        .map_err(|e| format!("location names {file}, which cannot be read: {e}"))?;
    let lines = bytes.split(|b| *b == b'\n').count() as u64;
    if line > lines {
        return Err(format!(
            "location {file}:{line}:{column} is past the file's {lines} line(s)"
        ));
    }
    Ok(())
}

/// Human output: exit 0 or 1, no panic, every diagnostic has a `-->` location, the summary
/// counts match the diagnostics, and exit 1 exactly when there is an error.
fn check_text(p: &Project) -> Result<(), String> {
    let out = p.cmd(&["validate"]).run();
    let all = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    if all.contains("panicked") {
        return Err(format!("panic\n{all}"));
    }
    if out.code != 0 && out.code != 1 {
        return Err(format!("exit code {}\n{all}", out.code));
    }
    // Diagnostic blocks: from an `error[TFnnn]:` / `warning[TFnnn]:` header to the next header
    // or progress / summary line.
    let mut blocks: Vec<(bool, Vec<&str>)> = Vec::new();
    for line in out.stderr.lines() {
        let header_error = line.starts_with("error[TF");
        let header_warning = line.starts_with("warning[TF");
        if header_error || header_warning {
            blocks.push((header_error, vec![line]));
        } else if line.starts_with("error") || line.starts_with("warning") {
            return Err(format!("a diagnostic without a TF code: {line:?}\n{all}"));
        } else if line.starts_with("validate: ")
            || line.starts_with("  ok ")
            || line.starts_with("  FAILED ")
        {
            blocks.push((false, Vec::new()));
        } else if let Some((_, block)) = blocks.last_mut()
            && !block.is_empty()
        {
            block.push(line);
        }
    }
    blocks.retain(|(_, b)| !b.is_empty());
    for (_, block) in &blocks {
        let Some(location) = block.iter().find_map(|l| l.strip_prefix("  --> ")) else {
            return Err(format!("no `-->` location for {:?}\n{all}", block[0]));
        };
        let mut parts = location.rsplitn(3, ':');
        let column = parts.next().and_then(|c| c.parse::<u64>().ok());
        let line = parts.next().and_then(|c| c.parse::<u64>().ok());
        let (Some(column), Some(line), Some(file)) = (column, line, parts.next()) else {
            return Err(format!("malformed location {location:?}\n{all}"));
        };
        check_location(p.path(), file, line, column).map_err(|e| format!("{e}\n{all}"))?;
    }
    let errors = blocks.iter().filter(|(e, _)| *e).count();
    let warnings = blocks.len() - errors;
    let summary = format!("{errors} error{}, ", if errors == 1 { "" } else { "s" });
    let summary_w = format!("{warnings} warning{}", if warnings == 1 { "" } else { "s" });
    let last = out.stderr.lines().last().unwrap_or("");
    if !last.starts_with("validate: ") || !last.contains(&summary) || !last.contains(&summary_w) {
        return Err(format!(
            "summary {last:?} does not count {errors} error(s) and {warnings} warning(s)\n{all}"
        ));
    }
    if (errors > 0) != (out.code == 1) {
        return Err(format!("{errors} error(s) but exit {}\n{all}", out.code));
    }
    Ok(())
}

/// JSON output: the same properties on `validate --format json`.
fn check_json(p: &Project) -> Result<(), String> {
    let out = p.cmd(&["validate", "--format", "json"]).run();
    let all = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    if all.contains("panicked") {
        return Err(format!("panic\n{all}"));
    }
    if out.code != 0 && out.code != 1 {
        return Err(format!("exit code {}\n{all}", out.code));
    }
    let doc: Value =
        serde_json::from_str(&out.stdout).map_err(|e| format!("stdout is not JSON: {e}\n{all}"))?;
    let diagnostics = doc["diagnostics"]
        .as_array()
        .ok_or_else(|| format!("no diagnostics list\n{all}"))?;
    let mut errors = 0;
    for d in diagnostics {
        match d["severity"].as_str() {
            Some("error") => errors += 1,
            Some("warning") => {}
            other => return Err(format!("severity {other:?}\n{all}")),
        }
        if !d["code"].as_str().is_some_and(|c| c.starts_with("TF")) {
            return Err(format!("code {}\n{all}", d["code"]));
        }
        let location = &d["location"];
        let (Some(file), Some(line), Some(column)) = (
            location["file"].as_str(),
            location["line"].as_u64(),
            location["column"].as_u64(),
        ) else {
            return Err(format!("diagnostic without a location: {d}\n{all}"));
        };
        check_location(p.path(), file, line, column).map_err(|e| format!("{e}\n{all}"))?;
    }
    if doc["errors"].as_u64() != Some(errors) {
        return Err(format!(
            "errors = {} but {errors} listed\n{all}",
            doc["errors"]
        ));
    }
    if (errors > 0) != (out.code == 1) {
        return Err(format!("{errors} error(s) but exit {}\n{all}", out.code));
    }
    Ok(())
}

fn check(p: &Project, json: bool) -> Result<(), TestCaseError> {
    let result = if json { check_json(p) } else { check_text(p) };
    result.map_err(TestCaseError::fail)
}

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    // A failure prints the input; don't write regression files into the shared checkout, and
    // keep shrinking (one binary run per step) bounded.
    config.failure_persistence = None;
    config.max_shrink_iters = 48;
    config
}

// ------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(20))]

    /// Raw bytes (mostly not UTF-8) as any project file.
    #[test]
    fn arbitrary_bytes_in_any_project_file(
        target in prop::sample::select(&TARGETS[..]),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        json in any::<bool>(),
    ) {
        check(&project_with(target, &bytes), json)?;
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// Random text: arbitrary Unicode, or text made of TOML / Tera punctuation and words.
    #[test]
    fn arbitrary_text_in_any_project_file(
        target in prop::sample::select(&TARGETS[..]),
        text in prop_oneof![
            any::<String>(),
            "([\\[\\]{}=\"'.,#:%|\\\\ \n]|[a-z_]{1,6}|[0-9]{1,3}){0,60}",
        ],
        json in any::<bool>(),
    ) {
        check(&project_with(target, text.as_bytes()), json)?;
    }
}

proptest! {
    #![proptest_config(config(28))]

    /// A valid baseline or tenants file with a few edits: reaches the decoders (unknown keys,
    /// wrong types, bad kinds and references, duplicates, missing fields).
    #[test]
    fn almost_valid_toml(
        target in prop::sample::select(&TOML_TARGETS[..]),
        edits in prop::collection::vec(mutation(fragment(TOML_FRAGMENTS)), 1..4),
        json in any::<bool>(),
    ) {
        let mut text = base_file(target);
        for edit in &edits {
            apply(&mut text, edit);
        }
        check(&project_with(target, &text), json)?;
    }
}

proptest! {
    #![proptest_config(config(20))]

    /// A valid template with a few edits: reaches Tera's parser and renderer, the JSON check,
    /// references and the schema validation.
    #[test]
    fn almost_valid_template(
        target in prop::sample::select(&TERA_TARGETS[..]),
        edits in prop::collection::vec(mutation(fragment(TERA_FRAGMENTS)), 1..4),
        json in any::<bool>(),
    ) {
        let mut text = base_file(target);
        for edit in &edits {
            apply(&mut text, edit);
        }
        check(&project_with(target, &text), json)?;
    }
}

/// The mutations themselves do what they say (so the properties above test what they claim).
#[test]
fn mutations_edit_as_described() {
    let mut t = b"a = 1\nb = 2\n".to_vec();
    apply(&mut t, &Mutation::DuplicateLine { line: 1 });
    assert_eq!(t, b"a = 1\nb = 2\nb = 2\n");
    apply(&mut t, &Mutation::SwapLines { a: 0, b: 2 });
    assert_eq!(t, b"b = 2\nb = 2\na = 1\n");
    apply(
        &mut t,
        &Mutation::ReplaceWord {
            nth: 2,
            with: "kind".into(),
        },
    );
    assert_eq!(t, b"b = 2\nb = 2\nkind = 1\n");
    apply(&mut t, &Mutation::Delete { at: 0, len: 6 });
    assert_eq!(t, b"b = 2\nkind = 1\n");
    apply(
        &mut t,
        &Mutation::Insert {
            at: 5,
            text: "]".into(),
        },
    );
    assert_eq!(t, b"b = 2]\nkind = 1\n");
    apply(&mut t, &Mutation::Truncate { at: 3 });
    assert_eq!(t, b"b =");
    // The valid base really is valid: every failure above is caused by the edits.
    check_text(&Project::from_fixture(BASE)).expect("the base project validates");
}
