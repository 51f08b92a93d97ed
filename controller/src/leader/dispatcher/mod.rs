//! The leader's dispatcher: streams each connected node its assignment set, and turns the
//! nodes' task status reports into batched Raft writes.
//!
//! ```text
//!  changed tasks (state machine's change feed) ──▶ Sessions::compute ──▶ per-node batches ──▶ node
//!  node ──StatusReport──▶ buffer (latest report per task) ──every 100 ms──▶ UpdateTaskStatus
//! ```
//! Nodes connect over HTTPS ([`crate::api::assignments`]) or, for simulated nodes in tests and benchmarks, in
//! process through [`Dispatcher::connect`] and [`Dispatcher::report`]: both paths share all of
//! the above. Status writes are batched as SwarmKit does, so thousands of nodes cost a few
//! writes per second; a report is only accepted from the node the task is assigned to.

pub mod sessions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crds::assignment::AssignmentBatch;
use crds::task::TaskStatus;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::leader::Handles;
use crate::raft::Command;

use self::sessions::Sessions;

/// How often buffered status reports are committed.
pub const REPORT_FLUSH: Duration = Duration::from_millis(100);
/// The most status updates in one Raft entry (keeps entries around a few MiB).
pub const REPORTS_PER_WRITE: usize = 20_000;
/// The shortest time from the end of one assignment pass to the next: changes that arrive
/// together go together.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(20);

/// Sessions and buffered reports of one manager (active while it leads).
#[derive(Default)]
pub struct Dispatcher {
    sessions: Mutex<Sessions>,
    /// Sessions opened since the last pass: a node connecting never waits for a pass (which
    /// holds `sessions` while it computes).
    joining: Mutex<Vec<(String, sessions::Sender)>>,
    /// Task id → (reporting node, latest status).
    reports: Mutex<HashMap<String, (String, TaskStatus)>>,
    wake: Notify,
}

impl Dispatcher {
    /// An idle dispatcher.
    pub fn new() -> Arc<Self> {
        Arc::new(Dispatcher::default())
    }

    /// Open `node`'s session: the receiver gets the full set, then deltas, until the session is
    /// replaced, the node is gone or this manager stops leading.
    pub fn connect(&self, node: &str) -> mpsc::UnboundedReceiver<AssignmentBatch> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.joining
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((node.to_owned(), tx));
        self.wake.notify_one();
        rx
    }

    /// Number of connected nodes (sessions opened since the last pass count from the next).
    pub fn connected(&self) -> usize {
        self.sessions().len()
    }

    /// Move the sessions opened since the last pass into `sessions`.
    fn admit(&self, sessions: &mut Sessions) {
        let joining = std::mem::take(&mut *self.joining.lock().unwrap_or_else(|p| p.into_inner()));
        for (node, tx) in joining {
            sessions.connect(&node, tx);
        }
    }

    /// Buffer `node`'s reports; a later report of a task replaces an earlier unflushed one.
    pub fn report(&self, node: &str, updates: Vec<(String, TaskStatus)>) {
        let mut reports = self.reports();
        for (id, status) in updates {
            reports.insert(id, (node.to_owned(), status));
        }
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reports(&self) -> MutexGuard<'_, HashMap<String, (String, TaskStatus)>> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leader loop: send assignment changes as the state moves and flush reports, until `stop`;
    /// then every session ends, so nodes reconnect to the next leader.
    pub async fn run(self: Arc<Self>, handles: Handles, stop: CancellationToken) {
        let flusher = tokio::spawn(self.clone().flush_loop(handles.clone(), stop.clone()));
        let mut version = handles.sm.watch();
        // Subscribed before the first pass, so that pass (a full one) misses nothing.
        let mut feed = handles.sm.changes();
        loop {
            let started = std::time::Instant::now();
            // A pass can be CPU work (a full set for a new session is a scan of every task):
            // keep it off the threads that serve heartbeats and sessions.
            let (me, sm, pass_feed) = (self.clone(), handles.sm.clone(), feed.clone());
            let passed = tokio::task::spawn_blocking(move || {
                let changes = pass_feed.take();
                let mut sessions = me.sessions();
                me.admit(&mut sessions);
                let batches = sm.read(|state| sessions.compute(state, &changes));
                sessions.send(batches);
            })
            .await;
            if passed.is_err() {
                tracing::error!("an assignment pass panicked");
                // The changes it took are lost: a new subscription starts with a full pass.
                feed = handles.sm.changes();
            }
            let pass = started.elapsed();
            // Paced, not delayed: a change after a quiet spell is sent at once; the next pass
            // leaves the state's writers at least as much time as this one took.
            let next_pass = tokio::time::Instant::now() + MIN_PASS_INTERVAL.max(pass);
            tokio::select! {
                () = stop.cancelled() => break,
                changed = version.changed() => if changed.is_err() { break },
                () = self.wake.notified() => {}
            }
            tokio::time::sleep_until(next_pass).await;
        }
        self.joining
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.sessions().prune(true);
        let _ = flusher.await;
    }

    async fn flush_loop(self: Arc<Self>, handles: Handles, stop: CancellationToken) {
        let mut tick = tokio::time::interval(REPORT_FLUSH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.flush(&handles).await;
        }
    }

    /// Commit the buffered reports that come from the node their task is assigned to.
    async fn flush(&self, handles: &Handles) {
        let buffered = std::mem::take(&mut *self.reports());
        if buffered.is_empty() {
            return;
        }
        // Waiting for the state's lock (behind a long pass) must not block an async thread.
        let sm = handles.sm.clone();
        let checked = tokio::task::spawn_blocking(move || {
            sm.read(|state| {
                buffered
                    .into_iter()
                    .filter(|(id, (node, _))| {
                        state
                            .tasks
                            .get(id)
                            .is_some_and(|t| t.node.as_deref() == Some(node.as_str()))
                    })
                    .map(|(id, (_, status))| (id, status))
                    .collect::<Vec<(String, TaskStatus)>>()
            })
        })
        .await;
        let Ok(updates) = checked else {
            tracing::error!("checking status reports panicked; they are dropped");
            return;
        };
        let writes = updates.chunks(REPORTS_PER_WRITE).map(|chunk| {
            handles.writer.write_as_leader(Command::UpdateTaskStatus {
                updates: chunk.to_vec(),
                at_ms: handles.clock.now_ms(),
            })
        });
        for result in futures_util::future::join_all(writes).await {
            if let Err(err) = result {
                // The reports are lost with this leader; agents re-report on their next session.
                tracing::warn!(error = %err, "committing task status reports failed");
            }
        }
    }
}
