//! Business rejections: everything a person can fix by changing what they entered.
//!
//! Every message names the thing that is wrong and says what to do instead. The UI shows
//! the message as it is and acts only on [`Rejection::code`], never on the text.

use rust_decimal::Decimal;

/// Why a command was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The shop has not been set up, so there is no currency or time zone to work with.
    #[error("the shop is not set up yet; set it up first (name, currency, time zone)")]
    ShopNotSetUp,
    /// The shop is already set up; settings are changed, not set up twice.
    #[error("the shop is already set up as '{name}'; change its settings instead")]
    ShopAlreadySetUp { name: String },
    /// A required text field is empty (after trimming).
    #[error("{field} is empty; enter {hint}")]
    Empty { field: &'static str, hint: &'static str },
    /// A text field is longer than its documented limit.
    #[error("{field} is {length} characters long; shorten it to at most {max}")]
    TooLong { field: &'static str, length: usize, max: usize },
    /// A text field contains a control character (a tab, a line break where none belongs, …).
    #[error("{field} contains a control character (U+{code:04X}); remove it")]
    ControlCharacter { field: &'static str, code: u32 },
    /// A text field contains a bidirectional override, embedding or isolate (U+202A–U+202E,
    /// U+2066–U+2069): invisible, and able to make a name or note display as something other
    /// than what it says. Plain direction marks (U+200E, U+200F, U+061C) are fine.
    #[error(
        "{field} contains an invisible text-direction control (U+{code:04X}) that can make it display differently from what it says; remove it"
    )]
    DirectionControl { field: &'static str, code: u32 },
    /// A SKU contains white space, which would make it impossible to type at the till.
    #[error("SKU '{given}' contains white space; use letters, digits and punctuation only")]
    SkuWhitespace { given: String },
    /// An email address does not look like one.
    #[error("email '{given}' is not a valid address; enter it as name@example.com or leave it out")]
    BadEmail { given: String },
    /// A phone number contains characters other than digits, spaces and `+-()./`.
    #[error("phone '{given}' may only contain digits, spaces and + - ( ) . /; correct it or leave it out")]
    BadPhone { given: String },
    /// An identifier (customer or order) contains characters we do not allow in ids.
    #[error("{field} '{given}' may only contain letters, digits and - _ . ; correct it")]
    BadId { field: &'static str, given: String },
    /// Not an ISO 4217 currency a shop can price in.
    #[error("currency '{given}' is not an ISO 4217 code; use a code such as GBP, EUR or USD")]
    UnknownCurrency { given: String },
    /// A money amount names another currency than the shop's.
    #[error("{field} is in {given} but this shop sells in {shop}; enter the amount in {shop}")]
    CurrencyMismatch { field: &'static str, given: &'static str, shop: &'static str },
    /// Not an IANA time zone name.
    #[error("time zone '{given}' is not an IANA time zone; use a name such as Europe/London or America/New_York")]
    UnknownTimeZone { given: String },
    /// The business-day start is not a time of day.
    #[error("business-day start '{given}' is not a time of day; enter it as HH:MM, e.g. 04:00")]
    BadDayStart { given: String },
    /// A number field holds something that is not a plain decimal number.
    #[error("'{given}' is not a number; enter digits with an optional decimal point, e.g. 12.50")]
    NotANumber { given: String },
    /// A unit price below zero.
    #[error("unit price {given} is negative; enter 0 or more")]
    NegativePrice { given: String },
    /// A unit price above [`crate::MAX_UNIT_PRICE`].
    #[error("unit price {given} is larger than 1,000,000,000; check the amount")]
    PriceTooLarge { given: String },
    /// A unit price with more than [`crate::MAX_PRICE_PLACES`] decimal places.
    #[error("unit price {given} has more than 6 decimal places; round it")]
    PriceTooPrecise { given: String },
    /// A tax rate outside 0 %–100 %.
    #[error("tax rate {given} is outside 0 to 1 (0% to 100%); enter e.g. 20% or 0.2")]
    TaxRateOutOfRange { given: Decimal },
    /// A quantity below one.
    #[error("quantity {given} is less than 1; enter 1 or more (record returns as a refund)")]
    QuantityTooSmall { given: i64 },
    /// A quantity above [`crate::domain::MAX_QUANTITY`].
    #[error("quantity {given} is more than 1,000,000; check the amount")]
    QuantityTooLarge { given: i64 },
    /// A rejection that concerns one line of an order (lines count from 1).
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: Box<Rejection> },
    /// An order without lines.
    #[error("the order has no lines; add at least one product or item")]
    NoLines,
    /// More lines than one order may hold.
    #[error("the order has {given} lines; split it into orders of at most {max} lines")]
    TooManyLines { given: usize, max: usize },
    /// An ad-hoc item needs a price because there is no catalog price to fall back on.
    #[error("item '{name}' has no price; enter its unit price")]
    ItemWithoutPrice { name: String },
    /// A discount larger than the goods it applies to; the total would be negative.
    #[error(
        "discount {discount} is more than the order's goods ({subtotal}); the total cannot be negative, so lower the discount"
    )]
    DiscountTooLarge { discount: String, subtotal: String },
    /// A negative discount (that would be a surcharge).
    #[error("discount {given} is negative; enter 0 or more")]
    NegativeDiscount { given: String },
    /// A percentage discount outside 0–100 %.
    #[error("discount {given}% is outside 0% to 100%; enter e.g. 10%")]
    DiscountPercentOutOfRange { given: Decimal },
    /// No product with that SKU in the catalog.
    #[error("no product has SKU '{sku}'{hint}; add it to the catalog first, or sell it as an ad-hoc item")]
    UnknownProduct { sku: String, hint: String },
    /// Stock received or counted for a SKU the catalog does not have.
    #[error("no product has SKU '{sku}'{hint}; stock is kept for products in the catalog: add it there first")]
    UnknownStockProduct { sku: String, hint: String },
    /// The product is archived and can no longer be sold.
    #[error("product '{sku}' is archived; restore it before selling it, or sell it as an ad-hoc item")]
    ProductArchived { sku: String },
    /// A product with that SKU already exists.
    #[error("SKU '{sku}' is already used by '{name}'; choose another SKU or update that product")]
    SkuTaken { sku: String, name: String },
    /// No customer with that id.
    #[error("no customer has id '{id}'; check the id, or add the customer first")]
    UnknownCustomer { id: String },
    /// A customer with that id already exists.
    #[error("customer id '{id}' is already used by '{name}'; choose another id or leave it out")]
    CustomerIdTaken { id: String, name: String },
    /// No order with that number.
    #[error("no order has number '{id}'; check the order number")]
    UnknownOrder { id: String },
    /// An order with that number already exists.
    #[error("order number '{id}' is already used; choose another number or leave it out")]
    OrderIdTaken { id: String },
    /// A return with that number already exists.
    #[error("return number '{id}' is already used; choose another number")]
    ReturnIdTaken { id: String },
    /// A cancelled order cannot be shipped, delivered or refunded.
    #[error("order {id} is cancelled, so it cannot be {action}")]
    OrderCancelled { id: String, action: &'static str },
    /// Nothing to resolve.
    #[error("order {id} has no conflicts to resolve; `countertop conflicts` lists the orders that have")]
    NoConflicts { id: String },
    /// Shipped orders cannot be cancelled; the goods have left.
    #[error("order {id} has already been shipped, so it cannot be cancelled; refund it instead")]
    CancelAfterShipping { id: String },
    /// An order is shipped once; a second shipment is a new order.
    #[error("order {id} has already been shipped (with {carrier}, tracking {tracking})")]
    AlreadyShipped { id: String, carrier: String, tracking: String },
    /// Delivery is recorded for shipped orders only.
    #[error("order {id} has not been shipped yet; ship it before marking it delivered")]
    NotShipped { id: String },
    /// Delivery is recorded once.
    #[error("order {id} has already been marked delivered")]
    AlreadyDelivered { id: String },
    /// A refund of zero or less.
    #[error("refund amount {given} must be more than zero")]
    RefundNotPositive { given: String },
    /// A refund larger than what is left to refund.
    #[error(
        "refund {requested} is more than the {refundable} still refundable on order {id} (paid {paid}, already refunded {refunded})"
    )]
    OverRefund { id: String, requested: String, refundable: String, paid: String, refunded: String },
    /// A refund by card of more than the order's card payments have left.
    #[error(
        "{requested} cannot go back by card on order {id}: {left} of what was paid by card is left to refund; refund at most that by card, or the rest by cash"
    )]
    RefundOverCardPaid { id: String, requested: String, left: String },
    /// More tenders than one payment takes.
    #[error("{given} tenders is more than the {max} one payment takes; combine them")]
    TooManyTenders { given: usize, max: usize },
    /// A tender of zero or less.
    #[error("the {tender} payment {given} must be more than zero; enter what was paid, or leave the tender out")]
    PaymentNotPositive { tender: crate::domain::Tender, given: String },
    /// A tender after the order was already paid in full by the ones before it.
    #[error("the order is already paid in full before the {tender} payment of {given}; leave it out")]
    PaymentNotDue { tender: crate::domain::Tender, given: String },
    /// A tender other than cash for more than is still due.
    #[error(
        "the {tender} payment {given} is more than the {due} still due; take {due} (only cash can be more: the difference is given back as change)"
    )]
    PaymentOverDue { tender: crate::domain::Tender, given: String, due: String },
    /// Payments that leave part of an order unpaid, without saying it is an invoice.
    #[error("{due} of the {total} is not paid yet; take the rest, or place the order as an invoice to be paid later")]
    PaymentShort { due: String, total: String },
    /// A stock count or level below zero or beyond what a shelf holds.
    #[error("{given} is not a stock level; enter a whole number from 0 to 1,000,000,000")]
    CountOutOfRange { given: i64 },
    /// Goods received: fewer than one.
    #[error(
        "{given} received is not a delivery; enter 1 or more (goods that left the shelf some other way: count the shelf)"
    )]
    ReceivedTooFew { given: i64 },
    /// Restocking a refund that names no goods.
    #[error("a refund that puts goods back in stock must say which: enter how many of which lines came back")]
    RestockWithoutGoods,
    /// A drawer amount below zero (or zero, for cash removed).
    #[error("{given} is not an amount for the drawer; enter {}", if *.zero_ok { "0 or more" } else { "more than 0" })]
    DrawerAmount { given: String, zero_ok: bool },
    /// A payment that names no tender.
    #[error("no payment given; {due} is due: enter what was paid and how")]
    NoPayments { due: String },
    /// A payment on an order with nothing left to pay.
    #[error("order {id} is already paid in full ({paid}); nothing is due")]
    NothingDue { id: String, paid: String },
    /// A refund that says neither how much nor which goods.
    #[error("the refund names no amount and no items; enter an amount, or how many of which lines come back")]
    RefundWithoutAmount,
    /// A refund of a line the order does not have (lines count from 1).
    #[error("order {id} has no line {line}; it has {lines} line(s)")]
    UnknownOrderLine { id: String, line: usize, lines: usize },
    /// A refund of less than one unit of a line.
    #[error("quantity {given} is less than 1; enter how many came back, or leave the line out")]
    RefundQuantityTooSmall { given: i64 },
    /// A refund of more units of a line than were sold and not yet refunded.
    #[error(
        "{requested} of '{name}' cannot be refunded: {left} of the {sold} sold are left to refund; enter at most {left}"
    )]
    RefundQuantityTooLarge { name: String, requested: u64, sold: u32, left: u32 },
    /// A line, order or return total over [`crate::money::MAX_TOTAL`].
    #[error("{field} {given} is more than {max}, the most one {what} may total; check the quantities and prices")]
    TotalTooLarge { field: &'static str, what: &'static str, given: String, max: String },
    /// An imported document whose number and every `N-2` … `N-{max}` are taken.
    #[error(
        "number '{id}' and every number from {id}-2 to {id}-{max} are already used; renumber the documents in the file"
    )]
    NumberExhausted { id: String, max: u32 },
    /// A file that cannot be imported as asked; the message says what to change.
    #[error("{message}")]
    BadImport { message: String },
    /// A search that cannot be run; the message says what to change.
    #[error("{message}")]
    BadSearch { message: String },
    /// A command id that is not acceptable (empty or too long).
    #[error("command id '{given}' must be 1 to 128 printable characters without spaces")]
    BadCommandId { given: String },
}

impl Rejection {
    /// A stable machine-readable code for the UI (`{ code, message }`).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::ShopNotSetUp => "shop_not_set_up",
            Rejection::DirectionControl { .. } => "direction_control",
            Rejection::UnknownProduct { .. } | Rejection::UnknownStockProduct { .. } => "unknown_product",
            Rejection::UnknownCustomer { .. } => "unknown_customer",
            Rejection::UnknownOrder { .. } => "unknown_order",
            Rejection::Line { problem, .. } => problem.code(),
            Rejection::BadSearch { .. } => "bad_search",
            Rejection::BadImport { .. } => "bad_import",
            _ => "invalid",
        }
    }

    /// A short heading for the kind of refusal, to group many of them by (an import's
    /// rejected lines): the message without the values that differ from one to the next.
    pub fn summary(&self) -> &'static str {
        match self {
            Rejection::Line { problem, .. } => problem.summary(),
            Rejection::Empty { .. } => "a required field is empty",
            Rejection::TooLong { .. } => "text too long",
            Rejection::ControlCharacter { .. } | Rejection::DirectionControl { .. } => "invisible control characters",
            Rejection::SkuWhitespace { .. } => "SKU with white space",
            Rejection::BadEmail { .. } => "email address not valid",
            Rejection::BadPhone { .. } => "phone number not valid",
            Rejection::BadId { .. } => "number or id with characters other than letters and digits",
            Rejection::CurrencyMismatch { .. } => "amount in another currency",
            Rejection::NotANumber { .. } => "not a number",
            Rejection::NegativePrice { .. } => "negative price",
            Rejection::PriceTooLarge { .. } => "unit price over 1,000,000,000",
            Rejection::PriceTooPrecise { .. } => "unit price with more than 6 decimal places",
            Rejection::TaxRateOutOfRange { .. } => "tax rate outside 0–100%",
            Rejection::QuantityTooSmall { .. } => "quantity below 1",
            Rejection::QuantityTooLarge { .. } => "quantity over 1,000,000",
            Rejection::TooManyLines { .. } => "order with too many lines",
            Rejection::ItemWithoutPrice { .. } => "no price",
            Rejection::DiscountTooLarge { .. } | Rejection::NegativeDiscount { .. } => "discount not possible",
            Rejection::OverRefund { .. }
            | Rejection::RefundNotPositive { .. }
            | Rejection::RefundWithoutAmount
            | Rejection::UnknownOrderLine { .. }
            | Rejection::RefundQuantityTooSmall { .. }
            | Rejection::RefundQuantityTooLarge { .. }
            | Rejection::RefundOverCardPaid { .. } => "refund not possible",
            Rejection::TooManyTenders { .. }
            | Rejection::PaymentNotPositive { .. }
            | Rejection::PaymentNotDue { .. }
            | Rejection::PaymentOverDue { .. }
            | Rejection::PaymentShort { .. }
            | Rejection::NoPayments { .. }
            | Rejection::NothingDue { .. } => "payment not possible",
            Rejection::NumberExhausted { .. } => "number used too many times",
            Rejection::TotalTooLarge { .. } => "total over 1,000,000,000,000",
            _ => "refused by the shop's rules",
        }
    }

    pub(crate) fn on_line(self, index: usize) -> Rejection {
        Rejection::Line { line: index + 1, problem: Box::new(self) }
    }
}

impl Rejection {
    /// Adds "(did you mean 'MUG'?)" to an unknown SKU when `like` finds the catalog's SKU in
    /// other letter case (SKUs are matched exactly), also inside an order line's rejection.
    pub(crate) fn with_sku_hint(self, like: &dyn Fn(&str) -> Option<String>) -> Rejection {
        let hint = |sku: &str| like(sku).map_or_else(String::new, |known| format!(" (did you mean '{known}'?)"));
        match self {
            Rejection::UnknownProduct { hint: h, sku } if h.is_empty() => {
                Rejection::UnknownProduct { hint: hint(&sku), sku }
            }
            Rejection::UnknownStockProduct { hint: h, sku } if h.is_empty() => {
                Rejection::UnknownStockProduct { hint: hint(&sku), sku }
            }
            Rejection::Line { line, problem } => {
                Rejection::Line { line, problem: Box::new(problem.with_sku_hint(like)) }
            }
            other => other,
        }
    }
}
