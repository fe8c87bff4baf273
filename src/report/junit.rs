//! The JUnit XML format of a plan or deploy: one test case per tenant, grouped by ring, so CI
//! systems show failed tenants as failed tests.
//!
//! Input: a [`DeploySummary`]. Output: JUnit XML text.

use crate::report::DeploySummary;

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test case per tenant, grouped by ring.
pub fn junit(summary: &DeploySummary) -> String {
    let failures = summary.failed().count();
    let mut text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tenantform deploy\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        summary.tenants.len() + summary.not_started.len(),
        summary.seconds
    );
    let mut rings: Vec<&str> = summary.tenants.iter().map(|t| t.ring.as_str()).collect();
    rings.sort_unstable();
    rings.dedup();
    for ring in rings {
        let cases: Vec<_> = summary.tenants.iter().filter(|t| t.ring == ring).collect();
        text.push_str(&format!(
            "  <testsuite name=\"ring {}\" tests=\"{}\" failures=\"{}\">\n",
            xml(ring),
            cases.len(),
            cases.iter().filter(|t| !t.ok).count()
        ));
        for t in cases {
            text.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{} ({})\" time=\"{:.3}\">",
                xml(ring),
                xml(&t.name),
                xml(&t.id),
                t.seconds
            ));
            if !t.ok {
                let reason = t.reason.as_deref().unwrap_or("failed");
                text.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    xml(reason),
                    xml(&t
                        .failures
                        .iter()
                        .map(|f| format!("{}: {}", f.key, f.reason))
                        .collect::<Vec<_>>()
                        .join("\n"))
                ));
            }
            text.push_str("</testcase>\n");
        }
        text.push_str("  </testsuite>\n");
    }
    for id in &summary.not_started {
        text.push_str(&format!(
            "  <testsuite name=\"not started\" tests=\"1\" skipped=\"1\"><testcase name=\"{}\"><skipped message=\"the rollout stopped before this tenant\"/></testcase></testsuite>\n",
            xml(id)
        ));
    }
    text.push_str("</testsuites>\n");
    text
}
