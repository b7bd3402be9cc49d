//! The writer thread: the only code that opens write transactions on the write store.
//!
//! Callers send jobs over a channel and block on a reply. The thread takes every interactive
//! job waiting in the channel (up to [`MAX_GROUP`] commands), decides and appends them in
//! **one** write transaction, makes it durable (one journal record and its fsync, see
//! [`super::journal`]), and only then replies to each caller and publishes the new head. So
//! concurrent callers share one fsync (group commit) and no caller is acknowledged before its
//! events are on disk.
//!
//! Bulk jobs (an import's group of a few thousand commands) run when no interactive job is
//! waiting, one command at a time in one transaction. An interactive job that arrives
//! meanwhile does not wait for the rest of the bulk job: it joins the open transaction, which
//! commits at once (with the bulk commands done so far), and the bulk job goes on in the next
//! transaction. So an order taken at the counter during an import waits for one command and
//! one commit, not for the import's whole group.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

use chrono::Utc;
use redb::{Database, Durability, WriteTransaction};

use super::commands::{Accepted, CommandTable};
use super::journal::{Journal, Puts};
use super::log::LogWriter;
use super::replica::{Arrival, Identity, Incoming, OutboxMark};
use super::slot::DbSlot;
use super::state::StateTables;
use super::{Entity, Error, Outcome, Request};
use crate::domain::{self, Command, Event, Rejection, StreamId};
use crate::watch::Watch;

/// Most commands folded into one transaction by group commit.
const MAX_GROUP: usize = 4096;

/// Most characters in a command id.
const COMMAND_ID_MAX: usize = 128;

type Results = Vec<Result<Outcome, Error>>;

/// Where a batch or bulk job's results go.
pub(super) type BatchReply = SyncSender<Result<Results, Error>>;

pub(super) enum Job {
    One(Box<Request>, SyncSender<Result<Outcome, Error>>),
    /// Commands committed together or not at all.
    Batch(Vec<Request>, BatchReply),
    /// Commands that may commit in several transactions, giving way to interactive jobs.
    Bulk(Vec<Request>, BatchReply),
    /// Sync's writes: other devices' events, this device's identity, the outbox's mark.
    Sync(SyncJob, SyncSender<Result<SyncAnswer, Error>>),
}

pub(super) enum SyncJob {
    /// Other devices' events, and the hub sequence of the last message they came in (all
    /// before it are here once this commits, if none is refused).
    Receive(Vec<Incoming>, u64),
    Join(Identity),
    Acked(OutboxMark),
}

pub(super) enum SyncAnswer {
    Arrivals(Vec<Arrival>),
    Done,
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::One(..) => 1,
            Job::Batch(requests, _) | Job::Bulk(requests, _) => requests.len(),
            Job::Sync(SyncJob::Receive(events, _), _) => events.len(),
            Job::Sync(..) => 1,
        }
    }

    /// How many command results the job takes from a group's results (sync jobs answer apart).
    fn results(&self) -> usize {
        match self {
            Job::Sync(..) => 0,
            job => job.len(),
        }
    }
}

/// A group's answers: each command's, and each sync job's, in order.
#[derive(Default)]
struct Answers {
    results: Results,
    sync: Vec<Result<SyncAnswer, Error>>,
}

/// A bulk job under way: the commands already committed and their results.
struct Bulk {
    requests: Vec<Request>,
    results: Results,
    reply: BatchReply,
}

/// The jobs received and not yet done: interactive ones first, bulk ones when none wait.
struct Queue {
    rx: Receiver<Job>,
    interactive: VecDeque<Job>,
    bulk: VecDeque<Bulk>,
    disconnected: bool,
}

impl Queue {
    /// Moves every job waiting in the channel into the queues; with `block`, first waits for
    /// one when both queues are empty (at most `timeout`, when given). `false` once there is
    /// nothing left to do, ever.
    fn fill(&mut self, block: bool, timeout: Option<Duration>) -> bool {
        if block && self.is_empty() && !self.disconnected {
            let received = match timeout {
                None => self.rx.recv().map_err(|_| true),
                Some(t) => self.rx.recv_timeout(t).map_err(|e| matches!(e, RecvTimeoutError::Disconnected)),
            };
            match received {
                Ok(job) => self.push(job),
                Err(disconnected) => self.disconnected = disconnected,
            }
        }
        while !self.disconnected {
            match self.rx.try_recv() {
                Ok(job) => self.push(job),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.disconnected = true,
            }
        }
        !(self.disconnected && self.is_empty())
    }

    fn is_empty(&self) -> bool {
        self.interactive.is_empty() && self.bulk.is_empty()
    }

    fn push(&mut self, job: Job) {
        match job {
            Job::Bulk(requests, reply) => {
                self.bulk.push_back(Bulk { results: Vec::with_capacity(requests.len()), requests, reply })
            }
            job => self.interactive.push_back(job),
        }
    }

    /// The interactive jobs for one transaction (at least one, then up to [`MAX_GROUP`]
    /// commands).
    fn take_group(&mut self) -> Vec<Job> {
        let mut group = Vec::new();
        let mut size = 0;
        while let Some(job) = self.interactive.pop_front() {
            size += job.len();
            group.push(job);
            if size >= MAX_GROUP {
                break;
            }
        }
        group
    }
}

pub(super) fn run(db: Arc<DbSlot>, mut journal: Journal, jobs: Receiver<Job>, head: Watch) {
    let mut queue = Queue { rx: jobs, interactive: VecDeque::new(), bulk: VecDeque::new(), disconnected: false };
    while queue.fill(true, journal.durable_due()) {
        // Idle with journal records not yet durable in redb itself, or a journal that has
        // grown big or old under steady load: make them durable in redb.
        if (queue.is_empty() || journal.must_checkpoint())
            && !journal.is_empty()
            && let Err(e) = db.get().and_then(|open| super::damage::contain(|| checkpoint(&open, &mut journal)))
        {
            after_failure(&db, &mut journal, &e);
        }
        if queue.is_empty() {
            continue;
        }
        // A reopen that failed earlier is tried again first (the disk may have space now).
        if db.is_closed()
            && let Err(e) = db.reopen().and_then(|()| journal.resync(&*db.get()?))
        {
            fail(queue.take_group(), &e);
            if let Some(bulk) = queue.bulk.pop_front() {
                let _ = bulk.reply.send(Err(e));
            }
            continue;
        }
        let group = queue.take_group();
        if !group.is_empty() {
            match db.get().and_then(|open| super::damage::contain(|| commit_group(&open, &group, &mut journal))) {
                Ok((results, new_head)) => {
                    head.publish(new_head);
                    reply(group, results);
                }
                Err(e) => {
                    fail(group, &e);
                    after_failure(&db, &mut journal, &e);
                }
            }
            continue;
        }
        let Some(mut bulk) = queue.bulk.pop_front() else { continue };
        let mut joined = Vec::new();
        let result = db.get().and_then(|open| {
            super::damage::contain(|| commit_bulk(&open, &bulk, &mut queue, &mut joined, &mut journal))
        });
        match result {
            Ok((done, joined_results, new_head)) => {
                head.publish(new_head);
                reply(joined, joined_results);
                bulk.results.extend(done);
                if bulk.results.len() < bulk.requests.len() {
                    queue.bulk.push_front(bulk);
                } else {
                    let _ = bulk.reply.send(Ok(bulk.results));
                }
            }
            Err(e) => {
                fail(joined, &e);
                let _ = bulk.reply.send(Err(e.clone()));
                after_failure(&db, &mut journal, &e);
            }
        }
    }
    // A clean stop leaves everything durable in redb and the journal with nothing to replay.
    if !journal.is_empty() {
        let _ = db.get().and_then(|open| super::damage::contain(|| checkpoint(&open, &mut journal)));
    }
}

/// redb refuses all later transactions after a failed commit until reopened; nothing of the
/// failed transaction was written, so reopening loses nothing (the reopen replays the journal,
/// so acknowledged records not yet durable in redb come back too).
fn after_failure(db: &DbSlot, journal: &mut Journal, e: &Error) {
    if matches!(e, Error::Storage { .. })
        && db.reopen().is_ok()
        && let Ok(open) = db.get()
    {
        let _ = journal.resync(&open);
    }
}

/// Makes every journaled commit durable in redb and lets the journal start over.
fn checkpoint(db: &Database, journal: &mut Journal) -> Result<(), Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.commit()?;
    journal.restart();
    Ok(())
}

/// Commits a transaction whose writes are `puts`. A small one goes through the journal: its
/// record is appended and fsynced, then redb commits without an fsync of its own. A large
/// one (an import's, or one with many commands) commits durably in redb, which covers every
/// journaled commit before it, so the journal starts over. Either way the transaction is
/// durable when this returns `Ok`.
fn commit(mut txn: WriteTransaction, puts: &Puts, journal: &mut Journal, bulk: bool) -> Result<(), Error> {
    if bulk || puts.len() > super::journal::MAX_RECORD {
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        journal.restart();
        return Ok(());
    }
    if puts.is_empty() {
        // Every command was refused or had been seen before: nothing to make durable.
        txn.abort()?;
        return Ok(());
    }
    let seq = journal.next_seq();
    super::journal::mark_applied(&txn, seq)?;
    txn.set_durability(Durability::None)?;
    let at = journal.len();
    journal.append(seq, puts)?;
    if let Err(e) = txn.commit() {
        // The record must not come back at the next open: this commit is reported as failed.
        let _ = journal.retract(seq, at);
        return Err(e.into());
    }
    Ok(())
}

/// Decides and appends every request of the group in one transaction and commits it.
/// Returns each request's result (in order) and the new head. Any storage error aborts the
/// whole transaction: then nothing of the group was written.
fn commit_group(db: &Database, group: &[Job], journal: &mut Journal) -> Result<(Answers, u64), Error> {
    let txn = db.begin_write()?;
    let (results, head, puts);
    {
        let mut tables = Tables::open(&txn)?;
        results = tables.execute_group(group)?;
        head = tables.log.next_position() - 1;
        puts = tables.take_puts();
    }
    commit(txn, &puts, journal, false)?;
    Ok((results, head))
}

/// Runs the rest of a bulk job in one transaction, until an interactive job arrives: that one
/// (with any others waiting, moved to `joined`) runs in the same transaction, which then
/// commits. Returns the bulk commands' results, the joined jobs' results and the new head.
/// Any storage error aborts the transaction: then nothing of it was written (earlier
/// transactions of the bulk job stay committed).
fn commit_bulk(
    db: &Database,
    bulk: &Bulk,
    queue: &mut Queue,
    joined: &mut Vec<Job>,
    journal: &mut Journal,
) -> Result<(Results, Answers, u64), Error> {
    let txn = db.begin_write()?;
    let mut done = Vec::new();
    let mut joined_results = Answers::default();
    let (head, puts);
    {
        let mut tables = Tables::open(&txn)?;
        // A bulk transaction commits durably in redb; its writes need no journal record.
        tables.without_journal();
        for request in &bulk.requests[bulk.results.len()..] {
            done.push(tables.execute_in_group(request)?);
            queue.fill(false, None);
            if !queue.interactive.is_empty() {
                *joined = queue.take_group();
                joined_results = tables.execute_group(joined)?;
                break;
            }
        }
        head = tables.log.next_position() - 1;
        puts = tables.take_puts();
    }
    commit(txn, &puts, journal, true)?;
    Ok((done, joined_results, head))
}

fn reply(group: Vec<Job>, answers: Answers) {
    let mut results = answers.results.into_iter();
    let mut sync = answers.sync.into_iter();
    for job in group {
        // A caller that gave up waiting has dropped its receiver; its command is committed
        // all the same and a retry with the same command id returns this result.
        match job {
            Job::One(_, tx) => {
                let result = results.next().unwrap_or_else(|| Err(Error::Internal("a result went missing".into())));
                let _ = tx.send(result);
            }
            Job::Batch(requests, tx) | Job::Bulk(requests, tx) => {
                let _ = tx.send(Ok(results.by_ref().take(requests.len()).collect()));
            }
            Job::Sync(_, tx) => {
                let answer = sync.next().unwrap_or_else(|| Err(Error::Internal("a sync answer went missing".into())));
                let _ = tx.send(answer);
            }
        }
    }
}

fn fail(group: Vec<Job>, e: &Error) {
    for job in group {
        match job {
            Job::One(_, tx) => {
                let _ = tx.send(Err(e.clone()));
            }
            Job::Batch(_, tx) | Job::Bulk(_, tx) => {
                let _ = tx.send(Err(e.clone()));
            }
            Job::Sync(_, tx) => {
                let _ = tx.send(Err(e.clone()));
            }
        }
    }
}

/// Every table a command touches, opened once per transaction.
pub(super) struct Tables<'txn> {
    pub(super) log: LogWriter<'txn>,
    pub(super) commands: CommandTable<'txn>,
    pub(super) state: StateTables<'txn>,
}

impl<'txn> Tables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, Error> {
        let mut log = LogWriter::open(txn)?;
        let till = log.sync().0.identity()?.map(|identity| identity.till);
        Ok(Tables { log, commands: CommandTable::open(txn)?, state: StateTables::open(txn, till)? })
    }

    /// Runs every request of `group` in order. A storage fault aborts (the caller drops the
    /// transaction); a refusal or conflict is that request's result.
    fn execute_group(&mut self, group: &[Job]) -> Result<Answers, Error> {
        let mut answers =
            Answers { results: Vec::with_capacity(group.iter().map(Job::results).sum()), sync: Vec::new() };
        for job in group {
            let requests = match job {
                Job::One(request, _) => std::slice::from_ref(request.as_ref()),
                Job::Batch(requests, _) | Job::Bulk(requests, _) => requests.as_slice(),
                Job::Sync(job, _) => {
                    let answer = match self.sync(job) {
                        Err(e) if e.is_storage_fault() => return Err(e),
                        answer => answer,
                    };
                    answers.sync.push(answer);
                    continue;
                }
            };
            for request in requests {
                answers.results.push(self.execute_in_group(request)?);
            }
        }
        Ok(answers)
    }

    /// A sync job's writes.
    fn sync(&mut self, job: &SyncJob) -> Result<SyncAnswer, Error> {
        match job {
            SyncJob::Receive(events, through) => {
                let now = Utc::now();
                let mut arrivals = Vec::with_capacity(events.len());
                let mut through = Some(*through);
                let mut last_taken = None;
                for incoming in events {
                    let (arrival, envelope) = self.log.append_foreign(incoming, now)?;
                    if let Some(envelope) = envelope {
                        self.state.fold(&envelope.event, envelope.recorded_at)?;
                    }
                    let refused = matches!(arrival, Arrival::Refused(_));
                    arrivals.push(arrival);
                    if refused {
                        through = last_taken;
                        break;
                    }
                    last_taken = Some(incoming.hub_seq);
                }
                let (sync, puts) = self.log.sync();
                if let Some(through) = through
                    && through > sync.hub_seq()?
                {
                    sync.set_hub_seq(puts, through)?;
                }
                Ok(SyncAnswer::Arrivals(arrivals))
            }
            SyncJob::Join(identity) => {
                let (sync, puts) = self.log.sync();
                match sync.identity()? {
                    Some(current) if current.device != identity.device || current.shop != identity.shop => {
                        return Err(Error::Sync(format!(
                            "this data folder already is till {} of the shop '{}' on {}; a data folder belongs to one shop, and joins it once",
                            current.till, current.shop, current.hub
                        )));
                    }
                    _ => sync.set_identity(puts, identity)?,
                }
                Ok(SyncAnswer::Done)
            }
            SyncJob::Acked(mark) => {
                let (sync, puts) = self.log.sync();
                if sync.outbox()?.seq < mark.seq {
                    sync.set_outbox(puts, mark)?;
                }
                Ok(SyncAnswer::Done)
            }
        }
    }

    /// One request's result, or `Err` for a storage fault that must abort the transaction.
    fn execute_in_group(&mut self, request: &Request) -> Result<Result<Outcome, Error>, Error> {
        match self.execute(request) {
            Err(e) if e.is_storage_fault() => Err(e),
            result => Ok(result),
        }
    }

    fn without_journal(&mut self) {
        self.log.puts.switch_off();
        self.commands.puts.switch_off();
        self.state.puts.switch_off();
    }

    /// Every write made through these tables so far, for the journal.
    fn take_puts(&mut self) -> Puts {
        let mut puts = std::mem::take(&mut self.log.puts);
        puts.append(&mut self.commands.puts);
        puts.append(&mut self.state.puts);
        puts
    }

    fn execute(&mut self, request: &Request) -> Result<Outcome, Error> {
        #[cfg(test)]
        if request.command_id == "test-panic" {
            panic!("a test panic while deciding");
        }
        let command_id = check_command_id(&request.command_id)?;
        let fingerprint = fingerprint(request)?;
        if let Some(accepted) = self.commands.get(command_id)? {
            if accepted.fingerprint != fingerprint {
                return Err(Error::CommandIdReused { command_id: command_id.to_owned() });
            }
            return self.replay(command_id, &accepted);
        }

        let now = Utc::now();
        let mut state = self.state.load(&request.command.references(), now)?;
        if let Some(expected) = request.expected_version {
            let actual = match request.command.target() {
                Some(stream) => self.log.stream_version(&stream)?,
                None => 0,
            };
            if actual != expected {
                let stream = request.command.target().map_or_else(|| "a new stream".to_owned(), |s| s.to_key());
                return Err(Error::Conflict { stream, expected, actual });
            }
        }

        let events = domain::decide(&state, &request.command).map_err(|e| self.state.explained(e))?;
        let mut positions = None;
        let mut stream_version = 0;
        for event in &events {
            let (position, version) = self.log.append(event, command_id, now)?;
            positions = Some(positions.map_or((position, position), |(first, _)| (first, position)));
            stream_version = version;
            domain::apply(&mut state, event);
        }
        self.state.save(&state, &events)?;

        let stream = result_stream(&request.command, &events)?;
        if events.is_empty() {
            stream_version = self.log.stream_version(&stream)?;
        }
        let accepted = Accepted { fingerprint, stream: stream.to_key(), version: stream_version, positions };
        self.commands.record(command_id, &accepted)?;
        let entity = entity(&state, &stream)?;
        Ok(Outcome {
            command_id: command_id.to_owned(),
            positions,
            stream: stream.to_key(),
            stream_version,
            entity,
            replayed: false,
        })
    }

    /// The first result of a command seen before: its stream folded up to the version it
    /// left it at.
    fn replay(&self, command_id: &str, accepted: &Accepted) -> Result<Outcome, Error> {
        let stream = StreamId::from_key(&accepted.stream).ok_or_else(|| {
            Error::corrupt(format!("command {command_id} names an unknown stream '{}'", accepted.stream))
        })?;
        let mut state = domain::State::empty(Utc::now());
        for envelope in self.log.stream(&stream, accepted.version)? {
            domain::apply(&mut state, &envelope.event);
        }
        Ok(Outcome {
            command_id: command_id.to_owned(),
            positions: accepted.positions,
            stream: accepted.stream.clone(),
            stream_version: accepted.version,
            entity: entity(&state, &stream)?,
            replayed: true,
        })
    }
}

/// The stream whose state is the command's answer.
pub(super) fn result_stream(command: &Command, events: &[Event]) -> Result<StreamId, Error> {
    // An import's answer is its order or return, whichever customer it registered first.
    let answer = match command {
        Command::ImportOrder(_) | Command::ImportReturn(_) => {
            events.iter().find(|e| matches!(e, Event::OrderPlaced(_) | Event::ReturnRecorded(_)))
        }
        _ => events.first(),
    };
    if let Some(event) = answer {
        return Ok(event.stream());
    }
    command.target().ok_or_else(|| Error::Internal("a command without a target recorded nothing".into()))
}

pub(super) fn entity(state: &domain::State, stream: &StreamId) -> Result<Entity, Error> {
    let missing = || Error::Internal(format!("{stream} has no state after its command"));
    Ok(match stream {
        StreamId::Shop => Entity::Shop(state.shop.clone().ok_or_else(missing)?),
        StreamId::Product(sku) => Entity::Product(state.products.get(sku).cloned().ok_or_else(missing)?),
        StreamId::Customer(id) => Entity::Customer(state.customers.get(id).cloned().ok_or_else(missing)?),
        StreamId::Order(id) => Entity::Order(state.orders.get(id).cloned().ok_or_else(missing)?),
        StreamId::Return(id) => Entity::Return(state.returns.get(id).cloned().ok_or_else(missing)?),
        StreamId::Drawer(day) => Entity::Drawer { day: *day },
    })
}

fn check_command_id(id: &str) -> Result<&str, Error> {
    let ok = !id.is_empty() && id.chars().count() <= COMMAND_ID_MAX && id.chars().all(|c| c.is_ascii_graphic());
    if ok { Ok(id) } else { Err(Error::Rejected(Rejection::BadCommandId { given: id.to_owned() })) }
}

/// BLAKE3 over the command as the caller submitted it (before the store filled in times or
/// numbers), so a retry of the same request matches and a different one does not.
fn fingerprint(request: &Request) -> Result<String, Error> {
    let json = serde_json::to_vec(&(&request.command, request.expected_version))
        .map_err(|e| Error::Internal(format!("encoding a command: {e}")))?;
    Ok(blake3::hash(&json).to_hex().to_string())
}
