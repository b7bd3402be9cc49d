//! The baselines: the same shop done the usual single-model way on SQLite — normalised tables
//! with the indexes a sensible app has, WAL with `synchronous=FULL` (durable like ours), money
//! in integer cents, a business-day column, a GROUP BY dashboard, and FTS5 search kept in the
//! same transaction as the order — and the stronger one a pragmatic engineer would build next:
//! the same, plus summary tables (per day; per day and product; per day and customer) kept in
//! each order's own transaction, which the dashboard reads instead of the orders.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rusqlite::{Connection, params};

use crate::workload::{self, GenOrder, PRODUCTS, Probe, Workload};
use crate::{Metrics, Plan, Samples, bytes_dirtied, device_bytes_written, device_kb_each, dir_bytes, peak_rss_mb};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL, price_cents INTEGER NOT NULL);
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, customer_id INTEGER REFERENCES customers(id),
    placed_at INTEGER NOT NULL, day TEXT NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL,
    tracking TEXT, carrier TEXT, note TEXT);
CREATE INDEX orders_by_day ON orders(day);
CREATE INDEX orders_by_customer ON orders(customer_id, placed_at);
CREATE INDEX orders_by_status ON orders(status, placed_at);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER REFERENCES products(id),
    sku TEXT, name TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price_cents INTEGER NOT NULL, total_cents INTEGER NOT NULL);
CREATE INDEX items_by_order ON order_items(order_id);
CREATE INDEX items_by_product ON order_items(product_id);
CREATE TABLE refunds (order_id INTEGER REFERENCES orders(id), amount_cents INTEGER NOT NULL, day TEXT NOT NULL);
CREATE INDEX refunds_by_day ON refunds(day);
CREATE VIRTUAL TABLE order_search USING fts5(number, customer, email, products, skus, tracking, carrier, note);
";

/// The summary tables of the second baseline.
const SUMMARY_SCHEMA: &str = "
CREATE TABLE day_summary (day TEXT PRIMARY KEY, gross_cents INTEGER NOT NULL, orders INTEGER NOT NULL,
    items INTEGER NOT NULL, refunds_cents INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE day_product (day TEXT NOT NULL, sku TEXT NOT NULL, name TEXT NOT NULL, units INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL, PRIMARY KEY (day, sku)) WITHOUT ROWID;
CREATE TABLE day_customer (day TEXT NOT NULL, customer_id INTEGER NOT NULL, PRIMARY KEY (day, customer_id)) WITHOUT ROWID;
";
const SUMMARY_DAILY: &str =
    "SELECT day, gross_cents, orders, items FROM day_summary WHERE day BETWEEN ?1 AND ?2 ORDER BY day";
const SUMMARY_REFUNDS: &str = "SELECT day, refunds_cents FROM day_summary WHERE day BETWEEN ?1 AND ?2";
const SUMMARY_UNIQUE: &str = "SELECT COUNT(DISTINCT customer_id) FROM day_customer WHERE day BETWEEN ?1 AND ?2";
const SUMMARY_TOP: &str = "SELECT sku, name, SUM(units), SUM(revenue_cents) AS revenue FROM day_product
    WHERE day BETWEEN ?1 AND ?2 GROUP BY sku ORDER BY revenue DESC LIMIT 10";

/// The summary tables recomputed from the orders, items and refunds.
const RECOMPUTE: &str = "
DELETE FROM day_summary; DELETE FROM day_product; DELETE FROM day_customer;
INSERT INTO day_summary (day, gross_cents, orders, items, refunds_cents)
    SELECT o.day, SUM(i.total_cents), COUNT(DISTINCT o.id), SUM(i.quantity), 0
    FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.status != 'cancelled' GROUP BY o.day;
INSERT INTO day_summary (day, gross_cents, orders, items, refunds_cents)
    SELECT day, 0, 0, 0, SUM(amount_cents) FROM refunds WHERE true GROUP BY day
    ON CONFLICT(day) DO UPDATE SET refunds_cents = excluded.refunds_cents;
INSERT INTO day_product (day, sku, name, units, revenue_cents)
    SELECT o.day, i.sku, MAX(i.name), SUM(i.quantity), SUM(i.total_cents)
    FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.status != 'cancelled' GROUP BY o.day, i.sku;
INSERT INTO day_customer (day, customer_id)
    SELECT DISTINCT day, customer_id FROM orders WHERE status != 'cancelled' AND customer_id IS NOT NULL;
";

/// Which baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Normalised tables only; the dashboard aggregates the orders.
    Single,
    /// The same, plus summary tables kept in each order's transaction.
    Summary,
}

/// Adds a live order to the summary tables (in the order's transaction).
fn summarize(
    tx: &rusqlite::Transaction<'_>,
    day: &str,
    customer: Option<i64>,
    lines: &[(&str, &str, i64, i64)],
) -> Result<(), rusqlite::Error> {
    let total: i64 = lines.iter().map(|l| l.3).sum();
    let items: i64 = lines.iter().map(|l| l.2).sum();
    tx.prepare_cached(
        "INSERT INTO day_summary (day, gross_cents, orders, items, refunds_cents) VALUES (?1, ?2, 1, ?3, 0)
         ON CONFLICT(day) DO UPDATE SET gross_cents = gross_cents + excluded.gross_cents,
             orders = orders + 1, items = items + excluded.items",
    )?
    .execute(params![day, total, items])?;
    let mut product = tx.prepare_cached(
        "INSERT INTO day_product (day, sku, name, units, revenue_cents) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(day, sku) DO UPDATE SET units = units + excluded.units,
             revenue_cents = revenue_cents + excluded.revenue_cents, name = excluded.name",
    )?;
    for (sku, name, quantity, cents) in lines {
        product.execute(params![day, sku, name, quantity, cents])?;
    }
    if let Some(c) = customer {
        tx.prepare_cached("INSERT OR IGNORE INTO day_customer (day, customer_id) VALUES (?1, ?2)")?
            .execute(params![day, c])?;
    }
    Ok(())
}

/// Adds a refund to the day's summary (in the refund's transaction).
fn summarize_refund(tx: &rusqlite::Transaction<'_>, day: &str, cents: i64) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO day_summary (day, gross_cents, orders, items, refunds_cents) VALUES (?1, 0, 0, 0, ?2)
         ON CONFLICT(day) DO UPDATE SET refunds_cents = refunds_cents + excluded.refunds_cents",
    )?
    .execute(params![day, cents])?;
    Ok(())
}

/// The dashboard the seed app ran: per-day revenue from orders joined to items, refunds per
/// day, distinct customers, top products — for the period and the one before it.
const DAILY: &str = "SELECT o.day, SUM(i.total_cents), COUNT(DISTINCT o.id), SUM(i.quantity)
    FROM orders o JOIN order_items i ON i.order_id = o.id
    WHERE o.day BETWEEN ?1 AND ?2 AND o.status != 'cancelled' GROUP BY o.day ORDER BY o.day";
const REFUNDS: &str = "SELECT day, SUM(amount_cents) FROM refunds WHERE day BETWEEN ?1 AND ?2 GROUP BY day";
const UNIQUE: &str =
    "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE day BETWEEN ?1 AND ?2 AND status != 'cancelled'";
const TOP: &str = "SELECT i.sku, i.name, SUM(i.quantity), SUM(i.total_cents) AS revenue
    FROM orders o JOIN order_items i ON i.order_id = o.id
    WHERE o.day BETWEEN ?1 AND ?2 AND o.status != 'cancelled' GROUP BY i.sku ORDER BY revenue DESC LIMIT 10";

/// The business day, as the baseline app stores it (Europe/London, day starts 04:00: the same
/// rule Countertop uses, so both group the same orders into the same days).
fn day(at: DateTime<Utc>) -> String {
    let four = NaiveTime::from_hms_opt(4, 0, 0).unwrap_or(NaiveTime::MIN);
    countertop_core::business_day(at, chrono_tz::Europe::London, four).to_string()
}

pub fn run(
    dir: &Path,
    workload: &Workload,
    probe: &Probe,
    plan: Plan,
    model: Model,
) -> Result<Metrics, rusqlite::Error> {
    let path = dir.join("shop.sqlite");
    let mut m = Metrics::new();
    let mut db = Connection::open(&path)?;
    db.execute_batch(SCHEMA)?;
    if model == Model::Summary {
        db.execute_batch(SUMMARY_SCHEMA)?;
    }
    {
        let tx = db.transaction()?;
        for i in 0..PRODUCTS {
            let (sku, name, cents) = workload::product(i);
            tx.execute(
                "INSERT INTO products (id, sku, name, price_cents) VALUES (?1, ?2, ?3, ?4)",
                params![i as i64 + 1, sku, name, cents],
            )?;
        }
        let customers = match workload {
            Workload::Synthetic { orders, .. } => workload::customers(*orders),
            Workload::OnlineRetail(_) => 1,
        };
        for c in 1..=customers {
            tx.execute(
                "INSERT INTO customers (id, name, email) VALUES (?1, ?2, ?3)",
                params![c as i64, format!("Customer {c}"), format!("customer{c}@example.org")],
            )?;
        }
        tx.commit()?;
    }

    // 2. Bulk import: transactions of 2000 orders.
    let started = Instant::now();
    let n = match workload {
        Workload::Synthetic { orders, seed } => {
            let mut pending = Vec::new();
            for o in workload::orders(*orders, *seed) {
                pending.push(o);
                if pending.len() >= 2000 {
                    import(&mut db, &pending, model)?;
                    pending.clear();
                }
            }
            import(&mut db, &pending, model)?;
            *orders
        }
        Workload::OnlineRetail(path) => {
            let (orders, lines) = load_online_retail(&mut db, path, model)?;
            m.insert("import_lines_per_s", lines as f64 / started.elapsed().as_secs_f64());
            orders
        }
    };
    m.insert("import_orders_per_s", n as f64 / started.elapsed().as_secs_f64());
    // The shop's history as imported, at rest (the WAL checkpointed into the file, as closing
    // the database does), before the entry phases add orders of their own.
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    m.insert("disk_after_import_mb", dir_bytes(dir) as f64 / 1e6);
    if model == Model::Summary {
        // What a rebuild is for this design: the summary tables recomputed from the orders.
        let started = Instant::now();
        let tx = db.transaction()?;
        tx.execute_batch(RECOMPUTE)?;
        tx.commit()?;
        m.insert("rebuild_tables_s", started.elapsed().as_secs_f64());
    }

    // 5. Queries.
    let last = probe.last_day;
    for (key, days, top) in [("dash30", 30, false), ("dash365", 365, false), ("top30", 30, true), ("top365", 365, true)]
    {
        m.samples(key, if n > 200_000 { plan.queries.min(20) } else { plan.queries.min(100) }, || {
            dashboard(&db, last, days, top, model).map_err(|e| eprintln!("{e}")).ok();
        });
    }
    let mut i = 0;
    m.samples("history", plan.queries, || {
        i += 1;
        let customer = probe.customers[i % probe.customers.len().max(1)].parse::<i64>().unwrap_or(0);
        history(&db, customer).ok();
    });
    let mut q = 0;
    m.samples("search", plan.queries, || {
        q += 1;
        search(&db, probe.searches[q % probe.searches.len()]).ok();
    });
    let mut k = 0;
    m.samples("order", plan.queries, || {
        k += 1;
        one_order(&db, &probe.orders[k % probe.orders.len().max(1)]).ok();
    });

    // 1. Durable order entry: idle, and while another connection runs dashboards.
    let mut number = 900_000_000u64;
    let mut entry = |db: &mut Connection| -> Duration {
        number += 1;
        let o = GenOrder {
            number,
            customer: Some(1),
            lines: vec![(number as usize % PRODUCTS, 1)],
            at: Utc::now(),
            refund: None,
            cancelled: false,
        };
        let t = Instant::now();
        if let Err(e) = import(db, std::slice::from_ref(&o), model) {
            eprintln!("sqlite: {e}");
        }
        t.elapsed()
    };
    let mut idle = Samples::default();
    let (device, dirtied) = (device_bytes_written(dir), bytes_dirtied());
    for _ in 0..plan.entries {
        idle.push(entry(&mut db));
    }
    device_kb_each(&mut m, dir, device, plan.entries);
    m.insert("entry_kb_dirtied_each", (bytes_dirtied() - dirtied) / 1024.0 / plan.entries.max(1) as f64);
    m.put_samples("entry_idle", &mut idle);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = {
        let (stop, path) = (Arc::clone(&stop), path.clone());
        std::thread::spawn(move || -> u64 {
            let Ok(reader) = Connection::open(&path) else { return 0 };
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                dashboard(&reader, last, 30, true, model).ok();
                runs += 1;
            }
            runs
        })
    };
    let mut loaded = Samples::default();
    for _ in 0..plan.entries {
        loaded.push(entry(&mut db));
    }
    stop.store(true, Ordering::Relaxed);
    let runs = loader.join().unwrap_or(0);
    m.put_samples("entry_dash_load", &mut loaded);
    m.insert("dash_load_queries", runs as f64);

    // 6. Disk, cold open → first dashboard, memory.
    drop(db);
    m.insert("disk_mb", dir_bytes(dir) as f64 / 1e6);
    let started = Instant::now();
    let db = Connection::open(&path)?;
    dashboard(&db, last, 30, true, model)?;
    m.insert("cold_open_ms", started.elapsed().as_secs_f64() * 1e3);
    drop(db);
    m.insert("peak_rss_mb", peak_rss_mb());
    Ok(m)
}

/// Loads the Online Retail export the way a single-model app's importer would: one order per
/// invoice, credit notes (`C…`) as refunds on their own day, stock adjustments (negative
/// quantities on sale invoices) and negative prices skipped — the same lines Countertop's
/// importer imports. Transactions of 2000 invoices. Returns (orders, lines read).
fn load_online_retail(db: &mut Connection, path: &Path, model: Model) -> Result<(u64, u64), rusqlite::Error> {
    let bad = |e: String| rusqlite::Error::ToSqlConversionFailure(e.into());
    let file = std::fs::File::open(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let mut reader = csv::Reader::from_reader(flate2::read::MultiGzDecoder::new(file));
    let (mut orders, mut lines) = (0u64, 0u64);
    let mut invoice: Vec<csv::StringRecord> = Vec::new();
    let mut batch: Vec<Vec<csv::StringRecord>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut flush = |db: &mut Connection,
                     batch: &mut Vec<Vec<csv::StringRecord>>,
                     orders: &mut u64|
     -> Result<(), rusqlite::Error> {
        let tx = db.transaction()?;
        for rows in batch.drain(..) {
            if load_invoice(&tx, &rows, &mut seen, model)? {
                *orders += 1;
            }
        }
        tx.commit()
    };
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        lines += 1;
        if invoice.last().is_some_and(|r| r[0] != record[0]) {
            batch.push(std::mem::take(&mut invoice));
            if batch.len() >= 2000 {
                flush(db, &mut batch, &mut orders)?;
            }
        }
        invoice.push(record);
    }
    batch.push(invoice);
    flush(db, &mut batch, &mut orders)?;
    Ok((orders, lines))
}

/// One invoice's rows; true when it became an order.
fn load_invoice(
    tx: &rusqlite::Transaction<'_>,
    rows: &[csv::StringRecord],
    seen: &mut std::collections::HashSet<String>,
    model: Model,
) -> Result<bool, rusqlite::Error> {
    let Some(first) = rows.first() else { return Ok(false) };
    let local = chrono::NaiveDateTime::parse_from_str(&first[4], "%Y-%m-%d %H:%M:%S").unwrap_or_default();
    let at = chrono::TimeZone::from_local_datetime(&chrono_tz::Europe::London, &local)
        .earliest()
        .map_or(DateTime::UNIX_EPOCH, |t| t.with_timezone(&Utc));
    let customer: Option<i64> = first[6].parse().ok();
    if let Some(c) = customer {
        tx.prepare_cached("INSERT OR IGNORE INTO customers (id, name) VALUES (?1, ?2)")?
            .execute(params![c, format!("Customer {c}")])?;
    }
    let cents = |price: &str, quantity: i64| -> i64 {
        let price = countertop_core::Decimal::from_str_exact(price).unwrap_or_default();
        let total = price * countertop_core::Decimal::from(quantity.abs());
        (total * countertop_core::Decimal::ONE_HUNDRED).round().try_into().unwrap_or(0)
    };
    let credit = first[0].starts_with('C');
    let kept: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| {
            let q: i64 = r[3].parse().unwrap_or(0);
            let negative_price = r[5].starts_with('-');
            !negative_price && if credit { q < 0 } else { q > 0 }
        })
        .collect();
    if kept.is_empty() {
        return Ok(false);
    }
    if credit {
        // The baseline app keeps credit notes as refunds on their own day (no order to hang them on).
        let amount: i64 = kept.iter().map(|r| cents(&r[5], r[3].parse().unwrap_or(0))).sum();
        tx.prepare_cached("INSERT INTO refunds (order_id, amount_cents, day) VALUES (NULL, ?1, ?2)")?
            .execute(params![amount, day(at)])?;
        if model == Model::Summary {
            summarize_refund(tx, &day(at), amount)?;
        }
        return Ok(false);
    }
    let mut number = first[0].to_owned();
    if !seen.insert(number.clone()) {
        number.push_str("-2");
    }
    let total: i64 = kept.iter().map(|r| cents(&r[5], r[3].parse().unwrap_or(0))).sum();
    tx.prepare_cached("INSERT INTO orders (number, customer_id, placed_at, day, status, total_cents) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)")?
        .execute(params![number, customer, at.timestamp_micros(), day(at), total])?;
    let id = tx.last_insert_rowid();
    let mut item = tx.prepare_cached(
        "INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price_cents, total_cents) VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let (mut names, mut skus, mut summary) = (Vec::new(), Vec::new(), Vec::new());
    for r in &kept {
        let q: i64 = r[3].parse().unwrap_or(0);
        let unit = cents(&r[5], 1);
        item.execute(params![id, &r[1], &r[2], q, unit, cents(&r[5], q)])?;
        names.push(r[2].to_owned());
        skus.push(r[1].to_owned());
        summary.push((&r[1], &r[2], q, cents(&r[5], q)));
    }
    if model == Model::Summary {
        summarize(tx, &day(at), customer, &summary)?;
    }
    let who = customer.map(|c| format!("Customer {c}")).unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO order_search (rowid, number, customer, email, products, skus) VALUES (?1, ?2, ?3, '', ?4, ?5)",
    )?
    .execute(params![id, number, who, names.join(" "), skus.join(" ")])?;
    Ok(true)
}

/// Writes orders (with their items, search row, refund and cancellation) in one transaction.
fn import(db: &mut Connection, orders: &[GenOrder], model: Model) -> Result<(), rusqlite::Error> {
    let tx = db.transaction()?;
    {
        let mut order = tx.prepare_cached(
            "INSERT INTO orders (number, customer_id, placed_at, day, status, total_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut item = tx.prepare_cached(
            "INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price_cents, total_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut fts = tx.prepare_cached(
            "INSERT INTO order_search (rowid, number, customer, email, products, skus) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut refund = tx.prepare_cached("INSERT INTO refunds (order_id, amount_cents, day) VALUES (?1, ?2, ?3)")?;
        for o in orders {
            let lines: Vec<(String, String, i64, i64)> = o
                .lines
                .iter()
                .map(|&(p, q)| {
                    let (sku, name, cents) = workload::product(p);
                    (sku, name, cents, q)
                })
                .collect();
            let total: i64 = lines.iter().map(|(_, _, c, q)| c * q).sum();
            let status = if o.cancelled { "cancelled" } else { "pending" };
            order.execute(params![
                o.number.to_string(),
                o.customer.map(|c| c as i64),
                o.at.timestamp_micros(),
                day(o.at),
                status,
                total
            ])?;
            let id = tx.last_insert_rowid();
            for (i, (sku, name, cents, q)) in lines.iter().enumerate() {
                item.execute(params![id, o.lines[i].0 as i64 + 1, sku, name, q, cents, cents * q])?;
            }
            let (customer, email) = match o.customer {
                Some(c) => (format!("Customer {c}"), format!("customer{c}@example.org")),
                None => (String::new(), String::new()),
            };
            let names: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
            let skus: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
            fts.execute(params![id, o.number.to_string(), customer, email, names.join(" "), skus.join(" ")])?;
            if let Some((cents, at)) = o.refund {
                refund.execute(params![id, cents, day(at)])?;
                if model == Model::Summary {
                    summarize_refund(&tx, &day(at), cents)?;
                }
            }
            if model == Model::Summary && !o.cancelled {
                let summary: Vec<(&str, &str, i64, i64)> =
                    lines.iter().map(|(sku, name, cents, q)| (sku.as_str(), name.as_str(), *q, cents * q)).collect();
                summarize(&tx, &day(o.at), o.customer.map(|c| c as i64), &summary)?;
            }
        }
    }
    tx.commit()
}

/// KPIs and the daily series for the period and the previous one; with `top`, also the top
/// products (the same split as Countertop's `dashboard_with`).
fn dashboard(db: &Connection, last: NaiveDate, days: u64, top: bool, model: Model) -> Result<(), rusqlite::Error> {
    let (daily, refunds, unique, top_query) = match model {
        Model::Single => (DAILY, REFUNDS, UNIQUE, TOP),
        Model::Summary => (SUMMARY_DAILY, SUMMARY_REFUNDS, SUMMARY_UNIQUE, SUMMARY_TOP),
    };
    let from = last - chrono::TimeDelta::days(days as i64 - 1);
    let previous_to = from - chrono::TimeDelta::days(1);
    let previous_from = previous_to - chrono::TimeDelta::days(days as i64 - 1);
    for (a, b) in [(from, last), (previous_from, previous_to)] {
        let (a, b) = (a.to_string(), b.to_string());
        let mut daily = db.prepare_cached(daily)?;
        let rows = daily.query_map(params![a, b], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
        })?;
        std::hint::black_box(rows.collect::<Result<Vec<_>, _>>()?);
        let mut refunds = db.prepare_cached(refunds)?;
        let rows = refunds.query_map(params![a, b], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        std::hint::black_box(rows.collect::<Result<Vec<_>, _>>()?);
        std::hint::black_box(db.prepare_cached(unique)?.query_row(params![a, b], |r| r.get::<_, i64>(0))?);
    }
    if !top {
        return Ok(());
    }
    let (a, b) = (from.to_string(), last.to_string());
    let mut top = db.prepare_cached(top_query)?;
    let rows = top.query_map(params![a, b], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(3)?)))?;
    std::hint::black_box(rows.collect::<Result<Vec<_>, _>>()?);
    Ok(())
}

fn history(db: &Connection, customer: i64) -> Result<(), rusqlite::Error> {
    let mut orders = db.prepare_cached(
        "SELECT id, number, placed_at, status, total_cents FROM orders WHERE customer_id = ?1 ORDER BY placed_at DESC LIMIT 20",
    )?;
    let ids: Vec<i64> = orders.query_map(params![customer], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut items =
        db.prepare_cached("SELECT sku, name, quantity, total_cents FROM order_items WHERE order_id = ?1")?;
    for id in ids {
        let rows = items.query_map(params![id], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?)))?;
        std::hint::black_box(rows.collect::<Result<Vec<_>, _>>()?);
    }
    Ok(())
}

fn search(db: &Connection, query: &str) -> Result<(), rusqlite::Error> {
    // FTS5 with a prefix on the last word, like the as-you-type search; no typo tolerance.
    let words: Vec<String> = query.split_whitespace().map(|w| format!("\"{w}\"")).collect();
    let mut expression = words.join(" ");
    expression.push('*');
    let mut stmt = db.prepare_cached(
        "SELECT rowid FROM order_search WHERE order_search MATCH ?1 ORDER BY bm25(order_search) LIMIT 10",
    )?;
    let rows = stmt.query_map(params![expression], |r| r.get::<_, i64>(0))?;
    std::hint::black_box(rows.collect::<Result<Vec<_>, _>>()?);
    Ok(())
}

fn one_order(db: &Connection, number: &str) -> Result<(), rusqlite::Error> {
    let mut order =
        db.prepare_cached("SELECT id, customer_id, placed_at, status, total_cents FROM orders WHERE number = ?1")?;
    let id: i64 = order.query_row(params![number], |r| r.get(0))?;
    let mut items =
        db.prepare_cached("SELECT sku, name, quantity, total_cents FROM order_items WHERE order_id = ?1")?;
    let rows = items.query_map(params![id], |r| r.get::<_, String>(1))?;
    std::hint::black_box(rows.collect::<Result<Vec<_>, _>>()?);
    Ok(())
}
