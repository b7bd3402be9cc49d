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

use super::{Bucketing, customer_stats, daily, dead_letters, directory, orders, product_sales};
use crate::store::Envelope;

/// Each projection's name and version. Bump a version when its tables change shape or meaning.
const NAMES: &[(&str, u32)] =
    &[("directory", 1), ("orders", 1), ("daily", 2), ("product_sales", 2), ("customer_stats", 2)];

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
}

impl<'txn> ReadTables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<ReadTables<'txn>, crate::Error> {
        Ok(ReadTables {
            directory: directory::Tables::open(txn)?,
            orders: orders::Tables::open(txn)?,
            daily: daily::Tables::open(txn)?,
            product_sales: product_sales::Tables::open(txn)?,
            customer_stats: customer_stats::Tables::open(txn)?,
        })
    }

    /// Applies one event to every projection (or to the one named by `only`). Returns the
    /// projections that could not apply it, with why; storage errors abort the batch.
    pub(crate) fn apply(
        &mut self,
        envelope: &Envelope,
        bucketing: &Bucketing,
        only: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>, crate::Error> {
        let mut failed = Vec::new();
        let wanted = |name: &str| only.is_none_or(|o| o == name);
        if let Err(e) = super::amounts_in_range(&envelope.event) {
            let names = ["directory", "orders", "daily", "product_sales", "customer_stats"];
            return Ok(names.into_iter().filter(|n| wanted(n)).map(|n| (n, e.clone())).collect());
        }
        let mut note = |name: &'static str, result: super::Apply| {
            if let Err(e) = result {
                failed.push((name, e));
            }
        };
        if wanted("directory") {
            note("directory", self.directory.apply(envelope)?);
        }
        if wanted("orders") {
            note("orders", self.orders.apply(envelope, bucketing, &self.directory)?);
        }
        if wanted("daily") {
            note("daily", self.daily.apply(envelope, bucketing, &self.orders)?);
        }
        if wanted("product_sales") {
            note("product_sales", self.product_sales.apply(envelope, bucketing, &self.orders)?);
        }
        if wanted("customer_stats") {
            note("customer_stats", self.customer_stats.apply(envelope, &self.orders)?);
        }
        Ok(failed)
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
    Ok(hasher.finalize().to_hex().to_string())
}

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
