//! Read model: the business day's cash-up (a Z report). Money taken and given back by tender,
//! change handed out, the day's sales (orders, items, discounts, tax by rate), cancellations,
//! the first and last sale, and the cash the drawer should hold. Owns `cashup_days`.
//!
//! Money counts on the day it moved: a payment on the day it was taken (an invoice paid a
//! week later counts then), a refund on its day, a cancellation of a paid order on the day of
//! the cancellation (what was paid and not yet refunded goes back by the tenders that paid
//! it). Sales count on the order's business day. A refund recorded before refunds said their
//! tender (`order.refunded` v1, v2) went back by the order's main tender; a return (a credit
//! note) names none and counts as `other`.
//!
//! The drawer goes by time, not by the order events arrived in (another till's arrive late):
//! every cash movement of a day is kept summed by its moment (`cashup_cash`, day and
//! microsecond → cash in or out), so a count's expected cash is the float in effect then plus
//! the cash that moved up to its moment, whatever arrived before or after it; a float set
//! again replaces the earlier one by time, and counts are listed by time. The expected cash
//! and the difference of each count are worked out when the cash-up is read.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::orders::{self, OrderView, Reversal};
use super::{Apply, Bucketing, add_money, day_key, decimal_from, decode_row, encode_row};
use crate::domain::{DrawerMove, Event, OrderLine, Payment, Tender, main_tender, tax_by_rate};
use crate::money::Currency;
use crate::store::Envelope;

const DAYS: TableDefinition<'_, i32, &[u8]> = TableDefinition::new("cashup_days");
/// (business day, microsecond) → the cash that went into (positive) or out of the drawer then:
/// cash taken, given back, taken out.
const CASH: TableDefinition<'_, (i32, i64), &[u8]> = TableDefinition::new("cashup_cash");

/// One business day's row, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Row {
    takings: BTreeMap<Tender, Decimal>,
    refunds: BTreeMap<Tender, Decimal>,
    change: Decimal,
    orders: i64,
    items: i64,
    sales: Decimal,
    discounts: Decimal,
    /// Tax by rate (the rate as a decimal fraction, normalised: "0.2").
    tax: BTreeMap<String, Decimal>,
    cancelled: i64,
    first_sale: Option<DateTime<Utc>>,
    last_sale: Option<DateTime<Utc>>,
    /// The floats set, by time (then amount): the latest is the day's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    floats: Vec<(DateTime<Utc>, Decimal)>,
    #[serde(default)]
    removed: Decimal,
    /// The drawer's counts, by time (then amount).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    counts: Vec<(DateTime<Utc>, Decimal)>,
}

impl Row {
    /// The float in effect at `at` (the latest set at or before it).
    fn float_at(&self, at: DateTime<Utc>) -> Decimal {
        self.floats.iter().rev().find(|(set, _)| *set <= at).map_or(Decimal::ZERO, |(_, amount)| *amount)
    }

    /// The day's float: the latest set.
    fn float(&self) -> Decimal {
        self.floats.last().map_or(Decimal::ZERO, |(_, amount)| *amount)
    }

    /// What the drawer should hold: float + cash taken − cash given back − cash removed.
    fn cash_expected(&self) -> Decimal {
        let cash = |map: &BTreeMap<Tender, Decimal>| map.get(&Tender::Cash).copied().unwrap_or_default();
        self.float() + cash(&self.takings) - cash(&self.refunds) - self.removed
    }
}

/// A count of the drawer, with what the day's movements said it should hold at that moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct DrawerCount {
    pub at: DateTime<Utc>,
    #[ts(as = "String")]
    pub counted: Decimal,
    #[ts(as = "String")]
    pub expected: Decimal,
    /// Counted less expected: over (positive) or short (negative).
    #[ts(as = "String")]
    pub difference: Decimal,
}

/// Money by one tender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct TenderAmount {
    pub tender: Tender,
    #[ts(as = "String")]
    pub amount: Decimal,
}

/// Tax at one rate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct TaxAtRate {
    /// The rate as a fraction: 0.2 for 20 %.
    #[ts(as = "String")]
    pub rate: Decimal,
    #[ts(as = "String")]
    pub tax: Decimal,
}

/// A business day's cash-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CashUp {
    pub day: NaiveDate,
    pub currency: Option<Currency>,
    /// Money taken on the day, by tender (every tender listed, cash first).
    pub takings: Vec<TenderAmount>,
    /// Money given back on the day (refunds, and cancelled orders' payments), by tender.
    pub refunds: Vec<TenderAmount>,
    /// Takings less refunds, by tender.
    pub net: Vec<TenderAmount>,
    #[ts(as = "String")]
    pub total_takings: Decimal,
    #[ts(as = "String")]
    pub total_refunds: Decimal,
    /// Cash handed back as change (already left out of the cash taken).
    #[ts(as = "String")]
    pub change_given: Decimal,
    /// Orders placed on the day (not cancelled since), their units and what they came to.
    pub orders: i64,
    pub items: i64,
    #[ts(as = "String")]
    pub sales: Decimal,
    #[ts(as = "String")]
    pub discounts: Decimal,
    pub tax: Vec<TaxAtRate>,
    /// Orders cancelled on the day.
    pub cancelled: i64,
    pub first_sale: Option<DateTime<Utc>>,
    pub last_sale: Option<DateTime<Utc>>,
    /// The float the drawer opened with.
    #[ts(as = "String")]
    pub float: Decimal,
    /// Cash taken out of the drawer (banked, paid out).
    #[ts(as = "String")]
    pub cash_removed: Decimal,
    /// What the drawer should hold now: float + cash taken − cash given back − cash removed.
    #[ts(as = "String")]
    pub cash_expected: Decimal,
    /// The drawer's counts, oldest first; the last is the day's.
    pub counts: Vec<DrawerCount>,
}

impl CashUp {
    /// `cash`: the day's cash movements by moment, in time order.
    fn from_row(day: NaiveDate, row: Row, cash: &[(i64, Decimal)], currency: Option<Currency>) -> CashUp {
        let round = |amount: Decimal| currency.map_or(amount, |c| c.round(amount));
        let by = |map: &BTreeMap<Tender, Decimal>| -> Vec<TenderAmount> {
            Tender::ALL
                .iter()
                .map(|&tender| TenderAmount { tender, amount: round(map.get(&tender).copied().unwrap_or_default()) })
                .collect()
        };
        let takings = by(&row.takings);
        let refunds = by(&row.refunds);
        let net = takings
            .iter()
            .zip(&refunds)
            .map(|(t, r)| TenderAmount { tender: t.tender, amount: t.amount - r.amount })
            .collect();
        let cash_expected = round(row.cash_expected());
        let mut tax: Vec<TaxAtRate> = row
            .tax
            .iter()
            .filter_map(|(rate, tax)| Some(TaxAtRate { rate: rate.parse().ok()?, tax: round(*tax) }))
            .collect();
        tax.sort_by_key(|t| std::cmp::Reverse(t.rate));
        CashUp {
            day,
            currency,
            total_takings: takings.iter().map(|t| t.amount).sum(),
            total_refunds: refunds.iter().map(|t| t.amount).sum(),
            takings,
            refunds,
            net,
            change_given: round(row.change),
            orders: row.orders,
            items: row.items,
            sales: round(row.sales),
            discounts: round(row.discounts),
            tax,
            cancelled: row.cancelled,
            first_sale: row.first_sale,
            last_sale: row.last_sale,
            float: round(row.float()),
            cash_removed: round(row.removed),
            cash_expected,
            counts: row
                .counts
                .iter()
                .map(|&(at, counted)| {
                    let until = at.timestamp_micros();
                    let moved: Decimal = cash.iter().take_while(|(moment, _)| *moment <= until).map(|(_, c)| *c).sum();
                    let expected = round(row.float_at(at) + moved);
                    DrawerCount { at, counted, expected, difference: counted - expected }
                })
                .collect(),
        }
    }
}

pub(crate) struct Tables<'txn> {
    days: Table<'txn, i32, &'static [u8]>,
    cash: Table<'txn, (i32, i64), &'static [u8]>,
    /// The days this batch changed, each written once by [`Tables::finish`].
    batch: HashMap<NaiveDate, Row>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables { days: txn.open_table(DAYS)?, cash: txn.open_table(CASH)?, batch: HashMap::new() })
    }

    /// Cash into (positive) or out of the drawer on `day` at `at`.
    fn cash_moved(&mut self, day: NaiveDate, at: DateTime<Utc>, amount: Decimal) -> Result<Apply, crate::Error> {
        if amount.is_zero() {
            return Ok(Ok(()));
        }
        let key = (day_key(day), at.timestamp_micros());
        let before = self.cash.get(key)?.map(|v| decimal_from(v.value())).transpose()?.unwrap_or_default();
        let after = match add_money(before, amount, "the drawer's cash") {
            Ok(after) => after,
            Err(e) => return Ok(Err(e)),
        };
        // Back to nothing (a cancellation another replaced): no row, as on a device without it.
        if after.is_zero() {
            self.cash.remove(key)?;
        } else {
            self.cash.insert(key, after.serialize().as_slice())?;
        }
        Ok(Ok(()))
    }

    fn get(&self, day: NaiveDate) -> Result<Row, crate::Error> {
        if let Some(row) = self.batch.get(&day) {
            return Ok(row.clone());
        }
        Ok(self.days.get(day_key(day))?.map(|v| decode_row(v.value())).transpose()?.unwrap_or_default())
    }

    fn put(&mut self, day: NaiveDate, row: &Row) -> Result<(), crate::Error> {
        self.batch.insert(day, row.clone());
        Ok(())
    }

    /// Writes the days this batch changed; before the transaction commits.
    pub(crate) fn finish(&mut self) -> Result<(), crate::Error> {
        for (day, row) in self.batch.drain() {
            // A day back to nothing (a cancellation moved to another day) holds no row, as on a
            // device that never had it.
            if row == Row::default() {
                self.days.remove(day_key(day))?;
            } else {
                self.days.insert(day_key(day), encode_row(&row)?.as_slice())?;
            }
        }
        Ok(())
    }

    /// Adds payments to the days they were taken on.
    fn take(&mut self, payments: &[Payment], bucketing: &Bucketing) -> Result<Apply, crate::Error> {
        for p in payments {
            let day = bucketing.day(p.at);
            let mut row = self.get(day)?;
            let sum = row.takings.entry(p.tender).or_default();
            match (
                add_money(*sum, p.amount, "the day's takings"),
                add_money(row.change, p.change(), "the day's change"),
            ) {
                (Ok(taken), Ok(change)) => (*sum, row.change) = (taken, change),
                (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
            }
            self.put(day, &row)?;
            if p.tender == Tender::Cash
                && let Err(e) = self.cash_moved(day, p.at, p.amount)?
            {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Money given back on `day` at `at` by `tender` (negative: taken out again).
    fn give_back(
        &mut self,
        day: NaiveDate,
        at: DateTime<Utc>,
        tender: Tender,
        amount: Decimal,
    ) -> Result<Apply, crate::Error> {
        if tender == Tender::Cash
            && let Err(e) = self.cash_moved(day, at, -amount)?
        {
            return Ok(Err(e));
        }
        let mut row = self.get(day)?;
        let sum = row.refunds.entry(tender).or_default();
        match add_money(*sum, amount, "the day's refunds") {
            Ok(given) => *sum = given,
            Err(e) => return Ok(Err(e)),
        }
        // Taken out again to nothing (a cancellation another replaced): as if never given.
        row.refunds.retain(|_, given| !given.is_zero());
        self.put(day, &row)?;
        Ok(Ok(()))
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
                let mut row = self.get(day)?;
                let items = e.lines.iter().map(|l| i64::from(l.quantity)).sum::<i64>();
                row.orders += 1;
                row.items = row.items.saturating_add(items);
                match (
                    add_money(row.sales, e.totals.total, "the day's sales"),
                    add_money(row.discounts, e.totals.discount, "the day's discounts"),
                ) {
                    (Ok(sales), Ok(discounts)) => (row.sales, row.discounts) = (sales, discounts),
                    (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                }
                for (rate, tax) in tax_by_rate(&e.lines, &e.totals, e.currency) {
                    let sum = row.tax.entry(rate).or_default();
                    match add_money(*sum, tax, "the day's tax") {
                        Ok(total) => *sum = total,
                        Err(e) => return Ok(Err(e)),
                    }
                }
                row.first_sale = Some(row.first_sale.map_or(e.at, |t| t.min(e.at)));
                row.last_sale = Some(row.last_sale.map_or(e.at, |t| t.max(e.at)));
                self.put(day, &row)?;
                self.take(&e.payments, bucketing)
            }
            Event::OrderPaid(e) => self.take(&e.payments, bucketing),
            Event::OrderRefunded(e) => {
                let tender = match e.tender {
                    Some(tender) => tender,
                    None => self.main_tender(orders, &e.order)?,
                };
                self.give_back(bucketing.day(e.at), e.at, tender, e.amount)
            }
            Event::ReturnRecorded(e) => {
                self.give_back(bucketing.day(e.record.at), e.record.at, Tender::Other, e.record.amount)
            }
            Event::DrawerRecorded(e) => {
                let mut row = self.get(e.day)?;
                let by_time = |list: &mut Vec<(DateTime<Utc>, Decimal)>| {
                    let at = list.partition_point(|entry| *entry <= (e.at, e.amount));
                    list.insert(at, (e.at, e.amount));
                };
                match e.kind {
                    DrawerMove::Float => by_time(&mut row.floats),
                    DrawerMove::Removed => match add_money(row.removed, e.amount, "the day's cash removed") {
                        Ok(removed) => row.removed = removed,
                        Err(e) => return Ok(Err(e)),
                    },
                    DrawerMove::Counted => by_time(&mut row.counts),
                }
                self.put(e.day, &row)?;
                if e.kind == DrawerMove::Removed {
                    return self.cash_moved(e.day, e.at, -e.amount);
                }
                Ok(Ok(()))
            }
            Event::OrderCancelled(e) => {
                let view = match orders.reversal(e)? {
                    Err(why) => return Ok(Err(why)),
                    Ok(Reversal::Kept) => return Ok(Ok(())),
                    // The sale left its day once; the money goes back on the day of the
                    // cancellation kept, as much as that till knew was paid.
                    Ok(Reversal::Moved { was, was_at, now }) => {
                        if let Err(e) = self.money_back(&was, was_at, bucketing, -1)? {
                            return Ok(Err(e));
                        }
                        return self.money_back(&now, e.at, bucketing, 1);
                    }
                    Ok(Reversal::Sale { sale }) => sale,
                };
                // The sale leaves the day it was placed on; the money goes back on this one.
                let placed = view.business_day;
                let mut row = self.get(placed)?;
                row.orders -= 1;
                row.items -= i64::try_from(view.units()).unwrap_or(i64::MAX);
                match (
                    add_money(row.sales, -view.totals.total, "the day's sales"),
                    add_money(row.discounts, -view.totals.discount, "the day's discounts"),
                ) {
                    (Ok(sales), Ok(discounts)) => (row.sales, row.discounts) = (sales, discounts),
                    (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                }
                let lines: Vec<OrderLine> = view.lines.iter().map(|l| l.as_order_line()).collect();
                for (rate, tax) in tax_by_rate(&lines, &view.totals, view.currency) {
                    *row.tax.entry(rate).or_default() -= tax;
                }
                row.tax.retain(|_, tax| !tax.is_zero());
                self.put(placed, &row)?;
                self.money_back(&view, e.at, bucketing, 1)
            }
            _ => Ok(Ok(())),
        }
    }

    /// A cancellation at `at`: counted on its day, and what each tender paid and did not have
    /// back yet goes back (`sign` -1: taken out again, for a cancellation another replaced).
    fn money_back(
        &mut self,
        view: &OrderView,
        at: DateTime<Utc>,
        bucketing: &Bucketing,
        sign: i64,
    ) -> Result<Apply, crate::Error> {
        let day = bucketing.day(at);
        let mut row = self.get(day)?;
        row.cancelled += sign;
        self.put(day, &row)?;
        for (tender, amount) in kept_by_tender(view) {
            if let Err(e) = self.give_back(day, at, tender, amount * Decimal::from(sign))? {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    fn main_tender(&self, orders: &orders::Tables<'_>, order: &str) -> Result<Tender, crate::Error> {
        Ok(orders.view(order)?.and_then(|v| main_tender(&v.payments)).unwrap_or(Tender::Other))
    }
}

/// What the order's tenders paid and have not had back: what a cancellation returns, by tender.
fn kept_by_tender(view: &OrderView) -> BTreeMap<Tender, Decimal> {
    let mut kept: BTreeMap<Tender, Decimal> = BTreeMap::new();
    for p in &view.payments {
        *kept.entry(p.tender).or_default() += p.amount;
    }
    let main = main_tender(&view.payments).unwrap_or(Tender::Other);
    for r in &view.refunds {
        *kept.entry(r.tender.unwrap_or(main)).or_default() -= r.amount;
    }
    kept.retain(|_, amount| *amount > Decimal::ZERO);
    kept
}

/// A day's cash-up from the read store.
pub(crate) fn day(
    txn: &redb::ReadTransaction,
    day: NaiveDate,
    currency: Option<Currency>,
) -> Result<CashUp, crate::Error> {
    let table = txn.open_table(DAYS)?;
    let row = table.get(day_key(day))?.map(|v| decode_row(v.value())).transpose()?.unwrap_or_default();
    let key = day_key(day);
    let mut cash = Vec::new();
    for entry in txn.open_table(CASH)?.range((key, i64::MIN)..=(key, i64::MAX))? {
        let (moment, amount) = entry?;
        cash.push((moment.value().1, decimal_from(amount.value())?));
    }
    Ok(CashUp::from_row(day, row, &cash, currency))
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    super::tables::digest_table(&txn.open_table(DAYS)?, hasher)?;
    super::tables::digest_table(&txn.open_table(CASH)?, hasher)
}
