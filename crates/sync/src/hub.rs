//! The hub as a transport: how a device connects to it, and the shop's stream on it.
//!
//! - **Connecting.** Only the servers named in [`Hub::url`] are used (servers the hub tells
//!   of are ignored: a cluster may advertise addresses on its own network). A `tls://` hub is
//!   reached over TLS only (`require_tls`), its certificate checked against the hub's CA file
//!   when one was given, else the system's authorities; [`Hub::check`] refuses a plain
//!   `nats://` to another machine unless the owner chose `--insecure`.
//! - **The stream** `countertop-SHOP` is made by the first device with limits
//!   ([`stream_config`]): the largest message ([`MAX_EVENT_BYTES`]), the stream's size
//!   ([`DEFAULT_MAX_HUB_BYTES`], `--max-hub-bytes`) with new messages refused rather than old
//!   ones dropped once it is full, messages that cannot be deleted nor the stream purged, and
//!   three replicas on a cluster. A device that joins an existing stream without those
//!   protections sets them ([`protect_stream`]) or refuses to join.
//! - **Device ids** are claimed on `countertop.SHOP.devices.ID` like till codes, so no two
//!   devices share one, also when the hub's admin names them (`--device-id`).

use std::time::Duration;

use async_nats::jetstream::{self, Context, stream};

use crate::{Credentials, Hub, SyncError, events_subject, hub_error, stream_name};

/// The largest message the shop's stream takes (`max_msg_size`), headers included.
///
/// The largest legitimate event is an order of [`countertop_core::MAX_LINES`] (10,000) lines:
/// of catalog-like lines (a shop's SKUs and product names) and a 2,000-character note, it is
/// 183 KiB compressed as the log stores it (`tests/limits.rs` measures it, and sends it through
/// a hub). 1 MiB leaves it more than five times that, and is NATS's own default `max_payload`,
/// which caps every message a stock `nats-server` takes anyway. (An order of 10,000 different
/// 200-character names of random letters is 1.68 MiB: no stock hub takes it, with or without
/// this limit, and it would wait on its till.)
pub const MAX_EVENT_BYTES: i32 = 1 << 20;

/// The shop's stream size on the hub when none is given (`--max-hub-bytes`): 10 GiB, some
/// ten million counter sales (a shop of 100 orders a day adds ~30 MB a year, SCALING.md).
pub const DEFAULT_MAX_HUB_BYTES: u64 = 10 << 30;

/// The most one pull request asks for, in bytes (besides its number of messages): four of the
/// largest messages, so one always fits (a message larger than a request's bytes is never
/// delivered to it), and a fetch holds at most this much in memory.
pub(crate) const FETCH_BYTES: usize = 4 << 20;

/// Copies of the stream a cluster keeps: the one number that survives a server lost (Raft
/// needs a majority of the copies).
pub(crate) const CLUSTER_REPLICAS: usize = 3;

/// How long the hub remembers a message id to drop a resend of it.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// What `countertop join` may say besides the hub: see [`crate::join_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinOptions {
    /// Start a new, empty shop on the hub when it has none of that name.
    pub create: bool,
    /// The pairing code a till of the shop shows: needed to join an existing shop (and, once,
    /// for a till that joined before tills signed their changes).
    pub code: Option<countertop_core::PairingCode>,
    /// This device's id on the hub (its events go to `countertop.SHOP.events.ID`), chosen by
    /// the hub's admin so that a permission can name it: letters, digits, `-` and `_`, 1 to 32 (an id, as the roster keeps it).
    /// `None`: a new ULID.
    pub device_id: Option<String>,
    /// The shop stream's size limit in bytes: set when the shop starts on the hub (default
    /// [`DEFAULT_MAX_HUB_BYTES`]); on an existing shop it can only be raised.
    pub max_hub_bytes: Option<u64>,
}

fn devices_subject(shop: &str, device: &str) -> String {
    format!("countertop.{shop}.devices.{device}")
}

/// Connects to the hub (after [`Hub::check`]): TLS as the addresses say, the CA file if any,
/// the servers given and no others.
pub(crate) async fn connect(hub: &Hub) -> Result<Context, SyncError> {
    hub.check()?;
    let mut options = async_nats::ConnectOptions::new()
        .name("countertop")
        .connection_timeout(Duration::from_secs(5))
        .ignore_discovered_servers()
        .require_tls(hub.encrypted());
    if let Some(ca) = &hub.ca {
        // async-nats would say "IO error" of a missing file, and the till would wait for a hub
        // that can never be reached.
        if !ca.is_file() {
            return Err(SyncError::Input(format!(
                "the hub's CA certificate {} is missing: join again with --ca FILE",
                ca.display()
            )));
        }
        options = options.add_root_certificates(ca.clone());
    }
    options = match &hub.credentials {
        Credentials::None => options,
        Credentials::UserPassword { user, password } => options.user_and_password(user.clone(), password.clone()),
        Credentials::Token { token } => options.token(token.clone()),
        Credentials::CredsFile { path } => options
            .credentials_file(path)
            .await
            .map_err(|e| SyncError::Input(format!("cannot use the credentials file {}: {e}", path.display())))?,
    };
    let client = options.connect(hub.servers().as_slice()).await.map_err(|e| {
        use async_nats::ConnectErrorKind as K;
        match e.kind() {
            K::Authentication | K::AuthorizationViolation => SyncError::Input(format!(
                "the hub at {} refused this device's sign-in ({}): check the {}",
                hub.url,
                e,
                hub.credentials.kind()
            )),
            // A certificate that does not check out is not a hub that is away: waiting will
            // not fix it.
            _ if e.kind() == K::Tls || tls_refused(&e) => SyncError::Input(format!(
                "the hub at {} could not be reached over TLS ({e}): check that it is a tls:// hub and, when its certificate is signed by an authority of your own, give that authority's certificate with --ca FILE",
                hub.url
            )),
            _ => SyncError::Offline { url: hub.url.clone(), detail: e.to_string() },
        }
    })?;
    Ok(jetstream::new(client))
}

/// Whether a connection failed on TLS itself (the hub's certificate, the handshake): the
/// handshake's errors reach async-nats as I/O errors around a `rustls::Error`.
fn tls_refused(e: &async_nats::ConnectError) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(error) = source {
        let inner = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if error.is::<async_nats::rustls::Error>() || inner.is_some_and(|i| i.is::<async_nats::rustls::Error>()) {
            return true;
        }
        source = error.source();
    }
    false
}

/// The shop's stream as Countertop makes it: see the module's doc.
pub(crate) fn stream_config(shop: &str, max_bytes: i64, replicas: usize) -> stream::Config {
    stream::Config {
        name: stream_name(shop),
        subjects: vec![format!("countertop.{shop}.>")],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        // Full: new events wait on their tills (they are sent once there is room); never
        // drop the oldest, which are the shop's history.
        discard: stream::DiscardPolicy::New,
        max_bytes,
        max_message_size: MAX_EVENT_BYTES,
        deny_delete: true,
        deny_purge: true,
        num_replicas: replicas,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

fn max_bytes(given: Option<u64>) -> Result<i64, SyncError> {
    let bytes = given.unwrap_or(DEFAULT_MAX_HUB_BYTES);
    match i64::try_from(bytes) {
        Ok(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(SyncError::Input(format!(
            "--max-hub-bytes {bytes} is not a size the hub takes: give 1 to {} bytes",
            i64::MAX
        ))),
    }
}

/// Starts the shop's stream on the hub, with [`CLUSTER_REPLICAS`] copies when the server says
/// it is part of a cluster (a single server refuses more than one).
pub(crate) async fn create_stream(js: &Context, hub: &Hub, options: &JoinOptions) -> Result<(), SyncError> {
    let clustered = js.client().server_info().cluster.is_some_and(|name| !name.is_empty());
    let replicas = if clustered { CLUSTER_REPLICAS } else { 1 };
    let config = stream_config(&hub.shop, max_bytes(options.max_hub_bytes)?, replicas);
    js.create_stream(config).await.map_err(|e| {
        if clustered && e.to_string().contains("insufficient resources") {
            SyncError::Hub(format!(
                "the hub at {} is a cluster, and a shop's stream on a cluster keeps {CLUSTER_REPLICAS} copies on {CLUSTER_REPLICAS} servers, but fewer are up with JetStream ({e}); start them and join again",
                hub.url
            ))
        } else {
            hub_error(e)
        }
    })?;
    Ok(())
}

/// Checks that the shop's existing stream has the protections [`stream_config`] gives a new
/// one, and sets those it lacks (`--max-hub-bytes` too, when it raises the limit).
///
/// Setting them rather than only refusing: a shop started on the hub by an earlier
/// Countertop would otherwise stay unprotected until someone edits the stream by hand, and
/// nats-server turns `deny_delete` and `deny_purge` on but never off again, so setting them
/// cannot be undone by a till. A hub whose permissions do not let this device change the
/// stream refuses, and then the join is refused with what the hub's admin should set.
/// The size limit is never lowered: lowering it below what the stream holds makes the hub
/// delete the oldest messages, whatever `deny_delete` says (seen with nats-server 2.9.10).
pub(crate) async fn protect_stream(js: &Context, hub: &Hub, options: &JoinOptions) -> Result<(), SyncError> {
    let name = stream_name(&hub.shop);
    let mut stream = js.get_stream(&name).await.map_err(|e| {
        SyncError::Hub(format!("the shop '{}' is not on {} ({e}); was the hub's storage lost?", hub.shop, hub.url))
    })?;
    let config = stream.info().await.map_err(hub_error)?.config.clone();
    let mut wanted = config.clone();
    let mut missing = Vec::new();
    if !config.deny_delete || !config.deny_purge {
        (wanted.deny_delete, wanted.deny_purge) = (true, true);
        missing.push("messages that cannot be deleted and a stream that cannot be purged".to_owned());
    }
    if config.max_message_size <= 0 || config.max_message_size < MAX_EVENT_BYTES {
        wanted.max_message_size = MAX_EVENT_BYTES;
        missing.push(format!("a message size limit of {MAX_EVENT_BYTES} bytes"));
    }
    if config.discard != stream::DiscardPolicy::New {
        wanted.discard = stream::DiscardPolicy::New;
        missing.push("new messages refused, not old ones dropped, when it is full".to_owned());
    }
    if let Some(given) = options.max_hub_bytes {
        let bytes = max_bytes(Some(given))?;
        let limit = (config.max_bytes > 0).then_some(config.max_bytes);
        match limit {
            Some(limit) if bytes > limit => {
                wanted.max_bytes = bytes;
                missing.push(format!("a size limit of {bytes} bytes"));
            }
            Some(limit) if bytes == limit => {}
            _ => {
                return Err(SyncError::Input(format!(
                    "the shop '{}' on {} has {}: a till can raise it, never lower it (the hub deletes the oldest orders of a stream over a lowered limit). Join without --max-hub-bytes, or give more",
                    hub.shop,
                    hub.url,
                    limit.map_or("no size limit".to_owned(), |l| format!("a size limit of {l} bytes")),
                )));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    js.update_stream(wanted).await.map_err(|e| {
        SyncError::Input(format!(
            "the shop's stream {name} on {} lacks {}; the hub refused this device the change ({e}). Ask the hub's admin to set it (nats stream edit {name} --deny-delete --deny-purge --max-msg-size {MAX_EVENT_BYTES} --discard new), then join again",
            hub.url,
            missing.join(", "),
        ))
    })?;
    Ok(())
}

/// Checks a device id given with `--device-id`: a NATS subject token the hub's admin can
/// write in a permission.
pub(crate) fn check_device_id(id: &str) -> Result<(), SyncError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || id.len() > 32 || !id.chars().all(ok) {
        return Err(SyncError::Input(format!(
            "'{id}' cannot be a device id: use 1 to 32 letters, digits, '-' or '_' (e.g. till-2)"
        )));
    }
    Ok(())
}

/// Refuses a device id another device already has on the hub: one that claimed it, or one
/// whose events are there (devices that joined before ids were claimed).
pub(crate) async fn check_device_unused(js: &Context, shop: &str, device: &str) -> Result<(), SyncError> {
    let stream = js.get_stream(stream_name(shop)).await.map_err(hub_error)?;
    for subject in [devices_subject(shop, device), events_subject(shop, device)] {
        match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(_) => return Err(used(shop, device)),
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(hub_error(e)),
        }
    }
    Ok(())
}

fn used(shop: &str, device: &str) -> SyncError {
    SyncError::Input(format!(
        "the device id '{device}' is already used by another device of the shop '{shop}': each till needs its own; give another --device-id (and its permission on the hub)"
    ))
}

/// Claims `device` for this device on the hub: a message on `countertop.SHOP.devices.ID`
/// published only if that subject has none yet, as till codes are claimed. (A join that fails
/// after this leaves the id taken: the till is then given another.)
pub(crate) async fn claim_device(js: &Context, shop: &str, device: &str, till: &str) -> Result<(), SyncError> {
    let publish =
        jetstream::message::PublishMessage::build().payload(till.to_owned().into()).expected_last_subject_sequence(0);
    let ack = js.send_publish(devices_subject(shop, device), publish).await.map_err(hub_error)?;
    match ack.await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => Err(used(shop, device)),
        Err(e) => Err(hub_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_subject_tokens() {
        for ok in ["till-2", "A", "back_office", &"x".repeat(32)] {
            assert!(check_device_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "till.2", "till 2", "till>", "*", "tïll", &"x".repeat(33)] {
            let e = check_device_id(bad).unwrap_err().to_string();
            assert!(e.contains("letters, digits"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_new_stream_is_protected_and_bounded() {
        let c = stream_config("corner", 10 << 30, 3);
        assert_eq!(
            (c.name.as_str(), c.subjects.as_slice()),
            ("countertop-corner", &["countertop.corner.>".to_owned()][..])
        );
        assert!(c.deny_delete && c.deny_purge);
        assert_eq!((c.max_message_size, c.max_bytes, c.num_replicas), (MAX_EVENT_BYTES, 10 << 30, 3));
        assert_eq!(c.discard, stream::DiscardPolicy::New);
        assert!(FETCH_BYTES >= 2 * usize::try_from(MAX_EVENT_BYTES).unwrap());
    }

    #[test]
    fn the_stream_size_is_a_size_the_hub_takes() {
        assert_eq!(max_bytes(None).unwrap(), 10 << 30);
        assert_eq!(max_bytes(Some(1)).unwrap(), 1);
        assert!(max_bytes(Some(0)).is_err());
        assert!(max_bytes(Some(u64::MAX)).unwrap_err().to_string().contains("--max-hub-bytes"));
    }
}
