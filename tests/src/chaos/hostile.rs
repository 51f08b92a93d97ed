//! Requests an attacker could send: raw HTTP to the webhook endpoint (any headers, any body,
//! any declared length) and HTTPS to a manager's endpoint without a client certificate (through
//! `curl`, which sends whatever it is told and verifies nothing), and the two batteries of them
//! scenario 7 sends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use controller::pki::token::JoinToken;
use crds::node::NodeRole;
use hmac::{Hmac, Mac};

/// An HTTP answer: status code and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code (0 when there was no HTTP answer at all).
    pub status: u16,
    /// Body, lossily decoded.
    pub body: String,
}

impl Answer {
    /// Whether the status is a client error (4xx).
    pub fn is_4xx(&self) -> bool {
        (400..500).contains(&self.status)
    }
}

/// Sends `POST path` to `addr` over plain HTTP/1.1 with `headers` and `body`. The
/// `Content-Length` header is the body's length unless `headers` sets one.
pub fn post_raw(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let sets_length = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !sets_length {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return Answer {
            status: 0,
            body: format!("cannot connect to {addr}"),
        };
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(request.as_bytes());
    // The server may answer (413) and close before the whole body is sent; that is fine.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse_http(&String::from_utf8_lossy(&response))
}

fn parse_http(response: &str) -> Answer {
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Answer { status, body }
}

/// `METHOD https://addr/path` without a client certificate, body from stdin when given.
///
/// HTTP/1.1: a server that answers before reading the body (401, 413) resets an HTTP/2 stream
/// when the body arrives anyway, and curl then reports a stream error instead of the answer it
/// got; over HTTP/1.1 the answer is seen.
pub fn https_anonymous(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
    curl(addr, method, path, body)
}

fn curl(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
    let url = format!("https://{addr}{path}");
    let mut command = Command::new("curl");
    command
        .args(["-sSk", "--http1.1", "--max-time", "10", "-X", method])
        .args(["-w", "\n%{http_code}"])
        .args(["-H", "content-type: application/json"])
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if body.is_some() {
        command.args(["--data-binary", "@-"]).stdin(Stdio::piped());
    } else {
        command.stdin(Stdio::null());
    }
    let Ok(mut child) = command.spawn() else {
        return Answer {
            status: 0,
            body: "cannot run curl".into(),
        };
    };
    if let (Some(body), Some(mut stdin)) = (body, child.stdin.take()) {
        let _ = stdin.write_all(body);
    }
    let Ok(out) = child.wait_with_output() else {
        return Answer {
            status: 0,
            body: "curl failed".into(),
        };
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    match code.trim().parse() {
        Ok(status) if status > 0 => Answer {
            status,
            body: body.to_owned(),
        },
        _ => Answer {
            status: 0,
            body: format!(
                "curl exit {}: {}",
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        },
    }
}

/// The `X-Reconciler-Signature-256` value of `body` under `secret`.
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn expect_4xx(what: &str, answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    assert!(answer.is_4xx(), "{what}: {answer:?}");
}

/// Sends the webhook endpoint at `hook` unsigned, badly signed and malformed requests, signed
/// bodies that are no push, oversized and lying payloads, and a wrong path; asserts that each
/// gets a 4xx (a signed but useless body may also be acknowledged) and the endpoint stays up.
pub fn webhook_attacks(hook: &str, secret: &str) {
    let push = br#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
    let json = ("Content-Type", "application/json");
    let post = |headers: &[(&str, &str)], body: &[u8]| post_raw(hook, "/v1/webhook", headers, body);
    let unsigned = post(&[json], push);
    expect_4xx("no signature", &unsigned, 401);
    let wrong = sign(push, "not-the-secret");
    let answer = post(&[json, ("X-Reconciler-Signature-256", &wrong)], push);
    expect_4xx("a wrong secret", &answer, 401);
    let github = post(
        &[
            json,
            ("X-Hub-Signature-256", &wrong),
            ("X-GitHub-Event", "push"),
        ],
        push,
    );
    expect_4xx("a wrong GitHub signature", &github, 401);
    let gitlab = post(
        &[
            json,
            ("X-Gitlab-Token", "guess"),
            ("X-Gitlab-Event", "Push Hook"),
        ],
        push,
    );
    expect_4xx("a wrong GitLab token", &gitlab, 401);
    for malformed in ["sha256=zz", "md5=00", "", "sha256=", &"a".repeat(10_000)] {
        let answer = post(&[json, ("X-Reconciler-Signature-256", malformed)], push);
        assert!(answer.is_4xx(), "signature {malformed:.20?}: {answer:?}");
    }
    // Correctly signed, but not a push: broken JSON, invalid UTF-8, deep nesting, wrong shapes.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        vec![0xff, 0xfe, b'{', 0x80],
        deep.into_bytes(),
        b"[]".to_vec(),
        br#"{"ref": 42, "after": {"x": []}}"#.to_vec(),
        Vec::new(),
    ];
    for body in &bodies {
        let sig = sign(body, secret);
        let answer = post(&[json, ("X-Reconciler-Signature-256", &sig)], body);
        assert!(
            answer.is_4xx() || answer.status == 202 || answer.status == 200,
            "signed body {:.20?}: {answer:?}",
            String::from_utf8_lossy(body)
        );
        assert_ne!(answer.status, 0, "the endpoint went away");
    }
    // Oversized: a real 2 MiB body, and a length that lies about 100 MiB.
    let big = vec![b' '; 2 * 1024 * 1024];
    let answer = post(&[json], &big);
    expect_4xx("a 2 MiB body", &answer, 413);
    let lying = post(&[json, ("Content-Length", "104857600")], push);
    expect_4xx("a declared 100 MiB body", &lying, 413);
    // Wrong method and path.
    let other = post_raw(hook, "/v1/other", &[json], push);
    assert!(other.is_4xx(), "{other:?}");
}

/// Sends a manager's endpoint at `addr`, without a client certificate, requests for every
/// closed route and join requests with garbage, mistyped, forged, rotated, empty and huge
/// tokens (with a hostname that tries to forge a log line), a worker token asking for the
/// manager role, malformed and oversized join bodies; asserts that each gets a 4xx that shows
/// no token.
pub fn tls_attacks(addr: &str, worker_token: &str, rotated_manager_token: &str) {
    // No client certificate: every route but joining is closed.
    for (method, path) in [
        ("GET", "/v1/nodes"),
        ("GET", "/v1/status"),
        ("GET", "/v1/tokens/manager"),
        ("POST", "/v1/tokens/worker/rotate"),
        ("POST", "/raft/append"),
        ("POST", "/raft/vote"),
        ("POST", "/raft/write"),
        ("GET", "/v1/session/assignments"),
        ("POST", "/v1/session/heartbeat"),
    ] {
        let body = (method == "POST").then_some(&b"{}"[..]);
        let answer = https_anonymous(addr, method, path, body);
        assert!(
            matches!(answer.status, 401 | 403),
            "{method} {path} without a certificate: {answer:?}"
        );
        assert!(!answer.body.contains("RCNTKN"), "{path}: {answer:?}");
    }
    let real = worker_token.parse::<JoinToken>().expect("a worker token");
    let forged = JoinToken::generate(&real.ca_fingerprint(), NodeRole::Manager)
        .expect("a token")
        .to_string();
    let join = |token: &str, hostname: &str| {
        let body = serde_json::json!({
            "token": token,
            "role": "manager",
            "hostname": hostname,
            "advertise_ip": "127.0.0.8",
            "api_addr": "127.0.0.8:1",
        });
        https_anonymous(addr, "POST", "/v1/join", Some(body.to_string().as_bytes()))
    };
    let mut typo = worker_token.to_owned();
    typo.pop();
    typo.push('x');
    for (what, token) in [
        ("garbage", "nope"),
        ("a typo", typo.as_str()),
        ("a forged secret", forged.as_str()),
        ("a rotated manager token", rotated_manager_token),
        ("an empty token", ""),
        ("a huge token", &"RCNTKN-1-".repeat(50_000)),
    ] {
        let answer = join(token, "FORGED\nFORGED line from a join request");
        assert!(answer.is_4xx(), "join with {what}: {answer:?}");
        assert!(!answer.body.contains(worker_token), "{what}: {answer:?}");
    }
    let wrong_role = join(worker_token, "w9");
    assert!(
        wrong_role.is_4xx(),
        "a worker token asking for a manager: {wrong_role:?}"
    );
    for body in [&b"{not json"[..], b"[]", b"{\"token\": 1}"] {
        let answer = https_anonymous(addr, "POST", "/v1/join", Some(body));
        assert!(answer.is_4xx(), "join body {body:?}: {answer:?}");
    }
    let big = vec![b' '; 3 * 1024 * 1024];
    let answer = https_anonymous(addr, "POST", "/v1/join", Some(&big));
    assert!(answer.is_4xx(), "a 3 MiB join request: {answer:?}");
}
