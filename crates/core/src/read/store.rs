//! The read store file (`read.redb`): its meta table (checkpoint, schema fingerprint,
//! bucketing) and opening it — creating, validating, or throwing it away when it cannot be
//! trusted (it is always rebuildable from the log). Owns `read_meta`.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use super::{Bucketing, decode_row, encode_row, tables};

/// The read store's file name inside the data dir.
pub const READ_STORE_FILE: &str = "read.redb";

/// redb's page cache for the read store (see the write store's for why not the default).
const CACHE_BYTES: usize = 16 << 20;

const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("read_meta");
const CHECKPOINT: &str = "checkpoint";
const FINGERPRINT: &str = "fingerprint";
const BUCKETING: &str = "bucketing";

/// What opening found.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A read store this version can continue from.
    Ready(Database),
    /// Nothing usable was there; a fresh, empty store was created. The reason says what was found.
    Fresh(Database, Option<String>),
}

/// Opens the read store at `path`; a missing, damaged or outdated one is replaced by an empty
/// one (the projector then rebuilds it from the log).
pub(crate) fn open(path: &Path) -> Result<Opened, crate::Error> {
    // A file from before files were made private is tightened now.
    crate::files::private_file(path)
        .map_err(|e| super::storage(format!("cannot make {} private: {e}", path.display())))?;
    let found = if path.exists() {
        // redb panics on some damaged pages; contained, that is one more way to be damaged.
        let opened = crate::store::contain_damage(|| {
            Ok(Database::builder().set_cache_size(CACHE_BYTES).open(path).map(|db| {
                let checked = check(&db);
                (db, checked)
            }))
        });
        match opened {
            Ok(Ok((db, Ok(None)))) => return Ok(Opened::Ready(db)),
            Ok(Ok((_, Ok(Some(why))))) => Some(why),
            Ok(Ok((_, Err(e)))) => Some(format!("it could not be read: {e}")),
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(crate::Error::AlreadyOpen { path: path.to_owned() });
            }
            Ok(Err(e)) => Some(format!("it is damaged: {e}")),
            Err(crate::Error::Corrupt { detail, .. }) => Some(format!("it is damaged: {detail}")),
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    if found.is_some() {
        std::fs::remove_file(path)
            .map_err(|e| super::storage(format!("cannot remove the old {}: {e}", path.display())))?;
    }
    let db = create(path)?;
    Ok(Opened::Fresh(db, found))
}

/// Creates an empty read store at `path` (which must not exist).
pub(crate) fn create(path: &Path) -> Result<Database, crate::Error> {
    let db = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(|e| super::storage(format!("cannot create {}: {e}", path.display())))?;
    crate::files::private_file(path)
        .map_err(|e| super::storage(format!("cannot make {} private: {e}", path.display())))?;
    init(&db)?;
    Ok(db)
}

/// Creates an in-memory read store (for time travel and tests).
pub(crate) fn in_memory() -> Result<Database, crate::Error> {
    let db = Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .map_err(|e| super::storage(format!("cannot create a scratch store: {e}")))?;
    init(&db)?;
    Ok(db)
}

fn init(db: &Database) -> Result<(), crate::Error> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        meta.insert(FINGERPRINT, tables::fingerprint().as_bytes())?;
        meta.insert(CHECKPOINT, 0u64.to_le_bytes().as_slice())?;
    }
    tables::create(&txn)?;
    txn.commit()?;
    Ok(())
}

/// `None` when the store can be continued from; otherwise why not.
fn check(db: &Database) -> Result<Option<String>, crate::Error> {
    use redb::ReadableDatabase;
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(_) => return Ok(Some("it has no meta table".into())),
    };
    let fingerprint = meta.get(FINGERPRINT)?.map(|v| String::from_utf8_lossy(v.value()).into_owned());
    if fingerprint.as_deref() != Some(tables::fingerprint().as_str()) {
        return Ok(Some("it was built by another version of the read models".into()));
    }
    Ok(None)
}

pub(crate) fn checkpoint(txn: &redb::ReadTransaction) -> Result<u64, crate::Error> {
    let meta = txn.open_table(META)?;
    Ok(meta.get(CHECKPOINT)?.map_or(0, |v| u64_from(v.value())))
}

pub(crate) fn bucketing(txn: &redb::ReadTransaction) -> Result<Option<Bucketing>, crate::Error> {
    let meta = txn.open_table(META)?;
    meta.get(BUCKETING)?.map(|v| decode_row(v.value())).transpose()
}

fn u64_from(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(0, u64::from_le_bytes)
}

/// The meta table inside a projector's write transaction.
pub(crate) struct Meta<'txn> {
    table: redb::Table<'txn, &'static str, &'static [u8]>,
}

impl<'txn> Meta<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Meta<'txn>, crate::Error> {
        Ok(Meta { table: txn.open_table(META)? })
    }

    pub(crate) fn checkpoint(&self) -> Result<u64, crate::Error> {
        Ok(self.table.get(CHECKPOINT)?.map_or(0, |v| u64_from(v.value())))
    }

    pub(crate) fn set_checkpoint(&mut self, position: u64) -> Result<(), crate::Error> {
        self.table.insert(CHECKPOINT, position.to_le_bytes().as_slice())?;
        Ok(())
    }

    pub(crate) fn bucketing(&self) -> Result<Option<Bucketing>, crate::Error> {
        self.table.get(BUCKETING)?.map(|v| decode_row(v.value())).transpose()
    }

    pub(crate) fn set_bucketing(&mut self, bucketing: &Bucketing) -> Result<(), crate::Error> {
        self.table.insert(BUCKETING, encode_row(bucketing)?.as_slice())?;
        Ok(())
    }
}
