//! The local state backend: the working copy `DIR/.tenantform/` is the store. Values are files
//! at their keys; a whole write is a temporary file renamed into place; the conditional writes
//! that locks need (create if absent, replace if unchanged) hold an exclusive operating-system
//! lock on `locks/.guard` while they compare, so two processes on one machine never both win.
//!
//! Input: the project directory. Output: a [`LocalStore`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::state::{Listed, StateError, Version, Versioned};

/// Run state in `DIR/.tenantform/`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

fn local<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> StateError + 'p {
    move |source| StateError::Local {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn version_of(bytes: &[u8]) -> Version {
    Version(crate::canonical::hash_bytes(bytes))
}

impl LocalStore {
    /// The store of the project in `project_dir`.
    pub fn new(project_dir: &Path) -> LocalStore {
        LocalStore {
            root: project_dir.join(".tenantform"),
        }
    }

    /// A store whose keys sit directly under `root` (`state pull --to DIR`).
    pub fn at(root: &Path) -> LocalStore {
        LocalStore {
            root: root.to_path_buf(),
        }
    }

    /// `DIR/.tenantform`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        key.split('/')
            .filter(|s| !s.is_empty())
            .fold(self.root.clone(), |p, s| p.join(s))
    }

    /// Hold the guard of conditional writes for the length of `f`.
    fn guarded<T>(&self, f: impl FnOnce() -> Result<T, StateError>) -> Result<T, StateError> {
        let dir = self.root.join("locks");
        std::fs::create_dir_all(&dir).map_err(local("create", &dir))?;
        let guard_path = dir.join(".guard");
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&guard_path)
            .map_err(local("open", &guard_path))?;
        guard.lock().map_err(local("lock", &guard_path))?;
        let out = f();
        // Closing the file releases the lock too; unlocking first says so.
        let _ = guard.unlock();
        out
    }

    pub(crate) fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Versioned {
                version: version_of(&bytes),
                bytes,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(local("read", &path)(e)),
        }
    }

    pub(crate) fn write(&self, key: &str, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(local("create", parent))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(local("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(local("write", &path))
    }

    pub(crate) fn create(&self, key: &str, bytes: &[u8]) -> Result<Option<Version>, StateError> {
        let path = self.path(key);
        self.guarded(|| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(local("create", parent))?;
            }
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(bytes).map_err(local("write", &path))?;
                    Ok(Some(version_of(bytes)))
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(local("create", &path)(e)),
            }
        })
    }

    pub(crate) fn replace(
        &self,
        key: &str,
        bytes: &[u8],
        version: &Version,
    ) -> Result<Option<Version>, StateError> {
        self.guarded(|| match self.read(key)? {
            Some(current) if &current.version == version => {
                self.write(key, bytes)?;
                Ok(Some(version_of(bytes)))
            }
            _ => Ok(None),
        })
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), StateError> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(local("remove", &path)(e)),
        }
    }

    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<Listed>, StateError> {
        let dir = self.path(prefix);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(|e| StateError::Local {
                action: "list",
                path: dir.clone(),
                source: e.into(),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let key: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let key = key.join("/");
            if key.rsplit('/').next().is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(Listed { key, size });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_exclusive_and_replace_needs_the_current_version() {
        let dir = tempfile::tempdir().expect("dir");
        let store = LocalStore::new(dir.path());
        let v1 = store.create("locks/t.json", b"one").expect("create");
        let v1 = v1.expect("created");
        assert_eq!(store.create("locks/t.json", b"two").expect("create"), None);
        let v2 = store
            .replace("locks/t.json", b"three", &v1)
            .expect("replace")
            .expect("replaced");
        assert_eq!(
            store
                .replace("locks/t.json", b"four", &v1)
                .expect("replace"),
            None,
            "an old version no longer replaces"
        );
        assert_eq!(
            store
                .read("locks/t.json")
                .expect("read")
                .expect("there")
                .version,
            v2
        );
        assert_eq!(
            std::fs::read(dir.path().join(".tenantform/locks/t.json")).expect("file"),
            b"three"
        );
        let listed = store.list("locks/").expect("list");
        assert_eq!(listed.len(), 1, "the guard file is not listed: {listed:?}");
        store.delete("locks/t.json").expect("delete");
        store
            .delete("locks/t.json")
            .expect("deleting nothing is fine");
        assert!(store.read("locks/t.json").expect("read").is_none());
    }
}
