use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};

use axum::routing::get;

use super::*;

fn limits(max: usize, per_address: usize) -> Limits {
    Limits {
        max_connections: max,
        max_per_address: per_address,
        header_timeout: Duration::from_millis(300),
        connection_timeout: Duration::from_secs(2),
    }
}

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

#[test]
fn connections_are_capped_per_address_and_in_total_and_given_back_when_closed() {
    let mut gate = Gate::new(limits(3, 2), "test");
    let now = Instant::now();
    let a1 = gate.admit(A, now).expect("a1");
    let _a2 = gate.admit(A, now).expect("a2");
    assert!(matches!(gate.admit(A, now), Err(Refused::AddressFull)));
    let _b1 = gate.admit(B, now).expect("b1");
    assert!(matches!(gate.admit(B, now), Err(Refused::Full)));
    drop(a1);
    assert!(
        gate.admit(A, now).is_ok(),
        "a closed connection frees its places"
    );
}

#[test]
fn a_webhook_gets_a_share_of_the_file_descriptors() {
    assert_eq!(Limits::webhook(Some(20_000)).max_connections, 2_500);
    assert_eq!(Limits::webhook(Some(256)).max_connections, 64);
    assert_eq!(Limits::webhook(Some(1 << 20)).max_connections, 4_096);
    assert_eq!(
        Limits::webhook(None).max_connections,
        128,
        "1024 / 8 when unknown"
    );
}

#[test]
fn the_open_file_limit_is_read_on_linux() {
    if cfg!(target_os = "linux") {
        assert!(open_file_limit().is_some_and(|n| n > 0));
    }
}

/// Starts `serve` on a loopback port; returns its address and the stop token.
async fn start(limits: Limits) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(remote): ConnectInfo<SocketAddr>| async move { remote.ip().to_string() }),
    );
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, app, limits, stop.clone()));
    (addr, stop)
}

/// Reads until the server closes the connection; what it sent.
fn read_to_close(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_a_full_listener_closes_new_connections_at_once() {
    let (addr, stop) = start(limits(2, 2)).await;
    tokio::task::spawn_blocking(move || {
        // A normal request is answered, with the client's address, and the connection closed.
        let mut ok = TcpStream::connect(addr).expect("connect");
        ok.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .expect("write");
        let answer = read_to_close(&mut ok);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");

        // Two slowloris clients fill the listener; a third is closed at once.
        let started = Instant::now();
        let mut slow: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.write_all(b"GET / HTTP/1.1\r\nhost:").expect("write");
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let mut third = TcpStream::connect(addr).expect("connect");
        let _ = third.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
        assert_eq!(read_to_close(&mut third), "", "refused without an answer");
        assert!(started.elapsed() < Duration::from_millis(300 + 200));

        // The slow ones are cut off at the header deadline, and the listener has room again.
        for s in &mut slow {
            read_to_close(s);
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let mut again = TcpStream::connect(addr).expect("connect");
        again
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .expect("write");
        assert!(read_to_close(&mut again).starts_with("HTTP/1.1 200"));
    })
    .await
    .expect("client");
    stop.cancel();
}
