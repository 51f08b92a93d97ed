//! When a node renews its certificate: two thirds into its validity, as Swarm does (its
//! certificates last 90 days and are renewed well before they end), so that a manager that is
//! unreachable for a while still leaves a third of the validity to retry in.

use std::time::Duration;

use super::node::CLOCK_SKEW_ALLOWANCE;

/// The part of a certificate's validity after which it is renewed.
pub const RENEW_AFTER: (u32, u32) = (2, 3);

/// The shortest validity a cluster accepts for its node certificates.
pub const MIN_VALIDITY: Duration = Duration::from_secs(30);

/// How long to wait before retrying a renewal that failed.
pub fn retry_after(failures: u32) -> Duration {
    Duration::from_secs(5u64.saturating_mul(1 << failures.min(6)).min(300))
}

/// The moment (seconds since the epoch) to renew a certificate valid from `not_before` to
/// `not_after`. Certificates start [`CLOCK_SKEW_ALLOWANCE`] before they are issued, which is
/// not part of the validity asked for.
pub fn renew_at(not_before: i64, not_after: i64) -> i64 {
    let skew = i64::try_from(CLOCK_SKEW_ALLOWANCE.as_secs()).unwrap_or(0);
    let issued = (not_before + skew).min(not_after);
    let (num, den) = (i64::from(RENEW_AFTER.0), i64::from(RENEW_AFTER.1));
    issued + (not_after - issued) * num / den
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60;

    #[test]
    fn a_ninety_day_certificate_is_renewed_on_day_sixty() {
        let issued = 1_000_000;
        let not_before = issued - CLOCK_SKEW_ALLOWANCE.as_secs() as i64;
        assert_eq!(renew_at(not_before, issued + 90 * DAY), issued + 60 * DAY);
    }

    #[test]
    fn a_short_certificate_is_renewed_two_thirds_in_and_never_before_it_starts() {
        let not_before = 1_000 - 300;
        assert_eq!(renew_at(not_before, 1_030), 1_020);
        // A certificate shorter than the skew allowance (not one this cluster issues).
        assert_eq!(renew_at(1_000, 1_100), 1_100);
    }

    #[test]
    fn retries_back_off_to_five_minutes() {
        assert_eq!(retry_after(0), Duration::from_secs(5));
        assert_eq!(retry_after(1), Duration::from_secs(10));
        assert_eq!(retry_after(10), Duration::from_secs(300));
    }
}
