//! Events written by an earlier version must keep loading.
//!
//! `tests/golden/write-v1.redb` is a write store made by the first version of the event
//! schema, holding every event type. It is committed and never regenerated: later versions
//! must open it, verify its hash chain, decode (upcast) every event and fold it to the same
//! shop. To make a new golden file for a new schema version, add a file next to it with
//! `COUNTERTOP_WRITE_GOLDEN=path cargo test -p countertop-core --test it golden::write -- --ignored`.
//!
//! `tests/golden/folder-2026-11/` is a whole data folder (write store, its journal, read store
//! and search index) as the version of 2026-11-29 left it: JSON events, state rows and views.
//! Later versions change how those are stored; opening this folder must migrate what has to be
//! migrated and rebuild what can be rebuilt, and answer the same. Made with
//! `COUNTERTOP_FOLDER_GOLDEN=dir cargo test -p countertop-core --test it golden::folder -- --ignored`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use countertop_core::{
    AddCustomer, CancelOrder, ChangeShopSettings, Command, Countertop, DeliverOrder, DiscountInput, EVENT_TYPES,
    Freshness, LineInput, MoneyInput, OrderStatus, Period, PlaceOrder, RecordReturn, RefundOrder, Request, ShipOrder,
    UpdateCustomer, UpdateProduct, WriteStore,
};

use super::{add_product, dec, open_shop};

/// Read at run time: cargo sets it for test processes, and a path baked in at compile time goes
/// stale when a shared target dir is reused by a clone elsewhere.
fn golden() -> PathBuf {
    golden_path("write-v1.redb")
}

fn golden_path(name: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default().join("tests/golden").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).expect("the golden folder is committed") {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_2026_11_data_folder_opens_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let shop = dir.path().join("shop");
    copy_dir(&golden_path("folder-2026-11"), &shop);
    let ct = Countertop::open(&shop).unwrap();
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(60), |_| {}));

    let report = ct.write().verify().unwrap();
    assert_eq!((report.first_bad, report.events), (None, 18));
    let status = ct.status().unwrap();
    assert_eq!((status.dead_letters, status.failing), (0, None));

    // The 9th of December 2011 in Dublin: three orders, one cancelled, 3.00 refunded, and the
    // return's credit.
    let day = chrono::NaiveDate::from_ymd_opt(2011, 12, 9).unwrap();
    let dashboard = ct.dashboard_with(Period::last_days(day, 1), 10).unwrap().value;
    let kpis = &dashboard.kpis;
    assert_eq!((kpis.orders, kpis.cancelled, kpis.unique_customers), (2, 1, 1));
    assert_eq!(kpis.gross, dec("28.30"));
    assert_eq!(kpis.refunds, dec("12.50"));
    assert_eq!(dashboard.top_products[0].name, "Blue enamel mug");

    let order = ct.order("1001", None, Duration::ZERO).unwrap().unwrap();
    assert_eq!(order.value.order.status, OrderStatus::Delivered);
    assert_eq!(order.value.order.lines.len(), 2);
    let hits = ct.search("lovelace", 0, 10).unwrap().value;
    assert!(hits.items.iter().any(|h| h.id == "1003"), "{hits:?}");

    let check = ct.verify_read_models(|_| {}).unwrap();
    assert!(check.matches, "{check:?}");

    // And the shop goes on.
    let next = ct.execute(Request::new(super::place(Some("1"), &[("MUG", 1)]))).unwrap();
    assert_eq!(super::order_of(&next).id, "1004");
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(60), |_| {}));
    assert!(ct.order("1004", None, Duration::ZERO).unwrap().is_some());
}

/// Writes a new golden data folder to the directory in `COUNTERTOP_FOLDER_GOLDEN` (which must
/// not exist). A tool, not a check: run by hand with `--ignored` before a storage format
/// changes.
#[test]
#[ignore = "writes a new golden folder; run by hand"]
fn folder() {
    let path = PathBuf::from(
        std::env::var("COUNTERTOP_FOLDER_GOLDEN").expect("set COUNTERTOP_FOLDER_GOLDEN to the folder to write"),
    );
    let dir = tempfile::tempdir().unwrap();
    write_golden(dir.path());
    let ct = Countertop::open(dir.path()).unwrap();
    let at = chrono::Utc.with_ymd_and_hms(2011, 12, 9, 15, 0, 0).unwrap();
    let credit = Command::RecordReturn(RecordReturn {
        id: "CN1".into(),
        customer: Some("1".into()),
        lines: vec![LineInput::Product { sku: "MUG".into(), quantity: 1, unit_price: None }],
        reason: "did not fit the shelf".into(),
        at: Some(at),
    });
    ct.execute(Request::new(credit)).unwrap();
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(60), |_| {}));
    drop(ct);
    copy_dir(dir.path(), &path);
}

#[test]
fn the_v1_golden_store_still_loads() {
    check_golden_store(&golden());
}

/// The same events written with long records compressed (`write-v2-packed.redb`, 2026-11-29).
#[test]
fn the_packed_golden_store_still_loads() {
    let path = golden_path("write-v2-packed.redb");
    let bytes = std::fs::read(&path).expect("the golden file is committed");
    // zstd frames' magic number: some records are stored compressed.
    assert!(bytes.windows(4).any(|w| w == [0x28, 0xB5, 0x2F, 0xFD]), "the file holds compressed records");
    check_golden_store(&path);
}

fn check_golden_store(path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(path, dir.path().join("write.redb")).expect("the golden file is committed");
    let store = WriteStore::open(dir.path()).unwrap();

    let report = store.verify().unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(report.events, 17);

    let events = store.events(1, 100).unwrap();
    let types: BTreeSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let all: BTreeSet<&str> = EVENT_TYPES.iter().map(|(name, _)| *name).filter(|n| types.contains(n)).collect();
    assert_eq!(types, all);
    assert_eq!(types.len(), 15, "every v1 event type is in the golden file");

    let shop = store.shop().unwrap().unwrap();
    assert_eq!((shop.name.as_str(), shop.currency.code()), ("Golden Shop", "GBP"));
    assert_eq!(shop.time_zone, chrono_tz::Europe::Dublin);

    let delivered = store.order_history("1001", None).unwrap().unwrap().order;
    assert_eq!(delivered.status, OrderStatus::Delivered);
    assert_eq!(delivered.totals.total, dec("19.80"));
    assert_eq!(delivered.totals.discount, dec("2.20"));
    assert_eq!(delivered.lines[1].name, "Gift wrap");
    assert_eq!(delivered.placed_at, Utc.with_ymd_and_hms(2011, 12, 9, 12, 50, 0).unwrap());
    let cancelled = store.order_history("1002", None).unwrap().unwrap().order;
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    let refunded = store.order_history("1003", None).unwrap().unwrap().order;
    assert_eq!(refunded.refunded(), dec("3.00"));
    assert_eq!(refunded.customer.unwrap().name, "Ada Lovelace");

    let mug = store.product("MUG").unwrap().unwrap();
    assert_eq!((mug.name.as_str(), mug.unit_price, mug.archived), ("Blue enamel mug", dec("9.5"), false));
    assert_eq!(store.customer("1").unwrap().unwrap().email.as_deref(), Some("ada@example.org"));

    // And the store goes on from there.
    let next = store.execute(Request::new(super::place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(super::order_of(&next).id, "1004");
}

/// Writes a new golden file to the path in `COUNTERTOP_WRITE_GOLDEN`. A tool, not a check:
/// run by hand with `--ignored` when a schema version changes.
#[test]
#[ignore = "writes a new golden file; run by hand"]
fn write() {
    let path = std::env::var("COUNTERTOP_WRITE_GOLDEN").expect("set COUNTERTOP_WRITE_GOLDEN to the file to write");
    let dir = tempfile::tempdir().unwrap();
    write_golden(dir.path());
    std::fs::copy(dir.path().join("write.redb"), path).unwrap();
}

fn write_golden(dir: &Path) {
    let store = WriteStore::open(dir).unwrap();
    let at = Utc.with_ymd_and_hms(2011, 12, 9, 12, 50, 0).unwrap();
    let order = |lines: Vec<LineInput>, customer: Option<&str>, discount: Option<DiscountInput>| {
        Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: customer.map(str::to_owned),
            lines,
            discount,
            note: Some("golden".into()),
            payment_method: Some("card".into()),
            at: Some(at),
            payments: Vec::new(),
            invoice: false,
        })
    };
    let mug = |quantity| LineInput::Product { sku: "MUG".into(), quantity, unit_price: None };
    let open = match open_shop() {
        Command::OpenShop(mut c) => {
            c.name = "Golden Shop".into();
            Command::OpenShop(c)
        }
        other => other,
    };
    let commands = vec![
        open,
        Command::ChangeShopSettings(ChangeShopSettings {
            time_zone: Some("Europe/Dublin".into()),
            ..Default::default()
        }),
        add_product("MUG", "Enamel mug", "8.00"),
        Command::UpdateProduct(UpdateProduct {
            sku: "MUG".into(),
            name: Some("Blue enamel mug".into()),
            unit_price: Some(MoneyInput::new(dec("9.50"))),
            image: Some("images/mug.png".into()),
            archived: Some(true),
            ..Default::default()
        }),
        Command::UpdateProduct(UpdateProduct { sku: "MUG".into(), archived: Some(false), ..Default::default() }),
        Command::AddCustomer(AddCustomer { name: "Ada Lovelace".into(), ..Default::default() }),
        Command::UpdateCustomer(UpdateCustomer {
            id: "1".into(),
            email: Some("ada@example.org".into()),
            ..Default::default()
        }),
        order(
            vec![
                mug(2),
                LineInput::Item {
                    sku: None,
                    name: "Gift wrap".into(),
                    quantity: 1,
                    unit_price: Some(MoneyInput::new(dec("3.00"))),
                    tax_rate: None,
                    total: None,
                },
            ],
            Some("1"),
            Some(DiscountInput::Percent(dec("10"))),
        ),
        Command::ShipOrder(ShipOrder {
            order: "1001".into(),
            carrier: "An Post".into(),
            tracking: "CP1".into(),
            at: Some(at),
        }),
        Command::DeliverOrder(DeliverOrder { order: "1001".into(), at: Some(at) }),
        order(vec![mug(1)], None, None),
        Command::CancelOrder(CancelOrder { order: "1002".into(), reason: "mistake".into(), at: Some(at) }),
        order(vec![mug(1)], Some("1"), Some(DiscountInput::Amount(MoneyInput::new(dec("1"))))),
        Command::RefundOrder(RefundOrder {
            order: "1003".into(),
            amount: Some(MoneyInput::new(dec("3"))),
            lines: Vec::new(),
            reason: "chipped".into(),
            at: Some(at),
            tender: None,
            restock: false,
        }),
    ];
    for command in commands {
        store.execute(Request::new(command)).unwrap();
    }
}
