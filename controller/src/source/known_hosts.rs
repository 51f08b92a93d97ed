//! Checking an SSH host key against an OpenSSH `known_hosts` file.
//!
//! This module is pure: it takes the file's text and the key the server presented, and says
//! whether the key is known. Reading the file and acting on the answer is up to the caller
//! (see `credentials`), so every rule here is covered by unit tests.
//!
//! # Supported syntax
//! Each line is `[marker] hostpatterns keytype base64key [comment]`:
//! - `hostpatterns` is a comma-separated list. A pattern is a host name, or `[host]:port` for a
//!   port other than 22; `*` matches any run of characters and `?` any one character; a
//!   pattern starting with `!` is a negation, and a host matching any negated pattern is not
//!   matched by the line even if another pattern matches it. Matching ignores ASCII case.
//! - A hashed entry `|1|base64salt|base64hmac` stands for one host string (`host` or
//!   `[host]:port`) whose HMAC-SHA1, keyed with the salt, is the given hash (what
//!   `ssh-keygen -H` writes).
//! - The marker `@revoked` lists keys that must be refused for the matching hosts, even when
//!   another line lists the same key as valid.
//! - The marker `@cert-authority` (trusting host certificates signed by a CA) is **not
//!   supported**: libgit2 hands us the plain host key, not a certificate, so there is nothing to
//!   check a CA signature against. Such lines are ignored; list the hosts' plain keys instead.
//!
//! Blank lines, `#` comments and lines that cannot be parsed (unknown marker, missing fields,
//! bad base64) are skipped, as OpenSSH does.
//!
//! There is no trust on first use: a host with no entry is [`HostKeyStatus::Unknown`], and the
//! caller refuses the connection.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The SSH port, which `known_hosts` leaves implicit.
pub const DEFAULT_PORT: u16 = 22;

/// What `known_hosts` says about the key a host presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host lists exactly this key.
    Match,
    /// Lines for this host list keys of this type, but none is this key: the host's key changed,
    /// or someone is intercepting the connection.
    Mismatch,
    /// No line lists a key of this type for this host.
    Unknown,
    /// An `@revoked` line for this host lists this key: it must never be accepted.
    Revoked,
}

/// Look up `host`:`port` presenting `key` (the raw SSH wire-format key blob, as base64-decoded
/// from a `known_hosts` line) of type `key_type` (e.g. `ssh-ed25519`) in `known_hosts_text`.
///
/// A revoked key wins over every other line; then any exact match; then a mismatch.
pub fn check(
    known_hosts_text: &str,
    host: &str,
    port: u16,
    key_type: &str,
    key: &[u8],
) -> HostKeyStatus {
    let name = host_string(host, port);
    let mut status = HostKeyStatus::Unknown;
    for entry in known_hosts_text.lines().filter_map(Entry::parse) {
        if entry.marker == Marker::CertAuthority || !entry.matches_host(&name) {
            continue;
        }
        let same_key = entry.key_type == key_type && entry.key == key;
        match entry.marker {
            Marker::Revoked if same_key => return HostKeyStatus::Revoked,
            Marker::None if same_key => status = HostKeyStatus::Match,
            // Only a key of the same type counts as a conflicting key: a host usually has one
            // key per type, and the server chose which type to present.
            Marker::None if entry.key_type == key_type && status != HostKeyStatus::Match => {
                status = HostKeyStatus::Mismatch;
            }
            _ => {}
        }
    }
    status
}

/// The host string `known_hosts` uses: `host` on port 22, `[host]:port` on any other.
pub fn host_string(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == DEFAULT_PORT {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// The `known_hosts` name of a key type reported by libgit2, or `None` when libgit2 did not
/// recognise the type.
pub fn key_type_name(kind: git2::cert::SshHostKeyType) -> Option<&'static str> {
    use git2::cert::SshHostKeyType as Kind;
    match kind {
        Kind::Rsa => Some("ssh-rsa"),
        Kind::Dss => Some("ssh-dss"),
        Kind::Ecdsa256 => Some("ecdsa-sha2-nistp256"),
        Kind::Ecdsa384 => Some("ecdsa-sha2-nistp384"),
        Kind::Ecdsa521 => Some("ecdsa-sha2-nistp521"),
        Kind::Ed255219 => Some("ssh-ed25519"),
        _ => None,
    }
}

/// The key type written at the start of a wire-format key blob (a length-prefixed string), which
/// is the type name `known_hosts` uses for it. `None` if the blob is malformed.
pub fn blob_key_type(key: &[u8]) -> Option<&str> {
    let len_bytes: [u8; 4] = key.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    let name = key.get(4..4usize.checked_add(len)?)?;
    std::str::from_utf8(name).ok()
}

/// The marker in front of a line, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One parsed `known_hosts` line.
#[derive(Debug)]
struct Entry<'a> {
    marker: Marker,
    hosts: &'a str,
    key_type: &'a str,
    key: Vec<u8>,
}

impl<'a> Entry<'a> {
    /// Parse a line; `None` for blanks, comments and lines OpenSSH would also skip.
    fn parse(line: &'a str) -> Option<Self> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split_whitespace();
        let mut hosts = fields.next()?;
        let marker = match hosts {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            m if m.starts_with('@') => return None,
            _ => Marker::None,
        };
        if marker != Marker::None {
            hosts = fields.next()?;
        }
        let key_type = fields.next()?;
        let key = BASE64.decode(fields.next()?).ok()?;
        Some(Entry {
            marker,
            hosts,
            key_type,
            key,
        })
    }

    /// Whether this line's host patterns cover `name` (already in `host_string` form).
    fn matches_host(&self, name: &str) -> bool {
        match self.hosts.strip_prefix("|1|") {
            Some(hashed) => hashed_matches(hashed, name),
            None => patterns_match(self.hosts, name),
        }
    }
}

/// `salt|hash`, both base64: does HMAC-SHA1(salt, name) equal hash?
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (BASE64.decode(salt), BASE64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// A comma-separated pattern list: some positive pattern matches and no negated one does.
fn patterns_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',').filter(|p| !p.is_empty()) {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if wildcard_match(&pattern.to_ascii_lowercase(), name) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// Glob matching with `*` (any run, possibly empty) and `?` (exactly one character).
///
/// Iterative with a single backtrack point, so it stays linear-ish on hostile patterns.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much text it has swallowed so far.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
#[path = "known_hosts_test.rs"]
mod tests;
