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
    Cancellation, Conflict, Event, OrderLine, OrderPlaced, OrderStatus, Payment, Refund, Shipment, Totals,
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
    /// A new view from the event that placed the order. `customer` and `image` look up the
    /// customer's current details and a catalog product's image — in the directory when
    /// projecting, in the write store when answering from it (read-your-writes).
    pub(crate) fn placed(
        envelope: &Envelope,
        e: &OrderPlaced,
        bucketing: &Bucketing,
        customer: impl FnOnce(&str) -> Result<Option<CustomerInfo>, crate::Error>,
        mut image: impl FnMut(&str) -> Result<Option<String>, crate::Error>,
    ) -> Result<OrderView, crate::Error> {
        let customer = match &e.customer {
            None => None,
            Some(c) => Some(customer(&c.id)?.unwrap_or_else(|| CustomerInfo {
                id: c.id.clone(),
                name: c.name.clone(),
                email: None,
                phone: None,
                country: None,
            })),
        };
        let mut lines = Vec::with_capacity(e.lines.len());
        for l in &e.lines {
            let image = match (&l.sku, l.from_catalog) {
                (Some(sku), true) => image(sku)?,
                _ => None,
            };
            lines.push(LineView {
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                tax_rate: l.tax_rate,
                total: l.total,
                image,
            });
        }
        Ok(OrderView {
            id: e.order.clone(),
            customer,
            lines,
            totals: e.totals,
            currency: e.currency,
            note: e.note.clone(),
            payment_method: e.payment_method.clone(),
            status: crate::domain::placed_status(e),
            placed_at: e.at,
            business_day: bucketing.day(e.at),
            shipment: None,
            delivered_at: None,
            cancellation: None,
            refunds: Vec::new(),
            refunded: Decimal::ZERO,
            due: e.totals.total - crate::domain::paid_by(&e.payments),
            payments: e.payments.clone(),
            conflicts: Vec::new(),
            resolved: Vec::new(),
            version: envelope.version,
            position: envelope.position,
        })
    }

    /// Folds a later event of the order into the view (shipping, delivery, cancellation,
    /// refund); other events only move its version and position. Refunds and payments are
    /// kept in time order (then by content), so two devices that got another till's events in
    /// a different order hold the same view.
    pub(crate) fn apply(&mut self, envelope: &Envelope) {
        match &envelope.event {
            Event::OrderShipped(e) => {
                self.status = crate::domain::moved_to(self.status, OrderStatus::Shipped);
                let shipment = Shipment { carrier: e.carrier.clone(), tracking: e.tracking.clone(), at: e.at };
                self.shipment = Some(crate::domain::shipped(self.shipment.take(), shipment));
            }
            Event::OrderDelivered(e) => {
                self.status = crate::domain::moved_to(self.status, OrderStatus::Delivered);
                self.delivered_at = Some(crate::domain::delivered(self.delivered_at, e.at));
            }
            Event::OrderCancelled(e) => {
                self.status = OrderStatus::Cancelled;
                self.cancellation = Some(crate::domain::cancelled(self.cancellation.take(), Cancellation::from(e)));
            }
            Event::OrderRefunded(e) => {
                crate::domain::insert_in_order(&mut self.refunds, Refund::from(e), |r| {
                    (r.at, serde_json::to_string(r).ok())
                });
                self.refunded += e.amount;
            }
            Event::OrderPaid(e) => {
                for p in &e.payments {
                    crate::domain::insert_in_order(&mut self.payments, p.clone(), |p| {
                        (p.at, serde_json::to_string(p).ok())
                    });
                }
                self.due -= crate::domain::paid_by(&e.payments);
            }
            Event::OrderConflictsResolved(e) => crate::domain::resolved_into(&mut self.resolved, &e.conflicts),
            _ => {}
        }
        self.conflicts = crate::domain::detect_conflicts(&crate::domain::ConflictFacts {
            cancellation: self.cancellation.as_ref(),
            shipment: self.shipment.as_ref(),
            delivered: self.delivered_at.is_some(),
            refunds: &self.refunds,
            payments: &self.payments,
            resolved: &self.resolved,
        });
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

    /// Whether a cancellation of this order was already folded in before the one being
    /// folded now (two tills cancelled it while apart): the read models reverse the sale once,
    /// as the cancellation kept ([`crate::domain::cancelled`]: the earlier) says.
    pub(crate) fn cancelled_before(&self) -> bool {
        self.cancellation.as_ref().is_some_and(|c| c.repeated > 0)
    }

    /// What the customer has paid so far.
    pub fn paid(&self) -> Decimal {
        crate::domain::paid_by(&self.payments)
    }

    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity)).sum()
    }
}

/// Inserts `item` after every item that sorts at or before it by `key`.
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
    /// the order while apart, and this one is the earlier). The read models after this one move
    /// the reversal from it to the new one.
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

    /// The cancellation the event being folded displaced, see [`Tables::replaced`].
    pub(crate) fn replaced_cancellation(&self) -> Option<&Cancellation> {
        self.replaced.as_ref()
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
