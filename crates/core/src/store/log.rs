//! The event log: the `events` table (global position → envelope) and the `streams` index
//! ((stream, version) → position). Owns both tables and the hash chain.
//!
//! A stored envelope is `hash (32 bytes) ‖ record`, where `record` is the envelope's JSON,
//! compressed when long (see [`crate::codec`]; logs written before that hold plain JSON, and
//! a log may hold both), `hash = BLAKE3(previous hash ‖ record)` over the record as stored,
//! and the first event's previous hash is 32 zero bytes. Positions start at 1 and have no
//! gaps. Rewriting, removing or reordering any event breaks the chain at that position, which
//! [`verify`] reports.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Error;
use super::journal::{Puts, Target, stream_key};
use super::replica::{Incoming, OriginTip, OutboxMark, Outgoing, SyncReader, SyncTables};
use super::trust::TrustReader;
use crate::domain::{Event, StreamId};

pub(super) const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");
pub(super) const STREAMS: TableDefinition<'_, (&str, u64), u64> = TableDefinition::new("streams");

use super::replica::HASH_LEN;
pub(super) const GENESIS: [u8; HASH_LEN] = [0; HASH_LEN];

/// One recorded event with everything known about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Global position in the log, from 1, without gaps.
    pub position: u64,
    pub stream: StreamId,
    /// Position within the stream, from 1.
    pub version: u64,
    /// The stable type name as written (`order.placed`).
    pub event_type: String,
    /// The schema version as written; [`Envelope::event`] is already upcast to the current one.
    pub schema_version: u16,
    /// When the write store committed it (UTC).
    pub recorded_at: DateTime<Utc>,
    /// The command that caused it.
    pub command_id: String,
    pub event: Event,
    /// The chain hash, hex-encoded (the chain of the device that recorded it).
    pub hash: String,
}

/// The stored JSON record. Field names are part of the file format: never rename them.
/// Written with the payload as a `Value`; read back borrowed from the stored bytes, with the
/// payload left as raw JSON so an event of the current schema version parses straight into
/// its type (no `Value` in between).
#[derive(Serialize, Deserialize)]
struct Record<'a, P> {
    #[serde(borrow)]
    stream: Cow<'a, str>,
    version: u64,
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    schema: u16,
    recorded_at: DateTime<Utc>,
    #[serde(borrow)]
    command: Cow<'a, str>,
    payload: P,
}

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(EVENTS)?;
    txn.open_table(STREAMS)?;
    Ok(())
}

/// Copies the log's tables from a snapshot (backups).
pub(super) fn copy(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<(), Error> {
    super::copy_table(from, to, EVENTS)?;
    super::copy_table(from, to, STREAMS)?;
    Ok(())
}

/// The log's tables inside one write transaction, with the chain's tip carried from append
/// to append.
pub(super) struct LogWriter<'txn> {
    events: Table<'txn, u64, &'static [u8]>,
    streams: Table<'txn, (&'static str, u64), u64>,
    sync: SyncTables<'txn>,
    next_position: u64,
    /// The tip of this device's own chain (the last event's hash until another device's
    /// events are here, see `replica.rs`).
    prev_hash: [u8; HASH_LEN],
    /// This device's own events so far (its sequence).
    own_seq: u64,
    /// Whether the own tip is kept in `sync_meta` (once the log holds another device's events).
    own_kept: bool,
    /// This transaction's writes, for the journal.
    pub(super) puts: Puts,
}

impl<'txn> LogWriter<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<LogWriter<'txn>, Error> {
        let events = txn.open_table(EVENTS)?;
        let streams = txn.open_table(STREAMS)?;
        let sync = SyncTables::open(txn)?;
        let (next_position, last_hash) = match events.last()? {
            None => (1, GENESIS),
            Some((position, value)) => {
                let position = position.value();
                let (hash, _) = split(position, value.value())?;
                (position + 1, hash)
            }
        };
        let (own_seq, prev_hash, own_kept) = match sync.own_tip()? {
            Some((seq, hash)) => (seq, hash, true),
            None => (next_position - 1, last_hash, false),
        };
        Ok(LogWriter { events, streams, sync, next_position, prev_hash, own_seq, own_kept, puts: Puts::default() })
    }

    /// The sync tables, in this transaction.
    pub(super) fn sync(&mut self) -> (&mut SyncTables<'txn>, &mut Puts) {
        (&mut self.sync, &mut self.puts)
    }

    /// The position the next appended event will get.
    pub(super) fn next_position(&self) -> u64 {
        self.next_position
    }

    /// The stream's current version (number of events), 0 for a new stream.
    pub(super) fn stream_version(&self, stream: &StreamId) -> Result<u64, Error> {
        stream_version(&self.streams, &stream.to_key())
    }

    /// Appends one event at the end of the log and of its stream. Returns its position and
    /// stream version.
    pub(super) fn append(
        &mut self,
        event: &Event,
        command_id: &str,
        recorded_at: DateTime<Utc>,
    ) -> Result<(u64, u64), Error> {
        let stream = event.stream().to_key();
        let version = stream_version(&self.streams, &stream)? + 1;
        let record = Record {
            stream: Cow::Owned(stream),
            version,
            event_type: Cow::Borrowed(event.type_name()),
            schema: event.schema_version(),
            recorded_at,
            command: Cow::Borrowed(command_id),
            payload: event.to_payload(),
        };
        let json = serde_json::to_vec(&record).map_err(|e| Error::Internal(format!("encoding an event: {e}")))?;
        let stored = crate::codec::pack(json);
        let hash = chain(&self.prev_hash, &stored);
        let mut value = Vec::with_capacity(HASH_LEN + stored.len());
        value.extend_from_slice(&hash);
        value.extend_from_slice(&stored);
        let position = self.next_position;
        self.events.insert(position, value.as_slice())?;
        self.streams.insert((&*record.stream, version), position)?;
        self.puts.record(Target::Events, &position.to_le_bytes(), &value);
        self.puts.record(Target::Streams, &stream_key(&record.stream, version), &position.to_le_bytes());
        self.next_position += 1;
        self.prev_hash = hash;
        self.own_seq += 1;
        if self.own_kept {
            self.sync.set_own_tip(&mut self.puts, self.own_seq, &hash)?;
        }
        Ok((position, version))
    }

    /// Appends another device's event as that device stored it (hash and record bytes), once
    /// `store/inbox.rs` has checked that it is the next of that device's chain here and what
    /// it holds (`envelope`, decoded from it by [`decode_record`]). Returns its position; the
    /// envelope gets its local position and stream version.
    pub(super) fn append_foreign(
        &mut self,
        incoming: &Incoming,
        envelope: &mut Envelope,
        received_at: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let mut value = Vec::with_capacity(HASH_LEN + incoming.record.len());
        value.extend_from_slice(&incoming.hash);
        value.extend_from_slice(&incoming.record);
        let position = self.next_position;
        if !self.own_kept {
            self.sync.set_own_tip(&mut self.puts, self.own_seq, &self.prev_hash)?;
            self.own_kept = true;
        }
        let stream = envelope.stream.to_key();
        let version = stream_version(&self.streams, &stream)? + 1;
        envelope.position = position;
        envelope.version = version;
        self.events.insert(position, value.as_slice())?;
        self.streams.insert((stream.as_str(), version), position)?;
        self.puts.record(Target::Events, &position.to_le_bytes(), &value);
        self.puts.record(Target::Streams, &stream_key(&stream, version), &position.to_le_bytes());
        self.sync.set_foreign(&mut self.puts, position, incoming.seq, version, &incoming.origin)?;
        self.set_origin_tip(incoming, envelope.recorded_at, received_at)?;
        self.next_position += 1;
        Ok(position)
    }

    /// Moves another device's chain tip here to `incoming` (appended, or refused but part of
    /// its chain).
    pub(super) fn set_origin_tip(
        &mut self,
        incoming: &Incoming,
        recorded_at: DateTime<Utc>,
        received_at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let tip = OriginTip {
            device: incoming.origin.clone(),
            till: incoming.till.clone(),
            seq: incoming.seq,
            hash: blake3::Hash::from_bytes(incoming.hash).to_hex().to_string(),
            recorded_at,
            received_at,
        };
        self.sync.set_origin(&mut self.puts, &tip)
    }

    /// Another device's chain tip here: its last sequence and hash (0 and zeros: none yet).
    pub(super) fn origin_tip(&self, device: &str) -> Result<(u64, [u8; HASH_LEN]), Error> {
        match self.sync.origin(device)? {
            Some(tip) => Ok((tip.seq, parse_hash(&tip.hash)?)),
            None => Ok((0, GENESIS)),
        }
    }

    /// This device's own chain: how many events, and the last one's hash.
    pub(super) fn own_tip(&self) -> (u64, [u8; HASH_LEN]) {
        (self.own_seq, self.prev_hash)
    }

    /// One envelope by position (including those appended in this transaction).
    pub(super) fn get(&self, position: u64) -> Result<Envelope, Error> {
        let value = self.events.get(position)?.ok_or_else(|| Error::corrupt_event(position, "it is missing"))?;
        decode(position, value.value())
    }

    /// Reads back one stream's envelopes (including those appended in this transaction).
    pub(super) fn stream(&self, stream: &StreamId, up_to_version: u64) -> Result<Vec<Envelope>, Error> {
        read_stream(&self.events, &self.streams, stream, up_to_version)
    }
}

/// Why a record from another device could not be read.
pub(super) enum Unreadable {
    /// Of an event type, schema version or stream kind this version does not know: written by
    /// a newer Countertop.
    Newer(String),
    /// Not what any version writes.
    Malformed(String),
}

/// Reads a record as stored at `position` (the envelope's hash left empty): what every read of
/// the log and every check of another device's event goes through.
pub(super) fn decode_record(position: u64, record: &[u8]) -> Result<Envelope, Unreadable> {
    let malformed = |e: &dyn std::fmt::Display| Unreadable::Malformed(format!("the envelope is not readable: {e}"));
    let json = crate::codec::unpack(record).map_err(|e| malformed(&e))?;
    let record: Record<'_, &RawValue> = serde_json::from_slice(&json).map_err(|e| malformed(&e))?;
    let stream = StreamId::from_key(&record.stream)
        .ok_or_else(|| Unreadable::Newer(format!("unknown stream '{}'", record.stream)))?;
    let event =
        Event::from_payload_json(&record.event_type, record.schema, record.payload.get()).map_err(|e| match e {
            crate::domain::DecodeError::UnknownType(_) | crate::domain::DecodeError::NewerVersion { .. } => {
                Unreadable::Newer(e.to_string())
            }
            crate::domain::DecodeError::Malformed { .. } => Unreadable::Malformed(e.to_string()),
        })?;
    if event.stream() != stream {
        return Err(Unreadable::Malformed(format!(
            "it says it belongs to {} but is an event of {}",
            record.stream,
            event.stream()
        )));
    }
    Ok(Envelope {
        position,
        stream,
        version: record.version,
        event_type: record.event_type.into_owned(),
        schema_version: record.schema,
        recorded_at: record.recorded_at,
        command_id: record.command.into_owned(),
        event,
        hash: String::new(),
    })
}

fn parse_hash(hex: &str) -> Result<[u8; HASH_LEN], Error> {
    blake3::Hash::from_hex(hex)
        .map(|h| *h.as_bytes())
        .map_err(|_| Error::corrupt(format!("a device's chain tip '{hex}' is not a hash")))
}

pub(super) fn chain(prev: &[u8; HASH_LEN], record: &[u8]) -> [u8; HASH_LEN] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev);
    hasher.update(record);
    *hasher.finalize().as_bytes()
}

fn split(position: u64, value: &[u8]) -> Result<([u8; HASH_LEN], &[u8]), Error> {
    match value.split_first_chunk::<HASH_LEN>() {
        Some((hash, json)) => Ok((*hash, json)),
        None => Err(Error::corrupt_event(position, "the envelope is shorter than its hash")),
    }
}

/// One stored envelope (hash ‖ record) at `position`.
pub(super) fn decode(position: u64, value: &[u8]) -> Result<Envelope, Error> {
    let (hash, stored) = split(position, value)?;
    let mut envelope = decode_record(position, stored).map_err(|e| match e {
        Unreadable::Newer(why) | Unreadable::Malformed(why) => Error::corrupt_event(position, why),
    })?;
    envelope.hash = blake3::Hash::from_bytes(hash).to_hex().to_string();
    Ok(envelope)
}

fn stream_version(streams: &impl ReadableTable<(&'static str, u64), u64>, stream: &str) -> Result<u64, Error> {
    let last = streams.range((stream, 0)..=(stream, u64::MAX))?.next_back().transpose()?;
    Ok(last.map_or(0, |(key, _)| key.value().1))
}

fn read_stream(
    events: &impl ReadableTable<u64, &'static [u8]>,
    streams: &impl ReadableTable<(&'static str, u64), u64>,
    stream: &StreamId,
    up_to_version: u64,
) -> Result<Vec<Envelope>, Error> {
    let key = stream.to_key();
    let mut out = Vec::new();
    for entry in streams.range((key.as_str(), 1)..=(key.as_str(), up_to_version))? {
        let (index, position) = entry?;
        let position = position.value();
        let value = events
            .get(position)?
            .ok_or_else(|| Error::corrupt_event(position, format!("stream {key} points at a missing event")))?;
        let mut envelope = decode(position, value.value())?;
        // Another device's event keeps the version it had there; here it is where it arrived.
        envelope.version = index.value().1;
        out.push(envelope);
    }
    Ok(out)
}

/// Read access to the log from a read transaction (a consistent snapshot; never blocks the writer).
pub(super) struct LogReader {
    events: redb::ReadOnlyTable<u64, &'static [u8]>,
    streams: redb::ReadOnlyTable<(&'static str, u64), u64>,
}

impl LogReader {
    pub(super) fn open(txn: &redb::ReadTransaction) -> Result<LogReader, Error> {
        Ok(LogReader { events: txn.open_table(EVENTS)?, streams: txn.open_table(STREAMS)? })
    }

    /// The last position in the log (0 when empty).
    pub(super) fn head(&self) -> Result<u64, Error> {
        Ok(self.events.last()?.map_or(0, |(k, _)| k.value()))
    }

    /// Up to `limit` envelopes from `from` (inclusive) on.
    pub(super) fn read(&self, from: u64, limit: usize) -> Result<Vec<Envelope>, Error> {
        let mut out = Vec::new();
        for entry in self.events.range(from..)?.take(limit) {
            let (position, value) = entry?;
            out.push(decode(position.value(), value.value())?);
        }
        Ok(out)
    }

    /// Up to `limit` envelopes from `from` on, each decoded on its own: one unreadable event
    /// does not hide the others (the projector parks it and carries on).
    pub(super) fn read_each(&self, from: u64, limit: usize) -> Result<Vec<super::LoggedEvent>, Error> {
        let mut out = Vec::new();
        for entry in self.events.range(from..)?.take(limit) {
            let (position, value) = entry?;
            let position = position.value();
            out.push((position, decode(position, value.value())));
        }
        Ok(out)
    }

    /// A stream's envelopes, oldest first.
    pub(super) fn stream(&self, stream: &StreamId) -> Result<Vec<Envelope>, Error> {
        read_stream(&self.events, &self.streams, stream, u64::MAX)
    }

    /// This device's own events after `mark`, at most `limit` of them, skipping other
    /// devices' events, each with the hash of the own event before it; also the last position
    /// looked at (at most `scan` positions are), so a caller can go on from there without
    /// reading the same positions again.
    pub(super) fn own_after(
        &self,
        sync: &SyncReader,
        mark: OutboxMark,
        limit: usize,
        scan: usize,
    ) -> Result<(Vec<Outgoing>, u64), Error> {
        let mut out = Vec::new();
        let mut seq = mark.seq;
        let mut looked = mark.position;
        let mut prev = None;
        for entry in self.events.range(mark.position.saturating_add(1)..)?.take(scan) {
            let (position, value) = entry?;
            let position = position.value();
            looked = position;
            if sync.is_foreign(position)? {
                continue;
            }
            let before = match prev {
                Some(before) => before,
                None => self.own_hash(sync, mark)?,
            };
            seq += 1;
            let (hash, record) = split(position, value.value())?;
            out.push(Outgoing { position, seq, prev: before, hash, record: record.to_vec() });
            if out.len() >= limit {
                break;
            }
            prev = Some(hash);
        }
        Ok((out, looked))
    }

    /// The hash of this device's own event `mark.seq` (zeros for none): the mark's own, or
    /// the nearest own event at or before its position (marks recorded before they kept it).
    pub(super) fn own_hash(&self, sync: &SyncReader, mark: OutboxMark) -> Result<[u8; HASH_LEN], Error> {
        if mark.seq == 0 {
            return Ok(GENESIS);
        }
        if mark.hash != GENESIS {
            return Ok(mark.hash);
        }
        for entry in self.events.range(..=mark.position)?.rev() {
            let (position, value) = entry?;
            let position = position.value();
            if !sync.is_foreign(position)? {
                return Ok(split(position, value.value())?.0);
            }
        }
        Err(Error::corrupt(format!("this device's event {} is not in the log", mark.seq)))
    }

    /// Walks the whole log: positions without gaps, every device's events in its order
    /// without gaps (its refused events, kept apart, in between) and each hash matching that
    /// device's chain, every signature an event came with matching its device's key, every
    /// event readable, every event findable through its stream.
    pub(super) fn verify(&self, sync: &SyncReader, trust: &TrustReader) -> Result<Verification, Error> {
        let shop = sync.identity()?.map(|i| i.shop).unwrap_or_default();
        let keys: HashMap<String, Option<super::trust::PublicKey>> =
            trust.members()?.into_iter().map(|m| (m.device.clone(), m.public_key())).collect();
        let mut own = GENESIS;
        let mut own_count = 0;
        let mut others: HashMap<String, (u64, [u8; HASH_LEN])> = HashMap::new();
        let mut checked = 0;
        for (expected, entry) in (1..).zip(self.events.iter()?) {
            let (position, value) = entry?;
            let position = position.value();
            let fail = |problem: String| {
                Ok(Verification { events: checked, head_hash: None, first_bad: Some((position, problem)) })
            };
            if position != expected {
                return fail(format!("expected position {expected} next; events are missing"));
            }
            let value = value.value();
            let Some((stored, json)) = value.split_first_chunk::<HASH_LEN>() else {
                return fail("the envelope is shorter than its hash".to_owned());
            };
            let foreign = match sync.foreign(position) {
                Ok(foreign) => foreign,
                Err(e) => return fail(e.to_string()),
            };
            let prev = match &foreign {
                None => own,
                Some((seq, _, origin)) => {
                    let (last, hash) = others.get(origin).copied().unwrap_or((0, GENESIS));
                    let (last, hash) = match through_refused(trust, origin, last, hash, *seq) {
                        Ok(tip) => tip,
                        Err(problem) => return fail(problem),
                    };
                    if *seq != last + 1 {
                        return fail(format!(
                            "event {seq} of device {origin} follows its event {last}: events are missing"
                        ));
                    }
                    hash
                }
            };
            let computed = chain(&prev, json);
            if &computed != stored {
                return fail("the hash does not match the chain: this event or an earlier one was altered".to_owned());
            }
            if let Some((seq, _, origin)) = &foreign
                && let Some(signature) = trust.signature(position)?
            {
                let message = super::trust::event_message(&shop, origin, *seq, &prev, &computed);
                let signed = keys.get(origin).copied().flatten().is_some_and(|key| key.verifies(&message, &signature));
                if !signed {
                    return fail(format!("event {seq} of device {origin} is not signed by that device's key"));
                }
            }
            let envelope = match decode(position, value) {
                Ok(envelope) => envelope,
                Err(e) => return fail(e.to_string()),
            };
            let version = foreign.as_ref().map_or(envelope.version, |(_, version, _)| *version);
            let indexed = self.streams.get((envelope.stream.to_key().as_str(), version))?.map(|p| p.value());
            if indexed != Some(position) {
                return fail(format!("the stream index does not point at it ({} v{version})", envelope.stream));
            }
            match foreign {
                None => {
                    own = computed;
                    own_count += 1;
                }
                Some((seq, _, origin)) => {
                    others.insert(origin, (seq, computed));
                }
            }
            checked += 1;
        }
        for tip in sync.origins()? {
            let (last, hash) = others.get(&tip.device).copied().unwrap_or((0, GENESIS));
            let here = match through_refused(trust, &tip.device, last, hash, tip.seq.saturating_add(1)) {
                Ok((here, _)) => here,
                Err(problem) => {
                    return Ok(Verification {
                        events: checked,
                        head_hash: None,
                        first_bad: Some((checked + 1, problem)),
                    });
                }
            };
            if here != tip.seq {
                return Ok(Verification {
                    events: checked,
                    head_hash: None,
                    first_bad: Some((
                        checked + 1,
                        format!(
                            "till {} is recorded as at its event {}, but its events here end at {here}",
                            tip.till, tip.seq
                        ),
                    )),
                });
            }
        }
        let head_hash = (own_count > 0).then(|| blake3::Hash::from_bytes(own).to_hex().to_string());
        Ok(Verification { events: checked, head_hash, first_bad: None })
    }
}

/// A device's chain tip carried on through its refused events (kept apart from the log), up
/// to just before `next`; or why it does not check out.
fn through_refused(
    trust: &TrustReader,
    device: &str,
    mut last: u64,
    mut hash: [u8; HASH_LEN],
    next: u64,
) -> Result<(u64, [u8; HASH_LEN]), String> {
    while last.saturating_add(1) < next {
        let Ok(Some((refused, record))) = trust.refused(device, last + 1) else { break };
        if chain(&hash, &record) != refused {
            return Err(format!("the refused event {} of device {device} does not continue its chain", last + 1));
        }
        (last, hash) = (last + 1, refused);
    }
    Ok((last, hash))
}

/// What [`LogReader::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Verification {
    /// Events that checked out, from position 1.
    pub events: u64,
    /// The hash at the end of this device's own chain (hex), when every event checked out.
    pub head_hash: Option<String>,
    /// The first position that did not check out, and why.
    pub first_bad: Option<(u64, String)>,
}

#[cfg(test)]
pub(crate) mod testing {
    //! Test-only access for tampering with stored events.
    use super::*;

    /// Appends a record whose payload no version of Countertop can read (a "poison" event),
    /// with a correct hash chain.
    pub(crate) fn append_poison(txn: &WriteTransaction) -> Result<u64, Error> {
        append_raw(txn, "order/poison", "order.teleported", 1, serde_json::Value::Null)
    }

    /// Appends any record, with a correct hash chain and no decision: what an older or a
    /// broken Countertop could have written.
    pub(crate) fn append_raw(
        txn: &WriteTransaction,
        stream: &str,
        event_type: &str,
        schema: u16,
        payload: serde_json::Value,
    ) -> Result<u64, Error> {
        let mut log = LogWriter::open(txn)?;
        let version =
            log.stream_version(&StreamId::from_key(stream).ok_or_else(|| Error::Internal(stream.into()))?)? + 1;
        let record = Record {
            stream: stream.into(),
            version,
            event_type: event_type.into(),
            schema,
            recorded_at: Utc::now(),
            command: "raw".into(),
            payload,
        };
        let json = serde_json::to_vec(&record).map_err(|e| Error::Internal(e.to_string()))?;
        let hash = chain(&log.prev_hash, &json);
        let mut value = hash.to_vec();
        value.extend_from_slice(&json);
        let position = log.next_position;
        log.events.insert(position, value.as_slice())?;
        log.streams.insert((stream, version), position)?;
        log.next_position += 1;
        Ok(position)
    }

    /// Overwrites one byte of the stored record at `position` (after the hash).
    pub(in crate::store) fn flip_byte(
        txn: &WriteTransaction,
        position: u64,
        offset: usize,
        byte: u8,
    ) -> Result<(), Error> {
        let mut events = txn.open_table(EVENTS)?;
        let mut value = events.get(position)?.map(|v| v.value().to_vec()).unwrap_or_default();
        value[HASH_LEN + offset] = byte;
        events.insert(position, value.as_slice())?;
        Ok(())
    }
}
