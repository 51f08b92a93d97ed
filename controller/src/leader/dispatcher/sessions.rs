//! The bookkeeping of assignment sessions: what each connected node has been sent, and the
//! batches that bring it up to date with the state.
//!
//! [`Sessions::compute`] is the whole decision. A new session gets its node's full set, found in
//! one pass over the tasks; otherwise only the tasks the state machine reports as changed
//! ([`Changes::tasks`]) are looked at, so a pass costs what changed, not what exists. What a node
//! is sent of a task is remembered as a fingerprint of the fields an agent acts on (node, desired
//! state, spec): a task whose observed status alone moved is not sent back to the node that
//! reported it, as SwarmKit's dispatcher does.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use crds::assignment::{AssignmentBatch, is_assigned};
use crds::service::ServiceSpec;
use crds::task::Task;
use tokio::sync::mpsc;

use crate::raft::changes::Changes;
use crate::raft::state::ClusterState;

/// Where a session's batches go.
pub type Sender = mpsc::UnboundedSender<AssignmentBatch>;

/// One connected node.
#[derive(Debug)]
struct Session {
    /// The node's id, shared by the entries of [`Sessions::sent`].
    node: Arc<str>,
    tx: Sender,
    /// Spec hashes sent in this session.
    specs: HashSet<String>,
    /// Nothing sent yet: the next batch is the full set.
    fresh: bool,
}

/// What a node was last sent of a task.
#[derive(Debug)]
struct Sent {
    node: Arc<str>,
    fingerprint: u64,
}

/// Every connected node's session.
#[derive(Debug, Default)]
pub struct Sessions {
    by_node: HashMap<String, Session>,
    /// Task id → what was sent of it, for tasks in a session's set.
    sent: HashMap<String, Sent>,
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

/// The fields of a task its agent acts on; the observed status is the agent's own news.
fn fingerprint(task: &Task) -> u64 {
    let mut hasher = DefaultHasher::new();
    (&task.node, task.desired_state, &task.spec_hash, task.slot).hash(&mut hasher);
    hasher.finish()
}

/// The batches of one pass, by node.
struct Pass<'a> {
    state: &'a ClusterState,
    batches: HashMap<Arc<str>, AssignmentBatch>,
    specs: SpecIndex<'a>,
}

impl Sessions {
    /// Start (or restart) `node`'s session: its next batch is the full set.
    pub fn connect(&mut self, node: &str, tx: Sender) {
        self.by_node.insert(
            node.to_owned(),
            Session {
                node: node.into(),
                tx,
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

    /// The batches that bring every session up to date with `state`, given what changed since
    /// the last call, and the bookkeeping that records them as sent. Nodes with nothing new get
    /// nothing (fresh ones always get their set).
    pub fn compute(
        &mut self,
        state: &ClusterState,
        changes: &Changes,
    ) -> Vec<(String, AssignmentBatch)> {
        let mut pass = Pass {
            state,
            batches: HashMap::new(),
            specs: SpecIndex::default(),
        };
        let fresh: HashSet<Arc<str>> = (self.by_node.values())
            .filter(|s| s.fresh)
            .map(|s| s.node.clone())
            .collect();
        if !fresh.is_empty() {
            // Their full sets are built from scratch below.
            self.sent.retain(|_, sent| !fresh.contains(&sent.node));
        }
        if changes.everything || !fresh.is_empty() {
            for (id, task) in &state.tasks {
                self.consider(&mut pass, id, Some(task));
            }
        }
        if changes.everything {
            // Deleted tasks are known only by what was sent of them.
            let gone: Vec<String> = (self.sent.keys())
                .filter(|id| !state.tasks.contains_key(*id))
                .cloned()
                .collect();
            for id in gone {
                self.consider(&mut pass, &id, None);
            }
        } else {
            for id in changes.tasks.keys() {
                self.consider(&mut pass, id, state.tasks.get(id));
            }
        }
        let mut out = Vec::new();
        for (node, session) in &mut self.by_node {
            let mut batch = pass.batches.remove(&session.node).unwrap_or_default();
            batch.full = session.fresh;
            if session.fresh || !batch.is_empty() {
                session.fresh = false;
                out.push((node.clone(), batch));
            }
        }
        out
    }

    /// Bring task `id` (`None`: deleted) up to date in its node's session.
    fn consider<'a>(&mut self, pass: &mut Pass<'a>, id: &str, task: Option<&'a Task>) {
        let task = task.filter(|t| is_assigned(t));
        let node = task.and_then(|t| t.node.as_deref());
        let previous = self.sent.get(id);
        if let Some(previous) = previous
            && Some(&*previous.node) != node
        {
            // Unassigned, deleted or moved: its old node drops it.
            let old = previous.node.clone();
            self.sent.remove(id);
            if self.by_node.get(&*old).is_some_and(|s| !s.fresh) {
                batch(&mut pass.batches, &old).removed.push(id.to_owned());
            }
        }
        let (Some(task), Some(node)) = (task, node) else {
            return;
        };
        let Some(session) = self.by_node.get_mut(node) else {
            return;
        };
        let fingerprint = fingerprint(task);
        let known = self.sent.get(id).map(|s| s.fingerprint);
        if known == Some(fingerprint) {
            return;
        }
        self.sent.insert(
            id.to_owned(),
            Sent {
                node: session.node.clone(),
                fingerprint,
            },
        );
        let out = batch(&mut pass.batches, &session.node);
        if session.specs.insert(task.spec_hash.clone())
            && let Some(spec) = pass.specs.spec(pass.state, task)
        {
            out.specs.insert(task.spec_hash.clone(), spec.clone());
        }
        out.tasks.push(task.clone());
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

fn batch<'b>(
    batches: &'b mut HashMap<Arc<str>, AssignmentBatch>,
    node: &Arc<str>,
) -> &'b mut AssignmentBatch {
    batches.entry(node.clone()).or_default()
}

#[cfg(test)]
#[path = "sessions_test.rs"]
mod tests;
