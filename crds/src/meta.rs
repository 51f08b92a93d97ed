//! Metadata every cluster resource carries: identity, labels and a change version.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Labels: sorted so that hashes and output are stable.
pub type Labels = BTreeMap<String, String>;

/// Identity and bookkeeping of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ObjectMeta {
    /// Unique id within its kind (for stacks and services, the name).
    pub id: String,
    /// Increases on every change to the object; readers watch for it.
    #[serde(default)]
    pub version: u64,
    /// Time of creation, milliseconds since the Unix epoch (stamped by the leader).
    #[serde(default)]
    pub created_at_ms: u64,
    /// Time of the last change, milliseconds since the Unix epoch (stamped by the leader).
    #[serde(default)]
    pub updated_at_ms: u64,
    /// Operator labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}
