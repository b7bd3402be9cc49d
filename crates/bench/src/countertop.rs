//! The Countertop side: the real write store, projector, read store and index.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use countertop_core::{
    AddCustomer, AddProduct, CancelOrder, Command, Countertop, Decimal, Freshness, LineInput, MoneyInput, OpenShop,
    OrderFilter, PaymentInput, Period, PlaceOrder, RefundOrder, Request, Tender,
};

use countertop_core::import::{self, Format, ImportOptions};

use crate::workload::{self, GenOrder, PRODUCTS, Probe, Workload};
use crate::{
    Metrics, Plan, Samples, bytes_dirtied, device_bytes_written, device_kb_each, dir_bytes, peak_rss_mb, rss_phase,
};

const WAIT: Duration = Duration::from_secs(3600);

fn place(o: &GenOrder) -> Command {
    Command::PlaceOrder(PlaceOrder {
        order: Some(o.number.to_string()),
        customer: o.customer.map(|c| c.to_string()),
        lines: o
            .lines
            .iter()
            .map(|&(p, q)| LineInput::Product { sku: workload::product(p).0, quantity: q, unit_price: None })
            .collect(),
        discount: None,
        note: None,
        payment_method: Some("card".into()),
        at: Some(o.at),
        payments: Vec::new(),
        invoice: false,
    })
}

/// Customers the synthetic setup registers (the Online Retail import registers its own, and
/// the order-entry phases use customer 1 of the synthetic set).
fn synthetic_customers(workload: &Workload) -> u64 {
    match workload {
        Workload::Synthetic { orders, .. } => workload::customers(*orders),
        Workload::OnlineRetail(_) => 1,
    }
}

fn import_synthetic(ct: &Countertop, n: u64, seed: u64) -> Result<(), countertop_core::Error> {
    let mut batch = Vec::new();
    let mut later = Vec::new();
    for o in workload::orders(n, seed) {
        batch.push(Request::new(place(&o)));
        if let Some((cents, at)) = o.refund {
            later.push(Request::new(Command::RefundOrder(RefundOrder {
                order: o.number.to_string(),
                amount: Some(MoneyInput::new(Decimal::new(cents, 2))),
                lines: Vec::new(),
                reason: "bench".into(),
                at: Some(at),
                tender: None,
                restock: false,
            })));
        }
        if o.cancelled {
            later.push(Request::new(Command::CancelOrder(CancelOrder {
                order: o.number.to_string(),
                reason: "bench".into(),
                at: None,
            })));
        }
        if batch.len() >= 2000 {
            batch.append(&mut later);
            for r in ct.write().execute_bulk(std::mem::take(&mut batch))? {
                must(r);
            }
        }
    }
    batch.append(&mut later);
    for r in ct.write().execute_bulk(batch)? {
        must(r);
    }
    Ok(())
}

fn must(result: Result<countertop_core::Outcome, countertop_core::Error>) {
    if let Err(e) = result {
        eprintln!("countertop: a benchmark command was refused: {e}");
    }
}

pub fn run(dir: &Path, workload: &Workload, probe: &Probe, plan: Plan) -> Result<Metrics, countertop_core::Error> {
    let mut m = Metrics::new();
    let ct = Countertop::open(dir)?;
    ct.execute(Request::new(Command::OpenShop(OpenShop {
        name: "Bench".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: Decimal::new(2, 1),
    })))?;
    let setup: Vec<Request> = (0..PRODUCTS)
        .map(|i| {
            let (sku, name, cents) = workload::product(i);
            Request::new(Command::AddProduct(AddProduct {
                sku,
                name,
                unit_price: MoneyInput::new(Decimal::new(cents, 2)),
                tax_rate: None,
                image: None,
            }))
        })
        .chain((1..=synthetic_customers(workload)).map(|c| {
            Request::new(Command::AddCustomer(AddCustomer {
                id: Some(c.to_string()),
                name: format!("Customer {c}"),
                email: Some(format!("customer{c}@example.org")),
                ..AddCustomer::default()
            }))
        }))
        .collect();
    for r in ct.write().execute_batch(setup)? {
        must(r);
    }

    // 2. Bulk import: group commits of 2000 orders (refunds and cancels follow their orders),
    // or the real export through the importer.
    let started = Instant::now();
    let n = match workload {
        Workload::Synthetic { orders, seed } => {
            import_synthetic(&ct, *orders, *seed)?;
            *orders
        }
        Workload::OnlineRetail(path) => {
            let options = ImportOptions { format: Format::OnlineRetail, ..ImportOptions::default() };
            let report = import::import(ct.write(), path, &options, |_| {})?;
            m.insert("import_lines_per_s", report.lines as f64 / started.elapsed().as_secs_f64());
            report.orders
        }
    };
    m.insert("import_orders_per_s", n as f64 / started.elapsed().as_secs_f64());
    rss_phase(&mut m, "import");
    ct.wait_caught_up(Freshness::Search, WAIT, |_| {});
    rss_phase(&mut m, "projection");
    let head = ct.write().head().current();
    m.insert("events", head as f64);

    // 3. Full rebuild from an empty read store: tables, then tables + search.
    drop(ct);
    // The shop's history as imported and projected, at rest (closed, as SQLite's is measured),
    // before the entry phases add orders of their own (another 100 per entry are imported,
    // which SQLite does not).
    m.insert("disk_after_import_mb", dir_bytes(dir) as f64 / 1e6);
    let _ = std::fs::remove_file(dir.join(countertop_core::READ_STORE_FILE));
    let _ = std::fs::remove_dir_all(dir.join("search"));
    let started = Instant::now();
    let ct = Countertop::open(dir)?;
    ct.wait_caught_up(Freshness::Tables, WAIT, |_| {});
    m.insert("rebuild_tables_s", started.elapsed().as_secs_f64());
    m.insert("rebuild_tables_events_per_s", head as f64 / started.elapsed().as_secs_f64());
    ct.wait_caught_up(Freshness::Search, WAIT, |_| {});
    m.insert("rebuild_all_events_per_s", head as f64 / started.elapsed().as_secs_f64());
    rss_phase(&mut m, "rebuild");

    // 5. Queries.
    let last_day = probe.last_day;
    for (key, days, top) in [("dash30", 30, 0), ("dash365", 365, 0), ("top30", 30, 10), ("top365", 365, 10)] {
        let period = Period::last_days(last_day, days);
        m.samples(key, plan.queries, || {
            ct.dashboard_with(period, top).map(drop).map_err(|e| eprintln!("{e}")).ok();
        });
    }
    // The same questions as the baseline asks, taken from the workload (or the export); how
    // many of them find something, so a run shows it asked about real orders and customers.
    let found_orders = probe.orders.iter().filter(|o| matches!(ct.order(o, None, Duration::ZERO), Ok(Some(_)))).count();
    let found_customers = probe
        .customers
        .iter()
        .filter(|c| {
            let filter = OrderFilter { customer: Some((*c).clone()), limit: 1, ..OrderFilter::default() };
            ct.orders(&filter).is_ok_and(|page| !page.value.items.is_empty())
        })
        .count();
    m.insert("probe_orders_found", found_orders as f64 / probe.orders.len().max(1) as f64);
    m.insert("probe_customers_found", found_customers as f64 / probe.customers.len().max(1) as f64);
    let mut i = 0;
    m.samples("history", plan.queries, || {
        i += 1;
        let filter = OrderFilter {
            customer: Some(probe.customers[i % probe.customers.len().max(1)].clone()),
            limit: 20,
            ..OrderFilter::default()
        };
        ct.orders(&filter).map(drop).ok();
    });
    let mut q = 0;
    m.samples("search", plan.queries, || {
        q += 1;
        ct.search(probe.searches[q % probe.searches.len()], 0, 10).map(drop).ok();
    });
    let mut k = 0;
    m.samples("order", plan.queries, || {
        k += 1;
        ct.order(&probe.orders[k % probe.orders.len().max(1)], None, Duration::ZERO).map(drop).ok();
    });

    rss_phase(&mut m, "queries");

    // 1. Durable order entry: idle, under dashboard load, during a rebuild.
    let mut number = 900_000_000u64;
    // `split`: paid with tenders, a penny on the card and a £1,000 note for the rest (the
    // change worked out and recorded), instead of "paid in full by card".
    let mut entry_paid = |ct: &Countertop, split: bool| -> Duration {
        number += 1;
        let o = GenOrder {
            number,
            customer: Some(1),
            lines: vec![(number as usize % PRODUCTS, 1)],
            at: chrono::Utc::now(),
            refund: None,
            cancelled: false,
        };
        let mut command = place(&o);
        if split && let Command::PlaceOrder(p) = &mut command {
            p.payment_method = None;
            p.payments = vec![
                PaymentInput { tender: Tender::Card, amount: MoneyInput::new(Decimal::new(1, 2)) },
                PaymentInput { tender: Tender::Cash, amount: MoneyInput::new(Decimal::new(100_000, 2)) },
            ];
        }
        let t = Instant::now();
        must(ct.execute(Request::new(command)));
        t.elapsed()
    };
    let mut idle = Samples::default();
    let mut idle_split = Samples::default();
    let (device, dirtied) = (device_bytes_written(dir), bytes_dirtied());
    // Side by side, alternating, so both meet the same disk and the same noise.
    for i in 0..plan.entries * 2 {
        if i % 2 == 0 {
            idle.push(entry_paid(&ct, false));
        } else {
            idle_split.push(entry_paid(&ct, true));
        }
    }
    let mut entry = |ct: &Countertop| entry_paid(ct, false);
    // Includes the projector's and the index's writes for those orders, once they are caught up
    // (they run alongside, as in the app).
    ct.wait_caught_up(Freshness::Search, WAIT, |_| {});
    device_kb_each(&mut m, dir, device, plan.entries * 2);
    m.insert("entry_kb_dirtied_each", (bytes_dirtied() - dirtied) / 1024.0 / (plan.entries * 2).max(1) as f64);
    m.put_samples("entry_idle", &mut idle);
    m.put_samples("entry_idle_split_tenders", &mut idle_split);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = {
        let (ct, stop) = (ct.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut runs = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ct.dashboard(Period::last_days(last_day, 30)).map(drop).ok();
                runs += 1;
            }
            runs
        })
    };
    let mut loaded = Samples::default();
    for _ in 0..plan.entries {
        loaded.push(entry(&ct));
    }
    stop.store(true, Ordering::Relaxed);
    let runs = loader.join().unwrap_or(0);
    m.put_samples("entry_dash_load", &mut loaded);
    rss_phase(&mut m, "dash_load");
    m.insert("dash_load_queries", runs as f64);
    let rebuilder = {
        let ct = ct.clone();
        std::thread::spawn(move || ct.rebuild(WAIT, |_| {}))
    };
    std::thread::sleep(Duration::from_millis(50));
    let mut during = Samples::default();
    while !rebuilder.is_finished() && during.len() < 2000 {
        during.push(entry(&ct));
    }
    let _ = rebuilder.join();
    m.put_samples("entry_rebuild", &mut during);
    rss_phase(&mut m, "entry_rebuild");

    // ... and while a CSV import runs through the real importer on another thread, as the app
    // runs it (its groups of 2000 orders are bulk jobs: the counter's orders go ahead of them).
    let csv = dir.with_extension("import.csv");
    write_import_csv(&csv, plan.entries * 100, last_day)
        .map_err(|e| countertop_core::Error::Write { detail: e.to_string() })?;
    let importer = {
        let (ct, csv) = (ct.clone(), csv.clone());
        std::thread::spawn(move || import::import(ct.write(), &csv, &ImportOptions::default(), |_| {}))
    };
    std::thread::sleep(Duration::from_millis(50));
    let mut during = Samples::default();
    while !importer.is_finished() && during.len() < 2000 {
        during.push(entry(&ct));
    }
    if let Ok(report) = importer.join() {
        m.insert("entry_import_orders", report?.orders as f64);
    }
    let _ = std::fs::remove_file(&csv);
    m.put_samples("entry_import", &mut during);
    rss_phase(&mut m, "entry_import");
    m.insert("peak_rss_before_lag_mb", peak_rss_mb());

    // 4. Projection lag at a steady 100 orders/s.
    let mut tables = Samples::default();
    for _ in 0..plan.lag {
        let started = Instant::now();
        entry(&ct);
        let committed = Instant::now();
        ct.wait_caught_up(Freshness::Tables, WAIT, |_| {});
        tables.push(committed.elapsed());
        std::thread::sleep(Duration::from_millis(10).saturating_sub(started.elapsed()));
    }
    m.put_samples("lag_tables", &mut tables);
    let mut search = Samples::default();
    for _ in 0..plan.search_lag {
        entry(&ct);
        let committed = Instant::now();
        ct.wait_caught_up(Freshness::Search, WAIT, |_| {});
        search.push(committed.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    m.put_samples("lag_search", &mut search);

    // 6. Disk, cold open → first dashboard, memory.
    drop(ct);
    m.insert("disk_mb", dir_bytes(dir) as f64 / 1e6);
    let started = Instant::now();
    let ct = Countertop::open(dir)?;
    ct.dashboard(Period::last_days(last_day, 30))?;
    m.insert("cold_open_ms", started.elapsed().as_secs_f64() * 1e3);
    drop(ct);
    m.insert("peak_rss_mb", peak_rss_mb());
    Ok(m)
}

/// `orders` orders of 1–4 catalog lines each, on the days before `last_day`, in the generic
/// CSV format, numbered `IMP-1`… so they do not meet the workload's numbers.
fn write_import_csv(path: &Path, orders: usize, last_day: chrono::NaiveDate) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "order,date,customer,sku,product,quantity,unit_price")?;
    for k in 0..orders {
        let day = last_day - chrono::TimeDelta::days((k % 365) as i64);
        for line in 0..=(k % 4) {
            let (sku, name, cents) = workload::product((k * 31 + line * 7) % PRODUCTS);
            let price = Decimal::new(cents, 2);
            writeln!(out, "IMP-{k},{day} 12:00:00,Importer {},{sku},{name},{},{price}", k % 500, 1 + line)?;
        }
    }
    out.flush()
}
