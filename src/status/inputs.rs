//! The result files `report --from` reads, recognized by their `format`: saved plans
//! (`tenantform.plan/v1`, from `plan --out` or `plan --format json`) and drift results
//! (`tenantform.drift/v1`, from `drift --format json`).
//!
//! Input: a file path. Output: an [`Input`], or a [`StatusError`] that names the file and the
//! formats accepted.

use std::path::{Path, PathBuf};

use crate::live::plan_file::{PLAN_FORMAT, PlanFile};
use crate::status::StatusError;

/// The drift results' format (`drift --format json`).
pub const DRIFT_FORMAT: &str = "tenantform.drift/v1";

/// A drift results file, as `drift --format json` writes it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DriftFile {
    /// When it was made (RFC 3339).
    pub created: String,
    /// Per tenant.
    pub tenants: Vec<DriftFileTenant>,
}

/// One tenant of a drift results file.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DriftFileTenant {
    /// Tenant id.
    pub id: String,
    /// `in-sync`, `drifted` or `unreadable`.
    pub status: String,
    /// Why it could not be read.
    #[serde(default)]
    pub reason: Option<String>,
    /// The findings.
    #[serde(default)]
    pub items: Vec<crate::live::drift::DriftItem>,
}

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
    /// Drift results.
    Drift {
        /// Where it was read.
        path: PathBuf,
        /// The results.
        file: DriftFile,
    },
}

impl Input {
    /// When the input was made (RFC 3339).
    pub fn created(&self) -> &str {
        match self {
            Input::Plan { file, .. } => &file.created,
            Input::Drift { file, .. } => &file.created,
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
            Input::Drift { path, file } => format!(
                "drift {} ({} tenants), made {}",
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
        Some(DRIFT_FORMAT) => {
            let file: DriftFile = serde_json::from_value(value).map_err(|e| {
                bad(format!(
                    "not {DRIFT_FORMAT} drift results (drift --format json): {e}"
                ))
            })?;
            Ok(Input::Drift {
                path: path.to_path_buf(),
                file,
            })
        }
        Some(other) => Err(bad(format!(
            "unknown format {other:?}; report reads {PLAN_FORMAT} (plan --out FILE or plan --format json) and {DRIFT_FORMAT} (drift --format json)"
        ))),
        None => Err(bad(format!(
            "it has no \"format\"; report reads {PLAN_FORMAT} (plan --out FILE or plan --format json) and {DRIFT_FORMAT} (drift --format json); run journals are read from the project's .tenantform/runs without --from"
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
        let e = read(&other)
            .expect_err("incomplete drift results")
            .to_string();
        assert!(e.contains("drift") && e.contains("created"), "{e}");
        std::fs::write(
            &other,
            r#"{"format": "tenantform.drift/v1", "created": "2026-12-06T02:00:00Z", "tenants": [{"id": "t1", "status": "drifted", "items": [{"key": "k", "kind": "namedLocation", "object_id": "o1", "state": "missing"}]}]}"#,
        )
        .expect("write");
        match read(&other).expect("drift results") {
            Input::Drift { file, .. } => {
                assert_eq!(
                    file.tenants[0].items[0].state,
                    crate::live::drift::DriftState::Missing
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
