//! The repository a cluster follows is cluster state: three managers stopped and started again
//! with `--data-dir` alone still follow it (a new commit is applied by whichever leads), and a
//! cluster started without one says it follows nothing (status exit 1) until
//! `reconciler source set` names one.

use std::time::Duration;

use tests::cluster::{Cluster, Source};
use tests::{GitRepo, Process, reconciler, status_json, wait_applied, wait_until};

const LONG: Duration = Duration::from_secs(40);

const WEB: &str = "services:\n  web:\n    image: nginx:1\n    deploy:\n      replicas: 2\n";

#[test]
fn managers_restarted_with_only_their_data_dir_follow_the_same_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/web/compose.yaml", WEB);
    let first = repo.commit_and_push("first");
    let url = repo.bare.to_string_lossy().into_owned();
    let mut cluster = Cluster::following(
        dir.path(),
        Source::Repo {
            url: url.clone(),
            path: "stacks".into(),
        },
    );
    let m1 = cluster.init("m1", "127.0.0.1");
    let token = cluster.token(m1, "manager");
    let m2 = cluster.join("m2", "127.0.0.2", &token, m1);
    let m3 = cluster.join("m3", "127.0.0.3", &token, m1);
    let managers = [m1, m2, m3];
    wait_applied(dir.path(), &cluster.nodes[m1].data, &first, LONG);
    let shown = cluster.cli(m2, &["source", "show"]);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(shown.stdout.contains(&url), "{}", shown.stdout);

    for index in managers {
        assert_eq!(cluster.stop(index), Some(0));
    }
    for index in managers {
        cluster.restart_with_only_its_data_dir(index);
    }
    repo.write(
        "stacks/web/compose.yaml",
        &WEB.replace("replicas: 2", "replicas: 3"),
    );
    let second = repo.commit_and_push("scale to 3");
    // Whichever manager leads now, the new commit is applied.
    wait_applied(dir.path(), &cluster.nodes[m3].data, &second, LONG);
}

#[test]
fn a_cluster_without_a_source_says_so_until_one_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/web/compose.yaml", WEB);
    let first = repo.commit_and_push("first");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let addr = format!("127.0.0.1:{}", tests::cluster::free_port());
    let _manager = Process::start(
        dir.path(),
        "manager",
        &["--data-dir", &data_s, "--listen-addr", &addr],
    );
    let status = wait_until(LONG, "a status that names the missing source", || {
        let run = reconciler(dir.path(), &["status", "--data-dir", &data_s]);
        run.stderr
            .contains("not following any repository")
            .then_some(run.clone())
            .ok_or_else(|| format!("{}{}", run.stdout, run.stderr))
    });
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    let shown = reconciler(dir.path(), &["source", "show", "--data-dir", &data_s]);
    assert_eq!(shown.code, 1, "{}{}", shown.stdout, shown.stderr);
    let stacks = reconciler(dir.path(), &["stack", "ls", "--data-dir", &data_s]);
    assert_eq!(stacks.code, 1, "{}{}", stacks.stdout, stacks.stderr);
    assert!(
        stacks.stderr.contains("not following any repository"),
        "{}",
        stacks.stderr
    );

    let bare = repo.bare.to_string_lossy().into_owned();
    let set = reconciler(
        dir.path(),
        &[
            "source",
            "set",
            "--repo",
            &bare,
            "--path",
            "stacks",
            "--data-dir",
            &data_s,
        ],
    );
    assert_eq!(set.code, 0, "{}{}", set.stdout, set.stderr);
    assert!(set.stdout.contains(&bare), "{}", set.stdout);
    wait_applied(dir.path(), &data, &first, LONG);
    let stacks = reconciler(dir.path(), &["stack", "ls", "--data-dir", &data_s]);
    assert_eq!(stacks.code, 0, "{}{}", stacks.stdout, stacks.stderr);
    let stored = status_json(dir.path(), &data).expect("status");
    assert!(
        stored["source"]["token_env"].is_string(),
        "credentials by name: {stored}"
    );
}
