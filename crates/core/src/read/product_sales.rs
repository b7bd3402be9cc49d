//! Read model: units and revenue per product per business day, and per month, for top-product
//! lists. Owns `product_sales_days`, `product_sales_months`, `product_numbers`,
//! `product_numbers_next` and `product_names`.
//!
//! Every product gets a small number the first time it sells (`product_numbers`, keyed by the
//! SKU for lines with one and `item:NAME` for ad-hoc items without; in log order, so a rebuild
//! numbers them the same), and its key and the name it was last sold under live once, in
//! `product_names`. A day's sales are one row: every product sold that day, as fixed 28-byte
//! entries (number, units, revenue) sorted by number, so a range is summed into a plain array
//! indexed by number — no strings, no hashing, no B-tree step per product. Every change to a
//! day is made to its month's row too (keyed by the month's first day), so a long range reads
//! its whole months from the month rows and only the days at its ends from the day rows: a year
//! is 12 months and at most 60 days. The periods a batch changes are kept in memory and
//! written once each, at the end of the batch ([`Tables::finish`]).
//!
//! One row per period instead of one per (period, product) took the Online Retail export's
//! year with top products from 7.5 to 1.5–2 ms (BENCHMARKS.md). The price is on the write side:
//! a live order rewrites its day's and month's rows whole (a month of a wholesaler's 2,600
//! products is 73 KB).
//!
//! Revenue is the line totals (before the order discount). Cancelling an order takes its lines
//! off its placement day; a return (credit note) and a refund that names goods take them off
//! their own day (the goods' share of their line total). A refund of an amount only names no
//! goods, so it is not attributed to products.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;
use serde::Serialize;

use super::orders::{self, Reversal};
use super::{Apply, Bucketing, add_count, add_money, day_key, decimal_from, i64_from};
use crate::domain::{Event, refunded_units};
use crate::money::Currency;
use crate::store::Envelope;

/// Day key → the day's entries.
const DAYS: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("product_sales_days");
/// The month's first day's key → the month's entries.
const MONTHS: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("product_sales_months");
const NUMBERS: TableDefinition<'_, &str, u32> = TableDefinition::new("product_numbers");
/// One row (key 0): the number the next new product gets.
const NEXT_NUMBER: TableDefinition<'_, u8, u32> = TableDefinition::new("product_numbers_next");
/// Number → key length (2, LE) ‖ key ‖ the name it was last sold under.
const NAMES: TableDefinition<'_, u32, &[u8]> = TableDefinition::new("product_names");

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// A product's sales over a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct TopProduct {
    /// The SKU, or `None` for an ad-hoc item.
    pub sku: Option<String>,
    /// The name it was last sold under.
    pub name: String,
    pub units: i64,
    #[ts(as = "String")]
    pub revenue: Decimal,
}

fn product_key(sku: Option<&str>, name: &str) -> String {
    match sku {
        Some(sku) => sku.to_owned(),
        None => format!("item:{name}"),
    }
}

/// One product's entry in a period's row: number (4, LE) ‖ units (8, LE) ‖ revenue (16).
const ENTRY: usize = 28;

/// A period's row: its products' entries, sorted by number, without the ones at zero.
type Period = BTreeMap<u32, (i64, Decimal)>;

fn encode(period: &Period) -> Vec<u8> {
    let mut out = Vec::with_capacity(period.len() * ENTRY);
    for (number, (units, revenue)) in period {
        if *units == 0 && revenue.is_zero() {
            continue;
        }
        out.extend_from_slice(&number.to_le_bytes());
        out.extend_from_slice(&units.to_le_bytes());
        out.extend_from_slice(&revenue.serialize());
    }
    out
}

/// The entries of a period's row, in order.
fn entries(bytes: &[u8]) -> Result<impl Iterator<Item = Result<(u32, i64, Decimal), crate::Error>> + '_, crate::Error> {
    if !bytes.len().is_multiple_of(ENTRY) {
        return Err(super::damaged(format!("a period's sales are {} bytes, not whole entries", bytes.len())));
    }
    Ok(bytes.chunks_exact(ENTRY).map(|e| {
        let number = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        Ok((number, i64_from(e.get(4..12))?, decimal_from(&e[12..ENTRY])?))
    }))
}

/// A `product_names` row: key length (2, LE) ‖ key ‖ when it was sold under the name (µs, 8,
/// LE) ‖ name.
fn encode_name(key: &str, name: &Named) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + key.len() + name.1.len());
    out.extend_from_slice(&u16::try_from(key.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&name.0.to_le_bytes());
    out.extend_from_slice(name.1.as_bytes());
    out
}

/// (key, (sold at, name)) of a `product_names` row.
fn decode_name(bytes: &[u8]) -> Result<(&str, Named), crate::Error> {
    let damaged = || super::damaged("a product's name is not readable");
    let len = usize::from(u16::from_le_bytes(bytes.get(..2).and_then(|b| b.try_into().ok()).ok_or_else(damaged)?));
    let key = bytes.get(2..2 + len).and_then(|b| std::str::from_utf8(b).ok()).ok_or_else(damaged)?;
    let at = i64_from(bytes.get(2 + len..10 + len)).map_err(|_| damaged())?;
    let name = bytes.get(10 + len..).and_then(|b| std::str::from_utf8(b).ok()).ok_or_else(damaged)?;
    Ok((key, (at, name.to_owned())))
}

/// The name a product was last sold under, with when (µs): the latest sale by its time, then by
/// name, so two devices that got two tills' sales in either order keep the same one.
type Named = (i64, String);

/// A product's entry in a period: (is a month, day or month key, number).
type RowKey = (bool, i32, u32);

pub(crate) struct Tables<'txn> {
    days: Table<'txn, i32, &'static [u8]>,
    months: Table<'txn, i32, &'static [u8]>,
    numbers: Table<'txn, &'static str, u32>,
    next_number: Table<'txn, u8, u32>,
    names: Table<'txn, u32, &'static [u8]>,
    /// The periods this batch has read or changed, as they are now; each changed one is
    /// written once by [`Tables::finish`] (a batch of Online Retail invoices changes the same
    /// month thousands of times). (is a month, key) → (entries, changed).
    periods: HashMap<(bool, i32), (Period, bool)>,
    /// Products this batch has met: number → (key, the name it was last sold under), all
    /// written (once each) by [`Tables::finish`].
    met: HashMap<u32, (String, Named)>,
    /// Product key → number, for the products this batch has met.
    known: HashMap<String, u32>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables {
            days: txn.open_table(DAYS)?,
            months: txn.open_table(MONTHS)?,
            numbers: txn.open_table(NUMBERS)?,
            next_number: txn.open_table(NEXT_NUMBER)?,
            names: txn.open_table(NAMES)?,
            periods: HashMap::new(),
            met: HashMap::new(),
            known: HashMap::new(),
        })
    }

    /// Writes the batch's changed rows; before the transaction commits.
    pub(crate) fn finish(&mut self) -> Result<(), crate::Error> {
        for ((in_month, at), (period, changed)) in self.periods.drain() {
            if !changed {
                continue;
            }
            let table = if in_month { &mut self.months } else { &mut self.days };
            let row = encode(&period);
            if row.is_empty() {
                table.remove(at)?;
            } else {
                table.insert(at, row.as_slice())?;
            }
        }
        for (number, (key, name)) in self.met.drain() {
            self.names.insert(number, encode_name(&key, &name).as_slice())?;
        }
        self.known.clear();
        Ok(())
    }

    /// A period as the batch has it so far, read from its row the first time.
    fn period(&mut self, in_month: bool, at: i32) -> Result<&mut (Period, bool), crate::Error> {
        use std::collections::hash_map::Entry;
        match self.periods.entry((in_month, at)) {
            Entry::Occupied(found) => Ok(found.into_mut()),
            Entry::Vacant(slot) => {
                let table = if in_month { &self.months } else { &self.days };
                let mut period = Period::new();
                if let Some(row) = table.get(at)? {
                    for entry in entries(row.value())? {
                        let (number, units, revenue) = entry?;
                        period.insert(number, (units, revenue));
                    }
                }
                Ok(slot.insert((period, false)))
            }
        }
    }

    /// A product's entry as the batch has it so far.
    fn row(&mut self, key: RowKey) -> Result<(i64, Decimal), crate::Error> {
        let (period, _) = self.period(key.0, key.1)?;
        Ok(period.get(&key.2).copied().unwrap_or((0, Decimal::ZERO)))
    }

    /// The product's number, given now if it has none (a number is only an identity: one given
    /// for an event that is then parked changes no sum).
    fn number(&mut self, key: &str, name: &str) -> Result<u32, crate::Error> {
        let number = match self.known.get(key) {
            Some(number) => *number,
            None => {
                let found = self.numbers.get(key)?.map(|v| v.value());
                let number = match found {
                    Some(number) => {
                        let stored = self
                            .names
                            .get(number)?
                            .map(|v| v.value().to_vec())
                            .ok_or_else(|| super::damaged(format!("product {key} has a number but no name")))?;
                        let stored = decode_name(&stored)?.1;
                        self.met.insert(number, (key.to_owned(), stored));
                        number
                    }
                    None => {
                        let number = self.next_number.get(0)?.map_or(0, |v| v.value());
                        let next =
                            number.checked_add(1).ok_or_else(|| super::damaged("more than 4,294,967,295 products"))?;
                        self.numbers.insert(key, number)?;
                        self.next_number.insert(0, next)?;
                        self.met.insert(number, (key.to_owned(), (i64::MIN, name.to_owned())));
                        number
                    }
                };
                self.known.insert(key.to_owned(), number);
                number
            }
        };
        Ok(number)
    }

    /// The product was just sold under `name` at `at` (it has been numbered in this batch).
    fn sold_as(&mut self, number: u32, name: &str, at: i64) {
        if !name.is_empty()
            && let Some(row) = self.met.get_mut(&number)
            && (at, name) > (row.1.0, row.1.1.as_str())
        {
            row.1 = (at, name.to_owned());
        }
    }

    /// Adds units and revenue to the (day, product) and (month, product) rows of each line,
    /// all or none: a row that would pass what a read model holds leaves every row as it was.
    /// `sale`: when the lines were sold (not taken back), so they name their products.
    fn add<'a>(
        &mut self,
        day: NaiveDate,
        lines: impl IntoIterator<Item = (Option<&'a str>, &'a str, i64, Decimal)>,
        sale: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Apply, crate::Error> {
        let (day, month) = (day_key(day), day_key(month_of(day)));
        let mut rows: BTreeMap<RowKey, (i64, Decimal)> = BTreeMap::new();
        let mut names = Vec::new();
        for (sku, name, units, revenue) in lines {
            let number = self.number(&product_key(sku, name), name)?;
            names.push((number, name));
            for row in [(false, day, number), (true, month, number)] {
                let (old_units, old_revenue) = match rows.get(&row) {
                    Some(found) => *found,
                    None => self.row(row)?,
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
                rows.insert(row, (units, revenue));
            }
        }
        for ((in_month, at, number), row) in rows {
            let (period, changed) = self.period(in_month, at)?;
            period.insert(number, row);
            *changed = true;
        }
        if let Some(at) = sale {
            for (number, name) in names {
                self.sold_as(number, name, at.timestamp_micros());
            }
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
                self.add(bucketing.day(e.at), lines, Some(e.at))
            }
            Event::ReturnRecorded(e) => {
                let lines = e
                    .record
                    .lines
                    .iter()
                    .map(|l| (l.sku.as_deref(), l.name.as_str(), -i64::from(l.quantity), -l.total));
                self.add(bucketing.day(e.record.at), lines, None)
            }
            Event::OrderCancelled(e) => {
                // What refunds by line already took off (on their own days) stays taken off.
                let left = |known: &orders::OrderView, i: usize, l: &orders::LineView| {
                    (
                        i64::from(l.quantity.saturating_sub(refunded_units(&known.refunds, i))),
                        l.total - refunded_revenue(known, i),
                    )
                };
                match orders.reversal(e)? {
                    Err(why) => Ok(Err(why)),
                    Ok(Reversal::Kept) => Ok(Ok(())),
                    Ok(Reversal::Moved { was, now, .. }) => {
                        let lines = now.lines.iter().enumerate().map(|(i, l)| {
                            let ((was_units, was_revenue), (now_units, now_revenue)) =
                                (left(&was, i, l), left(&now, i, l));
                            (l.sku.as_deref(), l.name.as_str(), was_units - now_units, was_revenue - now_revenue)
                        });
                        self.add(now.business_day, lines, None)
                    }
                    Ok(Reversal::Sale { sale }) => {
                        let lines = sale.lines.iter().enumerate().map(|(i, l)| {
                            let (units, revenue) = left(&sale, i, l);
                            (l.sku.as_deref(), l.name.as_str(), -units, -revenue)
                        });
                        self.add(sale.business_day, lines, None)
                    }
                }
            }
            Event::OrderRefunded(e) if !e.lines.is_empty() => {
                let Some(view) = orders.view(&e.order)? else {
                    return Ok(Err(format!("refunded order {} is not in the order view", e.order)));
                };
                let mut lines = Vec::with_capacity(e.lines.len());
                for back in &e.lines {
                    let Some(l) = view.lines.get(back.line as usize) else {
                        return Ok(Err(format!("order {} has no line {} to refund", e.order, back.line + 1)));
                    };
                    let revenue = line_revenue_back(view.currency, l, back.quantity);
                    lines.push((l.sku.as_deref(), l.name.as_str(), -i64::from(back.quantity), -revenue));
                }
                self.add(bucketing.day(e.at), lines, None)
            }
            _ => Ok(Ok(())),
        }
    }
}

/// The revenue that giving back `quantity` units of `line` takes off its product: its share of
/// the line total, rounded to the minor unit (revenue here is before the order discount).
fn line_revenue_back(currency: Currency, line: &orders::LineView, quantity: u32) -> Decimal {
    if line.quantity == 0 {
        return Decimal::ZERO;
    }
    currency.round(line.total * Decimal::from(quantity) / Decimal::from(line.quantity))
}

/// The revenue refunds by line took off line `index` of `view`, as they took it.
fn refunded_revenue(view: &orders::OrderView, index: usize) -> Decimal {
    let Some(line) = view.lines.get(index) else { return Decimal::ZERO };
    view.refunds
        .iter()
        .flat_map(|r| &r.lines)
        .filter(|l| l.line as usize == index)
        .map(|l| line_revenue_back(view.currency, line, l.quantity))
        .sum()
}

/// The best-selling products over `[from, to]` by revenue (then units, then name).
///
/// Whole months are read from the month rows, the days at either end from the day rows, and
/// summed into an array indexed by product number; names are read for the products on the
/// list only.
pub(crate) fn top(
    txn: &redb::ReadTransaction,
    from: NaiveDate,
    to: NaiveDate,
    limit: usize,
) -> Result<Top, crate::Error> {
    let days = txn.open_table(DAYS)?;
    let months = txn.open_table(MONTHS)?;
    let products = txn.open_table(NEXT_NUMBER)?.get(0)?.map_or(0, |v| v.value());
    // Number → (units, revenue, sold in the range).
    let mut sums: Vec<(i64, Decimal, bool)> = vec![(0, Decimal::ZERO, false); products as usize];
    let mut add = |table: &redb::ReadOnlyTable<i32, &'static [u8]>, first: i32, last: i32| {
        for row in table.range(first..=last)? {
            let (_, row) = row?;
            for entry in entries(row.value())? {
                let (number, units, revenue) = entry?;
                let sum = sums
                    .get_mut(number as usize)
                    .ok_or_else(|| super::damaged("a product's sales name a product with no number"))?;
                *sum = (sum.0.saturating_add(units), sum.1 + revenue, true);
            }
        }
        Ok::<(), crate::Error>(())
    };
    let mut cursor = from;
    while cursor <= to {
        let next_month = month_of(cursor).checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX);
        let month_end = next_month.pred_opt().unwrap_or(next_month);
        if cursor.day() == 1 && month_end <= to {
            add(&months, day_key(cursor), day_key(cursor))?;
        } else {
            add(&days, day_key(cursor), day_key(month_end.min(to)))?;
        }
        if next_month == NaiveDate::MAX {
            break;
        }
        cursor = next_month;
    }
    let ranked: Vec<(u32, i64, Decimal)> = sums
        .into_iter()
        .zip(0u32..)
        .filter(|((units, revenue, sold), _)| *sold && (*units != 0 || !revenue.is_zero()))
        .map(|((units, revenue, _), number)| (number, units, revenue))
        .collect();
    // Postage and fees are not products anyone "sells best": they go to their own list.
    let numbers = txn.open_table(NUMBERS)?;
    let mut excluded = std::collections::HashSet::new();
    for sku in super::directory::not_merchandise(txn)? {
        if let Some(number) = numbers.get(sku.as_str())? {
            excluded.insert(number.value());
        }
    }
    let (left_out, mut ranked): (Vec<_>, Vec<_>) = ranked.into_iter().partition(|r| excluded.contains(&r.0));
    ranked.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)));
    // The list, and whatever ties with its last one on revenue and units: names break ties.
    let mut cut = ranked.len().min(limit);
    if let Some(last) = cut.checked_sub(1).map(|i| (ranked[i].2, ranked[i].1)) {
        while ranked.get(cut).is_some_and(|r| (r.2, r.1) == last) {
            cut += 1;
        }
    }
    ranked.truncate(cut);
    let names = txn.open_table(NAMES)?;
    let named = |list: Vec<(u32, i64, Decimal)>| -> Result<Vec<TopProduct>, crate::Error> {
        let mut rows = Vec::with_capacity(list.len());
        for (number, units, revenue) in list {
            let stored = names.get(number)?.ok_or_else(|| super::damaged(format!("product {number} has no name")))?;
            let (key, (_, name)) = decode_name(stored.value())?;
            let name = name.as_str();
            let name = if name.is_empty() { key.strip_prefix("item:").unwrap_or(key) } else { name };
            let sku = (!key.starts_with("item:")).then(|| key.to_owned());
            rows.push(TopProduct { sku, name: name.to_owned(), units, revenue });
        }
        rows.sort_by(|a, b| b.revenue.cmp(&a.revenue).then(b.units.cmp(&a.units)).then(a.name.cmp(&b.name)));
        Ok(rows)
    };
    let mut rows = named(ranked)?;
    rows.truncate(limit);
    Ok(Top { products: rows, not_merchandise: named(left_out)? })
}

/// The best sellers of a range, and what sold that is not merchandise (postage, fees).
pub(crate) struct Top {
    pub products: Vec<TopProduct>,
    pub not_merchandise: Vec<TopProduct>,
}

/// [`digest`] without what depends on the order events arrived in (the dense product
/// numbers): each period's sales by product key and name.
pub(crate) fn shared_digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    let mut names = std::collections::HashMap::new();
    for entry in txn.open_table(NAMES)?.iter()? {
        let (number, name) = entry?;
        let (key, (_, name)) = decode_name(name.value())?;
        names.insert(number.value(), format!("{key}\0{name}"));
    }
    for table in [DAYS, MONTHS] {
        for row in txn.open_table(table)?.iter()? {
            let (period, bytes) = row?;
            let mut sold = Vec::new();
            for entry in entries(bytes.value())? {
                let (number, units, revenue) = entry?;
                let name = names.get(&number).map_or("?", String::as_str);
                sold.push(format!("{name}\0{units}\0{}", revenue.normalize()));
            }
            sold.sort_unstable();
            hasher.update(format!("{}:{}\n", period.value(), sold.join("\n")).as_bytes());
        }
    }
    Ok(())
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    use super::tables::digest_table;
    digest_table(&txn.open_table(DAYS)?, hasher)?;
    digest_table(&txn.open_table(MONTHS)?, hasher)?;
    digest_table(&txn.open_table(NUMBERS)?, hasher)?;
    digest_table(&txn.open_table(NEXT_NUMBER)?, hasher)?;
    digest_table(&txn.open_table(NAMES)?, hasher)
}
