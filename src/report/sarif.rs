//! The SARIF 2.1.0 format of diagnostics, which GitHub code scanning and Azure DevOps read:
//! one rule per diagnostic code, one result per diagnostic with its physical location.
//!
//! Input: [`Diagnostics`] and their [`SourceMap`]. Output: a SARIF log as JSON.

use std::fmt::Write as _;

use serde_json::json;

use crate::diag::{Code, Diagnostics, Severity};
use crate::report::human::tenants_text;
use crate::source::SourceMap;

/// A SARIF 2.1.0 log of the diagnostics (GitHub code scanning reads it).
pub fn to_sarif(diagnostics: &Diagnostics, sources: &SourceMap) -> serde_json::Value {
    let rules: Vec<_> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.slug(),
                "shortDescription": {"text": c.summary()},
                "helpUri": format!("https://tenantform.dev/book/reference/codes.html#{}", c.as_str().to_lowercase()),
            })
        })
        .collect();
    let results: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            match d.pointer.as_deref() {
                Some("") => text.push_str(" (at the top level of the body)"),
                Some(pointer) => {
                    let _ = write!(text, " (at {pointer})");
                }
                None => {}
            }
            if let Some(expected) = &d.expected {
                let _ = write!(text, "; expected: {expected}");
            }
            if let Some(tenants) = tenants_text(&d.tenants) {
                let _ = write!(text, "; in {tenants}");
            }
            let mut result = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": text},
            });
            if let Some(span) = d.span {
                let loc = sources.location(span);
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": loc.file},
                        "region": {"startLine": loc.line, "startColumn": loc.column},
                    }
                }]);
            }
            if !d.notes.is_empty() {
                result["relatedLocations"] = d
                    .notes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let loc = sources.location(n.span);
                        json!({
                            "id": i,
                            "message": {"text": n.label},
                            "physicalLocation": {
                                "artifactLocation": {"uri": loc.file},
                                "region": {"startLine": loc.line, "startColumn": loc.column},
                            }
                        })
                    })
                    .collect();
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tenantform",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://tenantform.dev",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}
