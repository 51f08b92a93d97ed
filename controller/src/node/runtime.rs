//! Starting a node and running it until it stops: initialise a new cluster, join one, or
//! restart from the data directory; then serve (managers), heartbeat, and run the leader's
//! loops while leading.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::meta::ObjectMeta;
use crds::node::{Availability, Node, NodeRole, NodeSpec, NodeState, NodeStatus};
use openraft::{BasicNode, ServerState};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api as server;
use crate::api::join::issue;
use crate::ids::new_id;
use crate::ids::raft_id_for;
use crate::leader::liveness::Timing;
use crate::leader::manager::{Manager, established};
use crate::leader::membership;
use crate::leader::writer::Writer;
use crate::leader::{down_marker, orchestration};
use crate::node::assignment_client::{self, AgentLink, Managers};
use crate::node::layout::{self, NodeConfig};
use crate::node::session::{Session, SessionEnd};
use crate::node::{cert_renewal, join, store_watch, unlock};
use crate::pki::node::DEFAULT_NODE_CERT_VALIDITY;
use crate::pki::{CaCert, ClusterCa, CurrentCert, NodeCert, TokenStore, tls};
use crate::protocol::{JoinRequest, JoinResponse};
use crate::raft::cluster_info::ClusterInfo;
use crate::raft::network::{Network, serve_tls};
use crate::raft::{Command, Raft};
use crate::reconcile::pass;
use agent::clock::Clock;

/// Default port of the manager endpoint (Raft, API, sessions).
pub const DEFAULT_PORT: u16 = 7420;

/// How a node runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the node keeps its identity and (managers) the replicated store.
    pub data_dir: PathBuf,
    /// Where a manager listens.
    pub listen_addr: SocketAddr,
    /// The address others reach this node on: an IP, or `ip:port` when a proxy or NAT changes
    /// the port. Default: the listen IP, or the host's outbound IP when listening on all.
    pub advertise_addr: Option<String>,
    /// Hostname to report (default: the kernel's).
    pub hostname: Option<String>,
    /// Labels a new node starts with.
    pub labels: BTreeMap<String, String>,
    /// Heartbeat timing (the leader's is the one nodes follow).
    pub timing: Timing,
    /// Raft timing.
    pub raft: crate::raft::Config,
    /// What the orchestration loop does while this manager leads.
    pub orchestration: pass::Config,
    /// The node's worker, when it runs tasks: the runtime links it to the leader.
    pub agent: Option<AgentLink>,
    /// The process's clock: every time the node stamps comes from it.
    pub clock: Clock,
    /// A manager keeps no unlock key for its encrypted store: it prints a new one once and,
    /// after every restart, waits for `reconciler unlock`.
    pub autolock: bool,
    /// How long node certificates are valid, for a new cluster (default: 90 days).
    pub cert_expiry: Option<Duration>,
}

/// Where and how to join.
#[derive(Debug, Clone)]
pub struct JoinTarget {
    /// A manager's `host:port`.
    pub addr: String,
    /// The join token.
    pub token: String,
    /// The role asked for (must match the token's).
    pub role: Option<NodeRole>,
}

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory's identity files.
    #[error(transparent)]
    Layout(#[from] layout::Error),
    /// The replicated store.
    #[error(transparent)]
    Store(#[from] crate::raft::Error),
    /// Opening (or unlocking) the replicated store.
    #[error(transparent)]
    Unlock(#[from] super::unlock::Error),
    /// Certificates.
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// TLS configuration.
    #[error(transparent)]
    Tls(#[from] tls::Error),
    /// The Raft transport.
    #[error(transparent)]
    Network(#[from] crate::raft::network::Error),
    /// Joining.
    #[error(transparent)]
    Join(#[from] join::JoinError),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}; choose another with --listen-addr")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `join` on a node that is already a member.
    #[error(
        "{dir} already belongs to cluster {cluster} as node {node}; start it without `join`, or \
         run `reconciler leave` first"
    )]
    AlreadyMember {
        /// Data directory.
        dir: PathBuf,
        /// Cluster id.
        cluster: String,
        /// Node id.
        node: String,
    },
    /// The advertise address cannot be used.
    #[error("invalid --advertise-addr {0:?}: give an IP address or ip:port")]
    Advertise(String),
    /// Raft refused to start or initialise.
    #[error("Raft: {0}")]
    Raft(String),
    /// A replicated write failed during start-up.
    #[error(transparent)]
    Write(#[from] crate::leader::writer::WriteError),
    /// Renewing the certificate for a new role failed.
    #[error("cannot get a certificate for the node's new role: {0}")]
    Renew(#[source] RenewError),
    /// A blocking task failed.
    #[error("a start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The replicated store stopped by itself while the node ran (a full disk, an I/O error).
    #[error(
        "the replicated store stopped: {0}; this node stops too: fix the cause (free space on \
         the data directory's disk), then start it again, from what is on disk"
    )]
    StoreStopped(String),
}

/// Why no manager gave the node a certificate for its new role.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// `node.json` lists no manager to ask.
    #[error("no manager is known")]
    NoManager,
    /// The last manager asked answered with an error.
    #[error("{message}")]
    Refused {
        /// The manager's message.
        message: String,
    },
    /// The last manager asked could not be reached.
    #[error("{}", join::error_chain(.0))]
    Unreachable(#[source] reqwest::Error),
    /// A manager's answer could not be read.
    #[error("{0}")]
    Unreadable(#[source] reqwest::Error),
    /// The certificate issued is for another role than the one the leader announced.
    #[error("the cluster issued a {} certificate", crate::api::join::role_name(*.issued))]
    WrongRole {
        /// The role of the certificate issued.
        issued: NodeRole,
    },
}

/// How a running node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Asked to stop.
    Stopped,
    /// Removed from the cluster (its cluster files are gone).
    Removed,
    /// Its role changed; start it again to take up the new one.
    Restart,
}

/// A running node.
pub struct Running {
    /// Its identity.
    pub config: NodeConfig,
    /// The manager parts, on managers.
    pub manager: Option<Arc<Manager>>,
    /// True while this node leads.
    pub leading: watch::Receiver<bool>,
    /// Where a manager's endpoint listens (`None` on workers).
    pub listen_addr: Option<SocketAddr>,
    data_dir: PathBuf,
    stop: CancellationToken,
    session: JoinHandle<SessionEnd>,
    background: Vec<JoinHandle<()>>,
    client: reqwest::Client,
}

/// Starts the node in `options.data_dir`: restarts a member, joins `join`, or initialises a new
/// cluster when the directory is empty and no join is asked for.
pub async fn start(options: &Options, join_target: Option<&JoinTarget>) -> Result<Running, Error> {
    crate::private_files::create_dir(&options.data_dir).map_err(|source| layout::Error::Io {
        path: options.data_dir.clone(),
        source,
    })?;
    match (NodeConfig::load(&options.data_dir)?, join_target) {
        (Some(config), Some(_)) => Err(Error::AlreadyMember {
            dir: options.data_dir.clone(),
            cluster: config.cluster_id,
            node: config.node_id,
        }),
        (Some(config), None) => {
            let (ca, cert) = layout::load_credentials(&options.data_dir)?;
            match config.role {
                NodeRole::Manager => start_manager(options, config, ca, cert).await,
                NodeRole::Worker => start_worker(options, config, ca, cert),
            }
        }
        (None, Some(target)) => join_cluster(options, target).await,
        (None, None) => init_cluster(options).await,
    }
}

/// The advertised IP and port of this node.
fn advertise(options: &Options, port: u16) -> Result<(IpAddr, u16), Error> {
    match &options.advertise_addr {
        Some(text) => {
            if let Ok(addr) = text.parse::<SocketAddr>() {
                return Ok((addr.ip(), addr.port()));
            }
            let ip = text
                .parse::<IpAddr>()
                .map_err(|_| Error::Advertise(text.clone()))?;
            Ok((ip, port))
        }
        None if !options.listen_addr.ip().is_unspecified() => Ok((options.listen_addr.ip(), port)),
        None => Ok((outbound_ip(), port)),
    }
}

/// The IP this host uses to reach other machines (no packet is sent), or loopback.
fn outbound_ip() -> IpAddr {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })
}

/// The port `listener` got (the one asked for, or the kernel's pick for port 0).
fn bound_port(listener: &TcpListener, asked: SocketAddr) -> Result<u16, Error> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| Error::Listen {
            addr: asked,
            source,
        })
}

fn hostname(options: &Options) -> String {
    options
        .hostname
        .clone()
        .unwrap_or_else(agent::describe::hostname)
}

async fn init_cluster(options: &Options) -> Result<Running, Error> {
    let listener = bind(options.listen_addr).await?;
    let port = bound_port(&listener, options.listen_addr)?;
    let (ip, port) = advertise(options, port)?;
    let api_addr = SocketAddr::new(ip, port).to_string();
    let cluster_id = new_id();
    let ca = ClusterCa::generate(&cluster_id)?;
    let node_id = new_id();
    let raft_id = raft_id_for(&node_id);
    let validity = options.cert_expiry.unwrap_or(DEFAULT_NODE_CERT_VALIDITY);
    let cert = issue(&ca, &node_id, NodeRole::Manager, ip, validity)?;
    let info = ClusterInfo {
        id: cluster_id.clone(),
        ca: ca.to_pem(),
        tokens: TokenStore::generate(&ca.fingerprint()).map_err(|e| Error::Raft(e.to_string()))?,
        created_at_ms: options.clock.now_ms(),
        revoked: Default::default(),
        node_cert_validity_s: options.cert_expiry.map(|d| d.as_secs()),
    };
    let hostname = hostname(options);
    let mut description = agent::describe::describe(hostname.clone(), api_addr.clone()).await;
    description.raft_id = raft_id;
    let node = Node {
        meta: ObjectMeta {
            id: node_id.clone(),
            ..ObjectMeta::default()
        },
        spec: NodeSpec {
            role: NodeRole::Manager,
            availability: Availability::Active,
            labels: options.labels.clone(),
        },
        description,
        status: NodeStatus {
            state: NodeState::Ready,
            message: None,
            last_seen_ms: options.clock.now_ms(),
        },
    };
    let config = NodeConfig {
        node_id: node_id.clone(),
        raft_id,
        cluster_id: cluster_id.clone(),
        role: NodeRole::Manager,
        hostname,
        api_addr: api_addr.clone(),
        managers: vec![api_addr],
    };
    layout::save_credentials(&options.data_dir, ca.cert(), &cert)?;
    let init = Init { info, node };
    let running = start_manager_on(
        options,
        config,
        ca.cert().clone(),
        cert,
        listener,
        Some(init),
    )
    .await?;
    tracing::info!(cluster = %cluster_id, node = %node_id, "initialised a new cluster");
    Ok(running)
}

/// The first commands of a new cluster.
struct Init {
    info: ClusterInfo,
    node: Node,
}

async fn join_cluster(options: &Options, target: &JoinTarget) -> Result<Running, Error> {
    let hostname = hostname(options);
    // A manager binds first so it can tell the cluster its real port.
    let token_role = target
        .token
        .trim()
        .parse::<crate::pki::JoinToken>()
        .map_err(join::JoinError::from)?
        .role();
    let listener = match token_role {
        NodeRole::Manager => Some(bind(options.listen_addr).await?),
        NodeRole::Worker => None,
    };
    let port = match &listener {
        Some(l) => bound_port(l, options.listen_addr)?,
        None => options.listen_addr.port(),
    };
    let (ip, port) = advertise(options, port)?;
    let api_addr = (token_role == NodeRole::Manager).then(|| SocketAddr::new(ip, port).to_string());
    let request = JoinRequest {
        token: target.token.clone(),
        role: target.role,
        hostname: hostname.clone(),
        advertise_ip: ip,
        api_addr: api_addr.clone(),
        labels: options.labels.clone(),
    };
    let joined = join::join(&target.addr, &request).await?;
    for warning in &joined.response.warnings {
        tracing::warn!("{warning}");
        eprintln!("warning: {warning}");
    }
    let mut managers = joined.response.managers.clone();
    if managers.is_empty() {
        managers.push(target.addr.clone());
    }
    let config = NodeConfig {
        node_id: joined.response.node_id.clone(),
        raft_id: joined.response.raft_id,
        cluster_id: joined.response.cluster_id.clone(),
        role: joined.response.role,
        hostname,
        api_addr: api_addr.unwrap_or_else(|| ip.to_string()),
        managers,
    };
    layout::save_credentials(&options.data_dir, &joined.ca, &joined.cert)?;
    tracing::info!(
        cluster = %config.cluster_id,
        node = %config.node_id,
        role = crate::api::join::role_name(config.role),
        "joined the cluster"
    );
    match (config.role, listener) {
        (NodeRole::Manager, Some(listener)) => {
            // node.json is written once the manager's store exists: see `start_manager_on`.
            start_manager_on(options, config, joined.ca, joined.cert, listener, None).await
        }
        _ => {
            config.save(&options.data_dir)?;
            start_worker(options, config, joined.ca, joined.cert)
        }
    }
}

async fn start_manager(
    options: &Options,
    mut config: NodeConfig,
    ca: CaCert,
    cert: NodeCert,
) -> Result<Running, Error> {
    let listen = options.listen_addr;
    let listener = bind(listen).await?;
    let port = bound_port(&listener, listen)?;
    let (ip, port) = advertise(options, port)?;
    let previous = std::mem::replace(&mut config.api_addr, SocketAddr::new(ip, port).to_string());
    // A manager's own endpoint is the one it always reaches (a follower redirects to the
    // leader); a restart on another port must not leave its node dialling the old one.
    config
        .managers
        .retain(|m| *m != previous && *m != config.api_addr);
    config.managers.insert(0, config.api_addr.clone());
    start_manager_on(options, config, ca, cert, listener, None).await
}

/// An HTTPS client that presents the node's certificate and trusts only the cluster's CA.
pub(crate) fn mtls_client(ca: &CaCert, cert: &NodeCert) -> Result<reqwest::Client, Error> {
    mtls_client_current(ca, CurrentCert::new(ca, cert)?)
}

/// [`mtls_client`] presenting whatever certificate is in force in `current`.
fn mtls_client_current(ca: &CaCert, current: Arc<CurrentCert>) -> Result<reqwest::Client, Error> {
    let config = tls::client_config_current(ca, current)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(config.as_ref().clone())
        .connect_timeout(Duration::from_secs(1))
        .no_proxy()
        .build()
        .map_err(|e| Error::Network(crate::raft::network::Error::Client(e)))
}

/// The renewal loop of a node running with `current`.
fn renewal(
    options: &Options,
    config: &NodeConfig,
    ca: &CaCert,
    current: Arc<CurrentCert>,
    client: reqwest::Client,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let renewal = cert_renewal::Renewal {
        current,
        ca: ca.clone(),
        data_dir: options.data_dir.clone(),
        node_id: config.node_id.clone(),
        role: config.role,
        managers: config.managers.clone(),
        client,
        clock: options.clock,
    };
    tokio::spawn(cert_renewal::run(renewal, stop))
}

async fn start_manager_on(
    options: &Options,
    config: NodeConfig,
    ca: CaCert,
    cert: NodeCert,
    listener: TcpListener,
    init: Option<Init>,
) -> Result<Running, Error> {
    let opened = unlock::open_store(&options.data_dir, options.autolock).await?;
    if let Some(key) = &opened.new_unlock_key {
        unlock::announce(key, &options.data_dir);
    }
    let (log, sm) = (opened.log, opened.sm);
    let current = CurrentCert::new(&ca, &cert)?;
    let raft_config = options.raft.to_openraft(&config.cluster_id)?;
    let network = Network::new(&ca, current.clone(), options.raft.unreachable_retry())?;
    let raft = Raft::new(config.raft_id, raft_config, network, log, sm.clone())
        .await
        .map_err(|e| Error::Raft(e.to_string()))?;
    let client = mtls_client_current(&ca, current.clone())?;
    let quorum_lease = Duration::from_millis(options.raft.election_timeout_ms.1 * 3);
    let writer = Writer::new(raft.clone(), config.raft_id, client.clone(), quorum_lease);
    let manager = Manager::new(
        config.node_id.clone(),
        config.raft_id,
        config.api_addr.clone(),
        raft.clone(),
        sm.clone(),
        writer.clone(),
        options.timing,
        quorum_lease,
        options.clock,
    );
    let stop = CancellationToken::new();
    let tls_config = tls::server_config_join_current(&ca, current.clone())?;
    let listen_addr = listener.local_addr().ok();
    let mut background = vec![tokio::spawn(serve_tls(
        listener,
        tls_config,
        server::router(manager.clone()),
        stop.clone(),
    ))];
    tracing::info!(addr = %config.api_addr, node = %config.node_id, "manager endpoint listening");
    if let Some(init) = init {
        let members = BTreeMap::from([(config.raft_id, BasicNode::new(config.api_addr.clone()))]);
        raft.initialize(members)
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        raft.wait(Some(Duration::from_secs(10)))
            .state(ServerState::Leader, "the first manager leads")
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        writer
            .write(Command::InitCluster { cluster: init.info })
            .await?;
        writer
            .write(Command::UpsertNode {
                node: init.node,
                at_ms: manager.clock.now_ms(),
            })
            .await?;
    }
    config.save(&options.data_dir)?;
    let (leading_tx, leading) = watch::channel(false);
    background.push(tokio::spawn(follow_leadership(
        manager.clone(),
        options.orchestration.clone(),
        leading_tx,
        stop.clone(),
    )));
    background.push(renewal(
        options,
        &config,
        &ca,
        current,
        client.clone(),
        stop.clone(),
    ));
    let session = spawn_session(options, &config, client.clone(), stop.clone());
    Ok(Running {
        config,
        manager: Some(manager),
        leading,
        listen_addr,
        data_dir: options.data_dir.clone(),
        stop,
        session,
        background,
        client,
    })
}

fn start_worker(
    options: &Options,
    config: NodeConfig,
    ca: CaCert,
    cert: NodeCert,
) -> Result<Running, Error> {
    let current = CurrentCert::new(&ca, &cert)?;
    let client = mtls_client_current(&ca, current.clone())?;
    let stop = CancellationToken::new();
    let background = vec![renewal(
        options,
        &config,
        &ca,
        current,
        client.clone(),
        stop.clone(),
    )];
    let session = spawn_session(options, &config, client.clone(), stop.clone());
    let (_, leading) = watch::channel(false);
    tracing::info!(node = %config.node_id, managers = ?config.managers, "worker started");
    Ok(Running {
        config,
        manager: None,
        leading,
        listen_addr: None,
        data_dir: options.data_dir.clone(),
        stop,
        session,
        background,
        client,
    })
}

fn spawn_session(
    options: &Options,
    config: &NodeConfig,
    client: reqwest::Client,
    stop: CancellationToken,
) -> JoinHandle<SessionEnd> {
    let (leader_tx, leader_rx) = watch::channel(None);
    if let Some(link) = &options.agent {
        let managers = Managers {
            known: config.managers.clone(),
            leader: leader_rx,
        };
        tokio::spawn(assignment_client::run(
            client.clone(),
            managers,
            link.clone(),
            stop.clone(),
        ));
    }
    let session = Session {
        data_dir: options.data_dir.clone(),
        config: config.clone(),
        client,
        period: options.timing.period,
        leader: leader_tx,
        runs_tasks: options.agent.is_some(),
    };
    tokio::spawn(session.run(stop))
}

/// Starts the leader's loops when this manager becomes leader and stops them when it is not.
async fn follow_leadership(
    manager: Arc<Manager>,
    orchestration: pass::Config,
    leading_tx: watch::Sender<bool>,
    stop: CancellationToken,
) {
    let mut metrics = manager.raft.metrics();
    let mut loops: Option<CancellationToken> = None;
    loop {
        let leads = established(&metrics.borrow_and_update(), manager.raft_id);
        if leads != loops.is_some() {
            if leads {
                tracing::info!(node = %manager.node_id, "this manager leads");
                manager.set_leading(true, Instant::now());
                let token = stop.child_token();
                tokio::spawn(membership::run(
                    manager.raft.clone(),
                    manager.sm.clone(),
                    token.clone(),
                ));
                tokio::spawn(down_marker::run(
                    manager.handles(),
                    manager.sightings(),
                    manager.timing,
                    token.clone(),
                ));
                tokio::spawn(
                    manager
                        .dispatcher
                        .clone()
                        .run(manager.handles(), token.clone()),
                );
                tokio::spawn(orchestration::run(
                    manager.handles(),
                    orchestration.clone(),
                    token.clone(),
                ));
                loops = Some(token);
            } else {
                tracing::info!(node = %manager.node_id, "this manager no longer leads");
                manager.set_leading(false, Instant::now());
                if let Some(token) = loops.take() {
                    token.cancel();
                }
            }
            let _ = leading_tx.send(leads);
        }
        tokio::select! {
            () = stop.cancelled() => break,
            changed = metrics.changed() => if changed.is_err() { break },
        }
    }
    if let Some(token) = loops {
        token.cancel();
    }
}

impl Running {
    /// Runs until `shutdown` resolves or the session ends, then stops everything.
    pub async fn wait(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<Exit, Error> {
        let raft = self.manager.as_ref().map(|m| m.raft.clone());
        let store_stopped = async move {
            match raft {
                Some(raft) => store_watch::stopped(raft).await,
                None => std::future::pending().await,
            }
        };
        let mut failure = None;
        let ended = tokio::select! {
            () = shutdown => None,
            end = &mut self.session => end.ok(),
            why = store_stopped => {
                failure = Some(why);
                None
            }
        };
        self.stop.cancel();
        if let Some(manager) = &self.manager {
            if let Err(err) = manager.raft.shutdown().await {
                tracing::warn!(error = %err, "Raft did not shut down cleanly");
            }
            // What was applied reaches the file, so readers of a stopped node's store (`plan
            // --against`) see it without the log being replayed.
            if let Err(err) = manager.sm.flush().await {
                tracing::warn!(error = %err, "storing the applied state before stopping failed");
            }
        }
        for task in self.background.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        // openraft's state machine worker lets go of the store file a moment after shutdown.
        drop(self.manager.take());
        if let Some(why) = failure {
            return Err(Error::StoreStopped(why));
        }
        match ended {
            None | Some(SessionEnd::Stopped) => Ok(Exit::Stopped),
            Some(SessionEnd::Removed) => {
                tracing::warn!(node = %self.config.node_id, "this node was removed from the cluster; forgetting it");
                wait_store_released(&self.data_dir).await;
                layout::forget_cluster(&self.data_dir)?;
                Ok(Exit::Removed)
            }
            Some(SessionEnd::RoleChanged(role)) => {
                self.take_role(role).await?;
                Ok(Exit::Restart)
            }
        }
    }

    /// Fetches a certificate for `role` and records it; a demoted manager drops its copy of the
    /// replicated store (it would be stale by the time it is promoted again).
    async fn take_role(&self, role: NodeRole) -> Result<(), Error> {
        let answer = self.renew().await.map_err(Error::Renew)?;
        if answer.role != role {
            return Err(Error::Renew(RenewError::WrongRole {
                issued: answer.role,
            }));
        }
        let ca = CaCert::from_pem(&answer.ca_cert_pem)?;
        let cert = NodeCert::from_pem(&answer.cert_pem, &answer.key_pem)?;
        layout::save_credentials(&self.data_dir, &ca, &cert)?;
        if role == NodeRole::Worker {
            wait_store_released(&self.data_dir).await;
            for name in [
                crate::raft::DB_FILE_NAME,
                crate::raft::at_rest::KEY_FILE_NAME,
            ] {
                let file = self.data_dir.join(name);
                if let Err(err) = std::fs::remove_file(&file)
                    && err.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(layout::Error::Io {
                        path: file,
                        source: err,
                    }
                    .into());
                }
            }
        }
        let mut config = self.config.clone();
        config.role = role;
        config.managers = answer.managers;
        config.save(&self.data_dir)?;
        tracing::info!(
            node = %config.node_id,
            role = crate::api::join::role_name(role),
            "the node's role changed; restarting in its new role"
        );
        Ok(())
    }

    async fn renew(&self) -> Result<JoinResponse, RenewError> {
        cert_renewal::request_certificate(&self.client, &self.config.managers).await
    }
}

/// Waits until no Raft in this process holds the store file (bounded).
async fn wait_store_released(data_dir: &Path) {
    if !data_dir.join(crate::raft::DB_FILE_NAME).exists() {
        return;
    }
    for _ in 0..100 {
        match crate::raft::open_store(data_dir) {
            Err(crate::raft::Error::InUse { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            _ => return,
        }
    }
}
