//! Leader failover time with three managers on loopback (issue #4): kill -9 the leader, then
//! time until a surviving manager commits a write again. Real processes, real Raft over mutual
//! TLS, 20 trials; the killed manager is restarted and rejoins between trials.
//!
//! Run: `cargo build --release -p controller && cargo bench -p tests --bench failover`
//! (`FAILOVER_TRIALS=5` for a quick run).

use std::time::{Duration, Instant};

use controller::cli::client::ApiClient;
use controller::raft::command::NodeUpdate;
use tests::cluster::Cluster;
use tests::wait_until;

const LONG: Duration = Duration::from_secs(60);

fn main() {
    let trials = tests::env_usize("FAILOVER_TRIALS", 20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    let token = cluster.token(m1, "manager");
    cluster.join("m2", "127.0.0.2", &token, m1);
    cluster.join("m3", "127.0.0.3", &token, m1);
    wait_voters(&cluster, 0);

    let mut samples = Vec::new();
    for trial in 0..trials {
        let leader = wait_until(LONG, "a leader that says so itself", || {
            self_leader(&cluster)
        });
        let dead = cluster.index_of(&leader);
        let survivor = (dead + 1) % 3;
        let client = ApiClient::new(&cluster.nodes[survivor].data, None).expect("client");
        let update = NodeUpdate {
            labels_add: [("trial".to_owned(), trial.to_string())].into(),
            ..NodeUpdate::default()
        };
        let path = format!("/v1/nodes/{}", cluster.nodes[survivor].name);
        let started = Instant::now();
        cluster.kill(dead);
        let elapsed = runtime.block_on(async {
            loop {
                let written = client
                    .call::<_, serde_json::Value>(reqwest_patch(), &path, Some(&update))
                    .await;
                if written.is_ok() {
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < LONG,
                    "no write for {LONG:?}: {written:?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        println!(
            "trial {trial:>2}: killed {leader}, writes again after {:.0} ms",
            ms(elapsed)
        );
        samples.push(elapsed);
        cluster.restart(dead);
        wait_voters(&cluster, survivor);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "failover (kill -9 leader → write committed), {} trials: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        samples.len(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(samples[samples.len() - 1])
    );
    tests::figure("p5.failover_p50", ms(pct(0.50)), "ms");
    tests::figure("p5.failover_p99", ms(pct(0.99)), "ms");
}

fn reqwest_patch() -> controller::cli::client::Method {
    controller::cli::client::Method::PATCH
}

/// The leader every manager agrees on. A restarted manager can briefly call itself leader from
/// its stored vote until it hears the others' newer term; killing it would time nothing.
fn self_leader(cluster: &Cluster) -> Result<String, String> {
    let views: Vec<String> = (0..cluster.nodes.len())
        .map(|i| cluster.leader(i))
        .collect::<Result<_, _>>()?;
    match views.first() {
        Some(first) if views.iter().all(|v| v == first) => Ok(first.clone()),
        _ => Err(format!("managers disagree about the leader: {views:?}")),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Waits until all three managers vote and heartbeat again.
fn wait_voters(cluster: &Cluster, via: usize) {
    wait_until(LONG, "three reachable managers", || {
        let nodes = cluster.node_ls(via)?;
        let up = nodes
            .iter()
            .filter(|n| {
                matches!(n["manager_status"].as_str(), Some("leader" | "reachable"))
                    && n["status"]["state"] == "ready"
            })
            .count();
        (up == 3).then_some(()).ok_or_else(|| format!("{up} up"))
    });
}
