//! The write store: durability across reopen, idempotency, optimistic concurrency, group
//! commit, batches, time travel and the single-process lock.

use std::time::Duration;

use countertop_core::{
    CancelOrder, Command, Entity, Error, OrderStatus, Rejection, Request, ShipOrder, StreamId, UpdateProduct,
    WriteStore,
};

use super::{add_customer, add_product, dec, order_of, place, shop};

#[test]
fn everything_acknowledged_is_there_after_reopening() {
    let (dir, store) = shop();
    let customer = store.execute(Request::new(add_customer("Ada Lovelace"))).unwrap();
    let Entity::Customer(ada) = customer.entity else { panic!() };
    let placed = store.execute(Request::new(place(Some(&ada.id), &[("MUG", 2), ("TEA", 1)]))).unwrap();
    let order = order_of(&placed).clone();
    assert_eq!(order.id, "1001");
    assert_eq!(order.totals.total, dec("20.50"));
    let head = store.head().current();
    drop(store);

    let store = WriteStore::open(dir.path()).unwrap();
    assert_eq!(store.head().current(), head);
    assert_eq!(store.events(1, 100).unwrap().len() as u64, head);
    let history = store.order_history("1001", None).unwrap().unwrap();
    assert_eq!(history.order, order);
    assert_eq!(store.products().unwrap().len(), 2);
    assert_eq!(store.customer(&ada.id).unwrap().unwrap().name, "Ada Lovelace");
    assert_eq!(store.shop().unwrap().unwrap().name, "Corner Shop");
    // The state tables carried on where they were: the next order gets the next number.
    let next = store.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(order_of(&next).id, "1002");
    assert!(store.verify().unwrap().first_bad.is_none());
}

#[test]
fn the_same_command_id_returns_the_first_result_and_appends_nothing() {
    let (_dir, store) = shop();
    let request = Request::with_id("01HZXCLICKCLICK", place(None, &[("MUG", 1)]));
    let first = store.execute(request.clone()).unwrap();
    let head = store.head().current();
    let again = store.execute(request).unwrap();
    assert!(again.replayed);
    assert_eq!(store.head().current(), head, "nothing appended");
    assert_eq!(again.entity, first.entity);
    assert_eq!(again.positions, first.positions);

    // The replay is the result as it was, even after the order moved on.
    let ship = ShipOrder { order: "1001".into(), carrier: "DHL".into(), tracking: "JD1".into(), at: None };
    store.execute(Request::new(Command::ShipOrder(ship))).unwrap();
    let later = store.execute(Request::with_id("01HZXCLICKCLICK", place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(order_of(&later).status, OrderStatus::Pending);
    assert_eq!(store.order_history("1002", None).unwrap(), None, "no second order");
}

#[test]
fn a_preview_decides_like_the_real_command_and_records_nothing() {
    let (_dir, store) = shop();
    let head = store.head().current();
    let command = place(None, &[("MUG", 2), ("TEA", 1)]);
    let Entity::Order(preview) = store.preview(&command).unwrap() else { panic!("not an order") };
    assert_eq!(store.head().current(), head, "a preview appends nothing");
    assert_eq!(store.order_history("1001", None).unwrap(), None);

    let placed = store.execute(Request::new(command)).unwrap();
    let order = order_of(&placed);
    assert_eq!((preview.id.as_str(), preview.totals), (order.id.as_str(), order.totals));
    assert_eq!(preview.lines, order.lines);

    // A refusal is the one the command would get.
    let err = store.preview(&place(None, &[("NOPE", 1)])).unwrap_err();
    let refused = store.execute(Request::new(place(None, &[("NOPE", 1)]))).unwrap_err();
    assert_eq!(err.to_string(), refused.to_string());
    assert!(matches!(err, Error::Rejected(_)), "{err:?}");
}

#[test]
fn reusing_a_command_id_for_another_command_is_an_error() {
    let (_dir, store) = shop();
    store.execute(Request::with_id("cmd-1", place(None, &[("MUG", 1)]))).unwrap();
    let err = store.execute(Request::with_id("cmd-1", place(None, &[("MUG", 2)]))).unwrap_err();
    assert!(matches!(err, Error::CommandIdReused { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "command id cmd-1 was already used for a different command; use a new id for a new command"
    );
}

#[test]
fn a_rejected_command_id_can_be_used_again_once_the_input_is_fixed() {
    let (_dir, store) = shop();
    let err = store.execute(Request::with_id("cmd-2", place(None, &[("MUG", 0)]))).unwrap_err();
    assert!(matches!(err, Error::Rejected(Rejection::Line { .. })));
    assert!(store.execute(Request::with_id("cmd-2", place(None, &[("MUG", 1)]))).is_ok());
}

#[test]
fn a_stale_expected_version_is_a_conflict() {
    let (_dir, store) = shop();
    let rename = |name: &str| {
        Command::UpdateProduct(UpdateProduct { sku: "MUG".into(), name: Some(name.into()), ..Default::default() })
    };
    let first = store.execute(Request::new(rename("Blue mug")).expecting(1)).unwrap();
    assert_eq!(first.stream_version, 2);
    let err = store.execute(Request::new(rename("Red mug")).expecting(1)).unwrap_err();
    assert!(matches!(&err, Error::Conflict { expected: 1, actual: 2, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "product/MUG is at version 2, not 1 as expected: someone changed it meanwhile; reload it and try again"
    );
    assert_eq!(store.product("MUG").unwrap().unwrap().name, "Blue mug", "the stale write changed nothing");
    // Expecting 0 means "must not exist yet".
    let dup = store.execute(Request::new(add_product("MUG", "Mug", "1")).expecting(0)).unwrap_err();
    assert!(matches!(dup, Error::Conflict { expected: 0, actual: 2, .. }));
}

#[test]
fn a_batch_commits_the_valid_commands_and_reports_each_rejection() {
    let (dir, store) = shop();
    let results = store
        .execute_batch(vec![
            Request::new(place(None, &[("MUG", 1)])),
            Request::new(place(None, &[("NOPE", 1)])),
            Request::new(place(None, &[("TEA", 3)])),
        ])
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(order_of(results[0].as_ref().unwrap()).id, "1001");
    assert_eq!(
        results[1].as_ref().unwrap_err().to_string(),
        "line 1: no product has SKU 'NOPE'; add it to the catalog first, or sell it as an ad-hoc item"
    );
    assert_eq!(order_of(results[2].as_ref().unwrap()).id, "1002", "later commands see the earlier ones");
    drop(store);
    let store = WriteStore::open(dir.path()).unwrap();
    assert!(store.order_history("1002", None).unwrap().is_some());
}

#[test]
fn concurrent_callers_share_commits_and_lose_nothing() {
    let (_dir, store) = shop();
    let before = store.head().current();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25).map(|_| store.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> =
        threads.into_iter().flat_map(|t| t.join().unwrap()).map(|o| order_of(&o).id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "every order got its own number");
    assert_eq!(store.head().current(), before + 100);
    let verification = store.verify().unwrap();
    assert_eq!((verification.events, verification.first_bad), (before + 100, None));
}

#[test]
fn orders_taken_during_a_bulk_job_do_not_wait_for_all_of_it() {
    let (_dir, store) = shop();
    let bulk: Vec<Request> = (0..6000).map(|_| Request::new(place(None, &[("MUG", 1)]))).collect();
    let importer = {
        let store = store.clone();
        std::thread::spawn(move || store.execute_bulk(bulk))
    };
    // Orders at the counter for as long as the bulk job runs.
    let mut counter = Vec::new();
    while !importer.is_finished() {
        counter.push(store.execute(Request::new(place(None, &[("TEA", 1)]))).unwrap().position().unwrap());
    }
    let results = importer.join().unwrap().unwrap();
    assert_eq!(results.len(), 6000);
    let bulk_positions: Vec<u64> = results.iter().map(|r| r.as_ref().unwrap().position().unwrap()).collect();
    assert!(bulk_positions.windows(2).all(|w| w[0] < w[1]), "the bulk job's commands stay in their order");
    let (first, last) = (bulk_positions[0], bulk_positions[5999]);
    // With the bulk job in one transaction, every counter order would come before or after it.
    let inside = counter.iter().filter(|p| (first..last).contains(*p)).count();
    assert!(inside > 0, "no counter order committed while the bulk job ran: {counter:?} vs {first}..{last}");
    let verification = store.verify().unwrap();
    assert_eq!((verification.events, verification.first_bad), (store.head().current(), None));
    assert_eq!(store.head().current(), 3 + 6000 + counter.len() as u64, "every command once, nothing else");
}

#[test]
fn the_head_is_published_after_each_commit() {
    let (_dir, store) = shop();
    let head = store.head();
    let start = head.current();
    let waiter = std::thread::spawn(move || head.wait_past(start, Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(20));
    store.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    assert_eq!(waiter.join().unwrap(), start + 1);
    assert_eq!(store.head().wait_past(start + 1, Duration::from_millis(10)), start + 1, "times out without a commit");
}

#[test]
fn an_order_can_be_seen_as_it_was_at_a_past_moment() {
    let (_dir, store) = shop();
    store.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let cancel = CancelOrder { order: "1001".into(), reason: "changed mind".into(), at: None };
    store.execute(Request::new(Command::CancelOrder(cancel))).unwrap();
    let now = store.order_history("1001", None).unwrap().unwrap();
    assert_eq!(now.order.status, OrderStatus::Cancelled);
    assert_eq!(
        now.timeline.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        ["order.placed", "order.cancelled"]
    );
    let placed_at = now.timeline[0].recorded_at;
    let then = store.order_history("1001", Some(placed_at)).unwrap().unwrap();
    assert_eq!(then.order.status, OrderStatus::Pending);
    assert_eq!(then.timeline.len(), 1);
    let before = placed_at - chrono::TimeDelta::seconds(1);
    assert_eq!(store.order_history("1001", Some(before)).unwrap(), None, "it did not exist yet");
}

#[test]
fn the_events_carry_their_envelope() {
    let (_dir, store) = shop();
    let outcome = store.execute(Request::with_id("cmd-env", place(None, &[("MUG", 1)]))).unwrap();
    let position = outcome.position().unwrap();
    let envelope = store.events(position, 1).unwrap().remove(0);
    assert_eq!(envelope.position, position);
    assert_eq!(envelope.stream, StreamId::Order("1001".into()));
    assert_eq!((envelope.version, envelope.event_type.as_str(), envelope.schema_version), (1, "order.placed", 4));
    assert_eq!(envelope.command_id, "cmd-env");
    assert_eq!(envelope.hash.len(), 64);
}

#[test]
fn a_second_open_of_the_same_store_is_refused_clearly() {
    let (dir, _store) = shop();
    let err = WriteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::AlreadyOpen { .. }), "{err:?}");
    assert!(err.to_string().ends_with("write.redb is already open by another Countertop (the app, a running `countertop sync run`, or another countertop command); close it and try again"), "{err}");
}

#[test]
fn a_file_that_is_not_a_store_is_reported_as_damaged_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("write.redb");
    std::fs::write(&path, b"this is not a database at all, just some bytes").unwrap();
    let err = WriteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("Restore it from a backup; do not delete it"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"this is not a database at all, just some bytes", "untouched");
}

#[test]
fn damaged_pages_give_a_clear_error_never_a_crash_nor_a_wrong_answer() {
    let (dir, store) = shop();
    let orders: Vec<Request> = (0..300).map(|_| Request::new(place(None, &[("MUG", 1), ("TEA", 2)]))).collect();
    for result in store.execute_batch(orders).unwrap() {
        result.unwrap();
    }
    let log = store.events(1, 10_000).unwrap();
    drop(store);
    let path = dir.path().join("write.redb");
    let good = std::fs::read(&path).unwrap();
    // 4 KiB of garbage at ten places through the file: page headers, leaves, the log's tail.
    for tenth in 0..10 {
        let at = good.len() * tenth / 10;
        let mut bad = good.clone();
        for b in &mut bad[at..(at + 4096).min(good.len())] {
            *b ^= 0xAA;
        }
        std::fs::write(&path, &bad).unwrap();
        let check = |err: Error| {
            assert!(matches!(err, Error::Corrupt { .. }), "damage at byte {at}: {err:?}");
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("Restore it from a backup; do not delete it"), "{message}");
        };
        match WriteStore::open(dir.path()) {
            Err(err) => {
                check(err);
                assert!(std::fs::read(&path).unwrap() == bad, "damage at byte {at}: a refused open changed the file");
            }
            Ok(store) => match store.verify().and_then(|v| Ok((v, store.events(1, 10_000)?))) {
                Err(err) => check(err),
                // Either the hash chain names the damaged event, or the damage hit a page no
                // longer in use and every event reads back exactly as written.
                Ok((verification, events)) => assert!(
                    verification.first_bad.is_some() || events == log,
                    "damage at byte {at} went unnoticed and changed the log: {verification:?}"
                ),
            },
        }
    }
    std::fs::write(&path, &good).unwrap();
    let store = WriteStore::open(dir.path()).unwrap();
    assert_eq!(store.verify().unwrap().first_bad, None, "the undamaged file still opens and checks out");
}

#[test]
fn a_backup_taken_while_orders_come_in_is_consistent_and_restores() {
    let (dir, store) = shop();
    for _ in 0..20 {
        store.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    }
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..200 {
                store.execute(Request::new(place(None, &[("TEA", 1)]))).unwrap();
            }
        })
    };
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("shop.backup");
    let verification = store.backup(&file).unwrap();
    writer.join().unwrap();
    assert_eq!(verification.first_bad, None);
    assert!(verification.events >= 23, "at least what was there before: {verification:?}");

    // The copy is the log's first events, byte for byte (same hashes).
    let restored = tempfile::tempdir().unwrap();
    let check = WriteStore::restore(&file, restored.path()).unwrap();
    assert_eq!(check.events, verification.events);
    let copy = WriteStore::open(restored.path()).unwrap();
    let original = store.events(1, 10_000).unwrap();
    let copied = copy.events(1, 10_000).unwrap();
    assert_eq!(copied.as_slice(), &original[..copied.len()]);
    assert_eq!(copy.products().unwrap(), store.products().unwrap());
    drop(copy);

    // Never overwritten; never restored over a store.
    let err = store.backup(&file).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let err = WriteStore::restore(&file, restored.path()).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "write.redb already exists; restore into an empty data directory (--data DIR); nothing was changed"
        ),
        "{err}"
    );
    let _ = dir;
}

#[test]
fn a_damaged_backup_is_refused_and_leaves_the_data_dir_empty() {
    let (_dir, store) = shop();
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("shop.backup");
    store.backup(&file).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 3..len / 3 + 4096] {
        *b ^= 0xAA;
    }
    std::fs::write(&file, &bytes).unwrap();
    let target = tempfile::tempdir().unwrap();
    let err = WriteStore::restore(&file, target.path()).unwrap_err();
    assert!(matches!(err, Error::BadBackup { .. }), "{err:?}");
    assert!(err.to_string().contains("Nothing was restored; try another (older) backup"), "{err}");
    assert!(!target.path().join("write.redb").exists(), "nothing half-restored");
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0, "no partial file left behind");
}

/// Was: a new data folder was created 0755 and `write.journal` 0644, readable by every user of
/// the laptop; customers' emails and phones live there.
#[cfg(unix)]
#[test]
fn only_the_owner_can_read_a_shop() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("shop");
    let ct = countertop_core::Countertop::open(&dir).unwrap();
    for command in [super::open_shop(), add_product("MUG", "Enamel mug", "8.00")] {
        ct.execute(Request::new(command)).unwrap();
    }
    ct.execute(Request::new(place(None, &[("MUG", 1)]))).unwrap();
    assert!(ct.wait_caught_up(countertop_core::Freshness::Search, std::time::Duration::from_secs(60), |_| {}));
    let file = dir.join("sales.csv");
    std::fs::write(&file, "order,date,product,quantity,unit_price\n1,2024-01-01,Tea,0,2.50\n").unwrap();
    let report = countertop_core::import::import(ct.write(), &file, &Default::default(), |_| {}).unwrap();
    std::fs::remove_file(&file).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let rejected = report.rejected_csv.unwrap();
    for name in ["write.redb", "write.journal", "read.redb"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&rejected), 0o600);
    assert_eq!(mode(rejected.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.join("search")), 0o700);
    drop(ct);
    // A folder made by an earlier version is tightened when it is opened.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("write.redb"), std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(countertop_core::Countertop::open(&dir).unwrap());
    assert_eq!((mode(&dir), mode(&dir.join("write.redb"))), (0o700, 0o600));
}

/// A folder with other things in it, given as the data folder, keeps its permissions.
#[cfg(unix)]
#[test]
fn a_shop_in_a_folder_with_other_things_leaves_the_folder_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    drop(WriteStore::open(dir.path()).unwrap());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(dir.path()), mode(&dir.path().join("write.redb"))), (0o755, 0o600));
}

/// SKUs match exactly; a refusal names the catalog's SKU when only the letter case differs,
/// when recording and when previewing, and inside an order line's refusal.
#[test]
fn an_unknown_sku_in_other_letter_case_is_suggested() {
    let (_dir, store) = shop();
    let count = Command::CountStock(countertop_core::CountStock {
        sku: "mug".into(),
        counted: 3,
        reason: "shelf".into(),
        at: None,
    });
    let err = store.execute(Request::new(count)).unwrap_err().to_string();
    assert!(err.starts_with("no product has SKU 'mug' (did you mean 'MUG'?);"), "{err}");
    let err = store.preview(&place(None, &[("mug", 1)])).unwrap_err().to_string();
    assert!(err.starts_with("line 1: no product has SKU 'mug' (did you mean 'MUG'?);"), "{err}");
    let err = store.execute(Request::new(place(None, &[("NOPE", 1)]))).unwrap_err().to_string();
    assert!(err.starts_with("line 1: no product has SKU 'NOPE';"), "{err}");
}
