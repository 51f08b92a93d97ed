//! Repositories are fetched when a verified webhook says so: a manager follows a repository with
//! ref watching off and a one-hour poll interval, as it would a remote; only a correctly signed
//! webhook makes it fetch the pushed commit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use hmac::{Hmac, Mac};
use tests::{GitRepo, Process, status_json, wait_until};

const SECRET: &str = "test-webhook-secret";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

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
    let manager = Process::start_with_env(
        dir.path(),
        "manager",
        &[
            "--repo",
            &url,
            "--watch-refs=false",
            "--data-dir",
            &data.to_string_lossy(),
            "--interval",
            "1h",
            "--webhook-listen",
            &hook.to_string(),
        ],
        &[("RECONCILER_WEBHOOK_SECRET", SECRET)],
    );
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
