//! A hostile (or merely buggy) peer on a real hub: a plain NATS client, no Countertop code on
//! its side, publishing what it likes on the shop's subjects. Each test: the honest tills keep
//! converging (orders on A reach B, and C joining later), their books are equal (the shared
//! read-model digest), the bad message is in quarantine with why, and `verify` passes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::time::Duration;

use async_nats::HeaderMap;
use countertop_core::{Command, Countertop, Decimal, DeviceKey, Freshness, MoneyInput, OutboxMark, Problem, Request};
use countertop_sync::{Credentials, Hub, JoinOptions, LocalHub, Report};

mod support;

fn hub(url: &str) -> Hub {
    Hub::new(url, "corner", Credentials::None)
}

struct Till {
    dir: tempfile::TempDir,
    ct: Countertop,
}

impl Till {
    fn empty() -> Till {
        let dir = tempfile::tempdir().unwrap();
        let ct = Countertop::open(dir.path()).unwrap();
        Till { dir, ct }
    }

    fn device(&self) -> String {
        self.ct.write().identity().unwrap().unwrap().device
    }

    fn place(&self, quantity: i64) -> String {
        support::sell(self.ct.write(), quantity)
    }

    fn sync(&self, url: &str) -> Report {
        countertop_sync::sync_once(self.ct.write(), &hub(url), &mut |_| {}).unwrap()
    }

    /// The books every till must agree on, after checking this one's log and state.
    fn books(&self) -> String {
        assert!(self.ct.wait_caught_up(Freshness::Tables, Duration::from_secs(60), |_| {}));
        let v = self.ct.write().verify().unwrap();
        assert_eq!(v.first_bad, None);
        assert!(self.ct.dead_letters().unwrap().is_empty());
        self.ct.shared_digest().unwrap().value
    }

    fn has(&self, order: &str) -> bool {
        self.ct.write().order_history(order, None).unwrap().is_some()
    }

    fn problems(&self) -> Vec<(Problem, String)> {
        self.ct.write().quarantined().unwrap().into_iter().map(|q| (q.problem, q.detail)).collect()
    }
}

/// A hub with the shop: A founded it (selling mugs), B was paired in.
fn shop() -> (LocalHub, String, Till, Till) {
    let local = LocalHub::start().unwrap();
    let url = local.url();
    let a = Till::empty();
    support::open_shop(a.ct.write());
    countertop_sync::join(a.ct.write(), a.dir.path(), hub(&url), &JoinOptions::default(), &mut |_| {}).unwrap();
    let b = Till::empty();
    countertop_sync::pair_here(a.ct.write(), &hub(&url), b.ct.write(), b.dir.path(), hub(&url), JoinOptions::default())
        .unwrap();
    a.sync(&url);
    (local, url, a, b)
}

/// A third till paired in now: it gets everything on the hub, the bad messages too.
fn newcomer(a: &Till, url: &str) -> Till {
    let c = Till::empty();
    countertop_sync::pair_here(a.ct.write(), &hub(url), c.ct.write(), c.dir.path(), hub(url), JoinOptions::default())
        .unwrap();
    c
}

/// The attacker: a plain NATS client publishing on the hub.
fn attack(url: &str, subject: &str, headers: &[(&str, &str)], payload: Vec<u8>) -> Result<u64, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, *v);
        }
        let ack = js.publish_with_headers(subject.to_owned(), map, payload.into()).await.map_err(|e| e.to_string())?;
        ack.await.map(|a| a.sequence).map_err(|e| e.to_string())
    })
}

/// A's last message on the hub: (its sequence header, its hash).
fn last_of(url: &str, device: &str) -> (u64, [u8; 32]) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let stream = js.get_stream("countertop-corner").await.unwrap();
        let last = stream.get_last_raw_message_by_subject(&format!("countertop.corner.events.{device}")).await.unwrap();
        let seq = last.headers.get("Countertop-Seq").unwrap().as_str().parse().unwrap();
        (seq, last.payload[..32].try_into().unwrap())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn chain(prev: &[u8; 32], record: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev);
    hasher.update(record);
    *hasher.finalize().as_bytes()
}

/// An order of 320.00 "placed on A", as JSON a Countertop would store.
fn fat_order(id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "stream": format!("order/{id}"), "version": 1, "type": "order.placed", "schema": 4,
        "recorded_at": chrono::Utc::now(), "command": "forged",
        "payload": {
            "order": id, "customer": null, "currency": "GBP", "note": null, "payment_method": "card",
            "at": chrono::Utc::now(), "numbered": true, "payments": [],
            "lines": [{"sku": "MUG", "name": "Mug", "quantity": 40, "unit_price": "8.00", "tax_rate": "0.2", "total": "320.00", "from_catalog": true}],
            "totals": {"subtotal": "320.00", "discount": "0.00", "tax": "53.33", "total": "320.00"},
        }
    }))
    .unwrap()
}

/// After an attack: A's next order reaches B and a newcomer C, and all three agree.
fn honest_tills_go_on(url: &str, a: &Till, b: &Till) -> Till {
    let order = a.place(1);
    let sent = a.sync(url);
    assert!(sent.sent >= 1, "A still sends: {sent:?}");
    b.sync(url);
    assert!(b.has(&order), "B has A's {order}");
    let c = newcomer(a, url);
    assert!(c.has(&order), "a newcomer has A's {order}");
    b.sync(url);
    a.sync(url);
    let books = a.books();
    assert_eq!(b.books(), books, "A and B agree");
    assert_eq!(c.books(), books, "A and C agree");
    c
}

#[test]
fn garbage_a_headerless_message_and_a_wrong_sequence_stop_nothing() {
    let (_hub, url, a, b) = shop();
    let device = a.device();
    // 13 bytes, no headers, on a till-like subject; a "seq 999" on A's own subject; one under a
    // longer subject ending in A's device id.
    attack(&url, "countertop.corner.events.X", &[], b"hello, world!".to_vec()).unwrap();
    attack(&url, &format!("countertop.corner.events.{device}"), &[("Countertop-Seq", "999")], vec![0; 64]).unwrap();
    attack(&url, &format!("countertop.corner.events.x.{device}"), &[("Countertop-Seq", "5")], vec![1; 80]).unwrap();
    let c = honest_tills_go_on(&url, &a, &b);
    for till in [&b, &c] {
        let problems = till.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().all(|(p, _)| matches!(p, Problem::NotOurs | Problem::Forged)), "{problems:?}");
        let lines = till.ct.write().quarantine().unwrap().lines();
        assert!(lines.iter().any(|l| l.contains("did not come from a till of this shop: ignored")), "{lines:?}");
    }
    assert!(a.problems().iter().any(|(p, why)| *p == Problem::Forged && why.contains("this till did not sign")));
}

#[test]
fn a_forged_next_event_of_a_till_is_never_taken_and_its_real_one_is() {
    let (_hub, url, a, b) = shop();
    let device = a.device();
    let (seq, prev) = last_of(&url, &device);
    let record = fat_order("A-1001");
    let hash = chain(&prev, &record);
    let mut payload = hash.to_vec();
    payload.extend_from_slice(&record);
    let subject = format!("countertop.corner.events.{device}");
    let next = (seq + 1).to_string();
    // Correctly chained and unsigned; then signed, with a key that is not A's.
    attack(&url, &subject, &[("Countertop-Seq", &next), ("Countertop-Prev", &hex(&prev))], payload.clone()).unwrap();
    let thief = tempfile::tempdir().unwrap();
    let key = DeviceKey::load_or_create(thief.path()).unwrap();
    let signature = key.sign_event("corner", &device, seq + 1, &prev, &hash);
    let headers =
        [("Countertop-Seq", next.as_str()), ("Countertop-Prev", &hex(&prev)), ("Countertop-Sig", &hex(&signature))];
    attack(&url, &subject, &headers, payload).unwrap();
    let c = honest_tills_go_on(&url, &a, &b);
    for till in [&a, &b, &c] {
        let order = till.ct.write().order_history("A-1001", None).unwrap().unwrap().order;
        assert_eq!(order.totals.total.to_string(), "8.00", "A's real order, not the forged 320.00");
    }
    for till in [&b, &c] {
        let forged: Vec<_> = till.problems().into_iter().filter(|(p, _)| *p == Problem::Forged).collect();
        assert_eq!(forged.len(), 2, "{forged:?}");
    }
}

#[test]
fn a_replayed_event_is_a_redelivery_and_a_stranger_is_held() {
    let (_hub, url, a, b) = shop();
    // The attacker copies one of A's messages as it is and publishes it again, and publishes
    // events of its own, signed by a key no till admitted, as a "device" of its own.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let copied = rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
        let stream = js.get_stream("countertop-corner").await.unwrap();
        stream.get_last_raw_message_by_subject(&format!("countertop.corner.events.{}", a.device())).await.unwrap()
    });
    let headers: Vec<(String, String)> = ["Countertop-Seq", "Countertop-Prev", "Countertop-Sig", "Countertop-Till"]
        .iter()
        .filter_map(|h| copied.headers.get(*h).map(|v| ((*h).to_owned(), v.as_str().to_owned())))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    attack(&url, copied.subject.as_str(), &headers, copied.payload.to_vec()).unwrap();
    let stranger = Till::empty();
    let key = DeviceKey::load_or_create(stranger.dir.path()).unwrap();
    let record = fat_order("Z-1001");
    let hash = chain(&[0; 32], &record);
    let mut payload = hash.to_vec();
    payload.extend_from_slice(&record);
    let signature = key.sign_event("corner", "STRANGER", 1, &[0; 32], &hash);
    let headers = [("Countertop-Seq", "1"), ("Countertop-Prev", &hex(&[0; 32])), ("Countertop-Sig", &hex(&signature))];
    attack(&url, "countertop.corner.events.STRANGER", &headers, payload).unwrap();
    let c = honest_tills_go_on(&url, &a, &b);
    for till in [&b, &c] {
        let problems = till.problems();
        assert_eq!(problems.len(), 1, "the replay is only a redelivery: {problems:?}");
        assert_eq!(problems[0].0, Problem::Unadmitted);
        assert!(!till.has("Z-1001"));
    }
}

#[test]
fn an_event_signed_by_a_retired_till_after_its_retirement_is_refused() {
    let (_hub, url, a, b) = shop();
    let c = newcomer(&a, &url);
    let first = c.place(1);
    c.sync(&url);
    // C is stolen; A retires it, and the retirement reaches the hub before C's next order.
    a.ct.write().retire("C", "stolen").unwrap();
    a.sync(&url);
    let second = c.place(2);
    c.sync(&url);
    for till in [&a, &b] {
        till.sync(&url);
        assert!(till.has(&first), "C's order before its retirement stays");
        assert!(!till.has(&second), "C's order after its retirement is refused");
        assert!(till.problems().iter().any(|(p, _)| *p == Problem::Retired), "{:?}", till.problems());
    }
    assert_eq!(a.books(), b.books());
    let d = newcomer(&a, &url);
    assert!(d.has(&first) && !d.has(&second));
    assert_eq!(d.books(), a.books());
}

#[test]
fn a_taken_message_id_is_noticed_and_nothing_is_marked_sent() {
    let (_hub, url, a, b) = shop();
    // The attacker somehow learnt the id of A's next message (its hash; here: from A's store)
    // and used it first for something else.
    a.place(1);
    let mark = a.ct.write().sync_state().unwrap().outbox;
    let (next, _) = a.ct.write().outgoing(mark, 1, usize::MAX).unwrap();
    let id = hex(&next[0].hash);
    attack(&url, "countertop.corner.events.X", &[("Nats-Msg-Id", &id)], b"squatting".to_vec()).unwrap();
    let e = countertop_sync::sync_once(a.ct.write(), &hub(&url), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("another program published under this till's name"), "{e}");
    assert_eq!(a.ct.write().sync_state().unwrap().waiting, 1, "not marked as sent");
    b.sync(&url);
    assert_eq!(a.books(), a.books());
    let _ = OutboxMark::default();
}

#[test]
fn an_event_of_a_newer_version_waits_and_the_rest_flows() {
    let (_hub, url, a, b) = shop();
    b.ct.write().pretend_unknown(&["order.refunded"]);
    let order = a.place(2);
    a.ct.execute(Request::new(Command::RefundOrder(countertop_core::RefundOrder {
        order: order.clone(),
        amount: Some(MoneyInput::new(Decimal::new(300, 2))),
        lines: Vec::new(),
        reason: "chipped".into(),
        at: None,
        tender: None,
        restock: false,
    })))
    .unwrap();
    let later = a.place(1);
    a.sync(&url);
    b.sync(&url);
    assert!(b.has(&order), "what came before flows");
    assert!(!b.has(&later), "A's later events wait behind the one B cannot read");
    let lines = b.ct.write().quarantine().unwrap().lines();
    assert!(
        lines.iter().any(|l| l.starts_with("till A is on a newer version: update this till to take 1 change")),
        "{lines:?}"
    );
    // B's own orders still reach A meanwhile.
    let own = b.place(1);
    b.sync(&url);
    a.sync(&url);
    assert!(a.has(&own));
    // B is "updated": its next session takes what it held, in order.
    b.ct.write().pretend_unknown(&[]);
    b.sync(&url);
    assert!(b.has(&later));
    assert!(b.ct.write().quarantine().unwrap().is_empty());
    assert_eq!(a.books(), b.books());
}

#[test]
fn an_oversized_message_is_refused_by_the_hub_and_nothing_stops() {
    let (_hub, url, a, b) = shop();
    let device = a.device();
    let refused =
        attack(&url, &format!("countertop.corner.events.{device}"), &[("Countertop-Seq", "9")], vec![7; 2 << 20]);
    assert!(refused.is_err(), "the shop's stream takes no message over {} bytes", countertop_sync::MAX_EVENT_BYTES);
    honest_tills_go_on(&url, &a, &b);
}

#[test]
fn a_mistyped_pairing_code_is_said_at_once_and_the_right_one_still_works() {
    let (_hub, url, a, b) = shop();
    let c = Till::empty();
    let wrong = JoinOptions {
        code: Some(countertop_core::PairingCode::parse("00000-00000").unwrap()),
        ..JoinOptions::default()
    };
    let started = std::time::Instant::now();
    let e = countertop_sync::join(c.ct.write(), c.dir.path(), hub(&url), &wrong, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("no till of the shop 'corner' shows the code 00000-00000"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30), "said within seconds, not after the ten-minute wait");
    // A code the other till stopped showing is said at once too (whatever the two clocks say).
    let mut shown = None;
    let quick = Duration::from_secs(1);
    let e = countertop_sync::add_device(a.ct.write(), &hub(&url), false, false, quick, &mut |code| {
        shown = Some(code.clone());
    })
    .unwrap_err();
    assert!(e.to_string().contains("no till typed the code"), "{e}");
    let late = JoinOptions { code: shown, ..JoinOptions::default() };
    let started = std::time::Instant::now();
    let e = countertop_sync::join(c.ct.write(), c.dir.path(), hub(&url), &late, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("which has stopped waiting for it: ask that till for a new one"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30), "said within seconds, not after the ten-minute wait");
    // Typed again, right this time: the folder joins and gets the shop.
    countertop_sync::pair_here(a.ct.write(), &hub(&url), c.ct.write(), c.dir.path(), hub(&url), JoinOptions::default())
        .unwrap();
    honest_tills_go_on(&url, &a, &b);
    c.sync(&url);
    assert_eq!(c.books(), a.books());
}
