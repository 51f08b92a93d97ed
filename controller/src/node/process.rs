//! The process's composition root: everything one `reconciler` node runs, wired once.
//!
//! ```text
//!  data directory (made private) ─▶ node runtime ──(restarted on a role change)──┐
//!                                    │ leading? ─▶ sync::follow (manager + source) │
//!  local engine ─▶ worker ◀──────────┘ assignments / reports                      │
//!  shutdown ───────────────────────────────────────────────────────────────────────┘
//! ```
//! The CLI parses flags into [`Options`] and calls [`run`]; nothing else starts loops.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::leader::record::RaftRecordStore;
use crate::node::assignment_client::{AgentLink, Reports};
use crate::node::layout::NodeConfig;
use crate::node::runtime::{self, Exit, JoinTarget};
use crate::node::settings::{DEFAULT_LISTEN_ADDR, NodeSettings};
use crate::sync::follow::{self, Follow};

/// Everything a node process runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The node runtime (its data directory, addresses, timing, orchestration settings).
    pub node: runtime::Options,
    /// Join this cluster first.
    pub join: Option<JoinTarget>,
    /// Run this node's tasks on the local Docker engine; published ports bind on `publish_ip`
    /// when set (nodes sharing an engine on 127.0.0.2, 127.0.0.3… never clash).
    pub tasks: Option<Tasks>,
    /// Follow desired state from this source while leading.
    pub follow: Option<Follow>,
    /// The node settings given as flags; the ones not given come from what the data directory
    /// remembers ([`NodeSettings`]), and the result is remembered.
    pub settings: NodeSettings,
}

/// How this node runs tasks.
#[derive(Debug, Clone, Copy)]
pub struct Tasks {
    /// The address published ports bind on; when `None`, the IP the node listens on if it
    /// names one (so nodes sharing an engine on 127.0.0.2, 127.0.0.3… never clash), else every
    /// address.
    pub publish_ip: Option<IpAddr>,
}

/// How the process ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shut down (signal, or the session stopped).
    Stopped,
    /// The cluster removed this node; its data directory forgot the cluster.
    Removed,
}

/// Everything that can stop a node from starting, or stop it later.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be made private.
    #[error("cannot prepare the data directory {0}: {1}")]
    DataDir(PathBuf, #[source] std::io::Error),
    /// Following the source could not start.
    #[error(transparent)]
    Follow(#[from] follow::Error),
    /// The node runtime.
    #[error(transparent)]
    Node(#[from] runtime::Error),
    /// The local engine is unreachable.
    #[error("{0} (or run this node without tasks: --agent=false)")]
    Engine(#[source] agent::executor::docker::EngineError),
}

/// Run the node until `shutdown` resolves, the cluster removes it, or it fails.
pub async fn run(
    mut options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Ended, Error> {
    let data_dir = options.node.data_dir.clone();
    prepare_data_dir(&data_dir)?;
    let mut settings = options
        .settings
        .clone()
        .over(&NodeSettings::load(&data_dir).map_err(runtime::Error::from)?);
    options.node.listen_addr = settings.listen_addr.unwrap_or(DEFAULT_LISTEN_ADDR);
    options.node.advertise_addr = settings.advertise_addr.clone();
    options.node.hostname = settings.hostname.clone();
    let listen_ip = options.node.listen_addr.ip();
    if let Some(tasks) = &mut options.tasks
        && tasks.publish_ip.is_none()
        && !listen_ip.is_unspecified()
    {
        tasks.publish_ip = Some(listen_ip);
    }
    let store = RaftRecordStore::default();
    let (leading_tx, leading_rx) = tokio::sync::watch::channel(false);
    let _following = match options.follow.take() {
        Some(f) => Some(follow::start(f, Arc::new(store.clone()), leading_rx).await?),
        None => None,
    };
    tokio::pin!(shutdown);
    // The worker outlives runtime restarts (role changes): its containers never notice them.
    let worker_stop = CancellationToken::new();
    let _worker_guard = worker_stop.clone().drop_guard();
    let mut worker = options.tasks.map(|tasks| {
        let (assignments_tx, assignments_rx) = mpsc::channel(64);
        let (reports_tx, reports_rx) = mpsc::channel(1024);
        options.node.agent = Some(AgentLink {
            assignments: assignments_tx,
            reports: Arc::new(tokio::sync::Mutex::new(reports_rx)),
        });
        (tasks, assignments_rx, reports_tx)
    });
    let mut join = options.join.take();
    loop {
        // A locked manager waits for `reconciler unlock` inside `start`: a signal must still
        // stop it. Start-up is crash-safe, so dropping it half-way is as safe as a crash.
        let target = join.take();
        let running = tokio::select! {
            started = runtime::start(&options.node, target.as_ref()) => started?,
            () = &mut shutdown => return Ok(Ended::Stopped),
        };
        if let Some((tasks, assignments, reports)) = worker.take()
            && let Err(e) = start_worker(
                &running.config,
                &options.node,
                tasks,
                assignments,
                reports,
                &worker_stop,
            )
            .await
        {
            let _ = running.wait(std::future::ready(())).await;
            return Err(e);
        }
        // Remembered once the node runs: a start that failed leaves the last good settings.
        // A restart in a new role (in this loop) comes back on the same port too.
        settings = settings.bound_to(running.listen_addr);
        settings.save(&data_dir).map_err(runtime::Error::from)?;
        if let Some(listen) = settings.listen_addr {
            options.node.listen_addr = listen;
        }
        store.set(running.manager.clone());
        let mut leading = running.leading.clone();
        let forward = leading_tx.clone();
        let follow_leading = tokio::spawn(async move {
            loop {
                let _ = forward.send(*leading.borrow_and_update());
                if leading.changed().await.is_err() {
                    break;
                }
            }
        });
        info!(data_dir = %data_dir.display(), node = %running.config.node_id, "node started");
        let exit = running.wait(&mut shutdown).await;
        follow_leading.abort();
        let _ = leading_tx.send(false);
        store.set(None);
        match exit? {
            Exit::Restart => continue,
            Exit::Stopped => return Ok(Ended::Stopped),
            Exit::Removed => return Ok(Ended::Removed),
        }
    }
}

/// Creates the data directory private, or makes an existing one private again (saying what was
/// looser): it holds the CA key, the token secrets and the node's key.
fn prepare_data_dir(data_dir: &Path) -> Result<(), Error> {
    let fail = |e| Error::DataDir(data_dir.to_owned(), e);
    crate::private_files::create_dir(data_dir).map_err(fail)?;
    for tightened in
        crate::private_files::secure_data_dir(data_dir, &[crate::node::layout::PKI_DIR])
            .map_err(fail)?
    {
        tracing::warn!(
            "{tightened}: the data directory must be readable by this user only (it holds the \
             cluster CA key, the join-token secrets and the node key)"
        );
    }
    Ok(())
}

/// Connects to the local engine and starts the node's worker on it.
async fn start_worker(
    config: &NodeConfig,
    node: &runtime::Options,
    tasks: Tasks,
    assignments: mpsc::Receiver<crds::assignment::AssignmentBatch>,
    reports: mpsc::Sender<Reports>,
    stop: &CancellationToken,
) -> Result<(), Error> {
    let executor =
        agent::executor::docker::DockerExecutor::connect(&config.node_id, tasks.publish_ip)
            .await
            .map_err(Error::Engine)?;
    let worker_config = agent::worker::Config {
        node_id: config.node_id.clone(),
        clock: node.clock,
    };
    tokio::spawn(agent::worker::run(
        worker_config,
        executor,
        assignments,
        reports,
        stop.clone(),
    ));
    info!(node = %config.node_id, "agent running tasks on the local Docker engine");
    Ok(())
}
