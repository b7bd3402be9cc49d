//! What a device that syncs keeps beside its log: who it is ([`Identity`]), how far its own
//! events have been acknowledged by the hub ([`OutboxMark`]), where each other device's chain
//! has got to here ([`OriginTip`]), and which local positions hold another device's events.
//!
//! Every device's events form their own hash chain, in the order that device recorded them
//! (its *sequence*, from 1): `hash = BLAKE3(previous hash of the same device ‖ record)`. A
//! device's own events are the chain `log.rs` has always kept — for a shop on one device, the
//! whole log. Another device's events are stored here exactly as that device stored them
//! (hash and record bytes), at the next local position, so its chain can be checked on every
//! device ([`super::WriteStore::verify`]) and an event is recognised by (device, sequence)
//! however often it arrives.
//!
//! Tables (all written by the writer thread only, in the same transaction as the events):
//! - `sync_meta`: `identity` (JSON [`Identity`]), `outbox` (JSON [`OutboxMark`]), `own_tip`
//!   (this device's chain tip, `seq u64 LE ‖ hash`: kept once the log holds another device's
//!   events; before that the tip is the last event), `hub_seq` (the hub stream's sequence up
//!   to which everything is here, moved in the same transaction as the events it brought).
//! - `sync_origins`: device id → JSON [`OriginTip`].
//! - `sync_foreign`: local position → `seq u64 LE ‖ local stream version u64 LE ‖ device id`.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Error;
use super::journal::{Puts, Target};

pub(super) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("sync_meta");
pub(super) const ORIGINS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("sync_origins");
pub(super) const FOREIGN: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("sync_foreign");

const KEY_IDENTITY: &str = "identity";
const KEY_OUTBOX: &str = "outbox";
const KEY_OWN_TIP: &str = "own_tip";
const KEY_HUB_SEQ: &str = "hub_seq";

pub(super) const HASH_LEN: usize = 32;

/// Who this device is in its shop. Given once, when it joins; never changes after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Identity {
    /// Unique among all devices (a ULID).
    pub device: String,
    /// Short and human (`A`, `B`, … `AA`): the prefix of the numbers this device gives out.
    pub till: String,
    /// The shop's name on the hub.
    pub shop: String,
    /// The hub's address (`nats://host:4222`), without credentials.
    pub hub: String,
    pub joined_at: DateTime<Utc>,
}

/// How far this device's own events have been acknowledged by the hub: its sequence `seq` is
/// at local `position`, and had the hash `hash` (all zeros: not known, in a mark recorded
/// before marks kept it). Everything of its own after that is waiting to be sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMark {
    pub position: u64,
    pub seq: u64,
    #[serde(default, with = "hex_hash")]
    pub hash: [u8; HASH_LEN],
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::HASH_LEN;

    pub(super) fn serialize<S: Serializer>(hash: &[u8; HASH_LEN], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::store::trust::hex(hash))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; HASH_LEN], D::Error> {
        let text = String::deserialize(d)?;
        crate::store::trust::unhex(&text)
            .and_then(|b| <[u8; HASH_LEN]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| serde::de::Error::custom("not a hash"))
    }
}

/// One of this device's events, as it travels: its sequence, the hash of its event before it
/// (`prev`), its hash and its record as stored.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub position: u64,
    pub seq: u64,
    pub prev: [u8; HASH_LEN],
    pub hash: [u8; HASH_LEN],
    pub record: Vec<u8>,
}

/// Another device's event, as it arrives. Nothing in it is believed until checked
/// (`store/trust.rs`, `store/inbox.rs`): the subject names `origin`, the rest is what the
/// message says.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub origin: String,
    pub till: String,
    pub seq: u64,
    /// The hash of the origin's event before it (`None`: from a Countertop that did not sign).
    pub prev: Option<[u8; HASH_LEN]>,
    pub hash: [u8; HASH_LEN],
    pub record: Vec<u8>,
    /// The origin's signature over shop, origin, seq, prev and hash.
    pub signature: Option<[u8; 64]>,
    /// Where it is in the hub's stream (0 when it did not come from one).
    pub hub_seq: u64,
    /// When the hub took it (the hub's clock: the same for every till).
    pub published: Option<DateTime<Utc>>,
}

/// One message from the hub: an event as it arrives, or something that is not one.
#[derive(Clone, Debug)]
pub enum HubMessage {
    Event(Incoming),
    /// Not readable as a Countertop event at all (no headers, too short): recorded with why.
    Unreadable {
        hub_seq: u64,
        subject: String,
        why: String,
    },
}

/// What became of one message from the hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Stored at this local position and folded into the current state.
    Appended { position: u64 },
    /// Already here (a redelivery, or this device's own event coming back): nothing done.
    Duplicate,
    /// Kept aside to be taken when it can be (a gap before it, its device not admitted yet, a
    /// newer schema); its device's later events wait behind it.
    Held(super::trust::Problem, String),
    /// Not taken, ever: why.
    Quarantined(super::trust::Problem, String),
    /// Its till's genuine event, against the shop's rules: kept out of the books on every
    /// till (its device's chain goes on through it), as `Problem::Refused` or
    /// `Problem::PlacedTwice`.
    Refused(super::trust::Problem, String),
}

/// Where another device's chain has got to on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OriginTip {
    pub device: String,
    pub till: String,
    /// Its last event here (its sequence number; all before it are here too).
    #[ts(type = "number")]
    pub seq: u64,
    /// That event's hash (hex).
    pub hash: String,
    /// When that device recorded that event (its clock).
    pub recorded_at: DateTime<Utc>,
    /// When it arrived here (this device's clock).
    pub received_at: DateTime<Utc>,
}

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(META)?;
    txn.open_table(ORIGINS)?;
    txn.open_table(FOREIGN)?;
    Ok(())
}

/// Copies the tables from a snapshot (backups).
pub(super) fn copy(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<(), Error> {
    super::copy_table(from, to, META)?;
    super::copy_table(from, to, ORIGINS)?;
    super::copy_table(from, to, FOREIGN)?;
    Ok(())
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::corrupt(format!("the sync record '{what}' is not readable: {e}")))
}

fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, Error> {
    match table.get(key)? {
        Some(v) => decode(key, v.value()).map(Some),
        None => Ok(None),
    }
}

/// This device's till code, when it has joined a shop (read transaction).
pub(super) fn till_read(txn: &redb::ReadTransaction) -> Result<Option<String>, Error> {
    Ok(SyncReader::open(txn)?.identity()?.map(|i| i.till))
}

/// A foreign row: (seq, local stream version, origin).
fn decode_foreign(position: u64, bytes: &[u8]) -> Result<(u64, u64, &str), Error> {
    let bad = || Error::corrupt_event(position, "its sync record is not readable");
    let (seq, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
    let (version, origin) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
    let origin = std::str::from_utf8(origin).map_err(|_| bad())?;
    Ok((u64::from_le_bytes(*seq), u64::from_le_bytes(*version), origin))
}

fn encode_foreign(seq: u64, version: u64, origin: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + origin.len());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(origin.as_bytes());
    out
}

fn decode_tip(bytes: &[u8]) -> Result<(u64, [u8; HASH_LEN]), Error> {
    let bad = || Error::corrupt("this device's chain tip is not readable");
    let (seq, hash) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
    let hash = <[u8; HASH_LEN]>::try_from(hash).map_err(|_| bad())?;
    Ok((u64::from_le_bytes(*seq), hash))
}

/// The sync tables, opened in a write transaction ([`SyncTables`], the log writer's) or a
/// read one ([`SyncReader`]); what they hold is read the same way from either.
pub(super) struct Sync<M, O, F> {
    meta: M,
    origins: O,
    foreign: F,
}

/// The sync tables inside one write transaction.
pub(super) type SyncTables<'txn> = Sync<
    Table<'txn, &'static str, &'static [u8]>,
    Table<'txn, &'static str, &'static [u8]>,
    Table<'txn, u64, &'static [u8]>,
>;

/// The sync tables from a read transaction.
pub(super) type SyncReader = Sync<
    redb::ReadOnlyTable<&'static str, &'static [u8]>,
    redb::ReadOnlyTable<&'static str, &'static [u8]>,
    redb::ReadOnlyTable<u64, &'static [u8]>,
>;

impl<M, O, F> Sync<M, O, F>
where
    M: ReadableTable<&'static str, &'static [u8]>,
    O: ReadableTable<&'static str, &'static [u8]>,
    F: ReadableTable<u64, &'static [u8]>,
{
    pub(super) fn identity(&self) -> Result<Option<Identity>, Error> {
        get(&self.meta, KEY_IDENTITY)
    }

    pub(super) fn outbox(&self) -> Result<OutboxMark, Error> {
        Ok(get(&self.meta, KEY_OUTBOX)?.unwrap_or_default())
    }

    pub(super) fn hub_seq(&self) -> Result<u64, Error> {
        Ok(get(&self.meta, KEY_HUB_SEQ)?.unwrap_or(0))
    }

    /// This device's chain tip (sequence, hash), once kept apart from the log's last event.
    pub(super) fn own_tip(&self) -> Result<Option<(u64, [u8; HASH_LEN])>, Error> {
        self.meta.get(KEY_OWN_TIP)?.map(|v| decode_tip(v.value())).transpose()
    }

    pub(super) fn origin(&self, device: &str) -> Result<Option<OriginTip>, Error> {
        get(&self.origins, device)
    }

    /// Every other device whose events are here.
    pub(super) fn origins(&self) -> Result<Vec<OriginTip>, Error> {
        let mut out = Vec::new();
        for entry in self.origins.iter()? {
            let (key, value) = entry?;
            out.push(decode(key.value(), value.value())?);
        }
        Ok(out)
    }

    /// Whether the event at `position` is another device's.
    pub(super) fn is_foreign(&self, position: u64) -> Result<bool, Error> {
        Ok(self.foreign.get(position)?.is_some())
    }

    /// Whose event is at `position`: `None` for this device's own, else (seq, local stream
    /// version, device).
    pub(super) fn foreign(&self, position: u64) -> Result<Option<(u64, u64, String)>, Error> {
        match self.foreign.get(position)? {
            Some(v) => {
                let (seq, version, origin) = decode_foreign(position, v.value())?;
                Ok(Some((seq, version, origin.to_owned())))
            }
            None => Ok(None),
        }
    }
}

impl SyncReader {
    pub(super) fn open(txn: &redb::ReadTransaction) -> Result<SyncReader, Error> {
        Ok(Sync { meta: txn.open_table(META)?, origins: txn.open_table(ORIGINS)?, foreign: txn.open_table(FOREIGN)? })
    }
}

impl<'txn> SyncTables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<SyncTables<'txn>, Error> {
        Ok(Sync { meta: txn.open_table(META)?, origins: txn.open_table(ORIGINS)?, foreign: txn.open_table(FOREIGN)? })
    }

    pub(super) fn set_own_tip(&mut self, puts: &mut Puts, seq: u64, hash: &[u8; HASH_LEN]) -> Result<(), Error> {
        let mut value = seq.to_le_bytes().to_vec();
        value.extend_from_slice(hash);
        self.meta.insert(KEY_OWN_TIP, value.as_slice())?;
        puts.record(Target::SyncMeta, KEY_OWN_TIP.as_bytes(), &value);
        Ok(())
    }

    pub(super) fn set_origin(&mut self, puts: &mut Puts, tip: &OriginTip) -> Result<(), Error> {
        let json = serde_json::to_vec(tip).map_err(|e| Error::Internal(format!("encoding a device's tip: {e}")))?;
        self.origins.insert(tip.device.as_str(), json.as_slice())?;
        puts.record(Target::SyncOrigins, tip.device.as_bytes(), &json);
        Ok(())
    }

    pub(super) fn set_foreign(
        &mut self,
        puts: &mut Puts,
        position: u64,
        seq: u64,
        version: u64,
        origin: &str,
    ) -> Result<(), Error> {
        let value = encode_foreign(seq, version, origin);
        self.foreign.insert(position, value.as_slice())?;
        puts.record(Target::SyncForeign, &position.to_le_bytes(), &value);
        Ok(())
    }

    pub(super) fn set_identity(&mut self, puts: &mut Puts, identity: &Identity) -> Result<(), Error> {
        self.put_meta(puts, KEY_IDENTITY, identity)
    }

    pub(super) fn set_outbox(&mut self, puts: &mut Puts, mark: &OutboxMark) -> Result<(), Error> {
        self.put_meta(puts, KEY_OUTBOX, mark)
    }

    pub(super) fn set_hub_seq(&mut self, puts: &mut Puts, seq: u64) -> Result<(), Error> {
        self.put_meta(puts, KEY_HUB_SEQ, &seq)
    }

    fn put_meta<T: Serialize>(&mut self, puts: &mut Puts, key: &str, value: &T) -> Result<(), Error> {
        let json = serde_json::to_vec(value).map_err(|e| Error::Internal(format!("encoding {key}: {e}")))?;
        self.meta.insert(key, json.as_slice())?;
        puts.record(Target::SyncMeta, key.as_bytes(), &json);
        Ok(())
    }
}
