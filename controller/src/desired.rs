//! Stack files on disk → loaded stacks with every finding (the IO around `crds::load`).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use crds::diagnostic::{Diagnostic, Severity};
use crds::interpolate::{ProcessEnv, Variables};
use crds::load::{self, Files, Loaded, Source};
use crds::stack::{self, Stack};

use crate::discover::{self, Found};

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

/// Every stack found under some paths, loaded and linted together.
#[derive(Debug, Clone, Default)]
pub struct Loadset {
    /// Per-file results, in discovery order.
    pub stacks: Vec<Loaded>,
    /// Findings of all files (per-file and cross-stack), sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Variables each stack was interpolated with (process env over `.env`).
    pub vars: Vec<BTreeMap<String, String>>,
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

    /// The normalised stacks (only meaningful without errors).
    pub fn normalized(&self) -> Vec<Stack> {
        self.stacks
            .iter()
            .zip(&self.vars)
            .filter_map(|(loaded, vars)| {
                let file = loaded.file.as_ref()?;
                let layered = (ProcessEnv, vars);
                let inputs = stack::Inputs {
                    source: &loaded.source,
                    vars: &layered,
                    files: &DiskFiles,
                };
                Some(stack::normalize(file, &inputs))
            })
            .collect()
    }
}

/// Read `.env` beside a stack into variables; a broken `.env` becomes a finding.
fn dotenv_beside(path: &Path, out: &mut Vec<Diagnostic>) -> BTreeMap<String, String> {
    let env_path = path.parent().unwrap_or_else(|| Path::new("")).join(".env");
    let Ok(text) = std::fs::read_to_string(&env_path) else {
        return BTreeMap::new();
    };
    match crds::dotenv::parse(&text, &ProcessEnv) {
        Ok(entries) => entries
            .into_iter()
            .filter_map(|e| Some((e.name, e.value?)))
            .collect(),
        Err(e) => {
            let pos = crds::diagnostic::Pos {
                line: e.line(),
                col: e.col(),
                offset: 0,
            };
            out.push(
                Diagnostic::error("invalid-env-file", e.to_string())
                    .in_file(&env_path)
                    .at(crds::diagnostic::Span::point(pos))
                    .with_help("`.env` holds `NAME=value` lines; quote values with spaces or `#`"),
            );
            BTreeMap::new()
        }
    }
}

/// Load one found stack file.
pub fn load_found(
    found: &Found,
    out: &mut Vec<Diagnostic>,
) -> io::Result<(Loaded, BTreeMap<String, String>)> {
    let text = std::fs::read_to_string(&found.path)?;
    let dotenv = dotenv_beside(&found.path, out);
    let vars = (ProcessEnv, &dotenv);
    let source = Source {
        stack: found.stack.clone(),
        path: found.path.clone(),
        text,
    };
    Ok((
        load::load(source, &vars as &dyn Variables, &DiskFiles),
        dotenv,
    ))
}

/// Errors that stop loading altogether (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The paths could not be searched.
    #[error(transparent)]
    Discover(#[from] discover::Error),
    /// A stack file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Nothing to do.
    #[error("no stack files found under {0}")]
    NoStacks(String),
}

/// Discover, load and lint every stack under `paths`.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loadset, Error> {
    let found = discover::discover(paths)?;
    if found.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::NoStacks(shown.join(", ")));
    }
    let mut set = Loadset::default();
    let mut extra = Vec::new();
    for f in &found {
        let (loaded, vars) = load_found(f, &mut extra).map_err(|source| Error::Read {
            path: f.path.clone(),
            source,
        })?;
        set.stacks.push(loaded);
        set.vars.push(vars);
    }
    extra.extend(crds::lint::lint_stacks(&set.stacks));
    let mut all: Vec<Diagnostic> = set
        .stacks
        .iter()
        .flat_map(|s| s.diagnostics.iter().cloned())
        .collect();
    all.extend(extra);
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
    set.diagnostics = all;
    Ok(set)
}
