//! Any message from the hub, as a hostile peer could shape it — a device id, sequence, previous
//! hash, hash, record and signature of its choosing — taken by a till of a shop: it is taken,
//! held, refused or quarantined, never a panic or an error, and the till's log, chains,
//! signatures and state still check out (`verify`).
#![no_main]

use std::sync::OnceLock;

use chrono::Utc;
use countertop_core::{DeviceKey, HubMessage, Identity, Incoming, WriteStore};
use libfuzzer_sys::fuzz_target;

/// One till for the whole run, and a key of a second, admitted device the input may sign
/// with (so signed inputs get past the signature and reach the rules).
fn till() -> &'static (tempfile::TempDir, WriteStore, DeviceKey) {
    static TILL: OnceLock<(tempfile::TempDir, WriteStore, DeviceKey)> = OnceLock::new();
    TILL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let store = WriteStore::open(dir.path()).expect("a store");
        let me = Identity {
            device: "ME".into(),
            till: "A".into(),
            shop: "corner".into(),
            hub: "nats://127.0.0.1:4222".into(),
            joined_at: Utc::now(),
        };
        store.join(me).expect("joined");
        let key = DeviceKey::load_or_create(dir.path()).expect("a key");
        store.found(key.public()).expect("founded");
        let other = tempfile::tempdir().expect("a scratch folder");
        let peer = DeviceKey::load_or_create(other.path()).expect("a key");
        store.admit("PEER".into(), "B".into(), peer.public(), None).expect("admitted");
        (dir, store, peer)
    })
}

fuzz_target!(|data: &[u8]| {
    let (_, store, peer) = till();
    let Some((&[who, seq, flags], rest)) = data.split_first_chunk::<3>() else { return };
    let Some((prev, rest)) = rest.split_first_chunk::<32>() else { return };
    let origin = ["PEER", "ME", "STRANGER", ""][usize::from(who % 4)].to_owned();
    let seq = u64::from(seq % 8);
    // Chained properly (as a forger who read the hub would) unless the input says not to.
    let mut hash = blake3::Hasher::new();
    hash.update(prev);
    hash.update(rest);
    let hash = if flags & 1 == 0 { *hash.finalize().as_bytes() } else { [flags; 32] };
    let signature = (flags & 2 == 0).then(|| peer.sign_event("corner", &origin, seq, prev, &hash));
    let incoming = Incoming {
        origin,
        till: "B".into(),
        seq,
        prev: (flags & 4 == 0).then_some(*prev),
        hash,
        record: rest.to_vec(),
        signature,
        hub_seq: u64::from(flags),
        published: None,
    };
    let arrivals = store.receive(vec![HubMessage::Event(incoming)], u64::from(flags), flags & 8 != 0);
    assert!(arrivals.is_ok(), "a message from the hub is never an error: {arrivals:?}");
    let verified = store.verify().expect("verify runs");
    assert_eq!(verified.first_bad, None, "the till still checks out");
});
