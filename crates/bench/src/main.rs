//! `countertop-bench`: Countertop, a single-model SQLite shop, and the same SQLite shop with
//! summary tables on the same workload, side by side in one run. Each system runs in its own
//! child process (so peak memory is its own); the parent prints one table — metric, the three
//! systems, Countertop's ratio to each baseline — and can write JSON.
//!
//! ```text
//! cargo run --release -p countertop-bench -- [--orders 100000] [--seed 7] [--json out.json]
//! ```

mod countertop;
mod sizes;
mod sqlite;
mod workload;

use workload::{Probe, Workload};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Metric name → value (milliseconds for `_ms`, counts or rates otherwise).
#[derive(Debug)]
pub struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    fn new() -> Metrics {
        Metrics(BTreeMap::new())
    }

    fn insert(&mut self, key: &str, value: f64) {
        self.0.insert(key.to_owned(), value);
    }

    /// Runs `f` `n` times (after a few warm-up runs) and records p50 and p99.
    pub fn samples(&mut self, key: &str, n: usize, mut f: impl FnMut()) {
        for _ in 0..3 {
            f();
        }
        let mut samples = Samples::default();
        for _ in 0..n {
            let t = Instant::now();
            f();
            samples.push(t.elapsed());
        }
        self.put_samples(key, &mut samples);
    }

    fn put_samples(&mut self, key: &str, samples: &mut Samples) {
        if let Some((p50, p99)) = samples.p50_p99() {
            self.insert(&format!("{key}_p50_ms"), p50);
            self.insert(&format!("{key}_p99_ms"), p99);
        }
    }
}

/// How many samples each measurement takes.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub queries: usize,
    pub entries: usize,
    pub lag: usize,
    pub search_lag: usize,
}

impl Plan {
    const FULL: Plan = Plan { queries: 200, entries: 300, lag: 300, search_lag: 30 };
    /// `--quick`: enough to prove the harness runs and its output parses (CI), not to measure.
    const QUICK: Plan = Plan { queries: 5, entries: 5, lag: 5, search_lag: 2 };
}

/// Latency samples.
#[derive(Debug, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Median and 99th percentile, in milliseconds.
    fn p50_p99(&mut self) -> Option<(f64, f64)> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let at = |q: f64| self.0[((self.0.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
        Some((at(0.50), at(0.99)))
    }
}

/// The highest `VmHWM` seen before [`rss_phase`] last reset it, in MB (as bits of an `f64`).
static EARLIER_PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Peak resident memory of this process (Linux `VmHWM`) over the whole run, in MB.
fn peak_rss_mb() -> f64 {
    let earlier = f64::from_bits(EARLIER_PEAK.load(std::sync::atomic::Ordering::Relaxed));
    proc_status_mb("VmHWM:").max(earlier)
}

/// Resident memory of this process after a phase, in MB, to show where the peak comes from:
/// all of it (`VmRSS`), the anonymous part (`RssAnon`: heap and caches, as opposed to pages of
/// mapped files such as the search index, which the OS can drop), and the peak during the phase
/// (`VmHWM`, which is then reset through `/proc/self/clear_refs` for the next phase).
fn rss_phase(m: &mut Metrics, phase: &str) {
    m.insert(&format!("rss_after_{phase}_mb"), proc_status_mb("VmRSS:"));
    m.insert(&format!("anon_after_{phase}_mb"), proc_status_mb("RssAnon:"));
    let peak = proc_status_mb("VmHWM:");
    m.insert(&format!("peak_in_{phase}_mb"), peak);
    let earlier = f64::from_bits(EARLIER_PEAK.load(std::sync::atomic::Ordering::Relaxed));
    EARLIER_PEAK.store(peak.max(earlier).to_bits(), std::sync::atomic::Ordering::Relaxed);
    // "5" resets the peak to the current size (proc(5)); without it, later phases show the max.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Bytes the block device holding `dir` has received so far, from every process on the machine
/// (`/sys/dev/block/MAJOR:MINOR/stat`, sectors written × 512); `None` where that is not known
/// (not Linux, or `dir` on a file system without a block device).
///
/// This, and not the process's own `write_bytes` ([`bytes_dirtied`]), is what an order costs the
/// disk: Linux 6.x page caches files in large folios (up to 2 MiB) and accounts a write to any
/// byte of one as the whole folio, while writeback sends only the blocks written. The fsync
/// probe shows it (`fsync_4k_device_kb_each` / `fsync_4k_dirtied_kb_each`): on this machine
/// (kernel 6.18, ext4), a 4 KiB `pwrite` + `fdatasync` at a random place in a 64 MiB file put
/// 4.2 KiB on the device and 1,024 KiB in `write_bytes`.
fn device_bytes_written(dir: &Path) -> Option<f64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir).ok()?.dev();
    // glibc's `major()`/`minor()` of a `dev_t`.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x00ff);
    let stat = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/stat")).ok()?;
    let sectors: f64 = stat.split_whitespace().nth(6)?.parse().ok()?;
    Some(sectors * 512.0)
}

/// Sends every file under `dir` to the device (what the OS would otherwise write back later),
/// so [`device_bytes_written`] counts what a phase wrote, not what happened to be flushed.
fn flush_dir(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            flush_dir(&path);
        } else if let Ok(file) = std::fs::File::open(&path) {
            let _ = file.sync_data();
        }
    }
}

/// What a phase cost the disk per order, in KB: `before` from [`device_bytes_written`], then
/// `dir` flushed and read again.
fn device_kb_each(m: &mut Metrics, dir: &Path, before: Option<f64>, orders: usize) {
    flush_dir(dir);
    if let (Some(before), Some(after)) = (before, device_bytes_written(dir)) {
        m.insert("entry_kb_written_each", (after - before) / 1024.0 / orders.max(1) as f64);
    }
}

/// Bytes this process has dirtied in the page cache so far (Linux `/proc/self/io`
/// `write_bytes`): inflated by large folios, see [`device_bytes_written`].
fn bytes_dirtied() -> f64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("write_bytes:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|b| b.parse::<f64>().ok()))
        .unwrap_or(0.0)
}

fn proc_status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1e3)
}

/// Bytes a directory tree takes on disk: the blocks its files have allocated, as `du` counts
/// them, not their apparent length. redb grows its file ahead of use (doubling it while it is
/// small) and leaves the part never written as a hole, which takes no space; SQLite's files
/// have no holes, so both are measured the same way.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| dir_or_file_bytes(&e.path())).sum()
}

/// Bytes a file, or a directory tree, takes on disk (see [`dir_bytes`]).
fn dir_or_file_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => dir_bytes(path),
        Ok(m) => m.blocks() * 512,
        Err(_) => 0,
    }
}

/// The disk's fsync floor: write 4 KiB and fsync, p50/p99, for context. Also what a commit
/// that rewrites 20 pages costs when they lie together (an append-only log, SQLite's WAL) and
/// when they are scattered through a 64 MiB file (a copy-on-write B-tree such as redb's): an
/// order's commit rewrites about 20 pages of `write.redb` (strace), so this is its floor.
fn fsync_floor(dir: &Path) -> Metrics {
    use std::os::unix::fs::FileExt;

    const FILE_PAGES: u64 = 16_384;
    const PAGE: usize = 4096;
    let mut m = Metrics::new();
    let path = dir.join("fsync.probe");
    if let Ok(mut file) = std::fs::File::create(&path) {
        let block = [7u8; PAGE];
        m.samples("fsync", 200, || {
            let _ = file.write_all(&block);
            let _ = file.sync_data();
        });
    }
    let _ = std::fs::remove_file(&path);
    let Ok(file) = std::fs::File::options().read(true).write(true).create_new(true).open(&path) else { return m };
    // Real blocks, not a sparse file: both probes overwrite allocated pages, like redb does.
    let chunk = vec![1u8; PAGE * 256];
    for at in (0..FILE_PAGES).step_by(256) {
        let _ = file.write_all_at(&chunk, at * PAGE as u64);
    }
    let _ = file.sync_all();
    let mut rng = workload::Rng::new(99);
    let twenty = vec![3u8; PAGE * 20];
    m.samples("fsync_20_contiguous", 200, || {
        let at = rng.below(FILE_PAGES - 20) * PAGE as u64;
        let _ = file.write_all_at(&twenty, at);
        let _ = file.write_all_at(&twenty[..320], 0);
        let _ = file.sync_data();
    });
    m.samples("fsync_20_scattered", 200, || {
        for _ in 0..20 {
            let _ = file.write_all_at(&twenty[..PAGE], rng.below(FILE_PAGES) * PAGE as u64);
        }
        let _ = file.write_all_at(&twenty[..320], 0);
        let _ = file.sync_data();
    });
    // What one 4 KiB write + fdatasync at a random place costs the device, and what the page
    // cache accounts for it (see `device_bytes_written`): the reason the bench measures bytes
    // per order at the device.
    const WRITES: u32 = 100;
    let (device, dirtied) = (device_bytes_written(dir), bytes_dirtied());
    for _ in 0..WRITES {
        let _ = file.write_all_at(&twenty[..PAGE], rng.below(FILE_PAGES) * PAGE as u64);
        let _ = file.sync_data();
    }
    if let (Some(before), Some(after)) = (device, device_bytes_written(dir)) {
        m.insert("fsync_4k_device_kb_each", (after - before) / 1024.0 / f64::from(WRITES));
    }
    m.insert("fsync_4k_dirtied_kb_each", (bytes_dirtied() - dirtied) / 1024.0 / f64::from(WRITES));
    drop(file);
    let _ = std::fs::remove_file(path);
    m
}

struct Args {
    orders: u64,
    seed: u64,
    json: Option<PathBuf>,
    system: Option<String>,
    dir: Option<PathBuf>,
    quick: bool,
    online_retail: Option<PathBuf>,
    sizes: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        orders: 100_000,
        seed: 7,
        json: None,
        system: None,
        dir: None,
        quick: false,
        online_retail: None,
        sizes: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--orders" => args.orders = value()?.parse().map_err(|_| "--orders takes a whole number, e.g. 100000")?,
            "--seed" => args.seed = value()?.parse().map_err(|_| "--seed takes a whole number")?,
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "--system" => args.system = Some(value()?),
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            "--quick" => args.quick = true,
            "--online-retail" => args.online_retail = Some(PathBuf::from(value()?)),
            "--sizes" => args.sizes = Some(PathBuf::from(value()?)),
            "--help" | "-h" => {
                return Err(
                    "usage: countertop-bench [--orders N (100000)] [--seed S (7)] [--online-retail FILE.csv.gz] [--json FILE] [--quick]\n       countertop-bench --sizes DATA_DIR   (where a data folder's bytes go, table by table)".into()
                );
            }
            other => return Err(format!("unknown argument '{other}'; see --help")),
        }
    }
    if args.orders == 0 {
        return Err("--orders must be at least 1".into());
    }
    Ok(args)
}

/// One system in this process: prints its metrics as JSON on stdout.
fn child(system: &str, dir: &Path, workload: &Workload, plan: Plan) -> Result<(), String> {
    let probe = match workload {
        Workload::Synthetic { orders, seed } => Probe::synthetic(*orders, *seed),
        Workload::OnlineRetail(path) => Probe::online_retail(path)?,
    };
    let metrics = match system {
        "countertop" => countertop::run(dir, workload, &probe, plan).map_err(|e| e.to_string())?,
        "sqlite" => sqlite::run(dir, workload, &probe, plan, sqlite::Model::Single).map_err(|e| e.to_string())?,
        "sqlite-summary" => {
            sqlite::run(dir, workload, &probe, plan, sqlite::Model::Summary).map_err(|e| e.to_string())?
        }
        "fsync" => fsync_floor(dir),
        other => return Err(format!("unknown system '{other}'")),
    };
    println!("{}", serde_json::to_string(&metrics.0).map_err(|e| e.to_string())?);
    Ok(())
}

fn run_child(system: &str, args: &Args) -> Result<BTreeMap<String, f64>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    if args.quick {
        command.arg("--quick");
    }
    match &args.online_retail {
        Some(path) => {
            eprintln!("running {system} on {}…", path.display());
            command.arg("--online-retail").arg(path);
        }
        None => eprintln!("running {system} with {} orders…", args.orders),
    }
    let out = command
        .args(["--system", system, "--orders", &args.orders.to_string(), "--seed", &args.seed.to_string()])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{system} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{system} printed no metrics: {e}"))
}

fn main() -> ExitCode {
    countertop_core::tune_allocator();
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.sizes {
        return match sizes::print(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let (Some(system), Some(dir)) = (&args.system, &args.dir) {
        let plan = if args.quick { Plan::QUICK } else { Plan::FULL };
        let workload = match &args.online_retail {
            Some(path) => Workload::OnlineRetail(path.clone()),
            None => Workload::Synthetic { orders: args.orders, seed: args.seed },
        };
        return match child(system, dir, &workload, plan) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let run = || -> Result<serde_json::Value, String> {
        let fsync = run_child("fsync", &args)?;
        let ours = run_child("countertop", &args)?;
        let base = run_child("sqlite", &args)?;
        let summary = run_child("sqlite-summary", &args)?;
        let mut keys: Vec<&String> = ours.keys().chain(base.keys()).chain(summary.keys()).collect();
        keys.sort();
        keys.dedup();
        println!(
            "{:<32} {:>14} {:>14} {:>14} {:>10} {:>10}",
            "metric", "countertop", "sqlite", "sqlite+sum", "ratio c/s", "c/sum"
        );
        for key in &keys {
            let (c, s, t) = (ours.get(*key), base.get(*key), summary.get(*key));
            let show = |v: Option<&f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
            let ratio = |c: Option<&f64>, s: Option<&f64>| match (c, s) {
                (Some(c), Some(s)) if *s != 0.0 => format!("{:.3}", c / s),
                _ => "-".into(),
            };
            println!(
                "{key:<32} {:>14} {:>14} {:>14} {:>10} {:>10}",
                show(c),
                show(s),
                show(t),
                ratio(c, s),
                ratio(c, t)
            );
        }
        for (key, v) in &fsync {
            println!("{key:<32} {v:>14.3}   (this disk: raw writes + fsync)");
        }
        Ok(serde_json::json!({
            "orders": args.orders,
            "seed": args.seed,
            "countertop": ours,
            "sqlite": base,
            "sqlite_summary": summary,
            "fsync": fsync,
        }))
    };
    match run() {
        Ok(json) => {
            if let Some(path) = &args.json
                && let Err(e) = std::fs::write(path, json.to_string())
            {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
