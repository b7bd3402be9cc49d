//! The list of table projections, in the order they apply each event, and what they share:
//! one write transaction's open tables, the schema fingerprint, and the digest.
//!
//! A projection applies after the ones above it and may read their tables as they are after
//! this event (the order view reads the directory; daily stats read the order view). Each
//! projection checks what it needs before it writes anything for an event, so one it cannot
//! apply is parked as a dead letter without half its changes.
//!
//! To add a read model: write its module (tables, `apply`, `digest`), add it to `NAMES`,
//! [`ReadTables`] and [`digest`]. The fingerprint changes, so the next start replays the log
//! into a fresh read store — no migration code.

use redb::{ReadableTable, WriteTransaction};

use super::{Bucketing, cashup, customer_stats, daily, dead_letters, directory, orders, product_sales, stock};
use crate::store::Envelope;

/// Each projection's name and version. Bump a version when its tables change shape or meaning.
const NAMES: &[(&str, u32)] = &[
    ("directory", 5),
    ("orders", 7),
    ("daily", 4),
    ("product_sales", 7),
    ("customer_stats", 4),
    ("cashup", 4),
    ("stock", 5),
];

/// Identifies the read models' shape; stored in the read store and compared at open.
pub(crate) fn fingerprint() -> String {
    let list: Vec<String> = NAMES.iter().map(|(name, version)| format!("{name}@{version}")).collect();
    list.join(",")
}

/// Creates every table, so queries on an empty store find them.
pub(crate) fn create(txn: &WriteTransaction) -> Result<(), crate::Error> {
    drop(ReadTables::open(txn)?);
    drop(dead_letters::Tables::open(txn)?);
    Ok(())
}

/// Every projection's tables, opened once per batch.
pub(crate) struct ReadTables<'txn> {
    directory: directory::Tables<'txn>,
    orders: orders::Tables<'txn>,
    daily: daily::Tables<'txn>,
    product_sales: product_sales::Tables<'txn>,
    customer_stats: customer_stats::Tables<'txn>,
    cashup: cashup::Tables<'txn>,
    stock: stock::Tables<'txn>,
}

impl<'txn> ReadTables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<ReadTables<'txn>, crate::Error> {
        Ok(ReadTables {
            directory: directory::Tables::open(txn)?,
            orders: orders::Tables::open(txn)?,
            daily: daily::Tables::open(txn)?,
            product_sales: product_sales::Tables::open(txn)?,
            customer_stats: customer_stats::Tables::open(txn)?,
            cashup: cashup::Tables::open(txn)?,
            stock: stock::Tables::open(txn)?,
        })
    }

    /// Applies one event to the projections `wanted` names, in order. Returns the projections
    /// that could not apply it, with why. Storage errors, and a projection that panics (a bug of
    /// ours, which may have written half its rows), stop the batch: its transaction must be
    /// dropped, see [`Halt`].
    pub(crate) fn apply(
        &mut self,
        envelope: &Envelope,
        bucketing: &Bucketing,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<(&'static str, String)>, Halt> {
        let mut failed = Vec::new();
        // A read model takes no event stating more money than the rules record (one an older
        // Countertop let through), so no sum of them overflows.
        if let Err(e) = crate::domain::amounts_in_range(&envelope.event) {
            let e = e.to_string();
            return Ok(NAMES.iter().map(|(n, _)| *n).filter(|n| wanted(n)).map(|n| (n, e.clone())).collect());
        }
        let mut note = |name: &'static str, result: super::Apply| {
            if let Err(e) = result {
                failed.push((name, e));
            }
        };
        if wanted("directory") {
            note("directory", guarded("directory", envelope, || self.directory.apply(envelope))?);
        }
        if wanted("orders") {
            note("orders", guarded("orders", envelope, || self.orders.apply(envelope, bucketing, &self.directory))?);
        }
        if wanted("daily") {
            note("daily", guarded("daily", envelope, || self.daily.apply(envelope, bucketing, &self.orders))?);
        }
        if wanted("product_sales") {
            let apply = || self.product_sales.apply(envelope, bucketing, &self.orders);
            note("product_sales", guarded("product_sales", envelope, apply)?);
        }
        if wanted("customer_stats") {
            let apply = || self.customer_stats.apply(envelope, &self.orders);
            note("customer_stats", guarded("customer_stats", envelope, apply)?);
        }
        if wanted("cashup") {
            let apply = || self.cashup.apply(envelope, bucketing, &self.orders);
            note("cashup", guarded("cashup", envelope, apply)?);
        }
        if wanted("stock") {
            let apply = || self.stock.apply(envelope, &self.orders);
            note("stock", guarded("stock", envelope, apply)?);
        }
        Ok(failed)
    }

    /// Writes what projections keep in memory during a batch; call before the transaction
    /// commits (a batch dropped without it leaves nothing, like a dropped transaction).
    /// Returns the order views the batch changed, as written (the search index reads them).
    pub(crate) fn finish(&mut self) -> Result<Vec<orders::OrderView>, crate::Error> {
        self.product_sales.finish()?;
        self.cashup.finish()?;
        self.stock.finish()?;
        self.orders.finish()
    }
}

/// Why a batch stopped part-way; its write transaction is dropped, so none of it is kept.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The read store failed (disk, damage): the whole batch is tried again later.
    Failed(crate::Error),
    /// `projection` panicked on the event at `position`: a bug of ours ([`crate::Error::Bug`]). It may have
    /// written half its rows, so the batch is applied again with that projection parked for
    /// that event (`projector::apply_batch`), and everything else goes on.
    Panicked { position: u64, projection: &'static str, bug: Box<crate::Error> },
}

impl From<crate::Error> for Halt {
    fn from(e: crate::Error) -> Halt {
        Halt::Failed(e)
    }
}

impl From<Halt> for crate::Error {
    fn from(halt: Halt) -> crate::Error {
        match halt {
            Halt::Failed(e) => e,
            Halt::Panicked { bug, .. } => *bug,
        }
    }
}

/// Runs one projection's `apply` with its panics caught: redb's (a damaged page of the read
/// store) are read-side damage, ours are [`Halt::Panicked`].
fn guarded(
    projection: &'static str,
    envelope: &Envelope,
    apply: impl FnOnce() -> Result<super::Apply, crate::Error>,
) -> Result<super::Apply, Halt> {
    let run = || {
        let applied = apply();
        // A projection that wrote its rows and then panicked (the rows must not be kept).
        #[cfg(test)]
        if envelope.command_id == format!("test-panic-{projection}") {
            panic!("a test panic in the {projection} projection");
        }
        applied
    };
    match super::on_read_store(run) {
        Err(bug @ crate::Error::Bug { .. }) => {
            Err(Halt::Panicked { position: envelope.position, projection, bug: Box::new(bug) })
        }
        other => other.map_err(Halt::Failed),
    }
}

/// Hashes every read-model table (not the meta table or the dead letters) in key order.
/// Two read stores with the same digest hold the same read models.
pub(crate) fn digest(txn: &redb::ReadTransaction) -> Result<String, crate::Error> {
    let mut hasher = blake3::Hasher::new();
    directory::digest(txn, &mut hasher)?;
    orders::digest(txn, &mut hasher)?;
    daily::digest(txn, &mut hasher)?;
    product_sales::digest(txn, &mut hasher)?;
    customer_stats::digest(txn, &mut hasher)?;
    cashup::digest(txn, &mut hasher)?;
    stock::digest(txn, &mut hasher)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Like [`digest`], but comparable between devices of one shop: what depends on the order
/// events arrived in (log positions, dense numbers) is left out. Two devices holding the same
/// events have the same shared digest.
pub(crate) fn shared_digest(txn: &redb::ReadTransaction) -> Result<String, crate::Error> {
    let mut hasher = blake3::Hasher::new();
    let parts: [PartFn; 7] = [
        directory::digest,
        orders::shared_digest,
        daily::shared_digest,
        product_sales::shared_digest,
        customer_stats::digest,
        cashup::digest,
        stock::shared_digest,
    ];
    for part in parts {
        part(txn, &mut hasher)?;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

type PartFn = fn(&redb::ReadTransaction, &mut blake3::Hasher) -> Result<(), crate::Error>;

pub(crate) fn digest_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    table: &impl ReadableTable<K, V>,
    hasher: &mut blake3::Hasher,
) -> Result<(), crate::Error> {
    for entry in table.iter()? {
        let (key, value) = entry?;
        let (key, value) = (key.value(), value.value());
        let (key, value) = (K::as_bytes(&key), V::as_bytes(&value));
        hasher.update(&(key.as_ref().len() as u64).to_le_bytes());
        hasher.update(key.as_ref());
        hasher.update(&(value.as_ref().len() as u64).to_le_bytes());
        hasher.update(value.as_ref());
    }
    Ok(())
}
