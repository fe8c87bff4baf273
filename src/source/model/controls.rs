//! A baseline's `[controls]` table: what "met" means for each control id (a SCuBA `MS.AAD`
//! id, a CIS id), as data next to the resources that claim it. Each definition lists
//! requirements, each a JSON pointer into a claiming resource's live object and one test (a
//! small declarative language: `equals`, `one_of`, `contains`, `contains_any`, `includes_all`,
//! `exactly`, `excludes`, `none_match`, `empty`, `not_empty`, `max_duration`), an optional
//! alternative set (`or_require`: met too when all of it holds), whether any one claiming resource or all of
//! them must meet it, and where the resource's enforcement state is (`enabled` is in force,
//! `enabledForReportingButNotEnforced` is report-only).
//!
//! Pointers are JSON pointers with one addition: a segment `[field=value]` selects the item of
//! an array whose `field` is the string `value` (`/policy/rules/[id=Approval_EndUser_Assignment]`
//! is the PIM rule with that id, wherever it sits in the array); no such item is an absent
//! value. [`resolve`] follows such a pointer.
//!
//! Input: the `[controls]` table of one baseline file. Output: [`ControlDef`]s and
//! diagnostics at `file:line:col`; [`Test::check`] judges one live value.

use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Sp;
use super::reader::Reader;
use crate::diag::Code;

/// One control's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlDef {
    /// The control id (`MS.AAD.3.2v2`).
    pub id: Sp<String>,
    /// What it requires, in words (shown in evidence).
    pub title: String,
    /// Whether one claiming resource that meets it is enough, or every one must.
    pub quantifier: Quantifier,
    /// The pointer to a claiming resource's enforcement state (`/state`), if it has one.
    pub state: Option<String>,
    /// Every requirement a claiming resource's live object must meet.
    pub require: Vec<Requirement>,
    /// `or_require`: requirements that, all met, meet the control as well (empty: none). For a
    /// check that does not apply in some configuration and then passes: ScubaGear's MS.AAD.5.6
    /// (password lifetime) is met when adding passwords is blocked outright.
    pub or_require: Vec<Requirement>,
}

/// `match = "any" | "all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantifier {
    /// One claiming resource that meets it is enough (ScubaGear: "any one qualifying policy").
    Any,
    /// Every claiming resource must meet it (SMS, voice and email all off).
    All,
}

/// One requirement: the value at `at` passes `test`.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// A JSON pointer into the live object (`/conditions/users/includeUsers`), possibly with
    /// `[field=value]` item selectors (see [`resolve`]).
    pub at: String,
    /// The test.
    pub test: Test,
    /// `or_absent = true`: an absent or `null` value passes too (Graph leaves a default as
    /// `null`: a domain's `passwordValidityPeriodInDays` that was never set never expires).
    pub or_absent: bool,
}

/// The tests of the condition language. Arrays are compared as sets of strings where a test
/// names values; an absent value, `null` and `[]` are all empty.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// The value equals this JSON value (strings compare exactly).
    Equals(Value),
    /// The value equals one of these.
    OneOf(Vec<Value>),
    /// The value is an array containing this value.
    Contains(Value),
    /// The value is an array containing at least one of these.
    ContainsAny(Vec<Value>),
    /// The value is an array containing every one of these.
    IncludesAll(Vec<Value>),
    /// The value is an array holding exactly these values, each once, in any order.
    Exactly(Vec<Value>),
    /// The value does not contain this value (absent passes).
    Excludes(Value),
    /// No string in the array matches this pattern (`*` matches any run of characters).
    NoneMatch(String),
    /// The value is absent, `null`, `""` or `[]`.
    Empty,
    /// The value is present and not `null`, `""` or `[]`.
    NotEmpty,
    /// The value is an ISO 8601 duration (`P180D`) no longer than this one (an app credential's
    /// `maxLifetime`); the text as written and its length in seconds.
    MaxDuration(String, u64),
}

/// The length of an ISO 8601 duration in weeks, days, hours, minutes and seconds (`P181D`,
/// `P1W`, `PT12H30M`, `P1DT2S`); `None` for anything else, years and months included (they have
/// no fixed length).
pub fn duration_seconds(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return None;
    }
    fn sum(part: &str, units: &[(char, u64)]) -> Option<u64> {
        let mut total = 0u64;
        let mut number = String::new();
        let mut last_unit = None;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units.iter().position(|(u, _)| *u == c)?;
            // Each unit once, largest first, each with a number.
            if number.is_empty() || last_unit.is_some_and(|l| position <= l) {
                return None;
            }
            last_unit = Some(position);
            total =
                total.checked_add(number.parse::<u64>().ok()?.checked_mul(units[position].1)?)?;
            number.clear();
        }
        number.is_empty().then_some(total)
    }
    let days = sum(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    let time = match time {
        Some(t) => sum(t, &[('H', 3_600), ('M', 60), ('S', 1)])?,
        None => 0,
    };
    days.checked_add(time)
}

const TESTS: [&str; 11] = [
    "equals",
    "one_of",
    "contains",
    "contains_any",
    "includes_all",
    "exactly",
    "excludes",
    "none_match",
    "empty",
    "not_empty",
    "max_duration",
];

fn items(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "absent".to_string(),
        Some(v) => v.to_string(),
    }
}

fn list(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Test {
    /// `Ok` when `value` (absent: `None`) passes; otherwise what was found, in words.
    pub fn check(&self, value: Option<&Value>) -> Result<(), String> {
        let found = || format!("found {}", shown(value));
        let pass = match self {
            Test::Equals(want) => value == Some(want),
            Test::OneOf(want) => value.is_some_and(|v| want.contains(v)),
            Test::Contains(want) => items(value).contains(want),
            Test::ContainsAny(want) => want.iter().any(|w| items(value).contains(w)),
            Test::IncludesAll(want) => want.iter().all(|w| items(value).contains(w)),
            Test::Exactly(want) => {
                let have = items(value);
                have.len() == want.len() && want.iter().all(|w| have.contains(w))
            }
            Test::Excludes(unwanted) => match value {
                Some(Value::Array(a)) => !a.contains(unwanted),
                Some(v) => v != unwanted,
                None => true,
            },
            Test::NoneMatch(pattern) => !items(value)
                .iter()
                .filter_map(Value::as_str)
                .any(|s| glob(pattern, s)),
            Test::Empty => is_empty(value),
            Test::NotEmpty => !is_empty(value),
            Test::MaxDuration(_, most) => value
                .and_then(Value::as_str)
                .and_then(duration_seconds)
                .is_some_and(|seconds| seconds <= *most),
        };
        if pass { Ok(()) } else { Err(found()) }
    }

    /// What the test wants, in words (`contains "All"`).
    pub fn describe(&self) -> String {
        match self {
            Test::Equals(v) => format!("equals {v}"),
            Test::OneOf(v) => format!("is one of {}", list(v)),
            Test::Contains(v) => format!("contains {v}"),
            Test::ContainsAny(v) => format!("contains one of {}", list(v)),
            Test::IncludesAll(v) => format!("includes all of {}", list(v)),
            Test::Exactly(v) => format!("is exactly {}", list(v)),
            Test::Excludes(v) => format!("does not contain {v}"),
            Test::NoneMatch(p) => format!("has no entry matching \"{p}\""),
            Test::Empty => "is empty".to_string(),
            Test::NotEmpty => "is not empty".to_string(),
            Test::MaxDuration(text, _) => format!("is a duration of at most {text}"),
        }
    }
}

/// One segment of a control pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// An object member or array index, as in a JSON pointer (`~0`, `~1` unescaped).
    Token(String),
    /// `[field=value]`: the first item of an array whose `field` is the string `value`.
    Select { field: String, value: String },
}

/// The segments of a control pointer, or what is wrong with it (in words, for the diagnostic).
fn segments(pointer: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err("must be a JSON pointer starting with `/`".to_string());
    };
    rest.split('/')
        .map(|token| {
            let Some(inner) = token.strip_prefix('[') else {
                return Ok(Segment::Token(token.replace("~1", "/").replace("~0", "~")));
            };
            let selector = inner.strip_suffix(']').and_then(|inner| {
                let (field, value) = inner.split_once('=')?;
                (!field.is_empty() && !value.is_empty()).then(|| Segment::Select {
                    field: field.to_string(),
                    value: value.to_string(),
                })
            });
            selector.ok_or_else(|| {
                format!(
                    "has the segment `{token}`: an item selector is `[field=value]` (e.g. `[id=Approval_EndUser_Assignment]`), both non-empty"
                )
            })
        })
        .collect()
}

/// The value at a control pointer in `object` (`None` when absent, or when a `[field=value]`
/// selector finds no item). A pointer that does not parse finds nothing; definitions are
/// checked when the baseline is read, so that only happens to hand-built ones.
pub fn resolve<'a>(object: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut here = object;
    for segment in segments(pointer).ok()? {
        here = match (segment, here) {
            (Segment::Token(t), Value::Object(o)) => o.get(&t)?,
            (Segment::Token(t), Value::Array(a)) => a.get(t.parse::<usize>().ok()?)?,
            (Segment::Select { field, value }, Value::Array(a)) => a
                .iter()
                .find(|item| item.get(&field).and_then(Value::as_str) == Some(value.as_str()))?,
            _ => return None,
        };
    }
    Some(here)
}

impl Requirement {
    /// `Ok` when `object` meets it; otherwise `"<pointer> <wants>, found <what>"`.
    pub fn check(&self, object: &Value) -> Result<(), String> {
        let value = resolve(object, &self.at);
        if self.or_absent && matches!(value, None | Some(Value::Null)) {
            return Ok(());
        }
        self.test.check(value).map_err(|found| {
            let or_absent = if self.or_absent { " or is absent" } else { "" };
            format!("{} {}{or_absent}, {found}", self.at, self.test.describe())
        })
    }
}

fn json_of(r: &Reader<'_>, value: &Spanned<DeValue<'_>>) -> Value {
    r.value(value).value.to_json()
}

fn pointer(r: &mut Reader<'_>, t: &DeTable<'_>, key: &str, what: &str) -> Option<String> {
    let p = r.string(t, key, what)?;
    match segments(&p.value) {
        Ok(_) => Some(p.value),
        Err(wrong) => {
            r.error_at(
                Code::InvalidValue,
                format!("`{key}` in {what} {wrong}, found \"{}\"", p.value),
                p.span,
            );
            None
        }
    }
}

fn decode_requirement(
    r: &mut Reader<'_>,
    item: &Spanned<DeValue<'_>>,
    what: &str,
) -> Option<Requirement> {
    let DeValue::Table(t) = item.get_ref() else {
        r.wrong_type("require", what, "an array of tables", item);
        return None;
    };
    let mut allowed = vec!["at", "or_absent"];
    allowed.extend(TESTS);
    r.check_keys(t, &allowed, &format!("a requirement of {what}"));
    let Some(at) = pointer(r, t, "at", what) else {
        if r.get(t, "at").is_none() {
            r.missing("at", &format!("a requirement of {what}"), item.span());
        }
        return None;
    };
    let tests: Vec<_> = t
        .iter()
        .filter(|(k, _)| TESTS.contains(&k.get_ref().as_ref()))
        .collect();
    let [(name, value)] = tests.as_slice() else {
        r.error(
            Code::InvalidValue,
            format!(
                "a requirement of {what} needs exactly one test, found {}",
                tests.len()
            ),
            item.span(),
        );
        return None;
    };
    let name = name.get_ref().as_ref();
    let array = |r: &mut Reader<'_>| match value.get_ref() {
        DeValue::Array(a) => Some(a.iter().map(|v| json_of(r, v)).collect::<Vec<_>>()),
        _ => {
            r.wrong_type(name, what, "an array", value);
            None
        }
    };
    let flag = |r: &mut Reader<'_>| match value.get_ref() {
        DeValue::Boolean(true) => true,
        DeValue::Boolean(false) => {
            r.error(
                Code::InvalidValue,
                format!("`{name} = false` in {what} tests nothing: write `{name} = true`, or use the opposite test"),
                value.span(),
            );
            false
        }
        _ => {
            r.wrong_type(name, what, "`true`", value);
            false
        }
    };
    let test = match name {
        "equals" => Test::Equals(json_of(r, value)),
        "contains" => Test::Contains(json_of(r, value)),
        "excludes" => Test::Excludes(json_of(r, value)),
        "one_of" => Test::OneOf(array(r)?),
        "contains_any" => Test::ContainsAny(array(r)?),
        "includes_all" => Test::IncludesAll(array(r)?),
        "exactly" => Test::Exactly(array(r)?),
        "none_match" => match value.get_ref() {
            DeValue::String(s) => Test::NoneMatch(s.to_string()),
            _ => {
                r.wrong_type(name, what, "a string", value);
                return None;
            }
        },
        "empty" => flag(r).then_some(Test::Empty)?,
        "max_duration" => {
            let text = match value.get_ref() {
                DeValue::String(s) => s.to_string(),
                _ => {
                    r.wrong_type(name, what, "a string", value);
                    return None;
                }
            };
            let Some(seconds) = duration_seconds(&text) else {
                r.error(
                    Code::InvalidValue,
                    format!("`max_duration` in {what} must be an ISO 8601 duration in weeks, days, hours, minutes or seconds (`P181D`, `PT12H`), found \"{text}\""),
                    value.span(),
                );
                return None;
            };
            Test::MaxDuration(text, seconds)
        }
        _ => flag(r).then_some(Test::NotEmpty)?,
    };
    let or_absent = match r.get(t, "or_absent") {
        None => false,
        Some((_, v)) => match v.get_ref() {
            DeValue::Boolean(true) => true,
            DeValue::Boolean(false) => {
                r.error(
                    Code::InvalidValue,
                    format!("`or_absent = false` in {what} is the default: leave it out"),
                    v.span(),
                );
                return None;
            }
            _ => {
                r.wrong_type("or_absent", what, "`true`", v);
                return None;
            }
        },
    };
    Some(Requirement {
        at,
        test,
        or_absent,
    })
}

fn decode_control(
    r: &mut Reader<'_>,
    id: Sp<String>,
    value: &Spanned<DeValue<'_>>,
) -> Option<ControlDef> {
    let what = format!("[controls.\"{}\"]", id.value);
    let DeValue::Table(t) = value.get_ref() else {
        r.wrong_type(&id.value, "[controls]", "a table", value);
        return None;
    };
    r.check_keys(
        t,
        &["title", "match", "state", "require", "or_require"],
        &what,
    );
    let title = r
        .required_string(t, "title", &what, value.span())
        .map(|s| s.value)
        .unwrap_or_default();
    let quantifier = match r.string(t, "match", &what) {
        None => Quantifier::Any,
        Some(m) if m.value == "any" => Quantifier::Any,
        Some(m) if m.value == "all" => Quantifier::All,
        Some(m) => {
            r.error_at(
                Code::InvalidValue,
                format!(
                    "`match` in {what} must be \"any\" or \"all\", found \"{}\"",
                    m.value
                ),
                m.span,
            );
            Quantifier::Any
        }
    };
    let state = pointer(r, t, "state", &what);
    let require = match r.get(t, "require") {
        None => {
            r.missing("require", &what, value.span());
            Vec::new()
        }
        Some((_, list)) => decode_requirements(r, "require", list, &what),
    };
    let or_require = match r.get(t, "or_require") {
        None => Vec::new(),
        Some((_, list)) => decode_requirements(r, "or_require", list, &what),
    };
    Some(ControlDef {
        id,
        title,
        quantifier,
        state,
        require,
        or_require,
    })
}

/// A non-empty array of requirements (`require`, `or_require`).
fn decode_requirements(
    r: &mut Reader<'_>,
    key: &str,
    list: &Spanned<DeValue<'_>>,
    what: &str,
) -> Vec<Requirement> {
    let mut out = Vec::new();
    match list.get_ref() {
        DeValue::Array(entries) if !entries.is_empty() => {
            for entry in entries.iter() {
                if let Some(req) = decode_requirement(r, entry, what) {
                    out.push(req);
                }
            }
        }
        DeValue::Array(_) => r.error(
            Code::InvalidValue,
            format!(
                "`{key}` in {what} is empty: {} needs at least one requirement",
                if key == "require" {
                    "a control"
                } else {
                    "an alternative"
                }
            ),
            list.span(),
        ),
        _ => r.wrong_type(key, what, "an array of tables", list),
    }
    out
}

/// The `[controls]` table of a baseline, if it has one.
pub(super) fn decode_controls(r: &mut Reader<'_>, root: &DeTable<'_>) -> Vec<ControlDef> {
    let Some((t, _)) = r.sub_table(root, "controls", "a baseline") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in t.iter() {
        let id = Sp::new(k.get_ref().to_string(), r.span(k.span()));
        if let Some(def) = decode_control(r, id, v) {
            out.push(def);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tests_judge_arrays_as_sets_and_treat_absent_null_and_empty_alike() {
        let v = json!(["exchangeActiveSync", "other"]);
        assert!(Test::Contains(json!("other")).check(Some(&v)).is_ok());
        assert!(
            Test::IncludesAll(vec![json!("other"), json!("exchangeActiveSync")])
                .check(Some(&v))
                .is_ok()
        );
        assert!(Test::Exactly(vec![json!("other")]).check(Some(&v)).is_err());
        assert!(
            Test::Exactly(vec![json!("other"), json!("exchangeActiveSync")])
                .check(Some(&v))
                .is_ok()
        );
        for empty in [None, Some(&Value::Null), Some(&json!([]))] {
            assert!(Test::Empty.check(empty).is_ok());
            assert!(Test::NotEmpty.check(empty).is_err());
            assert!(Test::Excludes(json!("x")).check(empty).is_ok());
        }
        assert_eq!(
            Test::Equals(json!("enabled")).check(Some(&json!("disabled"))),
            Err("found \"disabled\"".to_string())
        );
        assert!(
            Test::OneOf(vec![json!(1), json!(2)])
                .check(Some(&json!(2)))
                .is_ok()
        );
        assert!(
            Test::ContainsAny(vec![json!("x"), json!("other")])
                .check(Some(&v))
                .is_ok()
        );
        assert!(Test::ContainsAny(vec![json!("x")]).check(Some(&v)).is_err());
    }

    #[test]
    fn none_match_globs_with_stars() {
        let grants = json!(["ManagePermissionGrantsForSelf.microsoft-user-default-low"]);
        assert!(
            Test::NoneMatch("ManagePermissionGrantsForSelf.*".into())
                .check(Some(&grants))
                .is_err()
        );
        assert!(
            Test::NoneMatch("*-legacy".into())
                .check(Some(&grants))
                .is_ok()
        );
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abde"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn a_selector_segment_finds_the_array_item_with_that_field_wherever_it_is() {
        let policy = json!({"policy": {"rules": [
            {"id": "Notification_Admin_Admin_Assignment", "notificationRecipients": ["soc@x"]},
            {"id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": true}},
        ]}});
        assert_eq!(
            resolve(
                &policy,
                "/policy/rules/[id=Approval_EndUser_Assignment]/setting/isApprovalRequired"
            ),
            Some(&json!(true))
        );
        assert_eq!(
            resolve(&policy, "/policy/rules/1/setting/isApprovalRequired"),
            Some(&json!(true))
        );
        // No such item, a selector on an object, a bad index: absent.
        assert_eq!(
            resolve(&policy, "/policy/rules/[id=Expiration_Admin_Assignment]"),
            None
        );
        assert_eq!(resolve(&policy, "/policy/[id=x]"), None);
        assert_eq!(resolve(&policy, "/policy/rules/7"), None);
        // Escapes as in RFC 6901.
        assert_eq!(
            resolve(&json!({"a/b": {"~": 1}}), "/a~1b/~0"),
            Some(&json!(1))
        );
        // An absent rule fails a not_empty test and passes an excludes test.
        let recipients = Requirement {
            at: "/policy/rules/[id=Notification_Admin_EndUser_Assignment]/notificationRecipients"
                .into(),
            test: Test::NotEmpty,
            or_absent: false,
        };
        assert!(recipients.check(&policy).is_err());
        let approval = Requirement {
            at: "/policy/rules/[id=Approval_EndUser_Assignment]/setting/isApprovalRequired".into(),
            test: Test::Excludes(json!(false)),
            or_absent: false,
        };
        assert!(approval.check(&policy).is_ok());
    }

    #[test]
    fn durations_are_weeks_days_and_time_and_nothing_of_no_fixed_length() {
        assert_eq!(duration_seconds("P181D"), Some(181 * 86_400));
        assert_eq!(duration_seconds("P1W"), Some(7 * 86_400));
        assert_eq!(
            duration_seconds("PT12H30M5S"),
            Some(12 * 3_600 + 30 * 60 + 5)
        );
        assert_eq!(duration_seconds("P4DT12H30M5S"), Some(4 * 86_400 + 45_005));
        assert_eq!(duration_seconds("PT0S"), Some(0));
        for bad in [
            "", "P", "PT", "P1Y", "P2M", "181D", "P1DT", "PD", "P1H", "PT1D", "P1D2W", "P1D1D",
            "P-1D",
        ] {
            assert_eq!(duration_seconds(bad), None, "{bad}");
        }
        let most = Test::MaxDuration("P181D".into(), 181 * 86_400);
        assert!(most.check(Some(&json!("P180D"))).is_ok());
        assert!(most.check(Some(&json!("P181D"))).is_ok());
        assert_eq!(
            most.check(Some(&json!("P182D"))),
            Err("found \"P182D\"".into())
        );
        // Not a duration it can compare, or absent: not met.
        assert!(most.check(Some(&json!("P1Y"))).is_err());
        assert!(most.check(None).is_err());
        assert_eq!(most.describe(), "is a duration of at most P181D");
    }

    #[test]
    fn or_absent_lets_null_and_absent_pass_and_says_so_when_it_fails() {
        let never_expires = Requirement {
            at: "/passwordValidityPeriodInDays".into(),
            test: Test::OneOf(vec![json!(2147483647)]),
            or_absent: true,
        };
        assert!(never_expires.check(&json!({})).is_ok());
        assert!(
            never_expires
                .check(&json!({"passwordValidityPeriodInDays": null}))
                .is_ok()
        );
        assert!(
            never_expires
                .check(&json!({"passwordValidityPeriodInDays": 2147483647}))
                .is_ok()
        );
        assert_eq!(
            never_expires.check(&json!({"passwordValidityPeriodInDays": 90})),
            Err("/passwordValidityPeriodInDays is one of 2147483647 or is absent, found 90".into())
        );
    }

    #[test]
    fn a_malformed_selector_is_named_with_the_shape_it_should_have() {
        for bad in ["/rules/[id]", "/rules/[=x]", "/rules/[id=]", "/rules/[id=x"] {
            let err = segments(bad).expect_err(bad);
            assert!(err.contains("`[field=value]`"), "{bad}: {err}");
        }
        assert!(segments("rules").is_err());
        assert_eq!(
            segments("/a/[id=x]/b"),
            Ok(vec![
                Segment::Token("a".into()),
                Segment::Select {
                    field: "id".into(),
                    value: "x".into()
                },
                Segment::Token("b".into()),
            ])
        );
    }

    #[test]
    fn a_failed_requirement_names_its_pointer_what_it_wants_and_what_it_found() {
        let r = Requirement {
            at: "/grantControls/builtInControls".into(),
            test: Test::Contains(json!("block")),
            or_absent: false,
        };
        assert_eq!(
            r.check(&json!({"grantControls": {"builtInControls": ["mfa"]}})),
            Err("/grantControls/builtInControls contains \"block\", found [\"mfa\"]".into())
        );
    }
}
