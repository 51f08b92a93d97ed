//! How long one orchestrator pass takes on a converged cluster (the common case: it runs on
//! every state change on the leader and must find nothing to do, fast).
//!
//! Builds a converged state — S replicated services spread over N nodes, every slot held by one
//! running task of the current spec — and times `reconcile::orchestrate` on it, which must
//! return no commands. Run: `cargo bench -p controller --bench orchestrate`.

use std::collections::BTreeMap;
use std::time::Instant;

use controller::raft::state::ClusterState;
use controller::reconcile::{Config, orchestrate};
use crds::meta::ObjectMeta;
use crds::node::{Availability, Node, NodeState};
use crds::service::{Service, ServiceMode, ServiceStatus};
use crds::task::{Task, TaskState, TaskStatus};

/// A minimal valid spec, taken from a one-service stack file.
fn spec(name: &str, replicas: u64) -> crds::service::ServiceSpec {
    let vars: BTreeMap<String, String> = BTreeMap::new();
    let loaded = crds::load::load(
        crds::load::Source {
            stack: "bench".into(),
            path: "bench.yml".into(),
            text: "services:\n  web:\n    image: nginx:1.27\n".into(),
        },
        &vars,
        &crds::load::NoFiles,
    );
    let file = loaded.file.as_ref().expect("the bench stack loads");
    let stack = crds::stack::normalize(
        file,
        &crds::stack::Inputs {
            source: &loaded.source,
            vars: &vars,
            files: &crds::load::NoFiles,
        },
    );
    let mut spec = stack.services["bench_web"].clone();
    spec.name = name.to_owned();
    spec.mode = ServiceMode::Replicated { replicas };
    spec
}

/// SplitMix64: a cheap, well-spread id from a counter.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn converged(services: usize, tasks: usize, nodes: usize) -> ClusterState {
    let mut state = ClusterState::default();
    for n in 0..nodes {
        let id = format!("node-{n:05}");
        let mut node = Node {
            meta: ObjectMeta {
                id: id.clone(),
                ..ObjectMeta::default()
            },
            ..Node::default()
        };
        node.status.state = NodeState::Ready;
        node.spec.availability = Availability::Active;
        state.nodes.insert(id, node);
    }
    let replicas = (tasks / services) as u64;
    let mut next_node = 0;
    for s in 0..services {
        let name = format!("bench_svc{s:03}");
        let spec = spec(&name, replicas);
        let hash = spec.template_hash();
        for slot in 1..=replicas {
            // Ids as the cluster makes them: unrelated to the service, so tasks of a service are
            // scattered over the id-ordered map.
            let id = format!("{:016x}", mix((s as u64) << 32 | slot));
            let task = Task {
                meta: ObjectMeta {
                    id: id.clone(),
                    created_at_ms: 1,
                    ..ObjectMeta::default()
                },
                service: name.clone(),
                slot,
                node: Some(format!("node-{:05}", next_node % nodes)),
                spec_hash: hash.clone(),
                attempt: 0,
                desired_state: TaskState::Running,
                status: TaskStatus {
                    state: TaskState::Running,
                    timestamp_ms: 1,
                    ..TaskStatus::default()
                },
            };
            next_node += 1;
            state.tasks.insert(id, task);
        }
        let service = Service {
            meta: ObjectMeta {
                id: name.clone(),
                ..ObjectMeta::default()
            },
            spec,
            status: ServiceStatus {
                running: replicas,
                desired: replicas,
            },
            previous_spec: None,
            update: None,
        };
        state.services.insert(name, service);
    }
    state
}

fn main() {
    let config = Config::default();
    for tasks in [100_000, 1_000_000] {
        let state = converged(100, tasks, 5_000);
        let mut ids = 0u64;
        let mut new_id = || {
            ids += 1;
            format!("new-{ids}")
        };
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let out = orchestrate(&state, 10, &config, &mut new_id);
            let ms = start.elapsed().as_secs_f64() * 1_000.0;
            assert!(
                out.commands.is_empty(),
                "the bench state is not converged: {:?}",
                out.commands.first()
            );
            best = best.min(ms);
        }
        println!(
            "orchestrate, converged, {tasks} tasks in 100 services over 5000 nodes: {best:.1} ms (best of 5)"
        );
    }
}
