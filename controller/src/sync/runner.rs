//! The desired-state sync loop: wake → fetch a revision → evaluate → decide → record.
//!
//! A thin runtime around the pure [`crate::sync::decide`]: it owns the IO (the source, the
//! record store, the clock) and reports what happened as [`Event`]s for logs, tests and
//! benchmarks. It never stops on an error: a failed fetch is logged and retried at the next wake.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent::clock::Clock;
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info, warn};

use crate::desired;
use crate::source::revisions::{RevisionSource, SourceError};
use crate::source::{Snapshot, Wake};
use crate::sync::applied::{self, Record, Store};
use crate::sync::record::Verdict;
use crate::sync::{self, Decision, Options, PlanSummary};

/// What one pass of the loop did.
#[derive(Debug, Clone)]
pub enum Event {
    /// The loop woke and is about to fetch.
    Polling {
        /// What woke the loop.
        wake: Wake,
        /// When fetching started.
        at: Instant,
    },
    /// The source has nothing new.
    NoNewRevision {
        /// What woke the loop.
        wake: Wake,
    },
    /// A revision was evaluated and planned (then applied, unchanged, rejected or refused).
    Evaluated {
        /// What woke the loop.
        wake: Wake,
        /// The revision.
        revision: String,
        /// Its plan against the applied state, when it was valid.
        plan: Option<PlanSummary>,
        /// The outcome: `applied`, `unchanged`, `rejected` or `refused`.
        result: &'static str,
        /// When evaluation finished.
        at: Instant,
    },
    /// Fetching failed.
    SourceFailed {
        /// What woke the loop.
        wake: Wake,
        /// Why.
        error: SourceError,
    },
}

/// The loop's state and IO.
pub struct Syncer {
    source: Arc<Mutex<Box<dyn RevisionSource>>>,
    store: Arc<dyn Store>,
    options: Options,
    root_name: String,
    events: broadcast::Sender<Event>,
    clock: Clock,
}

impl Syncer {
    /// A loop over `source` recording into `store`; `root_name` names a stack whose compose file
    /// sits at the root of the source's path.
    pub fn new(
        source: Box<dyn RevisionSource>,
        store: Arc<dyn Store>,
        options: Options,
        root_name: String,
    ) -> Self {
        let (events, _) = broadcast::channel(256);
        Syncer {
            source: Arc::new(Mutex::new(source)),
            store,
            options,
            root_name,
            events,
            clock: Clock::system(),
        }
    }

    /// Subscribe to what the loop does.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Run until the wake channel closes.
    pub async fn run(self, mut wakes: mpsc::Receiver<Wake>) {
        let description = self.source.lock().map(|s| s.describe()).unwrap_or_default();
        info!(source = %description, "following desired state");
        while let Some(wake) = wakes.recv().await {
            self.sync_once(wake).await;
        }
    }

    /// One pass: poll the source and handle a new revision.
    pub async fn sync_once(&self, wake: Wake) {
        let _ = self.events.send(Event::Polling {
            wake: wake.clone(),
            at: Instant::now(),
        });
        let source = Arc::clone(&self.source);
        let polled = tokio::task::spawn_blocking(move || match source.lock() {
            Ok(mut s) => s.poll(),
            Err(_) => Err(SourceError::Poisoned),
        })
        .await
        .unwrap_or_else(|e| Err(SourceError::Task(Arc::new(e))));
        let event = match polled {
            Ok(None) => {
                self.record_source(|r| r.after_source_recovered()).await;
                Event::NoNewRevision { wake }
            }
            Ok(Some(snapshot)) => self.handle(wake, snapshot).await,
            Err(error) => {
                let temporary = error.is_temporary();
                if temporary {
                    warn!(%error, "fetching desired state failed; retrying at the next wake");
                } else {
                    error!(%error, "fetching desired state failed; this needs an operator");
                }
                let at_ms = self.clock.now_ms();
                let message = error.to_string();
                self.record_source(|r| r.after_source_failure(message, temporary, at_ms))
                    .await;
                Event::SourceFailed { wake, error }
            }
        };
        let _ = self.events.send(event);
    }

    /// Saves the record `change` makes of the stored one, when it makes one: fetch failures
    /// belong in the record, where `status` shows them, not only in this manager's log.
    async fn record_source(&self, change: impl FnOnce(&Record) -> Option<Record>) {
        let next = match self.store.load() {
            Ok(record) => change(&record),
            Err(e) => {
                error!(error = %e, "cannot read the revision record");
                None
            }
        };
        if let Some(next) = next
            && let Err(e) = self.store.save(&next).await
        {
            error!(error = %e, "cannot record the source's state");
        }
    }

    async fn handle(&self, wake: Wake, snapshot: Snapshot) -> Event {
        let root_name = self.root_name.clone();
        let store = Arc::clone(&self.store);
        let options = self.options;
        let revision = snapshot.revision.id.clone();
        let at_ms = self.clock.now_ms();
        let evaluated = tokio::task::spawn_blocking(move || {
            evaluate(&snapshot, &root_name, store.as_ref(), options, at_ms)
        })
        .await;
        let verdict = match evaluated {
            Ok(Ok((record, verdict))) => match self.store.save(&record).await {
                Ok(()) => Some(verdict),
                Err(e) => {
                    error!(error = %e, "cannot record the revision outcome");
                    None
                }
            },
            Ok(Err(e)) => {
                error!(error = %e, "cannot read the revision record");
                None
            }
            Err(e) => {
                error!(error = %e, "evaluating the revision panicked");
                None
            }
        };
        let (plan, result) = verdict.map_or((None, "failed"), |v| (v.plan, v.result));
        Event::Evaluated {
            wake,
            revision,
            plan,
            result,
            at: Instant::now(),
        }
    }
}

/// Evaluate a snapshot and decide: the record to store and what it came to.
fn evaluate(
    snapshot: &Snapshot,
    root_name: &str,
    store: &dyn Store,
    options: Options,
    at_ms: u64,
) -> Result<(Record, Verdict), applied::Error> {
    let set = desired::load_snapshot(snapshot, root_name);
    let desired = set.desired(snapshot);
    let record = store.load()?;
    let evaluated = desired.as_ref().ok_or_else(|| set.findings());
    let applied = desired::DesiredState {
        stacks: record.applied_stacks(),
    };
    let decision = sync::decide(evaluated, &applied, options);
    log_decision(&snapshot.revision.id, &decision);
    Ok(record.after(decision, snapshot.revision.clone(), set.findings(), at_ms))
}

fn log_decision(revision: &str, decision: &Decision) {
    match decision {
        Decision::Apply { plan, .. } => {
            info!(%revision, plan = %PlanSummary::from(plan), "applying revision");
        }
        Decision::Unchanged => {}
        Decision::Reject { findings } => {
            let errors: Vec<_> = findings.iter().filter(|f| f.severity == "error").collect();
            warn!(%revision, errors = errors.len(), "revision rejected; the last good revision stays applied");
            for f in &errors {
                warn!(%revision, "{f}");
            }
        }
        Decision::RefuseEmpty { stacks } => {
            warn!(%revision, stacks, "revision removes every stack; refused (set --allow-empty to allow it)");
        }
    }
}

/// Wake the loop every `interval`, ± 10 % so that many managers do not poll in lockstep.
pub async fn tick(interval: Duration, tx: mpsc::Sender<Wake>) {
    loop {
        let jitter = rand::random_range(0.9..1.1);
        tokio::time::sleep(interval.mul_f64(jitter)).await;
        let wake = Wake {
            reason: crate::source::WakeReason::Interval,
            at: Instant::now(),
        };
        if tx.send(wake).await.is_err() {
            return;
        }
    }
}
