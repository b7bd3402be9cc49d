//! The hub as a transport: how a device connects to it.
//!
//! Only the servers named in [`Hub::url`] are used (servers the hub tells of are ignored: a
//! cluster may advertise addresses on its own network). A `tls://` hub is reached over TLS
//! only (`require_tls`), its certificate checked against the hub's CA file when one was given,
//! else the system's authorities; [`Hub::check`] refuses a plain `nats://` to another machine
//! unless the owner chose `--insecure`.

use std::time::Duration;

use async_nats::jetstream::{self, Context};

use crate::{Credentials, Hub, SyncError};

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
