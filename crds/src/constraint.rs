//! Placement constraints (`node.role==manager`) and spread preferences (`node.labels.zone`),
//! parsed and matched with SwarmKit's semantics.
//!
//! Parsing is stricter than SwarmKit in one way: SwarmKit accepts any key that looks like an
//! identifier and then never schedules the task when the key is unknown; here an unknown key,
//! a `node.role` other than manager/worker and a malformed `node.ip` are errors, so a typo is
//! caught before deploying. Everything SwarmKit rejects is rejected here too: operators other
//! than `==` and `!=`, label names outside `[A-Za-z0-9_.-]`, and values with characters outside
//! SwarmKit's value alphabet.
//!
//! Matching follows SwarmKit's `NodeMatches`:
//! - key names and label prefixes are case-insensitive (`Node.Role` works); label *names* are
//!   case-sensitive (they are map keys);
//! - values are compared case-insensitively for every key, label values included
//!   (SwarmKit uses `strings.EqualFold`);
//! - a missing label, hostname, OS or architecture is the empty string, which never equals a
//!   constraint value (values cannot be empty), so `==` fails and `!=` matches;
//! - `node.ip` compares addresses exactly (an IPv4-mapped IPv6 address equals its IPv4 form, as
//!   in Go) or checks membership of a CIDR network; a node without an address never matches
//!   `==` and always matches `!=`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NODE_LABELS: &str = "node.labels";
const ENGINE_LABELS: &str = "engine.labels";
const VALID_KEYS: &str = "node.id, node.hostname, node.role, node.ip, node.platform.os, \
                          node.platform.arch, node.labels.<name> and engine.labels.<name>";
/// The characters that separate a key from its value: SwarmKit reserves `<`, `>` and `~` for
/// future operators, so they are read as part of a (rejected) operator too.
const OPERATOR_CHARS: [char; 5] = ['=', '!', '<', '>', '~'];

/// Why a constraint or placement preference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The constraint has no operator at all, e.g. `"node.role"` or `"node.role manager"`.
    #[error(
        "invalid constraint {input:?}: no operator; write key==value or key!=value, \
         e.g. \"node.role==manager\""
    )]
    MissingOperator {
        /// The constraint as written.
        input: String,
    },
    /// The operator is not `==` or `!=`, e.g. `=`, `>=` or `<`.
    #[error(
        "invalid constraint {input:?}: operator {operator:?} is not supported; only == and != \
         are, e.g. \"node.role==manager\" or \"node.labels.zone!=eu\""
    )]
    UnsupportedOperator {
        /// The constraint as written.
        input: String,
        /// The operator as written.
        operator: String,
    },
    /// Nothing comes before the operator, e.g. `"==manager"`.
    #[error(
        "invalid constraint {input:?}: no key before the operator; \
         e.g. \"node.role==manager\""
    )]
    EmptyKey {
        /// The constraint as written.
        input: String,
    },
    /// The key is not one SwarmKit knows, e.g. `node.rol` or `node.label.zone`.
    #[error(
        "invalid constraint {input:?}: unknown key {key:?}{}; valid keys are {VALID_KEYS}",
        did_you_mean(.suggestion.as_deref())
    )]
    UnknownKey {
        /// The constraint as written.
        input: String,
        /// The key as written.
        key: String,
        /// A valid key close to what was written.
        suggestion: Option<String>,
    },
    /// A label key has no label name, e.g. `node.labels` or `node.labels.`.
    #[error(
        "invalid constraint {input:?}: no label name after {prefix:?}; \
         e.g. \"node.labels.zone==eu\""
    )]
    EmptyLabelName {
        /// The constraint as written.
        input: String,
        /// `node.labels` or `engine.labels`.
        prefix: &'static str,
    },
    /// A label name has a character SwarmKit does not allow in keys, e.g. a space or `/`.
    #[error(
        "invalid constraint {input:?}: label name {name:?} may only contain letters, digits, \
         '-', '_' and '.'; e.g. \"node.labels.zone==eu\""
    )]
    InvalidLabelName {
        /// The constraint as written.
        input: String,
        /// The label name as written.
        name: String,
    },
    /// Nothing comes after the operator, e.g. `"node.role=="`.
    #[error(
        "invalid constraint {input:?}: no value after the operator; \
         e.g. \"node.role==manager\""
    )]
    EmptyValue {
        /// The constraint as written.
        input: String,
    },
    /// The value has a character SwarmKit rejects, e.g. `=`, `,`, `@` or a quote.
    #[error(
        "invalid constraint {input:?}: value {value:?} has characters SwarmKit rejects; values \
         may contain letters, digits, spaces and : - _ . * ( ) ? + [ ] \\ ^ $ | /"
    )]
    InvalidValue {
        /// The constraint as written.
        input: String,
        /// The value as written.
        value: String,
    },
    /// A `node.role` constraint names a role other than manager or worker.
    #[error(
        "invalid constraint {input:?}: node.role must be manager or worker, not {value:?}{}",
        did_you_mean(.suggestion.as_deref())
    )]
    InvalidRole {
        /// The constraint as written.
        input: String,
        /// The value as written.
        value: String,
        /// The role close to what was written.
        suggestion: Option<String>,
    },
    /// A `node.ip` constraint value is neither an IP address nor a CIDR network.
    #[error(
        "invalid constraint {input:?}: node.ip must be an IP address or a CIDR network, \
         e.g. \"10.0.0.5\", \"10.0.0.0/24\" or \"2001:db8::/32\", not {value:?}"
    )]
    InvalidIp {
        /// The constraint as written.
        input: String,
        /// The value as written.
        value: String,
    },
    /// A spread preference does not name a node or engine label.
    #[error(
        "invalid placement preference {input:?}: spread must name a label as \
         node.labels.<name> or engine.labels.<name>, e.g. \"node.labels.zone\"{}",
        did_you_mean(.suggestion.as_deref())
    )]
    InvalidPreference {
        /// The descriptor as written.
        input: String,
        /// A valid descriptor close to what was written.
        suggestion: Option<String>,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

/// How a constraint compares the node's value with its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `==`: the values are equal (ignoring case).
    Eq,
    /// `!=`: the values differ (ignoring case).
    NotEq,
}

/// The node attribute a constraint looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `node.id`: the node's swarm ID.
    NodeId,
    /// `node.hostname`: the node's hostname.
    NodeHostname,
    /// `node.role`: `manager` or `worker`.
    NodeRole,
    /// `node.ip`: the node's address, compared with an IP or a CIDR network.
    NodeIp,
    /// `node.platform.os`: the node's operating system, e.g. `linux`.
    NodePlatformOs,
    /// `node.platform.arch`: the node's architecture, e.g. `x86_64`.
    NodePlatformArch,
    /// `node.labels.<name>`: a label set with `docker node update --label-add`.
    NodeLabel(String),
    /// `engine.labels.<name>`: a label from the Docker engine's configuration.
    EngineLabel(String),
}

/// One placement constraint, e.g. `node.role==manager`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    /// What is compared.
    pub key: Key,
    /// How it is compared.
    pub operator: Operator,
    /// What it is compared with; trimmed, and lower-cased for `node.role`.
    pub value: String,
}

/// What a node offers to constraint matching.
#[derive(Debug, Clone, Copy)]
pub struct NodeAttributes<'a> {
    /// The node's swarm ID.
    pub id: &'a str,
    /// The node's hostname.
    pub hostname: &'a str,
    /// `"manager"` or `"worker"`.
    pub role: &'a str,
    /// The node's address, when known.
    pub ip: Option<IpAddr>,
    /// The node's operating system, e.g. `linux`.
    pub os: &'a str,
    /// The node's architecture, e.g. `x86_64`.
    pub arch: &'a str,
    /// The node's labels.
    pub labels: &'a BTreeMap<String, String>,
    /// The Docker engine's labels.
    pub engine_labels: &'a BTreeMap<String, String>,
}

/// A spread placement preference: spread tasks evenly over the values of a label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Preference {
    /// The label to spread over, e.g. `node.labels.zone`; the prefix is lower-cased, the label
    /// name is kept as written.
    pub spread: String,
}

/// Parses a placement constraint such as `node.role==manager` or `node.labels.zone != eu`.
///
/// Whitespace around the key, the operator and the value is ignored.
pub fn parse_constraint(input: &str) -> Result<Constraint, Error> {
    let op_start = input
        .find(OPERATOR_CHARS)
        .ok_or_else(|| Error::MissingOperator {
            input: input.to_owned(),
        })?;
    let (key_text, rest) = input.split_at(op_start);
    let op_len = rest
        .find(|c: char| !OPERATOR_CHARS.contains(&c))
        .unwrap_or(rest.len());
    let (op_text, value_text) = rest.split_at(op_len);
    let operator = parse_operator(input, op_text)?;
    let key_text = key_text.trim();
    if key_text.is_empty() {
        return Err(Error::EmptyKey {
            input: input.to_owned(),
        });
    }
    let key = parse_key(input, key_text)?;
    let value = parse_value(input, &key, value_text.trim())?;
    Ok(Constraint {
        key,
        operator,
        value,
    })
}

/// Parses the descriptor of a spread preference: `node.labels.<name>` or
/// `engine.labels.<name>` (prefix in any case, name non-empty).
pub fn parse_preference_descriptor(input: &str) -> Result<Preference, Error> {
    for prefix in [NODE_LABELS, ENGINE_LABELS] {
        if let Some(name) = strip_label_prefix(input, prefix).filter(|name| !name.is_empty()) {
            return Ok(Preference {
                spread: format!("{prefix}.{name}"),
            });
        }
    }
    Err(Error::InvalidPreference {
        input: input.to_owned(),
        suggestion: suggest_label_key(input),
    })
}

fn parse_operator(input: &str, text: &str) -> Result<Operator, Error> {
    match text {
        "==" => Ok(Operator::Eq),
        "!=" => Ok(Operator::NotEq),
        _ => Err(Error::UnsupportedOperator {
            input: input.to_owned(),
            operator: text.to_owned(),
        }),
    }
}

fn parse_key(input: &str, text: &str) -> Result<Key, Error> {
    if let Some(key) = fixed_key(text) {
        return Ok(key);
    }
    for (prefix, make) in [
        (NODE_LABELS, Key::NodeLabel as fn(String) -> Key),
        (ENGINE_LABELS, Key::EngineLabel),
    ] {
        if text.eq_ignore_ascii_case(prefix) {
            return Err(Error::EmptyLabelName {
                input: input.to_owned(),
                prefix,
            });
        }
        if let Some(name) = strip_label_prefix(text, prefix) {
            return label_name(input, prefix, name).map(|name| make(name.to_owned()));
        }
    }
    Err(Error::UnknownKey {
        input: input.to_owned(),
        key: text.to_owned(),
        suggestion: suggest_key(text),
    })
}

fn fixed_key(text: &str) -> Option<Key> {
    let key = match text.to_ascii_lowercase().as_str() {
        "node.id" => Key::NodeId,
        "node.hostname" => Key::NodeHostname,
        "node.role" => Key::NodeRole,
        "node.ip" => Key::NodeIp,
        "node.platform.os" => Key::NodePlatformOs,
        "node.platform.arch" => Key::NodePlatformArch,
        _ => return None,
    };
    Some(key)
}

/// The part of `text` after `prefix.`, matching the prefix case-insensitively as SwarmKit does.
fn strip_label_prefix<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    let rest = text.get(prefix.len()..)?;
    let name = rest.strip_prefix('.')?;
    head.eq_ignore_ascii_case(prefix).then_some(name)
}

fn label_name<'a>(input: &str, prefix: &'static str, name: &'a str) -> Result<&'a str, Error> {
    if name.is_empty() {
        return Err(Error::EmptyLabelName {
            input: input.to_owned(),
            prefix,
        });
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !name.chars().all(valid) {
        return Err(Error::InvalidLabelName {
            input: input.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(name)
}

fn parse_value(input: &str, key: &Key, value: &str) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::EmptyValue {
            input: input.to_owned(),
        });
    }
    if !value.chars().all(is_value_char) {
        return Err(Error::InvalidValue {
            input: input.to_owned(),
            value: value.to_owned(),
        });
    }
    match key {
        Key::NodeRole => parse_role(input, value),
        Key::NodeIp if parse_ip_or_network(value).is_none() => Err(Error::InvalidIp {
            input: input.to_owned(),
            value: value.to_owned(),
        }),
        _ => Ok(value.to_owned()),
    }
}

/// SwarmKit's value alphabet; it keeps out `<`, `>`, `~`, `=` and `!` so that future operators
/// can never be confused with values.
fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
        || ":-_.*()?+[]\\^$|/".contains(c)
}

fn parse_role(input: &str, value: &str) -> Result<String, Error> {
    let lower = value.to_ascii_lowercase();
    if lower == "manager" || lower == "worker" {
        return Ok(lower);
    }
    let suggestion = ["manager", "worker"]
        .into_iter()
        .find(|role| strsim::damerau_levenshtein(&lower, role) <= 2)
        .map(str::to_owned);
    Err(Error::InvalidRole {
        input: input.to_owned(),
        value: value.to_owned(),
        suggestion,
    })
}

/// A constraint's `node.ip` value: one address, or a network as address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpMatch {
    Address(IpAddr),
    Network(IpAddr, u8),
}

fn parse_ip_or_network(value: &str) -> Option<IpMatch> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(IpMatch::Address(ip.to_canonical()));
    }
    let (addr, prefix) = value.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    // Go's ParseCIDR takes decimal digits only, no sign.
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then(|| canonical_network(addr, prefix))
}

/// Go treats an IPv4-mapped IPv6 network of /96 or longer as the IPv4 network it maps.
fn canonical_network(addr: IpAddr, prefix: u8) -> IpMatch {
    match addr {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => IpMatch::Network(IpAddr::V4(v4), prefix - 96),
            None => IpMatch::Network(addr, prefix),
        },
        _ => IpMatch::Network(addr, prefix),
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Suggests a valid key for a near miss: a fixed key a typo or two away, a known alias, or a
/// label key with a misspelt prefix (`node.label.zone` → `node.labels.zone`).
fn suggest_key(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "node.os" | "node.platform" => Some("node.platform.os"),
        "node.arch" | "node.architecture" | "node.platform.architecture" => {
            Some("node.platform.arch")
        }
        "node.name" | "node.host" => Some("node.hostname"),
        "node.address" | "node.addr" => Some("node.ip"),
        _ => None,
    };
    let fixed = || {
        [
            "node.id",
            "node.hostname",
            "node.role",
            "node.ip",
            "node.platform.os",
            "node.platform.arch",
        ]
        .into_iter()
        .map(|key| (strsim::damerau_levenshtein(&lower, key), key))
        .filter(|(distance, key)| *distance <= 2 && *distance < key.len() / 3)
        .min()
        .map(|(_, key)| key)
    };
    alias
        .or_else(fixed)
        .map(str::to_owned)
        .or_else(|| suggest_label_key(text))
}

/// `node.label.zone` → `node.labels.zone`: the first two segments are compared with the label
/// prefixes and the rest is kept as the label name.
fn suggest_label_key(text: &str) -> Option<String> {
    let mut segments = text.splitn(3, '.');
    let head = format!(
        "{}.{}",
        segments.next()?.to_ascii_lowercase(),
        segments.next()?.to_ascii_lowercase()
    );
    let name = segments.next().filter(|name| !name.is_empty())?;
    [NODE_LABELS, ENGINE_LABELS]
        .into_iter()
        .find(|prefix| strsim::damerau_levenshtein(&head, prefix) <= 2)
        .map(|prefix| format!("{prefix}.{name}"))
}

/// SwarmKit's `strings.EqualFold`, close enough: compares the lower-case forms char by char.
fn equal_fold(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

impl Constraint {
    /// Whether `node` satisfies this constraint, as SwarmKit's scheduler decides it.
    pub fn matches(&self, node: &NodeAttributes<'_>) -> bool {
        let equal = match &self.key {
            Key::NodeIp => match parse_ip_or_network(&self.value) {
                Some(wanted) => ip_equals(wanted, node.ip),
                // SwarmKit refuses every node for a malformed address rather than guessing.
                None => return false,
            },
            Key::NodeId => equal_fold(&self.value, node.id),
            Key::NodeHostname => equal_fold(&self.value, node.hostname),
            Key::NodeRole => equal_fold(&self.value, node.role),
            Key::NodePlatformOs => equal_fold(&self.value, node.os),
            Key::NodePlatformArch => equal_fold(&self.value, node.arch),
            Key::NodeLabel(name) => label_equals(&self.value, node.labels, name),
            Key::EngineLabel(name) => label_equals(&self.value, node.engine_labels, name),
        };
        match self.operator {
            Operator::Eq => equal,
            Operator::NotEq => !equal,
        }
    }
}

fn ip_equals(wanted: IpMatch, node_ip: Option<IpAddr>) -> bool {
    let Some(ip) = node_ip.map(|ip| ip.to_canonical()) else {
        return false;
    };
    match wanted {
        IpMatch::Address(address) => ip == address,
        IpMatch::Network(network, prefix) => in_network(ip, network, prefix),
    }
}

fn label_equals(value: &str, labels: &BTreeMap<String, String>, name: &str) -> bool {
    labels
        .get(name)
        .is_some_and(|actual| equal_fold(value, actual))
}

impl Operator {
    /// `==` or `!=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::NotEq => "!=",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The canonical, lower-case key, e.g. `node.platform.os` or `node.labels.Zone`.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::NodeId => f.write_str("node.id"),
            Key::NodeHostname => f.write_str("node.hostname"),
            Key::NodeRole => f.write_str("node.role"),
            Key::NodeIp => f.write_str("node.ip"),
            Key::NodePlatformOs => f.write_str("node.platform.os"),
            Key::NodePlatformArch => f.write_str("node.platform.arch"),
            Key::NodeLabel(name) => write!(f, "{NODE_LABELS}.{name}"),
            Key::EngineLabel(name) => write!(f, "{ENGINE_LABELS}.{name}"),
        }
    }
}

/// Canonical form without spaces, e.g. `node.role==manager`.
impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.key, self.operator, self.value)
    }
}

/// The descriptor, e.g. `node.labels.zone`.
impl fmt::Display for Preference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spread)
    }
}

impl FromStr for Constraint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_constraint(s)
    }
}

/// Serialized as its canonical string, as Compose files and the swarm API write constraints.
impl Serialize for Constraint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Constraint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_constraint(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Constraint {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Constraint".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Constraint").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\s*[A-Za-z_][A-Za-z0-9_.-]+\s*(==|!=)\s*[A-Za-z0-9:_.*()?+\[\]\\^$|/\s-]+$",
            "description": "A placement constraint: key==value or key!=value, where key is \
                            node.id, node.hostname, node.role, node.ip, node.platform.os, \
                            node.platform.arch, node.labels.<name> or engine.labels.<name>.",
            "examples": ["node.role==manager", "node.labels.zone!=eu"],
        })
    }
}

#[cfg(test)]
#[path = "constraint_test.rs"]
mod tests;
