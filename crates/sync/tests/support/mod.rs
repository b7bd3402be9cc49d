//! What the sync tests share: a shop of its own in a folder (selling a mug at 8.00, prices
//! including 20 % tax, not joined to any hub yet), and a sale of one mug.

#![allow(dead_code, reason = "each test file uses what it needs")]

use countertop_core::{AddProduct, Command, Decimal, LineInput, MoneyInput, OpenShop, PlaceOrder, Request, WriteStore};

pub fn shop(dir: &std::path::Path) -> WriteStore {
    let store = WriteStore::open(dir).unwrap();
    open_shop(&store);
    store
}

/// Opens the shop in `store` (a folder with nothing in it yet) and adds the mug.
pub fn open_shop(store: &WriteStore) {
    store
        .execute(Request::new(Command::OpenShop(OpenShop {
            name: "Corner".into(),
            currency: "GBP".into(),
            time_zone: "Europe/London".into(),
            day_start: "04:00".into(),
            prices_include_tax: true,
            default_tax_rate: Decimal::new(2, 1),
        })))
        .unwrap();
    store
        .execute(Request::new(Command::AddProduct(AddProduct {
            sku: "MUG".into(),
            name: "Mug".into(),
            unit_price: MoneyInput::new(Decimal::new(800, 2)),
            tax_rate: None,
            image: None,
        })))
        .unwrap();
}

/// Sells one mug, by card; returns the order's number.
pub fn place(store: &WriteStore) -> String {
    sell(store, 1)
}

/// Sells `quantity` mugs, by card; returns the order's number.
pub fn sell(store: &WriteStore, quantity: i64) -> String {
    let outcome = store
        .execute(Request::new(Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: None,
            lines: vec![LineInput::Product { sku: "MUG".into(), quantity, unit_price: None }],
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
