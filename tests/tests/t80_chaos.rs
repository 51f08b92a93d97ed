//! Chaos: faults injected into a six-node cluster (three managers, three agent-only workers on
//! 127.0.0.1–6) running a stack on the real engine, while a checker samples the invariants
//! every 100 ms (tests/src/chaos). Each scenario is one test, bounded in time; they run one at
//! a time (the harness serialises them).
//!
//! 1. The leader killed mid rolling update: the update completes (or pauses and says why), no
//!    slot doubled, no revision lost.
//! 2. An agent frozen for 10 s: its tasks move; thawed, its superseded containers stop.
//! 5. An agent with 20 running containers restarts: no container restarts.
//! 3. The leader partitioned for 10 s: the majority elects another and applies a new revision;
//!    a write through the old leader fails with "no quorum"; healed, it catches up.
//! 4. Every manager stops and starts: same state, the workers' containers untouched.
//! 6. Bad commits (YAML, schema, unknown image, port clash, no stacks): rejected or reported
//!    with their location or reason; what runs is untouched.
//! 7. Hostile requests at the webhook and the mutual-TLS endpoint: clean 4xx, no secret in any
//!    log, no change (needs no engine).
//! 8. A manager's data directory on a full disk: writes fail saying so, the manager stops
//!    instead of serving a dead store, and after freeing space it restarts with everything it
//!    acknowledged (needs root for a tmpfs, no engine).

use std::time::{Duration, Instant};

use tests::chaos::hostile::{tls_attacks, webhook_attacks};
use tests::chaos::{Bounds, Chaos, Checker, Options, cli, start_or_skip};
use tests::cluster::free_port;
use tests::{GitRepo, Process, reconciler, status_json, wait_until};

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

/// Commits `yaml`, waits until it is applied and converged with `count` containers running.
fn deploy(chaos: &Chaos, yaml: &str, count: usize, message: &str) -> String {
    let revision = chaos.commit_stack(yaml, message);
    chaos.wait_converged(&revision, CONVERGE);
    chaos.wait_running(count, CONVERGE);
    revision
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
    let on_victim = chaos.per_node().get(&name).copied().unwrap_or(0);
    assert!(on_victim > 0, "no task on {name}: {:?}", chaos.per_node());
    let label = format!("SIGSTOP {name}");
    checker.fault(&label);
    let frozen = chaos.freeze(victim);
    let froze = Instant::now();
    wait_until(
        CONVERGE,
        "the frozen agent's tasks to run elsewhere",
        || {
            let counts = chaos.per_node();
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
            let counts = chaos.per_node();
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
    let before = chaos.started();
    let tasks_before = chaos.wanted_tasks();

    let w1 = chaos.cluster.index_of("w1");
    checker.mark("kill -9 w1");
    chaos.kill9(w1);
    chaos.restart(w1);
    checker.mark("w1 started again");
    chaos.wait_ready("w1", CONVERGE);
    // The restarted agent has its full assignment set once its session is up; give it time to
    // act on it (adopt, or wrongly restart) before comparing.
    chaos.wait_connected("w1", 1, CONVERGE);
    std::thread::sleep(Duration::from_secs(3));
    checker.mark("compared");

    assert_eq!(
        chaos.started(),
        before,
        "containers were restarted or replaced across the agent's restart"
    );
    assert_eq!(chaos.wanted_tasks(), tasks_before, "tasks changed");
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

#[test]
fn s4_every_manager_stops_and_starts_with_the_same_state_and_untouched_containers() {
    let test = "s4_every_manager_stops_and_starts_with_the_same_state_and_untouched_containers";
    let Some(mut chaos) = start_or_skip(test, "cz4", Options::default()) else {
        return;
    };
    let revision = deploy(&chaos, &web("1", 6), 6, "six replicas");
    let checker = Checker::start(&chaos, Bounds::default());
    let before = chaos.started();
    let tasks_before = chaos.wanted_tasks();

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
            chaos.started(),
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
        chaos.wait_connected(chaos.name(w), 2, CONVERGE);
        chaos.wait_ready(chaos.name(w), CONVERGE);
    }
    chaos.wait_converged(&revision, CONVERGE);
    std::thread::sleep(Duration::from_secs(3));
    checker.mark("compared");

    assert_eq!(
        chaos.started(),
        before,
        "containers changed across the restart"
    );
    assert_eq!(chaos.wanted_tasks(), tasks_before, "tasks changed");
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

/// Waits until the newest revision `revision` is reported rejected; returns the rejection.
fn wait_rejected(chaos: &Chaos, revision: &str) -> serde_json::Value {
    wait_until(CONVERGE, &format!("{revision:.7} rejected"), || {
        let via = chaos.live_manager()?;
        let status = cli::status(&chaos.data(via))?;
        let rejected = &status["rejected"];
        (rejected["revision"]["id"] == revision)
            .then(|| rejected.clone())
            .ok_or_else(|| {
                format!(
                    "rejected {rejected}, applied {:?}",
                    cli::applied_revision(&status)
                )
            })
    })
}

/// Asserts that the rejection names the stack file with a line and column, for `rule`.
fn assert_located(rejection: &serde_json::Value, file: &str, rule: &str) {
    let findings = rejection["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = findings.iter().find(|f| f["rule"] == rule);
    let Some(f) = found else {
        panic!("no {rule} finding in {rejection}");
    };
    assert!(f["file"].as_str().is_some_and(|p| p.ends_with(file)), "{f}");
    assert!(f["line"].as_u64().is_some_and(|l| l >= 1), "{f}");
    assert!(f["column"].as_u64().is_some_and(|c| c >= 1), "{f}");
}

/// Asserts the applied revision is still `good` and `web`'s containers are the same.
fn assert_untouched(chaos: &Chaos, good: &str, before: &[(String, String)]) {
    let via = chaos.live_manager().expect("a manager answers");
    let status = cli::status(&chaos.data(via)).expect("status");
    assert_eq!(cli::applied_revision(&status), Some(good), "{status}");
    let web: Vec<(String, String)> = chaos
        .started()
        .into_iter()
        .filter(|(id, _)| before.iter().any(|(b, _)| b == id))
        .collect();
    assert_eq!(web, before, "the running service's containers changed");
}

/// `web` plus a second service `extra` (YAML of its body, indented four spaces).
fn web_and(extra: &str) -> String {
    format!("{}  extra:\n{extra}", web("1", 3))
}

#[test]
fn s6_bad_commits_are_rejected_with_their_location_and_touch_nothing_running() {
    let test = "s6_bad_commits_are_rejected_with_their_location_and_touch_nothing_running";
    let Some(chaos) = start_or_skip(test, "cz6", Options::default()) else {
        return;
    };
    let good = deploy(&chaos, &web("1", 3), 3, "three replicas");
    let checker = Checker::start(&chaos, Bounds::default());
    let before = chaos.started();
    let file = format!("{}/compose.yaml", chaos.stack);

    // Broken YAML: rejected at the line and column of the error.
    checker.mark("commit: YAML syntax error");
    let broken = chaos.commit_stack("services:\n  web:\n    image: [unclosed\n", "broken yaml");
    let rejection = wait_rejected(&chaos, &broken);
    assert_located(&rejection, &file, "yaml-syntax");
    assert_untouched(&chaos, &good, &before);
    let human = chaos.cluster.cli(0, &["status"]);
    assert_eq!(
        human.code, 1,
        "status exits 1 on a rejected revision: {human:?}"
    );
    assert!(human.stdout.contains(&file), "{}", human.stdout);

    // Valid YAML, invalid stack: a string where a count belongs.
    checker.mark("commit: schema-invalid");
    let invalid = chaos.commit_stack(
        &web("1", 3).replace("replicas: 3", "replicas: many"),
        "schema-invalid",
    );
    let rejection = wait_rejected(&chaos, &invalid);
    assert_located(&rejection, &file, "wrong-type");
    assert_untouched(&chaos, &good, &before);

    // An image the engine does not have and cannot pull: applied, its tasks rejected with the
    // engine's message.
    checker.mark("commit: unknown image");
    let ghost = web_and(
        "    image: reconciler-test/echo:missing\n    deploy:\n      replicas: 1\n      restart_policy:\n        condition: none\n",
    );
    let unknown = chaos.commit_stack(&ghost, "unknown image");
    chaos.wait_applied(chaos.live_manager().expect("manager"), &unknown, CONVERGE);
    let service = format!("{}_extra", chaos.stack);
    let error = wait_until(CONVERGE, "the unknown image's task rejected", || {
        let via = chaos.live_manager()?;
        let tasks = cli::service_tasks(&chaos.data(via), &service)?;
        tasks
            .iter()
            .find(|t| t["status"]["state"] == "rejected")
            .and_then(|t| t["status"]["error"].as_str().map(str::to_owned))
            .ok_or_else(|| format!("{tasks:?}"))
    });
    eprintln!("unknown image: {error}");
    assert!(error.contains("reconciler-test/echo:missing"), "{error}");
    let table = chaos
        .cluster
        .cli(0, &["service", "ps", &service, "--no-trunc"]);
    assert!(table.stdout.contains("Rejected"), "{}", table.stdout);
    assert!(table.stdout.contains(&error), "{}", table.stdout);
    let good = unknown;
    assert_untouched(&chaos, &good, &before);

    // Four replicas of a host-mode port on three workers: one stays pending, saying why.
    checker.mark("commit: port clash");
    let port = tests::cluster::free_port();
    let clash = web_and(&format!(
        "    image: reconciler-test/echo:1\n    command: [\"serve\", \"--listen\", \"0.0.0.0:8080\"]\n    stop_grace_period: 1s\n    ports:\n      - {{target: 8080, published: {port}, mode: host}}\n    deploy:\n      replicas: 4\n"
    ));
    let clashing = chaos.commit_stack(&clash, "port clash");
    chaos.wait_applied(0, &clashing, CONVERGE);
    let reason = wait_until(
        CONVERGE,
        "a pending task with the scheduler's reason",
        || {
            let via = chaos.live_manager()?;
            let tasks = cli::service_tasks(&chaos.data(via), &service)?;
            let running = tasks
                .iter()
                .filter(|t| t["desired_state"] == "running" && t["status"]["state"] == "running")
                .count();
            let pending = tasks.iter().find(|t| t["status"]["state"] == "pending");
            match pending.and_then(|t| {
                t["status"]["message"]
                    .as_str()
                    .or(t["status"]["error"].as_str())
            }) {
                Some(reason) if running == 3 => Ok(reason.to_owned()),
                _ => Err(format!("{running} running; {tasks:?}")),
            }
        },
    );
    eprintln!("port clash: {reason}");
    assert!(reason.contains("port"), "{reason}");
    let good = clashing;
    assert_untouched(&chaos, &good, &before);

    // A tree without stacks would prune everything: refused. (A note keeps the directory: Git
    // holds no empty directories.)
    checker.mark("commit: no stacks");
    chaos.repo.remove("stacks");
    chaos.repo.write("stacks/README.md", "Stacks live here.\n");
    let empty = chaos.push("remove every stack");
    let rejection = wait_rejected(&chaos, &empty);
    assert_eq!(rejection["reason"], "empty_desired_state", "{rejection}");
    assert_untouched(&chaos, &good, &before);
    wait_until(
        CONVERGE,
        "the extra service's three tasks to keep running",
        || {
            let up = chaos.running().len();
            (up == 6)
                .then_some(())
                .ok_or_else(|| format!("{up} running"))
        },
    );

    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

#[test]
fn s1_the_leader_dies_mid_rolling_update_and_the_update_finishes_truthfully() {
    let test = "s1_the_leader_dies_mid_rolling_update_and_the_update_finishes_truthfully";
    let Some(mut chaos) = start_or_skip(test, "cz1", Options::default()) else {
        return;
    };
    deploy(&chaos, &web("1", 6), 6, "six replicas of :1");
    // Stop-first: no slot may ever run two containers, update or not.
    let checker = Checker::start(&chaos, Bounds::default());

    checker.mark("commit: :1 -> :2");
    let update = chaos.commit_stack(&web("2", 6), "rolling update to :2");
    wait_until(CONVERGE, "the update to be half way", || {
        let up = chaos.running();
        let new = up.iter().filter(|c| c.image.ends_with(":2")).count();
        let old = up.iter().filter(|c| c.image.ends_with(":1")).count();
        (new >= 1 && old >= 2)
            .then_some(())
            .ok_or_else(|| format!("{new} on :2, {old} on :1"))
    });
    let leader = chaos.leader().expect("a leader");
    let old_leader = chaos.name(leader).to_owned();
    checker.mark(&format!("kill -9 the leader {old_leader}"));
    chaos.kill9(leader);
    let killed = Instant::now();

    let survivor = chaos.managers().find(|m| *m != leader).expect("a survivor");
    let new_leader = wait_until(CONVERGE, "a new leader", || {
        let l = chaos.cluster.leader(survivor)?;
        (l != old_leader).then_some(l.clone()).ok_or(l)
    });
    eprintln!("{new_leader} leads {:?} after the kill", killed.elapsed());
    checker.mark(&format!("{new_leader} leads"));

    // The update completes, or stops and says why; either way the service says where it is.
    let service = format!("{}_web", chaos.stack);
    let state = wait_until(CONVERGE, "the update to finish or pause", || {
        let services = cli::services(&chaos.data(survivor))?;
        let s = services
            .iter()
            .find(|s| s["spec"]["name"] == service.as_str())
            .ok_or("no web")?;
        match s["update"]["state"].as_str() {
            Some(done @ ("completed" | "paused")) => Ok((done.to_owned(), s["update"].clone())),
            other => Err(format!("{other:?}: {}", s["update"])),
        }
    });
    eprintln!(
        "update {} {:?} after the kill: {}",
        state.0,
        killed.elapsed(),
        state.1
    );
    match state.0.as_str() {
        "completed" => wait_until(CONVERGE, "six replicas of :2", || {
            let up = chaos.running();
            let new = up.iter().filter(|c| c.image.ends_with(":2")).count();
            (up.len() == 6 && new == 6)
                .then_some(())
                .ok_or_else(|| format!("{} running, {new} on :2", up.len()))
        }),
        _ => assert!(
            !state.1["message"].as_str().unwrap_or_default().is_empty(),
            "a paused update says why: {}",
            state.1
        ),
    }

    // The old leader returns and catches up; nothing committed was lost.
    chaos.restart(leader);
    checker.mark(&format!("{old_leader} restarted"));
    for m in chaos.managers() {
        chaos.wait_applied(m, &update, CONVERGE);
    }
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

#[test]
fn s3_a_partitioned_leader_accepts_no_writes_and_catches_up_after_healing() {
    let test = "s3_a_partitioned_leader_accepts_no_writes_and_catches_up_after_healing";
    let options = Options {
        partitions: true,
        ..Options::default()
    };
    let Some(chaos) = start_or_skip(test, "cz3", options) else {
        return;
    };
    deploy(&chaos, &web("1", 6), 6, "six replicas");
    let checker = Checker::start(&chaos, Bounds::default());

    let minority = chaos.leader().expect("a leader");
    let old_leader = chaos.name(minority).to_owned();
    let majority = chaos
        .managers()
        .find(|m| *m != minority)
        .expect("another manager");
    let label_fault = format!("partition {old_leader}");
    checker.mark(&label_fault);
    chaos.partition(minority).expect("partition");
    let cut = Instant::now();

    // The majority elects a leader and goes on: a write and a new revision commit there.
    let new_leader = wait_until(CONVERGE, "a leader on the majority side", || {
        let l = chaos.cluster.leader(majority)?;
        (l != old_leader).then_some(l.clone()).ok_or(l)
    });
    eprintln!("{new_leader} leads {:?} after the partition", cut.elapsed());
    checker.mark(&format!("{new_leader} leads the majority"));
    let scaled = chaos.commit_stack(&web("1", 7), "seven replicas, during the partition");
    chaos.wait_applied(majority, &scaled, CONVERGE);
    wait_until(CONVERGE, "the seventh replica", || {
        let up = chaos.running().len();
        (up == 7)
            .then_some(())
            .ok_or_else(|| format!("{up} running"))
    });
    let written = chaos.label(majority, "w1", "side=majority");
    assert_eq!(written.code, 0, "a write through the majority: {written:?}");

    // The minority accepts no write, and says why.
    checker.mark(&format!("write through {old_leader}"));
    let refused = chaos.label(minority, "w2", "side=minority");
    eprintln!(
        "write through the minority: exit {} {}",
        refused.code,
        refused.stderr.trim()
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("no quorum"), "{}", refused.stderr);
    let status = cli::status(&chaos.data(minority)).expect("the minority answers reads");
    assert_ne!(
        cli::applied_revision(&status),
        Some(scaled.as_str()),
        "the minority cannot know the majority's revision"
    );

    if let Some(rest) = Duration::from_secs(10).checked_sub(cut.elapsed()) {
        std::thread::sleep(rest);
    }
    chaos.heal().expect("heal");
    checker.mark(&format!("healed {old_leader}"));
    let healed = Instant::now();

    // It catches up: the revision, the write, and not the refused write.
    chaos.wait_applied(minority, &scaled, CONVERGE);
    eprintln!(
        "{old_leader} caught up {:?} after healing",
        healed.elapsed()
    );
    wait_until(CONVERGE, "the majority's write on the old leader", || {
        let labels = chaos.labels_of(minority, "w1");
        (labels["side"] == "majority")
            .then_some(())
            .ok_or_else(|| labels.to_string())
    });
    for m in chaos.managers() {
        let labels = chaos.labels_of(m, "w2");
        assert!(labels.get("side").is_none(), "{}: {labels}", chaos.name(m));
    }
    wait_until(CONVERGE, "writes through the old leader again", || {
        let run = chaos.label(minority, "w3", "side=healed");
        (run.code == 0).then_some(()).ok_or(run.stderr)
    });
    chaos.assert_agreement(CONVERGE);
    checker.finish();
}

/// The webhook secret of scenario 7.
const SECRET: &str = "chaos-webhook-secret-0f9e8d7c";

/// What hostile requests must not change: the applied revision, the nodes, the tokens.
fn snapshot(dir: &std::path::Path, data: &std::path::Path) -> (String, String, String, String) {
    let d = data.to_string_lossy();
    let status = status_json(dir, data).expect("status");
    let nodes = reconciler(dir, &["node", "ls", "--format", "json", "--data-dir", &d]);
    let mut nodes: Vec<serde_json::Value> =
        serde_json::from_str(&nodes.stdout).expect("node ls json");
    nodes.sort_by_key(|n| n["meta"]["id"].as_str().unwrap_or_default().to_owned());
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| {
            format!(
                "{} {} {}",
                n["meta"]["id"], n["spec"], n["description"]["hostname"]
            )
        })
        .collect();
    let token = |role: &str| {
        reconciler(dir, &["token", "show", role, "-q", "--data-dir", &d])
            .stdout
            .trim()
            .to_owned()
    };
    (
        status["applied"]["revision"]["id"].to_string(),
        ids.join("\n"),
        token("worker"),
        token("manager"),
    )
}

/// Needs no engine: no container runs.
#[test]
fn s7_hostile_requests_get_clean_4xx_leak_nothing_and_change_nothing() {
    let test = "s7_hostile_requests_get_clean_4xx_leak_nothing_and_change_nothing";
    let curl = std::process::Command::new("curl").arg("--version").output();
    let curl = match curl {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Err(e.to_string()),
    };
    if !tests::chaos::privileged_or_skip(test, "curl", curl) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/app.yml", "services:\n  web:\n    image: nginx:1\n");
    let first = repo.commit_and_push("first");
    let port = free_port();
    let hook = format!("127.0.0.1:{}", free_port());
    let addr = format!("127.0.0.1:{port}");
    let data = dir.path().join("m1");
    let bare = repo.bare.to_string_lossy().into_owned();
    let manager = Process::start_with_env(
        dir.path(),
        "m1",
        &[
            "--repo",
            &bare,
            "--path",
            "stacks",
            "--data-dir",
            &data.to_string_lossy(),
            "--listen-addr",
            &addr,
            "--webhook-listen",
            &hook,
            "--interval",
            "1h",
        ],
        &[("RECONCILER_WEBHOOK_SECRET", SECRET)],
    );
    wait_until(CONVERGE, "the first revision", || {
        let s = status_json(dir.path(), &data)?;
        (s["applied"]["revision"]["id"] == first.as_str())
            .then_some(())
            .ok_or_else(|| s.to_string())
    });
    // A worker, for its certificate.
    let worker_token = reconciler(
        dir.path(),
        &[
            "token",
            "show",
            "worker",
            "-q",
            "--data-dir",
            &data.to_string_lossy(),
        ],
    )
    .stdout
    .trim()
    .to_owned();
    let worker_data = dir.path().join("w1");
    let worker = Process::start(
        dir.path(),
        "w1",
        &[
            "join",
            &addr,
            "--token",
            &worker_token,
            "--data-dir",
            &worker_data.to_string_lossy(),
            "--listen-addr",
            &format!("127.0.0.7:{port}"),
            "--hostname",
            "w1",
        ],
    );
    wait_until(CONVERGE, "the worker's identity", || {
        worker_data
            .join("node.json")
            .exists()
            .then_some(())
            .ok_or_else(|| worker.log_text())
    });
    // Rotate once so that an old, once valid token exists.
    let d = data.to_string_lossy().into_owned();
    let old_manager_token = reconciler(
        dir.path(),
        &["token", "show", "manager", "-q", "--data-dir", &d],
    )
    .stdout
    .trim()
    .to_owned();
    let rotated = reconciler(
        dir.path(),
        &["token", "rotate", "manager", "-q", "--data-dir", &d],
    );
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    let before = snapshot(dir.path(), &data);

    webhook_attacks(&hook, SECRET);
    tls_attacks(&addr, &worker_token, &old_manager_token);

    // A worker's certificate does not open the admin API.
    let as_worker = reconciler(
        dir.path(),
        &[
            "node",
            "ls",
            "--data-dir",
            &worker_data.to_string_lossy(),
            "--host",
            &addr,
        ],
    );
    assert_eq!(as_worker.code, 2, "{as_worker:?}");
    assert!(as_worker.stderr.contains("worker"), "{}", as_worker.stderr);

    // Still up, and nothing changed.
    assert!(
        status_json(dir.path(), &data).is_ok(),
        "{}",
        manager.log_text()
    );
    assert_eq!(snapshot(dir.path(), &data), before, "state changed");

    // Nothing secret in any log: not the webhook secret, not a token or its secret part.
    let logs = format!("{}{}", manager.log_text(), worker.log_text());
    let secret_of = |token: &str| token.split('-').nth(4).unwrap_or(token).to_owned();
    for secret in [
        SECRET.to_owned(),
        worker_token.clone(),
        secret_of(&worker_token),
        before.2.clone(),
        secret_of(&before.2),
        before.3.clone(),
        secret_of(&before.3),
        old_manager_token.clone(),
        secret_of(&old_manager_token),
    ] {
        assert!(
            !logs.contains(&secret),
            "a log shows a secret ({secret:.12}…)"
        );
    }
    // A hostname cannot forge log lines.
    assert!(
        !logs.lines().any(|l| l.starts_with("FORGED")),
        "a join request's hostname wrote its own log line:\n{logs}"
    );
}

/// `node update HOST --label-add k=v` on the manager with data directory `data`.
fn label_local(dir: &std::path::Path, data: &std::path::Path, host: &str, kv: &str) -> tests::Run {
    let data = data.to_string_lossy();
    reconciler(
        dir,
        &[
            "node",
            "update",
            host,
            "--label-add",
            kv,
            "--data-dir",
            &data,
        ],
    )
}

/// Needs root (a tmpfs mount) and no engine.
#[test]
fn s8_a_full_disk_is_an_error_not_corruption_and_the_state_survives_it() {
    let test = "s8_a_full_disk_is_an_error_not_corruption_and_the_state_survives_it";
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("m1");
    let disk = match tests::chaos::disk::Tmpfs::mount(&data, "32m") {
        Ok(disk) => disk,
        Err(why) => {
            tests::chaos::privileged_or_skip(test, "a tmpfs mount", Err(why));
            return;
        }
    };
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/app.yml", "services:\n  web:\n    image: nginx:1\n");
    let first = repo.commit_and_push("first");
    let bare = repo.bare.to_string_lossy().into_owned();
    let args = [
        "--repo",
        &bare,
        "--path",
        "stacks",
        "--data-dir",
        &data.to_string_lossy(),
        "--hostname",
        "m1",
        "--interval",
        "1h",
    ];
    let mut manager = Process::start(dir.path(), "m1", &args);
    wait_until(CONVERGE, "the first revision", || {
        let s = status_json(dir.path(), &data)?;
        (s["applied"]["revision"]["id"] == first.as_str())
            .then_some(())
            .ok_or_else(|| s.to_string())
    });
    let written = label_local(dir.path(), &data, "m1", "before=full");
    assert_eq!(written.code, 0, "{written:?}");

    // Fill the disk, then write until the store needs a page it cannot get: the write fails
    // with the reason, and the manager stops rather than serve a dead store.
    let filled = disk.fill().expect("fill the disk");
    eprintln!("filled {filled} bytes; {:?} left", disk.available());
    let value = "x".repeat(2000);
    let mut accepted = Vec::new();
    let refused = (0..200)
        .map(|i| {
            (
                i,
                label_local(dir.path(), &data, "m1", &format!("k{i}={value}")),
            )
        })
        .find_map(|(i, run)| {
            if run.code == 0 {
                accepted.push(format!("k{i}"));
                None
            } else {
                Some(run)
            }
        })
        .expect("a write fails on a full disk");
    eprintln!(
        "{} writes accepted, then: {}",
        accepted.len(),
        refused.stderr.trim()
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("No space left on device"),
        "{}",
        refused.stderr
    );
    let code = manager.wait_exit(CONVERGE);
    let log = manager.log_text();
    assert_eq!(code, Some(2), "the manager stops on a dead store: {log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: the replicated store stopped") && last.contains("raft.redb"),
        "{last}"
    );

    // Space freed, the same data directory starts again with everything acknowledged.
    disk.free().expect("free the disk");
    let manager = Process::start(dir.path(), "m1-restart", &args);
    let labels = wait_until(CONVERGE, "the restarted manager", || {
        let run = reconciler(
            dir.path(),
            &[
                "node",
                "ls",
                "--format",
                "json",
                "--data-dir",
                &data.to_string_lossy(),
            ],
        );
        let nodes: Vec<serde_json::Value> =
            serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {run:?}"))?;
        nodes
            .first()
            .map(|n| n["spec"]["labels"].clone())
            .ok_or_else(|| format!("{run:?}"))
    });
    assert_eq!(labels["before"], "full", "{labels}");
    for key in &accepted {
        assert_eq!(
            labels[key.as_str()],
            value.as_str(),
            "{key} was acknowledged, then lost"
        );
    }
    let status = status_json(dir.path(), &data).expect("status");
    assert_eq!(
        status["applied"]["revision"]["id"],
        first.as_str(),
        "{status}"
    );
    let written = label_local(dir.path(), &data, "m1", "after=restart");
    assert_eq!(written.code, 0, "{written:?}\n{}", manager.log_text());
}
