//! What a till takes from the hub, and what it does not: messages as a hostile or buggy peer
//! would put them there — garbage, forgeries, strangers, a retired till, a till that breaks the
//! rules, a newer version — against the tills' own stores, without the network (the sync
//! crate's `hostile` suite does the same through a real `nats-server`). Every time: the honest
//! tills' books stay equal and complete, the bad message is in quarantine with why, and
//! `verify` passes.

use chrono::Utc;
use countertop_core::{
    Arrival, Countertop, DeviceKey, Freshness, HubMessage, Identity, Incoming, OutboxMark, Problem, Request, WriteStore,
};

use crate::{add_product, open_shop, place};

/// A till: its folder, its shop (read side too) and its key.
struct Till {
    dir: tempfile::TempDir,
    ct: Countertop,
    key: DeviceKey,
    id: Identity,
}

fn identity(device: &str, till: &str) -> Identity {
    Identity {
        device: device.into(),
        till: till.into(),
        shop: "corner".into(),
        hub: "nats://127.0.0.1:4222".into(),
        joined_at: Utc::now(),
    }
}

impl Till {
    fn new(device: &str, till: &str) -> Till {
        let dir = tempfile::tempdir().unwrap();
        let ct = Countertop::open(dir.path()).unwrap();
        let id = identity(device, till);
        ct.write().join(id.clone()).unwrap();
        let key = DeviceKey::load_or_create(dir.path()).unwrap();
        Till { dir, ct, key, id }
    }

    /// The founding till, with a shop selling mugs.
    fn founder() -> Till {
        let a = Till::new("DEV-A", "A");
        a.w().found(a.key.public()).unwrap();
        for command in [open_shop(), add_product("MUG", "Enamel mug", "8.00")] {
            a.w().execute(Request::new(command)).unwrap();
        }
        a
    }

    /// A shop of three: A founded it and admitted B and C, which have taken A's events.
    fn three() -> (Till, Till, Till) {
        let a = Till::founder();
        let b = Till::admitted_by(&a, "DEV-B", "B");
        let c = Till::admitted_by(&a, "DEV-C", "C");
        let base = a.own();
        b.take(base.clone());
        c.take(base);
        (a, b, c)
    }

    /// A till `by` admits, knowing the shop's first key.
    fn admitted_by(by: &Till, device: &str, till: &str) -> Till {
        let t = Till::new(device, till);
        t.w().pin(by.w().root().unwrap().unwrap(), t.key.public()).unwrap();
        by.w().admit(device.into(), till.into(), t.key.public(), None).unwrap();
        t
    }

    fn w(&self) -> &WriteStore {
        self.ct.write()
    }

    /// Its own events from the start, signed, as they reach the hub.
    fn own(&self) -> Vec<Incoming> {
        let (out, _) = self.w().outgoing(OutboxMark::default(), usize::MAX, usize::MAX).unwrap();
        out.into_iter()
            .map(|o| Incoming {
                origin: self.id.device.clone(),
                till: self.id.till.clone(),
                seq: o.seq,
                prev: Some(o.prev),
                hash: o.hash,
                signature: Some(self.key.sign_event("corner", &self.id.device, o.seq, &o.prev, &o.hash)),
                record: o.record,
                hub_seq: 0,
                published: None,
            })
            .collect()
    }

    /// A signed event of this till's that it never recorded: what a buggy or tampered
    /// Countertop would send, following its last real one.
    fn forge_next(&self, stream: &str, event_type: &str, payload: serde_json::Value) -> Incoming {
        let state = self.w().sync_state().unwrap();
        let record = record(stream, event_type, payload);
        let prev = state.own_hash;
        let hash = chain(&prev, &record);
        let seq = state.own_events + 1;
        Incoming {
            origin: self.id.device.clone(),
            till: self.id.till.clone(),
            seq,
            prev: Some(prev),
            hash,
            signature: Some(self.key.sign_event("corner", &self.id.device, seq, &prev, &hash)),
            record,
            hub_seq: 0,
            published: None,
        }
    }

    fn take(&self, events: Vec<Incoming>) -> Vec<Arrival> {
        self.w().receive(events.into_iter().map(HubMessage::Event).collect(), 0, false).unwrap()
    }

    /// The books as every till must agree on them: the shared read-model digest, the orders.
    fn books(&self) -> (String, Vec<String>) {
        assert!(self.ct.wait_caught_up(Freshness::Tables, std::time::Duration::from_secs(60), |_| {}));
        let digest = self.ct.shared_digest().unwrap().value;
        let dead = self.ct.dead_letters().unwrap();
        assert!(dead.is_empty(), "no read model parked anything on {}: {dead:?}", self.id.till);
        let v = self.w().verify().unwrap();
        assert_eq!(v.first_bad, None, "verify on {}", self.id.till);
        let orders = self.orders();
        (digest, orders)
    }

    fn orders(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .w()
            .events(1, usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "order.placed")
            .map(|e| e.stream.to_string())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

fn record(stream: &str, event_type: &str, payload: serde_json::Value) -> Vec<u8> {
    let schema = countertop_core::EVENT_TYPES.iter().find(|(t, _)| *t == event_type).map_or(1, |(_, v)| *v);
    serde_json::to_vec(&serde_json::json!({
        "stream": stream,
        "version": 1,
        "type": event_type,
        "schema": schema,
        "recorded_at": Utc::now(),
        "command": "forged",
        "payload": payload,
    }))
    .unwrap()
}

fn chain(prev: &[u8; 32], record: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev);
    hasher.update(record);
    *hasher.finalize().as_bytes()
}

/// The payload of the first event of `event_type` in `till`'s log.
fn payload_of(till: &Till, event_type: &str) -> serde_json::Value {
    let e = till.w().events(1, usize::MAX).unwrap().into_iter().find(|e| e.event_type == event_type).unwrap();
    e.event.to_payload()
}

fn quarantined(arrivals: &[Arrival]) -> Vec<Problem> {
    arrivals
        .iter()
        .filter_map(|a| match a {
            Arrival::Quarantined(p, _) | Arrival::Held(p, _) | Arrival::Refused(p, _) => Some(*p),
            _ => None,
        })
        .collect()
}

#[test]
fn forgeries_garbage_and_strangers_never_reach_the_books() {
    let a = Till::founder();
    let b = Till::admitted_by(&a, "DEV-B", "B");
    a.w().execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    let from_a = a.own();
    let n = from_a.len();

    // A stranger with a key (and a shop) of its own, and someone who takes A's last event and
    // chains a fat order of "A's" onto it: unsigned, and signed with the stranger's key.
    let stranger = Till::new("EVIL", "Z");
    stranger.w().found(stranger.key.public()).unwrap();
    stranger.w().execute(Request::new(open_shop())).unwrap();
    let last = from_a.last().unwrap();
    let mut fat = payload_of(&a, "order.placed");
    fat["order"] = "A-1002".into();
    fat["totals"]["total"] = "320.00".into();
    let record = record("order/A-1002", "order.placed", fat);
    let hash = chain(&last.hash, &record);
    let unsigned = Incoming {
        origin: "DEV-A".into(),
        till: "A".into(),
        seq: last.seq + 1,
        prev: Some(last.hash),
        hash,
        record: record.clone(),
        signature: None,
        hub_seq: 0,
        published: None,
    };
    let wrong_key = Incoming {
        signature: Some(stranger.key.sign_event("corner", "DEV-A", last.seq + 1, &last.hash, &hash)),
        ..unsigned.clone()
    };
    let mut messages: Vec<HubMessage> = vec![HubMessage::Unreadable {
        hub_seq: 1,
        subject: "countertop.corner.events.X".into(),
        why: "it has no sequence: it is not a Countertop event".into(),
    }];
    messages.extend([unsigned, wrong_key].map(HubMessage::Event));
    messages.extend(stranger.own().into_iter().map(HubMessage::Event));
    messages.extend(from_a.iter().cloned().map(HubMessage::Event));
    let arrivals = b.w().receive(messages, 0, false).unwrap();
    let problems = quarantined(&arrivals);
    assert_eq!(
        problems[..3],
        [Problem::NotOurs, Problem::Forged, Problem::Forged],
        "garbage and both forgeries, before A's real events: {arrivals:?}"
    );
    assert_eq!(problems[3..], [Problem::Unadmitted; 2], "the stranger's events are held: {arrivals:?}");
    assert_eq!(arrivals.iter().filter(|a| matches!(a, Arrival::Appended { .. })).count(), n);

    // A's real next order is taken (the forgeries took nothing from it), and the books agree.
    a.w().execute(Request::new(place(None, &[("MUG", 2)]))).unwrap();
    let next = a.own().split_off(n);
    assert!(matches!(b.take(next)[..], [Arrival::Appended { .. }]));
    assert_eq!(b.books(), a.books());
    let order = b.w().order_history("A-1002", None).unwrap().unwrap().order;
    assert_eq!(order.totals.total.to_string(), "16.00", "A's real order, not the forged 320.00");
    let lines = b.w().quarantine().unwrap().lines();
    for expected in [
        "1 message on the hub did not come from a till of this shop: ignored",
        "2 messages on the hub claimed to be from till A but were not signed by it: ignored",
    ] {
        assert!(lines.iter().any(|l| l == expected), "{expected:?} in {lines:?}");
    }
    assert!(lines.iter().any(|l| l.contains("a device this shop has not admitted")), "{lines:?}");
}

#[test]
fn a_till_that_breaks_the_rules_is_refused_on_every_till_and_its_chain_goes_on() {
    let (a, b, c) = Till::three();

    // B (signed, genuine) sends what no Countertop's rules let through, then a real order.
    b.w().execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    let mut sent = b.own();
    let bad = [
        ("shop", "shop.opened", payload_of(&a, "shop.opened")),
        ("order/A-1009", "order.placed", {
            let mut p = payload_of(&b, "order.placed");
            p["order"] = "A-1009".into();
            p
        }),
        ("order/B-1002", "order.placed", {
            let mut p = payload_of(&b, "order.placed");
            p["order"] = "B-1002".into();
            p["lines"][0]["total"] = "1000000000000000".into();
            p["totals"]["total"] = "1000000000000000".into();
            p
        }),
    ];
    for (stream, event_type, payload) in bad {
        // Each follows the one before it in B's chain, as B's own would.
        let forged = forge_after(&b, sent.last().unwrap(), stream, event_type, payload);
        sent.push(forged);
    }
    for till in [&a, &c] {
        let arrivals = till.take(sent.clone());
        assert_eq!(quarantined(&arrivals), [Problem::Refused; 3], "on {}: {arrivals:?}", till.id.till);
    }
    let shop = a.w().shop().unwrap().unwrap();
    assert_eq!(shop.name, "Corner Shop", "the second opening changed nothing");
    assert_eq!(a.books(), c.books());
    assert!(a.w().order_history("A-1009", None).unwrap().is_none());
    let lines = a.w().quarantine().unwrap().lines();
    assert!(lines.iter().any(|l| l.starts_with("3 changes from till B broke the shop's rules")), "{lines:?}");
}

/// An event of `till`'s chain after `after` (one of its own, or one forged after it).
fn forge_after(till: &Till, after: &Incoming, stream: &str, event_type: &str, payload: serde_json::Value) -> Incoming {
    let record = record(stream, event_type, payload);
    let hash = chain(&after.hash, &record);
    let seq = after.seq + 1;
    Incoming {
        origin: till.id.device.clone(),
        till: till.id.till.clone(),
        seq,
        prev: Some(after.hash),
        hash,
        signature: Some(till.key.sign_event("corner", &till.id.device, seq, &after.hash, &hash)),
        record,
        hub_seq: 0,
        published: None,
    }
}

#[test]
fn a_retired_till_is_refused_after_its_retirement_on_the_hub() {
    let (a, b, c) = Till::three();
    c.w().execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    let before = c.own();
    // C is lost; B retires it. On the hub: C's first order, B's retirement, then C's next.
    let retired = b.w().retire("C", "stolen").unwrap();
    assert!(retired.retired.as_ref().is_some_and(|r| r.hub_seq.is_none()), "takes effect where the hub has it");
    c.w().execute(Request::new(place(None, &[("MUG", 3)]))).unwrap();
    let after = c.own().split_off(before.len());
    let with_hub = |events: Vec<Incoming>, from: u64| -> Vec<HubMessage> {
        events
            .into_iter()
            .zip(from..)
            .map(|(mut e, seq)| {
                e.hub_seq = seq;
                HubMessage::Event(e)
            })
            .collect()
    };
    let retirement = with_hub(b.own(), 10);
    for till in [&a, &b] {
        till.w().receive(with_hub(before.clone(), 5), 5, false).unwrap();
        till.w().receive(retirement.clone(), 10, false).unwrap();
        let arrivals = till.w().receive(with_hub(after.clone(), 20), 20, false).unwrap();
        assert_eq!(quarantined(&arrivals), [Problem::Retired], "on {}: {arrivals:?}", till.id.till);
        assert!(till.w().order_history("C-1001", None).unwrap().is_some(), "C's order before the retirement stays");
        assert!(till.w().order_history("C-1002", None).unwrap().is_none(), "the one after it is refused");
    }
    let member = a.w().roster().unwrap().into_iter().find(|m| m.till == "C").unwrap();
    assert_eq!(member.retired.unwrap().hub_seq, Some(10));
    assert_eq!(a.books(), b.books());
    let e = b.w().retire("B", "no").unwrap_err();
    assert!(e.to_string().contains("cannot retire itself"), "{e}");
    let e = b.w().retire("Q", "no").unwrap_err();
    assert!(e.to_string().contains("no till 'Q' is admitted"), "{e}");
}

#[test]
fn an_event_of_a_newer_version_waits_and_is_taken_after_an_update() {
    let a = Till::founder();
    let b = Till::admitted_by(&a, "DEV-B", "B");
    let base = a.own();
    b.take(base);
    // B takes a payment (an event type A's "older version" does not know), then an order.
    let mut invoice = place(None, &[("MUG", 1)]);
    if let countertop_core::Command::PlaceOrder(order) = &mut invoice {
        order.invoice = true;
        order.payment_method = None;
    }
    b.w().execute(Request::new(invoice)).unwrap();
    b.w()
        .execute(Request::new(countertop_core::Command::PayOrder(countertop_core::PayOrder {
            order: "B-1001".into(),
            payments: vec![countertop_core::PaymentInput {
                tender: countertop_core::Tender::Card,
                amount: countertop_core::MoneyInput::new("8.00".parse().unwrap()),
            }],
            at: None,
        })))
        .unwrap();
    b.w().execute(Request::new(place(None, &[("MUG", 2)]))).unwrap();
    a.w().pretend_unknown(&["order.paid"]);
    let arrivals = a.take(b.own());
    assert_eq!(quarantined(&arrivals), [Problem::NewerVersion, Problem::Gap], "{arrivals:?}");
    let lines = a.w().quarantine().unwrap().lines();
    assert!(
        lines.contains(&"till B is on a newer version: update this till to take 1 change of it".to_owned()),
        "{lines:?}"
    );
    assert!(a.w().order_history("B-1002", None).unwrap().is_none(), "B's later order waits behind it");
    // A's own orders go on meanwhile.
    a.w().execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();

    // "Updated": the next session retries what was held, in order.
    a.w().pretend_unknown(&[]);
    a.w().receive(Vec::new(), 0, true).unwrap();
    assert!(a.w().quarantine().unwrap().is_empty());
    assert_eq!(a.w().order_history("B-1001", None).unwrap().unwrap().order.due().to_string(), "0.00");
    assert!(a.w().order_history("B-1002", None).unwrap().is_some());
    b.take(a.own());
    assert_eq!(a.books(), b.books());
}

/// A small export, as two tills apart would both import it.
const FILE: &str = "order,date,customer_id,sku,product,quantity,unit_price
9001,2026-11-02 10:00,C1,MUG,Enamel mug,2,8.00
9001,2026-11-02 10:00,C1,TEA,Tea towel,1,4.50
9002,2026-11-02 11:00,C2,MUG,Enamel mug,1,8.00
9003,2026-11-03 09:30,C1,TEA,Tea towel,3,4.50
9004,2026-11-03 12:15,C3,MUG,Enamel mug,4,8.00
";

#[test]
fn the_same_file_imported_on_two_tills_apart_counts_each_sale_once() {
    use countertop_core::import::{Format, ImportOptions, import};
    let a = Till::founder();
    let b = Till::admitted_by(&a, "DEV-B", "B");
    let base = a.own();
    b.take(base.clone());
    let file = a.dir.path().join("sales.csv");
    std::fs::write(&file, FILE).unwrap();
    for till in [&a, &b] {
        let options = ImportOptions { format: Format::Csv, ..ImportOptions::default() };
        let report = import(till.w(), &file, &options, |_| {}).unwrap();
        assert_eq!(report.orders, 4, "{report:?}");
    }
    // Apart, each refunds a different order.
    let refund = |order: &str| {
        countertop_core::Command::RefundOrder(countertop_core::RefundOrder {
            order: order.into(),
            amount: Some(countertop_core::MoneyInput::new("3.00".parse().unwrap())),
            lines: Vec::new(),
            reason: "chipped".into(),
            at: None,
            tender: None,
            restock: false,
        })
    };
    a.w().execute(Request::new(refund("9001"))).unwrap();
    b.w().execute(Request::new(refund("9002"))).unwrap();
    let from_a = a.own().split_off(base.len());
    let from_b = b.own();
    let (on_b, on_a) = (b.take(from_a), a.take(from_b));
    for arrivals in [&on_a, &on_b] {
        assert_eq!(quarantined(arrivals).iter().filter(|p| **p == Problem::PlacedTwice).count(), 4, "{arrivals:?}");
    }
    assert_eq!(a.books(), b.books());
    for till in [&a, &b] {
        for order in ["9001", "9002"] {
            let o = till.w().order_history(order, None).unwrap().unwrap().order;
            assert_eq!(o.refunded().to_string(), "3.00", "{order} on {}: its refund counts", till.id.till);
        }
        let lines = till.w().quarantine().unwrap().lines();
        assert!(lines.iter().any(|l| l.contains("placed orders this till already had")), "{lines:?}");
    }
    // A third till that gets both counts each sale once too.
    let c = Till::admitted_by(&a, "DEV-C", "C");
    c.take(a.own());
    c.take(b.own());
    assert_eq!(c.books(), a.books());
}

#[test]
fn a_stamp_far_ahead_of_its_event_is_refused_and_later_edits_still_win() {
    let a = Till::founder();
    let b = Till::admitted_by(&a, "DEV-B", "B");
    let base = a.own();
    b.take(base.clone());
    // B sends a rename stamped in the year 9999 (and one at the last tick there is): every
    // later edit would lose to them, shop-wide.
    let far = b.forge_next(
        "product/MUG",
        "product.renamed",
        serde_json::json!({"sku": "MUG", "name": "Frozen", "stamp": {"at": "9999-01-01T00:00:00Z", "n": 0, "till": "B"}}),
    );
    let arrivals = a.take(vec![far]);
    assert!(
        matches!(&arrivals[..], [Arrival::Refused(Problem::Refused, why)] if why.contains("stamp")),
        "{arrivals:?}"
    );
    // A's own rename after it wins, on A and on B.
    a.w()
        .execute(Request::new(countertop_core::Command::UpdateProduct(countertop_core::UpdateProduct {
            sku: "MUG".into(),
            name: Some("Blue mug".into()),
            ..Default::default()
        })))
        .unwrap();
    b.take(a.own().split_off(base.len()));
    for till in [&a, &b] {
        assert_eq!(till.w().product("MUG").unwrap().unwrap().name, "Blue mug", "on {}", till.id.till);
    }
}

/// A shop that synced before tills signed: its history on the hub is unsigned. After the
/// upgrade the kept till founds the roster (naming how far its unsigned history goes) and
/// admits the other old till the same way; a till that joins later still takes all of that
/// history — and nothing unsigned beyond it.
#[test]
fn a_shop_that_synced_unsigned_upgrades_and_a_new_till_takes_its_whole_history() {
    let unsigned = |events: Vec<Incoming>| -> Vec<Incoming> {
        events.into_iter().map(|e| Incoming { signature: None, prev: None, ..e }).collect()
    };
    let acked = |till: &Till| {
        let (out, _) = till.w().outgoing(OutboxMark::default(), usize::MAX, usize::MAX).unwrap();
        let last = out.last().unwrap();
        till.w().acknowledged(OutboxMark { position: last.position, seq: last.seq, hash: last.hash }).unwrap();
    };
    // Before the upgrade: A's events went to the hub unsigned, and were acknowledged.
    let a = Till::new("DEV-A", "A");
    for command in [open_shop(), add_product("MUG", "Enamel mug", "8.00"), place(None, &[("MUG", 1)])] {
        a.w().execute(Request::new(command)).unwrap();
    }
    acked(&a);
    let old_a = unsigned(a.own());

    // The upgrade: A's key is the first, naming its unsigned history.
    let founded = a.w().found(a.key.public()).unwrap().unwrap();
    assert_eq!(founded.legacy.as_ref().map(|l| l.seq), Some(old_a.len() as u64));
    // B, the other old till, had A's history and sent changes of its own unsigned too.
    let b = Till::new("DEV-B", "B");
    b.w().pin(a.w().root().unwrap().unwrap(), b.key.public()).unwrap();
    let taken = b.take(old_a.clone());
    assert!(taken.iter().all(|x| matches!(x, Arrival::Appended { .. })), "A's unsigned history: {taken:?}");
    b.w().execute(Request::new(add_product("TEA", "Tea towel", "4.50"))).unwrap();
    acked(&b);
    let old_b = unsigned(b.own());
    // A admits B once, naming B's unsigned history; A goes on, signed.
    a.w().admit("DEV-B".into(), "B".into(), b.key.public(), b.w().unsigned_tip().unwrap()).unwrap();
    a.w().execute(Request::new(place(None, &[("MUG", 2)]))).unwrap();
    let signed_a = a.own().split_off(old_a.len());

    // A new till joins later: the hub gives it B's old events, A's old ones, then A's signed.
    let c = Till::admitted_by(&a, "DEV-C", "C");
    let first = c.take(old_b.clone());
    assert!(first.iter().all(|x| matches!(x, Arrival::Held(..))), "B is not admitted yet: {first:?}");
    let rest = c.take([old_a.clone(), a.own().split_off(old_a.len())].concat());
    assert!(rest.iter().all(|x| matches!(x, Arrival::Appended { .. })), "{rest:?}");
    assert!(c.w().quarantine().unwrap().is_empty(), "B's old events were taken once A admitted it");
    assert!(c.w().product("TEA").unwrap().is_some() && c.w().order_history("A-1002", None).unwrap().is_some());
    b.take(signed_a);
    a.take(old_b.clone());
    assert_eq!(c.books(), a.books());
    assert_eq!(b.books(), a.books());

    // Nothing of B's unsigned is taken beyond what its admission named.
    b.w().execute(Request::new(add_product("CUP", "Cup", "3.00"))).unwrap();
    let beyond = unsigned(b.own().split_off(old_b.len()));
    let arrivals = a.take(beyond);
    assert!(
        matches!(&arrivals[..], [Arrival::Quarantined(Problem::Forged, why)] if why.contains("not signed")),
        "{arrivals:?}"
    );
}
