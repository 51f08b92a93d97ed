//! The Service resource: a normalised, fully defaulted service spec and its observed status.
//!
//! A [`ServiceSpec`] is what the cluster acts on: names resolved (`<stack>_<name>`), short
//! syntaxes expanded, every default filled in. Two hashes let a diff tell changes apart:
//! [`ServiceSpec::spec_hash`] changes with anything, [`ServiceSpec::template_hash`] only with what
//! shapes a task (so scaling is not an update).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compose::{
    EndpointMode, FailureAction, MountKind, RestartCondition, Strategy, UpdateOrder,
};
use crate::meta::{Labels, ObjectMeta};
use crate::port::PortConfig;
use crate::units::{ByteSize, Cpus, Duration};

/// A service as the cluster runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Service {
    /// Identity; `meta.id` is the full service name.
    pub meta: ObjectMeta,
    /// Desired state, from the stack file.
    pub spec: ServiceSpec,
    /// Observed state.
    #[serde(default)]
    pub status: ServiceStatus,
    /// The spec before the last update that changed tasks: what a rollback returns to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_spec: Option<Box<ServiceSpec>>,
    /// Progress of the last rolling update or rollback, when there has been one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStatus>,
}

/// Observed state of a service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ServiceStatus {
    /// Tasks reported running.
    pub running: u64,
    /// Tasks wanted.
    pub desired: u64,
}

/// Where a rolling update (or its rollback) stands, as `docker service inspect` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// Replacing tasks with the new spec.
    Updating,
    /// Stopped after too many failures (`failure_action: pause`); an operator or a new revision
    /// resumes it.
    Paused,
    /// Every task runs the new spec.
    Completed,
    /// Too many failures (`failure_action: rollback`): returning to the previous spec.
    RollbackStarted,
    /// The rollback itself failed too often and stopped.
    RollbackPaused,
    /// Every task runs the previous spec again; the update is reported as failed.
    RollbackCompleted,
}

impl UpdateState {
    /// True while tasks are being replaced (an update or a rollback in flight).
    pub fn in_progress(self) -> bool {
        matches!(self, UpdateState::Updating | UpdateState::RollbackStarted)
    }
}

/// Progress and outcome of the last update of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateStatus {
    /// Where it stands.
    pub state: UpdateState,
    /// When it started (leader time, ms since the epoch).
    pub started_at_ms: u64,
    /// When it completed, paused or finished rolling back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<u64>,
    /// Human-readable detail: progress, or why it paused or rolled back.
    #[serde(default)]
    pub message: String,
    /// The `spec_hash` of the spec that was rolled back: the same spec from the same revision is
    /// not applied again (a new revision with a different spec is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_spec: Option<String>,
}

/// Replicated with a count, or global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ServiceMode {
    /// A fixed number of tasks.
    Replicated {
        /// How many.
        replicas: u64,
    },
    /// One task per eligible node.
    Global,
}

/// The normalised spec of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceSpec {
    /// Full name, `<stack>_<service>`.
    pub name: String,
    /// The stack it belongs to.
    pub stack: String,
    /// Image reference.
    pub image: String,
    /// Replaces the image's `CMD` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Replaces the image's `ENTRYPOINT` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Environment after `env_file` and `environment` are merged (environment wins).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Container labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Service labels (`deploy.labels`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_labels: Labels,
    /// Published ports, expanded one per port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortConfig>,
    /// Networks attached, by full name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    /// Mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Configs mounted as files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileMount>,
    /// Secrets mounted as files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileMount>,
    /// Health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthcheckSpec>,
    /// `user[:group]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Grace period between the stop signal and a kill.
    pub stop_grace_period: Duration,
    /// Stop signal, when not the image's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `host:ip` entries for `/etc/hosts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// Log driver and options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingSpec>,
    /// Replicated or global.
    pub mode: ServiceMode,
    /// Placement rules.
    pub placement: PlacementSpec,
    /// Limits and reservations.
    pub resources: ResourcesSpec,
    /// Restart policy with defaults.
    pub restart_policy: RestartPolicySpec,
    /// Update policy with defaults.
    pub update_config: UpdateConfigSpec,
    /// Rollback policy with defaults.
    pub rollback_config: UpdateConfigSpec,
    /// `vip` or `dnsrr`.
    pub endpoint_mode: EndpointMode,
    /// Per-service placement strategy (else the cluster's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
}

/// A network attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkAttachment {
    /// Full network name.
    pub network: String,
    /// DNS aliases (the service's short name is always one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Mount {
    /// Volume, bind or tmpfs.
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// Full volume name, or host path; `None` for tmpfs and anonymous volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Path in the container.
    pub target: String,
    /// Read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Extra mode flags (`z`, `rshared`, `nocopy`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// tmpfs size limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<ByteSize>,
}

/// A config or secret mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileMount {
    /// Full object name.
    pub name: String,
    /// Path in the container.
    pub target: String,
    /// Owner uid.
    pub uid: String,
    /// Owner gid.
    pub gid: String,
    /// File mode.
    pub mode: u32,
}

/// Normalised health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthcheckSpec {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Time between checks.
    pub interval: Duration,
    /// Time a check may take.
    pub timeout: Duration,
    /// Failures before unhealthy.
    pub retries: u64,
    /// Grace period after start.
    pub start_period: Duration,
    /// Interval during the start period.
    pub start_interval: Duration,
}

/// Log driver and options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LoggingSpec {
    /// Driver, when not the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// Placement rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PlacementSpec {
    /// Constraints in canonical form (`node.role==manager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Spread descriptors (`node.labels.zone`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<String>,
    /// Tasks per node cap (0 = unlimited).
    #[serde(default)]
    pub max_replicas_per_node: u64,
}

/// Limits and reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesSpec {
    /// CPU limit (0 = none).
    pub limit_cpus: Cpus,
    /// Memory limit (0 = none).
    pub limit_memory: ByteSize,
    /// Process limit (0 = none).
    pub limit_pids: i64,
    /// CPUs reserved by the scheduler.
    pub reserve_cpus: Cpus,
    /// Memory reserved by the scheduler.
    pub reserve_memory: ByteSize,
}

/// Restart policy with Swarm's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestartPolicySpec {
    /// When to restart (default `any`).
    pub condition: RestartCondition,
    /// Delay between restarts (default 5s).
    pub delay: Duration,
    /// Attempts within `window` (0 = unlimited).
    pub max_attempts: u64,
    /// Window for counting attempts (0 = unbounded).
    pub window: Duration,
}

/// Update or rollback policy with Swarm's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateConfigSpec {
    /// Tasks at once (default 1; 0 = all).
    pub parallelism: u64,
    /// Delay between batches (default 0s).
    pub delay: Duration,
    /// On failure (default pause).
    pub failure_action: FailureAction,
    /// Watch time per task (default 5s).
    pub monitor: Duration,
    /// Tolerated failure fraction (default 0).
    pub max_failure_ratio: f64,
    /// stop-first (default) or start-first.
    pub order: UpdateOrder,
}

impl ServiceSpec {
    /// Hash of the whole spec: any change to the service changes it.
    pub fn spec_hash(&self) -> String {
        hash_json(&serde_json::to_value(self).unwrap_or_default())
    }

    /// Hash of what shapes a task; scaling or changing update policy leaves it unchanged.
    pub fn template_hash(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            for key in [
                "mode",
                "update_config",
                "rollback_config",
                "service_labels",
                "endpoint_mode",
                "strategy",
            ] {
                map.remove(key);
            }
        }
        hash_json(&value)
    }

    /// Whether a task of this spec must report healthy before it counts as up: it has a
    /// healthcheck that is not `["NONE"]`.
    pub fn checks_health(&self) -> bool {
        self.healthcheck
            .as_ref()
            .is_some_and(|h| h.test.first().map(String::as_str) != Some("NONE"))
    }

    /// The service's name within its stack (`web` for `shop_web`).
    pub fn short_name(&self) -> &str {
        self.name
            .strip_prefix(&self.stack)
            .and_then(|s| s.strip_prefix('_'))
            .unwrap_or(&self.name)
    }
}

/// SHA-256 of canonical JSON (object keys sorted), hex-encoded; stable across runs and machines.
pub fn hash_json(value: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
