//! The folders of `controller/src` follow one revision's path (see the crate's `# Layout`): a
//! module may use the modules above it on that path, never one below. This test reads every
//! source file and fails naming the file, the line and the import that points downstream.
//!
//! Test files (`*_test.rs`, fixtures) are exempt: a test may reach anywhere to build its case.

use std::path::{Path, PathBuf};

/// Top-level modules from upstream to downstream. A module may import from its own layer and
/// the layers before it. Modules in one inner list form one layer.
const LAYERS: &[&[&str]] = &[
    &[
        "secret",
        "ids",
        "bounded_http",
        "private_files",
        "pki",
        "discover",
        "render",
    ],
    &["source"],
    &["desired"],
    &["diff", "plan_view"],
    &["sync"],
    &["raft"],
    // The scheduler is the pure function the reconcile pass calls to place tasks.
    &["scheduler"],
    &["reconcile"],
    &["protocol"],
    &["views"],
    &["leader"],
    &["api"],
    &["node"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    name.ends_with("_test") || name == "fixtures"
}

/// The `crate::<module>` paths a line names, also inside grouped imports such as
/// `use crate::{reconcile, scheduler}`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
        rest = after;
    }
    found
}

/// The code of a file up to its first `#[cfg(test)]` item (tests are exempt, see above).
fn code_before_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

#[test]
fn no_module_imports_from_downstream_on_the_data_path() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unplaced = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_owned();
        if matches!(top.as_str(), "lib" | "main") {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            unplaced.push(rel.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (number, line) in code_before_tests(&text).lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in crate_paths(line) {
                match layer_of(&target) {
                    Some(layer) if layer > own => violations.push(format!(
                        "{}:{}: `{top}` imports `{target}`, which is downstream of it: {}",
                        rel.display(),
                        number + 1,
                        line.trim()
                    )),
                    Some(_) => {}
                    None => unplaced.push(format!("{}:{}: {target}", rel.display(), number + 1)),
                }
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules missing from LAYERS (place them on the data path): {unplaced:#?}"
    );
    assert!(
        violations.is_empty(),
        "imports against the data path:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_inline_paths() {
    assert_eq!(
        crate_paths("use crate::{reconcile, scheduler::Config};"),
        ["reconcile", "scheduler"]
    );
    assert_eq!(
        crate_paths("let x = crate::leader::manager::now_ms() + crate::api::X;"),
        ["leader", "api"]
    );
    assert!(layer_of("source") < layer_of("node"));
}
