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
            core::Retirement,
            core::Member,
            sync::PairingView,
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

    /// The names between `open` and the first `close` after it, split at commas.
    fn listed<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
        let start = text.find(open).map(|i| i + open.len()).unwrap_or(text.len());
        let rest = &text[start..];
        rest[..rest.find(close).unwrap_or(rest.len())]
            .split(',')
            .map(|s| s.trim().trim_matches('"'))
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// A command is named in four places, and each must name the same ones: `build.rs`
    /// (declared, so it needs a permission), the handler in `main.rs` (what runs),
    /// `capabilities/main.json` (what the window is allowed) and `ui/src/lib/backend.ts` (what
    /// the page calls). One left out of any fails here, not in a shop owner's window.
    #[test]
    fn bindings_name_the_same_commands_in_all_four_places() {
        use std::collections::BTreeSet;
        let sorted = |names: Vec<String>, place: &str| {
            let set: BTreeSet<String> = names.iter().cloned().collect();
            assert_eq!(set.len(), names.len(), "{place} names a command twice: {names:?}");
            assert!(!set.is_empty(), "no commands found in {place}");
            set
        };
        let declared = listed(include_str!("../build.rs"), "const COMMANDS: &[&str] = &[", "]");
        let declared = sorted(declared.into_iter().map(str::to_owned).collect(), "build.rs");
        let handled = listed(include_str!("main.rs"), "generate_handler![", "]");
        let handled = handled.iter().map(|path| path.rsplit("::").next().unwrap_or(path).to_owned()).collect();
        let handled = sorted(handled, "main.rs");
        let capabilities: serde_json::Value = serde_json::from_str(include_str!("../capabilities/main.json")).unwrap();
        let allowed = capabilities["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-").map(|name| name.replace('-', "_")))
            .collect();
        let allowed = sorted(allowed, "capabilities/main.json");
        // `call<Type>('name', …)`: the name in quotes right after the type.
        let backend = include_str!("../../ui/src/lib/backend.ts");
        let called = backend
            .split("call<")
            .skip(1)
            .filter_map(|rest| {
                let (ty, after) = rest.split_once("('")?;
                (ty.ends_with('>') && !ty.contains('(')).then(|| after.split('\'').next())?
            })
            .map(str::to_owned)
            .collect();
        let called = sorted(called, "ui/src/lib/backend.ts");
        assert_eq!(handled, declared, "main.rs's handler and build.rs's COMMANDS differ");
        assert_eq!(allowed, declared, "capabilities/main.json and build.rs's COMMANDS differ");
        assert_eq!(called, declared, "ui/src/lib/backend.ts and build.rs's COMMANDS differ");
    }
}
