//! The one clock of a process: wall-clock milliseconds (what the cluster stamps into commands
//! and reports) read off a monotonic instant, so that time never runs backwards within a run
//! and tests on a paused tokio clock control it.
//!
//! Runtimes hold a [`Clock`] and pass `now` to pure code; pure code never reads a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Wall-clock time anchored once and advanced by a monotonic instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    wall_ms: u64,
    start: Instant,
}

impl Clock {
    /// The system's clock, anchored now.
    pub fn system() -> Clock {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            wall_ms,
            start: Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.wall_ms.saturating_add(elapsed)
    }

    /// The instant at which [`Clock::now_ms`] reads `ms` (now, for a time already past).
    pub fn instant_of(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms.saturating_sub(self.wall_ms))
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn time_advances_with_the_monotonic_instant() {
        let clock = Clock::system();
        let before = clock.now_ms();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(clock.now_ms(), before + 1500);
        assert_eq!(clock.instant_of(before + 1500), Instant::now());
        assert_eq!(
            clock.instant_of(0),
            clock.instant_of(before),
            "past times are now-ish"
        );
    }
}
