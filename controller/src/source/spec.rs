//! The source a cluster follows, as cluster state: what `--repo`/`--watch` name, kept in Raft so
//! that whichever manager leads follows it without flags.
//!
//! Credentials are stored by name only (an environment variable, a file path): every manager
//! reads their values from its own environment when it opens the source, so the replicated state,
//! its snapshots and `source show` never hold a token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::source::credentials::{Credentials, Secret};
use crate::source::git::GitConfig;
use crate::source::revisions::Followed;

/// Where desired state comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSpec {
    /// A Git branch.
    Git(GitSpec),
    /// A local directory, followed in watch mode (meaningful on the machine that has it).
    Directory {
        /// The directory.
        path: PathBuf,
        /// How often it is read again besides its change events (ms).
        interval_ms: u64,
    },
}

/// A followed Git branch, with the names of its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSpec {
    /// The repository: a URL or a path.
    pub url: String,
    /// The branch.
    pub branch: String,
    /// Sub-directory holding the stacks (empty for the root).
    #[serde(default)]
    pub path: PathBuf,
    /// How often to poll (ms, jittered ±10 %).
    pub interval_ms: u64,
    /// Environment variable holding an HTTPS token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// File holding an HTTPS token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// User name sent with the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SSH private key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file for SSH host keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// Send the token over plain http:// anyway.
    #[serde(default)]
    pub allow_insecure_auth: bool,
}

/// Why a stored source cannot be opened on this manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token file named by the source cannot be read here.
    #[error("cannot read the token file {path} named by the cluster's source: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl SourceSpec {
    /// How often to poll.
    pub fn interval(&self) -> Duration {
        let ms = match self {
            SourceSpec::Git(git) => git.interval_ms,
            SourceSpec::Directory { interval_ms, .. } => *interval_ms,
        };
        Duration::from_millis(ms.max(1))
    }

    /// One line for `status`, `source show` and logs (credential names, never values).
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Git(git) => format!(
                "git {} branch {} path /{}",
                git.url,
                git.branch,
                git.path.display()
            ),
            SourceSpec::Directory { path, .. } => format!("directory {}", path.display()),
        }
    }

    /// The name of a stack whose compose file sits at the source's root.
    pub fn root_name(&self) -> String {
        let base = match self {
            SourceSpec::Directory { path, .. } => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())
            }
            SourceSpec::Git(git) if !git.path.as_os_str().is_empty() => git.path.clone(),
            SourceSpec::Git(git) => {
                PathBuf::from(git.url.trim_end_matches('/').trim_end_matches(".git"))
            }
        };
        base.file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "stack".into())
    }

    /// The source to open on this manager: Git clones live under `cache_root`, and the
    /// credentials are read from this manager's environment and files.
    pub fn followed(&self, cache_root: &Path) -> Result<Followed, Error> {
        let git = match self {
            SourceSpec::Directory { path, .. } => return Ok(Followed::Directory(path.clone())),
            SourceSpec::Git(git) => git,
        };
        let config = GitConfig {
            url: git.url.clone(),
            branch: git.branch.clone(),
            path: git.path.clone(),
            cache_dir: cache_root.join("git").join(short_hash(&git.url)),
            credentials: git.credentials()?,
        };
        Ok(Followed::Git {
            config: Box::new(config),
            description: self.describe(),
        })
    }
}

impl GitSpec {
    fn credentials(&self) -> Result<Credentials, Error> {
        let token = match &self.token_file {
            Some(path) => {
                Some(
                    Credentials::token_from_file(path).map_err(|source| Error::TokenFile {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => self
                .token_env
                .as_deref()
                .and_then(Credentials::token_from_env),
        };
        Ok(Credentials {
            token,
            username: self.username.clone(),
            ssh_key: self.ssh_key.clone(),
            ssh_key_passphrase: std::env::var("RECONCILER_SSH_KEY_PASSPHRASE")
                .ok()
                .map(Secret::from),
            known_hosts: self.known_hosts.clone(),
            allow_insecure_auth: self.allow_insecure_auth,
        })
    }
}

fn short_hash(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
#[path = "spec_test.rs"]
mod tests;
