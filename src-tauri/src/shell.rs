//! The shop the window works on: opened once at start, shared by every command.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use countertop_core::Countertop;

use crate::error::{ApiError, ApiResult};
use crate::jobs::Job;
use crate::sync::SyncSlot;

/// What the app holds: the open shop, or why it could not be opened (shown full-window).
#[derive(Debug)]
pub struct Shell {
    opened: Result<Arc<Opened>, ApiError>,
}

#[derive(Debug)]
pub struct Opened {
    pub ct: Countertop,
    pub dir: PathBuf,
    /// The one long job (import or rebuild) allowed at a time.
    job: Mutex<Option<Job>>,
    /// The CSV of every line the last import rejected, for "save as".
    pub last_rejected: Mutex<Option<PathBuf>>,
    /// The sync thread, when the folder has joined a shop on a hub.
    pub sync: SyncSlot,
}

impl Shell {
    pub fn open(dir: PathBuf) -> Shell {
        let opened = open_when_free(&dir, WAIT_FOR_FREE)
            .map(|ct| {
                Arc::new(Opened {
                    ct,
                    dir,
                    job: Mutex::new(None),
                    last_rejected: Mutex::new(None),
                    sync: SyncSlot::default(),
                })
            })
            .map_err(ApiError::from);
        if let Ok(opened) = &opened
            && let Err(e) = opened.sync.start(opened)
        {
            // The shop works without the hub; Settings → Sync shows the problem.
            eprintln!("countertop: sync did not start: {}", e.message);
        }
        Shell { opened }
    }

    pub fn opened(&self) -> ApiResult<Arc<Opened>> {
        self.opened.clone()
    }
}

/// How long the app waits at start for another Countertop to let go of the shop: a window
/// closed a moment ago may still be writing its last state down (not measured; 5 s is a
/// guess that leaves a real second instance reported promptly).
const WAIT_FOR_FREE: Duration = Duration::from_secs(5);

/// Opens the shop, waiting up to `wait` while another Countertop has it open (the app reopened
/// right after it was closed); after that the window says who holds it.
fn open_when_free(dir: &Path, wait: Duration) -> Result<Countertop, countertop_core::Error> {
    let started = Instant::now();
    loop {
        match Countertop::open(dir) {
            Err(countertop_core::Error::AlreadyOpen { .. }) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100));
            }
            opened => return opened,
        }
    }
}

impl Opened {
    /// The running job, if any.
    pub fn job(&self) -> Option<Job> {
        self.job.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Claims the job slot, or says what is already running.
    pub fn start_job(&self, job: Job) -> ApiResult<()> {
        let mut slot = self.job.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = slot.as_ref() {
            return Err(ApiError::new(
                "busy",
                format!("{} is still running; wait for it to finish, then try again", running.describe()),
            ));
        }
        *slot = Some(job);
        Ok(())
    }

    pub fn finish_job(&self) {
        *self.job.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_a_closing_window_still_holds_opens_once_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let closing = Countertop::open(dir.path()).unwrap();
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(closing);
        });
        let opened = open_when_free(dir.path(), Duration::from_secs(20));
        letting_go.join().unwrap();
        assert!(opened.is_ok(), "{:?}", opened.err());

        // Held for longer than the wait: the answer names the holder.
        let err = open_when_free(dir.path(), Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, countertop_core::Error::AlreadyOpen { .. }), "{err:?}");
    }
}
