//! The leader's orchestration loop: on every state change (and when a delayed decision falls
//! due) it runs one pure pass ([`crate::reconcile::pass`]) off the async threads and commits the
//! decided commands through Raft, a few at a time.
//!
//! The loop is handed what it uses — the applied state to read and follow, Raft to commit
//! through, the clock — not the whole manager.

use std::time::Duration;

use agent::clock::Clock;
use tokio_util::sync::CancellationToken;

use crate::leader::Handles;
use crate::raft::changes::Changes;
use crate::raft::{Command, Raft, Response};
use crate::reconcile::pass::{Backlog, Config};

/// Writes proposed at once: Raft appends what is queued together, one disk flush per batch.
const WRITES_IN_FLIGHT: usize = 64;
/// The shortest time from the end of one pass to the start of the next, so that changes
/// arriving together are decided together.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(50);

/// Leader loop: decide and commit until `stop`.
pub async fn run(handles: Handles, config: Config, stop: CancellationToken) {
    let Handles {
        sm, raft, clock, ..
    } = handles;
    let mut version = sm.watch();
    // Subscribed before the first pass: its first take says "everything".
    let feed = sm.changes();
    let mut backlog = Backlog::default();
    // Entries of earlier terms may still be on their way into the state: decide on all of them.
    if !caught_up(&raft, &clock, &stop).await {
        return;
    }
    loop {
        let now = clock.now_ms();
        let started = std::time::Instant::now();
        backlog.changes.merge(feed.take());
        // A pass over a large state is CPU work: keep it off the threads that serve heartbeats.
        let pass_sm = sm.clone();
        let pass_config = config.clone();
        let decided = tokio::task::spawn_blocking(move || {
            let mut new_id = crate::ids::new_id;
            let decision =
                pass_sm.read(|state| backlog.pass(state, now, &pass_config, &mut new_id));
            (backlog, decision)
        })
        .await;
        let Ok((mut next, decision)) = decided else {
            tracing::error!("an orchestration pass panicked; retrying in 1s");
            backlog = Backlog::everything();
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let pass = started.elapsed();
        let wrote = !decision.commands.is_empty();
        // A pass that stopped at service changes is continued as soon as they are stored.
        let interval = if decision.services_only {
            Duration::ZERO
        } else {
            MIN_PASS_INTERVAL
        };
        if wrote {
            tracing::debug!(
                commands = decision.commands.len(),
                decided_in_ms = pass.as_millis() as u64,
                "orchestration pass"
            );
        }
        if wrote && !commit(&raft, decision.commands, &stop).await {
            // A decision was rejected, or leadership was lost: decide again from the whole
            // state, once every proposal of this pass is in it (deciding without one that is
            // still applied would create its tasks twice).
            next.changes = Changes::everything();
            backlog = next;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if !caught_up(&raft, &clock, &stop).await {
                return;
            }
            continue;
        }
        backlog = next;
        // Passes are paced, not delayed: the next one comes no sooner than MIN_PASS_INTERVAL
        // (changes arriving together are decided together) and than the time this one took
        // (a long pass leaves the state's writers — Raft applying reports — as much time), but
        // a change after a quiet spell is decided at once.
        let next_pass = tokio::time::Instant::from_std(started + pass + interval.max(pass));
        let wake = backlog
            .wake_at_ms()
            .map(|at| Duration::from_millis(at.saturating_sub(clock.now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        if !wrote && backlog.is_quiet() {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = version.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(wake) => {}
            }
        }
        tokio::time::sleep_until(next_pass).await;
        version.borrow_and_update();
    }
}

/// Wait until everything proposed so far is applied: a no-op entry (an empty status update) is
/// committed after every proposal made before it, so once it is applied they are too (or were
/// dropped with a lost leadership). False when `stop` came first or this manager stopped leading.
async fn caught_up(raft: &Raft, clock: &Clock, stop: &CancellationToken) -> bool {
    let barrier = Command::UpdateTaskStatus {
        updates: Vec::new(),
        at_ms: clock.now_ms(),
    };
    tokio::select! {
        () = stop.cancelled() => false,
        written = raft.client_write(barrier) => match written {
            Ok(_) => true,
            Err(err) => {
                tracing::info!(error = %err, "not deciding: the state did not catch up");
                false
            }
        },
    }
}

/// Commit `commands` in order, a few at a time; false when a write failed or `stop` came.
/// No timeout: at scale an entry of thousands of tasks may take longer than a client's write
/// timeout, and giving up on a write that is still applied later would decide its tasks twice.
async fn commit(raft: &Raft, commands: Vec<Command>, stop: &CancellationToken) -> bool {
    let mut commands = commands.into_iter();
    loop {
        let group: Vec<Command> = commands.by_ref().take(WRITES_IN_FLIGHT).collect();
        if group.is_empty() {
            return true;
        }
        let writes = group.into_iter().map(|cmd| raft.client_write(cmd));
        let results = tokio::select! {
            () = stop.cancelled() => return false,
            results = futures_util::future::join_all(writes) => results,
        };
        let mut ok = true;
        for result in results {
            match result.map(|written| written.data) {
                Ok(Response::Ok { .. }) => {}
                Ok(Response::Rejected { reason }) => {
                    tracing::warn!(%reason, "an orchestration decision was rejected");
                    ok = false;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "committing orchestration decisions failed");
                    ok = false;
                }
            }
        }
        if !ok {
            return false;
        }
    }
}
