//! The data directory holds the cluster CA's key, the join-token secrets and the node key: no
//! other local user may read anything in it (issue #23), and one left looser by an older
//! version is tightened at start-up, with a warning saying what changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tests::{GitRepo, status_json, wait_until};

const WEB: &str = "services:\n  web:\n    image: nginx:1.27\n";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

/// Every path under `dir` (not following links), `dir` first.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_owned()];
    let mut i = 0;
    while i < all.len() {
        let path = all[i].clone();
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                all.push(entry.expect("entry").path());
            }
        }
        i += 1;
    }
    all
}

/// Whether this process can switch to another user (root), which the test needs. Without it the
/// test is skipped — unless CI is set, where it must run.
fn can_switch_user(test: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if root && setpriv {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI is set but the test cannot run as another user (needs root and setpriv)"
    );
    eprintln!("{test}: skipped, needs root and setpriv to read files as `nobody`");
    false
}

/// `cat PATH` (or `ls` for a directory) as the unprivileged user `nobody`: its stderr when it
/// was refused, `None` when it could read.
fn read_as_nobody(path: &Path) -> Option<String> {
    let tool = if path.is_dir() { "ls" } else { "cat" };
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            tool,
        ])
        .arg(path)
        .output()
        .expect("setpriv");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn no_other_user_reads_the_data_dir_and_a_loose_one_is_tightened() {
    if !can_switch_user("no_other_user_reads_the_data_dir") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // The test directory is open to everyone, so only the data directory's own modes protect it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/web/compose.yaml", WEB);
    let commit = repo.commit_and_push("first");
    let data = dir.path().join("data");
    let env = [("RECONCILER_AGENT", "false")];
    let mut manager = repo.follow(dir.path(), "manager", &data, &env);
    let applied = || {
        let s = status_json(dir.path(), &data)?;
        (s["applied"]["revision"]["id"] == commit.as_str())
            .then_some(())
            .ok_or_else(|| s.to_string())
    };
    wait_until(Duration::from_secs(20), "the first commit applied", applied);

    let paths = walk(&data);
    // The CA key lives in the store, not in pki/.
    for must in [
        "raft.redb",
        "raft.key",
        "node.json",
        "pki/node-key.pem",
        "git",
    ] {
        assert!(paths.contains(&data.join(must)), "{must} in {paths:?}");
    }
    let cache = data.join("git");
    for path in &paths {
        // libgit2 chooses the modes inside the cache; the cache directory itself is private.
        if !path.starts_with(&cache) || *path == cache {
            assert_eq!(
                mode(path) & 0o077,
                0,
                "{} is {:04o}: open to others",
                path.display(),
                mode(path)
            );
        }
        let refused = read_as_nobody(path);
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.contains("Permission denied")),
            "nobody could read {}: {refused:?}",
            path.display()
        );
    }
    let _ = manager.terminate(Duration::from_secs(10));

    // An older version's modes: the next start makes them private and says so.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = data.join("raft.redb");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let manager = repo.follow(dir.path(), "manager-restart", &data, &env);
    wait_until(Duration::from_secs(20), "the restarted manager", applied);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&store), 0o600);
    let log = manager.log_text();
    assert!(
        log.contains("raft.redb was 0644, now 0600"),
        "the warning names the file and both modes: {log}"
    );
    assert!(read_as_nobody(&store).is_some(), "tightened before serving");
}
