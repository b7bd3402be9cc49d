//! The background sync loop (`Syncer`, what the app runs) against a hub of its own: orders
//! taken on one till while both run arrive at the other without any `sync once`, and through
//! a hub that goes away and comes back.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::time::{Duration, Instant};

use countertop_core::WriteStore;
use countertop_sync::{Credentials, Hub, JoinOptions, LocalHub, Syncer};

mod support;
use support::{place, shop};

fn hub(url: &str) -> Hub {
    Hub::new(url, "corner", Credentials::None)
}

/// Waits until `store` has order `id` (at most 20 s).
fn arrives(store: &WriteStore, id: &str) -> Duration {
    let started = Instant::now();
    while store.order_history(id, None).unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "order {id} did not arrive");
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

#[test]
fn orders_taken_while_both_tills_sync_arrive_and_survive_a_hub_restart() {
    let mut local = LocalHub::start().unwrap();
    let url = local.url();
    let a_dir = tempfile::tempdir().unwrap();
    let a = shop(a_dir.path());
    countertop_sync::join(&a, a_dir.path(), hub(&url), &JoinOptions::default(), &mut |_| {}).unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    countertop_sync::pair_here(&a, &hub(&url), &b, b_dir.path(), hub(&url), JoinOptions::default()).unwrap();

    let syncers = [Syncer::start(a.clone(), hub(&url)).unwrap(), Syncer::start(b.clone(), hub(&url)).unwrap()];
    let from_a = place(&a);
    let from_b = place(&b);
    arrives(&b, &from_a);
    arrives(&a, &from_b);

    // The hub goes away: both keep taking orders, and say they are offline.
    local.stop();
    let offline = [place(&a), place(&b)];
    let started = Instant::now();
    while syncers.iter().any(|s| s.status().connected) {
        assert!(started.elapsed() < Duration::from_secs(30), "a till still says it is connected");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(syncers[0].status().problem.is_some());

    // It comes back: the loops reconnect by themselves and the orders cross.
    local.restart().unwrap();
    arrives(&b, &offline[0]);
    arrives(&a, &offline[1]);
    assert!(syncers.iter().all(|s| s.status().problem.is_none() && s.status().connected));
    // Each till records the hub's acknowledgement of its own orders (just after the other
    // till may already have them).
    let started = Instant::now();
    while [&a, &b].iter().any(|s| s.sync_state().unwrap().waiting > 0) {
        assert!(started.elapsed() < Duration::from_secs(20), "changes still wait to be sent");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(syncers);
    for store in [&a, &b] {
        assert_eq!(store.verify().unwrap().first_bad, None);
    }
}

/// The consumer `device-ID` on the hub: (when it was made, its ack floor, the stream's last
/// sequence), asked with a client of the test's own.
fn consumer_on_hub(url: &str, device: &str) -> (String, u64, u64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream("countertop-corner").await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        let consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer(&format!("device-{device}")).await.unwrap();
        let info = consumer.cached_info();
        (info.created.to_string(), info.ack_floor.stream_sequence, last)
    })
}

/// The sequence of the device's last event on the hub (0: none yet).
fn sent_on_hub(url: &str, device: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let stream = js.get_stream("countertop-corner").await.unwrap();
        match stream.get_last_raw_message_by_subject(&format!("countertop.corner.events.{device}")).await {
            Ok(m) => m.headers.get("Countertop-Seq").and_then(|v| v.as_str().parse().ok()).unwrap_or(0),
            Err(_) => 0,
        }
    })
}

#[test]
fn a_till_at_rest_or_stopped_records_where_it_stands_and_keeps_its_consumer() {
    let local = LocalHub::start().unwrap();
    let url = local.url();
    let dir = tempfile::tempdir().unwrap();
    let a = shop(dir.path());
    countertop_sync::join(
        &a,
        dir.path(),
        hub(&url),
        &JoinOptions { create: true, ..JoinOptions::default() },
        &mut |_| {},
    )
    .unwrap();
    let device = a.identity().unwrap().unwrap().device;
    let (made, ..) = consumer_on_hub(&url, &device);

    // A burst of orders, then a rest: within a few seconds (well under the 10 s a busy loop
    // waits between records) the store says everything was sent and came back.
    let syncer = Syncer::start(a.clone(), hub(&url)).unwrap();
    for _ in 0..5 {
        place(&a);
    }
    let started = Instant::now();
    loop {
        let (_, acked, last) = consumer_on_hub(&url, &device);
        let state = a.sync_state().unwrap();
        if state.waiting == 0 && state.hub_seq == last && acked == last {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(6), "still not recorded at rest: {state:?}, hub at {last}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Another burst, and the loop stops as soon as the hub has taken it and its echoes are
    // acked: stopping records it.
    for _ in 0..5 {
        place(&a);
    }
    let own = a.sync_state().unwrap().own_events;
    let started = Instant::now();
    loop {
        let (_, acked, last) = consumer_on_hub(&url, &device);
        if sent_on_hub(&url, &device) == own && acked == last {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the hub did not take the burst");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(syncer);
    let state = a.sync_state().unwrap();
    let (_, _, last) = consumer_on_hub(&url, &device);
    assert_eq!((state.waiting, state.hub_seq), (0, last), "{state:?}");

    // Started again, it goes on with the same consumer (not one made afresh).
    let syncer = Syncer::start(a.clone(), hub(&url)).unwrap();
    let started = Instant::now();
    while !syncer.status().connected {
        assert!(started.elapsed() < Duration::from_secs(10), "did not connect again");
        std::thread::sleep(Duration::from_millis(20));
    }
    place(&a);
    let own = a.sync_state().unwrap().own_events;
    while consumer_on_hub(&url, &device).2 < own {
        assert!(started.elapsed() < Duration::from_secs(10), "the order after the restart was not sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(syncer);
    assert_eq!(consumer_on_hub(&url, &device).0, made, "the consumer was made afresh");
}
