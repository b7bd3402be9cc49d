//! Several tills: joining a shop on a hub, the sync thread, and the conflicts to resolve.
//!
//! The sync thread (`countertop_sync::Syncer`) runs while the app is open and the folder has
//! joined a shop and sync is not paused. Order entry never waits for it: it is one more caller
//! of the write store, on its own thread.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use countertop_core::{Command, OrderView, OriginTip, Outcome, ResolveConflicts, Stamped};
use countertop_sync::{Credentials, Hub, SyncError, Syncer, config};
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
        }
    }
}

/// The sync thread of an open shop, when it runs.
#[derive(Debug, Default)]
pub struct SyncSlot {
    syncer: Mutex<Option<Syncer>>,
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
    /// Orders with conflicts to resolve.
    pub conflicts: usize,
}

fn view(opened: &Opened) -> ApiResult<SyncView> {
    let state = opened.ct.write().sync_state()?;
    let hub = config::load(&opened.dir)?;
    let status = opened.sync.status();
    let conflicts = opened.ct.conflicts()?.value.len();
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
        Ok(Hub::new(self.url.trim(), self.shop.trim(), credentials))
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
        let create = form.create;
        let hub = form.hub()?;
        opened.sync.stop();
        // The sync crate runs its own runtime; a blocking-pool thread is inside Tauri's, where
        // starting another panics. A plain thread is not.
        std::thread::scope(|scope| {
            scope.spawn(|| countertop_sync::join(opened.ct.write(), &opened.dir, hub, create, &mut |_| {})).join()
        })
        .map_err(|_| ApiError::new("bug", "joining the shop stopped on a bug in Countertop; please report it"))??;
        opened.sync.start(&opened)?;
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
