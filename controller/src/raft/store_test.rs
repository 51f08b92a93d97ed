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
use redb::ReadableDatabase;
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

/// Overwrite one stored value with `bytes`, sealed with the store's data key when `sealed`.
fn spoil(dir: &Path, table: db::StrTable, key: &str, bytes: &[u8], sealed: bool) {
    let opened = db::Db::open(
        &dir.join("raft.redb"),
        &dir.join(at_rest::KEY_FILE_NAME),
        &at_rest::Keys::default(),
    )
    .expect("open");
    let db = opened.db;
    let value = if sealed {
        db.seal(bytes)
    } else {
        bytes.to_vec()
    };
    let txn = db.database().begin_write().expect("write");
    txn.open_table(table)
        .expect("table")
        .insert(key, value.as_slice())
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
        spoil(dir.path(), table, key, b"{not json", true);
        let e = open_error(dir.path());
        assert!(
            matches!(&e, Error::Decode { what: w, .. } if w == what),
            "{e:?}"
        );
        assert_tells_what_to_do(&e, dir.path());
        // A value in clear in an encrypted store was not written by the store.
        spoil(dir.path(), table, key, b"{}", false);
        let e = open_error(dir.path());
        assert!(
            matches!(&e, Error::Sealed { what: w, source: at_rest::KeyError::NotSealed, .. } if w == what),
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

/// Whether `needle` occurs anywhere in the store file.
fn file_contains(dir: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(dir.join("raft.redb")).expect("read the store");
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_store_file_holds_neither_the_ca_key_nor_a_token_secret_in_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let info = super::fixtures::cluster_info("c1");
    let mut all = entries();
    all.push(Entry {
        log_id: log_id(1, all.len() as u64 + 1),
        payload: EntryPayload::Normal(Command::InitCluster {
            cluster: info.clone(),
        }),
    });
    {
        let (mut log, mut sm) = open_store(dir.path()).expect("open");
        log.blocking_append(all.clone()).await.expect("append");
        sm.apply(all).await.expect("apply");
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("snapshot");
        sm.flush().await.expect("flush");
        assert_eq!(sm.read(|s| s.cluster.clone()), Some(info.clone()));
    }
    // The log entry, the applied identity and the snapshot each carried the secrets.
    let key_body = info.ca.key_pem.lines().nth(1).expect("a PEM body line");
    let worker = info
        .tokens
        .current(crds::node::NodeRole::Worker)
        .to_string();
    let manager = info
        .tokens
        .current(crds::node::NodeRole::Manager)
        .to_string();
    for needle in ["PRIVATE KEY", key_body, &worker, &manager, "sm_tasks"] {
        let found = file_contains(dir.path(), needle.as_bytes());
        // Table names are redb's own, in clear: the control shows the search works.
        assert_eq!(found, needle == "sm_tasks", "{needle:?} in the store file");
    }
    let worker_secret = worker.split('-').nth(4).expect("the secret part");
    assert!(!file_contains(dir.path(), worker_secret.as_bytes()));
    let reopened = loop {
        match open_store(dir.path()) {
            Ok((_, sm)) => break sm,
            Err(Error::InUse { .. }) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => panic!("reopen: {e}"),
        }
    };
    assert_eq!(reopened.read(|s| s.cluster.clone()), Some(info));
}

#[test]
fn the_unlock_key_is_kept_in_a_private_key_file_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open_store(dir.path()).expect("open"));
    let key_file = dir.path().join(at_rest::KEY_FILE_NAME);
    let text = std::fs::read_to_string(&key_file).expect("a key file");
    let key = at_rest::UnlockKey::parse(&text).expect("an unlock key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::remove_file(&key_file).expect("remove");
    let e = open_error(dir.path());
    assert!(matches!(e, Error::Locked { .. }), "{e:?}");
    assert!(e.to_string().contains("reconciler unlock"), "{e}");
    let wrong = at_rest::Keys {
        autolock: false,
        supplied: Some(at_rest::UnlockKey::generate()),
    };
    let e = open_store_with(dir.path(), &wrong).err().expect("refused");
    assert!(
        matches!(
            e,
            Error::Unlock {
                source: at_rest::KeyError::Wrong,
                ..
            }
        ),
        "{e:?}"
    );
    let right = at_rest::Keys {
        autolock: false,
        supplied: Some(key.clone()),
    };
    drop(open_store_with(dir.path(), &right).expect("the right key opens"));
    let again = std::fs::read_to_string(&key_file).expect("autolock off: the key is kept again");
    assert_eq!(at_rest::UnlockKey::parse(&again), Ok(key));
}

#[test]
fn autolock_shows_a_new_key_once_keeps_none_and_locks_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open_store(dir.path()).expect("open without autolock"));
    let key_file = dir.path().join(at_rest::KEY_FILE_NAME);
    let old = at_rest::UnlockKey::parse(&std::fs::read_to_string(&key_file).expect("key file"))
        .expect("a key");
    let autolock = at_rest::Keys {
        autolock: true,
        supplied: None,
    };
    let opened = open_store_with(dir.path(), &autolock).expect("turn autolock on");
    let new = opened.new_unlock_key.clone().expect("a new key is shown");
    assert_ne!(new, old);
    drop(opened);
    assert!(!key_file.exists(), "autolock keeps no key on disk");
    let e = open_store_with(dir.path(), &autolock)
        .err()
        .expect("locked");
    assert!(matches!(e, Error::Locked { .. }), "{e:?}");
    let old_key = at_rest::Keys {
        autolock: true,
        supplied: Some(old),
    };
    let e = open_store_with(dir.path(), &old_key)
        .err()
        .expect("the old key is void");
    assert!(matches!(e, Error::Unlock { .. }), "{e:?}");
    let new_key = at_rest::Keys {
        autolock: true,
        supplied: Some(new),
    };
    let opened = open_store_with(dir.path(), &new_key).expect("the shown key opens");
    assert!(opened.new_unlock_key.is_none());
    drop(opened);
    assert!(!key_file.exists());
}

#[test]
fn a_store_written_in_clear_is_sealed_when_first_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("raft.redb");
    {
        // What an older version wrote: JSON values and no data key.
        let db = redb::Database::create(&path).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(db::SM_META)
            .expect("table")
            .insert("version", b"7".as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let (_, sm) = open_store(dir.path()).expect("open an older store");
    assert_eq!(sm.read(|s| s.version), 7);
    drop(sm);
    let db = loop {
        match redb::Database::create(&path) {
            Ok(db) => break db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("open: {e}"),
        }
    };
    let txn = db.begin_read().expect("read");
    let table = txn.open_table(db::SM_META).expect("table");
    let value = table.get("version").expect("get").expect("kept");
    assert!(at_rest::is_sealed(value.value()), "sealed in place");
}
