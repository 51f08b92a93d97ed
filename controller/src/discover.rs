//! Finding stack files under the paths a user gives.
//!
//! The rule (also in the README):
//! - a `*.yml`/`*.yaml` file given directly is a stack named after the file, except that
//!   `compose.yaml`, `docker-compose.yml`, `stack.yaml` and friends take their directory's name;
//! - a directory holding one of those compose file names is one stack, named after the directory,
//!   and nothing else inside it is scanned (other YAML there is config data, not stacks);
//! - any other directory is searched: its `*.yml`/`*.yaml` files are stacks named after the file,
//!   its sub-directories are searched by the same rule; hidden entries, `.env` files and
//!   `reconciler.yaml` are skipped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// File names that make a directory a stack, in order of preference.
pub const COMPOSE_FILE_NAMES: &[&str] = &[
    "stack.yaml",
    "stack.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The file at the root of a desired-state tree that configures it, never a stack itself.
pub const CONFIG_FILE_NAME: &str = "reconciler.yaml";

/// A stack file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Stack name derived from the path (validated later by lint).
    pub stack: String,
    /// Path of the compose file.
    pub path: PathBuf,
}

/// Errors finding stacks: the paths themselves are wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path given on the command line does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file given on the command line is not YAML.
    #[error("{path} is not a stack file: expected a .yml or .yaml file or a directory")]
    NotYaml {
        /// The path.
        path: PathBuf,
    },
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The stack name for a compose file path.
pub fn stack_name(path: &Path) -> String {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if COMPOSE_FILE_NAMES.contains(&file_name) {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        let dir = dir.and_then(|d| fs::canonicalize(&d).ok().or(Some(d)));
        if let Some(name) = dir.as_deref().and_then(Path::file_name) {
            return name.to_string_lossy().into_owned();
        }
        if let Ok(cwd) = std::env::current_dir()
            && let Some(name) = cwd.file_name()
        {
            return name.to_string_lossy().into_owned();
        }
    }
    stem(path)
}

/// The compose file that makes `dir` a stack, if any.
pub fn compose_file_in(dir: &Path) -> Option<PathBuf> {
    COMPOSE_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Find every stack under `paths`, in a stable (sorted) order.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Found>, Error> {
    let mut found = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| Error::Unreadable {
            path: path.clone(),
            source,
        })?;
        if meta.is_file() {
            if !is_yaml(path) {
                return Err(Error::NotYaml { path: path.clone() });
            }
            found.push(Found {
                stack: stack_name(path),
                path: path.clone(),
            });
        } else {
            let files = list_files(path)?;
            found.extend(discover_in(&files).into_iter().map(|f| Found {
                // Name the stack after the real directory, which the relative path may not show.
                stack: if f.path.parent().is_some_and(|p| p.as_os_str().is_empty())
                    && is_compose_file(&f.path)
                {
                    stack_name(&path.join(&f.path))
                } else {
                    f.stack
                },
                path: path.join(&f.path),
            }));
        }
    }
    Ok(found)
}

/// Every file under `root`, relative to it, skipping hidden entries (`.git`…) except `.env`.
fn list_files(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let unreadable = |source| Error::Unreadable {
            path: dir.clone(),
            source,
        };
        for entry in fs::read_dir(&dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name != ".env" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    files.sort();
    Ok(files)
}

fn is_compose_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| COMPOSE_FILE_NAMES.contains(&n))
}

/// Apply the discovery rule to a list of relative file paths (a directory listing or a snapshot).
pub fn discover_in(files: &[PathBuf]) -> Vec<Found> {
    use std::collections::BTreeMap;
    let mut by_dir: BTreeMap<PathBuf, Vec<&Path>> = BTreeMap::new();
    for f in files {
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        by_dir.entry(dir).or_default().push(f);
    }
    // Directories that are stacks (hold a compose file); everything below them is theirs.
    let mut stack_dirs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (dir, entries) in &by_dir {
        let compose = COMPOSE_FILE_NAMES.iter().find_map(|name| {
            entries
                .iter()
                .find(|e| e.file_name().is_some_and(|n| n == *name))
        });
        if let Some(file) = compose {
            stack_dirs.push((dir.clone(), file.to_path_buf()));
        }
    }
    let inside_stack = |p: &Path| stack_dirs.iter().any(|(d, _)| p.starts_with(d));
    let mut found = Vec::new();
    for (dir, file) in &stack_dirs {
        if stack_dirs
            .iter()
            .any(|(other, _)| other != dir && dir.starts_with(other))
        {
            continue;
        }
        let stack = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        found.push(Found {
            stack,
            path: file.clone(),
        });
    }
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !is_yaml(f) || name == CONFIG_FILE_NAME || inside_stack(f) {
            continue;
        }
        found.push(Found {
            stack: stem(f),
            path: f.clone(),
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, "services: {}\n").expect("write");
    }

    #[test]
    fn discovery_follows_the_documented_rule() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        touch(&root.join("web.yml"));
        touch(&root.join("shop/compose.yaml"));
        touch(&root.join("shop/prometheus.yml"));
        touch(&root.join("team/api.yaml"));
        touch(&root.join("team/db/docker-compose.yml"));
        touch(&root.join(".hidden/x.yml"));
        touch(&root.join(CONFIG_FILE_NAME));
        fs::write(root.join("notes.txt"), "x").expect("write");
        let found = discover(&[root.to_path_buf()]).expect("discover");
        let names: Vec<_> = found.iter().map(|f| f.stack.as_str()).collect();
        assert_eq!(names, vec!["shop", "api", "db", "web"]);
    }

    #[test]
    fn the_rule_on_a_path_list_matches_the_disk() {
        let paths: Vec<PathBuf> = [
            "a.yml",
            "b/compose.yaml",
            "b/c.yml",
            "b/d/compose.yaml",
            "e/f.yaml",
            "e/g/h.yml",
            "reconciler.yaml",
            "notes.md",
            "e/.env",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let found: Vec<(String, String)> = discover_in(&paths)
            .into_iter()
            .map(|f| (f.stack, f.path.display().to_string()))
            .collect();
        let want = [
            ("a", "a.yml"),
            ("b", "b/compose.yaml"),
            ("f", "e/f.yaml"),
            ("h", "e/g/h.yml"),
        ];
        assert_eq!(
            found,
            want.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        );
        let root = discover_in(&[PathBuf::from("compose.yaml"), PathBuf::from("x/y.yml")]);
        assert_eq!(
            root.len(),
            1,
            "a compose file at the root makes the whole tree one stack"
        );
    }

    #[test]
    fn files_given_directly() {
        let tmp = tempfile::tempdir().expect("tempdir");
        touch(&tmp.path().join("app/compose.yaml"));
        touch(&tmp.path().join("x.yaml"));
        let found = discover(&[
            tmp.path().join("app/compose.yaml"),
            tmp.path().join("x.yaml"),
        ])
        .expect("discover");
        assert_eq!(found[0].stack, "app");
        assert_eq!(found[1].stack, "x");
        fs::write(tmp.path().join("a.txt"), "").expect("write");
        assert!(matches!(
            discover(&[tmp.path().join("a.txt")]),
            Err(Error::NotYaml { .. })
        ));
        assert!(matches!(
            discover(&[tmp.path().join("missing")]),
            Err(Error::Unreadable { .. })
        ));
    }
}
