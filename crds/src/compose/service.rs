//! A service entry of a compose file, as written (before names and defaults are resolved).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::deploy::Deploy;
use super::syntax::{ListOrMap, ScalarValue, StringOrList};
use crate::port::{PortMode, Protocol};
use crate::units::Duration;

/// One entry under `services:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Image to run, e.g. `nginx:1.27` (required: clusters do not build images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Build instructions; not supported by clusters, kept only to explain the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<serde_json::Value>,
    /// Overrides the image's `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<StringOrList>,
    /// Overrides the image's `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<StringOrList>,
    /// Environment variables (list of `KEY=value` or a map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<ListOrMap>,
    /// Files of `KEY=value` lines read into the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<EnvFiles>,
    /// Labels on the containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<ListOrMap>,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortEntry>,
    /// Networks to attach to (default: the stack's `default` network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<ServiceNetworks>,
    /// Mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeEntry>,
    /// Configs mounted into the containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    /// Secrets mounted into the containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    /// Container health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `user[:group]` the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Container hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Time to wait after `stop_signal` before killing (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    /// Signal that asks the container to stop (default `SIGTERM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Extra `/etc/hosts` entries (`host:ip` list or `host: ip` map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<ExtraHosts>,
    /// Logging driver and options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Scheduling and update settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Start-order hints; parsed (short and long syntax) but not enforced by clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<DependsOn>,
    /// reconciler's own per-service settings.
    #[serde(
        rename = "x-reconciler",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x_reconciler: Option<ServiceExtension>,
}

/// `x-reconciler:` on a service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceExtension {
    /// Placement strategy for this service, overriding the cluster's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// The service is meant to control the nodes it runs on (an agent, a visualizer reading the
    /// engine): its bind mounts of host-control paths are intended, and lint does not warn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controls_node: bool,
}

/// How the scheduler ranks the nodes that pass the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Fewest tasks of this service, then fewest tasks overall.
    #[default]
    Spread,
    /// Fill the node with the least free resources that still fits.
    Binpack,
    /// Any eligible node.
    Random,
}

/// `env_file:` — one path, or a list of paths or `{path, required, format}` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvFiles {
    /// One path.
    One(String),
    /// Several files; later files win.
    Many(Vec<EnvFileEntry>),
}

/// One `env_file` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvFileEntry {
    /// A path, required to exist.
    Path(String),
    /// The long form.
    Long(EnvFileLong),
}

/// `{path, required, format}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvFileLong {
    /// Path relative to the stack file.
    pub path: String,
    /// When false, a missing file is skipped (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// `raw` disables interpolation and quote handling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

impl EnvFiles {
    /// `(path, required, raw)` for every entry, in order.
    pub fn entries(&self) -> Vec<(String, bool, bool)> {
        let one = |e: &EnvFileEntry| match e {
            EnvFileEntry::Path(p) => (p.clone(), true, false),
            EnvFileEntry::Long(l) => (
                l.path.clone(),
                l.required.unwrap_or(true),
                l.format.as_deref() == Some("raw"),
            ),
        };
        match self {
            EnvFiles::One(p) => vec![(p.clone(), true, false)],
            EnvFiles::Many(list) => list.iter().map(one).collect(),
        }
    }
}

/// One `ports:` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PortEntry {
    /// A bare container port number.
    Number(u32),
    /// Short syntax: `[ip:][published:]target[/protocol]`, ranges allowed.
    Short(#[schemars(extend("format" = "ports"))] String),
    /// Long syntax.
    Long(PortLong),
}

/// Long-syntax port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortLong {
    /// Container port.
    pub target: u32,
    /// Published port (a number, or a string such as `"8080"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishedPort>,
    /// `tcp` (default), `udp` or `sctp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// `ingress` (default) or `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PortMode>,
    /// Host address to bind (host mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// A name for the port, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Application protocol hint (`http`, `grpc`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// A published port in long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PublishedPort {
    /// `published: 8080`.
    Number(u32),
    /// `published: "8080"`.
    Text(#[schemars(extend("pattern" = "^[0-9]+$"))] String),
}

/// `networks:` of a service: a list of names, or a map with per-network settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ServiceNetworks {
    /// `- front`.
    List(Vec<String>),
    /// `front: {aliases: [...]}`.
    Map(IndexMap<String, Option<ServiceNetwork>>),
}

impl ServiceNetworks {
    /// Network keys in order with their settings.
    pub fn entries(&self) -> Vec<(String, ServiceNetwork)> {
        match self {
            ServiceNetworks::List(l) => l
                .iter()
                .map(|n| (n.clone(), ServiceNetwork::default()))
                .collect(),
            ServiceNetworks::Map(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect(),
        }
    }
}

/// Settings of one attached network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    /// Extra DNS names on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Fixed IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    /// Fixed IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    /// Attachment order (higher first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// One `volumes:` item of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum VolumeEntry {
    /// Short syntax `[source:]target[:mode]`.
    Short(#[schemars(extend("format" = "volume"))] String),
    /// Long syntax.
    Long(VolumeMount),
}

/// Long-syntax mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeMount {
    /// `volume`, `bind` or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// Volume name or host path (not for tmpfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Path in the container.
    pub target: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Bind options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    /// Volume options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    /// tmpfs options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
    /// Desktop-only consistency hint; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
}

/// Mount types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A named (or anonymous) volume.
    Volume,
    /// A host path.
    Bind,
    /// An in-memory filesystem.
    Tmpfs,
}

/// `bind:` options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindOptions {
    /// Mount propagation (`rprivate`, `shared`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Create the host path when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_host_path: Option<bool>,
    /// SELinux relabelling (`z` or `Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
}

/// `volume:` options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeOptions {
    /// Do not copy image content into a new volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nocopy: Option<bool>,
    /// Mount a sub-path of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
}

/// `tmpfs:` options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TmpfsOptions {
    /// Size limit, e.g. `64M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<crate::units::ByteSize>,
    /// File mode, e.g. `0o1777`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// A config or secret used by a service: its name, or `{source, target, uid, gid, mode}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FileRef {
    /// The top-level name; mounted at `/<name>` (configs) or `/run/secrets/<name>`.
    Short(String),
    /// The long form.
    Long(FileRefLong),
}

impl FileRef {
    /// The top-level config/secret this refers to.
    pub fn source(&self) -> &str {
        match self {
            FileRef::Short(s) => s,
            FileRef::Long(l) => &l.source,
        }
    }
}

/// Long-form config/secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRefLong {
    /// The top-level name.
    pub source: String,
    /// Path (or name) in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Owner uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Owner gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// File mode (octal, e.g. `0440`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// `healthcheck:`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]` or a shell string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<StringOrList>,
    /// Time between checks (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time a check may take (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Failures in a row before unhealthy (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// Grace period after start (default 0s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    /// Check interval during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    /// Disable the image's health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable: Option<bool>,
}

/// `extra_hosts:` — `host:ip` / `host=ip` list, or a map of host to address(es).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ExtraHosts {
    /// `- "db:10.0.0.5"`.
    List(Vec<String>),
    /// `db: 10.0.0.5` or `db: [10.0.0.5, 10.0.0.6]`.
    Map(IndexMap<String, StringOrList>),
}

/// `logging:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// Log driver (default: the engine's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, Option<ScalarValue>>,
}

/// `depends_on:` — a list of services, or the Compose-spec long form with conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DependsOn {
    /// `- db`.
    List(Vec<String>),
    /// `db: {condition: service_healthy}`.
    Map(IndexMap<String, DependsOnLong>),
}

impl DependsOn {
    /// The names of the services depended on.
    pub fn services(&self) -> Vec<&str> {
        match self {
            DependsOn::List(l) => l.iter().map(String::as_str).collect(),
            DependsOn::Map(m) => m.keys().map(String::as_str).collect(),
        }
    }
}

/// Long-form dependency.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DependsOnLong {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<DependsOnCondition>,
    /// Restart this service when the dependency is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
    /// Whether the dependency must exist (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// Conditions of a long-form dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependsOnCondition {
    /// The dependency has started.
    ServiceStarted,
    /// The dependency reports healthy.
    ServiceHealthy,
    /// The dependency ran to completion with exit code 0.
    ServiceCompletedSuccessfully,
}
