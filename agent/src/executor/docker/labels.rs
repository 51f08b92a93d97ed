//! Names and labels of what the Docker executor creates, and the filters that find them again.
//!
//! Every container carries its node's id in [`NODE`]; every list, event subscription and
//! adoption filters on it, so agents sharing one engine never touch each other's containers.

use std::collections::HashMap;

use crds::service::{ServiceMode, ServiceSpec};
use crds::task::Task;

/// Prefix of every label reconciler sets.
pub const PREFIX: &str = "io.reconciler.";
/// The task the container runs.
pub const TASK: &str = "io.reconciler.task";
/// The full service name.
pub const SERVICE: &str = "io.reconciler.service";
/// The stack.
pub const STACK: &str = "io.reconciler.stack";
/// The node whose agent owns the container.
pub const NODE: &str = "io.reconciler.node";
/// The replica slot (0 for global services).
pub const SLOT: &str = "io.reconciler.slot";
/// The task's `spec_hash`: adoption requires it to match.
pub const SPEC_HASH: &str = "io.reconciler.spec-hash";
/// Docker's own stack label, so `docker stack`-aware tools group the containers.
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";

/// The container name: `<stack>_<service>.<slot>.<task-id>`, or
/// `<stack>_<service>.<node-id>.<task-id>` for a global service, as Swarm names them.
pub fn container_name(task: &Task, spec: &ServiceSpec, node_id: &str) -> String {
    let instance = match spec.mode {
        ServiceMode::Global => node_id.to_owned(),
        ServiceMode::Replicated { .. } => task.slot.to_string(),
    };
    sanitize(&format!("{}.{instance}.{}", spec.name, task.meta.id))
}

/// Docker names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]*`; anything else becomes `-`.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, 'x');
    }
    out
}

/// The labels of a task's container: the spec's own labels, then reconciler's (which win).
pub fn container_labels(task: &Task, spec: &ServiceSpec, node_id: &str) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in [
        (TASK, task.meta.id.clone()),
        (SERVICE, spec.name.clone()),
        (STACK, spec.stack.clone()),
        (NODE, node_id.to_owned()),
        (SLOT, task.slot.to_string()),
        (SPEC_HASH, task.spec_hash.clone()),
        (STACK_NAMESPACE, spec.stack.clone()),
    ] {
        labels.insert(key.to_owned(), value);
    }
    labels
}

/// Labels of a network or volume a stack owns (shared by every node on the engine).
pub fn stack_labels(stack: &str) -> HashMap<String, String> {
    HashMap::from([
        (STACK.to_owned(), stack.to_owned()),
        (STACK_NAMESPACE.to_owned(), stack.to_owned()),
    ])
}

/// The engine filter that selects this node's containers.
pub fn node_filter(node_id: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_owned(), vec![format!("{NODE}={node_id}")])])
}
