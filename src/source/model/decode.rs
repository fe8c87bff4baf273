//! The decoders of `tenantform.toml`, baselines and tenants files: each reads its keys with
//! the [`Reader`], checks what it can without other files, and returns the model type.
//!
//! Input: one file's text and its [`FileId`]. Output: [`ProjectConfig`], [`Baseline`] or
//! [`Tenant`]s, plus diagnostics.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::reader::{Reader, parse_document};
use super::*;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::FileId;

/// Decode `tenantform.toml`.
pub fn decode_project(text: &str, file: FileId, diags: &mut Diagnostics) -> Option<ProjectConfig> {
    let doc = parse_document(text, file, 0, diags)?;
    let mut r = Reader::new(file, diags, 0);
    let root = doc.get_ref();
    r.check_keys(root, &["project", "deploy", "state"], "tenantform.toml");
    let mut require_approved_plan = false;
    if let Some((deploy, _)) = r.sub_table(root, "deploy", "tenantform.toml") {
        r.check_keys(deploy, &["require_approved_plan"], "[deploy]");
        require_approved_plan = r
            .bool(deploy, "require_approved_plan", "[deploy]")
            .unwrap_or(false);
    }
    let mut masked = Vec::new();
    let state = match r.sub_table(root, "state", "tenantform.toml") {
        Some((table, range)) => super::state::decode_state(&mut r, table, range, &mut masked),
        None => super::StateSettings::default(),
    };
    let Some((project, range)) = r.sub_table(root, "project", "tenantform.toml") else {
        r.missing("project", "tenantform.toml", 0..0);
        return None;
    };
    r.check_keys(project, &["name"], "[project]");
    let name = r.required_string(project, "name", "[project]", range)?;
    Some(ProjectConfig {
        name,
        require_approved_plan,
        state,
        masked,
    })
}

const PARAM_TYPES: &[&str] = &["string", "bool", "integer", "uuid", "enum", "list"];

fn decode_param(
    r: &mut Reader<'_>,
    name: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<ParamDecl> {
    let what = format!("[params.{}]", name.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(
            &name.value,
            "[params]",
            "a table with `type` and `description`",
            value,
        );
        return None;
    };
    r.check_keys(
        t,
        &["type", "items", "values", "default", "description"],
        &what,
    );
    if !is_param_name(&name.value) {
        r.error_at(
            Code::InvalidValue,
            format!(
                "parameter name `{}` must be lower case letters, digits and `_`, starting with a letter",
                name.value
            ), name.span);
    }
    let ty_text = r.required_string(t, "type", &what, value.span())?;
    let description = r
        .required_string(t, "description", &what, value.span())
        .map(|s| s.value)
        .unwrap_or_default();
    let values: Vec<String> = r
        .string_list(t, "values", &what)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let scalar = |r: &mut Reader<'_>, text: &Sp<String>, key: &str| -> Option<ScalarType> {
        Some(match text.value.as_str() {
            "string" => ScalarType::String,
            "bool" => ScalarType::Bool,
            "integer" => ScalarType::Integer,
            "uuid" => ScalarType::Uuid,
            "enum" => {
                if values.is_empty() {
                    r.missing("values", &format!("{what} (an enum)"), r.raw(text.span));
                    return None;
                }
                ScalarType::Enum(values.clone())
            }
            other => {
                let allowed: &[&str] = if key == "items" {
                    &PARAM_TYPES[..5]
                } else {
                    PARAM_TYPES
                };
                let mut d = Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` in {what} must be a parameter type, found \"{other}\""),
                )
                .at(text.span)
                .expected(format!("one of {}", quote_list(allowed)));
                if let Some(s) = did_you_mean(other, allowed.iter().copied()) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                r.diags.push(d);
                return None;
            }
        })
    };
    let ty = if ty_text.value == "list" {
        let items = r.required_string(t, "items", &format!("{what} (a list)"), value.span())?;
        ParamType::List(scalar(r, &items, "items")?)
    } else {
        ParamType::Scalar(scalar(r, &ty_text, "type")?)
    };
    let default = r.get(t, "default").map(|(_, v)| r.value(v));
    Some(ParamDecl {
        name,
        ty,
        default,
        description,
    })
}

fn decode_resource(
    r: &mut Reader<'_>,
    key: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<ResourceDecl> {
    let what = format!("[resources.{}]", key.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(&key.value, "[resources]", "a table", value);
        return None;
    };
    r.check_keys(
        t,
        &[
            "kind",
            "template",
            "body",
            "description",
            "controls",
            "vars",
            "parent",
            "allow",
        ],
        &what,
    );
    if !is_resource_key(&key.value) {
        r.error_at(
            Code::InvalidValue,
            format!(
                "resource key `{}` must be lower case letters, digits and `-`, starting with a letter",
                key.value
            ), key.span);
    }
    let kind_text = r.required_string(t, "kind", &what, value.span());
    let template = match (r.string(t, "template", &what), r.string(t, "body", &what)) {
        (Some(file), None) => Some(TemplateSource::File(file)),
        (None, Some(body)) => Some(TemplateSource::Inline(body)),
        (Some(file), Some(_)) => {
            r.error_at(
                Code::InvalidValue,
                format!("{what} has both `template` and `body`; give one"),
                file.span,
            );
            None
        }
        (None, None) => {
            r.missing(
                "template",
                &format!("{what} (or an inline `body`)"),
                value.span(),
            );
            None
        }
    };
    let description = r.string(t, "description", &what).map(|s| s.value);
    let controls = r
        .string_list(t, "controls", &what)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let vars = r.value_table(t, "vars", &what);
    let parent = r.string(t, "parent", &what);
    let allow = r.allow(t, &what);
    let kind_text = kind_text?;
    let Some(kind) = kinds::by_name(&kind_text.value) else {
        let mut d = Diagnostic::error(
            Code::UnknownKind,
            format!("unknown resource kind \"{}\"", kind_text.value),
        )
        .at(kind_text.span)
        .help("`tenantform kinds` lists every kind");
        if let Some(s) = did_you_mean(&kind_text.value, kinds::names()) {
            d = d.help(format!(
                "did you mean \"{s}\"? (`tenantform kinds` lists every kind)"
            ));
        }
        r.diags.push(d);
        return None;
    };
    Some(ResourceDecl {
        key,
        kind,
        kind_span: kind_text.span,
        template: template?,
        description,
        controls,
        vars,
        parent,
        allow,
        declared_vars: std::sync::OnceLock::new(),
    })
}

fn decode_patch(
    r: &mut Reader<'_>,
    key: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<Patch> {
    let what = format!("[patch.{}]", key.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(&key.value, "[patch]", "a table", value);
        return None;
    };
    r.check_keys(t, &["vars", "description", "controls", "allow"], &what);
    let controls = r.get(t, "controls").is_some().then(|| {
        r.string_list(t, "controls", &what)
            .into_iter()
            .map(|s| s.value)
            .collect()
    });
    Some(Patch {
        vars: r.value_table(t, "vars", &what),
        description: r.string(t, "description", &what).map(|s| s.value),
        controls,
        allow: r.allow(t, &what),
        key,
    })
}

/// Decode a baseline file named `name`.
pub fn decode_baseline(
    name: &str,
    text: &str,
    file: FileId,
    shipped: bool,
    diags: &mut Diagnostics,
) -> Option<Baseline> {
    let doc = parse_document(text, file, 0, diags)?;
    let mut r = Reader::new(file, diags, 0);
    let root = doc.get_ref();
    r.check_keys(
        root,
        &[
            "baseline",
            "params",
            "defaults",
            "resources",
            "patch",
            "controls",
        ],
        "a baseline",
    );
    let Some((head, head_range)) = r.sub_table(root, "baseline", "a baseline") else {
        r.missing("baseline", "the baseline file", 0..0);
        return None;
    };
    r.check_keys(head, &["description", "extends"], "[baseline]");
    let description = r
        .required_string(head, "description", "[baseline]", head_range)
        .map(|s| s.value)
        .unwrap_or_default();
    let extends = r.string_list(head, "extends", "[baseline]");

    let mut params = Vec::new();
    if let Some((t, _)) = r.sub_table(root, "params", "a baseline") {
        for (k, v) in t.iter() {
            let name = Sp::new(k.get_ref().to_string(), r.span(k.span()));
            if let Some(p) = decode_param(&mut r, name, v) {
                params.push(p);
            }
        }
    }
    let defaults = r.value_table(root, "defaults", "a baseline");
    let mut resources = Vec::new();
    if let Some((t, _)) = r.sub_table(root, "resources", "a baseline") {
        for (k, v) in t.iter() {
            let key = Sp::new(k.get_ref().to_string(), r.span(k.span()));
            if let Some(res) = decode_resource(&mut r, key, v) {
                resources.push(res);
            }
        }
    }
    let mut patches = Vec::new();
    if let Some((t, _)) = r.sub_table(root, "patch", "a baseline") {
        for (k, v) in t.iter() {
            let key = Sp::new(k.get_ref().to_string(), r.span(k.span()));
            if let Some(p) = decode_patch(&mut r, key, v) {
                patches.push(p);
            }
        }
    }
    let controls = super::controls::decode_controls(&mut r, root);
    Some(Baseline {
        name: name.to_string(),
        file,
        shipped,
        description,
        extends,
        params,
        defaults,
        resources,
        patches,
        controls,
    })
}

fn decode_credentials(
    r: &mut Reader<'_>,
    t: &DeTable<'_>,
    range: std::ops::Range<usize>,
) -> Option<Credentials> {
    let what = "[tenant.credentials]";
    r.check_keys(
        t,
        &[
            "client_id",
            "client_secret_env",
            "client_secret_file",
            "certificate",
            "certificate_key",
        ],
        what,
    );
    let client_id = r.required_string(t, "client_id", what, range.clone());
    if let Some(id) = &client_id
        && !is_guid(&id.value)
    {
        r.error_at(
            Code::InvalidValue,
            format!("`client_id` must be a GUID, found \"{}\"", id.value),
            id.span,
        );
    }
    let env = r.string(t, "client_secret_env", what);
    let file = r.string(t, "client_secret_file", what);
    let cert = r.string(t, "certificate", what);
    let key = r.string(t, "certificate_key", what);
    let secret = match (env, file, cert, key) {
        (Some(e), None, None, None) => SecretSource::Env(e.value),
        (None, Some(f), None, None) => SecretSource::File(f.value),
        (None, None, Some(c), Some(k)) => SecretSource::Certificate {
            certificate: c.value,
            key: k.value,
        },
        (None, None, Some(c), None) => {
            r.missing(
                "certificate_key",
                "[tenant.credentials] with a `certificate`",
                r.raw(c.span),
            );
            return None;
        }
        _ => {
            r.error(
                Code::InvalidValue,
                "[tenant.credentials] needs exactly one of `client_secret_env`, `client_secret_file`, or `certificate` with `certificate_key`",
                range,
            );
            return None;
        }
    };
    Some(Credentials {
        client_id: client_id?,
        secret,
    })
}

fn decode_override(r: &mut Reader<'_>, value: &Spanned<DeValue<'_>>) -> Option<Override> {
    let what = "[[tenant.overrides]]";
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type("overrides", "[[tenant]]", "an array of tables", value);
        return None;
    };
    r.check_keys(
        t,
        &[
            "resource",
            "vars",
            "skip",
            "allow",
            "accept_drift",
            "reason",
            "expires",
        ],
        what,
    );
    let resource = r.required_string(t, "resource", what, value.span());
    let reason = r.required_string(t, "reason", what, value.span());
    if let Some(reason) = &reason
        && reason.value.trim().is_empty()
    {
        r.error_at(
            Code::MissingRequired,
            "an override's `reason` must not be empty",
            reason.span,
        );
    }
    let vars = r.value_table(t, "vars", what);
    let skip = r.bool(t, "skip", what).unwrap_or(false);
    let allow = r.allow(t, what);
    let accept_drift = r.string_list(t, "accept_drift", what);
    for pointer in &accept_drift {
        if !pointer.value.starts_with('/') {
            r.error_at(
                Code::InvalidValue,
                format!(
                    "`accept_drift` takes JSON pointers into the resource's body (\"/state\", \"/conditions/users\", \"/\" for all), found \"{}\"",
                    pointer.value
                ),
                pointer.span,
            );
        }
    }
    let expires = r.get(t, "expires").and_then(|(_, v)| {
        let text = match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(d) => d.to_string(),
            _ => {
                r.wrong_type("expires", what, "a date (YYYY-MM-DD)", v);
                return None;
            }
        };
        match text.parse::<jiff::civil::Date>() {
            Ok(date) => Some(Sp::new(date, r.span(v.span()))),
            Err(_) => {
                r.error(
                    Code::InvalidValue,
                    format!("`expires` must be a date (YYYY-MM-DD), found \"{text}\""),
                    v.span(),
                );
                None
            }
        }
    });
    if vars.is_empty() && !skip && allow.is_empty() && accept_drift.is_empty() {
        r.error(
            Code::MissingRequired,
            "an override must change something: give `vars`, `skip = true`, `allow` or `accept_drift`",
            value.span(),
        );
    }
    Some(Override {
        resource: resource?,
        vars,
        skip,
        allow,
        accept_drift,
        reason: reason?,
        expires,
        span: r.span(value.span()),
    })
}

fn decode_tenant(r: &mut Reader<'_>, value: &Spanned<DeValue<'_>>) -> Option<Tenant> {
    let what = "[[tenant]]";
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(
            "tenant",
            "a tenants file",
            "an array of tables ([[tenant]])",
            value,
        );
        return None;
    };
    r.check_keys(
        t,
        &[
            "id",
            "name",
            "domain",
            "cloud",
            "ring",
            "tags",
            "baselines",
            "credentials",
            "endpoints",
            "params",
            "overrides",
            "facts",
        ],
        what,
    );
    let id = r.required_string(t, "id", what, value.span());
    let id = id.and_then(|id| {
        if is_guid(&id.value) {
            Some(Sp::new(id.value.to_ascii_lowercase(), id.span))
        } else {
            r.error_at(
                Code::InvalidValue,
                format!(
                    "tenant `id` must be the tenant's GUID (8-4-4-4-12 hex), found \"{}\"",
                    id.value
                ),
                id.span,
            );
            None
        }
    });
    let name = r.required_string(t, "name", what, value.span());
    let domain = r.string(t, "domain", what).map(|s| s.value);
    let cloud = match r.string(t, "cloud", what) {
        None => Some(Cloud::Global),
        Some(c) => match Cloud::NAMES.iter().find(|(n, _)| *n == c.value) {
            Some((_, cloud)) => Some(*cloud),
            None => {
                let names: Vec<&str> = Cloud::NAMES.iter().map(|(n, _)| *n).collect();
                let mut d =
                    Diagnostic::error(Code::InvalidValue, format!("unknown cloud \"{}\"", c.value))
                        .at(c.span)
                        .expected(format!("one of {}", quote_list(&names)));
                if let Some(s) = did_you_mean(&c.value, names.iter().copied()) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                r.diags.push(d);
                None
            }
        },
    };
    let ring = r
        .string(t, "ring", what)
        .map_or_else(|| "default".to_string(), |s| s.value);
    let tags = r
        .string_list(t, "tags", what)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let baselines = r.string_list(t, "baselines", what);
    if r.get(t, "baselines").is_none() {
        r.missing("baselines", what, value.span());
    }
    let credentials = r
        .sub_table(t, "credentials", what)
        .and_then(|(c, range)| decode_credentials(r, c, range));
    let endpoints = match r.sub_table(t, "endpoints", what) {
        Some((e, _)) => {
            r.check_keys(e, &["login", "graph"], "[tenant.endpoints]");
            Endpoints {
                login: r.string(e, "login", "[tenant.endpoints]").map(|s| s.value),
                graph: r.string(e, "graph", "[tenant.endpoints]").map(|s| s.value),
            }
        }
        None => Endpoints::default(),
    };
    let params = r.value_table(t, "params", what);
    let mut overrides = Vec::new();
    if let Some((_, v)) = r.get(t, "overrides") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let Some(o) = decode_override(r, item) {
                        overrides.push(o);
                    }
                }
            }
            _ => r.wrong_type(
                "overrides",
                what,
                "an array of tables ([[tenant.overrides]])",
                v,
            ),
        }
    }
    let facts = r
        .sub_table(t, "facts", what)
        .map(|(f, _)| super::facts::decode_facts(r, f));
    Some(Tenant {
        id: id?,
        name: name?.value,
        domain,
        cloud: cloud?,
        ring,
        tags,
        baselines,
        credentials,
        endpoints,
        params,
        overrides,
        facts,
        span: r.span(value.span()),
        has_errors: false,
    })
}

/// Byte ranges of the `[[tenant]]` entries of a tenants file, and the prefix before the first.
///
/// A fleet file can hold thousands of tenants; parsing it entry by entry keeps the parser's
/// transient tree small (memory stays flat with fleet size) and confines a syntax error to one
/// tenant. Files with multi-line strings are parsed whole, because a `[[tenant]]` line inside
/// such a string is not a header.
fn tenant_chunks(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return None;
    }
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("[[tenant]]") {
            let rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                starts.push(offset);
            }
        }
        offset += line.len();
    }
    let mut chunks = Vec::with_capacity(starts.len() + 1);
    let mut previous = 0;
    for start in starts {
        chunks.push(previous..start);
        previous = start;
    }
    chunks.push(previous..text.len());
    Some(chunks)
}

/// Where a tenant is written: its file, the chunk of text parsed for it, and its position in
/// that chunk's `[[tenant]]` array. Enough to decode it again when it is compiled, so a fleet's
/// tenants need not all stay decoded in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLocation {
    /// The tenants file.
    pub file: FileId,
    /// Byte range of the parsed chunk in the file.
    pub chunk: std::ops::Range<usize>,
    /// Index in the chunk's `[[tenant]]` array.
    pub index: usize,
}

fn decode_tenants_document(
    text: &str,
    file: FileId,
    chunk: std::ops::Range<usize>,
    only: Option<usize>,
    diags: &mut Diagnostics,
    out: &mut Vec<(Tenant, TenantLocation)>,
) -> bool {
    let offset = chunk.start;
    let Some(doc) = parse_document(&text[chunk.clone()], file, offset, diags) else {
        return false;
    };
    let mut r = Reader::new(file, diags, offset);
    let root = doc.get_ref();
    r.check_keys(root, &["tenant"], "a tenants file");
    let Some((_, v)) = r.get(root, "tenant") else {
        return true;
    };
    let DeValue::Array(items) = v.get_ref() else {
        r.wrong_type(
            "tenant",
            "a tenants file",
            "an array of tables ([[tenant]])",
            v,
        );
        return false;
    };
    let mut listed_all = true;
    for (index, item) in items.iter().enumerate() {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let errors_before = r.diags.error_count();
        if let Some(mut tenant) = decode_tenant(&mut r, item) {
            tenant.has_errors = r.diags.error_count() > errors_before;
            let location = TenantLocation {
                file,
                chunk: chunk.clone(),
                index,
            };
            out.push((tenant, location));
        } else {
            listed_all = false;
        }
    }
    listed_all
}

/// Decode a tenants file (`[[tenant]]` entries), with where each tenant is written.
pub fn decode_tenants(
    text: &str,
    file: FileId,
    diags: &mut Diagnostics,
) -> Vec<(Tenant, TenantLocation)> {
    let mut tenants = Vec::new();
    let _ = decode_tenants_each(text, file, diags, &mut |tenant, location| {
        tenants.push((tenant, location));
    });
    tenants
}

/// [`decode_tenants`], handing each tenant to `each` as soon as its chunk is decoded, so a
/// caller that keeps only a summary of each never holds a whole fleet decoded at once. Returns
/// false when some tenant of the file could not be listed (a TOML error, an entry without a
/// usable id): which tenants the file holds is then not known.
pub fn decode_tenants_each(
    text: &str,
    file: FileId,
    diags: &mut Diagnostics,
    each: &mut dyn FnMut(Tenant, TenantLocation),
) -> bool {
    let mut decoded = Vec::new();
    let mut listed_all = true;
    match tenant_chunks(text) {
        Some(chunks) => {
            for chunk in chunks {
                listed_all &= decode_tenants_document(text, file, chunk, None, diags, &mut decoded);
                for (tenant, location) in decoded.drain(..) {
                    each(tenant, location);
                }
            }
        }
        None => {
            listed_all &=
                decode_tenants_document(text, file, 0..text.len(), None, diags, &mut decoded);
            for (tenant, location) in decoded.drain(..) {
                each(tenant, location);
            }
        }
    }
    listed_all
}

/// Decode one tenant again from where it is written (its diagnostics were reported when the
/// project was loaded, so they are not repeated).
pub fn decode_tenant_at(text: &str, location: &TenantLocation) -> Option<Tenant> {
    let mut out = Vec::new();
    let mut ignored = Diagnostics::new();
    let _ = decode_tenants_document(
        text,
        location.file,
        location.chunk.clone(),
        Some(location.index),
        &mut ignored,
        &mut out,
    );
    out.pop().map(|(tenant, _)| tenant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn baseline(text: &str) -> (Option<Baseline>, Vec<String>) {
        let mut map = SourceMap::new();
        let file = map.add("b.toml", text);
        let mut diags = Diagnostics::new();
        let b = decode_baseline("b", text, file, false, &mut diags);
        let messages = diags
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d.code,
                    map.location(d.span.expect("span")),
                    d.message
                )
            })
            .collect();
        (b, messages)
    }

    #[test]
    fn unknown_key_suggests_the_close_one() {
        let (_, msgs) = baseline(
            "[baseline]\ndescription = \"x\"\n[resources.a]\nkind = \"group\"\ntemplat = \"g.tera\"\n",
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("TF102 b.toml:5:1 unknown key `templat`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn all_problems_in_one_file_are_reported() {
        let (_, msgs) = baseline(
            "[baseline]\ndescription = 3\n[params.x]\ntype = \"strin\"\ndescription = \"d\"\n[resources.b]\nkind = \"grup\"\ntemplate = \"t\"\n",
        );
        assert_eq!(msgs.len(), 3, "{msgs:?}");
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("0b8d3c8e-4f3c-4b47-9c42-6f0a3f4f3a11"));
        assert!(!is_guid("0b8d3c8e-4f3c-4b47-9c42-6f0a3f4f3a1"));
        assert!(!is_guid("zb8d3c8e-4f3c-4b47-9c42-6f0a3f4f3a11"));
    }

    fn listed(text: &str) -> (bool, usize) {
        let mut map = SourceMap::new();
        let file = map.add("tenants/t.toml", text);
        let mut diags = Diagnostics::new();
        let mut count = 0;
        let all = decode_tenants_each(text, file, &mut diags, &mut |_, _| count += 1);
        (all, count)
    }

    #[test]
    fn a_tenants_file_says_when_it_could_not_list_every_tenant() {
        let good = "[[tenant]]\nid = \"11111111-1111-4111-8111-111111111111\"\nname = \"A\"\nbaselines = []\n";
        assert_eq!(listed(good), (true, 1));
        assert_eq!(listed(""), (true, 0));
        let broken = format!(
            "{good}\n[[tenant]]\nid = \"22222222-2222-4222-8222-222222222222\"\nname = \"B\n"
        );
        assert_eq!(listed(&broken), (false, 1));
        let no_id = format!("{good}\n[[tenant]]\nname = \"B\"\nbaselines = []\n");
        assert!(!listed(&no_id).0);
    }
}
