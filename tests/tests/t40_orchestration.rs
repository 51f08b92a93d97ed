//! Orchestration end to end on a real manager (Raft on disk, leader loops) with simulated nodes:
//! deploy, crash and restart, node loss and return, scaling, rolling update, rollback (#5).

use std::time::Duration;

use agent::simulated::SimulatedConfig;
use controller::node::simulated::{Control, Shape};
use crds::service::UpdateState;
use crds::task::TaskState;
use tests::sim::{SimCluster, running};

const LIMIT: Duration = Duration::from_secs(20);

fn shape() -> Shape {
    Shape {
        cpus: 4,
        memory: 8 << 30,
        labels: Default::default(),
    }
}

fn web(replicas: u32, image: &str) -> String {
    format!(
        "services:
  web:
    image: {image}
    deploy:
      replicas: {replicas}
      restart_policy: {{condition: any, delay: 200ms}}
      update_config: {{parallelism: 1, delay: 0s, monitor: 300ms, failure_action: rollback, order: start-first}}
      rollback_config: {{parallelism: 0, monitor: 300ms}}
"
    )
}

/// Tasks of `shop_web` per node, among running ones.
fn spread(cluster: &SimCluster) -> Vec<usize> {
    cluster.read(|s| {
        let mut per_node = std::collections::BTreeMap::<String, usize>::new();
        for t in s.tasks.values() {
            if t.service == "shop_web" && t.status.state == TaskState::Running {
                *per_node
                    .entry(t.node.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        per_node.into_values().collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_converge_and_survive_crashes_node_loss_and_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = SimCluster::start(dir.path(), 3, &shape(), Duration::from_millis(300)).await;

    // Deploy: three replicas, one per node (spread).
    cluster.apply(&[("shop", &web(3, "app:1"))]).await;
    cluster
        .wait_state(LIMIT, "3/3 running", |s| running(s, "shop_web") == 3)
        .await;
    assert_eq!(spread(&cluster), [1, 1, 1]);

    // A crashed task is replaced in its slot after the restart delay.
    let victim = cluster.read(|s| {
        s.tasks
            .values()
            .find(|t| t.status.state == TaskState::Running)
            .map(|t| {
                (
                    t.meta.id.clone(),
                    t.node.clone().unwrap_or_default(),
                    t.slot,
                )
            })
            .expect("a running task")
    });
    let node = cluster
        .nodes
        .iter()
        .find(|n| n.id == victim.1)
        .expect("its node");
    node.control(Control::Crash(victim.0.clone()));
    cluster
        .wait_state(LIMIT, "the crashed task replaced", |s| {
            s.tasks.get(&victim.0).map(|t| t.status.state) == Some(TaskState::Failed)
                && running(s, "shop_web") == 3
        })
        .await;
    let replacement = cluster.read(|s| {
        s.tasks
            .values()
            .filter(|t| t.slot == victim.2 && t.desired_state == TaskState::Running)
            .map(|t| t.attempt)
            .collect::<Vec<_>>()
    });
    assert_eq!(replacement, [1], "one replacement, counted as a restart");

    // A node that stops heartbeating is declared down and its task runs elsewhere; when it
    // comes back its superseded task is shut down and the count stays exact.
    let lost = cluster.nodes[0].id.clone();
    cluster.nodes[0].control(Control::Freeze);
    cluster
        .wait_state(LIMIT, "tasks of the lost node replaced", |s| {
            running(s, "shop_web") == 3
                && s.tasks.values().all(|t| {
                    t.node.as_deref() != Some(lost.as_str())
                        || t.desired_state == TaskState::Shutdown
                })
        })
        .await;
    cluster.nodes[0].control(Control::Thaw);
    cluster
        .wait_state(LIMIT, "the returned node's old task shut down", |s| {
            s.tasks.values().all(|t| {
                t.node.as_deref() != Some(lost.as_str()) || t.status.state != TaskState::Running
            })
        })
        .await;
    assert_eq!(cluster.read(|s| running(s, "shop_web")), 3);

    // Scale 3 → 5 → 2 by new revisions.
    cluster.apply(&[("shop", &web(5, "app:1"))]).await;
    cluster
        .wait_state(LIMIT, "5/5", |s| running(s, "shop_web") == 5)
        .await;
    cluster.apply(&[("shop", &web(2, "app:1"))]).await;
    cluster
        .wait_state(LIMIT, "2/2", |s| running(s, "shop_web") == 2)
        .await;

    // A rolling update to app:2 completes.
    cluster.apply(&[("shop", &web(2, "app:2"))]).await;
    cluster
        .wait_state(LIMIT, "update completed", |s| {
            s.services["shop_web"].update.as_ref().map(|u| u.state) == Some(UpdateState::Completed)
                && running(s, "shop_web") == 2
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_update_is_rolled_back_and_reported_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = SimCluster::start(dir.path(), 0, &shape(), Duration::from_millis(300)).await;
    let config = SimulatedConfig {
        fail_images: vec!["app:bad".into()],
        ..SimulatedConfig::default()
    };
    cluster.add_nodes(&["a", "b"], &shape(), config).await;
    cluster
        .wait_state(LIMIT, "nodes ready", |s| {
            s.nodes
                .values()
                .filter(|n| n.status.state == crds::node::NodeState::Ready)
                .count()
                == 3
        })
        .await;
    cluster.apply(&[("shop", &web(2, "app:1"))]).await;
    cluster
        .wait_state(LIMIT, "2/2", |s| running(s, "shop_web") == 2)
        .await;
    cluster.apply(&[("shop", &web(2, "app:bad"))]).await;
    cluster
        .wait_state(LIMIT, "rolled back", |s| {
            s.services["shop_web"].update.as_ref().map(|u| u.state)
                == Some(UpdateState::RollbackCompleted)
                && running(s, "shop_web") == 2
        })
        .await;
    let (image, message) = cluster.read(|s| {
        let web = &s.services["shop_web"];
        (
            web.spec.image.clone(),
            web.update
                .as_ref()
                .map(|u| u.message.clone())
                .unwrap_or_default(),
        )
    });
    assert_eq!(image, "app:1", "the service is back on the previous spec");
    assert!(
        message.contains("rolled back"),
        "truthful outcome: {message}"
    );
}
