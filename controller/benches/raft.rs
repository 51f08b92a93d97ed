//! What the replicated store costs: durable write throughput and manager recovery time.
//!
//! Two figures, with the crate's real Raft (openraft over redb, every append one fsync):
//!
//! 1. **Committed writes per second**: three managers in this process, Raft RPC over HTTPS with
//!    mutual TLS on 127.0.0.1, and many concurrent `client_write`s of ~1 KiB `UpsertNode`
//!    commands on the leader. A write counts once `client_write` returns: committed by a
//!    quorum and applied on the leader. Reports writes/s and p50/p99 commit latency.
//! 2. **Recovery time**: a one-manager cluster writes N commands (log compaction off, so the
//!    log holds them all), shuts down, and is timed from `open_store` until it leads again and
//!    one more write commits. Then the same with the default snapshot policy, for comparison.
//!
//! ```text
//!  64 tasks ──client_write──▶ leader ──AppendEntries (mTLS, h2)──▶ follower ×2
//!                               │ redb append + fsync                 │ redb append + fsync
//!                               ◀────────────── quorum ack ───────────┘
//!                               └▶ apply (redb write-back + fsync) ──▶ client_write returns
//! ```
//!
//! Run: `cargo bench -p controller --bench raft`. Scale with `RAFT_BENCH_WRITES` (measured
//! writes, default 20,000), `RAFT_BENCH_WARMUP` (2,000), `RAFT_BENCH_CONCURRENCY` (64),
//! `RAFT_BENCH_ENTRIES` (log entries before the restart, 100,000) and `RAFT_BENCH_NODES`
//! (distinct nodes the recovery writes cycle over, 1,000).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use controller::pki::ClusterCa;
use controller::pki::tls;
use controller::raft::network::{Network, router, serve_tls};
use controller::raft::{
    Command, Config, DB_FILE_NAME, Error, LogStore, NodeId, Raft, Response, StateMachineStore,
    TypeConfig, open_store,
};
use crds::meta::ObjectMeta;
use crds::node::{Node, NodeRole};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, ServerState};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Bytes of label value per command; with the rest of the entry, about 1 KiB in the log.
const PAYLOAD_BYTES: usize = 1000;
const WAIT: Option<Duration> = Some(Duration::from_secs(30));
const CERT_VALIDITY: Duration = Duration::from_secs(24 * 60 * 60);

/// A numeric setting from the environment, or `default`.
fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
        Err(_) => default,
    }
}

/// An `UpsertNode` of node `id` carrying [`PAYLOAD_BYTES`] of label.
fn upsert(id: usize) -> Command {
    let labels = BTreeMap::from([("payload".to_owned(), "x".repeat(PAYLOAD_BYTES))]);
    Command::UpsertNode {
        node: Node {
            meta: ObjectMeta {
                id: format!("n{id}"),
                labels,
                ..ObjectMeta::default()
            },
            ..Node::default()
        },
        at_ms: 1_000,
    }
}

/// Writes commands `first..first + count` to `raft` from `concurrency` tasks (command `i`
/// upserts node `i % nodes`); returns the latency of each write.
async fn write_concurrently(
    raft: &Raft,
    first: usize,
    count: usize,
    nodes: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + count;
    let tasks: Vec<JoinHandle<Vec<Duration>>> = (0..concurrency)
        .map(|_| {
            let (raft, next) = (raft.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        return latencies;
                    }
                    let started = Instant::now();
                    let written = raft.client_write(upsert(i % nodes)).await.expect("write");
                    latencies.push(started.elapsed());
                    assert!(
                        matches!(written.data, Response::Ok { .. }),
                        "{:?}",
                        written.data
                    );
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await.expect("writer task"));
    }
    latencies
}

/// The `q`-quantile (0..=1) of `sorted`, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    // Truncation is the point: an index into the sorted samples.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at].as_secs_f64() * 1e3
}

/// One manager: its store, Raft and RPC server.
struct Manager {
    id: NodeId,
    raft: Raft,
    addr: String,
    stop: CancellationToken,
    server: JoinHandle<()>,
    _dir: TempDir,
}

impl Manager {
    async fn start(id: NodeId, ca: &ClusterCa) -> Manager {
        let dir = tempfile::tempdir().expect("temp data dir");
        let (log, sm) = open_store(dir.path()).expect("open the store");
        let cert = ca
            .issue_node_cert(
                &format!("m{id}"),
                NodeRole::Manager,
                &[LOCALHOST],
                &[],
                CERT_VALIDITY,
            )
            .expect("node certificate");
        let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("local addr").to_string();
        let config = Config::default().to_openraft("bench").expect("config");
        let retry = Config::default().unreachable_retry();
        let network = Network::new(
            ca.cert(),
            controller::pki::CurrentCert::new(ca.cert(), &cert).expect("cert"),
            retry,
        )
        .expect("network");
        let raft = Raft::new(id, config, network, log, sm.clone())
            .await
            .expect("start raft");
        let server_tls = tls::server_config(ca.cert(), &cert).expect("server tls");
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve_tls(
            listener,
            server_tls,
            router(raft.clone(), sm),
            stop.clone(),
        ));
        Manager {
            id,
            raft,
            addr,
            stop,
            server,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.raft.shutdown().await.expect("shutdown");
        self.stop.cancel();
        self.server.await.expect("server task");
    }
}

/// Figure 1: committed 1 KiB writes per second on a three-manager cluster.
async fn bench_writes(warmup: usize, writes: usize, concurrency: usize) {
    let ca = ClusterCa::generate("bench").expect("cluster CA");
    let mut managers = Vec::new();
    for id in 1..=3 {
        managers.push(Manager::start(id, &ca).await);
    }
    let members: BTreeMap<NodeId, BasicNode> = managers
        .iter()
        .map(|m| (m.id, BasicNode::new(&m.addr)))
        .collect();
    managers[0]
        .raft
        .initialize(members)
        .await
        .expect("initialize");
    let metrics = managers[0]
        .raft
        .wait(WAIT)
        .metrics(|m| m.current_leader.is_some(), "a leader is known")
        .await
        .expect("leader");
    let leader_id = metrics.current_leader.expect("leader id");
    let leader = &managers
        .iter()
        .find(|m| m.id == leader_id)
        .expect("the leader is a member")
        .raft;
    leader
        .wait(WAIT)
        .state(ServerState::Leader, "leader leads")
        .await
        .expect("leader state");

    // Every write creates a new node: distinct ids, so the state grows as the log does.
    write_concurrently(leader, 0, warmup, usize::MAX, concurrency).await;
    let started = Instant::now();
    let mut latencies = write_concurrently(leader, warmup, writes, usize::MAX, concurrency).await;
    let took = started.elapsed();
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let rate = writes as f64 / took.as_secs_f64();
    println!(
        "writes/s 1KiB 3 managers: {rate:.0}/s (p50 {:.1} ms, p99 {:.1} ms; {writes} writes from \
         {concurrency} tasks in {:.2} s, after {warmup} warm-up writes)",
        quantile_ms(&latencies, 0.5),
        quantile_ms(&latencies, 0.99),
        took.as_secs_f64(),
    );
    for m in managers {
        m.stop().await;
    }
}

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

/// Opens the stores once the previous Raft on `dir` has let go of the file: `Raft::shutdown`
/// joins the core task, but openraft's state-machine worker ends a moment later.
async fn reopen(dir: &Path) -> (LogStore, StateMachineStore) {
    for _ in 0..500 {
        match open_store(dir) {
            Err(Error::InUse { .. }) => tokio::time::sleep(Duration::from_millis(10)).await,
            other => return other.expect("open the store"),
        }
    }
    panic!("the previous Raft never released {}", dir.display());
}

/// Starts the single manager 1 on `dir` and waits until it leads.
async fn start_single(dir: &Path, config: &Config) -> (Raft, StateMachineStore) {
    let (log, sm) = reopen(dir).await;
    let config = config.to_openraft("bench").expect("config");
    let raft = Raft::new(1, config, NoPeers, log, sm.clone())
        .await
        .expect("start raft");
    (raft, sm)
}

async fn wait_leader(raft: &Raft) {
    raft.wait(WAIT)
        .state(ServerState::Leader, "the single manager leads")
        .await
        .expect("leader");
}

/// Figure 2: a single manager writes `entries` commands, stops, and is timed back to its first
/// committed write. `snapshot_every` decides how much of that is still in the log.
async fn bench_recovery(label: &str, snapshot_every: u64, entries: usize, nodes: usize) {
    let config = Config {
        snapshot_every,
        ..Config::default()
    };
    let dir = tempfile::tempdir().expect("temp data dir");
    let (raft, sm) = start_single(dir.path(), &config).await;
    let members = BTreeMap::from([(1, BasicNode::new("127.0.0.1:0"))]);
    raft.initialize(members).await.expect("initialize");
    wait_leader(&raft).await;
    let started = Instant::now();
    write_concurrently(&raft, 0, entries, nodes, 256).await;
    let filled = started.elapsed();
    raft.shutdown().await.expect("shutdown");
    drop((raft, sm));
    let file = std::fs::metadata(dir.path().join(DB_FILE_NAME))
        .expect("raft.redb")
        .len();

    // Waiting for the file to be released is not part of recovery: a restarted process
    // starts with it free.
    let (log, sm) = reopen(dir.path()).await;
    drop((log, sm));
    let started = Instant::now();
    let (log, sm) = open_store(dir.path()).expect("open the store");
    let opened = started.elapsed();
    let openraft_config = config.to_openraft("bench").expect("config");
    let raft = Raft::new(1, openraft_config, NoPeers, log, sm.clone())
        .await
        .expect("start raft");
    let created = started.elapsed();
    wait_leader(&raft).await;
    let led = started.elapsed();
    raft.client_write(upsert(0))
        .await
        .expect("write after restart");
    let total = started.elapsed();

    let metrics = raft.metrics().borrow().clone();
    let last = metrics.last_log_index.unwrap_or(0);
    let purged = metrics.purged.map_or(0, |p| p.index + 1);
    let in_log = last - purged;
    let state_nodes = sm.read(|s| s.nodes.len());
    println!(
        "recovery {label}: {:.0} ms (open_store {:.0} ms, Raft::new {:.0} ms, leader {:.0} ms, \
         first write {:.0} ms); {in_log} entries in the log, snapshot at {:?}, raft.redb \
         {:.1} MiB, {state_nodes} nodes in the state; {entries} writes to fill took {:.1} s",
        ms(total),
        ms(opened),
        ms(created - opened),
        ms(led - created),
        ms(total - led),
        metrics.snapshot.map(|s| s.index),
        mib(file),
        filled.as_secs_f64(),
    );
    raft.shutdown().await.expect("shutdown");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let writes = env_usize("RAFT_BENCH_WRITES", 20_000);
    let warmup = env_usize("RAFT_BENCH_WARMUP", 2_000);
    let concurrency = env_usize("RAFT_BENCH_CONCURRENCY", 64);
    let entries = env_usize("RAFT_BENCH_ENTRIES", 100_000);
    let nodes = env_usize("RAFT_BENCH_NODES", 1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        bench_writes(warmup, writes, concurrency).await;
        let no_compaction = u64::try_from(entries).expect("entries fit u64") * 2 + 1;
        bench_recovery("log only", no_compaction, entries, nodes).await;
        let default_every = Config::default().snapshot_every;
        bench_recovery(
            &format!("with snapshots every {default_every}"),
            default_every,
            entries,
            nodes,
        )
        .await;
    });
}
