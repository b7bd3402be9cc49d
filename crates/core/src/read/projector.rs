//! The projector: one background thread that folds committed events into the read store and
//! the search index, rebuilds them blue-green when asked (or when the shop's day boundaries
//! change), retries dead letters, and reports its status.
//!
//! It sleeps on the write store's head [`Watch`] and wakes when the writer publishes a new
//! head; it never holds anything the writer needs (it reads the log in MVCC read
//! transactions). It is the only writer of `read.redb` and of the search index.
//!
//! Each batch's table changes and its new checkpoint commit in one read-store transaction, so
//! a crash never double-counts or skips. Batches commit with `Durability::None` and an
//! immediate-durability commit follows at most a second later (or as soon as the projector is
//! idle): a crash loses at most that second of *projection* work, which is then redone from
//! the last durable checkpoint. The search index commits at most every [`SEARCH_COMMIT`], with
//! its checkpoint in the commit payload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use redb::{Database, Durability, ReadableDatabase};
use serde::Serialize;

use super::dead_letters::{self, DeadLetter};
use super::search::{Generation, SearchIndex, SearchWriter, Touched};
use super::store::{self, Meta, Opened, READ_STORE_FILE};
use super::tables::{Halt, ReadTables};
use super::{Bucketing, directory, orders};
use crate::domain::Event;
use crate::store::{LoggedEvent, WriteStore};
use crate::watch::Watch;

/// Events per rebuild batch: as many as a live batch. A batch's changed order views stay
/// decoded until it commits (the search index reads them), so its size is memory: `countertop
/// rebuild` of the Online Retail export (release, `/usr/bin/time`, three runs each) peaked at
/// 156 MB with 5,000, 121 MB with 2,500 and 99–105 MB with 1,000, for 4.2–4.9, 4.2–4.6 and
/// 5.0–6.0 s.
const REBUILD_BATCH: usize = 1000;
/// Longest time between search commits while there is something to commit.
pub(crate) const SEARCH_COMMIT: Duration = Duration::from_millis(300);

/// How the projector batches its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectorOptions {
    /// Events per live batch (one read-store transaction).
    pub batch: usize,
    /// Longest time a non-durable read-store commit waits for a durable one. A crash loses
    /// at most this much projection work (never events), which is then redone.
    pub durable_every: Duration,
}

impl Default for ProjectorOptions {
    fn default() -> ProjectorOptions {
        ProjectorOptions { batch: 1000, durable_every: Duration::from_secs(1) }
    }
}
const SEARCH_DIR: &str = "search";
const REBUILD_FILE: &str = "read.rebuild.redb";
const INTERRUPTED_NOTE: &str = "A rebuild of the reports was interrupted; it starts again from the beginning.";

/// Progress of a long job (a rebuild, a catch-up, a replay).
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Progress {
    pub what: String,
    pub done: u64,
    pub total: u64,
    /// Events per second so far.
    pub rate: f64,
    /// Seconds left at that rate.
    pub eta_seconds: Option<f64>,
}

impl Progress {
    pub(crate) fn new(what: &str, done: u64, total: u64, started: Instant) -> Progress {
        let secs = started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta_seconds = (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate);
        Progress { what: what.to_owned(), done, total, rate, eta_seconds }
    }
}

/// One projection's position.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ProjectionStatus {
    /// `tables` (read.redb) or `search` (the tantivy index).
    pub name: &'static str,
    pub checkpoint: u64,
    pub lag_events: u64,
    /// How long ago the oldest event it has not projected yet was committed (0 when caught up).
    pub lag_ms: u64,
}

/// The read side at a glance, for the UI's freshness badge and the system screen.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Status {
    pub head: u64,
    pub projections: Vec<ProjectionStatus>,
    pub dead_letters: u64,
    pub rebuild: Option<Progress>,
    /// What was found at start (a missing or damaged read store, …) and what was done about it.
    pub notes: Vec<String>,
    /// The last error the projector hit, if it is still failing.
    pub failing: Option<String>,
}

/// What the projector thread is asked to do besides following the log.
enum Request {
    Retry(Option<u64>, SyncSender<Result<Vec<DeadLetter>, crate::Error>>),
}

struct Inner {
    dir: PathBuf,
    write: WriteStore,
    db: RwLock<Arc<Database>>,
    search: SearchIndex,
    tables: Watch,
    searched: Watch,
    stop: AtomicBool,
    rebuild_requested: AtomicBool,
    /// A commit failed with a storage error: reopen `read.redb` before anything else.
    reopen: AtomicBool,
    /// `read.redb` holds something that cannot be right: replace it with an empty one and
    /// refill it from the log, before anything else.
    replace: AtomicBool,
    requests: Mutex<Vec<Request>>,
    progress: Mutex<Option<Progress>>,
    notes: Mutex<Vec<String>>,
    failing: Mutex<Option<String>>,
    search_start: u64,
    options: ProjectorOptions,
}

/// Stops and joins the projector when the last handle goes.
struct Guard {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.write.head().interrupt();
        if let Some(thread) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = thread.join();
        }
    }
}

/// The read side of a shop: the read store, the search index and the projector thread.
/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct ReadSide {
    inner: Arc<Inner>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for ReadSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSide").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

/// Opens `read.redb` in `dir`; one that is missing, damaged or outdated is replaced by an
/// empty one (set up with the shop's bucketing) and a note says so.
fn open_read_store(dir: &Path, write: &WriteStore, notes: &mut Vec<String>) -> Result<Database, crate::Error> {
    let path = dir.join(READ_STORE_FILE);
    Ok(match store::open(&path)? {
        Opened::Ready(db) => db,
        Opened::Fresh(db, found) => {
            if let Some(found) = found {
                notes.push(format!(
                    "The read store {} could not be used ({found}); it is being rebuilt from the event log.",
                    path.display()
                ));
            }
            if let Some(shop) = write.shop()? {
                set_bucketing(&db, &Bucketing { time_zone: shop.time_zone, day_start: shop.day_start })?;
            }
            db
        }
    })
}

/// After a failed commit (disk full, I/O error) redb refuses every later transaction until the
/// file is reopened. Reopens it and carries on from its last committed checkpoint, which may be
/// behind what was published (non-durable commits can be rolled back by redb's repair): the
/// tables re-apply from there and the index re-writes the same documents, so nothing counts
/// twice. The index writer rolls back to its last commit and re-indexes from there, and a
/// rebuild under way starts over. If the file cannot be opened yet, an empty in-memory store
/// stands in, stamped at position 0 — queries then show the whole log as lag rather than a
/// wrong answer — and the projector tries again after its back-off, doing nothing else.
///
/// With `discard`, the file is damaged: it is removed first, so the store opened is an empty
/// one that the projector refills from the log.
fn reopen_read_store(inner: &Inner, live: &mut Live, discard: bool) -> Result<(), crate::Error> {
    let mut slot = inner.db.write().unwrap_or_else(PoisonError::into_inner);
    if !crate::store::wait_sole_owner(&slot, Duration::from_secs(10)) {
        return Err(super::storage("the read store could not be reopened: queries kept it busy"));
    }
    drop(std::mem::replace(&mut *slot, Arc::new(store::in_memory()?)));
    if discard {
        let path = inner.dir.join(READ_STORE_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(super::storage(format!("cannot remove the damaged {}: {e}", path.display()))),
        }
    }
    let mut notes = Vec::new();
    let reopened = open_read_store(&inner.dir, &inner.write, &mut notes)?;
    let checkpoint = store::checkpoint(&reopened.begin_read()?)?;
    *slot = Arc::new(reopened);
    drop(slot);
    lock(&inner.notes).extend(notes);
    inner.tables.publish(checkpoint);
    live.dirty_since = None;
    // The index writer dies with a failed write too: back to the index's last commit.
    live.writer.rollback()?;
    live.indexed = inner.searched.current().min(checkpoint);
    // A rebuild under way has its own file and index writer, as likely broken: start it over.
    if live.rebuild.take().is_some() {
        inner.rebuild_requested.store(true, Ordering::SeqCst);
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ReadSide {
    /// Opens (or creates, or replaces when it cannot be trusted) the read store and search
    /// index in `dir`, and starts the projector.
    pub(crate) fn open(dir: &Path, write: WriteStore, options: ProjectorOptions) -> Result<ReadSide, crate::Error> {
        let mut notes = Vec::new();
        // The rebuild's file lives from its start to the swap: still there means a rebuild was
        // cut short (the app was killed or the machine stopped). It starts again.
        let interrupted = std::fs::remove_file(dir.join(REBUILD_FILE)).is_ok();
        if interrupted {
            notes.push(INTERRUPTED_NOTE.to_owned());
        }
        let db = open_read_store(dir, &write, &mut notes)?;
        let (checkpoint, stale) = {
            let txn = db.begin_read()?;
            (store::checkpoint(&txn)?, bucketing_changed(&write, store::bucketing(&txn)?)?)
        };
        if stale {
            notes.push(BUCKETING_NOTE.to_owned());
        }
        let (search, mut search_cp, problem) = SearchIndex::open(&dir.join(SEARCH_DIR))?;
        if let Some(problem) = problem {
            notes.push(format!("{}; it is being rebuilt from the event log.", capitalise(&problem)));
        }
        if search_cp > checkpoint {
            search.writer()?.clear()?;
            search.reload()?;
            search_cp = 0;
        }
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            write,
            db: RwLock::new(Arc::new(db)),
            search,
            tables: Watch::new(checkpoint),
            searched: Watch::new(search_cp),
            stop: AtomicBool::new(false),
            rebuild_requested: AtomicBool::new(stale || interrupted),
            reopen: AtomicBool::new(false),
            replace: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            progress: Mutex::new(None),
            notes: Mutex::new(notes),
            failing: Mutex::new(None),
            search_start: search_cp,
            options,
        });
        let thread = std::thread::Builder::new()
            .name("countertop-projector".into())
            .spawn({
                let inner = Arc::clone(&inner);
                move || run(&inner)
            })
            .map_err(|e| crate::Error::Internal(format!("cannot start the projector thread: {e}")))?;
        let guard = Arc::new(Guard { inner: Arc::clone(&inner), thread: Mutex::new(Some(thread)) });
        Ok(ReadSide { inner, _guard: guard })
    }

    pub(crate) fn write(&self) -> &WriteStore {
        &self.inner.write
    }

    /// The current read store (a rebuild may swap it; callers hold the `Arc` for one query).
    pub(crate) fn db(&self) -> Arc<Database> {
        Arc::clone(&self.inner.db.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn search_index(&self) -> &SearchIndex {
        &self.inner.search
    }

    /// The tables' checkpoint, published after each batch.
    pub(crate) fn tables_watch(&self) -> &Watch {
        &self.inner.tables
    }

    /// The search index's checkpoint, published after each search commit.
    pub(crate) fn search_watch(&self) -> &Watch {
        &self.inner.searched
    }

    /// The read store was found damaged (`why`): it is replaced by an empty one refilled from
    /// the log (queries meanwhile say how far behind they are, never a wrong number).
    pub(crate) fn replace_damaged(&self, why: &str) {
        if !self.inner.replace.swap(true, Ordering::SeqCst) {
            lock(&self.inner.notes)
                .push(format!("The reports were damaged ({why}); they are being rebuilt from the event log."));
        }
        self.inner.write.head().interrupt();
    }

    /// Asks for a blue-green rebuild of every projection; the current ones keep serving.
    pub(crate) fn request_rebuild(&self) {
        self.inner.rebuild_requested.store(true, Ordering::SeqCst);
        self.inner.write.head().interrupt();
    }

    pub(crate) fn rebuild_progress(&self) -> Option<Progress> {
        lock(&self.inner.progress).clone()
    }

    pub(crate) fn rebuild_pending(&self) -> bool {
        self.inner.rebuild_requested.load(Ordering::SeqCst) || lock(&self.inner.progress).is_some()
    }

    /// Re-applies parked events (one position, or all) and returns the letters still parked.
    pub(crate) fn retry_dead_letters(&self, position: Option<u64>) -> Result<Vec<DeadLetter>, crate::Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        lock(&self.inner.requests).push(Request::Retry(position, tx));
        self.inner.write.head().interrupt();
        rx.recv().map_err(|_| crate::Error::Closed)?
    }

    pub(crate) fn status(&self) -> Result<Status, crate::Error> {
        let head = self.inner.write.head().current();
        let lag = |checkpoint: u64| -> Result<u64, crate::Error> {
            if checkpoint >= head {
                return Ok(0);
            }
            let next = self.inner.write.events_each(checkpoint + 1, 1)?;
            Ok(match next.first() {
                Some((_, Ok(e))) => u64::try_from((Utc::now() - e.recorded_at).num_milliseconds()).unwrap_or(0),
                _ => 0,
            })
        };
        let tables = self.inner.tables.current();
        let searched = self.inner.searched.current();
        let db = self.db();
        let txn = db.begin_read()?;
        Ok(Status {
            head,
            projections: vec![
                ProjectionStatus {
                    name: "tables",
                    checkpoint: tables,
                    lag_events: head.saturating_sub(tables),
                    lag_ms: lag(tables)?,
                },
                ProjectionStatus {
                    name: "search",
                    checkpoint: searched,
                    lag_events: head.saturating_sub(searched),
                    lag_ms: lag(searched)?,
                },
            ],
            dead_letters: dead_letters::count(&txn)?,
            rebuild: self.rebuild_progress(),
            notes: lock(&self.inner.notes).clone(),
            failing: lock(&self.inner.failing).clone(),
        })
    }
}

const BUCKETING_NOTE: &str = "The shop's time zone or day start changed; the read models are being rebuilt.";

/// Whether the read store's business days differ from the shop's current settings.
fn bucketing_changed(write: &WriteStore, have: Option<Bucketing>) -> Result<bool, crate::Error> {
    let want = write.shop()?.map(|s| Bucketing { time_zone: s.time_zone, day_start: s.day_start });
    Ok(want.is_some() && have.is_some() && have != want)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn set_bucketing(db: &Database, bucketing: &Bucketing) -> Result<(), crate::Error> {
    let txn = db.begin_write()?;
    Meta::open(&txn)?.set_bucketing(bucketing)?;
    txn.commit()?;
    Ok(())
}

/// What [`apply_batch`] did.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The read store's new checkpoint.
    pub checkpoint: u64,
    /// Panics of ours caught on the way ([`crate::Error::Bug`]); each parked its projection for
    /// its event as a dead letter. For the data folder's log.
    pub bugs: Vec<crate::Error>,
    /// The order views the batch changed, as committed: the search index's documents.
    pub views: Vec<orders::OrderView>,
}

/// Applies a batch of events to a read store in one transaction, with its new checkpoint.
/// Events a projection cannot apply are parked as dead letters, and so is an event a projection
/// panics on: that attempt's transaction is dropped (the projection may have written half its
/// rows) and the batch applied again with that projection left out for that event. A stored
/// event can never stop the projector.
pub(crate) fn apply_batch(db: &Database, events: &[LoggedEvent], durable: bool) -> Result<Applied, crate::Error> {
    let mut panicked = Vec::new();
    loop {
        // redb's panics on a damaged page of the read store are read-side damage.
        let attempt = super::on_read_store(|| Ok(apply_batch_once(db, events, durable, &panicked)))
            .map_err(Halt::Failed)
            .and_then(|attempt| attempt);
        match attempt {
            Ok((checkpoint, views)) => {
                let bugs = panicked.into_iter().map(|(_, _, bug)| bug).collect();
                return Ok(Applied { checkpoint, bugs, views });
            }
            // Each round leaves out one more (event, projection), so this ends.
            Err(Halt::Panicked { position, projection, bug })
                if !panicked.iter().any(|(p, n, _)| *p == position && *n == projection) =>
            {
                panicked.push((position, projection, *bug));
            }
            Err(halt) => return Err(halt.into()),
        }
    }
}

/// One attempt at [`apply_batch`], leaving out the `(position, projection)`s in `panicked`.
fn apply_batch_once(
    db: &Database,
    events: &[LoggedEvent],
    durable: bool,
    panicked: &[(u64, &'static str, crate::Error)],
) -> Result<(u64, Vec<orders::OrderView>), Halt> {
    let failed = |e: crate::Error| Halt::Failed(super::read_side(e));
    let mut txn = db.begin_write().map_err(|e| failed(e.into()))?;
    txn.set_durability(if durable { Durability::Immediate } else { Durability::None }).map_err(|e| failed(e.into()))?;
    let mut checkpoint;
    let views;
    {
        let mut meta = Meta::open(&txn).map_err(failed)?;
        checkpoint = meta.checkpoint().map_err(failed)?;
        let mut bucketing = meta.bucketing().map_err(failed)?;
        let mut tables = ReadTables::open(&txn).map_err(failed)?;
        let mut letters = dead_letters::Tables::open(&txn).map_err(failed)?;
        for (position, event) in events {
            if *position <= checkpoint {
                continue;
            }
            match event {
                Err(e) => letters
                    .park(&DeadLetter {
                        position: *position,
                        projection: "decode".into(),
                        event_type: None,
                        error: e.to_string(),
                        recorded_at: None,
                    })
                    .map_err(failed)?,
                Ok(envelope) => {
                    if bucketing.is_none()
                        && let Event::ShopOpened(e) = &envelope.event
                    {
                        let b = Bucketing { time_zone: e.shop.time_zone, day_start: e.shop.day_start };
                        meta.set_bucketing(&b).map_err(failed)?;
                        bucketing = Some(b);
                    }
                    let left_out = || panicked.iter().filter(|(p, ..)| p == position);
                    let wanted = |name: &str| !left_out().any(|(_, n, _)| *n == name);
                    let mut failures = tables.apply(envelope, &bucketing.unwrap_or_default(), wanted)?;
                    failures.extend(left_out().map(|(_, projection, bug)| (*projection, bug_dead_letter(bug))));
                    for (projection, error) in failures {
                        letters
                            .park(&DeadLetter {
                                position: *position,
                                projection: projection.into(),
                                event_type: Some(envelope.event_type.clone()),
                                error,
                                recorded_at: Some(envelope.recorded_at),
                            })
                            .map_err(failed)?;
                    }
                }
            }
            checkpoint = *position;
        }
        views = tables.finish().map_err(failed)?;
        meta.set_checkpoint(checkpoint).map_err(failed)?;
    }
    txn.commit().map_err(|e| failed(e.into()))?;
    Ok((checkpoint, views))
}

/// The dead letter of a projection that panicked on an event.
fn bug_dead_letter(bug: &crate::Error) -> String {
    match bug {
        crate::Error::Bug { message, location, .. } => format!(
            "Countertop hit a bug here ({message}, at {location}); this report left the event out and went on. Please report it (the details are in {})",
            crate::store::LOG_FILE
        ),
        other => other.to_string(),
    }
}

/// Makes earlier non-durable commits durable.
fn flush(db: &Database) -> Result<(), crate::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.commit()?;
    Ok(())
}

/// Writes the search documents for what `events` touched, from `views` (the ones the batch
/// that applied `events` wrote) or else from the views in `db`.
fn index(
    db: &Database,
    writer: &mut SearchWriter,
    events: &[LoggedEvent],
    views: &[orders::OrderView],
) -> Result<(), crate::Error> {
    let mut touched = Touched::default();
    for (_, event) in events {
        if let Ok(envelope) = event {
            touched.note(&envelope.event);
        }
    }
    if touched.is_empty() {
        return Ok(());
    }
    let txn = db.begin_read()?;
    let orders = orders::Reader::open(&txn)?;
    for id in &touched.customers {
        if let Some(info) = directory::customer(&txn, id)? {
            writer.customer(&info)?;
        }
        // A renamed customer's orders are found by the new name too (those the batch touched
        // are written below anyway).
        let (views, _) = orders.customer_orders(id, 0, usize::MAX)?;
        for view in views.iter().filter(|view| !touched.orders.contains(&view.id)) {
            writer.order(view)?;
        }
    }
    for sku in &touched.products {
        if let Some(info) = directory::product(&txn, sku)? {
            writer.product(&info)?;
        }
    }
    for id in &touched.orders {
        match views.binary_search_by(|view| view.id.as_str().cmp(id.as_str())) {
            Ok(found) => writer.order(&views[found])?,
            Err(_) => {
                if let Some(view) = orders.view(id)? {
                    writer.order(&view)?;
                }
            }
        }
    }
    Ok(())
}

/// A blue-green rebuild in progress: a fresh read store and index generation, filled from the
/// log while the live ones keep serving, swapped in once caught up.
struct Rebuild {
    db: Database,
    path: PathBuf,
    generation: Generation,
    writer: SearchWriter,
    checkpoint: u64,
    started: Instant,
    /// When the rebuilt store and index last committed durably: like the live ones, at least
    /// every `durable_every`, so neither piles up work in memory until the swap.
    last_durable: Instant,
}

/// The projector thread's own state.
struct Live {
    writer: SearchWriter,
    /// Position up to which documents were written to `writer` (committed or not).
    indexed: u64,
    last_search_commit: Instant,
    dirty_since: Option<Instant>,
    rebuild: Option<Rebuild>,
}

fn run(inner: &Inner) {
    let mut backoff = Duration::from_millis(100);
    // Without a search writer nothing projects (the index follows the tables batch by batch):
    // one that cannot be had now (a full disk, a lock another process still holds) is said in
    // the status and asked for again, never given up on while the shop is open.
    let writer = loop {
        let interrupts = inner.write.head().interrupts();
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        match inner.search.writer() {
            Ok(writer) => break writer,
            Err(e) => {
                *lock(&inner.failing) = Some(explain(&inner.dir, &e));
                inner.write.head().wait_past_since(u64::MAX, interrupts, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    };
    lock(&inner.failing).take();
    backoff = Duration::from_millis(100);
    let mut live = Live {
        writer,
        indexed: inner.search_start,
        last_search_commit: Instant::now(),
        dirty_since: None,
        rebuild: None,
    };
    loop {
        // Read before checking for work (and for stop, which is set before its interrupt): a
        // request or stop that comes while working still wakes the wait below.
        let interrupts = inner.write.head().interrupts();
        if inner.stop.load(Ordering::SeqCst) {
            break;
        }
        let head = inner.write.head().current();
        // A bug of ours that panics while projecting is said in the status and tried again
        // later, like a failed commit: the thread never ends while the shop is open.
        let stepped = crate::store::contain_damage(|| step(inner, &mut live, head));
        match stepped {
            Ok(true) => {
                backoff = Duration::from_millis(100);
                lock(&inner.failing).take();
            }
            Ok(false) => {
                lock(&inner.failing).take();
                let timeout = if live.writer.has_pending() || live.indexed > inner.searched.current() {
                    SEARCH_COMMIT.saturating_sub(live.last_search_commit.elapsed()).max(Duration::from_millis(5))
                } else {
                    Duration::from_secs(3600)
                };
                inner.write.head().wait_past_since(head, interrupts, timeout);
            }
            Err(e) => {
                *lock(&inner.failing) = Some(explain(&inner.dir, &e));
                match &e {
                    crate::Error::Storage { .. } => inner.reopen.store(true, Ordering::SeqCst),
                    crate::Error::ReadModel { detail } => {
                        lock(&inner.notes).push(format!(
                            "The reports were damaged ({detail}); they are being rebuilt from the event log."
                        ));
                        inner.replace.store(true, Ordering::SeqCst);
                    }
                    _ => {}
                }
                inner.write.head().wait_past_since(u64::MAX, interrupts, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    // Leave everything durable and committed on a clean stop.
    let db = Arc::clone(&inner.db.read().unwrap_or_else(PoisonError::into_inner));
    let _ = flush(&db);
    if live.writer.has_pending() || live.indexed > inner.searched.current() {
        let _ = live.writer.commit(live.indexed);
    }
}

/// What to show for a failure. tantivy reports a failed write in its worker thread only as
/// "an index writer was killed" (the I/O error itself is gone), which tells nobody what to do;
/// then a small test write in the data directory finds the cause (a full disk, most often).
fn explain(dir: &Path, e: &crate::Error) -> String {
    let message = e.to_string();
    if !message.contains("index writer was killed") {
        return message;
    }
    let probe = dir.join(SEARCH_DIR).join(".space-probe");
    let written = std::fs::write(&probe, [0u8; 1 << 16]).and_then(|()| std::fs::File::open(&probe)?.sync_all());
    let _ = std::fs::remove_file(&probe);
    match written {
        Err(io) => crate::Error::Storage {
            path: dir.join(SEARCH_DIR),
            detail: format!("the search index could not be written: {io}"),
        }
        .to_string(),
        Ok(()) => message,
    }
}

/// Does one unit of work; `false` when there was nothing to do.
fn step(inner: &Inner, live: &mut Live, head: u64) -> Result<bool, crate::Error> {
    if inner.replace.load(Ordering::SeqCst) {
        reopen_read_store(inner, live, true)?;
        inner.replace.store(false, Ordering::SeqCst);
        inner.reopen.store(false, Ordering::SeqCst);
    }
    if inner.reopen.load(Ordering::SeqCst) {
        reopen_read_store(inner, live, false)?;
        inner.reopen.store(false, Ordering::SeqCst);
    }
    let db = Arc::clone(&inner.db.read().unwrap_or_else(PoisonError::into_inner));
    let requests = std::mem::take(&mut *lock(&inner.requests));
    for request in requests {
        match request {
            Request::Retry(position, reply) => {
                let _ = reply.send(retry(inner, &db, live, position));
            }
        }
    }

    // 1. The tables follow the log.
    let tables = inner.tables.current();
    if tables < head {
        let batch = inner.options.batch.max(1);
        let events = inner.write.events_each(tables + 1, batch)?;
        let durable = inner.options.durable_every.is_zero()
            || live.dirty_since.is_some_and(|t| t.elapsed() >= inner.options.durable_every);
        let applied = apply_batch(&db, &events, durable)?;
        write_down(&inner.dir, &applied.bugs);
        let checkpoint = applied.checkpoint;
        live.dirty_since = if durable { None } else { live.dirty_since.or(Some(Instant::now())) };
        let shop_changed =
            events.iter().any(|(_, e)| matches!(e, Ok(env) if matches!(env.event, Event::ShopSettingsChanged(_))));
        if shop_changed
            && live.rebuild.is_none()
            && bucketing_changed(&inner.write, store::bucketing(&db.begin_read()?)?)?
        {
            // Before publishing, so nobody sees "caught up" with days cut the old way.
            lock(&inner.notes).push(BUCKETING_NOTE.to_owned());
            inner.rebuild_requested.store(true, Ordering::SeqCst);
        }
        inner.tables.publish(checkpoint);
        // 2. The index follows the tables, from the same batch when it is contiguous.
        if live.indexed == tables {
            index(&db, &mut live.writer, &events, &applied.views)?;
            live.indexed = checkpoint;
        }
        commit_search_if_due(inner, live)?;
        return Ok(true);
    }

    // 2'. The index catches up on its own (after a start or a failed commit).
    if live.indexed < tables {
        let events = inner
            .write
            .events_each(live.indexed + 1, usize::try_from(tables - live.indexed).unwrap_or(usize::MAX).min(1000))?;
        index(&db, &mut live.writer, &events, &[])?;
        live.indexed = events.last().map_or(tables, |(p, _)| *p);
        commit_search_if_due(inner, live)?;
        return Ok(true);
    }

    // 3. A rebuild, one batch at a time between live batches.
    if live.rebuild.is_none() && inner.rebuild_requested.load(Ordering::SeqCst) {
        // The progress is set before the request is cleared: a rebuild is never invisible.
        live.rebuild = Some(start_rebuild(inner)?);
        inner.rebuild_requested.store(false, Ordering::SeqCst);
    }
    if let Some(rebuild) = &mut live.rebuild {
        let total = head;
        if rebuild.checkpoint < head {
            let events = inner.write.events_each(rebuild.checkpoint + 1, REBUILD_BATCH)?;
            let durable = rebuild.last_durable.elapsed() >= inner.options.durable_every;
            let applied = apply_batch(&rebuild.db, &events, durable)?;
            write_down(&inner.dir, &applied.bugs);
            rebuild.checkpoint = applied.checkpoint;
            index(&rebuild.db, &mut rebuild.writer, &events, &applied.views)?;
            if durable {
                // The new index commits with the tables, so an uncommitted writer does not
                // hold a whole rebuild's deletes and segments until the swap (at a million
                // orders that took the bench's peak memory from 1,178 MB to 567 MB).
                rebuild.writer.commit(rebuild.checkpoint)?;
                rebuild.last_durable = Instant::now();
            }
            *lock(&inner.progress) = Some(Progress::new("rebuild", rebuild.checkpoint, total, rebuild.started));
            return Ok(true);
        }
        if let Some(rebuild) = live.rebuild.take() {
            finish_rebuild(inner, live, rebuild)?;
        }
        return Ok(true);
    }

    // 4. Idle: make things durable and visible.
    let mut worked = false;
    if live.dirty_since.is_some() {
        flush(&db)?;
        live.dirty_since = None;
        worked = true;
    }
    worked |= commit_search_if_due(inner, live)?;
    Ok(worked)
}

/// Writes the bugs a batch met down in the data folder's log (each is also a dead letter).
fn write_down(dir: &Path, bugs: &[crate::Error]) {
    for bug in bugs {
        if let crate::Error::Bug { message, location, .. } = bug {
            crate::store::write_down(&dir.join(crate::store::LOG_FILE), message, location, "the event was parked");
        }
    }
}

/// Commits the index when something is waiting and the last commit is [`SEARCH_COMMIT`] old.
fn commit_search_if_due(inner: &Inner, live: &mut Live) -> Result<bool, crate::Error> {
    let waiting = live.writer.has_pending() || live.indexed > inner.searched.current();
    if !waiting || live.last_search_commit.elapsed() < SEARCH_COMMIT {
        return Ok(false);
    }
    live.writer.commit(live.indexed)?;
    inner.search.reload()?;
    inner.searched.publish(live.indexed);
    live.last_search_commit = Instant::now();
    Ok(true)
}

fn start_rebuild(inner: &Inner) -> Result<Rebuild, crate::Error> {
    let path = inner.dir.join(REBUILD_FILE);
    let _ = std::fs::remove_file(&path);
    let db = store::create(&path)?;
    if let Some(shop) = inner.write.shop()? {
        set_bucketing(&db, &Bucketing { time_zone: shop.time_zone, day_start: shop.day_start })?;
    }
    let generation = inner.search.next_generation()?;
    let writer = generation.writer()?;
    *lock(&inner.progress) = Some(Progress::new("rebuild", 0, inner.write.head().current(), Instant::now()));
    Ok(Rebuild { db, path, generation, writer, checkpoint: 0, started: Instant::now(), last_durable: Instant::now() })
}

/// Swaps a caught-up rebuild in: the file is renamed over `read.redb` (atomic), the index
/// pointer moves to the new generation (atomic), and the live handles switch.
fn finish_rebuild(inner: &Inner, live: &mut Live, mut rebuild: Rebuild) -> Result<(), crate::Error> {
    flush(&rebuild.db)?;
    rebuild.writer.commit(rebuild.checkpoint)?;
    let target = inner.dir.join(READ_STORE_FILE);
    std::fs::rename(&rebuild.path, &target)
        .map_err(|e| super::storage(format!("cannot swap in the rebuilt read store: {e}")))?;
    if let Ok(dir) = std::fs::File::open(&inner.dir) {
        let _ = dir.sync_all();
    }
    *inner.db.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rebuild.db);
    inner.search.swap_in(rebuild.generation)?;
    inner.search.reload()?;
    live.writer = rebuild.writer;
    live.indexed = rebuild.checkpoint;
    live.dirty_since = None;
    live.last_search_commit = Instant::now();
    inner.tables.publish(rebuild.checkpoint);
    inner.searched.publish(rebuild.checkpoint);
    lock(&inner.progress).take();
    Ok(())
}

fn retry(
    inner: &Inner,
    db: &Database,
    live: &mut Live,
    position: Option<u64>,
) -> Result<Vec<DeadLetter>, crate::Error> {
    let letters = {
        let txn = db.begin_read()?;
        dead_letters::list(&txn)?
    };
    let mut retried = Vec::new();
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    let views;
    {
        let meta = Meta::open(&txn)?;
        let bucketing = meta.bucketing()?.unwrap_or_default();
        let mut tables = ReadTables::open(&txn)?;
        let mut parked = dead_letters::Tables::open(&txn)?;
        for letter in letters.iter().filter(|l| position.is_none_or(|p| p == l.position)) {
            let Some((_, Ok(envelope))) = inner.write.events_each(letter.position, 1)?.into_iter().next() else {
                continue;
            };
            let only = (letter.projection != "decode").then_some(letter.projection.as_str());
            let failed = tables.apply(&envelope, &bucketing, |name| only.is_none_or(|o| o == name))?;
            retried.push((letter.position, Ok(envelope.clone())));
            parked.remove(letter.position, &letter.projection)?;
            for (projection, error) in failed {
                parked.park(&DeadLetter {
                    position: letter.position,
                    projection: projection.into(),
                    event_type: Some(envelope.event_type.clone()),
                    error,
                    recorded_at: Some(envelope.recorded_at),
                })?;
            }
        }
        views = tables.finish()?;
    }
    txn.commit()?;
    live.dirty_since = None;
    index(db, &mut live.writer, &retried, &views)?;
    let txn = db.begin_read()?;
    dead_letters::list(&txn)
}
