//! Three managers in one process, talking Raft over real mutual TLS on 127.0.0.1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crds::meta::ObjectMeta;
use crds::node::Node;
use openraft::{ServerState, Vote};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use super::*;
use crate::pki::node::DEFAULT_NODE_CERT_VALIDITY;
use crate::pki::{ClusterCa, NodeCert};
use crate::raft::{ClusterState, Command, Config, Response, StateMachineStore, open_store};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Option<Duration> = Some(Duration::from_secs(10));

/// One manager: its store, Raft and RPC server.
struct Manager {
    id: NodeId,
    raft: Raft,
    sm: StateMachineStore,
    addr: SocketAddr,
    stop: CancellationToken,
    server: JoinHandle<()>,
    _dir: TempDir,
}

impl Manager {
    async fn start(id: NodeId, ca: &ClusterCa) -> Manager {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, sm) = open_store(dir.path()).expect("store");
        let cert = ca
            .issue_node_cert(
                &format!("m{id}"),
                NodeRole::Manager,
                &[LOCALHOST],
                &[],
                DEFAULT_NODE_CERT_VALIDITY,
            )
            .expect("cert");
        let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = Config::default().to_openraft("test").expect("config");
        let network = Network::new(
            ca.cert(),
            crate::pki::CurrentCert::new(ca.cert(), &cert).expect("cert"),
            Config::default().unreachable_retry(),
        )
        .expect("network");
        let raft = Raft::new(id, config, network, log, sm.clone())
            .await
            .expect("raft");
        let server_tls = tls::server_config(ca.cert(), &cert).expect("server tls");
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve_tls(
            listener,
            server_tls,
            router(raft.clone(), sm.clone()),
            stop.clone(),
        ));
        Manager {
            id,
            raft,
            sm,
            addr,
            stop,
            server,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.raft.shutdown().await.expect("shutdown");
        self.stop.cancel();
        self.server.await.expect("server task");
    }

    fn state(&self) -> ClusterState {
        self.sm.read(Clone::clone)
    }
}

fn node(id: &str) -> Node {
    Node {
        meta: ObjectMeta {
            id: id.to_owned(),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

fn upsert(id: &str) -> Command {
    Command::UpsertNode {
        node: node(id),
        at_ms: 1_000,
    }
}

/// Waits until one of `managers` leads and every one of them knows it.
async fn wait_for_leader(managers: &[Manager], not: Option<NodeId>) -> NodeId {
    let first = &managers[0].raft;
    let metrics = first
        .wait(WAIT)
        .metrics(
            |m| m.current_leader.is_some() && m.current_leader != not,
            "a leader is known",
        )
        .await
        .expect("leader");
    let leader = metrics.current_leader.expect("leader id");
    let leading = managers.iter().find(|m| m.id == leader).expect("a member");
    leading
        .raft
        .wait(WAIT)
        .state(ServerState::Leader, "leader is in the Leader state")
        .await
        .expect("leader state");
    leader
}

/// A client that trusts the cluster CA and presents `cert`.
fn client_with(ca: &CaCert, cert: &NodeCert) -> reqwest::Client {
    let config = tls::client_config(ca, cert).expect("client tls");
    reqwest::Client::builder()
        .use_preconfigured_tls(config.as_ref().clone())
        .build()
        .expect("client")
}

/// Handshakes with the server at `addr` as `cert` (trusting `ca`) and returns the TLS alert
/// the server answers with. In TLS 1.3 the server checks the client certificate after the
/// client considers the handshake done, so the alert arrives on the first read.
async fn tls_alert_for(ca: &CaCert, cert: &NodeCert, addr: SocketAddr) -> rustls::AlertDescription {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let config = tls::client_config(ca, cert).expect("client tls");
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::IpAddress(LOCALHOST.into());
    let err = match connector.connect(name, tcp).await {
        Err(err) => err,
        Ok(mut stream) => {
            let _ = stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
            let mut buf = Vec::new();
            stream
                .read_to_end(&mut buf)
                .await
                .expect_err("the server must not talk to a foreign certificate")
        }
    };
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => *alert,
        _ => panic!("expected a TLS alert, got {err:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_managers_replicate_fail_over_and_refuse_strangers() {
    let ca = ClusterCa::generate("test").expect("ca");
    let mut managers = Vec::new();
    for id in 1..=3 {
        managers.push(Manager::start(id, &ca).await);
    }
    let members: BTreeMap<NodeId, BasicNode> = managers
        .iter()
        .map(|m| (m.id, BasicNode::new(m.addr.to_string())))
        .collect();
    managers[0]
        .raft
        .initialize(members)
        .await
        .expect("initialize");
    let leader = wait_for_leader(&managers, None).await;
    let at = |id: NodeId, managers: &[Manager]| managers.iter().position(|m| m.id == id);

    // Writes on the leader reach all three state machines.
    let leading = &managers[at(leader, &managers).expect("leader")];
    let mut last = None;
    for id in ["n1", "n2", "n3"] {
        let written = leading.raft.client_write(upsert(id)).await.expect("write");
        assert!(
            matches!(written.data, Response::Ok { .. }),
            "{:?}",
            written.data
        );
        last = Some(written.log_id.index);
    }
    for m in &managers {
        m.raft
            .wait(WAIT)
            .applied_index(last, "replicated")
            .await
            .expect("applied");
    }
    let expected = managers[0].state();
    assert_eq!(expected.nodes.len(), 3);
    for m in &managers[1..] {
        assert_eq!(m.state(), expected, "manager {} converged", m.id);
    }

    // The leader dies: the other two elect one of themselves and keep accepting writes.
    let old = managers.remove(at(leader, &managers).expect("leader"));
    let started = Instant::now();
    old.stop().await;
    let new_leader = wait_for_leader(&managers, Some(leader)).await;
    let took = started.elapsed();
    println!("manager {new_leader} took over from {leader} in {took:?}");
    assert_ne!(new_leader, leader);
    assert!(took < Duration::from_secs(2), "failover took {took:?}");
    let leading = &managers[at(new_leader, &managers).expect("new leader")];
    let written = leading
        .raft
        .client_write(upsert("n4"))
        .await
        .expect("write");
    for m in &managers {
        m.raft
            .wait(WAIT)
            .applied_index(Some(written.log_id.index), "replicated")
            .await
            .expect("applied");
        assert!(m.sm.read(|s| s.nodes.contains_key("n4")));
    }

    let vote = VoteRequest::new(Vote::new(1, 99), None);
    let url = format!("https://{}{}", leading.addr, VOTE_PATH);

    // A manager certificate from another CA is refused during the handshake: no HTTP answer.
    let other = ClusterCa::generate("other").expect("other ca");
    let stranger = other
        .issue_node_cert(
            "m9",
            NodeRole::Manager,
            &[LOCALHOST],
            &[],
            DEFAULT_NODE_CERT_VALIDITY,
        )
        .expect("stranger cert");
    let refused = client_with(ca.cert(), &stranger)
        .post(&url)
        .json(&vote)
        .send()
        .await
        .expect_err("a foreign certificate must not get an answer");
    assert!(refused.status().is_none(), "{refused:?}");
    // The same, one layer down, to see that it is the TLS layer that says no.
    let alert = tls_alert_for(ca.cert(), &stranger, leading.addr).await;
    assert_eq!(alert, rustls::AlertDescription::UnknownCA);

    // A worker of this cluster passes TLS but is not allowed to take part in Raft.
    let worker = ca
        .issue_node_cert(
            "w1",
            NodeRole::Worker,
            &[LOCALHOST],
            &[],
            DEFAULT_NODE_CERT_VALIDITY,
        )
        .expect("worker cert");
    let answer = client_with(ca.cert(), &worker)
        .post(&url)
        .json(&vote)
        .send()
        .await
        .expect("the worker gets an HTTP answer");
    assert_eq!(answer.status(), reqwest::StatusCode::FORBIDDEN);
    // ALPN picked HTTP/2, as every cluster connection is meant to use.
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);

    for m in managers {
        m.stop().await;
    }
}

/// A peer that was unreachable is tried again within one heartbeat, not after openraft's
/// default half second: a manager back from a crash must hear the leader before its own
/// election timeout runs out, or it campaigns and deposes the healthy leader.
#[tokio::test]
async fn an_unreachable_peer_is_retried_within_the_election_timeout() {
    let ca = ClusterCa::generate("test").expect("ca");
    let cert = ca
        .issue_node_cert(
            "m1",
            crds::node::NodeRole::Manager,
            &[LOCALHOST],
            &[],
            DEFAULT_NODE_CERT_VALIDITY,
        )
        .expect("cert");
    // The timing `reconciler --election-timeout` derives, at both ends of its range.
    for election_ms in [50, 150, 10_000] {
        let config = Config {
            heartbeat_ms: (election_ms / 3).max(10),
            election_timeout_ms: (election_ms, election_ms * 2),
            ..Config::default()
        };
        let retry = config.unreachable_retry();
        assert!(retry < Duration::from_millis(election_ms), "{config:?}");
        let mut network = Network::new(
            ca.cert(),
            crate::pki::CurrentCert::new(ca.cert(), &cert).expect("cert"),
            retry,
        )
        .expect("network");
        let peer = network.new_client(2, &BasicNode::new("127.0.0.1:1")).await;
        assert_eq!(peer.backoff().next(), Some(retry));
    }
}
