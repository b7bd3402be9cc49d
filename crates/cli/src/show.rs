//! Printing answers: plain text for people, JSON (`--json`) for scripts. Money is printed
//! with exactly the currency's minor unit; times in the shop's time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use countertop_core::{
    CashUp, Currency, Customer, Dashboard, DeadLetter, Decimal, Entity, Envelope, Kpis, Order, OrderHistory,
    OrderStatus, OrderView, Outcome, Page, Product, ReadCheck, RevenueRow, SearchHit, Shop, Stamped, Status,
    StockLevel, StockMove, Verification, format_rate,
};
use serde::Serialize;
use serde_json::json;

/// `println!` that ends the process quietly when stdout is closed (`countertop … | head`)
/// instead of panicking, and with exit status 3 on any other write error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::show::stdout_failed(&e)
        }
    }};
}

pub fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {e}");
    std::process::exit(3)
}

pub struct Printer {
    json: bool,
    shop: Option<Shop>,
}

impl Printer {
    pub fn new(json: bool, shop: Option<Shop>) -> Printer {
        Printer { json, shop }
    }

    /// The shop's time zone (UTC before the shop is set up).
    pub fn zone(&self) -> Tz {
        self.shop.as_ref().map_or(Tz::UTC, |s| s.time_zone)
    }

    fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone()).format("%Y-%m-%d %H:%M:%S %Z").to_string()
    }

    fn print_json(value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => say!("{text}"),
            Err(e) => eprintln!("error: could not write JSON: {e}"),
        }
    }

    /// A command whose result is said in a sentence (`done`) rather than shown as a row.
    pub fn recorded(&self, outcome: &Outcome, done: &str) {
        if self.json {
            return Self::print_json(outcome);
        }
        if outcome.replayed {
            say!("(this command id was already done; nothing changed)");
        } else {
            say!("{done}");
        }
    }

    pub fn outcome(&self, outcome: &Outcome) {
        if self.json {
            return Self::print_json(outcome);
        }
        if outcome.replayed {
            say!("(this command id was already done; showing its first result, nothing changed)");
        } else if outcome.positions.is_none() {
            say!("(nothing changed)");
        }
        match &outcome.entity {
            Entity::Shop(shop) => print_shop(shop),
            Entity::Product(p) => self.products(std::slice::from_ref(p)),
            Entity::Customer(c) => self.customers(std::slice::from_ref(c)),
            Entity::Order(o) => self.order(o),
            Entity::Return(r) => {
                let c = r.currency;
                let who = r.customer.as_ref().map_or("walk-in", |c| c.name.as_str());
                say!("Return {}  {}  {}  given back {}: {}", r.id, self.time(r.at), who, c.format(r.amount), r.reason);
            }
            Entity::Drawer { day } => say!("Drawer of {day} recorded: `countertop cashup --date {day}` shows it."),
        }
    }

    pub fn shop(&self) {
        match (&self.shop, self.json) {
            (shop, true) => Self::print_json(shop),
            (Some(shop), false) => print_shop(shop),
            (None, false) => say!(
                "The shop is not set up yet: run `countertop init --name NAME --currency GBP --timezone Europe/London`."
            ),
        }
    }

    fn currency(&self) -> Option<Currency> {
        self.shop.as_ref().map(|s| s.currency)
    }

    pub fn products(&self, products: &[Product]) {
        if self.json {
            return Self::print_json(&products);
        }
        if products.is_empty() {
            return say!("No products yet: add one with `countertop product add --sku SKU --name NAME --price PRICE`.");
        }
        let currency = self.currency();
        let sku_width = products.iter().map(|p| p.sku.chars().count()).max().unwrap_or(3).max(3);
        say!("{:<sku_width$}  {:>14}  {:>6}  NAME", "SKU", "PRICE", "TAX");
        for p in products {
            let price = currency.map_or_else(|| p.unit_price.to_string(), |c| c.format_price(p.unit_price));
            let archived = if p.archived { "  (archived)" } else { "" };
            say!("{:<sku_width$}  {:>14}  {:>6}  {}{archived}", p.sku, price, format_rate(p.tax_rate), p.name);
        }
    }

    pub fn customers(&self, customers: &[Customer]) {
        if self.json {
            return Self::print_json(&customers);
        }
        if customers.is_empty() {
            return say!("No customers yet: add one with `countertop customer add --name NAME`.");
        }
        let id_width = customers.iter().map(|c| c.id.chars().count()).max().unwrap_or(2).max(2);
        say!("{:<id_width$}  NAME / EMAIL / PHONE / COUNTRY", "ID");
        for c in customers {
            let extra: Vec<&str> = [&c.email, &c.phone, &c.country].into_iter().filter_map(|f| f.as_deref()).collect();
            let extra = if extra.is_empty() { String::new() } else { format!("  <{}>", extra.join(", ")) };
            say!("{:<id_width$}  {}{extra}", c.id, c.name);
        }
    }

    fn order(&self, o: &Order) {
        let c = o.currency;
        say!("Order {}  [{}]  placed {}", o.id, o.status.as_str(), self.time(o.placed_at));
        match &o.customer {
            Some(customer) => say!("Customer: {} ({})", customer.name, customer.id),
            None => say!("Customer: walk-in"),
        }
        for (i, line) in o.lines.iter().enumerate() {
            let sku = line.sku.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
            let back = match o.refunded_units(i) {
                0 => String::new(),
                n => format!("  ({n} refunded)"),
            };
            say!(
                "  {:>3}. {:>5} × {}{sku} @ {}  = {}{back}",
                i + 1,
                line.quantity,
                line.name,
                c.format_price(line.unit_price),
                c.fixed(line.total)
            );
        }
        let tax_label = if self.shop.as_ref().is_some_and(|s| s.prices_include_tax) { "Tax (included)" } else { "Tax" };
        say!("  Subtotal        {:>12}", c.fixed(o.totals.subtotal));
        if !o.totals.discount.is_zero() {
            say!("  Discount        {:>12}", format!("-{}", c.fixed(o.totals.discount)));
        }
        say!("  {tax_label:<15} {:>12}", c.fixed(o.totals.tax));
        say!("  Total           {:>12} {}", c.fixed(o.totals.total), c.code());
        for p in &o.payments {
            match p.tendered {
                Some(handed) => say!(
                    "  Paid {:<9}   {:>12}  (handed {}, change {})",
                    p.tender.label(),
                    c.fixed(p.amount),
                    c.fixed(handed),
                    c.fixed(p.change())
                ),
                None => say!("  Paid {:<9}   {:>12}", p.tender.label(), c.fixed(p.amount)),
            }
        }
        if o.due() > countertop_core::Decimal::ZERO && o.status != countertop_core::OrderStatus::Cancelled {
            say!(
                "  Due             {:>12} {}  (an invoice: take it with `countertop order pay {}`)",
                c.fixed(o.due()),
                c.code(),
                o.id
            );
        }
        if let Some(note) = &o.note {
            say!("Note: {note}");
        }
        if let Some(s) = &o.shipment {
            say!("Shipped {} with {}, tracking {}", self.time(s.at), s.carrier, s.tracking);
        }
        if let Some(at) = o.delivered_at {
            say!("Delivered {}", self.time(at));
        }
        if let Some(cancel) = &o.cancellation {
            say!("Cancelled {}: {}", self.time(cancel.at), cancel.reason);
        }
        for r in &o.refunds {
            let goods: Vec<String> = r
                .lines
                .iter()
                .map(|l| {
                    let name = o.lines.get(l.line as usize).map_or("?", |line| line.name.as_str());
                    format!("{} × {name}", l.quantity)
                })
                .collect();
            let goods = if goods.is_empty() { String::new() } else { format!(" for {}", goods.join(", ")) };
            let by = r.tender.map(|t| format!(" by {t}")).unwrap_or_default();
            say!("Refunded {}{by}{goods} on {}: {}", c.format(r.amount), self.time(r.at), r.reason);
        }
        if !o.refunds.is_empty() && o.status != OrderStatus::Cancelled {
            let over = o.refunded() - o.paid();
            if over > Decimal::ZERO {
                say!("Refunded {} more than was paid", c.format(over));
            } else {
                say!("Still refundable: {}", c.format(o.refundable()));
            }
        }
        for conflict in o.conflicts() {
            say!("Conflict: {} (`countertop conflicts resolve {}` once dealt with)", conflict.explain(), o.id);
        }
    }

    pub fn history(&self, history: &OrderHistory) {
        if self.json {
            let timeline: Vec<_> = history.timeline.iter().map(envelope_json).collect();
            return Self::print_json(&json!({ "order": history.order, "as_of": history.as_of, "timeline": timeline }));
        }
        if let Some(at) = history.as_of {
            say!("As of {}:", self.time(at));
        }
        self.order(&history.order);
        say!("\nTimeline (audit trail):");
        for e in &history.timeline {
            say!(
                "  #{:<6} v{}  {}  {:<18}  by command {}",
                e.position,
                e.version,
                self.time(e.recorded_at),
                e.event_type,
                e.command_id
            );
            if let countertop_core::Event::OrderConflictsResolved(resolved) = &e.event {
                say!("           resolved: {}", resolved.note);
            }
        }
    }

    pub fn events(&self, events: &[Envelope]) {
        if self.json {
            let events: Vec<_> = events.iter().map(envelope_json).collect();
            return Self::print_json(&events);
        }
        if events.is_empty() {
            return say!("No events from that position.");
        }
        for e in events {
            say!(
                "#{} {} v{} {} (schema v{}) at {} cmd {} hash {}\n    {}",
                e.position,
                e.stream,
                e.version,
                e.event_type,
                e.schema_version,
                e.recorded_at.to_rfc3339(),
                e.command_id,
                &e.hash[..16],
                e.event.to_payload()
            );
        }
    }

    pub fn verification(&self, report: &Verification, read: Option<&ReadCheck>) {
        if self.json {
            return Self::print_json(&json!({ "log": report, "read_models": read }));
        }
        match &report.first_bad {
            None => say!(
                "Event log OK: {} events, hash chain intact{}",
                report.events,
                report.head_hash.as_deref().map(|h| format!(" (head {})", &h[..16])).unwrap_or_default()
            ),
            Some((position, problem)) => {
                say!("Event log FAILED at event {position}: {problem}\n{} events before it check out.", report.events);
            }
        }
        if let Some(check) = read {
            if check.matches {
                say!("Read models OK: identical to a rebuild from the log (through event {}).", check.position);
            } else {
                say!(
                    "Read models DIFFER from a rebuild: live {} at event {}, rebuilt {} at event {}.",
                    &check.live[..16],
                    check.live_position,
                    &check.rebuilt[..16],
                    check.position
                );
            }
        }
    }

    fn money(&self, amount: Decimal) -> String {
        match self.currency() {
            Some(c) => c.fixed(amount),
            None => amount.to_string(),
        }
    }

    fn freshness<T>(stamped: &Stamped<T>) -> String {
        if stamped.lag_events == 0 {
            format!("up to date (event {})", stamped.position)
        } else {
            format!(
                "updating — {} events behind (shows event {} of {})",
                stamped.lag_events, stamped.position, stamped.head
            )
        }
    }

    pub fn revenue(&self, report: &Stamped<Vec<RevenueRow>>) {
        if self.json {
            return Self::print_json(report);
        }
        let code = self.currency().map(|c| c.code()).unwrap_or("");
        say!(
            "{:<10}  {:>12}  {:>12}  {:>10}  {:>7}  {:>7}  {:>10}  {:>9}",
            "DATE",
            format!("NET {code}"),
            "GROSS",
            "REFUNDS",
            "ORDERS",
            "ITEMS",
            "AOV",
            "CUSTOMERS"
        );
        for row in &report.value {
            let r = &row.kpis;
            say!(
                "{:<10}  {:>12}  {:>12}  {:>10}  {:>7}  {:>7}  {:>10}  {:>9}",
                row.date,
                self.money(r.net),
                self.money(r.gross),
                self.money(r.refunds),
                r.orders,
                r.items,
                r.average_order_value.map(|a| self.money(a)).unwrap_or_else(|| "-".into()),
                r.unique_customers
            );
        }
        say!("({})", Self::freshness(report));
    }

    pub fn dashboard(&self, d: &Stamped<Dashboard>) {
        if self.json {
            return Self::print_json(d);
        }
        let v = &d.value;
        let code = v.currency.map(|c| c.code()).unwrap_or("");
        say!(
            "Dashboard {} to {} ({}) against {} to {}",
            v.period.from,
            v.period.to,
            match v.period.days() {
                1 => "1 day".to_string(),
                n => format!("{n} days"),
            },
            v.previous_period.from,
            v.previous_period.to
        );
        let delta = |now: Decimal, before: Decimal| -> String {
            if before.is_zero() {
                return if now.is_zero() { "±0%".into() } else { "new".into() };
            }
            let pct = ((now - before) / before.abs() * Decimal::ONE_HUNDRED).round_dp(1);
            if pct.is_sign_negative() { format!("{pct}%") } else { format!("+{pct}%") }
        };
        let k: &Kpis = &v.kpis;
        let p: &Kpis = &v.previous_kpis;
        let row = |label: &str, now: String, before: String, change: String| {
            say!("  {label:<18} {now:>14}  (was {before}, {change})")
        };
        row(&format!("Net revenue {code}"), self.money(k.net), self.money(p.net), delta(k.net, p.net));
        row("Orders", k.orders.to_string(), p.orders.to_string(), delta(k.orders.into(), p.orders.into()));
        let aov = |a: Option<Decimal>| a.map(|a| self.money(a)).unwrap_or_else(|| "-".into());
        row(
            "Avg order value",
            aov(k.average_order_value),
            aov(p.average_order_value),
            delta(k.average_order_value.unwrap_or_default(), p.average_order_value.unwrap_or_default()),
        );
        row(
            "Unique customers",
            k.unique_customers.to_string(),
            p.unique_customers.to_string(),
            delta(k.unique_customers.into(), p.unique_customers.into()),
        );
        row("Refunds", self.money(k.refunds), self.money(p.refunds), delta(k.refunds, p.refunds));
        if !v.top_products.is_empty() {
            say!("Top products:");
            for t in &v.top_products {
                let sku = t.sku.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
                say!("  {:>12}  {:>6} ×  {}{sku}", self.money(t.revenue), t.units, t.name);
            }
        }
        say!("({})", Self::freshness(d));
    }

    pub fn stock(
        &self,
        levels: &Stamped<Vec<StockLevel>>,
        names: &std::collections::HashMap<String, String>,
        low: bool,
    ) {
        if self.json {
            return Self::print_json(levels);
        }
        if levels.value.is_empty() {
            say!(
                "{}",
                if low {
                    "Nothing is low."
                } else {
                    "No stock yet: receive some with `countertop stock receive SKU QUANTITY`."
                }
            );
        } else {
            let width = levels.value.iter().map(|l| l.sku.chars().count()).max().unwrap_or(3).max(3);
            say!("{:<width$}  {:>9}  {:>6}  NAME", "SKU", "ON HAND", "LOW AT");
            for l in &levels.value {
                let flag = match (l.tracked, l.on_hand, l.is_low()) {
                    (false, _, _) => "  (not stocked: only its sales are counted)",
                    (_, n, _) if n < 0 => "  (below zero: sold more than was in stock)",
                    (true, 0, _) => "  (out of stock)",
                    (_, _, true) => "  (low)",
                    _ => "",
                };
                let low_at = l.low_at.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
                let name = names.get(&l.sku).map_or("", String::as_str);
                say!("{:<width$}  {:>9}  {:>6}  {name}{flag}", l.sku, l.on_hand, low_at);
            }
        }
        say!("({})", Self::freshness(levels));
    }

    pub fn stock_moves(&self, sku: &str, moves: &Stamped<Vec<StockMove>>) {
        if self.json {
            return Self::print_json(moves);
        }
        // Sales are the orders' lines, not rows here; so the level each row left is not shown
        // (with sales between rows it would not add up), only what moved.
        if moves.value.is_empty() {
            say!("No stock movements for {sku} other than sales (`countertop stock list` shows what is on hand).");
        } else {
            say!("{sku}: stock movements other than sales (those are on the orders), newest first");
        }
        for m in &moves.value {
            say!("{}  {:>+7}  {}", self.time(m.at), m.change, m.why);
        }
        say!("({})", Self::freshness(moves));
    }

    pub fn drawer_recorded(&self, kind: countertop_core::DrawerMove) {
        if self.json {
            return Self::print_json(&json!({ "recorded": kind }));
        }
        say!(
            "{}",
            match kind {
                countertop_core::DrawerMove::Float => "Float recorded. `countertop cashup` shows the cash expected.",
                countertop_core::DrawerMove::Removed => "Cash removal recorded.",
                countertop_core::DrawerMove::Counted =>
                    "Count recorded. `countertop cashup` shows whether the drawer is over or short.",
            }
        );
    }

    pub fn receipt(&self, r: &countertop_core::receipt::Receipt) {
        if self.json {
            return Self::print_json(r);
        }
        say!("{}", r.text().trim_end());
    }

    pub fn cashup(&self, c: &Stamped<CashUp>) {
        if self.json {
            return Self::print_json(c);
        }
        let v = &c.value;
        let fixed = |d: Decimal| v.currency.map_or_else(|| d.to_string(), |cur| cur.fixed(d));
        let code = v.currency.map(|c| c.code()).unwrap_or("");
        say!("Cash-up for {} ({code})", v.day);
        say!("  {:<12} {:>14} {:>14} {:>14}", "", "TAKEN", "GIVEN BACK", "NET");
        for ((t, r), n) in v.takings.iter().zip(&v.refunds).zip(&v.net) {
            say!("  {:<12} {:>14} {:>14} {:>14}", t.tender.label(), fixed(t.amount), fixed(r.amount), fixed(n.amount));
        }
        say!("  {:<12} {:>14} {:>14}", "Total", fixed(v.total_takings), fixed(v.total_refunds));
        say!("Change given:             {:>14}", fixed(v.change_given));
        say!("Float:                    {:>14}", fixed(v.float));
        say!("Cash removed:             {:>14}", fixed(v.cash_removed));
        say!("Cash expected in drawer:  {:>14}   (float + cash taken - given back - removed)", fixed(v.cash_expected));
        for count in &v.counts {
            let verdict = match count.difference {
                d if d.is_zero() => "exact".to_string(),
                d if d > Decimal::ZERO => format!("over by {}", fixed(d)),
                d => format!("short by {}", fixed(-d)),
            };
            say!(
                "Counted {}: {} against {} expected then: {verdict}",
                self.time(count.at),
                fixed(count.counted),
                fixed(count.expected)
            );
        }
        say!(
            "Sales: {} {}, {} {}, {} (discounts {}); {} cancelled",
            v.orders,
            if v.orders == 1 { "order" } else { "orders" },
            v.items,
            if v.items == 1 { "item" } else { "items" },
            fixed(v.sales),
            fixed(v.discounts),
            v.cancelled
        );
        for t in &v.tax {
            say!("Tax at {}: {}", format_rate(t.rate), fixed(t.tax));
        }
        if let (Some(first), Some(last)) = (v.first_sale, v.last_sale) {
            say!("First sale {}, last sale {}", self.time(first), self.time(last));
        }
        say!("({})", Self::freshness(c));
    }

    pub fn order_page(&self, page: &Stamped<Page<OrderView>>) {
        if self.json {
            return Self::print_json(page);
        }
        let p = &page.value;
        if p.items.is_empty() {
            say!("No orders match.");
        }
        for o in &p.items {
            let who = o.customer.as_ref().map_or("walk-in", |c| c.name.as_str());
            say!(
                "{:<10} {}  {:<9}  {:>12} {}  {}",
                o.id,
                o.business_day,
                o.status.as_str(),
                o.currency.fixed(o.totals.total),
                o.currency.code(),
                who
            );
        }
        let last = (p.offset + p.items.len()).min(p.total);
        say!(
            "({}–{} of {}; {})",
            if p.items.is_empty() { 0 } else { p.offset + 1 },
            last,
            p.total,
            Self::freshness(page)
        );
    }

    pub fn conflicts(&self, list: &Stamped<Vec<OrderView>>) {
        if self.json {
            return Self::print_json(list);
        }
        if list.value.is_empty() {
            say!("No conflicts: nothing the tills did while apart needs looking into. ({})", Self::freshness(list));
            return;
        }
        say!("{} orders need looking into:", list.value.len());
        for o in &list.value {
            let who = o.customer.as_ref().map_or("walk-in", |c| c.name.as_str());
            let c = o.currency;
            say!(
                "\n{}  placed {}  {}  total {}, paid {}, refunded {}",
                o.id,
                o.business_day,
                who,
                c.format(o.totals.total),
                c.format(o.paid()),
                c.format(o.refunded)
            );
            for conflict in &o.conflicts {
                say!("  - {}", conflict.explain());
            }
        }
        say!(
            "\nWhen one is dealt with: countertop conflicts resolve ORDER --note \"what was done\". ({})",
            Self::freshness(list)
        );
    }

    pub fn search(&self, page: &Stamped<Page<SearchHit>>) {
        if self.json {
            return Self::print_json(page);
        }
        let p = &page.value;
        if p.items.is_empty() {
            say!("Nothing found.");
        }
        for hit in &p.items {
            // An order: "2011-12-09 · Shipped · 123.45".
            let about =
                [hit.day.as_deref(), Some(hit.subtitle.as_str()).filter(|s| !s.is_empty()), hit.total.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ");
            say!("{:<8}  {:<12}  {}  —  {about}", format!("{:?}", hit.kind).to_lowercase(), hit.id, hit.title);
        }
        say!("({} found; {})", p.total, Self::freshness(page));
    }

    pub fn wrote(&self, path: &std::path::Path) {
        if self.json {
            return Self::print_json(&json!({ "wrote": path }));
        }
        say!("Wrote {}", path.display());
    }

    pub fn status(&self, status: &Status) {
        if self.json {
            return Self::print_json(status);
        }
        say!("Event log head: {}", status.head);
        for p in &status.projections {
            let lag = if p.lag_events == 0 {
                "up to date".to_owned()
            } else {
                format!("{} events behind, {} ms", p.lag_events, p.lag_ms)
            };
            say!("  {:<7} at {:<8} {lag}", p.name, p.checkpoint);
        }
        say!("Dead letters: {}", status.dead_letters);
        if let Some(r) = &status.rebuild {
            say!("Rebuild: {} of {} events", r.done, r.total);
        }
        for note in &status.notes {
            say!("Note: {note}");
        }
        if let Some(failing) = &status.failing {
            say!("Failing: {failing}");
        }
    }

    pub fn import_report(&self, r: &countertop_core::import::ImportReport, all: bool) {
        use countertop_core::import::count_of;
        if self.json {
            return Self::print_json(r);
        }
        let m = |d: countertop_core::Decimal| r.currency.format_exact(d);
        say!(
            "Imported {} of {} lines in {:.1} s: {}, {}, {}; customers: {} new, {} already in the shop; {}{}.",
            r.imported_lines,
            r.lines,
            r.seconds,
            count_of(r.orders, "order", "orders"),
            count_of(r.returns, "return", "returns"),
            count_of(r.refunds, "refund", "refunds"),
            r.customers_created,
            r.customers_merged,
            count_of(r.products, "new product", "new products"),
            if r.already_imported > 0 {
                format!(
                    " ({} imported by an earlier run of this file)",
                    count_of(r.already_imported, "document was", "documents were")
                )
            } else {
                String::new()
            }
        );
        say!("");
        say!("The file's lines add up to        {:>20}", m(r.file_sum));
        say!("Recorded by this import           {:>20}", m(r.imported_net));
        if !r.discounts_and_tax.is_zero() {
            say!("  of which discounts and tax      {:>20}", m(r.discounts_and_tax));
        }
        if !r.rounding.is_zero() {
            say!("  of which rounding to {:<11}{:>20}", r.currency.code(), m(r.rounding));
        }
        if r.in_shop_lines > 0 {
            say!("Already in the shop ({} lines)    {:>20}", r.in_shop_lines, m(r.in_shop_sum));
        }
        say!(
            "Rejected ({} lines){}{:>20}",
            r.rejected_count,
            " ".repeat(15usize.saturating_sub(r.rejected_count.to_string().len())),
            m(r.rejected_sum)
        );
        say!("");
        for sentence in r.statement() {
            say!("{sentence}");
        }
        for missing in &r.missing {
            say!(
                "  not in the log: invoice {} (lines {}–{}), {}",
                missing.number,
                missing.first_line,
                missing.last_line,
                m(missing.amount)
            );
        }
        if r.renumbered_count > 0 {
            say!("");
            let what = match r.renumbered_count {
                1 => "1 document was".to_owned(),
                n => format!("{n} documents were"),
            };
            say!("{what} recorded under another number, because theirs was already used:");
            for n in &r.renumbered {
                say!("  line {:<7} {} → {}  ({})", n.line, n.number, n.recorded_as, n.reason);
            }
        }
        for warning in &r.warnings {
            say!("Note: {warning}");
        }
        if r.rejected_count > 0 {
            say!("");
            say!("Rejected lines, by reason:");
            for g in &r.rejected_groups {
                say!("  {:>13} {:>22}  {}", count_of(g.lines, "line", "lines"), m(g.amount), g.group);
            }
            let shown = if all { r.rejected.len() } else { r.rejected.len().min(20) };
            say!("The first {shown}:");
            for line in &r.rejected[..shown] {
                let amount = line.amount.map(|a| a.to_string()).unwrap_or_else(|| "?".into());
                say!(
                    "  line {:<7} {:<10} {:>12}  {}",
                    line.line,
                    line.order.as_deref().unwrap_or("-"),
                    amount,
                    line.reason
                );
            }
            if let Some(path) = &r.rejected_csv {
                say!("All {} rejected lines, with their reasons and amounts: {}", r.rejected_count, path.display());
            }
        }
    }

    pub fn exported(&self, summary: &countertop_core::export::ExportSummary, path: &std::path::Path) {
        if self.json {
            return Self::print_json(&json!({ "summary": summary, "out": path }));
        }
        say!(
            "Wrote {} orders ({} rows) to {} (through event {}).",
            summary.orders,
            summary.rows,
            path.display(),
            summary.position
        );
    }

    pub fn backed_up(&self, v: &Verification, file: &std::path::Path) {
        if self.json {
            return Self::print_json(&json!({ "backup": file, "verification": v }));
        }
        let head = v.head_hash.as_deref().map(|h| format!(", head {}", &h[..16])).unwrap_or_default();
        say!("Backed up {} events to {} and checked the copy's hash chain{head}.", v.events, file.display());
    }

    pub fn restored(&self, v: &Verification, dir: &std::path::Path) {
        if self.json {
            return Self::print_json(&json!({ "restored_into": dir, "verification": v }));
        }
        say!(
            "Restored {} events into {} (hash chain checked). The read models are rebuilt from them when the shop is next opened.",
            v.events,
            dir.display()
        );
    }

    pub fn dead_letters(&self, letters: &[DeadLetter]) {
        if self.json {
            return Self::print_json(&letters);
        }
        if letters.is_empty() {
            return say!("No dead letters: every event was applied.");
        }
        for l in letters {
            say!("#{:<8} {:<15} {:<22} {}", l.position, l.projection, l.event_type.as_deref().unwrap_or("?"), l.error);
        }
    }
}

fn print_shop(shop: &Shop) {
    say!("{}", shop.name);
    say!("  currency        {}", shop.currency);
    say!("  time zone       {}", shop.time_zone);
    say!("  day starts at   {}", shop.day_start.format("%H:%M"));
    say!("  prices          {}", if shop.prices_include_tax { "include tax" } else { "exclude tax (added on top)" });
    say!("  default tax     {}", format_rate(shop.default_tax_rate));
}

fn envelope_json(e: &Envelope) -> serde_json::Value {
    json!({
        "position": e.position,
        "stream": e.stream.to_key(),
        "version": e.version,
        "type": e.event_type,
        "schema_version": e.schema_version,
        "recorded_at": e.recorded_at,
        "command_id": e.command_id,
        "hash": e.hash,
        "payload": e.event.to_payload(),
    })
}
