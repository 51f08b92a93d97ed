//! Following the cluster's source: the one stored in the revision record (set from the flags
//! of a manager that names one, or with `reconciler source set`), so whichever manager leads
//! follows it without flags. The loop opens the stored source, starts the sync loop on it, opens
//! it again when it changes, and wakes the sync loop from every trigger — the poll interval, a
//! watched directory or local repository's refs, a verified webhook — but only while this node
//! leads (a node that becomes leader syncs at once).
//!
//! ```text
//!  stored source ─▶ open ─▶ Syncer ─▶ revision record (Store)
//!  interval ─┐               ▲
//!  watch ────┼─▶ leadership gate
//!  webhook ──┘
//! ```
//! The webhook port is open to anyone: it is served within [`bounded_http::Limits::webhook`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::bounded_http;
use crate::source::revisions::{OpenError, Opened};
use crate::source::spec::SourceSpec;
use crate::source::webhook::{self, Secrets, WebhookState};
use crate::source::{Wake, WakeReason, watch as source_watch};
use crate::sync::Options;
use crate::sync::applied::Store;
use crate::sync::runner::{self, Syncer};

/// How often the stored source is looked at again (it changes rarely; a change is followed
/// within this long).
const SOURCE_CHECK: Duration = Duration::from_secs(1);

/// What to follow and how, from this process's flags.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The source the flags name: it becomes the cluster's source once this manager leads
    /// (flags given on a start override what the cluster stored).
    pub flag_source: Option<SourceSpec>,
    /// Where Git clones are kept (the data directory).
    pub cache_root: PathBuf,
    /// How revisions are decided.
    pub options: Options,
    /// Watch a local repository's refs so pushes are seen at once.
    pub watch_refs: bool,
    /// A push webhook endpoint, when one is served.
    pub webhook: Option<Webhook>,
}

/// A push webhook endpoint.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The followed branch (pushes to others are ignored).
    pub branch: String,
    /// Secrets per provider.
    pub secrets: Secrets,
}

/// Why following could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The source's credentials cannot be read here.
    #[error(transparent)]
    Spec(#[from] crate::source::spec::Error),
    /// The directory or refs could not be watched.
    #[error(transparent)]
    Watch(#[from] source_watch::Error),
    /// The webhook address is taken or not ours.
    #[error("cannot listen for webhooks on {0}: {1}")]
    Listen(SocketAddr, #[source] std::io::Error),
    /// Opening the source was cut short.
    #[error("opening the source failed unexpectedly: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Keeps the follow loop alive while the node runs; it stops when this is dropped.
pub struct Following {
    _stop: tokio_util::sync::DropGuard,
}

/// One opened source and the loops on it; dropping it stops them.
struct Generation {
    spec: SourceSpec,
    wakes: mpsc::Sender<Wake>,
    _watch: Option<source_watch::Watch>,
    tick: JoinHandle<()>,
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.tick.abort();
    }
}

/// Start following: the flags' source, when given, is opened now (so a wrong URL, branch or
/// credential stops the start with its error), then the loop follows whatever the cluster
/// stores in `store`; it acts only while `leading` says so.
pub async fn start(
    follow: Follow,
    store: Arc<dyn Store>,
    leading: watch::Receiver<bool>,
) -> Result<Following, Error> {
    let preopened = match &follow.flag_source {
        Some(spec) => Some((
            spec.clone(),
            open(spec.clone(), follow.cache_root.clone()).await?,
        )),
        None => None,
    };
    let (raw_tx, raw) = mpsc::channel::<Wake>(1);
    if let Some(hook) = follow.webhook.clone() {
        serve_webhook(hook, raw_tx.clone()).await?;
    }
    let stop = CancellationToken::new();
    let looped = Loop {
        follow,
        store,
        leading,
        raw_tx,
        preopened: std::sync::Mutex::new(preopened),
    };
    tokio::spawn(looped.run(raw, stop.clone()));
    Ok(Following {
        _stop: stop.drop_guard(),
    })
}

async fn open(spec: SourceSpec, cache_root: PathBuf) -> Result<Opened, Error> {
    let followed = spec.followed(&cache_root)?;
    Ok(tokio::task::spawn_blocking(move || followed.open())
        .await
        .map_err(Error::Task)??)
}

struct Loop {
    follow: Follow,
    store: Arc<dyn Store>,
    leading: watch::Receiver<bool>,
    raw_tx: mpsc::Sender<Wake>,
    /// The flags' source as opened at start, used when the cluster's source is that one.
    preopened: std::sync::Mutex<Option<(SourceSpec, Opened)>>,
}

impl Loop {
    async fn run(mut self, mut raw: mpsc::Receiver<Wake>, stop: CancellationToken) {
        let mut current: Option<Generation> = None;
        let mut flag = self.follow.flag_source.clone();
        let mut said_none = false;
        let mut retry: Option<(SourceSpec, Instant)> = None;
        loop {
            let leads = *self.leading.borrow_and_update();
            if leads && let Some(wanted) = flag.clone() {
                match self.claim(wanted).await {
                    Ok(()) => flag = None,
                    Err(e) => warn!(error = %e, "cannot store this manager's source; retrying"),
                }
            }
            // A worker (or a manager between roles) reads no state: keep what runs.
            if let Ok(stored) = self.store.source() {
                if current.as_ref().map(|g| &g.spec) != stored.as_ref() {
                    current = None;
                    // A source that failed to open is tried again after its poll interval, not
                    // at every check: every manager would hammer an unreachable remote.
                    let waiting = retry.as_ref().is_some_and(|(spec, at)| {
                        Some(spec) == stored.as_ref() && Instant::now() < *at
                    });
                    if let Some(spec) = stored.clone().filter(|_| !waiting) {
                        current = self.start_generation(spec.clone(), leads).await;
                        retry = current
                            .is_none()
                            .then(|| (spec.clone(), Instant::now() + spec.interval()));
                    }
                }
                let none = leads && stored.is_none();
                if none && !said_none && flag.is_none() {
                    warn!(
                        "this cluster follows no repository: set one with `reconciler source \
                         set --repo URL` (status exits 1 until then)"
                    );
                }
                said_none = none;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SOURCE_CHECK) => {}
                wake = raw.recv() => match wake {
                    Some(wake) if leads => {
                        if let Some(g) = &current {
                            let _ = g.wakes.try_send(wake);
                        }
                    }
                    Some(_) => {}
                    None => return,
                },
                changed = self.leading.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *self.leading.borrow() && let Some(g) = &current {
                        let _ = g.wakes.try_send(start_wake());
                    }
                }
            }
        }
    }

    /// Store `wanted` as the cluster's source unless it is already.
    async fn claim(&self, wanted: SourceSpec) -> Result<(), crate::sync::applied::Error> {
        let stored = self.store.source()?;
        if stored.as_ref() == Some(&wanted) {
            return Ok(());
        }
        match &stored {
            Some(old) => info!(
                from = %old.describe(),
                to = %wanted.describe(),
                "the cluster's source changes to the one this manager was started with"
            ),
            None => info!(source = %wanted.describe(), "the cluster follows this source"),
        }
        self.store.set_source(Some(wanted)).await
    }

    /// Open `spec` and start the sync loop and watches on it; a failure is recorded as the
    /// source's failure (shown by `status`) and tried again at the next check.
    async fn start_generation(&mut self, spec: SourceSpec, leads: bool) -> Option<Generation> {
        let preopened = self
            .preopened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let opened = match preopened {
            Some((pre, opened)) if pre == spec => Ok(opened),
            _ => open(spec.clone(), self.follow.cache_root.clone()).await,
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) => {
                warn!(source = %spec.describe(), error = %e, "cannot open the cluster's source");
                if leads {
                    let at_ms = agent::clock::Clock::system().now_ms();
                    let failure = self
                        .store
                        .load()
                        .ok()
                        .and_then(|r| r.after_source_failure(e.to_string(), false, at_ms));
                    if let Some(next) = failure {
                        let _ = self.store.save(&next).await;
                    }
                }
                return None;
            }
        };
        let syncer = Syncer::new(
            opened.source,
            Arc::clone(&self.store),
            self.follow.options,
            spec.root_name(),
        );
        let (wakes, gated) = mpsc::channel::<Wake>(1);
        let watched = match (&opened.watch_dir, &opened.refs_dir) {
            (Some(dir), _) => {
                source_watch::watch_directory(dir, Duration::from_millis(200), self.raw_tx.clone())
                    .map(Some)
            }
            (None, Some(git_dir)) if self.follow.watch_refs => {
                source_watch::watch_refs(git_dir, self.raw_tx.clone()).map(Some)
            }
            (None, _) => Ok(None),
        };
        let watch = watched.unwrap_or_else(|e| {
            warn!(error = %e, "cannot watch the source; following it by polling only");
            None
        });
        let tick = tokio::spawn(runner::tick(spec.interval(), self.raw_tx.clone()));
        tokio::spawn(syncer.run(gated));
        if leads {
            let _ = wakes.try_send(start_wake());
        }
        Some(Generation {
            spec,
            wakes,
            _watch: watch,
            tick,
        })
    }
}

fn start_wake() -> Wake {
    Wake {
        reason: WakeReason::Start,
        at: Instant::now(),
    }
}

async fn serve_webhook(hook: Webhook, wake: mpsc::Sender<Wake>) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(hook.addr)
        .await
        .map_err(|e| Error::Listen(hook.addr, e))?;
    let (trigger_tx, mut trigger_rx) = mpsc::channel::<webhook::Trigger>(1);
    let state = WebhookState {
        secrets: Arc::new(hook.secrets),
        branch: hook.branch,
        trigger: trigger_tx,
    };
    let limits = bounded_http::Limits::webhook(bounded_http::open_file_limit());
    info!(
        addr = %hook.addr,
        max_connections = limits.max_connections,
        "webhook endpoint listening on POST /v1/webhook"
    );
    tokio::spawn(bounded_http::serve(
        listener,
        webhook::router(state),
        limits,
        CancellationToken::new(),
    ));
    tokio::spawn(async move {
        while let Some(t) = trigger_rx.recv().await {
            let _ = wake.try_send(Wake {
                reason: WakeReason::Webhook { after: t.after },
                at: t.received,
            });
        }
    });
    Ok(())
}
