//! Test fixtures: services, nodes and a tiny cluster simulator around [`orchestrate`].
//!
//! [`World`] owns a [`ClusterState`] and a clock. `run()` calls the orchestrator and applies its
//! commands through `ClusterState::apply`, like the leader would. `place()` plays the scheduler
//! (Pending tasks go round-robin to nodes that take them) and `agents()` plays every agent
//! (placed tasks start, tasks told to stop stop).

use std::time::Duration as StdDuration;

use crds::compose::{FailureAction, RestartCondition, UpdateOrder};
use crds::node::{Availability, Node, NodeState};
use crds::service::{Service, ServiceMode};
use crds::task::{Task, TaskHealth, TaskState, TaskStatus};
use crds::units::Duration;

use super::{Config, Orchestration, orchestrate};
use crate::raft::command::{Command, Response};
use crate::raft::fixtures;
use crate::raft::state::ClusterState;

/// The service every test uses.
pub(crate) const WEB: &str = "shop_web";

/// A spec duration of `ms` milliseconds.
pub(crate) fn ms(ms: u64) -> Duration {
    Duration(StdDuration::from_millis(ms))
}

/// `shop_web` with `replicas`, restart `any` with no delay, updates one at a time, stop-first,
/// no monitor, pause on failure.
pub(crate) fn web(replicas: u64) -> Service {
    let mut service = fixtures::service(WEB);
    service.spec.mode = ServiceMode::Replicated { replicas };
    service.spec.ports.clear();
    service.spec.restart_policy.condition = RestartCondition::Any;
    service.spec.restart_policy.delay = ms(0);
    service.spec.restart_policy.max_attempts = 0;
    service.spec.restart_policy.window = ms(0);
    let update = &mut service.spec.update_config;
    update.parallelism = 1;
    update.delay = ms(0);
    update.monitor = ms(0);
    update.max_failure_ratio = 0.0;
    update.failure_action = FailureAction::Pause;
    update.order = UpdateOrder::StopFirst;
    service.spec.rollback_config = service.spec.update_config;
    service
}

/// `shop_web` as a global service.
pub(crate) fn global_web() -> Service {
    let mut service = web(0);
    service.spec.mode = ServiceMode::Global;
    service
}

/// A Ready, Active worker.
pub(crate) fn node(id: &str) -> Node {
    let mut node = fixtures::node(id);
    node.description.hostname = id.to_owned();
    node.status.state = NodeState::Ready;
    node.spec.availability = Availability::Active;
    node
}

/// A task of `shop_web` for direct use in `ClusterState::tasks`.
pub(crate) fn task(id: &str, slot: u64, node: Option<&str>, hash: &str, state: TaskState) -> Task {
    let mut task = fixtures::task(id, state);
    task.slot = slot;
    task.node = node.map(str::to_owned);
    task.spec_hash = hash.to_owned();
    task
}

/// A cluster state, a clock and an id counter.
pub(crate) struct World {
    /// The replicated state.
    pub state: ClusterState,
    /// Leader time.
    pub now: u64,
    /// Orchestrator settings.
    pub config: Config,
    next_id: u64,
    next_node: usize,
}

impl World {
    /// `nodes` Ready and Active, `services` stored, time 1000.
    pub(crate) fn new(nodes: &[&str], services: Vec<Service>) -> Self {
        let mut world = World {
            state: ClusterState::default(),
            now: 1_000,
            config: Config::default(),
            next_id: 0,
            next_node: 0,
        };
        for id in nodes {
            world.state.nodes.insert((*id).to_owned(), node(id));
        }
        for service in services {
            world.put_service(service);
        }
        world
    }

    /// Store `service` as a revision would.
    pub(crate) fn put_service(&mut self, service: Service) {
        self.apply(&Command::PutServices {
            services: vec![service],
            at_ms: self.now,
        });
    }

    /// Apply one command; it must not be rejected.
    pub(crate) fn apply(&mut self, command: &Command) {
        let response = self.state.apply(command);
        assert!(
            matches!(response, Response::Ok { .. }),
            "{command:?}: {response:?}"
        );
    }

    /// Orchestrate without applying (ids continue from the counter).
    pub(crate) fn decide(&mut self) -> Orchestration {
        let next_id = &mut self.next_id;
        let mut new_id = || {
            *next_id += 1;
            format!("t{next_id}")
        };
        orchestrate(&self.state, self.now, &self.config, &mut new_id)
    }

    /// Orchestrate and apply the commands.
    pub(crate) fn run(&mut self) -> Orchestration {
        let out = self.decide();
        for command in &out.commands {
            self.apply(command);
        }
        out
    }

    /// The stored service.
    pub(crate) fn service(&self, name: &str) -> &Service {
        &self.state.services[name]
    }

    /// Tasks of `service`, by id.
    pub(crate) fn tasks_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Task> {
        self.state
            .tasks
            .values()
            .filter(move |t| t.service == service)
    }

    /// Tasks holding a slot (desired Running), by id.
    pub(crate) fn holders(&self) -> Vec<&Task> {
        self.state
            .tasks
            .values()
            .filter(|t| t.desired_state == TaskState::Running)
            .collect()
    }

    /// Report `state` for task `id` now.
    pub(crate) fn report(&mut self, id: &str, state: TaskState) {
        let mut status = self.state.tasks[id].status.clone();
        status.state = state;
        status.timestamp_ms = self.now;
        if state == TaskState::Failed {
            status.error = Some("exit code 1".into());
        }
        self.apply(&Command::UpdateTaskStatus {
            updates: vec![(id.to_owned(), status)],
            at_ms: self.now,
        });
    }

    /// Report health for task `id`.
    pub(crate) fn report_health(&mut self, id: &str, health: TaskHealth) {
        let mut status = self.state.tasks[id].status.clone();
        status.health = Some(health);
        self.apply(&Command::UpdateTaskStatus {
            updates: vec![(id.to_owned(), status)],
            at_ms: self.now,
        });
    }

    /// Change node `id` with `f`.
    pub(crate) fn edit_node(&mut self, id: &str, f: impl FnOnce(&mut Node)) {
        let mut node = self.state.nodes[id].clone();
        f(&mut node);
        self.apply(&Command::UpsertNode {
            node,
            at_ms: self.now,
        });
    }

    /// The scheduler: Pending tasks with desired Running go to a node that takes new tasks
    /// (their own node for global tasks), round-robin.
    pub(crate) fn place(&mut self) {
        let usable: Vec<String> = self
            .state
            .nodes
            .values()
            .filter(|n| {
                n.status.state == NodeState::Ready && n.spec.availability == Availability::Active
            })
            .map(|n| n.meta.id.clone())
            .collect();
        let pending: Vec<Task> = self
            .state
            .tasks
            .values()
            .filter(|t| {
                t.status.state == TaskState::Pending && t.desired_state == TaskState::Running
            })
            .cloned()
            .collect();
        let mut placed = Vec::new();
        for mut task in pending {
            let node = match &task.node {
                Some(node) if usable.contains(node) => node.clone(),
                Some(_) => continue,
                None if usable.is_empty() => continue,
                None => {
                    self.next_node = (self.next_node + 1) % usable.len();
                    usable[self.next_node].clone()
                }
            };
            task.node = Some(node);
            task.status = TaskStatus {
                state: TaskState::Assigned,
                timestamp_ms: self.now,
                ..TaskStatus::default()
            };
            placed.push(task);
        }
        if !placed.is_empty() {
            self.apply(&Command::PutTasks {
                tasks: placed,
                at_ms: self.now,
            });
        }
    }

    /// Every agent on a Ready node: assigned tasks run, tasks told to stop stop.
    pub(crate) fn agents(&mut self) {
        let mut updates = Vec::new();
        for task in self.state.tasks.values() {
            let Some(node) = task.node.as_ref().and_then(|n| self.state.nodes.get(n)) else {
                continue;
            };
            if node.status.state != NodeState::Ready || task.status.state.is_terminal() {
                continue;
            }
            let state = if task.desired_state != TaskState::Running {
                TaskState::Shutdown
            } else if task.status.state >= TaskState::Assigned
                && task.status.state < TaskState::Running
            {
                TaskState::Running
            } else {
                continue;
            };
            let status = TaskStatus {
                state,
                timestamp_ms: self.now,
                ..TaskStatus::default()
            };
            updates.push((task.meta.id.clone(), status));
        }
        if !updates.is_empty() {
            self.apply(&Command::UpdateTaskStatus {
                updates,
                at_ms: self.now,
            });
        }
    }

    /// Orchestrate, place and run agents until nothing changes (at most `rounds` rounds).
    pub(crate) fn settle(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let before = self.state.version;
            self.run();
            self.place();
            self.agents();
            if self.state.version == before {
                return;
            }
        }
    }
}
