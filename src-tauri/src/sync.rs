//! Several tills: joining a shop on a hub, the sync thread, adding and retiring tills, what
//! the hub brought that was not taken, and the conflicts to resolve.
//!
//! The sync thread (`countertop_sync::Syncer`) runs while the app is open and the folder has
//! joined a shop and sync is not paused. Order entry never waits for it: it is one more caller
//! of the write store, on its own thread. Adding a till (`sync_add_till`) shows a pairing code
//! and waits for the new till on a thread of its own, for up to ten minutes; `sync_view` says
//! how it went.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use countertop_core::{Command, Member, OrderView, OriginTip, Outcome, PairingCode, ResolveConflicts, Stamped};
use countertop_sync::{Credentials, Hub, JoinOptions, PAIRING_WAIT, SyncError, Syncer, config};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::commands::blocking;
use crate::error::{ApiError, ApiResult};
use crate::shell::{Opened, Shell};

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> ApiError {
        match e {
            SyncError::Store(e) => ApiError::from(e),
            e @ (SyncError::Offline { .. } | SyncError::Hub(_)) => ApiError::new("offline", e.to_string()),
            e @ SyncError::Input(_) => ApiError::new("invalid_input", e.to_string()),
            e @ SyncError::Refused(_) => ApiError::new("sync_refused", e.to_string()),
            e @ SyncError::NotJoined => ApiError::new("not_joined", e.to_string()),
            e @ SyncError::Bug(_) => ApiError::new("bug", e.to_string()),
        }
    }
}

/// The sync thread of an open shop, when it runs.
#[derive(Debug, Default)]
pub struct SyncSlot {
    syncer: Mutex<Option<Syncer>>,
    /// The till being added, while its code is shown, and how that ended.
    pairing: Arc<Mutex<Option<PairingView>>>,
}

/// A till being added: the code to type on it, and what came of it.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct PairingView {
    /// `K7QFM-2XP9T`: type it on the new till ("Or make this computer another till…").
    pub code: String,
    /// Until when the code is good.
    pub until: DateTime<Utc>,
    /// The till admitted with it, once it is.
    pub admitted: Option<String>,
    /// Why it did not work.
    pub error: Option<String>,
}

impl SyncSlot {
    /// Starts the sync thread when the folder has joined a shop and the owner has not paused
    /// syncing (a pause is kept in the data folder, so it outlives a restart).
    pub fn start(&self, opened: &Opened) -> ApiResult<()> {
        if config::paused(&opened.dir)? {
            return Ok(());
        }
        let Some(hub) = config::load(&opened.dir)? else { return Ok(()) };
        if opened.ct.write().identity()?.is_none() {
            return Ok(());
        }
        let mut slot = self.syncer.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(Syncer::start(opened.ct.write().clone(), hub)?);
        }
        Ok(())
    }

    fn stop(&self) {
        // Dropping it stops the thread (nothing is lost: what was not acknowledged is sent again).
        let syncer = self.syncer.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(syncer);
    }

    fn status(&self) -> Option<countertop_sync::Status> {
        self.syncer.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(Syncer::status)
    }

    fn running(&self) -> bool {
        self.syncer.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    fn pairing(&self) -> Option<PairingView> {
        self.pairing.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// This device and the shop's other tills, for the badge and Settings.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct SyncView {
    /// The folder has joined a shop on a hub.
    pub joined: bool,
    /// This device's till code (`B`): its orders are numbered `B-1001`, …
    pub till: Option<String>,
    pub shop: Option<String>,
    /// The hub and how this device signs in (never the secret).
    pub hub: Option<String>,
    pub paused: bool,
    /// The sync thread is connected to the hub now.
    pub connected: bool,
    /// Why the last attempt failed, while it does.
    pub problem: Option<String>,
    /// This device's changes the hub has not acknowledged yet.
    #[ts(type = "number")]
    pub waiting: u64,
    /// When everything was last sent and fetched.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The other devices whose changes are here.
    pub devices: Vec<OriginTip>,
    /// The shop's tills as this one knows them: their keys' fingerprints, retired ones.
    pub members: Vec<Member>,
    /// This till's key is in the shop's roster (else it must be paired).
    pub admitted: bool,
    /// What the hub brought that was not taken, in the owner's words ("1 message on the hub
    /// did not come from a till of this shop: ignored").
    pub problems: Vec<String>,
    /// The connection to the hub is encrypted (TLS), or the hub is on this machine.
    pub encrypted: bool,
    /// A till being added from here.
    pub pairing: Option<PairingView>,
    /// Orders with conflicts to resolve.
    pub conflicts: usize,
}

fn view(opened: &Opened) -> ApiResult<SyncView> {
    let state = opened.ct.write().sync_state()?;
    let hub = config::load(&opened.dir)?;
    let status = opened.sync.status();
    let conflicts = opened.ct.conflicts()?.value.len();
    let members = opened.ct.write().roster()?;
    let me = state.identity.as_ref().map(|i| i.device.clone());
    let admitted = members.iter().any(|m| Some(&m.device) == me.as_ref() && m.retired.is_none());
    Ok(SyncView {
        joined: state.identity.is_some() && hub.is_some(),
        till: state.identity.as_ref().map(|i| i.till.clone()),
        shop: state.identity.as_ref().map(|i| i.shop.clone()),
        hub: hub.as_ref().map(Hub::describe),
        paused: config::paused(&opened.dir)?,
        connected: status.as_ref().is_some_and(|s| s.connected),
        problem: status.as_ref().and_then(|s| s.problem.clone()),
        waiting: state.waiting,
        last_synced_at: status.and_then(|s| s.last_synced_at),
        devices: state.devices,
        members,
        admitted,
        problems: opened.ct.write().quarantine()?.lines(),
        encrypted: hub.as_ref().is_none_or(|h| !h.plain_over_network()),
        pairing: opened.sync.pairing(),
        conflicts,
    })
}

/// Joining a shop, as the form gives it.
#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct JoinForm {
    /// `nats://host:4222`.
    pub url: String,
    pub shop: String,
    /// Start a new shop on the hub when there is none of that name.
    pub create: bool,
    /// Sign in with a user and password, or a token; all empty: no sign-in.
    pub user: String,
    pub password: String,
    pub token: String,
    /// The pairing code a till of the shop shows (empty: none; a new shop needs none).
    pub code: String,
    /// The certificate file of the authority that signed the hub's (empty: the system's).
    pub ca: String,
    /// Connect to a hub on another machine unencrypted (`nats://`).
    pub insecure: bool,
}

impl JoinForm {
    fn hub(self) -> ApiResult<Hub> {
        let credentials = match (self.user.trim(), self.password.as_str(), self.token.trim()) {
            ("", "", "") => Credentials::None,
            (user, password, "") if !user.is_empty() && !password.is_empty() => {
                Credentials::UserPassword { user: user.to_owned(), password: password.to_owned() }
            }
            ("", "", token) => Credentials::Token { token: token.to_owned() },
            (_, _, token) if !token.is_empty() => {
                return Err(ApiError::input("give either a user and password or a token, not both"));
            }
            _ => return Err(ApiError::input("give both the user and the password, or leave both empty")),
        };
        let mut hub = Hub::new(self.url.trim(), self.shop.trim(), credentials);
        hub.ca = (!self.ca.trim().is_empty()).then(|| self.ca.trim().into());
        hub.insecure = self.insecure;
        Ok(hub)
    }
}

#[tauri::command]
pub async fn sync_view(shell: State<'_, Shell>) -> ApiResult<SyncView> {
    blocking(shell, |opened| view(&opened)).await
}

/// Joins a shop on a hub (or starts this shop there), fetches what it has, and starts syncing.
#[tauri::command]
pub async fn sync_join(shell: State<'_, Shell>, form: JoinForm) -> ApiResult<SyncView> {
    blocking(shell, move |opened| {
        let code = match form.code.trim() {
            "" => None,
            typed => Some(PairingCode::parse(typed).map_err(ApiError::input)?),
        };
        let options = JoinOptions { create: form.create, code, ..JoinOptions::default() };
        let hub = form.hub()?;
        opened.sync.stop();
        // The sync crate runs its own runtime; a blocking-pool thread is inside Tauri's, where
        // starting another panics. A plain thread is not.
        std::thread::scope(|scope| {
            scope.spawn(|| countertop_sync::join(opened.ct.write(), &opened.dir, hub, &options, &mut |_| {})).join()
        })
        .map_err(|_| ApiError::new("bug", "joining the shop stopped on a bug in Countertop; please report it"))??;
        opened.sync.start(&opened)?;
        view(&opened)
    })
    .await
}

/// Shows a pairing code for a new till and waits for it (on a thread of its own, up to
/// [`PAIRING_WAIT`]); `sync_view` says when it is admitted. With `first`, instead makes this
/// till's key the shop's first (once, on the till kept, for a shop that synced before tills
/// signed their changes).
#[tauri::command]
pub async fn sync_add_till(shell: State<'_, Shell>, first: bool) -> ApiResult<SyncView> {
    blocking(shell, move |opened| {
        let hub = config::load(&opened.dir)?.ok_or(SyncError::NotJoined)?;
        if first {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        countertop_sync::add_device(opened.ct.write(), &hub, true, false, PAIRING_WAIT, &mut |_| {})
                    })
                    .join()
            })
            .map_err(|_| {
                ApiError::new("bug", "making this till's key the first stopped on a bug; please report it")
            })??;
            return view(&opened);
        }
        let (shown, code) = std::sync::mpsc::channel();
        let slot = Arc::clone(&opened.sync.pairing);
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let store = opened.ct.write().clone();
        // With the sync thread running, it sends the admission at once; paused, it waits.
        let sync_after = !opened.sync.running() && !config::paused(&opened.dir)?;
        std::thread::Builder::new()
            .name("countertop-pairing".into())
            .spawn(move || {
                let outcome = countertop_sync::add_device(&store, &hub, false, sync_after, PAIRING_WAIT, &mut |code| {
                    let _ = shown.send(code.display());
                });
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let pairing = slot.get_or_insert_with(|| PairingView {
                    code: String::new(),
                    until: Utc::now(),
                    admitted: None,
                    error: None,
                });
                match outcome {
                    Ok(member) => pairing.admitted = Some(member.till),
                    Err(e) => pairing.error = Some(e.to_string()),
                }
            })
            .map_err(|e| ApiError::new("bug", format!("cannot start pairing: {e}")))?;
        if let Ok(code) = code.recv_timeout(std::time::Duration::from_secs(20)) {
            let until = Utc::now() + chrono::Duration::from_std(PAIRING_WAIT).unwrap_or_default();
            let mut slot = opened.sync.pairing.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(PairingView { code, until, admitted: None, error: None });
            }
        } else {
            // It stopped before showing a code (the hub cannot be reached, …): its error is
            // in the slot in a moment.
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        view(&opened)
    })
    .await
}

/// Retires a lost, stolen or replaced till: every till refuses its changes that reach the hub
/// after this retirement does.
#[tauri::command]
pub async fn sync_retire(shell: State<'_, Shell>, till: String, reason: String) -> ApiResult<SyncView> {
    blocking(shell, move |opened| {
        opened.ct.write().retire(&till, &reason)?;
        view(&opened)
    })
    .await
}

/// Pauses syncing (until resumed, also across restarts) or resumes it. Orders are taken
/// either way.
#[tauri::command]
pub async fn sync_pause(shell: State<'_, Shell>, paused: bool) -> ApiResult<SyncView> {
    blocking(shell, move |opened| {
        config::set_paused(&opened.dir, paused)?;
        if paused {
            opened.sync.stop();
        } else {
            opened.sync.start(&opened)?;
        }
        view(&opened)
    })
    .await
}

#[tauri::command]
pub async fn conflicts(shell: State<'_, Shell>) -> ApiResult<Stamped<Vec<OrderView>>> {
    blocking(shell, |opened| Ok(opened.ct.conflicts()?)).await
}

#[tauri::command]
pub async fn resolve_conflicts(
    shell: State<'_, Shell>,
    command_id: String,
    order: String,
    note: String,
) -> ApiResult<Outcome> {
    blocking(shell, move |opened| {
        crate::commands::execute(
            &opened,
            command_id,
            Command::ResolveConflicts(ResolveConflicts { order, note, at: None }),
        )
    })
    .await
}
