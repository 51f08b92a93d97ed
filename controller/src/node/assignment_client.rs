//! A node's end of its assignment stream and of its status reports, between the leader's
//! dispatcher (HTTPS) and the node's worker (channels).
//!
//! ```text
//!  leader ──GET /v1/session/assignments (NDJSON)──▶ follow ──AssignmentBatch──▶ worker
//!  worker ──reports──▶ post ──POST /v1/session/status (latest per task)──▶ leader
//! ```
//! The worker's channels outlive connections: every (re)connect delivers a new full set, which
//! is how the worker learns what changed while it was cut off. Losing the leader changes
//! nothing on the node; both loops retry with backoff across every known manager, moving to
//! the leader a follower names (`421`) and to the one the heartbeat session last reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crds::assignment::{AssignmentBatch, StatusReport};
use crds::task::TaskStatus;
use reqwest::StatusCode;
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::api::assignments::{ASSIGNMENTS_PATH, STATUS_PATH};
use crate::node::call::CallError;
use crate::node::join::error_chain;
use crate::protocol::NotLeader;

/// Task status reports as the worker emits them.
pub type Reports = Vec<(String, TaskStatus)>;

/// First retry delay after a failed connection; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3);
/// How long reports gather before they are posted: a burst of transitions goes as one request.
const REPORT_GATHER: Duration = Duration::from_millis(20);
/// The largest line of the assignment stream accepted (a full set of thousands of tasks).
const MAX_LINE: usize = 256 * 1024 * 1024;

/// The worker's side of the link, kept across restarts of the node runtime (role changes) so
/// the worker, and the containers it runs, never notice them.
#[derive(Clone)]
pub struct AgentLink {
    /// Where assignment batches go.
    pub assignments: mpsc::Sender<AssignmentBatch>,
    /// Where the worker's reports come from.
    pub reports: Arc<Mutex<mpsc::Receiver<Reports>>>,
}

impl std::fmt::Debug for AgentLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentLink")
    }
}

/// Who to talk to: the known managers, and the one the heartbeat session last reached.
#[derive(Clone)]
pub struct Managers {
    /// Known managers (`host:port`).
    pub known: Vec<String>,
    /// The manager that last accepted a heartbeat (the leader), when there is one.
    pub leader: watch::Receiver<Option<String>>,
}

impl Managers {
    /// Candidates in order: the leader the heartbeat reached, then the others.
    fn candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(leader) = self.leader.borrow().clone() {
            out.push(leader);
        }
        for m in &self.known {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }
}

/// Runs both directions until `stop` is cancelled.
pub async fn run(
    client: reqwest::Client,
    managers: Managers,
    link: AgentLink,
    stop: CancellationToken,
) {
    let follow = follow(
        client.clone(),
        managers.clone(),
        link.assignments.clone(),
        stop.clone(),
    );
    let post = post(client, managers, link.reports.clone(), stop.clone());
    tokio::join!(follow, post);
}

enum Ended {
    /// The stream ended or broke after delivering something; reconnect at once.
    Dropped(Dropped),
    /// The manager names another leader.
    Redirect(Option<String>),
    /// Could not connect or was refused.
    Failed(CallError),
}

/// Why a connected assignment stream ended.
#[derive(Debug, thiserror::Error)]
enum Dropped {
    /// The node's runtime is shutting down.
    #[error("the node is stopping")]
    Stopping,
    /// The heartbeat session reached another leader; a stale one may never close the stream.
    #[error("the leader is now {leader}")]
    LeaderMoved {
        /// The manager the heartbeat reached.
        leader: String,
    },
    /// The manager ended the stream (it stepped down or stopped).
    #[error("closed by the manager")]
    Closed,
    /// The connection broke mid-stream.
    #[error("{}", error_chain(.0))]
    Broken(#[source] reqwest::Error),
    /// A line of the stream is not an assignment batch.
    #[error("unreadable assignment batch: {0}")]
    Unreadable(#[source] serde_json::Error),
    /// The worker's end of the channel is gone.
    #[error("the worker stopped")]
    WorkerStopped,
    /// A line grew past [`MAX_LINE`] without ending.
    #[error("an assignment batch exceeds 256 MiB")]
    Oversized,
}

/// Why the leader did not take a status report.
enum ReportError {
    /// A follower named the leader to send it to.
    Redirect(String),
    /// No usable answer; the next manager is tried after a pause.
    Failed,
}

/// Follows the assignment stream, reconnecting as needed.
async fn follow(
    client: reqwest::Client,
    mut managers: Managers,
    tx: mpsc::Sender<AssignmentBatch>,
    stop: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    let mut hint: Option<String> = None;
    let mut attempt = 0usize;
    let mut redirects = 0u32;
    let mut warned = false;
    loop {
        let candidates = managers.candidates();
        let target = match hint.take() {
            Some(leader) => leader,
            None => match candidates.get(attempt % candidates.len().max(1)) {
                Some(t) => t.clone(),
                None => return,
            },
        };
        attempt += 1;
        let ended = tokio::select! {
            () = stop.cancelled() => return,
            ended = stream_once(&client, &target, &tx, &mut managers.leader) => ended,
        };
        if !matches!(ended, Ended::Redirect(_)) {
            redirects = 0;
        }
        match ended {
            Ended::Dropped(why) => {
                tracing::info!(manager = %target, %why, "assignment stream ended; reconnecting");
                backoff = MIN_BACKOFF;
                attempt = 0;
                warned = false;
                continue;
            }
            // Managers that disagree about the leader during an election must not make this spin.
            Ended::Redirect(Some(leader)) if leader != target && redirects < 3 => {
                redirects += 1;
                hint = Some(leader);
                continue;
            }
            Ended::Redirect(_) => {}
            Ended::Failed(why) => {
                if !warned && attempt >= candidates.len() {
                    tracing::warn!(manager = %target, %why, "no manager serves assignments; retrying");
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: forward every batch until the stream ends, or the heartbeat session finds
/// the leader elsewhere (a hung leader may keep a stream open forever).
async fn stream_once(
    client: &reqwest::Client,
    target: &str,
    tx: &mpsc::Sender<AssignmentBatch>,
    leader: &mut watch::Receiver<Option<String>>,
) -> Ended {
    let sent = client
        .get(format!("https://{target}{ASSIGNMENTS_PATH}"))
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return Ended::Failed(CallError::Unreachable(e)),
    };
    match response.status() {
        StatusCode::OK => {}
        StatusCode::MISDIRECTED_REQUEST => {
            return match response.json::<NotLeader>().await {
                Ok(body) => Ended::Redirect(body.leader),
                Err(e) => Ended::Failed(CallError::Unreadable(e)),
            };
        }
        status => return Ended::Failed(CallError::Status(status)),
    }
    tracing::info!(manager = %target, "assignment stream connected");
    leader.borrow_and_update();
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            changed = leader.changed() => {
                if changed.is_err() {
                    return Ended::Dropped(Dropped::Stopping);
                }
                let now = leader.borrow_and_update().clone();
                if let Some(leader) = now.filter(|l| l != target) {
                    return Ended::Dropped(Dropped::LeaderMoved { leader });
                }
                continue;
            }
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ended::Dropped(Dropped::Closed),
            Err(e) => return Ended::Dropped(Dropped::Broken(e)),
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            match serde_json::from_slice::<AssignmentBatch>(&line[..end]) {
                Ok(batch) => {
                    if tx.send(batch).await.is_err() {
                        return Ended::Dropped(Dropped::WorkerStopped);
                    }
                }
                Err(e) => return Ended::Dropped(Dropped::Unreadable(e)),
            }
        }
        if buffer.len() > MAX_LINE {
            return Ended::Dropped(Dropped::Oversized);
        }
    }
}

/// Posts the worker's reports to the leader, latest per task, retrying until accepted.
async fn post(
    client: reqwest::Client,
    managers: Managers,
    reports: Arc<Mutex<mpsc::Receiver<Reports>>>,
    stop: CancellationToken,
) {
    // Only one runtime at a time reads the worker's reports; a restarting runtime waits here.
    let mut rx = tokio::select! {
        () = stop.cancelled() => return,
        rx = reports.lock() => rx,
    };
    let mut pending: HashMap<String, TaskStatus> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut backoff = MIN_BACKOFF;
    let mut target: Option<String> = None;
    loop {
        if pending.is_empty() {
            tokio::select! {
                () = stop.cancelled() => return,
                batch = rx.recv() => match batch {
                    Some(batch) => merge(&mut pending, &mut order, batch),
                    None => return,
                },
            }
            tokio::time::sleep(REPORT_GATHER).await;
        }
        while let Ok(batch) = rx.try_recv() {
            merge(&mut pending, &mut order, batch);
        }
        let updates: Vec<(String, TaskStatus)> = order
            .iter()
            .filter_map(|id| pending.get(id).map(|s| (id.clone(), s.clone())))
            .collect();
        let report = StatusReport { updates };
        let candidates = managers.candidates();
        let to = target
            .clone()
            .or_else(|| candidates.first().cloned())
            .unwrap_or_default();
        match send_report(&client, &to, &report).await {
            Ok(()) => {
                pending.clear();
                order.clear();
                backoff = MIN_BACKOFF;
                continue;
            }
            Err(ReportError::Redirect(leader)) => {
                target = Some(leader);
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(REPORT_GATHER) => {}
                }
            }
            Err(ReportError::Failed) => {
                // Try the next candidate after a pause; reports keep merging meanwhile.
                let next = candidates
                    .iter()
                    .position(|c| *c == to)
                    .map(|i| (i + 1) % candidates.len().max(1));
                target = next.and_then(|i| candidates.get(i).cloned());
                let sleep = tokio::time::sleep(backoff);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = &mut sleep => break,
                        batch = rx.recv() => match batch {
                            Some(batch) => merge(&mut pending, &mut order, batch),
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Keeps the latest report per task, in first-reported order.
fn merge(pending: &mut HashMap<String, TaskStatus>, order: &mut Vec<String>, batch: Reports) {
    for (id, status) in batch {
        if pending.insert(id.clone(), status).is_none() {
            order.push(id);
        }
    }
}

/// Sends one report to `target`.
async fn send_report(
    client: &reqwest::Client,
    target: &str,
    report: &StatusReport,
) -> Result<(), ReportError> {
    let sent = client
        .post(format!("https://{target}{STATUS_PATH}"))
        .json(report)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|_| ReportError::Failed)?;
    match sent.status() {
        s if s.is_success() => Ok(()),
        StatusCode::MISDIRECTED_REQUEST => {
            let leader = sent.json::<NotLeader>().await.ok().and_then(|b| b.leader);
            match leader.filter(|l| l != target) {
                Some(leader) => Err(ReportError::Redirect(leader)),
                None => Err(ReportError::Failed),
            }
        }
        _ => Err(ReportError::Failed),
    }
}

#[cfg(test)]
#[path = "assignment_client_test.rs"]
mod tests;
