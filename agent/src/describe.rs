//! What a node reports about itself: hostname, platform, resources and its Docker engine.
//!
//! Resources come from the engine when one answers (it knows the limits containers really get)
//! and from the host otherwise. The engine is asked over its Unix socket with one plain
//! HTTP/1.0 request, so describing a node needs no Docker client library and never blocks on a
//! missing daemon for longer than [`ENGINE_TIMEOUT`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crds::node::NodeDescription;
use crds::units::{ByteSize, Cpus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the Docker engine listens unless `DOCKER_HOST` says `unix://…`.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// How long the engine gets to answer `GET /info`.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineInfo {
    /// `ServerVersion`.
    pub version: String,
    /// `NCPU`.
    pub cpus: Option<u32>,
    /// `MemTotal`, bytes.
    pub memory: Option<u64>,
    /// `Labels` (`key=value` strings).
    pub labels: BTreeMap<String, String>,
}

/// The socket path of the engine: `DOCKER_HOST=unix:///path` or the default.
pub fn docker_socket() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(host) => match host.strip_prefix("unix://") {
            Some(path) => path.to_owned(),
            None => DEFAULT_DOCKER_SOCKET.to_owned(),
        },
        Err(_) => DEFAULT_DOCKER_SOCKET.to_owned(),
    }
}

/// Asks the engine at `socket` for `/info`; `None` when no engine answers in time.
pub async fn engine_info(socket: &Path) -> Option<EngineInfo> {
    let body = tokio::time::timeout(ENGINE_TIMEOUT, get(socket, "/info"))
        .await
        .ok()??;
    parse_info(&body)
}

async fn get(socket: &Path, path: &str) -> Option<Vec<u8>> {
    let mut stream = tokio::net::UnixStream::connect(socket).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = response.split(|b| *b == b'\n').next()?;
    if !status.windows(5).any(|w| w == b" 200 ") {
        return None;
    }
    Some(response[split + 4..].to_vec())
}

/// Reads the fields we use from the engine's `/info` JSON.
pub fn parse_info(body: &[u8]) -> Option<EngineInfo> {
    let info: serde_json::Value = serde_json::from_slice(body).ok()?;
    let labels = info["Labels"]
        .as_array()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|l| l.as_str()?.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Some(EngineInfo {
        version: info["ServerVersion"].as_str()?.to_owned(),
        cpus: info["NCPU"].as_u64().and_then(|n| u32::try_from(n).ok()),
        memory: info["MemTotal"].as_u64(),
        labels,
    })
}

/// This host's name (kernel hostname), or `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Total memory of the host in bytes from `/proc/meminfo`.
pub fn host_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&meminfo)
}

/// The `MemTotal` line of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Describes this node: `hostname` (usually [`hostname()`]), `advertise_addr`, and what the
/// engine (or, without one, the host) reports.
pub async fn describe(hostname: String, advertise_addr: String) -> NodeDescription {
    let engine = engine_info(Path::new(&docker_socket())).await;
    let host_cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let cpus = engine.as_ref().and_then(|e| e.cpus).unwrap_or(host_cpus);
    let memory = engine
        .as_ref()
        .and_then(|e| e.memory)
        .or_else(host_memory)
        .unwrap_or(0);
    NodeDescription {
        hostname,
        advertise_addr,
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        cpus: Cpus(u64::from(cpus) * 1_000_000_000),
        memory: ByteSize(memory),
        engine_version: engine.as_ref().map(|e| e.version.clone()),
        engine_labels: engine.map(|e| e.labels).unwrap_or_default(),
        raft_id: 0,
    }
}

#[cfg(test)]
#[path = "describe_test.rs"]
mod tests;
