//! Following a source: open it, start the sync loop on it, and wake the loop from every trigger
//! — the poll interval, a watched directory or local repository's refs, a verified webhook — but
//! only while this node leads (a node that becomes leader syncs at once).
//!
//! ```text
//!  interval ─┐
//!  watch ────┼─▶ leadership gate ─▶ Syncer ─▶ revision record (Store)
//!  webhook ──┘
//! ```
//! The webhook port is open to anyone: it is served within [`bounded_http::Limits::webhook`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::bounded_http;
use crate::source::revisions::{Followed, OpenError};
use crate::source::webhook::{self, Secrets, WebhookState};
use crate::source::{Wake, WakeReason, watch as source_watch};
use crate::sync::Options;
use crate::sync::applied::Store;
use crate::sync::runner::{self, Syncer};

/// What to follow and how.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The source.
    pub source: Followed,
    /// How revisions are decided.
    pub options: Options,
    /// The name of a stack whose compose file sits at the source's root.
    pub root_name: String,
    /// How often to poll (jittered).
    pub interval: Duration,
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

/// Keeps the watches alive while the node runs.
pub struct Following {
    _watch: Option<source_watch::Watch>,
}

/// Open the source and start the sync loop recording into `store`; it acts only while
/// `leading` says so.
pub async fn start(
    follow: Follow,
    store: Arc<dyn Store>,
    mut leading: watch::Receiver<bool>,
) -> Result<Following, Error> {
    let source = follow.source.clone();
    let opened = tokio::task::spawn_blocking(move || source.open())
        .await
        .map_err(Error::Task)??;
    let syncer = Syncer::new(opened.source, store, follow.options, follow.root_name);
    let (tx, mut raw) = mpsc::channel::<Wake>(1);
    let (gated_tx, gated) = mpsc::channel::<Wake>(1);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                wake = raw.recv() => match wake {
                    Some(wake) if *leading.borrow() => { let _ = gated_tx.try_send(wake); }
                    Some(_) => {}
                    None => return,
                },
                changed = leading.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *leading.borrow_and_update() {
                        let _ = gated_tx.try_send(Wake {
                            reason: WakeReason::Start,
                            at: Instant::now(),
                        });
                    }
                }
            }
        }
    });
    let watcher = match (&opened.watch_dir, &opened.refs_dir) {
        (Some(dir), _) => Some(source_watch::watch_directory(
            dir,
            Duration::from_millis(200),
            tx.clone(),
        )?),
        (None, Some(git_dir)) if follow.watch_refs => {
            Some(source_watch::watch_refs(git_dir, tx.clone())?)
        }
        (None, _) => None,
    };
    tokio::spawn(runner::tick(follow.interval, tx.clone()));
    if let Some(hook) = follow.webhook {
        serve_webhook(hook, tx.clone()).await?;
    }
    tokio::spawn(syncer.run(gated));
    Ok(Following { _watch: watcher })
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
