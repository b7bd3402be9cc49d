//! CSV exports: orders in the importer's generic format (so an export imports back without
//! loss), and revenue reports.
//!
//! Text cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, or a
//! tab or carriage return) get a leading apostrophe; the importer takes it off again. Number
//! cells are written as plain numbers and never touched.

use std::io::Write;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::Countertop;
use crate::import::Field;
use crate::read::{CashUp, OrderFilter, OrderView, Period, RevenueRow};

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub orders: u64,
    pub rows: u64,
    /// The log position the export reflects.
    pub position: u64,
}

/// Makes a text cell safe to open in a spreadsheet.
pub fn neutralise(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

fn csv_err(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Write { detail: e.to_string() }
}

/// The generic format's columns, in order.
const COLUMNS: [Field; 18] = Field::ALL;

/// Writes the orders placed in `period` (business days), with their refunds, shipping and
/// status, in the generic import format.
pub fn orders_csv(ct: &Countertop, period: Period, out: impl Write) -> Result<ExportSummary, crate::Error> {
    let zone = ct.bucketing()?.time_zone;
    let local = |at: DateTime<Utc>| at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S").to_string();
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS.iter().map(|f| f.name())).map_err(csv_err)?;
    let mut summary = ExportSummary { orders: 0, rows: 0, position: 0 };
    let mut offset = 0;
    loop {
        let filter =
            OrderFilter { from: Some(period.from), to: Some(period.to), offset, limit: 500, ..OrderFilter::default() };
        let page = ct.orders(&filter)?;
        summary.position = page.position;
        if page.value.items.is_empty() {
            break;
        }
        offset += page.value.items.len();
        for order in &page.value.items {
            summary.rows += write_order(&mut writer, order, &local)?;
            summary.orders += 1;
        }
    }
    writer.flush().map_err(csv_err)?;
    Ok(summary)
}

fn write_order(
    writer: &mut csv::Writer<impl Write>,
    o: &OrderView,
    local: &impl Fn(DateTime<Utc>) -> String,
) -> Result<u64, crate::Error> {
    let money = |amount: Decimal| o.currency.fixed(amount);
    let customer = o.customer.as_ref();
    let status = o.status.as_str();
    let mut rows = 0;
    let base = |date: String| -> Vec<String> {
        let mut row = vec![String::new(); COLUMNS.len()];
        let mut set = |field: Field, value: String| {
            if let Some(i) = COLUMNS.iter().position(|f| *f == field) {
                row[i] = value;
            }
        };
        set(Field::Order, neutralise(&o.id));
        set(Field::Date, date);
        set(Field::Customer, customer.map(|c| neutralise(&c.name)).unwrap_or_default());
        set(Field::CustomerId, customer.map(|c| neutralise(&c.id)).unwrap_or_default());
        set(Field::Email, customer.and_then(|c| c.email.as_deref()).map(neutralise).unwrap_or_default());
        set(Field::Country, customer.and_then(|c| c.country.as_deref()).map(neutralise).unwrap_or_default());
        set(Field::Note, o.note.as_deref().map(neutralise).unwrap_or_default());
        set(Field::Status, status.to_owned());
        set(Field::Payment, o.payment_method.as_deref().map(neutralise).unwrap_or_default());
        set(Field::Carrier, o.shipment.as_ref().map(|s| neutralise(&s.carrier)).unwrap_or_default());
        set(Field::Tracking, o.shipment.as_ref().map(|s| neutralise(&s.tracking)).unwrap_or_default());
        set(Field::Discount, if o.totals.discount.is_zero() { String::new() } else { money(o.totals.discount) });
        row
    };
    let index = |field: Field| COLUMNS.iter().position(|f| *f == field).unwrap_or(0);
    for line in &o.lines {
        let mut row = base(local(o.placed_at));
        row[index(Field::Sku)] = line.sku.as_deref().map(neutralise).unwrap_or_default();
        row[index(Field::Product)] = neutralise(&line.name);
        row[index(Field::Quantity)] = line.quantity.to_string();
        row[index(Field::UnitPrice)] = line.unit_price.to_string();
        row[index(Field::LineTotal)] = money(line.total);
        row[index(Field::TaxRate)] = line.tax_rate.normalize().to_string();
        writer.write_record(&row).map_err(csv_err)?;
        rows += 1;
    }
    for refund in &o.refunds {
        let mut row = base(local(refund.at));
        row[index(Field::Product)] = neutralise(&format!("Refund: {}", refund.reason));
        row[index(Field::Quantity)] = "-1".into();
        row[index(Field::UnitPrice)] = money(refund.amount);
        row[index(Field::LineTotal)] = money(-refund.amount);
        writer.write_record(&row).map_err(csv_err)?;
        rows += 1;
    }
    Ok(rows)
}

/// Writes revenue report rows as CSV (`date` is the first day of each bucket).
/// Days' cash-ups as CSV: per day, one `day,section,item,amount` row per figure, in the order
/// a Z report reads (takings, refunds and net by tender, cash expected, then the day's sales).
pub fn cashup_csv(days: &[CashUp], out: impl Write) -> Result<(), crate::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["day", "section", "item", "amount"]).map_err(csv_err)?;
    for c in days {
        cashup_rows(c, &mut writer)?;
    }
    writer.flush().map_err(csv_err)
}

fn cashup_rows(c: &CashUp, writer: &mut csv::Writer<impl Write>) -> Result<(), crate::Error> {
    let day = c.day.to_string();
    let mut row = |section: &str, item: &str, amount: String| {
        writer.write_record([day.as_str(), section, item, amount.as_str()]).map_err(csv_err)
    };
    for (section, list) in [("takings", &c.takings), ("refunds", &c.refunds), ("net", &c.net)] {
        for t in list {
            row(section, t.tender.as_str(), t.amount.to_string())?;
        }
    }
    row("takings", "total", c.total_takings.to_string())?;
    row("refunds", "total", c.total_refunds.to_string())?;
    row("cash", "change_given", c.change_given.to_string())?;
    row("cash", "expected_in_drawer", c.cash_expected.to_string())?;
    row("sales", "orders", c.orders.to_string())?;
    row("sales", "items", c.items.to_string())?;
    row("sales", "total", c.sales.to_string())?;
    row("sales", "discounts", c.discounts.to_string())?;
    row("sales", "cancelled", c.cancelled.to_string())?;
    for t in &c.tax {
        row("tax", &crate::money::format_rate(t.rate), t.tax.to_string())?;
    }
    row("sales", "first_sale", c.first_sale.map(|t| t.to_rfc3339()).unwrap_or_default())?;
    row("sales", "last_sale", c.last_sale.map(|t| t.to_rfc3339()).unwrap_or_default())
}

pub fn revenue_csv(rows: &[RevenueRow], out: impl Write) -> Result<(), crate::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer
        .write_record([
            "date",
            "net",
            "gross",
            "refunds",
            "orders",
            "items",
            "average_order_value",
            "unique_customers",
            "cancelled",
        ])
        .map_err(csv_err)?;
    for r in rows {
        writer
            .write_record([
                r.date.to_string(),
                r.kpis.net.to_string(),
                r.kpis.gross.to_string(),
                r.kpis.refunds.to_string(),
                r.kpis.orders.to_string(),
                r.kpis.items.to_string(),
                r.kpis.average_order_value.map(|a| a.to_string()).unwrap_or_default(),
                r.kpis.unique_customers.to_string(),
                r.kpis.cancelled.to_string(),
            ])
            .map_err(csv_err)?;
    }
    writer.flush().map_err(csv_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        let check = |input: &str, expected: &str| assert_eq!(neutralise(input), expected, "{input}");
        check("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")");
        check("+44 20", "'+44 20");
        check("-20% off", "'-20% off");
        check("@SUM(A1)", "'@SUM(A1)");
        check("\tcell", "'\tcell");
        check("Mug", "Mug");
        check("", "");
    }
}
