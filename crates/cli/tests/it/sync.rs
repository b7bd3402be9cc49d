//! Several tills through a real hub: `nats-server` from Debian's package (scripts/setup.sh
//! installs it), started by each test on 127.0.0.1 with a free port and its own store folder
//! ([`LocalHub`]), and every device a separate `countertop` process. In the campaign one till's
//! clock runs five hours ahead (libfaketime, Debian's `faketime`, from scripts/setup.sh --test).
//!
//! The campaign's length: `COUNTERTOP_SYNC_ROUNDS`; by default 12 rounds (CI), 200 with
//! `COUNTERTOP_HEAVY=1`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use countertop_sync::LocalHub;
use serde_json::Value;

use super::{countertop, init_uk, json, ok};

/// What must be the same on every device once they have all synced: the dashboard of all
/// time and every order as the order list shows it (positions left out: each device has its
/// own log order).
fn picture(d: &Path) -> (Value, Vec<Value>) {
    let mut dashboard = json(d, &["dashboard", "--range", "all"]);
    let dashboard = dashboard["value"].take();
    let mut orders = json(d, &["orders", "list", "--limit", "1000"])["value"]["items"].as_array().cloned().unwrap();
    orders.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    for order in &mut orders {
        // Where the order is in this device's own log, and how many of its events came before
        // (another till's events carry that till's count).
        order.as_object_mut().unwrap().remove("position");
        order.as_object_mut().unwrap().remove("version");
    }
    (dashboard, orders)
}

/// The number of events and the shared read-model digest (the same on every device that
/// holds the same events, whatever order they arrived in).
fn verify_ok(d: &Path) -> (u64, String) {
    let v = json(d, &["verify"]);
    assert_eq!(v["log"]["first_bad"], Value::Null, "{v}");
    assert_eq!(v["read_models"]["matches"], true, "{v}");
    (v["log"]["events"].as_u64().unwrap(), v["read_models"]["shared"].as_str().unwrap().to_owned())
}

/// What an owner does to add a till: `devices add` on a till of the shop (`add`) shows a code
/// and waits; `join … --code CODE` on the new one (`join`, without the code yet) types it.
/// Returns what the join printed.
fn pair(mut add: Command, mut join: Command) -> String {
    use std::io::{BufRead, Read};
    let mut adding = add.arg("--json").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut shown = String::new();
    let mut out = std::io::BufReader::new(adding.stdout.take().unwrap());
    out.read_line(&mut shown).unwrap();
    let code: Value = serde_json::from_str(&shown).unwrap_or_else(|e| panic!("{e}: {shown:?}"));
    let code = code["code"].as_str().unwrap();
    let joined = join.args(["--code", code]).output().unwrap();
    out.read_to_string(&mut shown).unwrap();
    let added = adding.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(joined.status.success(), "join: {}{}", text(&joined.stdout), text(&joined.stderr));
    assert!(added.status.success(), "devices add: {}", text(&added.stderr));
    text(&joined.stdout)
}

fn cli(d: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countertop"));
    command.arg("--data").arg(d).args(args).env_remove("COUNTERTOP_DATA");
    command
}

/// Joins the empty folder `new` to the shop `by` is a till of, with a pairing code.
fn pair_folders(by: &Path, new: &Path, url: &str) -> String {
    pair(cli(by, &["devices", "add"]), cli(new, &["join", url, "--shop", "corner"]))
}

fn place(d: &Path, sku: &str, qty: u32) -> String {
    let placed = json(d, &["order", "place", "--line", &format!("{sku}:{qty}")]);
    placed["entity"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn two_tills_apart_take_orders_and_both_see_all_of_them_after_reconnecting() {
    let mut hub = LocalHub::start().unwrap();
    let a_dir = super::shop();
    let (a, b_dir) = (a_dir.path(), tempfile::tempdir().unwrap());
    let b = b_dir.path();
    let url = hub.url();
    let joined = ok(a, &["join", &url, "--shop", "corner"]);
    assert!(joined.contains("till A of the shop 'corner'"), "{joined}");
    let typo = countertop(b, &["join", &url, "--shop", "cornr"]);
    assert_eq!(typo.status, 1);
    assert!(typo.stderr.contains("there is no shop 'cornr'"), "{}", typo.stderr);
    let uninvited = countertop(b, &["join", &url, "--shop", "corner"]);
    assert_eq!(uninvited.status, 1, "{}", uninvited.stderr);
    assert!(uninvited.stderr.contains("a new till joins it with a pairing code"), "{}", uninvited.stderr);
    let joined = pair_folders(a, b, &url);
    assert!(joined.contains("till B"), "{joined}");

    // One order both tills know of.
    assert_eq!(place(a, "MUG", 1), "A-1001");
    for d in [a, b] {
        ok(d, &["sync", "once"]);
    }

    // The hub goes away; both tills go on taking orders, and both refund A-1001 (8.00 paid).
    hub.stop();
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(place(a, "MUG", 1));
    }
    for _ in 0..2 {
        placed.push(place(b, "TEA", 2));
    }
    assert_eq!(placed[0], "A-1002");
    assert_eq!(placed[3], "B-1001");
    for d in [a, b] {
        ok(d, &["order", "refund", "A-1001", "--amount", "6.00", "--reason", "chipped"]);
    }
    let offline = countertop(a, &["sync", "once"]);
    assert_eq!(offline.status, 4, "{}", offline.stderr);
    assert!(offline.stderr.contains("cannot be reached"), "{}", offline.stderr);
    let status = ok(a, &["sync", "status"]);
    assert!(status.contains("waiting to be sent: 4"), "{status}");
    assert!(!status.contains("paused"), "{status}");

    // The owner pauses the app's syncing on till A; the pause is on disk (the app reads it when
    // it opens) until resumed, and joining again resumes it too.
    ok(a, &["sync", "pause"]);
    assert!(ok(a, &["sync", "status"]).contains("Syncing is paused on this device"));
    assert_eq!(json(a, &["sync", "status"])["paused"], true);
    ok(a, &["sync", "resume"]);
    assert_eq!(json(a, &["sync", "status"])["paused"], false);
    ok(b, &["sync", "pause"]);
    assert_eq!(json(b, &["sync", "status"])["paused"], true);

    hub.restart().unwrap();
    ok(b, &["join", &url, "--shop", "corner"]);
    assert_eq!(json(b, &["sync", "status"])["paused"], false, "joining again resumes syncing");
    for d in [a, b, a] {
        ok(d, &["sync", "once"]);
    }
    let (pa, pb) = (picture(a), picture(b));
    assert_eq!(pa, pb);
    let ids: Vec<&str> = pa.1.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A-1001", "A-1002", "A-1003", "A-1004", "B-1001", "B-1002"]);
    assert_eq!(pa.0["kpis"]["gross"], "50.00", "4 mugs at 8.00 and 4 tea towels at 4.50");
    assert_eq!(pa.0["kpis"]["refunds"], "12.00", "both refunds count: the money went out twice");
    assert_eq!(verify_ok(a), verify_ok(b));

    // Both tills list the same conflict; the owner resolves it on one, and both hear.
    for d in [a, b] {
        let listed = json(d, &["conflicts"]);
        let orders = listed["value"].as_array().unwrap();
        assert_eq!(orders.len(), 1, "{listed}");
        assert_eq!(orders[0]["id"], "A-1001");
        assert_eq!(orders[0]["conflicts"], serde_json::json!(["refunded_more_than_paid"]));
    }
    let text = ok(a, &["conflicts"]);
    assert!(text.contains("refunds on different tills add up to more than was paid"), "{text}");
    // The order tells it plainly, with the refunds in time order on both tills.
    let shown = ok(a, &["order", "show", "A-1001"]);
    assert!(shown.contains("Refunded 4.00 GBP more than was paid"), "{shown}");
    assert!(!shown.contains("Still refundable"), "{shown}");
    let refunds = |d: &Path| json(d, &["order", "show", "A-1001"])["order"]["refunds"].clone();
    assert_eq!(refunds(a).as_array().map(Vec::len), Some(2), "{}", refunds(a));
    assert_eq!(refunds(a), refunds(b));
    ok(b, &["conflicts", "resolve", "A-1001", "--note", "customer gave 4.00 back"]);
    let again = countertop(b, &["conflicts", "resolve", "A-1001", "--note", "again"]);
    assert_eq!(again.status, 1);
    assert!(again.stderr.contains("no conflicts to resolve"), "{}", again.stderr);
    for d in [b, a] {
        ok(d, &["sync", "once"]);
    }
    assert!(ok(a, &["conflicts"]).contains("No conflicts"));
    let shown = ok(a, &["order", "show", "A-1001"]);
    assert!(shown.contains("resolved: customer gave 4.00 back"), "the owner's note in the timeline: {shown}");
    assert_eq!(verify_ok(a), verify_ok(b));
    let devices = json(a, &["devices"]);
    assert_eq!(devices["others"][0]["till"], "B");
}

/// A small deterministic generator (xorshift), so a failing run can be repeated by its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// libfaketime, which Debian's `faketime` package installs (scripts/setup.sh --test).
fn faketime_lib() -> &'static str {
    const PLACES: [&str; 3] = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ];
    PLACES.into_iter().find(|p| Path::new(p).exists()).unwrap_or_else(|| {
        panic!(
            "libfaketime is not installed (looked in {PLACES:?}); run scripts/setup.sh --test or apt install faketime"
        )
    })
}

/// A device of the campaign: its folder, and how far off its clock is (every process it runs
/// sees the wall clock moved by it, through libfaketime).
struct Till<'a> {
    dir: &'a Path,
    skew: Option<&'static str>,
}

impl Till<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_countertop"));
        command.arg("--data").arg(self.dir).args(args).env_remove("COUNTERTOP_DATA");
        if let Some(skew) = self.skew {
            command.env("LD_PRELOAD", faketime_lib()).env("FAKETIME", skew).env("DONT_FAKE_MONOTONIC", "1");
        }
        command
    }

    fn run(&self, args: &[&str]) -> super::Run {
        let out = self.command(args).output().unwrap();
        super::Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.status, 0, "countertop {args:?} failed:\n{}{}", run.stdout, run.stderr);
        run.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn place(&self, sku: &str, qty: u32) -> (String, String) {
        let placed = self.json(&["order", "place", "--line", &format!("{sku}:{qty}")]);
        let id = placed["entity"]["id"].as_str().unwrap().to_owned();
        (id, placed["entity"]["placed_at"].as_str().unwrap().to_owned())
    }
}

#[test]
fn three_devices_converge_through_hub_restarts_kills_and_a_cut_off_till() {
    let heavy = std::env::var_os("COUNTERTOP_HEAVY").is_some();
    let rounds: u64 = std::env::var("COUNTERTOP_SYNC_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(if heavy {
        200
    } else {
        12
    });
    let seed = std::env::var("COUNTERTOP_SYNC_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(7, |d| d.as_nanos() as u64) | 1
    });
    eprintln!("sync campaign: seed {seed}, {rounds} rounds (COUNTERTOP_SYNC_SEED / COUNTERTOP_SYNC_ROUNDS)");
    let mut rng = Rng(seed);
    let mut hub = LocalHub::start().unwrap();
    let url = hub.url();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // Till B's clock is five hours ahead: it still converges, and its orders keep the times it
    // gave them.
    let devices: Vec<Till<'_>> =
        dirs.iter().enumerate().map(|(i, d)| Till { dir: d.path(), skew: (i == 1).then_some("+5h") }).collect();
    init_uk(devices[0].dir, "Corner Shop");
    devices[0].ok(&["product", "add", "--sku", "MUG", "--name", "Enamel mug", "--price", "8.00"]);
    devices[0].ok(&["join", &url, "--shop", "corner"]);
    for d in &devices[1..] {
        pair(devices[0].command(&["devices", "add"]), d.command(&["join", &url, "--shop", "corner"]));
    }
    // Every order each device acknowledged, with the time it was placed at.
    let mut placed: Vec<Vec<(String, String)>> = vec![Vec::new(); 3];
    let cut_off = 2;
    let cut_from = rounds / 3;
    let cut_to = 2 * rounds / 3;
    let (mut hub_stops, mut kills, mut actions) = (0, 0, 0);

    for round in 0..rounds {
        let hub_down = rng.below(5) == 0;
        if hub_down {
            hub.stop();
            hub_stops += 1;
        }
        for (i, d) in devices.iter().enumerate() {
            for _ in 0..=rng.below(3) {
                actions += 1;
                // Ships and refunds go to any till's order (one this till may not have yet:
                // refused, which is part of the game), so tills apart act on the same orders.
                let all: Vec<&String> = placed.iter().flatten().map(|(id, _)| id).collect();
                let any = (!all.is_empty()).then(|| all[rng.below(all.len() as u64) as usize].clone());
                match (rng.below(7), any, placed[i].last()) {
                    (0, Some(id), _) => {
                        let tracking = format!("RM{round}{i}");
                        let _ = d.run(&["order", "ship", &id, "--carrier", "Royal Mail", "--tracking", &tracking]);
                    }
                    (1, Some(id), _) => {
                        let _ = d.run(&["order", "refund", &id, "--amount", "5.00", "--reason", "chipped"]);
                    }
                    (2, Some(id), _) => {
                        let _ = d.run(&["order", "cancel", &id, "--reason", "changed mind"]);
                    }
                    (3, _, _) => {
                        let name = format!("Enamel mug {round}{i}");
                        let _ = d.run(&["product", "update", "MUG", "--name", &name]);
                    }
                    _ => placed[i].push(d.place("MUG", 1 + rng.below(3) as u32)),
                }
            }
        }
        for (i, d) in devices.iter().enumerate() {
            if i == cut_off && (cut_from..cut_to).contains(&round) {
                continue;
            }
            if rng.below(4) == 0 {
                // A sync that runs, killed at a random moment.
                let mut child =
                    d.command(&["sync", "run"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
                std::thread::sleep(Duration::from_millis(50 + rng.below(600)));
                kills += 1;
                let _ = child.kill();
                let _ = child.wait();
            } else {
                let run = d.run(&["sync", "once"]);
                // With the hub up, a session may still give up on a hub that stopped
                // answering (exit 4, to be tried again); with it down, it must.
                let allowed: &[i32] = if hub_down { &[4] } else { &[0, 4] };
                assert!(allowed.contains(&run.status), "round {round}, device {i}: {} {}", run.status, run.stderr);
            }
        }
        if hub_down {
            hub.restart().unwrap();
        }
    }
    for _ in 0..2 {
        for d in &devices {
            d.ok(&["sync", "once"]);
        }
    }
    let pictures: Vec<_> = devices.iter().map(|d| picture(d.dir)).collect();
    let events: Vec<(u64, String)> = devices.iter().map(|d| verify_ok(d.dir)).collect();
    assert!(
        events.iter().all(|e| *e == events[0]),
        "the same events and shared read-model digest everywhere: {events:?} (seed {seed})"
    );
    let conflicts: Vec<Vec<(Value, Value)>> = devices
        .iter()
        .map(|d| {
            let listed = d.json(&["conflicts"]);
            listed["value"].as_array().unwrap().iter().map(|o| (o["id"].clone(), o["conflicts"].clone())).collect()
        })
        .collect();
    assert!(conflicts.iter().all(|c| *c == conflicts[0]), "the same conflicts everywhere: {conflicts:?} (seed {seed})");
    eprintln!(
        "campaign (seed {seed}, {rounds} rounds): {actions} actions, {} orders, {} events on each till, hub stopped \
         {hub_stops} times, {kills} sync processes killed; {} orders with conflicts: {:?}",
        placed.iter().map(Vec::len).sum::<usize>(),
        events[0].0,
        conflicts[0].len(),
        conflicts[0]
    );
    let catalogs: Vec<Value> = devices.iter().map(|d| d.json(&["product", "list"])).collect();
    assert!(catalogs.iter().all(|c| *c == catalogs[0]), "the same catalog everywhere: {catalogs:?} (seed {seed})");
    for p in &pictures[1..] {
        assert_eq!(p.0, pictures[0].0, "the same dashboard everywhere (seed {seed})");
        assert_eq!(p.1, pictures[0].1, "the same orders everywhere (seed {seed})");
    }
    // Every acknowledged order is there exactly once, and nothing else, at the time its till
    // placed it (B's five hours ahead).
    let mut expected: Vec<(String, String)> = placed.concat();
    expected.sort();
    let orders: Vec<(String, String)> = pictures[0]
        .1
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_owned(), o["placed_at"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(orders, expected, "seed {seed}");
    let ahead = |id: &str| {
        let at = chrono::DateTime::parse_from_rfc3339(&expected.iter().find(|(i, _)| i == id).unwrap().1).unwrap();
        at.signed_duration_since(chrono::Utc::now()).num_minutes()
    };
    if let Some((id, _)) = placed[1].last() {
        assert!(ahead(id) > 4 * 60, "{id} was placed on B's clock, five hours ahead");
    }
    if let Some((id, _)) = placed[0].last() {
        assert!(ahead(id) < 5, "{id} was placed on A's clock, right");
    }
}

#[test]
fn a_till_restored_from_an_older_backup_refuses_to_sync_instead_of_forking_its_history() {
    let hub = LocalHub::start().unwrap();
    let url = hub.url();
    let till = super::shop();
    let t = till.path();
    ok(t, &["join", &url, "--shop", "corner"]);
    place(t, "MUG", 1);
    ok(t, &["sync", "once"]);
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("till-a.backup");
    ok(t, &["backup", backup.to_str().unwrap()]);
    // The till goes on after the backup and sends more.
    place(t, "MUG", 2);
    ok(t, &["sync", "once"]);

    // Its disk dies; the backup is restored on a new laptop, and an order taken there.
    let restored = tempfile::tempdir().unwrap();
    let r = restored.path().join("shop");
    ok(&r, &["restore", backup.to_str().unwrap()]);
    place(&r, "TEA", 1);
    let run = countertop(&r, &["join", &url, "--shop", "corner"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("restored from an older backup"), "{}", run.stderr);
    // Nothing of the restored folder reached the hub: another till sees A's two orders only.
    let other = tempfile::tempdir().unwrap();
    pair_folders(t, other.path(), &url);
    let ids: Vec<String> = picture(other.path()).1.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["A-1001", "A-1002"]);
}

/// The hub is private by default: a plain address to another machine is refused before
/// anything is sent or kept, naming the fix; a till that chose `--insecure` says "not
/// encrypted".
#[test]
fn a_plain_hub_on_another_machine_is_refused_and_an_insecure_one_says_so() {
    let dir = super::shop();
    let d = dir.path();
    let outside = tempfile::tempdir().unwrap();
    let creds = outside.path().join("till.creds");
    std::fs::write(&creds, "not checked: the address is refused first").unwrap();
    let creds = creds.to_str().unwrap();
    let refused = countertop(d, &["join", "nats://192.0.2.10:4222", "--shop", "corner", "--creds", creds]);
    assert_eq!(refused.status, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("nats:// would carry the shop's orders")
            && refused.stderr.contains("write it as tls://192.0.2.10:4222")
            && refused.stderr.contains("--insecure"),
        "{}",
        refused.stderr
    );
    for kept in ["sync.json", "hub.creds"] {
        assert!(!d.join(kept).exists(), "{kept} was written by a join that failed");
    }
    let bad = countertop(d, &["join", "tls://hub.example:4222", "--shop", "corner", "--device-id", "till.1"]);
    assert!(bad.stderr.contains("'till.1' cannot be a device id"), "{}", bad.stderr);
    let bad = countertop(d, &["join", "tls://hub.example:4222", "--shop", "corner", "--max-hub-bytes", "10GB"]);
    assert!(bad.stderr.contains("'10GB' is not a size"), "{}", bad.stderr);

    // As a join with --insecure leaves it (no hub is reached from this test).
    let mut hub = countertop_sync::Hub::new("nats://192.0.2.10:4222", "corner", countertop_sync::Credentials::None);
    hub.insecure = true;
    countertop_sync::config::save(d, &hub).unwrap();
    let status = json(d, &["sync", "status"]);
    assert_eq!(status["encrypted"], false, "{status}");
    assert_eq!(status["hub"], "shop 'corner' on nats://192.0.2.10:4222 (no sign-in, not encrypted)");
}

/// A till named by the hub's admin (`--device-id`) keeps that id; a second device with the
/// same id is refused. The shop's size on the hub is set at the start and only ever raised.
#[test]
fn a_device_id_is_one_devices_and_the_hubs_size_limit_only_grows() {
    let hub = LocalHub::start().unwrap();
    let url = hub.url();
    let a_dir = super::shop();
    let a = a_dir.path();
    ok(a, &["join", &url, "--shop", "corner", "--device-id", "till-1", "--max-hub-bytes", "2GiB"]);
    assert_eq!(json(a, &["devices"])["this"]["device"], "till-1");
    let b_dir = tempfile::tempdir().unwrap();
    let b = b_dir.path();
    let taken = countertop(b, &["join", &url, "--shop", "corner", "--device-id", "till-1"]);
    assert_eq!(taken.status, 1, "{}", taken.stderr);
    assert!(taken.stderr.contains("the device id 'till-1' is already used"), "{}", taken.stderr);
    assert!(!b.join("sync.json").exists());
    pair(cli(a, &["devices", "add"]), cli(b, &["join", &url, "--shop", "corner", "--device-id", "till-2"]));
    assert_eq!(json(b, &["devices"])["this"]["device"], "till-2");

    let lower = countertop(a, &["join", &url, "--shop", "corner", "--max-hub-bytes", "1GiB"]);
    assert_eq!(lower.status, 1, "{}", lower.stderr);
    assert!(
        lower.stderr.contains("a size limit of 2147483648 bytes: a till can raise it, never lower it"),
        "{}",
        lower.stderr
    );
    ok(a, &["join", &url, "--shop", "corner", "--max-hub-bytes", "3GiB"]);
    let renamed = countertop(a, &["join", &url, "--shop", "corner", "--device-id", "till-9"]);
    assert!(renamed.stderr.contains("a device keeps its id"), "{}", renamed.stderr);
    ok(a, &["order", "place", "--line", "MUG:1"]);
    for d in [a, b] {
        ok(d, &["sync", "once"]);
    }
    assert_eq!(verify_ok(a), verify_ok(b));
}
