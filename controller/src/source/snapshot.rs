//! An immutable, in-memory copy of the files under a source's path.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crds::load::Files;
use crds::revision::{RevisionInfo, RevisionOrigin};
use sha2::{Digest, Sha256};

/// Largest single file read into a snapshot.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest total size of a snapshot.
pub const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;

/// The files of one revision of the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Which revision this is.
    pub revision: RevisionInfo,
    /// File contents by path relative to the source's path, `/`-separated.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading a file or directory failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file or the whole tree is larger than the limits.
    #[error("{path} is too large ({bytes} bytes; the limit is {limit})")]
    TooLarge {
        /// The file, or the root for the total.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The limit it broke.
        limit: u64,
    },
}

impl Snapshot {
    /// The files of directory `path` as one revision, named by their content hash.
    pub fn of_directory(path: &Path, files: BTreeMap<PathBuf, Vec<u8>>) -> Self {
        Snapshot {
            revision: RevisionInfo {
                id: Snapshot::content_hash(&files),
                origin: RevisionOrigin::Directory {
                    path: path.display().to_string(),
                },
                author: None,
                message: None,
                time_ms: None,
            },
            files,
        }
    }

    /// SHA-256 over every path and content, in path order: the id of a directory revision.
    pub fn content_hash(files: &BTreeMap<PathBuf, Vec<u8>>) -> String {
        let mut hasher = Sha256::new();
        for (path, content) in files {
            let p = path.to_string_lossy();
            hasher.update((p.len() as u64).to_le_bytes());
            hasher.update(p.as_bytes());
            hasher.update((content.len() as u64).to_le_bytes());
            hasher.update(content);
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Read every regular file under `root` (skipping hidden entries such as `.git`).
    pub fn read_dir(root: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>, SnapshotError> {
        let mut files = BTreeMap::new();
        let mut total = 0u64;
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let read = |source| SnapshotError::Read {
                path: dir.clone(),
                source,
            };
            for entry in std::fs::read_dir(&dir).map_err(read)? {
                let entry = entry.map_err(read)?;
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') && name != ".env" {
                    continue;
                }
                let path = entry.path();
                let kind = entry.file_type().map_err(read)?;
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
                    let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                    let bytes = read_limited(&path, &mut total)?;
                    files.insert(rel, bytes);
                }
            }
        }
        Ok(files)
    }

    /// The sorted relative paths.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.keys().cloned().collect()
    }

    /// A file's text, if it exists and is UTF-8.
    pub fn text(&self, path: &Path) -> Option<&str> {
        self.files
            .get(path)
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

fn read_limited(path: &Path, total: &mut u64) -> Result<Vec<u8>, SnapshotError> {
    let read = |source| SnapshotError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_FILE_BYTES {
        return Err(SnapshotError::TooLarge {
            path: path.to_path_buf(),
            bytes: len,
            limit: MAX_FILE_BYTES,
        });
    }
    *total += len;
    if *total > MAX_TOTAL_BYTES {
        return Err(SnapshotError::TooLarge {
            path: path.to_path_buf(),
            bytes: *total,
            limit: MAX_TOTAL_BYTES,
        });
    }
    std::fs::read(path).map_err(read)
}

/// `crds` reads `env_file`s and config files through this: paths are relative to the snapshot.
impl Files for Snapshot {
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = self
            .files
            .get(&normalize(path))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.display().to_string()))?;
        String::from_utf8(bytes.clone()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(path))
    }
}

/// Resolve `.` and `..` lexically, as paths inside a snapshot never touch the disk.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}
