//! Published ports: the short syntax of `ports:` entries (`"127.0.0.1:8080:80/udp"`) and the
//! normalised [`PortConfig`] that both the short and the long syntax end up as.
//!
//! The short syntax is read the way `docker stack deploy` reads it (Docker's `nat` port-spec
//! parser): `[[host_ip:]published:]target[/protocol]`, where `published` and `target` may be
//! ranges (`8000-8010`) and an IPv6 host address may be bracketed (`[::1]:8080:80`). Ranges
//! expand to one [`PortConfig`] per port. Swarm ignores the host IP (with a warning); it is
//! kept here so lint rules can point that out.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The lowest and highest valid port numbers, for messages.
const PORT_RANGE_TEXT: &str = "ports must be between 1 and 65535";

/// Why a port spec or port number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The spec has no container (target) port, e.g. `""`, `"8080:"` or `"/udp"`.
    #[error(
        "invalid port spec {spec:?}: no container port; \
         expected e.g. \"80\", \"8080:80\" or \"127.0.0.1:8080:80/udp\""
    )]
    MissingTarget {
        /// The spec as written.
        spec: String,
    },
    /// A port or a range bound is not a decimal number, e.g. `"http"`, `"80a"` or `"-80"`.
    #[error(
        "invalid port spec {spec:?}: {text:?} is not a port number; \
         expected a number from 1 to 65535 or a range such as \"8000-8010\""
    )]
    NotANumber {
        /// The spec as written.
        spec: String,
        /// The part that should have been a number.
        text: String,
    },
    /// A port in a short-syntax spec is 0 or above 65535.
    #[error("invalid port {port} in {spec:?}: {PORT_RANGE_TEXT}")]
    SpecPortOutOfRange {
        /// The spec as written.
        spec: String,
        /// The offending number as written.
        port: String,
    },
    /// A port number from the long syntax is 0, negative or above 65535.
    #[error("invalid port {port}: {PORT_RANGE_TEXT}")]
    PortOutOfRange {
        /// The offending number.
        port: i64,
    },
    /// A range ends below its start, e.g. `"8010-8000"`.
    #[error(
        "invalid port range {range:?} in {spec:?}: the end is lower than the start; \
         write start-end, e.g. \"8000-8010\""
    )]
    ReversedRange {
        /// The spec as written.
        spec: String,
        /// The offending range.
        range: String,
    },
    /// The published and target parts cover different numbers of ports, e.g.
    /// `"8000-8001:80-82"` or `"8000-8010:80"`.
    #[error(
        "invalid port spec {spec:?}: port ranges don't match: published {published:?} has \
         {published_len} port(s) but target {target:?} has {target_len}; \
         use ranges of the same length, e.g. \"8000-8010:8000-8010\""
    )]
    RangeMismatch {
        /// The spec as written.
        spec: String,
        /// The published part.
        published: String,
        /// How many ports the published part covers.
        published_len: u32,
        /// The target part.
        target: String,
        /// How many ports the target part covers.
        target_len: u32,
    },
    /// The protocol after `/` is not tcp, udp or sctp.
    #[error(
        "invalid protocol {protocol:?} in {spec:?}{}; valid protocols are tcp, udp and sctp, \
         e.g. \"53:53/udp\"",
        did_you_mean(*.suggestion)
    )]
    UnknownProtocol {
        /// The spec as written.
        spec: String,
        /// The protocol as written.
        protocol: String,
        /// A valid protocol close to what was written.
        suggestion: Option<&'static str>,
    },
    /// The host IP before the published port is not an IPv4 or IPv6 address.
    #[error(
        "invalid host IP {ip:?} in {spec:?}: expected an IPv4 or IPv6 address, \
         e.g. \"127.0.0.1:8080:80\" or \"[::1]:8080:80\""
    )]
    InvalidHostIp {
        /// The spec as written.
        spec: String,
        /// The address as written.
        ip: String,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

/// The transport protocol of a published port.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP, the default.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// How a swarm publishes a port.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    /// Through the routing mesh: the port is open on every node. The default.
    #[default]
    Ingress,
    /// Only on the nodes that run a task of the service.
    Host,
}

/// One published port, as the swarm API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PortConfig {
    /// The port inside the container.
    #[schemars(range(min = 1))]
    pub target: u16,
    /// The port on the nodes; `None` lets the swarm pick one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub published: Option<u16>,
    /// The transport protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// How the port is published.
    #[serde(default)]
    pub mode: PortMode,
    /// The host address to bind to; swarm ignores it and listens on all addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
}

/// An inclusive run of ports, the result of `80` or `8000-8010`.
#[derive(Debug, Clone, Copy)]
struct PortRange {
    start: u16,
    end: u16,
}

impl PortRange {
    fn len(self) -> u32 {
        u32::from(self.end - self.start) + 1
    }
}

/// Parses one short-syntax port entry, e.g. `"8080:80"`, into one config per port.
///
/// Accepts `target`, `published:target` and `host_ip:published:target`, where `published` may
/// be empty (`"127.0.0.1::80"`), `published` and `target` may be ranges, `target` may end in
/// `/tcp`, `/udp` or `/sctp` (any case) and `host_ip` may be a bracketed IPv6 address. When
/// `published` is given it must cover as many ports as `target`.
pub fn parse_short(spec: &str) -> Result<Vec<PortConfig>, Error> {
    let mut parts = spec.rsplitn(3, ':');
    let target_part = parts.next().unwrap_or_default();
    let published = parts.next().filter(|p| !p.is_empty());
    let host_ip = parse_host_ip(spec, parts.next().unwrap_or_default())?;
    let (target_text, protocol) = target_part.split_once('/').unwrap_or((target_part, ""));
    if target_text.is_empty() {
        return Err(Error::MissingTarget {
            spec: spec.to_owned(),
        });
    }
    let target = parse_range(spec, target_text)?;
    let published = published
        .map(|text| parse_range(spec, text).map(|range| (text, range)))
        .transpose()?;
    let protocol = parse_protocol(spec, protocol)?;
    if let Some((text, range)) = published
        && range.len() != target.len()
    {
        return Err(Error::RangeMismatch {
            spec: spec.to_owned(),
            published: text.to_owned(),
            published_len: range.len(),
            target: target_text.to_owned(),
            target_len: target.len(),
        });
    }
    let configs = (target.start..=target.end).map(|port| PortConfig {
        target: port,
        // Equal lengths were checked above, so the offset stays inside the published range.
        published: published.map(|(_, range)| range.start + (port - target.start)),
        protocol,
        mode: PortMode::Ingress,
        host_ip,
    });
    Ok(configs.collect())
}

/// Checks a port number from the long syntax (`target: 80`, `published: 8080`).
pub fn validate_port(n: i64) -> Result<u16, Error> {
    u16::try_from(n)
        .ok()
        .filter(|port| *port != 0)
        .ok_or(Error::PortOutOfRange { port: n })
}

fn parse_host_ip(spec: &str, text: &str) -> Result<Option<IpAddr>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().map(Some).map_err(|_| Error::InvalidHostIp {
        spec: spec.to_owned(),
        ip: text.to_owned(),
    })
}

fn parse_range(spec: &str, text: &str) -> Result<PortRange, Error> {
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let range = PortRange {
        start: parse_port(spec, start)?,
        end: parse_port(spec, end)?,
    };
    if range.end < range.start {
        return Err(Error::ReversedRange {
            spec: spec.to_owned(),
            range: text.to_owned(),
        });
    }
    Ok(range)
}

fn parse_port(spec: &str, text: &str) -> Result<u16, Error> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::NotANumber {
            spec: spec.to_owned(),
            text: text.to_owned(),
        });
    }
    // All digits, so a failed parse can only mean the number is too large.
    text.parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| Error::SpecPortOutOfRange {
            spec: spec.to_owned(),
            port: text.to_owned(),
        })
}

fn parse_protocol(spec: &str, text: &str) -> Result<Protocol, Error> {
    // Docker lower-cases the protocol and treats a missing one (`80/`) as tcp.
    match text.to_ascii_lowercase().as_str() {
        "" | "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        other => Err(Error::UnknownProtocol {
            spec: spec.to_owned(),
            protocol: text.to_owned(),
            suggestion: suggest_protocol(other),
        }),
    }
}

/// The protocol one edit (or one swap of neighbours, as in `tpc`) away from `text`, if any.
fn suggest_protocol(text: &str) -> Option<&'static str> {
    ["tcp", "udp", "sctp"]
        .into_iter()
        .find(|name| strsim::damerau_levenshtein(text, name) <= 1)
}

impl Protocol {
    /// The lower-case name Docker uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl PortMode {
    /// The lower-case name Docker uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PortMode::Ingress => "ingress",
            PortMode::Host => "host",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PortMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Short syntax, e.g. `8080:80/tcp`, `127.0.0.1::80/udp` or `[::1]:53:53/udp`; host mode is
/// marked with a trailing ` (host)`, which the short syntax cannot express.
impl fmt::Display for PortConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(IpAddr::V4(ip)) => write!(f, "{ip}:")?,
            None => {}
        }
        match self.published {
            Some(published) => write!(f, "{published}:")?,
            None if self.host_ip.is_some() => f.write_str(":")?,
            None => {}
        }
        write!(f, "{}/{}", self.target, self.protocol)?;
        if self.mode == PortMode::Host {
            f.write_str(" (host)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
}
