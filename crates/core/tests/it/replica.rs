//! Events travelling between devices, without the network: what one store hands out
//! (`outgoing`), signed with its key, goes into another (`receive`), as the sync thread does
//! through the hub. The shop's roster is set up as an owner would: the founding till's key is
//! the first, and it admits the others.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use chrono::Utc;
use countertop_core::{
    Arrival, Command, Conflict, DeviceKey, HubMessage, Identity, Incoming, OutboxMark, Outcome, Outgoing, Problem,
    RefundOrder, Request, WriteStore,
};

use crate::{dec, order_of, place, shop};

fn identity(device: &str, till: &str) -> Identity {
    Identity {
        device: device.into(),
        till: till.into(),
        shop: "corner".into(),
        hub: "nats://127.0.0.1:4222".into(),
        joined_at: Utc::now(),
    }
}

/// Each device id's key, the same every time in this test run (a fresh folder for a device
/// that was admitted before gets its key file copied in).
fn key_file(device: &str) -> PathBuf {
    static KEYS: OnceLock<Mutex<Option<tempfile::TempDir>>> = OnceLock::new();
    let mut keys = KEYS.get_or_init(|| Mutex::new(None)).lock().unwrap();
    let dir = keys.get_or_insert_with(|| tempfile::tempdir().unwrap()).path().join(device);
    std::fs::create_dir_all(&dir).unwrap();
    DeviceKey::load_or_create(&dir).unwrap();
    dir.join(countertop_core::DEVICE_KEY_FILE)
}

/// Gives the store in `dir` the device's identity and key.
fn become_device(store: &WriteStore, dir: &std::path::Path, device: &str, till: &str) -> DeviceKey {
    std::fs::copy(key_file(device), dir.join(countertop_core::DEVICE_KEY_FILE)).unwrap();
    store.join(identity(device, till)).unwrap();
    DeviceKey::load(dir).unwrap().unwrap()
}

/// The founding till: its key is the shop's first.
fn found(store: &WriteStore, dir: &std::path::Path, device: &str, till: &str) -> DeviceKey {
    let key = become_device(store, dir, device, till);
    store.found(key.public()).unwrap();
    key
}

/// A till that learnt the shop's first key (from `by`) and was admitted by `by`.
fn admitted(by: &WriteStore, store: &WriteStore, dir: &std::path::Path, device: &str, till: &str) -> DeviceKey {
    let key = become_device(store, dir, device, till);
    store.pin(by.root().unwrap().unwrap(), key.public()).unwrap();
    by.admit(device.into(), till.into(), key.public(), None).unwrap();
    key
}

/// Everything of `from`'s own after `mark`, signed, as it would arrive elsewhere.
fn send(from: &WriteStore, key: &DeviceKey, mark: OutboxMark) -> Vec<Incoming> {
    let me = from.identity().unwrap().unwrap();
    let (out, _) = from.outgoing(mark, usize::MAX, usize::MAX).unwrap();
    out.into_iter().map(|o: Outgoing| incoming(&me, key, o)).collect()
}

fn incoming(me: &Identity, key: &DeviceKey, o: Outgoing) -> Incoming {
    let signature = key.sign_event(&me.shop, &me.device, o.seq, &o.prev, &o.hash);
    Incoming {
        origin: me.device.clone(),
        till: me.till.clone(),
        seq: o.seq,
        prev: Some(o.prev),
        hash: o.hash,
        record: o.record,
        signature: Some(signature),
        hub_seq: 0,
        published: None,
    }
}

fn hub(events: Vec<Incoming>) -> Vec<HubMessage> {
    events.into_iter().map(HubMessage::Event).collect()
}

/// Takes `events` into `store` as messages from the hub.
fn take(store: &WriteStore, events: Vec<Incoming>) -> Vec<Arrival> {
    store.receive(hub(events), 0, false).unwrap()
}

fn appended(arrivals: &[Arrival]) -> usize {
    arrivals.iter().filter(|a| matches!(a, Arrival::Appended { .. })).count()
}

#[test]
fn two_tills_number_apart_exchange_events_once_and_each_chain_checks_out() {
    let (a_dir, a) = shop();
    let a_key = found(&a, a_dir.path(), "DEV-A", "A");
    let first = a.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(order_of(&first).id, "A-1001", "a till's numbers carry its code");

    // B is a new device: it gets the whole shop from A, then takes an order of its own.
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    let b_key = admitted(&a, &b, b_dir.path(), "DEV-B", "B");
    let from_a = send(&a, &a_key, OutboxMark::default());
    let arrivals = take(&b, from_a.clone());
    assert_eq!(appended(&arrivals), from_a.len(), "{arrivals:?}");
    assert_eq!(b.shop().unwrap().unwrap().name, "Corner Shop");
    let second = b.execute(Request::new(place(None, &[("TEA", 2)]))).unwrap();
    assert_eq!(order_of(&second).id, "B-1001", "B's sequence is its own, and A's numbers do not move it");

    // Delivered again (a redelivery after a crash before the ack): nothing changes.
    let again = take(&b, from_a.clone());
    assert!(again.iter().all(|a| *a == Arrival::Duplicate), "{again:?}");

    // B refunds A's order; A gets B's events (B's own only, A's are not sent back).
    b.execute(Request::new(Command::RefundOrder(RefundOrder {
        order: "A-1001".into(),
        amount: Some(countertop_core::MoneyInput::new(dec("2.00"))),
        lines: Vec::new(),
        reason: "chipped".into(),
        at: None,
        tender: None,
        restock: false,
    })))
    .unwrap();
    let from_b = send(&b, &b_key, OutboxMark::default());
    assert_eq!(from_b.len(), 2, "B's order and its refund: {from_b:?}");
    assert_eq!(appended(&take(&a, from_b)), 2);
    let order = a.order_history("A-1001", None).unwrap().unwrap().order;
    assert_eq!(order.refunded(), dec("2.00"));
    assert!(a.order_history("B-1001", None).unwrap().is_some());

    // A's next order still follows A's own sequence.
    let third = a.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(order_of(&third).id, "A-1002");

    for store in [&a, &b] {
        let verification = store.verify().unwrap();
        assert_eq!(verification.first_bad, None);
    }
    assert_eq!(a.verify().unwrap().events, b.verify().unwrap().events + 1, "A has its third order, B not yet");
    let state = a.sync_state().unwrap();
    assert_eq!(state.devices.len(), 1);
    assert_eq!((state.devices[0].till.as_str(), state.devices[0].seq), ("B", 2));
    assert_eq!(state.waiting, state.own_events, "nothing acknowledged yet");

    // The outbox skips B's events in A's log and numbers A's own on, each naming the hash of
    // the one before it.
    let (own, _) = a.outgoing(OutboxMark::default(), usize::MAX, usize::MAX).unwrap();
    let seqs: Vec<u64> = own.iter().map(|o| o.seq).collect();
    assert_eq!(seqs, (1..=own.len() as u64).collect::<Vec<_>>());
    assert!(own.windows(2).all(|w| w[1].prev == w[0].hash), "each names the one before it");
    let last = own.last().unwrap();
    a.acknowledged(OutboxMark { position: last.position, seq: last.seq, hash: last.hash }).unwrap();
    assert_eq!(a.sync_state().unwrap().waiting, 0);
    let (none, _) = a.outgoing(a.sync_state().unwrap().outbox, 10, 100).unwrap();
    assert!(none.is_empty());
    // A later event of A's, sent from the mark, names the last acknowledged one before it.
    a.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    let (next, _) = a.outgoing(a.sync_state().unwrap().outbox, 10, 100).unwrap();
    assert_eq!((next.len(), next[0].prev), (1, last.hash));
}

#[test]
fn an_altered_event_is_quarantined_and_one_after_a_gap_waits_for_it() {
    let (a_dir, a) = shop();
    let a_key = found(&a, a_dir.path(), "DEV-A", "A");
    a.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    let events = send(&a, &a_key, OutboxMark::default());
    let last = events.len() - 1;
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    admitted(&a, &b, b_dir.path(), "DEV-B", "B");

    let mut altered = events.clone();
    let byte = altered[last].record.len() / 2;
    altered[last].record[byte] ^= 1;
    let arrivals = take(&b, altered);
    assert_eq!(appended(&arrivals), last);
    assert!(
        matches!(&arrivals[last], Arrival::Quarantined(Problem::Forged, why) if why.contains("altered")),
        "{arrivals:?}"
    );

    // A fresh device gets the last event first: it waits, and is taken once the gap fills.
    let c_dir = tempfile::tempdir().unwrap();
    let c = WriteStore::open(c_dir.path()).unwrap();
    admitted(&a, &c, c_dir.path(), "DEV-C", "C");
    let arrivals = take(&c, vec![events[last].clone()]);
    assert!(
        matches!(&arrivals[0], Arrival::Held(Problem::Gap, why) if why.contains("waits for its event 1")),
        "{arrivals:?}"
    );
    assert_eq!(c.verify().unwrap().events, 0);
    assert_eq!(
        c.quarantine().unwrap().lines(),
        ["1 change from till A wait for an earlier change of it that has not reached the hub yet"]
    );
    let arrivals = take(&c, events[..last].to_vec());
    assert_eq!(appended(&arrivals), last);
    assert_eq!(c.verify().unwrap().events, events.len() as u64, "the held one was taken with its gap filled");
    assert!(c.quarantine().unwrap().is_empty());

    // The right event then goes into B too, and both chains check out.
    assert_eq!(appended(&take(&b, events)), 1);
    assert_eq!(b.verify().unwrap().first_bad, None);
    assert_eq!(c.verify().unwrap().first_bad, None);
}

#[test]
fn a_data_folder_joins_one_shop_once() {
    let (_dir, a) = shop();
    a.join(identity("DEV-A", "A")).unwrap();
    a.join(identity("DEV-A", "A")).unwrap();
    let mut other = identity("DEV-A", "A");
    other.shop = "another".into();
    let e = a.join(other).unwrap_err();
    assert!(e.to_string().contains("already is till A of the shop 'corner'"), "{e}");
}

type Picture = (String, Vec<(String, Vec<Conflict>)>, String);

/// A device for the arrival-order test: a store with its projector, in its own folder.
struct Device {
    _dir: tempfile::TempDir,
    ct: countertop_core::Countertop,
    key: DeviceKey,
    till: &'static str,
}

impl Device {
    fn bare(id: &'static str, till: &'static str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let ct = countertop_core::Countertop::open(dir.path()).unwrap();
        let key = become_device(ct.write(), dir.path(), id, till);
        Device { _dir: dir, ct, key, till }
    }

    /// The founding till.
    fn founder(id: &'static str, till: &'static str) -> Device {
        let d = Device::bare(id, till);
        d.ct.write().found(d.key.public()).unwrap();
        d
    }

    /// A till that knows `founder`'s key; `founder` admits it unless it did before (a fresh
    /// folder of a device already admitted).
    fn member(founder: &Device, id: &'static str, till: &'static str) -> Device {
        let d = Device::bare(id, till);
        d.ct.write().pin(founder.ct.write().root().unwrap().unwrap(), d.key.public()).unwrap();
        founder.ct.write().admit(id.into(), till.into(), d.key.public(), None).unwrap();
        d
    }

    fn run(&self, command: Command) -> Result<Outcome, countertop_core::Error> {
        self.ct.execute(Request::new(command))
    }

    /// This device's own events, as they arrive elsewhere.
    fn own(&self) -> Vec<Incoming> {
        send(self.ct.write(), &self.key, OutboxMark::default())
    }

    fn take(&self, events: Vec<Incoming>) -> Vec<Arrival> {
        take(self.ct.write(), events)
    }

    /// What must be the same on every device holding the same events: the shared read-model
    /// digest, the conflicts listed, and the write side's products and customers.
    fn picture(&self) -> Picture {
        assert!(self.ct.wait_caught_up(countertop_core::Freshness::Tables, std::time::Duration::from_secs(60), |_| {}));
        let digest = self.ct.shared_digest().unwrap().value;
        let conflicts = self.ct.conflicts().unwrap().value.into_iter().map(|o| (o.id, o.conflicts)).collect();
        let w = self.ct.write();
        // An order as `order show` tells it: its refunds and payments in the same order on
        // every device.
        let money: Vec<String> = ["A-1001", "A-1002", "A-1003", "A-1005", "IMP-7"]
            .iter()
            .filter_map(|id| w.order_history(id, None).unwrap())
            .map(|h| format!("{:?} {:?}", h.order.refunds, h.order.payments))
            .collect();
        // The write state is exactly what this device's log makes of it.
        assert_eq!(w.verify().unwrap().first_bad, None, "verify on {}", self.till);
        (digest, conflicts, format!("{:?} {:?} {money:?}", w.products().unwrap(), w.customers().unwrap()))
    }
}

/// A sale entered with its own number and time, as an import of one file enters it: the same
/// on every till that enters it.
fn same_sale(number: &str) -> Command {
    let Command::PlaceOrder(mut order) = place(None, &[("MUG", 2)]) else { unreachable!() };
    order.order = Some(number.into());
    order.at = Some(chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z").unwrap().to_utc());
    Command::PlaceOrder(order)
}

fn refund(order: &str, amount: &str) -> Command {
    Command::RefundOrder(RefundOrder {
        order: order.into(),
        amount: Some(countertop_core::MoneyInput::new(dec(amount))),
        lines: Vec::new(),
        reason: "faulty".into(),
        at: None,
        tender: None,
        restock: false,
    })
}

fn cancel(order: &str) -> Command {
    Command::CancelOrder(countertop_core::CancelOrder { order: order.into(), reason: "changed mind".into(), at: None })
}

fn ship(order: &str) -> Command {
    Command::ShipOrder(countertop_core::ShipOrder {
        order: order.into(),
        carrier: "Royal Mail".into(),
        tracking: "RM1".into(),
        at: None,
    })
}

fn rename(sku: &str, name: &str) -> Command {
    Command::UpdateProduct(countertop_core::UpdateProduct {
        sku: sku.into(),
        name: Some(name.into()),
        ..Default::default()
    })
}

fn customer_edit(name: Option<&str>, phone: Option<&str>) -> Command {
    Command::UpdateCustomer(countertop_core::UpdateCustomer {
        id: "A-1".into(),
        name: name.map(str::to_owned),
        phone: phone.map(str::to_owned),
        ..Default::default()
    })
}

fn count(sku: &str, counted: i64) -> Command {
    Command::CountStock(countertop_core::CountStock {
        sku: sku.into(),
        counted,
        reason: "shelf check".into(),
        at: None,
    })
}

fn receive_stock(sku: &str, quantity: i64) -> Command {
    Command::ReceiveStock(countertop_core::ReceiveStock { sku: sku.into(), quantity, note: None, at: None })
}

fn drawer(kind: countertop_core::DrawerMove, amount: &str) -> Command {
    Command::RecordDrawer(countertop_core::RecordDrawer {
        kind,
        amount: countertop_core::MoneyInput::new(dec(amount)),
        note: Some("banked".into()),
        day: None,
        at: None,
    })
}

fn on_hand(d: &Device, sku: &str) -> i64 {
    assert!(d.ct.wait_caught_up(countertop_core::Freshness::Tables, std::time::Duration::from_secs(60), |_| {}));
    d.ct.stock().unwrap().value.into_iter().find(|l| l.sku == sku).map_or(0, |l| l.on_hand)
}

/// A count says what was on the shelf when it was taken: a sale another till made before it
/// is in the count, one made after comes off it, whichever reaches a device first.
#[test]
fn a_stock_count_and_another_tills_sales_give_one_level_everywhere() {
    let a = Device::founder("DEV-A", "A");
    let [b, c, d] = [("DEV-B", "B"), ("DEV-C", "C"), ("DEV-D", "D")].map(|(id, till)| Device::member(&a, id, till));
    for command in [crate::open_shop(), crate::add_product("MUG", "Enamel mug", "8.00"), receive_stock("MUG", 20)] {
        a.run(command).unwrap();
    }
    let base = a.own();
    b.take(base.clone());

    b.run(place(None, &[("MUG", 1)])).unwrap(); // before the count: the counter saw it gone
    a.run(count("MUG", 10)).unwrap();
    b.run(place(None, &[("MUG", 2)])).unwrap(); // after the count
    a.run(place(None, &[("MUG", 1)])).unwrap();
    b.run(receive_stock("MUG", 5)).unwrap();
    a.run(count("MUG", 12)).unwrap(); // a recount, after B's delivery came in
    a.run(place(None, &[("MUG", 3)])).unwrap();

    let (from_a, from_b) = (a.own().split_off(base.len()), b.own());
    assert_eq!(on_hand(&a, "MUG"), 9, "A alone: its recount of 12 less its 3");
    // A third device gets A's first, a fourth B's first.
    for (device, first, second) in [(&c, &from_a, &from_b), (&d, &from_b, &from_a)] {
        device.take(base.clone());
        device.take(first.clone());
        device.take(second.clone());
    }
    a.take(from_b);
    b.take(from_a);
    // The recount of 12 saw everything before it; only A's sale of 3 came after.
    for device in [&a, &b, &c, &d] {
        assert_eq!(on_hand(device, "MUG"), 9, "on {}", device.till);
    }
    let expected = a.picture();
    for device in [&b, &c, &d] {
        assert_eq!(device.picture(), expected, "on {}", device.till);
    }
}

/// The drawer goes by time too: a count expects the float and the cash taken up to its moment
/// on every till, whichever of their events reached a device first.
#[test]
fn a_drawer_count_expects_the_cash_taken_before_it_on_every_till() {
    let a = Device::founder("DEV-A", "A");
    let [b, c] = [("DEV-B", "B"), ("DEV-C", "C")].map(|(id, till)| Device::member(&a, id, till));
    for command in [crate::open_shop(), crate::add_product("MUG", "Enamel mug", "8.00")] {
        a.run(command).unwrap();
    }
    a.run(drawer(countertop_core::DrawerMove::Float, "50.00")).unwrap();
    let base = a.own();
    b.take(base.clone());

    b.run(place(None, &[("MUG", 1)])).unwrap(); // B-1001, by card: not in the drawer
    b.run(pay_cash_sale()).unwrap(); // B-1002: 8.00 cash, before the count
    a.run(drawer(countertop_core::DrawerMove::Removed, "20.00")).unwrap();
    a.run(drawer(countertop_core::DrawerMove::Counted, "37.50")).unwrap(); // 50 + 8 − 20 = 38 expected
    b.run(pay_cash_sale()).unwrap(); // after the count
    a.run(drawer(countertop_core::DrawerMove::Float, "60.00")).unwrap(); // set again, after the count

    let (from_a, from_b) = (a.own().split_off(base.len()), b.own());
    c.take(base);
    c.take(from_b.clone());
    c.take(from_a.clone());
    a.take(from_b);
    b.take(from_a);
    let today = a.ct.write().shop().unwrap().unwrap().business_day(Utc::now());
    let expected = a.picture();
    for device in [&a, &b, &c] {
        assert_eq!(device.picture(), expected, "on {}", device.till);
        let cashup = device.ct.cashup(today).unwrap().value;
        let counts: Vec<(String, String)> =
            cashup.counts.iter().map(|c| (c.expected.to_string(), c.difference.to_string())).collect();
        assert_eq!(counts, [("38.00".to_owned(), "-0.50".to_owned())], "on {}", device.till);
        assert_eq!(cashup.float.to_string(), "60.00", "the later float, on {}", device.till);
        assert_eq!(cashup.cash_expected.to_string(), "56.00", "60 + 16 − 20, on {}", device.till);
    }
}

fn pay_cash_sale() -> Command {
    let Command::PlaceOrder(mut order) = place(None, &[("MUG", 1)]) else { unreachable!() };
    order.payment_method = None;
    order.payments = vec![countertop_core::PaymentInput {
        tender: countertop_core::Tender::Cash,
        amount: countertop_core::MoneyInput::new(dec("8.00")),
    }];
    Command::PlaceOrder(order)
}

fn invoice(customer: &str) -> Command {
    let Command::PlaceOrder(mut order) = place(Some(customer), &[("MUG", 2)]) else { unreachable!() };
    order.invoice = true;
    order.payment_method = None;
    Command::PlaceOrder(order)
}

fn pay(order: &str, amount: &str) -> Command {
    Command::PayOrder(countertop_core::PayOrder {
        order: order.into(),
        payments: vec![countertop_core::PaymentInput {
            tender: countertop_core::Tender::Cash,
            amount: countertop_core::MoneyInput::new(dec(amount)),
        }],
        at: None,
    })
}

/// Three tills apart refund, cancel, ship and pay the same orders; then fresh devices get all
/// their events in shuffled orders (each till's own in order, as the hub keeps them). Every
/// device ends with the same read models and the same conflicts, and the tills themselves too.
#[test]
fn arrival_order_does_not_change_the_read_models_or_the_conflicts() {
    let seed =
        std::env::var("COUNTERTOP_SHUFFLE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    let shuffles = if std::env::var_os("COUNTERTOP_HEAVY").is_some() { 24 } else { 4 };
    let mut rng = fastrand::Rng::with_seed(seed);
    let a = Device::founder("DEV-A", "A");
    let [b, c] = [("DEV-B", "B"), ("DEV-C", "C")].map(|(id, till)| Device::member(&a, id, till));
    // D, the fresh devices below, is admitted before anything happens.
    drop(Device::member(&a, "DEV-D", "D"));
    for command in [
        crate::open_shop(),
        crate::add_product("MUG", "Enamel mug", "8.00"),
        crate::add_product("TEA", "Tea towel", "4.50"),
        crate::add_customer("Ada"),
    ] {
        a.run(command).unwrap();
    }
    for _ in 0..4 {
        a.run(place(Some("A-1"), &[("MUG", 1), ("TEA", 2)])).unwrap(); // A-1001 … A-1004, 17.00 each
    }
    a.run(invoice("A-1")).unwrap(); // A-1005, 16.00 due
    a.run(invoice("A-1")).unwrap(); // A-1006
    let base = a.own();
    for d in [&b, &c] {
        assert_eq!(appended(&d.take(base.clone())), base.len());
    }

    // Apart: the same sale entered on two tills (a file imported on both): it counts once …
    b.run(same_sale("IMP-7")).unwrap();
    c.run(same_sale("IMP-7")).unwrap();
    // … and the classic clashes, each on its own order …
    a.run(refund("A-1001", "10.00")).unwrap();
    b.run(refund("A-1001", "10.00")).unwrap(); // 20.00 back of 17.00 paid
    a.run(cancel("A-1002")).unwrap();
    b.run(ship("A-1002")).unwrap();
    c.run(refund("A-1003", "5.00")).unwrap();
    a.run(cancel("A-1003")).unwrap(); // A did not know of C's refund
    c.run(pay("A-1005", "16.00")).unwrap();
    b.run(cancel("A-1005")).unwrap();
    // Product and customer edits on different tills: the latest edit wins, per field.
    a.run(rename("MUG", "Blue enamel mug")).unwrap();
    b.run(rename("MUG", "Green enamel mug")).unwrap();
    c.run(Command::UpdateProduct(countertop_core::UpdateProduct {
        sku: "MUG".into(),
        unit_price: Some(countertop_core::MoneyInput::new(dec("9.00"))),
        ..Default::default()
    }))
    .unwrap();
    a.run(customer_edit(Some("Ada Lovelace"), None)).unwrap();
    c.run(customer_edit(None, Some("07700 900123"))).unwrap();
    b.run(customer_edit(Some("Ada L."), None)).unwrap();
    // … then whatever else, at random.
    let devices = [&a, &b, &c];
    let orders = ["A-1001", "A-1002", "A-1003", "A-1004", "A-1005", "A-1006"];
    for _ in 0..30 {
        let d = devices[rng.usize(..devices.len())];
        let order = orders[rng.usize(..orders.len())];
        let command = match rng.u8(..10) {
            0 => refund(order, &format!("{}.{:02}", rng.u8(1..6), rng.u8(..100))),
            1 => ship(order),
            2 => pay(order, "4.00"),
            // The doubly entered sale is refunded too, on any till.
            3 if rng.bool() => refund("IMP-7", "1.00"),
            3 => place(Some("A-1"), &[("MUG", 1), ("TEA", i64::from(rng.u8(1..4)))]),
            4 => rename("TEA", &format!("Tea towel {}", rng.u8(..10))),
            // Cancelled on two or three tills at times (not the orders whose conflicts are
            // checked below: a later cancellation that knew more would close them).
            5 => cancel(["A-1004", "A-1006"][rng.usize(..2)]),
            // Shelves counted and deliveries taken in while other tills sell.
            6 => count(["MUG", "TEA"][rng.usize(..2)], rng.i64(0..30)),
            7 => receive_stock(["MUG", "TEA"][rng.usize(..2)], rng.i64(1..10)),
            // The drawer: a float set, cash taken out, a count, while others take cash.
            8 => drawer(
                [
                    countertop_core::DrawerMove::Float,
                    countertop_core::DrawerMove::Removed,
                    countertop_core::DrawerMove::Counted,
                ][rng.usize(..3)],
                &format!("{}.{:02}", rng.u8(1..60), rng.u8(..100)),
            ),
            _ => customer_edit(None, Some(&format!("07700 90{:04}", rng.u16(..10000)))),
        };
        let _ = d.run(command); // refusals (already shipped, nothing due …) are part of the game
    }

    let lists: Vec<Vec<Incoming>> = vec![a.own().split_off(base.len()), b.own(), c.own()];
    // The tills exchange everything, each in its natural order.
    for (i, d) in devices.iter().enumerate() {
        for (j, list) in lists.iter().enumerate() {
            let list = if j == 0 { [base.clone(), list.clone()].concat() } else { list.clone() };
            if i != j {
                d.take(list);
            }
        }
    }
    let expected = a.picture();
    assert_eq!(b.picture(), expected, "seed {seed}");
    assert_eq!(c.picture(), expected, "seed {seed}");
    let listed: Vec<(&str, &[Conflict])> = expected.1.iter().map(|(id, c)| (id.as_str(), c.as_slice())).collect();
    let mug = a.ct.write().product("MUG").unwrap().unwrap();
    assert_eq!(mug.name, "Green enamel mug", "B renamed it last");
    assert_eq!(mug.unit_price, dec("9.00"), "C's price stands: nobody else changed it");
    let sale = a.ct.write().order_history("IMP-7", None).unwrap().unwrap().order;
    assert_eq!(sale.totals.total, dec("16.00"), "entered on two tills, counted once");
    let customer = a.ct.write().customer("A-1").unwrap().unwrap();
    assert_eq!(customer.name, "Ada L.", "B's name, the later edit");
    for (order, conflict) in [
        ("A-1001", Conflict::RefundedMoreThanPaid),
        ("A-1002", Conflict::CancelledAfterShipping),
        ("A-1003", Conflict::RefundedWhileCancelled),
        ("A-1005", Conflict::PaidWhileCancelled),
    ] {
        assert!(
            listed.iter().any(|(id, found)| *id == order && found.contains(&conflict)),
            "{order} lists {conflict}: {listed:?} (seed {seed})"
        );
    }

    // Fresh devices get the same events in shuffled orders.
    for k in 0..shuffles {
        let d = Device::member(&a, "DEV-D", "D");
        d.take(base.clone());
        let mut queues: Vec<std::collections::VecDeque<Incoming>> =
            lists.iter().map(|l| l.iter().cloned().collect()).collect();
        while queues.iter().any(|q| !q.is_empty()) {
            let q = &mut queues[rng.usize(..3)];
            let n = rng.usize(1..4).min(q.len());
            let batch: Vec<Incoming> = q.drain(..n).collect();
            if !batch.is_empty() {
                let arrivals = d.take(batch);
                assert!(
                    arrivals
                        .iter()
                        .all(|a| matches!(a, Arrival::Appended { .. } | Arrival::Refused(Problem::PlacedTwice, _))),
                    "{arrivals:?}"
                );
            }
        }
        assert_eq!(d.picture(), expected, "shuffle {k}, seed {seed}");
    }
}

/// Two tills cancel one order while apart, one of them after a refund the other did not know
/// of. The conflict is listed everywhere, the sale is reversed once, as the later
/// cancellation says, whichever arrives first.
#[test]
fn two_tills_cancelling_one_order_is_a_conflict_everywhere() {
    let a = Device::founder("DEV-A", "A");
    let [b, c] = [("DEV-B", "B"), ("DEV-C", "C")].map(|(id, till)| Device::member(&a, id, till));
    for command in [crate::open_shop(), crate::add_product("MUG", "Enamel mug", "8.00")] {
        a.run(command).unwrap();
    }
    a.run(place(None, &[("MUG", 2)])).unwrap();
    a.run(Command::ReceiveStock(countertop_core::ReceiveStock {
        sku: "MUG".into(),
        quantity: 10,
        note: None,
        at: None,
    }))
    .unwrap();
    let base = a.own();
    for d in [&b, &c] {
        d.take(base.clone());
    }
    b.run(cancel("A-1001")).unwrap();
    c.run(refund("A-1001", "3.00")).unwrap();
    c.run(cancel("A-1001")).unwrap();
    let (from_b, from_c) = (b.own(), c.own());
    a.take(from_b.clone());
    a.take(from_c.clone());
    b.take(from_c);
    c.take(from_b);
    let all = countertop_core::Period {
        from: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
    };
    let expected = a.picture();
    for d in [&a, &b, &c] {
        let picture = d.picture();
        assert_eq!(picture, expected, "on {}", d.till);
        assert_eq!(picture.1, vec![("A-1001".to_owned(), vec![Conflict::CancelledTwice])], "on {}", d.till);
        let kpis = d.ct.dashboard(all).unwrap().value.kpis;
        assert_eq!((kpis.orders, kpis.refunds), (0, dec("3.00")), "reversed once, on {}: {kpis:?}", d.till);
    }
    // The later cancellation (C's, which knew of the refund) is the one kept: the shop gave
    // back 16.00 in all, 3.00 by the refund and 13.00 by the cancellation.
    let mug = a.ct.stock().unwrap().value.into_iter().find(|l| l.sku == "MUG").unwrap();
    assert_eq!(mug.on_hand, 10, "the two mugs went back on the shelf once");
    // The owner resolves it on one till; every till hears.
    let note = Command::ResolveConflicts(countertop_core::ResolveConflicts {
        order: "A-1001".into(),
        note: "refunded once, by card".into(),
        at: None,
    });
    b.run(note.clone()).unwrap();
    let again = b.run(note).unwrap_err();
    assert!(again.to_string().contains("no conflicts to resolve"), "{again}");
    let resolution = b.own().split_off(1);
    for d in [&a, &c] {
        d.take(resolution.clone());
    }
    for d in [&a, &b, &c] {
        assert_eq!(d.picture().1, Vec::new(), "resolved on {}", d.till);
    }
}
