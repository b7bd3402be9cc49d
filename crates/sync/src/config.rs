//! Where a device's hub is and how it signs in: `sync.json` in the data folder, readable by
//! its owner only (`0600`), written whole and renamed into place. The credentials in it are
//! never printed: [`Hub`]'s `Debug` and [`Hub::describe`] leave them out. [`Hub::check`] holds
//! the rule that a hub on another machine is reached over TLS unless the owner said otherwise.
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

/// The copy of the hub's `.creds` file kept in the data folder (`0600`).
pub const CREDS_FILE: &str = "hub.creds";

/// The copy of the CA certificate the hub's TLS certificate is checked against (`0600`).
pub const CA_FILE: &str = "hub-ca.pem";

/// A hub and a shop on it.
///
/// In `sync.json` the address is a list (`urls`); a file written before hubs could be clusters
/// has one `url`, and is read as a list of one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "HubFile", try_from = "HubFile")]
pub struct Hub {
    /// The hub's address as NATS clients take a server list: one server (`tls://hub.example:4222`),
    /// or the servers of one cluster separated by commas. Only these are used: servers the hub
    /// tells of are ignored.
    pub url: String,
    /// The shop's name on the hub: letters, digits, `-` and `_`.
    pub shop: String,
    pub credentials: Credentials,
    /// A CA certificate (PEM) that the hub's TLS certificate is checked against instead of the
    /// system's authorities. After a join, the copy kept in the data folder ([`CA_FILE`]).
    pub ca: Option<PathBuf>,
    /// The owner chose a plain `nats://` connection to a hub on another machine
    /// (`--insecure`); [`Hub::describe`] says "not encrypted" while it is in force.
    pub insecure: bool,
}

/// `sync.json` as written.
#[derive(Serialize, Deserialize)]
struct HubFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    /// One address: files written before hubs could be clusters.
    #[serde(default, skip_serializing)]
    url: Option<String>,
    shop: String,
    #[serde(default)]
    credentials: Credentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    insecure: bool,
}

impl From<Hub> for HubFile {
    fn from(hub: Hub) -> HubFile {
        let urls = hub.servers().into_iter().map(str::to_owned).collect();
        HubFile { urls, url: None, shop: hub.shop, credentials: hub.credentials, ca: hub.ca, insecure: hub.insecure }
    }
}

impl TryFrom<HubFile> for Hub {
    type Error = String;

    fn try_from(file: HubFile) -> Result<Hub, String> {
        let url = match (file.urls.is_empty(), file.url) {
            (false, _) => file.urls.join(","),
            (true, Some(url)) => url,
            (true, None) => return Err("it names no hub address (`urls`)".to_owned()),
        };
        Ok(Hub { url, shop: file.shop, credentials: file.credentials, ca: file.ca, insecure: file.insecure })
    }
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
    /// A hub at `url` (one address or several, comma-separated), checked against the system's
    /// certificate authorities, with no `--insecure`.
    pub fn new(url: impl Into<String>, shop: impl Into<String>, credentials: Credentials) -> Hub {
        Hub { url: url.into(), shop: shop.into(), credentials, ca: None, insecure: false }
    }

    /// The servers of [`Hub::url`], in the order given.
    pub fn servers(&self) -> Vec<&str> {
        self.url.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
    }

    /// Whether the connection is encrypted: every server is `tls://`.
    pub fn encrypted(&self) -> bool {
        let servers = self.servers();
        !servers.is_empty() && servers.iter().all(|s| s.starts_with("tls://"))
    }

    /// Whether the shop's data would cross a network unencrypted: a plain server that is not
    /// this machine (allowed only with [`Hub::insecure`]).
    pub fn plain_over_network(&self) -> bool {
        self.servers().iter().any(|s| !s.starts_with("tls://") && !is_loopback(s))
    }

    /// "shop 'corner' on tls://host:4222 (token)": for messages; no secret in it. A plain
    /// connection over the network adds "not encrypted".
    pub fn describe(&self) -> String {
        let kind = self.credentials.kind();
        if self.plain_over_network() {
            format!("shop '{}' on {} ({kind}, not encrypted)", self.shop, self.url)
        } else {
            format!("shop '{}' on {} ({kind})", self.shop, self.url)
        }
    }

    /// Checks the shop name and the addresses; the message names what to fix.
    ///
    /// Private by default: a server that is not this machine (127.0.0.0/8, `::1`, `localhost`)
    /// must be `tls://`, unless the owner chose `--insecure`. The servers of one hub are all
    /// `tls://` or all `nats://`, and a CA file goes with `tls://` only.
    pub fn check(&self) -> Result<(), SyncError> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.shop.is_empty() || self.shop.len() > 40 || !self.shop.chars().all(ok) {
            return Err(SyncError::Input(format!(
                "'{}' cannot be a shop's name on the hub: use 1 to 40 letters, digits, '-' or '_' (e.g. corner-shop)",
                self.shop
            )));
        }
        let servers = self.servers();
        if servers.is_empty() {
            return Err(SyncError::Input(
                "no hub address was given: write it as tls://HOST:4222 (several servers of one cluster separated by commas)"
                    .to_owned(),
            ));
        }
        for server in &servers {
            let scheme = server.split_once("://").map(|(s, _)| s);
            let parsed = server.parse::<async_nats::ServerAddr>().is_ok_and(|a| !a.host().is_empty());
            if !matches!(scheme, Some("nats" | "tls")) || server.contains('@') || !parsed {
                return Err(SyncError::Input(format!(
                    "'{server}' is not a hub address: write it as tls://HOST:4222 (nats://HOST:4222 for a hub on this machine; credentials go in --user/--password, --token or --creds, not in the address)"
                )));
            }
        }
        let tls = servers.iter().filter(|s| s.starts_with("tls://")).count();
        if tls != 0 && tls != servers.len() {
            return Err(SyncError::Input(format!(
                "the hub's servers {} are partly tls:// and partly nats://: write them all as tls://",
                self.url
            )));
        }
        if let Some(ca) = &self.ca
            && tls == 0
        {
            return Err(SyncError::Input(format!(
                "--ca {} is the authority of a tls:// hub's certificate, but {} is nats:// (not encrypted): write the address as tls://",
                ca.display(),
                self.url
            )));
        }
        if let Some(server) = servers.iter().find(|s| !s.starts_with("tls://") && !is_loopback(s))
            && !self.insecure
        {
            let tls = format!("tls://{}", server.split_once("://").map_or(*server, |(_, rest)| rest));
            return Err(SyncError::Input(format!(
                "the hub at {server} is on another machine, and nats:// would carry the shop's orders, customers' details and the hub's sign-in over the network unencrypted: write it as {tls} (with --ca FILE when the hub's certificate is signed by an authority of your own), or add --insecure to connect unencrypted anyway"
            )));
        }
        Ok(())
    }
}

/// Whether a hub address is this machine: 127.0.0.0/8, `::1` or `localhost`. An address that
/// does not parse is not.
fn is_loopback(server: &str) -> bool {
    let Ok(addr) = server.parse::<async_nats::ServerAddr>() else { return false };
    let host = addr.host();
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    let json = serde_json::to_vec_pretty(hub).map_err(|e| SyncError::Input(format!("encoding {CONFIG_FILE}: {e}")))?;
    write_private(data_dir, CONFIG_FILE, &json)
}

/// Keeps what a join used, once the hub took this device: the credentials file and the CA
/// certificate are copied into the data folder ([`CREDS_FILE`], [`CA_FILE`]: the originals
/// may be on a USB stick), `hub` is pointed at the copies, and `sync.json` is written. Called
/// only after the hub accepted this device with them, so a join that fails leaves the folder's
/// earlier settings as they were.
pub fn keep(data_dir: &Path, hub: &mut Hub) -> Result<(), SyncError> {
    if let Credentials::CredsFile { path } = &hub.credentials {
        let kept = data_dir.join(CREDS_FILE);
        if *path != kept {
            copy_private(path, data_dir, CREDS_FILE, "credentials file")?;
        }
        hub.credentials = Credentials::CredsFile { path: kept };
    }
    if let Some(ca) = &hub.ca {
        let kept = data_dir.join(CA_FILE);
        if *ca != kept {
            copy_private(ca, data_dir, CA_FILE, "CA certificate")?;
        }
        hub.ca = Some(kept);
    }
    save(data_dir, hub)
}

fn copy_private(from: &Path, data_dir: &Path, name: &str, what: &str) -> Result<(), SyncError> {
    let bytes =
        std::fs::read(from).map_err(|e| SyncError::Input(format!("cannot read the {what} {}: {e}", from.display())))?;
    write_private(data_dir, name, &bytes)
}

/// Writes `name` in the data folder whole: a `0600` temporary file, fsynced, renamed into
/// place, then the folder synced.
fn write_private(data_dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SyncError> {
    let file = data_dir.join(name);
    let partial = data_dir.join(format!("{name}.partial"));
    let write = || -> std::io::Result<()> {
        // A leftover of an interrupted write would keep its own permissions.
        match std::fs::remove_file(&partial) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial)?;
        out.write_all(bytes)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(url: &str) -> Hub {
        Hub::new(url, "corner", Credentials::None)
    }

    fn refused(hub: &Hub) -> String {
        hub.check().unwrap_err().to_string()
    }

    #[test]
    fn a_hub_on_this_machine_may_be_plain() {
        for url in ["nats://127.0.0.1:4222", "nats://127.8.9.10:4222", "nats://[::1]:4222", "nats://localhost:4222"] {
            assert!(hub(url).check().is_ok(), "{url}");
            assert!(!hub(url).plain_over_network() && !hub(url).describe().contains("not encrypted"), "{url}");
        }
    }

    #[test]
    fn a_hub_on_another_machine_needs_tls_or_insecure() {
        let e = refused(&hub("nats://192.0.2.7:4222"));
        assert!(e.contains("write it as tls://192.0.2.7:4222") && e.contains("--insecure"), "{e}");
        assert!(refused(&hub("nats://hub.example:4222")).contains("tls://hub.example:4222"));
        // One plain server of a cluster is enough to refuse.
        let e = refused(&hub("nats://127.0.0.1:4222,nats://hub2.example:4222"));
        assert!(e.contains("nats://hub2.example:4222"), "{e}");

        let tls = hub("tls://hub.example:4222");
        assert!(tls.check().is_ok() && tls.encrypted() && !tls.describe().contains("not encrypted"));
        let mut insecure = hub("nats://hub.example:4222");
        insecure.insecure = true;
        assert!(insecure.check().is_ok());
        assert_eq!(insecure.describe(), "shop 'corner' on nats://hub.example:4222 (no sign-in, not encrypted)");
    }

    #[test]
    fn a_hubs_servers_are_all_tls_or_all_plain_and_a_ca_goes_with_tls() {
        let mixed = hub("tls://hub1.example:4222,nats://127.0.0.1:4222");
        assert!(refused(&mixed).contains("partly tls:// and partly nats://"));
        let mut plain_with_ca = hub("nats://127.0.0.1:4222");
        plain_with_ca.ca = Some("ca.pem".into());
        assert!(refused(&plain_with_ca).contains("--ca ca.pem"));
        let cluster = hub("tls://hub1.example:4222, tls://hub2.example:4222,tls://hub3.example:4222");
        assert!(cluster.check().is_ok());
        assert_eq!(
            cluster.servers(),
            ["tls://hub1.example:4222", "tls://hub2.example:4222", "tls://hub3.example:4222"]
        );
        for bad in ["", ",", "hub.example:4222", "ws://127.0.0.1:4222", "nats://user:pw@127.0.0.1:4222", "tls://"] {
            assert!(hub(bad).check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sync_json_keeps_the_servers_as_a_list_and_reads_one_url_of_old() {
        let mut cluster = hub("tls://hub1.example:4222,tls://hub2.example:4222");
        cluster.ca = Some("/shop/hub-ca.pem".into());
        let json = serde_json::to_value(&cluster).unwrap();
        assert_eq!(json["urls"], serde_json::json!(["tls://hub1.example:4222", "tls://hub2.example:4222"]));
        assert_eq!(json.get("url"), None);
        assert_eq!(json.get("insecure"), None, "false is left out");
        assert_eq!(serde_json::from_value::<Hub>(json).unwrap(), cluster);

        // As Countertop wrote it before clusters.
        let old =
            r#"{"url": "nats://127.0.0.1:4222", "shop": "corner", "credentials": {"kind": "token", "token": "t"}}"#;
        let read: Hub = serde_json::from_str(old).unwrap();
        assert_eq!(read, Hub::new("nats://127.0.0.1:4222", "corner", Credentials::Token { token: "t".into() }));
        assert!(
            serde_json::from_str::<Hub>(r#"{"shop": "corner"}"#).unwrap_err().to_string().contains("no hub address")
        );
    }

    #[test]
    fn what_a_join_used_is_kept_in_the_folder_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let (creds, ca) = (outside.path().join("till.creds"), outside.path().join("ca.pem"));
        std::fs::write(&creds, "-----BEGIN NATS USER JWT-----").unwrap();
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----").unwrap();
        let mut joined = Hub::new("tls://hub.example:4222", "corner", Credentials::CredsFile { path: creds });
        joined.ca = Some(ca);
        keep(dir.path(), &mut joined).unwrap();
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        for name in [CREDS_FILE, CA_FILE, CONFIG_FILE] {
            assert_eq!(mode(name), 0o600, "{name}");
        }
        assert_eq!(std::fs::read_to_string(dir.path().join(CA_FILE)).unwrap(), "-----BEGIN CERTIFICATE-----");
        assert_eq!(load(dir.path()).unwrap().unwrap(), joined);
        assert_eq!(joined.ca, Some(dir.path().join(CA_FILE)));
        assert_eq!(joined.credentials, Credentials::CredsFile { path: dir.path().join(CREDS_FILE) });
        // Joining again with the kept copies leaves them as they are.
        keep(dir.path(), &mut joined.clone()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary file left");
    }
}
