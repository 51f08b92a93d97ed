//! Tests of `port`.

use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn config(published: Option<u16>, target: u16) -> PortConfig {
    PortConfig {
        target,
        published,
        protocol: Protocol::Tcp,
        mode: PortMode::Ingress,
        host_ip: None,
    }
}

fn with_ip(mut config: PortConfig, ip: IpAddr) -> PortConfig {
    config.host_ip = Some(ip);
    config
}

fn with_protocol(mut config: PortConfig, protocol: Protocol) -> PortConfig {
    config.protocol = protocol;
    config
}

#[test]
fn short_syntax_parses_like_docker() {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cases: Vec<(&str, Vec<PortConfig>)> = vec![
        ("80", vec![config(None, 80)]),
        ("8080:80", vec![config(Some(8080), 80)]),
        (
            "127.0.0.1:8080:80",
            vec![with_ip(config(Some(8080), 80), localhost)],
        ),
        (
            "[::1]:6001:6001",
            vec![with_ip(
                config(Some(6001), 6001),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            )],
        ),
        (
            "::1:6001:6001",
            vec![with_ip(
                config(Some(6001), 6001),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            )],
        ),
        ("127.0.0.1::80", vec![with_ip(config(None, 80), localhost)]),
        (":80", vec![config(None, 80)]),
        (
            "6060:6060/udp",
            vec![with_protocol(config(Some(6060), 6060), Protocol::Udp)],
        ),
        (
            "6060:6060/UDP",
            vec![with_protocol(config(Some(6060), 6060), Protocol::Udp)],
        ),
        (
            "9/sctp",
            vec![with_protocol(config(None, 9), Protocol::Sctp)],
        ),
        ("80/", vec![config(None, 80)]),
        ("65535", vec![config(None, 65_535)]),
        ("080", vec![config(None, 80)]),
        (
            "9090-9091:8080-8081",
            vec![config(Some(9090), 8080), config(Some(9091), 8081)],
        ),
        (
            "3000-3002",
            vec![config(None, 3000), config(None, 3001), config(None, 3002)],
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(parse_short(spec), Ok(want), "{spec}");
    }
}

#[test]
fn ranges_expand_to_one_config_per_port() -> Result<(), Error> {
    let configs = parse_short("8000-8010:8000-8010")?;
    assert_eq!(configs.len(), 11);
    for (i, port) in (8000..=8010).enumerate() {
        assert_eq!(configs[i], config(Some(port), port));
    }
    Ok(())
}

#[test]
fn bad_specs_are_explained() {
    let cases: &[(&str, &str)] = &[
        (
            "70000",
            "invalid port 70000 in \"70000\": ports must be between 1 and 65535",
        ),
        (
            "8080:0",
            "invalid port 0 in \"8080:0\": ports must be between 1 and 65535",
        ),
        (
            "8000-8010:80",
            "invalid port spec \"8000-8010:80\": port ranges don't match: published \
                 \"8000-8010\" has 11 port(s) but target \"80\" has 1; \
                 use ranges of the same length, e.g. \"8000-8010:8000-8010\"",
        ),
        (
            "80/tpc",
            "invalid protocol \"tpc\" in \"80/tpc\" (did you mean \"tcp\"?); \
                 valid protocols are tcp, udp and sctp, e.g. \"53:53/udp\"",
        ),
        (
            "80/http",
            "invalid protocol \"http\" in \"80/http\"; \
                 valid protocols are tcp, udp and sctp, e.g. \"53:53/udp\"",
        ),
        (
            "8080:",
            "invalid port spec \"8080:\": no container port; \
                 expected e.g. \"80\", \"8080:80\" or \"127.0.0.1:8080:80/udp\"",
        ),
        (
            "web:80",
            "invalid port spec \"web:80\": \"web\" is not a port number; \
                 expected a number from 1 to 65535 or a range such as \"8000-8010\"",
        ),
        (
            "8010-8000",
            "invalid port range \"8010-8000\" in \"8010-8000\": the end is lower than the \
                 start; write start-end, e.g. \"8000-8010\"",
        ),
        (
            "localhost:8080:80",
            "invalid host IP \"localhost\" in \"localhost:8080:80\": expected an IPv4 or \
                 IPv6 address, e.g. \"127.0.0.1:8080:80\" or \"[::1]:8080:80\"",
        ),
    ];
    for (spec, want) in cases {
        let err = parse_short(spec).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(*want), "{spec}");
    }
}

#[test]
fn malformed_specs_are_rejected() {
    for spec in [
        "",
        "/udp",
        "80:",
        "-80",
        "80-",
        "8000-8001:80-82",
        "80:8000-8001",
        "1-2-3",
        " 80",
        "80 ",
        "+80",
        "99999999999999999999999",
        "[::1:80:80",
        "1.2.3.4.5:80:80",
        "80/udp/x",
        "0-10",
    ] {
        assert!(parse_short(spec).is_err(), "{spec}");
    }
}

#[test]
fn long_syntax_ports_are_checked() {
    assert_eq!(validate_port(1), Ok(1));
    assert_eq!(validate_port(65_535), Ok(65_535));
    for bad in [0, -1, 65_536, i64::MAX, i64::MIN] {
        assert_eq!(validate_port(bad), Err(Error::PortOutOfRange { port: bad }));
    }
    assert_eq!(
        validate_port(70_000)
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("invalid port 70000: ports must be between 1 and 65535")
    );
}

#[test]
fn display_uses_the_short_syntax() {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut host = config(Some(8080), 80);
    host.mode = PortMode::Host;
    let cases = [
        (config(Some(8080), 80), "8080:80/tcp"),
        (config(None, 80), "80/tcp"),
        (with_ip(config(None, 80), localhost), "127.0.0.1::80/tcp"),
        (
            with_ip(config(Some(53), 53), IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "[::1]:53:53/tcp",
        ),
        (
            with_protocol(config(Some(53), 53), Protocol::Udp),
            "53:53/udp",
        ),
        (host, "8080:80/tcp (host)"),
    ];
    for (config, want) in cases {
        assert_eq!(config.to_string(), want);
    }
}

#[test]
fn serde_round_trips() -> Result<(), serde_json::Error> {
    let mut full = with_ip(config(Some(8080), 80), IpAddr::V4(Ipv4Addr::LOCALHOST));
    full.protocol = Protocol::Sctp;
    full.mode = PortMode::Host;
    let json = serde_json::to_value(&full)?;
    assert_eq!(
        json,
        serde_json::json!({
            "target": 80, "published": 8080, "protocol": "sctp", "mode": "host",
            "host_ip": "127.0.0.1"
        })
    );
    assert_eq!(serde_json::from_value::<PortConfig>(json)?, full);
    let minimal: PortConfig = serde_json::from_str(r#"{"target": 80}"#)?;
    assert_eq!(minimal, config(None, 80));
    assert_eq!(
        serde_json::to_string(&minimal)?,
        r#"{"target":80,"protocol":"tcp","mode":"ingress"}"#
    );
    Ok(())
}

#[test]
fn schema_lists_the_enum_values() -> Result<(), serde_json::Error> {
    let schema = serde_json::to_string(&schemars::schema_for!(PortConfig))?;
    for word in [
        "\"tcp\"",
        "\"udp\"",
        "\"sctp\"",
        "\"ingress\"",
        "\"host\"",
        "\"target\"",
    ] {
        assert!(schema.contains(word), "{word} missing from {schema}");
    }
    Ok(())
}

proptest! {
    #[test]
    fn parse_short_never_panics(spec in "\\PC*") {
        let _ = parse_short(&spec);
    }

    #[test]
    fn parse_short_never_panics_on_near_misses(spec in "[0-9:\\-/\\[\\].a-z]{0,16}") {
        let _ = parse_short(&spec);
    }

    #[test]
    fn display_round_trips_for_ingress(
        target in 1..=65_535u16,
        published in proptest::option::of(1..=65_535u16),
        protocol in prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp), Just(Protocol::Sctp)],
        host_ip in proptest::option::of(any::<IpAddr>()),
    ) {
        let config = PortConfig { target, published, protocol, mode: PortMode::Ingress, host_ip };
        prop_assert_eq!(parse_short(&config.to_string()), Ok(vec![config]));
    }

    #[test]
    fn ranges_of_equal_length_expand_fully(start in 1..=65_000u16, len in 1..=100u16, offset in 0..=400u16) {
        let spec = format!("{}-{}:{}-{}", start + offset, start + offset + len - 1, start, start + len - 1);
        let configs = parse_short(&spec);
        prop_assert!(configs.as_ref().is_ok_and(|c| c.len() == usize::from(len)), "{:?}", configs);
    }
}
