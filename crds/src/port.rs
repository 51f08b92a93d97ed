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
#[path = "port_test.rs"]
mod tests;
