//! Store tests that need to reach behind the public API: tampering with stored events and
//! throwing away the current-state tables.

use redb::{ReadableDatabase, TableDefinition};

use super::*;
use crate::domain::{AddProduct, OpenShop};
use crate::money::MoneyInput;

fn shop_with_products(dir: &Path, n: usize) -> WriteStore {
    let store = WriteStore::open(dir).unwrap();
    let open = OpenShop {
        name: "Corner Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: rust_decimal::Decimal::ZERO,
    };
    store.execute(Request::new(Command::OpenShop(open))).unwrap();
    for i in 0..n {
        let add = AddProduct {
            sku: format!("SKU{i}"),
            name: format!("Product {i}"),
            unit_price: MoneyInput::new(rust_decimal::Decimal::from(i)),
            tax_rate: None,
            image: None,
        };
        store.execute(Request::new(Command::AddProduct(add))).unwrap();
    }
    store
}

#[test]
fn verify_names_the_first_altered_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = shop_with_products(dir.path(), 5);
    assert_eq!(store.verify().unwrap().first_bad, None);
    {
        let txn = store.inner.db.get().unwrap().begin_write().unwrap();
        // Change one character inside event 4's JSON: still valid JSON, different bytes.
        let json = store.events(4, 1).unwrap();
        assert_eq!(json.len(), 1);
        log::testing::flip_byte(&txn, 4, 2, b'S').unwrap();
        txn.commit().unwrap();
    }
    let report = store.verify().unwrap();
    assert_eq!(report.events, 3, "events 1 to 3 still check out");
    let (position, problem) = report.first_bad.unwrap();
    assert_eq!(position, 4);
    assert!(problem.contains("altered"), "{problem}");
}

/// A state row that is not what the log makes of it (what an event folded in differently from
/// how it is recorded, or a tampered file, would leave) fails `verify`, naming it.
#[test]
fn verify_checks_the_current_state_against_a_fold_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = shop_with_products(dir.path(), 3);
    assert_eq!(store.verify().unwrap().first_bad, None);
    let other = store.product("SKU2").unwrap().unwrap();
    {
        let txn = store.inner.db.get().unwrap().begin_write().unwrap();
        let mut products = txn.open_table(state::PRODUCTS).unwrap();
        let row = products.get("SKU2").unwrap().unwrap().value().to_vec();
        products.insert("SKU1", row.as_slice()).unwrap();
        drop(products);
        txn.commit().unwrap();
    }
    assert_eq!(store.product("SKU1").unwrap().unwrap(), other, "the tampered row is what the store now says");
    let report = store.verify().unwrap();
    assert_eq!(report.events, 4, "the log itself checks out");
    let (_, problem) = report.first_bad.unwrap();
    assert!(problem.contains("products row 'SKU1' is not what the log makes of it"), "{problem}");
}

#[test]
fn lost_state_tables_are_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = shop_with_products(dir.path(), 3);
    let products = store.products().unwrap();
    let shop = store.shop().unwrap();
    {
        let txn = store.inner.db.get().unwrap().begin_write().unwrap();
        txn.delete_table(TableDefinition::<&str, &[u8]>::new("state_products")).unwrap();
        txn.delete_table(TableDefinition::<&str, &[u8]>::new("state_meta")).unwrap();
        txn.commit().unwrap();
    }
    drop(store);
    let store = WriteStore::open(dir.path()).unwrap();
    assert_eq!(store.products().unwrap(), products);
    assert_eq!(store.shop().unwrap(), shop);
    let txn = store.inner.db.get().unwrap().begin_read().unwrap();
    let events = txn.open_table(TableDefinition::<u64, &[u8]>::new("events")).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&events).unwrap(), 4, "the log itself was not touched");
}

#[test]
fn a_file_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(shop_with_products(dir.path(), 0));
    {
        let db = Database::create(dir.path().join(WRITE_STORE_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(FORMAT_TABLE).unwrap().insert("format", "countertop-write-store/9").unwrap();
        txn.commit().unwrap();
    }
    let err = WriteStore::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("format 'countertop-write-store/9'"), "{err}");
}

#[test]
fn a_panic_of_ours_is_a_bug_that_writes_nothing_not_damage() {
    // Was: any panic in a write transaction said "the write store … is damaged … restore it
    // from a backup", and hid where it happened.
    let dir = tempfile::tempdir().unwrap();
    let store = shop_with_products(dir.path(), 1);
    let head = store.head().current();
    let add = |sku: &str| {
        Command::AddProduct(AddProduct {
            sku: sku.into(),
            name: "Tea".into(),
            unit_price: MoneyInput::new(rust_decimal::Decimal::ONE),
            tax_rate: None,
            image: None,
        })
    };
    let err = store.execute(Request::with_id("test-panic", add("TEA"))).unwrap_err();
    assert_eq!(err.code(), "bug");
    let message = err.to_string();
    assert!(message.starts_with("Countertop hit a bug: a test panic while deciding (at "), "{message}");
    assert!(message.contains("writer.rs:"), "the location is kept: {message}");
    assert!(message.contains("nothing was written, and the shop can be used as before"), "{message}");
    assert!(!message.contains("damaged") && !message.contains("backup"), "{message}");
    let log = std::fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
    assert!(log.contains("a test panic while deciding") && log.contains("writer.rs:"), "{log}");
    // Nothing was written, and the store goes on.
    assert_eq!(store.head().current(), head);
    assert!(store.product("TEA").unwrap().is_none());
    store.execute(Request::new(add("TEA"))).unwrap();
    assert!(store.product("TEA").unwrap().is_some());
}
