//! Importing the real exports in `tests/data` reproduces, per business day, the revenue
//! the test computes from the raw file itself, minus exactly the lines the report rejected.
//!
//! Online Retail runs on its first 60,000 lines by default and whole with `COUNTERTOP_HEAVY`.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use countertop_core::import::{Format, ImportOptions, ImportReport, import};
use countertop_core::{Bucket, Countertop, Decimal, Freshness, OpenShop, Period, Request, SearchKind};
use rust_decimal::RoundingStrategy;

fn data(name: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default().join("../../tests/data").join(name)
}

fn shop(dir: &Path, currency: &str, zone: &str) -> Countertop {
    let ct = Countertop::open(dir).unwrap();
    ct.execute(Request::new(countertop_core::Command::OpenShop(OpenShop {
        name: "Imported".into(),
        currency: currency.into(),
        time_zone: zone.into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: Decimal::ZERO,
    })))
    .unwrap();
    ct
}

fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// The first `lines` data lines of a gzip CSV, as a new gzip file.
fn prefix(source: &Path, lines: usize, target: &Path) {
    let input = BufReader::new(flate2::read::MultiGzDecoder::new(std::fs::File::open(source).unwrap()));
    let mut out = flate2::write::GzEncoder::new(std::fs::File::create(target).unwrap(), flate2::Compression::fast());
    for line in input.lines().take(lines + 1) {
        writeln!(out, "{}", line.unwrap()).unwrap();
    }
    out.finish().unwrap();
}

/// Net revenue per business day computed from the raw file: each kept line's amount rounded to
/// the cent (half to even, as the shop records line totals), credit lines negative.
fn expected_daily(
    path: &Path,
    rejected: &HashSet<u64>,
    day_of: impl Fn(&csv::StringRecord) -> NaiveDate,
    amount_of: impl Fn(&csv::StringRecord) -> Decimal,
) -> BTreeMap<NaiveDate, Decimal> {
    let mut reader = csv::Reader::from_reader(flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()));
    let mut days: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).unwrap() {
        let line = record.position().unwrap().line();
        if rejected.contains(&line) {
            continue;
        }
        *days.entry(day_of(&record)).or_default() += amount_of(&record);
    }
    days.retain(|_, net| !net.is_zero());
    days
}

fn actual_daily(ct: &Countertop, from: NaiveDate, to: NaiveDate) -> BTreeMap<NaiveDate, Decimal> {
    assert!(ct.wait_caught_up(Freshness::Tables, Duration::from_secs(600), |_| {}));
    let rows = ct.revenue(Period { from, to }, Bucket::Day).unwrap().value;
    rows.into_iter().filter(|r| !r.kpis.net.is_zero()).map(|r| (r.date, r.kpis.net)).collect()
}

fn run(ct: &Countertop, path: &Path, format: Format) -> ImportReport {
    let report = import(ct.write(), path, &ImportOptions { format, ..ImportOptions::default() }, |_| {}).unwrap();
    assert!(report.reconciles, "{report:#?}");
    assert_eq!(report.imported_lines + report.rejected.len() as u64, report.lines, "every line accounted for");
    report
}

#[test]
fn online_retail_reproduces_the_file_per_business_day() {
    let heavy = std::env::var("COUNTERTOP_HEAVY").is_ok();
    let dir = tempfile::tempdir().unwrap();
    let ct = shop(dir.path(), "GBP", "Europe/London");
    let path = if heavy {
        data("online-retail.csv.gz")
    } else {
        let p = dir.path().join("online-retail-head.csv.gz");
        prefix(&data("online-retail.csv.gz"), 60_000, &p);
        p
    };
    let report = run(&ct, &path, Format::OnlineRetail);
    let rejected: HashSet<u64> = report.rejected.iter().map(|r| r.line).collect();
    for r in &report.rejected {
        assert!(
            r.reason.starts_with("negative quantity on a sale invoice") || r.reason.starts_with("negative unit price"),
            "an unexpected rejection: {r:?}"
        );
    }
    if heavy {
        assert_eq!(report.lines, 541_909);
        assert_eq!(
            report.file_sum.round_dp(2),
            Decimal::from_str_exact("9747747.93").unwrap(),
            "the data README's check"
        );
        assert_eq!(report.rejected.len(), 1_336 + 2);
        assert_eq!(report.customers, 4_372);
    }
    let london = chrono_tz::Europe::London;
    let four = NaiveTime::from_hms_opt(4, 0, 0).unwrap();
    let expected = expected_daily(
        &path,
        &rejected,
        |r| {
            let local = NaiveDateTime::parse_from_str(&r[4], "%Y-%m-%d %H:%M:%S").unwrap();
            let at = london.from_local_datetime(&local).earliest().unwrap().with_timezone(&Utc);
            countertop_core::business_day(at, london, four)
        },
        |r| {
            let quantity = Decimal::from(r[3].parse::<i64>().unwrap());
            let price = Decimal::from_str_exact(&r[5]).unwrap();
            let amount = cents(quantity.abs() * price);
            if quantity.is_sign_negative() { -amount } else { amount }
        },
    );
    let (first, last) = (*expected.keys().next().unwrap(), *expected.keys().last().unwrap());
    assert_eq!(actual_daily(&ct, first, last), expected);

    // Search finds orders by invoice number and by product words.
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(600), |_| {}));
    let hits = ct.search("536365", 0, 5).unwrap().value;
    assert_eq!((hits.items[0].kind, hits.items[0].id.as_str()), (SearchKind::Order, "536365"));
    let hits = ct.search("hanging heart holder", 0, 5).unwrap().value;
    assert!(hits.total > 10, "{hits:?}");
    let top = ct.order(&hits.items[0].id, None, Duration::ZERO).unwrap().unwrap().value.order;
    assert!(top.lines.iter().any(|l| l.name.contains("HANGING HEART")), "{top:?}");

    // Importing the same file again changes nothing.
    let head = ct.write().head().current();
    let again = run(&ct, &path, Format::OnlineRetail);
    assert_eq!(ct.write().head().current(), head);
    assert_eq!(again.already_imported, again.orders + again.returns, "every order and return was already there");
    assert_eq!(again.customers, 0);
    assert_eq!(again.products, 0);
    assert_eq!(again.imported_net, report.imported_net);
    // Every SKU sold became a catalog product, so it can be sold at the counter.
    assert_eq!(ct.write().products().unwrap().len() as u64, report.products);
    assert!(report.products > 1_000, "{}", report.products);
}

#[test]
fn superstore_reproduces_the_given_line_totals_per_business_day() {
    let dir = tempfile::tempdir().unwrap();
    let ct = shop(dir.path(), "USD", "America/New_York");
    let path = data("superstore.csv.gz");
    let report = run(&ct, &path, Format::Superstore);
    assert_eq!((report.lines, report.imported_lines, report.orders, report.customers), (9_994, 9_994, 5_009, 793));
    // The catalog now has every product ID of the file (1,862, as the data's README says).
    assert_eq!(report.products, 1_862);
    let catalog = ct.write().products().unwrap();
    assert_eq!(catalog.len(), 1_862);
    assert!(catalog.iter().all(|p| !p.name.is_empty() && !p.unit_price.is_sign_negative()));
    let expected = expected_daily(
        &path,
        &HashSet::new(),
        |r| NaiveDate::parse_from_str(&r[2], "%Y-%m-%d").unwrap(),
        |r| cents(Decimal::from_str_exact(&r[17]).unwrap()),
    );
    let (first, last) = (*expected.keys().next().unwrap(), *expected.keys().last().unwrap());
    assert_eq!(actual_daily(&ct, first, last), expected);
    // Recorded to the cent; the file's line totals have up to 4 places.
    assert_eq!(report.imported_net - report.rounding, report.file_sum);

    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(600), |_| {}));
    let order = ct.search("CA-2016-152156", 0, 5).unwrap().value;
    assert_eq!(order.items[0].id, "CA-2016-152156");
    let claire = ct.search("claire gute", 0, 5).unwrap().value;
    assert!(claire.items.iter().any(|h| h.kind == SearchKind::Customer && h.id == "CG-12520"), "{claire:?}");
    let shipped = ct.order("CA-2016-152156", None, Duration::ZERO).unwrap().unwrap().value.order;
    assert_eq!(shipped.shipment.as_ref().map(|s| s.carrier.as_str()), Some("Second Class"));
    assert_eq!(shipped.customer.as_ref().map(|c| c.name.as_str()), Some("Claire Gute"));
}
