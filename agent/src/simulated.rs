//! A simulated node: it follows its assignment stream like a real agent and reports task states,
//! but "runs" a task by saying so.
//!
//! A task assigned with desired `running` is reported `running` at once (or `rejected` /
//! `failed` when its image is in [`SimulatedConfig::reject_images`] / [`SimulatedConfig::fail_images`]);
//! a task whose desired state becomes `shutdown` is reported `shutdown`; a task that leaves the
//! set is forgotten. A task's reported state only moves forward, as a real agent's does.
//! [`SimulatedNode::crash`] makes a running task fail, as a container that dies.

use std::collections::{BTreeMap, HashMap};

use crds::assignment::AssignmentBatch;
use crds::service::ServiceSpec;
use crds::task::{TaskState, TaskStatus};

/// How a simulated node treats images.
#[derive(Debug, Clone, Default)]
pub struct SimulatedConfig {
    /// Tasks of these images fail right after starting (exit code 1).
    pub fail_images: Vec<String>,
    /// Tasks of these images are rejected (as a missing image is).
    pub reject_images: Vec<String>,
}

/// One simulated node's view of its tasks.
#[derive(Debug, Default)]
pub struct SimulatedNode {
    config: SimulatedConfig,
    /// Task id → what this node last reported for it.
    tasks: HashMap<String, TaskState>,
    /// Specs by hash, as the session delivered them.
    specs: BTreeMap<String, ServiceSpec>,
}

impl SimulatedNode {
    /// A node with no tasks.
    pub fn new(config: SimulatedConfig) -> Self {
        SimulatedNode {
            config,
            ..SimulatedNode::default()
        }
    }

    /// Tasks this node knows about.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether this node has no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tasks this node reports running.
    pub fn running(&self) -> usize {
        self.tasks
            .values()
            .filter(|s| **s == TaskState::Running)
            .count()
    }

    /// Follow one batch of the assignment stream; returns the status reports it causes.
    pub fn apply(&mut self, batch: &AssignmentBatch, now_ms: u64) -> Vec<(String, TaskStatus)> {
        if batch.full {
            let assigned: std::collections::HashSet<&str> =
                batch.tasks.iter().map(|t| t.meta.id.as_str()).collect();
            self.tasks.retain(|id, _| assigned.contains(id.as_str()));
        }
        for id in &batch.removed {
            self.tasks.remove(id);
        }
        self.specs
            .extend(batch.specs.iter().map(|(h, s)| (h.clone(), s.clone())));
        let mut reports = Vec::new();
        for task in &batch.tasks {
            let known = self.tasks.get(&task.meta.id).copied();
            let current = known.unwrap_or(task.status.state).max(task.status.state);
            let next = if task.desired_state >= TaskState::Shutdown {
                (!current.is_terminal()).then_some(TaskState::Shutdown)
            } else if current < TaskState::Running {
                Some(self.start_outcome(&task.spec_hash))
            } else {
                None
            };
            match next {
                Some(state) => {
                    self.tasks.insert(task.meta.id.clone(), state);
                    reports.push((task.meta.id.clone(), self.status(state, now_ms)));
                }
                None => {
                    self.tasks.insert(task.meta.id.clone(), current);
                }
            }
        }
        reports
    }

    /// A running task dies (exit code 137); returns its report, or `None` if it was not running.
    pub fn crash(&mut self, task: &str, now_ms: u64) -> Option<(String, TaskStatus)> {
        let state = self.tasks.get_mut(task)?;
        if *state != TaskState::Running {
            return None;
        }
        *state = TaskState::Failed;
        Some((
            task.to_owned(),
            TaskStatus {
                error: Some("task: non-zero exit (137)".to_owned()),
                exit_code: Some(137),
                ..self.status(TaskState::Failed, now_ms)
            },
        ))
    }

    /// Ids of tasks reported running.
    pub fn running_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, s)| **s == TaskState::Running)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn start_outcome(&self, spec_hash: &str) -> TaskState {
        let image = self.specs.get(spec_hash).map(|s| s.image.as_str());
        match image {
            Some(i) if self.config.reject_images.iter().any(|r| r == i) => TaskState::Rejected,
            Some(i) if self.config.fail_images.iter().any(|f| f == i) => TaskState::Failed,
            _ => TaskState::Running,
        }
    }

    fn status(&self, state: TaskState, now_ms: u64) -> TaskStatus {
        let (message, error, exit_code) = match state {
            TaskState::Rejected => (
                "rejected",
                Some("No such image (simulated)".to_owned()),
                None,
            ),
            TaskState::Failed => (
                "failed",
                Some("task: non-zero exit (1)".to_owned()),
                Some(1),
            ),
            TaskState::Shutdown => ("shutdown", None, Some(0)),
            _ => ("started", None, None),
        };
        TaskStatus {
            state,
            message: Some(message.to_owned()),
            error,
            exit_code,
            timestamp_ms: now_ms,
            ..TaskStatus::default()
        }
    }
}

#[cfg(test)]
#[path = "simulated_test.rs"]
mod tests;
