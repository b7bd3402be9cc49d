//! `sync-bench`: sync through a loopback `nats-server` (Debian's, started here on a free port
//! with its own store folder): push and pull throughput, the time a new device takes to join
//! a shop of N orders, order entry with sync running against sync off (blocks alternating in
//! one run), and the lag between three devices each taking orders at a steady rate.
//!
//! ```text
//! cargo run --release -p countertop-bench --bin sync-bench -- [--orders 20000] [--rate 100] [--seconds 10]
//!     [--entries 600] [--blocks 20] [--warmup-ms 300] [--hub-in DIR] [--control] [--quick]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use countertop_core::Decimal;
use countertop_core::{AddProduct, Command as Cmd, LineInput, MoneyInput, OpenShop, PlaceOrder, Request, WriteStore};
use countertop_sync::{Credentials, Hub, JoinOptions, LocalHub, Syncer};

/// A receiver's watch: (receiver, origin, the origin's sequence now here, when seen).
type Seen = (usize, usize, u64, Instant);

fn hub(url: &str) -> Hub {
    Hub::new(url, "bench", Credentials::None)
}

fn order(n: u64) -> Cmd {
    Cmd::PlaceOrder(PlaceOrder {
        order: None,
        customer: None,
        lines: vec![
            LineInput::Product { sku: "MUG".into(), quantity: 1 + (n % 3) as i64, unit_price: None },
            LineInput::Product { sku: "TEA".into(), quantity: 1, unit_price: None },
        ],
        discount: None,
        note: None,
        payment_method: Some("card".into()),
        at: None,
        payments: Vec::new(),
        invoice: false,
    })
}

fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    countertop_core::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let orders = arg(&args, "--orders", if quick { 200 } else { 20_000 });
    let rate = arg(&args, "--rate", 100);
    let seconds = arg(&args, "--seconds", if quick { 1 } else { 10 });
    // Orders placed for the entry comparison with sync off, and as many with it running.
    let entries = arg(&args, "--entries", if quick { 20 } else { 600 });
    // How long each block waits after starting (or stopping) the sync loop before placing
    // orders: the loop's start (connecting, finding where to send from) is not order entry.
    let warmup_ms = arg(&args, "--warmup-ms", 300);
    // `--hub-in DIR`: the hub's store under DIR (e.g. /dev/shm), standing for a hub on another
    // machine, whose disk the tills' fsyncs do not share; by default it is on the tills' disk.
    let hub_server = match args.iter().position(|a| a == "--hub-in").and_then(|i| args.get(i + 1)) {
        Some(dir) => LocalHub::start_in(std::path::Path::new(dir)),
        None => LocalHub::start(),
    }
    .expect("a hub of its own");
    let url = hub_server.url();

    // Device A: a shop with `orders` orders (each order is one event).
    let a_dir = tempfile::tempdir().unwrap();
    let a = WriteStore::open(a_dir.path()).unwrap();
    a.execute(Request::new(Cmd::OpenShop(OpenShop {
        name: "Bench".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: Decimal::new(2, 1),
    })))
    .unwrap();
    for (sku, price) in [("MUG", 800), ("TEA", 450)] {
        a.execute(Request::new(Cmd::AddProduct(AddProduct {
            sku: sku.into(),
            name: sku.into(),
            unit_price: MoneyInput::new(Decimal::new(price, 2)),
            tax_rate: None,
            image: None,
        })))
        .unwrap();
    }
    let mut n = 0;
    while n < orders {
        let batch: Vec<Request> = (n..(n + 500).min(orders)).map(|i| Request::new(order(i))).collect();
        n += batch.len() as u64;
        a.execute_batch(batch).unwrap();
    }
    // Push: A starts the shop on the hub and sends every event (signed; its own admission as
    // the shop's first key is one more).
    let t = Instant::now();
    let (_, report) = countertop_sync::join(&a, a_dir.path(), hub(&url), &JoinOptions::default(), &mut |_| {}).unwrap();
    let push = t.elapsed();
    let events = a.sync_state().unwrap().own_events;
    assert_eq!(report.sent, events);
    println!("events in the shop            {events}");
    println!(
        "push (join, send all)         {:.0} events/s ({:.2} s)",
        events as f64 / push.as_secs_f64(),
        push.as_secs_f64()
    );

    // Pull: a new device joins (paired by A; the pairing's own round trips, well under a
    // second, are in the time) and fetches it all, each event's signature checked.
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    let t = Instant::now();
    let (_, report) =
        countertop_sync::pair_here(&a, &hub(&url), &b, b_dir.path(), hub(&url), JoinOptions::default()).unwrap();
    let pull = t.elapsed();
    assert!(report.received >= events, "{report:?}");
    println!(
        "pull (a new device joins)     {:.0} events/s ({:.2} s for {orders} orders)",
        events as f64 / pull.as_secs_f64(),
        pull.as_secs_f64()
    );

    // Order entry on A, its sync loop off and running (sending each order as it is taken), in
    // alternating blocks.
    // Many short blocks, so that the machine's slower and busier minutes (it is shared) fall on
    // both sides alike.
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut i = 0;
    // `--control`: the "running" blocks with sync off as well, to see how far the ratio moves
    // by the machine's noise alone.
    let control = args.iter().any(|a| a == "--control");
    let blocks = arg(&args, "--blocks", if quick { 2 } else { 20 }).max(2) / 2 * 2;
    for block in 0..blocks {
        let syncing = block % 2 == 1;
        let syncer = (syncing && !control).then(|| Syncer::start(a.clone(), hub(&url)).unwrap());
        std::thread::sleep(Duration::from_millis(warmup_ms));
        for _ in 0..entries / (blocks / 2) {
            let t = Instant::now();
            a.execute(Request::new(order(i))).unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if syncing {
                on.push(ms)
            } else {
                off.push(ms)
            }
            i += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(syncer);
    }
    let (off50, off99) = percentiles(&mut off);
    let (on50, on99) = percentiles(&mut on);
    let running = if control { "sync off, control" } else { "sync running" };
    println!("order entry, sync off           p50 {off50:.2} ms  p99 {off99:.2} ms  ({} orders)", off.len());
    println!("order entry, {running:<17}  p50 {on50:.2} ms  p99 {on99:.2} ms  ({} orders)", on.len());
    println!("ratio on/off                    p50 {:.2}x  p99 {:.2}x", on50 / off50, on99 / off99);

    // Convergence: three devices, each taking `rate` orders/s for `seconds` s, all syncing.
    let c_dir = tempfile::tempdir().unwrap();
    let c = WriteStore::open(c_dir.path()).unwrap();
    countertop_sync::pair_here(&a, &hub(&url), &c, c_dir.path(), hub(&url), JoinOptions::default()).unwrap();
    let stores = [a.clone(), b.clone(), c.clone()];
    let syncers: Vec<Syncer> = stores.iter().map(|s| Syncer::start(s.clone(), hub(&url)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let devices: Vec<String> = stores.iter().map(|s| s.identity().unwrap().unwrap().device).collect();
    let stop = Arc::new(AtomicBool::new(false));
    // (device, own sequence) → when it was committed.
    let committed: Arc<Mutex<Vec<(usize, u64, Instant)>>> = Arc::default();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let watchers: Vec<_> = (0..3)
        .map(|r| {
            let (store, stop, seen, devices) =
                (stores[r].clone(), Arc::clone(&stop), Arc::clone(&seen), devices.clone());
            std::thread::spawn(move || {
                let mut last = [0u64; 3];
                while !stop.load(Ordering::Relaxed) {
                    for tip in store.sync_state().unwrap().devices {
                        let o = devices.iter().position(|d| *d == tip.device).unwrap();
                        if tip.seq > last[o] {
                            last[o] = tip.seq;
                            seen.lock().unwrap().push((r, o, tip.seq, Instant::now()));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    let takers: Vec<_> = (0..3)
        .map(|d| {
            let (store, committed) = (stores[d].clone(), Arc::clone(&committed));
            std::thread::spawn(move || {
                let start = Instant::now();
                let every = Duration::from_secs_f64(1.0 / rate as f64);
                for k in 0..rate * seconds {
                    let due = start + every * k as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    store.execute(Request::new(order(k))).unwrap();
                    let seq = store.sync_state().unwrap().own_events;
                    committed.lock().unwrap().push((d, seq, Instant::now()));
                }
            })
        })
        .collect();
    for t in takers {
        t.join().unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for w in watchers {
        w.join().unwrap();
    }
    drop(syncers);
    let committed = committed.lock().unwrap();
    let seen = seen.lock().unwrap();
    let mut lags = Vec::new();
    let mut missing = 0;
    for &(origin, seq, at) in committed.iter() {
        for receiver in (0..3).filter(|r| *r != origin) {
            match seen.iter().find(|(r, o, s, _)| *r == receiver && *o == origin && *s >= seq) {
                Some((.., when)) => lags.push(when.saturating_duration_since(at).as_secs_f64() * 1000.0),
                None => missing += 1,
            }
        }
    }
    let (lag50, lag99) = percentiles(&mut lags);
    println!(
        "convergence, 3 devices at {rate} orders/s each for {seconds} s: lag p50 {lag50:.0} ms  p99 {lag99:.0} ms ({} arrivals, {missing} not seen within 3 s)",
        lags.len()
    );
}
