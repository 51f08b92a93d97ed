//! Join tokens: what an operator copies to a new machine so it can join the cluster.
//!
//! ```text
//! RCNTKN-1-<CA fingerprint: 64 hex>-<role: m|w>-<secret: 32 hex>-<checksum: 8 hex>
//! ```
//!
//! - The **CA fingerprint** (SHA-256 of the CA certificate) lets the joiner authenticate the
//!   manager before it has any certificate: it refuses a manager whose CA differs (see
//!   [`super::tls::bootstrap_client_config`]). Like Swarm's `SWMTKN-1-<digest>-<secret>`.
//! - The **role letter** says what the token grants; managers and workers have separate
//!   secrets, so a worker token can never be turned into a manager token.
//! - The **secret** is 128 random bits, compared in constant time against the current token
//!   for that role ([`TokenStore::verify`]); rotating a role's token invalidates the old one at
//!   once.
//! - The **checksum** is a CRC-32 of everything before it. It is not a security measure (the
//!   secret is): it lets the joining node reject a mistyped token locally, with a clear
//!   message, before contacting a manager. A CRC-32 catches every single changed character.
//!
//! Everything is lowercase, and parsing is strict: a token differing from the issued text in
//! any character fails to parse or fails verification.
//!
//! `Display` writes the whole token including the secret, because that text *is* the token an
//! operator hands out; `Debug` never shows the secret.

use std::fmt;
use std::str::FromStr;

use crds::node::NodeRole;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

use super::encoding::{crc32, hex_decode, hex_encode};

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "RCNTKN";
/// The format version this code writes and reads.
pub const TOKEN_VERSION: &str = "1";

/// Errors parsing or verifying a join token. None of them shows the token's secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text does not start with `RCNTKN-`.
    #[error(
        "not a reconciler join token: it must start with \"{TOKEN_PREFIX}-\"; copy the whole \
         token printed by `reconciler token show worker` (or `manager`)"
    )]
    WrongPrefix,

    /// The version field is not one this node understands.
    #[error(
        "join token version {found:?} is not supported (this node reads version \
         {TOKEN_VERSION}); use a token from a manager running the same reconciler version"
    )]
    UnsupportedVersion {
        /// The version field as written.
        found: String,
    },

    /// The token does not have six `-`-separated fields.
    #[error(
        "malformed join token: expected 6 fields separated by '-' \
         (RCNTKN-1-<ca fingerprint>-<role>-<secret>-<checksum>), found {found}; copy it again"
    )]
    WrongFieldCount {
        /// How many fields there were.
        found: usize,
    },

    /// A field has the wrong number of characters.
    #[error(
        "malformed join token: the {field} must be {expected} characters, found {found}; \
         part of the token is missing or doubled — copy it again"
    )]
    BadLength {
        /// Which field.
        field: &'static str,
        /// Its required length.
        expected: usize,
        /// Its actual length.
        found: usize,
    },

    /// A field holds a character that is not a lowercase hex digit.
    #[error(
        "malformed join token: character {position} (in the {field}) is not a lowercase hex \
         digit (0-9, a-f); copy the token again"
    )]
    BadCharacter {
        /// Which field.
        field: &'static str,
        /// 1-based position of the character in the token.
        position: usize,
    },

    /// The role field is neither `m` nor `w`.
    #[error(
        "malformed join token: the role field must be 'm' (manager) or 'w' (worker), \
         found {found:?}"
    )]
    UnknownRole {
        /// The role field as written.
        found: String,
    },

    /// The checksum does not match the rest of the token: a typo.
    #[error(
        "the join token has a typo: its checksum does not match the rest of it; copy it again \
         from `reconciler token show worker` (or `manager`)"
    )]
    ChecksumMismatch,

    /// A CA fingerprint given to [`JoinToken::generate`] is not 64 lowercase hex digits.
    #[error("{0:?} is not a CA fingerprint: expected 64 lowercase hex digits (SHA-256)")]
    InvalidFingerprint(String),

    /// The token was made for a cluster with a different CA.
    #[error(
        "the join token belongs to another cluster: it names CA {presented}, this cluster's \
         CA is {expected}; ask this cluster's operator for a token"
    )]
    WrongCluster {
        /// This cluster's CA fingerprint.
        expected: String,
        /// The fingerprint in the token.
        presented: String,
    },

    /// The secret does not match the current token for the role: rotated, or never issued.
    #[error(
        "the {name} join token is not valid: it was rotated or never issued by this cluster; \
         ask an operator for the current one (`reconciler token show {name}`)",
        name = role_name(.role)
    )]
    Rejected {
        /// The role the token claimed.
        role: NodeRole,
    },
}

/// A join token; see the [module docs](self) for the format.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    ca_fingerprint: [u8; 32],
    role: NodeRole,
    secret: [u8; 16],
}

impl JoinToken {
    /// A new token with a fresh random secret for joining as `role` a cluster whose CA has
    /// `ca_fingerprint` (64 lowercase hex digits, as [`super::ClusterCa::fingerprint`] gives).
    pub fn generate(ca_fingerprint: &str, role: NodeRole) -> Result<Self, Error> {
        let fingerprint = hex_decode::<32>(ca_fingerprint)
            .map_err(|_| Error::InvalidFingerprint(ca_fingerprint.to_owned()))?;
        Ok(Self::with_fingerprint(fingerprint, role))
    }

    fn with_fingerprint(ca_fingerprint: [u8; 32], role: NodeRole) -> Self {
        let mut secret = [0u8; 16];
        // ThreadRng is a CSPRNG reseeded from the OS, suitable for secrets.
        rand::rng().fill_bytes(&mut secret);
        Self {
            ca_fingerprint,
            role,
            secret,
        }
    }

    /// The fingerprint of the cluster CA this token trusts, lowercase hex.
    pub fn ca_fingerprint(&self) -> String {
        hex_encode(&self.ca_fingerprint)
    }

    /// The role this token grants.
    pub fn role(&self) -> NodeRole {
        self.role
    }

    /// Everything the checksum covers: `RCNTKN-1-<fp>-<role>-<secret>`.
    fn signed_text(&self) -> String {
        format!(
            "{TOKEN_PREFIX}-{TOKEN_VERSION}-{}-{}-{}",
            hex_encode(&self.ca_fingerprint),
            role_letter(self.role),
            hex_encode(&self.secret)
        )
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signed = self.signed_text();
        write!(f, "{signed}-{:08x}", crc32(signed.as_bytes()))
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("role", &self.role)
            .field("ca_fingerprint", &self.ca_fingerprint())
            .field("secret", &"[elided]")
            .finish()
    }
}

impl FromStr for JoinToken {
    type Err = Error;

    /// Parses a token, ignoring surrounding whitespace (a pasted newline) but nothing else.
    fn from_str(text: &str) -> Result<Self, Error> {
        super::token_parse::parse(text.trim())
    }
}

impl Serialize for JoinToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JoinToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The letter that encodes a role in a token.
pub(crate) fn role_letter(role: NodeRole) -> char {
    match role {
        NodeRole::Manager => 'm',
        NodeRole::Worker => 'w',
    }
}

/// The lowercase name of a role, as the CLI spells it.
fn role_name(role: &NodeRole) -> &'static str {
    match role {
        NodeRole::Manager => "manager",
        NodeRole::Worker => "worker",
    }
}

/// Builds a token from parsed parts; only the parser may, after checking the checksum.
pub(crate) fn from_parts(ca_fingerprint: [u8; 32], role: NodeRole, secret: [u8; 16]) -> JoinToken {
    JoinToken {
        ca_fingerprint,
        role,
        secret,
    }
}

/// The current worker and manager tokens of a cluster (replicated with the cluster state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStore {
    worker: JoinToken,
    manager: JoinToken,
}

impl TokenStore {
    /// Fresh tokens for both roles of the cluster whose CA has `ca_fingerprint`.
    pub fn generate(ca_fingerprint: &str) -> Result<Self, Error> {
        Ok(Self {
            worker: JoinToken::generate(ca_fingerprint, NodeRole::Worker)?,
            manager: JoinToken::generate(ca_fingerprint, NodeRole::Manager)?,
        })
    }

    /// The token currently accepted for `role` (to show an operator).
    pub fn current(&self, role: NodeRole) -> &JoinToken {
        match role {
            NodeRole::Manager => &self.manager,
            NodeRole::Worker => &self.worker,
        }
    }

    /// Replaces the token for `role` with a new secret; the old one stops matching at once.
    pub fn rotate(&mut self, role: NodeRole) -> &JoinToken {
        let slot = match role {
            NodeRole::Manager => &mut self.manager,
            NodeRole::Worker => &mut self.worker,
        };
        *slot = JoinToken::with_fingerprint(slot.ca_fingerprint, role);
        slot
    }

    /// Checks a presented token against the current one for the role it claims, comparing the
    /// secret in constant time. Returns the role it grants.
    pub fn verify(&self, presented: &JoinToken) -> Result<NodeRole, Error> {
        let current = self.current(presented.role);
        if presented.ca_fingerprint != current.ca_fingerprint {
            return Err(Error::WrongCluster {
                expected: current.ca_fingerprint(),
                presented: presented.ca_fingerprint(),
            });
        }
        if bool::from(presented.secret.ct_eq(&current.secret)) {
            Ok(presented.role)
        } else {
            Err(Error::Rejected {
                role: presented.role,
            })
        }
    }

    /// Parses `text` and [verifies](Self::verify) it.
    pub fn verify_str(&self, text: &str) -> Result<NodeRole, Error> {
        self.verify(&text.parse()?)
    }
}

#[cfg(test)]
#[path = "token_test.rs"]
mod tests;
