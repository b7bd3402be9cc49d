//! Read model: stock on hand per catalog product, and each product's stock movements. Owns
//! `stock_levels` and `stock_moves`.
//!
//! Stock moves by SKU: every line sold with a SKU takes its units off; a cancellation puts back what had not
//! come back already; a refund that restocks puts its goods back; a return (credit note) puts
//! its goods back; stock received adds; a count sets the level (the difference is a movement
//! with the count's reason). Stock may go below zero: the sale always wins at the counter, and
//! the level says so. A product "tracks stock" once stock was received or counted for it:
//! only those are listed as low.
//!
//! A count says what was on the shelf *when it was taken* (its `at`), so the level is the
//! latest count (by its time) plus every movement after that time, whatever order the events
//! reached this device in: another till's sale made before the count is in the count, one made
//! after comes off it. A movement at or before the latest count's time is recorded but does not
//! move the level (the count saw its result), and a count older than the latest one only goes
//! into the movement list. A count that arrives after movements later than it (a till that
//! was offline) adds them back up: the movement rows after its time, and the lines of the
//! orders placed after it (`orders_by_time`); counts are rare, so that scan is too.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::orders::{self, Reversal};
use super::{Apply, decode_row, encode_row};
use crate::domain::Event;
use crate::store::Envelope;

const LEVELS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("stock_levels");
/// (SKU, log position) → the movement.
const MOVES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("stock_moves");

/// A product's stock, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Level {
    sku: String,
    on_hand: i64,
    tracked: bool,
    low_at: Option<i64>,
    last_moved: Option<DateTime<Utc>>,
    /// The stamp of the edit that set `low_at`, on a shop with several tills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    low_at_stamp: Option<crate::domain::Stamp>,
    /// The count the level starts from: the latest by its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counted: Option<Count>,
}

/// A count of the shelf, as the level keeps the latest one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Count {
    /// When it was taken; then the figures, so two counts taken in the same microsecond on
    /// two tills are ordered the same everywhere.
    at: DateTime<Utc>,
    counted: i64,
    reason: String,
}

impl Level {
    /// Whether a movement at `at` moves the level: it came after the latest count (a count
    /// taken at or after it saw its result).
    fn moved_by(&self, at: DateTime<Utc>) -> bool {
        self.counted.as_ref().is_none_or(|count| at > count.at)
    }

    /// Notes a movement at `at`: the latest by its time, not by arrival (another till's may
    /// arrive later).
    fn moved_at(&mut self, at: DateTime<Utc>) {
        self.last_moved = Some(self.last_moved.map_or(at, |last| last.max(at)));
    }

    /// Sets the low-stock level when the edit wins (the latest stamp, `domain/clock.rs`).
    fn set_low_at(&mut self, low_at: Option<i64>, stamp: Option<&crate::domain::Stamp>) -> bool {
        if let (Some(current), Some(stamp)) = (&self.low_at_stamp, stamp)
            && current >= stamp
        {
            return false;
        }
        self.low_at = low_at;
        if stamp.is_some() {
            self.low_at_stamp = stamp.cloned();
        }
        true
    }
}

/// A product's stock, as the screens and the CLI read it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct StockLevel {
    pub sku: String,
    pub on_hand: i64,
    /// Stock was received or counted for it: it is on the shelf and watched.
    pub tracked: bool,
    /// At or below this, it is low (set per product; `None`: never low, only out).
    pub low_at: Option<i64>,
    pub last_moved: Option<DateTime<Utc>>,
    /// Tracked and at or below its threshold, or out of stock: the one rule for "low", so
    /// the catalog and the dashboard do not each have their own.
    pub low: bool,
}

impl StockLevel {
    /// See [`StockLevel::low`].
    pub fn is_low(&self) -> bool {
        self.low
    }
}

impl From<Level> for StockLevel {
    fn from(l: Level) -> StockLevel {
        let low = l.tracked && (l.on_hand <= 0 || l.low_at.is_some_and(|low| l.on_hand <= low));
        StockLevel {
            sku: l.sku,
            on_hand: l.on_hand,
            tracked: l.tracked,
            low_at: l.low_at,
            last_moved: l.last_moved,
            low,
        }
    }
}

/// One change to a product's stock other than a sale (sales are the orders').
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct StockMove {
    pub position: u64,
    pub at: DateTime<Utc>,
    /// Units in (positive) or out (negative).
    pub change: i64,
    /// What moved it: "sold in order 1001", "received: delivery 42", "counted: shelf check".
    pub why: String,
    /// The level after it.
    pub on_hand: i64,
    /// A count's row: its `change` is what it corrected on this device when it arrived, which
    /// depends on what had arrived before it (left out of the shared digest).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(skip)]
    pub count: bool,
}

pub(crate) struct Tables<'txn> {
    levels: Table<'txn, &'static str, &'static [u8]>,
    moves: Table<'txn, (&'static str, u64), &'static [u8]>,
    /// The levels this batch changed, each written once by [`Tables::finish`] (a wholesale
    /// invoice moves hundreds of SKUs, a busy product many times a batch).
    batch: HashMap<String, Level>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables { levels: txn.open_table(LEVELS)?, moves: txn.open_table(MOVES)?, batch: HashMap::new() })
    }

    fn get(&self, sku: &str) -> Result<Level, crate::Error> {
        if let Some(level) = self.batch.get(sku) {
            return Ok(level.clone());
        }
        Ok(self
            .levels
            .get(sku)?
            .map(|v| decode_row(v.value()))
            .transpose()?
            .unwrap_or_else(|| Level { sku: sku.to_owned(), ..Level::default() }))
    }

    /// Moves `sku` by `change` at `at`, unless the latest count was taken at or after `at`
    /// (it saw the result). Movements other than sales are recorded with why; a sale's is not
    /// (it is the order's line, in the order views and the product sales, and a movement row
    /// per line sold was most of what this model wrote).
    fn change(
        &mut self,
        envelope: &Envelope,
        sku: &str,
        change: i64,
        at: DateTime<Utc>,
        why: Option<String>,
    ) -> Result<(), crate::Error> {
        let mut level = self.get(sku)?;
        if level.moved_by(at) {
            level.on_hand = level.on_hand.saturating_add(change);
        }
        level.moved_at(at);
        if let Some(why) = why {
            // Two lines of one SKU in one event (a cancelled order with the mug twice) make one
            // row with both: a recount adds the rows up.
            let earlier = self.moves.get((sku, envelope.position))?.map(|row| decode_row::<StockMove>(row.value()));
            let change = match earlier.transpose()? {
                Some(earlier) => earlier.change.saturating_add(change),
                None => change,
            };
            let entry =
                StockMove { position: envelope.position, at, change, why, on_hand: level.on_hand, count: false };
            self.moves.insert((sku, envelope.position), encode_row(&entry)?.as_slice())?;
        }
        self.put(level);
        Ok(())
    }

    /// A count of `sku`: the level becomes what was counted plus every movement after its time
    /// already here, when it is the latest count; an older one is only listed.
    fn count(
        &mut self,
        envelope: &Envelope,
        e: &crate::domain::StockCounted,
        orders: &orders::Tables<'_>,
    ) -> Result<(), crate::Error> {
        let mut level = self.get(&e.sku)?;
        level.tracked = true;
        let count = Count { at: e.at, counted: e.counted, reason: e.reason.clone() };
        let before = level.on_hand;
        if level.counted.as_ref().is_none_or(|latest| *latest < count) {
            let sold_after = orders.units_placed_after(&e.sku, e.at)?;
            let moved_after = self.moved_after(&e.sku, e.at)?;
            level.on_hand = e.counted.saturating_sub(sold_after).saturating_add(moved_after);
            level.counted = Some(count);
        }
        level.moved_at(e.at);
        let entry = StockMove {
            position: envelope.position,
            at: e.at,
            change: level.on_hand.saturating_sub(before),
            why: format!("counted {}: {}", e.counted, e.reason),
            on_hand: level.on_hand,
            count: true,
        };
        self.moves.insert((e.sku.as_str(), envelope.position), encode_row(&entry)?.as_slice())?;
        self.put(level);
        Ok(())
    }

    /// The movements of `sku` after `at` other than sales and counts (received, put back,
    /// returned).
    fn moved_after(&self, sku: &str, at: DateTime<Utc>) -> Result<i64, crate::Error> {
        let mut moved = 0i64;
        for entry in self.moves.range((sku, 0)..=(sku, u64::MAX))? {
            let row: StockMove = decode_row(entry?.1.value())?;
            if !row.count && row.at > at {
                moved = moved.saturating_add(row.change);
            }
        }
        Ok(moved)
    }

    /// Takes back the movements `why` of `sku` (a cancellation another replaced, made at
    /// `at`): `change` to its level (unless a count since saw it), and its rows in the
    /// movement list.
    fn unmove(&mut self, sku: &str, change: i64, at: DateTime<Utc>, why: &str) -> Result<(), crate::Error> {
        let mut level = self.get(sku)?;
        if level.moved_by(at) {
            level.on_hand = level.on_hand.saturating_add(change);
        }
        self.put(level);
        let mut gone = Vec::new();
        for entry in self.moves.range((sku, 0)..=(sku, u64::MAX))? {
            let (key, row) = entry?;
            if decode_row::<StockMove>(row.value())?.why == why {
                gone.push(key.value().1);
            }
        }
        for position in gone {
            self.moves.remove((sku, position))?;
        }
        Ok(())
    }

    fn put(&mut self, level: Level) {
        self.batch.insert(level.sku.clone(), level);
    }

    /// Writes the levels this batch changed; before the transaction commits.
    pub(crate) fn finish(&mut self) -> Result<(), crate::Error> {
        for (sku, level) in self.batch.drain() {
            self.levels.insert(sku.as_str(), encode_row(&level)?.as_slice())?;
        }
        Ok(())
    }

    /// Only reads the order view; `orders` has already applied this event.
    pub(crate) fn apply(&mut self, envelope: &Envelope, orders: &orders::Tables<'_>) -> Result<Apply, crate::Error> {
        match &envelope.event {
            Event::OrderPlaced(e) => {
                for l in &e.lines {
                    if let Some(sku) = &l.sku {
                        self.change(envelope, sku, -i64::from(l.quantity), e.at, None)?;
                    }
                }
            }
            Event::OrderRefunded(e) if e.restock => {
                let Some(view) = orders.view(&e.order)? else {
                    return Ok(Err(format!("refunded order {} is not in the order view", e.order)));
                };
                for back in &e.lines {
                    let Some(l) = view.lines.get(back.line as usize) else { continue };
                    if let Some(sku) = &l.sku {
                        let why = format!("back from order {} (refund)", e.order);
                        self.change(envelope, sku, i64::from(back.quantity), e.at, Some(why))?;
                    }
                }
            }
            Event::OrderCancelled(e) => {
                let why = format!("order {} cancelled", e.order);
                let sale = match orders.reversal(e)? {
                    Err(why) => return Ok(Err(why)),
                    Ok(Reversal::Kept) => return Ok(Ok(())),
                    // The goods went back once, as the cancellation kept says; the displaced
                    // one's movements go.
                    Ok(Reversal::Moved { was, was_at, now, .. }) => {
                        for (sku, back) in goods_back(&was) {
                            self.unmove(sku, -back, was_at, &why)?;
                        }
                        now
                    }
                    Ok(Reversal::Sale { sale }) => sale,
                };
                // What had not already come back on a restocking refund goes back now.
                for (sku, back) in goods_back(&sale) {
                    self.change(envelope, sku, back, e.at, Some(why.clone()))?;
                }
            }
            Event::ReturnRecorded(e) => {
                for l in &e.record.lines {
                    if let Some(sku) = &l.sku {
                        let why = format!("returned (credit note {})", e.record.id);
                        self.change(envelope, sku, i64::from(l.quantity), e.record.at, Some(why))?;
                    }
                }
            }
            Event::StockReceived(e) => {
                let mut level = self.get(&e.sku)?;
                level.tracked = true;
                self.put(level);
                let why = match &e.note {
                    Some(note) => format!("received: {note}"),
                    None => "received".to_owned(),
                };
                self.change(envelope, &e.sku, i64::from(e.quantity), e.at, Some(why))?;
            }
            Event::StockCounted(e) => self.count(envelope, e, orders)?,
            Event::ProductAdded(e) if e.product.low_stock_at.is_some() => {
                let mut level = self.get(&e.product.sku)?;
                if level.set_low_at(e.product.low_stock_at, e.stamp.as_ref()) {
                    self.put(level);
                }
            }
            Event::ProductLowStockSet(e) => {
                let mut level = self.get(&e.sku)?;
                if level.set_low_at(e.low_at, e.stamp.as_ref()) {
                    self.put(level);
                }
            }
            _ => {}
        }
        Ok(Ok(()))
    }
}

/// What a cancellation puts back on the shelf, by SKU: each line's units that had not come back
/// on a restocking refund already (as the order view says).
fn goods_back(view: &super::orders::OrderView) -> Vec<(&str, i64)> {
    let mut back = Vec::new();
    for (i, l) in view.lines.iter().enumerate() {
        let Some(sku) = &l.sku else { continue };
        let restocked: u32 = view
            .refunds
            .iter()
            .filter(|r| r.restock)
            .flat_map(|r| &r.lines)
            .filter(|b| b.line as usize == i)
            .map(|b| b.quantity)
            .sum();
        let units = i64::from(l.quantity.saturating_sub(restocked));
        if units > 0 {
            back.push((sku.as_str(), units));
        }
    }
    back
}

/// Every product's stock, by SKU.
pub(crate) fn levels(txn: &redb::ReadTransaction) -> Result<Vec<StockLevel>, crate::Error> {
    let table = txn.open_table(LEVELS)?;
    let mut out = Vec::new();
    for entry in table.iter()? {
        out.push(StockLevel::from(decode_row::<Level>(entry?.1.value())?));
    }
    Ok(out)
}

/// One product's movements, newest first, at most `limit`.
pub(crate) fn moves(txn: &redb::ReadTransaction, sku: &str, limit: usize) -> Result<Vec<StockMove>, crate::Error> {
    let table = txn.open_table(MOVES)?;
    let mut out = Vec::new();
    for entry in table.range((sku, 0)..=(sku, u64::MAX))?.rev().take(limit) {
        out.push(decode_row(entry?.1.value())?);
    }
    Ok(out)
}

/// [`digest`] without what depends on the order events arrived in: the movements without
/// their log positions and running levels, sorted.
pub(crate) fn shared_digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    super::tables::digest_table(&txn.open_table(LEVELS)?, hasher)?;
    let mut moves = Vec::new();
    for entry in txn.open_table(MOVES)?.iter()? {
        let (key, row) = entry?;
        let m: StockMove = decode_row(row.value())?;
        // A count's correction depends on what had arrived before it; its level does not.
        let change = if m.count { String::new() } else { m.change.to_string() };
        moves.push(format!("{}\0{}\0{}\0{}", key.value().0, m.at.timestamp_micros(), change, m.why));
    }
    moves.sort_unstable();
    hasher.update(moves.join("\n").as_bytes());
    Ok(())
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    super::tables::digest_table(&txn.open_table(LEVELS)?, hasher)?;
    super::tables::digest_table(&txn.open_table(MOVES)?, hasher)
}
