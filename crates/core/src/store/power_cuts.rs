//! The power-cut campaign: the write store on a simulated disk ([`super::disk::sim`]) that loses
//! power at a random step of a random shop's day, comes back with its unsynced writes lost,
//! kept, torn or garbled, and is opened again. After every cut:
//!
//! - the store opens (a cut never leaves it damaged, let alone answering wrongly) — except
//!   that when a lost sector may come back as garbage (`Cut::Garbage`, which breaks the sector
//!   atomicity disks give and SQLite assumes too), `write.redb` may say it is damaged: redb
//!   rewrites its header sector, magic number included, at every durable commit. That is
//!   counted, never a wrong answer;
//! - every acknowledged command is there exactly once: run again under its id, it is answered
//!   from the record with the same log positions, never executed a second time;
//! - nothing is half there: the commands in the store tile the log from 1 to its head with no
//!   gap or overlap, the hash chain checks out, and the products and orders of acknowledged
//!   commands are in the current state;
//! - the store works on: it takes an order, and opens again after a clean stop with it.
//!
//! `COUNTERTOP_POWER_CUTS=N` runs N cuts (CI: 60; `COUNTERTOP_HEAVY`: 1,000; by hand: 10,000
//! in a release build, figures in RELIABILITY.md); `COUNTERTOP_POWER_CUT_SEED=S` starts from
//! seed S, to run a failing cut again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::disk::sim::{CUTS, Cut, Rng, SimDisk};
use super::*;
use crate::domain::{AddCustomer, AddProduct, CancelOrder, LineInput, OpenShop, PlaceOrder, RefundOrder, ShipOrder};
use crate::money::MoneyInput;

const STORE: &str = "/shop/write.redb";

/// What one simulated day did before the power went.
#[derive(Debug, Default)]
struct Day {
    /// Commands that were answered `Ok`, with their answers.
    acknowledged: Vec<(Request, Outcome)>,
    /// Products and orders those commands created.
    products: Vec<String>,
    orders: Vec<String>,
    /// Why the day ended early (the power cut, seen as an error), if it did.
    stopped: Option<String>,
}

fn place(id: String, products: &[String], customers: u64, rng: &mut Rng) -> Request {
    let lines = (0..=rng.below(2))
        .map(|_| LineInput::Product {
            sku: products[rng.below(products.len() as u64) as usize].clone(),
            quantity: 1 + rng.below(5) as i64,
            unit_price: None,
        })
        .collect();
    let customer = (customers > 0 && rng.chance(2)).then(|| (1 + rng.below(customers)).to_string());
    Request::with_id(
        id,
        Command::PlaceOrder(PlaceOrder {
            order: None,
            customer,
            lines,
            discount: None,
            note: Some(format!("note {}", rng.next())),
            payment_method: None,
            at: None,
            payments: Vec::new(),
            invoice: false,
        }),
    )
}

/// A shop's day on `disk`, from `seed`: setup, products, customers, orders one by one and in
/// batches, shipments, refunds, cancellations, an import-sized bulk job now and then (which
/// commits durably in redb, past the journal), and clean restarts. Ends at the first error.
fn day(disk: &Arc<SimDisk>, seed: u64) -> Day {
    let mut rng = Rng::new(seed);
    let mut done = Day::default();
    let path = Path::new(STORE);
    let mut store = match WriteStore::open_simulated(disk, path) {
        Ok(store) => store,
        Err(e) => {
            done.stopped = Some(format!("open: {e}"));
            return done;
        }
    };
    let mut customers = 0u64;
    let mut shipped_or_cancelled = Vec::new();
    let mut next = 0u64;
    let mut id = || {
        next += 1;
        format!("cmd-{next}")
    };
    let steps = 30 + rng.below(40);
    for step in 0..steps {
        let roll = if step == 0 { u64::MAX } else { rng.below(100) };
        let request = match roll {
            u64::MAX => Some(Request::with_id(
                id(),
                Command::OpenShop(OpenShop {
                    name: "Corner Shop".into(),
                    currency: "GBP".into(),
                    time_zone: "Europe/London".into(),
                    day_start: "04:00".into(),
                    prices_include_tax: true,
                    default_tax_rate: Decimal::new(2, 1),
                }),
            )),
            _ if roll < 15 || done.products.is_empty() => {
                let sku = format!("SKU-{}", done.products.len() + 1);
                Some(Request::with_id(
                    id(),
                    Command::AddProduct(AddProduct {
                        sku,
                        name: format!("Product {}", rng.next()),
                        unit_price: MoneyInput::new(Decimal::new(100 + rng.below(10_000) as i64, 2)),
                        tax_rate: None,
                        image: None,
                    }),
                ))
            }
            _ if roll < 25 => Some(Request::with_id(
                id(),
                Command::AddCustomer(AddCustomer {
                    name: format!("Customer {}", rng.next()),
                    email: Some(format!("c{}@example.org", rng.next())),
                    ..AddCustomer::default()
                }),
            )),
            _ if roll < 60 => Some(place(id(), &done.products, customers, &mut rng)),
            _ if roll < 78 && !done.orders.is_empty() => {
                let order = done.orders[rng.below(done.orders.len() as u64) as usize].clone();
                let command = match roll {
                    ..68 => Command::ShipOrder(ShipOrder {
                        order: order.clone(),
                        carrier: "Royal Mail".into(),
                        tracking: format!("RM{}", rng.next() % 1_000_000_000),
                        at: None,
                    }),
                    68..73 => Command::RefundOrder(RefundOrder {
                        order: order.clone(),
                        amount: Some(MoneyInput::new(Decimal::new(1, 2))),
                        lines: Vec::new(),
                        reason: "damaged".into(),
                        at: None,
                        tender: None,
                        restock: false,
                    }),
                    _ => Command::CancelOrder(CancelOrder {
                        order: order.clone(),
                        reason: "changed mind".into(),
                        at: None,
                    }),
                };
                if shipped_or_cancelled.contains(&order) && !matches!(command, Command::RefundOrder(_)) {
                    None
                } else {
                    if !matches!(command, Command::RefundOrder(_)) {
                        shipped_or_cancelled.push(order);
                    }
                    Some(Request::with_id(id(), command))
                }
            }
            _ if roll < 84 => {
                // A clean stop (the journal is made durable in redb) and a start.
                drop(store);
                store = match WriteStore::open_simulated(disk, path) {
                    Ok(store) => store,
                    Err(e) => {
                        done.stopped = Some(format!("reopen: {e}"));
                        return done;
                    }
                };
                None
            }
            _ if roll < 90 => {
                // An import-sized job: sometimes past the journal's largest record.
                let n = if rng.chance(3) { 900 } else { 5 + rng.below(60) };
                let requests: Vec<Request> = (0..n).map(|_| place(id(), &done.products, customers, &mut rng)).collect();
                if let Err(e) = note_all(&mut done, requests.clone(), store.execute_bulk(requests)) {
                    done.stopped = Some(format!("bulk: {e}"));
                    return done;
                }
                None
            }
            _ => {
                let requests: Vec<Request> =
                    (0..2 + rng.below(4)).map(|_| place(id(), &done.products, customers, &mut rng)).collect();
                if let Err(e) = note_all(&mut done, requests.clone(), store.execute_batch(requests)) {
                    done.stopped = Some(format!("batch: {e}"));
                    return done;
                }
                None
            }
        };
        let Some(request) = request else { continue };
        let is_customer = matches!(request.command, Command::AddCustomer(_));
        match store.execute(request.clone()) {
            Ok(outcome) => {
                customers += u64::from(is_customer);
                note(&mut done, request, outcome);
            }
            // A refund past what is left, say: answered, nothing written.
            Err(Error::Rejected(_)) => {}
            Err(e) => {
                done.stopped = Some(e.to_string());
                return done;
            }
        }
    }
    done
}

/// Notes the commands of a batch or bulk job that were answered `Ok`; the job's own error if
/// it failed as a whole.
fn note_all(
    done: &mut Day,
    requests: Vec<Request>,
    results: Result<Vec<Result<Outcome, Error>>, Error>,
) -> Result<(), Error> {
    for (request, result) in requests.into_iter().zip(results?) {
        if let Ok(outcome) = result {
            note(done, request, outcome);
        }
    }
    Ok(())
}

fn note(done: &mut Day, request: Request, outcome: Outcome) {
    match &request.command {
        Command::AddProduct(p) => done.products.push(p.sku.clone()),
        Command::PlaceOrder(_) => {
            if let Some(order) = outcome.stream.strip_prefix("order/") {
                done.orders.push(order.to_owned());
            }
        }
        _ => {}
    }
    done.acknowledged.push((request, outcome));
}

/// What a cut and the store after it came to.
#[derive(Debug, Default)]
struct Tally {
    cuts: u64,
    by_kind: BTreeMap<&'static str, u64>,
    acknowledged: u64,
    recovered_from_journal: u64,
    unacknowledged_but_kept: u64,
    write_store_missing: u64,
    /// `Cut::Garbage` cuts after which `write.redb` said it is damaged (see the module doc).
    damaged_by_garbage: u64,
}

fn kind(cut: Cut) -> &'static str {
    match cut {
        Cut::LoseAll => "unsynced writes lost",
        Cut::KeepAll => "unsynced writes kept",
        Cut::Torn => "torn and reordered",
        Cut::Prefix => "kept up to a torn write",
        Cut::Garbage => "torn, with garbage",
    }
}

/// One power cut: a day from `seed` cut at a random step, then every check. `Err` says what
/// went wrong, with what to run again.
fn one_cut(seed: u64, steps_hint: u64, tally: &mut Tally) -> Result<(), String> {
    let mut rng = Rng::new(seed ^ 0xC0FFEE);
    let disk = SimDisk::new();
    let at = rng.below(steps_hint.max(1));
    disk.cut_at(at);
    let day = day(&disk, seed);
    let cut = CUTS[rng.below(CUTS.len() as u64) as usize];
    let after = disk.after_cut(cut, &mut rng);
    let what = format!("seed {seed}, cut at step {at} ({}), day stopped by {:?}", kind(cut), day.stopped);
    let path = Path::new(STORE);
    tally.cuts += 1;
    *tally.by_kind.entry(kind(cut)).or_default() += 1;
    tally.acknowledged += day.acknowledged.len() as u64;
    if !after.exists(path) {
        tally.write_store_missing += 1;
    }
    let store = match WriteStore::open_simulated(&after, path) {
        Ok(store) => store,
        Err(e) if cut == Cut::Garbage && e.code() == "corrupt" => {
            tally.damaged_by_garbage += 1;
            return Ok(());
        }
        Err(e) => return Err(format!("{what}: the store did not open: {e}")),
    };
    tally.recovered_from_journal += store.recovered_at_open();

    // Every acknowledged command, exactly once.
    for (request, outcome) in &day.acknowledged {
        let again = store.execute(request.clone()).map_err(|e| format!("{what}: {} again: {e}", request.command_id))?;
        if !again.replayed {
            return Err(format!(
                "{what}: acknowledged command {} ({} at {:?}) was lost: run again, it was executed anew",
                request.command_id, outcome.stream, outcome.positions
            ));
        }
        if again.positions != outcome.positions {
            return Err(format!(
                "{what}: acknowledged command {} moved: answered at {:?}, now at {:?}",
                request.command_id, outcome.positions, again.positions
            ));
        }
    }
    // Nothing half there: the commands tile the log.
    let head = store.head().current();
    let mut spans = Vec::new();
    store
        .commands_with_prefix("", |id, events| {
            if let (Some(first), Some(last)) = (events.first(), events.last()) {
                spans.push((first.position, last.position, events.len() as u64, id.to_owned()));
            }
            Ok(())
        })
        .map_err(|e| format!("{what}: reading the commands: {e}"))?;
    spans.sort();
    let mut expected = 1;
    for (first, last, count, id) in &spans {
        if *first != expected || last - first + 1 != *count {
            return Err(format!(
                "{what}: command {id} holds events {first}..={last} ({count} read); expected from {expected}"
            ));
        }
        expected = last + 1;
    }
    if expected != head + 1 {
        return Err(format!("{what}: the commands end at {} but the log at {head}", expected - 1));
    }
    tally.unacknowledged_but_kept += (spans.len() as u64).saturating_sub(day.acknowledged.len() as u64);
    let verified = store.verify().map_err(|e| format!("{what}: verify: {e}"))?;
    if verified.first_bad.is_some() || verified.events != head {
        return Err(format!("{what}: the chain does not check out: {verified:?} (head {head})"));
    }
    for sku in &day.products {
        if store.product(sku).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("{what}: acknowledged product {sku} is not in the current state"));
        }
    }
    for order in &day.orders {
        if store.order_history(order, None).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("{what}: acknowledged order {order} is not in the current state"));
        }
    }
    // The store works on, and keeps what it took over a clean stop.
    if !day.products.is_empty() {
        let mut rng = Rng::new(seed);
        store
            .execute(place("after-the-cut".into(), &day.products, 0, &mut rng))
            .map_err(|e| format!("{what}: an order after the cut: {e}"))?;
    }
    let head = store.head().current();
    drop(store);
    let again = WriteStore::open_simulated(&after, path).map_err(|e| format!("{what}: second open: {e}"))?;
    if again.head().current() != head {
        return Err(format!("{what}: a clean stop lost events: {head} before, {} after", again.head().current()));
    }
    Ok(())
}

#[test]
fn every_acknowledged_command_survives_a_power_cut_and_nothing_is_half_there() {
    let heavy = std::env::var_os("COUNTERTOP_HEAVY").is_some();
    let cuts: u64 = std::env::var("COUNTERTOP_POWER_CUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(if heavy {
        1000
    } else {
        60
    });
    let first: u64 = std::env::var("COUNTERTOP_POWER_CUT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    // How many steps a day takes uncut, so cuts land anywhere in it.
    let uncut = SimDisk::new();
    let whole = day(&uncut, first);
    assert_eq!(whole.stopped, None, "an uncut day ran into an error");
    assert!(whole.acknowledged.len() > 20, "{} commands", whole.acknowledged.len());
    let steps = uncut.steps();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for seed in first..first + cuts {
        if let Err(e) = one_cut(seed, steps, &mut tally) {
            failures.push(e);
        }
    }
    eprintln!("power cuts: {tally:#?} ({steps} disk steps in an uncut day)");
    assert!(failures.is_empty(), "{} of {cuts} cuts failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(tally.cuts, cuts);
    assert!(tally.recovered_from_journal > 0, "no cut needed the journal: the campaign tests nothing there");
    assert!(tally.by_kind.len() == CUTS.len() || cuts < 20, "{:?}", tally.by_kind);
}

#[test]
fn a_new_store_survives_a_power_cut_before_it_has_a_journal() {
    // A bulk job commits durably in redb without the journal, whose creation is what made the
    // folder durable: a shop whose first commit was one lost its whole file to a power cut.
    let disk = SimDisk::new();
    let path = Path::new(STORE);
    let store = WriteStore::open_simulated(&disk, path).unwrap();
    let open = Command::OpenShop(OpenShop {
        name: "Corner Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: Decimal::ZERO,
    });
    let results = store.execute_bulk(vec![Request::with_id("open", open)]).unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    assert!(!disk.exists(&super::journal::path_for(path)), "no journal yet");
    let after = disk.after_cut(Cut::LoseAll, &mut Rng::new(1));
    assert!(after.exists(path), "write.redb's name was not made durable");
    let store = WriteStore::open_simulated(&after, path).unwrap();
    assert!(store.shop().unwrap().is_some(), "the acknowledged setup is there");
}
