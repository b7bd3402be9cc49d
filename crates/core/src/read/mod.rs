//! The read side: a separate redb file (`read.redb`) of denormalised tables kept up to date by
//! a background projector thread, and a tantivy index (`search/`) kept up to date the same way.
//!
//! Each read model is a module that owns its tables and an `apply` function from one event to
//! table changes ([`tables`] lists them in the order they apply). Adding a read model is:
//! write the module, list it in [`tables`] — which changes the schema fingerprint, so the
//! next start replays the whole log into a fresh read store.

mod customer_stats;
mod daily;
mod dead_letters;
mod directory;
mod hll;
mod orders;
mod product_sales;
mod projector;
mod queries;
mod search;
mod store;
mod tables;

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

pub(crate) fn key_day(key: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(key).unwrap_or(NaiveDate::MIN)
}

/// Why a projection could not apply an event (goes to the dead-letter table).
pub(crate) type Apply = Result<(), String>;

/// An error while reading or writing the read store: always a storage problem, since the
/// read store can be rebuilt from the log.
pub(crate) fn storage(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Storage { path: std::path::PathBuf::new(), detail: format!("read store: {e}") }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::Error> {
    serde_json::to_vec(value).map_err(|e| crate::Error::Internal(format!("encoding a read-model row: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::Error> {
    serde_json::from_slice(bytes).map_err(|e| crate::Error::corrupt(format!("read store row is not readable: {e}")))
}

pub(crate) fn decimal_from(bytes: &[u8]) -> Decimal {
    match <[u8; 16]>::try_from(bytes) {
        Ok(raw) => Decimal::deserialize(raw),
        Err(_) => Decimal::ZERO,
    }
}
