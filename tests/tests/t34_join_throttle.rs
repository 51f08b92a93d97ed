//! Join attempts with a bad token, from real `reconciler join` processes against a real
//! manager: after a burst of ten refusals the address is throttled (HTTP 429 with the wait),
//! and the manager's log tells the first refusal with its address and then one summary line,
//! not one line per attempt.

use std::time::Duration;

use tests::cluster::{Cluster, free_port};
use tests::wait_until;

const ATTEMPTS: usize = 25;

#[test]
fn join_attempts_with_a_bad_token_are_throttled_and_summarised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    // A token of this cluster's exact format and CA, whose secret is no longer accepted.
    let stale = cluster.token(m1, "worker");
    let rotated = cluster.cli(m1, &["token", "rotate", "worker", "-q"]);
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    let manager = cluster.nodes[m1].addr.clone();
    let mut outcomes = Vec::new();
    for i in 0..ATTEMPTS {
        let data = dir.path().join(format!("j{i}"));
        let listen = format!("127.0.0.3:{}", free_port());
        let run = tests::reconciler(
            dir.path(),
            &[
                "join",
                &manager,
                "--token",
                &stale,
                "--data-dir",
                data.to_str().expect("utf-8"),
                "--listen-addr",
                &listen,
                "--hostname",
                &format!("j{i}"),
            ],
        );
        assert_ne!(run.code, 0, "a stale token never joins: {run:?}");
        outcomes.push(run.stderr);
    }
    let throttled = |e: &String| e.contains("too many failed join attempts");
    for (i, stderr) in outcomes.iter().take(10).enumerate() {
        assert!(
            !throttled(stderr),
            "attempt {i} is within the burst: {stderr}"
        );
    }
    let count = outcomes.iter().filter(|e| throttled(e)).count();
    assert!(
        count >= 5,
        "{count} of {ATTEMPTS} attempts throttled: {outcomes:#?}"
    );
    let first_throttled = outcomes.iter().find(|e| throttled(e)).expect("one");
    assert!(first_throttled.contains("retry in"), "{first_throttled}");
    let log = wait_until(
        Duration::from_secs(25),
        "one summary line of the refusals",
        || {
            let log = cluster.nodes[m1].log();
            log.contains("refused join attempts in the last")
                .then(|| log.clone())
                .ok_or(log)
        },
    );
    let single = log.matches("refused a join (further refusals").count();
    assert_eq!(single, 1, "one line for the first refusal: {log}");
    let summaries: Vec<&str> = (log.lines())
        .filter(|l| l.contains("refused join attempts in the last"))
        .collect();
    assert!(summaries.len() <= 2, "{summaries:#?}");
    assert!(
        summaries.iter().any(|l| l.contains("127.0.0.")),
        "the summary names the busiest address: {summaries:#?}"
    );
    assert!(
        log.lines().count() < 60,
        "{ATTEMPTS} attempts must not write a line each: {log}"
    );
}
