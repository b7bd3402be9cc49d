//! Events travelling between devices, without the network: what one store hands out
//! (`outgoing`) goes into another (`receive`), as the sync thread does through the hub.

use chrono::Utc;
use countertop_core::{Arrival, Command, Identity, Incoming, OutboxMark, Outgoing, RefundOrder, Request, WriteStore};

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

/// Everything of `from`'s own after `mark`, as it would arrive elsewhere.
fn send(from: &WriteStore, device: &str, till: &str, mark: OutboxMark) -> Vec<Incoming> {
    let (out, _) = from.outgoing(mark, usize::MAX, usize::MAX).unwrap();
    out.into_iter().map(|o: Outgoing| incoming(device, till, o)).collect()
}

fn incoming(device: &str, till: &str, o: Outgoing) -> Incoming {
    Incoming { origin: device.into(), till: till.into(), seq: o.seq, hash: o.hash, record: o.record, hub_seq: 0 }
}

fn appended(arrivals: &[Arrival]) -> usize {
    arrivals.iter().filter(|a| matches!(a, Arrival::Appended { .. })).count()
}

#[test]
fn two_tills_number_apart_exchange_events_once_and_each_chain_checks_out() {
    let (_a_dir, a) = shop();
    a.join(identity("DEV-A", "A")).unwrap();
    let first = a.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(order_of(&first).id, "A-1001", "a till's numbers carry its code");

    // B is a new device: it gets the whole shop from A, then takes an order of its own.
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    b.join(identity("DEV-B", "B")).unwrap();
    let from_a = send(&a, "DEV-A", "A", OutboxMark::default());
    let arrivals = b.receive(from_a.clone(), 0).unwrap();
    assert_eq!(appended(&arrivals), from_a.len());
    assert_eq!(b.shop().unwrap().unwrap().name, "Corner Shop");
    let second = b.execute(Request::new(place(None, &[("TEA", 2)]))).unwrap();
    assert_eq!(order_of(&second).id, "B-1001", "B's sequence is its own, and A's numbers do not move it");

    // Delivered again (a redelivery after a crash before the ack): nothing changes.
    let again = b.receive(from_a.clone(), 0).unwrap();
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
    let from_b = send(&b, "DEV-B", "B", OutboxMark::default());
    assert_eq!(from_b.len(), 2, "B's order and its refund: {from_b:?}");
    assert_eq!(appended(&a.receive(from_b, 0).unwrap()), 2);
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

    // The outbox skips B's events in A's log and numbers A's own on.
    let mark = OutboxMark { position: 0, seq: 0 };
    let (own, _) = a.outgoing(mark, usize::MAX, usize::MAX).unwrap();
    let seqs: Vec<u64> = own.iter().map(|o| o.seq).collect();
    assert_eq!(seqs, (1..=own.len() as u64).collect::<Vec<_>>());
    let last = own.last().unwrap();
    a.acknowledged(OutboxMark { position: last.position, seq: last.seq }).unwrap();
    assert_eq!(a.sync_state().unwrap().waiting, 0);
    let (none, _) = a.outgoing(a.sync_state().unwrap().outbox, 10, 100).unwrap();
    assert!(none.is_empty());
}

#[test]
fn an_altered_or_out_of_order_event_is_refused_and_nothing_after_it_is_taken() {
    let (_a_dir, a) = shop();
    a.join(identity("DEV-A", "A")).unwrap();
    a.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    let events = send(&a, "DEV-A", "A", OutboxMark::default());
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();

    let mut altered = events.clone();
    let last = altered.len() - 1;
    let byte = altered[last].record.len() / 2;
    altered[last].record[byte] ^= 1;
    let arrivals = b.receive(altered, 0).unwrap();
    assert_eq!(appended(&arrivals), last);
    assert!(matches!(&arrivals[last], Arrival::Refused(why) if why.contains("hash chain")), "{arrivals:?}");

    let gap = vec![events[last].clone()];
    let b2_dir = tempfile::tempdir().unwrap();
    let b2 = WriteStore::open(b2_dir.path()).unwrap();
    let arrivals = b2.receive(gap, 0).unwrap();
    assert!(matches!(&arrivals[0], Arrival::Refused(why) if why.contains("gap")), "{arrivals:?}");
    assert_eq!(b2.verify().unwrap().events, 0);

    // The right event then goes in, and the chain checks out.
    assert_eq!(appended(&b.receive(events, 0).unwrap()), 1);
    assert_eq!(b.verify().unwrap().first_bad, None);
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
