//! Wire types and paths of the manager's HTTPS API (JSON bodies, one port with Raft RPC).
//!
//! Every error answer has the body [`ErrorBody`]; a write sent to a follower that cannot forward it
//! and a heartbeat sent to a follower answer `421 Misdirected Request` with [`NotLeader`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use crds::node::{Node, NodeDescription, NodeRole};
use crds::port::PortConfig;
use crds::service::Service;
use crds::task::Task;
use serde::{Deserialize, Serialize};

use crate::sync::record::RevisionRecord;

/// Joining (no client certificate: the token authenticates).
pub const JOIN_PATH: &str = "/v1/join";
/// A node's heartbeat (any node certificate).
pub const HEARTBEAT_PATH: &str = "/v1/session/heartbeat";
/// A node asks to leave the cluster (any node certificate, for itself).
pub const LEAVE_PATH: &str = "/v1/session/leave";
/// Nodes (manager certificates only).
pub const NODES_PATH: &str = "/v1/nodes";
/// Services with their replica counts (manager certificates only).
pub const SERVICES_PATH: &str = "/v1/services";
/// Tasks, filtered by `?service=` and `?stack=` (manager certificates only).
pub const TASKS_PATH: &str = "/v1/tasks";
/// Stacks with their sync state and per-service progress (manager certificates only).
pub const STACKS_PATH: &str = "/v1/stacks";
/// Join tokens: `/v1/tokens/{role}` and `/v1/tokens/{role}/rotate`.
pub const TOKENS_PATH: &str = "/v1/tokens";
/// The source the cluster follows: `GET` shows it, `PUT` sets it (`null` clears it).
pub const SOURCE_PATH: &str = "/v1/source";
/// The applied revision and cluster summary.
pub const STATUS_PATH: &str = "/v1/status";
/// A follower forwards a replicated write to the leader here (managers only).
pub const FORWARD_PATH: &str = "/raft/write";

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
}

/// The answer of a follower to a request only the leader can serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotLeader {
    /// The leader's API address, when one is known.
    pub leader: Option<String>,
    /// Explanation.
    pub error: String,
}

/// `POST /v1/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The join token (`RCNTKN-1-…`).
    pub token: String,
    /// The role the joiner asks for; must match the token's when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<NodeRole>,
    /// The joiner's hostname.
    pub hostname: String,
    /// The IP address other nodes reach the joiner on (goes into its certificate).
    pub advertise_ip: IpAddr,
    /// For managers: `ip:port` of the API and Raft endpoint the joiner will serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_addr: Option<String>,
    /// Node labels to start with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The answer to a successful join. Carries the node's private key: it travels only inside the
/// TLS connection whose server the joiner has checked against the token's CA fingerprint.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The id the cluster gave the node.
    pub node_id: String,
    /// Its Raft member id (used when it is, or becomes, a manager).
    pub raft_id: u64,
    /// The role granted.
    pub role: NodeRole,
    /// The cluster id.
    pub cluster_id: String,
    /// The cluster CA certificate.
    pub ca_cert_pem: String,
    /// The node's certificate.
    pub cert_pem: String,
    /// The node's private key.
    pub key_pem: String,
    /// API addresses of the managers, leader first.
    pub managers: Vec<String>,
    /// Things the operator should know (e.g. an even number of managers).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for JoinResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinResponse")
            .field("node_id", &self.node_id)
            .field("role", &self.role)
            .field("cluster_id", &self.cluster_id)
            .field("key_pem", &"[secret key elided]")
            .finish_non_exhaustive()
    }
}

/// `POST /v1/session/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// What the node reports about itself.
    pub description: NodeDescription,
}

/// The leader's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Send the next heartbeat after this long (ms).
    pub period_ms: u64,
    /// API addresses of the managers, leader first.
    pub managers: Vec<String>,
    /// The role the cluster wants this node in.
    pub role: NodeRole,
}

/// `POST /v1/session/leave`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LeaveRequest {
    /// Leave even as a manager (shrinking the Raft group).
    #[serde(default)]
    pub force: bool,
}

/// How a manager looks from the leader (`MANAGER STATUS` of `node ls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManagerStatus {
    /// Leads the Raft group.
    Leader,
    /// A voter that heartbeats.
    Reachable,
    /// A voter or learner that does not answer, or is still catching up.
    Unreachable,
}

/// A node as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// The stored node.
    #[serde(flatten)]
    pub node: Node,
    /// For managers: leader, reachable or unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_status: Option<ManagerStatus>,
}

/// Every read answer: the data, who answered, and whether it may be stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read<T> {
    /// The data.
    pub data: T,
    /// The node id of the manager that answered.
    pub answered_by: String,
    /// True when that manager neither leads with a live quorum nor follows a known leader: the
    /// data is what it last knew.
    pub possibly_stale: bool,
}

/// A join token as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// The role it grants.
    pub role: NodeRole,
    /// The token.
    pub token: String,
    /// Where to join: the answering manager's API address.
    pub manager: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// The cluster id.
    pub cluster_id: String,
    /// The leader's node id, when known.
    pub leader: Option<String>,
    /// The Raft term.
    pub term: u64,
    /// Nodes by state: `(total, ready)`.
    pub nodes: (usize, usize),
    /// Managers (voters) in the Raft group.
    pub managers: usize,
    /// The revision record.
    pub record: RevisionRecord,
    /// Every stack with its sync state (empty from managers that predate it).
    #[serde(default)]
    pub stacks: Vec<StackView>,
}

/// `DELETE /v1/nodes/{id}?force=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemoveQuery {
    /// Remove a node that is still up.
    #[serde(default)]
    pub force: bool,
}

/// A service as `GET /v1/services` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// The stored service.
    #[serde(flatten)]
    pub service: Service,
    /// Replica counts computed from the tasks when the manager answered.
    pub replicas: Replicas,
}

/// `REPLICAS` of `service ls`: `running/desired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Replicas {
    /// Tasks that should run and do.
    pub running: u64,
    /// The replica count, or for a global service the tasks that should run.
    pub desired: u64,
}

/// `GET /v1/services?stack=…`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServicesQuery {
    /// Only this stack's services (`404` when no such stack exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// `GET /v1/tasks?service=…&stack=…`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TasksQuery {
    /// A service's full name (`<stack>_<name>`) or, when unique, its short name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only tasks of this stack's services (`404` when no such stack exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// A task as `GET /v1/tasks` shows it, with the names `service ps` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// The stored task.
    #[serde(flatten)]
    pub task: Task,
    /// Its service's name within the stack (`web` of `shop_web`).
    pub service_short_name: String,
    /// Its node's hostname, when the task is placed on a node the cluster knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_hostname: Option<String>,
    /// The image of the spec it runs, when that spec is the service's current or previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The ports that spec publishes on the task's node (`mode: host`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_ports: Vec<PortConfig>,
}

/// How a stack stands against the revision in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// The revision in force is the newest one seen and every service converged on it.
    Synced,
    /// Getting there: tasks starting, an update running, the revision being applied.
    Progressing,
    /// Something needs attention: an update paused or rolled back, tasks failing or not
    /// placeable.
    Degraded,
}

/// How one service stands against the spec its revision asks for.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Convergence {
    /// Every slot runs the spec (or finished for good after a successful exit).
    #[default]
    Converged,
    /// Tasks are being created, started or replaced.
    Progressing,
    /// Tasks fail and are restarted, or wait for a node that fits; this may still recover.
    Degraded,
    /// Nothing more will happen without a new revision or an operator: an update paused or was
    /// rolled back, or tasks failed and will not be restarted.
    Failed,
}

/// One service's progress, as `status --wait` and `stack ls` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProgress {
    /// Full name (`<stack>_<service>`).
    pub name: String,
    /// Name within its stack.
    pub short_name: String,
    /// Where it stands.
    pub convergence: Convergence,
    /// Slots whose task runs the spec in force, or finished for good after exiting 0.
    pub done: u64,
    /// Slots wanted: the replica count, or for a global service the nodes it runs on.
    pub desired: u64,
    /// Of `done`, the slots whose task exited 0 and is not restarted (one-shot services).
    #[serde(default)]
    pub completed: u64,
    /// Why it is not converged, one line each (empty when converged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// A stack as `GET /v1/stacks` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackView {
    /// The stack's name.
    pub name: String,
    /// Its sync state.
    pub sync: SyncState,
    /// The applied revision that defines it; `None` while its services are being removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// A newer revision that was not applied (the applied one stays in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// Its services, by full name.
    pub services: Vec<ServiceProgress>,
}
