//! The hub's limits against the largest event Countertop records: an order of `MAX_LINES`
//! (10,000) lines fits the shop's stream's message limit with room to spare, and crosses a
//! real hub to another till. What it measures is quoted where the limit is set (`hub.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use countertop_core::{
    Command, Decimal, LineInput, MAX_LINES, MoneyInput, OutboxMark, PlaceOrder, Request, WriteStore,
};
use countertop_sync::{Credentials, Hub, JoinOptions, LocalHub, MAX_EVENT_BYTES};
use support::shop;

mod support;

/// Places one order of `MAX_LINES` lines named by `name(i)`, and returns its id and the size
/// of the message that carries it to the hub (hash ‖ record, as `send` publishes it).
fn largest_order(store: &WriteStore, name: impl Fn(usize) -> (String, String)) -> (String, usize) {
    let lines = (0..MAX_LINES)
        .map(|i| {
            let (sku, name) = name(i);
            LineInput::Item {
                sku: Some(sku),
                name,
                quantity: i64::try_from(i % 7 + 1).unwrap(),
                unit_price: Some(MoneyInput::new(Decimal::new(i64::try_from(100 + i * 37 % 99_900).unwrap(), 2))),
                tax_rate: None,
                total: None,
            }
        })
        .collect();
    let outcome = store
        .execute(Request::new(Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: None,
            lines,
            discount: None,
            note: Some("n".repeat(2000)),
            payment_method: Some("card".into()),
            at: None,
            payments: Vec::new(),
            invoice: false,
        })))
        .unwrap();
    let (own, _) = store.outgoing(OutboxMark::default(), usize::MAX, usize::MAX).unwrap();
    let last = own.last().unwrap();
    (outcome.stream.trim_start_matches("order/").to_owned(), last.hash.len() + last.record.len())
}

/// Catalog-like lines: a shop's own SKUs and product names, each different.
fn catalog_line(i: usize) -> (String, String) {
    const WORDS: [&str; 12] =
        ["Blue", "Ceramic", "Mug", "Enamel", "Teapot", "Large", "Linen", "Apron", "Oak", "Board", "Glass", "Jar"];
    let name = format!("{} {} {} {} no. {i}", WORDS[i % 12], WORDS[i / 12 % 12], WORDS[i / 144 % 12], WORDS[i % 7]);
    (format!("SKU-{i:05}"), name)
}

/// Lines no compressor can shorten much: 64-character SKUs and 200-character names of
/// pseudo-random letters, each different (the text limits' largest).
fn random_line(i: usize) -> (String, String) {
    let mut x = u64::try_from(i).unwrap().wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut text = |n: usize| {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + u8::try_from(x % 26).unwrap())
            })
            .collect::<String>()
    };
    (text(64), text(200))
}

#[test]
fn the_largest_order_fits_the_hubs_message_limit_and_crosses_a_real_hub() {
    let limit = usize::try_from(MAX_EVENT_BYTES).unwrap();
    // Headers: Nats-Msg-Id (a ULID and a sequence), Countertop-Seq, Countertop-Till.
    let headers = 200;
    let a_dir = tempfile::tempdir().unwrap();
    let a = shop(a_dir.path());
    let (id, catalog) = largest_order(&a, catalog_line);
    // For the record only: such an order is over NATS's own default max_payload (1 MiB), so no
    // stock hub takes it, and it would wait on its till (hub.rs, MAX_EVENT_BYTES).
    let scratch = tempfile::tempdir().unwrap();
    let (_, random) = largest_order(&shop(scratch.path()), random_line);
    eprintln!(
        "largest order, {MAX_LINES} lines: catalog-like {catalog} bytes ({} KiB), random 200-character names {random} bytes ({:.2} MiB); limit {limit}",
        catalog / 1024,
        random as f64 / f64::from(1 << 20)
    );
    assert!(
        catalog + headers <= limit / 4,
        "a catalog-like order of {catalog} bytes leaves the limit too little headroom"
    );

    // It crosses a real hub (whose default max_payload is 1 MiB too) to another till.
    let local = LocalHub::start().unwrap();
    let hub = Hub::new(local.url(), "corner", Credentials::None);
    countertop_sync::join(&a, a_dir.path(), hub.clone(), &JoinOptions::default(), &mut |_| {}).unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    countertop_sync::pair_here(&a, &hub, &b, b_dir.path(), hub.clone(), JoinOptions::default()).unwrap();
    let order = b.order_history(&id, None).unwrap().unwrap_or_else(|| panic!("{id} did not arrive"));
    assert_eq!(order.order.lines.len(), MAX_LINES);
}

/// The shop's stream on the hub, as the hub reports its configuration.
fn stream_config(url: &str, shop: &str) -> async_nats::jetstream::stream::Config {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        js.get_stream(format!("countertop-{shop}")).await.unwrap().info().await.unwrap().config.clone()
    })
}

#[test]
fn a_new_shops_stream_is_bounded_and_protected_and_an_older_one_is_protected_at_the_next_join() {
    use async_nats::jetstream::stream::DiscardPolicy;
    let local = LocalHub::start().unwrap();
    let url = local.url();
    let a_dir = tempfile::tempdir().unwrap();
    let a = shop(a_dir.path());
    countertop_sync::join(
        &a,
        a_dir.path(),
        Hub::new(&url, "corner", Credentials::None),
        &JoinOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let made = stream_config(&url, "corner");
    assert_eq!(
        (made.max_message_size, made.max_bytes, made.num_replicas, made.discard),
        (MAX_EVENT_BYTES, i64::try_from(countertop_sync::DEFAULT_MAX_HUB_BYTES).unwrap(), 1, DiscardPolicy::New)
    );
    assert!(made.deny_delete && made.deny_purge);
    assert_eq!(made.duplicate_window, std::time::Duration::from_secs(120));

    // A shop an earlier Countertop started: no limits, deletes and purges allowed.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "countertop-older".into(),
            subjects: vec!["countertop.older.>".into()],
            duplicate_window: std::time::Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .unwrap();
    });
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    let creating = JoinOptions { create: true, ..JoinOptions::default() };
    countertop_sync::join(&b, b_dir.path(), Hub::new(&url, "older", Credentials::None), &creating, &mut |_| {})
        .unwrap();
    let protected = stream_config(&url, "older");
    assert!(protected.deny_delete && protected.deny_purge);
    assert_eq!((protected.max_message_size, protected.discard), (MAX_EVENT_BYTES, DiscardPolicy::New));
    assert_eq!(protected.max_bytes, -1, "a join without --max-hub-bytes leaves the size alone");
}
