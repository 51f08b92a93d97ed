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
            search(path, &mut found)?;
        }
    }
    Ok(found)
}

fn search(dir: &Path, found: &mut Vec<Found>) -> Result<(), Error> {
    if let Some(file) = compose_file_in(dir) {
        found.push(Found {
            stack: stack_name(&file),
            path: file,
        });
        return Ok(());
    }
    let unreadable = |source| Error::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') || name == CONFIG_FILE_NAME {
            continue;
        }
        if entry.is_dir() {
            search(&entry, found)?;
        } else if is_yaml(&entry) {
            found.push(Found {
                stack: stem(&entry),
                path: entry,
            });
        }
    }
    Ok(())
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
