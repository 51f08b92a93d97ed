//! What the Docker engine runs for a stack, read cheaply enough to sample ten times a second:
//! one `GET /containers/json` on the engine's Unix socket (no process per sample), or the
//! `docker` CLI when `DOCKER_HOST` points elsewhere.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::docker::{STACK_LABEL, docker};

/// One container of the stack as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Full container id.
    pub id: String,
    /// `running`, `exited`, `created`…
    pub state: String,
    /// Image reference it was created from.
    pub image: String,
    /// `io.reconciler.task`.
    pub task: String,
    /// `io.reconciler.service` (the full service name).
    pub service: String,
    /// `io.reconciler.slot` (empty for global tasks).
    pub slot: String,
    /// `io.reconciler.node` (the owning node's id).
    pub node: String,
}

impl Listed {
    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    /// The replica identity: the slot, or the node for a global task.
    pub fn slot_key(&self) -> String {
        if self.slot.is_empty() || self.slot == "0" {
            format!("{}@{}", self.service, self.node)
        } else {
            format!("{}.{}", self.service, self.slot)
        }
    }
}

/// Every container (running or not) of `stack`.
pub fn list(stack: &str) -> Result<Vec<Listed>, String> {
    let json = match socket_path() {
        Some(socket) => list_over_socket(&socket, stack)?,
        None => list_with_cli(stack)?,
    };
    Ok(json.iter().map(parse).collect())
}

/// The engine's Unix socket, unless `DOCKER_HOST` names something else.
fn socket_path() -> Option<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => host.strip_prefix("unix://").map(str::to_owned),
        _ => Some("/var/run/docker.sock".to_owned()),
    }
}

fn list_over_socket(socket: &str, stack: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("{socket}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let filters = format!(r#"{{"label":["{STACK_LABEL}={stack}"]}}"#);
    // HTTP/1.0: the engine closes the connection after an unchunked body.
    write!(
        stream,
        "GET /containers/json?all=1&filters={} HTTP/1.0\r\nHost: docker\r\n\r\n",
        percent_encode(&filters)
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {response:?}"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!("engine answered {head:?}: {body}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

fn list_with_cli(stack: &str) -> Result<Vec<serde_json::Value>, String> {
    let filter = format!("label={STACK_LABEL}={stack}");
    let ids = docker(&["ps", "-aq", "--no-trunc", "--filter", &filter])?;
    let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["inspect"];
    args.extend(ids);
    let text = docker(&args)?;
    let inspected: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    // Shape them like the list endpoint's entries.
    Ok(inspected
        .iter()
        .map(|c| {
            serde_json::json!({
                "Id": c["Id"],
                "State": c["State"]["Status"],
                "Image": c["Config"]["Image"],
                "Labels": c["Config"]["Labels"],
            })
        })
        .collect())
}

fn parse(c: &serde_json::Value) -> Listed {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let label = |k: &str| text(&c["Labels"][k]);
    Listed {
        id: text(&c["Id"]),
        state: text(&c["State"]),
        image: text(&c["Image"]),
        task: label("io.reconciler.task"),
        service: label("io.reconciler.service"),
        slot: label("io.reconciler.slot"),
        node: label("io.reconciler.node"),
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_percent_encoded() {
        assert_eq!(
            percent_encode(r#"{"label":["a=b"]}"#),
            "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"
        );
    }

    #[test]
    fn global_tasks_are_keyed_by_node() {
        let c = parse(&serde_json::json!({
            "Id": "c1", "State": "running", "Image": "i",
            "Labels": {"io.reconciler.service": "s_web", "io.reconciler.node": "n1"}
        }));
        assert_eq!(c.slot_key(), "s_web@n1");
    }
}
