//! Reading rows: gzip or plain CSV, the three formats' columns, and one normalised [`Row`] per
//! line with whatever was wrong with it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{ImportOptions, ImportProgress, local_moment};
use crate::domain::{LineInput, Rejection, Shop};
use crate::money::{MoneyInput, parse_decimal};
use crate::store::Error;

/// The largest amount a line may state: the most one line may total anywhere in the shop.
/// Bounding every line keeps the file's sum exact for any number of lines a file can hold.
const MAX_LINE_AMOUNT: Decimal = crate::money::MAX_TOTAL;

/// The layout of the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// UCI Online Retail: `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country`.
    /// Invoices starting with `C` are credit notes.
    OnlineRetail,
    /// Tableau Superstore: `Order ID`, `Order Date`, `Ship Date`, `Ship Mode`, customers with
    /// names, `Product ID`, `Product Name`, `Sales` (the line total), `Quantity`.
    Superstore,
    /// Any CSV, columns named by [`Field`] (or mapped with `--map FIELD=COLUMN`). An order
    /// whose rows are all negative is a return; negative rows among positive ones are refunds
    /// of that order, dated by their own date. This is also what `export orders` writes.
    #[default]
    Csv,
}

impl Format {
    /// What the owner calls the export.
    fn label(self) -> &'static str {
        match self {
            Format::OnlineRetail => "UCI Online Retail",
            Format::Superstore => "Superstore",
            Format::Csv => "generic CSV",
        }
    }

    /// Its name as the CLI's `--format` takes it (and as serialized).
    fn name(self) -> &'static str {
        match self {
            Format::OnlineRetail => "online-retail",
            Format::Superstore => "superstore",
            Format::Csv => "csv",
        }
    }
}

/// A field of the generic CSV format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Order,
    Date,
    Customer,
    CustomerId,
    Email,
    Sku,
    Product,
    Quantity,
    UnitPrice,
    LineTotal,
    Country,
    Note,
    Status,
    Carrier,
    Tracking,
    TaxRate,
    Discount,
    /// How the order was paid (cash, card, …).
    Payment,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Order,
        Field::Date,
        Field::Customer,
        Field::CustomerId,
        Field::Email,
        Field::Sku,
        Field::Product,
        Field::Quantity,
        Field::UnitPrice,
        Field::LineTotal,
        Field::Country,
        Field::Note,
        Field::Status,
        Field::Carrier,
        Field::Tracking,
        Field::TaxRate,
        Field::Discount,
        Field::Payment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Order => "order",
            Field::Date => "date",
            Field::Customer => "customer",
            Field::CustomerId => "customer_id",
            Field::Email => "email",
            Field::Sku => "sku",
            Field::Product => "product",
            Field::Quantity => "quantity",
            Field::UnitPrice => "unit_price",
            Field::LineTotal => "line_total",
            Field::Country => "country",
            Field::Note => "note",
            Field::Status => "status",
            Field::Carrier => "carrier",
            Field::Tracking => "tracking",
            Field::TaxRate => "tax_rate",
            Field::Discount => "discount",
            Field::Payment => "payment",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name.trim())
    }
}

/// One input line, normalised.
#[derive(Clone, Debug)]
pub(super) struct Row {
    pub line: u64,
    pub order: String,
    pub at: DateTime<Utc>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
    pub sku: Option<String>,
    pub product: String,
    pub quantity: i64,
    pub unit_price: Option<Decimal>,
    pub line_total: Option<Decimal>,
    /// A fraction; imports without one carry 0.
    pub tax_rate: Option<Decimal>,
    /// The order's discount (an amount), read from its first row.
    pub discount: Option<Decimal>,
    pub note: Option<String>,
    pub status: Option<String>,
    pub payment: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub shipped_at: Option<DateTime<Utc>>,
    /// Why the line cannot be imported at all (unreadable number or date, no order, …).
    pub problem: Option<Problem>,
}

/// What is wrong with a line: a short heading to group lines by, and the whole story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Problem {
    pub group: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(group: &'static str, message: impl Into<String>) -> Problem {
        Problem { group, message: message.into() }
    }
}

impl Row {
    /// The line's amount as the file states it (its line total, or quantity × unit price),
    /// when it is one a line may hold: an amount past [`MAX_LINE_AMOUNT`] is no amount to add up
    /// (the line is rejected for it, and a few such could pass what a `Decimal` holds).
    pub fn amount(&self) -> Option<Decimal> {
        self.stated_amount().filter(|amount| amount.abs() <= MAX_LINE_AMOUNT)
    }

    /// The amount as stated, whatever its size; `None` when quantity × unit price does not fit
    /// in a decimal at all.
    fn stated_amount(&self) -> Option<Decimal> {
        self.line_total.or_else(|| self.unit_price.and_then(|p| p.checked_mul(Decimal::from(self.quantity))))
    }

    /// The line as an ad-hoc item with the quantity made positive. Imported lines carry tax
    /// rate 0 unless the file gives one: the file's prices are what customers paid, and
    /// exports from other systems do not say the tax in them.
    pub fn line_input(&self, credit: bool) -> LineInput {
        let sku = self.sku.clone().filter(|s| !s.chars().any(char::is_whitespace));
        let name =
            if self.product.trim().is_empty() { self.sku.clone().unwrap_or_default() } else { self.product.clone() };
        let sign = if credit { -Decimal::ONE } else { Decimal::ONE };
        LineInput::Item {
            sku,
            name,
            quantity: self.quantity.abs(),
            unit_price: self.unit_price.map(MoneyInput::new),
            tax_rate: Some(self.tax_rate.unwrap_or(Decimal::ZERO)),
            total: self.line_total.map(|t| MoneyInput::new(t * sign)),
        }
    }
}

/// Counts bytes read from the file underneath the decompressor, for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The longest line (CSV record) an export may have. Real ones are a few hundred bytes; a
/// longer one is not a shop export (or is damaged), and reading it whole could take all the
/// memory there is (a small gzip can hold one line of gigabytes).
const MAX_RECORD: u64 = 1 << 20;

/// How far the CSV reader may read ahead of the record it is on (its buffer, with room).
const READ_AHEAD: u64 = 1 << 17;

/// Stops the decompressed stream when the record being read grows past [`MAX_RECORD`]: `end`
/// is where the last whole record ended, set by [`RowReader`] after each one.
struct Limited<R> {
    inner: R,
    delivered: u64,
    end: Arc<AtomicU64>,
}

/// The error [`Limited`] stops with, told apart from the file's own I/O errors by its kind.
const TOO_LONG: std::io::ErrorKind = std::io::ErrorKind::FileTooLarge;

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.delivered.saturating_sub(self.end.load(Ordering::Relaxed)) > MAX_RECORD + READ_AHEAD {
            return Err(std::io::Error::new(TOO_LONG, "a line longer than 1 MiB"));
        }
        let n = self.inner.read(buf)?;
        self.delivered += n as u64;
        Ok(n)
    }
}

fn bad_file(message: String) -> Error {
    Error::Rejected(Rejection::BadImport { message })
}

pub(super) struct RowReader {
    csv: csv::Reader<Box<dyn Read>>,
    record: csv::StringRecord,
    columns: BTreeMap<Field, usize>,
    format: Format,
    date_format: Option<String>,
    shop: Shop,
    line: u64,
    read: Arc<AtomicU64>,
    total: u64,
    /// Where the last whole record ended in the decompressed stream (for [`Limited`]).
    end: Arc<AtomicU64>,
    path: std::path::PathBuf,
}

impl RowReader {
    pub fn open(path: &Path, options: &ImportOptions, shop: &Shop) -> Result<RowReader, Error> {
        let io = |e: std::io::Error| Error::Read { path: path.to_owned(), detail: e.to_string() };
        let mut file = File::open(path).map_err(io)?;
        let total = file.metadata().map_err(io)?.len();
        let mut magic = [0u8; 2];
        let gzip = file.read(&mut magic).map_err(io)? == 2 && magic == [0x1f, 0x8b];
        let file = File::open(path).map_err(io)?;
        let read = Arc::new(AtomicU64::new(0));
        let counted = BufReader::with_capacity(1 << 16, Counting { inner: file, read: Arc::clone(&read) });
        let input: Box<dyn Read> =
            if gzip { Box::new(flate2::read::MultiGzDecoder::new(counted)) } else { Box::new(counted) };
        let end = Arc::new(AtomicU64::new(0));
        let input: Box<dyn Read> = Box::new(Limited { inner: input, delivered: 0, end: Arc::clone(&end) });
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let headers = match csv.headers() {
            Ok(headers) => headers.clone(),
            Err(e) => {
                return Err(read_error(path, 1, &e)
                    .unwrap_or_else(|| bad_file(format!("the first line is not a CSV header: {e}"))));
            }
        };
        end.store(csv.position().byte(), Ordering::Relaxed);
        let columns = columns(&headers, options)?;
        Ok(RowReader {
            csv,
            record: csv::StringRecord::new(),
            columns,
            format: options.format,
            date_format: options.date_format.clone(),
            shop: shop.clone(),
            line: 1,
            read,
            total,
            end,
            path: path.to_owned(),
        })
    }

    pub fn progress(&self, lines: u64, started: Instant) -> ImportProgress {
        let secs = started.elapsed().as_secs_f64();
        let bytes = self.read.load(Ordering::Relaxed);
        let byte_rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        ImportProgress {
            lines,
            bytes_read: bytes,
            bytes_total: self.total,
            lines_per_second: if secs > 0.0 { lines as f64 / secs } else { 0.0 },
            eta_seconds: (byte_rate > 0.0).then(|| self.total.saturating_sub(bytes) as f64 / byte_rate),
        }
    }

    pub fn next_row(&mut self) -> Result<Option<Row>, Error> {
        let read = self.csv.read_record(&mut self.record);
        self.end.store(self.csv.position().byte(), Ordering::Relaxed);
        match read {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                if let Some(fatal) = read_error(&self.path, self.line + 1, &e) {
                    return Err(fatal);
                }
                self.line += 1;
                // A row that is not CSV (an unbalanced quote, invalid UTF-8) is still a line to account for.
                return Ok(Some(
                    self.broken(Problem::new("not a readable CSV row", format!("not a readable CSV row: {e}"))),
                ));
            }
        }
        self.line = self.record.position().map_or(self.line + 1, csv::Position::line);
        Ok(Some(self.row()))
    }

    fn broken(&self, problem: Problem) -> Row {
        Row {
            line: self.line,
            order: String::new(),
            at: DateTime::UNIX_EPOCH,
            customer_id: None,
            customer_name: None,
            email: None,
            country: None,
            sku: None,
            product: String::new(),
            quantity: 0,
            unit_price: None,
            line_total: None,
            tax_rate: None,
            discount: None,
            note: None,
            status: None,
            payment: None,
            carrier: None,
            tracking: None,
            shipped_at: None,
            problem: Some(problem),
        }
    }

    fn cell(&self, field: Field) -> Option<&str> {
        let raw = self.columns.get(&field).and_then(|&i| self.record.get(i))?.trim();
        // Undo the formula neutralisation `export` applies (a leading apostrophe).
        let raw = match raw.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
            _ => raw,
        };
        (!raw.is_empty()).then_some(raw)
    }

    fn row(&self) -> Row {
        let mut row = self.broken(Problem::new("", ""));
        row.problem = None;
        let text = |f: Field| self.cell(f).map(str::to_owned);
        row.order = text(Field::Order).unwrap_or_default();
        row.customer_id = text(Field::CustomerId).map(|id| id.strip_suffix(".0").map_or(id.clone(), str::to_owned));
        row.customer_name = text(Field::Customer);
        row.email = text(Field::Email);
        row.country = text(Field::Country);
        row.sku = text(Field::Sku);
        row.product = text(Field::Product).unwrap_or_default();
        row.note = text(Field::Note);
        row.status = text(Field::Status);
        row.payment = text(Field::Payment);
        row.carrier = text(Field::Carrier);
        row.tracking = text(Field::Tracking);
        let mut problems: Vec<(&'static str, String)> = Vec::new();
        match self.cell(Field::Quantity).map(|q| q.parse::<i64>()) {
            Some(Ok(q)) => row.quantity = q,
            Some(Err(_)) => problems.push((
                "unreadable quantity",
                format!("quantity '{}' is not a whole number", self.cell(Field::Quantity).unwrap_or("")),
            )),
            None => problems.push(("no quantity", "quantity is empty".to_owned())),
        }
        for (field, slot) in [
            (Field::UnitPrice, &mut row.unit_price),
            (Field::LineTotal, &mut row.line_total),
            (Field::TaxRate, &mut row.tax_rate),
            (Field::Discount, &mut row.discount),
        ] {
            if let Some(cell) = self.cell(field) {
                match parse_decimal(cell) {
                    Ok(value) => *slot = Some(value),
                    Err(_) => {
                        problems.push(("unreadable number", format!("{} '{cell}' is not a number", field.name())))
                    }
                }
            }
        }
        if row.unit_price.is_none() && row.line_total.is_none() && problems.is_empty() {
            problems.push(("no price", "it has neither a unit price nor a line total".to_owned()));
        }
        let too_large = match row.stated_amount() {
            Some(amount) => amount.abs() > MAX_LINE_AMOUNT,
            // Quantity × unit price does not fit in a decimal at all.
            None => row.unit_price.is_some() && row.line_total.is_none(),
        };
        if too_large {
            problems.push((
                "amount too large",
                "its amount (quantity × unit price) is more than 1,000,000,000,000, the most one line may total; check the quantity and price columns"
                    .to_owned(),
            ));
        }
        if row.order.is_empty() {
            problems.push(("no order number", "it has no order number".to_owned()));
        }
        match self.cell(Field::Date).map(|d| self.moment(d)) {
            Some(Some(at)) => row.at = at,
            Some(None) => problems.push((
                "unreadable date",
                format!(
                    "date '{}' is not {}",
                    self.cell(Field::Date).unwrap_or(""),
                    self.date_format.as_deref().map_or("a date and time such as 2011-12-09 12:50:00".to_owned(), |f| {
                        format!("in the format {f}")
                    })
                ),
            )),
            None => problems.push(("no date", "date is empty".to_owned())),
        }
        if self.format == Format::Superstore
            && let Some(ship) = self.cell(Field::Tracking)
        {
            // Superstore's ship date sits where tracking would (see `columns`).
            row.shipped_at = self.moment(ship);
            row.tracking = None;
        }
        if row.product.is_empty() && row.sku.is_none() && problems.is_empty() {
            problems.push(("no product", "it has neither a product name nor a SKU".to_owned()));
        }
        if let Some((group, _)) = problems.first() {
            let message = problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            row.problem = Some(Problem::new(group, message));
        }
        row
    }

    fn moment(&self, text: &str) -> Option<DateTime<Utc>> {
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
        let local = match &self.date_format {
            Some(f) => NaiveDateTime::parse_from_str(text, f)
                .ok()
                .or_else(|| NaiveDate::parse_from_str(text, f).ok().map(|d| d.and_time(noon))),
            None => ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_time(noon))),
        };
        match local {
            Some(local) => local_moment(&self.shop, local),
            None => DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// The file cannot be read on (its disk failed, its gzip is damaged) or is not an export (a
/// line past [`MAX_RECORD`]): the import stops with that, having written what came before.
/// `None` for a row that is merely not CSV, which is a line to account for and go past.
fn read_error(path: &Path, line: u64, e: &csv::Error) -> Option<Error> {
    let csv::ErrorKind::Io(io) = e.kind() else { return None };
    Some(if io.kind() == TOO_LONG {
        bad_file(format!(
            "line {line} of {} is longer than 1 MiB; a shop export's lines are short, so this is not one, or it is damaged. Check the file; nothing after line {} was read",
            path.display(),
            line.saturating_sub(1)
        ))
    } else {
        Error::Read { path: path.to_owned(), detail: format!("{io} (at line {line})") }
    })
}

/// The columns a known export has, and the field each one fills (none for generic CSV).
fn known_columns(format: Format) -> &'static [(Field, &'static str)] {
    match format {
        Format::OnlineRetail => &[
            (Field::Order, "InvoiceNo"),
            (Field::Sku, "StockCode"),
            (Field::Product, "Description"),
            (Field::Quantity, "Quantity"),
            (Field::Date, "InvoiceDate"),
            (Field::UnitPrice, "UnitPrice"),
            (Field::CustomerId, "CustomerID"),
            (Field::Country, "Country"),
        ],
        Format::Superstore => &[
            (Field::Order, "Order ID"),
            (Field::Date, "Order Date"),
            // The ship date is read through the tracking slot and moved to `shipped_at`.
            (Field::Tracking, "Ship Date"),
            (Field::Carrier, "Ship Mode"),
            (Field::CustomerId, "Customer ID"),
            (Field::Customer, "Customer Name"),
            (Field::Country, "Country"),
            (Field::Sku, "Product ID"),
            (Field::Product, "Product Name"),
            (Field::LineTotal, "Sales"),
            (Field::Quantity, "Quantity"),
        ],
        Format::Csv => &[],
    }
}

/// Maps fields to column indexes for the format, or says which column is missing.
fn columns(headers: &csv::StringRecord, options: &ImportOptions) -> Result<BTreeMap<Field, usize>, Error> {
    let find = |name: &str| headers.iter().position(|h| h.trim().trim_start_matches('\u{feff}') == name);
    let known = known_columns(options.format);
    let mut columns = BTreeMap::new();
    if options.format == Format::Csv {
        for field in Field::ALL {
            let name = options.map.get(&field).map_or(field.name(), String::as_str);
            match find(name) {
                Some(i) => {
                    columns.insert(field, i);
                }
                None if options.map.contains_key(&field) => {
                    return Err(bad_file(format!(
                        "--map {}={name}: the file has no column '{name}'; its columns are: {}",
                        field.name(),
                        headers.iter().collect::<Vec<_>>().join(", ")
                    )));
                }
                None => {}
            }
        }
        let required = [Field::Order, Field::Date, Field::Quantity];
        for field in required {
            if columns.contains_key(&field) {
                continue;
            }
            // A known export read as generic CSV: say which format it is.
            let export = [Format::OnlineRetail, Format::Superstore]
                .into_iter()
                .find(|format| known_columns(*format).iter().all(|(_, name)| find(name).is_some()));
            if let Some(format) = export
                && options.map.is_empty()
            {
                return Err(bad_file(format!(
                    "this is a {} export (it has that export's columns), read as a generic CSV; import it with --format {}",
                    format.label(),
                    format.name()
                )));
            }
            return Err(bad_file(format!(
                "the file has no '{0}' column; name the column that holds it with --map {0}=COLUMN (its columns are: {1})",
                field.name(),
                headers.iter().collect::<Vec<_>>().join(", ")
            )));
        }
        if !columns.contains_key(&Field::UnitPrice) && !columns.contains_key(&Field::LineTotal) {
            return Err(bad_file(
                "the file has neither a 'unit_price' nor a 'line_total' column; map one with --map unit_price=COLUMN"
                    .into(),
            ));
        }
        if !columns.contains_key(&Field::Product) && !columns.contains_key(&Field::Sku) {
            return Err(bad_file(
                "the file has neither a 'product' nor a 'sku' column; map one with --map product=COLUMN".into(),
            ));
        }
    } else {
        for (field, name) in known {
            let i = find(name).ok_or_else(|| {
                bad_file(format!(
                    "this is not a {} export: it has no '{name}' column (its columns are: {}); check --format",
                    options.format.label(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })?;
            columns.insert(*field, i);
        }
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_their_names() {
        for field in Field::ALL {
            assert_eq!(Field::parse(field.name()), Some(field));
        }
        assert_eq!(Field::parse("price"), None);
    }

    fn message(e: Error) -> String {
        match e {
            Error::Rejected(Rejection::BadImport { message }) => message,
            other => panic!("not a bad-import error: {other:?}"),
        }
    }

    #[test]
    fn formats_are_named_as_the_cli_and_serde_name_them() {
        for format in [Format::OnlineRetail, Format::Superstore, Format::Csv] {
            assert_eq!(serde_json::to_value(format).unwrap(), format.name());
        }
    }

    #[test]
    fn a_known_export_read_as_generic_csv_is_named_with_the_format_to_use() {
        let generic = ImportOptions::default();
        let online_retail = csv::StringRecord::from(vec![
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ]);
        let e = message(columns(&online_retail, &generic).unwrap_err());
        assert!(e.contains("UCI Online Retail export") && e.contains("--format online-retail"), "{e}");
        let superstore = csv::StringRecord::from(vec![
            "Row ID",
            "Order ID",
            "Order Date",
            "Ship Date",
            "Ship Mode",
            "Customer ID",
            "Customer Name",
            "Segment",
            "Country",
            "Product ID",
            "Product Name",
            "Sales",
            "Quantity",
        ]);
        let e = message(columns(&superstore, &generic).unwrap_err());
        assert!(e.contains("--format superstore"), "{e}");
        // Once the owner maps columns, the mapping is what is checked.
        let mapped = ImportOptions { map: BTreeMap::from([(Field::Sku, "StockCode".to_owned())]), ..generic.clone() };
        let e = message(columns(&online_retail, &mapped).unwrap_err());
        assert!(e.contains("no 'order' column") && e.contains("--map order=COLUMN"), "{e}");
        // An unknown file still gets the column it lacks.
        let other = csv::StringRecord::from(vec!["Invoice", "When", "Qty"]);
        let e = message(columns(&other, &generic).unwrap_err());
        assert!(e.contains("no 'order' column"), "{e}");
    }
}
