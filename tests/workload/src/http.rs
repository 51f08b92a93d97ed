//! A minimal HTTP/1.1 server and client: enough to answer requests and to probe health.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often blocked loops look at the stop flag.
pub const TICK: Duration = Duration::from_millis(50);

/// Serves until `stop` is set.
pub fn serve(listen: &str, message: &str, stop: &AtomicBool) -> io::Result<()> {
    let listener = TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let version = std::env::var("VERSION").unwrap_or_else(|_| "dev".to_owned());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let body = Arc::new(format!("{message} version={version} host={host}\n"));
    let healthy = Health::from_env();
    let served = Arc::new(AtomicU64::new(0));
    eprintln!("workload: serving on {listen} (version {version})");
    accept_loop(&listener, stop, |stream| {
        let body = body.clone();
        let served = served.clone();
        std::thread::spawn(move || {
            let _ = answer(stream, &body, healthy.now(), &served);
        });
    })
}

/// What `/healthz` answers: `UNHEALTHY=1` fails it from the start, `UNHEALTHY_AFTER=<ms>` once
/// the server has served that long (a service that breaks after it was healthy).
#[derive(Clone, Copy)]
struct Health {
    unhealthy_at: Option<std::time::Instant>,
}

impl Health {
    fn from_env() -> Health {
        let now = std::time::Instant::now();
        let always = std::env::var("UNHEALTHY").is_ok_and(|v| v == "1");
        let after = std::env::var("UNHEALTHY_AFTER")
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .map(|ms| now + Duration::from_millis(ms));
        Health {
            unhealthy_at: if always { Some(now) } else { after },
        }
    }

    fn now(self) -> bool {
        self.unhealthy_at
            .is_none_or(|at| std::time::Instant::now() < at)
    }
}

/// Accepts connections until `stop` is set, handing each to `handle`.
pub fn accept_loop(
    listener: &TcpListener,
    stop: &AtomicBool,
    mut handle: impl FnMut(TcpStream),
) -> io::Result<()> {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                handle(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn answer(stream: TcpStream, body: &str, healthy: bool, served: &AtomicU64) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        let mut close = request_line.contains("HTTP/1.0");
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
        }
        let (status, text) = match path.as_str() {
            "/healthz" if healthy => ("200 OK", "ok\n".to_owned()),
            "/healthz" => ("503 Service Unavailable", "unhealthy\n".to_owned()),
            "/stats" => (
                "200 OK",
                format!("requests {}\n", served.load(Ordering::Relaxed)),
            ),
            _ => {
                served.fetch_add(1, Ordering::Relaxed);
                ("200 OK", body.to_owned())
            }
        };
        write!(
            writer,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{text}",
            text.len(),
            if close { "Connection: close\r\n" } else { "" }
        )?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// `host:port` and path of an `http://` URL.
pub fn split_url(url: &str) -> io::Result<(String, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "only http:// URLs are supported",
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_owned()))
}

/// GETs `url`; `Ok` when it answers 200 within two seconds.
pub fn probe(url: &str) -> io::Result<()> {
    let (authority, path) = split_url(url)?;
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(io::Error::other(format!("answered {status:?}")))
    }
}
