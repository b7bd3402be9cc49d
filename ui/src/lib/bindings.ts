// Written from the Rust types by ts-rs (src-tauri/src/bindings.rs); do not edit. Change the Rust
// type, then run `COUNTERTOP_BLESS=1 cargo test -p countertop-app bindings`. Money, rates and
// quantities typed as text are decimal strings (never floats), times are UTC RFC 3339, days
// are `YYYY-MM-DD` business days.

export type Currency = string;

export type Shop = { name: string, currency: Currency, time_zone: string, 
/**
 * When the business day starts in shop-local time. With 04:00, a sale at 01:30 counts
 * for the previous day.
 */
day_start: string, 
/**
 * Whether catalog prices already include tax (typical for shops selling to consumers
 * in the UK and EU) or tax is added on top (typical in the US).
 */
prices_include_tax: boolean, 
/**
 * The tax rate for products and ad-hoc items that do not name one (a fraction: 0.2 = 20 %).
 */
default_tax_rate: string, 
/**
 * The address printed under the name on receipts (lines as typed).
 */
address?: string | null, 
/**
 * What receipts end with ("Thank you! Returns within 30 days with this receipt").
 */
receipt_footer?: string | null, };

export type Product = { sku: string, name: string, 
/**
 * In the shop's currency; may have sub-cent places.
 */
unit_price: string, 
/**
 * A fraction: 0.2 = 20 %.
 */
tax_rate: string, image: string | null, archived: boolean, 
/**
 * Not goods: postage, carriage, fees, bank charges. Sold and counted in the takings like
 * anything else, and left out of the best-selling products.
 */
not_merchandise?: boolean, 
/**
 * At or below this many on hand, the product is low (`None`: only when out).
 */
low_stock_at?: number | null, };

export type Customer = { id: string, name: string, email: string | null, phone: string | null, country: string | null, };

export type CustomerStats = { 
/**
 * Orders placed and not cancelled.
 */
orders: number, 
/**
 * Paid minus refunded, over those orders.
 */
lifetime_value: string, refunds: string, first_order: string | null, last_order: string | null, };

export type CustomerInfo = { id: string, name: string, email: string | null, phone: string | null, country: string | null, };

export type CustomerPage = { customer: CustomerInfo, stats: CustomerStats, 
/**
 * Lifetime value over orders, in the shop's currency's minor units; `None` before a first order.
 */
average_order: string | null, };

export type OrderStatus = "pending" | "shipped" | "delivered" | "cancelled" | "completed";

export type CustomerRef = { id: string, name: string, };

export type OrderLine = { 
/**
 * `true` when the line sold a catalog product, `false` for an ad-hoc item.
 */
from_catalog: boolean, sku: string | null, name: string, quantity: number, unit_price: string, tax_rate: string, 
/**
 * `quantity × unit_price`, rounded to the currency's minor unit, half to even.
 */
total: string, };

export type Totals = { 
/**
 * Sum of the line totals.
 */
subtotal: string, 
/**
 * The order discount as an amount.
 */
discount: string, 
/**
 * Tax on the discounted goods: included in `total` when prices include tax, added otherwise.
 */
tax: string, 
/**
 * What the customer pays.
 */
total: string, };

export type Shipment = { carrier: string, tracking: string, at: string, };

export type Cancellation = { reason: string, at: string, 
/**
 * What the till knew when it cancelled (`None`: a shop on one device, which knew all
 * that came before).
 */
knew?: Known | null, 
/**
 * How many more cancellations arrived (two tills cancelled it while apart).
 */
repeated?: number, };

export type Known = { refunds: Array<Refund>, payments: Array<Payment>, };

export type Conflict = "refunded_more_than_paid" | "refunded_while_cancelled" | "paid_while_cancelled" | "cancelled_after_shipping" | "cancelled_twice";

export type RefundedLine = { 
/**
 * The line's place in the order, from 0.
 */
line: number, quantity: number, };

export type Refund = { amount: string, reason: string, at: string, 
/**
 * The goods that came back, when the refund names them (empty: an amount only).
 */
lines?: Array<RefundedLine>, 
/**
 * How the money went back (`None` for refunds recorded before refunds said: as paid).
 */
tender?: Tender | null, 
/**
 * The goods went back on the shelf.
 */
restock?: boolean, };

export type Tender = "cash" | "card" | "gift_card" | "other";

export type Payment = { tender: Tender, 
/**
 * What it paid toward the order.
 */
amount: string, 
/**
 * Cash only: what was handed over, when it was more than `amount` (the rest went back
 * as change).
 */
tendered?: string | null, at: string, };

export type Source = { 
/**
 * The import: the first 16 hex digits of the BLAKE3 hash of the file.
 */
import: string, 
/**
 * Its number (a customer: its id or key) in that file.
 */
number: string, };

export type Order = { id: string, 
/**
 * `None` for a walk-in sale.
 */
customer: CustomerRef | null, lines: Array<OrderLine>, totals: Totals, currency: Currency, note: string | null, payment_method: string | null, placed_at: string, status: OrderStatus, shipment: Shipment | null, delivered_at: string | null, cancellation: Cancellation | null, refunds: Array<Refund>, 
/**
 * For an order brought in by an import: which import, and its number in that file.
 */
source?: Source | null, 
/**
 * The money taken, when placed and since (an invoice has none until paid).
 */
payments: Array<Payment>, 
/**
 * Conflicts the owner has resolved.
 */
resolved?: Array<Conflict>, };

export type LineView = { sku: string | null, name: string, quantity: number, unit_price: string, tax_rate: string, total: string, 
/**
 * The catalog image at the time of sale, for catalog products.
 */
image: string | null, };

export type OrderView = { id: string, customer: CustomerInfo | null, lines: Array<LineView>, totals: Totals, currency: Currency, note: string | null, payment_method: string | null, status: OrderStatus, placed_at: string, business_day: string, shipment: Shipment | null, delivered_at: string | null, cancellation: Cancellation | null, refunds: Array<Refund>, refunded: string, 
/**
 * The money taken, when placed and since, by tender.
 */
payments: Array<Payment>, 
/**
 * What is still to pay (zero for an order paid in full; an invoice owes its total).
 */
due: string, 
/**
 * What tills apart did to it that does not add up, for the owner to resolve.
 */
conflicts?: Array<Conflict>, 
/**
 * Conflicts the owner resolved.
 */
resolved?: Array<Conflict>, 
/**
 * The order stream's version this view reflects.
 */
version: number, 
/**
 * The log position of the last event folded in.
 */
position: number, };

export type Return = { id: string, customer: CustomerRef | null, 
/**
 * The goods returned (quantities are positive).
 */
lines: Array<OrderLine>, 
/**
 * Money given back: the sum of the line totals.
 */
amount: string, currency: Currency, reason: string, at: string, 
/**
 * For a credit note brought in by an import: which import, and its number in that file.
 */
source?: Source | null, };

export type Entity = { "kind": "shop" } & Shop | { "kind": "product" } & Product | { "kind": "customer" } & Customer | { "kind": "order" } & Order | { "kind": "return" } & Return | { "kind": "drawer", day: string, };

export type Outcome = { command_id: string, 
/**
 * The log positions it appended (first, last); `None` when it changed nothing.
 */
positions: [number, number] | null, 
/**
 * The stream its result belongs to, e.g. `order/1001`.
 */
stream: string, 
/**
 * That stream's version right after the command.
 */
stream_version: number, 
/**
 * The product, customer, order or shop as the command left it.
 */
entity: Entity, 
/**
 * `true` when this command id had been accepted before and this is its first result again.
 */
replayed: boolean, };

export type TimelineItem = { position: number, version: number, event_type: string, recorded_at: string, command_id: string, payload: Record<string, unknown>, };

export type OrderDetail = { 
/**
 * The order folded from its own events (up to `as_of` when given).
 */
order: Order, as_of: string | null, 
/**
 * Every event of the order, oldest first (all of them, so the slider can move forward).
 */
timeline: Array<TimelineItem>, 
/**
 * How many of `timeline` the `as_of` view includes.
 */
shown: number, refundable: string, 
/**
 * Per line, the units not refunded yet (the core's `Order::refunded_units`, so the refund
 * form never counts them its own way).
 */
units_left: Array<number>, };

export type Stamped<T> = { value: T, 
/**
 * Everything up to this log position is reflected.
 */
position: number, 
/**
 * The write store's head when the answer was read.
 */
head: number, 
/**
 * Events committed but not reflected yet.
 */
lag_events: number, };

export type Page<T> = { items: Array<T>, total: number, offset: number, limit: number, };

export type Period = { from: string, to: string, };

export type OrderFilter = { status: OrderStatus | null, 
/**
 * First business day (inclusive).
 */
from: string | null, 
/**
 * Last business day (inclusive).
 */
to: string | null, 
/**
 * Only this customer's orders.
 */
customer: string | null, offset: number, limit: number, };

export type SearchKind = "order" | "customer" | "product";

export type SearchHit = { kind: SearchKind, 
/**
 * Order number, customer id or SKU.
 */
id: string, title: string, 
/**
 * In words: an order's status, a customer's email and country, a product's SKU.
 */
subtitle: string, 
/**
 * An order's business day (`YYYY-MM-DD`), for the reader to write the shop's way.
 */
day: string | null, 
/**
 * An order's total, an exact decimal in the shop's currency.
 */
total: string | null, score: number, };

export type Kpis = { 
/**
 * Gross minus refunds: what the shop kept.
 */
net: string, gross: string, refunds: string, orders: number, items: number, 
/**
 * Average order value: net ÷ orders, rounded to the minor unit.
 */
average_order_value: string | null, 
/**
 * Distinct customers with a live order in the period (exact).
 */
unique_customers: number, cancelled: number, };

export type SeriesPoint = { day: string, net: string, gross: string, refunds: string, orders: number, items: number, };

export type TopProduct = { 
/**
 * The SKU, or `None` for an ad-hoc item.
 */
sku: string | null, 
/**
 * The name it was last sold under.
 */
name: string, units: number, revenue: string, };

export type Dashboard = { currency: Currency | null, period: Period, previous_period: Period, kpis: Kpis, previous_kpis: Kpis, series: Array<SeriesPoint>, previous_series: Array<SeriesPoint>, top_products: Array<TopProduct>, 
/**
 * What sold in the period that is not merchandise (postage, fees): counted in the
 * takings, left out of `top_products`.
 */
not_merchandise: Array<TopProduct>, 
/**
 * The first and last business day with any sale or refund: the whole history (`None`
 * before the first sale).
 */
history: Period | null, };

export type Bucket = "day" | "week" | "month";

export type ChartPoint = { 
/**
 * Its first day in the range (a week starts on Monday, a month on the 1st, clipped to
 * the range).
 */
start: string, 
/**
 * What the axis and a hover say: "28 Nov", "w/c 24 Nov", "Nov 2026".
 */
label: string, net: string, orders: number, 
/**
 * How many of the bucket's days are in the range.
 */
days: number, 
/**
 * Whether the range holds only part of the bucket (a range starting on a Wednesday starts
 * with part of a week): its total is for fewer days, so the chart draws it apart rather
 * than as a fall in trade.
 */
partial: boolean, };

export type Geometry = { width: number, plot_left: number, plot_right: number, };

export type DashboardView = { revenue_svg: string, orders_svg: string, 
/**
 * What the charts' marks are (days, weeks or months: it follows the range) and where they
 * are across each chart, so the page can say what is under the pointer.
 */
bucket: Bucket, points: Array<ChartPoint>, revenue_geometry: Geometry, orders_geometry: Geometry, value: Dashboard, 
/**
 * Everything up to this log position is reflected.
 */
position: number, 
/**
 * The write store's head when the answer was read.
 */
head: number, 
/**
 * Events committed but not reflected yet.
 */
lag_events: number, };

export type TenderAmount = { tender: Tender, amount: string, };

export type TaxAtRate = { 
/**
 * The rate as a fraction: 0.2 for 20 %.
 */
rate: string, tax: string, };

export type DrawerMove = "float" | "removed" | "counted";

export type DrawerCount = { at: string, counted: string, expected: string, 
/**
 * Counted less expected: over (positive) or short (negative).
 */
difference: string, };

export type CashUp = { day: string, currency: Currency | null, 
/**
 * Money taken on the day, by tender (every tender listed, cash first).
 */
takings: Array<TenderAmount>, 
/**
 * Money given back on the day (refunds, and cancelled orders' payments), by tender.
 */
refunds: Array<TenderAmount>, 
/**
 * Takings less refunds, by tender.
 */
net: Array<TenderAmount>, total_takings: string, total_refunds: string, 
/**
 * Cash handed back as change (already left out of the cash taken).
 */
change_given: string, 
/**
 * Orders placed on the day (not cancelled since), their units and what they came to.
 */
orders: number, items: number, sales: string, discounts: string, tax: Array<TaxAtRate>, 
/**
 * Orders cancelled on the day.
 */
cancelled: number, first_sale: string | null, last_sale: string | null, 
/**
 * The float the drawer opened with.
 */
float: string, 
/**
 * Cash taken out of the drawer (banked, paid out).
 */
cash_removed: string, 
/**
 * What the drawer should hold now: float + cash taken − cash given back − cash removed.
 */
cash_expected: string, 
/**
 * The drawer's counts, oldest first; the last is the day's.
 */
counts: Array<DrawerCount>, };

export type StockLevel = { sku: string, on_hand: number, 
/**
 * Stock was received or counted for it: it is on the shelf and watched.
 */
tracked: boolean, 
/**
 * At or below this, it is low (set per product; `None`: never low, only out).
 */
low_at: number | null, last_moved: string | null, 
/**
 * Tracked and at or below its threshold, or out of stock: the one rule for "low", so
 * the catalog and the dashboard do not each have their own.
 */
low: boolean, };

export type StockMove = { position: number, at: string, 
/**
 * Units in (positive) or out (negative).
 */
change: number, 
/**
 * What moved it: "sold in order 1001", "received: delivery 42", "counted: shelf check".
 */
why: string, 
/**
 * The level after it.
 */
on_hand: number, };

export type ReceiptRow = { "kind": "heading", text: string, } | { "kind": "centre", text: string, } | { "kind": "pair", left: string, right: string, } | { "kind": "strong", left: string, right: string, } | { "kind": "rule" };

export type Receipt = { 
/**
 * "Receipt 1001", "Refund receipt 1001".
 */
title: string, rows: Array<ReceiptRow>, };

export type Progress = { what: string, done: number, total: number, 
/**
 * Events per second so far.
 */
rate: number, 
/**
 * Seconds left at that rate.
 */
eta_seconds: number | null, };

export type ProjectionStatus = { 
/**
 * `tables` (read.redb) or `search` (the tantivy index).
 */
name: string, checkpoint: number, lag_events: number, 
/**
 * How long ago the oldest event it has not projected yet was committed (0 when caught up).
 */
lag_ms: number, };

export type Status = { head: number, projections: Array<ProjectionStatus>, dead_letters: number, rebuild: Progress | null, 
/**
 * What was found at start (a missing or damaged read store, …) and what was done about it.
 */
notes: Array<string>, 
/**
 * The last error the projector hit, if it is still failing.
 */
failing: string | null, };

export type DeadLetter = { position: number, 
/**
 * The projection that failed (`orders`, `daily`, `search`, …; `decode` when the event
 * itself could not be read).
 */
projection: string, event_type: string | null, error: string, 
/**
 * When the event was recorded, if it could be read.
 */
recorded_at: string | null, };

export type Job = { "kind": "import", file: string, } | { "kind": "rebuild" };

export type StatusEvent = { job: Job | null, head: number, projections: Array<ProjectionStatus>, dead_letters: number, rebuild: Progress | null, 
/**
 * What was found at start (a missing or damaged read store, …) and what was done about it.
 */
notes: Array<string>, 
/**
 * The last error the projector hit, if it is still failing.
 */
failing: string | null, };

export type Format = "online-retail" | "superstore" | "csv";

export type ImportProgress = { lines: number, bytes_read: number, bytes_total: number, lines_per_second: number, eta_seconds: number | null, };

export type RejectedLine = { 
/**
 * Line number in the file (the header is line 1).
 */
line: number, 
/**
 * The order (invoice) it belonged to, if it had one.
 */
order: string | null, 
/**
 * A short heading shared by lines turned away for the same kind of reason.
 */
group: string, reason: string, 
/**
 * Its amount (quantity × unit price, or its line total), when it could be read.
 */
amount: string | null, };

export type RejectedGroup = { group: string, lines: number, 
/**
 * Sum of the amounts of those that had one.
 */
amount: string, };

export type Renumbered = { 
/**
 * Its first line in the file.
 */
line: number, number: string, recorded_as: string, 
/**
 * Why (the note it carries).
 */
reason: string, };

export type SkuSpelling = { sku: string, recorded_as: string, lines: number, };

export type Missing = { number: string, first_line: number, last_line: number, amount: string, };

export type ImportReport = { format: Format, currency: Currency, 
/**
 * BLAKE3 of the file as stored (hex).
 */
file_hash: string, 
/**
 * Data lines read (not counting the header).
 */
lines: number, 
/**
 * Lines recorded by this import (in this run or an earlier run of the same file).
 */
imported_lines: number, 
/**
 * Invoices recorded as orders.
 */
orders: number, 
/**
 * Credit notes recorded as returns.
 */
returns: number, 
/**
 * Refunds recorded on those orders.
 */
refunds: number, 
/**
 * Customers this import registered.
 */
customers_created: number, 
/**
 * Customers the file names who were already in the shop (by id, email or name).
 */
customers_merged: number, 
/**
 * Products added to the catalog (SKUs it did not have), so they can be sold again.
 */
products: number, 
/**
 * Commands that an earlier run of the same file had already done.
 */
already_imported: number, 
/**
 * Documents (and their lines) that were already in the shop: the same sale, recorded
 * by an earlier import of another file or placed here. Nothing was recorded again.
 */
in_shop_documents: number, in_shop_lines: number, 
/**
 * What the file says of them.
 */
in_shop_sum: string, 
/**
 * Refunds, shipments, deliveries and cancellations this file added to documents already
 * in the shop, which did not have them yet.
 */
in_shop_updates: number, 
/**
 * Documents recorded under another number, because theirs was taken.
 */
renumbered_count: number, renumbered: Array<Renumbered>, 
/**
 * Rejected lines: how many, by kind, the first few, and the file that lists them all.
 */
rejected_count: number, rejected_groups: Array<RejectedGroup>, rejected: Array<RejectedLine>, rejected_csv: string | null, sku_spellings: Array<SkuSpelling>, 
/**
 * Things the import noticed and could not use: mapped columns it ignored, unknown status
 * words, customer details the shop's rules refuse.
 */
warnings: Array<string>, 
/**
 * Sum of every line's amount in the file (credit lines negative).
 */
file_sum: string, 
/**
 * What the log holds of this import: order totals − refunds − returns.
 */
imported_net: string, 
/**
 * Sum of the rejected lines' amounts.
 */
rejected_sum: string, 
/**
 * Rounding of imported line amounts to the currency's minor unit (recorded − file).
 */
rounding: string, 
/**
 * Order discounts and tax added on top, as recorded (total − sum of lines); 0 for files
 * that give neither.
 */
discounts_and_tax: string, 
/**
 * `file_sum − (imported_net − rounding − discounts_and_tax + in_shop_sum + rejected_sum)`.
 */
difference: string, 
/**
 * Documents the log should hold and does not (what makes a difference).
 */
missing: Array<Missing>, 
/**
 * `difference == 0` and nothing is missing.
 */
reconciles: boolean, seconds: number, };

export type ImportFinished = { file: string, report: ImportReport | null, 
/**
 * The reconciliation in words (the core's, so the app and the CLI say the same).
 */
statement: Array<string>, error: ApiError | null, };

export type RebuildFinished = { error: ApiError | null, };

export type Verification = { 
/**
 * Events that checked out, from position 1.
 */
events: number, 
/**
 * The hash at the end of this device's own chain (hex), when every event checked out.
 */
head_hash: string | null, 
/**
 * The first position that did not check out, and why.
 */
first_bad: [number, string] | null, };

export type AppInfo = { version: string, data_dir: string, shop: Shop | null, 
/**
 * Today as the shop's business day (None before setup).
 */
today: string | null, 
/**
 * An import or rebuild running in the background, if any.
 */
job: Job | null, };

export type ExportKind = "revenue_chart" | "orders_chart" | "revenue_csv" | "orders_csv" | "cashup_csv";

export type ReceiptFile = "pdf" | "png";

export type ImportFormat = "online-retail" | "superstore" | "csv";

export type ApiError = { code: string, message: string, };

export type ShopForm = { name: string, currency: string, time_zone: string, day_start: string, prices_include_tax: boolean, 
/**
 * `20%` or `0.2`.
 */
tax_rate: string, };

export type SettingsForm = { name: string | null, time_zone: string | null, day_start: string | null, prices_include_tax: boolean | null, tax_rate: string | null, 
/**
 * For receipts; empty clears it.
 */
address?: string, receipt_footer?: string, };

export type LineForm = { sku: string | null, 
/**
 * For ad-hoc items (no SKU from the catalog).
 */
name: string | null, quantity: string, 
/**
 * Overrides the catalog price; required for ad-hoc items.
 */
unit_price: string | null, };

export type PaymentForm = { tender: Tender, amount: string, };

export type OrderForm = { 
/**
 * `None`: a walk-in sale.
 */
customer: string | null, lines: Array<LineForm>, 
/**
 * `10%` or an amount.
 */
discount: string | null, note: string | null, payment_method: string | null, 
/**
 * The tenders taken (cash: what was handed over). Empty: paid in full by
 * `payment_method`, unless `invoice`.
 */
payments: Array<PaymentForm>, 
/**
 * Leave it unpaid or part paid, to pay later.
 */
invoice: boolean, };

export type RefundLineForm = { line: number, quantity: string, };

export type OrderAction = { "action": "ship", order: string, carrier: string, tracking: string, } | { "action": "deliver", order: string, } | { "action": "cancel", order: string, reason: string, } | { "action": "refund", order: string, amount: string, lines: Array<RefundLineForm>, reason: string, 
/**
 * How the money goes back; `None`: by the tender that paid most.
 */
tender?: Tender, 
/**
 * The goods in `lines` go back on the shelf.
 */
restock?: boolean, } | { "action": "pay", order: string, payments: Array<PaymentForm>, };

export type ProductForm = { sku: string, name: string, unit_price: string, 
/**
 * Empty: the shop's default rate.
 */
tax_rate: string | null, 
/**
 * Set when editing an existing product.
 */
existing: boolean, archived: boolean | null, 
/**
 * Postage, fees: left out of the best sellers (editing only).
 */
not_merchandise: boolean | null, 
/**
 * Low at or below this many on hand; empty: only when out (editing only).
 */
low_stock_at?: string, };

export type StockAction = { "action": "receive", sku: string, quantity: string, note: string | null, } | { "action": "count", sku: string, counted: string, reason: string, };

export type DrawerForm = { kind: DrawerMove, amount: string, note: string | null, 
/**
 * The business day (`YYYY-MM-DD`); `None`: today.
 */
day: string | null, };

export type CustomerForm = { 
/**
 * Set when editing; `None` adds a customer with the next free number.
 */
id: string | null, name: string, email: string | null, phone: string | null, country: string | null, };

export type OriginTip = { device: string, till: string, 
/**
 * Its last event here (its sequence number; all before it are here too).
 */
seq: number, 
/**
 * That event's hash (hex).
 */
hash: string, 
/**
 * When that device recorded that event (its clock).
 */
recorded_at: string, 
/**
 * When it arrived here (this device's clock).
 */
received_at: string, };

export type Retirement = { by: string, reason: string, at: string, 
/**
 * Where the retirement is on the hub: the device's messages after it are refused.
 * `None` while this till's own retirement of it has not come back from the hub yet.
 */
hub_seq: number | null, };

export type Member = { device: string, till: string, 
/**
 * Its public key, hex.
 */
key: string, 
/**
 * Its key's fingerprint, for people to compare.
 */
fingerprint: string, 
/**
 * The device that admitted it.
 */
by: string, admitted_at: string, retired?: Retirement | null, };

export type PairingView = { 
/**
 * `K7QFM-2XP9T`: type it on the new till ("Or make this computer another till…").
 */
code: string, 
/**
 * Until when the code is good.
 */
until: string, 
/**
 * The till admitted with it, once it is.
 */
admitted: string | null, 
/**
 * Why it did not work.
 */
error: string | null, };

export type SyncView = { 
/**
 * The folder has joined a shop on a hub.
 */
joined: boolean, 
/**
 * This device's till code (`B`): its orders are numbered `B-1001`, …
 */
till: string | null, shop: string | null, 
/**
 * The hub and how this device signs in (never the secret).
 */
hub: string | null, paused: boolean, 
/**
 * The sync thread is connected to the hub now.
 */
connected: boolean, 
/**
 * Why the last attempt failed, while it does.
 */
problem: string | null, 
/**
 * This device's changes the hub has not acknowledged yet.
 */
waiting: number, 
/**
 * When everything was last sent and fetched.
 */
last_synced_at: string | null, 
/**
 * The other devices whose changes are here.
 */
devices: Array<OriginTip>, 
/**
 * The shop's tills as this one knows them: their keys' fingerprints, retired ones.
 */
members: Array<Member>, 
/**
 * This till's key is in the shop's roster (else it must be paired).
 */
admitted: boolean, 
/**
 * What the hub brought that was not taken, in the owner's words ("1 message on the hub
 * did not come from a till of this shop: ignored").
 */
problems: Array<string>, 
/**
 * The connection to the hub is encrypted (TLS), or the hub is on this machine.
 */
encrypted: boolean, 
/**
 * A till being added from here.
 */
pairing: PairingView | null, 
/**
 * Orders with conflicts to resolve.
 */
conflicts: number, };

export type JoinForm = { 
/**
 * `nats://host:4222`.
 */
url: string, shop: string, 
/**
 * Start a new shop on the hub when there is none of that name.
 */
create: boolean, 
/**
 * Sign in with a user and password, or a token; all empty: no sign-in.
 */
user: string, password: string, token: string, 
/**
 * The pairing code a till of the shop shows (empty: none; a new shop needs none).
 */
code: string, 
/**
 * The certificate file of the authority that signed the hub's (empty: the system's).
 */
ca: string, 
/**
 * Connect to a hub on another machine unencrypted (`nats://`).
 */
insecure: boolean, };
