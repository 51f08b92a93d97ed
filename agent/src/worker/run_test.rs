//! The worker loop over the in-memory engine, on tokio's paused clock.

use std::collections::BTreeMap;
use std::time::Duration;

use crds::assignment::AssignmentBatch;
use crds::task::{Task, TaskHealth, TaskState, TaskStatus};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fixtures::task;
use super::{Config, MAX_STEPS_IN_FLIGHT, run};
use crate::executor::memory::MemoryExecutor;
use crate::executor::{ContainerState, ContainerStatus};

type Reports = mpsc::Receiver<Vec<(String, TaskStatus)>>;

struct Harness {
    engine: MemoryExecutor,
    assignments: mpsc::Sender<AssignmentBatch>,
    reports: Reports,
    stop: CancellationToken,
    worker: JoinHandle<()>,
    /// Last state reported per task.
    seen: BTreeMap<String, TaskStatus>,
}

impl Harness {
    fn start(engine: &MemoryExecutor) -> Harness {
        let (assignments, assignments_rx) = mpsc::channel(16);
        let (reports_tx, reports) = mpsc::channel(1024);
        let stop = CancellationToken::new();
        let config = Config {
            node_id: "n1".to_owned(),
            clock: crate::clock::Clock::system(),
        };
        let worker = tokio::spawn(run(
            config,
            engine.clone(),
            assignments_rx,
            reports_tx,
            stop.clone(),
        ));
        Harness {
            engine: engine.clone(),
            assignments,
            reports,
            stop,
            worker,
            seen: BTreeMap::new(),
        }
    }

    async fn send(&self, batch: AssignmentBatch) {
        self.assignments.send(batch).await.expect("worker alive");
    }

    /// Collects reports until `done` holds for the last states seen, or panics after `limit`.
    async fn until(
        &mut self,
        limit: Duration,
        done: impl Fn(&BTreeMap<String, TaskStatus>) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.seen) {
            let batch = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; reports so far: {:#?}", self.seen))
                .expect("worker alive");
            for (id, status) in batch {
                if let Some(before) = self.seen.get(&id) {
                    assert!(status.state >= before.state, "{id} went backwards");
                }
                self.seen.insert(id, status);
            }
        }
    }

    async fn stop(self) -> MemoryExecutor {
        self.stop.cancel();
        self.worker.await.expect("worker ends cleanly");
        self.engine
    }
}

fn spec(healthcheck: bool) -> crds::service::ServiceSpec {
    let check = if healthcheck {
        "    healthcheck:\n      test: [\"CMD\", \"/workload\", \"probe\"]\n"
    } else {
        ""
    };
    let text = format!("services:\n  web:\n    image: reconciler-test/echo:1\n{check}");
    let stack = crds::stack::from_text("shop", &text).expect("valid stack");
    stack.services.into_values().next().expect("one service")
}

fn full(tasks: Vec<Task>, healthcheck: bool) -> AssignmentBatch {
    AssignmentBatch {
        full: true,
        tasks,
        removed: Vec::new(),
        specs: BTreeMap::from([("h1".to_owned(), spec(healthcheck))]),
    }
}

fn all_in(n: usize, state: TaskState) -> impl Fn(&BTreeMap<String, TaskStatus>) -> bool {
    move |seen| seen.len() == n && seen.values().all(|s| s.state == state)
}

#[tokio::test(start_paused = true)]
async fn a_hundred_tasks_start_in_parallel_within_the_bound() {
    let engine = MemoryExecutor::new();
    engine.set_step_delay(Duration::from_millis(100));
    let mut h = Harness::start(&engine);
    let tasks = (0..100).map(|i| task(&format!("t{i:03}"), TaskState::Assigned));
    let started = tokio::time::Instant::now();
    h.send(full(tasks.collect(), false)).await;
    h.until(Duration::from_secs(10), all_in(100, TaskState::Running))
        .await;
    let took = started.elapsed();
    let engine = h.stop().await;
    assert_eq!(engine.max_in_flight(), MAX_STEPS_IN_FLIGHT);
    // 200 steps of 100 ms, 64 at a time: four rounds (plus the listing), not two hundred.
    assert!(took <= Duration::from_millis(600), "took {took:?}");
    assert_eq!(engine.containers().len(), 100);
}

#[tokio::test(start_paused = true)]
async fn a_crash_is_reported_from_the_event_at_once() {
    let engine = MemoryExecutor::new();
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], false))
        .await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Running))
        .await;
    let crashed = tokio::time::Instant::now();
    assert!(engine.crash("t1", 137, false));
    h.until(Duration::from_secs(5), all_in(1, TaskState::Failed))
        .await;
    assert!(crashed.elapsed() < Duration::from_millis(10));
    assert_eq!(h.seen["t1"].exit_code, Some(137));
    assert_eq!(
        h.seen["t1"].error.as_deref(),
        Some("task: non-zero exit (137)")
    );
    let engine = h.stop().await;
    assert_eq!(engine.containers().len(), 1, "kept until the task leaves");
}

#[tokio::test(start_paused = true)]
async fn a_crash_while_the_event_stream_is_broken_is_found_by_the_listing() {
    let engine = MemoryExecutor::new();
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], false))
        .await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Running))
        .await;
    engine.break_events();
    engine.crash("t1", 1, false);
    h.until(Duration::from_secs(5), all_in(1, TaskState::Failed))
        .await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(engine.subscribers(), 1, "subscribed again");
    let lists = engine.calls().iter().filter(|c| *c == "list").count();
    assert_eq!(lists, 2, "listed on start and on the new subscription");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn health_is_reported_on_the_running_task() {
    let engine = MemoryExecutor::new();
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], true))
        .await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Running))
        .await;
    assert_eq!(h.seen["t1"].health, Some(TaskHealth::Starting));
    engine.set_health("t1", TaskHealth::Healthy);
    h.until(Duration::from_secs(5), |s| {
        s["t1"].health == Some(TaskHealth::Healthy)
    })
    .await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_container_is_stopped_and_its_task_fails() {
    let engine = MemoryExecutor::new();
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], true))
        .await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Running))
        .await;
    engine.set_health("t1", TaskHealth::Unhealthy);
    h.until(Duration::from_secs(5), all_in(1, TaskState::Failed))
        .await;
    let failed = &h.seen["t1"];
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("unhealthy container")),
        "{failed:?}"
    );
    assert!(engine.calls().iter().any(|c| c.starts_with("stop")));
    assert_ne!(engine.containers()[0].state, ContainerState::Running);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stopping_the_worker_leaves_containers_and_a_new_one_adopts_them() {
    let engine = MemoryExecutor::new();
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], false))
        .await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Running))
        .await;
    let engine = h.stop().await;
    let before = engine.containers();
    assert_eq!(before[0].state, ContainerState::Running);

    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Running)], false))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.reports.try_recv().is_err(), "nothing to report");
    let engine = h.stop().await;
    assert_eq!(engine.containers(), before);
    let prepares = engine
        .calls()
        .iter()
        .filter(|c| c.starts_with("prepare"))
        .count();
    assert_eq!(prepares, 1, "adopted, not created again");
}

#[tokio::test(start_paused = true)]
async fn orphans_go_and_shutdown_tasks_stop_after_the_first_full_batch() {
    let engine = MemoryExecutor::new();
    for (task, state) in [
        ("old", ContainerState::Running),
        ("t1", ContainerState::Running),
    ] {
        engine.insert(ContainerStatus {
            container_id: format!("c-{task}"),
            task_id: task.to_owned(),
            spec_hash: "h1".to_owned(),
            state,
            health: None,
            health_output: None,
        });
    }
    let mut h = Harness::start(&engine);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        engine.containers().len(),
        2,
        "nothing touched before a full batch"
    );
    let mut t1 = task("t1", TaskState::Running);
    t1.desired_state = TaskState::Shutdown;
    h.send(full(vec![t1], false)).await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Shutdown))
        .await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let left = engine.containers();
    assert_eq!(left.len(), 1, "the orphan is removed: {left:?}");
    assert_eq!(left[0].task_id, "t1");
    assert!(matches!(left[0].state, ContainerState::Exited { .. }));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_engine_down_at_start_is_retried() {
    let engine = MemoryExecutor::new();
    engine.fail_next_calls(3);
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], false))
        .await;
    h.until(Duration::from_secs(30), all_in(1, TaskState::Running))
        .await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_rejected_image_is_reported_rejected() {
    let engine = MemoryExecutor::new();
    engine.reject_image("reconciler-test/echo:1");
    let mut h = Harness::start(&engine);
    h.send(full(vec![task("t1", TaskState::Assigned)], false))
        .await;
    h.until(Duration::from_secs(5), all_in(1, TaskState::Rejected))
        .await;
    assert!(
        h.seen["t1"]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("No such image")
    );
    h.stop().await;
}
