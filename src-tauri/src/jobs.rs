//! Long work off the command path: imports and rebuilds on their own threads, and the status
//! pump that tells the window how fresh the read side is. All of it reaches the UI as Tauri
//! events; the UI never polls.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use countertop_core::Status;
use countertop_core::import::{self, ImportOptions, ImportReport};
use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::error::{ApiError, ApiResult};
use crate::shell::Opened;

/// A long job, as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    Import { file: String },
    Rebuild,
}

impl Job {
    pub fn describe(&self) -> String {
        match self {
            Job::Import { file } => format!("an import of {file}"),
            Job::Rebuild => "a rebuild of the reports and search".to_owned(),
        }
    }
}

/// What `import-finished` carries.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub(crate) struct ImportFinished {
    file: String,
    report: Option<ImportReport>,
    /// The reconciliation in words (the core's, so the app and the CLI say the same).
    statement: Vec<String>,
    error: Option<ApiError>,
}

/// At most this often a progress event (a 500k-line import would otherwise send thousands).
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

pub fn import(opened: &Arc<Opened>, app: AppHandle, path: PathBuf, options: ImportOptions) -> ApiResult<()> {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    opened.start_job(Job::Import { file: file.clone() })?;
    let worker = Arc::clone(opened);
    let spawned = std::thread::Builder::new().name("import".into()).spawn(move || {
        let mut last = Instant::now();
        let result = caught("the import", || {
            import::import(worker.ct.write(), &path, &options, |p| {
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    let _ = app.emit("import-progress", p);
                }
            })
            .map_err(ApiError::from)
        });
        worker.finish_job();
        let (report, error) = match result {
            Ok(report) => (Some(report), None),
            Err(e) => (None, Some(e)),
        };
        let statement = report.as_ref().map(ImportReport::statement).unwrap_or_default();
        *worker.last_rejected.lock().unwrap_or_else(PoisonError::into_inner) =
            report.as_ref().and_then(|r| r.rejected_csv.clone());
        let _ = app.emit("import-finished", ImportFinished { file, report, statement, error });
    });
    spawned.map(drop).map_err(|e| {
        opened.finish_job();
        ApiError::new("internal", format!("cannot start the import: {e}"))
    })
}

/// Runs a job's work; a panic in it becomes an error the window shows, so the job slot is
/// freed and the owner is told, instead of a thread that vanishes and a job "running" forever.
fn caught<T>(what: &str, work: impl FnOnce() -> ApiResult<T>) -> ApiResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(ApiError::new(
            "bug",
            format!("{what} stopped on a bug in Countertop ({message}); what it had recorded is kept, and running it again goes on from there. Please report it"),
        ))
    })
}

/// What `rebuild-finished` carries.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub(crate) struct RebuildFinished {
    error: Option<ApiError>,
}

pub fn rebuild(opened: &Arc<Opened>, app: AppHandle) -> ApiResult<()> {
    opened.start_job(Job::Rebuild)?;
    let worker = Arc::clone(opened);
    let spawned = std::thread::Builder::new().name("rebuild".into()).spawn(move || {
        // Progress reaches the UI through the status pump (`Status::rebuild`).
        let result =
            caught("the rebuild", || worker.ct.rebuild(Duration::from_secs(24 * 3600), |_| {}).map_err(ApiError::from));
        worker.finish_job();
        let _ = app.emit("rebuild-finished", RebuildFinished { error: result.err() });
    });
    spawned.map(drop).map_err(|e| {
        opened.finish_job();
        ApiError::new("internal", format!("cannot start the rebuild: {e}"))
    })
}

/// What `status` events carry.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct StatusEvent {
    #[serde(flatten)]
    pub status: Status,
    pub job: Option<Job>,
}

/// Sends a `status` event whenever the head, a checkpoint, the dead letters, a rebuild's
/// progress or the running job change. It sleeps on the projector's watch, waking at least
/// every 250 ms while something is moving so a rebuild's progress bar moves too.
pub fn status_pump(opened: Arc<Opened>, app: AppHandle) {
    let spawned = std::thread::Builder::new().name("status-pump".into()).spawn(move || {
        let mut last: Option<StatusEvent> = None;
        loop {
            let seen = opened.ct.projected().current();
            // A bug while reading the status is shown, and the pump goes on (a second later).
            match caught("the freshness badge", || Ok(opened.ct.status()?)) {
                Ok(status) => {
                    let event = StatusEvent { status, job: opened.job() };
                    if last.as_ref() != Some(&event) {
                        let _ = app.emit("status", &event);
                        last = Some(event);
                    }
                }
                Err(e) => {
                    let _ = app.emit("status-error", e);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            opened.ct.projected().wait_past(seen, Duration::from_millis(250));
        }
    });
    if let Err(e) = spawned {
        eprintln!("countertop: cannot start the status thread ({e}); the freshness badge will not update");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_that_panics_ends_with_an_error_that_says_it_is_a_bug() {
        // Was: the import thread died with the panic, and the job slot said "busy" until a restart.
        let ended: ApiResult<()> = caught("the import", || panic!("an invariant did not hold"));
        let error = ended.unwrap_err();
        assert_eq!(error.code, "bug");
        assert!(
            error.message.starts_with("the import stopped on a bug in Countertop (an invariant did not hold)"),
            "{}",
            error.message
        );
        assert_eq!(caught("the rebuild", || Ok(7)).ok(), Some(7));
    }
}
