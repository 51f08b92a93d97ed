//! The redb file both stores share: table layout, JSON values sealed with the data key (see
//! [`super::at_rest`]) and where the blocking IO runs.
//!
//! redb is synchronous and a durable commit waits for an fsync. Every transaction therefore runs
//! on tokio's blocking pool ([`Db::run`]) so that a slow disk never stalls the async worker
//! threads that carry heartbeats and RPCs (there are only two of them on a small machine).
//! Openraft already serializes the calls of each store, so awaiting the blocking task keeps the
//! IO order the Raft protocol requires.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::{AnyError, ErrorSubject, ErrorVerb, StorageError, StorageIOError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::raft::at_rest::{self, DataKey, Found, KeyPlan, Keys, Refused, UnlockKey};
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
/// The data key, wrapped by the unlock key: the one value that is not sealed with it.
const KEYS: StrTable = TableDefinition::new("at_rest");
/// `at_rest` key of the wrapped data key.
const WRAPPED_DATA_KEY: &str = "data_key";

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
    /// Seals every value written and opens every value read.
    data_key: DataKey,
}

/// The open file and the unlock key to show the operator once, if a new one was made.
pub(crate) struct Opened {
    pub(crate) db: Db,
    pub(crate) new_unlock_key: Option<UnlockKey>,
}

impl Db {
    /// Open or create the file, verifying every page checksum (a damaged file fails here with
    /// [`Error::Corrupt`] rather than later, in the middle of serving the cluster), and unlock
    /// it: `key_file` is where the unlock key is kept unless `keys` asks for autolock.
    pub(crate) fn open(path: &Path, key_file: &Path, keys: &Keys) -> Result<Opened, Error> {
        // The file must exist as 0600 before redb opens it, or redb would create it with the
        // process's umask.
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
        let mut db = Db {
            database,
            path: path.to_owned(),
            first_io_error: std::sync::Mutex::new(None),
            data_key: DataKey::generate(),
        };
        db.create_tables()?;
        let wrapped = db.wrapped_data_key()?;
        let found = Found {
            wrapped: wrapped.is_some(),
            key_file: read_key_file(key_file)?,
        };
        let plan = match at_rest::plan(&found, keys) {
            Ok(plan) => plan,
            Err(Refused::Locked) => {
                return Err(Error::Locked {
                    path: path.to_owned(),
                });
            }
        };
        if let (Some(wrapped), Some(key)) = (&wrapped, &plan.opens_with) {
            db.data_key = match key.unwrap(wrapped) {
                Ok(data_key) => data_key,
                // A key file left behind by a crash just after autolock replaced its key.
                Err(_) if keys.autolock && keys.supplied.is_none() => {
                    remove_key_file(key_file)?;
                    return Err(Error::Locked {
                        path: path.to_owned(),
                    });
                }
                Err(source) => {
                    return Err(Error::Unlock {
                        path: path.to_owned(),
                        source,
                    });
                }
            };
        }
        db.store_keys(&plan, wrapped.is_none())?;
        match &plan.key_file {
            Some(key) if found.key_file.as_ref() != Some(key) => {
                crate::private_files::write_atomic(key_file, key.to_text().as_bytes())
                    .map_err(|e| storage_error(key_file, e.into()))?;
            }
            Some(_) => {}
            None => remove_key_file(key_file)?,
        }
        Ok(Opened {
            db,
            new_unlock_key: plan.show,
        })
    }

    /// The wrapped data key, if the store has one.
    fn wrapped_data_key(&self) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.database.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(KEYS).map_err(|e| self.error(e))?;
        let value = table.get(WRAPPED_DATA_KEY).map_err(|e| self.error(e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Stores the data key wrapped as `plan` says; a store that had none yet (new, or written
    /// by a version that kept it in clear) has every value sealed in the same transaction.
    fn store_keys(&self, plan: &KeyPlan, first: bool) -> Result<(), Error> {
        let Some(kek) = &plan.wrap_with else {
            return Ok(());
        };
        let txn = self.database.begin_write().map_err(|e| self.error(e))?;
        {
            if first {
                let mut log = txn.open_table(LOG).map_err(|e| self.error(e))?;
                let plain: Vec<(u64, Vec<u8>)> = (log.iter().map_err(|e| self.error(e))?)
                    .map(|item| item.map(|(k, v)| (k.value(), v.value().to_vec())))
                    .collect::<Result<_, _>>()
                    .map_err(|e| self.error(e))?;
                for (index, bytes) in plain {
                    let sealed = self.seal(&bytes);
                    log.insert(index, sealed.as_slice())
                        .map_err(|e| self.error(e))?;
                }
                for table in STR_TABLES {
                    let mut t = txn.open_table(table).map_err(|e| self.error(e))?;
                    let plain: Vec<(String, Vec<u8>)> = (t.iter().map_err(|e| self.error(e))?)
                        .map(|item| item.map(|(k, v)| (k.value().to_owned(), v.value().to_vec())))
                        .collect::<Result<_, _>>()
                        .map_err(|e| self.error(e))?;
                    for (key, bytes) in plain {
                        let sealed = self.seal(&bytes);
                        t.insert(key.as_str(), sealed.as_slice())
                            .map_err(|e| self.error(e))?;
                    }
                }
            }
            let mut keys = txn.open_table(KEYS).map_err(|e| self.error(e))?;
            keys.insert(WRAPPED_DATA_KEY, kek.wrap(&self.data_key).as_slice())
                .map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))
    }

    fn create_tables(&self) -> Result<(), Error> {
        let txn = self.database.begin_write().map_err(|e| self.error(e))?;
        txn.open_table(LOG).map_err(|e| self.error(e))?;
        txn.open_table(KEYS).map_err(|e| self.error(e))?;
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

    /// `plain` sealed with the data key, to store.
    pub(crate) fn seal(&self, plain: &[u8]) -> Vec<u8> {
        self.data_key.seal(plain)
    }

    /// Open and decode a stored value; `what` names it (`table/key`) in the error.
    pub(crate) fn decode<T: DeserializeOwned>(&self, what: &str, bytes: &[u8]) -> Result<T, Error> {
        let plain = self.open_sealed(what, bytes)?;
        self.parse(what, &plain)
    }

    /// The plain bytes of a stored value.
    pub(crate) fn open_sealed(&self, what: &str, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        self.data_key.open(bytes).map_err(|source| Error::Sealed {
            path: self.path.clone(),
            what: what.to_owned(),
            source,
        })
    }

    /// Decode a value that is not stored (a snapshot received from the leader).
    pub(crate) fn parse<T: DeserializeOwned>(&self, what: &str, bytes: &[u8]) -> Result<T, Error> {
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
        let bytes = self.seal(&encode(key, value)?);
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

/// The unlock key in `path`, if the file exists.
fn read_key_file(path: &Path) -> Result<Option<UnlockKey>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => UnlockKey::parse(&text)
            .map(Some)
            .map_err(|source| Error::Unlock {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(storage_error(path, e.into())),
    }
}

fn remove_key_file(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(storage_error(path, e.into())),
        _ => Ok(()),
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
