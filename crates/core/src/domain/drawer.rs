//! The cash drawer of a business day: the float it opened with, cash taken out (to the bank,
//! a paid-out), and the count at the end. Cash taken and given back at the counter is on the
//! orders; the cash-up read model (`read/cashup.rs`) adds it all up: float + cash taken − cash
//! given back − cash removed is what the drawer should hold, and a count records what it did
//! hold. The difference (over or short) is worked out there, as of the count's time (the cash
//! that moved before it, on any till), the same on every rebuild and every device: the write
//! side keeps no running cash total, since no decision here depends on one (a count is never
//! refused for what it finds).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Event, Rejection, Shop, text};
use crate::money::MoneyInput;

/// What a drawer movement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum DrawerMove {
    /// The float the drawer opened with (setting it again replaces it).
    Float,
    /// Cash taken out of the drawer: banked, a paid-out.
    Removed,
    /// The drawer was counted: this much cash was in it.
    Counted,
}

/// Record a drawer movement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDrawer {
    pub kind: DrawerMove,
    pub amount: MoneyInput,
    /// Why (required for cash removed).
    pub note: Option<String>,
    /// The business day; `None`: the day of `at` (or today).
    pub day: Option<NaiveDate>,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawerRecorded {
    pub kind: DrawerMove,
    pub day: NaiveDate,
    pub amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

pub(super) fn record(shop: &Shop, cmd: &RecordDrawer, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
    let at = cmd.at.unwrap_or(now);
    let day = cmd.day.unwrap_or_else(|| shop.business_day(at));
    let given = cmd.amount.in_currency(shop.currency, "amount")?;
    let amount = shop.currency.round(given);
    let positive_needed = cmd.kind == DrawerMove::Removed;
    if amount < Decimal::ZERO || (positive_needed && amount.is_zero()) {
        return Err(Rejection::DrawerAmount { given: shop.currency.format(given), zero_ok: !positive_needed });
    }
    super::orders::check_total("amount", "drawer movement", amount, shop.currency)?;
    let note = match cmd.kind {
        DrawerMove::Removed => Some(text::required(
            "reason",
            "where the cash went (banked, a paid-out)",
            cmd.note.as_deref().unwrap_or(""),
            text::REASON_MAX,
        )?),
        _ => text::optional("note", cmd.note.as_deref(), text::REASON_MAX)?,
    };
    Ok(vec![Event::DrawerRecorded(DrawerRecorded { kind: cmd.kind, day, amount, note, at })])
}
