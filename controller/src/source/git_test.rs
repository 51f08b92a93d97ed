//! Tests of `git`.

use super::*;
use std::io::{Read, Write};
use std::process::Command;
use tempfile::TempDir;

/// Run `git` in `dir` with a fixed identity and no user or system config.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("test setup");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("test setup")
        .trim()
        .to_owned()
}

/// A non-bare repository to commit in.
struct Work {
    dir: TempDir,
}

impl Work {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "-q", "-b", "main"]);
        Work { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, content: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("test setup")).expect("test setup");
        std::fs::write(full, content).expect("write fixture");
        self
    }

    fn commit(&self, message: &str) -> String {
        git(self.path(), &["add", "-A"]);
        git(
            self.path(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(self.path(), &["rev-parse", "HEAD"])
    }
}

struct Fixture {
    cache: TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            cache: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn config(&self, url: &str, path: &str) -> GitConfig {
        GitConfig {
            url: url.to_owned(),
            branch: "main".to_owned(),
            path: PathBuf::from(path),
            cache_dir: self.cache.path().join("repo"),
            credentials: Credentials::default(),
        }
    }

    fn open(&self, url: &str, path: &str) -> GitSource {
        GitSource::open(self.config(url, path)).expect("open source")
    }
}

fn stacks_repo() -> Work {
    let work = Work::new();
    work.write("README.md", "hello\n")
        .write("stacks/web/compose.yaml", "services: {}\n")
        .write("stacks/web/.env", "A=1\n");
    work.commit("Add web stack\n\nWith a body.");
    work
}

fn bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[test]
fn clones_a_local_repository_by_path() {
    let work = stacks_repo();
    let head = git(work.path(), &["rev-parse", "HEAD"]);
    let fixture = Fixture::new();
    let url = work.path().to_string_lossy().into_owned();
    let mut source = fixture.open(&url, "stacks");

    let fetched = source.fetch().expect("fetch");
    assert_eq!(
        fetched,
        Fetched {
            commit: head.clone(),
            changed: true
        }
    );
    assert_eq!(
        source.fetch().expect("fetch"),
        Fetched {
            commit: head.clone(),
            changed: false
        }
    );

    let snap = source.snapshot(&head).expect("snapshot");
    assert_eq!(snap.revision.id, head);
    assert_eq!(
        snap.revision.author.as_deref(),
        Some("Ada Lovelace <ada@example.com>")
    );
    assert_eq!(snap.revision.message.as_deref(), Some("Add web stack"));
    assert_eq!(snap.revision.time_ms, Some(1_704_164_645_000));
    assert_eq!(
        snap.revision.origin,
        RevisionOrigin::Git {
            repo: url.clone(),
            branch: "main".into(),
            path: "stacks".into()
        }
    );
    let want: BTreeMap<PathBuf, Vec<u8>> = [
        (PathBuf::from("web/.env"), bytes("A=1\n")),
        (PathBuf::from("web/compose.yaml"), bytes("services: {}\n")),
    ]
    .into();
    assert_eq!(snap.files, want);
    assert_eq!(source.local_repo_dir(), Some(work.path().join(".git")));
    // The cache is bare: no work tree was written.
    assert!(fixture.cache.path().join("repo/HEAD").is_file());
    assert!(!fixture.cache.path().join("repo/stacks").exists());
}

#[test]
fn clones_by_file_url_and_reads_the_root() {
    let work = stacks_repo();
    let head = git(work.path(), &["rev-parse", "HEAD"]);
    let fixture = Fixture::new();
    let mut source = fixture.open(&format!("file://{}", work.path().display()), "");
    assert_eq!(source.fetch().expect("fetch").commit, head);
    let snap = source.snapshot(&head[..10]).expect("snapshot");
    assert_eq!(
        snap.revision.id, head,
        "an abbreviated SHA resolves to the full one"
    );
    assert_eq!(
        snap.paths(),
        vec![
            PathBuf::from("README.md"),
            "stacks/web/.env".into(),
            "stacks/web/compose.yaml".into()
        ]
    );
    assert_eq!(source.local_repo_dir(), Some(work.path().join(".git")));
}

#[test]
fn nested_path_with_dot_segments() {
    let work = stacks_repo();
    let fixture = Fixture::new();
    let mut source = fixture.open(&work.path().to_string_lossy(), "./stacks/web/");
    let head = source.fetch().expect("fetch").commit;
    let snap = source.snapshot(&head).expect("snapshot");
    assert_eq!(
        snap.paths(),
        vec![PathBuf::from(".env"), "compose.yaml".into()]
    );
    assert!(
        matches!(snap.revision.origin, RevisionOrigin::Git { ref path, .. } if path == "stacks/web")
    );
}

/// A bare repository pushed into from a work clone: the push-to-deploy case.
#[test]
fn follows_pushes_to_a_bare_repository() {
    let root = tempfile::tempdir().expect("temp dir");
    let bare = root.path().join("deploy.git");
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "deploy.git"],
    );
    let work = stacks_repo();
    git(
        work.path(),
        &["remote", "add", "deploy", &bare.to_string_lossy()],
    );
    git(work.path(), &["push", "-q", "deploy", "main"]);

    let fixture = Fixture::new();
    let mut source = fixture.open(&bare.to_string_lossy(), "stacks");
    let first = source.fetch().expect("fetch");
    assert!(first.changed);
    assert_eq!(source.local_repo_dir(), Some(bare.clone()));

    work.write(
        "stacks/web/compose.yaml",
        "services: {web: {image: nginx}}\n",
    );
    let second = work.commit("Use nginx");
    git(work.path(), &["push", "-q", "deploy", "main"]);
    assert_eq!(
        source.fetch().expect("fetch"),
        Fetched {
            commit: second.clone(),
            changed: true
        }
    );
    assert_eq!(
        source.fetch().expect("fetch"),
        Fetched {
            commit: second.clone(),
            changed: false
        }
    );
    let snap = source.snapshot(&second).expect("snapshot");
    assert_eq!(
        snap.text(Path::new("web/compose.yaml")),
        Some("services: {web: {image: nginx}}\n")
    );
    // The older commit is still readable: local fetches are full.
    assert!(source.snapshot(&first.commit).is_ok());
}

#[test]
fn follows_a_force_push() {
    let root = tempfile::tempdir().expect("temp dir");
    let bare = root.path().join("deploy.git");
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "deploy.git"],
    );
    let work = stacks_repo();
    let base = git(work.path(), &["rev-parse", "HEAD"]);
    work.write("stacks/web/compose.yaml", "services: {a: {}}\n");
    work.commit("A");
    git(
        work.path(),
        &["push", "-q", &bare.to_string_lossy(), "main"],
    );

    let fixture = Fixture::new();
    let mut source = fixture.open(&bare.to_string_lossy(), "stacks");
    source.fetch().expect("fetch");

    git(work.path(), &["reset", "-q", "--hard", &base]);
    work.write("stacks/web/compose.yaml", "services: {b: {}}\n");
    let rewritten = work.commit("B instead of A");
    git(
        work.path(),
        &["push", "-q", "--force", &bare.to_string_lossy(), "main"],
    );

    let fetched = source.fetch().expect("fetch");
    assert_eq!(
        fetched,
        Fetched {
            commit: rewritten.clone(),
            changed: true
        }
    );
    let snap = source.snapshot(&rewritten).expect("snapshot");
    assert_eq!(
        snap.text(Path::new("web/compose.yaml")),
        Some("services: {b: {}}\n")
    );
}

#[test]
fn missing_branch_is_permanent() {
    let work = stacks_repo();
    let fixture = Fixture::new();
    let mut config = fixture.config(&work.path().to_string_lossy(), "");
    config.branch = "release".into();
    let mut source = GitSource::open(config).expect("open source");
    let err = source.fetch().expect_err("must fail");
    assert!(
        matches!(err, Error::BranchNotFound { ref branch, .. } if branch == "release"),
        "{err}"
    );
    assert!(!err.is_temporary());
    assert!(err.to_string().contains("\"release\""));
}

#[test]
fn deleted_branch_is_noticed_despite_the_stale_tracking_ref() {
    let work = stacks_repo();
    git(work.path(), &["branch", "feature"]);
    let fixture = Fixture::new();
    let mut config = fixture.config(&work.path().to_string_lossy(), "");
    config.branch = "feature".into();
    let mut source = GitSource::open(config).expect("open source");
    source.fetch().expect("fetch");
    git(work.path(), &["branch", "-D", "feature"]);
    assert!(matches!(source.fetch(), Err(Error::BranchNotFound { .. })));
}

#[test]
fn empty_repository_has_no_branch() {
    let work = Work::new();
    let fixture = Fixture::new();
    let mut source = fixture.open(&work.path().to_string_lossy(), "");
    assert!(matches!(source.fetch(), Err(Error::BranchNotFound { .. })));
}

#[test]
fn missing_path_is_permanent() {
    let work = stacks_repo();
    let fixture = Fixture::new();
    let mut source = fixture.open(&work.path().to_string_lossy(), "nope");
    let head = source.fetch().expect("fetch").commit;
    let err = source.snapshot(&head).expect_err("must fail");
    assert!(matches!(err, Error::PathNotFound { .. }), "{err}");
    assert!(!err.is_temporary());

    let file = fixture.open(&work.path().to_string_lossy(), "README.md");
    assert!(matches!(
        file.snapshot(&head),
        Err(Error::PathNotFound { .. })
    ));
}

#[test]
fn unknown_commit() {
    let work = stacks_repo();
    let fixture = Fixture::new();
    let source = fixture.open(&work.path().to_string_lossy(), "");
    let err = source
        .snapshot("0123456789012345678901234567890123456789")
        .expect_err("must fail");
    assert!(matches!(err, Error::CommitNotFound { .. }), "{err}");
}

#[test]
fn nonexistent_repository_is_permanent() {
    let root = tempfile::tempdir().expect("temp dir");
    let fixture = Fixture::new();
    for url in [
        root.path().join("nope").to_string_lossy().into_owned(),
        format!("file://{}", root.path().display()),
    ] {
        let mut source = fixture.open(&url, "");
        let err = source.fetch().expect_err("must fail");
        assert!(
            matches!(err, Error::RepositoryNotFound { .. }),
            "{url}: {err}"
        );
        assert!(!err.is_temporary());
    }
}

#[test]
fn cache_is_reused_and_wiped_on_url_change() {
    let work = stacks_repo();
    let url = work.path().to_string_lossy().into_owned();
    let fixture = Fixture::new();
    let head = fixture.open(&url, "").fetch().expect("fetch").commit;

    // Reopened: the commit is already there without fetching.
    let again = fixture.open(&url, "");
    assert!(again.snapshot(&head).is_ok());
    drop(again);

    let other = stacks_repo();
    other.write("other.txt", "x").commit("Other repository");
    let mut moved = fixture.open(&other.path().to_string_lossy(), "");
    assert!(
        matches!(moved.snapshot(&head), Err(Error::CommitNotFound { .. })),
        "the old repository's objects are gone"
    );
    let fetched = moved.fetch().expect("fetch");
    assert!(
        moved
            .snapshot(&fetched.commit)
            .expect("snapshot")
            .files
            .contains_key(Path::new("other.txt"))
    );
}

#[test]
fn refuses_to_wipe_a_directory_that_is_not_the_cache() {
    let work = stacks_repo();
    let fixture = Fixture::new();
    let dir = fixture.cache.path().join("repo");
    std::fs::create_dir_all(&dir).expect("test setup");
    std::fs::write(dir.join("precious.txt"), "keep me").expect("write fixture");
    let err =
        GitSource::open(fixture.config(&work.path().to_string_lossy(), "")).expect_err("must fail");
    assert!(matches!(err, Error::CacheNotOurs { .. }), "{err}");
    assert!(dir.join("precious.txt").exists());

    // Someone else's bare repository is not ours either.
    let foreign = fixture.cache.path().join("foreign.git");
    git(
        fixture.cache.path(),
        &["init", "-q", "--bare", "foreign.git"],
    );
    let mut config = fixture.config(&work.path().to_string_lossy(), "");
    config.cache_dir = foreign.clone();
    assert!(matches!(
        GitSource::open(config),
        Err(Error::CacheNotOurs { .. })
    ));
    assert!(foreign.join("HEAD").exists());

    // An empty directory is fine.
    let empty = fixture.cache.path().join("empty");
    std::fs::create_dir(&empty).expect("test setup");
    let mut config = fixture.config(&work.path().to_string_lossy(), "");
    config.cache_dir = empty;
    assert!(
        GitSource::open(config)
            .expect("open source")
            .fetch()
            .is_ok()
    );
}

#[test]
fn file_size_limit() {
    let work = Work::new();
    let big = "x".repeat(usize::try_from(snapshot::MAX_FILE_BYTES).expect("test setup") + 1);
    work.write("stacks/big.txt", &big)
        .write("stacks/ok.txt", "ok");
    work.commit("Big file");
    let fixture = Fixture::new();
    let mut source = fixture.open(&work.path().to_string_lossy(), "stacks");
    let head = source.fetch().expect("fetch").commit;
    let err = source.snapshot(&head).expect_err("must fail");
    match err {
        Error::Snapshot(SnapshotError::TooLarge {
            ref path,
            bytes,
            limit,
        }) => {
            assert_eq!(path, Path::new("stacks/big.txt"));
            assert_eq!(bytes, snapshot::MAX_FILE_BYTES + 1);
            assert_eq!(limit, snapshot::MAX_FILE_BYTES);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn total_size_limit() {
    let work = Work::new();
    work.write("a.txt", "12345").write("b.txt", "12345");
    let head = work.commit("Two files");
    let repo = Repository::open(work.path()).expect("test setup");
    let tree = repo
        .find_commit(Oid::from_str(&head).expect("test setup"))
        .expect("test setup")
        .tree()
        .expect("test setup");
    let base = PathBuf::new();
    let mut reader = TreeReader::new(&repo, &head, &base);
    reader.max_total = 9;
    let err = reader.read(tree.clone()).expect_err("must fail");
    assert!(
        matches!(
            err,
            Error::Snapshot(SnapshotError::TooLarge {
                bytes: 10,
                limit: 9,
                ..
            })
        ),
        "{err}"
    );
    reader.max_total = 10;
    assert_eq!(reader.read(tree).expect("test setup").len(), 2);
}

#[test]
fn skips_symlinks_and_submodules_keeps_executables() {
    let work = Work::new();
    work.write("stacks/compose.yaml", "services: {}\n")
        .write("stacks/run.sh", "#!/bin/sh\n");
    let script = work.path().join("stacks/run.sh");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("test setup");
    std::os::unix::fs::symlink("/etc/passwd", work.path().join("stacks/link")).expect("test setup");
    let inner = work.commit("Files");
    git(
        work.path(),
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{inner},stacks/sub"),
        ],
    );
    git(work.path(), &["commit", "-q", "-m", "Submodule"]);
    let fixture = Fixture::new();
    let mut source = fixture.open(&work.path().to_string_lossy(), "stacks");
    let head = source.fetch().expect("fetch").commit;
    let tree = git(work.path(), &["ls-tree", "HEAD", "stacks/"]);
    assert!(
        tree.contains("120000") && tree.contains("160000") && tree.contains("100755"),
        "{tree}"
    );
    let snap = source.snapshot(&head).expect("snapshot");
    assert_eq!(
        snap.paths(),
        vec![PathBuf::from("compose.yaml"), "run.sh".into()]
    );
}

#[test]
fn rejects_bad_config() {
    let fixture = Fixture::new();
    let mut config = fixture.config("/tmp/x", "");
    config.branch = "bad..name".into();
    assert!(matches!(
        GitSource::open(config),
        Err(Error::InvalidConfig { .. })
    ));
    let mut config = fixture.config("/tmp/x", "");
    config.branch = "a:b".into();
    assert!(matches!(
        GitSource::open(config),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        GitSource::open(fixture.config("", "")),
        Err(Error::InvalidConfig { .. })
    ));
}

#[test]
fn unreachable_host_is_temporary() {
    let fixture = Fixture::new();
    // Port 1 on loopback: connection refused at once, no real network needed.
    let mut source = fixture.open("http://127.0.0.1:1/repo.git", "");
    let err = source.fetch().expect_err("must fail");
    assert!(matches!(err, Error::Fetch { .. }), "{err}");
    assert!(err.is_temporary(), "{err}");
    assert!(source.local_repo_dir().is_none());
}

/// An HTTP server that refuses every request with 401 and reports the Authorization headers
/// it saw.
fn refusing_server() -> (String, std::sync::mpsc::Receiver<Option<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test setup");
    let url = format!(
        "http://{}/repo.git",
        listener.local_addr().expect("test setup")
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let auth = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Authorization: ")
                        .or_else(|| l.strip_prefix("authorization: "))
                })
                .map(str::to_owned);
            let _ = tx.send(auth);
            let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
        }
    });
    (url, rx)
}

#[test]
fn rejected_token_is_tried_once_and_never_shown() {
    use base64::Engine as _;
    let (url, seen) = refusing_server();
    let fixture = Fixture::new();
    let mut config = fixture.config(&url, "");
    config.credentials.token = Some(credentials::Secret::from("s3cret-token".to_owned()));
    // The test server speaks plain http on loopback.
    config.credentials.allow_insecure_auth = true;
    let mut source = GitSource::open(config).expect("open source");
    let err = source.fetch().expect_err("must fail");
    let text = err.to_string();
    assert!(
        matches!(err, Error::Auth(credentials::Error::AuthFailed { .. })),
        "{text}"
    );
    assert!(!err.is_temporary());
    assert!(text.contains(&url) && text.contains("token"), "{text}");
    assert!(
        !text.contains("s3cret-token") && !format!("{err:?}").contains("s3cret-token"),
        "{text}"
    );

    let headers: Vec<Option<String>> = seen.try_iter().collect();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("x-access-token:s3cret-token")
    );
    let with_token = headers
        .iter()
        .filter(|h| h.as_deref() == Some(expected.as_str()))
        .count();
    assert_eq!(
        with_token, 1,
        "the token is offered exactly once: {headers:?}"
    );
}

#[test]
fn a_token_is_never_sent_over_plain_http_unless_allowed() {
    let (url, seen) = refusing_server();
    let fixture = Fixture::new();
    let mut config = fixture.config(&url.replacen("http://", "HTTP://", 1), "");
    config.credentials.token = Some(credentials::Secret::from("s3cret-token".to_owned()));
    let Err(err) = GitSource::open(config) else {
        panic!("a token over http:// must be refused");
    };
    assert!(matches!(err, Error::InsecureAuth { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("--allow-insecure-git-auth"), "{text}");
    assert!(!text.contains("s3cret-token"), "{text}");
    assert_eq!(seen.try_iter().count(), 0, "nothing was sent");
    // Without a token, plain http is fine (public mirrors).
    assert!(GitSource::open(fixture.config(&url, "")).is_ok());
}

#[test]
fn auth_required_without_credentials() {
    let (url, _seen) = refusing_server();
    let fixture = Fixture::new();
    let mut source = fixture.open(&url, "");
    let err = source.fetch().expect_err("must fail");
    assert!(err.to_string().contains("tried: none"), "{err}");
    assert!(!err.is_temporary());
}

/// `git daemon` serving `root` on a free loopback port; killed on drop.
struct Daemon {
    child: std::process::Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git_daemon(root: &Path) -> Option<Daemon> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    // Run `git-daemon` itself: `git daemon` forks it, and killing `git` would orphan it.
    let exec_path = git(root, &["--exec-path"]);
    let child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .args([
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            "--informative-errors",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", root.display()))
        .arg(root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let daemon = Daemon { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(daemon);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

/// The network path: a shallow fetch over `git://`, then new and rewritten commits.
#[test]
fn shallow_fetch_over_the_network() {
    let root = tempfile::tempdir().expect("temp dir");
    let bare = root.path().join("deploy.git");
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "deploy.git"],
    );
    let work = stacks_repo();
    let old = git(work.path(), &["rev-parse", "HEAD"]);
    work.write("stacks/web/compose.yaml", "services: {v2: {}}\n");
    let second = work.commit("Second");
    git(
        work.path(),
        &["push", "-q", &bare.to_string_lossy(), "main"],
    );
    let Some(daemon) = git_daemon(root.path()) else {
        eprintln!("git daemon unavailable; skipping");
        return;
    };
    let url = format!("git://127.0.0.1:{}/deploy.git", daemon.port);
    let fixture = Fixture::new();
    let mut source = fixture.open(&url, "stacks");
    assert_eq!(
        source.fetch().expect("fetch"),
        Fetched {
            commit: second.clone(),
            changed: true
        }
    );
    let cache = Repository::open_bare(fixture.cache.path().join("repo")).expect("test setup");
    assert!(cache.is_shallow(), "network fetches are shallow");
    assert!(
        cache
            .find_commit(Oid::from_str(&old).expect("test setup"))
            .is_err(),
        "history was not fetched"
    );
    let snap = source.snapshot(&second).expect("snapshot");
    assert_eq!(
        snap.text(Path::new("web/compose.yaml")),
        Some("services: {v2: {}}\n")
    );
    assert!(source.local_repo_dir().is_none());

    git(work.path(), &["reset", "-q", "--hard", &old]);
    let rewritten = work
        .write("stacks/web/compose.yaml", "services: {v3: {}}\n")
        .commit("Rewritten");
    git(
        work.path(),
        &["push", "-q", "--force", &bare.to_string_lossy(), "main"],
    );
    assert_eq!(
        source.fetch().expect("fetch"),
        Fetched {
            commit: rewritten.clone(),
            changed: true
        }
    );
    assert!(!source.fetch().expect("fetch").changed);
    assert!(source.snapshot(&rewritten).is_ok());

    let mut missing = Fixture::new().open(&format!("git://127.0.0.1:{}/nope.git", daemon.port), "");
    let err = missing.fetch().expect_err("must fail");
    assert!(!err.is_temporary(), "{err:?}");
}

/// The controller runs fetches on blocking threads.
#[test]
fn source_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<GitSource>();
    assert_send::<Error>();
}

#[test]
fn locations() {
    let net = |port| Ok(Location::Network { ssh_port: port });
    assert_eq!(locate("https://github.com/a/b.git"), net(22));
    assert_eq!(locate("ssh://git@host:2222/a/b.git"), net(2222));
    assert_eq!(locate("ssh://host/a/b.git"), net(22));
    assert_eq!(locate("ssh://git@[::1]:2200/a"), net(2200));
    assert_eq!(locate("git@github.com:a/b.git"), net(22));
    assert_eq!(locate("host:repo"), net(22));
    assert_eq!(
        locate("file:///srv/git/a%20b.git"),
        Ok(Location::Local("/srv/git/a b.git".into()))
    );
    assert_eq!(
        locate("file://localhost/srv/x"),
        Ok(Location::Local("/srv/x".into()))
    );
    assert_eq!(
        locate("/srv/git/repo"),
        Ok(Location::Local("/srv/git/repo".into()))
    );
    assert_eq!(
        locate("./dir:with/colon"),
        Ok(Location::Local(
            std::path::absolute("./dir:with/colon").expect("test setup")
        ))
    );
    assert!(matches!(locate("relative/repo"), Ok(Location::Local(p)) if p.is_absolute()));
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

#[test]
fn masks_urls() {
    assert_eq!(
        mask_url("https://user:pw@host/a.git"),
        "https://***@host/a.git"
    );
    assert_eq!(
        mask_url("https://ghp_token@host/a.git"),
        "https://***@host/a.git"
    );
    assert_eq!(mask_url("ssh://git@host/a.git"), "ssh://git@host/a.git");
    assert_eq!(
        mask_url("ssh://git:pw@host/a@b.git"),
        "ssh://git:***@host/a@b.git"
    );
    assert_eq!(mask_url("https://host/a@b.git"), "https://host/a@b.git");
    assert_eq!(mask_url("git@host:a.git"), "git@host:a.git");
}

#[test]
fn classifies_fetch_errors() {
    use git2::{ErrorClass as Class, ErrorCode as Code};
    let e = |code, class, msg: &str| fetch_is_temporary(&git2::Error::new(code, class, msg));
    assert!(e(
        Code::GenericError,
        Class::Net,
        "failed to connect to host: Connection refused"
    ));
    assert!(e(
        Code::GenericError,
        Class::Http,
        "unexpected http status code: 503"
    ));
    assert!(!e(
        Code::GenericError,
        Class::Http,
        "unexpected http status code: 404"
    ));
    assert!(e(
        Code::GenericError,
        Class::Http,
        "unexpected HTTP status code: 429"
    ));
    assert!(!e(Code::Auth, Class::Http, "authentication required"));
    assert!(!e(
        Code::Certificate,
        Class::Ssl,
        "certificate is not valid"
    ));
    assert!(!e(
        Code::GenericError,
        Class::Ssh,
        "ERROR: Repository not found."
    ));
    assert!(e(Code::Timeout, Class::Net, "timed out"));
    assert!(!e(Code::GenericError, Class::Reference, "bad ref"));
    assert_eq!(http_status("unexpected http status code: 404"), Some(404));
    assert_eq!(http_status("nothing"), None);
}
