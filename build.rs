//! Embeds the shipped baselines, templates and generated schemas in the binary: writes
//! `$OUT_DIR/embedded.rs` with one `(path, include_str!(...))` entry per file, sorted, each
//! read from `$CARGO_MANIFEST_DIR` when the crate compiles.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn write_table(out: &mut impl Write, name: &str, root: &Path, dirs: &[&str]) {
    let mut files = Vec::new();
    for dir in dirs {
        println!("cargo:rerun-if-changed={dir}");
        collect(&root.join(dir), &mut files);
    }
    files.sort();
    writeln!(out, "pub(crate) static {name}: &[(&str, &str)] = &[").expect("write embedded.rs");
    for path in files {
        let rel = path
            .strip_prefix(root)
            .expect("collected under root")
            .to_string_lossy()
            .replace('\\', "/");
        // The path is joined to the manifest directory where the crate is compiled, not
        // written out absolute: a clone elsewhere that shares this target directory reuses
        // this file, and must read its own copies.
        writeln!(
            out,
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))),",
            format!("/{rel}")
        )
        .expect("write embedded.rs");
    }
    writeln!(out, "];").expect("write embedded.rs");
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut out = fs::File::create(out_dir.join("embedded.rs")).expect("create embedded.rs");
    write_table(
        &mut out,
        "SHIPPED_FILES",
        &root,
        &["baselines", "templates"],
    );
    write_table(&mut out, "SCHEMA_FILES", &root, &["src/schema/generated"]);
}
