//! Arguments that choose a desired-state source, shared by the manager and `plan`.

use std::path::{Path, PathBuf};

use crate::source::credentials::{Credentials, Secret};
use crate::source::git::GitConfig;
use crate::source::revisions::{Followed, OpenError, Opened};

/// Where desired state comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Git repository holding the stacks: an https:// or ssh:// URL, `git@host:path`, or a local
    /// path (http:// works without a token; with one it needs --allow-insecure-git-auth).
    #[arg(long, value_name = "URL|PATH", conflicts_with = "watch")]
    pub repo: Option<String>,
    /// Branch to follow.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Sub-directory of the repository that holds the stacks.
    #[arg(long, value_name = "DIR", requires = "repo")]
    pub path: Option<PathBuf>,
    /// Follow a local directory instead of a repository (no commits needed; revisions are content hashes).
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// Environment variable holding an HTTPS token for the repository.
    #[arg(long, value_name = "VAR", default_value = "RECONCILER_GIT_TOKEN")]
    pub git_token_env: String,
    /// File holding an HTTPS token for the repository.
    #[arg(long, value_name = "FILE")]
    pub git_token_file: Option<PathBuf>,
    /// User name sent with the token (default `x-access-token`).
    #[arg(long, value_name = "NAME")]
    pub git_username: Option<String>,
    /// SSH private key for the repository (default: ssh-agent).
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file that SSH host keys are verified against (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Send the Git token over an unencrypted http:// remote (refused otherwise: anyone on the
    /// network path could read it).
    #[arg(long)]
    pub allow_insecure_git_auth: bool,
}

/// Errors building a source (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither `--repo` nor `--watch`.
    #[error("say where the stacks are: --repo <URL|PATH> or --watch <DIR>")]
    NoSource,
    /// The token file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The directory or repository could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
}

impl SourceArgs {
    /// Credentials from the flags and environment (tokens are never logged).
    pub fn credentials(&self) -> Result<Credentials, Error> {
        let token = match &self.git_token_file {
            Some(path) => {
                Some(
                    Credentials::token_from_file(path).map_err(|source| Error::TokenFile {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => Credentials::token_from_env(&self.git_token_env),
        };
        Ok(Credentials {
            token,
            username: self.git_username.clone(),
            ssh_key: self.ssh_key.clone(),
            ssh_key_passphrase: std::env::var("RECONCILER_SSH_KEY_PASSPHRASE")
                .ok()
                .map(Secret::from),
            known_hosts: self.known_hosts.clone(),
            allow_insecure_auth: self.allow_insecure_git_auth,
        })
    }

    /// The name of a stack whose compose file sits at the source's root.
    pub fn root_name(&self) -> String {
        let base = match (&self.watch, &self.repo) {
            (Some(dir), _) => std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()),
            (None, Some(_)) if self.path.is_some() => self.path.clone().unwrap_or_default(),
            (None, Some(repo)) => {
                PathBuf::from(repo.trim_end_matches('/').trim_end_matches(".git"))
            }
            (None, None) => PathBuf::from("stack"),
        };
        base.file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "stack".into())
    }

    /// Name the source; Git sources keep their clone under `cache_root`.
    pub fn followed(&self, cache_root: &Path) -> Result<Followed, Error> {
        if let Some(dir) = &self.watch {
            return Ok(Followed::Directory(dir.clone()));
        }
        let Some(url) = &self.repo else {
            return Err(Error::NoSource);
        };
        let config = GitConfig {
            url: url.clone(),
            branch: self.branch.clone(),
            path: self.path.clone().unwrap_or_default(),
            cache_dir: cache_root.join("git").join(short_hash(url)),
            credentials: self.credentials()?,
        };
        let path = self.path.as_deref().unwrap_or(Path::new(""));
        let description = format!("git {url} branch {} path /{}", self.branch, path.display());
        Ok(Followed::Git {
            config: Box::new(config),
            description,
        })
    }

    /// Name and open the source (blocking: a Git source is cloned the first time).
    pub fn open(&self, cache_root: &Path) -> Result<Opened, Error> {
        Ok(self.followed(cache_root)?.open()?)
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

/// The data directory: `--data-dir`, else `$RECONCILER_DATA_DIR`, else the XDG data home.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("reconciler");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/reconciler"),
        None => PathBuf::from(".reconciler"),
    }
}
