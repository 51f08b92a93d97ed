//! The applied revision and its history, persisted in the data directory.
//!
//! [`Store`] is the seam the cluster's replicated store replaces: the sync loop reads and writes a
//! [`Record`] through it and never knows whether it lives in a file or in Raft. The record's
//! types are the replicated ones (`crate::sync::record`), so both stores hold the same shape.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::source::spec::SourceSpec;

pub use crate::sync::record::{
    AppliedRevision, HISTORY, Outcome, Refusal, RejectedRevision, RevisionInfo,
    RevisionRecord as Record,
};

/// Errors reading or writing the record.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The replicated store refused or could not commit the record.
    // Boxed: the store behind the seam is the leader's, whose error types this module must not
    // name (the sync loop sits upstream of the leader).
    #[error("cannot record the revision in the cluster state: {0}")]
    Replicated(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The write was cut short (its thread panicked or the runtime stopped).
    #[error("writing the revision record was interrupted: {0}")]
    Interrupted(#[source] tokio::task::JoinError),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a record (corrupt, or from an incompatible version).
    #[error("{path} is not a valid applied-state record: {source}; move it aside to start over")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// A failure of the replicated store behind [`Store`] (no quorum, not leading, …).
    pub fn replicated(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Replicated(cause.into())
    }
}

/// Where the record lives.
pub trait Store: Send + Sync {
    /// Read the record (an empty one when none exists yet). Called from a blocking thread.
    fn load(&self) -> Result<Record, Error>;
    /// Replace the record durably; done once the replacement is readable through [`Store::load`].
    fn save<'a>(&'a self, record: &'a Record) -> BoxFuture<'a, Result<(), Error>>;
    /// The source the cluster follows. Called from async code: must not block for long.
    fn source(&self) -> Result<Option<SourceSpec>, Error> {
        Ok(self.load()?.source)
    }
    /// Set (or clear) the source the cluster follows, leaving the rest of the record as it is.
    fn set_source(&self, source: Option<SourceSpec>) -> BoxFuture<'_, Result<(), Error>>;
}

/// A JSON file in the data directory, replaced atomically.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The record file inside `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        FileStore {
            path: data_dir.join("applied.json"),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replace the record, blocking until it is on disk.
    pub fn write(&self, record: &Record) -> Result<(), Error> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        crate::private_files::create_dir(dir).map_err(io)?;
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| io(std::io::Error::other(e)))?;
        // A crash leaves the old or the new record, never half.
        crate::private_files::write_atomic(&self.path, &bytes).map_err(io)?;
        Ok(())
    }
}

impl Store for FileStore {
    fn load(&self) -> Result<Record, Error> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Record::default()),
            Err(source) => {
                return Err(Error::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_slice(&text).map_err(|source| Error::Corrupt {
            path: self.path.clone(),
            source,
        })
    }

    fn save<'a>(&'a self, record: &'a Record) -> BoxFuture<'a, Result<(), Error>> {
        let (store, record) = (self.clone(), record.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.write(&record))
                .await
                .map_err(Error::Interrupted)?
        })
    }

    fn set_source(&self, source: Option<SourceSpec>) -> BoxFuture<'_, Result<(), Error>> {
        let store = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut record = store.load()?;
                record.source = source;
                store.write(&record)
            })
            .await
            .map_err(Error::Interrupted)?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_empty_record_and_saves_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::in_data_dir(dir.path());
        assert_eq!(store.load().expect("load"), Record::default());
        let mut record = Record::default();
        record.push_history(Outcome {
            revision: "abc".into(),
            at_ms: 1,
            result: "applied".into(),
            summary: "1 to add".into(),
        });
        store.write(&record).expect("save");
        assert_eq!(store.load().expect("load"), record);
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_empty_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::in_data_dir(dir.path());
        std::fs::write(store.path(), "{not json").expect("write");
        assert!(matches!(store.load(), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn history_is_bounded() {
        let mut record = Record::default();
        for i in 0..(HISTORY + 10) {
            record.push_history(Outcome {
                revision: i.to_string(),
                at_ms: 0,
                result: "applied".into(),
                summary: String::new(),
            });
        }
        assert_eq!(record.history.len(), HISTORY);
        assert_eq!(record.history[0].revision, "10");
    }
}
