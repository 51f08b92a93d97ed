//! The revision record kept in the replicated state: the [`Store`] the sync loop uses on the
//! leader, so a new leader continues from the revision its predecessor applied.

use std::sync::{Arc, Mutex};

use crate::leader::manager::Manager;
use crate::raft::Command;
use crate::sync::applied::{Error, Record, Store};

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
            .ok_or_else(|| Error::replicated("this node is not a manager"))
    }
}

impl Store for RaftRecordStore {
    fn load(&self) -> Result<Record, Error> {
        Ok(self.current()?.sm.read(|s| s.revisions.clone()))
    }

    /// Commits the record through Raft. Called from the sync loop's blocking thread, which
    /// may wait on the runtime.
    fn save(&self, record: &Record) -> Result<(), Error> {
        let manager = self.current()?;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::replicated(format!("no async runtime: {e}")))?;
        let cmd = Command::RecordRevision {
            record: record.clone(),
        };
        let version = handle
            .block_on(manager.writer.write(cmd))
            .map_err(|e| Error::replicated(e.to_string()))?;
        handle.block_on(manager.wait_applied(version));
        Ok(())
    }
}
