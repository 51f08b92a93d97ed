//! Membership at every door: a valid certificate is not enough once the cluster has demoted or
//! removed its node. Two managers as real processes on 127.0.0.1–2; a copy of the second's
//! credentials, taken while it was a manager, is then used against the first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::cluster::Cluster;
use tests::wait_until;

const LONG: Duration = Duration::from_secs(30);

/// A copy of a data directory's identity (`node.json` and `pki/`), without its store.
fn copy_identity(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to.join("pki")).expect("mkdir");
    std::fs::copy(from.join("node.json"), to.join("node.json")).expect("copy node.json");
    for entry in std::fs::read_dir(from.join("pki")).expect("pki") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join("pki").join(entry.file_name())).expect("copy pki");
    }
    to.to_owned()
}

fn node<'a>(nodes: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    nodes.iter().find(|n| n["description"]["hostname"] == name)
}

#[test]
fn a_demoted_or_removed_managers_certificate_is_refused_on_manager_endpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    let token = cluster.token(m1, "manager");
    let m2 = cluster.join("m2", "127.0.0.2", &token, m1);
    wait_until(LONG, "two voting managers", || {
        let nodes = cluster.node_ls(m1)?;
        let reachable = (nodes.iter())
            .filter(|n| matches!(n["manager_status"].as_str(), Some("leader" | "reachable")))
            .count();
        (reachable == 2)
            .then_some(())
            .ok_or_else(|| format!("{nodes:?}"))
    });
    let stolen = copy_identity(&cluster.nodes[m2].data, &dir.path().join("stolen"));
    let first = cluster.nodes[m1].addr.clone();
    // The copy is aimed at the first manager, which judges it by its own replicated state.
    let as_stolen = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "--data-dir",
            stolen.to_str().expect("utf-8"),
            "--host",
            &first,
        ]);
        tests::reconciler(dir.path(), &all)
    };
    let allowed = as_stolen(&["node", "ls"]);
    assert_eq!(
        allowed.code, 0,
        "a manager's own certificate works: {}",
        allowed.stderr
    );

    // Demoted: its manager certificate no longer opens the admin API.
    let demote = cluster.cli(m1, &["node", "demote", "m2"]);
    assert_eq!(demote.code, 0, "{}", demote.stderr);
    wait_until(LONG, "m2 a worker", || {
        let nodes = cluster.node_ls(m1)?;
        let m2 = node(&nodes, "m2").ok_or("m2 missing")?;
        (m2["spec"]["role"] == "worker" && m2["manager_status"].is_null())
            .then_some(())
            .ok_or_else(|| format!("{m2}"))
    });
    let refused = as_stolen(&["node", "ls"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("no longer a manager"),
        "{}",
        refused.stderr
    );
    let token = as_stolen(&["token", "show", "manager", "-q"]);
    assert_ne!(
        token.code, 0,
        "the manager token must not be handed out: {}",
        token.stdout
    );

    // Removed: its id is revoked, at every door, whatever its certificate says.
    cluster.kill(m2);
    wait_until(LONG, "m2 down", || {
        let nodes = cluster.node_ls(m1)?;
        let m2 = node(&nodes, "m2").ok_or("m2 missing")?;
        (m2["status"]["state"] == "down")
            .then_some(())
            .ok_or_else(|| format!("{m2}"))
    });
    let rm = cluster.cli(m1, &["node", "rm", "m2"]);
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    let refused = as_stolen(&["node", "ls"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("it was removed"),
        "{}",
        refused.stderr
    );
    let own = cluster.cli(m1, &["node", "ls"]);
    assert_eq!(
        own.code, 0,
        "the remaining manager still answers: {}",
        own.stderr
    );
}
