//! Snapshots of the state machine: JSON of the applied state (`last_applied`,
//! `last_membership`, `state`), kept sealed as the current snapshot in the `sm_snapshot` table
//! and handed to openraft (and so to followers, inside mutual TLS) in clear.

use super::*;

/// Serialize the applied state and keep it as the current snapshot (unless a newer one, e.g. a
/// snapshot installed meanwhile, is already kept).
pub(super) async fn build(
    shared: &Arc<Shared>,
    id_suffix: u128,
) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
    let failed = |e| db::to_raft(e, ErrorSubject::Snapshot(None), ErrorVerb::Write);
    let (meta, data) = {
        // Encode under the read lock: the three parts must describe the same moment.
        let applied = shared.read();
        let data = db::encode("snapshot", &*applied).map_err(failed)?;
        let snapshot_id = match applied.last_applied {
            Some(id) => format!("{}-{}-{id_suffix}", id.leader_id, id.index),
            None => format!("empty-{id_suffix}"),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.last_membership.clone(),
            snapshot_id,
        };
        (meta, data)
    };
    // openraft purges the log up to the snapshot: what it shows must be on disk first, or a
    // crash would leave the file behind a log that can no longer replay the difference.
    shared.flush_to(meta.last_log_id).await.map_err(failed)?;
    tracing::debug!(snapshot = %meta, bytes = data.len(), "built a snapshot");
    let meta_bytes = db::encode("snapshot meta", &meta).map_err(failed)?;
    let (last, kept) = (meta.last_log_id, data.clone());
    shared
        .db
        .run(move |db| keep_if_newer(db, last, meta_bytes, kept))
        .await
        .map_err(failed)?;
    Ok(Snapshot {
        meta,
        snapshot: Box::new(Cursor::new(data)),
    })
}

/// Store a built snapshot unless the kept one covers more of the log.
fn keep_if_newer(
    db: &Db,
    last: Option<LogId<NodeId>>,
    meta: Vec<u8>,
    data: Vec<u8>,
) -> Result<(), Error> {
    let txn = db.database().begin_write().map_err(|e| db.error(e))?;
    {
        let mut table = txn.open_table(SNAPSHOT).map_err(|e| db.error(e))?;
        let kept_last = match table.get(SNAPSHOT_META).map_err(|e| db.error(e))? {
            Some(bytes) => {
                let kept: SnapshotMeta<NodeId, BasicNode> =
                    db.decode("sm_snapshot/meta", bytes.value())?;
                kept.last_log_id
            }
            None => None,
        };
        if kept_last > last {
            return Ok(());
        }
        table
            .insert(SNAPSHOT_META, db.seal(&meta).as_slice())
            .map_err(|e| db.error(e))?;
        table
            .insert(SNAPSHOT_DATA, db.seal(&data).as_slice())
            .map_err(|e| db.error(e))?;
    }
    txn.commit().map_err(|e| db.error(e))
}

/// Replace the state with a snapshot received from the leader: on disk first (objects, pointers
/// and the snapshot itself in one transaction), then in memory.
pub(super) async fn install(
    shared: &Arc<Shared>,
    meta: &SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
) -> Result<(), StorageError<NodeId>> {
    let subject = ErrorSubject::Snapshot(Some(meta.signature()));
    let failed = |e| db::to_raft(e, subject.clone(), ErrorVerb::Write);
    let mut applied: Applied = shared
        .db
        .parse("received snapshot", &data)
        .map_err(failed)?;
    // The meta is what openraft acts on; the state must be filed under the same pointers.
    applied.last_applied = meta.last_log_id;
    applied.last_membership = meta.last_membership.clone();
    let mut changes = Writes::everything(&applied).map_err(failed)?;
    changes.snapshot = Some((db::encode("snapshot meta", meta).map_err(failed)?, data));
    // No store transaction of the replaced state may land after this one.
    let _one_at_a_time = shared.store_lock.lock().await;
    shared
        .db
        .run(move |db| changes.commit(db))
        .await
        .map_err(failed)?;
    let version = applied.state.version;
    let last = applied.last_applied;
    {
        let mut state = shared.write();
        *shared
            .members
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Members::of(&applied.state);
        *state = applied;
        *shared.dirty.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
    shared.stored.send_replace(last);
    shared.subscribers.publish(Changes::everything());
    shared.publish(version);
    tracing::info!(snapshot = %meta, version, "installed a snapshot from the leader");
    Ok(())
}

/// The kept snapshot, if one was built or installed.
pub(super) async fn current(
    shared: &Arc<Shared>,
) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
    shared
        .db
        .run(read_current)
        .await
        .map_err(|e| db::to_raft(e, ErrorSubject::Snapshot(None), ErrorVerb::Read))
}

fn read_current(db: &Db) -> Result<Option<Snapshot<TypeConfig>>, Error> {
    let txn = db.database().begin_read().map_err(|e| db.error(e))?;
    let table = txn.open_table(SNAPSHOT).map_err(|e| db.error(e))?;
    let meta = table.get(SNAPSHOT_META).map_err(|e| db.error(e))?;
    let data = table.get(SNAPSHOT_DATA).map_err(|e| db.error(e))?;
    let (Some(meta), Some(data)) = (meta, data) else {
        return Ok(None);
    };
    Ok(Some(Snapshot {
        meta: db.decode("sm_snapshot/meta", meta.value())?,
        snapshot: Box::new(Cursor::new(
            db.open_sealed("sm_snapshot/data", data.value())?,
        )),
    }))
}
