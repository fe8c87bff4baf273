//! JSON Schema generation from Microsoft Graph's own metadata.
//!
//! One file on purpose (the one file in `src/` over 1,000 lines, besides generated schemas): it
//! is a single offline step read top to bottom, in four marked sections — type model, CSDL
//! parsing, beta type mappings, schema generation — and nothing else calls into its middle.
//!
//! This module owns the step "Graph metadata → committed request-body schemas": it parses the
//! v1.0 OData CSDL (`v1.0-Prod.csdl`) and the name-only beta type mappings
//! (`type-mappings/beta-{entity,complex,enum}-types.json`) into a small type model
//! ([`Metadata`]), and emits, for every kind in [`crate::kinds::all`], two self-contained JSON
//! Schema (draft 2020-12) documents: `<schema.id>.create.schema.json` and
//! `<schema.id>.update.schema.json`. The generated files live in `src/schema/generated/` and are
//! committed; [`check`] tells whether they are up to date, [`write`](fn@write) rewrites them.
//!
//! Rules the validator relies on (see each function for details):
//! - object types are flattened (base properties first, CSDL declaration order) and closed with
//!   `"additionalProperties": false`; `@odata.type` and `<nav>@odata.bind` are always allowed;
//! - a property whose declared type has subtypes refers to a `<type>.union` definition that
//!   discriminates on `@odata.type` with `if`/`then` (both `#microsoft.graph.x` and
//!   `microsoft.graph.x` spellings are accepted);
//! - read-only (`Core.Computed`, and the kind's `read_only` at the root) properties are the
//!   `false` schema, so a body carrying one fails with a `FalseSchema` error at that property;
//! - nullable references are written `{"if": {"type": "null"}, "else": {"$ref": ...}}` rather
//!   than `anyOf`, so errors inside the referenced type surface directly (not wrapped in an
//!   `anyOf` error);
//! - enums are closed string sets including evolvable members; flags enums are comma lists
//!   checked by a `pattern`, with the members in `x-flags-members`;
//! - a kind whose registry entry names a type, property or navigation the metadata lacks is a
//!   [`GenerateError::Kind`], never silently skipped.
//!
//! Beta kinds (Settings Catalog) have only names to go on: every beta property accepts any JSON
//! value unless a hand-written rule here types it (`BETA_PROPERTIES`, `BETA_NAVIGATION`,
//! `BETA_REQUIRED`, `BETA_FLAGS_ENUMS`); base types come from the v1.0 CSDL where the type exists
//! there, the setting-instance family by name, and `entity` for other entity types.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::kinds::{ApiVersion, Kind};

/// File name of the v1.0 CSDL inside the metadata directory.
pub const CSDL_FILE: &str = "v1.0-Prod.csdl";
/// Beta entity type-mapping file, relative to the metadata directory.
pub const BETA_ENTITY_FILE: &str = "type-mappings/beta-entity-types.json";
/// Beta complex type-mapping file, relative to the metadata directory.
pub const BETA_COMPLEX_FILE: &str = "type-mappings/beta-complex-types.json";
/// Beta enum type-mapping file, relative to the metadata directory.
pub const BETA_ENUM_FILE: &str = "type-mappings/beta-enum-types.json";
/// Suffix of every generated schema file.
pub const SCHEMA_FILE_SUFFIX: &str = ".schema.json";

const EDM_NS: &str = "http://docs.oasis-open.org/odata/ns/edm";
const GRAPH_NS: &str = "microsoft.graph";
const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";
const ID_BASE: &str = "https://tenantform.dev/schema/";
const SOURCE_V1: &str = "v1.0-Prod.csdl";
const SOURCE_BETA: &str = "beta type-mappings";
const UNTYPED: &str = "Edm.Untyped";

const GUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const DATE_TIME_OFFSET_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})$";
const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
const TIME_OF_DAY_PATTERN: &str = "^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?$";
const DURATION_PATTERN: &str =
    "^-?P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\\.[0-9]+)?S)?)?$";
const BASE64_PATTERN: &str = "^[A-Za-z0-9+/_-]*={0,2}$";

/// Errors from loading metadata, generating schemas, or reading and writing the output.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A metadata or output file could not be read, written, listed or removed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSDL is not well-formed XML.
    #[error("parsing CSDL XML: {0}")]
    Xml(#[from] roxmltree::Error),
    /// The CSDL is XML but not in the shape this generator understands.
    #[error("CSDL: {0}")]
    Csdl(String),
    /// A beta type-mapping file is malformed.
    #[error("beta type mapping {file}: {message}")]
    BetaMapping {
        /// Which mapping (`entity`, `complex`, `enum`).
        file: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A kind's schema spec does not match the metadata (unknown type or property, ...).
    #[error("kind `{kind}`: {message}")]
    Kind {
        /// The kind's name.
        kind: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Two kinds share a schema id.
    #[error("schema id `{0}` is used by more than one kind")]
    DuplicateId(String),
    /// A schema could not be serialized.
    #[error("serializing {file}: {source}")]
    Json {
        /// The output file name.
        file: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

// ---------------------------------------------------------------------------------------------
// Type model
// ---------------------------------------------------------------------------------------------

/// How many values a property or navigation property holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Card {
    One,
    Many,
    /// Beta navigation properties: the mapping doesn't say.
    Unknown,
}

#[derive(Debug, Clone)]
struct TypeRef {
    /// Qualified name (`microsoft.graph.x`, `Edm.String`).
    qname: String,
    card: Card,
}

#[derive(Debug, Clone)]
struct Prop {
    name: String,
    ty: TypeRef,
    nullable: bool,
    computed: bool,
    description: Option<String>,
}

#[derive(Debug, Clone)]
struct StructType {
    qname: String,
    is_abstract: bool,
    base: Option<String>,
    properties: Vec<Prop>,
    navigation: Vec<Prop>,
    /// Properties always required (hand-written beta rules only).
    required: Vec<String>,
    description: Option<String>,
}

#[derive(Debug, Clone)]
struct EnumType {
    flags: bool,
    members: Vec<String>,
    description: Option<String>,
}

#[derive(Debug, Default)]
struct Model {
    structs: BTreeMap<String, StructType>,
    enums: BTreeMap<String, EnumType>,
    /// Direct subtypes of each structured type, sorted.
    derived: BTreeMap<String, Vec<String>>,
}

impl Model {
    fn index_derived(&mut self) {
        let mut derived: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.structs.values() {
            if let Some(base) = &t.base {
                derived
                    .entry(base.clone())
                    .or_default()
                    .push(t.qname.clone());
            }
        }
        for subs in derived.values_mut() {
            subs.sort();
        }
        self.derived = derived;
    }

    /// The type and its ancestors, base first.
    fn chain(&self, qname: &str) -> Result<Vec<&StructType>, String> {
        let mut chain = Vec::new();
        let mut next = Some(qname.to_string());
        while let Some(name) = next {
            let t = self
                .structs
                .get(&name)
                .ok_or_else(|| format!("type `{name}` is not in the metadata"))?;
            if chain.iter().any(|c: &&StructType| c.qname == name) {
                return Err(format!("type `{qname}` has a cyclic BaseType chain"));
            }
            chain.push(t);
            next = t.base.clone();
        }
        chain.reverse();
        Ok(chain)
    }

    fn has_subtypes(&self, qname: &str) -> bool {
        self.derived.get(qname).is_some_and(|d| !d.is_empty())
    }

    /// All transitive subtypes, sorted.
    fn descendants(&self, qname: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![qname.to_string()];
        while let Some(t) = stack.pop() {
            for sub in self.derived.get(&t).into_iter().flatten() {
                if out.insert(sub.clone()) {
                    stack.push(sub.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    fn derives_from(&self, qname: &str, base: &str) -> bool {
        let mut next = self.structs.get(qname).and_then(|t| t.base.clone());
        let mut guard = 0;
        while let Some(b) = next {
            if b == base {
                return true;
            }
            guard += 1;
            if guard > 64 {
                return false;
            }
            next = self.structs.get(&b).and_then(|t| t.base.clone());
        }
        false
    }
}

/// Graph metadata parsed for schema generation: the v1.0 CSDL and the beta type mappings.
#[derive(Debug)]
pub struct Metadata {
    v1: Model,
    beta: Model,
}

impl Metadata {
    /// Read and parse the metadata directory (`.../graph-metadata`): `v1.0-Prod.csdl` and
    /// `type-mappings/beta-{entity,complex,enum}-types.json`.
    pub fn load(dir: &Path) -> Result<Metadata, GenerateError> {
        let read = |rel: &str| {
            let path = dir.join(rel);
            crate::text::read_to_string(&path).map_err(|source| GenerateError::Io {
                action: "reading",
                path,
                source,
            })
        };
        let csdl = read(CSDL_FILE)?;
        let entity = read(BETA_ENTITY_FILE)?;
        let complex = read(BETA_COMPLEX_FILE)?;
        let enums = read(BETA_ENUM_FILE)?;
        Metadata::parse(&csdl, &entity, &complex, &enums)
    }

    /// Parse the CSDL XML text and the three beta type-mapping JSON texts.
    pub fn parse(
        csdl_xml: &str,
        beta_entity: &str,
        beta_complex: &str,
        beta_enum: &str,
    ) -> Result<Metadata, GenerateError> {
        let v1 = parse_csdl(csdl_xml)?;
        let beta = build_beta(&v1, beta_entity, beta_complex, beta_enum)?;
        Ok(Metadata { v1, beta })
    }
}

// ---------------------------------------------------------------------------------------------
// CSDL parsing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct Annotated {
    description: Option<String>,
    computed: bool,
}

fn is_edm(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(EDM_NS)
}

/// The short name of a Core vocabulary term (`Org.OData.Core.V1.Computed` or `Core.Computed`).
fn core_term(term: &str) -> Option<&str> {
    term.strip_prefix("Org.OData.Core.V1.")
        .or_else(|| term.strip_prefix("Core."))
}

fn read_annotation(node: &roxmltree::Node<'_, '_>, into: &mut Annotated) {
    let Some(term) = node.attribute("Term").and_then(core_term) else {
        return;
    };
    match term {
        "Description" => {
            let text = node.attribute("String").map(str::to_string).or_else(|| {
                node.children()
                    .find(|c| is_edm(c, "String"))
                    .and_then(|c| c.text())
                    .map(str::to_string)
            });
            if let Some(text) = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
                into.description = Some(text);
            }
        }
        "Computed" => {
            into.computed = node.attribute("Bool").is_none_or(|b| b == "true");
        }
        _ => {}
    }
}

struct Qualifier {
    aliases: HashMap<String, String>,
}

impl Qualifier {
    /// Resolve an alias-qualified name (`graph.x`) to its namespace-qualified form.
    fn qualify(&self, raw: &str) -> String {
        if raw.starts_with("Edm.") {
            return raw.to_string();
        }
        match raw.rsplit_once('.') {
            Some((ns, local)) => {
                let ns = self.aliases.get(ns).map_or(ns, String::as_str);
                format!("{ns}.{local}")
            }
            None => raw.to_string(),
        }
    }

    fn type_ref(&self, raw: &str) -> TypeRef {
        match raw
            .strip_prefix("Collection(")
            .and_then(|r| r.strip_suffix(')'))
        {
            Some(inner) => TypeRef {
                qname: self.qualify(inner),
                card: Card::Many,
            },
            None => TypeRef {
                qname: self.qualify(raw),
                card: Card::One,
            },
        }
    }

    /// Resolve an annotation target (`graph.x/prop`) to `microsoft.graph.x/prop`.
    fn target(&self, raw: &str) -> String {
        match raw.split_once('/') {
            Some((head, rest)) => format!("{}/{rest}", self.qualify(head)),
            None => self.qualify(raw),
        }
    }
}

fn parse_csdl(xml: &str) -> Result<Model, GenerateError> {
    let doc = roxmltree::Document::parse(xml)?;
    let schemas: Vec<_> = doc.descendants().filter(|n| is_edm(n, "Schema")).collect();
    if schemas.is_empty() {
        return Err(GenerateError::Csdl(
            "no <Schema> element in the OData EDM namespace".to_string(),
        ));
    }
    let mut aliases = HashMap::new();
    for s in &schemas {
        let ns = s
            .attribute("Namespace")
            .ok_or_else(|| GenerateError::Csdl("<Schema> without Namespace".to_string()))?;
        if let Some(alias) = s.attribute("Alias") {
            aliases.insert(alias.to_string(), ns.to_string());
        }
    }
    let q = Qualifier { aliases };

    // Out-of-line annotations, by qualified target.
    let mut annotations: HashMap<String, Annotated> = HashMap::new();
    for s in &schemas {
        for group in s.children().filter(|n| is_edm(n, "Annotations")) {
            let Some(target) = group.attribute("Target") else {
                continue;
            };
            if target.contains('(') {
                continue; // operation overloads and parameters
            }
            let entry = annotations.entry(q.target(target)).or_default();
            for a in group.children().filter(|n| is_edm(n, "Annotation")) {
                read_annotation(&a, entry);
            }
        }
    }
    let annotated = |target: &str, node: &roxmltree::Node<'_, '_>| -> Annotated {
        let mut a = annotations.get(target).cloned().unwrap_or_default();
        for inline in node.children().filter(|n| is_edm(n, "Annotation")) {
            read_annotation(&inline, &mut a);
        }
        a
    };

    let mut model = Model::default();
    for s in &schemas {
        let ns = s.attribute("Namespace").unwrap_or_default();
        for node in s.children().filter(|n| n.is_element()) {
            let element = node.tag_name().name();
            if node.tag_name().namespace() != Some(EDM_NS) {
                continue;
            }
            let Some(name) = node.attribute("Name") else {
                continue;
            };
            let qname = format!("{ns}.{name}");
            match element {
                "EnumType" => {
                    let members = node
                        .children()
                        .filter(|m| is_edm(m, "Member"))
                        .filter_map(|m| m.attribute("Name").map(str::to_string))
                        .collect();
                    let a = annotated(&qname, &node);
                    model.enums.insert(
                        qname,
                        EnumType {
                            flags: node.attribute("IsFlags") == Some("true"),
                            members,
                            description: a.description,
                        },
                    );
                }
                "EntityType" | "ComplexType" => {
                    let mut properties = Vec::new();
                    let mut navigation = Vec::new();
                    for p in node.children().filter(|p| p.is_element()) {
                        let is_nav = is_edm(&p, "NavigationProperty");
                        if !is_nav && !is_edm(&p, "Property") {
                            continue;
                        }
                        let (Some(pname), Some(ty)) = (p.attribute("Name"), p.attribute("Type"))
                        else {
                            return Err(GenerateError::Csdl(format!(
                                "a property of `{qname}` lacks Name or Type"
                            )));
                        };
                        let a = annotated(&format!("{qname}/{pname}"), &p);
                        let ty = q.type_ref(ty);
                        // A collection-valued navigation property is never null (OData CSDL 4.0
                        // forbids Nullable there); a structural collection follows Nullable.
                        let nullable = p.attribute("Nullable") != Some("false")
                            && !(is_nav && ty.card == Card::Many);
                        let prop = Prop {
                            name: pname.to_string(),
                            ty,
                            nullable,
                            computed: a.computed,
                            description: a.description,
                        };
                        if is_nav {
                            navigation.push(prop);
                        } else {
                            properties.push(prop);
                        }
                    }
                    let a = annotated(&qname, &node);
                    model.structs.insert(
                        qname.clone(),
                        StructType {
                            qname,
                            is_abstract: node.attribute("Abstract") == Some("true"),
                            base: node.attribute("BaseType").map(|b| q.qualify(b)),
                            properties,
                            navigation,
                            required: Vec::new(),
                            description: a.description,
                        },
                    );
                }
                // A bound action's parameters (besides the binding parameter) as a complex
                // type named `<binding type>.<action>`: the body of `POST …/<action>`.
                "Action" if node.attribute("IsBound") == Some("true") => {
                    let mut params = node.children().filter(|p| is_edm(p, "Parameter"));
                    let Some(binding) = params.next().and_then(|p| p.attribute("Type")) else {
                        continue;
                    };
                    let binding = q.type_ref(binding);
                    if binding.card == Card::Many {
                        continue;
                    }
                    let qname = format!("{}.{name}", binding.qname);
                    if model.structs.contains_key(&qname) {
                        continue; // an overload: the first declaration wins
                    }
                    let mut properties = Vec::new();
                    for p in params {
                        let (Some(pname), Some(ty)) = (p.attribute("Name"), p.attribute("Type"))
                        else {
                            return Err(GenerateError::Csdl(format!(
                                "a parameter of action `{qname}` lacks Name or Type"
                            )));
                        };
                        properties.push(Prop {
                            name: pname.to_string(),
                            ty: q.type_ref(ty),
                            nullable: p.attribute("Nullable") != Some("false"),
                            computed: false,
                            description: None,
                        });
                    }
                    model.structs.insert(
                        qname.clone(),
                        StructType {
                            qname,
                            is_abstract: false,
                            base: None,
                            properties,
                            navigation: Vec::new(),
                            required: Vec::new(),
                            description: None,
                        },
                    );
                }
                _ => {}
            }
        }
    }
    model.index_derived();
    Ok(model)
}

// ---------------------------------------------------------------------------------------------
// Beta type mappings
// ---------------------------------------------------------------------------------------------

/// Beta properties whose type the generator knows by hand: `(type, property, type, card, nullable)`.
/// Every other beta property accepts any JSON value.
const BETA_PROPERTIES: &[(&str, &str, &str, Card, bool)] = &[
    ("entity", "id", "Edm.String", Card::One, false),
    (
        "deviceManagementConfigurationPolicy",
        "name",
        "Edm.String",
        Card::One,
        false,
    ),
    (
        "deviceManagementConfigurationPolicy",
        "description",
        "Edm.String",
        Card::One,
        true,
    ),
    (
        "deviceManagementConfigurationPolicy",
        "platforms",
        "deviceManagementConfigurationPlatforms",
        Card::One,
        false,
    ),
    (
        "deviceManagementConfigurationPolicy",
        "technologies",
        "deviceManagementConfigurationTechnologies",
        Card::One,
        false,
    ),
    (
        "deviceManagementConfigurationPolicy",
        "roleScopeTagIds",
        "Edm.String",
        Card::Many,
        false,
    ),
    (
        "deviceManagementConfigurationSetting",
        "settingInstance",
        "deviceManagementConfigurationSettingInstance",
        Card::One,
        false,
    ),
    (
        "deviceManagementConfigurationSettingInstance",
        "settingDefinitionId",
        "Edm.String",
        Card::One,
        false,
    ),
    (
        "deviceManagementConfigurationPolicyAssignment",
        "target",
        "deviceAndAppManagementAssignmentTarget",
        Card::One,
        false,
    ),
    (
        "deviceAndAppManagementAssignmentTarget",
        "deviceAndAppManagementAssignmentFilterId",
        "Edm.String",
        Card::One,
        true,
    ),
    (
        "deviceAndAppManagementAssignmentTarget",
        "deviceAndAppManagementAssignmentFilterType",
        "deviceAndAppManagementAssignmentFilterType",
        Card::One,
        false,
    ),
    (
        "groupAssignmentTarget",
        "groupId",
        "Edm.String",
        Card::One,
        false,
    ),
    (
        "configurationManagerCollectionAssignmentTarget",
        "collectionId",
        "Edm.String",
        Card::One,
        false,
    ),
    // Beta device registration and external identities policies (issue 13, part A): the
    // types Microsoft Learn's beta resource pages give.
    BOOL_EXTERNAL_LEAVE,
    BOOL_EXTERNAL_REMOVAL,
    (
        "deviceRegistrationPolicy",
        "displayName",
        "Edm.String",
        Card::One,
        true,
    ),
    (
        "deviceRegistrationPolicy",
        "description",
        "Edm.String",
        Card::One,
        true,
    ),
    (
        "deviceRegistrationPolicy",
        "userDeviceQuota",
        "Edm.Int32",
        Card::One,
        false,
    ),
    (
        "deviceRegistrationPolicy",
        "multiFactorAuthConfiguration",
        "multiFactorAuthConfiguration",
        Card::One,
        false,
    ),
    (
        "deviceRegistrationPolicy",
        "azureADJoin",
        "azureADJoinPolicy",
        Card::One,
        true,
    ),
    (
        "deviceRegistrationPolicy",
        "azureADRegistration",
        "azureADRegistrationPolicy",
        Card::One,
        true,
    ),
    (
        "deviceRegistrationPolicy",
        "localAdminPassword",
        "localAdminPasswordSettings",
        Card::One,
        true,
    ),
    (
        "azureADJoinPolicy",
        "allowedToJoin",
        "deviceRegistrationMembership",
        Card::One,
        true,
    ),
    (
        "azureADJoinPolicy",
        "isAdminConfigurable",
        "Edm.Boolean",
        Card::One,
        true,
    ),
    (
        "azureADJoinPolicy",
        "localAdmins",
        "localAdminSettings",
        Card::One,
        true,
    ),
    (
        "azureADRegistrationPolicy",
        "allowedToRegister",
        "deviceRegistrationMembership",
        Card::One,
        true,
    ),
    (
        "azureADRegistrationPolicy",
        "isAdminConfigurable",
        "Edm.Boolean",
        Card::One,
        true,
    ),
    (
        "localAdminPasswordSettings",
        "isEnabled",
        "Edm.Boolean",
        Card::One,
        true,
    ),
    (
        "localAdminSettings",
        "enableGlobalAdmins",
        "Edm.Boolean",
        Card::One,
        true,
    ),
    (
        "localAdminSettings",
        "registeringUsers",
        "deviceRegistrationMembership",
        Card::One,
        true,
    ),
    (
        "enumeratedDeviceRegistrationMembership",
        "groups",
        "Edm.String",
        Card::Many,
        false,
    ),
    (
        "enumeratedDeviceRegistrationMembership",
        "users",
        "Edm.String",
        Card::Many,
        false,
    ),
    // Conditional Access on beta (kind conditionalAccessPolicyBeta): the objects down to the
    // conditions' parts, so their property names are checked (values stay untyped).
    (
        "conditionalAccessPolicy",
        "displayName",
        "Edm.String",
        Card::One,
        false,
    ),
    (
        "conditionalAccessPolicy",
        "conditions",
        "conditionalAccessConditionSet",
        Card::One,
        false,
    ),
    (
        "conditionalAccessPolicy",
        "grantControls",
        "conditionalAccessGrantControls",
        Card::One,
        true,
    ),
    (
        "conditionalAccessConditionSet",
        "users",
        "conditionalAccessUsers",
        Card::One,
        false,
    ),
    (
        "conditionalAccessConditionSet",
        "applications",
        "conditionalAccessApplications",
        Card::One,
        false,
    ),
    (
        "conditionalAccessConditionSet",
        "clientApplications",
        "conditionalAccessClientApplications",
        Card::One,
        true,
    ),
];

const BOOL_EXTERNAL_LEAVE: (&str, &str, &str, Card, bool) = (
    "externalIdentitiesPolicy",
    "allowExternalIdentitiesToLeave",
    "Edm.Boolean",
    Card::One,
    false,
);
const BOOL_EXTERNAL_REMOVAL: (&str, &str, &str, Card, bool) = (
    "externalIdentitiesPolicy",
    "allowDeletedIdentitiesDataRemoval",
    "Edm.Boolean",
    Card::One,
    false,
);

/// Beta navigation properties whose target the generator knows: `(type, nav, target, card)`.
const BETA_NAVIGATION: &[(&str, &str, &str, Card)] = &[
    (
        "deviceManagementConfigurationPolicy",
        "settings",
        "deviceManagementConfigurationSetting",
        Card::Many,
    ),
    (
        "deviceManagementConfigurationPolicy",
        "assignments",
        "deviceManagementConfigurationPolicyAssignment",
        Card::Many,
    ),
    (
        "deviceManagementConfigurationSetting",
        "settingDefinitions",
        "deviceManagementConfigurationSettingDefinition",
        Card::Many,
    ),
];

/// Beta properties always required, wherever their type appears.
const BETA_REQUIRED: &[(&str, &str)] = &[
    ("deviceManagementConfigurationSetting", "settingInstance"),
    (
        "deviceManagementConfigurationSettingInstance",
        "settingDefinitionId",
    ),
];

/// Beta flags enums (the mapping doesn't carry `IsFlags`).
const BETA_FLAGS_ENUMS: &[&str] = &[
    "deviceManagementConfigurationPlatforms",
    "deviceManagementConfigurationTechnologies",
];

/// Beta-only abstract types (types also in v1.0 take `Abstract` from the CSDL).
const BETA_ABSTRACT: &[&str] = &["deviceManagementConfigurationSettingInstance"];

/// Base of every Settings Catalog setting instance type.
const BETA_SETTING_INSTANCE: &str = "deviceManagementConfigurationSettingInstance";

// Intune beta kinds (assignment filters, scope tags, feature update profiles, Autopilot
// profiles, store apps): the properties a baseline sets are typed; the rest accept any value.

/// Bases of beta-only subtypes whose base the v1.0 CSDL cannot give: `(type, base)`.
const BETA_BASES: &[(&str, &str)] = &[
    ("b2bManagementPolicy", "stsPolicy"),
    ("winGetApp", "mobileApp"),
    (
        "azureADWindowsAutopilotDeploymentProfile",
        "windowsAutopilotDeploymentProfile",
    ),
    (
        "activeDirectoryWindowsAutopilotDeploymentProfile",
        "windowsAutopilotDeploymentProfile",
    ),
];

/// Typed properties of the Intune beta kinds, as in [`BETA_PROPERTIES`].
#[rustfmt::skip]
const BETA_INTUNE_PROPERTIES: &[(&str, &str, &str, Card, bool)] = &[
    ("deviceAndAppManagementAssignmentFilter", "displayName", "Edm.String", Card::One, false),
    ("deviceAndAppManagementAssignmentFilter", "description", "Edm.String", Card::One, true),
    ("deviceAndAppManagementAssignmentFilter", "platform", "devicePlatformType", Card::One, false),
    ("deviceAndAppManagementAssignmentFilter", "rule", "Edm.String", Card::One, false),
    ("deviceAndAppManagementAssignmentFilter", "assignmentFilterManagementType", "assignmentFilterManagementType", Card::One, false),
    ("deviceAndAppManagementAssignmentFilter", "roleScopeTags", "Edm.String", Card::Many, false),
    ("roleScopeTag", "displayName", "Edm.String", Card::One, false),
    ("roleScopeTag", "description", "Edm.String", Card::One, true),
    ("roleScopeTag", "isBuiltIn", "Edm.Boolean", Card::One, false),
    ("windowsFeatureUpdateProfile", "displayName", "Edm.String", Card::One, false),
    ("windowsFeatureUpdateProfile", "description", "Edm.String", Card::One, true),
    ("windowsFeatureUpdateProfile", "featureUpdateVersion", "Edm.String", Card::One, false),
    ("windowsFeatureUpdateProfile", "installFeatureUpdatesOptional", "Edm.Boolean", Card::One, false),
    ("windowsFeatureUpdateProfile", "installLatestWindows10OnWindows11IneligibleDevice", "Edm.Boolean", Card::One, false),
    ("windowsFeatureUpdateProfile", "roleScopeTagIds", "Edm.String", Card::Many, false),
    ("windowsFeatureUpdateProfile", "rolloutSettings", "windowsUpdateRolloutSettings", Card::One, true),
    ("windowsUpdateRolloutSettings", "offerStartDateTimeInUTC", "Edm.DateTimeOffset", Card::One, true),
    ("windowsUpdateRolloutSettings", "offerEndDateTimeInUTC", "Edm.DateTimeOffset", Card::One, true),
    ("windowsUpdateRolloutSettings", "offerIntervalInDays", "Edm.Int32", Card::One, true),
    ("windowsFeatureUpdateProfileAssignment", "target", "deviceAndAppManagementAssignmentTarget", Card::One, false),
    ("windowsAutopilotDeploymentProfile", "displayName", "Edm.String", Card::One, false),
    ("windowsAutopilotDeploymentProfile", "description", "Edm.String", Card::One, true),
    ("windowsAutopilotDeploymentProfile", "deviceNameTemplate", "Edm.String", Card::One, true),
    ("windowsAutopilotDeploymentProfile", "locale", "Edm.String", Card::One, true),
    ("windowsAutopilotDeploymentProfile", "preprovisioningAllowed", "Edm.Boolean", Card::One, false),
    ("windowsAutopilotDeploymentProfile", "hardwareHashExtractionEnabled", "Edm.Boolean", Card::One, false),
    ("windowsAutopilotDeploymentProfile", "roleScopeTagIds", "Edm.String", Card::Many, false),
    ("windowsAutopilotDeploymentProfile", "outOfBoxExperienceSetting", "outOfBoxExperienceSetting", Card::One, true),
    ("windowsAutopilotDeploymentProfileAssignment", "target", "deviceAndAppManagementAssignmentTarget", Card::One, false),
    ("outOfBoxExperienceSetting", "privacySettingsHidden", "Edm.Boolean", Card::One, false),
    ("outOfBoxExperienceSetting", "eulaHidden", "Edm.Boolean", Card::One, false),
    ("outOfBoxExperienceSetting", "userType", "windowsUserType", Card::One, false),
    ("outOfBoxExperienceSetting", "deviceUsageType", "windowsDeviceUsageType", Card::One, false),
    ("outOfBoxExperienceSetting", "keyboardSelectionPageSkipped", "Edm.Boolean", Card::One, false),
    ("outOfBoxExperienceSetting", "escapeLinkHidden", "Edm.Boolean", Card::One, false),
    ("mobileApp", "displayName", "Edm.String", Card::One, false),
    ("mobileApp", "description", "Edm.String", Card::One, true),
    ("mobileApp", "publisher", "Edm.String", Card::One, true),
    ("mobileApp", "isFeatured", "Edm.Boolean", Card::One, false),
    ("mobileApp", "informationUrl", "Edm.String", Card::One, true),
    ("mobileApp", "privacyInformationUrl", "Edm.String", Card::One, true),
    ("mobileApp", "roleScopeTagIds", "Edm.String", Card::Many, false),
    ("winGetApp", "packageIdentifier", "Edm.String", Card::One, false),
    ("winGetApp", "installExperience", "winGetAppInstallExperience", Card::One, true),
    ("winGetAppInstallExperience", "runAsAccount", "runAsAccountType", Card::One, false),
    ("webApp", "appUrl", "Edm.String", Card::One, false),
    ("webApp", "useManagedBrowser", "Edm.Boolean", Card::One, false),
    ("iosStoreApp", "appStoreUrl", "Edm.String", Card::One, false),
    ("iosStoreApp", "bundleId", "Edm.String", Card::One, false),
    ("androidStoreApp", "appStoreUrl", "Edm.String", Card::One, false),
    ("androidStoreApp", "packageId", "Edm.String", Card::One, false),
    ("mobileAppAssignment", "intent", "installIntent", Card::One, false),
    ("mobileAppAssignment", "target", "deviceAndAppManagementAssignmentTarget", Card::One, false),
];

/// Properties of the Intune beta kinds always required, as in [`BETA_REQUIRED`].
const BETA_INTUNE_REQUIRED: &[(&str, &str)] = &[
    ("winGetApp", "packageIdentifier"),
    ("webApp", "appUrl"),
    ("mobileAppAssignment", "intent"),
    ("mobileAppAssignment", "target"),
    ("windowsFeatureUpdateProfileAssignment", "target"),
    ("windowsAutopilotDeploymentProfileAssignment", "target"),
];

type NameLists = BTreeMap<String, (Vec<String>, Vec<String>)>;

fn beta_object(file: &'static str, text: &str) -> Result<Map<String, Value>, GenerateError> {
    let value: Value = serde_json::from_str(text).map_err(|e| GenerateError::BetaMapping {
        file,
        message: e.to_string(),
    })?;
    match value {
        Value::Object(mut root) => match root.remove(GRAPH_NS) {
            Some(Value::Object(types)) => Ok(types),
            _ => Err(GenerateError::BetaMapping {
                file,
                message: format!("no `{GRAPH_NS}` object"),
            }),
        },
        _ => Err(GenerateError::BetaMapping {
            file,
            message: "not a JSON object".to_string(),
        }),
    }
}

fn string_list(
    file: &'static str,
    at: &str,
    v: Option<&Value>,
) -> Result<Vec<String>, GenerateError> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| GenerateError::BetaMapping {
                        file,
                        message: format!("`{at}` holds a non-string"),
                    })
            })
            .collect(),
        Some(_) => Err(GenerateError::BetaMapping {
            file,
            message: format!("`{at}` is not an array"),
        }),
    }
}

fn beta_name_lists(file: &'static str, text: &str) -> Result<NameLists, GenerateError> {
    let mut out = BTreeMap::new();
    for (name, v) in beta_object(file, text)? {
        let props = string_list(file, &format!("{name}.properties"), v.get("properties"))?;
        let navs = string_list(
            file,
            &format!("{name}.navigationProperties"),
            v.get("navigationProperties"),
        )?;
        out.insert(name, (props, navs));
    }
    Ok(out)
}

fn build_beta(
    v1: &Model,
    entity: &str,
    complex: &str,
    enums: &str,
) -> Result<Model, GenerateError> {
    let entities = beta_name_lists("entity", entity)?;
    let complexes = beta_name_lists("complex", complex)?;
    let mut model = Model::default();
    for (name, members) in beta_object("enum", enums)? {
        let members = string_list("enum", &name, Some(&members))?;
        model.enums.insert(
            format!("{GRAPH_NS}.{name}"),
            EnumType {
                flags: BETA_FLAGS_ENUMS.contains(&name.as_str()),
                members,
                description: None,
            },
        );
    }
    let known = |name: &str| entities.contains_key(name) || complexes.contains_key(name);
    let q = |name: &str| format!("{GRAPH_NS}.{name}");
    let all = entities
        .iter()
        .map(|(n, l)| (n, l, true))
        .chain(complexes.iter().map(|(n, l)| (n, l, false)));
    for (name, (props, navs), is_entity) in all {
        let qname = q(name);
        let v1_type = v1.structs.get(&qname);
        // Base type: the setting-instance family by name, else the v1.0 CSDL's base where the
        // type exists there, else `entity` for entity types.
        let base = if name != BETA_SETTING_INSTANCE
            && name.starts_with("deviceManagementConfiguration")
            && name.ends_with("Instance")
            && !is_entity
            && known(BETA_SETTING_INSTANCE)
        {
            Some(q(BETA_SETTING_INSTANCE))
        } else if let Some((_, base)) = BETA_BASES.iter().find(|(t, _)| t == name) {
            Some(q(base))
        } else if let Some(base) = v1_type.and_then(|t| t.base.as_deref()) {
            base.strip_prefix("microsoft.graph.")
                .filter(|b| known(b))
                .map(|_| base.to_string())
        } else if is_entity && name != "entity" && known("entity") {
            Some(q("entity"))
        } else {
            None
        };
        let properties = props
            .iter()
            .map(|p| {
                let rule = BETA_PROPERTIES
                    .iter()
                    .chain(BETA_INTUNE_PROPERTIES)
                    .find(|(t, n, ..)| t == name && n == p);
                let (ty, card, nullable) = match rule {
                    Some((_, _, ty, card, nullable)) => {
                        let ty = if ty.starts_with("Edm.") {
                            (*ty).to_string()
                        } else {
                            q(ty)
                        };
                        (ty, *card, *nullable)
                    }
                    None => (UNTYPED.to_string(), Card::One, true),
                };
                Prop {
                    name: p.clone(),
                    ty: TypeRef { qname: ty, card },
                    nullable,
                    computed: false,
                    description: None,
                }
            })
            .collect();
        let navigation = navs
            .iter()
            .map(|n| {
                let rule = BETA_NAVIGATION
                    .iter()
                    .find(|(t, nav, ..)| t == name && nav == n);
                let ty = match rule {
                    Some((_, _, target, card)) => TypeRef {
                        qname: q(target),
                        card: *card,
                    },
                    None => TypeRef {
                        qname: UNTYPED.to_string(),
                        card: Card::Unknown,
                    },
                };
                Prop {
                    name: n.clone(),
                    nullable: ty.card == Card::One,
                    ty,
                    computed: false,
                    description: None,
                }
            })
            .collect();
        let required = BETA_REQUIRED
            .iter()
            .chain(BETA_INTUNE_REQUIRED)
            .filter(|(t, p)| t == name && props.iter().any(|x| x == p))
            .map(|(_, p)| (*p).to_string())
            .collect();
        let is_abstract = match v1_type {
            Some(t) => t.is_abstract,
            None => BETA_ABSTRACT.contains(&name.as_str()),
        };
        model.structs.insert(
            qname.clone(),
            StructType {
                qname,
                is_abstract,
                base,
                properties,
                navigation,
                required,
                description: None,
            },
        );
    }
    model.index_derived();
    Ok(model)
}

// ---------------------------------------------------------------------------------------------
// Schema generation
// ---------------------------------------------------------------------------------------------

/// The two request-body variants generated per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Create,
    Update,
}

impl Variant {
    const ALL: [Variant; 2] = [Variant::Create, Variant::Update];

    fn as_str(self) -> &'static str {
        match self {
            Variant::Create => "create",
            Variant::Update => "update",
        }
    }
}

/// Generate every schema file for `kinds`: file name (`group.create.schema.json`) → pretty JSON
/// text ending in a newline. The output is deterministic byte for byte.
pub fn generate(
    meta: &Metadata,
    kinds: &[Kind],
) -> Result<BTreeMap<String, String>, GenerateError> {
    let mut files = BTreeMap::new();
    for kind in kinds {
        for variant in Variant::ALL {
            let name = format!(
                "{}.{}{SCHEMA_FILE_SUFFIX}",
                kind.schema.id,
                variant.as_str()
            );
            if files.contains_key(&name) {
                return Err(GenerateError::DuplicateId(kind.schema.id.to_string()));
            }
            let doc = schema_document(meta, kind, variant)?;
            let mut text =
                serde_json::to_string_pretty(&doc).map_err(|source| GenerateError::Json {
                    file: name.clone(),
                    source,
                })?;
            text.push('\n');
            files.insert(name, text);
        }
    }
    Ok(files)
}

/// Generate the schema files of every kind of the registry: [`crate::kinds::all`] and the link
/// kinds ([`crate::kinds::LINK_KINDS`]), one id space.
pub fn generate_registry(meta: &Metadata) -> Result<BTreeMap<String, String>, GenerateError> {
    let mut files = generate(meta, crate::kinds::all())?;
    for (name, text) in generate(meta, crate::kinds::LINK_KINDS)? {
        if files.contains_key(&name) {
            let id = name.split('.').next().unwrap_or(&name).to_string();
            return Err(GenerateError::DuplicateId(id));
        }
        files.insert(name, text);
    }
    Ok(files)
}

/// Write every generated file into `out_dir` (created if missing) and remove `*.schema.json`
/// files there that are not in `files`. Files whose content is already right are not rewritten.
pub fn write(out_dir: &Path, files: &BTreeMap<String, String>) -> Result<(), GenerateError> {
    std::fs::create_dir_all(out_dir).map_err(|source| GenerateError::Io {
        action: "creating",
        path: out_dir.to_path_buf(),
        source,
    })?;
    for stale in stale_files(out_dir, files)? {
        let path = out_dir.join(stale);
        std::fs::remove_file(&path).map_err(|source| GenerateError::Io {
            action: "removing",
            path,
            source,
        })?;
    }
    for (name, text) in files {
        let path = out_dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        std::fs::write(&path, text).map_err(|source| GenerateError::Io {
            action: "writing",
            path,
            source,
        })?;
    }
    Ok(())
}

/// Compare `files` with `out_dir`: the sorted names of files that differ, are missing, or are
/// stale (a `*.schema.json` in `out_dir` not in `files`). Empty means up to date.
pub fn check(
    out_dir: &Path,
    files: &BTreeMap<String, String>,
) -> Result<Vec<String>, GenerateError> {
    let mut out: BTreeSet<String> = stale_files(out_dir, files)?.into_iter().collect();
    for (name, text) in files {
        let path = out_dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(old) if old == *text => {}
            Ok(_) => {
                out.insert(name.clone());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.insert(name.clone());
            }
            Err(source) => {
                return Err(GenerateError::Io {
                    action: "reading",
                    path,
                    source,
                });
            }
        }
    }
    Ok(out.into_iter().collect())
}

fn stale_files(
    out_dir: &Path,
    files: &BTreeMap<String, String>,
) -> Result<Vec<String>, GenerateError> {
    let entries = match std::fs::read_dir(out_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(GenerateError::Io {
                action: "listing",
                path: out_dir.to_path_buf(),
                source,
            });
        }
    };
    let mut stale = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| GenerateError::Io {
            action: "listing",
            path: out_dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(SCHEMA_FILE_SUFFIX) && !files.contains_key(&name) {
            stale.push(name);
        }
    }
    stale.sort();
    Ok(stale)
}

/// `$defs` key of a type: its name without the `microsoft.graph.` namespace.
fn def_key(qname: &str) -> &str {
    qname.strip_prefix("microsoft.graph.").unwrap_or(qname)
}

fn def_ref(key: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{key}") })
}

/// Both accepted spellings of a type's `@odata.type` value.
fn odata_type_values(qname: &str) -> [Value; 2] {
    [
        Value::String(format!("#{qname}")),
        Value::String(qname.to_string()),
    ]
}

/// `null` also accepted: widen a primitive's `type`, or wrap a reference in if/else so that
/// errors inside the referenced schema surface directly.
fn nullable(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) if !map.contains_key("$ref") => match map.get("type").cloned() {
            Some(Value::String(t)) => {
                map.insert("type".to_string(), json!([t, "null"]));
                Value::Object(map)
            }
            Some(_) => Value::Object(map),
            None if map.is_empty() => Value::Object(map),
            None => json!({ "if": { "type": "null" }, "else": Value::Object(map) }),
        },
        other => json!({ "if": { "type": "null" }, "else": other }),
    }
}

fn with_description(schema: Value, description: Option<&str>) -> Value {
    match (schema, description) {
        (Value::Object(mut map), Some(d)) => {
            map.insert("description".to_string(), Value::String(d.to_string()));
            Value::Object(map)
        }
        (schema, _) => schema,
    }
}

/// Schema for an `Edm.*` primitive; `Ok(None)` for `Edm.Stream` (omitted from bodies).
fn primitive_schema(qname: &str) -> Result<Option<Value>, String> {
    let int = |min: i64, max: i64| json!({ "type": "integer", "minimum": min, "maximum": max });
    let pattern = |p: &str| json!({ "type": "string", "pattern": p });
    Ok(Some(match qname {
        "Edm.String" => json!({ "type": "string" }),
        "Edm.Boolean" => json!({ "type": "boolean" }),
        "Edm.Int32" => int(i64::from(i32::MIN), i64::from(i32::MAX)),
        "Edm.Int16" => int(i64::from(i16::MIN), i64::from(i16::MAX)),
        "Edm.Byte" => int(0, 255),
        "Edm.SByte" => int(-128, 127),
        "Edm.Int64" => json!({ "type": "integer" }),
        "Edm.Double" | "Edm.Single" | "Edm.Decimal" => json!({ "type": "number" }),
        "Edm.Guid" => pattern(GUID_PATTERN),
        "Edm.DateTimeOffset" => pattern(DATE_TIME_OFFSET_PATTERN),
        "Edm.Date" => pattern(DATE_PATTERN),
        "Edm.TimeOfDay" => pattern(TIME_OF_DAY_PATTERN),
        "Edm.Duration" => pattern(DURATION_PATTERN),
        "Edm.Binary" => pattern(BASE64_PATTERN),
        UNTYPED => json!({}),
        "Edm.Stream" => return Ok(None),
        other => return Err(format!("unsupported primitive type `{other}`")),
    }))
}

fn enum_schema(e: &EnumType) -> Value {
    let mut map = Map::new();
    map.insert("type".into(), json!("string"));
    if e.flags {
        let alternatives = e
            .members
            .iter()
            .map(|m| regex_escape(m))
            .collect::<Vec<_>>()
            .join("|");
        map.insert(
            "pattern".into(),
            json!(format!("^({alternatives})(, *({alternatives}))*$")),
        );
        map.insert("x-flags-members".into(), json!(e.members));
    } else {
        map.insert("enum".into(), json!(e.members));
    }
    if let Some(d) = &e.description {
        map.insert("description".into(), json!(d));
    }
    Value::Object(map)
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn bind_schema(card: Card) -> Value {
    match card {
        Card::One => json!({ "type": "string" }),
        Card::Many => json!({ "type": "array", "items": { "type": "string" } }),
        Card::Unknown => json!({ "type": ["string", "array"], "items": { "type": "string" } }),
    }
}

enum Pending {
    Object { qname: String, root: bool },
    Union { qname: String },
    Enum { qname: String },
}

struct Gen<'a> {
    model: &'a Model,
    kind: &'a Kind,
    /// `(qualified declaring type, navigation property)` sent inline.
    inline: Vec<(String, &'static str)>,
    inline_used: Vec<bool>,
    /// Types whose definitions sit at the body root (the kind's `read_only` applies there).
    root_types: BTreeSet<String>,
    defs: BTreeMap<String, Value>,
    queue: Vec<(String, Pending)>,
    queued: BTreeSet<String>,
}

impl<'a> Gen<'a> {
    fn err(&self, message: impl Into<String>) -> GenerateError {
        GenerateError::Kind {
            kind: self.kind.name,
            message: message.into(),
        }
    }

    fn chain(&self, qname: &str) -> Result<Vec<&'a StructType>, GenerateError> {
        let model = self.model;
        model.chain(qname).map_err(|m| self.err(m))
    }

    fn enqueue(&mut self, key: String, pending: Pending) {
        if self.queued.insert(key.clone()) {
            self.queue.push((key, pending));
        }
    }

    /// `$defs` key for an object definition; root-level types keep their name, and the same
    /// type used below the root (without the kind's `read_only`) gets `<name>.nested`.
    fn object_key(&self, qname: &str, root: bool) -> String {
        let key = def_key(qname);
        if !root && self.root_types.contains(qname) && !self.kind.schema.read_only.is_empty() {
            format!("{key}.nested")
        } else {
            key.to_string()
        }
    }

    fn object_ref(&mut self, qname: &str, root: bool) -> Value {
        let key = self.object_key(qname, root);
        let r = def_ref(&key);
        self.enqueue(
            key,
            Pending::Object {
                qname: qname.to_string(),
                root,
            },
        );
        r
    }

    /// Reference to a structured type below the root: its union if it has subtypes.
    fn struct_ref(&mut self, qname: &str) -> Value {
        if self.model.has_subtypes(qname) {
            let key = format!("{}.union", def_key(qname));
            let r = def_ref(&key);
            self.enqueue(
                key,
                Pending::Union {
                    qname: qname.to_string(),
                },
            );
            r
        } else {
            self.object_ref(qname, false)
        }
    }

    /// Schema of one value of type `qname` (not a collection, not nullable).
    fn value_schema(&mut self, qname: &str, context: &str) -> Result<Option<Value>, GenerateError> {
        if qname.starts_with("Edm.") {
            return primitive_schema(qname).map_err(|m| self.err(format!("{context}: {m}")));
        }
        if self.model.enums.contains_key(qname) {
            let key = def_key(qname).to_string();
            let r = def_ref(&key);
            self.enqueue(
                key,
                Pending::Enum {
                    qname: qname.to_string(),
                },
            );
            return Ok(Some(r));
        }
        if self.model.structs.contains_key(qname) {
            return Ok(Some(self.struct_ref(qname)));
        }
        Err(self.err(format!("{context}: type `{qname}` is not in the metadata")))
    }

    fn member_schema(&mut self, owner: &str, p: &Prop) -> Result<Option<Value>, GenerateError> {
        let context = format!("{}/{}", def_key(owner), p.name);
        let Some(item) = self.value_schema(&p.ty.qname, &context)? else {
            return Ok(None);
        };
        let untyped = item.as_object().is_some_and(Map::is_empty);
        let schema = match p.ty.card {
            Card::Many => {
                let array = json!({ "type": "array", "items": item });
                if p.nullable { nullable(array) } else { array }
            }
            Card::One | Card::Unknown => {
                if p.nullable && !untyped {
                    nullable(item)
                } else {
                    item
                }
            }
        };
        Ok(Some(with_description(schema, p.description.as_deref())))
    }

    fn is_inline(&mut self, chain: &[&StructType], nav: &str) -> bool {
        let mut found = false;
        for (i, (declaring, name)) in self.inline.iter().enumerate() {
            if *name == nav && chain.iter().any(|t| t.qname == *declaring) {
                self.inline_used[i] = true;
                found = true;
            }
        }
        found
    }

    fn object_def(&mut self, qname: &str, root: bool) -> Result<Value, GenerateError> {
        let chain = self.chain(qname)?;
        let read_only = if root {
            self.kind.schema.read_only
        } else {
            &[]
        };
        let mut props = Map::new();
        props.insert(
            "@odata.type".into(),
            json!({ "type": "string", "enum": odata_type_values(qname) }),
        );
        for t in &chain {
            for p in &t.properties {
                if props.contains_key(&p.name) {
                    continue;
                }
                if p.computed || read_only.contains(&p.name.as_str()) {
                    props.insert(p.name.clone(), Value::Bool(false));
                } else if let Some(schema) = self.member_schema(&t.qname, p)? {
                    props.insert(p.name.clone(), schema);
                }
            }
        }
        for t in &chain {
            for n in &t.navigation {
                if self.is_inline(&chain, &n.name) && !props.contains_key(&n.name) {
                    let schema = if n.computed || read_only.contains(&n.name.as_str()) {
                        Some(Value::Bool(false))
                    } else {
                        self.member_schema(&t.qname, n)?
                    };
                    if let Some(schema) = schema {
                        props.insert(n.name.clone(), schema);
                    }
                }
                props
                    .entry(format!("{}@odata.bind", n.name))
                    .or_insert_with(|| bind_schema(n.ty.card));
            }
        }
        let mut required: Vec<&str> = Vec::new();
        for t in &chain {
            for r in &t.required {
                if !required.contains(&r.as_str()) {
                    required.push(r);
                }
            }
        }
        let mut def = Map::new();
        def.insert("type".into(), json!("object"));
        if let Some(d) = chain.last().and_then(|t| t.description.as_deref()) {
            def.insert("description".into(), json!(d));
        }
        if !required.is_empty() {
            def.insert("required".into(), json!(required));
        }
        def.insert("properties".into(), Value::Object(props));
        def.insert("additionalProperties".into(), Value::Bool(false));
        Ok(Value::Object(def))
    }

    /// A discriminated union on `@odata.type` over `members` (concrete types); `default` is the
    /// type a body without `@odata.type` validates as (a non-abstract base).
    fn union_schema(
        &mut self,
        members: &[String],
        default: Option<&str>,
        root: bool,
        extra_required: &[&str],
    ) -> Map<String, Value> {
        let mut all_values = Vec::new();
        let mut branches = Vec::new();
        for m in members {
            let values = odata_type_values(m);
            all_values.extend(values.iter().cloned());
            let then = self.object_ref(m, root);
            branches.push(json!({
                "if": {
                    "properties": { "@odata.type": { "enum": values } },
                    "required": ["@odata.type"]
                },
                "then": then
            }));
        }
        let mut required: Vec<&str> = Vec::new();
        if let Some(base) = default {
            let then = self.object_ref(base, root);
            branches.push(json!({
                "if": { "not": { "required": ["@odata.type"] } },
                "then": then
            }));
        } else {
            required.push("@odata.type");
        }
        for r in extra_required {
            if !required.contains(r) {
                required.push(r);
            }
        }
        let mut map = Map::new();
        map.insert("type".into(), json!("object"));
        if !required.is_empty() {
            map.insert("required".into(), json!(required));
        }
        map.insert(
            "properties".into(),
            json!({ "@odata.type": { "type": "string", "enum": all_values } }),
        );
        map.insert("allOf".into(), Value::Array(branches));
        map
    }

    fn union_def(&mut self, base: &str) -> Result<Value, GenerateError> {
        let model = self.model;
        let base_type = model
            .structs
            .get(base)
            .ok_or_else(|| self.err(format!("type `{base}` is not in the metadata")))?;
        let mut members: Vec<String> = model
            .descendants(base)
            .into_iter()
            .filter(|d| model.structs.get(d).is_some_and(|t| !t.is_abstract))
            .collect();
        let default = (!base_type.is_abstract).then_some(base);
        if let Some(b) = default {
            members.push(b.to_string());
            members.sort();
        }
        let mut map = self.union_schema(&members, default, false, &[]);
        if let Some(d) = &base_type.description {
            map.insert("description".into(), json!(d));
        }
        Ok(Value::Object(map))
    }

    fn drain(&mut self) -> Result<(), GenerateError> {
        while let Some((key, pending)) = self.queue.pop() {
            let def = match pending {
                Pending::Object { qname, root } => self.object_def(&qname, root)?,
                Pending::Union { qname } => self.union_def(&qname)?,
                Pending::Enum { qname } => {
                    let e = self.model.enums.get(&qname).ok_or_else(|| {
                        self.err(format!("enum `{qname}` is not in the metadata"))
                    })?;
                    enum_schema(e)
                }
            };
            self.defs.insert(key, def);
        }
        Ok(())
    }

    /// Names (properties and navigation properties) of a type, including inherited ones.
    fn member_names(&self, qname: &str) -> Result<Vec<(&'a Prop, bool)>, GenerateError> {
        let chain = self.chain(qname)?;
        let mut out = Vec::new();
        for t in &chain {
            out.extend(t.properties.iter().map(|p| (p, false)));
        }
        for t in &chain {
            out.extend(t.navigation.iter().map(|p| (p, true)));
        }
        Ok(out)
    }
}

/// Check a kind's spec against the model and return the qualified root-level types.
fn check_spec(g: &mut Gen<'_>) -> Result<(String, Vec<String>), GenerateError> {
    let spec = &g.kind.schema;
    let model = g.model;
    let root = format!("{GRAPH_NS}.{}", spec.root_type);
    if !model.structs.contains_key(&root) {
        return Err(g.err(format!(
            "root_type `{}` is not in the metadata",
            spec.root_type
        )));
    }
    let mut concrete = Vec::new();
    for c in spec.concrete_types {
        let qc = format!("{GRAPH_NS}.{c}");
        let Some(t) = model.structs.get(&qc) else {
            return Err(g.err(format!("concrete type `{c}` is not in the metadata")));
        };
        if !model.derives_from(&qc, &root) {
            return Err(g.err(format!(
                "concrete type `{c}` does not derive from `{}`",
                spec.root_type
            )));
        }
        if t.is_abstract {
            return Err(g.err(format!("concrete type `{c}` is abstract")));
        }
        concrete.push(qc);
    }
    for (declaring, nav) in spec.inline_navigation {
        let qd = format!("{GRAPH_NS}.{declaring}");
        if !model.structs.contains_key(&qd) {
            return Err(g.err(format!(
                "inline_navigation type `{declaring}` is not in the metadata"
            )));
        }
        let names = g.member_names(&qd)?;
        if !names.iter().any(|(p, is_nav)| *is_nav && p.name == *nav) {
            return Err(g.err(format!(
                "inline_navigation `{nav}` is not a navigation property of `{declaring}`"
            )));
        }
        g.inline.push((qd, nav));
        g.inline_used.push(false);
    }
    let root_level = if concrete.is_empty() {
        vec![root.clone()]
    } else {
        concrete.clone()
    };
    for r in spec.read_only {
        let mut found = false;
        for t in &root_level {
            found |= g.member_names(t)?.iter().any(|(p, _)| p.name == *r);
        }
        if !found {
            return Err(g.err(format!(
                "read_only `{r}` is not a property of `{}`",
                root_level
                    .iter()
                    .map(|t| def_key(t))
                    .collect::<Vec<_>>()
                    .join("`, `")
            )));
        }
    }
    if let Some(param) = spec.action_parameter {
        if let Some(r) = spec.required_on_create.iter().find(|r| **r != param) {
            return Err(g.err(format!(
                "required_on_create `{r}` of an action kind must be the action parameter `{param}`"
            )));
        }
    } else {
        for r in spec.required_on_create {
            if spec.read_only.contains(r) {
                return Err(g.err(format!("`{r}` is both required_on_create and read_only")));
            }
            for t in &root_level {
                let chain = g.chain(t)?;
                let chain_names: Vec<&str> = chain.iter().map(|c| c.qname.as_str()).collect();
                let ok = g.member_names(t)?.iter().any(|(p, is_nav)| {
                    p.name == *r
                        && !p.computed
                        && (!is_nav
                            || g.inline
                                .iter()
                                .any(|(d, n)| n == r && chain_names.contains(&d.as_str())))
                });
                if !ok {
                    return Err(g.err(format!(
                        "required_on_create `{r}` is not a writable property (or inline navigation) of `{}`",
                        def_key(t)
                    )));
                }
            }
        }
    }
    g.root_types = root_level.iter().cloned().collect();
    Ok((root, concrete))
}

fn schema_document(meta: &Metadata, kind: &Kind, variant: Variant) -> Result<Value, GenerateError> {
    let spec = &kind.schema;
    let (model, source) = match kind.api_version {
        ApiVersion::V1 => (&meta.v1, SOURCE_V1),
        ApiVersion::Beta => (&meta.beta, SOURCE_BETA),
    };
    let mut g = Gen {
        model,
        kind,
        inline: Vec::new(),
        inline_used: Vec::new(),
        root_types: BTreeSet::new(),
        defs: BTreeMap::new(),
        queue: Vec::new(),
        queued: BTreeSet::new(),
    };
    let (root, concrete) = check_spec(&mut g)?;
    let root_abstract = model.structs.get(&root).is_some_and(|t| t.is_abstract);

    let mut body = Map::new();
    if let Some(param) = spec.action_parameter {
        let items = if model.has_subtypes(&root) {
            g.struct_ref(&root)
        } else {
            g.object_ref(&root, true)
        };
        body.insert("type".into(), json!("object"));
        body.insert("required".into(), json!([param]));
        body.insert(
            "properties".into(),
            json!({ param: { "type": "array", "items": items } }),
        );
        body.insert("additionalProperties".into(), Value::Bool(false));
    } else {
        let mut required: Vec<&str> = Vec::new();
        if spec.odata_type_required || (!concrete.is_empty() && root_abstract) {
            required.push("@odata.type");
        }
        if variant == Variant::Create {
            required.extend(spec.required_on_create.iter().copied());
        }
        if concrete.is_empty() {
            body.insert("$ref".into(), g.object_ref(&root, true)["$ref"].clone());
            if !required.is_empty() {
                body.insert("required".into(), json!(required));
            }
        } else {
            let default = (!root_abstract && !spec.odata_type_required).then_some(root.as_str());
            body = g.union_schema(&concrete, default, true, &required);
        }
    }
    g.drain()?;
    for (i, used) in g.inline_used.iter().enumerate() {
        if !used {
            let (d, n) = &g.inline[i];
            return Err(g.err(format!(
                "inline_navigation ({}, {n}) is never reached from the root",
                def_key(d)
            )));
        }
    }

    let mut x = Map::new();
    x.insert("source".into(), json!(source));
    x.insert("kind".into(), json!(kind.name));
    x.insert("apiVersion".into(), json!(kind.api_version.segment()));
    x.insert("rootType".into(), json!(root));
    if !concrete.is_empty() {
        x.insert("concreteTypes".into(), json!(concrete));
    }
    if let Some(param) = spec.action_parameter {
        x.insert("actionParameter".into(), json!(param));
    }
    x.insert("variant".into(), json!(variant.as_str()));
    let method = match variant {
        Variant::Create => kind.create_method,
        Variant::Update => Some(kind.update_method),
    };
    if let Some(m) = method {
        x.insert("method".into(), json!(m.as_str()));
    }
    x.insert("generator".into(), json!("src/schema/generate.rs"));

    let mut doc = Map::new();
    doc.insert("$schema".into(), json!(DIALECT));
    doc.insert(
        "$id".into(),
        json!(format!("{ID_BASE}{}.{}.json", spec.id, variant.as_str())),
    );
    doc.insert(
        "title".into(),
        json!(format!("{} {} request body", kind.name, variant.as_str())),
    );
    doc.insert("description".into(), json!(kind.summary));
    doc.insert("x-tenantform".into(), Value::Object(x));
    doc.extend(body);
    let defs: Map<String, Value> = g.defs.into_iter().collect();
    doc.insert("$defs".into(), Value::Object(defs));
    Ok(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{Method, Normalization, SchemaSpec, Shape, ThrottleClass};
    use jsonschema::error::ValidationErrorKind;

    const CSDL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="color">
        <Member Name="red" Value="0" />
        <Member Name="green" Value="1" />
        <Member Name="unknownFutureValue" Value="2" />
        <Member Name="blue" Value="3" />
      </EnumType>
      <EnumType Name="weekDays" IsFlags="true">
        <Member Name="none" Value="0" />
        <Member Name="monday" Value="1" />
        <Member Name="tuesday" Value="2" />
      </EnumType>
      <EntityType Name="entity" Abstract="true">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
      </EntityType>
      <EntityType Name="gadget" BaseType="graph.entity" Abstract="true">
        <Property Name="displayName" Type="Edm.String" Nullable="false" />
        <Property Name="note" Type="Edm.String" />
        <Property Name="count" Type="Edm.Int32" />
        <Property Name="color" Type="graph.color" />
        <Property Name="days" Type="graph.weekDays" Nullable="false" />
        <Property Name="tags" Type="Collection(Edm.String)" Nullable="false" />
        <Property Name="ranges" Type="Collection(graph.ipRange)" Nullable="false" />
        <Property Name="target" Type="graph.assignmentTarget" />
        <Property Name="when" Type="Edm.DateTimeOffset" />
        <Property Name="ownerId" Type="Edm.Guid" />
        <Property Name="stamp" Type="Edm.String" />
        <Property Name="photo" Type="Edm.Stream" />
        <NavigationProperty Name="parts" Type="Collection(graph.part)" ContainsTarget="true" />
        <NavigationProperty Name="owner" Type="graph.part" />
      </EntityType>
      <EntityType Name="widget" BaseType="graph.gadget">
        <Property Name="isShiny" Type="Edm.Boolean" Nullable="false" />
      </EntityType>
      <EntityType Name="sprocket" BaseType="graph.gadget">
        <Property Name="teeth" Type="Edm.Int16" />
      </EntityType>
      <EntityType Name="part" BaseType="graph.entity">
        <Property Name="label" Type="Edm.String" />
        <Property Name="serial" Type="Edm.String" />
        <NavigationProperty Name="screws" Type="Collection(graph.screw)" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="screw" BaseType="graph.entity">
        <Property Name="size" Type="Edm.Int32" Nullable="false" />
      </EntityType>
      <ComplexType Name="ipRange" Abstract="true" />
      <ComplexType Name="iPv4CidrRange" BaseType="graph.ipRange">
        <Property Name="cidrAddress" Type="Edm.String" Nullable="false" />
      </ComplexType>
      <ComplexType Name="iPv4Range" BaseType="graph.ipRange">
        <Property Name="lowerAddress" Type="Edm.String" Nullable="false" />
        <Property Name="upperAddress" Type="Edm.String" Nullable="false" />
      </ComplexType>
      <ComplexType Name="narrowCidrRange" BaseType="graph.iPv4CidrRange">
        <Property Name="width" Type="Edm.Int32" />
      </ComplexType>
      <ComplexType Name="unrelated">
        <Property Name="x" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="assignmentTarget">
        <Property Name="filterId" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="groupTarget" BaseType="graph.assignmentTarget">
        <Property Name="groupId" Type="Edm.String" />
      </ComplexType>
      <Annotations Target="graph.gadget/stamp">
        <Annotation Term="Org.OData.Core.V1.Computed" Bool="true" />
      </Annotations>
      <Annotations Target="microsoft.graph.part/serial">
        <Annotation Term="Org.OData.Core.V1.Computed" Bool="true" />
      </Annotations>
      <Annotations Target="microsoft.graph.gadget/note">
        <Annotation Term="Org.OData.Core.V1.Description" String="A free-text note." />
      </Annotations>
      <Action Name="doIt" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.part" />
        <Parameter Name="label" Type="Edm.String" Nullable="false" />
        <Parameter Name="colors" Type="Collection(graph.color)" />
      </Action>
      <Action Name="doIt" IsBound="true">
        <Parameter Name="bindingParameter" Type="Collection(graph.part)" />
        <Parameter Name="ignored" Type="Edm.String" />
      </Action>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

    const BETA_ENTITY: &str = r#"{"microsoft.graph": {
        "entity": {"properties": ["id"], "navigationProperties": []},
        "deviceManagementConfigurationPolicy": {"properties": ["createdDateTime", "description", "name", "platforms", "roleScopeTagIds", "settingCount", "technologies", "templateReference"], "navigationProperties": ["assignments", "settings"]},
        "deviceManagementConfigurationSetting": {"properties": ["settingInstance"], "navigationProperties": ["settingDefinitions"]},
        "deviceManagementConfigurationPolicyAssignment": {"properties": ["source", "sourceId", "target"], "navigationProperties": []}
    }}"#;
    const BETA_COMPLEX: &str = r#"{"microsoft.graph": {
        "deviceManagementConfigurationSettingInstance": {"properties": ["settingDefinitionId", "settingInstanceTemplateReference"], "navigationProperties": []},
        "deviceManagementConfigurationChoiceSettingInstance": {"properties": ["choiceSettingValue"], "navigationProperties": []},
        "deviceManagementConfigurationSimpleSettingInstance": {"properties": ["simpleSettingValue"], "navigationProperties": []},
        "deviceAndAppManagementAssignmentTarget": {"properties": ["deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"], "navigationProperties": []},
        "groupAssignmentTarget": {"properties": ["groupId"], "navigationProperties": []},
        "allDevicesAssignmentTarget": {"properties": [], "navigationProperties": []}
    }}"#;
    const BETA_ENUM: &str = r#"{"microsoft.graph": {
        "deviceManagementConfigurationPlatforms": ["none", "windows10", "macOS"],
        "deviceManagementConfigurationTechnologies": ["none", "mdm", "microsoftSense"],
        "deviceAndAppManagementAssignmentFilterType": ["none", "include", "exclude"]
    }}"#;
    /// v1.0 snippet giving the beta assignment targets their base types.
    const CSDL_TARGETS: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="entity" Abstract="true"><Key><PropertyRef Name="id" /></Key><Property Name="id" Type="Edm.String" Nullable="false" /></EntityType>
      <ComplexType Name="deviceAndAppManagementAssignmentTarget" Abstract="true" />
      <ComplexType Name="groupAssignmentTarget" BaseType="graph.deviceAndAppManagementAssignmentTarget"><Property Name="groupId" Type="Edm.String" /></ComplexType>
      <ComplexType Name="allDevicesAssignmentTarget" BaseType="graph.deviceAndAppManagementAssignmentTarget" />
    </Schema></edmx:DataServices></edmx:Edmx>"#;

    const EMPTY_BETA: &str = r#"{"microsoft.graph": {}}"#;

    fn spec(root_type: &'static str) -> SchemaSpec {
        SchemaSpec {
            id: "test",
            root_type,
            concrete_types: &[],
            inline_navigation: &[],
            required_on_create: &[],
            read_only: &[],
            odata_type_required: false,
            action_parameter: None,
        }
    }

    fn kind(schema: SchemaSpec) -> Kind {
        Kind {
            name: "test",
            ref_prefix: "test",
            summary: "A test kind",
            api_version: ApiVersion::V1,
            shape: Shape::Collection,
            path: "/tests",
            path_params: &[],
            create_method: Some(Method::Post),
            update_method: Method::Patch,
            match_key: &[],
            parent_kind: None,
            throttle: ThrottleClass::Identity,
            permissions: &[],
            licences: &[],
            schema,
            ref_slots: &[],
            normalization: Normalization {
                set_arrays: &[],
                ignore: &[],
                null_equals_empty: true,
            },
            lints: &[],
            read_expand: None,
        }
    }

    fn meta() -> Metadata {
        Metadata::parse(CSDL, EMPTY_BETA, EMPTY_BETA, EMPTY_BETA).expect("test CSDL parses")
    }

    fn doc(k: &Kind, variant: Variant) -> Value {
        schema_document(&meta(), k, variant).expect("schema generates")
    }

    /// `(instance path, error kind name, message)` for every error.
    fn errors(schema: &Value, body: &Value) -> Vec<(String, &'static str, String)> {
        let validator = jsonschema::validator_for(schema).expect("schema compiles");
        validator
            .iter_errors(body)
            .map(|e| {
                let name = match e.kind() {
                    ValidationErrorKind::AdditionalProperties { .. } => "additionalProperties",
                    ValidationErrorKind::FalseSchema => "false",
                    ValidationErrorKind::Required { .. } => "required",
                    ValidationErrorKind::Enum { .. } => "enum",
                    ValidationErrorKind::Pattern { .. } => "pattern",
                    ValidationErrorKind::Type { .. } => "type",
                    ValidationErrorKind::AnyOf { .. } => "anyOf",
                    ValidationErrorKind::Maximum { .. } => "maximum",
                    _ => "other",
                };
                let detail = match e.kind() {
                    ValidationErrorKind::Enum { options } => format!("{e} (allowed: {options})"),
                    _ => e.to_string(),
                };
                (e.instance_path().as_str().to_string(), name, detail)
            })
            .collect()
    }

    fn assert_valid(schema: &Value, body: &Value) {
        let errs = errors(schema, body);
        assert!(
            errs.is_empty(),
            "expected valid, got {errs:#?}\nbody: {body}"
        );
    }

    fn assert_error(schema: &Value, body: &Value, path: &str, kind: &str) -> String {
        let errs = errors(schema, body);
        errs.iter()
            .find(|(p, k, _)| p == path && *k == kind)
            .map(|(_, _, m)| m.clone())
            .unwrap_or_else(|| panic!("expected a `{kind}` error at `{path}`, got {errs:#?}"))
    }

    fn property_names(def: &Value) -> Vec<&str> {
        def["properties"]
            .as_object()
            .expect("object def")
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn inheritance_is_flattened_base_first() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        let names = property_names(&d["$defs"]["widget"]);
        assert_eq!(
            names,
            [
                "@odata.type",
                "id",
                "displayName",
                "note",
                "count",
                "color",
                "days",
                "tags",
                "ranges",
                "target",
                "when",
                "ownerId",
                "stamp",
                "isShiny",
                "parts@odata.bind",
                "owner@odata.bind",
            ]
        );
        assert_eq!(d["$defs"]["widget"]["additionalProperties"], json!(false));
        assert_eq!(d["$ref"], json!("#/$defs/widget"));
        // Edm.Stream is omitted; descriptions are kept.
        assert!(!names.contains(&"photo"));
        assert_eq!(
            d["$defs"]["widget"]["properties"]["note"]["description"],
            json!("A free-text note.")
        );
        assert_valid(&d, &json!({"displayName": "w", "isShiny": true}));
        let msg = assert_error(
            &d,
            &json!({"displayName": "w", "teeth": 3}),
            "",
            "additionalProperties",
        );
        assert!(msg.contains("teeth"), "{msg}");
    }

    #[test]
    fn abstract_property_type_is_a_discriminated_union() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        let union = &d["$defs"]["ipRange.union"];
        assert_eq!(union["required"], json!(["@odata.type"]));
        assert_eq!(
            union["properties"]["@odata.type"]["enum"],
            json!([
                "#microsoft.graph.iPv4CidrRange",
                "microsoft.graph.iPv4CidrRange",
                "#microsoft.graph.iPv4Range",
                "microsoft.graph.iPv4Range",
                "#microsoft.graph.narrowCidrRange",
                "microsoft.graph.narrowCidrRange",
            ])
        );
        assert_eq!(union["allOf"].as_array().map(Vec::len), Some(3));
        assert!(d["$defs"].get("unrelated").is_none());
        assert!(
            d["$defs"].get("ipRange").is_none(),
            "abstract base has no own def"
        );
        // the inherited type carries its base's properties
        assert_eq!(
            property_names(&d["$defs"]["narrowCidrRange"]),
            ["@odata.type", "cidrAddress", "width"]
        );
        let ok = json!({"ranges": [
            {"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "10.0.0.0/8"},
            {"@odata.type": "microsoft.graph.iPv4Range", "lowerAddress": "1.1.1.1", "upperAddress": "1.1.1.9"},
            {"@odata.type": "#microsoft.graph.narrowCidrRange", "cidrAddress": "10.0.0.0/8", "width": 3}
        ]});
        assert_valid(&d, &ok);
        assert_error(
            &d,
            &json!({"ranges": [{"cidrAddress": "10.0.0.0/8"}]}),
            "/ranges/0",
            "required",
        );
        let msg = assert_error(
            &d,
            &json!({"ranges": [{"@odata.type": "#microsoft.graph.unrelated", "x": "1"}]}),
            "/ranges/0/@odata.type",
            "enum",
        );
        assert!(msg.contains("iPv4CidrRange"), "{msg}");
        assert_error(
            &d,
            &json!({"ranges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "lowerAddress": "1.1.1.1", "cidrAddress": "1.0.0.0/8"}]}),
            "/ranges/0",
            "additionalProperties",
        );
        // Nullable="false" is not "required": an absent upperAddress passes, a null one fails
        assert_valid(
            &d,
            &json!({"ranges": [{"@odata.type": "#microsoft.graph.iPv4Range", "lowerAddress": "1.1.1.1"}]}),
        );
        assert_error(
            &d,
            &json!({"ranges": [{"@odata.type": "#microsoft.graph.iPv4Range", "upperAddress": null}]}),
            "/ranges/0/upperAddress",
            "type",
        );
    }

    #[test]
    fn non_abstract_base_union_defaults_to_the_base() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        let union = &d["$defs"]["assignmentTarget.union"];
        assert!(union.get("required").is_none());
        assert_valid(&d, &json!({"target": {"filterId": "f"}}));
        assert_valid(
            &d,
            &json!({"target": {"@odata.type": "#microsoft.graph.groupTarget", "groupId": "g"}}),
        );
        assert_valid(
            &d,
            &json!({"target": {"@odata.type": "microsoft.graph.assignmentTarget"}}),
        );
        assert_valid(&d, &json!({"target": null}));
        // without @odata.type the body is the base, which has no groupId
        assert_error(
            &d,
            &json!({"target": {"groupId": "g"}}),
            "/target",
            "additionalProperties",
        );
    }

    #[test]
    fn flags_enums_are_comma_lists() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        let flags = &d["$defs"]["weekDays"];
        assert_eq!(
            flags["x-flags-members"],
            json!(["none", "monday", "tuesday"])
        );
        assert!(flags.get("enum").is_none());
        for ok in ["monday", "monday,tuesday", "monday, tuesday", "none"] {
            assert_valid(&d, &json!({"days": ok}));
        }
        for bad in ["friday", "monday;tuesday", "monday,", ""] {
            assert_error(&d, &json!({"days": bad}), "/days", "pattern");
        }
    }

    #[test]
    fn evolvable_enum_members_are_accepted() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        assert_eq!(
            d["$defs"]["color"]["enum"],
            json!(["red", "green", "unknownFutureValue", "blue"])
        );
        assert_valid(&d, &json!({"color": "blue"}));
        assert_valid(&d, &json!({"color": "red"}));
        let msg = assert_error(&d, &json!({"color": "purple"}), "/color", "enum");
        assert!(
            msg.contains("\"blue\""),
            "allowed members are listed: {msg}"
        );
    }

    #[test]
    fn nullable_follows_the_csdl() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        assert_valid(
            &d,
            &json!({"note": null, "count": null, "color": null, "target": null, "when": null, "ownerId": null}),
        );
        assert_error(&d, &json!({"displayName": null}), "/displayName", "type");
        assert_error(&d, &json!({"isShiny": null}), "/isShiny", "type");
        assert_error(&d, &json!({"days": null}), "/days", "type");
        assert_error(&d, &json!({"tags": null}), "/tags", "type");
        // collection items are never null
        assert_error(&d, &json!({"tags": ["a", null]}), "/tags/1", "type");
        // errors inside a nullable reference are not wrapped in anyOf
        assert_error(
            &d,
            &json!({"target": {"bogus": 1}}),
            "/target",
            "additionalProperties",
        );
    }

    #[test]
    fn primitives_are_checked() {
        let d = doc(&kind(spec("sprocket")), Variant::Update);
        assert_valid(
            &d,
            &json!({"count": 3, "teeth": 12, "when": "2024-01-02T03:04:05.123Z",
                    "ownerId": "ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"}),
        );
        assert_error(&d, &json!({"teeth": 40000}), "/teeth", "maximum");
        assert_error(&d, &json!({"count": 1.5}), "/count", "type");
        assert_error(&d, &json!({"when": "yesterday"}), "/when", "pattern");
        assert_error(&d, &json!({"ownerId": "not-a-guid"}), "/ownerId", "pattern");
    }

    #[test]
    fn read_only_is_rejected_on_create_and_update() {
        let mut s = spec("widget");
        s.read_only = &["id"];
        s.required_on_create = &["displayName"];
        for variant in Variant::ALL {
            let d = doc(&kind(s), variant);
            assert_eq!(d["$defs"]["widget"]["properties"]["id"], json!(false));
            assert_error(&d, &json!({"displayName": "w", "id": "x"}), "/id", "false");
            // Core.Computed is rejected too
            assert_error(
                &d,
                &json!({"displayName": "w", "stamp": "x"}),
                "/stamp",
                "false",
            );
        }
    }

    #[test]
    fn read_only_applies_at_the_root_only_and_computed_everywhere() {
        let mut s = spec("widget");
        s.read_only = &["id"];
        s.inline_navigation = &[("gadget", "parts")];
        let d = doc(&kind(s), Variant::Create);
        // parts are entities with an id, which stays writable below the root
        assert_valid(&d, &json!({"parts": [{"id": "p1", "label": "a"}]}));
        assert_error(
            &d,
            &json!({"parts": [{"serial": "s"}]}),
            "/parts/0/serial",
            "false",
        );
    }

    #[test]
    fn required_on_create_only() {
        let mut s = spec("widget");
        s.required_on_create = &["displayName", "isShiny"];
        let create = doc(&kind(s), Variant::Create);
        let update = doc(&kind(s), Variant::Update);
        assert_eq!(create["required"], json!(["displayName", "isShiny"]));
        assert!(update.get("required").is_none());
        let msg = assert_error(&create, &json!({"displayName": "w"}), "", "required");
        assert!(msg.contains("isShiny"), "{msg}");
        assert_valid(&update, &json!({"displayName": "w"}));
    }

    #[test]
    fn inline_navigation_is_opt_in_and_nested() {
        let plain = doc(&kind(spec("widget")), Variant::Update);
        assert_error(&plain, &json!({"parts": []}), "", "additionalProperties");
        assert_valid(
            &plain,
            &json!({"parts@odata.bind": ["https://graph/parts/1"], "owner@odata.bind": "https://graph/parts/2"}),
        );
        assert_error(
            &plain,
            &json!({"owner@odata.bind": ["x"]}),
            "/owner@odata.bind",
            "type",
        );

        let mut s = spec("widget");
        // declared on the abstract base, applies to the subtype; nested pairs apply below
        s.inline_navigation = &[("gadget", "parts"), ("part", "screws")];
        let d = doc(&kind(s), Variant::Update);
        assert_valid(
            &d,
            &json!({"parts": [{"label": "a", "screws": [{"size": 3}]}]}),
        );
        assert_error(
            &d,
            &json!({"parts": [{"screws": [{"size": "big"}]}]}),
            "/parts/0/screws/0/size",
            "type",
        );
        assert_error(&d, &json!({"parts": {"label": "a"}}), "/parts", "type");
        // owner is still bind-only
        assert_error(
            &d,
            &json!({"owner": {"label": "a"}}),
            "",
            "additionalProperties",
        );
    }

    #[test]
    fn collections_are_arrays() {
        let d = doc(&kind(spec("widget")), Variant::Update);
        assert_eq!(
            d["$defs"]["widget"]["properties"]["tags"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_valid(&d, &json!({"tags": [], "ranges": []}));
        assert_error(&d, &json!({"tags": "a"}), "/tags", "type");
        assert_error(&d, &json!({"tags": [1]}), "/tags/0", "type");
    }

    #[test]
    fn concrete_types_make_a_root_union() {
        let mut s = spec("gadget");
        s.concrete_types = &["widget"];
        s.odata_type_required = true;
        s.required_on_create = &["displayName"];
        s.read_only = &["id"];
        let create = doc(&kind(s), Variant::Create);
        assert_eq!(create["required"], json!(["@odata.type", "displayName"]));
        assert_eq!(
            create["properties"]["@odata.type"]["enum"],
            json!(["#microsoft.graph.widget", "microsoft.graph.widget"])
        );
        assert!(
            create["$defs"].get("sprocket").is_none(),
            "only the listed concrete types"
        );
        assert_valid(
            &create,
            &json!({"@odata.type": "#microsoft.graph.widget", "displayName": "w"}),
        );
        assert_error(&create, &json!({"displayName": "w"}), "", "required");
        assert_error(
            &create,
            &json!({"@odata.type": "#microsoft.graph.sprocket", "displayName": "w"}),
            "/@odata.type",
            "enum",
        );
        assert_error(
            &create,
            &json!({"@odata.type": "#microsoft.graph.widget", "displayName": "w", "id": "1"}),
            "/id",
            "false",
        );
        let update = doc(&kind(s), Variant::Update);
        assert_eq!(update["required"], json!(["@odata.type"]));
        assert_valid(&update, &json!({"@odata.type": "microsoft.graph.widget"}));
    }

    #[test]
    fn action_kinds_wrap_the_parameter() {
        let mut s = spec("part");
        s.action_parameter = Some("assignments");
        s.required_on_create = &["assignments"];
        let d = doc(&kind(s), Variant::Create);
        assert_eq!(d["required"], json!(["assignments"]));
        assert_eq!(
            d["properties"]["assignments"]["items"],
            json!({"$ref": "#/$defs/part"})
        );
        assert_valid(&d, &json!({"assignments": [{"label": "a"}, {"id": "x"}]}));
        assert_error(&d, &json!({}), "", "required");
        assert_error(
            &d,
            &json!({"assignments": [], "extra": 1}),
            "",
            "additionalProperties",
        );
    }

    #[test]
    fn bound_action_parameters_are_a_type_named_after_the_binding() {
        let mut s = spec("part.doIt");
        s.required_on_create = &["label"];
        let d = doc(&kind(s), Variant::Create);
        assert_valid(&d, &json!({"label": "x", "colors": ["red"]}));
        assert_error(&d, &json!({}), "", "required");
        assert_error(&d, &json!({"label": null}), "/label", "type");
        assert_error(
            &d,
            &json!({"label": "x", "colors": ["pink"]}),
            "/colors/0",
            "enum",
        );
        // The collection-bound overload is not the entity-bound one.
        assert_error(
            &d,
            &json!({"label": "x", "ignored": "y"}),
            "",
            "additionalProperties",
        );
    }

    #[test]
    fn registry_errors_are_reported() {
        let m = meta();
        let cases: [(SchemaSpec, &str); 6] = [
            (spec("nope"), "root_type `nope`"),
            (
                SchemaSpec {
                    read_only: &["nope"],
                    ..spec("widget")
                },
                "read_only `nope`",
            ),
            (
                SchemaSpec {
                    required_on_create: &["nope"],
                    ..spec("widget")
                },
                "required_on_create `nope`",
            ),
            (
                SchemaSpec {
                    required_on_create: &["parts"],
                    ..spec("widget")
                },
                "required_on_create `parts`",
            ),
            (
                SchemaSpec {
                    inline_navigation: &[("widget", "label")],
                    ..spec("widget")
                },
                "inline_navigation `label`",
            ),
            (
                SchemaSpec {
                    concrete_types: &["part"],
                    ..spec("gadget")
                },
                "does not derive",
            ),
        ];
        for (s, expected) in cases {
            let err = schema_document(&m, &kind(s), Variant::Create).expect_err("invalid spec");
            assert!(
                err.to_string().contains(expected),
                "{err} should mention {expected}"
            );
        }
        let unreached = SchemaSpec {
            inline_navigation: &[("part", "screws")],
            ..spec("widget")
        };
        let err = schema_document(&m, &kind(unreached), Variant::Create).expect_err("unreached");
        assert!(err.to_string().contains("never reached"), "{err}");
    }

    #[test]
    fn documents_have_the_envelope_and_are_deterministic() {
        let m = meta();
        let k = kind(SchemaSpec {
            read_only: &["id"],
            ..spec("widget")
        });
        let a = generate(&m, &[k]).expect("generates");
        let b = generate(&m, &[k]).expect("generates");
        assert_eq!(a, b);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            ["test.create.schema.json", "test.update.schema.json"]
        );
        let text = &a["test.create.schema.json"];
        assert!(text.ends_with("}\n"));
        let d: Value = serde_json::from_str(text).expect("json");
        assert_eq!(d["$schema"], json!(DIALECT));
        assert_eq!(
            d["$id"],
            json!("https://tenantform.dev/schema/test.create.json")
        );
        assert_eq!(d["x-tenantform"]["source"], json!("v1.0-Prod.csdl"));
        assert_eq!(
            d["x-tenantform"]["rootType"],
            json!("microsoft.graph.widget")
        );
        assert_eq!(d["x-tenantform"]["variant"], json!("create"));
        let keys: Vec<&String> = d["$defs"].as_object().expect("defs").keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        let dup = generate(&m, &[k, k]).expect_err("duplicate ids");
        assert!(matches!(dup, GenerateError::DuplicateId(_)));
    }

    #[test]
    fn beta_kinds_use_the_name_mappings_and_hand_rules() {
        let m =
            Metadata::parse(CSDL_TARGETS, BETA_ENTITY, BETA_COMPLEX, BETA_ENUM).expect("parses");
        let mut k = kind(SchemaSpec {
            inline_navigation: &[("deviceManagementConfigurationPolicy", "settings")],
            required_on_create: &["name", "platforms", "technologies", "settings"],
            read_only: &["id", "createdDateTime", "settingCount"],
            ..spec("deviceManagementConfigurationPolicy")
        });
        k.api_version = ApiVersion::Beta;
        let d = schema_document(&m, &k, Variant::Create).expect("generates");
        assert_eq!(d["x-tenantform"]["source"], json!("beta type-mappings"));
        let body = json!({
            "name": "Baseline", "description": null, "platforms": "windows10", "technologies": "mdm,microsoftSense",
            "roleScopeTagIds": ["0"], "templateReference": {"templateId": ""},
            "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": "device_vendor_msft_x",
                "choiceSettingValue": {"value": "device_vendor_msft_x_1", "children": []}
            }}]
        });
        assert_valid(&d, &body);
        assert_error(
            &d,
            &json!({"name": "x", "platforms": "windows10", "technologies": "mdm", "settings": [], "bogus": 1}),
            "",
            "additionalProperties",
        );
        assert_error(
            &d,
            &json!({"name": "x", "platforms": "amiga", "technologies": "mdm", "settings": []}),
            "/platforms",
            "pattern",
        );
        assert_error(
            &d,
            &json!({"name": "x", "platforms": "none", "technologies": "mdm", "settings": [], "settingCount": 1}),
            "/settingCount",
            "false",
        );
        let missing = json!({"name": "x", "platforms": "none", "technologies": "mdm", "settings": [
            {"settingInstance": {"settingDefinitionId": "a"}},
            {"settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"}},
            {"settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance", "settingDefinitionId": "a", "choiceSettingValue": {}}}
        ]});
        assert_error(&d, &missing, "/settings/0/settingInstance", "required");
        assert_error(&d, &missing, "/settings/1/settingInstance", "required");
        assert_error(
            &d,
            &missing,
            "/settings/2/settingInstance",
            "additionalProperties",
        );

        let mut a = kind(SchemaSpec {
            action_parameter: Some("assignments"),
            required_on_create: &["assignments"],
            ..spec("deviceManagementConfigurationPolicyAssignment")
        });
        a.api_version = ApiVersion::Beta;
        let d = schema_document(&m, &a, Variant::Create).expect("generates");
        assert_valid(
            &d,
            &json!({"assignments": [
                {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g",
                            "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none"}},
                {"target": {"@odata.type": "microsoft.graph.allDevicesAssignmentTarget"}}
            ]}),
        );
        assert_error(
            &d,
            &json!({"assignments": [{"target": {"groupId": "g"}}]}),
            "/assignments/0/target",
            "required",
        );
        assert_error(
            &d,
            &json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget", "deviceAndAppManagementAssignmentFilterType": "sometimes"}}]}),
            "/assignments/0/target/deviceAndAppManagementAssignmentFilterType",
            "enum",
        );
    }

    #[test]
    fn write_and_check_round_trip() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("generated");
        let files: BTreeMap<String, String> = [
            ("a.create.schema.json".to_string(), "{}\n".to_string()),
            ("a.update.schema.json".to_string(), "{}\n".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            check(&dir, &files).expect("check"),
            ["a.create.schema.json", "a.update.schema.json"]
        );
        write(&dir, &files).expect("write");
        assert!(check(&dir, &files).expect("check").is_empty());
        std::fs::write(dir.join("stale.create.schema.json"), "{}").expect("write stale");
        std::fs::write(dir.join("a.update.schema.json"), "{ }\n").expect("write changed");
        std::fs::write(dir.join("README.md"), "kept").expect("write other");
        assert_eq!(
            check(&dir, &files).expect("check"),
            ["a.update.schema.json", "stale.create.schema.json"]
        );
        write(&dir, &files).expect("write");
        assert!(check(&dir, &files).expect("check").is_empty());
        assert!(dir.join("README.md").exists());
        assert!(!dir.join("stale.create.schema.json").exists());
    }

    // --- The real metadata and the committed files --------------------------------------------

    fn manifest_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn generated_dir() -> PathBuf {
        manifest_dir().join("src/schema/generated")
    }

    /// Graph's metadata, from `TENANTFORM_GRAPH_METADATA` or `../shared/graph-metadata` beside
    /// the clone (where CI lays it). A plain clone has neither (book/src/schemas.md says where
    /// the metadata comes from): the tests that need it say they skipped, and `.ci/run` says so
    /// too. A folder named explicitly must hold it.
    #[allow(clippy::print_stderr)] // a test says that it skipped; the lint is for the library
    fn real_metadata() -> Option<Metadata> {
        let (dir, required) = match std::env::var_os("TENANTFORM_GRAPH_METADATA") {
            Some(dir) => (PathBuf::from(dir), true),
            None => (manifest_dir().join("../shared/graph-metadata"), false),
        };
        if !dir.join(CSDL_FILE).is_file() {
            assert!(
                !required,
                "TENANTFORM_GRAPH_METADATA={} holds no {CSDL_FILE}",
                dir.display()
            );
            eprintln!(
                "skipped: no Graph metadata at {} (set TENANTFORM_GRAPH_METADATA)",
                dir.display()
            );
            return None;
        }
        Some(Metadata::load(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display())))
    }

    #[test]
    fn committed_schemas_match_the_metadata() {
        let Some(meta) = real_metadata() else {
            return;
        };
        let files = generate_registry(&meta).unwrap_or_else(|e| panic!("{e}"));
        let differ = check(&generated_dir(), &files).expect("check");
        assert!(
            differ.is_empty(),
            "src/schema/generated is out of date ({}); regenerate it with the schema generator",
            differ.join(", ")
        );
    }

    #[test]
    fn beta_hand_rules_match_the_real_mappings() {
        let Some(meta) = real_metadata() else {
            return;
        };
        for (ty, prop, ..) in BETA_PROPERTIES {
            let t = meta.beta.structs.get(&format!("{GRAPH_NS}.{ty}"));
            assert!(
                t.is_some_and(|t| t.properties.iter().any(|p| p.name == *prop)),
                "beta rule ({ty}, {prop}) no longer matches the type mapping"
            );
        }
        for (ty, nav, target, _) in BETA_NAVIGATION {
            let t = meta.beta.structs.get(&format!("{GRAPH_NS}.{ty}"));
            assert!(
                t.is_some_and(|t| t.navigation.iter().any(|p| p.name == *nav)),
                "({ty}, {nav})"
            );
            assert!(
                meta.beta
                    .structs
                    .contains_key(&format!("{GRAPH_NS}.{target}")),
                "{target}"
            );
        }
        for e in BETA_FLAGS_ENUMS {
            assert!(
                meta.beta.enums.contains_key(&format!("{GRAPH_NS}.{e}")),
                "{e}"
            );
        }
    }

    fn committed(name: &str) -> Value {
        let path = generated_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).expect("committed schema is JSON")
    }

    #[test]
    fn committed_schemas_compile() {
        for entry in std::fs::read_dir(generated_dir()).expect("generated dir") {
            let path = entry.expect("entry").path();
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{} does not compile: {e}", path.display()));
        }
    }

    #[test]
    fn real_conditional_access_policy_bodies() {
        let create = committed("conditionalAccessPolicy.create.schema.json");
        let body = json!({"displayName":"Access to EXO requires MFA","state":"enabled",
            "conditions":{"clientAppTypes":["mobileAppsAndDesktopClients","browser"],
              "applications":{"includeApplications":["00000002-0000-0ff1-ce00-000000000000"]},
              "users":{"includeGroups":["ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"]},
              "locations":{"includeLocations":["All"],"excludeLocations":["AllTrusted"]}},
            "grantControls":{"operator":"OR","builtInControls":["mfa"]}});
        assert_valid(&create, &body);
        let mut richer = body.clone();
        richer["conditions"]["users"]["includeGuestsOrExternalUsers"] = json!({
            "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
            "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants", "membershipKind": "all"}
        });
        richer["conditions"]["platforms"] =
            json!({"includePlatforms": ["all"], "excludePlatforms": ["linux"]});
        richer["grantControls"]["builtInControls"] = json!(["riskRemediation"]);
        richer["grantControls"]["authenticationStrength"] =
            json!({"id": "00000000-0000-0000-0000-000000000002"});
        richer["sessionControls"] = json!({"signInFrequency": {"value": 1, "type": "hours", "isEnabled": true, "frequencyInterval": "timeBased"}});
        assert_valid(&create, &richer);

        let mut unknown = body.clone();
        unknown["conditions"]["users"]["includeGroupz"] = json!([]);
        let msg = assert_error(
            &create,
            &unknown,
            "/conditions/users",
            "additionalProperties",
        );
        assert!(msg.contains("includeGroupz"), "{msg}");
        let mut bad_enum = body.clone();
        bad_enum["state"] = json!("on");
        let msg = assert_error(&create, &bad_enum, "/state", "enum");
        assert!(msg.contains("enabledForReportingButNotEnforced"), "{msg}");
        let mut bad_nested_enum = body.clone();
        bad_nested_enum["conditions"]["platforms"] = json!({"includePlatforms": ["amiga"]});
        let msg = assert_error(
            &create,
            &bad_nested_enum,
            "/conditions/platforms/includePlatforms/0",
            "enum",
        );
        assert!(msg.contains("macOS"), "{msg}");
        let mut with_id = body.clone();
        with_id["id"] = json!("1");
        assert_error(&create, &with_id, "/id", "false");
        assert_error(
            &create,
            &json!({"displayName": "x", "state": "enabled"}),
            "",
            "required",
        );
        let update = committed("conditionalAccessPolicy.update.schema.json");
        assert_valid(&update, &json!({"state": "disabled"}));
        assert_error(
            &update,
            &json!({"state": "disabled", "createdDateTime": "2024-01-01T00:00:00Z"}),
            "/createdDateTime",
            "false",
        );
    }

    #[test]
    fn real_named_location_bodies() {
        let create = committed("namedLocation.create.schema.json");
        let ip = json!({"@odata.type":"#microsoft.graph.ipNamedLocation","displayName":"Untrusted IP named location","isTrusted":false,
            "ipRanges":[{"@odata.type":"#microsoft.graph.iPv4CidrRange","cidrAddress":"12.34.221.11/22"},
                        {"@odata.type":"#microsoft.graph.iPv6CidrRange","cidrAddress":"2001:0:9d38:90d6:0:0:0:0/63"}]});
        assert_valid(&create, &ip);
        let country = json!({"@odata.type":"#microsoft.graph.countryNamedLocation","displayName":"Named location with unknown countries and regions",
            "countriesAndRegions":["US","GB"],"includeUnknownCountriesAndRegions":true});
        assert_valid(&create, &country);
        let mut no_type = ip.clone();
        no_type.as_object_mut().map(|o| o.remove("@odata.type"));
        assert_error(&create, &no_type, "", "required");
        let mut bad_range = ip.clone();
        bad_range["ipRanges"][0] = json!({"cidrAddress": "1.2.3.4/32"});
        assert_error(&create, &bad_range, "/ipRanges/0", "required");
        let mut mixed = ip.clone();
        mixed["countriesAndRegions"] = json!(["US"]);
        assert_error(&create, &mixed, "", "additionalProperties");
        let update = committed("namedLocation.update.schema.json");
        assert_valid(
            &update,
            &json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "isTrusted": true}),
        );
        assert_error(&update, &json!({"isTrusted": true}), "", "required");
    }

    #[test]
    fn real_compliance_policy_and_assignment_bodies() {
        let create = committed("deviceCompliancePolicy.create.schema.json");
        let body = json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Win10 baseline",
            "description": null, "passwordRequired": true, "passwordMinimumLength": 12, "passwordRequiredType": "alphanumeric",
            "bitLockerEnabled": true, "secureBootEnabled": true, "osMinimumVersion": "10.0.19045",
            "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
                {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": "", "notificationMessageCCList": []}]}]});
        assert_valid(&create, &body);
        let mut missing = body.clone();
        missing
            .as_object_mut()
            .map(|o| o.remove("scheduledActionsForRule"));
        let msg = assert_error(&create, &missing, "", "required");
        assert!(msg.contains("scheduledActionsForRule"), "{msg}");
        let mut bad_action = body.clone();
        bad_action["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"] =
            json!("explode");
        assert_error(
            &create,
            &bad_action,
            "/scheduledActionsForRule/0/scheduledActionConfigurations/0/actionType",
            "enum",
        );
        let mut ios_field = body.clone();
        ios_field["passcodeRequired"] = json!(true);
        assert_error(&create, &ios_field, "", "additionalProperties");
        let mut version = body.clone();
        version["version"] = json!(3);
        assert_error(&create, &version, "/version", "false");

        let assign = committed("deviceCompliancePolicyAssignment.create.schema.json");
        let body = json!({"assignments": [
            {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"}},
            {"target": {"@odata.type": "microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8bb"}},
            {"target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}
        ]});
        assert_valid(&assign, &body);
        assert_error(
            &assign,
            &json!({"assignments": [{"target": {"groupId": "g"}}]}),
            "/assignments/0/target",
            "required",
        );
        assert_error(&assign, &json!({"value": []}), "", "additionalProperties");
    }

    #[test]
    fn real_group_and_settings_catalog_bodies() {
        let create = committed("group.create.schema.json");
        let body = json!({"displayName": "Break glass", "mailEnabled": false, "mailNickname": "breakglass",
            "securityEnabled": true, "uniqueName": "breakglass", "groupTypes": [], "description": "Emergency access",
            "owners@odata.bind": ["https://graph.microsoft.com/v1.0/users/26be1845-1e4e-4a8f-b0f9-0a5d8b8a0e0e"]});
        assert_valid(&create, &body);
        let mut unsubscribed = body.clone();
        unsubscribed["hideFromOutlookClients"] = json!(true);
        assert_error(&create, &unsubscribed, "/hideFromOutlookClients", "false");
        let mut members = body.clone();
        members["members"] = json!([]);
        assert_error(&create, &members, "", "additionalProperties");

        let policy = committed("configurationPolicy.create.schema.json");
        let body = json!({"name": "Defender baseline", "description": "", "platforms": "windows10",
            "technologies": "mdm,microsoftSense", "roleScopeTagIds": ["0"],
            "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
                "settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                    "settingDefinitionId": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring",
                    "choiceSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue",
                        "value": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring_1", "children": []}}}]});
        assert_valid(&policy, &body);
        let assign = committed("configurationPolicyAssignment.create.schema.json");
        assert_valid(
            &assign,
            &json!({"assignments": [{"target": {
            "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g",
            "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none"}}]}),
        );
    }

    #[test]
    fn real_policy_singleton_and_partner_bodies() {
        let auth = committed("authenticationMethodConfiguration.update.schema.json");
        assert_valid(
            &auth,
            &json!({
                "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration",
                "state": "enabled",
                "featureSettings": {"displayAppInformationRequiredState": {"state": "enabled",
                    "includeTarget": {"targetType": "group", "id": "all_users"}}},
                "includeTargets": [{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodTarget",
                    "targetType": "group", "id": "all_users", "isRegistrationRequired": false, "authenticationMode": "any"}],
                "excludeTargets": [{"targetType": "group", "id": "ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"}]
            }),
        );
        assert_valid(
            &auth,
            &json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
            "state": "enabled", "isAttestationEnforced": true,
            "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []}}),
        );
        assert_error(&auth, &json!({"state": "enabled"}), "", "required");
        let policy = committed("authenticationMethodsPolicy.update.schema.json");
        assert_valid(
            &policy,
            &json!({"registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {
            "snoozeDurationInDays": 1, "state": "enabled", "excludeTargets": [],
            "includeTargets": [{"id": "all_users", "targetType": "group", "targetedAuthenticationMethod": "microsoftAuthenticator"}]}}}),
        );
        let authz = committed("authorizationPolicy.update.schema.json");
        assert_valid(
            &authz,
            &json!({"allowInvitesFrom": "adminsAndGuestInviters", "blockMsolPowerShell": true,
            "guestUserRoleId": "2af84b1e-32c8-42b7-82bc-daa82404023b",
            "defaultUserRolePermissions": {"allowedToCreateApps": false, "permissionGrantPoliciesAssigned": []}}),
        );
        assert_error(
            &authz,
            &json!({"guestUserRoleId": "guest"}),
            "/guestUserRoleId",
            "pattern",
        );
        let defaults = committed("identitySecurityDefaultsEnforcementPolicy.update.schema.json");
        assert_valid(&defaults, &json!({"isEnabled": false}));
        let partner = committed("crossTenantAccessPolicyPartner.create.schema.json");
        assert_valid(
            &partner,
            &json!({"tenantId": "3d0f5dec-5d3d-455c-8016-e2af1ae4d31a",
            "b2bDirectConnectOutbound": {"usersAndGroups": {"accessType": "blocked",
                "targets": [{"target": "AllUsers", "targetType": "user"}]}},
            "inboundTrust": {"isMfaAccepted": true, "isCompliantDeviceAccepted": true},
            "automaticUserConsentSettings": {"inboundAllowed": true, "outboundAllowed": true}}),
        );
        assert_error(
            &partner,
            &json!({"isServiceProvider": true}),
            "",
            "required",
        );
        let sync = committed("crossTenantIdentitySyncPolicyPartner.create.schema.json");
        assert_valid(
            &sync,
            &json!({"tenantId": "3d0f5dec-5d3d-455c-8016-e2af1ae4d31a",
            "displayName": "Fabrikam", "userSyncInbound": {"isSyncAllowed": true}}),
        );
        let default = committed("crossTenantAccessPolicyDefault.update.schema.json");
        assert_error(
            &default,
            &json!({"isServiceDefault": true}),
            "/isServiceDefault",
            "false",
        );
    }
}
