//! A fluent harness: copy a fixture (or write files) into a temporary project, run the real
//! `tenantform` binary on it, and assert on exit code, stdout, stderr and written files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture directory under `fixtures/`.
pub(crate) fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// A scratch project in a temporary directory.
pub(crate) struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty directory.
    pub(crate) fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A copy of `fixtures/<rel>`.
    pub(crate) fn from_fixture(rel: &str) -> Project {
        let p = Project::empty();
        copy_dir(&fixture(rel), p.path());
        p
    }

    /// A project made by `tenantform init`.
    pub(crate) fn init() -> Project {
        let p = Project::empty();
        let dir = p.path().join("proj");
        tenantform().arg("init").arg(&dir).run().success();
        let q = Project::empty();
        copy_dir(&dir, q.path());
        q
    }

    /// The project directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write (or overwrite) a file.
    pub(crate) fn file(&self, rel: &str, text: impl AsRef<[u8]>) -> &Project {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        self
    }

    /// Read a file.
    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read")
    }

    /// `tenantform <args> --project <dir>`.
    pub(crate) fn cmd(&self, args: &[&str]) -> Cmd {
        let mut c = tenantform();
        c.args(args).arg("--project").arg(self.path());
        c
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A command under construction.
pub(crate) struct Cmd {
    inner: Command,
}

/// `tenantform` with a fixed "today" so expiry checks are reproducible.
pub(crate) fn tenantform() -> Cmd {
    let mut inner = Command::new(env!("CARGO_BIN_EXE_tenantform"));
    inner.env_remove("RUST_LOG");
    let mut c = Cmd { inner };
    c.arg("--today").arg("2026-11-26");
    c
}

impl Cmd {
    /// Add one argument.
    pub(crate) fn arg(&mut self, a: impl AsRef<std::ffi::OsStr>) -> &mut Cmd {
        self.inner.arg(a);
        self
    }

    /// Add arguments.
    pub(crate) fn args(&mut self, a: &[&str]) -> &mut Cmd {
        self.inner.args(a);
        self
    }

    /// Run in this directory.
    pub(crate) fn current_dir(&mut self, dir: &Path) -> &mut Cmd {
        self.inner.current_dir(dir);
        self
    }

    /// Set an environment variable.
    pub(crate) fn env(&mut self, name: &str, value: &str) -> &mut Cmd {
        self.inner.env(name, value);
        self
    }

    /// Unset an environment variable.
    pub(crate) fn env_remove(&mut self, name: &str) -> &mut Cmd {
        self.inner.env_remove(name);
        self
    }

    /// Start it in the background (stdin closed, output discarded).
    pub(crate) fn spawn(&mut self) -> std::process::Child {
        self.inner
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn tenantform")
    }

    /// Run to completion.
    pub(crate) fn run(&mut self) -> Output {
        let out = self
            .inner
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run tenantform");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What a run printed and returned.
#[derive(Debug)]
pub(crate) struct Output {
    /// Exit code.
    pub(crate) code: i32,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Output {
    /// Assert exit code 0.
    pub(crate) fn success(self) -> Output {
        self.code(0)
    }

    /// Assert an exit code.
    pub(crate) fn code(self, code: i32) -> Output {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Assert stderr contains a piece of text.
    pub(crate) fn stderr_has(self, text: &str) -> Output {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Assert stdout contains a piece of text.
    pub(crate) fn stdout_has(self, text: &str) -> Output {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    /// Assert stderr does not contain a piece of text.
    pub(crate) fn stderr_lacks(self, text: &str) -> Output {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}:\n{}",
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Compare `actual` with the file at `path`; with `TENANTFORM_BLESS=1`, rewrite the file.
pub(crate) fn assert_matches_file(actual: &str, path: &Path) {
    if std::env::var_os("TENANTFORM_BLESS").is_some() {
        std::fs::write(path, actual).expect("bless");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with TENANTFORM_BLESS=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "output differs from {} (TENANTFORM_BLESS=1 rewrites it after review)",
        path.display()
    );
}
