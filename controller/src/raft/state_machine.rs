//! The state machine: [`ClusterState`] in memory, mirrored object by object in redb.
//!
//! # Persistence
//! `apply` changes the state in memory and marks the objects its commands touched
//! ([`Command::keys`]) dirty; a background store task writes the dirty objects back, with the
//! last applied log id, the membership and the state version, in one durable redb transaction.
//! The file therefore always holds exactly the state at its stored `last_applied`, and a write
//! costs disk IO in proportion to the command, not to the cluster. Storing runs beside applying:
//! while a transaction is written, later entries are applied and their objects gathered, so an
//! object changed by several entries (a task created, then reported running) is written once.
//! The Raft log is the durable record: after a crash, openraft re-applies the committed entries
//! the file had not stored yet (the file is behind by at most one store transaction). A snapshot
//! is built only once the state it shows is stored, so the log it lets openraft purge is never
//! needed again. Snapshots (JSON of the whole state) serve followers that fell behind the log
//! and are kept in the `sm_snapshot` table. When a store transaction fails (a full disk), the
//! next `apply` fails with its error, which stops the node; what was acknowledged is in the log.
//!
//! # Readers
//! [`StateMachineStore::read`] gives a consistent view of the state; [`StateMachineStore::watch`]
//! wakes when its version changes, as soon as the change is applied in memory.
//!
//! [`Command::keys`]: crate::raft::command::Command::keys

use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
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

use crate::pki::PeerIdentity;
use crate::raft::changes::{ChangeFeed, Changes, Subscribers};
use crate::raft::cluster_info::ClusterInfo;
use crate::raft::command::Response;
use crate::raft::db::{self, Db, NODES, SERVICES, SM_META, SNAPSHOT, StrTable, TASKS};
use crate::raft::doors::{Door, Members, Refusal};
use crate::raft::state::{ClusterState, Key};
use crate::raft::{Error, NodeId, TypeConfig};
use crate::sync::record::RevisionRecord;
use crds::node::Node;
use crds::service::Service;
use crds::task::Task;

// Building, installing and reading snapshots; a child module so it shares `Shared` and `Writes`.
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
    subscribers: Subscribers,
    /// Objects changed in memory and not stored yet; `None` when the pointers are stored too.
    dirty: Mutex<Option<HashSet<Key>>>,
    /// A store task is running (it stores until nothing is dirty).
    storing: AtomicBool,
    /// One store transaction at a time, in order (the store task and snapshot installs).
    store_lock: tokio::sync::Mutex<()>,
    /// The last applied log id that is on disk.
    stored: watch::Sender<Option<LogId<NodeId>>>,
    /// Why storing failed: every later apply fails with it, which stops the node.
    failure: Mutex<Option<String>>,
    /// A copy of the nodes and the revocation list, kept current by `apply` (changed in place,
    /// node by node): heartbeats, liveness and the doors of the endpoint read it without
    /// queueing behind a long pass over the whole state (and a writer waiting for it).
    pub(crate) members: RwLock<Members>,
}

impl StateMachineStore {
    /// Load the applied state from the shared file (every stored value is decoded now).
    pub(crate) fn open(db: Arc<Db>) -> Result<StateMachineStore, Error> {
        let applied = load(&db)?;
        db.get::<SnapshotMeta<NodeId, BasicNode>>(SNAPSHOT, SNAPSHOT_META)?;
        let (version, _) = watch::channel(applied.state.version);
        let (stored, _) = watch::channel(applied.last_applied);
        let members = RwLock::new(Members::of(&applied.state));
        Ok(StateMachineStore {
            inner: Arc::new(Shared {
                db,
                applied: RwLock::new(applied),
                version,
                subscribers: Subscribers::default(),
                dirty: Mutex::new(None),
                storing: AtomicBool::new(false),
                store_lock: tokio::sync::Mutex::new(()),
                stored,
                failure: Mutex::new(None),
                members,
            }),
        })
    }

    /// Wait until everything applied so far is on disk (a clean stop, a snapshot).
    pub async fn flush(&self) -> Result<(), Error> {
        self.inner.flush().await
    }

    /// Read the nodes as last applied, without taking the state's lock: for the paths that must
    /// answer within a heartbeat whatever else reads the state. Keep `f` short: `apply` waits
    /// for it when a command changes a node.
    pub fn with_nodes<R>(&self, f: impl FnOnce(&BTreeMap<String, Node>) -> R) -> R {
        f(&self
            .inner
            .members
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .nodes)
    }

    /// Whether `peer` may come through `door` (see [`Members::admit`]), without taking the
    /// state's lock.
    pub fn admit(&self, peer: &PeerIdentity, door: Door, in_raft: bool) -> Result<(), Refusal> {
        (self
            .inner
            .members
            .read()
            .unwrap_or_else(PoisonError::into_inner))
        .admit(peer, door, in_raft)
    }

    /// One node as last applied (see [`StateMachineStore::with_nodes`]).
    pub fn node(&self, id: &str) -> Option<Node> {
        self.with_nodes(|nodes| nodes.get(id).cloned())
    }

    /// Follow the state version: the receiver sees a new value after each change is applied.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    /// Follow what changes in the state, object by object (see [`crate::raft::changes`]).
    pub fn changes(&self) -> ChangeFeed {
        self.inner.subscribers.subscribe()
    }

    /// Read the state; `f` runs under a read lock, so keep it short and free of IO. What it
    /// shows is applied (committed by a quorum); it reaches the file a moment later.
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

    /// Apply entries in memory, mark what they touched dirty, and return their responses with
    /// the new state version. The write lock is taken per entry, so readers (heartbeats, the
    /// leader's loops) wait for one entry at most, never for a whole batch.
    fn apply_entries(&self, entries: Vec<Entry<TypeConfig>>) -> (Vec<Response>, u64) {
        let mut responses = Vec::with_capacity(entries.len());
        let mut version = self.read().state.version;
        for entry in entries {
            let keys = match &entry.payload {
                EntryPayload::Normal(cmd) => cmd.keys(),
                _ => Vec::new(),
            };
            let mut applied = self.write();
            applied.last_applied = Some(entry.log_id);
            let mut changed = Changes::default();
            let response = match entry.payload {
                EntryPayload::Normal(cmd) => {
                    changed.record(&applied.state, &cmd);
                    applied.state.apply(&cmd)
                }
                EntryPayload::Membership(m) => {
                    applied.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    unchanged(&applied.state)
                }
                EntryPayload::Blank => unchanged(&applied.state),
            };
            responses.push(response);
            if changed.nodes || keys.contains(&Key::Cluster) {
                self.mirror_members(&applied.state, &keys);
            }
            let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
            dirty.get_or_insert_with(HashSet::new).extend(keys);
            drop(dirty);
            // Still under the write lock: whoever takes these changes reads a state that has them.
            self.subscribers.publish(changed);
            version = applied.state.version;
        }
        (responses, version)
    }

    /// Bring the copy of the members up to date with the nodes and the cluster among `keys`.
    fn mirror_members(&self, state: &ClusterState, keys: &[Key]) {
        let mut members = self.members.write().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            match key {
                Key::Node(id) => {
                    match state.nodes.get(id) {
                        Some(node) => members.nodes.insert(id.clone(), node.clone()),
                        None => members.nodes.remove(id),
                    };
                }
                Key::Cluster => {
                    members.revoked = Members::revoked_in(state);
                    members.initialised = state.cluster.is_some();
                }
                _ => {}
            }
        }
    }

    /// Start the store task unless one is running (it stores until nothing is dirty).
    fn store_soon(self: &Arc<Self>) {
        if self.storing.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            loop {
                match shared.store_dirty().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "storing the applied state failed");
                        *shared
                            .failure
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                        shared.storing.store(false, Ordering::Release);
                        return;
                    }
                }
                shared.storing.store(false, Ordering::Release);
                // Something may have turned dirty between the last look and the flag.
                let more = shared
                    .dirty
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some();
                if !more || shared.storing.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        });
    }

    /// Store what is dirty in one durable transaction; false when nothing was.
    async fn store_dirty(self: &Arc<Self>) -> Result<bool, Error> {
        let _one_at_a_time = self.store_lock.lock().await;
        if self
            .dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
        {
            return Ok(false);
        }
        // Copying hundreds of thousands of objects (and waiting for the state's lock), encoding
        // and writing them is work for a blocking thread, not for the async threads that serve
        // heartbeats: all of it runs in the store's one blocking call.
        let shared = self.clone();
        let stored = self
            .db
            .run(move |db| {
                let (objects, mut writes, last) = {
                    // The keys and the objects under one lock: the transaction is one applied
                    // state. Copies only: encoding happens after the lock is released.
                    let applied = shared.read();
                    let Some(keys) = shared
                        .dirty
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take()
                    else {
                        return Ok(None);
                    };
                    let objects: Vec<Object> =
                        keys.iter().map(|k| Object::of(&applied.state, k)).collect();
                    let mut pointers = Writes::default();
                    pointers.pointers(&applied)?;
                    (objects, pointers, applied.last_applied)
                };
                for object in objects {
                    writes.encoded(object)?;
                }
                writes.commit(db)?;
                Ok(Some(last))
            })
            .await?;
        let Some(last) = stored else {
            return Ok(false);
        };
        self.stored.send_replace(last);
        Ok(true)
    }

    /// Wait until the state applied now is on disk.
    async fn flush(self: &Arc<Self>) -> Result<(), Error> {
        let target = self.read().last_applied;
        self.flush_to(target).await
    }

    /// Wait until the state at `target` (or a later one) is on disk.
    async fn flush_to(self: &Arc<Self>, target: Option<LogId<NodeId>>) -> Result<(), Error> {
        let mut stored = self.stored.subscribe();
        loop {
            if let Some(why) = self
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return Err(Error::StoreFailed(why));
            }
            if *stored.borrow_and_update() >= target {
                return Ok(());
            }
            if self
                .dirty
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
            {
                self.store_soon();
            }
            // The store task may be between transactions: look again shortly either way.
            let _ =
                tokio::time::timeout(std::time::Duration::from_millis(50), stored.changed()).await;
        }
    }

    /// The failure of an earlier store, as the error every later apply reports.
    fn failed(&self) -> Result<(), Error> {
        match self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            Some(why) => Err(Error::StoreFailed(why)),
            None => Ok(()),
        }
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

/// A copy of one stored object as the state holds it (`None`: deleted), taken under the read
/// lock and encoded after it.
enum Object {
    Node(String, Option<Node>),
    // Services, the record and the identity are few; boxing the big variants keeps a million
    // task copies small.
    Service(String, Option<Box<Service>>),
    Task(String, Option<Task>),
    Revisions(Box<RevisionRecord>),
    Cluster(Box<Option<ClusterInfo>>),
}

impl Object {
    fn of(state: &ClusterState, key: &Key) -> Object {
        match key {
            Key::Node(id) => Object::Node(id.clone(), state.nodes.get(id).cloned()),
            Key::Service(id) => {
                Object::Service(id.clone(), state.services.get(id).cloned().map(Box::new))
            }
            Key::Task(id) => Object::Task(id.clone(), state.tasks.get(id).cloned()),
            Key::Revisions => Object::Revisions(Box::new(state.revisions.clone())),
            Key::Cluster => Object::Cluster(Box::new(state.cluster.clone())),
        }
    }
}

/// The writes of one durable transaction of the state machine.
#[derive(Default)]
struct Writes {
    /// Empty the object tables first (installing a snapshot).
    clear_objects: bool,
    /// `(table, id, JSON or None to delete)`.
    objects: Vec<(StrTable, String, Option<Vec<u8>>)>,
    /// `sm_meta` values.
    meta: Vec<(&'static str, Vec<u8>)>,
    /// A snapshot to keep as the current one: `(meta JSON, data)`.
    snapshot: Option<(Vec<u8>, Vec<u8>)>,
}

impl Writes {
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

    /// Write back a copied object.
    fn encoded(&mut self, object: Object) -> Result<(), Error> {
        let (table, id, value) = match object {
            Object::Node(id, node) => (NODES, id, node.as_ref().map(json).transpose()?),
            Object::Service(id, s) => (SERVICES, id, s.as_ref().map(json).transpose()?),
            Object::Task(id, task) => (TASKS, id, task.as_ref().map(json).transpose()?),
            Object::Revisions(record) => {
                self.meta.push((REVISIONS, json(&record)?));
                return Ok(());
            }
            Object::Cluster(cluster) => {
                self.meta.push((CLUSTER, json(&cluster)?));
                return Ok(());
            }
        };
        self.objects.push((table, id, value));
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
    fn everything(applied: &Applied) -> Result<Writes, Error> {
        let mut changes = Writes {
            clear_objects: true,
            ..Writes::default()
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
                    Some(bytes) => t.insert(id.as_str(), db.seal(bytes).as_slice()).map(drop),
                    None => t.remove(id.as_str()).map(drop),
                }
                .map_err(|e| db.error(e))?;
            }
            let mut meta = txn.open_table(SM_META).map_err(|e| db.error(e))?;
            for (key, bytes) in &self.meta {
                meta.insert(*key, db.seal(bytes).as_slice())
                    .map_err(|e| db.error(e))?;
            }
            if let Some((meta, data)) = &self.snapshot {
                let mut t = txn.open_table(SNAPSHOT).map_err(|e| db.error(e))?;
                t.insert(SNAPSHOT_META, db.seal(meta).as_slice())
                    .map_err(|e| db.error(e))?;
                t.insert(SNAPSHOT_DATA, db.seal(data).as_slice())
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
        self.inner
            .failed()
            .map_err(|e| sm_error(e, ErrorVerb::Write))?;
        // Applying a big entry is CPU work, and waiting for the write lock blocks: both belong
        // off the async threads that carry heartbeats and RPCs.
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let shared = self.inner.clone();
        let (responses, version) =
            tokio::task::spawn_blocking(move || shared.apply_entries(entries))
                .await
                .map_err(|e| sm_error(Error::Task(e), ErrorVerb::Write))?;
        if responses.is_empty() {
            return Ok(responses);
        }
        self.inner.store_soon();
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
