//! Whether a service has converged on the spec its revision asks for, and if not, why (pure).
//!
//! A service is judged slot by slot (a replica number, or a node for a global service) from the
//! tasks the state holds, reading them the way the orchestrators will act on them:
//! - a slot is *done* when its task runs the spec in force (and reports healthy when the spec
//!   has a healthcheck), or when its task exited 0 and the restart policy leaves it be: a
//!   one-shot service has converged once its tasks completed (docker/cli#5299 waited forever on
//!   such services);
//! - a slot whose task failed and will not be restarted (`condition: none`, or `max_attempts`
//!   reached) is *stuck*, and the service has failed;
//! - a failing task that is being restarted, or a task no node fits, leaves the service
//!   *degraded*: it may still recover;
//! - anything else on the way (created, placed, starting, replaced by an update) is
//!   *progressing*, counted by how far its tasks got (`2 tasks preparing`).
//!
//! An update that paused or was rolled back fails the service whatever its tasks do: the spec
//! the revision asks for is not the one in force, and stays so until a new revision or an
//! operator acts.

use std::collections::BTreeMap;

use crds::service::{Service, ServiceMode, ServiceSpec, UpdateState};
use crds::task::{Task, TaskHealth, TaskState};

use crate::protocol::{Convergence, ServiceProgress};
use crate::reconcile::restart::{self, Restart};
use crate::views::services::task_name;

/// Task names listed in one reason before the rest are counted: thousands of tasks pending
/// for one reason make one line.
const MAX_NAMED: usize = 3;

/// What one slot's tasks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot<'a> {
    /// Its task runs the spec in force.
    Running,
    /// Its task exited 0 and is not restarted.
    Completed,
    /// Its task is on the way (created, placed, starting, running but not healthy yet, about to
    /// be restarted): how, in a word or two.
    OnTheWay(&'static str),
    /// A task of another spec still holds it (an update has not reached it yet).
    Stale,
    /// No task holds it and none finished: the orchestrator has yet to create one.
    Empty,
    /// Its task waits for a node; the scheduler's reason is the task's message.
    Unplaceable(&'a Task),
    /// This task failed and the slot is being restarted.
    Restarting(&'a Task),
    /// This task stopped and will not be restarted: `max_attempts` reached (`Some`), or the
    /// restart condition does not cover how it ended (`None`).
    Stuck(&'a Task, Option<u64>),
}

/// The progress of `service` toward `wanted`, the spec the applied revision gives it, judged
/// from `tasks` (the service's tasks, in any order) at `now_ms`.
pub fn compute_progress(
    service: &Service,
    wanted: &ServiceSpec,
    tasks: &[&Task],
    now_ms: u64,
) -> ServiceProgress {
    let spec = &service.spec;
    let short_name = spec.short_name().to_owned();
    let mut tally = Tally::default();
    judge_update(service, wanted, &mut tally);
    let hash = spec.template_hash();
    let slots = group(tasks, spec.mode);
    let mut desired = 0;
    let mut extra = 0;
    let mut judged = Vec::with_capacity(slots.len());
    for (key, tasks) in &slots {
        let slot = classify(tasks, &hash, spec, now_ms);
        let wanted_slot = match (spec.mode, key) {
            (ServiceMode::Replicated { replicas }, SlotKey::Replica(n)) => {
                (1..=replicas).contains(n)
            }
            // A node with no task holding it and none finished left the service (drained,
            // down, or no longer eligible).
            _ => slot != Slot::Empty,
        };
        if wanted_slot {
            desired += 1;
            judged.push(slot);
        } else if tasks.iter().any(|t| t.desired_state == TaskState::Running) {
            extra += 1;
        }
    }
    if extra > 0 {
        tally.note(
            Convergence::Progressing,
            format!("{} to stop (scaling down)", tasks_word(extra)),
        );
    }
    if let ServiceMode::Replicated { replicas } = spec.mode {
        // Slots with no task at all yet.
        judged.extend((desired..replicas).map(|_| Slot::Empty));
        desired = replicas;
    } else if desired == 0 {
        tally.note(
            Convergence::Degraded,
            "no task: no node is eligible for this global service".to_owned(),
        );
    }
    let (done, completed) = tally_slots(&judged, spec, &mut tally);
    ServiceProgress {
        name: spec.name.clone(),
        short_name,
        convergence: tally.convergence,
        done,
        desired,
        completed,
        reasons: tally.reasons,
    }
}

/// A service the revision defines that is not stored yet.
pub fn not_created(wanted: &ServiceSpec) -> ServiceProgress {
    ServiceProgress {
        name: wanted.name.clone(),
        short_name: wanted.short_name().to_owned(),
        convergence: Convergence::Progressing,
        done: 0,
        desired: match wanted.mode {
            ServiceMode::Replicated { replicas } => replicas,
            ServiceMode::Global => 0,
        },
        completed: 0,
        reasons: vec!["not created yet".to_owned()],
    }
}

/// A stored service the revision no longer defines.
pub fn being_removed(service: &Service) -> ServiceProgress {
    ServiceProgress {
        name: service.spec.name.clone(),
        short_name: service.spec.short_name().to_owned(),
        convergence: Convergence::Progressing,
        done: 0,
        desired: 0,
        completed: 0,
        reasons: vec!["being removed".to_owned()],
    }
}

/// The worst state noted so far and the reasons behind it.
#[derive(Debug, Default)]
struct Tally {
    convergence: Convergence,
    reasons: Vec<String>,
}

impl Tally {
    fn note(&mut self, convergence: Convergence, reason: String) {
        self.convergence = self.convergence.max(convergence);
        self.reasons.push(reason);
    }
}

/// The revision's spec against the stored one and the update status.
fn judge_update(service: &Service, wanted: &ServiceSpec, tally: &mut Tally) {
    let update = service.update.as_ref();
    let state = update.map(|u| u.state);
    let message = || update.map(|u| u.message.clone()).unwrap_or_default();
    if service.spec != *wanted {
        let rolled_back =
            update.and_then(|u| u.rolled_back_spec.as_deref()) == Some(wanted.spec_hash().as_str());
        match state {
            Some(UpdateState::RollbackCompleted | UpdateState::RollbackPaused) if rolled_back => {
                tally.note(Convergence::Failed, message());
            }
            Some(UpdateState::RollbackStarted) if rolled_back => {
                tally.note(Convergence::Progressing, message());
            }
            _ => tally.note(
                Convergence::Progressing,
                "the revision's spec is not applied yet".to_owned(),
            ),
        }
        return;
    }
    match state {
        Some(UpdateState::Paused | UpdateState::RollbackPaused) => {
            tally.note(Convergence::Failed, message());
        }
        Some(UpdateState::Updating | UpdateState::RollbackStarted) => {
            tally.note(Convergence::Progressing, message());
        }
        // A completed rollback of another spec: the revision asks again for the one that runs.
        Some(UpdateState::Completed | UpdateState::RollbackCompleted) | None => {}
    }
}

/// A replica number, or a node for a global service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SlotKey<'a> {
    Replica(u64),
    Node(&'a str),
}

fn group<'a>(tasks: &[&'a Task], mode: ServiceMode) -> BTreeMap<SlotKey<'a>, Vec<&'a Task>> {
    let mut slots: BTreeMap<SlotKey<'a>, Vec<&'a Task>> = BTreeMap::new();
    for task in tasks {
        let key = match mode {
            ServiceMode::Replicated { .. } => SlotKey::Replica(task.slot),
            ServiceMode::Global => SlotKey::Node(task.node.as_deref().unwrap_or_default()),
        };
        slots.entry(key).or_default().push(task);
    }
    slots
}

fn newest<'a>(tasks: impl Iterator<Item = &'a Task>) -> Option<&'a Task> {
    tasks.max_by(|a, b| (a.meta.created_at_ms, &a.meta.id).cmp(&(b.meta.created_at_ms, &b.meta.id)))
}

fn failed(task: &Task) -> bool {
    matches!(task.status.state, TaskState::Failed | TaskState::Rejected)
}

/// One slot, from its tasks.
fn classify<'a>(tasks: &[&'a Task], hash: &str, spec: &ServiceSpec, now: u64) -> Slot<'a> {
    let holders = || {
        tasks
            .iter()
            .copied()
            .filter(|t| t.desired_state == TaskState::Running)
    };
    let Some(holder) = newest(holders()) else {
        // Nobody holds the slot: it finished for good (the orchestrator leaves an exhausted
        // slot alone), or a new task is about to be created.
        return match newest(tasks.iter().copied()) {
            Some(last) if last.spec_hash == hash && last.status.state.is_terminal() => {
                match restart::decide(&spec.restart_policy, last, now) {
                    Restart::Exhausted { .. } if last.status.state == TaskState::Complete => {
                        Slot::Completed
                    }
                    Restart::Exhausted { max_attempts } => Slot::Stuck(last, Some(max_attempts)),
                    _ => Slot::Empty,
                }
            }
            _ => Slot::Empty,
        };
    };
    if holders().any(|t| t.spec_hash != hash) {
        return Slot::Stale;
    }
    let state = holder.status.state;
    if state == TaskState::Running {
        return match holder.status.health {
            _ if !spec.checks_health() => Slot::Running,
            Some(TaskHealth::Healthy) => Slot::Running,
            Some(TaskHealth::Unhealthy) => Slot::OnTheWay("unhealthy, being replaced"),
            _ => Slot::OnTheWay("running, not healthy yet"),
        };
    }
    if state.is_terminal() {
        return match restart::decide(&spec.restart_policy, holder, now) {
            Restart::Now { .. } | Restart::At(_) if failed(holder) => Slot::Restarting(holder),
            Restart::Now { .. } | Restart::At(_) => Slot::OnTheWay("stopped, to be restarted"),
            _ if state == TaskState::Complete => Slot::Completed,
            // The orchestrator moves tasks off lost nodes whatever the restart policy says.
            _ if state == TaskState::Orphaned => Slot::OnTheWay("orphaned, to be moved"),
            Restart::Exhausted { max_attempts } => Slot::Stuck(holder, Some(max_attempts)),
            Restart::Keep => Slot::Stuck(holder, None),
        };
    }
    if state == TaskState::Pending && holder.status.message.is_some() {
        return Slot::Unplaceable(holder);
    }
    // A replacement on its way after a failure: the slot is failing, not merely starting.
    let failure = newest(
        tasks
            .iter()
            .copied()
            .filter(|t| t.desired_state != TaskState::Running && t.spec_hash == hash),
    )
    .filter(|last| holder.attempt > 0 && failed(last));
    match failure {
        Some(last) => Slot::Restarting(last),
        None => Slot::OnTheWay(on_the_way(state)),
    }
}

/// The word for a task state before Running.
fn on_the_way(state: TaskState) -> &'static str {
    match state {
        TaskState::New => "new",
        TaskState::Pending => "pending",
        TaskState::Assigned => "assigned",
        TaskState::Accepted => "accepted",
        TaskState::Preparing => "preparing",
        _ => "starting",
    }
}

/// Count the done slots and note a reason for the others; returns `(done, completed)`.
fn tally_slots(slots: &[Slot<'_>], spec: &ServiceSpec, tally: &mut Tally) -> (u64, u64) {
    let short_name = spec.short_name();
    let (mut done, mut completed) = (0, 0);
    let mut on_the_way: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut stale, mut empty) = (0, 0);
    let mut pending: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut restarting = Vec::new();
    let mut stuck = Vec::new();
    for slot in slots {
        match *slot {
            Slot::Running => done += 1,
            Slot::Completed => {
                done += 1;
                completed += 1;
            }
            Slot::OnTheWay(how) => *on_the_way.entry(how).or_default() += 1,
            Slot::Stale => stale += 1,
            Slot::Empty => empty += 1,
            Slot::Unplaceable(task) => pending
                .entry(task.status.message.as_deref().unwrap_or_default())
                .or_default()
                .push(task_name(short_name, task)),
            Slot::Restarting(task) => restarting.push(format!(
                "{} {}; restarting",
                task_name(short_name, task),
                describe_end(task)
            )),
            Slot::Stuck(task, max_attempts) => stuck.push(format!(
                "{} {}; not restarted: {}",
                task_name(short_name, task),
                describe_end(task),
                why_not_restarted(spec, max_attempts)
            )),
        }
    }
    let counts = on_the_way
        .into_iter()
        .map(|(how, count)| (count, how))
        .chain([
            (stale, "still running the previous spec"),
            (empty, "not created yet"),
        ]);
    for (count, what) in counts {
        if count > 0 {
            tally.note(
                Convergence::Progressing,
                format!("{} {what}", tasks_word(count)),
            );
        }
    }
    for (reason, names) in pending {
        tally.note(
            Convergence::Degraded,
            format!("{} pending: {reason}", named(&names)),
        );
    }
    for (convergence, lines) in [
        (Convergence::Degraded, restarting),
        (Convergence::Failed, stuck),
    ] {
        let extra = lines.len().saturating_sub(MAX_NAMED);
        for line in lines.into_iter().take(MAX_NAMED) {
            tally.note(convergence, line);
        }
        if extra > 0 {
            tally.note(
                convergence,
                format!("and {} more like it", tasks_word(extra)),
            );
        }
    }
    (done, completed)
}

/// `1 task`, `3 tasks`.
fn tasks_word(count: usize) -> String {
    if count == 1 {
        "1 task".to_owned()
    } else {
        format!("{count} tasks")
    }
}

/// `web.1`, `web.1, web.2, web.3 and 4 more`.
fn named(names: &[String]) -> String {
    let shown = names
        .iter()
        .take(MAX_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().saturating_sub(MAX_NAMED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// `failed: exit code 1`, `was rejected: no such image`, `shut down`.
fn describe_end(task: &Task) -> String {
    let detail = task.status.error.as_deref();
    let verb = match task.status.state {
        TaskState::Rejected => "was rejected",
        TaskState::Failed => "failed",
        TaskState::Complete => "completed",
        TaskState::Orphaned => "was orphaned",
        _ => "was shut down",
    };
    match detail {
        Some(detail) => format!("{verb}: {detail}"),
        None => verb.to_owned(),
    }
}

/// `restart_policy.max_attempts (3) reached`, `restart_policy.condition is none`.
fn why_not_restarted(spec: &ServiceSpec, max_attempts: Option<u64>) -> String {
    match max_attempts {
        Some(max) => format!("restart_policy.max_attempts ({max}) reached"),
        None => {
            let condition = serde_json::to_value(spec.restart_policy.condition)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("restart_policy.condition is {condition}")
        }
    }
}

#[cfg(test)]
#[path = "convergence_test.rs"]
mod tests;
