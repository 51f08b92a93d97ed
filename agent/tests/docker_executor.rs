//! The worker with the Docker executor on the machine's real engine, using the images that
//! `tests/images/build.sh` builds locally. Each test runs under a node id and stack name of its
//! own and removes what it created; it skips (saying why) only when no engine answers and `CI`
//! is unset.

mod docker_support;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use agent::executor::conformance::check_lifecycle;
use crds::assignment::AssignmentBatch;
use crds::meta::ObjectMeta;
use crds::task::Task;
use crds::task::{TaskHealth, TaskState};
use docker_support::{Node, connect, docker, full, task};

const ECHO: &str = "services:\n  web:\n    image: reconciler-test/echo:1\n";

#[tokio::test]
async fn the_docker_executor_keeps_the_executor_contract() {
    let Some((executor, cleanup)) = connect("contract", None).await else {
        return;
    };
    let stack = crds::stack::from_text(&cleanup.stack, ECHO).expect("valid stack");
    let spec = stack.services.into_values().next().expect("one service");
    let task = Task {
        meta: ObjectMeta {
            id: "c1".to_owned(),
            ..ObjectMeta::default()
        },
        service: spec.name.clone(),
        slot: 1,
        spec_hash: spec.template_hash(),
        ..Task::default()
    };
    check_lifecycle(&executor, &task, &spec)
        .await
        .expect("conformant");
}

#[tokio::test]
async fn a_task_runs_and_a_killed_container_is_reported_failed_at_once() {
    let Some(mut node) = Node::start("kill", None).await else {
        return;
    };
    let spec = node.service(ECHO);
    let t1 = task("kill1", &spec, &node, 1);
    node.send(full(vec![t1], &[&spec])).await;
    let running = node
        .wait("kill1", Duration::from_secs(20), |s| {
            s.state == TaskState::Running
        })
        .await;
    let container = running.container_id.expect("a container id");
    let name = docker(&["inspect", "-f", "{{.Name}}", &container]);
    assert_eq!(name, format!("/{}_web.1.kill1", node.stack));
    let states: Vec<TaskState> = node.history.iter().map(|(_, s)| s.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Accepted,
            TaskState::Preparing,
            TaskState::Starting,
            TaskState::Running
        ]
    );

    docker(&["kill", &container]);
    // From the engine confirming the kill: the docker CLI's own start-up is not the agent's.
    let killed = Instant::now();
    let failed = node
        .wait("kill1", Duration::from_secs(5), |s| {
            s.state == TaskState::Failed
        })
        .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(1), "reported after {took:?}");
    assert_eq!(failed.exit_code, Some(137));
    assert_eq!(failed.error.as_deref(), Some("task: non-zero exit (137)"));
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &container]),
        "exited",
        "a finished container stays until its task leaves the set"
    );
}

#[tokio::test]
async fn a_container_that_exits_non_zero_fails_its_task() {
    let Some(mut node) = Node::start("bad", None).await else {
        return;
    };
    let spec = node.service("services:\n  web:\n    image: reconciler-test/echo:bad\n");
    node.send(full(vec![task("b1", &spec, &node, 1)], &[&spec]))
        .await;
    let failed = node
        .wait("b1", Duration::from_secs(20), |s| {
            s.state == TaskState::Failed
        })
        .await;
    assert_eq!(failed.exit_code, Some(1));
    assert_eq!(failed.error.as_deref(), Some("task: non-zero exit (1)"));
}

#[tokio::test]
async fn a_healthcheck_task_reports_healthy() {
    let Some(mut node) = Node::start("health", None).await else {
        return;
    };
    let spec = node.service(
        "services:\n  web:\n    image: reconciler-test/echo:1\n    healthcheck:\n      \
         test: [\"CMD\", \"/workload\", \"probe\", \"http://127.0.0.1:8080/healthz\"]\n      \
         interval: 250ms\n      timeout: 2s\n      retries: 3\n",
    );
    node.send(full(vec![task("h1", &spec, &node, 1)], &[&spec]))
        .await;
    let healthy = node
        .wait("h1", Duration::from_secs(20), |s| {
            s.health == Some(TaskHealth::Healthy)
        })
        .await;
    assert_eq!(healthy.state, TaskState::Running);
}

#[tokio::test]
async fn a_missing_image_is_rejected_with_the_engines_message() {
    let Some(mut node) = Node::start("missing", None).await else {
        return;
    };
    let spec = node.service("services:\n  web:\n    image: reconciler-test/missing:1\n");
    node.send(full(vec![task("m1", &spec, &node, 1)], &[&spec]))
        .await;
    let rejected = node
        .wait("m1", Duration::from_secs(30), |s| {
            s.state == TaskState::Rejected
        })
        .await;
    let error = rejected.error.unwrap_or_default();
    assert!(
        error.starts_with("cannot pull image reconciler-test/missing:1: "),
        "{error}"
    );
    assert!(error.len() > "cannot pull image reconciler-test/missing:1: ".len());
}

#[tokio::test]
async fn a_restarted_worker_adopts_its_running_containers() {
    let Some(mut node) = Node::start("adopt", None).await else {
        return;
    };
    let spec = node.service(ECHO);
    node.send(full(vec![task("a1", &spec, &node, 1)], &[&spec]))
        .await;
    let running = node
        .wait("a1", Duration::from_secs(20), |s| {
            s.state == TaskState::Running
        })
        .await;
    let container = running.container_id.clone().expect("a container id");
    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &container]);

    let mut node = node.restart().await;
    let mut adopted = task("a1", &spec, &node, 1);
    adopted.status = running.clone();
    node.send(full(vec![adopted], &[&spec])).await;
    node.drain(Duration::from_millis(1500)).await;
    assert!(
        node.history.is_empty(),
        "nothing to report: {:?}",
        node.history
    );
    let containers = docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label=io.reconciler.node={}", node.node_id),
    ]);
    assert_eq!(containers, container, "the same container, not a new one");
    let after = docker(&["inspect", "-f", "{{.State.StartedAt}}", &container]);
    assert_eq!(after, started, "not restarted");
}

#[tokio::test]
async fn a_container_left_by_an_unfinished_prepare_is_made_again() {
    let Some(mut node) = Node::start("unfinished", None).await else {
        return;
    };
    let spec = node.service(ECHO);
    let mut u1 = task("u1", &spec, &node, 1);
    let name = format!("{}_web.1.u1", node.stack);
    let left = docker(&[
        "create",
        "--name",
        &name,
        "--label",
        &format!("io.reconciler.node={}", node.node_id),
        "--label",
        "io.reconciler.task=u1",
        "--label",
        &format!("io.reconciler.spec-hash={}", u1.spec_hash),
        "reconciler-test/echo:1",
    ]);
    assert!(!left.is_empty(), "docker create failed");
    u1.status.state = TaskState::Preparing;
    node.send(full(vec![u1], &[&spec])).await;
    let running = node
        .wait("u1", Duration::from_secs(20), |s| {
            s.state == TaskState::Running
        })
        .await;
    let container = running.container_id.expect("a container id");
    assert_ne!(container, left, "made again, not adopted half-done");
    assert_eq!(
        docker(&["inspect", "-f", "{{.Name}}", &container]),
        format!("/{name}")
    );
}

#[tokio::test]
async fn a_task_that_leaves_the_set_loses_its_container() {
    let Some(mut node) = Node::start("remove", None).await else {
        return;
    };
    let spec = node.service(ECHO);
    node.send(full(vec![task("r1", &spec, &node, 1)], &[&spec]))
        .await;
    let running = node
        .wait("r1", Duration::from_secs(20), |s| {
            s.state == TaskState::Running
        })
        .await;
    let container = running.container_id.expect("a container id");
    node.send(AssignmentBatch {
        removed: vec!["r1".to_owned()],
        ..AssignmentBatch::default()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = docker(&["ps", "-aq", "--no-trunc"]);
        if !all.contains(&container) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "container {container} still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_unknown_external_network_is_a_clear_error() {
    let Some(mut node) = Node::start("extnet", None).await else {
        return;
    };
    let missing = format!("{}-missing-net", node.node_id);
    let spec = node.service(&format!(
        "services:\n  web:\n    image: reconciler-test/echo:1\n    networks: [outside]\n\
         networks:\n  outside:\n    external: true\n    name: {missing}\n"
    ));
    node.send(full(vec![task("e1", &spec, &node, 1)], &[&spec]))
        .await;
    let rejected = node
        .wait("e1", Duration::from_secs(20), |s| {
            s.state == TaskState::Rejected
        })
        .await;
    assert_eq!(
        rejected.error.as_deref(),
        Some(
            format!(
                "network {missing} is external but does not exist on this node; \
                 create it with docker network create {missing}"
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn stack_networks_and_volumes_are_created_and_ports_published_on_the_nodes_address() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let Some(mut node) = Node::start("ports", Some(ip)).await else {
        return;
    };
    let port = TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let spec = node.service(&format!(
        "services:\n  web:\n    image: reconciler-test/echo:1\n    \
         command: [serve, --listen, \"0.0.0.0:8080\", --message, hi]\n    \
         ports: [\"{port}:8080\"]\n    volumes: [\"data:/data\"]\n    networks:\n      \
         front: {{}}\n      back:\n        aliases: [api]\n\
         networks:\n  front: {{}}\n  back: {{}}\nvolumes:\n  data: {{}}\n"
    ));
    node.send(full(vec![task("p1", &spec, &node, 1)], &[&spec]))
        .await;
    let running = node
        .wait("p1", Duration::from_secs(20), |s| {
            s.state == TaskState::Running
        })
        .await;
    let container = running.container_id.expect("a container id");
    let network = format!("{}_back", node.stack);
    let label = docker(&[
        "network",
        "inspect",
        "-f",
        "{{index .Labels \"com.docker.stack.namespace\"}}",
        &network,
    ]);
    assert_eq!(label, node.stack);
    let aliases = docker(&[
        "inspect",
        "-f",
        &format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}"),
        &container,
    ]);
    assert!(
        aliases.contains("\"web\"") && aliases.contains("\"api\""),
        "{aliases}"
    );
    let front = format!("{}_front", node.stack);
    let joined = docker(&[
        "inspect",
        "-f",
        "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
        &container,
    ]);
    let mut joined: Vec<&str> = joined.split_whitespace().collect();
    joined.sort();
    let mut expected = vec![network.as_str(), front.as_str()];
    expected.sort();
    assert_eq!(joined, expected);
    let volume = format!("{}_data", node.stack);
    let volume_stack = docker(&[
        "volume",
        "inspect",
        "-f",
        "{{index .Labels \"io.reconciler.stack\"}}",
        &volume,
    ]);
    assert_eq!(volume_stack, node.stack);
    let answer = http_get(ip, port, Duration::from_secs(5));
    assert!(answer.contains("hi version=1"), "{answer}");
}

/// GETs `/` from `ip:port`, retrying until it answers or `limit` passes.
fn http_get(ip: IpAddr, port: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let attempt = TcpStream::connect((ip, port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            stream.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        });
        match attempt {
            Ok(answer) if !answer.is_empty() => return answer,
            _ if Instant::now() > deadline => panic!("nothing answers on {ip}:{port}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[tokio::test]
async fn replicas_start_together() {
    let Some(mut node) = Node::start("scale", None).await else {
        return;
    };
    let spec = node.service(ECHO);
    let tasks: Vec<_> = (1..=10)
        .map(|i| task(&format!("s{i:02}"), &spec, &node, i))
        .collect();
    let started = Instant::now();
    node.send(full(tasks, &[&spec])).await;
    for i in 1..=10 {
        node.wait(&format!("s{i:02}"), Duration::from_secs(30), |s| {
            s.state == TaskState::Running
        })
        .await;
    }
    eprintln!("10 replicas running after {:?}", started.elapsed());
    let names = docker(&[
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=io.reconciler.node={}", node.node_id),
    ]);
    assert_eq!(names.lines().count(), 10, "{names}");
}

#[tokio::test]
async fn desired_shutdown_stops_the_container_and_keeps_it() {
    let Some(mut node) = Node::start("shutdown", None).await else {
        return;
    };
    let spec = node.service(ECHO);
    let mut t1 = task("d1", &spec, &node, 1);
    node.send(full(vec![t1.clone()], &[&spec])).await;
    let running = node
        .wait("d1", Duration::from_secs(20), |s| {
            s.state == TaskState::Running
        })
        .await;
    t1.desired_state = TaskState::Shutdown;
    t1.status = running.clone();
    node.send(AssignmentBatch {
        tasks: vec![t1],
        ..AssignmentBatch::default()
    })
    .await;
    let stopped = node
        .wait("d1", Duration::from_secs(15), |s| {
            s.state == TaskState::Shutdown
        })
        .await;
    assert_eq!(
        stopped.exit_code,
        Some(0),
        "SIGTERM ends the workload cleanly"
    );
    let container = running.container_id.expect("a container id");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &container]),
        "exited"
    );
}

#[tokio::test]
async fn connecting_to_a_refusing_address_is_one_clear_line() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let host = format!("tcp://127.0.0.1:{port}");
    let error = agent::executor::docker::DockerExecutor::connect_to(&host, "n1", None)
        .await
        .expect_err("nothing listens there");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("cannot reach the Docker engine at {host} (")),
        "{text}"
    );
    assert!(
        text.ends_with("); start Docker or set DOCKER_HOST"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    eprintln!("{text}");
}

/// Agents sharing one engine (simulated nodes on one machine) deploy replicas of a new stack at
/// the same moment: each creates the stack network on demand, and all of them must end up on one
/// network (a duplicate name makes the engine refuse to start containers: "ambiguous").
#[tokio::test]
async fn agents_sharing_an_engine_settle_on_one_stack_network() {
    use agent::executor::Executor;

    let Some((first, cleanup)) = connect("share-a", None).await else {
        return;
    };
    let mut agents = vec![(first, None)];
    for name in ["share-b", "share-c"] {
        let (executor, other) = connect(name, None).await.expect("the engine answered");
        agents.push((executor, Some(other)));
    }
    let stack = crds::stack::from_text(&cleanup.stack, ECHO).expect("valid stack");
    let spec = stack.services.into_values().next().expect("one service");
    // Three replicas on each agent, all prepared at once.
    let spec = &spec;
    let prepares = agents.iter().flat_map(|(executor, _)| {
        (1..=3u64).map(move |slot| {
            let task = Task {
                meta: ObjectMeta {
                    id: format!("{}-{slot}", executor.node_id()),
                    ..ObjectMeta::default()
                },
                service: spec.name.clone(),
                slot,
                node: Some(executor.node_id().to_owned()),
                spec_hash: spec.template_hash(),
                ..Task::default()
            };
            async move {
                let created = executor.prepare(&task, spec).await.expect("prepared");
                executor
                    .start(&created.container_id)
                    .await
                    .expect("started")
            }
        })
    });
    let started = futures_util::future::join_all(prepares).await;
    let network = format!("{}_default", cleanup.stack);
    let copies = docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("name=^{network}$"),
    ]);
    assert_eq!(copies.lines().count(), 1, "one {network}: {copies}");
    for status in &started {
        assert_eq!(status.state, agent::executor::ContainerState::Running);
        let attached = docker(&[
            "inspect",
            "-f",
            "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
            &status.container_id,
        ]);
        assert_eq!(attached, network);
    }
}
