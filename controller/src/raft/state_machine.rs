//! The state machine: [`ClusterState`] in memory, mirrored object by object in redb.
//!
//! # Persistence
//! Each `apply` batch ends with one durable redb transaction that writes back the objects its
//! commands touched ([`Command::keys`]), the last applied log id, the membership and the state
//! version. The file therefore always holds exactly the state at `last_applied`, a restart loads it
//! without replaying the log, and a write costs disk IO in proportion to the command, not to the
//! cluster. Snapshots (JSON of the whole state) are built for followers that fell behind the log
//! and kept in the `sm_snapshot` table.
//!
//! # Readers
//! [`StateMachineStore::read`] gives a consistent view of the state; [`StateMachineStore::watch`]
//! wakes when its version changes, after the change is on disk.
//!
//! [`Command::keys`]: crate::raft::command::Command::keys

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend,
    RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StoredMembership,
};
use redb::{ReadableDatabase, ReadableTable};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::raft::command::Response;
use crate::raft::db::{self, Db, NODES, SERVICES, SM_META, SNAPSHOT, StrTable, TASKS};
use crate::raft::state::{ClusterState, Key};
use crate::raft::{Error, NodeId, TypeConfig};

// Building, installing and reading snapshots; a child module so it shares `Shared` and `Changes`.
#[path = "snapshot.rs"]
mod snapshot;

/// Membership as openraft stores it.
type Membership = StoredMembership<NodeId, BasicNode>;

/// `sm_meta` keys.
const LAST_APPLIED: &str = "last_applied";
const MEMBERSHIP: &str = "membership";
const VERSION: &str = "version";
const REVISIONS: &str = "revisions";
/// `sm_meta` key of the cluster identity and secrets.
const CLUSTER: &str = "cluster";

/// `sm_snapshot` keys.
const SNAPSHOT_META: &str = "meta";
const SNAPSHOT_DATA: &str = "data";

/// The applied state: what a snapshot contains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Applied {
    last_applied: Option<LogId<NodeId>>,
    last_membership: Membership,
    state: ClusterState,
}

/// The state machine store; cheap to clone (clones share the state), and its own snapshot
/// builder.
#[derive(Debug, Clone)]
pub struct StateMachineStore {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    db: Arc<Db>,
    applied: RwLock<Applied>,
    version: watch::Sender<u64>,
}

impl StateMachineStore {
    /// Load the applied state from the shared file (every stored value is decoded now).
    pub(crate) fn open(db: Arc<Db>) -> Result<StateMachineStore, Error> {
        let applied = load(&db)?;
        db.get::<SnapshotMeta<NodeId, BasicNode>>(SNAPSHOT, SNAPSHOT_META)?;
        let (version, _) = watch::channel(applied.state.version);
        Ok(StateMachineStore {
            inner: Arc::new(Shared {
                db,
                applied: RwLock::new(applied),
                version,
            }),
        })
    }

    /// Follow the state version: the receiver sees a new value after each change is stored.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    /// Read the state; `f` runs under a read lock, so keep it short and free of IO. A change can
    /// be visible here a moment before it is on disk; [`Self::watch`] reports only stored ones.
    pub fn read<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.inner.read().state)
    }

    /// The last applied log id (what the state reflects).
    pub fn last_applied(&self) -> Option<LogId<NodeId>> {
        self.inner.read().last_applied
    }
}

impl Shared {
    // A poisoned lock means ClusterState::apply panicked, which openraft turns into a fatal
    // shutdown; readers still get the last state rather than a second panic.
    fn read(&self) -> RwLockReadGuard<'_, Applied> {
        self.applied.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Applied> {
        self.applied.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tell watchers about a stored version, waking them only when it moved (a no-op command,
    /// a blank or membership entry changes nothing a reader can see).
    fn publish(&self, version: u64) {
        self.version.send_if_modified(|current| {
            let moved = *current != version;
            *current = version;
            moved
        });
    }

    /// Apply entries in memory and return their responses with the writes that persist them.
    ///
    /// Memory goes first, disk second: `read` may see a change a moment before it is stored. If
    /// storing fails, openraft stops this node (a fatal storage error) and its in-memory state
    /// must not be served any longer.
    fn apply_entries(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<(Vec<Response>, Changes, u64), Error> {
        let mut applied = self.write();
        let mut keys = BTreeSet::new();
        let mut responses = Vec::new();
        for entry in entries {
            applied.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Normal(cmd) => {
                    keys.extend(cmd.keys());
                    applied.state.apply(&cmd)
                }
                EntryPayload::Membership(m) => {
                    applied.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    unchanged(&applied.state)
                }
                EntryPayload::Blank => unchanged(&applied.state),
            };
            responses.push(response);
        }
        let mut changes = Changes::default();
        for key in &keys {
            changes.object(&applied.state, key)?;
        }
        changes.pointers(&applied)?;
        Ok((responses, changes, applied.state.version))
    }
}

fn unchanged(state: &ClusterState) -> Response {
    Response::Ok {
        version: state.version,
        ignored: 0,
    }
}

/// Load the applied state from its tables.
fn load(db: &Db) -> Result<Applied, Error> {
    let state = ClusterState {
        version: db.get(SM_META, VERSION)?.unwrap_or(0),
        nodes: load_table(db, NODES)?,
        services: load_table(db, SERVICES)?,
        tasks: load_table(db, TASKS)?,
        revisions: db.get(SM_META, REVISIONS)?.unwrap_or_default(),
        cluster: db.get(SM_META, CLUSTER)?.unwrap_or_default(),
    };
    Ok(Applied {
        last_applied: db.get::<Option<_>>(SM_META, LAST_APPLIED)?.flatten(),
        last_membership: db.get(SM_META, MEMBERSHIP)?.unwrap_or_default(),
        state,
    })
}

fn load_table<T: DeserializeOwned>(db: &Db, table: StrTable) -> Result<BTreeMap<String, T>, Error> {
    let txn = db.database().begin_read().map_err(|e| db.error(e))?;
    let table_ref = txn.open_table(table).map_err(|e| db.error(e))?;
    let mut out = BTreeMap::new();
    for item in table_ref.iter().map_err(|e| db.error(e))? {
        let (key, bytes) = item.map_err(|e| db.error(e))?;
        let id = key.value().to_owned();
        let what = format!("{}/{id}", redb::TableHandle::name(&table));
        out.insert(id, db.decode(&what, bytes.value())?);
    }
    Ok(out)
}

/// The writes of one durable transaction of the state machine.
#[derive(Default)]
struct Changes {
    /// Empty the object tables first (installing a snapshot).
    clear_objects: bool,
    /// `(table, id, JSON or None to delete)`.
    objects: Vec<(StrTable, String, Option<Vec<u8>>)>,
    /// `sm_meta` values.
    meta: Vec<(&'static str, Vec<u8>)>,
    /// A snapshot to keep as the current one: `(meta JSON, data)`.
    snapshot: Option<(Vec<u8>, Vec<u8>)>,
}

impl Changes {
    /// Write back one object as it now is (or delete it).
    fn object(&mut self, state: &ClusterState, key: &Key) -> Result<(), Error> {
        let (table, id, value) = match key {
            Key::Node(id) => (NODES, id, state.nodes.get(id).map(json).transpose()?),
            Key::Service(id) => (SERVICES, id, state.services.get(id).map(json).transpose()?),
            Key::Task(id) => (TASKS, id, state.tasks.get(id).map(json).transpose()?),
            Key::Revisions => {
                self.meta.push((REVISIONS, json(&state.revisions)?));
                return Ok(());
            }
            Key::Cluster => {
                self.meta.push((CLUSTER, json(&state.cluster)?));
                return Ok(());
            }
        };
        self.objects.push((table, id.clone(), value));
        Ok(())
    }

    /// The pointers that say which state the objects are: last applied, membership, version.
    fn pointers(&mut self, applied: &Applied) -> Result<(), Error> {
        self.meta.push((LAST_APPLIED, json(&applied.last_applied)?));
        self.meta
            .push((MEMBERSHIP, json(&applied.last_membership)?));
        self.meta.push((VERSION, json(&applied.state.version)?));
        Ok(())
    }

    /// Every object of `applied` plus its pointers, replacing whatever is stored.
    fn everything(applied: &Applied) -> Result<Changes, Error> {
        let mut changes = Changes {
            clear_objects: true,
            ..Changes::default()
        };
        let state = &applied.state;
        let keys = (state.nodes.keys().cloned().map(Key::Node))
            .chain(state.services.keys().cloned().map(Key::Service))
            .chain(state.tasks.keys().cloned().map(Key::Task))
            .chain([Key::Revisions, Key::Cluster]);
        for key in keys {
            changes.object(state, &key)?;
        }
        changes.pointers(applied)?;
        Ok(changes)
    }

    /// Commit all writes in one durable transaction.
    fn commit(self, db: &Db) -> Result<(), Error> {
        let txn = db.database().begin_write().map_err(|e| db.error(e))?;
        {
            if self.clear_objects {
                for table in [NODES, SERVICES, TASKS] {
                    let mut t = txn.open_table(table).map_err(|e| db.error(e))?;
                    t.retain(|_, _| false).map_err(|e| db.error(e))?;
                }
            }
            for (table, id, value) in &self.objects {
                let mut t = txn.open_table(*table).map_err(|e| db.error(e))?;
                match value {
                    Some(bytes) => t.insert(id.as_str(), bytes.as_slice()).map(drop),
                    None => t.remove(id.as_str()).map(drop),
                }
                .map_err(|e| db.error(e))?;
            }
            let mut meta = txn.open_table(SM_META).map_err(|e| db.error(e))?;
            for (key, bytes) in &self.meta {
                meta.insert(*key, bytes.as_slice())
                    .map_err(|e| db.error(e))?;
            }
            if let Some((meta, data)) = &self.snapshot {
                let mut t = txn.open_table(SNAPSHOT).map_err(|e| db.error(e))?;
                t.insert(SNAPSHOT_META, meta.as_slice())
                    .map_err(|e| db.error(e))?;
                t.insert(SNAPSHOT_DATA, data.as_slice())
                    .map_err(|e| db.error(e))?;
            }
        }
        txn.commit().map_err(|e| db.error(e))
    }
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    db::encode("state machine value", value)
}

fn sm_error(e: Error, verb: ErrorVerb) -> StorageError<NodeId> {
    db::to_raft(e, ErrorSubject::StateMachine, verb)
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        let applied = self.inner.read();
        Ok((applied.last_applied, applied.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let (responses, changes, version) = self
            .inner
            .apply_entries(entries)
            .map_err(|e| sm_error(e, ErrorVerb::Write))?;
        if responses.is_empty() {
            return Ok(responses);
        }
        self.inner
            .db
            .run(move |db| changes.commit(db))
            .await
            .map_err(|e| sm_error(e, ErrorVerb::Write))?;
        self.inner.publish(version);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        snapshot::install(&self.inner, meta, snapshot.into_inner()).await
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        snapshot::current(&self.inner).await
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        snapshot::build(&self.inner, snapshot_id_suffix()).await
    }
}

/// Distinguishes snapshots built at the same log id (openraft asks ids to be unique); the time
/// is fine here because snapshot ids are local bookkeeping, not replicated state.
fn snapshot_id_suffix() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

#[cfg(test)]
impl StateMachineStore {
    /// The full applied state, for tests comparing a reopened store with the original.
    pub(crate) fn applied_for_test(&self) -> (Option<LogId<NodeId>>, Membership, ClusterState) {
        let a = self.inner.read();
        (a.last_applied, a.last_membership.clone(), a.state.clone())
    }
}
