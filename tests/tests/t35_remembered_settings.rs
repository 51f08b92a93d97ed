//! A node remembers its own settings: two managers as real processes, stopped and started
//! again with `--data-dir` alone, come back on the addresses and hostnames their cluster knows
//! them by and form their quorum again.

use std::time::Duration;

use tests::cluster::Cluster;
use tests::wait_until;

const LONG: Duration = Duration::from_secs(30);

#[test]
fn managers_restarted_with_only_their_data_dir_come_back_where_the_cluster_knows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    let token = cluster.token(m1, "manager");
    let m2 = cluster.join("m2", "127.0.0.2", &token, m1);
    let two_managers = |cluster: &Cluster| {
        wait_until(LONG, "two voting managers", || {
            let nodes = cluster.node_ls(m1)?;
            let voting = (nodes.iter())
                .filter(|n| matches!(n["manager_status"].as_str(), Some("leader" | "reachable")))
                .count();
            (voting == 2)
                .then_some(())
                .ok_or_else(|| format!("{nodes:?}"))
        })
    };
    two_managers(&cluster);
    for index in [m1, m2] {
        let settings = std::fs::read_to_string(cluster.nodes[index].data.join("settings.json"))
            .expect("settings remembered");
        assert!(settings.contains(&cluster.nodes[index].addr), "{settings}");
    }
    for index in [m1, m2] {
        assert_eq!(cluster.stop(index), Some(0));
    }
    for index in [m1, m2] {
        cluster.restart_with_only_its_data_dir(index);
    }
    for index in [m1, m2] {
        let listening = format!(
            "manager endpoint listening addr={}",
            cluster.nodes[index].addr
        );
        wait_until(LONG, "the manager back on its remembered address", || {
            let log = cluster.nodes[index].log();
            log.contains(&listening).then_some(()).ok_or(log)
        });
    }
    // Both back, and a quorum again: the manager just restarted may still be listed as it was.
    two_managers(&cluster);
    // And under the hostnames they were given, not the machine's.
    wait_until(LONG, "the remembered hostnames", || {
        let nodes = cluster.node_ls(m1)?;
        let mut names: Vec<&str> = (nodes.iter())
            .filter_map(|n| n["description"]["hostname"].as_str())
            .collect();
        names.sort_unstable();
        (names == ["m1", "m2"])
            .then_some(())
            .ok_or_else(|| format!("{names:?}"))
    });
}
