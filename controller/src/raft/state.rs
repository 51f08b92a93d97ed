//! The replicated cluster state and the pure function that applies a [`Command`] to it.
//!
//! # Versions
//! [`ClusterState::version`] counts the commands that *changed* something. A command that changes
//! an object stamps the object's `meta.version` with the new state version and its
//! `meta.updated_at_ms` with the command's `at_ms` (`created_at_ms` too when the object is new).
//! A command that changes nothing — the same `PutTasks` applied twice, a stale status report — bumps
//! no version at all, so a reader that sees a version move knows that something really changed.
//!
//! # Rules every command obeys
//! - Deterministic: no clock, no randomness, no IO; maps are ordered.
//! - All or nothing: a command that breaks an invariant is [`Response::Rejected`] before it
//!   touches anything.
//! - A task's observed state never moves backwards ([`TaskState`] is ordered), whichever command
//!   carries it; such items are skipped and counted in `Response::Ok { ignored }`.

use std::collections::BTreeMap;

use crds::meta::ObjectMeta;
use crds::node::{Node, NodeDescription, NodeState};
use crds::service::Service;
use crds::task::{Task, TaskHealth, TaskState, TaskStatus};
use serde::{Deserialize, Serialize};

use crate::pki::TokenStore;
use crate::raft::cluster_info::ClusterInfo;
use crate::raft::command::{Command, NodeUpdate, Response};
use crate::raft::rejection::{ObjectKind, Rejection};
use crate::source::spec::SourceSpec;
use crate::sync::record::RevisionRecord;

/// Everything the managers replicate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterState {
    /// Number of applied commands that changed something.
    pub version: u64,
    /// Nodes by id.
    #[serde(default)]
    pub nodes: BTreeMap<String, Node>,
    /// Services by full name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Tasks by id.
    #[serde(default)]
    pub tasks: BTreeMap<String, Task>,
    /// Applied and rejected revisions and their history.
    #[serde(default)]
    pub revisions: RevisionRecord,
    /// Identity, CA and join tokens; `None` until the first manager initialises the cluster.
    #[serde(default)]
    pub cluster: Option<ClusterInfo>,
}

/// One stored object of [`ClusterState`] (the unit the state machine persists).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A node, by id.
    Node(String),
    /// A service, by full name.
    Service(String),
    /// A task, by id.
    Task(String),
    /// The revision record.
    Revisions,
    /// The cluster identity and secrets.
    Cluster,
}

/// What a command stamps on the objects it changes.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    /// The state version the command produces if it changes anything.
    version: u64,
    /// The command's time.
    at_ms: u64,
}

/// What a command did.
#[derive(Debug, Default)]
struct Effect {
    /// Something changed (the state version moves).
    changed: bool,
    /// Items that had no effect (reported as `Response::Ok { ignored }`).
    ignored: u64,
}

impl Effect {
    fn changed(changed: bool) -> Self {
        Effect {
            changed,
            ignored: 0,
        }
    }

    fn merge(&mut self, other: Effect) {
        self.changed |= other.changed;
        self.ignored += other.ignored;
    }
}

/// Objects with [`ObjectMeta`], versioned the same way.
trait Versioned: Clone + PartialEq {
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn meta(&self) -> &ObjectMeta {
                &self.meta
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.meta
            }
        }
    )*};
}
versioned!(Node, Service, Task);

impl ClusterState {
    /// Apply one command. Pure and deterministic: the same commands in the same order give equal
    /// states on every manager.
    pub fn apply(&mut self, cmd: &Command) -> Response {
        let next = self.version + 1;
        let stamp = move |at_ms| Stamp {
            version: next,
            at_ms,
        };
        let outcome = match cmd {
            Command::RecordRevision { record } => Ok(self.record_revision(record)),
            Command::SetSource { source } => Ok(self.set_source(source)),
            Command::InitCluster { cluster } => self.init_cluster(cluster),
            Command::SetTokens { tokens } => self.set_tokens(tokens),
            Command::UpdateNode { id, update, at_ms } => {
                self.update_node(id, update, stamp(*at_ms))
            }
            Command::SetNodeDescription {
                id,
                description,
                at_ms,
            } => self.set_node_description(id, description, stamp(*at_ms)),
            Command::UpsertNode { node, at_ms } => self.upsert_node(node, stamp(*at_ms)),
            Command::RemoveNode { id } => Ok(self.remove_node(id)),
            Command::SetNodeState {
                id,
                state,
                message,
                at_ms,
            } => self.set_node_state(id, *state, message, stamp(*at_ms)),
            Command::PutTasks { tasks, at_ms } => self.put_tasks(tasks, stamp(*at_ms)),
            Command::UpdateTaskStatus { updates, at_ms } => {
                Ok(self.update_task_status(updates, stamp(*at_ms)))
            }
            Command::RemoveTasks { ids } => Ok(remove_all(&mut self.tasks, ids)),
            Command::PutServices { services, at_ms } => self.put_services(services, stamp(*at_ms)),
            Command::RemoveServices { names } => Ok(remove_all(&mut self.services, names)),
        };
        match outcome {
            Ok(effect) => {
                if effect.changed {
                    self.version += 1;
                }
                Response::Ok {
                    version: self.version,
                    ignored: effect.ignored,
                }
            }
            Err(reason) => Response::Rejected { reason },
        }
    }

    /// Forget the node and revoke its id: its certificate is refused from now on.
    fn remove_node(&mut self, id: &str) -> Effect {
        let removed = self.nodes.remove(id).is_some();
        let revoked = (self.cluster.as_mut()).is_some_and(|c| c.revoked.insert(id.to_owned()));
        Effect::changed(removed || revoked)
    }

    fn record_revision(&mut self, record: &RevisionRecord) -> Effect {
        let mut record = record.clone();
        record.trim_history();
        // The writer read the record before a `SetSource` was applied: keep the stored source.
        record.source = self.revisions.source.clone();
        if self.revisions == record {
            return Effect::default();
        }
        self.revisions = record;
        Effect::changed(true)
    }

    fn set_source(&mut self, source: &Option<SourceSpec>) -> Effect {
        if &self.revisions.source == source {
            return Effect::default();
        }
        self.revisions.source = source.clone();
        Effect::changed(true)
    }

    /// The stored node `id`, or the rejection every node command gives for an unknown one.
    fn known_node(&self, id: &str) -> Result<&Node, Rejection> {
        self.nodes
            .get(id)
            .ok_or_else(|| Rejection::UnknownNode { id: id.to_owned() })
    }

    fn init_cluster(&mut self, cluster: &ClusterInfo) -> Result<Effect, Rejection> {
        match &self.cluster {
            None => {
                self.cluster = Some(cluster.clone());
                Ok(Effect::changed(true))
            }
            // Replaying the same init (a retried proposal) is harmless.
            Some(current) if current == cluster => Ok(Effect::default()),
            Some(current) => Err(Rejection::AlreadyInitialised {
                current: current.id.clone(),
            }),
        }
    }

    fn set_tokens(&mut self, tokens: &TokenStore) -> Result<Effect, Rejection> {
        let cluster = self.cluster.as_mut().ok_or(Rejection::NotInitialised)?;
        if cluster.tokens == *tokens {
            return Ok(Effect::default());
        }
        cluster.tokens = tokens.clone();
        Ok(Effect::changed(true))
    }

    fn update_node(
        &mut self,
        id: &str,
        update: &NodeUpdate,
        stamp: Stamp,
    ) -> Result<Effect, Rejection> {
        let node = self.known_node(id)?;
        let mut changed = node.clone();
        if let Some(availability) = update.availability {
            changed.spec.availability = availability;
        }
        if let Some(role) = update.role {
            changed.spec.role = role;
        }
        for key in &update.labels_rm {
            changed.spec.labels.remove(key);
        }
        changed.spec.labels.extend(update.labels_add.clone());
        Ok(Effect::changed(upsert(&mut self.nodes, changed, stamp)))
    }

    fn set_node_description(
        &mut self,
        id: &str,
        description: &NodeDescription,
        stamp: Stamp,
    ) -> Result<Effect, Rejection> {
        let node = self.known_node(id)?;
        let mut changed = node.clone();
        changed.description = NodeDescription {
            raft_id: node.description.raft_id,
            ..description.clone()
        };
        Ok(Effect::changed(upsert(&mut self.nodes, changed, stamp)))
    }

    fn upsert_node(&mut self, node: &Node, stamp: Stamp) -> Result<Effect, Rejection> {
        require_id(ObjectKind::Node, &node.meta)?;
        Ok(Effect::changed(upsert(
            &mut self.nodes,
            node.clone(),
            stamp,
        )))
    }

    fn set_node_state(
        &mut self,
        id: &str,
        state: NodeState,
        message: &Option<String>,
        stamp: Stamp,
    ) -> Result<Effect, Rejection> {
        let node = self.known_node(id)?;
        // Only transitions are replicated: repeating the current state is not a new sighting.
        if node.status.state == state && node.status.message == *message {
            return Ok(Effect::default());
        }
        let mut changed = node.clone();
        changed.status.state = state;
        changed.status.message.clone_from(message);
        // A node heard from now was last seen now; a node going down keeps its last sighting.
        if state == NodeState::Ready {
            changed.status.last_seen_ms = stamp.at_ms;
        }
        Ok(Effect::changed(upsert(&mut self.nodes, changed, stamp)))
    }

    fn put_tasks(&mut self, tasks: &[Task], stamp: Stamp) -> Result<Effect, Rejection> {
        for task in tasks {
            require_id(ObjectKind::Task, &task.meta)?;
        }
        let mut effect = Effect::default();
        for task in tasks {
            let mut task = task.clone();
            if let Some(old) = self.tasks.get(&task.meta.id)
                && task.status.state < old.status.state
            {
                // The writer read the task before an agent's report was applied: keep the report.
                task.status = old.status.clone();
                effect.ignored += 1;
            } else if let Some(old) = self.tasks.get(&task.meta.id) {
                task.status.started_at_ms = task.status.started_at_ms.or(old.status.started_at_ms);
            }
            effect.merge(Effect::changed(upsert(&mut self.tasks, task, stamp)));
        }
        Ok(effect)
    }

    fn update_task_status(&mut self, updates: &[(String, TaskStatus)], stamp: Stamp) -> Effect {
        let mut effect = Effect::default();
        for (id, status) in updates {
            match self.tasks.get_mut(id) {
                Some(task) if !moves_forward(task.status.state, status.state) => {
                    effect.ignored += 1
                }
                Some(task) => {
                    let mut next = status.clone();
                    next.started_at_ms = started_at(&task.status, status);
                    if task.status != next {
                        task.status = next;
                        touch(&mut task.meta, stamp);
                        effect.changed = true;
                    }
                }
                None => effect.ignored += 1,
            }
        }
        effect
    }

    fn put_services(&mut self, services: &[Service], stamp: Stamp) -> Result<Effect, Rejection> {
        for service in services {
            require_id(ObjectKind::Service, &service.meta)?;
            if service.meta.id != service.spec.name {
                return Err(Rejection::ServiceIdMismatch {
                    id: service.meta.id.clone(),
                    name: service.spec.name.clone(),
                });
            }
        }
        let mut effect = Effect::default();
        for service in services {
            effect.merge(Effect::changed(upsert(
                &mut self.services,
                service.clone(),
                stamp,
            )));
        }
        Ok(effect)
    }
}

/// When the task first ran: kept once known, else the start the agent reported, else the time of
/// a `running` report — a healthy one when the task has a healthcheck (as in Swarm, a task is
/// not up before its check passes, so a task that never turned healthy never ran, and one that
/// turns unhealthy within the update's `monitor` of that is a failure of the update). Taken
/// from the command, never from the clock, so every manager applies the same value.
fn started_at(current: &TaskStatus, report: &TaskStatus) -> Option<u64> {
    let up = report.state == TaskState::Running
        && report.health.is_none_or(|h| h == TaskHealth::Healthy);
    current
        .started_at_ms
        .or(report.started_at_ms)
        .or_else(|| up.then_some(report.timestamp_ms))
}

/// A status may stay in its state (with new details) or move forward, never back.
fn moves_forward(from: TaskState, to: TaskState) -> bool {
    to >= from
}

fn require_id(kind: ObjectKind, meta: &ObjectMeta) -> Result<(), Rejection> {
    if meta.id.is_empty() {
        return Err(Rejection::MissingId { kind });
    }
    Ok(())
}

/// Store `obj` under its id; returns whether anything but bookkeeping differs from what was stored.
fn upsert<T: Versioned>(map: &mut BTreeMap<String, T>, mut obj: T, stamp: Stamp) -> bool {
    match map.get_mut(&obj.meta().id) {
        Some(old) => {
            // Compare content only: the writer's copy of the bookkeeping fields is not the truth.
            let meta = obj.meta_mut();
            meta.version = old.meta().version;
            meta.created_at_ms = old.meta().created_at_ms;
            meta.updated_at_ms = old.meta().updated_at_ms;
            if *old == obj {
                return false;
            }
            touch(obj.meta_mut(), stamp);
            *old = obj;
        }
        None => {
            obj.meta_mut().created_at_ms = stamp.at_ms;
            touch(obj.meta_mut(), stamp);
            map.insert(obj.meta().id.clone(), obj);
        }
    }
    true
}

fn touch(meta: &mut ObjectMeta, stamp: Stamp) {
    meta.version = stamp.version;
    meta.updated_at_ms = stamp.at_ms;
}

fn remove_all<T>(map: &mut BTreeMap<String, T>, ids: &[String]) -> Effect {
    let mut effect = Effect::default();
    for id in ids {
        effect.changed |= map.remove(id).is_some();
    }
    effect
}

#[cfg(test)]
#[path = "state_test.rs"]
mod tests;
