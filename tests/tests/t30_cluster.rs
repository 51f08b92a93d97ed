//! Three managers (and a worker) as real processes on 127.0.0.1–4: joining, failover after
//! kill -9, loss of quorum, recovery, a full restart, and a corrupted store.

use std::time::Duration;

use tests::cluster::Cluster;
use tests::wait_until;

const LONG: Duration = Duration::from_secs(30);

/// `node update <node> --label-add k=v` asked of `via`; `Ok` once it is committed.
fn label(cluster: &Cluster, via: usize, node: &str, kv: &str) -> Result<(), String> {
    let run = cluster.cli(via, &["node", "update", node, "--label-add", kv]);
    if run.code == 0 {
        Ok(())
    } else {
        Err(run.stderr)
    }
}

/// The labels of `node` as `via` sees them.
fn labels_of(cluster: &Cluster, via: usize, node: &str) -> serde_json::Value {
    let nodes = cluster.node_ls(via).expect("node ls");
    nodes
        .into_iter()
        .find(|n| n["description"]["hostname"] == node)
        .map(|n| n["spec"]["labels"].clone())
        .unwrap_or_default()
}

fn three_managers(cluster: &mut Cluster) {
    let m1 = cluster.init("m1", "127.0.0.1");
    let token = cluster.token(m1, "manager");
    cluster.join("m2", "127.0.0.2", &token, m1);
    cluster.join("m3", "127.0.0.3", &token, m1);
    wait_until(LONG, "three voting managers", || {
        let nodes = cluster.node_ls(m1)?;
        let reachable = nodes
            .iter()
            .filter(|n| matches!(n["manager_status"].as_str(), Some("leader" | "reachable")))
            .count();
        (reachable == 3)
            .then_some(())
            .ok_or_else(|| format!("{nodes:?}"))
    });
}

#[test]
fn managers_fail_over_lose_quorum_recover_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    three_managers(&mut cluster);

    // A committed write, then the leader dies.
    label(&cluster, 0, "m1", "before=crash").expect("write with three managers");
    let old_leader = cluster.leader(0).expect("leader");
    let dead = cluster.index_of(&old_leader);
    cluster.kill(dead);
    let survivor = (0..3).find(|i| *i != dead).expect("a survivor");
    let new_leader = wait_until(LONG, "a new leader", || {
        let leader = cluster.leader(survivor)?;
        if leader != old_leader {
            Ok(leader)
        } else {
            Err(leader)
        }
    });
    wait_until(LONG, "a write after failover", || {
        label(&cluster, survivor, &new_leader, "after=failover")
    });
    assert_eq!(
        labels_of(&cluster, survivor, "m1")["before"],
        "crash",
        "the write committed before the crash survives it"
    );

    // Two of three down: writes are refused with a clear message, reads still answer.
    let second = (0..3)
        .find(|i| *i != dead && *i != survivor)
        .expect("third");
    cluster.kill(second);
    let last = survivor;
    let refused = cluster.cli(last, &["node", "update", "m1", "--label-add", "x=y"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("no quorum"), "{}", refused.stderr);
    let read = wait_until(LONG, "a read marked possibly stale", || {
        let run = cluster.cli(last, &["node", "ls"]);
        if run.code == 0 && run.stderr.contains("may be stale") {
            Ok(run)
        } else {
            Err(format!("{run:?}"))
        }
    });
    assert!(read.stdout.contains("m1"), "{}", read.stdout);

    // The dead come back and the cluster heals by itself.
    cluster.restart(dead);
    cluster.restart(second);
    wait_until(LONG, "writes after recovery", || {
        label(&cluster, last, "m2", "healed=yes")
    });

    // Full restart: every manager stops, then all start again from disk.
    let term_before = status_term(&cluster, 0);
    for i in 0..3 {
        assert_eq!(
            cluster.stop(i),
            Some(0),
            "clean exit of {}",
            cluster.nodes[i].name
        );
    }
    for i in 0..3 {
        cluster.restart(i);
    }
    wait_until(LONG, "writes after a full restart", || {
        label(&cluster, 0, "m3", "restarted=yes")
    });
    let labels = labels_of(&cluster, 1, "m1");
    assert_eq!(labels["before"], "crash", "{labels}");
    assert_eq!(labels_of(&cluster, 1, "m2")["healed"], "yes");
    let term_after = status_term(&cluster, 0);
    assert!(
        term_after >= term_before,
        "terms never move backwards: {term_before} → {term_after}"
    );

    // A manager whose store is damaged refuses to start instead of joining with wrong state.
    cluster.stop(2);
    let store = cluster.nodes[2].data.join("raft.redb");
    corrupt(&store);
    cluster.restart(2);
    let process = cluster.nodes[2].process.as_mut().expect("process");
    let code = process.wait_exit(LONG);
    assert_eq!(code, Some(2), "a corrupt store stops start-up");
    let log = cluster.nodes[2].log();
    assert!(log.contains("corrupt"), "{log}");
    assert!(log.contains("raft.redb"), "{log}");
}

fn status_term(cluster: &Cluster, via: usize) -> u64 {
    wait_until(LONG, "cluster status", || {
        let run = cluster.cli(via, &["status", "--json"]);
        let json: serde_json::Value =
            serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {run:?}"))?;
        json["cluster"]["term"]
            .as_u64()
            .ok_or_else(|| format!("{json}"))
    })
}

/// Overwrites a stretch in the middle of the file, where redb keeps its pages.
fn corrupt(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).expect("read store");
    let len = bytes.len();
    assert!(len > 8192, "store too small to corrupt: {len}");
    for b in &mut bytes[..4096] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).expect("write store");
}

#[test]
fn joining_needs_the_right_token_and_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    let worker_token = cluster.token(m1, "worker");

    // Another cluster's token names another CA: the joiner refuses this manager.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let mut other = Cluster::new(other_dir.path());
    let o1 = other.init("o1", "127.0.0.1");
    let foreign = other.token(o1, "worker");
    let addr = cluster.nodes[m1].addr.clone();
    let join = |token: &str, extra: &[&str]| {
        let data = dir.path().join("joiner");
        let mut args = vec![
            "join",
            &addr,
            "--token",
            token,
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--listen-addr",
            "127.0.0.9:0",
        ];
        args.extend_from_slice(extra);
        tests::reconciler(dir.path(), &args)
    };
    let refused = join(&foreign, &[]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("CA does not match"),
        "{}",
        refused.stderr
    );

    // A typo is caught by the checksum before dialling.
    let mut typo = worker_token.clone();
    let last = typo.pop().expect("char");
    typo.push(if last == '0' { '1' } else { '0' });
    let refused = join(&typo, &[]);
    assert!(refused.stderr.contains("typo"), "{}", refused.stderr);

    // The role asked for must be the token's.
    let refused = join(&worker_token, &["--role", "manager"]);
    assert!(
        refused.stderr.contains("worker token"),
        "{}",
        refused.stderr
    );

    // A rotated token stops working at once.
    let rotate = cluster.cli(m1, &["token", "rotate", "worker", "-q"]);
    assert_eq!(rotate.code, 0, "{}", rotate.stderr);
    let refused = join(&worker_token, &[]);
    assert!(refused.stderr.contains("rotated"), "{}", refused.stderr);
    assert!(!dir.path().join("joiner/node.json").exists());

    // The new token works; the worker heartbeats, then goes down when killed.
    let fresh = rotate.stdout.trim().to_owned();
    let w1 = cluster.join("w1", "127.0.0.4", &fresh, m1);
    let table = cluster.cli(m1, &["node", "ls"]);
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains("MANAGER STATUS"), "{}", table.stdout);
    cluster.kill(w1);
    wait_until(LONG, "the worker marked down", || {
        let nodes = cluster.node_ls(m1)?;
        let w = nodes
            .iter()
            .find(|n| n["description"]["hostname"] == "w1")
            .ok_or("w1 missing")?;
        (w["status"]["state"] == "down")
            .then_some(())
            .ok_or_else(|| format!("{w}"))
    });
    // A node that is down can be removed; the last manager cannot be demoted.
    let rm = cluster.cli(m1, &["node", "rm", "w1"]);
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    let demote = cluster.cli(m1, &["node", "demote", "m1"]);
    assert_eq!(demote.code, 2);
    assert!(demote.stderr.contains("last manager"), "{}", demote.stderr);
}
