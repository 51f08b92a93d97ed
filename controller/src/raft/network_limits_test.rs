//! The manager endpoint's bounds: connections that show no certificate are capped per source
//! address and cut off at their deadline, while members keep being served.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use super::serve_tls_within;
use crate::bounded_http::{ClusterLimits, Limits};
use crate::pki::node::DEFAULT_NODE_CERT_VALIDITY;
use crate::pki::{ClusterCa, tls};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn limits() -> ClusterLimits {
    ClusterLimits {
        unauthenticated: Limits {
            max_connections: 16,
            max_per_address: 4,
            header_timeout: Duration::from_millis(300),
            connection_timeout: Duration::from_millis(600),
        },
        members: Limits {
            max_connections: 16,
            max_per_address: 16,
            header_timeout: Duration::from_secs(30),
            connection_timeout: Duration::MAX,
        },
    }
}

/// A TCP connection to `addr` from the source address `from`.
async fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind((from, 0).into())
        .expect("bind the source address");
    socket.connect(addr).await.expect("connect")
}

/// Whether the server closed `stream` within `within` (EOF or reset on read).
async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(within, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_connections_are_capped_and_cut_off_while_members_are_served() {
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
    let listener = tokio::net::TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let app = Router::new().route("/ping", get(|| async { "pong" }));
    let server = tokio::spawn(serve_tls_within(
        listener,
        tls::server_config_join(ca.cert(), &cert).expect("server tls"),
        app,
        limits(),
        stop.clone(),
    ));

    // One address holds its four unauthenticated connections (no handshake at all)…
    let flood = Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(flood, addr).await);
    }
    // …and a fifth from it is closed at once.
    let mut fifth = connect_from(flood, addr).await;
    assert!(closed_within(&mut fifth, Duration::from_secs(2)).await);
    for stream in &mut held {
        assert!(!closed_within(stream, Duration::from_millis(20)).await);
    }

    // A member on another address is served meanwhile.
    let config = tls::client_config(ca.cert(), &cert).expect("client tls");
    let member = reqwest::Client::builder()
        .use_preconfigured_tls(config.as_ref().clone())
        .build()
        .expect("client");
    let url = format!("https://{addr}/ping");
    let started = Instant::now();
    let answer = member.get(&url).send().await.expect("a member is served");
    assert_eq!(answer.text().await.expect("body"), "pong");
    assert!(started.elapsed() < Duration::from_secs(1));

    // A client that completes the handshake without a certificate (as a joiner does) and then
    // sends nothing is cut off at its deadline.
    let joiner = tls::bootstrap_client_config(&ca.fingerprint()).expect("bootstrap tls");
    let tcp = connect_from(Ipv4Addr::new(127, 0, 0, 3), addr).await;
    let name = rustls::pki_types::ServerName::IpAddress(LOCALHOST.into());
    let mut quiet = tokio_rustls::TlsConnector::from(joiner)
        .connect(name, tcp)
        .await
        .expect("a handshake without a certificate");
    let opened = Instant::now();
    assert!(closed_within(&mut quiet, Duration::from_secs(3)).await);
    assert!(
        opened.elapsed() < Duration::from_secs(2),
        "{:?}",
        opened.elapsed()
    );

    // The member's pooled connection is not subject to any deadline.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let again = member.get(&url).send().await.expect("still served");
    assert_eq!(again.text().await.expect("body"), "pong");

    stop.cancel();
    let _ = server.await;
}
