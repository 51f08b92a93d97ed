//! The replicated store: cluster state kept consistent across managers by Raft (openraft 0.9).
//!
//! ```text
//!  leader: client_write(Command) ──▶ LogStore::append (redb, fsync) ──▶ replicated to a quorum
//!        ──▶ committed ──▶ StateMachineStore::apply ──▶ ClusterState::apply (pure)
//!                                 │  writes back the objects the command touched (redb)
//!                                 └▶ watch::Sender<version> wakes readers
//! ```
//!
//! Both stores live in one redb file, `<data dir>/raft.redb`, opened by [`open_store`]; every
//! value in it is sealed with the store's data key ([`at_rest`]).
//!
//! # Layout
//! - [`command`]: [`Command`], every replicated write, and its [`Response`].
//! - [`rejection`]: [`Rejection`], why the state machine refused a command.
//! - [`state`]: [`ClusterState`] and the pure, deterministic [`ClusterState::apply`].
//! - [`changes`]: which objects each applied command changed, for the leader's loops.
//! - [`cluster_info`]: the cluster's identity, CA, join tokens and revoked nodes (managers only).
//! - [`doors`]: who may use which door of a manager's endpoint, by membership (pure).
//! - [`log_store`]: the Raft log, vote and committed pointer ([`LogStore`]).
//! - [`state_machine`]: applied state, membership and snapshots ([`StateMachineStore`]);
//!   its child `snapshot` builds, installs and reads snapshots.
//! - [`network`]: Raft RPC between managers: HTTPS with mutual TLS, managers only.
//! - [`at_rest`]: encryption at rest: the data key, the unlock key, autolock (what to keep).
//! - `db`: the shared redb file: tables, sealed JSON values, blocking IO off the async threads.

pub mod at_rest;
pub mod changes;
pub mod cluster_info;
pub mod command;
mod db;
pub mod doors;
pub mod log_store;
pub mod network;
pub mod rejection;
pub mod state;
pub mod state_machine;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use command::{Command, Response};
pub use log_store::LogStore;
pub use rejection::Rejection;
pub use state::ClusterState;
pub use state_machine::StateMachineStore;

openraft::declare_raft_types!(
    /// Type parameters of the cluster's Raft: node ids are `u64`, nodes are addresses
    /// (`BasicNode`), log entries carry [`Command`]s and snapshots are JSON in memory.
    pub TypeConfig:
        D = Command,
        R = Response,
);

/// A running Raft node of the cluster.
pub type Raft = openraft::Raft<TypeConfig>;

/// Raft node id.
pub type NodeId = u64;

/// File name of the replicated store inside the data directory.
pub const DB_FILE_NAME: &str = db::FILE_NAME;

/// Errors opening or reading the replicated store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another store in this one) has the file open.
    #[error(
        "{path} is in use by another process; is another manager running on this data directory?"
    )]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// redb found the file damaged (bad header, checksum mismatch, truncated).
    #[error(
        "{path} is corrupt ({detail}); restore it from a backup or remove the data directory to rejoin"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        detail: String,
    },
    /// A stored value is not what this version of reconciler wrote (damaged or incompatible).
    #[error(
        "{path} is corrupt: {what} does not decode ({source}); restore it from a backup or remove the data directory to rejoin"
    )]
    Decode {
        /// The file.
        path: PathBuf,
        /// Which value (`table/key`).
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The store is encrypted and its unlock key is neither in the data directory nor given.
    #[error(
        "{path} is locked (autolock): run `reconciler unlock --data-dir <this data dir>` and paste the unlock key printed when autolock was turned on"
    )]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The unlock key is malformed or does not open the store.
    #[error("{path}: {source}")]
    Unlock {
        /// The store or the key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: at_rest::KeyError,
    },
    /// A stored value does not open with the store's data key.
    #[error(
        "{path} is corrupt: {what}: {source}; restore it from a backup or remove the data directory to rejoin"
    )]
    Sealed {
        /// The file.
        path: PathBuf,
        /// Which value (`table/key`).
        what: String,
        /// Why.
        #[source]
        source: at_rest::KeyError,
    },
    /// Reading or writing the file failed (IO error, full disk, file format upgrade needed).
    #[error("{path}: {source}")]
    Storage {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: redb::Error,
    },
    /// The file refuses writes after an earlier IO error (redb's "previous I/O error").
    #[error("{path}: {cause} (an earlier write failed; the store accepts no more until restarted)")]
    StorageRefused {
        /// The file.
        path: PathBuf,
        /// The earlier IO error.
        cause: String,
    },
    /// A value could not be encoded (a bug: every stored type is plain data).
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// Which value.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Storing the applied state failed earlier (a full disk, an IO error); the store stops.
    #[error("storing the applied state failed: {0}")]
    StoreFailed(String),
    /// A storage task on the blocking thread pool panicked or was cancelled.
    #[error("a storage task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The Raft timing settings are inconsistent.
    #[error("invalid Raft settings: {0}")]
    Config(#[source] Box<openraft::ConfigError>),
}

/// Raft timing and log compaction for managers on one LAN (or loopback in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Leader heartbeat period, ms.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in `[min, max)` ms starts an election;
    /// `min` is three heartbeats so that one lost heartbeat does not depose a leader.
    pub election_timeout_ms: (u64, u64),
    /// Build a snapshot (and purge the log) every this many applied entries.
    pub snapshot_every: u64,
    /// Entries kept behind a snapshot, so a briefly lagging follower catches up from the log
    /// instead of receiving a whole snapshot.
    pub logs_kept_after_snapshot: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heartbeat_ms: 100,
            election_timeout_ms: (300, 600),
            snapshot_every: 10_000,
            logs_kept_after_snapshot: 1_000,
        }
    }
}

impl Config {
    /// How long to wait before retrying a peer that could not be connected to: one heartbeat
    /// period, well under the election timeout. A peer coming back from a crash must hear the
    /// leader before its own election timeout runs out, or it campaigns and deposes a healthy
    /// leader.
    pub fn unreachable_retry(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.heartbeat_ms)
    }

    /// The openraft configuration for the cluster `cluster_name`, validated.
    pub fn to_openraft(&self, cluster_name: &str) -> Result<Arc<openraft::Config>, Error> {
        let config = openraft::Config {
            cluster_name: cluster_name.to_owned(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_ms.0,
            election_timeout_max: self.election_timeout_ms.1,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.logs_kept_after_snapshot,
            // Purge in batches: each purge is one redb commit (an fsync).
            purge_batch_size: 256,
            // A snapshot chunk on a LAN, with room for a slow disk on the receiving side.
            install_snapshot_timeout: 2_000,
            ..openraft::Config::default()
        };
        let config = config.validate().map_err(|e| Error::Config(Box::new(e)))?;
        Ok(Arc::new(config))
    }
}

/// The opened stores, and the unlock key to show the operator once if autolock just made one.
pub struct Opened {
    /// The Raft log.
    pub log: LogStore,
    /// The state machine.
    pub sm: StateMachineStore,
    /// A new unlock key: print it once; it is kept nowhere else.
    pub new_unlock_key: Option<at_rest::UnlockKey>,
}

/// Open (or create) `data_dir/raft.redb` with the unlock key in the data directory (created
/// with a new store): [`open_store_with`] and no autolock.
pub fn open_store(data_dir: &Path) -> Result<(LogStore, StateMachineStore), Error> {
    open_store_with(data_dir, &at_rest::Keys::default()).map(|o| (o.log, o.sm))
}

/// Open (or create) `data_dir/raft.redb` and the two stores that share it, unlocked as `keys`
/// says.
///
/// Blocks while it reads the file and loads the cluster state into memory: call it at start-up,
/// or through `spawn_blocking`. A damaged file or undecodable value is an error
/// ([`Error::Corrupt`], [`Error::Decode`]): a manager never starts from a wrong state. An
/// encrypted store without its unlock key is [`Error::Locked`].
pub fn open_store_with(data_dir: &Path, keys: &at_rest::Keys) -> Result<Opened, Error> {
    crate::private_files::create_dir(data_dir).map_err(|source| Error::CreateDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = data_dir.join(DB_FILE_NAME);
    let opened = db::Db::open(&path, &data_dir.join(at_rest::KEY_FILE_NAME), keys)?;
    let db = Arc::new(opened.db);
    let log = LogStore::open(db.clone())?;
    let sm = StateMachineStore::open(db)?;
    tracing::info!(
        path = %path.display(),
        last_applied = ?sm.last_applied(),
        version = sm.read(|s| s.version),
        autolock = keys.autolock,
        "opened the replicated store"
    );
    Ok(Opened {
        log,
        sm,
        new_unlock_key: opened.new_unlock_key,
    })
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod store_test;

#[cfg(test)]
mod raft_test;

#[cfg(test)]
mod at_rest_test;
