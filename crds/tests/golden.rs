//! Golden tests: every lint rule, with the exact `line:col`, message and help it reports.
//!
//! Each `rules/<name>.yml` is loaded as stack `<name>` and its findings are compared with
//! `rules/<name>.expected`. After an intended change, regenerate with
//! `BLESS=1 cargo test -p crds --test golden` and review the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crds::diagnostic::Diagnostic;
use crds::load::{self, Files, Loaded, Source};

struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let at = d.span.map_or_else(
            || "-".to_owned(),
            |s| format!("{}:{}", s.start.line, s.start.col),
        );
        out.push_str(&format!("{at} {}[{}] {}\n", d.severity, d.rule, d.message));
        if let Some(help) = &d.help {
            out.push_str(&format!("    help: {help}\n"));
        }
    }
    out
}

fn load_fixture(path: &Path) -> Loaded {
    let text = std::fs::read_to_string(path).expect("fixture");
    let stack = path
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();
    // Relative paths keep the rendered messages independent of the checkout location.
    let shown = Path::new("crds/tests/rules").join(path.file_name().expect("name"));
    let source = Source {
        stack,
        path: path.to_path_buf(),
        text,
    };
    let vars: BTreeMap<String, String> = BTreeMap::new();
    let mut loaded = load::load(source, &vars, &Disk);
    for d in &mut loaded.diagnostics {
        d.file.clone_from(&shown);
        d.message = d
            .message
            .replace(&rules_dir().display().to_string(), "crds/tests/rules");
    }
    loaded
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .expect("rules dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_matches_its_expected_findings() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for path in fixtures() {
        let got = render(&load_fixture(&path).diagnostics);
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).expect("write expected");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_golden_fixture() {
    let mut seen = BTreeSet::new();
    for path in fixtures() {
        for d in load_fixture(&path).diagnostics {
            seen.insert(d.rule);
        }
    }
    // Rules that need several stacks or a file name are covered in `cross_stack.rs`.
    let elsewhere = ["port-conflict", "duplicate-stack", "invalid-stack-name"];
    let missing: Vec<&str> = crds::lint::RULES
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !seen.contains(id) && !elsewhere.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a golden fixture: {missing:?}"
    );
}

#[test]
fn every_reported_rule_is_documented() {
    let documented: BTreeSet<&str> = crds::lint::RULES.iter().map(|(id, _)| *id).collect();
    for path in fixtures() {
        for d in load_fixture(&path).diagnostics {
            assert!(
                documented.contains(d.rule),
                "{} reports undocumented rule {}",
                path.display(),
                d.rule
            );
        }
    }
}

#[test]
fn every_rule_is_listed_in_the_readme() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    for (id, _) in crds::lint::RULES {
        assert!(
            readme.contains(&format!("| `{id}` |")),
            "README.md's rule table lacks `{id}`"
        );
    }
}
