//! The real Docker engine in end-to-end tests: whether one answers, the locally built test
//! images, and the containers a test's stacks left on it (read and removed through the
//! `docker` CLI, the way an operator would check).

use std::process::Command;
use std::sync::OnceLock;

use crate::repo_root;

/// Label every container of a stack carries (as `docker stack deploy` sets it).
pub const STACK_LABEL: &str = "com.docker.stack.namespace";
/// Label naming the node (id) whose agent owns a container.
pub const NODE_LABEL: &str = "io.reconciler.node";

/// Whether the engine answers; without one, a Docker test returns early — unless `CI` is set,
/// where a missing engine is a failure, not a skip.
pub fn engine_or_skip(test: &str) -> bool {
    static UP: OnceLock<bool> = OnceLock::new();
    let up = *UP.get_or_init(|| {
        Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI is set but no Docker engine answers `docker info`"
        );
        eprintln!(
            "{test}: skipped, no Docker engine answers `docker info` (set CI to fail instead)"
        );
    }
    up
}

/// Builds `reconciler-test/echo:1`, `:2`, `:bad` and `reconciler-test/proxy:1` once per test
/// process (tests/images/build.sh; a second run in another process is a cache hit).
pub fn build_images() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let script = repo_root().join("tests/images/build.sh");
        let out = Command::new(&script)
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed: {}{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
}

/// `docker ARGS…`; stdout on success, the error text otherwise.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// One container as `docker ps` and `docker inspect` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image reference it was created from.
    pub image: String,
    /// `running`, `exited`, `created`…
    pub state: String,
    /// When it last started (changes if it is restarted).
    pub started_at: String,
    /// Its labels.
    pub labels: serde_json::Map<String, serde_json::Value>,
}

impl Container {
    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> &str {
        self.labels.get(key).and_then(|v| v.as_str()).unwrap_or("")
    }

    /// The service part of `<stack>_<service>.<slot>.<task>`.
    pub fn service(&self) -> &str {
        let after_stack = self.name.split_once('_').map_or("", |(_, rest)| rest);
        after_stack.split('.').next().unwrap_or("")
    }
}

/// Every container (running or not) carrying label `key=value`.
pub fn containers_with(key: &str, value: &str) -> Vec<Container> {
    let filter = format!("label={key}={value}");
    let ids = docker(&["ps", "-aq", "--no-trunc", "--filter", &filter]).unwrap_or_default();
    let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["inspect"];
    args.extend(ids);
    // A container may vanish between the two calls; then the next poll sees the truth.
    let Ok(text) = docker(&args) else {
        return Vec::new();
    };
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
    parsed
        .iter()
        .map(|c| Container {
            id: c["Id"].as_str().unwrap_or_default().to_owned(),
            name: c["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: c["Config"]["Image"].as_str().unwrap_or_default().to_owned(),
            state: c["State"]["Status"].as_str().unwrap_or_default().to_owned(),
            started_at: c["State"]["StartedAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            labels: c["Config"]["Labels"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        })
        .collect()
}

/// Containers of `stack`.
pub fn stack_containers(stack: &str) -> Vec<Container> {
    containers_with(STACK_LABEL, stack)
}

/// Running containers of `stack`'s `service` (short name).
pub fn running(stack: &str, service: &str) -> Vec<Container> {
    stack_containers(stack)
        .into_iter()
        .filter(|c| c.running() && c.service() == service)
        .collect()
}

/// Removes what `stack` left on the engine: containers, then its networks and volumes. Runs on
/// drop so a failing test cleans up too.
pub struct StackCleanup(pub String);

impl Drop for StackCleanup {
    fn drop(&mut self) {
        let stack = &self.0;
        let ids: Vec<String> = stack_containers(stack).into_iter().map(|c| c.id).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = docker(&args);
        }
        let filter = format!("label={STACK_LABEL}={stack}");
        for kind in ["network", "volume"] {
            let names = docker(&[kind, "ls", "-q", "--filter", &filter]).unwrap_or_default();
            for name in names.lines().filter(|l| !l.is_empty()) {
                let _ = docker(&[kind, "rm", name]);
            }
        }
    }
}

/// A stack name no other test run uses (container and network names derive from it).
pub fn unique_stack(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}{:x}{:x}",
        std::process::id() % 0xfff,
        nanos % 0xffff
    )
}

/// GETs `http://addr/` and returns the body.
pub fn http_get(addr: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .ok_or_else(|| format!("no HTTP response: {response:?}"))
}
