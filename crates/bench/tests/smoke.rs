//! The harness runs end to end on a tiny workload and its JSON parses. It asserts no timings:
//! these machines are shared and noisy, and speed is shown by the benchmark, not by tests.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::process::Command;

#[test]
fn the_harness_runs_every_system_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_countertop-bench"))
        .args(["--orders", "300", "--quick", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("metric"), "{table}");
    let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for system in ["countertop", "sqlite", "sqlite_summary"] {
        for key in
            ["import_orders_per_s", "entry_idle_p99_ms", "dash30_p99_ms", "search_p99_ms", "disk_mb", "peak_rss_mb"]
        {
            assert!(parsed[system][key].is_number(), "{system}.{key} missing: {parsed}");
        }
    }
    for key in [
        "rebuild_tables_events_per_s",
        "lag_tables_p99_ms",
        "entry_rebuild_p99_ms",
        "entry_import_p99_ms",
        "anon_after_import_mb",
    ] {
        assert!(parsed["countertop"][key].is_number(), "countertop.{key} missing: {parsed}");
    }
    for system in ["countertop", "sqlite_summary"] {
        assert!(parsed[system]["rebuild_tables_s"].is_number(), "{system}.rebuild_tables_s missing: {parsed}");
    }
    for key in ["fsync_p50_ms", "fsync_20_contiguous_p50_ms", "fsync_20_scattered_p99_ms"] {
        assert!(parsed["fsync"][key].is_number(), "fsync.{key} missing: {parsed}");
    }
    assert_eq!(parsed["orders"], 300);
}
