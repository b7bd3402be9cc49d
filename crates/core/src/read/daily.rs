//! Read model: sales per business day, so a dashboard over any range reads one row per day,
//! never one per order. Owns `daily_stats`, `daily_customers`, `daily_sketch`.
//!
//! - An order counts on the business day it was placed (back-dated orders on their own day):
//!   `gross` += total, `orders` += 1, `items` += units.
//! - A refund, or a return (credit note), counts on its own business day: `refunds` += amount.
//! - A cancellation voids the order on its placement day: `gross` −= what was still paid
//!   (total − refunds before cancelling), `orders` −= 1, `items` −= units, `cancelled` += 1.
//!   So `net = gross − refunds` is what the shop kept.
//! - Unique customers: `daily_customers` holds (day, customer) → live orders, exact per day;
//!   `daily_sketch` holds that day's HyperLogLog so ranges are counted in O(days).

use chrono::NaiveDate;
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;
use serde::Serialize;

use super::hll::Sketch;
use super::orders;
use super::{Apply, Bucketing, add_count, add_money, day_key, decimal_from, i64_from, key_day};
use crate::domain::Event;
use crate::store::Envelope;

const STATS: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("daily_stats");
const CUSTOMERS: TableDefinition<'_, (i32, &str), u32> = TableDefinition::new("daily_customers");
const SKETCH: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("daily_sketch");

/// One business day's sales.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DailyStats {
    pub day: NaiveDate,
    /// Totals of the orders placed that day and not cancelled.
    pub gross: Decimal,
    /// Refunds made that day.
    pub refunds: Decimal,
    /// Orders placed that day and not cancelled.
    pub orders: i64,
    /// Units in those orders.
    pub items: i64,
    /// Orders placed that day and cancelled since.
    pub cancelled: i64,
    /// Distinct customers with an order that day (walk-ins are not counted).
    pub customers: i64,
}

impl DailyStats {
    pub fn net(&self) -> Decimal {
        self.gross - self.refunds
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&self.gross.serialize());
        out.extend_from_slice(&self.refunds.serialize());
        for n in [self.orders, self.items, self.cancelled, self.customers] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    pub(crate) fn decode(day: NaiveDate, bytes: &[u8]) -> Result<DailyStats, crate::Error> {
        if bytes.len() != 64 {
            return Err(super::damaged(format!("the day {day} is {} bytes, not 64", bytes.len())));
        }
        let int = |i: usize| i64_from(bytes.get(32 + 8 * i..40 + 8 * i));
        Ok(DailyStats {
            day,
            gross: decimal_from(&bytes[..16])?,
            refunds: decimal_from(&bytes[16..32])?,
            orders: int(0)?,
            items: int(1)?,
            cancelled: int(2)?,
            customers: int(3)?,
        })
    }
}

pub(crate) struct Tables<'txn> {
    stats: Table<'txn, i32, &'static [u8]>,
    customers: Table<'txn, (i32, &'static str), u32>,
    sketch: Table<'txn, i32, &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables {
            stats: txn.open_table(STATS)?,
            customers: txn.open_table(CUSTOMERS)?,
            sketch: txn.open_table(SKETCH)?,
        })
    }

    fn get(&self, day: NaiveDate) -> Result<DailyStats, crate::Error> {
        let key = day_key(day);
        Ok(match self.stats.get(key)? {
            Some(v) => DailyStats::decode(day, v.value())?,
            None => DailyStats { day, ..DailyStats::default() },
        })
    }

    fn put(&mut self, stats: &DailyStats) -> Result<(), crate::Error> {
        self.stats.insert(day_key(stats.day), stats.encode().as_slice())?;
        Ok(())
    }

    /// Only reads the order view; `orders` has already applied this event.
    pub(crate) fn apply(
        &mut self,
        envelope: &Envelope,
        bucketing: &Bucketing,
        orders: &orders::Tables<'_>,
    ) -> Result<Apply, crate::Error> {
        match &envelope.event {
            Event::OrderPlaced(e) => {
                let day = bucketing.day(e.at);
                let mut stats = self.get(day)?;
                let items = e.lines.iter().map(|l| i64::from(l.quantity)).sum::<i64>();
                match (
                    add_money(stats.gross, e.totals.total, "the day's takings"),
                    add_count(stats.items, items, "the day's items"),
                ) {
                    (Ok(gross), Ok(items)) => (stats.gross, stats.items) = (gross, items),
                    (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                }
                stats.orders += 1;
                if let Some(c) = &e.customer
                    && self.add_customer(day, &c.id)?
                {
                    stats.customers += 1;
                }
                self.put(&stats)?;
            }
            Event::OrderRefunded(e) => {
                let mut stats = self.get(bucketing.day(e.at))?;
                match add_money(stats.refunds, e.amount, "the day's refunds") {
                    Ok(refunds) => stats.refunds = refunds,
                    Err(e) => return Ok(Err(e)),
                }
                self.put(&stats)?;
            }
            Event::ReturnRecorded(e) => {
                let mut stats = self.get(bucketing.day(e.record.at))?;
                match add_money(stats.refunds, e.record.amount, "the day's refunds") {
                    Ok(refunds) => stats.refunds = refunds,
                    Err(e) => return Ok(Err(e)),
                }
                self.put(&stats)?;
            }
            Event::OrderCancelled(e) => {
                let Some(view) = orders.view(&e.order)? else {
                    return Ok(Err(format!("cancelled order {} is not in the order view", e.order)));
                };
                let day = view.business_day;
                let mut stats = self.get(day)?;
                match add_money(stats.gross, view.refunded - view.totals.total, "the day's takings") {
                    Ok(gross) => stats.gross = gross,
                    Err(e) => return Ok(Err(e)),
                }
                stats.orders -= 1;
                stats.items -= i64::try_from(view.units()).unwrap_or(i64::MAX);
                stats.cancelled += 1;
                if let Some(c) = &view.customer
                    && self.remove_customer(day, &c.id)?
                {
                    stats.customers -= 1;
                }
                self.put(&stats)?;
            }
            _ => {}
        }
        Ok(Ok(()))
    }

    /// Counts one more live order of `customer` on `day`; true when the customer is new that day.
    fn add_customer(&mut self, day: NaiveDate, customer: &str) -> Result<bool, crate::Error> {
        let key = day_key(day);
        let count = self.customers.get((key, customer))?.map_or(0, |v| v.value());
        self.customers.insert((key, customer), count + 1)?;
        if count == 0 {
            let mut sketch = self.sketch.get(key)?.map_or_else(Sketch::new, |v| Sketch::from_bytes(v.value()));
            sketch.insert(customer);
            self.sketch.insert(key, sketch.as_bytes())?;
        }
        Ok(count == 0)
    }

    /// Counts one less live order; true when the customer has none left that day (the
    /// day's sketch is then rebuilt from the remaining customers: sketches cannot forget).
    fn remove_customer(&mut self, day: NaiveDate, customer: &str) -> Result<bool, crate::Error> {
        let key = day_key(day);
        let count = self.customers.get((key, customer))?.map_or(0, |v| v.value());
        if count > 1 {
            self.customers.insert((key, customer), count - 1)?;
            return Ok(false);
        }
        self.customers.remove((key, customer))?;
        let mut sketch = Sketch::new();
        for entry in self.customers.range((key, "")..(key + 1, ""))? {
            sketch.insert(entry?.0.value().1);
        }
        self.sketch.insert(key, sketch.as_bytes())?;
        Ok(count == 1)
    }
}

/// Read access for dashboards.
pub(crate) struct Reader {
    stats: redb::ReadOnlyTable<i32, &'static [u8]>,
    sketch: redb::ReadOnlyTable<i32, &'static [u8]>,
}

impl Reader {
    pub(crate) fn open(txn: &redb::ReadTransaction) -> Result<Reader, crate::Error> {
        Ok(Reader { stats: txn.open_table(STATS)?, sketch: txn.open_table(SKETCH)? })
    }

    /// The days in `[from, to]` that have any activity, in order.
    pub(crate) fn days(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyStats>, crate::Error> {
        let mut out = Vec::new();
        for entry in self.stats.range(day_key(from)..=day_key(to))? {
            let (key, value) = entry?;
            out.push(DailyStats::decode(key_day(key.value())?, value.value())?);
        }
        Ok(out)
    }

    /// Estimated distinct customers over `[from, to]`.
    pub(crate) fn unique_customers(&self, from: NaiveDate, to: NaiveDate) -> Result<u64, crate::Error> {
        let mut sketch = Sketch::new();
        let mut any = false;
        for entry in self.sketch.range(day_key(from)..=day_key(to))? {
            sketch.merge_bytes(entry?.1.value());
            any = true;
        }
        Ok(if any { sketch.estimate() } else { 0 })
    }
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    use super::tables::digest_table;
    digest_table(&txn.open_table(STATS)?, hasher)?;
    digest_table(&txn.open_table(CUSTOMERS)?, hasher)?;
    digest_table(&txn.open_table(SKETCH)?, hasher)
}
