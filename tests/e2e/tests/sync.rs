//! Two tills in the real window: a new computer joins a shop from the first-start screen with
//! a pairing code another till shows, the badge says it is connected, another till's orders
//! show up while the app runs, a conflict both tills made while apart is listed in Settings →
//! Sync and resolved there, and the window adds a third till with a code of its own.
//!
//! The hub is a real `nats-server` (Debian's package) on a free port; till A is the core and
//! the sync crate driven directly, till B the app.

use std::path::Path;

use countertop_core::{AddProduct, Command, LineInput, OpenShop, PlaceOrder, RefundOrder, Request, WriteStore};
use countertop_e2e::{App, Result, app_binary};
use countertop_sync::{Credentials, Hub, JoinOptions, LocalHub, PAIRING_WAIT};
use serde_json::json;

fn till_a(dir: &Path, hub: &Hub) -> Result<WriteStore> {
    let store = WriteStore::open(dir)?;
    store.execute(Request::new(Command::OpenShop(OpenShop {
        name: "Corner Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "00:00".into(),
        prices_include_tax: true,
        default_tax_rate: "0.2".parse()?,
    })))?;
    store.execute(Request::new(Command::AddProduct(AddProduct {
        sku: "MUG".into(),
        name: "Enamel mug".into(),
        unit_price: "8.00".parse()?,
        tax_rate: None,
        image: None,
    })))?;
    tokio::task::block_in_place(|| {
        countertop_sync::join(&store, dir, hub.clone(), &JoinOptions::default(), &mut |_| {})
    })?;
    Ok(store)
}

/// One round of sync for till A (the sync crate runs its own runtime: off this one).
fn once(a: &WriteStore, shop: &Hub) -> Result<()> {
    tokio::task::block_in_place(|| countertop_sync::sync_once(a, shop, &mut |_| {}))?;
    Ok(())
}

fn mug_sale() -> Command {
    Command::PlaceOrder(PlaceOrder {
        order: None,
        customer: None,
        lines: vec![LineInput::Product { sku: "MUG".into(), quantity: 1, unit_price: None }],
        discount: None,
        note: None,
        payment_method: Some("card".into()),
        at: None,
        payments: Vec::new(),
        invoice: false,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "drives the real app window: scripts/test.sh runs it"]
async fn a_second_till_joins_from_the_first_start_screen_and_resolves_a_conflict() -> Result<()> {
    let binary = app_binary()?;
    let hub = LocalHub::start()?;
    let shop = Hub::new(hub.url(), "corner", Credentials::None);
    let dir = tempfile::tempdir()?;
    let a = till_a(&dir.path().join("till-a"), &shop)?;
    a.execute(Request::new(mug_sale()))?; // A-1001
    once(&a, &shop)?;

    let b_dir = dir.path().join("till-b");
    let app = App::launch(&binary, &b_dir).await?;
    let result = two_tills(&app, &a, &shop).await;
    if result.is_err() {
        let _ = app.screenshot("failure-sync").await;
    }
    app.quit().await?;
    result?;

    // Paused before the app was closed, sync stays paused when it opens again.
    let app = App::launch(&binary, &b_dir).await?;
    let result = still_paused(&app, &a, &shop).await;
    if result.is_err() {
        let _ = app.screenshot("failure-sync-paused").await;
    }
    app.quit().await?;
    result
}

async fn still_paused(app: &App, a: &WriteStore, shop: &Hub) -> Result<()> {
    let badge =
        app.wait_text("[data-testid=sync-badge]", "the badge after a restart", |t| t.contains("paused")).await?;
    assert!(badge.contains("Till B"), "{badge}");
    // Till A's next order reaches the hub, and not this till while it is paused (a running
    // sync thread brings it within a second).
    a.execute(Request::new(mug_sale()))?; // A-1003
    once(a, shop)?;
    app.click("[data-nav=orders]").await?;
    app.wait_text("body", "the orders B has", |t| t.contains("A-1002")).await?;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    app.click("[data-nav=settings]").await?;
    app.click("[data-nav=orders]").await?;
    let listed = app.wait_text("body", "the orders list again", |t| t.contains("A-1002")).await?;
    assert!(!listed.contains("A-1003"), "a paused till fetched A-1003");

    app.click("[data-nav=settings]").await?;
    app.click("[data-testid=sync-resume]").await?;
    app.wait_text("[data-testid=sync-badge]", "connected again after Resume", |t| t.contains("connected")).await?;
    app.click("[data-nav=orders]").await?;
    app.wait_text("body", "A's order after Resume", |t| t.contains("A-1003")).await?;
    Ok(())
}

async fn two_tills(app: &App, a: &WriteStore, shop: &Hub) -> Result<()> {
    // First start: join instead of setting up a shop, with the code till A shows.
    app.wait("[data-testid=setup-form]").await?;
    app.click("[data-testid=setup-join] summary").await?;
    app.set_value("[data-testid=sync-url]", &shop.url).await?;
    app.set_value("[data-testid=sync-shop]", "corner").await?;
    let (shown, code) = std::sync::mpsc::channel();
    let adding = std::thread::spawn({
        let (a, shop) = (a.clone(), shop.clone());
        move || {
            countertop_sync::add_device(&a, &shop, false, true, PAIRING_WAIT, &mut |code| {
                let _ = shown.send(code.display());
            })
            .map(|member| member.till)
            .map_err(|e| e.to_string())
        }
    });
    let code = tokio::task::block_in_place(|| code.recv_timeout(std::time::Duration::from_secs(30)))?;
    app.set_value("[data-testid=sync-code]", &code).await?;
    app.screenshot("11-sync-join").await?;
    app.click("[data-testid=sync-join]").await?;
    let badge = app.wait_text("[data-testid=sync-badge]", "the sync badge", |t| t.contains("connected")).await?;
    assert!(badge.contains("Till B"), "{badge}");
    let admitted = tokio::task::block_in_place(|| adding.join()).map_err(|_| "till A's pairing thread panicked")??;
    assert_eq!(admitted, "B");

    // A's order came with the shop; one A takes now arrives while the app runs.
    a.execute(Request::new(mug_sale()))?; // A-1002
    once(a, shop)?;
    app.click("[data-nav=orders]").await?;
    app.wait_text("body", "A's new order in B's list", |t| t.contains("A-1002")).await?;

    // Both tills refund A-1001 (8.00 paid) by 6.00: B while the hub has not brought A's yet.
    app.invoke(
        "order_action",
        json!({
            "commandId": "ui-b-refund",
            "action": { "action": "refund", "order": "A-1001", "amount": "6.00", "reason": "chipped" }
        }),
    )
    .await?;
    a.execute(Request::new(Command::RefundOrder(RefundOrder {
        order: "A-1001".into(),
        amount: Some("6.00".parse()?),
        lines: Vec::new(),
        reason: "chipped".into(),
        at: None,
        tender: None,
        restock: false,
    })))?;
    once(a, shop)?;
    let badge = app
        .wait_text("[data-testid=sync-badge]", "a conflict on the badge", |t| t.contains("1 conflict to resolve"))
        .await?;
    assert!(badge.contains("connected"), "{badge}");

    app.click("[data-nav=settings]").await?;
    app.wait_text("[data-testid=sync-devices]", "till A among the devices seen", |t| {
        t.lines().any(|l| l.starts_with('A'))
    })
    .await?;
    let listed = app.wait_text("[data-testid=sync-conflicts]", "the conflict listed", |t| t.contains("A-1001")).await?;
    assert!(listed.contains("add up to more than was paid"), "{listed}");
    app.run_js("document.querySelector('[data-testid=sync-panel]').scrollIntoView()").await?;
    app.screenshot("12-sync-conflict").await?;
    app.set_value("[data-testid=sync-note]", "customer brought 4.00 back").await?;
    app.click("[data-testid=sync-resolve]").await?;
    app.wait("[data-testid=sync-no-conflicts]").await?;

    // Till A hears of the resolution.
    let started = std::time::Instant::now();
    loop {
        once(a, shop)?;
        let order = a.order_history("A-1001", None)?.ok_or("A-1001 is gone on till A")?.order;
        if order.conflicts().is_empty() {
            break;
        }
        if started.elapsed() > countertop_e2e::PATIENCE {
            return Err(format!("till A still lists {:?}", order.conflicts()).into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // The window adds a third till: it shows a code, which till C types.
    app.click("[data-testid=sync-add-till]").await?;
    let code = app.wait_text("[data-testid=sync-pairing-code]", "a pairing code", |t| t.trim().len() == 11).await?;
    app.run_js("document.querySelector('[data-testid=sync-members]').scrollIntoView()").await?;
    app.screenshot("13-sync-add-till").await?;
    let c_dir = tempfile::tempdir()?;
    let c = WriteStore::open(c_dir.path())?;
    let options =
        JoinOptions { code: Some(countertop_core::PairingCode::parse(code.trim())?), ..JoinOptions::default() };
    let (joined, _) =
        tokio::task::block_in_place(|| countertop_sync::join(&c, c_dir.path(), shop.clone(), &options, &mut |_| {}))?;
    assert_eq!(joined.till, "C");
    app.wait_text("[data-testid=sync-pairing-done]", "C admitted", |t| t.contains("Till C is admitted")).await?;
    app.wait_text("[data-testid=sync-members]", "C among the shop's tills", |t| t.lines().any(|l| l.starts_with('C')))
        .await?;

    // The owner pauses syncing on this till (the app is closed next, and opened again).
    app.click("[data-testid=sync-pause]").await?;
    app.wait_text("[data-testid=sync-badge]", "say sync is paused", |t| t.contains("sync paused")).await?;
    Ok(())
}
