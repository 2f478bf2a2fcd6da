//! Embeds every scenario file under `specs/` and every committed snapshot
//! profile under `snapshots/` into the binary, so that
//! `ipdr-conformance run` works outside the source tree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every file below `dir` whose name ends with `suffix`, recursively.
fn collect(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, suffix, out);
        } else if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with(suffix))
        {
            out.push(path);
        }
    }
}

/// `path` relative to `base`, with forward slashes.
fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn embed_specs(root: &Path, out_dir: &Path) {
    let specs = root.join("specs");
    println!("cargo:rerun-if-changed=specs");
    let mut files = Vec::new();
    collect(&specs, ".json", &mut files);
    files.sort();
    let mut code = String::from("/// Every scenario file under specs/, as (relative path, text).\npub static EMBEDDED_SPECS: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        writeln!(
            code,
            "    ({:?}, include_str!({:?})),",
            relative(file, &specs),
            file.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("embedded_specs.rs"), code).unwrap();
}

/// Each profile is a directory `snapshots/<profile>/` of `*.snap` files
/// (pending `*.snap.new` files are never embedded).
fn embed_snapshots(root: &Path, out_dir: &Path) {
    let snapshots = root.join("snapshots");
    println!("cargo:rerun-if-changed=snapshots");
    let mut profiles: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.is_dir())
                .collect()
        })
        .unwrap_or_default();
    profiles.sort();
    let mut code = String::from("/// Every committed snapshot, as (profile, file name, text).\npub static EMBEDDED_SNAPSHOTS: &[(&str, &str, &str)] = &[\n");
    for profile in &profiles {
        println!("cargo:rerun-if-changed={}", profile.display());
        let mut files = Vec::new();
        collect(profile, ".snap", &mut files);
        files.sort();
        for file in &files {
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(
                code,
                "    ({:?}, {:?}, include_str!({:?})),",
                relative(profile, &snapshots),
                relative(file, profile),
                file.display().to_string()
            )
            .unwrap();
        }
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("embedded_snapshots.rs"), code).unwrap();
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    embed_specs(&root, &out_dir);
    embed_snapshots(&root, &out_dir);
}
