//! A one-manager cluster in this process with simulated nodes: the real manager (Raft on disk,
//! orchestrators, scheduler, dispatcher, liveness) and [`controller::node::simulated`] nodes
//! running tasks on the fake executor. Tests and benchmarks of orchestration use it to drive
//! thousands of nodes without thousands of processes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::simulated::SimulatedConfig;
use controller::leader::liveness::Timing;
use controller::leader::manager::Manager;
use controller::node::runtime::{self, Options, Running};
use controller::node::simulated::{self, Handle, Shape};
use controller::raft::Command;
use controller::raft::command::NodeUpdate;
use controller::raft::state::ClusterState;
use controller::source::spec::SourceSpec;
use controller::sync::record::{AppliedRevision, RevisionInfo, RevisionRecord};
use crds::node::Availability;
use crds::revision::RevisionOrigin;
use crds::stack::Stack;
use crds::task::TaskState;

/// The manager and its simulated nodes.
pub struct SimCluster {
    /// The manager node.
    pub running: Running,
    /// Its manager parts.
    pub manager: Arc<Manager>,
    /// Simulated nodes, in creation order.
    pub nodes: Vec<Handle>,
    revision: u64,
}

impl SimCluster {
    /// Start a manager in `dir` (heartbeat `period`, down after 3 misses) and `count` simulated
    /// nodes of `shape`; the manager's own node is drained (it runs no agent here).
    pub async fn start(dir: &Path, count: usize, shape: &Shape, period: Duration) -> SimCluster {
        let options = Options {
            data_dir: dir.join("manager"),
            listen_addr: "127.0.0.1:0".parse().expect("address"),
            advertise_addr: None,
            hostname: Some("manager".into()),
            labels: BTreeMap::new(),
            timing: Timing { period, misses: 3 },
            raft: controller::raft::Config::default(),
            orchestration: Default::default(),
            agent: None,
            clock: agent::clock::Clock::system(),
            autolock: false,
            cert_expiry: None,
        };
        let running = runtime::start(&options, None)
            .await
            .expect("manager starts");
        let manager = running.manager.clone().expect("a manager");
        wait(Duration::from_secs(10), "leadership", || {
            manager.is_leader()
        })
        .await;
        manager
            .writer
            .write(Command::UpdateNode {
                id: manager.node_id.clone(),
                update: NodeUpdate {
                    availability: Some(Availability::Drain),
                    ..NodeUpdate::default()
                },
                at_ms: manager.clock.now_ms(),
            })
            .await
            .expect("drain the manager");
        let ids: Vec<String> = (0..count).map(|i| format!("sim-{i:05}")).collect();
        let stored = ids.iter().map(|id| simulated::node(id, shape)).collect();
        simulated::register(&manager, stored)
            .await
            .expect("register nodes");
        let nodes = ids
            .into_iter()
            .map(|id| simulated::spawn(manager.clone(), id, SimulatedConfig::default(), period))
            .collect();
        let cluster = SimCluster {
            running,
            manager,
            nodes,
            revision: 0,
        };
        cluster
            .wait_state(Duration::from_secs(60), "all nodes ready", |s| {
                s.nodes
                    .values()
                    .filter(|n| n.status.state == crds::node::NodeState::Ready)
                    .count()
                    > count
            })
            .await;
        cluster
    }

    /// Start simulated nodes with a custom fake executor (after [`SimCluster::start`] with 0).
    pub async fn add_nodes(&mut self, ids: &[&str], shape: &Shape, config: SimulatedConfig) {
        let stored = ids.iter().map(|id| simulated::node(id, shape)).collect();
        simulated::register(&self.manager, stored)
            .await
            .expect("register nodes");
        for id in ids {
            self.nodes.push(simulated::spawn(
                self.manager.clone(),
                (*id).to_owned(),
                config.clone(),
                Duration::from_secs(1),
            ));
        }
    }

    /// Commit `stacks` (name → stack file text) as the applied revision; returns when committed.
    pub async fn apply(&mut self, stacks: &[(&str, &str)]) {
        self.revision += 1;
        let stacks = stacks
            .iter()
            .map(|(name, text)| ((*name).to_owned(), stack(name, text)))
            .collect();
        let info = RevisionInfo {
            id: format!("rev{}", self.revision),
            origin: RevisionOrigin::Directory {
                path: "simulated".into(),
            },
            author: None,
            message: None,
            time_ms: None,
        };
        let record = RevisionRecord {
            applied: Some(AppliedRevision {
                revision: info.clone(),
                at_ms: self.manager.clock.now_ms(),
                stacks,
                warnings: Vec::new(),
            }),
            rejected: None,
            last_seen: Some(info),
            history: Vec::new(),
            source: None,
            source_failure: None,
        };
        // The revisions come from the test, as if from a watched directory.
        let source = SourceSpec::Directory {
            path: "simulated".into(),
            interval_ms: 60_000,
        };
        self.manager
            .writer
            .write(Command::SetSource {
                source: Some(source),
            })
            .await
            .expect("set the source");
        self.manager
            .writer
            .write(Command::RecordRevision { record })
            .await
            .expect("record the revision");
    }

    /// Read the replicated state.
    pub fn read<T>(&self, f: impl FnOnce(&ClusterState) -> T) -> T {
        self.manager.sm.read(f)
    }

    /// Wait (polling every 20 ms) until `done` holds for the state; panics with the state's
    /// task summary after `limit`.
    pub async fn wait_state(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&ClusterState) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            if self.read(&done) {
                return started.elapsed();
            }
            if started.elapsed() > limit {
                let summary = self.read(task_summary);
                panic!("{what}: not reached within {limit:?}; tasks: {summary}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Tasks of `service` observed running with desired running.
pub fn running(state: &ClusterState, service: &str) -> usize {
    state
        .tasks
        .values()
        .filter(|t| {
            t.service == service
                && t.status.state == TaskState::Running
                && t.desired_state == TaskState::Running
        })
        .count()
}

/// Every task in one line each: service.slot node desired/state message.
pub fn task_summary(state: &ClusterState) -> String {
    let mut lines: Vec<String> = state
        .tasks
        .values()
        .take(50)
        .map(|t| {
            format!(
                "{}.{} {} {:?}/{:?} {}",
                t.service,
                t.slot,
                t.node.as_deref().unwrap_or("-"),
                t.desired_state,
                t.status.state,
                t.status.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    lines.sort();
    format!("{} tasks\n{}", state.tasks.len(), lines.join("\n"))
}

/// A stack from its file text, loaded and normalised as the sync loop does.
pub fn stack(name: &str, text: &str) -> Stack {
    crds::stack::from_text(name, text).unwrap_or_else(|d| panic!("stack {name} loads: {d:?}"))
}

/// Wait until `done` returns true, polling every 20 ms.
pub async fn wait(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
