//! Encryption at rest and autolock with a real manager process: the key is printed once and
//! kept nowhere, the store file shows no secret in clear, and after a restart the manager waits
//! locked until `reconciler unlock` gives it the right key on standard input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::cluster::free_port;
use tests::{Process, Run, reconciler, reconciler_bin, status_json, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// `reconciler unlock --data-dir DATA` with `key` on standard input.
fn unlock(dir: &Path, data: &Path, key: &str) -> Run {
    let mut child = Command::new(reconciler_bin())
        .args(["unlock", "--data-dir", data.to_str().expect("utf-8")])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start unlock");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{key}\n").as_bytes())
        .expect("write the key");
    Run::from(child.wait_with_output().expect("unlock exits"))
}

fn file_contains(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).expect("read");
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn an_autolocked_manager_waits_for_its_unlock_key_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("m1");
    let stacks = dir.path().join("stacks");
    std::fs::create_dir_all(&stacks).expect("stacks");
    let listen = format!("127.0.0.1:{}", free_port());
    let data_arg = data.to_str().expect("utf-8");
    let args = [
        "--data-dir",
        data_arg,
        "--listen-addr",
        &listen,
        "--hostname",
        "m1",
        "--watch",
        stacks.to_str().expect("utf-8"),
        "--autolock",
    ];
    let mut first = Process::start(dir.path(), "m1", &args);
    let key = wait_until(LONG, "the unlock key printed once", || {
        let log = first.log_text();
        log.split_whitespace()
            .find(|w| w.starts_with("RECKEY-1-"))
            .map(str::to_owned)
            .ok_or(log)
    });
    wait_until(LONG, "the manager to answer", || {
        status_json(dir.path(), &data)
    });
    let log = first.log_text();
    assert_eq!(
        log.matches(&key).count(),
        1,
        "printed once, never logged: {log}"
    );
    assert!(!data.join("raft.key").exists(), "autolock keeps no key");
    let token = reconciler(
        dir.path(),
        &["token", "show", "manager", "-q", "--data-dir", data_arg],
    );
    assert_eq!(token.code, 0, "{}", token.stderr);
    let token = token.stdout.trim().to_owned();
    assert!(token.starts_with("RCNTKN-1-"), "{token}");
    let secret = token.split('-').nth(4).expect("the secret part").to_owned();

    assert_eq!(first.terminate(LONG), Some(0), "{}", first.log_text());
    let store = data.join("raft.redb");
    for needle in ["PRIVATE KEY", &token, &secret] {
        assert!(
            !file_contains(&store, needle),
            "{needle} in clear in the store"
        );
    }

    let mut second = Process::start(dir.path(), "m1-restart", &args);
    wait_until(LONG, "the manager to say it is locked", || {
        let log = second.log_text();
        log.contains("this manager is locked")
            .then_some(())
            .ok_or(log)
    });
    assert!(data.join("unlock.sock").exists());
    assert!(
        status_json(dir.path(), &data).is_err(),
        "a locked manager serves nothing"
    );
    let wrong = unlock(dir.path(), &data, &tests_key_of_zeros());
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stderr.contains("wrong unlock key"), "{wrong:?}");
    let garbage = unlock(dir.path(), &data, "not-a-key");
    assert_eq!(garbage.code, 1, "{garbage:?}");
    assert!(garbage.stderr.contains("not an unlock key"), "{garbage:?}");
    let right = unlock(dir.path(), &data, &key);
    assert_eq!(right.code, 0, "{right:?}\n{}", second.log_text());
    assert!(right.stdout.contains("Manager unlocked."), "{right:?}");
    let status = wait_until(LONG, "the unlocked manager to answer", || {
        status_json(dir.path(), &data)
    });
    assert!(status.is_object(), "{status}");
    assert!(
        !data.join("unlock.sock").exists(),
        "the socket goes once unlocked"
    );
    let again = reconciler(
        dir.path(),
        &["token", "show", "manager", "-q", "--data-dir", data_arg],
    );
    assert_eq!(
        again.stdout.trim(),
        token,
        "the same cluster, with its secrets"
    );
    let none = unlock(dir.path(), &data, &key);
    assert_eq!(none.code, 2, "nothing is waiting now: {none:?}");
    assert!(none.stderr.contains("no locked manager"), "{none:?}");
    assert_eq!(second.terminate(LONG), Some(0));
}

/// A well-formed key that opens nothing.
fn tests_key_of_zeros() -> String {
    format!("RECKEY-1-{}", "A".repeat(43))
}
