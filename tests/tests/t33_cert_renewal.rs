//! Certificate renewal with real processes: with 30-second certificates, a manager and a worker
//! each renew theirs two thirds of the way in, in place, and keep working once the first
//! certificates have expired — across a restart of the manager, which makes the worker open new
//! connections with whatever certificate it now holds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tests::cluster::Cluster;
use tests::wait_until;

const VALIDITY_S: u64 = 30;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn node_pem(cluster: &Cluster, index: usize) -> String {
    std::fs::read_to_string(cluster.nodes[index].data.join("pki/node.pem")).expect("node.pem")
}

#[test]
fn nodes_renew_their_certificates_in_place_and_outlive_the_first_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    cluster.init_args = vec!["--cert-expiry".into(), format!("{VALIDITY_S}s")];
    let started_ms = now_ms();
    let m1 = cluster.init("m1", "127.0.0.1");
    let token = cluster.token(m1, "worker");
    let w1 = cluster.join("w1", "127.0.0.2", &token, m1);
    let (first_m1, first_w1) = (node_pem(&cluster, m1), node_pem(&cluster, w1));
    let renewed = wait_until(
        Duration::from_secs(VALIDITY_S),
        "both nodes to renew their certificates",
        || {
            let (now_m1, now_w1) = (node_pem(&cluster, m1), node_pem(&cluster, w1));
            // The file is written just before the new certificate is put in force and logged.
            let logged = [m1, w1].iter().all(|&i| {
                cluster.nodes[i]
                    .log()
                    .contains("renewed the node certificate")
            });
            (now_m1 != first_m1 && now_w1 != first_w1 && logged)
                .then_some(now_ms())
                .ok_or_else(|| format!("{}\n{}", cluster.nodes[m1].log(), cluster.nodes[w1].log()))
        },
    );
    let renewed_after_s = (renewed - started_ms) as f64 / 1000.0;
    assert!(
        renewed_after_s >= VALIDITY_S as f64 * 0.6,
        "renewed after {renewed_after_s:.1}s, before two thirds of {VALIDITY_S}s"
    );
    // Past the end of every first certificate (issued just before `started_ms` at the latest
    // plus the join).
    let first_end_ms = started_ms + (VALIDITY_S + 5) * 1000;
    std::thread::sleep(Duration::from_millis(first_end_ms.saturating_sub(now_ms())));
    // A new CLI connection checks the manager's server certificate now in force.
    let nodes = cluster
        .node_ls(m1)
        .expect("node ls with renewed certificates");
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    cluster.stop(m1);
    cluster.restart(m1);
    wait_until(
        Duration::from_secs(20),
        "the restarted manager to answer",
        || cluster.node_ls(m1),
    );
    // A restarted leader marks a node down once it stays silent past the grace period and the
    // heartbeat timeout (3 s + 3 s here): a worker still presenting its first, expired
    // certificate could not open a connection to the restarted manager, and would be down.
    std::thread::sleep(Duration::from_secs(9));
    let nodes = cluster.node_ls(m1).expect("node ls");
    let w1_state = (nodes.iter())
        .find(|n| n["description"]["hostname"] == "w1")
        .map(|n| n["status"]["state"].clone());
    assert_eq!(
        w1_state,
        Some(serde_json::json!("ready")),
        "{nodes:?}\n{}",
        cluster.nodes[w1].log()
    );
}
