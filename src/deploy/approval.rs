//! Stage 4, `deploy`: approved plans only. Under `[deploy] require_approved_plan = true` in
//! `tenantform.toml`, deploy applies nothing but a saved plan file (`--plan FILE`) whose hash was
//! approved: passed by the pipeline that held the approval (`--approved-hash sha256:...`), or
//! listed in the project's approvals file (`.tenantform/approved-plans`, one hash a line,
//! anything after it and lines starting with `#` ignored). The hash is of the file's bytes, as
//! `sha256sum` computes it, so the file a reviewer read is the file applied.
//!
//! Input: the policy, the plan file's bytes, the approved hash passed, the project directory.
//! Output: an [`Approval`] (recorded in the run's journal) or an [`ApprovalError`].

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The approvals file, under the project's state directory.
pub const APPROVALS_FILE: &str = "approved-plans";

/// Why deploy refuses to go on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApprovalError {
    /// The policy asks for a plan file and there is none.
    #[error(
        "this project requires an approved plan ([deploy] require_approved_plan = true in tenantform.toml): deploy only with --plan FILE (from `tenantform plan --out FILE`) whose hash is approved"
    )]
    PlanRequired,
    /// `--approved-hash` is not the plan file's hash.
    #[error(
        "the plan file {} is {actual}, not the approved {approved}: it is not the plan that was approved (nothing was deployed)", path.display()
    )]
    HashMismatch {
        /// The plan file.
        path: PathBuf,
        /// Its hash.
        actual: String,
        /// The hash passed.
        approved: String,
    },
    /// Neither passed nor listed.
    #[error(
        "the plan file {} ({actual}) is not approved: pass --approved-hash {actual} from the pipeline that holds the approval, or list the hash in {} (nothing was deployed)", path.display(), approvals.display()
    )]
    NotApproved {
        /// The plan file.
        path: PathBuf,
        /// Its hash.
        actual: String,
        /// The approvals file looked in.
        approvals: PathBuf,
    },
    /// `--approved-hash` is not a hash.
    #[error(
        "--approved-hash {0:?} is not a hash; write it as sha256:<64 hex digits> (or the 64 digits `sha256sum` prints)"
    )]
    Malformed(String),
}

/// What approved the plan applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// `sha256:` of the plan file.
    pub plan_hash: String,
    /// `--approved-hash`, `.tenantform/approved-plans line N`, or `not required`.
    pub by: String,
}

/// `sha256:<hex>` of a plan file's bytes.
pub fn plan_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `sha256:<hex>` in lower case, from `sha256:<hex>` or the bare digits.
fn normalize(hash: &str) -> Option<String> {
    let digits = hash.trim();
    let digits = digits
        .strip_prefix("sha256:")
        .or_else(|| digits.strip_prefix("SHA256:"))
        .unwrap_or(digits);
    (digits.len() == 64 && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", digits.to_ascii_lowercase()))
}

/// Check a deploy against the policy. `plan` is the plan file and its bytes, when `--plan` was
/// given; `approved` the `--approved-hash`; `approvals` the approvals file. A hash passed is
/// checked whether or not the policy requires one.
pub fn check(
    required: bool,
    plan: Option<(&Path, &[u8])>,
    approved: Option<&str>,
    approvals: &Path,
) -> Result<Option<Approval>, ApprovalError> {
    let approved = approved
        .map(|a| normalize(a).ok_or_else(|| ApprovalError::Malformed(a.to_string())))
        .transpose()?;
    let Some((path, bytes)) = plan else {
        return if required {
            Err(ApprovalError::PlanRequired)
        } else {
            Ok(None)
        };
    };
    let actual = plan_hash(bytes);
    if let Some(approved) = approved {
        if approved != actual {
            return Err(ApprovalError::HashMismatch {
                path: path.to_path_buf(),
                actual,
                approved,
            });
        }
        return Ok(Some(Approval {
            plan_hash: actual,
            by: "--approved-hash".into(),
        }));
    }
    if let Ok(text) = std::fs::read_to_string(approvals) {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let first = line.split_whitespace().next().unwrap_or_default();
            if normalize(first).as_deref() == Some(actual.as_str()) {
                return Ok(Some(Approval {
                    plan_hash: actual,
                    by: format!("{} line {}", approvals.display(), i + 1),
                }));
            }
        }
    }
    if required {
        return Err(ApprovalError::NotApproved {
            path: path.to_path_buf(),
            actual,
            approvals: approvals.to_path_buf(),
        });
    }
    Ok(Some(Approval {
        plan_hash: actual,
        by: "not required".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256sum_of_the_bytes() {
        // `printf 'plan' | sha256sum`
        assert_eq!(
            plan_hash(b"plan"),
            "sha256:64879f7d6b960a01909762d911a32d4582c20010c5641ee90278b644a9e3b525"
        );
        assert_eq!(
            normalize(&"AB".repeat(32)),
            Some(format!("sha256:{}", "ab".repeat(32)))
        );
        assert_eq!(normalize("sha256:xyz"), None);
    }

    #[test]
    fn under_the_policy_only_an_approved_plan_file_passes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let approvals = dir.path().join(APPROVALS_FILE);
        let plan = dir.path().join("plan.json");
        let bytes = b"{\"format\": \"tenantform.plan/v1\"}\n";
        let hash = plan_hash(bytes);
        let file = Some((plan.as_path(), &bytes[..]));
        // No plan file at all.
        assert_eq!(
            check(true, None, None, &approvals),
            Err(ApprovalError::PlanRequired)
        );
        assert_eq!(check(false, None, None, &approvals), Ok(None));
        // A plan file nobody approved.
        assert!(matches!(
            check(true, file, None, &approvals),
            Err(ApprovalError::NotApproved { .. })
        ));
        // Approved by the pipeline, with or without the prefix; another hash is refused.
        let by_flag = check(true, file, Some(&hash), &approvals).expect("approved");
        assert_eq!(by_flag.expect("approval").by, "--approved-hash");
        let bare = hash.trim_start_matches("sha256:").to_string();
        assert!(check(true, file, Some(&bare), &approvals).is_ok());
        let other = plan_hash(b"another plan");
        assert!(matches!(
            check(true, file, Some(&other), &approvals),
            Err(ApprovalError::HashMismatch { .. })
        ));
        // A wrong hash is refused even without the policy.
        assert!(check(false, file, Some(&other), &approvals).is_err());
        assert!(matches!(
            check(true, file, Some("yes"), &approvals),
            Err(ApprovalError::Malformed(_))
        ));
        // Listed in the approvals file.
        std::fs::write(
            &approvals,
            format!("# approved in PR 12\n{other}\n{hash}  approved by ana, PR 14\n"),
        )
        .expect("write");
        let by_file = check(true, file, None, &approvals)
            .expect("approved")
            .expect("approval");
        assert!(
            by_file.by.ends_with("approved-plans line 3"),
            "{}",
            by_file.by
        );
        assert_eq!(by_file.plan_hash, hash);
    }
}
