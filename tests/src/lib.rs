//! Harness for the workspace's integration tests: real `reconciler` processes, real files.
//!
//! # Layout
//! - [`reconciler`]: find (or build) the `reconciler` binary and run it, capturing output.
//! - [`repo_root`]: the workspace root, for fixtures such as `examples/stacks`.
//! - [`Process`]: a long-running `reconciler` (a manager) that is killed when dropped.
//! - [`wait_until`]: poll a condition with a deadline, failing with what was last seen.
//! - [`GitRepo`]: a bare repository plus a work clone to commit and push from.
//! - [`cluster`]: clusters of several real processes on 127.0.0.x.
//! - [`chaos`]: a six-node cluster on the real engine, faults, and a continuous invariant checker.
//!
//! Tests live in `tests/tests/tNN_*.rs`, numbered by layer: `t1x` CLI, later `t2x` single-node
//! clusters, `t3x` multi-node clusters, `t5x` Docker end to end, `t8x`
//! chaos.

pub mod chaos;
pub mod cluster;
pub mod docker;
pub mod sim;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of the `reconciler` binary built by this test run.
pub fn reconciler_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> → target/<profile>/reconciler
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target profile dir")
            .to_path_buf();
        let bin = profile_dir.join("reconciler");
        // Building it here would wait forever on the build-directory lock that the running
        // `cargo test` holds; the workspace run builds it (controller has integration tests).
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p controller` first, or test the whole workspace",
            bin.display()
        );
        bin
    })
}

/// Output of one `reconciler` run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run `reconciler ARGS…` in `dir` with a clean, colourless environment.
pub fn reconciler(dir: &Path, args: &[&str]) -> Run {
    Command::new(reconciler_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run reconciler")
        .into()
}

/// A running `reconciler` process, killed (SIGKILL) and reaped when dropped.
pub struct Process {
    child: std::process::Child,
    /// Its log file (standard error and standard output).
    pub log: PathBuf,
}

impl Process {
    /// Start `reconciler ARGS…` in `dir`, logging to `dir/<name>.log`.
    pub fn start(dir: &Path, name: &str, args: &[&str]) -> Process {
        Process::start_with_env(dir, name, args, &[])
    }

    /// Like [`Process::start`], with extra environment variables.
    pub fn start_with_env(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Process {
        Process::start_in_cgroup(dir, name, args, env, None)
    }

    /// Like [`Process::start_with_env`], started inside the cgroup (v2) directory `cgroup` when
    /// one is given: a shell joins it and then execs `reconciler`, so every socket the process
    /// ever opens belongs to that cgroup (what netfilter rules match to cut a node off), and the
    /// pid stays the same.
    pub fn start_in_cgroup(
        dir: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        cgroup: Option<&Path>,
    ) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = match cgroup {
            Some(cgroup) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
                    .arg(cgroup)
                    .arg(reconciler_bin());
                sh
            }
            None => Command::new(reconciler_bin()),
        };
        command
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("RECONCILER_LOG", "info,openraft=warn")
            // Tests run in parallel: every manager takes a free port unless a test says where.
            .env("RECONCILER_LISTEN_ADDR", "127.0.0.1:0")
            // Only the Docker tests run tasks on the engine; they ask with RECONCILER_AGENT=true.
            .env("RECONCILER_AGENT", "false")
            .envs(env.iter().copied().filter(|(_, v)| !v.is_empty()))
            // Standard output (what the node tells its operator, e.g. an autolock key) goes to
            // the same log as the log lines.
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        // An empty value in `env` unsets the variable (e.g. the listen address set above).
        for (key, _) in env.iter().filter(|(_, v)| v.is_empty()) {
            command.env_remove(key);
        }
        let child = command.spawn().expect("start reconciler");
        Process { child, log }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, like a crash or a pulled plug, and reap it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a clean stop) and wait up to `timeout` for it to exit; returns its exit code
    /// (`None` if it had to be killed).
    pub fn terminate(&mut self, timeout: std::time::Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait_exit(timeout).or_else(|| {
            self.kill9();
            None
        })
    }

    /// Waits up to `timeout` for the process to exit by itself; its exit code, or `None`.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `probe` every 50 ms until it returns `Some`, or panic after `timeout` with `what` and the
/// last observation.
pub fn wait_until<T>(
    timeout: std::time::Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        match probe() {
            Ok(v) => return v,
            Err(seen) => last = seen,
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
}

/// Run `git ARGS…` in `dir` with a fixed identity; panics with git's output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository (what the manager follows) and a work clone to push from.
pub struct GitRepo {
    /// The bare repository.
    pub bare: PathBuf,
    /// The work clone.
    pub work: PathBuf,
}

impl GitRepo {
    /// Create both under `dir`, with branch `main`.
    pub fn new(dir: &Path) -> GitRepo {
        let bare = dir.join("origin.git");
        let work = dir.join("work");
        std::fs::create_dir_all(&bare).expect("mkdir");
        std::fs::create_dir_all(&work).expect("mkdir");
        git(&bare, &["init", "--bare", "-q", "-b", "main"]);
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["remote", "add", "origin", &bare.to_string_lossy()]);
        GitRepo { bare, work }
    }

    /// Write `path` in the work clone.
    pub fn write(&self, path: &str, text: &str) {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }

    /// Remove `path` from the work clone.
    pub fn remove(&self, path: &str) {
        git(&self.work, &["rm", "-q", "-r", path]);
    }

    /// Start a manager (`name`, logging to `dir/<name>.log`) with its state in `data` that
    /// follows `stacks/` on `main` of the bare repository (pushes are seen at once; the poll
    /// interval is an hour), with extra environment `env`.
    pub fn follow(&self, dir: &Path, name: &str, data: &Path, env: &[(&str, &str)]) -> Process {
        let bare = self.bare.to_string_lossy().into_owned();
        let data = data.to_string_lossy().into_owned();
        Process::start_with_env(
            dir,
            name,
            &[
                "--repo",
                &bare,
                "--path",
                "stacks",
                "--data-dir",
                &data,
                "--interval",
                "1h",
            ],
            env,
        )
    }

    /// Commit everything and push to the bare repository; returns the commit SHA.
    pub fn commit_and_push(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work, &["push", "-q", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

/// `reconciler status --json` for a data directory, parsed.
pub fn status_json(dir: &Path, data_dir: &Path) -> Result<serde_json::Value, String> {
    let run = reconciler(
        dir,
        &[
            "status",
            "--json",
            "--data-dir",
            &data_dir.to_string_lossy(),
        ],
    );
    if run.stdout.trim().is_empty() {
        return Err(format!("exit {} {}", run.code, run.stderr.trim()));
    }
    serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))
}

/// Waits up to `within` until the manager with `data_dir` has commit `id` applied; returns its
/// `status --json`.
pub fn wait_applied(
    dir: &Path,
    data_dir: &Path,
    id: &str,
    within: std::time::Duration,
) -> serde_json::Value {
    wait_until(within, &format!("commit {id} applied"), || {
        let s = status_json(dir, data_dir)?;
        (s["applied"]["revision"]["id"].as_str() == Some(id))
            .then(|| s.clone())
            .ok_or_else(|| s.to_string())
    })
}

/// Prints one benchmark figure as `figure: KEY VALUE UNIT`, the line `tests/bench-report.sh`
/// collects into its report (and compares with the previous one).
pub fn figure(key: &str, value: f64, unit: &str) {
    println!("figure: {key} {value:.2} {unit}");
}

/// A benchmark setting from the environment (`FAILOVER_TRIALS=5`…), or `default` when unset or
/// not a number.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
