//! Which devices' events this till believes, and what it keeps of the rest.
//!
//! The hub is a shared mailbox: anyone who can publish there can put any bytes on any subject.
//! So nothing from it is taken on its word:
//!
//! - **Keys.** Each device has an ed25519 key pair ([`DeviceKey`], `device.key` in the data
//!   folder, owner-only). It signs every event it sends: the shop, its device id, the event's
//!   sequence in its chain, the previous event's hash and the event's own hash
//!   ([`event_message`]); the hash covers the record, so the signature covers all of it.
//! - **The roster.** Which keys belong to the shop: the founding till's key is the first (the
//!   *root*, pinned on every till: the founder's own, or learnt with a pairing code), and every
//!   other device is let in by a `device.admitted` event signed by a device already in
//!   ([`Member`]). A `device.retired` event takes one out: its events that come after the
//!   retirement on the hub are refused everywhere (the hub's order is the same for every till,
//!   so every till draws the line in the same place).
//! - **Quarantine, never stall.** A message that is not a Countertop event, is not signed by
//!   the key of the device it claims, or breaks the rules is recorded with why
//!   ([`Quarantined`]) and the hub position moves past it. A message that may become good —
//!   an event after a gap in its device's chain, from a device not admitted yet, or of a
//!   schema this version does not know — is *held* and taken as soon as it can be; it holds
//!   back only its own device's later events.
//! - **Refused, but in the chain.** An event that is signed by its till but breaks a rule that
//!   every till checks the same way (an amount out of range, a second shop opening) is kept
//!   out of the books on every till; its hash is kept ([`REFUSED`]) so the till's chain goes
//!   on through it.
//!
//! Tables (`&[u8]` keys and values, written by the writer thread only, journaled like the
//! others): `trust_meta` (`root`, `next_id`), `trust_roster` (device → [`Member`]),
//! `trust_quarantine` (id → [`Quarantined`]), `trust_held` (device ‖ 0 ‖ seq ‖ id → the held
//! message), `trust_refused` (device ‖ 0 ‖ seq → hash ‖ record), `trust_signatures` (local
//! position → the signature it came with, for `verify`).

use std::path::Path;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Error;
use super::journal::{Puts, Target};
use super::replica::{HASH_LEN, Incoming};
use crate::domain::LegacyTip;

type Bytes = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// A refused event as kept: its hash and record.
pub(super) type RefusedEvent = ([u8; HASH_LEN], Vec<u8>);

pub(super) const META: Bytes = TableDefinition::new("trust_meta");
pub(super) const ROSTER: Bytes = TableDefinition::new("trust_roster");
pub(super) const QUARANTINE: Bytes = TableDefinition::new("trust_quarantine");
pub(super) const HELD: Bytes = TableDefinition::new("trust_held");
pub(super) const REFUSED: Bytes = TableDefinition::new("trust_refused");
pub(super) const SIGNATURES: Bytes = TableDefinition::new("trust_signatures");

/// In the order of the journal's targets (`Target::TrustMeta` …).
pub(super) const TABLES: [Bytes; 6] = [META, ROSTER, QUARANTINE, HELD, REFUSED, SIGNATURES];
const TARGETS: [Target; 6] = [
    Target::TrustMeta,
    Target::TrustRoster,
    Target::TrustQuarantine,
    Target::TrustHeld,
    Target::TrustRefused,
    Target::TrustSignatures,
];

const KEY_ROOT: &[u8] = b"root";
const KEY_NEXT_ID: &[u8] = b"next_id";
const KEY_OWN_KEY: &[u8] = b"own_key";

/// The file in the data folder holding this device's private key.
pub const KEY_FILE: &str = "device.key";

pub(super) const SIGNATURE_LEN: usize = 64;

/// What a signature of an event covers, tagged so it can never be mistaken for a signature of
/// anything else.
pub fn event_message(shop: &str, device: &str, seq: u64, prev: &[u8; HASH_LEN], hash: &[u8; HASH_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + shop.len() + device.len() + 8 + 2 * HASH_LEN);
    out.extend_from_slice(b"countertop event v1\0");
    for part in [shop.as_bytes(), device.as_bytes()] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(prev);
    out.extend_from_slice(hash);
    out
}

/// A device's public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<PublicKey> {
        let bytes = unhex(text)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).ok()?;
        VerifyingKey::from_bytes(&key).ok()?;
        Some(PublicKey(key))
    }

    /// A short form for people to compare on two screens (`K7QF-M2XP`).
    pub fn fingerprint(&self) -> String {
        let digest = blake3::derive_key("countertop key fingerprint v1", &self.0);
        let code = base32(&digest[..5]);
        format!("{}-{}", &code[..4], &code[4..8])
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else { return false };
        key.verify(message, &Signature::from_bytes(signature)).is_ok()
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// This device's key pair. Never printed: `Debug` shows the public key's fingerprint.
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.public().fingerprint())
    }
}

impl DeviceKey {
    /// The key kept in `data_dir`, if there is one.
    pub fn load(data_dir: &Path) -> Result<Option<DeviceKey>, Error> {
        let file = data_dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Storage { path: file, detail: format!("cannot read this till's key: {e}") }),
        };
        let seed = unhex(text.trim()).and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()).ok_or_else(|| {
            Error::Corrupt {
                path: file.clone(),
                detail: "this till's key is not readable. Move the file away and join the shop again with a pairing code (the shop's other tills then admit the new key; retire the old one with `countertop devices retire`)".into(),
            }
        })?;
        Ok(Some(DeviceKey(SigningKey::from_bytes(&seed))))
    }

    /// The key kept in `data_dir`, made (owner-only, written whole) when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<DeviceKey, Error> {
        if let Some(key) = DeviceKey::load(data_dir)? {
            return Ok(key);
        }
        let mut seed = [0; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Internal(format!("no randomness for a key: {e}")))?;
        let file = data_dir.join(KEY_FILE);
        let partial = data_dir.join(format!("{KEY_FILE}.partial"));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut out = crate::files::private_options().write(true).create(true).truncate(true).open(&partial)?;
            out.write_all(format!("{}\n", hex(&seed)).as_bytes())?;
            out.sync_all()?;
            std::fs::rename(&partial, &file)?;
            crate::files::sync_dir(data_dir)
        };
        write().map_err(|e| Error::Storage { path: file, detail: format!("cannot keep this till's key: {e}") })?;
        Ok(DeviceKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }

    /// Signs one of this device's events for the hub ([`event_message`]).
    pub fn sign_event(
        &self,
        shop: &str,
        device: &str,
        seq: u64,
        prev: &[u8; HASH_LEN],
        hash: &[u8; HASH_LEN],
    ) -> [u8; SIGNATURE_LEN] {
        self.sign(&event_message(shop, device, seq, prev, hash))
    }
}

/// A code the owner reads on a till of the shop and types on the one joining it: ten
/// characters of Crockford's base32 (50 bits), shown as `K7QFM-2XP9T`. It names the pairing
/// channel on the hub and keys the messages exchanged there, so only someone who saw the code
/// can ask to be admitted, and the joining till knows the answer came from the till showing it.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode(String);

impl std::fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairingCode(…)")
    }
}

const CODE_LEN: usize = 10;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl PairingCode {
    pub fn generate() -> Result<PairingCode, Error> {
        let mut bytes = [0; 7];
        getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness for a pairing code: {e}")))?;
        Ok(PairingCode(base32(&bytes)[..CODE_LEN].to_owned()))
    }

    /// Reads a code as typed: case, spaces and dashes do not matter, and `O`/`I`/`L` read as
    /// `0`/`1`/`1` (Crockford's base32).
    pub fn parse(typed: &str) -> Result<PairingCode, String> {
        let mut code = String::with_capacity(CODE_LEN);
        for c in typed.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
                return Err(format!(
                    "'{typed}' is not a pairing code: it has '{c}'. Type the ten letters and digits the other till shows (like K7QFM-2XP9T)"
                ));
            }
            code.push(c);
        }
        if code.len() != CODE_LEN {
            return Err(format!(
                "'{typed}' is not a pairing code: it has {} letters and digits, not {CODE_LEN}. Type the code the other till shows (like K7QFM-2XP9T)",
                code.len()
            ));
        }
        Ok(PairingCode(code))
    }

    /// As shown: `K7QFM-2XP9T`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }

    /// The pairing channel's name on the hub (reveals nothing of the code).
    pub fn channel(&self) -> String {
        hex(&blake3::derive_key("countertop pairing channel v1", self.0.as_bytes())[..12])
    }

    /// The code's tag on `message` (a keyed BLAKE3).
    pub fn tag(&self, message: &[u8]) -> [u8; 32] {
        let key = blake3::derive_key("countertop pairing tag v1", self.0.as_bytes());
        *blake3::keyed_hash(&key, message).as_bytes()
    }

    /// Whether `tag` is the code's tag on `message` (compared in constant time).
    pub fn checks(&self, message: &[u8], tag: &[u8; 32]) -> bool {
        let key = blake3::derive_key("countertop pairing tag v1", self.0.as_bytes());
        blake3::keyed_hash(&key, message) == blake3::Hash::from_bytes(*tag)
    }
}

/// The shop's first key: every till's roster starts from it. The founding till is believed
/// from the start (its own admission comes after its first events in its chain), as far as
/// its unsigned events go too (`legacy`, for a shop that synced before tills signed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub device: String,
    pub till: String,
    /// Hex.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<LegacyTip>,
}

impl Root {
    /// The founding till as a member, before its own admission has arrived.
    pub(super) fn member(&self) -> Member {
        Member {
            device: self.device.clone(),
            till: self.till.clone(),
            key: self.key.clone(),
            fingerprint: PublicKey::from_hex(&self.key).map(|k| k.fingerprint()).unwrap_or_default(),
            by: self.device.clone(),
            admitted_at: DateTime::<Utc>::UNIX_EPOCH,
            legacy: self.legacy.clone(),
            retired: None,
        }
    }
}

/// A device of the shop, as the roster has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Member {
    pub device: String,
    pub till: String,
    /// Its public key, hex.
    pub key: String,
    /// Its key's fingerprint, for people to compare.
    pub fingerprint: String,
    /// The device that admitted it.
    pub by: String,
    pub admitted_at: DateTime<Utc>,
    /// How far its unsigned events (from before tills signed) go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(skip)]
    pub legacy: Option<LegacyTip>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Retirement>,
}

/// A device taken out of the shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Retirement {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// Where the retirement is on the hub: the device's messages after it are refused.
    /// `None` while this till's own retirement of it has not come back from the hub yet.
    #[ts(type = "number | null")]
    pub hub_seq: Option<u64>,
    /// This till's own event that retired it (until it comes back from the hub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(skip)]
    pub own_seq: Option<u64>,
}

impl Member {
    pub fn public_key(&self) -> Option<PublicKey> {
        PublicKey::from_hex(&self.key)
    }

    /// Whether a message of this device at `hub_seq` comes after its retirement.
    pub fn retired_before(&self, hub_seq: u64) -> bool {
        self.retired.as_ref().and_then(|r| r.hub_seq).is_some_and(|at| hub_seq > at)
    }
}

/// Why a message from the hub was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Not a Countertop event at all (no headers, too short, not readable).
    NotOurs,
    /// Claims to be a till's but is not signed by that till's key, or was altered.
    Forged,
    /// From a device this shop has not admitted (yet). Held.
    Unadmitted,
    /// From a retired till, after its retirement.
    Retired,
    /// Comes after an event of the same till that has not arrived. Held.
    Gap,
    /// Written by a newer Countertop. Held until this one is updated.
    NewerVersion,
    /// Signed by its till but against the shop's rules: kept out of the books everywhere.
    Refused,
    /// An order placed on two tills (the same file imported on both while apart): the one
    /// this till had first is kept, the other kept out of the books.
    PlacedTwice,
    /// Signed by its till but not following that till's own history (its data folder was
    /// copied or restored from an older backup, and both copies recorded changes).
    Forked,
}

impl Problem {
    /// Whether such a message is held, to be taken when it can be.
    pub fn held(self) -> bool {
        matches!(self, Problem::Unadmitted | Problem::Gap | Problem::NewerVersion)
    }
}

/// One message from the hub that was not taken, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Quarantined {
    #[ts(type = "number")]
    pub id: u64,
    /// Where it is in the hub's stream.
    #[ts(type = "number")]
    pub hub_seq: u64,
    /// The device and till it claims to be from, if it says.
    pub device: Option<String>,
    pub till: Option<String>,
    #[ts(type = "number | null")]
    pub seq: Option<u64>,
    pub problem: Problem,
    pub detail: String,
    /// When it arrived here.
    pub at: DateTime<Utc>,
}

/// A held message, as kept: its entry and the message itself.
#[derive(Serialize, Deserialize)]
struct HeldRow {
    entry: Quarantined,
    prev: Option<String>,
    hash: String,
    signature: Option<String>,
    #[serde(default)]
    published: Option<DateTime<Utc>>,
}

/// What the quarantine holds, counted for a status line, with the latest entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct QuarantineSummary {
    /// Per problem and till (`None`: it named none, or no till of this shop), how many.
    pub counts: Vec<QuarantineCount>,
    /// The latest entries, newest first (at most [`QuarantineSummary::LATEST`]).
    pub latest: Vec<Quarantined>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct QuarantineCount {
    pub problem: Problem,
    pub till: Option<String>,
    #[ts(type = "number")]
    pub count: u64,
}

impl QuarantineSummary {
    pub const LATEST: usize = 20;

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// One sentence per kind of problem, in the owner's words.
    pub fn lines(&self) -> Vec<String> {
        self.counts.iter().map(QuarantineCount::sentence).collect()
    }
}

impl QuarantineCount {
    /// "1 message on the hub did not come from a till of this shop: ignored".
    pub fn sentence(&self) -> String {
        let n = self.count;
        let messages = if n == 1 { "1 message".to_owned() } else { format!("{n} messages") };
        let changes = if n == 1 { "1 change".to_owned() } else { format!("{n} changes") };
        let till = self.till.as_deref().map(|t| format!("till {t}"));
        match (self.problem, till) {
            (Problem::NotOurs, _) => format!("{messages} on the hub did not come from a till of this shop: ignored"),
            (Problem::Forged, Some(till)) => {
                format!("{messages} on the hub claimed to be from {till} but were not signed by it: ignored")
            }
            (Problem::Forged, None) => {
                format!("{messages} on the hub claimed to be from a till but were not signed by it: ignored")
            }
            (Problem::Unadmitted, _) => format!(
                "{messages} on the hub came from a device this shop has not admitted: they wait, and are taken if it is admitted (`countertop devices add` on a till of the shop)"
            ),
            (Problem::Retired, Some(till)) => format!("{changes} from {till} came after it was retired: refused"),
            (Problem::Retired, None) => format!("{changes} came from a retired till: refused"),
            (Problem::Gap, Some(till)) => {
                format!("{changes} from {till} wait for an earlier change of it that has not reached the hub yet")
            }
            (Problem::Gap, None) => format!("{changes} wait for an earlier change that has not reached the hub yet"),
            (Problem::NewerVersion, Some(till)) => {
                format!("{till} is on a newer version: update this till to take {changes} of it")
            }
            (Problem::NewerVersion, None) => {
                format!("a till is on a newer version: update this till to take {changes} of it")
            }
            (Problem::Refused, Some(till)) => format!(
                "{changes} from {till} broke the shop's rules and were kept out of the books on every till (`countertop sync quarantine` says which)"
            ),
            (Problem::Refused, None) => {
                format!("{changes} broke the shop's rules and were kept out of the books on every till")
            }
            (Problem::Forked, Some(till)) => format!(
                "{changes} signed by {till} do not follow its own history: its data folder was copied or restored from an older backup. Retire it (`countertop devices retire {}`) and join it again with a new folder",
                self.till.as_deref().unwrap_or("?")
            ),
            (Problem::Forked, None) => format!("{changes} do not follow their till's own history"),
            (Problem::PlacedTwice, Some(till)) => format!(
                "{changes} from {till} placed orders this till already had (the same file imported on two tills?): the same sales are counted once; where the two differ, `countertop sync quarantine` names the orders to check"
            ),
            (Problem::PlacedTwice, None) => format!("{changes} placed orders this till already had: counted once"),
        }
    }
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::corrupt(format!("the trust record '{what}' is not readable: {e}")))
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(format!("encoding {what}: {e}")))
}

/// `device ‖ 0 ‖ seq (big-endian)`: a device's keys in sequence order.
fn device_seq_key(device: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(device.len() + 9);
    key.extend_from_slice(device.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn held_key(device: &str, seq: u64, id: u64) -> Vec<u8> {
    let mut key = device_seq_key(device, seq);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The trust tables, opened in a write transaction or a read one.
pub(super) struct Trust<T> {
    meta: T,
    roster: T,
    quarantine: T,
    held: T,
    refused: T,
    signatures: T,
}

pub(super) type TrustTables<'txn> = Trust<Table<'txn, &'static [u8], &'static [u8]>>;
pub(super) type TrustReader = Trust<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>;

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    for table in TABLES {
        txn.open_table(table)?;
    }
    Ok(())
}

/// Copies the tables from a snapshot (backups).
pub(super) fn copy(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<(), Error> {
    for table in TABLES {
        super::copy_table(from, to, table)?;
    }
    Ok(())
}

impl TrustReader {
    pub(super) fn open(txn: &redb::ReadTransaction) -> Result<TrustReader, Error> {
        Ok(Trust {
            meta: txn.open_table(META)?,
            roster: txn.open_table(ROSTER)?,
            quarantine: txn.open_table(QUARANTINE)?,
            held: txn.open_table(HELD)?,
            refused: txn.open_table(REFUSED)?,
            signatures: txn.open_table(SIGNATURES)?,
        })
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> Trust<T> {
    pub(super) fn root(&self) -> Result<Option<Root>, Error> {
        self.meta.get(KEY_ROOT)?.map(|v| decode("root", v.value())).transpose()
    }

    /// This device's public key, once it has one in the shop.
    pub(super) fn own_key(&self) -> Result<Option<PublicKey>, Error> {
        let Some(v) = self.meta.get(KEY_OWN_KEY)? else { return Ok(None) };
        let hex: String = decode("own_key", v.value())?;
        PublicKey::from_hex(&hex).map(Some).ok_or_else(|| Error::corrupt("this till's public key is not readable"))
    }

    pub(super) fn member(&self, device: &str) -> Result<Option<Member>, Error> {
        self.roster.get(device.as_bytes())?.map(|v| decode("roster", v.value())).transpose()
    }

    pub(super) fn members(&self) -> Result<Vec<Member>, Error> {
        let mut out = Vec::new();
        for entry in self.roster.iter()? {
            out.push(decode("roster", entry?.1.value())?);
        }
        Ok(out)
    }

    /// The signature an event at `position` came with, if it came signed.
    pub(super) fn signature(&self, position: u64) -> Result<Option<[u8; SIGNATURE_LEN]>, Error> {
        match self.signatures.get(position.to_be_bytes().as_slice())? {
            Some(v) => Ok(Some(
                <[u8; SIGNATURE_LEN]>::try_from(v.value())
                    .map_err(|_| Error::corrupt_event(position, "its signature is not readable"))?,
            )),
            None => Ok(None),
        }
    }

    /// A refused event of `device` (hash and record), which its chain goes on through.
    pub(super) fn refused(&self, device: &str, seq: u64) -> Result<Option<RefusedEvent>, Error> {
        let Some(v) = self.refused.get(device_seq_key(device, seq).as_slice())? else { return Ok(None) };
        let (hash, record) = v
            .value()
            .split_first_chunk::<HASH_LEN>()
            .ok_or_else(|| Error::corrupt(format!("a refused event of device {device} is not readable")))?;
        Ok(Some((*hash, record.to_vec())))
    }

    /// Held messages of `device` with sequence `seq`, with their keys.
    pub(super) fn held_at(&self, device: &str, seq: u64) -> Result<Vec<(Vec<u8>, Quarantined, Incoming)>, Error> {
        let from = held_key(device, seq, 0);
        let to = held_key(device, seq, u64::MAX);
        let mut out = Vec::new();
        for entry in self.held.range(from.as_slice()..=to.as_slice())? {
            let (key, value) = entry?;
            let (entry, incoming) = decode_held(value.value())?;
            out.push((key.value().to_vec(), entry, incoming));
        }
        Ok(out)
    }

    /// Every device some held message claims, with its lowest held sequence.
    pub(super) fn held_devices(&self) -> Result<Vec<String>, Error> {
        let mut out: Vec<String> = Vec::new();
        for entry in self.held.iter()? {
            let (key, _) = entry?;
            let key = key.value();
            let device = key.split(|b| *b == 0).next().unwrap_or_default();
            let device = String::from_utf8_lossy(device).into_owned();
            if out.last() != Some(&device) {
                out.push(device);
            }
        }
        Ok(out)
    }

    /// Counts per problem and till, and the latest entries.
    pub(super) fn summary(&self) -> Result<QuarantineSummary, Error> {
        let mut counts: std::collections::BTreeMap<(Problem, Option<String>), u64> = Default::default();
        let mut latest: Vec<Quarantined> = Vec::new();
        for entry in self.quarantine.iter()? {
            let q: Quarantined = decode("quarantine", entry?.1.value())?;
            *counts.entry((q.problem, q.till.clone())).or_default() += 1;
            latest.push(q);
        }
        for entry in self.held.iter()? {
            let (q, _) = decode_held(entry?.1.value())?;
            *counts.entry((q.problem, q.till.clone())).or_default() += 1;
            latest.push(q);
        }
        latest.sort_by_key(|q| std::cmp::Reverse(q.id));
        latest.truncate(QuarantineSummary::LATEST);
        Ok(QuarantineSummary {
            counts: counts
                .into_iter()
                .map(|((problem, till), count)| QuarantineCount { problem, till, count })
                .collect(),
            latest,
        })
    }

    /// Every entry, held ones included, oldest first.
    pub(super) fn entries(&self) -> Result<Vec<Quarantined>, Error> {
        let mut out: Vec<Quarantined> = Vec::new();
        for entry in self.quarantine.iter()? {
            out.push(decode("quarantine", entry?.1.value())?);
        }
        for entry in self.held.iter()? {
            out.push(decode_held(entry?.1.value())?.0);
        }
        out.sort_by_key(|q| q.id);
        Ok(out)
    }
}

fn decode_held(value: &[u8]) -> Result<(Quarantined, Incoming), Error> {
    let bad = || Error::corrupt("a held message is not readable");
    let (len, rest) = value.split_first_chunk::<4>().ok_or_else(bad)?;
    let (json, record) = rest.split_at_checked(u32::from_le_bytes(*len) as usize).ok_or_else(bad)?;
    let row: HeldRow = decode("held", json)?;
    let hash32 = |hex: &str| unhex(hex).and_then(|b| <[u8; HASH_LEN]>::try_from(b.as_slice()).ok());
    let incoming = Incoming {
        origin: row.entry.device.clone().unwrap_or_default(),
        till: row.entry.till.clone().unwrap_or_default(),
        seq: row.entry.seq.unwrap_or_default(),
        prev: row.prev.as_deref().map(|p| hash32(p).ok_or_else(bad)).transpose()?,
        hash: hash32(&row.hash).ok_or_else(bad)?,
        record: record.to_vec(),
        signature: row
            .signature
            .as_deref()
            .map(|s| unhex(s).and_then(|b| <[u8; SIGNATURE_LEN]>::try_from(b.as_slice()).ok()).ok_or_else(bad))
            .transpose()?,
        hub_seq: row.entry.hub_seq,
        published: row.published,
    };
    Ok((row.entry, incoming))
}

impl<'txn> TrustTables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<TrustTables<'txn>, Error> {
        Ok(Trust {
            meta: txn.open_table(META)?,
            roster: txn.open_table(ROSTER)?,
            quarantine: txn.open_table(QUARANTINE)?,
            held: txn.open_table(HELD)?,
            refused: txn.open_table(REFUSED)?,
            signatures: txn.open_table(SIGNATURES)?,
        })
    }

    fn put(&mut self, puts: &mut Puts, which: usize, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let table = match which {
            0 => &mut self.meta,
            1 => &mut self.roster,
            2 => &mut self.quarantine,
            3 => &mut self.held,
            4 => &mut self.refused,
            _ => &mut self.signatures,
        };
        table.insert(key, value)?;
        puts.record(TARGETS[which.min(5)], key, value);
        Ok(())
    }

    pub(super) fn set_root(&mut self, puts: &mut Puts, root: &Root) -> Result<(), Error> {
        let json = encode("root", root)?;
        self.put(puts, 0, KEY_ROOT, &json)
    }

    pub(super) fn set_own_key(&mut self, puts: &mut Puts, key: &PublicKey) -> Result<(), Error> {
        let json = encode("own_key", &key.to_hex())?;
        self.put(puts, 0, KEY_OWN_KEY, &json)
    }

    pub(super) fn set_member(&mut self, puts: &mut Puts, member: &Member) -> Result<(), Error> {
        let json = encode("roster", member)?;
        self.put(puts, 1, member.device.as_bytes(), &json)
    }

    pub(super) fn set_signature(
        &mut self,
        puts: &mut Puts,
        position: u64,
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), Error> {
        self.put(puts, 5, &position.to_be_bytes(), signature)
    }

    pub(super) fn set_refused(
        &mut self,
        puts: &mut Puts,
        device: &str,
        seq: u64,
        hash: &[u8; HASH_LEN],
        record: &[u8],
    ) -> Result<(), Error> {
        let mut value = Vec::with_capacity(HASH_LEN + record.len());
        value.extend_from_slice(hash);
        value.extend_from_slice(record);
        self.put(puts, 4, &device_seq_key(device, seq), &value)
    }

    fn next_id(&mut self, puts: &mut Puts) -> Result<u64, Error> {
        let id: u64 = self.meta.get(KEY_NEXT_ID)?.map(|v| decode("next_id", v.value())).transpose()?.unwrap_or(1);
        let json = encode("next_id", &id.saturating_add(1))?;
        self.put(puts, 0, KEY_NEXT_ID, &json)?;
        Ok(id)
    }

    /// Records a message that is not taken (and never will be).
    pub(super) fn quarantine(&mut self, puts: &mut Puts, mut entry: Quarantined) -> Result<Quarantined, Error> {
        entry.id = self.next_id(puts)?;
        let json = encode("quarantine", &entry)?;
        self.put(puts, 2, &entry.id.to_be_bytes(), &json)?;
        Ok(entry)
    }

    /// Keeps a message to take when it can be (`id` set: it was held before, and keeps its
    /// place).
    pub(super) fn hold(&mut self, puts: &mut Puts, mut entry: Quarantined, incoming: &Incoming) -> Result<(), Error> {
        if entry.id == 0 {
            entry.id = self.next_id(puts)?;
        }
        let row = HeldRow {
            entry,
            prev: incoming.prev.as_ref().map(|p| hex(p)),
            hash: hex(&incoming.hash),
            signature: incoming.signature.as_ref().map(|s| hex(s)),
            published: incoming.published,
        };
        let json = encode("held", &row)?;
        let mut value = Vec::with_capacity(4 + json.len() + incoming.record.len());
        value.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_le_bytes());
        value.extend_from_slice(&json);
        value.extend_from_slice(&incoming.record);
        let key = held_key(&incoming.origin, incoming.seq, row.entry.id);
        self.put(puts, 3, &key, &value)
    }

    pub(super) fn unhold(&mut self, puts: &mut Puts, key: &[u8]) -> Result<(), Error> {
        self.held.remove(key)?;
        puts.remove(Target::TrustHeld, key);
        Ok(())
    }

    /// Forgets held messages of `device` up to `seq` (its chain is past them: redeliveries).
    pub(super) fn drop_held_through(&mut self, puts: &mut Puts, device: &str, seq: u64) -> Result<(), Error> {
        let from = held_key(device, 0, 0);
        let to = held_key(device, seq, u64::MAX);
        let mut keys = Vec::new();
        for entry in self.held.range(from.as_slice()..=to.as_slice())? {
            keys.push(entry?.0.value().to_vec());
        }
        for key in keys {
            self.unhold(puts, &key)?;
        }
        Ok(())
    }
}

/// Lower-case hex, as hashes, keys and signatures are written in records and on the hub.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The bytes of a hex text (either case), if it is one.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes().chunks_exact(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

/// Crockford's base32 of `bytes`, 5 bits a character (the last character padded with zeros).
fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = buffer << 8 | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(CROCKFORD[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(CROCKFORD[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_shop_device_sequence_and_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let key = DeviceKey::load_or_create(dir.path()).unwrap();
        let again = DeviceKey::load_or_create(dir.path()).unwrap();
        assert_eq!(key.public(), again.public(), "the key is kept");
        let (prev, hash) = ([1; 32], [2; 32]);
        let sig = key.sign_event("corner", "DEV-A", 7, &prev, &hash);
        let public = key.public();
        assert!(public.verifies(&event_message("corner", "DEV-A", 7, &prev, &hash), &sig));
        for other in [
            event_message("corner2", "DEV-A", 7, &prev, &hash),
            event_message("corner", "DEV-B", 7, &prev, &hash),
            event_message("corner", "DEV-A", 8, &prev, &hash),
            event_message("corner", "DEV-A", 7, &hash, &hash),
            event_message("corner", "DEV-A", 7, &prev, &prev),
        ] {
            assert!(!public.verifies(&other, &sig));
        }
        assert_eq!(PublicKey::from_hex(&public.to_hex()), Some(public));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_pairing_code_reads_as_typed_and_tags_what_it_was_used_on() {
        let code = PairingCode::generate().unwrap();
        let shown = code.display();
        assert_eq!(shown.len(), 11);
        let typed = shown.to_lowercase().replace('-', " ");
        assert_eq!(PairingCode::parse(&typed).unwrap(), code);
        let tag = code.tag(b"admit DEV-B");
        assert!(code.checks(b"admit DEV-B", &tag));
        assert!(!code.checks(b"admit DEV-C", &tag));
        let other = PairingCode::parse("00000-00000").unwrap();
        assert!(!other.checks(b"admit DEV-B", &tag));
        assert_ne!(other.channel(), code.channel());
        let e = PairingCode::parse("K7QF-M2XP").unwrap_err();
        assert!(e.contains("8 letters and digits, not 10"), "{e}");
        let e = PairingCode::parse("K7QFM-2XP9U").unwrap_err();
        assert!(e.contains("has 'U'"), "{e}");
        assert_eq!(PairingCode::parse("oilo0-00000").unwrap().display(), "01100-00000");
    }
}
