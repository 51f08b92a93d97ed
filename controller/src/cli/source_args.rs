//! Arguments that choose a desired-state source, shared by the manager and `plan`.

use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::source::revisions::{OpenError, Opened};
use crate::source::spec::{Error as SpecError, GitSpec, SourceSpec};

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
    /// The directory or repository could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The source's credentials cannot be read.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

impl SourceArgs {
    /// The source these flags name, as the cluster stores it: local paths made absolute (every
    /// manager reads them, whatever its working directory), credentials by name only.
    pub fn spec(&self, interval: Duration) -> Result<SourceSpec, Error> {
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        if let Some(dir) = &self.watch {
            return Ok(SourceSpec::Directory {
                path: absolute(dir),
                interval_ms,
            });
        }
        let Some(url) = &self.repo else {
            return Err(Error::NoSource);
        };
        // A local repository is named by its absolute path; URLs stay as given.
        let local = Path::new(url);
        let url = if !url.contains("://") && local.exists() {
            absolute(local).to_string_lossy().into_owned()
        } else {
            url.clone()
        };
        Ok(SourceSpec::Git(GitSpec {
            url,
            branch: self.branch.clone(),
            path: self.path.clone().unwrap_or_default(),
            interval_ms,
            token_env: Some(self.git_token_env.clone()),
            token_file: self.git_token_file.as_deref().map(absolute),
            username: self.git_username.clone(),
            ssh_key: self.ssh_key.as_deref().map(absolute),
            known_hosts: self.known_hosts.as_deref().map(absolute),
            allow_insecure_auth: self.allow_insecure_git_auth,
        }))
    }

    /// The name of a stack whose compose file sits at the source's root.
    pub fn root_name(&self) -> String {
        self.spec(Duration::ZERO)
            .map(|spec| spec.root_name())
            .unwrap_or_else(|_| "stack".into())
    }

    /// Name and open the source (blocking: a Git source is cloned the first time).
    pub fn open(&self, cache_root: &Path) -> Result<Opened, Error> {
        let spec = self.spec(Duration::from_secs(60))?;
        Ok(spec.followed(cache_root)?.open()?)
    }
}

/// `path` from the root, without requiring it to exist.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
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
