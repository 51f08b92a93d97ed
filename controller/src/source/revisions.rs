//! Sources as the sync loop sees them: something polled for the newest revision, which answers
//! `None` while it has nothing new.
//!
//! Two adapters: [`DirSource`] (a watched directory, the revision id is the content hash) and
//! [`GitRevisions`] (a branch, a new revision whenever the fetched tip moves). [`Followed`]
//! names one before it is opened (opening a Git source clones it).

use std::path::PathBuf;
use std::sync::Arc;

use crate::source::git::{self, GitConfig, GitSource};
use crate::source::{Snapshot, SnapshotError};

/// Why a source could not be polled, classified so the loop knows whether retrying can help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// Reading the watched directory failed.
    #[error(transparent)]
    Directory(Arc<SnapshotError>),
    /// Fetching or reading the Git repository failed.
    #[error(transparent)]
    Git(Arc<git::Error>),
    /// A previous poll panicked while holding the source.
    #[error("an earlier poll panicked while holding the source")]
    Poisoned,
    /// The blocking task that polls the source panicked or was cancelled.
    #[error("polling the source failed: {0}")]
    Task(#[source] Arc<tokio::task::JoinError>),
}

impl SourceError {
    /// Network or IO hiccups: retry at the next wake. Permanent errors need an operator.
    pub fn is_temporary(&self) -> bool {
        match self {
            // The directory is read again at the next wake, by when the cause may be gone.
            SourceError::Directory(_) | SourceError::Task(_) => true,
            SourceError::Git(e) => e.is_temporary(),
            SourceError::Poisoned => false,
        }
    }
}

/// A source to follow, named but not opened yet.
#[derive(Debug, Clone)]
pub enum Followed {
    /// A local directory, followed in watch mode.
    Directory(PathBuf),
    /// A Git branch.
    Git {
        /// Which repository, branch and path, and where the clone is kept.
        config: Box<GitConfig>,
        /// Human name, for logs.
        description: String,
    },
}

/// An opened source and what to watch for it.
pub struct Opened {
    /// Produces revisions.
    pub source: Box<dyn RevisionSource>,
    /// A directory to watch (watch mode).
    pub watch_dir: Option<PathBuf>,
    /// A local repository's git directory whose refs to watch (push pickup).
    pub refs_dir: Option<PathBuf>,
}

/// Why a source could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The watched directory does not exist.
    #[error("cannot watch {0}: it is not a directory")]
    NotADirectory(PathBuf),
    /// The repository could not be opened or cloned.
    #[error(transparent)]
    Git(#[from] git::Error),
}

impl Followed {
    /// Open the source: check the directory, or open (first clone) the repository. Blocking IO.
    pub fn open(self) -> Result<Opened, OpenError> {
        match self {
            Followed::Directory(dir) => {
                if !dir.is_dir() {
                    return Err(OpenError::NotADirectory(dir));
                }
                Ok(Opened {
                    source: Box::new(DirSource::new(dir.clone())),
                    watch_dir: Some(dir),
                    refs_dir: None,
                })
            }
            Followed::Git {
                config,
                description,
            } => {
                let git = GitSource::open(*config)?;
                let refs_dir = git.local_repo_dir();
                Ok(Opened {
                    source: Box::new(GitRevisions::new(git, description)),
                    watch_dir: None,
                    refs_dir,
                })
            }
        }
    }
}

/// Something that produces revisions.
pub trait RevisionSource: Send {
    /// Look for the newest revision: `None` when it is the one returned last time.
    fn poll(&mut self) -> Result<Option<Snapshot>, SourceError>;
    /// Human name, for logs (`git https://… main` / `directory ./stacks`).
    fn describe(&self) -> String;
}

/// A directory followed in watch mode; the revision id is the content hash.
pub struct DirSource {
    dir: PathBuf,
    last: Option<String>,
}

impl DirSource {
    /// Follow `dir`.
    pub fn new(dir: PathBuf) -> Self {
        DirSource { dir, last: None }
    }
}

impl RevisionSource for DirSource {
    fn poll(&mut self) -> Result<Option<Snapshot>, SourceError> {
        let files =
            Snapshot::read_dir(&self.dir).map_err(|e| SourceError::Directory(Arc::new(e)))?;
        let snapshot = Snapshot::of_directory(&self.dir, files);
        if self.last.as_deref() == Some(snapshot.revision.id.as_str()) {
            return Ok(None);
        }
        self.last = Some(snapshot.revision.id.clone());
        Ok(Some(snapshot))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

/// A Git branch: a new revision whenever the fetched tip differs from the last one returned.
pub struct GitRevisions {
    git: GitSource,
    description: String,
    last: Option<String>,
}

impl GitRevisions {
    /// Follow `git`.
    pub fn new(git: GitSource, description: String) -> Self {
        GitRevisions {
            git,
            description,
            last: None,
        }
    }
}

impl RevisionSource for GitRevisions {
    fn poll(&mut self) -> Result<Option<Snapshot>, SourceError> {
        let classify = |e: git::Error| SourceError::Git(Arc::new(e));
        let fetched = self.git.fetch().map_err(classify)?;
        if self.last.as_deref() == Some(fetched.commit.as_str()) {
            return Ok(None);
        }
        let snapshot = self.git.snapshot(&fetched.commit).map_err(classify)?;
        self.last = Some(fetched.commit);
        Ok(Some(snapshot))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
