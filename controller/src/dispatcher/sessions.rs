//! The bookkeeping of assignment sessions: which tasks (at which version) and specs each
//! connected node has been sent, and the batches that bring it up to date with the state.
//!
//! [`Sessions::compute`] is the whole decision: one pass over the tasks finds, per connected
//! node, the full set (new sessions) or what changed since the last pass (others). Tasks carry the
//! state version of their last change, so "changed" is one comparison; tasks removed from the
//! state are noticed because a node's set shrank, and only then are its sent ids looked up.

use std::collections::{HashMap, HashSet};

use crds::assignment::{AssignmentBatch, is_assigned};
use crds::service::ServiceSpec;
use crds::task::Task;
use tokio::sync::mpsc;

use crate::raft::state::ClusterState;

/// Where a session's batches go.
pub type Sender = mpsc::UnboundedSender<AssignmentBatch>;

/// One connected node.
#[derive(Debug)]
struct Session {
    tx: Sender,
    /// Task id → the task version last sent.
    sent: HashMap<String, u64>,
    /// Spec hashes sent in this session.
    specs: HashSet<String>,
    /// Nothing sent yet: the next batch is the full set.
    fresh: bool,
}

/// Every connected node's session.
#[derive(Debug, Default)]
pub struct Sessions {
    by_node: HashMap<String, Session>,
    /// The state version of the last pass: tasks changed after it are news.
    seen_version: u64,
}

/// Specs by template hash, computed once per service per pass (hashing a spec is not free).
#[derive(Default)]
struct SpecIndex<'a> {
    by_service: HashMap<&'a str, Vec<(String, &'a ServiceSpec)>>,
}

impl<'a> SpecIndex<'a> {
    fn spec(&mut self, state: &'a ClusterState, task: &'a Task) -> Option<&'a ServiceSpec> {
        let specs = self
            .by_service
            .entry(task.service.as_str())
            .or_insert_with(|| {
                state
                    .services
                    .get(&task.service)
                    .map(|s| {
                        std::iter::once(&s.spec)
                            .chain(s.previous_spec.as_deref())
                            .map(|spec| (spec.template_hash(), spec))
                            .collect()
                    })
                    .unwrap_or_default()
            });
        specs
            .iter()
            .find(|(hash, _)| *hash == task.spec_hash)
            .map(|(_, spec)| *spec)
    }
}

impl Sessions {
    /// Start (or restart) `node`'s session: its next batch is the full set.
    pub fn connect(&mut self, node: &str, tx: Sender) {
        self.by_node.insert(
            node.to_owned(),
            Session {
                tx,
                sent: HashMap::new(),
                specs: HashSet::new(),
                fresh: true,
            },
        );
    }

    /// Drop sessions whose receiver is gone, and every session when `all` (leadership lost:
    /// nodes must reconnect to the new leader).
    pub fn prune(&mut self, all: bool) {
        self.by_node.retain(|_, s| !all && !s.tx.is_closed());
    }

    /// Number of connected nodes.
    pub fn len(&self) -> usize {
        self.by_node.len()
    }

    /// Whether no node is connected.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// The batches that bring every session up to date with `state`, and the bookkeeping that
    /// records them as sent. Nodes with nothing new get nothing (fresh ones always get their set).
    pub fn compute(&mut self, state: &ClusterState) -> Vec<(String, AssignmentBatch)> {
        let mut batches: HashMap<&str, AssignmentBatch> = HashMap::new();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut specs = SpecIndex::default();
        let seen = self.seen_version;
        let any_fresh = self.by_node.values().any(|s| s.fresh);
        for task in state.tasks.values() {
            let Some(node) = task.node.as_deref() else {
                continue;
            };
            // Unchanged tasks only matter to fresh sessions; skip the lookups otherwise.
            if !any_fresh && task.meta.version <= seen && !is_assigned(task) {
                continue;
            }
            let Some(session) = self.by_node.get_mut(node) else {
                continue;
            };
            if !is_assigned(task) {
                if session.sent.remove(&task.meta.id).is_some() {
                    batch(&mut batches, node).removed.push(task.meta.id.clone());
                }
                continue;
            }
            *counts.entry(node).or_default() += 1;
            let news = session.fresh
                || session.sent.get(&task.meta.id).copied() != Some(task.meta.version);
            if !news {
                continue;
            }
            session.sent.insert(task.meta.id.clone(), task.meta.version);
            let out = batch(&mut batches, node);
            if session.specs.insert(task.spec_hash.clone())
                && let Some(spec) = specs.spec(state, task)
            {
                out.specs.insert(task.spec_hash.clone(), spec.clone());
            }
            out.tasks.push(task.clone());
        }
        let mut out: Vec<(String, AssignmentBatch)> = Vec::new();
        for (node, session) in &mut self.by_node {
            let mut batch = batches.remove(node.as_str()).unwrap_or_default();
            let count = counts.get(node.as_str()).copied().unwrap_or(0);
            if !session.fresh && session.sent.len() > count {
                // Tasks deleted from the state (reaped, or their service removed).
                session.sent.retain(|id, _| {
                    let keep = state.tasks.contains_key(id);
                    if !keep {
                        batch.removed.push(id.clone());
                    }
                    keep
                });
            }
            batch.full = session.fresh;
            if session.fresh || !batch.is_empty() {
                session.fresh = false;
                out.push((node.clone(), batch));
            }
        }
        self.seen_version = state.version;
        out
    }

    /// Send each batch to its session; a node whose receiver is gone loses its session.
    pub fn send(&mut self, batches: Vec<(String, AssignmentBatch)>) {
        for (node, batch) in batches {
            let gone = self
                .by_node
                .get(&node)
                .is_some_and(|s| s.tx.send(batch).is_err());
            if gone {
                self.by_node.remove(&node);
            }
        }
    }
}

fn batch<'a, 'b>(
    batches: &'b mut HashMap<&'a str, AssignmentBatch>,
    node: &'a str,
) -> &'b mut AssignmentBatch {
    batches.entry(node).or_default()
}

#[cfg(test)]
#[path = "sessions_test.rs"]
mod tests;
