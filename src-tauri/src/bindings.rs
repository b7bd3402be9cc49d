//! The TypeScript declarations of what the app's commands take and return, written from the
//! Rust types by ts-rs into `ui/src/lib/bindings.ts`. The test below compares that file with
//! what the types say now, so a change on one side the other does not follow fails the build
//! (`scripts/test.sh` runs it); `COUNTERTOP_BLESS=1 cargo test -p countertop-app bindings`
//! writes the file again after a deliberate change.

#[cfg(test)]
mod tests {
    use countertop_core as core;
    use ts_rs::{Config, Dummy, TS};

    use crate::{commands, error, forms, jobs, sync};

    const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");

    const HEADER: &str = "\
// Written from the Rust types by ts-rs (src-tauri/src/bindings.rs); do not edit. Change the Rust
// type, then run `COUNTERTOP_BLESS=1 cargo test -p countertop-app bindings`. Money, rates and
// quantities typed as text are decimal strings (never floats), times are UTC RFC 3339, days
// are `YYYY-MM-DD` business days.

";

    /// Every declaration, in a fixed order.
    fn declarations() -> String {
        // Positions and counts fit a double (they are below 2^53).
        let cfg = Config::new().with_large_int("number");
        let mut out = String::from(HEADER);
        macro_rules! declare {
            ($($ty:ty),* $(,)?) => {$(
                out.push_str("export ");
                out.push_str(&<$ty>::decl(&cfg));
                out.push_str("\n\n");
            )*};
        }
        declare!(
            // The shop, catalog and customers.
            core::Currency,
            core::Shop,
            core::Product,
            core::Customer,
            core::CustomerStats,
            core::CustomerInfo,
            commands::CustomerPage,
            // Orders.
            core::OrderStatus,
            core::CustomerRef,
            core::OrderLine,
            core::Totals,
            core::Shipment,
            core::Cancellation,
            core::Known,
            core::Conflict,
            core::RefundedLine,
            core::Refund,
            core::Tender,
            core::Payment,
            core::Source,
            core::Order,
            core::LineView,
            core::OrderView,
            core::Return,
            core::Entity,
            core::Outcome,
            commands::TimelineItem,
            commands::OrderDetail,
            // Reads.
            core::Stamped<Dummy>,
            core::Page<Dummy>,
            core::Period,
            core::OrderFilter,
            core::SearchKind,
            core::SearchHit,
            core::Kpis,
            core::SeriesPoint,
            core::TopProduct,
            core::Dashboard,
            core::Bucket,
            core::chart::ChartPoint,
            core::chart::Geometry,
            commands::DashboardView,
            core::TenderAmount,
            core::TaxAtRate,
            core::DrawerMove,
            core::DrawerCount,
            core::CashUp,
            core::StockLevel,
            core::StockMove,
            core::receipt::ReceiptRow,
            core::receipt::Receipt,
            // The System screen: freshness, jobs, imports, backups.
            core::Progress,
            core::ProjectionStatus,
            core::Status,
            core::DeadLetter,
            jobs::Job,
            jobs::StatusEvent,
            core::import::Format,
            core::import::ImportProgress,
            core::import::RejectedLine,
            core::import::RejectedGroup,
            core::import::Renumbered,
            core::import::SkuSpelling,
            core::import::Missing,
            core::import::ImportReport,
            jobs::ImportFinished,
            jobs::RebuildFinished,
            core::Verification,
            commands::AppInfo,
            commands::ExportKind,
            commands::ReceiptFile,
            commands::ImportFormat,
            error::ApiError,
            // What the forms send.
            forms::ShopForm,
            forms::SettingsForm,
            forms::LineForm,
            forms::PaymentForm,
            forms::OrderForm,
            forms::RefundLineForm,
            forms::OrderAction,
            forms::ProductForm,
            forms::StockAction,
            forms::DrawerForm,
            forms::CustomerForm,
            // Several tills.
            core::OriginTip,
            sync::SyncView,
            sync::JoinForm,
        );
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    #[test]
    fn bindings_ts_is_what_the_rust_types_say() {
        let want = declarations();
        if std::env::var_os("COUNTERTOP_BLESS").is_some() {
            std::fs::write(FILE, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(FILE).unwrap_or_default();
        assert!(
            have == want,
            "ui/src/lib/bindings.ts is not what the Rust types say; after a deliberate change to a type, run \
             `COUNTERTOP_BLESS=1 cargo test -p countertop-app bindings` and commit the file"
        );
    }
}
