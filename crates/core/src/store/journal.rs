//! The commit journal: `write.journal`, a small append-only file in front of `write.redb`.
//!
//! Why: a redb commit rewrites the copy-on-write path of every table it touches — about 20
//! pages scattered through the file for one order — and flushing scattered pages costs the
//! disk three times what flushing the same bytes in one run does (BENCHMARKS.md). So an
//! interactive commit appends one record to this file (every table write of the
//! transaction, in order) and fsyncs it, then commits the redb transaction with
//! `Durability::None`. Every second or so, when the writer is idle, a durable redb commit
//! makes all of that durable in the database itself and the journal starts over. Large
//! transactions (imports) commit durably in redb directly.
//!
//! After a crash redb opens at its last durable commit; [`replay`] then applies the journal's
//! records that come after it, exactly as they were written, before anything else reads the
//! store. A record is only acknowledged after its fsync, so every acknowledged command is in
//! the database or in the journal.
//!
//! A record: `magic (4) ‖ journal id (16) ‖ seq (8) ‖ length (4) ‖ BLAKE3(id ‖ seq ‖ puts)
//! truncated to 16 bytes ‖ puts`. Records are numbered from the `seq` the database says it
//! has applied; replay takes them in order from the start of the file and stops at the first
//! one that is torn, fails its checksum, belongs to another database (journal id) or does
//! not carry the next number — so records left over from before the journal started over are
//! never applied.

use super::disk::{Disk, JournalFile};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::Error;

/// The journal's own row in the database: the id tying a journal to its database and the
/// last record applied.
const JOURNAL: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("journal");
const KEY_ID: &str = "id";
const KEY_APPLIED: &str = "applied";

const MAGIC: &[u8; 4] = b"CTJ1";
const HEADER: usize = 4 + 16 + 8 + 4 + 16;

/// Transactions whose writes exceed this commit durably in redb instead (they would not gain:
/// their pages are many anyway), and the journal starts over after them.
pub(super) const MAX_RECORD: usize = 1 << 20;
/// The journal starts over (after a durable commit) once it holds this much, or is this old,
/// even under steady load; when the writer is idle, after [`DURABLE_EVERY`]. Kept small: redb
/// cannot reuse pages freed by non-durable commits until a durable one, so `write.redb` grows
/// by every page rewritten meanwhile (~80 KiB per order), and replay after a crash redoes it all.
const MAX_JOURNAL: u64 = 4 << 20;
const MAX_AGE: Duration = Duration::from_secs(2);
const DURABLE_EVERY: Duration = Duration::from_secs(1);

/// Which table a recorded write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Target {
    Events = 0,
    Streams = 1,
    Commands = 2,
    Products = 3,
    Customers = 4,
    Orders = 5,
    Returns = 6,
    Meta = 7,
    CustomerKeys = 8,
    SyncMeta = 9,
    SyncOrigins = 10,
    SyncForeign = 11,
    TrustMeta = 12,
    TrustRoster = 13,
    TrustQuarantine = 14,
    TrustHeld = 15,
    TrustRefused = 16,
    TrustSignatures = 17,
}

/// The flag on a recorded target byte that makes the write a removal (the trust tables remove
/// held messages once they are taken).
const REMOVE: u8 = 0x80;

impl Target {
    fn from_u8(b: u8) -> Option<Target> {
        Some(match b {
            0 => Target::Events,
            1 => Target::Streams,
            2 => Target::Commands,
            3 => Target::Products,
            4 => Target::Customers,
            5 => Target::Orders,
            6 => Target::Returns,
            7 => Target::Meta,
            8 => Target::CustomerKeys,
            9 => Target::SyncMeta,
            10 => Target::SyncOrigins,
            11 => Target::SyncForeign,
            12 => Target::TrustMeta,
            13 => Target::TrustRoster,
            14 => Target::TrustQuarantine,
            15 => Target::TrustHeld,
            16 => Target::TrustRefused,
            17 => Target::TrustSignatures,
            _ => return None,
        })
    }
}

/// The writes of one transaction, in the order they were made.
#[derive(Debug, Default)]
pub(super) struct Puts {
    bytes: Vec<u8>,
    /// Set for a transaction that commits durably in redb (a bulk job): nothing to record.
    off: bool,
}

impl Puts {
    /// `key` and `value` as the table stores them: events by position (u64), streams by
    /// (stream, version) with the position as value, everything else by string key.
    pub(super) fn record(&mut self, target: Target, key: &[u8], value: &[u8]) {
        if self.off {
            return;
        }
        self.bytes.push(target as u8);
        for part in [key, value] {
            self.bytes.extend_from_slice(&(part.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(part);
        }
    }

    /// A removal of `key` from `target` (byte-keyed trust tables only).
    pub(super) fn remove(&mut self, target: Target, key: &[u8]) {
        if self.off {
            return;
        }
        self.bytes.push(target as u8 | REMOVE);
        for part in [key, &[][..]] {
            self.bytes.extend_from_slice(&(part.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(part);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(super) fn append(&mut self, other: &mut Puts) {
        self.bytes.append(&mut other.bytes);
    }

    pub(super) fn switch_off(&mut self) {
        self.off = true;
    }
}

/// A streams-table key as recorded.
pub(super) fn stream_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 8);
    key.extend_from_slice(stream.as_bytes());
    key.extend_from_slice(&version.to_le_bytes());
    key
}

/// Applies recorded writes to the write store's tables.
fn apply(txn: &WriteTransaction, mut puts: &[u8]) -> Result<(), Error> {
    let bad = || Error::corrupt("a journal record does not decode although its checksum matches");
    let mut events = txn.open_table(super::log::EVENTS)?;
    let mut streams = txn.open_table(super::log::STREAMS)?;
    let mut commands = txn.open_table(super::commands::COMMANDS)?;
    let mut sync_meta = txn.open_table(super::replica::META)?;
    let mut sync_origins = txn.open_table(super::replica::ORIGINS)?;
    let mut sync_foreign = txn.open_table(super::replica::FOREIGN)?;
    let mut trust = Vec::with_capacity(super::trust::TABLES.len());
    for table in super::trust::TABLES {
        trust.push(txn.open_table(table)?);
    }
    let mut state = [
        txn.open_table(super::state::PRODUCTS)?,
        txn.open_table(super::state::CUSTOMERS)?,
        txn.open_table(super::state::ORDERS)?,
        txn.open_table(super::state::RETURNS)?,
        txn.open_table(super::state::META)?,
        txn.open_table(super::state::CUSTOMER_KEYS)?,
    ];
    while let Some((&target, rest)) = puts.split_first() {
        let (key, rest) = take(rest).ok_or_else(bad)?;
        let (value, rest) = take(rest).ok_or_else(bad)?;
        puts = rest;
        let u64_of = |b: &[u8]| <[u8; 8]>::try_from(b).map(u64::from_le_bytes).map_err(|_| bad());
        let str_of = |b: &[u8]| std::str::from_utf8(b).map(str::to_owned).map_err(|_| bad());
        let remove = target & REMOVE != 0;
        let target = Target::from_u8(target & !REMOVE).ok_or_else(bad)?;
        if let Some(i) = (target as usize).checked_sub(Target::TrustMeta as usize) {
            let table = trust.get_mut(i).ok_or_else(bad)?;
            if remove {
                table.remove(key)?;
            } else {
                table.insert(key, value)?;
            }
            continue;
        }
        if remove {
            return Err(bad());
        }
        match target {
            Target::Events => {
                events.insert(u64_of(key)?, value)?;
            }
            Target::Streams => {
                let (stream, version) = key.split_at_checked(key.len().saturating_sub(8)).ok_or_else(bad)?;
                streams.insert((str_of(stream)?.as_str(), u64_of(version)?), u64_of(value)?)?;
            }
            Target::Commands => {
                commands.insert(str_of(key)?.as_str(), value)?;
            }
            Target::SyncMeta => {
                sync_meta.insert(str_of(key)?.as_str(), value)?;
            }
            Target::SyncOrigins => {
                sync_origins.insert(str_of(key)?.as_str(), value)?;
            }
            Target::SyncForeign => {
                sync_foreign.insert(u64_of(key)?, value)?;
            }
            Target::TrustMeta
            | Target::TrustRoster
            | Target::TrustQuarantine
            | Target::TrustHeld
            | Target::TrustRefused
            | Target::TrustSignatures => return Err(bad()),
            t => {
                let table = &mut state[t as usize - Target::Products as usize];
                table.insert(str_of(key)?.as_str(), value)?;
            }
        }
    }
    Ok(())
}

fn take(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    rest.split_at_checked(u32::from_le_bytes(*len) as usize)
}

fn checksum(id: &[u8; 16], seq: u64, puts: &[u8]) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(id);
    hasher.update(&seq.to_le_bytes());
    hasher.update(puts);
    let mut out = [0; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    out
}

/// The journal next to a write store file.
pub(super) fn path_for(store: &Path) -> PathBuf {
    store.with_extension("journal")
}

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Storage { path: path.to_owned(), detail: format!("{what}: {e}") }
}

/// The journal id and last applied record the database holds (creating the id on first use,
/// from the file's path, the time and the process: unique enough to tell stores apart).
/// Also says whether the id was created now.
fn ids(txn: &WriteTransaction, store: &Path) -> Result<([u8; 16], u64, bool), Error> {
    let mut table = txn.open_table(JOURNAL)?;
    let found = table.get(KEY_ID)?.and_then(|v| <[u8; 16]>::try_from(v.value()).ok());
    let created = found.is_none();
    let id = match found {
        Some(id) => id,
        None => {
            let seed = format!("{}{:?}{}", store.display(), std::time::SystemTime::now(), std::process::id());
            let id = *blake3::hash(seed.as_bytes()).as_bytes().first_chunk::<16>().unwrap_or(&[0; 16]);
            table.insert(KEY_ID, id.as_slice())?;
            id
        }
    };
    let applied =
        table.get(KEY_APPLIED)?.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_le_bytes);
    Ok((id, applied, created))
}

/// Notes in a transaction that it carries journal record `seq`.
pub(super) fn mark_applied(txn: &WriteTransaction, seq: u64) -> Result<(), Error> {
    txn.open_table(JOURNAL)?.insert(KEY_APPLIED, seq.to_le_bytes().as_slice())?;
    Ok(())
}

/// Applies the journal's records the database does not have yet, in one durable transaction.
/// Run at open, before any other reader or writer. Returns how many records were applied.
pub(super) fn replay(db: &redb::Database, disk: &Disk, store: &Path) -> Result<u64, Error> {
    let path = path_for(store);
    let txn = db.begin_write()?;
    let (id, mut applied, created) = ids(&txn, store)?;
    let mut count = 0;
    match disk.open_journal(&path, false) {
        Ok(Some(file)) => {
            let mut offset = 0u64;
            while let Some((seq, puts, next)) =
                read_record(&file, offset, &id).map_err(|e| io(&path, "cannot read the journal", e))?
            {
                if seq != applied + 1 {
                    break;
                }
                apply(&txn, &puts)?;
                applied = seq;
                count += 1;
                offset = next;
            }
        }
        Ok(None) => {}
        Err(e) => return Err(io(&path, "cannot open the journal", e)),
    }
    if count == 0 && !created {
        // Nothing to write: an ordinary open costs no commit (and no fsync).
        txn.abort()?;
        return Ok(0);
    }
    mark_applied(&txn, applied)?;
    txn.commit()?;
    Ok(count)
}

/// The record at `offset`, if there is a whole one of this journal: (seq, puts, next offset).
fn read_record(file: &JournalFile, offset: u64, id: &[u8; 16]) -> std::io::Result<Option<(u64, Vec<u8>, u64)>> {
    let mut header = [0u8; HEADER];
    if !read_exact_or_eof(file, &mut header, offset)? {
        return Ok(None);
    }
    let (magic, rest) = header.split_at(4);
    let (rid, rest) = rest.split_at(16);
    let (seq, rest) = rest.split_at(8);
    let (len, sum) = rest.split_at(4);
    if magic != MAGIC || rid != id {
        return Ok(None);
    }
    let seq = u64::from_le_bytes(seq.try_into().unwrap_or([0; 8]));
    let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize;
    if len > 64 * MAX_RECORD {
        return Ok(None);
    }
    let mut puts = vec![0u8; len];
    if !read_exact_or_eof(file, &mut puts, offset + HEADER as u64)? || checksum(id, seq, &puts) != sum {
        return Ok(None);
    }
    Ok(Some((seq, puts, offset + (HEADER + len) as u64)))
}

fn read_exact_or_eof(file: &JournalFile, buf: &mut [u8], offset: u64) -> std::io::Result<bool> {
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The writer's handle: appends records and starts over after durable commits.
#[derive(Debug)]
pub(super) struct Journal {
    store: PathBuf,
    path: PathBuf,
    disk: Disk,
    file: Option<JournalFile>,
    id: [u8; 16],
    /// The last record written (and applied to the database, durably or not).
    seq: u64,
    /// Where the next record goes; 0 right after a durable commit.
    end: u64,
    /// When the first record since the last durable commit was written.
    since: Option<Instant>,
    /// The file's length: blocks written once with zeros, so that appends overwrite them and
    /// their fsync flushes only data — extending the file would make each fsync also commit
    /// the file system's metadata journal, which waits for other files' new blocks too.
    allocated: u64,
}

impl Journal {
    /// Opens the journal of a store whose records were all applied ([`replay`] ran).
    pub(super) fn open(db: &redb::Database, disk: &Disk, store: &Path) -> Result<Journal, Error> {
        let path = path_for(store);
        let txn = db.begin_read()?;
        let table = txn.open_table(JOURNAL)?;
        let id = table.get(KEY_ID)?.and_then(|v| <[u8; 16]>::try_from(v.value()).ok());
        let seq = table.get(KEY_APPLIED)?.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map(u64::from_le_bytes);
        let (Some(id), Some(seq)) = (id, seq) else {
            return Err(Error::Internal("the journal was opened before it was replayed".into()));
        };
        Ok(Journal {
            store: store.to_owned(),
            path,
            disk: disk.clone(),
            file: None,
            id,
            seq,
            end: 0,
            since: None,
            allocated: 0,
        })
    }

    /// The number the next record will carry.
    pub(super) fn next_seq(&self) -> u64 {
        self.seq + 1
    }

    pub(super) fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// How long the writer may stay idle before it should make the journal's records durable
    /// in redb; `None` when there are none.
    pub(super) fn durable_due(&self) -> Option<Duration> {
        self.since.map(|t| DURABLE_EVERY.saturating_sub(t.elapsed()))
    }

    /// Whether the journal has grown too big or too old to wait for the writer to be idle.
    pub(super) fn must_checkpoint(&self) -> bool {
        self.end > MAX_JOURNAL || self.since.is_some_and(|t| t.elapsed() > MAX_AGE)
    }

    pub(super) fn len(&self) -> u64 {
        self.end
    }

    /// Writes record `seq` (= [`next_seq`](Self::next_seq)) and fsyncs it. Nothing counts as
    /// written until this returns `Ok`.
    pub(super) fn append(&mut self, seq: u64, puts: &Puts) -> Result<(), Error> {
        let mut record = Vec::with_capacity(HEADER + puts.bytes.len());
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&self.id);
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&(puts.bytes.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(&self.id, seq, &puts.bytes));
        record.extend_from_slice(&puts.bytes);
        let needed = self.end + record.len() as u64;
        if needed > self.allocated {
            self.allocate(needed)?;
        }
        let file = open_file(&mut self.file, &self.disk, &self.path, &mut self.allocated)?;
        file.write_all_at(&record, self.end).map_err(|e| io(&self.path, "cannot write the journal", e))?;
        file.sync_data().map_err(|e| io(&self.path, "cannot write the journal", e))?;
        self.seq = seq;
        self.end += record.len() as u64;
        self.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Grows the file with zeros, a chunk at a time, to at least `len` bytes.
    fn allocate(&mut self, len: u64) -> Result<(), Error> {
        const CHUNK: u64 = 1 << 20;
        let file = open_file(&mut self.file, &self.disk, &self.path, &mut self.allocated)?;
        if len <= self.allocated {
            return Ok(());
        }
        let target = len.div_ceil(CHUNK) * CHUNK;
        let zeros = vec![0u8; CHUNK as usize];
        let mut at = self.allocated;
        while at < target {
            let n = (target - at).min(CHUNK) as usize;
            file.write_all_at(&zeros[..n], at).map_err(|e| io(&self.path, "cannot grow the journal", e))?;
            at += n as u64;
        }
        file.sync_all().map_err(|e| io(&self.path, "cannot grow the journal", e))?;
        self.allocated = target;
        Ok(())
    }

    /// Takes back the last record (its redb commit failed): its header is overwritten, so a
    /// replay stops before it.
    pub(super) fn retract(&mut self, seq: u64, at: u64) -> Result<(), Error> {
        let file = open_file(&mut self.file, &self.disk, &self.path, &mut self.allocated)?;
        file.write_all_at(&[0u8; HEADER], at).map_err(|e| io(&self.path, "cannot write the journal", e))?;
        file.sync_data().map_err(|e| io(&self.path, "cannot write the journal", e))?;
        self.seq = seq - 1;
        self.end = at;
        Ok(())
    }

    /// After a durable redb commit that covers every record: the next record goes to the
    /// start again (the old ones carry numbers replay no longer expects). The file keeps its
    /// blocks, so later appends overwrite in place.
    pub(super) fn restart(&mut self) {
        self.end = 0;
        self.since = None;
    }

    /// After the database was reopened (and replayed): back in step with it.
    pub(super) fn resync(&mut self, db: &redb::Database) -> Result<(), Error> {
        let fresh = Journal::open(db, &self.disk, &self.store)?;
        *self = fresh;
        Ok(())
    }
}

/// The journal's file, opened (or created) on first use, when `allocated` learns its length:
/// a store opened only to be read or checked (a backup being verified) leaves no journal behind.
fn open_file<'a>(
    file: &'a mut Option<JournalFile>,
    disk: &Disk,
    path: &Path,
    allocated: &mut u64,
) -> Result<&'a JournalFile, Error> {
    if file.is_none() {
        let existed = disk.exists(path);
        let opened = disk
            .open_journal(path, true)
            .map_err(|e| io(path, "cannot open the journal", e))?
            .ok_or_else(|| Error::Internal("the journal could not be created".into()))?;
        if !existed && let Some(dir) = path.parent() {
            // The new file's name must survive a power cut as surely as the records in it.
            disk.sync_dir(dir).map_err(|e| io(path, "cannot make the new journal durable", e))?;
        }
        *allocated = opened.len().map_err(|e| io(path, "cannot open the journal", e))?;
        *file = Some(opened);
    }
    file.as_ref().ok_or_else(|| Error::Internal("the journal file went missing".into()))
}

/// Reads the database's journal state, for tests.
#[cfg(test)]
pub(super) fn applied(db: &redb::Database) -> Result<u64, Error> {
    let txn = db.begin_read()?;
    let table = txn.open_table(JOURNAL)?;
    Ok(table.get(KEY_APPLIED)?.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_le_bytes))
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::unix::fs::FileExt;

    use super::*;

    /// A prepared write store file, with its journal replayed (empty) and opened.
    fn store(dir: &Path) -> (redb::Database, Journal, PathBuf) {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(super::super::WRITE_STORE_FILE);
        let db = super::super::open_database(&Disk::Real, &path, false).unwrap();
        replay(&db, &Disk::Real, &path).unwrap();
        let journal = Journal::open(&db, &Disk::Real, &path).unwrap();
        (db, journal, path)
    }

    fn command(id: &str) -> Puts {
        command_at(id, 1)
    }

    /// A command record naming `version` (one digit, so every record has the same length).
    fn command_at(id: &str, version: u8) -> Puts {
        let mut puts = Puts::default();
        let value = format!(r#"{{"fingerprint":"f","stream":"shop","version":{version},"positions":null}}"#);
        puts.record(Target::Commands, id.as_bytes(), value.as_bytes());
        puts
    }

    fn commands(db: &redb::Database) -> Vec<String> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(super::super::commands::COMMANDS).unwrap();
        table.iter().unwrap().map(|e| e.unwrap().0.value().to_owned()).collect()
    }

    fn version_of(db: &redb::Database, id: &str) -> String {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(super::super::commands::COMMANDS).unwrap();
        let value = table.get(id).unwrap().unwrap().value().to_vec();
        let json: serde_json::Value = serde_json::from_slice(&value).unwrap();
        json["version"].to_string()
    }

    /// Reopens the file as after a crash: the database as it is on disk, then the journal.
    fn reopen(path: &Path) -> (redb::Database, u64) {
        let db = super::super::open_database(&Disk::Real, path, false).unwrap();
        let replayed = replay(&db, &Disk::Real, path).unwrap();
        (db, replayed)
    }

    #[test]
    fn replay_applies_whole_records_in_order_and_stops_at_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let (db, mut journal, path) = store(dir.path());
        journal.append(1, &command("a")).unwrap();
        journal.append(2, &command("b")).unwrap();
        // A third record cut short, as by a crash in the middle of its write.
        let end = journal.len();
        journal.append(3, &command("c")).unwrap();
        let file = File::options().write(true).open(path_for(&path)).unwrap();
        file.set_len(end + 30).unwrap();
        drop((journal, db));

        let (db, replayed) = reopen(&path);
        assert_eq!(replayed, 2);
        assert_eq!(commands(&db), ["a", "b"]);
        assert_eq!(applied(&db).unwrap(), 2);
        // Applied records are not applied again.
        drop(db);
        let (db, replayed) = reopen(&path);
        assert_eq!((replayed, commands(&db)), (0, vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn records_from_before_a_restart_and_damaged_ones_are_never_applied() {
        let dir = tempfile::tempdir().unwrap();
        let (db, mut journal, path) = store(dir.path());
        for (seq, id) in [(1, "a"), (2, "b"), (3, "c")] {
            journal.append(seq, &command(id)).unwrap();
        }
        drop((journal, db));
        let (db, _) = reopen(&path);
        assert_eq!(applied(&db).unwrap(), 3);
        // After the durable commit the journal starts over at the front: record 4 overwrites
        // record 1 exactly (same length), so old record 2 — whole, checksum and all — follows
        // it. Applying it again would set "b" back to version 1.
        let mut journal = Journal::open(&db, &Disk::Real, &path).unwrap();
        journal.append(4, &command_at("b", 2)).unwrap();
        drop((journal, db));
        let (db, replayed) = reopen(&path);
        assert_eq!((replayed, commands(&db)), (1, vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(version_of(&db, "b"), "2", "a record from before the restart was applied again");

        // A flipped byte in a record's writes: its checksum fails and replay stops there.
        let mut journal = Journal::open(&db, &Disk::Real, &path).unwrap();
        journal.append(5, &command("e")).unwrap();
        drop((journal, db));
        let file = File::options().read(true).write(true).open(path_for(&path)).unwrap();
        file.write_all_at(b"X", HEADER as u64 + 3).unwrap();
        let (db, replayed) = reopen(&path);
        assert_eq!(replayed, 0);
        assert!(!commands(&db).contains(&"e".to_owned()));
    }

    #[test]
    fn a_journal_of_another_store_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let (db, mut journal, _) = store(&dir.path().join("one"));
        journal.append(1, &command("from-one")).unwrap();
        drop((journal, db));
        let (db, _, other) = store(&dir.path().join("two"));
        drop(db);
        std::fs::copy(path_for(&dir.path().join("one").join("write.redb")), path_for(&other)).unwrap();
        let (db, replayed) = reopen(&other);
        assert_eq!((replayed, commands(&db)), (0, Vec::<String>::new()));
    }

    #[test]
    fn a_retracted_record_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, mut journal, path) = store(dir.path());
        journal.append(1, &command("a")).unwrap();
        let at = journal.len();
        journal.append(2, &command("refused")).unwrap();
        journal.retract(2, at).unwrap();
        assert_eq!(journal.next_seq(), 2);
        drop((journal, db));
        let (db, replayed) = reopen(&path);
        assert_eq!((replayed, commands(&db)), (1, vec!["a".to_owned()]));
    }
}
