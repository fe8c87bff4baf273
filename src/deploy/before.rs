//! Before-images on disk: what a deploy records of an object before it changes or deletes it,
//! and how `rollback` and `deploy --resume` read it back.
//!
//! A tenant's images of a run are one document, `<run>/before/<tenant-id>.json` (the format of
//! [`crate::state::before`]), written whole (a temporary file renamed into place) before the
//! tenant's first change is sent, so that with a remote store it is one blob per tenant and run.
//! A later turn of the same run (a resumed run) adds the images of objects not imaged yet and
//! keeps those already there: they are the objects before the run. Runs recorded by older
//! versions kept one file per object, `<run>/before/<tenant-id>/<key>.json`; both forms are read,
//! and an object imaged in the older form is not imaged again.
//!
//! Input: the run's `before/` directory, a tenant, images. Output: the document on disk, or a
//! [`RecordedImages`] to look images up by resource key; [`RollbackError::Image`] for a file
//! that cannot be read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deploy::rollback::RollbackError;
use crate::state::before::BeforeImages;

/// What the run was about to do to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeforeChange {
    /// Change some of its properties (an update, or the update of an adopted object).
    Update,
    /// Delete it (`--prune`).
    Delete,
}

/// One object as it was before a run changed or deleted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeImage {
    /// Resource key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// Object id (collection kinds).
    pub object_id: Option<String>,
    /// The object's path (no host, references resolved).
    pub path: String,
    /// What the run was about to do.
    pub change: BeforeChange,
    /// Top-level properties the update changes (what a rollback sends back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// The live body, server fields and secrets removed.
    pub body: Value,
}

/// The document of a tenant's images in a run's `before/` directory.
pub fn images_file(before_dir: &Path, tenant: &str) -> PathBuf {
    before_dir.join(format!("{}.json", tenant.to_ascii_lowercase()))
}

/// The directory of a tenant's images in the older one-file-per-object form.
fn per_object_dir(before_dir: &Path, tenant: &str) -> PathBuf {
    before_dir.join(tenant.to_ascii_lowercase())
}

/// The file of a resource's image in the older one-file-per-object form.
fn per_object_file(tenant_dir: &Path, key: &str) -> PathBuf {
    tenant_dir.join(crate::live::snapshot::file_name(key))
}

fn read_document(path: &Path) -> Result<Option<BeforeImages>, RollbackError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RollbackError::Image {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    BeforeImages::parse(&bytes)
        .map(Some)
        .map_err(|e| RollbackError::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Record `images` of `tenant` in a run's `before/` directory before its first change is sent:
/// the images of objects not imaged yet by this run (in either form) are added to the tenant's
/// document, which is written whole. Nothing new: nothing is written.
pub(crate) fn write_before_images(
    before_dir: &Path,
    tenant: &str,
    images: &[BeforeImage],
) -> std::io::Result<()> {
    let path = images_file(before_dir, tenant);
    let mut document = match read_document(&path) {
        Ok(Some(document)) => document,
        Ok(None) => BeforeImages::new(tenant),
        // A document that cannot be read is not overwritten: the images in it may be all
        // that is left of the objects before the run.
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    };
    let older = per_object_dir(before_dir, tenant);
    let mut added = false;
    for image in images {
        if document.has(&image.key) || per_object_file(&older, &image.key).exists() {
            continue;
        }
        added |= document.add(serde_json::to_value(image).map_err(std::io::Error::other)?);
    }
    if !added {
        return Ok(());
    }
    std::fs::create_dir_all(before_dir)?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, document.to_bytes())?;
    std::fs::rename(&tmp, &path)
}

/// A tenant's images of one run, from the document and from the older per-object files.
#[derive(Debug)]
pub(crate) struct RecordedImages {
    document: Option<(PathBuf, BeforeImages)>,
    per_object: PathBuf,
}

impl RecordedImages {
    /// The images of `tenant` in a run's `before/` directory (none recorded is no error).
    pub(crate) fn load(before_dir: &Path, tenant: &str) -> Result<RecordedImages, RollbackError> {
        let path = images_file(before_dir, tenant);
        Ok(RecordedImages {
            document: read_document(&path)?.map(|d| (path, d)),
            per_object: per_object_dir(before_dir, tenant),
        })
    }

    /// The image of resource `key`: the older per-object file if there is one (an older
    /// version's turn of the run came first), else the document's.
    pub(crate) fn get(&self, key: &str) -> Result<Option<BeforeImage>, RollbackError> {
        let file = per_object_file(&self.per_object, key);
        match crate::text::read_to_string(&file) {
            Ok(text) => {
                return serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| RollbackError::Image {
                        path: file,
                        reason: e.to_string(),
                    });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(RollbackError::Image {
                    path: file,
                    reason: e.to_string(),
                });
            }
        }
        let Some((path, document)) = &self.document else {
            return Ok(None);
        };
        let Some(image) = document.get(key) else {
            return Ok(None);
        };
        serde_json::from_value(image.clone())
            .map(Some)
            .map_err(|e| RollbackError::Image {
                path: path.clone(),
                reason: format!("the image of {key}: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(key: &str, state: &str) -> BeforeImage {
        BeforeImage {
            key: key.into(),
            kind: "conditionalAccessPolicy".into(),
            object_id: Some(format!("id-{key}")),
            path: format!("/identity/conditionalAccess/policies/id-{key}"),
            change: BeforeChange::Update,
            properties: vec!["state".into()],
            body: serde_json::json!({ "displayName": key, "state": state }),
        }
    }

    #[test]
    fn a_tenants_images_are_one_document_and_a_later_turn_only_adds() {
        let dir = tempfile::tempdir().expect("dir");
        let before = dir.path().join("before");
        write_before_images(
            &before,
            "T1",
            &[image("b", "enabled"), image("a", "enabled")],
        )
        .expect("write");
        let names: Vec<String> = std::fs::read_dir(&before)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["t1.json"], "one document, no temporary file left");
        // A resumed turn sees `a` already changed: its image then is not the one before the run.
        write_before_images(
            &before,
            "t1",
            &[image("a", "disabled"), image("c", "enabled")],
        )
        .expect("write");
        let images = RecordedImages::load(&before, "t1").expect("load");
        assert_eq!(images.get("a").expect("a"), Some(image("a", "enabled")));
        assert_eq!(images.get("c").expect("c"), Some(image("c", "enabled")));
        assert_eq!(images.get("zz").expect("none"), None);
        let text = std::fs::read_to_string(images_file(&before, "t1")).expect("read");
        assert!(text.starts_with("{\n  \"images\": ["), "{text}");
    }

    #[test]
    fn images_of_the_older_per_object_form_are_read_and_not_imaged_again() {
        let dir = tempfile::tempdir().expect("dir");
        let before = dir.path().join("before");
        // As an older version wrote them: one canonical file per object.
        let older = before.join("t1");
        std::fs::create_dir_all(&older).expect("dir");
        let value = serde_json::to_value(image("a", "enabled")).expect("json");
        std::fs::write(
            older.join("a.json"),
            crate::canonical::to_pretty_string(&value) + "\n",
        )
        .expect("write");
        // This version resumes the run: `a` is imaged already (and changed since).
        write_before_images(
            &before,
            "t1",
            &[image("a", "disabled"), image("b", "enabled")],
        )
        .expect("write");
        let images = RecordedImages::load(&before, "t1").expect("load");
        assert_eq!(images.get("a").expect("a"), Some(image("a", "enabled")));
        assert_eq!(images.get("b").expect("b"), Some(image("b", "enabled")));
        let document = std::fs::read(images_file(&before, "t1")).expect("document");
        let document = BeforeImages::parse(&document).expect("parse");
        assert!(!document.has("a") && document.has("b"), "{document:?}");
    }

    #[test]
    fn an_unreadable_document_is_an_error_naming_it_and_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        let before = dir.path().join("before");
        std::fs::create_dir_all(&before).expect("dir");
        let path = images_file(&before, "t1");
        std::fs::write(&path, "{ not json").expect("write");
        let e = RecordedImages::load(&before, "t1").expect_err("unreadable");
        assert!(e.to_string().contains("t1.json"), "{e}");
        assert!(
            e.to_string().contains("not a document of before-images"),
            "{e}"
        );
        let e = write_before_images(&before, "t1", &[image("a", "enabled")])
            .expect_err("not overwritten");
        assert!(
            e.to_string().contains("not a document of before-images"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{ not json");
        // An older per-object file that is not an image is named too.
        let older = before.join("t2");
        std::fs::create_dir_all(&older).expect("dir");
        std::fs::write(older.join("a.json"), "[]").expect("write");
        let images = RecordedImages::load(&before, "t2").expect("no document");
        let e = images.get("a").expect_err("not an image");
        assert!(e.to_string().contains("a.json"), "{e}");
    }
}
