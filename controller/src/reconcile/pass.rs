//! One orchestration pass, pure: from the replicated state and `now` to the commands that
//! bring it closer to the desired state — services from the applied revision, tasks from the
//! services, placements for pending tasks.
//!
//! [`decide`] takes state and `now` and returns commands. Three steps, each seeing the previous
//! one's commands applied on the next pass:
//! 1. [`services::plan`]: service creations, changes and removals (when there are any, the
//!    pass stops there, so tasks are decided on the services as stored);
//! 2. [`reconcile::orchestrate`]: task creations, shutdowns, restarts, updates, reaping;
//! 3. [`scheduler::schedule`]: new and still pending tasks placed in the same pass, so a new
//!    task is written once, already assigned; a task that fits nowhere stays pending with the
//!    scheduler's reason as its message.
//!
//! # Passes cost what changed
//! The leader's loop follows the state machine's change feed. A pass decides about every
//! service only when it must — a new leader, a node change, a delayed decision falling due — and
//! otherwise ([`decide_in`] with a [`Scope`]) only about the services whose tasks or specs
//! changed, with their tasks read through a [`TaskIndex`]. Services whose only news is progress
//! (tasks moving toward running) just get their replica count updated. [`Backlog`] is what the
//! loop keeps between passes to do that. With a million tasks a full pass takes over a second; a
//! pass after a batch of status reports takes milliseconds.

use std::collections::{BTreeMap, HashSet};

use crds::task::{Task, TaskState};

use crate::raft::Command;
use crate::raft::changes::Changes;
use crate::raft::state::ClusterState;
use crate::reconcile::services;
use crate::reconcile::task_index::{TaskIndex, waits_for_placement};
use crate::{reconcile, scheduler};

/// The most tasks in one Raft entry (an entry stays a few MiB).
pub const TASKS_PER_WRITE: usize = 10_000;

/// Settings of a pass.
#[derive(Debug, Clone)]
pub struct Config {
    /// Orchestrator settings (task history).
    pub reconcile: reconcile::Config,
    /// The cluster's default placement strategy.
    pub strategy: crds::compose::Strategy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            reconcile: reconcile::Config { task_history: 5 },
            strategy: crds::compose::Strategy::Spread,
        }
    }
}

/// What one pass decided.
#[derive(Debug, Default)]
pub struct Decision {
    /// Commands to commit, in order.
    pub commands: Vec<Command>,
    /// When to pass again even if nothing changes (ms since the epoch).
    pub wake_at_ms: Option<u64>,
    /// The pass stopped at service changes: tasks are decided on the next pass.
    pub services_only: bool,
}

/// Which services a pass decides about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every service, and every stored task waiting for placement.
    All,
    /// Only these.
    Some {
        /// Services whose tasks are decided (their tasks or specs changed).
        decide: Vec<String>,
        /// Services whose replica count alone may be out of date (see [`reconcile::recount`]).
        recount: Vec<String>,
    },
}

impl Scope {
    /// The services `changes` call for. Progress of a service with an update in progress is
    /// decided, not recounted: its next batch may be waiting for those tasks.
    pub fn of(state: &ClusterState, changes: &Changes) -> Scope {
        let mut decide: HashSet<&str> = changes.decisive_services();
        let mut recount = Vec::new();
        for name in &changes.progressed {
            if decide.contains(name.as_str()) {
                continue;
            }
            match state.services.get(name) {
                Some(s) if s.update.as_ref().is_some_and(|u| u.state.in_progress()) => {
                    decide.insert(name);
                }
                Some(_) => recount.push(name.clone()),
                None => {}
            }
        }
        let mut decide: Vec<String> = decide.into_iter().map(str::to_owned).collect();
        decide.sort_unstable();
        recount.sort_unstable();
        Scope::Some { decide, recount }
    }
}

/// One pass over everything: pure.
pub fn decide(
    state: &ClusterState,
    now_ms: u64,
    config: &Config,
    new_id: &mut dyn FnMut() -> String,
) -> Decision {
    decide_in(state, now_ms, config, &Scope::All, None, new_id)
}

/// One pass over `scope`: pure. A [`Scope::Some`] pass reads tasks through `index`, which must
/// be up to date with `state` (without one, every task is scanned).
pub fn decide_in(
    state: &ClusterState,
    now_ms: u64,
    config: &Config,
    scope: &Scope,
    index: Option<&TaskIndex>,
    new_id: &mut dyn FnMut() -> String,
) -> Decision {
    let service_changes = services::plan(state, now_ms);
    if !service_changes.is_empty() {
        return Decision {
            commands: service_changes,
            wake_at_ms: None,
            services_only: true,
        };
    }
    let built;
    let index = match (scope, index) {
        (Scope::All, _) => None,
        (Scope::Some { .. }, Some(index)) => Some(index),
        (Scope::Some { .. }, None) => {
            built = TaskIndex::build(state);
            Some(&built)
        }
    };
    let (orchestration, stored_pending) = match (scope, index) {
        (Scope::Some { decide, recount }, Some(index)) => {
            let services = decide
                .iter()
                .map(|name| (name.as_str(), index.tasks_of(state, name)))
                .collect();
            let mut orchestration =
                reconcile::orchestrate_services(state, now_ms, &config.reconcile, new_id, services);
            let recounted: Vec<_> = (recount.iter())
                .filter_map(|name| state.services.get(name))
                .filter_map(|s| reconcile::recount(s, &index.tasks_of(state, &s.meta.id)))
                .collect();
            if !recounted.is_empty() {
                orchestration.commands.push(Command::PutServices {
                    services: recounted,
                    at_ms: now_ms,
                });
            }
            (orchestration, index.pending(state))
        }
        _ => (
            reconcile::orchestrate(state, now_ms, &config.reconcile, new_id),
            state
                .tasks
                .values()
                .filter(|t| waits_for_placement(t))
                .collect(),
        ),
    };
    let mut commands = orchestration.commands;
    place(state, now_ms, config, stored_pending, &mut commands);
    Decision {
        commands: coalesce(state, commands),
        wake_at_ms: orchestration.wake_at_ms,
        services_only: false,
    }
}

/// Place the pending tasks: the new ones in `commands` (changed in place) and the stored ones
/// (`stored_pending`) the orchestrator left alone (written with their placement or their new
/// reason).
fn place(
    state: &ClusterState,
    now_ms: u64,
    config: &Config,
    stored_pending: Vec<&Task>,
    commands: &mut Vec<Command>,
) {
    let touched: HashSet<&str> = commands
        .iter()
        .flat_map(|c| match c {
            Command::PutTasks { tasks, .. } => tasks.iter().map(|t| t.meta.id.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    let stored_pending: Vec<&Task> = stored_pending
        .into_iter()
        .filter(|t| !touched.contains(t.meta.id.as_str()))
        .collect();
    let new_pending: Vec<&Task> = commands
        .iter()
        .flat_map(|c| match c {
            Command::PutTasks { tasks, .. } => {
                tasks.iter().filter(|t| waits_for_placement(t)).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    if stored_pending.is_empty() && new_pending.is_empty() {
        return;
    }
    let placed: Vec<&Task> = state
        .tasks
        .values()
        .filter(|t| t.node.is_some() && t.status.state >= TaskState::Assigned)
        .collect();
    let pending: Vec<&Task> = stored_pending
        .iter()
        .chain(new_pending.iter())
        .copied()
        .collect();
    let decision = scheduler::schedule(
        &state.nodes,
        &state.services,
        &placed,
        &pending,
        &scheduler::Config {
            strategy: config.strategy,
            seed: now_ms,
        },
    );
    let mut outcome: BTreeMap<String, Outcome> = BTreeMap::new();
    for p in decision.placements {
        outcome.insert(p.task, Outcome::Placed(p.node));
    }
    for u in decision.unplaced {
        outcome.insert(u.task, Outcome::Unplaced(u.reason));
    }
    for command in commands.iter_mut() {
        if let Command::PutTasks { tasks, .. } = command {
            for task in tasks.iter_mut() {
                if let Some(o) = outcome.remove(&task.meta.id) {
                    o.apply_to(task, now_ms);
                }
            }
        }
    }
    let mut changed: Vec<Task> = Vec::new();
    for task in stored_pending {
        if let Some(o) = outcome.remove(&task.meta.id) {
            let mut next = task.clone();
            o.apply_to(&mut next, now_ms);
            if next != *task {
                changed.push(next);
            }
        }
    }
    if !changed.is_empty() {
        commands.push(Command::PutTasks {
            tasks: changed,
            at_ms: now_ms,
        });
    }
}

enum Outcome {
    Placed(String),
    Unplaced(String),
}

impl Outcome {
    fn apply_to(self, task: &mut Task, now_ms: u64) {
        match self {
            Outcome::Placed(node) => {
                task.node = Some(node);
                task.status.state = TaskState::Assigned;
                task.status.message = Some("scheduled".to_owned());
                task.status.timestamp_ms = now_ms;
            }
            Outcome::Unplaced(reason) => {
                // Only a new reason is news: rewriting the same one would make every pass a write.
                if task.status.message.as_deref() != Some(reason.as_str()) {
                    task.status.message = Some(reason);
                    task.status.timestamp_ms = now_ms;
                }
            }
        }
    }
}

/// Fewer, fuller Raft entries: task writes of all services together in entries of at most
/// [`TASKS_PER_WRITE`] tasks, and services whose only change is their observed status (replica
/// counts move with every batch of reports) in one entry. Spec and update changes stay one entry
/// per service. Order is kept where it matters: removals after the puts that precede them.
fn coalesce(state: &ClusterState, commands: Vec<Command>) -> Vec<Command> {
    let mut puts: Vec<Task> = Vec::new();
    let mut removes: Vec<String> = Vec::new();
    let mut statuses = Vec::new();
    let mut others = Vec::new();
    let mut at = 0;
    for command in commands {
        match command {
            Command::PutTasks { tasks, at_ms } => {
                at = at.max(at_ms);
                puts.extend(tasks);
            }
            Command::RemoveTasks { ids } => removes.extend(ids),
            Command::PutServices { services, at_ms } => {
                at = at.max(at_ms);
                for service in services {
                    if status_only(state, &service) {
                        statuses.push(service);
                    } else {
                        others.push(Command::PutServices {
                            services: vec![service],
                            at_ms,
                        });
                    }
                }
            }
            other => others.push(other),
        }
    }
    let mut out = others;
    out.extend(puts.chunks(TASKS_PER_WRITE).map(|chunk| Command::PutTasks {
        tasks: chunk.to_vec(),
        at_ms: at,
    }));
    out.extend(
        removes
            .chunks(TASKS_PER_WRITE)
            .map(|chunk| Command::RemoveTasks {
                ids: chunk.to_vec(),
            }),
    );
    if !statuses.is_empty() {
        out.push(Command::PutServices {
            services: statuses,
            at_ms: at,
        });
    }
    out
}

/// Whether `service` differs from the stored one in its observed status only.
fn status_only(state: &ClusterState, service: &crds::service::Service) -> bool {
    state.services.get(&service.meta.id).is_some_and(|stored| {
        stored.spec == service.spec
            && stored.previous_spec == service.previous_spec
            && stored.update == service.update
    })
}

/// What the leader's loop keeps between passes: the changes not decided yet, the task index
/// and the earliest delayed decision.
#[derive(Default)]
pub struct Backlog {
    /// Changes taken from the feed and not decided yet.
    pub changes: Changes,
    index: TaskIndex,
    /// The earliest delayed decision known.
    wake_at_ms: Option<u64>,
}

impl Backlog {
    /// A backlog that decides everything on its next pass (a new leader, or after a failure).
    pub fn everything() -> Self {
        Backlog {
            changes: Changes::everything(),
            ..Backlog::default()
        }
    }

    /// Whether nothing carried over from the last pass still waits for a decision.
    pub fn is_quiet(&self) -> bool {
        self.changes.is_empty()
    }

    /// When to pass again even if nothing changes (ms since the epoch).
    pub fn wake_at_ms(&self) -> Option<u64> {
        self.wake_at_ms
    }

    /// One pass over what changed (everything when a node changed or a delayed decision fell
    /// due), keeping the index and the wake-up time current.
    pub fn pass(
        &mut self,
        state: &ClusterState,
        now: u64,
        config: &Config,
        new_id: &mut dyn FnMut() -> String,
    ) -> Decision {
        let changes = std::mem::take(&mut self.changes);
        self.index.update(state, &changes);
        let due = self.wake_at_ms.is_some_and(|at| at <= now);
        let all = changes.everything || changes.nodes || due;
        let scope = if all {
            Scope::All
        } else {
            Scope::of(state, &changes)
        };
        let decision = decide_in(state, now, config, &scope, Some(&self.index), new_id);
        if decision.services_only {
            // Tasks are decided once the services are stored: keep what this pass saw.
            self.changes = changes;
            return decision;
        }
        self.wake_at_ms = match (all, self.wake_at_ms, decision.wake_at_ms) {
            (true, _, wake) => wake,
            (false, Some(a), Some(b)) => Some(a.min(b)),
            (false, a, b) => a.or(b),
        };
        decision
    }
}

#[cfg(test)]
#[path = "pass_test.rs"]
mod tests;
