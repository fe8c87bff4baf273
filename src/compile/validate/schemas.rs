//! The JSON Schemas validation checks bodies against: each kind's embedded create and update
//! schema (generated from Graph's metadata), compiled the first time a body of that kind is
//! checked and then shared by every thread of the process.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Variant;
use crate::kinds;
use crate::source::shipped;

/// A problem with the shipped schemas themselves (a build defect, not user input).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// A kind has no generated schema file.
    #[error("no generated schema {0} is embedded; run `tenantform schema generate`")]
    Missing(String),
    /// A schema file is not JSON.
    #[error("generated schema {file} is not valid JSON: {message}")]
    NotJson {
        /// File.
        file: String,
        /// Parser message.
        message: String,
    },
    /// A schema does not compile.
    #[error("generated schema {file} does not compile: {message}")]
    Invalid {
        /// File.
        file: String,
        /// Compiler message.
        message: String,
    },
}

pub(super) struct KindSchema {
    pub(super) validator: jsonschema::Validator,
    document: Value,
    pub(super) property_names: BTreeSet<String>,
    /// Members of each flags enum, by the `pattern` the schema checks it with.
    pub(super) flags_by_pattern: BTreeMap<String, Vec<String>>,
}

/// One kind's and variant's embedded schema text, compiled the first time it is needed.
struct LazySchema {
    file: String,
    text: &'static str,
    compiled: std::sync::OnceLock<Result<KindSchema, SchemaError>>,
}

impl LazySchema {
    fn get(&self) -> Result<&KindSchema, SchemaError> {
        self.compiled
            .get_or_init(|| KindSchema::compile(&self.file, self.text))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl KindSchema {
    fn compile(file: &str, text: &str) -> Result<KindSchema, SchemaError> {
        let schema: Value = serde_json::from_str(text).map_err(|e| SchemaError::NotJson {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let validator = jsonschema::options()
            .build(&schema)
            .map_err(|e| SchemaError::Invalid {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        let mut property_names = BTreeSet::new();
        collect_property_names(&schema, &mut property_names);
        let mut flags_by_pattern = BTreeMap::new();
        collect_flags(&schema, &mut flags_by_pattern);
        Ok(KindSchema {
            validator,
            document: schema,
            property_names,
            flags_by_pattern,
        })
    }
}

/// The validators of every kind and variant; build once, share across threads. Each is
/// compiled the first time a body of its kind is checked: a fleet that uses a third of the
/// kinds does not hold the other two thirds' validators (about 0.25 MB each) for its whole run.
pub struct Schemas {
    schemas: BTreeMap<(&'static str, Variant), LazySchema>,
}

fn collect_flags(value: &Value, out: &mut BTreeMap<String, Vec<String>>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(pattern)), Some(Value::Array(members))) =
                (map.get("pattern"), map.get("x-flags-members"))
            {
                out.insert(
                    pattern.clone(),
                    members
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                );
            }
            map.values().for_each(|v| collect_flags(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_flags(v, out)),
        _ => {}
    }
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("kinds", &self.schemas.len())
            .finish()
    }
}

fn collect_property_names(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            for v in map.values() {
                collect_property_names(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                collect_property_names(v, out);
            }
        }
        _ => {}
    }
}

impl Schemas {
    /// Every kind's embedded schemas (the link kinds too), each compiled when first used. Fails
    /// only if a kind has no embedded schema; [`Schemas::compile_all`] checks that each compiles.
    pub fn load() -> Result<Schemas, SchemaError> {
        let mut texts = Vec::new();
        for kind in kinds::all().iter().chain(kinds::LINK_KINDS) {
            for variant in [Variant::Create, Variant::Update] {
                let file = format!("{}.{}.schema.json", kind.schema.id, variant.file_suffix());
                let text =
                    shipped::schema(&file).ok_or_else(|| SchemaError::Missing(file.clone()))?;
                texts.push((kind.name, variant, file, text));
            }
        }
        Ok(Schemas::from_texts(texts))
    }

    /// Schemas from `(kind, variant, file name, text)`, compiled when first used.
    pub(super) fn from_texts(
        texts: impl IntoIterator<Item = (&'static str, Variant, String, &'static str)>,
    ) -> Schemas {
        Schemas {
            schemas: texts
                .into_iter()
                .map(|(kind, variant, file, text)| {
                    let lazy = LazySchema {
                        file,
                        text,
                        compiled: std::sync::OnceLock::new(),
                    };
                    ((kind, variant), lazy)
                })
                .collect(),
        }
    }

    /// Compile every schema now: the first error, if one does not compile.
    pub fn compile_all(&self) -> Result<(), SchemaError> {
        self.schemas.values().try_for_each(|s| s.get().map(drop))
    }

    /// A kind's compiled schema: `Missing` for a kind without one.
    pub(super) fn get(
        &self,
        kind: &'static str,
        variant: Variant,
    ) -> Result<&KindSchema, SchemaError> {
        match self.schemas.get(&(kind, variant)) {
            Some(lazy) => lazy.get(),
            None => Err(SchemaError::Missing(format!(
                "{kind}.{}.schema.json",
                variant.file_suffix()
            ))),
        }
    }

    /// The schemas compiled once for the whole process (the simulator and the compiler share
    /// them when they run in one process).
    pub fn shared() -> Result<&'static Schemas, SchemaError> {
        static SHARED: std::sync::OnceLock<Result<Schemas, SchemaError>> =
            std::sync::OnceLock::new();
        SHARED
            .get_or_init(Schemas::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A kind's compiled validator.
    pub fn validator(
        &self,
        kind: &'static str,
        variant: Variant,
    ) -> Result<&jsonschema::Validator, SchemaError> {
        self.get(kind, variant).map(|k| &k.validator)
    }

    /// A kind's schema document (for walking `$defs`).
    pub fn document(&self, kind: &'static str, variant: Variant) -> Result<&Value, SchemaError> {
        self.get(kind, variant).map(|k| &k.document)
    }

    /// Whether `kind`'s schema accepts `body` (a schema that does not compile accepts
    /// nothing: validation then reports why).
    pub(super) fn accepts(&self, kind: &'static str, variant: Variant, body: &Value) -> bool {
        self.get(kind, variant)
            .is_ok_and(|schema| schema.validator.is_valid(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_embedded_schema_compiles_and_each_only_when_first_used() {
        let schemas = Schemas::load().expect("every kind has its schemas");
        let compiled = |s: &Schemas| {
            s.schemas
                .values()
                .filter(|l| l.compiled.get().is_some())
                .count()
        };
        assert_eq!(
            compiled(&schemas),
            0,
            "nothing is compiled before it is needed"
        );
        let kind = kinds::all()[0].name;
        assert!(schemas.validator(kind, Variant::Create).is_ok());
        assert_eq!(
            compiled(&schemas),
            1,
            "one kind's create schema, not the rest"
        );
        schemas
            .compile_all()
            .expect("every embedded schema compiles");
        assert_eq!(compiled(&schemas), schemas.schemas.len());
    }

    #[test]
    fn a_schema_that_does_not_compile_accepts_nothing_and_says_which_file() {
        let broken = Schemas::from_texts([
            (
                "group",
                Variant::Create,
                "group.create.schema.json".to_string(),
                "{not json",
            ),
            (
                "group",
                Variant::Update,
                "group.update.schema.json".to_string(),
                r#"{"type": 12}"#,
            ),
        ]);
        assert!(!broken.accepts("group", Variant::Create, &json!({})));
        let e = broken
            .validator("group", Variant::Create)
            .expect_err("not JSON");
        assert!(e.to_string().contains("group.create.schema.json"), "{e}");
        let e = broken
            .validator("group", Variant::Update)
            .expect_err("not a schema");
        assert!(matches!(e, SchemaError::Invalid { .. }), "{e}");
        assert!(broken.compile_all().is_err());
        let e = broken
            .validator("user", Variant::Create)
            .expect_err("no such kind");
        assert!(matches!(e, SchemaError::Missing(_)), "{e}");
    }
}
