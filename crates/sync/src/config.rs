//! Where a device's hub is and how it signs in: `sync.json` in the data folder, readable by
//! its owner only (`0600`), written whole and renamed into place. The credentials in it are
//! never printed: [`Hub`]'s `Debug` and [`Hub::describe`] leave them out.
//!
//! A device paused by its owner has `sync.paused` beside it, so the pause outlives a restart
//! (paused on a metered connection, it does not start sending when the app is opened again).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SyncError;

/// The file in the data folder.
pub const CONFIG_FILE: &str = "sync.json";

/// The marker that the owner paused syncing on this device.
pub const PAUSED_FILE: &str = "sync.paused";

/// A hub and a shop on it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hub {
    /// `nats://host:4222` (or `tls://…`).
    pub url: String,
    /// The shop's name on the hub: letters, digits, `-` and `_`.
    pub shop: String,
    #[serde(default)]
    pub credentials: Credentials,
}

/// How the device signs in to the hub.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    #[default]
    None,
    UserPassword {
        user: String,
        password: String,
    },
    Token {
        token: String,
    },
    /// A NATS `.creds` file (a JWT and its nkey seed).
    CredsFile {
        path: PathBuf,
    },
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Credentials {
    /// What kind of sign-in, never the secret itself.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::None => "no sign-in",
            Credentials::UserPassword { .. } => "user and password",
            Credentials::Token { .. } => "token",
            Credentials::CredsFile { .. } => "credentials file",
        }
    }
}

impl Hub {
    /// "shop 'corner' on nats://host:4222 (token)": for messages; no secret in it.
    pub fn describe(&self) -> String {
        format!("shop '{}' on {} ({})", self.shop, self.url, self.credentials.kind())
    }

    /// Checks the shop name and the address; the message names what to fix.
    pub fn check(&self) -> Result<(), SyncError> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.shop.is_empty() || self.shop.len() > 40 || !self.shop.chars().all(ok) {
            return Err(SyncError::Input(format!(
                "'{}' cannot be a shop's name on the hub: use 1 to 40 letters, digits, '-' or '_' (e.g. corner-shop)",
                self.shop
            )));
        }
        let scheme = self.url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("nats" | "tls")) || self.url.contains('@') {
            return Err(SyncError::Input(format!(
                "'{}' is not a hub address: write it as nats://HOST:4222 (credentials go in --user/--password, --token or --creds, not in the address)",
                self.url
            )));
        }
        Ok(())
    }
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(CONFIG_FILE)
}

/// The hub this data folder syncs with, if it has joined one.
pub fn load(data_dir: &Path) -> Result<Option<Hub>, SyncError> {
    let file = path(data_dir);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SyncError::Input(format!("cannot read {}: {e}", file.display()))),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        SyncError::Input(format!(
            "{} is not readable ({e}); join the hub again to write it anew (`countertop join`)",
            file.display()
        ))
    })
}

/// Writes the hub's settings, owner-only, whole (a temporary file renamed into place).
pub fn save(data_dir: &Path, hub: &Hub) -> Result<(), SyncError> {
    let file = path(data_dir);
    let partial = data_dir.join(format!("{CONFIG_FILE}.partial"));
    let json = serde_json::to_vec_pretty(hub).map_err(|e| SyncError::Input(format!("encoding {CONFIG_FILE}: {e}")))?;
    let write = || -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial)?;
        out.write_all(&json)?;
        out.sync_all()?;
        std::fs::rename(&partial, &file)?;
        // The rename is durable once the folder is; a folder that cannot be synced (some
        // network file systems) still has the file.
        let _ = sync_dir(data_dir);
        Ok(())
    };
    write().map_err(|e| SyncError::Input(format!("cannot write {}: {e}", file.display())))
}

/// Whether the owner paused syncing on this device (until resumed, across restarts).
pub fn paused(data_dir: &Path) -> Result<bool, SyncError> {
    let file = data_dir.join(PAUSED_FILE);
    file.try_exists().map_err(|e| SyncError::Input(format!("cannot read {}: {e}", file.display())))
}

/// Pauses syncing on this device, or resumes it; orders are taken either way.
pub fn set_paused(data_dir: &Path, paused: bool) -> Result<(), SyncError> {
    let file = data_dir.join(PAUSED_FILE);
    let done = if paused {
        std::fs::write(
            &file,
            b"Syncing with the hub is paused on this device; resume it in Settings or with `countertop sync resume`.\n",
        )
        .and_then(|()| sync_dir(data_dir))
    } else {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            done => done.and_then(|()| sync_dir(data_dir)),
        }
    };
    done.map_err(|e| SyncError::Input(format!("cannot write {}: {e}", file.display())))
}

fn sync_dir(data_dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(data_dir)?.sync_all()
}
