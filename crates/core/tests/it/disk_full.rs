//! A full disk: the data dir on a small tmpfs. Mounting needs root (and a sandbox that allows
//! it), so the test is `#[ignore]`d: a plain `cargo test` lists it as ignored, and
//! `scripts/test.sh` runs it with `--ignored` where a trial mount works.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use countertop_core::{Countertop, Error, Freshness, Request, WriteStore};

use super::{add_product, open_shop, place};

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Panics when it cannot: the test was asked for, so it must not pass without running.
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Process::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (this test needs root): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Process::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the file system with `filler` until a write fails; returns how much it wrote.
fn fill(filler: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(filler).unwrap();
    let chunk = vec![0u8; 64 << 10];
    let mut written = 0;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // The last partial chunk may have landed; what matters is that the disk is now full.
    let _ = file.sync_all();
    written
}

#[test]
#[ignore = "mounts a tmpfs, which needs root: scripts/test.sh runs it where it can"]
fn a_full_disk_refuses_orders_clearly_loses_nothing_and_recovers_when_space_is_freed() {
    let tmpfs = Tmpfs::mount("48m");
    let data: PathBuf = tmpfs.path().join("shop");
    let ct = Countertop::open(&data).unwrap();
    for command in [open_shop(), add_product("MUG", "Enamel mug", "8.00"), add_product("TEA", "Tea towel", "4.50")] {
        ct.execute(Request::new(command)).unwrap();
    }
    let mut acknowledged = Vec::new();
    for _ in 0..20 {
        acknowledged.push(ct.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap().position().unwrap());
    }
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(30), |_| {}));

    // Fill the disk, then keep selling until an order is refused.
    let filler = tmpfs.path().join("filler");
    assert!(fill(&filler) > 0);
    let mut refused = None;
    for _ in 0..2000 {
        let request = Request::new(place(None, &[("MUG", 1), ("TEA", 2)]));
        match ct.execute(request.clone()) {
            Ok(outcome) => acknowledged.push(outcome.position().unwrap()),
            Err(e) => {
                refused = Some((request, e));
                break;
            }
        }
    }
    let (request, err) = refused.expect("a full disk should refuse an order");
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    let message = err.to_string();
    // The write store's file, or its journal, whichever ran out of room first.
    assert!(message.contains("write.redb") || message.contains("write.journal"), "names the file: {message}");
    assert!(message.contains("No space left on device"), "says why: {message}");
    assert!(
        message.ends_with("the disk is full: free some space and try again (nothing was half-written)"),
        "{message}"
    );
    let head = ct.write().head().current();

    // Free the space: the same request now goes through, once.
    std::fs::remove_file(&filler).unwrap();
    let outcome = ct.execute(request.clone()).unwrap();
    assert!(!outcome.replayed, "the refused order was not recorded before");
    assert_eq!(outcome.position(), Some(head + 1), "nothing half-written between");
    assert!(ct.execute(request).unwrap().replayed, "and now it is, once");
    // The read side, which failed its own commits meanwhile, catches up without a restart.
    assert!(
        ct.wait_caught_up(Freshness::Search, Duration::from_secs(30), |_| {}),
        "the projector did not recover: {:?}",
        ct.status().unwrap()
    );
    assert!(ct.verify_read_models(|_| {}).unwrap().matches);
    drop(ct);

    // Everything acknowledged is there after reopening, and the read side agrees with the log.
    let store = WriteStore::open(&data).unwrap();
    assert_eq!(store.verify().unwrap().first_bad, None);
    for position in acknowledged {
        assert_eq!(store.events(position, 1).unwrap().len(), 1, "acknowledged event {position}");
    }
    drop(store);

    // The read side on a full disk: it has to be rebuilt (its files are gone) and cannot
    // write. The app opens and takes orders; the projector reports the failure and catches up
    // once space is freed, without a restart.
    std::fs::remove_file(data.join("read.redb")).unwrap();
    std::fs::remove_dir_all(data.join("search")).unwrap();
    let ct = Countertop::open(&data).unwrap();
    assert!(fill(&filler) > 0);
    // The projector meets the full disk at its next commit: soon, later on a loaded machine.
    let started = std::time::Instant::now();
    let mut failing = String::new();
    while started.elapsed() < Duration::from_secs(20) && !failing.contains("No space left on device") {
        std::thread::sleep(Duration::from_millis(50));
        failing = ct.status().unwrap().failing.unwrap_or_default();
    }
    assert!(failing.contains("No space left on device"), "the status says why it is behind: {failing:?}");
    std::fs::remove_file(&filler).unwrap();
    assert!(ct.wait_caught_up(Freshness::Search, Duration::from_secs(30), |_| {}), "{:?}", ct.status().unwrap());
    assert!(ct.verify_read_models(|_| {}).unwrap().matches);
}
