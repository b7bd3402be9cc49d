//! Admission: the bounds `decide` puts on commands, applied again to events already decided.
//!
//! An event from another till was decided there. It arrives signed, but it never passed this
//! till's `decide`, so a faulty or hostile till could send an order line of 10²⁵, a customer
//! name of a megabyte, a payment of -5 or a stamp dated 9999 (which would win every later edit
//! of that field on every till). [`admissible`] refuses any event `decide` could not have
//! recorded, as far as the event itself shows. It is a pure function of the event and the time
//! it was recorded, so every till gives the same answer.
//!
//! Each bound is checked by the rule's own code: `text.rs` for text, ids, SKUs, emails and
//! phones; `money.rs` for unit prices and tax rates; [`totals`] for an order's totals; the
//! quantity, line-count, stock-level and return-amount checks `decide` calls. Stored text is
//! trimmed, so text the rule would have stored differently is refused too. `amounts` lists
//! every amount of money an event states, with the least it may be. The read side uses the
//! same list for the one bound it keeps (`amounts_in_range`).
//!
//! What only the state the other till decided on could show is not checked here: that a
//! catalog line sold at the catalog's price, that the order's currency is the shop's, that a
//! refund or payment fits what was left on the order (two tills apart may both refund; see
//! `conflicts.rs`), that a refunded line exists.

use std::fmt::Display;

use chrono::{DateTime, Timelike, Utc};
use rust_decimal::Decimal;

use super::clock::{MAX_STAMP_AHEAD, MAX_STAMP_TICKS, Stamp};
use super::drawer::DrawerMove;
use super::orders::{self, MAX_LINES, OrderLine, OrderPlaced, RefundedLine, check_line_count, check_quantity, totals};
use super::payments::{MAX_TENDERS, Payment, Tender};
use super::stock::check_level;
use super::text::{self, EMAIL_MAX, NAME_MAX, NOTE_MAX, PATH_MAX, REASON_MAX, SHORT_MAX};
use super::{Customer, CustomerRef, Event, Rejection, Source, customers, returns};
use crate::money::{self, Currency, MAX_TOTAL};

/// Why an event was refused: a value `decide` would never have recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{event} event refused: {field} {problem}")]
pub struct Inadmissible {
    /// The event's type name (`order.placed`).
    pub event: &'static str,
    /// The field, as the event's reader would name it (`line 3 total`, `customer name`).
    pub field: String,
    /// What is wrong with its value (`10000 is more than …`, `contains a control character …`).
    pub problem: String,
}

/// Whether `decide` could have recorded `event` at `recorded_at` (when the till that made it
/// recorded it): every bound the rules put on the commands that produce it holds for what it
/// states, and a product or customer edit's stamp is at most seven days after `recorded_at`
/// with a tick below 2²⁰ (`clock.rs` says why). See the module documentation for what the
/// event alone cannot show.
pub fn admissible(event: &Event, recorded_at: DateTime<Utc>) -> Result<(), Inadmissible> {
    amounts(event, &mut |field, amount| amount.check(field))
        .and_then(|()| rules(event, recorded_at))
        .map_err(|fault| refused(event, fault))
}

/// The bound the read side keeps for events an older Countertop let through: every amount of
/// money the event states is at most [`MAX_TOTAL`] either way, so no read model's sum of them
/// can overflow. [`admissible`] checks this and more.
pub(crate) fn amounts_in_range(event: &Event) -> Result<(), Inadmissible> {
    amounts(event, &mut |field, amount| amount.in_range(field)).map_err(|fault| refused(event, fault))
}

fn refused(event: &Event, fault: Fault) -> Inadmissible {
    Inadmissible { event: event.type_name(), field: fault.field, problem: fault.problem }
}

/// A refused field, before it is known of which event.
struct Fault {
    field: String,
    problem: String,
}

type Checked = Result<(), Fault>;

fn fault(field: impl Display, problem: impl Into<String>) -> Fault {
    Fault { field: field.to_string(), problem: problem.into() }
}

/// The least an amount of money may be.
#[derive(Clone, Copy)]
enum Least {
    Zero,
    AboveZero,
}

/// One amount of money an event states, and what the rules let it be.
#[derive(Clone, Copy)]
struct Amount {
    value: Decimal,
    least: Least,
    /// The currency it is rounded to, when the event names it.
    currency: Option<Currency>,
}

impl Amount {
    fn in_range(self, field: &dyn Display) -> Checked {
        let value = self.value;
        if value > MAX_TOTAL {
            return Err(fault(field, format!("{value} is more than 1,000,000,000,000, the most Countertop records")));
        }
        if value < -MAX_TOTAL {
            return Err(fault(field, format!("{value} is less than -1,000,000,000,000, the least Countertop records")));
        }
        Ok(())
    }

    fn check(self, field: &dyn Display) -> Checked {
        self.in_range(field)?;
        let value = self.value;
        match self.least {
            Least::Zero if value < Decimal::ZERO => return Err(fault(field, format!("{value} is negative"))),
            Least::AboveZero if value <= Decimal::ZERO => {
                return Err(fault(field, format!("{value} is not more than zero")));
            }
            _ => {}
        }
        match self.currency {
            Some(currency) if currency.round(value) != value => {
                Err(fault(field, format!("{value} is not rounded to the {currency} minor unit")))
            }
            _ => Ok(()),
        }
    }
}

/// Calls `check` with every amount of money `event` states, in the order the event has them.
fn amounts(event: &Event, check: &mut dyn FnMut(&dyn Display, Amount) -> Checked) -> Checked {
    let at_least_zero = |value, currency| Amount { value, least: Least::Zero, currency };
    let above_zero = |value, currency| Amount { value, least: Least::AboveZero, currency };
    match event {
        Event::OrderPlaced(e) => {
            let currency = Some(e.currency);
            for (i, line) in e.lines.iter().enumerate() {
                check(&format_args!("line {} total", i + 1), at_least_zero(line.total, currency))?;
            }
            let t = &e.totals;
            for (field, value) in
                [("subtotal", t.subtotal), ("discount", t.discount), ("tax", t.tax), ("total", t.total)]
            {
                check(&field, at_least_zero(value, currency))?;
            }
            tender_amounts("payment", &e.payments, currency, check)
        }
        Event::OrderRefunded(e) => check(&"refund amount", above_zero(e.amount, None)),
        Event::OrderPaid(e) => tender_amounts("payment", &e.payments, None, check),
        Event::OrderCancelled(e) => {
            let Some(knew) = &e.knew else { return Ok(()) };
            for (i, refund) in knew.refunds.iter().enumerate() {
                check(&format_args!("known refund {} amount", i + 1), above_zero(refund.amount, None))?;
            }
            tender_amounts("known payment", &knew.payments, None, check)
        }
        Event::DrawerRecorded(e) => {
            let least = if e.kind == DrawerMove::Removed { Least::AboveZero } else { Least::Zero };
            check(&"amount", Amount { value: e.amount, least, currency: None })
        }
        Event::ReturnRecorded(e) => {
            let currency = Some(e.record.currency);
            for (i, line) in e.record.lines.iter().enumerate() {
                check(&format_args!("line {} total", i + 1), at_least_zero(line.total, currency))?;
            }
            check(&"return amount", at_least_zero(e.record.amount, currency))
        }
        Event::ShopOpened(_)
        | Event::ShopSettingsChanged(_)
        | Event::ProductAdded(_)
        | Event::ProductRenamed(_)
        | Event::ProductRepriced(_)
        | Event::ProductImageChanged(_)
        | Event::ProductArchived(_)
        | Event::ProductRestored(_)
        | Event::ProductClassified(_)
        | Event::ProductLowStockSet(_)
        | Event::StockReceived(_)
        | Event::StockCounted(_)
        | Event::CustomerRegistered(_)
        | Event::CustomerDetailsChanged(_)
        | Event::OrderShipped(_)
        | Event::OrderDelivered(_)
        | Event::OrderConflictsResolved(_)
        | Event::DeviceAdmitted(_)
        | Event::DeviceRetired(_) => Ok(()),
    }
}

/// What each tender paid, and the cash handed over for it.
fn tender_amounts(
    list: &str,
    payments: &[Payment],
    currency: Option<Currency>,
    check: &mut dyn FnMut(&dyn Display, Amount) -> Checked,
) -> Checked {
    for (i, p) in payments.iter().enumerate() {
        let n = i + 1;
        check(&format_args!("{list} {n} amount"), Amount { value: p.amount, least: Least::AboveZero, currency })?;
        if let Some(tendered) = p.tendered {
            let amount = Amount { value: tendered, least: Least::AboveZero, currency };
            check(&format_args!("{list} {n} cash handed over"), amount)?;
        }
    }
    Ok(())
}

/// Everything but the amounts' own bounds, which [`amounts`] checked first (so no sum here can
/// overflow).
fn rules(event: &Event, recorded_at: DateTime<Utc>) -> Checked {
    let stamped = |s: &Option<Stamp>| stamp(s.as_ref(), recorded_at);
    match event {
        Event::ShopOpened(e) => {
            let s = &e.shop;
            settings(&s.name, s.day_start, s.default_tax_rate, s.address.as_deref(), s.receipt_footer.as_deref())
        }
        Event::ShopSettingsChanged(e) => {
            settings(&e.name, e.day_start, e.default_tax_rate, e.address.as_deref(), e.receipt_footer.as_deref())
        }
        Event::ProductAdded(e) => {
            let p = &e.product;
            sku("SKU", &p.sku)?;
            required("product name", &p.name, NAME_MAX)?;
            ruled("unit price", money::check_unit_price_bare(p.unit_price))?;
            ruled("tax rate", money::check_tax_rate(p.tax_rate))?;
            optional("image path", p.image.as_deref(), PATH_MAX)?;
            p.low_stock_at.map_or(Ok(()), |n| ruled("low-stock level", check_level(n)))?;
            stamped(&e.stamp)
        }
        Event::ProductRenamed(e) => {
            sku("SKU", &e.sku)?;
            required("product name", &e.name, NAME_MAX)?;
            stamped(&e.stamp)
        }
        Event::ProductRepriced(e) => {
            sku("SKU", &e.sku)?;
            ruled("unit price", money::check_unit_price_bare(e.unit_price))?;
            ruled("tax rate", money::check_tax_rate(e.tax_rate))?;
            stamped(&e.stamp)
        }
        Event::ProductImageChanged(e) => {
            sku("SKU", &e.sku)?;
            optional("image path", e.image.as_deref(), PATH_MAX)?;
            stamped(&e.stamp)
        }
        Event::ProductArchived(e) => sku("SKU", &e.sku).and_then(|()| stamped(&e.stamp)),
        Event::ProductRestored(e) => sku("SKU", &e.sku).and_then(|()| stamped(&e.stamp)),
        Event::ProductClassified(e) => sku("SKU", &e.sku).and_then(|()| stamped(&e.stamp)),
        Event::ProductLowStockSet(e) => {
            sku("SKU", &e.sku)?;
            e.low_at.map_or(Ok(()), |n| ruled("low-stock level", check_level(n)))?;
            stamped(&e.stamp)
        }
        Event::StockReceived(e) => {
            sku("SKU", &e.sku)?;
            ruled("quantity", check_quantity(i64::from(e.quantity)))?;
            optional("note", e.note.as_deref(), SHORT_MAX)
        }
        Event::StockCounted(e) => {
            sku("SKU", &e.sku)?;
            ruled("count", check_level(e.counted))?;
            required("reason", &e.reason, REASON_MAX)
        }
        Event::CustomerRegistered(e) => {
            customer(&e.customer)?;
            e.source.as_ref().map_or(Ok(()), |s| source(s, None))?;
            stamped(&e.stamp)
        }
        Event::CustomerDetailsChanged(e) => {
            customer(&e.customer)?;
            for (i, field) in e.changed.iter().enumerate() {
                if !customers::FIELDS.contains(&field.as_str()) || e.changed[..i].contains(field) {
                    let problem = "names a field twice or one a customer does not have (name, email, phone, country)";
                    return Err(fault("changed fields", problem));
                }
            }
            stamped(&e.stamp)
        }
        Event::OrderPlaced(e) => placed(e),
        Event::OrderShipped(e) => {
            id("order number", &e.order)?;
            required("carrier", &e.carrier, SHORT_MAX)?;
            required("tracking number", &e.tracking, SHORT_MAX)
        }
        Event::OrderDelivered(e) => id("order number", &e.order),
        Event::OrderCancelled(e) => {
            id("order number", &e.order)?;
            required("reason", &e.reason, REASON_MAX)?;
            let Some(knew) = &e.knew else { return Ok(()) };
            for (i, r) in knew.refunds.iter().enumerate() {
                refund(&format!("known refund {} ", i + 1), &r.reason, &r.lines, r.restock)?;
            }
            for (i, p) in knew.payments.iter().enumerate() {
                change("known payment", i, p)?;
            }
            Ok(())
        }
        Event::OrderRefunded(e) => {
            id("order number", &e.order)?;
            refund("", &e.reason, &e.lines, e.restock)
        }
        Event::OrderPaid(e) => {
            id("order number", &e.order)?;
            if e.payments.is_empty() {
                return Err(fault("payments", "are none; a payment takes at least one tender"));
            }
            tenders(&e.payments, e.at)
        }
        Event::OrderConflictsResolved(e) => {
            id("order number", &e.order)?;
            if e.conflicts.is_empty() || e.conflicts.windows(2).any(|w| w[0] >= w[1]) {
                return Err(fault(
                    "conflicts",
                    "are none, repeated or out of order; a resolution lists those it closed",
                ));
            }
            required("note", &e.note, REASON_MAX)
        }
        Event::DeviceAdmitted(e) => {
            id("device", &e.device)?;
            id("till", &e.till)?;
            id("admitting device", &e.by)?;
            if e.key.len() != 64 || !e.key.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fault("key", "is not a public key (64 hex digits)"));
            }
            match &e.legacy {
                Some(l) if l.hash.len() != 64 || !l.hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Err(fault("legacy hash", "is not a hash (64 hex digits)"))
                }
                _ => Ok(()),
            }
        }
        Event::DeviceRetired(e) => {
            id("device", &e.device)?;
            id("till", &e.till)?;
            id("retiring device", &e.by)?;
            required("reason", &e.reason, REASON_MAX)
        }
        Event::DrawerRecorded(e) => match e.kind {
            DrawerMove::Removed => required("reason", e.note.as_deref().unwrap_or(""), REASON_MAX),
            DrawerMove::Float | DrawerMove::Counted => optional("note", e.note.as_deref(), REASON_MAX),
        },
        Event::ReturnRecorded(e) => {
            let r = &e.record;
            id("return number", &r.id)?;
            r.customer.as_ref().map_or(Ok(()), customer_ref)?;
            lines(&r.lines)?;
            let amount = returns::amount(&r.lines, r.currency);
            if r.amount != amount {
                return Err(fault("return amount", format!("{} is not the sum of its lines ({amount})", r.amount)));
            }
            // A credit note imported under another number says why in its reason.
            required("reason", &r.reason, if r.source.is_some() { NOTE_MAX } else { REASON_MAX })?;
            r.source.as_ref().map_or(Ok(()), |s| source(s, Some("return number")))
        }
    }
}

fn settings(
    name: &str,
    day_start: chrono::NaiveTime,
    tax_rate: Decimal,
    address: Option<&str>,
    footer: Option<&str>,
) -> Checked {
    required("shop name", name, NAME_MAX)?;
    // Typed as HH:MM.
    if day_start.second() != 0 || day_start.nanosecond() != 0 {
        return Err(fault("business-day start", format!("{day_start} is not a whole minute")));
    }
    ruled("default tax rate", money::check_tax_rate(tax_rate))?;
    multiline("shop address", address, NOTE_MAX)?;
    multiline("receipt footer", footer, NOTE_MAX)
}

fn placed(e: &OrderPlaced) -> Checked {
    id("order number", &e.order)?;
    e.customer.as_ref().map_or(Ok(()), customer_ref)?;
    lines(&e.lines)?;
    let t = &e.totals;
    if t.discount > t.subtotal {
        return Err(fault("discount", format!("{} is more than the goods ({})", t.discount, t.subtotal)));
    }
    // The event does not say whether prices included tax (the shop's setting may have changed
    // since): the totals are right if they are what either gives.
    if ![true, false].into_iter().any(|included| totals(&e.lines, t.discount, e.currency, included) == *t) {
        let stated = format!("(subtotal {}, discount {}, tax {}, total {})", t.subtotal, t.discount, t.tax, t.total);
        return Err(fault("totals", format!("{stated} are not what the lines and the discount come to")));
    }
    if let Some(percent) = e.discount_percent {
        if percent < Decimal::ZERO || percent > Decimal::ONE_HUNDRED {
            return Err(fault("discount percentage", format!("{percent} is outside 0 to 100")));
        }
        let discount = e.currency.round(t.subtotal * percent / Decimal::ONE_HUNDRED);
        if discount != t.discount {
            return Err(fault("discount", format!("{} is not {percent}% of the goods ({discount})", t.discount)));
        }
    }
    multiline("note", e.note.as_deref(), NOTE_MAX)?;
    optional("payment method", e.payment_method.as_deref(), SHORT_MAX)?;
    tenders(&e.payments, e.at)?;
    let paid: Decimal = e.payments.iter().map(|p| p.amount).sum();
    if paid > t.total {
        return Err(fault("payments", format!("pay {paid}, more than the total of {}", t.total)));
    }
    if paid < t.total && e.payments.last().is_some_and(|p| p.tendered.is_some()) {
        let problem =
            format!("give change but pay {paid} of a total of {}; cash gives change only when it settles", t.total);
        return Err(fault("payments", problem));
    }
    e.source.as_ref().map_or(Ok(()), |s| source(s, Some("order number")))
}

/// An order's or a return's lines, as `check_lines` makes them.
fn lines(lines: &[OrderLine]) -> Checked {
    ruled("lines", check_line_count(lines.len()))?;
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        required(format_args!("line {n} name"), &l.name, NAME_MAX)?;
        match &l.sku {
            Some(s) => sku(format_args!("line {n} SKU"), s)?,
            None if l.from_catalog => return Err(fault(format_args!("line {n} SKU"), "is missing on a catalog line")),
            None => {}
        }
        ruled(format_args!("line {n} quantity"), check_quantity(i64::from(l.quantity)))?;
        ruled(format_args!("line {n} unit price"), money::check_unit_price_bare(l.unit_price))?;
        ruled(format_args!("line {n} tax rate"), money::check_tax_rate(l.tax_rate))?;
    }
    Ok(())
}

/// Tenders as `payments::take` records them: at most [`MAX_TENDERS`], all at `at`, and cash
/// handed over beyond what it paid only on the last (it settled what was due, and no tender
/// is taken after that).
fn tenders(payments: &[Payment], at: DateTime<Utc>) -> Checked {
    if payments.len() > MAX_TENDERS {
        return Err(fault(
            "payments",
            format!("are {}, more than the {MAX_TENDERS} one payment takes", payments.len()),
        ));
    }
    for (i, p) in payments.iter().enumerate() {
        if p.at != at {
            return Err(fault(
                format_args!("payment {} time", i + 1),
                format!("{} is not the event's time, {at}", p.at),
            ));
        }
        change("payment", i, p)?;
        if p.tendered.is_some() && i + 1 < payments.len() {
            return Err(fault(
                format_args!("payment {} cash handed over", i + 1),
                "gives change before the last tender",
            ));
        }
    }
    Ok(())
}

/// Only cash is handed over beyond what it paid; the rest is the change.
fn change(list: &str, i: usize, p: &Payment) -> Checked {
    let Some(tendered) = p.tendered else { return Ok(()) };
    let field = || format!("{list} {} cash handed over", i + 1);
    if p.tender != Tender::Cash {
        return Err(fault(field(), format!("is on a payment by {}; only cash gives change", p.tender)));
    }
    if tendered <= p.amount {
        return Err(fault(field(), format!("{tendered} is not more than the {} it paid", p.amount)));
    }
    Ok(())
}

/// A refund's reason and goods, as `orders::refund` records them: each line named once, in
/// order, of one of the most lines an order has; goods put back on the shelf are named.
fn refund(prefix: &str, reason: &str, lines: &[RefundedLine], restock: bool) -> Checked {
    required(format_args!("{prefix}reason"), reason, REASON_MAX)?;
    for (k, l) in lines.iter().enumerate() {
        let field = || format!("{prefix}refunded line {}", k + 1);
        let named = u64::from(l.line) + 1;
        if l.line as usize >= MAX_LINES {
            return Err(fault(field(), format!("names line {named}; an order has at most {MAX_LINES}")));
        }
        if k > 0 && lines[k - 1].line >= l.line {
            return Err(fault(field(), format!("names line {named} again or out of order")));
        }
        ruled(format_args!("{prefix}refunded line {} quantity", k + 1), check_quantity(i64::from(l.quantity)))?;
    }
    if restock && lines.is_empty() {
        return Err(fault(format_args!("{prefix}restock"), "names no goods to put back"));
    }
    Ok(())
}

fn customer(c: &Customer) -> Checked {
    id("customer id", &c.id)?;
    customer_name(&c.name)?;
    email(c.email.as_deref())?;
    phone(c.phone.as_deref())?;
    optional("country", c.country.as_deref(), SHORT_MAX)
}

fn customer_ref(c: &CustomerRef) -> Checked {
    id("customer id", &c.id)?;
    customer_name(&c.name)
}

/// A customer's name, or — an import that names a customer by email only — their email,
/// which may be longer than a name.
fn customer_name(name: &str) -> Checked {
    let as_name = required("customer name", name, NAME_MAX);
    if as_name.is_err() && name.chars().count() <= EMAIL_MAX && email(Some(name)).is_ok() {
        return Ok(());
    }
    as_name
}

/// Where an import's document or customer came from. `decide` takes it as the importer
/// makes it (the import is 16 hex digits of the file's hash; a number is trimmed); a
/// document's number is one the rules accept (`number` names it), a customer's is their id
/// or their folded email or name.
fn source(s: &Source, number: Option<&'static str>) -> Checked {
    required("import", &s.import, SHORT_MAX)?;
    match number {
        Some(field) => id(format_args!("{field} in the import"), &s.number),
        None => required("customer's key in the import", &s.number, PATH_MAX),
    }
}

/// A product or customer edit's stamp: see [`MAX_STAMP_AHEAD`] and [`MAX_STAMP_TICKS`].
fn stamp(stamp: Option<&Stamp>, recorded_at: DateTime<Utc>) -> Checked {
    let Some(s) = stamp else { return Ok(()) };
    if recorded_at.checked_add_signed(MAX_STAMP_AHEAD).is_some_and(|latest| s.at > latest) {
        let days = MAX_STAMP_AHEAD.num_days();
        let problem = format!("{} is more than {days} days after the event was recorded ({recorded_at})", s.at);
        return Err(fault("stamp", problem));
    }
    if s.n >= MAX_STAMP_TICKS {
        return Err(fault("stamp", format!("tick {} is not below {MAX_STAMP_TICKS}", s.n)));
    }
    // A till's code is part of the numbers it gives out (`B-1042`), so it is an id.
    id("stamp's till", &s.till)
}

/// A value the rule `checked` it with refuses, in the event's words.
fn ruled<T>(field: impl Display, checked: Result<T, Rejection>) -> Checked {
    checked.map(|_| ()).map_err(|r| fault(field, describe(&r)))
}

/// Text the rule refuses, or would have stored otherwise: `as_stored` is what it makes of the
/// text compared with the text itself.
fn stored(field: impl Display, text: Option<&str>, as_stored: Result<bool, Rejection>) -> Checked {
    match as_stored {
        Ok(true) => Ok(()),
        Ok(false) if text.is_some_and(|t| t.trim().is_empty()) => {
            Err(fault(field, "is blank; the rules record no text instead"))
        }
        Ok(false) => Err(fault(field, "has white space at its start or end; the rules record text trimmed")),
        Err(r) => Err(fault(field, describe(&r))),
    }
}

fn required(field: impl Display, t: &str, max: usize) -> Checked {
    stored(field, Some(t), text::required("text", "", t, max).map(|s| s == t))
}

fn optional(field: impl Display, t: Option<&str>, max: usize) -> Checked {
    stored(field, t, text::optional("text", t, max).map(|s| s.as_deref() == t))
}

fn multiline(field: impl Display, t: Option<&str>, max: usize) -> Checked {
    stored(field, t, text::optional_multiline("text", t, max).map(|s| s.as_deref() == t))
}

fn sku(field: impl Display, t: &str) -> Checked {
    stored(field, Some(t), text::sku(t).map(|s| s == t))
}

fn id(field: impl Display, t: &str) -> Checked {
    stored(field, Some(t), text::id("id", t).map(|s| s == t))
}

fn email(t: Option<&str>) -> Checked {
    stored("email", t, text::email(t).map(|s| s.as_deref() == t))
}

fn phone(t: Option<&str>) -> Checked {
    stored("phone", t, text::phone(t).map(|s| s.as_deref() == t))
}

/// A rejection's problem, without the field (the fault names it) and without the advice to the
/// person typing (nobody is).
fn describe(r: &Rejection) -> String {
    match r {
        Rejection::Empty { .. } => "is empty".to_owned(),
        Rejection::TooLong { length, max, .. } => format!("is {length} characters long, more than {max}"),
        Rejection::ControlCharacter { code, .. } => format!("contains a control character (U+{code:04X})"),
        Rejection::DirectionControl { code, .. } => {
            format!("contains an invisible text-direction control (U+{code:04X})")
        }
        Rejection::SkuWhitespace { .. } => "contains white space".to_owned(),
        Rejection::BadEmail { given } => format!("'{given}' is not an email address"),
        Rejection::BadPhone { given } => format!("'{given}' has characters other than digits, spaces and + - ( ) . /"),
        Rejection::BadId { given, .. } => format!("'{given}' has characters other than letters, digits and - _ ."),
        Rejection::NegativePrice { given } => format!("{given} is negative"),
        Rejection::PriceTooLarge { given } => format!("{given} is more than {}", money::MAX_UNIT_PRICE),
        Rejection::PriceTooPrecise { given } => {
            format!("{given} has more than {} decimal places", money::MAX_PRICE_PLACES)
        }
        Rejection::TaxRateOutOfRange { given } => format!("{given} is outside 0 to 1"),
        Rejection::QuantityTooSmall { given } => format!("{given} is less than 1"),
        Rejection::QuantityTooLarge { given } => format!("{given} is more than {}", orders::MAX_QUANTITY),
        Rejection::CountOutOfRange { given } => format!("{given} is outside 0 to {}", super::MAX_ON_HAND),
        Rejection::NoLines => "are none; an order or return has at least one".to_owned(),
        Rejection::TooManyLines { given, max } => format!("are {given}, more than {max}"),
        other => other.to_string(),
    }
}
