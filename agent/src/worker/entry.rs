//! One task as the worker sees it: what is assigned, what the engine shows, what was reported,
//! and the pure decisions drawn from those three (what to report, which step comes next).
//!
//! The decisions follow the task-state order of DESIGN.md: a report never moves a task
//! backwards, and a terminal task is left alone (its container stays until the task leaves the
//! assignment set, so `docker logs` keeps working).

use crds::task::{Task, TaskHealth, TaskState, TaskStatus};

use crate::executor::{ContainerState, ContainerStatus};

/// The kinds of executor steps, in the order the planner prefers them when capacity is short:
/// first what reports failures or frees resources, then what finishes a started deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    /// Inspect a container the engine said something about.
    Observe,
    /// Stop a container (desired `shutdown`, or no longer assigned).
    Stop,
    /// Remove a container that is no longer assigned.
    Remove,
    /// Start a created container.
    Start,
    /// Pull, ensure networks and volumes, create the container.
    Prepare,
}

/// What to report about a task, before it is stamped with time and container id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The state reached.
    pub state: TaskState,
    /// Why it failed or was rejected.
    pub error: Option<String>,
    /// The container's exit code, once it exited.
    pub exit_code: Option<i64>,
}

impl Observation {
    /// A plain transition to `state`.
    pub fn state(state: TaskState) -> Observation {
        Observation {
            state,
            error: None,
            exit_code: None,
        }
    }

    /// A failed (or rejected) transition with its cause.
    pub fn error(state: TaskState, error: String) -> Observation {
        Observation {
            state,
            error: Some(error),
            exit_code: None,
        }
    }
}

/// The worker's record of one task id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// The task as last assigned; `None` once it left the set (or before it was ever in it).
    pub task: Option<Task>,
    /// Its container as last seen; `None` when it has none.
    pub container: Option<ContainerStatus>,
    /// What this worker last reported about it.
    pub reported: Option<TaskStatus>,
    /// The step running for it, if any (at most one per task).
    pub in_flight: Option<StepKind>,
    /// A container the engine sent an event about, to inspect.
    pub observe: Option<String>,
    /// No step before this time (ms), after the engine was unavailable.
    pub retry_at_ms: u64,
    /// Steps in a row that found the engine unavailable (for the backoff).
    pub failures: u32,
    /// The container came from this worker's own prepare (not from a listing), so it is
    /// complete: an earlier agent may have died halfway through a prepare.
    pub prepared_here: bool,
    /// Why this worker stopped the container of a task that should run: its healthcheck said
    /// `unhealthy` (with the last probe's output). The exit that follows fails the task with
    /// this cause, whatever the exit code.
    pub stopped_unhealthy: Option<String>,
}

impl Entry {
    /// The furthest state anyone has seen: the manager (through the assignment) or this worker.
    pub fn current_state(&self) -> TaskState {
        let assigned = self.task.as_ref().map(|t| t.status.state);
        let reported = self.reported.as_ref().map(|s| s.state);
        assigned.max(reported).unwrap_or_default()
    }

    /// The health the manager knows about, as best this worker can tell.
    fn known_health(&self) -> Option<TaskHealth> {
        let assigned = self.task.as_ref().map(|t| &t.status);
        match (assigned, &self.reported) {
            (Some(a), Some(r)) if a.state > r.state => a.health,
            (_, Some(r)) => r.health,
            (Some(a), None) => a.health,
            (None, None) => None,
        }
    }

    /// Whether the container was made for another spec than the task's (never adopted).
    fn container_is_foreign(&self) -> bool {
        match (&self.task, &self.container) {
            (Some(t), Some(c)) => c.spec_hash != t.spec_hash,
            _ => false,
        }
    }

    /// What the observed container says about the task that has not been reported yet.
    pub fn settle(&self) -> Option<Observation> {
        let task = self.task.as_ref()?;
        if self.in_flight.is_some() || self.container_is_foreign() {
            return None;
        }
        let current = self.current_state();
        if current.is_terminal() {
            return None;
        }
        if task.desired_state >= TaskState::Shutdown {
            // A created container has no process: it is as stopped as it gets.
            return match self.container.as_ref().map(|c| &c.state) {
                Some(ContainerState::Running) => None,
                Some(ContainerState::Exited { exit_code, .. }) => Some(Observation {
                    exit_code: Some(*exit_code),
                    ..Observation::state(TaskState::Shutdown)
                }),
                Some(ContainerState::Created) | None => {
                    Some(Observation::state(TaskState::Shutdown))
                }
            };
        }
        let Some(container) = &self.container else {
            return match current {
                s if s < TaskState::Accepted => Some(Observation::state(TaskState::Accepted)),
                s if s >= TaskState::Starting => Some(Observation::error(
                    TaskState::Failed,
                    "task: its container was removed".to_owned(),
                )),
                _ => None,
            };
        };
        match &container.state {
            ContainerState::Created if current < TaskState::Accepted => {
                Some(Observation::state(TaskState::Accepted))
            }
            ContainerState::Created => None,
            ContainerState::Running
                if current < TaskState::Running || container.health != self.known_health() =>
            {
                Some(Observation::state(TaskState::Running))
            }
            ContainerState::Running => None,
            ContainerState::Exited { exit_code, .. } if self.stopped_unhealthy.is_some() => {
                Some(Observation {
                    exit_code: Some(*exit_code),
                    ..Observation::error(
                        TaskState::Failed,
                        self.stopped_unhealthy.clone().unwrap_or_default(),
                    )
                })
            }
            ContainerState::Exited {
                exit_code,
                oom_killed,
                error,
            } => Some(exit_observation(*exit_code, *oom_killed, error.as_deref())),
        }
    }

    /// The cause to fail the task with when its running container must be stopped for being
    /// unhealthy, as Swarm does (it kills the container and a new task takes the slot).
    pub fn unhealthy_cause(&self) -> Option<String> {
        let task = self.task.as_ref()?;
        let container = self.container.as_ref()?;
        let unhealthy = task.desired_state == TaskState::Running
            && !self.current_state().is_terminal()
            && container.state == ContainerState::Running
            && container.health == Some(TaskHealth::Unhealthy);
        if !unhealthy {
            return None;
        }
        Some(match container.health_output.as_deref().map(str::trim) {
            Some(output) if !output.is_empty() => {
                format!("task: unhealthy container: last healthcheck: {output}")
            }
            _ => "task: unhealthy container: its healthcheck failed".to_owned(),
        })
    }

    /// The step this task needs next, if any; `synced` says whether the assignment set is known
    /// (before that, nothing unassigned may be touched).
    pub fn next_step(&self, synced: bool) -> Option<StepKind> {
        if self.in_flight.is_some() {
            return None;
        }
        if self.observe.is_some() {
            return Some(StepKind::Observe);
        }
        let container = self.container.as_ref();
        // Only a running container needs a stop (an engine "stops" a created one by doing
        // nothing, and it would stay created).
        let running = container.is_some_and(|c| c.state == ContainerState::Running);
        let Some(task) = &self.task else {
            return match container {
                Some(_) if !synced => None,
                Some(_) if running => Some(StepKind::Stop),
                Some(_) => Some(StepKind::Remove),
                None => None,
            };
        };
        if self.container_is_foreign() {
            return Some(StepKind::Remove);
        }
        if task.desired_state >= TaskState::Shutdown {
            return running.then_some(StepKind::Stop);
        }
        let current = self.current_state();
        if current.is_terminal() {
            return None;
        }
        match container.map(|c| &c.state) {
            None if current < TaskState::Starting => Some(StepKind::Prepare),
            // `starting` is only ever reported after a complete prepare; before it, a created
            // container someone else made may lack networks: make it again.
            Some(ContainerState::Created)
                if current < TaskState::Starting && !self.prepared_here =>
            {
                Some(StepKind::Remove)
            }
            Some(ContainerState::Created) if current < TaskState::Running => Some(StepKind::Start),
            Some(ContainerState::Running) if self.unhealthy_cause().is_some() => {
                Some(StepKind::Stop)
            }
            _ => None,
        }
    }

    /// Whether the worker can forget this entry: nothing assigned, no container, nothing
    /// running or waiting.
    pub fn is_done(&self) -> bool {
        self.task.is_none()
            && self.container.is_none()
            && self.in_flight.is_none()
            && self.observe.is_none()
    }
}

/// A container that exited: complete on 0, failed otherwise, with Swarm's wording.
pub fn exit_observation(exit_code: i64, oom_killed: bool, error: Option<&str>) -> Observation {
    let cause = match (oom_killed, error.filter(|e| !e.is_empty())) {
        (true, _) => Some(format!(
            "task: non-zero exit ({exit_code}): killed for exceeding its memory limit (OOM)"
        )),
        (false, Some(e)) => Some(format!("task: non-zero exit ({exit_code}): {e}")),
        (false, None) if exit_code != 0 => Some(format!("task: non-zero exit ({exit_code})")),
        (false, None) => None,
    };
    Observation {
        state: if cause.is_some() {
            TaskState::Failed
        } else {
            TaskState::Complete
        },
        error: cause,
        exit_code: Some(exit_code),
    }
}

/// The message Swarm shows beside each state.
pub fn message_of(state: TaskState) -> &'static str {
    match state {
        TaskState::New | TaskState::Pending | TaskState::Assigned => "assigned",
        TaskState::Accepted => "accepted",
        TaskState::Preparing => "preparing",
        TaskState::Starting => "starting",
        TaskState::Running => "started",
        TaskState::Complete => "finished",
        TaskState::Failed => "failed",
        TaskState::Shutdown => "shutdown",
        TaskState::Rejected => "rejected",
        TaskState::Orphaned => "orphaned",
    }
}
