//! Importing another system's export: UCI Online Retail, Tableau Superstore, or any CSV with
//! a column mapping. Streams the file (gzip or plain) in constant memory per row, groups rows
//! into orders, checks every line with the shop's own rules, and commits in group-commit
//! batches through the write store.
//!
//! **Every input line is accounted for**: imported, or reported with its line number, reason
//! and amount. The report reconciles: what the store recorded + the rejected amounts − the
//! rounding of line totals to the minor unit = the file's sum of line amounts.
//!
//! **Re-importing is idempotent**: command ids are derived from the file's BLAKE3 hash and the
//! order number, so running an import again — after an interruption, or by mistake — appends
//! only what is missing and ends with the same store as one uninterrupted run.

mod rows;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

pub use rows::{Field, Format};
use rows::{Row, RowReader};

use crate::domain::{
    AddCustomer, AddProduct, CancelOrder, Command, DeliverOrder, DiscountInput, PlaceOrder, RecordReturn, RefundOrder,
    Rejection, ShipOrder, check_line,
};
use crate::money::MoneyInput;
use crate::store::{Entity, Error, Request, WriteStore};

/// Commands per group commit.
const BATCH: usize = 2000;

/// How to read the file.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub format: Format,
    /// Generic CSV: which column holds each field (default: the field's own name).
    pub map: BTreeMap<Field, String>,
    /// Generic CSV: a chrono format for the date column (default: `%Y-%m-%d %H:%M:%S`, or a
    /// date alone). Dates are shop-local; a date without a time means noon.
    pub date_format: Option<String>,
}

/// Where an import is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportProgress {
    pub lines: u64,
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub lines_per_second: f64,
    pub eta_seconds: Option<f64>,
}

/// An input line that was not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// The order (invoice) it belonged to, if it had one.
    pub order: Option<String>,
    pub reason: String,
    /// Its amount (quantity × unit price, or its line total), when it could be read.
    pub amount: Option<Decimal>,
}

/// What an import did, reconciled against the file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportReport {
    pub format: Format,
    /// BLAKE3 of the file as stored (hex).
    pub file_hash: String,
    /// Data lines read (not counting the header).
    pub lines: u64,
    pub imported_lines: u64,
    pub orders: u64,
    /// Credit notes and returns recorded.
    pub returns: u64,
    pub refunds: u64,
    pub customers: u64,
    /// Products added to the catalog (SKUs it did not have), so they can be sold again.
    pub products: u64,
    /// Commands that an earlier run of the same file had already done.
    pub already_imported: u64,
    pub rejected: Vec<RejectedLine>,
    /// Sum of every line's amount in the file (credit lines negative).
    pub file_sum: Decimal,
    /// What the store recorded: order totals − refunds − returns.
    pub imported_net: Decimal,
    /// Sum of the rejected lines' amounts.
    pub rejected_sum: Decimal,
    /// Rounding of imported line amounts to the currency's minor unit (recorded − file).
    pub rounding: Decimal,
    /// Order discounts and tax added on top, as recorded (total − sum of lines); 0 for files
    /// that give neither.
    pub discounts_and_tax: Decimal,
    /// `imported_net − rounding − discounts_and_tax + rejected_sum == file_sum`.
    pub reconciles: bool,
    pub seconds: f64,
}

/// Imports `path` into the shop behind `store`. The shop must be set up (its currency and
/// time zone say how to read prices and dates).
pub fn import(
    store: &WriteStore,
    path: &Path,
    options: &ImportOptions,
    mut progress: impl FnMut(&ImportProgress),
) -> Result<ImportReport, Error> {
    let started = Instant::now();
    let shop = store.shop()?.ok_or(Error::Rejected(Rejection::ShopNotSetUp))?;
    let file_hash = hash_file(path)?;
    let mut reader = RowReader::open(path, options, &shop)?;
    let mut importer = Importer {
        store,
        shop: &shop,
        prefix: format!("imp-{}", &file_hash[..16]),
        format: options.format,
        pending: Vec::new(),
        customers_seen: HashSet::new(),
        products_seen: HashSet::new(),
        orders_seen: HashSet::new(),
        report: ImportReport {
            format: options.format,
            file_hash: file_hash.clone(),
            lines: 0,
            imported_lines: 0,
            orders: 0,
            returns: 0,
            refunds: 0,
            customers: 0,
            products: 0,
            already_imported: 0,
            rejected: Vec::new(),
            file_sum: Decimal::ZERO,
            imported_net: Decimal::ZERO,
            rejected_sum: Decimal::ZERO,
            rounding: Decimal::ZERO,
            discounts_and_tax: Decimal::ZERO,
            reconciles: false,
            seconds: 0.0,
        },
        expected_rounding: Decimal::ZERO,
    };
    let mut group: Vec<Row> = Vec::new();
    let mut last_progress = Instant::now();
    while let Some(row) = reader.next_row()? {
        importer.report.lines += 1;
        if let Some(amount) = row.amount() {
            importer.report.file_sum += amount;
        }
        let row = match row.problem.clone() {
            Some(reason) => {
                importer.reject(&row, reason);
                continue;
            }
            None => row,
        };
        if group.last().is_some_and(|g| g.order != row.order) {
            importer.group(std::mem::take(&mut group))?;
        }
        group.push(row);
        if last_progress.elapsed().as_millis() >= 200 {
            last_progress = Instant::now();
            progress(&reader.progress(importer.report.lines, started));
        }
    }
    importer.group(group)?;
    importer.flush()?;
    progress(&reader.progress(importer.report.lines, started));
    let mut report = importer.report;
    report.rounding = importer.expected_rounding;
    report.reconciles =
        report.imported_net - report.rounding - report.discounts_and_tax + report.rejected_sum == report.file_sum;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn hash_file(path: &Path) -> Result<String, Error> {
    let io = |e: std::io::Error| Error::Read { path: path.to_owned(), detail: e.to_string() };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// What one request stands for in the file, to account for its outcome.
struct Pending {
    request: Request,
    /// The lines it imports, with their file amounts.
    lines: Vec<(u64, Option<Decimal>)>,
    order: String,
    /// The rounding its lines carry (recorded − file), counted when it is accepted.
    rounding: Decimal,
}

struct Importer<'a> {
    store: &'a WriteStore,
    shop: &'a crate::domain::Shop,
    prefix: String,
    format: Format,
    pending: Vec<Pending>,
    customers_seen: HashSet<String>,
    products_seen: HashSet<String>,
    orders_seen: HashSet<String>,
    report: ImportReport,
    expected_rounding: Decimal,
}

impl Importer<'_> {
    fn reject(&mut self, row: &Row, reason: String) {
        let amount = row.amount();
        if let Some(a) = amount {
            self.report.rejected_sum += a;
        }
        let order = (!row.order.is_empty()).then(|| row.order.clone());
        self.report.rejected.push(RejectedLine { line: row.line, order, reason, amount });
    }

    fn command_id(&self, kind: &str, key: &str) -> String {
        let clean = key.len() <= 64 && key.chars().all(|c| c.is_ascii_graphic());
        if clean {
            format!("{}-{kind}-{key}", self.prefix)
        } else {
            format!("{}-{kind}-h{}", self.prefix, &blake3::hash(key.as_bytes()).to_hex()[..24])
        }
    }

    fn push(
        &mut self,
        request: Request,
        order: &str,
        lines: Vec<(u64, Option<Decimal>)>,
        rounding: Decimal,
    ) -> Result<(), Error> {
        self.pending.push(Pending { request, lines, order: order.to_owned(), rounding });
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Turns one order's rows into commands.
    fn group(&mut self, rows: Vec<Row>) -> Result<(), Error> {
        let Some(first) = rows.first() else { return Ok(()) };
        // An order whose rows come back after other orders is imported under a new number,
        // so its lines are not lost (the file kept an order's lines apart).
        let mut order = first.order.clone();
        let mut note = first.note.clone();
        if self.orders_seen.contains(&order) {
            let mut n = 2;
            while self.orders_seen.contains(&format!("{}-{n}", first.order)) {
                n += 1;
            }
            order = format!("{}-{n}", first.order);
            note = Some(format!("continues {} (its lines were apart in the imported file)", first.order));
        }
        self.orders_seen.insert(order.clone());

        let customer = self.customer(first)?;
        let credit_note = match self.format {
            Format::OnlineRetail => first.order.starts_with('C'),
            Format::Superstore => false,
            Format::Csv => rows.iter().all(|r| r.quantity < 0),
        };
        let mut lines = Vec::new();
        let mut accounted = Vec::new();
        let mut refunds = Vec::new();
        let mut rounding = Decimal::ZERO;
        for row in &rows {
            let sign_ok = if credit_note { row.quantity < 0 } else { row.quantity > 0 };
            if !sign_ok {
                match (self.format, credit_note, row.quantity) {
                    (_, _, 0) => self.reject(row, "quantity is 0: nothing was sold or returned".into()),
                    (Format::Csv, false, _) => refunds.push(row),
                    (_, true, _) => self
                        .reject(row, "positive quantity on a credit note: a credit note only takes goods back".into()),
                    (_, false, _) => {
                        self.reject(row, "negative quantity on a sale invoice: a stock adjustment, not a sale".into())
                    }
                }
                continue;
            }
            if row.unit_price.is_some_and(|p| p.is_sign_negative() && !p.is_zero()) {
                self.reject(row, "negative unit price: an adjustment (such as bad debt), not a sale".into());
                continue;
            }
            let input = row.line_input(credit_note);
            match check_line(self.shop, &BTreeMap::new(), &input) {
                Ok(checked) => {
                    if !credit_note {
                        self.product(row, checked.unit_price)?;
                    }
                    let exact = row.amount().map(|a| a.abs()).unwrap_or_default();
                    rounding += checked.total - exact;
                    lines.push(input);
                    accounted.push((row.line, row.amount()));
                }
                Err(reason) => self.reject(row, reason.to_string()),
            }
        }
        if !lines.is_empty() {
            let sign = if credit_note { -Decimal::ONE } else { Decimal::ONE };
            let command = if credit_note {
                Command::RecordReturn(RecordReturn {
                    id: order.clone(),
                    customer: customer.clone(),
                    lines,
                    reason: note.clone().unwrap_or_else(|| format!("credit note {order}")),
                    at: Some(first.at),
                })
            } else {
                Command::PlaceOrder(PlaceOrder {
                    order: Some(order.clone()),
                    customer: customer.clone(),
                    lines,
                    discount: first
                        .discount
                        .filter(|d| !d.is_zero())
                        .map(|d| DiscountInput::Amount(MoneyInput::new(d))),
                    note: note.clone(),
                    payment_method: None,
                    at: Some(first.at),
                })
            };
            let request = Request::with_id(self.command_id("o", &order), command);
            self.push(request, &order, accounted, sign * rounding)?;
        } else if !refunds.is_empty() {
            for row in refunds {
                self.reject(
                    row,
                    "a refund for an order that has no lines to sell; give the order's lines first".into(),
                );
            }
            return Ok(());
        }
        for (n, row) in refunds.into_iter().enumerate() {
            let amount = row.amount().map(|a| a.abs()).unwrap_or_default();
            let reason = row
                .product
                .strip_prefix("Refund: ")
                .map(str::to_owned)
                .or_else(|| row.note.clone())
                .unwrap_or_else(|| "refund".into());
            let command = Command::RefundOrder(RefundOrder {
                order: order.clone(),
                amount: MoneyInput::new(amount),
                reason,
                at: Some(row.at),
            });
            let rounding = self.shop.currency.round(amount) - amount;
            let request = Request::with_id(self.command_id(&format!("r{n}"), &order), command);
            self.push(request, &order, vec![(row.line, row.amount())], -rounding)?;
        }
        self.lifecycle(first, &order)?;
        Ok(())
    }

    /// Shipping, delivery and cancellation the file records for an order.
    fn lifecycle(&mut self, row: &Row, order: &str) -> Result<(), Error> {
        let status = row.status.as_deref().map(str::to_ascii_lowercase);
        if let Some(shipped_at) =
            row.shipped_at.or(matches!(status.as_deref(), Some("shipped" | "delivered")).then_some(row.at))
        {
            let command = Command::ShipOrder(ShipOrder {
                order: order.to_owned(),
                carrier: row.carrier.clone().unwrap_or_else(|| "not in the import".into()),
                tracking: row.tracking.clone().unwrap_or_else(|| "not in the import".into()),
                at: Some(shipped_at),
            });
            self.push(Request::with_id(self.command_id("s", order), command), order, Vec::new(), Decimal::ZERO)?;
        }
        if status.as_deref() == Some("delivered") {
            let command = Command::DeliverOrder(DeliverOrder { order: order.to_owned(), at: Some(row.at) });
            self.push(Request::with_id(self.command_id("d", order), command), order, Vec::new(), Decimal::ZERO)?;
        }
        if status.as_deref() == Some("cancelled") {
            let command = Command::CancelOrder(CancelOrder {
                order: order.to_owned(),
                reason: "cancelled in the imported file".into(),
                at: Some(row.at),
            });
            self.push(Request::with_id(self.command_id("x", order), command), order, Vec::new(), Decimal::ZERO)?;
        }
        Ok(())
    }

    /// Adds the row's product to the catalog the first time its SKU appears, at the price it
    /// sold for there, so imported products can be found and sold at the counter. A SKU the
    /// catalog cannot take (white space, no name) stays on its order lines only.
    fn product(&mut self, row: &Row, unit_price: Decimal) -> Result<(), Error> {
        let Some(sku) = row.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()) else { return Ok(()) };
        let name = row.product.trim();
        if name.is_empty() || sku.chars().any(char::is_whitespace) || !self.products_seen.insert(sku.to_owned()) {
            return Ok(());
        }
        if self.store.product(sku)?.is_some() {
            return Ok(());
        }
        let command = Command::AddProduct(AddProduct {
            sku: sku.to_owned(),
            name: name.to_owned(),
            unit_price: MoneyInput::new(self.shop.currency.round(unit_price)),
            tax_rate: None,
            image: None,
        });
        self.push(Request::with_id(self.command_id("p", sku), command), "", Vec::new(), Decimal::ZERO)
    }

    /// Registers the row's customer the first time they appear; returns their id.
    fn customer(&mut self, row: &Row) -> Result<Option<String>, Error> {
        let Some(id) = row.customer_id.clone() else { return Ok(None) };
        if self.customers_seen.insert(id.clone()) && self.store.customer(&id)?.is_none() {
            let command = Command::AddCustomer(AddCustomer {
                id: Some(id.clone()),
                name: row.customer_name.clone().unwrap_or_else(|| format!("Customer {id}")),
                email: row.email.clone(),
                phone: None,
                country: row.country.clone(),
            });
            self.push(Request::with_id(self.command_id("c", &id), command), "", Vec::new(), Decimal::ZERO)?;
        }
        Ok(Some(id))
    }

    /// Commits the pending requests as a bulk job (an order at the counter meanwhile does not wait
    /// for all of them) and accounts for each.
    fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let requests = pending.iter().map(|p| p.request.clone()).collect();
        let results = self.store.execute_bulk(requests)?;
        for (p, result) in pending.into_iter().zip(results) {
            match result {
                Ok(outcome) => {
                    if outcome.replayed {
                        self.report.already_imported += 1;
                    }
                    self.report.imported_lines += p.lines.len() as u64;
                    self.expected_rounding += p.rounding;
                    match (&p.request.command, &outcome.entity) {
                        (Command::PlaceOrder(_), Entity::Order(o)) => {
                            self.report.orders += 1;
                            self.report.imported_net += o.totals.total;
                            self.report.discounts_and_tax += o.totals.total - o.totals.subtotal;
                        }
                        (Command::RecordReturn(_), Entity::Return(r)) => {
                            self.report.returns += 1;
                            self.report.imported_net -= r.amount;
                        }
                        (Command::RefundOrder(_), Entity::Order(o)) => {
                            self.report.refunds += 1;
                            // The refund just recorded is the one at this request's position.
                            if let Some(refund) = o.refunds.last() {
                                self.report.imported_net -= refund.amount;
                            }
                        }
                        (Command::AddCustomer(_), _) => self.report.customers += 1,
                        (Command::AddProduct(_), _) => self.report.products += 1,
                        _ => {}
                    }
                }
                Err(Error::Rejected(reason)) => {
                    for (line, amount) in p.lines {
                        if let Some(a) = amount {
                            self.report.rejected_sum += a;
                        }
                        let order = (!p.order.is_empty()).then(|| p.order.clone());
                        self.report.rejected.push(RejectedLine { line, order, reason: reason.to_string(), amount });
                    }
                }
                Err(other) => return Err(other),
            }
        }
        self.report.rejected.sort_by_key(|r| r.line);
        Ok(())
    }
}

/// A moment from a shop-local date and time; a date alone means noon that day.
pub(crate) fn local_moment(shop: &crate::domain::Shop, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    shop.time_zone.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}
