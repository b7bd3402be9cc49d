//! Model-based test: random command sequences run against the real write store and against a
//! plain in-memory model of the shop written from the rules as a shop owner states them, then
//! compared after every step — including across reopening the store and replaying old command
//! ids. `COUNTERTOP_SEED` replays a sequence; `COUNTERTOP_HEAVY=1` runs longer ones.

use std::collections::BTreeMap;

use countertop_core::{
    CancelOrder, Command, DeliverOrder, Error, LineInput, MoneyInput, OrderStatus, PlaceOrder, RefundOrder, Request,
    ShipOrder, UpdateProduct, WriteStore,
};
use rust_decimal::Decimal;

use super::add_product;

#[derive(Clone, Debug, PartialEq)]
struct ModelOrder {
    total: Decimal,
    status: OrderStatus,
    shipped: bool,
    refunded: Decimal,
}

/// The shop as a shop owner would describe it: prices, orders, what may happen to an order.
#[derive(Debug, Default)]
struct Model {
    prices: BTreeMap<&'static str, Decimal>,
    orders: BTreeMap<String, ModelOrder>,
    next_order: u64,
    events: u64,
}

impl Model {
    /// Whether the model accepts the command, applying it if so.
    fn apply(&mut self, command: &Command) -> bool {
        let accepted = match command {
            Command::PlaceOrder(place) => {
                let mut total = Decimal::ZERO;
                let mut ok = !place.lines.is_empty();
                for line in &place.lines {
                    let LineInput::Product { sku, quantity, .. } = line else { unreachable!() };
                    match self.prices.get(sku.as_str()) {
                        Some(price) if *quantity >= 1 => total += price * Decimal::from(*quantity),
                        _ => ok = false,
                    }
                }
                if ok {
                    let order =
                        ModelOrder { total, status: OrderStatus::Pending, shipped: false, refunded: Decimal::ZERO };
                    self.orders.insert(self.next_order.to_string(), order);
                    self.next_order += 1;
                }
                ok
            }
            Command::ShipOrder(ship) => match self.orders.get_mut(&ship.order) {
                Some(o) if o.status != OrderStatus::Cancelled && !o.shipped => {
                    o.shipped = true;
                    o.status = OrderStatus::Shipped;
                    true
                }
                _ => false,
            },
            Command::DeliverOrder(deliver) => match self.orders.get_mut(&deliver.order) {
                Some(o) if o.status == OrderStatus::Shipped => {
                    o.status = OrderStatus::Delivered;
                    true
                }
                _ => false,
            },
            Command::CancelOrder(cancel) => match self.orders.get_mut(&cancel.order) {
                Some(o) if o.status == OrderStatus::Pending => {
                    o.status = OrderStatus::Cancelled;
                    true
                }
                _ => false,
            },
            // The model's refunds name an amount (refunds by line have their own tests).
            Command::RefundOrder(refund) => match (self.orders.get_mut(&refund.order), &refund.amount) {
                (Some(o), Some(amount))
                    if o.status != OrderStatus::Cancelled
                        && amount.amount > Decimal::ZERO
                        && amount.amount <= o.total - o.refunded =>
                {
                    o.refunded += amount.amount;
                    true
                }
                _ => false,
            },
            Command::UpdateProduct(update) => {
                let price = update.unit_price.as_ref().map(|p| p.amount);
                match (self.prices.get_mut(update.sku.as_str()), price) {
                    (Some(p), Some(new)) if new >= Decimal::ZERO => {
                        *p = new;
                        true
                    }
                    _ => false,
                }
            }
            other => unreachable!("the generator does not make {other:?}"),
        };
        self.events += u64::from(accepted);
        accepted
    }
}

/// What the store says, in the model's terms.
fn observed(store: &WriteStore, model: &Model) -> (BTreeMap<String, ModelOrder>, BTreeMap<&'static str, Decimal>) {
    let orders = model
        .orders
        .keys()
        .map(|id| {
            let order = store.order_history(id, None).unwrap().unwrap_or_else(|| panic!("order {id} is missing")).order;
            let seen = ModelOrder {
                total: order.totals.total,
                status: order.status,
                shipped: order.shipment.is_some(),
                refunded: order.refunded(),
            };
            (id.clone(), seen)
        })
        .collect();
    let prices = model.prices.keys().map(|sku| (*sku, store.product(sku).unwrap().unwrap().unit_price)).collect();
    (orders, prices)
}

fn random_command(rng: &mut fastrand::Rng, model: &Model) -> Command {
    let some_order = |rng: &mut fastrand::Rng| {
        // Mostly real orders, sometimes one that does not exist.
        let n = model.next_order - 1001;
        if n == 0 || rng.u8(..10) == 0 { "999".to_owned() } else { (1001 + rng.u64(..n)).to_string() }
    };
    let skus = ["MUG", "TEA", "CARD", "NOPE"];
    match rng.u8(..20) {
        0..=6 => Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: None,
            lines: (0..rng.usize(0..=3))
                .map(|_| {
                    // Now and then a SKU the shop does not sell.
                    let known = if rng.u8(..10) == 0 { 4 } else { 3 };
                    LineInput::Product {
                        sku: skus[rng.usize(..known)].into(),
                        quantity: rng.i64(0..=5),
                        unit_price: None,
                    }
                })
                .collect(),
            discount: None,
            note: None,
            payment_method: Some("cash".into()),
            at: None,
            payments: Vec::new(),
            invoice: false,
        }),
        7..=9 => Command::ShipOrder(ShipOrder {
            order: some_order(rng),
            carrier: "DHL".into(),
            tracking: format!("JD{}", rng.u32(..)),
            at: None,
        }),
        10 | 11 => Command::DeliverOrder(DeliverOrder { order: some_order(rng), at: None }),
        12 | 13 => Command::CancelOrder(CancelOrder { order: some_order(rng), reason: "asked to".into(), at: None }),
        14..=17 => {
            let order = some_order(rng);
            // Often exactly what is left to refund (the edge), else anything from -1 to 30.
            let left = model.orders.get(&order).map(|o| o.total - o.refunded);
            let amount = match left {
                Some(left) if rng.bool() => left,
                _ => Decimal::new(rng.i64(-100..=3000), 2),
            };
            Command::RefundOrder(RefundOrder {
                order,
                amount: Some(MoneyInput::new(amount)),
                lines: Vec::new(),
                reason: "damaged".into(),
                at: None,
                tender: None,
                restock: false,
            })
        }
        _ => Command::UpdateProduct(UpdateProduct {
            sku: skus[rng.usize(..3)].into(),
            unit_price: Some(MoneyInput::new(Decimal::new(rng.i64(0..=2000), 2))),
            ..Default::default()
        }),
    }
}

#[test]
fn random_commands_agree_with_a_plain_model_across_reopens_and_replays() {
    let seed = std::env::var("COUNTERTOP_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x00c0_ffee_u64);
    let steps = if std::env::var_os("COUNTERTOP_HEAVY").is_some() { 5000 } else { 600 };
    eprintln!("seed {seed}, {steps} steps (COUNTERTOP_SEED reproduces)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let (dir, mut store) = super::shop();
    store.execute(Request::new(add_product("CARD", "Card", "2.50"))).unwrap();
    let mut model = Model { next_order: 1001, events: store.head().current(), ..Default::default() };
    for (sku, price) in [("MUG", "8.00"), ("TEA", "4.50"), ("CARD", "2.50")] {
        model.prices.insert(sku, Decimal::from_str_exact(price).unwrap());
    }
    // Accepted requests, to send again.
    let mut done: Vec<Request> = Vec::new();
    for step in 0..steps {
        let context = format!("step {step}, seed {seed}");
        match rng.u8(..40) {
            // Reopen: everything acknowledged is still there, and numbering carries on.
            0 => {
                drop(store);
                store = WriteStore::open(dir.path()).unwrap();
            }
            // An old command id again: its first answer, nothing appended.
            1 if !done.is_empty() => {
                let request = done[rng.usize(..done.len())].clone();
                let head = store.head().current();
                let outcome = store.execute(request).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert!(outcome.replayed, "{context}: not a replay: {outcome:?}");
                assert_eq!(store.head().current(), head, "{context}: a replay appended");
                continue;
            }
            _ => {}
        }
        let command = random_command(&mut rng, &model);
        let request = Request::new(command.clone());
        let expected = model.apply(&command);
        let actual = match store.execute(request.clone()) {
            Ok(_) => true,
            Err(Error::Rejected(_)) => false,
            Err(e) => panic!("{context}: a store error: {e}"),
        };
        assert_eq!(actual, expected, "{context}: the store and the model disagree on {command:?}");
        if expected {
            done.push(request);
        }
        assert_eq!(store.head().current(), model.events, "{context}: one event per accepted command");
        let (orders, prices) = observed(&store, &model);
        assert_eq!(orders, model.orders, "{context}");
        assert_eq!(prices, model.prices, "{context}");
    }
    assert_eq!(store.verify().unwrap().first_bad, None);
}
