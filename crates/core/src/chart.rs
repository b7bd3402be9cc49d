//! Charts of a dashboard, drawn with plotters: SVG for the app, PNG for export.
//!
//! - Revenue: net revenue per bucket, with the previous period of equal length as a faint line
//!   (aligned bucket by bucket: the first against the first).
//! - Orders: orders per bucket as bars.
//!
//! The bucket follows the range ([`bucket_for`]): days up to two months, weeks (from Monday) up
//! to a year, months beyond, so a year is 53 readable marks and not 365 hairlines. The app's
//! SVGs have no title (`svg_in_panel`: the panel around them has it); exported files stand
//! alone and keep one.
//!
//! Amounts become `f64` here and only here: pixels, not money.

use std::path::Path;
use std::sync::Once;

use chrono::{Datelike, NaiveDate};
use plotters::coord::Shift;
use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use crate::read::{Bucket, Dashboard, Period, SeriesPoint};

/// Margin around the plot, in pixels.
const MARGIN: u32 = 12;
/// Room left of the plot for the amounts.
const Y_LABELS: u32 = 78;

/// The bucket a range is charted in: days up to 62 days, weeks up to 371 (53 weeks), months
/// beyond.
pub fn bucket_for(period: Period) -> Bucket {
    let days = (period.to - period.from).num_days() + 1;
    if days <= 62 {
        Bucket::Day
    } else if days <= 371 {
        Bucket::Week
    } else {
        Bucket::Month
    }
}

/// One mark on a chart: a day, a week or a month of the range, summed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ChartPoint {
    /// Its first day in the range (a week starts on Monday, a month on the 1st, clipped to
    /// the range).
    pub start: NaiveDate,
    /// What the axis and a hover say: "28 Nov", "w/c 24 Nov", "Nov 2026".
    pub label: String,
    #[ts(as = "String")]
    pub net: Decimal,
    pub orders: i64,
    /// How many of the bucket's days are in the range.
    pub days: u32,
    /// Whether the range holds only part of the bucket (a range starting on a Wednesday starts
    /// with part of a week): its total is for fewer days, so the chart draws it apart rather
    /// than as a fall in trade.
    pub partial: bool,
}

/// A day-by-day series summed into `bucket`s, in order.
pub fn points(series: &[SeriesPoint], bucket: Bucket) -> Vec<ChartPoint> {
    let mut out: Vec<ChartPoint> = Vec::new();
    for p in series {
        let key = bucket_key(p.day, bucket);
        match out.last_mut() {
            Some(last) if bucket_key(last.start, bucket) == key => {
                last.net += p.net;
                last.orders += p.orders;
                last.days += 1;
            }
            _ => out.push(ChartPoint {
                start: p.day,
                label: label(key, bucket),
                net: p.net,
                orders: p.orders,
                days: 1,
                partial: false,
            }),
        }
    }
    for point in &mut out {
        point.partial = point.days < bucket_days(bucket_key(point.start, bucket), bucket);
    }
    out
}

/// How many days a whole bucket starting on `key` has.
fn bucket_days(key: NaiveDate, bucket: Bucket) -> u32 {
    match bucket {
        Bucket::Day => 1,
        Bucket::Week => 7,
        Bucket::Month => {
            let next = key.checked_add_months(chrono::Months::new(1));
            next.map_or(31, |next| u32::try_from((next - key).num_days()).unwrap_or(31))
        }
    }
}

fn bucket_key(day: NaiveDate, bucket: Bucket) -> NaiveDate {
    match bucket {
        Bucket::Day => day,
        Bucket::Week => day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Bucket::Month => day.with_day(1).unwrap_or(day),
    }
}

fn label(key: NaiveDate, bucket: Bucket) -> String {
    match bucket {
        Bucket::Day => key.format("%-d %b").to_string(),
        Bucket::Week => key.format("w/c %-d %b").to_string(),
        Bucket::Month => key.format("%b %Y").to_string(),
    }
}

/// Where a chart's marks are across its width, so the app can say what is under the pointer:
/// mark `i` of `n` is centred at `plot_left + (i + 0.5) / n × (plot_right − plot_left)`, in the
/// SVG's own pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Geometry {
    pub width: u32,
    pub plot_left: u32,
    pub plot_right: u32,
}

/// The geometry of a chart drawn `width` pixels wide (see [`Geometry`]).
pub fn geometry(width: u32) -> Geometry {
    Geometry { width, plot_left: MARGIN + Y_LABELS, plot_right: width.saturating_sub(MARGIN) }
}

/// Which chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    Revenue,
    Orders,
    /// Revenue above orders, in one picture.
    Overview,
}

pub(crate) const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(37, 99, 235);
const FAINT: RGBColor = RGBColor(160, 174, 192);
const GREEN: RGBColor = RGBColor(22, 163, 74);

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Bundled DejaVu Sans, so PNG text renders the same on every machine.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn chart_err(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Internal(format!("drawing a chart: {e}"))
}

/// The chart as an SVG document that stands alone, with a title saying what and when.
pub fn svg(dashboard: &Dashboard, kind: ChartKind, size: (u32, u32)) -> Result<String, crate::Error> {
    svg_with(dashboard, kind, size, true)
}

/// The chart as an SVG document for a panel that has its own heading: no title.
pub fn svg_in_panel(dashboard: &Dashboard, kind: ChartKind, size: (u32, u32)) -> Result<String, crate::Error> {
    svg_with(dashboard, kind, size, false)
}

fn svg_with(dashboard: &Dashboard, kind: ChartKind, size: (u32, u32), titled: bool) -> Result<String, crate::Error> {
    register_font(); // plotters measures text with it, even for SVG
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root, dashboard, kind, titled)?;
        root.present().map_err(chart_err)?;
    }
    Ok(out)
}

/// The chart as a PNG file, with a title saying what and when (it stands alone).
pub fn png(dashboard: &Dashboard, kind: ChartKind, size: (u32, u32), path: &Path) -> Result<(), crate::Error> {
    register_font();
    let root = BitMapBackend::new(path, size).into_drawing_area();
    draw(&root, dashboard, kind, true)?;
    root.present().map_err(|e| crate::Error::Write { detail: format!("{}: {e}", path.display()) })
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    d: &Dashboard,
    kind: ChartKind,
    titled: bool,
) -> Result<(), crate::Error> {
    root.fill(&WHITE).map_err(chart_err)?;
    let bucket = bucket_for(d.period);
    let this = points(&d.series, bucket);
    let before = points(&d.previous_series, bucket);
    let charted = Charted { d, bucket, this: &this, before: &before, titled };
    match kind {
        ChartKind::Revenue => revenue(root, &charted),
        ChartKind::Orders => orders(root, &charted),
        ChartKind::Overview => {
            let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 3 / 5);
            revenue(&top, &charted)?;
            orders(&bottom, &charted)
        }
    }
}

/// What a chart draws: the dashboard's series in buckets.
struct Charted<'a> {
    d: &'a Dashboard,
    bucket: Bucket,
    this: &'a [ChartPoint],
    before: &'a [ChartPoint],
    titled: bool,
}

impl Charted<'_> {
    fn per(&self) -> &'static str {
        match self.bucket {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    fn label(&self, x: f64) -> String {
        let i = x.round();
        if i < 0.0 || (x - i).abs() > 0.01 {
            return String::new();
        }
        self.this.get(i as usize).map(|p| p.label.clone()).unwrap_or_default()
    }
}

fn money(p: &ChartPoint) -> f64 {
    p.net.to_f64().unwrap_or(0.0)
}

fn revenue<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &Charted<'_>) -> Result<(), crate::Error> {
    let d = c.d;
    let n = c.this.len().max(1) as f64;
    let values = c.this.iter().chain(c.before).map(money);
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // An empty period still gets a sensible axis (0 to 10), not six ticks all labelled 0 or 1.
    let hi = if hi <= lo { lo + 10.0 } else { hi * 1.1 };
    let places = if hi - lo < 10.0 { 1 } else { 0 };
    let currency = d.currency.map(|c| c.code()).unwrap_or("");
    let mut builder = ChartBuilder::on(area);
    if c.titled {
        let caption = format!("Net revenue per {}, {} to {} ({currency})", c.per(), d.period.from, d.period.to);
        builder.caption(caption, (FONT, 18));
    }
    let mut chart = builder
        .margin(MARGIN)
        .x_label_area_size(28)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(-0.5..(n - 0.5), lo..hi)
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .x_labels(8.min(c.this.len().max(1)))
        .y_labels(6)
        .x_label_formatter(&|x| c.label(*x))
        .y_label_formatter(&|y| axis_amount(*y, places))
        .y_desc(currency)
        .axis_desc_style((FONT, 13))
        .label_style((FONT, 13))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(chart_err)?;
    chart
        .draw_series(LineSeries::new(
            c.before.iter().enumerate().map(|(i, p)| (i as f64, money(p))),
            FAINT.stroke_width(1),
        ))
        .map_err(chart_err)?
        .label("previous period")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], FAINT));
    // Whole buckets are one solid line; a part bucket at either end (only the ends can be
    // part) is joined by a dashed line and drawn as a hollow dot, so a range that starts on the
    // 9th does not look like a month when trade fell away.
    let at = |i: usize| c.this.get(i).map(|p| (i as f64, money(p)));
    let whole: Vec<(f64, f64)> =
        c.this.iter().enumerate().filter(|(_, p)| !p.partial).map(|(i, p)| (i as f64, money(p))).collect();
    chart
        .draw_series(LineSeries::new(whole, BLUE.stroke_width(2)))
        .map_err(chart_err)?
        .label("this period")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    let last = c.this.len().saturating_sub(1);
    let ends = c.this.iter().enumerate().filter(|(_, p)| p.partial).map(|(i, _)| i);
    let mut dashed = Vec::new();
    for i in ends {
        let neighbour = if i == 0 {
            at(1)
        } else if i == last {
            i.checked_sub(1).and_then(at)
        } else {
            None
        };
        dashed.push((at(i), neighbour));
    }
    if !dashed.is_empty() {
        let style = ShapeStyle { color: BLUE.to_rgba(), filled: false, stroke_width: 2 };
        for (point, neighbour) in &dashed {
            if let (Some(a), Some(b)) = (point, neighbour) {
                chart.draw_series(DashedLineSeries::new([*a, *b], 4, 4, style)).map_err(chart_err)?;
            }
        }
        chart
            .draw_series(dashed.iter().filter_map(|(point, _)| *point).map(|p| Circle::new(p, 4, style)))
            .map_err(chart_err)?
            .label(format!("part of a {}", c.per()))
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, style));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.8))
        .border_style(FAINT)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(chart_err)
}

/// An axis label: `12,500` (or `2.5` on a small scale).
fn axis_amount(y: f64, places: usize) -> String {
    let text = format!("{:.*}", places, y.abs());
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if y < 0.0 && !text.trim_matches(['0', '.']).is_empty() { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

fn orders<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &Charted<'_>) -> Result<(), crate::Error> {
    let n = c.this.len().max(1) as f64;
    let hi = c.this.iter().map(|p| p.orders).max().unwrap_or(0).max(5) as f64 * 1.1;
    let mut builder = ChartBuilder::on(area);
    if c.titled {
        builder.caption(format!("Orders per {}", c.per()), (FONT, 18));
    }
    let mut chart = builder
        .margin(MARGIN)
        .x_label_area_size(28)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(-0.5..(n - 0.5), 0.0..hi)
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .x_labels(6.min(c.this.len().max(1)))
        .y_labels(6)
        .x_label_formatter(&|x| c.label(*x))
        // Orders are whole: label only whole ticks.
        .y_label_formatter(&|y| if y.fract() == 0.0 { format!("{y:.0}") } else { String::new() })
        .y_desc("orders")
        .axis_desc_style((FONT, 13))
        .label_style((FONT, 13))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(chart_err)?;
    let width = 0.4;
    chart
        .draw_series(c.this.iter().enumerate().map(|(i, p)| {
            let x = i as f64;
            // A part bucket (see `revenue`) is pale: fewer days, not fewer customers.
            let fill = if p.partial { GREEN.mix(0.35).filled() } else { GREEN.filled() };
            Rectangle::new([(x - width, 0.0), (x + width, p.orders as f64)], fill)
        }))
        .map_err(chart_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ChartPoint, axis_amount, bucket_for, points};
    use crate::read::{Bucket, Period, SeriesPoint};
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn series(from: &str, days: i64) -> Vec<SeriesPoint> {
        (0..days)
            .map(|i| SeriesPoint {
                day: day(from) + chrono::Duration::days(i),
                net: Decimal::new(150 + i, 2),
                gross: Decimal::ZERO,
                refunds: Decimal::ZERO,
                orders: 1,
                items: 1,
            })
            .collect()
    }

    #[test]
    fn the_bucket_follows_the_range() {
        let period = |from: &str, to: &str| Period { from: day(from), to: day(to) };
        assert_eq!(bucket_for(period("2026-11-01", "2026-11-30")), Bucket::Day);
        assert_eq!(bucket_for(period("2026-09-29", "2026-11-29")), Bucket::Day, "62 days");
        assert_eq!(bucket_for(period("2026-09-28", "2026-11-29")), Bucket::Week, "63 days");
        assert_eq!(bucket_for(period("2025-11-30", "2026-11-29")), Bucket::Week, "a year");
        assert_eq!(bucket_for(period("2024-11-30", "2026-11-29")), Bucket::Month, "two years");
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_and_nothing_is_lost() {
        // Thursday 2026-11-26 to Sunday 2026-12-13: a part week, two whole weeks.
        let s = series("2026-11-26", 18);
        let weeks = points(&s, Bucket::Week);
        let starts: Vec<_> = weeks.iter().map(|p| (p.start, p.label.as_str(), p.orders)).collect();
        assert_eq!(
            starts,
            [
                (day("2026-11-26"), "w/c 23 Nov", 4),
                (day("2026-11-30"), "w/c 30 Nov", 7),
                (day("2026-12-07"), "w/c 7 Dec", 7)
            ]
        );
        let months = points(&s, Bucket::Month);
        assert_eq!(months.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["Nov 2026", "Dec 2026"]);
        let total = |ps: &[ChartPoint]| ps.iter().map(|p| p.net).sum::<Decimal>();
        let exact: Decimal = s.iter().map(|p| p.net).sum();
        assert_eq!((total(&weeks), total(&months), total(&points(&s, Bucket::Day))), (exact, exact, exact));
        assert_eq!(points(&s, Bucket::Day)[0].label, "26 Nov");
        // The first week has 4 of its 7 days, the first month 5 of 30, the last 13 of 31.
        let parts = |ps: &[ChartPoint]| ps.iter().map(|p| (p.days, p.partial)).collect::<Vec<_>>();
        assert_eq!(parts(&weeks), [(4, true), (7, false), (7, false)]);
        assert_eq!(parts(&months), [(5, true), (13, true)]);
        assert!(points(&s, Bucket::Day).iter().all(|p| !p.partial && p.days == 1));
        // February of a leap year is whole at 29 days.
        assert_eq!(parts(&points(&series("2028-02-01", 29), Bucket::Month)), [(29, false)]);
    }

    #[test]
    fn axis_amounts_are_grouped_and_signed() {
        assert_eq!(axis_amount(12_500.0, 0), "12,500");
        assert_eq!(axis_amount(999.4, 0), "999");
        assert_eq!(axis_amount(2.5, 1), "2.5");
        assert_eq!(axis_amount(-1_234_567.0, 0), "-1,234,567");
        assert_eq!(axis_amount(-0.01, 0), "0");
    }
}
