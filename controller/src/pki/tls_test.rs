//! Real TLS handshakes over 127.0.0.1 with tokio-rustls: mutual TLS between nodes, refusals of
//! foreign and missing client certificates, and the joiner's pinned-CA bootstrap.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use crds::node::NodeRole;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::node::DEFAULT_NODE_CERT_VALIDITY;
use super::tls::{self, bootstrap_rejection, peer_identity_of};
use super::*;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A CA with one manager and one worker certificate, both for 127.0.0.1.
struct Cluster {
    ca: ClusterCa,
    manager: NodeCert,
    worker: NodeCert,
}

fn cluster(id: &str) -> Cluster {
    let ca = ClusterCa::generate(id).expect("CA generation succeeds");
    let issue = |node_id: &str, role| {
        ca.issue_node_cert(node_id, role, &[LOCALHOST], &[], DEFAULT_NODE_CERT_VALIDITY)
            .expect("node certificate issuance succeeds")
    };
    Cluster {
        manager: issue("manager-1", NodeRole::Manager),
        worker: issue("worker-1", NodeRole::Worker),
        ca,
    }
}

/// What each side saw: the peer's identity (if it had a verified certificate) and the ALPN.
#[derive(Debug)]
struct Seen {
    peer: Option<PeerIdentity>,
    alpn: Option<Vec<u8>>,
}

/// One connection: the server accepts, expects "ping" and answers "pong"; the client dials
/// `name` on 127.0.0.1 and does the opposite. Returns both sides' results.
async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> (io::Result<Seen>, io::Result<Seen>) {
    let listener = TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let server_side = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsAcceptor::from(server).accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        let conn = tls.get_ref().1;
        Ok(Seen {
            peer: peer_identity_of(conn).ok(),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        })
    });
    let name = ServerName::try_from(name.to_owned()).expect("valid server name");
    let client_side = async move {
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = TlsConnector::from(client).connect(name, tcp).await?;
        tls.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        // With TLS 1.3 the client finishes its handshake before the server has checked the
        // client certificate; a refusal shows up here as the server's alert.
        tls.read_exact(&mut buf).await?;
        let conn = tls.get_ref().1;
        Ok(Seen {
            peer: peer_identity_of(conn).ok(),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        })
    };
    let limit = Duration::from_secs(10);
    let client_result = tokio::time::timeout(limit, client_side)
        .await
        .expect("handshake finished within 10 s");
    let server_result = tokio::time::timeout(limit, server_side)
        .await
        .expect("handshake finished within 10 s")
        .expect("server task did not panic");
    (server_result, client_result)
}

fn expect_err(result: io::Result<Seen>, needle: &str) -> io::Error {
    let err = result.expect_err("handshake should have been refused");
    assert!(err.to_string().contains(needle), "{needle:?} not in {err}");
    err
}

#[tokio::test]
async fn mutual_tls_between_nodes_of_the_same_ca_reveals_both_identities() {
    let c = cluster("prod");
    let server = tls::server_config(c.ca.cert(), &c.manager).expect("server TLS config builds");
    let client = tls::client_config(c.ca.cert(), &c.worker).expect("client TLS config builds");
    let (server_seen, client_seen) = exchange(server, client, "127.0.0.1").await;
    let server_seen = server_seen.expect("handshake succeeds");
    let client_seen = client_seen.expect("handshake succeeds");
    assert_eq!(server_seen.peer.as_ref(), Some(c.worker.identity()));
    assert_eq!(server_seen.peer.map(|p| p.role), Some(NodeRole::Worker));
    assert_eq!(client_seen.peer.as_ref(), Some(c.manager.identity()));
    assert_eq!(server_seen.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(client_seen.alpn.as_deref(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn clients_can_dial_any_manager_by_the_managers_name_but_not_a_worker() {
    let c = cluster("prod");
    let client = tls::client_config(c.ca.cert(), &c.worker).expect("client TLS config builds");
    let to_manager = tls::server_config(c.ca.cert(), &c.manager).expect("server TLS config builds");
    let (_, ok) = exchange(to_manager, client.clone(), identity::MANAGERS_DNS_NAME).await;
    ok.expect("server TLS config builds");
    let to_worker = tls::server_config(c.ca.cert(), &c.worker).expect("server TLS config builds");
    let (_, refused) = exchange(to_worker, client, identity::MANAGERS_DNS_NAME).await;
    expect_err(refused, "not valid for name");
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ours = cluster("prod");
    let theirs = cluster("prod");
    // The client trusts our CA (so it accepts the server) but presents a foreign certificate.
    let client =
        tls::client_config(ours.ca.cert(), &theirs.worker).expect("client TLS config builds");
    for server in [
        tls::server_config(ours.ca.cert(), &ours.manager).expect("server TLS config builds"),
        tls::server_config_join(ours.ca.cert(), &ours.manager).expect("server TLS config builds"),
    ] {
        let (server_seen, client_seen) = exchange(server, client.clone(), "127.0.0.1").await;
        // Same subject DN as our CA (an attacker copies it), so webpki finds the "issuer" and the
        // signature check is what refuses it.
        expect_err(server_seen, "invalid peer certificate: BadSignature");
        assert!(client_seen.is_err());
    }
}

#[tokio::test]
async fn a_client_without_certificate_is_refused_except_by_the_join_endpoint() {
    let c = cluster("prod");
    let anonymous =
        tls::bootstrap_client_config(&c.ca.fingerprint()).expect("bootstrap TLS config builds");

    let strict = tls::server_config(c.ca.cert(), &c.manager).expect("server TLS config builds");
    let (server_seen, client_seen) = exchange(strict, anonymous.clone(), "127.0.0.1").await;
    expect_err(server_seen, "peer sent no certificates");
    assert!(client_seen.is_err());

    let join = tls::server_config_join(c.ca.cert(), &c.manager).expect("server TLS config builds");
    let (server_seen, client_seen) = exchange(join, anonymous, "127.0.0.1").await;
    assert_eq!(
        server_seen.expect("handshake succeeds").peer,
        None,
        "joiner has no identity yet"
    );
    assert_eq!(
        client_seen.expect("handshake succeeds").peer.as_ref(),
        Some(c.manager.identity())
    );
}

#[tokio::test]
async fn a_joiner_with_a_token_for_another_ca_refuses_the_manager_clearly() {
    let ours = cluster("prod");
    let impostor = cluster("prod");
    let joiner =
        tls::bootstrap_client_config(&ours.ca.fingerprint()).expect("bootstrap TLS config builds");
    let server = tls::server_config_join(impostor.ca.cert(), &impostor.manager)
        .expect("server TLS config builds");
    let (_, client_seen) = exchange(server, joiner, "127.0.0.1").await;
    let err = expect_err(client_seen, "manager's CA does not match the token");
    match bootstrap_rejection(&err) {
        Some(BootstrapRejection::CaMismatch {
            expected,
            presented,
        }) => {
            assert_eq!(expected, &ours.ca.fingerprint());
            assert_eq!(presented, &[impostor.ca.fingerprint()]);
        }
        other => panic!("expected a CA mismatch, got {other:?} from {err}"),
    }
}

#[tokio::test]
async fn a_joiner_checks_the_managers_signature_not_only_the_ca_it_sends() {
    let ours = cluster("prod");
    let impostor = cluster("prod");
    // The impostor sends our real CA certificate after its own, foreign-signed, certificate.
    let joiner =
        tls::bootstrap_client_config(&ours.ca.fingerprint()).expect("bootstrap TLS config builds");
    let server = tls::server_config_join(ours.ca.cert(), &impostor.manager)
        .expect("server TLS config builds");
    let (_, client_seen) = exchange(server, joiner, "127.0.0.1").await;
    let err = expect_err(client_seen, "invalid peer certificate");
    assert_eq!(bootstrap_rejection(&err), None, "{err}");
}

#[tokio::test]
async fn a_joiner_refuses_a_worker_posing_as_a_manager() {
    let c = cluster("prod");
    let joiner =
        tls::bootstrap_client_config(&c.ca.fingerprint()).expect("bootstrap TLS config builds");
    let server = tls::server_config_join(c.ca.cert(), &c.worker).expect("server TLS config builds");
    let (_, client_seen) = exchange(server, joiner, "127.0.0.1").await;
    let err = expect_err(client_seen, "not a manager");
    assert!(matches!(
        bootstrap_rejection(&err),
        Some(BootstrapRejection::NotAManager { node_id }) if node_id == "worker-1"
    ));
}

#[tokio::test]
async fn the_whole_join_flow_ends_in_mutual_tls() {
    let c = cluster("prod");
    let tokens = TokenStore::generate(&c.ca.fingerprint()).expect("fixed fingerprint is valid");
    let text = tokens.current(NodeRole::Worker).to_string();

    // Joiner: parse the token and dial the join endpoint pinned to its CA fingerprint.
    let token: JoinToken = text.parse().expect("issued token parses");
    let joiner =
        tls::bootstrap_client_config(&token.ca_fingerprint()).expect("bootstrap TLS config builds");
    let join = tls::server_config_join(c.ca.cert(), &c.manager).expect("server TLS config builds");
    let (server_seen, client_seen) = exchange(join, joiner, "127.0.0.1").await;
    server_seen.expect("handshake succeeds");
    client_seen.expect("handshake succeeds");

    // Manager: the token (sent inside that connection) grants a role; issue a certificate.
    let role = tokens.verify_str(&text).expect("current token verifies");
    let issued =
        c.ca.issue_node_cert(
            "new-node",
            role,
            &[LOCALHOST],
            &[],
            DEFAULT_NODE_CERT_VALIDITY,
        )
        .expect("node certificate issuance succeeds");
    let dir = tempfile::tempdir().expect("temp dir");
    issued.save(dir.path()).expect("save into temp dir");
    CaCert::from_pem(c.ca.cert().pem())
        .expect("PEM round trip")
        .save(dir.path())
        .expect("save into temp dir");

    // Joiner, from its files: a full member.
    let (ca, node) = (
        CaCert::load(dir.path()).expect("load from the files just saved"),
        NodeCert::load(dir.path()).expect("load from the files just saved"),
    );
    let client = tls::client_config(&ca, &node).expect("client TLS config builds");
    let server = tls::server_config(c.ca.cert(), &c.manager).expect("server TLS config builds");
    let (server_seen, _) = exchange(server, client, "127.0.0.1").await;
    let peer = server_seen
        .expect("handshake succeeds")
        .peer
        .expect("handshake succeeds");
    assert_eq!(
        (peer.node_id.as_str(), peer.role),
        ("new-node", NodeRole::Worker)
    );
}

#[test]
fn bootstrap_config_needs_a_well_formed_fingerprint() {
    for bad in ["", "abc", &"A".repeat(64)] {
        assert!(matches!(
            tls::bootstrap_client_config(bad),
            Err(tls::Error::FingerprintInvalid(_))
        ));
    }
}
