//! The trainer's architecture, checked: crates whose dependencies only point down the stack
//! `kernels`, `comm` -> `model` -> `eval` -> `trainer`, and no import cycle between the
//! top-level modules inside any of them (a module may use those before it, never one that uses
//! it back).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate of ours and the crates of ours it may depend on (normal dependencies).
const ALLOWED: [(&str, &[&str]); 9] = [
    ("dataset", &[]),
    ("pixfont", &[]),
    ("synth", &["dataset"]),
    ("renderer", &["dataset", "pixfont", "synth"]),
    ("kernels", &[]),
    ("comm", &[]),
    ("model", &["dataset", "kernels", "comm"]),
    ("eval", &["dataset", "pixfont", "synth", "renderer", "kernels", "model"]),
    // `renderer` behind the `render` feature: its `live` API only (`train --render`).
    ("trainer", &["dataset", "kernels", "comm", "model", "eval", "renderer"]),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn crate_dir(name: &str) -> PathBuf {
    match name {
        "kernels" | "comm" | "model" | "eval" => workspace().join("trainer").join(name),
        _ => workspace().join(name),
    }
}

/// The names under `[dependencies]` of a crate's manifest (not dev- or build-dependencies).
fn dependencies(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(crate_dir(name).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            deps.push(line.split(['.', ' ', '=']).next().unwrap().to_string());
        }
    }
    deps
}

#[test]
fn crates_depend_only_downwards() {
    let ours: Vec<&str> = ALLOWED.iter().map(|(n, _)| *n).collect();
    for (name, allowed) in ALLOWED {
        for dep in dependencies(name).into_iter().filter(|d| ours.contains(&d.as_str())) {
            assert!(allowed.contains(&dep.as_str()), "{name} depends on {dep}, which is not below it");
        }
    }
}

/// The top-level module a source file belongs to (`lib`/`main` for the root files).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().unwrap() != "bin" {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module -> the crate's other top-level modules its code names (`crate::x`, or
/// `super::x` in a top-level file), outside test modules.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let top_level = file.parent() == Some(src);
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            let mut names = Vec::new();
            for prefix in ["crate::", "super::"] {
                if prefix == "super::" && !top_level {
                    continue;
                }
                for part in line.split(prefix).skip(1) {
                    names.extend(part.split(|c: char| !c.is_alphanumeric() && c != '_').next());
                }
            }
            for to in names.into_iter().filter(|n| modules.contains(*n) && **n != from) {
                graph.entry(from.clone()).or_default().insert(to.to_string());
            }
        }
    }
    graph
}

/// A cycle through `start`, if any, as the path of modules.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                return Some([path.clone(), vec![start.to_string()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn no_import_cycles_between_the_modules_of_a_crate() {
    let mut cycles = Vec::new();
    for name in ["kernels", "comm", "model", "eval", "trainer"] {
        let graph = module_graph(&crate_dir(name).join("src"));
        for module in graph.keys() {
            if let Some(cycle) = cycle_from(&graph, module) {
                cycles.push(format!("crate {name}: {}", cycle.join(" -> ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
