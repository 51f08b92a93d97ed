//! The `deploy:` section of a service: how many, where, with what resources, how to restart
//! and how to roll out changes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::syntax::ListOrMap;
use crate::units::{ByteSize, Cpus, Duration};

/// `deploy:` of a service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// `replicated` (default) or `global` (one task per eligible node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DeployMode>,
    /// Number of tasks of a replicated service (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Where tasks may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Resource limits and reservations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// When a stopped task is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// How spec changes roll out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    /// How a failed update is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    /// `vip` (default) or `dnsrr` service discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<EndpointMode>,
    /// Labels on the service (not on its containers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<ListOrMap>,
}

/// Replicated or global scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeployMode {
    /// A fixed number of tasks, spread over eligible nodes.
    #[default]
    Replicated,
    /// One task on every eligible node.
    Global,
}

/// `deploy.placement`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Constraints such as `node.role==manager` or `node.labels.zone!=eu`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// Spread preferences, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<Preference>,
    /// At most this many tasks of the service per node (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
}

/// A placement constraint expression, validated by `crate::constraint`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Constraint(pub String);

impl JsonSchema for Constraint {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Constraint".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "constraint",
            "description": "`<key> == <value>` or `<key> != <value>`; keys: node.id, node.hostname, node.role, node.ip, node.platform.os, node.platform.arch, node.labels.<label>, engine.labels.<label>",
            "pattern": "^\\s*(node\\.(id|hostname|role|ip|platform\\.os|platform\\.arch|labels\\..+)|engine\\.labels\\..+)\\s*(==|!=)\\s*\\S.*$"
        })
    }
}

/// `- spread: node.labels.zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// The label whose values tasks are balanced over.
    #[schemars(extend("format" = "preference"))]
    pub spread: String,
}

/// `deploy.resources`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Hard caps enforced by the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// What the scheduler sets aside on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Reservations>,
}

/// `deploy.resources.limits`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU limit, e.g. `"0.5"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Memory limit, e.g. `512M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Maximum number of processes (-1 or 0: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

/// `deploy.resources.reservations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reservations {
    /// CPUs the scheduler reserves, e.g. `"0.25"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Memory the scheduler reserves, e.g. `128M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Generic resources (accepted, not yet scheduled on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_resources: Option<serde_json::Value>,
    /// Device requests (accepted, not yet scheduled on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<serde_json::Value>,
}

/// `deploy.restart_policy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    /// When to replace a stopped task (default `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<RestartCondition>,
    /// Wait between restarts (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Give up after this many restarts within `window` (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    /// Window over which restarts are counted (default: unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// `deploy.restart_policy.condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    /// Never restart.
    None,
    /// Restart when the task exits non-zero.
    OnFailure,
    /// Restart whenever the task stops.
    #[default]
    Any,
}

/// `deploy.update_config` and `deploy.rollback_config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    /// Tasks updated at once (default 1; 0 = all at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u64>,
    /// Wait between batches (default 0s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// What to do when the update fails (default `pause`; rollbacks default `pause` too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<FailureAction>,
    /// How long each updated task is watched for failure (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    /// Fraction of failed tasks tolerated, 0 to 1 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_failure_ratio: Option<f64>,
    /// `stop-first` (default) or `start-first`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<UpdateOrder>,
}

/// `failure_action` of an update or rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    /// Stop updating and report the service paused.
    #[default]
    Pause,
    /// Keep going.
    Continue,
    /// Roll back to the previous spec.
    Rollback,
}

/// `order` of an update or rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Stop the old task before starting the new one.
    #[default]
    StopFirst,
    /// Start the new task first; both run briefly.
    StartFirst,
}

/// `deploy.endpoint_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    /// A virtual IP fronts the tasks.
    #[default]
    Vip,
    /// DNS round robin over task addresses.
    Dnsrr,
}
