//! File dialogs, opened by the backend: the page asks for "an import" or "a backup", never
//! names a path, so a page that went wrong cannot read or write a file of its choosing (the
//! window has no dialog permission of its own).
//!
//! The end-to-end tests cannot click a native dialog: `COUNTERTOP_TEST_PICK=DIR`, set by their
//! launcher in the app's environment (never by the page), makes an open dialog pick the one
//! file in `DIR/open` and a save dialog answer `DIR/<suggested name>`. Only debug builds (what
//! the tests run) and release builds with the `test-dialogs` feature (what
//! `scripts/entry-timing.sh` times) read it: a release app always asks the person at the
//! keyboard.

use std::path::PathBuf;

use tauri::AppHandle;
use tauri_plugin_dialog::{DialogExt, FilePath};

use crate::error::{ApiError, ApiResult};

const TEST_PICK: &str = "COUNTERTOP_TEST_PICK";

/// The tests' answer folder, in debug builds (and with the `test-dialogs` feature) only.
fn test_pick() -> Option<PathBuf> {
    if cfg!(any(debug_assertions, feature = "test-dialogs")) {
        std::env::var_os(TEST_PICK).map(PathBuf::from)
    } else {
        None
    }
}

/// Asks for a CSV (or `.csv.gz`) export to import; `None` when the owner cancels.
pub fn open_csv(app: &AppHandle) -> ApiResult<Option<PathBuf>> {
    if let Some(dir) = test_pick() {
        let picked = std::fs::read_dir(dir.join("open")).ok().and_then(|mut entries| entries.next()?.ok());
        return Ok(picked.map(|entry| entry.path()));
    }
    let picked = app.dialog().file().add_filter("CSV", &["csv", "gz"]).blocking_pick_file();
    picked.map(path).transpose()
}

/// Asks where to save a file, suggesting `name`; `None` when the owner cancels.
pub fn save_as(app: &AppHandle, name: &str, extension: &str) -> ApiResult<Option<PathBuf>> {
    if let Some(dir) = test_pick() {
        return Ok(Some(dir.join(name)));
    }
    let picked =
        app.dialog().file().add_filter(extension.to_uppercase(), &[extension]).set_file_name(name).blocking_save_file();
    picked.map(path).transpose()
}

fn path(picked: FilePath) -> ApiResult<PathBuf> {
    picked
        .into_path()
        .map_err(|e| ApiError::new("invalid", format!("that is not a file on this computer ({e}); pick another")))
}
