//! Black-box tests of the `countertop` binary: exit codes, output and error messages, as a
//! shop owner (or a script) sees them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod reads;
mod sync;
mod transfer;

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn countertop(data: &Path, args: &[&str]) -> Run {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_countertop"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("COUNTERTOP_DATA")
        .output()
        .expect("the countertop binary runs");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs a command that must succeed and returns its stdout.
fn ok(data: &Path, args: &[&str]) -> String {
    let run = countertop(data, args);
    assert_eq!(run.status, 0, "countertop {args:?} failed:\n{}{}", run.stdout, run.stderr);
    run.stdout
}

/// Runs a command with `--json` that must succeed and returns the parsed output.
fn json(data: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(data, &all)).expect("valid JSON on stdout")
}

/// Runs a command that must fail with `status` and a stderr line of exactly `message`.
fn fails(data: &Path, args: &[&str], status: i32, message: &str) {
    let run = countertop(data, args);
    assert_eq!(run.status, status, "countertop {args:?}: stdout {:?}, stderr {:?}", run.stdout, run.stderr);
    assert_eq!(run.stderr.trim_end(), format!("error: {message}"), "countertop {args:?}");
}

/// Sets up a UK shop called `name`: GBP, London, prices include 20 % tax.
fn init_uk(d: &Path, name: &str) {
    ok(
        d,
        &[
            "init",
            "--name",
            name,
            "--currency",
            "GBP",
            "--timezone",
            "Europe/London",
            "--prices-include-tax",
            "--tax-rate",
            "20%",
        ],
    );
}

/// A shop with a mug (8.00), a tea towel (4.50) and customer 1, Ada Lovelace.
fn shop() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init_uk(d, "Corner Shop");
    ok(d, &["product", "add", "--sku", "MUG", "--name", "Enamel mug", "--price", "8.00"]);
    ok(d, &["product", "add", "--sku", "TEA", "--name", "Tea towel", "--price", "4.50"]);
    ok(d, &["customer", "add", "--name", "Ada Lovelace", "--email", "ada@example.org"]);
    dir
}

#[test]
fn place_ship_deliver() {
    let dir = shop();
    let d = dir.path();
    let placed = json(
        d,
        &["order", "place", "--customer", "1", "--line", "MUG:2", "--item", "Gift wrap:1@1.50", "--line", "TEA:1"],
    );
    let order = &placed["entity"];
    assert_eq!(order["id"], "1001");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["customer"]["name"], "Ada Lovelace");
    let names: Vec<&str> = order["lines"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Enamel mug", "Gift wrap", "Tea towel"], "lines in the order typed");
    assert_eq!(order["totals"]["total"], "22.00");
    assert_eq!(order["totals"]["tax"], "3.67");

    let shipped = json(d, &["order", "ship", "1001", "--carrier", "Royal Mail", "--tracking", "RM123456789GB"]);
    assert_eq!(shipped["entity"]["status"], "shipped");
    assert_eq!(shipped["entity"]["shipment"]["tracking"], "RM123456789GB");
    let delivered = json(d, &["order", "deliver", "1001"]);
    assert_eq!(delivered["entity"]["status"], "delivered");

    let shown = ok(d, &["order", "show", "1001"]);
    assert!(shown.contains("Order 1001  [delivered]"), "{shown}");
    assert!(shown.contains("Shipped") && shown.contains("Royal Mail, tracking RM123456789GB"), "{shown}");
    let types: Vec<String> = json(d, &["order", "show", "1001"])["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["order.placed", "order.shipped", "order.delivered"]);
}

#[test]
fn cancel_and_refund() {
    let dir = shop();
    let d = dir.path();
    ok(d, &["order", "place", "--line", "MUG:1"]);
    let cancelled = json(d, &["order", "cancel", "1001", "--reason", "changed their mind"]);
    assert_eq!(cancelled["entity"]["status"], "cancelled");
    fails(
        d,
        &["order", "ship", "1001", "--carrier", "DHL", "--tracking", "JD1"],
        1,
        "order 1001 is cancelled, so it cannot be shipped",
    );

    ok(d, &["order", "place", "--line", "MUG:2"]);
    let refunded = json(d, &["order", "refund", "1002", "--amount", "10", "--reason", "one mug chipped"]);
    assert_eq!(refunded["entity"]["refunds"][0]["amount"], "10.00");
    fails(
        d,
        &["order", "refund", "1002", "--amount", "6.01", "--reason", "the other one"],
        1,
        "refund 6.01 GBP is more than the 6.00 GBP still refundable on order 1002 (paid 16.00 GBP, already refunded 10.00 GBP)",
    );
    ok(d, &["order", "refund", "1002", "--amount", "6.00", "--reason", "the other one"]);
    ok(d, &["order", "ship", "1002", "--carrier", "DHL", "--tracking", "JD1"]);
    fails(
        d,
        &["order", "cancel", "1002", "--reason", "too late"],
        1,
        "order 1002 has already been shipped, so it cannot be cancelled; refund it instead",
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_writes_nothing() {
    let dir = shop();
    let d = dir.path();
    let head = json(d, &["events", "--limit", "1000"]).as_array().unwrap().len();
    let check = |args: &[&str], status: i32, message: &str| fails(d, args, status, message);
    check(
        &["order", "place", "--line", "MUG:0"],
        1,
        "line 1: quantity 0 is less than 1; enter 1 or more (record returns as a refund)",
    );
    check(
        &["order", "place", "--line", "MUG:two"],
        2,
        "--line 'MUG:two': quantity 'two' is not a whole number; enter e.g. 2",
    );
    check(
        &["order", "place", "--line", "MUG"],
        2,
        "--line 'MUG' is not SKU:QUANTITY or SKU:QUANTITY@PRICE; write it like MUG:2 or MUG:2@7.50",
    );
    check(&["order", "place"], 2, "an order needs at least one --line SKU:QTY or --item \"NAME:QTY@PRICE\"");
    check(
        &["order", "place", "--line", "NOPE:1"],
        1,
        "line 1: no product has SKU 'NOPE'; add it to the catalog first, or sell it as an ad-hoc item",
    );
    check(
        &["order", "place", "--item", "Voucher:1@-2.00"],
        1,
        "line 1: unit price -2.00 GBP is negative; enter 0 or more",
    );
    check(
        &["order", "place", "--line", "MUG:1", "--customer", "99"],
        1,
        "no customer has id '99'; check the id, or add the customer first",
    );
    check(
        &["order", "place", "--line", "MUG:1", "--discount", "9"],
        1,
        "discount 9.00 GBP is more than the order's goods (8.00 GBP); the total cannot be negative, so lower the discount",
    );
    check(
        &["product", "add", "--sku", "X", "--name", "X", "--price", "3 EUR"],
        1,
        "unit price is in EUR but this shop sells in GBP; enter the amount in GBP",
    );
    check(
        &["product", "add", "--sku", "X", "--name", "  ", "--price", "3"],
        1,
        "product name is empty; enter the name shown on receipts",
    );
    check(
        &["product", "add", "--sku", "MUG", "--name", "Mug", "--price", "3"],
        1,
        "SKU 'MUG' is already used by 'Enamel mug'; choose another SKU or update that product",
    );
    check(
        &["product", "add", "--sku", "X", "--name", "X", "--price", "1,50"],
        2,
        "--price: '1,50' is not a number; enter digits with an optional decimal point, e.g. 12.50",
    );
    check(
        &["customer", "add", "--name", "Bo", "--email", "bo@mail"],
        1,
        "email 'bo@mail' is not a valid address; enter it as name@example.com or leave it out",
    );
    ok(d, &["order", "place", "--line", "MUG:1"]);
    check(
        &["order", "ship", "1001", "--carrier", "DHL", "--tracking", " "],
        1,
        "tracking number is empty; enter the tracking number from the carrier's label",
    );
    check(
        &["order", "ship", "4040", "--carrier", "DHL", "--tracking", "1"],
        1,
        "no order has number '4040'; check the order number",
    );
    let after = json(d, &["events", "--limit", "1000"]).as_array().unwrap().len();
    assert_eq!(after, head + 1, "only the one valid order was recorded");
}

#[test]
fn nothing_works_before_init_and_init_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(
        d,
        &["product", "add", "--sku", "A", "--name", "A", "--price", "1"],
        1,
        "the shop is not set up yet; set it up first (name, currency, time zone)",
    );
    fails(
        d,
        &["init", "--currency", "POUNDS"],
        1,
        "currency 'POUNDS' is not an ISO 4217 code; use a code such as GBP, EUR or USD",
    );
    fails(
        d,
        &["init", "--timezone", "Mars/Olympus"],
        1,
        "time zone 'Mars/Olympus' is not an IANA time zone; use a name such as Europe/London or America/New_York",
    );
    ok(d, &["init", "--name", "Shop"]);
    fails(d, &["init", "--name", "Shop"], 1, "the shop is already set up as 'Shop'; change its settings instead");
}

#[test]
fn the_same_command_id_places_one_order() {
    let dir = shop();
    let d = dir.path();
    let first = json(d, &["order", "place", "--line", "MUG:1", "--id", "till-1-0001"]);
    let second = json(d, &["order", "place", "--line", "MUG:1", "--id", "till-1-0001"]);
    assert_eq!(first["entity"], second["entity"]);
    assert_eq!(second["replayed"], true);
    let text = ok(d, &["order", "place", "--line", "MUG:1", "--id", "till-1-0001"]);
    assert!(
        text.starts_with("(this command id was already done; showing its first result, nothing changed)"),
        "{text}"
    );
    fails(d, &["order", "show", "1002"], 1, "no order has number '1002'; check the order number");
    fails(
        d,
        &["order", "place", "--line", "MUG:3", "--id", "till-1-0001"],
        1,
        "command id till-1-0001 was already used for a different command; use a new id for a new command",
    );
}

#[test]
fn a_stale_version_is_refused() {
    let dir = shop();
    let d = dir.path();
    ok(d, &["product", "update", "MUG", "--price", "9", "--expect-version", "1"]);
    fails(
        d,
        &["product", "update", "MUG", "--price", "10", "--expect-version", "1"],
        1,
        "product/MUG is at version 2, not 1 as expected: someone changed it meanwhile; reload it and try again",
    );
}

#[test]
fn errors_are_json_on_stderr_with_json() {
    let dir = shop();
    let run = countertop(dir.path(), &["order", "place", "--line", "MUG:0", "--json"]);
    assert_eq!(run.status, 1);
    assert_eq!(run.stdout, "");
    let error: Value = serde_json::from_str(&run.stderr).unwrap();
    assert_eq!(error["code"], "invalid");
    assert_eq!(error["message"], "line 1: quantity 0 is less than 1; enter 1 or more (record returns as a refund)");
}

#[test]
fn a_second_process_gets_a_clear_error() {
    let dir = shop();
    let _app = countertop_core::WriteStore::open(dir.path()).unwrap();
    let run = countertop(dir.path(), &["product", "list"]);
    assert_eq!(run.status, 3);
    assert!(
        run.stderr.contains("write.redb is already open by another Countertop (the app, a running `countertop sync run`, or another countertop command); close it and try again"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_order_can_be_shown_as_it_was() {
    let dir = shop();
    let d = dir.path();
    ok(d, &["order", "place", "--line", "MUG:1"]);
    ok(d, &["order", "ship", "1001", "--carrier", "DHL", "--tracking", "JD1"]);
    let history = json(d, &["order", "show", "1001"]);
    let placed_at = history["timeline"][0]["recorded_at"].as_str().unwrap().to_owned();
    let then = json(d, &["order", "show", "1001", "--as-of", &placed_at]);
    assert_eq!(then["order"]["status"], "pending");
    assert_eq!(then["timeline"].as_array().unwrap().len(), 1);
    let run = countertop(d, &["order", "show", "1001", "--as-of", "2001-01-01"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("order 1001 did not exist yet at 2001-01-01 00:00:00 UTC; pick a later moment"),
        "{}",
        run.stderr
    );
    fails(
        d,
        &["order", "show", "1001", "--as-of", "last week"],
        2,
        "--as-of 'last week' is not a date and time; write it like 2024-05-01 14:30 (shop time) or 2024-05-01T13:30:00Z",
    );
}

#[test]
fn verify_checks_the_chain_and_the_read_models() {
    let dir = shop();
    let out = ok(dir.path(), &["verify"]);
    assert!(out.starts_with("Event log OK: 4 events, hash chain intact"), "{out}");
    assert!(out.contains("Read models OK: identical to a rebuild from the log (through event 4)."), "{out}");
}

#[test]
fn catalog_and_customer_updates() {
    let dir = shop();
    let d = dir.path();
    ok(d, &["product", "update", "MUG", "--name", "Blue mug", "--archive"]);
    let listed = json(d, &["product", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "archived products are hidden");
    let all = json(d, &["product", "list", "--all"]);
    assert_eq!(all[0]["name"], "Blue mug");
    assert_eq!(all[0]["archived"], true);
    fails(
        d,
        &["order", "place", "--line", "MUG:1"],
        1,
        "line 1: product 'MUG' is archived; restore it before selling it, or sell it as an ad-hoc item",
    );
    let updated = json(d, &["customer", "update", "1", "--phone", "+44 20 7946 0958", "--email", ""]);
    assert_eq!(updated["entity"]["phone"], "+44 20 7946 0958");
    assert_eq!(updated["entity"]["email"], Value::Null);
}

#[test]
fn backup_and_restore() {
    let dir = shop();
    ok(dir.path(), &["order", "place", "--line", "MUG:2"]);
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("shop.backup");
    let file = file.to_str().unwrap();
    let out = ok(dir.path(), &["backup", file]);
    assert!(out.starts_with("Backed up 5 events to "), "{out}");
    fails(
        dir.path(),
        &["backup", file],
        1,
        &format!("{file} already exists; choose a new name: backups never overwrite a file"),
    );
    let restored = tempfile::tempdir().unwrap();
    let out = ok(restored.path(), &["restore", file]);
    assert!(out.starts_with("Restored 5 events into "), "{out}");
    let verified = ok(restored.path(), &["verify"]);
    assert!(verified.contains("Event log OK: 5 events") && verified.contains("Read models OK"), "{verified}");
    assert_eq!(json(restored.path(), &["order", "show", "1001"])["order"]["totals"]["total"], "16.00");
    let run = countertop(restored.path(), &["restore", file]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("write.redb already exists; restore into an empty data directory"), "{}", run.stderr);
}

/// Regression: `countertop … | head` panicked with "failed printing to stdout: Broken pipe".
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::Read;
    let dir = shop();
    let mut child = Command::new(env!("CARGO_BIN_EXE_countertop"))
        .arg("--data")
        .arg(dir.path())
        .args(["report", "revenue", "--from", "2000-01-01", "--to", "2030-12-31", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_split_payment_an_invoice_paid_later_and_the_days_cash_up() {
    let dir = shop();
    let d = dir.path();
    let at = "2024-05-01 10:00";
    // 16.00: £10 on the card, a £20 note for the rest.
    let placed = json(d, &["order", "place", "--line", "MUG:2", "--pay", "card:10", "--pay", "cash:20", "--at", at]);
    let payments = &placed["entity"]["payments"];
    assert_eq!((payments[1]["tender"].as_str(), payments[1]["amount"].as_str()), (Some("cash"), Some("6.00")));
    assert_eq!(payments[1]["tendered"], "20.00");
    let shown = ok(d, &["order", "show", "1001"]);
    assert!(shown.contains("Paid Cash                6.00  (handed 20.00, change 14.00)"), "{shown}");
    fails(
        d,
        &["order", "place", "--line", "MUG:2", "--pay", "cash:10"],
        1,
        "6.00 GBP of the 16.00 GBP is not paid yet; take the rest, or place the order as an invoice to be paid later",
    );
    fails(
        d,
        &["order", "place", "--line", "MUG:1", "--pay", "cheque:8"],
        2,
        "--pay 'cheque' is not a tender; use cash, card, gift_card or other",
    );
    ok(d, &["order", "place", "--line", "TEA:1", "--invoice", "--at", at]);
    assert!(ok(d, &["order", "show", "1002"]).contains("Due                     4.50 GBP"));
    ok(d, &["order", "pay", "1002", "--pay", "cash:5"]);
    fails(
        d,
        &["order", "pay", "1002", "--pay", "cash:5"],
        1,
        "order 1002 is already paid in full (4.50 GBP); nothing is due",
    );
    ok(d, &["order", "refund", "1001", "--amount", "3", "--tender", "cash", "--reason", "chipped"]);
    // The invoice was paid today, the split on 1 May.
    let may = json(d, &["cashup", "--date", "2024-05-01"]);
    let taken: Vec<(&str, &str)> = may["value"]["takings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tender"].as_str().unwrap(), t["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(taken, [("cash", "6.00"), ("card", "10.00"), ("gift_card", "0.00"), ("other", "0.00")]);
    assert_eq!((may["value"]["orders"].as_i64(), may["value"]["change_given"].as_str()), (Some(2), Some("14.00")));
    let today = ok(d, &["cashup"]);
    assert!(today.contains("Cash expected in drawer:            1.50"), "4.50 taken, 3.00 given back:\n{today}");
    // The receipts: the sale with its tenders and change, the refund with how it went back.
    let sale = ok(d, &["receipt", "1001"]);
    assert!(sale.contains("Order 1001") && sale.contains("Change") && sale.contains("14.00"), "{sale}");
    assert!(sale.lines().all(|l| l.chars().count() <= 42), "an 80 mm roll is 42 characters wide:\n{sale}");
    let refund = ok(d, &["receipt", "1001", "--refund", "1"]);
    assert!(refund.contains("REFUND") && refund.contains("Given back by") && refund.contains("Cash"), "{refund}");
    fails(
        d,
        &["receipt", "1001", "--refund", "2"],
        2,
        "--refund 2: order 1001 has 1 refund(s); give a number from 1 to 1",
    );
    let png = d.join("receipt.png");
    ok(d, &["receipt", "1001", "--png", png.to_str().unwrap()]);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let pdf = d.join("receipt.pdf");
    ok(d, &["receipt", "1001", "--pdf", pdf.to_str().unwrap()]);
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4") && pdf.windows(6).any(|w| w == b"Change"));
    let csv = ok(d, &["cashup", "--csv"]);
    assert!(csv.starts_with("day,section,item,amount\n") && csv.contains(",cash,expected_in_drawer,1.50\n"), "{csv}");
}
