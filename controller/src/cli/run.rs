//! `reconciler --repo …|--watch DIR`: follow desired state and keep the applied revision current.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info};

use super::source_args::{self, SourceArgs};
use super::{EXIT_OK, EXIT_USAGE};
use crate::applied::FileStore;
use crate::source::webhook::{self, Secret, Secrets, WebhookState};
use crate::source::{Wake, WakeReason, watch};
use crate::sync::Options;
use crate::syncer::{self, Syncer};

/// Arguments of the manager.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Where desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// How often to poll the source (jittered by ±10 %); watched sources also rescan this often.
    #[arg(long, default_value = "30s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Where state is kept [env: RECONCILER_DATA_DIR; default: ~/.local/share/reconciler].
    #[arg(long, env = "RECONCILER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Apply a revision even when it removes every stack.
    #[arg(long)]
    pub allow_empty: bool,
    /// Remove stacks whose files were deleted (`--prune=false` keeps them).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub prune: bool,
    /// Serve `POST /v1/webhook` on this address (e.g. 127.0.0.1:9180); secrets come from
    /// RECONCILER_WEBHOOK_SECRET (GitHub, Gitea, generic), RECONCILER_GITHUB_SECRET,
    /// RECONCILER_GITEA_SECRET and RECONCILER_GITLAB_TOKEN.
    #[arg(long, value_name = "ADDR")]
    pub webhook_listen: Option<SocketAddr>,
    /// Watch a local repository's refs so pushes are seen at once (`--watch-refs=false` relies
    /// on polling and webhooks, e.g. where inotify does not work such as network file systems).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub watch_refs: bool,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parse `30s`, `1m`… as the interval (at least 1 s, so a typo cannot hammer a Git server).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = crds::units::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("the interval must be at least 1s".to_owned());
    }
    Ok(d)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECONCILER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a terminal: logs redirected to files or journald stay plain text.
    let ansi = super::use_color(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn webhook_secrets() -> Secrets {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::from)
    };
    let shared = var("RECONCILER_WEBHOOK_SECRET");
    Secrets {
        github: var("RECONCILER_GITHUB_SECRET").or_else(|| shared.clone()),
        gitlab: var("RECONCILER_GITLAB_TOKEN"),
        gitea: var("RECONCILER_GITEA_SECRET").or_else(|| shared.clone()),
        generic: shared,
    }
}

/// Run the manager until interrupted.
pub fn run(args: &Args) -> u8 {
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            error!("{e}");
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// Everything that can stop the manager from starting.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Source(#[from] source_args::Error),
    #[error(transparent)]
    Watch(#[from] watch::Error),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot listen for webhooks on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error(transparent)]
    Record(#[from] crate::applied::Error),
    #[error("opening the source failed unexpectedly: {0}")]
    Task(tokio::task::JoinError),
}

async fn serve(args: &Args) -> Result<(), StartError> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(source_args::default_data_dir);
    std::fs::create_dir_all(&data_dir).map_err(|e| StartError::DataDir(data_dir.clone(), e))?;
    let opened = {
        let source = args.source.clone();
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || source.open(&dir))
            .await
            .map_err(StartError::Task)??
    };
    let options = Options {
        allow_empty: args.allow_empty,
        prune: args.prune,
    };
    let store = Arc::new(FileStore::in_data_dir(&data_dir));
    // A damaged record must stop start-up, not be mistaken for an empty cluster.
    crate::applied::Store::load(store.as_ref())?;
    let syncer = Syncer::new(opened.source, store, options, args.source.root_name());
    let (tx, rx) = mpsc::channel::<Wake>(1);
    let _ = tx.try_send(Wake {
        reason: WakeReason::Start,
        at: Instant::now(),
    });
    let _watch = match (&opened.watch_dir, &opened.refs_dir) {
        (Some(dir), _) => Some(watch::watch_directory(
            dir,
            Duration::from_millis(200),
            tx.clone(),
        )?),
        (None, Some(git_dir)) if args.watch_refs => Some(watch::watch_refs(git_dir, tx.clone())?),
        (None, _) => None,
    };
    tokio::spawn(syncer::tick(args.interval, tx.clone()));
    if let Some(addr) = args.webhook_listen {
        start_webhook(addr, args.source.branch.clone(), tx.clone()).await?;
    }
    info!(data_dir = %data_dir.display(), "manager started");
    tokio::select! {
        () = syncer.run(rx) => {}
        _ = tokio::signal::ctrl_c() => info!("interrupted; stopping"),
    }
    Ok(())
}

async fn start_webhook(
    addr: SocketAddr,
    branch: String,
    wake: mpsc::Sender<Wake>,
) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen(addr, e))?;
    let (trigger_tx, mut trigger_rx) = mpsc::channel::<webhook::Trigger>(1);
    let state = WebhookState {
        secrets: Arc::new(webhook_secrets()),
        branch,
        trigger: trigger_tx,
    };
    let app = webhook::router(state).into_make_service_with_connect_info::<SocketAddr>();
    info!(%addr, "webhook endpoint listening on POST /v1/webhook");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!("webhook server stopped: {e}");
        }
    });
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
