//! Commands that read the read side (reports, dashboards, order lists, search, charts) or
//! manage it (status, rebuild, dead letters, verify). Each lets the projector catch up first,
//! with progress on stderr when that takes a while, so it never prints stale numbers silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use countertop_core::chart::{self, ChartKind};
use countertop_core::{Bucket, Countertop, Freshness, OrderFilter, OrderStatus, Period, Progress, ProjectorOptions};

use crate::input;
use crate::show::Printer;
use crate::{Failure, Top};

/// How long a one-shot command waits for the projector before answering with what it has.
const CATCH_UP: Duration = Duration::from_secs(600);

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Net revenue, orders and the other KPIs per day, week or month.
    Revenue {
        #[command(flatten)]
        days: Days,
        #[arg(long, value_enum, default_value_t = By::Day)]
        by: By,
        /// Write CSV (to stdout, or to --out).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// With --csv: the file to write instead of stdout.
        #[arg(long, requires = "csv")]
        out: Option<PathBuf>,
    },
}

/// A range of business days (`--from` and `--to`, both included).
#[derive(Debug, Args)]
pub struct Days {
    /// First business day, YYYY-MM-DD.
    #[arg(long)]
    from: String,
    /// Last business day, YYYY-MM-DD (inclusive).
    #[arg(long)]
    to: String,
}

impl Days {
    pub(crate) fn period(&self) -> Result<Period, Failure> {
        period(&self.from, &self.to)
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum By {
    Day,
    Week,
    Month,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The last N days up to today: 7d, 30d, 90d, 365d (or any Nd); or `all`, from the first
    /// sale to the last.
    #[arg(long, default_value = "30d", conflicts_with_all = ["from", "to"])]
    range: String,
    /// A custom range: first business day.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// A custom range: last business day (inclusive).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Show the dashboard as it was known at this moment (replays the log).
    #[arg(long, value_name = "TIMESTAMP")]
    as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct CashupArgs {
    /// The business day (YYYY-MM-DD); default: today.
    #[arg(long)]
    date: Option<String>,
    /// Show it as it stood at this moment (replays the log).
    #[arg(long, value_name = "TIMESTAMP")]
    as_of: Option<String>,
    /// Print it as CSV (section, item, amount).
    #[arg(long)]
    csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCmd {
    /// Orders newest first, by status, business days or customer.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        customer: Option<String>,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: usize,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StatusArg {
    /// Placed, not yet shipped (the app shows it as "Placed").
    #[value(alias = "placed")]
    Pending,
    Shipped,
    Delivered,
    Cancelled,
    /// Imported history.
    Completed,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words, "a phrase", kind:order|customer|product, status:shipped …
    query: String,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    page: usize,
}

#[derive(Debug, Args)]
pub struct ChartArgs {
    #[arg(value_enum)]
    kind: ChartArg,
    #[command(flatten)]
    days: Days,
    /// FILE.svg or FILE.png.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1000)]
    width: u32,
    #[arg(long, default_value_t = 600)]
    height: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChartArg {
    /// Net revenue per day, with the previous period faint.
    Revenue,
    /// Orders per day.
    Orders,
    /// Both, one above the other.
    Overview,
}

#[derive(Debug, Subcommand)]
pub enum DlqCmd {
    /// List parked events.
    List,
    /// Apply parked events again (after a fix); those that still fail stay parked.
    Retry {
        /// One position; omit with --all.
        #[arg(required_unless_present = "all")]
        position: Option<u64>,
        #[arg(long, conflicts_with = "position")]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConflictsCmd {
    /// Close an order's conflicts once you have looked into them, saying what was done.
    Resolve {
        order: String,
        /// What was done, e.g. "customer brought the second refund back".
        #[arg(long)]
        note: String,
        #[command(flatten)]
        write: crate::WriteOpts,
    },
}

pub fn uses_read_side(command: &Top) -> bool {
    matches!(
        command,
        Top::Report(_)
            | Top::Dashboard(_)
            | Top::Cashup(_)
            | Top::Stock(crate::StockCmd::List { .. } | crate::StockCmd::Moves { .. })
            | Top::Orders(_)
            | Top::Search(_)
            | Top::Chart(_)
            | Top::Status
            | Top::Rebuild
            | Top::Dlq(_)
            | Top::Verify
            | Top::Import(_)
            | Top::Export(_)
            | Top::Conflicts { .. }
    )
}

pub(crate) fn day(flag: &str, text: &str) -> Result<NaiveDate, Failure> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Failure::Usage(format!("{flag} '{text}' is not a date; write it as YYYY-MM-DD, e.g. 2024-05-01")))
}

fn period(from: &str, to: &str) -> Result<Period, Failure> {
    let period = Period { from: day("--from", from)?, to: day("--to", to)? };
    if period.from > period.to {
        return Err(Failure::Usage(format!("--from {} is after --to {}; swap them", period.from, period.to)));
    }
    Ok(period)
}

/// Prints progress on stderr, at most a few times a second, once a job has run for a second.
pub(crate) struct ProgressLine {
    started: Instant,
    last: Option<Instant>,
    shown: bool,
}

impl ProgressLine {
    pub(crate) fn new() -> ProgressLine {
        ProgressLine { started: Instant::now(), last: None, shown: false }
    }

    fn show(&mut self, p: &Progress) {
        if self.started.elapsed() < Duration::from_secs(1)
            || self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last = Some(Instant::now());
        self.shown = true;
        let percent = if p.total > 0 { 100.0 * p.done as f64 / p.total as f64 } else { 0.0 };
        let eta = p.eta_seconds.map(|s| format!(", about {s:.0} s left")).unwrap_or_default();
        eprint!("\r{}: {} of {} events ({percent:.0}%), {:.0} events/s{eta}   ", p.what, p.done, p.total, p.rate);
        let _ = std::io::stderr().flush();
    }

    pub(crate) fn done(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

pub(crate) fn catch_up(ct: &Countertop, what: Freshness) {
    let mut line = ProgressLine::new();
    let caught_up = ct.wait_caught_up(what, CATCH_UP, |p| line.show(p));
    line.done();
    if !caught_up {
        eprintln!(
            "warning: the read models are still catching up; these numbers may be behind (see `countertop status`)"
        );
    }
}

/// Projector batching, overridable for crash tests: `COUNTERTOP_PROJECTOR_BATCH` (events per
/// batch) and `COUNTERTOP_READ_DURABLE_MS` (0: every batch durable).
fn projector_options() -> ProjectorOptions {
    let mut options = ProjectorOptions::default();
    if let Some(batch) = std::env::var("COUNTERTOP_PROJECTOR_BATCH").ok().and_then(|v| v.parse().ok()) {
        options.batch = batch;
    }
    if let Some(ms) = std::env::var("COUNTERTOP_READ_DURABLE_MS").ok().and_then(|v| v.parse().ok()) {
        options.durable_every = Duration::from_millis(ms);
    }
    options
}

pub fn run(dir: &Path, json: bool, command: Top) -> Result<(), Failure> {
    let ct = Countertop::open_with(dir, projector_options())?;
    let out = Printer::new(json, ct.write().shop()?);
    match command {
        Top::Report(ReportCmd::Revenue { days, by, csv, out: file }) => {
            let period = days.period()?;
            catch_up(&ct, Freshness::Tables);
            let bucket = match by {
                By::Day => Bucket::Day,
                By::Week => Bucket::Week,
                By::Month => Bucket::Month,
            };
            let report = ct.revenue(period, bucket)?;
            if !csv {
                out.revenue(&report);
            } else if let Some(file) = file {
                let f = std::fs::File::create(&file).map_err(|e| {
                    Failure::Usage(format!(
                        "cannot create {}: {e}; check the folder exists and is writable",
                        file.display()
                    ))
                })?;
                countertop_core::export::revenue_csv(&report.value, std::io::BufWriter::new(f))?;
                out.wrote(&file);
            } else {
                let mut csv = Vec::new();
                countertop_core::export::revenue_csv(&report.value, &mut csv)?;
                if let Err(e) = std::io::Write::write_all(&mut std::io::stdout().lock(), &csv) {
                    crate::show::stdout_failed(&e);
                }
            }
        }
        Top::Dashboard(args) => {
            let period = match (&args.from, &args.to) {
                (Some(from), Some(to)) => period(from, to)?,
                _ if args.range.trim().eq_ignore_ascii_case("all") => {
                    catch_up(&ct, Freshness::Tables);
                    let today = Period::last_days(ct.today()?, 1);
                    ct.dashboard_with(today, 0)?.value.history.unwrap_or(today)
                }
                _ => {
                    let days = args
                        .range
                        .trim()
                        .strip_suffix('d')
                        .and_then(|n| n.parse::<u32>().ok())
                        .filter(|n| (1..=3660).contains(n))
                        .ok_or_else(|| {
                            Failure::Usage(format!(
                                "--range '{}' is not a number of days; use 7d, 30d, 90d, 365d or all",
                                args.range
                            ))
                        })?;
                    Period::last_days(ct.today()?, days)
                }
            };
            let dashboard = match &args.as_of {
                Some(at) => {
                    let at = input::moment("--as-of", at, out.zone())?;
                    let mut line = ProgressLine::new();
                    let d = ct.dashboard_as_of(at, period, |p| line.show(p))?;
                    line.done();
                    d
                }
                None => {
                    catch_up(&ct, Freshness::Tables);
                    ct.dashboard(period)?
                }
            };
            out.dashboard(&dashboard);
        }
        Top::Stock(crate::StockCmd::List { low }) => {
            catch_up(&ct, Freshness::Tables);
            let mut levels = ct.stock()?;
            if low {
                levels.value.retain(|l| l.is_low());
            }
            let names: std::collections::HashMap<String, String> =
                ct.write().products()?.into_iter().map(|p| (p.sku, p.name)).collect();
            out.stock(&levels, &names, low);
        }
        Top::Stock(crate::StockCmd::Moves { sku, limit }) => {
            if ct.write().product(&sku)?.is_none() {
                return Err(Failure::Refused(
                    "unknown_product",
                    format!("no product has SKU '{}'; `countertop product list` shows the catalog", sku.trim()),
                ));
            }
            catch_up(&ct, Freshness::Tables);
            out.stock_moves(&sku, &ct.stock_moves(&sku, limit.clamp(1, 10_000))?);
        }
        Top::Cashup(args) => {
            let date = match &args.date {
                Some(d) => day("--date", d)?,
                None => ct.today()?,
            };
            let cashup = match &args.as_of {
                Some(at) => {
                    let at = input::moment("--as-of", at, out.zone())?;
                    let mut line = ProgressLine::new();
                    let c = ct.cashup_as_of(at, date, |p| line.show(p))?;
                    line.done();
                    c
                }
                None => {
                    catch_up(&ct, Freshness::Tables);
                    ct.cashup(date)?
                }
            };
            if args.csv {
                let mut csv = Vec::new();
                countertop_core::export::cashup_csv(std::slice::from_ref(&cashup.value), &mut csv)?;
                if let Err(e) = std::io::Write::write_all(&mut std::io::stdout().lock(), &csv) {
                    crate::show::stdout_failed(&e);
                }
            } else {
                out.cashup(&cashup);
            }
        }
        Top::Orders(OrdersCmd::List { status, from, to, customer, page, limit }) => {
            let filter = OrderFilter {
                status: status.map(|s| match s {
                    StatusArg::Pending => OrderStatus::Pending,
                    StatusArg::Shipped => OrderStatus::Shipped,
                    StatusArg::Delivered => OrderStatus::Delivered,
                    StatusArg::Cancelled => OrderStatus::Cancelled,
                    StatusArg::Completed => OrderStatus::Completed,
                }),
                from: from.as_deref().map(|d| day("--from", d)).transpose()?,
                to: to.as_deref().map(|d| day("--to", d)).transpose()?,
                customer,
                offset: page.saturating_sub(1) * limit,
                limit: limit.clamp(1, 1000),
            };
            catch_up(&ct, Freshness::Tables);
            out.order_page(&ct.orders(&filter)?);
        }
        Top::Search(args) => {
            catch_up(&ct, Freshness::Search);
            let limit = args.limit.clamp(1, 1000);
            out.search(&ct.search(&args.query, args.page.saturating_sub(1) * limit, limit)?);
        }
        Top::Chart(args) => {
            let period = args.days.period()?;
            catch_up(&ct, Freshness::Tables);
            let dashboard = ct.dashboard(period)?.value;
            let kind = match args.kind {
                ChartArg::Revenue => ChartKind::Revenue,
                ChartArg::Orders => ChartKind::Orders,
                ChartArg::Overview => ChartKind::Overview,
            };
            let size = (args.width.clamp(200, 8000), args.height.clamp(150, 8000));
            let extension = args.out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            match extension.as_deref() {
                Some("svg") => {
                    let svg = chart::svg(&dashboard, kind, size)?;
                    std::fs::write(&args.out, svg).map_err(|e| {
                        Failure::Usage(format!(
                            "cannot write {}: {e}; check the folder exists and is writable",
                            args.out.display()
                        ))
                    })?;
                }
                Some("png") => chart::png(&dashboard, kind, size, &args.out)?,
                _ => {
                    return Err(Failure::Usage(format!(
                        "--out {} must end in .svg or .png (that picks the format)",
                        args.out.display()
                    )));
                }
            }
            out.wrote(&args.out);
        }
        Top::Status => out.status(&ct.status()?),
        Top::Rebuild => {
            let mut line = ProgressLine::new();
            ct.rebuild(Duration::from_secs(24 * 3600), |p| line.show(p))?;
            line.done();
            out.status(&ct.status()?);
        }
        Top::Dlq(DlqCmd::List) => {
            catch_up(&ct, Freshness::Tables);
            out.dead_letters(&ct.dead_letters()?);
        }
        Top::Dlq(DlqCmd::Retry { position, all: _ }) => {
            catch_up(&ct, Freshness::Tables);
            out.dead_letters(&ct.retry_dead_letters(position)?);
        }
        Top::Verify => {
            let report = ct.write().verify()?;
            if let Some((position, problem)) = &report.first_bad {
                out.verification(&report, None);
                return Err(Failure::Core(countertop_core::Error::Corrupt {
                    path: ct.write().path().to_owned(),
                    detail: format!("event {position} does not check out: {problem}"),
                }));
            }
            catch_up(&ct, Freshness::Tables);
            let mut line = ProgressLine::new();
            let check = ct.verify_read_models(|p| line.show(p))?;
            line.done();
            out.verification(&report, Some(&check));
            if !check.matches {
                return Err(Failure::Refused(
                    "read_models_differ",
                    "the read models differ from a rebuild of the log; run `countertop rebuild` to replace them".into(),
                ));
            }
        }
        Top::Conflicts { action: None } => {
            catch_up(&ct, Freshness::Tables);
            out.conflicts(&ct.conflicts()?);
        }
        Top::Conflicts { action: Some(ConflictsCmd::Resolve { order, note, write }) } => {
            let command =
                countertop_core::Command::ResolveConflicts(countertop_core::ResolveConflicts { order, note, at: None });
            out.outcome(&ct.execute(crate::request(write, command))?);
        }
        Top::Import(args) => crate::transfer::import(&ct, &out, args)?,
        Top::Export(cmd) => crate::transfer::export(&ct, &out, cmd)?,
        other => return Err(Failure::Usage(format!("internal: {other:?} is not a read-side command"))),
    }
    Ok(())
}
