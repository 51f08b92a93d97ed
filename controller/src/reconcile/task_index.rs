//! The leader's index of tasks by service, kept up to date from the state machine's change
//! feed, so that an orchestration pass over a few services reads their tasks without scanning
//! every task of the cluster.
//!
//! The index holds task ids only; tasks themselves are always read from the state. It is
//! rebuilt from a full scan when the feed says "everything" (a new leader, an installed
//! snapshot), and otherwise follows [`Changes::tasks`]: a changed task that is still in the
//! state is (re)filed under its service, one that is gone is dropped.

use std::collections::{HashMap, HashSet};

use crds::task::{Task, TaskState};

use crate::raft::changes::Changes;
use crate::raft::state::ClusterState;

/// Task ids by service, and the tasks waiting for the scheduler.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TaskIndex {
    by_service: HashMap<String, HashSet<String>>,
    pending: HashSet<String>,
}

/// A task the scheduler should look at: wanted running and not yet placed. `New` tasks wait
/// for their orchestrator (a stop-first update creates the successor before the old task stops).
pub fn waits_for_placement(task: &Task) -> bool {
    task.status.state == TaskState::Pending && task.desired_state <= TaskState::Running
}

impl TaskIndex {
    /// The index of every task in `state`.
    pub fn build(state: &ClusterState) -> Self {
        let mut index = TaskIndex::default();
        for (id, task) in &state.tasks {
            index.file(id, task);
        }
        index
    }

    /// Follow `changes` (taken from the feed before `state` was read).
    pub fn update(&mut self, state: &ClusterState, changes: &Changes) {
        if changes.everything {
            *self = TaskIndex::build(state);
            return;
        }
        for (id, service) in &changes.tasks {
            match state.tasks.get(id) {
                Some(task) => self.file(id, task),
                None => {
                    if let Some(ids) = self.by_service.get_mut(service) {
                        ids.remove(id);
                        if ids.is_empty() {
                            self.by_service.remove(service);
                        }
                    }
                    self.pending.remove(id);
                }
            }
        }
    }

    fn file(&mut self, id: &str, task: &Task) {
        let ids = self.by_service.entry(task.service.clone()).or_default();
        if !ids.contains(id) {
            ids.insert(id.to_owned());
        }
        if waits_for_placement(task) {
            self.pending.insert(id.to_owned());
        } else {
            self.pending.remove(id);
        }
    }

    /// The tasks of `service`, in no particular order.
    pub fn tasks_of<'a>(&self, state: &'a ClusterState, service: &str) -> Vec<&'a Task> {
        self.by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|id| state.tasks.get(id))
            .collect()
    }

    /// The stored tasks waiting for placement, sorted by id.
    pub fn pending<'a>(&self, state: &'a ClusterState) -> Vec<&'a Task> {
        let mut pending: Vec<&Task> = (self.pending.iter())
            .filter_map(|id| state.tasks.get(id))
            .filter(|t| waits_for_placement(t))
            .collect();
        pending.sort_unstable_by(|a, b| a.meta.id.cmp(&b.meta.id));
        pending
    }

    /// Services that have tasks.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.by_service.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::fixtures::{changed_tasks as changed, task};

    fn state(tasks: Vec<Task>) -> ClusterState {
        let mut s = ClusterState::default();
        for t in tasks {
            s.tasks.insert(t.meta.id.clone(), t);
        }
        s
    }

    fn ids(tasks: Vec<&Task>) -> Vec<&str> {
        let mut ids: Vec<&str> = tasks.iter().map(|t| t.meta.id.as_str()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn following_changes_gives_what_a_rebuild_gives() {
        let mut s = state(vec![
            task("t1", TaskState::Running),
            task("t2", TaskState::Pending),
        ]);
        let mut index = TaskIndex::default();
        index.update(&s, &Changes::everything());
        assert_eq!(ids(index.tasks_of(&s, "shop_web")), ["t1", "t2"]);
        assert_eq!(ids(index.pending(&s)), ["t2"]);

        // t2 is placed, t1 deleted, t3 created pending.
        s.tasks.remove("t1");
        if let Some(t) = s.tasks.get_mut("t2") {
            t.status.state = TaskState::Assigned;
        }
        s.tasks.insert("t3".into(), task("t3", TaskState::Pending));
        index.update(&s, &changed(&["t1", "t2", "t3"]));
        assert_eq!(ids(index.tasks_of(&s, "shop_web")), ["t2", "t3"]);
        assert_eq!(ids(index.pending(&s)), ["t3"]);
        assert_eq!(index, TaskIndex::build(&s));

        s.tasks.clear();
        index.update(&s, &changed(&["t2", "t3"]));
        assert_eq!(index, TaskIndex::default(), "empty services are dropped");
    }
}
