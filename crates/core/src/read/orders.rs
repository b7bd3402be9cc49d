//! Read model: one denormalised document per order (customer details, lines with product
//! images, totals, status, shipping, refunds), and the indexes the order screens read:
//! a customer's orders newest first, orders by status and time, by business day, by time.
//! Owns `order_views`, `orders_by_customer`, `orders_by_status`, `orders_by_day`, `orders_by_time`.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::directory::{self, CustomerInfo};
use super::{Apply, Bucketing, day_key, decode_row, encode_row};
use crate::domain::{
    Cancellation, Conflict, Event, Known, OrderCancelled, OrderLine, OrderPlaced, OrderStatus, Payment, Refund,
    Shipment, Totals,
};
use crate::money::Currency;
use crate::store::Envelope;

const VIEWS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("order_views");
/// (customer id, placed at µs, order id)
const BY_CUSTOMER: TableDefinition<'_, (&str, i64, &str), ()> = TableDefinition::new("orders_by_customer");
/// (status, placed at µs, order id)
const BY_STATUS: TableDefinition<'_, (u8, i64, &str), ()> = TableDefinition::new("orders_by_status");
/// (business day, placed at µs, order id)
const BY_DAY: TableDefinition<'_, (i32, i64, &str), ()> = TableDefinition::new("orders_by_day");
/// (placed at µs, order id)
const BY_TIME: TableDefinition<'_, (i64, &str), ()> = TableDefinition::new("orders_by_time");
/// The orders with conflicts to resolve: (placed at µs, order id).
const CONFLICTS: TableDefinition<'_, (i64, &str), ()> = TableDefinition::new("orders_with_conflicts");

/// An order as the screens show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OrderView {
    pub id: String,
    pub customer: Option<CustomerInfo>,
    pub lines: Vec<LineView>,
    pub totals: Totals,
    pub currency: Currency,
    pub note: Option<String>,
    pub payment_method: Option<String>,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub business_day: NaiveDate,
    pub shipment: Option<Shipment>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancellation: Option<Cancellation>,
    pub refunds: Vec<Refund>,
    #[ts(as = "String")]
    pub refunded: Decimal,
    /// The money taken, when placed and since, by tender.
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// What is still to pay (zero for an order paid in full; an invoice owes its total).
    #[serde(default)]
    #[ts(as = "String")]
    pub due: Decimal,
    /// What tills apart did to it that does not add up, for the owner to resolve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
    /// Conflicts the owner resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<Conflict>,
    /// The order stream's version this view reflects.
    pub version: u64,
    /// The log position of the last event folded in.
    pub position: u64,
}

impl LineView {
    /// The line as the order recorded it (for working out tax again).
    pub(crate) fn as_order_line(&self) -> OrderLine {
        OrderLine {
            from_catalog: self.image.is_some(),
            sku: self.sku.clone(),
            name: self.name.clone(),
            quantity: self.quantity,
            unit_price: self.unit_price,
            tax_rate: self.tax_rate,
            total: self.total,
        }
    }
}

/// One line of an order view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct LineView {
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    #[ts(as = "String")]
    pub unit_price: Decimal,
    #[ts(as = "String")]
    pub tax_rate: Decimal,
    #[ts(as = "String")]
    pub total: Decimal,
    /// The catalog image at the time of sale, for catalog products.
    pub image: Option<String>,
}

impl OrderView {
    /// A new view from the event that placed the order: the domain's order as placed, with
    /// what only reading needs. `customer` and `image` look up the customer's current details
    /// and a catalog product's image — in the directory when projecting, in the write store
    /// when answering from it (read-your-writes).
    pub(crate) fn placed(
        envelope: &Envelope,
        e: &OrderPlaced,
        bucketing: &Bucketing,
        customer: impl FnOnce(&str) -> Result<Option<CustomerInfo>, crate::Error>,
        mut image: impl FnMut(&str) -> Result<Option<String>, crate::Error>,
    ) -> Result<OrderView, crate::Error> {
        let order = crate::domain::placed(e);
        let due = order.due();
        let customer = match order.customer {
            None => None,
            Some(c) => Some(customer(&c.id)?.unwrap_or(CustomerInfo {
                id: c.id,
                name: c.name,
                email: None,
                phone: None,
                country: None,
            })),
        };
        let mut lines = Vec::with_capacity(order.lines.len());
        for l in order.lines {
            let image = match (&l.sku, l.from_catalog) {
                (Some(sku), true) => image(sku)?,
                _ => None,
            };
            let OrderLine { sku, name, quantity, unit_price, tax_rate, total, .. } = l;
            lines.push(LineView { sku, name, quantity, unit_price, tax_rate, total, image });
        }
        Ok(OrderView {
            id: order.id,
            customer,
            lines,
            totals: order.totals,
            currency: order.currency,
            note: order.note,
            payment_method: order.payment_method,
            status: order.status,
            placed_at: order.placed_at,
            business_day: bucketing.day(order.placed_at),
            shipment: order.shipment,
            delivered_at: order.delivered_at,
            cancellation: order.cancellation,
            refunds: order.refunds,
            refunded: Decimal::ZERO,
            due,
            payments: order.payments,
            conflicts: Vec::new(),
            resolved: order.resolved,
            version: envelope.version,
            position: envelope.position,
        })
    }

    /// Folds a later event of the order into the view with the domain's fold
    /// ([`crate::domain::Lifecycle`]); other events only move its version and position.
    pub(crate) fn apply(&mut self, envelope: &Envelope) {
        let mut lifecycle = crate::domain::lifecycle!(self);
        lifecycle.apply(&envelope.event);
        self.conflicts = lifecycle.conflicts();
        self.refunded = self.refunds.iter().map(|r| r.amount).sum();
        self.due = self.totals.total - crate::domain::paid_by(&self.payments);
        self.version = envelope.version;
        self.position = envelope.position;
    }

    /// The order as the till that cancelled it knew it (`knew`, from the cancellation): what
    /// the read models reverse. A refund or payment another till made meanwhile is left out,
    /// whether it arrived here before the cancellation or after; it counts on its own.
    /// `None` (one device): the order as it is.
    pub(crate) fn as_known(&self, knew: Option<&crate::domain::Known>) -> Cow<'_, OrderView> {
        let Some(knew) = knew else { return Cow::Borrowed(self) };
        let mut view = self.clone();
        view.refunds.clone_from(&knew.refunds);
        view.refunded = knew.refunds.iter().map(|r| r.amount).sum();
        view.payments.clone_from(&knew.payments);
        view.due = view.totals.total - crate::domain::paid_by(&view.payments);
        Cow::Owned(view)
    }

    /// What the customer has paid so far.
    pub fn paid(&self) -> Decimal {
        crate::domain::paid_by(&self.payments)
    }

    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity)).sum()
    }
}

/// What an `order.cancelled` asks of the read models after the order view
/// ([`Tables::reversal`]): the sale to take back, once, however many tills cancelled the order.
/// Each sale is the order as the cancelling till knew it ([`OrderView::as_known`]).
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "one lives on the stack while one event is folded")]
pub(crate) enum Reversal<'a> {
    /// The order's first cancellation: take the sale back.
    Sale { sale: Cow<'a, OrderView> },
    /// Two tills cancelled it while apart, and this cancellation displaced the one the read
    /// models followed (the kept one is the later, [`crate::domain::Lifecycle::apply`]): move the
    /// reversal from the order as that one knew it (`was`, made at `was_at`) to this one's.
    Moved { was: Cow<'a, OrderView>, was_at: DateTime<Utc>, now: Cow<'a, OrderView> },
    /// A repeat that the kept cancellation outranks: nothing moves.
    Kept,
}

fn status_key(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::Pending => 0,
        OrderStatus::Shipped => 1,
        OrderStatus::Delivered => 2,
        OrderStatus::Cancelled => 3,
        OrderStatus::Completed => 4,
    }
}

pub(crate) struct Tables<'txn> {
    views: Table<'txn, &'static str, &'static [u8]>,
    /// The views this batch changed, as they are now: read from here by the projections after
    /// this one and by the search index, and each written once by [`Tables::finish`] (a view
    /// is compressed JSON; decoding it again for every reader cost a seventh of a rebuild).
    batch: HashMap<String, OrderView>,
    /// While an `order.cancelled` is folded: the cancellation it displaced (two tills cancelled
    /// the order while apart, and this one is the later). See [`Tables::reversal`].
    replaced: Option<Cancellation>,
    by_customer: Table<'txn, (&'static str, i64, &'static str), ()>,
    by_status: Table<'txn, (u8, i64, &'static str), ()>,
    by_day: Table<'txn, (i32, i64, &'static str), ()>,
    by_time: Table<'txn, (i64, &'static str), ()>,
    conflicts: Table<'txn, (i64, &'static str), ()>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables {
            views: txn.open_table(VIEWS)?,
            batch: HashMap::new(),
            replaced: None,
            by_customer: txn.open_table(BY_CUSTOMER)?,
            by_status: txn.open_table(BY_STATUS)?,
            by_day: txn.open_table(BY_DAY)?,
            by_time: txn.open_table(BY_TIME)?,
            conflicts: txn.open_table(CONFLICTS)?,
        })
    }

    /// An order's view as this batch has it so far.
    pub(crate) fn view(&self, id: &str) -> Result<Option<Cow<'_, OrderView>>, crate::Error> {
        if let Some(view) = self.batch.get(id) {
            return Ok(Some(Cow::Borrowed(view)));
        }
        Ok(self.views.get(id)?.map(|v| decode_row(v.value())).transpose()?.map(Cow::Owned))
    }

    /// The units of `sku` on the orders placed after `after` (their lines as placed; what came
    /// back is the stock model's own movements).
    pub(crate) fn units_placed_after(&self, sku: &str, after: DateTime<Utc>) -> Result<i64, crate::Error> {
        let from = after.timestamp_micros().saturating_add(1);
        let mut ids = Vec::new();
        for entry in self.by_time.range((from, "")..)? {
            ids.push(entry?.0.value().1.to_owned());
        }
        let mut units = 0i64;
        for id in ids {
            let Some(view) = self.view(&id)? else { continue };
            for line in view.lines.iter().filter(|l| l.sku.as_deref() == Some(sku)) {
                units = units.saturating_add(i64::from(line.quantity));
            }
        }
        Ok(units)
    }

    /// What the `order.cancelled` folded just now asks of the read models after this one. The
    /// one place that decides it, so that a cancellation two tills both made is reversed once.
    /// `Err`: the order view does not have the order (the event is a dead letter).
    pub(crate) fn reversal(&self, e: &OrderCancelled) -> Result<Result<Reversal<'_>, String>, crate::Error> {
        let Some(view) = self.view(&e.order)? else {
            return Ok(Err(format!("cancelled order {} is not in the order view", e.order)));
        };
        let known = |knew: Option<&Known>| match &view {
            Cow::Borrowed(view) => view.as_known(knew),
            Cow::Owned(view) => Cow::Owned(view.as_known(knew).into_owned()),
        };
        let repeated = view.cancellation.as_ref().is_some_and(|c| c.repeated > 0);
        Ok(Ok(match (repeated, &self.replaced) {
            (false, _) => Reversal::Sale { sale: known(e.knew.as_ref()) },
            (true, Some(old)) => {
                Reversal::Moved { was: known(old.knew.as_ref()), was_at: old.at, now: known(e.knew.as_ref()) }
            }
            (true, None) => Reversal::Kept,
        }))
    }

    /// An order's view as this batch has it so far, to change and [`Tables::put`] back.
    fn take(&mut self, id: &str) -> Result<Option<OrderView>, crate::Error> {
        if let Some(view) = self.batch.remove(id) {
            return Ok(Some(view));
        }
        self.views.get(id)?.map(|v| decode_row(v.value())).transpose()
    }

    /// Writes the views this batch changed; before the transaction commits. Returns them, for
    /// the search index.
    pub(crate) fn finish(&mut self) -> Result<Vec<OrderView>, crate::Error> {
        let mut views: Vec<OrderView> = self.batch.drain().map(|(_, view)| view).collect();
        views.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        for view in &views {
            self.views.insert(view.id.as_str(), encode_row(view)?.as_slice())?;
        }
        Ok(views)
    }

    /// A customer's order ids, oldest first.
    pub(crate) fn customer_orders(&self, customer: &str) -> Result<Vec<String>, crate::Error> {
        let mut ids = Vec::new();
        for entry in self.by_customer.range((customer, i64::MIN, "")..=(customer, i64::MAX, "\u{10FFFF}"))? {
            ids.push(entry?.0.value().2.to_owned());
        }
        Ok(ids)
    }

    pub(crate) fn apply(
        &mut self,
        envelope: &Envelope,
        bucketing: &Bucketing,
        directory: &directory::Tables<'_>,
    ) -> Result<Apply, crate::Error> {
        let event = &envelope.event;
        self.replaced = None;
        match event {
            Event::OrderPlaced(e) => {
                if self.view(&e.order)?.is_some() {
                    return Ok(Err(format!("order {} is already in the order view", e.order)));
                }
                let view = OrderView::placed(
                    envelope,
                    e,
                    bucketing,
                    |id| directory.customer(id),
                    |sku| Ok(directory.product(sku)?.and_then(|p| p.image)),
                )?;
                self.insert_indexes(&view)?;
                self.put(view);
            }
            Event::OrderShipped(_)
            | Event::OrderDelivered(_)
            | Event::OrderCancelled(_)
            | Event::OrderRefunded(_)
            | Event::OrderPaid(_)
            | Event::OrderConflictsResolved(_) => {
                let crate::domain::StreamId::Order(id) = event.stream() else { return Ok(Ok(())) };
                let Some(mut view) = self.take(&id)? else {
                    return Ok(Err(format!(
                        "{} for order {id}, which the order view does not have",
                        envelope.event_type
                    )));
                };
                let (before, had_conflicts) = (view.status, !view.conflicts.is_empty());
                let cancelled = view.cancellation.clone();
                view.apply(envelope);
                if let (Some(old), Some(kept)) = (cancelled, &view.cancellation)
                    && (&old.at, &old.reason, &old.knew) != (&kept.at, &kept.reason, &kept.knew)
                {
                    self.replaced = Some(old);
                }
                let at = view.placed_at.timestamp_micros();
                if before != view.status {
                    self.by_status.remove((status_key(before), at, view.id.as_str()))?;
                    self.by_status.insert((status_key(view.status), at, view.id.as_str()), ())?;
                }
                match (had_conflicts, view.conflicts.is_empty()) {
                    (false, false) => {
                        self.conflicts.insert((at, view.id.as_str()), ())?;
                    }
                    (true, true) => {
                        self.conflicts.remove((at, view.id.as_str()))?;
                    }
                    _ => {}
                }
                self.put(view);
            }
            Event::CustomerDetailsChanged(e) => {
                let customer = &e.customer;
                // The directory has applied it: the customer as every edit so far leaves them
                // (two tills' edits while apart, latest per field).
                let info = directory.customer(&customer.id)?.unwrap_or_else(|| CustomerInfo::from(customer));
                for id in self.customer_orders(&customer.id)? {
                    let Some(mut view) = self.take(&id)? else { continue };
                    view.customer = Some(info.clone());
                    self.put(view);
                }
            }
            _ => {}
        }
        Ok(Ok(()))
    }

    fn put(&mut self, view: OrderView) {
        self.batch.insert(view.id.clone(), view);
    }

    fn insert_indexes(&mut self, view: &OrderView) -> Result<(), crate::Error> {
        let at = view.placed_at.timestamp_micros();
        let id = view.id.as_str();
        if let Some(c) = &view.customer {
            self.by_customer.insert((c.id.as_str(), at, id), ())?;
        }
        self.by_status.insert((status_key(view.status), at, id), ())?;
        self.by_day.insert((day_key(view.business_day), at, id), ())?;
        self.by_time.insert((at, id), ())?;
        Ok(())
    }
}

/// Read access for queries: one read transaction's view of the order tables.
pub(crate) struct Reader {
    views: redb::ReadOnlyTable<&'static str, &'static [u8]>,
    by_customer: redb::ReadOnlyTable<(&'static str, i64, &'static str), ()>,
    by_status: redb::ReadOnlyTable<(u8, i64, &'static str), ()>,
    by_time: redb::ReadOnlyTable<(i64, &'static str), ()>,
    conflicts: redb::ReadOnlyTable<(i64, &'static str), ()>,
}

impl Reader {
    pub(crate) fn open(txn: &redb::ReadTransaction) -> Result<Reader, crate::Error> {
        Ok(Reader {
            views: txn.open_table(VIEWS)?,
            by_customer: txn.open_table(BY_CUSTOMER)?,
            by_status: txn.open_table(BY_STATUS)?,
            by_time: txn.open_table(BY_TIME)?,
            conflicts: txn.open_table(CONFLICTS)?,
        })
    }

    /// The orders with conflicts to resolve, oldest first.
    pub(crate) fn with_conflicts(&self) -> Result<Vec<OrderView>, crate::Error> {
        let mut ids = Vec::new();
        for entry in self.conflicts.iter()? {
            ids.push(entry?.0.value().1.to_owned());
        }
        self.views(ids)
    }

    pub(crate) fn view(&self, id: &str) -> Result<Option<OrderView>, crate::Error> {
        self.views.get(id)?.map(|v| decode_row(v.value())).transpose()
    }

    fn views(&self, ids: Vec<String>) -> Result<Vec<OrderView>, crate::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(view) = self.view(&id)? {
                out.push(view);
            }
        }
        Ok(out)
    }

    /// A customer's orders, newest first; `offset`/`limit` page through them. Also returns the total.
    pub(crate) fn customer_orders(
        &self,
        customer: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<OrderView>, usize), crate::Error> {
        let range = self.by_customer.range((customer, i64::MIN, "")..=(customer, i64::MAX, "\u{10FFFF}"))?;
        let mut ids = Vec::new();
        let mut total = 0;
        for entry in range.rev() {
            let key = entry?.0;
            if total >= offset && ids.len() < limit {
                ids.push(key.value().2.to_owned());
            }
            total += 1;
        }
        Ok((self.views(ids)?, total))
    }

    /// Orders placed in `[from, to)` (µs), optionally of one status, newest first, paged.
    pub(crate) fn list(
        &self,
        status: Option<OrderStatus>,
        from: i64,
        to: i64,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<OrderView>, usize), crate::Error> {
        let mut ids = Vec::new();
        let mut total = 0;
        let mut take = |id: &str| {
            if total >= offset && ids.len() < limit {
                ids.push(id.to_owned());
            }
            total += 1;
        };
        match status {
            Some(status) => {
                let s = status_key(status);
                for entry in self.by_status.range((s, from, "")..(s, to, ""))?.rev() {
                    take(entry?.0.value().2);
                }
            }
            None => {
                for entry in self.by_time.range((from, "")..(to, ""))?.rev() {
                    take(entry?.0.value().1);
                }
            }
        }
        Ok((self.views(ids)?, total))
    }
}

/// [`digest`] without what depends on the order events arrived in: each view without its
/// log position and stream version.
pub(crate) fn shared_digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    use super::tables::digest_table;
    for entry in txn.open_table(VIEWS)?.iter()? {
        let mut view: OrderView = decode_row(entry?.1.value())?;
        (view.position, view.version) = (0, 0);
        let json = serde_json::to_vec(&view).map_err(|e| crate::Error::Internal(e.to_string()))?;
        hasher.update(&(json.len() as u64).to_le_bytes());
        hasher.update(&json);
    }
    digest_table(&txn.open_table(BY_CUSTOMER)?, hasher)?;
    digest_table(&txn.open_table(BY_STATUS)?, hasher)?;
    digest_table(&txn.open_table(BY_DAY)?, hasher)?;
    digest_table(&txn.open_table(BY_TIME)?, hasher)?;
    digest_table(&txn.open_table(CONFLICTS)?, hasher)
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    use super::tables::digest_table;
    digest_table(&txn.open_table(VIEWS)?, hasher)?;
    digest_table(&txn.open_table(BY_CUSTOMER)?, hasher)?;
    digest_table(&txn.open_table(BY_STATUS)?, hasher)?;
    digest_table(&txn.open_table(BY_DAY)?, hasher)?;
    digest_table(&txn.open_table(BY_TIME)?, hasher)?;
    digest_table(&txn.open_table(CONFLICTS)?, hasher)
}
