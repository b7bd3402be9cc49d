//! Orders: lines, exact totals, and the lifecycle placed → shipped → delivered, with
//! cancellation (before shipping) and refunds (never more than is left).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::conflicts::{self, Conflict, Known};
use super::payments::{self, OrderPaid, PayOrder, Payment, PaymentInput, Tender};
use super::{Customer, Event, Product, Rejection, Shop, Source, text};
use crate::money::{self, Currency, MoneyInput};

/// Most lines one order may hold. Wholesale invoices run past a thousand lines (the UCI
/// Online Retail export has one of 1,114); ten times that is a data-entry accident.
pub const MAX_LINES: usize = 10_000;

/// Most units on one line.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// An order as it stands after its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Order {
    pub id: String,
    /// `None` for a walk-in sale.
    pub customer: Option<CustomerRef>,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub currency: Currency,
    pub note: Option<String>,
    pub payment_method: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub shipment: Option<Shipment>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancellation: Option<Cancellation>,
    pub refunds: Vec<Refund>,
    /// For an order brought in by an import: which import, and its number in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The money taken, when placed and since (an invoice has none until paid).
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// Conflicts the owner has resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<Conflict>,
}

impl Order {
    /// What tills apart did to the order that does not add up, less what the owner resolved.
    pub fn conflicts(&self) -> Vec<Conflict> {
        self.clone().lifecycle().conflicts()
    }

    /// The parts of the order its later events change, to fold them.
    pub(crate) fn lifecycle(&mut self) -> Lifecycle<'_> {
        lifecycle!(self)
    }

    /// Everything refunded so far.
    pub fn refunded(&self) -> Decimal {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    /// Everything paid so far.
    pub fn paid(&self) -> Decimal {
        payments::paid(&self.payments)
    }

    /// What is still to pay.
    pub fn due(&self) -> Decimal {
        self.totals.total - self.paid()
    }

    /// What can still be refunded: paid minus already refunded; nothing once cancelled (the
    /// cancellation gave it back), and never below nothing (two tills refunded it while apart).
    pub fn refundable(&self) -> Decimal {
        if self.status == OrderStatus::Cancelled {
            return Decimal::ZERO;
        }
        (self.paid() - self.refunded()).max(Decimal::ZERO)
    }

    /// What went back by `tender` so far (a refund that named none went back by the main tender).
    fn refunded_by(&self, tender: Tender) -> Decimal {
        let main = payments::main_tender(&self.payments);
        self.refunds.iter().filter(|r| r.tender.or(main) == Some(tender)).map(|r| r.amount).sum()
    }

    /// What `tender` paid so far.
    fn paid_by(&self, tender: Tender) -> Decimal {
        self.payments.iter().filter(|p| p.tender == tender).map(|p| p.amount).sum()
    }

    /// Units of line `index` (from 0) refunded so far.
    pub fn refunded_units(&self, index: usize) -> u32 {
        refunded_units(&self.refunds, index)
    }
}

/// Units of line `index` (from 0) that `refunds` gave back.
pub fn refunded_units(refunds: &[Refund], index: usize) -> u32 {
    refunds.iter().flat_map(|r| &r.lines).filter(|l| l.line as usize == index).map(|l| l.quantity).sum()
}

/// What giving back `quantity` units of `line` is worth on an order with `totals`: the line's
/// share of the goods, with the order's discount and any tax added on top spread over it as
/// they were when the order was placed. Not rounded: sum the lines, then round once.
pub fn line_refund_value(totals: &Totals, line: &OrderLine, quantity: u32) -> Decimal {
    if line.quantity == 0 || totals.subtotal.is_zero() {
        return Decimal::ZERO;
    }
    let goods = line.total * Decimal::from(quantity) / Decimal::from(line.quantity);
    // goods × total can leave `Decimal`'s range only for the very largest orders: then
    // goods × (total / subtotal), which differs far below the minor unit.
    goods.checked_mul(totals.total).map_or_else(|| goods * (totals.total / totals.subtotal), |v| v / totals.subtotal)
}

/// Where an order is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed and paid, not yet shipped.
    Pending,
    Shipped,
    Delivered,
    Cancelled,
    /// Brought in by an import: closed business from another system, with nothing left to do
    /// at the counter but give money back. A shipment or delivery the file (or a later export
    /// of it) names is recorded, and the order stays completed; a cancellation cancels it.
    Completed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Completed => "completed",
        }
    }
}

/// The customer as they were when the order was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CustomerRef {
    pub id: String,
    pub name: String,
}

/// One line as sold: the name, SKU and price at the moment of sale, whatever the catalog says later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OrderLine {
    /// `true` when the line sold a catalog product, `false` for an ad-hoc item.
    pub from_catalog: bool,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    #[ts(as = "String")]
    pub unit_price: Decimal,
    #[ts(as = "String")]
    pub tax_rate: Decimal,
    /// `quantity × unit_price`, rounded to the currency's minor unit, half to even.
    #[ts(as = "String")]
    pub total: Decimal,
}

/// An order's money, all rounded to the currency's minor unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Totals {
    /// Sum of the line totals.
    #[ts(as = "String")]
    pub subtotal: Decimal,
    /// The order discount as an amount.
    #[ts(as = "String")]
    pub discount: Decimal,
    /// Tax on the discounted goods: included in `total` when prices include tax, added otherwise.
    #[ts(as = "String")]
    pub tax: Decimal,
    /// What the customer pays.
    #[ts(as = "String")]
    pub total: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Shipment {
    pub carrier: String,
    pub tracking: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct Cancellation {
    pub reason: String,
    pub at: DateTime<Utc>,
    /// What the till knew when it cancelled (`None`: a shop on one device, which knew all
    /// that came before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knew: Option<Known>,
    /// How many more cancellations arrived (two tills cancelled it while apart).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeated: u32,
}

impl From<&OrderCancelled> for Cancellation {
    fn from(e: &OrderCancelled) -> Cancellation {
        Cancellation { reason: e.reason.clone(), at: e.at, knew: e.knew.clone(), repeated: 0 }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct Refund {
    #[ts(as = "String")]
    pub amount: Decimal,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The goods that came back, when the refund names them (empty: an amount only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundedLine>,
    /// How the money went back (`None` for refunds recorded before refunds said: as paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tender: Option<Tender>,
    /// The goods went back on the shelf.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restock: bool,
}

impl From<&OrderRefunded> for Refund {
    fn from(e: &OrderRefunded) -> Refund {
        Refund {
            amount: e.amount,
            reason: e.reason.clone(),
            at: e.at,
            lines: e.lines.clone(),
            tender: e.tender,
            restock: e.restock,
        }
    }
}

/// Units of one order line given back by a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct RefundedLine {
    /// The line's place in the order, from 0.
    pub line: u32,
    pub quantity: u32,
}

/// Units of one order line to refund, as entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLineInput {
    /// The line's place in the order, from 1 (as receipts and screens number them).
    pub line: usize,
    pub quantity: i64,
}

/// A line as entered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineInput {
    /// A catalog product, at its catalog price unless `unit_price` overrides it.
    Product { sku: String, quantity: i64, unit_price: Option<MoneyInput> },
    /// An ad-hoc item that is not (or not yet) in the catalog. It needs a unit price, a line
    /// total (as imports give), or both.
    Item {
        sku: Option<String>,
        name: String,
        quantity: i64,
        unit_price: Option<MoneyInput>,
        tax_rate: Option<Decimal>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<MoneyInput>,
    },
}

/// An order discount as entered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DiscountInput {
    Amount(MoneyInput),
    /// 0–100.
    Percent(Decimal),
}

/// Place an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrder {
    /// `None`: the next free order number.
    pub order: Option<String>,
    /// `None`: a walk-in sale.
    pub customer: Option<String>,
    pub lines: Vec<LineInput>,
    pub discount: Option<DiscountInput>,
    pub note: Option<String>,
    /// A label for how it was paid. With no `payments` and not an invoice, the order is paid
    /// in full by the tender this names ("Card", "Cash"; anything else is `other`).
    pub payment_method: Option<String>,
    /// The tenders taken, in order (cash: what was handed over). Empty: see `payment_method`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<PaymentInput>,
    /// Leave it unpaid or part paid: an invoice, paid later ([`PayOrder`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invoice: bool,
    /// When the sale happened; `None`: now. Set it to record a past sale.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipOrder {
    pub order: String,
    pub carrier: String,
    pub tracking: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverOrder {
    pub order: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrder {
    pub order: String,
    pub reason: String,
    pub at: Option<DateTime<Utc>>,
}

/// Give money back on an order: an amount, or goods by line and quantity (the amount then is
/// worked out from what they were sold for), or both (goods back, and the amount given —
/// e.g. less a restocking fee).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOrder {
    pub order: String,
    /// `None`: what the `lines` were sold for.
    #[serde(default)]
    pub amount: Option<MoneyInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundLineInput>,
    pub reason: String,
    pub at: Option<DateTime<Utc>>,
    /// How the money goes back; `None`: by the tender that paid the most of the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tender: Option<Tender>,
    /// The goods named in `lines` go back on the shelf.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restock: bool,
}

impl RefundOrder {
    /// A refund of `amount`, naming no goods.
    pub fn amount(order: impl Into<String>, amount: MoneyInput, reason: impl Into<String>) -> RefundOrder {
        RefundOrder {
            order: order.into(),
            amount: Some(amount),
            lines: Vec::new(),
            reason: reason.into(),
            at: None,
            tender: None,
            restock: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order: String,
    pub customer: Option<CustomerRef>,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    /// Set when the discount was entered as a percentage (for receipts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_percent: Option<Decimal>,
    pub currency: Currency,
    pub note: Option<String>,
    pub payment_method: Option<String>,
    pub at: DateTime<Utc>,
    /// `true` when the shop's own sequence gave the order its number (an order taken here
    /// without one); the sequence moves on only past numbers it gave out itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub numbered: bool,
    /// For an imported order: which import, and its number in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// v3: an imported order the file says is still open (to ship here). Any other imported
    /// order is closed business: completed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    /// v4: the money taken when it was placed (empty: an unpaid invoice).
    #[serde(default)]
    pub payments: Vec<Payment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipped {
    pub order: String,
    pub carrier: String,
    pub tracking: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDelivered {
    pub order: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// v2: what the till knew of the order when it cancelled it, on a till of a shop with
    /// several (`None` on one device, and in v1: everything recorded before it). The read
    /// models reverse exactly this, whatever else arrives around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knew: Option<Known>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRefunded {
    pub order: String,
    pub amount: Decimal,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The goods that came back (v2; empty for a refund of an amount only, as every v1 was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundedLine>,
    /// v3: how the money went back (`None` in v1 and v2: as the order was paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tender: Option<Tender>,
    /// v3: the goods went back on the shelf (stock).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restock: bool,
}

/// What `place` needs to know besides the command.
pub(super) struct PlaceContext<'a> {
    pub shop: &'a Shop,
    pub products: &'a BTreeMap<String, Product>,
    pub customers: &'a BTreeMap<String, Customer>,
    pub existing: Option<&'a Order>,
    /// The id an order placed without one gets.
    pub next_id: String,
    pub now: DateTime<Utc>,
}

pub(super) fn place(cx: PlaceContext<'_>, cmd: &PlaceOrder) -> Result<Vec<Event>, Rejection> {
    let shop = cx.shop;
    let order = match &cmd.order {
        Some(id) => text::id("order number", id)?,
        None => cx.next_id.clone(),
    };
    if cx.existing.is_some() {
        return Err(Rejection::OrderIdTaken { id: order });
    }
    let numbered = cmd.order.is_none();
    let customer = customer_ref(cx.customers, cmd.customer.as_deref())?;
    let lines = check_lines(shop, cx.products, &cmd.lines)?;
    // At most MAX_LINES × MAX_TOTAL: far inside `Decimal`.
    let subtotal: Decimal = lines.iter().map(|l| l.total).sum();
    check_total("order total", "order", subtotal, shop.currency)?;
    let (discount, discount_percent) = match &cmd.discount {
        None => (shop.currency.round(Decimal::ZERO), None),
        Some(DiscountInput::Amount(input)) => {
            let amount = shop.currency.round(input.in_currency(shop.currency, "discount")?);
            if amount.is_sign_negative() && !amount.is_zero() {
                return Err(Rejection::NegativeDiscount { given: shop.currency.format(amount) });
            }
            (amount, None)
        }
        Some(DiscountInput::Percent(percent)) => {
            if *percent < Decimal::ZERO || *percent > Decimal::ONE_HUNDRED {
                return Err(Rejection::DiscountPercentOutOfRange { given: *percent });
            }
            (shop.currency.round(subtotal * *percent / Decimal::ONE_HUNDRED), Some(percent.normalize()))
        }
    };
    if discount > subtotal {
        return Err(Rejection::DiscountTooLarge {
            discount: shop.currency.format(discount),
            subtotal: shop.currency.format(subtotal),
        });
    }
    let totals = totals(&lines, discount, shop.currency, shop.prices_include_tax);
    check_total("order total", "order", totals.total, shop.currency)?;
    let at = cmd.at.unwrap_or(cx.now);
    let payment_method = text::optional("payment method", cmd.payment_method.as_deref(), text::SHORT_MAX)?;
    let payments = if cmd.payments.is_empty() && !cmd.invoice {
        let tender = Tender::from_method(payment_method.as_deref());
        let whole =
            (totals.total > Decimal::ZERO).then_some(Payment { tender, amount: totals.total, tendered: None, at });
        whole.into_iter().collect()
    } else {
        payments::take(shop.currency, totals.total, &cmd.payments, at)?
    };
    let due = totals.total - payments::paid(&payments);
    if due > Decimal::ZERO && !cmd.invoice {
        return Err(Rejection::PaymentShort {
            due: shop.currency.format(due),
            total: shop.currency.format(totals.total),
        });
    }
    let payment_method = payment_method.or_else(|| payments::summary(&payments));
    Ok(vec![Event::OrderPlaced(OrderPlaced {
        order,
        customer,
        lines,
        totals,
        discount_percent,
        currency: shop.currency,
        note: text::optional_multiline("note", cmd.note.as_deref(), text::NOTE_MAX)?,
        payment_method,
        at,
        numbered,
        source: None,
        open: false,
        payments,
    })])
}

/// The customer a sale or return names, as it is now; `None` for a walk-in.
pub(super) fn customer_ref(
    customers: &BTreeMap<String, Customer>,
    id: Option<&str>,
) -> Result<Option<CustomerRef>, Rejection> {
    let Some(id) = id.map(str::trim) else { return Ok(None) };
    let customer = customers.get(id).ok_or_else(|| Rejection::UnknownCustomer { id: id.to_owned() })?;
    Ok(Some(CustomerRef { id: customer.id.clone(), name: customer.name.clone() }))
}

/// Checks every line (at least one, at most [`MAX_LINES`]); a rejection names its line.
pub(super) fn check_lines(
    shop: &Shop,
    products: &BTreeMap<String, Product>,
    lines: &[LineInput],
) -> Result<Vec<OrderLine>, Rejection> {
    check_line_count(lines.len())?;
    lines.iter().enumerate().map(|(i, input)| check_line(shop, products, input).map_err(|r| r.on_line(i))).collect()
}

/// An order or return holds 1 to [`MAX_LINES`] lines.
pub(super) fn check_line_count(given: usize) -> Result<(), Rejection> {
    match given {
        0 => Err(Rejection::NoLines),
        n if n > MAX_LINES => Err(Rejection::TooManyLines { given: n, max: MAX_LINES }),
        _ => Ok(()),
    }
}

/// A quantity of goods on a line, in a delivery or given back: 1 to [`MAX_QUANTITY`].
pub(super) fn check_quantity(given: i64) -> Result<u32, Rejection> {
    if given < 1 {
        return Err(Rejection::QuantityTooSmall { given });
    }
    match u32::try_from(given) {
        Ok(q) if i64::from(q) <= MAX_QUANTITY => Ok(q),
        _ => Err(Rejection::QuantityTooLarge { given }),
    }
}

/// Checks one line as entered against the shop and catalog and works out its total: the
/// same rules `decide` applies, for importers that account for each line on its own.
pub fn check_line(
    shop: &Shop,
    products: &BTreeMap<String, Product>,
    input: &LineInput,
) -> Result<OrderLine, Rejection> {
    let (from_catalog, sku, name, quantity, price, tax_rate, given_total) = match input {
        LineInput::Product { sku, quantity, unit_price } => {
            let sku = sku.trim();
            let product = products
                .get(sku)
                .ok_or_else(|| Rejection::UnknownProduct { sku: sku.to_owned(), hint: String::new() })?;
            if product.archived {
                return Err(Rejection::ProductArchived { sku: product.sku.clone() });
            }
            let price = match unit_price {
                Some(input) => Some(input.in_currency(shop.currency, "unit price")?),
                None => Some(product.unit_price),
            };
            (true, Some(product.sku.clone()), product.name.clone(), *quantity, price, product.tax_rate, None)
        }
        LineInput::Item { sku, name, quantity, unit_price, tax_rate, total } => {
            let name = text::required("item name", "what was sold", name, text::NAME_MAX)?;
            let sku = sku.as_deref().map(text::sku).transpose()?;
            let price = unit_price.as_ref().map(|p| p.in_currency(shop.currency, "unit price")).transpose()?;
            let total = total.as_ref().map(|t| t.in_currency(shop.currency, "line total")).transpose()?;
            if price.is_none() && total.is_none() {
                return Err(Rejection::ItemWithoutPrice { name });
            }
            let rate = money::check_tax_rate(tax_rate.unwrap_or(shop.default_tax_rate))?;
            (false, sku, name, *quantity, price, rate, total)
        }
    };
    let quantity = check_quantity(quantity)?;
    let (unit_price, total) = match (price, given_total) {
        // A given line total (an export's "Sales" column) is what was charged: it is kept, to
        // the minor unit, and the unit price is derived from it when not given.
        (price, Some(total)) => {
            if total.is_sign_negative() && !total.is_zero() {
                return Err(Rejection::NegativePrice { given: shop.currency.format(total) });
            }
            let derived = (total / Decimal::from(quantity)).round_dp(crate::money::MAX_PRICE_PLACES);
            (money::check_unit_price(price.unwrap_or(derived), shop.currency)?, shop.currency.round(total))
        }
        (Some(price), None) => {
            let unit_price = money::check_unit_price(price, shop.currency)?;
            (unit_price, shop.currency.round(unit_price * Decimal::from(quantity)))
        }
        (None, None) => return Err(Rejection::ItemWithoutPrice { name }),
    };
    check_total("line total", "line", total, shop.currency)?;
    Ok(OrderLine { from_catalog, sku, name, quantity, unit_price, tax_rate, total })
}

/// Refuses a total over [`MAX_TOTAL`](crate::money::MAX_TOTAL).
pub(super) fn check_total(
    field: &'static str,
    what: &'static str,
    total: Decimal,
    currency: Currency,
) -> Result<(), Rejection> {
    if total > crate::money::MAX_TOTAL {
        return Err(Rejection::TotalTooLarge {
            field,
            what,
            given: currency.format_exact(total),
            max: currency.format_exact(crate::money::MAX_TOTAL),
        });
    }
    Ok(())
}

/// The order's totals. The discount is spread over the lines in proportion to their totals
/// before tax is worked out, and tax is rounded once for the whole order, so a receipt's
/// tax is never off by the sum of per-line roundings.
pub fn totals(lines: &[OrderLine], discount: Decimal, currency: Currency, prices_include_tax: bool) -> Totals {
    let subtotal: Decimal = lines.iter().map(|l| l.total).sum();
    let goods = subtotal - discount;
    let taxed: Decimal = lines
        .iter()
        .map(|l| {
            let share = if prices_include_tax { l.tax_rate / (Decimal::ONE + l.tax_rate) } else { l.tax_rate };
            l.total * share
        })
        .sum();
    // taxed × goods can leave `Decimal`'s range for the largest orders (10⁴ lines of 10¹² each):
    // then taxed × (goods / subtotal), which stays in range and differs only far below the
    // minor unit.
    let share = |taxed: Decimal| taxed.checked_mul(goods).map_or_else(|| taxed * (goods / subtotal), |t| t / subtotal);
    let tax = currency.round(if subtotal.is_zero() { Decimal::ZERO } else { share(taxed) });
    let total = if prices_include_tax { goods } else { goods + tax };
    Totals { subtotal, discount, tax, total }
}

/// The order's tax split by rate, each rounded, and the largest share adjusted so they add
/// up to the order's tax exactly (which was rounded once, for the whole order). Whether
/// prices included the tax shows in the totals: then the total is the discounted goods.
pub fn tax_by_rate(lines: &[OrderLine], totals: &Totals, currency: Currency) -> BTreeMap<String, Decimal> {
    let mut raw: BTreeMap<String, Decimal> = BTreeMap::new();
    if totals.subtotal.is_zero() || totals.tax.is_zero() {
        return raw;
    }
    let goods = totals.subtotal - totals.discount;
    let included = totals.total == goods;
    for l in lines.iter().filter(|l| !l.tax_rate.is_zero()) {
        let share = if included { l.tax_rate / (Decimal::ONE + l.tax_rate) } else { l.tax_rate };
        let taxed = l.total * share;
        let part = taxed.checked_mul(goods).map_or_else(|| taxed * (goods / totals.subtotal), |t| t / totals.subtotal);
        *raw.entry(l.tax_rate.normalize().to_string()).or_default() += part;
    }
    let mut rounded: BTreeMap<String, Decimal> = raw.iter().map(|(r, t)| (r.clone(), currency.round(*t))).collect();
    let off = totals.tax - rounded.values().copied().sum::<Decimal>();
    if !off.is_zero()
        && let Some((_, largest)) = rounded.iter_mut().max_by(|a, b| (*a.1).cmp(&*b.1))
    {
        *largest += off;
    }
    rounded
}

pub(super) fn ship(order: Option<&Order>, cmd: &ShipOrder, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
    let order = find(order, &cmd.order)?;
    match (order.status, &order.shipment) {
        (OrderStatus::Cancelled, _) => {
            return Err(Rejection::OrderCancelled { id: order.id.clone(), action: "shipped" });
        }
        (_, Some(s)) => {
            return Err(Rejection::AlreadyShipped {
                id: order.id.clone(),
                carrier: s.carrier.clone(),
                tracking: s.tracking.clone(),
            });
        }
        _ => {}
    }
    let carrier = text::required("carrier", "the carrier's name, e.g. Royal Mail", &cmd.carrier, text::SHORT_MAX)?;
    let tracking = text::required(
        "tracking number",
        "the tracking number from the carrier's label",
        &cmd.tracking,
        text::SHORT_MAX,
    )?;
    Ok(vec![Event::OrderShipped(OrderShipped {
        order: order.id.clone(),
        carrier,
        tracking,
        at: cmd.at.unwrap_or(now),
    })])
}

/// Where an order is in the lifecycle the rules check: a completed (imported) order's status
/// stays "completed", so where it is comes from what it records.
fn stage(order: &Order) -> OrderStatus {
    match order.status {
        OrderStatus::Completed if order.delivered_at.is_some() => OrderStatus::Delivered,
        OrderStatus::Completed if order.shipment.is_some() => OrderStatus::Shipped,
        OrderStatus::Completed => OrderStatus::Pending,
        status => status,
    }
}

pub(super) fn deliver(order: Option<&Order>, cmd: &DeliverOrder, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
    let order = find(order, &cmd.order)?;
    match stage(order) {
        OrderStatus::Cancelled => Err(Rejection::OrderCancelled { id: order.id.clone(), action: "delivered" }),
        OrderStatus::Pending | OrderStatus::Completed => Err(Rejection::NotShipped { id: order.id.clone() }),
        OrderStatus::Delivered => Err(Rejection::AlreadyDelivered { id: order.id.clone() }),
        OrderStatus::Shipped => {
            Ok(vec![Event::OrderDelivered(OrderDelivered { order: order.id.clone(), at: cmd.at.unwrap_or(now) })])
        }
    }
}

/// `joined`: the shop has several tills, so the cancellation records what this one knew.
pub(super) fn cancel(
    order: Option<&Order>,
    cmd: &CancelOrder,
    joined: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let order = find(order, &cmd.order)?;
    match stage(order) {
        OrderStatus::Cancelled => Err(Rejection::OrderCancelled { id: order.id.clone(), action: "cancelled again" }),
        OrderStatus::Shipped | OrderStatus::Delivered => Err(Rejection::CancelAfterShipping { id: order.id.clone() }),
        OrderStatus::Pending | OrderStatus::Completed => {
            let reason = text::required("reason", "why the order is cancelled", &cmd.reason, text::REASON_MAX)?;
            Ok(vec![Event::OrderCancelled(OrderCancelled {
                order: order.id.clone(),
                reason,
                at: cmd.at.unwrap_or(now),
                knew: joined.then(|| Known { refunds: order.refunds.clone(), payments: order.payments.clone() }),
            })])
        }
    }
}

pub(super) fn refund(
    shop: &Shop,
    order: Option<&Order>,
    cmd: &RefundOrder,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let order = find(order, &cmd.order)?;
    if order.status == OrderStatus::Cancelled {
        return Err(Rejection::OrderCancelled {
            id: order.id.clone(),
            action: "refunded (cancelling voided its payment)",
        });
    }
    let currency = order.currency;
    let lines = refund_lines(order, &cmd.lines)?;
    let requested = match &cmd.amount {
        Some(amount) => amount.in_currency(shop.currency, "refund amount")?,
        None if lines.is_empty() => return Err(Rejection::RefundWithoutAmount),
        None => lines.iter().map(|l| line_refund_value(&order.totals, &order.lines[l.line as usize], l.quantity)).sum(),
    };
    let amount = currency.round(requested);
    if amount <= Decimal::ZERO {
        return Err(Rejection::RefundNotPositive { given: currency.format(requested) });
    }
    if amount > order.refundable() {
        return Err(Rejection::OverRefund {
            id: order.id.clone(),
            requested: currency.format(amount),
            refundable: currency.format(order.refundable()),
            paid: currency.format(order.paid()),
            refunded: currency.format(order.refunded()),
        });
    }
    let tender = cmd.tender.or_else(|| payments::main_tender(&order.payments)).unwrap_or(Tender::Other);
    // Money goes back to a card only up to what that card paid; cash, gift cards and others
    // can give back anything still refundable.
    if tender == Tender::Card {
        let left = order.paid_by(Tender::Card) - order.refunded_by(Tender::Card);
        if amount > left {
            return Err(Rejection::RefundOverCardPaid {
                id: order.id.clone(),
                requested: currency.format(amount),
                left: currency.format(left.max(Decimal::ZERO)),
            });
        }
    }
    if cmd.restock && lines.is_empty() {
        return Err(Rejection::RestockWithoutGoods);
    }
    let reason = text::required("reason", "why the money goes back", &cmd.reason, text::REASON_MAX)?;
    Ok(vec![Event::OrderRefunded(OrderRefunded {
        order: order.id.clone(),
        amount,
        reason,
        at: cmd.at.unwrap_or(now),
        lines,
        tender: Some(tender),
        restock: cmd.restock,
    })])
}

/// Takes (part of) what is still due on an order.
pub(super) fn pay(
    shop: &Shop,
    order: Option<&Order>,
    cmd: &PayOrder,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let order = find(order, &cmd.order)?;
    if order.status == OrderStatus::Cancelled {
        return Err(Rejection::OrderCancelled { id: order.id.clone(), action: "paid" });
    }
    let due = order.due();
    if due <= Decimal::ZERO {
        return Err(Rejection::NothingDue { id: order.id.clone(), paid: order.currency.format(order.paid()) });
    }
    if cmd.payments.is_empty() {
        return Err(Rejection::NoPayments { due: order.currency.format(due) });
    }
    let at = cmd.at.unwrap_or(now);
    let payments = payments::take(shop.currency, due, &cmd.payments, at)?;
    Ok(vec![Event::OrderPaid(OrderPaid { order: order.id.clone(), payments, at })])
}

/// The goods a refund names, checked against what the order sold and has not yet refunded:
/// one entry per line, in line order (a line named twice counts once, with both quantities).
fn refund_lines(order: &Order, input: &[RefundLineInput]) -> Result<Vec<RefundedLine>, Rejection> {
    let mut wanted: BTreeMap<usize, u64> = BTreeMap::new();
    for l in input {
        if l.line == 0 || l.line > order.lines.len() {
            return Err(Rejection::UnknownOrderLine { id: order.id.clone(), line: l.line, lines: order.lines.len() });
        }
        if l.quantity < 1 {
            return Err(Rejection::RefundQuantityTooSmall { given: l.quantity }.on_line(l.line - 1));
        }
        // Quantities are at most MAX_QUANTITY each after the check below; a sum of wild inputs
        // saturates and is refused by it.
        let quantity = u64::try_from(l.quantity).unwrap_or(u64::MAX);
        let entry = wanted.entry(l.line - 1).or_default();
        *entry = entry.saturating_add(quantity);
    }
    wanted
        .into_iter()
        .map(|(index, requested)| {
            let sold = &order.lines[index];
            let left = sold.quantity.saturating_sub(order.refunded_units(index));
            match u32::try_from(requested) {
                Ok(quantity) if quantity <= left => {
                    Ok(RefundedLine { line: u32::try_from(index).unwrap_or(u32::MAX), quantity })
                }
                _ => Err(Rejection::RefundQuantityTooLarge {
                    name: sold.name.clone(),
                    requested,
                    sold: sold.quantity,
                    left,
                }
                .on_line(index)),
            }
        })
        .collect()
}

fn find<'a>(order: Option<&'a Order>, id: &str) -> Result<&'a Order, Rejection> {
    order.ok_or_else(|| Rejection::UnknownOrder { id: id.trim().to_owned() })
}

pub(crate) fn placed(e: &OrderPlaced) -> Order {
    Order {
        id: e.order.clone(),
        customer: e.customer.clone(),
        lines: e.lines.clone(),
        totals: e.totals,
        currency: e.currency,
        note: e.note.clone(),
        payment_method: e.payment_method.clone(),
        placed_at: e.at,
        status: placed_status(e),
        shipment: None,
        delivered_at: None,
        cancellation: None,
        refunds: Vec::new(),
        source: e.source.clone(),
        payments: e.payments.clone(),
        resolved: Vec::new(),
    }
}

/// An order's status when placed: imported history is completed, a sale here is pending.
fn placed_status(e: &OrderPlaced) -> OrderStatus {
    if e.source.is_some() && !e.open { OrderStatus::Completed } else { OrderStatus::Pending }
}

/// The status after shipping or delivery: a completed order stays completed, and a cancelled
/// one cancelled (a shipment from another till arriving after the cancellation is a
/// [`Conflict`], and the status must not depend on which arrived first).
fn moved_to(from: OrderStatus, to: OrderStatus) -> OrderStatus {
    if matches!(from, OrderStatus::Completed | OrderStatus::Cancelled) { from } else { to }
}

/// What an order's later events change, borrowed from whichever holds the order: the write
/// side's [`Order`] or the read side's order view. Both fold those events here, so the
/// lifecycle's rules — and what is kept when tills apart did the same thing twice — live in one
/// place.
/// [`lifecycle!`] borrows one from any struct with these fields.
#[derive(Debug)]
pub(crate) struct Lifecycle<'a> {
    pub(crate) status: &'a mut OrderStatus,
    pub(crate) shipment: &'a mut Option<Shipment>,
    pub(crate) delivered_at: &'a mut Option<DateTime<Utc>>,
    pub(crate) cancellation: &'a mut Option<Cancellation>,
    pub(crate) refunds: &'a mut Vec<Refund>,
    pub(crate) payments: &'a mut Vec<Payment>,
    pub(crate) resolved: &'a mut Vec<Conflict>,
}

/// Borrows the [`Lifecycle`] of a struct that holds an order's lifecycle fields under their
/// names (the domain's [`Order`], the read side's order view).
macro_rules! lifecycle {
    ($order:expr) => {
        $crate::domain::Lifecycle {
            status: &mut $order.status,
            shipment: &mut $order.shipment,
            delivered_at: &mut $order.delivered_at,
            cancellation: &mut $order.cancellation,
            refunds: &mut $order.refunds,
            payments: &mut $order.payments,
            resolved: &mut $order.resolved,
        }
    };
}
pub(crate) use lifecycle;

impl Lifecycle<'_> {
    /// Folds one later event of the order: shipping, delivery, cancellation, refund, payment or
    /// a resolution; any other event changes nothing. Refunds and payments are kept in time
    /// order (then by content), so two tills that got each other's in turn hold the same lists.
    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::OrderShipped(e) => {
                *self.status = moved_to(*self.status, OrderStatus::Shipped);
                let shipment = Shipment { carrier: e.carrier.clone(), tracking: e.tracking.clone(), at: e.at };
                *self.shipment = Some(conflicts::shipped(self.shipment.take(), shipment));
            }
            Event::OrderDelivered(e) => {
                *self.status = moved_to(*self.status, OrderStatus::Delivered);
                *self.delivered_at = Some(conflicts::delivered(*self.delivered_at, e.at));
            }
            Event::OrderCancelled(e) => {
                *self.status = OrderStatus::Cancelled;
                *self.cancellation = Some(conflicts::cancelled(self.cancellation.take(), Cancellation::from(e)));
            }
            Event::OrderRefunded(e) => insert_in_order(self.refunds, Refund::from(e), |r| r.at),
            Event::OrderPaid(e) => {
                for p in &e.payments {
                    insert_in_order(self.payments, p.clone(), |p| p.at);
                }
            }
            Event::OrderConflictsResolved(e) => resolved(self.resolved, &e.conflicts),
            _ => {}
        }
    }

    /// What tills apart did to the order that does not add up, less what the owner resolved.
    pub(crate) fn conflicts(&self) -> Vec<Conflict> {
        let (cancellation, shipment) = (self.cancellation.as_ref(), self.shipment.as_ref());
        let (refunds, payments, resolved) = (&self.refunds[..], &self.payments[..], &self.resolved[..]);
        let delivered = self.delivered_at.is_some();
        conflicts::detect(&conflicts::Facts { cancellation, shipment, delivered, refunds, payments, resolved })
    }
}

/// Inserts `item` after every item that sorts at or before it by time, then by content: a list
/// kept in one order whatever order the items came in.
fn insert_in_order<T: Ord>(items: &mut Vec<T>, item: T, at: impl Fn(&T) -> DateTime<Utc>) {
    let key = at(&item);
    let place = items.partition_point(|i| (at(i), i) <= (key, &item));
    items.insert(place, item);
}

/// Adds the conflicts a resolution closed, once each, sorted (the same in any arrival order).
fn resolved(resolved: &mut Vec<Conflict>, closed: &[Conflict]) {
    resolved.extend(closed.iter().copied());
    resolved.sort_unstable();
    resolved.dedup();
}
