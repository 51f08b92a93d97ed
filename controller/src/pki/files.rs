//! Reading and writing PEM files. Private keys are written with mode 0600 from the moment the
//! file exists, and every write goes through a temporary file and a rename so a crash never
//! leaves a half-written certificate or key behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// File name of the cluster CA certificate.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the cluster CA private key (managers only).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// File name of a node's certificate.
pub const NODE_CERT_FILE: &str = "node.pem";
/// File name of a node's private key.
pub const NODE_KEY_FILE: &str = "node-key.pem";

/// Who may read a file once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Certificates: world-readable (0644) is fine, they are public.
    Public,
    /// Private keys: owner only (0600).
    Private,
}

impl Access {
    fn mode(self) -> u32 {
        match self {
            Access::Public => 0o644,
            Access::Private => 0o600,
        }
    }
}

/// Reads a whole text file, naming the path in the error.
pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::ReadFailed {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path` atomically with the permissions `access` asks for.
pub(crate) fn write(path: &Path, contents: &str, access: Access) -> Result<()> {
    let tmp = temp_path(path);
    let fail = |source| Error::WriteFailed {
        path: path.to_path_buf(),
        source,
    };
    // A temporary file left by a crash would make `create_new` fail forever.
    let _ = fs::remove_file(&tmp);
    let result = write_new(&tmp, contents.as_bytes(), access)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(fail);
    if result.is_err() {
        // Best effort: a stale temporary key file must not stay around; the write error is the
        // one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` (which must not exist) with the final mode already set, so a key is never
/// readable by others even for an instant, then writes and syncs it.
fn write_new(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(access.mode());
    let mut file: File = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    set_mode(path, access)
}

/// The umask may have cleared bits of the requested mode; set it exactly.
#[cfg(unix)]
fn set_mode(path: &Path, access: Access) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(access.mode()))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _access: Access) -> std::io::Result<()> {
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}
