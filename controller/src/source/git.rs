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

use crds::revision::RevisionOrigin;
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
    #[error(
        "cannot open the Git repository {url}: {reason}; check the source URL, and if the \
         repository belongs to another user, add it to git's safe.directory"
    )]
    RepositoryNotFound {
        /// The URL as configured (password masked).
        url: String,
        /// libgit2's reason.
        reason: String,
    },
    /// Authentication or SSH host-key verification refused the connection.
    #[error(transparent)]
    Auth(#[from] credentials::Error),
    /// The fetch failed: network trouble, a server error, or a missing remote repository.
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
                reason: e.message().to_owned(),
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
            id,
            origin: self.origin(),
            author: Some(author(&commit)),
            message: first_line(&commit),
            time_ms: u64::try_from(commit.time().seconds())
                .ok()
                .map(|s| s.saturating_mul(1000)),
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
    std::fs::create_dir_all(parent).map_err(io_error)?;
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
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::process::Command;
    use tempfile::TempDir;

    /// Run `git` in `dir` with a fixed identity and no user or system config.
    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Lovelace")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("test setup");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("test setup")
            .trim()
            .to_owned()
    }

    /// A non-bare repository to commit in.
    struct Work {
        dir: TempDir,
    }

    impl Work {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            git(dir.path(), &["init", "-q", "-b", "main"]);
            Work { dir }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, path: &str, content: &str) -> &Self {
            let full = self.path().join(path);
            std::fs::create_dir_all(full.parent().expect("test setup")).expect("test setup");
            std::fs::write(full, content).expect("write fixture");
            self
        }

        fn commit(&self, message: &str) -> String {
            git(self.path(), &["add", "-A"]);
            git(
                self.path(),
                &["commit", "-q", "--allow-empty", "-m", message],
            );
            git(self.path(), &["rev-parse", "HEAD"])
        }
    }

    struct Fixture {
        cache: TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                cache: tempfile::tempdir().expect("temp dir"),
            }
        }

        fn config(&self, url: &str, path: &str) -> GitConfig {
            GitConfig {
                url: url.to_owned(),
                branch: "main".to_owned(),
                path: PathBuf::from(path),
                cache_dir: self.cache.path().join("repo"),
                credentials: Credentials::default(),
            }
        }

        fn open(&self, url: &str, path: &str) -> GitSource {
            GitSource::open(self.config(url, path)).expect("open source")
        }
    }

    fn stacks_repo() -> Work {
        let work = Work::new();
        work.write("README.md", "hello\n")
            .write("stacks/web/compose.yaml", "services: {}\n")
            .write("stacks/web/.env", "A=1\n");
        work.commit("Add web stack\n\nWith a body.");
        work
    }

    fn bytes(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    #[test]
    fn clones_a_local_repository_by_path() {
        let work = stacks_repo();
        let head = git(work.path(), &["rev-parse", "HEAD"]);
        let fixture = Fixture::new();
        let url = work.path().to_string_lossy().into_owned();
        let mut source = fixture.open(&url, "stacks");

        let fetched = source.fetch().expect("fetch");
        assert_eq!(
            fetched,
            Fetched {
                commit: head.clone(),
                changed: true
            }
        );
        assert_eq!(
            source.fetch().expect("fetch"),
            Fetched {
                commit: head.clone(),
                changed: false
            }
        );

        let snap = source.snapshot(&head).expect("snapshot");
        assert_eq!(snap.id, head);
        assert_eq!(
            snap.author.as_deref(),
            Some("Ada Lovelace <ada@example.com>")
        );
        assert_eq!(snap.message.as_deref(), Some("Add web stack"));
        assert_eq!(snap.time_ms, Some(1_704_164_645_000));
        assert_eq!(
            snap.origin,
            RevisionOrigin::Git {
                repo: url.clone(),
                branch: "main".into(),
                path: "stacks".into()
            }
        );
        let want: BTreeMap<PathBuf, Vec<u8>> = [
            (PathBuf::from("web/.env"), bytes("A=1\n")),
            (PathBuf::from("web/compose.yaml"), bytes("services: {}\n")),
        ]
        .into();
        assert_eq!(snap.files, want);
        assert_eq!(source.local_repo_dir(), Some(work.path().join(".git")));
        // The cache is bare: no work tree was written.
        assert!(fixture.cache.path().join("repo/HEAD").is_file());
        assert!(!fixture.cache.path().join("repo/stacks").exists());
    }

    #[test]
    fn clones_by_file_url_and_reads_the_root() {
        let work = stacks_repo();
        let head = git(work.path(), &["rev-parse", "HEAD"]);
        let fixture = Fixture::new();
        let mut source = fixture.open(&format!("file://{}", work.path().display()), "");
        assert_eq!(source.fetch().expect("fetch").commit, head);
        let snap = source.snapshot(&head[..10]).expect("snapshot");
        assert_eq!(snap.id, head, "an abbreviated SHA resolves to the full one");
        assert_eq!(
            snap.paths(),
            vec![
                PathBuf::from("README.md"),
                "stacks/web/.env".into(),
                "stacks/web/compose.yaml".into()
            ]
        );
        assert_eq!(source.local_repo_dir(), Some(work.path().join(".git")));
    }

    #[test]
    fn nested_path_with_dot_segments() {
        let work = stacks_repo();
        let fixture = Fixture::new();
        let mut source = fixture.open(&work.path().to_string_lossy(), "./stacks/web/");
        let head = source.fetch().expect("fetch").commit;
        let snap = source.snapshot(&head).expect("snapshot");
        assert_eq!(
            snap.paths(),
            vec![PathBuf::from(".env"), "compose.yaml".into()]
        );
        assert!(
            matches!(snap.origin, RevisionOrigin::Git { ref path, .. } if path == "stacks/web")
        );
    }

    /// A bare repository pushed into from a work clone: the push-to-deploy case.
    #[test]
    fn follows_pushes_to_a_bare_repository() {
        let root = tempfile::tempdir().expect("temp dir");
        let bare = root.path().join("deploy.git");
        git(
            root.path(),
            &["init", "-q", "--bare", "-b", "main", "deploy.git"],
        );
        let work = stacks_repo();
        git(
            work.path(),
            &["remote", "add", "deploy", &bare.to_string_lossy()],
        );
        git(work.path(), &["push", "-q", "deploy", "main"]);

        let fixture = Fixture::new();
        let mut source = fixture.open(&bare.to_string_lossy(), "stacks");
        let first = source.fetch().expect("fetch");
        assert!(first.changed);
        assert_eq!(source.local_repo_dir(), Some(bare.clone()));

        work.write(
            "stacks/web/compose.yaml",
            "services: {web: {image: nginx}}\n",
        );
        let second = work.commit("Use nginx");
        git(work.path(), &["push", "-q", "deploy", "main"]);
        assert_eq!(
            source.fetch().expect("fetch"),
            Fetched {
                commit: second.clone(),
                changed: true
            }
        );
        assert_eq!(
            source.fetch().expect("fetch"),
            Fetched {
                commit: second.clone(),
                changed: false
            }
        );
        let snap = source.snapshot(&second).expect("snapshot");
        assert_eq!(
            snap.text(Path::new("web/compose.yaml")),
            Some("services: {web: {image: nginx}}\n")
        );
        // The older commit is still readable: local fetches are full.
        assert!(source.snapshot(&first.commit).is_ok());
    }

    #[test]
    fn follows_a_force_push() {
        let root = tempfile::tempdir().expect("temp dir");
        let bare = root.path().join("deploy.git");
        git(
            root.path(),
            &["init", "-q", "--bare", "-b", "main", "deploy.git"],
        );
        let work = stacks_repo();
        let base = git(work.path(), &["rev-parse", "HEAD"]);
        work.write("stacks/web/compose.yaml", "services: {a: {}}\n");
        work.commit("A");
        git(
            work.path(),
            &["push", "-q", &bare.to_string_lossy(), "main"],
        );

        let fixture = Fixture::new();
        let mut source = fixture.open(&bare.to_string_lossy(), "stacks");
        source.fetch().expect("fetch");

        git(work.path(), &["reset", "-q", "--hard", &base]);
        work.write("stacks/web/compose.yaml", "services: {b: {}}\n");
        let rewritten = work.commit("B instead of A");
        git(
            work.path(),
            &["push", "-q", "--force", &bare.to_string_lossy(), "main"],
        );

        let fetched = source.fetch().expect("fetch");
        assert_eq!(
            fetched,
            Fetched {
                commit: rewritten.clone(),
                changed: true
            }
        );
        let snap = source.snapshot(&rewritten).expect("snapshot");
        assert_eq!(
            snap.text(Path::new("web/compose.yaml")),
            Some("services: {b: {}}\n")
        );
    }

    #[test]
    fn missing_branch_is_permanent() {
        let work = stacks_repo();
        let fixture = Fixture::new();
        let mut config = fixture.config(&work.path().to_string_lossy(), "");
        config.branch = "release".into();
        let mut source = GitSource::open(config).expect("open source");
        let err = source.fetch().expect_err("must fail");
        assert!(
            matches!(err, Error::BranchNotFound { ref branch, .. } if branch == "release"),
            "{err}"
        );
        assert!(!err.is_temporary());
        assert!(err.to_string().contains("\"release\""));
    }

    #[test]
    fn deleted_branch_is_noticed_despite_the_stale_tracking_ref() {
        let work = stacks_repo();
        git(work.path(), &["branch", "feature"]);
        let fixture = Fixture::new();
        let mut config = fixture.config(&work.path().to_string_lossy(), "");
        config.branch = "feature".into();
        let mut source = GitSource::open(config).expect("open source");
        source.fetch().expect("fetch");
        git(work.path(), &["branch", "-D", "feature"]);
        assert!(matches!(source.fetch(), Err(Error::BranchNotFound { .. })));
    }

    #[test]
    fn empty_repository_has_no_branch() {
        let work = Work::new();
        let fixture = Fixture::new();
        let mut source = fixture.open(&work.path().to_string_lossy(), "");
        assert!(matches!(source.fetch(), Err(Error::BranchNotFound { .. })));
    }

    #[test]
    fn missing_path_is_permanent() {
        let work = stacks_repo();
        let fixture = Fixture::new();
        let mut source = fixture.open(&work.path().to_string_lossy(), "nope");
        let head = source.fetch().expect("fetch").commit;
        let err = source.snapshot(&head).expect_err("must fail");
        assert!(matches!(err, Error::PathNotFound { .. }), "{err}");
        assert!(!err.is_temporary());

        let file = fixture.open(&work.path().to_string_lossy(), "README.md");
        assert!(matches!(
            file.snapshot(&head),
            Err(Error::PathNotFound { .. })
        ));
    }

    #[test]
    fn unknown_commit() {
        let work = stacks_repo();
        let fixture = Fixture::new();
        let source = fixture.open(&work.path().to_string_lossy(), "");
        let err = source
            .snapshot("0123456789012345678901234567890123456789")
            .expect_err("must fail");
        assert!(matches!(err, Error::CommitNotFound { .. }), "{err}");
    }

    #[test]
    fn nonexistent_repository_is_permanent() {
        let root = tempfile::tempdir().expect("temp dir");
        let fixture = Fixture::new();
        for url in [
            root.path().join("nope").to_string_lossy().into_owned(),
            format!("file://{}", root.path().display()),
        ] {
            let mut source = fixture.open(&url, "");
            let err = source.fetch().expect_err("must fail");
            assert!(
                matches!(err, Error::RepositoryNotFound { .. }),
                "{url}: {err}"
            );
            assert!(!err.is_temporary());
        }
    }

    #[test]
    fn cache_is_reused_and_wiped_on_url_change() {
        let work = stacks_repo();
        let url = work.path().to_string_lossy().into_owned();
        let fixture = Fixture::new();
        let head = fixture.open(&url, "").fetch().expect("fetch").commit;

        // Reopened: the commit is already there without fetching.
        let again = fixture.open(&url, "");
        assert!(again.snapshot(&head).is_ok());
        drop(again);

        let other = stacks_repo();
        other.write("other.txt", "x").commit("Other repository");
        let mut moved = fixture.open(&other.path().to_string_lossy(), "");
        assert!(
            matches!(moved.snapshot(&head), Err(Error::CommitNotFound { .. })),
            "the old repository's objects are gone"
        );
        let fetched = moved.fetch().expect("fetch");
        assert!(
            moved
                .snapshot(&fetched.commit)
                .expect("snapshot")
                .files
                .contains_key(Path::new("other.txt"))
        );
    }

    #[test]
    fn refuses_to_wipe_a_directory_that_is_not_the_cache() {
        let work = stacks_repo();
        let fixture = Fixture::new();
        let dir = fixture.cache.path().join("repo");
        std::fs::create_dir_all(&dir).expect("test setup");
        std::fs::write(dir.join("precious.txt"), "keep me").expect("write fixture");
        let err = GitSource::open(fixture.config(&work.path().to_string_lossy(), ""))
            .expect_err("must fail");
        assert!(matches!(err, Error::CacheNotOurs { .. }), "{err}");
        assert!(dir.join("precious.txt").exists());

        // Someone else's bare repository is not ours either.
        let foreign = fixture.cache.path().join("foreign.git");
        git(
            fixture.cache.path(),
            &["init", "-q", "--bare", "foreign.git"],
        );
        let mut config = fixture.config(&work.path().to_string_lossy(), "");
        config.cache_dir = foreign.clone();
        assert!(matches!(
            GitSource::open(config),
            Err(Error::CacheNotOurs { .. })
        ));
        assert!(foreign.join("HEAD").exists());

        // An empty directory is fine.
        let empty = fixture.cache.path().join("empty");
        std::fs::create_dir(&empty).expect("test setup");
        let mut config = fixture.config(&work.path().to_string_lossy(), "");
        config.cache_dir = empty;
        assert!(
            GitSource::open(config)
                .expect("open source")
                .fetch()
                .is_ok()
        );
    }

    #[test]
    fn file_size_limit() {
        let work = Work::new();
        let big = "x".repeat(usize::try_from(snapshot::MAX_FILE_BYTES).expect("test setup") + 1);
        work.write("stacks/big.txt", &big)
            .write("stacks/ok.txt", "ok");
        work.commit("Big file");
        let fixture = Fixture::new();
        let mut source = fixture.open(&work.path().to_string_lossy(), "stacks");
        let head = source.fetch().expect("fetch").commit;
        let err = source.snapshot(&head).expect_err("must fail");
        match err {
            Error::Snapshot(SnapshotError::TooLarge {
                ref path,
                bytes,
                limit,
            }) => {
                assert_eq!(path, Path::new("stacks/big.txt"));
                assert_eq!(bytes, snapshot::MAX_FILE_BYTES + 1);
                assert_eq!(limit, snapshot::MAX_FILE_BYTES);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn total_size_limit() {
        let work = Work::new();
        work.write("a.txt", "12345").write("b.txt", "12345");
        let head = work.commit("Two files");
        let repo = Repository::open(work.path()).expect("test setup");
        let tree = repo
            .find_commit(Oid::from_str(&head).expect("test setup"))
            .expect("test setup")
            .tree()
            .expect("test setup");
        let base = PathBuf::new();
        let mut reader = TreeReader::new(&repo, &head, &base);
        reader.max_total = 9;
        let err = reader.read(tree.clone()).expect_err("must fail");
        assert!(
            matches!(
                err,
                Error::Snapshot(SnapshotError::TooLarge {
                    bytes: 10,
                    limit: 9,
                    ..
                })
            ),
            "{err}"
        );
        reader.max_total = 10;
        assert_eq!(reader.read(tree).expect("test setup").len(), 2);
    }

    #[test]
    fn skips_symlinks_and_submodules_keeps_executables() {
        let work = Work::new();
        work.write("stacks/compose.yaml", "services: {}\n")
            .write("stacks/run.sh", "#!/bin/sh\n");
        let script = work.path().join("stacks/run.sh");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("test setup");
        std::os::unix::fs::symlink("/etc/passwd", work.path().join("stacks/link"))
            .expect("test setup");
        let inner = work.commit("Files");
        git(
            work.path(),
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{inner},stacks/sub"),
            ],
        );
        git(work.path(), &["commit", "-q", "-m", "Submodule"]);
        let fixture = Fixture::new();
        let mut source = fixture.open(&work.path().to_string_lossy(), "stacks");
        let head = source.fetch().expect("fetch").commit;
        let tree = git(work.path(), &["ls-tree", "HEAD", "stacks/"]);
        assert!(
            tree.contains("120000") && tree.contains("160000") && tree.contains("100755"),
            "{tree}"
        );
        let snap = source.snapshot(&head).expect("snapshot");
        assert_eq!(
            snap.paths(),
            vec![PathBuf::from("compose.yaml"), "run.sh".into()]
        );
    }

    #[test]
    fn rejects_bad_config() {
        let fixture = Fixture::new();
        let mut config = fixture.config("/tmp/x", "");
        config.branch = "bad..name".into();
        assert!(matches!(
            GitSource::open(config),
            Err(Error::InvalidConfig { .. })
        ));
        let mut config = fixture.config("/tmp/x", "");
        config.branch = "a:b".into();
        assert!(matches!(
            GitSource::open(config),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(matches!(
            GitSource::open(fixture.config("", "")),
            Err(Error::InvalidConfig { .. })
        ));
    }

    #[test]
    fn unreachable_host_is_temporary() {
        let fixture = Fixture::new();
        // Port 1 on loopback: connection refused at once, no real network needed.
        let mut source = fixture.open("http://127.0.0.1:1/repo.git", "");
        let err = source.fetch().expect_err("must fail");
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
        assert!(err.is_temporary(), "{err}");
        assert!(source.local_repo_dir().is_none());
    }

    /// An HTTP server that refuses every request with 401 and reports the Authorization headers
    /// it saw.
    fn refusing_server() -> (String, std::sync::mpsc::Receiver<Option<String>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test setup");
        let url = format!(
            "http://{}/repo.git",
            listener.local_addr().expect("test setup")
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let auth = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Authorization: ")
                            .or_else(|| l.strip_prefix("authorization: "))
                    })
                    .map(str::to_owned);
                let _ = tx.send(auth);
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (url, rx)
    }

    #[test]
    fn rejected_token_is_tried_once_and_never_shown() {
        use base64::Engine as _;
        let (url, seen) = refusing_server();
        let fixture = Fixture::new();
        let mut config = fixture.config(&url, "");
        config.credentials.token = Some(credentials::Secret::from("s3cret-token".to_owned()));
        let mut source = GitSource::open(config).expect("open source");
        let err = source.fetch().expect_err("must fail");
        let text = err.to_string();
        assert!(
            matches!(err, Error::Auth(credentials::Error::AuthFailed { .. })),
            "{text}"
        );
        assert!(!err.is_temporary());
        assert!(text.contains(&url) && text.contains("token"), "{text}");
        assert!(
            !text.contains("s3cret-token") && !format!("{err:?}").contains("s3cret-token"),
            "{text}"
        );

        let headers: Vec<Option<String>> = seen.try_iter().collect();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("x-access-token:s3cret-token")
        );
        let with_token = headers
            .iter()
            .filter(|h| h.as_deref() == Some(expected.as_str()))
            .count();
        assert_eq!(
            with_token, 1,
            "the token is offered exactly once: {headers:?}"
        );
    }

    #[test]
    fn auth_required_without_credentials() {
        let (url, _seen) = refusing_server();
        let fixture = Fixture::new();
        let mut source = fixture.open(&url, "");
        let err = source.fetch().expect_err("must fail");
        assert!(err.to_string().contains("tried: none"), "{err}");
        assert!(!err.is_temporary());
    }

    /// `git daemon` serving `root` on a free loopback port; killed on drop.
    struct Daemon {
        child: std::process::Child,
        port: u16,
    }

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn git_daemon(root: &Path) -> Option<Daemon> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        // Run `git-daemon` itself: `git daemon` forks it, and killing `git` would orphan it.
        let exec_path = git(root, &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                "--informative-errors",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let daemon = Daemon { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(daemon);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// The network path: a shallow fetch over `git://`, then new and rewritten commits.
    #[test]
    fn shallow_fetch_over_the_network() {
        let root = tempfile::tempdir().expect("temp dir");
        let bare = root.path().join("deploy.git");
        git(
            root.path(),
            &["init", "-q", "--bare", "-b", "main", "deploy.git"],
        );
        let work = stacks_repo();
        let old = git(work.path(), &["rev-parse", "HEAD"]);
        work.write("stacks/web/compose.yaml", "services: {v2: {}}\n");
        let second = work.commit("Second");
        git(
            work.path(),
            &["push", "-q", &bare.to_string_lossy(), "main"],
        );
        let Some(daemon) = git_daemon(root.path()) else {
            eprintln!("git daemon unavailable; skipping");
            return;
        };
        let url = format!("git://127.0.0.1:{}/deploy.git", daemon.port);
        let fixture = Fixture::new();
        let mut source = fixture.open(&url, "stacks");
        assert_eq!(
            source.fetch().expect("fetch"),
            Fetched {
                commit: second.clone(),
                changed: true
            }
        );
        let cache = Repository::open_bare(fixture.cache.path().join("repo")).expect("test setup");
        assert!(cache.is_shallow(), "network fetches are shallow");
        assert!(
            cache
                .find_commit(Oid::from_str(&old).expect("test setup"))
                .is_err(),
            "history was not fetched"
        );
        let snap = source.snapshot(&second).expect("snapshot");
        assert_eq!(
            snap.text(Path::new("web/compose.yaml")),
            Some("services: {v2: {}}\n")
        );
        assert!(source.local_repo_dir().is_none());

        git(work.path(), &["reset", "-q", "--hard", &old]);
        let rewritten = work
            .write("stacks/web/compose.yaml", "services: {v3: {}}\n")
            .commit("Rewritten");
        git(
            work.path(),
            &["push", "-q", "--force", &bare.to_string_lossy(), "main"],
        );
        assert_eq!(
            source.fetch().expect("fetch"),
            Fetched {
                commit: rewritten.clone(),
                changed: true
            }
        );
        assert!(!source.fetch().expect("fetch").changed);
        assert!(source.snapshot(&rewritten).is_ok());

        let mut missing =
            Fixture::new().open(&format!("git://127.0.0.1:{}/nope.git", daemon.port), "");
        let err = missing.fetch().expect_err("must fail");
        assert!(!err.is_temporary(), "{err:?}");
    }

    /// The controller runs fetches on blocking threads.
    #[test]
    fn source_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<GitSource>();
        assert_send::<Error>();
    }

    #[test]
    fn locations() {
        let net = |port| Ok(Location::Network { ssh_port: port });
        assert_eq!(locate("https://github.com/a/b.git"), net(22));
        assert_eq!(locate("ssh://git@host:2222/a/b.git"), net(2222));
        assert_eq!(locate("ssh://host/a/b.git"), net(22));
        assert_eq!(locate("ssh://git@[::1]:2200/a"), net(2200));
        assert_eq!(locate("git@github.com:a/b.git"), net(22));
        assert_eq!(locate("host:repo"), net(22));
        assert_eq!(
            locate("file:///srv/git/a%20b.git"),
            Ok(Location::Local("/srv/git/a b.git".into()))
        );
        assert_eq!(
            locate("file://localhost/srv/x"),
            Ok(Location::Local("/srv/x".into()))
        );
        assert_eq!(
            locate("/srv/git/repo"),
            Ok(Location::Local("/srv/git/repo".into()))
        );
        assert_eq!(
            locate("./dir:with/colon"),
            Ok(Location::Local(
                std::path::absolute("./dir:with/colon").expect("test setup")
            ))
        );
        assert!(matches!(locate("relative/repo"), Ok(Location::Local(p)) if p.is_absolute()));
    }

    impl PartialEq for Error {
        fn eq(&self, other: &Self) -> bool {
            self.to_string() == other.to_string()
        }
    }

    #[test]
    fn masks_urls() {
        assert_eq!(
            mask_url("https://user:pw@host/a.git"),
            "https://***@host/a.git"
        );
        assert_eq!(
            mask_url("https://ghp_token@host/a.git"),
            "https://***@host/a.git"
        );
        assert_eq!(mask_url("ssh://git@host/a.git"), "ssh://git@host/a.git");
        assert_eq!(
            mask_url("ssh://git:pw@host/a@b.git"),
            "ssh://git:***@host/a@b.git"
        );
        assert_eq!(mask_url("https://host/a@b.git"), "https://host/a@b.git");
        assert_eq!(mask_url("git@host:a.git"), "git@host:a.git");
    }

    #[test]
    fn classifies_fetch_errors() {
        use git2::{ErrorClass as Class, ErrorCode as Code};
        let e = |code, class, msg: &str| fetch_is_temporary(&git2::Error::new(code, class, msg));
        assert!(e(
            Code::GenericError,
            Class::Net,
            "failed to connect to host: Connection refused"
        ));
        assert!(e(
            Code::GenericError,
            Class::Http,
            "unexpected http status code: 503"
        ));
        assert!(!e(
            Code::GenericError,
            Class::Http,
            "unexpected http status code: 404"
        ));
        assert!(e(
            Code::GenericError,
            Class::Http,
            "unexpected HTTP status code: 429"
        ));
        assert!(!e(Code::Auth, Class::Http, "authentication required"));
        assert!(!e(
            Code::Certificate,
            Class::Ssl,
            "certificate is not valid"
        ));
        assert!(!e(
            Code::GenericError,
            Class::Ssh,
            "ERROR: Repository not found."
        ));
        assert!(e(Code::Timeout, Class::Net, "timed out"));
        assert!(!e(Code::GenericError, Class::Reference, "bad ref"));
        assert_eq!(http_status("unexpected http status code: 404"), Some(404));
        assert_eq!(http_status("nothing"), None);
    }
}
