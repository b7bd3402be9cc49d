//! Importing another system's export: UCI Online Retail, Tableau Superstore, or any CSV with
//! a column mapping. Streams the file (gzip or plain) in constant memory per row, groups rows
//! into documents (invoices and credit notes), checks every line with the shop's own rules,
//! and sends each document as one command ([`ImportOrder`], [`ImportReturn`]) in bulk batches
//! through the write store, so orders taken at the counter meanwhile go ahead of it.
//!
//! **Every input line is accounted for**: recorded by this import, already in the shop (the
//! same sale, from an earlier import of an overlapping file), or rejected — for something
//! wrong in the file, never for something Countertop did — with its line number, reason and
//! amount. A document whose number a counter order took is recorded under `N-2` and listed.
//!
//! **The reconciliation is read back from the log**: after the last batch, the events of
//! every command of this import (they share the id prefix `imp-<file hash>-`) are read from the
//! write store, and the report's statement — file sum = recorded − rounding − discounts and
//! tax + already in the shop + rejected — is computed from them. A document the importer
//! believes recorded but the log does not hold shows as a difference, with its lines.
//!
//! **Re-importing is idempotent**: command ids are the file's BLAKE3 hash and the document's
//! first line, so running an import again — after an interruption, or by mistake — appends
//! only what is missing and ends with the same store as one uninterrupted run.
//!
//! **SKUs that differ only in case** (`85123A`, `85123a`) are one product: the catalog's
//! spelling, or the first one the file uses; the report lists each other spelling.

mod rows;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

pub use rows::{Field, Format};
use rows::{Row, RowReader};

use crate::domain::{
    AddProduct, Command, Event, ImportOrder, ImportReturn, ImportedCancellation, ImportedCustomer, ImportedRefund,
    ImportedShipment, LineInput, MAX_LINES, OrderLine, Rejection, Shop, Source, UpdateProduct, check_line, totals,
};
use crate::money::{Currency, MoneyInput};
use crate::store::{BulkJob, Entity, Envelope, Error, Request, WriteStore};

/// The group of rejected lines of an order with too many.
const TOO_MANY_LINES: &str = "order with too many lines";

/// Commands per bulk batch, at most.
const BATCH: usize = 2000;
/// Lines per bulk batch, at most: a batch is held twice while it commits (as commands, and as
/// events in the writer's transaction) and the next one is parsed meanwhile, so wide invoices
/// make smaller batches (2,000 orders of the Online Retail export are ~50,000 lines). Its CLI
/// import peaked at 234 MB with 2,000-document batches cloned for the writer, and at 106–119 MB
/// with these (BENCHMARKS.md).
const BATCH_LINES: usize = 5_000;
/// Rejected lines kept in the report itself (the lowest line numbers); all of them go to the
/// CSV file the report names.
const REJECTED_SHOWN: usize = 100;
/// Renumbered documents listed in the report (all are counted).
const RENUMBERED_SHOWN: usize = 100;
/// Different unknown status words reported.
const STATUSES_SHOWN: usize = 20;

/// The stock codes of the UCI Online Retail export that are not goods: postage, carriage,
/// manual adjustments, discounts, samples, bank charges, marketplace fees, commission and
/// bad debt. A product the import adds under one of these is marked as not merchandise, so it
/// stays out of the best sellers (the owner can change that in the catalog).
const ONLINE_RETAIL_NOT_MERCHANDISE: &[&str] =
    &["POST", "DOT", "C2", "M", "m", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"];

/// How to read the file.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub format: Format,
    /// Generic CSV: which column holds each field (default: the field's own name).
    pub map: BTreeMap<Field, String>,
    /// Generic CSV: a chrono format for the date column (default: `%Y-%m-%d %H:%M:%S`, or a
    /// date alone). Dates are shop-local; a date without a time means noon.
    pub date_format: Option<String>,
    /// Where to write every rejected line as CSV. Default: `imports/` in the data folder,
    /// named after the file and its hash.
    pub rejected_csv: Option<PathBuf>,
    /// Stop once this many documents are committed, as a kill would stop it (the import
    /// returns [`Error::Closed`]): for tests of what running it again does.
    #[doc(hidden)]
    pub interrupt_after: Option<u64>,
}

/// Where an import is.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ImportProgress {
    pub lines: u64,
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub lines_per_second: f64,
    pub eta_seconds: Option<f64>,
}

/// An input line that was not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RejectedLine {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// The order (invoice) it belonged to, if it had one.
    pub order: Option<String>,
    /// A short heading shared by lines turned away for the same kind of reason.
    pub group: String,
    pub reason: String,
    /// Its amount (quantity × unit price, or its line total), when it could be read.
    #[ts(as = "Option<String>")]
    pub amount: Option<Decimal>,
}

impl PartialOrd for RejectedLine {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RejectedLine {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.line.cmp(&other.line).then_with(|| self.reason.cmp(&other.reason))
    }
}

/// Rejected lines of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RejectedGroup {
    pub group: String,
    pub lines: u64,
    /// Sum of the amounts of those that had one.
    #[ts(as = "String")]
    pub amount: Decimal,
}

/// A document recorded under another number than the file's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Renumbered {
    /// Its first line in the file.
    pub line: u64,
    pub number: String,
    pub recorded_as: String,
    /// Why (the note it carries).
    pub reason: String,
}

/// Another spelling of a SKU the import took as the same product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SkuSpelling {
    pub sku: String,
    pub recorded_as: String,
    pub lines: u64,
}

/// A document the importer sent and saw accepted, which the log does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Missing {
    pub number: String,
    pub first_line: u64,
    pub last_line: u64,
    #[ts(as = "String")]
    pub amount: Decimal,
}

/// What an import did, reconciled against the file from what the log holds.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ImportReport {
    pub format: Format,
    pub currency: Currency,
    /// BLAKE3 of the file as stored (hex).
    pub file_hash: String,
    /// Data lines read (not counting the header).
    pub lines: u64,
    /// Lines recorded by this import (in this run or an earlier run of the same file).
    pub imported_lines: u64,
    /// Invoices recorded as orders.
    pub orders: u64,
    /// Credit notes recorded as returns.
    pub returns: u64,
    /// Refunds recorded on those orders.
    pub refunds: u64,
    /// Customers this import registered.
    pub customers_created: u64,
    /// Customers the file names who were already in the shop (by id, email or name).
    pub customers_merged: u64,
    /// Products added to the catalog (SKUs it did not have), so they can be sold again.
    pub products: u64,
    /// Commands that an earlier run of the same file had already done.
    pub already_imported: u64,
    /// Documents (and their lines) that were already in the shop: the same sale, recorded
    /// by an earlier import of another file or placed here. Nothing was recorded again.
    pub in_shop_documents: u64,
    pub in_shop_lines: u64,
    /// What the file says of them.
    #[ts(as = "String")]
    pub in_shop_sum: Decimal,
    /// Refunds, shipments, deliveries and cancellations this file added to documents already
    /// in the shop, which did not have them yet.
    pub in_shop_updates: u64,
    /// Documents recorded under another number, because theirs was taken.
    pub renumbered_count: u64,
    pub renumbered: Vec<Renumbered>,
    /// Rejected lines: how many, by kind, the first few, and the file that lists them all.
    pub rejected_count: u64,
    pub rejected_groups: Vec<RejectedGroup>,
    pub rejected: Vec<RejectedLine>,
    pub rejected_csv: Option<PathBuf>,
    pub sku_spellings: Vec<SkuSpelling>,
    /// Things the import noticed and could not use: mapped columns it ignored, unknown status
    /// words, customer details the shop's rules refuse.
    pub warnings: Vec<String>,
    /// Sum of every line's amount in the file (credit lines negative).
    #[ts(as = "String")]
    pub file_sum: Decimal,
    /// What the log holds of this import: order totals − refunds − returns.
    #[ts(as = "String")]
    pub imported_net: Decimal,
    /// Sum of the rejected lines' amounts.
    #[ts(as = "String")]
    pub rejected_sum: Decimal,
    /// Rounding of imported line amounts to the currency's minor unit (recorded − file).
    #[ts(as = "String")]
    pub rounding: Decimal,
    /// Order discounts and tax added on top, as recorded (total − sum of lines); 0 for files
    /// that give neither.
    #[ts(as = "String")]
    pub discounts_and_tax: Decimal,
    /// `file_sum − (imported_net − rounding − discounts_and_tax + in_shop_sum + rejected_sum)`.
    #[ts(as = "String")]
    pub difference: Decimal,
    /// Documents the log should hold and does not (what makes a difference).
    pub missing: Vec<Missing>,
    /// `difference == 0` and nothing is missing.
    pub reconciles: bool,
    pub seconds: f64,
}

impl ImportReport {
    /// The reconciliation in a shop owner's words, one sentence a line.
    pub fn statement(&self) -> Vec<String> {
        let c = self.currency;
        let m = |d: Decimal| c.format_exact(d);
        let mut out = vec![format!(
            "The file's lines add up to {}. Recorded by this import: {} ({}, returns and refunds taken off).",
            m(self.file_sum),
            m(self.imported_net),
            count_of(self.orders, "order", "orders")
        )];
        if !self.discounts_and_tax.is_zero() {
            out.push(format!(
                "Of that, {} is discounts and tax the file gives on top of its lines.",
                m(self.discounts_and_tax)
            ));
        }
        if !self.rounding.is_zero() {
            out.push(format!("Rounding each line to whole {} changed it by {}.", minor_unit_name(c), m(self.rounding)));
        }
        if self.in_shop_lines > 0 {
            out.push(format!(
                "Already in the shop: {} ({}), {} — not recorded again.",
                count_of(self.in_shop_lines, "line", "lines"),
                count_of(self.in_shop_documents, "document", "documents"),
                m(self.in_shop_sum)
            ));
        }
        if self.rejected_count > 0 {
            out.push(format!(
                "Rejected: {}, {}.",
                count_of(self.rejected_count, "line", "lines"),
                m(self.rejected_sum)
            ));
        }
        if self.reconciles {
            out.push("Recorded + already in the shop + rejected − rounding equals the file's sum: every line is accounted for.".into());
        } else {
            out.push(format!(
                "These do not add up to the file's sum: {} is unaccounted for{}. Run the import again (it adds only what is missing); if the difference stays, please report it.",
                m(self.difference),
                if self.missing.is_empty() {
                    String::new()
                } else {
                    format!(", in {} documents the log does not hold", self.missing.len())
                }
            ));
        }
        out
    }
}

/// A count with its thousands grouped: `20,727`.
fn count(n: u64) -> String {
    crate::money::group_thousands(&n.to_string())
}

/// A count with its noun: `1 order`, `20,727 orders`.
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// What the currency's minor unit is called, for sentences about rounding.
fn minor_unit_name(currency: Currency) -> &'static str {
    match (currency.code(), currency.minor_units()) {
        (_, 0) => "units",
        ("GBP", _) => "pence",
        ("USD" | "EUR" | "AUD" | "CAD" | "NZD" | "HKD" | "SGD" | "ZAR", _) => "cents",
        ("CHF", _) => "rappen",
        ("SEK" | "NOK" | "DKK", _) => "öre",
        ("PLN", _) => "grosze",
        ("INR", _) => "paise",
        _ => "minor units",
    }
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
    let rejected_csv = match &options.rejected_csv {
        Some(p) => p.clone(),
        None => default_rejected_path(store, path, &file_hash),
    };
    let mut importer = Importer::new(store, &shop, &file_hash, options, rejected_csv)?;
    importer.interrupt_after = options.interrupt_after;
    let mut group: Vec<Row> = Vec::new();
    // An order past the most lines one may hold: its rows are turned away as they come, so
    // memory never holds more than one order of the largest size.
    let mut oversized: Option<String> = None;
    let too_many = |order: &str| {
        format!(
            "order {order} has more than {} lines, more than one order may hold; split it in the file",
            count(MAX_LINES as u64)
        )
    };
    let mut last_progress = Instant::now();
    while let Some(row) = reader.next_row()? {
        importer.report.lines += 1;
        if let Some(amount) = row.amount() {
            importer.report.file_sum += amount;
        }
        if let Some(problem) = row.problem.clone() {
            importer.reject(&row, problem.group, problem.message)?;
            continue;
        }
        if oversized.as_ref().is_some_and(|o| *o == row.order) {
            importer.reject(&row, TOO_MANY_LINES, too_many(&row.order))?;
            continue;
        }
        oversized = None;
        if group.last().is_some_and(|g| g.order != row.order) {
            importer.group(std::mem::take(&mut group))?;
        }
        if group.len() >= MAX_LINES {
            for held in std::mem::take(&mut group).iter().chain([&row]) {
                importer.reject(held, TOO_MANY_LINES, too_many(&row.order))?;
            }
            oversized = Some(row.order);
            continue;
        }
        group.push(row);
        if last_progress.elapsed().as_millis() >= 200 {
            last_progress = Instant::now();
            progress(&reader.progress(importer.report.lines, started));
        }
    }
    importer.group(group)?;
    importer.flush()?;
    importer.settle()?;
    progress(&reader.progress(importer.report.lines, started));
    importer.finish(started)
}

fn default_rejected_path(store: &WriteStore, path: &Path, file_hash: &str) -> PathBuf {
    let dir = store.path().parent().map(Path::to_path_buf).unwrap_or_default().join("imports");
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .trim_end_matches(".gz")
        .trim_end_matches(".csv")
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(60)
        .collect::<String>();
    dir.join(format!("{stem}-{}-rejected.csv", &file_hash[..8]))
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
    document: Document,
}

/// What the importer keeps of a sent document to account for its lines.
struct Document {
    /// The document's number in the file (empty for a product).
    number: String,
    /// The lines it carries, with their file amounts.
    lines: Vec<(u64, Option<Decimal>)>,
    /// The rounding its lines carry (recorded − file), counted when it is recorded.
    rounding: Decimal,
}

/// What the importer expects the log to hold for a document it saw recorded.
struct Expected {
    number: String,
    last_line: u64,
    /// The file's amount for its lines, plus their rounding: what the log holds before
    /// discounts and tax.
    amount: Decimal,
}

struct Importer<'a> {
    store: &'a WriteStore,
    shop: &'a Shop,
    prefix: String,
    import_id: String,
    format: Format,
    pending: Vec<Pending>,
    /// The file lines `pending` carries.
    pending_lines: usize,
    /// The batch the writer is committing, and what accounting needs of its documents.
    in_flight: Option<(BulkJob, Vec<Document>)>,
    /// Every SKU seen, folded to lower case → the spelling the shop uses, and whether the
    /// catalog has it.
    skus: HashMap<String, (String, bool)>,
    spellings: BTreeMap<String, (String, u64)>,
    /// Documents seen recorded, by the command id's line.
    expected: HashMap<u64, Expected>,
    report: ImportReport,
    expected_rounding: Decimal,
    rejected_csv: PathBuf,
    rejected_out: Option<csv::Writer<std::fs::File>>,
    /// The lowest-numbered rejected lines (a max-heap of at most [`REJECTED_SHOWN`]).
    rejected_shown: BinaryHeap<RejectedLine>,
    groups: BTreeMap<String, (u64, Decimal)>,
    statuses: BTreeMap<String, u64>,
    customer_warnings: BTreeMap<&'static str, (u64, u64)>,
    documents: u64,
    interrupt_after: Option<u64>,
}

impl<'a> Importer<'a> {
    fn new(
        store: &'a WriteStore,
        shop: &'a Shop,
        file_hash: &str,
        options: &ImportOptions,
        rejected_csv: PathBuf,
    ) -> Result<Importer<'a>, Error> {
        let mut skus = HashMap::new();
        for product in store.products()? {
            skus.entry(product.sku.to_lowercase()).or_insert((product.sku, true));
        }
        let import_id = file_hash[..16].to_owned();
        Ok(Importer {
            store,
            shop,
            prefix: format!("imp-{import_id}-"),
            import_id,
            format: options.format,
            pending: Vec::new(),
            pending_lines: 0,
            in_flight: None,
            skus,
            spellings: BTreeMap::new(),
            expected: HashMap::new(),
            report: ImportReport {
                format: options.format,
                currency: shop.currency,
                file_hash: file_hash.to_owned(),
                lines: 0,
                imported_lines: 0,
                orders: 0,
                returns: 0,
                refunds: 0,
                customers_created: 0,
                customers_merged: 0,
                products: 0,
                already_imported: 0,
                in_shop_documents: 0,
                in_shop_lines: 0,
                in_shop_sum: Decimal::ZERO,
                in_shop_updates: 0,
                renumbered_count: 0,
                renumbered: Vec::new(),
                rejected_count: 0,
                rejected_groups: Vec::new(),
                rejected: Vec::new(),
                rejected_csv: None,
                sku_spellings: Vec::new(),
                warnings: mapping_warnings(options),
                file_sum: Decimal::ZERO,
                imported_net: Decimal::ZERO,
                rejected_sum: Decimal::ZERO,
                rounding: Decimal::ZERO,
                discounts_and_tax: Decimal::ZERO,
                difference: Decimal::ZERO,
                missing: Vec::new(),
                reconciles: false,
                seconds: 0.0,
            },
            expected_rounding: Decimal::ZERO,
            rejected_csv,
            rejected_out: None,
            rejected_shown: BinaryHeap::new(),
            groups: BTreeMap::new(),
            statuses: BTreeMap::new(),
            customer_warnings: BTreeMap::new(),
            documents: 0,
            interrupt_after: None,
        })
    }

    fn reject(&mut self, row: &Row, group: &str, reason: String) -> Result<(), Error> {
        let order = (!row.order.is_empty()).then(|| row.order.clone());
        self.rejected(RejectedLine { line: row.line, order, group: group.to_owned(), reason, amount: row.amount() })
    }

    /// Accounts for one rejected line: the sums, its group, the CSV file, the first few.
    fn rejected(&mut self, line: RejectedLine) -> Result<(), Error> {
        self.report.rejected_count += 1;
        let amount = line.amount.unwrap_or_default();
        self.report.rejected_sum += amount;
        let group = self.groups.entry(line.group.clone()).or_default();
        group.0 += 1;
        group.1 += amount;
        if self.rejected_out.is_none() {
            self.rejected_out = Some(self.open_rejected_csv()?);
        }
        if let Some(out) = &mut self.rejected_out {
            let amount = line.amount.map(|a| a.to_string()).unwrap_or_default();
            let order = line.order.as_deref().map(crate::export::neutralise).unwrap_or_default();
            let reason = crate::export::neutralise(&line.reason);
            out.write_record([line.line.to_string().as_str(), &order, &line.group, &reason, &amount])
                .map_err(|e| self.write_error(&e.to_string()))?;
        }
        self.rejected_shown.push(line);
        if self.rejected_shown.len() > REJECTED_SHOWN {
            self.rejected_shown.pop();
        }
        Ok(())
    }

    fn write_error(&self, detail: &str) -> Error {
        Error::Write { detail: format!("{}: {detail}", self.rejected_csv.display()) }
    }

    fn open_rejected_csv(&self) -> Result<csv::Writer<std::fs::File>, Error> {
        if let Some(dir) = self.rejected_csv.parent() {
            crate::files::private_dir(dir).map_err(|e| self.write_error(&e.to_string()))?;
        }
        let file = crate::files::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.rejected_csv)
            .map_err(|e| self.write_error(&e.to_string()))?;
        let mut out = csv::Writer::from_writer(file);
        out.write_record(["line", "order", "kind", "reason", "amount"])
            .map_err(|e| self.write_error(&e.to_string()))?;
        Ok(out)
    }

    fn command_id(&self, kind: &str, key: &str) -> String {
        let clean = key.len() <= 64 && key.chars().all(|c| c.is_ascii_graphic());
        if clean {
            format!("{}{kind}-{key}", self.prefix)
        } else {
            format!("{}{kind}-h{}", self.prefix, &blake3::hash(key.as_bytes()).to_hex()[..24])
        }
    }

    fn push(&mut self, pending: Pending) -> Result<(), Error> {
        self.pending_lines += pending.document.lines.len();
        self.pending.push(pending);
        if self.pending.len() >= BATCH || self.pending_lines >= BATCH_LINES {
            self.flush()?;
        }
        Ok(())
    }

    /// Turns one document's rows into its command.
    fn group(&mut self, rows: Vec<Row>) -> Result<(), Error> {
        let Some(first) = rows.first() else { return Ok(()) };
        let credit_note = match self.format {
            Format::OnlineRetail => first.order.starts_with('C'),
            Format::Superstore => false,
            Format::Csv => rows.iter().all(|r| r.quantity < 0),
        };
        let mut lines = Vec::new();
        let mut checked: Vec<OrderLine> = Vec::new();
        let mut accounted = Vec::new();
        let mut refunds = Vec::new();
        let mut rounding = Decimal::ZERO;
        for row in &rows {
            let sign_ok = if credit_note { row.quantity < 0 } else { row.quantity > 0 };
            if !sign_ok {
                match (self.format, credit_note, row.quantity) {
                    (_, _, 0) => {
                        self.reject(row, "zero quantity", "quantity is 0: nothing was sold or returned".into())?
                    }
                    (Format::Csv, false, _) => refunds.push(row),
                    (_, true, _) => self.reject(
                        row,
                        "positive quantity on a credit note",
                        "positive quantity on a credit note: a credit note only takes goods back".into(),
                    )?,
                    (_, false, _) => self.reject(
                        row,
                        "negative quantity on a sale invoice",
                        "negative quantity on a sale invoice: a stock adjustment, not a sale".into(),
                    )?,
                }
                continue;
            }
            if row.unit_price.is_some_and(|p| p.is_sign_negative() && !p.is_zero()) {
                self.reject(
                    row,
                    "negative unit price",
                    "negative unit price: an adjustment (such as bad debt), not a sale".into(),
                )?;
                continue;
            }
            let mut input = row.line_input(credit_note);
            if let LineInput::Item { sku: Some(sku), .. } = &mut input {
                *sku = self.spelling(sku, row, credit_note)?;
            }
            match check_line(self.shop, &BTreeMap::new(), &input) {
                Ok(line) => {
                    let exact = row.amount().map(|a| a.abs()).unwrap_or_default();
                    rounding += line.total - exact;
                    checked.push(line);
                    lines.push(input);
                    accounted.push((row.line, row.amount()));
                }
                Err(reason) => self.reject(row, reason.summary(), reason.to_string())?,
            }
        }
        if lines.is_empty() {
            for row in refunds {
                self.reject(
                    row,
                    "refund without a sale",
                    "a refund for an order that has no lines to sell; give the order's lines first".into(),
                )?;
            }
            return Ok(());
        }
        let source = Source { import: self.import_id.clone(), number: first.order.clone() };
        let customer = self.customer(first);
        let command = if credit_note {
            Command::ImportReturn(ImportReturn {
                source,
                customer,
                lines,
                reason: first.note.clone().unwrap_or_else(|| format!("credit note {}", first.order)),
                at: first.at,
            })
        } else {
            let discount = first.discount.filter(|d| !d.is_zero());
            let total = totals(
                &checked,
                discount.map_or(Decimal::ZERO, |d| self.shop.currency.round(d)),
                self.shop.currency,
                self.shop.prices_include_tax,
            )
            .total;
            let mut refundable = total;
            let mut imported_refunds = Vec::new();
            for row in refunds {
                let exact = row.amount().map(|a| a.abs()).unwrap_or_default();
                let amount = self.shop.currency.round(exact);
                if amount > refundable || amount.is_zero() {
                    let why = if amount.is_zero() {
                        "a refund of 0".to_owned()
                    } else {
                        format!(
                            "refund of {} is more than the {} left to refund on order {}",
                            self.shop.currency.format(amount),
                            self.shop.currency.format(refundable),
                            first.order
                        )
                    };
                    self.reject(row, "refund larger than its order", why)?;
                    continue;
                }
                refundable -= amount;
                rounding -= amount - exact;
                accounted.push((row.line, row.amount()));
                let reason = row
                    .product
                    .strip_prefix("Refund: ")
                    .map(str::to_owned)
                    .or_else(|| row.note.clone())
                    .unwrap_or_else(|| "refund".into());
                imported_refunds.push(ImportedRefund { amount: MoneyInput::new(exact), reason, at: row.at });
            }
            let (shipment, delivered_at, cancellation) = self.lifecycle(first);
            // An order the file says is still open (another system's unfulfilled order) is
            // one to work on here; everything else is history.
            let open = first
                .status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("pending") || s.eq_ignore_ascii_case("placed"));
            let payment_method = first.payment.clone();
            Command::ImportOrder(Box::new(ImportOrder {
                source,
                customer,
                lines,
                discount: discount.map(MoneyInput::new),
                note: first.note.clone(),
                at: first.at,
                shipment,
                delivered_at,
                refunds: imported_refunds,
                cancellation,
                open,
                payment_method,
            }))
        };
        let sign = if credit_note { -Decimal::ONE } else { Decimal::ONE };
        let request = Request::with_id(self.command_id("L", &first.line.to_string()), command);
        let document = Document { number: first.order.clone(), lines: accounted, rounding: sign * rounding };
        self.push(Pending { request, document })?;
        self.documents += 1;
        if self.interrupt_after.is_some_and(|n| self.documents >= n) {
            self.flush()?;
            self.settle()?;
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The spelling of `sku` the shop uses: the catalog's, else the first the file uses
    /// (another case of one it has is the same product). A function of the catalog before
    /// the import and of the file alone, so a second run sends the very same commands. The
    /// product is added to the catalog at the first sale that names it.
    fn spelling(&mut self, sku: &str, row: &Row, credit_note: bool) -> Result<String, Error> {
        let known = self.skus.entry(sku.to_lowercase()).or_insert_with(|| (sku.to_owned(), false));
        let canonical = known.0.clone();
        if canonical != sku {
            self.spellings.entry(sku.to_owned()).or_insert_with(|| (canonical.clone(), 0)).1 += 1;
        }
        let name = row.product.trim();
        if known.1 || credit_note || name.is_empty() {
            return Ok(canonical);
        }
        known.1 = true;
        let price = row
            .unit_price
            .or_else(|| row.line_total.and_then(|t| t.checked_div(Decimal::from(row.quantity.unsigned_abs().max(1)))));
        let command = Command::AddProduct(AddProduct {
            sku: canonical.clone(),
            name: name.to_owned(),
            unit_price: MoneyInput::new(self.shop.currency.round(price.unwrap_or_default().abs())),
            tax_rate: None,
            image: None,
        });
        let request = Request::with_id(self.command_id("p", &canonical), command);
        let document = Document { number: String::new(), lines: Vec::new(), rounding: Decimal::ZERO };
        self.push(Pending { request, document })?;
        if self.format == Format::OnlineRetail && ONLINE_RETAIL_NOT_MERCHANDISE.contains(&canonical.as_str()) {
            let command = Command::UpdateProduct(UpdateProduct {
                sku: canonical.clone(),
                not_merchandise: Some(true),
                ..UpdateProduct::default()
            });
            let request = Request::with_id(self.command_id("n", &canonical), command);
            let document = Document { number: String::new(), lines: Vec::new(), rounding: Decimal::ZERO };
            self.push(Pending { request, document })?;
        }
        Ok(canonical)
    }

    /// The customer as the file names them, with what the shop's rules refuse left out (and
    /// counted for the report).
    fn customer(&mut self, row: &Row) -> Option<ImportedCustomer> {
        let mut warn = |what: &'static str, line: u64| {
            let entry = self.customer_warnings.entry(what).or_insert((0, line));
            entry.0 += 1;
        };
        let mut c = ImportedCustomer {
            id: row.customer_id.clone(),
            name: row.customer_name.clone(),
            email: row.email.clone(),
            country: row.country.clone(),
        };
        if c.id.as_deref().is_some_and(|id| crate::domain::check_id("customer id", id).is_err()) {
            warn(
                "customer ids that are not 1–32 letters, digits, '-', '_' or '.' (the customer was matched by email or name instead)",
                row.line,
            );
            c.id = None;
        }
        if c.email.as_deref().is_some_and(|e| crate::domain::check_email(e).is_err()) {
            warn("email addresses that are not valid (left out)", row.line);
            c.email = None;
        }
        if c.name
            .as_deref()
            .is_some_and(|n| crate::domain::check_text("customer name", n, crate::domain::NAME_MAX).is_err())
        {
            warn("customer names that are too long or hold control characters (left out)", row.line);
            c.name = None;
        }
        if c.country
            .as_deref()
            .is_some_and(|n| crate::domain::check_text("country", n, crate::domain::SHORT_MAX).is_err())
        {
            warn("countries that are too long or hold control characters (left out)", row.line);
            c.country = None;
        }
        (c.id.is_some() || c.key().is_some()).then_some(c)
    }

    /// Shipping, delivery and cancellation the file records for an order.
    fn lifecycle(
        &mut self,
        row: &Row,
    ) -> (Option<ImportedShipment>, Option<DateTime<Utc>>, Option<ImportedCancellation>) {
        let status = row.status.as_deref().map(str::to_lowercase);
        match status.as_deref() {
            None | Some("shipped" | "delivered" | "cancelled" | "canceled" | "pending" | "placed" | "completed") => {}
            Some(other) => {
                if self.statuses.len() < STATUSES_SHOWN || self.statuses.contains_key(other) {
                    *self.statuses.entry(other.to_owned()).or_default() += 1;
                }
            }
        }
        // A tracking number is only there for goods that went out: without a status, it says
        // the order was shipped (when, the file does not say: on its date).
        let shipped =
            matches!(status.as_deref(), Some("shipped" | "delivered")) || (status.is_none() && row.tracking.is_some());
        let shipped_at = row.shipped_at.or(shipped.then_some(row.at));
        let shipment = shipped_at.map(|at| ImportedShipment {
            carrier: row.carrier.clone().unwrap_or_else(|| "not in the import".into()),
            tracking: row.tracking.clone().unwrap_or_else(|| "not in the import".into()),
            at,
        });
        let delivered = (status.as_deref() == Some("delivered") && shipment.is_some()).then_some(row.at);
        let cancellation = (matches!(status.as_deref(), Some("cancelled" | "canceled")) && shipment.is_none())
            .then(|| ImportedCancellation { reason: "cancelled in the imported file".into(), at: row.at });
        (shipment, delivered, cancellation)
    }

    /// Sends the pending requests as a bulk job (an order at the counter meanwhile does not wait
    /// for all of them) once the one before is accounted for, and returns while the writer
    /// commits it: the file is parsed on meanwhile ([`Importer::settle`] accounts for it).
    fn flush(&mut self) -> Result<(), Error> {
        self.settle()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        // The requests move to the writer (an Online Retail batch is megabytes of lines); what
        // accounting needs stays here.
        let (requests, documents): (Vec<Request>, Vec<Document>) =
            std::mem::take(&mut self.pending).into_iter().map(|p| (p.request, p.document)).unzip();
        self.pending_lines = 0;
        self.in_flight = Some((self.store.submit_bulk(requests)?, documents));
        Ok(())
    }

    /// Waits for the batch the writer has and accounts for each of its documents.
    fn settle(&mut self) -> Result<(), Error> {
        let Some((job, documents)) = self.in_flight.take() else { return Ok(()) };
        let results = job.wait()?;
        for (p, result) in documents.into_iter().zip(results) {
            match result {
                Ok(outcome) => {
                    if outcome.replayed {
                        self.report.already_imported += 1;
                    }
                    self.accepted(p, &outcome.entity);
                }
                Err(Error::Rejected(reason)) => {
                    for (line, amount) in p.lines {
                        let order = (!p.number.is_empty()).then(|| p.number.clone());
                        let reason = format!("the whole document was refused: {reason}");
                        self.rejected(RejectedLine { line, order, group: "document refused".into(), reason, amount })?;
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Accounts for an accepted document: recorded by this import, or already in the shop.
    fn accepted(&mut self, p: Document, entity: &Entity) {
        let (id, source, note) = match entity {
            Entity::Order(o) => (&o.id, &o.source, o.note.as_deref()),
            Entity::Return(r) => (&r.id, &r.source, Some(r.reason.as_str())),
            // A product: counted from the log.
            _ => return,
        };
        let Some(first) = p.lines.first().map(|l| l.0) else { return };
        let last = p.lines.iter().map(|l| l.0).max().unwrap_or(first);
        let file_amount: Decimal = p.lines.iter().filter_map(|l| l.1).sum();
        let ours = source.as_ref().is_some_and(|s| s.import == self.import_id);
        if !ours {
            self.report.in_shop_documents += 1;
            self.report.in_shop_lines += p.lines.len() as u64;
            self.report.in_shop_sum += file_amount;
            return;
        }
        self.report.imported_lines += p.lines.len() as u64;
        self.expected_rounding += p.rounding;
        if *id != p.number {
            self.report.renumbered_count += 1;
            if self.report.renumbered.len() < RENUMBERED_SHOWN {
                let reason = note
                    .and_then(|n| n.rsplit_once('(').map(|(_, why)| why.trim_end_matches(')').to_owned()))
                    .unwrap_or_default();
                self.report.renumbered.push(Renumbered {
                    line: first,
                    number: p.number.clone(),
                    recorded_as: id.clone(),
                    reason,
                });
            }
        }
        self.expected.insert(first, Expected { number: p.number, last_line: last, amount: file_amount + p.rounding });
    }

    /// Reads back what the log holds of this import and reconciles it with the file.
    fn finish(mut self, started: Instant) -> Result<ImportReport, Error> {
        if let Some(mut out) = self.rejected_out.take() {
            out.flush().map_err(|e| self.write_error(&e.to_string()))?;
            self.report.rejected_csv = Some(self.rejected_csv.clone());
        }
        let Importer {
            store,
            prefix,
            report: mut r,
            mut expected,
            expected_rounding,
            rejected_shown,
            groups,
            spellings,
            statuses,
            customer_warnings,
            ..
        } = self;
        r.rounding = expected_rounding;
        let mut created = BTreeSet::new();
        let mut customers = BTreeSet::new();
        let doc_prefix = format!("{prefix}L-");
        store.commands_with_prefix(&prefix, |id, events| {
            let first_line = id.strip_prefix(&doc_prefix).and_then(|l| l.parse::<u64>().ok());
            let placed = events.iter().any(|e| matches!(e.event, Event::OrderPlaced(_) | Event::ReturnRecorded(_)));
            let mut goods = Decimal::ZERO;
            for Envelope { event, .. } in events {
                match event {
                    Event::OrderPlaced(e) => {
                        r.orders += 1;
                        r.imported_net += e.totals.total;
                        r.discounts_and_tax += e.totals.total - e.totals.subtotal;
                        goods += e.totals.subtotal;
                        customers.extend(e.customer.as_ref().map(|c| c.id.clone()));
                    }
                    Event::ReturnRecorded(e) => {
                        r.returns += 1;
                        r.imported_net -= e.record.amount;
                        goods -= e.record.amount;
                        customers.extend(e.record.customer.as_ref().map(|c| c.id.clone()));
                    }
                    Event::OrderRefunded(e) if placed => {
                        r.refunds += 1;
                        r.imported_net -= e.amount;
                        goods -= e.amount;
                    }
                    Event::CustomerRegistered(e) => {
                        created.insert(e.customer.id.clone());
                    }
                    Event::ProductAdded(_) => r.products += 1,
                    // What this file added to a sale that was already in the shop.
                    Event::OrderRefunded(_)
                    | Event::OrderShipped(_)
                    | Event::OrderDelivered(_)
                    | Event::OrderCancelled(_)
                        if !placed =>
                    {
                        r.in_shop_updates += 1;
                    }
                    _ => {}
                }
            }
            if placed
                && let Some(line) = first_line
                && let Some(e) = expected.remove(&line)
                && e.amount != goods
            {
                r.missing.push(Missing {
                    number: e.number,
                    first_line: line,
                    last_line: e.last_line,
                    amount: e.amount - goods,
                });
            }
            Ok(())
        })?;
        for (line, e) in expected {
            r.missing.push(Missing { number: e.number, first_line: line, last_line: e.last_line, amount: e.amount });
        }
        r.missing.sort_by_key(|m| m.first_line);
        r.customers_created = created.len() as u64;
        r.customers_merged = customers.difference(&created).count() as u64;
        r.difference =
            r.file_sum - (r.imported_net - r.rounding - r.discounts_and_tax + r.in_shop_sum + r.rejected_sum);
        r.reconciles = r.difference.is_zero() && r.missing.is_empty();
        r.rejected = rejected_shown.into_sorted_vec();
        r.rejected_groups =
            groups.into_iter().map(|(group, (lines, amount))| RejectedGroup { group, lines, amount }).collect();
        r.rejected_groups.sort_by(|a, b| b.lines.cmp(&a.lines).then_with(|| a.group.cmp(&b.group)));
        r.sku_spellings =
            spellings.into_iter().map(|(sku, (recorded_as, lines))| SkuSpelling { sku, recorded_as, lines }).collect();
        if let Some(first) = r.sku_spellings.first() {
            r.warnings.push(format!(
                "{} SKUs differ from another only in case (such as {} and {}); each was imported as the same product as the first spelling",
                r.sku_spellings.len(),
                first.recorded_as,
                first.sku
            ));
        }
        if !statuses.is_empty() {
            let words = statuses.iter().map(|(w, n)| format!("'{w}' ({n} orders)")).collect::<Vec<_>>().join(", ");
            r.warnings.push(format!(
                "status {words} is not one Countertop knows (placed, shipped, delivered, cancelled); those orders were recorded as placed"
            ));
        }
        for (what, (count, line)) in customer_warnings {
            r.warnings.push(format!("{count} lines have {what}; the first is line {line}"));
        }
        r.seconds = started.elapsed().as_secs_f64();
        Ok(r)
    }
}

/// Mapped columns this import will read but cannot use, said up front.
fn mapping_warnings(options: &ImportOptions) -> Vec<String> {
    if options.format != Format::Csv {
        return Vec::new();
    }
    let mapped = |f: Field| options.map.contains_key(&f);
    let mut out = Vec::new();
    let customer = [Field::Customer, Field::CustomerId, Field::Email].into_iter().any(mapped);
    if mapped(Field::Country) && !customer {
        out.push("--map country: a country is kept on the customer, and no customer column is mapped (customer, customer_id or email); the column was not used".to_owned());
    }
    if mapped(Field::Carrier) && !mapped(Field::Status) && !mapped(Field::Tracking) {
        out.push("--map carrier: a carrier is kept only for orders that were shipped (a status of shipped or delivered, or a tracking number), and neither a status nor a tracking column is mapped; the column was not used".to_owned());
    }
    out
}

/// A moment from a shop-local date and time; a date alone means noon that day.
pub(crate) fn local_moment(shop: &crate::domain::Shop, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    shop.time_zone.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::rows::Problem;
    use super::*;

    #[test]
    fn minor_units_have_their_names() {
        let name = |code: &str| Currency::parse(code).map(minor_unit_name).unwrap_or("?");
        assert_eq!((name("GBP"), name("USD"), name("JPY"), name("KWD")), ("pence", "cents", "units", "minor units"));
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(
            (count(0), count(999), count(1000), count(20_727), count(1_234_567)),
            ("0".into(), "999".into(), "1,000".into(), "20,727".into(), "1,234,567".into())
        );
    }

    #[test]
    fn problems_keep_their_group() {
        let p = Problem::new("no date", "date is empty");
        assert_eq!((p.group, p.message.as_str()), ("no date", "date is empty"));
    }
}
