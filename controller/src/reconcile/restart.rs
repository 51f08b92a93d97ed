//! Keeping a held slot alive: the restart policy and the moves off lost nodes.
//!
//! Owns what happens to the tasks holding one slot, whatever the service's mode:
//! - a holder on a lost node (Down, drained, gone, constraints no longer met) is shut down and,
//!   for replicated services, replaced at once in the same slot (no delay, attempt unchanged);
//! - a holder that stopped is restarted as the policy says (`condition`, `delay`,
//!   `max_attempts`, `window`); the replacement is a new task with `attempt + 1`;
//! - a stop-first replacement waiting in New is released to Pending once the old task stopped.
//!
//! There is no memory between calls: the delay is counted from the stopped task's
//! `status.timestamp_ms`, and a slot whose restarts are exhausted is recognised by its newest
//! task (see [`exhausted`]), which the reaper never removes.

use crds::compose::RestartCondition;
use crds::service::RestartPolicySpec;
use crds::task::{Task, TaskState};

use super::slot::{Ctx, Plan, Slot};

/// What the restart policy says about a holder that stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Replace it now with a task of this attempt number.
    Now {
        /// The replacement's `attempt`.
        attempt: u64,
    },
    /// Replace it once the delay has passed, at this time.
    At(u64),
    /// The condition does not restart it: it stays (terminal) in its slot, which is done.
    Keep,
    /// `max_attempts` is reached: stop restarting.
    Exhausted {
        /// The policy's `max_attempts`.
        max_attempts: u64,
    },
}

/// Milliseconds of a spec duration, saturating.
pub(crate) fn millis(d: crds::units::Duration) -> u64 {
    u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX)
}

/// The policy's verdict on `task`, which stopped (observed state terminal), at `now`.
pub(crate) fn decide(policy: &RestartPolicySpec, task: &Task, now: u64) -> Restart {
    let state = task.status.state;
    let wanted = match policy.condition {
        RestartCondition::Any => true,
        RestartCondition::OnFailure => matches!(state, TaskState::Failed | TaskState::Rejected),
        RestartCondition::None => false,
    };
    if !wanted {
        return Restart::Keep;
    }
    // A task that ran for a whole window was healthy for a while: its failure starts a new count.
    let ran = task
        .status
        .timestamp_ms
        .saturating_sub(task.meta.created_at_ms);
    let window = millis(policy.window);
    let attempt = if window > 0 && ran >= window {
        0
    } else {
        task.attempt + 1
    };
    if policy.max_attempts > 0 && attempt > policy.max_attempts {
        return Restart::Exhausted {
            max_attempts: policy.max_attempts,
        };
    }
    let due = task
        .status
        .timestamp_ms
        .saturating_add(millis(policy.delay));
    if now >= due {
        Restart::Now { attempt }
    } else {
        Restart::At(due)
    }
}

/// Whether a slot nobody holds is finished for good: its newest task runs the spec in force,
/// stopped, was shut down, and the policy would not restart it any more. Such a slot still
/// counts toward the replicas (it is not refilled) until the spec changes.
pub(crate) fn exhausted(ctx: &Ctx<'_, '_>, slot: &Slot<'_>) -> bool {
    let Some(newest) = slot.newest() else {
        return false;
    };
    newest.desired_state != TaskState::Running
        && newest.status.state.is_terminal()
        && ctx.is_current(newest)
        && matches!(
            decide(&ctx.spec.restart_policy, newest, ctx.now),
            Restart::Exhausted { .. }
        )
}

/// Keep a held slot alive: move off lost nodes (`replace_lost`: in the same slot, at once),
/// apply the restart policy to stopped holders, release waiting stop-first replacements.
pub(crate) fn maintain(
    ctx: &mut Ctx<'_, '_>,
    slot: &mut Slot<'_>,
    plan: &mut Plan,
    replace_lost: bool,
) {
    let mut lost_attempt = None;
    // Index loops, not collected lists: this runs for every slot on every call.
    for i in 0..slot.tasks.len() {
        let task = slot.tasks[i];
        if slot.holds(i) && ctx.lost(task) {
            slot.shut_down(i, plan, None);
            lost_attempt = Some(task.attempt);
        }
    }
    for i in 0..slot.tasks.len() {
        if slot.holds(i) && slot.tasks[i].status.state.is_terminal() {
            restart_stopped(ctx, slot, plan, i);
        }
    }
    if let Some(attempt) = lost_attempt.filter(|_| replace_lost && !slot.is_held()) {
        slot.create(ctx, plan, attempt, false);
    }
    release(ctx, slot, plan);
}

fn restart_stopped(ctx: &mut Ctx<'_, '_>, slot: &mut Slot<'_>, plan: &mut Plan, i: usize) {
    let task = slot.tasks[i];
    // Another holder still runs (a start-first pair): the stopped one just leaves.
    if slot.held().any(|(_, t)| !t.status.state.is_terminal()) || slot.created(plan).is_some() {
        slot.shut_down(i, plan, None);
        return;
    }
    match decide(&ctx.spec.restart_policy, task, ctx.now) {
        Restart::Now { attempt } => {
            slot.shut_down(i, plan, None);
            slot.create(ctx, plan, attempt, false);
        }
        Restart::At(due) => plan.wake_at(due),
        Restart::Keep => {}
        Restart::Exhausted { max_attempts } => {
            let message =
                format!("not restarted: restart_policy.max_attempts ({max_attempts}) reached");
            slot.shut_down(i, plan, Some(message));
        }
    }
}

/// A stop-first replacement waits in New until no old task of its slot may still run.
fn release(ctx: &mut Ctx<'_, '_>, slot: &mut Slot<'_>, plan: &mut Plan) {
    for i in 0..slot.tasks.len() {
        let task = slot.tasks[i];
        if slot.holds(i) && task.status.state == TaskState::New && !slot.stopping(ctx.nodes) {
            let mut released = task.clone();
            released.status.state = TaskState::Pending;
            released.status.timestamp_ms = ctx.now;
            plan.changed.push(released);
        }
    }
}
