//! Stack files → loaded, linted stacks and the desired state they describe.
//!
//! The same steps serve `reconciler lint DIR` (files on disk) and revisions from a source
//! (files in a [`Snapshot`]): find the stacks, load each with its variables, run the
//! cross-stack rules, and — when nothing is an error — normalise them into a [`DesiredState`].

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use crds::diagnostic::{Diagnostic, Finding, Severity};
use crds::interpolate::{ProcessEnv, Variables};
use crds::load::{self, Files, Loaded, Source};
use crds::repo_config::{self, RepoConfig};
use crds::stack::{self, Stack};

use crate::discover::{self, Found};
use crate::source::Snapshot;

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// Every stack of one tree, loaded and linted together.
#[derive(Debug, Clone, Default)]
pub struct Loadset {
    /// Per-file results, in discovery order.
    pub stacks: Vec<Loaded>,
    /// Findings of all files (per-file and cross-stack), sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Variables each stack was loaded with (shell variables, then `.env`).
    pub vars: Vec<BTreeMap<String, String>>,
}

/// What a tree of stack files asks the cluster to run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct DesiredState {
    /// Stacks by name.
    pub stacks: BTreeMap<String, Stack>,
}

impl Loadset {
    /// Number of error findings.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warning findings.
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// Source texts by path, for rendering snippets.
    pub fn sources(&self) -> HashMap<PathBuf, String> {
        self.stacks
            .iter()
            .map(|s| (s.source.path.clone(), s.source.text.clone()))
            .collect()
    }

    /// Findings in storable form.
    pub fn findings(&self) -> Vec<Finding> {
        self.diagnostics.iter().map(Finding::from).collect()
    }

    /// The desired state, when no finding is an error.
    pub fn desired(&self, files: &dyn Files) -> Option<DesiredState> {
        if self.errors() > 0 {
            return None;
        }
        let mut stacks = BTreeMap::new();
        for (loaded, vars) in self.stacks.iter().zip(&self.vars) {
            let file = loaded.file.as_ref()?;
            let inputs = stack::Inputs {
                source: &loaded.source,
                vars,
                files,
            };
            let normalized = stack::normalize(file, &inputs);
            stacks.insert(normalized.name.clone(), normalized);
        }
        Some(DesiredState { stacks })
    }
}

/// Variables for one stack: `shell` wins over the `.env` file beside the stack.
fn stack_vars(
    found: &Found,
    files: &dyn Files,
    shell: &dyn Variables,
    out: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let dir = found.path.parent().unwrap_or_else(|| Path::new(""));
    let env_path = dir.join(".env");
    let mut vars = BTreeMap::new();
    if let Ok(text) = files.read(&env_path) {
        match crds::dotenv::parse(&text, shell) {
            Ok(entries) => {
                vars.extend(entries.into_iter().filter_map(|e| Some((e.name, e.value?))))
            }
            Err(e) => out.push(
                Diagnostic::error("invalid-env-file", e.to_string())
                    .in_file(&env_path)
                    .at(crds::diagnostic::Span::point(crds::diagnostic::Pos {
                        line: e.line(),
                        col: e.col(),
                        offset: 0,
                    }))
                    .with_help("`.env` holds `NAME=value` lines; quote values with spaces or `#`"),
            ),
        }
    }
    for key in vars.keys().cloned().collect::<Vec<_>>() {
        if let Some(v) = shell.get(&key) {
            vars.insert(key, v);
        }
    }
    vars
}

/// A layered lookup: the stack's own variables first, then the `.env`-derived ones.
struct Layered<'a> {
    shell: &'a dyn Variables,
    file: &'a BTreeMap<String, String>,
}

impl Variables for Layered<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.shell
            .get(name)
            .or_else(|| self.file.get(name).cloned())
    }
}

/// Load the found stacks, reading through `files`; `shell_for` gives each stack's shell variables.
pub fn load_found(
    found: &[Found],
    files: &dyn Files,
    shell_for: &dyn Fn(&str) -> Box<dyn Variables>,
) -> Loadset {
    let mut set = Loadset::default();
    let mut extra = Vec::new();
    for f in found {
        let shell = shell_for(&f.stack);
        let file_vars = stack_vars(f, files, shell.as_ref(), &mut extra);
        let layered = Layered {
            shell: shell.as_ref(),
            file: &file_vars,
        };
        let loaded = match files.read(&f.path) {
            Ok(text) => load::load(
                Source {
                    stack: f.stack.clone(),
                    path: f.path.clone(),
                    text,
                },
                &layered,
                files,
            ),
            Err(e) => {
                extra.push(
                    Diagnostic::error(
                        "unreadable-file",
                        format!("cannot read the stack file: {e}"),
                    )
                    .in_file(&f.path)
                    .with_help("stack files must be UTF-8 text"),
                );
                continue;
            }
        };
        // Later steps (normalisation) see exactly what interpolation saw.
        let mut effective = file_vars.clone();
        for key in referenced_names(&loaded) {
            if let Some(v) = layered.get(&key) {
                effective.insert(key, v);
            }
        }
        set.stacks.push(loaded);
        set.vars.push(effective);
    }
    extra.extend(crds::lint::lint_stacks(&set.stacks));
    set.diagnostics = sorted(
        found,
        set.stacks
            .iter()
            .flat_map(|s| s.diagnostics.iter().cloned())
            .chain(extra)
            .collect(),
    );
    set
}

/// Variables normalisation looks up by name: bare `KEY` environment entries and the
/// `environment:` source of configs and secrets.
fn referenced_names(loaded: &Loaded) -> Vec<String> {
    let Some(file) = &loaded.file else {
        return Vec::new();
    };
    let bare = file
        .services
        .values()
        .filter_map(|s| s.environment.as_ref())
        .flat_map(|e| e.entries('='))
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k);
    let objects = file
        .configs
        .values()
        .chain(file.secrets.values())
        .filter_map(|o| o.environment.clone());
    bare.chain(objects).collect()
}

fn sorted(found: &[Found], mut all: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let order: HashMap<PathBuf, usize> = found
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.clone(), i))
        .collect();
    all.sort_by_key(|d| {
        (
            order.get(&d.file).copied().unwrap_or(usize::MAX),
            d.span.map(|s| (s.start.line, s.start.col)),
        )
    });
    all.dedup();
    all
}

/// Errors that stop loading altogether (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The paths could not be searched.
    #[error(transparent)]
    Discover(#[from] discover::Error),
    /// Nothing to do.
    #[error("no stack files found under {0}")]
    NoStacks(String),
    /// A directory with `reconciler.yaml` could not be read.
    #[error(transparent)]
    Snapshot(crate::source::SnapshotError),
}

/// Discover, load and lint every stack under `paths` on disk, with the process environment.
///
/// A directory with a `reconciler.yaml` at its root is evaluated exactly as a manager following
/// it would (its stack list and variables apply), so CI lints what will be deployed.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loadset, Error> {
    let (configured, plain): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
        .iter()
        .partition(|p| p.join(repo_config::FILE_NAME).is_file());
    let plain: Vec<PathBuf> = plain.into_iter().cloned().collect();
    let found = discover::discover(&plain)?;
    let mut set = if found.is_empty() {
        Loadset::default()
    } else {
        load_found(&found, &DiskFiles, &|_| Box::new(ProcessEnv))
    };
    for dir in configured {
        set.append(load_configured_dir(dir)?);
    }
    if set.stacks.is_empty() && set.diagnostics.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::NoStacks(shown.join(", ")));
    }
    Ok(set)
}

/// A directory holding `reconciler.yaml`, read whole like a revision; paths in findings and
/// sources are made relative to the current directory again.
fn load_configured_dir(dir: &Path) -> Result<Loadset, Error> {
    let files = Snapshot::read_dir(dir).map_err(Error::Snapshot)?;
    let snapshot = Snapshot::of_directory(dir, files);
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let root_name = root
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut set = load_snapshot(&snapshot, &root_name);
    for d in &mut set.diagnostics {
        d.file = dir.join(&d.file);
    }
    for s in &mut set.stacks {
        s.source.path = dir.join(&s.source.path);
        for d in &mut s.diagnostics {
            d.file = dir.join(&d.file);
        }
    }
    Ok(set)
}

impl Loadset {
    /// Add another set's stacks and findings (for several paths linted together).
    fn append(&mut self, other: Loadset) {
        self.stacks.extend(other.stacks);
        self.vars.extend(other.vars);
        self.diagnostics.extend(other.diagnostics);
    }
}

/// Stacks of a snapshot: `reconciler.yaml`'s list when it has one, else discovery.
/// Problems with `reconciler.yaml` itself are findings too.
pub fn load_snapshot(snapshot: &Snapshot, root_name: &str) -> Loadset {
    let mut config_findings = Vec::new();
    let config = match snapshot.text(Path::new(repo_config::FILE_NAME)) {
        None => RepoConfig::default(),
        Some(text) => repo_config::parse(text).unwrap_or_else(|errors| {
            config_findings.extend(
                errors
                    .into_iter()
                    .map(|d| d.in_file(repo_config::FILE_NAME)),
            );
            RepoConfig::default()
        }),
    };
    let found = match &config.stacks {
        Some(list) => list
            .iter()
            .map(|(name, entry)| Found {
                stack: name.clone(),
                path: crds::load::resolve(Path::new(""), &entry.file),
            })
            .collect(),
        None => discover::discover_in(&snapshot.paths())
            .into_iter()
            .map(|f| Found {
                stack: if f.stack.is_empty() {
                    root_name.to_owned()
                } else {
                    f.stack
                },
                path: f.path,
            })
            .collect::<Vec<_>>(),
    };
    let shell_for =
        |stack: &str| -> Box<dyn Variables> { Box::new((config.variables_for(stack), ProcessEnv)) };
    let mut set = load_found(&found, snapshot, &shell_for);
    for f in &found {
        if !snapshot.exists(&f.path) {
            set.diagnostics.push(
                Diagnostic::error(
                    "missing-file",
                    format!(
                        "stack `{}` lists `{}`, which does not exist",
                        f.stack,
                        f.path.display()
                    ),
                )
                .in_file(repo_config::FILE_NAME)
                .with_help("fix the path in reconciler.yaml (paths are relative to it)"),
            );
        }
    }
    set.diagnostics.splice(0..0, config_findings);
    set
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn snapshot(files: &[(&str, &str)]) -> Snapshot {
        let files: BTreeMap<PathBuf, Vec<u8>> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
            .collect();
        Snapshot::of_directory(Path::new("test"), files)
    }

    #[test]
    fn reconciler_yaml_lists_stacks_and_sets_their_variables() {
        let snap = snapshot(&[
            (
                "reconciler.yaml",
                "variables: {TAG: global}\nstacks:\n  shop:\n    file: apps/shop.yml\n    variables: {TAG: mine}\n  blog:\n    file: apps/blog.yml\n",
            ),
            (
                "apps/shop.yml",
                "services:\n  web:\n    image: nginx:${TAG}\n",
            ),
            (
                "apps/blog.yml",
                "services:\n  app:\n    image: ghost:${TAG}\n",
            ),
            ("apps/ignored.yml", "services:\n  x:\n    image: x\n"),
        ]);
        let set = load_snapshot(&snap, "root");
        assert_eq!(set.errors(), 0, "{:?}", set.diagnostics);
        let desired = set.desired(&snap).expect("valid");
        assert_eq!(
            desired.stacks.keys().collect::<Vec<_>>(),
            vec!["blog", "shop"]
        );
        assert_eq!(
            desired.stacks["shop"].services["shop_web"].image,
            "nginx:mine"
        );
        assert_eq!(
            desired.stacks["blog"].services["blog_app"].image,
            "ghost:global"
        );
    }

    #[test]
    fn a_listed_file_that_does_not_exist_and_a_broken_config_are_findings() {
        let missing = load_snapshot(
            &snapshot(&[("reconciler.yaml", "stacks:\n  shop:\n    file: nope.yml\n")]),
            "root",
        );
        assert!(
            missing
                .diagnostics
                .iter()
                .any(|d| d.rule == "missing-file" && d.message.contains("nope.yml")),
            "{:?}",
            missing.diagnostics
        );
        let broken = load_snapshot(
            &snapshot(&[
                ("reconciler.yaml", "stacks: [\n"),
                ("web.yml", "services:\n  web:\n    image: x\n"),
            ]),
            "root",
        );
        let first = broken.diagnostics.first().expect("a finding");
        assert_eq!(
            (first.file.display().to_string(), first.rule),
            ("reconciler.yaml".to_owned(), "yaml-syntax")
        );
    }

    #[test]
    fn without_reconciler_yaml_stacks_are_discovered_and_a_root_compose_file_takes_the_root_name() {
        let set = load_snapshot(
            &snapshot(&[
                ("compose.yaml", "services:\n  web:\n    image: x\n"),
                (".env", "A=1\n"),
            ]),
            "myrepo",
        );
        let desired = set.desired(&snapshot(&[])).expect("valid");
        assert_eq!(desired.stacks.keys().collect::<Vec<_>>(), vec!["myrepo"]);
    }
}
