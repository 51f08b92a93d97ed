//! The Task resource: one immutable attempt to run a service's spec on one node.
//!
//! States only move forward ([`TaskState`] is ordered); a restart is a new task in the same slot.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;

/// Task states in the order a task moves through them (never backwards).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Created by an orchestrator.
    #[default]
    New,
    /// Waiting for the scheduler.
    Pending,
    /// Placed on a node.
    Assigned,
    /// The node's agent accepted it.
    Accepted,
    /// Pulling the image, creating networks and the container.
    Preparing,
    /// Starting the container.
    Starting,
    /// Running.
    Running,
    /// Exited with code 0.
    Complete,
    /// Exited non-zero or could not start.
    Failed,
    /// Stopped on request.
    Shutdown,
    /// The agent refused it (e.g. a missing image).
    Rejected,
    /// Its node is gone; the task's fate is unknown.
    Orphaned,
}

impl TaskState {
    /// True once the task can no longer run.
    pub fn is_terminal(self) -> bool {
        self >= TaskState::Complete
    }
}

/// A container's health as its healthcheck reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskHealth {
    /// Within the start period, or no check has finished yet.
    Starting,
    /// The last checks passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

/// Desired state set by managers, observed state reported by agents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskStatus {
    /// Observed state.
    pub state: TaskState,
    /// Human-readable detail of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Error, when failed or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Container id, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Exit code, once exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// When the state was reached (ms since the epoch).
    #[serde(default)]
    pub timestamp_ms: u64,
    /// When the task first reported `running` (ms since the epoch); kept by the managers through
    /// later states, so an update can tell a task that failed soon after starting from one that
    /// never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// Health, for a running task whose service has a healthcheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<TaskHealth>,
}

/// One attempt to run a service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    /// Identity.
    pub meta: ObjectMeta,
    /// Full service name.
    pub service: String,
    /// Replica slot (replicated services); 0 for global services.
    pub slot: u64,
    /// Node it is assigned to (global tasks are created with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `template_hash` of the service spec it runs.
    pub spec_hash: String,
    /// Restarts of this slot (or global node) under this spec before this task: 0 for the first
    /// task, +1 for each replacement of a failed or exited task. Counts toward
    /// `restart_policy.max_attempts`.
    #[serde(default)]
    pub attempt: u64,
    /// Where managers want it to be (`running` or `shutdown`).
    pub desired_state: TaskState,
    /// Where it is.
    pub status: TaskStatus,
}
