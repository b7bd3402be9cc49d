//! Receipts: what a customer takes away for an order (a sale receipt) or for one of its refunds
//! (a refund receipt). Laid out once here, as rows of text, and then written as plain text
//! (the CLI, a text printer), drawn as a PNG (plotters, the bundled font), or shown by the app
//! (which prints it on an 80 mm roll or A4), so every form says the same.
//!
//! A sale receipt has the shop's name, address, the date and time in the shop's zone, the order
//! number, the lines, the discount, the total, tax by rate, the tenders with any change, and the
//! shop's footer. A refund receipt names the order, the goods that came back, the amount and
//! how it went back.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{Order, Shop};
use crate::money::{Currency, format_rate};

/// A receipt, laid out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Receipt {
    /// "Receipt 1001", "Refund receipt 1001".
    pub title: String,
    pub rows: Vec<ReceiptRow>,
}

/// One row of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptRow {
    /// The shop's name: large, centred.
    Heading { text: String },
    /// Centred text: the address, the footer.
    Centre { text: String },
    /// Text on the left, an amount (or other value) on the right.
    Pair { left: String, right: String },
    /// Like `Pair`, in bold: the total, the change.
    Strong { left: String, right: String },
    /// A line across.
    Rule,
}

/// Which receipt of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptKind {
    Sale,
    /// The refund at this index of the order's refunds (from 0).
    Refund(usize),
}

/// The receipt of `order` in `shop` (its name, zone, address and footer).
pub fn receipt(shop: &Shop, order: &Order, kind: ReceiptKind) -> Option<Receipt> {
    let c = order.currency;
    let money = |d: Decimal| c.fixed(d);
    let local =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&shop.time_zone).format("%d/%m/%Y %H:%M").to_string();
    let mut rows = vec![ReceiptRow::Heading { text: shop.name.clone() }];
    for line in shop.address.as_deref().unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()) {
        rows.push(ReceiptRow::Centre { text: line.to_owned() });
    }
    rows.push(ReceiptRow::Rule);
    let title = match kind {
        ReceiptKind::Sale => {
            rows.push(ReceiptRow::Pair { left: format!("Order {}", order.id), right: local(order.placed_at) });
            if let Some(customer) = &order.customer {
                rows.push(ReceiptRow::Pair { left: customer.name.clone(), right: String::new() });
            }
            rows.push(ReceiptRow::Rule);
            for l in &order.lines {
                rows.push(ReceiptRow::Pair { left: l.name.clone(), right: money(l.total) });
                if l.quantity != 1 {
                    rows.push(ReceiptRow::Pair {
                        left: format!("  {} × {}", l.quantity, c.format_price(l.unit_price)),
                        right: String::new(),
                    });
                }
            }
            rows.push(ReceiptRow::Rule);
            if !order.totals.discount.is_zero() {
                rows.push(ReceiptRow::Pair { left: "Subtotal".into(), right: money(order.totals.subtotal) });
                rows.push(ReceiptRow::Pair {
                    left: "Discount".into(),
                    right: format!("-{}", money(order.totals.discount)),
                });
            }
            rows.push(ReceiptRow::Strong { left: format!("Total {}", c.code()), right: money(order.totals.total) });
            let included = order.totals.total == order.totals.subtotal - order.totals.discount;
            for (rate, tax) in crate::domain::tax_by_rate(&order.lines, &order.totals, c) {
                let rate = rate.parse::<Decimal>().map(format_rate).unwrap_or(rate);
                let label = if included { format!("incl. tax at {rate}") } else { format!("tax at {rate}") };
                rows.push(ReceiptRow::Pair { left: label, right: money(tax) });
            }
            rows.push(ReceiptRow::Rule);
            for p in &order.payments {
                rows.push(ReceiptRow::Pair {
                    left: p.tender.label().to_owned(),
                    right: money(p.tendered.unwrap_or(p.amount)),
                });
                if p.tendered.is_some() {
                    rows.push(ReceiptRow::Strong { left: "Change".into(), right: money(p.change()) });
                }
            }
            let due = order.due();
            if due > Decimal::ZERO {
                rows.push(ReceiptRow::Strong { left: "To pay".into(), right: money(due) });
            }
            format!("Receipt {}", order.id)
        }
        ReceiptKind::Refund(index) => {
            let refund = order.refunds.get(index)?;
            rows.push(ReceiptRow::Pair { left: "REFUND".into(), right: local(refund.at) });
            rows.push(ReceiptRow::Pair { left: format!("Order {}", order.id), right: local(order.placed_at) });
            rows.push(ReceiptRow::Rule);
            for back in &refund.lines {
                if let Some(l) = order.lines.get(back.line as usize) {
                    rows.push(ReceiptRow::Pair {
                        left: format!("{} × {}", back.quantity, l.name),
                        right: String::new(),
                    });
                }
            }
            rows.push(ReceiptRow::Pair { left: format!("Reason: {}", refund.reason), right: String::new() });
            rows.push(ReceiptRow::Rule);
            let by = refund.tender.map_or_else(|| "As paid".to_owned(), |t| t.label().to_owned());
            rows.push(ReceiptRow::Strong { left: format!("Refunded {}", c.code()), right: money(refund.amount) });
            rows.push(ReceiptRow::Pair { left: "Given back by".into(), right: by });
            format!("Refund receipt {}", order.id)
        }
    };
    if let Some(footer) = shop.receipt_footer.as_deref() {
        rows.push(ReceiptRow::Rule);
        for line in footer.lines().map(str::trim).filter(|l| !l.is_empty()) {
            rows.push(ReceiptRow::Centre { text: line.to_owned() });
        }
    }
    Some(Receipt { title, rows })
}

/// Characters per line of a text receipt: what an 80 mm roll prints in its usual font.
pub const TEXT_WIDTH: usize = 42;

impl Receipt {
    /// As plain text, [`TEXT_WIDTH`] characters wide (a long name wraps; amounts stay right).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let centre = |out: &mut String, text: &str| {
            for piece in wrap(text, TEXT_WIDTH) {
                let pad = TEXT_WIDTH.saturating_sub(piece.chars().count()) / 2;
                out.push_str(&" ".repeat(pad));
                out.push_str(&piece);
                out.push('\n');
            }
        };
        for row in &self.rows {
            match row {
                ReceiptRow::Heading { text } => centre(&mut out, &text.to_uppercase()),
                ReceiptRow::Centre { text } => centre(&mut out, text),
                ReceiptRow::Rule => {
                    out.push_str(&"-".repeat(TEXT_WIDTH));
                    out.push('\n');
                }
                ReceiptRow::Pair { left, right } | ReceiptRow::Strong { left, right } => {
                    let room = TEXT_WIDTH.saturating_sub(right.chars().count() + 1).max(1);
                    let pieces = wrap(left, room);
                    let last = pieces.len().saturating_sub(1);
                    for (i, piece) in pieces.iter().enumerate() {
                        out.push_str(piece);
                        if i == last && !right.is_empty() {
                            let gap = TEXT_WIDTH.saturating_sub(piece.chars().count() + right.chars().count()).max(1);
                            out.push_str(&" ".repeat(gap));
                            out.push_str(right);
                        }
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// As a PDF: the text receipt ([`Receipt::text`]) in Courier on a page 80 mm wide and as
    /// long as the receipt, so it prints on a roll or, scaled, on A4. Courier is one of the
    /// fonts every PDF reader has, so nothing is embedded; text is WinAnsi-encoded (£, é, ×
    /// are in it; a character that is not becomes '?').
    pub fn pdf(&self, path: &Path) -> Result<(), crate::Error> {
        let write_err = |e: std::io::Error| crate::Error::Write { detail: format!("{}: {e}", path.display()) };
        std::fs::write(path, self.pdf_bytes()).map_err(write_err)
    }

    /// The PDF document (see [`Receipt::pdf`]).
    pub fn pdf_bytes(&self) -> Vec<u8> {
        const SIZE: f32 = 9.0; // points: 42 Courier characters of 0.6 em fill 226.8 pt (80 mm)
        const LEADING: f32 = 11.0;
        const MARGIN: f32 = 6.0;
        let text = self.text();
        let lines: Vec<&str> = text.lines().collect();
        let width = 42.0 * 0.6 * SIZE + 2.0 * MARGIN;
        let height = lines.len() as f32 * LEADING + 2.0 * MARGIN;
        let mut stream = format!("BT /F1 {SIZE} Tf {LEADING} TL {MARGIN} {} Td\n", height - MARGIN - SIZE).into_bytes();
        let mut body = Vec::new();
        for line in &lines {
            body.push(b'(');
            for c in line.chars() {
                match c {
                    '(' | ')' | '\\' => body.extend([b'\\', c as u8]),
                    ' '..='~' => body.push(c as u8),
                    c => body.push(win_ansi(c).unwrap_or(b'?')),
                }
            }
            body.extend_from_slice(b") Tj T*\n");
        }
        stream.extend(body);
        stream.extend_from_slice(b"ET\n");
        let objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:.1} {height:.1}] /Contents 4 0 R \
                 /Resources << /Font << /F1 5 0 R >> >> >>"
            )
            .into_bytes(),
            {
                let mut s = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
                s.extend_from_slice(&stream);
                s.extend_from_slice(b"endstream");
                s
            },
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>".to_vec(),
        ];
        let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).into_bytes());
            out.extend_from_slice(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
        for offset in offsets {
            out.extend(format!("{offset:010} 00000 n \n").into_bytes());
        }
        out.extend(
            format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).into_bytes(),
        );
        out
    }

    /// Draws it as a PNG `width` pixels wide (576: an 80 mm roll at 180 dpi), as tall as it
    /// needs.
    pub fn png(&self, width: u32, path: &Path) -> Result<(), crate::Error> {
        if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty() && !f.is_dir()) {
            return Err(crate::Error::Write {
                detail: format!("the folder {} does not exist; pick another one", folder.display()),
            });
        }
        crate::chart::register_font();
        const LINE: u32 = 26;
        const MARGIN: u32 = 20;
        let chars = ((width.saturating_sub(2 * MARGIN)) / 10).max(10) as usize;
        // Lay the rows out first: a long name takes more than one line.
        let mut laid: Vec<(&ReceiptRow, Vec<String>)> = Vec::new();
        for row in &self.rows {
            let pieces = match row {
                ReceiptRow::Heading { text } | ReceiptRow::Centre { text } => wrap(text, chars),
                ReceiptRow::Pair { left, right } | ReceiptRow::Strong { left, right } => {
                    wrap(left, chars.saturating_sub(right.chars().count() + 2).max(8))
                }
                ReceiptRow::Rule => vec![String::new()],
            };
            laid.push((row, pieces));
        }
        let lines: u32 = laid.iter().map(|(_, p)| u32::try_from(p.len()).unwrap_or(1)).sum();
        let height = 2 * MARGIN + LINE * (lines + 1);
        let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| crate::Error::Internal(format!("drawing a receipt: {e}"));
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let font = crate::chart::FONT;
        let body = TextStyle::from((font, 20).into_font()).color(&BLACK);
        let strong = TextStyle::from((font, 22).into_font().style(FontStyle::Bold)).color(&BLACK);
        let heading = TextStyle::from((font, 28).into_font().style(FontStyle::Bold)).color(&BLACK);
        let right_edge = i32::try_from(width - MARGIN).unwrap_or(i32::MAX);
        let centre_x = i32::try_from(width / 2).unwrap_or(0);
        let left_x = i32::try_from(MARGIN).unwrap_or(0);
        let mut y = i32::try_from(MARGIN).unwrap_or(0);
        let step = i32::try_from(LINE).unwrap_or(26);
        for (row, pieces) in laid {
            let last = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.iter().enumerate() {
                match row {
                    ReceiptRow::Heading { .. } | ReceiptRow::Centre { .. } => {
                        let style = if matches!(row, ReceiptRow::Heading { .. }) { &heading } else { &body };
                        let style = style.pos(Pos::new(HPos::Center, VPos::Top));
                        root.draw_text(piece, &style, (centre_x, y)).map_err(|e| err(&e))?;
                    }
                    ReceiptRow::Pair { right, .. } | ReceiptRow::Strong { right, .. } => {
                        let style = if matches!(row, ReceiptRow::Strong { .. }) { &strong } else { &body };
                        root.draw_text(piece, style, (left_x, y)).map_err(|e| err(&e))?;
                        if i == last && !right.is_empty() {
                            let anchored = style.pos(Pos::new(HPos::Right, VPos::Top));
                            root.draw_text(right, &anchored, (right_edge, y)).map_err(|e| err(&e))?;
                        }
                    }
                    ReceiptRow::Rule => {
                        let mid = y + step / 2;
                        root.draw(&PathElement::new([(left_x, mid), (right_edge, mid)], BLACK.stroke_width(1)))
                            .map_err(|e| err(&e))?;
                    }
                }
                y += step;
            }
        }
        root.present().map_err(|e| err(&e))
    }
}

/// A character's byte in WinAnsiEncoding (Windows-1252), beyond ASCII.
fn win_ansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    match code {
        0xA0..=0xFF => u8::try_from(code).ok(),
        _ => match c {
            '€' => Some(0x80),
            '‚' => Some(0x82),
            '„' => Some(0x84),
            '…' => Some(0x85),
            '‘' => Some(0x91),
            '’' => Some(0x92),
            '“' => Some(0x93),
            '”' => Some(0x94),
            '•' => Some(0x95),
            '–' => Some(0x96),
            '—' => Some(0x97),
            '™' => Some(0x99),
            _ => None,
        },
    }
}

/// `text` in pieces of at most `width` characters, broken at spaces where it can be.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        loop {
            let len = line.chars().count();
            let need = word.chars().count() + usize::from(len > 0);
            if len + need <= width {
                if len > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if len > 0 {
                out.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a line: cut it.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// How an amount is written on a receipt (exported for the app's print view).
pub fn amount(currency: Currency, d: Decimal) -> String {
    currency.fixed(d)
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn a_pdf_has_every_line_in_courier_and_an_xref_that_points_at_its_objects() {
        let r = super::Receipt {
            title: "Receipt 1".into(),
            rows: vec![
                super::ReceiptRow::Heading { text: "Corner (shop)".into() },
                super::ReceiptRow::Strong { left: "Change £".into(), right: "14.00".into() },
            ],
        };
        let pdf = r.pdf_bytes();
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-1.4") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(              CORNER \\(SHOP\\)) Tj"), "parentheses escaped:\n{text}");
        assert!(pdf.windows(8).any(|w| w == b"Change \xa3"), "the pound sign in WinAnsi");
        // Each xref entry is the byte offset of "N 0 obj".
        let xref_at: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        let xref = std::str::from_utf8(&pdf[xref_at..]).unwrap();
        let entries: Vec<usize> = xref.lines().skip(3).take(5).map(|l| l[..10].parse().unwrap()).collect();
        for (i, offset) in entries.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(format!("{} 0 obj", i + 1).as_bytes()), "object {}", i + 1);
        }
    }

    #[test]
    fn long_text_wraps_at_spaces_and_cuts_only_words_longer_than_a_line() {
        assert_eq!(wrap("WHITE HANGING HEART T-LIGHT HOLDER", 16), ["WHITE HANGING", "HEART T-LIGHT", "HOLDER"]);
        assert_eq!(wrap("ABCDEFGHIJ", 4), ["ABCD", "EFGH", "IJ"]);
        assert_eq!(wrap("", 10), [""]);
    }
}
