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
mod pairing;
mod wire;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, Context, consumer, stream};
use chrono::{DateTime, Utc};
use countertop_core::{Arrival, DeviceKey, HubMessage, Identity, Member, OutboxMark, PairingCode, WriteStore};
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;

pub use config::{Credentials, Hub};
pub use hub::{DEFAULT_MAX_HUB_BYTES, JoinOptions, MAX_EVENT_BYTES};
pub use local_hub::{LocalCluster, LocalHub};
pub use pairing::PAIRING_WAIT;

use crate::hub::connect;
use wire::{HASH_LEN, events_subject, stream_name};

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
    /// The hub does not hold what this till sent, or holds something else under its name:
    /// sending stops until the owner has looked (the message says what happened).
    #[error("{0}")]
    Refused(String),
    #[error("this data folder has not joined a shop: run `countertop join tls://HOST:4222 --shop NAME` first")]
    NotJoined,
    /// A bug in the sync (a panic, caught): the session ended, and the loop starts again.
    #[error(
        "syncing hit a bug ({0}) and starts again by itself; nothing recorded is lost. Please report it: the details are in countertop.log in the data folder"
    )]
    Bug(String),
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
    /// Messages held until they can be taken (a gap before them, a till not admitted yet, a
    /// newer version).
    pub held: u64,
    /// Messages that are not a genuine event of a till of this shop: ignored, recorded.
    pub quarantined: u64,
    /// Genuine events against the shop's rules: kept out of the books on every till.
    pub refused: u64,
}

impl Report {
    fn count(&mut self, arrival: &Arrival) {
        match arrival {
            Arrival::Appended { .. } => self.received += 1,
            Arrival::Duplicate => self.duplicates += 1,
            Arrival::Held(..) => self.held += 1,
            Arrival::Quarantined(..) => self.quarantined += 1,
            Arrival::Refused(..) => self.refused += 1,
        }
    }
}

/// This device's key (made when it has none yet: a new till, or one upgraded from before
/// tills signed). A folder whose store knows its key but has lost the key file (restored from
/// a backup, which never holds the key, or copied without it) cannot sign as this till.
fn device_key(store: &WriteStore) -> Result<DeviceKey, SyncError> {
    let dir = data_dir(store);
    let known = store.own_key()?;
    let key = match (DeviceKey::load(dir)?, known) {
        (Some(key), Some(known)) if key.public() != known => None,
        (Some(key), _) => Some(key),
        (None, Some(_)) => None,
        (None, None) => Some(DeviceKey::load_or_create(dir)?),
    };
    key.ok_or_else(|| {
        let till = store.identity().ok().flatten().map_or_else(|| "?".to_owned(), |i| i.till);
        SyncError::Input(format!(
            "this data folder is till {till}'s, but not with till {till}'s key ({}): it was restored from an older backup or copied from another folder (backups never hold the key). Nothing was sent. Sync from the folder the till last used, or join the shop again with a new, empty folder and retire the old till from another (`countertop devices retire {till}`)",
            countertop_core::DEVICE_KEY_FILE
        ))
    })
}

fn data_dir(store: &WriteStore) -> &Path {
    store.path().parent().unwrap_or_else(|| Path::new("."))
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
/// has (`progress` after each batch).
/// - A data folder with a shop of its own starts the shop on the hub: it is the founding till,
///   and its key is the shop's first.
/// - An empty folder joins an existing shop with a pairing `code` read on a till of the shop
///   (`countertop devices add` there, which must be running meanwhile); with no such shop on
///   the hub, `create` starts a new, empty one (else it is an error, so a mistyped name does
///   not start a second shop).
/// - A folder that joined already: the address and sign-in are updated and it syncs. One that
///   joined before tills signed their events pairs with `code` (the owner admits each such
///   till once, see the README).
///
/// Joining resumes syncing if it was paused.
///
/// `options` also carry the device id and the stream's size limit as the owner gave them. The
/// credentials file and CA certificate are kept in the data folder, and `sync.json` written,
/// only once the hub has taken this device ([`config::keep`]).
pub fn join(
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
        let key = device_key(store)?;
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
            if store.root()?.is_none() {
                let Some(code) = &options.code else { return Err(not_paired(&identity)) };
                let legacy = store.unsigned_tip()?;
                pairing::request(&js, store, &identity, &key, code, legacy, PAIRING_WAIT).await?;
            }
            config::keep(data_dir, &mut hub)?;
            let report = session(&js, store, &identity, &hub, &key, progress).await?;
            return Ok((identity, report));
        }
        let js = connect(&hub).await?;
        let stream = js.get_stream(stream_name(&hub.shop)).await.ok();
        // A shop is on the hub once a till has claimed a code there; a stream without one (an
        // admin made it ahead, with the replicas and limits wanted) is started like a new one.
        let exists = match &stream {
            Some(stream) => match stream.get_last_raw_message_by_subject(&format!("countertop.{}.tills.A", hub.shop)).await {
                Ok(_) => true,
                Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => false,
                Err(e) => return Err(hub_error(e)),
            },
            None => false,
        };
        let own = store.sync_state()?.own_events;
        if exists && own > 0 {
            return Err(SyncError::Input(format!(
                "the shop '{}' already exists on {}, and this data folder holds a shop of its own ({own} changes). A device joins a shop with an empty data folder: run join again with --data pointing at a new folder",
                hub.shop, hub.url
            )));
        }
        let device = options.device_id.clone().unwrap_or_else(|| ulid::Ulid::generate().to_string());
        if exists && options.code.is_none() {
            hub::check_device_unused(&js, &hub.shop, &device).await?;
            return Err(SyncError::Input(format!(
                "the shop '{}' is on {}: a new till joins it with a pairing code. On a till of the shop run `countertop devices add` (or Settings → Sync → Add a till) and type the code it shows here: --code CODE",
                hub.shop, hub.url
            )));
        }
        if stream.is_none() {
            if own == 0 && !options.create {
                return Err(SyncError::Input(format!(
                    "there is no shop '{}' on {} yet: check the name, or add --create to start a new shop from this device",
                    hub.shop, hub.url
                )));
            }
            hub::create_stream(&js, &hub, options).await?;
        } else {
            if !exists && own == 0 && !options.create {
                return Err(SyncError::Input(format!(
                    "there is no shop '{}' on {} yet: check the name, or add --create to start a new shop from this device",
                    hub.shop, hub.url
                )));
            }
            hub::protect_stream(&js, &hub, options).await?;
        }
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
        match &options.code {
            Some(code) if exists => {
                pairing::request(&js, store, &identity, &key, code, None, PAIRING_WAIT).await?;
            }
            _ => {
                let public = key.public();
                blocking({
                    let store = store.clone();
                    move || store.found(public)
                })
                .await?;
            }
        }
        config::keep(data_dir, &mut hub)?;
        let report = session(&js, store, &identity, &hub, &key, progress).await?;
        Ok((identity, report))
    })?;
    config::set_paused(data_dir, false)?;
    Ok(joined)
}

/// Joins `store` (a new till: an empty data folder) to the shop that `by` is a till of, the
/// pairing code going from one to the other inside this process: what an owner does on two
/// tills (`devices add` on one, `join --code` on the other), for tests and benchmarks.
pub fn pair_here(
    by: &WriteStore,
    by_hub: &Hub,
    store: &WriteStore,
    data_dir: &Path,
    hub: Hub,
    options: JoinOptions,
) -> Result<(Identity, Report), SyncError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let admitting = scope.spawn(move || {
            add_device(by, by_hub, false, true, Duration::from_secs(60), &mut |code| {
                let _ = tx.send(code.clone());
            })
        });
        let code = rx.recv_timeout(Duration::from_secs(60));
        let joined = match code {
            Ok(code) => join(store, data_dir, hub, &JoinOptions { code: Some(code), ..options }, &mut |_| {}),
            Err(_) => Err(SyncError::Input("the admitting till showed no code".into())),
        };
        let admitted = admitting.join().map_err(|_| SyncError::Bug("the admitting till's thread panicked".into()))?;
        admitted?;
        joined
    })
}

fn not_paired(identity: &Identity) -> SyncError {
    SyncError::Input(format!(
        "till {} joined its shop before tills signed their changes, so it does not know the shop's keys yet. On the till you keep, run `countertop devices add --first` once (its key becomes the shop's first); then, for each other till, run `countertop devices add` there and `countertop join … --code CODE` here",
        identity.till
    ))
}

/// On a till of the shop: shows a pairing code (`shown`) and admits the till that types it
/// within `wait`; with `sync_after`, then syncs so the admission goes out (not while a
/// [`Syncer`] runs for the store: it sends it). With `first`, instead makes this till's key the
/// shop's first (once, on the till the owner keeps, for a shop that synced before tills
/// signed their events).
pub fn add_device(
    store: &WriteStore,
    hub: &Hub,
    first: bool,
    sync_after: bool,
    wait: Duration,
    shown: &mut dyn FnMut(&PairingCode),
) -> Result<Member, SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotJoined)?;
    let key = device_key(store)?;
    if first {
        if let Some(root) = store.root()?
            && root.device != identity.device
        {
            return Err(SyncError::Input(format!(
                "the shop's first key is another till's already; add till {} from a till of the shop instead",
                identity.till
            )));
        }
        let member = store.found(key.public())?;
        return member.ok_or_else(|| SyncError::Input("this till's key was not recorded".into()));
    }
    let rt = runtime()?;
    rt.block_on(async {
        let js = connect(hub).await?;
        let member = pairing::admit(&js, store, &identity, &key, wait, shown).await?;
        if sync_after {
            session(&js, store, &identity, hub, &key, &mut |_| {}).await?;
        }
        Ok(member)
    })
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
    let key = device_key(store)?;
    let rt = runtime()?;
    rt.block_on(async {
        let js = connect(hub).await?;
        session(&js, store, &identity, hub, &key, progress).await
    })
}

async fn session(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    hub: &Hub,
    key: &DeviceKey,
    progress: &mut dyn FnMut(&Report),
) -> Result<Report, SyncError> {
    if store.root()?.is_none() {
        return Err(not_paired(identity));
    }
    let mut report = Report::default();
    let mut cursor =
        answered(&hub.url, "asking for this till's history", start_of_sending(js, store, identity, hub, key)).await?;
    send(js, store, identity, key, &mut cursor, &mut report, true).await?;
    progress(&report);
    let consumer =
        answered(&hub.url, "creating this device's consumer", consumer_for(js, store, identity, hub)).await?;
    retry_held(store).await?;
    // Fetch while the hub says messages wait (a waiting pull, never a no-wait one: against
    // nats-server 2.9 a no-wait fetch now and then got no answer at all and hung `sync once`).
    loop {
        let info =
            answered(&hub.url, "asking what waits", async { consumer.get_info().await.map_err(hub_error) }).await?;
        if info.num_pending == 0 {
            break;
        }
        let batch = usize::try_from(info.num_pending).unwrap_or(FETCH_BATCH).min(FETCH_BATCH);
        let fetched = fetch(&consumer, store, identity, key, &mut report, batch, FETCH_WAIT);
        answered(&hub.url, "a fetch", fetched).await?;
        progress(&report);
    }
    // What was recorded here while fetching.
    send(js, store, identity, key, &mut cursor, &mut report, true).await?;
    progress(&report);
    Ok(report)
}

/// Sends this device's events the hub has not acknowledged yet, signed; returns how many.
/// `cursor` is where the last call stopped looking (other devices' events after the
/// acknowledged mark are not looked at again). With `record`, what the hub acknowledged is
/// recorded after each round; without, the caller records `cursor` when it sees fit.
///
/// Every batch is confirmed: the hub must hold the batch's last event, and every event it
/// calls a duplicate, as this till sent it, at the sequence its acknowledgement names. A
/// message id is the event's hash, so nobody can take one before the event exists; a hub that
/// says it has an event it does not hold stops sending with why.
async fn send(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    key: &DeviceKey,
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
        let mark = OutboxMark { position: last.position, seq: last.seq, hash: last.hash };
        let mut acks = Vec::with_capacity(batch.len());
        for event in &batch {
            acks.push(js.send_publish(subject.clone(), wire::publish(identity, key, event)).await.map_err(hub_error)?);
        }
        let mut to_confirm = Vec::new();
        for (i, (ack, event)) in acks.into_iter().zip(&batch).enumerate() {
            let ack = ack.await.map_err(hub_error)?;
            if ack.duplicate || i + 1 == batch.len() {
                to_confirm.push((ack.sequence, event.seq, event.hash));
            }
        }
        for (hub_seq, seq, hash) in to_confirm {
            confirm(js, identity, hub_seq, seq, &hash).await?;
        }
        if record {
            acknowledge(store, mark).await?;
        }
        *cursor = mark;
        sent += batch.len() as u64;
        report.sent += batch.len() as u64;
    }
}

/// Checks that the hub holds this till's event `seq` (hash `hash`) at `hub_seq`, on this
/// till's subject.
async fn confirm(
    js: &Context,
    identity: &Identity,
    hub_seq: u64,
    seq: u64,
    hash: &[u8; HASH_LEN],
) -> Result<(), SyncError> {
    let stream = js.get_stream(stream_name(&identity.shop)).await.map_err(hub_error)?;
    let held = stream.get_raw_message(hub_seq).await.map_err(hub_error)?;
    let ours = held.subject.as_str() == events_subject(&identity.shop, &identity.device)
        && held.payload.get(..HASH_LEN) == Some(&hash[..]);
    if ours {
        return Ok(());
    }
    Err(SyncError::Refused(format!(
        "the hub says it holds till {}'s change {seq} as its message {hub_seq}, but that message is something else: another program published under this till's name. Nothing more is sent from this till until the hub is checked: see \"Securing the hub\" in the README (every till needs its own sign-in, allowed to publish only on its own subject)",
        identity.till
    )))
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
///
/// Only a last message signed by this till counts: anything else on its subject (a message
/// another program put there) is not its history, and sending goes on from the store's mark.
async fn start_of_sending(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    hub: &Hub,
    key: &DeviceKey,
) -> Result<OutboxMark, SyncError> {
    let state = store.sync_state()?;
    let (mark, here) = (state.outbox, state.own_events);
    // With all of this till's events sent, sending goes on from the log's head: a till that
    // mostly receives (a million other tills' events after its mark) must not read them all
    // again to find it has nothing to send.
    let past_what_is_sent = |cursor: OutboxMark| {
        if cursor.seq == here { OutboxMark { position: state.head, seq: here, hash: state.own_hash } } else { cursor }
    };
    let stream = js.get_stream(stream_name(&hub.shop)).await.map_err(hub_error)?;
    let last = match stream.get_last_raw_message_by_subject(&events_subject(&identity.shop, &identity.device)).await {
        Ok(message) => message,
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            return Ok(past_what_is_sent(OutboxMark::default()));
        }
        Err(e) => return Err(hub_error(e)),
    };
    let claimed =
        wire::parse(&identity.shop, last.subject.as_str(), Some(&last.headers), &last.payload, last.sequence, None);
    let on_hub = match claimed {
        HubMessage::Event(e) => match (e.signature, e.prev) {
            (Some(signature), Some(prev))
                if key.public().verifies(
                    &countertop_core::event_message(&identity.shop, &identity.device, e.seq, &prev, &e.hash),
                    &signature,
                ) =>
            {
                e.seq
            }
            _ => return Ok(past_what_is_sent(mark)),
        },
        HubMessage::Unreadable { .. } => return Ok(past_what_is_sent(mark)),
    };
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
        (Some(position), Some(seq)) => OutboxMark { position, seq, hash: [0; HASH_LEN] },
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
            Ok(past_what_is_sent(OutboxMark { position: event.position, seq: event.seq, hash: event.hash }))
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
/// Retries every message held here (once a session: an update may read what an older
/// version held, in order).
async fn retry_held(store: &WriteStore) -> Result<(), SyncError> {
    blocking({
        let store = store.clone();
        move || store.receive(Vec::new(), 0, true)
    })
    .await
    .map(|_| ())
}

async fn fetch(
    consumer: &consumer::PullConsumer,
    store: &WriteStore,
    identity: &Identity,
    key: &DeviceKey,
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
    take(got, store, identity, key, report, None).await
}

/// Hands what came to the write store in one transaction (`countertop-core`'s
/// `store/inbox.rs` takes, holds or quarantines each message; nothing stops at one), then
/// acknowledges it; returns how many messages that was.
///
/// With `echoes` (the sync loop), a batch of only this till's own events, each signed by it,
/// is not recorded when the last record is under [`MARK_EVERY`] old: each record is a
/// write-store commit that order entry would queue behind, once per order taken. It is left
/// in [`Unrecorded::echoes`], for the loop to record when idle or stopping; one lost in a
/// crash is fetched again next time and skipped. (Not when this till retired another: the
/// retirement takes effect where it comes back from the hub.)
async fn take(
    messages: Vec<jetstream::Message>,
    store: &WriteStore,
    identity: &Identity,
    key: &DeviceKey,
    report: &mut Report,
    echoes: Option<(&mut Instant, &Mutex<Unrecorded>)>,
) -> Result<usize, SyncError> {
    let Some(last) = messages.last() else { return Ok(0) };
    let mut parsed = Vec::with_capacity(messages.len());
    let mut through = 0;
    for message in &messages {
        let info = message.info().map_err(hub_error)?;
        through = info.stream_sequence;
        report.pending = info.pending;
        parsed.push(wire::parse(
            &identity.shop,
            message.subject.as_str(),
            message.headers.as_ref(),
            &message.payload,
            info.stream_sequence,
            chrono::DateTime::from_timestamp(info.published.unix_timestamp(), info.published.nanosecond()),
        ));
    }
    if let Some((recorded, unrecorded)) = &echoes
        && recorded.elapsed() < MARK_EVERY
        && parsed.iter().all(|m| own_signed(identity, key, m))
        && !store.roster()?.iter().any(|m| m.retired.as_ref().is_some_and(|r| r.hub_seq.is_none()))
    {
        last.ack().await.map_err(hub_error)?;
        lock(unrecorded).echoes = Some(through);
        return Ok(messages.len());
    }
    let arrivals = blocking({
        let store = store.clone();
        move || store.receive(parsed, through, false)
    })
    .await?;
    for arrival in &arrivals {
        report.count(arrival);
    }
    if let Some((recorded, unrecorded)) = echoes {
        *recorded = Instant::now();
        lock(unrecorded).echoes = None;
    }
    // Acknowledges everything up to it (`AckPolicy::All`); the store has looked at it all.
    last.ack().await.map_err(hub_error)?;
    Ok(messages.len())
}

/// Whether `message` is this till's own event, signed by it.
fn own_signed(identity: &Identity, key: &DeviceKey, message: &HubMessage) -> bool {
    let HubMessage::Event(e) = message else { return false };
    let (Some(signature), Some(prev)) = (e.signature, e.prev) else { return false };
    e.origin == identity.device
        && key.public().verifies(
            &countertop_core::event_message(&identity.shop, &identity.device, e.seq, &prev, &e.hash),
            &signature,
        )
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
            store.receive(Vec::new(), through, false)?;
        }
        Ok(())
    }
}

/// Writes a bug of the sync thread down in the data folder's log (best effort: the status
/// shows it either way).
fn write_down(data_dir: &Path, what: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let line =
        format!("{} bug in the sync thread: {what} (the session ended and starts again)\n", Utc::now().to_rfc3339());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(data_dir.join(countertop_core::LOG_FILE));
    if let Ok(mut file) = file {
        let _ = file.write_all(line.as_bytes());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
        let key = device_key(&store)?;
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
                            () = run(&store, &identity, &hub, &key, &status, &unrecorded) => {}
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
    key: &DeviceKey,
    status: &Mutex<Status>,
    unrecorded: &Mutex<Unrecorded>,
) {
    let update = |f: &mut dyn FnMut(&mut Status)| f(&mut lock(status));
    let mut backoff = Duration::from_millis(500);
    loop {
        // A panic in a session (a bug of ours) ends that session, not the thread: it is
        // written down, shown, and the loop starts again after the backoff.
        let session = std::panic::AssertUnwindSafe(async {
            if store.root()?.is_none() {
                return Err(not_paired(identity));
            }
            let js = connect(hub).await?;
            let start =
                answered(&hub.url, "asking for this till's history", start_of_sending(&js, store, identity, hub, key))
                    .await?;
            let consumer =
                answered(&hub.url, "creating this device's consumer", consumer_for(&js, store, identity, hub)).await?;
            retry_held(store).await?;
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
                    send(&js, store, identity, key, &mut cursor, &mut report, false).await?;
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
                                        move || store.receive(Vec::new(), through, false)
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
                    let echoes = Some((&mut echoes_recorded, unrecorded));
                    take(got, store, identity, key, &mut report, echoes).await?;
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
        });
        let result = match session.catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                write_down(data_dir(store), &what);
                Err(SyncError::Bug(what))
            }
        };
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
