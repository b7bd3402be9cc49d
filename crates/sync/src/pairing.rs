//! Letting a till into the shop with a pairing code.
//!
//! 1. On a till already in the shop, the owner asks to add one ([`admit`]): it shows a
//!    [`PairingCode`] and waits for a request on the code's channel,
//!    `countertop.SHOP.pairing.CHANNEL.request` (the channel is derived from the code and
//!    reveals nothing of it).
//! 2. On the new till, the owner types the code ([`request`], from `join --code`): it
//!    publishes its device id, till code and public key (and, for a till that synced before
//!    tills signed, how far its unsigned events go), tagged with the code.
//!    It first looks for the admitting till's `…CHANNEL.open` (published, tagged, before the
//!    code is shown, and published again as closed when that till stops waiting), so a code
//!    mistyped, or one a till no longer shows, is said at once instead of after ten minutes.
//!    (Closed, not a time: the two tills' clocks need not agree.)
//! 3. The admitting till checks the tag, records a signed `device.admitted` for that key, and
//!    answers on `…CHANNEL.reply`, tagged with the code: the shop's first key and its own.
//!    The new till checks the tag and pins the first key: from then on it believes exactly
//!    the devices the roster, signed link by link from that key, lets in.
//!
//! The code is 50 bits and used once, within [`PAIRING_WAIT`]: a tag cannot be forged without
//! it, and it cannot be guessed from the hub in that time.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, Context, stream};
use countertop_core::{DeviceKey, Identity, LegacyTip, Member, PairingCode, PublicKey, Root, WriteStore};
use serde::{Deserialize, Serialize};

use crate::{SyncError, blocking, hub_error};

/// How long a till showing a code waits for the new till, and the new till for the answer.
pub const PAIRING_WAIT: Duration = Duration::from_secs(10 * 60);
/// How long the new till looks for the till showing the code before saying it found none.
const FIND_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(300);

/// What the new till asks.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    shop: String,
    device: String,
    till: String,
    key: String,
    #[serde(default)]
    legacy: Option<LegacyTip>,
}

/// That a till shows a code (`open`), or no longer does.
#[derive(Debug, Serialize, Deserialize)]
struct Open {
    shop: String,
    till: String,
    open: bool,
}

/// Says on the hub that the till shows `code`, or (`open: false`) no longer does.
async fn announce(js: &Context, shop: &str, till: &str, code: &PairingCode, open: bool) -> Result<(), SyncError> {
    let body = serde_json::to_vec(&Open { shop: shop.to_owned(), till: till.to_owned(), open })
        .map_err(|e| SyncError::Input(format!("encoding the pairing: {e}")))?;
    let ack = js
        .send_publish(
            subject(shop, code, "open"),
            jetstream::message::PublishMessage::build().payload(tagged(code, &body).into()),
        )
        .await
        .map_err(hub_error)?;
    ack.await.map_err(hub_error)?;
    Ok(())
}

/// What the admitting till answers.
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    /// The tag of the request this answers (binds the two).
    request: String,
    root: Root,
    /// The admitting till.
    by: String,
    by_till: String,
    by_key: String,
}

fn subject(shop: &str, code: &PairingCode, what: &str) -> String {
    format!("countertop.{shop}.pairing.{}.{what}", code.channel())
}

fn tagged(code: &PairingCode, body: &[u8]) -> Vec<u8> {
    let mut out = code.tag(body).to_vec();
    out.extend_from_slice(body);
    out
}

/// The body of a message tagged with `code`, if the tag checks out.
fn untagged<'a>(code: &PairingCode, payload: &'a [u8]) -> Option<(&'a [u8; 32], &'a [u8])> {
    let (tag, body) = payload.split_first_chunk::<32>()?;
    code.checks(body, tag).then_some((tag, body))
}

/// Waits (up to `wait`) for a message on `subject` that `accept` takes.
async fn wait_for<T>(
    js: &Context,
    shop: &str,
    subject: &str,
    wait: Duration,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Result<Option<T>, SyncError> {
    let stream = js.get_stream(crate::wire::stream_name(shop)).await.map_err(hub_error)?;
    let started = Instant::now();
    loop {
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => {
                if let Some(found) = accept(&message.payload) {
                    return Ok(Some(found));
                }
            }
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(hub_error(e)),
        }
        if started.elapsed() >= wait {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// On a till of the shop: shows a code (`shown`), waits for the till that types it, admits
/// its key and answers it. Returns the new member.
pub(crate) async fn admit(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    key: &DeviceKey,
    wait: Duration,
    shown: &mut dyn FnMut(&PairingCode),
) -> Result<Member, SyncError> {
    let root = store.root()?.ok_or_else(|| {
        SyncError::Input(format!(
            "till {} does not know the shop's keys yet. If it is the till you keep, make its key the shop's first: `countertop devices add --first`; otherwise pair it with a till of the shop first",
            identity.till
        ))
    })?;
    let code = PairingCode::generate()?;
    let shop = identity.shop.clone();
    announce(js, &shop, &identity.till, &code, true).await?;
    shown(&code);
    let asked = wait_for(js, &shop, &subject(&shop, &code, "request"), wait, |payload| {
        let (tag, body) = untagged(&code, payload)?;
        let request: Request = serde_json::from_slice(body).ok()?;
        (request.shop == shop).then_some((*tag, request))
    })
    .await?;
    let Some((tag, request)) = asked else {
        // Best effort: a till typing the code later is told at once; without this it waits.
        let _ = announce(js, &shop, &identity.till, &code, false).await;
        return Err(SyncError::Input(format!(
            "no till typed the code {} within {} minutes; nothing was changed. Run this again for a new code",
            code.display(),
            wait.as_secs() / 60
        )));
    };
    let new_key = PublicKey::from_hex(&request.key)
        .ok_or_else(|| SyncError::Input("the till that typed the code sent a key that is not one".into()))?;
    let member = blocking({
        let store = store.clone();
        let (device, till, legacy) = (request.device.clone(), request.till.clone(), request.legacy.clone());
        move || store.admit(device, till, new_key, legacy)
    })
    .await?;
    let reply = Reply {
        request: crate::wire::hex(&tag),
        root,
        by: identity.device.clone(),
        by_till: identity.till.clone(),
        by_key: key.public().to_hex(),
    };
    let body = serde_json::to_vec(&reply).map_err(|e| SyncError::Input(format!("encoding the answer: {e}")))?;
    let ack = js
        .send_publish(
            subject(&shop, &code, "reply"),
            jetstream::message::PublishMessage::build().payload(tagged(&code, &body).into()),
        )
        .await
        .map_err(hub_error)?;
    ack.await.map_err(hub_error)?;
    Ok(member)
}

/// On the new till: asks to be admitted with the code the owner typed, waits for the answer,
/// and pins the shop's first key. `legacy`: how far this till's unsigned events on the hub go.
pub(crate) async fn request(
    js: &Context,
    store: &WriteStore,
    identity: &Identity,
    key: &DeviceKey,
    code: &PairingCode,
    legacy: Option<LegacyTip>,
    wait: Duration,
) -> Result<(), SyncError> {
    let shop = identity.shop.clone();
    let showing = wait_for(js, &shop, &subject(&shop, code, "open"), FIND_WAIT, |payload| {
        let (_, body) = untagged(code, payload)?;
        let open: Open = serde_json::from_slice(body).ok()?;
        (open.shop == shop).then_some(open)
    })
    .await?;
    match showing {
        None => {
            return Err(SyncError::Input(format!(
                "no till of the shop '{shop}' shows the code {}: check it (ten letters and digits, as the other till shows them), and that `countertop devices add` (or Settings → Sync → Add a till) is still open there",
                code.display()
            )));
        }
        Some(open) if !open.open => {
            return Err(SyncError::Input(format!(
                "the code {} was shown by till {}, which has stopped waiting for it: ask that till for a new one",
                code.display(),
                open.till,
            )));
        }
        Some(_) => {}
    }
    let request = Request {
        shop: shop.clone(),
        device: identity.device.clone(),
        till: identity.till.clone(),
        key: key.public().to_hex(),
        legacy,
    };
    let body = serde_json::to_vec(&request).map_err(|e| SyncError::Input(format!("encoding the request: {e}")))?;
    let payload = tagged(code, &body);
    let tag = crate::wire::hex(&payload[..32]);
    let ack = js
        .send_publish(
            subject(&shop, code, "request"),
            jetstream::message::PublishMessage::build().payload(payload.into()),
        )
        .await
        .map_err(hub_error)?;
    ack.await.map_err(hub_error)?;
    let answered = wait_for(js, &shop, &subject(&shop, code, "reply"), wait, |payload| {
        let (_, body) = untagged(code, payload)?;
        let reply: Reply = serde_json::from_slice(body).ok()?;
        (reply.request == tag).then_some(reply)
    })
    .await?;
    let Some(reply) = answered else {
        return Err(SyncError::Input(format!(
            "no till of the shop answered the code within {} minutes. Check the code, keep `countertop devices add` (or Settings → Sync → Add a till) open on the other till while this one joins, and run join again",
            wait.as_secs() / 60
        )));
    };
    PublicKey::from_hex(&reply.root.key)
        .ok_or_else(|| SyncError::Input("the answer names a first key that is not a key".into()))?;
    blocking({
        let store = store.clone();
        let own = key.public();
        move || store.pin(reply.root, own)
    })
    .await?;
    Ok(())
}
