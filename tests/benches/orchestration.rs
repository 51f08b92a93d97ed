//! Orchestration figures (issue #5) on a real manager with simulated nodes in one process:
//!
//! - `scale`: N tasks on M simulated nodes, from "revision applied" (the revision record is
//!   committed) to "all tasks reported running" (every task's running state committed through
//!   Raft), with the process's peak memory (manager and simulated nodes together).
//! - `node-loss`: a node stops heartbeating (1 s period, down after 3 misses); time until all
//!   its tasks are assigned elsewhere, over T trials.
//!
//! Run: `cargo bench -p tests --bench orchestration -- scale 1000000 5000` (also `10000 500`,
//! `100000 5000`), `cargo bench -p tests --bench orchestration -- node-loss 20`.

use std::time::{Duration, Instant};

use controller::node::simulated::{Control, Shape};
use crds::task::TaskState;
use tests::sim::SimCluster;

/// The allocator of the `reconciler` binary, so the manager in this process behaves as it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let number =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("node-loss") => runtime.block_on(node_loss(number(1, 20))),
        _ => runtime.block_on(scale(number(1, 100_000), number(2, 5_000))),
    }
}

fn shape() -> Shape {
    Shape {
        cpus: 64,
        memory: 256 << 30,
        labels: [("zone".to_owned(), "z1".to_owned())].into(),
    }
}

/// 100 services (or fewer for small runs) sharing `tasks` replicas, some with constraints and
/// reservations so the scheduler's filters do real work.
fn stacks(tasks: usize) -> Vec<(String, String)> {
    let services = 100.min(tasks);
    let per = tasks / services;
    let mut text = String::from("services:\n");
    for i in 0..services {
        let extra = match i % 3 {
            0 => "      placement: {constraints: [\"node.labels.zone==z1\"]}\n",
            1 => "      resources: {reservations: {cpus: \"0.01\", memory: 4M}}\n",
            _ => "",
        };
        text.push_str(&format!(
            "  s{i}:\n    image: app:1\n    deploy:\n      replicas: {per}\n{extra}"
        ));
    }
    vec![("bench".to_owned(), text)]
}

async fn scale(tasks: usize, nodes: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut cluster = SimCluster::start(dir.path(), nodes, &shape(), Duration::from_secs(1)).await;
    println!(
        "{nodes} simulated nodes registered and ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let stacks = stacks(tasks);
    let expected = tasks / 100.min(tasks) * 100.min(tasks);
    let refs: Vec<(&str, &str)> = stacks
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let applied = Instant::now();
    cluster.apply(&refs).await;
    let mut assigned_at = None;
    let mut next_progress = Duration::from_secs(10);
    loop {
        let (assigned, running) = cluster.read(|s| {
            s.tasks.values().fold((0, 0), |(a, r), t| {
                (
                    a + usize::from(t.status.state >= TaskState::Assigned),
                    r + usize::from(t.status.state == TaskState::Running),
                )
            })
        });
        if assigned_at.is_none() && assigned >= expected {
            assigned_at = Some(applied.elapsed());
        }
        if running >= expected {
            break;
        }
        if applied.elapsed() >= next_progress {
            // Progress lines, so that a run cut short still says how far it got.
            println!(
                "  after {:>4.0} s: {assigned} assigned, {running} running, RSS {} MiB",
                applied.elapsed().as_secs_f64(),
                rss_mib("VmRSS:")
            );
            next_progress += Duration::from_secs(10);
        }
        assert!(
            applied.elapsed() < Duration::from_secs(900),
            "{running}/{expected} running after 15 minutes"
        );
        // Counting reads every task under the state's lock (tens of ms at a million, during
        // which Raft cannot apply): past the first seconds, look every second until the end is
        // near, then every 100 ms again.
        let near = |done: usize| done * 10 >= expected * 9;
        let close = near(running) || (assigned_at.is_none() && near(assigned));
        let early = applied.elapsed() < Duration::from_secs(5);
        let interval = if close || early { 100 } else { 1_000 };
        tokio::time::sleep(Duration::from_millis(interval)).await;
    }
    let elapsed = applied.elapsed();
    let assigned = assigned_at.unwrap_or(elapsed);
    let (tasks_stored, nodes_down) = cluster.read(|s| {
        (
            s.tasks.len(),
            s.nodes
                .values()
                .filter(|n| n.status.state == crds::node::NodeState::Down)
                .count(),
        )
    });
    println!(
        "tasks stored {tasks_stored} (replacements beyond {expected} mean churn), nodes down {nodes_down}"
    );
    // Where churn comes from: the tasks that are not the running ones, by desired and observed
    // state and by why they ended.
    let others = cluster.read(|s| {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for t in s.tasks.values() {
            if t.desired_state == TaskState::Running && t.status.state == TaskState::Running {
                continue;
            }
            let why = t
                .status
                .error
                .as_deref()
                .or(t.status.message.as_deref())
                .unwrap_or("");
            let key = format!("desired {:?}, {:?}: {why}", t.desired_state, t.status.state);
            *counts.entry(key).or_default() += 1;
        }
        counts
    });
    for (what, count) in others {
        println!("  {count} tasks {what}");
    }
    println!(
        "scale: {expected} tasks on {nodes} simulated nodes: all assigned after {:.2} s, all reported running after {:.2} s ({:.0} tasks/s); peak RSS {} MiB; Raft log at {}",
        assigned.as_secs_f64(),
        elapsed.as_secs_f64(),
        expected as f64 / elapsed.as_secs_f64(),
        peak_rss_mib(),
        cluster
            .manager
            .raft
            .metrics()
            .borrow()
            .last_log_index
            .unwrap_or(0)
    );
    let scale = format!("p1.{expected}x{nodes}");
    tests::figure(
        &format!("{scale}.all_running_s"),
        elapsed.as_secs_f64(),
        "s",
    );
    tests::figure(
        &format!("{scale}.tasks_per_s"),
        expected as f64 / elapsed.as_secs_f64(),
        "tasks/s",
    );
    tests::figure(&format!("{scale}.peak_rss"), peak_rss_mib() as f64, "MiB");
}

/// Peak resident memory of this process (VmHWM), MiB.
fn peak_rss_mib() -> u64 {
    rss_mib("VmHWM:")
}

/// A memory line of `/proc/self/status` (`VmRSS:`, `VmHWM:`), MiB.
fn rss_mib(line: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(line))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0)
}

async fn node_loss(trials: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = 10;
    let mut cluster = SimCluster::start(dir.path(), nodes, &shape(), Duration::from_secs(1)).await;
    let text = "services:\n  web:\n    image: app:1\n    deploy:\n      replicas: 100\n";
    cluster.apply(&[("loss", text)]).await;
    let converged = |s: &controller::raft::state::ClusterState| {
        s.tasks
            .values()
            .filter(|t| {
                t.desired_state == TaskState::Running && t.status.state == TaskState::Running
            })
            .count()
            == 100
            && s.tasks
                .values()
                .all(|t| t.desired_state == TaskState::Running || t.status.state.is_terminal())
    };
    cluster
        .wait_state(Duration::from_secs(60), "100/100", converged)
        .await;
    let mut samples = Vec::new();
    for trial in 0..trials {
        let victim = trial % nodes;
        let id = cluster.nodes[victim].id.clone();
        let lost: usize = cluster.read(|s| {
            s.tasks
                .values()
                .filter(|t| {
                    t.node.as_deref() == Some(id.as_str()) && t.desired_state == TaskState::Running
                })
                .count()
        });
        let started = Instant::now();
        cluster.nodes[victim].control(Control::Freeze);
        let replaced = cluster
            .wait_state(Duration::from_secs(30), "tasks replaced", |s| {
                let elsewhere = s
                    .tasks
                    .values()
                    .filter(|t| {
                        t.desired_state == TaskState::Running
                            && t.status.state >= TaskState::Assigned
                            && t.node.as_deref() != Some(id.as_str())
                    })
                    .count();
                elsewhere == 100
            })
            .await;
        let elapsed = started.elapsed().max(replaced);
        println!(
            "trial {trial:>2}: node {id} with {lost} tasks lost; all assigned elsewhere after {:.0} ms",
            elapsed.as_secs_f64() * 1000.0
        );
        samples.push(elapsed);
        cluster.nodes[victim].control(Control::Thaw);
        cluster
            .wait_state(Duration::from_secs(60), "converged again", converged)
            .await;
        // Rebalance is not automatic (as in Swarm): the returned node stays empty until new
        // tasks come. Let it be seen ready again before the next trial.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "node loss (1 s heartbeats, down after 3 missed) → all tasks assigned elsewhere, {} trials: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        samples.len(),
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        samples[samples.len() - 1].as_secs_f64() * 1000.0
    );
    tests::figure("p4.node_loss_p50", pct(0.5).as_secs_f64() * 1000.0, "ms");
    tests::figure("p4.node_loss_p99", pct(0.99).as_secs_f64() * 1000.0, "ms");
}
