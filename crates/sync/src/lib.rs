//! Several tills of one shop, kept in step through a NATS JetStream hub, offline first.
//!
//! The hub holds events only; it never decides anything. Each device:
//! - **sends** its own events, in the order it recorded them, to the shop's stream under its
//!   own subject (`countertop.SHOP.events.DEVICE`), each with `Nats-Msg-Id` `DEVICE-SEQ` (the
//!   hub drops a resend within its window) and its hash; it waits for each publish
//!   acknowledgement and then records durably how far the hub has them
//!   ([`WriteStore::acknowledged`]). A crash before that record sends them again; receivers
//!   know them by (device, sequence) and take each once.
//! - **fetches** every device's events from its durable consumer (`device-ID`), in the hub's
//!   order, and hands them to its write store ([`WriteStore::receive`]), which checks each
//!   device's hash chain, stores them, folds them into the current state and records the
//!   hub sequence it has everything up to, in one transaction; only then are they
//!   acknowledged. The consumer is made afresh at each session from that sequence, so what the
//!   store holds — not what the hub believes was acknowledged — decides where it goes on.
//!
//! Order entry never waits for any of this: the sync thread is one more caller of the write
//! store, and the network is only touched here.

pub mod config;
mod hub;
pub mod local_hub;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, Context, consumer, stream};
use chrono::{DateTime, Utc};
use countertop_core::{Arrival, Identity, Incoming, OutboxMark, WriteStore};
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;

pub use config::{Credentials, Hub};
pub use hub::{DEFAULT_MAX_HUB_BYTES, JoinOptions, MAX_EVENT_BYTES};
pub use local_hub::{LocalCluster, LocalHub};

use crate::hub::connect;

/// Events sent per round of publish acknowledgements.
const SEND_BATCH: usize = 256;
/// Positions looked at per outbox read (other devices' events are skipped).
const SEND_SCAN: usize = 8192;
/// Messages fetched per write transaction.
const FETCH_BATCH: usize = 500;
/// How often the sync loop records what the hub has acknowledged (and that its own echoes came
/// back) while orders keep coming, at most. Each record is a write-store commit, one more fsync
/// an order being placed can queue behind: at once a second, order entry's p99 with sync
/// running was 1.4–1.7× of off over 3,000 orders (BENCHMARKS.md).
const MARK_EVERY: Duration = Duration::from_secs(10);
/// With no order for this long, the sync loop records what waits to be recorded.
const MARK_IDLE: Duration = Duration::from_secs(1);
/// Longest a fetch waits for its batch to fill (it returns with what came).
const FETCH_WAIT: Duration = Duration::from_millis(500);
const HASH_LEN: usize = 32;
const SEQ_HEADER: &str = "Countertop-Seq";
const TILL_HEADER: &str = "Countertop-Till";
/// Longest a fetch or a consumer's creation may take before the session is given up (and,
/// for `run`, started again): a hub that stops answering must not hang a till's sync.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// `f`, or [`SyncError::Offline`] when the hub has not answered within [`ANSWER_TIMEOUT`].
async fn answered<T>(url: &str, what: &str, f: impl Future<Output = Result<T, SyncError>>) -> Result<T, SyncError> {
    tokio::time::timeout(ANSWER_TIMEOUT, f).await.unwrap_or_else(|_| {
        Err(SyncError::Offline {
            url: url.to_owned(),
            detail: format!("no answer to {what} in {} s", ANSWER_TIMEOUT.as_secs()),
        })
    })
}

/// What can stop sync, by what the owner can do about it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The request itself is wrong: the message says what to change.
    #[error("{0}")]
    Input(String),
    /// The hub cannot be reached now; nothing is lost, it is tried again later.
    #[error(
        "the hub at {url} cannot be reached ({detail}); check the address and that the hub is running. Nothing recorded here is lost: it waits on this device until the hub can be reached"
    )]
    Offline { url: String, detail: String },
    /// The hub answered with an error.
    #[error("the hub refused: {0}")]
    Hub(String),
    /// An event from another device was not taken (its chain does not check out, or this
    /// version of Countertop cannot read it). Nothing after it from that device is taken.
    #[error("{0}")]
    Refused(String),
    #[error("this data folder has not joined a shop: run `countertop join tls://HOST:4222 --shop NAME` first")]
    NotJoined,
    #[error(transparent)]
    Store(#[from] countertop_core::Error),
}

fn hub_error(e: impl std::fmt::Display) -> SyncError {
    SyncError::Hub(e.to_string())
}

/// What a round of sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// This device's events the hub acknowledged.
    pub sent: u64,
    /// Other devices' events stored here.
    pub received: u64,
    /// Events that were here already (redeliveries).
    pub duplicates: u64,
    /// Messages on the hub not fetched yet, at the last fetch.
    pub pending: u64,
}

fn stream_name(shop: &str) -> String {
    format!("countertop-{shop}")
}

fn events_subject(shop: &str, device: &str) -> String {
    format!("countertop.{shop}.events.{device}")
}

fn runtime() -> Result<tokio::runtime::Runtime, SyncError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Input(format!("cannot start the sync runtime: {e}")))
}

/// Runs a blocking write-store call off the async runtime's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, countertop_core::Error> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Input(format!("a sync task failed: {e}")))?
        .map_err(Into::into)
}

/// The `n`th till code: `A` … `Z`, then `AA`, `AB`, …
pub fn till_code(n: usize) -> String {
    let letter = |i: usize| char::from(b'A' + (i % 26) as u8);
    if n < 26 { letter(n).to_string() } else { format!("{}{}", letter(n / 26 - 1), letter(n % 26)) }
}

/// Makes this data folder a device of the shop `hub.shop`, then fetches everything the shop
/// has (`progress` after each batch). A data folder with a shop of its own may start a shop on
/// the hub (the first device); one that joins an existing shop must be empty. With an empty
/// folder and no such shop on the hub, `create` starts a new, empty one (else it is an error,
/// so a mistyped name does not start a second shop). Joining again with the same shop
/// updates the address and sign-in and syncs. Joining resumes syncing if it was paused.
pub fn join(
    store: &WriteStore,
    data_dir: &Path,
    hub: Hub,
    create: bool,
    progress: &mut dyn FnMut(&Report),
) -> Result<(Identity, Report), SyncError> {
    join_with(store, data_dir, hub, &JoinOptions { create, ..JoinOptions::default() }, progress)
}

/// [`join`], with the device id and the stream's size limit as the owner gave them. The
/// credentials file and CA certificate are kept in the data folder, and `sync.json` written,
/// only once the hub has taken this device ([`config::keep`]).
pub fn join_with(
    store: &WriteStore,
    data_dir: &Path,
    mut hub: Hub,
    options: &JoinOptions,
    progress: &mut dyn FnMut(&Report),
) -> Result<(Identity, Report), SyncError> {
    hub.check()?;
    if let Some(id) = &options.device_id {
        hub::check_device_id(id)?;
    }
    let rt = runtime()?;
    let joined = rt.block_on(async {
        if let Some(identity) = store.identity()? {
            if identity.shop != hub.shop {
                return Err(SyncError::Input(format!(
                    "this data folder already is till {} of the shop '{}'; a data folder belongs to one shop",
                    identity.till, identity.shop
                )));
            }
            if options.device_id.as_ref().is_some_and(|id| *id != identity.device) {
                return Err(SyncError::Input(format!(
                    "this data folder already is till {} with the device id '{}', and a device keeps its id: join with a new, empty folder to use another",
                    identity.till, identity.device
                )));
            }
            let js = connect(&hub).await?;
            hub::protect_stream(&js, &hub, options).await?;
            config::keep(data_dir, &mut hub)?;
            let report = session(&js, store, &identity, &hub, progress).await?;
            return Ok((identity, report));
        }
        let js = connect(&hub).await?;
        let exists = js.get_stream(stream_name(&hub.shop)).await.is_ok();
        let own = store.sync_state()?.own_events;
        if exists && own > 0 {
            return Err(SyncError::Input(format!(
                "the shop '{}' already exists on {}, and this data folder holds a shop of its own ({own} changes). A device joins a shop with an empty data folder: run join again with --data pointing at a new folder",
                hub.shop, hub.url
            )));
        }
        if !exists {
            if own == 0 && !options.create {
                return Err(SyncError::Input(format!(
                    "there is no shop '{}' on {} yet: check the name, or add --create to start a new shop from this device",
                    hub.shop, hub.url
                )));
            }
            hub::create_stream(&js, &hub, options).await?;
        } else {
            hub::protect_stream(&js, &hub, options).await?;
        }
        let device = options.device_id.clone().unwrap_or_else(|| ulid::Ulid::generate().to_string());
        hub::check_device_unused(&js, &hub.shop, &device).await?;
        let till = claim_till(&js, &hub.shop, &device).await?;
        hub::claim_device(&js, &hub.shop, &device, &till).await?;
        let identity = Identity {
            device,
            till,
            shop: hub.shop.clone(),
            hub: hub.url.clone(),
            joined_at: Utc::now(),
        };
        let joining = identity.clone();
        blocking({
            let store = store.clone();
            move || store.join(joining)
        })
        .await?;
        config::keep(data_dir, &mut hub)?;
        let report = session(&js, store, &identity, &hub, progress).await?;
        Ok((identity, report))
    })?;
    config::set_paused(data_dir, false)?;
    Ok(joined)
}

/// Claims the first free till code on the hub: a message on `countertop.SHOP.tills.CODE`
/// published only if that subject has none yet (`Nats-Expected-Last-Subject-Sequence: 0`), so
/// two devices joining at once never get the same code.
async fn claim_till(js: &Context, shop: &str, device: &str) -> Result<String, SyncError> {
    for n in 0..26 * 27 {
        let code = till_code(n);
        let publish = jetstream::message::PublishMessage::build()
            .payload(device.to_owned().into())
            .expected_last_subject_sequence(0);
        let ack = js.send_publish(format!("countertop.{shop}.tills.{code}"), publish).await.map_err(hub_error)?;
        match ack.await {
            Ok(_) => return Ok(code),
            Err(e) if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => continue,
            Err(e) => return Err(hub_error(e)),
        }
    }
    Err(SyncError::Hub(format!("the shop '{shop}' has no free till code left")))
}

/// One round: sends everything waiting, then fetches everything the hub has.
pub fn sync_once(store: &WriteStore, hub: &Hub, progress: &mut dyn FnMut(&Report)) -> Result<Report, SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotJoined)?;
    let rt = runtime()?;
    rt.block_on(async {
        let js = connect(hub).await?;
        session(&js, store, &identity, hub, progress).await
    })
}

async fn session(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    hub: &Hub,
    progress: &mut dyn FnMut(&Report),
) -> Result<Report, SyncError> {
    let mut report = Report::default();
    let mut cursor =
        answered(&hub.url, "asking for this till's history", start_of_sending(js, store, identity, hub)).await?;
    send(js, store, identity, &mut cursor, &mut report, true).await?;
    progress(&report);
    let consumer =
        answered(&hub.url, "creating this device's consumer", consumer_for(js, store, identity, hub)).await?;
    // Fetch while the hub says messages wait (a waiting pull, never a no-wait one: against
    // nats-server 2.9 a no-wait fetch now and then got no answer at all and hung `sync once`).
    loop {
        let info =
            answered(&hub.url, "asking what waits", async { consumer.get_info().await.map_err(hub_error) }).await?;
        if info.num_pending == 0 {
            break;
        }
        let batch = usize::try_from(info.num_pending).unwrap_or(FETCH_BATCH).min(FETCH_BATCH);
        answered(&hub.url, "a fetch", fetch(&consumer, store, identity, &mut report, batch, FETCH_WAIT)).await?;
        progress(&report);
    }
    // What was recorded here while fetching.
    send(js, store, identity, &mut cursor, &mut report, true).await?;
    progress(&report);
    Ok(report)
}

/// Sends this device's events the hub has not acknowledged yet; returns how many.
/// `cursor` is where the last call stopped looking (other devices' events after the
/// acknowledged mark are not looked at again). With `record`, what the hub acknowledged is
/// recorded after each round; without, the caller records `cursor` when it sees fit.
async fn send(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    cursor: &mut OutboxMark,
    report: &mut Report,
    record: bool,
) -> Result<u64, SyncError> {
    let subject = events_subject(&identity.shop, &identity.device);
    let mut sent = 0;
    loop {
        let from = *cursor;
        let (batch, looked) = blocking({
            let store = store.clone();
            move || store.outgoing(from, SEND_BATCH, SEND_SCAN)
        })
        .await?;
        let Some(last) = batch.last() else {
            if looked <= cursor.position {
                return Ok(sent);
            }
            cursor.position = looked;
            continue;
        };
        let mark = OutboxMark { position: last.position, seq: last.seq };
        let mut acks = Vec::with_capacity(batch.len());
        for event in &batch {
            let mut payload = Vec::with_capacity(HASH_LEN + event.record.len());
            payload.extend_from_slice(&event.hash);
            payload.extend_from_slice(&event.record);
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(format!("{}-{}", identity.device, event.seq))
                .header(SEQ_HEADER, event.seq.to_string().as_str())
                .header(TILL_HEADER, identity.till.as_str());
            acks.push(js.send_publish(subject.clone(), publish).await.map_err(hub_error)?);
        }
        for ack in acks {
            ack.await.map_err(hub_error)?;
        }
        if record {
            acknowledge(store, mark).await?;
        }
        *cursor = mark;
        sent += batch.len() as u64;
        report.sent += batch.len() as u64;
    }
}

/// Where sending starts, checked against this till's own history on the hub (its last event
/// there, sequence and hash):
/// - the same as the store's acknowledged mark, or ahead of it by events this log holds with
///   the same hash (the acknowledgements were lost in a crash): go on after it;
/// - behind the mark (the hub lost some of its storage): send everything again (the hub and the
///   other tills take each event once);
/// - ahead of this log, or a different event under the same sequence: refuse. The folder was
///   restored from an older backup or copied; its next events would reuse sequence numbers the
///   other tills already hold for other events, and they would take them for ones they have.
///   (Taking the till's own lost events back in from the hub is not built yet.)
async fn start_of_sending(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    hub: &Hub,
) -> Result<OutboxMark, SyncError> {
    let state = store.sync_state()?;
    let (mark, here) = (state.outbox, state.own_events);
    // With all of this till's events sent, sending goes on from the log's head: a till that
    // mostly receives (a million other tills' events after its mark) must not read them all
    // again to find it has nothing to send.
    let past_what_is_sent = |cursor: OutboxMark| {
        if cursor.seq == here { OutboxMark { position: state.head, seq: here } } else { cursor }
    };
    let stream = js.get_stream(stream_name(&hub.shop)).await.map_err(hub_error)?;
    let last = match stream.get_last_raw_message_by_subject(&events_subject(&identity.shop, &identity.device)).await {
        Ok(message) => message,
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            return Ok(past_what_is_sent(OutboxMark::default()));
        }
        Err(e) => return Err(hub_error(e)),
    };
    let on_hub: u64 = last.headers.get(SEQ_HEADER).and_then(|v| v.as_str().parse().ok()).unwrap_or(0);
    let forked = || {
        SyncError::Input(format!(
            "the hub holds {on_hub} changes from this till ({}) that this data folder does not have as they are (it has {here} of its own): it was restored from an older backup or copied from another folder. Nothing was sent. Sync from the folder the till last used, or join the shop again with a new, empty folder",
            identity.till
        ))
    };
    if on_hub < mark.seq {
        return Ok(OutboxMark::default());
    }
    if on_hub > here {
        return Err(forked());
    }
    if on_hub == 0 {
        return Ok(past_what_is_sent(mark));
    }
    // This log's own event number `on_hub`, read from just before the mark on.
    let from = match (mark.position.checked_sub(1), mark.seq.checked_sub(1)) {
        (Some(position), Some(seq)) => OutboxMark { position, seq },
        _ => OutboxMark::default(),
    };
    let wanted = usize::try_from(on_hub - from.seq).unwrap_or(usize::MAX);
    let (ours, _) = blocking({
        let store = store.clone();
        move || store.outgoing(from, wanted, usize::MAX)
    })
    .await?;
    match ours.last() {
        Some(event) if event.seq == on_hub && last.payload.get(..HASH_LEN) == Some(&event.hash[..]) => {
            Ok(past_what_is_sent(OutboxMark { position: event.position, seq: event.seq }))
        }
        _ => Err(forked()),
    }
}

/// Records durably that the hub has this device's events up to `mark`.
async fn acknowledge(store: &WriteStore, mark: OutboxMark) -> Result<(), SyncError> {
    blocking({
        let store = store.clone();
        move || store.acknowledged(mark)
    })
    .await
}

/// This device's durable consumer, standing right after the hub sequence the store has
/// everything up to.
async fn consumer_for(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    hub: &Hub,
) -> Result<consumer::PullConsumer, SyncError> {
    let stream = js.get_stream(stream_name(&hub.shop)).await.map_err(|e| {
        SyncError::Hub(format!("the shop '{}' is not on {} ({e}); was the hub's storage lost?", hub.shop, hub.url))
    })?;
    let name = format!("device-{}", identity.device);
    let here = store.sync_state()?.hub_seq;
    let next = here.checked_add(1).ok_or_else(|| SyncError::Hub(format!("the hub's sequence {here} has no next")))?;
    let filter = format!("countertop.{}.events.>", hub.shop);
    // The consumer the last session left is kept when it stands exactly where the store does
    // (everything up to `here` delivered and acknowledged, nothing beyond delivered): making
    // one afresh on a stream of a million messages costs the hub seconds.
    if let Ok(existing) = stream.get_consumer::<consumer::pull::Config>(&name).await {
        let info = existing.cached_info();
        if info.ack_floor.stream_sequence == here
            && info.delivered.stream_sequence == here
            && info.config.filter_subject == filter
        {
            return Ok(existing);
        }
    }
    // Not there is fine: it is made below.
    let _ = stream.delete_consumer(&name).await;
    stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name),
            filter_subject: filter,
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: next },
            ack_policy: consumer::AckPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(hub_error)
}

/// Fetches up to `batch` messages and stores them; returns how many came (0: none within
/// `wait`; fewer than `batch` when `wait` ran out first).
async fn fetch(
    consumer: &consumer::PullConsumer,
    store: &WriteStore,
    identity: &Identity,
    report: &mut Report,
    batch: usize,
    wait: Duration,
) -> Result<usize, SyncError> {
    let mut messages = consumer
        .batch()
        .max_messages(batch)
        .max_bytes(hub::FETCH_BYTES)
        .expires(wait)
        .messages()
        .await
        .map_err(hub_error)?;
    let mut got = Vec::new();
    while let Some(message) = messages.next().await {
        got.push(message.map_err(hub_error)?);
    }
    take(got, store, identity, report, None).await
}

/// Stores what came (other devices' events; this device's own come back too and are
/// skipped) in one transaction, then acknowledges it; returns how many messages that was.
///
/// With `echoes` (the sync loop), a batch of this till's own events only is not recorded when
/// the last record is under [`MARK_EVERY`] old: each record is a write-store commit that order
/// entry would queue behind, once per order taken. It is left in [`Unrecorded::echoes`], for
/// the loop to record when idle or stopping; one lost in a crash is fetched again next time
/// and skipped.
async fn take(
    messages: Vec<jetstream::Message>,
    store: &WriteStore,
    identity: &Identity,
    report: &mut Report,
    echoes: Option<(&mut Instant, &Mutex<Unrecorded>)>,
) -> Result<usize, SyncError> {
    let Some(last) = messages.last() else { return Ok(0) };
    let mut incoming = Vec::with_capacity(messages.len());
    let mut through = 0;
    for message in &messages {
        let info = message.info().map_err(hub_error)?;
        through = info.stream_sequence;
        report.pending = info.pending;
        let origin = message.subject.rsplit('.').next().unwrap_or_default().to_owned();
        if origin != identity.device {
            incoming.push(parse(message, origin, through)?);
        }
    }
    if let Some((recorded, unrecorded)) = &echoes
        && incoming.is_empty()
        && recorded.elapsed() < MARK_EVERY
    {
        last.ack().await.map_err(hub_error)?;
        lock(unrecorded).echoes = Some(through);
        return Ok(messages.len());
    }
    let arrivals = blocking({
        let store = store.clone();
        move || store.receive(incoming, through)
    })
    .await?;
    for arrival in arrivals {
        match arrival {
            Arrival::Appended { .. } => report.received += 1,
            Arrival::Duplicate => report.duplicates += 1,
            Arrival::Refused(why) => return Err(SyncError::Refused(why)),
        }
    }
    if let Some((recorded, unrecorded)) = echoes {
        *recorded = Instant::now();
        lock(unrecorded).echoes = None;
    }
    // Acknowledges everything up to it (`AckPolicy::All`); the store has it all.
    last.ack().await.map_err(hub_error)?;
    Ok(messages.len())
}

/// What the sync loop saw acknowledged and has not recorded yet (while orders keep coming it
/// records at most every [`MARK_EVERY`]). It is recorded after [`MARK_IDLE`] without any, and
/// when the loop stops: a device whose store stands where its consumer on the hub does keeps
/// that consumer, where making one afresh costs the hub seconds on a big shop.
#[derive(Debug, Default)]
struct Unrecorded {
    /// How far the hub has acknowledged this till's events.
    outbox: Option<OutboxMark>,
    /// The hub sequence through which everything fetched was this till's own echoes, acked.
    echoes: Option<u64>,
}

impl Unrecorded {
    /// Records what waits (called with no session running, or from the loop itself).
    fn record(this: &Mutex<Unrecorded>, store: &WriteStore) -> Result<(), countertop_core::Error> {
        let left = std::mem::take(&mut *lock(this));
        if let Some(mark) = left.outbox {
            store.acknowledged(mark)?;
        }
        if let Some(through) = left.echoes {
            store.receive(Vec::new(), through)?;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn parse(message: &jetstream::Message, origin: String, hub_seq: u64) -> Result<Incoming, SyncError> {
    let bad =
        |what: &str| SyncError::Refused(format!("message {hub_seq} on the hub is not a Countertop event: {what}"));
    let header = |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
    let seq = header(SEQ_HEADER).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no sequence"))?;
    let till = header(TILL_HEADER).unwrap_or_else(|| "?".to_owned());
    let (hash, record) = message.payload.split_first_chunk::<HASH_LEN>().ok_or_else(|| bad("too short"))?;
    Ok(Incoming { origin, till, seq, hash: *hash, record: record.to_vec(), hub_seq })
}

/// Where the sync thread stands, for a status line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    pub connected: bool,
    /// Why the last attempt failed, while it does.
    pub problem: Option<String>,
    /// When a round last finished with nothing left to send or fetch.
    pub last_synced_at: Option<DateTime<Utc>>,
    pub sent: u64,
    pub received: u64,
}

/// The sync thread: sends and fetches for as long as it runs, reconnecting with backoff when
/// the hub cannot be reached. Dropping it stops it.
#[derive(Debug)]
pub struct Syncer {
    status: Arc<Mutex<Status>>,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts syncing `store` with `hub` (the shop must have been joined).
    pub fn start(store: WriteStore, hub: Hub) -> Result<Syncer, SyncError> {
        let identity = store.identity()?.ok_or(SyncError::NotJoined)?;
        let status = Arc::new(Mutex::new(Status::default()));
        let stop = Arc::new(tokio::sync::Notify::new());
        let unrecorded = Arc::new(Mutex::new(Unrecorded::default()));
        let rt = runtime()?;
        let thread = std::thread::Builder::new()
            .name("countertop-sync".into())
            .spawn({
                let status = Arc::clone(&status);
                let stop = Arc::clone(&stop);
                move || {
                    rt.block_on(async {
                        tokio::select! {
                            () = run(&store, &identity, &hub, &status, &unrecorded) => {}
                            () = stop.notified() => {}
                        }
                    });
                    // Stopped (the app closing, sync paused): what the hub acknowledged is
                    // recorded now, so the next start finds the store where its consumer is.
                    // A store already closed is no harm: it is only sent or skipped again.
                    let _ = Unrecorded::record(&unrecorded, &store);
                }
            })
            .map_err(|e| SyncError::Input(format!("cannot start the sync thread: {e}")))?;
        Ok(Syncer { status, stop, thread: Some(thread) })
    }

    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn run(
    store: &WriteStore,
    identity: &Identity,
    hub: &Hub,
    status: &Mutex<Status>,
    unrecorded: &Mutex<Unrecorded>,
) {
    let update = |f: &mut dyn FnMut(&mut Status)| f(&mut lock(status));
    let mut backoff = Duration::from_millis(500);
    loop {
        let result = async {
            let js = connect(hub).await?;
            let start =
                answered(&hub.url, "asking for this till's history", start_of_sending(&js, store, identity, hub))
                    .await?;
            let consumer =
                answered(&hub.url, "creating this device's consumer", consumer_for(&js, store, identity, hub)).await?;
            update(&mut |s| {
                s.connected = true;
                s.problem = None;
            });
            backoff = Duration::from_millis(500);
            // Sending wakes on every commit here (the write store's head), so an order goes out
            // at once, not after the next fetch; fetching waits on the hub meanwhile.
            // The acknowledged mark is recorded at most every `MARK_EVERY`, and when idle: each
            // record is a commit of the write store, which order entry would queue behind; one
            // lost in a crash only sends again what the hub and the other tills already have.
            let sending = async {
                let head = store.head();
                let mut cursor = start;
                let mut recorded = (store.sync_state()?.outbox, Instant::now());
                loop {
                    let seen = head.current();
                    let mut report = Report::default();
                    send(&js, store, identity, &mut cursor, &mut report, false).await?;
                    update(&mut |s| s.sent += report.sent);
                    let head = head.clone();
                    if cursor.seq > recorded.0.seq {
                        lock(unrecorded).outbox = Some(cursor);
                    }
                    let moved = tokio::task::spawn_blocking(move || head.wait_past(seen, MARK_IDLE) > seen)
                        .await
                        .map_err(|e| SyncError::Input(format!("a sync task failed: {e}")))?;
                    if cursor.seq > recorded.0.seq && (!moved || recorded.1.elapsed() >= MARK_EVERY) {
                        acknowledge(store, cursor).await?;
                        recorded = (cursor, Instant::now());
                        let mut left = lock(unrecorded);
                        if left.outbox.is_some_and(|mark| mark.seq <= cursor.seq) {
                            left.outbox = None;
                        }
                    }
                }
                #[allow(unreachable_code, reason = "the loop ends only with an error")]
                Ok::<(), SyncError>(())
            };
            // Messages as they come (pull requests kept open, with heartbeats, so a hub gone
            // quiet is noticed): each is stored with whatever else has already arrived.
            let fetching = async {
                let mut messages = consumer
                    .stream()
                    .max_messages_per_batch(FETCH_BATCH)
                    .max_bytes_per_batch(hub::FETCH_BYTES)
                    .heartbeat(Duration::from_secs(5))
                    .messages()
                    .await
                    .map_err(hub_error)?;
                update(&mut |s| s.last_synced_at = Some(Utc::now()));
                let mut echoes_recorded = Instant::now();
                loop {
                    // Echoes acked but not recorded are recorded after a quiet `MARK_IDLE`.
                    let waiting = lock(unrecorded).echoes.is_some();
                    let next = if waiting {
                        match tokio::time::timeout(MARK_IDLE, messages.next()).await {
                            Ok(next) => next,
                            Err(_) => {
                                // Taken before the await: the lock is never held across one
                                // (this runtime has one thread, and sending takes it too).
                                let left = lock(unrecorded).echoes.take();
                                if let Some(through) = left {
                                    blocking({
                                        let store = store.clone();
                                        move || store.receive(Vec::new(), through)
                                    })
                                    .await?;
                                    echoes_recorded = Instant::now();
                                }
                                continue;
                            }
                        }
                    } else {
                        messages.next().await
                    };
                    let Some(first) = next else {
                        return Err(SyncError::Hub("the hub ended this device's consumer".into()));
                    };
                    let mut got = vec![first.map_err(hub_error)?];
                    while got.len() < FETCH_BATCH
                        && let Some(Some(next)) = messages.next().now_or_never()
                    {
                        got.push(next.map_err(hub_error)?);
                    }
                    let mut report = Report::default();
                    take(got, store, identity, &mut report, Some((&mut echoes_recorded, unrecorded))).await?;
                    update(&mut |s| {
                        s.received += report.received;
                        if report.pending == 0 {
                            s.last_synced_at = Some(Utc::now());
                        }
                    });
                }
                #[allow(unreachable_code, reason = "the loop ends only with an error")]
                Ok::<(), SyncError>(())
            };
            tokio::try_join!(sending, fetching).map(|_| ())
        }
        .await;
        if let Err(e) = result {
            update(&mut |s| {
                s.connected = false;
                s.problem = Some(e.to_string());
            });
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(15));
    }
}
