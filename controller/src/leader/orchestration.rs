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
//!
//! # Passes cost what changed
//! The loop follows the state machine's change feed. A pass decides about every service only
//! when it must — a new leader, a node change, a delayed decision falling due — and otherwise
//! ([`decide_in`] with a [`Scope`]) only about the services whose tasks or specs changed, with
//! their tasks read through a [`TaskIndex`]. Services whose only news is progress (tasks moving
//! toward running) just get their replica count updated. With a million tasks a full pass takes
//! over a second; a pass after a batch of status reports takes milliseconds.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crds::task::{Task, TaskState};
use tokio_util::sync::CancellationToken;

use crate::leader::manager::Manager;
use crate::raft::changes::Changes;
use crate::raft::state::ClusterState;
use crate::raft::{Command, Response};
use crate::reconcile::services;
use crate::reconcile::task_index::{TaskIndex, waits_for_placement};
use crate::{reconcile, scheduler};

/// The most tasks in one Raft entry (an entry stays a few MiB).
pub const TASKS_PER_WRITE: usize = 10_000;
/// Writes proposed at once: Raft appends what is queued together, one disk flush per batch.
const WRITES_IN_FLIGHT: usize = 64;
/// The shortest time from the end of one pass to the start of the next, so that changes
/// arriving together are decided together.
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

/// Leader loop: decide and commit until `stop`.
pub async fn run(manager: Arc<Manager>, config: Config, stop: CancellationToken) {
    let mut version = manager.sm.watch();
    // Subscribed before the first pass: its first take says "everything".
    let feed = manager.sm.changes();
    let mut follower = Follower::default();
    // Entries of earlier terms may still be on their way into the state: decide on all of them.
    if !caught_up(&manager, &stop).await {
        return;
    }
    loop {
        let now = manager.clock.now_ms();
        let started = std::time::Instant::now();
        follower.changes.merge(feed.take());
        // A pass over a large state is CPU work: keep it off the threads that serve heartbeats.
        let sm = manager.sm.clone();
        let pass_config = config.clone();
        let decided = tokio::task::spawn_blocking(move || {
            let mut new_id = crate::ids::new_id;
            let decision = sm.read(|state| follower.pass(state, now, &pass_config, &mut new_id));
            (follower, decision)
        })
        .await;
        let Ok((mut next, decision)) = decided else {
            tracing::error!("an orchestration pass panicked; retrying in 1s");
            follower = Follower {
                changes: Changes::everything(),
                ..Follower::default()
            };
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let pass = started.elapsed();
        let wrote = !decision.commands.is_empty();
        // A pass that stopped at service changes is continued as soon as they are stored.
        let interval = if decision.services_only {
            Duration::ZERO
        } else {
            MIN_PASS_INTERVAL
        };
        if wrote {
            tracing::debug!(
                commands = decision.commands.len(),
                decided_in_ms = pass.as_millis() as u64,
                "orchestration pass"
            );
        }
        if wrote && !commit(&manager, decision.commands, &stop).await {
            // A decision was rejected, or leadership was lost: decide again from the whole
            // state, once every proposal of this pass is in it (deciding without one that is
            // still applied would create its tasks twice).
            next.changes = Changes::everything();
            follower = next;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if !caught_up(&manager, &stop).await {
                return;
            }
            continue;
        }
        follower = next;
        // Passes are paced, not delayed: the next one comes no sooner than MIN_PASS_INTERVAL
        // (changes arriving together are decided together) and than the time this one took
        // (a long pass leaves the state's writers — Raft applying reports — as much time), but
        // a change after a quiet spell is decided at once.
        let next_pass = tokio::time::Instant::from_std(started + pass + interval.max(pass));
        let wake = follower
            .wake_at_ms
            .map(|at| Duration::from_millis(at.saturating_sub(manager.clock.now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        if !wrote && feed_is_quiet(&follower) {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = version.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(wake) => {}
            }
        }
        tokio::time::sleep_until(next_pass).await;
        version.borrow_and_update();
    }
}

/// Wait until everything proposed so far is applied: a no-op entry (an empty status update) is
/// committed after every proposal made before it, so once it is applied they are too (or were
/// dropped with a lost leadership). False when `stop` came first or this manager stopped leading.
async fn caught_up(manager: &Manager, stop: &CancellationToken) -> bool {
    let barrier = Command::UpdateTaskStatus {
        updates: Vec::new(),
        at_ms: manager.clock.now_ms(),
    };
    tokio::select! {
        () = stop.cancelled() => false,
        written = manager.raft.client_write(barrier) => match written {
            Ok(_) => true,
            Err(err) => {
                tracing::info!(error = %err, "not deciding: the state did not catch up");
                false
            }
        },
    }
}

/// Whether nothing carried over from the last pass still waits for a decision.
fn feed_is_quiet(follower: &Follower) -> bool {
    follower.changes.is_empty()
}

/// What the loop keeps between passes.
#[derive(Default)]
struct Follower {
    /// Changes taken from the feed and not decided yet.
    changes: Changes,
    index: TaskIndex,
    /// The earliest delayed decision known.
    wake_at_ms: Option<u64>,
}

impl Follower {
    /// One pass over what changed (everything when a node changed or a delayed decision fell
    /// due), keeping the index and the wake-up time current.
    fn pass(
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

/// Commit `commands` in order, a few at a time; false when a write failed or `stop` came.
/// No timeout: at scale an entry of thousands of tasks may take longer than a client's write
/// timeout, and giving up on a write that is still applied later would decide its tasks twice.
async fn commit(manager: &Manager, commands: Vec<Command>, stop: &CancellationToken) -> bool {
    let mut commands = commands.into_iter();
    loop {
        let group: Vec<Command> = commands.by_ref().take(WRITES_IN_FLIGHT).collect();
        if group.is_empty() {
            return true;
        }
        let writes = group.into_iter().map(|cmd| manager.raft.client_write(cmd));
        let results = tokio::select! {
            () = stop.cancelled() => return false,
            results = futures_util::future::join_all(writes) => results,
        };
        let mut ok = true;
        for result in results {
            match result.map(|written| written.data) {
                Ok(Response::Ok { .. }) => {}
                Ok(Response::Rejected { reason }) => {
                    tracing::warn!(%reason, "an orchestration decision was rejected");
                    ok = false;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "committing orchestration decisions failed");
                    ok = false;
                }
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
