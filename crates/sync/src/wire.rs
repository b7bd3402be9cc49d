//! How an event travels on the hub: one message on `countertop.SHOP.events.DEVICE`, its
//! payload the event's hash and record as stored, its headers the rest.
//!
//! | header | what |
//! |---|---|
//! | `Countertop-Seq` | the event's sequence in its device's chain, from 1 |
//! | `Countertop-Prev` | the hash of the device's event before it (hex) |
//! | `Countertop-Sig` | the device's ed25519 signature over shop, device, seq, prev and hash (hex) |
//! | `Countertop-Till` | the device's till code (for people; the roster says what it is) |
//! | `Nats-Msg-Id` | the event's hash (hex): the hub drops a resend, and nobody can take the id before the event exists |
//!
//! Nothing read here is believed: [`parse`] only turns bytes into what the message claims
//! ([`HubMessage`]); the write store decides what to take (`countertop-core`'s `store/inbox.rs`).

use async_nats::jetstream;
use countertop_core::{DeviceKey, HubMessage, Identity, Incoming, Outgoing};

pub(crate) const SEQ_HEADER: &str = "Countertop-Seq";
pub(crate) const PREV_HEADER: &str = "Countertop-Prev";
pub(crate) const SIG_HEADER: &str = "Countertop-Sig";
pub(crate) const TILL_HEADER: &str = "Countertop-Till";
pub(crate) const HASH_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// Longest device id a subject may carry.
const DEVICE_MAX: usize = 64;

pub(crate) fn stream_name(shop: &str) -> String {
    format!("countertop-{shop}")
}

pub(crate) fn events_subject(shop: &str, device: &str) -> String {
    format!("countertop.{shop}.events.{device}")
}

/// The message id of an event: its hash, which nobody knows before the event exists.
pub(crate) fn message_id(hash: &[u8; HASH_LEN]) -> String {
    hex(hash)
}

/// One of this device's events as a signed message.
pub(crate) fn publish(identity: &Identity, key: &DeviceKey, event: &Outgoing) -> jetstream::message::PublishMessage {
    let signature = key.sign_event(&identity.shop, &identity.device, event.seq, &event.prev, &event.hash);
    let mut payload = Vec::with_capacity(HASH_LEN + event.record.len());
    payload.extend_from_slice(&event.hash);
    payload.extend_from_slice(&event.record);
    jetstream::message::PublishMessage::build()
        .payload(payload.into())
        .message_id(message_id(&event.hash))
        .header(SEQ_HEADER, event.seq.to_string().as_str())
        .header(PREV_HEADER, hex(&event.prev).as_str())
        .header(SIG_HEADER, hex(&signature).as_str())
        .header(TILL_HEADER, identity.till.as_str())
}

/// What a message on the shop's events subjects claims to be.
pub(crate) fn parse(
    shop: &str,
    subject: &str,
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
    hub_seq: u64,
    published: Option<chrono::DateTime<chrono::Utc>>,
) -> HubMessage {
    let unreadable = |why: String| HubMessage::Unreadable { hub_seq, subject: subject.to_owned(), why };
    let prefix = format!("countertop.{shop}.events.");
    let Some(origin) = subject.strip_prefix(&prefix) else {
        return unreadable(format!("it is on '{subject}', which is not a till's subject"));
    };
    if origin.is_empty()
        || origin.len() > DEVICE_MAX
        || !origin.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return unreadable(format!("it is on '{subject}', which names no device"));
    }
    let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
    let Some(seq) = header(SEQ_HEADER) else {
        return unreadable("it has no sequence: it is not a Countertop event".into());
    };
    let Some(seq) = seq.parse::<u64>().ok().filter(|s| *s > 0) else {
        return unreadable(format!("its sequence '{}' is not a number from 1", cut(&seq)));
    };
    let Some((hash, record)) = payload.split_first_chunk::<HASH_LEN>() else {
        return unreadable(format!("it is {} bytes, too short to be a Countertop event", payload.len()));
    };
    let prev = match header(PREV_HEADER).map(|p| unhex_array::<HASH_LEN>(&p)) {
        None => None,
        Some(Some(prev)) => Some(prev),
        Some(None) => return unreadable("its previous hash is not a hash".into()),
    };
    let signature = match header(SIG_HEADER).map(|s| unhex_array::<SIGNATURE_LEN>(&s)) {
        None => None,
        Some(Some(signature)) => Some(signature),
        Some(None) => return unreadable("its signature is not a signature".into()),
    };
    let till = header(TILL_HEADER).map(|t| cut(&t)).unwrap_or_else(|| "?".to_owned());
    HubMessage::Event(Incoming {
        origin: origin.to_owned(),
        till,
        seq,
        prev,
        hash: *hash,
        record: record.to_vec(),
        signature,
        hub_seq,
        published,
    })
}

/// At most 40 characters of something a message said, for a message to people.
fn cut(text: &str) -> String {
    text.chars().take(40).filter(|c| !c.is_control()).collect()
}

pub(crate) use countertop_core::hex;

/// `N` bytes from hex, if the text is exactly that.
pub(crate) fn unhex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    countertop_core::unhex(text).and_then(|bytes| <[u8; N]>::try_from(bytes.as_slice()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> async_nats::HeaderMap {
        let mut map = async_nats::HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, *v);
        }
        map
    }

    #[test]
    fn anything_that_is_not_an_event_is_unreadable_with_why() {
        let bad = |subject: &str, h: Option<&async_nats::HeaderMap>, payload: &[u8]| match parse(
            "corner", subject, h, payload, 4, None,
        ) {
            HubMessage::Unreadable { why, hub_seq: 4, .. } => why,
            other => panic!("{other:?}"),
        };
        assert!(bad("countertop.corner.events.X", None, b"hello, world!").contains("no sequence"));
        assert!(bad("countertop.corner.tills.A", None, b"").contains("not a till's subject"));
        assert!(bad("countertop.corner.events.a.b", None, b"").contains("names no device"));
        let seq = headers(&[(SEQ_HEADER, "0")]);
        assert!(bad("countertop.corner.events.X", Some(&seq), &[0; 40]).contains("not a number from 1"));
        let seq = headers(&[(SEQ_HEADER, "3")]);
        assert!(bad("countertop.corner.events.X", Some(&seq), &[0; 8]).contains("too short"));
        let prev = headers(&[(SEQ_HEADER, "3"), (PREV_HEADER, "zz")]);
        assert!(bad("countertop.corner.events.X", Some(&prev), &[0; 40]).contains("previous hash"));
        let ok = headers(&[(SEQ_HEADER, "3"), (TILL_HEADER, "B")]);
        match parse("corner", "countertop.corner.events.X", Some(&ok), &[7; 40], 9, None) {
            HubMessage::Event(e) => {
                assert_eq!((e.origin.as_str(), e.seq, e.hub_seq, e.record.len()), ("X", 3, 9, 8));
                assert_eq!((e.prev, e.signature), (None, None));
            }
            other => panic!("{other:?}"),
        }
    }
}
