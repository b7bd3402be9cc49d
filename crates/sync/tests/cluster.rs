//! A hub that is a cluster: three `nats-server -js` on loopback as one JetStream cluster
//! ([`LocalCluster`]). Two tills keep taking orders while the server that leads the shop's
//! stream is killed and, later, started again; at the end every order is on both tills exactly
//! once. SCALING.md quotes what this test prints.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use countertop_core::{StreamId, WriteStore};
use countertop_sync::{Credentials, Hub, JoinOptions, LocalCluster, Syncer};

mod support;
use support::{place, shop};

/// An order taken on till A, watched for on till B.
struct Probe {
    id: String,
    at: Instant,
    arrived: Option<Duration>,
}

/// Takes an order on each till every 100 ms for `how_long`, and notes when each probe's order
/// reaches till B; till A's order every second is a new probe.
fn take_orders(tills: [&WriteStore; 2], how_long: Duration, placed: &mut Vec<String>, probes: &mut Vec<Probe>) {
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < how_long {
        let at = Instant::now();
        let from_a = place(tills[0]);
        placed.extend([from_a.clone(), place(tills[1])]);
        if round % 10 == 0 {
            probes.push(Probe { id: from_a, at, arrived: None });
        }
        round += 1;
        for probe in probes.iter_mut().filter(|p| p.arrived.is_none()) {
            if tills[1].order_history(&probe.id, None).unwrap().is_some() {
                probe.arrived = Some(probe.at.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The shop's stream on the cluster: (replicas, the server that leads it), once it has a
/// leader (at most 20 s: a leader lost is replaced within seconds).
fn stream_on(url: &str) -> (usize, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .ignore_discovered_servers()
            .connect(url.split(',').collect::<Vec<_>>())
            .await
            .unwrap();
        let mut js = async_nats::jetstream::new(client);
        // Short, so that a leader elected is seen within a few tenths of a second.
        js.set_timeout(Duration::from_millis(500));
        let started = Instant::now();
        loop {
            let info = match js.get_stream("countertop-corner").await {
                Ok(mut stream) => stream.info().await.cloned().map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match info {
                Ok(info) if info.cluster.as_ref().is_some_and(|c| c.leader.is_some()) => {
                    return (info.config.num_replicas, info.cluster.and_then(|c| c.leader).unwrap_or_default());
                }
                other => assert!(started.elapsed() < Duration::from_secs(20), "the stream has no leader: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// How many times each order's `order.placed` is in a till's log.
fn placed_events(store: &WriteStore) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut from = 1;
    loop {
        let events = store.events(from, 1000).unwrap();
        let Some(last) = events.last() else { return counts };
        from = last.position + 1;
        for event in &events {
            if let (StreamId::Order(id), "order.placed") = (&event.stream, event.event_type.as_str()) {
                *counts.entry(id.clone()).or_insert(0) += 1;
            }
        }
    }
}

#[test]
fn two_tills_keep_taking_orders_while_a_cluster_server_is_killed_and_restarted() {
    let started = Instant::now();
    let mut cluster = LocalCluster::start(3).unwrap();
    let cluster_up = started.elapsed();
    let hub = Hub::new(cluster.url(), "corner", Credentials::None);
    let a_dir = tempfile::tempdir().unwrap();
    let a = shop(a_dir.path());
    countertop_sync::join(&a, a_dir.path(), hub.clone(), &JoinOptions::default(), &mut |_| {}).unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    countertop_sync::pair_here(&a, &hub, &b, b_dir.path(), hub.clone(), JoinOptions::default()).unwrap();
    // On a cluster, the shop's stream keeps three copies.
    let (replicas, leader) = stream_on(&cluster.url());
    assert_eq!(replicas, 3);

    let syncers = [Syncer::start(a.clone(), hub.clone()).unwrap(), Syncer::start(b.clone(), hub.clone()).unwrap()];
    let (mut placed, mut probes) = (Vec::new(), Vec::new());
    let taking = Instant::now();
    take_orders([&a, &b], Duration::from_secs(2), &mut placed, &mut probes);

    // The server that leads the stream dies; the tills go on taking orders.
    let victim = cluster.index_of(&leader).unwrap();
    cluster.stop(victim);
    let killed = Instant::now();
    let killed_at = placed.len();
    // Meanwhile, how long the cluster takes to give the stream a new leader.
    let election = std::thread::spawn({
        let (url, old) = (cluster.url(), leader.clone());
        move || loop {
            let (_, now) = stream_on(&url);
            if now != old {
                return (now, killed.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    take_orders([&a, &b], Duration::from_secs(15), &mut placed, &mut probes);
    let (new_leader, led_again) = election.join().unwrap();

    // It comes back, and orders go on.
    cluster.restart(victim).unwrap();
    let restarted = killed.elapsed();
    take_orders([&a, &b], Duration::from_secs(3), &mut placed, &mut probes);
    let taken = taking.elapsed();

    // Every order reaches both tills.
    let waiting = Instant::now();
    while [&a, &b].iter().any(|t| placed.iter().any(|id| t.order_history(id, None).unwrap().is_none())) {
        assert!(waiting.elapsed() < Duration::from_secs(30), "orders still missing 30 s after the last one");
        std::thread::sleep(Duration::from_millis(50));
    }
    let converged = waiting.elapsed();
    drop(syncers);

    // Exactly once each, on both tills, and the same orders.
    let expected: BTreeMap<String, usize> = placed.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(expected.len(), placed.len(), "an order number was given twice");
    for till in [&a, &b] {
        assert_eq!(placed_events(till), expected);
        assert_eq!(till.verify().unwrap().first_bad, None);
    }
    for id in &placed {
        assert_eq!(
            a.order_history(id, None).unwrap().unwrap().order,
            b.order_history(id, None).unwrap().unwrap().order
        );
    }
    // When orders from till A began to reach till B again: the first arrival of an order
    // taken after the kill.
    let resumed = probes.iter().filter_map(|p| Some(p.at.checked_duration_since(killed)? + p.arrived?)).min();
    let again = match resumed {
        Some(at) if at < restarted => format!("from {:.1} s after it ({leader} still down)", at.as_secs_f64()),
        Some(at) => format!("from {:.1} s after it ({leader} back)", at.as_secs_f64()),
        None => "only after the orders stopped".to_owned(),
    };
    let before: Vec<String> = probes
        .iter()
        .filter(|p| p.at < killed)
        .filter_map(|p| Some(format!("{:.2}", p.arrived?.as_secs_f64())))
        .collect();
    eprintln!(
        "cluster of 3 up in {:.1} s; {} orders taken on two tills over {:.1} s, {} of them after {leader}, the stream's leader, was killed; \
         {new_leader} led the stream {:.1} s after the kill; orders from till A reached till B in {} s before the kill, and again {again}; \
         {leader} restarted {:.1} s after the kill; every order on both tills, once, {:.2} s after the last; whole test {:.1} s",
        cluster_up.as_secs_f64(),
        placed.len(),
        taken.as_secs_f64(),
        placed.len() - killed_at,
        led_again.as_secs_f64(),
        before.join(", "),
        restarted.as_secs_f64(),
        converged.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}
