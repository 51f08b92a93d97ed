//! Serving plain HTTP on a port anyone can reach (the push webhook) without letting it take the
//! process down.
//!
//! Every connection gets one request, a deadline for its headers and one for its whole life
//! (slow headers, slow bodies and idle connections are cut off), and connections are capped in
//! total and per source address. The total cap is a share of the process's file descriptors, so
//! whatever the port receives, the descriptors Raft and the API need stay free. Refused
//! connections are summarised in one log line per interval, never one line each.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// How often refusals are summarised in the log.
pub const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// Bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one source address.
    pub max_per_address: usize,
    /// Time from accepting a connection to the end of its request's headers.
    pub header_timeout: Duration,
    /// Time from accepting a connection to closing it, whatever it is doing.
    pub connection_timeout: Duration,
}

impl Limits {
    /// A webhook's bounds: pushes are rare, small and quick. At most an eighth of the process's
    /// file descriptors (`fd_limit`, when known), between 64 and 4,096 connections.
    pub fn webhook(fd_limit: Option<u64>) -> Self {
        let share = usize::try_from(fd_limit.unwrap_or(1024) / 8).unwrap_or(usize::MAX);
        Limits {
            max_connections: share.clamp(64, 4096),
            max_per_address: 64,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(15),
        }
    }
}

/// The manager endpoint's bounds (Raft, node sessions, the admin API and the join endpoint on
/// one port). Connections that have not shown a cluster certificate — a TLS handshake under
/// way, or a joiner, which sends a token instead — get an eighth of the file descriptors
/// (64 to 2,048), 64 per source address, a deadline for their headers and one for their whole
/// life. Connections of members (a verified certificate) are long-lived, pooled HTTP/2: half of
/// the descriptors (256 to 65,536) and 1,024 per address (nodes behind one NAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterLimits {
    /// Connections not (yet) authenticated by a certificate.
    pub unauthenticated: Limits,
    /// Connections of members.
    pub members: Limits,
}

impl ClusterLimits {
    /// The bounds for a process allowed `fd_limit` open files (when known).
    pub fn for_fd_limit(fd_limit: Option<u64>) -> Self {
        let fds = fd_limit.unwrap_or(1024);
        let share = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        ClusterLimits {
            unauthenticated: Limits {
                max_connections: share(fds / 8).clamp(64, 2048),
                max_per_address: 64,
                header_timeout: Duration::from_secs(10),
                connection_timeout: Duration::from_secs(30),
            },
            members: Limits {
                max_connections: share(fds / 2).clamp(256, 65_536),
                max_per_address: 1024,
                // Members' connections carry streams that last as long as the node runs.
                header_timeout: Duration::from_secs(30),
                connection_timeout: Duration::MAX,
            },
        }
    }
}

/// The soft limit on open files of this process, from `/proc/self/limits` (Linux).
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Why a connection was turned away at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The listener holds `max_connections`.
    Full,
    /// Its source address holds `max_per_address`.
    AddressFull,
}

/// Open connections per source address.
#[derive(Debug, Default)]
struct Addresses {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`Addresses`], given back when dropped.
struct AddressSlot {
    addresses: Arc<Addresses>,
    ip: IpAddr,
}

impl Addresses {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            addresses: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = (self.addresses.open.lock()).unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What a listener admits: the connection cap, the per-address cap, and the refusal counts
/// since they were last logged.
pub struct Gate {
    limits: Limits,
    total: Arc<Semaphore>,
    addresses: Arc<Addresses>,
    refusals: RefusalLog,
}

/// What a connection holds while it is open.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    _slot: AddressSlot,
}

impl Gate {
    /// A gate with `limits`; `what` names the listener in log lines.
    pub fn new(limits: Limits, what: &'static str) -> Self {
        Gate {
            limits,
            total: Arc::new(Semaphore::new(limits.max_connections)),
            addresses: Arc::new(Addresses::default()),
            refusals: RefusalLog::new(what),
        }
    }

    /// Admit a connection from `ip`, or say why not (and count it for the summary).
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<Admitted, Refused> {
        let admitted = match self.total.clone().try_acquire_owned() {
            Err(_) => Err(Refused::Full),
            Ok(permit) => match self.addresses.take(ip, self.limits.max_per_address) {
                Some(slot) => Ok(Admitted {
                    _permit: permit,
                    _slot: slot,
                }),
                None => Err(Refused::AddressFull),
            },
        };
        if let Err(why) = admitted {
            self.refusals.count(why, ip, now, &self.limits);
        }
        admitted
    }

    /// Log what was refused since the last summary (called every [`REFUSALS_LOGGED_EVERY`]).
    pub fn summarise(&mut self, now: Instant) {
        self.refusals.flush(now, &self.limits);
    }
}

/// Refusals counted between two log lines.
struct RefusalLog {
    what: &'static str,
    since: Instant,
    /// When a refusal was last logged.
    logged: Instant,
    full: u64,
    address_full: u64,
    addresses: HashMap<IpAddr, u64>,
}

impl RefusalLog {
    fn new(what: &'static str) -> Self {
        let now = Instant::now();
        RefusalLog {
            what,
            since: now,
            logged: now.checked_sub(REFUSALS_LOGGED_EVERY).unwrap_or(now),
            full: 0,
            address_full: 0,
            addresses: HashMap::new(),
        }
    }

    fn count(&mut self, why: Refused, ip: IpAddr, now: Instant, limits: &Limits) {
        if self.full + self.address_full == 0
            && now.duration_since(self.logged) >= REFUSALS_LOGGED_EVERY
        {
            // The first refusal after a quiet spell is told at once; the rest are summarised.
            tracing::warn!(
                listener = self.what,
                max_connections = limits.max_connections,
                max_per_address = limits.max_per_address,
                from = %ip,
                "refusing {} connections: the listener is at its limits (summarised every {}s)",
                self.what,
                REFUSALS_LOGGED_EVERY.as_secs()
            );
            self.logged = now;
        }
        match why {
            Refused::Full => self.full += 1,
            Refused::AddressFull => self.address_full += 1,
        }
        *self.addresses.entry(ip).or_insert(0) += 1;
    }

    fn flush(&mut self, now: Instant, limits: &Limits) {
        if self.full + self.address_full > 0 {
            self.logged = now;
            let busiest = busiest(&self.addresses);
            tracing::warn!(
                listener = self.what,
                at_cap = self.full,
                max_connections = limits.max_connections,
                over_address_cap = self.address_full,
                max_per_address = limits.max_per_address,
                addresses = self.addresses.len(),
                %busiest,
                "refused connections in the last {}s",
                now.duration_since(self.since).as_secs()
            );
        }
        self.full = 0;
        self.address_full = 0;
        self.addresses.clear();
        self.since = now;
    }
}

/// The address with the most refusals, as `ip (count)`, for summary lines.
pub fn busiest(counts: &HashMap<IpAddr, u64>) -> String {
    (counts.iter())
        .max_by_key(|(_, n)| **n)
        .map(|(ip, n)| format!("{ip} ({n})"))
        .unwrap_or_default()
}

/// Serve `app` on `listener` within `limits` until `stop`. The app sees each request's
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
    let mut gate = Gate::new(limits, "webhook");
    let mut summary = tokio::time::interval(REFUSALS_LOGGED_EVERY);
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            _ = summary.tick() => {
                gate.summarise(Instant::now());
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Usually out of file descriptors: pause instead of spinning on the error.
                tracing::warn!(error = %err, "accepting a webhook connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(admitted) = gate.admit(remote.ip(), Instant::now()) else {
            // Dropping the socket closes it at once: a refused client holds nothing here.
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            serve_one(tcp, remote, app, limits).await;
        });
    }
}

async fn serve_one(tcp: tokio::net::TcpStream, remote: SocketAddr, app: Router, limits: Limits) {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(false);
    let app = app.layer(axum::Extension(ConnectInfo(remote)));
    let conn = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app));
    match tokio::time::timeout(limits.connection_timeout, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(%remote, error = %err, "webhook connection ended"),
        Err(_) => tracing::debug!(%remote, "webhook connection cut off at its deadline"),
    }
}

#[cfg(test)]
#[path = "bounded_http_test.rs"]
mod tests;
