//! The identity map store: which live object each managed resource of a tenant is.
//!
//! A tenant's map lives in `DIR/.tenantform/state/<tenant-id>.json`. While a deploy runs, each
//! change is appended to `<tenant-id>.log` beside it (one line, no rewrite), and the log is
//! folded into the map when the tenant finishes; a run killed at any moment leaves a log that
//! the next load replays, so no object is created twice.
//!
//! Input: a project directory and a tenant id. Output: an [`IdentityMap`], or an
//! [`IdentityError`] that says which file is wrong and what to do.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::compile::bundle::Operation;
use crate::kinds::Shape;
use crate::live::plan::IdentityMap;

/// Where a project keeps its run state: `DIR/.tenantform`.
pub fn state_root(project_dir: &Path) -> PathBuf {
    project_dir.join(".tenantform")
}

/// The identity map file of a tenant.
pub fn identity_path(project_dir: &Path, tenant: &str) -> PathBuf {
    state_root(project_dir).join(crate::state::layout::identity(tenant))
}

/// The append-only change log of a tenant's identity map, written during a deploy (one line
/// per change, no rewrite) and folded into the map when the tenant finishes.
pub fn identity_log_path(project_dir: &Path, tenant: &str) -> PathBuf {
    identity_path(project_dir, tenant).with_extension("log")
}

/// Why an identity map or its log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The map file is not a valid identity map.
    #[error(
        "identity map {} is not valid ({source}); restore it from version control or delete it to re-adopt objects by their match keys",
        path.display()
    )]
    InvalidMap {
        /// The map file.
        path: PathBuf,
        /// What the JSON decoder said.
        source: serde_json::Error,
    },
    /// A line of the log (not the last, which a kill may cut short) is not a change.
    #[error(
        "identity log {} line {line} is not valid ({source}); delete the log to re-adopt objects by their match keys",
        path.display()
    )]
    InvalidLog {
        /// The log file.
        path: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// What the JSON decoder said.
        source: serde_json::Error,
    },
    /// A file could not be read, written or removed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read identity map`, `write identity log`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> IdentityError + 'p {
    move |source| IdentityError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// One line of the identity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
enum IdentityChange {
    /// Resource `key` is object `id` of `kind`.
    Set {
        key: String,
        id: String,
        kind: String,
    },
    /// Resource `key` is no longer managed.
    Unset { key: String },
    /// These resources were brought to the bodies with these hashes.
    Applied { hashes: BTreeMap<String, String> },
    /// These resources were put back as they were before a run (`rollback`): the body hash
    /// that run recorded no longer says what the object is.
    Unapplied { keys: Vec<String> },
}

/// Load a tenant's identity map (empty when the tenant was never deployed): the map file,
/// then the changes a deploy logged after it (a run killed mid-way leaves them there). A last
/// log line cut short by the kill is ignored.
pub fn load_identity(project_dir: &Path, tenant: &str) -> Result<IdentityMap, IdentityError> {
    let path = identity_path(project_dir, tenant);
    let mut map: IdentityMap = match crate::text::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| IdentityError::InvalidMap {
            path: path.clone(),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => IdentityMap::default(),
        Err(e) => return Err(io("read identity map", &path)(e)),
    };
    let log = identity_log_path(project_dir, tenant);
    let text = match crate::text::read_to_string(&log) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(map),
        Err(e) => return Err(io("read identity log", &log)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<IdentityChange>(line) {
            Ok(IdentityChange::Set { key, id, kind }) => {
                map.objects.insert(key.clone(), id);
                map.kinds.insert(key, kind);
            }
            Ok(IdentityChange::Unset { key }) => {
                map.objects.remove(&key);
                map.kinds.remove(&key);
                map.applied.remove(&key);
            }
            Ok(IdentityChange::Applied { hashes }) => map.applied.extend(hashes),
            Ok(IdentityChange::Unapplied { keys }) => {
                for key in keys {
                    map.applied.remove(&key);
                }
            }
            // A line cut short by a kill: the change it was recording is re-adopted by its
            // match key on the next run.
            Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(source) => {
                return Err(IdentityError::InvalidLog {
                    path: log,
                    line: n + 1,
                    source,
                });
            }
        }
    }
    Ok(map)
}

/// Fold a tenant's identity log into its map file: write the map atomically, then remove the
/// log.
pub fn checkpoint_identity(
    project_dir: &Path,
    tenant: &str,
    map: &IdentityMap,
) -> Result<(), IdentityError> {
    save_identity(project_dir, tenant, map)?;
    let log = identity_log_path(project_dir, tenant);
    match std::fs::remove_file(&log) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove identity log", &log)(e)),
    }
}

/// Write a tenant's identity map atomically (temporary file, then rename).
pub fn save_identity(
    project_dir: &Path,
    tenant: &str,
    map: &IdentityMap,
) -> Result<(), IdentityError> {
    let path = identity_path(project_dir, tenant);
    let write = || -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let mut text = serde_json::to_string_pretty(map).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(io("write identity map", &path))
}

/// One tenant's identity map during a deploy: each change appended to the log as it happens
/// (the map file is not rewritten), and the log folded into the map at the end
/// ([`IdentityStore::checkpoint`], which reads both back). The store keeps only the map as it
/// was loaded, to skip recording what it already says: a thousand tenants in flight, each
/// creating a few dozen objects, do not hold their growing maps in memory.
#[derive(Debug)]
pub struct IdentityStore {
    project_dir: PathBuf,
    tenant: String,
    /// The map as loaded before the run.
    loaded: IdentityMap,
    /// The log, opened on the first change.
    log: Mutex<Option<std::fs::File>>,
}

impl IdentityStore {
    /// A store over `map` (as [`load_identity`] returned it).
    pub fn new(project_dir: &Path, tenant: &str, map: IdentityMap) -> IdentityStore {
        IdentityStore {
            project_dir: project_dir.to_path_buf(),
            tenant: tenant.to_string(),
            loaded: map,
            log: Mutex::new(None),
        }
    }

    /// The identity map file this store checkpoints to.
    pub fn path(&self) -> PathBuf {
        identity_path(&self.project_dir, &self.tenant)
    }

    /// Record that `op`'s resource is object `id` (collections only: other shapes have fixed
    /// paths).
    pub fn remember(&self, op: &Operation, id: &str) -> Result<(), IdentityError> {
        if op.kind.shape != Shape::Collection
            || self.loaded.objects.get(&op.key).map(String::as_str) == Some(id)
        {
            return Ok(());
        }
        self.log_change(&IdentityChange::Set {
            key: op.key.clone(),
            id: id.to_string(),
            kind: op.kind.name.to_string(),
        })
    }

    /// Record the body hashes of the resources this run brought to their bundle (those the
    /// map does not already say), so that a later plan can tell drift from a baseline change.
    pub fn record_applied(
        &self,
        hashes: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), IdentityError> {
        let hashes: BTreeMap<String, String> = hashes
            .into_iter()
            .filter(|(key, hash)| self.loaded.applied.get(key) != Some(hash))
            .collect();
        if hashes.is_empty() {
            return Ok(());
        }
        self.log_change(&IdentityChange::Applied { hashes })
    }

    /// Record that resource `key` is object `id` of the kind named `kind` (a rollback's
    /// re-created object).
    pub fn remember_id(&self, key: &str, kind: &str, id: &str) -> Result<(), IdentityError> {
        self.log_change(&IdentityChange::Set {
            key: key.to_string(),
            id: id.to_string(),
            kind: kind.to_string(),
        })
    }

    /// Record that resources `keys` were put back as they were before a run: the body hashes
    /// that run recorded for them no longer hold.
    pub fn unapplied(&self, keys: Vec<String>) -> Result<(), IdentityError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.log_change(&IdentityChange::Unapplied { keys })
    }

    /// Record that resource `key` is no longer managed.
    pub fn forget(&self, key: &str) -> Result<(), IdentityError> {
        self.log_change(&IdentityChange::Unset {
            key: key.to_string(),
        })
    }

    /// Append one change to the tenant's identity log (one write, no rewrite of the map).
    fn log_change(&self, change: &IdentityChange) -> Result<(), IdentityError> {
        let path = identity_log_path(&self.project_dir, &self.tenant);
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.is_none() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io("write identity log", &path))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io("write identity log", &path))?;
            *log = Some(file);
        }
        let mut line = serde_json::to_string(change).unwrap_or_default();
        line.push('\n');
        match log.as_mut() {
            Some(file) => file
                .write_all(line.as_bytes())
                .map_err(io("write identity log", &path)),
            None => Ok(()),
        }
    }

    /// Fold this run's changes into the map file and remove the log (nothing to do when
    /// nothing changed): the map and the log are read back, as a later run would.
    pub fn checkpoint(&self) -> Result<(), IdentityError> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.take().is_none() {
            return Ok(());
        }
        let map = load_identity(&self.project_dir, &self.tenant)?;
        checkpoint_identity(&self.project_dir, &self.tenant, &map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_log_replays_over_the_map_and_tolerates_a_cut_short_last_line() {
        let dir = tempfile::tempdir().expect("dir");
        let mut map = IdentityMap::default();
        map.objects.insert("a".into(), "id-a".into());
        save_identity(dir.path(), "t", &map).expect("save");
        let log = identity_log_path(dir.path(), "t");
        std::fs::write(
            &log,
            "{\"op\":\"set\",\"key\":\"b\",\"id\":\"id-b\",\"kind\":\"group\"}\n{\"op\":\"unset\",\"key\":\"a\"}\n{\"op\":\"se",
        )
        .expect("log");
        let loaded = load_identity(dir.path(), "t").expect("load");
        assert_eq!(loaded.objects.get("b").map(String::as_str), Some("id-b"));
        assert_eq!(loaded.kinds.get("b").map(String::as_str), Some("group"));
        assert!(!loaded.objects.contains_key("a"));
        checkpoint_identity(dir.path(), "t", &loaded).expect("checkpoint");
        assert!(!log.exists());
        assert_eq!(load_identity(dir.path(), "t").expect("again"), loaded);
        // A damaged line in the middle is an error that names the log and the line.
        std::fs::write(&log, "nonsense\n{\"op\":\"unset\",\"key\":\"b\"}\n").expect("log");
        let e = load_identity(dir.path(), "t").expect_err("an error");
        assert!(
            matches!(e, IdentityError::InvalidLog { line: 1, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn identity_maps_round_trip_and_bad_ones_say_what_to_do() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(
            load_identity(dir.path(), "T").expect("empty"),
            IdentityMap::default()
        );
        let mut map = IdentityMap::default();
        map.objects.insert("k".into(), "id".into());
        save_identity(dir.path(), "T", &map).expect("save");
        assert_eq!(load_identity(dir.path(), "t").expect("load"), map);
        std::fs::write(identity_path(dir.path(), "t"), "{").expect("write");
        let e = load_identity(dir.path(), "t").expect_err("an error");
        assert!(matches!(e, IdentityError::InvalidMap { .. }), "{e:?}");
        assert!(e.to_string().contains("is not valid"), "{e}");
    }

    #[test]
    fn a_store_logs_each_change_and_checkpoints_them_into_the_map() {
        let dir = tempfile::tempdir().expect("dir");
        let mut before = IdentityMap::default();
        before.objects.insert("old".into(), "id-old".into());
        before.kinds.insert("old".into(), "group".into());
        save_identity(dir.path(), "t", &before).expect("save");
        let store = IdentityStore::new(
            dir.path(),
            "t",
            load_identity(dir.path(), "t").expect("load"),
        );
        let log = identity_log_path(dir.path(), "t");
        // What the map already says is not logged again.
        let bundle = crate::live::plan::tests::minimal_bundle();
        let mut op = bundle.bundle().operations[0].clone();
        assert_eq!(op.kind.shape, Shape::Collection, "{}", op.kind.name);
        op.key = "old".into();
        store.remember(&op, "id-old").expect("remember");
        assert!(!log.exists(), "nothing new, nothing logged");
        op.key = "new".into();
        store.remember(&op, "id-new").expect("remember");
        store.forget("old").expect("forget");
        assert!(log.exists(), "a change is logged at once");
        store.checkpoint().expect("checkpoint");
        assert!(!log.exists(), "the checkpoint folds the log into the map");
        let after = load_identity(dir.path(), "t").expect("load");
        assert_eq!(after.objects.get("new").map(String::as_str), Some("id-new"));
        assert!(!after.objects.contains_key("old"));
    }

    #[test]
    fn an_unwritable_log_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        // `.tenantform` is a file, so the state directory cannot be made.
        std::fs::write(dir.path().join(".tenantform"), "").expect("write");
        let store = IdentityStore::new(dir.path(), "t", IdentityMap::default());
        let e = store.forget("k").expect_err("an error");
        assert!(
            matches!(
                e,
                IdentityError::Io {
                    action: "write identity log",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("t.log"), "{e}");
    }
}
