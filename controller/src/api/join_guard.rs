//! Join attempts with bad tokens, throttled per source address and summarised in the log.
//!
//! Only failed attempts are charged: a fleet joining through one NAT address with the right
//! token is never slowed down, while guessing tokens from one address gets [`BURST`] tries and
//! then [`PER_SECOND`]. Refusals are logged with their address: the first after a quiet spell at
//! once, the rest as one line per [`SUMMARY_EVERY`], so a flood cannot fill the disk with logs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed attempts an address may make at once.
pub const BURST: f64 = 10.0;
/// Failed attempts an address earns back per second.
pub const PER_SECOND: f64 = 2.0;
/// How often refusals are summarised.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// Addresses remembered before those with a full allowance are forgotten.
const REMEMBERED: usize = 10_000;

/// The allowance of failed attempts of one address.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Self {
        Bucket {
            tokens: BURST,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * PER_SECOND;
        self.tokens = (self.tokens + earned).min(BURST);
        self.at = now;
    }
}

/// Refusals since the last log line.
#[derive(Debug)]
struct Summary {
    since: Instant,
    logged: Option<Instant>,
    refused: u64,
    throttled: u64,
    by_address: HashMap<IpAddr, u64>,
}

/// The join endpoint's memory of failed attempts.
#[derive(Debug)]
pub struct JoinGuard {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    buckets: HashMap<IpAddr, Bucket>,
    summary: Summary,
}

impl Default for JoinGuard {
    fn default() -> Self {
        JoinGuard::new(Instant::now())
    }
}

impl JoinGuard {
    /// A guard shared by the join endpoint, with a timer that logs the summary of a burst of
    /// refusals once it is due even when no further attempt comes to trigger it. The timer ends
    /// with the last holder of the guard (and is not started outside a tokio runtime).
    pub fn start() -> Arc<JoinGuard> {
        let guard = Arc::new(JoinGuard::default());
        let weak = Arc::downgrade(&guard);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(SUMMARY_EVERY / 2);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(guard) => guard.summarise(Instant::now()),
                        None => return,
                    }
                }
            });
        }
        guard
    }

    /// A guard that has seen nothing, as of `now`.
    pub fn new(now: Instant) -> Self {
        JoinGuard {
            inner: Mutex::new(Inner {
                buckets: HashMap::new(),
                summary: Summary {
                    since: now,
                    logged: None,
                    refused: 0,
                    throttled: 0,
                    by_address: HashMap::new(),
                },
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `ip` may try now; when not, how long until it may.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut inner = self.inner();
        let bucket = inner.buckets.entry(ip).or_insert_with(|| Bucket::full(now));
        bucket.refill(now);
        if bucket.tokens >= 1.0 {
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / PER_SECOND);
        inner.summary.throttled += 1;
        *inner.summary.by_address.entry(ip).or_insert(0) += 1;
        inner.flush(now);
        Err(wait)
    }

    /// Charge `ip` for a failed attempt and log it (at once after a quiet spell, else in the
    /// next summary). `hostname` is what the caller claimed: logged escaped.
    pub fn refused(&self, ip: IpAddr, hostname: &str, error: &dyn std::fmt::Display, now: Instant) {
        let mut inner = self.inner();
        let bucket = inner.buckets.entry(ip).or_insert_with(|| Bucket::full(now));
        bucket.refill(now);
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        if inner.buckets.len() > REMEMBERED {
            inner.forget_full(now);
        }
        let quiet = (inner.summary.logged).is_none_or(|at| now.duration_since(at) >= SUMMARY_EVERY);
        if quiet && inner.summary.refused + inner.summary.throttled == 0 {
            tracing::warn!(%ip, hostname = ?hostname, %error, "refused a join (further refusals are summarised every {}s)", SUMMARY_EVERY.as_secs());
            inner.summary.logged = Some(now);
            inner.summary.since = now;
            return;
        }
        inner.summary.refused += 1;
        *inner.summary.by_address.entry(ip).or_insert(0) += 1;
        inner.flush(now);
    }

    /// Log the summary if one is due (also called on a timer, so a burst's end is told).
    pub fn summarise(&self, now: Instant) {
        self.inner().flush(now);
    }
}

impl Inner {
    fn forget_full(&mut self, now: Instant) {
        self.buckets.retain(|_, b| {
            b.refill(now);
            b.tokens < BURST
        });
    }

    fn flush(&mut self, now: Instant) {
        let s = &mut self.summary;
        if now.duration_since(s.since) < SUMMARY_EVERY || s.refused + s.throttled == 0 {
            return;
        }
        let busiest = crate::bounded_http::busiest(&s.by_address);
        tracing::warn!(
            refused = s.refused,
            throttled = s.throttled,
            addresses = s.by_address.len(),
            %busiest,
            "refused join attempts in the last {}s",
            now.duration_since(s.since).as_secs()
        );
        s.refused = 0;
        s.throttled = 0;
        s.by_address.clear();
        s.since = now;
        s.logged = Some(now);
    }
}

#[cfg(test)]
#[path = "join_guard_test.rs"]
mod tests;
