//! The baselines, templates and JSON Schemas shipped inside the binary (embedded by `build.rs`
//! from `baselines/`, `templates/` and `src/schema/generated/`).
//!
//! Input: nothing. Output: file paths and texts, looked up by `project` and `validate`.

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Prefix shown before shipped files in diagnostics (`<shipped>/baselines/entra-foundation.toml`).
pub const SHIPPED_PREFIX: &str = "<shipped>";

/// Shipped baselines as `(name, text)`, sorted by name.
pub fn baselines() -> impl Iterator<Item = (&'static str, &'static str)> {
    SHIPPED_FILES.iter().filter_map(|(path, text)| {
        let name = path.strip_prefix("baselines/")?.strip_suffix(".toml")?;
        (!name.contains('/')).then_some((name, *text))
    })
}

/// Shipped templates as `(path under templates/, text)`, sorted by path.
pub fn templates() -> impl Iterator<Item = (&'static str, &'static str)> {
    SHIPPED_FILES
        .iter()
        .filter_map(|(path, text)| Some((path.strip_prefix("templates/")?, *text)))
}

/// Every shipped file under `baselines/` and `templates/`, as `(path, text)`.
pub fn files() -> &'static [(&'static str, &'static str)] {
    SHIPPED_FILES
}

/// A generated schema by file name (`group.create.schema.json`).
pub fn schema(file_name: &str) -> Option<&'static str> {
    SCHEMA_FILES
        .iter()
        .find(|(path, _)| path.rsplit('/').next() == Some(file_name))
        .map(|(_, text)| *text)
}
