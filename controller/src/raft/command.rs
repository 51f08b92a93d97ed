//! Replicated writes: every change to the cluster state is one [`Command`] in the Raft log.
//!
//! Commands carry everything their application needs, including the time: the leader stamps
//! `at_ms` when it proposes a command, so every manager applies the same bytes to the same state
//! and reaches the same result ([`ClusterState::apply`] never reads a clock).
//!
//! [`ClusterState::apply`]: crate::raft::state::ClusterState::apply

use std::collections::BTreeMap;

use crds::node::{Availability, Node, NodeDescription, NodeRole, NodeState};
use crds::service::Service;
use crds::task::{Task, TaskStatus};
use serde::{Deserialize, Serialize};

use crate::pki::TokenStore;
use crate::raft::cluster_info::ClusterInfo;
use crate::raft::rejection::Rejection;
use crate::raft::state::Key;
use crate::source::spec::SourceSpec;
use crate::sync::record::RevisionRecord;

/// One replicated write.
// Commands are built once, serialized into the log and dropped: boxing the big variants would
// cost an allocation each and buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Set the cluster's identity, CA and tokens: the first command of every cluster. Rejected
    /// when the cluster already has an identity (a second init must never replace the CA).
    InitCluster {
        /// Identity and secrets.
        cluster: ClusterInfo,
    },
    /// Replace the join tokens (after a rotation, which happens on the proposer).
    SetTokens {
        /// The tokens now accepted.
        tokens: TokenStore,
    },
    /// Change what an operator controls on a node; fields left empty stay as they are.
    UpdateNode {
        /// Node id.
        id: String,
        /// The change.
        update: NodeUpdate,
        /// Leader time of the proposal (ms since the epoch).
        at_ms: u64,
    },
    /// Replace what a node reports about itself (sent when it changes, not every heartbeat).
    SetNodeDescription {
        /// Node id.
        id: String,
        /// The new description; its `raft_id` is kept from the stored node.
        description: NodeDescription,
        /// Leader time of the proposal (ms since the epoch).
        at_ms: u64,
    },
    /// Replace the revision record (applied revision, rejection, history).
    RecordRevision {
        /// The new record; its history is trimmed to [`HISTORY`](crate::sync::record::HISTORY).
        record: RevisionRecord,
    },
    /// Set (or clear) the source the cluster follows, in the revision record.
    SetSource {
        /// The source; `None` stops following.
        source: Option<SourceSpec>,
    },
    /// Create a node or replace its content (`meta.id` names it).
    UpsertNode {
        /// The node as it should be stored.
        node: Node,
        /// Leader time of the proposal (ms since the epoch).
        at_ms: u64,
    },
    /// Forget a node (no effect when unknown).
    RemoveNode {
        /// Node id.
        id: String,
    },
    /// Record a node's transition (unknown → ready → down …); heartbeats themselves are not
    /// replicated.
    SetNodeState {
        /// Node id.
        id: String,
        /// The new state.
        state: NodeState,
        /// Why, for `down`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Leader time of the transition (ms since the epoch).
        at_ms: u64,
    },
    /// Create or replace tasks, in order; a task's observed state never moves backwards.
    PutTasks {
        /// The tasks as they should be stored.
        tasks: Vec<Task>,
        /// Leader time of the proposal (ms since the epoch).
        at_ms: u64,
    },
    /// Batched status reports from agents, in order; backwards or unknown ones are ignored.
    UpdateTaskStatus {
        /// `(task id, reported status)`.
        updates: Vec<(String, TaskStatus)>,
        /// Leader time of the proposal (ms since the epoch).
        at_ms: u64,
    },
    /// Delete tasks (unknown ids are skipped).
    RemoveTasks {
        /// Task ids.
        ids: Vec<String>,
    },
    /// Create or replace services (`meta.id` must be the full service name).
    PutServices {
        /// The services as they should be stored.
        services: Vec<Service>,
        /// Leader time of the proposal (ms since the epoch).
        at_ms: u64,
    },
    /// Delete services (unknown names are skipped).
    RemoveServices {
        /// Full service names.
        names: Vec<String>,
    },
}

/// An operator's change to a node (`reconciler node update|promote|demote`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeUpdate {
    /// New availability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
    /// New role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<NodeRole>,
    /// Labels to add or overwrite.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels_add: BTreeMap<String, String>,
    /// Labels to remove (applied before `labels_add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_rm: Vec<String>,
}

impl NodeUpdate {
    /// Whether the update asks for nothing.
    pub fn is_empty(&self) -> bool {
        *self == NodeUpdate::default()
    }
}

/// The result of applying one log entry, returned to the proposer by `client_write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    /// Applied (possibly with no change: then `version` is the unchanged state version).
    Ok {
        /// The state's version after the command.
        version: u64,
        /// Items of the batch that had no effect: stale or unknown task status reports, or a
        /// task put whose status was older than the stored one (the stored status was kept).
        #[serde(default)]
        ignored: u64,
    },
    /// Not applied, nothing changed: the command broke an invariant.
    Rejected {
        /// Which invariant it broke.
        reason: Rejection,
    },
}

impl Command {
    /// The stored objects this command may change: the state machine writes back exactly these
    /// after applying it, so a command costs disk writes in proportion to its size, not to the
    /// size of the cluster.
    pub fn keys(&self) -> Vec<Key> {
        match self {
            Command::RecordRevision { .. } | Command::SetSource { .. } => vec![Key::Revisions],
            Command::InitCluster { .. } | Command::SetTokens { .. } => vec![Key::Cluster],
            Command::UpdateNode { id, .. } | Command::SetNodeDescription { id, .. } => {
                vec![Key::Node(id.clone())]
            }
            Command::UpsertNode { node, .. } => vec![Key::Node(node.meta.id.clone())],
            // Removing a node also revokes it, in the cluster object.
            Command::RemoveNode { id } => vec![Key::Node(id.clone()), Key::Cluster],
            Command::SetNodeState { id, .. } => vec![Key::Node(id.clone())],
            Command::PutTasks { tasks, .. } => {
                tasks.iter().map(|t| Key::Task(t.meta.id.clone())).collect()
            }
            Command::UpdateTaskStatus { updates, .. } => updates
                .iter()
                .map(|(id, _)| Key::Task(id.clone()))
                .collect(),
            Command::RemoveTasks { ids } => ids.iter().cloned().map(Key::Task).collect(),
            Command::PutServices { services, .. } => services
                .iter()
                .map(|s| Key::Service(s.meta.id.clone()))
                .collect(),
            Command::RemoveServices { names } => names.iter().cloned().map(Key::Service).collect(),
        }
    }
}
