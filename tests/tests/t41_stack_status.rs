//! Stack sync state and the `status --wait` decision on a real manager (Raft on disk, leader
//! loops) with simulated nodes: the views must read the orchestrators' outcomes right —
//! converged, failed for good (restarts exhausted, tasks rejected, an update rolled back) and
//! degraded (no node fits).

use std::time::{Duration, Instant};

use agent::simulated::SimulatedConfig;
use controller::cli::wait::{self, Target, Verdict};
use controller::node::simulated::Shape;
use controller::protocol::{StatusView, SyncState};
use controller::views::stacks::compute_stack_views;
use tests::sim::SimCluster;

const LIMIT: Duration = Duration::from_secs(20);

fn shape() -> Shape {
    Shape {
        cpus: 4,
        memory: 8 << 30,
        labels: Default::default(),
    }
}

const WEB: &str = "
  web:
    image: app:1
    deploy:
      replicas: 2
      restart_policy: {condition: any, delay: 100ms}
      update_config: {monitor: 300ms, failure_action: rollback}
      rollback_config: {parallelism: 0, monitor: 300ms}
";

fn stack(services: &[&str]) -> String {
    format!("services:{}", services.concat())
}

/// What `GET /v1/status` would answer, as far as the wait decision reads it.
fn status(cluster: &SimCluster) -> StatusView {
    cluster.read(|s| StatusView {
        cluster_id: "sim".into(),
        leader: None,
        term: 0,
        nodes: (0, 0),
        managers: 1,
        record: s.revisions.clone(),
        stacks: compute_stack_views(s, agent::clock::Clock::system().now_ms()),
    })
}

/// Poll the decision until it is over; panics with the last verdict after [`LIMIT`].
async fn verdict(cluster: &SimCluster) -> Verdict {
    let started = Instant::now();
    loop {
        let verdict = wait::decide(&status(cluster), &Target::Newest);
        if !matches!(verdict, Verdict::Pending(_) | Verdict::Waiting(_)) {
            return verdict;
        }
        assert!(started.elapsed() < LIMIT, "still {verdict:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn failed_with(verdict: &Verdict, words: &str) -> bool {
    matches!(verdict, Verdict::Failed(why) if why.iter().any(|l| l.contains(words)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_ends_on_convergence_or_on_failures_that_will_not_heal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = SimCluster::start(dir.path(), 0, &shape(), Duration::from_millis(300)).await;
    let config = SimulatedConfig {
        fail_images: vec!["app:bad".into()],
        reject_images: vec!["app:missing".into()],
    };
    cluster.add_nodes(&["a", "b"], &shape(), config).await;

    cluster.apply(&[("shop", &stack(&[WEB]))]).await;
    let converged = verdict(&cluster).await;
    assert!(
        matches!(converged, Verdict::Converged { .. }),
        "{converged:?}"
    );
    assert_eq!(status(&cluster).stacks[0].sync, SyncState::Synced);

    // A task that fails once too often: the service fails, the wait ends at once.
    let job = "
  job:
    image: app:bad
    deploy:
      restart_policy: {condition: on-failure, delay: 100ms, max_attempts: 1}
";
    cluster.apply(&[("shop", &stack(&[WEB, job]))]).await;
    let exhausted = verdict(&cluster).await;
    assert!(
        failed_with(&exhausted, "restart_policy.max_attempts (1) reached"),
        "{exhausted:?}"
    );
    assert_eq!(status(&cluster).stacks[0].sync, SyncState::Degraded);

    // A rejected task that is never restarted.
    let once = "
  once:
    image: app:missing
    deploy:
      restart_policy: {condition: none}
";
    cluster.apply(&[("shop", &stack(&[WEB, once]))]).await;
    let rejected = verdict(&cluster).await;
    assert!(failed_with(&rejected, "was rejected"), "{rejected:?}");

    // An update whose tasks fail is rolled back: the revision's spec is not in force.
    let bad = WEB.replace("app:1", "app:bad");
    cluster.apply(&[("shop", &stack(&[&bad]))]).await;
    let rolled_back = verdict(&cluster).await;
    assert!(
        failed_with(&rolled_back, "update rolled back"),
        "{rolled_back:?}"
    );

    // Nothing fits: degraded, which may heal, so only the timeout ends the wait.
    let big = "
  big:
    image: app:1
    deploy:
      resources: {reservations: {memory: 64G}}
";
    cluster.apply(&[("shop", &stack(&[WEB, big]))]).await;
    let started = Instant::now();
    let pending = loop {
        let view = status(&cluster);
        let verdict = wait::expire(wait::decide(&view, &Target::Newest));
        if matches!(&verdict, Verdict::TimedOut(why) if why.iter().any(|l| l.contains("pending"))) {
            break (verdict, view);
        }
        assert!(started.elapsed() < LIMIT, "still {verdict:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pending.1.stacks[0].sync, SyncState::Degraded, "{pending:?}");
}
