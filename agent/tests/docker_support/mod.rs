//! Harness for tests on the real Docker engine: the locally built test images, a worker with a
//! [`DockerExecutor`] under a node id of its own, and cleanup of everything a test created.
//!
//! A test calls [`Node::start`] and gets `None` when it must skip: no engine answers and `CI`
//! is unset (the reason is printed). With `CI` set a missing engine fails the test.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use agent::executor::docker::DockerExecutor;
use agent::worker::{self, Config};
use crds::assignment::AssignmentBatch;
use crds::meta::ObjectMeta;
use crds::service::ServiceSpec;
use crds::task::{Task, TaskState, TaskStatus};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Builds the test images once per test binary.
fn build_images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/images/build.sh");
        let status = Command::new("bash")
            .arg(script)
            .status()
            .expect("run tests/images/build.sh");
        assert!(status.success(), "tests/images/build.sh failed");
    });
}

/// Runs the docker CLI; its trimmed stdout.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// An executor for test `name` under its own node id, with the images built and the cleanup
/// that goes with it; `None` when the test must skip.
pub async fn connect(name: &str, publish_ip: Option<IpAddr>) -> Option<(DockerExecutor, Cleanup)> {
    let node_id = format!("test-{name}-{}", std::process::id());
    let stack = format!("rt{}{}", short_hash(name), std::process::id());
    let executor = match DockerExecutor::connect(&node_id, publish_ip).await {
        Ok(executor) => executor,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping {name}: {e}");
            return None;
        }
        Err(e) => panic!("CI is set, so the Docker engine is required: {e}"),
    };
    build_images();
    let cleanup = Cleanup { node_id, stack };
    cleanup.run();
    Some((executor, cleanup))
}

/// Removes what a test left behind: containers of its node, networks and volumes of its stack.
pub struct Cleanup {
    /// The test's node id.
    pub node_id: String,
    /// The test's stack name.
    pub stack: String,
}

impl Cleanup {
    fn run(&self) {
        let containers = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.reconciler.node={}", self.node_id),
        ]);
        let ids: Vec<&str> = containers.split_whitespace().collect();
        if !ids.is_empty() {
            docker(&[&["rm", "-f", "-v"][..], &ids].concat());
        }
        let stack_label = format!("label=io.reconciler.stack={}", self.stack);
        for kind in ["network", "volume"] {
            let names = docker(&[kind, "ls", "-q", "--filter", &stack_label]);
            let names: Vec<&str> = names.split_whitespace().collect();
            if !names.is_empty() {
                docker(&[&[kind, "rm"][..], &names].concat());
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// One simulated node: a worker on the real engine, its channels and what it reported.
pub struct Node {
    /// The node id (labels every container).
    pub node_id: String,
    /// The stack name its tests use (scopes networks and volumes).
    pub stack: String,
    assignments: mpsc::Sender<AssignmentBatch>,
    reports: mpsc::Receiver<Vec<(String, TaskStatus)>>,
    stop: CancellationToken,
    worker: JoinHandle<()>,
    /// Last status reported per task.
    pub seen: BTreeMap<String, TaskStatus>,
    /// Every report, in order.
    pub history: Vec<(String, TaskStatus)>,
    cleanup: Option<Cleanup>,
}

impl Node {
    /// A worker for test `name` on the engine, or `None` when the test must skip.
    pub async fn start(name: &str, publish_ip: Option<IpAddr>) -> Option<Node> {
        let (executor, cleanup) = connect(name, publish_ip).await?;
        let mut node =
            Node::with_executor(cleanup.node_id.clone(), cleanup.stack.clone(), executor);
        node.cleanup = Some(cleanup);
        Some(node)
    }

    /// A second worker for the same node and stack (as after an agent restart).
    pub async fn restart(mut self) -> Node {
        let cleanup = self.cleanup.take();
        self.stop().await;
        let executor = DockerExecutor::connect(&self.node_id, None)
            .await
            .expect("the engine answered a moment ago");
        let mut node = Node::with_executor(self.node_id.clone(), self.stack.clone(), executor);
        node.cleanup = cleanup;
        node
    }

    fn with_executor(node_id: String, stack: String, executor: DockerExecutor) -> Node {
        let (assignments, assignments_rx) = mpsc::channel(16);
        let (reports_tx, reports) = mpsc::channel(1024);
        let stop = CancellationToken::new();
        let config = Config {
            node_id: node_id.clone(),
            clock: agent::clock::Clock::system(),
        };
        let worker = tokio::spawn(worker::run(
            config,
            executor,
            assignments_rx,
            reports_tx,
            stop.clone(),
        ));
        Node {
            node_id,
            stack,
            assignments,
            reports,
            stop,
            worker,
            seen: BTreeMap::new(),
            history: Vec::new(),
            cleanup: None,
        }
    }

    /// The spec of the only service in stack file `text` (under this node's stack name).
    pub fn service(&self, text: &str) -> ServiceSpec {
        let stack = crds::stack::from_text(&self.stack, text).expect("a valid stack file");
        stack.services.into_values().next().expect("one service")
    }

    /// Sends an assignment batch.
    pub async fn send(&self, batch: AssignmentBatch) {
        self.assignments.send(batch).await.expect("worker alive");
    }

    /// Waits until `task`'s last report satisfies `done`; panics after `limit`.
    pub async fn wait(
        &mut self,
        task: &str,
        limit: Duration,
        done: impl Fn(&TaskStatus) -> bool,
    ) -> TaskStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.seen.get(task).filter(|s| done(s)) {
                return status.clone();
            }
            let batch = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; reports so far: {:#?}", self.history))
                .expect("worker alive");
            self.absorb(batch);
        }
    }

    /// Takes the reports that arrive within `window`.
    pub async fn drain(&mut self, window: Duration) {
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, self.reports.recv()).await {
            self.absorb(batch);
        }
    }

    fn absorb(&mut self, batch: Vec<(String, TaskStatus)>) {
        for (id, status) in batch {
            if let Some(before) = self.seen.get(&id) {
                assert!(status.state >= before.state, "{id} went backwards");
            }
            self.history.push((id.clone(), status.clone()));
            self.seen.insert(id, status);
        }
    }

    /// Stops the worker (its containers keep running).
    pub async fn stop(&mut self) {
        self.stop.cancel();
        (&mut self.worker).await.expect("the worker ends cleanly");
    }
}

/// A task of `spec` in `slot`, assigned to `node`.
pub fn task(id: &str, spec: &ServiceSpec, node: &Node, slot: u64) -> Task {
    Task {
        meta: ObjectMeta {
            id: id.to_owned(),
            ..ObjectMeta::default()
        },
        service: spec.name.clone(),
        slot,
        node: Some(node.node_id.clone()),
        spec_hash: spec.template_hash(),
        attempt: 0,
        desired_state: TaskState::Running,
        status: TaskStatus {
            state: TaskState::Assigned,
            ..TaskStatus::default()
        },
    }
}

/// A full batch of `tasks` running `specs`.
pub fn full(tasks: Vec<Task>, specs: &[&ServiceSpec]) -> AssignmentBatch {
    AssignmentBatch {
        full: true,
        tasks,
        removed: Vec::new(),
        specs: specs
            .iter()
            .map(|s| (s.template_hash(), (*s).clone()))
            .collect(),
    }
}

/// Eight hex digits naming a test, to keep stack names short and distinct.
fn short_hash(text: &str) -> String {
    let hash = text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")
}
