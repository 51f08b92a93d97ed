//! Repositories are fetched when a verified webhook says so: a manager follows a repository with
//! ref watching off and a one-hour poll interval, as it would a remote; only a correctly signed
//! webhook makes it fetch the pushed commit. The webhook port is open to anyone: a flood of held
//! and slow connections on it leaves the manager answering.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use hmac::{Hmac, Mac};
use tests::cluster::free_port;
use tests::{GitRepo, Process, status_json, wait_until};

const SECRET: &str = "test-webhook-secret";

fn post(addr: SocketAddr, body: &str, signature: Option<String>) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let sig = signature
        .map(|s| format!("X-Reconciler-Signature-256: {s}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /v1/webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{sig}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

fn sign(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A manager following `url` only through its webhook on `hook` (no ref watching, hourly polls).
fn start_manager(
    dir: &std::path::Path,
    url: &str,
    data: &std::path::Path,
    hook: SocketAddr,
) -> Process {
    Process::start_with_env(
        dir,
        "manager",
        &[
            "--repo",
            url,
            "--watch-refs=false",
            "--data-dir",
            &data.to_string_lossy(),
            "--interval",
            "1h",
            "--webhook-listen",
            &hook.to_string(),
        ],
        &[("RECONCILER_WEBHOOK_SECRET", SECRET)],
    )
}

#[test]
fn only_a_signed_webhook_triggers_a_fetch_when_nothing_else_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("web.yml", "services:\n  web:\n    image: nginx:1\n");
    let first = repo.commit_and_push("first");
    let hook_port = free_port();
    let hook: SocketAddr = ([127, 0, 0, 1], hook_port).into();
    let data = dir.path().join("data");
    let url = repo.bare.to_string_lossy().into_owned();
    let manager = start_manager(dir.path(), &url, &data, hook);
    let applied = |want: String| {
        let (root, data) = (dir.path().to_path_buf(), data.clone());
        move || {
            let s = status_json(&root, &data)?;
            if s["applied"]["revision"]["id"] == want.as_str() {
                Ok(())
            } else {
                Err(s["applied"]["revision"].to_string())
            }
        }
    };
    wait_until(Duration::from_secs(15), "the first commit", applied(first));
    wait_until(Duration::from_secs(10), "the webhook endpoint", || {
        TcpStream::connect(hook)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });

    repo.write("web.yml", "services:\n  web:\n    image: nginx:2\n");
    let second = repo.commit_and_push("second");
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{second}\"}}");

    let unsigned = post(hook, &body, None);
    assert!(unsigned.starts_with("HTTP/1.1 401"), "{unsigned}");
    let forged = post(hook, &body, Some(sign(&body, "wrong-secret")));
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
    let other_branch = "{\"ref\":\"refs/heads/dev\"}";
    let ignored = post(hook, other_branch, Some(sign(other_branch, SECRET)));
    assert!(
        ignored.starts_with("HTTP/1.1 202") && ignored.contains("ignored"),
        "{ignored}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let s = status_json(dir.path(), &data).expect("status");
    assert_ne!(
        s["applied"]["revision"]["id"],
        second.as_str(),
        "rejected webhooks must not fetch:\n{}",
        manager.log_text()
    );

    let good = post(hook, &body, Some(sign(&body, SECRET)));
    assert!(good.starts_with("HTTP/1.1 202"), "{good}");
    wait_until(
        Duration::from_secs(10),
        "the webhook-triggered fetch",
        applied(second),
    );
    let log = manager.log_text();
    assert!(!log.contains(SECRET), "the secret must never be logged");
    assert!(!log.contains("nginx:2"), "payloads must never be logged");
}

/// Connections one holder process opens: its 20,000 descriptors (the machine's hard limit,
/// which only a privileged process could raise) with room to spare.
const PER_HOLDER: usize = 12_500;

/// Starts a process (this test binary, running [`holder`]) that opens `count` slowloris
/// connections to `hook` from `first_ip` onwards and holds them until its stdin closes. Returns
/// it once it says how many it holds.
fn start_holder(hook: SocketAddr, count: usize, first_ip: u8) -> (std::process::Child, usize) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "holder",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOLD_TARGET", hook.to_string())
        .env("HOLD_COUNT", count.to_string())
        .env("HOLD_FIRST_IP", first_ip.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start holder");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Read to the end, so the holder never writes into a closed pipe.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // The harness may print `test holder ... ` on the same line first.
            if let Some(n) = line
                .split("held ")
                .nth(1)
                .and_then(|n| n.trim().parse().ok())
            {
                let _ = tx.send(n);
            }
        }
    });
    let held = rx.recv_timeout(Duration::from_secs(60)).unwrap_or(0);
    (child, held)
}

/// Not a test of its own: the connection holder [`start_holder`] runs.
#[test]
#[ignore = "run by a_flood_of_held_and_slow_webhook_connections_leaves_the_manager_answering"]
fn holder() {
    let env = |k: &str| std::env::var(k).expect(k);
    let target: SocketAddr = env("HOLD_TARGET").parse().expect("target");
    let count: usize = env("HOLD_COUNT").parse().expect("count");
    let first: u8 = env("HOLD_FIRST_IP").parse().expect("ip");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let held = runtime.block_on(hold(target, count, first));
    println!("held {}", held.len());
    let mut rest = String::new();
    let _ = std::io::stdin().read_to_string(&mut rest);
    drop(held);
}

/// Opens `count` connections to `hook` from eight addresses starting at 127.0.0.`first`, each
/// sending half a request header and then nothing (slowloris); returns those the kernel let us
/// open.
async fn hold(hook: SocketAddr, count: usize, first: u8) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut held = Vec::with_capacity(count);
    let mut opening = tokio::task::JoinSet::new();
    for i in 0..count {
        opening.spawn(async move {
            let socket = tokio::net::TcpSocket::new_v4().ok()?;
            let source: SocketAddr = ([127, 0, 0, first + (i % 8) as u8], 0).into();
            socket.bind(source).ok()?;
            let mut stream = tokio::time::timeout(Duration::from_secs(2), socket.connect(hook))
                .await
                .ok()?
                .ok()?;
            let _ = stream
                .write_all(b"POST /v1/webhook HTTP/1.1\r\nHost: x\r\nContent-Le")
                .await;
            Some(stream)
        });
        // A few hundred at a time: enough to flood, few enough not to starve the runtime.
        while opening.len() >= 500 {
            if let Some(Ok(Some(stream))) = opening.join_next().await {
                held.push(stream);
            }
        }
    }
    while let Some(opened) = opening.join_next().await {
        if let Ok(Some(stream)) = opened {
            held.push(stream);
        }
    }
    held
}

#[test]
fn a_flood_of_held_and_slow_webhook_connections_leaves_the_manager_answering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("web.yml", "services:\n  web:\n    image: nginx:1\n");
    let first = repo.commit_and_push("first");
    let hook: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let data = dir.path().join("data");
    let url = repo.bare.to_string_lossy().into_owned();
    let manager = start_manager(dir.path(), &url, &data, hook);
    wait_until(Duration::from_secs(15), "the first commit", || {
        let s = status_json(dir.path(), &data)?;
        (s["applied"]["revision"]["id"] == first.as_str())
            .then_some(())
            .ok_or_else(|| s["applied"].to_string())
    });
    wait_until(Duration::from_secs(10), "the webhook endpoint", || {
        TcpStream::connect(hook)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });

    // 25,000 connections in two processes, from sixteen addresses.
    let (mut first_holder, a) = start_holder(hook, PER_HOLDER, 2);
    let (mut second_holder, b) = start_holder(hook, PER_HOLDER, 10);
    println!("holding {} webhook connections", a + b);
    assert!(
        a + b >= 2 * PER_HOLDER * 9 / 10,
        "only {} connections opened",
        a + b
    );
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let status = status_json(dir.path(), &data);
        let took = started.elapsed();
        assert!(status.is_ok(), "{status:?}\n{}", manager.log_text());
        assert!(
            took < Duration::from_secs(1),
            "status took {took:?} under the flood\n{}",
            manager.log_text()
        );
    }
    for holder in [&mut first_holder, &mut second_holder] {
        drop(holder.stdin.take());
        let _ = holder.wait();
    }

    // The flood is over: a signed push is taken as before.
    repo.write("web.yml", "services:\n  web:\n    image: nginx:2\n");
    let second = repo.commit_and_push("second");
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{second}\"}}");
    wait_until(Duration::from_secs(10), "a webhook accepted again", || {
        let answer = post(hook, &body, Some(sign(&body, SECRET)));
        answer
            .starts_with("HTTP/1.1 202")
            .then_some(())
            .ok_or(answer)
    });
    wait_until(Duration::from_secs(10), "the pushed commit", || {
        let s = status_json(dir.path(), &data)?;
        (s["applied"]["revision"]["id"] == second.as_str())
            .then_some(())
            .ok_or_else(|| s["applied"].to_string())
    });
    let log = manager.log_text();
    let summaries = log.matches("refusing webhook connections").count()
        + log.matches("refused connections in the last").count();
    assert!(
        (1..=10).contains(&summaries),
        "refusals are summarised, not logged one by one: {summaries} lines"
    );
}
