//! Rendering is injection-safe: a tenant parameter or override value holding quotes,
//! backslashes, newlines, Tera syntax, HTML, unusual Unicode or JSON fragments lands in the body
//! as exactly that string, at the expected place, and changes nothing else (no key, no
//! reference, no dependency). A string written outside quotes is TF203 at the template's line.

use std::sync::OnceLock;

use serde_json::Value;

use crate::harness::Project;

const ALPHA: &str = "11111111-1111-4111-8111-111111111111";
const BETA: &str = "33333333-3333-4333-8333-333333333333";

/// Values that must come out exactly as they went in.
const PAYLOADS: &[&str] = &[
    "plain",
    "a \"quoted\" word",
    "back\\slash, \\\" and \\\\ and a literal \\n",
    "line one\nline two\r\nline three",
    "tab\there",
    "{{ x }}",
    "{{ tenant.id }} {{ params.state }}",
    "{% if true %}yes{% endif %}",
    "{# comment #}{% raw %}",
    "</script><script>alert(1)</script>",
    "<!-- --> & &amp; ' `",
    "emoji 🔐🧑‍💻 and U+2028 [\u{2028}] and U+2029 [\u{2029}]",
    "x\", \"state\": \"disabled",
    "x\"}, \"state\": \"disabled\", \"y\": {\"z\": \"",
    "\"]}]}",
    "control \u{1} \u{1b}[31m \u{7f} end",
    "nul \u{0} byte",
    "",
];

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Replace `from` by `to` in a project file, insisting that `from` is there.
fn edit(p: &Project, rel: &str, from: &str, to: &str) {
    let text = p.read(rel);
    assert!(text.contains(from), "{rel} lacks {from:?}");
    p.file(rel, text.replacen(from, to, 1));
}

/// `valid/minimal`, changed so that tenant values reach two bodies:
/// - the group's displayName is the string parameter `group_name` (a tenant parameter);
/// - the CA policy's displayName is `vars.name`, which Alpha sets with an override.
fn project(group_name: &str, policy_name: &str) -> Project {
    let p = Project::from_fixture("valid/minimal");
    edit(
        &p,
        "baselines/core.toml",
        "[params.countries]",
        "[params.group_name]\ntype = \"string\"\ndefault = \"Emergency access\"\n\
         description = \"displayName of the break-glass group\"\n\n[params.countries]",
    );
    edit(
        &p,
        "baselines/core.toml",
        "template = \"block-countries.json.tera\"\n",
        "template = \"block-countries.json.tera\"\n\
         vars = { name = \"Block sign-ins outside allowed countries\" }\n",
    );
    edit(
        &p,
        "templates/group.json.tera",
        "\"displayName\": \"{{ vars.name }}\"",
        "\"displayName\": \"{{ params.group_name }}\"",
    );
    edit(
        &p,
        "templates/block-countries.json.tera",
        "\"displayName\": \"Block sign-ins outside allowed countries\"",
        "\"displayName\": \"{{ vars.name }}\"",
    );
    edit(
        &p,
        "tenants/tenants.toml",
        "countries = [\"US\", \"CA\"]\n",
        &format!(
            "countries = [\"US\", \"CA\"]\ngroup_name = {}\n\n[[tenant.overrides]]\n\
             resource = \"block-other-countries\"\nvars = {{ name = {} }}\n\
             reason = \"injection test\"\n",
            toml_string(group_name),
            toml_string(policy_name)
        ),
    );
    p
}

fn compile(p: &Project) -> crate::harness::Output {
    let out = p.path().join("out");
    p.cmd(&["compile", "--out", out.to_str().expect("utf8")])
        .run()
}

fn read_bundle(p: &Project, tenant: &str) -> Value {
    serde_json::from_str(&p.read(&format!("out/{tenant}.json"))).expect("bundle is JSON")
}

fn op<'a>(bundle: &'a Value, key: &str) -> &'a Value {
    bundle["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|o| o["key"] == key)
        .unwrap_or_else(|| panic!("no operation {key}"))
}

/// Alpha's bundle with harmless values: what every payload's bundle must equal, apart from
/// the payload itself.
fn reference() -> &'static Value {
    static REFERENCE: OnceLock<Value> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let p = project("BENIGN GROUP", "BENIGN POLICY");
        compile(&p).success();
        read_bundle(&p, ALPHA)
    })
}

/// `op` without the fields that legitimately depend on the body's text.
fn comparable(op: &Value) -> Value {
    let mut op = op.clone();
    let map = op.as_object_mut().expect("operation object");
    map.remove("body_hash");
    op
}

/// The reference operation `key` with `payload` written at `pointer` in the body (and in the
/// match key when the resource is matched by displayName).
fn expected(key: &str, payload: &str) -> Value {
    let mut op = comparable(op(reference(), key));
    *op.pointer_mut("/body/displayName")
        .expect("reference displayName") = Value::from(payload);
    if let Some(m) = op.pointer_mut("/match/displayName") {
        *m = Value::from(payload);
    }
    op
}

fn assert_exact(p: &Project, payload: &str) {
    let bundle = read_bundle(p, ALPHA);
    for key in ["breakglass", "block-other-countries"] {
        let actual = op(&bundle, key);
        assert_eq!(
            actual["body"]["displayName"],
            Value::from(payload),
            "{key}: the value changed on its way into the body"
        );
        assert_eq!(
            comparable(actual),
            expected(key, payload),
            "{key}: a value changed the structure, references or another field"
        );
    }
    // The third operation and the operation order are untouched.
    let keys = |b: &Value| -> Vec<Value> {
        b["operations"]
            .as_array()
            .expect("ops")
            .iter()
            .map(|o| o["key"].clone())
            .collect()
    };
    assert_eq!(keys(&bundle), keys(reference()));
    assert_eq!(
        comparable(op(&bundle, "allowed-countries")),
        comparable(op(reference(), "allowed-countries"))
    );
}

#[test]
fn hostile_parameter_and_override_values_land_verbatim() {
    let mut failures = Vec::new();
    for payload in PAYLOADS {
        // The same value through a tenant parameter and through an override of `vars`.
        let p = project(payload, payload);
        let out = compile(&p);
        assert!(
            !out.stderr.contains("panicked"),
            "{payload:?}: panic\n{}",
            out.stderr
        );
        if out.code != 0 {
            failures.push(format!("{payload:?}: exit {}\n{}", out.code, out.stderr));
            continue;
        }
        assert_exact(&p, payload);
        // Beta gets neither value and compiles as before.
        let beta = read_bundle(&p, BETA);
        assert_eq!(
            op(&beta, "breakglass")["body"]["displayName"],
            "Emergency access"
        );
    }
    assert!(
        failures.is_empty(),
        "values the documentation promises to escape were rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn different_values_in_parameter_and_override_stay_apart() {
    let group = "group \"}{\" name";
    let policy = "policy\n{{ params.group_name }}";
    let p = project(group, policy);
    compile(&p).success();
    let bundle = read_bundle(&p, ALPHA);
    assert_eq!(op(&bundle, "breakglass")["body"]["displayName"], group);
    assert_eq!(
        op(&bundle, "block-other-countries")["body"]["displayName"],
        policy
    );
    assert_eq!(
        op(&bundle, "block-other-countries")["body"]["state"],
        "enabledForReportingButNotEnforced"
    );
}

/// Placeholder text in a value must not become a reference: the `ref` function makes
/// references, a tenant's display name does not. Accepted outcomes: the exact text with the
/// reference bundle's `refs` and `depends_on`, or a TF error that rejects the value.
#[test]
fn placeholder_text_in_a_value_does_not_become_a_reference() {
    for payload in [
        "BG ${ref:location:allowed-countries} x",
        "${ref:group:breakglass}",
    ] {
        let p = project(payload, "BENIGN POLICY");
        let out = compile(&p);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        if out.code == 0 {
            let bundle = read_bundle(&p, ALPHA);
            let group = op(&bundle, "breakglass");
            assert_eq!(group["body"]["displayName"], payload);
            assert_eq!(
                (&group["refs"], &group["depends_on"]),
                (
                    &op(reference(), "breakglass")["refs"],
                    &op(reference(), "breakglass")["depends_on"]
                ),
                "{payload:?}: text from a tenant parameter became a reference; deploy would \
                 replace it with an object id"
            );
        } else {
            assert_eq!(out.code, 1, "{}", out.stderr);
            assert!(out.stderr.contains("error[TF"), "{}", out.stderr);
            assert!(
                !out.stderr.contains("points at no resource")
                    && !out.stderr.contains("references itself"),
                "{payload:?} was treated as a reference, not as text:\n{}",
                out.stderr
            );
        }
    }
}

#[test]
fn hostile_list_items_through_the_json_filter_land_verbatim() {
    let p = Project::from_fixture("valid/minimal");
    let items: Vec<&str> = PAYLOADS.iter().copied().filter(|s| !s.is_empty()).collect();
    let list = items
        .iter()
        .map(|s| toml_string(s))
        .collect::<Vec<_>>()
        .join(", ");
    edit(
        &p,
        "tenants/tenants.toml",
        "countries = [\"US\", \"CA\"]",
        &format!("countries = [{list}]"),
    );
    compile(&p).success();
    let bundle = read_bundle(&p, ALPHA);
    let body = &op(&bundle, "allowed-countries")["body"];
    assert_eq!(body["countriesAndRegions"], serde_json::json!(items));
    let mut keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "@odata.type",
            "countriesAndRegions",
            "displayName",
            "includeUnknownCountriesAndRegions"
        ]
    );
}

/// valid/minimal whose CA policy also excludes `vars.extra` (a list of reference texts, each
/// through the `ref` filter), which Alpha sets to `[target]` with an override.
fn project_with_extra_reference(target: &str) -> Project {
    let p = Project::from_fixture("valid/minimal");
    edit(
        &p,
        "templates/block-countries.json.tera",
        "\"excludeGroups\": [\"{{ ref(to=\"group:breakglass\") }}\"]",
        "\"excludeGroups\": [\"{{ ref(to=\"group:breakglass\") }}\"{% for g in vars.extra | default(value=[]) %}, \"{{ g | ref }}\"{% endfor %}]",
    );
    edit(
        &p,
        "tenants/tenants.toml",
        "countries = [\"US\", \"CA\"]\n",
        &format!(
            "countries = [\"US\", \"CA\"]\n\n[[tenant.overrides]]\n\
             resource = \"block-other-countries\"\nvars = {{ extra = [{}] }}\n\
             reason = \"injection test\"\n",
            toml_string(target)
        ),
    );
    p
}

/// `validate` rejects Alpha with reference errors (TF30x) only, each with a location in the
/// template or in the tenant file the value came from; Beta stays valid.
fn assert_rejected_as_reference(target: &str) {
    let p = project_with_extra_reference(target);
    let out = p.cmd(&["validate"]).run();
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.code, 1, "{target:?} was accepted:\n{}", out.stderr);
    let codes: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error["))
        .map(|l| l.get(..5).unwrap_or(l))
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c.starts_with("TF30")),
        "{target:?}: expected reference errors (TF30x), got:\n{}",
        out.stderr
    );
    let located = out.stderr.lines().filter(|l| {
        let l = l.trim_start();
        l.starts_with("--> templates/block-countries.json.tera:")
            || l.starts_with("--> tenants/tenants.toml:")
    });
    assert_eq!(
        located.count(),
        codes.len(),
        "{target:?}: an error without a location:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("  ok      Beta ({BETA})")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_reference_built_from_a_hostile_value_is_a_clear_error() {
    for target in [
        "group:breakglass\"], \"x\": [\"",
        "group:break}glass",
        "group:${ref:group:breakglass}",
        "group:",
        ":breakglass",
        "group:no-such-group",
        "location:breakglass",
        "group:breakglass\n",
        "group:Breakglass",
        "group:break glass",
    ] {
        assert_rejected_as_reference(target);
    }
}

/// The `ref` filter wraps its argument in `${ref:` … `}` without checking it, and the bundle
/// reads the first `}` as the end of the reference: "group:breakglass}x" becomes
/// `${ref:group:breakglass}x}`, a valid reference followed by text, which deploy would turn
/// into "<object id>x}" inside excludeGroups. It must be rejected like any malformed reference.
#[test]
fn a_reference_argument_with_a_closing_brace_is_rejected() {
    for target in [
        "group:breakglass}x",
        "group:breakglass} ${ref:group:breakglass",
    ] {
        assert_rejected_as_reference(target);
    }
}

#[test]
fn a_bare_string_outside_quotes_is_tf203_at_the_template_line() {
    let p = Project::from_fixture("valid/minimal");
    edit(
        &p,
        "templates/block-countries.json.tera",
        "\"state\": \"{{ params.state }}\"",
        "\"state\": {{ params.state }}",
    );
    let out = p.cmd(&["validate"]).run().code(1);
    assert!(!out.stderr.contains("panicked"));
    out.stderr_has("error[TF203]")
        .stderr_has("--> templates/block-countries.json.tera:3:")
        .stderr_has("3 |   \"state\": {{ params.state }},")
        .stderr_has("rendered line 3 reads `\"state\": enabled,`")
        .stderr_has("rendered line 3 reads `\"state\": enabledForReportingButNotEnforced,`");

    let json = p
        .cmd(&["validate", "--format", "json"])
        .run()
        .code(1)
        .json();
    let diagnostics = json["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), 2, "{json}");
    for d in diagnostics {
        assert_eq!(d["code"], "TF203");
        assert_eq!(d["location"]["file"], "templates/block-countries.json.tera");
        assert_eq!(d["location"]["line"], 3);
        assert_eq!(d["resource"], "block-other-countries");
        let help = d["help"].as_str().expect("help");
        assert!(
            help.contains("rendered line 3 reads `\"state\": "),
            "{help}"
        );
    }

    // compile: exit 1 and no bundle for either tenant.
    let out_dir = p.path().join("out");
    p.cmd(&["compile", "--out", out_dir.to_str().expect("utf8")])
        .run()
        .code(1)
        .stderr_has("error[TF203]");
    let written = std::fs::read_dir(&out_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0);
}

#[test]
fn a_hostile_value_written_bare_cannot_form_json_either() {
    // Quotes inside the value are escaped even outside a string, so the value cannot close
    // the surrounding object and add a key: the result is invalid JSON, TF203 at the line.
    let p = project("x", "BENIGN POLICY");
    edit(
        &p,
        "templates/group.json.tera",
        "\"displayName\": \"{{ params.group_name }}\"",
        "\"displayName\": {{ params.group_name }}",
    );
    edit(
        &p,
        "tenants/tenants.toml",
        "group_name = \"x\"",
        &format!(
            "group_name = {}",
            toml_string("\"x\", \"securityEnabled\": false, \"y\": \"")
        ),
    );
    let out = p.cmd(&["validate", "--format", "json"]).run().code(1);
    let doc = out.json();
    let d = doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .find(|d| d["tenants"][0] == ALPHA)
        .expect("Alpha's diagnostic");
    assert_eq!(d["code"], "TF203", "{doc}");
    assert_eq!(d["location"]["file"], "templates/group.json.tera");
    assert_eq!(d["location"]["line"], 2);
    assert!(
        d["help"]
            .as_str()
            .expect("help")
            .contains("\\\"x\\\", \\\"securityEnabled\\\": false"),
        "{d}"
    );
}
