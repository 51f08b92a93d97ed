//! The shared vocabulary of the orchestrators: a service's context for one call ([`Ctx`]), the
//! decisions taken so far ([`Plan`]) and one slot's tasks ([`Slot`]).
//!
//! A slot is a replica number (replicated services) or a node (global services). A task *holds*
//! its slot while its desired state is Running, whatever its observed state. Decisions never
//! mutate the state: shutting a task down records a changed copy in the plan and marks the task
//! as no longer holding the slot for the rest of the call, so later steps see the outcome of
//! earlier ones.

use crds::service::{Service, ServiceSpec};
use crds::task::{Task, TaskHealth, TaskState, TaskStatus};

use super::eligibility::{Eligibility, Fit, Nodes};

/// One service during one call.
pub(crate) struct Ctx<'a, 'f> {
    /// The service as stored.
    pub service: &'a Service,
    /// The spec in force: the stored one, or the previous one when this call starts a rollback.
    pub spec: &'a ServiceSpec,
    /// `spec.template_hash()`, computed once.
    pub hash: String,
    /// Leader time.
    pub now: u64,
    /// Node usability for this service.
    pub fit: Eligibility<'a>,
    /// All nodes.
    pub nodes: &'a Nodes<'a>,
    /// Fresh task ids.
    pub new_id: &'f mut dyn FnMut() -> String,
    /// Whether some task runs the spec in force (computed only while an update is paused).
    pub has_tasks_of_spec: bool,
}

impl Ctx<'_, '_> {
    /// Whether `task` runs the spec in force.
    pub(crate) fn is_current(&self, task: &Task) -> bool {
        task.spec_hash == self.hash
    }

    /// Running and, when the service has a healthcheck, reported healthy.
    pub(crate) fn healthy(&self, task: &Task) -> bool {
        task.status.state == TaskState::Running
            && (!self.spec.checks_health() || task.status.health == Some(TaskHealth::Healthy))
    }

    /// Whether `task` sits on a node it must leave.
    pub(crate) fn lost(&mut self, task: &Task) -> bool {
        self.fit.fit(task.node.as_deref()) == Fit::Lost
    }

    fn new_task(&mut self, slot: u64, node: Option<&str>, attempt: u64, state: TaskState) -> Task {
        let mut task = Task {
            service: self.service.meta.id.clone(),
            slot,
            node: node.map(str::to_owned),
            spec_hash: self.hash.clone(),
            attempt,
            desired_state: TaskState::Running,
            status: TaskStatus {
                state,
                timestamp_ms: self.now,
                ..TaskStatus::default()
            },
            ..Task::default()
        };
        task.meta.id = (self.new_id)();
        task.meta.created_at_ms = self.now;
        task
    }
}

/// What one service's call decided so far.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Existing tasks with a changed copy (desired Shutdown, released from New).
    pub changed: Vec<Task>,
    /// New tasks.
    pub created: Vec<Task>,
    /// Tasks to delete.
    pub removed: Vec<String>,
    /// Earliest future time a delayed decision becomes due.
    pub wake: Option<u64>,
}

impl Plan {
    /// Remember that something becomes due at `at`.
    pub(crate) fn wake_at(&mut self, at: u64) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }
}

/// One slot's tasks, oldest first, and what this call decided about them.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    /// Replica number; 0 for global services.
    pub number: u64,
    /// The node, for global services.
    pub node: Option<&'a str>,
    /// Its tasks, sorted by creation time then id.
    pub tasks: &'a [&'a Task],
    /// Indices of tasks shut down by this call (no allocation while nothing happens).
    shut: Vec<usize>,
    /// Index in `Plan::created` of the task this call created here.
    created: Option<usize>,
}

impl<'a> Slot<'a> {
    /// A slot with existing tasks (possibly none, for a slot this call opens).
    pub(crate) fn new(number: u64, node: Option<&'a str>, tasks: &'a [&'a Task]) -> Self {
        Slot {
            number,
            node,
            tasks,
            shut: Vec::new(),
            created: None,
        }
    }

    /// Existing tasks that still hold the slot after this call's decisions, with their index.
    pub(crate) fn held(&self) -> impl Iterator<Item = (usize, &'a Task)> + '_ {
        self.tasks.iter().enumerate().filter_map(|(i, t)| {
            (t.desired_state == TaskState::Running && !self.shut.contains(&i)).then_some((i, *t))
        })
    }

    /// Whether existing task `i` still holds the slot.
    pub(crate) fn holds(&self, i: usize) -> bool {
        self.tasks
            .get(i)
            .is_some_and(|t| t.desired_state == TaskState::Running && !self.shut.contains(&i))
    }

    /// Whether any task (existing or created by this call) holds the slot.
    pub(crate) fn is_held(&self) -> bool {
        self.created.is_some() || self.held().next().is_some()
    }

    /// The task this call created here.
    pub(crate) fn created<'p>(&self, plan: &'p Plan) -> Option<&'p Task> {
        self.created.and_then(|i| plan.created.get(i))
    }

    /// The newest task of the slot (what the reaper never removes).
    pub(crate) fn newest(&self) -> Option<&'a Task> {
        self.tasks.last().copied()
    }

    /// Set task `i`'s desired state to Shutdown, with an optional explanation.
    pub(crate) fn shut_down(&mut self, i: usize, plan: &mut Plan, message: Option<String>) {
        let Some(task) = self.tasks.get(i) else {
            return;
        };
        let mut changed = (*task).clone();
        changed.desired_state = TaskState::Shutdown;
        if message.is_some() {
            changed.status.message = message;
        }
        plan.changed.push(changed);
        self.shut.push(i);
    }

    /// Shut down every task still holding the slot.
    pub(crate) fn shut_down_all(&mut self, plan: &mut Plan) {
        let held: Vec<usize> = self.held().map(|(i, _)| i).collect();
        for i in held {
            self.shut_down(i, plan, None);
        }
    }

    /// Create a task running the spec in force in this slot. With `after_stop` (a stop-first
    /// update), while an old task of the slot may still run the new one waits in New (the
    /// scheduler only places Pending tasks); [`release`](super::restart::maintain) moves it to
    /// Pending once the old one stopped. Holding the slot meanwhile keeps its number stable.
    pub(crate) fn create(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        plan: &mut Plan,
        attempt: u64,
        after_stop: bool,
    ) {
        let state = if after_stop && self.stopping(ctx.nodes) {
            TaskState::New
        } else {
            TaskState::Pending
        };
        let task = ctx.new_task(self.number, self.node, attempt, state);
        self.created = Some(plan.created.len());
        plan.created.push(task);
    }

    /// Whether a task told to stop (before or during this call) may still run on a reachable
    /// node.
    pub(crate) fn stopping(&self, nodes: &Nodes<'_>) -> bool {
        self.tasks.iter().enumerate().any(|(i, t)| {
            (t.desired_state != TaskState::Running || self.shut.contains(&i))
                && !t.status.state.is_terminal()
                && nodes.reachable(t.node.as_deref())
        })
    }
}
