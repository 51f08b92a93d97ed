//! Rolling updates and rollbacks: replacing tasks that run an old spec, a batch at a time.
//!
//! Owns `Service::update`. A slot is *stale* when a task holding it runs another template than
//! the spec in force. With stale slots and no update in flight, an update starts (unless it was
//! paused or rolled back for this same spec). Each batch takes `parallelism` stale slots (0 =
//! all) once no slot is in flight and `delay` has passed since the last new task became
//! healthy:
//! - stop-first: the old task is shut down and the new one waits in New until it stopped;
//! - start-first: the new task starts beside the old one, which is shut down once the new one
//!   is healthy (Running, and Healthy when the service has a healthcheck).
//!
//! A new task that fails (Failed or Rejected) within `monitor` of its creation is a failure;
//! over `max_failure_ratio` of the slots, `failure_action` applies: pause, continue, or roll back
//! (swap in `previous_spec` and replace tasks again under `rollback_config`). An update ends
//! once every slot runs the spec in force and its newest tasks survived `monitor`.
//!
//! Without memory between calls, "the tasks of this update" are the tasks of the spec in force
//! created since `update.started_at_ms`.

use crds::compose::{FailureAction, UpdateOrder};
use crds::service::{Service, ServiceSpec, UpdateConfigSpec, UpdateState, UpdateStatus};
use crds::task::{Task, TaskState};

use super::restart::millis;
use super::slot::{Ctx, Plan, Slot};

/// Prefix of the message while rolling back; the cause that follows is kept for the end.
const ROLLBACK_PREFIX: &str = "rollback started: ";

/// The outcome of checking an update in flight for failures, before any task is touched.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Go on with the stored spec.
    Proceed,
    /// Roll back: this spec (the previous one) is now in force.
    RollBack(Box<ServiceSpec>),
}

/// A task of the update counts as failed when it never ran (bad image, rejected, crashed before
/// reporting `running`) or failed within `monitor` of starting, as in SwarmKit's updater: a
/// slow pull must not hide a failure, and a task that ran longer than `monitor` had its chance.
fn failed_while_monitored(task: &Task, monitor: u64) -> bool {
    task.status
        .started_at_ms
        .is_none_or(|started| task.status.timestamp_ms.saturating_sub(started) <= monitor)
}

/// Count the failures of the update in flight and apply `failure_action` when there are too
/// many. `update` is the service's update status, changed in place; `slots` is how many slots
/// the update replaces.
pub(crate) fn assess(
    service: &Service,
    hash: &str,
    tasks: &[&Task],
    slots: u64,
    now: u64,
    update: &mut Option<UpdateStatus>,
) -> Verdict {
    let Some(status) = update.as_mut().filter(|u| u.state.in_progress()) else {
        return Verdict::Proceed;
    };
    let rolling_back = status.state == UpdateState::RollbackStarted;
    let config = policy(&service.spec, rolling_back);
    let monitor = millis(config.monitor);
    let mut failures = 0u64;
    let mut last: Option<&Task> = None;
    for task in tasks {
        if task.spec_hash == hash
            && task.meta.created_at_ms >= status.started_at_ms
            && matches!(task.status.state, TaskState::Failed | TaskState::Rejected)
            && failed_while_monitored(task, monitor)
        {
            failures += 1;
            let newer = last.is_none_or(|l| {
                (task.status.timestamp_ms, &task.meta.id) > (l.status.timestamp_ms, &l.meta.id)
            });
            if newer {
                last = Some(task);
            }
        }
    }
    let Some(failed) = last else {
        return Verdict::Proceed;
    };
    if failures as f64 / slots.max(1) as f64 <= config.max_failure_ratio {
        return Verdict::Proceed;
    }
    let cause = cause(failed);
    match (config.failure_action, rolling_back) {
        (FailureAction::Continue, _) => Verdict::Proceed,
        (_, true) => {
            stop(
                status,
                UpdateState::RollbackPaused,
                now,
                format!("rollback paused: {cause}"),
            );
            Verdict::Proceed
        }
        (FailureAction::Pause, false) => {
            stop(
                status,
                UpdateState::Paused,
                now,
                format!("update paused: {cause}"),
            );
            Verdict::Proceed
        }
        (FailureAction::Rollback, false) => match &service.previous_spec {
            Some(previous) => {
                *status = UpdateStatus {
                    state: UpdateState::RollbackStarted,
                    started_at_ms: now,
                    completed_at_ms: None,
                    message: format!("{ROLLBACK_PREFIX}{cause}"),
                    rolled_back_spec: Some(service.spec.spec_hash()),
                };
                Verdict::RollBack(previous.clone())
            }
            None => {
                let message = format!("update paused: {cause}; no previous spec to roll back to");
                stop(status, UpdateState::Paused, now, message);
                Verdict::Proceed
            }
        },
    }
}

fn stop(status: &mut UpdateStatus, state: UpdateState, now: u64, message: String) {
    status.state = state;
    status.completed_at_ms = Some(now);
    status.message = message;
}

/// `task <id> failed: <error>`, with the best detail the agent reported.
fn cause(task: &Task) -> String {
    let detail = task
        .status
        .error
        .as_deref()
        .or(task.status.message.as_deref())
        .unwrap_or(match task.status.state {
            TaskState::Rejected => "rejected",
            _ => "failed",
        });
    format!("task {} failed: {detail}", task.meta.id)
}

fn policy(spec: &ServiceSpec, rolling_back: bool) -> &UpdateConfigSpec {
    if rolling_back {
        &spec.rollback_config
    } else {
        &spec.update_config
    }
}

/// Where one slot stands in an update, after this call's other decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nobody holds it.
    Empty,
    /// Only old-spec tasks hold it: waiting for its batch.
    Stale,
    /// A new-spec task holds it but is not healthy yet (or an old one still runs beside it).
    InFlight,
    /// Only healthy new-spec tasks hold it.
    Done,
}

fn stage(ctx: &Ctx<'_, '_>, slot: &Slot<'_>, plan: &Plan) -> Stage {
    let (mut stale, mut current, mut healthy) = (false, slot.created(plan).is_some(), false);
    for (_, task) in slot.held() {
        if ctx.is_current(task) {
            current = true;
            healthy |= ctx.healthy(task);
        } else {
            stale = true;
        }
    }
    match (stale, current, healthy) {
        (false, false, _) => Stage::Empty,
        (true, false, _) => Stage::Stale,
        (false, true, true) => Stage::Done,
        _ => Stage::InFlight,
    }
}

/// Finish start-first pairs, start or finish the update, and replace the next batch.
pub(crate) fn advance(
    ctx: &mut Ctx<'_, '_>,
    slots: &mut [Slot<'_>],
    plan: &mut Plan,
    update: &mut Option<UpdateStatus>,
) {
    retire_replaced(ctx, slots, plan);
    let mut stale = Vec::new();
    let mut in_flight = 0usize;
    for (i, slot) in slots.iter().enumerate() {
        match stage(ctx, slot, plan) {
            Stage::Stale => stale.push(i),
            Stage::InFlight => in_flight += 1,
            Stage::Empty | Stage::Done => {}
        }
    }
    let in_progress = update.as_ref().is_some_and(|u| u.state.in_progress());
    if !in_progress && stale.is_empty() {
        return;
    }
    if !in_progress {
        if stale.is_empty() || held_back(ctx, update.as_ref()) {
            return;
        }
        *update = Some(UpdateStatus {
            state: UpdateState::Updating,
            started_at_ms: ctx.now,
            completed_at_ms: None,
            message: "update in progress".into(),
            rolled_back_spec: None,
        });
    }
    let Some(status) = update.as_mut() else {
        return;
    };
    let rolling_back = status.state == UpdateState::RollbackStarted;
    let config = *policy(ctx.spec, rolling_back);
    // Only reached while an update is in flight: a converged service never pays for this scan.
    let settled = last_settled(ctx, slots, status.started_at_ms);
    if stale.is_empty() && in_flight == 0 {
        let end = settled
            .unwrap_or(status.started_at_ms)
            .saturating_add(millis(config.monitor));
        if ctx.now >= end {
            finish(status, rolling_back, ctx.now);
        } else {
            plan.wake_at(end);
        }
        return;
    }
    if in_flight > 0 || stale.is_empty() {
        return;
    }
    if let Some(due) = settled.map(|s| s.saturating_add(millis(config.delay)))
        && ctx.now < due
    {
        plan.wake_at(due);
        return;
    }
    let batch = match usize::try_from(config.parallelism) {
        Ok(0) | Err(_) => stale.len(),
        Ok(n) => n,
    };
    for &i in stale.iter().take(batch) {
        replace(ctx, &mut slots[i], plan, config.order);
    }
}

/// Start-first: once a slot's new task is healthy, the old ones it replaces stop.
fn retire_replaced(ctx: &mut Ctx<'_, '_>, slots: &mut [Slot<'_>], plan: &mut Plan) {
    for slot in slots.iter_mut() {
        let ready = slot
            .held()
            .any(|(_, t)| ctx.is_current(t) && ctx.healthy(t));
        if !ready {
            continue;
        }
        for i in 0..slot.tasks.len() {
            if slot.holds(i) && !ctx.is_current(slot.tasks[i]) {
                slot.shut_down(i, plan, None);
            }
        }
    }
}

/// Replace one stale slot's tasks with one running the spec in force.
fn replace(ctx: &mut Ctx<'_, '_>, slot: &mut Slot<'_>, plan: &mut Plan, order: UpdateOrder) {
    match order {
        UpdateOrder::StopFirst => {
            slot.shut_down_all(plan);
            slot.create(ctx, plan, 0, true);
        }
        UpdateOrder::StartFirst => slot.create(ctx, plan, 0, false),
    }
}

/// When the update's newest healthy task reached its state, if it has any.
fn last_settled(ctx: &Ctx<'_, '_>, slots: &[Slot<'_>], since: u64) -> Option<u64> {
    slots
        .iter()
        .flat_map(|s| s.held())
        .filter(|(_, t)| ctx.is_current(t) && t.meta.created_at_ms >= since && ctx.healthy(t))
        .map(|(_, t)| t.status.timestamp_ms)
        .max()
}

/// Whether the stale slots must stay as they are: the update for this spec paused, or this
/// very spec was rolled back.
fn held_back(ctx: &Ctx<'_, '_>, update: Option<&UpdateStatus>) -> bool {
    let Some(update) = update else {
        return false;
    };
    match update.state {
        // Paused for this spec while tasks of it exist; a new spec has none yet.
        UpdateState::Paused | UpdateState::RollbackPaused => ctx.has_tasks_of_spec,
        UpdateState::RollbackCompleted => {
            update.rolled_back_spec.as_deref() == Some(ctx.spec.spec_hash().as_str())
        }
        UpdateState::Completed | UpdateState::Updating | UpdateState::RollbackStarted => false,
    }
}

fn finish(status: &mut UpdateStatus, rolling_back: bool, now: u64) {
    status.completed_at_ms = Some(now);
    if rolling_back {
        let cause = status
            .message
            .strip_prefix(ROLLBACK_PREFIX)
            .unwrap_or(&status.message)
            .to_owned();
        status.state = UpdateState::RollbackCompleted;
        status.message = format!("update rolled back: {cause}");
    } else {
        status.state = UpdateState::Completed;
        status.message = "update completed".into();
    }
}
