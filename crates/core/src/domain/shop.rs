//! The shop's settings: name, currency, time zone, business-day start, tax mode.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Rejection, text};
use crate::money::{self, Currency};

/// The shop as configured. Every business rule that depends on money or days reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Shop {
    pub name: String,
    pub currency: Currency,
    #[ts(as = "String")]
    pub time_zone: Tz,
    /// When the business day starts in shop-local time. With 04:00, a sale at 01:30 counts
    /// for the previous day.
    #[ts(as = "String")]
    pub day_start: NaiveTime,
    /// Whether catalog prices already include tax (typical for shops selling to consumers
    /// in the UK and EU) or tax is added on top (typical in the US).
    pub prices_include_tax: bool,
    /// The tax rate for products and ad-hoc items that do not name one (a fraction: 0.2 = 20 %).
    #[ts(as = "String")]
    pub default_tax_rate: Decimal,
    /// The address printed under the name on receipts (lines as typed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What receipts end with ("Thank you! Returns within 30 days with this receipt").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_footer: Option<String>,
}

impl Shop {
    /// The business day a moment belongs to, in the shop's time zone and day start.
    pub fn business_day(&self, at: DateTime<Utc>) -> NaiveDate {
        business_day(at, self.time_zone, self.day_start)
    }
}

/// The business day of `at` for a shop in `tz` whose day starts at `day_start` local time.
/// Done in local wall-clock time, so a day start of 04:00 stays 04:00 across DST changes.
pub fn business_day(at: DateTime<Utc>, tz: Tz, day_start: NaiveTime) -> NaiveDate {
    let local = at.with_timezone(&tz).naive_local();
    let since_midnight = day_start.signed_duration_since(NaiveTime::MIN);
    (local - since_midnight.max(TimeDelta::zero())).date()
}

/// Set up the shop. Done once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenShop {
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    /// `HH:MM`, shop-local.
    pub day_start: String,
    pub prices_include_tax: bool,
    pub default_tax_rate: Decimal,
}

/// Change the shop's settings. Absent fields stay as they are. The currency is fixed once
/// set: every recorded amount is in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeShopSettings {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub day_start: Option<String>,
    pub prices_include_tax: Option<bool>,
    pub default_tax_rate: Option<Decimal>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub address: Option<String>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub receipt_footer: Option<String>,
}

/// The shop was set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopOpened {
    #[serde(flatten)]
    pub shop: Shop,
}

/// The shop's settings changed (all settings but the currency, as they are now).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopSettingsChanged {
    pub name: String,
    pub time_zone: Tz,
    pub day_start: NaiveTime,
    pub prices_include_tax: bool,
    pub default_tax_rate: Decimal,
    /// Receipt address and footer (absent in events written before receipts: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_footer: Option<String>,
}

pub(super) fn open(current: Option<&Shop>, cmd: &OpenShop) -> Result<ShopOpened, Rejection> {
    if let Some(shop) = current {
        return Err(Rejection::ShopAlreadySetUp { name: shop.name.clone() });
    }
    let shop = Shop {
        name: text::required("shop name", "the shop's name", &cmd.name, text::NAME_MAX)?,
        currency: Currency::parse(&cmd.currency)?,
        time_zone: parse_time_zone(&cmd.time_zone)?,
        day_start: parse_day_start(&cmd.day_start)?,
        prices_include_tax: cmd.prices_include_tax,
        default_tax_rate: money::check_tax_rate(cmd.default_tax_rate)?,
        address: None,
        receipt_footer: None,
    };
    Ok(ShopOpened { shop })
}

pub(super) fn change(
    current: Option<&Shop>,
    cmd: &ChangeShopSettings,
) -> Result<Option<ShopSettingsChanged>, Rejection> {
    let shop = current.ok_or(Rejection::ShopNotSetUp)?;
    let changed = ShopSettingsChanged {
        name: match &cmd.name {
            Some(name) => text::required("shop name", "the shop's name", name, text::NAME_MAX)?,
            None => shop.name.clone(),
        },
        time_zone: cmd.time_zone.as_deref().map(parse_time_zone).transpose()?.unwrap_or(shop.time_zone),
        day_start: cmd.day_start.as_deref().map(parse_day_start).transpose()?.unwrap_or(shop.day_start),
        prices_include_tax: cmd.prices_include_tax.unwrap_or(shop.prices_include_tax),
        default_tax_rate: cmd.default_tax_rate.map(money::check_tax_rate).transpose()?.unwrap_or(shop.default_tax_rate),
        address: match &cmd.address {
            Some(text) => text::optional_multiline("shop address", Some(text), text::NOTE_MAX)?,
            None => shop.address.clone(),
        },
        receipt_footer: match &cmd.receipt_footer {
            Some(text) => text::optional_multiline("receipt footer", Some(text), text::NOTE_MAX)?,
            None => shop.receipt_footer.clone(),
        },
    };
    let same = changed.name == shop.name
        && changed.address == shop.address
        && changed.receipt_footer == shop.receipt_footer
        && changed.time_zone == shop.time_zone
        && changed.day_start == shop.day_start
        && changed.prices_include_tax == shop.prices_include_tax
        && changed.default_tax_rate == shop.default_tax_rate;
    Ok(if same { None } else { Some(changed) })
}

/// The shop after its settings changed: the write side's state and the read side's directory
/// both fold it here.
pub(crate) fn apply_change(shop: &mut Shop, e: &ShopSettingsChanged) {
    shop.name.clone_from(&e.name);
    shop.time_zone = e.time_zone;
    shop.day_start = e.day_start;
    shop.prices_include_tax = e.prices_include_tax;
    shop.default_tax_rate = e.default_tax_rate;
    shop.address.clone_from(&e.address);
    shop.receipt_footer.clone_from(&e.receipt_footer);
}

fn parse_time_zone(name: &str) -> Result<Tz, Rejection> {
    let trimmed = name.trim();
    trimmed.parse::<Tz>().map_err(|_| Rejection::UnknownTimeZone { given: trimmed.to_owned() })
}

fn parse_day_start(text: &str) -> Result<NaiveTime, Rejection> {
    let trimmed = text.trim();
    NaiveTime::parse_from_str(trimmed, "%H:%M").map_err(|_| Rejection::BadDayStart { given: trimmed.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_sale_before_the_day_start_counts_for_the_previous_day() {
        let london: Tz = "Europe/London".parse().unwrap();
        let four = NaiveTime::from_hms_opt(4, 0, 0).unwrap();
        let day = |y, m, d, h, min| {
            let local = london.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap();
            business_day(local.with_timezone(&Utc), london, four).to_string()
        };
        assert_eq!(day(2024, 3, 5, 1, 30), "2024-03-04");
        assert_eq!(day(2024, 3, 5, 4, 0), "2024-03-05");
        assert_eq!(day(2024, 3, 5, 23, 59), "2024-03-05");
        // Summer time: 01:30 BST is 00:30 UTC, still the previous business day.
        assert_eq!(day(2024, 7, 5, 1, 30), "2024-07-04");
        // The night the clocks go forward (31 March 2024, 01:00 → 02:00).
        assert_eq!(day(2024, 3, 31, 3, 30), "2024-03-30");
        assert_eq!(day(2024, 3, 31, 4, 30), "2024-03-31");
    }

    #[test]
    fn midnight_day_start_is_the_calendar_day_in_the_shop_zone() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 0, 0).unwrap(); // 22:00 on the 1st in New York
        assert_eq!(business_day(at, ny, NaiveTime::MIN).to_string(), "2024-01-01");
    }
}
