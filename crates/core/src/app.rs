//! `Countertop`: one shop's data dir opened for use — the write store, the read side and its
//! projector thread. What the CLI and the desktop shell hold.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::read::{Progress, ProjectorOptions, ReadSide, Status};
use crate::store::{Outcome, Request, WriteStore};

/// An open shop. Cheap to clone; the projector stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Countertop {
    pub(crate) read: ReadSide,
}

/// Which projections a reader needs caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The tables (dashboards, order lists).
    Tables,
    /// The tables and the search index.
    Search,
}

impl Countertop {
    /// Opens the shop in `data_dir` (creating it if needed) and starts the projector. A read
    /// store or index that is missing, damaged or outdated is rebuilt from the log in the
    /// background; [`Countertop::status`] says so.
    pub fn open(data_dir: &Path) -> Result<Countertop, crate::Error> {
        Countertop::open_with(data_dir, ProjectorOptions::default())
    }

    /// [`Countertop::open`] with other projector batching (for tests and tuning).
    pub fn open_with(data_dir: &Path, options: ProjectorOptions) -> Result<Countertop, crate::Error> {
        let write = WriteStore::open(data_dir)?;
        let read = ReadSide::open(data_dir, write, options).map_err(|e| at_read(e, data_dir))?;
        Ok(Countertop { read })
    }

    /// The write side.
    pub fn write(&self) -> &WriteStore {
        self.read.write()
    }

    /// Runs a command (see [`WriteStore::execute`]). Never waits for the read side.
    pub fn execute(&self, request: Request) -> Result<Outcome, crate::Error> {
        self.write().execute(request)
    }

    /// The position the read tables have reached; wait on it to hear when they move (the UI's
    /// freshness badge does, instead of polling).
    pub fn projected(&self) -> &crate::Watch {
        self.read.tables_watch()
    }

    /// Head, checkpoints, lag, dead letters, rebuild progress.
    pub fn status(&self) -> Result<Status, crate::Error> {
        self.read.status()
    }

    /// Waits until the projections named by `what` reflect everything committed so far, or
    /// `timeout` passes. `progress` is called about every 200 ms while waiting. Returns whether
    /// they caught up.
    pub fn wait_caught_up(&self, what: Freshness, timeout: Duration, mut progress: impl FnMut(&Progress)) -> bool {
        let target = self.write().head().current();
        let started = Instant::now();
        let start = self.read.tables_watch().current();
        loop {
            let tables = self.read.tables_watch().current();
            let search = self.read.search_watch().current();
            let reached = match what {
                Freshness::Tables => tables,
                Freshness::Search => tables.min(search),
            };
            if reached >= target && !self.read.rebuild_pending() {
                return true;
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return false;
            }
            let progress_now = self.read.rebuild_progress().unwrap_or_else(|| {
                Progress::new("catching up", reached.saturating_sub(start), target.saturating_sub(start), started)
            });
            progress(&progress_now);
            let watch = if what == Freshness::Search && search < tables {
                self.read.search_watch()
            } else {
                self.read.tables_watch()
            };
            watch.wait_past(reached, left.min(Duration::from_millis(200)));
        }
    }

    /// Rebuilds every projection from the log into a fresh read store and index while the
    /// current ones keep serving, then swaps them in. Blocks until done, calling `progress`.
    pub fn rebuild(&self, timeout: Duration, mut progress: impl FnMut(&Progress)) -> Result<(), crate::Error> {
        self.read.request_rebuild();
        let started = Instant::now();
        while self.read.rebuild_pending() {
            if started.elapsed() > timeout {
                return Err(crate::Error::Internal("the rebuild did not finish in time".into()));
            }
            if let Some(p) = self.read.rebuild_progress() {
                progress(&p);
            }
            if let Some(failing) = self.status()?.failing {
                return Err(crate::read::storage(failing));
            }
            self.read.tables_watch().wait_past(u64::MAX, Duration::from_millis(200));
        }
        Ok(())
    }
}

fn at_read(e: crate::Error, dir: &Path) -> crate::Error {
    match e {
        crate::Error::Storage { path, detail } if path.as_os_str().is_empty() => {
            crate::Error::Storage { path: dir.join(crate::read::READ_STORE_FILE), detail }
        }
        other => other,
    }
}
