//! The before-images of one tenant in one run, kept as one document:
//! `runs/<run-id>/before/<tenant-id>.json` (in the working copy and in every store). It is
//! written once before the tenant's first change is sent; a later turn of the same run (a
//! resumed run) that has more to change adds to it, and never replaces an image already
//! there: the first image of an object is the object before the run.
//!
//! Runs recorded by older versions kept one file per object (`before/<tenant-id>/<key>.json`);
//! readers accept both forms ([`crate::deploy::before`]), and publishing copies both.
//!
//! Input: images as JSON objects that carry their resource `key` (secrets already removed by
//! the deploy that made them). Output: a [`BeforeImages`] and its canonical bytes; a
//! [`BeforeImagesError`] for a document that is not one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One tenant's before-images of one run, sorted by resource key, one per key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeImages {
    /// The tenant (id in lower case).
    pub tenant: String,
    /// The images, each a JSON object with a string `key`.
    pub images: Vec<Value>,
}

/// Why a stored document is not a tenant's before-images.
#[derive(Debug, thiserror::Error)]
#[error("not a document of before-images: {0}")]
pub struct BeforeImagesError(String);

fn key_of(image: &Value) -> Option<&str> {
    image.get("key").and_then(Value::as_str)
}

impl BeforeImages {
    /// No images yet, for `tenant`.
    pub fn new(tenant: &str) -> BeforeImages {
        BeforeImages {
            tenant: tenant.to_ascii_lowercase(),
            images: Vec::new(),
        }
    }

    /// Read a document written by [`BeforeImages::to_bytes`]: every image must carry a key,
    /// and a key may appear once.
    pub fn parse(bytes: &[u8]) -> Result<BeforeImages, BeforeImagesError> {
        let text = std::str::from_utf8(bytes).map_err(|e| BeforeImagesError(e.to_string()))?;
        let parsed: BeforeImages = serde_json::from_str(crate::text::without_bom(text))
            .map_err(|e| BeforeImagesError(e.to_string()))?;
        let mut checked = BeforeImages::new(&parsed.tenant);
        for (i, image) in parsed.images.into_iter().enumerate() {
            let Some(key) = key_of(&image).map(str::to_string) else {
                return Err(BeforeImagesError(format!("image {i} has no `key`")));
            };
            if !checked.add(image) {
                return Err(BeforeImagesError(format!("the key `{key}` appears twice")));
            }
        }
        Ok(checked)
    }

    /// The document as canonical JSON (sorted keys, two-space indent), ending in a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = serde_json::json!({ "tenant": self.tenant, "images": self.images });
        (crate::canonical::to_pretty_string(&value) + "\n").into_bytes()
    }

    /// The image of `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.images[i])
    }

    /// True when there is an image of `key`.
    pub fn has(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.images
            .binary_search_by(|image| key_of(image).unwrap_or_default().cmp(key))
    }

    /// Add an image unless its key has one already (the earlier image is the object before
    /// the run) or it carries no key; true when it was added.
    pub fn add(&mut self, image: Value) -> bool {
        let Some(key) = key_of(&image) else {
            return false;
        };
        match self.position(key) {
            Ok(_) => false,
            Err(at) => {
                self.images.insert(at, image);
                true
            }
        }
    }

    /// Add every image of `later` whose key has none here; true when any was added.
    pub fn merge(&mut self, later: BeforeImages) -> bool {
        let mut added = false;
        for image in later.images {
            added |= self.add(image);
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_stay_sorted_and_the_first_image_of_a_key_wins() {
        let mut images = BeforeImages::new("T1");
        assert!(images.add(json!({"key": "b", "body": 1})));
        assert!(images.add(json!({"key": "a", "body": 1})));
        assert!(!images.add(json!({"key": "a", "body": 2})), "kept");
        assert!(!images.add(json!({"body": 3})), "no key");
        assert_eq!(images.tenant, "t1");
        assert_eq!(images.get("a"), Some(&json!({"key": "a", "body": 1})));
        let mut later = BeforeImages::new("t1");
        later.add(json!({"key": "a", "body": 9}));
        later.add(json!({"key": "c", "body": 9}));
        assert!(images.merge(later));
        let keys: Vec<&str> = images.images.iter().filter_map(key_of).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(images.get("a").map(|i| &i["body"]), Some(&json!(1)));
        let bytes = images.to_bytes();
        assert_eq!(BeforeImages::parse(&bytes).expect("parse"), images);
        assert!(bytes.ends_with(b"}\n"));
    }

    #[test]
    fn a_document_that_is_not_before_images_is_refused_with_the_reason() {
        let e = BeforeImages::parse(b"[1]").expect_err("not an object");
        assert!(
            e.to_string().starts_with("not a document of before-images"),
            "{e}"
        );
        let e =
            BeforeImages::parse(br#"{"tenant":"t","images":[{"body":1}]}"#).expect_err("no key");
        assert!(e.to_string().contains("image 0 has no `key`"), "{e}");
        let e = BeforeImages::parse(br#"{"tenant":"t","images":[{"key":"a"},{"key":"a"}]}"#)
            .expect_err("twice");
        assert!(e.to_string().contains("`a` appears twice"), "{e}");
    }
}
