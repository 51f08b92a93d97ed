use std::net::Ipv4Addr;

use super::*;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

#[test]
fn an_address_gets_a_burst_of_failures_then_a_steady_trickle() {
    let t0 = Instant::now();
    let guard = JoinGuard::new(t0);
    for _ in 0..BURST as usize {
        assert!(guard.admit(A, t0).is_ok());
        guard.refused(A, "x", &"bad token", t0);
    }
    let wait = guard.admit(A, t0).expect_err("throttled");
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs_f64(1.0 / PER_SECOND));
    assert!(
        guard.admit(B, t0).is_ok(),
        "other addresses are not affected"
    );
    let later = t0 + Duration::from_secs_f64(1.0 / PER_SECOND);
    assert!(guard.admit(A, later).is_ok(), "allowance comes back");
}

#[test]
fn successful_joins_cost_nothing() {
    let t0 = Instant::now();
    let guard = JoinGuard::new(t0);
    for _ in 0..1_000 {
        assert!(guard.admit(A, t0).is_ok());
    }
}

#[test]
fn addresses_with_a_full_allowance_are_forgotten_when_too_many_are_remembered() {
    let t0 = Instant::now();
    let guard = JoinGuard::new(t0);
    for i in 0..=REMEMBERED as u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        guard.refused(ip, "x", &"bad token", t0);
    }
    let later = t0 + Duration::from_secs(60);
    guard.refused(A, "x", &"bad token", later);
    assert!(
        guard.inner().buckets.len() <= 2,
        "{}",
        guard.inner().buckets.len()
    );
}
