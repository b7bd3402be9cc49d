//! Read model: units and revenue per product per business day, and per month, for top-product
//! lists. Owns `product_sales` and `product_sales_month`.
//!
//! Keyed by (day, product key): the SKU for lines with one, `item:NAME` for ad-hoc items
//! without. Every change to a day's row is made to its month's row too (keyed by the month's
//! first day), so a long range reads its whole months from the month rows and only the days at
//! its ends from the day rows: a year is 12 months and at most 60 days, not 365 days. Revenue is the line totals (before the order discount). Cancelling an order takes
//! its lines off its placement day; a return (credit note) takes its lines off its own day.
//! Refunds of an order are not attributed to products: a refund names an amount, not lines.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;
use serde::Serialize;

use super::orders;
use super::{Apply, Bucketing, add_count, add_money, day_key, decimal_from, i64_from};
use crate::domain::Event;
use crate::store::Envelope;

const SALES: TableDefinition<'_, (i32, &str), &[u8]> = TableDefinition::new("product_sales");
const MONTHS: TableDefinition<'_, (i32, &str), &[u8]> = TableDefinition::new("product_sales_month");

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// A product's sales over a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopProduct {
    /// The SKU, or `None` for an ad-hoc item.
    pub sku: Option<String>,
    /// The name it was last sold under.
    pub name: String,
    pub units: i64,
    pub revenue: Decimal,
}

fn product_key(sku: Option<&str>, name: &str) -> String {
    match sku {
        Some(sku) => sku.to_owned(),
        None => format!("item:{name}"),
    }
}

/// units (8) ‖ revenue (16) ‖ name (UTF-8)
fn encode(units: i64, revenue: Decimal, name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + name.len());
    out.extend_from_slice(&units.to_le_bytes());
    out.extend_from_slice(&revenue.serialize());
    out.extend_from_slice(name.as_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<(i64, Decimal, &str), crate::Error> {
    let units = i64_from(bytes.get(..8))?;
    let revenue = decimal_from(bytes.get(8..24).unwrap_or_default())?;
    let name = bytes
        .get(24..)
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| super::damaged("a product's name is not readable"))?;
    Ok((units, revenue, name))
}

/// A row being changed in this batch: (is a month row, day or month key, product key).
type RowKey = (bool, i32, String);

/// The rows as this batch leaves them: units, revenue, name.
type Row = (i64, Decimal, String);

pub(crate) struct Tables<'txn> {
    sales: Table<'txn, (i32, &'static str), &'static [u8]>,
    months: Table<'txn, (i32, &'static str), &'static [u8]>,
    /// The batch's changes, written once each by [`Tables::finish`]: a batch of Online Retail
    /// invoices touches the same month rows thousands of times.
    changed: HashMap<RowKey, Row>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables { sales: txn.open_table(SALES)?, months: txn.open_table(MONTHS)?, changed: HashMap::new() })
    }

    /// Writes the batch's changed rows; before the transaction commits.
    pub(crate) fn finish(&mut self) -> Result<(), crate::Error> {
        for ((in_month, at, key), (units, revenue, name)) in self.changed.drain() {
            let table = if in_month { &mut self.months } else { &mut self.sales };
            table.insert((at, key.as_str()), encode(units, revenue, &name).as_slice())?;
        }
        Ok(())
    }

    /// A row as the batch has it so far.
    fn row(&self, key: &RowKey) -> Result<(i64, Decimal), crate::Error> {
        if let Some((units, revenue, _)) = self.changed.get(key) {
            return Ok((*units, *revenue));
        }
        let table = if key.0 { &self.months } else { &self.sales };
        Ok(match table.get((key.1, key.2.as_str()))? {
            Some(v) => {
                let (units, revenue, _) = decode(v.value())?;
                (units, revenue)
            }
            None => (0, Decimal::ZERO),
        })
    }

    /// Adds units and revenue to the (day, product) and (month, product) rows of each line,
    /// all or none: a row that would pass what a read model holds leaves every row as it was.
    fn add<'a>(
        &mut self,
        day: NaiveDate,
        lines: impl IntoIterator<Item = (Option<&'a str>, &'a str, i64, Decimal)>,
    ) -> Result<Apply, crate::Error> {
        let (day, month) = (day_key(day), day_key(month_of(day)));
        let mut rows: BTreeMap<RowKey, (i64, Decimal, &str)> = BTreeMap::new();
        for (sku, name, units, revenue) in lines {
            let key = product_key(sku, name);
            for row in [(false, day, key.clone()), (true, month, key)] {
                let (old_units, old_revenue) = match rows.get(&row) {
                    Some((u, r, _)) => (*u, *r),
                    None => self.row(&row)?,
                };
                let (units_of, revenue_of) = if row.0 {
                    ("a product's units in a month", "a product's revenue in a month")
                } else {
                    ("a product's units on a day", "a product's revenue on a day")
                };
                let units = match add_count(old_units, units, units_of) {
                    Ok(units) => units,
                    Err(e) => return Ok(Err(e)),
                };
                let revenue = match add_money(old_revenue, revenue, revenue_of) {
                    Ok(revenue) => revenue,
                    Err(e) => return Ok(Err(e)),
                };
                rows.insert(row, (units, revenue, name));
            }
        }
        for (key, (units, revenue, name)) in rows {
            self.changed.insert(key, (units, revenue, name.to_owned()));
        }
        Ok(Ok(()))
    }

    pub(crate) fn apply(
        &mut self,
        envelope: &Envelope,
        bucketing: &Bucketing,
        orders: &orders::Tables<'_>,
    ) -> Result<Apply, crate::Error> {
        match &envelope.event {
            Event::OrderPlaced(e) => {
                let lines = e.lines.iter().map(|l| (l.sku.as_deref(), l.name.as_str(), i64::from(l.quantity), l.total));
                self.add(bucketing.day(e.at), lines)
            }
            Event::ReturnRecorded(e) => {
                let lines = e
                    .record
                    .lines
                    .iter()
                    .map(|l| (l.sku.as_deref(), l.name.as_str(), -i64::from(l.quantity), -l.total));
                self.add(bucketing.day(e.record.at), lines)
            }
            Event::OrderCancelled(e) => {
                let Some(view) = orders.view(&e.order)? else {
                    return Ok(Err(format!("cancelled order {} is not in the order view", e.order)));
                };
                let lines =
                    view.lines.iter().map(|l| (l.sku.as_deref(), l.name.as_str(), -i64::from(l.quantity), -l.total));
                self.add(view.business_day, lines)
            }
            _ => Ok(Ok(())),
        }
    }
}

/// The best-selling products over `[from, to]` by revenue (then units, then name).
///
/// A year of a busy shop is hundreds of thousands of (day, product) rows, so whole months are
/// read from the month rows, and the scan does the least per row: it adds up units and revenue
/// under the product's key, and reads names only for the products that make the list (from
/// their last row in the range: the name they were last sold under).
pub(crate) fn top(
    txn: &redb::ReadTransaction,
    from: NaiveDate,
    to: NaiveDate,
    limit: usize,
) -> Result<Vec<TopProduct>, crate::Error> {
    let days = txn.open_table(SALES)?;
    let months = txn.open_table(MONTHS)?;
    // Product key → (units, revenue, its last row so far: (in the month table, key)).
    let mut sums: HashMap<String, (i64, Decimal, (bool, i32))> = HashMap::new();
    let mut add = |table: &redb::ReadOnlyTable<(i32, &'static str), &'static [u8]>,
                   in_month: bool,
                   first: i32,
                   last: i32|
     -> Result<(), crate::Error> {
        for entry in table.range((first, "")..(last + 1, ""))? {
            let (key, value) = entry?;
            let (at, product) = key.value();
            let (units, revenue) = decode_amounts(value.value())?;
            match sums.get_mut(product) {
                Some(sum) => {
                    sum.0 = sum.0.saturating_add(units);
                    sum.1 += revenue;
                    sum.2 = (in_month, at);
                }
                None => {
                    sums.insert(product.to_owned(), (units, revenue, (in_month, at)));
                }
            }
        }
        Ok(())
    };
    // In date order, so each product's last row is the latest: the days before the first
    // whole month, whole months, the days after the last one.
    let mut cursor = from;
    while cursor <= to {
        let next_month = month_of(cursor).checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX);
        let month_end = next_month.pred_opt().unwrap_or(next_month);
        if cursor.day() == 1 && month_end <= to {
            add(&months, true, day_key(cursor), day_key(cursor))?;
        } else {
            add(&days, false, day_key(cursor), day_key(month_end.min(to)))?;
        }
        if next_month == NaiveDate::MAX {
            break;
        }
        cursor = next_month;
    }
    let mut ranked: Vec<(String, i64, Decimal, (bool, i32))> = sums
        .into_iter()
        .filter(|(_, (units, revenue, _))| *units != 0 || !revenue.is_zero())
        .map(|(product, (units, revenue, last))| (product, units, revenue, last))
        .collect();
    ranked.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)));
    // The list, and whatever ties with its last one on revenue and units: names break ties.
    let mut cut = ranked.len().min(limit);
    if let Some(last) = cut.checked_sub(1).map(|i| (ranked[i].2, ranked[i].1)) {
        while ranked.get(cut).is_some_and(|r| (r.2, r.1) == last) {
            cut += 1;
        }
    }
    ranked.truncate(cut);
    let mut rows = Vec::with_capacity(ranked.len());
    for (product, units, revenue, (in_month, at)) in ranked {
        let table = if in_month { &months } else { &days };
        let name = match table.get((at, product.as_str()))? {
            Some(v) => decode(v.value())?.2.to_owned(),
            None => String::new(),
        };
        let name = if name.is_empty() { product.strip_prefix("item:").unwrap_or(&product).to_owned() } else { name };
        let sku = (!product.starts_with("item:")).then_some(product);
        rows.push(TopProduct { sku, name, units, revenue });
    }
    rows.sort_by(|a, b| b.revenue.cmp(&a.revenue).then(b.units.cmp(&a.units)).then(a.name.cmp(&b.name)));
    rows.truncate(limit);
    Ok(rows)
}

/// A row's units and revenue, without its name.
fn decode_amounts(bytes: &[u8]) -> Result<(i64, Decimal), crate::Error> {
    Ok((i64_from(bytes.get(..8))?, decimal_from(bytes.get(8..24).unwrap_or_default())?))
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    super::tables::digest_table(&txn.open_table(SALES)?, hasher)?;
    super::tables::digest_table(&txn.open_table(MONTHS)?, hasher)
}
