//! What changed in the replicated state, for the leader's loops: the state machine records the
//! objects each applied command touched, so that the orchestrators and the dispatcher work on
//! what changed instead of scanning every task after every write.
//!
//! A subscriber ([`ChangeFeed`]) accumulates [`Changes`] between two looks and takes them with
//! [`ChangeFeed::take`]. A change is recorded while the state is written in memory, so whatever
//! a subscriber takes is already visible to [`StateMachineStore::read`]; reading the state after
//! taking the changes therefore never misses one (it may see newer ones, which the next take
//! repeats: consumers must be idempotent).
//!
//! Changes are classified for the orchestrators: *progress* (a task moving between non-terminal
//! states with its health unchanged, a service whose observed status alone changed) asks for
//! nothing but new replica counts; everything else may need a decision.
//!
//! [`StateMachineStore::read`]: crate::raft::StateMachineStore::read

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::raft::command::Command;
use crate::raft::state::ClusterState;

/// Changes since a subscriber last looked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Anything may have changed (a new subscriber, an installed snapshot): look at everything.
    pub everything: bool,
    /// A node was added, removed or changed (state, availability, labels, description).
    pub nodes: bool,
    /// The revision record changed.
    pub revisions: bool,
    /// Tasks written or removed by managers, and tasks reported finished or with a new health:
    /// task id → its service.
    pub tasks: HashMap<String, String>,
    /// Services whose spec or update changed, or that were removed.
    pub services: HashSet<String>,
    /// Services with progress only: tasks moving toward running, or a new observed status.
    pub progressed: HashSet<String>,
}

impl Changes {
    /// Everything, as a new subscriber sees it.
    pub fn everything() -> Self {
        Changes {
            everything: true,
            ..Changes::default()
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// Services that may need a decision: those of changed tasks, and changed services.
    pub fn decisive_services(&self) -> HashSet<&str> {
        self.tasks
            .values()
            .map(String::as_str)
            .chain(self.services.iter().map(String::as_str))
            .collect()
    }

    /// Record what `cmd` changes, looking at `state` *before* it is applied.
    pub fn record(&mut self, state: &ClusterState, cmd: &Command) {
        match cmd {
            Command::RecordRevision { .. } | Command::SetSource { .. } => self.revisions = true,
            Command::InitCluster { .. } | Command::SetTokens { .. } => {}
            Command::UpdateNode { .. }
            | Command::SetNodeDescription { .. }
            | Command::UpsertNode { .. }
            | Command::RemoveNode { .. }
            | Command::SetNodeState { .. } => self.nodes = true,
            Command::PutTasks { tasks, .. } => {
                for task in tasks {
                    self.tasks
                        .insert(task.meta.id.clone(), task.service.clone());
                }
            }
            Command::RemoveTasks { ids } => {
                for id in ids {
                    if let Some(task) = state.tasks.get(id) {
                        self.tasks.insert(id.clone(), task.service.clone());
                    }
                }
            }
            Command::UpdateTaskStatus { updates, .. } => {
                for (id, status) in updates {
                    let Some(task) = state.tasks.get(id) else {
                        continue;
                    };
                    if task.status == *status || status.state < task.status.state {
                        continue;
                    }
                    if status.state.is_terminal() || status.health != task.status.health {
                        self.tasks.insert(id.clone(), task.service.clone());
                    } else if !self.progressed.contains(&task.service) {
                        self.progressed.insert(task.service.clone());
                    }
                }
            }
            Command::PutServices { services, .. } => {
                for service in services {
                    let status_only = state.services.get(&service.meta.id).is_some_and(|s| {
                        s.spec == service.spec
                            && s.previous_spec == service.previous_spec
                            && s.update == service.update
                    });
                    if status_only {
                        self.progressed.insert(service.meta.id.clone());
                    } else {
                        self.services.insert(service.meta.id.clone());
                    }
                }
            }
            Command::RemoveServices { names } => self.services.extend(names.iter().cloned()),
        }
    }

    /// Add `other`, which happened after `self`.
    pub fn merge(&mut self, other: Changes) {
        if self.is_empty() {
            *self = other;
            return;
        }
        self.everything |= other.everything;
        self.nodes |= other.nodes;
        self.revisions |= other.revisions;
        if self.everything {
            // A rescan covers every object: keeping the names would only cost memory.
            self.tasks.clear();
            self.services.clear();
            self.progressed.clear();
            return;
        }
        self.tasks.extend(other.tasks);
        self.services.extend(other.services);
        self.progressed.extend(other.progressed);
    }
}

/// One subscriber's accumulated changes.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    pending: Arc<Mutex<Changes>>,
}

impl ChangeFeed {
    /// The changes since the last call (everything on the first).
    pub fn take(&self) -> Changes {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The subscribers of one state machine.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    feeds: Mutex<Vec<Weak<Mutex<Changes>>>>,
}

impl Subscribers {
    /// A new subscriber; its first [`ChangeFeed::take`] says "everything".
    pub(crate) fn subscribe(&self) -> ChangeFeed {
        let pending = Arc::new(Mutex::new(Changes::everything()));
        self.lock().push(Arc::downgrade(&pending));
        ChangeFeed { pending }
    }

    /// Hand `changes` to every live subscriber (dropped ones are forgotten).
    pub(crate) fn publish(&self, changes: Changes) {
        if changes.is_empty() {
            return;
        }
        let mut feeds = self.lock();
        feeds.retain(|feed| feed.strong_count() > 0);
        let live: Vec<Arc<Mutex<Changes>>> = feeds.iter().filter_map(Weak::upgrade).collect();
        drop(feeds);
        // The last subscriber takes the changes themselves; only the others need copies.
        let mut changes = Some(changes);
        for (i, pending) in live.iter().enumerate() {
            let mine = if i + 1 == live.len() {
                changes.take().unwrap_or_default()
            } else {
                changes.clone().unwrap_or_default()
            };
            pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .merge(mine);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Mutex<Changes>>>> {
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[path = "changes_test.rs"]
mod tests;
