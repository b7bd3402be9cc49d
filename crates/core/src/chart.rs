//! Charts of a dashboard, drawn with plotters: SVG for the app, PNG for export.
//!
//! - Revenue: net revenue per day, with the previous period of equal length as a faint line
//!   (aligned day by day: day 1 against day 1).
//! - Orders: orders per day as bars.
//!
//! Amounts become `f64` here and only here: pixels, not money.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use crate::read::{Dashboard, SeriesPoint};

/// Which chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    Revenue,
    Orders,
    /// Revenue above orders, in one picture.
    Overview,
}

const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(37, 99, 235);
const FAINT: RGBColor = RGBColor(160, 174, 192);
const GREEN: RGBColor = RGBColor(22, 163, 74);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Bundled DejaVu Sans, so PNG text renders the same on every machine.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn chart_err(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Internal(format!("drawing a chart: {e}"))
}

/// The chart as an SVG document.
pub fn svg(dashboard: &Dashboard, kind: ChartKind, size: (u32, u32)) -> Result<String, crate::Error> {
    register_font(); // plotters measures text with it, even for SVG
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root, dashboard, kind)?;
        root.present().map_err(chart_err)?;
    }
    Ok(out)
}

/// The chart as a PNG file.
pub fn png(dashboard: &Dashboard, kind: ChartKind, size: (u32, u32), path: &Path) -> Result<(), crate::Error> {
    register_font();
    let root = BitMapBackend::new(path, size).into_drawing_area();
    draw(&root, dashboard, kind)?;
    root.present().map_err(|e| crate::Error::Write { detail: format!("{}: {e}", path.display()) })
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Dashboard, kind: ChartKind) -> Result<(), crate::Error> {
    root.fill(&WHITE).map_err(chart_err)?;
    match kind {
        ChartKind::Revenue => revenue(root, d),
        ChartKind::Orders => orders(root, d),
        ChartKind::Overview => {
            let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 3 / 5);
            revenue(&top, d)?;
            orders(&bottom, d)
        }
    }
}

fn money(p: &SeriesPoint) -> f64 {
    p.net.to_f64().unwrap_or(0.0)
}

fn label_day(d: &Dashboard, x: f64) -> String {
    let i = x.round();
    if i < 0.0 {
        return String::new();
    }
    d.series.get(i as usize).map(|p| p.day.format("%d %b").to_string()).unwrap_or_default()
}

fn revenue<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, d: &Dashboard) -> Result<(), crate::Error> {
    let n = d.series.len().max(1) as f64;
    let values = d.series.iter().chain(&d.previous_series).map(money);
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // An empty period still gets a sensible axis (0 to 10), not six ticks all labelled 0 or 1.
    let hi = if hi <= lo { lo + 10.0 } else { hi * 1.1 };
    let places = if hi - lo < 10.0 { 1 } else { 0 };
    let currency = d.currency.map(|c| c.code()).unwrap_or("");
    let caption = format!("Net revenue per day, {} to {} ({currency})", d.period.from, d.period.to);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n - 0.5), lo..hi)
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|x| label_day(d, *x))
        .y_label_formatter(&|y| axis_amount(*y, places))
        .label_style((FONT, 12))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(chart_err)?;
    chart
        .draw_series(LineSeries::new(
            d.previous_series.iter().enumerate().map(|(i, p)| (i as f64, money(p))),
            FAINT.stroke_width(1),
        ))
        .map_err(chart_err)?
        .label("previous period")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], FAINT));
    chart
        .draw_series(LineSeries::new(
            d.series.iter().enumerate().map(|(i, p)| (i as f64, money(p))),
            BLUE.stroke_width(2),
        ))
        .map_err(chart_err)?
        .label("this period")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
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

fn orders<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, d: &Dashboard) -> Result<(), crate::Error> {
    let n = d.series.len().max(1) as f64;
    let hi = d.series.iter().map(|p| p.orders).max().unwrap_or(0).max(5) as f64 * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("Orders per day", (FONT, 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n - 0.5), 0.0..hi)
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|x| label_day(d, *x))
        // Orders are whole: label only whole ticks.
        .y_label_formatter(&|y| if y.fract() == 0.0 { format!("{y:.0}") } else { String::new() })
        .label_style((FONT, 12))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(chart_err)?;
    let width = 0.4;
    chart
        .draw_series(d.series.iter().enumerate().map(|(i, p)| {
            let x = i as f64;
            Rectangle::new([(x - width, 0.0), (x + width, p.orders as f64)], GREEN.filled())
        }))
        .map_err(chart_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::axis_amount;

    #[test]
    fn axis_amounts_are_grouped_and_signed() {
        assert_eq!(axis_amount(12_500.0, 0), "12,500");
        assert_eq!(axis_amount(999.4, 0), "999");
        assert_eq!(axis_amount(2.5, 1), "2.5");
        assert_eq!(axis_amount(-1_234_567.0, 0), "-1,234,567");
        assert_eq!(axis_amount(-0.01, 0), "0");
    }
}
