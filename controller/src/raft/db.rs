//! The redb file both stores share: table layout, JSON values and where the blocking IO runs.
//!
//! redb is synchronous and a durable commit waits for an fsync. Every transaction therefore runs
//! on tokio's blocking pool ([`Db::run`]) so that a slow disk never stalls the async worker
//! threads that carry heartbeats and RPCs (there are only two of them on a small machine).
//! Openraft already serializes the calls of each store, so awaiting the blocking task keeps the
//! IO order the Raft protocol requires.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::{AnyError, ErrorSubject, ErrorVerb, StorageError, StorageIOError};
use redb::{Database, ReadableDatabase, TableDefinition, TableHandle};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::raft::{Error, NodeId};

/// The file inside the data directory.
pub(crate) const FILE_NAME: &str = "raft.redb";

/// Page cache limit (an upper bound: a small cluster's file never fills it). The state lives in
/// memory, but the state machine's task table is updated in place, a random page per task: at a
/// million tasks a 64 MiB cache made every write read its page back first (1M bench: all
/// running 91.6 s with 64 MiB, 73.1 s with 512 MiB).
const CACHE_BYTES: usize = 512 * 1024 * 1024;

/// A table of JSON values by string key.
pub(crate) type StrTable = TableDefinition<'static, &'static str, &'static [u8]>;

/// Raft log entries by index (JSON of `openraft::Entry`).
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Log-side metadata: `vote`, `committed`, `last_purged`.
pub(crate) const LOG_META: StrTable = TableDefinition::new("raft_meta");
/// State-machine metadata: `last_applied`, `membership`, `version`, `revisions`.
pub(crate) const SM_META: StrTable = TableDefinition::new("sm_meta");
/// Nodes by id.
pub(crate) const NODES: StrTable = TableDefinition::new("sm_nodes");
/// Services by full name.
pub(crate) const SERVICES: StrTable = TableDefinition::new("sm_services");
/// Tasks by id.
pub(crate) const TASKS: StrTable = TableDefinition::new("sm_tasks");
/// The current snapshot: `meta` (JSON of `SnapshotMeta`) and `data` (its bytes).
pub(crate) const SNAPSHOT: StrTable = TableDefinition::new("sm_snapshot");

/// Every string-keyed table, created when the file is opened so that readers never meet a
/// missing table.
const STR_TABLES: [StrTable; 6] = [LOG_META, SM_META, NODES, SERVICES, TASKS, SNAPSHOT];

/// The open redb file.
#[derive(Debug)]
pub(crate) struct Db {
    database: Database,
    path: PathBuf,
    /// The first IO error: redb refuses every later write with "previous I/O error", which
    /// says nothing of the cause (a full disk), so later errors carry this one's message.
    first_io_error: std::sync::Mutex<Option<String>>,
}

impl Db {
    /// Open or create the file, verifying every page checksum: a damaged file fails here with
    /// [`Error::Corrupt`] rather than later, in the middle of serving the cluster.
    pub(crate) fn open(path: &Path) -> Result<Db, Error> {
        // The store holds the CA key and the token secrets: it must exist as 0600 before redb
        // opens it, or redb would create it with the process's umask.
        drop(crate::private_files::create_file(path).map_err(|e| storage_error(path, e.into()))?);
        let database = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => Error::InUse {
                    path: path.to_owned(),
                },
                other => storage_error(path, other.into()),
            })?;
        let db = Db {
            database,
            path: path.to_owned(),
            first_io_error: std::sync::Mutex::new(None),
        };
        db.create_tables()?;
        Ok(db)
    }

    fn create_tables(&self) -> Result<(), Error> {
        let txn = self.database.begin_write().map_err(|e| self.error(e))?;
        txn.open_table(LOG).map_err(|e| self.error(e))?;
        for table in STR_TABLES {
            txn.open_table(table).map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))
    }

    /// The underlying database.
    pub(crate) fn database(&self) -> &Database {
        &self.database
    }

    /// Run `f` on the blocking thread pool and wait for it.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, Error> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db)).await?
    }

    /// A redb error on this file.
    pub(crate) fn error(&self, e: impl Into<redb::Error>) -> Error {
        let e = e.into();
        let mut first = self
            .first_io_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&e, first.as_ref()) {
            (redb::Error::PreviousIo, Some(cause)) => {
                return Error::StorageRefused {
                    path: self.path.clone(),
                    cause: cause.clone(),
                };
            }
            (redb::Error::Io(io), None) => *first = Some(io.to_string()),
            _ => {}
        }
        drop(first);
        storage_error(&self.path, e)
    }

    /// Decode a stored value; `what` names it (`table/key`) in the error.
    pub(crate) fn decode<T: DeserializeOwned>(&self, what: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(|source| Error::Decode {
            path: self.path.clone(),
            what: what.to_owned(),
            source,
        })
    }

    /// Read and decode one value of a string-keyed table in its own read transaction.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        table: StrTable,
        key: &str,
    ) -> Result<Option<T>, Error> {
        let txn = self.database.begin_read().map_err(|e| self.error(e))?;
        let table_ref = txn.open_table(table).map_err(|e| self.error(e))?;
        let Some(value) = table_ref.get(key).map_err(|e| self.error(e))? else {
            return Ok(None);
        };
        let what = format!("{}/{key}", table.name());
        self.decode(&what, value.value()).map(Some)
    }

    /// Encode and store one value of a string-keyed table in its own durable write transaction.
    pub(crate) fn put<T: Serialize>(
        &self,
        table: StrTable,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        let bytes = encode(key, value)?;
        let txn = self.database.begin_write().map_err(|e| self.error(e))?;
        {
            let mut table_ref = txn.open_table(table).map_err(|e| self.error(e))?;
            table_ref
                .insert(key, bytes.as_slice())
                .map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))
    }
}

/// Classify a redb error: damage is [`Error::Corrupt`], anything else [`Error::Storage`].
fn storage_error(path: &Path, e: redb::Error) -> Error {
    match e {
        redb::Error::Corrupted(detail) => Error::Corrupt {
            path: path.to_owned(),
            detail,
        },
        // What redb says of a file that is not a database at all (bad magic number).
        redb::Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => Error::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        },
        source => Error::Storage {
            path: path.to_owned(),
            source,
        },
    }
}

/// JSON of a value to store; `what` names it in the error.
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|source| Error::Encode {
        what: what.to_owned(),
        source,
    })
}

/// Report a store error to openraft, which stops the node on any storage error.
pub(crate) fn to_raft(
    e: Error,
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
) -> StorageError<NodeId> {
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}
