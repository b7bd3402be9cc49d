//! Read model: per customer, live orders, lifetime value (what they paid and kept), refunds,
//! first and last order. Owns `customer_stats`.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::orders::{self, Reversal};
use super::{Apply, add_money, decode_row, encode_row};
use crate::domain::{Event, OrderStatus};
use crate::store::Envelope;

const STATS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("customer_stats");

/// A customer's history in numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CustomerStats {
    /// Orders placed and not cancelled.
    pub orders: i64,
    /// Paid minus refunded, over those orders.
    #[ts(as = "String")]
    pub lifetime_value: Decimal,
    #[ts(as = "String")]
    pub refunds: Decimal,
    pub first_order: Option<DateTime<Utc>>,
    pub last_order: Option<DateTime<Utc>>,
}

pub(crate) struct Tables<'txn> {
    stats: Table<'txn, &'static str, &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables { stats: txn.open_table(STATS)? })
    }

    fn get(&self, id: &str) -> Result<CustomerStats, crate::Error> {
        Ok(self.stats.get(id)?.map(|v| decode_row(v.value())).transpose()?.unwrap_or_default())
    }

    fn put(&mut self, id: &str, stats: &CustomerStats) -> Result<(), crate::Error> {
        self.stats.insert(id, encode_row(stats)?.as_slice())?;
        Ok(())
    }

    pub(crate) fn apply(&mut self, envelope: &Envelope, orders: &orders::Tables<'_>) -> Result<Apply, crate::Error> {
        match &envelope.event {
            Event::OrderPlaced(e) => {
                let Some(c) = &e.customer else { return Ok(Ok(())) };
                let mut stats = self.get(&c.id)?;
                stats.orders += 1;
                match add_money(stats.lifetime_value, e.totals.total, "the customer's lifetime value") {
                    Ok(value) => stats.lifetime_value = value,
                    Err(e) => return Ok(Err(e)),
                }
                stats.first_order = Some(stats.first_order.map_or(e.at, |t| t.min(e.at)));
                stats.last_order = Some(stats.last_order.map_or(e.at, |t| t.max(e.at)));
                self.put(&c.id, &stats)?;
            }
            Event::OrderRefunded(e) => {
                let Some(view) = orders.view(&e.order)? else {
                    return Ok(Err(format!("refunded order {} is not in the order view", e.order)));
                };
                let Some(c) = &view.customer else { return Ok(Ok(())) };
                let mut stats = self.get(&c.id)?;
                match refund(&stats, e.amount) {
                    Ok((value, refunds)) => (stats.lifetime_value, stats.refunds) = (value, refunds),
                    Err(e) => return Ok(Err(e)),
                }
                self.put(&c.id, &stats)?;
            }
            Event::ReturnRecorded(e) => {
                let Some(c) = &e.record.customer else { return Ok(Ok(())) };
                let mut stats = self.get(&c.id)?;
                match refund(&stats, e.record.amount) {
                    Ok((value, refunds)) => (stats.lifetime_value, stats.refunds) = (value, refunds),
                    Err(e) => return Ok(Err(e)),
                }
                self.put(&c.id, &stats)?;
            }
            Event::OrderCancelled(e) => {
                let view = match orders.reversal(e)? {
                    Err(why) => return Ok(Err(why)),
                    Ok(Reversal::Kept) => return Ok(Ok(())),
                    // The order left the customer's count already: only what the kept
                    // cancellation's till knew was refunded moves.
                    Ok(Reversal::Moved { was, now, .. }) => {
                        let Some(c) = &now.customer else { return Ok(Ok(())) };
                        let mut stats = self.get(&c.id)?;
                        let value = add_money(
                            stats.lifetime_value,
                            now.refunded - was.refunded,
                            "the customer's lifetime value",
                        );
                        match value {
                            Ok(value) => stats.lifetime_value = value,
                            Err(e) => return Ok(Err(e)),
                        }
                        self.put(&c.id, &stats)?;
                        return Ok(Ok(()));
                    }
                    Ok(Reversal::Sale { sale }) => sale,
                };
                let Some(c) = &view.customer else { return Ok(Ok(())) };
                let mut stats = self.get(&c.id)?;
                stats.orders -= 1;
                match add_money(
                    stats.lifetime_value,
                    view.refunded - view.totals.total,
                    "the customer's lifetime value",
                ) {
                    Ok(value) => stats.lifetime_value = value,
                    Err(e) => return Ok(Err(e)),
                }
                // First and last order are over live orders: look again at the others.
                let (mut first, mut last) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
                for id in orders.customer_orders(&c.id)? {
                    if let Some(other) = orders.view(&id)?
                        && other.status != OrderStatus::Cancelled
                    {
                        first = Some(first.map_or(other.placed_at, |t| t.min(other.placed_at)));
                        last = Some(last.map_or(other.placed_at, |t| t.max(other.placed_at)));
                    }
                }
                stats.first_order = first;
                stats.last_order = last;
                self.put(&c.id, &stats)?;
            }
            _ => {}
        }
        Ok(Ok(()))
    }
}

pub(crate) fn get(txn: &redb::ReadTransaction, id: &str) -> Result<Option<CustomerStats>, crate::Error> {
    let table = txn.open_table(STATS)?;
    table.get(id)?.map(|v| decode_row(v.value())).transpose()
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    super::tables::digest_table(&txn.open_table(STATS)?, hasher)
}

/// Lifetime value and refunds after money went back: both within what a read model holds.
fn refund(stats: &CustomerStats, amount: Decimal) -> Result<(Decimal, Decimal), String> {
    Ok((
        add_money(stats.lifetime_value, -amount, "the customer's lifetime value")?,
        add_money(stats.refunds, amount, "the customer's refunds")?,
    ))
}
