//! Given / when / then tests of every rule. `given` folds past events, `when` decides a
//! command, and the test states the events or the rejection message it expects.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::money::MoneyInput;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn money(s: &str) -> MoneyInput {
    s.parse().unwrap()
}

/// Folds past events into a state, deciding at [`now`].
fn given(events: &[Event]) -> State {
    events.iter().fold(State::empty(now()), evolve)
}

/// Past events made by running commands through the rules, for longer histories.
fn history(commands: &[Command]) -> Vec<Event> {
    let mut state = State::empty(now());
    let mut events = Vec::new();
    for command in commands {
        let new = decide(&state, command).unwrap_or_else(|r| panic!("history command {command:?} rejected: {r}"));
        for e in &new {
            apply(&mut state, e);
        }
        events.extend(new);
    }
    events
}

/// The events `command` produces on top of `past`.
fn when(past: &[Event], command: Command) -> Vec<Event> {
    decide(&given(past), &command).unwrap_or_else(|r| panic!("unexpected rejection: {r}"))
}

/// The rejection message `command` gets on top of `past`.
fn rejected(past: &[Event], command: Command) -> String {
    match decide(&given(past), &command) {
        Ok(events) => panic!("expected a rejection, got {events:?}"),
        Err(r) => r.to_string(),
    }
}

fn open_shop(prices_include_tax: bool) -> Command {
    Command::OpenShop(OpenShop {
        name: "Corner Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax,
        default_tax_rate: dec("0.2"),
    })
}

fn add_product(sku: &str, name: &str, price: &str) -> Command {
    Command::AddProduct(AddProduct {
        sku: sku.into(),
        name: name.into(),
        unit_price: money(price),
        tax_rate: None,
        image: None,
    })
}

fn add_customer(id: &str, name: &str) -> Command {
    Command::AddCustomer(AddCustomer { id: Some(id.into()), name: name.into(), ..Default::default() })
}

fn product_line(sku: &str, quantity: i64) -> LineInput {
    LineInput::Product { sku: sku.into(), quantity, unit_price: None }
}

fn item(name: &str, quantity: i64, price: &str) -> LineInput {
    LineInput::Item {
        sku: None,
        name: name.into(),
        quantity,
        unit_price: Some(money(price)),
        tax_rate: None,
        total: None,
    }
}

fn place(order: &str, lines: Vec<LineInput>) -> Command {
    Command::PlaceOrder(PlaceOrder {
        order: Some(order.into()),
        customer: None,
        lines,
        discount: None,
        note: None,
        payment_method: None,
        at: None,
        payments: Vec::new(),
        invoice: false,
    })
}

fn ship(order: &str, carrier: &str, tracking: &str) -> Command {
    Command::ShipOrder(ShipOrder { order: order.into(), carrier: carrier.into(), tracking: tracking.into(), at: None })
}

fn deliver(order: &str) -> Command {
    Command::DeliverOrder(DeliverOrder { order: order.into(), at: None })
}

fn cancel(order: &str, reason: &str) -> Command {
    Command::CancelOrder(CancelOrder { order: order.into(), reason: reason.into(), at: None })
}

fn refund(order: &str, amount: &str, reason: &str) -> Command {
    Command::RefundOrder(RefundOrder::amount(order, money(amount), reason))
}

/// A shop (prices include 20 % tax) with a mug at 8.00, a card at 0.001 and one customer.
fn shop() -> Vec<Event> {
    history(&[
        open_shop(true),
        add_product("MUG", "Enamel mug", "8.00"),
        add_product("CARD", "Greeting card", "0.001"),
        add_customer("17850", "Ada Lovelace"),
    ])
}

fn with(mut past: Vec<Event>, commands: &[Command]) -> Vec<Event> {
    let mut state = given(&past);
    for command in commands {
        let new = decide(&state, command).unwrap_or_else(|r| panic!("setup command rejected: {r}"));
        for e in &new {
            apply(&mut state, e);
        }
        past.extend(new);
    }
    past
}

fn placed(events: &[Event]) -> &OrderPlaced {
    match events {
        [Event::OrderPlaced(p)] => p,
        other => panic!("expected one OrderPlaced, got {other:?}"),
    }
}

// ---- shop ----

#[test]
fn nothing_happens_before_the_shop_is_set_up() {
    assert_eq!(
        rejected(&[], add_product("MUG", "Mug", "1")),
        "the shop is not set up yet; set it up first (name, currency, time zone)"
    );
}

#[test]
fn the_shop_is_set_up_once() {
    assert_eq!(
        rejected(&shop(), open_shop(false)),
        "the shop is already set up as 'Corner Shop'; change its settings instead"
    );
}

#[test]
fn shop_settings_are_checked() {
    let bad = |f: fn(&mut OpenShop)| {
        let Command::OpenShop(mut c) = open_shop(true) else { unreachable!() };
        f(&mut c);
        rejected(&[], Command::OpenShop(c))
    };
    assert_eq!(
        bad(|c| c.currency = "POUNDS".into()),
        "currency 'POUNDS' is not an ISO 4217 code; use a code such as GBP, EUR or USD"
    );
    assert_eq!(
        bad(|c| c.time_zone = "Europe/Londn".into()),
        "time zone 'Europe/Londn' is not an IANA time zone; use a name such as Europe/London or America/New_York"
    );
    assert_eq!(
        bad(|c| c.day_start = "4am".into()),
        "business-day start '4am' is not a time of day; enter it as HH:MM, e.g. 04:00"
    );
    assert_eq!(bad(|c| c.name = " ".into()), "shop name is empty; enter the shop's name");
    assert_eq!(
        bad(|c| c.default_tax_rate = dec("20")),
        "tax rate 20 is outside 0 to 1 (0% to 100%); enter e.g. 20% or 0.2"
    );
}

#[test]
fn changing_settings_records_only_real_changes() {
    let change =
        |tz: &str| Command::ChangeShopSettings(ChangeShopSettings { time_zone: Some(tz.into()), ..Default::default() });
    assert_eq!(when(&shop(), change("Europe/London")), vec![]);
    let events = when(&shop(), change("Europe/Paris"));
    let [Event::ShopSettingsChanged(e)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(e.time_zone, chrono_tz::Europe::Paris);
    assert_eq!(e.name, "Corner Shop");
}

// ---- products ----

#[test]
fn skus_are_unique() {
    assert_eq!(
        rejected(&shop(), add_product("MUG", "Another mug", "3")),
        "SKU 'MUG' is already used by 'Enamel mug'; choose another SKU or update that product"
    );
}

#[test]
fn product_names_are_trimmed_and_limited() {
    let events = when(&shop(), add_product(" TEA ", "  Tea towel  ", "4.5"));
    let [Event::ProductAdded(e)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((e.product.sku.as_str(), e.product.name.as_str()), ("TEA", "Tea towel"));
    assert_eq!(e.product.tax_rate, dec("0.2"), "the shop's default rate");
    assert_eq!(
        rejected(&shop(), add_product("TEA", "", "4")),
        "product name is empty; enter the name shown on receipts"
    );
    assert_eq!(
        rejected(&shop(), add_product("TEA", &"x".repeat(201), "4")),
        "product name is 201 characters long; shorten it to at most 200"
    );
}

#[test]
fn product_prices_are_checked() {
    assert_eq!(
        rejected(&shop(), add_product("TEA", "Tea", "-2.00")),
        "unit price -2.00 GBP is negative; enter 0 or more"
    );
    assert_eq!(
        rejected(&shop(), add_product("TEA", "Tea", "3.00 EUR")),
        "unit price is in EUR but this shop sells in GBP; enter the amount in GBP"
    );
}

#[test]
fn rename_reprice_and_archive() {
    let update = Command::UpdateProduct(UpdateProduct {
        sku: "MUG".into(),
        name: Some("Blue enamel mug".into()),
        unit_price: Some(money("9.50")),
        archived: Some(true),
        ..Default::default()
    });
    assert_eq!(
        when(&shop(), update),
        vec![
            Event::ProductRenamed(ProductRenamed { sku: "MUG".into(), name: "Blue enamel mug".into(), stamp: None }),
            Event::ProductRepriced(ProductRepriced {
                sku: "MUG".into(),
                unit_price: dec("9.5"),
                tax_rate: dec("0.2"),
                stamp: None,
            }),
            Event::ProductArchived(ProductArchived { sku: "MUG".into(), stamp: None }),
        ]
    );
    let same = Command::UpdateProduct(UpdateProduct {
        sku: "MUG".into(),
        name: Some("Enamel mug".into()),
        ..Default::default()
    });
    assert_eq!(when(&shop(), same), vec![], "an update that changes nothing records nothing");
    let unknown = Command::UpdateProduct(UpdateProduct { sku: "NOPE".into(), ..Default::default() });
    assert_eq!(
        rejected(&shop(), unknown),
        "no product has SKU 'NOPE'; add it to the catalog first, or sell it as an ad-hoc item"
    );
}

// ---- customers ----

#[test]
fn customers_get_the_next_free_number_unless_given_an_id() {
    let add = Command::AddCustomer(AddCustomer { name: "Grace Hopper".into(), ..Default::default() });
    let events = when(&shop(), add);
    let [Event::CustomerRegistered(e)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(e.customer.id, "1", "the shop's own sequence: the given 17850 does not move it");
    assert_eq!(
        rejected(&shop(), add_customer("17850", "Someone else")),
        "customer id '17850' is already used by 'Ada Lovelace'; choose another id or leave it out"
    );
}

#[test]
fn customer_details_are_checked() {
    let add = |email: &str, phone: &str| {
        Command::AddCustomer(AddCustomer {
            name: "Grace".into(),
            email: Some(email.into()),
            phone: Some(phone.into()),
            ..Default::default()
        })
    };
    assert_eq!(
        rejected(&shop(), add("grace@navy", "")),
        "email 'grace@navy' is not a valid address; enter it as name@example.com or leave it out"
    );
    assert_eq!(
        rejected(&shop(), add("", "ring me")),
        "phone 'ring me' may only contain digits, spaces and + - ( ) . /; correct it or leave it out"
    );
    assert_eq!(rejected(&shop(), add_customer("17851", "   ")), "customer name is empty; enter the customer's name");
}

#[test]
fn updating_a_customer_records_all_current_details() {
    let update = Command::UpdateCustomer(UpdateCustomer {
        id: "17850".into(),
        email: Some("ada@example.org".into()),
        ..Default::default()
    });
    let events = when(&shop(), update);
    let [Event::CustomerDetailsChanged(e)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(e.customer.name, "Ada Lovelace");
    assert_eq!(e.customer.email.as_deref(), Some("ada@example.org"));
    let unknown = Command::UpdateCustomer(UpdateCustomer { id: "99".into(), ..Default::default() });
    assert_eq!(rejected(&shop(), unknown), "no customer has id '99'; check the id, or add the customer first");
}

// ---- placing orders ----

#[test]
fn an_order_records_lines_as_sold_with_exact_totals() {
    let mut cmd = place("5001", vec![product_line("MUG", 2), item("Gift wrap", 1, "1.50")]);
    if let Command::PlaceOrder(c) = &mut cmd {
        c.customer = Some("17850".into());
    }
    let events = when(&shop(), cmd);
    let e = placed(&events);
    assert_eq!(e.customer, Some(CustomerRef { id: "17850".into(), name: "Ada Lovelace".into() }));
    assert_eq!(e.lines[0].name, "Enamel mug");
    assert_eq!(e.lines[0].total, dec("16.00"));
    assert!(!e.lines[1].from_catalog);
    // Prices include 20 % tax: tax = 17.50 × 0.2 / 1.2 = 2.9166… → 2.92.
    assert_eq!(e.totals, Totals { subtotal: dec("17.50"), discount: dec("0"), tax: dec("2.92"), total: dec("17.50") });
    assert_eq!(e.at, now());
}

#[test]
fn line_totals_round_half_to_even() {
    // 0.001 × 5 = 0.005 → 0.00 (half to even); × 15 = 0.015 → 0.02.
    let events = when(&shop(), place("5001", vec![product_line("CARD", 5), product_line("CARD", 15)]));
    let e = placed(&events);
    assert_eq!(e.lines[0].total, dec("0.00"));
    assert_eq!(e.lines[1].total, dec("0.02"));
    assert_eq!(e.lines[0].unit_price, dec("0.001"), "the sub-cent price is kept as sold");
}

#[test]
fn tax_is_added_on_top_when_prices_exclude_it_and_discounts_come_off_first() {
    let past = history(&[open_shop(false), add_product("MUG", "Mug", "10.00")]);
    let mut cmd = place("1", vec![product_line("MUG", 3)]);
    if let Command::PlaceOrder(c) = &mut cmd {
        c.discount = Some(DiscountInput::Percent(dec("10")));
    }
    let events = when(&past, cmd);
    // 30.00 − 3.00 = 27.00 goods, 20 % tax 5.40, total 32.40.
    assert_eq!(
        placed(&events).totals,
        Totals { subtotal: dec("30.00"), discount: dec("3.00"), tax: dec("5.40"), total: dec("32.40") }
    );
    assert_eq!(placed(&events).discount_percent, Some(dec("10")));
}

#[test]
fn a_price_override_replaces_the_catalog_price_for_that_line() {
    let cmd = place("1", vec![LineInput::Product { sku: "MUG".into(), quantity: 1, unit_price: Some(money("6.00")) }]);
    assert_eq!(placed(&when(&shop(), cmd)).lines[0].unit_price, dec("6"));
}

#[test]
fn quantities_must_be_at_least_one() {
    assert_eq!(
        rejected(&shop(), place("1", vec![product_line("MUG", 1), product_line("MUG", 0)])),
        "line 2: quantity 0 is less than 1; enter 1 or more (record returns as a refund)"
    );
    assert_eq!(
        rejected(&shop(), place("1", vec![product_line("MUG", 2_000_000)])),
        "line 1: quantity 2000000 is more than 1,000,000; check the amount"
    );
}

#[test]
fn unit_prices_must_not_be_negative() {
    assert_eq!(
        rejected(&shop(), place("1", vec![item("Voucher", 1, "-2.00")])),
        "line 1: unit price -2.00 GBP is negative; enter 0 or more"
    );
}

#[test]
fn the_total_is_never_negative() {
    let mut cmd = place("1", vec![product_line("MUG", 1)]);
    if let Command::PlaceOrder(c) = &mut cmd {
        c.discount = Some(DiscountInput::Amount(money("9.00")));
    }
    assert_eq!(
        rejected(&shop(), cmd),
        "discount 9.00 GBP is more than the order's goods (8.00 GBP); the total cannot be negative, so lower the discount"
    );
}

#[test]
fn unknown_and_archived_products_and_unknown_customers_are_refused() {
    assert_eq!(
        rejected(&shop(), place("1", vec![product_line("NOPE", 1)])),
        "line 1: no product has SKU 'NOPE'; add it to the catalog first, or sell it as an ad-hoc item"
    );
    let archived = with(
        shop(),
        &[Command::UpdateProduct(UpdateProduct { sku: "MUG".into(), archived: Some(true), ..Default::default() })],
    );
    assert_eq!(
        rejected(&archived, place("1", vec![product_line("MUG", 1)])),
        "line 1: product 'MUG' is archived; restore it before selling it, or sell it as an ad-hoc item"
    );
    let mut cmd = place("1", vec![product_line("MUG", 1)]);
    if let Command::PlaceOrder(c) = &mut cmd {
        c.customer = Some("404".into());
    }
    assert_eq!(rejected(&shop(), cmd), "no customer has id '404'; check the id, or add the customer first");
}

#[test]
fn orders_need_lines_and_named_priced_items() {
    assert_eq!(rejected(&shop(), place("1", vec![])), "the order has no lines; add at least one product or item");
    let unpriced =
        LineInput::Item { sku: None, name: "Thing".into(), quantity: 1, unit_price: None, tax_rate: None, total: None };
    assert_eq!(
        rejected(&shop(), place("1", vec![unpriced])),
        "line 1: item 'Thing' has no price; enter its unit price"
    );
    assert_eq!(
        rejected(&shop(), place("1", vec![item(" ", 1, "1")])),
        "line 1: item name is empty; enter what was sold"
    );
}

#[test]
fn order_numbers_are_handed_out_in_sequence_and_never_reused() {
    let mut cmd = place("x", vec![product_line("MUG", 1)]);
    if let Command::PlaceOrder(c) = &mut cmd {
        c.order = None;
    }
    assert_eq!(placed(&when(&shop(), cmd.clone())).order, "1001");
    let after_import = with(shop(), &[place("536365", vec![product_line("MUG", 1)])]);
    assert_eq!(placed(&when(&after_import, cmd)).order, "1001", "a given number does not move the sequence");
    assert_eq!(
        rejected(&after_import, place("536365", vec![product_line("MUG", 1)])),
        "order number '536365' is already used; choose another number or leave it out"
    );
}

// ---- lifecycle ----

fn one_order() -> Vec<Event> {
    with(shop(), &[place("7", vec![product_line("MUG", 2)])])
}

#[test]
fn placed_shipped_delivered() {
    let shipped = when(&one_order(), ship("7", "Royal Mail", "RM123456789GB"));
    assert_eq!(
        shipped,
        vec![Event::OrderShipped(OrderShipped {
            order: "7".into(),
            carrier: "Royal Mail".into(),
            tracking: "RM123456789GB".into(),
            at: now()
        })]
    );
    let past = with(one_order(), &[ship("7", "Royal Mail", "RM1")]);
    assert_eq!(when(&past, deliver("7")), vec![Event::OrderDelivered(OrderDelivered { order: "7".into(), at: now() })]);
    let state = given(&with(past, &[deliver("7")]));
    assert_eq!(state.orders["7"].status, OrderStatus::Delivered);
}

#[test]
fn shipping_needs_a_carrier_and_a_tracking_number() {
    assert_eq!(
        rejected(&one_order(), ship("7", "Royal Mail", "  ")),
        "tracking number is empty; enter the tracking number from the carrier's label"
    );
    assert_eq!(
        rejected(&one_order(), ship("7", "", "RM1")),
        "carrier is empty; enter the carrier's name, e.g. Royal Mail"
    );
}

#[test]
fn an_order_ships_once_and_is_delivered_once_after_shipping() {
    let shipped = with(one_order(), &[ship("7", "DHL", "JD1")]);
    assert_eq!(
        rejected(&shipped, ship("7", "DHL", "JD2")),
        "order 7 has already been shipped (with DHL, tracking JD1)"
    );
    assert_eq!(
        rejected(&one_order(), deliver("7")),
        "order 7 has not been shipped yet; ship it before marking it delivered"
    );
    let delivered = with(shipped, &[deliver("7")]);
    assert_eq!(rejected(&delivered, deliver("7")), "order 7 has already been marked delivered");
}

#[test]
fn a_cancelled_order_cannot_be_shipped_delivered_or_refunded() {
    let cancelled = with(one_order(), &[cancel("7", "Customer changed their mind")]);
    assert_eq!(rejected(&cancelled, ship("7", "DHL", "JD1")), "order 7 is cancelled, so it cannot be shipped");
    assert_eq!(rejected(&cancelled, deliver("7")), "order 7 is cancelled, so it cannot be delivered");
    assert_eq!(
        rejected(&cancelled, refund("7", "1.00", "x")),
        "order 7 is cancelled, so it cannot be refunded (cancelling voided its payment)"
    );
}

#[test]
fn a_shipped_order_cannot_be_cancelled() {
    let shipped = with(one_order(), &[ship("7", "DHL", "JD1")]);
    assert_eq!(
        rejected(&shipped, cancel("7", "too late")),
        "order 7 has already been shipped, so it cannot be cancelled; refund it instead"
    );
    assert_eq!(rejected(&one_order(), cancel("7", "")), "reason is empty; enter why the order is cancelled");
}

#[test]
fn refunds_never_exceed_what_is_left() {
    // The order is 16.00; refund 10.00, then at most 6.00 is left.
    let once = with(one_order(), &[refund("7", "10.00", "one mug broken")]);
    assert_eq!(
        rejected(&once, refund("7", "6.01", "the other one")),
        "refund 6.01 GBP is more than the 6.00 GBP still refundable on order 7 (paid 16.00 GBP, already refunded 10.00 GBP)"
    );
    let events = when(&once, refund("7", "6", "the other one"));
    assert_eq!(
        events,
        vec![Event::OrderRefunded(OrderRefunded {
            order: "7".into(),
            amount: dec("6.00"),
            reason: "the other one".into(),
            at: now(),
            lines: Vec::new(),
            // Placed naming no payment method: paid in full by "other", and given back so.
            tender: Some(Tender::Other),
            restock: false,
        })]
    );
    assert_eq!(rejected(&one_order(), refund("7", "0", "x")), "refund amount 0.00 GBP must be more than zero");
    assert_eq!(rejected(&one_order(), refund("7", "1", " ")), "reason is empty; enter why the money goes back");
    assert_eq!(
        rejected(&one_order(), refund("7", "1.00 USD", "x")),
        "refund amount is in USD but this shop sells in GBP; enter the amount in GBP"
    );
}

fn refund_lines(order: &str, lines: &[(usize, i64)], amount: Option<&str>) -> Command {
    Command::RefundOrder(RefundOrder {
        order: order.into(),
        amount: amount.map(money),
        lines: lines.iter().map(|&(line, quantity)| RefundLineInput { line, quantity }).collect(),
        reason: "came back".into(),
        at: None,
        tender: None,
        restock: false,
    })
}

/// A shop whose prices exclude 20 % tax, and order 7: three mugs at 8.00 and gift wrap at
/// 2.00, 10 % off. Subtotal 26.00, discount 2.60, tax 4.68, total 28.08.
fn discounted_order() -> Vec<Event> {
    let Command::PlaceOrder(mut order) = place("7", vec![product_line("MUG", 3), item("Gift wrap", 1, "2.00")]) else {
        unreachable!()
    };
    order.discount = Some(DiscountInput::Percent(dec("10")));
    history(&[open_shop(false), add_product("MUG", "Enamel mug", "8.00"), Command::PlaceOrder(order)])
}

fn refunded(events: &[Event]) -> (&Decimal, &[RefundedLine]) {
    match events {
        [Event::OrderRefunded(r)] => (&r.amount, &r.lines),
        other => panic!("expected one OrderRefunded, got {other:?}"),
    }
}

#[test]
fn a_refund_by_line_is_worth_what_the_goods_were_sold_for_discount_and_tax_included() {
    let order = discounted_order();
    let one_mug = when(&order, refund_lines("7", &[(1, 1)], None));
    // 8.00 of 26.00 of goods, of a 28.08 total.
    assert_eq!(refunded(&one_mug), (&dec("8.64"), &[RefundedLine { line: 0, quantity: 1 }][..]));

    // Everything else, naming the mugs in two entries: the refunds add up to what was paid.
    let order = with(order, &[refund_lines("7", &[(1, 1)], None)]);
    let rest = when(&order, refund_lines("7", &[(2, 1), (1, 1), (1, 1)], None));
    assert_eq!(
        refunded(&rest),
        (&dec("19.44"), &[RefundedLine { line: 0, quantity: 2 }, RefundedLine { line: 1, quantity: 1 }][..])
    );
    let all = with(order.clone(), &[refund_lines("7", &[(2, 1), (1, 2)], None)]);
    assert_eq!(given(&all).orders["7"].refundable(), Decimal::ZERO);

    // Goods back and an amount given (less a restocking fee): the amount is what goes back.
    let with_fee = when(&order, refund_lines("7", &[(1, 1)], Some("7.00")));
    assert_eq!(refunded(&with_fee), (&dec("7.00"), &[RefundedLine { line: 0, quantity: 1 }][..]));
}

#[test]
fn a_refund_by_line_gives_back_no_more_than_was_sold() {
    let order = with(discounted_order(), &[refund_lines("7", &[(1, 1)], None)]);
    assert_eq!(
        rejected(&order, refund_lines("7", &[(1, 3)], None)),
        "line 1: 3 of 'Enamel mug' cannot be refunded: 2 of the 3 sold are left to refund; enter at most 2"
    );
    assert_eq!(
        rejected(&order, refund_lines("7", &[(1, 2), (1, 1)], None)),
        "line 1: 3 of 'Enamel mug' cannot be refunded: 2 of the 3 sold are left to refund; enter at most 2",
        "a line named twice counts once, with both quantities"
    );
    assert_eq!(rejected(&order, refund_lines("7", &[(3, 1)], None)), "order 7 has no line 3; it has 2 line(s)");
    assert_eq!(rejected(&order, refund_lines("7", &[(0, 1)], None)), "order 7 has no line 0; it has 2 line(s)");
    assert_eq!(
        rejected(&order, refund_lines("7", &[(2, 0)], None)),
        "line 2: quantity 0 is less than 1; enter how many came back, or leave the line out"
    );
    assert_eq!(
        rejected(&order, refund_lines("7", &[(1, i64::MAX), (1, i64::MAX)], None)),
        format!(
            "line 1: {} of 'Enamel mug' cannot be refunded: 2 of the 3 sold are left to refund; enter at most 2",
            2 * i64::MAX as u64
        )
    );
    assert_eq!(
        rejected(&order, refund_lines("7", &[], None)),
        "the refund names no amount and no items; enter an amount, or how many of which lines come back"
    );
    // An amount refunded before leaves less money than the goods are worth.
    let order = with(order, &[refund("7", "19.00", "most of it")]);
    assert_eq!(
        rejected(&order, refund_lines("7", &[(2, 1)], None)),
        "refund 2.16 GBP is more than the 0.44 GBP still refundable on order 7 (paid 28.08 GBP, already refunded 27.64 GBP)"
    );
}

#[test]
fn commands_on_unknown_orders_name_the_order() {
    assert_eq!(rejected(&shop(), ship(" 99 ", "DHL", "1")), "no order has number '99'; check the order number");
}

#[test]
fn past_sales_keep_their_own_time() {
    let at = Utc.with_ymd_and_hms(2011, 12, 9, 12, 50, 0).unwrap();
    let mut cmd = place("1", vec![product_line("MUG", 1)]);
    if let Command::PlaceOrder(c) = &mut cmd {
        c.at = Some(at);
    }
    assert_eq!(placed(&when(&shop(), cmd)).at, at);
}

// ---- returns and given line totals (imports) ----

fn record_return(id: &str, lines: Vec<LineInput>, reason: &str) -> Command {
    Command::RecordReturn(RecordReturn {
        id: id.into(),
        customer: Some("17850".into()),
        lines,
        reason: reason.into(),
        at: None,
    })
}

#[test]
fn a_return_gives_back_the_sum_of_its_lines() {
    let events = when(
        &shop(),
        record_return("C536379", vec![product_line("MUG", 2), item("Gift wrap", 1, "1.50")], "credit note"),
    );
    let [Event::ReturnRecorded(e)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(e.record.amount, dec("17.50"));
    assert_eq!(e.record.customer.as_ref().map(|c| c.name.as_str()), Some("Ada Lovelace"));
    let past = with(shop(), &[record_return("C1", vec![product_line("MUG", 1)], "r")]);
    assert_eq!(
        rejected(&past, record_return("C1", vec![product_line("MUG", 1)], "r")),
        "return number 'C1' is already used; choose another number"
    );
    assert_eq!(
        rejected(&shop(), record_return("C2", vec![product_line("MUG", 1)], " ")),
        "reason is empty; enter why the goods came back"
    );
    assert_eq!(
        rejected(&shop(), record_return("C2", vec![product_line("MUG", -1)], "r")),
        "line 1: quantity -1 is less than 1; enter 1 or more (record returns as a refund)"
    );
}

#[test]
fn a_given_line_total_is_kept_to_the_cent_and_the_unit_price_derived() {
    let given = |total: &str, quantity: i64| LineInput::Item {
        sku: Some("FUR-BO-10001798".into()),
        name: "Bookcase".into(),
        quantity,
        unit_price: None,
        tax_rate: None,
        total: Some(money(total)),
    };
    let events = when(&shop(), place("1", vec![given("957.5775", 5), given("22.368", 2)]));
    let lines = &placed(&events).lines;
    assert_eq!((lines[0].total, lines[0].unit_price), (dec("957.58"), dec("191.5155")));
    assert_eq!((lines[1].total, lines[1].unit_price), (dec("22.37"), dec("11.184")));
    assert_eq!(
        rejected(&shop(), place("1", vec![given("-3", 1)])),
        "line 1: unit price -3.00 GBP is negative; enter 0 or more"
    );
}

// ---- numbering: the counter's sequence and imported numbers never take each other's ----

fn counter_order() -> Command {
    let Command::PlaceOrder(mut c) = place("x", vec![product_line("MUG", 1)]) else { unreachable!() };
    c.order = None;
    Command::PlaceOrder(c)
}

fn import_order(import: &str, number: &str, lines: Vec<LineInput>) -> ImportOrder {
    ImportOrder {
        source: Source { import: import.into(), number: number.into() },
        customer: None,
        lines,
        discount: None,
        note: None,
        at: Utc.with_ymd_and_hms(2011, 2, 15, 10, 0, 0).unwrap(),
        shipment: None,
        delivered_at: None,
        refunds: Vec::new(),
        cancellation: None,
        open: false,
        payment_method: None,
    }
}

fn imported(import: &str, number: &str, lines: Vec<LineInput>) -> Command {
    Command::ImportOrder(Box::new(import_order(import, number, lines)))
}

/// The order numbers `commands` leave, one per command that placed an order.
fn numbers(commands: &[Command]) -> Vec<String> {
    let mut state = given(&shop());
    let mut out = Vec::new();
    for command in commands {
        let events = decide(&state, command).unwrap_or_else(|r| panic!("{command:?} rejected: {r}"));
        for e in &events {
            if let Event::OrderPlaced(p) = e {
                out.push(p.order.clone());
            }
            apply(&mut state, e);
        }
    }
    out
}

#[test]
fn an_import_does_not_move_the_counter_sequence_and_the_counter_skips_imported_numbers() {
    let commands = [
        counter_order(),
        imported("a", "543990", vec![item("Tea", 1, "2.00")]),
        counter_order(),
        imported("a", "1003", vec![item("Tea", 1, "2.00")]),
        counter_order(),
        Command::PlaceOrder(match place("1005", vec![product_line("MUG", 1)]) {
            Command::PlaceOrder(c) => c,
            _ => unreachable!(),
        }),
        counter_order(),
    ];
    assert_eq!(numbers(&commands), ["1001", "543990", "1002", "1003", "1004", "1005", "1006"]);
}

#[test]
fn an_imported_invoice_whose_number_a_counter_order_took_is_recorded_as_n_2() {
    let past = with(shop(), &[counter_order()]);
    let events = when(&past, imported("a", "1001", vec![item("Tea", 3, "2.00")]));
    let p = placed(&events);
    assert_eq!(p.order, "1001-2");
    assert_eq!(p.source, Some(Source { import: "a".into(), number: "1001".into() }));
    assert_eq!(p.note.as_deref(), Some("(invoice 1001 in the imported file; the number 1001 was already used here)"));
    assert!(!p.numbered);
    // The counter order keeps its number and lines.
    assert_eq!(given(&past).orders["1001"].lines[0].name, "Enamel mug");
}

#[test]
fn the_lines_of_one_invoice_apart_in_a_file_continue_as_n_2() {
    let past = with(shop(), &[imported("a", "536365", vec![item("Tea", 1, "2.00")])]);
    let events = when(&past, imported("a", "536365", vec![item("Cup", 1, "3.00")]));
    assert_eq!(placed(&events).order, "536365-2");
    assert_eq!(
        placed(&events).note.as_deref(),
        Some("(continues invoice 536365: its lines were apart in the imported file)")
    );
}

#[test]
fn the_same_sale_from_another_import_is_already_in_the_shop_and_gets_only_what_is_new() {
    let first = import_order("a", "536365", vec![item("Tea", 2, "2.00")]);
    let past = with(shop(), &[Command::ImportOrder(Box::new(first.clone()))]);
    // An overlapping export: the same invoice, nothing new.
    let mut again = first.clone();
    again.source.import = "b".into();
    assert_eq!(when(&past, Command::ImportOrder(Box::new(again.clone()))), Vec::<Event>::new());
    // A later export of it, which knows of a refund.
    again.refunds.push(ImportedRefund {
        amount: money("1.00"),
        reason: "chipped".into(),
        at: Utc.with_ymd_and_hms(2011, 2, 16, 9, 0, 0).unwrap(),
    });
    let events = when(&past, Command::ImportOrder(Box::new(again.clone())));
    let [Event::OrderRefunded(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((r.order.as_str(), r.amount), ("536365", dec("1.00")));
    // Once it has the refund, the same file adds nothing more.
    let past = with(past, &[Command::ImportOrder(Box::new(again.clone()))]);
    assert_eq!(when(&past, Command::ImportOrder(Box::new(again))), Vec::<Event>::new());
    // Another sale under the same number is not the same sale.
    let mut other = first;
    other.source.import = "b".into();
    other.lines = vec![item("Tea", 3, "2.00")];
    assert_eq!(placed(&when(&past, Command::ImportOrder(Box::new(other)))).order, "536365-2");
}

fn with_customer(mut order: ImportOrder, id: Option<&str>, name: Option<&str>, email: Option<&str>) -> Command {
    order.customer = Some(ImportedCustomer {
        id: id.map(Into::into),
        name: name.map(Into::into),
        email: email.map(Into::into),
        country: Some("Norway".into()),
    });
    Command::ImportOrder(Box::new(order))
}

#[test]
fn imported_customers_without_an_id_are_found_by_email_else_by_name() {
    let order = |n: &str| import_order("a", n, vec![item("Tea", 1, "2.00")]);
    let events = when(&shop(), with_customer(order("1"), None, Some("Zoë Müller"), Some("zoe@example.org")));
    let [Event::CustomerRegistered(c), Event::OrderPlaced(p)] = events.as_slice() else { panic!("{events:?}") };
    // Numbered by the shop's sequence (after the shop's customer 17850, which was given).
    assert_eq!((c.customer.id.as_str(), c.customer.name.as_str(), c.numbered), ("1", "Zoë Müller", true));
    assert_eq!(p.customer.as_ref().map(|c| c.id.as_str()), Some("1"));
    let past = with(shop(), &[with_customer(order("1"), None, Some("Zoë Müller"), Some("zoe@example.org"))]);
    // The same email, in another case and with another name: the same customer.
    let events = when(&past, with_customer(order("2"), None, Some("Z. Müller"), Some(" ZOE@Example.org ")));
    assert_eq!(placed(&events).customer.as_ref().map(|c| c.id.as_str()), Some("1"));
    // No email: by name, case and spaces folded.
    let events = when(&past, with_customer(order("3"), None, Some("  zoë   MÜLLER "), None));
    assert_eq!(placed(&events).customer.as_ref().map(|c| c.id.as_str()), Some("1"));
    // Another email is another customer, even with the same name.
    let events = when(&past, with_customer(order("4"), None, Some("Zoë Müller"), Some("zm@example.org")));
    let [Event::CustomerRegistered(c), _] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(c.customer.id, "2");
    // An id in the file is the customer of that id, and does not move the sequence.
    let events = when(&past, with_customer(order("5"), Some("17850"), None, None));
    assert_eq!(placed(&events).customer.as_ref().map(|c| c.name.as_str()), Some("Ada Lovelace"));
    let events = when(&past, with_customer(order("6"), Some("12346"), None, None));
    let [Event::CustomerRegistered(c), _] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((c.customer.name.as_str(), c.numbered), ("Customer 12346", false));
    let past = with(past, &[with_customer(order("6"), Some("12346"), None, None)]);
    assert_eq!(given(&past).free_customer_id(), "2");
}

#[test]
fn an_imported_order_is_recorded_whole_or_not_at_all() {
    let mut order = import_order("a", "7", vec![item("Tea", 1, "2.00")]);
    order.shipment = Some(ImportedShipment {
        carrier: "Royal Mail".into(),
        tracking: "RM1".into(),
        at: Utc.with_ymd_and_hms(2011, 2, 16, 9, 0, 0).unwrap(),
    });
    order.refunds.push(ImportedRefund { amount: money("5.00"), reason: "r".into(), at: order.at });
    assert_eq!(
        rejected(&shop(), Command::ImportOrder(Box::new(order.clone()))),
        "refund 5.00 GBP is more than the 2.00 GBP still refundable on order 7 (paid 2.00 GBP, already refunded 0.00 GBP)"
    );
    order.refunds[0].amount = money("0.50");
    let events = when(&shop(), Command::ImportOrder(Box::new(order)));
    let types: Vec<&str> = events.iter().map(Event::type_name).collect();
    assert_eq!(types, ["order.placed", "order.shipped", "order.refunded"]);
}

#[test]
fn imported_history_is_completed_and_an_open_import_is_one_to_ship() {
    let shipment = ImportedShipment {
        carrier: "Royal Mail".into(),
        tracking: "RM1".into(),
        at: Utc.with_ymd_and_hms(2011, 2, 16, 9, 0, 0).unwrap(),
    };
    let history = with(shop(), &[imported("a", "7", vec![item("Tea", 1, "2.00")])]);
    let status = |events: &[Event], id: &str| given(events).orders[id].status;
    assert_eq!(status(&history, "7"), OrderStatus::Completed);
    // A later export of the same sale says it went out and arrived: recorded, still completed.
    let mut later = import_order("b", "7", vec![item("Tea", 1, "2.00")]);
    later.shipment = Some(shipment.clone());
    later.delivered_at = Some(shipment.at);
    let later = with(history.clone(), &[Command::ImportOrder(Box::new(later))]);
    let order = &given(&later).orders["7"];
    assert_eq!(
        (order.status, order.shipment.is_some(), order.delivered_at.is_some()),
        (OrderStatus::Completed, true, true)
    );
    assert_eq!(rejected(&later, deliver("7")), "order 7 has already been marked delivered");
    assert_eq!(
        rejected(&later, cancel("7", "x")),
        "order 7 has already been shipped, so it cannot be cancelled; refund it instead"
    );
    // Money still goes back on history.
    when(&history, refund("7", "1.00", "chipped"));

    // The file says it is still open: placed here, to ship.
    let mut open = import_order("a", "8", vec![item("Tea", 1, "2.00")]);
    open.open = true;
    let open = with(shop(), &[Command::ImportOrder(Box::new(open))]);
    assert_eq!(status(&open, "8"), OrderStatus::Pending);
    let shipped = with(open, &[ship("8", "DHL", "JD1")]);
    assert_eq!(status(&shipped, "8"), OrderStatus::Shipped);
}

#[test]
fn an_order_placed_before_numbering_was_recorded_still_moves_the_sequence() {
    // v1 `order.placed` events did not say; they moved the sequence, and still do.
    let v1 = serde_json::json!({
        "order": "5000", "customer": null, "lines": [], "currency": "GBP", "note": null,
        "payment_method": null, "at": "2024-05-01T10:00:00Z",
        "totals": {"subtotal": "0", "discount": "0", "tax": "0", "total": "0"}
    });
    let event = Event::from_payload("order.placed", 1, v1).unwrap();
    let Event::OrderPlaced(p) = &event else { panic!() };
    assert!(p.numbered);
    let mut past = shop();
    past.push(event);
    assert_eq!(given(&past).free_order_id(), "5001");
}

// ---- bounded money: no total can overflow, whatever is typed or imported ----

#[test]
fn the_largest_line_the_form_accepts_is_refused_with_its_total_not_a_panic() {
    // Was: a panic in the tax split, reported as "the write store is damaged".
    let gold = |quantity: i64| item("Gold", quantity, "999999999");
    assert_eq!(
        rejected(&shop(), place("1", vec![gold(999_999)])),
        "line 1: line total 999,998,999,000,001.00 GBP is more than 1,000,000,000,000.00 GBP, the most one line may total; check the quantities and prices"
    );
    // Lines at the limit, many of them: the order's total is refused, nothing overflows.
    let big = || item("Gold", 1000, "999999999");
    assert_eq!(
        rejected(&shop(), place("1", vec![big(), big()])),
        "order total 1,999,999,998,000.00 GBP is more than 1,000,000,000,000.00 GBP, the most one order may total; check the quantities and prices"
    );
    let lines: Vec<LineInput> = (0..MAX_LINES).map(|_| big()).collect();
    assert!(rejected(&shop(), place("1", lines)).starts_with("order total 9,999,999,990,000,000.00 GBP is more than"));
    // One at the limit is recorded, its tax worked out exactly (prices include 20 %).
    let events = when(&shop(), place("1", vec![item("Gold", 1000, "1000000000")]));
    assert_eq!(
        (placed(&events).totals.total, placed(&events).totals.tax),
        (dec("1000000000000.00"), dec("166666666666.67"))
    );
}

#[test]
fn the_tax_split_of_the_largest_orders_stays_in_range() {
    // Many lines of the largest total, taxed, with a discount: taxed × goods would leave
    // Decimal's range.
    let lines: Vec<OrderLine> = (0..MAX_LINES)
        .map(|_| OrderLine {
            from_catalog: false,
            sku: None,
            name: "Gold".into(),
            quantity: 1,
            unit_price: dec("1000000000000"),
            tax_rate: dec("0.2"),
            total: dec("1000000000000.00"),
        })
        .collect();
    let currency = crate::money::Currency::parse("GBP").unwrap();
    let t = totals(&lines, dec("1.00"), currency, true);
    assert_eq!((t.subtotal, t.tax), (dec("10000000000000000.00"), dec("1666666666666666.50")));
}

// ---- payments ----

fn paying(order: &str, lines: Vec<LineInput>, tenders: &[(Tender, &str)], invoice: bool) -> Command {
    let Command::PlaceOrder(mut place) = place(order, lines) else { unreachable!() };
    place.payments =
        tenders.iter().map(|(tender, amount)| PaymentInput { tender: *tender, amount: money(amount) }).collect();
    place.invoice = invoice;
    Command::PlaceOrder(place)
}

fn pay(order: &str, tenders: &[(Tender, &str)]) -> Command {
    Command::PayOrder(PayOrder {
        order: order.into(),
        payments: tenders
            .iter()
            .map(|(tender, amount)| PaymentInput { tender: *tender, amount: money(amount) })
            .collect(),
        at: None,
    })
}

fn refund_by(order: &str, amount: &str, tender: Option<Tender>) -> Command {
    let Command::RefundOrder(mut refund) = refund(order, amount, "returned") else { unreachable!() };
    refund.tender = tender;
    Command::RefundOrder(refund)
}

fn payments_of(events: &[Event]) -> Vec<(Tender, Decimal, Option<Decimal>)> {
    placed(events).payments.iter().map(|p| (p.tender, p.amount, p.tendered)).collect()
}

#[test]
fn a_split_payment_takes_the_card_first_and_gives_change_from_the_cash() {
    // 2 mugs: 16.00. £10 on the card, a £20 note for the rest: £6 cash kept, £14 change.
    let events =
        when(&shop(), paying("7", vec![product_line("MUG", 2)], &[(Tender::Card, "10"), (Tender::Cash, "20")], false));
    assert_eq!(
        payments_of(&events),
        [(Tender::Card, dec("10.00"), None), (Tender::Cash, dec("6.00"), Some(dec("20.00")))]
    );
    assert_eq!(placed(&events).payments[1].change(), dec("14.00"));
    assert_eq!(placed(&events).payment_method.as_deref(), Some("Card + Cash"));
    let state = given(&with(
        shop(),
        &[paying("7", vec![product_line("MUG", 2)], &[(Tender::Card, "10"), (Tender::Cash, "20")], false)],
    ));
    assert_eq!((state.orders["7"].paid(), state.orders["7"].due()), (dec("16.00"), dec("0.00")));
}

#[test]
fn only_cash_can_be_more_than_is_due_and_every_tender_must_count() {
    let mugs = || vec![product_line("MUG", 2)];
    assert_eq!(
        rejected(&shop(), paying("7", mugs(), &[(Tender::Card, "20")], false)),
        "the card payment 20.00 GBP is more than the 16.00 GBP still due; take 16.00 GBP (only cash can be more: the difference is given back as change)"
    );
    assert_eq!(
        rejected(&shop(), paying("7", mugs(), &[(Tender::Cash, "20"), (Tender::Card, "1")], false)),
        "the order is already paid in full before the card payment of 1.00 GBP; leave it out"
    );
    assert_eq!(
        rejected(&shop(), paying("7", mugs(), &[(Tender::GiftCard, "0")], false)),
        "the gift card payment 0.00 GBP must be more than zero; enter what was paid, or leave the tender out"
    );
    assert_eq!(
        rejected(&shop(), paying("7", mugs(), &[(Tender::Cash, "10")], false)),
        "6.00 GBP of the 16.00 GBP is not paid yet; take the rest, or place the order as an invoice to be paid later"
    );
    assert_eq!(
        rejected(&shop(), paying("7", mugs(), &[(Tender::Cash, "10 EUR")], false)),
        decide(&given(&shop()), &paying("7", mugs(), &[(Tender::Cash, "10 EUR")], false)).unwrap_err().to_string(),
    );
    let many: Vec<(Tender, &str)> = (0..=MAX_TENDERS).map(|_| (Tender::Card, "0.01")).collect();
    assert_eq!(
        rejected(&shop(), paying("7", mugs(), &many, false)),
        "21 tenders is more than the 20 one payment takes; combine them"
    );
}

#[test]
fn an_invoice_is_paid_later_in_parts_and_never_beyond_its_total() {
    let mugs = || vec![product_line("MUG", 2)];
    let invoice = with(shop(), &[paying("7", mugs(), &[], true)]);
    assert_eq!(given(&invoice).orders["7"].due(), dec("16.00"));
    // Nothing paid yet: nothing to refund.
    assert_eq!(
        rejected(&invoice, refund("7", "1", "x")),
        "refund 1.00 GBP is more than the 0.00 GBP still refundable on order 7 (paid 0.00 GBP, already refunded 0.00 GBP)"
    );
    assert_eq!(rejected(&invoice, pay("7", &[])), "no payment given; 16.00 GBP is due: enter what was paid and how");
    let part = with(invoice, &[pay("7", &[(Tender::Card, "10")])]);
    assert_eq!(given(&part).orders["7"].due(), dec("6.00"));
    assert_eq!(
        rejected(&part, pay("7", &[(Tender::Card, "7")])),
        "the card payment 7.00 GBP is more than the 6.00 GBP still due; take 6.00 GBP (only cash can be more: the difference is given back as change)"
    );
    let events = when(&part, pay("7", &[(Tender::Cash, "10")]));
    let [Event::OrderPaid(paid)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((paid.payments[0].amount, paid.payments[0].change()), (dec("6.00"), dec("4.00")));
    let settled = with(part, &[pay("7", &[(Tender::Cash, "10")])]);
    assert_eq!(
        rejected(&settled, pay("7", &[(Tender::Cash, "1")])),
        "order 7 is already paid in full (16.00 GBP); nothing is due"
    );
    let cancelled = with(with(shop(), &[paying("8", mugs(), &[], true)]), &[cancel("8", "changed their mind")]);
    assert!(rejected(&cancelled, pay("8", &[(Tender::Cash, "16")])).contains("cancelled"));
}

#[test]
fn a_refund_goes_back_by_the_main_tender_and_a_card_gets_back_only_what_it_paid() {
    let split =
        with(shop(), &[paying("7", vec![product_line("MUG", 2)], &[(Tender::Card, "10"), (Tender::Cash, "6")], false)]);
    let events = when(&split, refund_by("7", "4", None));
    let [Event::OrderRefunded(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.tender, Some(Tender::Card), "the card paid the most");
    assert_eq!(
        rejected(&split, refund_by("7", "11", Some(Tender::Card))),
        "11.00 GBP cannot go back by card on order 7: 10.00 GBP of what was paid by card is left to refund; refund at most that by card, or the rest by cash"
    );
    let after = with(split, &[refund_by("7", "8", Some(Tender::Card))]);
    assert!(
        rejected(&after, refund_by("7", "3", Some(Tender::Card))).contains("2.00 GBP of what was paid by card is left")
    );
    // Cash can give back the rest, whatever paid it.
    let events = when(&after, refund_by("7", "8", Some(Tender::Cash)));
    let [Event::OrderRefunded(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((r.amount, r.tender), (dec("8.00"), Some(Tender::Cash)));
}

#[test]
fn an_order_placed_before_payments_reads_as_paid_in_full_by_its_method() {
    let v3 = serde_json::json!({
        "order": "1001", "customer": null, "lines": [], "currency": "GBP", "note": null,
        "totals": {"subtotal": "16.00", "discount": "0.00", "tax": "0.00", "total": "16.00"},
        "payment_method": "Visa", "at": "2024-05-01T10:00:00Z"
    });
    let Event::OrderPlaced(placed) = Event::from_payload("order.placed", 3, v3).unwrap() else { panic!() };
    assert_eq!(placed.payments, [Payment { tender: Tender::Card, amount: dec("16.00"), tendered: None, at: now() }]);
    let v2_free = serde_json::json!({
        "order": "1002", "customer": null, "lines": [], "currency": "GBP", "note": null,
        "totals": {"subtotal": "0.00", "discount": "0.00", "tax": "0.00", "total": "0.00"},
        "payment_method": null, "at": "2024-05-01T10:00:00Z", "numbered": true
    });
    let Event::OrderPlaced(free) = Event::from_payload("order.placed", 2, v2_free).unwrap() else { panic!() };
    assert!(free.payments.is_empty(), "nothing to pay on a free order");
    // A v2 refund went back as paid: it names no tender.
    let refund = serde_json::json!({"order": "1001", "amount": "4.00", "reason": "x", "at": "2024-05-01T10:00:00Z"});
    let Event::OrderRefunded(r) = Event::from_payload("order.refunded", 2, refund).unwrap() else { panic!() };
    assert_eq!(r.tender, None);
}

// ---- stock ----

#[test]
fn stock_is_received_in_whole_units_and_counted_with_a_reason() {
    let receive =
        |sku: &str, quantity| Command::ReceiveStock(ReceiveStock { sku: sku.into(), quantity, note: None, at: None });
    let count = |counted, reason: &str| {
        Command::CountStock(CountStock { sku: "MUG".into(), counted, reason: reason.into(), at: None })
    };
    assert_eq!(
        when(&shop(), receive(" MUG ", 12)),
        vec![Event::StockReceived(StockReceived { sku: "MUG".into(), quantity: 12, note: None, at: now() })]
    );
    assert_eq!(
        rejected(&shop(), receive("NOPE", 1)),
        decide(&given(&shop()), &receive("NOPE", 1)).unwrap_err().to_string()
    );
    assert!(rejected(&shop(), receive("NOPE", 1)).contains("NOPE"));
    assert_eq!(
        rejected(&shop(), receive("MUG", 0)),
        "0 received is not a delivery; enter 1 or more (goods that left the shelf some other way: count the shelf)"
    );
    assert!(rejected(&shop(), receive("MUG", 2_000_000)).contains("2000000"));
    assert_eq!(
        rejected(&shop(), count(-1, "x")),
        "-1 is not a stock level; enter a whole number from 0 to 1,000,000,000"
    );
    assert!(rejected(&shop(), count(3, " ")).starts_with("reason is empty"));
    let set = |low: Option<i64>| {
        Command::UpdateProduct(UpdateProduct { sku: "MUG".into(), low_stock_at: Some(low), ..Default::default() })
    };
    let low = with(shop(), &[set(Some(4))]);
    assert_eq!(given(&low).products["MUG"].low_stock_at, Some(4));
    assert!(when(&low, set(Some(4))).is_empty(), "the same level again changes nothing");
    assert_eq!(given(&with(low, &[set(None)])).products["MUG"].low_stock_at, None);
}

// ---- admission: an event from another till passes the bounds `decide` puts on commands ----

/// Runs `commands` through `decide` on `state`, folding in what each records, and says that
/// every event recorded is admissible as recorded at the moment of deciding. Returns them.
fn admitted(state: &mut State, commands: &[Command]) -> Vec<Event> {
    let mut recorded = Vec::new();
    for command in commands {
        let events = decide(state, command).unwrap_or_else(|r| panic!("{command:?} rejected: {r}"));
        for event in &events {
            if let Err(e) = admissible(event, state.now) {
                panic!("decide recorded an event admission refuses: {e}\n{event:?}");
            }
            apply(state, event);
        }
        recorded.extend(events);
    }
    recorded
}

/// Till B of a shop with several tills, whose clock is 5 hours behind a stamp it has seen
/// from till A: its edits carry A's time, and still count.
fn till_b() -> State {
    let mut state = State::empty(now());
    state.till = Some("B".into());
    state.clock = Some(Stamp { at: now() + chrono::TimeDelta::hours(5), n: 0, till: "A".into() });
    state
}

fn long(c: &str, length: usize) -> String {
    c.repeat(length)
}

/// An item line of `quantity` at `price`.
fn gold(quantity: i64, price: &str) -> LineInput {
    item("Gold", quantity, price)
}

/// Every kind of command, with text, quantities and amounts at their limits.
fn every_command_at_the_limits() -> Vec<Command> {
    let name = long("é", NAME_MAX);
    let email = format!("{}@example.com", long("a", EMAIL_MAX - "@example.com".len()));
    let Command::PlaceOrder(mut split) = place("x", vec![product_line("MUG", 2), item("Gift wrap", 1, "1.50")]) else {
        unreachable!()
    };
    // Numbered by this till (`B-1001`), for a customer, 10 % off; 19 card payments of 0.01
    // and a £20 note for the rest, with change.
    split.order = None;
    split.customer = Some("17850".into());
    split.discount = Some(DiscountInput::Percent(dec("10")));
    split.note = Some(format!("gift\n{}", long("n", NOTE_MAX - 5)));
    split.payments =
        (0..MAX_TENDERS - 1).map(|_| PaymentInput { tender: Tender::Card, amount: money("0.01") }).collect();
    split.payments.push(PaymentInput { tender: Tender::Cash, amount: money("20") });
    let mut imported_by_email = import_order("f00dfeedf00dfeed", "536365", vec![item("Tea", 3, "2.00")]);
    // Named by an email longer than a name may be, which becomes their name.
    let unnamed = format!("{}@example.org", long("b", EMAIL_MAX - "@example.org".len()));
    imported_by_email.customer =
        Some(ImportedCustomer { id: None, name: None, email: Some(unnamed), country: Some(long("c", SHORT_MAX)) });
    imported_by_email.discount = Some(money("0.50"));
    imported_by_email.shipment = Some(ImportedShipment {
        carrier: "Royal Mail".into(),
        tracking: "RM1".into(),
        at: Utc.with_ymd_and_hms(2011, 2, 16, 9, 0, 0).unwrap(),
    });
    imported_by_email.delivered_at = Some(Utc.with_ymd_and_hms(2011, 2, 17, 9, 0, 0).unwrap());
    imported_by_email.refunds.push(ImportedRefund { amount: money("1.00"), reason: "chipped".into(), at: now() });
    let mut imported_cancelled = import_order("f00dfeedf00dfeed", "536366", vec![item("Tea", 1, "2.00")]);
    imported_cancelled.cancellation = Some(ImportedCancellation { reason: "never paid".into(), at: now() });
    let drawer = |kind, amount: &str, note: Option<&str>| {
        Command::RecordDrawer(RecordDrawer {
            kind,
            amount: money(amount),
            note: note.map(Into::into),
            day: None,
            at: None,
        })
    };
    vec![
        open_shop(true),
        Command::ChangeShopSettings(ChangeShopSettings {
            name: Some(name.clone()),
            day_start: Some("23:59".into()),
            address: Some("1 High Street\nLondon".into()),
            receipt_footer: Some(long("f", NOTE_MAX)),
            ..Default::default()
        }),
        Command::AddProduct(AddProduct {
            sku: long("S", SKU_MAX),
            name: name.clone(),
            unit_price: money("999999999.999999"),
            tax_rate: Some(Decimal::ONE),
            image: Some(long("p", PATH_MAX)),
        }),
        add_product("MUG", "Enamel mug", "8.00"),
        Command::UpdateProduct(UpdateProduct {
            sku: "MUG".into(),
            name: Some("Blue mug".into()),
            unit_price: Some(money("1000000000")),
            tax_rate: Some(dec("0.05")),
            image: Some("mug.png".into()),
            archived: Some(true),
            not_merchandise: Some(true),
            low_stock_at: Some(Some(MAX_ON_HAND)),
        }),
        Command::UpdateProduct(UpdateProduct {
            sku: "MUG".into(),
            name: Some("Enamel mug".into()),
            unit_price: Some(money("8.00")),
            image: Some(String::new()),
            archived: Some(false),
            not_merchandise: Some(false),
            low_stock_at: Some(None),
            ..Default::default()
        }),
        Command::AddCustomer(AddCustomer {
            id: Some(long("C", ID_MAX)),
            name: name.clone(),
            email: Some(email.clone()),
            phone: Some(long("0", PHONE_MAX)),
            country: Some(long("c", SHORT_MAX)),
        }),
        add_customer("17850", "Ada Lovelace"),
        Command::AddCustomer(AddCustomer { name: "Grace Hopper".into(), ..Default::default() }),
        Command::UpdateCustomer(UpdateCustomer {
            id: "17850".into(),
            email: Some("ada@example.org".into()),
            phone: Some("+44 20 7946 0958".into()),
            ..Default::default()
        }),
        Command::ReceiveStock(ReceiveStock {
            sku: "MUG".into(),
            quantity: MAX_QUANTITY,
            note: Some(long("d", SHORT_MAX)),
            at: None,
        }),
        Command::CountStock(CountStock {
            sku: "MUG".into(),
            counted: MAX_ON_HAND,
            reason: long("r", REASON_MAX),
            at: None,
        }),
        Command::PlaceOrder(split),
        paying("INV1", vec![product_line("MUG", 2)], &[(Tender::Card, "10")], true),
        pay("INV1", &[(Tender::Cash, "10")]),
        place("7", vec![product_line("MUG", 3), item("Gift wrap", 1, "2.00")]),
        ship("7", &long("c", SHORT_MAX), &long("t", SHORT_MAX)),
        deliver("7"),
        Command::RefundOrder(RefundOrder {
            restock: true,
            ..match refund_lines("7", &[(2, 1), (1, 2)], None) {
                Command::RefundOrder(r) => r,
                _ => unreachable!(),
            }
        }),
        refund_by("7", "1.00", Some(Tender::Cash)),
        place("8", vec![product_line("MUG", 1)]),
        cancel("8", &long("r", REASON_MAX)),
        drawer(DrawerMove::Float, "100", None),
        drawer(DrawerMove::Removed, "50", Some("banked")),
        drawer(DrawerMove::Counted, "1000000000000", Some("a good day")),
        record_return("C1", vec![product_line("MUG", 1), item("Gift wrap", 1, "1.50")], "credit note"),
        Command::ImportOrder(Box::new(imported_by_email)),
        Command::ImportOrder(Box::new(imported_cancelled)),
        Command::ImportReturn(ImportReturn {
            source: Source { import: "f00dfeedf00dfeed".into(), number: "C536379".into() },
            customer: Some(ImportedCustomer { id: Some("12346".into()), ..Default::default() }),
            lines: vec![item("Tea", 1, "2.00")],
            reason: "returned".into(),
            at: now(),
        }),
        // The biggest order there is: MAX_LINES lines that come to MAX_TOTAL.
        place("BIG", (0..MAX_LINES).map(|_| gold(1, "100000000")).collect()),
        place("GOLD", vec![gold(MAX_QUANTITY, "1000000")]),
    ]
}

#[test]
fn every_event_decide_records_is_admissible() {
    let mut state = till_b();
    let events = admitted(&mut state, &every_command_at_the_limits());
    // Two tills apart: one refunds order 9 while this one cancels it; then the owner resolves it.
    admitted(&mut state, &[place("9", vec![product_line("MUG", 1)])]);
    let refunded_elsewhere = admitted(&mut state.clone(), &[refund("9", "1.00", "chipped")]);
    admitted(&mut state, &[cancel("9", "changed their mind")]);
    for e in &refunded_elsewhere {
        apply(&mut state, e);
    }
    let resolved = admitted(
        &mut state,
        &[Command::ResolveConflicts(ResolveConflicts { order: "9".into(), note: "refunded twice".into(), at: None })],
    );
    let mut names: Vec<&str> = events.iter().chain(&resolved).map(Event::type_name).collect();
    names.sort_unstable();
    names.dedup();
    // The roster's events are recorded by the store's sync jobs, not by a command: the store's
    // trust tests send them from till to till, through this same check.
    let all: Vec<&str> = EVENT_TYPES.iter().map(|(name, _)| *name).filter(|n| !n.starts_with("device.")).collect();
    assert_eq!(names.len(), all.len(), "every event type is recorded: {names:?}");
    let stamps: Vec<&Stamp> = events
        .iter()
        .filter_map(|e| match e {
            Event::ProductRenamed(e) => e.stamp.as_ref(),
            _ => None,
        })
        .collect();
    assert!(stamps.iter().all(|s| s.at == now() + chrono::TimeDelta::hours(5)), "{stamps:?}");
    let Some(Event::OrderPlaced(biggest)) =
        events.iter().find(|e| matches!(e, Event::OrderPlaced(p) if p.order == "BIG"))
    else {
        panic!("no biggest order")
    };
    assert_eq!((biggest.lines.len(), biggest.totals.total), (MAX_LINES, crate::money::MAX_TOTAL));
}

#[test]
fn every_event_of_a_shop_in_yen_taxed_on_top_on_one_device_is_admissible() {
    let open = Command::OpenShop(OpenShop {
        name: "Kissa".into(),
        currency: "JPY".into(),
        time_zone: "Asia/Tokyo".into(),
        day_start: "05:00".into(),
        prices_include_tax: false,
        default_tax_rate: dec("0.1"),
    });
    let Command::PlaceOrder(mut order) = place("1", vec![product_line("CUP", 3), item("Tea", 2, "333.3")]) else {
        unreachable!()
    };
    order.discount = Some(DiscountInput::Percent(dec("7.5")));
    order.payments = vec![PaymentInput { tender: Tender::Cash, amount: money("5000") }];
    let commands = [
        open,
        add_product("CUP", "Cup", "480"),
        Command::PlaceOrder(order),
        refund_lines("1", &[(1, 1)], None),
        Command::ChangeShopSettings(ChangeShopSettings { prices_include_tax: Some(true), ..Default::default() }),
        place("2", vec![product_line("CUP", 1)]),
    ];
    let events = admitted(&mut State::empty(now()), &commands);
    // The first order was taxed on top, and stays admissible after the shop changed that.
    for e in &events {
        assert_eq!(admissible(e, now()), Ok(()));
    }
}

/// The refusal of `event`, recorded at [`now`].
fn inadmissible(event: Event) -> String {
    match admissible(&event, now()) {
        Ok(()) => panic!("admitted: {event:?}"),
        Err(e) => e.to_string(),
    }
}

/// An event of type `name` as `decide` records it: the placing of [`one_order`] (2 mugs at
/// 8.00, paid in full: subtotal 16.00, tax 2.67, total 16.00), or else the last of its type
/// among [`every_command_at_the_limits`].
fn recorded(name: &str) -> Event {
    let events =
        if name == "order.placed" { one_order() } else { admitted(&mut till_b(), &every_command_at_the_limits()) };
    events.into_iter().rev().find(|e| e.type_name() == name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn an_order_beyond_a_bound_is_refused_naming_the_field() {
    let order = recorded("order.placed");
    let check = |spoil: &dyn Fn(&mut OrderPlaced), expected: &str| {
        let Event::OrderPlaced(mut e) = order.clone() else { unreachable!() };
        spoil(&mut e);
        assert_eq!(inadmissible(Event::OrderPlaced(e)), format!("order.placed event refused: {expected}"));
    };
    check(
        &|e| e.lines[0].total = dec("10000000000000000000000000"),
        "line 1 total 10000000000000000000000000 is more than 1,000,000,000,000, the most Countertop records",
    );
    check(&|e| e.lines[0].total = dec("-16.00"), "line 1 total -16.00 is negative");
    check(&|e| e.lines[0].total = dec("16.001"), "line 1 total 16.001 is not rounded to the GBP minor unit");
    check(
        &|e| e.customer = Some(CustomerRef { id: "17850".into(), name: long("x", 1 << 20) }),
        "customer name is 1048576 characters long, more than 200",
    );
    check(&|e| e.lines[0].sku = Some("MU\u{7}G".into()), "line 1 SKU contains a control character (U+0007)");
    check(&|e| e.lines[0].sku = Some("MU G".into()), "line 1 SKU contains white space");
    check(&|e| e.lines[0].sku = None, "line 1 SKU is missing on a catalog line");
    check(
        &|e| e.lines[0].name = " Enamel mug".into(),
        "line 1 name has white space at its start or end; the rules record text trimmed",
    );
    check(&|e| e.lines[0].name = String::new(), "line 1 name is empty");
    check(&|e| e.lines[0].quantity = 0, "line 1 quantity 0 is less than 1");
    check(&|e| e.lines[0].quantity = 1_000_001, "line 1 quantity 1000001 is more than 1000000");
    check(&|e| e.lines[0].unit_price = dec("-8"), "line 1 unit price -8 is negative");
    check(&|e| e.lines[0].unit_price = dec("8.0000001"), "line 1 unit price 8.0000001 has more than 6 decimal places");
    check(&|e| e.lines[0].unit_price = dec("1000000000.01"), "line 1 unit price 1000000000.01 is more than 1000000000");
    check(&|e| e.lines[0].tax_rate = dec("2"), "line 1 tax rate 2 is outside 0 to 1");
    check(&|e| e.lines.clear(), "lines are none; an order or return has at least one");
    check(&|e| e.lines = vec![e.lines[0].clone(); MAX_LINES + 1], "lines are 10001, more than 10000");
    check(
        &|e| e.totals.total = dec("17.00"),
        "totals (subtotal 16.00, discount 0.00, tax 2.67, total 17.00) are not what the lines and the discount come to",
    );
    check(
        &|e| e.totals.tax = dec("0.00"),
        "totals (subtotal 16.00, discount 0.00, tax 0.00, total 16.00) are not what the lines and the discount come to",
    );
    check(&|e| e.totals.discount = dec("20.00"), "discount 20.00 is more than the goods (16.00)");
    check(&|e| e.totals.discount = dec("-1.00"), "discount -1.00 is negative");
    check(&|e| e.discount_percent = Some(dec("10")), "discount 0.00 is not 10% of the goods (1.60)");
    check(&|e| e.discount_percent = Some(dec("101")), "discount percentage 101 is outside 0 to 100");
    check(&|e| e.payments[0].amount = dec("-5"), "payment 1 amount -5 is not more than zero");
    check(
        &|e| e.payments.push(Payment { tender: Tender::Cash, amount: dec("1.00"), tendered: None, at: now() }),
        "payments pay 17.00, more than the total of 16.00",
    );
    check(
        &|e| e.payments[0].tendered = Some(dec("20.00")),
        "payment 1 cash handed over is on a payment by other; only cash gives change",
    );
    check(
        &|e| (e.payments[0].tender, e.payments[0].tendered) = (Tender::Cash, Some(dec("16.00"))),
        "payment 1 cash handed over 16.00 is not more than the 16.00 it paid",
    );
    check(
        &|e| {
            e.payments[0] =
                Payment { tender: Tender::Cash, amount: dec("6.00"), tendered: Some(dec("20.00")), at: now() }
        },
        "payments give change but pay 6.00 of a total of 16.00; cash gives change only when it settles",
    );
    check(
        &|e| e.payments = vec![Payment { tender: Tender::Card, amount: dec("0.01"), tendered: None, at: now() }; 21],
        "payments are 21, more than the 20 one payment takes",
    );
    check(
        &|e| e.payments[0].at = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap(),
        "payment 1 time 9999-01-01 00:00:00 UTC is not the event's time, 2024-05-01 10:00:00 UTC",
    );
    check(&|e| e.order = "a/b".into(), "order number 'a/b' has characters other than letters, digits and - _ .");
    check(
        &|e| e.note = Some(" hello".into()),
        "note has white space at its start or end; the rules record text trimmed",
    );
    check(&|e| e.note = Some("a\u{202E}b".into()), "note contains an invisible text-direction control (U+202E)");
    check(&|e| e.payment_method = Some(String::new()), "payment method is blank; the rules record no text instead");
    check(&|e| e.payment_method = Some("Card\nCash".into()), "payment method contains a control character (U+000A)");
    check(
        &|e| e.source = Some(Source { import: long("f", SHORT_MAX + 1), number: "7".into() }),
        "import is 65 characters long, more than 64",
    );
    // A negative quantity does not even read as an event (quantities are unsigned).
    let mut payload = order.to_payload();
    payload["lines"][0]["quantity"] = serde_json::json!(-2);
    assert!(matches!(Event::from_payload("order.placed", 4, payload), Err(DecodeError::Malformed { .. })));
}

#[test]
fn money_and_goods_beyond_a_bound_are_refused_naming_the_field() {
    let check = |event: Event, expected: &str| assert_eq!(inadmissible(event.clone()), expected, "{event:?}");
    let refunded = |f: fn(&mut OrderRefunded)| {
        let Event::OrderRefunded(mut e) = recorded("order.refunded") else { unreachable!() };
        f(&mut e);
        Event::OrderRefunded(e)
    };
    check(refunded(|e| e.amount = dec("-5")), "order.refunded event refused: refund amount -5 is not more than zero");
    check(refunded(|e| e.amount = dec("0")), "order.refunded event refused: refund amount 0 is not more than zero");
    check(
        refunded(|e| e.amount = dec("1000000000000.01")),
        "order.refunded event refused: refund amount 1000000000000.01 is more than 1,000,000,000,000, the most Countertop records",
    );
    check(
        refunded(|e| e.lines = vec![RefundedLine { line: 1, quantity: 1 }, RefundedLine { line: 0, quantity: 1 }]),
        "order.refunded event refused: refunded line 2 names line 1 again or out of order",
    );
    check(
        refunded(|e| e.lines = vec![RefundedLine { line: 0, quantity: 0 }]),
        "order.refunded event refused: refunded line 1 quantity 0 is less than 1",
    );
    check(
        refunded(|e| e.lines = vec![RefundedLine { line: u32::MAX, quantity: 1 }]),
        "order.refunded event refused: refunded line 1 names line 4294967296; an order has at most 10000",
    );
    check(refunded(|e| e.restock = true), "order.refunded event refused: restock names no goods to put back");
    check(
        refunded(|e| e.reason = long("r", REASON_MAX + 1)),
        "order.refunded event refused: reason is 501 characters long, more than 500",
    );
    let paid = |f: fn(&mut OrderPaid)| {
        let Event::OrderPaid(mut e) = recorded("order.paid") else { unreachable!() };
        f(&mut e);
        Event::OrderPaid(e)
    };
    check(
        paid(|e| e.payments[0].amount = dec("-5")),
        "order.paid event refused: payment 1 amount -5 is not more than zero",
    );
    check(
        paid(|e| e.payments.clear()),
        "order.paid event refused: payments are none; a payment takes at least one tender",
    );
    let cancelled = |f: fn(&mut OrderCancelled)| {
        let Event::OrderCancelled(mut e) = recorded("order.cancelled") else { unreachable!() };
        f(&mut e);
        Event::OrderCancelled(e)
    };
    check(
        cancelled(|e| {
            if let Some(knew) = &mut e.knew {
                knew.payments[0].amount = dec("100000000000000000000");
            }
        }),
        "order.cancelled event refused: known payment 1 amount 100000000000000000000 is more than 1,000,000,000,000, the most Countertop records",
    );
    let drawer = |kind, amount: &str, note: Option<&str>| {
        Event::DrawerRecorded(DrawerRecorded {
            kind,
            day: now().date_naive(),
            amount: dec(amount),
            note: note.map(Into::into),
            at: now(),
        })
    };
    assert_eq!(admissible(&drawer(DrawerMove::Float, "0", None), now()), Ok(()));
    check(drawer(DrawerMove::Float, "-1", None), "drawer.recorded event refused: amount -1 is negative");
    check(
        drawer(DrawerMove::Removed, "0", Some("banked")),
        "drawer.recorded event refused: amount 0 is not more than zero",
    );
    check(drawer(DrawerMove::Removed, "5", None), "drawer.recorded event refused: reason is empty");
    let stock = |quantity| Event::StockReceived(StockReceived { sku: "MUG".into(), quantity, note: None, at: now() });
    check(stock(0), "stock.received event refused: quantity 0 is less than 1");
    check(stock(1_000_001), "stock.received event refused: quantity 1000001 is more than 1000000");
    let count =
        |counted| Event::StockCounted(StockCounted { sku: "MUG".into(), counted, reason: "shelf".into(), at: now() });
    check(count(-1), "stock.counted event refused: count -1 is outside 0 to 1000000000");
    check(count(MAX_ON_HAND + 1), "stock.counted event refused: count 1000000001 is outside 0 to 1000000000");
    let low = Event::ProductLowStockSet(ProductLowStockSet { sku: "MUG".into(), low_at: Some(-1), stamp: None });
    check(low, "product.low_stock_set event refused: low-stock level -1 is outside 0 to 1000000000");
    let returned = |f: fn(&mut Return)| {
        let Event::ReturnRecorded(mut e) = recorded("return.recorded") else { unreachable!() };
        f(&mut e.record);
        Event::ReturnRecorded(e)
    };
    check(
        returned(|r| r.amount = dec("2.01")),
        "return.recorded event refused: return amount 2.01 is not the sum of its lines (2.00)",
    );
    check(
        returned(|r| r.lines.clear()),
        "return.recorded event refused: lines are none; an order or return has at least one",
    );
}

#[test]
fn text_ids_and_settings_beyond_a_bound_are_refused_naming_the_field() {
    let check = |event: Event, expected: &str| assert_eq!(inadmissible(event.clone()), expected, "{event:?}");
    let product = |f: fn(&mut ProductAdded)| {
        let Event::ProductAdded(mut e) = recorded("product.added") else { unreachable!() };
        f(&mut e);
        Event::ProductAdded(e)
    };
    check(
        product(|e| e.product.name = long("é", NAME_MAX + 1)),
        "product.added event refused: product name is 201 characters long, more than 200",
    );
    check(
        product(|e| e.product.sku = long("S", SKU_MAX + 1)),
        "product.added event refused: SKU is 65 characters long, more than 64",
    );
    check(
        product(|e| e.product.image = Some(long("p", PATH_MAX + 1))),
        "product.added event refused: image path is 1025 characters long, more than 1024",
    );
    check(
        product(|e| e.product.unit_price = dec("-0.01")),
        "product.added event refused: unit price -0.01 is negative",
    );
    check(
        product(|e| e.product.tax_rate = dec("-0.2")),
        "product.added event refused: tax rate -0.2 is outside 0 to 1",
    );
    let customer = |f: fn(&mut Customer)| {
        let Event::CustomerRegistered(mut e) = recorded("customer.registered") else { unreachable!() };
        f(&mut e.customer);
        Event::CustomerRegistered(e)
    };
    check(
        customer(|c| c.id = long("C", ID_MAX + 1)),
        "customer.registered event refused: customer id is 33 characters long, more than 32",
    );
    check(
        customer(|c| c.email = Some("jo@gmail".into())),
        "customer.registered event refused: email 'jo@gmail' is not an email address",
    );
    check(
        customer(|c| c.phone = Some("call me".into())),
        "customer.registered event refused: phone 'call me' has characters other than digits, spaces and + - ( ) . /",
    );
    check(
        customer(|c| c.country = Some(long("c", SHORT_MAX + 1))),
        "customer.registered event refused: country is 65 characters long, more than 64",
    );
    check(
        customer(|c| c.name = long("n", 300)),
        "customer.registered event refused: customer name is 300 characters long, more than 200",
    );
    let changed = |fields: &[&str]| {
        let Event::CustomerDetailsChanged(mut e) = recorded("customer.details_changed") else { unreachable!() };
        e.changed = fields.iter().map(|f| (*f).to_owned()).collect();
        Event::CustomerDetailsChanged(e)
    };
    let twice = "customer.details_changed event refused: changed fields names a field twice or one a customer does not have (name, email, phone, country)";
    check(changed(&["email", "email"]), twice);
    check(changed(&["password"]), twice);
    let resolved = Event::OrderConflictsResolved(OrderConflictsResolved {
        order: "9".into(),
        conflicts: Vec::new(),
        note: "x".into(),
        at: now(),
    });
    check(
        resolved,
        "order.conflicts_resolved event refused: conflicts are none, repeated or out of order; a resolution lists those it closed",
    );
    let shipped = Event::OrderShipped(OrderShipped {
        order: "7".into(),
        carrier: String::new(),
        tracking: "RM1".into(),
        at: now(),
    });
    check(shipped, "order.shipped event refused: carrier is empty");
    let settings = |f: fn(&mut ShopSettingsChanged)| {
        let Event::ShopSettingsChanged(mut e) = recorded("shop.settings_changed") else { unreachable!() };
        f(&mut e);
        Event::ShopSettingsChanged(e)
    };
    check(
        settings(|e| e.day_start = chrono::NaiveTime::from_hms_opt(4, 0, 30).unwrap()),
        "shop.settings_changed event refused: business-day start 04:00:30 is not a whole minute",
    );
    check(
        settings(|e| e.default_tax_rate = dec("1.5")),
        "shop.settings_changed event refused: default tax rate 1.5 is outside 0 to 1",
    );
    check(
        settings(|e| e.receipt_footer = Some(long("f", NOTE_MAX + 1))),
        "shop.settings_changed event refused: receipt footer is 2001 characters long, more than 2000",
    );
    check(
        settings(|e| e.address = Some("1 High St\u{2066}".into())),
        "shop.settings_changed event refused: shop address contains an invisible text-direction control (U+2066)",
    );
}

#[test]
fn a_stamp_far_ahead_of_its_event_or_out_of_ticks_is_refused_and_one_hours_ahead_is_not() {
    // Was: a stamp dated 9999 (or with n = u32::MAX, where the clock stopped) from one till
    // won every later edit of that field on every till.
    let renamed = |at: DateTime<Utc>, n: u32, till: &str| {
        Event::ProductRenamed(ProductRenamed {
            sku: "MUG".into(),
            name: "Blue mug".into(),
            stamp: Some(Stamp { at, n, till: till.into() }),
        })
    };
    let admits = |event: Event| admissible(&event, now());
    let hours = chrono::TimeDelta::hours;
    assert_eq!(admits(renamed(now() + hours(5), 0, "A")), Ok(()), "a till with its clock 5 h ahead converges");
    assert_eq!(admits(renamed(now() - hours(24 * 365), 0, "A")), Ok(()), "a clock behind is no harm");
    assert_eq!(admits(renamed(now() + clock::MAX_STAMP_AHEAD, clock::MAX_STAMP_TICKS - 1, "AB")), Ok(()));
    assert_eq!(
        inadmissible(renamed(now() + clock::MAX_STAMP_AHEAD + chrono::TimeDelta::microseconds(1), 0, "A")),
        "product.renamed event refused: stamp 2024-05-08 10:00:00.000001 UTC is more than 7 days after the event was recorded (2024-05-01 10:00:00 UTC)"
    );
    assert_eq!(
        inadmissible(renamed(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(), 0, "A")),
        "product.renamed event refused: stamp 9999-12-31 23:59:59 UTC is more than 7 days after the event was recorded (2024-05-01 10:00:00 UTC)"
    );
    assert_eq!(
        inadmissible(renamed(now(), u32::MAX, "A")),
        "product.renamed event refused: stamp tick 4294967295 is not below 1048576"
    );
    assert_eq!(
        inadmissible(renamed(now(), clock::MAX_STAMP_TICKS, "A")),
        "product.renamed event refused: stamp tick 1048576 is not below 1048576"
    );
    assert_eq!(
        inadmissible(renamed(now(), 0, "A/1")),
        "product.renamed event refused: stamp's till 'A/1' has characters other than letters, digits and - _ ."
    );
    // The same answer on every till: it depends on when the event was recorded, not on when
    // it arrives.
    let far = renamed(now() + hours(24 * 30), 0, "A");
    assert!(admissible(&far, now() + hours(24 * 29)).is_ok());
    assert!(admissible(&far, now()).is_err());
}

#[test]
fn the_read_side_keeps_only_the_amounts_bound() {
    // An older Countertop's event that does not add up is the read side's to show; one stating
    // more money than the rules record is parked there (read/tables.rs).
    let Event::OrderPlaced(mut e) = recorded("order.placed") else { unreachable!() };
    e.totals.total = dec("17.00");
    assert!(admissible(&Event::OrderPlaced(e.clone()), now()).is_err());
    assert_eq!(amounts_in_range(&Event::OrderPlaced(e.clone())), Ok(()));
    e.totals.total = dec("-1000000000000.01");
    let refused = amounts_in_range(&Event::OrderPlaced(e)).map_err(|e| e.to_string());
    assert_eq!(
        refused,
        Err("order.placed event refused: total -1000000000000.01 is less than -1,000,000,000,000, the least Countertop records".into())
    );
}
