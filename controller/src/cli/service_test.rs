use crds::port::{PortConfig, PortMode, Protocol};
use crds::service::{UpdateState, UpdateStatus};

use super::*;
use crate::protocol::Replicas;
use crate::raft::fixtures::{service, task};

const NOW: u64 = 1_700_000_000_000;

fn service_view(name: &str, mode: ServiceMode, running: u64, desired: u64) -> ServiceView {
    let mut service = service(name);
    service.spec.mode = mode;
    ServiceView {
        service,
        replicas: Replicas { running, desired },
    }
}

/// A task of `web` in `slot` on `node`, created `age_s` ago, in `state` since `since_s` ago.
fn task_view(id: &str, slot: u64, node: Option<&str>, age_s: u64, since_s: u64) -> TaskView {
    let mut task = task(id, TaskState::Running);
    task.slot = slot;
    task.node = node.map(str::to_owned);
    task.meta.created_at_ms = NOW - age_s * 1000;
    task.status.timestamp_ms = NOW - since_s * 1000;
    TaskView {
        task,
        service_short_name: "web".into(),
        node_hostname: node.map(|n| format!("host-{n}")),
        image: Some("nginx:1.27@sha256:abc".into()),
        host_ports: Vec::new(),
    }
}

fn shut_down(mut view: TaskView, error: Option<&str>) -> TaskView {
    view.task.desired_state = TaskState::Shutdown;
    view.task.status.state = if error.is_some() {
        TaskState::Failed
    } else {
        TaskState::Shutdown
    };
    view.task.status.error = error.map(str::to_owned);
    view
}

#[test]
fn service_ls_reads_like_docker_with_ports_and_update_hints() {
    let mut web = service_view("shop_web", ServiceMode::Replicated { replicas: 3 }, 2, 3);
    web.service.spec.image = "nginx:1.27@sha256:abc".into();
    web.service.spec.ports.push(PortConfig {
        target: 53,
        published: Some(5353),
        protocol: Protocol::Udp,
        mode: PortMode::Ingress,
        host_ip: None,
    });
    web.service.update = Some(UpdateStatus {
        state: UpdateState::Paused,
        started_at_ms: 0,
        completed_at_ms: None,
        message: "task failed".into(),
        rolled_back_spec: None,
    });
    let mut db = service_view("shop_db", ServiceMode::Global, 2, 2);
    db.service.update = Some(UpdateStatus {
        state: UpdateState::RollbackCompleted,
        started_at_ms: 0,
        completed_at_ms: Some(1),
        message: String::new(),
        rolled_back_spec: None,
    });
    let expected = "\
NAME       MODE         REPLICAS              IMAGE         PORTS
shop_db    global       2/2 (rolled back)     postgres:17
shop_web   replicated   2/3 (update paused)   nginx:1.27    *:8080->80/tcp, *:5353->53/udp
";
    assert_eq!(render_ls(&[web, db]), expected);
}

#[test]
fn service_ps_shows_history_under_the_current_task_newest_first() {
    let tasks = vec![
        shut_down(
            task_view("aaaaaaaaaaaaaaaa", 1, Some("n1"), 3600, 600),
            None,
        ),
        task_view("bbbbbbbbbbbbbbbb", 1, Some("n1"), 600, 180),
        shut_down(
            task_view("cccccccccccccccc", 1, Some("n2"), 1200, 900),
            Some("task: non-zero exit (137)"),
        ),
        {
            let mut view = task_view("dddddddddddddddd", 2, Some("n2"), 600, 59);
            view.image = Some("nginx:1.28".into());
            view.host_ports.push(PortConfig {
                target: 80,
                published: Some(8080),
                protocol: Protocol::Tcp,
                mode: PortMode::Host,
                host_ip: None,
            });
            view
        },
    ];
    let expected = "\
ID             NAME        IMAGE        NODE      DESIRED STATE   CURRENT STATE             ERROR                         PORTS
bbbbbbbbbbbb   web.1       nginx:1.27   host-n1   Running         Running 3 minutes ago
cccccccccccc    \\_ web.1   nginx:1.27   host-n2   Shutdown        Failed 15 minutes ago     \"task: non-zero exit (137)\"
aaaaaaaaaaaa    \\_ web.1   nginx:1.27   host-n1   Shutdown        Shutdown 10 minutes ago
dddddddddddd   web.2       nginx:1.28   host-n2   Running         Running 59 seconds ago                                  *:8080->80/tcp
";
    assert_eq!(render_ps(&tasks, false, NOW), expected);
}

#[test]
fn a_pending_task_shows_the_schedulers_reason_cut_unless_no_trunc() {
    let mut pending = task_view("eeeeeeeeeeeeeeeeee", 3, None, 5, 5);
    pending.task.status.state = TaskState::Pending;
    pending.task.status.message = Some("no suitable node (2 nodes insufficient memory)".into());
    let cut = render_ps(std::slice::from_ref(&pending), false, NOW);
    assert_eq!(
        cut.lines().nth(1),
        Some(
            "eeeeeeeeeeee   web.3   nginx:1.27          Running         Pending 5 seconds ago   \
             \"no suitable node (2 nodes ins…\""
        )
    );
    let full = render_ps(&[pending], true, NOW);
    assert_eq!(
        full.lines().nth(1),
        Some(
            "eeeeeeeeeeeeeeeeee   web.3   nginx:1.27          Running         Pending 5 seconds ago   \
             no suitable node (2 nodes insufficient memory)"
        )
    );
}

#[test]
fn global_tasks_are_named_by_node_and_fall_back_to_the_node_id() {
    let mut view = task_view("ffffffffffffffff", 0, Some("n9"), 10, 10);
    view.node_hostname = None;
    assert_eq!(task_name(&view), "web.n9");
    let table = render_ps(&[view], false, NOW);
    assert_eq!(
        table.lines().nth(1),
        Some("ffffffffffff   web.n9   nginx:1.27   n9     Running         Running 10 seconds ago")
    );
}

#[test]
fn durations_are_worded_like_docker() {
    let cases = [
        (0, "Less than a second"),
        (1_000, "1 second"),
        (59_999, "59 seconds"),
        (60_000, "About a minute"),
        (119_999, "About a minute"),
        (180_000, "3 minutes"),
        (3_600_000, "About an hour"),
        (5_400_000, "2 hours"),
        (47 * 3_600_000, "47 hours"),
        (3 * 86_400_000, "3 days"),
        (15 * 86_400_000, "2 weeks"),
        (90 * 86_400_000, "3 months"),
        (800 * 86_400_000, "2 years"),
    ];
    for (ms, words) in cases {
        assert_eq!(human_duration(ms), words, "{ms} ms");
    }
}

#[test]
fn the_tasks_path_encodes_names() {
    assert_eq!(tasks_path("shop_web", None), "/v1/tasks?service=shop_web");
    assert_eq!(
        tasks_path("a b&c", Some("shop")),
        "/v1/tasks?service=a%20b%26c&stack=shop"
    );
}

#[test]
fn a_running_task_with_a_healthcheck_shows_its_health() {
    let mut healthy = task_view("gggggggggggggggg", 1, Some("n1"), 10, 10);
    healthy.task.status.health = Some(crds::task::TaskHealth::Healthy);
    let mut sick = task_view("hhhhhhhhhhhhhhhh", 2, Some("n1"), 5, 5);
    sick.task.status.health = Some(crds::task::TaskHealth::Unhealthy);
    let table = render_ps(&[healthy, sick], false, NOW);
    assert!(
        table.contains("Running (healthy) 10 seconds ago"),
        "{table}"
    );
    assert!(
        table.contains("Running (unhealthy) 5 seconds ago"),
        "{table}"
    );
}
