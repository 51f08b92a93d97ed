//! Reading and writing PEM files. Every file is written with mode 0600 from the moment it
//! exists, through a temporary file and a rename so a crash never leaves a half-written
//! certificate or key behind.

use std::fs;
use std::path::Path;

use super::error::{Error, Result};

/// File name of the cluster CA certificate.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the cluster CA private key (managers only).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// File name of a node's certificate.
pub const NODE_CERT_FILE: &str = "node.pem";
/// File name of a node's private key.
pub const NODE_KEY_FILE: &str = "node-key.pem";

/// Reads a whole text file, naming the path in the error.
pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::ReadFailed {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path` atomically, owner-only (0600) from the moment the file exists.
/// Certificates are public, but they sit beside the keys in a private directory: every file the
/// node writes is 0600 (see [`crate::private_files`]).
pub(crate) fn write(path: &Path, contents: &str) -> Result<()> {
    crate::private_files::write_atomic(path, contents.as_bytes()).map_err(|source| {
        Error::WriteFailed {
            path: path.to_path_buf(),
            source,
        }
    })
}
