//! The write store: one redb file (`write.redb` in the data dir) holding the append-only event
//! log, its per-stream index, the command-id table and the current-state tables used to
//! validate commands — all updated in the same durable transaction.
//!
//! [`WriteStore`] is a cheap clone around an `Arc`. Writes go through the single writer
//! thread ([`writer`]); reads open their own MVCC read transaction and never wait for it.

mod commands;
mod damage;
pub(crate) mod disk;
mod inbox;
mod journal;
pub(crate) use damage::contain as contain_damage;
pub(crate) use slot::wait_sole_owner;
mod log;
mod replica;
mod slot;
mod state;
pub(crate) mod trust;
mod writer;

#[cfg(test)]
mod power_cuts;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;

pub use log::{Envelope, Verification};
pub use replica::{Arrival, HubMessage, Identity, Incoming, OriginTip, OutboxMark, Outgoing};
pub use trust::{
    DeviceKey, KEY_FILE as DEVICE_KEY_FILE, Member, PairingCode, Problem, PublicKey, QuarantineCount,
    QuarantineSummary, Quarantined, Retirement, Root, event_message, hex, unhex,
};

use crate::domain::{self, Command, Customer, Order, Product, Rejection, Shop, StreamId};
use crate::watch::Watch;

/// The write store's file name inside the data dir.
pub const WRITE_STORE_FILE: &str = "write.redb";

/// Identifies this file format; a file with another value was written by an incompatible
/// Countertop.
const FORMAT: &str = "countertop-write-store/1";
const FORMAT_TABLE: TableDefinition<'_, &str, &str> = TableDefinition::new("format");

/// redb's page cache for the write store. Writes touch the log's tail and a few state rows;
/// redb's default (1 GiB) would let a long import grow the process far past what a laptop app
/// should take.
const CACHE_BYTES: usize = 16 << 20;

/// Channel capacity: how many jobs may wait for the writer before senders block.
const QUEUE: usize = 1024;

/// One event read back on its own: its position, and the envelope or why it is unreadable.
pub(crate) type LoggedEvent = (u64, Result<Envelope, Error>);

/// Each command's result, in order.
type BulkResults = Vec<Result<Outcome, Error>>;

/// Many commands sent to the writer ([`WriteStore::submit_bulk`]), whose results are still to
/// come.
#[derive(Debug)]
#[must_use = "the results say which commands were refused"]
pub struct BulkJob {
    reply: Option<mpsc::Receiver<Result<BulkResults, Error>>>,
    path: PathBuf,
}

impl BulkJob {
    /// Waits for the writer: each command's result in order, or the error that stopped the job
    /// (see [`WriteStore::execute_bulk`] for what was committed then).
    pub fn wait(self) -> Result<Vec<Result<Outcome, Error>>, Error> {
        let Some(reply) = self.reply else { return Ok(Vec::new()) };
        reply.recv().map_err(|_| Error::Closed)?.map_err(|e| e.at(&self.path))
    }
}

/// A command with its id and, optionally, the stream version the caller expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Chosen by the caller (a ULID from [`Request::new`], or an id derived from an import
    /// line). The same id again returns the first result and appends nothing.
    pub command_id: String,
    /// Optimistic concurrency: the version the caller saw of the stream the command acts on
    /// (0: the stream must not exist yet). A mismatch is an [`Error::Conflict`].
    pub expected_version: Option<u64>,
    pub command: Command,
}

impl Request {
    /// A request with a fresh ULID command id and no expected version.
    pub fn new(command: Command) -> Request {
        Request { command_id: ulid::Ulid::generate().to_string(), expected_version: None, command }
    }

    pub fn with_id(command_id: impl Into<String>, command: Command) -> Request {
        Request { command_id: command_id.into(), expected_version: None, command }
    }

    pub fn expecting(mut self, version: u64) -> Request {
        self.expected_version = Some(version);
        self
    }
}

/// What an accepted command returns: everything the UI needs to show its result at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Outcome {
    pub command_id: String,
    /// The log positions it appended (first, last); `None` when it changed nothing.
    pub positions: Option<(u64, u64)>,
    /// The stream its result belongs to, e.g. `order/1001`.
    pub stream: String,
    /// That stream's version right after the command.
    pub stream_version: u64,
    /// The product, customer, order or shop as the command left it.
    pub entity: Entity,
    /// `true` when this command id had been accepted before and this is its first result again.
    pub replayed: bool,
}

impl Outcome {
    /// The last position the command appended, if any: pass it to queries that must reflect it.
    pub fn position(&self) -> Option<u64> {
        self.positions.map(|(_, last)| last)
    }
}

/// The thing a command created or changed, as it stands after the command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[expect(clippy::large_enum_variant, reason = "one is returned per command; boxing would only add noise")]
pub enum Entity {
    Shop(Shop),
    Product(Product),
    Customer(Customer),
    Order(Order),
    Return(crate::domain::Return),
    /// A business day's drawer (its sums are the cash-up's).
    Drawer {
        day: chrono::NaiveDate,
    },
}

/// An order folded from its own events, with those events: the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderHistory {
    pub order: Order,
    /// `Some` when folded only up to a past moment.
    pub as_of: Option<DateTime<Utc>>,
    /// The events folded, oldest first.
    #[serde(skip)]
    pub timeline: Vec<Envelope>,
}

/// What can go wrong with the write store, by what the caller can do about it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The rules refused the command; the message says what to fix. Nothing was written.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// The stream moved on since the caller looked at it. Reload and try again.
    #[error(
        "{stream} is at version {actual}, not {expected} as expected: someone changed it meanwhile; reload it and try again"
    )]
    Conflict { stream: String, expected: u64, actual: u64 },
    /// The command id was used before for a different command.
    #[error("command id {command_id} was already used for a different command; use a new id for a new command")]
    CommandIdReused { command_id: String },
    /// Another process has the write store open.
    #[error(
        "{path} is already open by another Countertop (the app, a running `countertop sync run`, or another countertop command); close it and try again"
    )]
    AlreadyOpen { path: PathBuf },
    /// The file is damaged or not a Countertop write store. Nothing was changed; the fix is a
    /// backup, never deleting the file.
    #[error("the write store {path} is damaged: {detail}. Nothing was changed. Restore it from a backup; do not delete it, it holds every recorded sale", path = .path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// The disk or the file system failed (disk full, permissions, I/O error).
    #[error("{}", storage_message(path, detail))]
    Storage { path: PathBuf, detail: String },
    /// A backup that does not open or does not check out; nothing was restored.
    #[error("the backup {path} cannot be used: {detail}. Nothing was restored; try another (older) backup", path = .path.display())]
    BadBackup { path: PathBuf, detail: String },
    /// A file that would be overwritten is already there; nothing was changed.
    #[error("{path} already exists; {advice}", path = .path.display())]
    AlreadyExists { path: PathBuf, advice: &'static str },
    /// An input file (an import) could not be read; nothing was changed.
    #[error("cannot read {path}: {detail}; check the file name and that it may be read", path = .path.display())]
    Read { path: PathBuf, detail: String },
    /// An export could not be written (disk full, file removed, pipe closed).
    #[error("cannot write the output: {detail}")]
    Write { detail: String },
    /// The writer thread is gone (the store is shutting down).
    #[error("the write store is closed")]
    Closed,
    /// A bug in Countertop: an invariant did not hold.
    #[error("internal error: {0}; please report it")]
    Internal(String),
    /// The read models (`read.redb`: reports, order lists) hold something that cannot be
    /// right. Nothing recorded is affected: they are replaced by ones rebuilt from the log,
    /// which has started by the time this is returned.
    #[error(
        "the reports are damaged ({detail}); nothing recorded is affected, and they are being rebuilt from the event log: try again in a moment"
    )]
    ReadModel { detail: String },
    /// Sync with other devices cannot go on as asked; the message says why and what to do.
    #[error("{0}")]
    Sync(String),
    /// A bug in Countertop: a panic, caught. Its transaction was aborted, so nothing of it was
    /// written, and the store can be used as before. `log` (in the data folder) has the details.
    #[error("Countertop hit a bug: {message} (at {location}). This is a bug, not damage: nothing was written, and the shop can be used as before. Please report it; the details are in {log}", log = .log.display())]
    Bug { message: String, location: String, log: PathBuf },
}

/// The file in the data folder where bugs are written down.
pub const LOG_FILE: &str = "countertop.log";

/// Appends a bug's details to the log (best effort: the error says what happened either way).
pub(crate) fn write_down(log: &Path, message: &str, location: &str, outcome: &str) {
    use std::io::Write;
    let line = format!("{} bug at {location}: {message} ({outcome})\n", Utc::now().to_rfc3339());
    if let Ok(mut file) = crate::files::private_options().create(true).append(true).open(log) {
        let _ = file.write_all(line.as_bytes());
    }
}

/// "X could not be used: why", with advice when the disk is full.
fn storage_message(path: &Path, detail: &str) -> String {
    let what = if path.as_os_str().is_empty() { "the data".to_owned() } else { path.display().to_string() };
    let advice = if detail.contains("No space left on device") {
        "; the disk is full: free some space and try again (nothing was half-written)"
    } else {
        ""
    };
    format!("{what} could not be used: {detail}{advice}")
}

impl Error {
    pub(crate) fn corrupt(detail: impl Into<String>) -> Error {
        Error::Corrupt { path: PathBuf::new(), detail: detail.into() }
    }

    pub(crate) fn corrupt_event(position: u64, detail: impl std::fmt::Display) -> Error {
        Error::corrupt(format!("event {position}: {detail}"))
    }

    /// Faults of the store itself, as opposed to answers about one command.
    fn is_storage_fault(&self) -> bool {
        matches!(
            self,
            Error::Corrupt { .. }
                | Error::Storage { .. }
                | Error::Internal(_)
                | Error::Bug { .. }
                | Error::ReadModel { .. }
                | Error::Closed
                | Error::AlreadyOpen { .. }
        )
    }

    /// Fills in the file path on errors raised deep down without it; a bug is written down in
    /// the log file beside `file` as its path is filled in.
    fn at(self, file: &Path) -> Error {
        match self {
            Error::Bug { message, location, log } if log.as_os_str().is_empty() => {
                let log = file.parent().map(|dir| dir.join(LOG_FILE)).unwrap_or_else(|| PathBuf::from(LOG_FILE));
                write_down(&log, &message, &location, "nothing was written");
                Error::Bug { message, location, log }
            }
            Error::Corrupt { path, detail } if path.as_os_str().is_empty() => {
                Error::Corrupt { path: file.to_owned(), detail }
            }
            Error::Storage { path, detail } if path.as_os_str().is_empty() => {
                Error::Storage { path: file.to_owned(), detail }
            }
            other => other,
        }
    }

    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Rejected(r) => r.code(),
            Error::Conflict { .. } => "conflict",
            Error::CommandIdReused { .. } => "command_id_reused",
            Error::AlreadyOpen { .. } => "already_open",
            Error::Corrupt { .. } => "corrupt",
            Error::Storage { .. } => "storage",
            Error::AlreadyExists { .. } => "already_exists",
            Error::BadBackup { .. } => "bad_backup",
            Error::Read { .. } => "read",
            Error::Write { .. } => "write",
            Error::Closed => "closed",
            Error::Internal(_) => "internal",
            Error::Bug { .. } => "bug",
            Error::ReadModel { .. } => "read_model_damaged",
            Error::Sync(_) => "sync",
        }
    }
}

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Error {
        from_redb(e)
    }
}

pub(crate) fn from_redb(e: redb::Error) -> Error {
    {
        match e {
            redb::Error::DatabaseAlreadyOpen => Error::AlreadyOpen { path: PathBuf::new() },
            redb::Error::Corrupted(detail) => Error::corrupt(detail),
            redb::Error::UpgradeRequired(v) => {
                Error::corrupt(format!("it uses redb file format {v}, which this Countertop cannot read"))
            }
            other => Error::Storage { path: PathBuf::new(), detail: other.to_string() },
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::from(redb::Error::from(e))
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// The write side of a shop. Cheap to clone; all clones share one writer thread.
#[derive(Clone, Debug)]
pub struct WriteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    db: Arc<slot::DbSlot>,
    jobs: Mutex<Option<SyncSender<writer::Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    head: Watch,
    recovered: u64,
    /// Event types this store takes for a newer version's (see [`WriteStore::pretend_unknown`]).
    unknown: Mutex<Vec<String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop once queued jobs are done.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = thread.join();
        }
    }
}

impl WriteStore {
    /// Opens (or creates) the write store in `data_dir`, which is created if missing.
    pub fn open(data_dir: &Path) -> Result<WriteStore, Error> {
        crate::files::private_data_dir(data_dir, WRITE_STORE_FILE).map_err(|e| Error::Storage {
            path: data_dir.to_owned(),
            detail: format!("cannot create the data directory, or make it private: {e}"),
        })?;
        let path = data_dir.join(WRITE_STORE_FILE);
        Self::open_file(&path).map_err(|e| e.at(&path))
    }

    fn open_file(path: &Path) -> Result<WriteStore, Error> {
        WriteStore::open_file_with(path, false)
    }

    /// Opens a file; with `check`, every page's checksum is verified first (for files from
    /// elsewhere, such as a backup being restored: redb may panic on a damaged file it trusts).
    fn open_file_with(path: &Path, check: bool) -> Result<WriteStore, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Storage {
                path: dir.to_owned(),
                detail: format!("cannot create the data directory: {e}"),
            })?;
        }
        WriteStore::open_on(disk::Disk::Real, path, check)
    }

    /// Opens the write store at `path` on a simulated disk (the power-cut campaign).
    #[cfg(test)]
    pub(crate) fn open_simulated(disk: &Arc<disk::sim::SimDisk>, path: &Path) -> Result<WriteStore, Error> {
        WriteStore::open_on(disk::Disk::Simulated(Arc::clone(disk)), path, false).map_err(|e| e.at(path))
    }

    fn open_on(disk: disk::Disk, path: &Path, check: bool) -> Result<WriteStore, Error> {
        let db = open_database(&disk, path, check)?;
        if matches!(disk, disk::Disk::Real) {
            crate::files::private_file(path).map_err(|e| Error::Storage {
                path: path.to_owned(),
                detail: format!("cannot make it private: {e}"),
            })?;
        }
        let (head, journal, recovered) = damage::contain(|| {
            let recovered = journal::replay(&db, &disk, path)?;
            let txn = db.begin_read()?;
            Ok((log::LogReader::open(&txn)?.head()?, journal::Journal::open(&db, &disk, path)?, recovered))
        })
        .map_err(|e| e.at(path))?;
        let db = Arc::new(slot::DbSlot::new(path, db, Box::new(move |path: &Path| reopen_database(&disk, path))));
        let head = Watch::new(head);
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("countertop-writer".into())
            .spawn({
                let db = Arc::clone(&db);
                let head = head.clone();
                move || writer::run(db, journal, rx, head)
            })
            .map_err(|e| Error::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(WriteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                db,
                jobs: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                head,
                recovered,
                unknown: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The write store's file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits recovered from the journal when the store was opened: acknowledged before an
    /// unclean stop (a crash, a power cut), not yet durable in `write.redb` itself.
    pub fn recovered_at_open(&self) -> u64 {
        self.inner.recovered
    }

    /// Runs one command; returns once its events are durably committed (or it was refused).
    pub fn execute(&self, request: Request) -> Result<Outcome, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(writer::Job::One(Box::new(request), tx))?;
        rx.recv().map_err(|_| Error::Closed)?.map_err(|e| e.at(self.path()))
    }

    /// Runs many commands in one transaction (one fsync), each decided on its own and seeing
    /// the ones before it. Returns each command's result in order; the outer error means the
    /// transaction failed and none of them was written.
    pub fn execute_batch(&self, requests: Vec<Request>) -> Result<Vec<Result<Outcome, Error>>, Error> {
        self.execute_many(requests, writer::Job::Batch)
    }

    /// Runs many commands as a bulk job (an import): like [`execute_batch`](Self::execute_batch)
    /// they share transactions, but an interactive command that arrives meanwhile does not wait
    /// for the rest of them — the transaction commits with it and the bulk job goes on in the
    /// next. So on an outer error the commands committed before it stay in the log; running the
    /// same requests again (same command ids) adds only the rest.
    pub fn execute_bulk(&self, requests: Vec<Request>) -> Result<Vec<Result<Outcome, Error>>, Error> {
        self.submit_bulk(requests)?.wait()
    }

    /// Sends a bulk job ([`execute_bulk`](Self::execute_bulk)) to the writer and returns at
    /// once: the caller prepares the next one while the writer commits this one (the importer
    /// parses while it writes), then [`BulkJob::wait`]s for the results.
    pub fn submit_bulk(&self, requests: Vec<Request>) -> Result<BulkJob, Error> {
        self.submit_many(requests, writer::Job::Bulk)
    }

    fn execute_many(
        &self,
        requests: Vec<Request>,
        job: fn(Vec<Request>, writer::BatchReply) -> writer::Job,
    ) -> Result<Vec<Result<Outcome, Error>>, Error> {
        self.submit_many(requests, job)?.wait()
    }

    fn submit_many(
        &self,
        requests: Vec<Request>,
        job: fn(Vec<Request>, writer::BatchReply) -> writer::Job,
    ) -> Result<BulkJob, Error> {
        let path = self.path().to_owned();
        if requests.is_empty() {
            return Ok(BulkJob { reply: None, path });
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(job(requests, tx))?;
        Ok(BulkJob { reply: Some(rx), path })
    }

    fn send(&self, job: writer::Job) -> Result<(), Error> {
        let sender = self.inner.jobs.lock().unwrap_or_else(PoisonError::into_inner).clone().ok_or(Error::Closed)?;
        sender.send(job).map_err(|_| Error::Closed)
    }

    /// The head position, published after every commit.
    pub fn head(&self) -> Watch {
        self.inner.head.clone()
    }

    fn read<T>(&self, f: impl FnOnce(&redb::ReadTransaction) -> Result<T, Error>) -> Result<T, Error> {
        let run = || {
            let db = self.inner.db.get()?;
            let txn = db.begin_read()?;
            f(&txn)
        };
        damage::contain(run).map_err(|e| e.at(self.path()))
    }

    /// The shop's settings, `None` before it is set up.
    pub fn shop(&self) -> Result<Option<Shop>, Error> {
        self.read(|txn| state::StateReader::open(txn)?.shop())
    }

    /// Decides `command` against the current state and records nothing: what it would leave
    /// behind, or why it would be refused. The order form's live totals come from here, so
    /// they are worked out by the very rules that will record the order.
    pub fn preview(&self, command: &Command) -> Result<Entity, Error> {
        self.read(|txn| {
            let reader = state::StateReader::open(txn)?;
            let mut state = reader.load(&command.references(), Utc::now())?;
            let events = domain::decide(&state, command).map_err(|e| reader.explained(e))?;
            for event in &events {
                domain::apply(&mut state, event);
            }
            writer::entity(&state, &writer::result_stream(command, &events)?)
        })
    }

    /// Every product, by SKU.
    ///
    /// The catalog and the customer list are read from the write side's own state tables:
    /// they are small, and their write model already is the shape a list needs.
    pub fn products(&self) -> Result<Vec<Product>, Error> {
        self.read(|txn| state::StateReader::open(txn)?.products())
    }

    pub fn product(&self, sku: &str) -> Result<Option<Product>, Error> {
        self.read(|txn| state::StateReader::open(txn)?.product(sku.trim()))
    }

    /// Every customer, by id.
    pub fn customers(&self) -> Result<Vec<Customer>, Error> {
        self.read(|txn| state::StateReader::open(txn)?.customers())
    }

    pub fn customer(&self, id: &str) -> Result<Option<Customer>, Error> {
        self.read(|txn| state::StateReader::open(txn)?.customer(id.trim()))
    }

    /// Every accepted command whose id starts with `prefix`, in id order, with the events it
    /// appended (none for one that changed nothing), all from one snapshot: what the log holds
    /// of an import, whose command ids share a prefix.
    pub fn commands_with_prefix(
        &self,
        prefix: &str,
        mut f: impl FnMut(&str, &[Envelope]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.read(|txn| {
            let log = log::LogReader::open(txn)?;
            commands::with_prefix(txn, prefix, |id, accepted| {
                let events = match accepted.positions {
                    Some((first, last)) => log.read(
                        first,
                        usize::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(usize::MAX),
                    )?,
                    None => Vec::new(),
                };
                f(id, &events)
            })
        })
    }

    /// Up to `limit` events from position `from` on.
    pub fn events(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, Error> {
        self.read(|txn| log::LogReader::open(txn)?.read(from.max(1), limit))
    }

    /// Up to `limit` events from `from` on, each decoded on its own (for the projector).
    pub(crate) fn events_each(&self, from: u64, limit: usize) -> Result<Vec<LoggedEvent>, Error> {
        self.read(|txn| log::LogReader::open(txn)?.read_each(from.max(1), limit))
    }

    /// Test hook: appends an unreadable event and publishes it.
    #[cfg(test)]
    pub(crate) fn append_poison(&self) -> Result<u64, Error> {
        let db = self.inner.db.get()?;
        let txn = db.begin_write()?;
        let position = log::testing::append_poison(&txn)?;
        txn.commit()?;
        self.inner.head.publish(position);
        Ok(position)
    }

    /// Test hook: appends `event` as it is, without deciding anything (as an older Countertop
    /// might have written it), and publishes it.
    #[cfg(test)]
    pub(crate) fn append_unchecked(&self, event: &domain::Event) -> Result<u64, Error> {
        let db = self.inner.db.get()?;
        let txn = db.begin_write()?;
        let stream = event.stream().to_key();
        let position =
            log::testing::append_raw(&txn, &stream, event.type_name(), event.schema_version(), event.to_payload())?;
        txn.commit()?;
        self.inner.head.publish(position);
        Ok(position)
    }

    /// One stream's events, oldest first.
    pub fn stream(&self, stream: &StreamId) -> Result<Vec<Envelope>, Error> {
        self.read(|txn| log::LogReader::open(txn)?.stream(stream))
    }

    /// An order folded from its events, optionally only those recorded up to `as_of`
    /// (time travel), with the events as its audit trail. `None` when no such order
    /// existed (yet) at that moment.
    pub fn order_history(&self, id: &str, as_of: Option<DateTime<Utc>>) -> Result<Option<OrderHistory>, Error> {
        let envelopes = self.stream(&StreamId::Order(id.trim().to_owned()))?;
        let timeline: Vec<Envelope> =
            envelopes.into_iter().take_while(|e| as_of.is_none_or(|t| e.recorded_at <= t)).collect();
        let mut state = domain::State::empty(Utc::now());
        for envelope in &timeline {
            domain::apply(&mut state, &envelope.event);
        }
        Ok(state.orders.remove(id.trim()).map(|order| OrderHistory { order, as_of, timeline }))
    }

    /// Writes a consistent copy of the write store to the new file `out`, from one MVCC
    /// snapshot, while writes go on; then opens the copy and verifies its hash chain. The
    /// read store and index are not copied: they are rebuilt from the log.
    pub fn backup(&self, out: &Path) -> Result<Verification, Error> {
        let refuse = |detail: String| Error::Storage { path: out.to_owned(), detail };
        if out.exists() {
            return Err(Error::AlreadyExists {
                path: out.to_owned(),
                advice: "choose a new name: backups never overwrite a file",
            });
        }
        let partial = out.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let result = (|| {
            let copy = Database::builder().set_cache_size(CACHE_BYTES).create(&partial)?;
            let db = self.inner.db.get()?;
            let snapshot = db.begin_read()?;
            let txn = copy.begin_write()?;
            copy_table(&snapshot, &txn, FORMAT_TABLE)?;
            log::copy(&snapshot, &txn)?;
            commands::copy(&snapshot, &txn)?;
            state::copy(&snapshot, &txn)?;
            replica::copy(&snapshot, &txn)?;
            trust::copy(&snapshot, &txn)?;
            txn.commit()?;
            drop(copy);
            let check = WriteStore::open_file(&partial)?;
            let verification = check.verify()?;
            drop(check);
            if let Some((position, problem)) = &verification.first_bad {
                return Err(Error::corrupt(format!("the copy does not check out at event {position}: {problem}")));
            }
            Ok(verification)
        })()
        .map_err(|e: Error| e.at(&partial));
        let verification = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, out).map_err(|e| refuse(format!("cannot move the finished copy into place: {e}")))?;
        sync_dir(out);
        Ok(verification)
    }

    /// Puts a backup made by [`WriteStore::backup`] in place as the write store of an empty
    /// data dir, after checking its hash chain. Refuses a data dir that already has one.
    pub fn restore(backup: &Path, data_dir: &Path) -> Result<Verification, Error> {
        let target = data_dir.join(WRITE_STORE_FILE);
        if target.exists() {
            return Err(Error::AlreadyExists {
                path: target,
                advice: "restore into an empty data directory (--data DIR); nothing was changed",
            });
        }
        crate::files::private_data_dir(data_dir, WRITE_STORE_FILE).map_err(|e| Error::Storage {
            path: data_dir.to_owned(),
            detail: format!("cannot create the data directory: {e}"),
        })?;
        let partial = data_dir.join(format!("{WRITE_STORE_FILE}.partial"));
        std::fs::copy(backup, &partial)
            .map_err(|e| Error::Storage { path: backup.to_owned(), detail: format!("cannot read the backup: {e}") })?;
        let checked = (|| {
            let store = WriteStore::open_file_with(&partial, true)?;
            let verification = store.verify()?;
            if let Some((position, problem)) = &verification.first_bad {
                return Err(Error::corrupt(format!("the backup does not check out at event {position}: {problem}")));
            }
            Ok(verification)
        })()
        .map_err(|e: Error| {
            let detail = match e {
                Error::Corrupt { detail, .. } | Error::Storage { detail, .. } => detail,
                other => other.to_string(),
            };
            Error::BadBackup { path: backup.to_owned(), detail }
        });
        match checked {
            Ok(verification) => {
                std::fs::rename(&partial, &target).map_err(|e| Error::Storage {
                    path: target.clone(),
                    detail: format!("cannot move the restored file into place: {e}"),
                })?;
                sync_dir(&target);
                Ok(verification)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Walks the whole log and checks the hash chain, positions, payloads, signatures and
    /// stream index; then that the current state (what commands are decided against) is
    /// exactly a fold of the log, so no event can have been folded in differently from how it
    /// is recorded.
    pub fn verify(&self) -> Result<Verification, Error> {
        self.read(|txn| {
            let sync = replica::SyncReader::open(txn)?;
            let mut verification = log::LogReader::open(txn)?.verify(&sync, &trust::TrustReader::open(txn)?)?;
            if verification.first_bad.is_none()
                && let Some(difference) = state::differs_from_fold(txn, &sync)?
            {
                verification.first_bad = Some((verification.events + 1, difference));
                verification.head_hash = None;
            }
            Ok(verification)
        })
    }

    /// This device's identity in its shop, once it has joined one.
    pub fn identity(&self) -> Result<Option<Identity>, Error> {
        self.read(|txn| replica::SyncReader::open(txn)?.identity())
    }

    /// Where sync stands on this device: who it is, how many of its own events the hub has
    /// acknowledged and how many wait, and every other device whose events are here.
    pub fn sync_state(&self) -> Result<SyncState, Error> {
        self.read(|txn| {
            let sync = replica::SyncReader::open(txn)?;
            let head = log::LogReader::open(txn)?.head()?;
            let log = log::LogReader::open(txn)?;
            let (own, own_hash) = match sync.own_tip()? {
                Some(tip) => tip,
                None => (
                    head,
                    log.read(head.max(1), 1)?.first().map_or([0; 32], |e| {
                        trust::unhex(&e.hash).and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()).unwrap_or([0; 32])
                    }),
                ),
            };
            let outbox = sync.outbox()?;
            Ok(SyncState {
                identity: sync.identity()?,
                own_events: own,
                own_hash,
                waiting: own.saturating_sub(outbox.seq),
                outbox,
                head,
                hub_seq: sync.hub_seq()?,
                devices: sync.origins()?,
            })
        })
    }

    /// This device's own events after `mark` (at most `limit`, looking at most at `scan`
    /// positions), for the hub; and the last position looked at.
    pub fn outgoing(&self, mark: OutboxMark, limit: usize, scan: usize) -> Result<(Vec<Outgoing>, u64), Error> {
        self.read(|txn| log::LogReader::open(txn)?.own_after(&replica::SyncReader::open(txn)?, mark, limit, scan))
    }

    /// Records durably that the hub acknowledged this device's events up to `mark`.
    pub fn acknowledged(&self, mark: OutboxMark) -> Result<(), Error> {
        self.sync_job(writer::SyncJob::Acked(mark)).map(|_| ())
    }

    /// Makes this data folder a device of a shop (once; again with the same identity is a
    /// no-op). From then on the numbers it gives out carry its till code.
    pub fn join(&self, identity: Identity) -> Result<(), Error> {
        self.sync_job(writer::SyncJob::Join(identity)).map(|_| ())
    }

    /// Takes messages from the hub, in the hub's order (`store/inbox.rs`): each is taken
    /// (stored and folded into the current state), held until it can be, or quarantined with
    /// why — in one durable transaction, with the hub sequence `through` which every message
    /// has been looked at ([`SyncState::hub_seq`]). `retry_all` first retries every held
    /// message (once a session: an update may read what was held). Returns what became of
    /// each. Errs only when the store fails, or this till does not know the shop's keys.
    pub fn receive(&self, messages: Vec<HubMessage>, through: u64, retry_all: bool) -> Result<Vec<Arrival>, Error> {
        let count = messages.len();
        let unknown = self.inner.unknown.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let verified = self.verify_signatures(&messages)?;
        match self.sync_job(writer::SyncJob::Receive { messages, through, retry_all, unknown, verified })? {
            writer::SyncAnswer::Arrivals(arrivals) => Ok(arrivals),
            _ => Err(Error::Internal(format!("{count} messages received, no answer"))),
        }
    }

    /// Checks each event's signature against its device's key as the roster has it now, on the
    /// caller's thread: the writer, which order entry waits for, then only compares keys. A
    /// roster that changes within the batch (an admission in it) is checked again there.
    fn verify_signatures(&self, messages: &[HubMessage]) -> Result<Vec<Option<PublicKey>>, Error> {
        let (shop, keys) = self.read(|txn| {
            let trust = trust::TrustReader::open(txn)?;
            let mut keys: std::collections::HashMap<String, PublicKey> =
                trust.members()?.iter().filter_map(|m| Some((m.device.clone(), m.public_key()?))).collect();
            if let Some(root) = trust.root()?
                && let Some(key) = PublicKey::from_hex(&root.key)
            {
                keys.entry(root.device).or_insert(key);
            }
            let me = replica::SyncReader::open(txn)?.identity()?;
            if let (Some(me), Some(own)) = (&me, trust.own_key()?) {
                keys.insert(me.device.clone(), own);
            }
            Ok((me.map(|i| i.shop).unwrap_or_default(), keys))
        })?;
        Ok(messages
            .iter()
            .map(|message| {
                let HubMessage::Event(e) = message else { return None };
                let (signature, prev, key) = (e.signature?, e.prev?, keys.get(&e.origin)?);
                key.verifies(&trust::event_message(&shop, &e.origin, e.seq, &prev, &e.hash), &signature).then_some(*key)
            })
            .collect())
    }

    /// For tests of mixed versions: this store reads events of these types from other tills as
    /// an older Countertop would (written by a newer one: held until "updated", that is until
    /// called again without them).
    #[doc(hidden)]
    pub fn pretend_unknown(&self, types: &[&str]) {
        *self.inner.unknown.lock().unwrap_or_else(PoisonError::into_inner) =
            types.iter().map(|t| (*t).to_owned()).collect();
    }

    /// Starts the shop's roster with this device's key as its first (the founding till, or on
    /// the till the owner keeps when a shop that synced before tills signed is upgraded). Its
    /// own `device.admitted` names how far its unsigned events on the hub go. Again with the
    /// same key: nothing changes.
    pub fn found(&self, key: PublicKey) -> Result<Option<Member>, Error> {
        let legacy = self.unsigned_tip()?;
        self.member_job(writer::SyncJob::Found(key, legacy))
    }

    /// How far this device's own events on the hub went unsigned (sent before tills signed):
    /// its last acknowledged event, with its hash. `None` when the hub has none of them.
    pub fn unsigned_tip(&self) -> Result<Option<crate::domain::LegacyTip>, Error> {
        self.read(|txn| {
            let sync = replica::SyncReader::open(txn)?;
            let outbox = sync.outbox()?;
            if outbox.seq == 0 {
                return Ok(None);
            }
            let hash = log::LogReader::open(txn)?.own_hash(&sync, outbox)?;
            Ok(Some(crate::domain::LegacyTip { seq: outbox.seq, hash: trust::hex(&hash) }))
        })
    }

    /// Pins the shop's first key (learnt with a pairing code) and this device's own key.
    pub fn pin(&self, root: Root, own_key: PublicKey) -> Result<(), Error> {
        self.sync_job(writer::SyncJob::Pin { root, own_key }).map(|_| ())
    }

    /// Admits a device with its key (this device must be in the shop): records a
    /// `device.admitted`, which the other tills believe because this device signs it.
    pub fn admit(
        &self,
        device: String,
        till: String,
        key: PublicKey,
        legacy: Option<crate::domain::LegacyTip>,
    ) -> Result<Member, Error> {
        self.member_job(writer::SyncJob::Admit { device, till, key, legacy })?
            .ok_or_else(|| Error::Internal("an admission without its member".into()))
    }

    /// Retires a till (by till code or device id), with why: its events after the retirement
    /// on the hub are refused on every till.
    pub fn retire(&self, who: &str, reason: &str) -> Result<Member, Error> {
        self.member_job(writer::SyncJob::Retire { who: who.to_owned(), reason: reason.to_owned() })?
            .ok_or_else(|| Error::Internal("a retirement without its member".into()))
    }

    fn member_job(&self, job: writer::SyncJob) -> Result<Option<Member>, Error> {
        match self.sync_job(job)? {
            writer::SyncAnswer::Member(member) => Ok(Some(*member)),
            _ => Ok(None),
        }
    }

    /// This device's public key as the shop knows it (set when it founded the shop's roster or
    /// was paired).
    pub fn own_key(&self) -> Result<Option<PublicKey>, Error> {
        self.read(|txn| trust::TrustReader::open(txn)?.own_key())
    }

    /// The shop's first key, once this till knows it.
    pub fn root(&self) -> Result<Option<Root>, Error> {
        self.read(|txn| trust::TrustReader::open(txn)?.root())
    }

    /// Every device admitted to the shop, as this till knows them.
    pub fn roster(&self) -> Result<Vec<Member>, Error> {
        self.read(|txn| trust::TrustReader::open(txn)?.members())
    }

    /// What the quarantine holds, counted, with the latest entries.
    pub fn quarantine(&self) -> Result<QuarantineSummary, Error> {
        self.read(|txn| trust::TrustReader::open(txn)?.summary())
    }

    /// Every message from the hub that was not taken (held ones included), oldest first.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, Error> {
        self.read(|txn| trust::TrustReader::open(txn)?.entries())
    }

    fn sync_job(&self, job: writer::SyncJob) -> Result<writer::SyncAnswer, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(writer::Job::Sync(job, tx))?;
        rx.recv().map_err(|_| Error::Closed)?.map_err(|e| e.at(self.path()))
    }
}

/// Where sync stands on this device ([`WriteStore::sync_state`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncState {
    pub identity: Option<Identity>,
    /// This device's own events (its sequence so far).
    pub own_events: u64,
    /// The hash of the last of them (zeros: none).
    #[serde(skip)]
    pub own_hash: [u8; 32],
    /// Of those, how many wait to be sent.
    pub waiting: u64,
    /// How far the hub has acknowledged them (`outbox.seq` of `own_events`).
    pub outbox: OutboxMark,
    /// The log's last position, in the same snapshot (with nothing waiting, no event of this
    /// device's is between the outbox's mark and here).
    pub head: u64,
    /// The hub stream's sequence up to which every message is here.
    pub hub_seq: u64,
    /// Every other device whose events are here.
    pub devices: Vec<OriginTip>,
}

/// Copies every entry of one table from a snapshot into another database.
pub(super) fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    table: TableDefinition<'_, K, V>,
) -> Result<u64, Error> {
    let source = from.open_table(table)?;
    let mut target = to.open_table(table)?;
    let mut copied = 0;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
        copied += 1;
    }
    Ok(copied)
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
}

/// Creates the tables of a new file, checks the format of an existing one, and rebuilds the
/// current-state tables from the log when their shape changed.
/// One stored event decoded as the log reads it (for the fuzz targets).
#[cfg(fuzzing)]
pub(crate) fn decode_stored_event(bytes: &[u8]) -> Result<Envelope, Error> {
    log::decode(1, bytes)
}

/// Opens the file as a database and prepares it (format check, tables, state rebuild); redb's
/// panics on damaged pages become [`Error::Corrupt`].
fn open_database(disk: &disk::Disk, path: &Path, check: bool) -> Result<Database, Error> {
    damage::contain(|| {
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES).set_check_integrity_on_open(check);
        let db = match disk.open_database(&builder, path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(Error::AlreadyOpen { path: path.to_owned() });
            }
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
                if e.kind() != std::io::ErrorKind::InvalidData =>
            {
                return Err(Error::Storage { path: path.to_owned(), detail: e.to_string() });
            }
            Err(e) => return Err(Error::corrupt(format!("it cannot be opened as a database ({e})"))),
        };
        prepare(&db)?;
        Ok(db)
    })
    .map_err(|e| e.at(path))
}

/// Opens the file again after an I/O error, with the journal's records replayed: redb went
/// back to its last durable commit, and acknowledged commits after it are in the journal.
fn reopen_database(disk: &disk::Disk, path: &Path) -> Result<Database, Error> {
    let db = open_database(disk, path, false)?;
    damage::contain(|| journal::replay(&db, disk, path)).map_err(|e| e.at(path))?;
    Ok(db)
}

fn prepare(db: &Database) -> Result<(), Error> {
    let txn = db.begin_write()?;
    {
        let mut format = txn.open_table(FORMAT_TABLE)?;
        let found = format.get("format")?.map(|v| v.value().to_owned());
        match found.as_deref() {
            None => {
                format.insert("format", FORMAT)?;
            }
            Some(FORMAT) => {}
            Some(other) => {
                return Err(Error::corrupt(format!(
                    "it is in format '{other}', which this Countertop ({FORMAT}) cannot read; use the Countertop that wrote it"
                )));
            }
        }
    }
    log::create_tables(&txn)?;
    commands::create_tables(&txn)?;
    state::create_tables(&txn)?;
    replica::create_tables(&txn)?;
    trust::create_tables(&txn)?;
    let stale = state::StateTables::open(&txn, None)?.version()? != Some(state::STATE_VERSION);
    if stale {
        rebuild_state(&txn)?;
    }
    txn.commit()?;
    Ok(())
}

/// Refolds the current-state tables from the whole log, one event at a time.
fn rebuild_state(txn: &redb::WriteTransaction) -> Result<(), Error> {
    let mut tables = writer::Tables::open(txn)?;
    tables.state.clear()?;
    let identity = tables.log.sync().0.identity()?;
    for position in 1..tables.log.next_position() {
        let envelope = tables.log.get(position)?;
        let foreign = tables.log.sync().0.is_foreign(position)?;
        tables.state.refold_as(identity.as_ref(), foreign, envelope.recorded_at);
        tables.state.fold(&envelope.event, envelope.recorded_at)?;
    }
    tables.state.set_version()
}
