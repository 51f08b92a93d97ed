//! A Git repository as a source of desired state.
//!
//! [`GitSource`] keeps a bare clone in a cache directory and follows one branch of one remote:
//! [`GitSource::fetch`] brings the branch tip in, [`GitSource::snapshot`] reads the files of a
//! commit under the configured path straight from the object database. No work tree is ever
//! written, so a snapshot cannot see half-updated files and nothing on disk needs cleaning.
//!
//! # Transports
//! - Network remotes (`https://`, `ssh://`, `git@host:path`, `git://`) are fetched shallow
//!   (depth 1): only the tip is needed, and history can be large.
//! - Local repositories (a path, bare or not, or a `file://` URL) are fetched in full, because
//!   libgit2's local transport cannot fetch shallow. This is the push-to-deploy case; a
//!   watcher can follow [`GitSource::local_repo_dir`] to fetch as soon as refs change.
//!
//! The fetch refspec is forced, so a force-push that rewrites history is followed rather than
//! refused. Authentication and SSH host-key checks are in [`super::credentials`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crds::revision::{RevisionInfo, RevisionOrigin};
use git2::{AutotagOption, Commit, FetchOptions, ObjectType, Oid, ProxyOptions, Repository, Tree};

use super::credentials::{self, Authenticator, Credentials};
use super::known_hosts::DEFAULT_PORT;
use super::snapshot::{self, Snapshot, SnapshotError};

/// The name of the remote in the cache repository.
const REMOTE: &str = "origin";
/// Config key marking a repository as our cache, so we only ever delete our own directories.
const CACHE_MARKER: &str = "reconciler.cache";
/// Git file modes of the blobs a snapshot takes: regular and executable files.
const REGULAR_FILE: i32 = 0o100644;
const EXECUTABLE_FILE: i32 = 0o100755;

/// Results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which repository and branch to follow, and where to keep the clone.
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// `https://…`, `ssh://…`, `git@host:path`, `git://…`, `file://…`, or a local path (bare or
    /// not).
    pub url: String,
    /// The branch to follow, e.g. `main`.
    pub branch: String,
    /// Sub-directory holding the stacks (empty for the repository root).
    pub path: PathBuf,
    /// Where the bare clone lives; created if missing.
    pub cache_dir: PathBuf,
    /// How to authenticate and which SSH host keys to trust.
    pub credentials: Credentials,
}

/// The result of a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Full SHA of the branch tip.
    pub commit: String,
    /// Whether it differs from the previous fetch of this `GitSource` (the first fetch always
    /// reports `true`, so a restarted controller re-evaluates the current revision).
    pub changed: bool,
}

/// Why a Git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A token would be sent in clear over an `http://` remote.
    #[error(
        "refusing to send the Git token to {url} over unencrypted http://: anyone on the path \
         could read it. Use an https:// or ssh:// URL, or pass --allow-insecure-git-auth if \
         this network is trusted"
    )]
    InsecureAuth {
        /// The remote, with any password masked.
        url: String,
    },
    /// The configuration cannot work: empty URL, or a branch name Git does not allow.
    #[error("invalid Git source configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Creating, reading or deleting the cache directory failed at the file-system level.
    #[error(
        "cannot use Git cache directory {path}: {source}; check that it is writable and the disk is not full"
    )]
    Cache {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cache directory holds something that is not our cache, so we refuse to delete it.
    #[error(
        "{path} is not empty and is not a reconciler Git cache; refusing to delete it. Point \
         cache_dir at an empty or new directory"
    )]
    CacheNotOurs {
        /// The directory.
        path: PathBuf,
    },
    /// libgit2 failed on the cache repository (opening, configuring, reading refs).
    #[error(
        "Git cache repository {path} failed: {source}; if this persists, delete the directory to re-clone"
    )]
    CacheRepository {
        /// The cache directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: git2::Error,
    },
    /// A local remote (path or `file://`) does not exist, is not a Git repository, or may not
    /// be opened (libgit2 refuses repositories owned by another user unless `safe.directory`
    /// allows them).
    // libgit2's bare message: its `Display` appends class and code, noise to an operator.
    #[error(
        "cannot open the Git repository {url}: {}; check the source URL, and if the \
         repository belongs to another user, add it to git's safe.directory",
        source.message()
    )]
    RepositoryNotFound {
        /// The URL as configured (password masked).
        url: String,
        /// libgit2's reason.
        #[source]
        source: git2::Error,
    },
    /// Authentication or SSH host-key verification refused the connection.
    #[error(transparent)]
    Auth(#[from] credentials::Error),
    /// The fetch failed: network trouble, a server error, or a missing remote repository.
    // No `#[source]`: libgit2's error quotes the remote URL as configured, password included;
    // only the masked copy of its message may reach logs and error chains.
    #[error("fetching {url} failed: {message}")]
    Fetch {
        /// The URL (password masked).
        url: String,
        /// libgit2's message (with the URL's password masked).
        message: String,
        /// Whether this looks like a hiccup worth retrying.
        temporary: bool,
    },
    /// The remote has no such branch (or the repository is empty).
    #[error("branch {branch:?} does not exist in {url}; check the branch name, or push it")]
    BranchNotFound {
        /// The URL (password masked).
        url: String,
        /// The branch.
        branch: String,
    },
    /// The commit asked for is not in the cache (not fetched, or not a commit).
    #[error("commit {commit} is not in the Git cache: {source}; fetch before taking a snapshot")]
    CommitNotFound {
        /// The commit asked for.
        commit: String,
        /// Why.
        #[source]
        source: git2::Error,
    },
    /// The configured path is missing from the commit, or is a file.
    #[error("{path} is not a directory in commit {commit}; check the source's path setting")]
    PathNotFound {
        /// The commit.
        commit: String,
        /// The path.
        path: PathBuf,
    },
    /// Reading a tree or blob of a commit failed (a damaged cache).
    #[error("cannot read {path} in commit {commit}: {source}; delete the Git cache to re-clone")]
    Read {
        /// The commit.
        commit: String,
        /// The file or directory, relative to the repository root.
        path: PathBuf,
        /// Why.
        #[source]
        source: git2::Error,
    },
    /// The snapshot broke a size limit.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

impl Error {
    /// Whether retrying later may succeed without anyone changing anything: network and I/O
    /// hiccups are temporary; bad credentials, unknown host keys and missing branches or paths
    /// are not.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Cache { .. } => true,
            Error::CacheRepository { source, .. } => {
                matches!(
                    source.class(),
                    git2::ErrorClass::Os | git2::ErrorClass::Filesystem
                ) || source.code() == git2::ErrorCode::Locked
            }
            Error::Fetch { temporary, .. } => *temporary,
            Error::Auth(e) => e.is_temporary(),
            Error::InvalidConfig { .. }
            | Error::InsecureAuth { .. }
            | Error::CacheNotOurs { .. }
            | Error::RepositoryNotFound { .. }
            | Error::BranchNotFound { .. }
            | Error::CommitNotFound { .. }
            | Error::PathNotFound { .. }
            | Error::Read { .. }
            | Error::Snapshot(_) => false,
        }
    }
}

/// Where the remote is, which decides shallow or full fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// A repository on this machine.
    Local(PathBuf),
    /// A network remote; `ssh_port` is used for the host-key check.
    Network { ssh_port: u16 },
}

/// A token goes over encrypted transports only, unless the operator said otherwise.
fn check_transport(config: &GitConfig) -> Result<(), Error> {
    let clear = config
        .url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    if clear && config.credentials.token.is_some() && !config.credentials.allow_insecure_auth {
        return Err(Error::InsecureAuth {
            url: mask_url(&config.url),
        });
    }
    if clear && config.credentials.token.is_some() {
        tracing::warn!(url = %mask_url(&config.url), "sending the Git token over unencrypted http:// (--allow-insecure-git-auth)");
    }
    Ok(())
}

/// A followed branch of a Git repository, with its bare clone.
pub struct GitSource {
    config: GitConfig,
    location: Location,
    /// The URL the cache's remote is configured with (local paths made absolute).
    remote_url: String,
    /// The URL for messages and revisions, with any password masked.
    display_url: String,
    repo: Repository,
    last: Option<Oid>,
}

impl std::fmt::Debug for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitSource")
            .field("url", &self.display_url)
            .field("branch", &self.config.branch)
            .field("path", &self.config.path)
            .field("cache_dir", &self.config.cache_dir)
            .finish_non_exhaustive()
    }
}

impl GitSource {
    /// Open (or create) the cache for `config`. A cache made for another URL is wiped and
    /// re-created; a directory that is not our cache is never deleted.
    pub fn open(config: GitConfig) -> Result<Self, Error> {
        validate_branch(&config.branch)?;
        check_transport(&config)?;
        let location = locate(&config.url)?;
        let remote_url = match &location {
            Location::Local(path) => path.to_string_lossy().into_owned(),
            Location::Network { .. } => config.url.clone(),
        };
        let repo = open_cache(&config.cache_dir, &remote_url)?;
        let display_url = mask_url(&config.url);
        Ok(GitSource {
            config,
            location,
            remote_url,
            display_url,
            repo,
            last: None,
        })
    }

    /// Fetch the branch tip from the remote.
    pub fn fetch(&mut self) -> Result<Fetched, Error> {
        if let Location::Local(path) = &self.location
            && let Err(e) = Repository::open(path)
        {
            return Err(Error::RepositoryNotFound {
                url: self.display_url.clone(),
                source: e,
            });
        }
        let oid = self.fetch_branch()?;
        let changed = self.last != Some(oid);
        self.last = Some(oid);
        if changed {
            tracing::info!(url = %self.display_url, branch = %self.config.branch, commit = %oid, "fetched a new commit");
        } else {
            tracing::debug!(url = %self.display_url, branch = %self.config.branch, commit = %oid, "fetched; unchanged");
        }
        Ok(Fetched {
            commit: oid.to_string(),
            changed,
        })
    }

    /// Read the files under the configured path at `commit` (a SHA, full or abbreviated).
    pub fn snapshot(&self, commit: &str) -> Result<Snapshot, Error> {
        let commit = self
            .repo
            .revparse_single(commit)
            .and_then(|object| object.peel_to_commit())
            .map_err(|source| Error::CommitNotFound {
                commit: commit.to_owned(),
                source,
            })?;
        let id = commit.id().to_string();
        let (tree, base) = self.source_tree(&commit)?;
        let files = TreeReader::new(&self.repo, &id, &base).read(tree)?;
        Ok(Snapshot {
            revision: RevisionInfo {
                id,
                origin: self.origin(),
                author: Some(author(&commit)),
                message: first_line(&commit),
                time_ms: u64::try_from(commit.time().seconds())
                    .ok()
                    .map(|s| s.saturating_mul(1000)),
            },
            files,
        })
    }

    /// For a local remote, the directory whose refs change on a push: the repository's git
    /// directory (`<path>/.git`, or `<path>` for a bare repository). `None` for network remotes.
    pub fn local_repo_dir(&self) -> Option<PathBuf> {
        let Location::Local(path) = &self.location else {
            return None;
        };
        match Repository::open(path) {
            // The common dir holds the refs even when `path` is a linked worktree; collecting
            // the components drops libgit2's trailing slash.
            Ok(repo) => Some(repo.commondir().components().collect()),
            Err(_) if path.join(".git").is_dir() => Some(path.join(".git")),
            Err(_) => Some(path.clone()),
        }
    }

    fn tracking_ref(&self) -> String {
        format!("refs/remotes/{REMOTE}/{}", self.config.branch)
    }

    fn fetch_branch(&self) -> Result<Oid, Error> {
        let ssh_port = match self.location {
            Location::Network { ssh_port } => ssh_port,
            Location::Local(_) => DEFAULT_PORT,
        };
        let auth = Authenticator::new(&self.config.credentials, &self.display_url, ssh_port);
        // Honour `http.proxy` and the `https_proxy`/`no_proxy` environment, like git does.
        let mut proxy = ProxyOptions::new();
        proxy.auto();
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(auth.callbacks())
            .proxy_options(proxy)
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        if matches!(self.location, Location::Network { .. }) {
            options.depth(1);
        }
        let mut remote = self
            .repo
            .find_remote(REMOTE)
            .map_err(|e| self.cache_error(e))?;
        let refspec = format!("+refs/heads/{}:{}", self.config.branch, self.tracking_ref());
        remote
            .fetch(&[refspec.as_str()], Some(&mut options), None)
            .map_err(|e| self.fetch_error(e, &auth))?;
        // libgit2 silently fetches nothing for a missing branch, and would leave a stale
        // tracking ref behind: the remote's advertisement is the truth.
        let head = format!("refs/heads/{}", self.config.branch);
        let advertised = remote.list().map_err(|e| self.fetch_error(e, &auth))?;
        let Some(oid) = advertised
            .iter()
            .find(|h| h.name() == head)
            .map(|h| h.oid())
        else {
            return Err(Error::BranchNotFound {
                url: self.display_url.clone(),
                branch: self.config.branch.clone(),
            });
        };
        // The tip must have arrived; this also catches a remote that advertised but did not send.
        self.repo
            .find_commit(oid)
            .map_err(|e| self.cache_error(e))?;
        Ok(oid)
    }

    fn fetch_error(&self, error: git2::Error, auth: &Authenticator<'_>) -> Error {
        if let Some(refusal) = auth.take_failure() {
            return Error::Auth(refusal);
        }
        let mut message = error.message().to_owned();
        for raw in [&self.config.url, &self.remote_url] {
            if !raw.is_empty() && *raw != self.display_url {
                message = message.replace(raw.as_str(), &self.display_url);
            }
        }
        Error::Fetch {
            url: self.display_url.clone(),
            message,
            temporary: fetch_is_temporary(&error),
        }
    }

    fn cache_error(&self, source: git2::Error) -> Error {
        Error::CacheRepository {
            path: self.config.cache_dir.clone(),
            source,
        }
    }

    /// The tree at the configured path, and that path in `/` form.
    fn source_tree<'r>(&'r self, commit: &Commit<'r>) -> Result<(Tree<'r>, PathBuf), Error> {
        let id = commit.id().to_string();
        let base = snapshot::normalize(&self.config.path);
        let read = |source| Error::Read {
            commit: id.clone(),
            path: base.clone(),
            source,
        };
        let root = commit.tree().map_err(read)?;
        if base.as_os_str().is_empty() {
            return Ok((root, base));
        }
        let not_found = || Error::PathNotFound {
            commit: id.clone(),
            path: base.clone(),
        };
        let entry = root.get_path(&base).map_err(|_| not_found())?;
        if entry.kind() != Some(ObjectType::Tree) {
            return Err(not_found());
        }
        let tree = self.repo.find_tree(entry.id()).map_err(read)?;
        Ok((tree, base))
    }

    fn origin(&self) -> RevisionOrigin {
        let path = snapshot::normalize(&self.config.path);
        RevisionOrigin::Git {
            repo: self.display_url.clone(),
            branch: self.config.branch.clone(),
            path: path.to_string_lossy().into_owned(),
        }
    }
}

/// Reads every file of a tree into memory, within the snapshot size limits.
struct TreeReader<'a> {
    repo: &'a Repository,
    commit: &'a str,
    /// The tree's path in the commit, for error messages.
    base: &'a Path,
    /// Largest single file, and largest total (the snapshot limits; smaller in tests).
    max_file: u64,
    max_total: u64,
}

impl<'a> TreeReader<'a> {
    fn new(repo: &'a Repository, commit: &'a str, base: &'a Path) -> Self {
        TreeReader {
            repo,
            commit,
            base,
            max_file: snapshot::MAX_FILE_BYTES,
            max_total: snapshot::MAX_TOTAL_BYTES,
        }
    }

    fn read(&self, tree: Tree<'_>) -> Result<BTreeMap<PathBuf, Vec<u8>>, Error> {
        let odb = self.repo.odb().map_err(|e| self.error(Path::new(""), e))?;
        let mut files = BTreeMap::new();
        let mut total = 0u64;
        let mut pending = vec![(PathBuf::new(), tree)];
        while let Some((dir, tree)) = pending.pop() {
            for entry in tree.iter() {
                let Ok(name) = entry.name() else {
                    tracing::warn!(commit = self.commit, dir = %dir.display(), "skipping a file whose name is not UTF-8");
                    continue;
                };
                let path = dir.join(name);
                match (entry.kind(), entry.filemode()) {
                    (Some(ObjectType::Tree), _) => {
                        let sub = self
                            .repo
                            .find_tree(entry.id())
                            .map_err(|e| self.error(&path, e))?;
                        pending.push((path, sub));
                    }
                    (Some(ObjectType::Blob), REGULAR_FILE | EXECUTABLE_FILE) => {
                        let bytes = self.read_blob(&odb, entry.id(), &path, &mut total)?;
                        files.insert(path, bytes);
                    }
                    // Symlinks could point outside the snapshot, and submodules are other
                    // repositories: neither is part of the desired state.
                    _ => {
                        tracing::debug!(commit = self.commit, path = %path.display(), "skipping symlink or submodule")
                    }
                }
            }
        }
        Ok(files)
    }

    /// Check the size from the object header before loading, so an oversized blob is never
    /// read into memory.
    fn read_blob(
        &self,
        odb: &git2::Odb<'_>,
        id: Oid,
        path: &Path,
        total: &mut u64,
    ) -> Result<Vec<u8>, Error> {
        let (size, _) = odb.read_header(id).map_err(|e| self.error(path, e))?;
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        let too_large = |bytes, limit| SnapshotError::TooLarge {
            path: self.base.join(path),
            bytes,
            limit,
        };
        if size > self.max_file {
            return Err(too_large(size, self.max_file).into());
        }
        *total = total.saturating_add(size);
        if *total > self.max_total {
            return Err(too_large(*total, self.max_total).into());
        }
        let object = odb.read(id).map_err(|e| self.error(path, e))?;
        Ok(object.data().to_vec())
    }

    fn error(&self, path: &Path, source: git2::Error) -> Error {
        Error::Read {
            commit: self.commit.to_owned(),
            path: self.base.join(path),
            source,
        }
    }
}

/// `Name <email>`; names that are not UTF-8 are shown lossily.
fn author(commit: &Commit<'_>) -> String {
    let sig = commit.author();
    format!(
        "{} <{}>",
        String::from_utf8_lossy(sig.name_bytes()),
        String::from_utf8_lossy(sig.email_bytes())
    )
}

fn first_line(commit: &Commit<'_>) -> Option<String> {
    let message = String::from_utf8_lossy(commit.message_bytes());
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

fn validate_branch(branch: &str) -> Result<(), Error> {
    if branch.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        return Err(Error::InvalidConfig {
            reason: format!("{branch:?} is not a valid branch name"),
        });
    }
    Ok(())
}

/// Decide local or network from the URL, as Git does: a scheme, or `host:path` with no `/`
/// before the colon (scp-like SSH), means network; anything else is a path.
fn locate(url: &str) -> Result<Location, Error> {
    if url.is_empty() {
        return Err(Error::InvalidConfig {
            reason: "the repository URL is empty".to_owned(),
        });
    }
    if let Some(rest) = url.strip_prefix("file://") {
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        return Ok(Location::Local(PathBuf::from(percent_decode(path))));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let ssh_port = match scheme {
            "ssh" | "git+ssh" | "ssh+git" => url_port(rest).unwrap_or(DEFAULT_PORT),
            _ => DEFAULT_PORT,
        };
        return Ok(Location::Network { ssh_port });
    }
    if url
        .find(':')
        .is_some_and(|colon| colon > 0 && !url[..colon].contains('/'))
    {
        return Ok(Location::Network {
            ssh_port: DEFAULT_PORT,
        });
    }
    // Absolute, so the cache's remote does not depend on the working directory.
    let path = std::path::absolute(url).map_err(|e| Error::InvalidConfig {
        reason: format!("cannot resolve the path {url}: {e}"),
    })?;
    Ok(Location::Local(path))
}

/// The port in `[user@]host[:port][/path]`, IPv6 hosts in brackets.
fn url_port(rest: &str) -> Option<u16> {
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once("]:")?.1,
        None => host_port.rsplit_once(':')?.1,
    };
    port.parse().ok()
}

/// The URL with credentials masked: the whole user part of `http(s)` URLs (a token may be the
/// user name), the password of others.
fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host_and_path) = (&rest[..at], &rest[at..]);
    let masked = if scheme.starts_with("http") {
        "***".to_owned()
    } else {
        match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => userinfo.to_owned(),
        }
    };
    format!("{scheme}://{masked}{host_and_path}")
}

/// `%XX` escapes in a `file://` URL, as libgit2 decodes them.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a failed fetch is worth retrying as is.
fn fetch_is_temporary(error: &git2::Error) -> bool {
    use git2::{ErrorClass as Class, ErrorCode as Code};
    match error.code() {
        Code::Timeout | Code::Locked | Code::Eof => return true,
        Code::Auth
        | Code::Certificate
        | Code::NotFound
        | Code::InvalidSpec
        | Code::Invalid
        | Code::Owner => return false,
        _ => {}
    }
    if let Some(status) = http_status(error.message()) {
        return status == 408 || status == 429 || status >= 500;
    }
    let message = error.message().to_ascii_lowercase();
    // What servers say for a missing repository over SSH and git://.
    const MISSING: [&str; 5] = [
        "not found",
        "no such repository",
        "not exported",
        "does not appear to be a git repository",
        "does not exist",
    ];
    if MISSING.iter().any(|m| message.contains(m)) {
        return false;
    }
    matches!(
        error.class(),
        Class::Net | Class::Os | Class::Ssh | Class::Http | Class::Ssl | Class::Zlib
    )
}

/// The status in libgit2's "unexpected http status code: 404".
fn http_status(message: &str) -> Option<u16> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("status code: ")? + "status code: ".len()..];
    rest.get(..3)?.parse().ok()
}

/// Open the cache at `dir` for `url`, or create it. Only directories we created (marked in
/// their config) are reused or wiped.
fn open_cache(dir: &Path, url: &str) -> Result<Repository, Error> {
    let io_error = |source| Error::Cache {
        path: dir.to_owned(),
        source,
    };
    if dir.exists() {
        match Repository::open_bare(dir) {
            Ok(repo) if is_our_cache(&repo) => {
                if origin_url(&repo).as_deref() == Some(url) {
                    return Ok(repo);
                }
                tracing::info!(cache = %dir.display(), "the source URL changed; wiping the Git cache");
                drop(repo);
                std::fs::remove_dir_all(dir).map_err(io_error)?;
            }
            _ if std::fs::read_dir(dir).map_err(io_error)?.next().is_none() => {}
            _ => {
                return Err(Error::CacheNotOurs {
                    path: dir.to_owned(),
                });
            }
        }
    }
    create_cache(dir, url)
}

fn is_our_cache(repo: &Repository) -> bool {
    // The repository's own config only: a user-wide setting must not make a directory ours.
    repo.config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        .and_then(|c| c.get_bool(CACHE_MARKER))
        .unwrap_or(false)
}

fn origin_url(repo: &Repository) -> Option<String> {
    let remote = repo.find_remote(REMOTE).ok()?;
    remote.url().ok().map(str::to_owned)
}

/// Build the cache in a sibling directory and rename it into place, so a crash leaves either
/// no cache or a complete one, never a half-made directory we would refuse to touch.
fn create_cache(dir: &Path, url: &str) -> Result<Repository, Error> {
    let io_error = |source| Error::Cache {
        path: dir.to_owned(),
        source,
    };
    let git_error = |source| Error::CacheRepository {
        path: dir.to_owned(),
        source,
    };
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The cache holds what the credentials fetched: its parent is as private as the data dir.
    crate::private_files::create_dir(parent).map_err(io_error)?;
    let mut staging = dir.as_os_str().to_owned();
    staging.push(format!(".tmp-{}", std::process::id()));
    let staging = PathBuf::from(staging);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_error)?;
    }
    {
        let repo = Repository::init_bare(&staging).map_err(git_error)?;
        repo.config()
            .and_then(|mut c| c.set_bool(CACHE_MARKER, true))
            .map_err(git_error)?;
        repo.remote(REMOTE, url).map_err(git_error)?;
    }
    if dir.exists() {
        // Only an empty directory gets here (see `open_cache`).
        std::fs::remove_dir(dir).map_err(io_error)?;
    }
    std::fs::rename(&staging, dir).map_err(io_error)?;
    Repository::open_bare(dir).map_err(git_error)
}

#[cfg(test)]
#[path = "git_test.rs"]
mod tests;
