//! Files only the node's own user may read: the data directory and everything the node writes
//! into it. The data directory holds the Raft store (the cluster CA's key and the join-token
//! secrets), the node's private key and the Git cache with its credentials, so another local
//! user who can read any of it can take over the cluster.
//!
//! Directories are created 0700 and files 0600 from the moment they exist (never loosened and
//! then chmod-ed), and [`secure_data_dir`] checks a directory an older version or an operator
//! left looser at start-up, tightening it and saying what it changed — as ssh does with its
//! keys, except that a fix-up is kinder to an upgrade than a refusal.
//!
//! The Git cache's inner files keep libgit2's own modes: the cache sits in a 0700 directory, so
//! no other user can reach them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Mode of every directory the node creates in its data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the node writes.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and its missing parents as 0700 directories; an existing one is left as is
/// ([`secure_data_dir`] checks it at start-up).
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Opens `path` for writing as a 0600 file, creating it (with that mode) when absent. An
/// existing file keeps its contents and its mode.
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path)
}

/// Writes `bytes` to `path` atomically: a new 0600 temporary file, fsync, rename, then a
/// best-effort fsync of the directory. A crash leaves the old contents or the new, never half,
/// and the contents are never readable by others, not even for an instant.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    // A temporary file left by a crash would make `create_new` fail forever.
    let _ = fs::remove_file(&tmp);
    let result = write_new(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // A stale temporary copy of a key must not stay around; the write error is the one
        // worth reporting.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// A path [`secure_data_dir`] found looser than the node writes it, and tightened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    /// The file or directory.
    pub path: PathBuf,
    /// Its permission bits before.
    pub was: u32,
    /// Its permission bits now.
    pub now: u32,
}

impl std::fmt::Display for Tightened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} was {:04o}, now {:04o}",
            self.path.display(),
            self.was,
            self.now
        )
    }
}

/// Makes `data_dir` and what the node keeps in it private again: the directory itself and every
/// directory directly in it 0700, every file directly in it and in the sub-directories named
/// in `deep` (the node's `pki/`) 0600, at any depth. Returns
/// what it had to tighten (empty for a directory the node created itself). Symbolic links are
/// not followed: their targets belong to whoever made them.
#[cfg(unix)]
pub fn secure_data_dir(data_dir: &Path, deep: &[&str]) -> io::Result<Vec<Tightened>> {
    let mut tightened = Vec::new();
    tighten(data_dir, DIR_MODE, &mut tightened)?;
    for entry in fs::read_dir(data_dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tighten(&entry.path(), DIR_MODE, &mut tightened)?;
            if deep.iter().any(|d| entry.file_name() == *d) {
                tighten_files_in(&entry.path(), &mut tightened)?;
            }
        } else if kind.is_file() {
            tighten(&entry.path(), FILE_MODE, &mut tightened)?;
        }
    }
    Ok(tightened)
}

/// On systems without Unix permissions there is nothing to check.
#[cfg(not(unix))]
pub fn secure_data_dir(_data_dir: &Path, _deep: &[&str]) -> io::Result<Vec<Tightened>> {
    Ok(Vec::new())
}

#[cfg(unix)]
fn tighten_files_in(dir: &Path, tightened: &mut Vec<Tightened>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_file() {
            tighten(&entry.path(), FILE_MODE, tightened)?;
        } else if kind.is_dir() {
            tighten(&entry.path(), DIR_MODE, tightened)?;
            tighten_files_in(&entry.path(), tightened)?;
        }
    }
    Ok(())
}

/// Clears every permission bit `allowed` does not have; bits the owner lacks stay cleared.
#[cfg(unix)]
fn tighten(path: &Path, allowed: u32, tightened: &mut Vec<Tightened>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let was = fs::symlink_metadata(path)?.permissions().mode() & 0o7777;
    let now = was & allowed;
    if now != was {
        fs::set_permissions(path, fs::Permissions::from_mode(now))?;
        tightened.push(Tightened {
            path: path.to_owned(),
            was,
            now,
        });
    }
    Ok(())
}

#[cfg(all(test, unix))]
#[path = "private_files_test.rs"]
mod tests;
