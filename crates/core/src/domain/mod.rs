//! The shop's rules as pure functions: `decide(&State, &Command) -> Result<Vec<Event>, Rejection>`
//! and `evolve(State, &Event) -> State`. No I/O, no clock, no randomness.
//!
//! [`State`] is the part of the world a decision needs: the shop settings, the products,
//! customers and orders a command refers to ([`Command::references`]), the next free numbers,
//! and the current time. Tests build it from past events; the write store loads just the slice
//! a command names from its state tables, so deciding never scans the log.

mod admit;
mod catalog;
mod clock;
mod conflicts;
mod customers;
mod devices;
mod drawer;
mod event;
mod imports;
mod orders;
mod payments;
mod rejection;
mod returns;
mod shop;
mod stock;
mod text;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use admit::amounts_in_range;
pub use admit::{Inadmissible, admissible};
pub use catalog::{
    AddProduct, Product, ProductAdded, ProductArchived, ProductClassified, ProductImageChanged, ProductRenamed,
    ProductRepriced, ProductRestored, UpdateProduct,
};
pub(crate) use catalog::{edited as edited_product, fold as fold_product};
pub(crate) use clock::wins;
pub use clock::{MAX_STAMP_AHEAD, Stamp, Stamps};
pub use conflicts::{Conflict, Known, OrderConflictsResolved, ResolveConflicts};
pub(crate) use customers::fold as fold_customer;
pub use customers::{AddCustomer, Customer, CustomerDetailsChanged, CustomerRegistered, UpdateCustomer};
pub use devices::{DeviceAdmitted, DeviceRetired, LegacyTip};
pub use drawer::{DrawerMove, DrawerRecorded, RecordDrawer};
pub use event::{DecodeError, EVENT_TYPES, Event, StreamId};
pub(crate) use imports::suffixed;
pub use imports::{
    ImportOrder, ImportReturn, ImportedCancellation, ImportedCustomer, ImportedRefund, ImportedShipment, Source,
    customer_keys,
};
pub use orders::{
    CancelOrder, Cancellation, CustomerRef, DeliverOrder, DiscountInput, LineInput, MAX_LINES, MAX_QUANTITY, Order,
    OrderCancelled, OrderDelivered, OrderLine, OrderPlaced, OrderRefunded, OrderShipped, OrderStatus, PlaceOrder,
    Refund, RefundLineInput, RefundOrder, RefundedLine, ShipOrder, Shipment, Totals, check_line, line_refund_value,
    refunded_units, tax_by_rate, totals,
};
pub(crate) use orders::{Lifecycle, lifecycle, placed};
pub use payments::{
    MAX_TENDERS, OrderPaid, PayOrder, Payment, PaymentInput, Tender, main_tender, paid as paid_by,
    summary as payment_summary,
};
pub use rejection::Rejection;
pub use returns::{RecordReturn, Return, ReturnRecorded};
pub(crate) use shop::apply_change as apply_shop_change;
pub use shop::{ChangeShopSettings, OpenShop, Shop, ShopOpened, ShopSettingsChanged, business_day};
pub use stock::{CountStock, MAX_ON_HAND, ProductLowStockSet, ReceiveStock, StockCounted, StockReceived};
pub(crate) use text::required as required_text;
pub use text::{EMAIL_MAX, ID_MAX, NAME_MAX, NOTE_MAX, PATH_MAX, PHONE_MAX, REASON_MAX, SHORT_MAX, SKU_MAX};

/// Checks an id (customer id, order number) as the rules would: for importers that leave out
/// what the rules would refuse instead of refusing a whole document for it.
pub(crate) fn check_id(field: &'static str, id: &str) -> Result<String, Rejection> {
    text::id(field, id)
}

/// Checks an email address as the rules would.
pub(crate) fn check_email(email: &str) -> Result<Option<String>, Rejection> {
    text::email(Some(email))
}

/// Checks a one-line text (a name: [`NAME_MAX`]; anything else: [`SHORT_MAX`]) as the rules would.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<Option<String>, Rejection> {
    text::optional(field, Some(value), max)
}

/// The first number given to an order placed without one.
pub const FIRST_ORDER_NUMBER: u64 = 1001;
/// The first number given to a customer added without an id.
pub const FIRST_CUSTOMER_NUMBER: u64 = 1;

/// What a decision can see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The moment of deciding; commands without their own time happen now.
    pub now: DateTime<Utc>,
    pub shop: Option<Shop>,
    pub products: BTreeMap<String, Product>,
    pub customers: BTreeMap<String, Customer>,
    pub orders: BTreeMap<String, Order>,
    pub returns: BTreeMap<String, Return>,
    /// Where the shop's order sequence goes on: one past the last number it gave out. The
    /// number an order gets is the first from here not in use ([`State::free_order_id`]),
    /// so numbers that imports or people chose are skipped, never taken.
    pub next_order_number: u64,
    /// The same for customer ids.
    pub next_customer_number: u64,
    /// This device's till code once it has joined a shop with others (`B`): numbers it gives
    /// out are then `B-1042`, so two tills apart never give the same number, and only its own
    /// numbers move its sequences. `None` for a shop on one device: plain `1042`.
    pub till: Option<String>,
    /// The latest edit stamp seen, on a shop with several tills (`clock.rs`).
    pub clock: Option<Stamp>,
    /// The stamps of the edits that set each product's and customer's fields, by stream key
    /// (`product/SKU`, `customer/ID`): for the products and customers loaded.
    pub stamps: BTreeMap<String, Stamps>,
}

impl State {
    /// A world with nothing in it yet.
    pub fn empty(now: DateTime<Utc>) -> State {
        State {
            now,
            shop: None,
            products: BTreeMap::new(),
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            returns: BTreeMap::new(),
            next_order_number: FIRST_ORDER_NUMBER,
            next_customer_number: FIRST_CUSTOMER_NUMBER,
            till: None,
            clock: None,
            stamps: BTreeMap::new(),
        }
    }

    /// The number an order taken here without one gets: the first from
    /// `next_order_number` on that no order uses. (The write store loads the state so that
    /// this is already `next_order_number`.)
    pub fn free_order_id(&self) -> String {
        first_free(self.till.as_deref(), self.next_order_number, |id| self.orders.contains_key(id))
    }

    /// The id a customer added without one gets, likewise.
    pub fn free_customer_id(&self) -> String {
        first_free(self.till.as_deref(), self.next_customer_number, |id| self.customers.contains_key(id))
    }
}

/// The id number `n` of a sequence has on a device with till code `till`: `B-1042`, or
/// `1042` for a shop on one device.
pub fn numbered_id(till: Option<&str>, n: u64) -> String {
    match till {
        Some(till) => format!("{till}-{n}"),
        None => n.to_string(),
    }
}

/// The number in `id` when it is one `till`'s sequence gives out ([`numbered_id`]).
fn number_in(till: Option<&str>, id: &str) -> Option<u64> {
    let digits = match till {
        Some(till) => id.strip_prefix(till)?.strip_prefix('-')?,
        None => id,
    };
    digits.parse().ok()
}

/// The first id from number `n` on that is not taken.
fn first_free(till: Option<&str>, mut n: u64, taken: impl Fn(&str) -> bool) -> String {
    loop {
        let id = numbered_id(till, n);
        if !taken(&id) || n == u64::MAX {
            return id;
        }
        n += 1;
    }
}

/// Something a person (or an importer) asks the shop to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    OpenShop(OpenShop),
    ChangeShopSettings(ChangeShopSettings),
    AddProduct(AddProduct),
    UpdateProduct(UpdateProduct),
    AddCustomer(AddCustomer),
    UpdateCustomer(UpdateCustomer),
    PlaceOrder(PlaceOrder),
    ShipOrder(ShipOrder),
    DeliverOrder(DeliverOrder),
    CancelOrder(CancelOrder),
    RefundOrder(RefundOrder),
    PayOrder(PayOrder),
    ResolveConflicts(ResolveConflicts),
    ReceiveStock(ReceiveStock),
    CountStock(CountStock),
    RecordDrawer(RecordDrawer),
    RecordReturn(RecordReturn),
    ImportOrder(Box<ImportOrder>),
    ImportReturn(ImportReturn),
}

/// The products, customers and orders a command refers to, by the keys it names
/// (trimmed as the rules trim them): what the write store loads into [`State`] so that
/// `decide` on that slice answers as it would on the whole shop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    pub products: Vec<String>,
    pub customers: Vec<String>,
    pub orders: Vec<String>,
    pub returns: Vec<String>,
    /// Customers found by [`customer_keys`]: every customer with that key is loaded.
    pub customer_keys: Vec<String>,
    /// Orders whose number may be taken: when it is, `N-2`, `N-3`, … are loaded up to the
    /// first free one.
    pub order_alternatives: Vec<String>,
    /// The same for returns.
    pub return_alternatives: Vec<String>,
    /// The command may take the next order number: the store sets `next_order_number` to
    /// the first free one.
    pub order_number: bool,
    /// The same for customer ids.
    pub customer_number: bool,
}

impl References {
    fn imported_customer(&mut self, customer: Option<&ImportedCustomer>) {
        let Some(customer) = customer else { return };
        match (&customer.id, customer.key()) {
            (Some(id), _) => self.customers.push(id.trim().to_owned()),
            (None, Some(key)) => {
                self.customer_keys.push(key);
                self.customer_number = true;
            }
            (None, None) => {}
        }
    }
}

impl Command {
    /// What a decision on this command needs loaded into [`State`].
    pub fn references(&self) -> References {
        let mut refs = References::default();
        let key = |s: &str| s.trim().to_owned();
        match self {
            Command::OpenShop(_) | Command::ChangeShopSettings(_) => {}
            Command::AddProduct(c) => refs.products.push(key(&c.sku)),
            Command::UpdateProduct(c) => refs.products.push(key(&c.sku)),
            Command::AddCustomer(c) => {
                refs.customers.extend(c.id.as_deref().map(key));
                refs.customer_number = c.id.is_none();
            }
            Command::UpdateCustomer(c) => refs.customers.push(key(&c.id)),
            Command::PlaceOrder(c) => {
                refs.orders.extend(c.order.as_deref().map(key));
                refs.order_number = c.order.is_none();
                refs.customers.extend(c.customer.as_deref().map(key));
                for line in &c.lines {
                    if let LineInput::Product { sku, .. } = line {
                        refs.products.push(key(sku));
                    }
                }
            }
            Command::ShipOrder(c) => refs.orders.push(key(&c.order)),
            Command::DeliverOrder(c) => refs.orders.push(key(&c.order)),
            Command::CancelOrder(c) => refs.orders.push(key(&c.order)),
            Command::RefundOrder(c) => refs.orders.push(key(&c.order)),
            Command::PayOrder(c) => refs.orders.push(key(&c.order)),
            Command::ResolveConflicts(c) => refs.orders.push(key(&c.order)),
            Command::ReceiveStock(c) => refs.products.push(key(&c.sku)),
            Command::CountStock(c) => refs.products.push(key(&c.sku)),
            Command::RecordDrawer(_) => {}
            Command::RecordReturn(c) => {
                refs.returns.push(key(&c.id));
                refs.customers.extend(c.customer.as_deref().map(key));
                for line in &c.lines {
                    if let LineInput::Product { sku, .. } = line {
                        refs.products.push(key(sku));
                    }
                }
            }
            Command::ImportOrder(c) => {
                refs.orders.push(key(&c.source.number));
                refs.order_alternatives.push(key(&c.source.number));
                refs.imported_customer(c.customer.as_ref());
            }
            Command::ImportReturn(c) => {
                refs.returns.push(key(&c.source.number));
                refs.return_alternatives.push(key(&c.source.number));
                refs.imported_customer(c.customer.as_ref());
            }
        }
        refs
    }

    /// The stream the command acts on, when it names one (for expected-version checks).
    /// `None` for commands that create a stream whose id is not known before deciding.
    pub fn target(&self) -> Option<StreamId> {
        let key = |s: &str| s.trim().to_owned();
        match self {
            Command::OpenShop(_) | Command::ChangeShopSettings(_) => Some(StreamId::Shop),
            Command::AddProduct(c) => Some(StreamId::Product(key(&c.sku))),
            Command::UpdateProduct(c) => Some(StreamId::Product(key(&c.sku))),
            Command::AddCustomer(c) => c.id.as_deref().map(|id| StreamId::Customer(key(id))),
            Command::UpdateCustomer(c) => Some(StreamId::Customer(key(&c.id))),
            Command::PlaceOrder(c) => c.order.as_deref().map(|id| StreamId::Order(key(id))),
            Command::ShipOrder(c) => Some(StreamId::Order(key(&c.order))),
            Command::DeliverOrder(c) => Some(StreamId::Order(key(&c.order))),
            Command::CancelOrder(c) => Some(StreamId::Order(key(&c.order))),
            Command::RefundOrder(c) => Some(StreamId::Order(key(&c.order))),
            Command::PayOrder(c) => Some(StreamId::Order(key(&c.order))),
            Command::ResolveConflicts(c) => Some(StreamId::Order(key(&c.order))),
            Command::ReceiveStock(c) => Some(StreamId::Product(key(&c.sku))),
            Command::CountStock(c) => Some(StreamId::Product(key(&c.sku))),
            Command::RecordDrawer(c) => c.day.map(StreamId::Drawer),
            Command::RecordReturn(c) => Some(StreamId::Return(key(&c.id))),
            // Where it lands (its number, or `N-2` …) is decided with the state.
            Command::ImportOrder(c) => Some(StreamId::Order(key(&c.source.number))),
            Command::ImportReturn(c) => Some(StreamId::Return(key(&c.source.number))),
        }
    }
}

/// Decides what happens when `command` meets `state`: the events to record, or why not. On a
/// shop with several tills, product and customer edits carry one [`Stamp`] per command.
pub fn decide(state: &State, command: &Command) -> Result<Vec<Event>, Rejection> {
    let mut events = rules(state, command)?;
    if let Some(till) = &state.till {
        let stamp = clock::next(state.clock.as_ref(), state.now, till);
        for event in &mut events {
            stamp_edit(state, event, &stamp);
        }
    }
    Ok(events)
}

/// Puts `stamp` on a product or customer edit (and says which fields a customer edit changed).
fn stamp_edit(state: &State, event: &mut Event, stamp: &Stamp) {
    let slot = match event {
        Event::ProductAdded(e) => &mut e.stamp,
        Event::ProductRenamed(e) => &mut e.stamp,
        Event::ProductRepriced(e) => &mut e.stamp,
        Event::ProductImageChanged(e) => &mut e.stamp,
        Event::ProductArchived(e) => &mut e.stamp,
        Event::ProductRestored(e) => &mut e.stamp,
        Event::ProductClassified(e) => &mut e.stamp,
        Event::ProductLowStockSet(e) => &mut e.stamp,
        Event::CustomerRegistered(e) => &mut e.stamp,
        Event::CustomerDetailsChanged(e) => {
            let before = state.customers.get(&e.customer.id);
            e.changed = customers::FIELDS
                .iter()
                .filter(|f| before.is_none_or(|b| customers::field(b, f) != customers::field(&e.customer, f)))
                .map(|f| (*f).to_owned())
                .collect();
            &mut e.stamp
        }
        _ => return,
    };
    *slot = Some(stamp.clone());
}

/// Product and customer edits of a shop with several tills, for the entity folds: whether the
/// edit of `field` stamped `stamp` in `event`'s stream wins (latest stamp per field), moving the
/// clock past it.
fn edit<'s>(state: &'s mut State, event: &Event) -> impl FnMut(&str, Option<&Stamp>) -> bool + 's {
    let key = event.stream().to_key();
    let (clock, stamps) = (&mut state.clock, &mut state.stamps);
    move |field, stamp| {
        clock::observe(clock, stamp);
        stamp.is_none() || clock::wins(stamps.entry(key.clone()).or_default(), field, stamp)
    }
}

fn rules(state: &State, command: &Command) -> Result<Vec<Event>, Rejection> {
    let Some(shop) = state.shop.as_ref() else {
        return match command {
            Command::OpenShop(c) => shop::open(None, c).map(|e| vec![Event::ShopOpened(e)]),
            _ => Err(Rejection::ShopNotSetUp),
        };
    };
    let product = |sku: &str| state.products.get(sku.trim());
    let order = |id: &str| state.orders.get(id.trim());
    match command {
        Command::OpenShop(c) => shop::open(Some(shop), c).map(|e| vec![Event::ShopOpened(e)]),
        Command::ChangeShopSettings(c) => {
            Ok(shop::change(Some(shop), c)?.map(Event::ShopSettingsChanged).into_iter().collect())
        }
        Command::AddProduct(c) => catalog::add(shop, product(&c.sku), c),
        Command::UpdateProduct(c) => catalog::update(shop, product(&c.sku), c),
        Command::AddCustomer(c) => {
            let existing = c.id.as_deref().and_then(|id| state.customers.get(id.trim()));
            customers::add(existing, state.free_customer_id(), c)
        }
        Command::UpdateCustomer(c) => customers::update(state.customers.get(c.id.trim()), c),
        Command::PlaceOrder(c) => orders::place(
            orders::PlaceContext {
                shop,
                products: &state.products,
                customers: &state.customers,
                existing: c.order.as_deref().and_then(order),
                next_id: state.free_order_id(),
                now: state.now,
            },
            c,
        ),
        Command::ShipOrder(c) => orders::ship(order(&c.order), c, state.now),
        Command::DeliverOrder(c) => orders::deliver(order(&c.order), c, state.now),
        Command::CancelOrder(c) => orders::cancel(order(&c.order), c, state.till.is_some(), state.now),
        Command::RefundOrder(c) => orders::refund(shop, order(&c.order), c, state.now),
        Command::PayOrder(c) => orders::pay(shop, order(&c.order), c, state.now),
        Command::ResolveConflicts(c) => conflicts::resolve(order(&c.order), c, state.now),
        Command::ReceiveStock(c) => stock::receive(product(&c.sku), c, state.now),
        Command::CountStock(c) => stock::count(product(&c.sku), c, state.now),
        Command::RecordDrawer(c) => drawer::record(shop, c, state.now),
        Command::RecordReturn(c) => returns::record(
            returns::ReturnContext {
                shop,
                products: &state.products,
                customers: &state.customers,
                existing: state.returns.get(c.id.trim()),
                now: state.now,
            },
            c,
        ),
        Command::ImportOrder(c) => imports::import_order(state, shop, c),
        Command::ImportReturn(c) => imports::import_return(state, shop, c),
    }
}

/// Applies one event to the state.
pub fn evolve(mut state: State, event: &Event) -> State {
    apply(&mut state, event);
    state
}

/// [`evolve`] in place, for folding many events without moving the state each time.
pub fn apply(state: &mut State, event: &Event) {
    match event {
        Event::ShopOpened(e) => state.shop = Some(e.shop.clone()),
        Event::ShopSettingsChanged(e) => {
            if let Some(shop) = &mut state.shop {
                shop::apply_change(shop, e);
            }
        }
        Event::ProductAdded(ProductAdded { product: Product { sku, .. }, .. })
        | Event::ProductRenamed(ProductRenamed { sku, .. })
        | Event::ProductRepriced(ProductRepriced { sku, .. })
        | Event::ProductImageChanged(ProductImageChanged { sku, .. })
        | Event::ProductArchived(ProductArchived { sku, .. })
        | Event::ProductRestored(ProductRestored { sku, .. })
        | Event::ProductClassified(ProductClassified { sku, .. })
        | Event::ProductLowStockSet(ProductLowStockSet { sku, .. }) => {
            let product = state.products.get(sku).cloned();
            if let Some(product) = catalog::fold(product, event, edit(state, event)) {
                state.products.insert(sku.clone(), product);
            }
        }
        // How many are on hand is the read side's; the product row does not change.
        Event::StockReceived(_) | Event::StockCounted(_) => {}
        // The drawer's sums are the cash-up read model's.
        Event::DrawerRecorded(_) => {}
        // The roster is the sync layer's (`store/trust.rs`); no decision reads it.
        Event::DeviceAdmitted(_) | Event::DeviceRetired(_) => {}
        Event::CustomerRegistered(CustomerRegistered { customer: Customer { id, .. }, .. })
        | Event::CustomerDetailsChanged(CustomerDetailsChanged { customer: Customer { id, .. }, .. }) => {
            if let Event::CustomerRegistered(e) = event
                && e.numbered
            {
                bump(&mut state.next_customer_number, state.till.as_deref(), id);
            }
            let customer = state.customers.get(id).cloned();
            if let Some(customer) = customers::fold(customer, event, edit(state, event)) {
                state.customers.insert(id.clone(), customer);
            }
        }
        Event::OrderPlaced(e) => {
            if e.numbered {
                bump(&mut state.next_order_number, state.till.as_deref(), &e.order);
            }
            state.orders.insert(e.order.clone(), orders::placed(e));
        }
        Event::ReturnRecorded(e) => {
            state.returns.insert(e.record.id.clone(), e.record.clone());
        }
        Event::OrderShipped(_)
        | Event::OrderDelivered(_)
        | Event::OrderCancelled(_)
        | Event::OrderRefunded(_)
        | Event::OrderPaid(_)
        | Event::OrderConflictsResolved(_) => {
            if let StreamId::Order(id) = event.stream()
                && let Some(order) = state.orders.get_mut(&id)
            {
                order.lifecycle().apply(event);
            }
        }
    }
}

/// Moves a sequence past a number it gave out. Numbers given by people or imports do not
/// move it (an import of invoice 543990 must not make the next counter order 543991): the
/// sequence skips them when it reaches them instead. Nor do numbers another till gave out
/// (`A-1042` on till B): each till has its own sequence.
fn bump(next: &mut u64, till: Option<&str>, id: &str) {
    if let Some(n) = number_in(till, id) {
        *next = (*next).max(n.saturating_add(1));
    }
}
