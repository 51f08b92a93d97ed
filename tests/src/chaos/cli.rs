//! The cluster as its CLI reports it, with a deadline on every call: a frozen or cut-off manager
//! must not stall a sampler or a scenario, so a call that does not answer in time is killed and
//! counts as no answer.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Run, reconciler_bin};

/// How long one CLI call may take before it counts as no answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// `reconciler ARGS… --data-dir DATA`, killed after `timeout`.
pub fn call(data: &Path, args: &[&str], timeout: Duration) -> Result<Run, String> {
    let data = data.to_string_lossy();
    let mut child = Command::new(reconciler_bin())
        .args(args)
        .args(["--data-dir", &data])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start reconciler: {e}"))?;
    // Read both pipes while waiting: a large answer would otherwise block the child on a full
    // pipe and look like a hang.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{}` did not answer in {timeout:?}",
                    args.join(" ")
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    Ok(Run {
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// A JSON answer of `reconciler ARGS…` (exit 0 and parseable stdout), or why not.
pub fn json(data: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let run = call(data, args, CALL_TIMEOUT)?;
    if run.code != 0 && run.stdout.trim().is_empty() {
        return Err(format!("exit {}: {}", run.code, run.stderr.trim()));
    }
    serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))
}

/// `status --json` (exit 1, a rejected newest revision, still prints the record).
pub fn status(data: &Path) -> Result<serde_json::Value, String> {
    json(data, &["status", "--json"])
}

/// `service ls --format json`.
pub fn services(data: &Path) -> Result<Vec<serde_json::Value>, String> {
    array(json(data, &["service", "ls", "--format", "json"])?)
}

/// `service ls --format json`, refused when the manager marks its answer possibly stale (it
/// cannot reach a quorum, so it may not know the newest state).
pub fn fresh_services(data: &Path) -> Result<Vec<serde_json::Value>, String> {
    let args = ["service", "ls", "--format", "json"];
    let run = call(data, &args, CALL_TIMEOUT)?;
    if run.stderr.contains("may be stale") {
        return Err(run.stderr.trim().to_owned());
    }
    if run.code != 0 {
        return Err(format!("exit {}: {}", run.code, run.stderr.trim()));
    }
    serde_json::from_str(&run.stdout)
        .map_err(|e| format!("{e}: {}", run.stdout))
        .and_then(array)
}

/// `stack ps STACK --format json`: every task of the stack, history included.
pub fn stack_tasks(data: &Path, stack: &str) -> Result<Vec<serde_json::Value>, String> {
    array(json(data, &["stack", "ps", stack, "--format", "json"])?)
}

/// `service ps SERVICE --format json`.
pub fn service_tasks(data: &Path, service: &str) -> Result<Vec<serde_json::Value>, String> {
    array(json(data, &["service", "ps", service, "--format", "json"])?)
}

/// `node ls --format json`.
pub fn nodes(data: &Path) -> Result<Vec<serde_json::Value>, String> {
    array(json(data, &["node", "ls", "--format", "json"])?)
}

fn array(value: serde_json::Value) -> Result<Vec<serde_json::Value>, String> {
    match value {
        serde_json::Value::Array(items) => Ok(items),
        other => Err(format!("not a JSON array: {other}")),
    }
}

/// The id of the applied revision in a `status --json` answer.
pub fn applied_revision(status: &serde_json::Value) -> Option<&str> {
    status["applied"]["revision"]["id"].as_str()
}
