//! Task history: how many finished tasks each slot keeps.
//!
//! Owns deletions of tasks of live services. Per slot (replicated) or per node (global), the
//! tasks that stopped (observed state terminal) after being told to (desired Shutdown) are
//! history; the newest `task_history` of them (by creation time, then id) stay for `ps`, older
//! ones are removed. The newest task of a slot is never removed, even with a history of 0: it
//! is what tells an exhausted slot (restart `max_attempts` reached) from a free one.

use crds::task::TaskState;

use super::slot::{Plan, Slot};

/// Remove the history of `slot` beyond `keep` tasks.
pub(crate) fn reap(slot: &Slot<'_>, keep: usize, plan: &mut Plan) {
    let newest = slot.tasks.len().saturating_sub(1);
    let is_history = |i: usize| {
        let task = slot.tasks[i];
        // Only tasks told to stop before this call: a task shut down now is reaped next time.
        task.desired_state != TaskState::Running && task.status.state.is_terminal()
    };
    let count = (0..slot.tasks.len()).filter(|&i| is_history(i)).count();
    if count <= keep {
        return;
    }
    // Tasks are sorted oldest first: the first `count - keep` of the history go.
    let excess = count - keep;
    let old = (0..slot.tasks.len())
        .filter(|&i| is_history(i))
        .take(excess)
        .filter(|&i| i != newest);
    plan.removed
        .extend(old.map(|i| slot.tasks[i].meta.id.clone()));
}
