//! The read side through the binary: reports, dashboards, lists, search, charts, status,
//! rebuild, dead letters — and a projector killed mid-flight.

use std::process::{Command, Stdio};
use std::time::Duration;

use countertop_core::{LineInput, PlaceOrder, Request, WriteStore};
use serde_json::Value;

use super::{fails, json, ok, shop};

/// The shop from `shop()` with orders on known business days (Europe/London, day start 04:00).
fn history() -> tempfile::TempDir {
    let dir = shop();
    let d = dir.path();
    ok(d, &["order", "place", "--customer", "1", "--line", "MUG:2", "--at", "2024-03-01 10:00"]); // 1001: 16.00
    ok(d, &["order", "place", "--line", "TEA:1", "--at", "2024-03-02 01:30"]); // 1002: 4.50, business day 1 March
    ok(d, &["order", "place", "--customer", "1", "--line", "TEA:2", "--at", "2024-03-15 12:00"]); // 1003: 9.00
    ok(d, &["order", "ship", "1003", "--carrier", "Royal Mail", "--tracking", "RM998877665GB"]);
    ok(d, &["order", "place", "--line", "MUG:1", "--at", "2024-04-02 12:00"]); // 1004: 8.00
    ok(d, &["order", "cancel", "1004", "--reason", "duplicate"]);
    dir
}

#[test]
fn revenue_reports_by_day_and_month() {
    let dir = history();
    let d = dir.path();
    let report = json(d, &["report", "revenue", "--from", "2024-03-01", "--to", "2024-03-02"]);
    assert_eq!(report["lag_events"], 0);
    let rows = report["value"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["date"].as_str(), rows[0]["net"].as_str(), rows[0]["orders"].as_i64()),
        (Some("2024-03-01"), Some("20.50"), Some(2))
    );
    assert_eq!((rows[1]["date"].as_str(), rows[1]["orders"].as_i64()), (Some("2024-03-02"), Some(0)));
    let months = json(d, &["report", "revenue", "--from", "2024-03-01", "--to", "2024-04-30", "--by", "month"]);
    let months: Vec<(String, String, i64, i64)> = months["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["date"].as_str().unwrap().into(),
                r["net"].as_str().unwrap().into(),
                r["orders"].as_i64().unwrap(),
                r["cancelled"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(months, [("2024-03-01".into(), "29.50".into(), 3, 0), ("2024-04-01".into(), "0.00".into(), 0, 1)]);
    fails(
        d,
        &["report", "revenue", "--from", "2024-03-31", "--to", "2024-03-01"],
        2,
        "--from 2024-03-31 is after --to 2024-03-01; swap them",
    );
    fails(
        d,
        &["report", "revenue", "--from", "1 March", "--to", "2024-03-01"],
        2,
        "--from '1 March' is not a date; write it as YYYY-MM-DD, e.g. 2024-05-01",
    );
}

#[test]
fn the_dashboard_compares_with_the_previous_period() {
    let dir = history();
    let dashboard = json(dir.path(), &["dashboard", "--from", "2024-03-15", "--to", "2024-03-28"]);
    let v = &dashboard["value"];
    assert_eq!(v["kpis"]["net"], "9.00");
    assert_eq!(v["kpis"]["orders"], 1);
    assert_eq!(v["previous_period"]["from"], "2024-03-01");
    assert_eq!(v["previous_kpis"]["net"], "20.50");
    assert_eq!(v["series"].as_array().unwrap().len(), 14);
    assert_eq!(v["top_products"][0]["sku"], "TEA");
    let text = ok(dir.path(), &["dashboard", "--range", "7d"]);
    assert!(text.contains("Net revenue GBP") && text.contains("(7 days)"), "{text}");
    // All time: from the first sale's business day to the last day anything happened.
    let all = json(dir.path(), &["dashboard", "--range", "all"]);
    assert_eq!(all["value"]["period"], all["value"]["history"]);
    assert_eq!(all["value"]["period"]["from"], "2024-03-01");
    assert_eq!(all["value"]["kpis"]["net"], "29.50");
    assert_eq!(all["value"]["kpis"]["orders"], 3);
    fails(
        dir.path(),
        &["dashboard", "--range", "a week"],
        2,
        "--range 'a week' is not a number of days; use 7d, 30d, 90d, 365d or all",
    );
}

#[test]
fn orders_are_listed_by_status_day_and_customer() {
    let dir = history();
    let d = dir.path();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["orders", "list"];
        all.extend_from_slice(args);
        json(d, &all)["value"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&[]), ["1004", "1003", "1002", "1001"]);
    assert_eq!(ids(&["--status", "shipped"]), ["1003"]);
    assert_eq!(ids(&["--status", "placed"]), ids(&["--status", "pending"]), "the app's word and the stored one");
    assert_eq!(ids(&["--from", "2024-03-01", "--to", "2024-03-01"]), ["1002", "1001"]);
    assert_eq!(ids(&["--customer", "1"]), ["1003", "1001"]);
    assert_eq!(ids(&["--limit", "1", "--page", "2"]), ["1003"]);
}

#[test]
fn search_finds_orders_customers_and_products() {
    let dir = history();
    let d = dir.path();
    let hits = |q: &str| -> Vec<String> {
        json(d, &["search", q])["value"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| format!("{}:{}", h["kind"].as_str().unwrap(), h["id"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(hits("1003"), ["order:1003"]);
    assert_eq!(hits("RM998877665GB"), ["order:1003"]);
    assert!(hits("lovelace").contains(&"customer:1".to_owned()));
    assert!(hits("enamel").contains(&"product:MUG".to_owned()));
    assert!(hits("enamle").contains(&"product:MUG".to_owned()), "typo tolerance");
    let mut placed = hits("status:placed");
    placed.sort();
    assert_eq!(placed, ["order:1001", "order:1002"]);
    let shown = ok(d, &["search", "1002"]);
    assert!(shown.contains("2024-03-01 · Placed · 4.50"), "the app's word for a pending order: {shown}");
    fails(
        d,
        &["search", "colour:blue"],
        1,
        "'colour:' is not a search filter; use kind: or status:, or leave the colon out",
    );
}

#[test]
fn charts_are_written_as_svg_and_png() {
    let dir = history();
    let d = dir.path();
    let svg = d.join("revenue.svg");
    let png = d.join("overview.png");
    ok(d, &["chart", "revenue", "--from", "2024-03-01", "--to", "2024-03-31", "--out", svg.to_str().unwrap()]);
    ok(d, &["chart", "overview", "--from", "2024-03-01", "--to", "2024-03-31", "--out", png.to_str().unwrap()]);
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("Net revenue per day, 2024-03-01 to 2024-03-31 (GBP)"),
        "{}",
        &svg[..200]
    );
    let png = std::fs::read(png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "a real picture, not an empty one: {} bytes", png.len());
    fails(
        d,
        &["chart", "revenue", "--from", "2024-03-01", "--to", "2024-03-31", "--out", "chart.gif"],
        2,
        "--out chart.gif must end in .svg or .png (that picks the format)",
    );
}

#[test]
fn status_rebuild_and_dead_letters() {
    let dir = history();
    let d = dir.path();
    let before = json(d, &["report", "revenue", "--from", "2024-03-01", "--to", "2024-04-30", "--by", "month"]);
    let status = json(d, &["status"]);
    assert_eq!(status["head"], 10);
    assert_eq!(status["dead_letters"], 0);
    assert_eq!(status["projections"][0]["name"], "tables");
    let rebuilt = json(d, &["rebuild"]);
    assert_eq!(rebuilt["projections"][0]["checkpoint"], 10);
    assert_eq!(rebuilt["rebuild"], Value::Null);
    let after = json(d, &["report", "revenue", "--from", "2024-03-01", "--to", "2024-04-30", "--by", "month"]);
    assert_eq!(before["value"], after["value"]);
    assert_eq!(ok(d, &["dlq", "list"]).trim(), "No dead letters: every event was applied.");
    assert_eq!(json(d, &["dlq", "retry", "--all"]), Value::Array(vec![]));
}

/// Fills a store with `n` orders through the core (one transaction), for the kill test.
fn many_orders(dir: &std::path::Path, n: usize) {
    let store = WriteStore::open(dir).unwrap();
    let requests = (0..n)
        .map(|i| {
            Request::new(countertop_core::Command::PlaceOrder(PlaceOrder {
                order: None,
                customer: Some("1".into()),
                lines: vec![LineInput::Product {
                    sku: if i % 2 == 0 { "MUG" } else { "TEA" }.into(),
                    quantity: 1 + (i % 3) as i64,
                    unit_price: None,
                }],
                discount: None,
                note: None,
                payment_method: None,
                at: Some(chrono::DateTime::from_timestamp(1_700_000_000 + (i as i64) * 3_600, 0).unwrap()),
                payments: Vec::new(),
                invoice: false,
            }))
        })
        .collect();
    for result in store.execute_batch(requests).unwrap() {
        result.unwrap();
    }
}

#[test]
fn killing_the_projector_mid_flight_never_double_counts() {
    let heavy = std::env::var("COUNTERTOP_HEAVY").is_ok();
    let (orders, kills) = if heavy { (40_000, 60) } else { (6_000, 10) };
    let dir = shop();
    let d = dir.path();
    many_orders(d, orders);
    let mut killed = 0;
    let mut checkpoints = Vec::new();
    for i in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_countertop"))
            .arg("--data")
            .arg(d)
            .args(["dashboard", "--range", "30d"])
            // Small, durable batches, so kills land both inside and between batches.
            .env("COUNTERTOP_PROJECTOR_BATCH", "97")
            .env("COUNTERTOP_READ_DURABLE_MS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + (i * 29 % 90) as u64));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let status = json(d, &["status"]);
        let checkpoint = status["projections"][0]["checkpoint"].as_u64().unwrap();
        checkpoints.push(checkpoint);
    }
    let head = json(d, &["status"])["head"].as_u64().unwrap();
    let mid_flight = checkpoints.iter().filter(|&&c| c > 0 && c < head).count();
    eprintln!("{killed} of {kills} runs killed; checkpoints after each: {checkpoints:?} of {head}");
    assert!(mid_flight > 0, "no kill landed while the projector was working: {checkpoints:?} of {head}");
    let out = ok(d, &["verify"]);
    assert!(out.contains("Read models OK: identical to a rebuild from the log"), "after {killed} kills: {out}");
    let report = json(d, &["dashboard", "--from", "2023-11-01", "--to", "2029-12-31"]);
    assert_eq!(report["value"]["kpis"]["orders"], orders, "after {killed} kills");
    let indexed = json(d, &["search", "kind:order"]);
    assert_eq!(indexed["value"]["total"], orders, "every order is in the index exactly once");
}

/// Was: tantivy made the search index's files with the process's default permissions (0644),
/// while the rest of the data folder is the owner's only; the index holds customers' names,
/// emails and phones.
#[cfg(unix)]
#[test]
fn every_file_of_the_search_index_is_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    fn modes(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, u32)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push((path.clone(), std::fs::metadata(&path).unwrap().permissions().mode() & 0o777));
            if path.is_dir() {
                modes(&path, out);
            }
        }
    }
    let dir = history();
    let d = dir.path();
    assert_eq!(json(d, &["search", "kind:order"])["value"]["total"], 4);
    let search = d.join("search");
    let mut found = Vec::new();
    modes(&search, &mut found);
    assert!(found.len() > 5, "the index has its files: {found:?}");
    for (path, mode) in &found {
        assert_eq!(*mode, if path.is_dir() { 0o700 } else { 0o600 }, "{}", path.display());
    }

    // A file an earlier version left readable by others is tightened at the next open.
    let (segment, _) = found.iter().find(|(p, _)| p.is_file() && p.extension().is_some_and(|e| e == "idx")).unwrap();
    std::fs::set_permissions(segment, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(d, &["order", "place", "--line", "MUG:1"]);
    assert_eq!(json(d, &["search", "kind:order"])["value"]["total"], 5);
    let mut found = Vec::new();
    modes(&search, &mut found);
    for (path, mode) in &found {
        assert_eq!(*mode, if path.is_dir() { 0o700 } else { 0o600 }, "{}", path.display());
    }
}
