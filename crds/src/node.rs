//! The Node resource: a machine running an agent.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;
use crate::units::{ByteSize, Cpus};

/// Manager (votes in Raft) or worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Replicates cluster state and may lead.
    Manager,
    /// Runs tasks only.
    #[default]
    Worker,
}

/// Whether the scheduler may use the node (set by operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// Takes new tasks.
    #[default]
    Active,
    /// Keeps its tasks, takes no new ones.
    Pause,
    /// Its tasks move elsewhere.
    Drain,
}

/// Whether the node is heard from (observed by the leader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Not yet heard from.
    #[default]
    Unknown,
    /// Heartbeating.
    Ready,
    /// Missed its heartbeats.
    Down,
}

/// Desired state of a node, set by operators.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct NodeSpec {
    /// Manager or worker.
    pub role: NodeRole,
    /// Active, pause or drain.
    pub availability: Availability,
    /// Operator labels (`node.labels.*` in constraints).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What the node reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct NodeDescription {
    /// Hostname.
    pub hostname: String,
    /// Address other nodes and clients use.
    pub advertise_addr: String,
    /// `linux`, …
    pub os: String,
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// CPUs available to tasks.
    pub cpus: Cpus,
    /// Memory available to tasks.
    pub memory: ByteSize,
    /// Docker engine version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Engine labels (`engine.labels.*` in constraints).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub engine_labels: BTreeMap<String, String>,
    /// The Raft member id this node votes with while it is a manager (allocated at join, so a
    /// promoted worker needs no new identity).
    #[serde(default)]
    pub raft_id: u64,
}

/// Observed state of a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct NodeStatus {
    /// Ready or down.
    pub state: NodeState,
    /// Why, when down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Last heartbeat (ms since the epoch), as committed on transitions.
    #[serde(default)]
    pub last_seen_ms: u64,
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// Identity.
    pub meta: ObjectMeta,
    /// Desired state.
    pub spec: NodeSpec,
    /// Self-description.
    pub description: NodeDescription,
    /// Observed state.
    pub status: NodeStatus,
}
