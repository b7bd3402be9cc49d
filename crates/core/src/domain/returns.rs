//! Returns: money given back for goods, recorded on their own rather than against one
//! order — what another system's credit notes are (they name the goods, not the invoice).
//! A return counts as a refund on its own day.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::orders::CustomerRef;
use super::orders::{LineInput, OrderLine, check_lines, customer_ref};
use super::{Customer, Event, Product, Rejection, Shop, Source, text};
use crate::money::Currency;

/// A return as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Return {
    pub id: String,
    pub customer: Option<CustomerRef>,
    /// The goods returned (quantities are positive).
    pub lines: Vec<OrderLine>,
    /// Money given back: the sum of the line totals.
    #[ts(as = "String")]
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// For a credit note brought in by an import: which import, and its number in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// Record a return of goods (a credit note).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReturn {
    /// The credit note's number.
    pub id: String,
    pub customer: Option<String>,
    /// What came back, with positive quantities.
    pub lines: Vec<LineInput>,
    pub reason: String,
    /// When; `None`: now.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecorded {
    #[serde(flatten)]
    pub record: Return,
}

pub(super) struct ReturnContext<'a> {
    pub shop: &'a Shop,
    pub products: &'a BTreeMap<String, Product>,
    pub customers: &'a BTreeMap<String, Customer>,
    pub existing: Option<&'a Return>,
    pub now: DateTime<Utc>,
}

/// What a return gives back: the sum of its lines' totals, to the minor unit.
pub(super) fn amount(lines: &[OrderLine], currency: Currency) -> Decimal {
    currency.round(lines.iter().map(|l| l.total).sum())
}

pub(super) fn record(cx: ReturnContext<'_>, cmd: &RecordReturn) -> Result<Vec<Event>, Rejection> {
    let id = text::id("return number", &cmd.id)?;
    if cx.existing.is_some() {
        return Err(Rejection::ReturnIdTaken { id });
    }
    let customer = customer_ref(cx.customers, cmd.customer.as_deref())?;
    let lines = check_lines(cx.shop, cx.products, &cmd.lines)?;
    let amount = amount(&lines, cx.shop.currency);
    super::orders::check_total("return total", "return", amount, cx.shop.currency)?;
    let reason = text::required("reason", "why the goods came back", &cmd.reason, text::REASON_MAX)?;
    Ok(vec![Event::ReturnRecorded(ReturnRecorded {
        record: Return {
            id,
            customer,
            lines,
            amount,
            currency: cx.shop.currency,
            reason,
            at: cmd.at.unwrap_or(cx.now),
            source: None,
        },
    })])
}
