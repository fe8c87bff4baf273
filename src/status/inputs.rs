//! The result files `report --from` reads, recognized by their `format`: saved plans
//! (`tenantform.plan/v1`, from `plan --out` or `plan --format json`). Drift results
//! (`tenantform.drift/v1`) join here as another [`Input`] when `drift` lands.
//!
//! Input: a file path. Output: an [`Input`], or a [`StatusError`] that names the file and the
//! formats accepted.

use std::path::{Path, PathBuf};

use crate::live::plan_file::{PLAN_FORMAT, PlanFile};
use crate::status::StatusError;

/// The drift results' format, recognized so that a drift file gets a clear message until the
/// report reads it.
pub const DRIFT_FORMAT: &str = "tenantform.drift/v1";

/// One result file.
#[derive(Debug, Clone)]
pub enum Input {
    /// A saved plan.
    Plan {
        /// Where it was read.
        path: PathBuf,
        /// The plan.
        file: PlanFile,
    },
}

impl Input {
    /// When the input was made (RFC 3339).
    pub fn created(&self) -> &str {
        match self {
            Input::Plan { file, .. } => &file.created,
        }
    }

    /// What it is, for the report's list of sources.
    pub fn describe(&self) -> String {
        match self {
            Input::Plan { path, file } => format!(
                "plan {} ({} tenants), made {}",
                path.display(),
                file.tenants.len(),
                file.created
            ),
        }
    }
}

/// Read a result file: its `format` says what it is.
pub fn read(path: &Path) -> Result<Input, StatusError> {
    let bad = |message: String| StatusError::Input {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::text::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    match value.get("format").and_then(serde_json::Value::as_str) {
        Some(PLAN_FORMAT) => {
            let file: PlanFile = serde_json::from_value(value)
                .map_err(|e| bad(format!("not a {PLAN_FORMAT} plan: {e}")))?;
            Ok(Input::Plan {
                path: path.to_path_buf(),
                file,
            })
        }
        Some(DRIFT_FORMAT) => Err(bad(format!(
            "drift results ({DRIFT_FORMAT}) are not read by this version of report yet"
        ))),
        Some(other) => Err(bad(format!(
            "unknown format {other:?}; report reads {PLAN_FORMAT} (plan --out FILE or plan --format json)"
        ))),
        None => Err(bad(format!(
            "it has no \"format\"; report reads {PLAN_FORMAT} (plan --out FILE or plan --format json); run journals are read from the project's .tenantform/runs without --from"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_recognized_by_their_format_and_others_say_what_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let plan = dir.path().join("plan.json");
        std::fs::write(
            &plan,
            r#"{"format": "tenantform.plan/v1", "created": "2026-11-26T10:00:00Z", "tenants": []}"#,
        )
        .expect("write");
        let input = read(&plan).expect("a plan");
        assert_eq!(input.created(), "2026-11-26T10:00:00Z");
        let other = dir.path().join("other.json");
        std::fs::write(&other, r#"{"run_id": "x", "tenants": []}"#).expect("write");
        let e = read(&other).expect_err("not a plan").to_string();
        assert!(
            e.contains("other.json") && e.contains("tenantform.plan/v1"),
            "{e}"
        );
        std::fs::write(&other, r#"{"format": "tenantform.drift/v1"}"#).expect("write");
        let e = read(&other).expect_err("not yet").to_string();
        assert!(e.contains("drift"), "{e}");
    }
}
