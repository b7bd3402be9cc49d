//! Products: SKU (unique, never changes), name, unit price, tax rate, image, archived flag,
//! and whether it is merchandise (postage and fees are not).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::clock::Stamp;

use super::{Event, Rejection, Shop, text};
use crate::money::{self, MoneyInput};

/// A product in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// In the shop's currency; may have sub-cent places.
    #[ts(as = "String")]
    pub unit_price: Decimal,
    /// A fraction: 0.2 = 20 %.
    #[ts(as = "String")]
    pub tax_rate: Decimal,
    pub image: Option<String>,
    pub archived: bool,
    /// Not goods: postage, carriage, fees, bank charges. Sold and counted in the takings like
    /// anything else, and left out of the best-selling products.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_merchandise: bool,
    /// At or below this many on hand, the product is low (`None`: only when out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_stock_at: Option<i64>,
}

/// Add a product to the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddProduct {
    pub sku: String,
    pub name: String,
    pub unit_price: MoneyInput,
    /// `None`: the shop's default rate.
    pub tax_rate: Option<Decimal>,
    pub image: Option<String>,
}

/// Change a product. Absent fields stay as they are; an empty image clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProduct {
    pub sku: String,
    pub name: Option<String>,
    pub unit_price: Option<MoneyInput>,
    pub tax_rate: Option<Decimal>,
    pub image: Option<String>,
    pub archived: Option<bool>,
    /// Mark it as not merchandise (postage, fees), or as goods again.
    #[serde(default)]
    pub not_merchandise: Option<bool>,
    /// `Some(Some(n))`: low at or below n; `Some(None)`: only when out; `None`: unchanged.
    #[serde(default)]
    pub low_stock_at: Option<Option<i64>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductAdded {
    #[serde(flatten)]
    pub product: Product,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRenamed {
    pub sku: String,
    pub name: String,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRepriced {
    pub sku: String,
    pub unit_price: Decimal,
    pub tax_rate: Decimal,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImageChanged {
    pub sku: String,
    pub image: Option<String>,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductArchived {
    pub sku: String,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRestored {
    pub sku: String,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// The product was marked as not merchandise (postage, fees), or as goods again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductClassified {
    pub sku: String,
    pub not_merchandise: bool,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// The fields an edit sets one by one (see `clock.rs`); `price` is unit price and tax rate.
pub(crate) const FIELDS: [&str; 6] = ["name", "price", "image", "archived", "not_merchandise", "low_stock_at"];

pub(super) fn add(shop: &Shop, existing: Option<&Product>, cmd: &AddProduct) -> Result<Vec<Event>, Rejection> {
    let sku = text::sku(&cmd.sku)?;
    if let Some(product) = existing {
        return Err(Rejection::SkuTaken { sku, name: product.name.clone() });
    }
    let name = text::required("product name", "the name shown on receipts", &cmd.name, text::NAME_MAX)?;
    let price = cmd.unit_price.in_currency(shop.currency, "unit price")?;
    let product = Product {
        sku,
        name,
        unit_price: money::check_unit_price(price, shop.currency)?,
        tax_rate: money::check_tax_rate(cmd.tax_rate.unwrap_or(shop.default_tax_rate))?,
        image: text::optional("image path", cmd.image.as_deref(), text::PATH_MAX)?,
        archived: false,
        not_merchandise: false,
        low_stock_at: None,
    };
    Ok(vec![Event::ProductAdded(ProductAdded { product, stamp: None })])
}

pub(super) fn update(shop: &Shop, existing: Option<&Product>, cmd: &UpdateProduct) -> Result<Vec<Event>, Rejection> {
    let product =
        existing.ok_or_else(|| Rejection::UnknownProduct { sku: cmd.sku.trim().to_owned(), hint: String::new() })?;
    let sku = product.sku.clone();
    let mut events = Vec::new();
    if let Some(name) = &cmd.name {
        let name = text::required("product name", "the name shown on receipts", name, text::NAME_MAX)?;
        if name != product.name {
            events.push(Event::ProductRenamed(ProductRenamed { sku: sku.clone(), name, stamp: None }));
        }
    }
    if cmd.unit_price.is_some() || cmd.tax_rate.is_some() {
        let unit_price = match &cmd.unit_price {
            Some(input) => money::check_unit_price(input.in_currency(shop.currency, "unit price")?, shop.currency)?,
            None => product.unit_price,
        };
        let tax_rate = cmd.tax_rate.map(money::check_tax_rate).transpose()?.unwrap_or(product.tax_rate);
        if unit_price != product.unit_price || tax_rate != product.tax_rate {
            events.push(Event::ProductRepriced(ProductRepriced {
                sku: sku.clone(),
                unit_price,
                tax_rate,
                stamp: None,
            }));
        }
    }
    if let Some(image) = &cmd.image {
        let image = text::optional("image path", Some(image), text::PATH_MAX)?;
        if image != product.image {
            events.push(Event::ProductImageChanged(ProductImageChanged { sku: sku.clone(), image, stamp: None }));
        }
    }
    if let Some(not_merchandise) = cmd.not_merchandise
        && not_merchandise != product.not_merchandise
    {
        events.push(Event::ProductClassified(ProductClassified { sku: sku.clone(), not_merchandise, stamp: None }));
    }
    if let Some(low_at) = cmd.low_stock_at {
        events.extend(super::stock::low_at(product, low_at)?);
    }
    match cmd.archived {
        Some(true) if !product.archived => events.push(Event::ProductArchived(ProductArchived { sku, stamp: None })),
        Some(false) if product.archived => events.push(Event::ProductRestored(ProductRestored { sku, stamp: None })),
        _ => {}
    }
    Ok(events)
}
