//! Exact money: currencies, amounts, unit prices and tax rates. No floating point anywhere.
//!
//! Amounts are [`Decimal`]s. Unit prices may carry more places than the currency's minor unit
//! (real price lists have 0.001); every *total* is rounded to the minor unit, half to even, by
//! [`Currency::round`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::Rejection;

/// Largest unit price we accept. Real exports top out near 40,000; this guards against typos
/// such as a pasted barcode in the price field, and keeps every total far inside `Decimal`'s range.
pub const MAX_UNIT_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Largest total a line, an order or a return may have: 1,000,000,000,000. Bounding every
/// recorded amount is what keeps every sum of them exact: `Decimal` holds about 7.9 × 10²⁸, so
/// even 10¹⁶ orders of this size in one day, or over a shop's whole history, cannot overflow.
pub const MAX_TOTAL: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);

/// Most decimal places a unit price may have (0.000001).
pub const MAX_PRICE_PLACES: u32 = 6;

/// An ISO 4217 currency with a minor unit (GBP, EUR, JPY, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ts_rs::TS)]
#[ts(type = "string")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Looks up an ISO 4217 code, case-insensitively.
    pub fn parse(code: &str) -> Result<Currency, Rejection> {
        let trimmed = code.trim();
        let upper = trimmed.to_ascii_uppercase();
        let Some(currency) = iso_currency::Currency::from_code(&upper) else {
            return Err(Rejection::UnknownCurrency { given: trimmed.to_owned() });
        };
        if currency.exponent().is_none() {
            // XAU, XDR and friends: units of account, not something a till takes.
            return Err(Rejection::UnknownCurrency { given: trimmed.to_owned() });
        }
        Ok(Currency(currency))
    }

    /// The three-letter code, e.g. `GBP`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the minor unit: 2 for GBP, 0 for JPY, 3 for KWD.
    pub fn minor_units(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }

    /// Rounds an exact amount to this currency's minor unit, half to even (banker's rounding),
    /// so that rounding errors do not drift in one direction over many orders.
    /// The result always has exactly the minor unit's places (`16` becomes `16.00`).
    pub fn round(self, amount: Decimal) -> Decimal {
        let mut rounded = amount.round_dp_with_strategy(self.minor_units(), RoundingStrategy::MidpointNearestEven);
        rounded.rescale(self.minor_units());
        rounded
    }

    /// Formats an amount with exactly the minor unit's places: `12.50 GBP`.
    pub fn format(self, amount: Decimal) -> String {
        format!("{} {}", self.fixed(amount), self.code())
    }

    /// The amount with exactly the minor unit's places and no code: `12.50`.
    pub fn fixed(self, amount: Decimal) -> String {
        self.round(amount).to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// A price or amount as a person typed it: a number, optionally with a currency code
/// (`12.50`, `12.50 GBP`, `EUR 3`). The currency, when given, must be the shop's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyInput {
    pub amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl MoneyInput {
    /// An amount in the shop's currency.
    pub fn new(amount: Decimal) -> MoneyInput {
        MoneyInput { amount, currency: None }
    }

    /// Checks the currency against the shop's and returns the bare amount.
    pub(crate) fn in_currency(&self, shop: Currency, field: &'static str) -> Result<Decimal, Rejection> {
        if let Some(code) = &self.currency {
            let given = Currency::parse(code)?;
            if given != shop {
                return Err(Rejection::CurrencyMismatch { field, given: given.code(), shop: shop.code() });
            }
        }
        Ok(self.amount)
    }
}

impl FromStr for MoneyInput {
    type Err = Rejection;

    fn from_str(text: &str) -> Result<MoneyInput, Rejection> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (number, currency) = match parts.as_slice() {
            [number] => (*number, None),
            [a, b] if a.chars().all(|c| c.is_ascii_alphabetic()) => (*b, Some(*a)),
            [a, b] => (*a, Some(*b)),
            _ => return Err(Rejection::NotANumber { given: text.trim().to_owned() }),
        };
        let amount = parse_decimal(number)?;
        Ok(MoneyInput { amount, currency: currency.map(str::to_owned) })
    }
}

/// Parses a plain decimal number (`12`, `12.5`, `0.001`), rejecting exponents, thousands
/// separators and anything else a till should not guess about.
pub fn parse_decimal(text: &str) -> Result<Decimal, Rejection> {
    let trimmed = text.trim();
    let plain =
        !trimmed.is_empty() && trimmed.trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit() || c == '.');
    if !plain {
        return Err(Rejection::NotANumber { given: trimmed.to_owned() });
    }
    Decimal::from_str_exact(trimmed).map_err(|_| Rejection::NotANumber { given: trimmed.to_owned() })
}

/// Parses a tax rate as a percentage (`20%`) or a fraction (`0.2`). Returns the fraction.
pub fn parse_tax_rate(text: &str) -> Result<Decimal, Rejection> {
    let trimmed = text.trim();
    match trimmed.strip_suffix('%') {
        Some(percent) => Ok(parse_decimal(percent)? / Decimal::ONE_HUNDRED),
        None => parse_decimal(trimmed),
    }
}

/// Checks a tax rate fraction: 0 to 1 (0 % to 100 %).
pub(crate) fn check_tax_rate(rate: Decimal) -> Result<Decimal, Rejection> {
    if rate.is_sign_negative() && !rate.is_zero() || rate > Decimal::ONE {
        return Err(Rejection::TaxRateOutOfRange { given: rate });
    }
    Ok(rate.normalize())
}

/// Checks a unit price: zero or more, at most [`MAX_UNIT_PRICE`], at most
/// [`MAX_PRICE_PLACES`] decimal places.
pub(crate) fn check_unit_price(price: Decimal, currency: Currency) -> Result<Decimal, Rejection> {
    unit_price(price, |p| currency.format_price(p))
}

/// [`check_unit_price`] for a price whose currency is not at hand (a product's, in an event):
/// a refusal shows the number alone.
pub(crate) fn check_unit_price_bare(price: Decimal) -> Result<Decimal, Rejection> {
    unit_price(price, |p| p.normalize().to_string())
}

fn unit_price(price: Decimal, show: impl Fn(Decimal) -> String) -> Result<Decimal, Rejection> {
    if price.is_sign_negative() && !price.is_zero() {
        return Err(Rejection::NegativePrice { given: show(price) });
    }
    if price > MAX_UNIT_PRICE {
        return Err(Rejection::PriceTooLarge { given: show(price) });
    }
    if price.normalize().scale() > MAX_PRICE_PLACES {
        return Err(Rejection::PriceTooPrecise { given: price.to_string() });
    }
    Ok(price.normalize())
}

impl Currency {
    /// Formats a unit price: at least the minor unit's places, more when the price has them
    /// (`0.001 GBP` stays `0.001`, `2.5` shows as `2.50`).
    pub fn format_price(self, price: Decimal) -> String {
        let mut shown = price.normalize();
        if shown.scale() < self.minor_units() {
            shown.rescale(self.minor_units());
        }
        format!("{shown} {}", self.code())
    }

    /// Formats an amount for a sentence: thousands grouped, the minor unit's places, and more
    /// when it has them (a reconciliation must not show a rounding of 0.004 as `0.00`):
    /// `9,747,747.93 GBP`, `0.004 GBP`.
    pub fn format_exact(self, amount: Decimal) -> String {
        let mut shown = amount.normalize();
        if shown.scale() < self.minor_units() {
            shown.rescale(self.minor_units());
        }
        let text = shown.abs().to_string();
        let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
        let grouped = group_thousands(whole);
        let sign = if shown.is_sign_negative() && !shown.is_zero() { "-" } else { "" };
        match fraction {
            Some(f) => format!("{sign}{grouped}.{f} {}", self.code()),
            None => format!("{sign}{grouped} {}", self.code()),
        }
    }
}

/// Digits with a comma between each group of three: `1234567` → `1,234,567`.
pub(crate) fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Formats a tax-rate fraction as a percentage: `0.2` → `20%`.
pub fn format_rate(rate: Decimal) -> String {
    format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn the_largest_total_is_a_million_million() {
        assert_eq!(MAX_TOTAL, dec("1000000000000"));
    }

    #[test]
    fn exact_amounts_are_grouped_and_keep_their_digits() {
        let check = |code: &str, amount: &str, expected: &str| {
            assert_eq!(Currency::parse(code).unwrap().format_exact(dec(amount)), expected);
        };
        check("GBP", "9747747.93", "9,747,747.93 GBP");
        check("GBP", "0.004", "0.004 GBP");
        check("GBP", "-22124.1", "-22,124.10 GBP");
        check("GBP", "0", "0.00 GBP");
        check("GBP", "999", "999.00 GBP");
        check("JPY", "1234567", "1,234,567 JPY");
    }

    #[test]
    fn rounds_half_to_even_at_the_minor_unit() {
        let gbp = Currency::parse("gbp").unwrap();
        let check = |input: &str, expected: &str| assert_eq!(gbp.round(dec(input)).to_string(), expected, "{input}");
        check("0.125", "0.12");
        check("0.135", "0.14");
        check("2.005", "2.00");
        check("-0.125", "-0.12");
        check("0.001", "0.00");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.round(dec("12.5")).to_string(), "12");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.fixed(dec("1.0005")), "1.000");
    }

    #[test]
    fn parses_money_with_and_without_a_currency() {
        let check = |input: &str, amount: &str, currency: Option<&str>| {
            let parsed: MoneyInput = input.parse().unwrap();
            assert_eq!(parsed.amount, dec(amount), "{input}");
            assert_eq!(parsed.currency.as_deref(), currency, "{input}");
        };
        check("12.50", "12.50", None);
        check(" 12.50 GBP ", "12.50", Some("GBP"));
        check("EUR 3", "3", Some("EUR"));
        check("0.001", "0.001", None);
        for bad in ["", "abc", "1,000", "1e3", "12.50 GBP extra", "--1"] {
            assert!(bad.parse::<MoneyInput>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn currency_mismatch_names_both_currencies() {
        let gbp = Currency::parse("GBP").unwrap();
        let err = "3.00 EUR".parse::<MoneyInput>().unwrap().in_currency(gbp, "price").unwrap_err();
        assert_eq!(err.to_string(), "price is in EUR but this shop sells in GBP; enter the amount in GBP");
        assert!("3.00 gbp".parse::<MoneyInput>().unwrap().in_currency(gbp, "price").is_ok());
    }

    #[test]
    fn rejects_units_of_account_and_unknown_codes() {
        assert!(Currency::parse("XAU").is_err());
        let err = Currency::parse("POUNDS").unwrap_err();
        assert_eq!(err.to_string(), "currency 'POUNDS' is not an ISO 4217 code; use a code such as GBP, EUR or USD");
    }

    #[test]
    fn tax_rates_parse_as_percent_or_fraction() {
        assert_eq!(parse_tax_rate("20%").unwrap(), dec("0.2"));
        assert_eq!(parse_tax_rate("0.075").unwrap(), dec("0.075"));
        assert!(check_tax_rate(dec("1.5")).is_err());
        assert!(check_tax_rate(dec("-0.1")).is_err());
        assert_eq!(format_rate(dec("0.2")), "20%");
    }

    #[test]
    fn unit_prices_keep_sub_cent_places_but_not_more_than_six() {
        let gbp = Currency::parse("GBP").unwrap();
        assert_eq!(check_unit_price(dec("0.001"), gbp).unwrap(), dec("0.001"));
        assert_eq!(gbp.format_price(dec("2.5")), "2.50 GBP");
        assert_eq!(gbp.format_price(dec("0.001")), "0.001 GBP");
        assert!(check_unit_price(dec("0.0000001"), gbp).is_err());
        assert!(check_unit_price(dec("-2"), gbp).is_err());
        assert!(check_unit_price(dec("1000000001"), gbp).is_err());
    }
}
