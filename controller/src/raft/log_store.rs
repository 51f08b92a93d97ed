//! The Raft log, the vote and the committed pointer, in the `raft_log` and `raft_meta` tables.
//!
//! Every write is one durable redb transaction (`Durability::Immediate`, redb's default): when
//! [`RaftLogStorage::append`] reports the entries flushed, or `save_vote` returns, the data is on
//! disk. The committed pointer alone is written without waiting for the disk (see
//! `save_committed_lazily`). Entries are JSON so that a damaged file can be inspected with ordinary tools.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    Entry, ErrorSubject, ErrorVerb, LogId, LogState, OptionalSend, RaftLogReader, StorageError,
    Vote,
};
use redb::{ReadableDatabase, ReadableTable};

use crate::raft::db::{self, Db, LOG, LOG_META};
use crate::raft::{Error, NodeId, TypeConfig};

/// `raft_meta` key of the last vote.
const VOTE: &str = "vote";
/// `raft_meta` key of the last committed log id.
const COMMITTED: &str = "committed";
/// `raft_meta` key of the last purged log id.
const LAST_PURGED: &str = "last_purged";

/// Half-open or closed range of log indexes, owned so it can move to the blocking pool.
type IndexRange = (Bound<u64>, Bound<u64>);

/// The Raft log store; cheap to clone (clones share the file), and its own log reader.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Db>,
}

impl LogStore {
    /// Wrap the shared file, decoding what openraft reads at start-up so that damage is reported
    /// by [`open_store`](crate::raft::open_store) rather than by a failing Raft node.
    pub(crate) fn open(db: Arc<Db>) -> Result<LogStore, Error> {
        db.get::<Vote<NodeId>>(LOG_META, VOTE)?;
        db.get::<Option<LogId<NodeId>>>(LOG_META, COMMITTED)?;
        log_state(&db)?;
        Ok(LogStore { db })
    }
}

/// The last purged and the last present log id.
fn log_state(db: &Db) -> Result<LogState<TypeConfig>, Error> {
    let last_purged_log_id = db.get::<LogId<NodeId>>(LOG_META, LAST_PURGED)?;
    let txn = db.database().begin_read().map_err(|e| db.error(e))?;
    let table = txn.open_table(LOG).map_err(|e| db.error(e))?;
    let last = table.last().map_err(|e| db.error(e))?;
    let last_log_id = match last {
        Some((index, bytes)) => {
            let entry: Entry<TypeConfig> =
                db.decode(&format!("raft_log/{}", index.value()), bytes.value())?;
            Some(entry.log_id)
        }
        None => last_purged_log_id,
    };
    Ok(LogState {
        last_purged_log_id,
        last_log_id,
    })
}

/// Decode the entries whose index is in `range`.
fn read_entries(db: &Db, range: IndexRange) -> Result<Vec<Entry<TypeConfig>>, Error> {
    let txn = db.database().begin_read().map_err(|e| db.error(e))?;
    let table = txn.open_table(LOG).map_err(|e| db.error(e))?;
    let mut entries = Vec::new();
    for item in table.range::<u64>(range).map_err(|e| db.error(e))? {
        let (index, bytes) = item.map_err(|e| db.error(e))?;
        entries.push(db.decode(&format!("raft_log/{}", index.value()), bytes.value())?);
    }
    Ok(entries)
}

/// Store encoded entries in one durable transaction.
fn write_entries(db: &Db, entries: Vec<(u64, Vec<u8>)>) -> Result<(), Error> {
    let txn = db.database().begin_write().map_err(|e| db.error(e))?;
    {
        let mut table = txn.open_table(LOG).map_err(|e| db.error(e))?;
        for (index, bytes) in &entries {
            table
                .insert(*index, db.seal(bytes).as_slice())
                .map_err(|e| db.error(e))?;
        }
    }
    txn.commit().map_err(|e| db.error(e))
}

/// Delete the entries in `range`, recording `purged` as the last purged id in the same
/// transaction (a crash never leaves the pointer behind the log or the log behind the pointer).
fn delete_entries(db: &Db, range: IndexRange, purged: Option<LogId<NodeId>>) -> Result<(), Error> {
    let purged = (purged.map(|id| db::encode(LAST_PURGED, &id)).transpose()?).map(|b| db.seal(&b));
    let txn = db.database().begin_write().map_err(|e| db.error(e))?;
    {
        let mut table = txn.open_table(LOG).map_err(|e| db.error(e))?;
        table
            .retain_in::<u64, _>(range, |_, _| false)
            .map_err(|e| db.error(e))?;
        if let Some(bytes) = &purged {
            let mut meta = txn.open_table(LOG_META).map_err(|e| db.error(e))?;
            meta.insert(LAST_PURGED, bytes.as_slice())
                .map_err(|e| db.error(e))?;
        }
    }
    txn.commit().map_err(|e| db.error(e))
}

/// Record the committed pointer without waiting for the disk: it reaches it with the next
/// durable transaction (an append or a state machine store, both frequent). openraft only uses
/// it to re-apply committed entries after a restart, and a pointer a little behind merely
/// leaves those entries to be committed again by the next leader, as for any follower.
fn save_committed_lazily(db: &Db, committed: Option<LogId<NodeId>>) -> Result<(), Error> {
    let bytes = db.seal(&db::encode(COMMITTED, &committed)?);
    let mut txn = db.database().begin_write().map_err(|e| db.error(e))?;
    txn.set_durability(redb::Durability::None)
        .map_err(|e| db.error(redb::Error::from(e)))?;
    {
        let mut meta = txn.open_table(LOG_META).map_err(|e| db.error(e))?;
        meta.insert(COMMITTED, bytes.as_slice())
            .map_err(|e| db.error(e))?;
    }
    txn.commit().map_err(|e| db.error(e))
}

fn log_error(e: Error, verb: ErrorVerb) -> StorageError<NodeId> {
    db::to_raft(e, ErrorSubject::Logs, verb)
}

fn vote_error(e: Error, verb: ErrorVerb) -> StorageError<NodeId> {
    db::to_raft(e, ErrorSubject::Vote, verb)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        self.db
            .run(move |db| read_entries(db, range))
            .await
            .map_err(|e| log_error(e, ErrorVerb::Read))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        self.db
            .run(log_state)
            .await
            .map_err(|e| log_error(e, ErrorVerb::Read))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let vote = *vote;
        self.db
            .run(move |db| db.put(LOG_META, VOTE, &vote))
            .await
            .map_err(|e| vote_error(e, ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.db
            .run(|db| db.get(LOG_META, VOTE))
            .await
            .map_err(|e| vote_error(e, ErrorVerb::Read))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.db
            .run(move |db| save_committed_lazily(db, committed))
            .await
            .map_err(|e| log_error(e, ErrorVerb::Write))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        self.db
            .run(|db| db.get::<Option<LogId<NodeId>>>(LOG_META, COMMITTED))
            .await
            .map(Option::flatten)
            .map_err(|e| log_error(e, ErrorVerb::Read))
    }

    /// Commit the entries, then report them flushed: the callback fires before this returns,
    /// which openraft allows, and the entries are readable by then.
    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Encoding an entry of thousands of tasks is CPU work: it runs with the write, off the
        // async threads that serve heartbeats.
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let written = self
            .db
            .run(move |db| {
                let encoded = entries
                    .iter()
                    .map(|e| Ok((e.log_id.index, db::encode("log entry", e)?)))
                    .collect::<Result<Vec<(u64, Vec<u8>)>, Error>>()?;
                write_entries(db, encoded)
            })
            .await;
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(log_error(e, ErrorVerb::Write))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let range = (Bound::Included(log_id.index), Bound::Unbounded);
        self.db
            .run(move |db| delete_entries(db, range, None))
            .await
            .map_err(|e| log_error(e, ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let range = (Bound::Unbounded, Bound::Included(log_id.index));
        self.db
            .run(move |db| delete_entries(db, range, Some(log_id)))
            .await
            .map_err(|e| log_error(e, ErrorVerb::Delete))
    }
}
