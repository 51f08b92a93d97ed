//! What `stack ls` and `status` show per stack: its sync state against the revision in force,
//! computed from the cluster state (pure: the admin handlers call these inside `sm.read`).
//!
//! A stack is *synced* when the applied revision is the newest one seen and every service of
//! the stack converged on it ([`convergence`]); *degraded* when a service failed or is degraded;
//! *progressing* otherwise (services being created, updated or removed, tasks starting, a newer
//! revision being applied). A newer revision that was rejected is reported next to the state:
//! the stack keeps the last good revision, and may well be synced on it.

use std::collections::{BTreeMap, BTreeSet};

use crds::service::{Service, ServiceSpec};
use crds::task::Task;

use crate::protocol::{Convergence, ServiceProgress, StackView, SyncState};
use crate::raft::ClusterState;
use crate::views::convergence;

/// The stacks the cluster knows, sorted: those of the applied revision, and those whose
/// services are still stored (a removed stack, until its services are gone).
pub fn known_stacks(state: &ClusterState) -> Vec<String> {
    let applied = state
        .revisions
        .applied
        .iter()
        .flat_map(|a| a.stacks.keys().map(String::as_str));
    let stored = state.services.values().map(|s| s.spec.stack.as_str());
    let names: BTreeSet<&str> = applied.chain(stored).collect();
    names.into_iter().map(str::to_owned).collect()
}

/// Every known stack with its sync state and per-service progress, by name.
pub fn compute_stack_views(state: &ClusterState, now_ms: u64) -> Vec<StackView> {
    let record = &state.revisions;
    let applied = record.applied.as_ref();
    // A revision seen after the applied one, neither applied nor rejected yet.
    let newer_pending = match (&record.last_seen, applied) {
        (Some(seen), Some(applied)) => seen.id != applied.revision.id && record.rejected.is_none(),
        (Some(_), None) => record.rejected.is_none(),
        (None, _) => false,
    };
    let rejected = record.rejected.as_ref().map(|r| r.revision.id.clone());
    let mut tasks: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for task in state.tasks.values() {
        tasks.entry(task.service.as_str()).or_default().push(task);
    }
    let mut stored: BTreeMap<&str, BTreeMap<&str, &Service>> = BTreeMap::new();
    for service in state.services.values() {
        stored
            .entry(service.spec.stack.as_str())
            .or_default()
            .insert(service.spec.name.as_str(), service);
    }
    known_stacks(state)
        .into_iter()
        .map(|name| {
            let stack = applied.and_then(|a| a.stacks.get(&name));
            let wanted: BTreeMap<&str, &ServiceSpec> = stack
                .iter()
                .flat_map(|s| s.services.iter())
                .map(|(full, spec)| (full.as_str(), spec))
                .collect();
            let empty = BTreeMap::new();
            let stored = stored.get(name.as_str()).unwrap_or(&empty);
            let services = compute_services(&wanted, stored, &tasks, now_ms);
            let mut sync = sync_of(&services);
            if sync == SyncState::Synced && newer_pending {
                sync = SyncState::Progressing;
            }
            StackView {
                revision: stack.and(applied).map(|a| a.revision.id.clone()),
                name,
                sync,
                rejected: rejected.clone(),
                services,
            }
        })
        .collect()
}

/// The progress of every service the revision defines or the state still holds, by name.
fn compute_services(
    wanted: &BTreeMap<&str, &ServiceSpec>,
    stored: &BTreeMap<&str, &Service>,
    tasks: &BTreeMap<&str, Vec<&Task>>,
    now_ms: u64,
) -> Vec<ServiceProgress> {
    let names: BTreeSet<&str> = wanted.keys().chain(stored.keys()).copied().collect();
    names
        .into_iter()
        .filter_map(|name| match (wanted.get(name), stored.get(name)) {
            (Some(spec), Some(service)) => {
                let tasks = tasks.get(name).map(Vec::as_slice).unwrap_or_default();
                Some(convergence::compute_progress(service, spec, tasks, now_ms))
            }
            (Some(spec), None) => Some(convergence::not_created(spec)),
            (None, Some(service)) => Some(convergence::being_removed(service)),
            (None, None) => None,
        })
        .collect()
}

/// The stack's state from its services' (a stack with no service is synced).
pub fn sync_of(services: &[ServiceProgress]) -> SyncState {
    match services.iter().map(|s| s.convergence).max() {
        None | Some(Convergence::Converged) => SyncState::Synced,
        Some(Convergence::Progressing) => SyncState::Progressing,
        Some(Convergence::Degraded | Convergence::Failed) => SyncState::Degraded,
    }
}

#[cfg(test)]
#[path = "stacks_test.rs"]
mod tests;
