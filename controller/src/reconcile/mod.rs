//! The orchestrators, as pure decisions: cluster state and time in, Raft commands out.
//!
//! [`orchestrate`] reads the replicated [`ClusterState`] and returns the commands that move
//! services' tasks toward their specs: new tasks, tasks told to shut down, history to delete,
//! and service status. It does no IO and reads no clock; the leader runs it after state changes
//! (and at [`Orchestration::wake_at_ms`]), proposes the commands, and runs it again. On a
//! converged state it returns nothing, and applying its commands never makes it repeat work.
//!
//! # Layout
//! - [`eligibility`](self): whether a node keeps or takes a service's tasks.
//! - `slot`: one service's context, its slots (a replica number or a node) and the plan.
//! - `replicated`: scale up and down to `replicas` slots.
//! - `global`: one task per usable node.
//! - `restart`: restart policy and moves off lost nodes, per slot.
//! - `rollout`: rolling updates, failure actions and rollbacks.
//! - `reaper`: task history per slot.
//! - [`services`]: the applied revision's services → service changes.
//! - [`task_index`]: the leader's index of tasks by service, following the change feed.
//! - [`pass`]: one whole orchestration pass — services, then tasks, then placements — coalesced
//!   into few Raft entries, over everything or over what changed ([`pass::Backlog`]).
//!
//! ```text
//! ClusterState ─┬─ tasks grouped by service (one pass), sorted by slot
//!               └─ per service: rollout::assess ─▶ replicated | global (+ restart per slot)
//!                               ─▶ rollout::advance ─▶ reaper ─▶ status
//!                  ─▶ PutTasks · RemoveTasks · PutServices   (+ wake_at_ms)
//! ```

mod eligibility;
mod global;
pub mod pass;
mod reaper;
mod replicated;
pub(crate) mod restart;
mod rollout;
pub mod services;
mod slot;
pub mod task_index;

use crds::service::{Service, ServiceMode, ServiceStatus, UpdateState};
use crds::task::{Task, TaskState};

use crate::raft::command::Command;
use crate::raft::state::ClusterState;
use eligibility::{Eligibility, IdMap, Nodes};
use slot::{Ctx, Plan, Slot};

/// Orchestrator settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Finished tasks kept per slot (or per node, for global services) for `ps`.
    pub task_history: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { task_history: 5 }
    }
}

/// What one run decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Orchestration {
    /// Commands to propose, in order.
    pub commands: Vec<Command>,
    /// The earliest future time a delayed decision becomes due (a restart delay, an update
    /// delay, the end of an update's monitor period); `None` when nothing is pending.
    pub wake_at_ms: Option<u64>,
}

/// Decide what the orchestrators do about `state` at `now_ms`; `new_id` names new tasks.
pub fn orchestrate(
    state: &ClusterState,
    now_ms: u64,
    config: &Config,
    new_id: &mut dyn FnMut() -> String,
) -> Orchestration {
    let mut by_service: IdMap<&str, Vec<&Task>> =
        IdMap::with_capacity_and_hasher(state.services.len(), Default::default());
    for task in state.tasks.values() {
        by_service
            .entry(task.service.as_str())
            .or_default()
            .push(task);
    }
    for name in state.services.keys() {
        by_service.entry(name.as_str()).or_default();
    }
    orchestrate_services(
        state,
        now_ms,
        config,
        new_id,
        by_service.into_iter().collect(),
    )
}

/// [`orchestrate`] for some services only, each with all of its tasks: what a pass decides
/// about the services whose tasks or specs changed. Services that no longer exist get their
/// tasks shut down and deleted. The services are decided in name order, existing ones first.
pub fn orchestrate_services<'a>(
    state: &'a ClusterState,
    now_ms: u64,
    config: &Config,
    new_id: &mut dyn FnMut() -> String,
    mut services: Vec<(&'a str, Vec<&'a Task>)>,
) -> Orchestration {
    let nodes = Nodes::new(&state.nodes);
    services.sort_unstable_by_key(|(name, _)| (!state.services.contains_key(*name), *name));
    let mut out = Orchestration::default();
    for (name, tasks) in services {
        let plan = match state.services.get(name) {
            Some(service) => plan_service(service, tasks, &nodes, now_ms, config, new_id),
            None => ServicePlan {
                tasks: plan_removed(&tasks, &nodes),
                service: None,
            },
        };
        out.add(plan, now_ms);
    }
    out
}

/// The service with its replica count brought up to date, for a service whose only news since
/// its last decision is progress (tasks moving toward running): such news cannot call for a
/// decision, so counting its running tasks is all a full [`orchestrate`] would do. `None` when
/// the count is right. Not for a service with an update in progress, whose batches wait for
/// tasks to run.
pub fn recount(service: &Service, tasks: &[&Task]) -> Option<Service> {
    let running = tasks
        .iter()
        .filter(|t| t.desired_state == TaskState::Running && t.status.state == TaskState::Running)
        .count() as u64;
    (running != service.status.running).then(|| {
        let mut next = service.clone();
        next.status.running = running;
        next
    })
}

/// One service's decisions.
struct ServicePlan {
    tasks: Plan,
    /// The service with its new status, update status or spec, when any changed.
    service: Option<Service>,
}

impl Orchestration {
    fn add(&mut self, plan: ServicePlan, now_ms: u64) {
        let ServicePlan { tasks, service } = plan;
        let mut put = tasks.changed;
        put.extend(tasks.created);
        if !put.is_empty() {
            self.commands.push(Command::PutTasks {
                tasks: put,
                at_ms: now_ms,
            });
        }
        if !tasks.removed.is_empty() {
            self.commands
                .push(Command::RemoveTasks { ids: tasks.removed });
        }
        if let Some(service) = service {
            self.commands.push(Command::PutServices {
                services: vec![service],
                at_ms: now_ms,
            });
        }
        if let Some(wake) = tasks.wake.filter(|&w| w > now_ms) {
            self.wake_at_ms = Some(self.wake_at_ms.map_or(wake, |w| w.min(wake)));
        }
    }
}

/// Everything about one live service: rollback check, slots, rollout, history, status.
fn plan_service<'a>(
    service: &'a Service,
    mut tasks: Vec<&'a Task>,
    nodes: &'a Nodes<'a>,
    now: u64,
    config: &Config,
    new_id: &mut dyn FnMut() -> String,
) -> ServicePlan {
    let stored_hash = service.spec.template_hash();
    let mut update = service.update.clone();
    let updating = match service.spec.mode {
        ServiceMode::Replicated { replicas } => replicas,
        ServiceMode::Global => service.status.desired,
    };
    let verdict = rollout::assess(service, &stored_hash, &tasks, updating, now, &mut update);
    let (rolled_back_to, hash) = match verdict {
        rollout::Verdict::RollBack(spec) => {
            let hash = spec.template_hash();
            (Some(*spec), hash)
        }
        rollout::Verdict::Proceed => (None, stored_hash),
    };
    let spec = rolled_back_to.as_ref().unwrap_or(&service.spec);
    let global = spec.mode == ServiceMode::Global;
    sort_by_slot(&mut tasks, global);
    // Only a paused update needs this scan (see `rollout::held_back`).
    let paused = update
        .as_ref()
        .is_some_and(|u| matches!(u.state, UpdateState::Paused | UpdateState::RollbackPaused));
    let has_tasks_of_spec = paused && tasks.iter().any(|t| t.spec_hash == hash);
    let mut ctx = Ctx {
        service,
        spec,
        hash,
        now,
        fit: Eligibility::new(nodes, spec),
        nodes,
        new_id,
        has_tasks_of_spec,
    };
    let mut slots = group(&tasks, global);
    let mut plan = Plan::default();
    let desired = match spec.mode {
        ServiceMode::Replicated { replicas } => {
            replicated::plan(&mut ctx, &mut slots, &mut plan, replicas);
            replicas
        }
        ServiceMode::Global => global::plan(&mut ctx, &mut slots, &mut plan),
    };
    rollout::advance(&mut ctx, &mut slots, &mut plan, &mut update);
    for slot in &slots {
        reaper::reap(slot, config.task_history, &mut plan);
    }
    let running = slots
        .iter()
        .flat_map(|s| s.held())
        .filter(|(_, t)| t.status.state == TaskState::Running)
        .count() as u64;
    let status = ServiceStatus { running, desired };
    let changed = status != service.status || update != service.update || rolled_back_to.is_some();
    let service = changed.then(|| {
        let mut next = service.clone();
        next.status = status;
        next.update = update;
        if let Some(spec) = rolled_back_to {
            // The failed spec becomes the previous one, as `docker service rollback` does.
            let failed = std::mem::replace(&mut next.spec, spec);
            next.previous_spec = Some(Box::new(failed));
        }
        next
    });
    ServicePlan {
        tasks: plan,
        service,
    }
}

/// Sort by slot (or node), then creation time, then id: each slot's tasks become one run,
/// oldest first.
fn sort_by_slot(tasks: &mut [&Task], global: bool) {
    if global {
        tasks.sort_unstable_by(|a, b| {
            (a.node.as_deref(), a.meta.created_at_ms, &a.meta.id).cmp(&(
                b.node.as_deref(),
                b.meta.created_at_ms,
                &b.meta.id,
            ))
        });
    } else {
        tasks.sort_unstable_by(|a, b| {
            (a.slot, a.meta.created_at_ms, &a.meta.id).cmp(&(
                b.slot,
                b.meta.created_at_ms,
                &b.meta.id,
            ))
        });
    }
}

/// Split sorted tasks into slots.
fn group<'a>(tasks: &'a [&'a Task], global: bool) -> Vec<Slot<'a>> {
    let same = |a: &&Task, b: &&Task| {
        if global {
            a.node == b.node
        } else {
            a.slot == b.slot
        }
    };
    tasks
        .chunk_by(same)
        .map(|run| {
            let first = run[0];
            if global {
                Slot::new(0, Some(first.node.as_deref().unwrap_or_default()), run)
            } else {
                Slot::new(first.slot, None, run)
            }
        })
        .collect()
}

/// Tasks of a service that no longer exists: told to shut down, then deleted once stopped
/// (or once their node is down or gone, where nothing will ever report them stopped).
fn plan_removed(tasks: &[&Task], nodes: &Nodes<'_>) -> Plan {
    let mut plan = Plan::default();
    for task in tasks {
        if task.desired_state == TaskState::Running {
            let mut changed = (*task).clone();
            changed.desired_state = TaskState::Shutdown;
            plan.changed.push(changed);
        } else if task.status.state.is_terminal() || !nodes.reachable(task.node.as_deref()) {
            plan.removed.push(task.meta.id.clone());
        }
    }
    plan
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
#[path = "replicated_test.rs"]
mod replicated_test;

#[cfg(test)]
#[path = "restart_test.rs"]
mod restart_test;

#[cfg(test)]
#[path = "global_test.rs"]
mod global_test;

#[cfg(test)]
#[path = "rollout_test.rs"]
mod rollout_test;

#[cfg(test)]
#[path = "reaper_test.rs"]
mod reaper_test;

#[cfg(test)]
#[path = "property_test.rs"]
mod property_test;
