//! Printing answers: plain text for people, JSON (`--json`) for scripts. Money is printed
//! with exactly the currency's minor unit; times in the shop's time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use countertop_core::{
    Currency, Customer, Entity, Envelope, Order, OrderHistory, Outcome, Product, Shop, Verification, format_rate,
};
use serde::Serialize;
use serde_json::json;

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
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: could not write JSON: {e}"),
        }
    }

    pub fn outcome(&self, outcome: &Outcome) {
        if self.json {
            return Self::print_json(outcome);
        }
        if outcome.replayed {
            println!("(this command id was already done; showing its first result, nothing changed)");
        } else if outcome.positions.is_none() {
            println!("(nothing changed)");
        }
        match &outcome.entity {
            Entity::Shop(shop) => print_shop(shop),
            Entity::Product(p) => self.products(std::slice::from_ref(p)),
            Entity::Customer(c) => self.customers(std::slice::from_ref(c)),
            Entity::Order(o) => self.order(o),
        }
    }

    pub fn shop(&self) {
        match (&self.shop, self.json) {
            (shop, true) => Self::print_json(shop),
            (Some(shop), false) => print_shop(shop),
            (None, false) => println!(
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
            return println!(
                "No products yet: add one with `countertop product add --sku SKU --name NAME --price PRICE`."
            );
        }
        let currency = self.currency();
        let sku_width = products.iter().map(|p| p.sku.chars().count()).max().unwrap_or(3).max(3);
        println!("{:<sku_width$}  {:>14}  {:>6}  NAME", "SKU", "PRICE", "TAX");
        for p in products {
            let price = currency.map_or_else(|| p.unit_price.to_string(), |c| c.format_price(p.unit_price));
            let archived = if p.archived { "  (archived)" } else { "" };
            println!("{:<sku_width$}  {:>14}  {:>6}  {}{archived}", p.sku, price, format_rate(p.tax_rate), p.name);
        }
    }

    pub fn customers(&self, customers: &[Customer]) {
        if self.json {
            return Self::print_json(&customers);
        }
        if customers.is_empty() {
            return println!("No customers yet: add one with `countertop customer add --name NAME`.");
        }
        let id_width = customers.iter().map(|c| c.id.chars().count()).max().unwrap_or(2).max(2);
        println!("{:<id_width$}  NAME / EMAIL / PHONE / COUNTRY", "ID");
        for c in customers {
            let extra: Vec<&str> = [&c.email, &c.phone, &c.country].into_iter().filter_map(|f| f.as_deref()).collect();
            let extra = if extra.is_empty() { String::new() } else { format!("  <{}>", extra.join(", ")) };
            println!("{:<id_width$}  {}{extra}", c.id, c.name);
        }
    }

    fn order(&self, o: &Order) {
        let c = o.currency;
        println!("Order {}  [{}]  placed {}", o.id, o.status.as_str(), self.time(o.placed_at));
        match &o.customer {
            Some(customer) => println!("Customer: {} ({})", customer.name, customer.id),
            None => println!("Customer: walk-in"),
        }
        for line in &o.lines {
            let sku = line.sku.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
            println!(
                "  {:>5} × {}{sku} @ {}  = {}",
                line.quantity,
                line.name,
                c.format_price(line.unit_price),
                c.fixed(line.total)
            );
        }
        let tax_label = if self.shop.as_ref().is_some_and(|s| s.prices_include_tax) { "Tax (included)" } else { "Tax" };
        println!("  Subtotal        {:>12}", c.fixed(o.totals.subtotal));
        if !o.totals.discount.is_zero() {
            println!("  Discount        {:>12}", format!("-{}", c.fixed(o.totals.discount)));
        }
        println!("  {tax_label:<15} {:>12}", c.fixed(o.totals.tax));
        println!("  Total           {:>12} {}", c.fixed(o.totals.total), c.code());
        if let Some(payment) = &o.payment_method {
            println!("Payment: {payment}");
        }
        if let Some(note) = &o.note {
            println!("Note: {note}");
        }
        if let Some(s) = &o.shipment {
            println!("Shipped {} with {}, tracking {}", self.time(s.at), s.carrier, s.tracking);
        }
        if let Some(at) = o.delivered_at {
            println!("Delivered {}", self.time(at));
        }
        if let Some(cancel) = &o.cancellation {
            println!("Cancelled {}: {}", self.time(cancel.at), cancel.reason);
        }
        for r in &o.refunds {
            println!("Refunded {} on {}: {}", c.format(r.amount), self.time(r.at), r.reason);
        }
        if !o.refunds.is_empty() {
            println!("Still refundable: {}", c.format(o.refundable()));
        }
    }

    pub fn history(&self, history: &OrderHistory) {
        if self.json {
            let timeline: Vec<_> = history.timeline.iter().map(envelope_json).collect();
            return Self::print_json(&json!({ "order": history.order, "as_of": history.as_of, "timeline": timeline }));
        }
        if let Some(at) = history.as_of {
            println!("As of {}:", self.time(at));
        }
        self.order(&history.order);
        println!("\nTimeline (audit trail):");
        for e in &history.timeline {
            println!(
                "  #{:<6} v{}  {}  {:<18}  by command {}",
                e.position,
                e.version,
                self.time(e.recorded_at),
                e.event_type,
                e.command_id
            );
        }
    }

    pub fn events(&self, events: &[Envelope]) {
        if self.json {
            let events: Vec<_> = events.iter().map(envelope_json).collect();
            return Self::print_json(&events);
        }
        if events.is_empty() {
            return println!("No events from that position.");
        }
        for e in events {
            println!(
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

    pub fn verification(&self, report: &Verification) {
        if self.json {
            return Self::print_json(report);
        }
        match &report.first_bad {
            None => println!(
                "OK: {} events, hash chain intact{}",
                report.events,
                report.head_hash.as_deref().map(|h| format!(" (head {})", &h[..16])).unwrap_or_default()
            ),
            Some((position, problem)) => {
                println!("FAILED at event {position}: {problem}\n{} events before it check out.", report.events);
            }
        }
    }
}

fn print_shop(shop: &Shop) {
    println!("{}", shop.name);
    println!("  currency        {}", shop.currency);
    println!("  time zone       {}", shop.time_zone);
    println!("  day starts at   {}", shop.day_start.format("%H:%M"));
    println!(
        "  prices          {}",
        if shop.prices_include_tax { "include tax" } else { "exclude tax (added on top)" }
    );
    println!("  default tax     {}", format_rate(shop.default_tax_rate));
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
