//! `import` and `export` through the binary: an import killed half-way and run again ends as
//! one uninterrupted run; an export imports back into an empty shop with the same daily report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{fails, init_uk, json, ok};

fn data(name: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default().join("../../tests/data").join(name)
}

fn init_usd(d: &Path) {
    ok(d, &["init", "--name", "Superstore", "--currency", "USD", "--timezone", "America/New_York"]);
}

/// The log as content: stream, version, type and payload of every event (not the times or
/// hashes, which differ between runs by nature).
fn log_content(d: &Path) -> Vec<Value> {
    let events = json(d, &["events", "--limit", "1000000"]);
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::json!([e["stream"], e["version"], e["type"], e["payload"]]))
        .collect()
}

fn daily(d: &Path, from: &str, to: &str) -> Value {
    json(d, &["report", "revenue", "--from", from, "--to", to])["value"].clone()
}

#[test]
fn an_interrupted_import_run_again_equals_one_uninterrupted_run() {
    let file = data("superstore.csv.gz");
    let whole = tempfile::tempdir().unwrap();
    init_usd(whole.path());
    let report = json(whole.path(), &["import", file.to_str().unwrap(), "--format", "superstore"]);
    assert_eq!(report["reconciles"], true);

    let cut = tempfile::tempdir().unwrap();
    init_usd(cut.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_countertop"))
        .args(["--data", cut.path().to_str().unwrap(), "import", file.to_str().unwrap(), "--format", "superstore"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    let partial = json(cut.path(), &["status"])["head"].as_u64().unwrap();
    let again = json(cut.path(), &["import", file.to_str().unwrap(), "--format", "superstore"]);
    assert_eq!(again["reconciles"], true);
    assert_eq!(again["imported_net"], report["imported_net"]);
    eprintln!("killed mid-import: {killed}; {partial} events were in before the rerun");

    let (cut_log, whole_log) = (log_content(cut.path()), log_content(whole.path()));
    assert_eq!(cut_log.len(), whole_log.len());
    if let Some(i) = (0..cut_log.len()).find(|&i| cut_log[i] != whole_log[i]) {
        panic!("event {} differs:\n{}\n{}", i + 1, cut_log[i], whole_log[i]);
    }
    assert_eq!(daily(cut.path(), "2014-01-01", "2017-12-31"), daily(whole.path(), "2014-01-01", "2017-12-31"));
    assert!(ok(cut.path(), &["verify"]).contains("Read models OK"));
}

#[test]
fn an_export_imports_back_with_the_same_daily_report() {
    let shop = super::shop();
    let d = shop.path();
    ok(d, &["customer", "add", "--name", "=HYPERLINK(\"http://evil\")", "--email", "eve@example.org"]);
    ok(
        d,
        &[
            "order",
            "place",
            "--customer",
            "2",
            "--line",
            "MUG:2",
            "--item",
            "-20% gift wrap:1@1.50",
            "--discount",
            "1.00",
            "--at",
            "2024-03-01 10:00",
            "--note",
            "+ fragile",
            "--payment",
            "card",
        ],
    );
    ok(d, &["order", "place", "--customer", "1", "--line", "TEA:3", "--at", "2024-03-02 01:30"]);
    ok(d, &["order", "refund", "1002", "--amount", "4.50", "--reason", "@one torn"]);
    ok(d, &["order", "place", "--line", "MUG:1", "--at", "2024-03-03 12:00"]);
    ok(d, &["order", "ship", "1003", "--carrier", "Royal Mail", "--tracking", "RM1"]);
    ok(d, &["order", "deliver", "1003"]);
    ok(d, &["order", "place", "--line", "TEA:1", "--at", "2024-03-04 12:00"]);
    ok(d, &["order", "refund", "1004", "--amount", "1.00", "--reason", "late"]);
    ok(d, &["order", "cancel", "1004", "--reason", "never sent"]);
    let csv = d.join("orders.csv");
    let exported =
        json(d, &["export", "orders", "--from", "2024-03-01", "--to", "2024-03-31", "--out", csv.to_str().unwrap()]);
    assert_eq!(exported["summary"]["orders"], 4);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains("'=HYPERLINK"), "formula cells are neutralised:\n{text}");
    assert!(
        text.contains("'-20% gift wrap") && text.contains("'+ fragile") && text.contains("Refund: @one torn"),
        "{text}"
    );
    assert!(text.contains(",-1,4.50,-4.50,"), "numbers stay numbers:\n{text}");

    let copy = tempfile::tempdir().unwrap();
    let c = copy.path();
    init_uk(c, "Copy");
    let report = json(c, &["import", csv.to_str().unwrap()]);
    assert_eq!(report["reconciles"], true, "{report}");
    assert_eq!(report["rejected"], Value::Array(vec![]), "{report}");
    assert_eq!(daily(c, "2024-02-25", "2024-03-31"), daily(d, "2024-02-25", "2024-03-31"));
    let original = json(d, &["order", "show", "1001"])["order"].clone();
    let copied = json(c, &["order", "show", "1001"])["order"].clone();
    assert_eq!(copied["totals"], original["totals"]);
    assert_eq!(copied["customer"]["name"], "=HYPERLINK(\"http://evil\")", "the apostrophe comes off again");
    assert_eq!(copied["lines"][1]["name"], "-20% gift wrap");
    assert_eq!(copied["payment_method"], "card", "the payment travels in its column");
    // What was still to ship is still to ship; delivered goods are closed business, with the
    // delivery kept; a cancellation stays one.
    assert_eq!(copied["status"], "pending");
    let delivered = json(c, &["order", "show", "1003"])["order"].clone();
    assert_eq!((&delivered["status"], delivered["delivered_at"].is_string()), (&serde_json::json!("completed"), true));
    assert_eq!(json(c, &["order", "show", "1004"])["order"]["status"], "cancelled");
}

#[test]
fn bad_import_files_are_refused_with_what_to_do() {
    let shop = super::shop();
    let d = shop.path();
    let file = d.join("other.csv");
    std::fs::write(&file, "Invoice,When,Qty,Price,Item\n1,2024-03-01 10:00,2,3.50,Mug\n").unwrap();
    fails(
        d,
        &["import", file.to_str().unwrap()],
        1,
        "the file has no 'order' column; name the column that holds it with --map order=COLUMN (its columns are: Invoice, When, Qty, Price, Item)",
    );
    let mapped = json(
        d,
        &[
            "import",
            file.to_str().unwrap(),
            "--map",
            "order=Invoice",
            "--map",
            "date=When",
            "--map",
            "quantity=Qty",
            "--map",
            "unit_price=Price",
            "--map",
            "product=Item",
        ],
    );
    assert_eq!((mapped["orders"].as_u64(), mapped["reconciles"].as_bool()), (Some(1), Some(true)));
    fails(
        d,
        &["import", file.to_str().unwrap(), "--format", "online-retail"],
        1,
        "this is not a UCI Online Retail export: it has no 'InvoiceNo' column (its columns are: Invoice, When, Qty, Price, Item); check --format",
    );
    fails(
        d,
        &["import", file.to_str().unwrap(), "--map", "orders=Invoice"],
        2,
        "--map: 'orders' is not a field; use one of: order, date, customer, customer_id, email, sku, product, quantity, unit_price, line_total, country, note, status, carrier, tracking, tax_rate, discount, payment",
    );

    let messy = d.join("messy.csv");
    std::fs::write(&messy, "order,date,product,quantity,unit_price\nA1,2024-03-01 10:00,Mug,two,3.50\nA2,yesterday,Mug,1,3.50\nA3,2024-03-01 10:00,Mug,1,3.50\n").unwrap();
    let report = json(d, &["import", messy.to_str().unwrap()]);
    let reasons: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        reasons,
        [
            (2, "quantity 'two' is not a whole number".to_owned()),
            (3, "date 'yesterday' is not a date and time such as 2011-12-09 12:50:00".to_owned())
        ]
    );
    assert_eq!(report["imported_lines"], 1);
}
