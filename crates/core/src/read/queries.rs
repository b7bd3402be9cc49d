//! Queries. They read only the read store and the search index (one read transaction each),
//! and every answer is stamped with the log position it reflects and how far behind that is.
//! The one exception is [`Countertop::order`], which falls back to the write side to honour
//! read-your-writes.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, TimeZone, Utc};
use redb::{ReadTransaction, ReadableDatabase};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::customer_stats::{self, CustomerStats};
use super::daily::{self, DailyStats};
use super::dead_letters::{self, DeadLetter};
use super::orders::{self, OrderView};
use super::product_sales;
pub use super::product_sales::TopProduct;
use super::projector::{Progress, apply_batch};
use super::search::SearchHit;
use super::{Bucketing, CustomerInfo, directory, store};
use crate::Countertop;
use crate::domain::{Event, OrderStatus, Shop};
use crate::money::Currency;

/// An answer and the log position it reflects.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Stamped<T> {
    pub value: T,
    /// Everything up to this log position is reflected.
    pub position: u64,
    /// The write store's head when the answer was read.
    pub head: u64,
    /// Events committed but not reflected yet.
    pub lag_events: u64,
}

/// An inclusive range of business days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The `days` business days ending with `today`.
    pub fn last_days(today: NaiveDate, days: u32) -> Period {
        let from = today.checked_sub_days(Days::new(u64::from(days.max(1)) - 1)).unwrap_or(NaiveDate::MIN);
        Period { from, to: today }
    }

    /// Number of days in the period.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of equal length just before this one.
    pub fn previous(&self) -> Period {
        let to = self.from.pred_opt().unwrap_or(NaiveDate::MIN);
        let from =
            to.checked_sub_days(Days::new(u64::try_from(self.days() - 1).unwrap_or(0))).unwrap_or(NaiveDate::MIN);
        Period { from, to }
    }
}

/// Headline numbers for a period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Kpis {
    /// Gross minus refunds: what the shop kept.
    #[ts(as = "String")]
    pub net: Decimal,
    #[ts(as = "String")]
    pub gross: Decimal,
    #[ts(as = "String")]
    pub refunds: Decimal,
    pub orders: i64,
    pub items: i64,
    /// Average order value: net ÷ orders, rounded to the minor unit.
    #[ts(as = "Option<String>")]
    pub average_order_value: Option<Decimal>,
    /// Distinct customers with a live order in the period (exact).
    pub unique_customers: u64,
    pub cancelled: i64,
}

/// One day of a series (every day of the period, zero when nothing happened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SeriesPoint {
    pub day: NaiveDate,
    #[ts(as = "String")]
    pub net: Decimal,
    #[ts(as = "String")]
    pub gross: Decimal,
    #[ts(as = "String")]
    pub refunds: Decimal,
    pub orders: i64,
    pub items: i64,
}

/// Everything the dashboard shows for a period.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Dashboard {
    pub currency: Option<Currency>,
    pub period: Period,
    pub previous_period: Period,
    pub kpis: Kpis,
    pub previous_kpis: Kpis,
    pub series: Vec<SeriesPoint>,
    pub previous_series: Vec<SeriesPoint>,
    pub top_products: Vec<TopProduct>,
    /// What sold in the period that is not merchandise (postage, fees): counted in the
    /// takings, left out of `top_products`.
    pub not_merchandise: Vec<TopProduct>,
    /// The first and last business day with any sale or refund: the whole history (`None`
    /// before the first sale).
    pub history: Option<Period>,
}

/// Report bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

/// One row of a revenue report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevenueRow {
    /// First day of the bucket (Monday for weeks, the 1st for months), clipped to the range.
    pub date: NaiveDate,
    /// The bucket's numbers (flattened into the row in JSON).
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// Which orders to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// First business day (inclusive).
    pub from: Option<NaiveDate>,
    /// Last business day (inclusive).
    pub to: Option<NaiveDate>,
    /// Only this customer's orders.
    pub customer: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

/// A page of results and how many there are in all.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// Where an order answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderSource {
    /// The read model, caught up to the position asked for.
    ReadModel,
    /// The read model was behind, so the order was folded from its events in the write store.
    WriteSide,
}

/// An order with where it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderWithSource {
    pub order: OrderView,
    pub source: OrderSource,
}

impl Bucketing {
    /// The first instant of a business day.
    pub fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_time(self.day_start);
        match self.time_zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            // The start fell in a DST gap: the day starts when the clocks resume.
            LocalResult::None => self
                .time_zone
                .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                .earliest()
                .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc)),
        }
    }
}

fn kpis(days: &[DailyStats], unique_customers: u64, currency: Option<Currency>) -> Kpis {
    let mut k = Kpis { unique_customers, ..Kpis::default() };
    for d in days {
        k.gross += d.gross;
        k.refunds += d.refunds;
        k.orders += d.orders;
        k.items += d.items;
        k.cancelled += d.cancelled;
    }
    let round = |amount: Decimal| currency.map_or(amount, |c| c.round(amount));
    k.gross = round(k.gross);
    k.refunds = round(k.refunds);
    k.net = k.gross - k.refunds;
    k.average_order_value = (k.orders > 0).then(|| round(k.net / Decimal::from(k.orders)));
    k
}

fn series(period: Period, days: &[DailyStats], currency: Option<Currency>) -> Vec<SeriesPoint> {
    let round = |amount: Decimal| currency.map_or(amount, |c| c.round(amount));
    let mut out = Vec::with_capacity(usize::try_from(period.days()).unwrap_or(0));
    let mut rows = days.iter().peekable();
    let mut day = period.from;
    while day <= period.to {
        let point = match rows.next_if(|d| d.day == day) {
            Some(d) => SeriesPoint {
                day,
                net: round(d.net()),
                gross: round(d.gross),
                refunds: round(d.refunds),
                orders: d.orders,
                items: d.items,
            },
            None => {
                let zero = round(Decimal::ZERO);
                SeriesPoint { day, net: zero, gross: zero, refunds: zero, orders: 0, items: 0 }
            }
        };
        out.push(point);
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    out
}

/// The dashboard from one read transaction.
pub(crate) fn dashboard_in(txn: &ReadTransaction, period: Period, top: usize) -> Result<Dashboard, crate::Error> {
    let currency = directory::shop(txn)?.map(|s| s.currency);
    let reader = daily::Reader::open(txn)?;
    let previous_period = period.previous();
    let days = reader.days(period.from, period.to)?;
    let previous_days = reader.days(previous_period.from, previous_period.to)?;
    let top = match top {
        0 => product_sales::Top { products: Vec::new(), not_merchandise: Vec::new() },
        n => product_sales::top(txn, period.from, period.to, n)?,
    };
    Ok(Dashboard {
        currency,
        period,
        previous_period,
        kpis: kpis(&days, reader.unique_customers(period.from, period.to)?, currency),
        previous_kpis: kpis(
            &previous_days,
            reader.unique_customers(previous_period.from, previous_period.to)?,
            currency,
        ),
        series: series(period, &days, currency),
        previous_series: series(previous_period, &previous_days, currency),
        top_products: top.products,
        not_merchandise: top.not_merchandise,
        history: reader.span()?,
    })
}

fn bucket_start(day: NaiveDate, bucket: Bucket) -> NaiveDate {
    match bucket {
        Bucket::Day => day,
        Bucket::Week => day - chrono::TimeDelta::days(i64::from(day.weekday().num_days_from_monday())),
        Bucket::Month => day.with_day(1).unwrap_or(day),
    }
}

impl Countertop {
    fn read_stamped<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, crate::Error>,
    ) -> Result<Stamped<T>, crate::Error> {
        let head = self.write().head().current();
        let db = self.read.db();
        // Damage met in the read store (a redb error or panic there included) is read-side
        // damage: the read store is replaced, and the caller told so.
        let read = super::on_read_store(|| {
            let txn = db.begin_read()?;
            Ok((store::checkpoint(&txn)?, f(&txn)?))
        });
        let (position, value) = read.inspect_err(|e| {
            if let crate::Error::ReadModel { detail } = e {
                self.read.replace_damaged(detail);
            }
        })?;
        Ok(Stamped { value, position, head, lag_events: head.saturating_sub(position) })
    }

    /// The shop's business-day bucketing (UTC midnight before the shop is set up).
    pub fn bucketing(&self) -> Result<Bucketing, crate::Error> {
        Ok(self
            .write()
            .shop()?
            .map_or_else(Bucketing::default, |s: Shop| Bucketing { time_zone: s.time_zone, day_start: s.day_start }))
    }

    /// Today's business day.
    pub fn today(&self) -> Result<NaiveDate, crate::Error> {
        Ok(self.bucketing()?.day(Utc::now()))
    }

    /// KPIs, series and top products for `period`, with the previous period of equal length.
    pub fn dashboard(&self, period: Period) -> Result<Stamped<Dashboard>, crate::Error> {
        self.dashboard_with(period, 10)
    }

    /// The dashboard with the `top` best-selling products (0: KPIs and series only, which read
    /// O(days) rows; top products sum one row per product sold per day, so a UI may ask for
    /// them separately).
    pub fn dashboard_with(&self, period: Period, top: usize) -> Result<Stamped<Dashboard>, crate::Error> {
        self.read_stamped(|txn| dashboard_in(txn, period, top))
    }

    /// Revenue per day, week or month over `period`.
    pub fn revenue(&self, period: Period, bucket: Bucket) -> Result<Stamped<Vec<RevenueRow>>, crate::Error> {
        self.read_stamped(|txn| {
            let currency = directory::shop(txn)?.map(|s| s.currency);
            let reader = daily::Reader::open(txn)?;
            let days = reader.days(period.from, period.to)?;
            let mut rows: Vec<RevenueRow> = Vec::new();
            let mut group: Vec<DailyStats> = Vec::new();
            let mut flush =
                |group: &mut Vec<DailyStats>, start: NaiveDate, end: NaiveDate| -> Result<(), crate::Error> {
                    let kpis = kpis(group, reader.unique_customers(start, end)?, currency);
                    rows.push(RevenueRow { date: start, kpis });
                    group.clear();
                    Ok(())
                };
            // Every bucket in the range gets a row, empty ones too.
            let mut start = period.from;
            let mut days = days.into_iter().peekable();
            while start <= period.to {
                let next = match bucket {
                    Bucket::Day => start.succ_opt(),
                    Bucket::Week => bucket_start(start, Bucket::Week).checked_add_days(Days::new(7)),
                    Bucket::Month => bucket_start(start, Bucket::Month).checked_add_months(chrono::Months::new(1)),
                }
                .unwrap_or(NaiveDate::MAX);
                let end = next.pred_opt().unwrap_or(next).min(period.to);
                while let Some(d) = days.next_if(|d| d.day <= end) {
                    group.push(d);
                }
                flush(&mut group, start, end)?;
                start = next;
            }
            Ok(rows)
        })
    }

    /// One order from the read model. With `min_position` (the position a command returned),
    /// waits up to `wait` for the projector to reach it, and if it has not, folds the order
    /// from its events in the write store instead (marked [`OrderSource::WriteSide`]).
    pub fn order(
        &self,
        id: &str,
        min_position: Option<u64>,
        wait: Duration,
    ) -> Result<Option<Stamped<OrderWithSource>>, crate::Error> {
        let id = id.trim();
        if let Some(min) = min_position
            && self.read.tables_watch().current() < min
        {
            self.read.tables_watch().wait_past(min.saturating_sub(1), wait);
        }
        let stamped = self.read_stamped(|txn| orders::Reader::open(txn)?.view(id))?;
        if min_position.is_none_or(|min| stamped.position >= min) {
            let Stamped { value, position, head, lag_events } = stamped;
            return Ok(value.map(|order| Stamped {
                value: OrderWithSource { order, source: OrderSource::ReadModel },
                position,
                head,
                lag_events,
            }));
        }
        // The projector is behind: fold the order's own events with the same view logic.
        let head = self.write().head().current();
        let Some(history) = self.write().order_history(id, None)? else { return Ok(None) };
        let bucketing = self.bucketing()?;
        let mut timeline = history.timeline.iter();
        let Some(first) = timeline.next() else { return Ok(None) };
        let Event::OrderPlaced(placed) = &first.event else {
            return Err(crate::Error::corrupt(format!("order {id}'s stream does not start with order.placed")));
        };
        let mut order = OrderView::placed(
            first,
            placed,
            &bucketing,
            |id| Ok(self.write().customer(id)?.as_ref().map(CustomerInfo::from)),
            |sku| Ok(self.write().product(sku)?.and_then(|p| p.image)),
        )?;
        for envelope in timeline {
            order.apply(envelope);
        }
        let position = order.position;
        Ok(Some(Stamped {
            value: OrderWithSource { order, source: OrderSource::WriteSide },
            position,
            head,
            lag_events: 0,
        }))
    }

    /// The orders with conflicts to resolve (what tills apart did to them that does not add
    /// up), oldest first. The same list on every device that has the same events.
    pub fn conflicts(&self) -> Result<Stamped<Vec<OrderView>>, crate::Error> {
        self.read_stamped(|txn| orders::Reader::open(txn)?.with_conflicts())
    }

    /// Orders, newest first: a customer's history, or by status and business days.
    pub fn orders(&self, filter: &OrderFilter) -> Result<Stamped<Page<OrderView>>, crate::Error> {
        let bucketing = self.bucketing()?;
        let limit = if filter.limit == 0 { 50 } else { filter.limit };
        self.read_stamped(|txn| {
            let reader = orders::Reader::open(txn)?;
            let (items, total) = match &filter.customer {
                // A customer's history page reads only that page's views.
                Some(customer) if filter.status.is_none() && filter.from.is_none() && filter.to.is_none() => {
                    reader.customer_orders(customer.trim(), filter.offset, limit)?
                }
                Some(customer) => {
                    let (all, _) = reader.customer_orders(customer.trim(), 0, usize::MAX)?;
                    let kept: Vec<OrderView> = all
                        .into_iter()
                        .filter(|o| filter.status.is_none_or(|s| o.status == s))
                        .filter(|o| filter.from.is_none_or(|d| o.business_day >= d))
                        .filter(|o| filter.to.is_none_or(|d| o.business_day <= d))
                        .collect();
                    let total = kept.len();
                    (kept.into_iter().skip(filter.offset).take(limit).collect(), total)
                }
                None => {
                    let from = filter.from.map_or(i64::MIN, |d| bucketing.start_of(d).timestamp_micros());
                    let to = filter
                        .to
                        .and_then(|d| d.succ_opt())
                        .map_or(i64::MAX, |d| bucketing.start_of(d).timestamp_micros());
                    reader.list(filter.status, from, to, filter.offset, limit)?
                }
            };
            Ok(Page { items, total, offset: filter.offset, limit })
        })
    }

    /// A customer's details and numbers.
    /// Every product's stock level (products never stocked nor sold are absent), by SKU.
    pub fn stock(&self) -> Result<Stamped<Vec<super::StockLevel>>, crate::Error> {
        self.read_stamped(super::stock::levels)
    }

    /// A product's stock movements, newest first.
    pub fn stock_moves(&self, sku: &str, limit: usize) -> Result<Stamped<Vec<super::StockMove>>, crate::Error> {
        self.read_stamped(|txn| super::stock::moves(txn, sku.trim(), limit))
    }

    /// A business day's cash-up (Z report).
    pub fn cashup(&self, day: NaiveDate) -> Result<Stamped<super::CashUp>, crate::Error> {
        self.read_stamped(|txn| {
            let currency = directory::shop(txn)?.map(|s| s.currency);
            super::cashup::day(txn, day, currency)
        })
    }

    pub fn customer_stats(&self, id: &str) -> Result<Stamped<Option<(CustomerInfo, CustomerStats)>>, crate::Error> {
        self.read_stamped(|txn| {
            let Some(info) = directory::customer(txn, id.trim())? else { return Ok(None) };
            let stats = customer_stats::get(txn, id.trim())?.unwrap_or_default();
            Ok(Some((info, stats)))
        })
    }

    /// Full-text search over orders, customers and products (see `read::search` for the syntax).
    pub fn search(&self, query: &str, offset: usize, limit: usize) -> Result<Stamped<Page<SearchHit>>, crate::Error> {
        let head = self.write().head().current();
        let position = self.read.search_watch().current();
        let (items, total) = self.read.search_index().search(query, offset, limit)?;
        Ok(Stamped {
            value: Page { items, total, offset, limit },
            position,
            head,
            lag_events: head.saturating_sub(position),
        })
    }

    /// Parked events.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, crate::Error> {
        let db = self.read.db();
        let txn = db.begin_read()?;
        dead_letters::list(&txn)
    }

    /// Re-applies parked events (one position or all); returns those still parked.
    pub fn retry_dead_letters(&self, position: Option<u64>) -> Result<Vec<DeadLetter>, crate::Error> {
        self.read.retry_dead_letters(position)
    }

    /// A digest of the search index's documents, stamped with the index's checkpoint.
    pub fn search_digest(&self) -> Result<Stamped<String>, crate::Error> {
        let head = self.write().head().current();
        let position = self.read.search_watch().current();
        let value = self.read.search_index().digest()?;
        Ok(Stamped { value, position, head, lag_events: head.saturating_sub(position) })
    }

    /// The search index's documents (key, title, subtitle; tab-separated), sorted: what
    /// [`Countertop::search_digest`] hashes, for finding where two indexes differ.
    pub fn search_documents(&self) -> Result<Vec<String>, crate::Error> {
        self.read.search_index().documents()
    }

    /// A digest of every read-model table: equal digests, equal read models.
    pub fn read_digest(&self) -> Result<Stamped<String>, crate::Error> {
        self.read_stamped(super::tables::digest)
    }

    /// A digest of the read models that two devices of one shop holding the same events share,
    /// whatever order the events arrived in (log positions and dense numbers left out).
    pub fn shared_digest(&self) -> Result<Stamped<String>, crate::Error> {
        self.read_stamped(super::tables::shared_digest)
    }

    /// The dashboard as it would have looked at `as_of`: the log up to that moment replayed
    /// into a scratch in-memory read store. `progress` is called every batch.
    pub fn dashboard_as_of(
        &self,
        as_of: DateTime<Utc>,
        period: Period,
        progress: impl FnMut(&Progress),
    ) -> Result<Stamped<Dashboard>, crate::Error> {
        let head = self.write().head().current();
        let (db, position) = self.replay(Some(as_of), progress)?;
        let txn = db.begin_read()?;
        let value = dashboard_in(&txn, period, 10)?;
        Ok(Stamped { value, position, head, lag_events: 0 })
    }

    /// A day's cash-up as it stood at `as_of` (the log up to then, replayed), like
    /// [`dashboard_as_of`](Self::dashboard_as_of).
    pub fn cashup_as_of(
        &self,
        as_of: DateTime<Utc>,
        day: NaiveDate,
        progress: impl FnMut(&Progress),
    ) -> Result<Stamped<super::CashUp>, crate::Error> {
        let head = self.write().head().current();
        let (db, position) = self.replay(Some(as_of), progress)?;
        let txn = db.begin_read()?;
        let currency = directory::shop(&txn)?.map(|s| s.currency);
        let value = super::cashup::day(&txn, day, currency)?;
        Ok(Stamped { value, position, head, lag_events: 0 })
    }

    /// Checks the live read models against a from-scratch replay of the whole log.
    pub fn verify_read_models(&self, progress: impl FnMut(&Progress)) -> Result<ReadCheck, crate::Error> {
        let live = self.read_stamped(|txn| Ok((super::tables::digest(txn)?, super::tables::shared_digest(txn)?)))?;
        let (db, position) = self.replay(None, progress)?;
        let rebuilt = super::tables::digest(&db.begin_read()?)?;
        let (live_digest, shared) = live.value;
        Ok(ReadCheck {
            position,
            live_position: live.position,
            matches: live_digest == rebuilt && live.position == position,
            live: live_digest,
            rebuilt,
            shared,
        })
    }

    /// Replays the log (up to events recorded at `until`) into a scratch in-memory read store
    /// with the shop's current bucketing. Returns it and the last position replayed.
    pub(crate) fn replay(
        &self,
        until: Option<DateTime<Utc>>,
        mut progress: impl FnMut(&Progress),
    ) -> Result<(redb::Database, u64), crate::Error> {
        let db = store::in_memory()?;
        {
            let txn = db.begin_write()?;
            super::store::Meta::open(&txn)?.set_bucketing(&self.bucketing()?)?;
            txn.commit()?;
        }
        let head = self.write().head().current();
        let started = Instant::now();
        let mut next = 1;
        let mut position = 0;
        while next <= head {
            let mut events = self.write().events_each(next, 5000)?;
            let Some((last, _)) = events.last() else { break };
            next = last + 1;
            // Events are in commit order, so the first one recorded after `until` ends the replay.
            let cut = until.and_then(|t| events.iter().position(|(_, e)| matches!(e, Ok(env) if env.recorded_at > t)));
            if let Some(cut) = cut {
                events.truncate(cut);
            }
            if let Some((last, _)) = events.last() {
                position = *last;
                apply_batch(&db, &events, false)?;
            }
            progress(&Progress::new("replay", position, head, started));
            if cut.is_some() {
                break;
            }
        }
        Ok((db, position))
    }
}

/// The live read models compared with a from-scratch replay of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReadCheck {
    /// The position replayed to.
    pub position: u64,
    /// The position the live read models reflect.
    pub live_position: u64,
    pub live: String,
    pub rebuilt: String,
    pub matches: bool,
    /// The live read models' [shared digest](Countertop::shared_digest): the same on every
    /// device of the shop that holds the same events.
    pub shared: String,
}
