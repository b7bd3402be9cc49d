//! The read side: a separate redb file (`read.redb`) of denormalised tables kept up to date by
//! a background projector thread, and a tantivy index (`search/`) kept up to date the same way.
//!
//! Each read model is a module that owns its tables and an `apply` function from one event to
//! table changes ([`tables`] lists them in the order they apply). Adding a read model is:
//! write the module, list it in [`tables`] — which changes the schema fingerprint, so the
//! next start replays the whole log into a fresh read store.

mod cashup;
mod customer_stats;
mod daily;
mod dead_letters;
mod directory;
mod orders;
mod product_sales;
mod projector;
mod queries;
mod search;
mod stock;
mod store;
mod tables;

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use cashup::{CashUp, DrawerCount, TaxAtRate, TenderAmount};
pub use customer_stats::CustomerStats;
pub use daily::DailyStats;
pub use dead_letters::DeadLetter;
pub use directory::{CustomerInfo, ProductInfo};
pub use orders::{LineView, OrderView};
pub(crate) use projector::ReadSide;
pub use projector::{Progress, ProjectionStatus, ProjectorOptions, Status};
pub use queries::{
    Bucket, Dashboard, Kpis, OrderFilter, OrderSource, OrderWithSource, Page, Period, ReadCheck, RevenueRow,
    SeriesPoint, Stamped, TopProduct,
};
pub use search::{SearchHit, SearchKind};
pub use stock::{StockLevel, StockMove};
pub use store::READ_STORE_FILE;

/// How moments map to business days: the shop's time zone and day start. The read store is
/// built for one bucketing; when the shop changes it, the read store is rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucketing {
    pub time_zone: Tz,
    pub day_start: NaiveTime,
}

impl Bucketing {
    pub fn day(&self, at: DateTime<Utc>) -> NaiveDate {
        crate::domain::business_day(at, self.time_zone, self.day_start)
    }
}

impl Default for Bucketing {
    fn default() -> Bucketing {
        Bucketing { time_zone: Tz::UTC, day_start: NaiveTime::MIN }
    }
}

/// A day as a table key: days since 0001-01-01 (so keys sort by date).
pub(crate) fn day_key(day: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&day)
}

pub(crate) fn key_day(key: i32) -> Result<NaiveDate, crate::Error> {
    NaiveDate::from_num_days_from_ce_opt(key).ok_or_else(|| damaged(format!("a day key {key} is no date")))
}

/// Read-side damage: a row that cannot be what the projections wrote. Never a zero or a
/// made-up date on a dashboard: the caller gets this, and the read store is replaced by one
/// rebuilt from the log.
pub(crate) fn damaged(detail: impl Into<String>) -> crate::Error {
    crate::Error::ReadModel { detail: detail.into() }
}

/// Runs `f` on the read store's behalf: a panic redb raises there (a damaged page) or a
/// `Corrupted` error is read-side damage ([`crate::Error::ReadModel`], which leads to a rebuild),
/// never "the write store is damaged"; a panic of ours stays [`crate::Error::Bug`].
pub(crate) fn on_read_store<T>(f: impl FnOnce() -> Result<T, crate::Error>) -> Result<T, crate::Error> {
    crate::store::contain_damage(f).map_err(read_side)
}

/// An error met on the read store: damage there is [`crate::Error::ReadModel`].
pub(crate) fn read_side(e: crate::Error) -> crate::Error {
    match e {
        crate::Error::Corrupt { detail, .. } => damaged(detail),
        other => other,
    }
}

/// Why a projection could not apply an event (goes to the dead-letter table).
pub(crate) type Apply = Result<(), String>;

/// The most one read-model sum may hold (a day's takings, a customer's lifetime value, a
/// product's revenue on a day): 10¹⁸. Recorded totals are at most 10¹² each
/// ([`MAX_TOTAL`](crate::money::MAX_TOTAL)), so it takes a million of the largest orders to
/// get there; an event that would pass it is parked as a dead letter instead of overflowing,
/// and a dashboard's sum over any range of days stays far inside `Decimal`.
pub(crate) const MAX_SUM: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0);

/// `sum + amount`, or why a read model cannot hold it.
pub(crate) fn add_money(sum: Decimal, amount: Decimal, what: &str) -> Result<Decimal, String> {
    sum.checked_add(amount)
        .filter(|total| total.abs() <= MAX_SUM)
        // 0.00 + -0.00 is -0.00: stored that way, two devices that added the same amounts in
        // another order would hold different rows.
        .map(|total| if total.is_zero() && total.is_sign_negative() { -total } else { total })
        .ok_or_else(|| format!("{what} would pass 1,000,000,000,000,000,000 ({sum} + {amount}); this event is beyond what a read model holds"))
}

/// `count + by`, or why a read model cannot hold it.
pub(crate) fn add_count(count: i64, by: i64, what: &str) -> Result<i64, String> {
    count.checked_add(by).ok_or_else(|| format!("{what} would pass {}", i64::MAX))
}

/// An error while reading or writing the read store: always a storage problem, since the
/// read store can be rebuilt from the log.
pub(crate) fn storage(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Storage { path: std::path::PathBuf::new(), detail: format!("read store: {e}") }
}

/// A read-model row as stored: JSON, compressed when long ([`crate::codec`]).
pub(crate) fn encode_row<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::Error> {
    serde_json::to_vec(value)
        .map(crate::codec::pack)
        .map_err(|e| crate::Error::Internal(format!("encoding a read-model row: {e}")))
}

/// A stored read-model row (either kind [`crate::codec`] writes), or read-side damage.
pub(crate) fn decode_row<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::Error> {
    let json = crate::codec::unpack(bytes).map_err(|e| damaged(format!("a row is not readable: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| damaged(format!("a row is not readable: {e}")))
}

/// A stored amount: 16 bytes of `Decimal::serialize`, with a scale `Decimal` can have and no
/// other flag bits set.
pub(crate) fn decimal_from(bytes: &[u8]) -> Result<Decimal, crate::Error> {
    match <[u8; 16]>::try_from(bytes) {
        Ok(raw) if raw[0] == 0 && raw[1] == 0 && raw[2] <= 28 && raw[3] & 0x7f == 0 => Ok(Decimal::deserialize(raw)),
        _ => Err(damaged(format!("an amount is not readable ({} bytes)", bytes.len()))),
    }
}

/// A stored count: 8 little-endian bytes.
pub(crate) fn i64_from(bytes: Option<&[u8]>) -> Result<i64, crate::Error> {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(i64::from_le_bytes)
        .ok_or_else(|| damaged("a count is not readable"))
}
