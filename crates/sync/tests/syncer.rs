//! The background sync loop (`Syncer`, what the app runs) against a hub of its own: orders
//! taken on one till while both run arrive at the other without any `sync once`, and through
//! a hub that goes away and comes back.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::time::{Duration, Instant};

use countertop_core::{AddProduct, Command, Decimal, LineInput, MoneyInput, OpenShop, PlaceOrder, Request, WriteStore};
use countertop_sync::{Credentials, Hub, LocalHub, Syncer};

fn hub(url: &str) -> Hub {
    Hub { url: url.to_owned(), shop: "corner".into(), credentials: Credentials::None }
}

fn place(store: &WriteStore) -> String {
    let outcome = store
        .execute(Request::new(Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: None,
            lines: vec![LineInput::Product { sku: "MUG".into(), quantity: 1, unit_price: None }],
            discount: None,
            note: None,
            payment_method: Some("card".into()),
            at: None,
            payments: Vec::new(),
            invoice: false,
        })))
        .unwrap();
    outcome.stream.trim_start_matches("order/").to_owned()
}

/// Waits until `store` has order `id` (at most 20 s).
fn arrives(store: &WriteStore, id: &str) -> Duration {
    let started = Instant::now();
    while store.order_history(id, None).unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "order {id} did not arrive");
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

#[test]
fn orders_taken_while_both_tills_sync_arrive_and_survive_a_hub_restart() {
    let mut local = LocalHub::start().unwrap();
    let url = local.url();
    let a_dir = tempfile::tempdir().unwrap();
    let a = WriteStore::open(a_dir.path()).unwrap();
    a.execute(Request::new(Command::OpenShop(OpenShop {
        name: "Corner".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: Decimal::new(2, 1),
    })))
    .unwrap();
    a.execute(Request::new(Command::AddProduct(AddProduct {
        sku: "MUG".into(),
        name: "Mug".into(),
        unit_price: MoneyInput::new(Decimal::new(800, 2)),
        tax_rate: None,
        image: None,
    })))
    .unwrap();
    countertop_sync::join(&a, a_dir.path(), hub(&url), false, &mut |_| {}).unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    countertop_sync::join(&b, b_dir.path(), hub(&url), false, &mut |_| {}).unwrap();

    let syncers = [Syncer::start(a.clone(), hub(&url)).unwrap(), Syncer::start(b.clone(), hub(&url)).unwrap()];
    let from_a = place(&a);
    let from_b = place(&b);
    arrives(&b, &from_a);
    arrives(&a, &from_b);

    // The hub goes away: both keep taking orders, and say they are offline.
    local.stop();
    let offline = [place(&a), place(&b)];
    let started = Instant::now();
    while syncers.iter().any(|s| s.status().connected) {
        assert!(started.elapsed() < Duration::from_secs(30), "a till still says it is connected");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(syncers[0].status().problem.is_some());

    // It comes back: the loops reconnect by themselves and the orders cross.
    local.restart().unwrap();
    arrives(&b, &offline[0]);
    arrives(&a, &offline[1]);
    assert!(syncers.iter().all(|s| s.status().problem.is_none() && s.status().connected));
    // Each till records the hub's acknowledgement of its own orders (just after the other
    // till may already have them).
    let started = Instant::now();
    while [&a, &b].iter().any(|s| s.sync_state().unwrap().waiting > 0) {
        assert!(started.elapsed() < Duration::from_secs(20), "changes still wait to be sent");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(syncers);
    for store in [&a, &b] {
        assert_eq!(store.verify().unwrap().first_bad, None);
    }
}
