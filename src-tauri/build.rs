//! Declares the app's commands, so each needs an explicit `allow-*` permission in
//! `capabilities/` (least privilege: a command not granted there cannot be called).

const COMMANDS: &[&str] = &[
    "app_info",
    "setup_shop",
    "change_settings",
    "place_order",
    "preview_order",
    "order_action",
    "preview_order_action",
    "save_product",
    "save_customer",
    "products",
    "customers",
    "customer_page",
    "orders",
    "order_detail",
    "search",
    "dashboard",
    "cashup",
    "stock",
    "record_drawer",
    "stock_action",
    "receipt",
    "save_receipt",
    "export",
    "status",
    "dead_letters",
    "retry_dead_letters",
    "rebuild",
    "import_file",
    "save_rejected_lines",
    "load_demo",
    "backup",
    "sync_view",
    "sync_join",
    "sync_pause",
    "sync_add_till",
    "sync_retire",
    "conflicts",
    "resolve_conflicts",
];

fn main() {
    let attributes = tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
