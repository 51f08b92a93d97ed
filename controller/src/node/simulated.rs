//! Simulated nodes inside a manager's process, for tests and benchmarks that need thousands of
//! nodes: each is a real cluster node (stored through Raft, heartbeating the leader's liveness,
//! holding a dispatcher session) whose tasks run on [`agent::simulated`].
//!
//! Everything after the node's front door is the production path: liveness declares a silent
//! node down, the orchestrators and scheduler decide, the dispatcher streams assignments, status
//! reports are batched into Raft. Only the transport (HTTPS) and the executor are simulated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::simulated::{SimulatedConfig, SimulatedNode};
use crds::meta::ObjectMeta;
use crds::node::{Node, NodeDescription, NodeSpec, NodeState, NodeStatus};
use crds::units::{ByteSize, Cpus};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::api::session::mark_ready;
use crate::leader::manager::Manager;
use crate::leader::writer::WriteError;
use crate::raft::Command;

/// What a simulated node looks like to the cluster.
#[derive(Debug, Clone)]
pub struct Shape {
    /// CPUs (whole).
    pub cpus: u64,
    /// Memory in bytes.
    pub memory: u64,
    /// Node labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The stored node for simulated node `id`.
pub fn node(id: &str, shape: &Shape) -> Node {
    Node {
        meta: ObjectMeta {
            id: id.to_owned(),
            ..ObjectMeta::default()
        },
        spec: NodeSpec {
            labels: shape.labels.clone(),
            ..NodeSpec::default()
        },
        description: NodeDescription {
            hostname: id.to_owned(),
            advertise_addr: "127.0.0.1".to_owned(),
            os: "linux".to_owned(),
            arch: "x86_64".to_owned(),
            cpus: Cpus(shape.cpus * 1_000_000_000),
            memory: ByteSize(shape.memory),
            engine_version: Some("simulated".to_owned()),
            ..NodeDescription::default()
        },
        status: NodeStatus {
            state: NodeState::Unknown,
            ..NodeStatus::default()
        },
    }
}

/// Store `nodes` through Raft, a few writes at a time.
pub async fn register(manager: &Manager, nodes: Vec<Node>) -> Result<(), WriteError> {
    let mut nodes = nodes.into_iter();
    loop {
        let group: Vec<Node> = nodes.by_ref().take(64).collect();
        if group.is_empty() {
            return Ok(());
        }
        let writes = group.into_iter().map(|node| {
            manager.writer.write(Command::UpsertNode {
                node,
                at_ms: manager.clock.now_ms(),
            })
        });
        for result in futures_util::future::join_all(writes).await {
            result?;
        }
    }
}

/// Instructions to a running simulated node.
#[derive(Debug)]
pub enum Control {
    /// A running task dies.
    Crash(String),
    /// The node hangs: no heartbeats, no session, its tasks keep "running" (SIGSTOP).
    Freeze,
    /// The node comes back and reconnects.
    Thaw,
}

/// A running simulated node.
pub struct Handle {
    /// Its node id.
    pub id: String,
    control: mpsc::UnboundedSender<Control>,
    task: JoinHandle<()>,
}

impl Handle {
    /// Send an instruction (ignored if the node stopped).
    pub fn control(&self, control: Control) {
        let _ = self.control.send(control);
    }

    /// Stop the node for good.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Run simulated node `id` (already registered) against `manager`, heartbeating every `period`.
pub fn spawn(
    manager: Arc<Manager>,
    id: String,
    config: SimulatedConfig,
    period: Duration,
) -> Handle {
    let (control, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(
        manager,
        id.clone(),
        SimulatedNode::new(config),
        period,
        rx,
    ));
    Handle { id, control, task }
}

async fn run(
    manager: Arc<Manager>,
    id: String,
    mut fake: SimulatedNode,
    period: Duration,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut frozen = false;
    let mut session = None;
    let mut beat = tokio::time::interval(period);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = beat.tick() => {
                if !frozen {
                    heartbeat(&manager, &id).await;
                    if session.is_none() && manager.is_leader() {
                        session = Some(manager.dispatcher.connect(&id));
                    }
                }
            }
            batch = next_batch(&mut session) => match batch {
                Some(batch) => {
                    let reports = fake.apply(&batch, manager.clock.now_ms());
                    if !reports.is_empty() {
                        manager.dispatcher.report(&id, reports);
                    }
                }
                // The session ended (leadership moved, or it was replaced): reconnect next beat.
                None => session = None,
            },
            instruction = control.recv() => match instruction {
                Some(Control::Crash(task)) => {
                    if let Some(report) = fake.crash(&task, manager.clock.now_ms()) {
                        manager.dispatcher.report(&id, vec![report]);
                    }
                }
                Some(Control::Freeze) => {
                    frozen = true;
                    session = None;
                }
                Some(Control::Thaw) => frozen = false,
                None => return,
            },
        }
    }
}

async fn next_batch(
    session: &mut Option<mpsc::UnboundedReceiver<crds::assignment::AssignmentBatch>>,
) -> Option<crds::assignment::AssignmentBatch> {
    match session {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What a heartbeat does on the leader: a sighting, and `ready` committed on the transition.
async fn heartbeat(manager: &Manager, id: &str) {
    if let Some(liveness) = manager.liveness().as_mut() {
        liveness.seen(id, Instant::now());
    }
    let node = manager.sm.node(id);
    if let Some(node) = node.filter(|_| manager.is_leader()) {
        mark_ready(manager, &node).await;
    }
}
