//! `git push` → tasks assigned, through the whole path (issue #7, P3): a real manager follows a
//! local bare repository; each trial pushes a commit that scales a service up by 3, and the
//! clock stops when the cluster's API shows every replica placed on a node (state `assigned` or
//! later). The manager runs no agent, so nothing is started: this measures Git → sync → Raft →
//! orchestrator → scheduler → Raft, not the engine.
//!
//! Run: `cargo build --release -p controller && cargo bench -p tests --bench push`
//! (`PUSH_TRIALS=5` for a quick run).

use std::time::{Duration, Instant};

use controller::cli::client::ApiClient;
use controller::protocol::{Read, TaskView};
use crds::task::TaskState;
use tests::{GitRepo, figure, wait_until};

const LONG: Duration = Duration::from_secs(60);

fn stack(replicas: usize) -> String {
    format!(
        "services:\n  web:\n    image: reconciler-test/echo:1\n    deploy:\n      replicas: {replicas}\n"
    )
}

fn main() {
    let trials = tests::env_usize("PUSH_TRIALS", 20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/app/compose.yaml", &stack(3));
    repo.commit_and_push("3 replicas");
    let data = dir.path().join("data");
    let _manager = repo.follow(dir.path(), "manager", &data, &[("RECONCILER_LOG", "warn")]);
    wait_until(LONG, "the manager's identity", || {
        data.join("node.json")
            .exists()
            .then_some(())
            .ok_or_else(String::new)
    });
    let client = ApiClient::new(&data, None).expect("client");
    let assigned = |replicas: usize| {
        runtime.block_on(async {
            let read: Read<Vec<TaskView>> = match client.get("/v1/tasks?service=app_web").await {
                Ok(read) => read,
                Err(_) => return false,
            };
            let placed = read
                .data
                .iter()
                .filter(|t| {
                    t.task.desired_state == TaskState::Running
                        && t.task.status.state >= TaskState::Assigned
                })
                .count();
            placed == replicas
        })
    };
    wait_until(LONG, "3 replicas assigned", || {
        assigned(3).then_some(()).ok_or_else(String::new)
    });
    let mut samples = Vec::new();
    for trial in 0..trials {
        let replicas = 3 * (trial + 2);
        repo.write("stacks/app/compose.yaml", &stack(replicas));
        let t0 = Instant::now();
        repo.commit_and_push(&format!("{replicas} replicas"));
        while !assigned(replicas) {
            assert!(t0.elapsed() < LONG, "{replicas} replicas never assigned");
            std::thread::sleep(Duration::from_millis(2));
        }
        let took = t0.elapsed();
        eprintln!(
            "trial {trial:>2}: push → {replicas} replicas assigned in {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        samples.push(took);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "git push → tasks assigned (through Raft), {trials} trials: p50 {:.0} ms, p99 {:.0} ms",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    figure(
        "p3.push_to_assigned_p50",
        pct(0.5).as_secs_f64() * 1000.0,
        "ms",
    );
    figure(
        "p3.push_to_assigned_p99",
        pct(0.99).as_secs_f64() * 1000.0,
        "ms",
    );
}
