//! Stock: goods received, shelves counted, and when a product counts as low. How many are on
//! hand is the read side's (`read/stock.rs`): sales, cancellations, restocking refunds and
//! returns move it. The write side never refuses a sale for want of stock — the sale always
//! wins at the counter, and the level shows below zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::clock::Stamp;

use super::orders::check_quantity;
use super::{Event, Product, Rejection, text};

/// The most a count may say is on the shelf.
pub const MAX_ON_HAND: i64 = 1_000_000_000;

/// Goods came in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveStock {
    pub sku: String,
    pub quantity: i64,
    /// A delivery note, a supplier.
    pub note: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// The shelf was counted: this many are there (a correction, with why).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountStock {
    pub sku: String,
    pub counted: i64,
    pub reason: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReceived {
    pub sku: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCounted {
    pub sku: String,
    pub counted: i64,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The level at or below which the product is low (`None`: only out of stock is low).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductLowStockSet {
    pub sku: String,
    pub low_at: Option<i64>,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// A stock level (counted, or where low starts): 0 to [`MAX_ON_HAND`].
pub(super) fn check_level(given: i64) -> Result<i64, Rejection> {
    if !(0..=MAX_ON_HAND).contains(&given) {
        return Err(Rejection::CountOutOfRange { given });
    }
    Ok(given)
}

fn product<'a>(product: Option<&'a Product>, sku: &str) -> Result<&'a Product, Rejection> {
    product.ok_or_else(|| Rejection::UnknownStockProduct { sku: sku.trim().to_owned(), hint: String::new() })
}

pub(super) fn receive(
    existing: Option<&Product>,
    cmd: &ReceiveStock,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let p = product(existing, &cmd.sku)?;
    if cmd.quantity < 1 {
        return Err(Rejection::ReceivedTooFew { given: cmd.quantity });
    }
    let quantity = check_quantity(cmd.quantity)?;
    Ok(vec![Event::StockReceived(StockReceived {
        sku: p.sku.clone(),
        quantity,
        note: text::optional("note", cmd.note.as_deref(), text::SHORT_MAX)?,
        at: cmd.at.unwrap_or(now),
    })])
}

pub(super) fn count(existing: Option<&Product>, cmd: &CountStock, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
    let p = product(existing, &cmd.sku)?;
    check_level(cmd.counted)?;
    let reason =
        text::required("reason", "why the count differs (e.g. shelf check, breakage)", &cmd.reason, text::REASON_MAX)?;
    Ok(vec![Event::StockCounted(StockCounted {
        sku: p.sku.clone(),
        counted: cmd.counted,
        reason,
        at: cmd.at.unwrap_or(now),
    })])
}

/// The event for a new low-stock level, if it changes anything.
pub(super) fn low_at(product: &Product, low_at: Option<i64>) -> Result<Option<Event>, Rejection> {
    low_at.map(check_level).transpose()?;
    Ok((low_at != product.low_stock_at)
        .then(|| Event::ProductLowStockSet(ProductLowStockSet { sku: product.sku.clone(), low_at, stamp: None })))
}
