//! The write path of a manager: commit a [`Command`] on the leader, or forward it there.
//!
//! Any manager accepts writes: the leader proposes them to Raft; a follower forwards them to the
//! leader over mutual TLS (`POST /raft/write`, managers only). Without a quorum a write fails
//! with a clear [`WriteError::NoQuorum`] or [`WriteError::NoLeader`] instead of hanging:
//! a leader that has not heard from a majority for a while refuses at once, and a proposal that
//! is not committed within the deadline is reported as such.

use std::time::Duration;

use axum::http::StatusCode;
use openraft::error::{ClientWriteError, RaftError};

use crate::protocol::{ErrorBody, FORWARD_PATH};
use crate::raft::{Command, NodeId, Raft, Rejection, Response};

/// How long a proposal may wait for a quorum to commit it.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a write was not applied.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// No manager leads: a majority of managers is unreachable (or an election is under way).
    #[error(
        "no quorum: no leader is elected among the {managers} managers; writes resume when a \
         majority ({majority}) of them is up (reads still work, possibly stale)"
    )]
    NoLeader {
        /// Voters in the last known configuration.
        managers: usize,
        /// How many must be up.
        majority: usize,
    },
    /// The leader cannot reach a majority.
    #[error(
        "no quorum: {detail}; writes resume when a majority ({majority}) of the {managers} \
         managers is reachable (reads still work, possibly stale)"
    )]
    NoQuorum {
        /// What was observed.
        detail: String,
        /// Voters in the configuration.
        managers: usize,
        /// How many must be up.
        majority: usize,
    },
    /// The state machine refused the command (an invariant would break); its message says which.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The leader answered a forwarded write with an error.
    #[error("{message}")]
    Remote {
        /// The HTTP status the leader answered with.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The leader could not be reached to forward the write.
    #[error("cannot forward the write to the leader at {leader}: {detail}")]
    Forward {
        /// The leader's address.
        leader: String,
        /// Why.
        detail: String,
    },
    /// Raft stopped (storage failure or shutdown).
    #[error("the replicated store stopped: {0}")]
    Stopped(String),
}

impl WriteError {
    /// The HTTP status the API answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            WriteError::NoLeader { .. } | WriteError::NoQuorum { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WriteError::Rejected(_) => StatusCode::CONFLICT,
            WriteError::Remote { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            WriteError::Forward { .. } => StatusCode::BAD_GATEWAY,
            WriteError::Stopped(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Commits commands on behalf of one manager.
#[derive(Clone)]
pub struct Writer {
    raft: Raft,
    id: NodeId,
    peers: reqwest::Client,
    /// A leader whose last quorum acknowledgement is older than this refuses writes at once.
    quorum_lease: Duration,
}

impl Writer {
    /// A writer for the manager `id`; `peers` is its mutual-TLS client for other managers and
    /// `quorum_lease` how old a leader's last majority acknowledgement may be before it stops
    /// accepting writes (a few election timeouts).
    pub fn new(raft: Raft, id: NodeId, peers: reqwest::Client, quorum_lease: Duration) -> Self {
        Writer {
            raft,
            id,
            peers,
            quorum_lease,
        }
    }

    /// Commits `cmd` and returns the state version after it.
    pub async fn write(&self, cmd: Command) -> Result<u64, WriteError> {
        self.write_via(cmd, true).await
    }

    /// Commits `cmd` only if this manager leads: a forwarded write is never forwarded again, so
    /// a write cannot bounce between managers that disagree about the leader.
    pub async fn write_as_leader(&self, cmd: Command) -> Result<u64, WriteError> {
        self.write_via(cmd, false).await
    }

    async fn write_via(&self, cmd: Command, may_forward: bool) -> Result<u64, WriteError> {
        // A leadership change between reading the leader and proposing is retried, and so is a
        // leader that cannot be reached: it may have just died, and an election is under way.
        let mut unreachable: Option<(String, String)> = None;
        for _ in 0..3 {
            let metrics = self.raft.metrics().borrow().clone();
            let managers = metrics.membership_config.voter_ids().count();
            let majority = managers / 2 + 1;
            match metrics.current_leader {
                Some(leader) if leader == self.id => {
                    if let Some(ms) = metrics.millis_since_quorum_ack
                        && ms > self.quorum_lease.as_millis() as u64
                        && managers > 1
                    {
                        return Err(WriteError::NoQuorum {
                            detail: format!(
                                "this leader has not heard from a majority for {:.1}s",
                                ms as f64 / 1000.0
                            ),
                            managers,
                            majority,
                        });
                    }
                    let proposed =
                        tokio::time::timeout(COMMIT_TIMEOUT, self.raft.client_write(cmd.clone()))
                            .await;
                    match proposed {
                        Err(_) => {
                            return Err(WriteError::NoQuorum {
                                detail: format!(
                                    "the write was not committed within {}s (it is applied if a \
                                     majority comes back)",
                                    COMMIT_TIMEOUT.as_secs()
                                ),
                                managers,
                                majority,
                            });
                        }
                        Ok(Ok(written)) => return applied(written.data),
                        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {}
                        Ok(Err(err)) => return Err(WriteError::Stopped(err.to_string())),
                    }
                }
                Some(leader) if may_forward => {
                    let addr = metrics
                        .membership_config
                        .membership()
                        .get_node(&leader)
                        .map(|n| n.addr.clone());
                    let Some(addr) = addr else {
                        return Err(WriteError::NoLeader { managers, majority });
                    };
                    match self.forward(&addr, &cmd).await {
                        Err(WriteError::Forward { detail, .. }) => {
                            let _ = self
                                .raft
                                .wait(Some(self.quorum_lease))
                                .metrics(|m| m.current_leader != Some(leader), "a new leader")
                                .await;
                            unreachable = Some((addr, detail));
                        }
                        other => return other,
                    }
                }
                Some(_) => {
                    return Err(WriteError::Remote {
                        status: StatusCode::MISDIRECTED_REQUEST.as_u16(),
                        message: "this manager no longer leads; retry the write".to_owned(),
                    });
                }
                None => return Err(WriteError::NoLeader { managers, majority }),
            }
        }
        if let Some((leader, detail)) = unreachable {
            let managers = self
                .raft
                .metrics()
                .borrow()
                .membership_config
                .voter_ids()
                .count();
            return Err(WriteError::NoQuorum {
                detail: format!(
                    "the leader at {leader} is unreachable ({detail}) and no other leader was \
                     elected within {:.1}s",
                    self.quorum_lease.as_secs_f64()
                ),
                managers,
                majority: managers / 2 + 1,
            });
        }
        Err(WriteError::Stopped(
            "leadership kept moving while the write was proposed; retry".to_owned(),
        ))
    }

    async fn forward(&self, leader: &str, cmd: &Command) -> Result<u64, WriteError> {
        let forward_error = |detail: String| WriteError::Forward {
            leader: leader.to_owned(),
            detail,
        };
        let response = self
            .peers
            .post(format!("https://{leader}{FORWARD_PATH}"))
            .json(cmd)
            .timeout(COMMIT_TIMEOUT + Duration::from_secs(2))
            .send()
            .await
            .map_err(|e| forward_error(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            let version: u64 = response
                .json()
                .await
                .map_err(|e| forward_error(e.to_string()))?;
            return Ok(version);
        }
        let message = match response.json::<ErrorBody>().await {
            Ok(body) => body.error,
            Err(_) => format!("the leader answered HTTP {status}"),
        };
        Err(WriteError::Remote {
            status: status.as_u16(),
            message,
        })
    }
}

fn applied(response: Response) -> Result<u64, WriteError> {
    match response {
        Response::Ok { version, .. } => Ok(version),
        Response::Rejected { reason } => Err(WriteError::Rejected(reason)),
    }
}
