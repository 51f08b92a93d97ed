//! Tests of the redb stores: openraft's conformance suite, restart recovery, corruption.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader, RaftSnapshotBuilder,
    StorageError, Vote,
};
use tempfile::TempDir;

use super::fixtures::script;

use super::*;

/// Opens the stores in a fresh temporary directory, removed when the guard drops.
struct TempStores;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for TempStores {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, sm) = open_store(dir.path()).expect("open a fresh store");
        Ok((dir, log, sm))
    }
}

#[test]
fn the_stores_pass_openraft_conformance_suite() {
    Suite::test_all(TempStores).expect("conformance");
}

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// A membership entry, then the scripted commands, from index 1.
fn entries() -> Vec<Entry<TypeConfig>> {
    let membership = Membership::new(vec![BTreeSet::from([1])], None);
    let mut out = vec![Entry {
        log_id: log_id(1, 1),
        payload: EntryPayload::Membership(membership),
    }];
    for (i, cmd) in script().into_iter().enumerate() {
        out.push(Entry {
            log_id: log_id(1, i as u64 + 2),
            payload: EntryPayload::Normal(cmd),
        });
    }
    out
}

/// Everything a restart must recover.
#[derive(Debug, PartialEq)]
struct Observed {
    log_state: (Option<LogId<NodeId>>, Option<LogId<NodeId>>),
    log: Vec<String>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    applied: (Option<LogId<NodeId>>, String, ClusterState),
    snapshot: Option<(String, Vec<u8>)>,
}

async fn observe(log: &mut LogStore, sm: &mut StateMachineStore) -> Observed {
    let state = log.get_log_state().await.expect("log state");
    let entries = log.try_get_log_entries(..).await.expect("entries");
    let (last_applied, membership, cluster) = sm.applied_for_test();
    let snapshot = sm.get_current_snapshot().await.expect("snapshot");
    Observed {
        log_state: (state.last_purged_log_id, state.last_log_id),
        log: entries.iter().map(|e| format!("{e:?}")).collect(),
        vote: log.read_vote().await.expect("vote"),
        committed: log.read_committed().await.expect("committed"),
        applied: (last_applied, format!("{membership:?}"), cluster),
        snapshot: snapshot.map(|s| (format!("{:?}", s.meta), s.snapshot.into_inner())),
    }
}

#[tokio::test]
async fn a_reopened_store_has_the_same_log_vote_and_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let (mut log, mut sm) = open_store(dir.path()).expect("open");
        log.save_vote(&Vote::new_committed(1, 1))
            .await
            .expect("vote");
        log.blocking_append(entries()).await.expect("append");
        log.truncate(log_id(1, 9))
            .await
            .expect("truncate the last entry");
        log.purge(log_id(1, 2)).await.expect("purge");
        log.save_committed(Some(log_id(1, 8)))
            .await
            .expect("committed");
        let applied: Vec<_> = entries().into_iter().take(8).collect();
        sm.apply(applied).await.expect("apply");
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("snapshot");
        observe(&mut log, &mut sm).await
    };
    assert_eq!(before.log_state, (Some(log_id(1, 2)), Some(log_id(1, 8))));
    assert_eq!(before.applied.0, Some(log_id(1, 8)));
    assert_eq!(before.applied.2.version, 7);
    let (mut log, mut sm) = open_store(dir.path()).expect("reopen");
    assert_eq!(observe(&mut log, &mut sm).await, before);
}

#[tokio::test]
async fn applied_entries_reach_the_file_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let applied = {
        let (_, mut sm) = open_store(dir.path()).expect("open");
        sm.apply(entries()).await.expect("apply");
        sm.flush().await.expect("flush");
        sm.applied_for_test()
    };
    // The store task lets go of the file once it has nothing left to store.
    let reopened = loop {
        match open_store(dir.path()) {
            Ok((_, sm)) => break sm,
            Err(Error::InUse { .. }) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => panic!("reopen: {e}"),
        }
    };
    assert_eq!(reopened.applied_for_test(), applied);
}

#[tokio::test]
async fn an_installed_snapshot_survives_a_restart() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let (_, mut leader) = open_store(leader_dir.path()).expect("open");
    leader.apply(entries()).await.expect("apply");
    let snapshot = leader
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build");
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (_, mut follower) = open_store(dir.path()).expect("open");
        let mut watch = follower.watch();
        follower
            .install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .expect("install");
        assert!(watch.has_changed().expect("sender alive"));
        assert_eq!(*watch.borrow_and_update(), 8);
    }
    let (_, follower) = open_store(dir.path()).expect("reopen");
    assert_eq!(follower.applied_for_test(), leader.applied_for_test());
}

#[tokio::test]
async fn watchers_wake_after_a_change_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, mut sm) = open_store(dir.path()).expect("open");
    let mut watch = sm.watch();
    assert_eq!(*watch.borrow_and_update(), 0);
    sm.apply(entries().into_iter().take(2))
        .await
        .expect("apply");
    watch.changed().await.expect("a new version");
    assert_eq!(*watch.borrow_and_update(), 1);
    assert_eq!(sm.read(|s| s.nodes.len()), 1);
}

fn open_error(dir: &Path) -> Error {
    match open_store(dir) {
        Ok(_) => panic!("a damaged store must not open"),
        Err(e) => e,
    }
}

fn assert_tells_what_to_do(e: &Error, dir: &Path) {
    let text = e.to_string();
    assert!(
        text.contains(&dir.join("raft.redb").display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("restore it from a backup or remove the data directory"),
        "{text}"
    );
}

#[test]
fn a_garbage_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(dir.path().join("raft.redb"), garbage).expect("write");
    let e = open_error(dir.path());
    assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
    assert_tells_what_to_do(&e, dir.path());
}

#[tokio::test]
async fn a_damaged_page_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (mut log, _) = open_store(dir.path()).expect("open");
        log.blocking_append(entries()).await.expect("append");
    }
    let path = dir.path().join("raft.redb");
    let mut bytes = std::fs::read(&path).expect("read");
    // Past the header: the data pages.
    for b in bytes.iter_mut().skip(4096).step_by(97) {
        *b = !*b;
    }
    std::fs::write(&path, bytes).expect("write");
    let e = open_error(dir.path());
    assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
    assert_tells_what_to_do(&e, dir.path());
}

/// Overwrite one stored value with bytes that are not JSON.
fn spoil(dir: &Path, table: db::StrTable, key: &str) {
    let db = redb::Database::create(dir.join("raft.redb")).expect("open redb");
    let txn = db.begin_write().expect("write");
    txn.open_table(table)
        .expect("table")
        .insert(key, b"{not json".as_slice())
        .expect("insert");
    txn.commit().expect("commit");
}

#[tokio::test]
async fn an_undecodable_value_is_reported_with_its_place() {
    for (table, key, what) in [
        (db::LOG_META, "vote", "raft_meta/vote"),
        (db::TASKS, "t1", "sm_tasks/t1"),
        (db::SM_META, "membership", "sm_meta/membership"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, mut sm) = open_store(dir.path()).expect("open");
            log.save_vote(&Vote::new(1, 1)).await.expect("vote");
            sm.apply(entries()).await.expect("apply");
            sm.flush().await.expect("flush");
        }
        spoil(dir.path(), table, key);
        let e = open_error(dir.path());
        assert!(
            matches!(&e, Error::Decode { what: w, .. } if w == what),
            "{e:?}"
        );
        assert_tells_what_to_do(&e, dir.path());
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = open_store(dir.path()).expect("open");
    assert!(matches!(open_error(dir.path()), Error::InUse { .. }));
}
