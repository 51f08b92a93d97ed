//! The leader's orchestration loop: on every state change (and when a delayed decision falls
//! due) it decides — services from the applied revision, tasks from the services, placements for
//! pending tasks — and commits the decisions through Raft.
//!
//! [`decide`] is pure (state and `now` in, commands out). Three steps, each seeing the previous
//! one's commands applied on the next pass:
//! 1. [`services::plan`]: service creations, changes and removals (when there are any, the
//!    pass stops there, so tasks are decided on the services as stored);
//! 2. [`reconcile::orchestrate`]: task creations, shutdowns, restarts, updates, reaping;
//! 3. [`scheduler::schedule`]: new and still pending tasks placed in the same pass, so a new
//!    task is written once, already assigned; a task that fits nowhere stays pending with the
//!    scheduler's reason as its message.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crds::task::{Task, TaskState};
use tokio_util::sync::CancellationToken;

use crate::cluster::join_api::new_node_id;
use crate::cluster::manager::{Manager, now_ms};
use crate::raft::Command;
use crate::raft::state::ClusterState;
use crate::{reconcile, scheduler, services};

/// The most tasks in one Raft entry (an entry stays a few MiB).
pub const TASKS_PER_WRITE: usize = 10_000;
/// Writes proposed at once: Raft appends what is queued together, one disk flush per batch.
const WRITES_IN_FLIGHT: usize = 64;
/// The shortest time between passes, so that changes arriving together are decided together.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(50);

/// Settings of the loop.
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
}

/// One pass: pure.
pub fn decide(
    state: &ClusterState,
    now_ms: u64,
    config: &Config,
    new_id: &mut dyn FnMut() -> String,
) -> Decision {
    let service_changes = services::plan(state, now_ms);
    if !service_changes.is_empty() {
        return Decision {
            commands: service_changes,
            wake_at_ms: None,
        };
    }
    let orchestration = reconcile::orchestrate(state, now_ms, &config.reconcile, new_id);
    let mut commands = orchestration.commands;
    place(state, now_ms, config, &mut commands);
    Decision {
        commands: coalesce(state, commands),
        wake_at_ms: orchestration.wake_at_ms,
    }
}

/// Place the pending tasks: the new ones in `commands` (changed in place) and the stored ones
/// the orchestrator left alone (written with their placement or their new reason).
fn place(state: &ClusterState, now_ms: u64, config: &Config, commands: &mut Vec<Command>) {
    let touched: HashSet<&str> = commands
        .iter()
        .flat_map(|c| match c {
            Command::PutTasks { tasks, .. } => tasks.iter().map(|t| t.meta.id.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    let stored_pending: Vec<&Task> = state
        .tasks
        .values()
        .filter(|t| waits_for_placement(t) && !touched.contains(t.meta.id.as_str()))
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

/// A task the scheduler should look at: wanted running and not yet placed. `New` tasks wait
/// for their orchestrator (a stop-first update creates the successor before the old task stops).
fn waits_for_placement(task: &Task) -> bool {
    task.status.state == TaskState::Pending && task.desired_state <= TaskState::Running
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

/// Leader loop: decide and commit until `stop`.
pub async fn run(manager: Arc<Manager>, config: Config, stop: CancellationToken) {
    let mut version = manager.sm.watch();
    loop {
        let now = now_ms();
        let started = std::time::Instant::now();
        // A pass over a large state is CPU work: keep it off the threads that serve heartbeats.
        let sm = manager.sm.clone();
        let pass_config = config.clone();
        let decided = tokio::task::spawn_blocking(move || {
            let mut new_id = new_node_id;
            sm.read(|state| decide(state, now, &pass_config, &mut new_id))
        })
        .await;
        let Ok(decision) = decided else {
            tracing::error!("an orchestration pass panicked; retrying in 1s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let pass = started.elapsed();
        let wrote = !decision.commands.is_empty();
        if wrote {
            tracing::debug!(
                commands = decision.commands.len(),
                decided_in_ms = pass.as_millis() as u64,
                "orchestration pass"
            );
        }
        if wrote && !commit(&manager, decision.commands).await {
            // Not leading any more, or no quorum: the next leader decides again from the state.
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let wake = decision
            .wake_at_ms
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        if !wrote {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = version.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(wake) => {}
            }
        }
        // A pass reads the whole state under its read lock: leave at least as much time to
        // the writers (Raft applying reports) as the pass took.
        tokio::time::sleep(MIN_PASS_INTERVAL.max(pass)).await;
        version.borrow_and_update();
    }
}

/// Commit `commands` in order, a few at a time; false when a write failed.
async fn commit(manager: &Manager, commands: Vec<Command>) -> bool {
    let mut commands = commands.into_iter();
    loop {
        let group: Vec<Command> = commands.by_ref().take(WRITES_IN_FLIGHT).collect();
        if group.is_empty() {
            return true;
        }
        let writes = group
            .into_iter()
            .map(|cmd| manager.writer.write_as_leader(cmd));
        let mut ok = true;
        for result in futures_util::future::join_all(writes).await {
            if let Err(err) = result {
                tracing::warn!(error = %err, "committing orchestration decisions failed");
                ok = false;
            }
        }
        if !ok {
            return false;
        }
    }
}

#[cfg(test)]
#[path = "orchestration_test.rs"]
mod tests;
