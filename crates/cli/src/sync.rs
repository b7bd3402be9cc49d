//! `countertop join`, `sync status|once|run|pause|resume` and `devices`: this device and the shop's hub.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use countertop_core::{Member, PairingCode, WriteStore};
use countertop_sync::{Credentials, Hub, JoinOptions, PAIRING_WAIT, Report, SyncError, Syncer, config};

use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct JoinArgs {
    /// The hub: tls://HOST:4222 (nats://HOST:4222 for a hub on this machine); the servers of a
    /// cluster separated by commas.
    url: String,
    /// The shop's name on the hub (letters, digits, - and _).
    #[arg(long)]
    shop: String,
    /// Start a new, empty shop on the hub when there is none of that name (a data folder that
    /// already holds a shop starts it without asking).
    #[arg(long)]
    create: bool,
    /// The pairing code a till of the shop shows (`countertop devices add` there, or Settings →
    /// Sync → Add a till in the app): needed to join an existing shop.
    #[arg(long, value_name = "CODE")]
    code: Option<String>,
    /// The certificate (PEM) of the authority that signed the hub's TLS certificate, when the
    /// system does not know it; a copy readable only by you is kept in the data folder.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Connect to a hub on another machine unencrypted (nats://): orders, customers' details
    /// and the sign-in cross the network readable. `sync status` then says "not encrypted".
    #[arg(long)]
    insecure: bool,
    /// This device's id on the hub, for a hub whose admin gives each till a permission of its
    /// own (letters, digits, - and _, 1 to 32; used by no other device of the shop). Default:
    /// a new unique id.
    #[arg(long, value_name = "ID")]
    device_id: Option<String>,
    /// The shop's storage on the hub (e.g. 20GiB), set when the shop starts there; on an
    /// existing shop it can only be raised. Default: 10GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_hub_bytes: Option<u64>,
    #[command(flatten)]
    sign_in: SignIn,
}

/// A size in bytes: a number, optionally followed by KiB, MiB, GiB or TiB.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kib" => 10,
        "mib" => 20,
        "gib" => 30,
        "tib" => 40,
        _ => {
            return Err(format!(
                "'{text}' is not a size: write bytes, or a number with KiB, MiB, GiB or TiB (e.g. 20GiB)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{text}' is not a size: write a whole number above 0, e.g. 20GiB"))
}

/// How this device signs in to the hub (at most one way).
#[derive(Debug, Args)]
struct SignIn {
    #[arg(long, requires = "password", conflicts_with_all = ["token", "creds"])]
    user: Option<String>,
    /// The user's password (better given as $COUNTERTOP_HUB_PASSWORD).
    #[arg(long, env = "COUNTERTOP_HUB_PASSWORD", hide_env_values = true, requires = "user")]
    password: Option<String>,
    /// A token (better given as $COUNTERTOP_HUB_TOKEN).
    #[arg(long, env = "COUNTERTOP_HUB_TOKEN", hide_env_values = true, conflicts_with = "creds")]
    token: Option<String>,
    /// A NATS .creds file; a copy readable only by you is kept in the data folder.
    #[arg(long, value_name = "FILE")]
    creds: Option<PathBuf>,
}

impl SignIn {
    fn credentials(self) -> Credentials {
        match (self.user, self.password, self.token, self.creds) {
            (Some(user), Some(password), _, _) => Credentials::UserPassword { user, password },
            (_, _, Some(token), _) => Credentials::Token { token },
            (_, _, _, Some(path)) => Credentials::CredsFile { path },
            _ => Credentials::None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SyncCmd {
    /// This device, the hub, what waits to be sent, and the other devices seen.
    Status,
    /// Send what waits and fetch what the others recorded, once.
    Once,
    /// Keep sending and fetching until stopped (Ctrl-C); reconnects by itself.
    Run,
    /// Stop the app's syncing on this device until resumed (also after a restart); orders are
    /// taken either way and wait here. `once` and `run` still sync when asked.
    Pause,
    /// Let the app sync again.
    Resume,
    /// Every message from the hub this till did not take, and why (held ones included).
    Quarantine,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DevicesCmd {
    /// The shop's tills (the default): their keys' fingerprints, who admitted them, retired ones.
    List,
    /// Let a new till in: shows a pairing code to type on it (`countertop join … --code CODE`)
    /// and waits for it (up to 10 minutes).
    Add {
        /// Make this till's key the shop's first instead: once, on the till you keep, when a
        /// shop that synced before tills signed their changes is upgraded.
        #[arg(long)]
        first: bool,
    },
    /// Retire a lost, stolen or replaced till (by its code, e.g. B): its changes that reach the
    /// hub after this are refused by every till.
    Retire {
        /// The till's code (B) or device id.
        till: String,
        #[arg(long)]
        reason: String,
    },
}

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Failure {
        match e {
            SyncError::Store(e) => Failure::Core(e),
            SyncError::Offline { .. } => Failure::Offline(e.to_string()),
            SyncError::Hub(_) => Failure::Offline(e.to_string()),
            SyncError::Input(m) => Failure::Refused("sync", m),
            SyncError::Refused(m) => Failure::Refused("sync_refused", m),
            SyncError::NotJoined => Failure::Refused("not_joined", e.to_string()),
            SyncError::Bug(_) => Failure::Refused("sync_bug", e.to_string()),
        }
    }
}

fn progress(json: bool) -> impl FnMut(&Report) {
    let started = std::time::Instant::now();
    move |report: &Report| {
        if !json && started.elapsed() > Duration::from_secs(1) {
            eprint!("\rsent {} · received {} · {} more on the hub   ", report.sent, report.received, report.pending);
            let _ = std::io::stderr().flush();
        }
    }
}

fn print_report(json: bool, report: &Report) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
    } else {
        eprint!("\r");
        println!("Sent {} change(s), received {} from other devices.", report.sent, report.received);
        if report.held + report.quarantined + report.refused > 0 {
            println!(
                "Not taken: {} held, {} ignored, {} kept out of the books (`countertop sync status` says why).",
                report.held, report.quarantined, report.refused
            );
        }
    }
}

pub(crate) fn join(dir: &Path, json: bool, args: JoinArgs) -> Result<(), Failure> {
    let store = WriteStore::open(dir)?;
    let code = args.code.as_deref().map(PairingCode::parse).transpose().map_err(Failure::Usage)?;
    let mut hub = Hub::new(args.url, args.shop, args.sign_in.credentials());
    hub.ca = args.ca;
    hub.insecure = args.insecure;
    if code.is_some() && !json {
        eprintln!("Asking the till that shows the code to admit this one (keep it open until this finishes)…");
    }
    let options =
        JoinOptions { create: args.create, code, device_id: args.device_id, max_hub_bytes: args.max_hub_bytes };
    let (identity, report) = countertop_sync::join(&store, dir, hub, &options, &mut progress(json))?;
    if json {
        println!("{}", serde_json::json!({ "identity": identity, "report": report }));
    } else {
        eprint!("\r");
        println!(
            "This device is till {} of the shop '{}' on {}. Its orders are numbered with its code ({}-1001, {}-1002, …), apart from the other tills'.",
            identity.till, identity.shop, identity.hub, identity.till, identity.till
        );
        println!("Sent {} change(s), received {} from other devices.", report.sent, report.received);
    }
    Ok(())
}

fn hub(dir: &Path) -> Result<Hub, Failure> {
    config::load(dir)?.ok_or_else(|| Failure::from(SyncError::NotJoined))
}

pub(crate) fn sync(dir: &Path, json: bool, cmd: SyncCmd) -> Result<(), Failure> {
    let store = WriteStore::open(dir)?;
    match cmd {
        SyncCmd::Status => {
            let state = store.sync_state()?;
            let hub = config::load(dir)?;
            let paused = config::paused(dir)?;
            if json {
                let quarantine = store.quarantine()?;
                println!(
                    "{}",
                    serde_json::json!({
                        "state": state,
                        "hub": hub.as_ref().map(Hub::describe),
                        "encrypted": hub.as_ref().map(|h| !h.plain_over_network()),
                        "paused": paused,
                        "quarantine": quarantine,
                        "problems": quarantine.lines(),
                    })
                );
                return Ok(());
            }
            let (Some(identity), Some(hub)) = (&state.identity, hub) else {
                println!("This data folder has not joined a shop: it is a shop on one device.");
                println!("To sync with other tills: countertop join tls://HOST:4222 --shop NAME");
                return Ok(());
            };
            println!("This device: till {} ({}) of {}", identity.till, identity.device, hub.describe());
            if hub.plain_over_network() {
                println!(
                    "The connection to the hub is not encrypted (joined with --insecure): join again with a tls:// address to encrypt it."
                );
            }
            if paused {
                println!("Syncing is paused on this device: the app does not sync until `countertop sync resume`.");
            }
            println!(
                "Own changes: {} · sent and acknowledged: {} · waiting to be sent: {}",
                state.own_events, state.outbox.seq, state.waiting
            );
            devices(&state.devices, &store)?;
            let quarantine = store.quarantine()?;
            for line in quarantine.lines() {
                println!("{line}");
            }
        }
        SyncCmd::Quarantine => {
            let entries = store.quarantined()?;
            if json {
                println!("{}", serde_json::json!({ "quarantined": entries }));
                return Ok(());
            }
            if entries.is_empty() {
                println!("Every message from the hub was taken.");
            }
            for q in entries {
                let from = match (&q.till, &q.device) {
                    (Some(till), _) => format!("till {till}"),
                    (None, Some(device)) => format!("device '{device}'"),
                    (None, None) => "unknown".to_owned(),
                };
                let held = if q.problem.held() { " (held)" } else { "" };
                println!("hub message {} from {from}{held}: {}", q.hub_seq, q.detail);
            }
        }
        SyncCmd::Once => {
            let hub = hub(dir)?;
            let report = countertop_sync::sync_once(&store, &hub, &mut progress(json))?;
            print_report(json, &report);
        }
        SyncCmd::Run => {
            let hub = hub(dir)?;
            let syncer = Syncer::start(store.clone(), hub.clone())?;
            eprintln!("Syncing with {}; Ctrl-C stops (nothing is lost by stopping).", hub.describe());
            let mut last = None;
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let status = syncer.status();
                let waiting = store.sync_state()?.waiting;
                let line = match &status.problem {
                    Some(problem) => format!("offline, {waiting} change(s) waiting: {problem}"),
                    None if status.connected => {
                        format!("connected · sent {} · received {} · {waiting} waiting", status.sent, status.received)
                    }
                    None => "connecting…".to_owned(),
                };
                if last.as_ref() != Some(&line) {
                    if json {
                        println!("{}", serde_json::json!({ "status": status, "waiting": waiting }));
                    } else {
                        println!("{line}");
                    }
                    last = Some(line);
                }
            }
        }
        SyncCmd::Pause | SyncCmd::Resume => {
            hub(dir)?;
            let paused = matches!(cmd, SyncCmd::Pause);
            config::set_paused(dir, paused)?;
            if json {
                println!("{}", serde_json::json!({ "paused": paused }));
            } else if paused {
                println!(
                    "Syncing is paused on this device until `countertop sync resume` (or Resume in the app's Settings)."
                );
                println!("Orders are taken as always; they wait here to be sent.");
            } else {
                println!(
                    "Syncing resumes: the app sends and fetches while it is open (`countertop sync run` does the same here)."
                );
            }
        }
    }
    Ok(())
}

/// The other devices, with times in the shop's time zone (UTC before the shop is set up).
fn devices(devices: &[countertop_core::OriginTip], store: &WriteStore) -> Result<(), Failure> {
    if devices.is_empty() {
        println!("No other device's changes are here yet.");
        return Ok(());
    }
    let zone = store.shop()?.map_or(chrono_tz::UTC, |shop| shop.time_zone);
    let time = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z").to_string();
    println!("Other devices seen:");
    for d in devices {
        println!(
            "  till {:<3} {} changes, last recorded {}, received {}",
            d.till,
            d.seq,
            time(d.recorded_at),
            time(d.received_at)
        );
    }
    Ok(())
}

pub(crate) fn devices_cmd(dir: &Path, json: bool, action: Option<DevicesCmd>) -> Result<(), Failure> {
    match action.unwrap_or(DevicesCmd::List) {
        DevicesCmd::List => list_devices(dir, json),
        DevicesCmd::Add { first } => {
            let store = WriteStore::open(dir)?;
            let hub = hub(dir)?;
            let mut shown = |code: &PairingCode| {
                if json {
                    println!("{}", serde_json::json!({ "code": code.display() }));
                } else {
                    println!("Pairing code: {}", code.display());
                    println!(
                        "On the new till, run: countertop join {} --shop {} --code {} (or type it in the app's first-start screen). Waiting up to {} minutes…",
                        hub.url,
                        hub.shop,
                        code.display(),
                        PAIRING_WAIT.as_secs() / 60
                    );
                }
                let _ = std::io::stdout().flush();
            };
            let member = countertop_sync::add_device(&store, &hub, first, true, PAIRING_WAIT, &mut shown)?;
            if json {
                println!("{}", serde_json::json!({ "admitted": member }));
            } else if first {
                println!(
                    "Till {}'s key ({}) is now the shop's first. Add each other till: run `countertop devices add` here and type the code on it.",
                    member.till, member.fingerprint
                );
            } else {
                println!(
                    "Till {} is admitted (key {}); the other tills take its changes from now on.",
                    member.till, member.fingerprint
                );
            }
            Ok(())
        }
        DevicesCmd::Retire { till, reason } => {
            let store = WriteStore::open(dir)?;
            let member = store.retire(&till, &reason)?;
            if json {
                println!("{}", serde_json::json!({ "retired": member }));
            } else {
                println!(
                    "Till {} is retired here; every till refuses its changes that reach the hub after this retirement does (sync to send it: `countertop sync once`).",
                    member.till
                );
            }
            Ok(())
        }
    }
}

fn describe(member: &Member, zone: chrono_tz::Tz) -> String {
    let state = match &member.retired {
        Some(r) if r.hub_seq.is_none() => format!("retiring ({}): takes effect when the hub has it", r.reason),
        Some(r) => format!("retired {} ({})", r.at.with_timezone(&zone).format("%Y-%m-%d %H:%M"), r.reason),
        None => "admitted".to_owned(),
    };
    format!("till {:<3} key {}  {state}", member.till, member.fingerprint)
}

pub(crate) fn list_devices(dir: &Path, json: bool) -> Result<(), Failure> {
    let store = WriteStore::open(dir)?;
    let state = store.sync_state()?;
    let roster = store.roster()?;
    if json {
        println!("{}", serde_json::json!({ "this": state.identity, "others": state.devices, "roster": roster }));
        return Ok(());
    }
    match &state.identity {
        Some(identity) => println!("This device: till {} ({})", identity.till, identity.device),
        None => println!("This data folder has not joined a shop."),
    }
    if !roster.is_empty() {
        let zone = store.shop()?.map_or(chrono_tz::UTC, |shop| shop.time_zone);
        println!("The shop's tills:");
        for member in &roster {
            println!("  {}", describe(member, zone));
        }
    }
    devices(&state.devices, &store)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_as_bytes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("20GiB"), Ok(20 << 30));
        assert_eq!(parse_size("512 mib"), Ok(512 << 20));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        for bad in ["", "0", "GiB", "1.5GiB", "10GB", "-1", "99999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
