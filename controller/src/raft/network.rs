//! Raft RPC between managers: JSON over HTTPS with mutual TLS.
//!
//! ```text
//!  openraft (sender)                                  openraft (receiver)
//!   Network::new_client(target, node)
//!   NetworkConnection::append_entries ──POST https://{node.addr}/raft/append──▶ serve_tls
//!                          vote       ──POST …/raft/vote──────────────────▶  (TLS, client cert
//!                     install_snapshot──POST …/raft/snapshot──────────────▶   → PeerIdentity)
//!                                                                            router: manager?
//!   Result<Response, RaftError> ◀──────────── JSON ─────────────────────────  raft.<rpc>(req)
//! ```
//!
//! Both ends use the cluster PKI ([`crate::pki::tls`]): the client presents its node
//! certificate and trusts only servers certified by the cluster CA; the server requires a
//! client certificate from the same CA and, on top of that, only answers managers: a worker's
//! certificate is valid for the cluster but must never vote or feed the log.
//!
//! Errors map onto what openraft needs to pace itself: a peer that cannot be connected to is
//! [`Unreachable`] (openraft backs off before retrying, for less than an election timeout so
//! that a returning peer hears from the leader before it campaigns), a failed exchange with a reachable
//! peer is a [`NetworkError`] (retried at the next heartbeat), and an error returned by the
//! remote Raft is a [`RemoteError`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode, Version};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};
use crds::node::NodeRole;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use openraft::BasicNode;
use openraft::error::{
    Infallible, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::bounded_http::{self, Admitted, ClusterLimits, Gate};
use crate::pki::tls;
use crate::pki::{CaCert, CurrentCert, PeerIdentity};
use crate::raft::doors::Door;
use crate::raft::{NodeId, Raft, StateMachineStore, TypeConfig};

/// Path of the AppendEntries RPC (also the heartbeat).
pub const APPEND_PATH: &str = "/raft/append";
/// Path of the RequestVote RPC.
pub const VOTE_PATH: &str = "/raft/vote";
/// Path of the InstallSnapshot RPC (one chunk per request).
pub const SNAPSHOT_PATH: &str = "/raft/snapshot";

/// A client that connects but never finishes its handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After shutdown, in-flight requests get this long before their connections are dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Connecting is a LAN round trip; a peer that does not answer in this time is down, and
/// saying so early lets openraft back off instead of waiting out the whole RPC deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Request bodies up to this size are accepted. Snapshot chunks (openraft's default is 3 MiB
/// of bytes) grow about fourfold as a JSON array of numbers; axum's default of 2 MiB is
/// too small for them.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Errors setting up the Raft transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TLS client configuration could not be built from the node's certificate.
    #[error("cannot configure TLS for Raft RPC: {0}")]
    Tls(#[from] tls::Error),
    /// reqwest rejected the client settings.
    #[error("cannot build the Raft RPC client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The [`RaftNetworkFactory`] of a manager: one shared HTTPS client (with its connection pool)
/// that presents this node's certificate.
#[derive(Debug, Clone)]
pub struct Network {
    client: reqwest::Client,
    retry: Duration,
}

impl Network {
    /// A network that authenticates with the certificate in force in `node` and trusts servers
    /// certified by `ca`, and retries
    /// a peer it could not reach every `retry` ([`crate::raft::Config::unreachable_retry`]).
    pub fn new(ca: &CaCert, node: Arc<CurrentCert>, retry: Duration) -> Result<Self, Error> {
        let config = tls::client_config_current(ca, node)?;
        let client = reqwest::Client::builder()
            // reqwest only recognises a `rustls::ClientConfig` by value.
            .use_preconfigured_tls(config.as_ref().clone())
            .connect_timeout(CONNECT_TIMEOUT)
            // Peers are dialled by address on the cluster network; a proxy has no place here.
            .no_proxy()
            .build()
            .map_err(Error::Client)?;
        Ok(Self { client, retry })
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = NetworkConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> NetworkConnection {
        NetworkConnection {
            client: self.client.clone(),
            target,
            node: node.clone(),
            retry: self.retry,
        }
    }
}

/// The RPC client for one peer, as openraft asks for it ([`RaftNetwork`]).
#[derive(Debug, Clone)]
pub struct NetworkConnection {
    client: reqwest::Client,
    target: NodeId,
    node: BasicNode,
    retry: Duration,
}

/// What a failed RPC returns to openraft, for a remote error of type `E`.
type RpcResult<T, E = Infallible> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl NetworkConnection {
    /// POSTs `body` as JSON to `path` on the peer and decodes its `Result` answer.
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        body: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        // Node certificates carry their IP as a SAN, so the address is also the TLS name.
        let url = format!("https://{}{}", self.node.addr, path);
        let response = self
            .client
            .post(url)
            .json(body)
            .timeout(option.hard_ttl())
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            let err = std::io::Error::other(format!("{} answered HTTP {status}", self.node.addr));
            return Err(RPCError::Network(NetworkError::new(&err)));
        }
        let answer: Result<Resp, RaftError<NodeId, E>> =
            response.json().await.map_err(transport_error)?;
        answer.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

/// Classifies a reqwest failure: could not connect at all, or failed mid-exchange.
fn transport_error<E: std::error::Error>(err: reqwest::Error) -> RPCError<NodeId, BasicNode, E> {
    if err.is_connect() {
        RPCError::Unreachable(Unreachable::new(&err))
    } else {
        RPCError::Network(NetworkError::new(&err))
    }
}

impl RaftNetwork<TypeConfig> for NetworkConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.call(APPEND_PATH, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(SNAPSHOT_PATH, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.call(VOTE_PATH, &rpc, &option).await
    }

    /// How long openraft waits before retrying an unreachable peer. Its default (500 ms) is
    /// longer than the election timeout: a manager back from a crash then heard no heartbeat
    /// in time, started an election and deposed the healthy leader.
    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.retry))
    }
}

/// The Raft RPC endpoints of `raft`, answering only managers of the cluster in `sm` (see
/// [`crate::raft::doors`]). Serve it with [`serve_tls`], which supplies the caller's
/// [`PeerIdentity`].
pub fn router(raft: Raft, sm: StateMachineStore) -> Router {
    Router::new()
        .route(APPEND_PATH, post(append))
        .route(VOTE_PATH, post(vote))
        .route(SNAPSHOT_PATH, post(snapshot))
        .with_state(raft.clone())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state((raft, sm), managers_only))
}

async fn append(
    State(raft): State<Raft>,
    Json(rpc): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>> {
    Json(raft.append_entries(rpc).await)
}

async fn vote(
    State(raft): State<Raft>,
    Json(rpc): Json<VoteRequest<NodeId>>,
) -> Json<Result<VoteResponse<NodeId>, RaftError<NodeId>>> {
    Json(raft.vote(rpc).await)
}

async fn snapshot(
    State(raft): State<Raft>,
    Json(rpc): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>> {
    Json(raft.install_snapshot(rpc).await)
}

/// Only managers take part in Raft. Workers hold valid cluster certificates, so the TLS layer
/// lets them in; this is where they are stopped, and so are removed nodes and managers no
/// longer in the cluster.
async fn managers_only(
    State((raft, sm)): State<(Raft, StateMachineStore)>,
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(Extension(peer)) if peer.role == NodeRole::Manager => {
            let in_raft = (raft.metrics().borrow().membership_config.membership())
                .get_node(&crate::ids::raft_id_for(&peer.node_id))
                .is_some();
            match sm.admit(&peer, Door::Raft, in_raft) {
                Ok(()) => next.run(request).await,
                Err(refusal) => {
                    tracing::debug!(node = %peer.node_id, %refusal, "refused Raft RPC");
                    let version = request.version();
                    closing(
                        version,
                        (StatusCode::FORBIDDEN, refusal.to_string()).into_response(),
                    )
                }
            }
        }
        Some(Extension(peer)) => {
            tracing::warn!(node = %peer.node_id, role = ?peer.role, "refused Raft RPC from a non-manager");
            (StatusCode::FORBIDDEN, "Raft RPC is for managers only").into_response()
        }
        None => (StatusCode::FORBIDDEN, "no client certificate").into_response(),
    }
}

/// `response`, and the connection it answers closed after it (HTTP/1 `Connection: close`; an
/// HTTP/2 connection stays, each of its requests refused on its own): a caller turned away by
/// membership keeps no open connection.
pub fn closing(version: Version, mut response: Response) -> Response {
    if version <= Version::HTTP_11 {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled, within the bounds
/// [`ClusterLimits::for_fd_limit`] gives for this process's file descriptors.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: CancellationToken,
) {
    let limits = ClusterLimits::for_fd_limit(bounded_http::open_file_limit());
    serve_tls_within(listener, tls, app, limits, shutdown).await;
}

/// Serves `app` over TLS on `listener` within `limits` until `shutdown` is cancelled.
///
/// Each connection gets its own task: the TLS handshake (bounded by a timeout), then HTTP/1.1
/// or HTTP/2 as the client speaks. Until it has shown a cluster certificate a connection counts
/// against the unauthenticated caps (in total and per source address); a member's connection
/// then moves to the members' caps, while one without a certificate (a joiner) keeps a header
/// deadline and a deadline for its whole life. Refused connections are closed at once and
/// summarised in the log. The verified client certificate's [`PeerIdentity`] is added to every
/// request's extensions. Failed handshakes and broken connections are logged and dropped; they
/// never stop the server. On shutdown the listener closes at once and open connections get a
/// short drain.
pub async fn serve_tls_within(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    limits: ClusterLimits,
    shutdown: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut connections = tokio::task::JoinSet::new();
    let mut unauthenticated = Gate::new(limits.unauthenticated, "manager endpoint");
    let members = Arc::new(Mutex::new(Gate::new(
        limits.members,
        "manager endpoint (members)",
    )));
    let mut summary = tokio::time::interval(bounded_http::REFUSALS_LOGGED_EVERY);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = summary.tick() => {
                let now = Instant::now();
                unauthenticated.summarise(now);
                members.lock().unwrap_or_else(PoisonError::into_inner).summarise(now);
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((tcp, remote)) => {
                let Ok(admitted) = unauthenticated.admit(remote.ip(), Instant::now()) else {
                    // Dropping the socket closes it: a refused client holds nothing here.
                    continue;
                };
                // Handlers see who connected (the join endpoint throttles by address).
                let app = app.clone().layer(Extension(ConnectInfo(remote)));
                let conn = serve_connection(
                    Accepted {
                        acceptor: acceptor.clone(),
                        tcp,
                        remote,
                        admitted,
                    },
                    app,
                    (members.clone(), limits),
                    shutdown.clone(),
                );
                connections.spawn(async move {
                    if let Err(err) = conn.await {
                        tracing::debug!(%remote, error = %err, "Raft RPC connection ended");
                    }
                });
            }
            Err(err) => {
                // Usually out of file descriptors: pause instead of spinning on the error.
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT + Duration::from_secs(1), async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        connections.abort_all();
    }
}

/// Why one connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
    #[error("the members' connection caps are reached")]
    MembersFull,
    #[error("an unauthenticated connection reached its deadline")]
    Deadline,
    #[error("HTTP: {0}")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A connection accepted within the unauthenticated caps.
struct Accepted {
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    admitted: Admitted,
}

async fn serve_connection(
    accepted: Accepted,
    app: Router,
    (members, limits): (Arc<Mutex<Gate>>, ClusterLimits),
    shutdown: CancellationToken,
) -> Result<(), ConnectionError> {
    let Accepted {
        acceptor,
        tcp,
        remote,
        admitted,
    } = accepted;
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| ConnectionError::HandshakeTimeout)?
        .map_err(ConnectionError::Handshake)?;
    // The certificate is fixed for the connection's life, so it is read once, here.
    let peer = tls::peer_identity_of(stream.get_ref().1).ok();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let (app, _held, deadline) = match peer {
        Some(peer) => {
            let member = (members.lock().unwrap_or_else(PoisonError::into_inner))
                .admit(remote.ip(), Instant::now())
                .map_err(|_| ConnectionError::MembersFull)?;
            // A member no longer counts against the unauthenticated caps.
            drop(admitted);
            (app.layer(Extension(peer)), member, None)
        }
        None => {
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.unauthenticated.header_timeout);
            let deadline = tokio::time::Instant::now() + limits.unauthenticated.connection_timeout;
            (app, admitted, Some(deadline))
        }
    };
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let cut_off = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = conn.as_mut() => return result.map_err(ConnectionError::Http),
        () = cut_off => return Err(ConnectionError::Deadline),
        () = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
    }
    match tokio::time::timeout(DRAIN_TIMEOUT, conn).await {
        Ok(result) => result.map_err(ConnectionError::Http),
        // Dropping the connection closes it; the peer sees a reset and retries elsewhere.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
#[path = "network_test.rs"]
mod network_test;

#[cfg(test)]
#[path = "network_limits_test.rs"]
mod network_limits_test;
