//! `--sizes DIR`: where a data folder's bytes go, table by table, from redb's own statistics
//! (stored bytes, B-tree metadata, fragmentation inside pages) and the file sizes around them.
//! Read-only: read transactions only (the app must not have the folder open).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableStats};

/// Prints the breakdown of every `.redb` file in `dir`, then the other files' sizes.
pub fn print(dir: &Path) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    println!("{:<28} {:>10} {:>12} {:>10} {:>10} {:>8}", "table", "rows", "stored MB", "meta MB", "frag MB", "B/row");
    for path in &entries {
        if path.extension().is_some_and(|e| e == "redb") {
            redb_file(path)?;
        }
    }
    println!();
    for path in &entries {
        let apparent = std::fs::metadata(path).map_or(0, |m| if m.is_dir() { 0 } else { m.len() });
        let on_disk = crate::dir_or_file_bytes(path) as f64 / 1e6;
        if apparent > 0 {
            println!("{:<40} {on_disk:>10.1} MB on disk ({:.1} MB long)", path.display(), apparent as f64 / 1e6);
        } else {
            println!("{:<40} {on_disk:>10.1} MB on disk", path.display());
        }
    }
    Ok(())
}

fn redb_file(path: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file_mb = std::fs::metadata(path).map_err(|e| fail(&e))?.len() as f64 / 1e6;
    let db = Database::open(path).map_err(|e| fail(&e))?;
    let txn = db.begin_read().map_err(|e| fail(&e))?;
    println!("{} ({file_mb:.1} MB)", path.display());
    let mut total = 0u64;
    for handle in txn.list_tables().map_err(|e| fail(&e))? {
        let table = txn.open_untyped_table(handle).map_err(|e| fail(&e))?;
        let stats = table.stats().map_err(|e| fail(&e))?;
        total += row(redb::TableHandle::name(&table), table.len().map_err(|e| fail(&e))?, &stats);
    }
    for handle in txn.list_multimap_tables().map_err(|e| fail(&e))? {
        let table = txn.open_untyped_multimap_table(handle).map_err(|e| fail(&e))?;
        let stats = table.stats().map_err(|e| fail(&e))?;
        total += row(redb::MultimapTableHandle::name(&table), table.len().map_err(|e| fail(&e))?, &stats);
    }
    println!(
        "  {:<26} {:>10} {:>12.1}   (the rest of the file is redb's free and system pages)",
        "all tables",
        "",
        total as f64 / 1e6
    );
    Ok(())
}

/// One table's line; returns the bytes its pages take.
fn row(name: &str, rows: u64, stats: &TableStats) -> u64 {
    let mb = |b: u64| b as f64 / 1e6;
    let used = stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes();
    println!(
        "  {name:<26} {rows:>10} {:>12.1} {:>10.1} {:>10.1} {:>8}",
        mb(stats.stored_bytes()),
        mb(stats.metadata_bytes()),
        mb(stats.fragmented_bytes()),
        stats.stored_bytes().checked_div(rows).unwrap_or(0)
    );
    used
}
