//! The cluster's identity and secrets, replicated to managers only (Raft runs on managers).
//!
//! Like SwarmKit's root CA object, the CA key lives in the replicated state so that whichever
//! manager answers a join can issue the joiner's certificate, and a new leader can go on issuing
//! after a failover. Workers never see it: they do not take part in Raft.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::pki::node::DEFAULT_NODE_CERT_VALIDITY;
use crate::pki::{CaPem, TokenStore};

/// Identity, CA and join tokens of the cluster; set once by the first manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The cluster id (the CA certificate's subject O).
    pub id: String,
    /// The cluster CA certificate and key (the key never shows in `Debug`).
    pub ca: CaPem,
    /// The join tokens currently accepted.
    pub tokens: TokenStore,
    /// When the cluster was created (ms since the epoch).
    pub created_at_ms: u64,
    /// Ids of removed nodes: their certificates stay valid until they expire, so every door
    /// refuses them by this list (ids are never reused: a node that joins again gets a new one).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub revoked: BTreeSet<String>,
    /// How long node certificates are valid, in seconds (default: 90 days); nodes renew theirs
    /// two thirds of the way in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_cert_validity_s: Option<u64>,
}

impl ClusterInfo {
    /// How long the node certificates this cluster issues are valid.
    pub fn node_cert_validity(&self) -> Duration {
        self.node_cert_validity_s
            .map_or(DEFAULT_NODE_CERT_VALIDITY, Duration::from_secs)
    }
}
