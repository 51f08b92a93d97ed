//! `reconciler --repo …|--watch DIR`: follow desired state and keep the applied revision current.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tracing::{error, info};

use super::source_args::{self, SourceArgs};
use super::{EXIT_OK, EXIT_USAGE};
use crate::leader::liveness::Timing;
use crate::node::process::{self, Ended, Tasks};
use crate::node::runtime::{self, JoinTarget};
use crate::node::settings::NodeSettings;
use crate::reconcile::pass;
use crate::source::webhook::{Secret, Secrets};
use crate::sync::Options;
use crate::sync::follow::{Follow, Webhook};

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
    /// Node settings.
    #[command(flatten)]
    pub node: NodeArgs,
}

/// How this node takes part in the cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Keep no unlock key for this manager's encrypted store on disk: a new key is printed
    /// once, and after every restart the manager waits for `reconciler unlock` (as Swarm's
    /// autolock). Without it the key is kept in `<data dir>/raft.key` (0600).
    #[arg(long, env = "RECONCILER_AUTOLOCK")]
    pub autolock: bool,
    /// How long node certificates are valid (a new cluster only; at least 30s); every node
    /// renews its own two thirds of the way in [default: 2160h, 90 days].
    #[arg(long, value_name = "DURATION", value_parser = parse_cert_expiry)]
    pub cert_expiry: Option<Duration>,
    /// Where a manager serves Raft, node sessions and the admin API; remembered in the data
    /// directory [default: what it remembers, else 0.0.0.0:7420].
    #[arg(long, env = "RECONCILER_LISTEN_ADDR", value_name = "IP:PORT")]
    pub listen_addr: Option<SocketAddr>,
    /// The address other nodes reach this one on (IP, or ip:port behind NAT); remembered
    /// [default: what it remembers, else the listen IP, or the host's outbound IP when listening
    /// on all addresses].
    #[arg(long, value_name = "IP[:PORT]")]
    pub advertise_addr: Option<String>,
    /// Hostname to report to the cluster [default: the host's].
    #[arg(long)]
    pub hostname: Option<String>,
    /// Node label for a new node (`key=value`), repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = super::node::parse_label)]
    pub labels: Vec<(String, String)>,
    /// How often nodes heartbeat the leader.
    #[arg(long, default_value = "1s", value_parser = parse_period)]
    pub heartbeat_period: Duration,
    /// Missed heartbeats before a node is declared down.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub heartbeat_misses: u32,
    /// Raft election timeout (the range is this to twice this); a leader's failure is noticed
    /// within it.
    #[arg(long, default_value = "150ms", value_parser = parse_election_timeout)]
    pub election_timeout: Duration,
    /// Placement strategy for services that name none (give every manager the same).
    #[arg(long, value_enum, default_value = "spread")]
    pub strategy: StrategyArg,
    /// Finished tasks kept per slot as history (`service ps`).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub task_history: u64,
    /// Run this node's tasks on the local Docker engine (DOCKER_HOST or
    /// /var/run/docker.sock). `--agent=false` runs none: drain the node
    /// (`node update --availability drain`) so none are placed on it.
    #[arg(long, env = "RECONCILER_AGENT", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub agent: bool,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// Fewest tasks of the service, then fewest tasks.
    Spread,
    /// The fullest node that still fits.
    Binpack,
    /// Any node that fits.
    Random,
}

impl From<StrategyArg> for crds::compose::Strategy {
    fn from(arg: StrategyArg) -> Self {
        match arg {
            StrategyArg::Spread => crds::compose::Strategy::Spread,
            StrategyArg::Binpack => crds::compose::Strategy::Binpack,
            StrategyArg::Random => crds::compose::Strategy::Random,
        }
    }
}

impl NodeArgs {
    /// Runtime options for a node with its files in `data_dir`.
    pub fn options(&self, data_dir: PathBuf) -> runtime::Options {
        let election_ms = self.election_timeout.as_millis() as u64;
        runtime::Options {
            data_dir,
            // Filled in by the process from these flags and what the data directory remembers.
            listen_addr: crate::node::settings::DEFAULT_LISTEN_ADDR,
            advertise_addr: None,
            hostname: self.hostname.clone(),
            labels: self.labels.iter().cloned().collect(),
            timing: Timing {
                period: self.heartbeat_period,
                misses: self.heartbeat_misses,
            },
            raft: crate::raft::Config {
                heartbeat_ms: (election_ms / 3).max(10),
                election_timeout_ms: (election_ms, election_ms * 2),
                ..crate::raft::Config::default()
            },
            orchestration: pass::Config {
                reconcile: crate::reconcile::Config {
                    task_history: self.task_history as usize,
                },
                strategy: self.strategy.into(),
            },
            agent: None,
            clock: agent::clock::Clock::system(),
            autolock: self.autolock,
            cert_expiry: self.cert_expiry,
        }
    }
}

/// Parses a certificate validity (at least 30s, at most 10 years).
pub fn parse_cert_expiry(s: &str) -> anyhow::Result<Duration> {
    let d = crds::units::parse_duration(s)?;
    let max = Duration::from_secs(10 * 365 * 24 * 60 * 60);
    if d < crate::pki::renewal::MIN_VALIDITY || d > max {
        anyhow::bail!("the certificate expiry must be between 30s and 87600h (10 years)");
    }
    Ok(d)
}

/// Parses a heartbeat period (100ms to 1m).
pub fn parse_period(s: &str) -> anyhow::Result<Duration> {
    let d = crds::units::parse_duration(s)?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(60) {
        anyhow::bail!("the heartbeat period must be between 100ms and 1m");
    }
    Ok(d)
}

/// Parses an election timeout (50ms to 10s).
pub fn parse_election_timeout(s: &str) -> anyhow::Result<Duration> {
    let d = crds::units::parse_duration(s)?;
    if d < Duration::from_millis(50) || d > Duration::from_secs(10) {
        anyhow::bail!("the election timeout must be between 50ms and 10s");
    }
    Ok(d)
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
pub fn parse_interval(s: &str) -> anyhow::Result<Duration> {
    let d = crds::units::parse_duration(s)?;
    if d < Duration::from_secs(1) {
        anyhow::bail!("the interval must be at least 1s");
    }
    Ok(d)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECONCILER_LOG")
        // openraft narrates every election at info; its warnings are what operators need.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
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
    run_node(args, None)
}

/// Run this node (joining `join` first when given) until interrupted.
pub fn run_node(args: &Args, join: Option<JoinTarget>) -> u8 {
    init_logging(args.log_format);
    let fail = |e: &dyn std::fmt::Display| {
        if args.log_format == LogFormat::Json {
            error!("{e}");
        }
        eprintln!("error: {e}");
        EXIT_USAGE
    };
    let options = match process_options(args, join) {
        Ok(options) => options,
        Err(e) => return fail(&e),
    };
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
    match runtime.block_on(process::run(options, shutdown_signal())) {
        Ok(Ended::Stopped) => {
            info!("stopped");
            EXIT_OK
        }
        Ok(Ended::Removed) => {
            eprintln!("this node was removed from the cluster; it has forgotten the cluster");
            EXIT_OK
        }
        Err(e) => fail(&e),
    }
}

/// The process's options from the flags.
fn process_options(
    args: &Args,
    join: Option<JoinTarget>,
) -> Result<process::Options, source_args::Error> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(source_args::default_data_dir);
    let flag_source = if args.source.repo.is_some() || args.source.watch.is_some() {
        Some(args.source.spec(args.interval)?)
    } else {
        None
    };
    let follow = Some(Follow {
        flag_source,
        cache_root: data_dir.clone(),
        options: Options {
            allow_empty: args.allow_empty,
            prune: args.prune,
        },
        watch_refs: args.watch_refs,
        webhook: args.webhook_listen.map(|addr| Webhook {
            addr,
            branch: args.source.branch.clone(),
            secrets: webhook_secrets(),
        }),
    });
    let tasks = args.node.agent.then_some(Tasks { publish_ip: None });
    Ok(process::Options {
        node: args.node.options(data_dir),
        join,
        tasks,
        follow,
        settings: NodeSettings {
            listen_addr: args.node.listen_addr,
            advertise_addr: args.node.advertise_addr.clone(),
            hostname: args.node.hostname.clone(),
        },
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
