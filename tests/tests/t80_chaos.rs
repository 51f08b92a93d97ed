//! Chaos: faults injected into a six-node cluster (three managers, three agent-only workers on
//! 127.0.0.1–6) running a stack on the real engine, while a checker samples the invariants
//! every 100 ms (tests/src/chaos). Each scenario is one test, bounded in time; they run one at
//! a time (the harness serialises them).
//!
//! 2. An agent frozen for 10 s: its tasks move; thawed, its superseded containers stop.
//! 5. An agent with 20 running containers restarts: no container restarts.
//! 4. Every manager stops and starts: same state, the workers' containers untouched.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tests::chaos::engine::{self, Listed};
use tests::chaos::{Bounds, Chaos, Checker, Options, cli, start_or_skip};
use tests::cluster::Cluster;
use tests::wait_until;

/// Deploys and recoveries on a loaded 2-core machine.
const CONVERGE: Duration = Duration::from_secs(90);

/// The scenarios' service: `replicas` copies of the echo server, stopped quickly, restarted
/// on exit, updated one at a time stop-first.
fn web(image: &str, replicas: u32) -> String {
    web_placed(image, replicas, "[]")
}

/// [`web`] with placement constraints (a YAML flow list).
fn web_placed(image: &str, replicas: u32, constraints: &str) -> String {
    format!(
        r#"services:
  web:
    image: reconciler-test/echo:{image}
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "web"]
    stop_grace_period: 1s
    deploy:
      replicas: {replicas}
      restart_policy:
        condition: any
        delay: 1s
      update_config:
        parallelism: 1
        delay: 1s
        order: stop-first
        monitor: 2s
        failure_action: pause
      placement:
        constraints: {constraints}
"#
    )
}

/// Running containers of the stack.
fn running(chaos: &Chaos) -> Vec<Listed> {
    engine::list(&chaos.stack)
        .unwrap_or_default()
        .into_iter()
        .filter(Listed::running)
        .collect()
}

/// Commits `yaml`, waits until it is applied and converged with `count` containers running.
fn deploy(chaos: &Chaos, yaml: &str, count: usize, message: &str) -> String {
    let revision = chaos.commit_stack(yaml, message);
    chaos.wait_converged(&revision, CONVERGE);
    wait_until(CONVERGE, "the containers to run", || {
        let up = running(chaos).len();
        (up == count)
            .then_some(())
            .ok_or_else(|| format!("{up} running"))
    });
    revision
}

/// `(id, StartedAt)` of every running container of the stack, sorted.
fn started(chaos: &Chaos) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = tests::docker::stack_containers(&chaos.stack)
        .into_iter()
        .filter(|c| c.running())
        .map(|c| (c.id, c.started_at))
        .collect();
    all.sort();
    all
}

/// How many running containers each node (by hostname) has.
fn per_node(chaos: &Chaos) -> HashMap<String, usize> {
    let names = chaos.hostnames();
    let mut counts = HashMap::new();
    for c in running(chaos) {
        let name = names.get(&c.node).cloned().unwrap_or(c.node);
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

#[test]
fn s2_a_frozen_agents_tasks_move_and_its_superseded_containers_stop_when_it_thaws() {
    let test = "s2_a_frozen_agents_tasks_move_and_its_superseded_containers_stop_when_it_thaws";
    let Some(chaos) = start_or_skip(test, "cz2", Options::default()) else {
        return;
    };
    deploy(&chaos, &web("1", 6), 6, "six replicas");
    let checker = Checker::start(&chaos, Bounds::default());

    let victim = chaos.workers().next().expect("a worker");
    let name = chaos.name(victim).to_owned();
    let on_victim = per_node(&chaos).get(&name).copied().unwrap_or(0);
    assert!(on_victim > 0, "no task on {name}: {:?}", per_node(&chaos));
    let label = format!("SIGSTOP {name}");
    checker.fault(&label);
    let frozen = chaos.freeze(victim);
    let froze = Instant::now();
    wait_until(
        CONVERGE,
        "the frozen agent's tasks to run elsewhere",
        || {
            let counts = per_node(&chaos);
            let elsewhere: usize = counts
                .iter()
                .filter(|(n, _)| **n != name)
                .map(|(_, c)| c)
                .sum();
            (elsewhere == 6)
                .then_some(())
                .ok_or_else(|| format!("{counts:?}"))
        },
    );
    eprintln!("tasks replaced {:?} after the freeze", froze.elapsed());
    checker.mark("tasks replaced elsewhere");
    if let Some(rest) = Duration::from_secs(10).checked_sub(froze.elapsed()) {
        std::thread::sleep(rest);
    }
    frozen.thaw();
    checker.healed(&label);
    let thawed = Instant::now();

    wait_until(
        CONVERGE,
        "the thawed agent to stop its superseded containers",
        || {
            let counts = per_node(&chaos);
            let total: usize = counts.values().sum();
            (total == 6 && counts.get(&name).copied().unwrap_or(0) == 0)
                .then_some(())
                .ok_or_else(|| format!("{counts:?}"))
        },
    );
    eprintln!(
        "superseded containers stopped {:?} after the thaw",
        thawed.elapsed()
    );
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

#[test]
fn s5_an_agent_with_twenty_containers_restarts_and_restarts_none_of_them() {
    let test = "s5_an_agent_with_twenty_containers_restarts_and_restarts_none_of_them";
    let Some(mut chaos) = start_or_skip(test, "cz5", Options::default()) else {
        return;
    };
    let yaml = web_placed("1", 20, "[node.hostname == w1]");
    deploy(&chaos, &yaml, 20, "twenty replicas on w1");
    let checker = Checker::start(&chaos, Bounds::default());
    let before = started(&chaos);
    let tasks_before = wanted_tasks(&chaos);

    let w1 = chaos.cluster.index_of("w1");
    checker.mark("kill -9 w1");
    chaos.kill9(w1);
    chaos.restart(w1);
    checker.mark("w1 started again");
    wait_ready(&chaos.cluster, "w1");
    // The restarted agent has its full assignment set once its session is up; give it time to
    // act on it (adopt, or wrongly restart) before comparing.
    wait_connected(&chaos, "w1", 1);
    std::thread::sleep(Duration::from_secs(3));
    checker.mark("compared");

    assert_eq!(
        started(&chaos),
        before,
        "containers were restarted or replaced across the agent's restart"
    );
    assert_eq!(wanted_tasks(&chaos), tasks_before, "tasks changed");
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

/// Tasks the managers want running: `(task, node)`, sorted.
fn wanted_tasks(chaos: &Chaos) -> Vec<(String, String)> {
    let via = chaos.live_manager().expect("a manager answers");
    let tasks = cli::stack_tasks(&chaos.data(via), &chaos.stack).expect("stack ps");
    let mut wanted: Vec<(String, String)> = tasks
        .iter()
        .filter(|t| t["desired_state"] == "running")
        .map(|t| {
            (
                t["meta"]["id"].as_str().unwrap_or_default().to_owned(),
                t["node"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    wanted.sort();
    wanted
}

/// Waits until the cluster lists node `name` as ready.
fn wait_ready(cluster: &Cluster, name: &str) {
    wait_until(CONVERGE, &format!("{name} ready"), || {
        let via = cluster.any_running_manager();
        let nodes = cluster.node_ls(via)?;
        let node = nodes
            .iter()
            .find(|n| n["description"]["hostname"] == name)
            .ok_or_else(|| format!("{name} missing"))?;
        (node["status"]["state"] == "ready")
            .then_some(())
            .ok_or_else(|| node["status"].to_string())
    });
}

/// Waits until the current process of node `name` has logged its agent's assignment stream
/// connecting `times` times.
fn wait_connected(chaos: &Chaos, name: &str, times: usize) {
    let index = chaos.cluster.index_of(name);
    wait_until(CONVERGE, &format!("{name}'s assignment stream"), || {
        let log = chaos.cluster.nodes[index].log();
        let seen = log.matches("assignment stream connected").count();
        (seen >= times)
            .then_some(())
            .ok_or_else(|| format!("{seen} times; {}", log.lines().last().unwrap_or_default()))
    });
}

#[test]
fn s4_every_manager_stops_and_starts_with_the_same_state_and_untouched_containers() {
    let test = "s4_every_manager_stops_and_starts_with_the_same_state_and_untouched_containers";
    let Some(mut chaos) = start_or_skip(test, "cz4", Options::default()) else {
        return;
    };
    let revision = deploy(&chaos, &web("1", 6), 6, "six replicas");
    let checker = Checker::start(&chaos, Bounds::default());
    let before = started(&chaos);
    let tasks_before = wanted_tasks(&chaos);

    checker.mark("stopping every manager");
    for m in chaos.managers() {
        assert_eq!(
            chaos.cluster.stop(m),
            Some(0),
            "{} exits cleanly on SIGTERM",
            chaos.name(m)
        );
    }
    checker.mark("every manager stopped");
    // Without any manager the agents keep what they run.
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(8) {
        assert_eq!(
            started(&chaos),
            before,
            "containers changed without managers"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for m in chaos.managers() {
        chaos.restart(m);
    }
    checker.mark("every manager started");
    for m in chaos.managers() {
        chaos.wait_applied(m, &revision, CONVERGE);
    }
    for w in chaos.workers() {
        // Connected once at start, and again to the restarted managers.
        wait_connected(&chaos, chaos.name(w), 2);
        wait_ready(&chaos.cluster, chaos.name(w));
    }
    chaos.wait_converged(&revision, CONVERGE);
    std::thread::sleep(Duration::from_secs(3));
    checker.mark("compared");

    assert_eq!(
        started(&chaos),
        before,
        "containers changed across the restart"
    );
    assert_eq!(wanted_tasks(&chaos), tasks_before, "tasks changed");
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}
