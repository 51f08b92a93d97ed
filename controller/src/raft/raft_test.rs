//! A single-manager Raft over the redb stores: commands commit, apply, and survive a restart.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, ServerState};

use super::fixtures::{node, script};
use super::*;

/// The network of a cluster of one: there is never anyone to call.
struct NoPeers;

fn unreachable<E: std::error::Error>() -> RPCError<NodeId, BasicNode, E> {
    RPCError::Unreachable(Unreachable::new(&std::io::Error::other("a cluster of one")))
}

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, _target: NodeId, _node: &BasicNode) -> NoPeers {
        NoPeers
    }
}

impl RaftNetwork<TypeConfig> for NoPeers {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(unreachable())
    }
}

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

/// Open the stores, waiting for a previous Raft on the same directory to let go of the file:
/// `Raft::shutdown` joins the core task, but openraft's state-machine worker ends a moment later.
async fn reopen(dir: &std::path::Path) -> (LogStore, StateMachineStore) {
    for _ in 0..100 {
        match open_store(dir) {
            Err(Error::InUse { .. }) => tokio::time::sleep(Duration::from_millis(20)).await,
            other => return other.expect("open"),
        }
    }
    panic!("the previous Raft never released {}", dir.display());
}

/// Start manager 1 on `dir`.
async fn start(dir: &std::path::Path) -> (Raft, StateMachineStore) {
    let (log, sm) = reopen(dir).await;
    let config = Config::default().to_openraft("test").expect("config");
    let raft = Raft::new(1, config, NoPeers, log, sm.clone())
        .await
        .expect("raft");
    (raft, sm)
}

async fn wait_leader(raft: &Raft) {
    raft.wait(WAIT)
        .state(ServerState::Leader, "single manager leads")
        .await
        .expect("leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_manager_commits_applies_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (raft, sm) = start(dir.path()).await;
    let members = BTreeMap::from([(1, BasicNode::new("127.0.0.1:0"))]);
    raft.initialize(members).await.expect("initialize");
    wait_leader(&raft).await;

    let mut watch = sm.watch();
    let written = raft
        .client_write(Command::UpsertNode {
            node: node("n1"),
            at_ms: 42,
        })
        .await
        .expect("write");
    let ok = Response::Ok {
        version: 1,
        ignored: 0,
    };
    assert_eq!(written.data, ok);
    assert_eq!(*watch.borrow_and_update(), 1);
    assert_eq!(sm.read(|s| s.nodes["n1"].meta.created_at_ms), 42);

    for cmd in script() {
        let written = raft.client_write(cmd).await.expect("write");
        assert!(
            matches!(written.data, Response::Ok { .. }),
            "{:?}",
            written.data
        );
    }
    raft.trigger().snapshot().await.expect("snapshot");
    let last = sm.last_applied();
    raft.wait(WAIT)
        .snapshot(last.expect("applied"), "snapshot built")
        .await
        .expect("snapshot");
    let before = sm.read(Clone::clone);
    raft.shutdown().await.expect("shutdown");
    drop((raft, sm));

    let (raft, sm) = start(dir.path()).await;
    assert_eq!(
        sm.read(Clone::clone),
        before,
        "state is back before any replay"
    );
    wait_leader(&raft).await;
    let written = raft
        .client_write(Command::RemoveNode { id: "n1".into() })
        .await
        .expect("write after restart");
    assert_eq!(
        written.data,
        Response::Ok {
            version: before.version + 1,
            ignored: 0
        }
    );
    raft.shutdown().await.expect("shutdown");
}
