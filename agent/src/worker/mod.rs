//! The worker: compares the tasks assigned to this node with the containers that run, and
//! converges them, one executor step per task at a time and many tasks at once.
//!
//! The decisions live in [`plan`] (pure, tested step by step); [`run`] is the thin loop that
//! feeds it the assignment stream, the engine's events and the steps' outcomes, starts the steps
//! it asks for and sends its reports.
//!
//! ```text
//!  assignments ─┐                      ┌─▶ steps (≤ MAX_STEPS_IN_FLIGHT) ─▶ executor
//!  events ──────┼─▶ plan::Planner ─────┤
//!  listings ────┤        ▲             └─▶ reports ─▶ session
//!  outcomes ────┘────────┘
//! ```
//!
//! # Layout
//! - [`plan`]: the planner, assignment set + observed containers + steps in flight → steps.
//! - [`entry`]: one task's record and the decisions about it alone.
//!
//! The engine's event stream is followed from the start; when it breaks, the worker subscribes
//! again with a backoff and lists every container, so an event lost in between is not a state
//! lost. A listing also runs every [`RESYNC_INTERVAL`] as a safety net. Cancelling `stop` returns
//! at once and leaves every container as it is: an agent restart adopts them, and losing the
//! manager stops nothing.

use std::time::Duration;

use crds::assignment::AssignmentBatch;
use crds::task::TaskStatus;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::executor::Executor;

pub mod entry;
pub mod plan;

use entry::StepKind;
use plan::{Action, Outcome, Planner, Step};

/// Most executor steps in flight at once: a 50-replica deploy starts its containers in
/// parallel, as `docker compose up --scale` does, without flooding the engine.
pub const MAX_STEPS_IN_FLIGHT: usize = 64;
/// How often every container is listed again even when the event stream looks healthy.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(60);
/// First delay before subscribing to the engine again; doubles up to [`RESUBSCRIBE_MAX`].
pub const RESUBSCRIBE_MIN: Duration = Duration::from_millis(200);
/// Longest delay between attempts to reach the engine.
pub const RESUBSCRIBE_MAX: Duration = Duration::from_secs(5);

/// What the worker needs to know about its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's id (the executor already filters containers by it; used in logs).
    pub node_id: String,
    /// The process's clock: report times and retry deadlines.
    pub clock: Clock,
}

/// Converges this node's containers to its assignments until `stop` is cancelled.
///
/// `assignments` is the session's stream (a full batch on every reconnect, deltas in between);
/// `reports` receives every observed transition as `(task id, status)`, in batches.
pub async fn run<E: Executor>(
    config: Config,
    executor: E,
    mut assignments: mpsc::Receiver<AssignmentBatch>,
    reports: mpsc::Sender<Vec<(String, TaskStatus)>>,
    stop: CancellationToken,
) {
    let clock = config.clock;
    let mut planner = Planner::new(MAX_STEPS_IN_FLIGHT);
    let mut steps = FuturesUnordered::new();
    let mut events = None;
    let mut listing = None;
    let mut subscribe_at = Some(Instant::now());
    let mut subscribe_failures = 0u32;
    let mut resync_at = Instant::now() + RESYNC_INTERVAL;
    let mut assignments_open = true;
    tracing::debug!(node = %config.node_id, "worker started");
    loop {
        let now = Instant::now();
        if subscribe_at.is_some_and(|at| at <= now) {
            subscribe_at = None;
            events = Some(Box::pin(executor.events()));
            listing = Some(Box::pin(executor.list()));
            resync_at = now + RESYNC_INTERVAL;
        } else if resync_at <= now {
            // Without a subscription the next subscription lists anyway.
            if listing.is_none() && events.is_some() {
                listing = Some(Box::pin(executor.list()));
            }
            resync_at = now + RESYNC_INTERVAL;
        }
        for step in planner.plan(clock.now_ms()) {
            steps.push(run_step(&executor, step));
        }
        let batch = planner.take_reports();
        if !batch.is_empty() && !send_reports(&reports, batch, &stop).await {
            return;
        }
        let wake = [
            planner.wake_at_ms().map(|ms| clock.instant_of(ms)),
            subscribe_at,
            Some(resync_at),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(resync_at);
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            // Engine events first: a crash is reported even while a deploy keeps steps busy.
            event = next_event(&mut events) => match event {
                Some(Ok(event)) => planner.apply_event(&event),
                broken => {
                    if let Some(Err(error)) = broken {
                        tracing::warn!(%error, "engine event stream broke; subscribing again");
                    }
                    events = None;
                    listing = None;
                    subscribe_failures += 1;
                    subscribe_at = Some(Instant::now() + resubscribe_delay(subscribe_failures));
                }
            },
            Some((task_id, kind, outcome)) = steps.next(), if !steps.is_empty() => {
                planner.apply_outcome(&task_id, kind, outcome, clock.now_ms());
            }
            Some(listed) = next_of(&mut listing) => {
                listing = None;
                match listed {
                    Ok(containers) => {
                        subscribe_failures = 0;
                        planner.apply_listing(containers);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot list this node's containers");
                        events = None;
                        subscribe_failures += 1;
                        subscribe_at = Some(Instant::now() + resubscribe_delay(subscribe_failures));
                    }
                }
            }
            batch = assignments.recv(), if assignments_open => match batch {
                Some(batch) => planner.apply_assignments(batch),
                None => {
                    tracing::debug!("assignment stream closed; keeping containers as they are");
                    assignments_open = false;
                }
            },
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Runs one step on the executor.
async fn run_step<E: Executor>(executor: &E, step: Step) -> (String, StepKind, Outcome) {
    let kind = step.action.kind();
    let outcome = match step.action {
        Action::Prepare { task, spec } => executor.prepare(&task, &spec).await.map(Some),
        Action::Start { container_id } => executor.start(&container_id).await.map(Some),
        Action::Observe { container_id } => executor.inspect(&container_id).await,
        Action::Stop {
            container_id,
            config,
        } => executor.stop(&container_id, &config).await,
        Action::Remove { container_id } => executor.remove(&container_id).await.map(|()| None),
    };
    (step.task_id, kind, outcome)
}

/// Sends a batch of reports; false when `stop` was cancelled meanwhile.
async fn send_reports(
    reports: &mpsc::Sender<Vec<(String, TaskStatus)>>,
    batch: Vec<(String, TaskStatus)>,
    stop: &CancellationToken,
) -> bool {
    tokio::select! {
        biased;
        () = stop.cancelled() => false,
        sent = reports.send(batch) => {
            if sent.is_err() {
                tracing::debug!("nobody takes status reports; dropping them");
            }
            true
        }
    }
}

/// The output of a pending future, or never when there is none.
async fn next_of<F: Future + Unpin>(future: &mut Option<F>) -> Option<F::Output> {
    match future {
        Some(f) => Some(f.await),
        None => std::future::pending().await,
    }
}

/// The next item of a subscribed stream (`None`: it ended), or never when there is none.
async fn next_event<S: futures_util::Stream + Unpin>(stream: &mut Option<S>) -> Option<S::Item> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Delay before the `failures`-th attempt to reach the engine again.
fn resubscribe_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(8);
    (RESUBSCRIBE_MIN * 2u32.pow(doublings)).min(RESUBSCRIBE_MAX)
}

#[cfg(test)]
#[path = "plan_test.rs"]
mod plan_test;

#[cfg(test)]
mod fixtures;

#[cfg(test)]
#[path = "run_test.rs"]
mod run_test;
