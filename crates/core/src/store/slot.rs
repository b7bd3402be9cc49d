//! The write store's open database, which the writer can reopen.
//!
//! After a failed commit (a full disk, an I/O error) redb refuses every later transaction with
//! "previous I/O error; close and re-open the database". Nothing was half-written — the failed
//! transaction is simply not there — so the writer reopens the file (redb repairs its allocator
//! state from the last commit) and the next command works again as soon as the cause is gone,
//! without restarting the app.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redb::Database;

use super::Error;

/// How long a reopen waits for reads that are under way (a backup, say) to finish.
const DRAIN: Duration = Duration::from_secs(30);

/// How the slot opens its file again.
pub(crate) type Open = Box<dyn Fn(&Path) -> Result<Database, Error> + Send + Sync>;

pub(crate) struct DbSlot {
    path: PathBuf,
    open: Open,
    /// `None` while a reopen has failed (the writer tries again with the next command).
    db: RwLock<Option<Arc<Database>>>,
}

impl std::fmt::Debug for DbSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSlot").field("path", &self.path).field("db", &self.db).finish_non_exhaustive()
    }
}

impl DbSlot {
    pub(crate) fn new(path: &Path, db: Database, open: Open) -> DbSlot {
        DbSlot { path: path.to_owned(), open, db: RwLock::new(Some(Arc::new(db))) }
    }

    /// The database, for one transaction; do not keep it.
    pub(crate) fn get(&self) -> Result<Arc<Database>, Error> {
        self.db.read().unwrap_or_else(PoisonError::into_inner).clone().ok_or_else(|| Error::Storage {
            path: self.path.clone(),
            detail: "it was closed after an I/O error and could not be reopened yet (is the disk full?); free some space and try again".into(),
        })
    }

    /// Whether the database is closed (a reopen failed).
    pub(crate) fn is_closed(&self) -> bool {
        self.db.read().unwrap_or_else(PoisonError::into_inner).is_none()
    }

    /// Closes and reopens the file. Readers wait meanwhile; those already reading finish first.
    pub(crate) fn reopen(&self) -> Result<(), Error> {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = slot.as_ref()
            && !wait_sole_owner(db, DRAIN)
        {
            return Err(Error::Storage {
                path: self.path.clone(),
                detail: "it could not be reopened after an I/O error while a long read (a backup?) was running; restart Countertop".into(),
            });
        }
        // redb holds a file lock per open database: the old one must be gone before the new
        // open. If the open fails the slot stays empty and every caller gets an error.
        drop(slot.take());
        *slot = Some(Arc::new((self.open)(&self.path)?));
        Ok(())
    }
}

/// Waits until `shared` has no other owner (readers finish their one transaction and let go of
/// their clone); `false` if that takes longer than `timeout`. The caller holds the lock that
/// hands out clones, so no new ones appear meanwhile.
pub(crate) fn wait_sole_owner<T>(shared: &Arc<T>, timeout: Duration) -> bool {
    let started = Instant::now();
    while Arc::strong_count(shared) > 1 {
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}
