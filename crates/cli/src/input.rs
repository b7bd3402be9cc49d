//! Parsing what people type on the command line into core inputs: order lines, discounts,
//! money, rates and moments. Every error names the argument and shows an example.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use countertop_core::{
    Decimal, DiscountInput, LineInput, MoneyInput, PaymentInput, RefundLineInput, Tender, parse_decimal, parse_tax_rate,
};

/// A usage mistake in one argument.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: String) -> Result<T, InputError> {
    Err(InputError(message))
}

/// `SKU:QTY` or `SKU:QTY@PRICE`.
pub fn product_line(text: &str) -> Result<LineInput, InputError> {
    let usage =
        || format!("--line '{text}' is not SKU:QUANTITY or SKU:QUANTITY@PRICE; write it like MUG:2 or MUG:2@7.50");
    let (head, price) = split_price(text);
    let Some((sku, quantity)) = head.rsplit_once(':') else {
        return err(usage());
    };
    if sku.trim().is_empty() {
        return err(usage());
    }
    Ok(LineInput::Product {
        sku: sku.trim().to_owned(),
        quantity: quantity_of("--line", text, quantity)?,
        unit_price: price.map(|p| money("--line", p)).transpose()?,
    })
}

/// `NAME:QTY@PRICE`.
pub fn item_line(text: &str) -> Result<LineInput, InputError> {
    let usage = || format!("--item '{text}' is not NAME:QUANTITY@PRICE; write it like \"Gift wrap:1@2.50\"");
    let (head, price) = split_price(text);
    let (Some((name, quantity)), Some(price)) = (head.rsplit_once(':'), price) else {
        return err(usage());
    };
    Ok(LineInput::Item {
        sku: None,
        name: name.to_owned(),
        quantity: quantity_of("--item", text, quantity)?,
        unit_price: Some(money("--item", price)?),
        tax_rate: None,
        total: None,
    })
}

fn split_price(text: &str) -> (&str, Option<&str>) {
    match text.rsplit_once('@') {
        Some((head, price)) => (head, Some(price)),
        None => (text, None),
    }
}

fn quantity_of(flag: &str, whole: &str, text: &str) -> Result<i64, InputError> {
    text.trim()
        .parse()
        .or_else(|_| err(format!("{flag} '{whole}': quantity '{}' is not a whole number; enter e.g. 2", text.trim())))
}

/// `LINE:QTY`: units of an order's line (counted from 1, as `order show` lists them) to refund.
pub fn refund_line(text: &str) -> Result<RefundLineInput, InputError> {
    let usage =
        || format!("--line '{text}' is not LINE:QUANTITY; write it like 2:1 (one unit of the order's second line)");
    let Some((line, quantity)) = text.split_once(':') else {
        return err(usage());
    };
    let Ok(line) = line.trim().parse::<usize>() else {
        return err(usage());
    };
    Ok(RefundLineInput { line, quantity: quantity_of("--line", text, quantity)? })
}

/// A whole number of units as typed.
pub fn whole(what: &str, text: &str) -> Result<i64, InputError> {
    text.trim().parse().or_else(|_| err(format!("{what} '{}' is not a whole number; enter e.g. 12", text.trim())))
}

/// A low-stock level: a whole number, or `none`.
pub fn low_stock(text: &str) -> Result<Option<i64>, InputError> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("none") => Ok(None),
        t => t
            .parse()
            .map(Some)
            .or_else(|_| err(format!("--low-stock '{t}' is not a whole number; enter e.g. 5, or none"))),
    }
}

/// A tender: `cash`, `card`, `gift_card` (or `gift card`), `other`.
pub fn tender(flag: &str, text: &str) -> Result<Tender, InputError> {
    Tender::parse(text).map_or_else(
        || err(format!("{flag} '{}' is not a tender; use cash, card, gift_card or other", text.trim())),
        Ok,
    )
}

/// A tender taken: `cash:20`, `card:12.50`.
pub fn payment(text: &str) -> Result<PaymentInput, InputError> {
    let Some((tender_text, amount)) = text.split_once(':') else {
        return err(format!("--pay '{text}' is not TENDER:AMOUNT; write it like cash:20 or card:12.50"));
    };
    Ok(PaymentInput { tender: tender("--pay", tender_text)?, amount: money("--pay", amount)? })
}

/// A money amount: `12.50`, `12.50 GBP`.
pub fn money(flag: &str, text: &str) -> Result<MoneyInput, InputError> {
    text.parse().or_else(|e| err(format!("{flag}: {e}")))
}

/// A discount: `10%` or an amount.
pub fn discount(text: &str) -> Result<DiscountInput, InputError> {
    match text.trim().strip_suffix('%') {
        Some(percent) => {
            parse_decimal(percent).map(DiscountInput::Percent).or_else(|e| err(format!("--discount: {e}")))
        }
        None => money("--discount", text).map(DiscountInput::Amount),
    }
}

/// A tax rate: `20%` or `0.2`.
pub fn tax_rate(flag: &str, text: &str) -> Result<Decimal, InputError> {
    parse_tax_rate(text).or_else(|e| err(format!("{flag}: {e}")))
}

/// A moment: RFC 3339 (`2024-05-01T10:00:00Z`), or shop-local `YYYY-MM-DD HH:MM[:SS]`, or a
/// shop-local date (its start, midnight).
pub fn moment(flag: &str, text: &str, zone: Tz) -> Result<DateTime<Utc>, InputError> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_time(chrono::NaiveTime::MIN)));
    let Some(local) = local else {
        return err(format!(
            "{flag} '{text}' is not a date and time; write it like 2024-05-01 14:30 (shop time) or 2024-05-01T13:30:00Z"
        ));
    };
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Ok(at.with_timezone(&Utc)),
        LocalResult::None => {
            err(format!("{flag} '{text}' does not exist in {zone} (the clocks skipped it); pick another time"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_lines() {
        let check = |input: &str, sku: &str, quantity: i64, price: Option<&str>| {
            let LineInput::Product { sku: s, quantity: q, unit_price } = product_line(input).unwrap() else {
                panic!("{input}")
            };
            assert_eq!((s.as_str(), q), (sku, quantity), "{input}");
            assert_eq!(unit_price.map(|p| p.amount.to_string()), price.map(str::to_owned), "{input}");
        };
        check("MUG:2", "MUG", 2, None);
        check("85123A:6@2.55", "85123A", 6, Some("2.55"));
        check("A:B:3", "A:B", 3, None);
        check("MUG:0", "MUG", 0, None); // the rules refuse it, with their own message
        for bad in ["MUG", ":2", "MUG:two", "MUG:2@abc"] {
            assert!(product_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn item_lines_need_a_price() {
        assert!(matches!(item_line("Gift wrap:1@2.50"), Ok(LineInput::Item { .. })));
        assert!(item_line("Gift wrap:1").is_err());
    }

    #[test]
    fn moments_are_read_in_the_shop_zone() {
        let london: Tz = "Europe/London".parse().unwrap();
        assert_eq!(moment("--at", "2024-07-01 14:30", london).unwrap().to_rfc3339(), "2024-07-01T13:30:00+00:00");
        assert_eq!(moment("--at", "2024-01-01", london).unwrap().to_rfc3339(), "2024-01-01T00:00:00+00:00");
        assert_eq!(
            moment("--at", "2024-07-01T14:30:00+02:00", london).unwrap().to_rfc3339(),
            "2024-07-01T12:30:00+00:00"
        );
        assert!(moment("--at", "2024-03-31 01:30", london).is_err(), "skipped by DST");
        assert!(moment("--at", "yesterday", london).is_err());
    }
}
