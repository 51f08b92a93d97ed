//! The revision record kept in the replicated state: the [`Store`] the sync loop uses on the
//! leader, so a new leader continues from the revision its predecessor applied.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use crate::leader::manager::Manager;
use crate::raft::Command;
use crate::source::spec::SourceSpec;
use crate::sync::applied::{Error, Record, Store};

/// Why the record cannot reach the replicated store at all.
#[derive(Debug, thiserror::Error)]
enum Unavailable {
    /// The node runs as a worker now: it holds no replicated state.
    #[error("this node is not a manager")]
    NotManager,
}

/// A [`Store`] over whichever manager this process currently runs (it changes when the node
/// restarts in a new role).
#[derive(Default, Clone)]
pub struct RaftRecordStore {
    manager: Arc<Mutex<Option<Arc<Manager>>>>,
}

impl RaftRecordStore {
    /// Point the store at `manager` (or at nothing while the node is not a manager).
    pub fn set(&self, manager: Option<Arc<Manager>>) {
        *self.manager.lock().unwrap_or_else(|p| p.into_inner()) = manager;
    }

    fn current(&self) -> Result<Arc<Manager>, Error> {
        self.manager
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::replicated(Unavailable::NotManager))
    }
}

impl Store for RaftRecordStore {
    fn load(&self) -> Result<Record, Error> {
        Ok(self.current()?.sm.read(|s| s.revisions.clone()))
    }

    fn source(&self) -> Result<Option<SourceSpec>, Error> {
        Ok(self.current()?.sm.read(|s| s.revisions.source.clone()))
    }

    fn set_source(&self, source: Option<SourceSpec>) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let manager = self.current()?;
            let version = (manager.writer.write(Command::SetSource { source }).await)
                .map_err(Error::replicated)?;
            manager.wait_applied(version).await;
            Ok(())
        })
    }

    /// Commits the record through Raft and waits until this manager has applied it.
    fn save<'a>(&'a self, record: &'a Record) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let manager = self.current()?;
            let cmd = Command::RecordRevision {
                record: record.clone(),
            };
            let version = (manager.writer.write(cmd).await).map_err(Error::replicated)?;
            manager.wait_applied(version).await;
            Ok(())
        })
    }
}
