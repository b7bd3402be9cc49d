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
use super::replica::{Arrival, HubMessage, Identity, OutboxMark};
use super::slot::DbSlot;
use super::state::StateTables;
use super::trust::{Member, PublicKey, Retirement, Root, TrustTables};
use super::{Entity, Error, Outcome, Request};
use crate::domain::{self, Command, DeviceAdmitted, DeviceRetired, Event, LegacyTip, Rejection, StreamId};
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
    /// Messages from the hub, in its order, and the hub sequence through which everything is
    /// here once this commits; `retry_all`: retry every held message first.
    /// `unknown`: event types to take for a newer version's (tests of mixed versions).
    Receive {
        messages: Vec<HubMessage>,
        through: u64,
        retry_all: bool,
        unknown: Vec<String>,
        /// For each message, the key its signature was found made with (off the writer), if any.
        verified: Vec<Option<PublicKey>>,
    },
    Join(Identity),
    Acked(OutboxMark),
    /// This device starts the shop's roster: its key is the root; `legacy`: how far its events
    /// on the hub went unsigned.
    Found(PublicKey, Option<LegacyTip>),
    /// This device learnt the shop's root (with a pairing code) and has this key.
    Pin {
        root: Root,
        own_key: PublicKey,
    },
    /// This device admits another.
    Admit {
        device: String,
        till: String,
        key: PublicKey,
        legacy: Option<LegacyTip>,
    },
    /// This device retires another (by device id or till code).
    Retire {
        who: String,
        reason: String,
    },
}

pub(super) enum SyncAnswer {
    Arrivals(Vec<Arrival>),
    Member(Box<Member>),
    Done,
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::One(..) => 1,
            Job::Batch(requests, _) | Job::Bulk(requests, _) => requests.len(),
            Job::Sync(SyncJob::Receive { messages, .. }, _) => messages.len(),
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
    txn: &'txn WriteTransaction,
    pub(super) log: LogWriter<'txn>,
    pub(super) commands: CommandTable<'txn>,
    pub(super) state: StateTables<'txn>,
}

impl<'txn> Tables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, Error> {
        let mut log = LogWriter::open(txn)?;
        let till = log.sync().0.identity()?.map(|identity| identity.till);
        Ok(Tables { txn, log, commands: CommandTable::open(txn)?, state: StateTables::open(txn, till)? })
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
        let txn = self.txn;
        match job {
            SyncJob::Receive { messages, through, retry_all, unknown, verified } => {
                let mut trust = TrustTables::open(txn)?;
                let mut inbox = super::inbox::Inbox::open(self, &mut trust, Utc::now(), unknown)?;
                Ok(SyncAnswer::Arrivals(inbox.receive(messages, verified, *through, *retry_all)?))
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
            SyncJob::Found(key, legacy) => {
                let me = self.identity()?;
                let mut trust = TrustTables::open(txn)?;
                match trust.root()? {
                    Some(root) if root.device == me.device && root.key == key.to_hex() => {
                        let member = trust.member(&me.device)?;
                        return Ok(member.map_or(SyncAnswer::Done, |m| SyncAnswer::Member(Box::new(m))));
                    }
                    Some(_) => {
                        return Err(Error::Sync(
                            "this till already knows the shop's first key; add tills with pairing codes instead".into(),
                        ));
                    }
                    None => {}
                }
                let legacy = legacy.clone();
                let root = Root {
                    device: me.device.clone(),
                    till: me.till.clone(),
                    key: key.to_hex(),
                    legacy: legacy.clone(),
                };
                trust.set_root(&mut self.log.puts, &root)?;
                trust.set_own_key(&mut self.log.puts, key)?;
                let member =
                    self.record_admission(&mut trust, &me, me.device.clone(), me.till.clone(), *key, legacy)?;
                Ok(SyncAnswer::Member(Box::new(member)))
            }
            SyncJob::Pin { root, own_key } => {
                let mut trust = TrustTables::open(txn)?;
                if let Some(current) = trust.root()?
                    && current != *root
                {
                    return Err(Error::Sync(
                        "this till already knows another first key for its shop: a data folder belongs to one shop"
                            .into(),
                    ));
                }
                trust.set_root(&mut self.log.puts, root)?;
                trust.set_own_key(&mut self.log.puts, own_key)?;
                Ok(SyncAnswer::Done)
            }
            SyncJob::Admit { device, till, key, legacy } => {
                let me = self.identity()?;
                let mut trust = TrustTables::open(txn)?;
                self.check_member(&trust, &me)?;
                if let Some(existing) = trust.member(device)? {
                    if existing.key == key.to_hex() {
                        return Ok(SyncAnswer::Member(Box::new(existing)));
                    }
                    return Err(Error::Sync(format!(
                        "till {} is already admitted with another key; retire it first (`countertop devices retire {}`), then admit the new one",
                        existing.till, existing.till
                    )));
                }
                let member =
                    self.record_admission(&mut trust, &me, device.clone(), till.clone(), *key, legacy.clone())?;
                Ok(SyncAnswer::Member(Box::new(member)))
            }
            SyncJob::Retire { who, reason } => {
                let me = self.identity()?;
                let mut trust = TrustTables::open(txn)?;
                self.check_member(&trust, &me)?;
                let reason = domain::required_text(
                    "reason",
                    "say why the till is retired (lost, stolen, replaced)",
                    reason,
                    domain::REASON_MAX,
                )?;
                let members = trust.members()?;
                let Some(mut member) =
                    members.into_iter().find(|m| m.device == *who || m.till.eq_ignore_ascii_case(who.trim()))
                else {
                    return Err(Error::Sync(format!(
                        "no till '{who}' is admitted in this shop; `countertop devices` lists them"
                    )));
                };
                if member.device == me.device {
                    return Err(Error::Sync(
                        "a till cannot retire itself; retire it from another till of the shop".into(),
                    ));
                }
                if member.retired.is_some() {
                    return Ok(SyncAnswer::Member(Box::new(member)));
                }
                let now = Utc::now();
                let event = Event::DeviceRetired(DeviceRetired {
                    device: member.device.clone(),
                    till: member.till.clone(),
                    by: me.device.clone(),
                    reason: reason.clone(),
                    at: now,
                });
                self.log.append(&event, &format!("device-retire-{}", ulid::Ulid::generate()), now)?;
                let (own_seq, _) = self.log.own_tip();
                member.retired =
                    Some(Retirement { by: me.device.clone(), reason, at: now, hub_seq: None, own_seq: Some(own_seq) });
                trust.set_member(&mut self.log.puts, &member)?;
                Ok(SyncAnswer::Member(Box::new(member)))
            }
        }
    }

    fn identity(&mut self) -> Result<Identity, Error> {
        self.log.sync().0.identity()?.ok_or_else(|| {
            Error::Sync(
                "this data folder has not joined a shop: run `countertop join nats://HOST:4222 --shop NAME` first"
                    .into(),
            )
        })
    }

    /// Refuses a roster change from a device that is not (or no longer) in the shop.
    fn check_member(&self, trust: &TrustTables<'_>, me: &Identity) -> Result<(), Error> {
        match trust.member(&me.device)? {
            Some(m) if m.retired.is_none() => Ok(()),
            Some(_) => Err(Error::Sync(format!("till {} was retired; it cannot admit or retire tills", me.till))),
            None => Err(Error::Sync(format!(
                "till {} is not admitted in its shop yet, so the other tills would not believe it; admit it first (pair it with a till of the shop)",
                me.till
            ))),
        }
    }

    /// Appends `device.admitted` by this device and puts the member on the roster.
    fn record_admission(
        &mut self,
        trust: &mut TrustTables<'_>,
        me: &Identity,
        device: String,
        till: String,
        key: PublicKey,
        legacy: Option<LegacyTip>,
    ) -> Result<Member, Error> {
        let now = Utc::now();
        let admitted = DeviceAdmitted { device, till, key: key.to_hex(), by: me.device.clone(), legacy, at: now };
        let member = super::inbox::admitted(&admitted);
        let event = Event::DeviceAdmitted(admitted);
        self.log.append(&event, &format!("device-admit-{}", ulid::Ulid::generate()), now)?;
        trust.set_member(&mut self.log.puts, &member)?;
        Ok(member)
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
        StreamId::Device(_) => return Err(Error::Internal("no command records a device".into())),
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
