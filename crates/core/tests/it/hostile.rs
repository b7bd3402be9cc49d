//! Hostile text everywhere a user can type or import: what is refused is refused with a message
//! that names the field and the fix and writes nothing; what is accepted comes back exactly as
//! typed from the write store, the read models, search, an export, and an import of that
//! export — and the export never hands a spreadsheet a formula.

use std::path::Path;
use std::time::Duration;

use countertop_core::import::{ImportOptions, import};
use countertop_core::{
    AddCustomer, Command, Countertop, Decimal, Error, Freshness, LineInput, MoneyInput, OpenShop, Period, PlaceOrder,
    Request,
};

/// Accepted as they are: right-to-left text with its marks, emoji sequences, markup, formula
/// look-alikes, quotes and separators, the longest name allowed.
fn accepted() -> Vec<String> {
    vec![
        "\u{200F}كوب قهوة\u{200F}".to_owned(),
        "Mug ☕ 👩‍👩‍👧 🏳️‍🌈".to_owned(),
        "<script>alert(1)</script>".to_owned(),
        "<img src=x onerror=alert(1)>".to_owned(),
        "=HYPERLINK(\"http://evil.example\",\"click\")".to_owned(),
        "+44 20 7946 0000".to_owned(),
        "-2+3".to_owned(),
        "@SUM(A1:A9)".to_owned(),
        "O'Brien, \"the\" ; |pipe| \\back".to_owned(),
        "名".repeat(200),
    ]
}

fn shop(dir: &Path) -> Countertop {
    let ct = Countertop::open(dir).unwrap();
    let open = OpenShop {
        name: "Hostile".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: Decimal::ZERO,
    };
    ct.execute(Request::new(Command::OpenShop(open))).unwrap();
    ct
}

fn customer(name: &str) -> Command {
    Command::AddCustomer(AddCustomer { name: name.into(), ..Default::default() })
}

fn order(customer: Option<String>, item: &str, note: &str) -> Command {
    Command::PlaceOrder(PlaceOrder {
        order: None,
        customer,
        lines: vec![LineInput::Item {
            sku: None,
            name: item.into(),
            quantity: 1,
            unit_price: Some(MoneyInput::new(Decimal::new(250, 2))),
            tax_rate: None,
            total: None,
        }],
        discount: None,
        note: Some(note.into()),
        payment_method: Some("card".into()),
        at: None,
        payments: Vec::new(),
        invoice: false,
    })
}

#[test]
fn refused_text_names_the_field_and_the_fix_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ct = shop(dir.path());
    let head = ct.write().head().current();
    let cases = [
        (customer(&"x".repeat(201)), "name is 201 characters long; shorten it to at most 200"),
        (customer("Ada\u{0}Lovelace"), "name contains a control character (U+0000); remove it"),
        (customer("Ada\u{1b}[31mRed"), "name contains a control character (U+001B); remove it"),
        (customer("Ada\nLovelace"), "name contains a control character (U+000A); remove it"),
        (customer("invoice\u{202E}fdp.exe"), "name contains an invisible text-direction control (U+202E)"),
        (order(None, "Gift wrap", &"n".repeat(2001)), "note is 2001 characters long; shorten it to at most 2000"),
        (order(None, "Gift\u{2066}wrap", "fine"), "contains an invisible text-direction control (U+2066)"),
    ];
    for (command, expected) in cases {
        let err = ct.execute(Request::new(command)).unwrap_err();
        assert!(matches!(err, Error::Rejected(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{err} should say {expected:?}");
    }
    assert_eq!(ct.write().head().current(), head, "nothing was written");
}

#[test]
fn accepted_text_comes_back_exactly_everywhere_and_exports_never_as_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let ct = shop(dir.path());
    let names = accepted();
    let mut orders = Vec::new();
    for name in &names {
        let added = ct.execute(Request::new(customer(name))).unwrap();
        let countertop_core::Entity::Customer(c) = added.entity else { panic!("{added:?}") };
        assert_eq!(&c.name, name, "the write side's answer");
        let note = format!("{name}\nsecond line\t=1+1");
        let placed = ct.execute(Request::new(order(Some(c.id.clone()), name, &note))).unwrap();
        let countertop_core::Entity::Order(o) = placed.entity else { panic!("{placed:?}") };
        orders.push((o.id, c.id, name.clone(), note));
    }
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(30), |_| {}));

    // The read models hold the text as typed.
    for (id, customer_id, name, note) in &orders {
        let view = ct.order(id, None, Duration::ZERO).unwrap().unwrap().value.order;
        assert_eq!(view.customer.as_ref().map(|c| &c.name), Some(name));
        assert_eq!(view.lines[0].name, *name);
        assert_eq!(view.note.as_ref(), Some(note));
        let (info, _) = ct.customer_stats(customer_id).unwrap().value.unwrap();
        assert_eq!(&info.name, name);
    }
    // Searching for hostile text answers (hits or a typed error), never a panic; plain words
    // inside it are found.
    for name in &names {
        let _ = ct.search(name, 0, 10);
    }
    assert!(ct.search("script", 0, 10).unwrap().value.total >= 1);
    assert!(ct.search("HYPERLINK", 0, 10).unwrap().value.total >= 1);

    // The export: no cell a spreadsheet would run.
    let today = ct.today().unwrap();
    let mut csv = Vec::new();
    countertop_core::export::orders_csv(&ct, Period::last_days(today, 7), &mut csv).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let headers = reader.headers().unwrap().clone();
    let text_columns = ["customer", "product", "note", "order", "customer_id"];
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        rows += 1;
        for (column, cell) in headers.iter().zip(record.iter()) {
            if text_columns.contains(&column) {
                assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{column} cell {cell:?} is a formula");
            }
        }
    }
    assert_eq!(rows, names.len());

    // Imported into another shop, the export gives back every name and note exactly.
    let file = dir.path().join("export.csv");
    std::fs::write(&file, &csv).unwrap();
    let other = tempfile::tempdir().unwrap();
    let copy = shop(other.path());
    let report = import(copy.write(), &file, &ImportOptions::default(), |_| {}).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.orders, names.len() as u64);
    assert!(copy.wait_caught_up(Freshness::Tables, Duration::from_secs(30), |_| {}));
    for (id, _, name, note) in &orders {
        let view = copy.order(id, None, Duration::ZERO).unwrap().unwrap().value.order;
        assert_eq!(view.customer.as_ref().map(|c| &c.name), Some(name), "order {id}");
        assert_eq!(view.lines[0].name, *name, "order {id}");
        assert_eq!(view.note.as_ref(), Some(note), "order {id}");
    }
}
