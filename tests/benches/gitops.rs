//! GitOps latency and scale figures (issue #3), on real repositories and the real sync loop.
//!
//! - push → revision parsed and planned: a local bare repository with 20 stacks, 50 pushes,
//!   each changing one stack; the manager watches the repository's refs.
//! - webhook → fetch start: a signed webhook posted over TCP to the endpoint, 20 trials.
//! - a repository of 1,000 stack files: first clone, then fetch + evaluate after a one-file change.
//!
//! Run: `cargo bench -p tests --bench gitops`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use controller::source::credentials::Credentials;
use controller::source::git::{GitConfig, GitSource};
use controller::source::revisions::{GitRevisions, RevisionSource};
use controller::source::webhook::{self, Secret, Secrets, WebhookState};
use controller::source::{Wake, WakeReason, watch};
use controller::sync::Options;
use controller::sync::applied::FileStore;
use controller::sync::runner::{Event, Syncer};
use hmac::{Hmac, Mac};
use tests::{GitRepo, git};
use tokio::sync::{broadcast, mpsc};

fn stack(i: usize, tag: usize) -> String {
    format!(
        "services:\n  web:\n    image: registry.example.com/web{i}:{tag}\n    ports: [\"{}:80\"]\n    deploy:\n      replicas: 3\n      update_config: {{order: start-first}}\n  worker:\n    image: registry.example.com/worker{i}:1\n    deploy: {{mode: global}}\n",
        10_000 + i
    )
}

fn repo_with_stacks(dir: &Path, n: usize) -> GitRepo {
    let repo = GitRepo::new(dir);
    for i in 0..n {
        repo.write(&format!("stacks/s{i}/compose.yaml"), &stack(i, 0));
    }
    repo.commit_and_push("initial");
    repo
}

fn git_source(repo: &GitRepo, cache: &Path) -> GitRevisions {
    let config = GitConfig {
        url: repo.bare.to_string_lossy().into_owned(),
        branch: "main".into(),
        path: "stacks".into(),
        cache_dir: cache.to_path_buf(),
        credentials: Credentials::default(),
    };
    GitRevisions::new(GitSource::open(config).expect("open"), "bench".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(key: &str, name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    tests::figure(
        &format!("p3.{key}_p50"),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        "ms",
    );
    tests::figure(
        &format!("p3.{key}_p99"),
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        "ms",
    );
}

async fn evaluated(events: &mut broadcast::Receiver<Event>, revision: &str) -> Instant {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Ok(Event::Evaluated {
                revision: r,
                at,
                result,
                ..
            })) if r == revision => {
                assert!(result == "applied" || result == "unchanged", "{result}");
                return at;
            }
            Ok(Ok(_)) => {}
            other => panic!("no evaluation of {revision}: {other:?}"),
        }
    }
}

async fn polling(events: &mut broadcast::Receiver<Event>) -> Instant {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Ok(Event::Polling { at, .. })) => return at,
            Ok(Ok(_)) => {}
            other => panic!("no poll: {other:?}"),
        }
    }
}

async fn push_to_planned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = repo_with_stacks(dir.path(), 20);
    let source = git_source(&repo, &dir.path().join("cache"));
    let store = Arc::new(FileStore::in_data_dir(&dir.path().join("data")));
    let syncer = Syncer::new(Box::new(source), store, Options::default(), "root".into());
    let mut events = syncer.subscribe();
    let (tx, rx) = mpsc::channel(1);
    let _watch = watch::watch_refs(&repo.bare, tx.clone()).expect("watch");
    tokio::spawn(syncer.run(rx));
    tx.send(Wake {
        reason: WakeReason::Start,
        at: Instant::now(),
    })
    .await
    .expect("wake");
    let head = git(&repo.work, &["rev-parse", "HEAD"]);
    evaluated(&mut events, &head).await;

    let (mut from_start, mut from_end) = (Vec::new(), Vec::new());
    for round in 1..=50 {
        let i = round % 20;
        repo.write(&format!("stacks/s{i}/compose.yaml"), &stack(i, round));
        git(&repo.work, &["commit", "-qam", &format!("bump s{i}")]);
        let sha = git(&repo.work, &["rev-parse", "HEAD"]);
        let start = Instant::now();
        git(&repo.work, &["push", "-q", "origin", "main"]);
        let end = Instant::now();
        let at = evaluated(&mut events, &sha).await;
        from_start.push(at.saturating_duration_since(start));
        from_end.push(at.saturating_duration_since(end));
    }
    report(
        "push_start_to_planned",
        "push -> revision parsed and planned (20 stacks, from `git push` start)",
        from_start,
    );
    report(
        "push_exit_to_planned",
        "push -> revision parsed and planned (20 stacks, from `git push` exit)",
        from_end,
    );
}

fn signed_request(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac");
    mac.update(body.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!(
        "POST /v1/webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Reconciler-Signature-256: sha256={sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn webhook_to_fetch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = repo_with_stacks(dir.path(), 20);
    let source = git_source(&repo, &dir.path().join("cache"));
    let store = Arc::new(FileStore::in_data_dir(&dir.path().join("data")));
    let syncer = Syncer::new(Box::new(source), store, Options::default(), "root".into());
    let mut events = syncer.subscribe();
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(syncer.run(rx));
    let (trigger_tx, mut trigger_rx) = mpsc::channel::<webhook::Trigger>(1);
    let secrets = Secrets {
        generic: Some(Secret::from("s3cret".to_owned())),
        ..Secrets::default()
    };
    let app = webhook::router(WebhookState {
        secrets: Arc::new(secrets),
        branch: "main".into(),
        trigger: trigger_tx,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let wake = tx.clone();
    tokio::spawn(async move {
        while let Some(t) = trigger_rx.recv().await {
            let _ = wake.try_send(Wake {
                reason: WakeReason::Webhook { after: t.after },
                at: t.received,
            });
        }
    });
    tx.send(Wake {
        reason: WakeReason::Start,
        at: Instant::now(),
    })
    .await
    .expect("wake");
    evaluated(&mut events, &git(&repo.work, &["rev-parse", "HEAD"])).await;

    let mut samples = Vec::new();
    for round in 1..=20 {
        repo.write("stacks/s0/compose.yaml", &stack(0, round));
        let sha = repo.commit_and_push("bump");
        let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{sha}\"}}");
        let request = signed_request(&body, "s3cret");
        let sent = Instant::now();
        let send = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream.write_all(request.as_bytes()).expect("send");
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            assert!(response.starts_with("HTTP/1.1 202"), "{response}");
        });
        let at = polling(&mut events).await;
        samples.push(at.saturating_duration_since(sent));
        send.await.expect("request");
        evaluated(&mut events, &sha).await;
    }
    report(
        "webhook_to_fetch",
        "webhook -> fetch start (signed generic webhook over TCP)",
        samples,
    );
}

fn large_repo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = repo_with_stacks(dir.path(), 1000);
    let cache = dir.path().join("cache");
    let mut source = git_source(&repo, &cache);
    let t = Instant::now();
    let first = source.poll().expect("poll").expect("snapshot");
    let clone = t.elapsed();
    let t = Instant::now();
    let set = controller::desired::load_snapshot(&first, "root");
    let applied = set.desired(&first).expect("valid");
    let evaluate_all = t.elapsed();

    repo.write("stacks/s500/compose.yaml", &stack(500, 1));
    repo.commit_and_push("one file");
    let t = Instant::now();
    let second = source.poll().expect("poll").expect("snapshot");
    let fetch = t.elapsed();
    let t = Instant::now();
    let set = controller::desired::load_snapshot(&second, "root");
    let desired = set.desired(&second).expect("valid");
    let plan = controller::diff::diff(&desired, &applied);
    let evaluate = t.elapsed();
    assert_eq!(plan.to_change.len(), 1);
    println!(
        "1,000 stack files: first fetch+snapshot {:.0}ms, evaluate all {:.0}ms; after a one-file change: fetch+snapshot {:.0}ms, evaluate+plan {:.0}ms ({} change)",
        clone.as_secs_f64() * 1e3,
        evaluate_all.as_secs_f64() * 1e3,
        fetch.as_secs_f64() * 1e3,
        evaluate.as_secs_f64() * 1e3,
        plan.to_change.len()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(push_to_planned());
    runtime.block_on(webhook_to_fetch());
    large_repo();
}
