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
use crate::diff::Plan;
use crate::source::{Snapshot, Wake};
use crate::sync::applied::{
    self, AppliedRevision, Outcome, Refusal, RejectedRevision, RevisionInfo, Store,
};
use crate::sync::{self, Decision, Options};

/// A source error, classified so the loop knows whether retrying can help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// What failed, for humans.
    pub message: String,
    /// Network or IO hiccups: retry at the next wake. Permanent errors need an operator.
    pub temporary: bool,
}

/// Something that produces revisions.
pub trait RevisionSource: Send {
    /// Look for the newest revision: `None` when it is the one returned last time.
    fn poll(&mut self) -> Result<Option<Snapshot>, SourceError>;
    /// Human name, for logs (`git https://… main` / `directory ./stacks`).
    fn describe(&self) -> String;
}

/// A directory followed in watch mode; the revision id is the content hash.
pub struct DirSource {
    dir: std::path::PathBuf,
    last: Option<String>,
}

impl DirSource {
    /// Follow `dir`.
    pub fn new(dir: std::path::PathBuf) -> Self {
        DirSource { dir, last: None }
    }
}

impl RevisionSource for DirSource {
    fn poll(&mut self) -> Result<Option<Snapshot>, SourceError> {
        let files = Snapshot::read_dir(&self.dir).map_err(|e| SourceError {
            message: e.to_string(),
            temporary: true,
        })?;
        let id = Snapshot::content_hash(&files);
        if self.last.as_deref() == Some(id.as_str()) {
            return Ok(None);
        }
        self.last = Some(id.clone());
        Ok(Some(Snapshot {
            id,
            origin: crds::revision::RevisionOrigin::Directory {
                path: self.dir.display().to_string(),
            },
            author: None,
            message: None,
            time_ms: None,
            files,
        }))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

/// A Git branch: a new revision whenever the fetched tip differs from the last one returned.
pub struct GitRevisions {
    git: crate::source::git::GitSource,
    description: String,
    last: Option<String>,
}

impl GitRevisions {
    /// Follow `git`.
    pub fn new(git: crate::source::git::GitSource, description: String) -> Self {
        GitRevisions {
            git,
            description,
            last: None,
        }
    }
}

impl RevisionSource for GitRevisions {
    fn poll(&mut self) -> Result<Option<Snapshot>, SourceError> {
        let classify = |e: crate::source::git::Error| SourceError {
            temporary: e.is_temporary(),
            message: e.to_string(),
        };
        let fetched = self.git.fetch().map_err(classify)?;
        if self.last.as_deref() == Some(fetched.commit.as_str()) {
            return Ok(None);
        }
        let snapshot = self.git.snapshot(&fetched.commit).map_err(classify)?;
        self.last = Some(fetched.commit);
        Ok(Some(snapshot))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// Counts of a plan, for logs and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanSummary {
    /// Resources to create.
    pub add: usize,
    /// Resources to change.
    pub change: usize,
    /// Resources to remove.
    pub remove: usize,
}

impl From<&Plan> for PlanSummary {
    fn from(plan: &Plan) -> Self {
        PlanSummary {
            add: plan.to_add.len(),
            change: plan.to_change.len(),
            remove: plan.to_remove.len(),
        }
    }
}

impl std::fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.remove
        )
    }
}

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

fn info_of(s: &Snapshot) -> RevisionInfo {
    RevisionInfo {
        id: s.id.clone(),
        origin: s.origin.clone(),
        author: s.author.clone(),
        message: s.message.clone(),
        time_ms: s.time_ms,
    }
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
            Err(_) => Err(SourceError {
                message: "source lock poisoned".into(),
                temporary: false,
            }),
        })
        .await
        .unwrap_or_else(|e| {
            Err(SourceError {
                message: format!("source task failed: {e}"),
                temporary: true,
            })
        });
        let event = match polled {
            Ok(None) => Event::NoNewRevision { wake },
            Ok(Some(snapshot)) => self.handle(wake, snapshot).await,
            Err(error) => {
                if error.temporary {
                    warn!(%error, "fetching desired state failed; retrying at the next wake");
                } else {
                    error!(%error, "fetching desired state failed; this needs an operator");
                }
                Event::SourceFailed { wake, error }
            }
        };
        let _ = self.events.send(event);
    }

    async fn handle(&self, wake: Wake, snapshot: Snapshot) -> Event {
        let root_name = self.root_name.clone();
        let store = Arc::clone(&self.store);
        let options = self.options;
        let revision = snapshot.id.clone();
        let at_ms = self.clock.now_ms();
        let outcome = tokio::task::spawn_blocking(move || {
            evaluate_and_record(&snapshot, &root_name, store.as_ref(), options, at_ms)
        })
        .await;
        let (plan, result) = match outcome {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                error!(error = %e, "cannot record the revision outcome");
                (None, "failed")
            }
            Err(e) => {
                error!(error = %e, "evaluating the revision panicked");
                (None, "failed")
            }
        };
        Event::Evaluated {
            wake,
            revision,
            plan,
            result,
            at: Instant::now(),
        }
    }
}

/// Evaluate a snapshot, decide, persist the outcome; returns the plan summary and the result.
fn evaluate_and_record(
    snapshot: &Snapshot,
    root_name: &str,
    store: &dyn Store,
    options: Options,
    at_ms: u64,
) -> Result<(Option<PlanSummary>, &'static str), applied::Error> {
    let set = desired::load_snapshot(snapshot, root_name);
    let desired = set.desired(snapshot);
    let mut record = store.load()?;
    let evaluated = desired.as_ref().ok_or_else(|| set.findings());
    let applied = desired::DesiredState {
        stacks: record.applied_stacks(),
    };
    let decision = sync::decide(evaluated, &applied, options);
    let info = info_of(snapshot);
    record.last_seen = Some(info.clone());
    let (plan, result, summary) = match decision {
        Decision::Apply { plan, next } => {
            let s = PlanSummary::from(&plan);
            info!(revision = %info.id, plan = %s, "applying revision");
            let warnings = set.findings();
            record.applied = Some(AppliedRevision {
                revision: info.clone(),
                at_ms,
                stacks: next.stacks,
                warnings,
            });
            record.rejected = None;
            (Some(s), "applied", s.to_string())
        }
        Decision::Unchanged => {
            if let Some(applied) = &mut record.applied {
                applied.revision = info.clone();
            }
            record.rejected = None;
            (
                Some(PlanSummary::default()),
                "unchanged",
                "no changes".to_owned(),
            )
        }
        Decision::Reject { findings } => {
            let errors: Vec<_> = findings.iter().filter(|f| f.severity == "error").collect();
            warn!(revision = %info.id, errors = errors.len(), "revision rejected; the last good revision stays applied");
            for f in &errors {
                warn!(revision = %info.id, "{f}");
            }
            let first = errors.first().map(|f| f.to_string()).unwrap_or_default();
            record.rejected = Some(RejectedRevision {
                revision: info.clone(),
                at_ms,
                refusal: Refusal::LintErrors { findings },
            });
            (None, "rejected", first)
        }
        Decision::RefuseEmpty { stacks } => {
            warn!(revision = %info.id, stacks, "revision removes every stack; refused (set --allow-empty to allow it)");
            record.rejected = Some(RejectedRevision {
                revision: info.clone(),
                at_ms,
                refusal: Refusal::EmptyDesiredState { stacks },
            });
            (None, "refused", format!("would remove all {stacks} stacks"))
        }
    };
    record.push_history(Outcome {
        revision: info.id,
        at_ms,
        result: result.to_owned(),
        summary,
    });
    store.save(&record)?;
    Ok((plan, result))
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
