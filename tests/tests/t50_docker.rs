//! End to end on the real Docker engine: real `reconciler` processes follow a real Git
//! repository (or a watched directory) and converge containers built from the locally built
//! test images (tests/images).
//!
//! One node: deploy 3/3, `docker kill` → replaced, scale 3 → 5 → 2 by commits, rolling
//! updates `:1` → `:2` start-first and back stop-first, a `:bad` image rolled back and
//! reported so, a restarted manager+agent that restarts no container, a removed stack pruned.
//! Three agents on 127.0.0.2–4 sharing the engine: host-mode ports on each node's address, a
//! frozen agent's tasks move to the others, and its superseded containers stop when it thaws.

use std::path::Path;
use std::time::{Duration, Instant};

use tests::cluster::{Cluster, free_port};
use tests::docker::{
    StackCleanup, build_images, docker, engine_or_skip, http_get, running, stack_containers,
    unique_stack,
};
use tests::{GitRepo, Process, reconciler, wait_until};

const CONVERGE: Duration = Duration::from_secs(60);

fn stack_yaml(image: &str, replicas: u32, order: &str, port: u16) -> String {
    format!(
        r#"services:
  web:
    image: reconciler-test/echo:{image}
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "web"]
    stop_grace_period: 2s
    healthcheck:
      test: ["CMD", "/workload", "probe", "http://127.0.0.1:8080/healthz"]
      interval: 1s
      timeout: 1s
      retries: 2
    deploy:
      replicas: {replicas}
      restart_policy:
        condition: any
        delay: 1s
      update_config:
        parallelism: 2
        delay: 0s
        order: {order}
        monitor: 2s
        failure_action: rollback
      rollback_config:
        parallelism: 0
        order: stop-first
  front:
    image: reconciler-test/echo:1
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "front"]
    ports:
      - "{port}:8080"
"#
    )
}

/// `service ls --format json` of the manager with `data`, by full service name.
fn services(dir: &Path, data: &Path) -> Result<Vec<serde_json::Value>, String> {
    let run = reconciler(
        dir,
        &[
            "service",
            "ls",
            "--format",
            "json",
            "--data-dir",
            &data.to_string_lossy(),
        ],
    );
    if run.code != 0 {
        return Err(run.stderr);
    }
    serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))
}

fn service<'a>(all: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    all.iter().find(|s| s["spec"]["name"] == name)
}

/// Waits until exactly `count` containers of the service run, all from `image`.
fn wait_running(stack: &str, svc: &str, count: usize, image: &str, what: &str) {
    wait_until(CONVERGE, what, || {
        let up = running(stack, svc);
        let images: Vec<&str> = up.iter().map(|c| c.image.as_str()).collect();
        if up.len() == count && images.iter().all(|i| *i == image) {
            Ok(())
        } else {
            Err(format!("{} running: {images:?}", up.len()))
        }
    });
}

#[test]
fn one_node_deploys_heals_scales_updates_rolls_back_adopts_and_prunes() {
    if !engine_or_skip("one_node_deploys_heals_scales_updates_rolls_back_adopts_and_prunes") {
        return;
    }
    build_images();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = unique_stack("e2e");
    let _cleanup = StackCleanup(stack.clone());
    let port = free_port();
    let repo = GitRepo::new(dir.path());
    let file = format!("stacks/{stack}/compose.yaml");
    repo.write(&file, &stack_yaml("1", 3, "start-first", port));
    // A second stack stays when the first is removed: a revision without any stack is refused
    // (it would prune everything) unless the manager runs with --allow-empty.
    let kept = format!("{stack}k");
    let _cleanup_kept = StackCleanup(kept.clone());
    repo.write(
        &format!("stacks/{kept}/compose.yaml"),
        "services:\n  idle:\n    image: reconciler-test/echo:1\n    deploy:\n      replicas: 0\n",
    );
    repo.commit_and_push("deploy");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let agent_on = [("RECONCILER_AGENT", "true")];
    let mut manager = repo.follow(dir.path(), "manager", &data, &agent_on);
    let web = format!("{stack}_web");

    // Deploy: 3/3, and the published port answers on the node's address.
    wait_running(&stack, "web", 3, "reconciler-test/echo:1", "3 web replicas");
    wait_running(
        &stack,
        "front",
        1,
        "reconciler-test/echo:1",
        "the front task",
    );
    let body = wait_until(CONVERGE, "the published port", || {
        http_get(&format!("127.0.0.1:{port}"))
    });
    assert!(body.starts_with("front version=1"), "{body}");
    wait_until(CONVERGE, "service ls to say 3/3", || {
        let all = services(dir.path(), &data)?;
        let s = service(&all, &web).ok_or("no web")?;
        (s["replicas"]["running"] == 3 && s["replicas"]["desired"] == 3)
            .then_some(())
            .ok_or_else(|| s["replicas"].to_string())
    });

    // What a pipeline calls after a push: converged, exit 0.
    let waited = reconciler(
        dir.path(),
        &[
            "status",
            "--wait",
            "--timeout",
            "60s",
            "--data-dir",
            &data_s,
        ],
    );
    assert_eq!(waited.code, 0, "{}{}", waited.stdout, waited.stderr);
    assert!(
        waited.stdout.contains("Service converged"),
        "{}",
        waited.stdout
    );

    // A killed container is replaced by a new task in the same slot.
    let victim = running(&stack, "web").remove(0);
    docker(&["kill", &victim.id]).expect("docker kill");
    let killed = Instant::now();
    wait_until(CONVERGE, "a replacement for the killed task", || {
        let up = running(&stack, "web");
        (up.len() == 3 && up.iter().all(|c| c.id != victim.id))
            .then_some(())
            .ok_or_else(|| format!("{} running", up.len()))
    });
    eprintln!("killed container replaced in {:?}", killed.elapsed());

    // Scale by commits: 3 → 5 → 2.
    repo.write(&file, &stack_yaml("1", 5, "start-first", port));
    repo.commit_and_push("scale to 5");
    wait_running(&stack, "web", 5, "reconciler-test/echo:1", "5 replicas");
    repo.write(&file, &stack_yaml("1", 2, "start-first", port));
    repo.commit_and_push("scale to 2");
    wait_running(&stack, "web", 2, "reconciler-test/echo:1", "2 replicas");

    // Rolling update :1 → :2 start-first, then back to :1 stop-first.
    repo.write(&file, &stack_yaml("2", 2, "start-first", port));
    repo.commit_and_push("image 2, start-first");
    wait_running(&stack, "web", 2, "reconciler-test/echo:2", "the :2 rollout");
    wait_until(CONVERGE, "the update to complete", || {
        let all = services(dir.path(), &data)?;
        let s = service(&all, &web).ok_or("no web")?;
        (s["update"]["state"] == "completed")
            .then_some(())
            .ok_or_else(|| s["update"].to_string())
    });
    repo.write(&file, &stack_yaml("1", 2, "stop-first", port));
    repo.commit_and_push("image 1, stop-first");
    wait_running(
        &stack,
        "web",
        2,
        "reconciler-test/echo:1",
        "the stop-first rollout",
    );

    // A failing image is rolled back, and the update says so.
    repo.write(&file, &stack_yaml("bad", 2, "start-first", port));
    repo.commit_and_push("a bad image");
    let update = wait_until(CONVERGE, "the rollback", || {
        let all = services(dir.path(), &data)?;
        let s = service(&all, &web).ok_or("no web")?;
        (s["update"]["state"] == "rollback_completed")
            .then(|| s["update"].clone())
            .ok_or_else(|| s["update"].to_string())
    });
    assert!(
        update["message"]
            .as_str()
            .unwrap_or_default()
            .contains("rolled back")
            || update["message"]
                .as_str()
                .unwrap_or_default()
                .contains("rollback"),
        "{update}"
    );
    wait_running(
        &stack,
        "web",
        2,
        "reconciler-test/echo:1",
        "the rolled-back replicas",
    );

    // A restarted manager and agent adopt their containers: none restarts.
    let before: Vec<(String, String)> = stack_containers(&stack)
        .into_iter()
        .filter(|c| c.running())
        .map(|c| (c.id, c.started_at))
        .collect();
    manager.kill9();
    let manager = repo.follow(dir.path(), "manager-restart", &data, &agent_on);
    wait_until(CONVERGE, "the restarted manager to lead", || {
        services(dir.path(), &data).map(|_| ())
    });
    // Give the new session time to act on its full assignment set before comparing.
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<(String, String)> = stack_containers(&stack)
        .into_iter()
        .filter(|c| c.running())
        .map(|c| (c.id, c.started_at))
        .collect();
    let mut before_sorted = before.clone();
    before_sorted.sort();
    let mut after_sorted = after.clone();
    after_sorted.sort();
    assert_eq!(
        before_sorted,
        after_sorted,
        "containers changed across an agent restart; log: {}",
        manager.log_text()
    );

    // Removing the stack's file prunes its containers.
    repo.remove(&format!("stacks/{stack}"));
    repo.commit_and_push("remove the stack");
    wait_until(CONVERGE, "the stack to be pruned", || {
        let left: Vec<String> = stack_containers(&stack)
            .into_iter()
            .map(|c| format!("{} {}", c.name, c.state))
            .collect();
        left.is_empty().then_some(()).ok_or_else(|| left.join(", "))
    });
}

fn multi_stack(port: u16) -> String {
    format!(
        r#"services:
  api:
    image: reconciler-test/echo:1
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "api"]
    stop_grace_period: 2s
    deploy:
      replicas: 4
  edge:
    image: reconciler-test/echo:2
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "edge"]
    ports:
      - target: 8080
        published: {port}
        mode: host
    deploy:
      mode: global
      placement:
        constraints: [node.role == worker]
"#
    )
}

#[test]
fn three_agents_share_one_engine_and_a_frozen_agents_tasks_move() {
    if !engine_or_skip("three_agents_share_one_engine_and_a_frozen_agents_tasks_move") {
        return;
    }
    build_images();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = unique_stack("e2m");
    let _cleanup = StackCleanup(stack.clone());
    let port = free_port();
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    let drained = cluster.cli(m1, &["node", "update", "--availability", "drain", "m1"]);
    assert_eq!(drained.code, 0, "{}", drained.stderr);
    let token = cluster.token(m1, "worker");
    cluster.agents = vec!["w1".into(), "w2".into(), "w3".into()];
    for (name, ip) in [
        ("w1", "127.0.0.2"),
        ("w2", "127.0.0.3"),
        ("w3", "127.0.0.4"),
    ] {
        cluster.join(name, ip, &token, m1);
    }
    std::fs::write(
        cluster.stacks.join(format!("{stack}.yaml")),
        multi_stack(port),
    )
    .expect("write stack");

    // Four api replicas spread over three workers; one edge per worker, each on its own address.
    wait_running(&stack, "api", 4, "reconciler-test/echo:1", "4 api replicas");
    wait_running(
        &stack,
        "edge",
        3,
        "reconciler-test/echo:2",
        "an edge per worker",
    );
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let body = wait_until(CONVERGE, "edge on every worker address", || {
            http_get(&format!("{ip}:{port}"))
        });
        assert!(body.starts_with("edge version=2"), "{ip}: {body}");
    }
    let hostnames: std::collections::HashMap<String, String> = cluster
        .node_ls(m1)
        .expect("node ls")
        .iter()
        .map(|n| {
            (
                n["meta"]["id"].as_str().unwrap_or_default().to_owned(),
                n["description"]["hostname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let node_of = |c: &tests::docker::Container| {
        hostnames
            .get(c.label(tests::docker::NODE_LABEL))
            .cloned()
            .unwrap_or_default()
    };
    let spread: Vec<String> = running(&stack, "api").iter().map(node_of).collect();
    assert!(
        ["w1", "w2", "w3"]
            .iter()
            .all(|w| spread.iter().any(|n| n == w)),
        "api not spread over the workers: {spread:?}"
    );

    // Freeze w2: it is declared down and its api tasks are replaced on w1 and w3.
    let w2 = cluster.index_of("w2");
    let pid = cluster.nodes[w2].process.as_ref().expect("w2 runs").pid();
    let on_w2 = running(&stack, "api")
        .iter()
        .filter(|c| node_of(c) == "w2")
        .count();
    assert!(on_w2 > 0);
    std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .expect("SIGSTOP");
    wait_until(CONVERGE, "w2's api tasks to run on w1 and w3", || {
        let elsewhere = running(&stack, "api")
            .iter()
            .filter(|c| node_of(c) != "w2")
            .count();
        (elsewhere == 4)
            .then_some(())
            .ok_or_else(|| format!("{elsewhere} api tasks off w2"))
    });

    // Thaw: w2 stops its superseded containers, and the count is exact again.
    std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()
        .expect("SIGCONT");
    wait_until(CONVERGE, "w2's superseded api containers to stop", || {
        let up = running(&stack, "api");
        let on_w2 = up.iter().filter(|c| node_of(c) == "w2").count();
        (up.len() == 4 && on_w2 == 0)
            .then_some(())
            .ok_or_else(|| format!("{} running, {on_w2} on w2", up.len()))
    });
    wait_running(
        &stack,
        "edge",
        3,
        "reconciler-test/echo:2",
        "edge back on w2",
    );
}

#[test]
fn without_an_engine_the_node_says_so_in_one_line_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stacks = dir.path().join("stacks");
    std::fs::create_dir_all(&stacks).expect("mkdir");
    let data = dir.path().join("data");
    let mut node = Process::start_with_env(
        dir.path(),
        "manager",
        &[
            "--watch",
            &stacks.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
        ],
        &[
            ("RECONCILER_AGENT", "true"),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    let code = node.wait_exit(Duration::from_secs(30));
    let log = node.log_text();
    assert_eq!(code, Some(2), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {log}"));
    assert!(
        line.contains("unix:///nonexistent/docker.sock") && line.contains("--agent=false"),
        "{line}"
    );
}
