//! The Stack resource: one stack file's networks, volumes, configs, secrets and services.
//!
//! [`normalize`] builds it from a validated compose file (see `crate::normalize`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::normalize::{Inputs, from_text, normalize};
use crate::service::ServiceSpec;

/// A stack: one compose file's resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stack {
    /// Stack name.
    pub name: String,
    /// Services by full name.
    pub services: BTreeMap<String, ServiceSpec>,
    /// Networks by full name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkSpec>,
    /// Named volumes by full name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeSpec>,
    /// Configs by full name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, ObjectSpec>,
    /// Secrets by full name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, ObjectSpec>,
}

/// A network of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkSpec {
    /// Full name.
    pub name: String,
    /// Driver; reconciler creates per-node bridges for stack networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Must exist already; never created or removed.
    #[serde(default)]
    pub external: bool,
    /// Standalone containers may attach.
    #[serde(default)]
    pub attachable: bool,
    /// No outside connectivity.
    #[serde(default)]
    pub internal: bool,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Driver options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
}

/// A named volume of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeSpec {
    /// Full name.
    pub name: String,
    /// Driver (default `local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Must exist already.
    #[serde(default)]
    pub external: bool,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Driver options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
}

/// A config or secret of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectSpec {
    /// Full name.
    pub name: String,
    /// Must exist already.
    #[serde(default)]
    pub external: bool,
    /// SHA-256 of the content, when the content is known (file, environment, inline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Where the content comes from (file path relative to the repository, or `env:NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Stack {
    /// A stack with no resources (what a stack is before its first revision and after pruning).
    pub fn empty(name: &str) -> Stack {
        Stack {
            name: name.to_owned(),
            services: BTreeMap::new(),
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            configs: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }
}
