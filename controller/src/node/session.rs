//! A node's end of its session: heartbeat the leader, follow it across failovers, learn the
//! manager list and the role the cluster wants this node in.
//!
//! The node dials the managers it knows, leader first; a follower answers
//! `421` with the leader's address and the node moves there at once. A `403` means the
//! cluster no longer knows the node (`node rm`, `leave`): the session ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crds::node::{NodeDescription, NodeRole};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::node::call::CallError;
use crate::node::layout::NodeConfig;
use crate::protocol::{HEARTBEAT_PATH, Heartbeat, HeartbeatResponse, NotLeader};

/// How often the node re-reads its own description (engine version, resources).
const DESCRIBE_EVERY: Duration = Duration::from_secs(30);

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The node was asked to stop.
    Stopped,
    /// The cluster removed the node.
    Removed,
    /// The cluster wants the node in another role (promoted or demoted).
    RoleChanged(NodeRole),
}

/// What a session needs.
pub struct Session {
    /// The node's directory (`node.json` is updated when the manager list changes).
    pub data_dir: PathBuf,
    /// The node's identity and known managers.
    pub config: NodeConfig,
    /// Mutual-TLS client with the node's certificate.
    pub client: reqwest::Client,
    /// Period until the leader says otherwise.
    pub period: Duration,
    /// Published with the manager that last accepted a heartbeat (the leader), so the node's
    /// assignment stream can follow it.
    pub leader: tokio::sync::watch::Sender<Option<String>>,
    /// Whether this node runs tasks (has an agent); one that does not reports no engine.
    pub runs_tasks: bool,
}

enum Beat {
    Ok(HeartbeatResponse),
    Redirect(Option<String>),
    Removed,
    Failed(CallError),
}

/// Why a heartbeat reached no leader.
#[derive(Debug, thiserror::Error)]
enum BeatError {
    /// A manager answered `403`: the cluster no longer knows this node.
    #[error("the cluster removed this node")]
    Removed,
    /// `node.json` lists no manager to ask.
    #[error("no manager is known")]
    NoManager,
    /// The last manager asked is a follower that knows no leader (an election is under way).
    #[error("{target} knows no leader")]
    NoLeader {
        /// The manager asked.
        target: String,
    },
    /// The last manager asked gave no usable answer.
    #[error("{target}: {source}")]
    Failed {
        /// The manager asked.
        target: String,
        /// Why.
        #[source]
        source: CallError,
    },
}

impl Session {
    /// Heartbeats until `stop` is cancelled, the node is removed, or its role changes.
    pub async fn run(mut self, stop: CancellationToken) -> SessionEnd {
        let mut description = self.describe().await;
        let mut described_at = Instant::now();
        let mut connected = true;
        loop {
            if described_at.elapsed() >= DESCRIBE_EVERY {
                description = self.describe().await;
                described_at = Instant::now();
            }
            match self.beat_once(&description).await {
                Ok(response) => {
                    if !connected {
                        tracing::info!("heartbeats reach the leader again");
                    }
                    connected = true;
                    self.period = Duration::from_millis(response.period_ms.max(100));
                    if response.role != self.config.role {
                        return SessionEnd::RoleChanged(response.role);
                    }
                    self.remember_managers(response.managers);
                }
                Err(BeatError::Removed) => return SessionEnd::Removed,
                Err(detail) => {
                    if connected {
                        tracing::warn!(%detail, "no manager accepted the heartbeat; retrying");
                    }
                    connected = false;
                }
            }
            tokio::select! {
                () = stop.cancelled() => return SessionEnd::Stopped,
                () = tokio::time::sleep(self.period) => {}
            }
        }
    }

    async fn describe(&self) -> NodeDescription {
        let mut description =
            agent::describe::describe(self.config.hostname.clone(), self.config.api_addr.clone())
                .await;
        if !self.runs_tasks {
            // The engine is not this node's to use: say none, so `node ls` shows why it runs
            // nothing.
            description.engine_version = None;
            description.engine_labels.clear();
        }
        description
    }

    /// One heartbeat: try the known managers in order, following redirects to the leader.
    async fn beat_once(
        &mut self,
        description: &NodeDescription,
    ) -> Result<HeartbeatResponse, BeatError> {
        let mut targets: Vec<String> = self.config.managers.clone();
        let mut last_error = BeatError::NoManager;
        let mut tried = 0;
        while let Some(target) = targets.first().cloned() {
            targets.remove(0);
            tried += 1;
            if tried > self.config.managers.len() + 2 {
                break;
            }
            match self.send(&target, description).await {
                Beat::Ok(response) => {
                    self.prefer(&target);
                    self.leader.send_if_modified(|leader| {
                        let changed = leader.as_deref() != Some(target.as_str());
                        if changed {
                            *leader = Some(target.clone());
                        }
                        changed
                    });
                    return Ok(response);
                }
                Beat::Redirect(Some(leader)) if leader != target => {
                    targets.retain(|t| *t != leader);
                    targets.insert(0, leader);
                }
                Beat::Redirect(_) => last_error = BeatError::NoLeader { target },
                Beat::Removed => return Err(BeatError::Removed),
                Beat::Failed(source) => last_error = BeatError::Failed { target, source },
            }
        }
        Err(last_error)
    }

    async fn send(&self, target: &str, description: &NodeDescription) -> Beat {
        let sent = self
            .client
            .post(format!("https://{target}{HEARTBEAT_PATH}"))
            .json(&Heartbeat {
                description: description.clone(),
            })
            .timeout(self.period * 2)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return Beat::Failed(CallError::Unreachable(err)),
        };
        match response.status() {
            StatusCode::OK => match response.json().await {
                Ok(body) => Beat::Ok(body),
                Err(err) => Beat::Failed(CallError::Unreadable(err)),
            },
            StatusCode::MISDIRECTED_REQUEST => match response.json::<NotLeader>().await {
                Ok(body) => Beat::Redirect(body.leader),
                Err(err) => Beat::Failed(CallError::Unreadable(err)),
            },
            StatusCode::FORBIDDEN => Beat::Removed,
            status => Beat::Failed(CallError::Status(status)),
        }
    }

    /// Put the manager that answered first, so the next beat goes straight there.
    fn prefer(&mut self, target: &str) {
        let managers = &mut self.config.managers;
        if managers.first().map(String::as_str) != Some(target) {
            managers.retain(|m| m != target);
            managers.insert(0, target.to_owned());
        }
    }

    fn remember_managers(&mut self, mut managers: Vec<String>) {
        if managers.is_empty() {
            return;
        }
        // Keep the one that answered first; the rest in the leader's order.
        if let Some(first) = self.config.managers.first()
            && let Some(pos) = managers.iter().position(|m| m == first)
        {
            let first = managers.remove(pos);
            managers.insert(0, first);
        }
        let mut known = self.config.managers.clone();
        known.sort();
        let mut fresh = managers.clone();
        fresh.sort();
        if known != fresh {
            self.config.managers = managers;
            if let Err(err) = self.config.save(&self.data_dir) {
                tracing::warn!(error = %err, "cannot remember the manager list");
            }
        }
    }
}
