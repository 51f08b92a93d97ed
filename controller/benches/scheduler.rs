//! How fast the scheduler places a large batch of pending tasks.
//!
//! A cluster of 5,000 ready nodes (3 zone labels plus an unlabelled quarter, racks, 5 managers,
//! 64 CPUs and 256 GiB each) and 50 services of 2,000 replicas = 100,000 pending tasks: every
//! service reserves CPU and memory, some have constraints (`node.labels.zone!=z3`,
//! `node.role==worker`), one spreads over `node.labels.zone`, one binpacks, one publishes a
//! port. One `schedule` call places them all; the figure is placements per second of that call
//! (median of several runs), plus the per-call time. A 10,000-task variant (50 × 200) shows the
//! per-service O(nodes) part.
//!
//! Run: `cargo bench -p controller --bench scheduler` (`SCHED_BENCH_RUNS`, default 7).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use controller::scheduler::{Config, schedule};
use crds::compose::Strategy;
use crds::meta::ObjectMeta;
use crds::node::{Node, NodeRole, NodeState};
use crds::port::parse_short;
use crds::service::{Service, ServiceSpec, ServiceStatus};
use crds::task::{Task, TaskState, TaskStatus};
use crds::units::{ByteSize, Cpus};

const NODES: usize = 5_000;
const SERVICES: usize = 50;

fn meta(id: String) -> ObjectMeta {
    ObjectMeta {
        id,
        ..ObjectMeta::default()
    }
}

fn base_spec() -> ServiceSpec {
    let stack = crds::stack::from_text("bench", "services:\n  app:\n    image: app:1\n")
        .expect("the bench stack loads");
    stack.services.get("bench_app").expect("bench_app").clone()
}

fn nodes() -> BTreeMap<String, Node> {
    (0..NODES)
        .map(|i| {
            let id = format!("node-{i:05}");
            let mut node = Node {
                meta: meta(id.clone()),
                ..Node::default()
            };
            node.status.state = NodeState::Ready;
            node.spec.role = if i < 5 {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            };
            if i % 4 != 3 {
                node.spec
                    .labels
                    .insert("zone".into(), format!("z{}", i % 4));
            }
            node.spec
                .labels
                .insert("rack".into(), format!("r{}", i % 40));
            node.description.hostname = format!("host-{i}");
            node.description.advertise_addr =
                format!("10.{}.{}.{}:2377", i / 65_536, i / 256 % 256, i % 256);
            node.description.os = "linux".into();
            node.description.arch = "x86_64".into();
            node.description.cpus = Cpus(64_000_000_000);
            node.description.memory = ByteSize(256 << 30);
            (id, node)
        })
        .collect()
}

fn services(base: &ServiceSpec) -> BTreeMap<String, Service> {
    (0..SERVICES)
        .map(|i| {
            let name = format!("bench_s{i:02}");
            let mut spec = base.clone();
            spec.name = name.clone();
            spec.resources.reserve_cpus = Cpus(100_000_000 * (1 + i as u64 % 4));
            spec.resources.reserve_memory = ByteSize((64 << 20) * (1 + i as u64 % 3));
            match i % 10 {
                1 => spec.placement.constraints = vec!["node.labels.zone!=z3".into()],
                2 => spec.placement.constraints = vec!["node.role==worker".into()],
                3 => {
                    spec.placement.constraints =
                        vec!["node.role==worker".into(), "node.labels.zone!=z1".into()]
                }
                _ => {}
            }
            if i == 0 {
                spec.placement.preferences = vec!["node.labels.zone".into()];
            }
            if i == 4 {
                spec.strategy = Some(Strategy::Binpack);
            }
            if i == 5 {
                spec.ports = parse_short("8080:80").expect("port");
            }
            let service = Service {
                meta: meta(name.clone()),
                spec,
                status: ServiceStatus::default(),
                previous_spec: None,
                update: None,
            };
            (name, service)
        })
        .collect()
}

fn pending(replicas: usize) -> Vec<Task> {
    (0..SERVICES)
        .flat_map(|s| {
            (0..replicas).map(move |r| Task {
                meta: meta(format!("bench_s{s:02}.{r}")),
                service: format!("bench_s{s:02}"),
                slot: r as u64 + 1,
                node: None,
                spec_hash: "h".into(),
                attempt: 0,
                desired_state: TaskState::Running,
                status: TaskStatus {
                    state: TaskState::Pending,
                    ..TaskStatus::default()
                },
            })
        })
        .collect()
}

fn bench(replicas: usize, runs: usize) {
    let base = base_spec();
    let nodes = nodes();
    let services = services(&base);
    let tasks = pending(replicas);
    let pending: Vec<&Task> = tasks.iter().collect();
    let config = Config::default();
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut placed = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let decision = schedule(&nodes, &services, &[], &pending, &config);
        times.push(start.elapsed());
        placed = decision.placements.len();
        assert_eq!(placed + decision.unplaced.len(), pending.len());
        std::hint::black_box(decision);
    }
    times.sort();
    let median = times[times.len() / 2];
    let rate = placed as f64 / median.as_secs_f64();
    println!(
        "{:>7} tasks ({SERVICES} services × {replicas}) on {NODES} nodes: {placed} placed; \
         per call median {:.1} ms (fastest {:.1} ms, slowest {:.1} ms, {runs} runs); \
         {:.0} placements/s",
        pending.len(),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        rate,
    );
    // The line tests/bench-report.sh collects.
    println!(
        "figure: p2.placements_per_s_{} {rate:.2} placements/s",
        pending.len()
    );
}

fn main() {
    let runs = std::env::var("SCHED_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    bench(2_000, runs);
    bench(200, runs);
}
