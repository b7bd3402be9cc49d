//! The Tauri commands. Each converts its input, calls `countertop-core` off the UI thread and
//! returns the answer or an [`ApiError`]. No business rule lives here.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use countertop_core::chart::{self, ChartKind, ChartPoint, Geometry};
use countertop_core::import::{Format, ImportOptions};
use countertop_core::receipt::{self, Receipt, ReceiptKind};
use countertop_core::{
    Bucket, CashUp, Command, Customer, CustomerInfo, CustomerStats, Dashboard, DeadLetter, Decimal, Entity, Envelope,
    OrderFilter, OrderView, Outcome, Page, Period, Product, Request, SearchHit, Shop, Stamped, Status, StockLevel,
    Verification, export,
};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};

use crate::error::{ApiError, ApiResult};
use crate::forms::{
    CustomerForm, DrawerForm, OrderAction, OrderForm, ProductForm, SettingsForm, ShopForm, StockAction,
};
use crate::jobs::{self, Job};
use crate::shell::{Opened, Shell};

/// Runs `f` on the blocking pool: the UI thread and the async runtime never wait on disk.
pub(crate) async fn blocking<T: Send + 'static>(
    shell: State<'_, Shell>,
    f: impl FnOnce(Arc<Opened>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let opened = shell.opened()?;
    tauri::async_runtime::spawn_blocking(move || f(opened)).await.map_err(|e| {
        ApiError::new("internal", format!("internal error: a background task failed ({e}); please report it"))
    })?
}

/// Runs a command under the id the UI chose for this submission: pressing Enter twice (or a
/// retry after a timeout) sends the same id, and the store answers the second with the first
/// result instead of a second order.
pub(crate) fn execute(opened: &Opened, command_id: String, command: Command) -> ApiResult<Outcome> {
    if command_id.trim().is_empty() {
        return Err(ApiError::new("internal", "internal error: the UI sent a command without an id; please report it"));
    }
    Ok(opened.ct.execute(Request::with_id(command_id, command))?)
}

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct AppInfo {
    pub version: &'static str,
    pub data_dir: String,
    pub shop: Option<Shop>,
    /// Today as the shop's business day (None before setup).
    pub today: Option<NaiveDate>,
    /// An import or rebuild running in the background, if any.
    pub job: Option<Job>,
}

#[tauri::command]
pub async fn app_info(shell: State<'_, Shell>) -> ApiResult<AppInfo> {
    blocking(shell, |o| {
        let shop = o.ct.write().shop()?;
        let today = if shop.is_some() { Some(o.ct.today()?) } else { None };
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            data_dir: o.dir.display().to_string(),
            shop,
            today,
            job: o.job(),
        })
    })
    .await
}

#[tauri::command]
pub async fn setup_shop(shell: State<'_, Shell>, command_id: String, form: ShopForm) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, form.command()?)).await
}

#[tauri::command]
pub async fn change_settings(shell: State<'_, Shell>, command_id: String, form: SettingsForm) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, form.command()?)).await
}

#[tauri::command]
pub async fn place_order(shell: State<'_, Shell>, command_id: String, form: OrderForm) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, form.command()?)).await
}

/// What the order being entered would come to (lines, discount, tax, total), or why it would
/// be refused, decided by the core's rules without recording anything: the form's live totals.
#[tauri::command]
pub async fn preview_order(shell: State<'_, Shell>, form: OrderForm) -> ApiResult<countertop_core::Order> {
    blocking(shell, move |o| match o.ct.write().preview(&form.command()?)? {
        Entity::Order(order) => Ok(order),
        _ => Err(ApiError::new("internal", "internal error: an order preview gave no order; please report it")),
    })
    .await
}

/// What an action would leave the order as, or why it would be refused, without recording
/// anything: the refund form's worked-out amount for the goods ticked.
#[tauri::command]
pub async fn preview_order_action(shell: State<'_, Shell>, action: OrderAction) -> ApiResult<countertop_core::Order> {
    blocking(shell, move |o| match o.ct.write().preview(&action.command()?)? {
        Entity::Order(order) => Ok(order),
        _ => {
            Err(ApiError::new("internal", "internal error: an order action's preview gave no order; please report it"))
        }
    })
    .await
}

#[tauri::command]
pub async fn order_action(shell: State<'_, Shell>, command_id: String, action: OrderAction) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, action.command()?)).await
}

#[tauri::command]
pub async fn save_product(shell: State<'_, Shell>, command_id: String, form: ProductForm) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, form.command()?)).await
}

#[tauri::command]
pub async fn save_customer(shell: State<'_, Shell>, command_id: String, form: CustomerForm) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, form.command())).await
}

/// The drawer's float, cash removed, or its count.
#[tauri::command]
pub async fn record_drawer(shell: State<'_, Shell>, command_id: String, form: DrawerForm) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, form.command()?)).await
}

/// Goods received or a shelf counted.
#[tauri::command]
pub async fn stock_action(shell: State<'_, Shell>, command_id: String, action: StockAction) -> ApiResult<Outcome> {
    blocking(shell, move |o| execute(&o, command_id, action.command()?)).await
}

/// Every product's stock on hand (those sold or stocked).
#[tauri::command]
pub async fn stock(shell: State<'_, Shell>) -> ApiResult<Stamped<Vec<StockLevel>>> {
    blocking(shell, |o| Ok(o.ct.stock()?)).await
}

/// An order's receipt, or the receipt of its refund at `refund` (from 0), laid out by the core.
#[tauri::command]
pub async fn receipt(shell: State<'_, Shell>, order: String, refund: Option<usize>) -> ApiResult<Receipt> {
    blocking(shell, move |o| receipt_of(&o, &order, refund)).await
}

/// How a receipt is saved.
#[derive(Clone, Copy, Debug, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptFile {
    Pdf,
    Png,
}

/// Saves an order's (or a refund's) receipt as a PDF or PNG where the owner picks; `None` when
/// they cancel.
#[tauri::command]
pub async fn save_receipt(
    shell: State<'_, Shell>,
    app: AppHandle,
    order: String,
    refund: Option<usize>,
    file: ReceiptFile,
) -> ApiResult<Option<String>> {
    blocking(shell, move |o| {
        let receipt = receipt_of(&o, &order, refund)?;
        let stem = match refund {
            Some(i) => format!("refund-receipt-{}-{}", order.trim(), i + 1),
            None => format!("receipt-{}", order.trim()),
        };
        let extension = match file {
            ReceiptFile::Pdf => "pdf",
            ReceiptFile::Png => "png",
        };
        let Some(path) = crate::dialogs::save_as(&app, &format!("{stem}.{extension}"), extension)? else {
            return Ok(None);
        };
        match file {
            ReceiptFile::Pdf => receipt.pdf(&path)?,
            ReceiptFile::Png => receipt.png(576, &path)?,
        }
        Ok(Some(path.display().to_string()))
    })
    .await
}

fn receipt_of(o: &Opened, order: &str, refund: Option<usize>) -> ApiResult<Receipt> {
    let store = o.ct.write();
    let Some(shop) = store.shop()? else { return Err(ApiError::input("the shop is not set up yet")) };
    let Some(history) = store.order_history(order, None)? else {
        return Err(ApiError::new("not_found", format!("there is no order {}", order.trim())));
    };
    let kind = refund.map_or(ReceiptKind::Sale, ReceiptKind::Refund);
    receipt::receipt(&shop, &history.order, kind)
        .ok_or_else(|| ApiError::input(format!("order {} has no refund {}", order.trim(), refund.map_or(0, |i| i + 1))))
}

/// The catalog. Read from the write side's current-state table: it is small, always exact,
/// and a product just added must be sellable at once (see ARCHITECTURE.md).
#[tauri::command]
pub async fn products(shell: State<'_, Shell>) -> ApiResult<Vec<Product>> {
    blocking(shell, |o| Ok(o.ct.write().products()?)).await
}

/// The customer list, from the write side for the same reasons as [`products`].
#[tauri::command]
pub async fn customers(shell: State<'_, Shell>) -> ApiResult<Vec<Customer>> {
    blocking(shell, |o| Ok(o.ct.write().customers()?)).await
}

/// A customer's page: who they are and what they have bought (their orders come page by page
/// from [`orders`] with the customer in the filter).
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct CustomerPage {
    pub customer: CustomerInfo,
    pub stats: CustomerStats,
    /// Lifetime value over orders, in the shop's currency's minor units; `None` before a first order.
    #[ts(as = "Option<String>")]
    pub average_order: Option<Decimal>,
}

/// `None` when no customer has that number (the page says so).
#[tauri::command]
pub async fn customer_page(shell: State<'_, Shell>, id: String) -> ApiResult<Stamped<Option<CustomerPage>>> {
    blocking(shell, move |o| {
        let currency = o.ct.write().shop()?.map(|shop| shop.currency);
        let Stamped { value, position, head, lag_events } = o.ct.customer_stats(&id)?;
        let value = value.map(|(customer, stats)| {
            let average_order = (stats.orders > 0).then(|| {
                let average = stats.lifetime_value / Decimal::from(stats.orders);
                currency.map_or_else(|| average.round_dp(2), |currency| currency.round(average))
            });
            CustomerPage { customer, stats, average_order }
        });
        Ok(Stamped { value, position, head, lag_events })
    })
    .await
}

#[tauri::command]
pub async fn orders(shell: State<'_, Shell>, filter: OrderFilter) -> ApiResult<Stamped<Page<OrderView>>> {
    blocking(shell, move |o| Ok(o.ct.orders(&filter)?)).await
}

/// One event of an order's audit trail.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct TimelineItem {
    pub position: u64,
    pub version: u64,
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    pub command_id: String,
    #[ts(type = "Record<string, unknown>")]
    pub payload: serde_json::Value,
}

impl From<&Envelope> for TimelineItem {
    fn from(e: &Envelope) -> TimelineItem {
        TimelineItem {
            position: e.position,
            version: e.version,
            event_type: e.event_type.clone(),
            recorded_at: e.recorded_at,
            command_id: e.command_id.clone(),
            payload: e.event.to_payload(),
        }
    }
}

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct OrderDetail {
    /// The order folded from its own events (up to `as_of` when given).
    pub order: countertop_core::Order,
    pub as_of: Option<DateTime<Utc>>,
    /// Every event of the order, oldest first (all of them, so the slider can move forward).
    pub timeline: Vec<TimelineItem>,
    /// How many of `timeline` the `as_of` view includes.
    pub shown: usize,
    #[ts(as = "String")]
    pub refundable: countertop_core::Decimal,
    /// Per line, the units not refunded yet (the core's `Order::refunded_units`, so the refund
    /// form never counts them its own way).
    pub units_left: Vec<u32>,
}

/// An order with its audit trail, folded from the log (the trail *is* the log), optionally
/// as it stood at `as_of`.
#[tauri::command]
pub async fn order_detail(
    shell: State<'_, Shell>,
    id: String,
    as_of: Option<DateTime<Utc>>,
) -> ApiResult<Option<OrderDetail>> {
    blocking(shell, move |o| {
        let store = o.ct.write();
        let Some(full) = store.order_history(&id, None)? else { return Ok(None) };
        let (order, shown) = match as_of {
            None => (full.order, full.timeline.len()),
            Some(at) => match store.order_history(&id, Some(at))? {
                Some(past) => (past.order, past.timeline.len()),
                None => return Ok(None),
            },
        };
        let refundable = order.refundable();
        let units_left =
            order.lines.iter().enumerate().map(|(i, l)| l.quantity.saturating_sub(order.refunded_units(i))).collect();
        Ok(Some(OrderDetail {
            order,
            as_of,
            timeline: full.timeline.iter().map(TimelineItem::from).collect(),
            shown,
            refundable,
            units_left,
        }))
    })
    .await
}

#[tauri::command]
pub async fn search(shell: State<'_, Shell>, query: String, limit: usize) -> ApiResult<Stamped<Page<SearchHit>>> {
    blocking(shell, move |o| Ok(o.ct.search(&query, 0, limit.clamp(1, 100))?)).await
}

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct DashboardView {
    #[serde(flatten)]
    pub stamped: Stamped<Dashboard>,
    pub revenue_svg: String,
    pub orders_svg: String,
    /// What the charts' marks are (days, weeks or months: it follows the range) and where they
    /// are across each chart, so the page can say what is under the pointer.
    pub bucket: Bucket,
    pub points: Vec<ChartPoint>,
    pub revenue_geometry: Geometry,
    pub orders_geometry: Geometry,
}

#[tauri::command]
pub async fn dashboard(shell: State<'_, Shell>, period: Period) -> ApiResult<DashboardView> {
    blocking(shell, move |o| {
        check_period(&period)?;
        let mut stamped = o.ct.dashboard_with(period, 10)?;
        // Drawn about the size they are shown at, so their text reads at its own size: the
        // revenue chart spans the screen, the orders chart half of it.
        const REVENUE: (u32, u32) = (760, 300);
        const ORDERS: (u32, u32) = (480, 240);
        let revenue_svg = chart::svg_in_panel(&stamped.value, ChartKind::Revenue, REVENUE)?;
        let orders_svg = chart::svg_in_panel(&stamped.value, ChartKind::Orders, ORDERS)?;
        let bucket = chart::bucket_for(stamped.value.period);
        let points = chart::points(&stamped.value.series, bucket);
        // The page shows the day-by-day series only as the charts and `points` made from them:
        // not sent, so "All time" over decades is a few hundred marks, not 2 × 10,000 days.
        stamped.value.series = Vec::new();
        stamped.value.previous_series = Vec::new();
        Ok(DashboardView {
            stamped,
            revenue_svg,
            orders_svg,
            bucket,
            points,
            revenue_geometry: chart::geometry(REVENUE.0),
            orders_geometry: chart::geometry(ORDERS.0),
        })
    })
    .await
}

/// The longest range a dashboard or an export covers: a hundred years.
const MAX_RANGE_DAYS: i64 = 36_525;

/// A business day's cash-up (Z report).
#[tauri::command]
pub async fn cashup(shell: State<'_, Shell>, day: NaiveDate) -> ApiResult<Stamped<CashUp>> {
    blocking(shell, move |o| Ok(o.ct.cashup(day)?)).await
}

fn check_period(period: &Period) -> ApiResult<()> {
    if period.from > period.to {
        return Err(ApiError::input(format!(
            "the range starts on {} but ends earlier, on {}; pick an end date on or after the start",
            period.from, period.to
        )));
    }
    // Long enough for any shop's whole history ("All time"); a year typed short (201 for 2011)
    // is caught.
    if period.days() > MAX_RANGE_DAYS {
        return Err(ApiError::input(format!(
            "the range from {} to {} is longer than a hundred years; check the years and pick a shorter range",
            period.from, period.to
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    RevenueChart,
    OrdersChart,
    RevenueCsv,
    OrdersCsv,
    /// The cash-up of each day of the period.
    CashupCsv,
}

/// Writes a PNG chart or a CSV for `period` to a file the owner picks in a save dialog;
/// `None` when they cancel.
#[tauri::command]
pub async fn export(
    shell: State<'_, Shell>,
    app: AppHandle,
    kind: ExportKind,
    period: Period,
) -> ApiResult<Option<String>> {
    blocking(shell, move |o| {
        check_period(&period)?;
        let (stem, extension) = match kind {
            ExportKind::RevenueChart => ("revenue-chart", "png"),
            ExportKind::OrdersChart => ("orders-chart", "png"),
            ExportKind::RevenueCsv => ("revenue", "csv"),
            ExportKind::OrdersCsv => ("orders", "csv"),
            ExportKind::CashupCsv => ("cashup", "csv"),
        };
        if matches!(kind, ExportKind::CashupCsv) && period.days() > 366 {
            return Err(ApiError::input("a cash-up export covers at most a year of days; pick a shorter range"));
        }
        let name = match kind {
            ExportKind::CashupCsv if period.from == period.to => format!("{stem}-{}.{extension}", period.from),
            _ => format!("{stem}-{}-to-{}.{extension}", period.from, period.to),
        };
        let Some(path) = crate::dialogs::save_as(&app, &name, extension)? else { return Ok(None) };
        let file = || {
            std::fs::File::create(&path).map_err(|e| {
                ApiError::new("write", format!("cannot create {}: {e}; pick another folder", path.display()))
            })
        };
        match kind {
            ExportKind::RevenueChart | ExportKind::OrdersChart => {
                let chart =
                    if matches!(kind, ExportKind::RevenueChart) { ChartKind::Revenue } else { ChartKind::Orders };
                let dashboard = o.ct.dashboard(period)?.value;
                chart::png(&dashboard, chart, (1200, 500), &path)?;
            }
            ExportKind::RevenueCsv => {
                let rows = o.ct.revenue(period, countertop_core::Bucket::Day)?.value;
                export::revenue_csv(&rows, std::io::BufWriter::new(file()?))?;
            }
            ExportKind::OrdersCsv => {
                export::orders_csv(&o.ct, period, std::io::BufWriter::new(file()?))?;
            }
            ExportKind::CashupCsv => {
                let days = period.from.iter_days().take_while(|d| *d <= period.to);
                let cashups = days.map(|d| Ok(o.ct.cashup(d)?.value)).collect::<ApiResult<Vec<_>>>()?;
                export::cashup_csv(&cashups, std::io::BufWriter::new(file()?))?;
            }
        }
        Ok(Some(path.display().to_string()))
    })
    .await
}

#[tauri::command]
pub async fn status(shell: State<'_, Shell>) -> ApiResult<Status> {
    blocking(shell, |o| Ok(o.ct.status()?)).await
}

#[tauri::command]
pub async fn dead_letters(shell: State<'_, Shell>) -> ApiResult<Vec<DeadLetter>> {
    blocking(shell, |o| Ok(o.ct.dead_letters()?)).await
}

/// Retries one dead letter (or all): returns those still failing.
#[tauri::command]
pub async fn retry_dead_letters(shell: State<'_, Shell>, position: Option<u64>) -> ApiResult<Vec<DeadLetter>> {
    blocking(shell, move |o| Ok(o.ct.retry_dead_letters(position)?)).await
}

/// Starts a blue-green rebuild of every read model; progress arrives as `status` events.
#[tauri::command]
pub async fn rebuild(shell: State<'_, Shell>, app: AppHandle) -> ApiResult<()> {
    blocking(shell, move |o| jobs::rebuild(&o, app)).await
}

#[derive(Debug, Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    OnlineRetail,
    Superstore,
    Csv,
}

/// Asks for a CSV export in an open dialog and starts importing it; progress arrives as
/// `import-progress` events and the reconciliation report as `import-finished`. `false` when
/// the owner cancels.
#[tauri::command]
pub async fn import_file(shell: State<'_, Shell>, app: AppHandle, format: ImportFormat) -> ApiResult<bool> {
    let format = match format {
        ImportFormat::OnlineRetail => Format::OnlineRetail,
        ImportFormat::Superstore => Format::Superstore,
        ImportFormat::Csv => Format::Csv,
    };
    blocking(shell, move |o| {
        let Some(path) = crate::dialogs::open_csv(&app)? else { return Ok(false) };
        jobs::import(&o, app, path, ImportOptions { format, ..ImportOptions::default() })?;
        Ok(true)
    })
    .await
}

/// Saves every line the last import rejected as a CSV file the owner picks. The dialog is
/// opened here, not by the page, so the page never names a file to write.
#[tauri::command]
pub async fn save_rejected_lines(shell: State<'_, Shell>, app: AppHandle) -> ApiResult<Option<String>> {
    blocking(shell, move |o| {
        let source = o.last_rejected.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let Some(source) = source else {
            return Err(ApiError::new("invalid", "the last import rejected no lines, so there is nothing to save"));
        };
        let name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(target) = crate::dialogs::save_as(&app, &name, "csv")? else { return Ok(None) };
        std::fs::copy(&source, &target).map_err(|e| {
            ApiError::new("write", format!("cannot write {}: {e}; pick another folder", target.display()))
        })?;
        Ok(Some(target.display().to_string()))
    })
    .await
}

/// Sets up a demo shop (US dollars, New York time) and imports the bundled Superstore export
/// into it in the background.
#[tauri::command]
pub async fn load_demo(shell: State<'_, Shell>, app: AppHandle) -> ApiResult<Outcome> {
    blocking(shell, move |o| {
        let form = ShopForm {
            name: "Superstore (demo)".into(),
            currency: "USD".into(),
            time_zone: "America/New_York".into(),
            day_start: "00:00".into(),
            prices_include_tax: false,
            tax_rate: "0".into(),
        };
        let outcome = execute(&o, "demo-shop".into(), form.command()?)?;
        let path = o.dir.join("demo-superstore.csv.gz");
        std::fs::write(&path, crate::DEMO_SUPERSTORE)
            .map_err(|e| ApiError::new("storage", format!("cannot write {}: {e}", path.display())))?;
        jobs::import(&o, app, path, ImportOptions { format: Format::Superstore, ..ImportOptions::default() })?;
        Ok(outcome)
    })
    .await
}

/// Writes a verified copy of the write store to a file the owner picks (the read side is
/// rebuilt from it on restore); `None` when they cancel.
#[tauri::command]
pub async fn backup(shell: State<'_, Shell>, app: AppHandle) -> ApiResult<Option<Verification>> {
    blocking(shell, move |o| {
        let name = format!("countertop-backup-{}.redb", Utc::now().format("%Y-%m-%d-%H-%M"));
        let Some(path) = crate::dialogs::save_as(&app, &name, "redb")? else { return Ok(None) };
        Ok(Some(o.ct.write().backup(&path)?))
    })
    .await
}
