//! The data directory of a node: who it is (`node.json`) and its certificates (`pki/`).
//!
//! ```text
//! <data dir>/              0700, every file in it 0600 (crate::private_files)
//! <data dir>/node.json     NodeConfig: node id, Raft id, role, addresses, known managers
//! <data dir>/pki/          ca.pem, node.pem, node-key.pem
//! <data dir>/settings.json listen and advertise addresses, remembered (super::settings)
//! <data dir>/raft.redb     managers only: the Raft log and state, sealed (crate::raft)
//! <data dir>/raft.key      managers without autolock: the store's unlock key
//! <data dir>/unlock.sock   while a manager under autolock waits for `reconciler unlock`
//! ```
//! `node.json` is written last when a node initialises or joins, so a directory without it holds
//! no cluster membership; one with `pki/` or `raft.redb` but no `node.json` is a start that was
//! interrupted, and is refused rather than guessed at.

use std::path::{Path, PathBuf};

use crds::node::NodeRole;
use serde::{Deserialize, Serialize};

use crate::pki::{CaCert, NodeCert};

/// File name of the node's identity.
pub const NODE_FILE: &str = "node.json";
/// Directory of the node's certificates.
pub const PKI_DIR: &str = "pki";

/// Errors reading or writing the node's files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `node.json` is not what this version writes.
    #[error("{path} is corrupt ({source}); restore it or remove the data directory and join again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Certificates are missing or damaged.
    #[error("the node's certificates in {dir} cannot be used: {source}")]
    Pki {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: crate::pki::Error,
    },
    /// Cluster files exist but `node.json` does not.
    #[error(
        "{dir} holds cluster files ({found}) but no {NODE_FILE}: an earlier start or join was \
         interrupted; remove the data directory to start over"
    )]
    Interrupted {
        /// The data directory.
        dir: PathBuf,
        /// What was found.
        found: String,
    },
}

/// Who this node is, as it remembers across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The node id (also in its certificate).
    pub node_id: String,
    /// The Raft member id it votes with as a manager.
    pub raft_id: u64,
    /// The cluster it belongs to.
    pub cluster_id: String,
    /// The role its certificate grants.
    pub role: NodeRole,
    /// Hostname reported to the cluster.
    pub hostname: String,
    /// `ip:port` other nodes and the CLI dial (managers: the API and Raft endpoint).
    pub api_addr: String,
    /// API addresses of the managers, as last heard; a restarting worker dials these.
    #[serde(default)]
    pub managers: Vec<String>,
}

impl NodeConfig {
    /// Reads `node.json` from `data_dir`: `None` when the node has never joined a cluster.
    pub fn load(data_dir: &Path) -> Result<Option<NodeConfig>, Error> {
        match read_json(&data_dir.join(NODE_FILE))? {
            Some(config) => Ok(Some(config)),
            None => check_no_leftovers(data_dir).map(|()| None),
        }
    }

    /// Writes `node.json` atomically (temporary file, fsync, rename), owner-only.
    pub fn save(&self, data_dir: &Path) -> Result<(), Error> {
        write_json(&data_dir.join(NODE_FILE), self)
    }
}

/// A JSON file of the data directory, decoded: `None` when it does not exist.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Corrupt {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `value` as JSON to `path` atomically (temporary file, fsync, rename), owner-only.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_vec_pretty(value).map_err(|source| Error::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    crate::private_files::write_atomic(path, &text).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The node's certificate directory.
pub fn pki_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(PKI_DIR)
}

/// The CA certificate and node certificate stored in `data_dir`.
pub fn load_credentials(data_dir: &Path) -> Result<(CaCert, NodeCert), Error> {
    let dir = pki_dir(data_dir);
    let pki = |source| Error::Pki {
        dir: dir.clone(),
        source,
    };
    let ca = CaCert::load(&dir).map_err(pki)?;
    // A renewal writes the certificate and then its key, each atomically: a reader between the
    // two sees a pair that does not match, and reads again.
    let mut attempts = 0;
    let node = loop {
        match NodeCert::load(&dir) {
            Err(crate::pki::Error::KeyMismatch { .. }) if attempts < 10 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.map_err(pki)?,
        }
    };
    Ok((ca, node))
}

/// Writes the CA certificate and node certificate into `data_dir/pki`.
pub fn save_credentials(data_dir: &Path, ca: &CaCert, node: &NodeCert) -> Result<(), Error> {
    let dir = pki_dir(data_dir);
    crate::private_files::create_dir(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let pki = |source| Error::Pki {
        dir: dir.clone(),
        source,
    };
    ca.save(&dir).map_err(pki)?;
    node.save(&dir).map_err(pki)
}

/// Removes the node's cluster files (after it was removed from the cluster). Other contents of
/// the data directory (source caches) stay.
pub fn forget_cluster(data_dir: &Path) -> Result<(), Error> {
    let remove = |path: PathBuf, dir: bool| {
        let result = if dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::Io { path, source: e })
            }
            _ => Ok(()),
        }
    };
    // node.json first: a crash half-way leaves an "interrupted" directory, never a node that
    // believes it is still a member.
    remove(data_dir.join(NODE_FILE), false)?;
    remove(data_dir.join(crate::raft::DB_FILE_NAME), false)?;
    remove(data_dir.join(crate::raft::at_rest::KEY_FILE_NAME), false)?;
    remove(pki_dir(data_dir), true)
}

fn check_no_leftovers(data_dir: &Path) -> Result<(), Error> {
    let found: Vec<&str> = [PKI_DIR, crate::raft::DB_FILE_NAME]
        .into_iter()
        .filter(|name| data_dir.join(name).exists())
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(Error::Interrupted {
            dir: data_dir.to_owned(),
            found: found.join(", "),
        })
    }
}

#[cfg(test)]
#[path = "layout_test.rs"]
mod tests;
