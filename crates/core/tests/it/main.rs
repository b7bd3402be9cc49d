//! Integration tests of `countertop-core` through its public API only.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod disk_full;
mod golden;
mod hostile;
mod import;
mod model;
mod replica;
mod seams;
mod store;
mod trust;

use countertop_core::{
    AddCustomer, AddProduct, Command, Entity, LineInput, MoneyInput, OpenShop, Order, Outcome, PlaceOrder, Request,
    WriteStore,
};
use rust_decimal::Decimal;

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

pub fn open_shop() -> Command {
    Command::OpenShop(OpenShop {
        name: "Corner Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: dec("0.2"),
    })
}

pub fn add_product(sku: &str, name: &str, price: &str) -> Command {
    Command::AddProduct(AddProduct {
        sku: sku.into(),
        name: name.into(),
        unit_price: MoneyInput::new(dec(price)),
        tax_rate: None,
        image: None,
    })
}

pub fn add_customer(name: &str) -> Command {
    Command::AddCustomer(AddCustomer { name: name.into(), ..Default::default() })
}

pub fn place(customer: Option<&str>, lines: &[(&str, i64)]) -> Command {
    Command::PlaceOrder(PlaceOrder {
        order: None,
        customer: customer.map(str::to_owned),
        lines: lines
            .iter()
            .map(|(sku, quantity)| LineInput::Product { sku: (*sku).into(), quantity: *quantity, unit_price: None })
            .collect(),
        discount: None,
        note: None,
        payment_method: Some("card".into()),
        at: None,
        payments: Vec::new(),
        invoice: false,
    })
}

/// A store in a fresh temporary directory with a shop, a mug (8.00) and a tea towel (4.50).
pub fn shop() -> (tempfile::TempDir, WriteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = WriteStore::open(dir.path()).unwrap();
    for command in [open_shop(), add_product("MUG", "Enamel mug", "8.00"), add_product("TEA", "Tea towel", "4.50")] {
        store.execute(Request::new(command)).unwrap();
    }
    (dir, store)
}

pub fn order_of(outcome: &Outcome) -> &Order {
    match &outcome.entity {
        Entity::Order(order) => order,
        other => panic!("expected an order, got {other:?}"),
    }
}
