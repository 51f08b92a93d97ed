//! What `service ls|ps` and `stack services|ps` show, computed from the cluster state (pure:
//! the admin handlers call these inside `sm.read`).
//!
//! Replica counts are computed from the tasks at read time rather than taken from
//! `Service::status`, so a read on any manager agrees with the tasks it returns next to them.

use std::collections::BTreeMap;

use crds::port::PortMode;
use crds::service::{Service, ServiceMode, ServiceSpec};
use crds::task::{Task, TaskHealth, TaskState};

use crate::protocol::{Replicas, ServiceView, ServicesQuery, TaskView, TasksQuery};
use crate::raft::ClusterState;
use crate::views::stacks::known_stacks;

/// Why a `?service=` filter names no single service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No service has that full or short name.
    #[error("no such service: {key} (known: {}; `reconciler service ls` lists them)", known_list(.known))]
    NotFound {
        /// The name asked for.
        key: String,
        /// Full names of the services in scope.
        known: Vec<String>,
    },
    /// No stack has that name.
    #[error("no such stack: {key} (known: {}; `reconciler stack ls` lists them)", known_list(.known))]
    NoSuchStack {
        /// The name asked for.
        key: String,
        /// The stacks the cluster knows.
        known: Vec<String>,
    },
    /// The short name is used in several stacks.
    #[error("{key:?} names {} services ({}); use the full name <stack>_<service>", .matches.len(), .matches.join(", "))]
    Ambiguous {
        /// The name asked for.
        key: String,
        /// Full names of the services it matches.
        matches: Vec<String>,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    }
}

/// Every service `query` selects with its replica counts, by full name.
pub fn compute_service_views(
    state: &ClusterState,
    query: &ServicesQuery,
) -> Result<Vec<ServiceView>, LookupError> {
    check_stack(state, query.stack.as_deref())?;
    let views = state
        .services
        .values()
        .filter(|service| {
            query
                .stack
                .as_deref()
                .is_none_or(|stack| service.spec.stack == stack)
        })
        .map(|service| ServiceView {
            service: service.clone(),
            replicas: compute_replicas(service, state.tasks.values()),
        })
        .collect();
    Ok(views)
}

/// `Ok` when `stack` is absent or names a stack the cluster knows.
fn check_stack(state: &ClusterState, stack: Option<&str>) -> Result<(), LookupError> {
    let Some(stack) = stack else {
        return Ok(());
    };
    let known = known_stacks(state);
    if known.iter().any(|k| k == stack) {
        Ok(())
    } else {
        Err(LookupError::NoSuchStack {
            key: stack.to_owned(),
            known,
        })
    }
}

/// `running` counts tasks that should run and do — and, when they have a healthcheck, pass it
/// (as in Swarm, where such a task is not up before it is healthy); `desired` is the replica
/// count, or for a global service the number of tasks that should run (one per eligible node).
pub fn compute_replicas<'a>(service: &Service, tasks: impl Iterator<Item = &'a Task>) -> Replicas {
    let mut replicas = Replicas::default();
    for task in tasks.filter(|t| t.service == service.spec.name) {
        if task.desired_state != TaskState::Running {
            continue;
        }
        replicas.desired += 1;
        let up = task.status.health.is_none_or(|h| h == TaskHealth::Healthy);
        if task.status.state == TaskState::Running && up {
            replicas.running += 1;
        }
    }
    if let ServiceMode::Replicated { replicas: n } = service.spec.mode {
        replicas.desired = n;
    }
    replicas
}

/// The tasks `query` selects, with their service's short name and their node's hostname.
pub fn compute_task_views(
    state: &ClusterState,
    query: &TasksQuery,
) -> Result<Vec<TaskView>, LookupError> {
    check_stack(state, query.stack.as_deref())?;
    let in_stack = |service: &Service| {
        query
            .stack
            .as_deref()
            .is_none_or(|stack| service.spec.stack == stack)
    };
    let only = match query.service.as_deref() {
        Some(key) => Some(resolve_service(state, key, &in_stack)?.spec.name.clone()),
        None => None,
    };
    let mut specs = SpecsByHash::default();
    let views = state
        .tasks
        .values()
        .filter(|task| match &only {
            Some(name) => &task.service == name,
            // A task whose service is gone has no stack: it shows only without a stack filter.
            None => match state.services.get(&task.service) {
                Some(service) => in_stack(service),
                None => query.stack.is_none(),
            },
        })
        .map(|task| view_task(state, task, &mut specs))
        .collect();
    Ok(views)
}

/// `web.1` for a replica, `web.<node id>` for a global service's task (slot 0).
pub fn task_name(short_name: &str, task: &Task) -> String {
    match (task.slot, &task.node) {
        (0, Some(node)) => format!("{short_name}.{node}"),
        (slot, _) => format!("{short_name}.{slot}"),
    }
}

/// Per service, the template hashes of its current and previous specs, computed once per read
/// (a hash serialises the whole spec).
#[derive(Default)]
struct SpecsByHash<'a> {
    by_service: BTreeMap<&'a str, Vec<(String, &'a ServiceSpec)>>,
}

impl<'a> SpecsByHash<'a> {
    /// The spec of `service` whose template hash is `hash`, if it is the current or previous one.
    fn find(&mut self, service: &'a Service, hash: &str) -> Option<&'a ServiceSpec> {
        let specs = self
            .by_service
            .entry(service.meta.id.as_str())
            .or_insert_with(|| {
                std::iter::once(&service.spec)
                    .chain(service.previous_spec.as_deref())
                    .map(|spec| (spec.template_hash(), spec))
                    .collect()
            });
        specs.iter().find(|(h, _)| h == hash).map(|(_, spec)| *spec)
    }
}

/// A service by full name, else by a short name unique among the services in scope.
fn resolve_service<'a>(
    state: &'a ClusterState,
    key: &str,
    in_scope: &dyn Fn(&Service) -> bool,
) -> Result<&'a Service, LookupError> {
    if let Some(service) = state.services.get(key).filter(|s| in_scope(s)) {
        return Ok(service);
    }
    let matches: Vec<&Service> = state
        .services
        .values()
        .filter(|s| in_scope(s) && s.spec.short_name() == key)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(LookupError::NotFound {
            key: key.to_owned(),
            known: state
                .services
                .values()
                .filter(|s| in_scope(s))
                .map(|s| s.spec.name.clone())
                .collect(),
        }),
        many => Err(LookupError::Ambiguous {
            key: key.to_owned(),
            matches: many.iter().map(|s| s.spec.name.clone()).collect(),
        }),
    }
}

fn view_task<'a>(state: &'a ClusterState, task: &Task, specs: &mut SpecsByHash<'a>) -> TaskView {
    let service = state.services.get(&task.service);
    let service_short_name = match service {
        Some(service) => service.spec.short_name().to_owned(),
        None => task.service.clone(),
    };
    let spec = service.and_then(|service| specs.find(service, &task.spec_hash));
    let node_hostname = task
        .node
        .as_ref()
        .and_then(|id| state.nodes.get(id))
        .map(|node| node.description.hostname.clone())
        .filter(|hostname| !hostname.is_empty());
    TaskView {
        task: task.clone(),
        service_short_name,
        node_hostname,
        image: spec.map(|spec| spec.image.clone()),
        host_ports: spec
            .map(|spec| {
                spec.ports
                    .iter()
                    .filter(|p| p.mode == PortMode::Host)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
#[path = "services_test.rs"]
mod tests;
