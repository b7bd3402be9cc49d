//! Countertop's core: the shop's rules, the event-sourced write store, and the read side
//! (projections, queries, search, charts). No UI and no Tauri here; the CLI and the desktop shell are thin layers over this crate.
//!
//! ```
//! use countertop_core::{
//!     AddProduct, Command, Entity, LineInput, OpenShop, PaymentInput, PlaceOrder, Request, Tender, WriteStore,
//! };
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = WriteStore::open(dir.path())?;
//!
//! store.execute(Request::new(Command::OpenShop(OpenShop {
//!     name: "Corner Shop".into(),
//!     currency: "GBP".into(),
//!     time_zone: "Europe/London".into(),
//!     day_start: "04:00".into(),
//!     prices_include_tax: true,
//!     default_tax_rate: "0.2".parse()?,
//! })))?;
//! store.execute(Request::new(Command::AddProduct(AddProduct {
//!     sku: "MUG".into(),
//!     name: "Enamel mug".into(),
//!     unit_price: "8.00".parse()?,
//!     tax_rate: None,
//!     image: None,
//! })))?;
//!
//! // Returns once the order is durably on disk, with everything needed to show it.
//! let placed = store.execute(Request::new(Command::PlaceOrder(PlaceOrder {
//!     order: None,
//!     customer: None,
//!     lines: vec![LineInput::Product { sku: "MUG".into(), quantity: 2, unit_price: None }],
//!     discount: None,
//!     note: None,
//!     payment_method: Some("cash".into()),
//!     // A £20 note for £16.00: £4.00 change, recorded with the payment.
//!     payments: vec![PaymentInput { tender: Tender::Cash, amount: "20".parse()? }],
//!     invoice: false,
//!     at: None,
//! })))?;
//! let Entity::Order(order) = placed.entity else { unreachable!() };
//! assert_eq!((order.id.as_str(), order.totals.total.to_string().as_str()), ("1001", "16.00"));
//! assert_eq!(order.payments[0].change().to_string(), "4.00");
//!
//! // The order's history is its events: the audit trail.
//! let history = store.order_history("1001", None)?.expect("just placed");
//! assert_eq!(history.timeline[0].event_type, "order.placed");
//! # Ok(())
//! # }
//! ```

mod app;
pub mod chart;
mod codec;
mod domain;
pub mod export;
mod files;
pub mod import;
mod memory;
mod money;
mod read;
pub mod receipt;
mod store;
mod watch;

/// Entry points for the fuzz targets in `tests/fuzz` into code that is otherwise private.
/// Only built by cargo-fuzz, which compiles with `--cfg fuzzing`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes one stored event (hash ‖ envelope JSON) as the log reads it, payload upcast
    /// included.
    pub fn decode_stored_event(bytes: &[u8]) -> Result<crate::Envelope, crate::Error> {
        crate::store::decode_stored_event(bytes)
    }
}

pub use app::{Countertop, Freshness};
pub use domain::{
    AddCustomer, AddProduct, CancelOrder, Cancellation, ChangeShopSettings, Command, Customer, CustomerDetailsChanged,
    CustomerRef, CustomerRegistered, DecodeError, DeliverOrder, DiscountInput, EMAIL_MAX, EVENT_TYPES, Event,
    FIRST_CUSTOMER_NUMBER, FIRST_ORDER_NUMBER, ID_MAX, LineInput, MAX_LINES, MAX_QUANTITY, NAME_MAX, NOTE_MAX,
    OpenShop, Order, OrderCancelled, OrderDelivered, OrderLine, OrderPlaced, OrderRefunded, OrderShipped, OrderStatus,
    PATH_MAX, PHONE_MAX, PlaceOrder, Product, ProductAdded, ProductArchived, ProductClassified, ProductImageChanged,
    ProductRenamed, ProductRepriced, ProductRestored, REASON_MAX, RecordReturn, References, Refund, RefundLineInput,
    RefundOrder, RefundedLine, Rejection, Return, ReturnRecorded, SHORT_MAX, SKU_MAX, ShipOrder, Shipment, Shop,
    ShopOpened, ShopSettingsChanged, Source, State, StreamId, Totals, UpdateCustomer, UpdateProduct, apply,
    business_day, check_line, decide, evolve, line_refund_value, refunded_units, tax_by_rate, totals,
};
pub use domain::{Conflict, Known, OrderConflictsResolved, ResolveConflicts};
pub use domain::{CountStock, MAX_ON_HAND, ProductLowStockSet, ReceiveStock, StockCounted, StockReceived};
pub use domain::{DeviceAdmitted, DeviceRetired, LegacyTip};
pub use domain::{DrawerMove, DrawerRecorded, RecordDrawer};
pub use domain::{Inadmissible, admissible};
pub use domain::{MAX_TENDERS, OrderPaid, PayOrder, Payment, PaymentInput, Tender, main_tender, payment_summary};
pub use memory::tune_allocator;
pub use money::{
    Currency, MAX_PRICE_PLACES, MAX_TOTAL, MAX_UNIT_PRICE, MoneyInput, format_rate, parse_decimal, parse_tax_rate,
};
pub use read::{
    Bucket, Bucketing, CashUp, CustomerInfo, CustomerStats, DailyStats, Dashboard, DeadLetter, DrawerCount, Kpis,
    LineView, OrderFilter, OrderSource, OrderView, OrderWithSource, Page, Period, ProductInfo, Progress,
    ProjectionStatus, ProjectorOptions, READ_STORE_FILE, ReadCheck, RevenueRow, SearchHit, SearchKind, SeriesPoint,
    Stamped, Status, StockLevel, StockMove, TaxAtRate, TenderAmount, TopProduct,
};
pub use rust_decimal::Decimal;
pub use store::{
    Arrival, BulkJob, DEVICE_KEY_FILE, DeviceKey, Entity, Envelope, Error, HubMessage, Identity, Incoming, LOG_FILE,
    Member, OrderHistory, OriginTip, OutboxMark, Outcome, Outgoing, PairingCode, Problem, PublicKey, QuarantineCount,
    QuarantineSummary, Quarantined, Request, Retirement, Root, SyncState, Verification, WRITE_STORE_FILE, WriteStore,
    event_message, hex, unhex,
};
pub use watch::Watch;
