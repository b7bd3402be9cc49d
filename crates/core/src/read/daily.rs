//! Read model: sales per business day, so a dashboard over any range reads one row per day,
//! never one per order. Owns `daily_stats`, `daily_customers`, `daily_customer_set`,
//! `customer_numbers` and `customer_numbers_next`.
//!
//! - An order counts on the business day it was placed (back-dated orders on their own day):
//!   `gross` += total, `orders` += 1, `items` += units.
//! - A refund, or a return (credit note), counts on its own business day: `refunds` += amount.
//! - A cancellation voids the order on its placement day: `gross` −= what was still paid
//!   (total − refunds before cancelling), `orders` −= 1, `items` −= units, `cancelled` += 1.
//!   So `net = gross − refunds` is what the shop kept.
//! - Unique customers, exact over any range: every customer gets a small number the first time
//!   they buy (`customer_numbers`, in log order, so a rebuild numbers them the same), and each
//!   day keeps the set of numbers with a live order that day as a roaring bitmap
//!   (`daily_customer_set`, a few bytes per customer). A range is the union of its days' sets,
//!   counted: O(days), exact. `daily_customers` holds (day, customer) → live orders, so a
//!   cancellation takes a customer out of a day's set only with their last order that day.

use chrono::NaiveDate;
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use roaring::{MultiOps, RoaringBitmap};
use rust_decimal::Decimal;
use serde::Serialize;

use super::orders::{self, Reversal};
use super::{Apply, Bucketing, Period, add_count, add_money, day_key, decimal_from, i64_from, key_day};
use crate::domain::Event;
use crate::store::Envelope;

const STATS: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("daily_stats");
const CUSTOMERS: TableDefinition<'_, (i32, &str), u32> = TableDefinition::new("daily_customers");
const CUSTOMER_SET: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("daily_customer_set");
const CUSTOMER_NUMBERS: TableDefinition<'_, &str, u32> = TableDefinition::new("customer_numbers");
/// One row (key 0): the number the next new customer gets.
const NEXT_NUMBER: TableDefinition<'_, u8, u32> = TableDefinition::new("customer_numbers_next");

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
    customer_set: Table<'txn, i32, &'static [u8]>,
    numbers: Table<'txn, &'static str, u32>,
    next_number: Table<'txn, u8, u32>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables {
            stats: txn.open_table(STATS)?,
            customers: txn.open_table(CUSTOMERS)?,
            customer_set: txn.open_table(CUSTOMER_SET)?,
            numbers: txn.open_table(CUSTOMER_NUMBERS)?,
            next_number: txn.open_table(NEXT_NUMBER)?,
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
                let view = match orders.reversal(e)? {
                    Err(why) => return Ok(Err(why)),
                    Ok(Reversal::Kept) => return Ok(Ok(())),
                    // The sale left its day already: only what the kept cancellation's till
                    // knew was refunded moves.
                    Ok(Reversal::Moved { was, now, .. }) => {
                        let mut stats = self.get(now.business_day)?;
                        match add_money(stats.gross, now.refunded - was.refunded, "the day's takings") {
                            Ok(gross) => stats.gross = gross,
                            Err(e) => return Ok(Err(e)),
                        }
                        self.put(&stats)?;
                        return Ok(Ok(()));
                    }
                    Ok(Reversal::Sale { sale }) => sale,
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
            let number = self.number(customer)?;
            let mut set = self.set(key)?;
            set.insert(number);
            self.put_set(key, &set)?;
        }
        Ok(count == 0)
    }

    /// Counts one less live order; true when the customer has none left that day (and leaves
    /// the day's set).
    fn remove_customer(&mut self, day: NaiveDate, customer: &str) -> Result<bool, crate::Error> {
        let key = day_key(day);
        let count = self.customers.get((key, customer))?.map_or(0, |v| v.value());
        if count > 1 {
            self.customers.insert((key, customer), count - 1)?;
            return Ok(false);
        }
        self.customers.remove((key, customer))?;
        if count == 1 {
            let Some(number) = self.numbers.get(customer)?.map(|v| v.value()) else {
                return Err(super::damaged(format!("customer {customer} bought on {day} but has no number")));
            };
            let mut set = self.set(key)?;
            set.remove(number);
            self.put_set(key, &set)?;
        }
        Ok(count == 1)
    }

    /// The customer's number, given now if they have none.
    fn number(&mut self, customer: &str) -> Result<u32, crate::Error> {
        if let Some(number) = self.numbers.get(customer)? {
            return Ok(number.value());
        }
        let number = self.next_number.get(0)?.map_or(0, |v| v.value());
        let next = number.checked_add(1).ok_or_else(|| super::damaged("more than 4,294,967,295 customers"))?;
        self.numbers.insert(customer, number)?;
        self.next_number.insert(0, next)?;
        Ok(number)
    }

    fn set(&self, key: i32) -> Result<RoaringBitmap, crate::Error> {
        match self.customer_set.get(key)? {
            Some(bytes) => decode_set(key, bytes.value()),
            None => Ok(RoaringBitmap::new()),
        }
    }

    fn put_set(&mut self, key: i32, set: &RoaringBitmap) -> Result<(), crate::Error> {
        if set.is_empty() {
            self.customer_set.remove(key)?;
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(set.serialized_size());
        set.serialize_into(&mut bytes).map_err(|e| super::damaged(format!("a day's customers: {e}")))?;
        self.customer_set.insert(key, bytes.as_slice())?;
        Ok(())
    }
}

fn decode_set(key: i32, bytes: &[u8]) -> Result<RoaringBitmap, crate::Error> {
    RoaringBitmap::deserialize_from(bytes)
        .map_err(|e| super::damaged(format!("the customers of day key {key} are not readable: {e}")))
}

/// Read access for dashboards.
pub(crate) struct Reader {
    stats: redb::ReadOnlyTable<i32, &'static [u8]>,
    customer_set: redb::ReadOnlyTable<i32, &'static [u8]>,
}

impl Reader {
    pub(crate) fn open(txn: &redb::ReadTransaction) -> Result<Reader, crate::Error> {
        Ok(Reader { stats: txn.open_table(STATS)?, customer_set: txn.open_table(CUSTOMER_SET)? })
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

    /// The first and the last day with any activity: the whole history, for an "all time" range.
    pub(crate) fn span(&self) -> Result<Option<Period>, crate::Error> {
        let (Some(first), Some(last)) = (self.stats.first()?, self.stats.last()?) else { return Ok(None) };
        Ok(Some(Period { from: key_day(first.0.value())?, to: key_day(last.0.value())? }))
    }

    /// Distinct customers with a live order in `[from, to]`, exactly.
    pub(crate) fn unique_customers(&self, from: NaiveDate, to: NaiveDate) -> Result<u64, crate::Error> {
        let mut days = Vec::new();
        for entry in self.customer_set.range(day_key(from)..=day_key(to))? {
            let (key, bytes) = entry?;
            days.push(decode_set(key.value(), bytes.value())?);
        }
        // One union of all of them: folding them in one by one re-merges the growing result
        // each day (a year of Online Retail took 2.7 ms that way).
        Ok(days.union().len())
    }
}

/// [`digest`] without the dense customer numbers (they depend on arrival order); the
/// customers per day are in `daily_customers` by id.
pub(crate) fn shared_digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    use super::tables::digest_table;
    digest_table(&txn.open_table(STATS)?, hasher)?;
    digest_table(&txn.open_table(CUSTOMERS)?, hasher)
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    use super::tables::digest_table;
    digest_table(&txn.open_table(STATS)?, hasher)?;
    digest_table(&txn.open_table(CUSTOMERS)?, hasher)?;
    digest_table(&txn.open_table(CUSTOMER_SET)?, hasher)?;
    digest_table(&txn.open_table(CUSTOMER_NUMBERS)?, hasher)?;
    digest_table(&txn.open_table(NEXT_NUMBER)?, hasher)
}
