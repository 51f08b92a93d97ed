//! What the leader's dispatcher streams to a node, and what the node reports back.
//!
//! A session starts with the node's full assignment set ([`AssignmentBatch::full`]), then
//! carries deltas: tasks that are new or changed (a new `desired_state`), and ids that left the
//! set. A node runs exactly what its set says: a task in the set with desired `running` should run,
//! one with desired `shutdown` should stop, and anything of its own that is not in the set is
//! removed. Service specs travel once per session, keyed by the task's `spec_hash`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::service::ServiceSpec;
use crate::task::{Task, TaskState, TaskStatus};

/// One message of the assignment stream.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AssignmentBatch {
    /// True for the first message of a session: `tasks` is the whole set and everything else
    /// the node holds is no longer assigned.
    pub full: bool,
    /// Tasks that are new to the set or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// Ids of tasks that left the set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Specs the tasks run, by `spec_hash`, that this session has not carried before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub specs: BTreeMap<String, ServiceSpec>,
}

impl AssignmentBatch {
    /// Whether the message carries nothing (never sent, except as a full empty set).
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.removed.is_empty() && self.specs.is_empty()
    }
}

/// A node's status reports: `(task id, observed status)`, oldest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusReport {
    /// The reports.
    pub updates: Vec<(String, TaskStatus)>,
}

/// Whether `task` belongs in its node's assignment set: placed (the scheduler has assigned it),
/// and not finished for good (terminal with desired `shutdown` is history, not work).
pub fn is_assigned(task: &Task) -> bool {
    task.node.is_some()
        && task.status.state >= TaskState::Assigned
        && !(task.status.state.is_terminal() && task.desired_state >= TaskState::Shutdown)
}
