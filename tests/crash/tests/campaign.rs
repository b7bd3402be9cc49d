//! The crash campaign: start `crash-child` on one data dir, SIGKILL it at a random moment,
//! check the store, start it again — `COUNTERTOP_CRASH_KILLS` times (30 by default, what CI
//! runs; 500 with `COUNTERTOP_HEAVY=1`, the long campaign recorded in RELIABILITY.md).
//!
//! After every kill: the log's hash chain checks out; every acknowledged command is in the log
//! exactly once; a refused command left nothing; every order of an acknowledged import is there
//! exactly once; no order was placed twice. At the end (and every few kills):
//! the read models and the search index, once caught up, equal a fresh rebuild from the log
//! (`COUNTERTOP_CRASH_CHECK_EVERY`, 10 by default).
//!
//! The seed is printed; `COUNTERTOP_CRASH_SEED=N` replays a campaign's kill times and workload.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use countertop_core::{Countertop, Freshness, StreamId, WriteStore};

#[derive(Debug, Default)]
struct Acknowledged {
    commands: BTreeSet<String>,
    rejected: BTreeSet<String>,
    imported: BTreeSet<String>,
    rebuilds: u64,
    /// Kills that landed while a rebuild or an import was running.
    killed_rebuilding: u64,
    killed_importing: u64,
    /// Opens after a kill that recovered commits from the journal, and how many.
    journal_replays: u64,
    journal_records: u64,
}

#[test]
fn sigkill_at_random_moments_loses_and_doubles_nothing() {
    let default_kills = if std::env::var_os("COUNTERTOP_HEAVY").is_some() { 500 } else { 30 };
    let kills: u64 = std::env::var("COUNTERTOP_CRASH_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(default_kills);
    let seed: u64 = std::env::var("COUNTERTOP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..1_000_000));
    let check_every: u64 =
        std::env::var("COUNTERTOP_CRASH_CHECK_EVERY").ok().and_then(|k| k.parse().ok()).unwrap_or(10).max(1);
    println!("crash campaign: seed {seed}, {kills} kills (COUNTERTOP_CRASH_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    // Kept when the campaign fails, so the data can be looked at.
    let work = tempfile::tempdir().unwrap();
    let keep = KeepOnPanic(work.path().to_owned());
    let mut acked = Acknowledged::default();
    let started = Instant::now();
    for run in 0..kills {
        // Early kills land in opening and setup; later ones mostly mid-workload.
        let after = Duration::from_millis(rng.u64(20..=700));
        let lines = run_and_kill(work.path(), seed, run, after);
        for line in &lines {
            match line.split_once(' ') {
                Some(("ack", id)) => {
                    acked.commands.insert(id.to_owned());
                }
                Some(("rejected", id)) => {
                    acked.rejected.insert(id.to_owned());
                }
                Some(("imported", order)) => {
                    acked.imported.insert(order.to_owned());
                }
                None if line == "rebuilt" => acked.rebuilds += 1,
                None if line == "rebuilding" || line == "importing" => {}
                _ => panic!("seed {seed}, run {run}: the child said {line:?}"),
            }
        }
        let last = |what: &str| lines.iter().rposition(|l| l == what);
        if last("rebuilding") > last("rebuilt") {
            acked.killed_rebuilding += 1;
        }
        if last("importing").is_some() && last("importing") > lines.iter().rposition(|l| l.starts_with("imported ")) {
            acked.killed_importing += 1;
        }
        if run % 50 == 49 {
            println!(
                "  {} kills, {:.0?}: {} commands acknowledged so far",
                run + 1,
                started.elapsed(),
                acked.commands.len()
            );
        }
        let recovered =
            check_write_side(work.path(), &acked).unwrap_or_else(|e| panic!("seed {seed}, after kill {run}: {e}"));
        if recovered > 0 {
            acked.journal_replays += 1;
            acked.journal_records += recovered;
        }
        if run % check_every == check_every - 1 || run + 1 == kills {
            check_read_side(work.path()).unwrap_or_else(|e| panic!("seed {seed}, after kill {run}: {e}"));
        }
    }
    println!(
        "crash campaign: seed {seed}, {kills} kills in {:.0?}: {} commands acknowledged, {} refused, {} imported orders, {} rebuilds finished; killed during a rebuild {} times, during an import {} times; {} opens recovered {} commits from the journal; lost 0, doubled 0",
        started.elapsed(),
        acked.commands.len(),
        acked.rejected.len(),
        acked.imported.len(),
        acked.rebuilds,
        acked.killed_rebuilding,
        acked.killed_importing,
        acked.journal_replays,
        acked.journal_records
    );
    assert!(acked.commands.len() as u64 > kills, "the workload should have got going: {acked:?}");
    drop(keep);
}

struct KeepOnPanic(std::path::PathBuf);

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let kept = std::env::temp_dir().join(format!("countertop-crash-{}", std::process::id()));
            if std::fs::rename(&self.0, &kept).is_ok() {
                eprintln!("the campaign's data is kept in {}", kept.display());
            }
        }
    }
}

/// Runs the child for `after`, kills it with SIGKILL, returns every line it printed.
fn run_and_kill(work: &Path, seed: u64, run: u64, after: Duration) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
        .arg(work)
        .arg(seed.to_string())
        .arg(run.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    std::thread::sleep(after);
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    if !still_running {
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        panic!("run {run}: the child stopped on its own ({status}) before the kill: {stderr}");
    }
    lines
}

/// Checks the write side after a kill; returns how many commits the open recovered from the
/// journal.
fn check_write_side(work: &Path, acked: &Acknowledged) -> Result<u64, String> {
    let store = WriteStore::open(&work.join("data")).map_err(|e| e.to_string())?;
    let recovered = store.recovered_at_open();
    let verification = store.verify().map_err(|e| e.to_string())?;
    if let Some((position, why)) = verification.first_bad {
        return Err(format!("the log does not check out at {position}: {why}"));
    }
    // Per command: its events must be one contiguous run of positions (one transaction).
    let mut commands: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut placed: BTreeMap<String, u64> = BTreeMap::new();
    let mut from = 1;
    loop {
        let events = store.events(from, 10_000).map_err(|e| e.to_string())?;
        let Some(last) = events.last() else { break };
        from = last.position + 1;
        for envelope in &events {
            commands.entry(envelope.command_id.clone()).or_default().push(envelope.position);
            if envelope.event_type == "order.placed"
                && let StreamId::Order(order) = &envelope.stream
            {
                *placed.entry(order.clone()).or_default() += 1;
            }
        }
    }
    for (command, positions) in &commands {
        if positions.windows(2).any(|w| w[1] != w[0] + 1) {
            return Err(format!("command {command}'s events are not one run: {positions:?}"));
        }
    }
    for id in &acked.commands {
        if !commands.contains_key(id) {
            return Err(format!("acknowledged command {id} is not in the log"));
        }
    }
    for id in &acked.rejected {
        if let Some(positions) = commands.get(id) {
            return Err(format!("refused command {id} left events at {positions:?}"));
        }
    }
    for order in &acked.imported {
        if placed.get(order) != Some(&1) {
            return Err(format!("imported order {order} was placed {} times", placed.get(order).unwrap_or(&0)));
        }
    }
    if let Some((order, n)) = placed.iter().find(|(_, n)| **n > 1) {
        return Err(format!("order {order} was placed {n} times"));
    }
    Ok(recovered)
}

/// Opens the whole app, lets the projector catch up, and compares its tables and index with
/// a from-scratch rebuild of both.
fn check_read_side(work: &Path) -> Result<(), String> {
    let ct = Countertop::open(&work.join("data")).map_err(|e| e.to_string())?;
    let patience = Duration::from_secs(300);
    // Catching up takes a second or two; a wait far longer says what the projector says of
    // itself while it lasts (a run once sat with the projector retrying an error).
    let (started, mut told) = (Instant::now(), false);
    let caught_up = ct.wait_caught_up(Freshness::Search, patience, |_| {
        if !told && started.elapsed() > Duration::from_secs(30) {
            told = true;
            eprintln!("campaign: the read side is still catching up after 30 s: {:?}", ct.status());
        }
    });
    if !caught_up {
        // What the projector says of itself (failing, notes, a rebuild's progress) is what
        // tells a stall from slowness.
        return Err(format!("the read side did not catch up after a restart: {:?}", ct.status()));
    }
    let check = ct.verify_read_models(|_| {}).map_err(|e| e.to_string())?;
    if !check.matches {
        return Err(format!("read models differ from a replay of the log: {check:?}"));
    }
    let tables = ct.read_digest().map_err(|e| e.to_string())?;
    let search = ct.search_digest().map_err(|e| e.to_string())?;
    let documents = ct.search_documents().map_err(|e| e.to_string())?;
    ct.rebuild(patience, |_| {}).map_err(|e| e.to_string())?;
    if !ct.wait_caught_up(Freshness::Search, patience, |_| {}) {
        return Err(format!("the read side did not catch up after a rebuild: {:?}", ct.status()));
    }
    let rebuilt_tables = ct.read_digest().map_err(|e| e.to_string())?;
    let rebuilt_search = ct.search_digest().map_err(|e| e.to_string())?;
    if (tables.position, &tables.value) != (rebuilt_tables.position, &rebuilt_tables.value) {
        return Err(format!("tables {tables:?} differ from a rebuild {rebuilt_tables:?}"));
    }
    if (search.position, &search.value) != (rebuilt_search.position, &rebuilt_search.value) {
        let rebuilt = ct.search_documents().map_err(|e| e.to_string())?;
        let only_live: Vec<_> = multiset_minus(&documents, &rebuilt);
        let only_rebuilt: Vec<_> = multiset_minus(&rebuilt, &documents);
        return Err(format!(
            "search index {search:?} differs from a rebuild {rebuilt_search:?}: only before the rebuild {only_live:?}, only after it {only_rebuilt:?}"
        ));
    }
    Ok(())
}

/// The lines of sorted `a` not matched one for one in sorted `b`.
fn multiset_minus<'a>(a: &'a [String], b: &[String]) -> Vec<&'a String> {
    let mut b = b.iter().peekable();
    let mut out = Vec::new();
    for line in a {
        while b.next_if(|other| *other < line).is_some() {}
        if b.next_if(|other| *other == line).is_none() {
            out.push(line);
        }
    }
    out
}
