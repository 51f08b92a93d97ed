//! A TCP forwarder: each accepted connection is piped to the upstream, resolved per connection
//! so that a service name on a stack network finds its current tasks.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::http::{accept_loop, split_url};

/// Forwards `listen` to `upstream` until `stop` is set; `stats` serves the connection count.
pub fn run(listen: &str, upstream: &str, stats: Option<&str>, stop: &AtomicBool) -> io::Result<()> {
    let (target, _) = split_url(upstream)?;
    let listener = TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let forwarded = Arc::new(AtomicU64::new(0));
    if let Some(stats) = stats {
        let stats = TcpListener::bind(stats)?;
        let forwarded = forwarded.clone();
        std::thread::spawn(move || {
            for stream in stats.incoming().flatten() {
                let body = format!("forwarded {}\n", forwarded.load(Ordering::Relaxed));
                let _ = io::Write::write_all(
                    &mut &stream,
                    format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
    }
    eprintln!("workload: forwarding {listen} to {target}");
    accept_loop(&listener, stop, |client| {
        let target = target.clone();
        forwarded.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            if let Err(e) = pipe(client, &target) {
                eprintln!("workload: upstream {target}: {e}");
            }
        });
    })
}

fn pipe(client: TcpStream, target: &str) -> io::Result<()> {
    let upstream = TcpStream::connect(target)?;
    let (mut client_read, mut upstream_write) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut upstream_read, mut client_write) = (upstream, client);
    let _ = io::copy(&mut upstream_read, &mut client_write);
    let _ = client_write.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
    Ok(())
}
