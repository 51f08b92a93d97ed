//! The worker's decisions, without IO: assigned tasks + observed containers + steps in flight
//! → reports and the next steps.
//!
//! A [`Planner`] is fed what happened ([`Planner::apply_assignments`],
//! [`Planner::apply_listing`], [`Planner::apply_event`], [`Planner::apply_outcome`]) and asked
//! what to do now ([`Planner::plan`], [`Planner::take_reports`]). Time comes in as an argument,
//! so tests replay any sequence exactly.
//!
//! Rules it keeps:
//! - Nothing changes before the first full assignment batch *and* the first container listing:
//!   only then can it tell an adopted container from an orphan.
//! - At most one step per task, at most `limit` steps overall; when capacity is short,
//!   observing and stopping go before starting, and starting before preparing new tasks (so a
//!   big deploy finishes tasks instead of only beginning them).
//! - A report never moves a task backwards; health changes of a running task are reported.
//! - A task that should run but whose container turned `unhealthy` has its container stopped
//!   and is then reported failed with the healthcheck's last output, as Swarm does; the
//!   managers' restart policy and update monitor take it from there.
//! - A full batch that shows an older status than this worker reported (a new leader that lost
//!   reports) makes it report again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crds::assignment::AssignmentBatch;
use crds::service::ServiceSpec;
use crds::task::{Task, TaskState, TaskStatus};

use super::entry::{Entry, Observation, StepKind, message_of};
use crate::executor::{self, ContainerStatus, EngineEvent, StopConfig};

/// First retry delay after the engine was unavailable; doubles up to [`RETRY_MAX_MS`].
pub const RETRY_BASE_MS: u64 = 500;
/// Longest retry delay.
pub const RETRY_MAX_MS: u64 = 10_000;

/// One executor call the worker should make now.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The task it is for.
    pub task_id: String,
    /// What to do.
    pub action: Action,
}

/// The executor call of a [`Step`], with what it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// [`executor::Executor::prepare`].
    Prepare {
        /// The task.
        task: Box<Task>,
        /// Its spec.
        spec: Arc<ServiceSpec>,
    },
    /// [`executor::Executor::start`].
    Start {
        /// The container.
        container_id: String,
    },
    /// [`executor::Executor::inspect`].
    Observe {
        /// The container.
        container_id: String,
    },
    /// [`executor::Executor::stop`].
    Stop {
        /// The container.
        container_id: String,
        /// Signal and grace period.
        config: StopConfig,
    },
    /// [`executor::Executor::remove`].
    Remove {
        /// The container.
        container_id: String,
    },
}

impl Action {
    /// Its kind.
    pub fn kind(&self) -> StepKind {
        match self {
            Action::Prepare { .. } => StepKind::Prepare,
            Action::Start { .. } => StepKind::Start,
            Action::Observe { .. } => StepKind::Observe,
            Action::Stop { .. } => StepKind::Stop,
            Action::Remove { .. } => StepKind::Remove,
        }
    }
}

/// What a step returned: the container afterwards (`None`: it has none), or why it failed.
pub type Outcome = executor::Result<Option<ContainerStatus>>;

/// The worker's state and decisions.
#[derive(Debug)]
pub struct Planner {
    entries: BTreeMap<String, Entry>,
    specs: HashMap<String, Arc<ServiceSpec>>,
    synced: bool,
    listed: bool,
    limit: usize,
    in_flight: usize,
    reports: Vec<(String, TaskStatus)>,
    wake_at_ms: Option<u64>,
}

impl Planner {
    /// A planner that runs at most `limit` steps at once (at least one).
    pub fn new(limit: usize) -> Planner {
        Planner {
            entries: BTreeMap::new(),
            specs: HashMap::new(),
            synced: false,
            listed: false,
            limit: limit.max(1),
            in_flight: 0,
            reports: Vec::new(),
            wake_at_ms: None,
        }
    }

    /// Whether the first full batch and the first listing have both arrived.
    pub fn is_ready(&self) -> bool {
        self.synced && self.listed
    }

    /// Steps running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The entry of `task_id`, for inspection.
    pub fn entry(&self, task_id: &str) -> Option<&Entry> {
        self.entries.get(task_id)
    }

    /// Tasks and containers the planner tracks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it tracks nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Follows one batch of the assignment stream.
    pub fn apply_assignments(&mut self, batch: AssignmentBatch) {
        self.specs.extend(
            batch
                .specs
                .into_iter()
                .map(|(hash, spec)| (hash, Arc::new(spec))),
        );
        if batch.full {
            let assigned: HashSet<&str> = batch.tasks.iter().map(|t| t.meta.id.as_str()).collect();
            for (id, entry) in &mut self.entries {
                if !assigned.contains(id.as_str()) {
                    entry.task = None;
                }
            }
            self.synced = true;
        }
        for id in &batch.removed {
            if let Some(entry) = self.entries.get_mut(id) {
                entry.task = None;
            }
        }
        for task in batch.tasks {
            let entry = self.entries.entry(task.meta.id.clone()).or_default();
            if batch.full
                && let Some(reported) = &entry.reported
                && manager_is_behind(reported, &task.status)
            {
                self.reports.push((task.meta.id.clone(), reported.clone()));
            }
            entry.task = Some(task);
        }
        if batch.full {
            self.forget_unused_specs();
        }
    }

    fn forget_unused_specs(&mut self) {
        let used: HashSet<&str> = self
            .entries
            .values()
            .filter_map(|e| e.task.as_ref().map(|t| t.spec_hash.as_str()))
            .collect();
        self.specs.retain(|hash, _| used.contains(hash.as_str()));
    }

    /// Takes in every container this node owns (a listing replaces what was known; a task with
    /// a step in flight is inspected again once the step is done, since the listing may predate
    /// the step).
    pub fn apply_listing(&mut self, containers: Vec<ContainerStatus>) {
        self.listed = true;
        let mut seen: HashMap<String, ContainerStatus> = containers
            .into_iter()
            .map(|c| (c.task_id.clone(), c))
            .collect();
        for (id, entry) in &mut self.entries {
            let listed = seen.remove(id);
            if entry.in_flight.is_some() {
                if let Some(c) = listed {
                    entry.observe = Some(c.container_id);
                }
            } else {
                entry.container = listed;
            }
        }
        for (id, container) in seen {
            self.entries.insert(
                id,
                Entry {
                    container: Some(container),
                    ..Entry::default()
                },
            );
        }
    }

    /// An engine event: the container is inspected at the next opportunity. Events about
    /// tasks the planner does not track are stale (the end of a removal, or older than the
    /// listing that follows every subscription) and are dropped.
    pub fn apply_event(&mut self, event: &EngineEvent) {
        if let Some(entry) = self.entries.get_mut(&event.task_id) {
            entry.observe = Some(event.container_id.clone());
        }
    }

    /// Takes in the result of a step started by [`Planner::plan`].
    pub fn apply_outcome(&mut self, task_id: &str, kind: StepKind, outcome: Outcome, now_ms: u64) {
        let Some(entry) = self.entries.get_mut(task_id) else {
            return;
        };
        if entry.in_flight.take().is_some() {
            self.in_flight -= 1;
        }
        match outcome {
            Ok(container) => {
                entry.failures = 0;
                entry.retry_at_ms = 0;
                if kind == StepKind::Observe {
                    apply_observed(entry, container);
                } else {
                    entry.prepared_here |= kind == StepKind::Prepare;
                    entry.container = container;
                }
            }
            Err(executor::Error::Gone(_)) => {
                entry.container = None;
                if kind == StepKind::Observe {
                    entry.observe = None;
                }
            }
            Err(executor::Error::Rejected(cause)) if is_task_step(kind) => {
                let observation = Observation::error(TaskState::Rejected, cause);
                report(&mut self.reports, task_id, entry, observation, now_ms);
            }
            Err(executor::Error::Failed(cause)) if is_task_step(kind) => {
                let observation = Observation::error(TaskState::Failed, cause);
                report(&mut self.reports, task_id, entry, observation, now_ms);
            }
            Err(error) => {
                tracing::warn!(task = task_id, step = ?kind, %error, "step failed; retrying");
                entry.failures = entry.failures.saturating_add(1);
                entry.retry_at_ms = now_ms + backoff_ms(entry.failures);
            }
        }
    }

    /// Reports what changed and returns the steps to start now (they count as in flight until
    /// their outcome is applied).
    pub fn plan(&mut self, now_ms: u64) -> Vec<Step> {
        self.wake_at_ms = None;
        if !self.is_ready() {
            return Vec::new();
        }
        let mut wanted: Vec<(StepKind, String)> = Vec::new();
        for (id, entry) in &mut self.entries {
            if let Some(observation) = entry.settle() {
                report(&mut self.reports, id, entry, observation, now_ms);
            }
            let Some(kind) = entry.next_step(self.synced) else {
                continue;
            };
            if entry.retry_at_ms > now_ms {
                let wake = self
                    .wake_at_ms
                    .map_or(entry.retry_at_ms, |w| w.min(entry.retry_at_ms));
                self.wake_at_ms = Some(wake);
                continue;
            }
            wanted.push((kind, id.clone()));
        }
        self.entries.retain(|_, e| !e.is_done());
        wanted.sort();
        let capacity = self.limit.saturating_sub(self.in_flight);
        let mut steps = Vec::new();
        for (kind, id) in wanted.into_iter().take(capacity) {
            if let Some(step) = self.launch(&id, kind, now_ms) {
                steps.push(step);
            }
        }
        steps
    }

    /// When [`Planner::plan`] should run again even if nothing happens (a retry is due).
    pub fn wake_at_ms(&self) -> Option<u64> {
        self.wake_at_ms
    }

    /// Reports gathered since the last call, oldest first.
    pub fn take_reports(&mut self) -> Vec<(String, TaskStatus)> {
        std::mem::take(&mut self.reports)
    }

    /// Builds the step of `kind` for `id`, reporting the state it enters, and marks it in flight.
    fn launch(&mut self, id: &str, kind: StepKind, now_ms: u64) -> Option<Step> {
        let entry = self.entries.get_mut(id)?;
        let container_id = entry.container.as_ref().map(|c| c.container_id.clone());
        let action = match kind {
            StepKind::Observe => Action::Observe {
                container_id: entry.observe.clone()?,
            },
            StepKind::Stop => {
                if let Some(cause) = entry.unhealthy_cause() {
                    tracing::warn!(task = id, %cause, "stopping an unhealthy container");
                    entry.stopped_unhealthy = Some(cause);
                }
                Action::Stop {
                    container_id: container_id?,
                    config: entry
                        .task
                        .as_ref()
                        .and_then(|t| self.specs.get(&t.spec_hash))
                        .map(|spec| StopConfig::of(spec))
                        .unwrap_or_default(),
                }
            }
            StepKind::Remove => Action::Remove {
                container_id: container_id?,
            },
            StepKind::Start => {
                report(
                    &mut self.reports,
                    id,
                    entry,
                    Observation::state(TaskState::Starting),
                    now_ms,
                );
                Action::Start {
                    container_id: container_id?,
                }
            }
            StepKind::Prepare => {
                let task = entry.task.clone()?;
                let Some(spec) = self.specs.get(&task.spec_hash).cloned() else {
                    let cause = format!(
                        "service spec {} of this task did not come with its assignment",
                        task.spec_hash
                    );
                    let observation = Observation::error(TaskState::Rejected, cause);
                    report(&mut self.reports, id, entry, observation, now_ms);
                    return None;
                };
                let observation = Observation::state(TaskState::Preparing);
                report(&mut self.reports, id, entry, observation, now_ms);
                Action::Prepare {
                    task: Box::new(task),
                    spec,
                }
            }
        };
        entry.in_flight = Some(kind);
        self.in_flight += 1;
        Some(Step {
            task_id: id.to_owned(),
            action,
        })
    }
}

/// Prepare and start decide the fate of a task; the other steps only manage its container.
fn is_task_step(kind: StepKind) -> bool {
    matches!(kind, StepKind::Prepare | StepKind::Start)
}

/// An inspection's result: a missing container only clears the one that was inspected.
fn apply_observed(entry: &mut Entry, container: Option<ContainerStatus>) {
    let inspected = entry.observe.take();
    match container {
        Some(c) => entry.container = Some(c),
        None => {
            let same = entry.container.as_ref().map(|c| &c.container_id) == inspected.as_ref();
            if same {
                entry.container = None;
            }
        }
    }
}

/// Whether the manager's copy of a task's status is behind what this worker reported.
fn manager_is_behind(reported: &TaskStatus, manager: &TaskStatus) -> bool {
    reported.state > manager.state
        || (reported.state == manager.state && reported.health != manager.health)
}

/// Reports `observation` unless it would move the task backwards or repeat the last report.
fn report(
    reports: &mut Vec<(String, TaskStatus)>,
    id: &str,
    entry: &mut Entry,
    observation: Observation,
    now_ms: u64,
) {
    let current = entry.current_state();
    let health = entry.container.as_ref().and_then(|c| c.health);
    let repeats = observation.state == current
        && (observation.state != TaskState::Running
            || entry.reported.as_ref().is_some_and(|r| r.health == health));
    if observation.state < current || repeats {
        return;
    }
    let status = TaskStatus {
        state: observation.state,
        message: Some(message_of(observation.state).to_owned()),
        error: observation.error,
        container_id: entry.container.as_ref().map(|c| c.container_id.clone()),
        exit_code: observation.exit_code,
        timestamp_ms: now_ms,
        health,
        started_at_ms: None,
    };
    entry.reported = Some(status.clone());
    reports.push((id.to_owned(), status));
}

/// Delay before retry number `failures` (1-based): 0.5 s, 1 s, 2 s … up to 10 s.
pub fn backoff_ms(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    (RETRY_BASE_MS << doublings).min(RETRY_MAX_MS)
}
