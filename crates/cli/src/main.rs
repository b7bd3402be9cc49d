//! `countertop`: the shop from the command line. Thin: parses arguments, calls
//! `countertop-core`, prints the answer (or `--json`), and maps errors to exit codes.

mod input;
mod reads;
mod show;
mod sync;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use countertop_core::{
    AddCustomer, AddProduct, CancelOrder, ChangeShopSettings, Command, CountStock, DeliverOrder, DrawerMove, LineInput,
    OpenShop, PayOrder, PlaceOrder, ReceiveStock, RecordDrawer, RefundOrder, Request, ShipOrder, UpdateCustomer,
    UpdateProduct, WriteStore, receipt::ReceiptKind,
};

use crate::input::InputError;

const AFTER_HELP: &str = "\
Exit status: 0 done; 1 refused (the message says what to fix); 2 bad arguments;
3 the data could not be used (already open elsewhere, damaged, disk problem);
4 the hub could not be reached or refused (nothing is lost: try again later).

Data lives in --data DIR, or $COUNTERTOP_DATA, or the OS data dir (e.g. ~/.local/share/countertop).";

/// Countertop: a local-first shop — orders, catalog, customers, shipping and refunds.
#[derive(Debug, Parser)]
#[command(name = "countertop", version, after_help = AFTER_HELP)]
struct Cli {
    /// Where the shop's data lives.
    #[arg(long, global = true, env = "COUNTERTOP_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print machine-readable JSON instead of text (errors too, on stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Top,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Top {
    /// Set up the shop (once): name, currency, time zone, business-day start, tax mode.
    Init(Init),
    /// Show or change the shop's settings.
    #[command(subcommand)]
    Shop(ShopCmd),
    /// Manage the catalog.
    #[command(subcommand)]
    Product(ProductCmd),
    /// Manage customers.
    #[command(subcommand)]
    Customer(CustomerCmd),
    /// Place, ship, deliver, cancel, refund and show orders.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Stock on hand: list (or only what is low), receive goods, count a shelf, a product's moves.
    #[command(subcommand)]
    Stock(StockCmd),
    /// The cash drawer: the float it opened with, cash taken out, the count at the end of the day.
    #[command(subcommand)]
    Drawer(DrawerCmd),
    /// Print an order's receipt (or a refund's) as text, or save it as a PNG.
    Receipt(ReceiptArgs),
    /// Import another system's export (gzip or plain CSV); every line is imported or reported.
    Import(Import),
    /// Export orders to CSV (the generic import format).
    #[command(subcommand)]
    Export(ExportCmd),
    /// Revenue reports.
    #[command(subcommand)]
    Report(reads::ReportCmd),
    /// KPIs against the previous period, daily series and top products.
    Dashboard(reads::DashboardArgs),
    /// A business day's cash-up (Z report): takings and refunds by tender, cash expected in
    /// the drawer, sales, tax by rate.
    Cashup(reads::CashupArgs),
    /// List orders (from the read models).
    #[command(subcommand)]
    Orders(reads::OrdersCmd),
    /// Search orders, customers and products.
    Search(reads::SearchArgs),
    /// Draw a chart of a period to an SVG or PNG file.
    Chart(reads::ChartArgs),
    /// How fresh the read models are: head, checkpoints, lag, dead letters, rebuilds.
    Status,
    /// Rebuild every read model and the search index from the event log.
    Rebuild,
    /// Events a read model could not apply.
    #[command(subcommand)]
    Dlq(reads::DlqCmd),
    /// Write a consistent, verified copy of the event log to a new file.
    Backup {
        /// The file to create (never overwritten).
        out: PathBuf,
    },
    /// Put a backup in place as the data of an empty data directory (read models are rebuilt).
    Restore {
        /// A file made by `countertop backup`.
        backup: PathBuf,
    },
    /// Print the raw event log (for debugging and audits).
    Events {
        /// First position to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Check the event log (hash chain, positions, payloads, stream index) and that the read
    /// models equal a rebuild from it.
    Verify,
    /// Make this data folder a till of a shop on a hub (NATS JetStream), then fetch the shop.
    Join(sync::JoinArgs),
    /// Sync with the shop's other tills: status, once, or run until stopped.
    #[command(subcommand)]
    Sync(sync::SyncCmd),
    /// The shop's tills: list them, add one with a pairing code, retire a lost one.
    Devices {
        #[command(subcommand)]
        action: Option<sync::DevicesCmd>,
    },
    /// Orders two tills changed while apart in ways that do not add up (refunded twice,
    /// cancelled while shipped…): list them, or resolve one with a note.
    Conflicts {
        #[command(subcommand)]
        action: Option<reads::ConflictsCmd>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Import {
    /// The file: .csv or .csv.gz.
    path: PathBuf,
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    format: FormatArg,
    /// Generic CSV: the column for a field, e.g. --map order=InvoiceNo (fields: order, date,
    /// customer, customer_id, email, sku, product, quantity, unit_price, line_total, country,
    /// note, status, carrier, tracking, tax_rate, discount, payment). Without a customer_id column,
    /// customers are told apart by email, else by name.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    map: Vec<String>,
    /// Generic CSV: how dates are written, as a chrono format (shop-local), e.g. "%d/%m/%Y %H:%M".
    #[arg(long)]
    date_format: Option<String>,
    /// Where to write every rejected line as CSV (default: imports/ in the data folder).
    #[arg(long, value_name = "FILE")]
    rejected: Option<PathBuf>,
    /// Show the first 100 rejected lines (the default shows the first 20).
    #[arg(long)]
    all_rejected: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum FormatArg {
    OnlineRetail,
    Superstore,
    Csv,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCmd {
    /// Orders placed in a range of business days, with their refunds, as CSV.
    Orders {
        #[command(flatten)]
        days: reads::Days,
        /// The CSV file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
struct Init {
    #[arg(long, default_value = "My Shop")]
    name: String,
    /// ISO 4217 code.
    #[arg(long, default_value = "GBP")]
    currency: String,
    /// IANA time zone.
    #[arg(long, default_value = "Europe/London")]
    timezone: String,
    /// When the business day starts, shop-local HH:MM (sales before it count for the day before).
    #[arg(long, default_value = "04:00")]
    day_start: String,
    /// Catalog prices include tax (otherwise tax is added on top).
    #[arg(long)]
    prices_include_tax: bool,
    /// Default tax rate for products and items without one: 20% or 0.2.
    #[arg(long, default_value = "0")]
    tax_rate: String,
}

#[derive(Debug, Subcommand)]
enum ShopCmd {
    /// Show the settings.
    Show,
    /// Change settings (the currency is fixed once set).
    Set {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        day_start: Option<String>,
        #[arg(long)]
        prices_include_tax: Option<bool>,
        #[arg(long)]
        tax_rate: Option<String>,
        /// The address printed on receipts (use \n between lines); empty clears it.
        #[arg(long)]
        address: Option<String>,
        /// What receipts end with; empty clears it.
        #[arg(long)]
        receipt_footer: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ProductCmd {
    /// Add a product.
    Add {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        name: String,
        /// Unit price, e.g. 7.50 (sub-cent prices such as 0.001 are kept).
        #[arg(long)]
        price: String,
        /// 20% or 0.2; default: the shop's rate.
        #[arg(long)]
        tax_rate: Option<String>,
        #[arg(long)]
        image: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// List the catalog.
    List {
        /// Include archived products.
        #[arg(long)]
        all: bool,
    },
    /// Rename, re-price, archive or restore a product.
    Update {
        sku: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        price: Option<String>,
        #[arg(long)]
        tax_rate: Option<String>,
        /// Image path; an empty value clears it.
        #[arg(long)]
        image: Option<String>,
        #[arg(long, conflicts_with = "restore")]
        archive: bool,
        #[arg(long)]
        restore: bool,
        /// Mark it as not merchandise (postage, fees: left out of the top products) with
        /// `true`, or as goods again with `false`.
        #[arg(long, value_name = "true|false")]
        not_merchandise: Option<bool>,
        /// Low at or below this many on hand (`none`: only when out of stock).
        #[arg(long, value_name = "N|none")]
        low_stock: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StockCmd {
    /// Every product's stock on hand (those sold or stocked), or only what is low.
    List {
        #[arg(long)]
        low: bool,
    },
    /// Goods came in.
    Receive {
        sku: String,
        #[arg(allow_hyphen_values = true)]
        quantity: String,
        /// A delivery note or supplier.
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// The shelf was counted: set the level, with why it differed.
    Count {
        sku: String,
        #[arg(allow_hyphen_values = true)]
        counted: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// A product's stock movements, newest first.
    Moves {
        sku: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DrawerCmd {
    /// The float the drawer opened with today (or on --date).
    Float {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Cash taken out of the drawer (banked, a paid-out), with where it went.
    Remove {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// The drawer was counted: this much cash is in it (the cash-up shows over or short).
    Count {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ReceiptArgs {
    order: String,
    /// The receipt of the order's Nth refund (from 1) instead of the sale.
    #[arg(long, value_name = "N")]
    refund: Option<usize>,
    /// Save it as a PNG (80 mm wide at 180 dpi) instead of printing text.
    #[arg(long, value_name = "FILE", conflicts_with = "pdf")]
    png: Option<PathBuf>,
    /// Save it as a PDF (a page 80 mm wide) instead of printing text.
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum CustomerCmd {
    /// Add a customer (the next free number is its id unless --customer-id is given).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        country: Option<String>,
        /// Choose the id instead of the next free number.
        #[arg(long = "customer-id")]
        customer_id: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// List customers.
    List,
    /// Change a customer's details (an empty value clears email, phone or country).
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        country: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
}

#[derive(Debug, Subcommand)]
enum OrderCmd {
    /// Place an order and print it as placed.
    Place(Place),
    /// Record a shipment.
    Ship {
        order: String,
        #[arg(long)]
        carrier: String,
        #[arg(long)]
        tracking: String,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Record a delivery.
    Deliver {
        order: String,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Cancel an order that has not shipped.
    Cancel {
        order: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Refund part or all of an order: an amount, or goods by line (the amount is then what
    /// they were sold for, discount and tax included), or both.
    Refund {
        order: String,
        /// How much goes back; leave it out to refund what the `--line`s were sold for.
        #[arg(long, required_unless_present = "line")]
        amount: Option<String>,
        /// Units of a line that came back, as LINE:QUANTITY (lines count from 1, as `order
        /// show` lists them); repeat for more lines.
        #[arg(long, value_name = "LINE:QUANTITY")]
        line: Vec<String>,
        #[arg(long)]
        reason: String,
        /// How the money goes back (cash, card, gift_card, other); default: the tender that
        /// paid the most of the order.
        #[arg(long)]
        tender: Option<String>,
        /// The goods named by --line go back on the shelf (stock on hand).
        #[arg(long, requires = "line")]
        restock: bool,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Take payment on an order placed as an invoice (or part paid).
    Pay {
        order: String,
        /// A tender: TENDER:AMOUNT (cash: what was handed over). Repeat to split.
        #[arg(long = "pay", value_name = "TENDER:AMOUNT", required = true)]
        pay: Vec<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Show an order folded from its events, with its audit trail.
    Show {
        order: String,
        /// Show it as it was at this moment (shop time, or RFC 3339).
        #[arg(long, value_name = "TIMESTAMP")]
        as_of: Option<String>,
    },
}

#[derive(Debug, Args)]
struct Place {
    /// The customer's id.
    #[arg(long, conflicts_with = "walk_in")]
    customer: Option<String>,
    /// A walk-in sale, no customer (the default).
    #[arg(long)]
    walk_in: bool,
    /// A catalog product: SKU:QTY or SKU:QTY@PRICE. Repeat for more lines.
    #[arg(long = "line", value_name = "SKU:QTY[@PRICE]")]
    lines: Vec<String>,
    /// An ad-hoc item: "NAME:QTY@PRICE". Repeat for more.
    #[arg(long = "item", value_name = "NAME:QTY@PRICE", allow_hyphen_values = true)]
    items: Vec<String>,
    /// An order discount: an amount (5.00) or a percentage (10%).
    #[arg(long)]
    discount: Option<String>,
    #[arg(long)]
    note: Option<String>,
    /// How it was paid, in full: cash, card, … (a label; see --pay for tenders and change).
    #[arg(long)]
    payment: Option<String>,
    /// A tender taken: TENDER:AMOUNT (cash, card, gift_card, other; for cash, what was handed
    /// over, and the change is printed). Repeat to split the payment.
    #[arg(long = "pay", value_name = "TENDER:AMOUNT")]
    pay: Vec<String>,
    /// Leave it unpaid or part paid: an invoice, paid later with `order pay`.
    #[arg(long)]
    invoice: bool,
    /// The order number; default: the next free one.
    #[arg(long)]
    number: Option<String>,
    /// When the sale happened; default: now.
    #[arg(long, value_name = "TIMESTAMP")]
    at: Option<String>,
    #[command(flatten)]
    write: WriteOpts,
}

/// Options every writing command takes.
#[derive(Debug, Args)]
pub(crate) struct WriteOpts {
    /// Command id: running the same command with the same id again changes nothing and
    /// prints the first result. Default: a fresh ULID.
    #[arg(long = "id", value_name = "COMMAND_ID")]
    command_id: Option<String>,
    /// Refuse unless the order/product/customer is at this version (optimistic concurrency).
    #[arg(long, value_name = "VERSION")]
    expect_version: Option<u64>,
}

/// What went wrong, by exit code.
pub(crate) enum Failure {
    /// Bad arguments (exit 2).
    Usage(String),
    /// A refusal that is not the core's: nothing found, a check that failed (exit 1).
    Refused(&'static str, String),
    /// A core error (exit 1 for refusals and conflicts, 3 for the store).
    Core(countertop_core::Error),
    /// The hub could not be reached, or refused (exit 4).
    Offline(String),
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Failure {
        Failure::Usage(e.0)
    }
}

impl From<countertop_core::Error> for Failure {
    fn from(e: countertop_core::Error) -> Failure {
        Failure::Core(e)
    }
}

fn main() -> ExitCode {
    countertop_core::tune_allocator();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let json = cli.json;
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let (code, message, status) = match failure {
                Failure::Usage(message) => ("usage", message, 2),
                Failure::Refused(code, message) => (code, message, 1),
                Failure::Offline(message) => ("offline", message, 4),
                Failure::Core(e) => {
                    let status = match e {
                        countertop_core::Error::Rejected(_)
                        | countertop_core::Error::Conflict { .. }
                        | countertop_core::Error::CommandIdReused { .. }
                        | countertop_core::Error::AlreadyExists { .. }
                        | countertop_core::Error::BadBackup { .. }
                        | countertop_core::Error::Read { .. } => 1,
                        _ => 3,
                    };
                    (e.code(), e.to_string(), status)
                }
            };
            if json {
                eprintln!("{}", serde_json::json!({ "code": code, "message": message }));
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(status)
        }
    }
}

fn data_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    if let Some(dir) = &cli.data {
        return Ok(dir.clone());
    }
    dirs::data_dir()
        .map(|d| d.join("countertop"))
        .ok_or_else(|| Failure::Usage("no data directory is known for this system; pass --data DIR".into()))
}

fn run(cli: Cli, matches: &ArgMatches) -> Result<(), Failure> {
    let dir = data_dir(&cli)?;
    if reads::uses_read_side(&cli.command) {
        return reads::run(&dir, cli.json, cli.command);
    }
    match cli.command {
        Top::Join(args) => return sync::join(&dir, cli.json, args),
        Top::Sync(cmd) => return sync::sync(&dir, cli.json, cmd),
        Top::Devices { action } => return sync::devices_cmd(&dir, cli.json, action),
        _ => {}
    }
    if let Top::Restore { backup } = &cli.command {
        let verification = WriteStore::restore(backup, &dir)?;
        show::Printer::new(cli.json, None).restored(&verification, &dir);
        return Ok(());
    }
    let store = WriteStore::open(&dir)?;
    let out = show::Printer::new(cli.json, store.shop()?);
    match cli.command {
        Top::Backup { out: file } => out.backed_up(&store.backup(&file)?, &file),
        Top::Init(init) => {
            let command = Command::OpenShop(OpenShop {
                name: init.name,
                currency: init.currency,
                time_zone: init.timezone,
                day_start: init.day_start,
                prices_include_tax: init.prices_include_tax,
                default_tax_rate: input::tax_rate("--tax-rate", &init.tax_rate)?,
            });
            let outcome = store.execute(Request::new(command))?;
            out.outcome(&outcome);
        }
        Top::Shop(ShopCmd::Show) => out.shop(),
        Top::Shop(ShopCmd::Set {
            name,
            timezone,
            day_start,
            prices_include_tax,
            tax_rate,
            address,
            receipt_footer,
        }) => {
            let command = Command::ChangeShopSettings(ChangeShopSettings {
                name,
                time_zone: timezone,
                day_start,
                prices_include_tax,
                default_tax_rate: tax_rate.map(|r| input::tax_rate("--tax-rate", &r)).transpose()?,
                address: address.map(|a| a.replace("\\n", "\n")),
                receipt_footer: receipt_footer.map(|f| f.replace("\\n", "\n")),
            });
            out.outcome(&store.execute(Request::new(command))?);
        }
        Top::Product(cmd) => product(&store, &out, cmd)?,
        Top::Stock(StockCmd::Receive { sku, quantity, note, write }) => {
            let quantity = input::whole("quantity", &quantity)?;
            let command = Command::ReceiveStock(ReceiveStock { sku: sku.clone(), quantity, note, at: None });
            let outcome = store.execute(request(write, command))?;
            let sku = sku.trim();
            out.recorded(
                &outcome,
                &format!("Received {quantity} × {sku}. `countertop stock moves {sku}` lists it; `countertop stock list` shows what is on hand."),
            );
        }
        Top::Stock(StockCmd::Count { sku, counted, reason, write }) => {
            let counted = input::whole("count", &counted)?;
            let command = Command::CountStock(CountStock { sku: sku.clone(), counted, reason, at: None });
            let outcome = store.execute(request(write, command))?;
            let sku = sku.trim();
            out.recorded(
                &outcome,
                &format!("Counted {counted} × {sku} on the shelf: that is now what is on hand. `countertop stock list` shows it."),
            );
        }
        Top::Drawer(cmd) => {
            let (kind, amount, note, date, write) = match cmd {
                DrawerCmd::Float { amount, date, write } => (DrawerMove::Float, amount, None, date, write),
                DrawerCmd::Remove { amount, reason, date, write } => {
                    (DrawerMove::Removed, amount, Some(reason), date, write)
                }
                DrawerCmd::Count { amount, date, write } => (DrawerMove::Counted, amount, None, date, write),
            };
            let day = date.map(|d| reads::day("--date", &d)).transpose()?;
            let command = Command::RecordDrawer(RecordDrawer {
                kind,
                amount: input::money("amount", &amount)?,
                note,
                day,
                at: None,
            });
            store.execute(request(write, command))?;
            out.drawer_recorded(kind);
        }
        Top::Receipt(args) => {
            let Some(history) = store.order_history(&args.order, None)? else {
                return Err(Failure::Refused(
                    "not_found",
                    format!("no order has number '{}'; check the order number", args.order.trim()),
                ));
            };
            let Some(shop) = store.shop()? else {
                return Err(Failure::Refused(
                    "shop_not_set_up",
                    "the shop is not set up yet; run `countertop init`".into(),
                ));
            };
            let order = &history.order;
            let kind = match args.refund {
                None => ReceiptKind::Sale,
                Some(n) if n >= 1 && n <= order.refunds.len() => ReceiptKind::Refund(n - 1),
                Some(n) => {
                    return Err(Failure::Usage(format!(
                        "--refund {n}: order {} has {} refund(s); give a number from 1 to {}",
                        order.id,
                        order.refunds.len(),
                        order.refunds.len()
                    )));
                }
            };
            let Some(receipt) = countertop_core::receipt::receipt(&shop, order, kind) else {
                return Err(Failure::Usage("no such refund on this order".into()));
            };
            match (args.png, args.pdf) {
                (Some(path), _) => {
                    receipt.png(576, &path)?;
                    out.wrote(&path);
                }
                (None, Some(path)) => {
                    receipt.pdf(&path)?;
                    out.wrote(&path);
                }
                (None, None) => out.receipt(&receipt),
            }
        }
        Top::Customer(cmd) => customer(&store, &out, cmd)?,
        Top::Order(cmd) => order(&store, &out, cmd, matches)?,
        Top::Events { from, limit } => out.events(&store.events(from, limit)?),
        // Routed to `reads::run` above.
        read_side => return Err(Failure::Usage(format!("internal: {read_side:?} reached the write side"))),
    }
    Ok(())
}

pub(crate) fn request(write: WriteOpts, command: Command) -> Request {
    let mut request = match write.command_id {
        Some(id) => Request::with_id(id, command),
        None => Request::new(command),
    };
    request.expected_version = write.expect_version;
    request
}

fn product(store: &WriteStore, out: &show::Printer, cmd: ProductCmd) -> Result<(), Failure> {
    match cmd {
        ProductCmd::Add { sku, name, price, tax_rate, image, write } => {
            let command = Command::AddProduct(AddProduct {
                sku,
                name,
                unit_price: input::money("--price", &price)?,
                tax_rate: tax_rate.map(|r| input::tax_rate("--tax-rate", &r)).transpose()?,
                image,
            });
            out.outcome(&store.execute(request(write, command))?);
        }
        ProductCmd::List { all } => {
            let products = store.products()?.into_iter().filter(|p| all || !p.archived).collect::<Vec<_>>();
            out.products(&products);
        }
        ProductCmd::Update {
            sku,
            name,
            price,
            tax_rate,
            image,
            archive,
            restore,
            not_merchandise,
            low_stock,
            write,
        } => {
            let command = Command::UpdateProduct(UpdateProduct {
                sku,
                name,
                unit_price: price.map(|p| input::money("--price", &p)).transpose()?,
                tax_rate: tax_rate.map(|r| input::tax_rate("--tax-rate", &r)).transpose()?,
                image,
                archived: match (archive, restore) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                not_merchandise,
                low_stock_at: low_stock.map(|n| input::low_stock(&n)).transpose()?,
            });
            out.outcome(&store.execute(request(write, command))?);
        }
    }
    Ok(())
}

fn customer(store: &WriteStore, out: &show::Printer, cmd: CustomerCmd) -> Result<(), Failure> {
    match cmd {
        CustomerCmd::Add { name, email, phone, country, customer_id, write } => {
            let command = Command::AddCustomer(AddCustomer { id: customer_id, name, email, phone, country });
            out.outcome(&store.execute(request(write, command))?);
        }
        CustomerCmd::List => out.customers(&store.customers()?),
        CustomerCmd::Update { id, name, email, phone, country, write } => {
            let command = Command::UpdateCustomer(UpdateCustomer { id, name, email, phone, country });
            out.outcome(&store.execute(request(write, command))?);
        }
    }
    Ok(())
}

fn order(store: &WriteStore, out: &show::Printer, cmd: OrderCmd, matches: &ArgMatches) -> Result<(), Failure> {
    let zone = out.zone();
    let at = |flag: &str, text: Option<String>| text.map(|t| input::moment(flag, &t, zone)).transpose();
    let command = match cmd {
        OrderCmd::Place(place) => {
            let lines = lines_in_typed_order(&place, matches)?;
            let command = Command::PlaceOrder(PlaceOrder {
                order: place.number,
                customer: if place.walk_in { None } else { place.customer },
                lines,
                discount: place.discount.as_deref().map(input::discount).transpose()?,
                note: place.note,
                payment_method: place.payment,
                at: at("--at", place.at)?,
                payments: place.pay.iter().map(|p| input::payment(p)).collect::<Result<_, _>>()?,
                invoice: place.invoice,
            });
            request(place.write, command)
        }
        OrderCmd::Ship { order, carrier, tracking, write } => {
            request(write, Command::ShipOrder(ShipOrder { order, carrier, tracking, at: None }))
        }
        OrderCmd::Deliver { order, write } => request(write, Command::DeliverOrder(DeliverOrder { order, at: None })),
        OrderCmd::Cancel { order, reason, write } => {
            request(write, Command::CancelOrder(CancelOrder { order, reason, at: None }))
        }
        OrderCmd::Refund { order, amount, line, reason, tender, restock, write } => {
            let amount = amount.map(|a| input::money("--amount", &a)).transpose()?;
            let lines = line.iter().map(|l| input::refund_line(l)).collect::<Result<_, _>>()?;
            let tender = tender.map(|t| input::tender("--tender", &t)).transpose()?;
            request(
                write,
                Command::RefundOrder(RefundOrder { order, amount, lines, reason, at: None, tender, restock }),
            )
        }
        OrderCmd::Pay { order, pay, write } => {
            let payments = pay.iter().map(|p| input::payment(p)).collect::<Result<_, _>>()?;
            request(write, Command::PayOrder(PayOrder { order, payments, at: None }))
        }
        OrderCmd::Show { order, as_of } => {
            let as_of = at("--as-of", as_of)?;
            let Some(history) = store.order_history(&order, as_of)? else {
                let id = order.trim();
                return Err(match as_of {
                    Some(t) => Failure::Refused(
                        "not_found",
                        format!("order {id} did not exist yet at {t}; pick a later moment"),
                    ),
                    None => {
                        Failure::Refused("not_found", format!("no order has number '{id}'; check the order number"))
                    }
                });
            };
            out.history(&history);
            return Ok(());
        }
    };
    out.outcome(&store.execute(command)?);
    Ok(())
}

/// `--line` and `--item` lines in the order they were typed.
fn lines_in_typed_order(place: &Place, matches: &ArgMatches) -> Result<Vec<LineInput>, Failure> {
    let place_matches = matches
        .subcommand_matches("order")
        .and_then(|m| m.subcommand_matches("place"))
        .ok_or_else(|| Failure::Usage("internal: order place arguments missing".into()))?;
    let indices = |id: &str| place_matches.indices_of(id).map(Iterator::collect::<Vec<_>>).unwrap_or_default();
    let mut lines: Vec<(usize, LineInput)> = Vec::new();
    for (index, text) in indices("lines").into_iter().zip(&place.lines) {
        lines.push((index, input::product_line(text)?));
    }
    for (index, text) in indices("items").into_iter().zip(&place.items) {
        lines.push((index, input::item_line(text)?));
    }
    lines.sort_by_key(|(index, _)| *index);
    if lines.is_empty() {
        return Err(Failure::Usage("an order needs at least one --line SKU:QTY or --item \"NAME:QTY@PRICE\"".into()));
    }
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}
