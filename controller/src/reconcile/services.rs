//! Services from the applied revision: what to create, change or delete so that the cluster's
//! services are the ones the revision in force defines (pure; the leader commits the result).
//!
//! One command per service change. A change of what shapes a task (the template hash) keeps the
//! old spec as `previous_spec` and clears the update status, which starts a rolling update; a
//! change of anything else (replicas, update policy) is applied as is. A spec that an update
//! rolled back is not applied again while the revision still asks for it: the service stays on the
//! previous spec and its update status says why, until a new revision changes the spec.

use std::collections::BTreeMap;

use crds::meta::ObjectMeta;
use crds::service::{Service, ServiceSpec, ServiceStatus};

use crate::raft::Command;
use crate::raft::state::ClusterState;

/// The commands that bring `state.services` to the applied revision's services.
pub fn plan(state: &ClusterState, now_ms: u64) -> Vec<Command> {
    let desired: BTreeMap<&str, &ServiceSpec> = state
        .revisions
        .applied
        .iter()
        .flat_map(|applied| applied.stacks.values())
        .flat_map(|stack| stack.services.iter())
        .map(|(name, spec)| (name.as_str(), spec))
        .collect();
    let mut commands = Vec::new();
    for (name, spec) in &desired {
        if let Some(service) = plan_service(state.services.get(*name), spec) {
            commands.push(Command::PutServices {
                services: vec![service],
                at_ms: now_ms,
            });
        }
    }
    for name in state.services.keys() {
        if !desired.contains_key(name.as_str()) {
            commands.push(Command::RemoveServices {
                names: vec![name.clone()],
            });
        }
    }
    commands
}

/// The service to store for `spec`, or `None` when the stored one is already right.
fn plan_service(current: Option<&Service>, spec: &ServiceSpec) -> Option<Service> {
    let Some(current) = current else {
        return Some(Service {
            meta: ObjectMeta {
                id: spec.name.clone(),
                ..ObjectMeta::default()
            },
            spec: spec.clone(),
            status: ServiceStatus::default(),
            previous_spec: None,
            update: None,
        });
    };
    if current.spec == *spec {
        return None;
    }
    let hash = spec.spec_hash();
    let rolled_back = current
        .update
        .as_ref()
        .and_then(|u| u.rolled_back_spec.as_deref())
        == Some(hash.as_str());
    if rolled_back {
        return None;
    }
    let mut next = current.clone();
    if current.spec.template_hash() != spec.template_hash() {
        next.previous_spec = Some(Box::new(current.spec.clone()));
        next.update = None;
    }
    next.spec = spec.clone();
    Some(next)
}

#[cfg(test)]
#[path = "services_test.rs"]
mod tests;
