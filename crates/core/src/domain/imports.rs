//! Imports: another system's invoices and credit notes, each brought in by one command that
//! carries everything the file says about it — the customer as the file names them, the
//! lines, and what happened to it afterwards (shipped, delivered, refunded, cancelled). One
//! command per document makes each all or nothing, and lets the rules decide its number and
//! its customer inside the writer's transaction, where no order taken at the counter
//! meanwhile can slip in between a check and a write.
//!
//! **Numbers.** A document keeps its number from the file when the shop does not use it yet.
//! When the number is in use:
//! - by an order (or return) from another source that is the same sale — same moment, same
//!   lines, same totals; under its number or one an import gave it (`N-2`, …) — the document
//!   is *already in the shop* (a second, overlapping export,
//!   or the shop's own export imported back): nothing is recorded again, except what the file
//!   adds to it (a refund, a shipment, a delivery or a cancellation it does not have yet);
//! - otherwise it is recorded under the first free `N-2`, `N-3`, …, with a note saying why: a
//!   counter order took the number, or the file kept the document's lines apart.
//!
//! **Customers.** A customer with an id in the file is the shop's customer of that id, or a
//! new one with that id. Without an id, the customer is found by email, else by name, both
//! compared with case and runs of spaces folded ([`customer_key`]); the first match by id
//! order wins. A customer not found is registered, numbered by the shop's own sequence; their
//! registration comes first among the command's events (read models look the customer up
//! when an order is placed).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::orders::{self, LineInput, Order, OrderLine, OrderPlaced, check_lines};
use super::returns::{Return, ReturnRecorded};
use super::{
    CancelOrder, Customer, CustomerRef, CustomerRegistered, DeliverOrder, Event, RefundOrder, Rejection, ShipOrder,
    Shop, State, text,
};
use crate::money::MoneyInput;

/// Where an imported document or customer came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct Source {
    /// The import: the first 16 hex digits of the BLAKE3 hash of the file.
    pub import: String,
    /// Its number (a customer: its id or key) in that file.
    pub number: String,
}

/// A customer as an export names them: any of id, name and email.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedCustomer {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
}

impl ImportedCustomer {
    /// How this customer is looked up when the file gives no id: by email, else by name.
    pub fn key(&self) -> Option<String> {
        if self.id.is_some() {
            return None;
        }
        let email = self.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let name = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        match (email, name) {
            (Some(email), _) => Some(format!("e:{}", fold(email))),
            (None, Some(name)) => Some(format!("n:{}", fold(name))),
            (None, None) => None,
        }
    }
}

/// The keys a customer can be found by: `e:` their email, `n:` their name, folded.
pub fn customer_keys(customer: &Customer) -> Vec<String> {
    let mut keys = vec![format!("n:{}", fold(&customer.name))];
    keys.extend(customer.email.as_deref().map(|e| format!("e:{}", fold(e))));
    keys
}

/// Lower case, with every run of white space made one space and the ends trimmed.
fn fold(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether `customer` is the one `key` looks for.
fn matches_key(customer: &Customer, key: &str) -> bool {
    customer_keys(customer).iter().any(|k| k == key)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedShipment {
    pub carrier: String,
    pub tracking: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedRefund {
    pub amount: MoneyInput,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedCancellation {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Bring in one sale from another system's export, with what happened to it afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOrder {
    pub source: Source,
    pub customer: Option<ImportedCustomer>,
    pub lines: Vec<LineInput>,
    /// The order discount, as an amount.
    pub discount: Option<MoneyInput>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    pub shipment: Option<ImportedShipment>,
    /// When it was delivered (it must have a shipment).
    pub delivered_at: Option<DateTime<Utc>>,
    /// Money given back, in the order the file gives it.
    pub refunds: Vec<ImportedRefund>,
    pub cancellation: Option<ImportedCancellation>,
    /// The file says the order is still open (not yet fulfilled): it is placed here as one
    /// to work on. Otherwise an imported order is closed business, "completed".
    #[serde(default)]
    pub open: bool,
    /// How it was paid, as the file says.
    #[serde(default)]
    pub payment_method: Option<String>,
}

/// Bring in one credit note (goods and money back) from another system's export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReturn {
    pub source: Source,
    pub customer: Option<ImportedCustomer>,
    /// What came back, with positive quantities.
    pub lines: Vec<LineInput>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The most `N-k` numbers tried for a document whose number is taken.
const MAX_SUFFIX: u32 = 1000;

pub(super) fn import_order(state: &State, shop: &Shop, cmd: &ImportOrder) -> Result<Vec<Event>, Rejection> {
    let number = text::id("order number", &cmd.source.number)?;
    let (mut events, customers) = customer(state, cmd.customer.as_ref(), &cmd.source)?;
    let customer_id = customers.as_ref().map(|c| c.id.clone());
    let mut known = state.customers.clone();
    if let Some(c) = customers {
        known.insert(c.id.clone(), c);
    }
    let discount = cmd.discount.clone().map(super::DiscountInput::Amount);
    let place = |id: String, note: Option<String>| {
        orders::place(
            orders::PlaceContext {
                shop,
                products: &state.products,
                customers: &known,
                existing: None,
                // Every imported document names its number.
                next_id: String::new(),
                now: state.now,
            },
            &super::PlaceOrder {
                order: Some(id),
                customer: customer_id.clone(),
                lines: cmd.lines.clone(),
                discount: discount.clone(),
                note,
                payment_method: cmd.payment_method.clone(),
                at: Some(cmd.at),
                payments: Vec::new(),
                invoice: false,
            },
        )
    };

    let (id, note) = match state.orders.get(&number) {
        None => (number.clone(), cmd.note.clone()),
        Some(existing) => {
            let placed = one_placed(place(number.clone(), cmd.note.clone())?)?;
            // The same sale from another source, under its number or one an import gave it.
            let same = taken(&number, |id| state.orders.get(id))
                .find(|o| o.source.as_ref().is_none_or(|s| s.import != cmd.source.import) && same_sale(o, &placed));
            if let Some(existing) = same {
                return follow_up(shop, existing, cmd, state.till.is_some(), state.now);
            }
            let why = if existing.source.as_ref().is_some_and(|s| s.import == cmd.source.import) {
                format!("continues invoice {number}: its lines were apart in the imported file")
            } else {
                format!("invoice {number} in the imported file; the number {number} was already used here")
            };
            let free = free_id(&number, |id| state.orders.contains_key(id))?;
            (free, Some(join_note(cmd.note.as_deref(), &why)))
        }
    };
    let mut placed = one_placed(place(id, note)?)?;
    placed.source = Some(cmd.source.clone());
    placed.open = cmd.open;
    let mut order = orders::placed(&placed);
    events.push(Event::OrderPlaced(placed));
    events.extend(lifecycle(shop, &mut order, cmd, state.till.is_some(), state.now)?);
    Ok(events)
}

/// The shipment, delivery, refunds and cancellation the file gives, checked by the same rules
/// as at the counter, applied to `order` as they go.
/// `joined`: the shop has several tills (see [`orders::cancel`]).
fn lifecycle(
    shop: &Shop,
    order: &mut Order,
    cmd: &ImportOrder,
    joined: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let mut events = Vec::new();
    let mut step = |order: &mut Order, new: Vec<Event>| {
        for e in &new {
            order.lifecycle().apply(e);
        }
        events.extend(new);
    };
    if let Some(s) = &cmd.shipment {
        let new = orders::ship(
            Some(order),
            &ShipOrder {
                order: order.id.clone(),
                carrier: s.carrier.clone(),
                tracking: s.tracking.clone(),
                at: Some(s.at),
            },
            now,
        )?;
        step(order, new);
    }
    if let Some(at) = cmd.delivered_at {
        let new = orders::deliver(Some(order), &DeliverOrder { order: order.id.clone(), at: Some(at) }, now)?;
        step(order, new);
    }
    for r in &cmd.refunds {
        let new = orders::refund(
            shop,
            Some(order),
            &RefundOrder {
                order: order.id.clone(),
                amount: Some(r.amount.clone()),
                lines: Vec::new(),
                reason: r.reason.clone(),
                at: Some(r.at),
                tender: None,
                restock: false,
            },
            now,
        )?;
        step(order, new);
    }
    if let Some(c) = &cmd.cancellation {
        let new = orders::cancel(
            Some(order),
            &CancelOrder { order: order.id.clone(), reason: c.reason.clone(), at: Some(c.at) },
            joined,
            now,
        )?;
        step(order, new);
    }
    Ok(events)
}

/// For a sale already in the shop: the parts of the file's story it does not have yet.
fn follow_up(
    shop: &Shop,
    existing: &Order,
    cmd: &ImportOrder,
    joined: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let mut missing = cmd.clone();
    if existing.shipment.is_some() {
        missing.shipment = None;
    }
    if existing.delivered_at.is_some() {
        missing.delivered_at = None;
    }
    if existing.cancellation.is_some() {
        missing.cancellation = None;
    }
    let mut seen = existing.refunds.clone();
    missing.refunds.retain(|r| {
        let amount = r.amount.amount;
        match seen.iter().position(|s| s.at == r.at && shop.currency.round(amount) == s.amount) {
            Some(i) => {
                seen.remove(i);
                false
            }
            None => true,
        }
    });
    lifecycle(shop, &mut existing.clone(), &missing, joined, now)
}

/// Two placements of the same sale: same moment, same lines, same totals. Numbers and
/// customers are left out (another system numbers them its own way).
fn same_sale(existing: &Order, placed: &OrderPlaced) -> bool {
    let lines = |lines: &[OrderLine]| {
        lines.iter().map(|l| (l.sku.clone(), l.name.clone(), l.quantity, l.total)).collect::<Vec<_>>()
    };
    existing.placed_at == placed.at
        && existing.totals == placed.totals
        && lines(&existing.lines) == lines(&placed.lines)
}

fn one_placed(events: Vec<Event>) -> Result<OrderPlaced, Rejection> {
    match events.into_iter().next() {
        Some(Event::OrderPlaced(placed)) => Ok(placed),
        _ => Err(Rejection::NoLines),
    }
}

fn join_note(note: Option<&str>, why: &str) -> String {
    match note {
        Some(note) if !note.trim().is_empty() => format!("{}\n({why})", note.trim()),
        _ => format!("({why})"),
    }
}

/// What is recorded under `base`, `base-2`, `base-3`, … up to the first free number.
fn taken<'a, T: 'a>(base: &'a str, get: impl Fn(&str) -> Option<&'a T> + 'a) -> impl Iterator<Item = &'a T> + 'a {
    std::iter::once(base.to_owned())
        .chain((2..=MAX_SUFFIX).map(move |k| suffixed(base, k)))
        .map_while(move |id| get(&id))
}

/// The first of `base-2`, `base-3`, … that `taken` says is free.
fn free_id(base: &str, taken: impl Fn(&str) -> bool) -> Result<String, Rejection> {
    for k in 2..=MAX_SUFFIX {
        let id = suffixed(base, k);
        if !taken(&id) {
            return text::id("order number", &id);
        }
    }
    Err(Rejection::NumberExhausted { id: base.to_owned(), max: MAX_SUFFIX })
}

/// The `k`-th number [`free_id`] tries for `base` (from 2), for the store to load.
pub(crate) fn suffixed(base: &str, k: u32) -> String {
    format!("{base}-{k}")
}

pub(super) fn import_return(state: &State, shop: &Shop, cmd: &ImportReturn) -> Result<Vec<Event>, Rejection> {
    let number = text::id("return number", &cmd.source.number)?;
    let (mut events, customers) = customer(state, cmd.customer.as_ref(), &cmd.source)?;
    let customer = customers.map(|c| CustomerRef { id: c.id, name: c.name });
    let lines = check_lines(shop, &state.products, &cmd.lines)?;
    let amount = super::returns::amount(&lines, shop.currency);
    orders::check_total("return total", "return", amount, shop.currency)?;
    let reason = text::required("reason", "why the goods came back", &cmd.reason, text::REASON_MAX)?;
    let mut record = Return {
        id: number.clone(),
        customer,
        lines,
        amount,
        currency: shop.currency,
        reason,
        at: cmd.at,
        source: Some(cmd.source.clone()),
    };
    if let Some(existing) = state.returns.get(&number) {
        let ours = |r: &Return| r.source.as_ref().is_some_and(|s| s.import == cmd.source.import);
        let same = |r: &Return| r.at == record.at && r.amount == record.amount && r.lines == record.lines;
        if taken(&number, |id| state.returns.get(id)).any(|r| !ours(r) && same(r)) {
            return Ok(Vec::new());
        }
        record.id = free_id(&number, |id| state.returns.contains_key(id))?;
        let why = if ours(existing) {
            format!("continues credit note {number}: its lines were apart in the imported file")
        } else {
            format!("credit note {number} in the imported file; the number {number} was already used here")
        };
        record.reason = text::required("reason", "why", &join_note(Some(&record.reason), &why), text::NOTE_MAX)?;
    }
    events.push(Event::ReturnRecorded(ReturnRecorded { record }));
    Ok(events)
}

/// Finds the file's customer in the shop, or registers them. Returns the registration (if
/// any) and the customer.
fn customer(
    state: &State,
    imported: Option<&ImportedCustomer>,
    source: &Source,
) -> Result<(Vec<Event>, Option<Customer>), Rejection> {
    let Some(imported) = imported else { return Ok((Vec::new(), None)) };
    let name = text::optional("customer name", imported.name.as_deref(), text::NAME_MAX)?;
    let email = text::email(imported.email.as_deref())?;
    let country = text::optional("country", imported.country.as_deref(), text::SHORT_MAX)?;
    let (id, numbered, number) = match (&imported.id, imported.key()) {
        (Some(id), _) => {
            let id = text::id("customer id", id)?;
            if let Some(existing) = state.customers.get(&id) {
                return Ok((Vec::new(), Some(existing.clone())));
            }
            (id.clone(), false, id)
        }
        (None, Some(key)) => {
            if let Some(existing) = state.customers.values().find(|c| matches_key(c, &key)) {
                return Ok((Vec::new(), Some(existing.clone())));
            }
            (state.free_customer_id(), true, key)
        }
        (None, None) => return Ok((Vec::new(), None)),
    };
    let name = match (name, &email) {
        (Some(name), _) => name,
        (None, Some(email)) => email.clone(),
        (None, None) => format!("Customer {id}"),
    };
    let customer = Customer { id, name, email, phone: None, country };
    let registered = CustomerRegistered {
        customer: customer.clone(),
        numbered,
        source: Some(Source { import: source.import.clone(), number }),
        stamp: None,
    };
    Ok((vec![Event::CustomerRegistered(registered)], Some(customer)))
}
